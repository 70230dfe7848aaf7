//! From records to a [`Profile`]: threads, mappings, callchains, DWARF
//! unwinding, symbolization, value columns and off-CPU time.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use framehop::x86_64::UnwindRegsX86_64;
use framehop::FrameAddress;
use linux_perf_data::linux_perf_event_reader::{CpuMode, PerfEventType};
use linux_perf_data::{AttributeDescription, PerfFileReader};
use stackconv_model::naming::{tidy_java_symbol, unknown_frame_name};
use stackconv_model::{
    Frame, FrameId, FrameKind, Module, PathId, Profile, StackBatch, StringId, Thread, ThreadId,
    ValueType,
};

use crate::container::Container;
use crate::decode::{self, Decoded, Entry, Sample};
use crate::error::Error;
use crate::symbolize::{SymFrame, Symbolizer, Unresolved};
use crate::unwind::{self, ProcessUnwinder};
use crate::ReadOptions;

/// The module name perf gives kernel code.
const KERNEL_MODULE: &str = "[kernel.kallsyms]";

/// What a perf event's samples weigh.
#[derive(Clone, Debug)]
struct EventColumn {
    /// Index of its value column.
    column: usize,
    /// Whether this is `sched:sched_switch` (off-CPU switch-outs).
    sched_switch: bool,
    /// The attribute's fixed sample period, for samples without PERIOD.
    fixed_period: u64,
    /// How the event was sampled when it is not every hit (`-F 99`:
    /// "frequency 99 Hz", `-c 10`: "period 10"); `None` for every hit.
    sampled: Option<String>,
}

/// How off-CPU intervals were closed, to tell the user when the off-CPU
/// column can only be an approximation.
#[derive(Clone, Copy, Debug, Default)]
struct SwitchIns {
    /// By a `PERF_RECORD_SWITCH` switch-in (`--switch-events`).
    records: u64,
    /// By the `next_pid` of a `sched:sched_switch` (system-wide).
    next_pid: u64,
    /// By a later sample of the thread (an upper bound of the interval).
    later_sample: u64,
}

