//! Before/after comparison: two profiles aligned stack by stack, as
//! `inferno-diff-folded` aligns their folded files, and written as a
//! differential flame graph, an HTML report, two-column folded text or a
//! pprof delta. `stackconv diff BEFORE AFTER -o OUT` is this.

use std::io::Write;

use stackconv_collapsed::folded::{self, RootFrame};
use stackconv_model::diff::Diff;

use crate::{as_folded, Error, OutputFormat, Profile};

/// How to compare and draw two profiles.
#[derive(Clone, Debug, Default)]
#[non_exhaustive]
pub struct DiffOptions {
    /// The root frame of each stack: the comm (default, as
    /// `inferno-collapse-perf`), `comm-pid` or `comm-pid/tid`, so stacks
    /// are compared per program, process or thread.
    pub root: RootFrame,
    /// Scale the before weights to the after total (`inferno-diff-folded
    /// --normalize`).
    pub normalize: bool,
    /// The title of the SVG or HTML report (default: "Differential Flame
    /// Graph").
    pub title: Option<String>,
}

/// Compare `before` with `after` on their shown value columns
/// (`meta.default_value`): one row per stack of either, as their folded
/// text shows it (root frame included).
///
/// ```
/// use stackconv::collapsed::folded;
/// use stackconv::{diff, DiffOptions};
///
/// let before = folded::read(b"main;work 5\nmain;lock_wait 3\n")?;
/// let after = folded::read(b"main;work 4\n")?;
/// let d = diff(&before, &after, &DiffOptions::default())?;
/// let rows: Vec<_> = d.rows.iter().map(|r| (r.folded.as_str(), r.before, r.after)).collect();
/// assert_eq!(rows, [("main;lock_wait", 3, 0), ("main;work", 5, 4)]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// # Errors
///
/// Only if the folded writer and reader disagree, which is a bug.
pub fn diff(before: &Profile, after: &Profile, opts: &DiffOptions) -> Result<Diff, Error> {
    let mut w = folded::WriteOptions::default();
    w.root = opts.root;
    let before = as_folded(before, &w)?;
    let after = as_folded(after, &w)?;
    Ok(stackconv_model::diff(&before, &after, opts.normalize))
}

/// The formats a [`Diff`] can be written in: [`OutputFormat::Svg`] (red
/// where the after profile is heavier, blue where lighter, violet for
/// frames only before), [`OutputFormat::Html`], [`OutputFormat::Folded`]
/// (`stack before after` lines, as `inferno-diff-folded` writes) and
/// [`OutputFormat::Pprof`] (after minus before).
pub const DIFF_FORMATS: [OutputFormat; 4] = [
    OutputFormat::Svg,
    OutputFormat::Html,
    OutputFormat::Folded,
    OutputFormat::Pprof,
];

/// Write `d` as `format` (one of [`DIFF_FORMATS`]) to `out`.
///
/// ```
/// use stackconv::collapsed::folded;
/// use stackconv::{diff, write_diff, DiffOptions, OutputFormat};
///
/// let before = folded::read(b"main;work 5\nmain;lock_wait 3\n")?;
/// let after = folded::read(b"main;work 4\n")?;
/// let opts = DiffOptions::default();
/// let d = diff(&before, &after, &opts)?;
/// let mut svg = Vec::new();
/// write_diff(&d, OutputFormat::Svg, &opts, &mut svg)?;
/// assert!(String::from_utf8(svg)?.contains("lock_wait (removed)"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// # Errors
///
/// [`Error::NotForDiffs`] for another format, [`Error::NotBuiltIn`] when
/// its Cargo feature is off, or the writer's error.
pub fn write_diff(
    d: &Diff,
    format: OutputFormat,
    opts: &DiffOptions,
    out: impl Write,
) -> Result<(), Error> {
    match format {
        OutputFormat::Folded => {
            let mut w = std::io::BufWriter::new(out);
            for row in &d.rows {
                writeln!(w, "{} {} {}", row.folded, row.before, row.after)?;
            }
            w.flush()?;
            Ok(())
        }
        #[cfg(feature = "svg")]
        OutputFormat::Svg => {
            let mut svg = stackconv_flamegraph::SvgOptions::default();
            svg.differential = true;
            svg.title = opts
                .title
                .clone()
                .unwrap_or_else(|| "Differential Flame Graph".to_string());
            svg.count_name = match d.value_type.unit.as_str() {
                "count" | "" => "samples".to_string(),
                u => u.to_string(),
            };
            stackconv_flamegraph::write_diff_svg(d, &svg, out)?;
            Ok(())
        }
        #[cfg(feature = "html")]
        OutputFormat::Html => {
            let mut html = stackconv_html::HtmlOptions::default();
            if let Some(t) = &opts.title {
                html.title = t.clone();
            }
            stackconv_html::write_diff_html(d, &html, out)?;
            Ok(())
        }
        #[cfg(feature = "pprof")]
        OutputFormat::Pprof => {
            stackconv_pprof::write(&d.delta_profile(), out)?;
            Ok(())
        }
        other if DIFF_FORMATS.contains(&other) => Err(other.not_built_in()),
        other => Err(Error::NotForDiffs { format: other }),
    }
}
