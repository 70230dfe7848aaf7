//! Writing the sample model as a gzipped profile.proto.

use std::collections::HashMap;

use rustc_hash::FxHashMap;
use std::io::Write;

use prost::Message;
use stackconv_model::memory;
use stackconv_model::{FrameId, FrameKind, Label, Profile, StackId, StringId, ThreadId};

use crate::gzip::gzip_while;
use crate::proto;
use crate::Error;

/// Builds the message: tables de-duplicated, strings interned with `""`
/// first.
struct Builder<'p> {
    p: &'p Profile,
    out: proto::Profile,
    strings: HashMap<String, i64>,
    functions: FxHashMap<(i64, i64), u64>,
    locations: FxHashMap<(u64, Vec<(u64, i64)>), u64>,
    mappings: HashMap<String, u64>,
    /// Per model frame: its function, line and mapping.
    frames: Vec<Option<(u64, i64, u64)>>,
    /// Per stack node whose frame is inlined into the frames above it
    /// (see [`Builder::stack`]): the location of that group of frames.
    /// Other nodes' locations are their frame's, in `frame_locations`.
    inline_groups: FxHashMap<StackId, u64>,
    /// Scratch for [`Builder::stack`]: a stack's nodes, a group's frames.
    path: Vec<StackId>,
    group: Vec<FrameId>,
    /// Per model frame: the location of that frame alone.
    frame_locations: Vec<Option<u64>>,
    /// Per model frame: its location when the frame is not inlined and
    /// numbered already, else 0 (no location id is 0). A stack of such
    /// frames only looks these up ([`Builder::stack`]).
    plain_locations: Vec<u64>,
    /// Per thread: the root frame `comm_root` asks for, when it does.
    comm_roots: FxHashMap<ThreadId, CommRoot>,
    /// Per thread: its labels (see [`Builder::labels`]) encoded as the
    /// sample's field 3, for samples without labels of their own.
    thread_label_bytes: FxHashMap<ThreadId, Vec<u8>>,
}

/// A thread's root frame, its name as perf script shows it.
struct CommRoot {
    /// The frame's name (`None`: the thread has none to show).
    name: Option<String>,
    /// Its location, numbered when a sample first needs it.
    location: Option<u64>,
}

fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len().saturating_mul(2));
    for b in bytes {
        for nibble in [b >> 4, b & 0xf] {
            let d = DIGITS.get(usize::from(nibble)).copied().unwrap_or(b'0');
            s.push(char::from(d));
        }
    }
    s
}

impl<'p> Builder<'p> {
    fn new(p: &'p Profile) -> Self {
        let mut b = Builder {
            p,
            out: proto::Profile::default(),
            strings: HashMap::new(),
            functions: FxHashMap::default(),
            locations: FxHashMap::default(),
            mappings: HashMap::new(),
            frames: vec![None; p.frames().len()],
            inline_groups: FxHashMap::default(),
            path: Vec::new(),
            group: Vec::new(),
            frame_locations: vec![None; p.frames().len()],
            plain_locations: vec![0; p.frames().len()],
            comm_roots: FxHashMap::default(),
            thread_label_bytes: FxHashMap::default(),
        };
        b.string("");
        b
    }

    fn string(&mut self, s: &str) -> i64 {
        if let Some(&i) = self.strings.get(s) {
            return i;
        }
        let i = i64::try_from(self.out.string_table.len()).unwrap_or(i64::MAX);
        self.out.string_table.push(s.to_string());
        self.strings.insert(s.to_string(), i);
        i
    }

    fn mapping(&mut self, path: &str, build_id: Option<&[u8]>) -> u64 {
        if let Some(&id) = self.mappings.get(path) {
            return id;
        }
        let id = u64::try_from(self.out.mapping.len())
            .unwrap_or(u64::MAX)
            .saturating_add(1);
        let filename = self.string(path);
        let build_id = match build_id {
            Some(b) if !b.is_empty() => self.string(&hex(b)),
            _ => 0,
        };
        self.out.mapping.push(proto::Mapping {
            id,
            filename,
            build_id,
            // Symbolized already: keeps pprof from trying to symbolize the
            // (address-less) locations from local binaries.
            has_functions: true,
            has_filenames: true,
            has_line_numbers: true,
            has_inline_frames: true,
            ..proto::Mapping::default()
        });
        self.mappings.insert(path.to_string(), id);
        id
    }

