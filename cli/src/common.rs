//! What the commands share: the failure type, usage errors, the output
//! format of `-o`/`--to`, where a recording's perf maps are kept, and the
//! notes printed on standard error.

use std::path::Path;

use stackconv::{OutputFormat, Profile};

/// What ended a run: bad usage (exit 2) or bad input / I/O (exit 1).
pub enum Failure {
    /// Bad usage (exit 2), with its message.
    Usage(String),
    /// Bad input or I/O (exit 1).
    Run(stackconv::Error),
}

impl From<stackconv::Error> for Failure {
    fn from(e: stackconv::Error) -> Self {
        match usage_hint(&e) {
            Some(hint) => Failure::Usage(format!("{e}{hint}")),
            None => Failure::Run(e),
        }
    }
}

/// Errors that are bad usage (exit 2), with what to add to their message.
fn usage_hint(e: &stackconv::Error) -> Option<&'static str> {
    match e {
        stackconv::Error::File { source, .. } | stackconv::Error::Stdout(source) => {
            usage_hint(source)
        }
        stackconv::Error::OutputIsInput { .. } => Some(" (--force writes it anyway)"),
        stackconv::Error::OutputIsDirectory | stackconv::Error::StdinTwice => Some(""),
        _ => None,
    }
}

/// `--to`: a format's name or alias from the output table; `--help` and
/// the error for an unknown name list them.
pub fn output_format_parser() -> impl clap::builder::TypedValueParser<Value = OutputFormat> {
    use clap::builder::{PossibleValue, PossibleValuesParser, TypedValueParser};
    PossibleValuesParser::new(
        OutputFormat::ALL
            .map(|f| PossibleValue::new(f.name()).aliases(f.aliases().iter().copied())),
    )
    .try_map(|name| OutputFormat::from_name(&name).ok_or("not an output format"))
}

/// The output format: `--to`, else the output's extension.
pub fn output_format(
    to: Option<OutputFormat>,
    output: &std::path::Path,
) -> Result<OutputFormat, Failure> {
    match to {
        Some(f) => Ok(f),
        None => OutputFormat::from_path(output).ok_or_else(|| {
            let endings: Vec<&str> = OutputFormat::ALL
                .iter()
                .flat_map(|f| f.extensions().iter().copied())
                .collect();
            usage(format!(
                "-o {}: cannot tell the format from the extension ({}); use --to",
                output.display(),
                endings.join(", ")
            ))
        }),
    }
}

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
        say!("stackconv: warning: {w}");
    }
    let column = profile.meta().default_value;
    let (Some(&d), Some(&total), Some(vt)) = (
        dropped.get(column),
        input.get(column),
        profile.value_types().get(column),
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
        say!("stackconv: note: dropped {d} of {total} {what} ({pct:.1}%)");
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
    for loss in &profile.meta().losses {
        say!("stackconv: note: {}: {}", loss.what, loss.count);
    }
    for w in &profile.meta().warnings {
        say!("stackconv: warning: {w}");
    }
}

// The HTML report's default title: its inputs' file names (the facade's).
pub use stackconv::report_title;

// Without `--perf-map-dir`, a recording's perf maps kept beside it by
// `stackconv record` (`out.perf.data.maps/`) are used: the facade's rule.
pub use stackconv::{maps_beside, maps_dir_of};

/// Inputs from this size on show a progress bar while read (when standard
/// error is a terminal and `--quiet` is not given); `STACKCONV_PROGRESS_MIN`
/// (bytes) overrides it, for tests.
const PROGRESS_MIN_BYTES: u64 = 50 << 20;

/// Read `path` with `opts`, showing a progress bar on standard error while
/// a large perf.data is read, unless `quiet` or standard error is not a
/// terminal. The bar is cleared when reading ends.
pub fn read_with_progress(
    path: &Path,
    opts: &stackconv::ReadOptions,
    quiet: bool,
) -> Result<stackconv::Profile, stackconv::Error> {
    use std::io::IsTerminal;
    let min = std::env::var("STACKCONV_PROGRESS_MIN")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(PROGRESS_MIN_BYTES);
    let len = std::fs::metadata(path).map_or(0, |m| m.len());
    if quiet || len < min || !std::io::stderr().is_terminal() {
        return stackconv::read_path(path, opts);
    }
    let bar = indicatif::ProgressBar::with_draw_target(
        Some(len),
        indicatif::ProgressDrawTarget::stderr(),
    );
    if let Ok(style) = indicatif::ProgressStyle::with_template(
        "{msg} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} {eta}",
    ) {
        bar.set_style(style.progress_chars("=> "));
    }
    bar.set_message(format!("reading {}", path.display()));
    let mut opts = opts.clone();
    let b = bar.clone();
    opts.perf.progress = Some(stackconv::perf::Progress::new(move |done, _| {
        b.set_position(done)
    }));
    let result = stackconv::read_path(path, &opts);
    bar.finish_and_clear();
    result
}
