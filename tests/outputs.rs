//! How the stackconv command writes its outputs: devices, FIFOs and
//! standard output written through, symlinks followed, modes, owners and
//! hard links kept, inputs never overwritten, bad outputs refused before the
//! inputs are read, no temporary file left behind on errors or signals.

use std::fs;
use std::io::Read;
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_stackconv");

/// Folded input and the folded text stackconv makes of it.
const INPUT: &[u8] = b"main;b 1\nmain;a 2\nmain;a 3\n";
const FOLDED: &str = "main;a 5\nmain;b 1\n";

fn stackconv() -> Command {
    Command::new(BIN)
}

fn run(args: &[&std::ffi::OsStr]) -> Output {
    stackconv().args(args).output().expect("run stackconv")
}

fn write_input(dir: &Path, name: &str) -> PathBuf {
    let p = dir.join(name);
    fs::write(&p, INPUT).unwrap();
    p
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout.trim_ascii() == b"0")
}

/// The `.stackconv-*.tmp` files in `dir`.
fn temporary_files(dir: &Path) -> Vec<String> {
    fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(".stackconv-") && n.ends_with(".tmp"))
        .collect()
}

fn mkfifo(path: &Path) {
    let st = Command::new("mkfifo").arg(path).status().expect("mkfifo");
    assert!(st.success(), "mkfifo {}", path.display());
}

