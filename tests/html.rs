//! The HTML report in a real browser: headless Chromium opens the report
//! of testdata recordings, runs a script given in the address
//! (`report.html#test=...`) and the page writes the result into
//! `<pre id="state">`, which `--dump-dom` prints. The checks compare the
//! page's numbers with what the command's other outputs say (folded
//! totals, `top`, `waits --json`). Without Chromium (`/usr/bin/chromium`,
//! `chromium` on the PATH, or `$CHROMIUM`), the browser tests print a
//! message and pass; the differential SVG test needs no browser.

mod common;

use common::{stackconv, testdata};
use std::path::{Path, PathBuf};
use std::process::Command as Process;

/// The options that make a perf.data read hermetic (as tests/cli.rs).
fn perf_symbol_args(kallsyms: &str) -> Vec<String> {
    let perf = testdata("perf");
    let p = |s: &str| perf.join(s).display().to_string();
    vec![
        "--symbol-dir".into(),
        p("bin"),
        "--symbol-dir".into(),
        p("debug"),
        "--kallsyms".into(),
        p(kallsyms),
        "--perf-map-dir".into(),
        p("maps"),
        "--no-system-paths".into(),
        "--quiet".into(),
    ]
}

fn run(args: &[String]) -> String {
    let out = stackconv().args(args).output().expect("run stackconv");
    assert!(
        out.status.success(),
        "stackconv {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("UTF-8 output")
}

/// The total weight of folded text.
fn folded_total(text: &str) -> i64 {
    text.lines()
        .filter_map(|l| l.rsplit_once(' '))
        .map(|(_, n)| n.trim().parse::<i64>().expect("a count"))
        .sum()
}

fn chromium() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("CHROMIUM") {
        return Some(PathBuf::from(p));
    }
    let fixed = PathBuf::from("/usr/bin/chromium");
    if fixed.exists() {
        return Some(fixed);
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .flat_map(|d| ["chromium", "chromium-browser"].map(|n| d.join(n)))
        .find(|p| p.exists())
}

/// Open `html` in headless Chromium with `script` (a JavaScript expression
/// over `stackconv`, the page's API) and return what it evaluated to.
fn browse(html: &Path, script: &str) -> serde_json::Value {
    let browser = chromium().expect("chromium");
    let profile_dir = tempfile::tempdir().expect("temporary directory");
    let encoded: String = script
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect();
    let url = format!("file://{}#test={encoded}", html.display());
    let out = Process::new(browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--no-first-run",
            "--window-size=1600,1000",
            "--virtual-time-budget=5000",
        ])
        .arg(format!("--user-data-dir={}", profile_dir.path().display()))
        .arg("--dump-dom")
        .arg(&url)
        .output()
        .expect("run chromium");
    let dom = String::from_utf8_lossy(&out.stdout);
    let start = dom
        .find("<pre id=\"state\"")
        .and_then(|at| dom[at..].find('>').map(|gt| at + gt + 1))
        .unwrap_or_else(|| panic!("no state element in the DOM:\n{dom}"));
    let end = start + dom[start..].find("</pre>").expect("end of state");
    let text = dom[start..end]
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&");
    let state: serde_json::Value = serde_json::from_str(&text).expect("state is JSON");
    assert_eq!(state["ok"], true, "the test script failed: {state}");
    state["value"].clone()
}

fn skip_without_chromium(test: &str) -> bool {
    if chromium().is_none() {
        println!("{test}: skipped: chromium is not installed (apt-get install chromium)");
        return true;
    }
    false
}

/// The `cum%` of `function` in `stackconv top` output.
fn top_cum_pct(top: &str, function: &str) -> f64 {
    let line = top
        .lines()
        .find(|l| l.split_whitespace().last() == Some(function))
        .unwrap_or_else(|| panic!("{function} not in top:\n{top}"));
    let cols: Vec<&str> = line.split_whitespace().collect();
    cols[4].trim_end_matches('%').parse().expect("cum%")
}

fn n(v: &serde_json::Value) -> f64 {
    v.as_f64().unwrap_or_else(|| panic!("not a number: {v}"))
}

/// The report is one file without a single URL: it opens offline.
fn assert_self_contained(html: &Path) {
    let text = std::fs::read_to_string(html).expect("read the report");
    assert!(text.starts_with("<!DOCTYPE html>"));
    for url in ["http://", "https://", "src=\"//", "href=\"//"] {
        assert!(!text.contains(url), "{} contains {url}", html.display());
    }
}

