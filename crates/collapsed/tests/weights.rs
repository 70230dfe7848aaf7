//! Weights at the edges of 64 bits, and periods that are not periods:
//! errors naming the line, never a silent wrap, saturation, new event
//! column or change of unit.

use stackconv_collapsed::{folded, perf_script, prune, pyspy, Error};
use stackconv_model::{FrameKind, Profile, ValueType};

#[test]
fn folded_total_overflow_names_the_line() {
    let e = folded::read(b"a;b 9223372036854775807\na;c 5\n").unwrap_err();
    assert!(matches!(e, Error::WeightOverflow { line: 2, .. }), "{e:?}");
    assert_eq!(
        e.to_string(),
        "folded: line 2: total weight overflows 64 bits (the weights up to this line add up to more than 2^63-1)"
    );
    // Exactly 2^63-1 in all is fine.
    let p = folded::read(b"a;b 9223372036854775806\na;c 1\n").unwrap();
    assert_eq!(p.total(0), i64::MAX);
    let e = folded::read_diff(b"a 9223372036854775807 1\nb 1 1\n").unwrap_err();
    assert!(matches!(e, Error::WeightOverflow { line: 2, .. }), "{e:?}");
    let e = pyspy::read(b"f (a.py:1) 9223372036854775807\ng (a.py:2) 1\n").unwrap_err();
    assert!(matches!(e, Error::WeightOverflow { line: 2, .. }), "{e:?}");
}

/// A profile made in code (or merged) past 64 bits: the folded writer and
/// the pruner refuse it instead of writing saturated or wrapped sums.
#[test]
fn writers_refuse_a_total_past_64_bits() {
    let mut p = Profile::new(vec![ValueType::new("samples", "count")]);
    let a = p.intern_frame_named("a", FrameKind::Native);
    let b = p.intern_frame_named("b", FrameKind::Native);
    let c = p.intern_frame_named("c", FrameKind::Native);
    let ab = p.intern_stack_frames([a, b]);
    let ac = p.intern_stack_frames([a, c]);
    let t = p.intern_thread(Default::default());
    p.push_sample(ab, t, None, &[i64::MAX]);
    p.push_sample(ac, t, None, &[5]);
    let opts = folded::WriteOptions::default();
    let e = folded::write(&p, &opts, Vec::new()).unwrap_err();
    assert_eq!(e.kind(), std::io::ErrorKind::InvalidData);
    assert!(e.to_string().contains("overflows 64 bits"), "{e}");
    let e = prune::write_pruned(&p, &opts, 1.0, Vec::new()).unwrap_err();
    assert!(e.to_string().contains("overflows 64 bits"), "{e}");
    // Merged inputs that overflow together.
    let mut q = Profile::new(vec![ValueType::new("samples", "count")]);
    let t = q.intern_thread(Default::default());
    q.push_sample(None, t, None, &[i64::MAX]);
    let e = stackconv_model::merge(&[q.clone(), q]).unwrap_err();
    assert!(e.to_string().contains("overflows 64 bits"), "{e}");
}

fn script(period: &str) -> String {
    format!(
        "app 123 [000] 1.000000: 1000 cpu-clock:\n\t4005d6 main+0x6 (/usr/bin/app)\n\n\
         app 123 [000] 1.001000: {period} cpu-clock:\n\t4005d6 main+0x6 (/usr/bin/app)\n\n"
    )
}

#[test]
fn perf_script_bad_periods_are_errors_with_the_line() {
    for bad in [
        "-5",
        "1e30",
        "1.5",
        "18446744073709551616",
        "9223372036854775808",
    ] {
        let e = perf_script::read(script(bad).as_bytes()).unwrap_err();
        match &e {
            Error::BadPeriod { line: 4, found } => assert_eq!(found, bad),
            other => panic!("{bad}: {other:?}"),
        }
        assert!(e
            .to_string()
            .starts_with("perf script: line 4: expected a period"));
    }
    // The largest period is fine; with another sample it overflows.
    let p = perf_script::read(script("9223372036854774807").as_bytes()).unwrap();
    assert_eq!(p.total(0), i64::MAX);
    assert_eq!(p.value_types()[0].unit, "nanoseconds");
    assert_eq!(p.value_types().len(), 2, "no new event column");
    let e = perf_script::read(script("9223372036854774808").as_bytes()).unwrap_err();
    assert!(matches!(e, Error::WeightOverflow { line: 4, .. }), "{e:?}");
}

/// Frame names with the folded separators are written so that the text
/// reads back as the frames written: `;` as `:`, line breaks as spaces.
#[test]
fn folded_output_replaces_separators_in_names() {
    let mut p = Profile::new(vec![ValueType::new("samples", "count")]);
    let a = p.intern_frame_named("main", FrameKind::Native);
    let b = p.intern_frame_named("f<a;b>", FrameKind::Native);
    let c = p.intern_frame_named("line\none\r\n", FrameKind::Native);
    let s = p.intern_stack_frames([a, b, c]);
    let t = p.intern_thread(Default::default());
    p.push_sample(s, t, None, &[3]);
    assert_eq!(folded::replaced_names(&p), 2);
    let mut out = Vec::new();
    folded::write(&p, &folded::WriteOptions::default(), &mut out).unwrap();
    let text = String::from_utf8(out).unwrap();
    assert_eq!(text, "main;f<a:b>;line one   3\n");
    let back = folded::read(text.as_bytes()).unwrap();
    assert_eq!(back.stack_names(back.samples().stacks()[0]).len(), 3);
    assert_eq!(back.total(0), 3);
    let mut pruned = Vec::new();
    prune::write_pruned(&p, &folded::WriteOptions::default(), 1.0, &mut pruned).unwrap();
    assert_eq!(String::from_utf8(pruned).unwrap(), text);
}
