//! Entry points for the fuzz targets and the corpus replay test: the
//! symbol-source parsers that [`crate::read`] reaches only through files
//! found beside a recording (perf maps, jitdump files, kallsyms, ELF
//! binaries), each fed bytes directly and exercised the way the
//! symbolizer uses what it parsed.
//!
//! Not a stable API: hidden from the docs, for `fuzz/fuzz_targets/` and
//! `crates/stackconv/tests/regress.rs` only. Every function takes any
//! bytes, never panics (that is what the fuzzers check) and returns how
//! many entries it found.
//!
//! ```
//! use stackconv_perf::symbolize::fuzzing;
//!
//! let map = b"7f0000001000 40 py::main:/app/main.py\nnot a line\n";
//! assert_eq!(fuzzing::perf_map(map), 1);
//! assert_eq!(fuzzing::jitdump(b"not a jitdump"), 0);
//! ```

use super::elf::ElfSymbols;
use super::jit::{parse_jitdump, parse_perf_map, JitEntry, JitTable};
use super::kallsyms::Kallsyms;
use super::{file_frames, jit_frame};

/// The addresses a table is probed at: each entry's first and last byte
/// and the byte after it.
fn probes(entries: &[JitEntry]) -> impl Iterator<Item = u64> + '_ {
    entries.iter().flat_map(|e| {
        let end = e.start.saturating_add(e.size);
        [e.start, end.saturating_sub(1), end]
    })
}

/// Look every entry up in the table built from them, and name what was
/// found as the symbolizer does.
fn exercise(entries: Vec<JitEntry>) -> usize {
    let n = entries.len();
    let table = JitTable::new(entries.clone());
    for addr in probes(&entries) {
        if let Some(e) = table.find(addr) {
            let _ = jit_frame(e);
        }
    }
    n
}

/// Parse a perf map (`/tmp/perf-PID.map`), build its address table and
/// look its entries up. Returns the number of entries read.
pub fn perf_map(data: &[u8]) -> usize {
    let (entries, _bad_lines) = parse_perf_map(data);
    exercise(entries)
}

/// Parse a jitdump file (`jit-PID.dump`), build its address table and
/// look its entries up. Returns the number of entries read.
pub fn jitdump(data: &[u8]) -> usize {
    exercise(parse_jitdump(data).entries)
}

/// Parse a kallsyms file and look up each symbol's start and end. Returns
/// the number of symbols kept.
pub fn kallsyms(data: &[u8]) -> usize {
    let (k, _bad_lines) = Kallsyms::parse(std::sync::Arc::new(data.to_vec()));
    for s in k.syms() {
        for addr in [s.start, s.end.saturating_sub(1), s.end] {
            let _ = k.find(addr);
        }
    }
    k.len()
}

/// Load an ELF file's symbols (and DWARF) as the symbolizer does for a
/// binary, and symbolize 64 file offsets spread over it, with inlined
/// frames and lines; then find their DWARF units (`.debug_aranges`) and
/// symbolize the second half again with a copy's DWARF context, as
/// the symbolizer shares a file out (`Symbolizer::symbolize_files`). Returns the
/// number of offsets that named a frame.
pub fn elf(data: &[u8]) -> usize {
    let file: super::FileBytes = std::sync::Arc::new(data.to_vec());
    let Some(symbols) = ElfSymbols::load(Some(&file), None, true) else {
        return 0;
    };
    let len = u64::try_from(data.len()).unwrap_or(u64::MAX);
    let offsets: Vec<u64> = (0..64u64).map(|i| len / 64 * i).collect();
    let named = offsets
        .iter()
        .filter(|&&offset| file_frames(&symbols, offset, true, true).is_ok())
        .count();
    let shared = symbols.share();
    let units = shared.units();
    let copy = shared.into_symbols();
    for &offset in offsets.get(32..).unwrap_or_default() {
        let _ = units.unit_of(offset);
        let _ = file_frames(&copy, offset, true, true);
    }
    named
}
