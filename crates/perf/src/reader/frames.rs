//! From addresses to frames: the address caches, symbolization of each
//! distinct address once, and the interning of a sample's stack.

use super::*;

use crate::symbolize::Frames;
pub(super) use crate::symbolize::KERNEL_MODULE;

/// A stack, outermost entry first, with the frames of its outermost
/// entries as last looked up: the reader's mirror of the decoder's previous
/// stack of a chain key ([`decode::follow_stack`]), or a thread's previous
/// whole stack (with its DWARF-unwound part, [`Reader::intern_entries`]).
#[derive(Default)]
pub(super) struct KeyStack {
    pub(super) entries: Vec<Entry>,
    /// The process's mapping generation the frames were looked up at.
    generation: u32,
    /// The frames of the first `ends.len()` entries, root first, encoded
    /// for the path store, and where each entry's frames end in them.
    ends: Vec<PathMark>,
    frames: PathBuilder,
    /// The path of `frames`, while they are the whole stack's.
    path: Option<PathId>,
}

impl KeyStack {
    /// Forget the path of the frames (the batch it was in was emptied).
    pub(super) fn forget_path(&mut self) {
        self.path = None;
    }

    /// Follow the decoder to the next stack of the key: its `shared`
    /// outermost entries kept, then `new` (leaf first). The frames of the
    /// entries kept stay.
    #[inline]
    pub(super) fn follow(&mut self, shared: usize, new: &[Entry]) {
        if shared < self.entries.len() || !new.is_empty() {
            self.path = None;
        }
        decode::follow_stack(&mut self.entries, shared, new);
        self.ends.truncate(shared);
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(super) enum AddrKey {
    Kernel(u64),
    /// (path, file offset, with inlined frames).
    File(u32, u64, bool),
    Jit(u32, u64),
    /// A user address outside every mapping.
    NoMap,
}

/// A run of `Reader::addr_frames`: start and length; or, when the reader
/// names addresses at the end ([`Deferred`]), a key: `Span(key, KEY)`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(super) struct Span(pub(super) u32, pub(super) u32);

/// The length of a [`Span`] that is a key.
const KEY: u32 = u32::MAX;

/// Naming addresses at the end, for recordings whose user stacks are
/// unwound here (`--call-graph dwarf`): naming such an address reads the
/// DWARF of its file (inlined frames), which is most of the work. While
/// reading, each distinct address is a key ([`Span`]) and stacks are paths
/// of keys; at the end the files' addresses are looked up on both cores
/// ([`Symbolizer::symbolize_files`]), the keys' frames interned in the
/// order the keys were met (the order they would have been interned in
/// while reading: the same frame ids), and the paths of keys expanded into
/// paths of frames ([`StackBatch::expand`]).
#[derive(Default)]
pub(super) struct Deferred {
    /// What each key stands for, in the order met.
    keys: Vec<Pending>,
    /// A Java thread's tidied frames of a key: (key, comm) -> key.
    tidied: FxHashMap<(u32, StringId), u32>,
}

/// The frames of each key of [`Deferred`], once named: for
/// [`StackBatch::expand`].
pub(super) struct KeyFrames {
    /// Each key's frames in `frames` (innermost first): start, length.
    spans: Vec<(usize, usize)>,
    frames: Vec<FrameId>,
}

impl KeyFrames {
    /// Push the frames of `key`, root first.
    pub(super) fn push(&self, key: u32, path: &mut PathBuilder) {
        let (start, len) = self.spans.get(key as usize).copied().unwrap_or_default();
        for &f in self
            .frames
            .get(start..start + len)
            .unwrap_or_default()
            .iter()
            .rev()
        {
            path.push(f);
        }
    }
}

/// What a key of [`Deferred`] stands for.
enum Pending {
    /// Frames named while reading (kernel and JIT addresses: what names
    /// them depends on the time), and their module.
    Named(Frames, String),
    /// An address in a file: its symbolizer slot, its file offset and
    /// whether with inlined frames, and the mapping's path.
    File {
        slot: usize,
        offset: u64,
        inline: bool,
        path: u32,
    },
    /// A user address outside every mapping.
    NoMap,
    /// The frames of another key, tidied for a Java thread of this comm
    /// ([`Reader::java_stack`]).
    Tidied { key: u32, comm: StringId },
}

/// Slots of the front address cache: `1 << FRONT_BITS`.
pub(super) const FRONT_BITS: u32 = 14;
pub(super) const FRONT_SIZE: usize = 1 << FRONT_BITS;

/// A slot of the front address cache: an address of a process as its
/// mappings were at a generation (0 for kernel addresses), and its frames.
#[derive(Clone, Copy, Debug, Default)]
pub(super) struct FrontEntry {
    pub(super) addr: u64,
    pub(super) generation: u32,
    /// Bit 0: kernel; bit 1: with inlined frames; bit 2: valid.
    pub(super) flags: u8,
    pub(super) span: Span,
}

impl Reader<'_> {
    /// The frames (innermost first) of one address, a span of
    /// `addr_frames`; `inline`: with the inlined frames (DWARF-unwound
    /// entries) or only the function (callchain entries). `generation` is
    /// that of the process's mappings now.
    #[inline]
    pub(super) fn frames_of(&mut self, pid: i32, generation: u32, e: Entry) -> Span {
        let Entry {
            addr,
            kernel,
            inline,
        } = e;
        let generation = if kernel { 0 } else { generation };
        let flags = 4 | u8::from(kernel) | (u8::from(inline) << 1);
        // Fibonacci hashing of the address picks the slot.
        let slot = (addr.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> (64 - FRONT_BITS)) as usize;
        if let Some(e) = self.front.get(slot) {
            if e.addr == addr && e.generation == generation && e.flags == flags {
                return e.span;
            }
        }
        let span = self.frames_of_slow(pid, addr, kernel, inline);
        if let Some(e) = self.front.get_mut(slot) {
            *e = FrontEntry {
                addr,
                generation,
                flags,
                span,
            };
        }
        span
    }

    /// The frames of `span`.
    #[inline]
    pub(super) fn span_frames(&self, span: Span) -> &[FrameId] {
        let start = span.0 as usize;
        self.addr_frames
            .get(start..start + span.1 as usize)
            .unwrap_or_default()
    }

    pub(super) fn frames_of_slow(
        &mut self,
        pid: i32,
        addr: u64,
        kernel: bool,
        inline: bool,
    ) -> Span {
        let key = if kernel {
            AddrKey::Kernel(addr)
        } else {
            match self.find_map(pid, addr) {
                Some(m) if m.kind == MapKind::File => {
                    let offset = addr.wrapping_sub(m.start).wrapping_add(m.pgoff);
                    AddrKey::File(m.path, offset, inline)
                }
                Some(_) => AddrKey::Jit(u32::try_from(pid).unwrap_or(0), addr),
                None => AddrKey::NoMap,
            }
        };
        if let Some(&span) = self.addr_cache.get(&key) {
            return span;
        }
        let pending = self.pending_of(key);
        if self.deferred.is_some() {
            let span = self.new_key(pending);
            self.addr_cache.insert(key, span);
            return span;
        }
        let frames = self.intern_pending(pending, None);
        let span = Span(
            u32::try_from(self.addr_frames.len()).unwrap_or(u32::MAX),
            u32::try_from(frames.len()).unwrap_or(0),
        );
        self.addr_frames.extend(frames);
        self.addr_cache.insert(key, span);
        span
    }

    /// What names the address `key`: kernel and JIT addresses named now
    /// (what names them depends on the time), a file address's file found
    /// and parsed now, its lookup to come.
    fn pending_of(&mut self, key: AddrKey) -> Pending {
        match key {
            AddrKey::Kernel(a) => {
                let r = self.sym.symbolize_kernel(a);
                // A module's code is named after the module (`[nf_tables]`).
                let module = self.sym.kernel_module(a);
                let module = module.as_deref().unwrap_or(KERNEL_MODULE).to_string();
                Pending::Named(r, module)
            }
            AddrKey::File(path, offset, inline) => {
                if let Some(h) = self.hit_paths.get_mut(path as usize) {
                    *h = true;
                }
                let p = self
                    .paths
                    .get(path as usize)
                    .cloned()
                    .unwrap_or_else(|| Arc::from(&b""[..]));
                // perf 6.1 expands inlined frames only for DWARF-unwound
                // entries and names callchain entries by their ELF symbol.
                Pending::File {
                    slot: self.sym.file_slot(&p),
                    offset,
                    inline: inline && self.opts.symbols.inline,
                    path,
                }
            }
            AddrKey::Jit(pid, a) => {
                let r = self.sym.symbolize_jit(pid, a);
                let module = self
                    .jitdumps
                    .get(&pid)
                    .cloned()
                    .unwrap_or_else(|| format!("/tmp/perf-{pid}.map"));
                Pending::Named(r, module)
            }
            AddrKey::NoMap => Pending::NoMap,
        }
    }

    /// The frames of `pending`, interned (innermost first); a file
    /// address's looked up now unless `looked_up` gives them.
    fn intern_pending(&mut self, pending: Pending, looked_up: Option<Frames>) -> Vec<FrameId> {
        match pending {
            Pending::Named(r, module) => self.intern_sym(r, &module),
            Pending::File {
                slot,
                offset,
                inline,
                path,
            } => {
                let r = looked_up.unwrap_or_else(|| self.sym.symbolize_in(slot, offset, inline));
                let module = self.path_str(path);
                self.intern_sym(r, &module)
            }
            Pending::NoMap => vec![self
                .profile
                .intern_frame_named(stackconv_model::naming::UNKNOWN, FrameKind::Unknown)],
            // Made by `java_stack` only while naming at the end.
            Pending::Tidied { .. } => Vec::new(),
        }
    }

    /// Key the next number to `pending`.
    fn new_key(&mut self, pending: Pending) -> Span {
        let Some(d) = self.deferred.as_mut() else {
            return Span::default();
        };
        let key = u32::try_from(d.keys.len()).unwrap_or(u32::MAX);
        d.keys.push(pending);
        Span(key, KEY)
    }

    /// Append the frames of `span` (or its key) to `path`, root first.
    #[inline]
    fn push_span(&self, span: Span, path: &mut PathBuilder) {
        if span.1 == KEY {
            path.push_key(span.0);
        } else {
            for &f in self.span_frames(span).iter().rev() {
                path.push(f);
            }
        }
    }

    /// Name the keys met while reading ([`Deferred`]): the files'
    /// addresses looked up, every key's frames interned in the order the
    /// keys were met, the batch's paths of keys turned into paths of
    /// frames, and the rows of a folded read that now have one path and
    /// thread merged into the first of them.
    pub(super) fn name_deferred(&mut self) {
        let Some(d) = self.deferred.take() else {
            return;
        };
        let lookups: Vec<(usize, u64, bool)> = d
            .keys
            .iter()
            .filter_map(|p| match *p {
                Pending::File {
                    slot,
                    offset,
                    inline,
                    ..
                } => Some((slot, offset, inline)),
                _ => None,
            })
            .collect();
        let mut looked_up = self.sym.symbolize_files(&lookups).into_iter();
        // Each key's frames, innermost first, as `addr_frames`.
        let mut spans: Vec<(usize, usize)> = Vec::with_capacity(d.keys.len());
        let mut frames: Vec<FrameId> = Vec::new();
        for pending in d.keys {
            let named = match pending {
                Pending::File { .. } => {
                    let r = looked_up.next().unwrap_or(Err(Unresolved::FileMissing));
                    self.intern_pending(pending, Some(r))
                }
                Pending::Named(..) | Pending::NoMap => self.intern_pending(pending, None),
                Pending::Tidied { key, comm } => {
                    let (start, len) = spans.get(key as usize).copied().unwrap_or_default();
                    let base = frames.get(start..start + len).unwrap_or_default().to_vec();
                    let mut tidied: Vec<FrameId> = base
                        .iter()
                        .rev()
                        .map(|&f| self.tidy_java(f, comm))
                        .collect();
                    tidied.reverse();
                    tidied
                }
            };
            spans.push((frames.len(), named.len()));
            frames.extend(named);
        }
        let keys = KeyFrames { spans, frames };
        let (batch, ids) = self.batch.expand(|key, path| keys.push(key, path));
        self.batch = batch;
        for p in &mut self.sample_paths {
            if let Some(&id) = ids.get(p.index()) {
                *p = id;
            }
        }
        // The spilled chunks' paths are of keys too.
        if self.spilled.is_some() {
            self.key_frames = Some(keys);
        }
    }

    /// `f` tidied as inferno does for a Java thread of `comm`.
    fn tidy_java(&mut self, f: FrameId, comm: StringId) -> FrameId {
        let frame = *self.profile.frame(f);
        let name = self.profile.str(frame.name);
        let comm_s = self.profile.str(comm);
        let tidied = tidy_java_symbol(name, comm_s);
        if tidied == name {
            return f;
        }
        let tidied = tidied.to_string();
        let new = Frame {
            name: self.profile.intern_str(&tidied),
            ..frame
        };
        self.profile.intern_frame(new)
    }

    pub(super) fn intern_sym(&mut self, r: Frames, module: &str) -> Vec<FrameId> {
        let module_id = self.profile.intern_str(module);
        match r {
            Ok(frames) if !frames.is_empty() => frames
                .iter()
                .map(|f| {
                    let frame = Frame {
                        name: self.profile.intern_str(&f.name),
                        module: module_id,
                        file: f
                            .file
                            .as_deref()
                            .map(|s| self.profile.intern_str(s))
                            .unwrap_or(StringId::EMPTY),
                        line: f.line,
                        kind: f.kind,
                    };
                    self.profile.intern_frame(frame)
                })
                .collect(),
            _ => {
                let name = unknown_frame_name(Some(module));
                let frame = Frame {
                    name: self.profile.intern_str(&name),
                    module: module_id,
                    kind: FrameKind::Unknown,
                    ..Frame::default()
                };
                vec![self.profile.intern_frame(frame)]
            }
        }
    }

    /// The path of `entries` (leaf first): their frames root first.
    ///
    /// Consecutive samples of a thread mostly share their outer frames: the
    /// part equal to the thread's previous sample is taken from it by
    /// comparing addresses, and only the rest is looked up (each distinct
    /// address is symbolized once). A sample equal to the previous one
    /// reuses its path without hashing it again.
    pub(super) fn intern_entries(&mut self, pid: i32, tid: i32, entries: &[Entry]) -> PathId {
        let mut last = self.last_path.remove(&tid).unwrap_or_default();
        let shared = decode::shared_entries(&last.entries, entries);
        last.follow(
            shared,
            entries.get(..entries.len() - shared).unwrap_or_default(),
        );
        let path = self.intern_key_stack(pid, &mut last);
        self.last_path.insert(tid, last);
        path
    }

    /// The path of a callchain's stack, `stack`'s entries: only the frames
    /// of the entries not looked up for the key's previous stack (or all,
    /// when the process's mappings changed since) are looked up, and a
    /// stack equal to the previous one reuses its path.
    #[inline]
    pub(super) fn intern_key_stack(&mut self, pid: i32, stack: &mut KeyStack) -> PathId {
        let generation = self.processes.get(&pid).map_or(0, |p| p.generation);
        if stack.generation != generation {
            stack.generation = generation;
            stack.ends.clear();
            stack.path = None;
        }
        if let Some(path) = stack.path {
            return path;
        }
        match stack.ends.last() {
            Some(&end) => stack.frames.truncate(end),
            None => stack.frames.clear(),
        }
        for i in stack.ends.len()..stack.entries.len() {
            let Some(&e) = stack.entries.get(i) else {
                break;
            };
            let span = self.frames_of(pid, generation, e);
            self.push_span(span, &mut stack.frames);
            stack.ends.push(stack.frames.mark());
        }
        let path = self.batch.add_built(&stack.frames);
        stack.path = Some(path);
        path
    }

    /// As [`Self::intern_entries`], with inferno's Java tidy of each frame
    /// (it depends on the comm; rare, so not cached).
    pub(super) fn java_stack(&mut self, pid: i32, entries: &[Entry], comm: StringId) -> PathId {
        let mut path = PathBuilder::default();
        let generation = self.processes.get(&pid).map_or(0, |p| p.generation);
        for e in entries.iter().rev() {
            let span = self.frames_of(pid, generation, *e);
            if span.1 == KEY {
                // Named at the end: a key for its frames tidied.
                let known = self
                    .deferred
                    .as_ref()
                    .and_then(|d| d.tidied.get(&(span.0, comm)).copied());
                let key = match known {
                    Some(k) => k,
                    None => {
                        let Span(k, _) = self.new_key(Pending::Tidied { key: span.0, comm });
                        if let Some(d) = self.deferred.as_mut() {
                            d.tidied.insert((span.0, comm), k);
                        }
                        k
                    }
                };
                path.push_key(key);
                continue;
            }
            let fs = self.span_frames(span).to_vec();
            for &f in fs.iter().rev() {
                path.push(self.tidy_java(f, comm));
            }
        }
        self.batch.add_built(&path)
    }
}
