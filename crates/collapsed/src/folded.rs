//! Folded ("collapsed") stacks: one line per stack, `frame;frame;... count`,
//! root first, the format of `stackcollapse-*.pl` and `inferno-collapse-*`.
//!
//! ```
//! use stackconv_collapsed::folded;
//!
//! let p = folded::read(b"main;work 3\nmain;idle 2\nmain;work 4\n")?;
//! assert_eq!(p.total(0), 9);
//! let mut out = Vec::new();
//! folded::write(&p, &folded::WriteOptions::default(), &mut out)?;
//! assert_eq!(String::from_utf8_lossy(&out), "main;idle 2\nmain;work 7\n");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use rayon::prelude::*;
use rustc_hash::FxHashMap;
use std::io::{self, Write};

use stackconv_model::memory::prefetch_stack;
use stackconv_model::render::write_in_rounds;
use stackconv_model::{FrameId, FrameKind, Profile, StackId, ThreadId};

use crate::line_order::LineOrder;
use crate::lines::{lines, stream_lines, Line};
use crate::stack_lines::{parse_count, split_count_allow_empty, FoldedBuilder};
use crate::Error;

const FORMAT: &str = "folded";

/// Read folded text: `frame;frame;... count` lines, root first. Frames are
/// kept exactly as written; blank lines are skipped. A line with an empty
/// stack (` 2`: py-spy writes one for a thread without frames, and so does
/// [`write()`] for such a sample of py-spy input) is a sample whose one
/// frame has an empty name, as [`crate::pyspy::read`] reads it, so every
/// folded text stackconv writes reads back.
///
/// The profile has one value column, `samples`/`count`, no thread
/// information (every sample has [`stackconv_model::Thread::default`]) and
/// `meta.comm_root = false`. Frame kinds are guessed from the text: a
/// `_[k]` suffix is kernel, `_[j]` JIT, `_[i]` inlined, `func (file:line)`
/// and `py::` frames are Python, `[unknown]` is unknown, the rest native.
///
/// # Errors
///
/// [`Error::MissingCount`] or [`Error::BadCount`] for a malformed line,
/// [`Error::Binary`] for binary input; each names the line.
pub fn read(input: &[u8]) -> Result<Profile, Error> {
    read_lines(lines(input, FORMAT), FoldedBuilder::new(FORMAT, 1))
}

/// [`read`] from a reader, a line at a time: the input is never held
/// whole, and with `fold` equal stacks are counted as they are read (one
/// sample per distinct stack, weights summed), so memory grows with the
/// distinct stacks, not the lines. Same profile (folded or not), same
/// errors with the same line numbers, plus [`Error::Io`] for a read that
/// fails.
///
/// ```
/// use stackconv_collapsed::folded;
/// let text = "main;work 3\nmain;idle 1\nmain;work 2\n";
/// let p = folded::read_from(text.as_bytes(), true)?;
/// assert_eq!(p.samples().len(), 2);
/// assert_eq!(p.total(0), 6);
/// # Ok::<(), stackconv_collapsed::Error>(())
/// ```
///
/// # Errors
///
/// As [`read`], and [`Error::Io`] or [`Error::LineTooLong`].
pub fn read_from(input: impl io::BufRead, fold: bool) -> Result<Profile, Error> {
    read_lines(
        stream_lines(input, FORMAT),
        FoldedBuilder::new(FORMAT, 1).folding(fold),
    )
}

fn read_lines<'a>(
    lines: impl Iterator<Item = Result<Line<'a>, Error>>,
    mut b: FoldedBuilder,
) -> Result<Profile, Error> {
    for line in lines {
        let line = line?;
        if line.text.trim().is_empty() {
            continue;
        }
        let (stack, count) = split_count_allow_empty(&line.text, FORMAT, line.number)?;
        b.push(stack, &[count], line.number, intern_frame)?;
    }
    Ok(b.finish())
}

