//! ELF symbol tables as perf 6.1 loads them (tools/perf/util/symbol-elf.c
//! `dso__load_sym`, `dso__synthesize_plt_symbols`; tools/perf/util/symbol.c
//! `symbols__fixup_duplicate`, `choose_best_symbol`, `symbols__fixup_end`).
//!
//! Like perf for user-space DSOs, symbol addresses are converted to file
//! offsets through the PT_LOAD program headers, so a sampled address looks
//! up as `addr - map.start + map.pgoff` without knowing the load bias.

use std::borrow::Cow;
use std::sync::Arc;

use object::read::elf::{ElfFile, FileHeader, Rel, Rela, SectionHeader};
use object::{Endianness, Object, ObjectSection, ObjectSegment, ObjectSymbol, SectionIndex};

use super::dwarf::{Dwarf, DwarfSections, UnitIndex};
use super::names::demangle;
use super::FileBytes;

#[cfg(test)]
const STB_LOCAL: u8 = 0;
const STB_GLOBAL: u8 = 1;
const STB_WEAK: u8 = 2;
const STT_NOTYPE: u8 = 0;
const STT_OBJECT: u8 = 1;
const STT_FUNC: u8 = 2;
const STT_GNU_IFUNC: u8 = 10;
const STV_INTERNAL: u8 = 1;
const STV_HIDDEN: u8 = 2;
const SHF_ALLOC: u64 = 2;
pub(super) const SHT_NOBITS: u32 = 8;
const EM_SPARC: u16 = 2;
const EM_ARM: u16 = 40;
const EM_SPARCV9: u16 = 43;
const EM_AARCH64: u16 = 183;
const PAGE: u64 = 4096;
/// One PT_LOAD program header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Load {
    pub offset: u64,
    pub filesz: u64,
    pub vaddr: u64,
    pub memsz: u64,
}

/// A symbol in file-offset space: `[start, end)` after perf's fixups.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Sym {
    pub start: u64,
    pub end: u64,
    /// The symbol table name (PLT stubs: demangled target + `@plt`).
    pub name: Box<str>,
}

/// A symbol as read, before perf's fixups.
#[derive(Clone, Debug)]
struct RawSym {
    start: u64,
    size: u64,
    bind: u8,
    name: Box<str>,
}

/// The symbols (and DWARF) of one ELF file, ready for lookups.
pub(crate) struct ElfSymbols {
    pub loads: Arc<[Load]>,
    syms: Arc<[Sym]>,
    pub dwarf: Option<Dwarf>,
}

/// A file's symbols and DWARF sections without its DWARF contexts, to
/// send to another thread, which makes contexts of its own
/// ([`ElfSymbols::share`]).
pub(crate) struct SharedSymbols {
    loads: Arc<[Load]>,
    syms: Arc<[Sym]>,
    dwarf: Option<(DwarfSections, Arc<UnitIndex>)>,
}

impl SharedSymbols {
    /// The DWARF units' address ranges, from `.debug_aranges` (none
    /// without one): which unit an address's lookup parses.
    pub(crate) fn units(&self) -> UnitRanges {
        UnitRanges {
            loads: self.loads.clone(),
            index: self.dwarf.as_ref().map(|(_, units)| units.clone()),
        }
    }

    /// The symbols, with DWARF contexts of their own.
    pub(crate) fn into_symbols(self) -> ElfSymbols {
        ElfSymbols {
            loads: self.loads,
            syms: self.syms,
            dwarf: self.dwarf.map(Dwarf::from_shared),
        }
    }
}

/// The address ranges of a file's DWARF units ([`SharedSymbols::units`]).
pub(crate) struct UnitRanges {
    loads: Arc<[Load]>,
    index: Option<Arc<UnitIndex>>,
}

impl UnitRanges {
    /// The unit (its offset in `.debug_info`) and its size, of the
    /// address at file offset `offset`.
    pub(crate) fn unit_of(&self, offset: u64) -> Option<(usize, usize)> {
        self.index
            .as_ref()?
            .unit_of(offset_to_svma(&self.loads, offset)?)
    }
}

impl std::fmt::Debug for ElfSymbols {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ElfSymbols")
            .field("loads", &self.loads)
            .field("symbols", &self.syms.len())
            .field("dwarf", &self.dwarf.is_some())
            .finish()
    }
}