    fn function(&mut self, name: &str, file: &str) -> u64 {
        let name = self.string(name);
        let file = self.string(file);
        if let Some(&id) = self.functions.get(&(name, file)) {
            return id;
        }
        let id = u64::try_from(self.out.function.len())
            .unwrap_or(u64::MAX)
            .saturating_add(1);
        // system_name stays empty: with name == system_name, pprof would
        // rewrite C++-looking names (no parameters, no templates).
        self.out.function.push(proto::Function {
            id,
            name,
            system_name: 0,
            filename: file,
            start_line: 0,
        });
        self.functions.insert((name, file), id);
        id
    }

    fn frame(&mut self, f: FrameId) -> (u64, i64, u64) {
        if let Some(Some(done)) = self.frames.get(f.index()) {
            return *done;
        }
        let frame = *self.p.frame(f);
        let function = self.function(self.p.str(frame.name), self.p.str(frame.file));
        let mapping = if frame.module.is_empty() {
            0
        } else {
            self.mapping(self.p.str(frame.module), None)
        };
        let r = (function, i64::from(frame.line), mapping);
        if let Some(slot) = self.frames.get_mut(f.index()) {
            *slot = Some(r);
        }
        r
    }

    fn location(&mut self, mapping: u64, lines_leaf_first: Vec<(u64, i64)>) -> u64 {
        let key = (mapping, lines_leaf_first);
        if let Some(&id) = self.locations.get(&key) {
            return id;
        }
        let id = u64::try_from(self.out.location.len())
            .unwrap_or(u64::MAX)
            .saturating_add(1);
        self.out.location.push(proto::Location {
            id,
            mapping_id: mapping,
            address: 0,
            line: key
                .1
                .iter()
                .map(|&(function_id, line)| proto::Line {
                    function_id,
                    line,
                    column: 0,
                })
                .collect(),
            is_folded: false,
        });
        self.locations.insert(key, id);
        id
    }

    /// The location ids of `stack`, leaf first, appended to `out` as the
    /// varints of a sample's packed field 1: each frame that is not
    /// inlined starts a location, the inlined frames after it (its
    /// callees) become its extra lines.
    ///
    /// Functions, strings and mappings are numbered root first, locations
    /// leaf first, in the order a stack first needs them. A frame's
    /// numbers and the location of a frame alone are remembered per frame,
    /// and the location of a group with inlined frames per node (the
    /// group is the same in every stack through it), so a stack costs a
    /// lookup per frame. Returns the root frame.
    fn stack(&mut self, stack: Option<StackId>, out: &mut Vec<u8>) -> Option<FrameId> {
        let leaf = stack?;
        let stacks = self.p.stacks();
        // Most stacks are of frames seen before, none inlined: a lookup
        // per frame, its id written as it is found (the walk up the
        // stacks is most of the encoding's time).
        let start = out.len();
        let mut root = None;
        for f in stacks.frames_leaf_first(leaf) {
            match self.plain_locations.get(f.index()) {
                Some(&location) if location != 0 => put_varint(out, location),
                _ => {
                    root = None;
                    break;
                }
            }
            root = Some(f);
        }
        if root.is_some() {
            return root;
        }
        out.truncate(start);
        let mut path = std::mem::take(&mut self.path);
        path.clear();
        let mut next = Some(leaf);
        while let Some(n) = next {
            path.push(n);
            next = stacks.get(n).parent;
        }
        // Numbered root first (a frame seen before keeps its numbers).
        for &n in path.iter().rev() {
            self.frame(stacks.get(n).frame);
        }
        let mut at = 0;
        while let Some(&n) = path.get(at) {
            // The group leaf first: up through inlined frames to the one
            // they are inlined into (or the root); most groups are one
            // frame.
            let mut end = at + 1;
            while end < path.len()
                && path
                    .get(end - 1)
                    .is_some_and(|&m| self.p.frame_kind(stacks.get(m).frame) == FrameKind::Inline)
            {
                end += 1;
            }
            let location = if end == at + 1 {
                self.group_location(&[stacks.get(n).frame])
            } else if let Some(&location) = self.inline_groups.get(&n) {
                location
            } else {
                let mut group = std::mem::take(&mut self.group);
                group.clear();
                group.extend(
                    path.get(at..end)
                        .unwrap_or_default()
                        .iter()
                        .rev()
                        .map(|&m| stacks.get(m).frame),
                );
                let location = self.group_location(&group);
                self.group = group;
                self.inline_groups.insert(n, location);
                location
            };
            put_varint(out, location);
            at = end;
        }
        let root = path.last().map(|&n| stacks.get(n).frame);
        self.path = path;
        root
    }

