//! Properties of the operations: kept + dropped = input for every filter
//! and transform; transforms that keep samples keep totals; the stack
//! filters agree with a naive reading of pprof's rules on name lists.

use std::collections::BTreeMap;

use proptest::prelude::*;
use regex::Regex;
use stackconv_model::diff::diff;
use stackconv_model::{Frame, FrameKind, Profile, ValueType};
use stackconv_ops::filter::{filter, IdleFilter, SampleFilter, TimeRange};
use stackconv_ops::top::top;
use stackconv_ops::transform::{transform, Granularity, StackTransform};
use stackconv_ops::view::{apply_view, View};

/// Frame pool: (name, module, kind).
const FRAMES: &[(&str, &str, FrameKind)] = &[
    ("main", "/bin/app", FrameKind::Native),
    ("work", "/bin/app", FrameKind::Native),
    ("parse", "/bin/app", FrameKind::Native),
    (
        "_PyEval_EvalFrameDefault",
        "/usr/lib/libpython3.12.so.1.0",
        FrameKind::Native,
    ),
    (
        "py::handler:/app/h.py",
        "/tmp/perf-1.map",
        FrameKind::Python,
    ),
    ("py::worker:/app/w.py", "/tmp/perf-1.map", FrameKind::Python),
    (
        "PyThread_acquire_lock_timed",
        "/usr/lib/libpython3.12.so.1.0",
        FrameKind::Native,
    ),
    ("futex_wait", "[kernel.kallsyms]", FrameKind::Kernel),
    ("nanosleep", "/usr/lib/libc.so.6", FrameKind::Native),
    ("wait (threading.py:320)", "", FrameKind::Python),
    ("fib (app.py:3)", "", FrameKind::Python),
];

const PATTERNS: &[&str] = &[
    "main",
    "^work$",
    "py::",
    "futex|nanosleep",
    "app",
    "fib",
    "^p",
    "zzz",
];

fn arb_profile() -> impl Strategy<Value = Profile> {
    let sample = (
        prop::collection::vec(0..FRAMES.len(), 0..8),
        0u32..4,
        -5i64..1000,
        0i64..3,
        0u64..10_000,
    );
    (prop::collection::vec(sample, 0..120), any::<bool>()).prop_map(|(samples, timed)| {
        let mut p = Profile::new(vec![
            ValueType::new("cpu-clock", "nanoseconds"),
            ValueType::new("sched:sched_switch", "count"),
            ValueType::new("samples", "count"),
        ]);
        for (frames, tid, v0, v1, time) in samples {
            let ids: Vec<_> = frames
                .iter()
                .map(|&i| {
                    let (name, module, kind) = FRAMES[i];
                    let f = Frame {
                        name: p.intern_str(name),
                        module: p.intern_str(module),
                        kind,
                        ..Frame::default()
                    };
                    p.intern_frame(f)
                })
                .collect();
            let stack = p.intern_stack_frames(ids);
            let pid = if tid == 0 { 0 } else { 100 + tid % 2 };
            let thread = p.intern_thread_named(
                Some(pid),
                Some(tid),
                if pid == 0 { "swapper" } else { "app" },
                &format!("worker-{tid}"),
            );
            p.push_sample(stack, thread, timed.then_some(time), &[v0, v1, 1]);
        }
        p
    })
}

fn arb_regex() -> impl Strategy<Value = Option<Regex>> {
    prop::option::weighted(
        0.3,
        (0..PATTERNS.len()).prop_map(|i| Regex::new(PATTERNS[i]).expect("pattern")),
    )
}

fn arb_filter() -> impl Strategy<Value = SampleFilter> {
    (
        prop::collection::vec(99u32..103, 0..2),
        prop::collection::vec(0u32..5, 0..3),
        arb_regex(),
        prop::option::weighted(
            0.2,
            prop::sample::select(vec!["cpu-clock", "sched:sched_switch", "nope"]),
        ),
        prop::option::weighted(
            0.3,
            (
                prop::option::of(0u64..6000),
                prop::option::of(0u64..10_000),
                any::<bool>(),
            ),
        ),
        prop::sample::select(vec![
            IdleFilter::All,
            IdleFilter::NoIdle,
            IdleFilter::OnlyIdle,
        ]),
    )
        .prop_map(|(pids, tids, thread, event, time, idle)| {
            let mut f = SampleFilter::default();
            f.pids = pids;
            f.tids = tids;
            f.thread = thread;
            f.event = event.map(str::to_string);
            f.time = time.map(|(start_ns, end_ns, rel)| {
                if rel {
                    TimeRange::Relative { start_ns, end_ns }
                } else {
                    TimeRange::Absolute { start_ns, end_ns }
                }
            });
            f.idle = idle;
            f
        })
}

