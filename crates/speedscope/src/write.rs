//! The writer: a model profile to a speedscope file.

use std::io::{self, Write};
use std::ops::Range;

use rustc_hash::FxHashMap;

use serde::ser::{SerializeMap, SerializeSeq};
use serde::{Serialize, Serializer};
use stackconv_model::memory::prefetch_stack;
use stackconv_model::render::{write_in_rounds, Piece};
use stackconv_model::{FrameId, Profile, StackId, ThreadId};

use crate::error::Error;
use crate::SCHEMA_URL;

/// Options for [`write()`](crate::write()).
#[non_exhaustive]
#[derive(Clone, Debug, Default)]
pub struct WriteOptions {
    /// The file-level `name` speedscope shows in its title bar; `None`
    /// leaves it out (speedscope then shows the first profile's name).
    pub name: Option<String>,
    /// The value column whose values become the weights; `None` means the
    /// profile's [`Meta::default_value`](stackconv_model::Meta::default_value).
    pub value: Option<usize>,
}

/// A (stack, weight) entry of a speedscope profile.
type Row = (Option<StackId>, i64);

/// One speedscope profile to write: a thread and its (stack, weight) rows.
struct ThreadOut {
    name: String,
    rows: Vec<Row>,
}

/// Everything the serializer needs, computed before the first byte is
/// written so that errors leave no half-written output behind.
struct Plan<'a> {
    p: &'a Profile,
    unit: &'static str,
    /// Model frame index -> speedscope frame index.
    frame_map: Vec<Option<u32>>,
    /// The model frames written, in speedscope order.
    frames: Vec<FrameId>,
    threads: Vec<ThreadOut>,
    name: Option<&'a str>,
}

/// The speedscope unit for a model unit.
fn unit_name(unit: &str) -> &'static str {
    match unit {
        "nanoseconds" => "nanoseconds",
        "microseconds" => "microseconds",
        "milliseconds" => "milliseconds",
        "seconds" => "seconds",
        "bytes" => "bytes",
        _ => "none",
    }
}

/// A thread's profile name: `comm pid/tid`, or what part of it is known,
/// or `all` when the thread carries nothing.
pub(crate) fn thread_label(p: &Profile, t: ThreadId) -> String {
    let t = p.threads().get(t);
    let mut name = p.str(t.thread_name).to_string();
    if name.is_empty() {
        name = p.str(t.process_name).to_string();
    }
    let ids = match (t.pid, t.tid) {
        (Some(pid), Some(tid)) => format!("{pid}/{tid}"),
        (Some(pid), None) => pid.to_string(),
        (None, Some(tid)) => format!("tid {tid}"),
        (None, None) => String::new(),
    };
    match (name.is_empty(), ids.is_empty()) {
        (true, true) => "all".to_string(),
        (true, false) => ids,
        (false, true) => name,
        (false, false) => format!("{name} {ids}"),
    }
}

impl<'a> Plan<'a> {
    fn new(p: &'a Profile, opts: &'a WriteOptions) -> Result<Self, Error> {
        let column = opts.value.unwrap_or(p.meta().default_value);
        let no_such = Error::NoSuchValue {
            column,
            columns: p.value_types().len(),
        };
        let Some(vt) = p.value_types().get(column) else {
            return Err(no_such);
        };
        let Some(values) = p.samples().values().get(column) else {
            return Err(no_such);
        };

        // Sample order: by time within each thread when the profile has
        // times (a stable sort keeps input order for equal times), else
        // input order, folded below.
        let sorted: Option<Vec<usize>> = match p.samples().times() {
            Some(times) if !times.is_sorted() => {
                let mut order: Vec<usize> = (0..p.samples().len()).collect();
                order.sort_by_key(|&i| times.get(i).copied().unwrap_or(u64::MAX));
                Some(order)
            }
            _ => None,
        };
        let order: Box<dyn Iterator<Item = usize>> = match &sorted {
            Some(order) => Box::new(order.iter().copied()),
            None => Box::new(0..p.samples().len()),
        };

        // Which frames the samples' stacks use: a pass over the whole
        // stack table, made on another thread meanwhile when it is large
        // (or here, when no thread can be had).
        std::thread::scope(|scope| {
            let used = (p.stacks().len() >= PASS_ON_ANOTHER_THREAD)
                .then(|| {
                    std::thread::Builder::new()
                        .name("speedscope-frames".into())
                        .spawn_scoped(scope, || used_frames(p))
                        .ok()
                })
                .flatten();
            let rows = Self::rows(p, vt, values, order);
            let used = match used {
                Some(thread) => thread
                    .join()
                    .unwrap_or_else(|e| std::panic::resume_unwind(e)),
                None => used_frames(p),
            };
            Ok(Self::with_frames(p, opts, vt, rows?, &used))
        })
    }

