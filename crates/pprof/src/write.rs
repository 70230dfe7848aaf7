//! Writing the sample model as a gzipped profile.proto.

use std::collections::HashMap;

use rustc_hash::FxHashMap;
use std::io::Write;

use prost::Message;
use stackconv_model::{FrameId, FrameKind, Label, Profile, StackId, StringId, ThreadId};

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
    /// Location ids (leaf first) per model stack, memoised.
    stacks: FxHashMap<Option<StackId>, Vec<u64>>,
    /// Per model frame: the location of that frame alone.
    frame_locations: Vec<Option<u64>>,
    /// Per thread: the root frame's function when `comm_root` asks for it.
    comm_functions: HashMap<ThreadId, Option<u64>>,
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
            stacks: FxHashMap::default(),
            frame_locations: vec![None; p.frames().len()],
            comm_functions: HashMap::new(),
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

    /// The location ids of `stack`, leaf first: each frame that is not
    /// inlined starts a location, the inlined frames after it (its
    /// callees) become its extra lines.
    fn stack(&mut self, stack: Option<StackId>) -> Vec<u64> {
        if let Some(ids) = self.stacks.get(&stack) {
            return ids.clone();
        }
        let frames = self.p.stack_frames(stack);
        // Functions, strings and mappings are numbered root first (each
        // frame's are memoised, so this is a lookup once seen).
        for &f in &frames {
            self.frame(f);
        }
        // Groups (root first): a frame and the inlined frames after it.
        let mut groups: Vec<&[FrameId]> = Vec::new();
        let mut rest: &[FrameId] = &frames;
        while !rest.is_empty() {
            let len = 1 + rest
                .iter()
                .skip(1)
                .take_while(|&&f| self.p.frame_kind(f) == FrameKind::Inline)
                .count();
            let (group, tail) = rest.split_at(len.min(rest.len()));
            groups.push(group);
            rest = tail;
        }
        // Leaf first, which is also the order locations are numbered in.
        let ids: Vec<u64> = groups
            .into_iter()
            .rev()
            .map(|g| self.group_location(g))
            .collect();
        self.stacks.insert(stack, ids.clone());
        ids
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
    fn comm_location(&mut self, thread: ThreadId, stack: Option<StackId>) -> Option<u64> {
        if !self.p.meta().comm_root {
            return None;
        }
        let t = self.p.threads().get(thread);
        let name = stackconv_model::naming::comm_root(
            self.p.str(t.thread_name),
            self.p.str(t.process_name),
        )?;
        if let Some(&root) = self.p.stack_frames(stack).first() {
            if self.p.frame_name(root) == name {
                return None;
            }
        }
        let function = match self.comm_functions.get(&thread) {
            Some(f) => *f,
            None => {
                let f = Some(self.function(&name, ""));
                self.comm_functions.insert(thread, f);
                f
            }
        }?;
        Some(self.location(0, vec![(function, 0)]))
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

    fn build(mut self) -> proto::Profile {
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

        // Fold equal (stack, thread, labels): pprof samples carry no time.
        let no_labels: &[Label] = &[];
        let mut rows: FxHashMap<(Option<StackId>, ThreadId, &[Label]), usize> =
            FxHashMap::default();
        let columns = p.value_types().len();
        for i in 0..p.samples().len() {
            let (Some(&stack), Some(&thread)) =
                (p.samples().stacks().get(i), p.samples().threads().get(i))
            else {
                continue;
            };
            let own: &[Label] = p
                .samples()
                .labels()
                .as_ref()
                .and_then(|l| l.get(i))
                .map(Vec::as_slice)
                .unwrap_or(no_labels);
            match rows.get(&(stack, thread, own)) {
                Some(&row) => {
                    if let Some(s) = self.out.sample.get_mut(row) {
                        for (c, v) in s.value.iter_mut().enumerate() {
                            *v = v.saturating_add(p.value(c, i));
                        }
                    }
                }
                None => {
                    let mut location_id = self.stack(stack);
                    if let Some(root) = self.comm_location(thread, stack) {
                        location_id.push(root);
                    }
                    let label = self.labels(own, thread);
                    rows.insert((stack, thread, own), self.out.sample.len());
                    self.out.sample.push(proto::Sample {
                        location_id,
                        value: (0..columns).map(|c| p.value(c, i)).collect(),
                        label,
                    });
                }
            }
        }
        self.out
    }
}

/// Write `p` as a gzipped profile.proto.
pub(crate) fn write(p: &Profile, out: impl Write) -> Result<(), Error> {
    let message = Builder::new(p).build();
    let bytes = message.encode_to_vec();
    // The fastest level, as Go's runtime/pprof writes its profiles: the
    // tables compress well at any level, and the default level took most
    // of the time of a large profile.
    let mut gz = flate2::write::GzEncoder::new(out, flate2::Compression::fast());
    gz.write_all(&bytes)?;
    gz.finish()?.flush()?;
    Ok(())
}
