//! Kernel symbols from a kallsyms file, as perf 6.1 loads them
//! (tools/lib/symbol/kallsyms.c `kallsyms__parse`; tools/perf/util/symbol.c
//! `map__process_kallsym_symbol`, `symbols__fixup_duplicate`,
//! `symbols__fixup_end(.., is_kallsyms = true)`).

use std::sync::Arc;

use super::FileBytes;

const PAGE: u64 = 4096;

/// The symbols perf takes the kernel image's address from (`ref_reloc_sym`
/// in tools/perf/util/machine.c: `_text`, else `_stext`).
pub(crate) const RELOC_REFS: [&str; 2] = ["_text", "_stext"];

/// A kept line of a kallsyms file; once the table is built, one kernel
/// symbol after perf's fixups. Its names stay in the file's text: a
/// kernel lists 100,000 symbols and more, and the reader waits for the
/// table at the first kernel sample.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct KSym {
    pub start: u64,
    /// Set by the end fixup, once the lines are sorted.
    pub end: u64,
    /// The function name, without the module: where it is in the text.
    name: (u32, u32),
    /// A module's symbol (`\t[module]` after the name), and where the
    /// module's name is in the text.
    in_module: bool,
    module: (u32, u32),
    weak: bool,
    global: bool,
}

/// Tables from this many bytes have their lines read in two halves at
/// once.
const PARALLEL_BYTES: usize = 1 << 20;

/// The lines of (part of) a kallsyms file: those kept, in order; how many
/// were malformed; the relocation reference symbols met.
struct Lines {
    syms: Vec<KSym>,
    bad: u64,
    reloc_refs: Vec<(Box<str>, u64)>,
}

impl Lines {
    /// The lines of `text`, which starts `base` bytes into the file.
    fn read(text: &[u8], base: usize) -> Lines {
        // Lines are some 40 bytes long, and most are kept.
        let mut lines = Lines {
            syms: Vec::with_capacity(text.len() / 40),
            bad: 0,
            reloc_refs: Vec::new(),
        };
        // The text is checked as UTF-8 once, not line by line: a line's
        // end (an ASCII byte) is a character boundary. A text that is not
        // UTF-8 has its lines checked one by one: those that are not are
        // malformed.
        match std::str::from_utf8(text) {
            Ok(whole) => {
                let mut at = 0;
                for end in memchr::memchr_iter(b'\n', text).chain([text.len()]) {
                    if let Some(line) = whole.get(at..end) {
                        lines.take(line, base + at);
                    }
                    at = end + 1;
                }
            }
            Err(_) => {
                let mut at = 0;
                for line in text.split(|&b| b == b'\n') {
                    match std::str::from_utf8(line) {
                        Ok(line) => lines.take(line, base + at),
                        Err(_) => lines.bad += 1,
                    }
                    at += line.len() + 1;
                }
            }
        }
        lines
    }

    /// Keep `line` (without its `\n`; `at` bytes into the file) if perf
    /// keeps its symbol, count it if malformed.
    fn take(&mut self, line: &str, at: usize) {
        let line = line.strip_suffix('\r').unwrap_or(line);
        if line.is_empty() {
            return;
        }
        // Where a part of the line is in the file; a file past 4 GiB
        // (never a kallsyms file) has its lines there malformed.
        let range = |part: &str| -> Option<(u32, u32)> {
            let r = crate::slices::range_in(line.as_bytes(), part.as_bytes())?;
            let from = at.checked_add(r.start)?;
            let to = at.checked_add(r.end)?;
            Some((u32::try_from(from).ok()?, u32::try_from(to).ok()?))
        };
        match parse_line(line) {
            Some(Some(l)) => {
                let module = match l.module {
                    Some(m) => range(m),
                    None => Some((0, 0)),
                };
                let (Some(name), Some(module)) = (range(l.name), module) else {
                    self.bad += 1;
                    return;
                };
                if l.module.is_none() && RELOC_REFS.contains(&l.name) {
                    self.reloc_refs.push((Box::from(l.name), l.start));
                }
                self.syms.push(KSym {
                    start: l.start,
                    end: l.start,
                    name,
                    in_module: l.module.is_some(),
                    module,
                    weak: l.weak,
                    global: l.global,
                });
            }
            Some(None) => {}
            None => self.bad += 1,
        }
    }
}

/// The parsed table: sorted, duplicates resolved, ends fixed; the names
/// in the file's text.
pub(crate) struct Kallsyms {
    text: FileBytes,
    syms: Vec<KSym>,
    /// The addresses of the kernel image's relocation reference symbols
    /// as listed (before duplicates are resolved, which drops one of
    /// `_text` and `_stext` when they share an address).
    reloc_refs: Vec<(Box<str>, u64)>,
}

impl Default for Kallsyms {
    fn default() -> Self {
        Kallsyms {
            text: Arc::new(Vec::new()),
            syms: Vec::new(),
            reloc_refs: Vec::new(),
        }
    }
}

impl std::fmt::Debug for Kallsyms {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Kallsyms")
            .field("syms", &self.syms)
            .field("reloc_refs", &self.reloc_refs)
            .finish_non_exhaustive()
    }
}

