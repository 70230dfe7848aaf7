//! The input's memory pages, when it is a mapped file: read once, front to
//! back, so the pages behind the reader are given back as it goes.
//!
//! A mapped file's pages count in the process's resident memory once
//! touched. The container walk and the record parse each go through the
//! data section once, in order; without help a 1 GB recording would keep
//! 1 GB resident to the end. [`Pages::release`] drops the mapping's pages
//! of a range already read (`MADV_DONTNEED` on a private, read-only file
//! mapping: the next access, if any, maps them again from the page cache,
//! with the same bytes), so what stays resident is bounded by the window
//! being read, not by the file.

use std::ops::Range;

/// Bytes read between two releases.
pub(crate) const WINDOW: usize = 8 << 20;

/// The pages of the input: a read-only file mapping, or none (bytes in
/// memory, which are never released).
#[derive(Clone, Copy)]
pub(crate) struct Pages<'a> {
    map: Option<&'a memmap2::Mmap>,
    /// Bytes read between two releases.
    pub(crate) window: usize,
}

impl std::fmt::Debug for Pages<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pages")
            .field("mapped", &self.map.is_some())
            .finish()
    }
}

impl Default for Pages<'_> {
    fn default() -> Self {
        Pages {
            map: None,
            window: WINDOW,
        }
    }
}

impl<'a> Pages<'a> {
    /// The pages of `map`, released every `window` bytes read.
    pub(crate) fn mapped(map: &'a memmap2::Mmap, window: usize) -> Self {
        Pages {
            map: Some(map),
            window: window.max(1),
        }
    }

    /// Drop the pages that lie wholly inside `range` from the process's
    /// resident memory (a mapped input only; bytes in memory stay).
    pub(crate) fn release(&self, range: Range<usize>) {
        let Some(map) = self.map else { return };
        let page = page_size();
        // Whole pages only: the page around either end may still be read.
        let start = range.start.div_ceil(page).saturating_mul(page);
        let end = (range.end.min(map.len()) / page) * page;
        if end <= start {
            return;
        }
        #[allow(unsafe_code)]
        // SAFETY: the mapping is private and read-only, so its pages are
        // never dirty: MADV_DONTNEED only unmaps them, and a later read of
        // the range (through any slice still held) faults the same file
        // bytes back in. No byte a slice refers to changes.
        let _ = unsafe {
            map.unchecked_advise_range(memmap2::UncheckedAdvice::DontNeed, start, end - start)
        };
    }
}

/// Bytes [`Warmer`] reads ahead at a time.
const WARM_CHUNK: usize = 64 << 10;

/// Reads the input ahead of a walk that goes through it record by record.
///
/// Each record's position is known only once the previous record's size
/// is read, so a walk over cold memory waits for one cache miss (and a
/// page fault every few pages) per record, one after the other. Touching
/// every cache line of the next chunk first issues those misses together:
/// on c-fp-100M (323,638 records in 105 MB) this takes the container walk
/// from about 110 ms to a few.
#[derive(Debug, Default)]
pub(crate) struct Warmer {
    /// Bytes of the input before this are read already.
    warm_to: usize,
}

impl Warmer {
    /// Make sure `data[at..]`'s next chunk has been read: call before
    /// reading at `at`, going forward.
    #[inline]
    pub(crate) fn ahead(&mut self, data: &[u8], at: usize) {
        while at.saturating_add(WARM_CHUNK) > self.warm_to && self.warm_to < data.len() {
            let start = self.warm_to.max(at);
            let end = start.saturating_add(WARM_CHUNK).min(data.len());
            let chunk = data.get(start..end).unwrap_or_default();
            // One byte per cache line; the loads do not depend on each
            // other, so the CPU has many in flight at once.
            let mut sum = 0u8;
            for line in chunk.chunks(64) {
                sum = sum.wrapping_add(line.first().copied().unwrap_or(0));
            }
            std::hint::black_box(sum);
            self.warm_to = end;
        }
    }
}

fn page_size() -> usize {
    // Every Linux architecture stackconv runs on maps 4 KiB pages or a
    // multiple of them; rounding to 64 KiB keeps the ranges whole pages
    // whatever the size.
    64 << 10
}
