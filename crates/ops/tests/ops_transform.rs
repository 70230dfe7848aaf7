//! Stack transforms, views, filters, diff and top on small hand-made
//! profiles whose expected results follow from pprof's documented semantics
//! (google/pprof `profile/filter.go` and `profile/prune.go` doc comments),
//! inferno-diff-folded's and py-spy's.

use std::collections::BTreeMap;

use regex::Regex;
use stackconv_model::diff::diff;
use stackconv_model::{Frame, FrameKind, Profile, ValueType};
use stackconv_ops::top::{top, top_with, TopOptions};
use stackconv_ops::transform::{transform, Granularity, StackTransform};
use stackconv_ops::view::View;

fn re(s: &str) -> Option<Regex> {
    Some(Regex::new(s).expect("test regex"))
}

/// A profile from folded-like lines `a;b;c` with weights; frames named
/// `k:name` are kernel frames, `py:name` Python frames.
fn profile(lines: &[(&str, i64)]) -> Profile {
    let mut p = Profile::new(vec![
        ValueType::new("cpu", "nanoseconds"),
        ValueType::new("samples", "count"),
    ]);
    let t = p.intern_thread_named(Some(1), Some(1), "app", "app");
    for (stack, w) in lines {
        let frames: Vec<_> = stack
            .split(';')
            .filter(|s| !s.is_empty())
            .map(|n| {
                if let Some(k) = n.strip_prefix("k:") {
                    let frame = Frame {
                        name: p.intern_str(k),
                        module: p.intern_str("[kernel.kallsyms]"),
                        kind: FrameKind::Kernel,
                        ..Frame::default()
                    };
                    p.intern_frame(frame)
                } else if let Some(py) = n.strip_prefix("py:") {
                    p.intern_frame_named(py, FrameKind::Python)
                } else {
                    p.intern_frame_named(n, FrameKind::Native)
                }
            })
            .collect();
        let s = p.intern_stack_frames(frames);
        p.push_sample(s, t, None, &[*w, 1]);
    }
    p
}

/// Folded view of column 0: stack text -> weight.
fn folded(p: &Profile) -> BTreeMap<String, i64> {
    let mut out = BTreeMap::new();
    for s in p.iter_samples() {
        *out.entry(p.stack_names(s.stack).join(";")).or_insert(0) += s.values[0];
    }
    out
}

fn map(lines: &[(&str, i64)]) -> BTreeMap<String, i64> {
    lines.iter().map(|(s, w)| (s.to_string(), *w)).collect()
}

fn base() -> Profile {
    profile(&[
        ("main;handle;parse;k:sys_read", 10),
        ("main;handle;render", 20),
        ("main;gc", 5),
        ("main;handle;handle;render", 7),
    ])
}

#[test]
fn focus_keeps_samples_with_a_match() {
    let mut t = StackTransform::default();
    t.focus = re("^render$");
    let out = transform(&base(), &t);
    assert_eq!(
        folded(&out.profile),
        map(&[("main;handle;render", 20), ("main;handle;handle;render", 7)])
    );
    assert_eq!(out.dropped, [15, 2]);
    assert!(out.warnings.is_empty());
}

#[test]
fn ignore_drops_samples_with_a_match() {
    let mut t = StackTransform::default();
    t.ignore = re("parse|gc");
    let out = transform(&base(), &t);
    assert_eq!(
        folded(&out.profile),
        map(&[("main;handle;render", 20), ("main;handle;handle;render", 7)])
    );
    assert_eq!(out.dropped, [15, 2]);
}

#[test]
fn focus_and_ignore_together() {
    // profile.focusedAndNotIgnored: at least one focused frame, none ignored.
    let mut t = StackTransform::default();
    t.focus = re("handle");
    t.ignore = re("parse");
    let out = transform(&base(), &t);
    assert_eq!(
        folded(&out.profile),
        map(&[("main;handle;render", 20), ("main;handle;handle;render", 7)])
    );
}

#[test]
fn hide_removes_frames_and_drops_emptied_samples() {
    let mut t = StackTransform::default();
    t.hide = re("^(main|gc)$");
    let out = transform(&base(), &t);
    // main;gc has no frame left: pprof drops it.
    assert_eq!(
        folded(&out.profile),
        map(&[
            ("handle;parse;sys_read", 10),
            ("handle;render", 20),
            ("handle;handle;render", 7)
        ])
    );
    assert_eq!(out.dropped, [5, 1]);
}