/// A mapping of a process.
#[derive(Clone, Debug)]
struct Mapping {
    start: u64,
    end: u64,
    pgoff: u64,
    /// Index into `Reader::paths`.
    path: u32,
    kind: MapKind,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum MapKind {
    /// A file: symbolized through the symbolizer.
    File,
    /// Anonymous memory: JIT code named by perf maps / jitdump.
    Anon,
}

#[derive(Default)]
struct Process {
    /// Sorted by start, not overlapping.
    maps: Vec<Mapping>,
    /// Changed by every mapping change, unique across processes (0: no
    /// process): part of the keys of the address caches.
    generation: u32,
    unwinder: Option<Box<ProcessUnwinder>>,
}

/// The previous sample of a thread: its entries root first, its frames
/// root first, how many frames each entry's prefix makes, its path, and the
/// process's mapping generation then.
#[derive(Default)]
struct LastPath {
    generation: u32,
    entries: Vec<Entry>,
    ends: Vec<usize>,
    frames: Vec<FrameId>,
    path: Option<PathId>,
}

/// A hash map with the Fx hash (rustc's): the reader's caches are keyed by
/// small integers it made, not by attacker-chosen strings.
type FxHashMap<K, V> = HashMap<K, V, std::hash::BuildHasherDefault<FxHasher>>;

/// The Fx hash: multiply-rotate over words.
#[derive(Default, Clone, Copy)]
struct FxHasher(u64);

impl FxHasher {
    fn add(&mut self, word: u64) {
        self.0 = (self.0.rotate_left(5) ^ word).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
}

impl std::hash::Hasher for FxHasher {
    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut word = [0u8; 8];
            if let Some(dst) = word.get_mut(..chunk.len()) {
                dst.copy_from_slice(chunk);
            }
            self.add(u64::from_le_bytes(word));
        }
    }
    fn write_u8(&mut self, i: u8) {
        self.add(u64::from(i));
    }
    fn write_u32(&mut self, i: u32) {
        self.add(u64::from(i));
    }
    fn write_u64(&mut self, i: u64) {
        self.add(i);
    }
    fn write_usize(&mut self, i: usize) {
        self.add(i as u64);
    }
    fn write_i32(&mut self, i: i32) {
        self.add(u64::from(i as u32));
    }
    fn finish(&self) -> u64 {
        self.0
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum AddrKey {
    Kernel(u64),
    /// (path, file offset, with inlined frames).
    File(u32, u64, bool),
    Jit(u32, u64),
    /// A user address outside every mapping.
    NoMap,
}

/// A run of `Reader::addr_frames`: start and length.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Span(u32, u32);

/// Slots of the front address cache: `1 << FRONT_BITS`.
const FRONT_BITS: u32 = 14;
const FRONT_SIZE: usize = 1 << FRONT_BITS;

/// A slot of the front address cache: an address of a process as its
/// mappings were at a generation (0 for kernel addresses), and its frames.
#[derive(Clone, Copy, Debug, Default)]
struct FrontEntry {
    addr: u64,
    generation: u32,
    /// Bit 0: kernel; bit 1: with inlined frames; bit 2: valid.
    flags: u8,
    span: Span,
}

/// An off-CPU interval waiting for its thread's switch-in.
struct SwitchOut {
    time: u64,
    stack: PathId,
    thread: ThreadId,
}

struct Reader<'o> {
    opts: &'o ReadOptions,
    profile: Profile,
    sym: Symbolizer,
    events: Vec<EventColumn>,
    off_cpu_column: Option<usize>,
    samples_column: usize,
    columns: usize,
    /// Interned mapping paths.
    paths: Vec<Arc<[u8]>>,
    path_index: HashMap<Arc<[u8]>, u32>,
    /// Build ids by path index.
    build_ids: HashMap<u32, Vec<u8>>,
    /// Paths that samples hit.
    hit_paths: Vec<bool>,
    processes: FxHashMap<i32, Process>,
    /// Thread comm by tid, and the pid it belongs to.
    comms: FxHashMap<i32, (i32, StringId)>,
    threads: FxHashMap<(i32, i32, StringId), ThreadId>,
    addr_cache: FxHashMap<AddrKey, Span>,
    /// Frames of the addresses in `addr_cache`, innermost first per span.
    addr_frames: Vec<FrameId>,
    /// A direct-mapped cache in front of `addr_cache`, keyed by the raw
    /// address: most addresses repeat, and this skips the mapping search.
    front: Vec<FrontEntry>,
    /// The last mapping generation handed out.
    generations: u32,
    /// Jitdump paths by pid (module name of their frames).
    jitdumps: FxHashMap<u32, String>,
    pending_off_cpu: FxHashMap<i32, SwitchOut>,
    switch_ins: SwitchIns,
    first_time: Option<u64>,
    /// CLOCK_DATA: (wall clock ns, recording clock ns) at one instant.
    clock: Option<(u64, u64)>,
    last_time: Option<u64>,
    lost: u64,
    malformed: u64,
    unknown_records: u64,
    unwound_samples: u64,
    /// The entries of the sample being read.
    scratch: Vec<Entry>,
    /// Every distinct stack as a path of frames, interned at the end.
    batch: StackBatch,
    /// The path of each sample pushed so far (its stack is set at the end).
    sample_paths: Vec<PathId>,
    /// With `opts.fold`: the sample row of each (path, thread) pushed.
    rows: FxHashMap<(PathId, ThreadId), usize>,
    /// Per thread, the previous sample's entries and frames, see
    /// [`Reader::intern_entries`].
    last_path: FxHashMap<i32, LastPath>,
    values: Vec<i64>,
    /// Per value column, the sum of the weights pushed so far (all
    /// non-negative): kept within 2^63-1, so every sum of some of them fits.
    weight_totals: Vec<u64>,
    /// Sample records seen so far; the one being read is number
    /// `sample_records - 1` (from 0, in file order).
    sample_records: u64,
    /// The first weight that passed 2^63-1: ends the read with this error.
    overflow: Option<Error>,
}

/// Read a validated container into a profile.
pub(crate) fn read_container(c: Container, opts: &ReadOptions) -> Result<Profile, Error> {
    // How far the record stream has been read: where a record the parser
    // refuses lies before.
    let position = Arc::new(AtomicU64::new(0));
    let perf_reader = PerfFileReader::parse_pipe(c.stream(opts.progress.clone(), position.clone()))
        .map_err(|e| Error::parse(e, position.load(Ordering::Relaxed)))?;
    let attrs: Vec<AttributeDescription> = perf_reader.perf_file.event_attributes().to_vec();

    // Value columns: one per event, then off-CPU, then samples.
    let mut value_types = Vec::new();
    let mut events = Vec::new();
    let mut has_sched_switch = false;
    for (i, attr) in attrs.iter().enumerate() {
        let name = c
            .events
            .get(i)
            .and_then(|e| e.name.clone())
            .unwrap_or_else(|| default_event_name(&attr.attr.type_, i));
        let (kind, unit) = column_of(&name, &attr.attr.type_);
        let sched_switch = kind == "sched:sched_switch";
        has_sched_switch |= sched_switch;
        use linux_perf_data::linux_perf_event_reader::SamplingPolicy;
        let (fixed_period, sampled) = match attr.attr.sampling_policy {
            SamplingPolicy::Period(p) if p.get() == 1 => (1, None),
            SamplingPolicy::Period(p) => (p.get(), Some(format!("period {p}"))),
            SamplingPolicy::Frequency(f) => (1, Some(format!("frequency {f} Hz"))),
            SamplingPolicy::NoSampling => (1, None),
        };
        events.push(EventColumn {
            column: value_types.len(),
            sched_switch,
            fixed_period,
            sampled,
        });
        value_types.push(ValueType::new(kind, unit));
    }
    let off_cpu_column = (opts.off_cpu || has_sched_switch).then(|| {
        value_types.push(ValueType::new("off-cpu", "nanoseconds"));
        value_types.len() - 1
    });
    value_types.push(ValueType::new("samples", "count"));
    let samples_column = value_types.len() - 1;
    let columns = value_types.len();

    let mut profile = Profile::new(value_types);
    profile.meta_mut().source_format = "perf.data".to_string();
    profile.meta_mut().comm_root = true;
    profile.meta_mut().default_value = 0;
    profile.meta_mut().events = attrs
        .iter()
        .enumerate()
        .map(|(i, a)| {
            c.events
                .get(i)
                .and_then(|e| e.name.clone())
                .unwrap_or_else(|| default_event_name(&a.attr.type_, i))
        })
        .collect();
    profile
        .meta_mut()
        .warnings
        .extend(c.warnings.iter().cloned());

    let mut r = Reader {
        opts,
        profile,
        sym: Symbolizer::new(opts.symbols.clone()),
        events,
        off_cpu_column,
        samples_column,
        columns,
        paths: Vec::new(),
        path_index: HashMap::new(),
        build_ids: HashMap::new(),
        hit_paths: Vec::new(),
        processes: FxHashMap::default(),
        comms: FxHashMap::default(),
        threads: FxHashMap::default(),
        addr_cache: FxHashMap::default(),
        addr_frames: Vec::new(),
        front: vec![FrontEntry::default(); FRONT_SIZE],
        generations: 0,
        jitdumps: FxHashMap::default(),
        pending_off_cpu: FxHashMap::default(),
        switch_ins: SwitchIns::default(),
        first_time: None,
        clock: c.clock,
        last_time: None,
        lost: 0,
        malformed: c.malformed_records,
        unknown_records: c.unknown_records,
        unwound_samples: 0,
        scratch: Vec::new(),
        batch: StackBatch::default(),
        sample_paths: Vec::new(),
        rows: FxHashMap::default(),
        last_path: FxHashMap::default(),
        values: vec![0; columns],
        weight_totals: vec![0; columns],
        sample_records: 0,
        overflow: None,
    };
    r.sym.set_recorded_kernel_release(c.os_release.clone());
    // An event that samples the kernel will want kernel symbols: read them
    // meanwhile.
    if attrs.iter().any(|a| {
        !a.attr
            .flags
            .contains(linux_perf_data::linux_perf_event_reader::AttrFlags::EXCLUDE_KERNEL)
    }) {
        r.sym.prefetch_kallsyms();
    }
    for (path, id) in &c.build_ids {
        r.sym.add_build_id(path, id);
        let p = r.path_id(path);
        r.build_ids.insert(p, id.clone());
    }

    // Records are parsed and decoded on another thread, in order, while
    // this one symbolizes them.
    // Emptied batches go back to the decoder, which refills them: their
    // buffers are allocated (and their pages faulted in) once.
    let (send, recv) = decode::channel();
    let (give_back, recycled) = std::sync::mpsc::channel::<decode::Batch>();
    std::thread::scope(|scope| -> Result<(), Error> {
        let decoder = std::thread::Builder::new()
            .name("perf-decode".into())
            .spawn_scoped(scope, move || {
                decode::decode_all(perf_reader, &send, &recycled, &position);
            });
        if let Err(e) = decoder {
            return Err(Error::Io(e));
        }
        for batch in recv {
            let decode::Batch {
                mut records,
                mut entries,
            } = batch?;
            for d in records.drain(..) {
                r.apply(d, &entries);
            }
            if let Some(e) = r.overflow.take() {
                return Err(e);
            }
            entries.clear();
            // The decoder may have ended: then the batch is dropped.
            let _ = give_back.send(decode::Batch { records, entries });
        }
        Ok(())
    })?;
    Ok(r.finish())
}

/// perf's name for an event without a recorded name.
fn default_event_name(ty: &PerfEventType, index: usize) -> String {
    use linux_perf_data::linux_perf_event_reader::{HardwareEventId, SoftwareCounterType};
    match ty {
        PerfEventType::Software(s) => match s {
            SoftwareCounterType::CpuClock => "cpu-clock".into(),
            SoftwareCounterType::TaskClock => "task-clock".into(),
            SoftwareCounterType::PageFaults => "page-faults".into(),
            SoftwareCounterType::ContextSwitches => "context-switches".into(),
            SoftwareCounterType::CpuMigrations => "cpu-migrations".into(),
            SoftwareCounterType::PageFaultsMin => "minor-faults".into(),
            SoftwareCounterType::PageFaultsMaj => "major-faults".into(),
            _ => format!("event{index}"),
        },
        PerfEventType::Hardware(h, _) => match h {
            HardwareEventId::CpuCycles => "cycles".into(),
            HardwareEventId::Instructions => "instructions".into(),
            HardwareEventId::CacheReferences => "cache-references".into(),
            HardwareEventId::CacheMisses => "cache-misses".into(),
            HardwareEventId::BranchInstructions => "branches".into(),
            HardwareEventId::BranchMisses => "branch-misses".into(),
            _ => format!("event{index}"),
        },
        PerfEventType::Tracepoint(id) => format!("tracepoint:{id}"),
        _ => format!("event{index}"),
    }
}

/// The value column (kind, unit) of an event: its name without perf's
/// modifiers (`cpu-clock:ppp` -> `cpu-clock`; a tracepoint keeps
/// `subsystem:name`); nanoseconds for the clock events.
fn column_of(name: &str, ty: &PerfEventType) -> (String, &'static str) {
    use linux_perf_data::linux_perf_event_reader::SoftwareCounterType;
    let kind = stackconv_model::naming::strip_event_modifiers(name).to_string();
    let unit = match ty {
        PerfEventType::Software(SoftwareCounterType::CpuClock | SoftwareCounterType::TaskClock) => {
            "nanoseconds"
        }
        // `perf record --off-cpu`: a BPF output event whose period is the
        // time the thread was off the CPU.
        _ if kind == "offcpu-time" => "nanoseconds",
        _ => "count",
    };
    (kind, unit)
}

impl Reader<'_> {
    fn path_id(&mut self, path: &[u8]) -> u32 {
        if let Some(&id) = self.path_index.get(path) {
            return id;
        }
        let id = u32::try_from(self.paths.len()).unwrap_or(u32::MAX);
        let arc: Arc<[u8]> = Arc::from(path);
        self.paths.push(arc.clone());
        self.path_index.insert(arc, id);
        self.hit_paths.push(false);
        id
    }