/// Read differential folded text, `frame;frame;... before after` lines (as
/// `inferno-diff-folded` and `difffolded.pl` write them), into the
/// profiles before and after. Each has one `samples`/`count` column.
///
/// ```
/// use stackconv_collapsed::folded;
/// let (before, after) = folded::read_diff(b"main;a 3 5\nmain;b 2 0\n")?;
/// assert_eq!((before.total(0), after.total(0)), (5, 5));
/// # Ok::<(), stackconv_collapsed::Error>(())
/// ```
///
/// # Errors
///
/// As [`read`], and [`Error::MissingDiffCount`] for a line without two
/// counts.
pub fn read_diff(input: &[u8]) -> Result<(Profile, Profile), Error> {
    let mut before = FoldedBuilder::new(FORMAT, 1);
    let mut after = FoldedBuilder::new(FORMAT, 1);
    for line in lines(input, FORMAT) {
        let line = line?;
        if line.text.trim().is_empty() {
            continue;
        }
        let (rest, count_after) = split_count_allow_empty(&line.text, FORMAT, line.number)?;
        let (stack, count_before) = rest
            .rsplit_once(' ')
            .ok_or(Error::MissingDiffCount { line: line.number })?;
        let count_before = parse_count(count_before, FORMAT, line.number)?;
        before.push(stack, &[count_before], line.number, intern_frame)?;
        after.push(stack, &[count_after], line.number, intern_frame)?;
    }
    Ok((before.finish(), after.finish()))
}

/// Whether `input` looks like folded text: its first kilobytes are
/// non-empty lines of `frames count`. Returns false for py-spy raw output
/// (which is folded too, but [`crate::pyspy::looks_like`] claims it) and
/// for `perf script` text.
///
/// ```
/// use stackconv_collapsed::folded;
/// assert!(folded::looks_like(b"main;work 3\n"));
/// assert!(!folded::looks_like(b"main;work\n"));
/// ```
pub fn looks_like(input: &[u8]) -> bool {
    crate::stack_lines::folded_shape(input, false) && !crate::pyspy::looks_like(input)
}

/// Intern a folded frame, its kind guessed from its text.
fn intern_frame(p: &mut Profile, name: &str) -> FrameId {
    p.intern_frame_named(name, frame_kind(name))
}

/// Guess a folded frame's kind from its text.
fn frame_kind(name: &str) -> FrameKind {
    use stackconv_model::naming::{INLINE_ANNOTATION, JIT_ANNOTATION, KERNEL_ANNOTATION};
    if name.ends_with(KERNEL_ANNOTATION) {
        FrameKind::Kernel
    } else if name.ends_with(JIT_ANNOTATION) {
        FrameKind::Jit
    } else if name.ends_with(INLINE_ANNOTATION) {
        FrameKind::Inline
    } else if stackconv_model::naming::is_python_perf_symbol(name)
        || crate::pyspy::is_python_frame(name)
    {
        FrameKind::Python
    } else if name == "[unknown]" {
        FrameKind::Unknown
    } else {
        FrameKind::Native
    }
}

/// Which root frame [`write()`] puts above each stack.
#[derive(Default, Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum RootFrame {
    /// The thread's comm when the profile's `meta.comm_root` says so (perf
    /// sources, as inferno-collapse-perf), else none.
    #[default]
    Auto,
    /// No root frame: the stacks as they are.
    None,
    /// The thread's comm (its name; spaces become `_`, as inferno does).
    Comm,
    /// `comm-pid` (inferno-collapse-perf `--pid`); `?` for an unknown pid.
    CommPid,
    /// `comm-pid/tid` (inferno-collapse-perf `--tid`); `?` for unknown ids.
    CommPidTid,
}

/// Options of [`write()`].
#[non_exhaustive]
#[derive(Default, Clone, Debug)]
pub struct WriteOptions {
    /// The root frame of each stack.
    pub root: RootFrame,
    /// Annotate frames as inferno-collapse-perf `--all` does: kernel frames
    /// end in `_[k]`, JIT frames and perf-map Python frames (Python frames
    /// with a module) in `_[j]`; inlined frames stay plain.
    pub annotate: bool,
    /// The value column to write; `None` means the profile's
    /// `meta.default_value`.
    pub value: Option<usize>,
}

