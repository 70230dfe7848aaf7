//! Conservation: every operation keeps the total of every value column.

use proptest::prelude::*;
use stackconv_model::{merge, FrameKind, Profile, ValueType};

/// A random profile: up to 200 samples over stacks of up to 6 frames drawn
/// from 8 names, 3 threads, two value columns.
fn arb_profile() -> impl Strategy<Value = Profile> {
    let sample = (
        prop::collection::vec(0u8..8, 0..6),
        0u32..3,
        -5i64..1000,
        0i64..10,
        any::<u32>(),
    );
    (prop::collection::vec(sample, 0..200), any::<bool>()).prop_map(|(samples, timed)| {
        let mut p = Profile::new(vec![
            ValueType::new("cpu", "nanoseconds"),
            ValueType::new("samples", "count"),
        ]);
        for (frames, tid, v0, v1, time) in samples {
            let ids: Vec<_> = frames
                .iter()
                .map(|f| p.intern_frame_named(&format!("f{f}"), FrameKind::Native))
                .collect();
            let stack = p.intern_stack_frames(ids);
            let thread = p.intern_thread_named(Some(1), Some(tid), "app", &format!("t{tid}"));
            p.push_sample(stack, thread, timed.then_some(u64::from(time)), &[v0, v1]);
        }
        p
    })
}

proptest! {
    #[test]
    fn fold_keeps_totals(p in arb_profile()) {
        let folded = p.fold();
        prop_assert_eq!(folded.totals(), p.totals());
        prop_assert!(folded.samples().len() <= p.samples().len());
    }

    #[test]
    fn into_folded_equals_fold(p in arb_profile()) {
        let a = p.fold();
        let b = p.clone().into_folded();
        prop_assert_eq!(a.samples().stacks(), b.samples().stacks());
        prop_assert_eq!(a.samples().threads(), b.samples().threads());
        prop_assert_eq!(a.samples().values(), b.samples().values());
        prop_assert!(b.samples().times().is_none());
    }

    #[test]
    fn fold_is_idempotent(p in arb_profile()) {
        let once = p.fold();
        let twice = once.fold();
        prop_assert_eq!(once.samples().len(), twice.samples().len());
        prop_assert_eq!(once.totals(), twice.totals());
    }

    #[test]
    fn merge_sums_totals(a in arb_profile(), b in arb_profile()) {
        let m = merge(&[a.clone(), b.clone()]).unwrap();
        let want: Vec<i64> = a.totals().iter().zip(b.totals()).map(|(x, y)| x + y).collect();
        prop_assert_eq!(m.totals(), want);
        prop_assert_eq!(m.samples().len(), a.samples().len() + b.samples().len());
    }

    #[test]
    fn merge_keeps_stacks(a in arb_profile()) {
        let m = merge(std::slice::from_ref(&a)).unwrap();
        for i in 0..a.samples().len() {
            let sa = a.sample(i).unwrap();
            let sm = m.sample(i).unwrap();
            prop_assert_eq!(a.stack_names(sa.stack), m.stack_names(sm.stack));
            prop_assert_eq!(sa.values, sm.values);
        }
    }

    #[test]
    fn map_stacks_keeps_totals(p in arb_profile()) {
        let reversed = p.map_stacks(|_, frames| frames.iter().rev().copied().collect());
        prop_assert_eq!(reversed.totals(), p.totals());
        prop_assert_eq!(reversed.samples().len(), p.samples().len());
    }

    #[test]
    fn filter_splits_totals(p in arb_profile(), keep_tid in 0u32..3) {
        let (kept, dropped) = p.filter_samples(|p, i| {
            p.threads().get(p.samples().threads()[i]).tid == Some(keep_tid)
        });
        let sum: Vec<i64> = kept.totals().iter().zip(&dropped).map(|(k, d)| k + d).collect();
        prop_assert_eq!(sum, p.totals());
    }

    #[test]
    fn interning_is_stable(names in prop::collection::vec("[a-z]{0,4}", 0..50)) {
        let mut p = Profile::new(vec![]);
        let first: Vec<_> = names.iter().map(|n| p.intern_str(n)).collect();
        let again: Vec<_> = names.iter().map(|n| p.intern_str(n)).collect();
        prop_assert_eq!(&first, &again);
        for (n, id) in names.iter().zip(first) {
            prop_assert_eq!(p.str(id), n.as_str());
        }
    }
}

proptest! {
    /// The cached interning gives the same stack ids as the plain one,
    /// whatever the order of stacks.
    #[test]
    fn cached_interning_equals_plain(stacks in prop::collection::vec(prop::collection::vec(0u8..5, 0..8), 0..40)) {
        let mut p = Profile::new(vec![]);
        let mut cache = stackconv_model::StackCache::default();
        for names in stacks {
            let ids: Vec<_> = names
                .iter()
                .map(|n| p.intern_frame_named(&format!("f{n}"), FrameKind::Native))
                .collect();
            let cached = p.intern_stack_cached(&mut cache, &ids);
            let plain = p.intern_stack_frames(ids.iter().copied());
            prop_assert_eq!(cached, plain);
        }
    }
}

proptest! {
    /// Samples marked folded are folded; a subset of them stays marked;
    /// each change that could make two samples alike, or add labels,
    /// unmarks them, and folding then merges again.
    #[test]
    fn marked_folded_means_folded(p in arb_profile(), pick in any::<usize>(), every in 1usize..4) {
        prop_assert!(!p.samples().is_folded() || p.samples().are_distinct());
        let f = p.fold();
        prop_assert!(f.samples().is_folded());
        prop_assert!(f.samples().are_distinct());
        prop_assert!(f.samples().times().is_none() && f.samples().labels().is_none());
        // Folding folded samples changes nothing.
        let again = f.clone().into_folded();
        prop_assert_eq!(again.samples().stacks(), f.samples().stacks());
        prop_assert_eq!(again.samples().values(), f.samples().values());
        let (kept, _) = f.filter_samples(|_, i| i % every == 0);
        prop_assert!(kept.samples().is_folded() && kept.samples().are_distinct());
        if f.samples().is_empty() {
            return Ok(());
        }
        let i = pick % f.samples().len();
        let (stack, thread) = (f.samples().stacks()[i], f.samples().threads()[i]);
        // A second sample of one stack and thread.
        let mut pushed = f.clone();
        pushed.push_sample(stack, thread, None, &[1, 1]);
        prop_assert!(!pushed.samples().is_folded());
        let refolded = pushed.into_folded();
        prop_assert_eq!(refolded.samples().len(), f.samples().len());
        prop_assert_eq!(refolded.total(1), f.total(1) + 1);
        // Every sample given one stack.
        let mut mapped = f.clone();
        mapped.map_sample_stacks(|_, _| stack);
        prop_assert!(!mapped.samples().is_folded());
        prop_assert_eq!(mapped.clone().into_folded().samples().len(), distinct_threads(&f));
        // Labels.
        let mut labelled = f.clone();
        labelled.set_labels(vec![Vec::new(); f.samples().len()]).unwrap();
        prop_assert!(!labelled.samples().is_folded());
    }
}

/// How many threads the samples of `p` have.
fn distinct_threads(p: &Profile) -> usize {
    p.samples()
        .threads()
        .iter()
        .collect::<std::collections::HashSet<_>>()
        .len()
}
