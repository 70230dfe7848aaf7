//! Command-line arguments and the convert command.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};
use stackconv::collapsed::folded::RootFrame;
use stackconv::{OutputFormat, Profile};

use crate::Failure;

/// Convert and process CPU profiles: perf.data, perf script, py-spy raw,
/// folded, pprof and speedscope in; flame graph SVG, folded, speedscope and
/// pprof out.
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
}

#[derive(Args, Debug)]
pub struct InfoArgs {
    /// Input files (`-` for standard input).
    #[arg(required = true)]
    pub inputs: Vec<PathBuf>,
    #[command(flatten)]
    pub input: InputArgs,
}

/// Options about reading and symbolizing inputs.
#[derive(Args, Debug, Clone, Default)]
pub struct InputArgs {
    /// Directory of perf map files (`perf-PID.map`) and jitdumps.
    #[arg(long, value_name = "DIR")]
    pub perf_map_dir: Option<PathBuf>,
    /// Root directory under which recorded binary paths are looked up.
    #[arg(long, value_name = "DIR")]
    pub symfs: Option<PathBuf>,
    /// Directory with binaries or debug files (by base name or
    /// `.build-id/xx/rest[.debug]`); repeatable.
    #[arg(long, value_name = "DIR")]
    pub symbol_dir: Vec<PathBuf>,
    /// Kernel symbols file (default /proc/kallsyms for recordings of this machine).
    #[arg(long, value_name = "FILE")]
    pub kallsyms: Option<PathBuf>,
    /// Do not show inlined frames.
    #[arg(long)]
    pub no_inline: bool,
    /// Consult only what the options name: no ~/.debug, /usr/lib/debug,
    /// /proc/kallsyms or /tmp perf maps.
    #[arg(long)]
    pub no_system_paths: bool,
    /// Charge off-CPU time (from sched:sched_switch) to the stack that blocked.
    #[arg(long)]
    pub off_cpu: bool,
}

impl InputArgs {
    pub fn read_options(&self) -> stackconv::ReadOptions {
        let mut opts = stackconv::ReadOptions::default();
        let sym = &mut opts.perf.symbols;
        sym.perf_map_dir = self.perf_map_dir.clone();
        sym.symfs = self.symfs.clone();
        sym.symbol_dirs = self.symbol_dir.clone();
        sym.kallsyms = self.kallsyms.clone();
        sym.inline = !self.no_inline;
        sym.no_system_paths = self.no_system_paths;
        opts.perf.off_cpu = self.off_cpu;
        opts
    }
}

/// `stackconv IN... -o OUT`.
#[derive(Args, Debug, Default)]
pub struct ConvertArgs {
    /// Input files (`-` for standard input); several are merged.
    pub inputs: Vec<PathBuf>,
    /// Output file (`-` for standard output; then --to names the format).
    #[arg(short, long, value_name = "OUT")]
    pub output: Option<PathBuf>,
    /// Output format: svg, folded, speedscope, pprof (default: from the
    /// output's extension).
    #[arg(long, value_name = "FORMAT")]
    pub to: Option<String>,
    #[command(flatten)]
    pub input: InputArgs,
    /// Put `comm-pid` as the root frame.
    #[arg(long)]
    pub per_process: bool,
    /// Put `comm-pid/tid` as the root frame.
    #[arg(long, conflicts_with = "per_process")]
    pub per_thread: bool,
    /// Mark kernel frames `_[k]` and JIT frames `_[j]` in folded output.
    #[arg(long)]
    pub annotate: bool,
    /// Which value column single-value outputs show (e.g. `samples`,
    /// `cpu-clock`, `off-cpu`, a pprof sample type); alias --event.
    #[arg(long, visible_alias = "event", value_name = "NAME")]
    pub value: Option<String>,
    /// SVG title.
    #[arg(long)]
    pub title: Option<String>,
    /// Draw an icicle graph (roots at the top).
    #[arg(long)]
    pub icicle: bool,
    /// SVG palette: `kind` (by frame kind, the default) or an inferno palette.
    #[arg(long)]
    pub palette: Option<String>,
    /// Omit SVG frames narrower than this many pixels.
    #[arg(long, default_value_t = 0.1)]
    pub min_width: f64,
    /// Do not report dropped or unresolved data on stderr.
    #[arg(short, long)]
    pub quiet: bool,
}

fn usage(msg: impl Into<String>) -> Failure {
    Failure::Usage(msg.into())
}

/// Print what was lost on the way, unless quiet.
pub fn report(profile: &Profile, quiet: bool) {
    if quiet {
        return;
    }
    for loss in &profile.meta.losses {
        eprintln!("stackconv: note: {}: {}", loss.what, loss.count);
    }
    for w in &profile.meta.warnings {
        eprintln!("stackconv: warning: {w}");
    }
}

pub fn convert(a: ConvertArgs) -> Result<(), Failure> {
    if a.inputs.is_empty() {
        return Err(usage("no input given (try `stackconv --help`)"));
    }
    let output = a.output.clone().ok_or_else(|| {
        usage("no output given: -o OUT (use `-o -` and --to for standard output)")
    })?;
    let format = match &a.to {
        Some(name) => OutputFormat::from_name(name)
            .ok_or_else(|| usage(format!("--to: unknown format {name:?} (svg, folded, speedscope, pprof)")))?,
        None => OutputFormat::from_path(&output).ok_or_else(|| {
            usage(format!(
                "-o {}: cannot tell the format from the extension (.svg, .folded, .txt, .json, .pb.gz); use --to",
                output.display()
            ))
        })?,
    };
    let read_opts = a.input.read_options();
    let mut profiles = Vec::with_capacity(a.inputs.len());
    for path in &a.inputs {
        profiles.push(stackconv::read_path(path, &read_opts)?);
    }
    let mut profile = if profiles.len() == 1 {
        profiles.pop().unwrap_or_default()
    } else {
        stackconv::model::merge(&profiles).map_err(|e| usage(e.to_string()))?
    };
    drop(profiles);
    if let Some(name) = &a.value {
        let column = profile.value_index(name).ok_or_else(|| {
            let names: Vec<&str> = profile
                .value_types
                .iter()
                .map(|v| v.kind.as_str())
                .collect();
            usage(format!(
                "--value: no value column {name:?} (the input has: {})",
                names.join(", ")
            ))
        })?;
        profile.meta.default_value = column;
    }
    report(&profile, a.quiet);
    if !format.keeps_time_order() {
        profile = profile.fold();
    }
    let mut wopts = stackconv::WriteOptions::default();
    wopts.folded.annotate = a.annotate;
    wopts.folded.root = if a.per_thread {
        RootFrame::CommPidTid
    } else if a.per_process {
        RootFrame::CommPid
    } else {
        RootFrame::Auto
    };
    if let Some(title) = &a.title {
        wopts.svg.title = title.clone();
    }
    wopts.svg.icicle = a.icicle;
    wopts.svg.palette = a.palette.clone();
    wopts.svg.min_width = a.min_width;
    stackconv::write_path(&profile, format, &wopts, &output)?;
    Ok(())
}
