//! A file's DWARF, for source lines and inlined frames: its sections,
//! read in place or inflated once, and an addr2line context per
//! compilation unit, made by the unit's first lookup.
//!
//! addr2line's context of a whole file reads every unit's header,
//! abbreviations, first entry and line-program header when it is made
//! (libc's debug file: 2,063 units, ~30 ms, which the first lookup in libc
//! waited for), though a profile's addresses fall in a few of them.
//! `.debug_aranges` says which unit an address is in, and a context of
//! that unit alone answers for it ([`Dwarf::lookup`]). Where GCC wrote the
//! file, `.debug_aranges` lists every unit and no address twice: it is
//! then taken at its word (an address it does not list, such as a PLT
//! stub's, is in no unit). Otherwise (LLVM writes no `.debug_aranges`
//! unless asked; LTO lists only some units) what it does not answer is
//! asked of the whole file's context, made then, as is an address whose
//! unit refers into other units by offsets in the whole section (which a
//! unit read alone does not have).

use std::cell::OnceCell;
use std::sync::Arc;

use gimli::Reader as _;
use object::{Object, ObjectSection};

use super::FileBytes;

/// Largest decompressed debug section we accept (a crafted header can claim
/// any size).
const MAX_SECTION_BYTES: u64 = 1 << 30;
/// Largest compression ratio we believe for a debug section.
const MAX_COMPRESSION_RATIO: u64 = 2048;

/// The DWARF reader type: sections read in place from the (possibly
/// mapped) file, or inflated when compressed.
pub(crate) type DwarfReader = gimli::EndianReader<gimli::RunTimeEndian, SectionBytes>;

/// A DWARF section's bytes: a range of the file, which stays alive as long
/// as the context reading it, or the section inflated.
#[derive(Clone)]
pub(crate) enum SectionBytes {
    /// `range` of the file's bytes.
    InFile(FileBytes, std::ops::Range<usize>),
    /// Inflated (or empty): the inflater's buffer itself, not a copy.
    Inflated(Arc<Vec<u8>>),
}

impl SectionBytes {
    /// A section that is missing, not read, or could not be inflated.
    fn empty() -> Self {
        SectionBytes::Inflated(Arc::new(Vec::new()))
    }
}

impl std::ops::Deref for SectionBytes {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        match self {
            SectionBytes::InFile(file, range) => {
                (**file).as_ref().get(range.clone()).unwrap_or_default()
            }
            SectionBytes::Inflated(bytes) => bytes.as_slice(),
        }
    }
}

impl std::fmt::Debug for SectionBytes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SectionBytes")
            .field("len", &self.len())
            .finish()
    }
}

// SAFETY: `StableDeref` promises that the slice `deref` gives does not move
// while the value or a clone of it lives, even when the value itself moves
// (gimli keeps a pointer into it). Both kinds deref into memory behind an
// `Arc`, which a move or clone of the `Arc` leaves where it is: an
// `Arc<Vec<u8>>` never changed (the vector's buffer stays where it is
// while nothing can change the vector), or a file's bytes as the `FileBytes` this
// crate makes hold them (a read-only map, or a `Vec<u8>` never changed
// once in its `Arc`: see `locate::read_file`), which give the same slice
// on every call. `SectionBytes` is made only here, from those.
#[allow(unsafe_code)]
unsafe impl stable_deref_trait::StableDeref for SectionBytes {}

// SAFETY: a clone holds a clone of the same `Arc` and the same range, so it
// derefs to the same slice.
#[allow(unsafe_code)]
unsafe impl stable_deref_trait::CloneStableDeref for SectionBytes {}

/// A file's DWARF: its sections, which unit each address is in, and the
/// contexts made so far.
pub(crate) struct Dwarf {
    sections: DwarfSections,
    units: Arc<UnitIndex>,
    /// Each unit's context (by its place in `units.units`), made by the
    /// unit's first lookup; `None` when the unit cannot be read alone.
    contexts: Box<[OnceCell<Option<Box<Context>>>]>,
    /// The whole file's context, made by the first lookup the units alone
    /// do not answer.
    whole: OnceCell<Option<Box<Context>>>,
}

/// An addr2line context over a file's DWARF, or one unit of it.
pub(crate) type Context = addr2line::Context<DwarfReader>;

