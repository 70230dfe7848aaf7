//! Our writer's output opened by `go tool pprof`: the same totals and the
//! same stacks as the model. Skipped (with a message) when `go` is not on
//! PATH; CI installs golang-go.

mod common;

use std::path::PathBuf;
use std::process::Command;

use common::*;
use stackconv_model::Profile;
use stackconv_pprof::{read, write, ReadOptions};

fn have_go() -> bool {
    let ok = Command::new("go")
        .arg("version")
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    if !ok {
        eprintln!("skipping: `go` is not on PATH (go tool pprof checks need golang-go)");
    }
    ok
}

/// A scratch file removed on drop.
struct Scratch(PathBuf);

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

fn write_scratch(p: &Profile, name: &str) -> Scratch {
    let path = std::env::temp_dir().join(format!(
        "stackconv-pprof-test-{}-{name}.pb.gz",
        std::process::id()
    ));
    let mut bytes = Vec::new();
    write(p, &mut bytes).expect("write");
    std::fs::write(&path, bytes).expect("scratch file");
    Scratch(path)
}

fn pprof(args: &[&str], file: &Scratch) -> String {
    let out = Command::new("go")
        .arg("tool")
        .arg("pprof")
        .args(args)
        .arg(&file.0)
        .env("PPROF_TMPDIR", std::env::temp_dir())
        .output()
        .expect("go tool pprof");
    assert!(
        out.status.success(),
        "go tool pprof {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8")
}

fn unit_flag(unit: &str) -> Option<&'static str> {
    match unit {
        "nanoseconds" => Some("-unit=ns"),
        "bytes" => Some("-unit=B"),
        _ => None,
    }
}

/// `-traces` and `-top` for column `i` of the file.
fn traces_and_top(p: &Profile, i: usize, file: &Scratch) -> (Traces, Top) {
    let index = format!("-sample_index={i}");
    let mut args = vec![index.as_str()];
    if let Some(u) = p.value_types().get(i).and_then(|v| unit_flag(&v.unit)) {
        args.push(u);
    }
    let mut t = vec!["-traces"];
    t.extend(&args);
    let mut top = vec![
        "-top",
        "-nodecount=100000",
        "-nodefraction=0",
        "-edgefraction=0",
    ];
    top.extend(&args);
    (
        parse_traces(&pprof(&t, file)),
        parse_top(&pprof(&top, file)),
    )
}

/// The model's traces with each sample's thread name as root frame, as the
/// writer adds it for `comm_root` profiles.
fn traces_with_comm(p: &Profile, column: usize) -> Traces {
    let mut out = Traces::new();
    for s in p.iter_samples() {
        let mut stack: Vec<TraceFrame> = p
            .stack_frames(s.stack)
            .into_iter()
            .rev()
            .map(|f| {
                (
                    p.frame_name(f).to_string(),
                    p.frame_kind(f) == stackconv_model::FrameKind::Inline,
                )
            })
            .collect();
        let t = p.threads().get(s.thread);
        stack.push((p.str(t.thread_name).to_string(), false));
        *out.entry(stack).or_insert(0) += s.values[column];
    }
    out
}

#[test]
fn go_tool_pprof_shows_our_synthetic_profile() {
    if !have_go() {
        return;
    }
    let mut p = synthetic();
    p.meta_mut().comm_root = true;
    let file = write_scratch(&p, "synthetic");
    for i in 0..p.value_types().len() {
        let (traces, top) = traces_and_top(&p, i, &file);
        let want = traces_with_comm(&p, i);
        if let Some(d) = diff_traces(&want, &traces) {
            panic!("column {i}: {d}");
        }
        assert_eq!(top.total, p.total(i), "column {i}: -top total");
        assert_eq!(
            top.rows,
            top_from_traces(&want).rows,
            "column {i}: -top rows"
        );
    }
    // The default column is the first (cpu-clock), as in the model.
    let default_text = pprof(&["-traces", "-unit=ns"], &file);
    if std::env::var_os("STACKCONV_SHOW").is_some() {
        eprintln!(
            "{default_text}\n{}\n{}",
            pprof(
                &[
                    "-top",
                    "-nodecount=100000",
                    "-nodefraction=0",
                    "-edgefraction=0",
                    "-unit=ns"
                ],
                &file
            ),
            pprof(&["-raw"], &file)
        );
    }
    let default = parse_traces(&default_text);
    assert_eq!(default, traces_with_comm(&p, 0));
    // Mappings with build ids, labels with threads.
    let raw = pprof(&["-raw"], &file);
    assert!(raw.contains("/usr/bin/app deadbeef01"), "{raw}");
    assert!(
        raw.contains("/usr/lib/x86_64-linux-gnu/libc.so.6 1234"),
        "{raw}"
    );
    for label in [
        "pid:[100]",
        "thread:[101]",
        "thread_name:[worker]",
        "process_name:[app]",
    ] {
        assert!(raw.contains(label), "{label} in {raw}");
    }
    // Value types and units.
    assert!(
        raw.contains("cpu-clock/nanoseconds[dflt] samples/count")
            || raw.contains("cpu-clock/nanoseconds samples/count"),
        "{raw}"
    );
}

#[test]
fn go_tool_pprof_shows_our_copy_of_the_go_profiles_as_the_originals() {
    if !have_go() {
        return;
    }
    for name in ["cpu", "heap", "dropframes"] {
        let p = read(
            &read_testdata(&format!("{name}.pb.gz")),
            &ReadOptions::default(),
        )
        .expect(name);
        let file = write_scratch(&p, name);
        for (i, v) in p.value_types().iter().enumerate() {
            let (traces, top) = traces_and_top(&p, i, &file);
            let golden = format!("{name}.{}.traces.txt", v.kind);
            let want = parse_traces(&read_text(&golden));
            if let Some(d) = diff_traces(&traces, &want) {
                panic!("{golden} vs go tool pprof on our copy: {d}");
            }
            let golden = format!("{name}.{}.top.txt", v.kind);
            let want = parse_top(&read_text(&golden));
            assert_eq!(top, want, "{golden} vs go tool pprof -top on our copy");
        }
    }
}
