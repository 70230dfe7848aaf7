//! The profile: tables, value columns, samples and meta data.

use crate::strings::{StringId, StringTable};
use crate::tables::{
    Frame, FrameId, FrameKind, FrameTable, StackId, StackNode, StackTable, Thread, ThreadId,
    ThreadTable,
};

/// What one value column measures: a kind and a unit, as in pprof's
/// `ValueType` (`samples`/`count`, `cpu`/`nanoseconds`,
/// `off-cpu`/`nanoseconds`, `alloc_space`/`bytes`, ...).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ValueType {
    /// What is measured, e.g. `cpu-clock`, `samples`, `inuse_space`.
    pub kind: String,
    /// Its unit, e.g. `nanoseconds`, `count`, `bytes`.
    pub unit: String,
}

impl ValueType {
    /// A value type from its kind and unit.
    pub fn new(kind: impl Into<String>, unit: impl Into<String>) -> Self {
        ValueType {
            kind: kind.into(),
            unit: unit.into(),
        }
    }
}

/// Something dropped or not resolved on the way in, counted for the report.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Loss {
    /// What was lost, e.g. `lost records`, `unresolved addresses in /usr/bin/app (file missing)`.
    pub what: String,
    /// How many.
    pub count: u64,
}

/// Where a profile came from and what was lost on the way.
///
/// Read it with [`Profile::meta`], change it with [`Profile::meta_mut`];
/// fields may be added (it is `#[non_exhaustive]`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Meta {
    /// The input format's name (`perf.data`, `perf script`, `folded`, ...).
    pub source_format: String,
    /// Event names the input carried (perf events, pprof sample types).
    pub events: Vec<String>,
    /// Wall-clock start of the recording, nanoseconds since the Unix epoch.
    pub start_time_ns: Option<u64>,
    /// Duration of the recording in nanoseconds.
    pub duration_ns: Option<u64>,
    /// Sampling period, when the input states one (pprof `period`).
    pub period: Option<(ValueType, i64)>,
    /// What was dropped or not resolved, counted.
    pub losses: Vec<Loss>,
    /// Other observations worth telling the user (files missing, build id
    /// mismatches, ...).
    pub warnings: Vec<String>,
    /// The value column that single-value outputs (SVG, folded, top) show
    /// unless the user names another: 0 for perf (the first event), pprof's
    /// `default_sample_type` (or its last sample type).
    pub default_value: usize,
    /// Whether folded-style outputs put each sample's thread name (its
    /// comm) as the root frame, as `inferno-collapse-perf` does for perf
    /// input. Readers of perf data set it; readers whose stacks already carry
    /// their root frames (folded, py-spy) leave it false.
    pub comm_root: bool,
    /// Binaries the samples ran in, with their build ids, for outputs that
    /// carry mappings (pprof). The main executable, when a reader knows it,
    /// comes first (even when no sample ran in it itself).
    pub modules: Vec<Module>,
}

/// A binary or library that samples ran in.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Module {
    /// Its path as recorded.
    pub path: String,
    /// Its build id (GNU build id bytes), when known.
    pub build_id: Option<Vec<u8>>,
}

impl Module {
    /// A module from its path and build id.
    ///
    /// ```
    /// let m = stackconv_model::Module::new("/usr/bin/app", Some(vec![0xab, 0xcd]));
    /// assert_eq!(m.path, "/usr/bin/app");
    /// ```
    pub fn new(path: impl Into<String>, build_id: Option<Vec<u8>>) -> Module {
        Module {
            path: path.into(),
            build_id,
        }
    }
}

/// A pprof-style label on a sample: a key and a string or a number.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Label {
    /// The key.
    pub key: StringId,
    /// The string value, [`StringId::EMPTY`] for a numeric label.
    pub str: StringId,
    /// The numeric value (0 for a string label).
    pub num: i64,
    /// The numeric value's unit, [`StringId::EMPTY`] when unstated.
    pub num_unit: StringId,
}

impl Loss {
    /// `count` items of data lost, described by `what`.
    ///
    /// ```
    /// let l = stackconv_model::Loss::new("lost samples", 3);
    /// assert_eq!((l.what.as_str(), l.count), ("lost samples", 3));
    /// ```
    pub fn new(what: impl Into<String>, count: u64) -> Loss {
        Loss {
            what: what.into(),
            count,
        }
    }
}

impl Meta {
    /// Add `count` to the loss named `what`.
    pub fn add_loss(&mut self, what: &str, count: u64) {
        if count == 0 {
            return;
        }
        match self.losses.iter_mut().find(|l| l.what == what) {
            Some(l) => l.count = l.count.saturating_add(count),
            None => self.losses.push(Loss {
                what: what.to_string(),
                count,
            }),
        }
    }
}