#[test]
fn report_totals_search_threads_off_cpu_and_waits() {
    let dir = tempfile::tempdir().unwrap();
    let data = testdata("perf/mutex.data").display().to_string();
    let html = dir.path().join("mutex.html");
    let sym = perf_symbol_args("mutex.kallsyms");
    let mut args = vec![data.clone(), "-o".into(), html.display().to_string()];
    args.extend(sym.clone());
    run(&args);
    assert_self_contained(&html);
    if skip_without_chromium("report_totals_search_threads_off_cpu_and_waits") {
        return;
    }
    let state = browse(
        &html,
        "(() => { const s = stackconv; const r = { total: s.total(), threads: s.threads() };
           r.lock = s.search('^__GI___lll_lock_wait$');
           r.perThread = r.threads.map(t => s.selectThread(t.index));
           s.selectThread(-1);
           r.off = s.selectValue(s.values().findIndex(v => v.kind === 'off-cpu'));
           r.waits = s.waits();
           r.sandwich = s.sandwich('__GI___lll_lock_wait');
           r.inverted = s.invert(true);
           return r; })()",
    );
    let with = |extra: &[&str]| {
        let mut a = vec![
            data.clone(),
            "-o".into(),
            "-".into(),
            "--to".into(),
            "folded".into(),
        ];
        a.extend(extra.iter().map(|s| s.to_string()));
        a.extend(sym.clone());
        folded_total(&run(&a))
    };
    // The flame graph's root is the profile's total of the shown column.
    assert_eq!(n(&state["total"]) as i64, with(&[]));
    // Search share as `top` says the function's cumulative share.
    let mut top_args = vec!["top".to_string(), data.clone(), "-n".into(), "100".into()];
    top_args.extend(sym.clone());
    let top = run(&top_args);
    let want = top_cum_pct(&top, "__GI___lll_lock_wait");
    let got = 100.0 * n(&state["lock"]);
    assert!(
        (got - want).abs() <= 0.1,
        "search share {got}% vs top {want}%"
    );
    // Each thread's total is what --tid keeps.
    let threads = state["threads"].as_array().unwrap();
    assert!(threads.len() >= 4);
    let mut differ = false;
    for (t, total) in threads.iter().zip(state["perThread"].as_array().unwrap()) {
        let tid = t["tid"].as_u64().unwrap().to_string();
        assert_eq!(n(total) as i64, with(&["--tid", &tid]), "thread {tid}");
        differ |= n(total) != n(&state["total"]);
    }
    assert!(differ, "selecting a thread changes the total");
    // The off-CPU value shows the off-CPU total.
    assert_eq!(n(&state["off"]) as i64, with(&["--off-cpu"]));
    // Waits: the model's classification, as `stackconv waits` reports it.
    let mut waits_args = vec!["waits".to_string(), data.clone(), "--json".into()];
    waits_args.extend(sym.clone());
    let waits: serde_json::Value = serde_json::from_str(&run(&waits_args)).unwrap();
    let rows = state["waits"]["rows"].as_array().unwrap();
    let page_waiting: f64 = rows.iter().map(|r| n(&r["weight"])).sum();
    assert_eq!(page_waiting as i64, waits["waiting"].as_i64().unwrap());
    let first = &waits["rows"][0];
    assert_eq!(rows[0]["blocked_in"], first["blocked_in"]);
    assert_eq!(rows[0]["wait"], first["wait"]);
    // The sandwich's callers and callees both add up to the function's total.
    let sandwich = &state["sandwich"];
    assert_eq!(n(&sandwich["callers"]), n(&sandwich["callees"]));
    assert!(n(&sandwich["callers"]) > 0.0);
    // The inverted tree keeps the total.
    assert_eq!(n(&state["inverted"]), n(&state["off"]));
}

