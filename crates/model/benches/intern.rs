//! Interning many deep, diverse stacks: node by node (one hash lookup per
//! frame) against `StackBatch` (sorted paths, no lookups)
//! (`cargo bench -p stackconv-model`). Not a test: no timing is asserted.

use divan::Bencher;
use stackconv_model::{FrameId, FrameKind, Profile, StackBatch};

fn main() {
    divan::main();
}

/// `n` pseudo-random walks 60 frames deep over 97 functions.
fn paths(p: &mut Profile, n: usize) -> Vec<Vec<FrameId>> {
    let frames: Vec<_> = (0..97)
        .map(|i| p.intern_frame_named(&format!("f{i}"), FrameKind::Native))
        .collect();
    (0..n)
        .map(|i| {
            let mut x = (i as u64 + 1).wrapping_mul(0x9e37_79b9_7f4a_7c15);
            (0..60)
                .map(|_| {
                    x ^= x >> 29;
                    x = x.wrapping_mul(0xbf58_476d_1ce4_e5b9);
                    frames[(x % 97) as usize]
                })
                .collect()
        })
        .collect()
}

#[divan::bench(args = [10_000, 100_000])]
fn node_by_node(bencher: Bencher, n: usize) {
    let mut base = Profile::new(vec![]);
    let paths = paths(&mut base, n);
    bencher.bench(|| {
        let mut p = base.clone();
        for path in &paths {
            p.intern_stack_frames(path.iter().copied());
        }
        p.stacks().len()
    });
}

#[divan::bench(args = [10_000, 100_000])]
fn batch(bencher: Bencher, n: usize) {
    let mut base = Profile::new(vec![]);
    let paths = paths(&mut base, n);
    bencher.bench(|| {
        let mut p = base.clone();
        let mut batch = StackBatch::default();
        for path in &paths {
            batch.add(path);
        }
        batch.intern_into(p.stacks_mut());
        p.stacks().len()
    });
}
