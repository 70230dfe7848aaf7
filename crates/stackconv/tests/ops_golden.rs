//! Operations of stackconv-model on real inputs, compared with the
//! reference tools' outputs recorded by `testdata/record.sh`:
//! `inferno-diff-folded` (with and without `-n`) and `go tool pprof -top`
//! with `-focus/-ignore/-hide/-show`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use regex::Regex;
use stackconv::model::diff::diff;
use stackconv::model::{FrameId, FrameKind, StackId};
use stackconv::ops::filter::{filter, IdleFilter, SampleFilter};
use stackconv::ops::idle::{classify, wait_sites, Wait};
use stackconv::ops::top::{format_percentage, top_with, TopOptions};
use stackconv::ops::transform::{transform, StackTransform};
use stackconv::ops::view::{apply_view, is_call_machinery, is_interpreter_module, View};
use stackconv::{read_path, Profile, ReadOptions};

fn testdata(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../testdata")
        .join(rel)
}

fn read(rel: &str) -> stackconv::Profile {
    let path = testdata(rel);
    match read_path(&path, &ReadOptions::default()) {
        Ok(p) => p,
        Err(e) => panic!("{}: {e}", path.display()),
    }
}

fn read_text(rel: &str) -> String {
    let path = testdata(rel);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Compare two sets of lines (inferno-diff-folded writes hash-map order),
/// naming the first line only one side has.
fn assert_same_lines(what: &str, mut got: Vec<String>, mut want: Vec<String>) {
    got.sort();
    want.sort();
    if got != want {
        let only_got = got.iter().find(|l| !want.contains(l));
        let only_want = want.iter().find(|l| !got.contains(l));
        panic!(
            "{what}: {} lines vs {} expected; first line only in ours: {only_got:?}; \
             first only in expected: {only_want:?}",
            got.len(),
            want.len()
        );
    }
}

fn diff_lines(normalize: bool) -> Vec<String> {
    let before = read("perf/c-before.folded");
    let after = read("perf/c-after.folded");
    let d = diff(&before, &after, normalize).expect("diff");
    d.rows
        .iter()
        .map(|r| format!("{} {} {}", r.folded, r.before, r.after))
        .collect()
}

#[test]
fn diff_equals_inferno_diff_folded() {
    let want: Vec<String> = read_text("perf/c-diff.folded")
        .lines()
        .map(str::to_string)
        .collect();
    assert_same_lines("c-diff.folded", diff_lines(false), want);
}

#[test]
fn normalized_diff_equals_inferno_diff_folded_n() {
    let want: Vec<String> = read_text("perf/c-diff.norm.folded")
        .lines()
        .map(str::to_string)
        .collect();
    assert_same_lines("c-diff.norm.folded", diff_lines(true), want);
}

/// A perf recording read hermetically (testdata/perf/README.md).
fn read_perf(name: &str) -> stackconv::Profile {
    let mut o = ReadOptions::default();
    o.perf.symbols.symbol_dirs = vec![testdata("perf/bin"), testdata("perf/debug")];
    o.perf.symbols.kallsyms = Some(testdata(&format!("perf/{name}.kallsyms")));
    o.perf.symbols.perf_map_dir = Some(testdata("perf/maps"));
    o.perf.symbols.no_system_paths = true;
    let path = testdata(&format!("perf/{name}.data"));
    read_path(&path, &o).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn is_python(p: &Profile, f: FrameId) -> bool {
    p.frame(f).kind == FrameKind::Python
}

/// How many samples have a frame of the interpreter's module between two
/// Python frames.
fn interpreter_between(p: &Profile) -> usize {
    p.iter_samples()
        .filter(|s| {
            let frames = p.stack_frames(s.stack);
            let first = frames.iter().position(|&f| is_python(p, f));
            let last = frames.iter().rposition(|&f| is_python(p, f));
            let (Some(first), Some(last)) = (first, last) else {
                return false;
            };
            frames[first..last]
                .iter()
                .any(|&f| !is_python(p, f) && is_interpreter_module(p.str(p.frame(f).module)))
        })
        .count()
}

/// The display names below (callees of) the innermost Python frame.
fn below_python(p: &Profile, stack: Option<StackId>) -> Vec<String> {
    let frames = p.stack_frames(stack);
    let from = frames
        .iter()
        .rposition(|&f| is_python(p, f))
        .map_or(0, |i| i + 1);
    frames[from..]
        .iter()
        .map(|&f| p.frame_name(f).to_string())
        .collect()
}

#[test]
fn python_view_of_the_dwarf_recording() {
    // py-dwarf: python3.12 -X perf webapi.py, --call-graph dwarf, cpu-clock
    // and sched:sched_switch.
    let p = read_perf("py-dwarf");
    let v = apply_view(&p, View::Python);
    assert_eq!(v.totals(), p.totals());
    assert_eq!(v.samples().len(), p.samples().len());
    // Measured when this test was written: 117 of 122 samples have
    // interpreter frames between two Python frames in the mixed view.
    let before = interpreter_between(&p);
    assert!(
        before >= 100,
        "mixed view: {before} samples with interpreter frames between Python frames"
    );
    assert_eq!(interpreter_between(&v), 0);
    // Native frames under the innermost Python frame are kept from the
    // first that is not the interpreter's call machinery on.
    let machinery = |p: &Profile, f: FrameId| {
        let frame = p.frame(f);
        is_interpreter_module(p.str(frame.module))
            && (frame.kind == FrameKind::Unknown || is_call_machinery(p.str(frame.name)))
    };
    let mut trimmed = 0;
    for (a, b) in p.iter_samples().zip(v.iter_samples()) {
        let frames = p.stack_frames(a.stack);
        let Some(last) = frames.iter().rposition(|&f| is_python(&p, f)) else {
            assert_eq!(p.stack_names(a.stack), v.stack_names(b.stack));
            continue;
        };
        let below = &frames[last + 1..];
        let skip = below.iter().take_while(|&&f| machinery(&p, f)).count();
        trimmed += usize::from(skip > 0);
        let want: Vec<String> = below[skip..]
            .iter()
            .map(|&f| p.frame_name(f).to_string())
            .collect();
        assert_eq!(below_python(&v, b.stack), want);
        // Python frames read as Python users read them.
        let py_names: Vec<&str> = v
            .stack_frames(b.stack)
            .into_iter()
            .filter(|&f| is_python(&v, f))
            .map(|f| v.frame_name(f))
            .collect();
        assert!(
            py_names
                .iter()
                .all(|n| !n.starts_with("py::") && n.ends_with(')')),
            "{py_names:?}"
        );
    }
    assert!(trimmed > 50, "{trimmed} samples lost call machinery");
    // The lock wait reads handler -> acquire -> PyThread_acquire_lock_timed
    // -> futex, with no interpreter frame in between the Python frames.
    let lock_wait = v.iter_samples().any(|s| {
        let names = v.stack_names(s.stack);
        let pos = |want: &str| names.iter().position(|n| *n == want);
        let py = names.iter().rposition(|n| n.ends_with(".py)"));
        matches!(
            (py, pos("lock_PyThread_acquire_lock"), pos("PyThread_acquire_lock_timed"), pos("futex_wait")),
            (Some(a), Some(b), Some(c), Some(d)) if a < b && b < c && c < d
        )
    });
    assert!(lock_wait, "no lock wait stack in the python view");
    // The native view has no Python frame left, and the same totals.
    let n = apply_view(&p, View::Native);
    assert_eq!(n.totals(), p.totals());
    assert!(n
        .iter_samples()
        .all(|s| n.stack_frames(s.stack).iter().all(|&f| !is_python(&n, f))));
}

#[test]
fn sched_switch_samples_are_idle_unless_preempted() {
    // Each sched:sched_switch sample is a thread leaving the CPU: a wait
    // (futex, sleep, poll) unless the kernel preempted a runnable thread
    // on its way back to user space.
    let p = read_perf("py-dwarf");
    let sched = p.value_index("sched:sched_switch").expect("sched column");
    let waits = classify(&p, &[]);
    let (mut idle, mut total) = (0i64, 0i64);
    for (i, w) in waits.iter().enumerate() {
        let v = p.value(sched, i);
        if v == 0 {
            continue;
        }
        total += v;
        if w.is_some() {
            idle += v;
            continue;
        }
        let names = p.stack_names(p.samples().stacks()[i]);
        assert!(
            names
                .iter()
                .any(|n| *n == "exit_to_user_mode_loop" || *n == "irqentry_exit_to_user_mode"),
            "a sched_switch sample neither idle nor preempted: {}",
            names.join(";")
        );
    }
    // Measured: 747 of 815.
    assert!(
        total > 0 && idle * 10 >= total * 8,
        "{idle} of {total} idle"
    );
    // --no-idle drops exactly the weight of the samples classified idle.
    let mut f = SampleFilter::default();
    f.idle = IdleFilter::NoIdle;
    let out = filter(&p, &f);
    let idle_weight: Vec<i64> = (0..p.value_types().len())
        .map(|c| {
            waits
                .iter()
                .enumerate()
                .filter(|(_, w)| w.is_some())
                .map(|(i, _)| p.value(c, i))
                .sum()
        })
        .collect();
    assert_eq!(out.dropped, idle_weight);
}

#[test]
fn idle_share_agrees_with_py_spy() {
    // Recorded twice at the same rate and duration, with and without
    // py-spy's --idle: py-spy's own idle share is 1 - off/on.
    let on = read("pyspy/idle-on.raw");
    let off = read("pyspy/idle-off.raw");
    let py_spy_share = 1.0 - off.total(0) as f64 / on.total(0) as f64;
    let mut f = SampleFilter::default();
    f.idle = IdleFilter::NoIdle;
    let out = filter(&on, &f);
    let ours = out.dropped[0] as f64 / on.total(0) as f64;
    // Measured: py-spy 51.5% (477 of 983 samples kept without --idle),
    // ours 53.2% (523 of 983 classified idle, 520 of them in
    // Condition.wait); time.sleep (C) is invisible to py-spy without
    // --native, so its 358 samples in slow_query count as busy.
    assert!(
        (ours - py_spy_share).abs() <= 0.10,
        "ours {ours:.3} vs py-spy {py_spy_share:.3}"
    );
    assert_eq!(add(&out.profile.totals(), &out.dropped), on.totals());
}

fn add(a: &[i64], b: &[i64]) -> Vec<i64> {
    a.iter().zip(b).map(|(x, y)| x + y).collect()
}

/// A `-top` row without sum%: flat, flat%, cum, cum%, name.
type RowNoSum = (i64, String, i64, String, String);

/// One row of `go tool pprof -top`.
#[derive(Debug, PartialEq)]
struct PprofRow {
    flat: i64,
    flat_pct: String,
    sum_pct: String,
    cum: i64,
    cum_pct: String,
    name: String,
}

/// A value as `-top` prints it with an exact unit (`-unit=ns`, `-unit=B`)
/// or a count: digits and a unit suffix.
fn parse_value(s: &str) -> i64 {
    let digits: String = s
        .chars()
        .take_while(|c| c.is_ascii_digit() || *c == '-')
        .collect();
    digits.parse().unwrap_or_else(|_| panic!("value {s:?}"))
}

/// The rows and the total (`... of T total`) of a `-top` output.
fn parse_top(text: &str) -> (Vec<PprofRow>, i64) {
    let mut total = None;
    let mut rows = Vec::new();
    let mut in_rows = false;
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("Showing nodes accounting for ") {
            let t = rest.rsplit(" of ").next().unwrap_or("");
            total = Some(parse_value(t.trim_end_matches(" total")));
            continue;
        }
        if line.trim_start().starts_with("flat  flat%") {
            in_rows = true;
            continue;
        }
        if !in_rows {
            continue;
        }
        // %10s %s %s %10s %s  %s%s; percentages may be "  100%".
        let mut fields: Vec<&str> = Vec::new();
        let mut rest = line;
        for _ in 0..5 {
            rest = rest.trim_start();
            let end = rest.find(' ').unwrap_or(rest.len());
            fields.push(&rest[..end]);
            rest = &rest[end..];
        }
        let name = rest.trim_start();
        let name = name
            .strip_suffix(" (partial-inline)")
            .or_else(|| name.strip_suffix(" (inline)"))
            .unwrap_or(name);
        rows.push(PprofRow {
            flat: parse_value(fields[0]),
            flat_pct: fields[1].to_string(),
            sum_pct: fields[2].to_string(),
            cum: parse_value(fields[3]),
            cum_pct: fields[4].to_string(),
            name: name.to_string(),
        });
    }
    (rows, total.expect("a total line"))
}

/// Undo the shell quoting (`printf %q`) of an EXPECTED command argument.
fn shell_unquote(s: &str) -> String {
    let mut out = String::new();
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            if let Some(n) = chars.next() {
                out.push(n);
            }
        } else {
            out.push(c);
        }
    }
    out
}

