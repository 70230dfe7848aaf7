//! Interning many stacks at once.
//!
//! Interning a stack node by node costs one hash lookup per frame, and on a
//! large recording with deep, diverse stacks (millions of distinct nodes)
//! each lookup is a cache miss in a big index. [`StackBatch`] instead keeps
//! each distinct stack as a path of frame ids and, at the end, sorts the
//! paths: in sorted order every path shares its longest common prefix with
//! the one before it, so the prefix tree is built by comparing neighbours,
//! and a node beyond that prefix is new by construction.

use std::hash::BuildHasher;

use hashbrown::HashTable;
use rayon::prelude::*;
use rustc_hash::FxBuildHasher;

use crate::memory::prefetch;
use crate::profile::merge_into_first;
use crate::pruning::{min_drawn_weight, FlameGraphPruning};
use crate::tables::{FrameId, StackId, StackNode, StackTable, ThreadId};
use crate::Profile;

mod spill;
pub use spill::{ExpandKey, SpilledRows};

/// The id of a path added to a [`StackBatch`]: an index into the vector
/// [`StackBatch::intern_into`] returns.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PathId(u32);

impl PathId {
    /// The index of this path in the batch.
    pub fn index(self) -> usize {
        self.0 as usize
    }
}

/// Distinct stacks, each a path of frames from the root, interned into a
/// [`StackTable`] together.
///
/// ```
/// use stackconv_model::{FrameKind, Profile, StackBatch};
/// let mut p = Profile::new(vec![]);
/// let (a, b, c) = (
///     p.intern_frame_named("a", FrameKind::Native),
///     p.intern_frame_named("b", FrameKind::Native),
///     p.intern_frame_named("c", FrameKind::Native),
/// );
/// let mut batch = StackBatch::default();
/// let abc = batch.add(&[a, b, c]);
/// let ab = batch.add(&[a, b]);
/// assert_eq!(batch.add(&[a, b, c]), abc, "equal paths share an id");
/// let stacks = batch.intern_into(p.stacks_mut());
/// assert_eq!(stacks[abc.index()], p.intern_stack_frames([a, b, c]));
/// assert_eq!(stacks[ab.index()], p.intern_stack_frames([a, b]));
/// assert_eq!(p.stacks().len(), 3, "a, a;b and a;b;c");
/// ```
#[derive(Clone, Debug, Default)]
pub struct StackBatch {
    /// Frame ids of all paths, in [`code`], so that comparing bytes orders
    /// paths frame by frame.
    bytes: Vec<u8>,
    /// Start of each path in `bytes`; its end is the next start.
    starts: Vec<usize>,
    /// Every path: the high half of the hash of its bytes, and its id
    /// ([`entry`]); 8 bytes a path.
    index: HashTable<u64>,
}

impl StackBatch {
    /// How many distinct paths the batch holds.
    pub fn len(&self) -> usize {
        self.starts.len()
    }

    /// Whether the batch is empty.
    pub fn is_empty(&self) -> bool {
        self.starts.is_empty()
    }

    fn path(&self, id: u32) -> &[u8] {
        let i = id as usize;
        let start = self.starts.get(i).copied().unwrap_or(0);
        let end = self.starts.get(i + 1).copied().unwrap_or(self.bytes.len());
        self.bytes.get(start..end).unwrap_or_default()
    }

    /// The id of the path `root_first` (the frames of a stack from the root
    /// to the leaf), adding it if it is new. The empty path is a path too:
    /// it interns as no stack (`None`).
    ///
    /// # Panics
    ///
    /// When the batch already holds `u32::MAX` paths.
    pub fn add(&mut self, root_first: &[FrameId]) -> PathId {
        let start = self.bytes.len();
        self.bytes.reserve(root_first.len() * 2);
        for f in root_first {
            code::push(&mut self.bytes, f.index() as u32);
        }
        self.intern_from(start)
    }

    /// [`Self::add`] of the path `built` holds, whose frames are encoded
    /// already: it is copied, not encoded frame by frame.
    ///
    /// # Panics
    ///
    /// When the batch already holds `u32::MAX` paths.
    pub fn add_built(&mut self, built: &PathBuilder) -> PathId {
        let start = self.bytes.len();
        self.bytes.extend_from_slice(&built.bytes);
        self.intern_from(start)
    }

    /// [`Self::add`] of a path encoded already (a prefix of another path
    /// of a batch: frames are encoded alike in every batch).
    fn add_encoded(&mut self, encoded: &[u8]) -> PathId {
        let start = self.bytes.len();
        self.bytes.extend_from_slice(encoded);
        self.intern_from(start)
    }

    /// The id of the path encoded in `bytes[start..]`: a new one, or that
    /// of an equal path added before (the bytes are then dropped).
    fn intern_from(&mut self, start: usize) -> PathId {
        let high =
            (FxBuildHasher.hash_one(self.bytes.get(start..).unwrap_or_default()) >> 32) as u32;
        let hash = table_hash(u64::from(high) << 32);
        let (bytes, starts) = (&self.bytes, &self.starts);
        let path = |id: u32| {
            let i = id as usize;
            let s = starts.get(i).copied().unwrap_or(0);
            let e = starts.get(i + 1).copied().unwrap_or(start);
            bytes.get(s..e).unwrap_or_default()
        };
        let new = bytes.get(start..).unwrap_or_default();
        if let Some(&id) = self
            .index
            .find(hash, |&e| (e >> 32) as u32 == high && path(e as u32) == new)
        {
            self.bytes.truncate(start);
            return PathId(id as u32);
        }
        #[allow(clippy::expect_used)]
        let id = u32::try_from(self.starts.len()).expect("more than 2^32 paths");
        self.starts.push(start);
        self.index
            .insert_unique(hash, entry(high, id), |&e| table_hash(e));
        PathId(id)
    }

    /// The batch of paths of frames a batch of paths of keys
    /// ([`PathBuilder::push_key`]) stands for: each path's keys, root
    /// first, replaced by the frames `frames(key, path)` pushes (root
    /// first). Gives, at each path's index, its id in the new batch.
    /// Paths that become equal (two addresses of one function) share an
    /// id; the new ids are numbered in order of the paths' first
    /// appearance, so a batch built frame by frame in the same order
    /// numbers its paths alike.
    ///
    /// ```
    /// use stackconv_model::{FrameKind, PathBuilder, Profile, StackBatch};
    ///
    /// let mut p = Profile::default();
    /// let [main, f, g] = ["main", "f", "g"].map(|n| p.intern_frame_named(n, FrameKind::Native));
    /// // Keys 0 and 1: two addresses in `f`; key 2 one in `main` that
    /// // inlined `g`.
    /// let named = [vec![f], vec![f], vec![main, g]];
    /// let mut keys = StackBatch::default();
    /// let mut path = PathBuilder::default();
    /// let ids: Vec<_> = [[2, 0], [2, 1]]
    ///     .iter()
    ///     .map(|k| {
    ///         path.clear();
    ///         k.iter().for_each(|&k| path.push_key(k));
    ///         keys.add_built(&path)
    ///     })
    ///     .collect();
    /// let (frames, new) = keys.expand(|k, path| {
    ///     named[k as usize].iter().for_each(|&f| path.push(f));
    /// });
    /// assert_eq!(frames.len(), 1);
    /// let mut direct = StackBatch::default();
    /// let one = direct.add(&[main, g, f]);
    /// assert_eq!((new[ids[0].index()], new[ids[1].index()]), (one, one));
    /// ```
    pub fn expand(
        &self,
        mut frames: impl FnMut(u32, &mut PathBuilder),
    ) -> (StackBatch, Vec<PathId>) {
        let mut out = StackBatch::default();
        let mut ids = Vec::with_capacity(self.len());
        let mut path = PathBuilder::default();
        for id in 0..self.starts.len() {
            path.clear();
            for (key, _) in code::frames(self.path(id as u32)) {
                frames(key, &mut path);
            }
            ids.push(out.add_built(&path));
        }
        (out, ids)
    }

