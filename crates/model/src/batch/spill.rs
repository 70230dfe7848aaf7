//! Distinct stacks past a memory budget, moved to a temporary file while a
//! profile is read for one flame graph, and merged back at the end.
//!
//! A reader that folds a recording for a flame graph keeps every distinct
//! path until the end: whether a node of the tree is drawn is known only
//! once every sample is in. When most stacks are distinct (a deep,
//! data-driven call tree) those paths are most of the reader's memory, and
//! they grow with the recording. [`StackBatch::spill_rows`] writes the
//! batch's paths and their rows to a temporary file as a chunk and empties
//! both. At the end [`StackBatch::intern_folded_spilled`] turns each chunk
//! into paths of frames, sorts it (as [`StackBatch::intern_samples`] sorts
//! all paths) and writes it back as a sorted run; the runs are then merged
//! in one pass through [`StreamCut`], which decides each row's cut as soon
//! as the weights of its nodes allow. In memory at any time: one chunk,
//! the runs' read buffers, the rows not decided yet (under one node lighter
//! than the minimum drawn weight), and the cut stacks.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};
use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom, Write};

use rustc_hash::FxHashMap;

use super::{code, cut_len, shared_frames, sort_paths, CutPlan, PathBuilder, PathId, StackBatch};
use crate::pruning::{min_drawn_weight, FlameGraphPruning};
use crate::tables::{FrameId, ThreadId};
use crate::Profile;

/// How a key of a path of keys ([`PathBuilder::push_key`]) is turned into
/// frames: it pushes them, root first (as [`StackBatch::expand`] asks).
pub type ExpandKey<'a> = dyn Fn(u32, &mut PathBuilder) + 'a;

/// Rows the merge hands the cut at a time.
const MERGE_BATCH: usize = 1 << 12;

/// Bytes a region of the file is read or written in at a time.
const BUFFER: usize = 1 << 16;

/// Rows of distinct paths moved out of memory to an unnamed temporary file
/// ([`StackBatch::spill_rows`]), to be merged back by
/// [`StackBatch::intern_folded_spilled`]. The file goes when this does.
///
/// ```
/// use stackconv_model::{FrameKind, Profile, SpilledRows, StackBatch, ValueType};
///
/// let mut p = Profile::new(vec![ValueType::new("samples", "count")]);
/// let t = p.intern_thread(Default::default());
/// let [main, f] = ["main", "f"].map(|n| p.intern_frame_named(n, FrameKind::Native));
/// let mut spilled = SpilledRows::new()?;
/// let mut batch = StackBatch::default();
/// let mut paths = vec![batch.add(&[main, f])];
/// p.push_sample(None, t, None, &[2]);
/// batch.spill_rows(&mut p, &mut paths, &mut spilled, false)?;
/// assert!(batch.is_empty() && p.samples().is_empty());
/// // Later rows of the same path are merged with the spilled ones.
/// paths.push(batch.add(&[main, f]));
/// p.push_sample(None, t, None, &[3]);
/// batch.intern_folded_spilled(&mut p, paths, spilled, None, None)?;
/// assert_eq!(p.samples().column(0), Some(&[5][..]));
/// assert_eq!(p.stack_names(p.samples().stacks()[0]), ["main", "f"]);
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug)]
pub struct SpilledRows {
    file: File,
    /// Bytes written so far: the next region starts here. A write that
    /// failed part way is written over by the next.
    len: u64,
    chunks: Vec<Chunk>,
}

/// A chunk of [`SpilledRows`]: where it lies, and whether its paths are of
/// keys (to be expanded into frames at the end) or of frames.
#[derive(Clone, Copy, Debug)]
struct Chunk {
    start: u64,
    end: u64,
    keys: bool,
}

impl SpilledRows {
    /// An empty spill in a new unnamed file of the temporary directory
    /// ([`std::env::temp_dir`], `TMPDIR` on Unix).
    ///
    /// # Errors
    ///
    /// When the file cannot be created.
    pub fn new() -> io::Result<Self> {
        Ok(SpilledRows {
            file: tempfile::tempfile()?,
            len: 0,
            chunks: Vec::new(),
        })
    }

    /// How many chunks were spilled.
    pub fn chunks(&self) -> usize {
        self.chunks.len()
    }

    /// How many bytes the file holds.
    pub fn bytes(&self) -> u64 {
        self.len
    }

    /// Write a region at the end of the file with `write`; its range.
    fn append(
        &mut self,
        write: impl FnOnce(&mut Writer<'_>) -> io::Result<()>,
    ) -> io::Result<(u64, u64)> {
        let start = self.len;
        (&self.file).seek(SeekFrom::Start(start))?;
        let mut w = Writer {
            out: io::BufWriter::with_capacity(BUFFER, &self.file),
            written: 0,
        };
        write(&mut w)?;
        w.out.flush()?;
        let end = start + w.written;
        self.len = end;
        Ok((start, end))
    }

    /// The bytes of a region, read whole.
    fn read_region(&self, start: u64, end: u64) -> io::Result<Vec<u8>> {
        let len = usize::try_from(end.saturating_sub(start))
            .map_err(|_| invalid("a chunk larger than memory"))?;
        let mut bytes = vec![0; len];
        (&self.file).seek(SeekFrom::Start(start))?;
        (&self.file).read_exact(&mut bytes)?;
        Ok(bytes)
    }
}

/// An error of a spill file that does not hold what was written to it.
fn invalid(what: &str) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!("temporary file of spilled stacks: {what}"),
    )
}

