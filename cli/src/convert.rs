//! The convert command, `stackconv IN... -o OUT`.

use std::path::PathBuf;

use clap::Args;
use stackconv::collapsed::folded::RootFrame;
use stackconv::OutputFormat;

use crate::common::{
    maps_beside, output_format, output_format_parser, read_with_progress, report, report_dropped,
    report_replaced_names, report_title, usage, value_usage, Failure,
};
use crate::options::{InputArgs, ProcessArgs};

/// `stackconv IN... -o OUT`.
#[derive(Args, Debug, Default)]
pub struct ConvertArgs {
    /// Input files (`-` for standard input); several are merged.
    pub inputs: Vec<PathBuf>,
    /// Output file (`-` for standard output; then --to names the format).
    #[arg(short, long, value_name = "OUT")]
    pub output: Option<PathBuf>,
    /// Output format (default: from the output's extension); `firefox` is
    /// the Firefox Profiler's (gzipped when OUT ends in .gz), `cpuprofile`
    /// Chrome DevTools'.
    #[arg(long, value_name = "FORMAT", value_parser = output_format_parser())]
    pub to: Option<OutputFormat>,
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
    /// Label the rows of a Parquet or Arrow output: a column KEY holding
    /// VALUE for every input (repeatable).
    #[arg(long = "label", value_name = "KEY=VALUE", value_parser = parse_label,
          help_heading = "Tables (.parquet, .arrow)")]
    pub labels: Vec<(String, String)>,
    /// Label each input's rows of a Parquet or Arrow output by the named
    /// groups of RE matched in its path, as given: `hosts/(?P<host>[^/]+)/`
    /// makes a column `host` (null where RE or the group does not match).
    #[arg(long, value_name = "RE", value_parser = crate::options::parse_regex,
          help_heading = "Tables (.parquet, .arrow)")]
    pub label_from_path: Option<stackconv::regex::Regex>,
}

/// `--label KEY=VALUE`.
fn parse_label(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((k, v)) if !k.is_empty() => Ok((k.to_string(), v.to_string())),
        _ => Err(format!("{s:?}: KEY=VALUE expected")),
    }
}

/// The SVG title of `--off-cpu` graphs.
use stackconv::OFF_CPU_TITLE;

pub fn convert(a: ConvertArgs) -> Result<(), Failure> {
    if a.inputs.is_empty() {
        return Err(usage("no input given (try `stackconv --help`)"));
    }
    let output = a.output.clone().ok_or_else(|| {
        usage("no output given: -o OUT (use `-o -` and --to for standard output)")
    })?;
    let format = output_format(a.to, &output)?;
    // Checked before the inputs are read: a bad output fails at once.
    let out = stackconv::Output::prepare(&output, &a.inputs, a.force)?;
    // The library's options for this output (source lines only where
    // shown, perf.data folded while read where no time order is kept),
    // then what the filters need.
    let mut read_opts = a.input.read_options_for(format);
    maps_beside(&mut read_opts, &a.inputs);
    read_opts.perf.symbols.lines |= a.process.needs_lines();
    read_opts.perf.fold &= a.process.can_fold();
    if matches!(format, OutputFormat::Parquet | OutputFormat::Arrow) {
        return crate::table::convert_table(&a, format, out, &read_opts);
    }
    if !a.labels.is_empty() || a.label_from_path.is_some() {
        return Err(usage(format!(
            "--label and --label-from-path label the rows of a table (-o OUT.parquet or \
             OUT.arrow); {format} output merges its inputs and carries no labels"
        )));
    }
    let mut profiles = Vec::with_capacity(a.inputs.len());
    for path in &a.inputs {
        profiles.push(read_with_progress(path, &read_opts, a.quiet)?);
    }
    let profile = if profiles.len() == 1 {
        profiles.pop().unwrap_or_default()
    } else {
        stackconv::model::merge(&profiles).map_err(|e| usage(e.to_string()))?
    };
    drop(profiles);
    let input_totals = profile.totals();
    let mut process_opts = a.process.options_for(&a.input, &profile, a.quiet)?;
    // inferno's spelling of Python frames with its annotations.
    process_opts.transform.perf_python_names = a.annotate;
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
    wopts.html.title = match &a.title {
        Some(t) => t.clone(),
        None => report_title(&a.inputs),
    };
    wopts.svg.icicle = a.icicle;
    wopts.svg.palette = a.palette.clone();
    wopts.svg.min_width_percent = a.min_width;
    wopts.firefox.gzip = output.to_string_lossy().ends_with(".gz");
    out.write_with(|w| stackconv::write(&profile, format, &wopts, w))?;
    Ok(())
}