    /// Intern every path into `table`: the result holds, at each path's
    /// index, its leaf stack (`None` for the empty path).
    ///
    /// Paths are interned in sorted order, so the ids of nodes that are new
    /// to the table follow the sorted order of the paths; parents still come
    /// before their children.
    pub fn intern_into(mut self, table: &mut StackTable) -> Vec<Option<StackId>> {
        // Paths are not looked up again: the index's memory goes before
        // the sort takes some.
        self.index = HashTable::new();
        let order = sort_paths(
            (0..self.starts.len() as u32).map(|id| (0, id)).collect(),
            |id| self.path(id),
        );
        // Nodes past the common prefix with the previous path are new to
        // the table when it started empty: they are appended without an
        // index, on all cores. Otherwise they are looked up.
        if table.is_empty() {
            let split = if order.len() >= PARALLEL_PATHS {
                order.len() / 2
            } else {
                order.len()
            };
            let (built, out) = self.build_fresh(&order, split);
            table.set_nodes(built);
            return out;
        }
        let run = self.build_run(&order, &[], |parent, frame| {
            let node = StackNode {
                parent: stack_id(parent),
                frame,
            };
            table.intern(node).index() as u32
        });
        let mut out = vec![None; self.starts.len()];
        for &(id, code) in &run.leaves {
            if let Some(slot) = out.get_mut(id as usize) {
                *slot = stack_id(code);
            }
        }
        out
    }

    /// As in `intern_cut`: the coming paths' starts and bytes asked for
    /// ahead of `order[at]`.
    #[inline]
    fn prefetch_ahead(&self, order: &[(u64, u32, u32)], at: usize) {
        if let Some(&(_, _, ahead)) = order.get(at + PREFETCH_ROWS / 2) {
            prefetch(self.starts.get(ahead as usize));
        }
        if let Some(&(_, _, ahead)) = order.get(at + PREFETCH_ROWS / 4) {
            prefetch(self.path(ahead).first());
        }
    }

    /// The nodes of a fresh table for the sorted paths `order` (each new
    /// node numbered in the order the paths first need it), and each
    /// path's leaf. The paths before `split` and from it are built at the
    /// same time, the second part numbering its nodes from 0 and naming
    /// the nodes of the path before it (the first part's last) by depth;
    /// they are then renumbered after the first part's.
    fn build_fresh(
        &self,
        order: &[(u64, u32, u32)],
        split: usize,
    ) -> (Vec<StackNode>, Vec<Option<StackId>>) {
        let (first, second) = order.split_at(split.min(order.len()));
        let before = first.last().map_or(&[][..], |&(_, _, id)| self.path(id));
        // At most a node per frame, a frame a byte or more: room for the
        // nodes of each part's share of the paths.
        let room = |part: &[(u64, u32, u32)]| {
            (self.bytes.len() / 2).saturating_mul(part.len()) / order.len().max(1)
        };
        let ((mut built, a), (rest, b)) = rayon::join(
            || {
                let mut nodes = Vec::with_capacity(room(first));
                let run = self.build_run(first, &[], |parent, frame| {
                    nodes.push(StackNode {
                        parent: stack_id(parent),
                        frame,
                    });
                    (nodes.len() - 1) as u32
                });
                (nodes, run)
            },
            || {
                let mut nodes = Vec::with_capacity(room(second));
                let run = self.build_run(second, before, |parent, frame| {
                    nodes.push((parent, frame));
                    (nodes.len() - 1) as u32
                });
                (nodes, run)
            },
        );
        let offset = built.len() as u32;
        let node = |code: u32| match code {
            ROOT => None,
            _ if code & SPINE != 0 => a
                .last
                .get((code & !SPINE) as usize)
                .map(|&c| StackId::from_index(c)),
            _ => Some(StackId::from_index(offset + code)),
        };
        built.par_extend(rest.par_iter().map(|&(parent, frame)| StackNode {
            parent: node(parent),
            frame,
        }));
        let mut out = vec![None; self.starts.len()];
        for &(id, code) in &a.leaves {
            if let Some(slot) = out.get_mut(id as usize) {
                *slot = stack_id(code);
            }
        }
        for &(id, code) in &b.leaves {
            if let Some(slot) = out.get_mut(id as usize) {
                *slot = node(code);
            }
        }
        (built, out)
    }

    /// Add the nodes of the sorted paths `order`, which follow the path
    /// `before`, past the frames each shares with the path before it:
    /// `add(parent, frame)` adds one and gives its code, the parent's
    /// being such a code, [`SPINE`] and the depth for a node of `before`,
    /// or [`ROOT`]. Gives each path's leaf, as such a code, and the codes
    /// of the last path's nodes.
    fn build_run(
        &self,
        order: &[(u64, u32, u32)],
        before: &[u8],
        mut add: impl FnMut(u32, FrameId) -> u32,
    ) -> Run {
        let mut leaves = Vec::with_capacity(order.len());
        // The current path's nodes, and where each of its frames ends.
        let mut stack: Vec<u32> = Vec::new();
        let mut ends: Vec<usize> = Vec::new();
        for (depth, (_, end)) in code::frames(before).enumerate() {
            ends.push(end);
            stack.push(SPINE | depth as u32);
        }
        let mut prev = before;
        for (at, &(_, _, id)) in order.iter().enumerate() {
            self.prefetch_ahead(order, at);
            let cur = self.path(id);
            let shared = shared_frames(&mut ends, prev, cur);
            stack.truncate(shared);
            let from = ends.last().copied().unwrap_or(0);
            for (frame, end) in code::frames(cur.get(from..).unwrap_or_default()) {
                ends.push(from + end);
                let parent = stack.last().copied().unwrap_or(ROOT);
                stack.push(add(parent, FrameId::from_index(frame)));
            }
            leaves.push((id, stack.last().copied().unwrap_or(ROOT)));
            prev = cur;
        }
        Run {
            leaves,
            last: stack,
        }
    }
}

/// Merge the samples of `profile` with one path (`paths`, one per sample)
/// and thread into the first of them, values summed; the others are
/// dropped, from `paths` too, the order kept.
fn merge_rows(profile: &mut Profile, paths: &mut Vec<PathId>) {
    let samples = &mut profile.samples;
    let keys = paths.iter().copied().zip(samples.threads.iter().copied());
    let Some(keep) = merge_into_first(keys, paths.len(), &mut samples.values) else {
        return;
    };
    samples.retain(&keep);
    let mut i = 0;
    paths.retain(|_| {
        let k = keep.get(i).copied().unwrap_or(true);
        i += 1;
        k
    });
}

/// What a cut for a flame graph ([`FlameGraphPruning`]) goes by: the
/// frames drawn alike, each thread's root, the column drawn.
struct CutPlan {
    /// Each frame's representative ([`crate::pruning::DrawnKeys::frames`]).
    reps: Vec<FrameId>,
    /// Each thread's root ([`crate::pruning::DrawnKeys::threads`]).
    groups: Vec<u32>,
    column: usize,
    min_width_percent: f64,
}

impl CutPlan {
    /// The plan of `pruning` for `profile`, whose frames and threads are
    /// all known; `None` when nothing may be cut (its keys say so, or name
    /// other frames) or the column is not there.
    fn new(pruning: &FlameGraphPruning, profile: &Profile) -> Option<Self> {
        let keys = (pruning.keys)(profile)?;
        let column = pruning.column.unwrap_or(profile.meta().default_value);
        (keys.frames.len() == profile.frames().len() && column < profile.samples.values.len())
            .then_some(CutPlan {
                reps: keys.frames,
                groups: keys.threads,
                column,
                min_width_percent: pruning.min_width_percent,
            })
    }

    /// The root and weight of a row of `thread` whose drawn column holds
    /// `value`, its weight added to `drawn` unless its path is `empty`;
    /// `None` when nothing may be cut: a negative weight (it cannot be cut
    /// away), a thread without a root, a total past 2^64-1.
    fn row(
        &self,
        value: i64,
        thread: ThreadId,
        empty: bool,
        drawn: &mut u64,
    ) -> Option<(u32, u64)> {
        let weight = u64::try_from(value).ok()?;
        let group = self.groups.get(thread.index()).copied()?;
        if !empty {
            *drawn = drawn.checked_add(weight)?;
        }
        Some((group, weight))
    }
}

