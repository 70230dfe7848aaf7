//! Replays the inputs in `testdata/regress/` that once made a reader
//! panic, hang or over-allocate (found by the fuzz targets in `fuzz/`), and
//! every input of the fuzz corpora committed under `fuzz/corpus/<target>/`.
//!
//! Each file goes through the reader of the fuzz target it belongs to:
//! [`stackconv::read_bytes`] with hermetic options (no system paths, the
//! fuzz targets' 64 MiB pprof inflate limit) and the format the target
//! reads (`perf_data`, `perf_script`, `folded`, `pyspy`, `pprof`,
//! `speedscope`, `cpuprofile`; `detect_and_read` detects), or the symbol
//! source parsers of `stackconv::perf::symbolize::fuzzing` (`perf_map`,
//! `jitdump`, `kallsyms`, `elf`). A regression file's target is the start
//! of its name, a corpus file's its directory. It must return `Ok`, or an
//! `Err` that says where ([`stackconv::Error::location`], or a message
//! naming a byte offset or a line; some files here once gave errors that
//! did not; a Parquet or Arrow error passes on the parquet or arrow
//! crate's message, which names no offset), not panic, and stay within a memory budget
//! enforced by the allocator below (an allocation past it fails, which
//! aborts the test naming the file, rather than taking the machine); a
//! profile it returns must write as folded text.
//! Files named `*oom*` or `*timeout*` once over-allocated or hung: that
//! they finish at all is the check (the test is not timed).
//!
//! `testdata/regress/open/` holds inputs whose bug is not fixed yet; the
//! ignored test [`open_regressions`] replays them
//! (`cargo test -p stackconv --test regress -- --ignored`). Move a file up
//! one level when its fix lands.

// A counting global allocator needs `unsafe impl GlobalAlloc`; it only
// forwards to `System` and counts bytes.
#![allow(unsafe_code)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::io::Write as _;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use stackconv::perf::symbolize::fuzzing;
use stackconv::{read_bytes, InputFormat, ReadOptions};

/// Bytes live now and the most live since the last reset.
static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);
/// The most bytes that may be live: an allocation past it fails.
static LIMIT: AtomicUsize = AtomicUsize::new(usize::MAX);
/// The file being replayed, for the message of a refused allocation.
static CURRENT: Mutex<String> = Mutex::new(String::new());
/// One replay at a time: the live-byte budget is per replay.
static SERIAL: Mutex<()> = Mutex::new(());

struct Counting;

/// Whether `by` more bytes fit under [`LIMIT`]; says which file asked
/// for more on standard error (unbuffered, not captured by the test
/// harness, and written without allocating), since a refused allocation
/// aborts the process.
fn fits(by: usize) -> bool {
    let live = LIVE.load(Ordering::Relaxed);
    if live.saturating_add(by) <= LIMIT.load(Ordering::Relaxed) {
        return true;
    }
    let mut err = std::io::stderr().lock();
    let _ = err.write_all(b"regress: allocation of ");
    let _ = write!(err, "{by}");
    let _ = err.write_all(b" bytes refused (over the replay budget) while reading ");
    if let Ok(name) = CURRENT.try_lock() {
        let _ = err.write_all(name.as_bytes());
    }
    let _ = err.write_all(b"\n");
    false
}

fn grew(by: usize) {
    let now = LIVE.fetch_add(by, Ordering::Relaxed).saturating_add(by);
    PEAK.fetch_max(now, Ordering::Relaxed);
}

// SAFETY: every method forwards to `System` with the caller's arguments
// unchanged, so `System`'s guarantees hold; the counters are only
// statistics.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if !fits(layout.size()) {
            return std::ptr::null_mut();
        }
        // SAFETY: forwarded as received (see the impl).
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            grew(layout.size());
        }
        p
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        if !fits(layout.size()) {
            return std::ptr::null_mut();
        }
        // SAFETY: forwarded as received (see the impl).
        let p = unsafe { System.alloc_zeroed(layout) };
        if !p.is_null() {
            grew(layout.size());
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded as received (see the impl).
        unsafe { System.dealloc(ptr, layout) };
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if !fits(new_size.saturating_sub(layout.size())) {
            return std::ptr::null_mut();
        }
        // SAFETY: forwarded as received (see the impl).
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
            grew(new_size);
        }
        p
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// The most a reader may allocate on top of what was live before it: the
/// fuzz targets' libFuzzer runs use `-rss_limit_mb=2048`; no input here is
/// larger than a few hundred KiB, so a quarter of that is generous.
const BUDGET_BYTES: usize = 512 << 20;

