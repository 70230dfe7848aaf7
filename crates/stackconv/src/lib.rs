//! stackconv: read any supported profile into one sample model, write it
//! to any supported output.
//!
//! This is the crate a library user depends on. It detects the input format
//! from the content (never from the file name), calls the reader of the
//! format crate, and writes a [`Profile`] as a flame graph SVG, folded text,
//! speedscope JSON, pprof, Firefox Profiler JSON, a Chrome `.cpuprofile`
//! or an HTML report.
//!
//! | input | detected by |
//! |---|---|
//! | perf.data (file or pipe mode) | `PERFILE2` magic |
//! | pprof (gzipped or plain profile.proto) | gzip magic / protobuf shape |
//! | speedscope JSON | its `$schema` |
//! | Chrome / Node `.cpuprofile` | a JSON object of `nodes` (with `callFrame`s) and `samples` |
//! | Parquet / Arrow IPC table ([`columnar`]) | `PAR1` / `ARROW1` magic |
//! | `perf script` text | event header lines and indented frame lines |
//! | py-spy raw | folded lines whose frames read `func (file:line)` |
//! | folded | `a;b;c 12` lines |
//!
//! # Example
//!
//! ```
//! use stackconv::{read_bytes, write, OutputFormat, ReadOptions, WriteOptions};
//!
//! let profile = read_bytes(b"main;work 3\nmain;idle 1\n", &ReadOptions::default())?;
//! assert_eq!(profile.total(0), 4);
//!
//! let mut folded = Vec::new();
//! write(&profile, OutputFormat::Folded, &WriteOptions::default(), &mut folded)?;
//! assert_eq!(String::from_utf8(folded).unwrap(), "main;idle 1\nmain;work 3\n");
//! # Ok::<(), stackconv::Error>(())
//! ```
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::indexing_slicing))]

mod csv;
mod diff;
#[cfg(feature = "parquet")]
mod fleet;
mod info;
mod output;
mod process;

use std::fmt;
use std::fs::File;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

pub use diff::{diff, write_diff, DiffOptions, DIFF_FORMATS};
#[cfg(feature = "parquet")]
pub use fleet::write_table;
pub use info::{Summary, ThreadSummary};
pub use output::{
    check_inputs, check_stdout, remove_temporary_files, remove_temporary_files_on_signals, Output,
};
pub use process::{as_folded, off_cpu_value, process, value_column, ProcessOptions, Processed};
pub use regex;
#[cfg(feature = "chrome")]
pub use stackconv_chrome as chrome;
pub use stackconv_collapsed as collapsed;
#[cfg(feature = "parquet")]
pub use stackconv_columnar as columnar;
#[cfg(feature = "firefox")]
pub use stackconv_firefox as firefox;
#[cfg(feature = "svg")]
pub use stackconv_flamegraph as flamegraph;
#[cfg(feature = "html")]
pub use stackconv_html as html;
pub use stackconv_model as model;
pub use stackconv_model::Profile;
pub use stackconv_ops as ops;
#[cfg(feature = "perf")]
pub use stackconv_perf as perf;
#[cfg(feature = "pprof")]
pub use stackconv_pprof as pprof;
#[cfg(feature = "speedscope")]
pub use stackconv_speedscope as speedscope;

/// An input format stackconv reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum InputFormat {
    /// `perf record` output, file or pipe mode.
    PerfData,
    /// `perf script` text.
    PerfScript,
    /// py-spy `--format raw`.
    PySpy,
    /// Folded stacks.
    Folded,
    /// pprof profile.proto, gzipped or plain.
    Pprof,
    /// speedscope JSON.
    Speedscope,
    /// Chrome / Node `.cpuprofile` JSON.
    ChromeCpuProfile,
    /// A Parquet table of profiles ([`columnar`]'s layout); its inputs
    /// are merged.
    Parquet,
    /// An Arrow IPC file of profiles ([`columnar`]'s layout); its inputs
    /// are merged.
    Arrow,
}

impl InputFormat {
    /// Every input format, in the order content detection tries them:
    /// binary magic first, then JSON by its keys, protobuf, and the text
    /// formats from the most specific shape to the least (folded).
    pub const ALL: [InputFormat; 9] = [
        InputFormat::PerfData,
        InputFormat::Parquet,
        InputFormat::Arrow,
        InputFormat::ChromeCpuProfile,
        InputFormat::Speedscope,
        InputFormat::Pprof,
        InputFormat::PerfScript,
        InputFormat::PySpy,
        InputFormat::Folded,
    ];

    /// The error for reading this format when its Cargo feature is off.
    #[allow(dead_code)] // with every feature on
    fn not_built_in(self) -> Error {
        let feature = match self {
            InputFormat::PerfData => "perf",
            InputFormat::Pprof => "pprof",
            InputFormat::Speedscope => "speedscope",
            InputFormat::ChromeCpuProfile => "chrome",
            InputFormat::Parquet | InputFormat::Arrow => "parquet",
            InputFormat::PerfScript | InputFormat::PySpy | InputFormat::Folded => "",
        };
        Error::NotBuiltIn {
            format: self.name(),
            feature,
        }
    }