impl Kallsyms {
    /// Parse a kallsyms file: `ADDR TYPE NAME[\t[MODULE]]` lines. Only
    /// text, weak, data and bss symbols (`T W D B`, either case) are kept,
    /// as perf's `symbol_type__filter`. Malformed lines are skipped and
    /// counted in the second value.
    pub(crate) fn parse(text: FileBytes) -> (Self, u64) {
        // A long table's lines are read in two halves at once (split at a
        // line's end): the reader waits for this table at the first
        // kernel sample.
        let bytes = (*text).as_ref();
        let half = bytes.len() / 2;
        let split = (bytes.len() >= PARALLEL_BYTES)
            .then(|| bytes.get(half..)?.iter().position(|&b| b == b'\n'))
            .flatten()
            .map(|at| half + at + 1);
        Self::parse_split(text, split)
    }

    /// [`Kallsyms::parse`] of the file at `path` (mapped, not copied, when
    /// it can be: `/proc/kallsyms` is read).
    pub(crate) fn load(path: &std::path::Path) -> std::io::Result<(Self, u64)> {
        Ok(Self::parse(super::locate::read_file_or_error(path)?))
    }

    /// [`Kallsyms::parse`], the lines before `split` and from it read at
    /// once.
    fn parse_split(text: FileBytes, split: Option<usize>) -> (Self, u64) {
        let bytes = (*text).as_ref();
        let Lines {
            mut syms,
            bad,
            reloc_refs,
        } = match split.and_then(|at| bytes.split_at_checked(at)) {
            Some((first, second)) => {
                let (mut lines, rest) = in_two(
                    || Lines::read(first, 0),
                    || Lines::read(second, first.len()),
                );
                lines.syms.extend(rest.syms);
                lines.bad += rest.bad;
                lines.reloc_refs.extend(rest.reloc_refs);
                lines
            }
            None => Lines::read(bytes, 0),
        };
        if !syms.is_empty() && syms.iter().all(|p| p.start == 0) {
            // kptr_restrict: every address reads as zero; nothing usable.
            return (Kallsyms::default(), bad);
        }
        syms.sort_by_key(|p| p.start);
        fix_ends(&mut syms);
        let mut table = Kallsyms {
            text,
            syms,
            reloc_refs,
        };
        table.keep_one_per_address();
        (table, bad)
    }

    /// perf's `symbols__fixup_duplicate`: of the symbols at one address,
    /// the one [`choose_a`] prefers stays; in place.
    fn keep_one_per_address(&mut self) {
        let mut syms = std::mem::take(&mut self.syms);
        let mut kept = 0usize;
        for i in 0..syms.len() {
            let Some(&p) = syms.get(i) else { break };
            match kept.checked_sub(1).and_then(|last| syms.get_mut(last)) {
                Some(last) if last.start == p.start => {
                    if !choose_a(self, last, &p) {
                        *last = p;
                    }
                }
                _ => {
                    if let Some(slot) = syms.get_mut(kept) {
                        *slot = p;
                    }
                    kept += 1;
                }
            }
        }
        syms.truncate(kept);
        self.syms = syms;
    }

    /// The text at `range` of the file.
    fn str(&self, (from, to): (u32, u32)) -> &str {
        (*self.text)
            .as_ref()
            .get(from as usize..to as usize)
            .and_then(|b| std::str::from_utf8(b).ok())
            .unwrap_or_default()
    }

    /// The function name of `sym`, one of this table's symbols.
    pub(crate) fn name(&self, sym: &KSym) -> &str {
        self.str(sym.name)
    }