/// A writer counting the bytes it is given.
struct Writer<'f> {
    out: io::BufWriter<&'f File>,
    written: u64,
}

impl Writer<'_> {
    fn bytes(&mut self, b: &[u8]) -> io::Result<()> {
        self.out.write_all(b)?;
        self.written += b.len() as u64;
        Ok(())
    }

    fn u32(&mut self, v: u32) -> io::Result<()> {
        self.bytes(&v.to_le_bytes())
    }

    fn i64(&mut self, v: i64) -> io::Result<()> {
        self.bytes(&v.to_le_bytes())
    }

    fn len(&mut self, n: usize) -> io::Result<()> {
        self.u32(u32::try_from(n).map_err(|_| invalid("more than 2^32-1 items"))?)
    }
}

/// Reads the fields of a region held in memory, each checked against its
/// end.
struct Fields<'b> {
    bytes: &'b [u8],
    at: usize,
}

impl<'b> Fields<'b> {
    fn take(&mut self, n: usize) -> io::Result<&'b [u8]> {
        let end = self.at.checked_add(n).ok_or_else(|| invalid("a length"))?;
        let b = self
            .bytes
            .get(self.at..end)
            .ok_or_else(|| invalid("cut short"))?;
        self.at = end;
        Ok(b)
    }

    fn u32(&mut self) -> io::Result<u32> {
        let b = self.take(4)?;
        Ok(u32::from_le_bytes(
            b.try_into().map_err(|_| invalid("a field"))?,
        ))
    }

    fn i64(&mut self) -> io::Result<i64> {
        let b = self.take(8)?;
        Ok(i64::from_le_bytes(
            b.try_into().map_err(|_| invalid("a field"))?,
        ))
    }
}

/// The rows of a chunk: each one's path (an index into its chunk's
/// batch) and thread, and their values, row after row.
struct ChunkRows {
    rows: Vec<(u32, ThreadId)>,
    values: Vec<i64>,
    columns: usize,
}

impl ChunkRows {
    /// The values of row `i`.
    fn values(&self, i: usize) -> &[i64] {
        let start = i * self.columns;
        self.values
            .get(start..start + self.columns)
            .unwrap_or_default()
    }
}

impl StackBatch {
    /// The bytes the batch holds: its paths, their starts and its index
    /// (the memory a reader weighs against a budget before it spills).
    pub fn heap_bytes(&self) -> usize {
        self.bytes.len() + self.starts.len() * 8 + self.index.capacity() * 8
    }

