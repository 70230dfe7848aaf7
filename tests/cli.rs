//! End-to-end tests of the stackconv command on the recordings in
//! testdata/, compared with the outputs the reference tools made when they
//! were recorded (testdata/record.sh).

mod common;

use common::{perf_symbol_args, stackconv, testdata};
use std::path::{Path, PathBuf};

/// Lines sorted, trailing whitespace and empty lines dropped.
fn sorted_lines(text: &str) -> Vec<String> {
    let mut v: Vec<String> = text
        .lines()
        .map(|l| l.trim_end().to_string())
        .filter(|l| !l.is_empty())
        .collect();
    v.sort();
    v
}

/// The total weight of folded text (last number of each line).
fn folded_total(text: &str) -> u64 {
    text.lines()
        .filter_map(|l| l.rsplit_once(' '))
        .map(|(_, n)| n.trim().parse::<u64>().expect("a count"))
        .sum()
}

fn assert_same_lines(ours: &str, golden: &str, what: &str) {
    let (a, b) = (sorted_lines(ours), sorted_lines(golden));
    if a != b {
        let first = a
            .iter()
            .zip(&b)
            .position(|(x, y)| x != y)
            .unwrap_or(a.len().min(b.len()));
        panic!(
            "{what}: output differs from the reference at sorted line {}:\n  ours:      {:?}\n  reference: {:?}\n({} vs {} lines)",
            first + 1,
            a.get(first),
            b.get(first),
            a.len(),
            b.len()
        );
    }
}

fn run_to_string(args: &[&std::ffi::OsStr]) -> String {
    let out = stackconv().args(args).output().expect("run stackconv");
    assert!(
        out.status.success(),
        "stackconv {:?} failed: {}",
        args,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8 output")
}

/// Run stackconv with `args` writing folded text to stdout
/// (`-o - --to folded` appended).
fn to_folded<S: AsRef<std::ffi::OsStr>>(args: &[S]) -> std::process::Output {
    stackconv()
        .args(args)
        .args(["-o", "-", "--to", "folded"])
        .output()
        .expect("run stackconv")
}

/// [`to_folded`], expecting success: the folded text.
fn folded_of<S: AsRef<std::ffi::OsStr>>(args: &[S]) -> String {
    let mut all: Vec<&std::ffi::OsStr> = args.iter().map(AsRef::as_ref).collect();
    all.extend(["-o", "-", "--to", "folded"].map(std::ffi::OsStr::new));
    run_to_string(&all)
}

/// `perf script` texts of testdata/perf, converted to folded by the
/// command, equal inferno-collapse-perf's output of them: plain,
/// --per-process (--pid), --per-thread (--tid) and --annotate (--all).
/// The recordings with tracepoints are left to the collapsed crate's golden
/// test, which knows where inferno misreads their trace fields.
#[test]
fn perf_script_to_folded_matches_inferno() {
    let dir = testdata("perf");
    let mut checked = 0;
    let entries: Vec<PathBuf> = ["c-fp", "c-fp.F", "cpp", "rust-v0", "py-fp", "c-dwarf"]
        .iter()
        .map(|n| dir.join(format!("{n}.perf-script")))
        .collect();
    for script in entries {
        let stem = script.file_stem().unwrap().to_str().unwrap().to_string();
        for (variant, flag) in [
            ("folded", None),
            ("pid.folded", Some("--per-process")),
            ("tid.folded", Some("--per-thread")),
            ("all.folded", Some("--annotate")),
        ] {
            let golden = dir.join(format!("{stem}.{variant}"));
            if !golden.exists() {
                assert_ne!(variant, "folded", "{} has no golden", script.display());
                continue;
            }
            // Every frame, as the reference tools show them (py-fp would
            // otherwise be shown in the Python view).
            let mut args = vec![script.as_os_str()];
            args.extend(["--view", "mixed"].map(std::ffi::OsStr::new));
            args.extend(flag.map(std::ffi::OsStr::new));
            let ours = folded_of(&args);
            let reference = std::fs::read_to_string(&golden).unwrap();
            assert_same_lines(&ours, &reference, &golden.display().to_string());
            assert_eq!(folded_total(&ours), folded_total(&reference));
            checked += 1;
        }
    }
    assert!(checked >= 20, "checked {checked} goldens");
}

fn write_temp(dir: &Path, name: &str, content: &[u8]) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, content).unwrap();
    p
}

/// The `total_samples` attribute of an inferno SVG.
fn svg_total(svg: &str) -> u64 {
    let at = svg.find("total_samples=\"").expect("total_samples") + 15;
    svg[at..at + svg[at..].find('"').unwrap()].parse().unwrap()
}