/// Wait for `child` at most `secs` seconds; kill it and fail if it is
/// still running then.
fn wait_at_most(mut child: Child, secs: u64, what: &str) -> Output {
    let start = Instant::now();
    loop {
        if child.try_wait().expect("try_wait").is_some() {
            return child.wait_with_output().expect("output");
        }
        if start.elapsed() > Duration::from_secs(secs) {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{what}: stackconv still running after {secs} s");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Whether /dev/null is the null device. Another process on a shared
/// machine (an older stackconv given `-o /dev/null` as root) may have
/// replaced it with a regular file; tests that need it skip then.
fn dev_null_is_a_device() -> bool {
    let ok = fs::metadata("/dev/null").is_ok_and(|m| m.file_type().is_char_device());
    if !ok {
        println!("skipped: /dev/null is not a character device on this machine");
    }
    ok
}

#[test]
fn dev_null_and_dev_full_are_written_through() {
    let dir = tempfile::tempdir().unwrap();
    let input = write_input(dir.path(), "in.folded");
    let null_before = dev_null_is_a_device();
    let o = run(&[
        input.as_os_str(),
        "-o".as_ref(),
        "/dev/null".as_ref(),
        "--to".as_ref(),
        "folded".as_ref(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    if null_before {
        assert!(fs::metadata("/dev/null")
            .unwrap()
            .file_type()
            .is_char_device());
    }

    let o = run(&[
        input.as_os_str(),
        "-o".as_ref(),
        "/dev/full".as_ref(),
        "--to".as_ref(),
        "svg".as_ref(),
    ]);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(err.contains("/dev/full"), "{err}");
    assert!(err.contains("No space left on device"), "{err}");
    assert!(fs::metadata("/dev/full")
        .unwrap()
        .file_type()
        .is_char_device());

    // standard output on /dev/full, for convert and for top
    for args in [
        vec![
            input.as_os_str(),
            "-o".as_ref(),
            "-".as_ref(),
            "--to".as_ref(),
            "folded".as_ref(),
        ],
        vec!["top".as_ref(), input.as_os_str()],
    ] {
        let o = Command::new("sh")
            .args(["-c", "exec \"$0\" \"$@\" >/dev/full", BIN])
            .args(&args)
            .output()
            .unwrap();
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(1), "{args:?}: {err}");
        assert!(
            err.contains("standard output: No space left on device"),
            "{err}"
        );
    }
}

#[test]
fn dev_stdout_is_standard_output() {
    let dir = tempfile::tempdir().unwrap();
    let input = write_input(dir.path(), "in.folded");
    let o = run(&[
        input.as_os_str(),
        "-o".as_ref(),
        "/dev/stdout".as_ref(),
        "--to".as_ref(),
        "folded".as_ref(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(String::from_utf8_lossy(&o.stdout), FOLDED);
    assert!(fs::symlink_metadata("/dev/stdout")
        .unwrap()
        .file_type()
        .is_symlink());
}

#[test]
fn fifo_is_written_through() {
    let dir = tempfile::tempdir().unwrap();
    let input = write_input(dir.path(), "in.folded");
    let fifo = dir.path().join("out.folded");
    mkfifo(&fifo);
    let reader = {
        let fifo = fifo.clone();
        std::thread::spawn(move || fs::read(fifo).unwrap())
    };
    let child = stackconv()
        .args([input.as_os_str(), "-o".as_ref(), fifo.as_os_str()])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let o = wait_at_most(child, 60, "write to a FIFO");
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(String::from_utf8(reader.join().unwrap()).unwrap(), FOLDED);
    assert!(fs::symlink_metadata(&fifo).unwrap().file_type().is_fifo());
    assert!(temporary_files(dir.path()).is_empty());
}

#[test]
fn symlinked_output_is_followed() {
    let dir = tempfile::tempdir().unwrap();
    let input = write_input(dir.path(), "in.folded");
    let target = dir.path().join("target.folded");
    fs::write(&target, "old 1\n").unwrap();
    let link = dir.path().join("link.folded");
    std::os::unix::fs::symlink("target.folded", &link).unwrap();
    let o = run(&[input.as_os_str(), "-o".as_ref(), link.as_os_str()]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(fs::symlink_metadata(&link)
        .unwrap()
        .file_type()
        .is_symlink());
    assert_eq!(fs::read_link(&link).unwrap(), Path::new("target.folded"));
    assert_eq!(fs::read_to_string(&target).unwrap(), FOLDED);

    // A link to a file not there yet makes the file.
    let dangling = dir.path().join("dangling.folded");
    std::os::unix::fs::symlink("new.folded", &dangling).unwrap();
    let o = run(&[input.as_os_str(), "-o".as_ref(), dangling.as_os_str()]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(fs::symlink_metadata(&dangling)
        .unwrap()
        .file_type()
        .is_symlink());
    assert_eq!(
        fs::read_to_string(dir.path().join("new.folded")).unwrap(),
        FOLDED
    );
    assert!(temporary_files(dir.path()).is_empty());
}

#[test]
fn hard_links_stay_linked() {
    let dir = tempfile::tempdir().unwrap();
    let input = write_input(dir.path(), "in.folded");
    let out = dir.path().join("out.folded");
    fs::write(&out, "old 1\n").unwrap();
    let other = dir.path().join("other-name.folded");
    fs::hard_link(&out, &other).unwrap();
    let ino = fs::metadata(&out).unwrap().ino();
    let o = run(&[input.as_os_str(), "-o".as_ref(), out.as_os_str()]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    for p in [&out, &other] {
        assert_eq!(fs::read_to_string(p).unwrap(), FOLDED, "{}", p.display());
        let m = fs::metadata(p).unwrap();
        assert_eq!(m.ino(), ino, "{} is another file now", p.display());
        assert_eq!(m.nlink(), 2);
    }
    assert!(temporary_files(dir.path()).is_empty());
}

#[test]
fn new_file_mode_follows_umask() {
    let dir = tempfile::tempdir().unwrap();
    let input = write_input(dir.path(), "in.folded");
    for (umask, mode) in [("022", 0o644), ("077", 0o600), ("002", 0o664)] {
        let out = dir.path().join(format!("out-{umask}.svg"));
        let o = Command::new("sh")
            .args(["-c", &format!("umask {umask}; exec \"$0\" \"$@\""), BIN])
            .args([input.as_os_str(), "-o".as_ref(), out.as_os_str()])
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
        let got = fs::metadata(&out).unwrap().permissions().mode() & 0o7777;
        assert_eq!(got, mode, "umask {umask}: mode {got:o}");
    }
}

#[test]
fn overwritten_file_keeps_its_mode_and_owner() {
    let dir = tempfile::tempdir().unwrap();
    let input = write_input(dir.path(), "in.folded");
    let out = dir.path().join("out.folded");
    fs::write(&out, "old 1\n").unwrap();
    fs::set_permissions(&out, fs::Permissions::from_mode(0o640)).unwrap();
    let root = is_root();
    if root {
        std::os::unix::fs::chown(&out, Some(4321), Some(4322)).unwrap();
    } else {
        println!("not root: the owner of an overwritten file is not checked");
    }
    let o = run(&[input.as_os_str(), "-o".as_ref(), out.as_os_str()]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let m = fs::metadata(&out).unwrap();
    assert_eq!(fs::read_to_string(&out).unwrap(), FOLDED);
    assert_eq!(m.permissions().mode() & 0o7777, 0o640);
    if root {
        assert_eq!((m.uid(), m.gid()), (4321, 4322));
    }
}

#[test]
fn output_that_is_an_input_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let input = write_input(dir.path(), "a.folded");
    let alias = dir.path().join("alias.folded");
    fs::hard_link(&input, &alias).unwrap();
    for out in [&input, &alias] {
        let o = run(&[input.as_os_str(), "-o".as_ref(), out.as_os_str()]);
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(2), "{err}");
        assert!(
            err.contains("also an input") && err.contains("--force"),
            "{err}"
        );
        assert!(err.contains(&*out.to_string_lossy()), "{err}");
        assert_eq!(fs::read(&input).unwrap(), INPUT);
    }
    // diff too
    let o = run(&[
        "diff".as_ref(),
        input.as_os_str(),
        input.as_os_str(),
        "-o".as_ref(),
        alias.as_os_str(),
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert_eq!(fs::read(&input).unwrap(), INPUT);
    // standard output appended to an input
    let o = Command::new("sh")
        .args(["-c", "exec \"$0\" \"$@\" >>\"$1\"", BIN])
        .args([
            input.as_os_str(),
            "-o".as_ref(),
            "-".as_ref(),
            "--to".as_ref(),
            "folded".as_ref(),
        ])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert_eq!(fs::read(&input).unwrap(), INPUT);

    let o = run(&[
        input.as_os_str(),
        "-o".as_ref(),
        input.as_os_str(),
        "--force".as_ref(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(fs::read_to_string(&input).unwrap(), FOLDED);
    assert!(temporary_files(dir.path()).is_empty());
}

/// Bad outputs fail before any input is read: the input is standard input,
/// a pipe that stays open, so a run that read first would never end.
#[test]
fn bad_outputs_fail_before_reading_inputs() {
    let dir = tempfile::tempdir().unwrap();
    let sub = dir.path().join("sub");
    fs::create_dir(&sub).unwrap();
    let slash = format!("{}/", sub.display());
    let nowhere = dir.path().join("nonexistent/x.svg");
    let cases: Vec<(&std::ffi::OsStr, i32, &str)> = vec![
        (slash.as_ref(), 2, "is a directory"),
        (".".as_ref(), 2, "is a directory"),
        (sub.as_os_str(), 2, "is a directory"),
        ("newdir/".as_ref(), 2, "is a directory"),
        (nowhere.as_os_str(), 1, "No such file or directory"),
        (
            "/nonexistent/x.svg".as_ref(),
            1,
            "No such file or directory",
        ),
        // sysfs takes no new files, not even root's
        ("/sys/x.svg".as_ref(), 1, "cannot create a file in /sys"),
    ];
    for (out, code, what) in cases {
        let child = stackconv()
            .current_dir(dir.path())
            .args([
                "-".as_ref(),
                "-o".as_ref(),
                out,
                "--to".as_ref(),
                "svg".as_ref(),
            ])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let o = wait_at_most(child, 30, &out.to_string_lossy());
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(code), "-o {out:?}: {err}");
        assert!(err.contains(&*out.to_string_lossy()), "-o {out:?}: {err}");
        assert!(err.contains(what), "-o {out:?}: {err}");
        assert!(temporary_files(dir.path()).is_empty());
        assert!(temporary_files(&sub).is_empty());
    }
    assert!(!dir.path().join("newdir").exists());
}

/// SIGINT and SIGTERM while the temporary file exists remove it. stackconv
/// makes it before reading its input, here a pipe that stays open, so the
/// signal comes while it certainly exists.
#[test]
fn signals_remove_the_temporary_file() {
    for (sig, name) in [(2, "INT"), (15, "TERM")] {
        // A signal this test runs with ignored (SIGINT, in a background job
        // of a non-interactive shell) stays ignored in stackconv, as in
        // other Unix tools: nothing to test then.
        if ignored_here(u32::try_from(sig).unwrap_or(0)) {
            println!("skipped SIG{name}: ignored in this test's environment");
            continue;
        }
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("out.svg");
        let child = stackconv()
            .args(["-".as_ref(), "-o".as_ref(), out.as_os_str()])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let start = Instant::now();
        while temporary_files(dir.path()).is_empty() {
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "no temporary file appeared"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
        let st = Command::new("kill")
            .args([format!("-{name}"), child.id().to_string()])
            .status()
            .unwrap();
        assert!(st.success());
        let o = wait_at_most(child, 30, name);
        assert_eq!(o.status.signal(), Some(sig), "SIG{name}: {:?}", o.status);
        let left = temporary_files(dir.path());
        assert!(left.is_empty(), "SIG{name} left {left:?}");
        assert!(!out.exists());
    }
}

/// Whether signal `sig` is ignored in this process (`SigIgn` of
/// /proc/self/status), and so in the children it starts.
fn ignored_here(sig: u32) -> bool {
    fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("SigIgn:"))
                .and_then(|m| u64::from_str_radix(m.trim(), 16).ok())
        })
        .is_some_and(|mask| mask & (1 << (sig - 1)) != 0)
}

#[test]
fn closed_stdout_is_an_error() {
    // Rust's runtime puts /dev/null where standard output was closed.
    if !dev_null_is_a_device() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let input = write_input(dir.path(), "in.folded");
    for args in [
        vec![
            input.as_os_str(),
            "-o".as_ref(),
            "-".as_ref(),
            "--to".as_ref(),
            "folded".as_ref(),
        ],
        vec!["top".as_ref(), input.as_os_str()],
    ] {
        let o = Command::new("sh")
            .args(["-c", "exec \"$0\" \"$@\" 1>&-", BIN])
            .args(&args)
            .output()
            .unwrap();
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(1), "{args:?}: {err}");
        assert!(err.contains("standard output is closed"), "{err}");
    }
    // /dev/null opened by the shell is fine
    let o = Command::new("sh")
        .args(["-c", "exec \"$0\" \"$@\" >/dev/null", BIN])
        .args([
            input.as_os_str(),
            "-o".as_ref(),
            "-".as_ref(),
            "--to".as_ref(),
            "folded".as_ref(),
        ])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
}

/// `stackconv ... | head -c 10`: the reader goes away, stackconv stops
/// quietly with success.
#[test]
fn closed_pipe_is_a_quiet_success() {
    let dir = tempfile::tempdir().unwrap();
    let mut big = String::new();
    for i in 0..40_000 {
        big.push_str(&format!("main;function_number_{i};leaf {}\n", i % 7 + 1));
    }
    let input = dir.path().join("big.folded");
    fs::write(&input, big).unwrap();
    let mut child = stackconv()
        .args([
            input.as_os_str(),
            "-o".as_ref(),
            "-".as_ref(),
            "--to".as_ref(),
            "folded".as_ref(),
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut head = [0u8; 10];
    child.stdout.take().unwrap().read_exact(&mut head).unwrap();
    // stdout dropped: the pipe's only reader is gone
    let o = wait_at_most(child, 60, "closed pipe");
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(stderr(&o), "");
}

#[test]
fn stdin_given_twice_is_usage() {
    for args in [
        vec!["-", "-", "-o", "-", "--to", "folded"],
        vec!["diff", "-", "-", "-o", "out.svg"],
        vec!["info", "-", "-"],
        vec!["top", "-", "-"],
    ] {
        let o = stackconv()
            .args(&args)
            .stdin(Stdio::piped())
            .output()
            .unwrap();
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains("standard input"), "{err}");
    }
}

/// The binary run as an unprivileged user: `nobody` (uid and gid 65534,
/// through util-linux's `setpriv`) when the tests run as root, else the
/// user running them. The binary is copied where that user can run it
/// when its own directory is closed to others (a clone under `/root`).
fn unprivileged(scratch: &Path) -> Command {
    if !is_root() {
        return stackconv();
    }
    let setpriv = |bin: &Path| {
        let mut c = Command::new("setpriv");
        c.args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
            .arg(bin);
        c
    };
    let runs = |bin: &Path| {
        setpriv(bin)
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success())
    };
    if runs(Path::new(BIN)) {
        return setpriv(Path::new(BIN));
    }
    let copy = scratch.join("stackconv");
    fs::copy(BIN, &copy).unwrap();
    fs::set_permissions(&copy, fs::Permissions::from_mode(0o755)).unwrap();
    assert!(
        runs(&copy),
        "setpriv --reuid=65534 cannot run {}",
        copy.display()
    );
    setpriv(&copy)
}

/// As an unprivileged user: an output in a directory it cannot write, or a
/// file it may not write in a directory it can, is refused (exit 1, the
/// reason, the file untouched, no temporary left); a file it may write
/// but does not own is written in place, keeping its owner (a rename would
/// give it to the writer).
#[test]
fn unprivileged_user_writes_only_what_it_may() {
    let dir = tempfile::tempdir().unwrap();
    let root = is_root();
    let scratch = tempfile::tempdir().unwrap();
    fs::set_permissions(scratch.path(), fs::Permissions::from_mode(0o755)).unwrap();
    fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o755)).unwrap();
    let input = write_input(dir.path(), "in.folded");
    fs::set_permissions(&input, fs::Permissions::from_mode(0o644)).unwrap();
    let closed = dir.path().join("closed");
    let open = dir.path().join("open");
    fs::create_dir(&closed).unwrap();
    fs::create_dir(&open).unwrap();
    // Root's directory is closed to nobody as 0755; the user's own needs
    // 0555. `open` is writable by everyone (no sticky bit).
    let closed_mode = if root { 0o755 } else { 0o555 };
    fs::set_permissions(&closed, fs::Permissions::from_mode(closed_mode)).unwrap();
    fs::set_permissions(&open, fs::Permissions::from_mode(0o777)).unwrap();
    let run_as = |out: &Path| {
        let o = unprivileged(scratch.path())
            .args([input.as_os_str(), "-o".as_ref(), out.as_os_str()])
            .output()
            .unwrap();
        (o.status.code(), stderr(&o))
    };

    let new = closed.join("out.folded");
    let (code, err) = run_as(&new);
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains(&*new.to_string_lossy()), "{err}");
    assert!(err.contains("Permission denied"), "{err}");
    assert!(!new.exists());
    assert!(temporary_files(&closed).is_empty());

    // A file it may not write (root's 0644; the user's own 0444).
    let theirs = open.join("theirs.folded");
    fs::write(&theirs, "old 1\n").unwrap();
    let mode = if root { 0o644 } else { 0o444 };
    fs::set_permissions(&theirs, fs::Permissions::from_mode(mode)).unwrap();
    let (code, err) = run_as(&theirs);
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("Permission denied"), "{err}");
    assert_eq!(fs::read_to_string(&theirs).unwrap(), "old 1\n");
    assert_eq!(
        fs::metadata(&theirs).unwrap().uid(),
        if root {
            0
        } else {
            fs::metadata(&input).unwrap().uid()
        }
    );
    assert!(temporary_files(&open).is_empty());

    if !root {
        println!("not root: a file of another owner is not checked");
        return;
    }
    // Root's file that everyone may write: written, still root's.
    let shared = open.join("shared.folded");
    fs::write(&shared, "old 1\n").unwrap();
    fs::set_permissions(&shared, fs::Permissions::from_mode(0o666)).unwrap();
    let (code, err) = run_as(&shared);
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(fs::read_to_string(&shared).unwrap(), FOLDED);
    let m = fs::metadata(&shared).unwrap();
    assert_eq!((m.uid(), m.gid(), m.mode() & 0o7777), (0, 0, 0o666));
    assert!(temporary_files(&open).is_empty());
}