/// A frame DWARF gives for an address: its function's name as perf shows
/// it, its source file and line (0: none).
pub(crate) type DwarfFrame = (Option<String>, Option<String>, u32);

/// Most frames (inlined plus the function) reported for one address.
const MAX_INLINE_DEPTH: usize = 64;

impl Dwarf {
    /// The frames at the address `svma`, innermost first: the functions
    /// inlined there, then the one they are inlined into (empty when no
    /// unit knows the address).
    pub(crate) fn frames(&self, svma: u64) -> Vec<DwarfFrame> {
        self.lookup(svma, |ctx| frames_in(ctx, svma))
            .unwrap_or_default()
    }

    /// The source file and line of the address `svma`.
    pub(crate) fn location(&self, svma: u64) -> Option<(Option<String>, u32)> {
        self.lookup(svma, |ctx| location_in(ctx, svma))
    }

    /// What `find` gives for the address `svma` (`None`: nothing found):
    /// asked of the context of the unit `.debug_aranges` puts the address
    /// in. When `.debug_aranges` lists every unit, once each, what it says
    /// stands: an address it does not list is in no unit, and nothing
    /// found in the unit it names is nothing found. Else those are asked
    /// of the whole file's context, as is an address whose unit cannot be
    /// read alone.
    fn lookup<T>(&self, svma: u64, find: impl Fn(&Context) -> Option<T>) -> Option<T> {
        match self.units.unit_at(svma).map(|at| self.unit_context(at)) {
            Some(Some(unit)) => {
                let found = find(unit);
                if found.is_some() || self.units.complete {
                    return found;
                }
            }
            None if self.units.complete => return None,
            Some(None) | None => {}
        }
        self.whole().and_then(find)
    }

    /// The context of the unit at `at` in `units.units`, made on first
    /// need.
    fn unit_context(&self, at: usize) -> Option<&Context> {
        let &(offset, size) = self.units.units.get(at)?;
        self.contexts
            .get(at)?
            .get_or_init(|| self.sections.unit_context(offset, size))
            .as_deref()
    }

    fn whole(&self) -> Option<&Context> {
        self.whole
            .get_or_init(|| self.sections.whole_context())
            .as_deref()
    }

    /// The sections and the units' address ranges, for another thread to
    /// make a `Dwarf` of its own of ([`Dwarf::from_shared`]): nothing is
    /// read or inflated again.
    pub(crate) fn share(&self) -> (DwarfSections, Arc<UnitIndex>) {
        (self.sections.clone(), self.units.clone())
    }

    /// A `Dwarf` of shared sections and units, with no context made yet.
    pub(crate) fn from_shared((sections, units): (DwarfSections, Arc<UnitIndex>)) -> Dwarf {
        let contexts = std::iter::repeat_with(OnceCell::new)
            .take(units.units.len())
            .collect();
        Dwarf {
            sections,
            units,
            contexts,
            whole: OnceCell::new(),
        }
    }
}

/// What `ctx` says of `svma` for [`Dwarf::frames`] (`None`: nothing).
fn frames_in(ctx: &Context, svma: u64) -> Option<Vec<DwarfFrame>> {
    let mut found = Vec::new();
    if let Ok(mut iter) = ctx.find_frames(svma).skip_all_loads() {
        while let Ok(Some(f)) = iter.next() {
            if found.len() >= MAX_INLINE_DEPTH {
                break;
            }
            // perf 6.1 names inlined frames from `addr2line -f` output
            // (the linkage name where DWARF has one), demangled its own
            // way (no parameters).
            let name = f
                .function
                .as_ref()
                .and_then(|n| n.raw_name().ok())
                .map(|n| super::names::display_name(&n));
            let (file, line) = f
                .location
                .map(|l| (l.file.map(str::to_string), l.line.unwrap_or(0)))
                .unwrap_or((None, 0));
            found.push((name, file, line));
        }
    }
    (!found.is_empty()).then_some(found)
}

/// What `ctx` says of `svma` for [`Dwarf::location`].
fn location_in(ctx: &Context, svma: u64) -> Option<(Option<String>, u32)> {
    let loc = ctx.find_location(svma).ok()??;
    Some((loc.file.map(str::to_string), loc.line.unwrap_or(0)))
}