#[test]
fn folded_svg_and_merge_keep_the_total() {
    let dir = tempfile::tempdir().unwrap();
    let a = write_temp(dir.path(), "a.folded", b"main;parse;lex 7\nmain;eval 5\n");
    let b = write_temp(dir.path(), "b.folded", b"main;eval 3\nmain;gc 2\n");
    // folded -> folded keeps lines and total
    let out = folded_of(&[&a]);
    assert_eq!(out, "main;eval 5\nmain;parse;lex 7\n");
    // merge: totals add, equal stacks merge
    let out = folded_of(&[&a, &b]);
    assert_eq!(out, "main;eval 8\nmain;gc 2\nmain;parse;lex 7\n");
    // SVG: the drawn total is the input total
    let svg_path = dir.path().join("all.svg");
    stackconv()
        .args([
            a.as_os_str(),
            b.as_os_str(),
            "-o".as_ref(),
            svg_path.as_os_str(),
        ])
        .assert()
        .success();
    let svg = std::fs::read_to_string(&svg_path).unwrap();
    assert_eq!(svg_total(&svg), 17);
    assert!(
        svg.contains("<title>eval (8 samples"),
        "merged frame in the SVG"
    );
}

/// Run stackconv expecting exit 1; return stderr.
fn expect_failure(args: &[&std::ffi::OsStr]) -> String {
    let out = stackconv().args(args).output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(1),
        "stackconv {:?}: expected exit 1, stderr: {}",
        args,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stderr).unwrap()
}

#[test]
fn bad_input_names_file_and_line_and_leaves_no_output() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.svg");
    let cases: Vec<(&str, Vec<u8>, Vec<&str>)> = vec![
        (
            "bad.folded",
            b"main;a 3\nmain;b 4\nmain;c x7\n".to_vec(),
            vec!["bad.folded", "line 3"],
        ),
        (
            "truncated.perf-script",
            b"app 123 [000] 1.000000: 1000000 cpu-clock:\n\tffffffff81000000 do_syscall_64+0x1 ([kernel.kallsyms])\n\t4005d6 main+0x6 (/usr/bin/app)\n\napp 123 [000] 1.001000: 1000000 cpu-clock:\n\t4005d6 main+0x6 (/usr/bin/app\n".to_vec(),
            vec!["truncated.perf-script", "line 6"],
        ),
        (
            "binary.txt",
            vec![0x7f, b'E', b'L', b'F', 2, 1, 1, 0, 0, 0, 0, 0, 0xff, 0xfe, 0, 3],
            vec!["binary.txt", "byte"],
        ),
    ];
    for (name, content, expect) in cases {
        let input = write_temp(dir.path(), name, &content);
        let err = expect_failure(&[input.as_os_str(), "-o".as_ref(), out.as_os_str()]);
        for e in expect {
            assert!(
                err.contains(e),
                "{name}: error {err:?} should mention {e:?}"
            );
        }
        assert!(!out.exists(), "{name}: a failed run left {}", out.display());
        let leftovers: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .filter_map(|e| e.ok())
            .filter(|e| e.file_name().to_string_lossy().ends_with(".tmp"))
            .collect();
        assert!(leftovers.is_empty(), "{name}: temporary files left behind");
    }
    // a missing file
    let missing = dir.path().join("missing.folded");
    let err = expect_failure(&[missing.as_os_str(), "-o".as_ref(), out.as_os_str()]);
    assert!(err.contains("missing.folded"), "{err}");
    assert!(!out.exists());
    // an unwritable output (a directory that does not exist)
    let good = write_temp(dir.path(), "good.folded", b"a;b 1\n");
    let nowhere = dir.path().join("no/such/dir/out.svg");
    let err = expect_failure(&[good.as_os_str(), "-o".as_ref(), nowhere.as_os_str()]);
    assert!(err.contains("no/such/dir/out.svg"), "{err}");
}