    /// The location of a group of frames (root first): the first frame's
    /// mapping, the lines leaf first. A group of one frame (most of them)
    /// is memoised by its frame.
    fn group_location(&mut self, group: &[FrameId]) -> u64 {
        if let [f] = group {
            if let Some(&Some(id)) = self.frame_locations.get(f.index()) {
                return id;
            }
            let (function, line, mapping) = self.frame(*f);
            let id = self.location(mapping, vec![(function, line)]);
            if let Some(slot) = self.frame_locations.get_mut(f.index()) {
                *slot = Some(id);
            }
            if self.p.frame_kind(*f) != FrameKind::Inline {
                if let Some(slot) = self.plain_locations.get_mut(f.index()) {
                    *slot = id;
                }
            }
            return id;
        }
        let mut mapping = 0;
        let mut lines = Vec::with_capacity(group.len());
        for (i, &f) in group.iter().enumerate() {
            let (function, line, m) = self.frame(f);
            if i == 0 {
                mapping = m;
            }
            lines.push((function, line));
        }
        lines.reverse();
        self.location(mapping, lines)
    }

    /// The root frame's location for `thread` when the profile wants the
    /// thread name as root frame (perf sources, `Meta::comm_root`) and the
    /// stack does not start with it already.
    fn comm_location(&mut self, thread: ThreadId, root: Option<FrameId>) -> Option<u64> {
        let p = self.p;
        if !p.meta().comm_root {
            return None;
        }
        // Asked for every sample: the name is made once per thread, its
        // location numbered once.
        let cached = self.comm_roots.entry(thread).or_insert_with(|| {
            let t = p.threads().get(thread);
            CommRoot {
                name: stackconv_model::naming::comm_root(
                    p.str(t.thread_name),
                    p.str(t.process_name),
                ),
                location: None,
            }
        });
        let name = cached.name.as_deref()?;
        if root.is_some_and(|root| p.frame_name(root) == name) {
            return None;
        }
        if let Some(location) = cached.location {
            return Some(location);
        }
        let name = name.to_string();
        let function = self.function(&name, "");
        let location = self.location(0, vec![(function, 0)]);
        if let Some(cached) = self.comm_roots.get_mut(&thread) {
            cached.location = Some(location);
        }
        Some(location)
    }

    fn label(&mut self, l: &Label) -> proto::Label {
        if l.str.is_empty() {
            proto::Label {
                key: self.string(self.p.str(l.key)),
                str: 0,
                num: l.num,
                num_unit: self.string(self.p.str(l.num_unit)),
            }
        } else {
            proto::Label {
                key: self.string(self.p.str(l.key)),
                str: self.string(self.p.str(l.str)),
                num: 0,
                num_unit: 0,
            }
        }
    }