    /// Each thread's rows, in `order` (equal stacks folded when the
    /// profile has no times).
    fn rows(
        p: &Profile,
        vt: &stackconv_model::ValueType,
        values: &[i64],
        order: Box<dyn Iterator<Item = usize> + '_>,
    ) -> Result<Vec<(ThreadId, Vec<Row>)>, Error> {
        let mut thread_slot: FxHashMap<ThreadId, usize> = FxHashMap::default();
        let mut threads: Vec<(ThreadId, Vec<Row>)> = Vec::new();
        // (thread slot, stack) -> row, for folding.
        let mut folded: FxHashMap<(usize, Option<StackId>), usize> = FxHashMap::default();
        for i in order {
            let (Some(&stack), Some(&thread)) =
                (p.samples().stacks().get(i), p.samples().threads().get(i))
            else {
                continue;
            };
            let value = values.get(i).copied().unwrap_or(0);
            if value < 0 {
                return Err(Error::NegativeValue {
                    sample: i,
                    column: vt.kind.clone(),
                    value,
                });
            }
            let slot = *thread_slot.entry(thread).or_insert_with(|| {
                threads.push((thread, Vec::new()));
                threads.len() - 1
            });
            let Some((_, rows)) = threads.get_mut(slot) else {
                continue;
            };
            if p.has_times() {
                rows.push((stack, value));
            } else {
                match folded.get(&(slot, stack)) {
                    Some(&row) => {
                        if let Some(r) = rows.get_mut(row) {
                            r.1 = r.1.saturating_add(value);
                        }
                    }
                    None => {
                        folded.insert((slot, stack), rows.len());
                        rows.push((stack, value));
                    }
                }
            }
        }
        Ok(threads)
    }

    /// The plan of `threads`' rows, with the frames `used` in
    /// `shared.frames`.
    fn with_frames(
        p: &'a Profile,
        opts: &'a WriteOptions,
        vt: &stackconv_model::ValueType,
        mut threads: Vec<(ThreadId, Vec<Row>)>,
        used_frames: &[bool],
    ) -> Self {
        let mut frame_map = vec![None; p.frames().len()];
        let mut frames = Vec::new();
        for (id, _) in p.frames().iter() {
            if used_frames.get(id.index()).copied().unwrap_or(false) {
                if let Some(slot) = frame_map.get_mut(id.index()) {
                    *slot = u32::try_from(frames.len()).ok();
                }
                frames.push(id);
            }
        }

        threads.sort_by_key(|(t, _)| *t);
        let mut threads: Vec<ThreadOut> = threads
            .into_iter()
            .map(|(t, rows)| ThreadOut {
                name: thread_label(p, t),
                rows,
            })
            .collect();
        if threads.is_empty() {
            // speedscope needs at least one profile to open a file.
            threads.push(ThreadOut {
                name: "all".to_string(),
                rows: Vec::new(),
            });
        }
        Plan {
            p,
            unit: unit_name(&vt.unit),
            frame_map,
            frames,
            threads,
            name: opts.name.as_deref(),
        }
    }
}

/// Stack tables of this many nodes or more have their used frames worked
/// out on another thread ([`used_frames`]).
const PASS_ON_ANOTHER_THREAD: usize = 1 << 16;