/// Write `p` as folded text, exactly as inferno-collapse-perf writes its
/// output: one line per distinct stack, `frame;frame;... weight`, sorted by
/// the stack text in byte order, equal stacks merged (across threads too,
/// once the root frame is chosen), lines of weight 0 skipped.
///
/// A sample without frames writes nothing, as inferno-collapse-perf does
/// for an event without stack lines (its weight is not in the output).
///
/// # Errors
///
/// An [`io::ErrorKind::InvalidInput`] error when the chosen value column
/// does not exist, and any error of `out`.
pub fn write(p: &Profile, opts: &WriteOptions, out: impl io::Write) -> io::Result<()> {
    // A profile without value columns (a pprof message with no sample
    // types) has no weight to write; a column asked for by number must
    // exist.
    if opts.value.is_none() && p.samples().values().is_empty() {
        return Ok(());
    }
    let column = opts.value.unwrap_or(p.meta().default_value);
    let values = p.samples().values().get(column).ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "folded: no value column {column} (the profile has {})",
                p.samples().values().len()
            ),
        )
    })?;
    checked_total(p, column)?;
    let root = resolve_root(p, opts.root);
    // Fold by (stack, thread) first, unless the samples are folded: that
    // is cheap, and names are built once per distinct pair.
    let samples = p
        .samples()
        .stacks()
        .iter()
        .zip(p.samples().threads())
        .zip(values)
        .filter_map(|((&stack, &thread), &v)| Some(((stack?, thread), v)));
    let mut pairs: Vec<((StackId, ThreadId), i64)> = if p.samples().is_folded() {
        samples.collect()
    } else {
        let mut by_pair: FxHashMap<(StackId, ThreadId), i64> = FxHashMap::default();
        for (pair, v) in samples {
            let e = by_pair.entry(pair).or_insert(0);
            *e = e.saturating_add(v);
        }
        by_pair.into_iter().collect()
    };
    // Names by frame index and root texts by thread, each made once.
    let frames: Vec<FrameId> = p.frames().iter().map(|(f, _)| f).collect();
    let names: Vec<String> = frames
        .par_iter()
        .map(|&f| frame_text(p, f, opts.annotate))
        .collect();
    let roots: FxHashMap<ThreadId, Option<String>> = p
        .threads()
        .iter()
        .map(|(t, _)| (t, root_text(p, t, root)))
        .collect();
    // In stack order: the stacks' nodes are then walked in about the
    // order they lie in the table (the nodes of a table built from sorted
    // paths are numbered depth first), not all over it: half the time.
    pairs.par_sort_unstable_by_key(|&((stack, _), _)| stack);
    let mut w = io::BufWriter::with_capacity(256 * 1024, out);
    let texts = Texts::new(&names, &roots);
    match LineOrder::new(&texts.distinct) {
        Some(order) => write_by_keys(p, &pairs, &texts, &order, &mut w)?,
        None => write_by_text(p, &pairs, &names, &roots, &mut w)?,
    }
    w.flush()
}

/// The distinct texts of a profile's frames and root frames, and the text
/// of each.
struct Texts<'a> {
    distinct: Vec<&'a str>,
    /// Per frame index.
    of_frame: Vec<u32>,
    /// Per thread with a root frame.
    of_root: FxHashMap<ThreadId, u32>,
}

impl<'a> Texts<'a> {
    fn new(names: &'a [String], roots: &'a FxHashMap<ThreadId, Option<String>>) -> Texts<'a> {
        let mut ids: FxHashMap<&str, u32> = FxHashMap::default();
        let mut distinct = Vec::new();
        let mut id = |s: &'a str| {
            *ids.entry(s).or_insert_with(|| {
                distinct.push(s);
                (distinct.len() - 1) as u32
            })
        };
        let of_frame = names.iter().map(|n| id(n)).collect();
        let of_root = roots
            .iter()
            .filter_map(|(&t, r)| Some((t, id(r.as_deref()?))))
            .collect();
        Texts {
            distinct,
            of_frame,
            of_root,
        }
    }
}