/// How many bytes of `path` its first `keep` frames take (`u32::MAX`: all
/// of it): a path cut below them.
fn cut_len(path: &[u8], keep: u32) -> usize {
    match keep {
        u32::MAX => path.len(),
        n => code::frames(path)
            .take(n as usize)
            .last()
            .map_or(0, |(_, end)| end),
    }
}

/// What [`StackBatch::build_run`] gives.
struct Run {
    /// (path id, leaf code).
    leaves: Vec<(u32, u32)>,
    /// The codes of the last path's nodes, root first.
    last: Vec<u32>,
}

/// A parent code of [`StackBatch::build_run`]: no parent.
const ROOT: u32 = u32::MAX;

/// The stack a code of a run without a path before it names.
fn stack_id(code: u32) -> Option<StackId> {
    (code != ROOT).then(|| StackId::from_index(code))
}
/// A parent code of [`StackBatch::build_run`]: with the depth below it,
/// a node of the path before the run's.
const SPINE: u32 = 1 << 31;

/// Fresh tables of this many paths are built in two parts at once.
const PARALLEL_PATHS: usize = 1 << 12;

impl StackBatch {
    /// Set the stack of each sample `i` of `profile` to path `paths[i]`
    /// (paths beyond the samples are ignored, samples beyond the paths get
    /// no stack), interning every path into the profile's stack table; with
    /// `pruning`, cut as [`FlameGraphPruning`] allows, and keep the whole
    /// paths when its keys say cutting could change the picture. Returns
    /// whether stacks were cut.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use stackconv_model::pruning::{DrawnKeys, FlameGraphPruning};
    /// use stackconv_model::{FrameKind, Profile, StackBatch, ValueType};
    ///
    /// let mut p = Profile::new(vec![ValueType::new("samples", "count")]);
    /// let t = p.intern_thread(Default::default());
    /// let f: Vec<_> = ["main", "work", "a", "b"]
    ///     .iter()
    ///     .map(|n| p.intern_frame_named(n, FrameKind::Native))
    ///     .collect();
    /// let mut batch = StackBatch::default();
    /// // 999 samples of main;work;a, one of main;work;b: at a minimum
    /// // width of 1% `b` is not drawn, nor anything below it.
    /// let heavy = batch.add(&[f[0], f[1], f[2]]);
    /// let light = batch.add(&[f[0], f[1], f[3], f[2], f[2]]);
    /// p.push_sample(None, t, None, &[999]);
    /// p.push_sample(None, t, None, &[1]);
    /// let pruning = FlameGraphPruning {
    ///     min_width_percent: 1.0,
    ///     column: None,
    ///     keys: Arc::new(|p| Some(DrawnKeys {
    ///         frames: p.frames().iter().map(|(id, _)| id).collect(),
    ///         threads: vec![0; p.threads().len()],
    ///     })),
    /// };
    /// assert!(batch.intern_samples(&mut p, &[heavy, light], Some(&pruning)));
    /// let light_stack = p.samples().stacks()[1];
    /// // Cut one frame below `b`, the first frame not drawn.
    /// assert_eq!(p.stack_names(light_stack), ["main", "work", "b", "a"]);
    /// assert_eq!(p.total(0), 1000);
    /// ```
    pub fn intern_samples(
        self,
        profile: &mut Profile,
        paths: &[PathId],
        pruning: Option<&FlameGraphPruning>,
    ) -> bool {
        let cut = pruning.and_then(|pr| {
            let plan = CutPlan::new(pr, profile)?;
            let values = profile.samples().values().get(plan.column)?;
            let threads = profile.samples().threads();
            let mut rows = Vec::with_capacity(paths.len());
            let mut drawn = 0u64;
            for (i, &path) in paths.iter().enumerate() {
                let value = values.get(i).copied().unwrap_or(0);
                let thread = threads.get(i).copied()?;
                let empty = self.path(path.0).is_empty();
                let (group, weight) = plan.row(value, thread, empty, &mut drawn)?;
                rows.push(Row {
                    path,
                    group,
                    weight,
                });
            }
            let min_weight = min_drawn_weight(drawn, plan.min_width_percent);
            Some((rows, plan.reps, min_weight))
        });
        match cut {
            Some((rows, reps, min_weight)) => {
                let stacks = self.intern_cut(profile.stacks_mut(), &rows, &reps, min_weight);
                profile.map_sample_stacks(|i, _| stacks.get(i).copied().flatten());
                true
            }
            None => {
                let stacks = self.intern_into(profile.stacks_mut());
                profile.map_sample_stacks(|i, _| {
                    let path = paths.get(i)?;
                    stacks.get(path.index()).copied().flatten()
                });
                false
            }
        }
    }

    /// [`Self::intern_samples`] for the rows of a reader that folds as it
    /// reads, one row per path and thread: rows of one path and thread
    /// (which a reader folding by a finer key has, such as two addresses
    /// that name alike) are first merged into the first of them, values
    /// summed, the first's time and labels kept. Unless stacks were cut,
    /// each stack and thread then has one sample, and `profile`'s samples
    /// are folded ([`Samples::is_folded`]) when they carry no times or
    /// labels: folding them again, or merging them in a writer, is
    /// skipped. Returns whether stacks were cut.
    ///
    /// ```
    /// use stackconv_model::{FrameKind, Profile, StackBatch, ValueType};
    ///
    /// let mut p = Profile::new(vec![ValueType::new("samples", "count")]);
    /// let t = p.intern_thread(Default::default());
    /// let [main, f] = ["main", "f"].map(|n| p.intern_frame_named(n, FrameKind::Native));
    /// let mut batch = StackBatch::default();
    /// let path = batch.add(&[main, f]);
    /// // Two rows of one path: as two addresses in `f` would be.
    /// p.push_sample(None, t, None, &[2]);
    /// p.push_sample(None, t, None, &[3]);
    /// assert!(!batch.intern_folded_samples(&mut p, vec![path, path], None));
    /// assert_eq!(p.samples().column(0), Some(&[5][..]));
    /// assert_eq!(p.stack_names(p.samples().stacks()[0]), ["main", "f"]);
    /// assert!(p.samples().is_folded());
    /// ```
    ///
    /// [`Samples::is_folded`]: crate::Samples::is_folded
    pub fn intern_folded_samples(
        self,
        profile: &mut Profile,
        mut paths: Vec<PathId>,
        pruning: Option<&FlameGraphPruning>,
    ) -> bool {
        merge_rows(profile, &mut paths);
        let cut = self.intern_samples(profile, &paths, pruning);
        // Distinct paths intern as distinct stacks: without a cut, the
        // rows' (stack, thread) are as distinct as their (path, thread).
        let samples = &mut profile.samples;
        samples.folded = !cut
            && samples.len() == paths.len()
            && samples.times.is_none()
            && samples.labels.is_none();
        debug_assert!(
            !samples.folded || samples.are_distinct(),
            "samples marked folded with two of one stack and thread"
        );
        cut
    }