/// The samples, as columns of equal length: read them through
/// [`Profile::samples`], add them with [`Profile::push_sample`].
///
/// ```
/// use stackconv_model::{FrameKind, Profile, ValueType};
///
/// let mut p = Profile::new(vec![ValueType::new("samples", "count")]);
/// let main = p.intern_frame_named("main", FrameKind::Native);
/// let stack = p.intern_stack_frames([main]);
/// let t = p.intern_thread_named(Some(1), Some(1), "app", "app");
/// p.push_sample(stack, t, Some(10), &[2]);
/// p.push_sample(None, t, Some(20), &[5]);
///
/// let s = p.samples();
/// assert_eq!(s.len(), 2);
/// assert_eq!(s.stacks(), [stack, None]);
/// assert_eq!(s.times(), Some(&[10, 20][..]));
/// assert_eq!(s.column(0), Some(&[2, 5][..]));
/// assert!(s.labels().is_none());
/// ```
#[derive(Clone, Debug, Default)]
pub struct Samples {
    /// The leaf of each sample's stack; `None` for an empty stack.
    pub(crate) stacks: Vec<Option<StackId>>,
    /// The thread of each sample.
    pub(crate) threads: Vec<ThreadId>,
    /// Timestamps in nanoseconds, when the input had them for every sample.
    pub(crate) times: Option<Vec<u64>>,
    /// One column per value type, each as long as `stacks`.
    pub(crate) values: Vec<Vec<i64>>,
    /// Labels of each sample (pprof), when the input had any; kept by
    /// [`Profile::map_stacks`] and [`Profile::filter_samples`], dropped by
    /// [`Profile::fold`].
    pub(crate) labels: Option<Vec<Vec<Label>>>,
    /// Whether the samples are folded ([`Samples::is_folded`]): set only
    /// where that is known (folding, a subset of folded samples, a batch
    /// interned from rows folded by path), cleared by every change that
    /// could make two samples alike or add a time or labels.
    pub(crate) folded: bool,
}

impl Samples {
    /// How many samples there are.
    pub fn len(&self) -> usize {
        self.stacks.len()
    }

    /// Whether there are no samples.
    pub fn is_empty(&self) -> bool {
        self.stacks.is_empty()
    }

    /// The leaf of each sample's stack (`None` for an empty stack).
    pub fn stacks(&self) -> &[Option<StackId>] {
        &self.stacks
    }

    /// The thread of each sample.
    pub fn threads(&self) -> &[ThreadId] {
        &self.threads
    }

    /// Each sample's timestamp in nanoseconds, when every sample has one.
    pub fn times(&self) -> Option<&[u64]> {
        self.times.as_deref()
    }

    /// The value columns, one per value type, each as long as the samples.
    pub fn values(&self) -> &[Vec<i64>] {
        &self.values
    }

    /// Value column `column`, one value per sample.
    pub fn column(&self, column: usize) -> Option<&[i64]> {
        self.values.get(column).map(Vec::as_slice)
    }

    /// Each sample's labels (pprof), when the input had any.
    pub fn labels(&self) -> Option<&[Vec<Label>]> {
        self.labels.as_deref()
    }

    /// Whether the samples are known to be folded, as
    /// [`Profile::into_folded`] leaves them: no two samples of one stack
    /// and thread, no timestamps, no labels. Then folding again changes
    /// nothing, and a writer that merges samples by stack and thread need
    /// not. `false` says nothing: the samples may be folded all the same.
    ///
    /// ```
    /// use stackconv_model::{FrameKind, Profile, ValueType};
    ///
    /// let mut p = Profile::new(vec![ValueType::new("samples", "count")]);
    /// let main = p.intern_frame_named("main", FrameKind::Native);
    /// let stack = p.intern_stack_frames([main]);
    /// let t = p.intern_thread(Default::default());
    /// p.push_sample(stack, t, None, &[2]);
    /// p.push_sample(stack, t, None, &[3]);
    /// assert!(!p.samples().is_folded());
    /// let p = p.into_folded();
    /// assert!(p.samples().is_folded());
    /// assert_eq!(p.samples().column(0), Some(&[5][..]));
    /// ```
    pub fn is_folded(&self) -> bool {
        self.folded
    }

    /// Whether no two samples have one stack and thread, found by looking
    /// at every sample (a hash set of them): what [`Samples::is_folded`]
    /// promises, checked.
    ///
    /// ```
    /// use stackconv_model::{Profile, ValueType};
    ///
    /// let mut p = Profile::new(vec![ValueType::new("samples", "count")]);
    /// let t = p.intern_thread(Default::default());
    /// p.push_sample(None, t, None, &[1]);
    /// assert!(p.samples().are_distinct());
    /// p.push_sample(None, t, None, &[1]);
    /// assert!(!p.samples().are_distinct());
    /// ```
    pub fn are_distinct(&self) -> bool {
        let mut seen = rustc_hash::FxHashSet::default();
        self.stacks
            .iter()
            .zip(&self.threads)
            .all(|pair| seen.insert(pair))
    }