/// Which frames (by index) the stacks of `p`'s samples use. A used stack
/// uses its parents; parents have smaller ids than their children, so one
/// pass from the top marks every ancestor.
fn used_frames(p: &Profile) -> Vec<bool> {
    let mut used_stacks = vec![false; p.stacks().len()];
    for s in p.samples().stacks().iter().flatten() {
        if let Some(u) = used_stacks.get_mut(s.index()) {
            *u = true;
        }
    }
    let mut used_frames = vec![false; p.frames().len()];
    for (i, node) in p.stacks().nodes().iter().enumerate().rev() {
        if !used_stacks.get(i).copied().unwrap_or(false) {
            continue;
        }
        if let Some(u) = used_frames.get_mut(node.frame.index()) {
            *u = true;
        }
        if let Some(parent) = node.parent {
            if let Some(u) = used_stacks.get_mut(parent.index()) {
                *u = true;
            }
        }
    }
    used_frames
}

struct FramesOut<'a, 'p>(&'a Plan<'p>);

impl Serialize for FramesOut<'_, '_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let p = self.0.p;
        let mut seq = s.serialize_seq(Some(self.0.frames.len()))?;
        for &id in &self.0.frames {
            let f = p.frame(id);
            seq.serialize_element(&FrameOut {
                name: p.str(f.name),
                file: p.str(f.file),
                line: f.line,
            })?;
        }
        seq.end()
    }
}

struct FrameOut<'a> {
    name: &'a str,
    file: &'a str,
    line: u32,
}

impl Serialize for FrameOut<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(None)?;
        m.serialize_entry("name", self.name)?;
        if !self.file.is_empty() {
            m.serialize_entry("file", self.file)?;
        }
        if self.line != 0 {
            m.serialize_entry("line", &self.line)?;
        }
        m.end()
    }
}

/// How many rows ahead a stack's nodes are asked for.
const PREFETCH_ROWS: usize = 8;

/// Bytes of rendered arrays gathered before they go to the writer.
const FLUSH_AT: usize = 1 << 16;

/// `v` as compact JSON (strings escaped by serde_json).
fn json(w: &mut impl Write, v: &(impl Serialize + ?Sized)) -> io::Result<()> {
    serde_json::to_writer(w, v).map_err(io::Error::from)
}

