//! Kernel symbols from a kallsyms file, as perf 6.1 loads them
//! (tools/lib/symbol/kallsyms.c `kallsyms__parse`; tools/perf/util/symbol.c
//! `map__process_kallsym_symbol`, `symbols__fixup_duplicate`,
//! `symbols__fixup_end(.., is_kallsyms = true)`).

use std::sync::Arc;

const PAGE: u64 = 4096;

/// The symbols perf takes the kernel image's address from (`ref_reloc_sym`
/// in tools/perf/util/machine.c: `_text`, else `_stext`).
pub(crate) const RELOC_REFS: [&str; 2] = ["_text", "_stext"];

/// One kernel symbol after perf's fixups.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct KSym {
    pub start: u64,
    pub end: u64,
    /// The function name, without the module: where it is in
    /// [`Kallsyms::name`]'s text.
    name: std::ops::Range<u32>,
    /// `[module]` for a module symbol.
    pub module: Option<Arc<str>>,
}

/// A kept line, its names in the text parsed.
struct Parsed<'t> {
    start: u64,
    weak: bool,
    global: bool,
    name: &'t str,
    module: Option<&'t str>,
}

/// Tables from this many bytes have their lines read in two halves at
/// once.
const PARALLEL_BYTES: usize = 1 << 20;

/// The lines of (part of) a kallsyms file: those kept, in order; how many
/// were malformed; the relocation reference symbols met.
struct Lines<'t> {
    raw: Vec<Parsed<'t>>,
    bad: u64,
    reloc_refs: Vec<(Box<str>, u64)>,
}

impl<'t> Lines<'t> {
    fn read(text: &'t [u8]) -> Lines<'t> {
        let mut bad = 0u64;
        // Lines are some 40 bytes long, and most are kept.
        let mut raw: Vec<Parsed> = Vec::with_capacity(text.len() / 40);
        let mut reloc_refs = Vec::new();
        for line in text.split(|&b| b == b'\n') {
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            if line.is_empty() {
                continue;
            }
            match parse_line(line) {
                Some(Some(l)) => {
                    if l.module.is_none() && RELOC_REFS.contains(&l.name) {
                        reloc_refs.push((Box::from(l.name), l.start));
                    }
                    raw.push(Parsed {
                        start: l.start,
                        weak: l.weak,
                        global: l.global,
                        name: l.name,
                        module: l.module,
                    });
                }
                Some(None) => {}
                None => bad += 1,
            }
        }
        Lines {
            raw,
            bad,
            reloc_refs,
        }
    }
}

/// The parsed table: sorted, duplicates resolved, ends fixed.
#[derive(Debug, Default)]
pub(crate) struct Kallsyms {
    syms: Vec<KSym>,
    /// The symbols' names, one after the other (one allocation, not one
    /// per symbol: a kernel lists 100,000 and more).
    names: String,
    /// The addresses of the kernel image's relocation reference symbols
    /// as listed (before duplicates are resolved, which drops one of
    /// `_text` and `_stext` when they share an address).
    reloc_refs: Vec<(Box<str>, u64)>,
}

impl Kallsyms {
    /// Parse a kallsyms file: `ADDR TYPE NAME[\t[MODULE]]` lines. Only
    /// text, weak, data and bss symbols (`T W D B`, either case) are kept,
    /// as perf's `symbol_type__filter`. Malformed lines are skipped and
    /// counted in the second value.
    pub(crate) fn parse(text: &[u8]) -> (Self, u64) {
        // A long table's lines are read in two halves at once (split at a
        // line's end): the reader waits for this table at the first
        // kernel sample.
        let half = text.len() / 2;
        let split = (text.len() >= PARALLEL_BYTES)
            .then(|| text.get(half..)?.iter().position(|&b| b == b'\n'))
            .flatten()
            .map(|at| half + at + 1);
        Self::parse_split(text, split)
    }