    /// Move the batch's paths and `profile`'s sample rows (row `i` of path
    /// `paths[i]`; rows of one path and thread, here or in other chunks,
    /// are merged at the end) to `to`, as a chunk, and
    /// empty the batch, `paths` and the samples; `keys`: the paths are of
    /// keys ([`PathBuilder::push_key`]), to be expanded at the end. On an
    /// error nothing is moved (the chunk is written over by the next).
    ///
    /// # Errors
    ///
    /// When the file cannot be written, or the rows are not those of a
    /// folding reader (with times or labels, or not one per path).
    pub fn spill_rows(
        &mut self,
        profile: &mut Profile,
        paths: &mut Vec<PathId>,
        to: &mut SpilledRows,
        keys: bool,
    ) -> io::Result<()> {
        let samples = &profile.samples;
        if samples.times.is_some() || samples.labels.is_some() || samples.len() != paths.len() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "only rows without times or labels, one per path, are spilled",
            ));
        }
        let columns = samples.values.len();
        // The paths' lengths, then their bytes as they lie in the batch,
        // then the rows.
        let (start, end) = to.append(|w| {
            w.len(columns)?;
            w.len(self.starts.len())?;
            w.len(self.bytes.len())?;
            for id in 0..self.starts.len() as u32 {
                w.len(self.path(id).len())?;
            }
            w.bytes(&self.bytes)?;
            w.len(paths.len())?;
            for (row, (path, thread)) in paths.iter().zip(&samples.threads).enumerate() {
                w.u32(path.0)?;
                w.u32(thread.index() as u32)?;
                for column in &samples.values {
                    w.i64(column.get(row).copied().unwrap_or(0))?;
                }
            }
            Ok(())
        })?;
        to.chunks.push(Chunk { start, end, keys });
        self.bytes.clear();
        self.starts.clear();
        self.index.clear();
        paths.clear();
        let samples = &mut profile.samples;
        samples.stacks.clear();
        samples.threads.clear();
        samples.values.iter_mut().for_each(Vec::clear);
        samples.folded = false;
        Ok(())
    }

    /// [`Self::intern_folded_samples`] of the rows of `spilled` and those
    /// in memory (the batch, `paths` and `profile`'s samples, whose paths
    /// are of frames): the chunks' paths of keys are expanded with
    /// `expand` ([`Self::expand`]; `None`: the chunks' paths are frames
    /// already). With `pruning`, each chunk is sorted into a run and the
    /// runs are merged through the cut, the rows cut alike merged (the
    /// graph is that of the rows interned in memory); without, or when its
    /// keys say nothing may be cut, every row is read back and interned as
    /// in memory; so too, with a warning in the profile's meta, when the
    /// file takes no more (the rows in memory or a run cannot be written:
    /// a full disk). Returns whether stacks were cut.
    ///
    /// # Errors
    ///
    /// When the file cannot be read back, or does not hold what was
    /// written.
    pub fn intern_folded_spilled(
        mut self,
        profile: &mut Profile,
        mut paths: Vec<PathId>,
        mut spilled: SpilledRows,
        expand: Option<&ExpandKey<'_>>,
        pruning: Option<&FlameGraphPruning>,
    ) -> io::Result<bool> {
        if spilled.chunks.is_empty() {
            return Ok(self.intern_folded_samples(profile, paths, pruning));
        }
        // The rows in memory are the last chunk: every row is then read
        // one way. When the file takes no more (a full disk), they stay,
        // and the rest is read back beside them.
        if let Err(e) = self.spill_rows(profile, &mut paths, &mut spilled, false) {
            profile.meta_mut().warnings.push(format!(
                "the last distinct stacks could not be moved to the temporary file ({e}); every stack was read back into memory"
            ));
            // The rows kept, taken out (the columns stay), to come after
            // those read back.
            let samples = &mut profile.samples;
            samples.stacks.clear();
            let threads = std::mem::take(&mut samples.threads);
            let values: Vec<Vec<i64>> = samples.values.iter_mut().map(std::mem::take).collect();
            let (mut batch, mut all) = spilled.read_back(profile, expand)?;
            let mut row_values = Vec::with_capacity(values.len());
            for (row, (path, &thread)) in paths.iter().zip(&threads).enumerate() {
                all.push(batch.add_encoded(self.path(path.0)));
                row_values.clear();
                row_values.extend(values.iter().map(|c| c.get(row).copied().unwrap_or(0)));
                profile.push_sample(None, thread, None, &row_values);
            }
            return Ok(batch.intern_folded_samples(profile, all, pruning));
        }
        drop(self);
        if let Some(plan) = pruning.and_then(|pr| CutPlan::new(pr, profile)) {
            // A run that cannot be written (a full disk) or read leaves the
            // profile as it was: every row is then read back instead.
            match spilled.cut(profile, expand, &plan) {
                Ok(true) => return Ok(true),
                Ok(false) => {}
                Err(e) => profile.meta_mut().warnings.push(format!(
                    "the distinct stacks moved to a temporary file could not be sorted there ({e}); they were read back into memory"
                )),
            }
        }
        let (batch, paths) = spilled.read_back(profile, expand)?;
        Ok(batch.intern_folded_samples(profile, paths, pruning))
    }
}

impl SpilledRows {
    /// Chunk `c`: its paths (expanded into frames when they are keys) and
    /// its rows.
    fn read_chunk(
        &self,
        c: Chunk,
        profile: &Profile,
        expand: Option<&ExpandKey<'_>>,
    ) -> io::Result<(StackBatch, ChunkRows)> {
        let (batch, mut rows) = self.parse_chunk(c, profile)?;
        let Some(expand) = expand.filter(|_| c.keys) else {
            return Ok((batch, rows));
        };
        let (frames, ids) = batch.expand(expand);
        for (path, _) in &mut rows.rows {
            *path = ids.get(*path as usize).map_or(0, |id| id.0);
        }
        Ok((frames, rows))
    }

    /// Chunk `c` as a flame graph tells its paths apart: each path's
    /// frames (expanded from its keys, each key's once) replaced by those
    /// drawn alike, `reps` (paths that become equal are not merged: the
    /// sort brings them together), and its rows.
    fn read_chunk_drawn(
        &self,
        c: Chunk,
        profile: &Profile,
        expand: Option<&ExpandKey<'_>>,
        reps: &[FrameId],
        codes: &mut RepCodes,
    ) -> io::Result<(StackBatch, ChunkRows)> {
        let (mut chunk, rows) = self.parse_chunk(c, profile)?;
        let Some(expand) = expand.filter(|_| c.keys) else {
            if reps.iter().enumerate().any(|(i, r)| r.index() != i) {
                chunk.replace_frames(reps);
            }
            return Ok((chunk, rows));
        };
        let mut out = StackBatch::default();
        out.bytes.reserve(chunk.bytes.len());
        out.starts.reserve(chunk.starts.len());
        for id in 0..chunk.starts.len() as u32 {
            out.starts.push(out.bytes.len());
            for (key, _) in code::frames(chunk.path(id)) {
                out.bytes.extend_from_slice(codes.code(key, expand, reps));
            }
        }
        Ok((out, rows))
    }