fn regress_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata/regress")
}

fn corpus_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus")
}

/// The reader of a fuzz target.
#[derive(Clone, Copy, Debug)]
enum Reader {
    /// [`read_bytes`] with this format (`None`: detected).
    Facade(Option<InputFormat>),
    /// A symbol-source parser of `stackconv::perf::symbolize::fuzzing`.
    Symbols(fn(&[u8]) -> usize),
}

/// The reader of fuzz target `target` (`None` for an unknown name).
fn reader_of(target: &str) -> Option<Reader> {
    Some(match target {
        "perf_data" => Reader::Facade(Some(InputFormat::PerfData)),
        "perf_script" => Reader::Facade(Some(InputFormat::PerfScript)),
        "folded" => Reader::Facade(Some(InputFormat::Folded)),
        "pyspy" => Reader::Facade(Some(InputFormat::PySpy)),
        "pprof" => Reader::Facade(Some(InputFormat::Pprof)),
        "speedscope" => Reader::Facade(Some(InputFormat::Speedscope)),
        "cpuprofile" => Reader::Facade(Some(InputFormat::ChromeCpuProfile)),
        "table" => Reader::Facade(None),
        "detect_and_read" => Reader::Facade(None),
        "perf_map" => Reader::Symbols(fuzzing::perf_map),
        "jitdump" => Reader::Symbols(fuzzing::jitdump),
        "kallsyms" => Reader::Symbols(fuzzing::kallsyms),
        "elf" => Reader::Symbols(fuzzing::elf),
        _ => return None,
    })
}

/// The reader for a regression file: the target its name starts with; the
/// facade detects the format of any other name.
fn reader_for_file(name: &str) -> Reader {
    let target = name.split('-').next().unwrap_or("");
    reader_of(target).unwrap_or(Reader::Facade(None))
}

/// Files of `dir` (those ending in `ext` when given), sorted.
fn inputs(dir: &Path, ext: Option<&str>) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = entries
        .map(|e| e.expect("readable directory entry").path())
        .filter(|p| p.is_file())
        .filter(|p| ext.is_none_or(|ext| p.extension().is_some_and(|e| e == ext)))
        .collect();
    files.sort();
    files
}

/// Read `data` as `reader` does; `None` for a clean `Err`.
fn read_as(reader: Reader, data: &[u8]) -> Option<Result<(), String>> {
    let format = match reader {
        Reader::Symbols(parse) => {
            parse(data);
            return Some(Ok(()));
        }
        Reader::Facade(format) => format,
    };
    let mut opts = ReadOptions::default();
    opts.perf.symbols.no_system_paths = true;
    opts.pprof = stackconv::pprof::ReadOptions::default().with_max_inflated_bytes(64 << 20);
    opts.format = format;
    let p = match read_bytes(data, &opts) {
        Ok(p) => p,
        Err(e) => {
            // An error says where: a byte offset, line, JSON path or
            // sample (`Error::location`), or its message names a byte
            // offset or line (the malformed-input suite's rule,
            // tests/malformed.rs).
            let msg = e.to_string();
            let named = ["byte", "offset", "line"].iter().any(|w| msg.contains(w));
            // The parquet and arrow crates say what is wrong but not
            // where (no byte offsets in their errors); their message is
            // passed on, naming the format.
            let table = matches!(e, stackconv::Error::Columnar(_))
                && (msg.starts_with("parquet:") || msg.starts_with("arrow:"));
            if e.location().is_none() && !named && !table {
                return Some(Err(format!("error names no byte offset or line: {msg}")));
            }
            return None;
        }
    };
    let mut out = Vec::new();
    let written = stackconv::collapsed::folded::write(
        &p,
        &stackconv::collapsed::folded::WriteOptions::default(),
        &mut out,
    );
    Some(written.map_err(|e| format!("read Ok but folded::write failed: {e}")))
}

