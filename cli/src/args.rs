//! Command-line arguments and the convert command.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};
use stackconv::collapsed::folded::RootFrame;
use stackconv::regex::Regex;
use stackconv::{OutputFormat, Profile};

use crate::Failure;

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
    Diff(crate::commands::DiffArgs),
    /// Functions by self and cumulative weight, like `go tool pprof -top`.
    Top(crate::commands::ListArgs),
    /// Where threads wait: off-CPU time or idle samples by the blocking
    /// site (pthread_mutex_lock, nanosleep, a Python lock) and its caller.
    Waits(crate::commands::WaitsArgs),
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
    /// Show off-CPU time: the time threads spent switched out (from
    /// sched:sched_switch, or `perf record --off-cpu`), charged to the
    /// stack that blocked, in every single-value output (SVG, folded, top,
    /// diff); pprof and speedscope carry every column anyway.
    #[arg(long)]
    pub off_cpu: bool,
    /// Most bytes the compressed data of one input (perf.data zstd records,
    /// gzip) may decompress to, e.g. 4G or 512M [default: 64 times the
    /// input, at least 256M].
    #[arg(long, value_name = "SIZE", value_parser = crate::size::parse_size)]
    pub max_decompressed: Option<u64>,
    /// Most bytes read from standard input, a pipe or a device (regular
    /// files have no limit) [default: 4G].
    #[arg(long, value_name = "SIZE", value_parser = crate::size::parse_size)]
    pub max_input: Option<u64>,
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
        opts.max_decompressed_bytes = self.max_decompressed;
        opts.max_input_bytes = self.max_input;
        opts
    }
}

fn parse_regex(s: &str) -> Result<Regex, String> {
    Regex::new(s).map_err(|e| e.to_string())
}

fn parse_rename(s: &str) -> Result<(Regex, String), String> {
    let (re, repl) = s
        .split_once('=')
        .ok_or_else(|| "expected RE=REPLACEMENT".to_string())?;
    Ok((parse_regex(re)?, repl.to_string()))
}

/// Which samples to keep and how to rewrite stacks.
#[derive(Args, Debug, Clone, Default)]
pub struct ProcessArgs {
    /// Keep samples of these process ids (repeatable).
    #[arg(long, value_name = "PID", help_heading = "Samples")]
    pub pid: Vec<u32>,
    /// Keep samples of these thread ids (repeatable).
    #[arg(long, value_name = "TID", help_heading = "Samples")]
    pub tid: Vec<u32>,
    /// Keep samples whose process name matches.
    #[arg(long, value_name = "RE", value_parser = parse_regex, help_heading = "Samples")]
    pub comm: Option<Regex>,
    /// Keep samples whose thread name matches.
    #[arg(long, value_name = "RE", value_parser = parse_regex, help_heading = "Samples")]
    pub thread: Option<Regex>,
    /// Keep samples of this event (a perf event or a pprof sample type),
    /// and show its weight.
    #[arg(long, value_name = "NAME", help_heading = "Samples")]
    pub event: Option<String>,
    /// Keep samples in this time range, seconds from the first sample
    /// (`10..20`, `10s..20s`, `..5`).
    #[arg(long, value_name = "START..END", help_heading = "Samples")]
    pub time: Option<String>,
    /// Drop idle samples (waiting on a lock, the GIL, I/O, a sleep).
    #[arg(long, help_heading = "Samples")]
    pub no_idle: bool,
    /// Keep only idle samples.
    #[arg(long, conflicts_with = "no_idle", help_heading = "Samples")]
    pub only_idle: bool,
    /// More frames that mark a sample idle (repeatable).
    #[arg(long, value_name = "RE", value_parser = parse_regex, help_heading = "Samples")]
    pub idle_frames: Vec<Regex>,
    /// Keep samples with a frame matching RE (function or file name).
    #[arg(long, value_name = "RE", value_parser = parse_regex, help_heading = "Stacks")]
    pub focus: Option<Regex>,
    /// Drop samples with a frame matching RE.
    #[arg(long, value_name = "RE", value_parser = parse_regex, help_heading = "Stacks")]
    pub ignore: Option<Regex>,
    /// Remove frames matching RE.
    #[arg(long, value_name = "RE", value_parser = parse_regex, help_heading = "Stacks")]
    pub hide: Option<Regex>,
    /// Keep only frames matching RE.
    #[arg(long, value_name = "RE", value_parser = parse_regex, help_heading = "Stacks")]
    pub show: Option<Regex>,
    /// Drop frames above the first frame matching RE.
    #[arg(long, value_name = "RE", value_parser = parse_regex, help_heading = "Stacks")]
    pub show_from: Option<Regex>,
    /// Cut stacks below the frame matching RE.
    #[arg(long, value_name = "RE", value_parser = parse_regex, help_heading = "Stacks")]
    pub prune_from: Option<Regex>,
    /// Rename frames: RE=REPLACEMENT (repeatable; `$1` refers to groups).
    #[arg(long, value_name = "RE=REPL", value_parser = parse_rename, help_heading = "Stacks")]
    pub rename: Vec<(Regex, String)>,
    /// Collapse direct recursion into one frame.
    #[arg(long, help_heading = "Stacks")]
    pub collapse_recursion: bool,
    /// Remove kernel frames.
    #[arg(long, help_heading = "Stacks")]
    pub no_kernel: bool,
    /// mixed (as recorded), python (interpreter frames between Python
    /// frames folded away) or native.
    #[arg(long, value_name = "VIEW", help_heading = "Stacks")]
    pub view: Option<String>,
    /// function, file, line or address (as recorded).
    #[arg(long, value_name = "G", help_heading = "Stacks")]
    pub granularity: Option<String>,
    /// Which value column single-value outputs show (e.g. `samples`,
    /// `cpu-clock`, `off-cpu`, a pprof sample type).
    #[arg(long, value_name = "NAME", help_heading = "Output")]
    pub value: Option<String>,
}

