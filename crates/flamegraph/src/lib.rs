//! SVG flame graphs, icicle graphs and differential flame graphs for
//! stackconv, rendered by [inferno](https://docs.rs/inferno).
//!
//! The input is folded text (`a;b;c 12` lines, or `stack before after` for a
//! differential graph) as the folded writer makes it, plus the [`Profile`] it
//! came from, so that frames are coloured by their kind: Python frames in
//! greens and blues, native code in reds and yellows, kernel in orange, JIT
//! in aqua. The SVG keeps inferno's search and zoom.
//!
//! # Example
//!
//! ```
//! use stackconv_flamegraph::{write_svg, SvgOptions};
//! use stackconv_model::{FrameKind, Profile, ValueType};
//!
//! let mut p = Profile::new(vec![ValueType::new("samples", "count")]);
//! let main = p.intern_frame_named("main", FrameKind::Native);
//! let stack = p.intern_stack_frames([main]);
//! let thread = p.intern_thread(Default::default());
//! p.push_sample(stack, thread, None, &[5]);
//!
//! let mut svg = Vec::new();
//! write_svg(&p, b"main 5\n", &SvgOptions::default(), &mut svg)?;
//! let svg = String::from_utf8(svg).unwrap();
//! assert!(svg.contains("total_samples=\"5\""));
//! # Ok::<(), stackconv_flamegraph::Error>(())
//! ```
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::indexing_slicing))]

use std::io::Write;

use inferno::flamegraph::color::{BasicPalette, Color, PaletteMap};
use inferno::flamegraph::{self, Direction, Options, Palette};
use stackconv_collapsed::folded::frame_text;
use stackconv_model::{Diff, FrameKind, Profile};

/// Why a flame graph could not be written.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The folded input had no positive weight: there is nothing to draw.
    #[error("flame graph: no samples with a positive weight to draw")]
    Empty,
    /// The folded text was not UTF-8.
    #[error("flame graph: folded input is not UTF-8 at byte {offset}")]
    NotUtf8 {
        /// Where the bad byte is.
        offset: usize,
    },
    /// An unknown palette name.
    #[error("flame graph: unknown palette {name:?} (one of: kind, {})", Palette::VARIANTS.join(", "))]
    UnknownPalette {
        /// The name given.
        name: String,
    },
    /// A differential graph's weights, with each removed stack drawn at
    /// twice its before weight, add up past 2^63-1.
    #[error("flame graph: the differential graph's weights (removed stacks drawn at twice their before weight) add up past 2^63-1")]
    WeightOverflow,
    /// Writing failed.
    #[error("flame graph: {0}")]
    Io(#[from] std::io::Error),
}

/// How to draw the flame graph.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct SvgOptions {
    /// The title at the top.
    pub title: String,
    /// A subtitle below it; `None` for the default (total weight and unit).
    pub subtitle: Option<String>,
    /// What one unit of weight is called in tooltips (`samples`,
    /// `nanoseconds`, `bytes`).
    pub count_name: String,
    /// `None` or `"kind"`: colour by frame kind; otherwise one of inferno's
    /// palettes (`hot`, `java`, `python`, ...).
    pub palette: Option<String>,
    /// Draw an icicle graph (roots at the top).
    pub icicle: bool,
    /// Omit frames whose weight is less than this percentage of the
    /// graph's total weight: inferno's `min_width`, which inferno-flamegraph
    /// takes as `--minwidth` (a percentage, default 0.01), not pixels.
    pub min_width_percent: f64,
    /// The input is the two-column differential form `stack before after`.
    pub differential: bool,
    /// The folded lines are already in the order to draw them (sorted, or
    /// as `stackconv_collapsed::prune::write_pruned` writes them): do not
    /// sort them again.
    pub presorted: bool,
}

/// The default of [`SvgOptions::min_width_percent`]: inferno-flamegraph's
/// own default for `--minwidth`, so that `stackconv IN -o out.svg` draws the
/// frames `inferno-flamegraph` draws from the same folded text.
pub const DEFAULT_MIN_WIDTH_PERCENT: f64 = inferno::flamegraph::defaults::MIN_WIDTH;