    /// Keep the samples whose entry in `keep` is true (those past its end
    /// too), in order, in every column.
    pub(crate) fn retain(&mut self, keep: &[bool]) {
        fn retain<T>(v: &mut Vec<T>, keep: &[bool]) {
            let mut i = 0;
            v.retain(|_| {
                let k = keep.get(i).copied().unwrap_or(true);
                i += 1;
                k
            });
        }
        retain(&mut self.stacks, keep);
        retain(&mut self.threads, keep);
        if let Some(times) = &mut self.times {
            retain(times, keep);
        }
        for column in &mut self.values {
            retain(column, keep);
        }
        if let Some(labels) = &mut self.labels {
            retain(labels, keep);
        }
    }
}

/// A column that does not have one entry per sample
/// ([`Profile::set_labels`]), or value types changed under existing
/// samples ([`Profile::set_value_types`]).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("a column of {got} entries for {expected} samples")]
#[non_exhaustive]
pub struct ColumnLengthError {
    /// How many samples the profile has.
    pub expected: usize,
    /// How many entries the column had.
    pub got: usize,
}

/// One sample, borrowed from a [`Profile`].
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct SampleRef {
    /// The sample's index.
    pub index: usize,
    /// Its stack.
    pub stack: Option<StackId>,
    /// Its thread.
    pub thread: ThreadId,
    /// Its timestamp, if the profile has them.
    pub time: Option<u64>,
    /// Its values, one per value type.
    pub values: Vec<i64>,
}

/// The last stack interned through [`Profile::intern_stack_cached`]: its
/// frames and their stack nodes, root first.
#[derive(Clone, Debug, Default)]
pub struct StackCache {
    frames: Vec<FrameId>,
    nodes: Vec<StackId>,
}

/// Aggregate samples with equal (stack, thread), values summed, in order of
/// first appearance; times and labels dropped. Samples known to be folded
/// are given back as they are.
fn fold_samples(mut samples: Samples) -> Samples {
    if samples.folded {
        return samples;
    }
    let rows = samples.len();
    let keys = samples
        .stacks
        .iter()
        .copied()
        .zip(samples.threads.iter().copied());
    if let Some(keep) = merge_into_first(keys, rows, &mut samples.values) {
        samples.retain(&keep);
    }
    samples.times = None;
    samples.labels = None;
    samples.folded = true;
    samples
}

/// Add the values (`values`: columns of `rows` rows) of each row whose key
/// (`keys`, one per row) an earlier row has to that earlier row's: which
/// rows are left to keep, or `None` when no key repeats (all are).
pub(crate) fn merge_into_first<K: std::hash::Hash + Eq>(
    keys: impl IntoIterator<Item = K>,
    rows: usize,
    values: &mut [Vec<i64>],
) -> Option<Vec<bool>> {
    let mut first: rustc_hash::FxHashMap<K, usize> = rustc_hash::FxHashMap::default();
    let mut keep: Option<Vec<bool>> = None;
    for (row, key) in keys.into_iter().enumerate().take(rows) {
        match first.entry(key) {
            std::collections::hash_map::Entry::Vacant(v) => {
                v.insert(row);
            }
            std::collections::hash_map::Entry::Occupied(o) => {
                let into = *o.get();
                for column in values.iter_mut() {
                    let v = column.get(row).copied().unwrap_or(0);
                    if let Some(cell) = column.get_mut(into) {
                        *cell = cell.saturating_add(v);
                    }
                }
                if let Some(k) = keep.get_or_insert_with(|| vec![true; rows]).get_mut(row) {
                    *k = false;
                }
            }
        }
    }
    keep
}

/// A profile: interned tables, value columns, samples and meta data.
///
/// Build one with the `intern_*` methods and [`Profile::push_sample`]; read
/// it through [`Profile::samples`], [`Profile::iter_samples`], the tables
/// ([`Profile::frames`], [`Profile::stacks`], [`Profile::threads`],
/// [`Profile::strings`]) and [`Profile::meta`]. The fields are private so
/// that every column stays as long as the samples.
#[derive(Clone, Debug, Default)]
pub struct Profile {
    /// Every name.
    pub(crate) strings: StringTable,
    /// Every frame.
    pub(crate) frames: FrameTable,
    /// Every stack, as a prefix tree.
    pub(crate) stacks: StackTable,
    /// Every thread.
    pub(crate) threads: ThreadTable,
    /// What each value column measures.
    pub(crate) value_types: Vec<ValueType>,
    /// The samples.
    pub(crate) samples: Samples,
    /// Where the profile came from and what was lost.
    pub(crate) meta: Meta,
}

impl Profile {
    /// Every name, interned.
    pub fn strings(&self) -> &StringTable {
        &self.strings
    }

