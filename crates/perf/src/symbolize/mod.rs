//! Symbolization: user-space addresses in ELF files, kernel addresses through
//! kallsyms, and JIT addresses through perf maps and jitdump files.
//!
//! A [`Symbolizer`] finds each file once (by build id first, then by its
//! recorded path), parses its symbol table once, and caches every
//! `(file, offset)` result, so each distinct address is symbolized once.
//! Names follow what `perf script` (6.1) prints, tidied as
//! inferno-collapse-perf does. Whatever cannot be resolved is counted per
//! file and reason and handed out by [`Symbolizer::report`].
//!
//! The rules, from tools/perf/util/symbol.c and symbol-elf.c:
//!
//! - files: by build id first (in each symbol dir: the recorded base name
//!   or `NAME.xz`, `.build-id/xx/rest`; then `~/.debug/.build-id/xx/rest/elf`),
//!   then the recorded path (under `symfs`); a candidate whose build id
//!   differs is refused and reported. A separate debug file
//!   (`.build-id/xx/rest.debug` in a symbol dir, or `/usr/lib/debug`) is
//!   found by the recorded build id, or by the binary's own when none was
//!   recorded, and supplies `.symtab` and DWARF;
//! - symbols: `.symtab` (else `.dynsym`): functions, objects and labels in
//!   text/data sections, moved to file offsets through PT_LOAD; unsized
//!   symbols extend to the next one (`symbols__fixup_end`), then of several
//!   at one address perf's `choose_best_symbol` keeps one (sized, non-weak,
//!   global, fewer leading underscores, longer name);
//! - PLT stubs: `name@plt`, one per `.rela.plt` entry after the PLT header;
//! - inlined frames (when asked): from DWARF, innermost first; the
//!   outermost is the symbol's frame unless DWARF names it otherwise, then
//!   perf prints the DWARF name as one more inlined frame. perf 6.1 does
//!   this for DWARF-unwound entries only: see
//!   [`Symbolizer::symbolize_file_inline`];
//! - demangling as perf without `-v`: no parameter lists.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use stackconv_model::naming::{is_python_perf_symbol, python_perf_file, tidy_perf_symbol};
use stackconv_model::{FrameKind, Loss};

mod dwarf;
mod elf;
mod files;
#[doc(hidden)]
pub mod fuzzing;
mod jit;
mod kallsyms;
mod kernel;
mod locate;
mod names;

use crate::fxhash::FxHashMap;
use elf::ElfSymbols;
pub(crate) use files::FilesPrefetch;
use files::{Loaded, Mismatches, SharedLoaded};
use jit::{JitEntry, JitTable};
use kallsyms::Kallsyms;
use kernel::{same_kernel, KallsymsSource, KernelId, PROC_KALLSYMS};
pub(crate) use kernel::{KERNEL_BUILD_ID_PATH, KERNEL_MODULE};
use locate::{base_name, bytes_to_path, hex, read_file, under_root};

/// Where the symbolizer looks for files, kallsyms and perf maps.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct SymbolOptions {
    /// Look up recorded paths under this directory (perf's `--symfs`).
    pub symfs: Option<PathBuf>,
    /// Directories searched by build id (a file with the recorded base name,
    /// or `.build-id/xx/rest[.debug]`), and for `NAME.xz` compressed copies.
    pub symbol_dirs: Vec<PathBuf>,
    /// A kallsyms file, used as given. Without one, `/proc/kallsyms`
    /// (unless `no_system_paths`), but only when the running kernel is the
    /// recording's: its build id equals the recorded one, or, where none
    /// was recorded, its release does. Otherwise kernel frames stay
    /// unnamed and [`Symbolizer::report`] says why.
    pub kallsyms: Option<PathBuf>,
    /// Where `perf-PID.map` files are (default `/tmp` unless `no_system_paths`).
    pub perf_map_dir: Option<PathBuf>,
    /// Consult only what the options name: no `~/.debug`, `/usr/lib/debug`,
    /// `/proc/kallsyms`, `/tmp` perf maps, nor plain recorded paths (unless
    /// `symfs` is given).
    pub no_system_paths: bool,
    /// Report inlined frames from DWARF (default true, as `perf script`).
    pub inline: bool,
    /// Give frames the source file and line of their address, from DWARF
    /// (default true). Without, all addresses of a function are one frame,
    /// and DWARF is read only where inlined frames are asked for: outputs
    /// that show function names only (flame graphs, folded text) are drawn
    /// sooner.
    pub lines: bool,
}

impl Default for SymbolOptions {
    fn default() -> Self {
        SymbolOptions {
            symfs: None,
            symbol_dirs: Vec::new(),
            kallsyms: None,
            perf_map_dir: None,
            no_system_paths: false,
            inline: true,
            lines: true,
        }
    }
}

/// One symbolized frame.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct SymFrame {
    /// The display name, demangled and tidied as inferno-collapse-perf does.
    pub name: String,
    /// Native, Kernel, Python, Jit or Inline.
    pub kind: FrameKind,
    /// Source file, when DWARF or the perf map names one.
    pub file: Option<String>,
    /// Source line (0 when unknown).
    pub line: u32,
}

/// Why an address could not be symbolized.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Unresolved {
    /// No file was found for the recorded path.
    FileMissing,
    /// Files were found, but their build id differs from the recorded one.
    BuildIdMismatch,
    /// The file was found but no symbol covers the address.
    NoSymbol,
    /// The process had no perf map or jitdump.
    NoPerfMap,
    /// The recording was made under another kernel than the one whose
    /// symbols are at hand (`/proc/kallsyms` of the running kernel).
    OtherKernel,
}

/// The bytes of a file, memory-mapped or read.
pub type FileBytes = Arc<dyn AsRef<[u8]> + Send + Sync>;

/// Most malformed perf-map lines named one by one in warnings, per file.
const MAX_BAD_LINES_NAMED: usize = 5;

impl Unresolved {
    /// A short lowercase reason (`file missing`, `build id mismatch`,
    /// `no symbol`, `no perf map`).
    pub fn as_str(self) -> &'static str {
        match self {
            Unresolved::FileMissing => "file missing",
            Unresolved::BuildIdMismatch => "build id mismatch",
            Unresolved::NoSymbol => "no symbol",
            Unresolved::NoPerfMap => "no perf map",
            Unresolved::OtherKernel => "recorded under another kernel",
        }
    }
}