    /// The paths and rows of chunk `c`, as written.
    fn parse_chunk(&self, c: Chunk, profile: &Profile) -> io::Result<(StackBatch, ChunkRows)> {
        let head = self.read_region(c.start, c.start.saturating_add(12).min(c.end))?;
        let mut f = Fields {
            bytes: &head,
            at: 0,
        };
        let columns = f.u32()? as usize;
        let n_paths = f.u32()? as usize;
        let n_bytes = f.u32()? as usize;
        if columns != profile.samples.values.len() {
            return Err(invalid("a chunk of other columns"));
        }
        let lens_at = c.start + 12;
        let bytes_at = lens_at + 4 * n_paths as u64;
        let rows_at = bytes_at + n_bytes as u64;
        if rows_at > c.end {
            return Err(invalid("a chunk cut short"));
        }
        let lens = self.read_region(lens_at, bytes_at)?;
        // The paths' bytes as they were in the batch: read in place.
        let mut batch = StackBatch {
            bytes: self.read_region(bytes_at, rows_at)?,
            ..StackBatch::default()
        };
        batch.starts.reserve(n_paths);
        let mut at = 0usize;
        for len in lens.chunks_exact(4) {
            batch.starts.push(at);
            let len = <[u8; 4]>::try_from(len).map_or(0, u32::from_le_bytes);
            at = at.saturating_add(len as usize);
        }
        if at != n_bytes {
            return Err(invalid("paths of other lengths than their bytes"));
        }
        let rest = self.read_region(rows_at, c.end)?;
        let mut f = Fields {
            bytes: &rest,
            at: 0,
        };
        let n_rows = f.u32()? as usize;
        let row_bytes = 8 + 8 * columns;
        if rest.len() != 4 + n_rows.saturating_mul(row_bytes) {
            return Err(invalid("rows of another size"));
        }
        let mut rows = ChunkRows {
            rows: Vec::with_capacity(n_rows),
            values: Vec::with_capacity(n_rows * columns),
            columns,
        };
        for _ in 0..n_rows {
            let path = f.u32()?;
            let thread = f.u32()?;
            if path as usize >= n_paths || thread as usize >= profile.threads().len() {
                return Err(invalid("a row of no path or thread"));
            }
            rows.rows.push((path, ThreadId::from_index(thread)));
            for _ in 0..columns {
                rows.values.push(f.i64()?);
            }
        }
        Ok((batch, rows))
    }

    /// Every spilled row back in `profile`, in the order spilled (which is
    /// the order read), with the batch of their paths and each row's path.
    fn read_back(
        &self,
        profile: &mut Profile,
        expand: Option<&ExpandKey<'_>>,
    ) -> io::Result<(StackBatch, Vec<PathId>)> {
        let mut batch = StackBatch::default();
        let mut paths = Vec::new();
        for &c in &self.chunks {
            let (chunk, rows) = self.read_chunk(c, profile, expand)?;
            let ids: Vec<PathId> = (0..chunk.len() as u32)
                .map(|id| batch.add_encoded(chunk.path(id)))
                .collect();
            for (i, &(path, thread)) in rows.rows.iter().enumerate() {
                paths.push(ids.get(path as usize).copied().unwrap_or(PathId(0)));
                profile.push_sample(None, thread, None, rows.values(i));
            }
        }
        Ok((batch, paths))
    }

    /// Cut the spilled rows as [`StackBatch::intern_samples`] cuts rows in
    /// memory, into `profile`'s stack table and samples (rows cut alike
    /// merged). `false` when nothing may be cut (a negative weight, a
    /// thread without a root, a total past 2^64-1): nothing is changed.
    fn cut(
        &mut self,
        profile: &mut Profile,
        expand: Option<&ExpandKey<'_>>,
        plan: &CutPlan,
    ) -> io::Result<bool> {
        let mut codes = RepCodes::default();
        let mut runs = Vec::with_capacity(self.chunks.len());
        let mut drawn = 0u64;
        for c in self.chunks.clone() {
            let (batch, rows) =
                self.read_chunk_drawn(c, profile, expand, &plan.reps, &mut codes)?;
            let mut items = Vec::with_capacity(rows.rows.len());
            for (i, &(path, thread)) in rows.rows.iter().enumerate() {
                let value = rows.values(i).get(plan.column).copied().unwrap_or(0);
                let empty = batch.path(path).is_empty();
                let Some((group, _)) = plan.row(value, thread, empty, &mut drawn) else {
                    return Ok(false);
                };
                items.push((group, i as u32));
            }
            let path_of = |i: u32| {
                let path = rows.rows.get(i as usize).map_or(u32::MAX, |r| r.0);
                batch.path(path)
            };
            let order = sort_paths(items, path_of);
            // Each row's path after the bytes it shares with the one before
            // (sorted, neighbours share most of their frames).
            let (start, end) = self.append(|w| {
                let mut prev: &[u8] = &[];
                for &(_, group, i) in &order {
                    let Some(&(path, thread)) = rows.rows.get(i as usize) else {
                        continue;
                    };
                    let path = batch.path(path);
                    let shared = super::common_prefix(prev, path);
                    w.u32(group)?;
                    w.u32(thread.index() as u32)?;
                    w.len(shared)?;
                    w.len(path.len() - shared)?;
                    w.bytes(path.get(shared..).unwrap_or_default())?;
                    for &v in rows.values(i as usize) {
                        w.i64(v)?;
                    }
                    prev = path;
                }
                Ok(())
            })?;
            runs.push((start, end));
        }
        let min_weight = min_drawn_weight(drawn, plan.min_width_percent);
        let columns = profile.samples.values.len();

        // The runs merged, through the cut, into the cut paths and a row
        // per cut path and thread.
        let mut readers: Vec<RunReader<'_>> = runs
            .iter()
            .map(|&(start, end)| RunReader::new(&self.file, start, end, columns))
            .collect();
        let mut heap = BinaryHeap::new();
        for (run, r) in readers.iter_mut().enumerate() {
            let mut head = Head::empty(run);
            if r.next(&mut head)? {
                heap.push(Reverse(head));
            }
        }
        // This thread merges, another cuts: the rows go over in batches,
        // and come back to be filled again.
        let (send, rows) = std::sync::mpsc::sync_channel::<Vec<Head>>(4);
        let (give_back, given_back) = std::sync::mpsc::channel::<Vec<Head>>();
        let column = plan.column;
        let out = std::thread::scope(|scope| -> io::Result<CutRows> {
            let cutter = scope.spawn(move || {
                let mut out = CutRows::new(columns);
                let mut stream = StreamCut::new(min_weight);
                for mut batch in rows {
                    let mut done = Vec::with_capacity(batch.len());
                    for head in batch.drain(..) {
                        let weight = head.values.get(column).copied().unwrap_or(0);
                        let group = head.group;
                        stream.push(group, weight as u64, head, |h| &h.path, &mut |h, keep| {
                            out.add(&h, keep);
                            done.push(h);
                        });
                    }
                    // The merge may be done: then nothing is refilled.
                    let _ = give_back.send(done);
                }
                stream.finish(&mut |h, keep| out.add(&h, keep));
                out
            });
            let mut batch = Vec::with_capacity(MERGE_BATCH);
            let mut spare: Vec<Head> = Vec::new();
            while let Some(Reverse(head)) = heap.pop() {
                let run = head.run;
                if spare.is_empty() {
                    spare = given_back.try_recv().unwrap_or_default();
                }
                let mut next = spare.pop().unwrap_or_else(|| Head::empty(run));
                next.run = run;
                batch.push(head);
                if batch.len() == MERGE_BATCH {
                    let full = std::mem::replace(&mut batch, Vec::with_capacity(MERGE_BATCH));
                    if send.send(full).is_err() {
                        // The cutting thread is gone: its join says why.
                        break;
                    }
                }
                if let Some(r) = readers.get_mut(run) {
                    if r.next(&mut next)? {
                        heap.push(Reverse(next));
                    }
                }
            }
            if !batch.is_empty() {
                let _ = send.send(batch);
            }
            drop(send);
            cutter
                .join()
                .map_err(|_| io::Error::other("the thread cutting the merged runs panicked"))
        })?;
        out.intern_into(profile);
        Ok(true)
    }
}

