//! From records to a [`Profile`]: threads, mappings, callchains, DWARF
//! unwinding, symbolization, value columns and off-CPU time.

use std::collections::HashMap;
use std::sync::Arc;

use framehop::x86_64::UnwindRegsX86_64;
use framehop::FrameAddress;
use linux_perf_event_reader::{CpuMode, PerfEventType};
use stackconv_model::naming::{tidy_java_symbol, unknown_frame_name};
use stackconv_model::{
    Frame, FrameId, FrameKind, Module, PathBuilder, PathId, PathMark, Profile, SpilledRows,
    StackBatch, StringId, Thread, ThreadId, ValueType,
};

use crate::container::{Container, Streamed};
use crate::decode::{self, Decoded, Entry, Sample};
use crate::error::Error;
use crate::fxhash::FxHashMap;
use crate::pages::Pages;
use crate::records;
use crate::records::Events;
use crate::symbolize::{FilesPrefetch, KallsymsPrefetch, SymbolOptions, Symbolizer, Unresolved};
use crate::unwind::{self, ProcessUnwinder};
use crate::ReadOptions;

mod frames;
mod offcpu;
mod process;
mod unwinding;

use frames::{AddrKey, Deferred, FrontEntry, KeyFrames, KeyStack, Span, FRONT_SIZE};
use offcpu::{SwitchIns, SwitchOut};
use process::{MapKind, Process};

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

/// The thread of a sample, and what is looked up from it.
#[derive(Clone, Copy)]
struct LastThread {
    /// The comms' generation when it was looked up, the pid and tid.
    key: (u64, i32, i32),
    thread: ThreadId,
    comm: StringId,
    /// Whether the comm is Java's.
    java: bool,
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
    /// Per process, the path of its first file mapping: the executable
    /// (perf records it first after an exec, and first in address order
    /// for a process it attaches to).
    exes: FxHashMap<i32, u32>,
    processes: FxHashMap<i32, Process>,
    /// Thread comm by tid, and the pid it belongs to.
    comms: Comms,
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
    /// With `opts.fold`: the rows of each path, threads apart: the first
    /// row of a path (by path index; [`NO_ROW`]: none yet), and after each
    /// row the next of its path. Most paths are of one thread, and a
    /// chain costs 8 bytes a row where a map of (path, thread) costs 20.
    first_row: Vec<u32>,
    next_row: Vec<u32>,
    /// Per thread, the previous sample's entries and frames, see
    /// [`Reader::intern_entries`].
    last_path: FxHashMap<i32, Box<KeyStack>>,
    /// Each chain key's stack as the decoder last sent it
    /// ([`decode::chain_key`]); boxed, as a sample takes its key's out of
    /// the map and puts it back.
    key_stacks: FxHashMap<i32, Box<KeyStack>>,
    /// The thread of the last sample, kept while the samples are of it.
    last_thread: Option<LastThread>,
    values: Vec<i64>,
    /// Per value column, the sum of the weights pushed so far (all
    /// non-negative): kept within 2^63-1, so every sum of some of them fits.
    weight_totals: Vec<u64>,
    /// Sample records seen so far; the one being read is number
    /// `sample_records - 1` (from 0, in file order).
    sample_records: u64,
    /// The first weight that passed 2^63-1: ends the read with this error.
    overflow: Option<Error>,
    /// Where the sample record being read lies in the input.
    sample_offset: Option<u64>,
    /// When addresses are named at the end, what their keys stand for.
    deferred: Option<Deferred>,
    /// The frames of the keys, once named, while spilled chunks of paths
    /// of keys are to be expanded.
    key_frames: Option<KeyFrames>,
    /// Chunks of distinct paths and their rows moved out of memory
    /// ([`ReadOptions::max_stack_memory`]).
    spilled: Option<SpilledRows>,
    /// The memory the paths and rows may take before they are spilled
    /// (`usize::MAX`: never).
    spill_at: usize,
    /// The paths and rows passed `spill_at`: spilled once the sample is
    /// read.
    spill_due: bool,
}

/// How many records ahead a sample's new stack entries are asked for.
const PREFETCH_RECORDS: usize = 2;