    /// The format's name in messages (`perf.data`, `py-spy raw`).
    pub fn name(self) -> &'static str {
        match self {
            InputFormat::PerfData => "perf.data",
            InputFormat::PerfScript => "perf script",
            InputFormat::PySpy => "py-spy raw",
            InputFormat::Folded => "folded",
            InputFormat::Pprof => "pprof",
            InputFormat::Speedscope => "speedscope",
            InputFormat::ChromeCpuProfile => "cpuprofile",
            InputFormat::Parquet => "parquet",
            InputFormat::Arrow => "arrow",
        }
    }

    /// Whether `data` has this format's shape. A new format adds its
    /// variant, this arm and the one in [`read_bytes`] (neither match has
    /// a catch-all arm), and its place in [`InputFormat::ALL`].
    pub fn looks_like(self, data: &[u8]) -> bool {
        match self {
            #[cfg(feature = "perf")]
            InputFormat::PerfData => stackconv_perf::looks_like(data),
            // Told by its magic even when not built in, to say so.
            #[cfg(not(feature = "perf"))]
            InputFormat::PerfData => data.starts_with(b"PERFILE2") || data.starts_with(b"2ELIFREP"),
            // Told by their magic even when not built in, to say so.
            InputFormat::Parquet => data.starts_with(b"PAR1"),
            InputFormat::Arrow => data.starts_with(b"ARROW1"),
            #[cfg(feature = "chrome")]
            InputFormat::ChromeCpuProfile => stackconv_chrome::looks_like(data),
            #[cfg(feature = "speedscope")]
            InputFormat::Speedscope => stackconv_speedscope::looks_like(data),
            // gzip that inflates is read as pprof (the one gzipped format),
            // so that a damaged profile inside gets the protobuf error.
            #[cfg(feature = "pprof")]
            InputFormat::Pprof => {
                stackconv_pprof::looks_like(data) || stackconv_pprof::is_gzip(data)
            }
            InputFormat::PerfScript => stackconv_collapsed::perf_script::looks_like(data),
            InputFormat::PySpy => stackconv_collapsed::pyspy::looks_like(data),
            InputFormat::Folded => stackconv_collapsed::folded::looks_like(data),
            #[cfg(not(all(feature = "chrome", feature = "speedscope", feature = "pprof")))]
            _ => false,
        }
    }
}

impl fmt::Display for InputFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The names of the formats stackconv reads, for messages.
fn input_format_names() -> String {
    InputFormat::ALL.map(InputFormat::name).join(", ")
}

/// An output format stackconv writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum OutputFormat {
    /// SVG flame graph (inferno).
    Svg,
    /// Folded stacks, as inferno-collapse-perf writes them.
    Folded,
    /// speedscope JSON.
    Speedscope,
    /// gzipped pprof profile.proto.
    Pprof,
    /// Firefox Profiler processed JSON (gzipped for `.json.gz`).
    Firefox,
    /// Chrome / Node `.cpuprofile` JSON.
    ChromeCpuProfile,
    /// A self-contained interactive HTML report (stackconv-html).
    Html,
    /// CSV of function self weights, `function,self_weight`, heaviest first.
    Csv,
    /// A Parquet table, one row per thread and stack ([`columnar`]).
    Parquet,
    /// An Arrow IPC file (Feather v2) of the same table ([`columnar`]).
    Arrow,
}

/// What stackconv knows of an output format: one row of the output table.
#[derive(Clone, Copy, Debug)]
struct OutputRow {
    /// The `--to` name.
    name: &'static str,
    /// Other `--to` names.
    aliases: &'static [&'static str],
    /// File name endings that choose it (lowercase).
    extensions: &'static [&'static str],
    /// Shows samples in time order, so the profile is not folded first.
    time_order: bool,
    /// Shows source files and lines, so they are read (DWARF).
    source_lines: bool,
    /// Carries each sample's labels (pprof's), so samples of one stack
    /// with different labels are not folded together.
    labels: bool,
}

impl OutputFormat {
    /// Every output format, in the order help texts list them.
    pub const ALL: [OutputFormat; 10] = [
        OutputFormat::Svg,
        OutputFormat::Html,
        OutputFormat::Folded,
        OutputFormat::Speedscope,
        OutputFormat::Pprof,
        OutputFormat::Firefox,
        OutputFormat::ChromeCpuProfile,
        OutputFormat::Csv,
        OutputFormat::Parquet,
        OutputFormat::Arrow,
    ];

    /// The format's row of the output table. A new format adds its variant,
    /// this row (the match has no catch-all arm, so a forgotten row does not
    /// compile), its place in [`OutputFormat::ALL`] and its writer in
    /// [`write`].
    const fn row(self) -> OutputRow {
        match self {
            OutputFormat::Svg => OutputRow {
                name: "svg",
                aliases: &["flamegraph"],
                extensions: &[".svg"],
                time_order: false,
                source_lines: false,
                labels: false,
            },
            OutputFormat::Html => OutputRow {
                name: "html",
                aliases: &[],
                extensions: &[".html", ".htm"],
                time_order: false,
                source_lines: false,
                labels: false,
            },
            OutputFormat::Folded => OutputRow {
                name: "folded",
                aliases: &["collapsed"],
                extensions: &[".folded", ".txt", ".collapsed"],
                time_order: false,
                source_lines: false,
                labels: false,
            },
            OutputFormat::Speedscope => OutputRow {
                name: "speedscope",
                aliases: &["json"],
                extensions: &[".json", ".speedscope.json"],
                time_order: true,
                source_lines: true,
                labels: false,
            },
            OutputFormat::Pprof => OutputRow {
                name: "pprof",
                aliases: &["pb"],
                extensions: &[".pb.gz", ".pb", ".pprof", ".prof"],
                time_order: false,
                source_lines: true,
                labels: true,
            },
            OutputFormat::Firefox => OutputRow {
                name: "firefox",
                aliases: &["gecko"],
                extensions: &[".json.gz"],
                time_order: true,
                source_lines: false,
                labels: false,
            },
            OutputFormat::ChromeCpuProfile => OutputRow {
                name: "cpuprofile",
                aliases: &["chrome"],
                extensions: &[".cpuprofile"],
                time_order: true,
                source_lines: true,
                labels: false,
            },
            OutputFormat::Csv => OutputRow {
                name: "csv",
                aliases: &[],
                extensions: &[".csv"],
                time_order: false,
                source_lines: false,
                labels: false,
            },
            OutputFormat::Parquet => OutputRow {
                name: "parquet",
                aliases: &[],
                extensions: &[".parquet"],
                time_order: false,
                source_lines: true,
                labels: false,
            },
            OutputFormat::Arrow => OutputRow {
                name: "arrow",
                aliases: &["feather", "ipc"],
                extensions: &[".arrow", ".feather"],
                time_order: false,
                source_lines: true,
                labels: false,
            },
        }
    }

    /// The error for writing this format when its Cargo feature is off.
    #[allow(dead_code)] // with every feature on
    fn not_built_in(self) -> Error {
        let feature = match self {
            OutputFormat::Svg => "svg",
            OutputFormat::Html => "html",
            OutputFormat::Speedscope => "speedscope",
            OutputFormat::Pprof => "pprof",
            OutputFormat::Firefox => "firefox",
            OutputFormat::ChromeCpuProfile => "chrome",
            OutputFormat::Parquet | OutputFormat::Arrow => "parquet",
            OutputFormat::Folded | OutputFormat::Csv => "",
        };
        Error::NotBuiltIn {
            format: self.name(),
            feature,
        }
    }