#[test]
fn usage_errors_exit_2() {
    let out = stackconv().output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let dir = tempfile::tempdir().unwrap();
    let good = write_temp(dir.path(), "good.folded", b"a;b 1\n");
    let out = stackconv()
        .args([good.as_os_str(), "-o".as_ref(), "x.png".as_ref()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--to"));
    let out = stackconv().args(["--no-such-flag"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn info_reports_the_figures() {
    let script = testdata("perf/c-fp.perf-script");
    let folded = testdata("perf/c-fp.folded");
    let out = run_to_string(&["info".as_ref(), script.as_os_str()]);
    let reference = std::fs::read_to_string(folded).unwrap();
    assert!(out.contains("format:          perf script"), "{out}");
    // the weight of the first event equals inferno's total
    let total = folded_total(&reference);
    assert!(
        out.contains(&format!("weight:          {total} ")),
        "info should report the total weight {total}:\n{out}"
    );
    assert!(out.contains("threads:"), "{out}");
    assert!(out.contains("events:"), "{out}");
}

#[test]
fn stdin_and_stdout() {
    let out = stackconv()
        .args(["-", "-o", "-", "--to", "folded"])
        .write_stdin("x;y 2\nx;y 3\n")
        .output()
        .unwrap();
    assert!(out.status.success());
    assert_eq!(String::from_utf8(out.stdout).unwrap(), "x;y 5\n");
}

/// `stackconv diff` equals `inferno-diff-folded` (and with `-n`) on the
/// before/after recordings.
#[test]
fn diff_matches_inferno_diff_folded() {
    let before = testdata("perf/c-before.folded");
    let after = testdata("perf/c-after.folded");
    for (flag, golden) in [
        (None, "perf/c-diff.folded"),
        (Some("--normalize"), "perf/c-diff.norm.folded"),
    ] {
        let mut args = vec!["diff".as_ref(), before.as_os_str(), after.as_os_str()];
        args.extend(flag.map(std::ffi::OsStr::new));
        let ours = folded_of(&args);
        let reference = std::fs::read_to_string(testdata(golden)).unwrap();
        assert_same_lines(&ours, &reference, golden);
    }
    // the differential SVG draws the after total, plus the frames present
    // only before (at their before weight), as its subtitle says
    let dir = tempfile::tempdir().unwrap();
    let svg = dir.path().join("d.svg");
    stackconv()
        .args([
            "diff".as_ref(),
            before.as_os_str(),
            after.as_os_str(),
            "-o".as_ref(),
            svg.as_os_str(),
        ])
        .assert()
        .success();
    let after_total = folded_total(&std::fs::read_to_string(&after).unwrap());
    let text = std::fs::read_to_string(&svg).unwrap();
    let removed: u64 = text
        .split(" only before, drawn at their before width")
        .next()
        .and_then(|head| head.rsplit(' ').next())
        .and_then(|n| n.parse().ok())
        .expect("the subtitle states the weight drawn only before");
    assert!(removed > 0, "c-before has frames c-after lacks");
    assert_eq!(svg_total(&text), after_total + removed);
}

/// `diff` of inputs whose changes would not fit 64 bits: exit 1 with the
/// reason, for every output (it once drew a saturated weight).
#[test]
fn diff_past_64_bits_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let before = dir.path().join("before.folded");
    let after = dir.path().join("after.folded");
    std::fs::write(&before, "main;a 9223372036854775807\n").unwrap();
    std::fs::write(&after, "main;b 5\n").unwrap();
    for out in ["d.folded", "d.svg", "d.pb.gz", "d.html"] {
        let out = dir.path().join(out);
        let run = stackconv()
            .args([
                "diff".as_ref(),
                before.as_os_str(),
                after.as_os_str(),
                "-o".as_ref(),
                out.as_os_str(),
            ])
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&run.stderr);
        assert_eq!(run.status.code(), Some(1), "{}: {stderr}", out.display());
        assert!(stderr.contains("2^63-1"), "{stderr}");
        assert!(!out.exists(), "{} written", out.display());
    }
}

/// A bad regex is a usage error naming the option; a filter matching
/// nothing is a warning, not an error.
#[test]
fn filters_report_and_bad_regex_is_usage() {
    let script = testdata("perf/c-fp.perf-script");
    let out = to_folded(&[script.as_os_str(), "--focus".as_ref(), "(".as_ref()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--focus"));
    // --focus keeps exactly the weight of the stacks containing the frame
    let reference = std::fs::read_to_string(testdata("perf/c-fp.folded")).unwrap();
    let want: u64 = reference
        .lines()
        .filter(|l| {
            l.split(' ')
                .next()
                .unwrap()
                .split(';')
                .any(|f| f.contains("cmp_int"))
        })
        .map(|l| l.rsplit_once(' ').unwrap().1.parse::<u64>().unwrap())
        .sum();
    assert!(want > 0);
    let out = to_folded(&[script.as_os_str(), "--focus".as_ref(), "cmp_int".as_ref()]);
    assert!(out.status.success());
    let folded = String::from_utf8(out.stdout).unwrap();
    assert_eq!(folded_total(&folded), want);
    let total = folded_total(&reference);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!("dropped {} of {total}", total - want)),
        "{stderr}"
    );
    // nothing matches: empty output, a warning, exit 0
    let out = to_folded(&[
        script.as_os_str(),
        "--focus".as_ref(),
        "no_such_function_xyz".as_ref(),
    ]);
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("warning"));
}

/// perf.data read natively equals `perf script | inferno-collapse-perf`
/// on the frame-pointer recording, in file mode and in pipe mode on stdin.
#[test]
fn perf_data_file_and_pipe_mode_match_inferno() {
    for (data, kallsyms, golden) in [
        ("perf/c-fp.data", "c-fp.kallsyms", "perf/c-fp.folded"),
        ("perf/c-pipe.data", "c-pipe.kallsyms", "perf/c-pipe.folded"),
    ] {
        let mut cmd = stackconv();
        cmd.args(["-", "-o", "-", "--to", "folded"])
            .args(perf_symbol_args(kallsyms))
            .pipe_stdin(testdata(data))
            .unwrap();
        let out = cmd.output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let ours = String::from_utf8(out.stdout).unwrap();
        let reference = std::fs::read_to_string(testdata(golden)).unwrap();
        assert_same_lines(&ours, &reference, golden);
        let file_mode = stackconv()
            .arg(testdata(data))
            .args(["-o", "-", "--to", "folded"])
            .args(perf_symbol_args(kallsyms))
            .output()
            .unwrap();
        assert_eq!(
            String::from_utf8(file_mode.stdout).unwrap(),
            ours,
            "{data}: pipe and file mode differ"
        );
    }
}

/// The Python 3.12 `-X perf` DWARF recording: the SVG shows Python
/// function names from the perf map in the same stacks as native frames
/// (the lock wait down to the futex), coloured apart.
#[test]
fn python_dwarf_recording_shows_python_and_native_frames() {
    let dir = tempfile::tempdir().unwrap();
    let svg = dir.path().join("py.svg");
    let out = stackconv()
        .arg(testdata("perf/py-dwarf.data"))
        .args(perf_symbol_args("py-dwarf.kallsyms"))
        .args(["--view", "mixed", "--event", "sched:sched_switch", "-o"])
        .arg(&svg)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let svg = std::fs::read_to_string(&svg).unwrap();
    for name in [
        "py::worker:",
        "py::Thread._bootstrap:",
        "lock_PyThread_acquire_lock",
        "futex_wait",
    ] {
        assert!(svg.contains(name), "the SVG should show {name}");
    }
    let fill = |name: &str| {
        let at = svg.find(&format!("<title>{name}")).unwrap();
        let rest = &svg[at..];
        let f = rest.find("fill=\"").unwrap() + 6;
        rest[f..f + rest[f..].find('"').unwrap()].to_string()
    };
    assert_ne!(fill("py::worker:"), fill("lock_PyThread_acquire_lock"));
}

#[test]
fn info_on_perf_data_reports_events_and_losses() {
    let out = stackconv()
        .arg("info")
        .arg(testdata("perf/py-dwarf.data"))
        .args(perf_symbol_args("py-dwarf.kallsyms"))
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("format:          perf.data"), "{text}");
    assert!(
        text.contains("events:          cpu-clock, sched:sched_switch"),
        "{text}"
    );
    assert!(text.contains("of off-cpu"), "{text}");
    assert!(text.contains("lost:"), "{text}");
}

/// `waits` on the Python DWARF recording: the off-CPU time is charged to
/// lock waits in `Condition.wait`, called from `Queue.get`.
#[test]
fn waits_shows_lock_waits_in_the_python_recording() {
    let out = stackconv()
        .arg("waits")
        .arg(testdata("perf/py-dwarf.data"))
        .args(perf_symbol_args("py-dwarf.kallsyms"))
        .args(["--view", "python", "-q"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.starts_with("Waiting: "), "{text}");
    assert!(text.contains("of off-cpu"), "{text}");
    let lock_rows: Vec<&str> = text
        .lines()
        .filter(|l| l.contains(" lock ") && l.contains("> Condition.wait (threading.py)"))
        .collect();
    assert!(!lock_rows.is_empty(), "{text}");
    assert!(
        lock_rows.iter().any(|l| l.contains("Queue.get (queue.py)")),
        "{text}"
    );
}

/// Parse `go tool pprof -traces -unit=ns` output into folded stacks
/// (root first) and their weights.
fn parse_pprof_traces(text: &str) -> std::collections::BTreeMap<String, u64> {
    let mut out = std::collections::BTreeMap::new();
    for block in text.split("-----------+").skip(1) {
        let mut frames: Vec<String> = Vec::new();
        let mut weight: Option<u64> = None;
        for line in block.lines().skip(1) {
            let trimmed = line.trim();
            if trimmed.is_empty() {
                continue;
            }
            if weight.is_none() {
                // label lines come first; the value line starts with digits
                let digits: String = trimmed.chars().take_while(|c| c.is_ascii_digit()).collect();
                if !digits.is_empty() && trimmed[digits.len()..].starts_with("ns") {
                    weight = Some(digits.parse().unwrap());
                    frames.push(trimmed[digits.len() + 2..].trim().to_string());
                }
                continue;
            }
            frames.push(trimmed.trim_end_matches(" (inline)").to_string());
        }
        if let Some(w) = weight {
            frames.reverse();
            *out.entry(frames.join(";")).or_insert(0) += w;
        }
    }
    out
}

/// perf.data and py-spy raw converted to pprof: `go tool pprof -traces` on
/// our output shows the same stacks and weights as our folded output.
/// Skipped (with a message) where Go is not installed; CI installs it.
#[test]
fn pprof_output_reads_back_in_go_tool_pprof() {
    if std::process::Command::new("go")
        .arg("version")
        .output()
        .is_err()
    {
        eprintln!("skipped: `go` is not installed (apt-get install golang-go)");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let cases: Vec<(PathBuf, Vec<std::ffi::OsString>)> = vec![
        (
            testdata("perf/c-fp.data"),
            perf_symbol_args("c-fp.kallsyms"),
        ),
        (testdata("pyspy/threads.raw"), vec![]),
    ];
    for (input, extra) in cases {
        if !input.exists() {
            panic!("{} missing", input.display());
        }
        let pb = dir.path().join("out.pb.gz");
        let folded = stackconv()
            .arg(&input)
            .args(&extra)
            .args(["-q", "-o", "-", "--to", "folded"])
            .output()
            .unwrap();
        assert!(folded.status.success());
        let ours: std::collections::BTreeMap<String, u64> = String::from_utf8(folded.stdout)
            .unwrap()
            .lines()
            .map(|l| {
                let (s, n) = l.rsplit_once(' ').unwrap();
                (s.to_string(), n.parse().unwrap())
            })
            .collect();
        stackconv()
            .arg(&input)
            .args(&extra)
            .args(["-q", "-o"])
            .arg(&pb)
            .assert()
            .success();
        let traces = std::process::Command::new("go")
            .args(["tool", "pprof", "-traces", "-unit=ns"])
            .arg(&pb)
            .output()
            .unwrap();
        assert!(
            traces.status.success(),
            "{}",
            String::from_utf8_lossy(&traces.stderr)
        );
        let theirs = parse_pprof_traces(&String::from_utf8(traces.stdout).unwrap());
        assert_eq!(
            theirs.values().sum::<u64>(),
            ours.values().sum::<u64>(),
            "{}: totals",
            input.display()
        );
        assert_eq!(theirs, ours, "{}: stacks", input.display());
    }
}

/// The per-thread off-CPU totals testdata/offcpu_intervals.py computed
/// from perf script at recording time: tid -> nanoseconds.
fn offcpu_reference(name: &str) -> std::collections::BTreeMap<u32, i64> {
    let text = std::fs::read_to_string(testdata(&format!("perf/{name}.offcpu-per-thread.txt")))
        .expect("the per-thread reference");
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            (
                f[1].parse().expect("a tid"),
                f[2].parse().expect("nanoseconds"),
            )
        })
        .collect()
}

/// Off-CPU nanoseconds per thread from `--off-cpu --per-thread`
/// folded output (root `comm-pid/tid`): tid -> nanoseconds.
fn offcpu_per_thread(data: &str, kallsyms: &str) -> std::collections::BTreeMap<u32, i64> {
    let mut args: Vec<std::ffi::OsString> = vec![testdata(data).into()];
    args.extend(perf_symbol_args(kallsyms));
    args.extend(["--off-cpu", "--per-thread", "-q"].map(Into::into));
    let folded = folded_of(&args);
    let mut out = std::collections::BTreeMap::new();
    for line in folded.lines() {
        let (stack, n) = line.rsplit_once(' ').expect("stack and weight");
        let root = stack.split(';').next().unwrap();
        let tid: u32 = root
            .rsplit_once('/')
            .expect("comm-pid/tid")
            .1
            .parse()
            .unwrap();
        *out.entry(tid).or_insert(0) += n.parse::<i64>().unwrap();
    }
    out
}

/// Each thread's off-CPU time agrees with the intervals perf script shows
/// (within 1 %), for every thread of the recording with off-CPU time.
fn assert_offcpu_per_thread(name: &str) {
    let reference = offcpu_reference(name);
    let ours = offcpu_per_thread(&format!("perf/{name}.data"), &format!("{name}.kallsyms"));
    let mut compared = 0;
    for (tid, want) in &reference {
        let got = ours.get(tid).copied().unwrap_or(0);
        let tolerance = (*want as f64 * 0.01).max(1.0);
        assert!(
            (got - want).abs() as f64 <= tolerance,
            "{name}: tid {tid}: {got} ns off-CPU, perf script's intervals give {want}"
        );
        compared += usize::from(*want > 0);
    }
    for (tid, got) in &ours {
        if *tid != 0 {
            assert!(
                reference.contains_key(tid) || *got == 0,
                "{name}: tid {tid} has {got} ns off-CPU, not in the reference"
            );
        }
    }
    assert!(compared >= 5, "{name}: only {compared} threads compared");
}

#[test]
fn off_cpu_per_thread_matches_perf_script_intervals() {
    assert_offcpu_per_thread("mutex");
}

#[test]
fn off_cpu_per_thread_matches_perf_script_intervals_system_wide() {
    assert_offcpu_per_thread("mutex-a");
}

/// The rows of `waits` text output: (weight, wait, caller, blocked in),
/// the "more rows" line as wait "more"; and the idle task's weight.
/// A row of `waits` text output: weight, wait, caller, blocked in.
type WaitsRow = (i64, String, String, String);

fn waits_rows(text: &str) -> (i64, i64, Vec<WaitsRow>) {
    let mut lines = text.lines();
    let head = lines.next().expect("a header");
    let num = |s: &str| s.parse::<i64>().expect("a number");
    let words: Vec<&str> = head.split_whitespace().collect();
    assert_eq!(words[0], "Waiting:", "{text}");
    let all = num(words[3]);
    let idle = head
        .split_once("idle task (swapper, pid 0): ")
        .map(|(_, r)| num(r.split_whitespace().next().unwrap()))
        .expect("the idle task's line");
    let rows = lines
        .skip(1)
        .map(|l| {
            let w: Vec<&str> = l.split_whitespace().collect();
            if l.contains(" more rows;") {
                return (num(w[0]), "more".to_string(), String::new(), String::new());
            }
            let (caller, blocked) = l
                .split_once(&format!(" {} ", w[3]))
                .unwrap()
                .1
                .split_once(" > ")
                .unwrap();
            (
                num(w[0]),
                w[3].to_string(),
                caller.trim().to_string(),
                blocked.trim().to_string(),
            )
        })
        .collect();
    (all, idle, rows)
}

fn waits_of(data: &str, kallsyms: &str) -> String {
    let out = stackconv()
        .arg("waits")
        .arg(testdata(data))
        .args(perf_symbol_args(kallsyms))
        .args(["-q", "-n", "8"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// `waits` on the lock-contention recording: the top row is the mutex
/// wait under locker_main, and the rows (with the idle task) account for
/// every off-CPU nanosecond.
#[test]
fn waits_accounts_for_all_off_cpu_time_of_the_mutex_recording() {
    for (data, kallsyms) in [
        ("perf/mutex.data", "mutex.kallsyms"),
        ("perf/mutex-a.data", "mutex-a.kallsyms"),
    ] {
        let text = waits_of(data, kallsyms);
        let (all, idle, rows) = waits_rows(&text);
        let sum: i64 = rows.iter().map(|r| r.0).sum::<i64>() + idle;
        assert!(
            ((sum - all).abs() as f64) <= all as f64 * 0.001,
            "{data}: rows + idle task = {sum}, off-CPU total {all}\n{text}"
        );
        let lock_rows: Vec<_> = rows.iter().filter(|r| r.2 == "locker_main").collect();
        assert!(
            !lock_rows.is_empty(),
            "{data}: no row under locker_main\n{text}"
        );
        let top = lock_rows[0];
        assert_eq!(top.1, "lock", "{data}\n{text}");
        assert!(
            ["pthread_mutex_lock", "__lll_lock_wait"].contains(&top.3.as_str()),
            "{data}\n{text}"
        );
        if data == "perf/mutex.data" {
            assert_eq!(rows[0].2, "locker_main", "{data}: top row\n{text}");
            assert_eq!(idle, 0, "{data}: a per-process recording has no idle task");
        }
    }
}

/// `waits --json`: every row, and per thread its share of wall time.
#[test]
fn waits_json_has_per_thread_shares() {
    let out = stackconv()
        .arg("waits")
        .arg(testdata("perf/mutex.data"))
        .args(perf_symbol_args("mutex.kallsyms"))
        .args(["-q", "--json"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    let reference = offcpu_reference("mutex");
    let threads = text.split("\"threads\": [").nth(1).expect("threads");
    let mut seen = 0;
    for line in threads.lines().filter(|l| l.contains("\"tid\": ")) {
        let field = |name: &str| {
            let rest = line.split_once(&format!("\"{name}\": ")).unwrap().1;
            rest.split([',', '}']).next().unwrap().trim().to_string()
        };
        let tid: u32 = field("tid").parse().unwrap();
        let off: i64 = field("off_cpu_ns").parse().unwrap();
        let wall: i64 = field("wall_ns").parse().unwrap();
        let share: f64 = field("share").parse().unwrap();
        let want = reference[&tid];
        assert!((off - want).abs() as f64 <= want as f64 * 0.01, "{line}");
        assert!(off <= wall && wall > 0, "{line}");
        assert!((share - off as f64 / wall as f64).abs() < 1e-5, "{line}");
        seen += 1;
    }
    assert_eq!(seen, reference.len(), "{text}");
}

/// A perf recording of Python is shown in the Python view unless `--view`
/// says otherwise, and stderr says so once; `--annotate` keeps perf's
/// spelling; `--granularity file` shows full paths; py-spy input and
/// `--view mixed` are as before.
#[test]
fn python_recordings_default_to_the_python_view() {
    let data = testdata("perf/py-dwarf.data");
    let run = |extra: &[&str]| {
        let out = stackconv()
            .arg(&data)
            .args(perf_symbol_args("py-dwarf.kallsyms"))
            .args(extra)
            .args(["-o", "-"])
            .args(if extra.contains(&"--to") {
                &[][..]
            } else {
                &["--to", "folded"][..]
            })
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        (
            String::from_utf8(out.stdout).unwrap(),
            String::from_utf8(out.stderr).unwrap(),
        )
    };
    let (folded, stderr) = run(&[]);
    let note = "showing the Python view (--view mixed shows every frame)";
    assert_eq!(stderr.matches(note).count(), 1, "{stderr}");
    assert!(!folded.contains("py::"), "{folded}");
    // Stacks with Python frames have no eval loop left (start-up stacks
    // without any Python frame stay as recorded).
    assert!(
        folded
            .lines()
            .filter(|l| l.contains(".py)"))
            .all(|l| !l.contains("_PyEval_EvalFrameDefault")),
        "{folded}"
    );
    assert!(
        folded.contains(
            "python3.12;Thread._bootstrap (threading.py);Thread._bootstrap_inner (threading.py);Thread.run (threading.py);worker (webapi.py);"
        ),
        "{folded}"
    );
    let (mixed, stderr) = run(&["--view", "mixed"]);
    assert!(!stderr.contains(note), "{stderr}");
    assert_eq!(folded_total(&mixed), folded_total(&folded));
    assert!(mixed.contains(";py::worker:/tmp/stackconv-record/webapi.py;"));
    let (annotated, _) = run(&["--annotate", "-q"]);
    assert!(annotated.contains(";py::worker:/tmp/stackconv-record/webapi.py_[j];"));
    assert!(!annotated.contains("_PyEval_EvalFrameDefault;py::"));
    let (files, _) = run(&["--granularity", "file", "-q"]);
    assert!(
        files.contains(";/tmp/stackconv-record/webapi.py;"),
        "{files}"
    );
    // top and speedscope read the same names; speedscope keeps the path.
    let out = stackconv()
        .arg("top")
        .arg(&data)
        .args(perf_symbol_args("py-dwarf.kallsyms"))
        .args(["-q", "-n", "3"])
        .output()
        .unwrap();
    let top = String::from_utf8(out.stdout).unwrap();
    assert!(top.contains("  fib (webapi.py)\n"), "{top}");
    let (json, _) = run(&["--to", "speedscope", "-q"]);
    assert!(json.contains("Repository.load (webapi.py)"), "{json}");
    assert!(json.contains("/tmp/stackconv-record/webapi.py"));
    assert!(!json.contains("py::"));
    // py-spy raw: no note, frames as written.
    let out = stackconv()
        .arg(testdata("pyspy/threads.raw"))
        .args(["-o", "-", "--to", "folded"])
        .output()
        .unwrap();
    assert!(out.status.success());
    assert!(!String::from_utf8_lossy(&out.stderr).contains(note));
}

/// A standard error whose reader went away (`2>&1 | head -1`) does not
/// stop a conversion that has notes to print.
#[test]
fn closed_stderr_does_not_stop_a_conversion() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("x.folded");
    let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("stackconv"))
        .arg(testdata("perf/py-dwarf.data"))
        .arg("--no-system-paths")
        .arg("-o")
        .arg(&out)
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // The reading end goes away before stackconv writes its notes.
    drop(child.stderr.take());
    let status = child.wait().unwrap();
    assert!(status.success(), "{status:?}");
    assert!(!std::fs::read_to_string(&out).unwrap().is_empty());
}

/// A large perf.data read with standard error on a terminal shows a
/// progress bar (cleared at the end); `--quiet`, or standard error not a
/// terminal, shows none. The terminal is `script`'s (util-linux), and
/// `STACKCONV_PROGRESS_MIN` lowers the size from which the bar shows.
#[test]
fn progress_bar_on_a_terminal_only() {
    if std::process::Command::new("script")
        .arg("--version")
        .output()
        .is_err()
    {
        eprintln!("skipped: no `script` command to give stackconv a terminal");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let data = testdata("perf").join("c-fp.data");
    let svg = dir.path().join("out.svg");
    let mut args: Vec<String> = vec![
        assert_cmd::cargo::cargo_bin("stackconv")
            .to_string_lossy()
            .into_owned(),
        data.to_string_lossy().into_owned(),
        "-o".into(),
        svg.to_string_lossy().into_owned(),
    ];
    args.extend(
        perf_symbol_args("c-fp.kallsyms")
            .into_iter()
            .map(|a| a.to_string_lossy().into_owned()),
    );
    let on_terminal = |extra: &[&str]| {
        let mut cmd = args.join(" ");
        for e in extra {
            cmd.push(' ');
            cmd.push_str(e);
        }
        let out = std::process::Command::new("script")
            .args(["-qfec", &cmd, "/dev/null"])
            .env("STACKCONV_PROGRESS_MIN", "1")
            .output()
            .unwrap();
        assert!(out.status.success(), "{cmd}: {out:?}");
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let shown = on_terminal(&[]);
    assert!(
        shown.contains(&format!("reading {}", data.display())),
        "{shown}"
    );
    assert!(std::fs::metadata(&svg).unwrap().len() > 0);
    let quiet = on_terminal(&["--quiet"]);
    assert!(!quiet.contains("reading"), "{quiet}");
    let piped = stackconv()
        .args(&args[1..])
        .env("STACKCONV_PROGRESS_MIN", "1")
        .output()
        .unwrap();
    assert!(piped.status.success());
    assert!(!String::from_utf8_lossy(&piped.stderr).contains("reading"));
}

/// The kernel's build id in c-fp.data (`perf buildid-list -i
/// testdata/perf/c-fp.data`: the `[kernel.kallsyms]` line).
const C_FP_KERNEL_BUILD_ID: &str = "85c7e4e2ed76f4417e8aaad7c6b040d2bb897a26";

/// Kernel symbols are taken from perf's build-id cache
/// (`~/.debug/[kernel.kallsyms]/BUILD_ID/kallsyms`, which `perf record`
/// writes) when it holds the recorded kernel's table, as `perf report`
/// does: the frames are those `--kallsyms` with the same table gives. A
/// cached table of another boot (the kernel image elsewhere than the
/// recording's `[kernel.kallsyms]_text` mapping says) is passed over with
/// a warning, and names no frame.
#[test]
fn perf_build_id_cache_kallsyms_is_used_when_of_the_recording() {
    let table = std::fs::read_to_string(testdata("perf/c-fp.kallsyms")).unwrap();
    let run = |home: &Path| {
        let empty = home.join("symfs");
        std::fs::create_dir_all(&empty).unwrap();
        stackconv()
            .env("HOME", home)
            .arg(testdata("perf/c-fp.data"))
            .args(["-o", "-", "--to", "folded", "--symfs"])
            .arg(&empty)
            .arg("--symbol-dir")
            .arg(testdata("perf/bin"))
            .arg("--perf-map-dir")
            .arg(&empty)
            .output()
            .unwrap()
    };
    let cache_dir = |home: &Path| {
        let d = home
            .join(".debug")
            .join("[kernel.kallsyms]")
            .join(C_FP_KERNEL_BUILD_ID);
        std::fs::create_dir_all(&d).unwrap();
        d.join("kallsyms")
    };

    let given = stackconv()
        .arg(testdata("perf/c-fp.data"))
        .args(["-o", "-", "--to", "folded"])
        .args(perf_symbol_args("c-fp.kallsyms"))
        .output()
        .unwrap();
    assert!(given.status.success());
    let given = String::from_utf8(given.stdout).unwrap();
    assert!(
        given.contains("asm_exc_page_fault"),
        "kernel frames named with --kallsyms"
    );

    let home = tempfile::tempdir().unwrap();
    std::fs::write(cache_dir(home.path()), &table).unwrap();
    let cached = run(home.path());
    let err = String::from_utf8_lossy(&cached.stderr);
    assert!(cached.status.success(), "{err}");
    assert!(!err.contains("kernel frames are not named"), "{err}");
    assert_eq!(String::from_utf8(cached.stdout).unwrap(), given);

    // The same table two megabytes higher: another boot's layout.
    let moved: String = table
        .lines()
        .map(|l| match l.split_once(' ') {
            Some((a, rest)) => {
                let a = u64::from_str_radix(a, 16).unwrap() + 0x20_0000;
                format!("{a:016x} {rest}\n")
            }
            None => format!("{l}\n"),
        })
        .collect();
    let home = tempfile::tempdir().unwrap();
    std::fs::write(cache_dir(home.path()), moved).unwrap();
    let other_boot = run(home.path());
    let err = String::from_utf8_lossy(&other_boot.stderr);
    assert!(other_boot.status.success(), "{err}");
    assert!(
        err.contains("kallsyms: not used: it lists _text at 0xffffffff81200000, the recording at 0xffffffff81000000"),
        "{err}"
    );
    let out = String::from_utf8(other_boot.stdout).unwrap();
    assert_ne!(out, given, "the moved table named kernel frames");
    assert_eq!(folded_total(&out), folded_total(&given));
}
