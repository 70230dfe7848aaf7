//! What a flame graph will not draw, known while a profile is read.
//!
//! A flame graph draws a frame only when its weight is at least a minimum
//! width of the total (inferno's `--minwidth`); on a large recording almost
//! every distinct stack ends in frames far narrower than that. A reader
//! whose profile will only be drawn as one flame graph can intern each
//! sample's stack cut below the first frame that would not be drawn
//! ([`FlameGraphPruning`]): the graph is the same, and the stack tree holds
//! thousands of nodes instead of tens of millions.

use std::fmt;
use std::sync::Arc;

use crate::{FrameId, Profile};

/// The least weight a frame needs to be drawn, for a graph of `total`
/// weight and a minimum width of `min_width_percent` percent of it
/// (inferno's `--minwidth`): a frame is drawn unless its weight is below
/// this (computed as inferno does, so that the two agree to the last bit).
///
/// ```
/// let w = stackconv_model::pruning::min_drawn_weight(1_000_000, 0.1);
/// assert_eq!(w, 1000.0);
/// ```
pub fn min_drawn_weight(total: u64, min_width_percent: f64) -> f64 {
    let width_per_weight_pct = 100.0 / total as f64;
    min_width_percent / width_per_weight_pct
}

/// How a flame graph tells frames and roots apart: frames it draws with one
/// text are one frame to it, and threads whose stacks start at one root
/// text (the thread's name, say) share one root.
///
/// ```
/// use stackconv_model::pruning::DrawnKeys;
/// use stackconv_model::{FrameKind, Profile};
/// let mut p = Profile::new(vec![]);
/// let a = p.intern_frame_named("a", FrameKind::Native);
/// let b = p.intern_frame_named("a", FrameKind::Inline);
/// // Drawn alike: `b` is drawn as `a`.
/// let keys = DrawnKeys { frames: vec![a, a], threads: vec![] };
/// assert_eq!(keys.frames[b.index()], a);
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DrawnKeys {
    /// For each frame of the profile (by index), the first frame drawn with
    /// the same text (itself when no earlier frame is).
    pub frames: Vec<FrameId>,
    /// For each thread of the profile (by index), its root: threads drawn
    /// under one root text have one number.
    pub threads: Vec<u32>,
}

/// What tells a flame graph's frames and roots apart in a profile
/// ([`DrawnKeys`]), or `None` when cutting its stacks could change the
/// picture.
pub type KeysFn = dyn Fn(&Profile) -> Option<DrawnKeys> + Send + Sync;

/// A reader's promise that the profile it reads is only drawn as one flame
/// graph, of value column `column`, at a minimum width of
/// `min_width_percent`: each sample's stack may be cut one frame below the
/// first frame too narrow to be drawn (which keeps the place of what it
/// covers, and one callee keeps its lines of folded text sorted where the
/// whole stack's are). The frames drawn, their widths and
/// positions stay the same, and so does every total; the stacks below are
/// gone, so the profile is good for that graph only (not for folded text,
/// another minimum width, or filters and transforms).
///
/// Frames drawn with one text may also stand for each other in the cut
/// stacks (see [`DrawnKeys::frames`]).
///
/// ```
/// use std::sync::Arc;
/// use stackconv_model::pruning::{DrawnKeys, FlameGraphPruning};
///
/// // Every frame and thread its own: no two frames share a text.
/// let pruning = FlameGraphPruning {
///     min_width_percent: 0.1,
///     column: None,
///     keys: Arc::new(|p| {
///         Some(DrawnKeys {
///             frames: p.frames().iter().map(|(id, _)| id).collect(),
///             threads: (0..p.threads().len() as u32).collect(),
///         })
///     }),
/// };
/// assert!(format!("{pruning:?}").contains("0.1"));
/// ```
#[derive(Clone)]
pub struct FlameGraphPruning {
    /// The minimum width of a drawn frame, in percent of the total.
    pub min_width_percent: f64,
    /// The value column drawn; `None`: the profile's default.
    pub column: Option<usize>,
    /// How the graph tells frames and roots apart, asked once every frame
    /// and thread is known; `None` from it: nothing is cut.
    pub keys: Arc<KeysFn>,
}

impl fmt::Debug for FlameGraphPruning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FlameGraphPruning")
            .field("min_width_percent", &self.min_width_percent)
            .field("column", &self.column)
            .finish_non_exhaustive()
    }
}
