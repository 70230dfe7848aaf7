//! Memory access hints for the loops that go through large tables in an
//! order of their own (sorted paths, sample rows): asking for the cache
//! lines of items a few iterations ahead lets their misses overlap instead
//! of waiting for each in turn. And [`drop_elsewhere`], for structures of
//! many small allocations that are done with while work remains.

use crate::{StackId, StackNode};

/// Ask the CPU to bring `item`'s cache line in, without waiting for it;
/// nothing when `None`, or off x86-64. It changes no value: a hint only.
///
/// ```
/// use stackconv_model::memory::prefetch;
///
/// let table: Vec<u64> = (0..1024).collect();
/// let order = [900usize, 3, 512, 77];
/// let mut sum = 0;
/// for (i, &at) in order.iter().enumerate() {
///     // Two items ahead is asked for now, read later.
///     prefetch(order.get(i + 2).and_then(|&ahead| table.get(ahead)));
///     sum += table[at];
/// }
/// assert_eq!(sum, 900 + 3 + 512 + 77);
/// ```
#[inline(always)]
pub fn prefetch<T>(item: Option<&T>) {
    #[cfg(target_arch = "x86_64")]
    if let Some(item) = item {
        #[allow(unsafe_code)]
        // SAFETY: a prefetch is only a hint: it reads nothing the program
        // sees and never faults, whatever the address (here a reference,
        // so a valid one anyway).
        unsafe {
            use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
            _mm_prefetch::<_MM_HINT_T0>(std::ptr::from_ref(item).cast());
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = item;
}

/// Cache lines of stack nodes [`prefetch_stack`] asks for, from a leaf
/// down.
const STACK_LINES: usize = 4;

/// Stack nodes (8 bytes each) in a 64-byte cache line.
const NODES_PER_LINE: usize = 8;

/// Ask for the nodes of `leaf`'s stack in `nodes` (a [`StackTable`]'s):
/// its own and the few cache lines below it, where its callers are when
/// the stack was interned with [`StackBatch::intern_into`] (a new stack's
/// nodes are numbered in a run, callers first). For a loop that walks
/// stacks in an order of its own: call it a few stacks ahead.
///
/// ```
/// use stackconv_model::memory::prefetch_stack;
/// use stackconv_model::{FrameKind, Profile, ValueType};
///
/// let mut p = Profile::new(vec![ValueType::new("samples", "count")]);
/// let f = p.intern_frame_named("main", FrameKind::Native);
/// let leaf = p.intern_stack_frames([f, f]).unwrap();
/// prefetch_stack(p.stacks().nodes(), leaf);
/// assert_eq!(p.stacks().frames(leaf), vec![f, f]);
/// ```
///
/// [`StackTable`]: crate::StackTable
/// [`StackBatch::intern_into`]: crate::StackBatch::intern_into
#[inline]
pub fn prefetch_stack(nodes: &[StackNode], leaf: StackId) {
    for line in 0..STACK_LINES {
        prefetch(nodes.get(leaf.index().saturating_sub(line * NODES_PER_LINE)));
    }
}

/// Drop `value` on a thread of its own, so that the caller goes on while
/// its memory is given back; dropped here when no thread can be had.
///
/// For what is done with before the work is (a reader's parsed debug
/// information, its caches): freeing a structure of millions of small
/// allocations takes milliseconds of one core that the caller need not
/// wait for. The thread is not joined: the value has no owner left to
/// wait for it, and a process that exits first gives the memory back all
/// the same.
///
/// ```
/// use stackconv_model::memory::drop_elsewhere;
///
/// let parsed: Vec<String> = (0..1000).map(|i| i.to_string()).collect();
/// assert_eq!(parsed.len(), 1000);
/// drop_elsewhere(parsed);
/// ```
pub fn drop_elsewhere<T: Send + 'static>(value: T) {
    // When the thread cannot be started, the closure, and the value with
    // it, is dropped here.
    let _ = std::thread::Builder::new()
        .name("drop".into())
        .spawn(move || drop(value));
}
