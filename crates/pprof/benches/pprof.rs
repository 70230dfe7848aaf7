//! Throughput of the pprof reader and writer on the Go test profiles
//! (`cargo bench -p stackconv-pprof`). Not a test: no timing is asserted.

use std::path::Path;

use divan::counter::BytesCount;
use divan::{black_box, Bencher};
use stackconv_pprof::{read, write, ReadOptions};

fn main() {
    divan::main();
}

fn testdata(name: &str) -> Vec<u8> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../testdata/go")
        .join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[divan::bench(args = ["cpu.pb.gz", "heap.pb.gz"])]
fn read_profile(bencher: Bencher, name: &str) {
    let input = testdata(name);
    bencher
        .counter(BytesCount::new(input.len()))
        .bench(|| read(black_box(&input), &ReadOptions::default()).map(|p| p.samples.len()));
}

#[divan::bench(args = ["cpu.pb.gz", "heap.pb.gz"])]
fn write_profile(bencher: Bencher, name: &str) {
    let profile = read(&testdata(name), &ReadOptions::default()).expect("test profile");
    bencher.bench(|| {
        let mut out = Vec::new();
        write(black_box(&profile), &mut out).map(|()| out.len())
    });
}
