//! perf.data reader for stackconv: file mode, pipe mode and
//! zstd-compressed records, several events, frame-pointer and
//! `--call-graph dwarf` callchains (unwound with framehop), symbolized
//! through ELF symbols, DWARF, kallsyms, perf maps and jitdump, with
//! off-CPU time from `sched:sched_switch`.
//!
//! The container is read and validated here before any record is decoded:
//! section tables, feature sections and every record size are checked
//! against the input, so a damaged file gives an [`Error`] naming the byte
//! offset, never a panic or an allocation the file only claims to need.
//! Records are then decoded in time order straight from the input's bytes
//! (`linux-perf-event-reader` parses each one), without a copy.
//!
//! Stacks come out root first without the comm root frame
//! (`meta.comm_root` is set: writers add it), frames named as
//! `perf script | inferno-collapse-perf` names them.
//!
//! # Example
//!
//! ```
//! use stackconv_perf::{looks_like, read, Error, ReadOptions};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! // A perf.data cut short after its magic is refused with an offset.
//! let bytes = b"PERFILE2\x68\0\0\0\0\0\0\0";
//! assert!(looks_like(bytes));
//! let err = read(bytes, &ReadOptions::default()).unwrap_err();
//! assert!(matches!(err, Error::Truncated { .. }));
//! assert_eq!(err.offset(), Some(0));
//! # let _ = read(b"PERFILE2", &ReadOptions::default()).err();
//! # Ok(())
//! # }
//! ```
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::indexing_slicing))]

mod container;
mod decode;
mod error;
mod fxhash;
mod pages;
mod reader;
mod records;
mod slices;
pub mod symbolize;
mod unwind;

use std::io::Read;

pub use error::Error;
use stackconv_model::pruning::FlameGraphPruning;
pub use stackconv_model::Profile;
pub use symbolize::SymbolOptions;

/// How to read a perf.data input.
#[non_exhaustive]
#[derive(Clone, Debug, Default)]
pub struct ReadOptions {
    /// Where symbols, kallsyms and perf maps come from.
    pub symbols: SymbolOptions,
    /// Add an `off-cpu` value column (nanoseconds) even when the recording
    /// has no `sched:sched_switch` samples (it is added whenever it has).
    pub off_cpu: bool,
    /// The most bytes the compressed records (`perf record -z`) may
    /// decompress to in all; more is [`Error::DecompressedTooLarge`].
    /// `None`: [`default_max_decompressed`] of the input's size.
    pub max_decompressed_bytes: Option<u64>,
    /// Fold samples while reading: one sample row per distinct (stack,
    /// thread), its values summed (saturating, as [`Profile::fold`]), with
    /// no timestamps, in the order the pairs first occur, so the result is
    /// the unfolded profile's [`Profile::into_folded`]. Memory then grows
    /// with distinct stacks, not with samples.
    ///
    /// For outputs without time order (flame graphs, folded text, pprof,
    /// top lists) and no time filter. Off-CPU intervals and
    /// `meta.duration_ns` are computed from the timestamps as without it.
    /// Default `false`: one row per sample, with its timestamp.
    ///
    /// ```
    /// let mut opts = stackconv_perf::ReadOptions::default();
    /// opts.fold = true;
    /// ```
    pub fold: bool,
    /// Called as the records are read, with the bytes of the input read so
    /// far and its length (from the reading thread, about every 4 MiB):
    /// for a progress bar. Default none.
    pub progress: Option<Progress>,
    /// The profile read is only drawn as one flame graph: cut each
    /// sample's stack below what the graph would not draw (see
    /// [`FlameGraphPruning`]), so that the stack tree of a large recording
    /// is thousands of nodes instead of tens of millions. With
    /// [`ReadOptions::fold`] (otherwise ignored). Default none.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use stackconv_model::pruning::{DrawnKeys, FlameGraphPruning};
    /// let mut opts = stackconv_perf::ReadOptions::default();
    /// opts.fold = true;
    /// opts.flame_graph = Some(FlameGraphPruning {
    ///     min_width_percent: 0.1,
    ///     column: None,
    ///     keys: Arc::new(|_| None::<DrawnKeys>),
    /// });
    /// ```
    pub flame_graph: Option<FlameGraphPruning>,
    /// With [`ReadOptions::flame_graph`]: the most bytes the distinct
    /// stacks read so far (and their rows) may take in memory. Past it they
    /// are moved to an unnamed temporary file ([`SpilledRows`], in
    /// `TMPDIR`) and merged back at the end, so that memory stays bounded
    /// on a recording of many distinct stacks, and the graph is the same.
    /// When the file cannot be written they stay in memory, and
    /// `meta.warnings` says so. `None`: [`DEFAULT_MAX_STACK_MEMORY`];
    /// `Some(usize::MAX)`: never moved. Not with an off-CPU column.
    ///
    /// ```
    /// let mut opts = stackconv_perf::ReadOptions::default();
    /// opts.max_stack_memory = Some(64 << 20);
    /// ```
    ///
    /// [`SpilledRows`]: stackconv_model::SpilledRows
    pub max_stack_memory: Option<usize>,
}