/// No row: the end of a chain of [`Reader::next_row`].
const NO_ROW: u32 = u32::MAX;

/// Read a validated container into a profile.
/// `kallsyms`, `files`: the kernel symbols' and the files' reads, when
/// the walk started them.
pub(crate) fn read_container(
    c: Container,
    opts: &ReadOptions,
    kallsyms: Option<KallsymsPrefetch>,
    files: Option<FilesPrefetch>,
) -> Result<Profile, Error> {
    let event_info = Events::new(&c)?;
    let mut r = Reader::start(&c, &event_info, opts, kallsyms, files);
    r.read_runs(
        records::runs_of(&c),
        c.input(),
        &event_info,
        c.pages(),
        &mut || None,
    )?;
    // Every record is read: none of the input's pages is needed while the
    // stacks are interned, when memory peaks.
    c.pages().release(0..c.input_len());
    r.finish()
}

/// Read a recording while its data section is walked
/// ([`Streamed::walk`], on another thread): as [`read_container`] reads
/// the walked container. When the walk fails, its error; when it finds
/// what the reading assumed otherwise (records not in the input as they
/// are, events named by records), the walked container is read again.
/// `kallsyms`: the kernel symbols' read, once the walk started it.
pub(crate) fn read_streamed(
    s: Streamed<'_>,
    opts: &ReadOptions,
    kallsyms: &(dyn Fn() -> Option<KallsymsPrefetch> + Sync),
    files: Option<FilesPrefetch>,
) -> Result<Profile, Error> {
    let preview = s.preview().clone();
    let Ok(event_info) = Events::new(&preview) else {
        // The walk's error, if any, comes first: walk, then read.
        let (c, _) = walk_alone(s)?;
        return read_container(c, opts, kallsyms(), files);
    };
    let mut r = Reader::start(&preview, &event_info, opts, None, files);
    let input = preview.input();
    let (read, walked) = std::thread::scope(|scope| {
        let (send, ranges) = std::sync::mpsc::sync_channel(STREAM_AHEAD);
        let walker = std::thread::Builder::new()
            .name("perf-walk".into())
            .spawn_scoped(scope, move || s.walk(send));
        let walker = match walker {
            Ok(w) => w,
            Err(e) => return (Err(Error::Io(e)), None),
        };
        let runs = records::Runs {
            runs: ranges.into_iter().map(|r: std::ops::Range<usize>| {
                (input.get(r.clone()).unwrap_or_default(), Some(r.start))
            }),
            big_endian: preview.big_endian,
            input_len: preview.input_len(),
        };
        let read = r.read_runs(runs, input, &event_info, preview.pages(), &mut || {
            kallsyms()
        });
        (read, walker.join().ok())
    });
    let (c, whole) = match walked {
        Some(walked) => walked?,
        None => {
            return Err(Error::Io(std::io::Error::other(
                "the walk's thread panicked",
            )))
        }
    };
    if !whole || !c.same_before_records(&preview) {
        drop(r);
        return read_container(c, opts, kallsyms(), None);
    }
    read?;
    // What only the walk's end knows.
    r.malformed = r.malformed.saturating_add(
        c.malformed_records
            .saturating_sub(preview.malformed_records),
    );
    r.unknown_records = r.unknown_records.saturating_add(c.unknown_records);
    let before = preview.warnings.len();
    let warnings = &mut r.profile.meta_mut().warnings;
    let at = before.min(warnings.len());
    let later = c.warnings.get(before..).unwrap_or_default().iter().cloned();
    warnings.splice(at..at, later);
    c.pages().release(0..c.input_len());
    r.finish()
}

/// Input ranges a streamed walk may pass on ahead of the reader
/// ([`Streamed::walk`]: a MiB each): how far ahead of the reading the
/// walk's pages may be.
const STREAM_AHEAD: usize = 4;

/// Walk `s` with no one reading along.
fn walk_alone<'a>(s: Streamed<'a>) -> Result<(Container<'a>, bool), Error> {
    let (send, ranges) = std::sync::mpsc::sync_channel(0);
    drop(ranges);
    s.walk(send)
}

