//! Folded text: read -> write keeps every line and the total weight; the
//! diff form; the bad-input errors of all three readers.

use std::path::{Path, PathBuf};

use proptest::prelude::*;
use stackconv_collapsed::folded::{self, RootFrame, WriteOptions};
use stackconv_collapsed::{perf_script, pyspy, Error};

fn perf_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata/perf")
}

fn write(p: &stackconv_collapsed::stackconv_model::Profile) -> String {
    let mut out = Vec::new();
    folded::write(p, &WriteOptions::default(), &mut out).expect("write");
    String::from_utf8(out).expect("utf-8")
}

fn total(text: &str) -> i64 {
    text.lines()
        .map(|l| {
            l.rsplit_once(' ')
                .expect("count")
                .1
                .parse::<i64>()
                .expect("n")
        })
        .sum()
}

/// inferno's outputs (sorted, merged) read and written back are the same
/// bytes, and keep their total.
#[test]
fn inferno_outputs_round_trip_exactly() {
    let mut files: Vec<PathBuf> = std::fs::read_dir(perf_dir())
        .expect("testdata/perf")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
            name.ends_with(".folded") && !name.starts_with("c-diff")
        })
        .collect();
    files.sort();
    assert!(files.len() >= 8);
    for path in files {
        let text = std::fs::read_to_string(&path).expect("read");
        if text.is_empty() {
            continue;
        }
        assert!(folded::looks_like(text.as_bytes()), "{}", path.display());
        assert!(
            !perf_script::looks_like(text.as_bytes()),
            "{}",
            path.display()
        );
        let p = folded::read(text.as_bytes()).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert_eq!(p.meta().source_format, "folded");
        assert!(!p.meta().comm_root);
        assert_eq!(p.total(0), total(&text), "{}", path.display());
        assert_eq!(write(&p), text, "{}", path.display());
    }
}

#[test]
fn diff_form_splits_into_before_and_after() {
    let text = std::fs::read_to_string(perf_dir().join("c-diff.folded")).expect("read");
    let (before, after) = folded::read_diff(text.as_bytes()).expect("parse");
    let (mut b, mut a) = (0i64, 0i64);
    for line in text.lines() {
        let mut words = line.rsplitn(3, ' ');
        a += words
            .next()
            .and_then(|n| n.parse::<i64>().ok())
            .expect("after");
        b += words
            .next()
            .and_then(|n| n.parse::<i64>().ok())
            .expect("before");
    }
    assert_eq!((before.total(0), after.total(0)), (b, a));
    // inferno-diff-folded made c-diff.folded from these two.
    let want_before = std::fs::read_to_string(perf_dir().join("c-before.folded")).expect("read");
    let want_after = std::fs::read_to_string(perf_dir().join("c-after.folded")).expect("read");
    assert_eq!(write(&before), want_before);
    assert_eq!(write(&after), want_after);
    // The one-count reader refuses the two-count form? No: `a 1 2` is the
    // stack `a 1` with count 2 in plain folded, as inferno reads it.
    let p = folded::read(b"a 1 2\n").expect("parse");
    assert_eq!(write(&p), "a 1 2\n");
}

#[test]
fn root_frames_and_annotations() {
    let text = b"cfp 7/8 1.0: 5 cpu-clock: \n\
\tffffffff81000130 entry_SYSCALL_64+0x1 ([kernel.kallsyms])\n\
\t7f00 [unknown] (/tmp/perf-7.map)\n\
\t4011 main (/tmp/cfp)\n\n";
    let p = perf_script::read(text).expect("parse");
    let w = |root, annotate| {
        let mut opts = WriteOptions::default();
        opts.root = root;
        opts.annotate = annotate;
        let mut out = Vec::new();
        folded::write(&p, &opts, &mut out).expect("write");
        String::from_utf8(out).expect("utf-8")
    };
    assert_eq!(
        w(RootFrame::Auto, false),
        "cfp;main;[perf-7.map];entry_SYSCALL_64 5\n"
    );
    assert_eq!(
        w(RootFrame::None, false),
        "main;[perf-7.map];entry_SYSCALL_64 5\n"
    );
    assert_eq!(
        w(RootFrame::CommPid, false),
        "cfp-7;main;[perf-7.map];entry_SYSCALL_64 5\n"
    );
    assert_eq!(
        w(RootFrame::CommPidTid, false),
        "cfp-7/8;main;[perf-7.map];entry_SYSCALL_64 5\n"
    );
    assert_eq!(
        w(RootFrame::Auto, true),
        "cfp;main;[perf-7.map]_[j];entry_SYSCALL_64_[k] 5\n"
    );
    let mut opts = WriteOptions::default();
    opts.value = Some(1);
    let mut out = Vec::new();
    folded::write(&p, &opts, &mut out).expect("write");
    assert_eq!(
        String::from_utf8(out).expect("utf-8"),
        "cfp;main;[perf-7.map];entry_SYSCALL_64 1\n"
    );
    opts.value = Some(2);
    assert!(folded::write(&p, &opts, Vec::new()).is_err());
}