pub(crate) type Frames = Result<Arc<[SymFrame]>, Unresolved>;

/// Unresolved lookups of one source, per reason: (lookups, distinct
/// addresses).
#[derive(Debug, Default)]
struct Misses(BTreeMap<&'static str, (u64, u64)>);

impl Misses {
    /// Add `other`'s counts.
    fn add(&mut self, other: &Misses) {
        for (why, &(lookups, distinct)) in &other.0 {
            let e = self.0.entry(why).or_default();
            e.0 = e.0.saturating_add(lookups);
            e.1 = e.1.saturating_add(distinct);
        }
    }

    fn count(&mut self, why: Unresolved, first_time: bool) {
        let e = self.0.entry(why.as_str()).or_default();
        e.0 = e.0.saturating_add(1);
        if first_time {
            e.1 = e.1.saturating_add(1);
        }
    }
}

/// One recorded path: where it was found, its symbols, its results.
struct FileSlot {
    path: Vec<u8>,
    state: Option<Result<Box<Loaded>, Unresolved>>,
    /// Keyed by (offset, with inlined frames).
    results: HashMap<(u64, bool), Frames>,
    misses: Misses,
    /// Candidates refused for their build id: (path, build id found).
    mismatches: Mismatches,
}

/// Fewer lookups in a file than this are not worth a second DWARF context
/// of it ([`Symbolizer::symbolize_files`]); tests split the small files of
/// testdata.
const MIN_SPLIT_LOOKUPS: usize = if cfg!(test) { 8 } else { 256 };

impl FileSlot {
    /// The file, for another thread ([`Loaded::share`]).
    fn share(&self) -> Option<SharedLoaded> {
        match &self.state {
            Some(Ok(l)) => l.share(),
            _ => None,
        }
    }

    /// The frames of `file_offset` in this file (see
    /// [`Symbolizer::symbolize_file_inline`]), cached; a miss counted.
    fn lookup(&mut self, file_offset: u64, inline: bool, lines: bool) -> Frames {
        if let Some(r) = self.results.get(&(file_offset, inline)) {
            let r = r.clone();
            if let Err(why) = r {
                self.misses.count(why, false);
            }
            return r;
        }
        if let Some(Ok(l)) = &mut self.state {
            if inline || lines {
                l.read_dwarf();
            }
        }
        let r = match &self.state {
            Some(Ok(l)) => file_frames(&l.symbols, file_offset, inline, lines),
            Some(Err(why)) => Err(*why),
            None => Err(Unresolved::FileMissing),
        };
        if let Err(why) = r {
            // One distinct address, whether asked with or without inlines.
            let first = !self.results.contains_key(&(file_offset, !inline));
            self.misses.count(why, first);
        }
        self.results.insert((file_offset, inline), r.clone());
        r
    }

    /// About what looking up `lookups` costs, for sharing files out among
    /// threads: one a lookup, and what reading the DWARF still costs
    /// ([`Loaded::dwarf_cost`]).
    fn cost(&self, lookups: &[usize]) -> usize {
        let dwarf = match &self.state {
            Some(Ok(l)) => l.dwarf_cost(),
            _ => 0,
        };
        lookups.len().saturating_add(dwarf)
    }
}

/// The JIT symbols of one process.
struct JitSlot {
    /// `None` when the process has neither perf map nor jitdump.
    table: Option<JitTable>,
    results: HashMap<u64, Frames>,
    misses: Misses,
    /// Where the table came from (for messages and the module name).
    sources: Vec<PathBuf>,
}

/// A kallsyms file being read and parsed on another thread: the table
/// and its count of malformed lines.
type KallsymsLoad = std::thread::JoinHandle<std::io::Result<(Kallsyms, u64)>>;

/// The kallsyms file kernel addresses would be named from, being read on
/// another thread (see [`Symbolizer::prefetch_kallsyms`]); it can be
/// started before the symbolizer, as soon as the recording shows a
/// kernel sample.
pub(crate) struct KallsymsPrefetch {
    path: PathBuf,
    load: KallsymsLoad,
}

impl KallsymsPrefetch {
    /// Start reading the first kallsyms file [`KallsymsSource::first`]
    /// names for a recording of the kernel with build id `kernel_build_id`;
    /// `None` when there is no file to read or no thread to read it on (it
    /// is read when first needed then).
    pub(crate) fn start(opts: &SymbolOptions, kernel_build_id: Option<&[u8]>) -> Option<Self> {
        let path = KallsymsSource::first(opts, kernel_build_id, home_dir().as_deref())?.path();
        let file = path.clone();
        let load = std::thread::Builder::new()
            .name("kallsyms".into())
            .spawn(move || Kallsyms::load(&file))
            .ok()?;
        Some(KallsymsPrefetch { path, load })
    }
}

/// Symbolizes addresses; caches files, symbol tables and results.
///
/// ```
/// use stackconv_perf::symbolize::{SymbolOptions, Symbolizer, Unresolved};
///
/// let mut opts = SymbolOptions::default();
/// opts.no_system_paths = true;
/// let mut s = Symbolizer::new(opts);
/// assert_eq!(s.symbolize_file(b"/no/such/app", 0x1234).unwrap_err(), Unresolved::FileMissing);
/// let (losses, _warnings) = s.report();
/// assert_eq!(losses[0].count, 1);
/// ```
pub struct Symbolizer {
    opts: SymbolOptions,
    build_ids: HashMap<Vec<u8>, Vec<u8>>,
    file_ids: HashMap<Vec<u8>, usize>,
    files: Vec<FileSlot>,
    kernel: Option<Result<Kallsyms, Unresolved>>,
    kernel_path: Option<PathBuf>,
    /// The kernel the recording was made on (release from the header; the
    /// build id is the `[kernel.kallsyms]` entry of `build_ids`).
    recorded_release: Option<String>,
    /// Where the recording says the kernel image was: a reference symbol
    /// and its address ([`Symbolizer::set_recorded_kernel_image`]).
    recorded_image: Option<(&'static str, u64)>,
    kernel_results: HashMap<u64, Frames>,
    kernel_misses: Misses,
    /// A kallsyms file being read and parsed on another thread ahead of
    /// its first use ([`Symbolizer::prefetch_kallsyms`]), and its path.
    kernel_prefetch: Option<KallsymsPrefetch>,
    /// Files being found and parsed on another thread ahead of their
    /// first use ([`Symbolizer::prefetch_files`]).
    files_prefetch: Option<FilesPrefetch>,
    jitdumps: HashMap<u32, Vec<Vec<u8>>>,
    jits: FxHashMap<u32, JitSlot>,
    warnings: Vec<String>,
}

impl std::fmt::Debug for Symbolizer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Symbolizer")
            .field("opts", &self.opts)
            .field("files", &self.files.len())
            .field("jit_processes", &self.jits.len())
            .finish()
    }
}

