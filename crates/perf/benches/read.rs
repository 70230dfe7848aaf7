//! Read and fold testdata/perf/c-fp.data (frame-pointer callchains, with
//! the committed binaries, debug files and kallsyms), by input bytes.

use std::path::PathBuf;

use divan::counter::BytesCount;
use divan::Bencher;
use stackconv_perf::{read, ReadOptions, SymbolOptions};

fn main() {
    divan::main();
}

fn testdata() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../testdata/perf")
}

fn options(name: &str) -> ReadOptions {
    let dir = testdata();
    let mut symbols = SymbolOptions::default();
    symbols.symbol_dirs = vec![dir.join("bin"), dir.join("debug")];
    symbols.kallsyms = Some(dir.join(format!("{name}.kallsyms")));
    symbols.perf_map_dir = Some(dir.join("maps"));
    symbols.no_system_paths = true;
    let mut opts = ReadOptions::default();
    opts.symbols = symbols;
    opts
}

#[divan::bench(args = ["c-fp", "c-zstd", "c-dwarf"])]
fn read_and_fold(bencher: Bencher, name: &str) {
    let data = std::fs::read(testdata().join(format!("{name}.data"))).unwrap_or_default();
    let opts = options(name);
    bencher
        .counter(BytesCount::of_slice(&data))
        .bench(|| read(divan::black_box(&data), &opts).map(|p| p.fold().samples().len()));
}

/// A kallsyms file of the size a distribution kernel lists (120,000
/// lines: text symbols of the kernel, then of modules, a few of other
/// types), parsed as a recording's kernel symbols are.
#[divan::bench]
fn parse_kallsyms(bencher: Bencher) {
    let mut text = String::new();
    for i in 0..120_000u64 {
        let addr = 0xffff_ffff_8100_0000 + i * 0x40;
        let ty = ["T", "t", "t", "d", "r", "W", "b"][(i % 7) as usize];
        text.push_str(&format!("{addr:016x} {ty} symbol_number_{i}"));
        if i >= 100_000 {
            text.push_str(&format!("\t[module_{}]", i / 2_000));
        }
        text.push('\n');
    }
    bencher
        .counter(BytesCount::of_str(&text))
        .bench(|| stackconv_perf::symbolize::fuzzing::kallsyms(divan::black_box(text.as_bytes())));
}
