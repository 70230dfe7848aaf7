//! Test support: read a testdata recording with its committed symbol files
//! and fold it the way the folded writer does (`comm;frames weight`).
#![allow(dead_code, clippy::unwrap_used, clippy::indexing_slicing)]

use std::collections::BTreeMap;
use std::path::PathBuf;

use stackconv_model::naming::{is_jit_module, is_kernel_module};
use stackconv_model::{FrameKind, Profile};
use stackconv_perf::{ReadOptions, SymbolOptions};

/// testdata/perf of the repository.
/// Recordings of every kind testdata has: several events, off-CPU from
/// sched_switch, frame pointers and DWARF unwinding, JIT, pipe mode, zstd,
/// C++ and Rust names.
#[allow(dead_code)]
pub const RECORDINGS: [&str; 12] = [
    "c-2ev",
    "c-fp",
    "c-dwarf",
    "c-fp.pipe",
    "c-zstd",
    "cpp",
    "mutex",
    "mutex-a",
    "py-dwarf",
    "py-fp",
    "py313-jit",
    "rust-v0",
];

pub fn testdata() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../testdata/perf")
}

/// Read options pointing at the committed symbol files of recording `name`.
pub fn options(name: &str) -> ReadOptions {
    let dir = testdata();
    let mut symbols = SymbolOptions::default();
    symbols.symbol_dirs = vec![dir.join("bin"), dir.join("debug")];
    let own = dir.join(format!("{name}.kallsyms"));
    symbols.kallsyms = Some(if own.exists() {
        own
    } else {
        dir.join("kallsyms")
    });
    symbols.perf_map_dir = Some(dir.join("maps"));
    symbols.no_system_paths = true;
    let mut opts = ReadOptions::default();
    opts.symbols = symbols;
    opts
}

/// The recording's path.
#[allow(dead_code)]
pub fn path(name: &str) -> PathBuf {
    testdata().join(format!("{name}.data"))
}

/// The recording's bytes.
pub fn data(name: &str) -> Vec<u8> {
    std::fs::read(testdata().join(format!("{name}.data"))).unwrap()
}

/// Fold value column `column` into `comm;frame;... -> weight` as
/// inferno-collapse-perf does; `annotate` adds `_[k]` / `_[j]` as its
/// `--all`.
pub fn fold(p: &Profile, column: usize, annotate: bool) -> BTreeMap<String, i64> {
    fold_by(p, column, annotate, false)
}

/// As [`fold`], but each sample of the column weighs 1 (its `samples`
/// value), for goldens that inferno made without the period.
pub fn fold_counts(p: &Profile, column: usize, annotate: bool) -> BTreeMap<String, i64> {
    fold_by(p, column, annotate, true)
}

fn fold_by(p: &Profile, column: usize, annotate: bool, counts: bool) -> BTreeMap<String, i64> {
    let samples = p.value_index("samples").unwrap();
    let mut out = BTreeMap::new();
    for s in p.iter_samples() {
        let mut w = s.values[column];
        if w == 0 {
            continue;
        }
        if counts {
            w = s.values[samples];
        }
        let thread = p.threads().get(s.thread);
        let mut line = p.str(thread.thread_name).to_string();
        for f in p.stack_frames(s.stack) {
            let frame = p.frame(f);
            line.push(';');
            line.push_str(p.str(frame.name));
            if annotate && frame.kind != FrameKind::Inline {
                let module = p.str(frame.module);
                if is_kernel_module(module) {
                    line.push_str("_[k]");
                } else if is_jit_module(module)
                    || matches!(frame.kind, FrameKind::Jit | FrameKind::Python)
                {
                    line.push_str("_[j]");
                }
            }
        }
        *out.entry(line).or_insert(0) += w;
    }
    out
}

/// Parse folded text.
pub fn parse_folded(text: &str) -> BTreeMap<String, i64> {
    let mut out = BTreeMap::new();
    for line in text.lines().filter(|l| !l.is_empty()) {
        let (stack, n) = line.rsplit_once(' ').unwrap();
        *out.entry(stack.to_string()).or_insert(0) += n.parse::<i64>().unwrap();
    }
    out
}

/// The committed golden `file` of testdata/perf.
pub fn golden(file: &str) -> BTreeMap<String, i64> {
    parse_folded(&std::fs::read_to_string(testdata().join(file)).unwrap())
}

/// Agreement: the weight of stack lines whose weight is the same in both
/// (counted as the smaller of the two weights per line) over the golden's
/// total. Returns (agreement, ours total, golden total).
pub fn agreement(ours: &BTreeMap<String, i64>, golden: &BTreeMap<String, i64>) -> (f64, i64, i64) {
    let total_golden: i64 = golden.values().sum();
    let total_ours: i64 = ours.values().sum();
    let same: i64 = golden
        .iter()
        .map(|(k, &g)| ours.get(k).map_or(0, |&o| o.min(g)))
        .sum();
    let a = if total_golden == 0 {
        1.0
    } else {
        same as f64 / total_golden as f64
    };
    (a, total_ours, total_golden)
}

/// The lines that differ, for a failure message.
pub fn diff(ours: &BTreeMap<String, i64>, golden: &BTreeMap<String, i64>) -> String {
    let mut s = String::new();
    for (k, g) in golden {
        match ours.get(k) {
            Some(o) if o == g => {}
            Some(o) => s.push_str(&format!("  weight {o} != golden {g}: {k}\n")),
            None => s.push_str(&format!("- {g} {k}\n")),
        }
    }
    for (k, o) in ours {
        if !golden.contains_key(k) {
            s.push_str(&format!("+ {o} {k}\n"));
        }
    }
    s
}