    /// Intern each row's path cut one frame below its first node lighter
    /// than `min_weight`, nodes told apart by `reps` and the rows' groups:
    /// the stack of each row.
    ///
    /// The rows are sorted by group and path (frames replaced by their
    /// representatives), so that every node of the tree in which frames
    /// drawn alike are one is a run of rows: its weight is summed as the
    /// walk leaves it, and a light node's run is remembered unless an
    /// enclosing light node's replaces it.
    fn intern_cut(
        mut self,
        table: &mut StackTable,
        rows: &[Row],
        reps: &[FrameId],
        min_weight: f64,
    ) -> Vec<Option<StackId>> {
        // The index is not used again (and stale once frames are
        // replaced): its memory goes before the sort takes some.
        self.index = HashTable::new();
        // Frames replaced by their representatives, in place: paths equal
        // to a flame graph become equal bytes.
        if reps.iter().enumerate().any(|(i, r)| r.index() != i) {
            self.replace_frames(reps);
        }
        let path_of = |row: u32| {
            let path = rows.get(row as usize).map_or(u32::MAX, |r| r.path.0);
            self.path(path)
        };
        let order = sort_paths(
            rows.iter()
                .zip(0..rows.len() as u32)
                .map(|(r, i)| (r.group, i))
                .collect(),
            path_of,
        );

        // Both walks below take the rows in path order, their paths all
        // over memory: a coming row, its path's start and its bytes are
        // asked for ahead, so that they are not waited for one after the
        // other.
        let prefetch_ahead = |at: usize| {
            if let Some(&(_, _, ahead)) = order.get(at + PREFETCH_ROWS) {
                prefetch(rows.get(ahead as usize));
            }
            if let Some(&(_, _, ahead)) = order.get(at + PREFETCH_ROWS / 2) {
                if let Some(r) = rows.get(ahead as usize) {
                    prefetch(self.starts.get(r.path.index()));
                }
            }
            if let Some(&(_, _, ahead)) = order.get(at + PREFETCH_ROWS / 4) {
                prefetch(path_of(ahead).first());
            }
        };
        let light = light_runs(
            &order,
            |row| rows.get(row as usize).map_or(0, |r| r.weight),
            path_of,
            prefetch_ahead,
            min_weight,
        );

        // Each row's path up to one frame below its first light node: the
        // node keeps its place, and the frame below keeps its lines
        // sorted where the whole stack's lines sort (`a;b` after `a.c`,
        // where `a` alone would sort before it). How many frames each row
        // keeps, by its place in `order`:
        let mut keep = vec![u32::MAX; order.len()];
        for &(start, end, depth) in &light {
            if let Some(k) = keep.get_mut(start as usize..end as usize) {
                k.fill(depth.saturating_add(1));
            }
        }
        // The cut paths, in the rows' sorted order: rows cut alike are
        // neighbours there, so a cut path equal to the one before takes
        // its id without being looked up. A cut path is the first bytes
        // of the row's path. Each path's id, by the row's place in
        // `order`.
        let cut_part = |part: &[(u64, u32, u32)], keep: &[u32], base: usize| {
            let mut cut = StackBatch::default();
            let mut ids = Vec::with_capacity(part.len());
            let mut last: Option<(&[u8], PathId)> = None;
            for (at, (&(_, _, row), &n)) in part.iter().zip(keep).enumerate() {
                prefetch_ahead(base + at);
                let path = path_of(row);
                let bytes = path.get(..cut_len(path, n)).unwrap_or_default();
                let id = match last {
                    Some((b, id)) if b == bytes => id,
                    _ => cut.add_encoded(bytes),
                };
                last = Some((bytes, id));
                ids.push(id);
            }
            (cut, ids)
        };
        // A long `order` in two halves at once, the second's paths then
        // added to the first's batch in their order: numbered as one walk
        // numbers them (in order of first appearance).
        let (cut, ids) = if order.len() >= halves_from() {
            let half = order.len() / 2;
            let (first, second) = order.split_at(half);
            let (keep_first, keep_second) = keep.split_at(half);
            let ((mut cut, mut ids), (later, later_ids)) = rayon::join(
                || cut_part(first, keep_first, 0),
                || cut_part(second, keep_second, half),
            );
            let merged: Vec<PathId> = (0..later.len() as u32)
                .map(|id| cut.add_encoded(later.path(id)))
                .collect();
            ids.extend(
                later_ids
                    .iter()
                    .map(|id| merged.get(id.index()).copied().unwrap_or(*id)),
            );
            (cut, ids)
        } else {
            cut_part(&order, &keep, 0)
        };
        let mut cut_paths = vec![PathId(0); rows.len()];
        for (&(_, _, row), &id) in order.iter().zip(&ids) {
            if let Some(slot) = cut_paths.get_mut(row as usize) {
                *slot = id;
            }
        }
        drop(order);
        drop(self);
        let stacks = cut.intern_into(table);
        cut_paths
            .iter()
            .map(|p| stacks.get(p.index()).copied().flatten())
            .collect()
    }
}

/// The runs of `order` (rows sorted by group, then path) under the light
/// nodes whose callers are not light, as (first, end, depth of the node):
/// a node, a frame of the tree in which paths of a group sharing their
/// first frames share nodes, is light when its weight (that of the rows
/// through it) is under `min_weight` (as the graph decides it: a NaN
/// minimum draws nothing).
///
/// A long `order` is walked in two halves at once ([`light_runs_split`]),
/// else in one ([`walk_light`]).
fn light_runs<'p>(
    order: &[(u64, u32, u32)],
    weight: impl Fn(u32) -> u64 + Sync,
    path_of: impl Fn(u32) -> &'p [u8] + Sync,
    prefetch_ahead: impl Fn(usize) + Sync,
    min_weight: f64,
) -> Vec<(u32, u32, u32)> {
    if order.len() >= halves_from() {
        if let Some(runs) = light_runs_split(order, &weight, &path_of, &prefetch_ahead, min_weight)
        {
            return runs;
        }
    }
    walk_light(
        order,
        &weight,
        &path_of,
        &prefetch_ahead,
        min_weight,
        Half::Whole,
    )
    .0
}

/// [`light_runs`] of the two halves of `order` at once, cut between two
/// neighbouring rows near the middle that share few frames. The nodes
/// both rows go through (the spine: the frames they share) hold rows of
/// both halves; every other node lies in one half, and is light or not
/// as its half's walk finds. When every spine node, its weight summed over
/// both halves, is heavy (the spine is the outer frames of the middle
/// rows, heavy as a rule), the light runs are the halves' together;
/// `None` otherwise (the caller walks the whole).
fn light_runs_split<'p>(
    order: &[(u64, u32, u32)],
    weight: &(impl Fn(u32) -> u64 + Sync),
    path_of: &(impl Fn(u32) -> &'p [u8] + Sync),
    prefetch_ahead: &(impl Fn(usize) + Sync),
    min_weight: f64,
) -> Option<Vec<(u32, u32, u32)>> {
    let middle = order.len() / 2;
    let window = middle.saturating_sub(SEAM_WINDOW)..(middle + SEAM_WINDOW).min(order.len());
    let (depth, seam) = window
        .filter_map(|at| Some((shared_at(order, path_of, at)?, at)))
        .min_by_key(|&(depth, at)| (depth, at.abs_diff(middle)))?;
    light_runs_halves(
        order,
        seam,
        depth,
        weight,
        path_of,
        prefetch_ahead,
        min_weight,
    )
}

/// How many frames the paths of rows `at - 1` and `at` of `order` share:
/// none across groups; `None` at the ends.
fn shared_at<'p>(
    order: &[(u64, u32, u32)],
    path_of: &impl Fn(u32) -> &'p [u8],
    at: usize,
) -> Option<u32> {
    let (_, group_a, a) = *order.get(at.checked_sub(1)?)?;
    let (_, group_b, b) = *order.get(at)?;
    if group_a != group_b {
        return Some(0);
    }
    let (a, b) = (path_of(a), path_of(b));
    let common = common_prefix(a, b);
    Some(
        code::frames(a)
            .take_while(|&(_, end)| end <= common)
            .count() as u32,
    )
}

/// [`light_runs_split`] at `seam`, whose rows on either side share
/// `depth` frames ([`shared_at`]).
fn light_runs_halves<'p>(
    order: &[(u64, u32, u32)],
    seam: usize,
    depth: u32,
    weight: &(impl Fn(u32) -> u64 + Sync),
    path_of: &(impl Fn(u32) -> &'p [u8] + Sync),
    prefetch_ahead: &(impl Fn(usize) + Sync),
    min_weight: f64,
) -> Option<Vec<(u32, u32, u32)>> {
    let (first, second) = order.split_at(seam.min(order.len()));
    let ((mut runs, first_spine), (later, second_spine)) = rayon::join(
        || {
            let half = Half::First { spine: depth };
            walk_light(first, weight, path_of, prefetch_ahead, min_weight, half)
        },
        || {
            let ahead = |at: usize| prefetch_ahead(seam + at);
            let half = Half::Second { spine: depth };
            walk_light(second, weight, path_of, &ahead, min_weight, half)
        },
    );
    let heavy = first_spine
        .iter()
        .zip(&second_spine)
        .all(|(&a, &b)| (a.saturating_add(b) as f64) >= min_weight);
    if !heavy || first_spine.len() != depth as usize || second_spine.len() != depth as usize {
        return None;
    }
    let offset = seam as u32;
    runs.extend(
        later
            .into_iter()
            .map(|(start, end, depth)| (start + offset, end + offset, depth)),
    );
    Some(runs)
}

