//! py-spy raw output (testdata/pyspy, recorded by testdata/pyspy/record.sh):
//! read, then written as folded, gives back py-spy's own lines.

use std::path::{Path, PathBuf};

use stackconv_collapsed::stackconv_model::FrameKind;
use stackconv_collapsed::{folded, perf_script, pyspy};

fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata/pyspy")
}

fn raws() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir())
        .expect("testdata/pyspy exists")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "raw"))
        .collect();
    files.sort();
    files
}

fn read(name: &str) -> Vec<u8> {
    std::fs::read(dir().join(name)).expect("read test data")
}

#[test]
fn every_variant_round_trips_to_its_own_lines() {
    let files = raws();
    assert_eq!(files.len(), 10, "{files:?}");
    for path in files {
        let input = std::fs::read(&path).expect("read");
        let text = String::from_utf8(input.clone()).expect("utf-8");
        assert!(pyspy::looks_like(&input), "{}", path.display());
        assert!(!folded::looks_like(&input), "{}", path.display());
        assert!(!perf_script::looks_like(&input), "{}", path.display());
        let p = pyspy::read(&input).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert_eq!(p.meta().source_format, "py-spy raw");
        assert!(!p.meta().comm_root);
        let want_total: i64 = text
            .lines()
            .map(|l| {
                l.rsplit_once(' ')
                    .expect("count")
                    .1
                    .parse::<i64>()
                    .expect("n")
            })
            .sum();
        assert_eq!(p.total(0), want_total, "{}", path.display());
        let mut out = Vec::new();
        folded::write(&p, &folded::WriteOptions::default(), &mut out).expect("write");
        let out = String::from_utf8(out).expect("utf-8");
        let mut want: Vec<&str> = text.lines().collect();
        want.sort_unstable();
        let got: Vec<&str> = out.lines().collect();
        assert_eq!(got, want, "{}", path.display());
    }
}

#[test]
fn threads_come_from_thread_root_frames() {
    let p = pyspy::read(&read("threads.raw")).expect("parse");
    let mut names: Vec<(Option<u32>, &str)> = p
        .threads()
        .iter()
        .map(|(_, t)| (t.tid, p.str(t.thread_name)))
        .collect();
    names.sort_unstable();
    names.dedup();
    let text = String::from_utf8(read("threads.raw")).expect("utf-8");
    // Every `thread (TID): NAME` root frame of the file is a thread.
    let mut want: Vec<(Option<u32>, String)> = text
        .lines()
        .map(|l| l.split(';').next().expect("root"))
        .map(|root| {
            let rest = root.strip_prefix("thread (").expect("thread root");
            let (tid, name) = rest.split_once("): ").expect("named thread");
            (
                Some(tid.parse::<u32>().expect("decimal tid")),
                name.to_string(),
            )
        })
        .collect();
    want.sort_unstable();
    want.dedup();
    let want: Vec<(Option<u32>, &str)> = want.iter().map(|(t, n)| (*t, n.as_str())).collect();
    assert_eq!(names, want);
    assert!(names.iter().any(|(_, n)| *n == "MainThread"));
    assert!(names.iter().any(|(_, n)| n.starts_with("waitress-")));
}

#[test]
fn processes_come_from_process_root_frames() {
    let p = pyspy::read(&read("subprocesses.raw")).expect("parse");
    let text = String::from_utf8(read("subprocesses.raw")).expect("utf-8");
    let root = text
        .lines()
        .next()
        .expect("a line")
        .split(';')
        .next()
        .expect("root");
    let pid: u32 = root
        .strip_prefix("process ")
        .and_then(|r| r.split_once(':'))
        .and_then(|(pid, _)| pid.parse().ok())
        .expect("process root frame");
    assert!(p.threads().iter().all(|(_, t)| t.pid == Some(pid)));
}

#[test]
fn frame_kinds() {
    let p = pyspy::read(&read("native.raw")).expect("parse");
    let kind_of = |name: &str| {
        p.frames()
            .iter()
            .find(|(_, f)| p.str(f.name) == name)
            .map(|(_, f)| (f.kind, p.str(f.module), p.str(f.file), f.line))
    };
    assert_eq!(
        kind_of("worker (webapi.py:138)"),
        Some((FrameKind::Python, "", "webapi.py", 138))
    );
    assert_eq!(
        kind_of("thread_run (libpython3.12.so.1.0)"),
        Some((FrameKind::Native, "libpython3.12.so.1.0", "", 0))
    );
    let p = pyspy::read(&read("nolineno.raw")).expect("parse");
    let f = p
        .frames()
        .iter()
        .find(|(_, f)| p.str(f.name) == "worker (webapi.py)")
        .map(|(_, f)| *f)
        .expect("worker frame");
    assert_eq!(
        (f.kind, p.str(f.file), f.line),
        (FrameKind::Python, "webapi.py", 0)
    );
}

/// py-spy `--idle` keeps the samples of waiting threads: at the same rate
/// and duration, a larger total than without it.
#[test]
fn idle_recording_has_more_samples() {
    let on = pyspy::read(&read("idle-on.raw")).expect("parse");
    let off = pyspy::read(&read("idle-off.raw")).expect("parse");
    assert!(
        on.total(0) > off.total(0),
        "{} vs {}",
        on.total(0),
        off.total(0)
    );
}

#[test]
fn speedscope_json_is_none_of_these_formats() {
    let json = read("webapi.speedscope.json");
    assert!(!pyspy::looks_like(&json));
    assert!(!folded::looks_like(&json));
    assert!(!perf_script::looks_like(&json));
}