    /// The sample's labels encoded as its field 3 into `own_bytes`, or,
    /// for a sample without labels of its own, its thread's, encoded once
    /// per thread (see [`Builder::labels`]).
    fn label_bytes<'b>(
        &'b mut self,
        own: &[Label],
        thread: ThreadId,
        own_bytes: &'b mut Vec<u8>,
    ) -> &'b [u8] {
        let encode = |labels: Vec<proto::Label>, out: &mut Vec<u8>| {
            for l in &labels {
                prost::encoding::message::encode(3, l, out);
            }
        };
        if !own.is_empty() {
            own_bytes.clear();
            encode(self.labels(own, thread), own_bytes);
            return own_bytes;
        }
        if !self.thread_label_bytes.contains_key(&thread) {
            let mut bytes = Vec::new();
            encode(self.labels(own, thread), &mut bytes);
            self.thread_label_bytes.insert(thread, bytes);
        }
        self.thread_label_bytes
            .get(&thread)
            .map_or(&[][..], Vec::as_slice)
    }

    /// The sample's own labels, then its thread's (`pid` and `thread`
    /// numeric; `thread_name`, `process_name` strings) where the own labels
    /// do not already say them (as the reader derives threads).
    fn labels(&mut self, own: &[Label], thread: ThreadId) -> Vec<proto::Label> {
        let mut out: Vec<proto::Label> = own.iter().map(|l| self.label(l)).collect();
        let t = *self.p.threads().get(thread);
        let said = crate::read::thread_from_labels(self.p, own);
        let mut push = |b: &mut Self, key: &str, num: i64, s: Option<StringId>| {
            let key = b.string(key);
            let str = s.map(|s| b.string(b.p.str(s))).unwrap_or(0);
            out.push(proto::Label {
                key,
                str,
                num: if s.is_some() { 0 } else { num },
                num_unit: 0,
            });
        };
        if let Some(pid) = t.pid.filter(|_| said.pid.is_none()) {
            push(self, "pid", i64::from(pid), None);
        }
        if let Some(tid) = t.tid.filter(|_| said.tid.is_none()) {
            push(self, "thread", i64::from(tid), None);
        }
        if !t.thread_name.is_empty() && said.thread_name.is_empty() {
            push(self, "thread_name", 0, Some(t.thread_name));
        }
        if !t.process_name.is_empty() && said.process_name.is_empty() {
            push(self, "process_name", 0, Some(t.process_name));
        }
        out
    }

    /// The message's header fields and mappings; the samples are written
    /// by [`Builder::write_samples`], which fills the other tables.
    fn header(&mut self) {
        let p = self.p;
        for v in p.value_types() {
            let vt = proto::ValueType {
                r#type: self.string(&v.kind),
                unit: self.string(&v.unit),
            };
            self.out.sample_type.push(vt);
        }
        if let Some(v) = p.value_types().get(p.meta().default_value) {
            self.out.default_sample_type = self.string(&v.kind);
        }
        if let Some((vt, period)) = &p.meta().period {
            self.out.period_type = Some(proto::ValueType {
                r#type: self.string(&vt.kind),
                unit: self.string(&vt.unit),
            });
            self.out.period = *period;
        }
        self.out.time_nanos = p
            .meta()
            .start_time_ns
            .and_then(|t| i64::try_from(t).ok())
            .unwrap_or(0);
        self.out.duration_nanos = p
            .meta()
            .duration_ns
            .and_then(|t| i64::try_from(t).ok())
            .unwrap_or(0);
        for m in &p.meta().modules {
            self.mapping(&m.path, m.build_id.as_deref());
        }
    }

    /// Write the samples as the `sample` field (2) of the message, as
    /// prost would encode them, through `out` (flushed into `sink` now and
    /// then). Equal (stack, thread, labels) are folded into one sample
    /// (pprof samples carry no time); each is encoded where it first
    /// appeared, numbering what it needs then, so the tables come out in
    /// the same order as when the whole message is built first.
    fn write_samples(&mut self, out: &mut Vec<u8>, sink: &mut impl Write) -> std::io::Result<()> {
        let p = self.p;
        let no_labels: &[Label] = &[];
        let own_labels = |i: usize| -> &[Label] {
            p.samples()
                .labels()
                .as_ref()
                .and_then(|l| l.get(i))
                .map(Vec::as_slice)
                .unwrap_or(no_labels)
        };
        let columns = p.value_types().len();
        // Each distinct (stack, thread, labels): its first sample and its
        // values, summed. Folded samples are of distinct (stack, thread)
        // and have no labels: each is a row of its own.
        let merged = (!p.samples().is_folded()).then(|| {
            let mut rows: FxHashMap<(Option<StackId>, ThreadId, &[Label]), usize> =
                FxHashMap::default();
            let mut firsts: Vec<usize> = Vec::new();
            let mut values: Vec<i64> = Vec::new();
            for i in 0..p.samples().len() {
                let (Some(&stack), Some(&thread)) =
                    (p.samples().stacks().get(i), p.samples().threads().get(i))
                else {
                    continue;
                };
                match rows.entry((stack, thread, own_labels(i))) {
                    std::collections::hash_map::Entry::Occupied(row) => {
                        let at = row.get().saturating_mul(columns);
                        if let Some(values) = values.get_mut(at..at + columns) {
                            for (c, v) in values.iter_mut().enumerate() {
                                *v = v.saturating_add(p.value(c, i));
                            }
                        }
                    }
                    std::collections::hash_map::Entry::Vacant(row) => {
                        row.insert(firsts.len());
                        firsts.push(i);
                        values.extend((0..columns).map(|c| p.value(c, i)));
                    }
                }
            }
            (firsts, values)
        });
        // Row `row`'s first sample.
        let first = |row: usize| match &merged {
            Some((firsts, _)) => firsts.get(row).copied(),
            None => (row < p.samples().len()).then_some(row),
        };
        let rows = merged
            .as_ref()
            .map_or(p.samples().len(), |(firsts, _)| firsts.len());
        let mut own_values = Vec::with_capacity(columns);

        use prost::encoding::{encode_key, encode_varint, encoded_len_varint, WireType};
        let field = |len: usize| 1 + encoded_len_varint(len as u64) + len;
        let mut encoded = Vec::new();
        let mut own_label_bytes = Vec::new();
        let nodes = p.stacks().nodes();
        for row in 0..rows {
            // The rows' stacks lie all over the stack table: ask for a
            // coming row's leaf and the nodes below it in memory (a new
            // stack's nodes are numbered in a run, its parents first), so
            // that the walk up its parents does not wait for each.
            let ahead = first(row + PREFETCH_ROWS);
            if let Some(Some(leaf)) = ahead.and_then(|a| p.samples().stacks().get(a)) {
                memory::prefetch_stack(nodes, *leaf);
            }
            let Some(i) = first(row) else {
                continue;
            };
            let (Some(&stack), Some(&thread)) =
                (p.samples().stacks().get(i), p.samples().threads().get(i))
            else {
                continue;
            };
            encoded.clear();
            let root = self.stack(stack, &mut encoded);
            if let Some(root) = self.comm_location(thread, root) {
                put_varint(&mut encoded, root);
            }
            let labels = self.label_bytes(own_labels(i), thread, &mut own_label_bytes);
            let values = match &merged {
                Some((_, values)) => {
                    let at = row.saturating_mul(columns);
                    values.get(at..at + columns).unwrap_or_default()
                }
                None => {
                    own_values.clear();
                    own_values.extend((0..columns).map(|c| p.value(c, i)));
                    &own_values[..]
                }
            };

            let locations_len = encoded.len();
            let values_len: usize = values.iter().map(|&v| encoded_len_varint(v as u64)).sum();
            let mut len = 0;
            if locations_len != 0 {
                len += field(locations_len);
            }
            if !values.is_empty() {
                len += field(values_len);
            }
            len += labels.len();
            encode_key(2, WireType::LengthDelimited, out);
            encode_varint(len as u64, out);
            if locations_len != 0 {
                encode_key(1, WireType::LengthDelimited, out);
                encode_varint(locations_len as u64, out);
                out.extend_from_slice(&encoded);
            }
            if !values.is_empty() {
                encode_key(2, WireType::LengthDelimited, out);
                encode_varint(values_len as u64, out);
                for &v in values {
                    encode_varint(v as u64, out);
                }
            }
            out.extend_from_slice(labels);
            if out.len() >= FLUSH_AT {
                sink.write_all(out)?;
                out.clear();
            }
        }
        Ok(())
    }
}

