//! Writing large texts made of many items (folded lines, speedscope's
//! stack arrays): the items are rendered on all cores and written in order,
//! one round of blocks rendered while the round before is written.

use std::io::{self, Write};
use std::ops::Range;
use std::sync::mpsc;

use rayon::prelude::*;

/// Write the text of items `0..count` to `w`, in order: `render(range,
/// out)` appends the text of the items in `range` to `out`. Blocks of
/// `per_block` items are rendered on all cores, a round of two blocks per
/// core at a time, while this thread writes the round before; the two
/// rounds' buffers are kept from round to round (fresh ones would fault
/// their pages in, and grow by copying).
///
/// The first error of `render` or of writing stops both and is returned;
/// what was written before it stays written.
///
/// ```
/// use stackconv_model::render::write_in_rounds;
///
/// let squares: Vec<u64> = (0..50_000).map(|i| i * i).collect();
/// let mut out = Vec::new();
/// write_in_rounds(&mut out, squares.len(), 1000, |items, text| {
///     for i in items {
///         text.extend_from_slice(format!("{}\n", squares[i]).as_bytes());
///     }
///     Ok(())
/// })?;
/// let text = String::from_utf8(out).unwrap();
/// assert_eq!(text.lines().count(), 50_000);
/// assert_eq!(text.lines().nth(49_999), Some("2499900001"));
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn write_in_rounds(
    w: &mut impl Write,
    count: usize,
    per_block: usize,
    render: impl Fn(Range<usize>, &mut Vec<u8>) -> io::Result<()> + Sync,
) -> io::Result<()> {
    let per_block = per_block.max(1);
    let blocks = 2 * rayon::current_num_threads();
    let round = per_block.saturating_mul(blocks);
    let render = &render;
    std::thread::scope(|s| {
        let (rendered, to_write) = mpsc::sync_channel::<io::Result<Vec<Vec<u8>>>>(1);
        let (written, to_fill) = mpsc::channel::<Vec<Vec<u8>>>();
        for _ in 0..2 {
            let _ = written.send(vec![Vec::new(); blocks]);
        }
        s.spawn(move || {
            for start in (0..count).step_by(round) {
                let Ok(mut texts) = to_fill.recv() else {
                    return;
                };
                let done = texts
                    .par_iter_mut()
                    .enumerate()
                    .try_for_each(|(n, text)| {
                        text.clear();
                        let from = start.saturating_add(n.saturating_mul(per_block));
                        let to = from
                            .saturating_add(per_block)
                            .min(start.saturating_add(round))
                            .min(count);
                        if from < to {
                            render(from..to, text)
                        } else {
                            Ok(())
                        }
                    })
                    .map(|()| texts);
                let failed = done.is_err();
                if rendered.send(done).is_err() || failed {
                    return;
                }
            }
        });
        let mut result = Ok(());
        for texts in to_write.iter() {
            let written_all = texts.and_then(|texts| {
                texts.iter().try_for_each(|t| w.write_all(t))?;
                Ok(texts)
            });
            match written_all {
                Ok(texts) => {
                    let _ = written.send(texts);
                }
                Err(e) => {
                    result = Err(e);
                    break;
                }
            }
        }
        // On an error, the renderer stops at its next send or receive.
        drop((to_write, written));
        result
    })
}

/// A short byte string appended to texts very many times (a frame's name
/// in folded lines, a frame index in speedscope's arrays): one of up to
/// [`Piece::SHORT`] bytes is kept in a fixed array and appended with one
/// copy of that fixed size, then cut to length (no call to a copy of
/// variable length per piece); a longer one as a vector.
///
/// ```
/// use stackconv_model::render::Piece;
///
/// let (a, b) = (Piece::new(b"main;"), Piece::new(&[b'x'; 40]));
/// let mut line = Vec::new();
/// a.append_to(&mut line);
/// b.append_to(&mut line);
/// assert_eq!(line.len(), 45);
/// assert!(line.starts_with(b"main;x"));
/// ```
#[derive(Clone, Debug)]
pub struct Piece(Bytes);

#[derive(Clone, Debug)]
enum Bytes {
    Short([u8; Piece::SHORT], u8),
    Long(Vec<u8>),
}

impl Piece {
    /// The longest piece kept in a fixed array.
    pub const SHORT: usize = 32;

    /// The piece of `bytes`.
    pub fn new(bytes: &[u8]) -> Piece {
        let mut short = [0; Piece::SHORT];
        Piece(match short.get_mut(..bytes.len()) {
            Some(s) => {
                s.copy_from_slice(bytes);
                Bytes::Short(short, bytes.len() as u8)
            }
            None => Bytes::Long(bytes.to_vec()),
        })
    }

    /// Append the piece to `out`.
    #[inline]
    pub fn append_to(&self, out: &mut Vec<u8>) {
        match &self.0 {
            Bytes::Short(bytes, len) => {
                let end = out.len() + usize::from(*len);
                out.extend_from_slice(bytes);
                out.truncate(end);
            }
            Bytes::Long(bytes) => out.extend_from_slice(bytes),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_item_once_in_order_whatever_the_block_size() {
        for (count, per_block) in [(0, 3), (1, 1), (10, 3), (1000, 7), (1000, 5000), (9, 0)] {
            let mut out = Vec::new();
            write_in_rounds(&mut out, count, per_block, |items, text| {
                for i in items {
                    text.extend_from_slice(format!("{i},").as_bytes());
                }
                Ok(())
            })
            .unwrap();
            let want: String = (0..count).map(|i| format!("{i},")).collect();
            assert_eq!(String::from_utf8(out).unwrap(), want, "{count} {per_block}");
        }
    }

    #[test]
    fn a_render_error_stops_and_is_returned() {
        let mut out = Vec::new();
        let err = write_in_rounds(&mut out, 100_000, 10, |items, text| {
            if items.contains(&50_000) {
                return Err(io::Error::other("item 50000"));
            }
            text.extend(items.map(|_| b'x'));
            Ok(())
        })
        .unwrap_err();
        assert_eq!(err.to_string(), "item 50000");
        // The rounds before the failing one were written, not it nor any
        // after it.
        let round = 10 * 2 * rayon::current_num_threads();
        assert!(
            out.len() <= 50_000 && out.len() + round > 50_000,
            "{}",
            out.len()
        );
    }

    #[test]
    fn a_write_error_stops_and_is_returned() {
        struct Full(usize);
        impl Write for Full {
            fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
                if self.0 == 0 {
                    return Err(io::Error::other("disk full"));
                }
                let n = buf.len().min(self.0);
                self.0 -= n;
                Ok(n)
            }
            fn flush(&mut self) -> io::Result<()> {
                Ok(())
            }
        }
        let err = write_in_rounds(&mut Full(1000), 1_000_000, 100, |items, text| {
            text.extend(items.map(|_| b'y'));
            Ok(())
        })
        .unwrap_err();
        assert_eq!(err.to_string(), "disk full");
    }

    #[test]
    fn pieces_of_every_length_append_exactly() {
        for n in [0, 1, Piece::SHORT - 1, Piece::SHORT, Piece::SHORT + 1, 100] {
            let bytes: Vec<u8> = (0..n).map(|i| i as u8 + 1).collect();
            let mut out = b"ab".to_vec();
            Piece::new(&bytes).append_to(&mut out);
            assert_eq!(out, [b"ab".as_slice(), &bytes].concat(), "{n}");
        }
    }
}
