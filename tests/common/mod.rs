//! What the end-to-end tests of the command share: where the repository and
//! its testdata are, the built binary, and the options that make a perf.data
//! read hermetic. Each test file uses a part of it.
#![allow(dead_code)]

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use assert_cmd::Command;

/// The repository's root.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// A file or folder under testdata/.
pub fn testdata(rel: &str) -> PathBuf {
    root().join("testdata").join(rel)
}

/// The stackconv binary this test run built.
pub fn stackconv() -> Command {
    Command::cargo_bin("stackconv").expect("the stackconv binary")
}

/// The symbol options every perf.data test uses: only files in testdata
/// (testdata/perf/README.md, "Hermetic options"), kernel symbols from
/// `kallsyms` there.
pub fn perf_symbol_args(kallsyms: &str) -> Vec<OsString> {
    let perf = testdata("perf");
    vec![
        "--symbol-dir".into(),
        perf.join("bin").into(),
        "--symbol-dir".into(),
        perf.join("debug").into(),
        "--kallsyms".into(),
        perf.join(kallsyms).into(),
        "--perf-map-dir".into(),
        perf.join("maps").into(),
        "--no-system-paths".into(),
    ]
}