    /// [`Kallsyms::parse`], the lines before `split` and from it read at
    /// once.
    fn parse_split(text: &[u8], split: Option<usize>) -> (Self, u64) {
        let Lines {
            mut raw,
            bad,
            reloc_refs,
        } = match split.and_then(|at| text.split_at_checked(at)) {
            Some((first, second)) => std::thread::scope(|scope| {
                let other = std::thread::Builder::new()
                    .name("kallsyms-2".into())
                    .spawn_scoped(scope, || Lines::read(second));
                let mut lines = Lines::read(first);
                let rest = match other {
                    Ok(h) => h.join().unwrap_or_else(|_| Lines::read(second)),
                    Err(_) => Lines::read(second),
                };
                lines.raw.extend(rest.raw);
                lines.bad += rest.bad;
                lines.reloc_refs.extend(rest.reloc_refs);
                lines
            }),
            None => Lines::read(text),
        };
        if !raw.is_empty() && raw.iter().all(|p| p.start == 0) {
            // kptr_restrict: every address reads as zero; nothing usable.
            return (Kallsyms::default(), bad);
        }
        raw.sort_by_key(|p| p.start);
        // symbols__fixup_end(is_kallsyms) runs before
        // symbols__fixup_duplicate: an empty symbol ends at the next one,
        // except across a kernel/module boundary, where it ends at the next
        // page boundary after a page; the last one a page past its page.
        // So in a group of equal addresses only the last entry gets a size.
        let mut ends: Vec<u64> = Vec::with_capacity(raw.len());
        for (i, p) in raw.iter().enumerate() {
            let end = match raw.get(i.wrapping_add(1)) {
                Some(next) if p.module.is_some() == next.module.is_some() => next.start,
                Some(_) => round_up(p.start.saturating_add(PAGE)),
                None => round_up(p.start).saturating_add(PAGE),
            };
            ends.push(end);
        }
        let mut table = Kallsyms {
            syms: Vec::with_capacity(raw.len()),
            names: String::with_capacity(raw.iter().map(|p| p.name.len()).sum()),
            reloc_refs,
        };
        // A module's symbols are listed together: its name is shared.
        let mut last_module: Option<Arc<str>> = None;
        let mut kept: Option<(Parsed, u64)> = None;
        for (p, end) in raw.into_iter().zip(ends) {
            kept = match kept {
                Some((last, last_end)) if last.start == p.start => {
                    if choose_a(&last, last_end, &p, end) {
                        Some((last, last_end))
                    } else {
                        Some((p, end))
                    }
                }
                Some((last, last_end)) => {
                    table.push(last, last_end, &mut last_module);
                    Some((p, end))
                }
                None => Some((p, end)),
            };
        }
        if let Some((last, last_end)) = kept {
            table.push(last, last_end, &mut last_module);
        }
        (table, bad)
    }

    /// Add the symbol of `p`, ending at `end`; `last_module`: the module
    /// of the symbol added before, shared when `p`'s is the same.
    fn push(&mut self, p: Parsed<'_>, end: u64, last_module: &mut Option<Arc<str>>) {
        let module = p.module.map(|m| match last_module {
            Some(last) if **last == *m => last.clone(),
            _ => {
                let m: Arc<str> = Arc::from(m);
                *last_module = Some(m.clone());
                m
            }
        });
        let from = u32::try_from(self.names.len()).unwrap_or(u32::MAX);
        self.names.push_str(p.name);
        let to = u32::try_from(self.names.len()).unwrap_or(u32::MAX);
        self.syms.push(KSym {
            start: p.start,
            end,
            name: from..to,
            module,
        });
    }

    /// The function name of `sym`, one of this table's symbols.
    pub(crate) fn name(&self, sym: &KSym) -> &str {
        self.names
            .get(sym.name.start as usize..sym.name.end as usize)
            .unwrap_or_default()
    }

    /// The listed address of `name`, one of the symbols perf records the
    /// kernel image's address by (the `[kernel.kallsyms]_text` mapping's
    /// offset); `None` when not listed.
    pub(crate) fn reloc_ref(&self, name: &str) -> Option<u64> {
        self.reloc_refs
            .iter()
            .find(|(n, _)| &**n == name)
            .map(|&(_, a)| a)
    }

    /// The symbol covering `addr`.
    pub(crate) fn find(&self, addr: u64) -> Option<&KSym> {
        let idx = self.syms.partition_point(|s| s.start <= addr);
        let s = self.syms.get(idx.checked_sub(1)?)?;
        (addr < s.end || (addr == s.start && s.start == s.end)).then_some(s)
    }