/// The lines of `pairs`, sorted as their texts and equal texts merged,
/// sorted by their keys in `order` ([`LineOrder`]): the keys are a sixth
/// of the texts' size, and the text is made only to be written.
fn write_by_keys(
    p: &Profile,
    pairs: &[((StackId, ThreadId), i64)],
    texts: &Texts<'_>,
    order: &LineOrder,
    w: &mut impl Write,
) -> io::Result<()> {
    let sorted = SortedLines::new(p, pairs, |stack, thread, keys| {
        let root = texts.of_root.get(&thread).copied();
        let frames = p
            .stacks()
            .frames_leaf_first(stack)
            .map(|f| texts.of_frame.get(f.index()).copied().unwrap_or(0));
        order.push_key(keys, frames, root);
    });
    sorted.write_merged(w, |key, text| order.write_line(key, text))
}

/// The lines of `pairs`, sorted as their texts and equal texts merged,
/// sorted by their texts. For texts [`LineOrder`] cannot order.
fn write_by_text(
    p: &Profile,
    pairs: &[((StackId, ThreadId), i64)],
    names: &[String],
    roots: &FxHashMap<ThreadId, Option<String>>,
    w: &mut impl Write,
) -> io::Result<()> {
    let sorted = SortedLines::new(p, pairs, |stack, thread, text| {
        let root = roots.get(&thread).and_then(Option::as_ref);
        let mut first = root.is_none();
        if let Some(r) = root {
            text.extend_from_slice(r.as_bytes());
        }
        let frames: Vec<FrameId> = p.stacks().frames_leaf_first(stack).collect();
        for f in frames.into_iter().rev() {
            if !first {
                text.push(b';');
            }
            first = false;
            if let Some(name) = names.get(f.index()) {
                text.extend_from_slice(name.as_bytes());
            }
        }
    });
    sorted.write_merged(w, |line, text| text.extend_from_slice(line))
}

/// A byte string per (stack, thread) pair that sorts and compares as its
/// line does (the text, or its key), sorted.
struct SortedLines {
    /// The strings of each part of the pairs, one after the other.
    parts: Vec<Vec<u8>>,
    /// Every pair's string, sorted.
    rows: Vec<LineRow>,
}

impl SortedLines {
    /// The pairs' strings, `make(stack, thread, out)` appending each to
    /// `out`, made in parts on all cores, and sorted.
    fn new(
        p: &Profile,
        pairs: &[((StackId, ThreadId), i64)],
        make: impl Fn(StackId, ThreadId, &mut Vec<u8>) + Sync,
    ) -> SortedLines {
        let part = pairs
            .len()
            .div_ceil(4 * rayon::current_num_threads())
            .max(4096);
        let (parts, rows): (Vec<Vec<u8>>, Vec<Vec<LineRow>>) = pairs
            .par_chunks(part)
            .enumerate()
            .map(|(n, pairs)| {
                let mut bytes: Vec<u8> = Vec::new();
                let mut rows = Vec::with_capacity(pairs.len());
                let nodes = p.stacks().nodes();
                for (i, &((stack, thread), v)) in pairs.iter().enumerate() {
                    // The pairs' stacks lie all over the stack table: a
                    // coming pair's leaf and the nodes below it (a stack's
                    // nodes are numbered in a run) are asked for ahead.
                    if let Some(&((leaf, _), _)) = pairs.get(i + PREFETCH_PAIRS) {
                        prefetch_stack(nodes, leaf);
                    }
                    let start = bytes.len();
                    make(stack, thread, &mut bytes);
                    rows.push((n as u32, start, bytes.len(), v));
                }
                (bytes, rows)
            })
            .unzip();
        let mut sorted = SortedLines {
            parts,
            rows: rows.concat(),
        };
        let SortedLines { parts, rows } = &mut sorted;
        let bytes = |r: &LineRow| {
            parts
                .get(r.0 as usize)
                .and_then(|b| b.get(r.1..r.2))
                .unwrap_or_default()
        };
        rows.par_sort_unstable_by(|a, b| bytes(a).cmp(bytes(b)));
        sorted
    }

