//! Chrome / Node `.cpuprofile` reader and writer for stackconv.
//!
//! A `.cpuprofile` is what `node --cpu-prof` and Chrome DevTools' "Save
//! profile" write (V8's `CpuProfile` of the DevTools protocol): a call
//! tree of `nodes` (`id`, `callFrame {functionName, scriptId, url,
//! lineNumber, columnNumber}`, `hitCount`, `children` ids), then the
//! `samples` (node ids, in time order) with `timeDeltas` (microseconds
//! since the previous sample; the first since `startTime`), and `startTime`
//! and `endTime` in microseconds.
//!
//! # Reading
//!
//! [`read()`] takes that shape, with `children` or with `parent` links
//! (the form inside Chrome trace `ProfileChunk` events; both may be
//! present if they agree), with or without `hitCount` (ignored: the
//! samples are the truth). Every node becomes a model stack: its call
//! frame is a frame named by `functionName` (`(anonymous)` when empty),
//! with `url` as its file and `lineNumber + 1` as its line; a root node
//! named `(root)` is no frame. V8's pseudo-frames `(program)` and
//! `(garbage collector)` are native frames (the VM's own work), `(idle)`
//! an unknown-kind frame, every JavaScript frame a JIT frame.
//!
//! Each sample is taken at `startTime` plus the deltas up to it (in
//! nanoseconds in the model) and lasts until the next sample, the last one
//! until `endTime`: the model's `cpu`/`nanoseconds` column is that span, as
//! Chrome DevTools counts self time, and a `samples`/`count` column counts
//! 1 per sample. The profile has one thread without ids or names (a
//! `.cpuprofile` records one JavaScript thread).
//!
//! Bad input gives an [`Error`], never a panic: malformed JSON or a
//! mistyped field (line and column), duplicate node ids, children or
//! parents or samples naming no node, a node with two parents, cycles in
//! the parent links (found by an iterative walk that visits each node
//! once, never by recursion), negative or absurd time deltas
//! (over [`MAX_TIME_DELTA_US`]), times that overflow. serde_json keeps its
//! recursion limit of 128 levels. Memory grows with the input.
//!
//! Chrome's trace-event form (`{"traceEvents": [... "ProfileChunk" ...]}`)
//! is not read; save the profile from DevTools' JavaScript Profiler, or
//! with `node --cpu-prof`.
//!
//! # Writing
//!
//! [`write()`] writes one `.cpuprofile` for the whole profile (every
//! thread merged); see there for how weights become time deltas.
//!
//! # Example
//!
//! ```
//! use stackconv_model::{FrameKind, Profile, ValueType};
//!
//! let mut p = Profile::new(vec![ValueType::new("cpu", "nanoseconds")]);
//! let main = p.intern_frame_named("main", FrameKind::Jit);
//! let work = p.intern_frame_named("work", FrameKind::Jit);
//! let stack = p.intern_stack_frames([main, work]);
//! let thread = p.intern_thread_named(None, None, "", "");
//! p.push_sample(stack, thread, Some(1_000_000), &[3_000]);
//! p.push_sample(stack, thread, Some(1_003_000), &[4_000]);
//!
//! let mut json = Vec::new();
//! stackconv_chrome::write(&p, &stackconv_chrome::WriteOptions::default(), &mut json)?;
//! assert!(stackconv_chrome::looks_like(&json));
//!
//! let back = stackconv_chrome::read(&json)?;
//! assert_eq!(back.total(0), 7_000);
//! assert_eq!(back.samples().times(), Some(&[1_000_000, 1_003_000][..]));
//! assert_eq!(back.stack_names(back.samples().stacks()[0]), vec!["main", "work"]);
//! # Ok::<(), stackconv_chrome::Error>(())
//! ```
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::indexing_slicing))]
#![deny(missing_docs)]

mod error;
mod read;
mod write;

pub use error::Error;
pub use read::read;
pub use write::{write, WriteOptions};

/// The longest time delta [`read()`] accepts, in microseconds: one day.
/// Samplers take samples every few hundred microseconds; a longer gap is a
/// corrupt file.
pub const MAX_TIME_DELTA_US: i64 = 86_400_000_000;

/// How many bytes [`looks_like`] searches.
const LOOKS_LIKE_LIMIT: usize = 1 << 20;

/// Whether `prefix` (the first bytes of an input) looks like a
/// `.cpuprofile`: a JSON object whose first key is `"nodes"` (as Node and
/// Chrome write it), or that has a `"nodes"` key and a `"callFrame"` in its
/// first MiB. A speedscope file has neither.
///
/// ```
/// use stackconv_chrome::looks_like;
/// assert!(looks_like(br#"{"nodes":[{"id":1,"callFrame":{"#));
/// assert!(looks_like(br#" {"startTime":1,"nodes":[{"callFrame":{}}]}"#));
/// assert!(!looks_like(br#"{"shared":{"frames":[]},"profiles":[]}"#));
/// assert!(!looks_like(b"main;work 3\n"));
/// ```
pub fn looks_like(prefix: &[u8]) -> bool {
    let prefix = prefix.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(prefix);
    let Some(body) = prefix
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .and_then(|start| prefix.get(start..))
    else {
        return false;
    };
    let Some(inner) = body.strip_prefix(b"{") else {
        return false;
    };
    let inner = inner
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .and_then(|start| inner.get(start..))
        .unwrap_or_default();
    if inner.starts_with(b"\"nodes\"") {
        return true;
    }
    let body = body.get(..LOOKS_LIKE_LIMIT).unwrap_or(body);
    contains(body, b"\"nodes\"") && contains(body, b"\"callFrame\"")
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}