    /// The name `--to` takes for this format.
    pub fn name(self) -> &'static str {
        self.row().name
    }

    /// Other names `--to` takes for this format.
    pub fn aliases(self) -> &'static [&'static str] {
        self.row().aliases
    }

    /// The file name endings that choose this format (`.svg`, `.pb.gz`).
    pub fn extensions(self) -> &'static [&'static str] {
        self.row().extensions
    }

    /// The format an output path's name ends in (the longest ending that
    /// matches, case-insensitively): `.svg`; `.html`, `.htm`; `.folded`,
    /// `.txt`; `.json`, `.speedscope.json`; `.pb.gz`, `.pb`, `.pprof`;
    /// `.json.gz` Firefox Profiler; `.cpuprofile` Chrome; `.parquet`;
    /// `.arrow`, `.feather`.
    ///
    /// ```
    /// use stackconv::OutputFormat;
    /// assert_eq!(OutputFormat::from_path("out.pb.gz".as_ref()), Some(OutputFormat::Pprof));
    /// assert_eq!(OutputFormat::from_path("x.speedscope.json".as_ref()), Some(OutputFormat::Speedscope));
    /// assert_eq!(OutputFormat::from_path("p.json.gz".as_ref()), Some(OutputFormat::Firefox));
    /// assert_eq!(OutputFormat::from_path("a.cpuprofile".as_ref()), Some(OutputFormat::ChromeCpuProfile));
    /// assert_eq!(OutputFormat::from_path("report.HTML".as_ref()), Some(OutputFormat::Html));
    /// assert_eq!(OutputFormat::from_path("fleet.parquet".as_ref()), Some(OutputFormat::Parquet));
    /// assert_eq!(OutputFormat::from_path("x.png".as_ref()), None);
    /// ```
    pub fn from_path(path: &Path) -> Option<OutputFormat> {
        let name = path.file_name()?.to_str()?.to_ascii_lowercase();
        OutputFormat::ALL
            .into_iter()
            .flat_map(|f| f.extensions().iter().map(move |e| (f, *e)))
            .filter(|(_, e)| name.ends_with(e))
            .max_by_key(|(_, e)| e.len())
            .map(|(f, _)| f)
    }

    /// The format named by `--to`: its [`name`](Self::name) or an alias.
    ///
    /// ```
    /// use stackconv::OutputFormat;
    /// assert_eq!(OutputFormat::from_name("flamegraph"), Some(OutputFormat::Svg));
    /// assert_eq!(OutputFormat::from_name("png"), None);
    /// ```
    pub fn from_name(name: &str) -> Option<OutputFormat> {
        OutputFormat::ALL
            .into_iter()
            .find(|f| f.name() == name || f.aliases().contains(&name))
    }

    /// Whether this output shows samples in time order (and so must not be
    /// folded before writing).
    pub fn keeps_time_order(self) -> bool {
        self.row().time_order
    }

    /// Whether this output carries each sample's labels (pprof's), so
    /// that samples are not folded before it.
    ///
    /// ```
    /// use stackconv::OutputFormat;
    /// assert!(OutputFormat::Pprof.keeps_labels());
    /// assert!(!OutputFormat::Svg.keeps_labels());
    /// ```
    pub fn keeps_labels(self) -> bool {
        self.row().labels
    }

    /// Whether this output shows source files and lines, so that readers
    /// should find them (DWARF); outputs of function names are made sooner
    /// without.
    pub fn shows_source_lines(self) -> bool {
        self.row().source_lines
    }
}

