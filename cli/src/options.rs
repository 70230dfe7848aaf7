//! The options shared by the commands that read and process profiles.

use std::path::PathBuf;

use clap::Args;
use stackconv::regex::Regex;
use stackconv::Profile;

use crate::common::{usage, Failure};

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
    /// Kernel symbols file, used as given (default: perf's build-id cache
    /// copy ~/.debug/[kernel.kallsyms]/BUILD_ID/kallsyms of the recorded
    /// kernel, else /proc/kallsyms, only when the recording was made on the
    /// running kernel: same build id, or same release where no build id
    /// was recorded; either only when of the recording's boot).
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
    /// Most bytes the distinct stacks of a perf.data drawn as an SVG may
    /// take in memory while it is read; past it they are moved to a
    /// temporary file (in TMPDIR) and merged back at the end, the graph the
    /// same [default: 24M].
    #[arg(long, value_name = "SIZE", value_parser = crate::size::parse_size)]
    pub max_stack_memory: Option<u64>,
}

impl InputArgs {
    pub fn read_options(&self) -> stackconv::ReadOptions {
        self.apply(stackconv::ReadOptions::default())
    }

    /// [`stackconv::ReadOptions::for_output`] with these options.
    pub fn read_options_for(&self, format: stackconv::OutputFormat) -> stackconv::ReadOptions {
        self.apply(stackconv::ReadOptions::for_output(format))
    }

    fn apply(&self, mut opts: stackconv::ReadOptions) -> stackconv::ReadOptions {
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
        opts.perf.max_stack_memory = self
            .max_stack_memory
            .map(|b| usize::try_from(b).unwrap_or(usize::MAX));
        opts
    }
}

pub(crate) fn parse_regex(s: &str) -> Result<Regex, String> {
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
    /// mixed (every frame, as recorded), python (Python frames as Python
    /// users read them, interpreter frames folded away; the default for
    /// perf recordings of Python) or native.
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
                Ok(stackconv::ops::Granularity::File | stackconv::ops::Granularity::Line)
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
    /// the off-CPU column unless `--value` names another; without `--view`,
    /// a profile with Python frames recorded by perf is shown in the Python
    /// view (and stderr says so once, unless `quiet`).
    pub fn options_for(
        &self,
        input: &InputArgs,
        profile: &Profile,
        quiet: bool,
    ) -> Result<stackconv::ProcessOptions, Failure> {
        let mut o = self.options()?;
        if self.view.is_none() {
            o.transform.view = stackconv::ops::view::default_view(profile);
            if o.transform.view == stackconv::ops::view::View::Python && !quiet {
                say_python_view_once();
            }
        }
        if input.off_cpu && o.value.is_none() {
            let column =
                stackconv::off_cpu_value(profile).map_err(|e| usage(format!("--off-cpu: {e}")))?;
            o.value = Some(column.to_string());
        }
        Ok(o)
    }

    pub fn options(&self) -> Result<stackconv::ProcessOptions, Failure> {
        use stackconv::ops::{IdleFilter, SampleFilter, StackTransform};
        let mut f = SampleFilter::default();
        f.pids = self.pid.clone();
        f.tids = self.tid.clone();
        f.comm = self.comm.clone();
        f.thread = self.thread.clone();
        f.event = self.event.clone();
        if let Some(t) = &self.time {
            f.time = Some(t.parse().map_err(
                |e: stackconv::ops::filter::ParseTimeRangeError| usage(format!("--time: {}", e.0)),
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

/// Tell the user, once per run, that the Python view was chosen for them.
fn say_python_view_once() {
    use std::sync::atomic::{AtomicBool, Ordering};
    static SAID: AtomicBool = AtomicBool::new(false);
    if !SAID.swap(true, Ordering::Relaxed) {
        say!(
            "stackconv: note: Python frames found: showing the Python view (--view mixed shows every frame)"
        );
    }
}
