//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::PathBuf;

use stackconv_model::Profile;
use stackconv_speedscope::{write, WriteOptions};

/// A file under the repository's testdata/.
pub fn testdata(rel: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../testdata")
        .join(rel)
}

/// `p` written with default options, as bytes.
pub fn to_json(p: &Profile) -> Vec<u8> {
    to_json_with(p, &WriteOptions::default())
}

/// `p` written with `opts`, as bytes.
pub fn to_json_with(p: &Profile, opts: &WriteOptions) -> Vec<u8> {
    let mut out = Vec::new();
    write(p, opts, &mut out).expect("write");
    out
}

/// Total weight of `column` per (thread name, stack names), zero totals
/// left out.
pub fn by_thread_name(p: &Profile, column: usize) -> BTreeMap<(String, Vec<String>), i64> {
    let mut m = BTreeMap::new();
    for s in p.iter_samples() {
        let t = p.threads().get(s.thread);
        let key = (
            p.str(t.thread_name).to_string(),
            p.stack_names(s.stack)
                .into_iter()
                .map(str::to_string)
                .collect(),
        );
        *m.entry(key).or_insert(0) += s.values.get(column).copied().unwrap_or(0);
    }
    m.retain(|_, v| *v != 0);
    m
}

/// The samples of `thread_name`, in time order when the profile has times
/// (stable for equal times) and input order otherwise, as (stack names,
/// value of `column`).
pub fn thread_sequence(p: &Profile, thread_name: &str, column: usize) -> Vec<(Vec<String>, i64)> {
    let mut rows: Vec<(u64, Vec<String>, i64)> = p
        .iter_samples()
        .filter(|s| p.str(p.threads().get(s.thread).thread_name) == thread_name)
        .map(|s| {
            (
                s.time.unwrap_or(0),
                p.stack_names(s.stack)
                    .into_iter()
                    .map(str::to_string)
                    .collect(),
                s.values.get(column).copied().unwrap_or(0),
            )
        })
        .collect();
    rows.sort_by_key(|r| r.0);
    rows.into_iter().map(|(_, s, v)| (s, v)).collect()
}

/// Random profiles for property tests.
pub mod arb {
    use proptest::prelude::*;
    use stackconv_model::{Frame, FrameKind, Profile, ValueType};

    /// Units the writer maps to speedscope units, with the factor the
    /// reader applies when it turns them into nanoseconds (1 for non-time
    /// units).
    pub const UNITS: &[(&str, &str, i64)] = &[
        ("samples", "count", 1),
        ("cpu-clock", "nanoseconds", 1),
        ("alloc_space", "bytes", 1),
        ("wall", "microseconds", 1000),
        ("other", "furlongs", 1),
    ];

    const NAMES: &[&str] = &[
        "main",
        "work",
        "py::f:/a.py",
        "lock (x.py:3)",
        "[unknown]",
        "ü λ \"q\"",
    ];
    const FILES: &[&str] = &["", "/src/a.py", "b.c"];

    /// A thread: index into NAMES-like choices for thread and process name
    /// (0 = empty), and whether ids are known.
    pub type ThreadSpec = (usize, usize, bool);

    /// Raw material for a profile.
    #[derive(Debug, Clone)]
    pub struct Spec {
        pub columns: Vec<usize>,
        pub frames: Vec<(usize, usize, u32, usize)>,
        pub threads: Vec<ThreadSpec>,
        pub samples: Vec<(Vec<usize>, usize, Vec<i64>, u64)>,
        pub timed: bool,
    }

    pub fn spec() -> impl Strategy<Value = Spec> {
        (
            proptest::collection::vec(0..UNITS.len(), 1..3),
            proptest::collection::vec((0..NAMES.len(), 0..FILES.len(), 0u32..50, 0..6usize), 1..8),
            proptest::collection::vec((0..3usize, 0..3usize, any::<bool>()), 1..4),
            any::<bool>(),
        )
            .prop_flat_map(|(columns, frames, threads, timed)| {
                let nf = frames.len();
                let nt = threads.len();
                let nc = columns.len();
                let sample = (
                    proptest::collection::vec(0..nf, 0..7),
                    0..nt,
                    proptest::collection::vec(0i64..1_000_000, nc),
                    0u64..1_000_000_000_000,
                );
                (
                    Just(columns),
                    Just(frames),
                    Just(threads),
                    proptest::collection::vec(sample, 0..40),
                    Just(timed),
                )
            })
            .prop_map(|(columns, frames, threads, samples, timed)| Spec {
                columns,
                frames,
                threads,
                samples,
                timed,
            })
    }

    const THREAD_NAMES: &[&str] = &["", "python3", "worker-1"];

    /// The profile a spec describes. Thread `i` has tid `100 + i` when its
    /// ids are known, so thread labels are distinct.
    pub fn build(s: &Spec) -> Profile {
        let vts = s
            .columns
            .iter()
            .map(|&c| {
                let (kind, unit, _) = UNITS[c];
                ValueType::new(kind, unit)
            })
            .collect();
        let mut p = Profile::new(vts);
        let kinds = FrameKind::ALL;
        let frames: Vec<_> = s
            .frames
            .iter()
            .map(|&(n, f, line, k)| {
                let frame = Frame {
                    name: p.intern_str(NAMES[n]),
                    module: p.intern_str("/lib/x.so"),
                    file: p.intern_str(FILES[f]),
                    line,
                    kind: kinds[k],
                };
                p.intern_frame(frame)
            })
            .collect();
        let threads: Vec<_> = s
            .threads
            .iter()
            .enumerate()
            .map(|(i, &(tn, pn, ids))| {
                let tid = 100 + i as u32;
                // Without ids, only the first thread is kept apart by its
                // name; the others get ids anyway so labels stay distinct.
                let ids = ids || i > 0;
                p.intern_thread_named(
                    ids.then_some(100),
                    ids.then_some(tid),
                    THREAD_NAMES[pn],
                    THREAD_NAMES[tn],
                )
            })
            .collect();
        for (stack, t, values, time) in &s.samples {
            let st = p.intern_stack_frames(stack.iter().map(|&f| frames[f]));
            p.push_sample(st, threads[*t], s.timed.then_some(*time), values);
        }
        p
    }

    /// The profile name the writer gives a thread, as the crate docs say:
    /// `comm pid/tid`, what is known of it, or `all`.
    pub fn label(p: &Profile, t: stackconv_model::ThreadId) -> String {
        let t = p.threads().get(t);
        let mut name = p.str(t.thread_name).to_string();
        if name.is_empty() {
            name = p.str(t.process_name).to_string();
        }
        let ids = match (t.pid, t.tid) {
            (Some(pid), Some(tid)) => format!("{pid}/{tid}"),
            _ => String::new(),
        };
        match (name.is_empty(), ids.is_empty()) {
            (true, true) => "all".into(),
            (true, false) => ids,
            (false, true) => name,
            (false, false) => format!("{name} {ids}"),
        }
    }
}