impl fmt::Display for OutputFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Why reading or writing failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The input has no bytes at all (a recording that never started, a
    /// copy that failed): said apart from content of an unknown format.
    #[error("empty input (0 bytes): not a profile")]
    EmptyInput,
    /// The content matched no format stackconv reads.
    #[error("not a profile stackconv reads ({}){}", input_format_names(), binary_note(*.binary_at))]
    UnknownFormat {
        /// The offset of the first NUL byte when the input looks binary.
        binary_at: Option<usize>,
    },
    /// perf.data.
    #[error(transparent)]
    #[cfg(feature = "perf")]
    Perf(#[from] stackconv_perf::Error),
    /// Folded, perf script or py-spy text.
    #[error(transparent)]
    Collapsed(#[from] stackconv_collapsed::Error),
    /// pprof.
    #[error(transparent)]
    #[cfg(feature = "pprof")]
    Pprof(#[from] stackconv_pprof::Error),
    /// speedscope.
    #[error(transparent)]
    #[cfg(feature = "speedscope")]
    Speedscope(#[from] stackconv_speedscope::Error),
    /// Chrome `.cpuprofile`.
    #[error(transparent)]
    #[cfg(feature = "chrome")]
    Chrome(#[from] stackconv_chrome::Error),
    /// A Parquet or Arrow table.
    #[error(transparent)]
    #[cfg(feature = "parquet")]
    Columnar(#[from] stackconv_columnar::Error),
    /// Firefox Profiler output.
    #[error(transparent)]
    #[cfg(feature = "firefox")]
    Firefox(#[from] stackconv_firefox::Error),
    /// The flame graph.
    #[error(transparent)]
    #[cfg(feature = "svg")]
    Flamegraph(#[from] stackconv_flamegraph::Error),
    /// Two profiles could not be diffed: their weights together pass
    /// 2^63-1.
    #[error(transparent)]
    Diff(#[from] stackconv_model::DiffError),
    /// A value column or event was asked for (`--value`, `--event`) that
    /// names no column of the profile, or more than one.
    #[error(transparent)]
    NoSuchValue(#[from] stackconv_model::ValueNameError),
    /// Off-CPU time was asked for (`--off-cpu`) but the profile has none.
    #[error(
        "no off-CPU time in this profile (it has: {}); record it with \
         `perf record -g -e sched:sched_switch -c 1 --switch-events` (or `perf record --off-cpu`)",
        have.join(", ")
    )]
    NoOffCpu {
        /// The value columns there are.
        have: Vec<String>,
    },
    /// An input of unknown size (standard input, a pipe, a device) holds
    /// more than [`ReadOptions::max_input_bytes`].
    #[error("input larger than {limit} bytes (the limit on standard input, pipes and devices), not read")]
    InputTooLarge {
        /// The limit in force, in bytes.
        limit: u64,
    },
    /// The memory to hold an input could not be had.
    #[error("out of memory after reading {read} bytes of the input")]
    OutOfMemory {
        /// How many bytes were read.
        read: u64,
    },
    /// The weights of a value column add up past 64 bits (2^63-1): a
    /// damaged or hostile input, refused rather than summed wrongly.
    #[error("the weights of value column {column:?} add up past 2^63-1")]
    WeightOverflow {
        /// The column's kind.
        column: String,
    },
    /// A diff was to be written in a format that has no differential form
    /// (see [`DIFF_FORMATS`]).
    #[error("a diff is written as svg, html, folded or pprof, not {format}")]
    NotForDiffs {
        /// The format asked for.
        format: OutputFormat,
    },
    /// The format's Cargo feature was off when this stackconv was built.
    #[error("{format} is not built into this stackconv (Cargo feature `{feature}` of the stackconv crate)")]
    NotBuiltIn {
        /// The format.
        format: &'static str,
        /// The feature that brings it in.
        feature: &'static str,
    },
    /// Reading or writing failed.
    #[error("{0}")]
    Io(#[from] io::Error),
    /// An error about one file.
    #[error("{}: {source}", path.display())]
    File {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        #[source]
        source: Box<Error>,
    },
    /// Standard input (`-`) was given as an input more than once.
    #[error("standard input (-) is given as an input more than once; it can be read only once")]
    StdinTwice,
    /// The output is the same file as an input (same device and inode).
    #[error("is also an input ({}): writing it would destroy that input", input.display())]
    OutputIsInput {
        /// The input, as given.
        input: PathBuf,
    },
    /// The output names a directory.
    #[error("is a directory; the output must name a file")]
    OutputIsDirectory,
    /// No file can be created in the output's directory.
    #[error("cannot create a file in {}: {source}", dir.display())]
    CannotCreate {
        /// The directory.
        dir: PathBuf,
        /// What went wrong.
        #[source]
        source: io::Error,
    },
    /// Standard output was closed when stackconv started (`1>&-`).
    #[error("standard output is closed")]
    StdoutClosed,
    /// Writing standard output failed.
    #[error("standard output: {0}")]
    Stdout(#[source] Box<Error>),
}

fn binary_note(at: Option<usize>) -> String {
    at.map(|o| format!(": binary data (a NUL byte at byte {o})"))
        .unwrap_or_default()
}

/// Where in an input an [`Error`] is: what [`Error::location`] returns.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Location {
    /// A byte offset (perf.data; pprof, counted in the inflated bytes).
    Byte(u64),
    /// A 1-based line (folded, `perf script`, py-spy raw).
    Line(u64),
    /// A 1-based line and column (malformed JSON).
    LineColumn {
        /// The line.
        line: u64,
        /// The column.
        column: u64,
    },
    /// The path of a JSON value (`samples[17]`, `profiles[0].events[3]`).
    JsonPath(String),
    /// A sample, counted from 0 in time order as `perf script` lists them
    /// (perf.data, whose records carry no byte offset once sorted).
    Sample(u64),
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Location::Byte(offset) => write!(f, "byte {offset}"),
            Location::Line(line) => write!(f, "line {line}"),
            Location::LineColumn { line, column } => write!(f, "line {line} column {column}"),
            Location::JsonPath(path) => f.write_str(path),
            Location::Sample(n) => write!(f, "sample {n}"),
        }
    }
}

impl Error {
    /// Where in the input the error is, when it says: the byte offset,
    /// line or JSON path of the format reader's error, looked up through
    /// [`Error::File`] and [`Error::Stdout`].
    ///
    /// ```
    /// use stackconv::{read_bytes, Location, ReadOptions};
    ///
    /// let e = read_bytes(b"main;a 1\nmain;b x\n", &ReadOptions::default()).unwrap_err();
    /// assert_eq!(e.location(), Some(Location::Line(2)));
    /// ```
    pub fn location(&self) -> Option<Location> {
        let size = |n: usize| u64::try_from(n).unwrap_or(u64::MAX);
        match self {
            Error::File { source, .. } | Error::Stdout(source) => source.location(),
            Error::UnknownFormat { binary_at } => binary_at.map(|at| Location::Byte(size(at))),
            Error::EmptyInput => Some(Location::Byte(0)),
            #[cfg(feature = "perf")]
            Error::Perf(e) => e
                .offset()
                .map(Location::Byte)
                .or_else(|| e.sample().map(Location::Sample)),
            Error::Collapsed(e) => Some(Location::Line(e.line())),
            #[cfg(feature = "pprof")]
            Error::Pprof(e) => e.offset().map(Location::Byte),
            #[cfg(feature = "speedscope")]
            Error::Speedscope(stackconv_speedscope::Error::Json { line, column, .. }) => {
                Some(Location::LineColumn {
                    line: size(*line),
                    column: size(*column),
                })
            }
            #[cfg(feature = "speedscope")]
            Error::Speedscope(e) => e.json_path().map(Location::JsonPath),
            #[cfg(feature = "chrome")]
            Error::Chrome(stackconv_chrome::Error::Json { line, column, .. }) => {
                Some(Location::LineColumn {
                    line: size(*line),
                    column: size(*column),
                })
            }
            #[cfg(feature = "chrome")]
            Error::Chrome(e) => e.json_path().map(Location::JsonPath),
            // The parquet and arrow readers do not say where.
            #[cfg(feature = "parquet")]
            Error::Columnar(_) => None,
            // Outputs, options and the file system: no place in an input.
            #[cfg(feature = "firefox")]
            Error::Firefox(_) => None,
            #[cfg(feature = "svg")]
            Error::Flamegraph(_) => None,
            Error::NoSuchValue(_)
            | Error::Diff(_)
            | Error::NoOffCpu { .. }
            | Error::InputTooLarge { .. }
            | Error::OutOfMemory { .. }
            | Error::NotBuiltIn { .. }
            | Error::NotForDiffs { .. }
            | Error::WeightOverflow { .. }
            | Error::Io(_)
            | Error::StdinTwice
            | Error::OutputIsInput { .. }
            | Error::OutputIsDirectory
            | Error::CannotCreate { .. }
            | Error::StdoutClosed => None,
        }
    }

    fn in_file(self, path: &Path) -> Error {
        Error::File {
            path: path.to_path_buf(),
            source: Box::new(self),
        }
    }
}

/// How to read inputs.
#[derive(Clone, Debug, Default)]
#[non_exhaustive]
pub struct ReadOptions {
    /// Symbolization and perf.data options.
    #[cfg(feature = "perf")]
    pub perf: stackconv_perf::ReadOptions,
    /// pprof options.
    #[cfg(feature = "pprof")]
    pub pprof: stackconv_pprof::ReadOptions,
    /// Skip detection and read this format.
    pub format: Option<InputFormat>,
    /// Fold the samples: one row per distinct (stack, thread), values
    /// summed, no timestamps ([`Profile::into_folded`]). For outputs
    /// without time order (flame graphs, folded text, pprof, top lists,
    /// diffs). perf.data is folded while it is read, so memory grows with
    /// its distinct stacks, not with its samples; other formats are folded
    /// once read; per-sample labels (pprof's) are dropped. Default `false`
    /// (the CLI folds perf.data whenever its output and filters need no
    /// time order).
    ///
    /// ```
    /// let mut opts = stackconv::ReadOptions::default();
    /// opts.fold = true;
    /// let p = stackconv::read_bytes(b"main;a 1\nmain;b 2\nmain;a 3\n", &opts)?;
    /// assert_eq!(p.samples().len(), 2);
    /// assert_eq!(p.total(0), 6);
    /// # Ok::<(), stackconv::Error>(())
    /// ```
    pub fold: bool,
    /// The most bytes compressed data in one input (zstd records of
    /// perf.data, gzip of pprof) may decompress to; more is an error.
    /// `None`: [`default_max_decompressed`] of the input's size. It
    /// replaces `pprof.max_inflated_bytes`, and `perf.max_decompressed_bytes`
    /// when that is `None`.
    pub max_decompressed_bytes: Option<u64>,
    /// The most bytes read from an input whose size is not known in
    /// advance (standard input, a pipe, a device such as `/dev/zero`);
    /// more is [`Error::InputTooLarge`]. `None`: [`DEFAULT_MAX_INPUT`].
    /// Regular files are mapped, not read, and have no such limit.
    pub max_input_bytes: Option<u64>,
}

impl ReadOptions {
    /// The options `stackconv IN -o OUT` reads with when OUT is `format`
    /// (before its command-line options): source lines (DWARF) only when
    /// the output shows them ([`OutputFormat::shows_source_lines`]),
    /// perf.data folded while read when the output keeps no time order
    /// ([`OutputFormat::keeps_time_order`]), and every format folded
    /// ([`ReadOptions::fold`]) when the output keeps neither time order nor
    /// labels ([`OutputFormat::keeps_labels`]). A flame graph is then drawn
    /// sooner and in less memory than with [`ReadOptions::default`], which
    /// keeps everything.
    ///
    /// ```
    /// use stackconv::{OutputFormat, ReadOptions};
    /// let svg = ReadOptions::for_output(OutputFormat::Svg);
    /// assert!(svg.perf.fold && !svg.perf.symbols.lines);
    /// let speedscope = ReadOptions::for_output(OutputFormat::Speedscope);
    /// assert!(!speedscope.perf.fold, "speedscope shows samples in time order");
    /// assert!(svg.fold && !ReadOptions::for_output(OutputFormat::Pprof).fold);
    /// ```
    pub fn for_output(format: OutputFormat) -> ReadOptions {
        // Folding loses only time order and labels.
        #[cfg_attr(not(feature = "perf"), allow(unused_mut))]
        let mut opts = ReadOptions {
            fold: !format.keeps_time_order() && !format.keeps_labels(),
            ..ReadOptions::default()
        };
        #[cfg(feature = "perf")]
        {
            opts.perf.symbols.lines = format.shows_source_lines();
            opts.perf.fold = !format.keeps_time_order();
        }
        opts
    }
}

/// The default of [`ReadOptions::max_input_bytes`]: 4 GiB, more than any
/// profile piped in practice, and a bound on what `/dev/zero` or an endless
/// pipe can make stackconv hold.
pub const DEFAULT_MAX_INPUT: u64 = 4 << 30;

/// The decompressed-size limit of an input of `input_len` bytes when none
/// is given: 64 times its size and at least 256 MiB (see
/// [`stackconv_model::limits::default_max_decompressed`] for why), for
/// perf.data and pprof alike.
///
/// ```
/// assert_eq!(stackconv::default_max_decompressed(10), 256 << 20);
/// ```
pub fn default_max_decompressed(input_len: u64) -> u64 {
    stackconv_model::limits::default_max_decompressed(input_len)
}

/// Detect the format of `data` from its content.
///
/// ```
/// use stackconv::{detect, InputFormat};
/// assert_eq!(detect(b"a;b 1\n"), Some(InputFormat::Folded));
/// assert_eq!(detect(b"PERFILE2"), Some(InputFormat::PerfData));
/// assert_eq!(detect(b"\x00\x01\x02"), None);
/// ```
pub fn detect(data: &[u8]) -> Option<InputFormat> {
    InputFormat::ALL.into_iter().find(|f| f.looks_like(data))
}

/// Read a profile from bytes, detecting its format.
///
/// # Errors
///
/// [`Error::UnknownFormat`] when no format matches, or the reader's error.
pub fn read_bytes(data: &[u8], opts: &ReadOptions) -> Result<Profile, Error> {
    let format = match opts.format.or_else(|| detect(data)) {
        Some(f) => f,
        // Text that matches no shape as a whole: read it as folded, the
        // simplest text format, whose reader names the first bad line
        // (a user's folded file with one broken line gets "line N: ..."
        // rather than "unknown format").
        None if data.is_empty() => return Err(Error::EmptyInput),
        None if memchr_nul(data).is_none() => InputFormat::Folded,
        None => {
            return Err(Error::UnknownFormat {
                binary_at: memchr_nul(data),
            })
        }
    };
    let max_decompressed = opts
        .max_decompressed_bytes
        .unwrap_or_else(|| default_max_decompressed(u64::try_from(data.len()).unwrap_or(u64::MAX)));
    let _ = max_decompressed; // unused when no compressed format is built in
    let profile = match format {
        #[cfg(feature = "perf")]
        InputFormat::PerfData => stackconv_perf::read(data, &perf_options(opts, max_decompressed))?,
        InputFormat::PerfScript => stackconv_collapsed::perf_script::read(data)?,
        InputFormat::PySpy => stackconv_collapsed::pyspy::read(data)?,
        InputFormat::Folded => stackconv_collapsed::folded::read(data)?,
        #[cfg(feature = "pprof")]
        InputFormat::Pprof => {
            let pprof_opts = opts.pprof.clone().with_max_inflated_bytes(max_decompressed);
            stackconv_pprof::read(data, &pprof_opts)?
        }
        #[cfg(feature = "speedscope")]
        InputFormat::Speedscope => stackconv_speedscope::read(data)?,
        #[cfg(feature = "chrome")]
        InputFormat::ChromeCpuProfile => stackconv_chrome::read(data)?,
        #[cfg(feature = "parquet")]
        InputFormat::Parquet | InputFormat::Arrow => fleet::read_merged(data)?,
        #[cfg(not(all(
            feature = "perf",
            feature = "pprof",
            feature = "speedscope",
            feature = "chrome",
            feature = "parquet"
        )))]
        other => return Err(other.not_built_in()),
    };
    // perf.data was folded as it was read.
    checked(profile, opts.fold && format != InputFormat::PerfData)
}

/// `profile`, folded when `fold`, once every column's weights are known to add up within 64
/// bits, whatever the format claimed: what comes after (folding, merging,
/// totals, the SVG's widths) can then add without overflow.
fn checked(profile: Profile, fold: bool) -> Result<Profile, Error> {
    for (column, vt) in profile.value_types().iter().enumerate() {
        if profile.checked_total(column).is_none() {
            return Err(Error::WeightOverflow {
                column: vt.kind.clone(),
            });
        }
    }
    if fold {
        return Ok(profile.into_folded());
    }
    Ok(profile)
}

/// The perf reader's options, with the decompression limit decided.
#[cfg(feature = "perf")]
fn perf_options(opts: &ReadOptions, max_decompressed: u64) -> stackconv_perf::ReadOptions {
    let mut perf_opts = opts.perf.clone();
    perf_opts.max_decompressed_bytes = perf_opts.max_decompressed_bytes.or(Some(max_decompressed));
    perf_opts.fold |= opts.fold;
    perf_opts
}

fn memchr_nul(data: &[u8]) -> Option<usize> {
    data.iter().take(64 * 1024).position(|&b| b == 0)
}

/// How many bytes [`read_from`] reads before choosing a format.
const HEAD_BYTES: u64 = 64 * 1024;

/// Read a profile from a reader (standard input, a pipe, a socket, a
/// decompressing reader), detecting its format from its first 64 KiB.
///
/// The line formats (folded, py-spy raw, `perf script` text) are read a
/// line at a time, never held whole; with [`ReadOptions::fold`], folded
/// and py-spy lines are counted per distinct stack as they are read, so
/// memory grows with the distinct stacks, not with the input. Other
/// formats are read to their end first (at most
/// [`ReadOptions::max_input_bytes`]), then parsed as [`read_bytes`]
/// parses them. The same profile as [`read_bytes`] on the same bytes.
///
/// ```
/// let text = "main;work 3\nmain;idle 1\nmain;work 2\n";
/// let mut opts = stackconv::ReadOptions::default();
/// opts.fold = true;
/// let p = stackconv::read_from(text.as_bytes(), &opts)?;
/// assert_eq!((p.samples().len(), p.total(0)), (2, 6));
/// # Ok::<(), stackconv::Error>(())
/// ```
///
/// # Errors
///
/// As [`read_bytes`]; [`Error::InputTooLarge`] past
/// [`ReadOptions::max_input_bytes`]; [`Error::Io`] for a read that fails.
pub fn read_from(input: impl Read, opts: &ReadOptions) -> Result<Profile, Error> {
    let limit = opts.max_input_bytes.unwrap_or(DEFAULT_MAX_INPUT);
    // One byte past the limit tells a too-large input from one of exactly
    // `limit` bytes.
    let mut input = input.take(limit.saturating_add(1));
    let head = read_bounded((&mut input).take(HEAD_BYTES), HEAD_BYTES)?;
    let format = opts.format.or_else(|| detect(&head));
    let line_format = match format {
        Some(f @ (InputFormat::Folded | InputFormat::PySpy | InputFormat::PerfScript)) => f,
        _ => {
            let data = read_bounded(io::Cursor::new(head).chain(input), limit)?;
            return read_bytes(&data, opts);
        }
    };
    let lines = io::BufReader::with_capacity(1 << 20, io::Cursor::new(head).chain(&mut input));
    let read = match line_format {
        InputFormat::Folded => stackconv_collapsed::folded::read_from(lines, opts.fold),
        InputFormat::PySpy => stackconv_collapsed::pyspy::read_from(lines, opts.fold),
        _ => stackconv_collapsed::perf_script::read_from(lines),
    };
    // Cut at the limit, the last line may be a broken one: the limit is
    // the error to report.
    if input.limit() == 0 {
        return Err(Error::InputTooLarge { limit });
    }
    // Folded and py-spy lines were folded as they were read.
    checked(read?, opts.fold && line_format == InputFormat::PerfScript)
}

/// Read a profile from a file, or from standard input when `path` is `-`.
/// Errors name the file.
///
/// # Errors
///
/// [`Error::File`] wrapping what went wrong.
pub fn read_path(path: &Path, opts: &ReadOptions) -> Result<Profile, Error> {
    // Standard input is streamed ([`read_from`]); a file is mapped, so its
    // bytes are in the page cache rather than the heap.
    read_path_inner(path, opts).map_err(|e| e.in_file(path))
}

fn read_path_inner(path: &Path, opts: &ReadOptions) -> Result<Profile, Error> {
    let limit = opts.max_input_bytes.unwrap_or(DEFAULT_MAX_INPUT);
    if path.as_os_str() == "-" {
        return read_from(io::stdin().lock(), opts);
    }
    let file = File::open(path)?;
    let data = map_file(&file, limit)?;
    // A mapped perf.data is read by its reader from the file, which gives
    // the pages back as it goes: memory then does not grow with the file.
    #[cfg(feature = "perf")]
    if matches!(data, FileBytes::Mapped(_))
        && opts.format.or_else(|| detect(&data)) == Some(InputFormat::PerfData)
    {
        let len = data.len() as u64;
        drop(data);
        let max = opts
            .max_decompressed_bytes
            .unwrap_or_else(|| default_max_decompressed(len));
        return checked(
            stackconv_perf::read_file(&file, &perf_options(opts, max))?,
            false,
        );
    }
    read_bytes(&data, opts)
}

/// Read `input` to its end, at most `limit` bytes; growing the buffer
/// fallibly, so that a machine short of memory gives an error, not an
/// abort.
fn read_bounded(input: impl Read, limit: u64) -> Result<Vec<u8>, Error> {
    // `data[..filled]` is the input read so far, the rest zeroed room.
    let mut data: Vec<u8> = Vec::new();
    let mut filled = 0usize;
    // One byte past the limit tells a too-large input from one of exactly
    // `limit` bytes.
    let mut input = input.take(limit.saturating_add(1));
    loop {
        if filled == data.len() {
            let more = data.len().clamp(64 * 1024, 256 << 20);
            data.try_reserve_exact(more)
                .map_err(|_| Error::OutOfMemory {
                    read: u64::try_from(filled).unwrap_or(u64::MAX),
                })?;
            data.resize(data.len().saturating_add(more), 0);
        }
        let n = match input.read(data.get_mut(filled..).unwrap_or_default()) {
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(Error::Io(e)),
        };
        if n == 0 {
            break;
        }
        filled = filled.saturating_add(n);
    }
    data.truncate(filled);
    if u64::try_from(filled).unwrap_or(u64::MAX) > limit {
        return Err(Error::InputTooLarge { limit });
    }
    Ok(data)
}

/// The bytes of a file: memory-mapped when possible, read otherwise.
enum FileBytes {
    Mapped(memmap2::Mmap),
    Read(Vec<u8>),
}

impl std::ops::Deref for FileBytes {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        match self {
            FileBytes::Mapped(m) => m,
            FileBytes::Read(v) => v,
        }
    }
}

fn map_file(file: &File, limit: u64) -> Result<FileBytes, Error> {
    let meta = file.metadata()?;
    let len = meta.len();
    if len > 0 && meta.is_file() {
        #[allow(unsafe_code)]
        // SAFETY: the map is read-only and lives only while this input is
        // parsed; profiles are not rewritten while stackconv reads them (a
        // file truncated under us could fault, as with any mmap reader such as
        // ripgrep; the read fallback covers files that cannot be mapped).
        // Not populated: detection reads a few bytes, and perf.data is
        // read from the file again by its reader (see below).
        let mapped = unsafe { memmap2::MmapOptions::new().map(file) };
        if let Ok(m) = mapped {
            return Ok(FileBytes::Mapped(m));
        }
    }
    // A FIFO, a device (`/dev/zero`), a file that cannot be mapped: its
    // size may say nothing, so read at most the limit. A regular file
    // that could not be mapped has a known size: allow all of it.
    let limit = if meta.is_file() {
        limit.max(len)
    } else {
        limit
    };
    Ok(FileBytes::Read(read_bounded(file, limit)?))
}

/// The directory where `stackconv record` keeps the perf maps of
/// `recording`: `RECORDING.maps` beside it.
///
/// ```
/// use std::path::Path;
/// assert_eq!(stackconv::maps_dir_of(Path::new("/a/out.perf.data")), Path::new("/a/out.perf.data.maps"));
/// ```
pub fn maps_dir_of(recording: &Path) -> PathBuf {
    let mut s = recording.as_os_str().to_owned();
    s.push(".maps");
    PathBuf::from(s)
}

/// Without a perf map directory in `opts`, use the perf maps kept beside
/// the first of `inputs` that has them ([`maps_dir_of`]), as `stackconv
/// record` leaves them.
pub fn maps_beside(opts: &mut ReadOptions, inputs: &[PathBuf]) {
    let _ = (&opts, inputs); // unused without the perf feature
    #[cfg(feature = "perf")]
    {
        let sym = &mut opts.perf.symbols;
        if sym.perf_map_dir.is_some() {
            return;
        }
        sym.perf_map_dir = inputs.iter().map(|i| maps_dir_of(i)).find(|d| d.is_dir());
    }
}

/// The default title of an HTML report of `inputs`: their file names
/// (`stackconv: a.data, b.data`).
///
/// ```
/// use std::path::PathBuf;
/// let inputs = [PathBuf::from("/x/a.data"), PathBuf::from("b.pb.gz")];
/// assert_eq!(stackconv::report_title(&inputs), "stackconv: a.data, b.pb.gz");
/// ```
pub fn report_title(inputs: &[PathBuf]) -> String {
    let names: Vec<String> = inputs
        .iter()
        .map(|p| {
            p.file_name().map_or_else(
                || p.display().to_string(),
                |n| n.to_string_lossy().into_owned(),
            )
        })
        .collect();
    format!("stackconv: {}", names.join(", "))
}

/// The SVG title of graphs of off-CPU time (`--off-cpu`).
pub const OFF_CPU_TITLE: &str = "Off-CPU Time Flame Graph";

/// How to write outputs.
#[derive(Clone, Debug, Default)]
#[non_exhaustive]
pub struct WriteOptions {
    /// Folded output (also the text the SVG is drawn from).
    pub folded: stackconv_collapsed::folded::WriteOptions,
    /// SVG output.
    #[cfg(feature = "svg")]
    pub svg: stackconv_flamegraph::SvgOptions,
    /// speedscope output.
    #[cfg(feature = "speedscope")]
    pub speedscope: stackconv_speedscope::WriteOptions,
    /// Firefox Profiler output (`gzip` for `.json.gz`).
    #[cfg(feature = "firefox")]
    pub firefox: stackconv_firefox::WriteOptions,
    /// Chrome `.cpuprofile` output.
    #[cfg(feature = "chrome")]
    pub chrome: stackconv_chrome::WriteOptions,
    /// HTML report.
    #[cfg(feature = "html")]
    pub html: stackconv_html::HtmlOptions,
    /// The input path and labels of a Parquet or Arrow table's rows (of
    /// one profile; [`write_table`] writes many).
    #[cfg(feature = "parquet")]
    pub columnar: stackconv_columnar::Source,
}

/// Write `profile` as `format` to `out`.
///
/// # Errors
///
/// The writer's error, or [`Error::Io`].
pub fn write(
    profile: &Profile,
    format: OutputFormat,
    opts: &WriteOptions,
    out: impl Write,
) -> Result<(), Error> {
    let mut out = io::BufWriter::with_capacity(256 * 1024, out);
    match format {
        OutputFormat::Folded => {
            stackconv_collapsed::folded::write(profile, &opts.folded, &mut out)?
        }
        #[cfg(feature = "svg")]
        OutputFormat::Svg => {
            let mut svg = opts.svg.clone();
            let column = opts.folded.value.unwrap_or(profile.meta().default_value);
            // A profile without value columns (a pprof message with no
            // sample types, such as the two bytes `PE`) has nothing to
            // draw: say so, not that the folded writer lacks column 0.
            if profile.value_types().is_empty() {
                return Err(stackconv_flamegraph::Error::Empty.into());
            }
            // The graph is drawn from folded text without the subtrees too
            // narrow to be drawn (the same picture, from far less text).
            // Checked: a total beyond 64 bits is an error, not a graph of
            // saturated (or wrapped) widths.
            stackconv_collapsed::folded::checked_total(profile, column)?;
            let drawn: u64 = profile
                .samples()
                .stacks()
                .iter()
                .zip(
                    profile
                        .samples()
                        .values()
                        .get(column)
                        .map_or(&[][..], |v| v),
                )
                .filter(|(s, _)| s.is_some())
                .map(|(_, &v)| u64::try_from(v).unwrap_or(0))
                .try_fold(0u64, u64::checked_add)
                .ok_or_else(|| {
                    io::Error::new(io::ErrorKind::InvalidData, "total weight overflows 64 bits")
                })?;
            let min_weight = stackconv_flamegraph::min_drawn_weight(drawn, svg.min_width_percent);
            let mut folded = Vec::new();
            svg.presorted = stackconv_collapsed::prune::write_pruned(
                profile,
                &opts.folded,
                min_weight,
                &mut folded,
            )?;
            if let Some(vt) = profile.value_types().get(column) {
                if svg.count_name == stackconv_flamegraph::SvgOptions::default().count_name {
                    svg.count_name = count_name(&vt.unit);
                }
                if svg.subtitle.is_none() {
                    svg.subtitle = Some(format!(
                        "{}: {} {} in all",
                        vt.kind,
                        profile.total(column),
                        vt.unit
                    ));
                }
            }
            stackconv_flamegraph::write_svg(profile, &folded, &svg, &mut out)?;
        }
        #[cfg(feature = "speedscope")]
        OutputFormat::Speedscope => {
            stackconv_speedscope::write(profile, &opts.speedscope, &mut out)?
        }
        #[cfg(feature = "pprof")]
        OutputFormat::Pprof => stackconv_pprof::write(profile, &mut out)?,
        #[cfg(feature = "firefox")]
        OutputFormat::Firefox => stackconv_firefox::write(profile, &opts.firefox, &mut out)?,
        #[cfg(feature = "chrome")]
        OutputFormat::ChromeCpuProfile => stackconv_chrome::write(profile, &opts.chrome, &mut out)?,
        #[cfg(feature = "html")]
        OutputFormat::Html => stackconv_html::write_html(profile, &opts.html, &mut out)?,
        OutputFormat::Csv => {
            let column = opts.folded.value.unwrap_or(profile.meta().default_value);
            csv::write(profile, column, &mut out)?
        }
        #[cfg(feature = "parquet")]
        OutputFormat::Parquet | OutputFormat::Arrow => {
            let table = if format == OutputFormat::Parquet {
                stackconv_columnar::Format::Parquet
            } else {
                stackconv_columnar::Format::Arrow
            };
            stackconv_columnar::write(profile, &opts.columnar, table, &mut out)?
        }
        #[cfg(not(all(
            feature = "svg",
            feature = "speedscope",
            feature = "pprof",
            feature = "firefox",
            feature = "chrome",
            feature = "html",
            feature = "parquet"
        )))]
        other => return Err(other.not_built_in()),
    }
    out.flush()?;
    Ok(())
}

