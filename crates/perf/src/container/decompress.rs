//! Compressed records (`perf record -z`): zstd data decompressed with a
//! total bound, and the records it holds walked like the file's.

use super::*;

impl Walker<'_> {
    /// Decompress one compressed record's zstd data and walk the records
    /// it holds (a record may continue in the next compressed record).
    pub(super) fn decompress(&mut self, mut input: &[u8], at: u64) -> Result<(), Error> {
        use zstd::stream::raw::{Decoder, InBuffer, Operation, OutBuffer};
        self.c.compressed = true;
        if self.decoder.is_none() {
            self.decoder = Some(Decoder::new().map_err(Error::Io)?);
        }
        let Some(decoder) = self.decoder.as_mut() else {
            return Ok(());
        };
        let start_len = self.pending.len();
        let mut chunk = vec![0u8; 256 * 1024];
        loop {
            let mut inb = InBuffer::around(input);
            let mut outb = OutBuffer::around(&mut chunk[..]);
            decoder
                .run(&mut inb, &mut outb)
                .map_err(|e| Error::Invalid {
                    offset: at,
                    what: "compressed record",
                    detail: format!("zstd: {e}"),
                })?;
            let consumed = inb.pos();
            let produced = outb.pos();
            // The bound on the whole input's decompressed bytes, checked
            // before they are kept: a small file of many compressed records
            // (each under DECOMPRESSED_MAX) must not fill memory.
            self.decompressed = u64::try_from(produced)
                .ok()
                .and_then(|n| self.decompressed.checked_add(n))
                .filter(|&total| total <= self.max_decompressed)
                .ok_or(Error::DecompressedTooLarge {
                    offset: at,
                    limit: self.max_decompressed,
                })?;
            self.pending
                .extend_from_slice(chunk.get(..produced).unwrap_or_default());
            if self.pending.len() - start_len > DECOMPRESSED_MAX
                || self.pending.len() > 2 * DECOMPRESSED_MAX
            {
                return Err(Error::Invalid {
                    offset: at,
                    what: "compressed record",
                    detail: format!("decompresses to more than {DECOMPRESSED_MAX} bytes"),
                });
            }
            input = input.get(consumed..).unwrap_or_default();
            if input.is_empty() && produced < chunk.len() {
                break;
            }
            if consumed == 0 && produced == 0 {
                break;
            }
        }
        if start_len == 0 {
            self.pending_offset = at;
        }
        // Walk the complete records; keep the tail for the next one.
        let pending = std::mem::take(&mut self.pending);
        let p = Bytes {
            data: &pending,
            be: self.b.be,
        };
        let mut pos = 0u64;
        while pos + RECORD_HEADER_SIZE <= p.len() {
            let size = u64::from(p.u16(pos + 6).unwrap_or(0));
            if size < RECORD_HEADER_SIZE {
                return Err(Error::Invalid {
                    offset: self.pending_offset,
                    what: "record inside compressed data",
                    detail: format!("size {size} (a record is at least 8 bytes)"),
                });
            }
            let Some(rec) = p.slice(pos, size) else { break };
            let ty = p.u32(pos).unwrap_or(0);
            if matches!(
                ty,
                rtype::COMPRESSED
                    | rtype::COMPRESSED2
                    | rtype::AUXTRACE
                    | rtype::HEADER_TRACING_DATA
            ) {
                return Err(Error::Invalid {
                    offset: self.pending_offset,
                    what: "record inside compressed data",
                    detail: format!("type {ty} cannot be nested"),
                });
            }
            self.record(rec, self.pending_offset, u64::MAX, false)?;
            pos += size;
        }
        self.pending = pending.get(pos as usize..).unwrap_or_default().to_vec();
        self.pending_offset = at;
        Ok(())
    }
}