impl Symbolizer {
    /// A symbolizer with these options. Nothing is read until asked.
    pub fn new(opts: SymbolOptions) -> Self {
        Symbolizer {
            opts,
            build_ids: HashMap::new(),
            file_ids: HashMap::new(),
            files: Vec::new(),
            kernel: None,
            kernel_path: None,
            recorded_release: None,
            recorded_image: None,
            kernel_results: HashMap::new(),
            kernel_misses: Misses::default(),
            kernel_prefetch: None,
            files_prefetch: None,
            jitdumps: HashMap::new(),
            jits: FxHashMap::default(),
            warnings: Vec::new(),
        }
    }

    /// The kernel release the recording was made on (perf.data's OSRELEASE
    /// feature), to check `/proc/kallsyms` against when the recording has
    /// no kernel build id.
    pub fn set_recorded_kernel_release(&mut self, release: Option<String>) {
        self.recorded_release = release;
    }

    /// Where kernel symbols come from (the kallsyms file), or why none are
    /// used; `None` before a kernel address was looked up.
    pub fn kernel_symbol_source(&self) -> Option<String> {
        match (&self.kernel, &self.kernel_path) {
            (Some(Ok(_)), Some(p)) => Some(p.display().to_string()),
            (Some(_), _) => Some("none".to_string()),
            (None, _) => None,
        }
    }

    /// Register build ids from the perf.data header / MMAP2 records: path as
    /// recorded -> build id bytes. A file already loaded under another
    /// build id is looked up again.
    pub fn add_build_id(&mut self, path: &[u8], build_id: &[u8]) {
        let build_id = trim_build_id(build_id);
        if build_id.is_empty() {
            return;
        }
        let old = self.build_ids.insert(path.to_vec(), build_id.to_vec());
        if old.as_deref().is_some_and(|o| o != build_id) {
            if let Some(slot) = self.file_ids.get(path).and_then(|&i| self.files.get_mut(i)) {
                slot.state = None;
                slot.results.clear();
                slot.mismatches.clear();
            }
        }
    }

    /// A user-space address in a file-backed mapping: `path` as in the MMAP
    /// record, `file_offset` = addr - map.start + map.pgoff. Frames innermost
    /// first (inlined frames, then the function). Cached per (file, offset).
    ///
    /// # Errors
    ///
    /// Why no name could be given; it is also counted for [`Self::report`].
    pub fn symbolize_file(
        &mut self,
        path: &[u8],
        file_offset: u64,
    ) -> Result<Arc<[SymFrame]>, Unresolved> {
        self.symbolize_file_inline(path, file_offset, self.opts.inline)
    }

    /// [`Self::symbolize_file`] with inlined frames on or off for this
    /// lookup, whatever `opts.inline` says. perf 6.1 prints inlined frames
    /// for DWARF-unwound entries only, and names frame-pointer callchain
    /// entries by their ELF symbol: a reader asks with `inline = false` for
    /// those. Both kinds share the file, its symbols and the caches.
    ///
    /// # Errors
    ///
    /// As [`Self::symbolize_file`].
    pub fn symbolize_file_inline(
        &mut self,
        path: &[u8],
        file_offset: u64,
        inline: bool,
    ) -> Result<Arc<[SymFrame]>, Unresolved> {
        let id = self.file_slot(path);
        self.symbolize_in(id, file_offset, inline)
    }

    /// The slot of the file recorded as `path`, found and parsed (once):
    /// what [`Self::symbolize_file_inline`] does before its lookup, for a
    /// caller that looks addresses up later with [`Self::symbolize_files`].
    pub(crate) fn file_slot(&mut self, path: &[u8]) -> usize {
        let id = self.slot(path);
        self.load(id);
        id
    }

    /// [`Self::symbolize_file_inline`] in the file of slot `id` (of
    /// [`Self::file_slot`]).
    pub(crate) fn symbolize_in(&mut self, id: usize, file_offset: u64, inline: bool) -> Frames {
        let lines = self.opts.lines;
        match self.files.get_mut(id) {
            Some(slot) => slot.lookup(file_offset, inline, lines),
            None => Err(Unresolved::FileMissing),
        }
    }