fn arb_transform() -> impl Strategy<Value = StackTransform> {
    (
        (arb_regex(), arb_regex(), arb_regex(), arb_regex()),
        (arb_regex(), arb_regex()),
        (any::<bool>(), any::<bool>(), any::<bool>()),
        prop::sample::select(vec![View::Mixed, View::Python, View::Native]),
        prop::sample::select(vec![
            Granularity::Address,
            Granularity::Function,
            Granularity::File,
            Granularity::Line,
        ]),
    )
        .prop_map(
            |(
                (focus, ignore, hide, show),
                (show_from, prune_from),
                (no_kernel, collapse, rename),
                view,
                g,
            )| {
                let mut t = StackTransform::default();
                t.focus = focus;
                t.ignore = ignore;
                t.hide = hide;
                t.show = show;
                t.show_from = show_from;
                t.prune_from = prune_from;
                t.no_kernel = no_kernel;
                t.collapse_recursion = collapse;
                if rename {
                    t.rename = vec![(Regex::new("^py::").expect("re"), "".to_string())];
                }
                t.view = view;
                t.granularity = g;
                t
            },
        )
}

fn add(a: &[i64], b: &[i64]) -> Vec<i64> {
    a.iter().zip(b).map(|(x, y)| x + y).collect()
}

/// A naive reading of pprof's FilterSamplesByName, ShowFrom and PruneFrom
/// on name lists (root first), frames matched by name only (the caller
/// leaves out the one pattern, `app`, that matches a module or differs
/// once pprof's simplifyFunc cuts the argument list).
fn naive(names: &[String], t: &StackTransform) -> Option<Vec<String>> {
    let m = |re: &Option<Regex>, n: &str| re.as_ref().is_some_and(|r| r.is_match(n));
    let mut names = names.to_vec();
    if t.focus.is_some() || t.ignore.is_some() || t.hide.is_some() || t.show.is_some() {
        if names.iter().any(|n| m(&t.ignore, n)) {
            return None;
        }
        if !names.iter().any(|n| t.focus.is_none() || m(&t.focus, n)) {
            return None;
        }
        if t.hide.is_some() {
            names.retain(|n| !m(&t.hide, n));
        }
        if t.show.is_some() {
            names.retain(|n| m(&t.show, n));
        }
        if names.is_empty() {
            return None;
        }
    }
    if t.show_from.is_some() {
        let i = names.iter().position(|n| m(&t.show_from, n))?;
        names.drain(..i);
    }
    if t.prune_from.is_some() {
        if let Some(i) = names.iter().rposition(|n| m(&t.prune_from, n)) {
            names.truncate(i + 1);
        }
    }
    Some(names)
}