    /// The string of row `i`.
    fn bytes(&self, i: usize) -> &[u8] {
        self.rows
            .get(i)
            .and_then(|r| self.parts.get(r.0 as usize)?.get(r.1..r.2))
            .unwrap_or_default()
    }

    /// Write each distinct string, in order, with the summed weight of its
    /// rows (those of weight 0 left out): `render(string, out)` appends its
    /// text, then the weight follows. Written in rounds of blocks of lines
    /// rendered on all cores ([`write_in_rounds`]).
    fn write_merged(
        &self,
        w: &mut impl Write,
        render: impl Fn(&[u8], &mut Vec<u8>) + Sync,
    ) -> io::Result<()> {
        write_in_rounds(w, self.rows.len(), LINES_PER_BLOCK, |rows, text| {
            self.render_lines(rows, &render, text);
            Ok(())
        })
    }

    /// Append the lines whose first row is in `rows` to `out`: a line is
    /// the first of a run of equal strings, its weight the run's (which
    /// may go on past `rows`); a run begun before `rows` was written by
    /// whoever had its first row.
    fn render_lines(
        &self,
        rows: std::ops::Range<usize>,
        render: impl Fn(&[u8], &mut Vec<u8>),
        out: &mut Vec<u8>,
    ) {
        let mut i = rows.start;
        if i > 0 {
            let before = self.bytes(i - 1);
            while i < rows.end && self.bytes(i) == before {
                i += 1;
            }
        }
        let mut n = itoa::Buffer::new();
        while i < rows.end.min(self.rows.len()) {
            let line = self.bytes(i);
            let mut v = self.rows.get(i).map_or(0, |r| r.3);
            i += 1;
            while i < self.rows.len() && self.bytes(i) == line {
                v = v.saturating_add(self.rows.get(i).map_or(0, |r| r.3));
                i += 1;
            }
            if v != 0 {
                render(line, out);
                out.push(b' ');
                out.extend_from_slice(n.format(v).as_bytes());
                out.push(b'\n');
            }
        }
    }
}

/// Lines of text rendered as one block.
const LINES_PER_BLOCK: usize = 4096;

/// A folded line being written: the part of the text it is in, its start
/// and end there, and its weight.
type LineRow = (u32, usize, usize, i64);

/// How many pairs ahead a stack's nodes are asked for.
const PREFETCH_PAIRS: usize = 8;

/// The total of value column `column` of `p`, checked: an
/// [`io::ErrorKind::InvalidData`] error when its weights add up to more
/// than 2^63-1 (a folded line could not hold their sum). Once this holds,
/// no sum of some of them (a line's, a subtree's) overflows, so the writers'
/// sums below never saturate.
///
/// # Errors
///
/// As said, naming the column.
pub fn checked_total(p: &Profile, column: usize) -> io::Result<i64> {
    p.checked_total(column).ok_or_else(|| {
        let name = p
            .value_types()
            .get(column)
            .map_or_else(|| column.to_string(), |vt| vt.kind.clone());
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!("folded: the total {name} weight overflows 64 bits"),
        )
    })
}

/// `root` with [`RootFrame::Auto`] decided for `p`.
pub(crate) fn resolve_root(p: &Profile, root: RootFrame) -> RootFrame {
    match root {
        RootFrame::Auto if p.meta().comm_root => RootFrame::Comm,
        RootFrame::Auto => RootFrame::None,
        r => r,
    }
}