/// The code of each key's frames as a flame graph tells them apart
/// ([`SpilledRows::read_chunk_drawn`]), made once.
#[derive(Default)]
struct RepCodes {
    /// By key: where its code lies in `bytes`, start and end (0, 0: not
    /// made yet, or no frames).
    spans: Vec<(u32, u32)>,
    bytes: Vec<u8>,
    scratch: PathBuilder,
}

impl RepCodes {
    /// The code of key `key`'s frames (by `expand`), each frame replaced
    /// by its representative in `reps`.
    fn code(&mut self, key: u32, expand: &ExpandKey, reps: &[FrameId]) -> &[u8] {
        let i = key as usize;
        if self.spans.len() <= i {
            self.spans.resize(i + 1, (0, 0));
        }
        let (start, end) = self.spans.get(i).copied().unwrap_or_default();
        if end > start {
            return self
                .bytes
                .get(start as usize..end as usize)
                .unwrap_or_default();
        }
        self.scratch.clear();
        expand(key, &mut self.scratch);
        let start = self.bytes.len();
        for (f, _) in code::frames(&self.scratch.bytes) {
            let r = reps.get(f as usize).map_or(f, |r| r.index() as u32);
            code::push(&mut self.bytes, r.min(f));
        }
        let end = self.bytes.len();
        // Past 4 GiB of codes (never): made again each time.
        if let (Ok(s), Ok(e), Some(slot)) = (
            u32::try_from(start),
            u32::try_from(end),
            self.spans.get_mut(i),
        ) {
            *slot = (s, e);
        }
        self.bytes.get(start..end).unwrap_or_default()
    }
}

/// A row of a sorted run, as the merge holds it: ordered by group, path
/// and run.
struct Head {
    group: u32,
    path: Vec<u8>,
    run: usize,
    thread: u32,
    values: Vec<i64>,
}

impl Head {
    fn empty(run: usize) -> Self {
        Head {
            group: 0,
            path: Vec::new(),
            run,
            thread: 0,
            values: Vec::new(),
        }
    }
}

impl PartialEq for Head {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other).is_eq()
    }
}

impl Eq for Head {}

impl PartialOrd for Head {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Head {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (self.group, &self.path, self.run).cmp(&(other.group, &other.path, other.run))
    }
}

/// Reads the rows of a sorted run, a buffer at a time.
struct RunReader<'f> {
    file: &'f File,
    /// Where the next read of the file starts, and where the run ends.
    next: u64,
    end: u64,
    buf: Vec<u8>,
    at: usize,
    columns: usize,
    /// The path of the row read last.
    prev: Vec<u8>,
}

impl<'f> RunReader<'f> {
    fn new(file: &'f File, start: u64, end: u64, columns: usize) -> Self {
        RunReader {
            file,
            next: start,
            end,
            buf: Vec::new(),
            at: 0,
            columns,
            prev: Vec::new(),
        }
    }