#[test]
fn top_and_stack_filters_equal_go_tool_pprof() {
    let expected = read_text("go/EXPECTED");
    let mut checked = 0;
    for line in expected.lines() {
        let Some((file, command)) = line.split_once('\t') else {
            continue;
        };
        if !file.ends_with(".top.txt") {
            continue;
        }
        let args: Vec<&str> = command.split_whitespace().collect();
        let input = args.last().expect("input");
        let p = read(&format!("go/{input}"));
        let mut column = p.meta().default_value;
        let mut t = StackTransform::default();
        for a in &args {
            let Some((flag, value)) = a.split_once('=') else {
                continue;
            };
            let re = || Some(Regex::new(&shell_unquote(value)).expect("regex"));
            match flag {
                "-sample_index" => column = value.parse().expect("index"),
                "-focus" => t.focus = re(),
                "-ignore" => t.ignore = re(),
                "-hide" => t.hide = re(),
                "-show" => t.show = re(),
                "-show_from" => t.show_from = re(),
                "-prune_from" => t.prune_from = re(),
                _ => {}
            }
        }
        let out = transform(&p, &t);
        let mut o = TopOptions::default();
        o.column = column;
        // pprof takes the percentages' total before the filters.
        o.total = Some(p.total(column));
        let ours = top_with(&out.profile, &o);
        let (want, want_total) = parse_top(&read_text(&format!("go/{file}")));
        assert_eq!(ours.total, want_total, "{file}: total");
        let got: Vec<PprofRow> = ours
            .rows
            .iter()
            .map(|r| PprofRow {
                flat: r.flat,
                flat_pct: format_percentage(r.flat_pct).trim().to_string(),
                sum_pct: format_percentage(r.sum_pct).trim().to_string(),
                cum: r.cum,
                cum_pct: format_percentage(r.cum_pct).trim().to_string(),
                name: r.name.clone(),
            })
            .collect();
        if file.starts_with("dropframes") {
            // pprof tells unsymbolized locations apart by address (two
            // `[server]` rows); the model has no addresses, so they are one
            // function here. Compare the others without sum% (which the
            // merged row shifts), and the merged weight.
            let unknown = |r: &&PprofRow| r.name.starts_with('[');
            let strip = |rows: &[PprofRow]| -> Vec<RowNoSum> {
                rows.iter()
                    .filter(|r| !unknown(r))
                    .map(|r| {
                        (
                            r.flat,
                            r.flat_pct.clone(),
                            r.cum,
                            r.cum_pct.clone(),
                            r.name.clone(),
                        )
                    })
                    .collect()
            };
            assert_eq!(strip(&got), strip(&want), "{file}");
            let sum =
                |rows: &[PprofRow]| -> i64 { rows.iter().filter(unknown).map(|r| r.flat).sum() };
            assert_eq!(sum(&got), sum(&want), "{file}: unsymbolized weight");
            assert_eq!(got.iter().filter(unknown).count(), 1, "{file}");
            assert_eq!(want.iter().filter(unknown).count(), 2, "{file}");
            checked += 1;
            continue;
        }
        for (i, (g, w)) in got.iter().zip(&want).enumerate() {
            assert_eq!(g, w, "{file}: row {}", i + 1);
        }
        assert_eq!(got.len(), want.len(), "{file}: rows");
        checked += 1;
    }
    assert!(checked >= 10, "only {checked} -top outputs in EXPECTED");
}