impl Default for SvgOptions {
    fn default() -> Self {
        SvgOptions {
            title: "Flame Graph".to_string(),
            subtitle: None,
            count_name: "samples".to_string(),
            palette: None,
            icicle: false,
            min_width_percent: DEFAULT_MIN_WIDTH_PERCENT,
            differential: false,
            presorted: false,
        }
    }
}

/// The colour of a frame of `kind`: the model's one rule,
/// [`FrameKind::color`], shared with the HTML report.
fn kind_color(kind: FrameKind, name: &str) -> Color {
    let [r, g, b] = kind.color(name);
    Color { r, g, b }
}

/// Write a flame graph of `folded` (folded text made from `profile`) as SVG.
///
/// Frames are coloured by the kind of the profile's frame of the same name
/// when `opts.palette` is `None` or `"kind"`; names not in the profile (the
/// root frames the folded writer adds) get inferno's hot colours, the native
/// ones.
///
/// # Errors
///
/// [`Error::Empty`] when there is nothing to draw, [`Error::NotUtf8`],
/// [`Error::UnknownPalette`], or [`Error::Io`] when writing fails.
pub fn write_svg(
    profile: &Profile,
    folded: &[u8],
    opts: &SvgOptions,
    out: impl Write,
) -> Result<(), Error> {
    let text = std::str::from_utf8(folded).map_err(|e| Error::NotUtf8 {
        offset: e.valid_up_to(),
    })?;
    if !has_positive_weight(text) {
        return Err(Error::Empty);
    }
    let mut palette_map = PaletteMap::default();
    let by_kind = matches!(opts.palette.as_deref(), None | Some("kind"));
    let mut options = Options::default();
    if by_kind && !opts.differential {
        // Each frame as the folded text spells it, plain and annotated
        // (`_[k]`, `_[j]`): the folded writer's own rule. Root frames
        // (thread names) are not frames; inferno gives names missing from
        // the map its own hot colours, which are the native ones. Built
        // from the distinct frames, never from the (much longer) text.
        for (id, frame) in profile.frames().iter() {
            let name = profile.str(frame.name);
            let color = kind_color(frame.kind, name);
            for annotate in [false, true] {
                palette_map.insert(frame_text(profile, id, annotate), color);
            }
        }
        options.palette_map = Some(&mut palette_map);
    } else if let Some(name) = opts.palette.as_deref().filter(|n| *n != "kind") {
        options.colors = name.parse().map_err(|_| Error::UnknownPalette {
            name: name.to_string(),
        })?;
    } else {
        options.colors = Palette::Basic(BasicPalette::Hot);
    }
    options.title = opts.title.clone();
    options.subtitle = opts.subtitle.clone();
    options.count_name = opts.count_name.clone();
    options.min_width = opts.min_width_percent;
    options.deterministic = true;
    options.no_sort = opts.presorted;
    if opts.icicle {
        options.direction = Direction::Inverted;
    }
    flamegraph::from_lines(&mut options, text.lines(), out).map_err(Error::Io)
}

/// The fill of frames present only in BEFORE in a differential graph:
/// violet, apart from inferno's reds (grew) and blues (shrank).
pub const REMOVED_FILL: &str = "rgb(170,110,230)";

/// The suffix a frame present only in BEFORE gets in a differential
/// graph, so that its title (and a search) says so.
pub const REMOVED_SUFFIX: &str = " (removed)";