    /// The module of `sym` (`[nf_tables]`), one of this table's symbols;
    /// `None` for the kernel image's.
    pub(crate) fn module(&self, sym: &KSym) -> Option<&str> {
        sym.in_module.then(|| self.str(sym.module))
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

/// `first()` and `second()` at once, the second on a `kallsyms-2` thread
/// (or after the first, when no thread can be started).
fn in_two<T: Send>(first: impl FnOnce() -> T, second: impl Fn() -> T + Sync) -> (T, T) {
    std::thread::scope(|scope| {
        let other = std::thread::Builder::new()
            .name("kallsyms-2".into())
            .spawn_scoped(scope, &second);
        let a = first();
        let b = match other {
            Ok(h) => h.join().unwrap_or_else(|_| second()),
            Err(_) => second(),
        };
        (a, b)
    })
}

/// perf's `symbols__fixup_end(is_kallsyms)` on `syms`, sorted by address.
/// It runs before `symbols__fixup_duplicate`: an empty symbol ends at the
/// next one, except across a kernel/module boundary, where it ends at the
/// next page boundary after a page; the last one a page past its page. So
/// in a group of equal addresses only the last entry gets a size.
fn fix_ends(syms: &mut [KSym]) {
    for i in 0..syms.len() {
        let next = syms.get(i + 1).map(|n| (n.start, n.in_module));
        let Some(s) = syms.get_mut(i) else { break };
        s.end = match next {
            Some((start, in_module)) if in_module == s.in_module => start,
            Some(_) => round_up(s.start.saturating_add(PAGE)),
            None => round_up(s.start).saturating_add(PAGE),
        };
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
fn parse_line(line: &str) -> Option<Option<Line<'_>>> {
    let (addr, rest) = split_at_byte(line, b' ')?;
    let start = hex(addr)?;
    let (typ, name) = split_at_byte(rest, b' ')?;
    // One character: nearly always one ASCII byte.
    let t = match *typ.as_bytes() {
        [b] => char::from(b),
        _ => {
            let mut chars = typ.chars();
            let t = chars.next()?;
            if chars.next().is_some() {
                return None;
            }
            t
        }
    };
    let (name, module) = match split_at_byte(name, b'\t') {
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

/// `s` before and after its first `at` (an ASCII byte, so a character
/// boundary). Searched byte by byte: the fields of a line are short, and a
/// vectorised search's setup costs more than the search.
fn split_at_byte(s: &str, at: u8) -> Option<(&str, &str)> {
    let i = s.bytes().position(|b| b == at)?;
    Some((s.get(..i)?, s.get(i + 1..)?))
}

/// `addr` read as hexadecimal, as `u64::from_str_radix(addr, 16)` reads
/// it; up to 16 digits in one pass (the usual address is 16 digits, and
/// its read was a fifth of the parse).
fn hex(addr: &str) -> Option<u64> {
    let digits = addr.as_bytes();
    if digits.is_empty() || digits.len() > 16 {
        return u64::from_str_radix(addr, 16).ok();
    }
    let mut value = 0u64;
    let mut not_digit = 0u8;
    for &c in digits {
        let d = hex_digit(c);
        not_digit |= d;
        value = value << 4 | u64::from(d & 0xf);
    }
    if not_digit & NOT_HEX != 0 {
        // A sign, or not a number: as `from_str_radix` says.
        return u64::from_str_radix(addr, 16).ok();
    }
    Some(value)
}

/// [`hex_digit`] of a byte that is not a hexadecimal digit.
const NOT_HEX: u8 = 0x80;

/// A byte's value as a hexadecimal digit, or [`NOT_HEX`].
fn hex_digit(c: u8) -> u8 {
    match c {
        b'0'..=b'9' => c - b'0',
        b'a'..=b'f' => c - b'a' + 10,
        b'A'..=b'F' => c - b'A' + 10,
        _ => NOT_HEX,
    }
}

/// perf's `choose_best_symbol` for kallsyms entries: sized (after the end
/// fixup), non-weak, global, fewer leading underscores, longer name, then
/// not a `SyS` alias.
fn choose_a(table: &Kallsyms, a: &KSym, b: &KSym) -> bool {
    let (a_sized, b_sized) = (a.end > a.start, b.end > b.start);
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
    let (a, b) = (table.name(a), table.name(b));
    let au = a.bytes().take_while(|&c| c == b'_').count();
    let bu = b.bytes().take_while(|&c| c == b'_').count();
    if bu != au {
        return bu > au;
    }
    if a.len() != b.len() {
        return a.len() > b.len();
    }
    !(a.starts_with("SyS") || a.starts_with("compat_SyS"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bytes(text: &[u8]) -> FileBytes {
        Arc::new(text.to_vec())
    }

    #[test]
    fn reference_symbols_are_found_when_their_address_is_shared() {
        let text = b"\
ffffffff81000000 T _stext
ffffffff81000000 T _text
ffffffff81000100 T _text\t[not_the_image]
";
        let (k, bad) = Kallsyms::parse(bytes(text));
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
        let (k, bad) = Kallsyms::parse(bytes(text));
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
        assert_eq!(k.module(m), Some("[nf_tables]"));
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
        let one = Kallsyms::parse_split(bytes(text.as_bytes()), None);
        assert!(one.0.len() > 500 && one.1 > 10, "{} {}", one.0.len(), one.1);
        for (at, _) in text.match_indices('\n').step_by(37) {
            let two = Kallsyms::parse_split(bytes(text.as_bytes()), Some(at + 1));
            assert_eq!(format!("{two:?}"), format!("{one:?}"), "split at {at}");
        }
    }

    #[test]
    fn a_line_that_is_not_utf8_is_malformed_and_the_others_kept() {
        let text = b"ffffffff81000000 T first\nffffffff81000010 T bad\xff\n\
                     ffffffff81000020 t third\t[m\xc3\xa9]\r\nffffffff81000030 T last\n";
        let (k, bad) = Kallsyms::parse(bytes(text));
        assert_eq!(bad, 1);
        let name = |a| k.find(a).map(|s| (k.name(s), k.module(s)));
        assert_eq!(name(0xffff_ffff_8100_0008), Some(("first", None)));
        assert_eq!(
            name(0xffff_ffff_8100_0020),
            Some(("third", Some("[m\u{e9}]")))
        );
        assert_eq!(name(0xffff_ffff_8100_0030), Some(("last", None)));
    }

    #[test]
    fn restricted_kallsyms_is_empty() {
        let (k, _) = Kallsyms::parse(bytes(b"0000000000000000 T a\n0000000000000000 T b\n"));
        assert_eq!(k.len(), 0);
    }
}