/// From how many rows [`StackBatch::intern_cut`] walks them in two halves:
/// [`PARALLEL_PATHS`]; as a test sets it.
#[cfg(not(test))]
#[inline]
fn halves_from() -> usize {
    PARALLEL_PATHS
}

#[cfg(test)]
fn halves_from() -> usize {
    tests::HALVES_FROM.with(std::cell::Cell::get)
}

/// Rows either side of the middle [`light_runs_split`] looks at for the
/// two neighbours sharing the fewest frames.
const SEAM_WINDOW: usize = 256;

/// What [`walk_light`] walks: all rows, or a half of them
/// ([`light_runs_split`]) with a spine, the nodes at depths up to `spine`
/// that are open when the first half's walk ends, or were opened by the
/// second half's first row. A spine node's weight in a half is partial:
/// it is never a light run there, and its weight is given back.
#[derive(Clone, Copy)]
enum Half {
    Whole,
    First { spine: u32 },
    Second { spine: u32 },
}

/// Walk `order` for [`light_runs`]: its runs (rows numbered from the
/// start of `order`), and the weight in `order` of each node of its spine,
/// by depth.
///
/// The rows are walked in order, keeping the open nodes (those of the last
/// path) root first. Nodes opened by one row hold the same rows until a
/// later row leaves some of them: the open nodes are kept as segments of
/// consecutive depths with one run start and one weight, so a row costs
/// the segments it closes and opens, not a step per frame. A segment
/// closing hands its weight to its caller, and when light its run (of its
/// shallowest closed node) replaces the runs inside it.
fn walk_light<'p>(
    order: &[(u64, u32, u32)],
    weight: &impl Fn(u32) -> u64,
    path_of: &impl Fn(u32) -> &'p [u8],
    prefetch_ahead: &impl Fn(usize),
    min_weight: f64,
    half: Half,
) -> (Vec<(u32, u32, u32)>, Vec<u64>) {
    /// Open nodes at depths past the previous segment's `deepest` up to
    /// this one's (1-based), whose runs start at row `start` and weigh
    /// `weight`.
    struct Segment {
        start: u32,
        weight: u64,
        deepest: u32,
    }
    let mut open: Vec<Segment> = Vec::new();
    let mut light: Vec<(u32, u32, u32)> = Vec::new();
    let mut spine_weights: Vec<u64> = Vec::new();
    // Close the open nodes deeper than `depth` at row `end` (`last`: the
    // walk's end, which closes them all).
    let mut close = |open: &mut Vec<Segment>,
                     light: &mut Vec<(u32, u32, u32)>,
                     depth: u32,
                     end: u32,
                     last: bool| {
        while let Some(top) = open.last_mut() {
            if top.deepest <= depth {
                break;
            }
            let (start, weight, deepest) = (top.start, top.weight, top.deepest);
            let above = open
                .len()
                .checked_sub(2)
                .and_then(|i| open.get(i))
                .map_or(0, |s| s.deepest);
            let whole = above >= depth;
            if whole {
                open.pop();
                // Its caller's run holds its rows.
                if let Some(caller) = open.last_mut() {
                    caller.weight = caller.weight.saturating_add(weight);
                }
            } else if let Some(top) = open.last_mut() {
                // The nodes down to `depth` stay open: they hold the same
                // rows, and these.
                top.deepest = depth;
            }
            // The nodes closed: past `shallow` down to `deepest`; those of
            // the spine are not decided here.
            let mut shallow = above.max(depth);
            let spine = match half {
                Half::First { spine } if last => Some(spine),
                Half::Second { spine } if start == 0 => Some(spine),
                _ => None,
            };
            if let Some(spine) = spine {
                let spine_end = spine.min(deepest);
                if spine_weights.len() < spine_end as usize {
                    spine_weights.resize(spine_end as usize, 0);
                }
                for d in shallow..spine_end {
                    if let Some(w) = spine_weights.get_mut(d as usize) {
                        *w = weight;
                    }
                }
                shallow = shallow.max(spine);
            }
            // Drawn when at least the minimum (a NaN minimum draws
            // nothing).
            let drawn = (weight as f64) >= min_weight;
            if shallow < deepest && !drawn {
                while light.last().is_some_and(|&(s, _, _)| s >= start) {
                    light.pop();
                }
                light.push((start, end, shallow + 1));
            }
            if !whole {
                break;
            }
        }
    };
    let mut prev: Option<(u32, &[u8])> = None;
    // Where each frame of the previous path ends in it.
    let mut ends: Vec<usize> = Vec::new();
    for (at, &(_, group, row)) in order.iter().enumerate() {
        prefetch_ahead(at);
        let at = at as u32;
        let cur = path_of(row);
        let shared = match prev {
            Some((g, p)) if g == group => shared_frames(&mut ends, p, cur),
            _ => shared_frames(&mut ends, &[], cur),
        };
        close(&mut open, &mut light, shared as u32, at, false);
        let from = ends.last().copied().unwrap_or(0);
        ends.extend(code::frames(cur.get(from..).unwrap_or_default()).map(|(_, e)| from + e));
        if ends.len() > shared {
            open.push(Segment {
                start: at,
                weight: 0,
                deepest: ends.len() as u32,
            });
        }
        // The row's weight is in every open node: they are its path's.
        if let Some(node) = open.last_mut() {
            node.weight = node.weight.saturating_add(weight(row));
        }
        prev = Some((group, cur));
    }
    close(&mut open, &mut light, 0, order.len() as u32, true);
    (light, spine_weights)
}

impl StackBatch {
    /// Replace each frame `f` of every path by `reps[f]`, which is never
    /// a later frame (so never longer in [`code`]): the paths are rewritten
    /// in place, front to back. The index is stale after.
    fn replace_frames(&mut self, reps: &[FrameId]) {
        let mut scratch = Vec::new();
        let mut write = 0;
        for i in 0..self.starts.len() {
            let start = self.starts.get(i).copied().unwrap_or(0);
            let end = self.starts.get(i + 1).copied().unwrap_or(self.bytes.len());
            scratch.clear();
            for (f, _) in code::frames(self.bytes.get(start..end).unwrap_or_default()) {
                let r = reps.get(f as usize).map_or(f, |r| r.index() as u32);
                code::push(&mut scratch, r.min(f));
            }
            if let Some(dst) = self.bytes.get_mut(write..write + scratch.len()) {
                dst.copy_from_slice(&scratch);
            }
            if let Some(s) = self.starts.get_mut(i) {
                *s = write;
            }
            write += scratch.len();
        }
        self.bytes.truncate(write);
    }
}

/// How many rows ahead [`StackBatch::intern_cut`] asks for a row; its
/// path's start is asked for half as far ahead, its bytes a quarter.
const PREFETCH_ROWS: usize = 16;

/// An entry of [`StackBatch::index`]: the high half of a path's hash above
/// its id.
fn entry(high: u32, id: u32) -> u64 {
    u64::from(high) << 32 | u64::from(id)
}

/// The hash the index files an entry under, from the entry alone (so that
/// growing the index need not hash the paths again): its hash half, spread
/// over 64 bits.
fn table_hash(entry: u64) -> u64 {
    (entry >> 32).wrapping_mul(0x9e37_79b9_7f4a_7c15)
}

/// How many whole frames `prev` and `cur` share, with `ends` (where each
/// frame of `prev` ends) cut to them. A frame boundary of `prev` within
/// their common bytes is one of `cur` too: the code is prefix-free.
fn shared_frames(ends: &mut Vec<usize>, prev: &[u8], cur: &[u8]) -> usize {
    let common = common_prefix(prev, cur);
    let shared = ends.partition_point(|&e| e <= common);
    ends.truncate(shared);
    shared
}

/// Frame ids as path bytes: a prefix-free code whose byte order is the
/// ids' order, so that paths compare frame by frame as bytes, and the ids
/// of most profiles (below 16,512) take one or two bytes.
mod code {
    /// Ids below: one byte `0xxxxxxx`.
    const ONE: u32 = 0x80;
    /// Ids below: `10xxxxxx` and a byte, of the id less [`ONE`].
    const TWO: u32 = ONE + 0x4000;
    /// Ids below: `110xxxxx` and two bytes, of the id less [`TWO`]; the
    /// rest are `0xE0` and the id's four bytes.
    const THREE: u32 = TWO + 0x20_0000;