    /// [`Self::symbolize_file_inline`] of many addresses at once:
    /// `lookups` are (slot of [`Self::file_slot`], file offset, with
    /// inlined frames); their results, in order. Two threads share the
    /// work: the file with the most lookups has them grouped by DWARF
    /// unit (each unit's line program and functions are parsed by the
    /// first lookup in it), and both threads take units from one queue,
    /// largest first, the other thread with DWARF contexts of its own (a
    /// unit's made by its first lookup there) made of the same sections,
    /// once it has looked up the other files'
    /// addresses. A unit's lookups, and each file's, run in the given
    /// order on one thread: the results, the caches and what is counted
    /// for [`Self::report`] are those of the lookups one by one.
    pub(crate) fn symbolize_files(&mut self, lookups: &[(usize, u64, bool)]) -> Vec<Frames> {
        if lookups.is_empty() {
            return Vec::new();
        }
        let lines = self.opts.lines;
        let offset = |i: usize| lookups.get(i).map_or(0, |l| l.1);
        // Each file's lookups (indexes into `lookups`).
        let mut per_file: Vec<Vec<usize>> = vec![Vec::new(); self.files.len()];
        for (i, &(id, _, _)) in lookups.iter().enumerate() {
            if let Some(v) = per_file.get_mut(id) {
                v.push(i);
            }
        }
        // The file with the most lookups, by unit, and its copy.
        let most = (0..per_file.len()).max_by_key(|&id| per_file.get(id).map_or(0, Vec::len));
        let mut split: Option<(usize, SharedLoaded, Vec<Vec<usize>>)> = None;
        if let Some(id) = most {
            let shared = self.files.get(id).and_then(FileSlot::share);
            let indexes = per_file.get_mut(id);
            if let (Some(shared), Some(indexes)) = (shared, indexes) {
                if indexes.len() >= MIN_SPLIT_LOOKUPS {
                    let units = shared.units();
                    // Lookups outside every unit's ranges by themselves.
                    let mut by_unit: HashMap<Option<usize>, (usize, Vec<usize>)> = HashMap::new();
                    for i in std::mem::take(indexes) {
                        let unit = units.unit_of(offset(i));
                        let e = by_unit.entry(unit.map(|u| u.0)).or_default();
                        e.0 = unit.map_or(0, |u| u.1);
                        e.1.push(i);
                    }
                    let mut groups: Vec<(usize, Vec<usize>)> = by_unit.into_values().collect();
                    // Taken from the end: the largest unit first.
                    groups.sort_by_key(|g| (g.0, g.1.first().copied()));
                    split = Some((id, shared, groups.into_iter().map(|g| g.1).collect()));
                }
            }
        }
        // What the file's cache holds for the lookups of the copy.
        let known: HashMap<(u64, bool), Frames> = match &split {
            Some((id, _, groups)) => self.files.get(*id).map_or_else(HashMap::new, |slot| {
                groups
                    .iter()
                    .flatten()
                    .flat_map(|&i| [(offset(i), false), (offset(i), true)])
                    .filter_map(|k| Some((k, slot.results.get(&k)?.clone())))
                    .collect()
            }),
            None => HashMap::new(),
        };
        // The other files: each to the lighter share; with a split file,
        // all to the other thread, which then joins in on the units.
        let mut work: Vec<(usize, usize, Vec<usize>)> = per_file
            .into_iter()
            .enumerate()
            .filter(|(_, l)| !l.is_empty())
            .filter_map(|(id, l)| Some((self.files.get(id)?.cost(&l), id, l)))
            .collect();
        work.sort_by_key(|w| std::cmp::Reverse(w.0));
        let split_id = split.as_ref().map(|s| s.0);
        let mut slots: Vec<Option<&mut FileSlot>> = self.files.iter_mut().map(Some).collect();
        let split_slot = split_id.and_then(|id| slots.get_mut(id)?.take());
        let (mut mine, mut other) = (Vec::new(), Vec::new());
        let (mut my_cost, mut other_cost) = (0usize, 0usize);
        for (cost, id, indexes) in work {
            let Some(slot) = slots.get_mut(id).and_then(Option::take) else {
                continue;
            };
            if split.is_none() && my_cost <= other_cost {
                my_cost = my_cost.saturating_add(cost);
                mine.push((slot, indexes));
            } else {
                other_cost = other_cost.saturating_add(cost);
                other.push((slot, indexes));
            }
        }
        let (copy, queue) = match split {
            Some((_, shared, groups)) => (Some(shared), groups),
            None => (None, Vec::new()),
        };
        let queue = std::sync::Mutex::new(queue);
        let next_unit = || queue.lock().unwrap_or_else(|e| e.into_inner()).pop();
        let look = |slot: &mut FileSlot, indexes: Vec<usize>, got: &mut Vec<(usize, Frames)>| {
            for i in indexes {
                if let Some(&(_, offset, inline)) = lookups.get(i) {
                    got.push((i, slot.lookup(offset, inline, lines)));
                }
            }
        };
        // This thread's share; the other's, taken by the helper (by this
        // thread when no thread could be had).
        let other = std::sync::Mutex::new(Some((other, copy, known)));
        let theirs = || {
            let mut got = Vec::new();
            let taken = other.lock().unwrap_or_else(|e| e.into_inner()).take();
            let Some((share, copy, known)) = taken else {
                return (got, None);
            };
            for (slot, indexes) in share {
                look(slot, indexes, &mut got);
            }
            // (No units left: this thread is the only one.)
            let left = !queue.lock().unwrap_or_else(|e| e.into_inner()).is_empty();
            let copy = copy.filter(|_| left).map(|shared| {
                let mut slot = FileSlot {
                    path: Vec::new(),
                    state: Some(Ok(Box::new(shared.into_loaded()))),
                    results: known,
                    misses: Misses::default(),
                    mismatches: Vec::new(),
                };
                while let Some(unit) = next_unit() {
                    look(&mut slot, unit, &mut got);
                }
                slot
            });
            (got, copy)
        };
        let (mut got, copy) = std::thread::scope(|scope| {
            let helper = std::thread::Builder::new()
                .name("symbolize".into())
                .spawn_scoped(scope, theirs);
            let mut got = Vec::new();
            for (slot, indexes) in mine {
                look(slot, indexes, &mut got);
            }
            if let Some(slot) = split_slot.filter(|_| !copy_takes_all()) {
                while let Some(unit) = next_unit() {
                    look(slot, unit, &mut got);
                }
            }
            let mut copy = None;
            if let Ok(h) = helper {
                match h.join() {
                    Ok((g, c)) => {
                        got.extend(g);
                        copy = c;
                    }
                    Err(panic) => std::panic::resume_unwind(panic),
                }
            }
            let (g, c) = theirs();
            got.extend(g);
            (got, copy.or(c))
        });
        // The copy's results and misses are the file's.
        if let (Some(id), Some(copy)) = (split_id, copy) {
            if let Some(slot) = self.files.get_mut(id) {
                slot.results.extend(copy.results);
                slot.misses.add(&copy.misses);
            }
        }
        let mut out: Vec<Option<Frames>> = vec![None; lookups.len()];
        for (i, r) in got.drain(..) {
            if let Some(o) = out.get_mut(i) {
                *o = Some(r);
            }
        }
        out.into_iter()
            .map(|r| r.unwrap_or(Err(Unresolved::FileMissing)))
            .collect()
    }