    /// At least `n` bytes at `buf[at..]`, reading more of the run.
    fn fill(&mut self, n: usize) -> io::Result<()> {
        let have = self.buf.len() - self.at;
        if have >= n {
            return Ok(());
        }
        self.buf.drain(..self.at);
        self.at = 0;
        let left = self.end.saturating_sub(self.next);
        let want = (n - have).max(BUFFER) as u64;
        let read = usize::try_from(want.min(left)).map_err(|_| invalid("a length"))?;
        if have + read < n {
            return Err(invalid("a run cut short"));
        }
        let old = self.buf.len();
        self.buf.resize(old + read, 0);
        self.file.seek(SeekFrom::Start(self.next))?;
        self.file
            .read_exact(self.buf.get_mut(old..).unwrap_or_default())?;
        self.next += read as u64;
        Ok(())
    }

    fn take(&mut self, n: usize) -> io::Result<&[u8]> {
        self.fill(n)?;
        let b = self.buf.get(self.at..self.at + n).unwrap_or_default();
        self.at += n;
        Ok(b)
    }

    fn u32(&mut self) -> io::Result<u32> {
        let b = self.take(4)?;
        Ok(u32::from_le_bytes(
            b.try_into().map_err(|_| invalid("a field"))?,
        ))
    }

    /// The next row into `head`; `false` at the end of the run.
    fn next(&mut self, head: &mut Head) -> io::Result<bool> {
        if self.at == self.buf.len() && self.next >= self.end {
            return Ok(false);
        }
        head.group = self.u32()?;
        head.thread = self.u32()?;
        let shared = self.u32()? as usize;
        let len = self.u32()? as usize;
        if shared > self.prev.len() {
            return Err(invalid("a row sharing more than the row before"));
        }
        self.fill(len)?;
        let suffix = self.buf.get(self.at..self.at + len).unwrap_or_default();
        self.prev.truncate(shared);
        self.prev.extend_from_slice(suffix);
        self.at += len;
        head.path.clear();
        head.path.extend_from_slice(&self.prev);
        let columns = self.columns;
        let values = self.take(columns * 8)?;
        head.values.clear();
        head.values.extend(values.chunks_exact(8).map(|c| {
            let mut b = [0u8; 8];
            b.copy_from_slice(c);
            i64::from_le_bytes(b)
        }));
        Ok(true)
    }
}

/// The rows the cut gives: a row per cut path and thread, values summed.
struct CutRows {
    cut: StackBatch,
    /// The last cut path added, and its id: rows cut alike come together.
    last: Option<(Vec<u8>, PathId)>,
    rows: FxHashMap<(PathId, u32), usize>,
    paths: Vec<PathId>,
    threads: Vec<ThreadId>,
    values: Vec<Vec<i64>>,
}

impl CutRows {
    fn new(columns: usize) -> Self {
        CutRows {
            cut: StackBatch::default(),
            last: None,
            rows: FxHashMap::default(),
            paths: Vec::new(),
            threads: Vec::new(),
            values: vec![Vec::new(); columns],
        }
    }

    /// The row `h` with its path cut to its first `keep` frames.
    fn add(&mut self, h: &Head, keep: u32) {
        let bytes = h.path.get(..cut_len(&h.path, keep)).unwrap_or_default();
        let id = match &mut self.last {
            Some((b, id)) if b.as_slice() == bytes => *id,
            last => {
                let id = self.cut.add_encoded(bytes);
                let b = last.get_or_insert_with(|| (Vec::new(), id));
                b.0.clear();
                b.0.extend_from_slice(bytes);
                b.1 = id;
                id
            }
        };
        let next = self.paths.len();
        let row = *self.rows.entry((id, h.thread)).or_insert(next);
        if row == next {
            self.paths.push(id);
            self.threads.push(ThreadId::from_index(h.thread));
            for (column, &v) in self.values.iter_mut().zip(&h.values) {
                column.push(v);
            }
        } else {
            for (column, &v) in self.values.iter_mut().zip(&h.values) {
                if let Some(cell) = column.get_mut(row) {
                    *cell = cell.saturating_add(v);
                }
            }
        }
    }

    /// The cut paths interned into `profile`'s stack table, and the rows
    /// its samples.
    fn intern_into(self, profile: &mut Profile) {
        let stacks = self.cut.intern_into(profile.stacks_mut());
        let samples = &mut profile.samples;
        samples.stacks = self
            .paths
            .iter()
            .map(|p| stacks.get(p.index()).copied().flatten())
            .collect();
        samples.threads = self.threads;
        samples.values = self.values;
        samples.times = None;
        samples.labels = None;
        samples.folded = false;
    }
}