#[test]
fn show_keeps_only_matching_frames() {
    let mut t = StackTransform::default();
    t.show = re("handle|render");
    let out = transform(&base(), &t);
    assert_eq!(
        folded(&out.profile),
        map(&[
            ("handle", 10),
            ("handle;render", 20),
            ("handle;handle;render", 7)
        ])
    );
    assert_eq!(out.dropped, [5, 1]);
}

#[test]
fn focus_is_evaluated_before_hide() {
    // pprof decides focus on the frames before hide removes any.
    let mut t = StackTransform::default();
    t.focus = re("^gc$");
    t.hide = re("^gc$");
    let out = transform(&base(), &t);
    assert_eq!(folded(&out.profile), map(&[("main", 5)]));
}

#[test]
fn show_from_as_pprof_documents() {
    // filter.go: frames [A, B, C, B], A the root.
    let p = profile(&[("A;B;C;B", 1)]);
    let cases: [(&str, Option<&str>); 4] = [
        ("A", Some("A;B;C;B")),
        ("B", Some("B;C;B")),
        ("C", Some("C;B")),
        ("D", None),
    ];
    for (rx, want) in cases {
        let mut t = StackTransform::default();
        t.show_from = re(&format!("^{rx}$"));
        let out = transform(&p, &t);
        match want {
            Some(w) => {
                assert_eq!(folded(&out.profile), map(&[(w, 1)]), "show_from {rx}");
                assert_eq!(out.dropped, [0, 0]);
            }
            None => {
                assert!(out.profile.samples().is_empty());
                assert_eq!(out.dropped, [1, 1]);
                assert!(out.warnings.iter().any(|w| w.contains("show-from")));
            }
        }
    }
}

#[test]
fn prune_from_as_pprof_documents() {
    // prune.go: Location [A,B,C,B,D] leaf first (A the leaf, D the root),
    // i.e. root first D;B;C;B;A. PruneFrom(A) keeps all, PruneFrom(B)
    // gives [B,C,B,D]: root first D;B;C;B.
    let p = profile(&[("D;B;C;B;A", 3)]);
    for (rx, want) in [
        ("A", "D;B;C;B;A"),
        ("B", "D;B;C;B"),
        ("C", "D;B;C"),
        ("E", "D;B;C;B;A"),
    ] {
        let mut t = StackTransform::default();
        t.prune_from = re(&format!("^{rx}$"));
        let out = transform(&p, &t);
        assert_eq!(folded(&out.profile), map(&[(want, 3)]), "prune_from {rx}");
        assert_eq!(out.dropped, [0, 0]);
    }
}

#[test]
fn prune_from_matches_the_function_without_arguments() {
    let p = profile(&[("main;ns::f(int);g", 1)]);
    let mut t = StackTransform::default();
    t.prune_from = re(r"^ns::f$");
    let out = transform(&p, &t);
    assert_eq!(folded(&out.profile), map(&[("main;ns::f(int)", 1)]));
}

#[test]
fn frames_match_on_file_and_module_too() {
    let mut p = Profile::new(vec![ValueType::new("samples", "count")]);
    let t = p.intern_thread(Default::default());
    let a = Frame {
        name: p.intern_str("main"),
        file: p.intern_str("/src/app/main.c"),
        kind: FrameKind::Native,
        ..Frame::default()
    };
    let b = Frame {
        name: p.intern_str("memcpy"),
        module: p.intern_str("/usr/lib/libc.so.6"),
        kind: FrameKind::Native,
        ..Frame::default()
    };
    let (a, b) = (p.intern_frame(a), p.intern_frame(b));
    let s1 = p.intern_stack_frames([a, b]);
    let s2 = p.intern_stack_frames([a]);
    p.push_sample(s1, t, None, &[2]);
    p.push_sample(s2, t, None, &[1]);
    let mut tr = StackTransform::default();
    tr.focus = re("libc");
    assert_eq!(transform(&p, &tr).profile.total(0), 2);
    let mut tr = StackTransform::default();
    tr.hide = re("app/main");
    let out = transform(&p, &tr);
    assert_eq!(folded(&out.profile), map(&[("memcpy", 2)]));
    assert_eq!(out.dropped, [1]);
}