    fn path_str(&self, id: u32) -> String {
        self.paths
            .get(id as usize)
            .map(|p| String::from_utf8_lossy(p).into_owned())
            .unwrap_or_default()
    }

    /// Take one decoded record into the profile.
    fn apply(&mut self, d: Decoded, entries: &[Entry]) {
        match d {
            Decoded::Sample(s) => self.sample(s, entries),
            Decoded::Comm { pid, tid, name } => {
                let id = self.profile.intern_str(&name);
                self.comms.insert(tid, (pid, id));
            }
            Decoded::Fork {
                pid,
                ppid,
                tid,
                ptid,
            } => {
                if let Some(&(_, comm)) = self.comms.get(&ptid) {
                    self.comms.insert(tid, (pid, comm));
                } else if let Some(&(_, comm)) = self.comms.get(&ppid) {
                    self.comms.insert(tid, (pid, comm));
                }
                if pid != ppid && !self.processes.contains_key(&pid) {
                    let maps = self
                        .processes
                        .get(&ppid)
                        .map(|p| p.maps.clone())
                        .unwrap_or_default();
                    let generation = self.next_generation();
                    self.processes.insert(
                        pid,
                        Process {
                            maps,
                            generation,
                            unwinder: None,
                        },
                    );
                }
            }
            Decoded::Mmap {
                pid,
                mode,
                start,
                len,
                pgoff,
                path,
                build_id,
                executable,
            } => {
                if let Some(id) = build_id {
                    self.sym.add_build_id(&path, &id);
                    let p = self.path_id(&path);
                    self.build_ids.insert(p, id);
                }
                if executable {
                    self.mmap(pid, mode, start, len, pgoff, &path);
                }
            }
            Decoded::Lost(n) => self.lost = self.lost.saturating_add(n),
            Decoded::SwitchIn { tid, time } => {
                if self.switch_in(tid, time) {
                    self.switch_ins.records += 1;
                }
            }
            Decoded::Malformed => self.malformed += 1,
            Decoded::Other => {}
        }
    }