/// Write the differential flame graph of `diff` as SVG: widths are the
/// AFTER weights, colours inferno's (red grew, blue shrank), and frames
/// present only in BEFORE (no AFTER stack passes through them) are drawn
/// too, at their BEFORE width, in [`REMOVED_FILL`], their names ending in
/// [`REMOVED_SUFFIX`]. inferno alone would give them width 0, so a fix that
/// removed a lock wait could not be seen.
///
/// The drawn total is so the AFTER total plus the weight of the removed
/// frames; the default subtitle (`opts.subtitle` `None`) states the BEFORE
/// and AFTER totals and that weight.
///
/// ```
/// use stackconv_flamegraph::{write_diff_svg, SvgOptions};
/// use stackconv_model::{diff, FrameKind, Profile, ValueType};
///
/// let side = |stacks: &[(&[&str], i64)]| {
///     let mut p = Profile::new(vec![ValueType::new("samples", "count")]);
///     let t = p.intern_thread(Default::default());
///     for (names, n) in stacks {
///         let f: Vec<_> = names.iter().map(|n| p.intern_frame_named(n, FrameKind::Native)).collect();
///         let s = p.intern_stack_frames(f);
///         p.push_sample(s, t, None, &[*n]);
///     }
///     p
/// };
/// let before = side(&[(&["main", "work"], 5), (&["main", "lock_wait"], 3)]);
/// let after = side(&[(&["main", "work"], 4)]);
/// let mut svg = Vec::new();
/// write_diff_svg(&diff(&before, &after, false)?, &SvgOptions::default(), &mut svg)?;
/// let svg = String::from_utf8(svg).unwrap();
/// assert!(svg.contains("<title>lock_wait (removed) (3 samples"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// # Errors
///
/// As [`write_svg`]; [`Error::WeightOverflow`] when the weights drawn
/// (removed stacks at twice their before weight) pass 2^63-1.
pub fn write_diff_svg(diff: &Diff, opts: &SvgOptions, mut out: impl Write) -> Result<(), Error> {
    let (text, removed) = diff_folded_with_removed(diff)?;
    let mut opts = opts.clone();
    opts.differential = true;
    if opts.subtitle.is_none() {
        let unit = &opts.count_name;
        opts.subtitle = Some(format!(
            "{} {unit} before, {} after{}; {removed} only before, drawn at their before width and marked (removed)",
            diff.before_total,
            diff.after_total,
            if diff.normalized {
                " (before normalised)"
            } else {
                ""
            }
        ));
    }
    let mut svg = Vec::new();
    write_svg(&diff.to_profile(), text.as_bytes(), &opts, &mut svg)?;
    if removed != 0 {
        svg = recolor_removed(&svg);
    }
    out.write_all(&svg)?;
    Ok(())
}

/// The two-column folded text inferno draws a differential graph from,
/// with the rows of frames present only in BEFORE rewritten so that they
/// are drawn: from the first frame no AFTER stack passes through, names get
/// [`REMOVED_SUFFIX`], and the line is `stack 2*before before` (inferno
/// takes the last column as the width and `last - first` as the change,
/// which is then `-before`, the true change). Also the weight drawn so.
fn diff_folded_with_removed(diff: &Diff) -> Result<(String, i64), Error> {
    use std::collections::HashSet;
    use std::fmt::Write as _;
    // Every frame path (prefix of a stack) some AFTER sample passes through.
    let mut in_after: HashSet<&str> = HashSet::new();
    for r in diff.rows.iter().filter(|r| r.after != 0) {
        in_after.extend(
            r.folded
                .match_indices(';')
                .map(|(i, _)| r.folded.get(..i).unwrap_or("")),
        );
        in_after.insert(r.folded.as_str());
    }
    let mut text = String::new();
    let mut removed = 0i64;
    for r in &diff.rows {
        let first_gone = if r.after == 0 && r.before > 0 {
            // Byte offset of the first frame whose path is not in AFTER.
            let mut start = 0;
            let mut found = None;
            for (i, c) in r.folded.char_indices().chain([(r.folded.len(), ';')]) {
                if c != ';' {
                    continue;
                }
                if !in_after.contains(r.folded.get(..i).unwrap_or("")) {
                    found = Some(start);
                    break;
                }
                start = i + 1;
            }
            found
        } else {
            None
        };
        match first_gone {
            Some(at) => {
                let (kept, gone) = r.folded.split_at_checked(at).unwrap_or(("", &r.folded));
                text.push_str(kept);
                for (i, name) in gone.split(';').enumerate() {
                    if i > 0 {
                        text.push(';');
                    }
                    text.push_str(name);
                    text.push_str(REMOVED_SUFFIX);
                }
                let twice = r.before.checked_mul(2).ok_or(Error::WeightOverflow)?;
                let _ = writeln!(text, " {twice} {}", r.before);
                removed = removed.checked_add(r.before).ok_or(Error::WeightOverflow)?;
            }
            None => {
                let _ = writeln!(text, "{} {} {}", r.folded, r.before, r.after);
            }
        }
    }
    Ok((text, removed))
}

