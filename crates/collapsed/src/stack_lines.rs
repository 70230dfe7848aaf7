//! Folded-style lines, `frame;frame;... count`: their shape, their counts
//! and the profile built from them. Shared by the folded and py-spy
//! readers (py-spy raw is folded text with its own frame spelling), and
//! the weight check by the `perf script` reader.

use std::collections::HashMap;

use stackconv_model::{FrameId, PathId, Profile, StackBatch, ThreadId, ValueType};

use crate::lines::{head, lines};
use crate::Error;

/// The format name of folded lines in [`folded_shape`]'s sniffing (its
/// errors are never shown).
const FORMAT: &str = "folded";

/// How many bytes of input the `looks_like` functions read.
pub(crate) const SNIFF_BYTES: usize = 8 * 1024;

/// The sum of the magnitudes of the weights read so far, checked against
/// 2^63-1 at every line: every total, subtotal and difference an
/// operation or writer makes of them then fits an `i64`.
#[derive(Default)]
pub(crate) struct WeightTotal(u64);

impl WeightTotal {
    /// Add `weight`, or the error naming `line`.
    pub(crate) fn add(
        &mut self,
        weight: i64,
        format: &'static str,
        line: u64,
    ) -> Result<(), Error> {
        self.0 = self
            .0
            .checked_add(weight.unsigned_abs())
            .filter(|&t| i64::try_from(t).is_ok())
            .ok_or(Error::WeightOverflow { format, line })?;
        Ok(())
    }
}

/// Whether the first kilobytes of `input` are all `stack count` lines (at
/// least one); with `allow_empty`, ` count` lines too.
pub(crate) fn folded_shape(input: &[u8], allow_empty: bool) -> bool {
    let window = head(input, SNIFF_BYTES);
    let mut seen = false;
    for line in lines(window, FORMAT) {
        let Ok(line) = line else { return false };
        if line.text.trim().is_empty() {
            continue;
        }
        let shape = if allow_empty {
            split_count_allow_empty(&line.text, FORMAT, line.number).map(|_| ())
        } else {
            split_count(&line.text, FORMAT, line.number).map(|_| ())
        };
        if shape.is_err() {
            return false;
        }
        seen = true;
    }
    seen
}

/// Split a folded line into its stack text and count.
pub(crate) fn split_count<'a>(
    text: &'a str,
    format: &'static str,
    line: u64,
) -> Result<(&'a str, i64), Error> {
    let (stack, count) = split_count_allow_empty(text, format, line)?;
    if stack.is_empty() {
        return Err(Error::EmptyStack { format, line });
    }
    Ok((stack, count))
}

/// As [`split_count`], but an empty stack (` 1`) is fine: py-spy writes one
/// for a sample of a thread with no frames.
pub(crate) fn split_count_allow_empty<'a>(
    text: &'a str,
    format: &'static str,
    line: u64,
) -> Result<(&'a str, i64), Error> {
    let text = text.trim_end();
    let (stack, count) = text
        .rsplit_once(' ')
        .ok_or(Error::MissingCount { format, line })?;
    let count = parse_count(count, format, line)?;
    Ok((stack, count))
}

pub(crate) fn parse_count(text: &str, format: &'static str, line: u64) -> Result<i64, Error> {
    let bad = || Error::BadCount {
        format,
        line,
        found: crate::error::excerpt(text),
    };
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(if text.is_empty() {
            Error::MissingCount { format, line }
        } else {
            bad()
        });
    }
    text.parse::<i64>().map_err(|_| bad())
}

/// Builds a profile from folded-style lines; shared with the py-spy reader.
/// How many whole frames `stack` shares with `prev` from the root (both
/// `;`-separated), and the text of its frames after those (`None` when it
/// has no more).
fn shared_frames<'a>(prev: &str, stack: &'a str) -> (usize, Option<&'a str>) {
    let (a, b) = (prev.as_bytes(), stack.as_bytes());
    let common = a.iter().zip(b).take_while(|(x, y)| x == y).count();
    let ends_frame = |s: &[u8], at: usize| at == s.len() || s.get(at) == Some(&b';');
    // The last byte position, at most `common`, where a frame ends in both.
    let end = if ends_frame(a, common) && ends_frame(b, common) {
        Some(common)
    } else {
        memchr::memrchr(b';', b.get(..common).unwrap_or_default())
    };
    let Some(end) = end else {
        return (0, Some(stack));
    };
    let kept = memchr::memchr_iter(b';', b.get(..end).unwrap_or_default()).count() + 1;
    if end == b.len() {
        return (kept, None);
    }
    (kept, Some(stack.get(end + 1..).unwrap_or_default()))
}