#[cfg(feature = "svg")]
fn count_name(unit: &str) -> String {
    match unit {
        "count" | "" => "samples".to_string(),
        other => other.to_string(),
    }
}

/// Write `profile` to the file `path` (standard output for `-`) by the
/// rules of [`Output`]: a regular file through a temporary file beside it,
/// renamed into place when complete (a failed run leaves no half-written
/// file); a device or FIFO written straight through.
///
/// # Errors
///
/// [`Error::File`] naming the output file.
pub fn write_path(
    profile: &Profile,
    format: OutputFormat,
    opts: &WriteOptions,
    path: &Path,
) -> Result<(), Error> {
    Output::prepare(path, &[], false)?.write_with(|out| write(profile, format, opts, out))
}

#[cfg(test)]
mod format_table_tests {
    use super::*;

    #[test]
    fn every_output_format_is_named_and_chosen_by_its_endings() {
        for (i, f) in OutputFormat::ALL.iter().enumerate() {
            assert!(!OutputFormat::ALL[..i].contains(f), "{f} listed twice");
            assert_eq!(OutputFormat::from_name(f.name()), Some(*f));
            for alias in f.aliases() {
                assert_eq!(OutputFormat::from_name(alias), Some(*f));
            }
            for e in f.extensions() {
                let path = format!("out{}", e.to_ascii_uppercase());
                assert_eq!(OutputFormat::from_path(path.as_ref()), Some(*f), "{path}");
            }
        }
    }

    #[test]
    fn every_input_format_is_listed_once() {
        for (i, f) in InputFormat::ALL.iter().enumerate() {
            assert!(!InputFormat::ALL[..i].contains(f), "{f} listed twice");
            assert!(input_format_names().contains(f.name()));
        }
    }
}
