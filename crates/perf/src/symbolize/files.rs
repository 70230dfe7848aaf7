//! Finding a recorded file and parsing its symbols: on the reader's thread
//! when an address first needs it, or ahead of that on another thread for
//! the files a recording lists in its build-id table ([`FilesPrefetch`]).
//!
//! Parsing a file can take a while (libc's debug file is zlib-compressed:
//! inflating its DWARF sections takes ~25 ms), and the reader's
//! first sample in the file would wait for it. perf writes a build id for
//! every file that has samples, so those are the files to read ahead.

use std::collections::{HashMap, HashSet, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::{mpsc, Arc, Mutex, MutexGuard, PoisonError};

use super::dwarf::{self, Dwarf};
use super::elf::{self, ElfSymbols};
use super::locate::{
    base_name, build_id_rel_path, bytes_to_path, read_file, read_file_or_xz, under_root,
};
use super::{build_id_matches, home_dir, trim_build_id, FileBytes, SymbolOptions, Unresolved};

/// A file that was found and parsed.
pub(super) struct Loaded {
    pub(super) binary: Option<FileBytes>,
    pub(super) debug: Option<FileBytes>,
    pub(super) symbols: ElfSymbols,
    /// Whether DWARF was looked for (it is read on first need).
    pub(super) dwarf_read: bool,
    /// The DWARF, being read on another thread ([`FilesPrefetch`]).
    dwarf_ahead: Option<mpsc::Receiver<Option<Dwarf>>>,
}

/// A parsed file without its DWARF context, to send to another thread
/// ([`Loaded::share`]).
pub(super) struct SharedLoaded {
    binary: Option<FileBytes>,
    debug: Option<FileBytes>,
    symbols: elf::SharedSymbols,
}

impl SharedLoaded {
    /// Its DWARF units' address ranges.
    pub(super) fn units(&self) -> elf::UnitRanges {
        self.symbols.units()
    }

    /// The file, with a DWARF context of its own.
    pub(super) fn into_loaded(self) -> Loaded {
        Loaded {
            binary: self.binary,
            debug: self.debug,
            symbols: self.symbols.into_symbols(),
            dwarf_read: true,
            dwarf_ahead: None,
        }
    }
}

/// A file's binary and debug file, to read the DWARF of, and where to
/// send it.
type DwarfJob = (
    Option<FileBytes>,
    Option<FileBytes>,
    mpsc::Sender<Option<Dwarf>>,
);

impl Loaded {
    /// A job reading this file's DWARF on another thread, and where its
    /// DWARF will come (see [`Loaded::read_dwarf`]).
    fn dwarf_job(&self) -> (DwarfJob, mpsc::Receiver<Option<Dwarf>>) {
        let (reply, dwarf) = mpsc::channel();
        ((self.binary.clone(), self.debug.clone(), reply), dwarf)
    }

    /// About what reading its DWARF still costs here, in lookups: none
    /// when read, or being read on another thread; else a lookup per 2 KiB
    /// of its debug file, or per 64 KiB of a binary without one (most
    /// have little DWARF or none).
    pub(super) fn dwarf_cost(&self) -> usize {
        if self.dwarf_read || self.dwarf_ahead.is_some() {
            return 0;
        }
        let size = |b: &FileBytes| (**b).as_ref().len();
        match (&self.debug, &self.binary) {
            (Some(d), _) => size(d) / 2048,
            (None, Some(b)) => size(b) / 65_536,
            (None, None) => 0,
        }
    }

    /// The same file, for another thread to look addresses up in with a
    /// DWARF context of its own, made of the same sections: once its
    /// DWARF is read, and when it has some.
    pub(super) fn share(&self) -> Option<SharedLoaded> {
        if !self.dwarf_read || self.symbols.dwarf.is_none() {
            return None;
        }
        Some(SharedLoaded {
            binary: self.binary.clone(),
            debug: self.debug.clone(),
            symbols: self.symbols.share(),
        })
    }

    /// Read DWARF (lines, inlined frames) from the binary or its debug
    /// file, once.
    pub(super) fn read_dwarf(&mut self) {
        if self.dwarf_read {
            return;
        }
        self.dwarf_read = true;
        if let Some(Ok(dwarf)) = self.dwarf_ahead.take().map(|r| r.recv()) {
            self.symbols.dwarf = dwarf;
            return;
        }
        self.symbols
            .read_dwarf(self.binary.as_ref(), self.debug.as_ref());
    }
}

/// Candidates refused for their build id: (path, build id found).
pub(super) type Mismatches = Vec<(PathBuf, Option<Vec<u8>>)>;

/// What looking for a recorded file gave: its parsed symbols or why there
/// are none, and the candidates refused on the way.
pub(super) type Located = (Result<Box<Loaded>, Unresolved>, Mismatches);

/// Find the binary recorded as `path` (with build id `want`, when recorded)
/// and its debug file, and parse them.
pub(super) fn locate_and_parse(opts: &SymbolOptions, want: Option<&[u8]>, path: &[u8]) -> Located {
    let mut mismatches = Vec::new();
    // `[vdso]` and friends exist only as build-id cache entries.
    let special = path.starts_with(b"[") || path.starts_with(b"//anon");
    if path.is_empty() || (special && want.is_none()) {
        return (Err(Unresolved::FileMissing), mismatches);
    }
    let mut binary: Option<FileBytes> = None;
    for (cand, xz_ok) in binary_candidates(opts, path, want) {
        let Some(bytes) = read_candidate(&cand, xz_ok) else {
            continue;
        };
        if let Some(want) = want {
            let found = elf::build_id((*bytes).as_ref());
            if !build_id_matches(want, found.as_deref()) {
                mismatches.push((cand, found));
                continue;
            }
        }
        binary = Some(bytes);
        break;
    }
    // Without a recorded build id, perf reads the binary's own to find
    // its debug file (dso__load: filename__read_build_id).
    let own_id = match (want, &binary) {
        (None, Some(b)) => elf::build_id((**b).as_ref()),
        _ => None,
    };
    let mut debug: Option<FileBytes> = None;
    if let Some(want) = want.or(own_id.as_deref()) {
        for (cand, xz_ok) in debug_candidates(opts, want) {
            let Some(bytes) = read_candidate(&cand, xz_ok) else {
                continue;
            };
            let found = elf::build_id((*bytes).as_ref());
            if build_id_matches(want, found.as_deref()) {
                debug = Some(bytes);
                break;
            }
        }
    }
    if binary.is_none() && debug.is_none() {
        let why = if mismatches.is_empty() {
            Unresolved::FileMissing
        } else {
            Unresolved::BuildIdMismatch
        };
        return (Err(why), mismatches);
    }
    let symbols = ElfSymbols::load(binary.as_ref(), debug.as_ref(), false);
    match symbols {
        Some(symbols) => {
            let loaded = Loaded {
                binary,
                debug,
                symbols,
                dwarf_read: false,
                dwarf_ahead: None,
            };
            (Ok(Box::new(loaded)), mismatches)
        }
        // Found, but not an ELF file we can read: nothing to name.
        None => (Err(Unresolved::NoSymbol), mismatches),
    }
}

fn read_candidate(path: &Path, xz_ok: bool) -> Option<FileBytes> {
    if xz_ok {
        read_file_or_xz(path)
    } else {
        read_file(path)
    }
}

/// Where the binary may be, in order; `true` when an `.xz` copy counts.
fn binary_candidates(
    opts: &SymbolOptions,
    path: &[u8],
    want: Option<&[u8]>,
) -> Vec<(PathBuf, bool)> {
    let mut out = Vec::new();
    let special = path.starts_with(b"[") || path.starts_with(b"//anon");
    let base = bytes_to_path(base_name(path));
    for dir in &opts.symbol_dirs {
        if !special {
            out.push((dir.join(&base), true));
        }
        if let Some(rel) = want.and_then(build_id_rel_path) {
            out.push((dir.join(rel), true));
        }
    }
    if !opts.no_system_paths {
        if let (Some(rel), Some(home)) = (want.and_then(build_id_rel_path), home_dir()) {
            // perf's build-id cache: `elf`, or `vdso` for the vDSO.
            let entry = home.join(".debug").join(rel);
            out.push((entry.join("elf"), false));
            out.push((entry.join("vdso"), false));
        }
    }
    if special {
        return out;
    }
    match &opts.symfs {
        Some(root) => out.push((under_root(root, path), false)),
        None if !opts.no_system_paths => out.push((bytes_to_path(path), false)),
        None => {}
    }
    out
}

/// Where a separate debug file may be (by build id), in order.
fn debug_candidates(opts: &SymbolOptions, want: &[u8]) -> Vec<(PathBuf, bool)> {
    let mut out = Vec::new();
    let Some(rel) = build_id_rel_path(want) else {
        return out;
    };
    let mut dbg = rel.clone().into_os_string();
    dbg.push(".debug");
    let dbg = PathBuf::from(dbg);
    for dir in &opts.symbol_dirs {
        out.push((dir.join(&dbg), true));
    }
    if !opts.no_system_paths {
        out.push((Path::new("/usr/lib/debug").join(&dbg), false));
        if let Some(home) = home_dir() {
            out.push((home.join(".debug").join(&rel).join("debug"), false));
        }
    }
    out
}

/// The most files parsed ahead, the first the recording lists: perf lists
/// the files with samples, but `perf record --buildid-all` lists every
/// file mapped (hundreds, system-wide), and those without samples need no
/// parsing.
const MAX_AHEAD: usize = 32;

/// A file to find and parse ahead: its recorded path and build id.
struct Job {
    path: Vec<u8>,
    want: Option<Vec<u8>>,
}

/// A file found and parsed ahead, for the build id it was asked with.
struct Done {
    job: Job,
    located: Located,
}

impl Job {
    /// Find and parse the file, with its DWARF when `dwarf`.
    fn run(self, opts: &SymbolOptions, dwarf: bool) -> Done {
        let mut located = locate_and_parse(opts, self.want.as_deref(), &self.path);
        if let (true, Ok(loaded)) = (dwarf, &mut located.0) {
            loaded.read_dwarf();
        }
        Done { job: self, located }
    }
}

/// The jobs not started yet, next first, shared by the thread and the
/// reader.
type Queue = Arc<Mutex<VecDeque<Job>>>;

/// The queue, locked (a thread that panicked holding it left whole jobs).
fn lock(queue: &Queue) -> MutexGuard<'_, VecDeque<Job>> {
    queue.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Files being found and parsed ahead of the reader's first need: on
/// another thread, and on the reader's when it would otherwise wait. The
/// two take jobs from one queue: the reader takes the file it needs if the
/// thread has not started it, or another one while the thread finishes
/// it (without its DWARF, read at its first lookup that needs it, maybe
/// on another thread: [`super::Symbolizer::symbolize_files`]). A file is
/// parsed once, and gives what parsing it on first need would give (the
/// prefetch changes when a file is parsed, never what it gives).
pub(crate) struct FilesPrefetch {
    opts: SymbolOptions,
    /// Whether the files' DWARF is wanted.
    dwarf: bool,
    /// A thread reading DWARF: with DWARF wanted, from the start, that of
    /// the files read ahead but the largest (see [`FilesPrefetch::start`]);
    /// and that of the files the reader parses itself.
    dwarf_jobs: Option<mpsc::Sender<DwarfJob>>,
    queue: Queue,
    /// Parsed files as the thread finishes them.
    done: mpsc::Receiver<Done>,
    /// Paths queued, being parsed or parsed, and not taken yet.
    pending: HashSet<Vec<u8>>,
    /// Files parsed and not taken yet.
    ready: HashMap<Vec<u8>, Done>,
}

impl FilesPrefetch {
    /// Start parsing a recording's files ahead: `files` (recorded path,
    /// build id) are those perf wrote a build id for (it does for every
    /// file with samples) but the kernel's and its modules' (named through
    /// kallsyms); with their DWARF when their addresses will be named with
    /// lines or inlined frames (those of DWARF-unwound stacks are, when
    /// `unwinds_user_stacks`).
    pub(crate) fn start_for<'f>(
        opts: &SymbolOptions,
        files: impl IntoIterator<Item = (&'f [u8], &'f [u8])>,
        unwinds_user_stacks: bool,
    ) -> Option<Self> {
        let jobs = files
            .into_iter()
            .map(|(path, id)| (path.to_vec(), Some(trim_build_id(id).to_vec())))
            .take(MAX_AHEAD)
            .collect();
        let dwarf = opts.lines || (opts.inline && unwinds_user_stacks);
        Self::start(opts, jobs, dwarf)
    }

    /// Start finding and parsing `jobs` ((path, build id)) on another
    /// thread, largest file first; with DWARF when `dwarf`. `None` without
    /// jobs or a thread to run them.
    fn start(
        opts: &SymbolOptions,
        jobs: Vec<(Vec<u8>, Option<Vec<u8>>)>,
        dwarf: bool,
    ) -> Option<Self> {
        if jobs.is_empty() {
            return None;
        }
        let pending: HashSet<Vec<u8>> = jobs.iter().map(|(p, _)| p.clone()).collect();
        let queue: VecDeque<Job> = jobs
            .into_iter()
            .map(|(path, want)| Job { path, want })
            .collect();
        let queue = Arc::new(Mutex::new(queue));
        let (send, done) = mpsc::channel();
        let (thread_opts, jobs) = (opts.clone(), queue.clone());
        // With DWARF wanted, it is read on two threads: this one reads the
        // first (largest) file's once it has parsed every file's symbols,
        // the `dwarf` thread the others', in turn (and those of the files
        // the reader parses itself). Without that thread, each file's
        // with its symbols, as they are parsed.
        let dwarf_jobs = if dwarf { dwarf_thread() } else { None };
        let thread_dwarf_jobs = dwarf_jobs.clone();
        std::thread::Builder::new()
            .name("symbols".into())
            .spawn(move || {
                largest_first(&thread_opts, &jobs);
                let mut own: Option<DwarfJob> = None;
                loop {
                    // Unlocked before the job runs: the reader takes jobs
                    // meanwhile.
                    let next = lock(&jobs).pop_front();
                    let Some(job) = next else { break };
                    let mut done = job.run(&thread_opts, dwarf && thread_dwarf_jobs.is_none());
                    if let (Some(dwarf_jobs), Ok(loaded)) =
                        (&thread_dwarf_jobs, &mut done.located.0)
                    {
                        let (job, dwarf) = loaded.dwarf_job();
                        loaded.dwarf_ahead = Some(dwarf);
                        // A job the thread cannot take is dropped, and
                        // with it the reply: the first lookup reads it.
                        match own {
                            None => own = Some(job),
                            Some(_) => drop(dwarf_jobs.send(job)),
                        }
                    }
                    if send.send(done).is_err() {
                        break;
                    }
                }
                if let Some(job) = own {
                    read_dwarf_job(job);
                }
            })
            .ok()?;
        Some(FilesPrefetch {
            opts: opts.clone(),
            dwarf,
            dwarf_jobs,
            queue,
            done,
            pending,
            ready: HashMap::new(),
        })
    }

    /// What parsing `path` (build id `want`) gives: parsed ahead, or now on
    /// this thread when not started, or once the thread has finished it
    /// (parsing other queued files meanwhile). `None` when the caller is to
    /// parse it: it was not asked for, asked for with another build id, or
    /// the thread is gone.
    pub(super) fn take(&mut self, path: &[u8], want: Option<&[u8]>) -> Option<Located> {
        if !self.pending.remove(path) {
            return None;
        }
        let done = loop {
            if let Some(done) = self.ready.remove(path) {
                break done;
            }
            let next = {
                let mut queue = lock(&self.queue);
                match queue.iter().position(|j| j.path == path) {
                    Some(at) => queue.remove(at),
                    None => queue.pop_front(),
                }
            };
            // A job run here reads no DWARF: the file's first lookup that
            // needs it does (the reader may not need it now, or at all).
            let done = match next {
                Some(job) => job.run(&self.opts, false),
                None => self.done.recv().ok()?,
            };
            self.ready.insert(done.job.path.clone(), done);
        };
        if done.job.want.as_deref() != want {
            return None;
        }
        let mut located = done.located;
        if let (true, Ok(loaded)) = (self.dwarf, &mut located.0) {
            if !loaded.dwarf_read && loaded.dwarf_ahead.is_none() {
                loaded.dwarf_ahead = self.read_dwarf_ahead(loaded);
            }
        }
        Some(located)
    }

    /// Have the DWARF of a file the reader parsed itself read on another
    /// thread, for its first lookup that needs it; `None` when no thread
    /// can be had (the lookup reads it).
    fn read_dwarf_ahead(&mut self, loaded: &Loaded) -> Option<mpsc::Receiver<Option<Dwarf>>> {
        if self.dwarf_jobs.is_none() {
            self.dwarf_jobs = dwarf_thread();
        }
        let (job, dwarf) = loaded.dwarf_job();
        self.dwarf_jobs.as_ref()?.send(job).ok()?;
        Some(dwarf)
    }
}