/// The sections of a file's DWARF, each a range of the file or inflated
/// once: a context made of them reads and inflates nothing again.
#[derive(Clone)]
pub(crate) struct DwarfSections {
    endian: gimli::RunTimeEndian,
    sections: Vec<(gimli::SectionId, SectionBytes)>,
}

impl DwarfSections {
    /// A reader of section `id` (empty when not kept).
    fn reader(&self, id: gimli::SectionId) -> DwarfReader {
        let bytes = self
            .sections
            .iter()
            .find(|(i, _)| *i == id)
            .map_or_else(SectionBytes::empty, |(_, b)| b.clone());
        gimli::EndianReader::new(bytes, self.endian)
    }

    /// The DWARF of these sections: its units' address ranges read, no
    /// unit parsed yet.
    fn dwarf(self) -> Dwarf {
        let units = Arc::new(UnitIndex::new(&self));
        Dwarf::from_shared((self, units))
    }

    /// A context of the whole file (addr2line indexes every unit).
    fn whole_context(&self) -> Option<Box<Context>> {
        let dwarf = gimli::Dwarf::load(|id| Ok::<_, gimli::Error>(self.reader(id))).ok()?;
        Context::from_dwarf(dwarf).ok().map(Box::new)
    }

    /// A context of the unit at `offset` in `.debug_info`, `size` bytes,
    /// alone: `None` when the unit cannot be read, or may refer outside
    /// itself by a section offset ([`refs_stay_in_unit`]).
    fn unit_context(&self, offset: usize, size: usize) -> Option<Box<Context>> {
        use gimli::SectionId as S;
        let mut info = self.reader(S::DebugInfo);
        info.skip(offset).ok()?;
        info.truncate(size).ok()?;
        let header = gimli::DebugInfo::from(info.clone()).units().next().ok()??;
        if !refs_stay_in_unit(self.reader(S::DebugAbbrev), header.debug_abbrev_offset().0)? {
            return None;
        }
        let dwarf = gimli::Dwarf::load(|id| {
            Ok::<_, gimli::Error>(match id {
                S::DebugInfo => info.clone(),
                // Its unit offsets are those of the whole section; the
                // unit's own entries give its ranges.
                S::DebugAranges => gimli::EndianReader::new(SectionBytes::empty(), self.endian),
                _ => self.reader(id),
            })
        })
        .ok()?;
        Context::from_dwarf(dwarf).ok().map(Box::new)
    }
}

/// Whether no entry of a unit whose abbreviations start at `offset` in
/// `.debug_abbrev` can refer to another entry by its offset in the whole
/// `.debug_info` (`DW_FORM_ref_addr`), or into a supplementary file
/// (`DW_FORM_ref_sup4`/`8`, `DW_FORM_GNU_ref_alt`), or by a form only the
/// entry gives (`DW_FORM_indirect`): a unit read alone has none of those.
/// `None` when the abbreviations cannot be read.
fn refs_stay_in_unit(mut abbrevs: DwarfReader, offset: usize) -> Option<bool> {
    use gimli::constants as c;
    let far = [
        c::DW_FORM_ref_addr,
        c::DW_FORM_ref_sup4,
        c::DW_FORM_ref_sup8,
        c::DW_FORM_GNU_ref_alt,
        c::DW_FORM_indirect,
    ];
    abbrevs.skip(offset).ok()?;
    // Each step reads at least a byte: the section's end ends the loop.
    loop {
        // An abbreviation: code (0 ends the table), tag, children flag,
        // then (attribute, form) pairs ending with (0, 0).
        if abbrevs.read_uleb128().ok()? == 0 {
            return Some(true);
        }
        abbrevs.read_uleb128().ok()?;
        abbrevs.read_u8().ok()?;
        loop {
            let name = abbrevs.read_uleb128().ok()?;
            let form = abbrevs.read_uleb128().ok()?;
            if name == 0 && form == 0 {
                break;
            }
            if far.iter().any(|f| u64::from(f.0) == form) {
                return Some(false);
            }
            if form == u64::from(c::DW_FORM_implicit_const.0) {
                abbrevs.read_sleb128().ok()?;
            }
        }
    }
}