impl<'o> Reader<'o> {
    /// A reader of container `c` (walked, or as known before its walk,
    /// [`read_streamed`]) with events `event_info`; the kernel symbols'
    /// and the files' reads adopted when started, else started when `c`
    /// says they will be needed.
    fn start(
        c: &Container,
        event_info: &Events,
        opts: &'o ReadOptions,
        kallsyms: Option<KallsymsPrefetch>,
        files: Option<FilesPrefetch>,
    ) -> Reader<'o> {
        let attrs = &event_info.attrs;

        // Value columns: one per event, then off-CPU, then samples.
        let mut value_types = Vec::new();
        let mut events = Vec::new();
        let mut has_sched_switch = false;
        for (i, attr) in attrs.iter().enumerate() {
            let name = c
                .events
                .get(i)
                .and_then(|e| e.name.clone())
                .unwrap_or_else(|| default_event_name(&attr.type_, i));
            let (kind, unit) = column_of(&name, &attr.type_);
            let sched_switch = kind == "sched:sched_switch";
            has_sched_switch |= sched_switch;
            use linux_perf_event_reader::SamplingPolicy;
            let (fixed_period, sampled) = match attr.sampling_policy {
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
                    .unwrap_or_else(|| default_event_name(&a.type_, i))
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
            exes: FxHashMap::default(),
            processes: FxHashMap::default(),
            comms: Comms::default(),
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
            first_row: Vec::new(),
            next_row: Vec::new(),
            last_path: FxHashMap::default(),
            key_stacks: FxHashMap::default(),
            last_thread: None,
            values: vec![0; columns],
            weight_totals: vec![0; columns],
            sample_records: 0,
            overflow: None,
            sample_offset: None,
            // The user stacks unwound here are named with DWARF (inlined
            // frames, lines): at the end, on both cores.
            deferred: (crate::records::unwinds_user_stacks(c)
                && (opts.symbols.inline || opts.symbols.lines)
                && !naming_while_reading())
            .then(Deferred::default),
            key_frames: None,
            spilled: None,
            // Paths of rows folded for a flame graph only: nothing else
            // holds a path while they are read (the switch-outs of an
            // off-CPU column do).
            spill_due: false,
            spill_at: match (&opts.flame_graph, off_cpu_column) {
                (Some(_), None) if opts.fold => opts
                    .max_stack_memory
                    .unwrap_or(crate::DEFAULT_MAX_STACK_MEMORY),
                _ => usize::MAX,
            },
        };
        r.sym.set_recorded_kernel_release(c.os_release.clone());
        // Samples taken in the kernel will want kernel symbols: read them
        // meanwhile. A recording without one (a user-space workload, or
        // `:u` events) names no kernel address, and reads none.
        if let Some(k) = kallsyms {
            r.sym.adopt_kallsyms(k);
        }
        for b in &c.build_ids {
            r.sym.add_build_id(&b.path, &b.id);
            let p = r.path_id(&b.path);
            r.build_ids.insert(p, b.id.clone());
        }
        // After the build ids: the kernel's picks the file.
        if c.kernel_samples > 0 {
            r.sym.prefetch_kallsyms();
        }
        // The files with samples, parsed ahead (in pipe mode their build ids
        // were at the end of the stream: from now).
        if let Some(f) = files.or_else(|| files_ahead(&opts.symbols, c)) {
            r.sym.adopt_files_prefetch(f);
        }
        r
    }