    /// Every frame, interned.
    pub fn frames(&self) -> &FrameTable {
        &self.frames
    }

    /// Every stack, as a prefix tree.
    pub fn stacks(&self) -> &StackTable {
        &self.stacks
    }

    /// The stack table, to intern stacks into (a [`crate::StackBatch`]'s
    /// paths): it only grows, so every id handed out stays valid.
    pub fn stacks_mut(&mut self) -> &mut StackTable {
        &mut self.stacks
    }

    /// Every thread, interned.
    pub fn threads(&self) -> &ThreadTable {
        &self.threads
    }

    /// What each value column measures.
    pub fn value_types(&self) -> &[ValueType] {
        &self.value_types
    }

    /// The samples, as columns.
    pub fn samples(&self) -> &Samples {
        &self.samples
    }

    /// Where the profile came from and what was lost.
    pub fn meta(&self) -> &Meta {
        &self.meta
    }

    /// The meta data, to change.
    pub fn meta_mut(&mut self) -> &mut Meta {
        &mut self.meta
    }

    /// Replace the value types of a profile without samples (a reader that
    /// learns its columns at the end). With samples, the column count must
    /// stay the same (a rename).
    ///
    /// # Errors
    ///
    /// When there are samples and `value_types` has another length.
    pub fn set_value_types(
        &mut self,
        value_types: Vec<ValueType>,
    ) -> Result<(), ColumnLengthError> {
        if !self.samples.is_empty() && value_types.len() != self.value_types.len() {
            return Err(ColumnLengthError {
                expected: self.value_types.len(),
                got: value_types.len(),
            });
        }
        if self.samples.is_empty() {
            self.samples.values = vec![Vec::new(); value_types.len()];
        }
        self.value_types = value_types;
        Ok(())
    }

    /// Set every sample's labels (one set per sample).
    ///
    /// # Errors
    ///
    /// When `labels` does not have one entry per sample.
    pub fn set_labels(&mut self, labels: Vec<Vec<Label>>) -> Result<(), ColumnLengthError> {
        if labels.len() != self.samples.len() {
            return Err(ColumnLengthError {
                expected: self.samples.len(),
                got: labels.len(),
            });
        }
        self.samples.labels = Some(labels);
        self.samples.folded = false;
        Ok(())
    }

    /// Drop the samples' timestamps.
    pub fn clear_times(&mut self) {
        self.samples.times = None;
    }

    /// Set each sample's stack to `f(index, stack)` (ids of this
    /// profile's stack table).
    pub fn map_sample_stacks(
        &mut self,
        mut f: impl FnMut(usize, Option<StackId>) -> Option<StackId>,
    ) {
        for (i, slot) in self.samples.stacks.iter_mut().enumerate() {
            *slot = f(i, *slot);
        }
        self.samples.folded = false;
    }

    /// Add `values` (one per value type) to sample `index`'s values, for a
    /// reader that counts a repeated stack in place.
    ///
    /// # Errors
    ///
    /// The first column whose sum would not fit an `i64` (that column is
    /// left unchanged, earlier ones are added).
    ///
    /// ```
    /// use stackconv_model::{Profile, ValueType};
    /// let mut p = Profile::new(vec![ValueType::new("samples", "count")]);
    /// let t = p.intern_thread(Default::default());
    /// p.push_sample(None, t, None, &[2]);
    /// p.add_to_sample(0, &[3]).unwrap();
    /// assert_eq!(p.total(0), 5);
    /// assert_eq!(p.add_to_sample(0, &[i64::MAX]), Err(0));
    /// ```
    pub fn add_to_sample(&mut self, index: usize, values: &[i64]) -> Result<(), usize> {
        for (column, (cells, &v)) in self.samples.values.iter_mut().zip(values).enumerate() {
            if let Some(cell) = cells.get_mut(index) {
                *cell = cell.checked_add(v).ok_or(column)?;
            }
        }
        Ok(())
    }

    /// Keep, in order, only the samples for which `keep(index)` is true
    /// (their stacks, threads, times, values and labels), in place: for a
    /// reader that has added the samples it drops to others
    /// ([`Self::add_to_sample`]).
    ///
    /// ```
    /// use stackconv_model::{Profile, ValueType};
    /// let mut p = Profile::new(vec![ValueType::new("samples", "count")]);
    /// let t = p.intern_thread(Default::default());
    /// for n in [1, 2, 3] {
    ///     p.push_sample(None, t, None, &[n]);
    /// }
    /// p.add_to_sample(0, &[2]).unwrap();
    /// p.retain_samples(|i| i != 1);
    /// assert_eq!(p.samples().column(0), Some(&[3, 3][..]));
    /// ```
    pub fn retain_samples(&mut self, mut keep: impl FnMut(usize) -> bool) {
        let mask: Vec<bool> = (0..self.samples.len()).map(&mut keep).collect();
        self.samples.retain(&mask);
    }