/// The traces of a `go tool pprof -traces` output: root-first stack text
/// (frames joined by `;`, `(inline)` labels dropped) -> summed value.
fn parse_traces(text: &str) -> BTreeMap<String, i64> {
    let mut out = BTreeMap::new();
    let mut blocks: Vec<Vec<&str>> = Vec::new();
    for line in text.lines() {
        if line.starts_with("-----------+") {
            blocks.push(Vec::new());
        } else if let Some(b) = blocks.last_mut() {
            b.push(line);
        }
    }
    for block in blocks {
        let mut value = None;
        let mut frames: Vec<String> = Vec::new();
        for line in block {
            let first = line.split_whitespace().next().unwrap_or("");
            if value.is_none() && first.ends_with(':') {
                continue; // a label line: "%10s:  %s"
            }
            let name = if value.is_none() {
                value = Some(parse_value(first));
                line.trim_start()[first.len()..].trim()
            } else {
                line.trim()
            };
            let name = name.strip_suffix(" (inline)").unwrap_or(name);
            frames.push(name.to_string());
        }
        // The output ends with a separator: an empty last block.
        let Some(value) = value else { continue };
        frames.reverse();
        *out.entry(frames.join(";")).or_insert(0) += value;
    }
    out
}

/// Our transform's stacks the same way (samples without frames skipped, as
/// `-traces` does).
fn our_traces(p: &Profile, column: usize) -> BTreeMap<String, i64> {
    let mut out = BTreeMap::new();
    for s in p.iter_samples() {
        if s.stack.is_none() {
            continue;
        }
        *out.entry(p.stack_names(s.stack).join(";")).or_insert(0) += s.values[column];
    }
    out
}

