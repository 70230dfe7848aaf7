//! write -> read -> write keeps stacks, weights and (where there are
//! timestamps) time order; the written file has the documented shape.

mod common;

use std::collections::BTreeMap;

use common::{arb, by_thread_name, testdata, thread_sequence, to_json, to_json_with};
use proptest::prelude::*;
use serde_json::{json, Value};
use stackconv_model::{Frame, FrameKind, Profile, ValueType};
use stackconv_speedscope::{read, WriteOptions};

/// Two threads, a frame with file and line, a kernel frame, an empty
/// stack; sample times out of order across threads.
fn two_threads(timed: bool) -> Profile {
    let mut p = Profile::new(vec![
        ValueType::new("cpu-clock", "nanoseconds"),
        ValueType::new("samples", "count"),
    ]);
    p.meta_mut().default_value = 0;
    let name = p.intern_str("main");
    let file = p.intern_str("/src/app.c");
    let main = p.intern_frame(Frame {
        name,
        file,
        line: 12,
        kind: FrameKind::Native,
        ..Frame::default()
    });
    let unused = p.intern_frame_named("never_sampled", FrameKind::Native);
    let work = p.intern_frame_named("work", FrameKind::Native);
    let futex = p.intern_frame_named("futex_wait", FrameKind::Kernel);
    let _ = p.intern_stack_frames([unused]);
    let s1 = p.intern_stack_frames([main, work]);
    let s2 = p.intern_stack_frames([main, work, futex]);
    let t1 = p.intern_thread_named(Some(10), Some(10), "app", "app");
    let t2 = p.intern_thread_named(Some(10), Some(11), "app", "worker");
    p.push_sample(s1, t1, timed.then_some(100), &[250, 1]);
    p.push_sample(s2, t2, timed.then_some(90), &[250, 1]);
    p.push_sample(s2, t1, timed.then_some(300), &[125, 1]);
    p.push_sample(s1, t1, timed.then_some(200), &[500, 1]);
    p.push_sample(None, t2, timed.then_some(400), &[0, 1]);
    p
}

#[test]
fn written_file_has_the_documented_shape() {
    let p = two_threads(true);
    let mut opts = WriteOptions::default();
    opts.name = Some("run 1".into());
    let doc: Value = serde_json::from_slice(&to_json_with(&p, &opts)).unwrap();
    assert_eq!(
        doc["$schema"],
        "https://www.speedscope.app/file-format-schema.json"
    );
    assert_eq!(doc["exporter"], "stackconv");
    assert_eq!(doc["name"], "run 1");
    assert_eq!(doc["activeProfileIndex"], 0);
    // Only frames that samples use, each once, in model order.
    assert_eq!(
        doc["shared"]["frames"],
        json!([
            {"name": "main", "file": "/src/app.c", "line": 12},
            {"name": "work"},
            {"name": "futex_wait"},
        ])
    );
    let profiles = doc["profiles"].as_array().unwrap();
    assert_eq!(profiles.len(), 2);
    // Time order within each thread: 100, 200, 300 for app.
    assert_eq!(
        profiles[0],
        json!({"type": "sampled", "name": "app 10/10", "unit": "nanoseconds",
               "startValue": 0, "endValue": 875,
               "samples": [[0, 1], [0, 1], [0, 1, 2]], "weights": [250, 500, 125]})
    );
    assert_eq!(
        profiles[1],
        json!({"type": "sampled", "name": "worker 10/11", "unit": "nanoseconds",
               "startValue": 0, "endValue": 250,
               "samples": [[0, 1, 2], []], "weights": [250, 0]})
    );
}

#[test]
fn without_times_equal_stacks_fold_and_count_unit_is_none() {
    let p = two_threads(false);
    let mut opts = WriteOptions::default();
    opts.value = Some(1);
    let doc: Value = serde_json::from_slice(&to_json_with(&p, &opts)).unwrap();
    let profiles = doc["profiles"].as_array().unwrap();
    assert_eq!(profiles[0]["unit"], "none");
    // app: s1 twice (folded, first seen first), s2 once.
    assert_eq!(profiles[0]["samples"], json!([[0, 1], [0, 1, 2]]));
    assert_eq!(profiles[0]["weights"], json!([2, 1]));
    assert_eq!(profiles[1]["samples"], json!([[0, 1, 2], []]));
    assert_eq!(profiles[1]["weights"], json!([1, 1]));
}