#[test]
fn report_search_share_matches_top_on_cpu_profile() {
    let dir = tempfile::tempdir().unwrap();
    let data = testdata("perf/c-2ev.data").display().to_string();
    let html = dir.path().join("c-2ev.html");
    let sym = perf_symbol_args("c-2ev.kallsyms");
    let mut args = vec![data.clone(), "-o".into(), html.display().to_string()];
    args.extend(sym.clone());
    run(&args);
    if skip_without_chromium("report_search_share_matches_top_on_cpu_profile") {
        return;
    }
    let state = browse(
        &html,
        "({ total: stackconv.total(), msort: stackconv.search('^msort_with_tmp\\\\.part\\\\.0$'),
            values: stackconv.values() })",
    );
    let mut top_args = vec!["top".to_string(), data.clone(), "-n".into(), "100".into()];
    top_args.extend(sym.clone());
    let top = run(&top_args);
    let want = top_cum_pct(&top, "msort_with_tmp.part.0");
    let got = 100.0 * n(&state["msort"]);
    assert!(
        (got - want).abs() <= 0.1,
        "search share {got}% vs top {want}%"
    );
    let mut fold = vec![
        data,
        "-o".into(),
        "-".into(),
        "--to".into(),
        "folded".into(),
    ];
    fold.extend(sym);
    assert_eq!(n(&state["total"]) as i64, folded_total(&run(&fold)));
    let kinds: Vec<&str> = state["values"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["kind"].as_str().unwrap())
        .collect();
    assert!(kinds.contains(&"off-cpu"), "{kinds:?}");
}

/// A function that ran only before: `fdget_pos` is in c-before's stacks
/// and in none of c-after's (compare their folded outputs).
const ONLY_BEFORE: &str = "fdget_pos";

fn diff_args(out: &Path) -> Vec<String> {
    let mut a = vec![
        "diff".to_string(),
        testdata("perf/c-before.data").display().to_string(),
        testdata("perf/c-after.data").display().to_string(),
        "-o".into(),
        out.display().to_string(),
    ];
    a.extend(perf_symbol_args("c-before.kallsyms"));
    a
}

#[test]
fn the_function_only_before_is_in_both_sides_folded_as_expected() {
    let fold = |data: &str, kallsyms: &str| {
        let mut a = vec![
            testdata(data).display().to_string(),
            "-o".into(),
            "-".into(),
            "--to".into(),
            "folded".into(),
        ];
        a.extend(perf_symbol_args(kallsyms));
        run(&a)
    };
    let has = |text: &str| {
        text.lines()
            .any(|l| l.split([';', ' ']).any(|f| f == ONLY_BEFORE))
    };
    assert!(has(&fold("perf/c-before.data", "c-before.kallsyms")));
    assert!(!has(&fold("perf/c-after.data", "c-after.kallsyms")));
}

#[test]
fn differential_svg_draws_frames_only_before() {
    let dir = tempfile::tempdir().unwrap();
    let svg = dir.path().join("d.svg");
    run(&diff_args(&svg));
    let text = std::fs::read_to_string(&svg).unwrap();
    let title = format!("<title>{ONLY_BEFORE} (removed) (");
    let at = text
        .find(&title)
        .unwrap_or_else(|| panic!("no removed {ONLY_BEFORE} frame in the differential SVG"));
    let rect = &text[at..at + text[at..].find("/>").unwrap()];
    assert!(rect.contains("fill=\"rgb(170,110,230)\""), "{rect}");
    let width: f64 = rect
        .split("width=\"")
        .nth(1)
        .and_then(|w| w.split('%').next())
        .and_then(|w| w.parse().ok())
        .expect("a width");
    assert!(width > 0.0, "drawn with a width: {rect}");
    assert!(text.contains("only before, drawn at their before width"));
}

#[test]
fn differential_report_marks_frames_only_before() {
    let dir = tempfile::tempdir().unwrap();
    let html = dir.path().join("d.html");
    run(&diff_args(&html));
    assert_self_contained(&html);
    if skip_without_chromium("differential_report_marks_frames_only_before") {
        return;
    }
    let state = browse(
        &html,
        &format!(
            "({{ gone: stackconv.find('^{ONLY_BEFORE}$'), total: stackconv.total(),
                kept: stackconv.find('^main$'),
                after: stackconv.selectValue(1), before: stackconv.selectValue(0) }})"
        ),
    );
    let gone = state["gone"].as_array().unwrap();
    assert!(
        !gone.is_empty(),
        "{ONLY_BEFORE} is drawn in the diff report"
    );
    for f in gone {
        assert_eq!(f["removed"], true, "{f}");
        assert!(n(&f["before"]) > 0.0 && n(&f["after"]) == 0.0);
        assert_eq!(
            n(&f["total"]),
            n(&f["before"]),
            "drawn at its before weight"
        );
    }
    // The difference view draws after plus what was removed.
    assert!(n(&state["total"]) > n(&state["after"]));
    assert!(state["kept"]
        .as_array()
        .unwrap()
        .iter()
        .all(|f| f["removed"] == false));
}
