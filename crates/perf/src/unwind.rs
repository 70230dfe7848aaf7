//! User-stack unwinding for `--call-graph dwarf` recordings, with framehop.
//!
//! A sample of such a recording carries the user registers and a copy of
//! the top of the user stack. framehop unwinds it with the DWARF CFI
//! (`.eh_frame`, `.debug_frame`) of the mapped files and falls back to the
//! frame-pointer chain where a module has none. The reader drives it one
//! frame at a time so that it can apply the Python 3.12 perf-trampoline
//! rule ([`trampoline_step`]) between frames.

use std::ops::{Deref, Range};

use framehop::x86_64::{CacheX86_64, UnwindRegsX86_64, UnwinderX86_64};
use framehop::{ExplicitModuleSectionInfo, FrameAddress, Module, Unwinder};
use object::{Object, ObjectSection, ObjectSegment};

use crate::fxhash::FxHashSet;
use crate::symbolize::FileBytes;

/// perf's x86_64 register numbers (`arch/x86/include/uapi/asm/perf_regs.h`).
pub(crate) const REG_BP: u64 = 6;
pub(crate) const REG_SP: u64 = 7;
pub(crate) const REG_IP: u64 = 8;

/// The deepest user stack we unwind (perf's `kernel.perf_event_max_stack`
/// default is 127; a DWARF unwind can legitimately go deeper).
pub(crate) const MAX_FRAMES: usize = 1024;

/// A byte range of a mapped file, handed to framehop as section data.
pub(crate) struct SectionData {
    file: FileBytes,
    range: Range<usize>,
}

impl Deref for SectionData {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        let bytes: &[u8] = (*self.file).as_ref();
        bytes.get(self.range.clone()).unwrap_or_default()
    }
}

/// Rule caches per process: an address's rule is cached in one of them,
/// picked by a hash of the address. framehop's cache has 509 slots, one
/// per address modulo 509; a Python stack's return addresses filled it
/// with collisions (py-dwarf-100M: 33,000 misses to 430,000 hits with one,
/// each miss a search of `.eh_frame_hdr` and a CFI program run).
const RULE_CACHES: usize = 1 << RULE_CACHE_BITS;
const RULE_CACHE_BITS: u32 = 3;

/// The unwinder of one process: the modules added so far and its rule
/// caches.
pub(crate) struct ProcessUnwinder {
    pub unwinder: UnwinderX86_64<SectionData>,
    caches: Box<[CacheX86_64; RULE_CACHES]>,
    /// Start addresses of the mappings whose module was added (or that
    /// have no usable file: they are not tried again).
    pub tried: FxHashSet<u64>,
}

impl ProcessUnwinder {
    pub(crate) fn new() -> Self {
        ProcessUnwinder {
            unwinder: UnwinderX86_64::new(),
            caches: Box::new(std::array::from_fn(|_| CacheX86_64::new())),
            tried: FxHashSet::default(),
        }
    }

    /// Add the module of a mapping.
    pub(crate) fn add(&mut self, module: Module<SectionData>) {
        self.unwinder.add_module(module);
    }

    /// Forget the module of the mapping at `start` (it was replaced).
    pub(crate) fn remove(&mut self, start: u64) {
        if self.tried.remove(&start) {
            self.unwinder.remove_module(start);
        }
    }

    /// Unwind one frame with framehop: `Some(return address)` of the
    /// caller, `None` at the end of the stack or when unwinding fails.
    pub(crate) fn step(
        &mut self,
        address: FrameAddress,
        regs: &mut UnwindRegsX86_64,
        read_stack: &mut impl FnMut(u64) -> Result<u64, ()>,
    ) -> Option<u64> {
        // The top bits of a Fibonacci hash pick the cache: addresses 509
        // apart (one slot of a cache) mostly go to different ones.
        let pick = address.address().wrapping_mul(0x9e37_79b9_7f4a_7c15) >> (64 - RULE_CACHE_BITS);
        let cache = self.caches.get_mut(pick as usize)?;
        match self.unwinder.unwind_frame(address, regs, cache, read_stack) {
            Ok(Some(ra)) if ra != 0 => Some(ra),
            _ => None,
        }
    }
}