#[test]
fn default_value_column_is_used_and_missing_column_is_an_error() {
    let mut p = two_threads(false);
    p.meta_mut().default_value = 1;
    let doc: Value = serde_json::from_slice(&to_json(&p)).unwrap();
    assert_eq!(doc["profiles"][0]["unit"], "none");
    let mut opts = WriteOptions::default();
    opts.value = Some(2);
    let mut out = Vec::new();
    let err = stackconv_speedscope::write(&p, &opts, &mut out).unwrap_err();
    assert!(
        matches!(
            err,
            stackconv_speedscope::Error::NoSuchValue {
                column: 2,
                columns: 2
            }
        ),
        "{err}"
    );
    assert!(out.is_empty());
}

#[test]
fn negative_value_is_an_error() {
    let mut p = Profile::new(vec![ValueType::new("delta", "count")]);
    let f = p.intern_frame_named("f", FrameKind::Native);
    let s = p.intern_stack_frames([f]);
    let t = p.intern_thread(Default::default());
    p.push_sample(s, t, None, &[3]);
    p.push_sample(s, t, None, &[-5]);
    let err = stackconv_speedscope::write(&p, &WriteOptions::default(), Vec::new()).unwrap_err();
    assert!(
        matches!(
            err,
            stackconv_speedscope::Error::NegativeValue {
                sample: 1,
                value: -5,
                ..
            }
        ),
        "{err}"
    );
}

#[test]
fn no_thread_info_is_one_profile_named_all() {
    let mut p = Profile::new(vec![ValueType::new("samples", "count")]);
    let f = p.intern_frame_named("f", FrameKind::Unknown);
    let s = p.intern_stack_frames([f]);
    let t = p.intern_thread(Default::default());
    p.push_sample(s, t, None, &[3]);
    let doc: Value = serde_json::from_slice(&to_json(&p)).unwrap();
    assert_eq!(doc["profiles"][0]["name"], "all");
    let back = read(&to_json(&p)).unwrap();
    assert_eq!(
        back.str(back.threads().get(back.samples().threads()[0]).thread_name),
        "all"
    );
}

#[test]
fn timed_profile_round_trips_in_time_order() {
    let p = two_threads(true);
    let q = read(&to_json(&p)).unwrap();
    assert!(q.has_times());
    assert_eq!(q.value_types(), vec![ValueType::new("cpu", "nanoseconds")]);
    let seq = thread_sequence(&q, "app 10/10", 0);
    let names = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    assert_eq!(
        seq,
        vec![
            (names(&["main", "work"]), 250),
            (names(&["main", "work"]), 500),
            (names(&["main", "work", "futex_wait"]), 125),
        ]
    );
    // and the file it writes is the same file.
    assert_eq!(to_json(&q), to_json(&p));
}

#[test]
fn speedscope_fold_speedscope_keeps_stacks_and_weights() {
    let data = std::fs::read(testdata("pyspy/webapi.speedscope.json")).unwrap();
    let p = read(&data).unwrap();
    let folded = p.fold();
    assert!(folded.samples().len() < p.samples().len());
    let back = read(&to_json(&folded)).unwrap();
    assert_eq!(by_thread_name(&back, 0), by_thread_name(&p, 0));
    assert_eq!(back.total(0), p.total(0));
}

