//! pprof `profile.proto` reader and writer for stackconv.
//!
//! [`read`] turns a gzipped or plain profile.proto (what `go tool pprof`,
//! Go's `runtime/pprof` and `/debug/pprof/*` endpoints produce) into a
//! [`Profile`]; [`write()`] turns any [`Profile`] into a gzipped
//! profile.proto that `go tool pprof` shows with the same totals and
//! stacks. The messages are plain Rust structs deriving `prost::Message`,
//! so no `protoc` is needed to build.
//!
//! # Reading
//!
//! - Every sample type is a value column (kind and unit);
//!   [`Meta::default_value`](stackconv_model::Meta::default_value) is the
//!   `default_sample_type`, else the last column, as pprof chooses.
//! - Stacks are root first. A location with several lines gives one frame
//!   per line; all but its last line (the caller) are
//!   [`FrameKind::Inline`](stackconv_model::FrameKind::Inline).
//! - Frame names are what `go tool pprof -traces` prints: the function
//!   name, simplified as pprof's symbolizer does when `name` is empty or
//!   equals `system_name` (C++-looking names lose `(...)` and `<...>`); a
//!   location without lines, or a line without a function name, is named
//!   `[<mapping file base name>]` (or `<unknown>`), kind `Unknown`. Frame
//!   `file` and `line` come from the function and the line; `module` is
//!   the mapping's file. Kinds otherwise: `Kernel` for modules named
//!   `[kernel...`, `Python` for `py::` names, `Jit` for perf maps and
//!   jitdumps, `Unknown` for `[...]` names, else `Native`.
//! - `drop_frames` / `keep_frames` are applied as `go tool pprof` applies
//!   them on load (profile/prune.go `Prune`): from the root towards the
//!   leaf, once a frame that does not match has been seen, the first
//!   location whose function matches `^(drop_frames)$` (and not
//!   `^(keep_frames)$`) ends the stack, with everything it called.
//! - Labels are kept in `samples.labels`; these keys also make the
//!   sample's [`Thread`](stackconv_model::Thread): `pid`, `process_id`
//!   (pid); `tid`, `thread_id`, numeric `thread` (tid); `thread_name`,
//!   string `thread` (thread name); `process_name`. Numbers may be numeric
//!   labels or decimal strings.
//! - Samples are folded by (stack, thread, labels) as they are read:
//!   pprof samples have no time. Meta: `source_format` `pprof`, period,
//!   `time_nanos`, `duration_nanos`, mappings as `modules` (hex build ids
//!   decoded to bytes).
//!
//! # Writing
//!
//! Every value column becomes a sample type (`default_sample_type` the
//! default column); functions, locations and mappings are de-duplicated;
//! inline frames become extra lines of their caller's location; modules and
//! build ids (hex) become mappings; threads become labels (`pid` and
//! `thread` numeric, `thread_name` and `process_name` strings) besides the
//! samples' own labels. When
//! [`Meta::comm_root`](stackconv_model::Meta::comm_root) is set (perf
//! sources) the thread name is written as the root frame, as the folded
//! output shows it. Locations carry no addresses (the model has none).
//!
//! # Bad input
//!
//! Inflating streams and stops with [`Error::TooLarge`] past
//! [`ReadOptions::max_inflated_bytes`]. Samples are decoded one at a time
//! and folded as they come, so memory and work stay linear in the
//! inflated size (for adversarial input made only of tiny location
//! messages, up to a few tens of bytes per input byte: lower the limit for
//! untrusted input). Names are compared, simplified and matched against
//! `drop_frames` once per distinct string. Ids and string indexes are
//! checked ([`Error::LocationId`], [`Error::StringIndex`], ...); nested
//! protobuf groups hit prost's recursion limit; stacks may not expand
//! beyond a frame budget proportional to the input
//! ([`Error::TooManyFrames`]).
//!
//! # Example
//!
//! ```
//! use stackconv_model::{FrameKind, Profile, ValueType};
//!
//! let mut p = Profile::new(vec![ValueType::new("cpu", "nanoseconds")]);
//! let main = p.intern_frame_named("main", FrameKind::Native);
//! let work = p.intern_frame_named("work", FrameKind::Native);
//! let stack = p.intern_stack_frames([main, work]);
//! let thread = p.intern_thread(Default::default());
//! p.push_sample(stack, thread, None, &[10_000_000]);
//!
//! let mut bytes = Vec::new();
//! stackconv_pprof::write(&p, &mut bytes)?;
//! assert!(stackconv_pprof::looks_like(&bytes));
//!
//! let back = stackconv_pprof::read(&bytes, &stackconv_pprof::ReadOptions::default())?;
//! assert_eq!(back.total(0), 10_000_000);
//! assert_eq!(back.stack_names(back.samples().stacks()[0]), vec!["main", "work"]);
//! # Ok::<(), stackconv_pprof::Error>(())
//! ```
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::indexing_slicing))]
#![deny(missing_docs)]

