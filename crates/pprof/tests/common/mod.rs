//! Helpers shared by the tests: paths, and parsers for `go tool pprof`
//! `-traces` and `-top` output.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::PathBuf;

use stackconv_model::{FrameKind, Profile};

/// `testdata/go` of the repository.
pub fn testdata() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../testdata/go")
}

pub fn read_testdata(name: &str) -> Vec<u8> {
    let path = testdata().join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

pub fn read_text(name: &str) -> String {
    String::from_utf8(read_testdata(name)).expect("utf-8")
}

/// One frame as `-traces` prints it: its name and whether it is inlined.
pub type TraceFrame = (String, bool);
/// Stacks (leaf first) to their summed weight.
pub type Traces = BTreeMap<Vec<TraceFrame>, i64>;

const SEPARATOR: &str = "-----------+-------------------------------------------------------";

/// A value as `-traces`/`-top` print it with an exact unit: `123`,
/// `123ns`, `123B`.
pub fn parse_value(s: &str) -> Option<i64> {
    let digits = s
        .strip_suffix("ns")
        .or_else(|| s.strip_suffix('B'))
        .unwrap_or(s);
    digits.parse().ok()
}

/// Parse `go tool pprof -traces` output: each block between separator lines
/// is labels (`key:  value`), then the stack leaf first, the first stack
/// line carrying the value (`%10s   %s`), the others indented 13 spaces;
/// inlined frames end in ` (inline)`. Stacks are summed.
pub fn parse_traces(text: &str) -> Traces {
    let mut out = Traces::new();
    let blocks = text.split(SEPARATOR).skip(1);
    // The last piece after the final separator is empty.
    for block in blocks {
        let mut value = None;
        let mut stack: Vec<TraceFrame> = Vec::new();
        for line in block.lines().filter(|l| !l.is_empty()) {
            let frame_text = if let Some(rest) = line.strip_prefix("             ") {
                assert!(value.is_some(), "frame before value: {line:?}");
                rest
            } else {
                let trimmed = line.trim_start();
                let (first, rest) = trimmed.split_once(' ').unwrap_or((trimmed, ""));
                match (parse_value(first), rest.strip_prefix("  ")) {
                    (Some(v), Some(name)) if value.is_none() => {
                        value = Some(v);
                        name
                    }
                    _ => {
                        assert!(value.is_none(), "label after stack: {line:?}");
                        assert!(trimmed.contains(":  "), "not a label: {line:?}");
                        continue;
                    }
                }
            };
            let (name, inline) = match frame_text.strip_suffix(" (inline)") {
                Some(n) => (n, true),
                None => (frame_text, false),
            };
            stack.push((name.to_string(), inline));
        }
        if let Some(v) = value {
            *out.entry(stack).or_insert(0) += v;
        }
    }
    out
}

/// The same aggregation from a model profile, for value column `column`:
/// stacks leaf first, inline flag from the frame kind; empty stacks are
/// skipped, as `-traces` skips them.
pub fn model_traces(p: &Profile, column: usize) -> Traces {
    let mut out = Traces::new();
    for s in p.iter_samples() {
        if s.stack.is_none() {
            continue;
        }
        let stack: Vec<TraceFrame> = p
            .stack_frames(s.stack)
            .into_iter()
            .rev()
            .map(|f| {
                (
                    p.frame_name(f).to_string(),
                    p.frame_kind(f) == FrameKind::Inline,
                )
            })
            .collect();
        *out.entry(stack).or_insert(0) += s.values.get(column).copied().unwrap_or(0);
    }
    out
}

/// What `go tool pprof -top` shows: the total, and flat/cum per function.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Top {
    pub total: i64,
    pub rows: BTreeMap<String, (i64, i64)>,
}