pub(crate) struct FoldedBuilder {
    pub(crate) profile: Profile,
    /// Keyed by text from the input: std's keyed hash, not Fx.
    frames: HashMap<String, FrameId>,
    /// Every distinct stack as a path of frames, interned into the stack
    /// table once all lines are read (sorted, so that no node needs a hash
    /// lookup: a shuffled million-line file costs no more than a sorted
    /// one).
    batch: StackBatch,
    /// The path of each sample pushed, in sample order.
    paths: Vec<PathId>,
    /// The previous line's stack text; `scratch` holds its frames.
    prev_text: String,
    /// The thread of samples without thread information, interned on first
    /// use.
    thread: Option<ThreadId>,
    scratch: Vec<FrameId>,
    format: &'static str,
    total: WeightTotal,
    /// Folding as lines are read: the row of each (path, thread) seen, so
    /// that a repeated stack adds to its row instead of making a sample.
    rows: Option<HashMap<(PathId, ThreadId), usize>>,
}

impl FoldedBuilder {
    pub(crate) fn new(format: &'static str, _columns: usize) -> Self {
        let mut profile = Profile::new(vec![ValueType::new("samples", "count")]);
        profile.meta_mut().source_format = format.to_string();
        profile.meta_mut().comm_root = false;
        profile.meta_mut().default_value = 0;
        FoldedBuilder {
            profile,
            frames: HashMap::new(),
            batch: StackBatch::default(),
            paths: Vec::new(),
            prev_text: String::new(),
            thread: None,
            scratch: Vec::new(),
            format,
            total: WeightTotal::default(),
            rows: None,
        }
    }

    /// Fold as lines are read (one sample per distinct stack and thread,
    /// weights summed): memory grows with distinct stacks, not lines.
    pub(crate) fn folding(mut self, fold: bool) -> Self {
        self.rows = fold.then(HashMap::new);
        self
    }

    /// Add a sample of `path` on `thread`, or add its values to the row
    /// of an equal one when folding.
    fn add_sample(&mut self, path: PathId, thread: ThreadId, values: &[i64]) {
        if let Some(rows) = &mut self.rows {
            let next = self.paths.len();
            let row = *rows.entry((path, thread)).or_insert(next);
            if row != next {
                // The sum of every weight read is checked (`total`), so
                // a row's sum fits too.
                let _ = self.profile.add_to_sample(row, values);
                return;
            }
        }
        self.profile.push_sample(None, thread, None, values);
        self.paths.push(path);
    }

    /// Intern the frames of `stack` (`;`-separated, root first) with
    /// `make` interning each new frame; the stack's path (its stack is set
    /// in [`Self::finish`]).
    pub(crate) fn intern_stack(
        &mut self,
        stack: &str,
        mut make: impl FnMut(&mut Profile, &str) -> FrameId,
    ) -> PathId {
        // The frames this line shares with the previous one, found by
        // comparing bytes (the names need no lookup), then the rest.
        let (kept, rest) = match shared_frames(&self.prev_text, stack) {
            // Before the first line there are no frames to keep.
            (kept, _) if kept > self.scratch.len() => (0, Some(stack)),
            shared => shared,
        };
        self.scratch.truncate(kept);
        self.prev_text.clear();
        self.prev_text.push_str(stack);
        for name in rest.into_iter().flat_map(|r| r.split(';')) {
            let id = match self.frames.get(name) {
                Some(&id) => id,
                None => {
                    let id = make(&mut self.profile, name);
                    self.frames.insert(name.to_string(), id);
                    id
                }
            };
            self.scratch.push(id);
        }
        self.batch.add(&self.scratch)
    }

    /// Push one sample of a plain folded line, `make` interning each new
    /// frame.
    pub(crate) fn push(
        &mut self,
        stack: &str,
        values: &[i64],
        line: u64,
        make: impl FnMut(&mut Profile, &str) -> FrameId,
    ) -> Result<(), Error> {
        for &v in values {
            self.total.add(v, self.format, line)?;
        }
        let s = self.intern_stack(stack, make);
        let thread = match self.thread {
            Some(t) => t,
            None => {
                let t = self.profile.intern_thread(Default::default());
                self.thread = Some(t);
                t
            }
        };
        self.add_sample(s, thread, values);
        Ok(())
    }

    /// Push one sample with an explicit thread, read on `line`.
    pub(crate) fn push_with_thread(
        &mut self,
        path: PathId,
        thread: ThreadId,
        values: &[i64],
        line: u64,
    ) -> Result<(), Error> {
        for &v in values {
            self.total.add(v, self.format, line)?;
        }
        self.add_sample(path, thread, values);
        Ok(())
    }

    /// The profile, every sample's stack set from its path.
    pub(crate) fn finish(mut self) -> Profile {
        let stacks = self.batch.intern_into(self.profile.stacks_mut());
        let paths = &self.paths;
        self.profile.map_sample_stacks(|i, _| {
            let path = paths.get(i)?;
            stacks.get(path.index()).copied().flatten()
        });
        self.profile
    }
}