    /// A kernel address, through kallsyms (`opts.kallsyms`, else
    /// `/proc/kallsyms` unless `no_system_paths`). The name is the function
    /// without its `[module]`, as `perf script` prints it.
    ///
    /// # Errors
    ///
    /// [`Unresolved::FileMissing`] without a usable kallsyms file,
    /// [`Unresolved::NoSymbol`] outside its symbols.
    pub fn symbolize_kernel(&mut self, addr: u64) -> Result<Arc<[SymFrame]>, Unresolved> {
        if let Some(r) = self.kernel_results.get(&addr) {
            let r = r.clone();
            if let Err(why) = r {
                self.kernel_misses.count(why, false);
            }
            return r;
        }
        let r = match self.kallsyms() {
            Ok(k) => match k.find(addr) {
                Some(sym) => Ok(Arc::from(vec![SymFrame {
                    name: tidy_perf_symbol(k.name(sym)).into_owned(),
                    kind: FrameKind::Kernel,
                    file: None,
                    line: 0,
                }])),
                None => Err(Unresolved::NoSymbol),
            },
            Err(why) => Err(why),
        };
        if let Err(why) = r {
            self.kernel_misses.count(why, true);
        }
        self.kernel_results.insert(addr, r.clone());
        r
    }

    /// The module of a kernel address: `Some("[nf_tables]")` for a module
    /// symbol, `None` for the kernel image or an unknown address.
    pub fn kernel_module(&mut self, addr: u64) -> Option<Arc<str>> {
        let k = self.kallsyms().ok()?;
        k.module(k.find(addr)?).map(Arc::from)
    }

    /// An address in a JIT region of process `pid`: `perf-PID.map` (in
    /// `perf_map_dir`, default `/tmp` unless `no_system_paths`) or a jitdump
    /// registered with [`Self::add_jitdump`]. `py::` entries are Python
    /// frames (file = the text after the last `:`), others JIT frames.
    ///
    /// # Errors
    ///
    /// [`Unresolved::NoPerfMap`] when the process has neither,
    /// [`Unresolved::NoSymbol`] when no entry covers `addr`.
    pub fn symbolize_jit(&mut self, pid: u32, addr: u64) -> Result<Arc<[SymFrame]>, Unresolved> {
        self.jit_slot(pid);
        let Some(slot) = self.jits.get_mut(&pid) else {
            return Err(Unresolved::NoPerfMap);
        };
        if let Some(r) = slot.results.get(&addr) {
            let r = r.clone();
            if let Err(why) = r {
                slot.misses.count(why, false);
            }
            return r;
        }
        let r = match &slot.table {
            None => Err(Unresolved::NoPerfMap),
            Some(t) => match t.find(addr) {
                Some(e) => Ok(Arc::from(vec![jit_frame(e)])),
                None => Err(Unresolved::NoSymbol),
            },
        };
        if let Err(why) = r {
            slot.misses.count(why, true);
        }
        slot.results.insert(addr, r.clone());
        r
    }

    /// Register a jitdump file (`jit-PID.dump`, seen in an MMAP record) for
    /// process `pid`. It is read when first needed: from `perf_map_dir`
    /// (by base name) when given, else under `symfs`, else at the recorded
    /// path unless `no_system_paths`.
    pub fn add_jitdump(&mut self, pid: u32, path: &[u8]) {
        let list = self.jitdumps.entry(pid).or_default();
        if !list.iter().any(|p| p == path) {
            list.push(path.to_vec());
            // Read again with the new file next time.
            self.jits.remove(&pid);
        }
    }

    /// The perf-map/jitdump entry containing `addr`: (start, size, name).
    pub fn jit_entry(&mut self, pid: u32, addr: u64) -> Option<(u64, u64, Arc<str>)> {
        let e = self.jit_find(pid, addr)?;
        Some((e.start, e.size, e.name.clone()))
    }

    /// [`Self::jit_entry`]'s start and size, and whether its name is a
    /// Python perf-trampoline symbol: what the unwinder asks of each JIT
    /// frame, without a copy of the name.
    pub(crate) fn jit_entry_python(&mut self, pid: u32, addr: u64) -> Option<(u64, u64, bool)> {
        let e = self.jit_find(pid, addr)?;
        Some((e.start, e.size, is_python_perf_symbol(&e.name)))
    }

    /// The JIT entry of process `pid` covering `addr`.
    fn jit_find(&mut self, pid: u32, addr: u64) -> Option<&JitEntry> {
        self.jit_slot(pid);
        self.jits.get(&pid)?.table.as_ref()?.find(addr)
    }

    /// The bytes of the file used for `path` (found by build id, under symfs
    /// or at the recorded path), e.g. for unwind info. A separate debug file
    /// alone does not count: it has no code or unwind tables.
    ///
    /// # Errors
    ///
    /// [`Unresolved::FileMissing`] or [`Unresolved::BuildIdMismatch`].
    pub fn file_bytes(&mut self, path: &[u8]) -> Result<FileBytes, Unresolved> {
        let id = self.slot(path);
        self.load(id);
        match self.files.get(id).and_then(|s| s.state.as_ref()) {
            Some(Ok(l)) => l.binary.clone().ok_or(Unresolved::FileMissing),
            Some(Err(why)) => Err(*why),
            None => Err(Unresolved::FileMissing),
        }
    }

    /// What could not be resolved, per file and reason, as model losses
    /// (count = lookups that failed; the text gives the distinct addresses)
    /// and warnings (files refused for their build id, malformed perf-map
    /// lines, missing perf maps, unreadable kallsyms or jitdumps).
    pub fn report(&self) -> (Vec<Loss>, Vec<String>) {
        let mut losses = Vec::new();
        let mut warnings = self.warnings.clone();
        let mut add = |place: &str, misses: &Misses| {
            for (why, &(lookups, distinct)) in &misses.0 {
                losses.push(Loss::new(
                    format!("unresolved addresses in {place} ({why}; {distinct} distinct)"),
                    lookups,
                ));
            }
        };
        for slot in &self.files {
            add(&String::from_utf8_lossy(&slot.path), &slot.misses);
        }
        add(KERNEL_MODULE, &self.kernel_misses);
        let mut pids: Vec<_> = self.jits.keys().copied().collect();
        pids.sort_unstable();
        for pid in pids {
            if let Some(slot) = self.jits.get(&pid) {
                add(&format!("JIT code of pid {pid}"), &slot.misses);
            }
        }
        for slot in &self.files {
            if slot.mismatches.is_empty() {
                continue;
            }
            let want = self
                .build_ids
                .get(&slot.path)
                .map(|b| hex(b))
                .unwrap_or_default();
            let mut msg = format!(
                "{}: build id {want} wanted; not used: ",
                String::from_utf8_lossy(&slot.path)
            );
            for (i, (p, found)) in slot.mismatches.iter().enumerate() {
                if i > 0 {
                    msg.push_str(", ");
                }
                let found = found.as_deref().map_or_else(|| "none".to_string(), hex);
                msg.push_str(&format!("{} (build id {found})", p.display()));
            }
            warnings.push(msg);
        }
        for slot in &self.files {
            if matches!(slot.state, Some(Err(Unresolved::FileMissing))) {
                warnings.push(format!(
                    "{}: file not found",
                    String::from_utf8_lossy(&slot.path)
                ));
            }
        }
        (losses, warnings)
    }