// ------------------------------------------------------------ bad input

#[test]
fn malformed_folded_lines_name_their_line() {
    let e = folded::read(b"a;b 1\na;c 2\na;d\n").expect_err("no count");
    assert!(matches!(e, Error::MissingCount { line: 3, .. }), "{e:?}");
    assert_eq!(
        e.to_string(),
        "folded: line 3: expected `frame;frame;... count`, found no count after the stack"
    );
    let e = folded::read(b"a;b 1\n\na;c x2\n").expect_err("bad count");
    assert!(
        matches!(e, Error::BadCount { line: 3, ref found, .. } if found == "x2"),
        "{e:?}"
    );
    let e = folded::read(b"a 99999999999999999999\n").expect_err("too big");
    assert!(matches!(e, Error::BadCount { line: 1, .. }), "{e:?}");
    // An empty stack (py-spy writes ` 2`) is a sample of one empty frame,
    // as the py-spy reader reads it, and is written back as it was.
    let p = folded::read(b"a 1\n 2\n").expect("empty stack");
    assert_eq!(p.total(0), 3);
    let mut out = Vec::new();
    folded::write(&p, &folded::WriteOptions::default(), &mut out).unwrap();
    assert_eq!(String::from_utf8(out).unwrap(), " 2\na 1\n");
    let (b, a) = folded::read_diff(b" 1 2\n").expect("empty stack in a diff");
    assert_eq!((b.total(0), a.total(0)), (1, 2));
    let e = folded::read_diff(b"a 1 2\nb 3\n").expect_err("one count");
    assert!(matches!(e, Error::MissingDiffCount { line: 2 }), "{e:?}");
    let e = pyspy::read(b"f (a.py:1) 1\nf (a.py:1)\n").expect_err("no count");
    assert!(
        matches!(e, Error::BadCount { line: 2, format: "py-spy raw", ref found } if found == "(a.py:1)"),
        "{e:?}"
    );
    let e = pyspy::read(b"f (a.py:1) 1\nf\n").expect_err("no count");
    assert!(
        matches!(
            e,
            Error::MissingCount {
                line: 2,
                format: "py-spy raw"
            }
        ),
        "{e:?}"
    );
}

fn c_fp_script() -> String {
    std::fs::read_to_string(perf_dir().join("c-fp.perf-script")).expect("read")
}

#[test]
fn truncated_perf_script_records() {
    let text = c_fp_script();
    // Cut right after the header of the third sample.
    let headers: Vec<usize> = text.match_indices("\ncfp ").map(|(i, _)| i + 1).collect();
    let third = headers[1];
    let header_end = third + text[third..].find('\n').expect("line end") + 1;
    let header_line = text[..third].lines().count() as u64 + 1;
    let e = perf_script::read(&text.as_bytes()[..header_end]).expect_err("truncated");
    assert!(
        matches!(e, Error::Truncated { line } if line == header_line),
        "{e:?} (header at {header_line})"
    );
    // Cut inside a frame line: the module's parenthesis is missing.
    let frame_end = header_end + text[header_end..].find(" (").expect("module") + 4;
    let e = perf_script::read(&text.as_bytes()[..frame_end]).expect_err("cut frame");
    assert!(
        matches!(e, Error::BadFrame { line, .. } if line == header_line + 1),
        "{e:?}"
    );
    // A malformed frame line in the middle.
    let broken = text.replacen("\t", "\tzz", 3);
    let e = perf_script::read(broken.as_bytes()).expect_err("bad frame");
    assert!(matches!(e, Error::BadFrame { line: 2, .. }), "{e:?}");
    assert!(e
        .to_string()
        .starts_with("perf script: line 2: expected a frame `address symbol (module)`"));
    // Something that is no sample header.
    let e = perf_script::read(b"hello world\n").expect_err("no header");
    assert!(matches!(e, Error::BadHeader { line: 1, .. }), "{e:?}");
}

