//! The SVG is drawn from folded text without the subtrees too narrow to be
//! drawn (`prune::write_pruned`): the picture must be the one drawn from
//! the full folded text, byte for byte, on every recording in testdata/ and
//! on random profiles made to hit the hard cases (names that are prefixes
//! of their siblings' names, several root texts, zero and negative weights,
//! names with `;` or spaces).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use proptest::prelude::*;
use stackconv::collapsed::folded::{self, RootFrame, WriteOptions};
use stackconv::collapsed::prune;
use stackconv::flamegraph::{min_drawn_weight, write_svg, SvgOptions};
use stackconv::model::pruning::FlameGraphPruning;
use stackconv::model::{FrameKind, StackBatch, Thread, ValueType};
use stackconv::{read_path, Profile, ReadOptions};

fn testdata(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../testdata")
        .join(rel)
}

/// The weight the graph draws: samples with a stack.
fn drawn_total(p: &Profile, opts: &WriteOptions) -> u64 {
    let mut full = Vec::new();
    folded::write(p, opts, &mut full).unwrap();
    String::from_utf8(full)
        .unwrap()
        .lines()
        .map(|l| l.rsplit(' ').next().unwrap().parse::<i64>().unwrap())
        .sum::<i64>()
        .max(0) as u64
}

/// (SVG from the full text, SVG from the pruned text, pruned line count).
fn both(p: &Profile, opts: &WriteOptions, min_width: f64) -> Option<(String, String, usize)> {
    let mut svg = SvgOptions::default();
    svg.min_width_percent = min_width;
    let mut full = Vec::new();
    folded::write(p, opts, &mut full).unwrap();
    let mut a = Vec::new();
    if write_svg(p, &full, &svg, &mut a).is_err() {
        return None;
    }
    let min_weight = min_drawn_weight(drawn_total(p, opts), min_width);
    let mut pruned = Vec::new();
    let sorted = prune::write_pruned(p, opts, min_weight, &mut pruned).unwrap();
    let mut presorted = svg.clone();
    presorted.presorted = sorted;
    let mut b = Vec::new();
    write_svg(p, &pruned, &presorted, &mut b).unwrap();
    let lines = pruned.iter().filter(|&&c| c == b'\n').count();
    Some((
        String::from_utf8(a).unwrap(),
        String::from_utf8(b).unwrap(),
        lines,
    ))
}

fn opts(root: RootFrame, annotate: bool) -> WriteOptions {
    let mut o = WriteOptions::default();
    o.root = root;
    o.annotate = annotate;
    o
}

#[test]
fn recordings_draw_the_same() {
    let mut files: Vec<PathBuf> = Vec::new();
    for dir in ["perf", "pyspy"] {
        for e in std::fs::read_dir(testdata(dir)).unwrap() {
            let path = e.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            if name.ends_with(".perf-script") || name.ends_with(".raw") {
                files.push(path);
            }
        }
    }
    files.push(testdata("perf/c-fp.data"));
    files.sort();
    assert!(files.len() > 20, "testdata has its recordings");
    let mut checked = 0;
    for path in &files {
        let mut ro = ReadOptions::default();
        ro.perf.symbols.no_system_paths = true;
        ro.perf.symbols.symbol_dirs = vec![testdata("perf/bin")];
        ro.perf.symbols.kallsyms = Some(testdata("perf/c-fp.kallsyms"));
        let p = read_path(path, &ro).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        for root in [RootFrame::Auto, RootFrame::CommPidTid] {
            for annotate in [false, true] {
                for min_width in [0.1, 2.0, 10.0] {
                    let o = opts(root, annotate);
                    let Some((full, pruned, _)) = both(&p, &o, min_width) else {
                        continue;
                    };
                    assert!(
                        full == pruned,
                        "{}: root {root:?} annotate {annotate} min width {min_width}: \
                         the pruned SVG differs",
                        path.display()
                    );
                    checked += 1;
                }
            }
        }
    }
    assert!(checked > 100, "{checked} graphs compared");
}

