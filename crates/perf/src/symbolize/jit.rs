//! JIT symbols: perf map files (`/tmp/perf-PID.map`) and jitdump files
//! (`jit-PID.dump`), both read into one address table per process.

use std::collections::BTreeMap;
use std::sync::Arc;

/// One perf-map or jitdump entry: code at `[start, start + size)`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct JitEntry {
    pub start: u64,
    pub size: u64,
    pub name: Arc<str>,
}

/// Entries of one process, as disjoint pieces: where entries overlap, the
/// later one wins (a runtime that rewrites code appends a new entry).
#[derive(Debug, Default)]
pub(crate) struct JitTable {
    entries: Vec<JitEntry>,
    /// (start, end, index into `entries`), sorted and disjoint.
    pieces: Vec<(u64, u64, usize)>,
}

impl JitTable {
    /// Build the table; later entries win on overlap. Empty entries are
    /// dropped.
    pub(crate) fn new(entries: Vec<JitEntry>) -> Self {
        let mut claimed: BTreeMap<u64, (u64, usize)> = BTreeMap::new();
        for (idx, e) in entries.iter().enumerate().rev() {
            let end = e.start.saturating_add(e.size);
            if end <= e.start {
                continue;
            }
            let mut cur = e.start;
            if let Some((_, &(prev_end, _))) = claimed.range(..=cur).next_back() {
                cur = cur.max(prev_end);
            }
            while cur < end {
                let next = claimed.range(cur..).next().map(|(&s, &(e2, _))| (s, e2));
                match next {
                    Some((ns, ne)) if ns < end => {
                        if ns > cur {
                            claimed.insert(cur, (ns, idx));
                        }
                        cur = ne;
                    }
                    _ => {
                        claimed.insert(cur, (end, idx));
                        cur = end;
                    }
                }
            }
        }
        let pieces = claimed.into_iter().map(|(s, (e, i))| (s, e, i)).collect();
        JitTable { entries, pieces }
    }

    /// The entry whose code contains `addr`.
    pub(crate) fn find(&self, addr: u64) -> Option<&JitEntry> {
        let idx = self.pieces.partition_point(|p| p.0 <= addr);
        let &(_, end, entry) = self.pieces.get(idx.checked_sub(1)?)?;
        if addr < end {
            self.entries.get(entry)
        } else {
            None
        }
    }
}

/// Parse a perf map: `START SIZE NAME` lines, hex numbers (an optional
/// `0x` is accepted), the name running to the end of the line. Returns the
/// entries and the 1-based numbers of malformed lines.
pub(crate) fn parse_perf_map(text: &[u8]) -> (Vec<JitEntry>, Vec<u64>) {
    let mut entries = Vec::new();
    let mut bad = Vec::new();
    for (n, line) in text.split(|&b| b == b'\n').enumerate() {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        match parse_map_line(line) {
            Some(e) => entries.push(e),
            None => bad.push(u64::try_from(n).unwrap_or(u64::MAX).saturating_add(1)),
        }
    }
    (entries, bad)
}

fn parse_hex(s: &[u8]) -> Option<u64> {
    let s = s
        .strip_prefix(b"0x")
        .or_else(|| s.strip_prefix(b"0X"))
        .unwrap_or(s);
    let s = std::str::from_utf8(s).ok()?;
    if s.is_empty() {
        return None;
    }
    u64::from_str_radix(s, 16).ok()
}

fn parse_map_line(line: &[u8]) -> Option<JitEntry> {
    let mut parts = line.splitn(3, |&b| b == b' ');
    let start = parse_hex(parts.next()?)?;
    let size = parse_hex(parts.next()?)?;
    let name = parts.next()?;
    if name.is_empty() {
        return None;
    }
    Some(JitEntry {
        start,
        size,
        name: String::from_utf8_lossy(name).into(),
    })
}

const JITDUMP_MAGIC: u32 = 0x4A69_5444;
const JIT_CODE_LOAD: u32 = 0;
const JIT_CODE_MOVE: u32 = 1;
const JIT_CODE_CLOSE: u32 = 3;
const RECORD_HEADER_BYTES: usize = 16;
const FILE_HEADER_MIN_BYTES: usize = 40;

/// What reading a jitdump gave: entries, and a note when it stopped early.
#[derive(Debug, Default)]
pub(crate) struct JitDump {
    pub entries: Vec<JitEntry>,
    pub problem: Option<String>,
}

struct Reader<'a> {
    data: &'a [u8],
    big_endian: bool,
}

impl Reader<'_> {
    fn u32_at(&self, at: usize) -> Option<u32> {
        let b: [u8; 4] = self.data.get(at..at.checked_add(4)?)?.try_into().ok()?;
        Some(if self.big_endian {
            u32::from_be_bytes(b)
        } else {
            u32::from_le_bytes(b)
        })
    }

    fn u64_at(&self, at: usize) -> Option<u64> {
        let b: [u8; 8] = self.data.get(at..at.checked_add(8)?)?.try_into().ok()?;
        Some(if self.big_endian {
            u64::from_be_bytes(b)
        } else {
            u64::from_le_bytes(b)
        })
    }
}

