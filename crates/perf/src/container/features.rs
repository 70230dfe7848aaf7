//! The feature sections stackconv uses: EVENT_DESC (event names),
//! BUILD_ID, OSRELEASE and CLOCK_DATA.

use super::*;

impl Walker<'_> {
    /// The feature sections we use; a section that does not lie in the
    /// file is skipped with a warning, as perf does.
    pub(super) fn features(&mut self, table: u64) {
        let mut index = 0u64;
        for word in 0..4u64 {
            let bits = self.b.u64(72 + word * 8).unwrap_or(0);
            for bit in 0..64u64 {
                if bits & (1 << bit) == 0 {
                    continue;
                }
                let feature = word * 64 + bit;
                let at = table + index * 16;
                index += 1;
                let (offset, size) = match self.section(at, "feature section") {
                    Ok(s) => s,
                    Err(e) => {
                        self.c
                            .warnings
                            .push(format!("feature {feature} skipped: {e}"));
                        continue;
                    }
                };
                let Some(body) = self.b.slice(offset, size) else {
                    continue;
                };
                match feature {
                    FEAT_EVENT_DESC => match parse_event_desc(body, self.b.be) {
                        Some(events) => self.event_desc = events,
                        None => self.c.warnings.push(format!(
                            "EVENT_DESC feature at byte {offset} is malformed; event names unknown"
                        )),
                    },
                    FEAT_BUILD_ID => self.build_id_section(body, offset),
                    FEAT_CLOCK_DATA => self.c.clock = parse_clock_data(body, self.b.be),
                    FEAT_OSRELEASE => self.c.os_release = parse_header_string(body, self.b.be),
                    _ => {}
                }
            }
        }
    }

    /// A sequence of `build_id_event` records (the BUILD_ID feature).
    pub(super) fn build_id_section(&mut self, body: &[u8], offset: u64) {
        let b = Bytes {
            data: body,
            be: self.b.be,
        };
        let mut at = 0u64;
        while at + RECORD_HEADER_SIZE <= b.len() {
            let misc = b.u16(at + 4).unwrap_or(0);
            let size = u64::from(b.u16(at + 6).unwrap_or(0));
            if size < RECORD_HEADER_SIZE + 4 + 24 || at + size > b.len() {
                self.c.warnings.push(format!(
                    "build id entry at byte {}: size {size} is malformed; later build ids skipped",
                    offset + at
                ));
                return;
            }
            if let Some(rec) = b.slice(at, size) {
                self.build_id_event(rec, misc);
            }
            at += size;
        }
    }

    /// One `build_id_event`: header, pid, build_id[24], filename.
    pub(super) fn build_id_event(&mut self, rec: &[u8], misc: u16) {
        let Some(id) = rec.get(12..36) else { return };
        let id_len = if misc & MISC_BUILD_ID_SIZE != 0 {
            usize::from(id.get(20).copied().unwrap_or(20)).min(20)
        } else {
            20
        };
        let name = rec.get(36..).unwrap_or_default();
        let name = name.split(|&c| c == 0).next().unwrap_or_default();
        if let Some(id) = id.get(..id_len) {
            // perf writes zero ids for files it could not read (and for
            // every file of a `-z` recording, as perf 6.1 does).
            if !name.is_empty() && id.iter().any(|&b| b != 0) {
                self.c.build_ids.push(BuildId {
                    path: name.to_vec(),
                    id: id.to_vec(),
                    kernel: kernel_mode(misc),
                });
            }
        }
    }
}

/// The CLOCK_DATA feature: `u32 version (1); u32 clockid; u64 wall_clock_ns;
/// u64 clockid_time_ns`.
pub(super) fn parse_clock_data(data: &[u8], be: bool) -> Option<(u64, u64)> {
    let b = Bytes { data, be };
    (b.u32(0)? == 1).then_some(())?;
    Some((b.u64(8)?, b.u64(16)?))
}

/// A `perf_header_string` (`u32 len; char str[len]`, NUL-padded), as the
/// OSRELEASE feature holds; `None` when it runs past the data or is empty.
pub(super) fn parse_header_string(data: &[u8], be: bool) -> Option<String> {
    let b = Bytes { data, be };
    let len = usize::try_from(b.u32(0)?).ok()?;
    let text = data.get(4..)?.get(..len)?;
    let text = text.split(|&c| c == 0).next().unwrap_or_default();
    let text = String::from_utf8_lossy(text).trim().to_string();
    (!text.is_empty()).then_some(text)
}

/// The EVENT_DESC feature: `u32 nr; u32 attr_size; { attr; u32 nr_ids;
/// perf_header_string name; u64 ids[nr_ids]; }[nr]`. `None` when any part
/// runs past the section.
pub(super) fn parse_event_desc(data: &[u8], be: bool) -> Option<Vec<EventInfo>> {
    let b = Bytes { data, be };
    let nr = u64::from(b.u32(0)?);
    let attr_size = u64::from(b.u32(4)?);
    if !(ATTR_SIZE_MIN..=ATTR_SIZE_MAX).contains(&attr_size) {
        return None;
    }
    // Every entry takes at least attr_size + 8 bytes: bound nr first.
    if nr.checked_mul(attr_size + 8)? > b.len() {
        return None;
    }
    let mut out = Vec::new();
    let mut at = 8u64;
    for _ in 0..nr {
        let size = u64::from(b.u32(at + 4)?);
        if size < ATTR_SIZE_MIN || size > attr_size {
            return None;
        }
        let attr = b.slice(at, size)?.to_vec();
        at += attr_size;
        let nr_ids = u64::from(b.u32(at)?);
        let str_len = u64::from(b.u32(at + 4)?);
        let name = b.slice(at + 8, str_len)?;
        let name = name.split(|&c| c == 0).next().unwrap_or_default();
        at += 8 + str_len;
        let ids_bytes = b.slice(at, nr_ids.checked_mul(8)?)?;
        let ids = ids_bytes
            .chunks_exact(8)
            .filter_map(|c| {
                let a: [u8; 8] = c.try_into().ok()?;
                Some(if be {
                    u64::from_be_bytes(a)
                } else {
                    u64::from_le_bytes(a)
                })
            })
            .collect();
        at += nr_ids * 8;
        out.push(EventInfo {
            attr,
            ids,
            name: Some(String::from_utf8_lossy(name).into_owned()),
            offset: 0,
        });
    }
    Some(out)
}
