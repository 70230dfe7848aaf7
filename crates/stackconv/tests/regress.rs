//! Replays the inputs in `testdata/regress/` that once made a reader
//! panic, hang or over-allocate (found by the fuzz targets in `fuzz/`).
//!
//! Each file goes through [`stackconv::read_bytes`] with hermetic options
//! (no system paths, the fuzz targets' 64 MiB pprof inflate limit) and the
//! format its name starts with (`perf_data-`, `perf_script-`, `folded-`,
//! `pyspy-`, `pprof-`, `speedscope-`; `detect_and_read-` detects). It must
//! return `Ok`, or an `Err` whose message names a byte offset or a line
//! (some files here once gave errors that did not), not panic, and stay
//! within a memory budget counted by the allocator below; a profile it
//! returns must write as folded text.
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
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use stackconv::{read_bytes, InputFormat, ReadOptions};

/// Bytes live now and the most live since the last reset.
static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

struct Counting;

fn grew(by: usize) {
    let now = LIVE.fetch_add(by, Ordering::Relaxed).saturating_add(by);
    PEAK.fetch_max(now, Ordering::Relaxed);
}

// SAFETY: every method forwards to `System` with the caller's arguments
// unchanged, so `System`'s guarantees hold; the counters are only
// statistics.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded as received (see the impl).
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            grew(layout.size());
        }
        p
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
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
/// fuzz targets' libFuzzer runs use `-rss_limit_mb=2048`; no regression
/// input is larger than a few KiB, so a quarter of that is generous.
const BUDGET_BYTES: usize = 512 << 20;

fn regress_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata/regress")
}

/// The format a regression file's name names (the fuzz target that found
/// it); `None` lets the facade detect it.
fn format_of(name: &str) -> Option<InputFormat> {
    let target = name.split('-').next().unwrap_or("");
    match target {
        "perf_data" => Some(InputFormat::PerfData),
        "perf_script" => Some(InputFormat::PerfScript),
        "folded" => Some(InputFormat::Folded),
        "pyspy" => Some(InputFormat::PySpy),
        "pprof" => Some(InputFormat::Pprof),
        "speedscope" => Some(InputFormat::Speedscope),
        _ => None,
    }
}

/// The `.bin` files of `dir`, sorted.
fn inputs(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = entries
        .map(|e| e.expect("readable directory entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "bin"))
        .collect();
    files.sort();
    files
}

/// Replay one file; `Err` says what went wrong.
fn replay(path: &Path) -> Result<&'static str, String> {
    let data = std::fs::read(path).map_err(|e| format!("cannot read: {e}"))?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut opts = ReadOptions::default();
    opts.perf.symbols.no_system_paths = true;
    opts.pprof = stackconv::pprof::ReadOptions::default().with_max_inflated_bytes(64 << 20);
    opts.format = format_of(&name);

    let before = LIVE.load(Ordering::Relaxed);
    PEAK.store(before, Ordering::Relaxed);
    let outcome = catch_unwind(AssertUnwindSafe(|| {
        let p = match read_bytes(&data, &opts) {
            Ok(p) => p,
            Err(e) => {
                // An error says where: a byte offset or a line (the
                // malformed-input suite's rule, tests/malformed.rs).
                let msg = e.to_string();
                if !["byte", "offset", "line"].iter().any(|w| msg.contains(w)) {
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
    }));
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

fn replay_all(dir: &Path) -> (usize, Vec<String>) {
    let files = inputs(dir);
    let mut failures = Vec::new();
    for f in &files {
        match replay(f) {
            Ok(outcome) => eprintln!("{}: {outcome}", f.display()),
            Err(e) => failures.push(format!("{}: {e}", f.display())),
        }
    }
    (files.len(), failures)
}

#[test]
fn regressions_read_without_panic_or_blowup() {
    let (count, failures) = replay_all(&regress_dir());
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    eprintln!("{count} regression inputs replayed");
}

#[test]
#[ignore = "inputs of bugs not fixed yet: testdata/regress/open/"]
fn open_regressions() {
    let (_, failures) = replay_all(&regress_dir().join("open"));
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn file_names_pick_the_reader_of_the_target_that_found_them() {
    assert_eq!(
        format_of("perf_data-0a1b2c3d.bin"),
        Some(InputFormat::PerfData)
    );
    assert_eq!(
        format_of("pprof-oom-0a1b2c3d.bin"),
        Some(InputFormat::Pprof)
    );
    assert_eq!(
        format_of("perf_script-timeout-1234.bin"),
        Some(InputFormat::PerfScript)
    );
    assert_eq!(format_of("detect_and_read-0a1b.bin"), None);
}