/// Parse a jitdump file (the format of tools/perf/util/jitdump.h): a
/// header, then records; `JIT_CODE_LOAD` gives a name to
/// `[code_addr, code_addr + code_size)`, `JIT_CODE_MOVE` gives the same
/// name to the new address. Reading stops at `JIT_CODE_CLOSE`, at a
/// truncated record (a runtime still writing) or at a malformed one.
pub(crate) fn parse_jitdump(data: &[u8]) -> JitDump {
    let mut out = JitDump::default();
    let Some(magic) = data.get(..4).and_then(|b| <[u8; 4]>::try_from(b).ok()) else {
        out.problem = Some("shorter than a jitdump header".into());
        return out;
    };
    let big_endian = if u32::from_le_bytes(magic) == JITDUMP_MAGIC {
        false
    } else if u32::from_be_bytes(magic) == JITDUMP_MAGIC {
        true
    } else {
        out.problem = Some("not a jitdump file (bad magic)".into());
        return out;
    };
    let r = Reader { data, big_endian };
    let header_size = r
        .u32_at(8)
        .and_then(|s| usize::try_from(s).ok())
        .filter(|&s| s >= FILE_HEADER_MIN_BYTES && s <= data.len());
    let Some(mut at) = header_size else {
        out.problem = Some("jitdump header size out of range".into());
        return out;
    };
    let mut names: BTreeMap<u64, Arc<str>> = BTreeMap::new();
    while at < data.len() {
        let (Some(id), Some(size)) = (r.u32_at(at), r.u32_at(at.saturating_add(4))) else {
            out.problem = Some(format!("truncated record header at byte {at}"));
            break;
        };
        let Some(size) = usize::try_from(size)
            .ok()
            .filter(|&s| s >= RECORD_HEADER_BYTES)
        else {
            out.problem = Some(format!("record at byte {at}: size below 16"));
            break;
        };
        let Some(end) = at.checked_add(size).filter(|&e| e <= data.len()) else {
            out.problem = Some(format!(
                "record at byte {at}: size {size} runs past end of file"
            ));
            break;
        };
        let body = at.saturating_add(RECORD_HEADER_BYTES);
        match id {
            JIT_CODE_LOAD => {
                // pid u32, tid u32, vma u64, code_addr u64, code_size u64,
                // code_index u64, name NUL-terminated, code bytes.
                let fields = (
                    r.u64_at(body.saturating_add(16)),
                    r.u64_at(body.saturating_add(24)),
                    r.u64_at(body.saturating_add(32)),
                );
                let (Some(code_addr), Some(code_size), Some(index)) = fields else {
                    out.problem = Some(format!("JIT_CODE_LOAD at byte {at}: too short"));
                    break;
                };
                let name_at = body.saturating_add(40);
                let rest = data.get(name_at..end).unwrap_or_default();
                let Some(nul) = rest.iter().position(|&b| b == 0) else {
                    out.problem = Some(format!("JIT_CODE_LOAD at byte {at}: name not terminated"));
                    break;
                };
                let name: Arc<str> =
                    String::from_utf8_lossy(rest.get(..nul).unwrap_or_default()).into();
                names.insert(index, name.clone());
                out.entries.push(JitEntry {
                    start: code_addr,
                    size: code_size,
                    name,
                });
            }
            JIT_CODE_MOVE => {
                // pid, tid, vma, old_code_addr, new_code_addr, code_size,
                // code_index.
                let fields = (
                    r.u64_at(body.saturating_add(24)),
                    r.u64_at(body.saturating_add(32)),
                    r.u64_at(body.saturating_add(40)),
                );
                let (Some(new_addr), Some(code_size), Some(index)) = fields else {
                    out.problem = Some(format!("JIT_CODE_MOVE at byte {at}: too short"));
                    break;
                };
                if let Some(name) = names.get(&index) {
                    out.entries.push(JitEntry {
                        start: new_addr,
                        size: code_size,
                        name: name.clone(),
                    });
                }
            }
            JIT_CODE_CLOSE => break,
            _ => {}
        }
        at = end;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn e(start: u64, size: u64, name: &str) -> JitEntry {
        JitEntry {
            start,
            size,
            name: name.into(),
        }
    }

    #[test]
    fn perf_map_lines() {
        let text = b"7f0000001000 40 py::handle:/app/webapi.py\n\
7f0000001040 20 LazyCompile:~foo bar.js:1\n\
zz 10 bad\n\
7f0000002000 10\n\
\n\
0x7f0000003000 0x8 with_prefix\r\n";
        let (entries, bad) = parse_perf_map(text);
        assert_eq!(bad, vec![3, 4]);
        assert_eq!(
            entries,
            vec![
                e(0x7f0000001000, 0x40, "py::handle:/app/webapi.py"),
                e(0x7f0000001040, 0x20, "LazyCompile:~foo bar.js:1"),
                e(0x7f0000003000, 0x8, "with_prefix"),
            ]
        );
    }

    #[test]
    fn later_entries_win() {
        let t = JitTable::new(vec![
            e(0x1000, 0x100, "old"),
            e(0x1040, 0x10, "new_inside"),
            e(0x10f0, 0x20, "new_tail"),
            e(0x2000, 0, "empty"),
        ]);
        let name = |a| t.find(a).map(|x| x.name.to_string());
        assert_eq!(name(0x1000), Some("old".into()));
        assert_eq!(name(0x1040), Some("new_inside".into()));
        assert_eq!(name(0x104f), Some("new_inside".into()));
        assert_eq!(name(0x1050), Some("old".into()));
        assert_eq!(name(0x10f0), Some("new_tail".into()));
        assert_eq!(name(0x110f), Some("new_tail".into()));
        assert_eq!(name(0x1110), None);
        assert_eq!(name(0x2000), None);
        assert_eq!(name(0xfff), None);
        // the entry itself, not the piece, is returned
        assert_eq!(
            t.find(0x1050).map(|x| (x.start, x.size)),
            Some((0x1000, 0x100))
        );
    }

    fn record(id: u32, body: &[u8]) -> Vec<u8> {
        let mut r = Vec::new();
        r.extend_from_slice(&id.to_le_bytes());
        r.extend_from_slice(&u32::try_from(16 + body.len()).unwrap().to_le_bytes());
        r.extend_from_slice(&7u64.to_le_bytes());
        r.extend_from_slice(body);
        r
    }

    fn jitdump(records: &[Vec<u8>]) -> Vec<u8> {
        let mut d = Vec::new();
        d.extend_from_slice(&JITDUMP_MAGIC.to_le_bytes());
        d.extend_from_slice(&1u32.to_le_bytes());
        d.extend_from_slice(&40u32.to_le_bytes());
        d.extend_from_slice(&62u32.to_le_bytes());
        d.extend_from_slice(&0u32.to_le_bytes());
        d.extend_from_slice(&1234u32.to_le_bytes());
        d.extend_from_slice(&0u64.to_le_bytes());
        d.extend_from_slice(&0u64.to_le_bytes());
        for r in records {
            d.extend_from_slice(r);
        }
        d
    }

    fn load(addr: u64, size: u64, index: u64, name: &str) -> Vec<u8> {
        let mut b = Vec::new();
        b.extend_from_slice(&1234u32.to_le_bytes());
        b.extend_from_slice(&1234u32.to_le_bytes());
        b.extend_from_slice(&addr.to_le_bytes());
        b.extend_from_slice(&addr.to_le_bytes());
        b.extend_from_slice(&size.to_le_bytes());
        b.extend_from_slice(&index.to_le_bytes());
        b.extend_from_slice(name.as_bytes());
        b.push(0);
        b.extend_from_slice(&[0x90; 4]);
        record(JIT_CODE_LOAD, &b)
    }

    #[test]
    fn jitdump_loads_and_moves() {
        let mut mv = Vec::new();
        for v in [1234u32, 1234] {
            mv.extend_from_slice(&v.to_le_bytes());
        }
        for v in [0u64, 0x5000, 0x9000, 0x30, 2] {
            mv.extend_from_slice(&v.to_le_bytes());
        }
        let data = jitdump(&[
            load(0x5000, 0x30, 1, "py::f:/x.py"),
            load(0x6000, 0x10, 2, "jitted_g"),
            record(JIT_CODE_MOVE, &mv),
            record(JIT_CODE_CLOSE, &[]),
            load(0x7000, 0x10, 3, "after_close"),
        ]);
        let d = parse_jitdump(&data);
        assert_eq!(d.problem, None);
        assert_eq!(
            d.entries,
            vec![
                e(0x5000, 0x30, "py::f:/x.py"),
                e(0x6000, 0x10, "jitted_g"),
                e(0x9000, 0x30, "jitted_g"),
            ]
        );
    }

    #[test]
    fn jitdump_truncated_anywhere_keeps_complete_records() {
        let data = jitdump(&[load(0x5000, 0x30, 1, "a"), load(0x6000, 0x10, 2, "b")]);
        for cut in 0..data.len() {
            let d = parse_jitdump(data.get(..cut).unwrap());
            assert!(d.entries.len() <= 2);
            if cut < data.len() {
                assert!(d.problem.is_some() || d.entries.len() < 2, "cut {cut}");
            }
        }
        assert_eq!(parse_jitdump(&data).entries.len(), 2);
        // A record claiming 4 GB is refused without allocating it.
        let mut huge = jitdump(&[]);
        huge.extend_from_slice(&0u32.to_le_bytes());
        huge.extend_from_slice(&u32::MAX.to_le_bytes());
        huge.extend_from_slice(&[0; 8]);
        let d = parse_jitdump(&huge);
        assert!(d.entries.is_empty());
        assert!(d.problem.unwrap().contains("runs past end of file"));
    }
}