    // ---- internals ----

    fn slot(&mut self, path: &[u8]) -> usize {
        if let Some(&id) = self.file_ids.get(path) {
            return id;
        }
        let id = self.files.len();
        self.files.push(FileSlot {
            path: path.to_vec(),
            state: None,
            results: HashMap::new(),
            misses: Misses::default(),
            mismatches: Vec::new(),
        });
        self.file_ids.insert(path.to_vec(), id);
        id
    }

    /// Locate and parse the file of slot `id`, once.
    fn load(&mut self, id: usize) {
        let Some(slot) = self.files.get(id) else {
            return;
        };
        if slot.state.is_some() {
            return;
        }
        let path = slot.path.clone();
        let want = self.build_ids.get(&path).map(Vec::as_slice);
        let prefetched = self
            .files_prefetch
            .as_mut()
            .and_then(|p| p.take(&path, want));
        let (state, mismatches) =
            prefetched.unwrap_or_else(|| files::locate_and_parse(&self.opts, want, &path));
        if let Some(slot) = self.files.get_mut(id) {
            slot.state = Some(state);
            slot.mismatches = mismatches;
        }
    }

    /// Files being parsed ahead ([`FilesPrefetch::for_recording`]): a
    /// file's first address takes its result instead of parsing it.
    pub(crate) fn adopt_files_prefetch(&mut self, prefetch: FilesPrefetch) {
        self.files_prefetch = Some(prefetch);
    }

    /// Start reading and parsing the kallsyms file kernel addresses would
    /// be named from (`opts.kallsyms`, else `/proc/kallsyms` unless
    /// `no_system_paths`) on another thread, for a recording that holds
    /// kernel addresses: reading `/proc/kallsyms` takes the kernel tens of
    /// milliseconds, which the first kernel address would otherwise wait
    /// for. Whether the table is used, and the warnings about it, are
    /// decided at the first kernel address as without it.
    pub(crate) fn prefetch_kallsyms(&mut self) {
        if self.kernel.is_some() || self.kernel_prefetch.is_some() {
            return;
        }
        let id = self.build_ids.get(KERNEL_BUILD_ID_PATH).map(Vec::as_slice);
        self.kernel_prefetch = KallsymsPrefetch::start(&self.opts, id);
    }

    /// The kernel image's address in the recording: perf's
    /// `[kernel.kallsyms]NAME` mapping starts at the address of symbol
    /// `NAME` (`_text`), which a kallsyms file of the same boot lists at
    /// the same address (see [`Kallsyms::reloc_ref`]). Names other than
    /// perf's reference symbols are ignored.
    pub(crate) fn set_recorded_kernel_image(&mut self, name: &[u8], addr: u64) {
        if let Some(n) = kallsyms::RELOC_REFS.iter().find(|n| n.as_bytes() == name) {
            self.recorded_image = Some((n, addr));
        }
    }

    /// Why `k` is not the recording's kernel as it was laid out (another
    /// boot relocates the kernel), when the recording says where its
    /// image was and `k` lists that symbol elsewhere.
    fn relocated(&self, k: &Kallsyms) -> Option<String> {
        let (name, recorded) = self.recorded_image?;
        let listed = k.reloc_ref(name)?;
        (listed != recorded).then(|| {
            format!("it lists {name} at {listed:#x}, the recording at {recorded:#x} (another boot)")
        })
    }

    /// The table of `path`: the prefetched one when it is of this file.
    fn load_kallsyms(&mut self, path: &Path) -> std::io::Result<(Kallsyms, u64)> {
        let prefetched = match self.kernel_prefetch.take() {
            Some(KallsymsPrefetch { path: p, load }) if p == path => load.join().ok(),
            other => {
                self.kernel_prefetch = other;
                None
            }
        };
        prefetched.unwrap_or_else(|| Kallsyms::load(path))
    }

    /// Take a read of the kallsyms file started before this symbolizer
    /// (see [`KallsymsPrefetch`]), unless one is started already.
    pub(crate) fn adopt_kallsyms(&mut self, prefetch: KallsymsPrefetch) {
        if self.kernel.is_none() && self.kernel_prefetch.is_none() {
            self.kernel_prefetch = Some(prefetch);
        }
    }

    fn kallsyms(&mut self) -> Result<&Kallsyms, Unresolved> {
        if self.kernel.is_none() {
            let (path, loaded) = self.choose_kallsyms();
            self.kernel_path = path;
            self.kernel = Some(loaded);
        }
        match &self.kernel {
            Some(Ok(k)) => Ok(k),
            Some(Err(why)) => Err(*why),
            None => Err(Unresolved::FileMissing),
        }
    }

