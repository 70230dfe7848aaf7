//! StackBatch interns exactly what node-by-node interning does.

use proptest::prelude::*;
use stackconv_model::{FrameId, FrameKind, Profile, StackBatch};

fn frames(p: &mut Profile, n: usize) -> Vec<FrameId> {
    (0..n)
        .map(|i| p.intern_frame_named(&format!("f{i}"), FrameKind::Native))
        .collect()
}

proptest! {
    #[test]
    fn batch_equals_one_by_one(
        paths in prop::collection::vec(prop::collection::vec(0usize..5, 0..12), 0..40),
        preload in prop::collection::vec(prop::collection::vec(0usize..5, 0..6), 0..4),
    ) {
        let mut a = Profile::new(vec![]);
        let fa = frames(&mut a, 5);
        let mut b = a.clone();
        // A table that already holds stacks: the batch must find them.
        for pre in &preload {
            let pre: Vec<FrameId> = pre.iter().map(|&i| fa[i]).collect();
            a.intern_stack_frames(pre.iter().copied());
            b.intern_stack_frames(pre.iter().copied());
        }
        let mut batch = StackBatch::default();
        let ids: Vec<_> = paths
            .iter()
            .map(|p| batch.add(&p.iter().map(|&i| fa[i]).collect::<Vec<_>>()))
            .collect();
        let distinct: std::collections::HashSet<&Vec<usize>> = paths.iter().collect();
        prop_assert_eq!(batch.len(), distinct.len());
        let stacks = batch.intern_into(a.stacks_mut());
        for (path, id) in paths.iter().zip(&ids) {
            let got = stacks[id.index()];
            let want_frames: Vec<FrameId> = path.iter().map(|&i| fa[i]).collect();
            // Same frames from the batch's stack...
            prop_assert_eq!(got.map(|s| a.stacks().frames(s)).unwrap_or_default(), want_frames.clone());
            // ...and the same node count as interning one by one.
            b.intern_stack_frames(want_frames);
        }
        prop_assert_eq!(a.stacks().len(), b.stacks().len());
        // Parents before children; no node twice.
        let mut seen = std::collections::HashSet::new();
        for (id, node) in a.stacks().iter() {
            if let Some(parent) = node.parent {
                prop_assert!(parent < id);
            }
            prop_assert!(seen.insert(*node));
            prop_assert_eq!(a.stacks().lookup(node), Some(id));
        }
    }
}