    /// Room for `additional` more samples.
    pub fn reserve_samples(&mut self, additional: usize) {
        self.samples.stacks.reserve(additional);
        self.samples.threads.reserve(additional);
        for c in &mut self.samples.values {
            c.reserve(additional);
        }
    }

    /// An empty profile with these value columns.
    pub fn new(value_types: Vec<ValueType>) -> Self {
        let columns = value_types.len();
        Profile {
            value_types,
            samples: Samples {
                values: vec![Vec::new(); columns],
                ..Samples::default()
            },
            ..Profile::default()
        }
    }

    /// An empty profile with the same value types and meta data as `self`
    /// (tables and samples empty).
    pub fn empty_like(&self) -> Self {
        let mut p = Profile::new(self.value_types.clone());
        p.meta = self.meta.clone();
        p
    }

    /// Intern a string.
    pub fn intern_str(&mut self, s: &str) -> StringId {
        self.strings.intern(s)
    }

    /// The string behind `id`.
    pub fn str(&self, id: StringId) -> &str {
        self.strings.get(id)
    }

    /// Intern a frame.
    pub fn intern_frame(&mut self, frame: Frame) -> FrameId {
        self.frames.intern(frame)
    }

    /// Intern a frame that has only a name and a kind.
    pub fn intern_frame_named(&mut self, name: &str, kind: FrameKind) -> FrameId {
        let name = self.strings.intern(name);
        self.frames.intern(Frame {
            name,
            kind,
            ..Frame::default()
        })
    }

    /// Intern the stack `frame` called from `parent`.
    pub fn intern_stack(&mut self, parent: Option<StackId>, frame: FrameId) -> StackId {
        self.stacks.intern(StackNode { parent, frame })
    }

    /// Intern a whole stack given root first; `None` for no frames.
    pub fn intern_stack_frames(
        &mut self,
        root_first: impl IntoIterator<Item = FrameId>,
    ) -> Option<StackId> {
        root_first
            .into_iter()
            .fold(None, |parent, frame| Some(self.intern_stack(parent, frame)))
    }

    /// Intern a whole stack given root first, reusing the part it shares
    /// with the previous stack interned through the same `cache`.
    ///
    /// Consecutive samples of one thread mostly share their outer frames;
    /// comparing frame ids is far cheaper than a hash lookup per frame, so
    /// readers keep one [`StackCache`] per thread. The result is the same as
    /// [`Profile::intern_stack_frames`].
    ///
    /// ```
    /// use stackconv_model::{FrameKind, Profile, StackCache};
    /// let mut p = Profile::new(vec![]);
    /// let (a, b, c) = (
    ///     p.intern_frame_named("a", FrameKind::Native),
    ///     p.intern_frame_named("b", FrameKind::Native),
    ///     p.intern_frame_named("c", FrameKind::Native),
    /// );
    /// let mut cache = StackCache::default();
    /// let s1 = p.intern_stack_cached(&mut cache, &[a, b]);
    /// let s2 = p.intern_stack_cached(&mut cache, &[a, b, c]);
    /// assert_eq!(s1, p.intern_stack_frames([a, b]));
    /// assert_eq!(s2, p.intern_stack_frames([a, b, c]));
    /// ```
    pub fn intern_stack_cached(
        &mut self,
        cache: &mut StackCache,
        root_first: &[FrameId],
    ) -> Option<StackId> {
        let shared = cache
            .frames
            .iter()
            .zip(root_first)
            .take_while(|(a, b)| a == b)
            .count();
        cache.frames.truncate(shared);
        cache.nodes.truncate(shared);
        let mut parent = cache.nodes.last().copied();
        for &frame in root_first.get(shared..).unwrap_or(&[]) {
            let node = self.intern_stack(parent, frame);
            cache.frames.push(frame);
            cache.nodes.push(node);
            parent = Some(node);
        }
        parent
    }

    /// Intern a thread.
    pub fn intern_thread(&mut self, thread: Thread) -> ThreadId {
        self.threads.intern(thread)
    }

    /// Intern a thread from its ids and names.
    pub fn intern_thread_named(
        &mut self,
        pid: Option<u32>,
        tid: Option<u32>,
        process_name: &str,
        thread_name: &str,
    ) -> ThreadId {
        let process_name = self.strings.intern(process_name);
        let thread_name = self.strings.intern(thread_name);
        self.threads.intern(Thread {
            pid,
            tid,
            process_name,
            thread_name,
        })
    }