    /// Append the code of `id`.
    #[inline]
    pub(super) fn push(out: &mut Vec<u8>, id: u32) {
        if id < ONE {
            out.push(id as u8);
        } else if id < TWO {
            let v = id - ONE;
            out.extend_from_slice(&[0x80 | (v >> 8) as u8, v as u8]);
        } else if id < THREE {
            let v = id - TWO;
            out.extend_from_slice(&[0xC0 | (v >> 16) as u8, (v >> 8) as u8, v as u8]);
        } else {
            out.push(0xE0);
            out.extend_from_slice(&id.to_be_bytes());
        }
    }

    /// The first id of `bytes` and its code's length; `None` at the end
    /// (or at a cut code, which [`push`] never writes).
    fn first(bytes: &[u8]) -> Option<(u32, usize)> {
        let b = |i: usize| bytes.get(i).map(|&b| u32::from(b));
        let b0 = b(0)?;
        Some(match b0 {
            0..=0x7F => (b0, 1),
            0x80..=0xBF => (ONE + ((b0 & 0x3F) << 8 | b(1)?), 2),
            0xC0..=0xDF => (TWO + ((b0 & 0x1F) << 16 | b(1)? << 8 | b(2)?), 3),
            _ => (b(1)? << 24 | b(2)? << 16 | b(3)? << 8 | b(4)?, 5),
        })
    }

    /// The ids of `bytes`, each with where its code ends.
    pub(super) fn frames(bytes: &[u8]) -> impl Iterator<Item = (u32, usize)> + '_ {
        let mut at = 0;
        std::iter::from_fn(move || {
            let (id, len) = first(bytes.get(at..)?)?;
            at += len;
            Some((id, at))
        })
    }
}

/// A path being built root first, in the encoding of [`StackBatch`]: a
/// path that shares its outer frames with the previous one keeps their
/// encoding (cut back to a [`PathMark`] and continued), and
/// [`StackBatch::add_built`] copies it rather than encoding every frame.
///
/// ```
/// use stackconv_model::{FrameKind, PathBuilder, Profile, StackBatch};
///
/// let mut p = Profile::default();
/// let [a, b, c] = ["a", "b", "c"].map(|n| p.intern_frame_named(n, FrameKind::Native));
/// let mut batch = StackBatch::default();
/// let mut path = PathBuilder::default();
/// path.push(a);
/// path.push(b);
/// let after_b = path.mark();
/// path.push(c);
/// let abc = batch.add_built(&path);
/// path.truncate(after_b);
/// let ab = batch.add_built(&path);
/// assert_eq!(batch.add(&[a, b, c]), abc);
/// assert_eq!(batch.add(&[a, b]), ab);
/// ```
#[derive(Clone, Debug, Default)]
pub struct PathBuilder {
    bytes: Vec<u8>,
}

/// How much of a [`PathBuilder`]'s path there was when the mark was
/// taken.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PathMark(usize);

impl PathBuilder {
    /// Append a frame, inside the frames before it.
    #[inline]
    pub fn push(&mut self, frame: FrameId) {
        code::push(&mut self.bytes, frame.index() as u32);
    }

    /// The path so far, to come back to with [`Self::truncate`].
    #[inline]
    pub fn mark(&self) -> PathMark {
        PathMark(self.bytes.len())
    }

    /// Back to the path as it was at `mark`, which was taken of this path
    /// or of a path it starts with (a mark of a path since cut away may
    /// fall inside a frame's code: the path is then wrong, not unsafe).
    /// A mark past the end changes nothing.
    #[inline]
    pub fn truncate(&mut self, mark: PathMark) {
        self.bytes.truncate(mark.0);
    }

    /// Empty the path.
    pub fn clear(&mut self) {
        self.bytes.clear();
    }

    /// Append a key: a number of the caller's own standing for frames not
    /// known yet (an address not named yet), for a batch of such paths
    /// to be turned into frames by [`StackBatch::expand`]. A path holds
    /// keys or frames, not both.
    #[inline]
    pub fn push_key(&mut self, key: u32) {
        code::push(&mut self.bytes, key);
    }
}

/// A sample row for [`StackBatch::intern_cut`]: its path, the root it is
/// drawn under, its weight.
struct Row {
    path: PathId,
    group: u32,
    weight: u64,
}

/// `items` (group, id) sorted by group, then by `path(id)` in byte order
/// (a path before the longer paths it starts), as (key, group, id)
/// entries; equal paths of a group in no particular order.
///
/// A most-significant-first radix sort by seven bytes at a time: every
/// comparison is of two integers in the array being sorted (the group, then
/// [`sort_key`] of the next seven bytes), and only the runs that tie on
/// them, with more bytes to come, are keyed again seven bytes further on.
/// Paths are read in order of their bytes, never two from random places
/// per comparison.
///
/// Runs are refined one by one while one of them holds most entries (the
/// outer frames all paths share), then the runs left are refined on all
/// cores, each on its own part of the array.
fn sort_paths<'p>(
    items: Vec<(u32, u32)>,
    path: impl Fn(u32) -> &'p [u8] + Sync,
) -> Vec<(u64, u32, u32)> {
    let mut order: Vec<(u64, u32, u32)> = items
        .into_iter()
        .map(|(group, id)| (sort_key(path(id), 0), group, id))
        .collect();
    order.par_sort_unstable_by_key(|&(key, group, _)| (group, key));
    // Runs still to sort: (start, end, byte offset their keys are at).
    let mut todo: Vec<(usize, usize, usize)> = Vec::new();
    push_ties(&order, 0, order.len(), 0, &mut todo);
    while let Some(i) = todo
        .iter()
        .position(|&(start, end, _)| (end - start) * 2 > order.len())
    {
        let (start, end, offset) = todo.swap_remove(i);
        refine(&mut order, start, end, offset, &path, &mut todo);
    }
    // The runs are disjoint: cut the array into them, in order.
    todo.sort_unstable_by_key(|&(start, _, _)| start);
    let mut parts = Vec::with_capacity(todo.len());
    let mut rest = order.as_mut_slice();
    let mut at = 0;
    for &(start, end, offset) in &todo {
        let (_, tail) = rest.split_at_mut(start.saturating_sub(at).min(rest.len()));
        let (run, tail) = tail.split_at_mut((end - start).min(tail.len()));
        parts.push((run, offset));
        rest = tail;
        at = end;
    }
    parts.into_par_iter().for_each(|(run, offset)| {
        let mut todo = vec![(0, run.len(), offset)];
        while let Some((start, end, offset)) = todo.pop() {
            refine(run, start, end, offset, &path, &mut todo);
        }
    });
    order
}

/// Sort `order[start..end]` (entries that tie up to `offset`) by their
/// keys from `offset + KEY_BYTES`, and add the runs that tie on those too
/// to `todo`.
fn refine<'p>(
    order: &mut [(u64, u32, u32)],
    start: usize,
    end: usize,
    offset: usize,
    path: &impl Fn(u32) -> &'p [u8],
    todo: &mut Vec<(usize, usize, usize)>,
) {
    let next = offset + KEY_BYTES;
    let Some(run) = order.get_mut(start..end) else {
        return;
    };
    for i in 0..run.len() {
        // The paths lie all over memory: a coming one's bytes are asked
        // for ahead.
        if let Some(&(_, _, ahead)) = run.get(i + PREFETCH_ROWS / 4) {
            prefetch(path(ahead).get(next));
        }
        if let Some(e) = run.get_mut(i) {
            e.0 = sort_key(path(e.2), next);
        }
    }
    if run.len() > PARALLEL_SORT {
        run.par_sort_unstable_by_key(|&(key, _, _)| key);
    } else {
        run.sort_unstable_by_key(|&(key, _, _)| key);
    }
    push_ties(order, start, end, next, todo);
}

/// Runs longer than this are sorted on all cores.
const PARALLEL_SORT: usize = 1 << 16;

/// Path bytes a sort key holds.
const KEY_BYTES: usize = 7;