    /// The symbols, by address.
    pub(crate) fn syms(&self) -> &[KSym] {
        &self.syms
    }

    /// Number of symbols.
    pub(crate) fn len(&self) -> usize {
        self.syms.len()
    }
}

fn round_up(x: u64) -> u64 {
    x.checked_next_multiple_of(PAGE)
        .unwrap_or(u64::MAX - (PAGE - 1))
}

/// `Some(Some(sym))` kept, `Some(None)` well-formed but filtered, `None`
/// malformed.
/// One line of a kallsyms file, borrowed.
struct Line<'a> {
    start: u64,
    weak: bool,
    global: bool,
    name: &'a str,
    module: Option<&'a str>,
}

/// A line: `None` when malformed, `Some(None)` for a symbol type perf does
/// not keep. Nothing is allocated: most lines of a kallsyms file are
/// dropped or their names copied once by the caller.
fn parse_line(line: &[u8]) -> Option<Option<Line<'_>>> {
    let line = std::str::from_utf8(line).ok()?;
    let (addr, rest) = line.split_once(' ')?;
    let start = hex(addr)?;
    let (typ, name) = rest.split_once(' ')?;
    let mut typ_chars = typ.chars();
    let t = typ_chars.next()?;
    if typ_chars.next().is_some() {
        return None;
    }
    let (name, module) = match name.split_once('\t') {
        Some((n, m)) => (n, Some(m.trim())),
        None => (name.trim_end(), None),
    };
    if name.is_empty() {
        return None;
    }
    if !matches!(t.to_ascii_uppercase(), 'T' | 'W' | 'D' | 'B') {
        return Some(None);
    }
    Some(Some(Line {
        start,
        weak: t == 'W',
        global: t.is_ascii_uppercase() && t != 'W',
        name,
        module,
    }))
}

/// `addr` read as hexadecimal, as `u64::from_str_radix(addr, 16)` reads
/// it; the usual 16 digits without its per-digit checks (a fifth of the
/// parse).
fn hex(addr: &str) -> Option<u64> {
    let digits = addr.as_bytes();
    if digits.is_empty() || digits.len() > 16 || !digits.iter().all(u8::is_ascii_hexdigit) {
        return u64::from_str_radix(addr, 16).ok();
    }
    Some(digits.iter().fold(0, |v, &c| {
        let d = match c {
            b'0'..=b'9' => c - b'0',
            b'a'..=b'f' => c - b'a' + 10,
            _ => c.wrapping_sub(b'A').wrapping_add(10),
        };
        v << 4 | u64::from(d)
    }))
}

