//! A bounded walk over Thrift compact-protocol structs (Parquet's footer
//! and page headers), run before the parquet crate parses them.
//!
//! parquet 60 skips unknown fields with a loop over the *claimed* size of
//! a list, set or map, and takes a boolean element to occupy no bytes: a
//! list header of five bytes claiming 2^31 booleans is 2^31 iterations,
//! and a 5 KB file of such headers takes minutes (found by the `table`
//! fuzz target). In the compact protocol every list element and map
//! entry occupies at least one byte (a boolean element is one byte;
//! only boolean *fields* live in their field header), so a claim of more
//! elements than bytes left is refused here, with its offset.

/// Why a walk stopped: the byte offset (in the whole file) and what was
/// wrong there.
pub(crate) struct Refused {
    pub(crate) at: usize,
    pub(crate) what: &'static str,
}

/// The deepest nesting walked (parquet's own limit is lower).
const MAX_DEPTH: u32 = 64;

pub(crate) struct Walker<'a> {
    data: &'a [u8],
    pos: usize,
    end: usize,
}

impl<'a> Walker<'a> {
    /// A walk over `data[start..end]`.
    pub(crate) fn new(data: &'a [u8], start: usize, end: usize) -> Self {
        Walker {
            data,
            pos: start,
            end: end.min(data.len()),
        }
    }

    /// The offset after what was walked.
    pub(crate) fn pos(&self) -> usize {
        self.pos
    }

    fn refuse<T>(&self, what: &'static str) -> Result<T, Refused> {
        Err(Refused { at: self.pos, what })
    }

    fn left(&self) -> usize {
        self.end.saturating_sub(self.pos)
    }

    fn byte(&mut self) -> Result<u8, Refused> {
        if self.pos >= self.end {
            return self.refuse("the struct runs past its end");
        }
        let b = self.data.get(self.pos).copied();
        self.pos += 1;
        b.map_or_else(|| self.refuse("the struct runs past the file"), Ok)
    }

    fn varint(&mut self) -> Result<u64, Refused> {
        let mut value: u64 = 0;
        for shift in (0..64).step_by(7) {
            let b = self.byte()?;
            value |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return Ok(value);
            }
        }
        self.refuse("a varint longer than 10 bytes")
    }

    fn skip(&mut self, n: u64) -> Result<(), Refused> {
        if n > self.left() as u64 {
            return self.refuse("a length past the end of the struct");
        }
        self.pos += n as usize;
        Ok(())
    }

    /// Walk one struct (up to its STOP), calling `field(id, value)` for
    /// each integer field at this level.
    pub(crate) fn walk_struct(
        &mut self,
        depth: u32,
        field: &mut dyn FnMut(i16, i64),
    ) -> Result<(), Refused> {
        if depth > MAX_DEPTH {
            return self.refuse("structs nested too deep");
        }
        let mut last_id: i16 = 0;
        loop {
            let header = self.byte()?;
            let kind = header & 0x0f;
            if kind == 0 {
                return Ok(());
            }
            let delta = header >> 4;
            let id = if delta == 0 {
                let z = self.varint()?;
                i16::try_from((z >> 1) as i64 ^ -((z & 1) as i64)).unwrap_or(i16::MAX)
            } else {
                last_id.saturating_add(i16::from(delta))
            };
            last_id = id;
            match kind {
                // Boolean fields: the value is the type.
                1 | 2 => {}
                4..=6 => {
                    let z = self.varint()?;
                    field(id, (z >> 1) as i64 ^ -((z & 1) as i64));
                }
                _ => self.value(kind, depth)?,
            }
        }
    }

    /// Walk one value of compact type `kind`.
    fn value(&mut self, kind: u8, depth: u32) -> Result<(), Refused> {
        if depth > MAX_DEPTH {
            return self.refuse("values nested too deep");
        }
        match kind {
            // A boolean element of a list or map: one byte.
            1..=3 => self.skip(1),
            4..=6 => self.varint().map(|_| ()),
            7 => self.skip(8),
            8 => {
                let len = self.varint()?;
                self.skip(len)
            }
            9 | 10 => {
                let header = self.byte()?;
                let element = header & 0x0f;
                let size = match header >> 4 {
                    15 => self.varint()?,
                    n => u64::from(n),
                };
                // Every element occupies a byte at least.
                if size > self.left() as u64 {
                    return self.refuse("a list claims more elements than bytes left");
                }
                for _ in 0..size {
                    self.value(element, depth + 1)?;
                }
                Ok(())
            }
            11 => {
                let size = self.varint()?;
                if size == 0 {
                    return Ok(());
                }
                let kinds = self.byte()?;
                if size > self.left() as u64 {
                    return self.refuse("a map claims more entries than bytes left");
                }
                for _ in 0..size {
                    self.value(kinds >> 4, depth + 1)?;
                    self.value(kinds & 0x0f, depth + 1)?;
                }
                Ok(())
            }
            12 => self.walk_struct(depth + 1, &mut |_, _| {}),
            13 => self.skip(16),
            _ => self.refuse("an unknown Thrift type"),
        }
    }
}

/// Walk a Parquet file's footer (FileMetaData, `data[start..end]`).
pub(crate) fn check_footer(data: &[u8], start: usize, end: usize) -> Result<(), Refused> {
    Walker::new(data, start, end).walk_struct(0, &mut |_, _| {})
}

/// Walk the page headers of every column chunk in `chunks` (start,
/// length), each followed by its `compressed_page_size` bytes.
pub(crate) fn check_pages(data: &[u8], chunks: &[(usize, usize)]) -> Result<(), Refused> {
    for &(start, len) in chunks {
        let end = start.saturating_add(len).min(data.len());
        let mut at = start;
        while at < end {
            let mut w = Walker::new(data, at, end);
            // PageHeader field 3: compressed_page_size.
            let mut size: i64 = 0;
            w.walk_struct(0, &mut |id, v| {
                if id == 3 {
                    size = v;
                }
            })?;
            let Ok(size) = usize::try_from(size) else {
                return Err(Refused {
                    at,
                    what: "a page of negative size",
                });
            };
            at = w.pos().saturating_add(size);
        }
    }
    Ok(())
}