/// Read a job's DWARF and send it (to no one when the file is gone).
fn read_dwarf_job((binary, debug, reply): DwarfJob) {
    let _ = reply.send(dwarf::read_dwarf(binary.as_ref(), debug.as_ref()));
}

/// A thread reading the DWARF of the files sent to it, in turn; `None`
/// when no thread can be had.
fn dwarf_thread() -> Option<mpsc::Sender<DwarfJob>> {
    let (send, jobs) = mpsc::channel::<DwarfJob>();
    std::thread::Builder::new()
        .name("dwarf".into())
        .spawn(move || {
            jobs.into_iter().for_each(read_dwarf_job);
        })
        .ok()?;
    Some(send)
}

/// Order the jobs largest file first: the longest to parse are the ones
/// worth having parsed ahead. A file's size is that of its first
/// candidate that exists.
fn largest_first(opts: &SymbolOptions, jobs: &Queue) {
    let mut jobs = lock(jobs);
    let mut sized: Vec<(u64, Job)> = jobs
        .drain(..)
        .map(|job| {
            let size = binary_candidates(opts, &job.path, job.want.as_deref())
                .iter()
                .find_map(|(c, _)| std::fs::metadata(c).ok())
                .map_or(0, |m| m.len());
            (size, job)
        })
        .collect();
    sized.sort_by_key(|(size, _)| std::cmp::Reverse(*size));
    jobs.extend(sized.into_iter().map(|(_, job)| job));
}

