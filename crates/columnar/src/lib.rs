//! Parquet and Arrow IPC tables of stackconv profiles, for the engines
//! that query fleets of profiles (DuckDB, Spark, pandas, Polars).
//!
//! A table has **one row per (input, thread, stack)** of folded profiles
//! (one per sample for a profile that is not folded; stackconv's command
//! folds, so samples' timestamps are not kept). Its columns:
//!
//! | column | type | what |
//! |---|---|---|
//! | `input` | utf8 | the input's path, as given |
//! | one per label key | utf8, nullable | `--label k=v`, `--label-from-path` groups |
//! | `pid`, `tid` | uint32, nullable | process and thread id |
//! | `process_name`, `thread_name` | utf8, nullable | the thread's process name and its own (comm) |
//! | `leaf` | utf8, nullable | the leaf function's name (null for an empty stack) |
//! | one per value type | int64, nullable | named by [`value_column_name`]: `cpu_clock_ns`, `samples`, `alloc_space_bytes`; field metadata `unit` (its unit) and `stackconv.kind` (its kind as recorded) |
//! | `stack` | `list<struct<name: utf8, module: utf8, file: utf8, line: uint32, kind: utf8>>` | the frames, root first; `kind` one of `native`, `kernel`, `python`, `jit`, `inline`, `unknown`; an unknown module, file or line is null |
//!
//! A value column an input does not have is null in its rows. Each input is
//! one Parquet row group (or one Arrow record batch), written as soon as it
//! is converted: [`Writer`] holds one input's rows at a time. The file's
//! metadata (`stackconv.inputs`, JSON) keeps what reading the file back
//! needs to give the same profiles ([`read`]): each input's value kinds as
//! recorded, its default value column, whether folded output puts the
//! thread's name at the root (perf inputs), its events and losses.
//! Parquet columns are zstd-compressed.
//!
//! In DuckDB:
//!
//! ```sql
//! SELECT leaf, sum(cpu_clock_ns) / 1e9 AS cpu_s FROM 'fleet.parquet'
//! GROUP BY leaf ORDER BY cpu_s DESC LIMIT 20;
//! ```
//!
//! # Example
//!
//! ```
//! use stackconv_columnar::{read, write, Format, Source};
//! use stackconv_model::{FrameKind, Profile, ValueType};
//!
//! let mut p = Profile::new(vec![ValueType::new("samples", "count")]);
//! let main = p.intern_frame_named("main", FrameKind::Native);
//! let work = p.intern_frame_named("work", FrameKind::Native);
//! let stack = p.intern_stack_frames([main, work]);
//! let thread = p.intern_thread_named(Some(1), Some(1), "app", "app");
//! p.push_sample(stack, thread, None, &[5]);
//!
//! let mut file = Vec::new();
//! write(&p, &Source::new("app.folded").with_label("host", "web-1"), Format::Parquet, &mut file)?;
//! let back = read(&file)?;
//! assert_eq!(back[0].profile.total(0), 5);
//! assert_eq!(back[0].profile.stack_names(back[0].profile.samples().stacks()[0]), ["main", "work"]);
//! # Ok::<(), stackconv_columnar::Error>(())
//! ```
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::indexing_slicing))]

mod error;
mod read;
mod schema;
mod thrift;
mod write;

use std::io::Write;

pub use arrow_array::RecordBatch;
pub use error::Error;
pub use read::{looks_like_arrow, looks_like_parquet, panic_is_caught_by_read, read, Input};
pub use schema::{value_column_name, value_column_names, FIXED_COLUMNS, KIND_KEY, UNIT_KEY};
use stackconv_model::Profile;
pub use write::{record_batch, Writer};

/// A columnar file format.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Format {
    /// Apache Parquet.
    Parquet,
    /// Arrow IPC file format (Feather v2).
    Arrow,
}

/// An input's path and labels: what its rows carry beside its profile.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Source {
    /// The input's path, as given.
    pub path: String,
    /// Labels (key, value), each key once.
    pub labels: Vec<(String, String)>,
}

impl Source {
    /// An input of this path, without labels.
    pub fn new(path: impl Into<String>) -> Self {
        Source {
            path: path.into(),
            labels: Vec::new(),
        }
    }

    /// With the label `key` = `value` (replacing an earlier value of
    /// `key`).
    ///
    /// ```
    /// let s = stackconv_columnar::Source::new("p").with_label("a", "1").with_label("a", "2");
    /// assert_eq!(s.labels, [("a".to_string(), "2".to_string())]);
    /// ```
    pub fn with_label(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        let (key, value) = (key.into(), value.into());
        match self.labels.iter_mut().find(|(k, _)| *k == key) {
            Some(slot) => slot.1 = value,
            None => self.labels.push((key, value)),
        }
        self
    }
}

/// Write one profile as a table of one input to `out`.
///
/// # Errors
///
/// As [`Writer::new`] and [`Writer::write`].
pub fn write(
    profile: &Profile,
    source: &Source,
    format: Format,
    out: impl Write,
) -> Result<(), Error> {
    let keys: Vec<String> = source.labels.iter().map(|(k, _)| k.clone()).collect();
    let mut w = Writer::new(format, out, &keys, profile.value_types())?;
    w.write(profile, source)?;
    w.finish()?;
    Ok(())
}