#[test]
fn binary_input_is_refused() {
    let data = std::fs::read(perf_dir().join("c-fp.data")).expect("perf.data");
    for (format, e) in [
        ("folded", folded::read(&data).expect_err("binary")),
        ("perf script", perf_script::read(&data).expect_err("binary")),
        ("py-spy raw", pyspy::read(&data).expect_err("binary")),
    ] {
        assert!(
            matches!(e, Error::Binary { line: 1, .. }),
            "{format}: {e:?}"
        );
        assert!(e
            .to_string()
            .starts_with(&format!("{format}: line 1: expected text")));
    }
    assert!(!folded::looks_like(&data));
    assert!(!perf_script::looks_like(&data));
    assert!(!pyspy::looks_like(&data));
    // Random bytes without NUL: an error, never a panic.
    let noise: Vec<u8> = (0u32..4096)
        .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8 | 1)
        .collect();
    assert!(folded::read(&noise).is_err());
    assert!(perf_script::read(&noise).is_err());
}

#[test]
fn empty_input_is_an_empty_profile() {
    for p in [
        folded::read(b"").expect("folded"),
        perf_script::read(b"").expect("perf script"),
        pyspy::read(b"").expect("py-spy"),
    ] {
        assert_eq!(p.samples().len(), 0);
        assert_eq!(write(&p), "");
    }
}

// ------------------------------------------------------------ properties

fn frame() -> impl Strategy<Value = String> {
    // Anything but `;` and line breaks; a frame may hold spaces and even
    // end in digits.
    "[a-zA-Z0-9_:.<>()\\[\\] /@-]{1,10}"
}

fn stacks() -> impl Strategy<Value = Vec<(Vec<String>, u32)>> {
    prop::collection::vec((prop::collection::vec(frame(), 1..6), 1u32..100_000), 0..40)
}

/// Folded text of `rows` (frames, count), and that text with equal stacks
/// merged, in byte order.
fn text_and_merged(rows: &[(Vec<String>, u32)]) -> (String, String) {
    let text: String = rows
        .iter()
        .map(|(frames, n)| format!("{} {n}\n", frames.join(";")))
        .collect();
    let mut merged: std::collections::BTreeMap<String, i64> = Default::default();
    for (frames, n) in rows {
        *merged.entry(frames.join(";")).or_default() += i64::from(*n);
    }
    let merged = merged.iter().map(|(s, n)| format!("{s} {n}\n")).collect();
    (text, merged)
}

proptest! {
    /// Folded text read and written again is the same set of stacks, equal
    /// stacks merged, in byte order, with the same total.
    #[test]
    fn folded_round_trips(rows in stacks()) {
        let (text, want) = text_and_merged(&rows);
        let p = folded::read(text.as_bytes()).expect("parse");
        let got = write(&p);
        prop_assert_eq!(&got, &want);
        prop_assert_eq!(p.total(0), total(&text));
        let again = folded::read(got.as_bytes()).expect("parse again");
        prop_assert_eq!(write(&again), got);
    }

    /// As above with frames of a few letters and dots: many a frame's
    /// text starts another's (`a`, `a.`, `a.b`), which sort apart from
    /// where their first letters put them (`a.b` before `a;b`).
    #[test]
    fn frames_that_start_others_sort_as_their_text(
        rows in prop::collection::vec((prop::collection::vec("[ab.]{1,3}", 1..5), 1u32..100), 0..40)
    ) {
        let (text, want) = text_and_merged(&rows);
        let p = folded::read(text.as_bytes()).expect("parse");
        prop_assert_eq!(write(&p), want);
    }

    /// No input makes a reader panic.
    #[test]
    fn readers_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        let _ = folded::read(&bytes);
        let _ = folded::read_diff(&bytes);
        let _ = perf_script::read(&bytes);
        let _ = pyspy::read(&bytes);
        let _ = (folded::looks_like(&bytes), perf_script::looks_like(&bytes), pyspy::looks_like(&bytes));
    }
}

