//! Our output validates against speedscope's own JSON schema, as shipped in
//! the `speedscope` npm package (testdata/speedscope/record.sh).

mod common;

use common::{arb, testdata, to_json, to_json_with};
use proptest::prelude::*;
use serde_json::Value;
use stackconv_model::{Frame, FrameKind, Profile, ValueType};
use stackconv_speedscope::WriteOptions;

fn validator() -> jsonschema::Validator {
    let text = std::fs::read(testdata("speedscope/file-format-schema.json")).expect("schema");
    let schema: Value = serde_json::from_slice(&text).expect("schema JSON");
    jsonschema::validator_for(&schema).expect("schema compiles")
}

fn errors(v: &jsonschema::Validator, json: &[u8]) -> Vec<String> {
    let doc: Value = serde_json::from_slice(json).expect("our output is JSON");
    v.iter_errors(&doc)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect()
}

fn sample_profile(unit: &str, timed: bool) -> Profile {
    let mut p = Profile::new(vec![
        ValueType::new("cpu-clock", unit),
        ValueType::new("samples", "count"),
    ]);
    let main = p.intern_str("main");
    let file = p.intern_str("/src/app.c");
    let main = p.intern_frame(Frame {
        name: main,
        file,
        line: 12,
        kind: FrameKind::Native,
        ..Frame::default()
    });
    let work = p.intern_frame_named("work", FrameKind::Native);
    let futex = p.intern_frame_named("futex_wait", FrameKind::Kernel);
    let s1 = p.intern_stack_frames([main, work]);
    let s2 = p.intern_stack_frames([main, work, futex]);
    let t1 = p.intern_thread_named(Some(10), Some(10), "app", "app");
    let t2 = p.intern_thread_named(Some(10), Some(11), "app", "worker");
    p.push_sample(s1, t1, timed.then_some(100), &[250, 1]);
    p.push_sample(s2, t2, timed.then_some(90), &[250, 1]);
    p.push_sample(s1, t1, timed.then_some(300), &[500, 1]);
    p.push_sample(None, t2, timed.then_some(400), &[0, 1]);
    p
}

#[test]
fn schema_rejects_what_it_should() {
    // The validator works: a file with a unit speedscope does not know, or
    // without shared frames, is refused.
    let v = validator();
    let bad_unit = br#"{"$schema":"https://www.speedscope.app/file-format-schema.json","shared":{"frames":[]},
        "profiles":[{"type":"sampled","name":"x","unit":"furlongs","startValue":0,"endValue":0,"samples":[],"weights":[]}]}"#;
    assert!(!errors(&v, bad_unit).is_empty());
    let no_shared =
        br#"{"$schema":"https://www.speedscope.app/file-format-schema.json","profiles":[]}"#;
    assert!(!errors(&v, no_shared).is_empty());
}

#[test]
fn timed_and_folded_outputs_validate() {
    let v = validator();
    for unit in ["nanoseconds", "bytes", "count", "microseconds"] {
        for timed in [false, true] {
            let p = sample_profile(unit, timed);
            for value in [None, Some(1)] {
                let mut opts = WriteOptions::default();
                opts.value = value;
                opts.name = Some("test profile".into());
                let json = to_json_with(&p, &opts);
                assert_eq!(
                    errors(&v, &json),
                    Vec::<String>::new(),
                    "{unit} {timed} {value:?}"
                );
            }
        }
    }
}

#[test]
fn empty_profile_validates_with_one_profile() {
    let v = validator();
    let p = Profile::new(vec![ValueType::new("samples", "count")]);
    let json = to_json(&p);
    assert_eq!(errors(&v, &json), Vec::<String>::new());
    let doc: Value = serde_json::from_slice(&json).unwrap();
    assert_eq!(doc["profiles"].as_array().unwrap().len(), 1);
    assert_eq!(doc["profiles"][0]["name"], "all");
}

#[test]
fn pyspy_rewritten_validates() {
    let v = validator();
    let data = std::fs::read(testdata("pyspy/webapi.speedscope.json")).expect("py-spy recording");
    // py-spy 0.4.3 writes `null` for a frame's `col` and for
    // `activeProfileIndex`, which the schema does not allow (speedscope
    // opens it all the same); those are its only departures...
    let pyspy_errors = errors(&v, &data);
    assert!(!pyspy_errors.is_empty());
    assert!(
        pyspy_errors
            .iter()
            .all(|e| e.starts_with("null is not of type \"number\"")),
        "{pyspy_errors:?}"
    );
    // ...and our output made from it validates.
    let p = stackconv_speedscope::read(&data).unwrap();
    assert_eq!(errors(&v, &to_json(&p)), Vec::<String>::new());
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]
    #[test]
    fn random_profiles_validate(spec in arb::spec()) {
        let v = validator();
        let p = arb::build(&spec);
        for c in 0..p.value_types().len() {
            let mut opts = WriteOptions::default();
            opts.value = Some(c);
            let json = to_json_with(&p, &opts);
            prop_assert_eq!(errors(&v, &json), Vec::<String>::new());
        }
    }
}
