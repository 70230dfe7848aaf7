//! End-to-end tests of `stackconv record` with the real perf and pyenv's
//! CPython 3.12. Each test is skipped, with a message, where perf is not
//! installed or may not record, or where python3.12 is not found (CI runs
//! them as root with pyenv installed).

use std::path::{Path, PathBuf};
use std::process::{Command as StdCommand, Stdio};
use std::time::{Duration, Instant};

use assert_cmd::cargo::CommandCargoExt;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn webapi() -> PathBuf {
    root().join("testdata/python/webapi.py")
}

fn stackconv() -> StdCommand {
    StdCommand::cargo_bin("stackconv").expect("the stackconv binary")
}

/// Whether perf can record here (installed and permitted); prints why not.
fn perf_usable() -> bool {
    let dir = tempfile::tempdir().unwrap();
    let out = StdCommand::new("perf")
        .args(["record", "-q", "-e", "cpu-clock", "-o"])
        .arg(dir.path().join("probe.data"))
        .args(["--", "true"])
        .output();
    match out {
        Ok(o) if o.status.success() => true,
        Ok(o) => {
            eprintln!(
                "skipped: perf may not record here: {}",
                String::from_utf8_lossy(&o.stderr)
                    .lines()
                    .next()
                    .unwrap_or("")
            );
            false
        }
        Err(e) => {
            eprintln!("skipped: perf is not installed ({e}; apt-get install linux-perf)");
            false
        }
    }
}

/// pyenv's python3.12: `$(pyenv root)/versions/3.12*/bin/python3.12`.
fn python312() -> Option<PathBuf> {
    let root = StdCommand::new("pyenv")
        .arg("root")
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| PathBuf::from(String::from_utf8_lossy(&o.stdout).trim()))
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".pyenv")))?;
    let mut found: Vec<PathBuf> = std::fs::read_dir(root.join("versions"))
        .ok()?
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with("3.12"))
        .map(|e| e.path().join("bin/python3.12"))
        .filter(|p| p.is_file())
        .collect();
    found.sort();
    let p = found.pop();
    if p.is_none() {
        eprintln!("skipped: no python3.12 under {}/versions", root.display());
    }
    p
}

/// The recording tests run one at a time: each watches for its workload's
/// perf map in /tmp, which another test's workload (the same script) would
/// otherwise satisfy, and perf records best without a second perf beside it.
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn one_at_a_time() -> std::sync::MutexGuard<'static, ()> {
    ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner())
}

fn ready() -> Option<PathBuf> {
    if !perf_usable() {
        return None;
    }
    python312()
}

fn run_ok(cmd: &mut StdCommand) -> (String, String) {
    let out = cmd.output().expect("run stackconv");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "{cmd:?} failed: {stderr}");
    (String::from_utf8(out.stdout).expect("utf-8"), stderr)
}

/// Folded text -> weight per root frame (`comm-pid/tid` with --per-thread).
fn by_root(
    folded: &str,
    pred: impl Fn(&str) -> bool,
) -> std::collections::BTreeMap<String, (u64, u64)> {
    let mut m = std::collections::BTreeMap::new();
    for line in folded.lines() {
        let (stack, n) = line.rsplit_once(' ').expect("stack and count");
        let n: u64 = n.parse().expect("count");
        let root = stack.split(';').next().unwrap().to_string();
        let e = m.entry(root).or_insert((0, 0));
        e.0 += n;
        if pred(stack) {
            e.1 += n;
        }
    }
    m
}