/// Parse `-top` output (complete: -nodecount=100000 -nodefraction=0).
/// Names lose a trailing ` (inline)`.
pub fn parse_top(text: &str) -> Top {
    let mut top = Top::default();
    let mut in_rows = false;
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("Showing nodes accounting for ") {
            // "X, 100% of TOTAL total"
            let total = rest
                .split(" of ")
                .nth(1)
                .and_then(|t| t.strip_suffix(" total"))
                .expect("total");
            top.total = parse_value(total).expect("total value");
            continue;
        }
        if line.trim_start().starts_with("flat  flat%") {
            in_rows = true;
            continue;
        }
        if !in_rows {
            continue;
        }
        let fields: Vec<&str> = line.split_whitespace().collect();
        assert!(fields.len() >= 6, "top row: {line:?}");
        let flat = parse_value(fields[0]).expect("flat");
        let cum = parse_value(fields[3]).expect("cum");
        // The name is the rest of the line after the fifth field.
        let mut rest = line;
        for f in &fields[..5] {
            let at = rest.find(f).expect("field") + f.len();
            rest = &rest[at..];
        }
        let name = rest.trim_start();
        let name = name.strip_suffix(" (inline)").unwrap_or(name);
        let e = top.rows.entry(name.to_string()).or_insert((0, 0));
        e.0 += flat;
        e.1 += cum;
    }
    top
}

/// `-top` computed from the model: flat = weight of samples whose leaf
/// frame has the name, cum = weight of samples with the name anywhere.
pub fn model_top(p: &Profile, column: usize) -> Top {
    let mut top = Top::default();
    for s in p.iter_samples() {
        let v = s.values.get(column).copied().unwrap_or(0);
        top.total += v;
        let frames = p.stack_frames(s.stack);
        let mut seen = std::collections::BTreeSet::new();
        for (i, f) in frames.iter().rev().enumerate() {
            let name = p.frame_name(*f).to_string();
            let e = top.rows.entry(name.clone()).or_insert((0, 0));
            if i == 0 {
                e.0 += v;
            }
            if seen.insert(name) {
                e.1 += v;
            }
        }
    }
    // -top lists only nodes with weight.
    top.rows.retain(|_, (flat, cum)| *flat != 0 || *cum != 0);
    top
}

/// A readable first difference between two trace maps.
pub fn diff_traces(ours: &Traces, theirs: &Traces) -> Option<String> {
    for (k, v) in theirs {
        match ours.get(k) {
            None => return Some(format!("missing in ours: {k:?} = {v}")),
            Some(o) if o != v => {
                return Some(format!("weight differs for {k:?}: ours {o}, pprof {v}"))
            }
            _ => {}
        }
    }
    for (k, v) in ours {
        if !theirs.contains_key(k) {
            return Some(format!("extra in ours: {k:?} = {v}"));
        }
    }
    None
}

/// `-top` computed from traces: flat = weight at the leaf frame, cum =
/// weight of stacks containing the name.
pub fn top_from_traces(traces: &Traces) -> Top {
    let mut top = Top::default();
    for (stack, &v) in traces {
        top.total += v;
        let mut seen = std::collections::BTreeSet::new();
        for (i, (name, _)) in stack.iter().enumerate() {
            let e = top.rows.entry(name.clone()).or_insert((0, 0));
            if i == 0 {
                e.0 += v;
            }
            if seen.insert(name.clone()) {
                e.1 += v;
            }
        }
    }
    top.rows.retain(|_, (flat, cum)| *flat != 0 || *cum != 0);
    top
}

/// A profile's samples by everything the model knows about them: frames
/// (name, file, line, module, kind) root first, thread (pid, tid, process,
/// thread name), labels (as text, sorted) when `with_labels`; values summed.
pub type Snapshot = BTreeMap<
    (
        Vec<(String, String, u32, String, FrameKind)>,
        (Option<u32>, Option<u32>, String, String),
        Vec<String>,
    ),
    Vec<i64>,
>;

pub fn snapshot(p: &Profile, with_labels: bool) -> Snapshot {
    let mut out = Snapshot::new();
    for s in p.iter_samples() {
        let frames = p
            .stack_frames(s.stack)
            .into_iter()
            .map(|f| {
                let fr = p.frame(f);
                (
                    p.str(fr.name).to_string(),
                    p.str(fr.file).to_string(),
                    fr.line,
                    p.str(fr.module).to_string(),
                    fr.kind,
                )
            })
            .collect();
        let t = p.threads().get(s.thread);
        let thread = (
            t.pid,
            t.tid,
            p.str(t.process_name).to_string(),
            p.str(t.thread_name).to_string(),
        );
        let mut labels: Vec<String> = Vec::new();
        if with_labels {
            if let Some(l) = p.samples().labels().and_then(|l| l.get(s.index)) {
                labels = l
                    .iter()
                    .map(|l| {
                        if l.str.is_empty() {
                            format!("{}={}{}", p.str(l.key), l.num, p.str(l.num_unit))
                        } else {
                            format!("{}={:?}", p.str(l.key), p.str(l.str))
                        }
                    })
                    .collect();
                labels.sort();
            }
        }
        let e = out
            .entry((frames, thread, labels))
            .or_insert_with(|| vec![0; p.value_types().len()]);
        for (a, b) in e.iter_mut().zip(&s.values) {
            *a += b;
        }
    }
    out
}

