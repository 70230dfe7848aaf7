//! Parquet and Arrow tables through the command: the testdata recordings
//! read back exactly, read by DuckDB (per-leaf totals equal `stackconv
//! top`; labels are columns), and many inputs in one table.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::{perf_symbol_args, stackconv, testdata};

/// Recordings and the kallsyms file each was made with.
const RECORDINGS: [&str; 6] = ["c-fp", "c-2ev", "mutex", "py-dwarf", "py313-jit", "cpp"];

fn recording(name: &str) -> (PathBuf, Vec<std::ffi::OsString>) {
    let mut args = perf_symbol_args(&format!("{name}.kallsyms"));
    args.push("--quiet".into());
    (testdata(&format!("perf/{name}.data")), args)
}

fn run_ok(cmd: &mut assert_cmd::Command) -> String {
    let out = cmd.output().expect("run stackconv");
    assert!(
        out.status.success(),
        "{cmd:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8")
}

fn folded(input: &Path, args: &[std::ffi::OsString], extra: &[&str]) -> String {
    run_ok(
        stackconv()
            .arg(input)
            .args(args)
            .args(extra)
            .args(["-o", "-", "--to", "folded"]),
    )
}

#[test]
fn tables_of_the_recordings_read_back_give_the_same_folded_text() {
    let dir = tempfile::tempdir().unwrap();
    for name in RECORDINGS {
        let (input, args) = recording(name);
        let variants = [&[][..], &["--per-thread"], &["--value", "samples"]];
        let wants: Vec<String> = variants
            .iter()
            .map(|extra| folded(&input, &args, extra))
            .collect();
        for ext in ["parquet", "arrow"] {
            let table = dir.path().join(format!("{name}.{ext}"));
            run_ok(stackconv().arg(&input).args(&args).arg("-o").arg(&table));
            for (extra, want) in variants.iter().zip(&wants) {
                assert!(!want.is_empty(), "{name}");
                let got = folded(&table, &["--quiet".into()], extra);
                assert!(*want == got, "{name}.{ext} {extra:?}: folded text differs");
            }
        }
    }
}

/// Whether DuckDB can be used from python3 (`.ci/run` installs it with
/// pip); said when not.
fn duckdb() -> bool {
    let ok = Command::new("python3")
        .args(["-c", "import duckdb"])
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        eprintln!("skipped: python3 cannot import duckdb (python3 -m pip install duckdb)");
    }
    ok
}