/// perf's `choose_best_symbol` for kallsyms entries: sized (after the end
/// fixup), non-weak, global, fewer leading underscores, longer name, then
/// not a `SyS` alias.
fn choose_a(a: &Parsed, a_end: u64, b: &Parsed, b_end: u64) -> bool {
    let (a_sized, b_sized) = (a_end > a.start, b_end > b.start);
    if a_sized != b_sized {
        return a_sized;
    }
    if b.weak && !a.weak {
        return true;
    }
    if a.weak && !b.weak {
        return false;
    }
    if a.global && !b.global {
        return true;
    }
    if b.global && !a.global {
        return false;
    }
    let au = a.name.bytes().take_while(|&c| c == b'_').count();
    let bu = b.name.bytes().take_while(|&c| c == b'_').count();
    if bu != au {
        return bu > au;
    }
    if a.name.len() != b.name.len() {
        return a.name.len() > b.name.len();
    }
    !(a.name.starts_with("SyS") || a.name.starts_with("compat_SyS"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reference_symbols_are_found_when_their_address_is_shared() {
        let text = b"\
ffffffff81000000 T _stext
ffffffff81000000 T _text
ffffffff81000100 T _text\t[not_the_image]
";
        let (k, bad) = Kallsyms::parse(text);
        assert_eq!(bad, 0);
        // One symbol at the address (the other is a duplicate for lookups).
        assert_eq!(k.len(), 2);
        assert_eq!(k.reloc_ref("_text"), Some(0xffff_ffff_8100_0000));
        assert_eq!(k.reloc_ref("_stext"), Some(0xffff_ffff_8100_0000));
        assert_eq!(k.reloc_ref("startup_64"), None);
    }

    #[test]
    fn parses_filters_and_fixes_up() {
        let text = b"\
ffffffff81000000 T _stext
ffffffff81000000 T startup_64
ffffffff81000100 t local_fn
ffffffff81000180 r some_rodata
ffffffff81000200 W weak_fn
ffffffff81000200 t strong_local
ffffffff81000400 T a_long_global_name
ffffffff81000400 t __x
garbage line
ffffffffc0000000 t nft_do_chain\t[nf_tables]
ffffffffc0000100 T nft_other\t[nf_tables]
";
        let (k, bad) = Kallsyms::parse(text);
        assert_eq!(bad, 1);
        assert_eq!(k.len(), 6);
        let name = |a| k.find(a).map(|s| k.name(s).to_string());
        // same address: the last listed is the one the end fixup sized,
        // whatever the binding or name rules would say
        assert_eq!(name(0xffffffff81000000), Some("startup_64".into()));
        assert_eq!(name(0xffffffff81000200), Some("strong_local".into()));
        assert_eq!(name(0xffffffff81000400), Some("__x".into()));
        // `r` is filtered, so local_fn extends to the next kept symbol
        assert_eq!(name(0xffffffff810001ff), Some("local_fn".into()));
        assert_eq!(name(0xffffffff810003ff), Some("strong_local".into()));
        // kernel -> module boundary: a page, rounded up
        assert_eq!(name(0xffffffff81001fff), Some("__x".into()));
        assert_eq!(name(0xffffffff81002000), None);
        let m = k.find(0xffffffffc0000010).unwrap();
        assert_eq!(k.name(m), "nft_do_chain");
        assert_eq!(m.module.as_deref(), Some("[nf_tables]"));
        // last: rounded up page plus one
        assert_eq!(name(0xffffffffc0001fff), Some("nft_other".into()));
        assert_eq!(name(0xffffffffc0002000), None);
        assert_eq!(name(0x1000), None);
    }

    #[test]
    fn addresses_read_as_from_str_radix_reads_them() {
        for a in [
            "",
            "0",
            "+1f",
            "-1",
            "ffffffffffffffff",
            "FFFFffff81000000",
            "10000000000000000",
            "0000000000000000a",
            "12g4",
            "+",
            " 1",
            "１",
        ] {
            assert_eq!(hex(a), u64::from_str_radix(a, 16).ok(), "{a:?}");
        }
    }

    #[test]
    fn a_table_read_in_two_parts_is_the_table_read_in_one() {
        let mut text = String::new();
        for i in 0..2_000u64 {
            let ty = ["T", "t", "W", "r", "D"][(i % 5) as usize];
            // Pairs of symbols at one address, a malformed line now and
            // then, the reference symbols, modules at the end.
            text.push_str(&format!(
                "{:016x} {ty} f{i}",
                0xffff_ffff_8100_0000 + i / 2 * 16
            ));
            if i >= 1_800 {
                text.push_str(&format!("\t[m{}]", i / 50));
            }
            text.push('\n');
            if i % 97 == 0 {
                text.push_str("not a line\n");
            }
            if i == 1_000 {
                text.push_str("ffffffff81000000 T _text\nffffffff81000000 T _stext\r\n");
            }
        }
        let one = Kallsyms::parse_split(text.as_bytes(), None);
        assert!(one.0.len() > 500 && one.1 > 10, "{} {}", one.0.len(), one.1);
        for (at, _) in text.match_indices('\n').step_by(37) {
            let two = Kallsyms::parse_split(text.as_bytes(), Some(at + 1));
            assert_eq!(format!("{two:?}"), format!("{one:?}"), "split at {at}");
        }
    }

    #[test]
    fn restricted_kallsyms_is_empty() {
        let (k, _) = Kallsyms::parse(b"0000000000000000 T a\n0000000000000000 T b\n");
        assert_eq!(k.len(), 0);
    }
}