/// The expected contents after write(column c) -> read: per (thread label,
/// stack names), the column's total, scaled to nanoseconds for time units.
fn expected(p: &Profile, c: usize, factor: i64) -> BTreeMap<(String, Vec<String>), i64> {
    let mut m = BTreeMap::new();
    for s in p.iter_samples() {
        let key = (
            arb::label(p, s.thread),
            p.stack_names(s.stack)
                .into_iter()
                .map(str::to_string)
                .collect(),
        );
        *m.entry(key).or_insert(0) += s.values[c] * factor;
    }
    m.retain(|_, v| *v != 0);
    m
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]
    #[test]
    fn write_read_write_keeps_stacks_and_weights(spec in arb::spec()) {
        let p = arb::build(&spec);
        for (c, &u) in spec.columns.iter().enumerate() {
            let factor = arb::UNITS[u].2;
            let mut opts = WriteOptions::default();
            opts.value = Some(c);
            let q = read(&to_json_with(&p, &opts)).unwrap();
            prop_assert_eq!(q.value_types().len(), 1);
            prop_assert_eq!(by_thread_name(&q, 0), expected(&p, c, factor));
            let r = read(&to_json(&q)).unwrap();
            prop_assert_eq!(by_thread_name(&r, 0), by_thread_name(&q, 0));
            // With timestamps and a time unit, each thread's samples keep
            // their time order and weights.
            if spec.timed && q.has_times() {
                let threads: std::collections::BTreeSet<_> =
                    p.samples().threads().iter().map(|&t| (t, arb::label(&p, t))).collect();
                for (t, label) in threads {
                    let mut want: Vec<(u64, Vec<String>, i64)> = p
                        .iter_samples()
                        .filter(|s| s.thread == t)
                        .map(|s| (s.time.unwrap(),
                                  p.stack_names(s.stack).into_iter().map(str::to_string).collect(),
                                  s.values[c] * factor))
                        .collect();
                    want.sort_by_key(|w| w.0);
                    let want: Vec<_> = want.into_iter().map(|(_, s, v)| (s, v)).collect();
                    prop_assert_eq!(thread_sequence(&q, &label, 0), want.clone());
                    prop_assert_eq!(thread_sequence(&r, &label, 0), want);
                }
            }
        }
    }
}

/// More rows than the writer renders in one block (and in one round of
/// blocks): every sample is in the file, in time order, with its stack.
#[test]
fn rows_rendered_in_blocks_stay_in_order() {
    let mut p = Profile::new(vec![ValueType::new("samples", "count")]);
    // 40 frames and 12,000 leaves: frame indices of one to five digits.
    let frames: Vec<_> = (0..40)
        .map(|i| p.intern_frame_named(&format!("f{i}"), FrameKind::Native))
        .collect();
    let leaves: Vec<_> = (0..12_000)
        .map(|i| p.intern_frame_named(&format!("g{i}"), FrameKind::Native))
        .collect();
    let t = p.intern_thread_named(Some(1), Some(1), "app", "app");
    let n: u64 = 70_001;
    let mut want = Vec::new();
    for i in 0..n {
        // A stack per sample from i's digits in base 40, 1 to 4 deep.
        let depth = 1 + (i % 4) as usize;
        let stack: Vec<usize> = (0..depth)
            .map(|d| ((i / 40u64.pow(d as u32)) % 40) as usize)
            .collect();
        let leaf = (i % 12_000) as usize;
        let s = p.intern_stack_frames(
            stack
                .iter()
                .map(|&f| frames[f])
                .chain(std::iter::once(leaves[leaf])),
        );
        p.push_sample(s, t, Some(i), &[1 + (i % 3) as i64]);
        want.push((stack, leaf, 1 + (i % 3) as i64));
    }
    let doc: Value = serde_json::from_slice(&to_json(&p)).unwrap();
    let names: Vec<String> = doc["shared"]["frames"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["name"].as_str().unwrap().to_string())
        .collect();
    let profile = &doc["profiles"][0];
    let samples = profile["samples"].as_array().unwrap();
    let weights = profile["weights"].as_array().unwrap();
    assert_eq!(samples.len(), n as usize);
    assert_eq!(weights.len(), n as usize);
    for (i, (stack, leaf, weight)) in want.iter().enumerate() {
        let got: Vec<&str> = samples[i]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| names[f.as_u64().unwrap() as usize].as_str())
            .collect();
        let want: Vec<String> = stack
            .iter()
            .map(|f| format!("f{f}"))
            .chain(std::iter::once(format!("g{leaf}")))
            .collect();
        assert_eq!(got, want, "sample {i}");
        assert_eq!(weights[i], *weight, "weight {i}");
    }
}
