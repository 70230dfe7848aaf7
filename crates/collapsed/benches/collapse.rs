//! Throughput of the readers and the folded writer on the test data
//! (`cargo bench -p stackconv-collapsed`). Not a test: no timing is
//! asserted.

use std::path::{Path, PathBuf};

use divan::counter::BytesCount;
use divan::{black_box, Bencher};
use stackconv_collapsed::{folded, perf_script, prune, pyspy};

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
        .bench(|| perf_script::read(black_box(&input)).map(|p| p.samples().len()));
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
        .bench(|| folded::read(black_box(&input)).map(|p| p.samples().len()));
}

#[divan::bench(args = ["pyspy/plain.raw", "pyspy/native.raw"])]
fn pyspy_read(bencher: Bencher, file: &str) {
    let input = testdata(file);
    bencher
        .counter(BytesCount::new(input.len()))
        .bench(|| pyspy::read(black_box(&input)).map(|p| p.samples().len()));
}

/// A profile of `samples` pseudo-random walks 40 frames deep over 97
/// functions: stacks that share only their first frames, as on a large
/// native recording.
fn deep_profile(samples: usize) -> stackconv_collapsed::stackconv_model::Profile {
    use stackconv_collapsed::stackconv_model::{FrameKind, Profile, Thread, ValueType};
    let mut p = Profile::new(vec![ValueType::new("samples", "count")]);
    let frames: Vec<_> = (0..97)
        .map(|i| p.intern_frame_named(&format!("function_{i}"), FrameKind::Native))
        .collect();
    let thread = p.intern_thread(Thread::default());
    for i in 0..samples {
        let mut x = (i as u64 + 1).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        let path: Vec<_> = (0..40)
            .map(|_| {
                x ^= x >> 29;
                x = x.wrapping_mul(0xbf58_476d_1ce4_e5b9);
                frames[(x % 97) as usize]
            })
            .collect();
        let s = p.intern_stack_frames(path);
        p.push_sample(s, thread, None, &[1]);
    }
    p
}

/// The folded text a flame graph is drawn from: all of it, or without
/// what a 0.1% minimum width does not draw.
#[divan::bench(args = [false, true])]
fn folded_for_svg(bencher: Bencher, pruned: bool) {
    let p = deep_profile(20_000);
    let opts = folded::WriteOptions::default();
    bencher.bench(|| {
        let mut out = Vec::new();
        if pruned {
            prune::write_pruned(&p, &opts, 20.0, &mut out).ok()?;
        } else {
            folded::write(&p, &opts, &mut out).ok()?;
        }
        Some(out.len())
    });
}
