//! Line iteration over byte input, shared by the text readers.

use std::borrow::Cow;

use crate::Error;

/// One line of input: its 1-based number and its text (without `\n` or a
/// trailing `\r`), decoded lossily.
pub(crate) struct Line<'a> {
    /// 1-based line number.
    pub number: u64,
    /// The text.
    pub text: Cow<'a, str>,
}

/// The lines of `input`. A line holding a NUL byte is an [`Error::Binary`].
pub(crate) fn lines<'a>(
    input: &'a [u8],
    format: &'static str,
) -> impl Iterator<Item = Result<Line<'a>, Error>> + 'a {
    let mut rest = input;
    let mut number: u64 = 0;
    let mut failed = false;
    std::iter::from_fn(move || {
        if rest.is_empty() || failed {
            return None;
        }
        number = number.saturating_add(1);
        let raw = match memchr::memchr(b'\n', rest) {
            Some(at) => {
                let (head, tail) = rest.split_at(at);
                rest = tail.get(1..).unwrap_or(&[]);
                head
            }
            None => {
                let head = rest;
                rest = &[];
                head
            }
        };
        if memchr::memchr(0, raw).is_some() {
            failed = true;
            return Some(Err(Error::Binary {
                format,
                line: number,
            }));
        }
        let raw = raw.strip_suffix(b"\r").unwrap_or(raw);
        Some(Ok(Line {
            number,
            text: String::from_utf8_lossy(raw),
        }))
    })
}

/// The longest line [`stream_lines`] takes.
pub(crate) const MAX_STREAMED_LINE: u64 = 1 << 30;

/// The lines of a reader, as [`lines`] gives them for bytes in memory (the
/// same numbers, the same NUL check, the same lossy decoding), each read
/// when asked for: memory holds one line at a time. An I/O error or a
/// line over [`MAX_STREAMED_LINE`] bytes ends the lines with an error.
pub(crate) fn stream_lines(
    mut input: impl std::io::BufRead,
    format: &'static str,
) -> impl Iterator<Item = Result<Line<'static>, Error>> {
    use std::io::{BufRead as _, Read as _};
    let mut number: u64 = 0;
    let mut failed = false;
    let mut buf: Vec<u8> = Vec::new();
    std::iter::from_fn(move || {
        if failed {
            return None;
        }
        number = number.saturating_add(1);
        buf.clear();
        // One byte past the limit tells a line that is too long.
        let read = (&mut input)
            .take(MAX_STREAMED_LINE.saturating_add(1))
            .read_until(b'\n', &mut buf);
        match read {
            Ok(0) => return None,
            Ok(_) => {}
            Err(source) => {
                failed = true;
                return Some(Err(Error::Io {
                    format,
                    line: number,
                    source,
                }));
            }
        }
        if buf.last() == Some(&b'\n') {
            buf.pop();
        } else if u64::try_from(buf.len()).unwrap_or(u64::MAX) > MAX_STREAMED_LINE {
            failed = true;
            return Some(Err(Error::LineTooLong {
                format,
                line: number,
                max: MAX_STREAMED_LINE,
            }));
        }
        if memchr::memchr(0, &buf).is_some() {
            failed = true;
            return Some(Err(Error::Binary {
                format,
                line: number,
            }));
        }
        let raw = buf.strip_suffix(b"\r").unwrap_or(&buf);
        Some(Ok(Line {
            number,
            text: Cow::Owned(String::from_utf8_lossy(raw).into_owned()),
        }))
    })
}

/// The first `max` bytes of `input`, cut after the last complete line when
/// the input is longer (for content sniffing).
pub(crate) fn head(input: &[u8], max: usize) -> &[u8] {
    if input.len() <= max {
        return input;
    }
    let window = input.get(..max).unwrap_or(input);
    match memchr::memrchr(b'\n', window) {
        Some(at) => window.get(..at).unwrap_or(window),
        None => window,
    }
}
