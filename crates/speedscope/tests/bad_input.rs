//! Evented profiles, and inputs that must give a clear error (never a
//! panic).

use stackconv_model::ValueType;
use stackconv_speedscope::{read, Error};

/// A file with frames `a`, `b`, `c` and the given profiles JSON.
fn file(profiles: &str) -> Vec<u8> {
    format!(
        r#"{{"$schema":"https://www.speedscope.app/file-format-schema.json",
            "shared":{{"frames":[{{"name":"a"}},{{"name":"b","file":"m.py","line":4}},{{"name":"c"}}]}},
            "profiles":[{profiles}]}}"#
    )
    .into_bytes()
}

fn evented(events: &str) -> Vec<u8> {
    file(&format!(
        r#"{{"type":"evented","name":"ev","unit":"milliseconds","startValue":0,"endValue":10,"events":[{events}]}}"#
    ))
}

fn sampled(samples: &str, weights: &str) -> Vec<u8> {
    file(&format!(
        r#"{{"type":"sampled","name":"sp","unit":"none","startValue":0,"endValue":3,"samples":{samples},"weights":{weights}}}"#
    ))
}

fn folded(p: &stackconv_model::Profile) -> Vec<(String, i64)> {
    let f = p.fold();
    f.iter_samples()
        .map(|s| (f.stack_names(s.stack).join(";"), s.values[0]))
        .collect()
}

#[test]
fn evented_becomes_time_with_each_exact_stack() {
    // a open 0..10, b open 2..5 and 6..7 inside it, c at 3..4 inside b.
    // a;b: 2..3, 4..5, 6..7 = 3 ms.
    let p = read(&evented(
        r#"{"type":"O","frame":0,"at":0},{"type":"O","frame":1,"at":2},{"type":"O","frame":2,"at":3},
           {"type":"C","frame":2,"at":4},{"type":"C","frame":1,"at":5},{"type":"O","frame":1,"at":6},
           {"type":"C","frame":1,"at":7},{"type":"C","frame":0,"at":10}"#,
    ))
    .unwrap();
    assert_eq!(p.value_types(), vec![ValueType::new("cpu", "nanoseconds")]);
    // milliseconds -> nanoseconds; a alone: 0..2, 5..6, 7..10 = 6 ms.
    assert_eq!(
        folded(&p),
        vec![
            ("a".to_string(), 6_000_000),
            ("a;b".to_string(), 3_000_000),
            ("a;b;c".to_string(), 1_000_000),
        ]
    );
    // One sample per interval, in time order, with its start time.
    assert_eq!(
        p.samples().times(),
        Some(&[0, 2_000_000, 3_000_000, 4_000_000, 5_000_000, 6_000_000, 7_000_000][..])
    );
    assert_eq!(p.total(0), 10_000_000);
    assert_eq!(
        p.str(p.threads().get(p.samples().threads()[0]).thread_name),
        "ev"
    );
}

#[test]
fn evented_events_may_start_before_start_value() {
    let data = file(
        r#"{"type":"evented","name":"ev","unit":"nanoseconds","startValue":5,"endValue":9,
            "events":[{"type":"O","frame":0,"at":1},{"type":"C","frame":0,"at":9}]}"#,
    );
    let p = read(&data).unwrap();
    assert_eq!(folded(&p), vec![("a".to_string(), 8)]);
}

#[test]
fn several_profiles_and_units_get_columns() {
    let data = file(
        r#"{"type":"sampled","name":"t1","unit":"none","startValue":0,"endValue":3,"samples":[[0,1],[0]],"weights":[2,1]},
           {"type":"sampled","name":"heap","unit":"bytes","startValue":0,"endValue":64,"samples":[[0,2]],"weights":[64]},
           {"type":"sampled","name":"t2","unit":"none","startValue":0,"endValue":5,"samples":[[2]],"weights":[5]}"#,
    );
    let mut data = String::from_utf8(data).unwrap();
    data = data.replacen("\"profiles\"", "\"activeProfileIndex\":1,\"profiles\"", 1);
    let p = read(data.as_bytes()).unwrap();
    assert_eq!(
        p.value_types(),
        vec![
            ValueType::new("samples", "count"),
            ValueType::new("space", "bytes")
        ]
    );
    assert_eq!(p.totals(), vec![8, 64]);
    assert_eq!(p.meta().default_value, 1);
    assert_eq!(p.threads().len(), 3);
    assert!(!p.has_times());
}

fn err(data: &[u8]) -> Error {
    match read(data) {
        Ok(_) => panic!("read accepted bad input"),
        Err(e) => e,
    }
}

