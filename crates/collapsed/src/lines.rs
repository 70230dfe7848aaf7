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