fn folded(p: &Profile) -> BTreeMap<String, Vec<i64>> {
    let mut out: BTreeMap<String, Vec<i64>> = BTreeMap::new();
    for s in p.iter_samples() {
        let key = p.stack_names(s.stack).join(";");
        let e = out.entry(key).or_insert_with(|| vec![0; s.values.len()]);
        *e = add(e, &s.values);
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn filter_conserves_weight(p in arb_profile(), f in arb_filter()) {
        let out = filter(&p, &f);
        prop_assert_eq!(add(&out.profile.totals(), &out.dropped), p.totals());
        prop_assert!(out.profile.samples().len() <= p.samples().len());
        // Every kept sample passes the thread filters.
        for s in out.profile.iter_samples() {
            let t = out.profile.threads().get(s.thread);
            if !f.pids.is_empty() {
                prop_assert!(f.pids.contains(&t.pid.unwrap()));
            }
            if !f.tids.is_empty() {
                prop_assert!(f.tids.contains(&t.tid.unwrap()));
            }
        }
        if !p.samples().is_empty() && out.profile.samples().is_empty() {
            prop_assert!(!out.warnings.is_empty());
        }
    }

    #[test]
    fn idle_filters_partition(p in arb_profile()) {
        let mut f = SampleFilter::default();
        f.idle = IdleFilter::NoIdle;
        let busy = filter(&p, &f);
        f.idle = IdleFilter::OnlyIdle;
        let idle = filter(&p, &f);
        prop_assert_eq!(add(&busy.profile.totals(), &idle.profile.totals()), p.totals());
        prop_assert_eq!(&busy.dropped, &idle.profile.totals());
        prop_assert_eq!(busy.profile.samples().len() + idle.profile.samples().len(), p.samples().len());
    }

    #[test]
    fn transform_conserves_weight(p in arb_profile(), t in arb_transform()) {
        let out = transform(&p, &t);
        prop_assert_eq!(add(&out.profile.totals(), &out.dropped), p.totals());
        let drops = t.focus.is_some() || t.ignore.is_some() || t.hide.is_some()
            || t.show.is_some() || t.show_from.is_some();
        if !drops {
            prop_assert_eq!(out.profile.totals(), p.totals());
            prop_assert_eq!(out.profile.samples().len(), p.samples().len());
            prop_assert!(out.dropped.iter().all(|&d| d == 0));
        }
        // Times travel with their samples (an empty profile has none).
        if !out.profile.samples().is_empty() {
            prop_assert_eq!(out.profile.has_times(), p.has_times());
        }
    }

    #[test]
    fn stack_filters_match_naive_pprof(p in arb_profile(), t in arb_transform()) {
        // Name-only comparison: mixed view, no renaming, address
        // granularity; patterns that could match a module ("app" matches
        // /bin/app) are left out.
        let mut t = t;
        t.view = View::Mixed;
        t.rename.clear();
        t.granularity = Granularity::Address;
        t.no_kernel = false;
        t.collapse_recursion = false;
        for re in [&mut t.focus, &mut t.ignore, &mut t.hide, &mut t.show, &mut t.show_from, &mut t.prune_from] {
            if re.as_ref().is_some_and(|r| r.as_str() == "app") {
                *re = None;
            }
        }
        let out = transform(&p, &t);
        let mut want: BTreeMap<String, Vec<i64>> = BTreeMap::new();
        let mut dropped = vec![0; p.value_types().len()];
        for s in p.iter_samples() {
            let names: Vec<String> = p.stack_names(s.stack).iter().map(|n| n.to_string()).collect();
            match naive(&names, &t) {
                Some(n) => {
                    let e = want.entry(n.join(";")).or_insert_with(|| vec![0; s.values.len()]);
                    *e = add(e, &s.values);
                }
                None => dropped = add(&dropped, &s.values),
            }
        }
        prop_assert_eq!(folded(&out.profile), want);
        prop_assert_eq!(out.dropped, dropped);
    }

    #[test]
    fn views_keep_totals(p in arb_profile()) {
        for v in [View::Mixed, View::Python, View::Native] {
            let out = apply_view(&p, v);
            prop_assert_eq!(out.totals(), p.totals());
            prop_assert_eq!(out.samples().len(), p.samples().len());
            if v == View::Native {
                for s in out.iter_samples() {
                    for f in out.stack_frames(s.stack) {
                        prop_assert!(out.frame(f).kind != FrameKind::Python);
                    }
                }
            }
        }
    }

    #[test]
    fn diff_accounts_for_both_sides(a in arb_profile(), b in arb_profile(), norm in any::<bool>()) {
        let d = diff(&a, &b, norm).expect("small weights");
        let before: i64 = d.rows.iter().map(|r| r.before).sum();
        let after: i64 = d.rows.iter().map(|r| r.after).sum();
        prop_assert_eq!(after, b.total(0));
        prop_assert_eq!(d.after_total, b.total(0));
        prop_assert_eq!(d.before_total, a.total(0));
        if !d.normalized {
            prop_assert_eq!(before, a.total(0));
        }
        let p = d.to_profile();
        prop_assert_eq!((p.total(0), p.total(1)), (before, after));
        prop_assert_eq!(d.delta_profile().total(0), after - before);
        // Rows are unique and sorted.
        prop_assert!(d.rows.windows(2).all(|w| w[0].folded < w[1].folded));
    }

    #[test]
    fn top_flat_sums_to_total(p in arb_profile()) {
        let rows = top(&p, 0);
        let flat: i64 = rows.iter().map(|r| r.flat).sum();
        let with_stack: i64 = p.iter_samples().filter(|s| s.stack.is_some()).map(|s| s.values[0]).sum();
        prop_assert_eq!(flat, with_stack);
        prop_assert!(rows.windows(2).all(|w| w[0].flat.abs() >= w[1].flat.abs()));
        let names: std::collections::BTreeSet<_> = rows.iter().map(|r| r.name.clone()).collect();
        prop_assert_eq!(names.len(), rows.len());
    }
}
