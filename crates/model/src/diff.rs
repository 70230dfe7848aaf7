//! Differential profiles: two profiles' stacks aligned, as
//! `inferno-diff-folded` and `go tool pprof -diff_base` do.
//!
//! Stacks are aligned by the sequence of their frames' display names (the
//! folded text of the stack, frames joined by `;`), whatever their threads:
//! a caller that wants thread or process roots puts them into the stacks
//! before diffing. Each profile contributes its shown value column
//! ([`crate::Meta::default_value`], or the columns given to [`diff_columns`]).
//!
//! Normalisation follows inferno 0.12.8 (`src/differential/mod.rs`,
//! `from_readers`): when asked and the totals differ, every *before* count
//! becomes `(before as f64 * total_after as f64 / total_before as f64)`
//! truncated toward zero (Rust's `as` conversion).
//!
//! Samples with 0 in the shown column make no row (a folded file of that
//! column has no line for them). inferno writes its lines in hash-map order; [`Diff::rows`] are sorted by
//! their folded text (byte order), so output is deterministic; compare with
//! inferno's output as sorted lines.
//!
//! ```
//! use stackconv_model::diff::diff;
//! use stackconv_model::{FrameKind, Profile, ValueType};
//!
//! let folded = |lines: &[(&[&str], i64)]| {
//!     let mut p = Profile::new(vec![ValueType::new("samples", "count")]);
//!     let t = p.intern_thread(Default::default());
//!     for (names, n) in lines {
//!         let frames: Vec<_> = names.iter().map(|n| p.intern_frame_named(n, FrameKind::Native)).collect();
//!         let s = p.intern_stack_frames(frames);
//!         p.push_sample(s, t, None, &[*n]);
//!     }
//!     p
//! };
//! let before = folded(&[(&["main", "a"], 10), (&["main", "b"], 10)]);
//! let after = folded(&[(&["main", "b"], 30), (&["main", "c"], 10)]);
//! let d = diff(&before, &after, false);
//! let rows: Vec<_> = d.rows.iter().map(|r| (r.folded.as_str(), r.before, r.after)).collect();
//! assert_eq!(rows, [("main;a", 10, 0), ("main;b", 10, 30), ("main;c", 0, 10)]);
//! let n = diff(&before, &after, true);
//! assert_eq!(n.rows[0].before, 20); // 10 * 40 / 20
//! let p = d.to_profile();
//! assert_eq!((p.total(0), p.total(1)), (20, 40));
//! let delta = d.delta_profile();
//! assert_eq!(delta.total(0), 20); // 40 - 20
//! ```

use std::collections::HashMap;

use crate::profile::{Label, Profile, ValueType};
use crate::tables::{FrameId, StackId};

/// One aligned stack.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct DiffRow {
    /// The stack as folded text: display names root first, joined by `;`.
    pub folded: String,
    /// The before weight (normalised when asked).
    pub before: i64,
    /// The after weight.
    pub after: i64,
    /// The stack in [`Diff::frames`].
    pub stack: Option<StackId>,
}

/// Two profiles aligned stack by stack; see the [module docs](self).
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct Diff {
    /// One row per stack present in either profile, sorted by
    /// [`DiffRow::folded`].
    pub rows: Vec<DiffRow>,
    /// The before profile's total of its shown column, before normalising.
    pub before_total: i64,
    /// The after profile's total of its shown column.
    pub after_total: i64,
    /// Whether the before weights were normalised.
    pub normalized: bool,
    /// The after profile's shown value type (the unit of both columns).
    pub value_type: ValueType,
    /// The frames and stacks the rows point to (frames of the profile a
    /// stack was first seen in; the before profile first); it has no
    /// samples.
    pub frames: Profile,
}

/// Align `before` and `after` by stack, on each profile's default value
/// column; with `normalize`, scale the before weights to the after total
/// as `inferno-diff-folded -n` does.
pub fn diff(before: &Profile, after: &Profile, normalize: bool) -> Diff {
    diff_columns(
        before,
        before.meta.default_value,
        after,
        after.meta.default_value,
        normalize,
    )
}