/// The cut of [`StackBatch::intern_cut`] over rows that come one at a time
/// in its order (by group, then path): each row's path is kept up to one
/// frame below its first node lighter than the minimum drawn weight, and a
/// row is handed on as soon as that is known, with how many frames it
/// keeps (`u32::MAX`: all).
///
/// The open nodes (those of the last path) are kept root first with the
/// weight of the rows through them not yet handed to an open caller. A
/// node's whole weight is known when it closes; while open, it is at least
/// the sum of its and its open callees' weights (the open nodes' total
/// less its callers' part, which does not change while it is open), so an
/// open node is known to be drawn once that reaches the minimum (and so
/// are its callers). A
/// row is decided once every node on its path above its first light node
/// is known drawn: the rows held are those under the shallowest open node
/// not known drawn, lighter than the minimum.
pub(super) struct StreamCut<T> {
    min_weight: f64,
    /// Open nodes root first: (weight not yet handed to the caller, the
    /// number of the first row through it, the sum of the weights of its
    /// open callers: its callers' part of the open nodes' weights, which
    /// stays as it is while the node is open).
    open: Vec<(u64, u64, u64)>,
    /// `open[..drawn]` are known drawn.
    drawn: usize,
    /// Runs of rows under closed light nodes whose callers are not light:
    /// (first row, end, frames kept).
    light: VecDeque<(u64, u64, u32)>,
    /// Rows not decided yet, with their numbers.
    held: VecDeque<(u64, T)>,
    next: u64,
    /// The previous row's group and path, and where its frames end.
    prev: Option<u32>,
    prev_path: Vec<u8>,
    ends: Vec<usize>,
}

impl<T> StreamCut<T> {
    pub(super) fn new(min_weight: f64) -> Self {
        StreamCut {
            min_weight,
            open: Vec::new(),
            drawn: 0,
            light: VecDeque::new(),
            held: VecDeque::new(),
            next: 0,
            prev: None,
            prev_path: Vec::new(),
            ends: Vec::new(),
        }
    }

    /// The next row in order: of `group`, with the path `path_of(&row)`,
    /// weighing `weight`.
    pub(super) fn push(
        &mut self,
        group: u32,
        weight: u64,
        row: T,
        path_of: impl FnOnce(&T) -> &[u8],
        out: &mut impl FnMut(T, u32),
    ) {
        let path = path_of(&row);
        let shared = match self.prev {
            Some(g) if g == group => shared_frames(&mut self.ends, &self.prev_path, path),
            _ => shared_frames(&mut self.ends, &[], path),
        };
        self.close(shared);
        let from = self.ends.last().copied().unwrap_or(0);
        self.ends
            .extend(code::frames(path.get(from..).unwrap_or_default()).map(|(_, e)| from + e));
        let at = self.next;
        self.next += 1;
        while self.open.len() < self.ends.len() {
            let above = self.open.last().map_or(0, |n| n.2.saturating_add(n.0));
            self.open.push((0, at, above));
        }
        if let Some(node) = self.open.last_mut() {
            node.0 = node.0.saturating_add(weight);
        }
        self.prev = Some(group);
        self.prev_path.clear();
        self.prev_path.extend_from_slice(path);
        self.held.push_back((at, row));
        // An open node weighs at least the open nodes' weight less its
        // callers' part: known drawn once that reaches the minimum, and its
        // callers with it.
        let total = self.open.last().map_or(0, |n| n.2.saturating_add(n.0));
        while self
            .open
            .get(self.drawn)
            .is_some_and(|n| (total.saturating_sub(n.2) as f64) >= self.min_weight)
        {
            self.drawn += 1;
        }
        self.hand_on(out);
    }

    /// No more rows: every row handed on.
    pub(super) fn finish(mut self, out: &mut impl FnMut(T, u32)) {
        self.close(0);
        self.hand_on(out);
    }

    /// Close the open nodes deeper than `depth`.
    fn close(&mut self, depth: usize) {
        while self.open.len() > depth {
            let Some((weight, start, _)) = self.open.pop() else {
                break;
            };
            let kept = self.open.len() as u32 + 2;
            if let Some(caller) = self.open.last_mut() {
                caller.0 = caller.0.saturating_add(weight);
            }
            // Drawn when at least the minimum (a NaN minimum draws
            // nothing).
            if (weight as f64) < self.min_weight || self.min_weight.is_nan() {
                while self.light.back().is_some_and(|&(s, _, _)| s >= start) {
                    self.light.pop_back();
                }
                self.light.push_back((start, self.next, kept));
            }
        }
        self.drawn = self.drawn.min(self.open.len());
    }