#[test]
fn nesting_bombs_are_refused_or_skipped_without_recursion() {
    // serde_json keeps its recursion limit (128) on; our structures are a
    // few levels deep, so a deep value where we read one is a type error at
    // its third or fourth level, and a deep value in a field we do not read
    // is skipped by serde_json's iterative skipper: no stack overflow at a
    // million levels either way.
    for depth in [129, 10_000, 1_000_000] {
        let arrays = format!("{}{}", "[".repeat(depth), "]".repeat(depth));
        let objects = format!("{}1{}", r#"{"a":"#.repeat(depth), "}".repeat(depth));
        for bomb in [&arrays, &objects] {
            let e = err(&sampled(&format!("[{bomb}]"), "[1]"));
            assert!(matches!(e, Error::Json { line: 3, .. }), "{e}");
            assert!(e.to_string().contains("invalid type"), "{e}");
            let e = err(&file(bomb));
            assert!(matches!(e, Error::Json { .. }), "{e}");
            let in_frames = format!(r#"{{"shared":{{"frames":{bomb}}},"profiles":[]}}"#);
            assert!(matches!(err(in_frames.as_bytes()), Error::Json { .. }));
            let unknown = format!(r#"{{"shared":{{"frames":[]}},"profiles":[],"x":{bomb}}}"#);
            assert_eq!(read(unknown.as_bytes()).unwrap().samples().len(), 0);
        }
    }
}

#[test]
fn frame_index_out_of_range_names_profile_and_sample() {
    let e = err(&sampled("[[0,1],[0,3]]", "[1,1]"));
    assert!(
        matches!(
            e,
            Error::SampleFrameIndex {
                profile: 0,
                sample: 1,
                frames: 3,
                ..
            }
        ),
        "{e}"
    );
    assert_eq!(
        e.to_string(),
        "speedscope: profile 0 (\"sp\"): sample 1: frame index 3 is not in shared.frames (3 frames)"
    );
    for (bad, shown) in [
        ("-1", -1.0),
        ("1.5", 1.5),
        ("1e300", 1e300),
        ("4294967295", 4294967295.0),
        ("4294967296", 4294967296.0),
    ] {
        let e = err(&sampled(&format!("[[0],[1,{bad}]]"), "[1,1]"));
        assert!(
            matches!(e, Error::SampleFrameIndex { sample: 1, index, .. } if index == shown),
            "{bad}: {e}"
        );
    }
    let e = err(&evented(
        r#"{"type":"O","frame":0,"at":0},{"type":"O","frame":7,"at":1}"#,
    ));
    assert!(matches!(e, Error::EventFrameIndex { event: 1, .. }), "{e}");
}

#[test]
fn bad_weights() {
    let e = err(&sampled("[[0],[1]]", "[1,-2]"));
    assert!(matches!(e, Error::BadWeight { sample: 1, .. }), "{e}");
    // JSON has no NaN; the literal is a syntax error, and 1e400 is out of
    // range for serde_json.
    for w in ["NaN", "1e400"] {
        let e = err(&sampled("[[0]]", &format!("[{w}]")));
        assert!(matches!(e, Error::Json { .. }), "{w}: {e}");
    }
    // Too large for a 64-bit value.
    let e = err(&sampled("[[0]]", "[1e30]"));
    assert!(matches!(e, Error::BadWeight { sample: 0, .. }), "{e}");
    let e = err(&sampled("[[0],[1]]", "[1]"));
    assert!(
        matches!(
            e,
            Error::LengthMismatch {
                samples: 2,
                weights: 1,
                ..
            }
        ),
        "{e}"
    );
}

#[test]
fn bad_events() {
    // Close of a frame that is not the innermost open one.
    let e = err(&evented(
        r#"{"type":"O","frame":0,"at":0},{"type":"O","frame":1,"at":1},{"type":"C","frame":0,"at":2}"#,
    ));
    assert!(
        matches!(
            e,
            Error::UnmatchedClose {
                event: 2,
                frame: 0,
                open: Some(1),
                ..
            }
        ),
        "{e}"
    );
    // Close with nothing open.
    let e = err(&evented(r#"{"type":"C","frame":2,"at":0}"#));
    assert!(
        matches!(
            e,
            Error::UnmatchedClose {
                event: 0,
                open: None,
                ..
            }
        ),
        "{e}"
    );
    // Frames left open.
    let e = err(&evented(r#"{"type":"O","frame":0,"at":0}"#));
    assert!(matches!(e, Error::UnclosedFrames { open: 1, .. }), "{e}");
    // Time going backwards.
    let e = err(&evented(
        r#"{"type":"O","frame":0,"at":5},{"type":"C","frame":0,"at":4}"#,
    ));
    assert!(matches!(e, Error::BadEventTime { event: 1, .. }), "{e}");
    let e = err(&evented(r#"{"type":"X","frame":0,"at":0}"#));
    assert!(matches!(e, Error::UnknownEventType { event: 0, .. }), "{e}");
}

#[test]
fn bad_shapes() {
    let e = err(&file(r#"{"type":"flame","name":"x","unit":"none"}"#));
    assert!(
        matches!(e, Error::UnknownProfileType { profile: 0, .. }),
        "{e}"
    );
    let e = err(&file(
        r#"{"type":"sampled","name":"x","unit":"parsecs","samples":[],"weights":[]}"#,
    ));
    assert!(matches!(e, Error::UnknownUnit { profile: 0, .. }), "{e}");
    // Truncated file: the error says where.
    let full = sampled("[[0,1]]", "[1]");
    let e = err(&full[..full.len() / 2]);
    assert!(matches!(e, Error::Json { line: 2, .. }), "{e}");
    assert!(e.to_string().contains("EOF while parsing"), "{e}");
    // Not an object at all, or no profiles.
    assert!(matches!(err(b"[]"), Error::Json { .. }));
    assert!(matches!(
        err(br#"{"shared":{"frames":[]}}"#),
        Error::Json { .. }
    ));
    assert!(matches!(err(b""), Error::Json { .. }));
}

#[test]
fn looks_like_detects_only_speedscope() {
    use stackconv_speedscope::looks_like;
    assert!(looks_like(&sampled("[[0]]", "[1]")));
    assert!(looks_like(
        b"\xEF\xBB\xBF{\"$schema\":\"https://www.speedscope.app/file-format-schema.json\""
    ));
    assert!(!looks_like(b""));
    assert!(!looks_like(b"   "));
    assert!(!looks_like(b"{\"nodes\":[],\"samples\":[]}"));
    assert!(!looks_like(b"a;b;c 1\n"));
    assert!(!looks_like(b"\x1f\x8b\x08\x00"));
    // Only the first MiB is searched.
    let mut late = b"{\"pad\":\"".to_vec();
    late.resize(2 << 20, b'x');
    late.extend_from_slice(b"\",\"shared\":{},\"profiles\":[]}");
    assert!(!looks_like(&late));
    late.drain(10..(3 << 19));
    assert!(looks_like(&late));
}

#[test]
fn every_truncation_is_a_json_error() {
    // Every proper prefix of a file is an unfinished JSON object.
    let full = std::fs::read(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../testdata/pyspy/webapi.speedscope.json"),
    )
    .unwrap();
    let full = &full[..full.iter().rposition(|&b| b == b'}').unwrap() + 1];
    assert!(read(full).is_ok());
    for cut in (0..full.len())
        .step_by(97)
        .chain(full.len() - 20..full.len())
    {
        match read(&full[..cut]) {
            Err(Error::Json { source, .. }) => {
                let json = source.downcast_ref::<serde_json::Error>();
                assert!(json.is_some_and(|e| e.is_eof()), "cut {cut}: {source}")
            }
            other => panic!("cut {cut}: {:?}", other.map(|p| p.samples().len())),
        }
    }
}

/// A UTF-8 byte order mark before the JSON is skipped; an error on the
/// first line still counts columns from the start of the file.
#[test]
fn byte_order_mark_is_skipped() {
    let plain = sampled("[[0,1],[2]]", "[3,4]");
    let mut bom = b"\xEF\xBB\xBF".to_vec();
    bom.extend_from_slice(&plain);
    assert!(stackconv_speedscope::looks_like(&bom));
    let (a, b) = (read(&plain).unwrap(), read(&bom).unwrap());
    assert_eq!(folded(&a), folded(&b));
    assert_eq!(b.total(0), 7);
    match read(b"\xEF\xBB\xBF{\"profiles\": x}") {
        Err(Error::Json {
            line: 1, column, ..
        }) => assert_eq!(column, 17),
        other => panic!("{other:?}"),
    }
}

#[test]
fn weights_adding_up_past_64_bits_are_an_error_naming_the_weight() {
    // Each weight fits; the third takes the column's total past 2^63-1
    // (9223372036854774784 is the largest f64 below 2^63).
    let e = err(&sampled(
        "[[0],[1],[2]]",
        "[9223372036854774784, 1000, 1000]",
    ));
    assert!(
        matches!(
            e,
            Error::WeightOverflow {
                profile: 0,
                field: "weights",
                index: 2,
                ..
            }
        ),
        "{e}"
    );
    assert_eq!(e.json_path().as_deref(), Some("profiles[0].weights[2]"));
    assert!(e.to_string().contains("2^63-1"), "{e}");
    // Across profiles of one unit too (evented, nanoseconds).
    let big = r#"{"type":"evented","name":"ev","unit":"nanoseconds","startValue":0,"endValue":9e18,"events":[{"type":"O","frame":0,"at":0},{"type":"C","frame":0,"at":9e18}]}"#;
    let e = err(&file(&format!("{big},{big}")));
    assert!(
        matches!(
            e,
            Error::WeightOverflow {
                profile: 1,
                field: "events",
                index: 1,
                ..
            }
        ),
        "{e}"
    );
    // Just under the limit reads.
    let ok = read(&sampled("[[0],[1]]", "[9223372036854774784, 1000]")).expect("fits");
    assert_eq!(ok.total(0), 9_223_372_036_854_775_784);
}