#[test]
fn rename_no_kernel_collapse() {
    let mut t = StackTransform::default();
    t.rename = vec![(Regex::new("^handle$").expect("re"), "H".to_string())];
    t.no_kernel = true;
    t.collapse_recursion = true;
    let out = transform(&base(), &t);
    assert_eq!(
        folded(&out.profile),
        map(&[("main;H;parse", 10), ("main;H;render", 27), ("main;gc", 5)])
    );
    assert_eq!(out.profile.totals(), base().totals());
    assert_eq!(out.dropped, [0, 0]);
}

#[test]
fn rename_with_groups() {
    let p = profile(&[("py:f (/home/ci/build/app/a.py:3)", 1)]);
    let mut t = StackTransform::default();
    t.rename = vec![(
        Regex::new("/home/[^/]+/build/").expect("re"),
        "".to_string(),
    )];
    assert_eq!(
        folded(&transform(&p, &t).profile),
        map(&[("f (app/a.py:3)", 1)])
    );
}

#[test]
fn granularity_of_py_spy_frames() {
    let p = profile(&[
        ("py:worker (app.py:10);py:load (app.py:57)", 3),
        ("py:worker (app.py:11);py:load (app.py:58)", 4),
        ("py:worker (app.py:10);py:fib (lib.py:2)", 5),
    ]);
    let with = |g: Granularity| {
        let mut t = StackTransform::default();
        t.granularity = g;
        let out = transform(&p, &t);
        assert_eq!(out.profile.totals(), p.totals());
        folded(&out.profile)
    };
    assert_eq!(
        with(Granularity::Function),
        map(&[
            ("worker (app.py);load (app.py)", 7),
            ("worker (app.py);fib (lib.py)", 5)
        ])
    );
    assert_eq!(
        with(Granularity::File),
        map(&[("app.py;app.py", 7), ("app.py;lib.py", 5)])
    );
    assert_eq!(
        with(Granularity::Line),
        map(&[
            ("worker app.py:10;load app.py:57", 3),
            ("worker app.py:11;load app.py:58", 4),
            ("worker app.py:10;fib lib.py:2", 5)
        ])
    );
    assert_eq!(with(Granularity::Address), folded(&p));
}

#[test]
fn granularity_of_frames_with_file_and_line() {
    let mut p = Profile::new(vec![ValueType::new("samples", "count")]);
    let t = p.intern_thread(Default::default());
    let frame = |p: &mut Profile, line: u32, module: &str, file: &str| {
        let f = Frame {
            name: p.intern_str("work"),
            file: p.intern_str(file),
            module: p.intern_str(module),
            line,
            kind: FrameKind::Native,
        };
        p.intern_frame(f)
    };
    let a = frame(&mut p, 10, "/bin/app", "/src/work.c");
    let b = frame(&mut p, 12, "/bin/app", "/src/work.c");
    let c = frame(&mut p, 0, "/usr/lib/libz.so.1", "");
    for (f, w) in [(a, 1), (b, 2), (c, 4)] {
        let s = p.intern_stack_frames([f]);
        p.push_sample(s, t, None, &[w]);
    }
    let with = |g: Granularity| {
        let mut tr = StackTransform::default();
        tr.granularity = g;
        let out = transform(&p, &tr).profile;
        let mut m = BTreeMap::new();
        for s in out.iter_samples() {
            *m.entry(out.stack_names(s.stack).join(";")).or_insert(0) += s.values[0];
        }
        (m, out.fold().samples().len())
    };
    let (m, rows) = with(Granularity::Function);
    assert_eq!(m, map(&[("work", 7)]));
    // Same name, different module: two frames still.
    assert_eq!(rows, 2);
    let (m, _) = with(Granularity::File);
    assert_eq!(m, map(&[("/src/work.c", 3), ("[libz.so.1]", 4)]));
    let k = profile(&[("main;k:do_syscall_64", 1)]);
    let mut tr = StackTransform::default();
    tr.granularity = Granularity::File;
    assert_eq!(
        folded(&transform(&k, &tr).profile),
        map(&[("main;[kernel.kallsyms]", 1)])
    );
    let (m, _) = with(Granularity::Line);
    assert_eq!(
        m,
        map(&[
            ("work /src/work.c:10", 1),
            ("work /src/work.c:12", 2),
            ("work", 4)
        ])
    );
}