/// Append `v` as a protobuf varint. As prost's `encode_varint`, inlined:
/// a sample's location ids are most of the message, a call each was a
/// fifth of the encoding time.
#[inline]
fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v & 0x7f) as u8 | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// Bytes of encoded message gathered before they go to the compressor.
const FLUSH_AT: usize = 1 << 20;

/// How many rows ahead a sample's stack nodes are asked for.
const PREFETCH_ROWS: usize = 8;

/// Write `p` as a gzipped profile.proto.
///
/// The message is compressed as it is encoded, in chunks, on another
/// thread, and on this one too once it is encoded ([`gzip_while`]).
pub(crate) fn write(p: &Profile, mut out: impl Write) -> Result<(), Error> {
    let mut builder = Builder::new(p);
    builder.header();
    let compressed = gzip_while(|sink| -> Result<(), Error> {
        // Fields in number order, as prost encodes a whole message: the
        // sample types (1), the samples (2), then the tables and the rest.
        let mut buf = Vec::with_capacity(FLUSH_AT * 2);
        let head = proto::Profile {
            sample_type: std::mem::take(&mut builder.out.sample_type),
            ..proto::Profile::default()
        };
        head.encode(&mut buf)
            .map_err(|e| Error::Io(std::io::Error::other(e)))?;
        builder.write_samples(&mut buf, sink)?;
        builder
            .out
            .encode(&mut buf)
            .map_err(|e| Error::Io(std::io::Error::other(e)))?;
        sink.write_all(&buf)?;
        Ok(())
    })?;
    out.write_all(&compressed)?;
    out.flush()?;
    Ok(())
}
