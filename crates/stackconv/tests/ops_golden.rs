//! Operations of stackconv-model on real inputs, compared with the
//! reference tools' outputs recorded by `testdata/record.sh`:
//! `inferno-diff-folded` (with and without `-n`) and `go tool pprof -top`
//! with `-focus/-ignore/-hide/-show`.

use std::path::{Path, PathBuf};

use stackconv::model::diff::diff;
use stackconv::{read_path, ReadOptions};

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
    let d = diff(&before, &after, normalize);
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