#[test]
fn python_view_through_transform() {
    let mut p = Profile::new(vec![ValueType::new("samples", "count")]);
    let t = p.intern_thread(Default::default());
    let lib = "/opt/py/lib/libpython3.12.so.1.0";
    let f = |p: &mut Profile, name: &str, module: &str, kind: FrameKind| {
        let fr = Frame {
            name: p.intern_str(name),
            module: p.intern_str(module),
            kind,
            ..Frame::default()
        };
        p.intern_frame(fr)
    };
    let frames = [
        f(
            &mut p,
            "start_thread",
            "/usr/lib/libc.so.6",
            FrameKind::Native,
        ),
        f(&mut p, "thread_run", lib, FrameKind::Native),
        f(
            &mut p,
            "py::worker:/app/w.py",
            "/tmp/perf-9.map",
            FrameKind::Python,
        ),
        f(&mut p, "_PyEval_EvalFrameDefault", lib, FrameKind::Native),
        f(
            &mut p,
            "py::load:/app/w.py",
            "/tmp/perf-9.map",
            FrameKind::Python,
        ),
        f(&mut p, "lock_PyThread_acquire_lock", lib, FrameKind::Native),
        f(&mut p, "futex_wait", "[kernel.kallsyms]", FrameKind::Kernel),
    ];
    let s = p.intern_stack_frames(frames);
    p.push_sample(s, t, None, &[9]);
    let mut tr = StackTransform::default();
    tr.view = View::Python;
    tr.no_kernel = true;
    let out = transform(&p, &tr);
    assert_eq!(
        folded(&out.profile),
        map(&[("worker (w.py);load (w.py);lock_PyThread_acquire_lock", 9)])
    );
    // perf's spelling on request (--annotate), the same frames.
    tr.perf_python_names = true;
    let out = transform(&p, &tr);
    assert_eq!(
        folded(&out.profile),
        map(&[(
            "py::worker:/app/w.py;py::load:/app/w.py;lock_PyThread_acquire_lock",
            9
        )])
    );
    tr.perf_python_names = false;
    tr.view = View::Native;
    tr.no_kernel = false;
    let out = transform(&p, &tr);
    assert_eq!(
        folded(&out.profile),
        map(&[(
            "start_thread;thread_run;_PyEval_EvalFrameDefault;lock_PyThread_acquire_lock;futex_wait",
            9
        )])
    );
}

#[test]
fn diff_as_inferno() {
    let before = profile(&[("main;a", 10), ("main;b", 20), ("main;b", 5)]);
    let after = profile(&[("main;b", 30), ("main;c", 40)]);
    let d = diff(&before, &after, false).unwrap();
    let rows: Vec<_> = d
        .rows
        .iter()
        .map(|r| (r.folded.as_str(), r.before, r.after))
        .collect();
    assert_eq!(
        rows,
        [("main;a", 10, 0), ("main;b", 25, 30), ("main;c", 0, 40)]
    );
    assert_eq!((d.before_total, d.after_total), (35, 70));
    // -n: first * total2 / total1, truncated: 10*70/35 = 20, 25*70/35 = 50.
    let n = diff(&before, &after, true).unwrap();
    let rows: Vec<_> = n.rows.iter().map(|r| r.before).collect();
    assert_eq!(rows, [20, 50, 0]);
    // Truncation: 1 * 3 / 2 = 1.5 -> 1.
    let b = profile(&[("x", 1), ("y", 1)]);
    let a = profile(&[("x", 3)]);
    let n = diff(&b, &a, true).unwrap();
    assert_eq!(n.rows.iter().map(|r| r.before).collect::<Vec<_>>(), [1, 1]);
    let p = d.to_profile();
    assert_eq!(p.value_types()[0].kind, "before");
    assert_eq!(p.value_types()[1].kind, "after");
    assert_eq!((p.total(0), p.total(1)), (35, 70));
    let delta = d.delta_profile();
    assert_eq!(delta.total(0), 35);
    assert_eq!(delta.samples().len(), 4);
    let labels = delta.samples().labels().expect("labels");
    let base: i64 = delta
        .iter_samples()
        .filter(|s| !labels[s.index].is_empty())
        .map(|s| s.values[0])
        .sum();
    assert_eq!(base, -35);
}