    /// Append a sample. `values` has one entry per value type (missing
    /// entries are 0, extra ones ignored). A sample without a time makes the
    /// profile lose its time column.
    pub fn push_sample(
        &mut self,
        stack: Option<StackId>,
        thread: ThreadId,
        time: Option<u64>,
        values: &[i64],
    ) {
        let n = self.samples.stacks.len();
        match (&mut self.samples.times, time) {
            (Some(times), Some(t)) => times.push(t),
            (Some(_), None) => self.samples.times = None,
            (None, Some(t)) if n == 0 => self.samples.times = Some(vec![t]),
            (None, _) => {}
        }
        self.samples.stacks.push(stack);
        self.samples.threads.push(thread);
        for (i, column) in self.samples.values.iter_mut().enumerate() {
            column.push(values.get(i).copied().unwrap_or(0));
        }
        self.samples.folded = false;
    }

    /// Sample `index`, borrowed.
    pub fn sample(&self, index: usize) -> Option<SampleRef> {
        Some(SampleRef {
            index,
            stack: *self.samples.stacks.get(index)?,
            thread: *self.samples.threads.get(index)?,
            time: self
                .samples
                .times
                .as_ref()
                .and_then(|t| t.get(index).copied()),
            values: self
                .samples
                .values
                .iter()
                .map(|c| c.get(index).copied().unwrap_or(0))
                .collect(),
        })
    }