impl ProcessArgs {
    /// Whether samples may be folded while they are read (one row per
    /// distinct stack and thread): no filter looks at a sample's time
    /// (`--time`) or at which event it is of (`--event`, which keeps rows
    /// with weight in one column and would keep the other columns' weight
    /// of a folded row with them).
    pub fn can_fold(&self) -> bool {
        self.time.is_none() && self.event.is_none()
    }

    /// Whether these options look at source files or lines: a granularity
    /// of `file` or `line`, or a stack expression (which, as in pprof, also
    /// matches file names).
    pub fn needs_lines(&self) -> bool {
        let by_source = self.granularity.as_deref().is_some_and(|g| {
            matches!(
                g.parse(),
                Ok(stackconv::model::Granularity::File | stackconv::model::Granularity::Line)
            )
        });
        by_source
            || self.focus.is_some()
            || self.ignore.is_some()
            || self.hide.is_some()
            || self.show.is_some()
            || self.show_from.is_some()
            || self.prune_from.is_some()
            || !self.rename.is_empty()
    }

    /// [`Self::options`] for `profile`, read with `input`: `--off-cpu` shows
    /// the off-CPU column unless `--value` names another.
    pub fn options_for(
        &self,
        input: &InputArgs,
        profile: &Profile,
    ) -> Result<stackconv::ProcessOptions, Failure> {
        let mut o = self.options()?;
        if input.off_cpu && o.value.is_none() {
            let column =
                stackconv::off_cpu_value(profile).map_err(|e| usage(format!("--off-cpu: {e}")))?;
            o.value = Some(column.to_string());
        }
        Ok(o)
    }

    pub fn options(&self) -> Result<stackconv::ProcessOptions, Failure> {
        use stackconv::model::{IdleFilter, SampleFilter, StackTransform};
        let mut f = SampleFilter::default();
        f.pids = self.pid.clone();
        f.tids = self.tid.clone();
        f.comm = self.comm.clone();
        f.thread = self.thread.clone();
        f.event = self.event.clone();
        if let Some(t) = &self.time {
            f.time = Some(t.parse().map_err(
                |e: stackconv::model::filter::ParseTimeRangeError| {
                    usage(format!("--time: {}", e.0))
                },
            )?);
        }
        f.idle = if self.no_idle {
            IdleFilter::NoIdle
        } else if self.only_idle {
            IdleFilter::OnlyIdle
        } else {
            IdleFilter::All
        };
        f.idle_frames = self.idle_frames.clone();
        let mut t = StackTransform::default();
        t.focus = self.focus.clone();
        t.ignore = self.ignore.clone();
        t.hide = self.hide.clone();
        t.show = self.show.clone();
        t.show_from = self.show_from.clone();
        t.prune_from = self.prune_from.clone();
        t.rename = self.rename.clone();
        t.collapse_recursion = self.collapse_recursion;
        t.no_kernel = self.no_kernel;
        if let Some(v) = &self.view {
            t.view = v.parse().map_err(|_| {
                usage(format!(
                    "--view: unknown view {v:?} (mixed, python, native)"
                ))
            })?;
        }
        if let Some(g) = &self.granularity {
            t.granularity = g.parse().map_err(|_| {
                usage(format!(
                    "--granularity: unknown granularity {g:?} (function, file, line, address)"
                ))
            })?;
        }
        let mut o = stackconv::ProcessOptions::default();
        o.filter = f;
        o.transform = t;
        o.value = self.value.clone();
        Ok(o)
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
    /// Output format: svg, folded, speedscope, pprof, firefox (Firefox
    /// Profiler; gzipped when OUT ends in .gz), cpuprofile (Chrome DevTools)
    /// (default: from the output's extension).
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
    #[command(flatten)]
    pub process: ProcessArgs,
    /// SVG title.
    #[arg(long)]
    pub title: Option<String>,
    /// Draw an icicle graph (roots at the top).
    #[arg(long)]
    pub icicle: bool,
    /// SVG palette: `kind` (by frame kind, the default) or an inferno palette.
    #[arg(long)]
    pub palette: Option<String>,
    /// Omit SVG frames whose weight is less than this percentage of the
    /// total, as inferno-flamegraph's `--minwidth` (same default).
    #[arg(long, visible_alias = "minwidth", value_name = "PERCENT",
          default_value_t = stackconv::flamegraph::DEFAULT_MIN_WIDTH_PERCENT)]
    pub min_width: f64,
    /// Do not report dropped or unresolved data on stderr.
    #[arg(short, long)]
    pub quiet: bool,
    /// Write the output even when it is also an input.
    #[arg(long)]
    pub force: bool,
}