#[test]
fn top_as_pprof() {
    let p = profile(&[
        ("main;a;b", 30),
        ("main;a", 10),
        ("main;b;b", 30),
        ("main;c", 20),
        ("main", 10),
    ]);
    let rows = top(&p, 0);
    let got: Vec<_> = rows
        .iter()
        .map(|r| (r.name.as_str(), r.flat, r.cum))
        .collect();
    // flat desc, then name: b 60; c 20; a 10 and main 10 by name.
    assert_eq!(
        got,
        [
            ("b", 60, 60),
            ("c", 20, 20),
            ("a", 10, 40),
            ("main", 10, 100)
        ]
    );
    assert_eq!(rows[0].flat_pct, 60.0);
    assert_eq!(rows[1].sum_pct, 80.0);
    assert_eq!(rows[2].cum_pct, 40.0);
    // node fraction: hide functions with cum below 25% of the total.
    let mut o = TopOptions::default();
    o.node_fraction = 0.25;
    o.total = Some(200);
    let t = top_with(&p, &o);
    assert_eq!(t.dropped_nodes, 1);
    assert_eq!(t.rows.len(), 3);
    assert_eq!(t.rows[0].flat_pct, 30.0);
}

#[test]
fn python_frames_match_on_their_bare_function_and_file() {
    let p = profile(&[
        (
            "py:worker (app.py:10);py:handle_request (app.py:20);py:parse (lib.py:3)",
            2,
        ),
        (
            "py:py::worker:/srv/app.py;py:py::handle_request:/srv/app.py;py:py::render:/srv/tpl.py",
            3,
        ),
        ("py:worker (app.py:10);py:idle (app.py:30)", 4),
    ]);
    let mut t = StackTransform::default();
    t.focus = re("^handle_request$");
    let out = transform(&p, &t);
    assert_eq!(out.profile.total(0), 5);
    assert_eq!(out.dropped, [4, 1]);
    let mut t = StackTransform::default();
    t.prune_from = re("^handle_request$");
    assert_eq!(
        folded(&transform(&p, &t).profile),
        map(&[
            ("worker (app.py:10);handle_request (app.py:20)", 2),
            ("py::worker:/srv/app.py;py::handle_request:/srv/app.py", 3),
            ("worker (app.py:10);idle (app.py:30)", 4)
        ])
    );
    let mut t = StackTransform::default();
    t.hide = re(r"^(lib|/srv/tpl)\.py$");
    assert_eq!(
        folded(&transform(&p, &t).profile),
        map(&[
            ("worker (app.py:10);handle_request (app.py:20)", 2),
            ("py::worker:/srv/app.py;py::handle_request:/srv/app.py", 3),
            ("worker (app.py:10);idle (app.py:30)", 4)
        ])
    );
}

#[test]
fn diff_changes_that_would_not_fit_64_bits_are_an_error() {
    use stackconv_model::DiffError;
    // Each side fits; after - before of main;a would be -(2^63-1) - 5,
    // past i64::MIN (it saturated).
    let before = profile(&[("main;a", i64::MAX)]);
    let after = profile(&[("main;b", 5)]);
    assert!(matches!(
        diff(&before, &after, false),
        Err(DiffError::WeightOverflow { .. })
    ));
    let e = diff(&before, &after, false).unwrap_err();
    assert!(e.to_string().contains("2^63-1"), "{e}");
    // Up to the limit, the delta profile's total is exact.
    let before = profile(&[("main;a", i64::MAX - 5)]);
    let d = diff(&before, &after, false).unwrap();
    assert_eq!(d.delta_profile().total(0), 5 - (i64::MAX - 5));
    // Normalising scales before up past 64 bits: an error, not i64::MAX.
    let before = profile(&[("main;a", 1), ("main;c", 1)]);
    let after = profile(&[("main;b", i64::MAX / 2 + 1)]);
    assert!(diff(&before, &after, false).is_ok());
    assert!(matches!(
        diff(&before, &after, true),
        Err(DiffError::WeightOverflow { .. })
    ));
}