/// Run `sql` in DuckDB; its rows, tab-separated.
fn duckdb_rows(sql: &str) -> Vec<Vec<String>> {
    let script = "import duckdb, sys\n\
                  for row in duckdb.sql(sys.argv[1]).fetchall():\n    \
                  print('\\t'.join('' if v is None else str(v) for v in row))\n";
    let out = Command::new("python3")
        .args(["-c", script, sql])
        .output()
        .expect("python3");
    assert!(
        out.status.success(),
        "{sql}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| l.split('\t').map(str::to_string).collect())
        .collect()
}

/// `stackconv top`'s flat weight per function (those of non-zero weight).
fn top_flat(input: &Path, args: &[std::ffi::OsString]) -> BTreeMap<String, i64> {
    let text = run_ok(
        stackconv()
            .arg("top")
            .arg(input)
            .args(args)
            .args(["-n", "1000000"]),
    );
    let row = regex::Regex::new(r"^\s*(-?\d+)\s+\S+%\s+\S+%\s+-?\d+\s+\S+%  (.*)$").unwrap();
    let mut flat = BTreeMap::new();
    for line in text.lines() {
        if let Some(c) = row.captures(line) {
            let w: i64 = c[1].parse().unwrap();
            if w != 0 {
                *flat.entry(c[2].to_string()).or_insert(0) += w;
            }
        }
    }
    assert!(!flat.is_empty(), "no rows in top: {text}");
    flat
}

#[test]
fn duckdb_per_leaf_totals_equal_top_and_labels_are_columns() {
    if !duckdb() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    for name in RECORDINGS {
        let (input, args) = recording(name);
        let table = dir.path().join(format!("{name}.parquet"));
        run_ok(
            stackconv()
                .arg(&input)
                .args(&args)
                .args(["--label", "service=api", "--label", "release=a"])
                .args(["--label-from-path", r"perf/(?P<host>[^/.]+)\.data$"])
                .arg("-o")
                .arg(&table),
        );
        let t = table.display();
        // The column top shows: the input's default value column, as the
        // table's metadata names it.
        let column = &duckdb_rows(&format!(
            "SELECT json_extract_string(decode(value), '$[0].default_value') \
             FROM parquet_kv_metadata('{t}') WHERE decode(key) = 'stackconv.inputs'"
        ))[0][0];
        let rows = duckdb_rows(&format!(
            "SELECT leaf, sum({column}) FROM '{t}' WHERE leaf IS NOT NULL \
             GROUP BY leaf HAVING sum({column}) <> 0"
        ));
        let by_leaf: BTreeMap<String, i64> = rows
            .iter()
            .map(|r| (r[0].clone(), r[1].parse().unwrap()))
            .collect();
        assert_eq!(by_leaf, top_flat(&input, &args), "{name}: {column} by leaf");
        let labels = duckdb_rows(&format!(
            "SELECT DISTINCT service, release, host, input FROM '{t}'"
        ));
        assert_eq!(
            labels,
            [vec![
                "api".to_string(),
                "a".to_string(),
                name.to_string(),
                input.display().to_string()
            ]],
            "{name}"
        );
    }
}

/// `n` copies of a recording as `hosts/hNNN/perf.data` under `dir`.
fn fleet(dir: &Path, recording: &Path, n: usize) -> Vec<PathBuf> {
    (0..n)
        .map(|i| {
            let host = dir.join(format!("hosts/h{i:03}"));
            std::fs::create_dir_all(&host).unwrap();
            let path = host.join("perf.data");
            std::fs::copy(recording, &path).unwrap();
            path
        })
        .collect()
}

#[test]
fn many_inputs_make_one_table_with_a_row_group_per_input() {
    let dir = tempfile::tempdir().unwrap();
    let (input, args) = recording("c-fp");
    let inputs = fleet(dir.path(), &input, 24);
    let table = dir.path().join("fleet.parquet");
    run_ok(
        stackconv()
            .args(&inputs)
            .args(&args)
            .args(["--label", "service=api"])
            .args(["--label-from-path", "hosts/(?P<host>[^/]+)/"])
            .arg("-o")
            .arg(&table),
    );
    // The fleet's flame graph from the table equals the merged inputs'.
    for extra in [&[][..], &["--focus", "cmp_int"]] {
        let merged = folded(&inputs[0], &args, extra);
        let merged_all = run_ok(
            stackconv()
                .args(&inputs)
                .args(&args)
                .args(extra)
                .args(["-o", "-", "--to", "folded"]),
        );
        let from_table = folded(&table, &["--quiet".into()], extra);
        assert!(
            from_table == merged_all,
            "{extra:?}: table != merged inputs"
        );
        // 24 equal inputs: every line weighs 24 times one input's.
        let one: Vec<(String, i64)> = merged
            .lines()
            .map(|l| {
                let (s, w) = l.rsplit_once(' ').unwrap();
                (s.to_string(), w.parse::<i64>().unwrap() * 24)
            })
            .collect();
        let all: Vec<(String, i64)> = merged_all
            .lines()
            .map(|l| {
                let (s, w) = l.rsplit_once(' ').unwrap();
                (s.to_string(), w.parse().unwrap())
            })
            .collect();
        assert_eq!(one, all);
    }
    if duckdb() {
        let t = table.display();
        let groups = duckdb_rows(&format!(
            "SELECT count(*) FROM parquet_metadata('{t}') WHERE column_id = 0"
        ));
        assert_eq!(groups, [vec!["24".to_string()]], "row groups");
        let hosts = duckdb_rows(&format!(
            "SELECT host, service, sum(cpu_clock_ns) FROM '{t}' GROUP BY ALL ORDER BY host"
        ));
        assert_eq!(hosts.len(), 24);
        assert_eq!(hosts[0][0], "h000");
        assert!(hosts.iter().all(|r| r[1] == "api" && r[2] == hosts[0][2]));
    }
}

#[test]
fn labels_are_for_tables_and_bad_tables_are_located_errors() {
    let dir = tempfile::tempdir().unwrap();
    let (input, args) = recording("c-fp");
    let out = stackconv()
        .arg(&input)
        .args(&args)
        .args(["--label", "host=a", "-o"])
        .arg(dir.path().join("x.svg"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--label"));
    let out = stackconv()
        .arg(&input)
        .args(&args)
        .args(["--label-from-path", "hosts/[^/]+/", "-o"])
        .arg(dir.path().join("x.parquet"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "no named group");
    let out = stackconv()
        .arg(&input)
        .args(&args)
        .args(["--label", "pid=1", "-o"])
        .arg(dir.path().join("x.parquet"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("label \"pid\""));

    // A truncated table: exit 1, the file named, no panic.
    let table = dir.path().join("t.parquet");
    run_ok(stackconv().arg(&input).args(&args).arg("-o").arg(&table));
    let bytes = std::fs::read(&table).unwrap();
    let cut = dir.path().join("cut.parquet");
    std::fs::write(&cut, &bytes[..bytes.len() / 2]).unwrap();
    let out = stackconv()
        .arg(&cut)
        .args(["-o", "-", "--to", "folded"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("cut.parquet: parquet:"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
}

/// The README's queries ("Many hosts"), on two releases of a service:
/// c-before on three hosts as release `a`, c-after on two as release `b`,
/// one table per release, queried together.
const TOP_BY_HOST: &str = "SELECT service, host, leaf, sum(cpu_clock_ns) AS cpu_ns
FROM read_parquet('fleet/*.parquet', union_by_name = true)
GROUP BY ALL ORDER BY cpu_ns DESC LIMIT 20";

const RELEASE_CHANGE: &str = "WITH t AS (
  SELECT release, leaf, sum(cpu_clock_ns) AS ns
  FROM read_parquet('fleet/*.parquet', union_by_name = true) GROUP BY ALL
), s AS (
  SELECT release, leaf, ns / sum(ns) OVER (PARTITION BY release) AS share FROM t
)
SELECT leaf,
       100 * (coalesce(sum(share) FILTER (WHERE release = 'b'), 0)
            - coalesce(sum(share) FILTER (WHERE release = 'a'), 0)) AS change_pct
FROM s GROUP BY leaf ORDER BY abs(change_pct) DESC LIMIT 20";

#[test]
fn the_readme_queries_give_top_and_its_difference() {
    if !duckdb() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("fleet")).unwrap();
    let mut flat = BTreeMap::new();
    for (release, name, hosts) in [("a", "c-before", 0..3), ("b", "c-after", 10..12)] {
        let (input, args) = recording(name);
        flat.insert(release, top_flat(&input, &args));
        let inputs: Vec<PathBuf> = hosts
            .map(|h| {
                let d = dir.path().join(format!("{release}/hosts/h{h:02}"));
                std::fs::create_dir_all(&d).unwrap();
                std::fs::copy(&input, d.join("perf.data")).unwrap();
                d.join("perf.data")
            })
            .collect();
        run_ok(
            stackconv()
                .args(&inputs)
                .args(&args)
                .args(["--label", "service=api", "--label"])
                .arg(format!("release={release}"))
                .args(["--label-from-path", "hosts/(?P<host>[^/]+)/"])
                .arg("-o")
                .arg(dir.path().join(format!("fleet/{release}.parquet"))),
        );
    }
    let sql = |q: &str| {
        let here = dir.path().display().to_string();
        duckdb_rows(&format!("SET file_search_path = '{here}'; {q}").replace("; ", ";\n"))
    };
    let rows = sql(TOP_BY_HOST);
    assert_eq!(rows.len(), 20);
    for r in &rows {
        let release = if r[1].starts_with("h0") { "a" } else { "b" };
        assert_eq!(r[0], "api");
        let want = flat[release][&r[2]];
        assert_eq!(r[3].parse::<i64>().unwrap(), want, "{r:?}");
    }
    let total = |release: &str| flat[release].values().sum::<i64>() as f64;
    let rows = sql(RELEASE_CHANGE);
    assert_eq!(rows.len(), 20);
    for r in &rows {
        let share =
            |release: &str| flat[release].get(&r[0]).copied().unwrap_or(0) as f64 / total(release);
        let want = 100.0 * (share("b") - share("a"));
        let got: f64 = r[1].parse().unwrap();
        assert!((got - want).abs() < 1e-9, "{r:?}: want {want}");
    }
}

/// A damaged Parquet file on which the parquet crate panics (caught by
/// the table reader) gets one line of error, without the panic's message
/// and backtrace on stderr.
#[test]
fn a_table_the_parquet_crate_panics_on_is_one_clean_error() {
    let dir = tempfile::tempdir().unwrap();
    let table = dir.path().join("t.parquet");
    let out = stackconv()
        .arg(testdata("perf/c-before.data"))
        .args(perf_symbol_args("perf/c-before.kallsyms"))
        .args(["-q", "-o"])
        .arg(&table)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let data = std::fs::read(&table).unwrap();
    let bad = dir.path().join("bad.parquet");
    let mut panics_seen = 0;
    // Flip bytes of the first row group until the parquet crate panics
    // (it does at several places in this file), then check the message.
    for at in 0..data.len().min(2048) {
        let mut flipped = data.clone();
        flipped[at] ^= 0x55;
        std::fs::write(&bad, &flipped).unwrap();
        let out = stackconv()
            .arg(&bad)
            .arg("-o")
            .arg(dir.path().join("bad.folded"))
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        if !stderr.contains("damaged file (the reader failed") {
            continue;
        }
        panics_seen += 1;
        assert_eq!(out.status.code(), Some(1), "{stderr}");
        assert!(!stderr.contains("panicked"), "byte {at}: {stderr}");
        assert_eq!(stderr.lines().count(), 1, "byte {at}: {stderr}");
        if panics_seen == 3 {
            break;
        }
    }
    assert!(
        panics_seen > 0,
        "no flipped byte made the parquet crate panic"
    );
}
