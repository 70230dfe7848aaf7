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
        .bench(|| read(black_box(&input), &ReadOptions::default()).map(|p| p.samples().len()));
}

#[divan::bench(args = ["cpu.pb.gz", "heap.pb.gz"])]
fn write_profile(bencher: Bencher, name: &str) {
    let profile = read(&testdata(name), &ReadOptions::default()).expect("test profile");
    bencher.bench(|| {
        let mut out = Vec::new();
        write(black_box(&profile), &mut out).map(|()| out.len())
    });
}

/// A profile with many distinct stacks (20 000 samples, depth 8..40, 2 000
/// functions), written by our writer: the reader's throughput on something
/// bigger than the Go test profiles.
fn large_profile() -> Vec<u8> {
    use stackconv_model::{FrameKind, Profile, ValueType};
    let mut p = Profile::new(vec![
        ValueType::new("cpu", "nanoseconds"),
        ValueType::new("samples", "count"),
    ]);
    let frames: Vec<_> = (0..2000)
        .map(|i| {
            let kind = if i % 7 == 3 {
                FrameKind::Inline
            } else {
                FrameKind::Native
            };
            p.intern_frame_named(&format!("module{}::function_{i}", i % 13), kind)
        })
        .collect();
    let thread = p.intern_thread_named(Some(1), Some(1), "app", "app");
    let mut x: u64 = 0x2545_f491_4f6c_dd1d;
    for s in 0..20_000u64 {
        let depth = 8 + (s % 33) as usize;
        let stack: Vec<_> = (0..depth)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                frames[(x % 2000) as usize]
            })
            .collect();
        let stack = p.intern_stack_frames(stack);
        p.push_sample(stack, thread, None, &[10_000_000, 1]);
    }
    let mut out = Vec::new();
    write(&p, &mut out).expect("write");
    out
}

#[divan::bench]
fn read_large(bencher: Bencher) {
    let input = large_profile();
    bencher
        .counter(BytesCount::new(input.len()))
        .bench(|| read(black_box(&input), &ReadOptions::default()).map(|p| p.samples().len()));
}