/// A framehop module for a file mapped at `start..end` from file offset
/// `pgoff`: its `.text`, `.eh_frame`(`_hdr`), `.debug_frame` and `.got`,
/// located through the ELF load segment the mapping holds (see [`bias`]).
pub(crate) fn module_for(
    name: &str,
    file: FileBytes,
    start: u64,
    end: u64,
    pgoff: u64,
) -> Option<Module<SectionData>> {
    let bytes: &[u8] = (*file).as_ref();
    let obj = object::File::parse(bytes).ok()?;
    let segments: Vec<Segment> = obj
        .segments()
        .map(|seg| {
            let (offset, size) = seg.file_range();
            Segment {
                offset,
                size,
                address: seg.address(),
                executable: seg.permissions().executable(),
            }
        })
        .collect();
    let bias = bias(&segments, start, end, pgoff);
    let section = |name: &str| -> (Option<Range<u64>>, Option<SectionData>) {
        let Some(s) = obj.section_by_name(name) else {
            return (None, None);
        };
        let svma = s.address()..s.address().saturating_add(s.size());
        let data = s.file_range().and_then(|(off, size)| {
            let off = usize::try_from(off).ok()?;
            let size = usize::try_from(size).ok()?;
            let range = off..off.checked_add(size)?;
            bytes.get(range.clone())?;
            Some(SectionData {
                file: file.clone(),
                range,
            })
        });
        (Some(svma), data)
    };
    let (text_svma, text) = section(".text");
    let (eh_frame_svma, eh_frame) = section(".eh_frame");
    let (eh_frame_hdr_svma, eh_frame_hdr) = section(".eh_frame_hdr");
    let (_, debug_frame) = section(".debug_frame");
    let (got_svma, _) = section(".got");
    let info = ExplicitModuleSectionInfo {
        base_svma: 0,
        text_svma,
        text,
        got_svma,
        eh_frame_svma,
        eh_frame,
        eh_frame_hdr_svma,
        eh_frame_hdr,
        debug_frame,
        stubs_svma: None,
        stub_helper_svma: None,
        unwind_info: None,
        text_segment_svma: None,
        text_segment: None,
    };
    Some(Module::new(name.to_string(), start..end, bias, info))
}

/// An ELF load segment: its file range, stated address, and whether it
/// is executable.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Segment {
    pub(crate) offset: u64,
    pub(crate) size: u64,
    pub(crate) address: u64,
    pub(crate) executable: bool,
}

/// The difference between the addresses a file's code runs at and the
/// addresses it states (avma = svma + bias), for its mapping at
/// `start..end` from file offset `pgoff`.
///
/// The mapping starts at the page that holds its segment's first byte, so
/// `pgoff` may lie before that segment, in the one before it: lld (the
/// default linker of Rust since 1.90) places `.text` at file offset
/// 0x30c600 and address 0x30d600, mapped from offset 0x30c000, which the
/// read-only segment before it still holds. The segment is therefore the
/// executable one (the mappings unwound through are) whose file range
/// overlaps the mapping's, else the one that holds `pgoff`; `pgoff`'s
/// stated address is then that segment's address less its distance from
/// `pgoff`.
pub(crate) fn bias(segments: &[Segment], start: u64, end: u64, pgoff: u64) -> u64 {
    let len = end.saturating_sub(start);
    let map_end = pgoff.saturating_add(len);
    let overlaps = |s: &&Segment| s.offset < map_end && pgoff < s.offset.saturating_add(s.size);
    let holds = |s: &&Segment| s.offset <= pgoff && pgoff < s.offset.saturating_add(s.size);
    let segment = segments
        .iter()
        .filter(overlaps)
        .find(|s| s.executable)
        .or_else(|| segments.iter().find(holds));
    let svma_of_pgoff = segment.map_or(pgoff, |s| {
        s.address.wrapping_sub(s.offset).wrapping_add(pgoff)
    });
    start.wrapping_sub(svma_of_pgoff)
}

/// The size of CPython 3.12's perf trampoline (`Python/asm_trampoline.S`,
/// x86_64): `sub $8,%rsp` (4 bytes), `call *%rcx` (2), `add $8,%rsp` (4),
/// `ret` (1).
pub(crate) const PY_TRAMPOLINE_SIZE: u64 = 11;
/// Offset of the return address of its `call *%rcx`.
const PY_TRAMPOLINE_RETURN: u64 = 6;

