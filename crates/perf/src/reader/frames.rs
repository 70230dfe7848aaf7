//! From addresses to frames: the address caches, symbolization of each
//! distinct address once, and the interning of a sample's stack.

use super::*;

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

/// A run of `Reader::addr_frames`: start and length.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(super) struct Span(pub(super) u32, pub(super) u32);

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
        let frames: Vec<FrameId> = match key {
            AddrKey::Kernel(a) => {
                let r = self.sym.symbolize_kernel(a);
                // A module's code is named after the module (`[nf_tables]`).
                let module = self.sym.kernel_module(a);
                let module = module.as_deref().unwrap_or(KERNEL_MODULE).to_string();
                self.intern_sym(r, &module, FrameKind::Kernel)
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
                let r =
                    self.sym
                        .symbolize_file_inline(&p, offset, inline && self.opts.symbols.inline);
                let module = self.path_str(path);
                self.intern_sym(r, &module, FrameKind::Native)
            }
            AddrKey::Jit(pid, a) => {
                let r = self.sym.symbolize_jit(pid, a);
                let module = self
                    .jitdumps
                    .get(&pid)
                    .cloned()
                    .unwrap_or_else(|| format!("/tmp/perf-{pid}.map"));
                self.intern_sym(r, &module, FrameKind::Jit)
            }
            AddrKey::NoMap => {
                let f = self
                    .profile
                    .intern_frame_named(stackconv_model::naming::UNKNOWN, FrameKind::Unknown);
                vec![f]
            }
        };
        let span = Span(
            u32::try_from(self.addr_frames.len()).unwrap_or(u32::MAX),
            u32::try_from(frames.len()).unwrap_or(0),
        );
        self.addr_frames.extend(frames);
        self.addr_cache.insert(key, span);
        span
    }

    pub(super) fn intern_sym(
        &mut self,
        r: Result<Arc<[SymFrame]>, Unresolved>,
        module: &str,
        _default: FrameKind,
    ) -> Vec<FrameId> {
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
            for &f in self.span_frames(span).iter().rev() {
                stack.frames.push(f);
            }
            stack.ends.push(stack.frames.mark());
        }
        let path = self.batch.add_built(&stack.frames);
        stack.path = Some(path);
        path
    }

    /// As [`Self::intern_entries`], with inferno's Java tidy of each frame
    /// (it depends on the comm; rare, so not cached).
    pub(super) fn java_stack(&mut self, pid: i32, entries: &[Entry], comm: StringId) -> PathId {
        let comm_s = self.profile.str(comm).to_string();
        let mut path = Vec::new();
        let generation = self.processes.get(&pid).map_or(0, |p| p.generation);
        for e in entries.iter().rev() {
            let span = self.frames_of(pid, generation, *e);
            let fs = self.span_frames(span).to_vec();
            for &f in fs.iter().rev() {
                let frame = *self.profile.frame(f);
                let name = self.profile.str(frame.name).to_string();
                let tidied = tidy_java_symbol(&name, &comm_s).to_string();
                let f = if tidied != name {
                    let new = Frame {
                        name: self.profile.intern_str(&tidied),
                        ..frame
                    };
                    self.profile.intern_frame(new)
                } else {
                    f
                };
                path.push(f);
            }
        }
        self.batch.add(&path)
    }
}