    /// Read the records of `runs`: parsed and decoded on another thread,
    /// in order, while this one symbolizes them; the input's pages
    /// released behind them. `arrived` is asked at each batch for the
    /// kernel symbols' read when it starts meanwhile.
    fn read_runs<'a>(
        &mut self,
        runs: records::Runs<impl records::RunIter<'a> + Send>,
        input: &[u8],
        event_info: &Events,
        pages: Pages<'_>,
        arrived: &mut dyn FnMut() -> Option<KallsymsPrefetch>,
    ) -> Result<(), Error> {
        let r = self;
        // Records are parsed and decoded on another thread, in order, while
        // this one symbolizes them.
        // Emptied batches go back to the decoder, which refills them: their
        // buffers are allocated (and their pages faulted in) once.
        let (send, recv) = decode::channel();
        let (give_back, recycled) = std::sync::mpsc::channel::<decode::Batch>();
        std::thread::scope(|scope| -> Result<(), Error> {
            let progress = r.opts.progress.as_ref();
            let decoder = std::thread::Builder::new()
                .name("perf-decode".into())
                .spawn_scoped(scope, move || {
                    decode::decode_all(runs, event_info, progress, &send, &recycled, pages, input);
                });
            if let Err(e) = decoder {
                return Err(Error::Io(e));
            }
            for batch in recv {
                let batch = batch?;
                let decode::Batch {
                    records,
                    stacks,
                    entries,
                    ..
                } = &batch;
                if let Some(k) = arrived() {
                    r.sym.adopt_kallsyms(k);
                }
                let data = decode::BatchData {
                    input,
                    stacks,
                    entries,
                };
                for at in 0..records.len() {
                    // A coming sample's new entries are asked for ahead: the
                    // decoder wrote them on the other core.
                    if let Some(decode::Decoded::Sample(s)) = records.get(at + PREFETCH_RECORDS) {
                        let new = entries.get(s.new.clone()).unwrap_or_default();
                        for line in new.chunks(4) {
                            stackconv_model::memory::prefetch(line.first());
                        }
                    }
                    // Read in place: a record is some 170 bytes.
                    if let Some(d) = records.get(at) {
                        r.apply(d, data);
                    }
                }
                if let Some(e) = r.overflow.take() {
                    return Err(e);
                }
                // The decoder empties it for the next records (it may have
                // ended: then the batch is dropped), and releases the
                // input's pages before `passed`.
                let _ = give_back.send(batch);
            }
            Ok(())
        })
    }
}

/// Thread comms by tid, with the pid each belongs to. Every change bumps
/// the generation: what was worked out from them (the last sample's
/// thread) holds while it is the same.
#[derive(Default)]
struct Comms {
    by_tid: FxHashMap<i32, (i32, StringId)>,
    generation: u64,
}

impl Comms {
    fn get(&self, tid: &i32) -> Option<&(i32, StringId)> {
        self.by_tid.get(tid)
    }

    fn insert(&mut self, tid: i32, comm: (i32, StringId)) {
        self.generation = self.generation.wrapping_add(1);
        self.by_tid.insert(tid, comm);
    }
}

/// Start parsing the files of recording `c` ahead
/// ([`FilesPrefetch::start_for`]): those perf wrote a build id for but the
/// kernel's and its modules'.
pub(crate) fn files_ahead(opts: &SymbolOptions, c: &Container<'_>) -> Option<FilesPrefetch> {
    let files = c
        .build_ids
        .iter()
        .filter(|b| !b.kernel)
        .map(|b| (b.path.as_slice(), b.id.as_slice()));
    FilesPrefetch::start_for(opts, files, crate::records::unwinds_user_stacks(c))
}