/// Which unit each address range is in, from `.debug_aranges`.
#[derive(Default)]
pub(crate) struct UnitIndex {
    /// (start, end, the unit's place in `units`), by start.
    ranges: Vec<(u64, u64, usize)>,
    /// Each unit's offset in `.debug_info` and size.
    units: Vec<(usize, usize)>,
    /// Whether every compilation unit of `.debug_info` is listed, and no
    /// address twice: then the list is the compiler's whole
    /// account of which code each unit has (GCC writes it so; LLVM writes
    /// no `.debug_aranges` unless asked).
    complete: bool,
}

impl UnitIndex {
    fn new(sections: &DwarfSections) -> Self {
        use gimli::SectionId as S;
        let mut index = UnitIndex::default();
        let info = gimli::DebugInfo::from(sections.reader(S::DebugInfo));
        let aranges = gimli::DebugAranges::from(sections.reader(S::DebugAranges));
        // A unit's place in `units` (a unit may have several sets).
        let mut places = std::collections::HashMap::new();
        let mut headers = aranges.headers();
        while let Ok(Some(h)) = headers.next() {
            let offset = h.debug_info_offset().0;
            let at = match places.get(&offset) {
                Some(&at) => at,
                None => {
                    let Ok(unit) = info.header_from_offset(h.debug_info_offset()) else {
                        continue;
                    };
                    index.units.push((offset, unit.length_including_self()));
                    places.insert(offset, index.units.len() - 1);
                    index.units.len() - 1
                }
            };
            let mut entries = h.entries();
            while let Ok(Some(e)) = entries.next() {
                if e.length() > 0 {
                    let end = e.address().saturating_add(e.length());
                    index.ranges.push((e.address(), end, at));
                }
            }
        }
        index.ranges.sort_unstable();
        index.complete = lists_every_unit(&info, &places) && index.no_overlap();
        index
    }

    /// Whether no two listed ranges overlap (each ends where the next
    /// starts, or before).
    fn no_overlap(&self) -> bool {
        self.ranges
            .windows(2)
            .all(|w| matches!(w, [a, b] if a.1 <= b.0))
    }

    /// The unit (its place in `units`) of the address `svma`.
    fn unit_at(&self, svma: u64) -> Option<usize> {
        let at = self.ranges.partition_point(|r| r.0 <= svma);
        let &(_, end, unit) = self.ranges.get(at.checked_sub(1)?)?;
        (svma < end).then_some(unit)
    }

    /// The unit (its offset in `.debug_info`) of the address `svma`, and
    /// its size: about what parsing it costs.
    pub(crate) fn unit_of(&self, svma: u64) -> Option<(usize, usize)> {
        self.units.get(self.unit_at(svma)?).copied()
    }
}

/// The DWARF (for lines and inlined frames) of whichever of the binary
/// and its debug file has it ([`super::elf::ElfSymbols::read_dwarf`], or a
/// thread that reads it ahead): its sections read, no unit parsed yet.
pub(crate) fn read_dwarf(binary: Option<&FileBytes>, debug: Option<&FileBytes>) -> Option<Dwarf> {
    fn parse(d: Option<&FileBytes>) -> Option<(object::File<'_>, &FileBytes)> {
        d.and_then(|d| Some((object::File::parse((**d).as_ref()).ok()?, d)))
    }
    match (parse(binary), parse(debug)) {
        (Some((b, bytes)), _) if has_dwarf(&b) => Some(dwarf_sections(&b, bytes).dwarf()),
        (_, Some((d, bytes))) if has_dwarf(&d) => Some(dwarf_sections(&d, bytes).dwarf()),
        _ => None,
    }
}

/// The file's DWARF sections (`bytes`, the file `file` was parsed from):
/// read where they lie in the file, inflated when compressed.
fn dwarf_sections(file: &object::File<'_>, bytes: &FileBytes) -> DwarfSections {
    let endian = if file.is_little_endian() {
        gimli::RunTimeEndian::Little
    } else {
        gimli::RunTimeEndian::Big
    };
    // Only the sections names and lines come from (those
    // `addr2line::Context::from_sections` takes): location lists, macros,
    // name indexes and type units are large, often compressed, and not
    // read.
    use gimli::SectionId as S;
    let used = [
        S::DebugAbbrev,
        S::DebugAddr,
        S::DebugAranges,
        S::DebugInfo,
        S::DebugLine,
        S::DebugLineStr,
        S::DebugRanges,
        S::DebugRngLists,
        S::DebugStr,
        S::DebugStrOffsets,
    ];
    let sections = used
        .iter()
        .map(|&id| (id, section_bytes(file, bytes, id.name())))
        .collect();
    DwarfSections { endian, sections }
}

