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
use stackconv_model::{FrameKind, Profile};

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
    /// as `stackconv_collapsed::folded::write_pruned` writes them): do not
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

/// The colour of a frame of `kind`, varied within the kind's band by a hash
/// of its name so neighbours are told apart (as inferno's palettes do).
fn kind_color(kind: FrameKind, name: &str) -> Color {
    // FNV-1a: stable across runs and platforms, so SVGs are reproducible.
    let h = name.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    });
    let v = (h % 1000) as f64 / 1000.0;
    let w = ((h / 1000) % 1000) as f64 / 1000.0;
    let lerp = |lo: f64, hi: f64, t: f64| (lo + (hi - lo) * t).round().clamp(0.0, 255.0) as u8;
    let (r, g, b) = match kind {
        // Greens and teals: the Python world.
        FrameKind::Python => (
            lerp(40.0, 110.0, v),
            lerp(170.0, 220.0, w),
            lerp(90.0, 170.0, v),
        ),
        // Reds and yellows, as the classic "hot" palette: native code.
        FrameKind::Native => (
            lerp(205.0, 255.0, v),
            lerp(0.0, 230.0, w),
            lerp(0.0, 55.0, v),
        ),
        FrameKind::Inline => (
            lerp(225.0, 255.0, v),
            lerp(120.0, 200.0, w),
            lerp(50.0, 90.0, v),
        ),
        // Orange: kernel.
        FrameKind::Kernel => (
            lerp(230.0, 255.0, v),
            lerp(120.0, 160.0, w),
            lerp(0.0, 40.0, v),
        ),
        // Aqua: other JIT code.
        FrameKind::Jit => (
            lerp(50.0, 110.0, v),
            lerp(190.0, 230.0, w),
            lerp(200.0, 240.0, v),
        ),
        FrameKind::Unknown => (
            lerp(170.0, 200.0, v),
            lerp(170.0, 200.0, v),
            lerp(170.0, 200.0, v),
        ),
    };
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
        for (_, frame) in profile.frames.iter() {
            let name = profile.str(frame.name);
            palette_map.insert(name, kind_color(frame.kind, name));
        }
        // The folded writer may annotate names (`_[k]`, `_[j]`): colour
        // those spellings too. Root frames (thread names) are not frames;
        // inferno gives names missing from the map its own hot colours,
        // which are the native ones. Built from the distinct frames, never
        // from the (much longer) folded text.
        for (_, frame) in profile.frames.iter() {
            let suffix = match frame.kind {
                FrameKind::Kernel => "_[k]",
                FrameKind::Jit | FrameKind::Python => "_[j]",
                _ => continue,
            };
            let name = profile.str(frame.name);
            palette_map.insert(format!("{name}{suffix}"), kind_color(frame.kind, name));
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
    let width_per_weight_pct = 100.0 / total as f64;
    min_width_percent / width_per_weight_pct
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
        let py = p.intern_frame_named("py::handler:/app/app.py", FrameKind::Python);
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