/// The SVG title of `--off-cpu` graphs.
pub const OFF_CPU_TITLE: &str = "Off-CPU Time Flame Graph";

pub fn usage(msg: impl Into<String>) -> Failure {
    Failure::Usage(msg.into())
}

/// A `--value` or `--event` that names no column (or several) is a usage
/// error (exit 2).
pub fn value_usage(e: stackconv::Error) -> Failure {
    match e {
        stackconv::Error::NoSuchValue(_) => Failure::Usage(e.to_string()),
        other => Failure::Run(other),
    }
}

/// Say how much the filters dropped, and their warnings, unless quiet.
pub fn report_dropped(
    profile: &Profile,
    input: &[i64],
    dropped: &[i64],
    warnings: &[String],
    quiet: bool,
) {
    if quiet {
        return;
    }
    for w in warnings {
        eprintln!("stackconv: warning: {w}");
    }
    let column = profile.meta.default_value;
    let (Some(&d), Some(&total), Some(vt)) = (
        dropped.get(column),
        input.get(column),
        profile.value_types.get(column),
    ) else {
        return;
    };
    if d != 0 {
        let pct = if total != 0 {
            100.0 * d as f64 / total as f64
        } else {
            0.0
        };
        let what = if vt.unit == "count" {
            vt.kind.clone()
        } else {
            format!("{} of {}", vt.unit, vt.kind)
        };
        eprintln!("stackconv: note: dropped {d} of {total} {what} ({pct:.1}%)");
    }
}

/// Say how many frame names folded text (folded output, the SVG) had to
/// change, unless quiet.
pub fn report_replaced_names(profile: &Profile, format: OutputFormat, quiet: bool) {
    if quiet || !matches!(format, OutputFormat::Folded | OutputFormat::Svg) {
        return;
    }
    let n = stackconv::collapsed::folded::replaced_names(profile);
    if n > 0 {
        eprintln!("stackconv: warning: {n} frame names hold `;` or a line break; written with `:` and a space in their place");
    }
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
            .ok_or_else(|| usage(format!("--to: unknown format {name:?} (svg, folded, speedscope, pprof, firefox, cpuprofile)")))?,
        None => OutputFormat::from_path(&output).ok_or_else(|| {
            usage(format!(
                "-o {}: cannot tell the format from the extension (.svg, .folded, .txt, .json, .pb.gz, .json.gz, .cpuprofile); use --to",
                output.display()
            ))
        })?,
    };
    // Checked before the inputs are read: a bad output fails at once.
    let out = stackconv::Output::prepare(&output, &a.inputs, a.force)?;
    let mut read_opts = a.input.read_options();
    // Source lines (DWARF) only where the output or the options use them:
    // a flame graph of function names is drawn sooner without.
    read_opts.perf.symbols.lines =
        matches!(format, OutputFormat::Speedscope | OutputFormat::Pprof) || a.process.needs_lines();
    // Outputs without time order are folded before they are written:
    // folding while reading gives the same rows, in memory bounded by the
    // distinct stacks.
    read_opts.perf.fold = !format.keeps_time_order() && a.process.can_fold();
    let mut profiles = Vec::with_capacity(a.inputs.len());
    for path in &a.inputs {
        profiles.push(stackconv::read_path(path, &read_opts)?);
    }
    let profile = if profiles.len() == 1 {
        profiles.pop().unwrap_or_default()
    } else {
        stackconv::model::merge(&profiles).map_err(|e| usage(e.to_string()))?
    };
    drop(profiles);
    let input_totals = profile.totals();
    let process_opts = a.process.options_for(&a.input, &profile)?;
    let processed = stackconv::process(profile, &process_opts).map_err(value_usage)?;
    let mut profile = processed.profile;
    report(&profile, a.quiet);
    report_dropped(
        &profile,
        &input_totals,
        &processed.dropped,
        &processed.warnings,
        a.quiet,
    );
    if !format.keeps_time_order() {
        profile = profile.into_folded();
    }
    report_replaced_names(&profile, format, a.quiet);
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
    } else if a.input.off_cpu {
        wopts.svg.title = OFF_CPU_TITLE.to_string();
    }
    wopts.svg.icicle = a.icicle;
    wopts.svg.palette = a.palette.clone();
    wopts.svg.min_width_percent = a.min_width;
    wopts.firefox.gzip = output.to_string_lossy().ends_with(".gz");
    out.write_with(|w| stackconv::write(&profile, format, &wopts, w))?;
    Ok(())
}
