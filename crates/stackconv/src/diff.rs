//! Writing a differential profile ([`stackconv_model::diff::Diff`]) in the
//! formats `stackconv diff` writes.

use std::io::{self, Write};

use stackconv_model::diff::Diff;

use crate::{Error, OutputFormat};

/// The formats [`write_diff`] writes: a differential flame graph (SVG), a
/// differential HTML report, the two-column folded form of
/// `inferno-diff-folded`, and a pprof delta (after - before).
pub const DIFF_FORMATS: [OutputFormat; 4] = [
    OutputFormat::Svg,
    OutputFormat::Html,
    OutputFormat::Folded,
    OutputFormat::Pprof,
];

/// The title of a differential flame graph or report when none is given.
pub const DIFF_TITLE: &str = "Differential Flame Graph";

/// Write `diff` as `format` (one of [`DIFF_FORMATS`]) to `out`, titled
/// `title` (SVG and HTML; default [`DIFF_TITLE`]).
///
/// ```
/// use stackconv::{read_bytes, write_diff, OutputFormat, ReadOptions};
///
/// let before = read_bytes(b"main;a 10\nmain;b 10\n", &ReadOptions::default())?;
/// let after = read_bytes(b"main;b 30\nmain;c 10\n", &ReadOptions::default())?;
/// let d = stackconv::model::diff::diff(&before, &after, false);
/// let mut text = Vec::new();
/// write_diff(&d, OutputFormat::Folded, None, &mut text)?;
/// assert_eq!(text, b"main;a 10 0\nmain;b 10 30\nmain;c 0 10\n");
/// # Ok::<(), stackconv::Error>(())
/// ```
///
/// # Errors
///
/// The writer's error, or [`Error::Io`] (also for a format not in
/// [`DIFF_FORMATS`]).
pub fn write_diff(
    diff: &Diff,
    format: OutputFormat,
    title: Option<&str>,
    out: impl Write,
) -> Result<(), Error> {
    let _ = title; // unused without the svg and html features
    let mut out = io::BufWriter::with_capacity(256 * 1024, out);
    match format {
        OutputFormat::Folded => {
            for row in &diff.rows {
                writeln!(out, "{} {} {}", row.folded, row.before, row.after)?;
            }
        }
        #[cfg(feature = "svg")]
        OutputFormat::Svg => {
            let mut svg = stackconv_flamegraph::SvgOptions::default();
            svg.differential = true;
            svg.title = title.unwrap_or(DIFF_TITLE).to_string();
            svg.count_name = match diff.value_type.unit.as_str() {
                "count" | "" => "samples".to_string(),
                u => u.to_string(),
            };
            stackconv_flamegraph::write_diff_svg(diff, &svg, &mut out)?;
        }
        #[cfg(feature = "html")]
        OutputFormat::Html => {
            let mut opts = stackconv_html::HtmlOptions::default();
            opts.title = title.unwrap_or(DIFF_TITLE).to_string();
            stackconv_html::write_diff_html(diff, &opts, &mut out)?;
        }
        #[cfg(feature = "pprof")]
        OutputFormat::Pprof => stackconv_pprof::write(&diff.delta_profile(), &mut out)?,
        other if DIFF_FORMATS.contains(&other) => return Err(other.not_built_in()),
        other => {
            return Err(Error::Io(io::Error::other(format!(
                "diff writes {}, not {other}",
                DIFF_FORMATS.map(OutputFormat::name).join(", ")
            ))))
        }
    }
    out.flush()?;
    Ok(())
}