/// A section's bytes: where they lie in `bytes` when not compressed (no
/// copy), else inflated; empty when missing or not inflatable.
fn section_bytes(file: &object::File<'_>, bytes: &FileBytes, name: &str) -> SectionBytes {
    let Some(section) = file.section_by_name(name) else {
        return SectionBytes::empty();
    };
    if let Ok(range) = section.compressed_file_range() {
        if range.format == object::CompressionFormat::None {
            let start = usize::try_from(range.offset).ok();
            let end = start.zip(usize::try_from(range.compressed_size).ok());
            return match end.and_then(|(start, len)| Some(start..start.checked_add(len)?)) {
                Some(range) if range.end <= (**bytes).as_ref().len() => {
                    SectionBytes::InFile(bytes.clone(), range)
                }
                _ => SectionBytes::empty(),
            };
        }
    }
    let Ok(compressed) = section.compressed_data() else {
        return SectionBytes::empty();
    };
    // The header's size is what the decompressor allocates: refuse sizes
    // no real debug section compresses to (zlib tops out near 1:1032).
    let plausible = u64::try_from(compressed.data.len())
        .unwrap_or(u64::MAX)
        .saturating_mul(MAX_COMPRESSION_RATIO)
        .min(MAX_SECTION_BYTES);
    if compressed.format != object::CompressionFormat::None
        && compressed.uncompressed_size > plausible
    {
        return SectionBytes::empty();
    }
    match compressed.decompress() {
        // Owned when inflated: moved, not copied (libc's 8 MB of debug
        // sections were copied once more, and their pages touched twice).
        Ok(inflated) => SectionBytes::Inflated(Arc::new(inflated.into_owned())),
        Err(_) => SectionBytes::empty(),
    }
}

/// Whether every compilation unit in `info` is among the `listed` ones
/// (by offset; type and partial units have no code of their own).
fn lists_every_unit(
    info: &gimli::DebugInfo<DwarfReader>,
    listed: &std::collections::HashMap<usize, usize>,
) -> bool {
    let mut headers = info.units();
    loop {
        match headers.next() {
            Ok(None) => return true,
            Err(_) => return false,
            Ok(Some(h)) => {
                let code = matches!(
                    h.type_(),
                    gimli::UnitType::Compilation | gimli::UnitType::Skeleton(_)
                );
                let offset = h.debug_info_offset().map(|o| o.0);
                if code && offset.is_none_or(|o| !listed.contains_key(&o)) {
                    return false;
                }
            }
        }
    }
}