mod error;
mod gzip;
mod names;
mod proto;
mod read;
mod wire;
mod write;

pub use error::Error;
pub use stackconv_model::Profile;

/// Options for [`read`].
#[non_exhaustive]
#[derive(Clone, Debug)]
pub struct ReadOptions {
    /// The largest inflated (decompressed) profile accepted, in bytes; a
    /// larger one (a gzip bomb) is rejected with [`Error::TooLarge`].
    /// Default 1 GiB.
    pub max_inflated_bytes: u64,
}

impl Default for ReadOptions {
    fn default() -> Self {
        ReadOptions {
            max_inflated_bytes: 1 << 30,
        }
    }
}

impl ReadOptions {
    /// Options with this inflated-size limit.
    pub fn with_max_inflated_bytes(mut self, max_inflated_bytes: u64) -> Self {
        self.max_inflated_bytes = max_inflated_bytes;
        self
    }
}

/// Read a gzipped or plain pprof profile.
///
/// See the [crate docs](crate) for how the profile maps onto the model.
///
/// # Errors
///
/// [`Error::Gzip`] for a corrupt gzip stream, [`Error::TooLarge`] when it
/// inflates past `opts.max_inflated_bytes`, [`Error::Malformed`] and
/// [`Error::Decode`] for bad protobuf (with the byte offset),
/// [`Error::StringIndex`], [`Error::LocationId`], [`Error::FunctionId`],
/// [`Error::MappingId`], [`Error::BadId`] for references that do not
/// resolve, [`Error::ValueCount`] for a sample with the wrong number of
/// values and [`Error::TooManyFrames`] for a stack bomb.
pub fn read(data: &[u8], opts: &ReadOptions) -> Result<Profile, Error> {
    read::read(data, opts)
}

/// Whether `prefix` (the first bytes of a file) looks like a pprof
/// profile: gzip whose inflated start is a plausible profile.proto, or a
/// plain protobuf whose complete fields are all `Profile` fields of the
/// right wire types (strict, so that text files are never claimed).
///
/// At least two fields must be complete in the (inflated) prefix; for
/// gzip, give a prefix of 1 KiB or more, since the first deflate block's
/// tables come before any data.
///
/// ```
/// assert!(!stackconv_pprof::looks_like(b"main;work 12\n"));
/// ```
pub fn looks_like(prefix: &[u8]) -> bool {
    if prefix.starts_with(&read::GZIP_MAGIC) {
        use std::io::Read;
        let mut decoder = flate2::read::GzDecoder::new(prefix);
        let mut start = Vec::new();
        let mut chunk = [0u8; 4096];
        // A prefix ends mid-stream: take what inflates before that.
        while start.len() < 4096 {
            match decoder.read(&mut chunk) {
                Ok(0) | Err(_) => break,
                Ok(n) => start.extend_from_slice(chunk.get(..n).unwrap_or_default()),
            }
        }
        return wire::prefix_is_profile(&start);
    }
    wire::prefix_is_profile(prefix)
}

/// Whether `prefix` (the first bytes of a file) is gzip whose start
/// inflates: a gzip header, then at least one byte of deflate data
/// without error. Whatever it holds, stackconv reads gzip only as pprof,
/// so such an input is best read as one, to report the protobuf error
/// (with its offset) when [`looks_like`] is false.
///
/// ```
/// assert!(!stackconv_pprof::is_gzip(b"main;work 12\n"));
/// assert!(!stackconv_pprof::is_gzip(b"\x1f\x8b\x08\x00garbage"));
/// ```
pub fn is_gzip(prefix: &[u8]) -> bool {
    use std::io::Read;
    if !prefix.starts_with(&read::GZIP_MAGIC) {
        return false;
    }
    let mut decoder = flate2::read::GzDecoder::new(prefix);
    let mut chunk = [0u8; 64];
    matches!(decoder.read(&mut chunk), Ok(n) if n > 0)
}

/// Write `p` as a gzipped pprof profile.
///
/// See the [crate docs](crate) for how the model maps onto profile.proto.
///
/// # Errors
///
/// [`Error::Io`] when writing to `out` fails.
pub fn write(p: &Profile, out: impl std::io::Write) -> Result<(), Error> {
    write::write(p, out)
}