/// `svg` with the fill of every frame whose title names a removed frame
/// replaced by [`REMOVED_FILL`]. inferno writes each frame as
/// `<g><title>NAME (N units, P%; D%)</title><rect ... fill="rgb(..)" .../>`.
fn recolor_removed(svg: &[u8]) -> Vec<u8> {
    let Ok(text) = std::str::from_utf8(svg) else {
        return svg.to_vec();
    };
    let marker = format!("{REMOVED_SUFFIX} (");
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find("<title>") {
        let (head, tail) = rest.split_at(at);
        out.push_str(head);
        let title_end = tail.find("</title>").unwrap_or(tail.len());
        let title = tail.get(..title_end).unwrap_or("");
        let fill = if title.contains(&marker) {
            tail.find("fill=\"").filter(|&f| f > title_end)
        } else {
            None
        };
        match fill.and_then(|f| {
            let value = f + "fill=\"".len();
            let close = tail.get(value..)?.find('"')? + value;
            Some((value, close))
        }) {
            Some((value, close)) => {
                out.push_str(tail.get(..value).unwrap_or(""));
                out.push_str(REMOVED_FILL);
                rest = tail.get(close..).unwrap_or("");
            }
            None => {
                let step = "<title>".len();
                out.push_str(tail.get(..step).unwrap_or(""));
                rest = tail.get(step..).unwrap_or("");
            }
        }
    }
    out.push_str(rest);
    out.into_bytes()
}

/// The least weight a frame needs to be drawn, for a graph of `total`
/// weight and a minimum width of `min_width_percent` percent of it
/// (inferno's `--minwidth`): a
/// frame is drawn unless its weight is below this (computed as inferno
/// does, so that the two agree to the last bit).
///
/// ```
/// let w = stackconv_flamegraph::min_drawn_weight(1_000_000, 0.1);
/// assert_eq!(w, 1000.0);
/// ```
pub fn min_drawn_weight(total: u64, min_width_percent: f64) -> f64 {
    stackconv_model::pruning::min_drawn_weight(total, min_width_percent)
}