#[test]
fn pruning_leaves_few_lines_on_a_wide_profile() {
    // 200 distinct deep stacks of weight 1 under one frame, one heavy
    // stack: at a minimum width of 1% (weight 3 of 300), none of the light
    // ones is drawn; each is cut two frames below `cold`, and neighbours
    // are summed while the sum stays too light to draw (in twos, but for
    // `f1`..`f19`, whose lines sort apart from `f10`..`f199`'s).
    let mut text = String::from("main;hot 100\n");
    for i in 0..200 {
        text.push_str(&format!("main;cold;f{i};g;h;i;j 1\n"));
    }
    let p = folded::read(text.as_bytes()).unwrap();
    let mut pruned = Vec::new();
    let min_weight = min_drawn_weight(300, 1.0);
    assert!(prune::write_pruned(&p, &WriteOptions::default(), min_weight, &mut pruned).unwrap());
    let pruned = String::from_utf8(pruned).unwrap();
    let lines = pruned.lines().count();
    assert!((101..=130).contains(&lines), "{lines} lines");
    assert!(pruned
        .lines()
        .all(|l| l == "main;hot 100" || l.ends_with(";g 2") || l.ends_with(";g 1")));
    let (full, drawn, _) = both(&p, &WriteOptions::default(), 1.0).unwrap();
    assert_eq!(full, drawn);
    assert!(full.contains("total_samples=\"300\""));
}

#[test]
fn a_frames_two_lines_apart_are_not_joined_by_summing() {
    // `f1`'s own line sorts before `f10`'s lines, the line below it
    // after them (`0` sorts before `;`): summing `f1`'s own line with
    // `f10` and `f11` would leave two neighbouring lines starting with
    // `f1`, which inferno joins into one frame wide enough to draw.
    let text = "main;hot 100\nmain;f1 1\nmain;f1;x 2\nmain;f10;y 1\nmain;f11;y 1\n";
    let p = folded::read(text.as_bytes()).unwrap();
    let (full, drawn, _) = both(&p, &WriteOptions::default(), 3.0).unwrap();
    assert_eq!(full, drawn);
    assert!(!full.contains("<title>f1 "), "f1 is not drawn");
}

const NAMES: &[&str] = &[
    "a", "a.cold", "a1", "a-b", "b", "b c", "ab", "a_", "x;y", " lead", "f 12", "g 1.5", "",
];
const THREADS: &[&str] = &["w", "w1", "w.2", ""];

fn profile_strategy() -> impl Strategy<Value = (Vec<(usize, Vec<usize>, i64)>, bool)> {
    let sample = (
        0..THREADS.len(),
        prop::collection::vec(0..NAMES.len(), 0..6),
        prop_oneof![8 => 0i64..20, 1 => Just(0i64), 1 => -3i64..0],
    );
    (prop::collection::vec(sample, 1..40), any::<bool>())
}

fn build(samples: &[(usize, Vec<usize>, i64)], comm_root: bool) -> Profile {
    let mut p = Profile::new(vec![ValueType::new("samples", "count")]);
    p.meta_mut().comm_root = comm_root;
    for (t, stack, v) in samples {
        let name = p.intern_str(THREADS[*t]);
        let thread = p.intern_thread(Thread {
            pid: Some(1),
            tid: Some(*t as u32 + 1),
            process_name: name,
            thread_name: name,
        });
        let frames: Vec<_> = stack
            .iter()
            .map(|&i| p.intern_frame_named(NAMES[i], FrameKind::Native))
            .collect();
        let s = p.intern_stack_frames(frames);
        p.push_sample(s, thread, None, &[*v]);
    }
    p
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]
    #[test]
    fn random_profiles_draw_the_same(
        (samples, comm_root) in profile_strategy(),
        min_width in prop_oneof![Just(0.1), Just(5.0), Just(20.0), Just(60.0)],
        root in prop_oneof![Just(RootFrame::Auto), Just(RootFrame::None), Just(RootFrame::CommPidTid)],
    ) {
        let p = build(&samples, comm_root);
        let o = opts(root, false);
        if let Some((full, pruned, _)) = both(&p, &o, min_width) {
            prop_assert!(full == pruned, "pruned SVG differs:\n{full}\n---\n{pruned}");
        }
    }
}