fn has_dwarf(file: &object::File<'_>) -> bool {
    file.section_by_name(".debug_info").is_some_and(|s| {
        !matches!(s.flags(), object::SectionFlags::Elf { sh_type, .. } if sh_type.0 == super::elf::SHT_NOBITS)
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    fn testdata_bin(name: &str) -> FileBytes {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../testdata/perf/bin")
            .join(name);
        Arc::new(std::fs::read(&path).expect("testdata binary"))
    }

    /// The addresses of a binary's `.text`.
    fn text(bytes: &FileBytes) -> std::ops::Range<u64> {
        let file = object::File::parse((**bytes).as_ref()).unwrap();
        let text = file.section_by_name(".text").unwrap();
        text.address()..text.address() + text.size()
    }

    /// Every address of the program's code gives the frames and the
    /// location the whole file's context gives (the reference: addr2line
    /// as it indexes every unit), for a program whose `.debug_aranges`
    /// lists its four units (looked up unit by unit, the whole file's
    /// context never made) and for the same program built with LTO (five
    /// units, one listed, referring into the others: looked up in the
    /// whole file's context).
    #[test]
    fn units_alone_answer_as_the_whole_file() {
        for (name, complete) in [("cunits", true), ("cunits-lto", false)] {
            let bytes = testdata_bin(name);
            let dwarf = read_dwarf(Some(&bytes), None).expect("DWARF");
            assert_eq!(dwarf.units.complete, complete, "{name}");
            let whole = dwarf.sections.whole_context().expect("context");
            let (mut inlined, mut located) = (0, 0);
            for svma in text(&bytes) {
                let frames = dwarf.frames(svma);
                assert_eq!(
                    frames,
                    frames_in(&whole, svma).unwrap_or_default(),
                    "{name} {svma:#x}"
                );
                let location = dwarf.location(svma);
                assert_eq!(location, location_in(&whole, svma), "{name} {svma:#x}");
                inlined += usize::from(frames.len() > 1);
                located += usize::from(location.is_some());
            }
            assert!(inlined > 20 && located > 200, "{name}: {inlined} {located}");
            let alone = dwarf
                .contexts
                .iter()
                .filter(|c| matches!(c.get(), Some(Some(_))))
                .count();
            if complete {
                assert_eq!((dwarf.units.units.len(), alone), (4, 4), "{name}");
                assert!(
                    dwarf.whole.get().is_none(),
                    "{name}: the whole file's context was made"
                );
            } else {
                assert_eq!(
                    alone, 0,
                    "{name}: a unit referring into others was read alone"
                );
            }
        }
    }

    /// `refs_stay_in_unit` reads a unit's abbreviations: an attribute of a
    /// form that refers by an offset in the whole section, a supplementary
    /// file, or a form the entry gives, anywhere in the table, keeps the
    /// unit from being read alone.
    #[test]
    fn abbreviations_that_refer_outside_the_unit() {
        use gimli::constants as c;
        let reader = |bytes: Vec<u8>| {
            gimli::EndianReader::new(
                SectionBytes::Inflated(Arc::new(bytes)),
                gimli::RunTimeEndian::Little,
            )
        };
        let uleb = |v: u64| {
            let mut out = Vec::new();
            gimli::leb128::write::unsigned(&mut out, v).unwrap();
            out
        };
        // Two abbreviations; the second's second attribute has the form
        // under test, after an implicit_const attribute whose value (a
        // signed LEB128 of two bytes) must be skipped.
        let table = |form: c::DwForm| {
            let mut t = vec![0xff]; // bytes before the table: its offset is 1
            t.extend(uleb(1));
            t.extend(uleb(c::DW_TAG_compile_unit.0.into()));
            t.push(1);
            t.extend(uleb(c::DW_AT_name.0.into()));
            t.extend(uleb(c::DW_FORM_strp.0.into()));
            t.extend([0, 0]);
            t.extend(uleb(2));
            t.extend(uleb(c::DW_TAG_subprogram.0.into()));
            t.push(0);
            t.extend(uleb(c::DW_AT_decl_file.0.into()));
            t.extend(uleb(c::DW_FORM_implicit_const.0.into()));
            t.extend([0x90, 0x7f]); // -112
            t.extend(uleb(c::DW_AT_abstract_origin.0.into()));
            t.extend(uleb(form.0.into()));
            t.extend([0, 0]);
            t.push(0);
            t
        };
        for (form, stays) in [
            (c::DW_FORM_ref4, true),
            (c::DW_FORM_ref_udata, true),
            (c::DW_FORM_ref_addr, false),
            (c::DW_FORM_ref_sup4, false),
            (c::DW_FORM_ref_sup8, false),
            (c::DW_FORM_GNU_ref_alt, false),
            (c::DW_FORM_indirect, false),
        ] {
            let t = table(form);
            assert_eq!(
                refs_stay_in_unit(reader(t.clone()), 1),
                Some(stays),
                "{form}"
            );
            // Cut anywhere before its end, the table cannot be read.
            for cut in 1..t.len() - 1 {
                let got = refs_stay_in_unit(reader(t[..cut].to_vec()), 1);
                assert!(
                    got.is_none() || got == Some(false),
                    "{form} cut at {cut}: {got:?}"
                );
            }
        }
        assert_eq!(
            refs_stay_in_unit(reader(vec![0]), 5),
            None,
            "offset past the end"
        );
    }
}
