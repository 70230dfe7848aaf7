//! Our reader against `go tool pprof` outputs recorded by
//! testdata/go/record.sh (see testdata/go/EXPECTED for the commands).

mod common;

use common::*;
use stackconv_model::{FrameKind, Profile};
use stackconv_pprof::{read, ReadOptions};

fn load(name: &str) -> Profile {
    read(&read_testdata(name), &ReadOptions::default()).expect(name)
}

/// The sample types `-raw` lists, as `type/unit`.
fn raw_sample_types(profile: &str) -> Vec<String> {
    let raw = read_text(&format!("{profile}.raw.txt"));
    let mut lines = raw.lines().skip_while(|l| *l != "Samples:");
    lines.next();
    lines
        .next()
        .expect("sample types line")
        .split_whitespace()
        .map(|t| t.trim_end_matches("[dflt]").to_string())
        .collect()
}

fn check_profile(profile: &str) {
    let p = load(&format!("{profile}.pb.gz"));
    let types: Vec<String> = p
        .value_types()
        .iter()
        .map(|v| format!("{}/{}", v.kind, v.unit))
        .collect();
    assert_eq!(types, raw_sample_types(profile), "{profile}: sample types");
    for (i, v) in p.value_types().iter().enumerate() {
        let name = format!("{profile}.{}.traces.txt", v.kind);
        let theirs = parse_traces(&read_text(&name));
        assert!(!theirs.is_empty(), "{name}: no stacks parsed");
        let ours = model_traces(&p, i);
        if let Some(d) = diff_traces(&ours, &theirs) {
            panic!("{name}: {d}");
        }
        let name = format!("{profile}.{}.top.txt", v.kind);
        let theirs = parse_top(&read_text(&name));
        let ours = model_top(&p, i);
        assert_eq!(ours.total, theirs.total, "{name}: total");
        assert_eq!(ours.rows, theirs.rows, "{name}: flat/cum per function");
    }
    // The default sample type.
    let name = format!("{profile}.traces.txt");
    let theirs = parse_traces(&read_text(&name));
    let ours = model_traces(&p, p.meta().default_value);
    if let Some(d) = diff_traces(&ours, &theirs) {
        panic!("{name} (default column {}): {d}", p.meta().default_value);
    }
}

#[test]
fn cpu_matches_go_tool_pprof() {
    check_profile("cpu");
    let p = load("cpu.pb.gz");
    assert_eq!(p.meta().source_format, "pprof");
    assert!(!p.meta().comm_root);
    assert_eq!(p.value_types().len(), 2);
    assert_eq!(
        p.meta().default_value,
        1,
        "cpu/nanoseconds is the last type"
    );
    let (period_type, period) = p.meta().period.clone().expect("period");
    assert_eq!(
        (period_type.kind.as_str(), period_type.unit.as_str()),
        ("cpu", "nanoseconds")
    );
    assert_eq!(period, 10_000_000);
    assert!(p.meta().start_time_ns.is_some() && p.meta().duration_ns.is_some());
    // The workload's binary is the first mapping, with its build id.
    let main = p.meta().modules.first().expect("a module");
    assert_eq!(main.path, "/tmp/stackconv-record/go/workload");
    assert!(main.build_id.as_ref().is_some_and(|b| !b.is_empty()));
    // Inlined helpers: main.mix / main.rotl appear as Inline frames with
    // file and line.
    let inline = p
        .frames()
        .iter()
        .find(|(_, f)| f.kind == FrameKind::Inline && p.str(f.name) == "main.checksum")
        .map(|(_, f)| *f)
        .expect("main.checksum inlined into main.hashLoop");
    assert_eq!(p.str(inline.file), "/tmp/stackconv-record/go/src/main.go");
    assert!(inline.line > 0);
    assert_eq!(p.str(inline.module), "/tmp/stackconv-record/go/workload");
    // String labels: pprof.Do("worker", ...).
    let labels = p.samples().labels().expect("labels");
    let workers: std::collections::BTreeSet<&str> = labels
        .iter()
        .flatten()
        .filter(|l| p.str(l.key) == "worker")
        .map(|l| p.str(l.str))
        .collect();
    assert_eq!(
        workers.into_iter().collect::<Vec<_>>(),
        ["alloc", "fib", "hash"]
    );
}