    /// Every sample in order.
    pub fn iter_samples(&self) -> impl Iterator<Item = SampleRef> + '_ {
        (0..self.samples.len()).filter_map(|i| self.sample(i))
    }

    /// The value of column `column` of sample `index` (0 when out of range).
    pub fn value(&self, column: usize, index: usize) -> i64 {
        self.samples
            .values
            .get(column)
            .and_then(|c| c.get(index))
            .copied()
            .unwrap_or(0)
    }

    /// The total of value column `column` (0 when out of range).
    pub fn total(&self, column: usize) -> i64 {
        self.samples
            .values
            .get(column)
            .map(|c| c.iter().fold(0i64, |a, &v| a.saturating_add(v)))
            .unwrap_or(0)
    }

    /// The total of value column `column` (0 when out of range), or `None`
    /// when the magnitudes of its values add up to more than `i64::MAX`.
    /// When it is `Some`, every sum of some of the column's values (a
    /// subtree's, a thread's, one stack's) fits an `i64` too.
    ///
    /// ```
    /// use stackconv_model::{Profile, ValueType};
    /// let mut p = Profile::new(vec![ValueType::new("samples", "count")]);
    /// let t = p.intern_thread(Default::default());
    /// p.push_sample(None, t, None, &[i64::MAX]);
    /// assert_eq!(p.checked_total(0), Some(i64::MAX));
    /// p.push_sample(None, t, None, &[-1]);
    /// assert_eq!(p.checked_total(0), None);
    /// ```
    pub fn checked_total(&self, column: usize) -> Option<i64> {
        let Some(values) = self.samples.values.get(column) else {
            return Some(0);
        };
        let mut magnitude = 0u64;
        let mut total = 0i64;
        for &v in values {
            magnitude = magnitude
                .checked_add(v.unsigned_abs())
                .filter(|&m| i64::try_from(m).is_ok())?;
            total = total.checked_add(v)?;
        }
        Some(total)
    }

    /// The total of every value column.
    pub fn totals(&self) -> Vec<i64> {
        (0..self.value_types.len()).map(|c| self.total(c)).collect()
    }

    /// The index of the value column whose kind is `kind`, exactly as
    /// recorded; [`Profile::find_value`] also takes the names users type.
    pub fn value_index(&self, kind: &str) -> Option<usize> {
        self.value_types.iter().position(|v| v.kind == kind)
    }

    /// The value column a user means by `name` (`--event`, `--value`): the
    /// column of that kind exactly as recorded (`cpu-clock/freq=99/`,
    /// `sched:sched_switch`, a pprof sample type), else the one column
    /// whose event has that name without its modifiers and configuration
    /// (`cpu-clock`, `cycles` for `cycles:u` or `cpu/cycles/u`), as
    /// [`crate::naming::event_base_name`] defines it.
    ///
    /// ```
    /// use stackconv_model::{Profile, ValueType};
    ///
    /// let p = Profile::new(vec![
    ///     ValueType::new("task-clock/freq=299/", "nanoseconds"),
    ///     ValueType::new("syscalls:sys_enter_write", "count"),
    ///     ValueType::new("samples", "count"),
    /// ]);
    /// assert_eq!(p.find_value("task-clock"), Ok(0));
    /// assert_eq!(p.find_value("task-clock/freq=299/"), Ok(0));
    /// assert_eq!(p.find_value("syscalls:sys_enter_write"), Ok(1));
    /// assert!(p.find_value("cpu-clock").is_err());
    /// # Ok::<(), stackconv_model::ValueNameError>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`ValueNameError::NoSuchValue`] when no column matches,
    /// [`ValueNameError::Ambiguous`] when several do; both list the names.
    pub fn find_value(&self, name: &str) -> Result<usize, ValueNameError> {
        if let Some(i) = self.value_index(name) {
            return Ok(i);
        }
        let want = crate::naming::event_base_name(name);
        let matches: Vec<usize> = self
            .value_types
            .iter()
            .enumerate()
            .filter(|(_, v)| crate::naming::event_base_name(&v.kind) == want)
            .map(|(i, _)| i)
            .collect();
        match matches.as_slice() {
            [one] => Ok(*one),
            [] => Err(ValueNameError::NoSuchValue {
                name: name.to_string(),
                have: self.value_types.iter().map(|v| v.kind.clone()).collect(),
            }),
            many => Err(ValueNameError::Ambiguous {
                name: name.to_string(),
                matches: many
                    .iter()
                    .filter_map(|&i| self.value_types.get(i))
                    .map(|v| v.kind.clone())
                    .collect(),
            }),
        }
    }

    /// The frame behind `id`.
    pub fn frame(&self, id: FrameId) -> &Frame {
        self.frames.get(id)
    }

    /// The thread behind `id`.
    pub fn thread(&self, id: ThreadId) -> &Thread {
        self.threads.get(id)
    }

    /// The display name of frame `id`.
    pub fn frame_name(&self, id: FrameId) -> &str {
        self.strings.get(self.frames.get(id).name)
    }

    /// The frame ids of `stack`, root first (empty for `None`).
    pub fn stack_frames(&self, stack: Option<StackId>) -> Vec<FrameId> {
        stack.map(|s| self.stacks.frames(s)).unwrap_or_default()
    }

    /// The display names of `stack`, root first.
    pub fn stack_names(&self, stack: Option<StackId>) -> Vec<&str> {
        self.stack_frames(stack)
            .into_iter()
            .map(|f| self.frame_name(f))
            .collect()
    }

    /// Copy frame `id` of `other` into this profile (its strings too).
    pub fn import_frame(&mut self, other: &Profile, id: FrameId) -> FrameId {
        let f = other.frame(id);
        let frame = Frame {
            name: self.strings.intern(other.str(f.name)),
            module: self.strings.intern(other.str(f.module)),
            file: self.strings.intern(other.str(f.file)),
            line: f.line,
            kind: f.kind,
        };
        self.frames.intern(frame)
    }

    /// Copy thread `id` of `other` into this profile.
    pub fn import_thread(&mut self, other: &Profile, id: ThreadId) -> ThreadId {
        let t = other.threads.get(id);
        let thread = Thread {
            pid: t.pid,
            tid: t.tid,
            process_name: self.strings.intern(other.str(t.process_name)),
            thread_name: self.strings.intern(other.str(t.thread_name)),
        };
        self.threads.intern(thread)
    }

    /// A copy of this profile with every sample's stack rewritten by `f`,
    /// which gets the frames root first and returns the new frames root
    /// first (frames of `self`). Each distinct stack is rewritten once.
    /// Threads, times, values and meta are kept, so every total is kept.
    pub fn map_stacks(&self, mut f: impl FnMut(&Profile, &[FrameId]) -> Vec<FrameId>) -> Profile {
        let mut out = self.empty_like();
        let mut frame_map: Vec<Option<FrameId>> = vec![None; self.frames.len()];
        let mut stack_map: Vec<Option<Option<StackId>>> = vec![None; self.stacks.len()];
        let mut thread_map: Vec<Option<ThreadId>> = vec![None; self.threads.len()];
        let empty_stack = {
            let frames = f(self, &[]);
            out.intern_mapped(self, &frames, &mut frame_map)
        };
        for i in 0..self.samples.len() {
            let stack = match self.samples.stacks.get(i).copied().flatten() {
                None => empty_stack,
                Some(s) => match stack_map.get(s.index()).copied().flatten() {
                    Some(mapped) => mapped,
                    None => {
                        let frames = f(self, &self.stacks.frames(s));
                        let mapped = out.intern_mapped(self, &frames, &mut frame_map);
                        if let Some(slot) = stack_map.get_mut(s.index()) {
                            *slot = Some(mapped);
                        }
                        mapped
                    }
                },
            };
            let Some(&thread) = self.samples.threads.get(i) else {
                continue;
            };
            let thread = match thread_map.get(thread.index()).copied().flatten() {
                Some(t) => t,
                None => {
                    let t = out.import_thread(self, thread);
                    if let Some(slot) = thread_map.get_mut(thread.index()) {
                        *slot = Some(t);
                    }
                    t
                }
            };
            let time = self.samples.times.as_ref().and_then(|t| t.get(i).copied());
            out.push_sample_from(self, i, stack, thread, time);
        }
        // Label string ids refer to `self`'s table: re-intern them.
        if let Some(labels) = &self.samples.labels {
            let mapped = labels
                .iter()
                .map(|set| {
                    set.iter()
                        .map(|l| Label {
                            key: out.strings.intern(self.str(l.key)),
                            str: out.strings.intern(self.str(l.str)),
                            num: l.num,
                            num_unit: out.strings.intern(self.str(l.num_unit)),
                        })
                        .collect()
                })
                .collect();
            out.samples.labels = Some(mapped);
        }
        out
    }

    fn intern_mapped(
        &mut self,
        other: &Profile,
        frames: &[FrameId],
        frame_map: &mut [Option<FrameId>],
    ) -> Option<StackId> {
        let mut parent = None;
        for &fr in frames {
            let mapped = match frame_map.get(fr.index()).copied().flatten() {
                Some(m) => m,
                None => {
                    let m = self.import_frame(other, fr);
                    if let Some(slot) = frame_map.get_mut(fr.index()) {
                        *slot = Some(m);
                    }
                    m
                }
            };
            parent = Some(self.intern_stack(parent, mapped));
        }
        parent
    }

    /// Append sample `index` of `other` (same value types) with a new stack
    /// and thread of this profile.
    fn push_sample_from(
        &mut self,
        other: &Profile,
        index: usize,
        stack: Option<StackId>,
        thread: ThreadId,
        time: Option<u64>,
    ) {
        let values: Vec<i64> = (0..other.value_types.len())
            .map(|c| other.value(c, index))
            .collect();
        self.push_sample(stack, thread, time, &values);
    }

    /// A copy keeping only the samples for which `keep` is true; the
    /// dropped totals are returned beside it, one per value column, so that
    /// kept + dropped = input.
    pub fn filter_samples(
        &self,
        mut keep: impl FnMut(&Profile, usize) -> bool,
    ) -> (Profile, Vec<i64>) {
        let mut dropped = vec![0i64; self.value_types.len()];
        let mut out = self.clone();
        let mut kept = Samples {
            values: vec![Vec::new(); self.value_types.len()],
            times: self.samples.times.as_ref().map(|_| Vec::new()),
            // Some of folded samples are folded.
            folded: self.samples.folded,
            ..Samples::default()
        };
        let mut kept_mask = Vec::with_capacity(self.samples.len());
        for i in 0..self.samples.len() {
            let k = keep(self, i);
            kept_mask.push(k);
            if k {
                if let (Some(&s), Some(&t)) =
                    (self.samples.stacks.get(i), self.samples.threads.get(i))
                {
                    kept.stacks.push(s);
                    kept.threads.push(t);
                }
                if let (Some(k), Some(t)) = (kept.times.as_mut(), self.samples.times.as_ref()) {
                    k.push(t.get(i).copied().unwrap_or(0));
                }
                for (c, col) in kept.values.iter_mut().enumerate() {
                    col.push(self.value(c, i));
                }
            } else {
                for (c, d) in dropped.iter_mut().enumerate() {
                    *d = d.saturating_add(self.value(c, i));
                }
            }
        }
        if let Some(labels) = &self.samples.labels {
            let kept_labels = labels
                .iter()
                .zip(&kept_mask)
                .filter(|(_, &k)| k)
                .map(|(l, _)| l.clone())
                .collect();
            kept.labels = Some(kept_labels);
        }
        out.samples = kept;
        (out, dropped)
    }

    /// Aggregate samples with equal (stack, thread): one sample each, values
    /// summed, in order of first appearance; timestamps and labels are
    /// dropped. Totals are kept.
    pub fn fold(&self) -> Profile {
        let mut out = Profile {
            strings: self.strings.clone(),
            frames: self.frames.clone(),
            stacks: self.stacks.clone(),
            threads: self.threads.clone(),
            value_types: self.value_types.clone(),
            samples: Samples::default(),
            meta: self.meta.clone(),
        };
        out.samples = fold_samples(self.samples.clone());
        out
    }

    /// [`Profile::fold`] without copying the tables: the profile is
    /// consumed.
    pub fn into_folded(mut self) -> Profile {
        self.samples = fold_samples(std::mem::take(&mut self.samples));
        self
    }

    /// Whether the samples carry timestamps.
    pub fn has_times(&self) -> bool {
        self.samples.times.is_some()
    }

    /// Frames of a given kind, convenience for writers.
    pub fn frame_kind(&self, id: FrameId) -> FrameKind {
        self.frames.get(id).kind
    }
}

/// Why [`Profile::find_value`] found no single value column.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ValueNameError {
    /// No column has that name, with or without modifiers.
    #[error("no value column or event {name:?} (the profile has: {})", have.join(", "))]
    NoSuchValue {
        /// The name asked for.
        name: String,
        /// The columns there are, as recorded.
        have: Vec<String>,
    },
    /// Several columns have that name once their modifiers are dropped.
    #[error("{name:?} names more than one event ({}): give one as recorded", matches.join(", "))]
    Ambiguous {
        /// The name asked for.
        name: String,
        /// The columns it matches, as recorded.
        matches: Vec<String>,
    },
}
