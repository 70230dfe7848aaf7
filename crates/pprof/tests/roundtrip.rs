//! write -> read keeps every sample type, label, mapping and inline line.

mod common;

use common::*;
use proptest::prelude::*;
use stackconv_model::{FrameKind, Profile, ValueType};
use stackconv_pprof::{read, write, ReadOptions};

fn roundtrip(p: &Profile) -> Profile {
    let mut bytes = Vec::new();
    write(p, &mut bytes).expect("write");
    assert!(stackconv_pprof::looks_like(&bytes));
    read(&bytes, &ReadOptions::default()).expect("read back")
}

#[test]
fn go_profiles_roundtrip() {
    for name in ["cpu.pb.gz", "heap.pb.gz", "dropframes.pb.gz"] {
        let a = read(&read_testdata(name), &ReadOptions::default()).expect(name);
        let b = roundtrip(&a);
        assert_eq!(a.value_types(), b.value_types(), "{name}");
        assert_eq!(a.meta().default_value, b.meta().default_value, "{name}");
        assert_eq!(a.meta().period, b.meta().period, "{name}");
        assert_eq!(a.meta().start_time_ns, b.meta().start_time_ns, "{name}");
        assert_eq!(a.meta().duration_ns, b.meta().duration_ns, "{name}");
        assert_eq!(a.meta().modules, b.meta().modules, "{name}");
        assert_eq!(a.meta().events, b.meta().events, "{name}");
        assert_eq!(snapshot(&a, true), snapshot(&b, true), "{name}");
        // Inline lines survive.
        let inline = |p: &Profile| {
            p.frames()
                .iter()
                .filter(|(_, f)| f.kind == FrameKind::Inline)
                .count()
        };
        assert_eq!(inline(&a), inline(&b), "{name}");
        if name == "cpu.pb.gz" {
            assert!(inline(&a) > 0);
        }
    }
}

#[test]
fn synthetic_profile_roundtrips() {
    let a = synthetic();
    let b = roundtrip(&a);
    assert_eq!(a.value_types(), b.value_types());
    assert_eq!(b.meta().default_value, 0);
    // Modules first, then the other modules frames named (no build id).
    assert_eq!(a.meta().modules[..], b.meta().modules[..3]);
    assert_eq!(b.meta().modules[3].path, "/tmp/perf-100.map");
    assert_eq!(b.meta().modules.len(), 4);
    assert_eq!(b.meta().source_format, "pprof");
    // Every frame with its file, line, module and kind; threads; values.
    assert_eq!(snapshot(&a, false), snapshot(&b, false));
    // Threads went through labels.
    let labels = b.samples().labels().expect("thread labels");
    let text: std::collections::BTreeSet<String> = labels
        .iter()
        .flatten()
        .map(|l| {
            if l.str.is_empty() {
                format!("{}={}", b.str(l.key), l.num)
            } else {
                format!("{}={}", b.str(l.key), b.str(l.str))
            }
        })
        .collect();
    for want in [
        "pid=100",
        "thread=100",
        "thread=101",
        "thread_name=app",
        "thread_name=worker",
        "process_name=app",
    ] {
        assert!(text.contains(want), "{want} in {text:?}");
    }
    // And a second round trip changes nothing at all, labels included.
    let c = roundtrip(&b);
    assert_eq!(snapshot(&b, true), snapshot(&c, true));
}

#[test]
fn comm_root_becomes_the_root_frame() {
    let mut a = synthetic();
    a.meta_mut().comm_root = true;
    let b = roundtrip(&a);
    assert!(!b.meta().comm_root);
    let mut want: Vec<(String, Vec<String>)> = a
        .iter_samples()
        .map(|s| {
            let t = a.threads().get(s.thread);
            let mut names = vec![a.str(t.thread_name).to_string()];
            names.extend(a.stack_names(s.stack).into_iter().map(String::from));
            (a.str(t.thread_name).to_string(), names)
        })
        .collect();
    let mut got: Vec<(String, Vec<String>)> = b
        .iter_samples()
        .map(|s| {
            let t = b.threads().get(s.thread);
            (
                b.str(t.thread_name).to_string(),
                b.stack_names(s.stack)
                    .into_iter()
                    .map(String::from)
                    .collect(),
            )
        })
        .collect();
    want.sort();
    want.dedup();
    got.sort();
    assert_eq!(want, got);
}

#[test]
fn labels_of_samples_are_kept() {
    let mut a = synthetic();
    let n = a.samples().len();
    let key = a.intern_str("request");
    let unit = a.intern_str("bytes");
    let size = a.intern_str("size");
    let labels = (0..n)
        .map(|i| {
            let v = a.intern_str(&format!("r{}", i % 3));
            vec![
                stackconv_model::Label {
                    key,
                    str: v,
                    num: 0,
                    num_unit: Default::default(),
                },
                stackconv_model::Label {
                    key: size,
                    str: Default::default(),
                    num: i as i64 * 100 + 1,
                    num_unit: unit,
                },
            ]
        })
        .collect();
    a.set_labels(labels).unwrap();
    let b = roundtrip(&a);
    // Our labels plus the thread labels the writer adds: compare ours only.
    let strip = |s: Snapshot| -> Snapshot {
        s.into_iter()
            .map(|((f, t, l), v)| {
                let l = l
                    .into_iter()
                    .filter(|l| l.starts_with("request=") || l.starts_with("size="))
                    .collect();
                ((f, t, l), v)
            })
            .collect()
    };
    assert_eq!(strip(snapshot(&a, true)), strip(snapshot(&b, true)));
    assert!(snapshot(&b, true)
        .keys()
        .any(|(_, _, l)| l.contains(&"size=101bytes".to_string())));
}

fn arb_profile() -> impl Strategy<Value = Profile> {
    let sample = (
        proptest::collection::vec(0usize..6, 0..8),
        0usize..3,
        1i64..1000,
        0i64..5,
    );
    proptest::collection::vec(sample, 1..30).prop_map(|samples| {
        let mut p = Profile::new(vec![
            ValueType::new("cpu", "nanoseconds"),
            ValueType::new("alloc", "bytes"),
        ]);
        let names = ["a", "b", "c", "d", "e", "f"];
        let mut native = Vec::new();
        let mut inline = Vec::new();
        for n in names {
            native.push(p.intern_frame_named(n, FrameKind::Native));
            inline.push(p.intern_frame_named(&format!("{n}_inl"), FrameKind::Inline));
        }
        let threads = [
            p.intern_thread_named(Some(1), Some(1), "p", "main"),
            p.intern_thread_named(Some(1), Some(2), "p", "w"),
            p.intern_thread(Default::default()),
        ];
        for (frames, t, v0, v1) in samples {
            // Odd indexes are inline frames, but never at the root (an
            // inline frame needs a caller).
            let ids: Vec<_> = frames
                .iter()
                .enumerate()
                .map(|(i, &f)| {
                    if i > 0 && f % 2 == 1 {
                        inline[f]
                    } else {
                        native[f]
                    }
                })
                .collect();
            let s = p.intern_stack_frames(ids);
            p.push_sample(s, threads[t], None, &[v0, v1]);
        }
        p
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]
    #[test]
    fn write_then_read_keeps_stacks_threads_and_weights(p in arb_profile()) {
        let b = roundtrip(&p);
        prop_assert_eq!(snapshot(&p, false), snapshot(&b, false));
        prop_assert_eq!(p.totals(), b.totals());
    }
}