impl Drop for FilesPrefetch {
    /// The thread stops after the file it is parsing.
    fn drop(&mut self) {
        lock(&self.queue).clear();
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn bin() -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../testdata/perf/bin")
    }

    fn opts() -> SymbolOptions {
        SymbolOptions {
            no_system_paths: true,
            symbol_dirs: vec![bin()],
            ..SymbolOptions::default()
        }
    }

    #[test]
    fn a_file_parsed_ahead_is_the_file_parsed_on_need() {
        let opts = opts();
        let cfp = b"/rec/cfp".to_vec();
        let want = elf::build_id(&std::fs::read(bin().join("cfp")).unwrap()).unwrap();
        let jobs = vec![
            (b"/rec/cinline".to_vec(), None),
            (cfp.clone(), Some(want.clone())),
            (b"/rec/mutex".to_vec(), None),
        ];
        let mut ahead = FilesPrefetch::start(&opts, jobs, true).unwrap();
        let (got, mismatches) = ahead.take(&cfp, Some(&want)).unwrap();
        let mut got = got.unwrap();
        // Parsed by the thread, its DWARF is read; by the reader, read on
        // first need.
        got.read_dwarf();
        let (mut direct, _) = locate_and_parse(&opts, Some(&want), &cfp);
        let direct = direct.as_mut().unwrap();
        direct.read_dwarf();
        assert!(mismatches.is_empty());
        assert!(!got.symbols.symbols().is_empty());
        assert_eq!(got.symbols.symbols(), direct.symbols.symbols());
        assert!(got.dwarf_read && got.symbols.dwarf.is_some());
        assert_eq!(got.symbols.loads, direct.symbols.loads);
        // Taken once; a file asked with another build id than it was
        // parsed for, or never given, is the caller's to parse.
        assert!(ahead.take(&cfp, Some(&want)).is_none());
        assert!(ahead.take(b"/rec/cinline", Some(&[1, 2, 3])).is_none());
        assert!(ahead.take(b"/rec/other", None).is_none());
        // Given and not taken yet: parsed ahead, or taken back and parsed
        // by the caller; either way the same file.
        let (mutex, _) = ahead.take(b"/rec/mutex", None).unwrap();
        assert!(!mutex.unwrap().symbols.symbols().is_empty());
    }

    #[test]
    fn a_missing_file_is_reported_as_on_need() {
        let opts = opts();
        let jobs = vec![(b"/rec/no-such-file".to_vec(), Some(vec![9; 20]))];
        let mut ahead = FilesPrefetch::start(&opts, jobs, false).unwrap();
        let (got, _) = ahead.take(b"/rec/no-such-file", Some(&[9; 20])).unwrap();
        assert_eq!(got.err(), Some(Unresolved::FileMissing));
    }

    #[test]
    fn nothing_to_parse_starts_no_thread() {
        assert!(FilesPrefetch::start(&opts(), Vec::new(), true).is_none());
    }
}