/// The default of [`ReadOptions::max_stack_memory`].
pub const DEFAULT_MAX_STACK_MEMORY: usize = 24 << 20;

/// A progress callback: `(bytes read, input length)`.
///
/// ```
/// use std::sync::atomic::{AtomicU64, Ordering};
/// use std::sync::Arc;
///
/// let seen = Arc::new(AtomicU64::new(0));
/// let s = seen.clone();
/// let mut opts = stackconv_perf::ReadOptions::default();
/// opts.progress = Some(stackconv_perf::Progress::new(move |done, _len| {
///     s.store(done, Ordering::Relaxed);
/// }));
/// ```
#[derive(Clone)]
pub struct Progress(std::sync::Arc<dyn Fn(u64, u64) + Send + Sync>);

impl Progress {
    /// A progress callback calling `f(bytes read, input length)`.
    pub fn new(f: impl Fn(u64, u64) + Send + Sync + 'static) -> Self {
        Progress(std::sync::Arc::new(f))
    }

    pub(crate) fn report(&self, done: u64, len: u64) {
        (self.0)(done, len);
    }
}

impl std::fmt::Debug for Progress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Progress(..)")
    }
}

pub use stackconv_model::limits::default_max_decompressed;

/// Read a perf.data file (file mode or pipe mode bytes) into a profile.
///
/// # Errors
///
/// When the input is not perf.data, is truncated (the error names the
/// offset of the first structure cut), or a size or field is invalid. A
/// truncated or malformed feature section is not an error: it is skipped
/// and reported in `meta.warnings`, as perf does.
pub fn read(data: &[u8], opts: &ReadOptions) -> Result<Profile, Error> {
    let limit = opts
        .max_decompressed_bytes
        .unwrap_or_else(|| default_max_decompressed(u64::try_from(data.len()).unwrap_or(u64::MAX)));
    parse_and_read(data, pages::Pages::default(), limit, opts, true)
}

/// [`read`], with the data section walked whole before any record is read
/// (in file mode [`read`] reads the records while the walk validates
/// them): for tests, which compare the two.
#[doc(hidden)]
pub fn read_walked_first(data: &[u8], opts: &ReadOptions) -> Result<Profile, Error> {
    let limit = opts
        .max_decompressed_bytes
        .unwrap_or_else(|| default_max_decompressed(u64::try_from(data.len()).unwrap_or(u64::MAX)));
    parse_and_read(data, pages::Pages::default(), limit, opts, false)
}