/// One unwinding step through a CPython 3.12 perf trampoline, which has
/// no CFI and keeps no frame pointer, so neither framehop's CFI nor its
/// frame-pointer fallback gets through it.
///
/// The trampoline's code bytes are not in perf.data, so its shape is
/// checked by layout: the perf-map entry is a `py::` entry exactly 11 bytes
/// long, and a caller frame's return address is the one right after the
/// `call` (offset 6); a sampled instruction pointer may be at any of the
/// four instruction boundaries. Then the stack holds, at the return
/// address after the call, `[sp]` = the trampoline's own 8-byte slot and
/// `[sp+8]` = its return address, and the caller's sp is `sp+16`.
///
/// Returns (return address, caller's sp), or `None` when `address` is not
/// at a known point of such a trampoline.
pub(crate) fn trampoline_step(
    address: FrameAddress,
    entry_start: u64,
    entry_size: u64,
    sp: u64,
    read_stack: &mut impl FnMut(u64) -> Result<u64, ()>,
) -> Option<(u64, u64)> {
    if entry_size != PY_TRAMPOLINE_SIZE {
        return None;
    }
    let offset = address.address().checked_sub(entry_start)?;
    // How far above sp the return address is.
    let ra_slot = match (address.is_return_address(), offset) {
        (true, PY_TRAMPOLINE_RETURN) => 8,
        (true, _) => return None,
        // Before `sub` and at `ret`: the return address is at [sp].
        (false, 0 | 10) => 0,
        // After `sub`: one slot below it.
        (false, 4 | PY_TRAMPOLINE_RETURN) => 8,
        (false, _) => return None,
    };
    let ra = read_stack(sp.checked_add(ra_slot)?).ok()?;
    let caller_sp = sp.checked_add(ra_slot + 8)?;
    (ra != 0).then_some((ra, caller_sp))
}

#[cfg(test)]
mod tests {
    use super::{bias, Segment};

    fn seg(offset: u64, size: u64, address: u64, executable: bool) -> Segment {
        Segment {
            offset,
            size,
            address,
            executable,
        }
    }

    /// The load segments of a GNU ld (bfd) shared object,
    /// `testdata/perf/bin/_hashlib.cpython-312-x86_64-linux-gnu.so`: file
    /// offset and address agree, and its text mapping starts at the
    /// segment's offset.
    #[test]
    fn bfd_text_segment_starts_its_mapping() {
        let segments = [
            seg(0x0, 0x3850, 0x0, false),
            seg(0x4000, 0x5075, 0x4000, true),
            seg(0xa000, 0x31dc, 0xa000, false),
            seg(0xd7d0, 0x1b18, 0xe7d0, false),
        ];
        let base = 0x7f00_0000_0000;
        let (start, end) = (base + 0x4000, base + 0xa000);
        assert_eq!(bias(&segments, start, end, 0x4000), base);
    }

    /// The load segments of an lld-linked Rust binary (stackconv's own
    /// release build with Rust 1.95): `.text` at file offset 0x30c600,
    /// address 0x30d600, mapped from the page at 0x30c000, which the
    /// read-only segment before it holds too. The bias must come from the
    /// executable segment (it came from the read-only one, 0x1000 off, and
    /// unwinding stopped after the first frame of nearly every sample).
    #[test]
    fn lld_text_segment_starts_mid_page() {
        let segments = [
            seg(0x0, 0x30c5e8, 0x0, false),
            seg(0x30c600, 0xb96690, 0x30d600, true),
            seg(0xea2c90, 0x84ee0, 0xea4c90, false),
            seg(0xf27b70, 0xb5a, 0xf2ab70, false),
        ];
        let base = 0x5555_5555_4000;
        let (start, end) = (base + 0x30d000, base + 0xea4000);
        assert_eq!(bias(&segments, start, end, 0x30c000), base);
    }

    /// A mapping of part of a segment (split by a later mapping) still
    /// finds it.
    #[test]
    fn a_mapping_inside_a_segment() {
        let segments = [seg(0x1000, 0x10000, 0x401000, true)];
        let start = 0x405000;
        assert_eq!(bias(&segments, start, start + 0x1000, 0x5000), 0);
    }
}
