//! A minimal protobuf wire-format walker for the top-level `Profile`
//! message, so that the reader can decode samples one at a time (bounded
//! memory) and report byte offsets, and so that [`crate::looks_like`] can
//! check a prefix strictly.

use crate::Error;

/// The payload of one field.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Value<'a> {
    /// Wire type 0.
    Varint(u64),
    /// Wire type 2: a length-delimited payload.
    Bytes(&'a [u8]),
    /// Wire types 1 and 5 (contents not needed).
    Fixed,
}

/// One field of a message.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Field<'a> {
    /// The field number.
    pub number: u64,
    /// Byte offset of the field's key in the buffer.
    pub offset: usize,
    /// Byte offset of the payload (for `Bytes`, of its first byte, after
    /// the length).
    pub payload_offset: usize,
    /// The payload.
    pub value: Value<'a>,
}

/// Why a field could not be read; `Truncated` when the buffer ended inside
/// it (a prefix), `Bad` for anything else.
#[derive(Debug)]
pub(crate) enum WireError {
    Truncated(usize, &'static str),
    Bad(usize, String),
}

impl From<WireError> for Error {
    fn from(e: WireError) -> Self {
        match e {
            WireError::Truncated(offset, what) => Error::Malformed {
                offset: u64::try_from(offset).unwrap_or(u64::MAX),
                what: format!("data ends inside {what}"),
            },
            WireError::Bad(offset, what) => Error::Malformed {
                offset: u64::try_from(offset).unwrap_or(u64::MAX),
                what,
            },
        }
    }
}

/// Read a varint at `*pos`, advancing it.
fn varint(buf: &[u8], pos: &mut usize) -> Result<u64, WireError> {
    let start = *pos;
    let mut value: u64 = 0;
    for shift in 0..10u32 {
        let byte = *buf
            .get(*pos)
            .ok_or(WireError::Truncated(start, "a varint"))?;
        *pos = pos.saturating_add(1);
        let low = u64::from(byte & 0x7f);
        if shift == 9 && byte > 1 {
            return Err(WireError::Bad(start, "varint longer than 64 bits".into()));
        }
        value |= low << (7 * shift);
        if byte & 0x80 == 0 {
            return Ok(value);
        }
    }
    Err(WireError::Bad(start, "varint longer than 10 bytes".into()))
}

/// The next field at `*pos`, or `None` at the end of the buffer.
pub(crate) fn next_field<'a>(
    buf: &'a [u8],
    pos: &mut usize,
) -> Result<Option<Field<'a>>, WireError> {
    if *pos >= buf.len() {
        return Ok(None);
    }
    let offset = *pos;
    let key = varint(buf, pos)?;
    let number = key >> 3;
    if number == 0 {
        return Err(WireError::Bad(offset, "field number 0".into()));
    }
    let mut payload_offset = *pos;
    let value = match key & 7 {
        0 => Value::Varint(varint(buf, pos)?),
        1 | 5 => {
            let n = if key & 7 == 1 { 8 } else { 4 };
            let end = pos
                .checked_add(n)
                .filter(|&e| e <= buf.len())
                .ok_or(WireError::Truncated(offset, "a fixed-size field"))?;
            *pos = end;
            Value::Fixed
        }
        2 => {
            let len = varint(buf, pos)?;
            let start = *pos;
            let end = usize::try_from(len)
                .ok()
                .and_then(|l| start.checked_add(l))
                .filter(|&e| e <= buf.len())
                .ok_or(WireError::Truncated(
                    offset,
                    "a length-delimited field (its length runs past the end)",
                ))?;
            *pos = end;
            payload_offset = start;
            Value::Bytes(buf.get(start..end).unwrap_or_default())
        }
        wt => {
            return Err(WireError::Bad(
                offset,
                format!(
                "field {number}: unsupported wire type {wt} (groups are not used by profile.proto)"
            ),
            ))
        }
    };
    Ok(Some(Field {
        number,
        offset,
        payload_offset,
        value,
    }))
}

/// A varint payload as the int64 it encodes (two's complement).
pub(crate) fn as_i64(v: u64) -> i64 {
    i64::from_le_bytes(v.to_le_bytes())
}

/// Which wire types a field of a `Profile` may use, for the strict check:
/// `Some(varint_ok, bytes_ok)`, or `None` for an unknown field.
fn profile_field_kinds(number: u64) -> Option<(bool, bool)> {
    match number {
        // sample_type, sample, mapping, location, function, string_table,
        // period_type, label_set (newer proto)
        1..=6 | 11 | 16 => Some((false, true)),
        // drop/keep frames, time, duration, period, default type, tick unit
        7..=10 | 12 | 14 | 15 => Some((true, false)),
        // comment: packed or not
        13 => Some((true, true)),
        _ => None,
    }
}