#[test]
fn large_profile_draws_the_same() {
    // Enough stack nodes (over 2^18) that the callee lists are built on
    // another thread.
    let mut p = Profile::new(vec![ValueType::new("samples", "count")]);
    let frames: Vec<_> = (0..97)
        .map(|i| p.intern_frame_named(&format!("f{i}"), FrameKind::Native))
        .collect();
    let thread = p.intern_thread(Thread::default());
    for i in 0..40_000usize {
        // A pseudo-random walk: stacks share their first frames only.
        let mut x = (i as u64 + 1).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        let path: Vec<_> = (0..12)
            .map(|_| {
                x ^= x >> 29;
                x = x.wrapping_mul(0xbf58_476d_1ce4_e5b9);
                frames[(x % 97) as usize]
            })
            .collect();
        let s = p.intern_stack_frames(path);
        p.push_sample(s, thread, None, &[(i % 5) as i64 + 1]);
    }
    assert!(p.stacks().len() > 1 << 18, "{} nodes", p.stacks().len());
    for min_width in [0.1, 1.0] {
        let (full, pruned, lines) = both(&p, &WriteOptions::default(), min_width).unwrap();
        assert!(full == pruned, "min width {min_width}");
        assert!(lines < 40_000, "{lines} lines");
    }
}

/// A reader may cut each stack below what the graph draws
/// (`FlameGraphPruning`, `StackBatch::intern_samples`): drawn through the
/// library's SVG writer, the cut profile's graph must be the whole
/// profile's, byte for byte.
fn svg_of(p: &Profile, o: &WriteOptions, min_width: f64) -> Option<Vec<u8>> {
    let mut w = stackconv::WriteOptions::default();
    w.folded = o.clone();
    w.svg.min_width_percent = min_width;
    let mut out = Vec::new();
    stackconv::write(p, stackconv::OutputFormat::Svg, &w, &mut out).ok()?;
    Some(out)
}

fn pruning(o: &WriteOptions, min_width: f64) -> FlameGraphPruning {
    let o = o.clone();
    FlameGraphPruning {
        min_width_percent: min_width,
        column: None,
        keys: Arc::new(move |p| prune::drawn_keys(p, &o)),
    }
}

/// `samples` as `build` makes them, but through a `StackBatch` cut for a
/// graph of `o` at `min_width`; frames alternate between two kinds, so
/// that frames drawn alike (one text) are distinct frames. Returns the
/// whole profile, the cut one, and whether it was cut.
fn build_cut(
    names: &[&str],
    samples: &[(usize, Vec<usize>, i64)],
    comm_root: bool,
    o: &WriteOptions,
    min_width: f64,
) -> (Profile, Profile, bool) {
    let mut whole = Profile::new(vec![ValueType::new("samples", "count")]);
    whole.meta_mut().comm_root = comm_root;
    let mut cut = whole.clone();
    let mut batch = StackBatch::default();
    let mut paths = Vec::new();
    for (i, (t, stack, v)) in samples.iter().enumerate() {
        for (is_cut, p) in [(false, &mut whole), (true, &mut cut)] {
            let name = p.intern_str(THREADS[*t]);
            let thread = p.intern_thread(Thread {
                pid: Some(1),
                tid: Some(*t as u32 + 1),
                process_name: name,
                thread_name: name,
            });
            let frames: Vec<_> = stack
                .iter()
                .enumerate()
                .map(|(d, &n)| {
                    let kind = if (i + d) % 3 == 0 {
                        FrameKind::Inline
                    } else {
                        FrameKind::Native
                    };
                    p.intern_frame_named(names[n], kind)
                })
                .collect();
            if is_cut {
                paths.push(batch.add(&frames));
                p.push_sample(None, thread, None, &[*v]);
            } else {
                let s = p.intern_stack_frames(frames);
                p.push_sample(s, thread, None, &[*v]);
            }
        }
    }
    let was_cut = batch.intern_samples(&mut cut, &paths, Some(&pruning(o, min_width)));
    (whole, cut, was_cut)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]
    #[test]
    fn random_profiles_cut_while_read_draw_the_same(
        (samples, comm_root) in profile_strategy(),
        min_width in prop_oneof![Just(0.1), Just(5.0), Just(20.0), Just(60.0)],
        root in prop_oneof![Just(RootFrame::Auto), Just(RootFrame::None), Just(RootFrame::CommPidTid)],
        annotate in any::<bool>(),
    ) {
        let o = opts(root, annotate);
        let (whole, cut, _) = build_cut(NAMES, &samples, comm_root, &o, min_width);
        prop_assert_eq!(whole.totals(), cut.totals());
        let (a, b) = (svg_of(&whole, &o, min_width), svg_of(&cut, &o, min_width));
        prop_assert!(a == b, "cut SVG differs:\n{:?}\n---\n{:?}",
            a.map(String::from_utf8), b.map(String::from_utf8));
    }
}