    fn mmap(&mut self, pid: i32, mode: CpuMode, start: u64, len: u64, pgoff: u64, path: &[u8]) {
        if matches!(mode, CpuMode::Kernel | CpuMode::GuestKernel) || pid == -1 {
            // Kernel and module maps: kernel addresses go to kallsyms.
            return;
        }
        let Some(end) = start.checked_add(len) else {
            return;
        };
        if is_jitdump(path) {
            if let Ok(pid) = u32::try_from(pid) {
                self.sym.add_jitdump(pid, path);
                self.jitdumps
                    .insert(pid, String::from_utf8_lossy(path).into_owned());
            }
        }
        let kind = if is_anon(path) {
            MapKind::Anon
        } else {
            MapKind::File
        };
        let path = self.path_id(path);
        let generation = self.next_generation();
        let proc = self.processes.entry(pid).or_default();
        // Replace what the new mapping overlaps (perf's
        // maps__fixup_overlappings): trim or split the old ones.
        let mut kept = Vec::with_capacity(proc.maps.len() + 2);
        let mut removed = Vec::new();
        for m in proc.maps.drain(..) {
            if m.end <= start || m.start >= end {
                kept.push(m);
                continue;
            }
            removed.push(m.start);
            if m.start < start {
                kept.push(Mapping {
                    end: start,
                    ..m.clone()
                });
            }
            if m.end > end {
                kept.push(Mapping {
                    start: end,
                    pgoff: m.pgoff.wrapping_add(end - m.start),
                    ..m
                });
            }
        }
        kept.push(Mapping {
            start,
            end,
            pgoff,
            path,
            kind,
        });
        kept.sort_by_key(|m| m.start);
        proc.maps = kept;
        proc.generation = generation;
        if let Some(u) = proc.unwinder.as_mut() {
            for s in removed {
                u.remove(s);
            }
        }
    }