/// The story: the threaded web API recorded on- and off-CPU in one step.
/// The flame graph reads like Python (worker stacks start at
/// `Thread._bootstrap`), the kept recording's maps are found beside it,
/// and `waits` charges the off-CPU time to the workload's Python frames.
#[test]
fn record_off_cpu_python_webapi() {
    let _serial = one_at_a_time();
    let Some(py) = ready() else { return };
    let dir = tempfile::tempdir().unwrap();
    let svg = dir.path().join("x.svg");
    let (_, stderr) = run_ok(
        stackconv()
            .args(["record", "--off-cpu", "--keep", "-o"])
            .arg(&svg)
            .arg("--")
            .arg(&py)
            .arg(webapi())
            .args(["2", "4"]),
    );
    assert!(stderr.contains("recording Python 3.12"), "{stderr}");
    assert!(
        stderr.contains("the workload exited with status 0"),
        "{stderr}"
    );
    let text = std::fs::read_to_string(&svg).unwrap();
    assert!(text.contains("Off-CPU Time Flame Graph"));
    for name in [
        "Thread._bootstrap (threading.py)",
        "worker (webapi.py)",
        // (handle_request, not a frame deeper: Repository.load's RLock is
        // barely contended in this workload, and its off-CPU share can fall
        // under the 0.01 % that is drawn — seen once in a CI run.)
        "handle_request (webapi.py)",
    ] {
        assert!(text.contains(name), "the SVG should show {name}");
    }
    assert!(!text.contains("py::"));
    let data = dir.path().join("x.perf.data");
    assert!(dir.path().join("x.perf.data.maps").is_dir());
    // Worker threads (every thread but the main one): more than 70 % of
    // their off-CPU weight reaches Thread._bootstrap.
    let (folded, _) = run_ok(stackconv().arg(&data).args([
        "--off-cpu",
        "--per-thread",
        "-q",
        "-o",
        "-",
        "--to",
        "folded",
    ]));
    let threads = by_root(&folded, |s| {
        s.contains(";Thread._bootstrap (threading.py);")
    });
    let workers: Vec<_> = threads
        .iter()
        .filter(|(root, _)| {
            let (pid, tid) = root.rsplit_once('-').unwrap().1.split_once('/').unwrap();
            pid != tid
        })
        .collect();
    assert!(workers.len() >= 4, "{threads:?}");
    let (all, reach) = workers
        .iter()
        .fold((0u64, 0u64), |(a, r), (_, (t, b))| (a + t, r + b));
    assert!(
        reach * 100 > all * 70,
        "{reach} of {all} worker off-CPU ns reach Thread._bootstrap"
    );
    // waits on the kept recording (maps found beside it): the top row is
    // a wait of the workload's Python code.
    let (waits, _) = run_ok(stackconv().arg("waits").arg(&data).args(["-q", "-n", "5"]));
    let top = waits.lines().nth(2).unwrap_or("");
    assert!(top.contains(".py) >"), "{waits}");
    assert!(
        waits.contains("lock      Queue.get (queue.py) > Condition.wait (threading.py)"),
        "{waits}"
    );
}

/// The story's bug in a small program (testdata/python/story.py): a
/// connection pool guarded by an RLock that is held across the downstream
/// call. The top `waits` row is the RLock acquire in the workload's
/// function.
#[test]
fn record_story_rlock_wait_is_the_top_waits_row() {
    let _serial = one_at_a_time();
    let Some(py) = ready() else { return };
    let dir = tempfile::tempdir().unwrap();
    let script = root().join("testdata/python/story.py");
    let data = dir.path().join("story.perf.data");
    run_ok(
        stackconv()
            .args(["record", "--off-cpu", "-q", "-o"])
            .arg(&data)
            .arg("--")
            .arg(&py)
            .arg(&script),
    );
    let (waits, _) = run_ok(stackconv().arg("waits").arg(&data).args(["-q", "-n", "5"]));
    let top = waits.lines().nth(2).unwrap_or("");
    assert!(
        top.contains(" lock ") && top.contains("Repository.load (story.py) > rlock_acquire"),
        "{waits}"
    );
    let (folded, _) =
        run_ok(
            stackconv()
                .arg(&data)
                .args(["--off-cpu", "-q", "-o", "-", "--to", "folded"]),
        );
    assert!(
        folded.contains(
            ";Thread._bootstrap (threading.py);Thread._bootstrap_inner (threading.py);Thread.run (threading.py);worker (story.py);Repository.load (story.py);rlock_acquire;"
        ),
        "{folded}"
    );
}

/// `record -p PID --duration 2`: only that process's threads.
#[test]
fn record_attached_process_only() {
    let _serial = one_at_a_time();
    let Some(py) = ready() else { return };
    let mut target = StdCommand::new(&py)
        .arg(webapi())
        .args(["10", "3"])
        .env("PYTHONPERFSUPPORT", "1")
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Another busy process that must not show up.
    let mut other = StdCommand::new(&py)
        .args([
            "-c",
            "import time\nend = time.time() + 8\nwhile time.time() < end: pass",
        ])
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(700));
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("p.folded");
    let result = stackconv()
        .args(["record", "-q", "--per-thread", "--duration", "2", "-p"])
        .arg(target.id().to_string())
        .arg("-o")
        .arg(&out)
        .output()
        .unwrap();
    let _ = target.kill();
    let _ = other.kill();
    let _ = target.wait();
    let _ = other.wait();
    assert!(
        result.status.success(),
        "{}",
        String::from_utf8_lossy(&result.stderr)
    );
    let folded = std::fs::read_to_string(&out).unwrap();
    let threads = by_root(&folded, |_| true);
    assert!(threads.len() >= 2, "{threads:?}");
    let want = format!("-{}/", target.id());
    for root in threads.keys() {
        assert!(
            root.contains(&want),
            "{root} is not a thread of {}",
            target.id()
        );
    }
    assert!(folded.contains("worker (webapi.py)"), "{folded}");
}