#[test]
fn stack_filters_give_go_tool_pprof_traces() {
    let expected = read_text("go/EXPECTED");
    let mut checked = 0;
    for line in expected.lines() {
        let Some((file, command)) = line.split_once('\t') else {
            continue;
        };
        if !file.ends_with(".traces.txt") {
            continue;
        }
        let args: Vec<&str> = command.split_whitespace().collect();
        let input = args.last().expect("input");
        let p = read(&format!("go/{input}"));
        let mut column = p.meta().default_value;
        let mut t = StackTransform::default();
        for a in &args {
            let Some((flag, value)) = a.split_once('=') else {
                continue;
            };
            let re = || Some(Regex::new(&shell_unquote(value)).expect("regex"));
            match flag {
                "-sample_index" => column = value.parse().expect("index"),
                "-focus" => t.focus = re(),
                "-ignore" => t.ignore = re(),
                "-hide" => t.hide = re(),
                "-show" => t.show = re(),
                "-show_from" => t.show_from = re(),
                "-prune_from" => t.prune_from = re(),
                _ => {}
            }
        }
        let out = transform(&p, &t);
        let got = our_traces(&out.profile, column);
        let want = parse_traces(&read_text(&format!("go/{file}")));
        if got != want {
            let only_got = got.iter().find(|(k, v)| want.get(*k) != Some(v));
            let only_want = want.iter().find(|(k, v)| got.get(*k) != Some(v));
            panic!(
                "{file}: first stack differing in ours: {only_got:?}; in pprof's: {only_want:?}"
            );
        }
        assert_eq!(
            add(&out.profile.totals(), &out.dropped),
            p.totals(),
            "{file}: kept + dropped"
        );
        checked += 1;
    }
    assert!(checked >= 10, "only {checked} -traces outputs in EXPECTED");
}

#[test]
fn wait_sites_of_the_dwarf_recording() {
    let p = read_perf("py-dwarf");
    let sched = p.value_index("sched:sched_switch").expect("sched column");
    let sites = wait_sites(&p, sched, &[]);
    let idle: i64 = classify(&p, &[])
        .iter()
        .enumerate()
        .filter(|(_, w)| w.is_some())
        .map(|(i, _)| p.value(sched, i))
        .sum();
    assert_eq!(sites.iter().map(|s| s.weight).sum::<i64>(), idle);
    let has = |wait: Wait, blocked: &str, caller: &str| {
        sites.iter().any(|s| {
            s.wait == wait && s.blocked_in.starts_with(blocked) && s.caller.starts_with(caller)
        })
    };
    // webapi.py: slow_query sleeps (time.sleep), workers wait for the
    // queue (Queue.get -> Condition.wait).
    assert!(has(Wait::Sleep, "time_sleep", "py::Repository.slow_query:"));
    assert!(has(Wait::Lock, "py::Condition.wait:", "py::Queue.get:"));
    assert!(sites.windows(2).all(|w| w[0].weight >= w[1].weight));
}
