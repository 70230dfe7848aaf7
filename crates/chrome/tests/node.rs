//! Node's own recordings (testdata/node, recorded by record.sh with
//! `node --cpu-prof`): the reader agrees with expected.folded, computed
//! from the JSON by testdata/node/expected.py, and write -> read is exact.

use std::collections::BTreeMap;
use std::path::PathBuf;

use stackconv_chrome::{read, write, WriteOptions};
use stackconv_model::Profile;

fn testdata(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../testdata/node")
        .join(name)
}

fn recording() -> Vec<u8> {
    std::fs::read(testdata("app.cpuprofile")).unwrap()
}

/// Per-stack totals of value column `column`, zero totals left out.
fn folded(p: &Profile, column: usize) -> BTreeMap<String, i64> {
    let mut out = BTreeMap::new();
    for s in p.iter_samples() {
        *out.entry(p.stack_names(s.stack).join(";")).or_insert(0) += s.values[column];
    }
    out.retain(|_, v| *v != 0);
    out
}

/// Every sample: (stack names, time, values), in order.
fn samples(p: &Profile) -> Vec<(String, Option<u64>, Vec<i64>)> {
    p.iter_samples()
        .map(|s| (p.stack_names(s.stack).join(";"), s.time, s.values))
        .collect()
}

#[test]
fn agrees_with_expected_folded() {
    let p = read(&recording()).unwrap();
    let expected: BTreeMap<String, i64> = std::fs::read_to_string(testdata("expected.folded"))
        .unwrap()
        .lines()
        .map(|l| {
            let (stack, n) = l.rsplit_once(' ').unwrap();
            (stack.to_string(), n.parse().unwrap())
        })
        .collect();
    assert!(expected.len() > 10);
    let got = folded(&p, 0);
    for (stack, n) in &expected {
        assert_eq!(got.get(stack), Some(n), "stack {stack}");
    }
    assert_eq!(got.len(), expected.len());
}

#[test]
fn reads_what_node_wrote() {
    let data = recording();
    let json: serde_json::Value = serde_json::from_slice(&data).unwrap();
    let p = read(&data).unwrap();
    let n = json["samples"].as_array().unwrap().len();
    assert_eq!(p.samples().len(), n);
    assert_eq!(p.total(1), n as i64);
    // The samples span startTime..endTime of the first sample on.
    let start = json["startTime"].as_i64().unwrap();
    let end = json["endTime"].as_i64().unwrap();
    let first = start + json["timeDeltas"][0].as_i64().unwrap();
    assert_eq!(p.total(0), (end - first) * 1000);
    let times = p.samples().times().unwrap();
    assert!(times.is_sorted());
    assert_eq!(times[0], first as u64 * 1000);
    // The workload's functions, with their file and 1-based line.
    let fib = p
        .frames()
        .iter()
        .find(|(id, _)| p.frame_name(*id) == "fib")
        .map(|(_, f)| *f)
        .unwrap();
    assert_eq!(p.str(fib.file), "file:///tmp/stackconv-record/workload.js");
    assert_eq!(fib.line, 15);
    assert_eq!(fib.kind, stackconv_model::FrameKind::Jit);
    // (root) is no frame.
    assert!(p
        .frames()
        .iter()
        .all(|(id, _)| p.frame_name(id) != "(root)"));
}

#[test]
fn write_read_round_trip_is_exact() {
    let p = read(&recording()).unwrap();
    let mut out = Vec::new();
    write(&p, &WriteOptions::default(), &mut out).unwrap();
    let back = read(&out).unwrap();
    assert_eq!(samples(&back), samples(&p));
    // And again: the written file is a fixed point.
    let mut again = Vec::new();
    write(&back, &WriteOptions::default(), &mut again).unwrap();
    assert_eq!(again, out);
}

/// The form inside Chrome trace `ProfileChunk` events: `parent` links
/// instead of `children`, no `hitCount`.
#[test]
fn parent_links_without_hit_count_read_the_same() {
    let data = recording();
    let mut json: serde_json::Value = serde_json::from_slice(&data).unwrap();
    let nodes = json["nodes"].as_array().unwrap().clone();
    let mut parent = BTreeMap::new();
    for n in &nodes {
        for c in n["children"].as_array().into_iter().flatten() {
            parent.insert(c.as_u64().unwrap(), n["id"].clone());
        }
    }
    let rewritten: Vec<serde_json::Value> = nodes
        .into_iter()
        .rev()
        .map(|mut n| {
            let o = n.as_object_mut().unwrap();
            o.remove("children");
            o.remove("hitCount");
            if let Some(p) = parent.get(&o["id"].as_u64().unwrap()) {
                o.insert("parent".to_string(), p.clone());
            }
            n
        })
        .collect();
    json["nodes"] = serde_json::Value::Array(rewritten);
    let p = read(&serde_json::to_vec(&json).unwrap()).unwrap();
    let orig = read(&data).unwrap();
    assert_eq!(samples(&p), samples(&orig));
}

#[test]
fn untimed_profile_writes_one_sample_per_stack() {
    let orig = read(&recording()).unwrap();
    let folded_in = orig.fold();
    assert!(!folded_in.has_times());
    let mut out = Vec::new();
    write(&folded_in, &WriteOptions::default(), &mut out).unwrap();
    let back = read(&out).unwrap();
    let distinct = folded(&orig, 1).len();
    assert!(back.samples().len() <= distinct + 1);
    assert_eq!(folded(&back, 0), folded(&orig, 0));
}