/// Add to `todo` the runs of `order[start..end]` (sorted) whose entries
/// tie on group and key and have more bytes past the key: they are keyed
/// again at `offset + KEY_BYTES`.
fn push_ties(
    order: &[(u64, u32, u32)],
    start: usize,
    end: usize,
    offset: usize,
    todo: &mut Vec<(usize, usize, usize)>,
) {
    let mut i = start;
    while i < end {
        let Some(&(key, group, _)) = order.get(i) else {
            break;
        };
        let mut j = i + 1;
        while order
            .get(j)
            .is_some_and(|&(k, g, _)| j < end && k == key && g == group)
        {
            j += 1;
        }
        // More than the key's bytes left: the low byte says so.
        if j - i > 1 && key & 0xFF > KEY_BYTES as u64 {
            todo.push((i, j, offset));
        }
        i = j;
    }
}

/// The seven bytes of `path` from `offset`, zero-padded, then how many
/// bytes it has from there (at most eight), as a number that orders as the
/// paths do: a path ending within the seven bytes sorts before a longer
/// one with the same bytes (and zeros after them). Equal keys with the low
/// byte 8 need the bytes past the key.
#[inline]
fn sort_key(path: &[u8], offset: usize) -> u64 {
    let rest = path.get(offset..).unwrap_or_default();
    // Most keys: eight bytes read as one word, the last replaced by 8.
    if let Some(word) = rest.get(..8).and_then(|w| <[u8; 8]>::try_from(w).ok()) {
        return (u64::from_be_bytes(word) & !0xFF) | 8;
    }
    let mut key = [0u8; 8];
    let n = rest.len().min(KEY_BYTES);
    if let (Some(k), Some(p)) = (key.get_mut(..n), rest.get(..n)) {
        k.copy_from_slice(p);
    }
    if let Some(len) = key.get_mut(KEY_BYTES) {
        *len = rest.len().min(KEY_BYTES + 1) as u8;
    }
    u64::from_be_bytes(key)
}

