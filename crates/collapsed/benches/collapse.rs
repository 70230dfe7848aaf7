//! Throughput of the readers and the folded writer on the test data
//! (`cargo bench -p stackconv-collapsed`). Not a test: no timing is
//! asserted.

use std::path::{Path, PathBuf};

use divan::counter::BytesCount;
use divan::{black_box, Bencher};
use stackconv_collapsed::{folded, perf_script, pyspy};

fn main() {
    divan::main();
}

fn testdata(rel: &str) -> Vec<u8> {
    let path: PathBuf = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../testdata")
        .join(rel);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[divan::bench(args = ["perf/cpp.perf-script", "perf/rust-v0.perf-script", "perf/py-fp.perf-script"])]
fn perf_script_read(bencher: Bencher, file: &str) {
    let input = testdata(file);
    bencher
        .counter(BytesCount::new(input.len()))
        .bench(|| perf_script::read(black_box(&input)).map(|p| p.samples.len()));
}

#[divan::bench(args = ["perf/cpp.perf-script", "perf/py-fp.perf-script"])]
fn perf_script_to_folded(bencher: Bencher, file: &str) {
    let input = testdata(file);
    bencher.counter(BytesCount::new(input.len())).bench(|| {
        let p = perf_script::read(black_box(&input)).ok()?;
        let mut out = Vec::new();
        folded::write(&p, &folded::WriteOptions::default(), &mut out).ok()?;
        Some(out.len())
    });
}

#[divan::bench(args = ["perf/cpp.folded", "perf/py-fp.all.folded"])]
fn folded_read(bencher: Bencher, file: &str) {
    let input = testdata(file);
    bencher
        .counter(BytesCount::new(input.len()))
        .bench(|| folded::read(black_box(&input)).map(|p| p.samples.len()));
}

#[divan::bench(args = ["pyspy/plain.raw", "pyspy/native.raw"])]
fn pyspy_read(bencher: Bencher, file: &str) {
    let input = testdata(file);
    bencher
        .counter(BytesCount::new(input.len()))
        .bench(|| pyspy::read(black_box(&input)).map(|p| p.samples.len()));
}