#[test]
fn more_frame_texts_than_two_byte_ranks_still_sort_by_text() {
    // 70,000 distinct texts: the writer sorts the lines' texts themselves.
    let mut text = String::new();
    let mut want = std::collections::BTreeMap::new();
    for i in 0..35_000u32 {
        let line = format!("f{};g{}", i * 7 % 35_000, i);
        text.push_str(&format!("{line} {}\n", i % 3 + 1));
        want.insert(line, i % 3 + 1);
    }
    let p = folded::read(text.as_bytes()).unwrap();
    let want: String = want.iter().map(|(s, n)| format!("{s} {n}\n")).collect();
    assert_eq!(write(&p), want);
}

#[test]
fn a_profile_without_value_columns_writes_nothing() {
    // A pprof message with no sample types reads as such a profile.
    let p = stackconv_collapsed::stackconv_model::Profile::new(vec![]);
    assert_eq!(write(&p), "");
    // A column asked for by number must exist.
    let mut opts = folded::WriteOptions::default();
    opts.value = Some(0);
    let err = folded::write(&p, &opts, Vec::new()).unwrap_err();
    assert!(err.to_string().contains("no value column 0"), "{err}");
}

#[test]
fn sorted_and_unsorted_lines_read_the_same_stacks() {
    // The reader reuses the previous line's outer stack nodes; lines that
    // share prefixes in any order must give the same profile.
    let sorted = b"a;b;c 1\na;b;d 2\na;b;d;e 3\na;x 4\nb 5\n";
    let shuffled = b"a;b;d;e 3\nb 5\na;b;c 1\na;x 4\na;b;d 2\n";
    let (p, q) = (
        folded::read(sorted).unwrap(),
        folded::read(shuffled).unwrap(),
    );
    assert_eq!(write(&p), write(&q));
    assert_eq!(write(&p), "a;b;c 1\na;b;d 2\na;b;d;e 3\na;x 4\nb 5\n");
    assert_eq!(p.stacks().len(), q.stacks().len());
    // Neighbours whose text agrees past a frame boundary, or only part way
    // into a frame, and empty frames: each line reads as its own frames.
    let edges = "a;b 1\na;bc 2\na;b;c 3\na 4\n;a 5\n;a; 6\n;; 7\n a 8\nab;c 9\na;b;c 10\n";
    let p = folded::read(edges.as_bytes()).unwrap();
    let mut expected: Vec<&str> = edges.lines().collect();
    expected.sort_unstable();
    let mut merged = String::new();
    for l in &expected {
        if l.starts_with("a;b;c ") {
            if !merged.contains("a;b;c ") {
                merged.push_str("a;b;c 13\n");
            }
        } else {
            merged.push_str(l);
            merged.push('\n');
        }
    }
    assert_eq!(write(&p), merged);
}

/// Equal lines are merged wherever their rows fall in the blocks and
/// rounds the writer renders them in: runs of three equal lines (one per
/// thread, two stacks) over 21,000 rows cross block and round boundaries, some runs
/// add up to 0 (not written), and frames of one name but two kinds make
/// equal lines of different stacks.
#[test]
fn equal_lines_merge_across_blocks_and_rounds() {
    use stackconv_collapsed::stackconv_model::{FrameKind, Profile, ValueType};
    let mut p = Profile::new(vec![ValueType::new("samples", "count")]);
    let threads: Vec<_> = (1..=3)
        .map(|tid| p.intern_thread_named(Some(1), Some(tid), "app", "app"))
        .collect();
    let mut want: std::collections::BTreeMap<String, i64> = Default::default();
    for i in 0..7_000u32 {
        // Stacks i and i + 3,500 have the same text, their leaves are
        // frames of different kinds.
        let kind = if i < 3_500 {
            FrameKind::Kernel
        } else {
            FrameKind::Native
        };
        let names = [format!("main{}", i % 3_500 % 13), format!("f{}", i % 3_500)];
        let frames = [
            p.intern_frame_named(&names[0], FrameKind::Native),
            p.intern_frame_named(&names[1], kind),
        ];
        let stack = p.intern_stack_frames(frames);
        for (n, &t) in threads.iter().enumerate() {
            // Every seventh line's weights add up to 0.
            let v = match (i % 7, n) {
                (0, 0) => 2,
                (0, 1) => -2,
                (0, _) => 0,
                _ => i64::from(i % 10) + n as i64 + 1,
            };
            p.push_sample(stack, t, None, &[v]);
            *want.entry(names.join(";")).or_default() += v;
        }
    }
    let want: String = want
        .iter()
        .filter(|(_, &n)| n != 0)
        .map(|(s, n)| format!("{s} {n}\n"))
        .collect();
    assert_eq!(write(&p), want);
}