/// [`diff`] on the given value columns.
pub fn diff_columns(
    before: &Profile,
    before_column: usize,
    after: &Profile,
    after_column: usize,
    normalize: bool,
) -> Diff {
    let value_type = after
        .value_types
        .get(after_column)
        .or_else(|| before.value_types.get(before_column))
        .cloned()
        .unwrap_or_else(|| ValueType::new("samples", "count"));
    let mut frames = Profile::new(vec![value_type.clone()]);
    let mut index: HashMap<String, usize> = HashMap::new();
    let mut rows: Vec<DiffRow> = Vec::new();
    let mut totals = [0i64; 2];
    for (side, (p, column)) in [(before, before_column), (after, after_column)]
        .into_iter()
        .enumerate()
    {
        // Per distinct stack of `p`: its row.
        let mut row_of: HashMap<Option<StackId>, usize> = HashMap::new();
        let mut frame_map: HashMap<FrameId, FrameId> = HashMap::new();
        for i in 0..p.samples.len() {
            let stack = p.samples.stacks.get(i).copied().flatten();
            let v = p.value(column, i);
            if let Some(t) = totals.get_mut(side) {
                *t = t.saturating_add(v);
            }
            if v == 0 {
                // A sample of another event (0 in this column) is not a
                // line of this column's folded file.
                continue;
            }
            let row = match row_of.get(&stack) {
                Some(&r) => r,
                None => {
                    let ids = p.stack_frames(stack);
                    let folded = ids
                        .iter()
                        .map(|&f| p.frame_name(f))
                        .collect::<Vec<_>>()
                        .join(";");
                    let r = match index.get(&folded) {
                        Some(&r) => r,
                        None => {
                            let mut parent = None;
                            for &f in &ids {
                                let g = *frame_map
                                    .entry(f)
                                    .or_insert_with(|| frames.import_frame(p, f));
                                parent = Some(frames.intern_stack(parent, g));
                            }
                            index.insert(folded.clone(), rows.len());
                            rows.push(DiffRow {
                                folded,
                                before: 0,
                                after: 0,
                                stack: parent,
                            });
                            rows.len().saturating_sub(1)
                        }
                    };
                    row_of.insert(stack, r);
                    r
                }
            };
            if let Some(r) = rows.get_mut(row) {
                let slot = if side == 0 {
                    &mut r.before
                } else {
                    &mut r.after
                };
                *slot = slot.saturating_add(v);
            }
        }
    }
    let [before_total, after_total] = totals;
    let normalized = normalize && before_total != after_total;
    if normalized {
        for r in &mut rows {
            // inferno: (counts.first as f64 * total2 as f64 / total1 as f64) as usize
            r.before = (r.before as f64 * after_total as f64 / before_total as f64) as i64;
        }
    }
    rows.sort_by(|a, b| a.folded.cmp(&b.folded));
    Diff {
        rows,
        before_total,
        after_total,
        normalized,
        value_type,
        frames,
    }
}

impl Diff {
    /// A profile with two value columns, `before` and `after` (in the
    /// shown column's unit), one sample per row in row order, so a folded
    /// writer emits `stack before after` lines as `inferno-diff-folded`
    /// does. Its default value column is `after` (1).
    pub fn to_profile(&self) -> Profile {
        let unit = self.value_type.unit.clone();
        let mut p = self.frames.clone();
        p.value_types = vec![
            ValueType::new("before", unit.clone()),
            ValueType::new("after", unit),
        ];
        p.samples = crate::profile::Samples {
            values: vec![Vec::new(), Vec::new()],
            ..Default::default()
        };
        p.meta.source_format = "diff".to_string();
        p.meta.default_value = 1;
        let thread = p.intern_thread(Default::default());
        for r in &self.rows {
            p.push_sample(r.stack, thread, None, &[r.before, r.after]);
        }
        p
    }

    /// A pprof-style delta profile in one column (the shown value type),
    /// as `go tool pprof -diff_base BEFORE AFTER` builds it: every before
    /// weight negated and labelled `pprof::base=true`, every after weight
    /// as it is; a stack present in both has two samples. Its total is
    /// after - before.
    pub fn delta_profile(&self) -> Profile {
        let mut p = self.frames.clone();
        p.value_types = vec![self.value_type.clone()];
        p.samples = crate::profile::Samples {
            values: vec![Vec::new()],
            ..Default::default()
        };
        p.meta.source_format = "diff".to_string();
        p.meta.default_value = 0;
        let thread = p.intern_thread(Default::default());
        let base_label = Label {
            key: p.intern_str("pprof::base"),
            str: p.intern_str("true"),
            num: 0,
            num_unit: crate::strings::StringId::EMPTY,
        };
        let mut labels = Vec::new();
        for r in &self.rows {
            if r.before != 0 {
                p.push_sample(r.stack, thread, None, &[r.before.saturating_neg()]);
                labels.push(vec![base_label]);
            }
            if r.after != 0 {
                p.push_sample(r.stack, thread, None, &[r.after]);
                labels.push(Vec::new());
            }
        }
        p.samples.labels = Some(labels);
        p
    }
}