    /// Hand on the rows decided: those before the shallowest open node not
    /// known drawn.
    fn hand_on(&mut self, out: &mut impl FnMut(T, u32)) {
        let frontier = self.open.get(self.drawn).map_or(self.next, |n| n.1);
        while self.held.front().is_some_and(|&(at, _)| at < frontier) {
            let Some((at, row)) = self.held.pop_front() else {
                break;
            };
            while self.light.front().is_some_and(|&(_, end, _)| end <= at) {
                self.light.pop_front();
            }
            let keep = match self.light.front() {
                Some(&(start, _, keep)) if start <= at => keep,
                _ => u32::MAX,
            };
            out(row, keep);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Frames from small numbers, encoded as a batch encodes them.
    fn encode(frames: &[u32]) -> Vec<u8> {
        let mut b = Vec::new();
        for &f in frames {
            code::push(&mut b, f);
        }
        b
    }

    /// The weight of each stack (by its frames' names) and thread.
    fn sums(p: &Profile) -> std::collections::BTreeMap<(Vec<&str>, ThreadId), i64> {
        let mut m = std::collections::BTreeMap::new();
        for s in p.iter_samples() {
            *m.entry((p.stack_names(s.stack), s.thread)).or_insert(0) += s.values[0];
        }
        m
    }

    proptest::proptest! {
        /// Rows spilled in chunks (of keys expanded at the end, or of
        /// frames) and merged back give what the rows kept in memory give:
        /// cut, the same stack table and weights; not cut, the same
        /// samples in the same order.
        #[test]
        fn rows_spilled_are_rows_kept(
            rows in proptest::collection::vec(
                (proptest::collection::vec(0u32..5, 0..7), 0usize..2, 0u64..5, proptest::bool::ANY),
                1..80,
            ),
            min_percent in proptest::option::of(0.0f64..30.0),
            root_per_thread in proptest::bool::ANY,
            keys in proptest::bool::ANY,
        ) {
            let (mut p, threads, frames) = super::super::tests::two_threads_four_frames();
            // Keys 0 and 1 both stand for f0 (two addresses of one
            // function), key k from 2 for f(k-2) calling f(k-1) (a function
            // and the one inlined into it).
            let named = |k: u32| -> Vec<FrameId> {
                match k {
                    0 | 1 => vec![frames[0]],
                    k => vec![frames[k as usize - 2], frames[k as usize - 1]],
                }
            };
            let expand = |k: u32, path: &mut PathBuilder| named(k).into_iter().for_each(|f| path.push(f));
            let add = |batch: &mut StackBatch, path: &[u32]| {
                let mut b = PathBuilder::default();
                for &k in path {
                    if keys {
                        b.push_key(k);
                    } else {
                        named(k).into_iter().for_each(|f| b.push(f));
                    }
                }
                batch.add_built(&b)
            };
            let pruning = min_percent.map(|m| super::super::tests::every_frame_drawn_rooted(m, root_per_thread));

            let mut kept = p.clone();
            let mut batch = StackBatch::default();
            let mut paths = Vec::new();
            for (path, t, w, _) in &rows {
                kept.push_sample(None, threads[*t], None, &[*w as i64]);
                paths.push(add(&mut batch, path));
            }
            if keys {
                let (frames, ids) = batch.expand(expand);
                batch = frames;
                paths.iter_mut().for_each(|p| *p = ids[p.index()]);
            }
            let cut_kept = batch.intern_folded_samples(&mut kept, paths, pruning.as_ref());

            let mut spilled = SpilledRows::new().unwrap();
            let mut batch = StackBatch::default();
            let mut paths = Vec::new();
            for (path, t, w, spill) in &rows {
                p.push_sample(None, threads[*t], None, &[*w as i64]);
                paths.push(add(&mut batch, path));
                if *spill {
                    batch.spill_rows(&mut p, &mut paths, &mut spilled, keys).unwrap();
                }
            }
            if keys {
                let (frames, ids) = batch.expand(expand);
                batch = frames;
                paths.iter_mut().for_each(|p| *p = ids[p.index()]);
            }
            let chunks = spilled.chunks();
            let cut = batch
                .intern_folded_spilled(&mut p, paths, spilled, keys.then_some(&expand), pruning.as_ref())
                .unwrap();
            proptest::prop_assert_eq!(cut, cut_kept);
            proptest::prop_assert_eq!(p.stacks().nodes(), kept.stacks().nodes());
            proptest::prop_assert_eq!(sums(&p), sums(&kept));
            if !cut || chunks == 0 {
                let (a, b) = (p.samples(), kept.samples());
                proptest::prop_assert_eq!(a.stacks(), b.stacks());
                proptest::prop_assert_eq!(a.threads(), b.threads());
                proptest::prop_assert_eq!(a.values(), b.values());
                proptest::prop_assert_eq!(a.is_folded(), b.is_folded());
            }
        }

        /// Each row keeps as many frames streamed as the walk over all
        /// rows in memory gives it.
        #[test]
        fn streamed_cut_keeps_what_the_whole_walk_keeps(
            rows in proptest::collection::vec(
                (0u32..2, proptest::collection::vec(0u32..4, 0..6), 0u64..5),
                0..60,
            ),
            min in 0u64..12,
        ) {
            let paths: Vec<Vec<u8>> = rows.iter().map(|(_, p, _)| encode(p)).collect();
            let order = sort_paths(
                rows.iter().enumerate().map(|(i, r)| (r.0, i as u32)).collect(),
                |i| paths.get(i as usize).map_or(&[][..], |p| p.as_slice()),
            );
            let min = min as f64;
            let light = super::super::light_runs(
                &order,
                |i| rows.get(i as usize).map_or(0, |r| r.2),
                |i| paths.get(i as usize).map_or(&[][..], |p| p.as_slice()),
                |_| {},
                min,
            );
            let mut whole = vec![u32::MAX; rows.len()];
            for &(start, end, depth) in &light {
                for &(_, _, row) in order.get(start as usize..end as usize).unwrap_or_default() {
                    whole[row as usize] = depth + 1;
                }
            }
            let mut streamed = vec![0; rows.len()];
            let mut handed = 0;
            let mut stream = StreamCut::new(min);
            let mut out = |(r, _): (u32, Vec<u8>), keep| {
                streamed[r as usize] = keep;
                handed += 1;
            };
            for &(_, group, row) in &order {
                let (_, _, w) = rows[row as usize];
                let item = (row, paths[row as usize].clone());
                stream.push(group, w, item, |(_, p)| p.as_slice(), &mut out);
            }
            stream.finish(&mut out);
            proptest::prop_assert_eq!(handed, rows.len());
            proptest::prop_assert_eq!(streamed, whole);
        }
    }
}