/// The GNU build id of an ELF file, if it is one and has one.
pub(crate) fn build_id(data: &[u8]) -> Option<Vec<u8>> {
    let file = object::File::parse(data).ok()?;
    file.build_id().ok().flatten().map(<[u8]>::to_vec)
}

/// Whether the file has a `.symtab` section (perf's `symsrc__has_symtab`).
fn has_symtab(file: &object::File<'_>) -> bool {
    file.section_by_name(".symtab").is_some()
}

impl ElfSymbols {
    /// Load symbols the way perf does for a DSO: `.symtab` from the binary,
    /// else from its separate debug file, else `.dynsym`; PLT stubs from the
    /// binary; DWARF from whichever has it (when `want_dwarf`).
    ///
    /// Returns `None` when neither input parses as ELF.
    pub(crate) fn load(
        binary: Option<&FileBytes>,
        debug: Option<&FileBytes>,
        want_dwarf: bool,
    ) -> Option<Self> {
        let bin = binary.and_then(|d| object::File::parse((**d).as_ref()).ok());
        let dbg = debug.and_then(|d| object::File::parse((**d).as_ref()).ok());
        let runtime = bin.as_ref().or(dbg.as_ref())?;
        let loads = loads(runtime);

        // perf's syms_ss: the first candidate with a .symtab; else the
        // runtime file's .dynsym.
        let raw = match (&bin, &dbg) {
            (Some(b), _) if has_symtab(b) => collect(b, &loads, false),
            (_, Some(d)) if has_symtab(d) => collect(d, &loads, false),
            (Some(b), _) => collect(b, &loads, true),
            (None, Some(d)) => collect(d, &loads, true),
            (None, None) => Vec::new(),
        };
        let mut syms = fixup(raw);

        if let Some(b) = &bin {
            let plt = match b {
                object::File::Elf64(f) => plt_symbols(f),
                object::File::Elf32(f) => plt_symbols(f),
                _ => None,
            };
            if let Some((plt_start, plt)) = plt {
                // A symbol before .plt (e.g. `_init`) extended over it by
                // the end fixup is cut at the .plt start, as newer perf does,
                // so PLT stubs win inside .plt.
                for s in &mut syms {
                    if s.start < plt_start && s.end > plt_start {
                        s.end = plt_start;
                    }
                }
                syms.extend(plt);
                syms.sort_by_key(|s| s.start);
            }
        }

        let mut symbols = ElfSymbols {
            loads: loads.into(),
            syms: syms.into(),
            dwarf: None,
        };
        if want_dwarf {
            symbols.read_dwarf(binary, debug);
        }
        Some(symbols)
    }

    /// Read DWARF (for lines and inlined frames) from whichever of the
    /// binary and its debug file has it, when not read yet.
    pub(crate) fn read_dwarf(&mut self, binary: Option<&FileBytes>, debug: Option<&FileBytes>) {
        if self.dwarf.is_some() {
            return;
        }
        self.dwarf = super::dwarf::read_dwarf(binary, debug);
    }

    /// The same symbols and DWARF sections, for another thread to look
    /// addresses up with a DWARF context of its own (an addr2line context
    /// is not shared among threads).
    pub(crate) fn share(&self) -> SharedSymbols {
        SharedSymbols {
            loads: self.loads.clone(),
            syms: self.syms.clone(),
            dwarf: self.dwarf.as_ref().map(Dwarf::share),
        }
    }

    /// Every symbol, in address order.
    #[cfg(test)]
    pub(crate) fn symbols(&self) -> &[Sym] {
        &self.syms
    }

    /// The symbol covering a file offset (perf's `symbols__find`: a sized
    /// symbol covers `[start, end)`, an empty one only its start).
    pub(crate) fn find(&self, offset: u64) -> Option<&Sym> {
        let idx = self.syms.partition_point(|s| s.start <= offset);
        let covers = |s: &&Sym| offset < s.end || (offset == s.start && s.start == s.end);
        let last = idx.checked_sub(1).and_then(|i| self.syms.get(i));
        if let Some(s) = last.filter(covers) {
            return Some(s);
        }
        // One level of nesting: a sized symbol that contains a smaller one.
        idx.checked_sub(2)
            .and_then(|i| self.syms.get(i))
            .filter(covers)
    }

    /// The ELF virtual address (SVMA) of a file offset, through PT_LOAD.
    pub(crate) fn offset_to_svma(&self, offset: u64) -> Option<u64> {
        offset_to_svma(&self.loads, offset)
    }
}

