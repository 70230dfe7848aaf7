//! The byte order of folded lines, decided by their frames' names alone.
//!
//! A folded line is its frames' texts joined by `;`. When no text holds a
//! `;`, two lines compare, byte by byte, at the first frame where they
//! differ: as that frame's text followed by `;` when a frame follows it,
//! or by the end of the line when it is the last (`a`, then `a.b`, then
//! `a;b`: `.` sorts before `;`). So each text gets two ranks, for
//! the two ways it can end, and a line's key is its frames' ranks: keys
//! compare as the lines do, and are equal exactly when the lines are,
//! with two bytes per frame instead of the text's dozens.

use std::cmp::Ordering;

use stackconv_model::render::Piece;

/// The two ranks of each text and what each rank writes.
pub(crate) struct LineOrder {
    /// Per text: its rank when a frame follows it, big-endian.
    inner: Vec<[u8; 2]>,
    /// Per text: its rank as the line's last frame, big-endian.
    last: Vec<[u8; 2]>,
    /// Per rank: what it writes, its text followed by `;` for an inner
    /// rank.
    pieces: Vec<Piece>,
}

impl LineOrder {
    /// The order of lines made of `texts` (distinct); `None` when a text
    /// holds a `;` (its line would read as other frames) or there are too
    /// many texts for two-byte ranks.
    pub(crate) fn new(texts: &[&str]) -> Option<LineOrder> {
        if texts.len() > usize::from(u16::MAX) / 2 || texts.iter().any(|t| t.contains(';')) {
            return None;
        }
        // Each text twice: followed by `;` (inner), and by the end of the
        // line (last), which sorts before any byte.
        let mut keys: Vec<(u32, bool)> = (0..texts.len() as u32)
            .flat_map(|t| [(t, true), (t, false)])
            .collect();
        let text = |t: u32| texts.get(t as usize).map_or(&[][..], |s| s.as_bytes());
        keys.sort_unstable_by(|&(a, a_inner), &(b, b_inner)| {
            let (a, b) = (text(a), text(b));
            let common = a.len().min(b.len());
            match a.get(..common).cmp(&b.get(..common)) {
                Ordering::Equal => {}
                o => return o,
            }
            // One is the other followed by more bytes (or both equal):
            // compare what follows the shorter, the end as least.
            let next = |s: &[u8], inner: bool| match s.get(common) {
                Some(&b) => Some(b),
                None => inner.then_some(b';'),
            };
            next(a, a_inner).cmp(&next(b, b_inner))
        });
        let mut inner = vec![[0; 2]; texts.len()];
        let mut last = vec![[0; 2]; texts.len()];
        let mut pieces = Vec::with_capacity(keys.len());
        for (rank, &(t, is_inner)) in keys.iter().enumerate() {
            let slot = if is_inner { &mut inner } else { &mut last };
            if let Some(s) = slot.get_mut(t as usize) {
                *s = (rank as u16).to_be_bytes();
            }
            let mut piece = text(t).to_vec();
            if is_inner {
                piece.push(b';');
            }
            pieces.push(Piece::new(&piece));
        }
        Some(LineOrder {
            inner,
            last,
            pieces,
        })
    }

    /// Append to `key` the key of the line of texts `leaf_first` (its
    /// frames from the leaf up, as a stack is walked) under the text
    /// `root`, when the line has one.
    pub(crate) fn push_key(
        &self,
        key: &mut Vec<u8>,
        leaf_first: impl IntoIterator<Item = u32>,
        root: Option<u32>,
    ) {
        let start = key.len();
        let rank = |ranks: &[[u8; 2]], t: u32| {
            let [high, low] = ranks.get(t as usize).copied().unwrap_or([0; 2]);
            // Low byte first: the whole key is reversed below, which puts
            // its ranks root first, each high byte first.
            [low, high]
        };
        let mut texts = leaf_first.into_iter();
        // A line of its root alone ends with the root.
        let (leaf, root) = match (texts.next(), root) {
            (Some(leaf), root) => (leaf, root),
            (None, Some(root)) => (root, None),
            (None, None) => return,
        };
        key.extend_from_slice(&rank(&self.last, leaf));
        for t in texts {
            key.extend_from_slice(&rank(&self.inner, t));
        }
        if let Some(r) = root {
            key.extend_from_slice(&rank(&self.inner, r));
        }
        if let Some(k) = key.get_mut(start..) {
            k.reverse();
        }
    }

