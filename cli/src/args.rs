//! Command-line arguments: the command line and its subcommands.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::commands::{DiffArgs, ListArgs, WaitsArgs};
use crate::convert::ConvertArgs;
use crate::options::InputArgs;
use crate::record::RecordArgs;

/// Convert and process CPU profiles: perf.data, perf script, py-spy raw,
/// folded, pprof, speedscope and Chrome .cpuprofile in; flame graph SVG,
/// folded, speedscope, pprof, Firefox Profiler JSON and .cpuprofile out.
#[derive(Parser, Debug)]
#[command(name = "stackconv", version, args_conflicts_with_subcommands = true)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    #[command(flatten)]
    pub convert: ConvertArgs,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Show what a profile holds: format, events, samples, weight, threads,
    /// time span, lost records, unresolved addresses.
    Info(InfoArgs),
    /// Compare two profiles: a differential flame graph (red slower, blue
    /// faster), the two-column folded form, or a pprof delta.
    Diff(DiffArgs),
    /// Functions by self and cumulative weight, like `go tool pprof -top`.
    Top(ListArgs),
    /// Where threads wait: off-CPU time or idle samples by the blocking
    /// site (pthread_mutex_lock, nanosleep, a Python lock) and its caller.
    Waits(WaitsArgs),
    /// Run a command (or attach to a process) under `perf record` with the
    /// flags it needs (Python perf support, DWARF call graphs without frame
    /// pointers, off-CPU events), keep its perf maps, and convert.
    Record(Box<RecordArgs>),
}

#[derive(Args, Debug)]
pub struct InfoArgs {
    /// Input files (`-` for standard input).
    #[arg(required = true)]
    pub inputs: Vec<PathBuf>,
    #[command(flatten)]
    pub input: InputArgs,
}
