//! The arguments of the convert command, `stackconv IN... -o OUT`, apart
//! from the command (which the table conversion in `table` also reads).

use std::path::PathBuf;

use clap::Args;
use stackconv::OutputFormat;

use crate::common::output_format_parser;
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