/// A profile as a perf reader would make it: two value columns, modules
/// with build ids, native, inline, kernel, Python, JIT and unknown frames,
/// two threads, and an empty stack.
pub fn synthetic() -> Profile {
    use stackconv_model::{Frame, Module, ValueType};
    let mut p = Profile::new(vec![
        ValueType::new("cpu-clock", "nanoseconds"),
        ValueType::new("samples", "count"),
    ]);
    p.meta_mut().source_format = "perf.data".to_string();
    p.meta_mut().modules = vec![
        Module::new("/usr/bin/app", Some(vec![0xde, 0xad, 0xbe, 0xef, 0x01])),
        Module::new(
            "/usr/lib/x86_64-linux-gnu/libc.so.6",
            Some(vec![0x12, 0x34]),
        ),
        Module::new("[kernel.kallsyms]", None),
    ];
    let frame = |p: &mut Profile, name: &str, module: &str, file: &str, line: u32, kind| {
        let f = Frame {
            name: p.intern_str(name),
            module: p.intern_str(module),
            file: p.intern_str(file),
            line,
            kind,
        };
        p.intern_frame(f)
    };
    let app = "/usr/bin/app";
    let libc = "/usr/lib/x86_64-linux-gnu/libc.so.6";
    let main = frame(&mut p, "main", app, "/src/app.c", 10, FrameKind::Native);
    let work = frame(&mut p, "work", app, "/src/app.c", 20, FrameKind::Native);
    let helper = frame(&mut p, "helper", app, "/src/util.h", 5, FrameKind::Inline);
    let tiny = frame(&mut p, "tiny", app, "/src/util.h", 7, FrameKind::Inline);
    let memcpy = frame(
        &mut p,
        "__memcpy_avx_unaligned",
        libc,
        "",
        0,
        FrameKind::Native,
    );
    let unknown = frame(&mut p, "[unknown]", "", "", 0, FrameKind::Unknown);
    let libc_unknown = frame(&mut p, "[libc.so.6]", libc, "", 0, FrameKind::Unknown);
    let syscall = frame(
        &mut p,
        "do_syscall_64",
        "[kernel.kallsyms]",
        "",
        0,
        FrameKind::Kernel,
    );
    let futex = frame(
        &mut p,
        "futex_wait",
        "[kernel.kallsyms]",
        "",
        0,
        FrameKind::Kernel,
    );
    let py = frame(
        &mut p,
        "py::handler:/app/server.py",
        "/tmp/perf-100.map",
        "/app/server.py",
        0,
        FrameKind::Python,
    );
    let jit = frame(
        &mut p,
        "jitted_stub",
        "/tmp/perf-100.map",
        "",
        0,
        FrameKind::Jit,
    );
    let cpp = frame(
        &mut p,
        "std::vector<int>::push_back",
        app,
        "/usr/include/c++/12/bits/stl_vector.h",
        1280,
        FrameKind::Native,
    );
    let t1 = p.intern_thread_named(Some(100), Some(100), "app", "app");
    let t2 = p.intern_thread_named(Some(100), Some(101), "app", "worker");
    let stacks: Vec<(
        Vec<stackconv_model::FrameId>,
        stackconv_model::ThreadId,
        i64,
    )> = vec![
        (vec![main, work], t1, 3),
        (vec![main, work, helper], t1, 2),
        (vec![main, work, helper, tiny], t1, 1),
        (vec![main, work, helper, tiny, memcpy], t2, 4),
        (vec![main, work, memcpy, syscall, futex], t2, 5),
        (vec![main, unknown, libc_unknown], t2, 6),
        (vec![main, py, jit], t1, 7),
        (vec![main, cpp, cpp], t1, 8),
        (vec![main, work], t1, 9),
        (vec![main, work], t2, 10),
    ];
    for (frames, thread, n) in stacks {
        let s = p.intern_stack_frames(frames);
        p.push_sample(s, thread, None, &[n * 1_000_000, n]);
    }
    // An empty stack.
    p.push_sample(None, t1, None, &[11_000_000, 11]);
    p
}