#[test]
fn a_wide_profile_is_cut() {
    // main;hot (weight 10,000) beside 200 distinct deep stacks of weight 1
    // under main;cold: at 1% (weight 102) `cold` is drawn, its callees are
    // not, and the cut keeps one frame below each of them.
    let mut names = vec!["main", "hot", "cold", "g", "h"];
    let callees: Vec<String> = (0..200).map(|i| format!("f{i}")).collect();
    names.extend(callees.iter().map(String::as_str));
    let mut samples = vec![(0, vec![0, 1], 10_000)];
    for i in 0..200 {
        samples.push((0, vec![0, 2, 5 + i, 3, 4], 1));
    }
    let o = WriteOptions::default();
    let (whole, cut, was_cut) = build_cut(&names, &samples, true, &o, 1.0);
    assert!(was_cut);
    // More: some frames are of another kind, drawn alike.
    assert!(whole.stacks().len() > 3 + 200 * 3);
    // main, hot, cold, each f_i and its `g`.
    assert_eq!(cut.stacks().len(), 3 + 200 * 2);
    assert_eq!(svg_of(&whole, &o, 1.0), svg_of(&cut, &o, 1.0));
}

#[test]
fn recordings_cut_while_read_draw_the_same() {
    let mut files = Vec::new();
    let mut dirs = vec![testdata("")];
    while let Some(dir) = dirs.pop() {
        for e in std::fs::read_dir(dir).unwrap() {
            let path = e.unwrap().path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|x| x == "data") {
                files.push(path);
            }
        }
    }
    files.sort();
    assert!(files.len() >= 10, "testdata has its perf recordings");
    let (mut compared, mut smaller) = (0, 0);
    for path in &files {
        for root in [RootFrame::Auto, RootFrame::CommPidTid] {
            for annotate in [false, true] {
                for min_width in [0.1, 2.0] {
                    let o = opts(root, annotate);
                    let mut ro = ReadOptions::default();
                    ro.perf.symbols.no_system_paths = true;
                    ro.perf.symbols.symbol_dirs = vec![testdata("perf/bin")];
                    ro.perf.symbols.kallsyms = Some(testdata("perf/c-fp.kallsyms"));
                    ro.perf.fold = true;
                    let Ok(whole) = read_path(path, &ro) else {
                        continue;
                    };
                    ro.perf.flame_graph = Some(pruning(&o, min_width));
                    let cut = read_path(path, &ro).unwrap();
                    assert_eq!(whole.totals(), cut.totals(), "{}", path.display());
                    assert!(
                        svg_of(&whole, &o, min_width) == svg_of(&cut, &o, min_width),
                        "{}: root {root:?} annotate {annotate} min width {min_width}: \
                         the SVG of the cut profile differs",
                        path.display()
                    );
                    compared += 1;
                    smaller += usize::from(cut.stacks().len() < whole.stacks().len());
                }
            }
        }
    }
    assert!(compared > 40, "{compared} graphs compared");
    assert!(smaller > compared / 4, "{smaller} of {compared} cut");
}