/// The length in bytes of the common prefix of `a` and `b`: eight bytes
/// at a time, the first differing byte found from the words' difference.
fn common_prefix(a: &[u8], b: &[u8]) -> usize {
    let word = |c: &[u8]| {
        let mut w = [0u8; 8];
        w.copy_from_slice(c);
        u64::from_le_bytes(w)
    };
    let mut n = 0;
    for (x, y) in a.chunks_exact(8).zip(b.chunks_exact(8)) {
        let diff = word(x) ^ word(y);
        if diff != 0 {
            // Little-endian: the first byte is the lowest.
            return n + (diff.trailing_zeros() / 8) as usize;
        }
        n += 8;
    }
    let rest_a = a.get(n..).unwrap_or_default();
    let rest_b = b.get(n..).unwrap_or_default();
    n + rest_a
        .iter()
        .zip(rest_b)
        .take_while(|(x, y)| x == y)
        .count()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    thread_local! {
        /// See [`halves_from`].
        pub(super) static HALVES_FROM: std::cell::Cell<usize> =
            const { std::cell::Cell::new(PARALLEL_PATHS) };
    }

    /// [`light_runs`] as it was written first: a step per frame, each node
    /// open on its own.
    fn light_runs_by_node<'p>(
        order: &[(u64, u32, u32)],
        weight: impl Fn(u32) -> u64,
        path_of: impl Fn(u32) -> &'p [u8],
        min_weight: f64,
    ) -> Vec<(u32, u32, u32)> {
        let mut open: Vec<(u32, u64)> = Vec::new();
        let mut light: Vec<(u32, u32, u32)> = Vec::new();
        let close = |open: &mut Vec<(u32, u64)>, light: &mut Vec<_>, depth: usize, end: u32| {
            while open.len() > depth {
                let Some((start, weight)) = open.pop() else {
                    break;
                };
                if let Some(caller) = open.last_mut() {
                    caller.1 = caller.1.saturating_add(weight);
                }
                // Drawn when at least the minimum (a NaN minimum draws
                // nothing).
                let drawn = (weight as f64) >= min_weight;
                if !drawn {
                    while light.last().is_some_and(|&(s, _, _)| s >= start) {
                        light.pop();
                    }
                    light.push((start, end, open.len() as u32 + 1));
                }
            }
        };
        let mut prev: Option<(u32, &[u8])> = None;
        let mut ends: Vec<usize> = Vec::new();
        for (at, &(_, group, row)) in order.iter().enumerate() {
            let at = at as u32;
            let cur = path_of(row);
            let shared = match prev {
                Some((g, p)) if g == group => shared_frames(&mut ends, p, cur),
                _ => shared_frames(&mut ends, &[], cur),
            };
            close(&mut open, &mut light, shared, at);
            let from = ends.last().copied().unwrap_or(0);
            ends.extend(code::frames(cur.get(from..).unwrap_or_default()).map(|(_, e)| from + e));
            while open.len() < ends.len() {
                open.push((at, 0));
            }
            if let Some(node) = open.last_mut() {
                node.1 = node.1.saturating_add(weight(row));
            }
            prev = Some((group, cur));
        }
        close(&mut open, &mut light, 0, order.len() as u32);
        light
    }

    /// A profile of a samples column with two threads of one process and
    /// four frames, `f0` to `f3`.
    pub(super) fn two_threads_four_frames() -> (Profile, [crate::ThreadId; 2], Vec<FrameId>) {
        let mut p = Profile::new(vec![crate::ValueType::new("samples", "count")]);
        let threads = [
            p.intern_thread_named(Some(1), Some(1), "a", "app"),
            p.intern_thread_named(Some(1), Some(2), "b", "app"),
        ];
        let frames = (0..4)
            .map(|i| p.intern_frame_named(&format!("f{i}"), crate::FrameKind::Native))
            .collect();
        (p, threads, frames)
    }

    /// Cutting at `min_percent` where every frame and thread is drawn
    /// apart.
    fn every_frame_drawn(min_percent: f64) -> crate::pruning::FlameGraphPruning {
        every_frame_drawn_rooted(min_percent, false)
    }

    /// [`every_frame_drawn`], with threads under one root, or each under
    /// its own.
    pub(super) fn every_frame_drawn_rooted(
        min_percent: f64,
        root_per_thread: bool,
    ) -> crate::pruning::FlameGraphPruning {
        crate::pruning::FlameGraphPruning {
            min_width_percent: min_percent,
            column: None,
            keys: std::sync::Arc::new(move |p: &Profile| {
                let n = p.threads().len() as u32;
                Some(crate::pruning::DrawnKeys {
                    frames: p.frames().iter().map(|(id, _)| id).collect(),
                    threads: (0..n)
                        .map(|t| if root_per_thread { t } else { 0 })
                        .collect(),
                })
            }),
        }
    }

    proptest! {
        /// A fresh table built in two parts, split anywhere, is the table
        /// built in one.
        #[test]
        fn fresh_tables_built_in_two_parts_are_built_in_one(
            paths in proptest::collection::vec(proptest::collection::vec(0u32..300, 0..7), 1..40),
        ) {
            let mut batch = StackBatch::default();
            for frames in &paths {
                let frames: Vec<FrameId> = frames.iter().map(|&f| FrameId::from_index(f)).collect();
                batch.add(&frames);
            }
            let order = sort_paths(
                (0..batch.starts.len() as u32).map(|id| (0, id)).collect(),
                |id| batch.path(id),
            );
            let whole = batch.build_fresh(&order, order.len());
            for split in 0..order.len() {
                prop_assert_eq!(&batch.build_fresh(&order, split), &whole, "split at {}", split);
            }
        }

        /// Open nodes kept as segments find the light runs a step per
        /// frame finds.
        #[test]
        fn light_runs_by_segment_are_those_by_node(
            rows in proptest::collection::vec(
                (proptest::collection::vec(0u32..4, 0..7), 0u32..2, 0u64..6),
                1..60,
            ),
            min_weight in 0.0f64..12.0,
        ) {
            let mut batch = StackBatch::default();
            let paths: Vec<PathId> = rows
                .iter()
                .map(|(frames, _, _)| {
                    let frames: Vec<FrameId> = frames.iter().map(|&f| FrameId::from_index(f)).collect();
                    batch.add(&frames)
                })
                .collect();
            let path_of = |row: u32| batch.path(paths[row as usize].0);
            let order = sort_paths(
                rows.iter().zip(0u32..).map(|((_, g, _), i)| (*g, i)).collect(),
                path_of,
            );
            let weight = |row: u32| rows[row as usize].2;
            let by_segment = light_runs(&order, weight, path_of, |_| {}, min_weight);
            let by_node = light_runs_by_node(&order, weight, path_of, min_weight);
            prop_assert_eq!(&by_segment, &by_node);
            // Walked in two halves, cut anywhere: the same runs, or none
            // when a node both halves go through is light (then walked in
            // one); at a minimum of 0 every node is heavy.
            for seam in 1..order.len() {
                let depth = shared_at(&order, &path_of, seam).unwrap_or(0);
                let halves =
                    light_runs_halves(&order, seam, depth, &weight, &path_of, &|_| {}, min_weight);
                if let Some(halves) = &halves {
                    prop_assert_eq!(halves, &by_node, "seam {} sharing {}", seam, depth);
                }
                // None only when a node of the spine is light.
                let (_, group, row) = order[seam - 1];
                let spine_heavy = code::frames(path_of(row)).take(depth as usize).all(|(_, end)| {
                    let prefix = &path_of(row)[..end];
                    let weight: u64 = order
                        .iter()
                        .filter(|&&(_, g, r)| g == group && path_of(r).starts_with(prefix))
                        .map(|&(_, _, r)| weight(r))
                        .sum();
                    (weight as f64) >= min_weight
                });
                prop_assert_eq!(halves.is_some(), spine_heavy, "seam {}", seam);
                let all_heavy =
                    light_runs_halves(&order, seam, depth, &weight, &path_of, &|_| {}, 0.0);
                prop_assert!(all_heavy.is_some_and(|r| r.is_empty()));
            }
        }

        /// Rows folded by path and interned are the rows interned one by
        /// one and folded after: the same weight per stack and thread, in
        /// the same stack table; marked folded exactly when not cut.
        #[test]
        fn rows_folded_by_path_are_rows_folded_after(
            rows in proptest::collection::vec(
                (proptest::collection::vec(0u32..4, 0..6), 0usize..2, 0u64..5),
                1..80,
            ),
            min_percent in proptest::option::of(0.0f64..30.0),
        ) {
            let (mut p, threads, frames) = two_threads_four_frames();
            let mut batch = StackBatch::default();
            let paths: Vec<PathId> = rows
                .iter()
                .map(|(path, t, w)| {
                    p.push_sample(None, threads[*t], None, &[*w as i64]);
                    let path: Vec<FrameId> = path.iter().map(|&f| frames[f as usize]).collect();
                    batch.add(&path)
                })
                .collect();
            let pruning = min_percent.map(every_frame_drawn);
            let mut each = p.clone();
            let cut_each = batch.clone().intern_samples(&mut each, &paths, pruning.as_ref());
            let mut folded = p;
            let cut = batch.intern_folded_samples(&mut folded, paths, pruning.as_ref());
            prop_assert_eq!(cut, cut_each);
            prop_assert_eq!(folded.samples().is_folded(), !cut);
            prop_assert!(!each.samples().is_folded());
            let sums = |q: &Profile| {
                let mut m = std::collections::BTreeMap::new();
                for s in q.iter_samples() {
                    *m.entry((s.stack, s.thread)).or_insert(0) += s.values[0];
                }
                m
            };
            prop_assert_eq!(folded.stacks().nodes(), each.stacks().nodes());
            prop_assert_eq!(sums(&folded), sums(&each));
            if !cut {
                prop_assert_eq!(folded.samples().len(), sums(&each).len());
            }
        }

        /// Rows cut by the light runs found in two halves are cut as by
        /// the runs found in one: the same stacks, numbered alike.
        #[test]
        fn stacks_cut_in_two_halves_are_cut_in_one(
            rows in proptest::collection::vec(
                (proptest::collection::vec(0u32..5, 0..9), 0u64..4),
                1..400,
            ),
            min_percent in 0.0f64..30.0,
        ) {
            let mut p = Profile::new(vec![crate::ValueType::new("samples", "count")]);
            let t = p.intern_thread(Default::default());
            let frames: Vec<FrameId> = (0..5)
                .map(|i| p.intern_frame_named(&format!("f{i}"), crate::FrameKind::Native))
                .collect();
            let mut batch = StackBatch::default();
            let paths: Vec<PathId> = rows
                .iter()
                .map(|(path, w)| {
                    p.push_sample(None, t, None, &[*w as i64]);
                    let path: Vec<FrameId> = path.iter().map(|&f| frames[f as usize]).collect();
                    batch.add(&path)
                })
                .collect();
            let pruning = every_frame_drawn(min_percent);
            let mut whole = p.clone();
            let mut halves = p.clone();
            HALVES_FROM.with(|h| h.set(usize::MAX));
            let cut_whole = batch.clone().intern_samples(&mut whole, &paths, Some(&pruning));
            HALVES_FROM.with(|h| h.set(2));
            let cut_halves = batch.intern_samples(&mut halves, &paths, Some(&pruning));
            HALVES_FROM.with(|h| h.set(PARALLEL_PATHS));
            prop_assert!(cut_whole && cut_halves);
            prop_assert_eq!(whole.stacks().nodes(), halves.stacks().nodes());
            prop_assert_eq!(whole.samples().stacks(), halves.samples().stacks());
        }
    }

    #[test]
    fn codes_order_as_ids_and_read_back() {
        let ids = [
            0,
            1,
            0x7F,
            0x80,
            0x81,
            0x407F,
            0x4080,
            0x4081,
            0x20_407F,
            0x20_4080,
            0x20_4081,
            u32::MAX - 1,
            u32::MAX,
        ];
        let coded: Vec<Vec<u8>> = ids
            .iter()
            .map(|&id| {
                let mut v = Vec::new();
                code::push(&mut v, id);
                v
            })
            .collect();
        for (pair, ids) in coded.windows(2).zip(ids.windows(2)) {
            assert!(pair[0] < pair[1], "{:x} orders before {:x}", ids[0], ids[1]);
            // Prefix-free: no code starts another.
            assert!(!pair[1].starts_with(&pair[0]));
        }
        let all: Vec<u8> = coded.concat();
        let back: Vec<u32> = code::frames(&all).map(|(id, _)| id).collect();
        assert_eq!(back, ids);
    }

    #[test]
    fn paths_sort_as_their_bytes() {
        // Paths of few distinct bytes (zeros among them), many the
        // prefixes of others, of two groups: ties at every key offset.
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        let paths: Vec<Vec<u8>> = (0..3001)
            .map(|_| {
                let len = (next() % 30) as usize;
                (0..len)
                    .map(|i| if i < 9 { 1 } else { (next() % 3) as u8 })
                    .collect()
            })
            .collect();
        // One group: the first runs hold most paths and are refined one
        // by one before the rest are refined in parallel; several: the
        // parts are the groups.
        for groups in [1, 2, 5] {
            let items: Vec<(u32, u32)> = (0..paths.len() as u32).map(|i| (i % groups, i)).collect();
            let sorted = sort_paths(items.clone(), |i| &paths[i as usize]);
            let mut expected = items;
            expected.sort_by(|a, b| (a.0, &paths[a.1 as usize]).cmp(&(b.0, &paths[b.1 as usize])));
            let got: Vec<(u32, &[u8])> = sorted
                .iter()
                .map(|&(_, g, i)| (g, &paths[i as usize][..]))
                .collect();
            let want: Vec<(u32, &[u8])> = expected
                .iter()
                .map(|&(g, i)| (g, &paths[i as usize][..]))
                .collect();
            assert_eq!(got, want, "{groups} groups");
        }
    }

    #[test]
    fn common_prefix_lengths() {
        assert_eq!(common_prefix(b"", b"abc"), 0);
        assert_eq!(common_prefix(b"abcdefghij", b"abcdefghik"), 9);
        assert_eq!(common_prefix(b"abcdefgh", b"abcdefgh"), 8);
        assert_eq!(common_prefix(b"abcdefgxyz", b"abcdefghij"), 7);
        assert_eq!(common_prefix(b"ab", b"abcdefghijkl"), 2);
        assert_eq!(common_prefix(b"abcXefghijkl", b"abcYefghijkl"), 3);
        assert_eq!(common_prefix(b"abcdefghijkX", b"abcdefghijkY"), 11);
    }
}