    /// A fresh mapping generation.
    fn next_generation(&mut self) -> u32 {
        self.generations = self.generations.wrapping_add(1).max(1);
        self.generations
    }

    fn find_map(&self, pid: i32, addr: u64) -> Option<&Mapping> {
        let maps = &self.processes.get(&pid)?.maps;
        let i = maps.partition_point(|m| m.start <= addr);
        let m = maps.get(i.checked_sub(1)?)?;
        (addr < m.end).then_some(m)
    }

    /// The frames (innermost first) of one address, a span of
    /// `addr_frames`; `inline`: with the inlined frames (DWARF-unwound
    /// entries) or only the function (callchain entries). `generation` is
    /// that of the process's mappings now.
    #[inline]
    fn frames_of(&mut self, pid: i32, generation: u32, e: Entry) -> Span {
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
    fn span_frames(&self, span: Span) -> &[FrameId] {
        let start = span.0 as usize;
        self.addr_frames
            .get(start..start + span.1 as usize)
            .unwrap_or_default()
    }

    fn frames_of_slow(&mut self, pid: i32, addr: u64, kernel: bool, inline: bool) -> Span {
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

    fn intern_sym(
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

    fn thread_of(&mut self, pid: i32, tid: i32) -> ThreadId {
        // perf names a thread it saw no COMM for ":TID", and the idle
        // task (pid 0) "swapper".
        let comm = self.comms.get(&tid).map(|&(_, c)| c).unwrap_or_else(|| {
            let name = if tid == 0 {
                "swapper".to_string()
            } else {
                format!(":{tid}")
            };
            self.profile.intern_str(&name)
        });
        if let Some(&t) = self.threads.get(&(pid, tid, comm)) {
            return t;
        }
        let process_name = self.comms.get(&pid).map(|&(_, c)| c).unwrap_or(comm);
        let t = self.profile.intern_thread(Thread {
            pid: u32::try_from(pid).ok(),
            tid: u32::try_from(tid).ok(),
            process_name,
            thread_name: comm,
        });
        self.threads.insert((pid, tid, comm), t);
        t
    }

    fn sample(&mut self, s: Sample, batch_entries: &[Entry]) {
        self.sample_records += 1;
        let Some(ev) = self.events.get(s.attr_index).cloned() else {
            self.malformed += 1;
            return;
        };
        let pid = s.pid.unwrap_or(-1);
        let mut tid = s.tid.unwrap_or(pid);
        // A thread that is exiting has been unhashed (perf_event_tid gives
        // -1) but may still be switched out and in again: a sched_switch
        // names it in prev_pid.
        if ev.sched_switch && tid == -1 {
            tid = s.prev_pid.filter(|&p| p > 0).unwrap_or(tid);
        }
        if let Some(t) = s.timestamp {
            self.first_time = Some(self.first_time.map_or(t, |f| f.min(t)));
            self.last_time = Some(self.last_time.map_or(t, |l| l.max(t)));
            // A sample of a thread means it ran: an off-CPU interval still
            // open ended by now (an upper bound when no switch-in was
            // recorded; a sched_switch sample is a switch-out, so the thread
            // ran before it).
            if self.switch_in(tid, t) {
                self.switch_ins.later_sample += 1;
            }
        }
        let thread = self.thread_of(pid, tid);

        // The addresses of the stack, leaf first: the callchain, then for
        // --call-graph dwarf the user stack unwound from the registers.
        // A frame-pointer callchain is used where the decoder put it; only
        // a DWARF-unwound one is copied, to append the unwound frames.
        let chain = batch_entries.get(s.entries.clone()).unwrap_or_default();
        let mut entries = std::mem::take(&mut self.scratch);
        entries.clear();
        let stack_entries = match &s.user {
            None => chain,
            Some(user) => {
                entries.extend_from_slice(chain);
                let addrs = self.unwind_user(pid, user.ip, user.sp, user.bp, &user.stack);
                self.unwound_samples += 1;
                // The callchain's own user part (if any) is the same ip.
                let skip = usize::from(user.user_ip_seen);
                entries.extend(addrs.iter().skip(skip).map(|&(addr, _)| Entry {
                    addr,
                    kernel: false,
                    inline: true,
                }));
                &entries[..]
            }
        };

        let comm = self.profile.threads().get(thread).thread_name;
        let stack = if self.profile.str(comm).starts_with("java") {
            self.java_stack(pid, stack_entries, comm)
        } else {
            self.intern_entries(pid, tid, stack_entries)
        };
        self.scratch = entries;

        // The sample's period, as perf script prints it (and
        // inferno-collapse-perf sums it): nanoseconds for the clock events,
        // event counts otherwise (1 for a tracepoint hit, more when perf
        // sampled a tracepoint by frequency).
        let weight = s.period.unwrap_or(ev.fixed_period);
        let mut values = std::mem::take(&mut self.values);
        values.clear();
        values.resize(self.columns, 0);
        if let Some(v) = values.get_mut(ev.column) {
            *v = self.weight(ev.column, weight);
        }
        if let Some(v) = values.get_mut(self.samples_column) {
            *v = 1;
        }
        self.push_sample(stack, thread, s.timestamp, &values);
        self.values = values;

        if ev.sched_switch {
            if let (Some(t), Some(_)) = (s.timestamp, self.off_cpu_column) {
                // A switch-out of a thread perf could not name opens no
                // interval: nothing can end it.
                if tid >= 0 {
                    self.pending_off_cpu.insert(
                        tid,
                        SwitchOut {
                            time: t,
                            stack,
                            thread,
                        },
                    );
                }
                // In a system-wide recording, next_pid switches in now.
                if let Some(next) = s.next_pid.filter(|&n| n != tid && n > 0) {
                    if self.switch_in(next, t) {
                        self.switch_ins.next_pid += 1;
                    }
                }
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
    fn intern_entries(&mut self, pid: i32, tid: i32, entries: &[Entry]) -> PathId {
        let generation = self.processes.get(&pid).map_or(0, |p| p.generation);
        let mut last = self.last_path.remove(&tid).unwrap_or_default();
        let shared = if last.generation == generation {
            last.entries
                .iter()
                .zip(entries.iter().rev())
                .take_while(|(a, b)| a == b)
                .count()
        } else {
            0
        };
        let path = match last.path {
            Some(path) if shared == entries.len() && shared == last.entries.len() => path,
            _ => {
                last.generation = generation;
                last.entries.truncate(shared);
                last.ends.truncate(shared);
                last.frames.truncate(last.ends.last().copied().unwrap_or(0));
                for e in entries.iter().rev().skip(shared) {
                    let span = self.frames_of(pid, generation, *e);
                    last.frames.extend(self.span_frames(span).iter().rev());
                    last.entries.push(*e);
                    last.ends.push(last.frames.len());
                }
                self.batch.add(&last.frames)
            }
        };
        last.path = Some(path);
        self.last_path.insert(tid, last);
        path
    }

    /// As [`Self::intern_entries`], with inferno's Java tidy of each frame
    /// (it depends on the comm; rare, so not cached).
    fn java_stack(&mut self, pid: i32, entries: &[Entry], comm: StringId) -> PathId {
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

    /// Charge the off-CPU interval of `tid` that ends at `time`; whether
    /// one was open.
    fn switch_in(&mut self, tid: i32, time: u64) -> bool {
        let Some(col) = self.off_cpu_column else {
            return false;
        };
        let Some(out) = self.pending_off_cpu.remove(&tid) else {
            return false;
        };
        let Some(dt) = time.checked_sub(out.time) else {
            return false;
        };
        let mut values = vec![0i64; self.columns];
        if let Some(v) = values.get_mut(col) {
            *v = self.weight(col, dt);
        }
        self.push_sample(out.stack, out.thread, Some(out.time), &values);
        true
    }

    /// Say when the off-CPU column can only be part of the off-CPU time:
    /// `sched:sched_switch` was sampled (only some switch-outs recorded), or
    /// no switch-in was recorded (no `--switch-events` and not system-wide),
    /// so intervals end at the thread's next sample, an upper bound.
    fn off_cpu_completeness(&mut self) {
        const HOW: &str =
            "record every switch with `perf record -e sched:sched_switch -c 1 --switch-events`";
        if self.off_cpu_column.is_none() {
            return;
        }
        for ev in self.events.iter().filter(|e| e.sched_switch) {
            if let Some(how) = &ev.sampled {
                self.profile.meta_mut().warnings.push(format!(
                    "off-CPU time is incomplete: sched:sched_switch was sampled ({how}), so most switch-outs were not recorded; {HOW}"
                ));
            }
        }
        let s = self.switch_ins;
        if s.later_sample > 0 && s.records == 0 && s.next_pid == 0 {
            self.profile.meta_mut().warnings.push(format!(
                "off-CPU time is approximate: no switch-in was recorded (no PERF_RECORD_SWITCH records, not system-wide), so {} off-CPU intervals end at their thread's next sample; {HOW}",
                s.later_sample
            ));
        }
    }

    /// Push a sample whose stack is the path `path` (set in
    /// [`Self::finish`], once all paths are interned).
    ///
    /// With `opts.fold`, a sample of a (path, thread) pushed before is
    /// added to that row (as [`Profile::into_folded`] would), without its
    /// time.
    /// `weight` for value column `column`, added to the column's total; a
    /// total past 2^63-1 (or a weight past it) is remembered as the
    /// error that ends the read, naming the sample record, and counts 0.
    fn weight(&mut self, column: usize, weight: u64) -> i64 {
        let Some(total) = self.weight_totals.get_mut(column) else {
            return 0;
        };
        match total
            .checked_add(weight)
            .filter(|&t| i64::try_from(t).is_ok())
        {
            Some(t) => {
                *total = t;
                i64::try_from(weight).unwrap_or(0)
            }
            None => {
                if self.overflow.is_none() {
                    self.overflow = Some(Error::WeightOverflow {
                        sample: self.sample_records.saturating_sub(1),
                        column: self
                            .profile
                            .value_types()
                            .get(column)
                            .map(|vt| vt.kind.clone())
                            .unwrap_or_default(),
                    });
                }
                0
            }
        }
    }

    fn push_sample(&mut self, path: PathId, thread: ThreadId, time: Option<u64>, values: &[i64]) {
        if !self.opts.fold {
            self.profile.push_sample(None, thread, time, values);
            self.sample_paths.push(path);
            return;
        }
        let next = self.sample_paths.len();
        let row = *self.rows.entry((path, thread)).or_insert(next);
        if row == next {
            self.profile.push_sample(None, thread, None, values);
            self.sample_paths.push(path);
            return;
        }
        // Within the column's total, checked by `weight`: cannot overflow.
        let _ = self.profile.add_to_sample(row, values);
    }

    /// Unwind the user stack of a `--call-graph dwarf` sample: the
    /// instruction pointer, then return addresses, outermost last.
    fn unwind_user(
        &mut self,
        pid: i32,
        ip: u64,
        sp: u64,
        bp: u64,
        stack: &[u8],
    ) -> Vec<(u64, bool)> {
        let mut out = Vec::new();
        let mut read_stack = |addr: u64| -> Result<u64, ()> {
            let off = addr.checked_sub(sp).ok_or(())?;
            let off = usize::try_from(off).map_err(|_| ())?;
            let b = stack.get(off..off.checked_add(8).ok_or(())?).ok_or(())?;
            let a: [u8; 8] = b.try_into().map_err(|_| ())?;
            Ok(u64::from_le_bytes(a))
        };
        let mut regs = UnwindRegsX86_64::new(ip, sp, bp);
        let mut address = FrameAddress::from_instruction_pointer(ip);
        let upid = u32::try_from(pid).unwrap_or(0);
        let mut unwinder = self
            .processes
            .get_mut(&pid)
            .and_then(|p| p.unwinder.take())
            .unwrap_or_else(|| Box::new(ProcessUnwinder::new()));
        for _ in 0..unwind::MAX_FRAMES {
            let addr = address.address();
            out.push((addr, address.is_return_address()));
            let lookup = address.address_for_lookup();
            // Make sure the module of this address is known to framehop.
            let map = self.find_map(pid, lookup).cloned();
            let mut next = None;
            match map {
                Some(m) if m.kind == MapKind::File => {
                    if unwinder.tried.insert(m.start) {
                        let path = self.paths.get(m.path as usize).cloned();
                        if let Some(path) = path {
                            if let Ok(bytes) = self.sym.file_bytes(&path) {
                                let name = String::from_utf8_lossy(&path).into_owned();
                                if let Some(module) =
                                    unwind::module_for(&name, bytes, m.start, m.end, m.pgoff)
                                {
                                    unwinder.add(module);
                                }
                            }
                        }
                    }
                }
                Some(_) | None => {
                    // JIT code: the Python 3.12 perf trampoline rule.
                    if let Some((start, size, name)) = self.sym.jit_entry(upid, addr) {
                        if stackconv_model::naming::is_python_perf_symbol(&name) {
                            if let Some((ra, caller_sp)) = unwind::trampoline_step(
                                address,
                                start,
                                size,
                                regs.sp(),
                                &mut read_stack,
                            ) {
                                regs.set_sp(caller_sp);
                                next = Some(ra);
                            }
                        }
                    }
                }
            }
            let ra = match next {
                Some(ra) => Some(ra),
                None => unwinder.step(address, &mut regs, &mut read_stack),
            };
            match ra.and_then(FrameAddress::from_return_address) {
                Some(a) => address = a,
                None => break,
            }
        }
        if let Some(p) = self.processes.get_mut(&pid) {
            p.unwinder = Some(unwinder);
        }
        out
    }

    fn finish(mut self) -> Profile {
        let batch = std::mem::take(&mut self.batch);
        let stacks = batch.intern_into(self.profile.stacks_mut());
        let paths = &self.sample_paths;
        self.profile.map_sample_stacks(|i, _| {
            let path = paths.get(i)?;
            stacks.get(path.index()).copied().flatten()
        });
        // Off-CPU intervals still open at the end of the recording are
        // dropped: their length is unknown.
        let open = self.pending_off_cpu.len() as u64;
        if open > 0 && self.off_cpu_column.is_some() {
            self.profile.meta_mut().warnings.push(format!(
                "{open} threads were still switched out at the end of the recording; their last off-CPU interval is not counted"
            ));
        }
        self.off_cpu_completeness();
        let meta = self.profile.meta_mut();
        meta.add_loss("lost samples (PERF_RECORD_LOST)", self.lost);
        meta.add_loss("malformed records skipped", self.malformed);
        meta.add_loss("records of unknown type skipped", self.unknown_records);
        if let (Some(f), Some(l)) = (self.first_time, self.last_time) {
            meta.duration_ns = Some(l - f);
            // Wall-clock start, when perf recorded how its clock relates.
            if let Some((wall, clock)) = self.clock {
                meta.start_time_ns = clock.checked_sub(f).and_then(|d| wall.checked_sub(d));
            }
        }
        let (losses, warnings) = self.sym.report();
        for l in losses {
            meta.add_loss(&l.what, l.count);
        }
        meta.warnings.extend(warnings);
        for (i, hit) in self.hit_paths.iter().enumerate() {
            if !hit {
                continue;
            }
            let Ok(id) = u32::try_from(i) else { continue };
            let path = self
                .paths
                .get(i)
                .map(|p| String::from_utf8_lossy(p).into_owned())
                .unwrap_or_default();
            let build_id = self.build_ids.get(&id).cloned();
            self.profile
                .meta_mut()
                .modules
                .push(Module::new(path, build_id));
        }
        let _ = self.opts;
        self.profile
    }
}

/// Anonymous memory, as perf's `is_anon_memory` / `is_no_dso_memory`:
/// perf names its code through `/tmp/perf-PID.map`.
fn is_anon(path: &[u8]) -> bool {
    path.is_empty()
        || path.starts_with(b"//anon")
        || path.starts_with(b"[anon:")
        || path.starts_with(b"/dev/zero")
        || path.starts_with(b"/anon_hugepage")
        || path.starts_with(b"/memfd:")
        || path == b"[heap]"
        || path == b"[stack]"
        || is_jitdump(path)
}

/// A jitdump file mapped by a JIT (`.../jit-PID.dump`).
fn is_jitdump(path: &[u8]) -> bool {
    let base = path.rsplit(|&c| c == b'/').next().unwrap_or(path);
    base.starts_with(b"jit-") && base.ends_with(b".dump")
}