    /// The kernel symbols for the recording and the file they came from:
    /// the sources of [`KallsymsSource`] in order, each checked against
    /// the recording (warnings say why one was passed over).
    fn choose_kallsyms(&mut self) -> (Option<PathBuf>, Result<Kallsyms, Unresolved>) {
        let recorded = KernelId {
            build_id: self.build_ids.get(KERNEL_BUILD_ID_PATH).cloned(),
            release: self.recorded_release.clone(),
        };
        let mut source = KallsymsSource::first(
            &self.opts,
            recorded.build_id.as_deref(),
            home_dir().as_deref(),
        );
        while let Some(s) = source.take() {
            let path = s.path();
            match &s {
                KallsymsSource::Given(p) => {
                    // Used as given; but the running kernel's own table
                    // says so when it is not the recording's.
                    let proc_kallsyms =
                        std::fs::canonicalize(p).is_ok_and(|c| c == Path::new(PROC_KALLSYMS));
                    if proc_kallsyms {
                        if let Err(why) = same_kernel(&recorded, &KernelId::running()) {
                            self.warnings
                                .push(format!("{}: given, used, but {why}", p.display()));
                        }
                    }
                }
                KallsymsSource::PerfCache(_) => {}
                KallsymsSource::Running => {
                    if let Err(why) = same_kernel(&recorded, &KernelId::running()) {
                        self.warnings.push(why);
                        return (None, Err(Unresolved::OtherKernel));
                    }
                }
            }
            let loaded = match self.load_kallsyms(&path) {
                Ok((k, bad)) => {
                    if bad > 0 {
                        self.warnings
                            .push(format!("{}: {bad} malformed lines skipped", path.display()));
                    }
                    if k.len() == 0 {
                        self.warnings
                            .push(format!("{}: no usable kernel symbols", path.display()));
                        Err(Unresolved::FileMissing)
                    } else {
                        Ok(k)
                    }
                }
                Err(e) => {
                    self.warnings.push(format!("{}: {e}", path.display()));
                    Err(Unresolved::FileMissing)
                }
            };
            let why = loaded.as_ref().ok().and_then(|k| self.relocated(k));
            match (s, why) {
                (_, None) if loaded.is_ok() => return (Some(path), loaded),
                (KallsymsSource::PerfCache(_), why) => {
                    if let Some(why) = why {
                        self.warnings
                            .push(format!("{}: not used: {why}", path.display()));
                    }
                    source = Some(KallsymsSource::Running);
                }
                (KallsymsSource::Running, Some(why)) => {
                    self.warnings.push(format!(
                        "kernel frames are not named: {PROC_KALLSYMS} is of this boot of the \
                         recording's kernel, and {why}; pass --kallsyms FILE of the recording's boot"
                    ));
                    return (Some(path), Err(Unresolved::OtherKernel));
                }
                (KallsymsSource::Given(_), Some(why)) => {
                    self.warnings.push(format!(
                        "{}: given, used, but {why}: kernel frames may be misnamed",
                        path.display()
                    ));
                    return (Some(path), loaded);
                }
                (_, None) => return (Some(path), loaded),
            }
        }
        (None, Err(Unresolved::FileMissing))
    }

    /// Load (once) the JIT table of `pid`.
    fn jit_slot(&mut self, pid: u32) {
        if self.jits.contains_key(&pid) {
            return;
        }
        let mut entries: Vec<JitEntry> = Vec::new();
        let mut sources = Vec::new();
        let mut found_any = false;
        let map_dir = match &self.opts.perf_map_dir {
            Some(d) => Some(d.clone()),
            None if !self.opts.no_system_paths => Some(PathBuf::from("/tmp")),
            None => None,
        };
        let map_path = map_dir.map(|d| d.join(format!("perf-{pid}.map")));
        if let Some(p) = &map_path {
            if let Some(bytes) = read_file(p) {
                found_any = true;
                let (mut e, bad) = jit::parse_perf_map((*bytes).as_ref());
                if !bad.is_empty() {
                    let named: Vec<String> = bad
                        .iter()
                        .take(MAX_BAD_LINES_NAMED)
                        .map(u64::to_string)
                        .collect();
                    let more = if bad.len() > MAX_BAD_LINES_NAMED {
                        ", ..."
                    } else {
                        ""
                    };
                    self.warnings.push(format!(
                        "{}: {} malformed lines skipped (line {}{more})",
                        p.display(),
                        bad.len(),
                        named.join(", ")
                    ));
                }
                entries.append(&mut e);
                sources.push(p.clone());
            }
        }
        let dumps = self.jitdumps.get(&pid).cloned().unwrap_or_default();
        for recorded in dumps {
            let Some((p, bytes)) = self.find_jitdump(&recorded) else {
                self.warnings.push(format!(
                    "{}: jitdump not found",
                    String::from_utf8_lossy(&recorded)
                ));
                continue;
            };
            found_any = true;
            let d = jit::parse_jitdump((*bytes).as_ref());
            if let Some(problem) = d.problem {
                self.warnings.push(format!("{}: {problem}", p.display()));
            }
            entries.extend(d.entries);
            sources.push(p);
        }
        if !found_any {
            let place =
                map_path.map_or_else(|| format!("perf-{pid}.map"), |p| p.display().to_string());
            self.warnings
                .push(format!("pid {pid}: no perf map ({place}) or jitdump"));
        }
        self.jits.insert(
            pid,
            JitSlot {
                table: found_any.then(|| JitTable::new(entries)),
                results: HashMap::new(),
                misses: Misses::default(),
                sources,
            },
        );
    }

    fn find_jitdump(&self, recorded: &[u8]) -> Option<(PathBuf, FileBytes)> {
        let mut cands = Vec::new();
        if let Some(d) = &self.opts.perf_map_dir {
            cands.push(d.join(bytes_to_path(base_name(recorded))));
        }
        match &self.opts.symfs {
            Some(root) => cands.push(under_root(root, recorded)),
            None if !self.opts.no_system_paths => cands.push(bytes_to_path(recorded)),
            None => {}
        }
        cands
            .into_iter()
            .find_map(|p| read_file(&p).map(|b| (p, b)))
    }

    /// The files a process's JIT symbols came from (perf map first).
    pub fn jit_sources(&mut self, pid: u32) -> Vec<PathBuf> {
        self.jit_slot(pid);
        self.jits
            .get(&pid)
            .map(|s| s.sources.clone())
            .unwrap_or_default()
    }
}

/// Frames for a file offset: inlined frames from DWARF (when asked), then
/// the function from the symbol table, as perf names it; with source files
/// and lines when `lines`.
fn file_frames(symbols: &ElfSymbols, offset: u64, inline: bool, lines: bool) -> Frames {
    let mut frames = file_frames_lines(symbols, offset, inline)?;
    if !lines {
        let mut stripped = frames.to_vec();
        for f in &mut stripped {
            f.file = None;
            f.line = 0;
        }
        frames = Arc::from(stripped);
    }
    Ok(frames)
}

