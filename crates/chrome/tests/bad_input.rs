//! Inputs that must give a clear error naming where the problem is,
//! never a panic, a hang or a huge allocation.

use stackconv_chrome::{read, Error};

const ROOT: &str =
    r#"{"id":1,"callFrame":{"functionName":"(root)","url":"","lineNumber":-1},"children":[2]}"#;
const MAIN: &str = r#"{"id":2,"callFrame":{"functionName":"main","url":"a.js","lineNumber":3}}"#;

fn profile(nodes: &str, samples: &str, deltas: &str) -> Vec<u8> {
    format!(r#"{{"nodes":[{nodes}],"startTime":0,"endTime":100,"samples":{samples},"timeDeltas":{deltas}}}"#)
        .into_bytes()
}

fn err(data: &[u8]) -> (Error, String) {
    let e = read(data).expect_err("must fail");
    let msg = e.to_string();
    (e, msg)
}

#[test]
fn good_baseline_reads() {
    let p = read(&profile(&format!("{ROOT},{MAIN}"), "[2,2,1]", "[0,10,10]")).unwrap();
    assert_eq!(p.samples().values()[0], vec![10_000, 10_000, 80_000]);
    // A sample on (root) has an empty stack.
    assert_eq!(p.samples().stacks()[2], None);
}

#[test]
fn truncated_json_names_line_and_column() {
    let data = profile(&format!("{ROOT},{MAIN}"), "[2]", "[0]");
    for cut in [1, 10, 50, data.len() - 1] {
        let (e, msg) = err(&data[..cut]);
        assert!(matches!(e, Error::Json { .. }), "{msg}");
        assert!(msg.contains("line 1 column"), "{msg}");
    }
}

#[test]
fn duplicate_ids() {
    let (e, msg) = err(&profile(&format!("{ROOT},{MAIN},{MAIN}"), "[2]", "[0]"));
    assert!(
        matches!(
            e,
            Error::DuplicateNodeId {
                node: 2,
                id: 2,
                first: 1
            }
        ),
        "{msg}"
    );
    assert!(msg.contains("nodes[2].id"), "{msg}");
}

#[test]
fn unknown_child_parent_and_sample() {
    let root = ROOT.replace("[2]", "[2,9]");
    let (e, msg) = err(&profile(&format!("{root},{MAIN}"), "[2]", "[0]"));
    assert!(
        matches!(e, Error::UnknownNode { node: 0, id: 9, .. }),
        "{msg}"
    );
    assert!(
        msg.contains("nodes[0].children[1]: no node has id 9"),
        "{msg}"
    );

    let main = MAIN.replace(r#""lineNumber":3}"#, r#""lineNumber":3},"parent":7"#);
    let (_, msg) = err(&profile(&format!("{ROOT},{main}"), "[2]", "[0]"));
    assert!(msg.contains("nodes[1].parent: no node has id 7"), "{msg}");

    let (e, msg) = err(&profile(&format!("{ROOT},{MAIN}"), "[2,5]", "[0,1]"));
    assert!(
        matches!(e, Error::UnknownSampleNode { sample: 1, id: 5 }),
        "{msg}"
    );
}

#[test]
fn negative_ids_and_float_deltas_are_type_errors() {
    let (e, _) = err(&profile(&format!("{ROOT},{MAIN}"), "[-2]", "[0]"));
    assert!(matches!(e, Error::Json { .. }));
    let (e, _) = err(&profile(&format!("{ROOT},{MAIN}"), "[2]", "[0.5]"));
    assert!(matches!(e, Error::Json { .. }));
}

#[test]
fn cycles_are_found_without_recursion() {
    // 1 -> 2 -> 3 -> 2 through children: 2 gets two parents.
    let nodes = r#"{"id":1,"callFrame":{"functionName":"(root)"},"children":[2]},
                   {"id":2,"callFrame":{"functionName":"a"},"children":[3]},
                   {"id":3,"callFrame":{"functionName":"b"},"children":[2]}"#;
    let (e, msg) = err(&profile(nodes, "[3]", "[0]"));
    assert!(matches!(e, Error::TwoParents { .. }), "{msg}");
    // A pure cycle through parent links: 2 -> 3 -> 2, no root.
    let nodes = r#"{"id":2,"callFrame":{"functionName":"a"},"parent":3},
                   {"id":3,"callFrame":{"functionName":"b"},"parent":2}"#;
    let (e, msg) = err(&profile(nodes, "[3]", "[0]"));
    assert!(matches!(e, Error::Cycle { .. }), "{msg}");
    // A node that is its own child.
    let nodes = r#"{"id":5,"callFrame":{"functionName":"a"},"children":[5]}"#;
    let (e, _) = err(&profile(nodes, "[5]", "[0]"));
    assert!(matches!(e, Error::Cycle { node: 0, id: 5 }));
}

#[test]
fn long_chains_do_not_recurse() {
    // 200 000 nodes in one chain, each the parent of the next.
    let n = 200_000;
    let mut nodes = String::new();
    for i in 1..=n {
        if i > 1 {
            nodes.push(',');
        }
        let parent = if i > 1 {
            format!(r#","parent":{}"#, i - 1)
        } else {
            String::new()
        };
        nodes.push_str(&format!(
            r#"{{"id":{i},"callFrame":{{"functionName":"f"}}{parent}}}"#
        ));
    }
    let p = read(&profile(&nodes, &format!("[{n}]"), "[0]")).unwrap();
    assert_eq!(p.stack_frames(p.samples().stacks()[0]).len(), n);
}

#[test]
fn bad_time_deltas() {
    let nodes = format!("{ROOT},{MAIN}");
    let (e, msg) = err(&profile(&nodes, "[2,2]", "[0,-5]"));
    assert!(
        matches!(
            e,
            Error::BadTimeDelta {
                index: 1,
                delta: -5
            }
        ),
        "{msg}"
    );
    assert!(msg.contains("timeDeltas[1]"), "{msg}");
    let (e, _) = err(&profile(&nodes, "[2,2]", "[0,100000000000000]"));
    assert!(matches!(e, Error::BadTimeDelta { index: 1, .. }));
    let (e, msg) = err(&profile(&nodes, "[2,2]", "[0]"));
    // Found by the cpuprofile fuzz target: the error said where only by
    // its field names (testdata/regress/cpuprofile-f1d70574.bin).
    assert_eq!(e.json_path().as_deref(), Some("timeDeltas"), "{msg}");
    assert!(msg.contains("timeDeltas: 1 entries for 2 samples"), "{msg}");
    assert!(matches!(
        e,
        Error::LengthMismatch {
            samples: 2,
            time_deltas: 1
        }
    ));
    // startTime near i64::MAX: times overflow nanoseconds.
    let data = format!(
        r#"{{"nodes":[{nodes}],"startTime":9223372036854775000,"samples":[2],"timeDeltas":[0]}}"#
    );
    let (e, _) = err(data.as_bytes());
    assert!(matches!(e, Error::BadTime { sample: 0, .. }));
    let data = format!(r#"{{"nodes":[{nodes}],"startTime":-10,"samples":[2],"timeDeltas":[0]}}"#);
    let (e, _) = err(data.as_bytes());
    assert!(matches!(e, Error::BadTime { .. }));
}

#[test]
fn nesting_bombs_are_errors_not_stack_overflows() {
    let bomb = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    for at in ["nodes", "samples", "startTime"] {
        let data = format!(r#"{{"{at}":{bomb},"nodes":[],"samples":[],"timeDeltas":[]}}"#);
        let (e, msg) = err(data.as_bytes());
        assert!(matches!(e, Error::Json { .. }), "{msg}");
    }
    // In a field the reader does not read, serde_json skips the value
    // iteratively: no recursion, and the profile reads.
    let data = format!(r#"{{"other":{bomb},"nodes":[],"samples":[],"timeDeltas":[]}}"#);
    assert_eq!(read(data.as_bytes()).unwrap().samples().len(), 0);
}

#[test]
fn huge_claims_allocate_nothing() {
    // JSON has no length prefixes: an array's memory grows with its text.
    // A giant id or delta is just a value.
    let nodes = r#"{"id":18446744073709551615,"callFrame":{"functionName":"a"}}"#;
    let p = read(&profile(nodes, "[18446744073709551615]", "[0]")).unwrap();
    assert_eq!(p.samples().len(), 1);
    let (e, _) = err(&profile(nodes, "[18446744073709551616]", "[0]"));
    assert!(matches!(e, Error::Json { .. }));
}

#[test]
fn not_json_at_all() {
    for data in [
        &b""[..],
        b"\x00\x01",
        b"[]",
        b"{}",
        b"null",
        b"main;work 3\n",
    ] {
        let (e, _) = err(data);
        assert!(matches!(e, Error::Json { .. }));
    }
}

#[test]
fn time_spans_adding_up_past_64_bits_are_an_error_naming_the_sample() {
    let nodes = format!("{ROOT},{MAIN}");
    // The last sample lasts until endTime: 10^16 µs = 10^19 ns, past
    // 2^63-1 ns, though it fits a u64 timestamp.
    let data = format!(
        r#"{{"nodes":[{nodes}],"startTime":0,"endTime":10000000000000000,"samples":[2,2],"timeDeltas":[0,10]}}"#
    );
    let (e, msg) = err(data.as_bytes());
    assert!(matches!(e, Error::WeightOverflow { sample: 1 }), "{msg}");
    assert!(
        msg.contains("samples[1]") && msg.contains("2^63-1"),
        "{msg}"
    );
    // Two spans that fit alone but not together: a day (the longest
    // delta, 8.64 * 10^13 ns), then 9.2233 * 10^18 ns to endTime.
    let data = format!(
        r#"{{"nodes":[{nodes}],"startTime":0,"endTime":9223386400000000,"samples":[2,2],"timeDeltas":[0,86400000000]}}"#
    );
    let (e, msg) = err(data.as_bytes());
    assert!(matches!(e, Error::WeightOverflow { sample: 1 }), "{msg}");
    // Up to the limit reads.
    let data = format!(
        r#"{{"nodes":[{nodes}],"startTime":0,"endTime":9000000000000000,"samples":[2,2],"timeDeltas":[0,10]}}"#
    );
    let p = read(data.as_bytes()).expect("fits");
    assert_eq!(p.total(0), 9_000_000_000_000_000_000);
}