/// Which wire types a field of a nested message may use.
fn nested_field_kinds(parent: u64, number: u64) -> Option<(bool, bool)> {
    match (parent, number) {
        // ValueType
        (1 | 11, 1 | 2) => Some((true, false)),
        // Sample: location_id, value (packed or not), label
        (2, 1 | 2) => Some((true, true)),
        (2, 3) => Some((false, true)),
        // Mapping
        (3, 1..=10) => Some((true, false)),
        // Location: id, mapping_id, address, is_folded; line
        (4, 1..=3 | 5) => Some((true, false)),
        (4, 4) => Some((false, true)),
        // Function
        (5, 1..=5) => Some((true, false)),
        _ => None,
    }
}

/// Whether `buf`, a prefix of a plain profile.proto, looks like one: every
/// complete top-level field is a known `Profile` field with the right wire
/// type, nested messages that are complete have only known fields, strings
/// are UTF-8, and at least one field is complete.
pub(crate) fn prefix_is_profile(buf: &[u8]) -> bool {
    let mut pos = 0;
    let mut complete = 0usize;
    loop {
        // Check the key before the payload, so that a field cut short by the
        // end of the prefix still has to have a plausible key.
        let mut key_pos = pos;
        if let Ok(key) = varint(buf, &mut key_pos) {
            let Some((varint_ok, bytes_ok)) = profile_field_kinds(key >> 3) else {
                return false;
            };
            let fits = match key & 7 {
                0 => varint_ok,
                2 => bytes_ok,
                _ => false,
            };
            if !fits {
                return false;
            }
        }
        match next_field(buf, &mut pos) {
            Ok(None) => break,
            Ok(Some(f)) => {
                let Some((varint_ok, bytes_ok)) = profile_field_kinds(f.number) else {
                    return false;
                };
                match f.value {
                    Value::Varint(_) if varint_ok => {}
                    Value::Bytes(b) if bytes_ok => {
                        if f.number == 6 {
                            if std::str::from_utf8(b).is_err() {
                                return false;
                            }
                        } else if f.number != 13 && f.number != 16 && !nested_is_valid(f.number, b)
                        {
                            return false;
                        }
                    }
                    _ => return false,
                }
                complete = complete.saturating_add(1);
            }
            Err(WireError::Truncated(..)) => return complete >= 2,
            Err(WireError::Bad(..)) => return false,
        }
    }
    complete > 0
}

fn nested_is_valid(parent: u64, buf: &[u8]) -> bool {
    let mut pos = 0;
    loop {
        match next_field(buf, &mut pos) {
            Ok(None) => return true,
            Ok(Some(f)) => {
                let Some((varint_ok, bytes_ok)) = nested_field_kinds(parent, f.number) else {
                    return false;
                };
                match f.value {
                    Value::Varint(_) if varint_ok => {}
                    Value::Bytes(_) if bytes_ok => {}
                    _ => return false,
                }
            }
            Err(_) => return false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varints() {
        let mut pos = 0;
        assert_eq!(varint(&[0x96, 0x01], &mut pos).ok(), Some(150));
        assert_eq!(pos, 2);
        let mut pos = 0;
        assert!(matches!(
            varint(&[0x96], &mut pos),
            Err(WireError::Truncated(0, _))
        ));
        let mut pos = 0;
        let eleven = [0xff; 11];
        assert!(matches!(
            varint(&eleven, &mut pos),
            Err(WireError::Bad(0, _))
        ));
        assert_eq!(as_i64(u64::MAX), -1);
    }

    #[test]
    fn text_is_not_a_profile() {
        for text in [
            &b"main;work 12\n"[..],
            b"a;b;c 1\n",
            b"python3 1234 [000] 1.0: cpu-clock:\n",
            b"{\"$schema\": \"https://www.speedscope.app/file-format-schema.json\"}",
            b"\n\nhello world, this is text",
            b"PERFILE2\x68\x00\x00\x00",
            b"",
        ] {
            assert!(
                !prefix_is_profile(text),
                "{:?}",
                String::from_utf8_lossy(text)
            );
        }
        // sample_type {type: 1, unit: 2}, string_table ["", "cpu"]
        assert!(prefix_is_profile(&[
            0x0a, 0x04, 0x08, 0x01, 0x10, 0x02, 0x32, 0x00, 0x32, 0x03, b'c', b'p', b'u'
        ]));
    }
}
