//! speedscope JSON reader and writer for stackconv.
//!
//! [speedscope](https://www.speedscope.app) opens profiles in its
//! [file format](https://www.speedscope.app/file-format-schema.json): frames
//! shared by all profiles of the file, then one or more profiles, each
//! either *sampled* (stacks of frame indexes, root first, with weights) or
//! *evented* (open and close events of frames at given times).
//!
//! # Writing
//!
//! [`write()`] puts one sampled profile per model thread into the file,
//! named `comm pid/tid` (or what of it the thread knows; `all` for a
//! profile without thread information). The weights are one value column:
//! [`WriteOptions::value`], or else the profile's
//! [`default_value`](stackconv_model::Meta::default_value). A speedscope
//! file has one unit per profile, so the other columns are not written;
//! write again with another `value` to see them. The unit follows the
//! column's (`nanoseconds`, `microseconds`, `milliseconds`, `seconds`,
//! `bytes`), and is `none` for anything else (counts). Samples with
//! timestamps are written one by one in time order (speedscope's "Time
//! Order" view then shows the recording as it went); without timestamps,
//! equal stacks of a thread are folded into one entry. Every model frame
//! that a written stack uses appears once in `shared.frames` with its
//! display name, and its file and line when known. `exporter` is
//! `stackconv`, `activeProfileIndex` 0, `startValue` 0 and `endValue` the
//! profile's total weight (speedscope lays samples end to end).
//!
//! # Reading
//!
//! [`read()`] takes sampled and evented profiles. Each speedscope profile
//! becomes a model thread whose `thread_name` is the profile's name (no
//! pid or tid). Units become value columns: `none` a `samples`/`count`
//! column, `bytes` a `space`/`bytes` column, and every time unit a
//! `cpu`/`nanoseconds` column, the weights converted to nanoseconds and
//! rounded, so profiles in different time units share one column. Profiles
//! with different units get different columns (a sample is 0 in the
//! columns of other units); the default column is the one of the file's
//! `activeProfileIndex`.
//!
//! A sampled profile's samples keep their order; in a time unit each gets
//! the time at which speedscope draws it (`startValue` plus the weights
//! before it, in nanoseconds), so writing the profile again keeps the time
//! order. An evented profile becomes one sample per interval between two
//! events during which a frame is open, weighing the interval's length and
//! carrying the stack open during it, so the total weight of a stack is the
//! time spent with exactly that stack open. Frames are interned by name,
//! file and line; their kind is Python for a `.py` file or a `py::` name,
//! unknown otherwise. The profile's `meta.source_format` is `speedscope`
//! and `meta.comm_root` false.
//!
//! Bad input gives an [`Error`], never a panic: malformed JSON or a field
//! of the wrong type (with its line and column), frame indexes outside
//! `shared.frames`, negative or too large weights, events out of time
//! order, closes that do not match the innermost open frame, frames left
//! open. Nesting bombs cannot recurse: serde_json keeps its recursion
//! limit (128 levels) and the file's structures are a few levels deep, so
//! a deep value where the reader expects one is a type error, and a deep
//! value in a field it does not read is skipped without recursion. Memory
//! grows with the input (samples, weights and events are read whole).
//!
//! # Example
//!
//! ```
//! use stackconv_model::{FrameKind, Profile, ValueType};
//! use stackconv_speedscope::{read, write, WriteOptions};
//!
//! let mut p = Profile::new(vec![ValueType::new("samples", "count")]);
//! let main = p.intern_frame_named("main", FrameKind::Native);
//! let work = p.intern_frame_named("work", FrameKind::Native);
//! let stack = p.intern_stack_frames([main, work]);
//! let thread = p.intern_thread_named(Some(7), Some(8), "app", "worker");
//! p.push_sample(stack, thread, None, &[3]);
//! p.push_sample(stack, thread, None, &[4]);
//!
//! let mut json = Vec::new();
//! write(&p, &WriteOptions::default(), &mut json)?;
//! assert!(stackconv_speedscope::looks_like(&json));
//!
//! let back = read(&json)?;
//! assert_eq!(back.total(0), 7);
//! let s = back.samples().stacks()[0];
//! assert_eq!(back.stack_names(s), vec!["main", "work"]);
//! let t = back.threads().get(back.samples().threads()[0]);
//! assert_eq!(back.str(t.thread_name), "worker 7/8");
//! # Ok::<(), stackconv_speedscope::Error>(())
//! ```
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::indexing_slicing))]
#![deny(missing_docs)]

mod error;
mod read;
mod write;

pub use error::Error;
pub use read::read;
pub use write::{write, WriteOptions};

/// The `$schema` URL of a speedscope file.
pub const SCHEMA_URL: &str = "https://www.speedscope.app/file-format-schema.json";

/// Whether `prefix` (the first bytes of an input, a few KiB are plenty)
/// looks like a speedscope file: a JSON object that names speedscope's
/// schema, or has both a `"shared"` and a `"profiles"` key. Only the first
/// MiB is searched, so passing a whole large input is cheap too.
///
/// ```
/// use stackconv_speedscope::looks_like;
/// assert!(looks_like(br#"{"$schema":"https://www.speedscope.app/file-format-schema.json","#));
/// assert!(looks_like(b"\n { \"profiles\": [], \"shared\": {\"frames\": []}}"));
/// assert!(!looks_like(b"main;work 3\n"));
/// assert!(!looks_like(br#"{"traceEvents": []}"#));
/// ```
pub fn looks_like(prefix: &[u8]) -> bool {
    let prefix = prefix.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(prefix);
    let body = match prefix.iter().position(|b| !b.is_ascii_whitespace()) {
        Some(start) => prefix.get(start..).unwrap_or_default(),
        None => return false,
    };
    if !body.starts_with(b"{") {
        return false;
    }
    let body = body.get(..LOOKS_LIKE_LIMIT).unwrap_or(body);
    contains(body, b"speedscope.app/file-format-schema")
        || (contains(body, b"\"shared\"") && contains(body, b"\"profiles\""))
}

/// How many bytes [`looks_like`] searches.
const LOOKS_LIKE_LIMIT: usize = 1 << 20;

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}