/// Whether some line of folded text ends in a positive weight.
fn has_positive_weight(text: &str) -> bool {
    text.lines().any(|line| {
        line.split_ascii_whitespace()
            .rev()
            .take(2)
            .any(|w| w.parse::<u64>().is_ok_and(|n| n > 0))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn profile() -> Profile {
        let mut p = Profile::new(vec![stackconv_model::ValueType::new("samples", "count")]);
        // A Python frame from a perf map, as perf names it.
        let py = stackconv_model::Frame {
            name: p.intern_str("py::handler:/app/app.py"),
            module: p.intern_str("/tmp/perf-42.map"),
            kind: FrameKind::Python,
            ..Default::default()
        };
        let py = p.intern_frame(py);
        let native = p.intern_frame_named("PyThread_acquire_lock_timed", FrameKind::Native);
        let k = p.intern_frame_named("do_futex", FrameKind::Kernel);
        let s = p.intern_stack_frames([py, native, k]);
        let t = p.intern_thread(Default::default());
        p.push_sample(s, t, None, &[3]);
        p
    }

    fn fill_of(svg: &str, name: &str) -> String {
        let at = svg.find(&format!("<title>{name} (")).expect("frame in svg");
        let rest = &svg[at..];
        let fill = rest.find("fill=\"").expect("fill") + 6;
        rest[fill..fill + rest[fill..].find('"').expect("quote")].to_string()
    }

    #[test]
    fn colours_by_kind_and_keeps_total() {
        let p = profile();
        let mut out = Vec::new();
        let folded = b"py::handler:/app/app.py;PyThread_acquire_lock_timed;do_futex 3\n";
        write_svg(&p, folded, &SvgOptions::default(), &mut out).unwrap();
        let svg = String::from_utf8(out).unwrap();
        assert!(svg.contains("total_samples=\"3\""));
        let py = fill_of(&svg, "py::handler:/app/app.py");
        let native = fill_of(&svg, "PyThread_acquire_lock_timed");
        let kernel = fill_of(&svg, "do_futex");
        let rgb = |s: &str| -> (u8, u8, u8) {
            let v: Vec<u8> = s
                .trim_start_matches("rgb(")
                .trim_end_matches(')')
                .split(',')
                .map(|x| x.trim().parse().unwrap())
                .collect();
            (v[0], v[1], v[2])
        };
        let (r, g, _) = rgb(&py);
        assert!(g > r, "python frame is green-ish: {py}");
        let (r, _, b) = rgb(&native);
        assert!(r > 200 && b < 60, "native frame is warm: {native}");
        assert_ne!(rgb(&kernel), rgb(&native));

        // annotated spellings (`--annotate`) keep their kind's colour
        // (inferno shows them without the annotation)
        let mut out = Vec::new();
        let folded = b"py::handler:/app/app.py_[j];PyThread_acquire_lock_timed;do_futex_[k] 3\n";
        write_svg(&p, folded, &SvgOptions::default(), &mut out).unwrap();
        let svg = String::from_utf8(out).unwrap();
        assert_eq!(fill_of(&svg, "do_futex"), kernel);
        assert_eq!(fill_of(&svg, "py::handler:/app/app.py"), py);
    }

    #[test]
    fn empty_input_is_an_error() {
        let p = profile();
        let err = write_svg(&p, b"", &SvgOptions::default(), Vec::new()).unwrap_err();
        assert!(matches!(err, Error::Empty));
    }

    #[test]
    fn icicle_and_palette() {
        let p = profile();
        let opts = SvgOptions {
            icicle: true,
            palette: Some("java".into()),
            ..SvgOptions::default()
        };
        let mut out = Vec::new();
        write_svg(&p, b"a;b 2\n", &opts, &mut out).unwrap();
        assert!(String::from_utf8(out)
            .unwrap()
            .contains("total_samples=\"2\""));
        let bad = SvgOptions {
            palette: Some("nope".into()),
            ..SvgOptions::default()
        };
        assert!(matches!(
            write_svg(&p, b"a 1\n", &bad, Vec::new()),
            Err(Error::UnknownPalette { .. })
        ));
    }

    #[test]
    fn differential_keeps_frames_only_in_before() {
        let side = |stacks: &[(&[&str], i64)]| {
            let mut p = Profile::new(vec![stackconv_model::ValueType::new("samples", "count")]);
            let t = p.intern_thread(Default::default());
            for (names, n) in stacks {
                let f: Vec<_> = names
                    .iter()
                    .map(|n| p.intern_frame_named(n, FrameKind::Native))
                    .collect();
                let s = p.intern_stack_frames(f);
                p.push_sample(s, t, None, &[*n]);
            }
            p
        };
        // main;a self weight only before, but a stays (main;a;b after):
        // not a removed frame. main;gone;deeper only before: two removed
        // frames, drawn at 7.
        let before = side(&[
            (&["main", "a"], 2),
            (&["main", "gone", "deeper"], 7),
            (&["main", "kept"], 1),
        ]);
        let after = side(&[(&["main", "a", "b"], 3), (&["main", "kept"], 5)]);
        let d = stackconv_model::diff(&before, &after, false).unwrap();
        let (text, removed) = diff_folded_with_removed(&d).unwrap();
        assert_eq!(removed, 7);
        assert!(
            text.contains("main;gone (removed);deeper (removed) 14 7\n"),
            "{text}"
        );
        assert!(text.contains("main;a 2 0\n"), "{text}");
        let mut out = Vec::new();
        write_diff_svg(&d, &SvgOptions::default(), &mut out).unwrap();
        let svg = String::from_utf8(out).unwrap();
        assert!(svg.contains("total_samples=\"15\""), "after 8 + removed 7");
        for name in ["gone", "deeper"] {
            assert_eq!(fill_of(&svg, &format!("{name} (removed)")), REMOVED_FILL);
        }
        assert_ne!(fill_of(&svg, "kept"), REMOVED_FILL);
        assert!(svg.contains("10 samples before, 8 after; 7 only before"));
    }

    #[test]
    fn differential() {
        let p = profile();
        let opts = SvgOptions {
            differential: true,
            ..SvgOptions::default()
        };
        let mut out = Vec::new();
        write_svg(&p, b"a;b 2 5\na;c 3 1\n", &opts, &mut out).unwrap();
        let svg = String::from_utf8(out).unwrap();
        assert!(
            svg.contains("total_samples=\"6\""),
            "differential total is the after total"
        );
    }
}
