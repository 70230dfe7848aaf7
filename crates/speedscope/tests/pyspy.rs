//! py-spy's own speedscope output (testdata/pyspy/webapi.speedscope.json,
//! py-spy 0.4.3, 100 Hz, recorded by testdata/pyspy/record.sh). The
//! expected figures were counted from the file with Python's `json` module.

mod common;

use common::{by_thread_name, testdata, thread_sequence, to_json};
use stackconv_model::{FrameKind, ValueType};
use stackconv_speedscope::read;

fn profile() -> stackconv_model::Profile {
    let data = std::fs::read(testdata("pyspy/webapi.speedscope.json")).expect("py-spy recording");
    assert!(stackconv_speedscope::looks_like(
        &data[..data.len().min(4096)]
    ));
    read(&data).expect("py-spy output reads")
}

#[test]
fn threads_totals_and_units() {
    let p = profile();
    assert_eq!(p.meta().source_format, "speedscope");
    assert!(!p.meta().comm_root);
    // unit "seconds", weights 0.01 -> 10 ms in nanoseconds.
    assert_eq!(p.value_types(), vec![ValueType::new("cpu", "nanoseconds")]);
    assert_eq!(p.samples().len(), 441);
    assert_eq!(p.total(0), 441 * 10_000_000);
    let mut per_thread: Vec<(String, usize, i64)> = Vec::new();
    for (id, t) in p.threads().iter() {
        let n = p.samples().threads().iter().filter(|&&x| x == id).count();
        let w: i64 = p
            .iter_samples()
            .filter(|s| s.thread == id)
            .map(|s| s.values[0])
            .sum();
        per_thread.push((p.str(t.thread_name).to_string(), n, w));
    }
    assert_eq!(
        per_thread,
        vec![
            ("Thread 18513 \"\"".to_string(), 35, 350_000_000),
            (
                "Thread 18517 \"waitress-0\"".to_string(),
                105,
                1_050_000_000
            ),
            ("Thread 18518 \"waitress-1\"".to_string(), 96, 960_000_000),
            (
                "Thread 18519 \"waitress-2\"".to_string(),
                102,
                1_020_000_000
            ),
            (
                "Thread 18520 \"waitress-3\"".to_string(),
                103,
                1_030_000_000
            ),
        ]
    );
    // endValue - startValue of the longest profile (1.05 s).
    assert_eq!(p.meta().duration_ns, Some(1_050_000_000));
    assert!(p.has_times());
}

#[test]
fn known_stacks() {
    let p = profile();
    let s = p.samples().stacks()[35 + 1]; // waitress-0, second sample
    assert_eq!(
        p.stack_names(s),
        vec![
            "Thread._bootstrap",
            "Thread._bootstrap_inner",
            "Thread.run",
            "worker",
            "handle_request",
            "dispatch",
            "render_json",
            "dumps",
            "JSONEncoder.encode",
            "JSONEncoder.iterencode",
        ]
    );
    let worker = p.stack_frames(s)[3];
    let f = p.frame(worker);
    assert_eq!(p.str(f.file), "/tmp/stackconv-record/webapi.py");
    assert_eq!(f.line, 138);
    assert_eq!(f.kind, FrameKind::Python);
    let frozen = p.frame(p.stack_frames(p.samples().stacks()[0])[1]);
    assert_eq!(p.str(frozen.name), "_find_and_load");
    assert_eq!(p.str(frozen.file), "<frozen importlib._bootstrap>");
    // Frozen modules are Python code: the same rule as py-spy's raw
    // reader (`naming::is_python_source`).
    assert_eq!(frozen.kind, FrameKind::Python);

    // The most common stacks over all threads, in samples of 10 ms.
    let mut by_stack: std::collections::HashMap<String, i64> = Default::default();
    for ((_, stack), w) in by_thread_name(&p, 0) {
        *by_stack.entry(stack.join(";")).or_default() += w;
    }
    let get = |k: &str| by_stack.get(k).copied().unwrap_or(0) / 10_000_000;
    assert_eq!(
        get("Thread._bootstrap;Thread._bootstrap_inner;Thread.run;worker;Queue.get;Condition.wait"),
        164
    );
    assert_eq!(
        get("Thread._bootstrap;Thread._bootstrap_inner;Thread.run;worker;handle_request;dispatch;middleware_auth;view;order_service;Repository.slow_query"),
        137
    );
    assert_eq!(get("<module>;main;Queue.put;Condition.wait"), 30);
    // 81 distinct frames in the file, 81 model frames.
    assert_eq!(p.frames().len(), 81);
}

#[test]
fn rewritten_keeps_sample_order() {
    // py-spy writes samples in the order it took them; our output keeps
    // that order (the reader gives each sample its time).
    let data = std::fs::read(testdata("pyspy/webapi.speedscope.json")).unwrap();
    let original: serde_json::Value = serde_json::from_slice(&data).unwrap();
    let p = read(&data).unwrap();
    let ours: serde_json::Value = serde_json::from_slice(&to_json(&p)).unwrap();
    let names = |doc: &serde_json::Value, profile: usize| -> Vec<Vec<String>> {
        let frames = doc["shared"]["frames"].as_array().unwrap();
        doc["profiles"][profile]["samples"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| {
                s.as_array()
                    .unwrap()
                    .iter()
                    .map(|i| {
                        frames[i.as_u64().unwrap() as usize]["name"]
                            .as_str()
                            .unwrap()
                            .to_string()
                    })
                    .collect()
            })
            .collect()
    };
    assert_eq!(ours["profiles"].as_array().unwrap().len(), 5);
    for i in 0..5 {
        assert_eq!(ours["profiles"][i]["name"], original["profiles"][i]["name"]);
        assert_eq!(names(&ours, i), names(&original, i), "profile {i}");
        assert_eq!(ours["profiles"][i]["unit"], "nanoseconds");
    }
    let seq = thread_sequence(&p, "Thread 18517 \"waitress-0\"", 0);
    assert_eq!(seq.len(), 105);
    assert!(seq.iter().all(|(_, w)| *w == 10_000_000));
}