impl Plan<'_> {
    /// Write the file as serde_json writes it compactly, members in the
    /// order speedscope's schema lists them. The names and frames go
    /// through serde_json; the stacks and weights, nearly all of the
    /// bytes, are integer arrays rendered here ([`Plan::write_stacks`]).
    fn write_json(&self, w: &mut impl Write) -> io::Result<()> {
        w.write_all(b"{\"$schema\":")?;
        json(w, SCHEMA_URL)?;
        w.write_all(b",\"exporter\":\"stackconv\"")?;
        if let Some(name) = self.name {
            w.write_all(b",\"name\":")?;
            json(w, name)?;
        }
        w.write_all(b",\"activeProfileIndex\":0,\"shared\":{\"frames\":")?;
        json(w, &FramesOut(self))?;
        w.write_all(b"},\"profiles\":[")?;
        for (i, t) in self.threads.iter().enumerate() {
            if i > 0 {
                w.write_all(b",")?;
            }
            // speedscope takes endValue - startValue as the profile's
            // total weight; the weights are consecutive, starting at 0.
            let total = t.rows.iter().fold(0i64, |a, &(_, v)| a.saturating_add(v));
            w.write_all(b"{\"type\":\"sampled\",\"name\":")?;
            json(w, &t.name)?;
            w.write_all(b",\"unit\":")?;
            json(w, self.unit)?;
            write!(w, ",\"startValue\":0,\"endValue\":{total},\"samples\":")?;
            self.write_stacks(&t.rows, w)?;
            w.write_all(b",\"weights\":")?;
            let mut text = Vec::with_capacity(FLUSH_AT);
            let mut n = itoa::Buffer::new();
            text.push(b'[');
            for (i, &(_, v)) in t.rows.iter().enumerate() {
                if i > 0 {
                    text.push(b',');
                }
                text.extend_from_slice(n.format(v).as_bytes());
                if text.len() >= FLUSH_AT {
                    w.write_all(&text)?;
                    text.clear();
                }
            }
            text.extend_from_slice(b"]}");
            w.write_all(&text)?;
        }
        w.write_all(b"]}")
    }

    /// The `samples` array of `rows`: each row's stack as its frames'
    /// indices in `shared.frames`, root first. The walks up the stacks
    /// wait on memory (rows in time order reach stacks all over the
    /// table): blocks of rows are rendered on all cores
    /// ([`write_in_rounds`]).
    fn write_stacks(&self, rows: &[Row], w: &mut impl Write) -> io::Result<()> {
        // Each written frame's index followed by a comma, made once.
        let mut n = itoa::Buffer::new();
        let texts: Vec<Option<Piece>> = self
            .frame_map
            .iter()
            .map(|index| Some(Piece::new(&[n.format((*index)?).as_bytes(), b","].concat())))
            .collect();
        w.write_all(b"[")?;
        write_in_rounds(w, rows.len(), ROWS_PER_BLOCK, |range, text| {
            self.render_stacks(rows, range, &texts, text)
        })?;
        w.write_all(b"]")
    }

    /// The array elements of the stacks of `rows[range]`, each after a
    /// comma but the very first; `texts` holds, by model frame, its
    /// index's text followed by a comma (`None` for a frame not in
    /// `shared.frames`).
    fn render_stacks(
        &self,
        rows: &[Row],
        range: Range<usize>,
        texts: &[Option<Piece>],
        text: &mut Vec<u8>,
    ) -> io::Result<()> {
        let stacks = self.p.stacks();
        let nodes = stacks.nodes();
        let mut frames: Vec<&Piece> = Vec::new();
        for i in range {
            // A coming row's nodes are asked for ahead.
            if let Some(&(Some(leaf), _)) = rows.get(i + PREFETCH_ROWS) {
                prefetch_stack(nodes, leaf);
            }
            frames.clear();
            if let Some(&(Some(stack), _)) = rows.get(i) {
                for f in stacks.frames_leaf_first(stack) {
                    match texts.get(f.index()) {
                        Some(Some(t)) => frames.push(t),
                        _ => return Err(io::Error::other("frame missing from shared.frames")),
                    }
                }
            }
            if i > 0 {
                text.push(b',');
            }
            text.push(b'[');
            for piece in frames.iter().rev() {
                piece.append_to(text);
            }
            if !frames.is_empty() {
                // The last index's comma.
                text.pop();
            }
            text.push(b']');
        }
        Ok(())
    }
}

/// Rows of stacks rendered as one block.
const ROWS_PER_BLOCK: usize = 8192;

/// Write `p` as a speedscope file to `out`.
///
/// One sampled profile per thread (named `comm pid/tid`, or `all` for a
/// profile without thread information), weights from one value column:
/// `opts.value`, or else the profile's default column. The unit is the
/// column's when speedscope knows it (`nanoseconds`, `bytes`, ...) and
/// `none` otherwise (counts). When the samples carry timestamps each sample
/// is written in time order, so speedscope's time-order view shows the
/// recording as it happened; otherwise equal stacks of a thread are folded
/// into one entry, in order of first appearance. `shared.frames` holds each
/// model frame used once: its display name, and its file and line when
/// known. The output goes through a buffer; nothing is written when the
/// column is missing or a value is negative.
///
/// # Errors
///
/// [`Error::NoSuchValue`] when the column does not exist,
/// [`Error::NegativeValue`] when a sample's value in it is negative,
/// [`Error::Io`] when writing fails.
pub fn write(p: &Profile, opts: &WriteOptions, out: impl Write) -> Result<(), Error> {
    let plan = Plan::new(p, opts)?;
    let mut w = std::io::BufWriter::new(out);
    plan.write_json(&mut w)?;
    w.flush()?;
    Ok(())
}