/// Walk the container of `data` (whose pages are `pages`) and read its
/// records: in file mode, with `stream`, while the walk validates them on
/// another thread ([`reader::read_streamed`]), else once it is done.
/// Kernel symbols start being read on another thread as soon as the walk
/// meets a sample taken in the kernel, while it goes on.
fn parse_and_read(
    data: &[u8],
    pages: pages::Pages<'_>,
    limit: u64,
    opts: &ReadOptions,
    stream: bool,
) -> Result<Profile, Error> {
    use std::sync::{Arc, Mutex};
    let kallsyms = Arc::new(Mutex::new(None));
    let started = kallsyms.clone();
    let symbols = opts.symbols.clone();
    let on_kernel_sample = Box::new(move |kernel_build_id: Option<&[u8]>| {
        let prefetch = symbolize::KallsymsPrefetch::start(&symbols, kernel_build_id);
        if let Ok(mut slot) = started.lock() {
            *slot = prefetch;
        }
    });
    let files = Arc::new(Mutex::new(None));
    let started = files.clone();
    let symbols = opts.symbols.clone();
    let on_files = Box::new(move |c: &container::Container<'_>| {
        if let Ok(mut slot) = started.lock() {
            *slot = reader::files_ahead(&symbols, c);
        }
    });
    let hooks = container::Hooks {
        on_kernel_sample: Some(on_kernel_sample),
        on_files: Some(on_files),
    };
    fn take<T>(slot: &Mutex<Option<T>>) -> Option<T> {
        slot.lock().ok().and_then(|mut s| s.take())
    }
    match container::parse(data, pages, limit, hooks, stream)? {
        container::Parsed::Walked(c) => {
            reader::read_container(c, opts, take(&kallsyms), take(&files))
        }
        container::Parsed::Streamed(s) => {
            reader::read_streamed(*s, opts, &|| take(&kallsyms), take(&files))
        }
    }
}

/// Read a perf.data file, mapped rather than read into memory: the pages of
/// the parts already read are given back as reading goes on, so resident
/// memory grows with the profile (its distinct stacks and symbols), not
/// with the file's size. A file that cannot be mapped is read as by
/// [`read_pipe`].
///
/// ```no_run
/// let file = std::fs::File::open("perf.data")?;
/// let profile = stackconv_perf::read_file(&file, &stackconv_perf::ReadOptions::default())?;
/// println!("{} samples", profile.samples().len());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// # Errors
///
/// As [`read`], and [`Error::Io`] when reading fails.
pub fn read_file(file: &std::fs::File, opts: &ReadOptions) -> Result<Profile, Error> {
    read_file_windowed(file, opts, pages::WINDOW)
}

/// [`read_file`], releasing pages every `window` bytes (for tests: small
/// files then release too).
#[doc(hidden)]
pub fn read_file_windowed(
    file: &std::fs::File,
    opts: &ReadOptions,
    window: usize,
) -> Result<Profile, Error> {
    #[allow(unsafe_code)]
    // SAFETY: a read-only private map, alive while the file is parsed;
    // profiles are not rewritten while stackconv reads them (a file
    // truncated under us could fault, as with any mmap reader such as
    // ripgrep; the read fallback covers files that cannot be mapped).
    let map = match unsafe { memmap2::Mmap::map(file) } {
        Ok(map) => map,
        Err(_) => return read_pipe(file, opts),
    };
    let _ = map.advise(memmap2::Advice::Sequential);
    let limit = opts
        .max_decompressed_bytes
        .unwrap_or_else(|| default_max_decompressed(u64::try_from(map.len()).unwrap_or(u64::MAX)));
    parse_and_read(&map, pages::Pages::mapped(&map, window), limit, opts, true)
}

/// Read a perf.data stream (`perf record -o -`, or a file) from `input`.
///
/// The stream is read to its end first (its records are sorted by time
/// within perf's rounds anyway), then read as by [`read`].
///
/// # Errors
///
/// As [`read`], and [`Error::Io`] when reading fails.
pub fn read_pipe(mut input: impl Read, opts: &ReadOptions) -> Result<Profile, Error> {
    let mut data = Vec::new();
    input.read_to_end(&mut data).map_err(Error::Io)?;
    read(&data, opts)
}

/// Whether `prefix` (the first bytes of an input, 8 or more) is perf.data,
/// in file or pipe mode.
pub fn looks_like(prefix: &[u8]) -> bool {
    container::looks_like(prefix)
}