fn file_frames_lines(symbols: &ElfSymbols, offset: u64, inline: bool) -> Frames {
    let sym = symbols.find(offset).ok_or(Unresolved::NoSymbol)?;
    let mut frames = Vec::new();
    let mut file = None;
    let mut line = 0;
    let dwarf = symbols.dwarf.as_ref();
    if let (Some(dwarf), Some(svma)) = (dwarf, symbols.offset_to_svma(offset)) {
        if inline {
            let mut dwarf_frames = dwarf.frames(svma);
            // perf (util/srcline.c `new_inline_sym`): the outermost DWARF
            // function is the symbol's frame when the names agree; when
            // they differ (an alias such as `__libc_start_main_impl` for
            // `__libc_start_main@@GLIBC_2.34`) perf prints the DWARF name as
            // one more inlined frame and no symbol frame.
            let outer = dwarf_frames.pop();
            for (name, lf, ll) in dwarf_frames {
                frames.push(SymFrame {
                    name: name.unwrap_or_else(|| "??".to_string()),
                    kind: FrameKind::Inline,
                    file: lf,
                    line: ll,
                });
            }
            if let Some((name, lf, ll)) = outer {
                let elf_name = names::display_name(&sym.name);
                match name {
                    Some(n) if n != elf_name => {
                        frames.push(SymFrame {
                            name: n,
                            kind: FrameKind::Inline,
                            file: lf,
                            line: ll,
                        });
                        return Ok(Arc::from(frames));
                    }
                    _ => {
                        file = lf;
                        line = ll;
                    }
                }
            }
        } else if let Some((lf, ll)) = dwarf.location(svma) {
            file = lf;
            line = ll;
        }
    }
    frames.push(SymFrame {
        name: names::display_name(&sym.name),
        kind: FrameKind::Native,
        file,
        line,
    });
    Ok(Arc::from(frames))
}

fn jit_frame(e: &JitEntry) -> SymFrame {
    let name = tidy_perf_symbol(&e.name).into_owned();
    if is_python_perf_symbol(&e.name) {
        SymFrame {
            file: python_perf_file(&e.name).map(str::to_string),
            name,
            kind: FrameKind::Python,
            line: 0,
        }
    } else {
        SymFrame {
            name,
            kind: FrameKind::Jit,
            file: None,
            line: 0,
        }
    }
}

/// perf.data stores build ids zero-padded to 20 bytes; MMAP2 gives the
/// length. Trailing zero bytes are padding.
fn trim_build_id(id: &[u8]) -> &[u8] {
    let len = id
        .iter()
        .rposition(|&b| b != 0)
        .map_or(0, |i| i.saturating_add(1));
    id.get(..len).unwrap_or(id)
}

fn build_id_matches(want: &[u8], found: Option<&[u8]>) -> bool {
    found.is_some_and(|f| trim_build_id(f) == trim_build_id(want))
}

fn home_dir() -> Option<PathBuf> {
    std::env::var_os("HOME")
        .filter(|h| !h.is_empty())
        .map(PathBuf::from)
}

/// Whether a test has the copy of a split file take all its units
/// ([`Symbolizer::symbolize_files`]), so that it sees the copy used
/// whatever the timing: never outside tests.
#[cfg(not(test))]
#[inline]
fn copy_takes_all() -> bool {
    false
}

#[cfg(test)]
fn copy_takes_all() -> bool {
    tests::COPY_TAKES_ALL.with(std::cell::Cell::get)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;

    thread_local! {
        /// See [`copy_takes_all`].
        pub(super) static COPY_TAKES_ALL: Cell<bool> = const { Cell::new(false) };
    }

    /// Looking addresses up many at once, on two threads, a file's units
    /// shared out between it and a copy of it (all to the copy, and as
    /// the threads take them), gives what looking them up one by one
    /// gives: the frames, and what is reported lost.
    #[test]
    fn lookups_at_once_are_lookups_one_by_one() {
        let bin =
            std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../testdata/perf/bin");
        let opts = SymbolOptions {
            no_system_paths: true,
            symbol_dirs: vec![bin.clone()],
            lines: false,
            ..SymbolOptions::default()
        };
        // Every function of a Rust binary of 23 units, and past its last,
        // with and without inlined frames; `cfp`'s beside.
        let bytes = locate::read_file_or_xz(&bin.join("rustv0")).unwrap();
        let symbols = ElfSymbols::load(Some(&bytes), None, false).unwrap();
        let rust = b"/rec/rustv0".to_vec();
        let cfp = b"/rec/cfp".to_vec();
        let mut asked: Vec<(Vec<u8>, u64, bool)> = Vec::new();
        for (n, s) in symbols.symbols().iter().enumerate() {
            asked.push((rust.clone(), s.start + 1, n % 3 != 1));
            if n % 50 == 0 {
                asked.push((cfp.clone(), 0x1150 + n as u64, true));
            }
        }
        asked.push((rust.clone(), u64::MAX / 2, true));
        asked.push((b"/rec/missing".to_vec(), 0x10, true));
        assert!(asked.len() > 300);
        for copy_takes_all in [true, false] {
            let mut one = Symbolizer::new(opts.clone());
            let want: Vec<Frames> = asked
                .iter()
                .map(|(p, o, i)| one.symbolize_file_inline(p, *o, *i))
                .collect();
            let mut many = Symbolizer::new(opts.clone());
            // The first lookup one by one (the DWARF read), the rest at once.
            let (p, o, i) = &asked[0];
            let first = many.symbolize_file_inline(p, *o, *i);
            let lookups: Vec<(usize, u64, bool)> = asked[1..]
                .iter()
                .map(|(p, o, i)| (many.file_slot(p), *o, *i))
                .collect();
            COPY_TAKES_ALL.with(|c| c.set(copy_takes_all));
            let rest = many.symbolize_files(&lookups);
            COPY_TAKES_ALL.with(|c| c.set(false));
            let got: Vec<Frames> = std::iter::once(first).chain(rest).collect();
            assert_eq!(got, want, "copy takes all: {copy_takes_all}");
            assert_eq!(many.report().0, one.report().0);
            assert!(want.iter().filter(|r| r.is_ok()).count() > 300);
            assert!(
                want.iter().any(|r| r.as_ref().is_ok_and(|f| f.len() > 1)),
                "inlined frames"
            );
        }
    }

    #[test]
    fn symbolizer_is_send() {
        fn send<T: Send>() {}
        send::<Symbolizer>();
    }

    #[test]
    fn build_ids_compare_without_padding() {
        assert_eq!(trim_build_id(&[1, 2, 0, 0]), &[1, 2]);
        assert!(build_id_matches(&[1, 2, 0, 0, 0], Some(&[1, 2])));
        assert!(!build_id_matches(&[1, 2], Some(&[1, 3])));
        assert!(!build_id_matches(&[1, 2], None));
    }
}