/// The root frame text of `thread` for `root`: none for
/// [`RootFrame::None`], and for [`RootFrame::Comm`] when the thread has no
/// name.
pub(crate) fn root_text(p: &Profile, thread: ThreadId, root: RootFrame) -> Option<String> {
    if matches!(root, RootFrame::None | RootFrame::Auto) {
        return None;
    }
    let t = p.threads().get(thread);
    let comm = stackconv_model::naming::comm_root(p.str(t.thread_name), p.str(t.process_name));
    if comm.is_none() && root == RootFrame::Comm {
        return None;
    }
    let mut s = comm.unwrap_or_default();
    let id = |v: Option<u32>| v.map_or_else(|| "?".to_string(), |v| v.to_string());
    match root {
        RootFrame::CommPid => {
            s.push('-');
            s.push_str(&id(t.pid));
        }
        RootFrame::CommPidTid => {
            s.push('-');
            s.push_str(&id(t.pid));
            s.push('/');
            s.push_str(&id(t.tid));
        }
        _ => {}
    }
    Some(s)
}

/// Whether a frame name holds a character folded text cannot: `;` (the
/// frame separator) or a line break (the line separator).
fn needs_replacing(name: &str) -> bool {
    name.contains([';', '\n', '\r'])
}

/// `name` with `;` replaced by `:` (as stackcollapse-perf.pl does with
/// perf's names) and line breaks by spaces, so that the line reads back
/// as the frames written.
fn replace_separators(name: &str) -> String {
    name.chars()
        .map(|c| match c {
            ';' => ':',
            '\n' | '\r' => ' ',
            c => c,
        })
        .collect()
}

/// How many frames of `p` whose names folded output (and so the SVG)
/// writes changed: `;` as `:`, line breaks as spaces. Report it when it is
/// not 0.
///
/// ```
/// use stackconv_model::{FrameKind, Profile, ValueType};
/// let mut p = Profile::new(vec![ValueType::new("samples", "count")]);
/// p.intern_frame_named("a;b", FrameKind::Native);
/// p.intern_frame_named("ok", FrameKind::Native);
/// assert_eq!(stackconv_collapsed::folded::replaced_names(&p), 1);
/// ```
pub fn replaced_names(p: &Profile) -> usize {
    p.frames()
        .iter()
        .filter(|(_, frame)| needs_replacing(p.str(frame.name)))
        .count()
}

/// A frame's folded text, annotated as inferno `--all` when asked: the
/// one rule for how a frame is spelled in folded text (and so in the SVG).
///
/// ```
/// use stackconv_collapsed::folded::{frame_text, read};
///
/// let p = read(b"main;do_futex_[k] 1\n")?;
/// let futex = p.stack_frames(p.samples().stacks()[0])[1];
/// assert_eq!(frame_text(&p, futex, true), "do_futex_[k]");
/// # Ok::<(), stackconv_collapsed::Error>(())
/// ```
///
/// inferno decides by the module: `_[k]` when it is kernel code
/// ([`stackconv_model::naming::is_kernel_module`], so `[vdso]` frames too),
/// else `_[j]` for a perf map or jitted `.so`; we also honour the frame kind
/// (kernel; JIT; Python with a module, i.e. from a perf map). Inlined
/// frames stay plain, as perf script prints `(inlined)` in place of their
/// module.
pub fn frame_text(p: &Profile, f: FrameId, annotate: bool) -> String {
    use stackconv_model::naming::{
        is_jit_module, is_kernel_module, JIT_ANNOTATION, KERNEL_ANNOTATION,
    };
    let frame = p.frame(f);
    let mut name = p.str(frame.name).to_string();
    if needs_replacing(&name) {
        name = replace_separators(&name);
    }
    if !annotate || frame.kind == FrameKind::Inline {
        return name;
    }
    let module = p.str(frame.module);
    let kernel = frame.kind == FrameKind::Kernel || is_kernel_module(module);
    let jit = frame.kind == FrameKind::Jit
        || (frame.kind == FrameKind::Python && !module.is_empty())
        || is_jit_module(module);
    if kernel {
        if !name.ends_with(KERNEL_ANNOTATION) {
            name.push_str(KERNEL_ANNOTATION);
        }
    } else if jit && !name.contains(JIT_ANNOTATION) {
        name.push_str(JIT_ANNOTATION);
    }
    name
}
