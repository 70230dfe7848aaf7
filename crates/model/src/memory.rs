//! Memory access hints for the loops that go through large tables in an
//! order of their own (sorted paths, sample rows): asking for the cache
//! lines of items a few iterations ahead lets their misses overlap instead
//! of waiting for each in turn.

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