/// The ELF virtual address (SVMA) of a file offset, through `loads`.
fn offset_to_svma(loads: &[Load], offset: u64) -> Option<u64> {
    loads.iter().find_map(|l| {
        let rel = offset.checked_sub(l.offset)?;
        (rel < l.filesz).then(|| l.vaddr.wrapping_add(rel))
    })
}

fn loads(file: &object::File<'_>) -> Vec<Load> {
    file.segments()
        .map(|seg| {
            let (offset, filesz) = seg.file_range();
            Load {
                offset,
                filesz,
                vaddr: seg.address(),
                memsz: seg.size(),
            }
        })
        .collect()
}

/// perf's `elf_read_program_header` + adjustment: the file offset of a
/// symbol value, through the PT_LOAD that contains it
/// (`max(p_memsz, p_filesz)` long).
fn value_to_offset(loads: &[Load], value: u64) -> Option<u64> {
    loads.iter().find_map(|l| {
        let size = l.memsz.max(l.filesz);
        let rel = value.checked_sub(l.vaddr)?;
        (size > 0 && rel < size).then(|| l.offset.wrapping_add(rel))
    })
}

/// The symbols perf keeps from `.symtab` (or `.dynsym`): named, defined
/// functions and objects, and labels (untyped, not hidden) in text or data
/// sections; all in allocated sections and inside a PT_LOAD.
fn collect(file: &object::File<'_>, loads: &[Load], dynsym: bool) -> Vec<RawSym> {
    let machine_arm = matches!(file.architecture(), object::Architecture::Arm);
    let mut out = Vec::new();
    let iter = if dynsym {
        file.dynamic_symbols()
    } else {
        file.symbols()
    };
    for sym in iter {
        let object::SymbolFlags::Elf { st_info, st_other } = sym.flags() else {
            continue;
        };
        let typ = st_info.0 & 0xf;
        let bind = st_info.0 >> 4;
        let vis = st_other.0 & 3;
        let Ok(name) = sym.name_bytes() else { continue };
        if name.is_empty() {
            continue;
        }
        let object::SymbolSection::Section(index) = sym.section() else {
            continue;
        };
        let is_func = typ == STT_FUNC || typ == STT_GNU_IFUNC;
        let is_label = typ == STT_NOTYPE && vis != STV_HIDDEN && vis != STV_INTERNAL;
        if !(is_func || typ == STT_OBJECT || is_label) {
            continue;
        }
        let Ok(section) = file.section_by_index(index) else {
            continue;
        };
        let object::SectionFlags::Elf { sh_flags, .. } = section.flags() else {
            continue;
        };
        if sh_flags.0 & SHF_ALLOC == 0 {
            continue;
        }
        if is_label {
            let sname = section.name_bytes().unwrap_or_default();
            if !contains(sname, b"text") && !contains(sname, b"data") {
                continue;
            }
        }
        let mut value = sym.address();
        if machine_arm && is_func {
            value &= !1;
        }
        let Some(start) = value_to_offset(loads, value) else {
            continue;
        };
        out.push(RawSym {
            start,
            size: sym.size(),
            bind,
            name: String::from_utf8_lossy(name).into(),
        });
    }
    out
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

fn leading_underscores(s: &str) -> usize {
    s.bytes().take_while(|&b| b == b'_').count()
}

/// perf's `choose_best_symbol`: true keeps `a`. Names are compared
/// demangled, as perf stores them.
fn choose_a(a: &RawSym, a_name: &str, b: &RawSym, b_name: &str) -> bool {
    // Prefer a symbol with non zero length.
    if b.size == 0 && a.size > 0 {
        return true;
    }
    if a.size == 0 && b.size > 0 {
        return false;
    }
    // Prefer a non weak symbol over a weak one.
    let (aw, bw) = (a.bind == STB_WEAK, b.bind == STB_WEAK);
    if bw && !aw {
        return true;
    }
    if aw && !bw {
        return false;
    }
    // Prefer a global symbol over a non global one.
    let (ag, bg) = (a.bind == STB_GLOBAL, b.bind == STB_GLOBAL);
    if ag && !bg {
        return true;
    }
    if bg && !ag {
        return false;
    }
    // Prefer a symbol with less underscores.
    let (au, bu) = (leading_underscores(a_name), leading_underscores(b_name));
    if bu > au {
        return true;
    }
    if au > bu {
        return false;
    }
    // Choose the symbol with the longest name.
    if a_name.len() != b_name.len() {
        return a_name.len() > b_name.len();
    }
    // arch__choose_best_symbol: avoid "SyS" kernel syscall aliases.
    !(a_name.starts_with("SyS") || a_name.starts_with("compat_SyS"))
}

/// perf 6.1 (`dso__load_sym`): `symbols__fixup_end(is_kallsyms=false)`,
/// then `symbols__fixup_duplicate`. Because the end fixup runs first, of
/// several unsized symbols at one address only the last (in table order)
/// gets extended, so it wins the "sized" rule.
fn fixup(mut raw: Vec<RawSym>) -> Vec<Sym> {
    // Stable: equal starts keep symbol-table order, as perf's rb-tree
    // inserts equal keys to the right.
    raw.sort_by_key(|s| s.start);
    let mut next_start: Option<u64> = None;
    for s in raw.iter_mut().rev() {
        if s.size == 0 {
            let end = match next_start {
                Some(n) => n,
                None => round_up_page(s.start).saturating_add(PAGE),
            };
            s.size = end.saturating_sub(s.start);
        }
        next_start = Some(s.start);
    }
    let mut kept: Vec<RawSym> = Vec::with_capacity(raw.len());
    let mut kept_name: Option<String> = None;
    for s in raw {
        match kept.last_mut() {
            Some(last) if last.start == s.start => {
                let a_name = kept_name
                    .take()
                    .unwrap_or_else(|| demangle(&last.name).into_owned());
                let b_name = demangle(&s.name).into_owned();
                if choose_a(last, &a_name, &s, &b_name) {
                    kept_name = Some(a_name);
                } else {
                    *last = s;
                    kept_name = Some(b_name);
                }
            }
            _ => {
                kept.push(s);
                kept_name = None;
            }
        }
    }
    kept.into_iter()
        .map(|s| Sym {
            start: s.start,
            end: s.start.saturating_add(s.size),
            name: s.name,
        })
        .collect()
}

fn round_up_page(x: u64) -> u64 {
    x.checked_next_multiple_of(PAGE)
        .unwrap_or(u64::MAX - (PAGE - 1))
}

/// perf 6.1's `dso__synthesize_plt_symbols`: one `name@plt` symbol per
/// `.rela.plt` (or `.rel.plt`) entry, in relocation order, `plt_entry_size`
/// apart after the PLT header, named after the relocation's symbol
/// (demangled; empty for IRELATIVE, giving `@plt`). Returns the .plt file
/// offset and the symbols.
fn plt_symbols<Elf: FileHeader<Endian = Endianness>>(
    f: &ElfFile<'_, Elf>,
) -> Option<(u64, Vec<Sym>)> {
    let endian = f.endian();
    let data = f.data();
    let sections = f.elf_section_table();
    let (_, plt) = sections.section_by_name(endian, b".plt")?;
    if plt.sh_type(endian).0 == SHT_NOBITS {
        return None;
    }
    let plt_offset: u64 = plt.sh_offset(endian).into();
    let entsize: u64 = plt.sh_entsize(endian).into();
    let (header, entry) = match f.elf_header().e_machine(endian).0 {
        EM_ARM => (20, 12),
        EM_AARCH64 => (32, 16),
        EM_SPARC => (48, 12),
        EM_SPARCV9 => (128, 32),
        _ => (entsize, entsize),
    };
    if entry == 0 {
        return None;
    }
    let (_, rel) = sections
        .section_by_name(endian, b".rela.plt")
        .or_else(|| sections.section_by_name(endian, b".rel.plt"))?;
    let link = rel.sh_link(endian);
    if link == 0 {
        return None;
    }
    let link = SectionIndex(usize::try_from(link).ok()?);
    let symtab = if f.elf_dynamic_symbol_table().section() == link {
        f.elf_dynamic_symbol_table()
    } else if f.elf_symbol_table().section() == link {
        f.elf_symbol_table()
    } else {
        return None;
    };
    let sym_indices: Vec<u32> = if let Ok(Some((relas, _))) = rel.rela(endian, data) {
        relas.iter().map(|r| r.r_sym(endian, false)).collect()
    } else if let Ok(Some((rels, _))) = rel.rel(endian, data) {
        rels.iter().map(|r| r.r_sym(endian)).collect()
    } else {
        return None;
    };
    let mut out = Vec::with_capacity(sym_indices.len());
    let mut at = plt_offset.checked_add(header)?;
    for idx in sym_indices {
        let name = usize::try_from(idx)
            .ok()
            .and_then(|i| symtab.symbol(object::SymbolIndex(i)).ok())
            .and_then(|s| symtab.symbol_name(endian, s).ok())
            .map(String::from_utf8_lossy)
            .unwrap_or(Cow::Borrowed(""));
        let end = at.checked_add(entry)?;
        out.push(Sym {
            start: at,
            end,
            name: format!("{}@plt", demangle(&name)).into(),
        });
        at = end;
    }
    Some((plt_offset, out))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(start: u64, size: u64, bind: u8, name: &str) -> RawSym {
        RawSym {
            start,
            size,
            bind,
            name: name.into(),
        }
    }

    fn names(syms: &[Sym]) -> Vec<(u64, u64, &str)> {
        syms.iter().map(|s| (s.start, s.end, &*s.name)).collect()
    }

    #[test]
    fn duplicates_resolved_as_perf() {
        let syms = fixup(vec![
            // sized beats unsized
            raw(0x10, 0, STB_GLOBAL, "unsized"),
            raw(0x10, 8, STB_LOCAL, "sized"),
            // ... but the end fixup runs first: an unsized symbol last in
            // its group is extended to the next address, then it is sized
            raw(0x18, 4, STB_LOCAL, "first_local"),
            raw(0x18, 0, STB_GLOBAL, "later_global"),
            // global beats weak, whatever the order
            raw(0x20, 8, STB_WEAK, "weak_longer_name"),
            raw(0x20, 8, STB_GLOBAL, "glob"),
            // global beats local
            raw(0x30, 8, STB_LOCAL, "local_long"),
            raw(0x30, 8, STB_GLOBAL, "g"),
            // fewer underscores, then the longer name
            raw(0x40, 8, STB_GLOBAL, "__libc_write"),
            raw(0x40, 8, STB_GLOBAL, "write"),
            raw(0x40, 8, STB_GLOBAL, "_write"),
            raw(0x50, 8, STB_WEAK, "mmap"),
            raw(0x50, 8, STB_WEAK, "mmap64"),
            // a full tie keeps the first in table order
            raw(0x60, 8, STB_GLOBAL, "abc"),
            raw(0x60, 8, STB_GLOBAL, "xyz"),
        ]);
        assert_eq!(
            names(&syms),
            vec![
                (0x10, 0x18, "sized"),
                (0x18, 0x20, "later_global"),
                (0x20, 0x28, "glob"),
                (0x30, 0x38, "g"),
                (0x40, 0x48, "write"),
                (0x50, 0x58, "mmap64"),
                (0x60, 0x68, "abc"),
            ]
        );
    }

    #[test]
    fn unsized_symbols_extend_to_the_next() {
        let syms = fixup(vec![
            raw(0x1000, 0, STB_GLOBAL, "a"),
            raw(0x1010, 4, STB_GLOBAL, "b"),
            raw(0x1020, 0, STB_GLOBAL, "c"),
        ]);
        assert_eq!(
            names(&syms),
            vec![
                (0x1000, 0x1010, "a"),
                (0x1010, 0x1014, "b"),
                (0x1020, 0x3000, "c")
            ]
        );
        let e = ElfSymbols {
            loads: Arc::from(Vec::new()),
            syms: syms.into(),
            dwarf: None,
        };
        assert_eq!(e.find(0x100f).map(|s| &*s.name), Some("a"));
        assert_eq!(e.find(0x1013).map(|s| &*s.name), Some("b"));
        assert_eq!(e.find(0x1014).map(|s| &*s.name), None);
        assert_eq!(e.find(0x2fff).map(|s| &*s.name), Some("c"));
        assert_eq!(e.find(0x3000).map(|s| &*s.name), None);
        assert_eq!(e.find(0xfff).map(|s| &*s.name), None);
    }

    #[test]
    fn garbage_is_not_elf() {
        let bytes = |b: &[u8]| -> FileBytes { Arc::new(b.to_vec()) };
        assert!(ElfSymbols::load(Some(&bytes(b"\x7fELF\x02\x01\x01")), None, true).is_none());
        assert!(ElfSymbols::load(Some(&bytes(b"")), None, true).is_none());
        assert_eq!(build_id(b"nope"), None);
    }
}