/// perf's name for an event without a recorded name.
fn default_event_name(ty: &PerfEventType, index: usize) -> String {
    use linux_perf_event_reader::{HardwareEventId, SoftwareCounterType};
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
    use linux_perf_event_reader::SoftwareCounterType;
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
    fn apply(&mut self, d: &Decoded, data: decode::BatchData<'_>) {
        match *d {
            Decoded::Sample(ref s) => self.sample(s, data),
            Decoded::Comm { pid, tid, ref name } => {
                let id = self.profile.intern_str(name);
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
                ref path,
                ref build_id,
                executable,
            } => {
                if let Some(id) = build_id {
                    self.sym.add_build_id(path, id);
                    let p = self.path_id(path);
                    self.build_ids.insert(p, id.clone());
                }
                if executable {
                    self.mmap(pid, mode, start, len, pgoff, path);
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

    fn sample(&mut self, s: &Sample, data: decode::BatchData<'_>) {
        // The decoder's stack of the sample's key, followed first, whatever
        // becomes of the sample: the mirror stays in step.
        let key = decode::chain_key(s.pid, s.tid);
        let mut chain = self.key_stacks.remove(&key).unwrap_or_default();
        let new = data.entries.get(s.new.clone()).unwrap_or_default();
        chain.follow(s.shared as usize, new);
        self.sample_of(s, data, &mut chain);
        self.key_stacks.insert(key, chain);
        // Once every stack that remembers a path is back in its map.
        if self.spill_due {
            self.spill();
        }
    }

    fn sample_of(&mut self, s: &Sample, data: decode::BatchData<'_>, chain: &mut KeyStack) {
        self.sample_records += 1;
        self.sample_offset = s.offset;
        // Copied out, not cloned: its description is a `String`.
        let Some(&EventColumn {
            column,
            sched_switch,
            fixed_period,
            ..
        }) = self.events.get(s.attr_index)
        else {
            self.malformed += 1;
            return;
        };
        let pid = s.pid.unwrap_or(-1);
        let mut tid = s.tid.unwrap_or(pid);
        // A thread that is exiting has been unhashed (perf_event_tid gives
        // -1) but may still be switched out and in again: a sched_switch
        // names it in prev_pid.
        if sched_switch && tid == -1 {
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
        // Consecutive samples are mostly of one thread.
        let key = (self.comms.generation, pid, tid);
        let last = match self.last_thread {
            Some(last) if last.key == key => last,
            _ => {
                let thread = self.thread_of(pid, tid);
                let comm = self.profile.threads().get(thread).thread_name;
                let last = LastThread {
                    key,
                    thread,
                    comm,
                    java: self.profile.str(comm).starts_with("java"),
                };
                self.last_thread = Some(last);
                last
            }
        };
        let LastThread {
            thread, comm, java, ..
        } = last;

        // The addresses of the stack, leaf first: the callchain, then for
        // --call-graph dwarf the user stack unwound from the registers.
        let stack = if s.user.is_none() && !java {
            self.intern_key_stack(pid, chain)
        } else {
            self.full_stack(s, pid, tid, comm, java, data, chain)
        };

        // The sample's period, as perf script prints it (and
        // inferno-collapse-perf sums it): nanoseconds for the clock events,
        // event counts otherwise (1 for a tracepoint hit, more when perf
        // sampled a tracepoint by frequency).
        let weight = s.period.unwrap_or(fixed_period);
        let mut values = std::mem::take(&mut self.values);
        values.clear();
        values.resize(self.columns, 0);
        if let Some(v) = values.get_mut(column) {
            *v = self.weight(column, weight);
        }
        if let Some(v) = values.get_mut(self.samples_column) {
            *v = 1;
        }
        self.push_sample(stack, thread, s.timestamp, &values);
        self.values = values;

        if sched_switch {
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

    /// The path of a sample whose stack is more than its callchain (the
    /// user stack of a `--call-graph dwarf` sample unwound) or whose frames
    /// depend on its thread's name (Java): its whole stack, leaf first.
    #[allow(clippy::too_many_arguments)]
    fn full_stack(
        &mut self,
        s: &Sample,
        pid: i32,
        tid: i32,
        comm: StringId,
        java: bool,
        data: decode::BatchData<'_>,
        chain: &KeyStack,
    ) -> PathId {
        let mut entries = std::mem::take(&mut self.scratch);
        entries.clear();
        entries.extend(chain.entries.iter().rev());
        if let Some(user) = &s.user {
            let stack = data.user_stack(user);
            let addrs = self.unwind_user(pid, user.ip, user.sp, user.bp, stack);
            self.unwound_samples += 1;
            // The callchain's own user part (if any) is the same ip.
            // The unwound addresses are lookup addresses: return
            // addresses one byte back (see `unwind_user`).
            let skip = usize::from(s.user_ip_seen);
            entries.extend(addrs.iter().skip(skip).map(|&addr| Entry {
                addr,
                kernel: false,
                inline: true,
            }));
        }
        let path = if java {
            self.java_stack(pid, &entries, comm)
        } else {
            self.intern_entries(pid, tid, &entries)
        };
        self.scratch = entries;
        path
    }

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
                        offset: self.sample_offset,
                    });
                }
                0
            }
        }
    }

    /// Push a sample whose stack is the path `path` (set in
    /// [`Self::finish`], once all paths are interned).
    ///
    /// With `opts.fold`, a sample of a (path, thread) pushed before is
    /// added to that row (as [`Profile::into_folded`] would), without its
    /// time.
    fn push_sample(&mut self, path: PathId, thread: ThreadId, time: Option<u64>, values: &[i64]) {
        if !self.opts.fold {
            self.profile.push_sample(None, thread, time, values);
            self.sample_paths.push(path);
            return;
        }
        if self.first_row.len() <= path.index() {
            self.first_row.resize(path.index() + 1, NO_ROW);
        }
        let threads = self.profile.samples().threads();
        let mut at = self.first_row.get(path.index()).copied().unwrap_or(NO_ROW);
        let mut last = None;
        while at != NO_ROW {
            if threads.get(at as usize) == Some(&thread) {
                // Within the column's total, checked by `weight`: cannot
                // overflow.
                let _ = self.profile.add_to_sample(at as usize, values);
                return;
            }
            last = Some(at);
            at = self.next_row.get(at as usize).copied().unwrap_or(NO_ROW);
        }
        let Ok(row) = u32::try_from(self.sample_paths.len()) else {
            // Past 2^32-1 rows (never, at 8 bytes a row): not folded.
            self.profile.push_sample(None, thread, None, values);
            self.sample_paths.push(path);
            self.next_row.push(NO_ROW);
            return;
        };
        let link = match last {
            Some(l) => self.next_row.get_mut(l as usize),
            None => self.first_row.get_mut(path.index()),
        };
        if let Some(link) = link {
            *link = row;
        }
        self.profile.push_sample(None, thread, None, values);
        self.sample_paths.push(path);
        self.next_row.push(NO_ROW);
        // What the paths and rows take: the batch, and per row its path,
        // link, thread and values, per path its first row.
        let rows = self.sample_paths.len() * (12 + 8 * self.columns) + self.first_row.len() * 4;
        if self.batch.heap_bytes() + rows >= self.spill_at {
            self.spill_due = true;
        }
    }

    /// Move the paths and rows to the temporary file
    /// ([`ReadOptions::max_stack_memory`]); when it cannot be written,
    /// keep them, and every later one, in memory.
    #[cold]
    fn spill(&mut self) {
        self.spill_due = false;
        let spilled = match &mut self.spilled {
            Some(s) => Ok(s),
            None => SpilledRows::new().map(|s| self.spilled.insert(s)),
        };
        let keys = self.deferred.is_some();
        let moved = spilled.and_then(|s| {
            self.batch
                .spill_rows(&mut self.profile, &mut self.sample_paths, s, keys)
        });
        match moved {
            Ok(()) => {
                self.first_row.clear();
                self.next_row.clear();
                // The paths they remember are gone.
                for stack in self
                    .key_stacks
                    .values_mut()
                    .chain(self.last_path.values_mut())
                {
                    stack.forget_path();
                }
            }
            Err(e) => {
                self.spill_at = usize::MAX;
                self.profile.meta_mut().warnings.push(format!(
                    "the distinct stacks could not be moved to a temporary file ({e}); they were kept in memory"
                ));
            }
        }
    }

    /// The path of the executable of the process with the most samples
    /// (the lowest pid of those with as many), when perf recorded its
    /// mappings.
    /// Counted from the rows' samples column (folded rows carry their
    /// count), once, at the end.
    fn main_executable(&self) -> Option<u32> {
        let samples = self.profile.samples();
        let counts = samples.values().get(self.samples_column)?;
        let mut by_pid: FxHashMap<i32, i64> = FxHashMap::default();
        for (thread, &n) in samples.threads().iter().zip(counts) {
            let pid = self.profile.threads().get(*thread).pid;
            let pid = pid.and_then(|p| i32::try_from(p).ok());
            if let Some(pid) = pid.filter(|p| self.exes.contains_key(p)) {
                let total = by_pid.entry(pid).or_default();
                *total = total.saturating_add(n);
            }
        }
        let (pid, _) = by_pid
            .into_iter()
            .max_by_key(|&(pid, n)| (n, std::cmp::Reverse(pid)))?;
        self.exes.get(&pid).copied()
    }

    fn finish(mut self) -> Result<Profile, Error> {
        self.name_deferred();
        // The symbolizer (parsed files, their DWARF, the caches) is done
        // with once it has said what it lost: freed on another thread
        // while the stacks are interned here.
        let (losses, warnings) = self.sym.report();
        let sym = std::mem::replace(&mut self.sym, Symbolizer::new(SymbolOptions::default()));
        stackconv_model::memory::drop_elsewhere(sym);
        let batch = std::mem::take(&mut self.batch);
        // What reading needed is done with: freed before the stacks are
        // interned, which takes memory of its own.
        self.first_row = Vec::new();
        self.next_row = Vec::new();
        self.last_path = FxHashMap::default();
        self.key_stacks = FxHashMap::default();
        self.addr_cache = FxHashMap::default();
        self.addr_frames = Vec::new();
        self.front = Vec::new();
        // Cut for a flame graph only when the rows are folded: a row per
        // sample keeps its time for outputs that show it.
        let pruning = self.opts.flame_graph.as_ref().filter(|_| self.opts.fold);
        let paths = std::mem::take(&mut self.sample_paths);
        if let Some(spilled) = self.spilled.take() {
            let keys = self.key_frames.take();
            let expand = |key: u32, path: &mut PathBuilder| {
                if let Some(k) = &keys {
                    k.push(key, path);
                }
            };
            batch
                .intern_folded_spilled(&mut self.profile, paths, spilled, Some(&expand), pruning)
                .map_err(Error::Spill)?;
        } else if self.opts.fold {
            // Rows of one path and thread (keys that name alike: two
            // addresses of one function) merged, then interned.
            batch.intern_folded_samples(&mut self.profile, paths, pruning);
        } else {
            batch.intern_samples(&mut self.profile, &paths, pruning);
        }
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
        for l in losses {
            meta.add_loss(&l.what, l.count);
        }
        meta.warnings.extend(warnings);
        // The main executable first, even when no sample ran in it (pprof:
        // "mapping[0] will be the main binary"): that of the process with
        // the most samples.
        let main = self.main_executable();
        let order = main
            .into_iter()
            .chain((0..self.hit_paths.len() as u32).filter(|&p| Some(p) != main));
        for id in order {
            let i = id as usize;
            if Some(id) != main && !self.hit_paths.get(i).copied().unwrap_or(false) {
                continue;
            }
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
        Ok(self.profile)
    }
}

/// Whether a test has this thread's reads name addresses as they are met
/// rather than at the end ([`Deferred`]): never outside tests.
#[cfg(not(test))]
#[inline]
fn naming_while_reading() -> bool {
    false
}

#[cfg(test)]
fn naming_while_reading() -> bool {
    tests::NAME_WHILE_READING.with(std::cell::Cell::get)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;

    thread_local! {
        /// See [`naming_while_reading`].
        pub(super) static NAME_WHILE_READING: Cell<bool> = const { Cell::new(false) };
    }

    /// Everything a reader gives that naming at the end could change:
    /// the frame table in order, and each row's stack, thread and values.
    fn described(p: &Profile) -> (Vec<String>, Vec<String>) {
        let frames = p
            .frames()
            .iter()
            .map(|(_, f)| {
                format!(
                    "{} {} {} {} {:?}",
                    p.str(f.name),
                    p.str(f.module),
                    p.str(f.file),
                    f.line,
                    f.kind
                )
            })
            .collect();
        let rows = p
            .iter_samples()
            .map(|s| {
                let stack: Vec<usize> = p.stack_frames(s.stack).iter().map(|f| f.index()).collect();
                format!("{stack:?} {:?} {:?} {:?}", s.thread, s.values, s.time)
            })
            .collect();
        (frames, rows)
    }

    /// Naming the addresses of DWARF-unwound stacks at the end gives the
    /// profile naming them as they are met gives: the same frame ids,
    /// rows, losses and warnings; folded or not, with and without lines,
    /// and for a Java thread (whose frames are tidied by its comm).
    #[test]
    fn naming_at_the_end_is_naming_while_reading() {
        let dir = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../testdata/perf");
        let mut opts = ReadOptions::default();
        opts.symbols.symbol_dirs = vec![dir.join("bin"), dir.join("debug")];
        opts.symbols.kallsyms = Some(dir.join("kallsyms"));
        opts.symbols.perf_map_dir = Some(dir.join("maps"));
        opts.symbols.no_system_paths = true;
        let py = std::fs::read(dir.join("py-dwarf.data")).unwrap();
        // The same recording, its threads (comm `python3.12`, not the
        // file of that name) named `javaon3.12`.
        let mut java = py.clone();
        let comm = b"python3.12\0";
        let starts: Vec<usize> = (1..java.len().saturating_sub(comm.len()))
            .filter(|&i| {
                java.get(i..i + comm.len()) == Some(comm) && java.get(i - 1) != Some(&b'/')
            })
            .collect();
        assert!(!starts.is_empty());
        for i in starts {
            java[i..i + 4].copy_from_slice(b"java");
        }
        // Its perf maps' names as a JVM's (`Lpkg/Class;`), which the Java
        // tidy changes where they hold a `/`.
        let maps = std::env::temp_dir().join(format!("stackconv-java-maps-{}", std::process::id()));
        std::fs::create_dir_all(&maps).unwrap();
        for e in std::fs::read_dir(dir.join("maps")).unwrap() {
            let e = e.unwrap();
            let name = e.file_name().to_string_lossy().into_owned();
            if !name.ends_with(".map") {
                continue;
            }
            let text = std::fs::read_to_string(e.path()).unwrap();
            let jvm: String = text
                .lines()
                .map(|l| {
                    let mut f = l.splitn(3, ' ');
                    let (a, s, n) = (f.next().unwrap(), f.next().unwrap(), f.next().unwrap());
                    format!("{a} {s} L{n}\n")
                })
                .collect();
            std::fs::write(maps.join(name), jvm).unwrap();
        }
        for (name, data, java) in [
            (
                "c-dwarf",
                std::fs::read(dir.join("c-dwarf.data")).unwrap(),
                false,
            ),
            ("py-dwarf", py, false),
            ("java", java, true),
        ] {
            for (fold, lines) in [(false, false), (true, false), (true, true)] {
                let mut opts = opts.clone();
                opts.fold = fold;
                opts.symbols.lines = lines;
                if java {
                    opts.symbols.perf_map_dir = Some(maps.clone());
                }
                let at_end = crate::read(&data, &opts).unwrap();
                NAME_WHILE_READING.with(|n| n.set(true));
                let while_reading = crate::read(&data, &opts).unwrap();
                NAME_WHILE_READING.with(|n| n.set(false));
                let what = format!("{name}, fold {fold}, lines {lines}");
                assert_eq!(described(&at_end), described(&while_reading), "{what}");
                assert_eq!(at_end.meta().losses, while_reading.meta().losses, "{what}");
                assert_eq!(
                    at_end.meta().warnings,
                    while_reading.meta().warnings,
                    "{what}"
                );
                assert!(at_end.frames().len() > 20, "{what}");
                let tidied = at_end.frames().iter().any(|(_, f)| {
                    at_end.str(f.name).starts_with("py::") && at_end.str(f.name).contains('/')
                });
                assert_eq!(tidied, name != "c-dwarf", "{what}");
            }
        }
        let _ = std::fs::remove_dir_all(&maps);
    }

    /// The last sample's thread is kept only while the comms' generation
    /// is the same: every change of a comm must bump it.
    #[test]
    fn every_comm_change_bumps_the_generation() {
        let mut comms = Comms::default();
        let mut strings = stackconv_model::Profile::default();
        let (a, b) = (strings.intern_str("a"), strings.intern_str("b"));
        let g0 = comms.generation;
        comms.insert(7, (7, a));
        let g1 = comms.generation;
        comms.insert(7, (7, b));
        assert!(g0 != g1 && g1 != comms.generation);
        assert_eq!(comms.get(&7), Some(&(7, b)));
        assert_eq!(comms.get(&8), None);
    }
}