    /// Append the text of the line whose key is `key` to `out`.
    pub(crate) fn write_line(&self, key: &[u8], out: &mut Vec<u8>) {
        for r in key.chunks_exact(2) {
            let rank = r.first().map_or(0, |&h| usize::from(h) << 8)
                | r.get(1).map_or(0, |&l| usize::from(l));
            if let Some(piece) = self.pieces.get(rank) {
                piece.append_to(out);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The key of `line`, its first text as the root.
    fn key(order: &LineOrder, line: &[u32]) -> Vec<u8> {
        let mut k = vec![7];
        let (root, frames) = line.split_first().unzip();
        let leaf_first = frames.into_iter().flatten().rev().copied();
        order.push_key(&mut k, leaf_first, root.copied());
        // Appended to what `k` held, which stays.
        assert_eq!(k.remove(0), 7);
        k
    }

    #[test]
    fn a_text_that_starts_another_sorts_by_what_follows() {
        let texts = ["a", "a.b", "a b", "c", ""];
        let order = LineOrder::new(&texts).unwrap();
        // `a` < `a b` < `a.b` < `a;` < `a;c`: a space and a dot sort
        // before the `;` that follows `a` in `a;c`.
        let lines: Vec<Vec<u32>> = vec![
            vec![0, 3],
            vec![1],
            vec![2],
            vec![0],
            vec![4, 0],
            vec![0, 4],
        ];
        let mut by_key = lines.clone();
        by_key.sort_by_key(|l| key(&order, l));
        let join = |l: &Vec<u32>| {
            l.iter()
                .map(|&t| texts[t as usize])
                .collect::<Vec<_>>()
                .join(";")
        };
        let mut by_text = lines.clone();
        by_text.sort_by_key(join);
        assert_eq!(by_key, by_text);
        for l in &lines {
            let mut text = Vec::new();
            order.write_line(&key(&order, l), &mut text);
            assert_eq!(String::from_utf8(text).unwrap(), join(l));
        }
    }

    #[test]
    fn texts_with_a_separator_have_no_order() {
        assert!(LineOrder::new(&["a;b", "c"]).is_none());
    }

    proptest! {
        /// Keys sort as the joined texts do and are equal exactly when
        /// the texts are.
        #[test]
        fn keys_sort_as_the_lines(
            texts in proptest::collection::hash_set("[a-c .;_]{0,3}", 1..8),
            lines in proptest::collection::vec(proptest::collection::vec(0usize..8, 1..5), 1..40),
        ) {
            let texts: Vec<&str> = texts.iter().map(String::as_str).filter(|t| !t.contains(';')).collect();
            prop_assume!(!texts.is_empty());
            let order = LineOrder::new(&texts).unwrap();
            let lines: Vec<Vec<u32>> = lines
                .iter()
                .map(|l| l.iter().map(|&i| (i % texts.len()) as u32).collect())
                .collect();
            let join = |l: &Vec<u32>| l.iter().map(|&t| texts[t as usize]).collect::<Vec<_>>().join(";");
            for a in &lines {
                for b in &lines {
                    prop_assert_eq!(key(&order, a).cmp(&key(&order, b)), join(a).cmp(&join(b)));
                }
                let mut text = Vec::new();
                order.write_line(&key(&order, a), &mut text);
                prop_assert_eq!(String::from_utf8(text).unwrap(), join(a));
            }
        }
    }
}
