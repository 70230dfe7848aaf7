//! Operations across profiles.

use crate::profile::{Profile, ValueType};
use crate::tables::{FrameId, StackId, ThreadId};

/// Why profiles could not be merged.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum MergeError {
    /// No profiles were given.
    Empty,
    /// The merged weights of a value column add up to more than 2^63-1.
    WeightOverflow {
        /// The column's kind.
        column: String,
    },
}

impl std::fmt::Display for MergeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            MergeError::Empty => write!(f, "no profiles to merge"),
            MergeError::WeightOverflow { column } => write!(
                f,
                "merged inputs: the total {column} weight overflows 64 bits"
            ),
        }
    }
}

impl std::error::Error for MergeError {}

/// Merge profiles into one.
///
/// Value columns are matched by kind and unit; a column one input lacks is
/// 0 for its samples, so the total of every column of the result is the sum
/// of that column over the inputs. Timestamps are kept only when every input
/// has them. Meta data: the first input's, with events, losses and warnings
/// of all.
///
/// ```
/// use stackconv_model::{merge, FrameKind, Profile, ValueType};
///
/// let mut a = Profile::new(vec![ValueType::new("samples", "count")]);
/// let f = a.intern_frame_named("main", FrameKind::Native);
/// let s = a.intern_stack_frames([f]);
/// let t = a.intern_thread(Default::default());
/// a.push_sample(s, t, None, &[2]);
/// let b = a.clone();
/// let m = merge(&[a, b])?;
/// assert_eq!(m.total(0), 4);
/// assert_eq!(m.fold().samples().len(), 1);
/// # Ok::<(), stackconv_model::MergeError>(())
/// ```
///
/// # Errors
///
/// [`MergeError::Empty`] when `profiles` is empty,
/// [`MergeError::WeightOverflow`] when a column's weights add up to more
/// than 2^63-1.
pub fn merge(profiles: &[Profile]) -> Result<Profile, MergeError> {
    let first = profiles.first().ok_or(MergeError::Empty)?;
    let mut value_types: Vec<ValueType> = Vec::new();
    for p in profiles {
        for v in &p.value_types {
            if !value_types.contains(v) {
                value_types.push(v.clone());
            }
        }
    }
    let mut out = Profile::new(value_types);
    out.meta = first.meta.clone();
    let keep_times = profiles.iter().all(|p| p.has_times());
    for (n, p) in profiles.iter().enumerate() {
        if n > 0 {
            for e in &p.meta.events {
                if !out.meta.events.contains(e) {
                    out.meta.events.push(e.clone());
                }
            }
            for l in &p.meta.losses {
                out.meta.add_loss(&l.what, l.count);
            }
            out.meta.warnings.extend(p.meta.warnings.iter().cloned());
            if out.meta.source_format != p.meta.source_format {
                out.meta.source_format = "mixed".to_string();
            }
        }
        let columns: Vec<usize> = p
            .value_types
            .iter()
            .map(|v| out.value_types.iter().position(|o| o == v).unwrap_or(0))
            .collect();
        let mut frame_map: Vec<Option<FrameId>> = vec![None; p.frames.len()];
        let mut stack_map: Vec<Option<StackId>> = vec![None; p.stacks.len()];
        let mut thread_map: Vec<Option<ThreadId>> = vec![None; p.threads.len()];
        // Parents have smaller ids than children, so one pass in id order
        // maps every stack.
        for (id, node) in p.stacks.iter() {
            let frame = match frame_map.get(node.frame.index()).copied().flatten() {
                Some(f) => f,
                None => {
                    let f = out.import_frame(p, node.frame);
                    if let Some(slot) = frame_map.get_mut(node.frame.index()) {
                        *slot = Some(f);
                    }
                    f
                }
            };
            let parent = node
                .parent
                .and_then(|par| stack_map.get(par.index()).copied().flatten());
            let s = out.intern_stack(parent, frame);
            if let Some(slot) = stack_map.get_mut(id.index()) {
                *slot = Some(s);
            }
        }
        let mut values = vec![0i64; out.value_types.len()];
        for i in 0..p.samples.len() {
            let (Some(&stack), Some(&thread)) = (p.samples.stacks.get(i), p.samples.threads.get(i))
            else {
                continue;
            };
            let stack = stack.and_then(|s| stack_map.get(s.index()).copied().flatten());
            let thread = match thread_map.get(thread.index()).copied().flatten() {
                Some(t) => t,
                None => {
                    let t = out.import_thread(p, thread);
                    if let Some(slot) = thread_map.get_mut(thread.index()) {
                        *slot = Some(t);
                    }
                    t
                }
            };
            values.iter_mut().for_each(|v| *v = 0);
            for (c, &oc) in columns.iter().enumerate() {
                if let Some(v) = values.get_mut(oc) {
                    *v = v.saturating_add(p.value(c, i));
                }
            }
            let time = if keep_times {
                p.samples.times.as_ref().and_then(|t| t.get(i).copied())
            } else {
                None
            };
            out.push_sample(stack, thread, time, &values);
        }
    }
    // Each input's weights fit 64 bits (its reader checks); together
    // they may not.
    for (c, vt) in out.value_types.iter().enumerate() {
        if out.checked_total(c).is_none() {
            return Err(MergeError::WeightOverflow {
                column: vt.kind.clone(),
            });
        }
    }
    Ok(out)
}