/// Ctrl-C (SIGINT to stackconv) after 1 s of a 10 s workload: perf stops,
/// the workload ends, stackconv converts what was recorded and exits 0.
#[test]
fn record_ctrl_c_converts_what_was_recorded() {
    let _serial = one_at_a_time();
    let Some(py) = ready() else { return };
    let dir = tempfile::tempdir().unwrap();
    let svg = dir.path().join("c.svg");
    let start = Instant::now();
    // Perf maps written from now on are this run's (the tests run one at a
    // time); the file system's clock may trail by a tick.
    let started = std::time::SystemTime::now() - Duration::from_millis(50);
    let child = stackconv()
        .args(["record", "-o"])
        .arg(&svg)
        .arg("--")
        .arg(&py)
        .arg(webapi())
        .args(["10", "2"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // 1 s after the workload's workers run (a loaded machine may take a
    // while to start perf and Python): their functions are in a perf map.
    let deadline = Instant::now() + Duration::from_secs(8);
    while Instant::now() < deadline && !worker_map_since(started) {
        std::thread::sleep(Duration::from_millis(100));
    }
    std::thread::sleep(Duration::from_secs(1));
    let kill = StdCommand::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(
        start.elapsed() < Duration::from_secs(10),
        "the workload ran to its end"
    );
    assert!(
        stderr.contains("stopped by a signal to stackconv"),
        "{stderr}"
    );
    let text = std::fs::read_to_string(&svg).unwrap();
    assert!(text.trim_end().ends_with("</svg>"));
    assert!(text.contains("(webapi.py)"), "no Python frames: {stderr}");
}

/// Whether a perf map written since `since` names webapi.py's `worker`.
fn worker_map_since(since: std::time::SystemTime) -> bool {
    std::fs::read_dir("/tmp").is_ok_and(|entries| {
        entries.flatten().any(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            name.starts_with("perf-")
                && name.ends_with(".map")
                && e.metadata()
                    .and_then(|m| m.modified())
                    .is_ok_and(|t| t >= since)
                && std::fs::read_to_string(e.path())
                    .is_ok_and(|t| t.contains("py::worker:") && t.contains("webapi.py"))
        })
    })
}

/// Errors a user meets: one line each, exit 1 (2 for usage).
#[test]
fn record_errors_are_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("e.svg");
    let err = |args: &[&str]| {
        let o = stackconv().arg("record").args(args).output().unwrap();
        (
            o.status.code(),
            String::from_utf8_lossy(&o.stderr).into_owned(),
        )
    };
    let o = out.to_str().unwrap();
    let (code, msg) = err(&["--perf", "/nonexistent/perf", "-o", o, "--", "true"]);
    assert_eq!(code, Some(1));
    assert!(msg.contains("apt-get install linux-perf"), "{msg}");
    assert_eq!(msg.lines().count(), 1, "{msg}");
    let (code, msg) = err(&["-o", o]);
    assert_eq!(code, Some(2), "{msg}");
    let (code, _) = err(&["-o", o, "-p", "1", "--", "true"]);
    assert_eq!(code, Some(2));
    if !perf_usable() {
        return;
    }
    let (code, msg) = err(&["-o", o, "--", "no-such-command-stackconv"]);
    assert_eq!(code, Some(1));
    assert_eq!(
        msg.trim(),
        "stackconv: record: command not found: no-such-command-stackconv"
    );
    let (code, msg) = err(&["-o", o, "-p", "999999999"]);
    assert_eq!(code, Some(1));
    assert!(msg.contains("no such process"), "{msg}");
    // A Python older than 3.12, where pyenv has one.
    if let Some(py311) = python312()
        .and_then(|p| p.parent()?.parent()?.parent().map(Path::to_path_buf))
        .and_then(|versions| {
            std::fs::read_dir(versions)
                .ok()?
                .flatten()
                .find(|e| e.file_name().to_string_lossy().starts_with("3.11"))
                .map(|e| e.path().join("bin/python3.11"))
        })
    {
        let (code, msg) = err(&["-o", o, "--", py311.to_str().unwrap(), "-c", "pass"]);
        assert_eq!(code, Some(1));
        assert!(
            msg.contains("Python 3.11") && msg.contains("py-spy"),
            "{msg}"
        );
        assert_eq!(msg.lines().count(), 1, "{msg}");
    }
}