#[test]
fn heap_matches_go_tool_pprof() {
    check_profile("heap");
    let p = load("heap.pb.gz");
    let kinds: Vec<&str> = p.value_types().iter().map(|v| v.kind.as_str()).collect();
    assert_eq!(
        kinds,
        [
            "alloc_objects",
            "alloc_space",
            "inuse_objects",
            "inuse_space"
        ]
    );
    assert_eq!(p.meta().default_value, 3, "inuse_space");
    assert_eq!(p.meta().events, kinds);
    // Numeric labels with their unit: `bytes` (object size).
    let labels = p.samples().labels().expect("labels");
    let sizes = labels
        .iter()
        .flatten()
        .filter(|l| p.str(l.key) == "bytes" && l.str.is_empty() && l.num > 0)
        .count();
    assert!(sizes > 0, "numeric bytes labels");
}

#[test]
fn drop_and_keep_frames_match_go_tool_pprof() {
    check_profile("dropframes");
    let p = load("dropframes.pb.gz");
    let stacks: Vec<Vec<&str>> = p.iter_samples().map(|s| p.stack_names(s.stack)).collect();
    // keep_frames wins over drop_frames.
    assert!(stacks.contains(&vec!["main", "serve", "work", "runtime.keepalive", "leaf"]));
    // A dropped frame ends the stack with everything it called.
    assert!(stacks.contains(&vec!["main", "serve", "work"]));
    assert!(
        !stacks
            .iter()
            .flatten()
            .any(|f| *f == "runtime.mallocgc" || *f == "droproot")
            || stacks.contains(&vec!["runtime.goexit", "runtime.mallocgc"])
    );
    // Inline lines from the matching one inwards go: only the caller stays.
    assert!(stacks.contains(&vec!["main", "serve", "caller"]));
    // Threads from labels: thread_name and tid.
    let names: std::collections::BTreeSet<(Option<u32>, &str)> = p
        .threads()
        .iter()
        .map(|(_, t)| (t.tid, p.str(t.thread_name)))
        .collect();
    assert!(names.contains(&(Some(101), "a")));
    assert!(names.contains(&(Some(112), "b")));
    // The location without lines is named as pprof shows it.
    assert!(stacks.contains(&vec!["main", "serve", "[server]"]));
    let module = &p.meta().modules[0];
    assert_eq!(module.path, "/opt/app/bin/server");
    assert_eq!(
        module.build_id.as_deref(),
        Some(&[0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef][..])
    );
}

#[test]
fn looks_like_profiles_and_not_text() {
    for name in ["cpu.pb.gz", "heap.pb.gz", "dropframes.pb.gz"] {
        let data = read_testdata(name);
        assert!(stackconv_pprof::looks_like(&data), "{name}");
        assert!(
            stackconv_pprof::looks_like(&data[..1024.min(data.len())]),
            "{name} prefix"
        );
        let mut plain = Vec::new();
        std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(&data[..]), &mut plain)
            .expect("gunzip");
        assert!(stackconv_pprof::looks_like(&plain), "{name} inflated");
        assert!(
            stackconv_pprof::looks_like(&plain[..64]),
            "{name} inflated prefix"
        );
    }
    for name in [
        "cpu.raw.txt",
        "cpu.traces.txt",
        "EXPECTED",
        "record.sh",
        "src/main.go",
    ] {
        let data = read_testdata(name);
        assert!(!stackconv_pprof::looks_like(&data), "{name}");
    }
}

#[test]
fn looks_like_claims_no_other_test_file() {
    fn walk(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
        for e in std::fs::read_dir(dir).expect("read_dir").flatten() {
            let path = e.path();
            if path.is_dir() {
                walk(&path, out);
            } else {
                out.push(path);
            }
        }
    }
    let root = testdata().join("..");
    let mut files = Vec::new();
    walk(&root, &mut files);
    let mut checked = 0;
    for path in files {
        let name = path.to_string_lossy();
        if name.ends_with(".pb.gz") || name.ends_with(".pb") || name.ends_with(".pprof") {
            continue;
        }
        // Damaged inputs, pprof ones among them (`PE` is a valid pprof
        // message), replayed by crates/stackconv/tests/regress.rs.
        if path.components().any(|c| c.as_os_str() == "regress") {
            continue;
        }
        let mut head = Vec::new();
        let f = std::fs::File::open(&path).expect("open");
        std::io::Read::read_to_end(&mut std::io::Read::take(f, 1 << 16), &mut head).expect("read");
        assert!(
            !stackconv_pprof::looks_like(&head),
            "{name} claimed as pprof"
        );
        checked += 1;
    }
    assert!(checked > 20, "{checked} files checked");
}
