//! Firefox Profiler output for stackconv.
//!
//! [`write()`] turns a model profile into the Firefox Profiler's
//! *processed profile* JSON, built with the `fxprof-processed-profile`
//! crate (the one samply uses; pinned in the workspace). The file opens in
//! <https://profiler.firefox.com> and in the Perfetto UI.
//!
//! - One process per model pid (named by its process name; threads
//!   without a pid share one process with pid 0), one thread track per
//!   model thread, named by its thread name (`all` when it has none), the
//!   main thread (tid = pid) marked as such.
//! - Every model sample becomes one Firefox sample, in time order, with
//!   weight 1 (the Firefox Profiler's call tree counts samples, as it does
//!   for samply's profiles) and, as its CPU delta, the sample's value in
//!   the written column when that column is in nanoseconds (perf's
//!   cpu-clock period, a `.cpuprofile`'s time span), so the profiler's CPU
//!   graph shows CPU time. Samples whose written value is 0 (off-CPU
//!   samples of a perf recording, when the CPU column is written) count in
//!   the call tree but show no CPU use; their off-CPU duration is not
//!   carried (the format's sample weights are integer counts or whole
//!   milliseconds).
//! - Timestamps: the model's, relative to the first sample, with the
//!   recording's wall-clock start as the reference time when known.
//!   Without timestamps, samples are laid end to end, each as long as its
//!   value (1 ms per unit for a column that is not a time).
//! - Frames are labels (the model has names, not addresses, so there are no
//!   libraries or address ranges), with categories by kind: `Native`
//!   (native and inlined code), `Kernel`, `Python`, `JIT` and `Other`
//!   (unknown). Python and JIT frames are flagged as JS frames, so the
//!   profiler's "JavaScript only" view shows the script-level stacks.
//!
//! # Example
//!
//! ```
//! use stackconv_model::{FrameKind, Profile, ValueType};
//!
//! let mut p = Profile::new(vec![ValueType::new("cpu-clock", "nanoseconds")]);
//! let main = p.intern_frame_named("main", FrameKind::Native);
//! let work = p.intern_frame_named("work", FrameKind::Kernel);
//! let stack = p.intern_stack_frames([main, work]);
//! let thread = p.intern_thread_named(Some(7), Some(7), "app", "app");
//! p.push_sample(stack, thread, Some(1_000_000), &[1_000_000]);
//! p.push_sample(stack, thread, Some(2_000_000), &[1_000_000]);
//!
//! let mut json = Vec::new();
//! stackconv_firefox::write(&p, &stackconv_firefox::WriteOptions::default(), &mut json)?;
//! let v: serde_json::Value = serde_json::from_slice(&json).unwrap();
//! assert_eq!(v["threads"][0]["name"], "app");
//! assert_eq!(v["threads"][0]["samples"]["length"], 2);
//! # Ok::<(), stackconv_firefox::Error>(())
//! ```
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::indexing_slicing))]
#![deny(missing_docs)]

mod write;

pub use write::{write, WriteOptions};

/// Why a Firefox profile could not be written.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The value column to write does not exist.
    #[error("firefox: value column {column} asked for, but the profile has {columns}")]
    NoSuchValue {
        /// The column asked for.
        column: usize,
        /// How many value columns the profile has.
        columns: usize,
    },
    /// Serializing the profile failed (at the given JSON position, if any).
    #[error("firefox: writing JSON failed at line {line} column {column}: {source}")]
    Json {
        /// 1-based line of the output, 0 when unknown.
        line: usize,
        /// 1-based column of the output, 0 when unknown.
        column: usize,
        /// The JSON serializer's error (boxed: the serializer's error type
        /// is not part of this crate's API).
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// Writing failed.
    #[error("firefox: write failed: {0}")]
    Io(#[from] std::io::Error),
}