/// Replay one file; `Err` says what went wrong.
fn replay(path: &Path, reader: Reader) -> Result<&'static str, String> {
    let data = std::fs::read(path).map_err(|e| format!("cannot read: {e}"))?;
    let _serial = SERIAL
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if let Ok(mut current) = CURRENT.lock() {
        current.clear();
        current.push_str(&path.display().to_string());
    }
    let before = LIVE.load(Ordering::Relaxed);
    PEAK.store(before, Ordering::Relaxed);
    LIMIT.store(before.saturating_add(BUDGET_BYTES), Ordering::Relaxed);
    let outcome = catch_unwind(AssertUnwindSafe(|| read_as(reader, &data)));
    LIMIT.store(usize::MAX, Ordering::Relaxed);
    let peak = PEAK.load(Ordering::Relaxed).saturating_sub(before);
    if peak > BUDGET_BYTES {
        return Err(format!(
            "allocated {peak} bytes at peak (budget {BUDGET_BYTES})"
        ));
    }
    match outcome {
        Err(_) => Err("panicked".to_string()),
        Ok(None) => Ok("Err"),
        Ok(Some(Ok(()))) => Ok("Ok"),
        Ok(Some(Err(e))) => Err(e),
    }
}

/// Replay the regression files (`*.bin`) of `dir`.
fn replay_regressions(dir: &Path) -> (usize, Vec<String>) {
    let files = inputs(dir, Some("bin"));
    let mut failures = Vec::new();
    for f in &files {
        let name = f
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        match replay(f, reader_for_file(&name)) {
            Ok(outcome) => eprintln!("{}: {outcome}", f.display()),
            Err(e) => failures.push(format!("{}: {e}", f.display())),
        }
    }
    (files.len(), failures)
}

#[test]
fn regressions_read_without_panic_or_blowup() {
    let (count, failures) = replay_regressions(&regress_dir());
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    eprintln!("{count} regression inputs replayed");
}

#[test]
#[ignore = "inputs of bugs not fixed yet: testdata/regress/open/"]
fn open_regressions() {
    let (_, failures) = replay_regressions(&regress_dir().join("open"));
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Every file of every `fuzz/corpus/<target>/` through its target's reader.
#[test]
fn fuzz_corpus_reads_without_panic_or_blowup() {
    let dir = corpus_dir();
    let mut targets: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.expect("readable directory entry").path())
        .filter(|p| p.is_dir())
        .collect();
    targets.sort();
    let mut failures = Vec::new();
    let mut total = 0usize;
    for t in &targets {
        let name = t
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let Some(reader) = reader_of(&name) else {
            failures.push(format!("{}: no fuzz target of that name", t.display()));
            continue;
        };
        let files = inputs(t, None);
        let (mut ok, mut err) = (0usize, 0usize);
        for f in &files {
            match replay(f, reader) {
                Ok("Ok") => ok += 1,
                Ok(_) => err += 1,
                Err(e) => failures.push(format!("{}: {e}", f.display())),
            }
        }
        eprintln!("{name}: {} inputs, {ok} Ok, {err} Err", files.len());
        total += files.len();
    }
    assert!(
        failures.is_empty(),
        "{} of {total} corpus inputs failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
    // Twelve targets: a corpus that went missing is a failure, not a pass.
    assert!(
        targets.len() >= 12,
        "only {} corpus directories",
        targets.len()
    );
    eprintln!("{total} corpus inputs replayed");
}

#[test]
fn allocation_past_the_budget_fails() {
    let _serial = SERIAL
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let before = LIVE.load(Ordering::Relaxed);
    LIMIT.store(before.saturating_add(1 << 20), Ordering::Relaxed);
    let small = Vec::<u8>::new().try_reserve_exact(1 << 10);
    let large = Vec::<u8>::new().try_reserve_exact(2 << 20);
    LIMIT.store(usize::MAX, Ordering::Relaxed);
    assert!(small.is_ok());
    assert!(large.is_err(), "a 2 MiB allocation under a 1 MiB budget");
}

#[test]
fn file_names_pick_the_reader_of_the_target_that_found_them() {
    let facade = |name| match reader_for_file(name) {
        Reader::Facade(format) => format,
        Reader::Symbols(_) => panic!("{name}: a symbol-source parser"),
    };
    assert_eq!(
        facade("perf_data-0a1b2c3d.bin"),
        Some(InputFormat::PerfData)
    );
    assert_eq!(facade("pprof-oom-0a1b2c3d.bin"), Some(InputFormat::Pprof));
    assert_eq!(
        facade("perf_script-timeout-1234.bin"),
        Some(InputFormat::PerfScript)
    );
    assert_eq!(
        facade("cpuprofile-0a1b.bin"),
        Some(InputFormat::ChromeCpuProfile)
    );
    assert_eq!(facade("detect_and_read-0a1b.bin"), None);
    assert!(matches!(
        reader_for_file("jitdump-0a1b.bin"),
        Reader::Symbols(_)
    ));
}
