//! The reader: a `.cpuprofile` to a model profile.

use std::collections::HashMap;

use serde::Deserialize;
use stackconv_model::{Frame, FrameId, FrameKind, Profile, StackId, StringId, ValueType};

use crate::error::Error;
use crate::MAX_TIME_DELTA_US;

#[derive(Deserialize)]
struct ProfileIn {
    nodes: Vec<NodeIn>,
    #[serde(rename = "startTime", default)]
    start_time: i64,
    #[serde(rename = "endTime", default)]
    end_time: Option<i64>,
    samples: Vec<u64>,
    #[serde(rename = "timeDeltas", default)]
    time_deltas: Vec<i64>,
}

#[derive(Deserialize)]
struct NodeIn {
    id: u64,
    #[serde(rename = "callFrame")]
    call_frame: CallFrameIn,
    #[serde(default)]
    children: Vec<u64>,
    #[serde(default)]
    parent: Option<u64>,
}

#[derive(Deserialize)]
struct CallFrameIn {
    #[serde(rename = "functionName", default)]
    function_name: String,
    #[serde(default)]
    url: String,
    #[serde(rename = "lineNumber", default = "minus_one")]
    line_number: i64,
}

fn minus_one() -> i64 {
    -1
}

/// The frame kind of a call frame: V8's pseudo-frames are the VM's own
/// (native) work, everything else is JavaScript, compiled by V8's JIT.
fn frame_kind(name: &str) -> FrameKind {
    match name {
        "(program)" | "(garbage collector)" => FrameKind::Native,
        "(idle)" => FrameKind::Unknown,
        _ => FrameKind::Jit,
    }
}

/// Each node's parent index, from `children` and `parent` (which must
/// agree: one parent per node).
fn parents(nodes: &[NodeIn], index: &HashMap<u64, usize>) -> Result<Vec<Option<usize>>, Error> {
    let mut parent: Vec<Option<usize>> = vec![None; nodes.len()];
    let mut set = |child: usize, p: usize| -> Result<(), Error> {
        let Some(slot) = parent.get_mut(child) else {
            return Ok(());
        };
        match *slot {
            Some(old) if old != p => Err(Error::TwoParents {
                node: child,
                id: nodes.get(child).map_or(0, |n| n.id),
                first: nodes.get(old).map_or(0, |n| n.id),
                second: nodes.get(p).map_or(0, |n| n.id),
            }),
            _ => {
                *slot = Some(p);
                Ok(())
            }
        }
    };
    for (i, node) in nodes.iter().enumerate() {
        for (k, &child) in node.children.iter().enumerate() {
            let c = *index.get(&child).ok_or_else(|| Error::UnknownNode {
                node: i,
                field: format!("children[{k}]"),
                id: child,
            })?;
            set(c, i)?;
        }
        if let Some(p) = node.parent {
            let p = *index.get(&p).ok_or_else(|| Error::UnknownNode {
                node: i,
                field: "parent".to_string(),
                id: p,
            })?;
            set(i, p)?;
        }
    }
    Ok(parent)
}

/// Each node's model stack (`None` for a root `(root)` node), walking
/// parent chains iteratively: no recursion, each node visited once, and a
/// cycle found rather than followed.
fn node_stacks(
    out: &mut Profile,
    nodes: &[NodeIn],
    parent: &[Option<usize>],
) -> Result<Vec<Option<StackId>>, Error> {
    #[derive(Clone, Copy)]
    enum State {
        New,
        OnPath,
        Done(Option<StackId>),
    }
    let mut frames: HashMap<(&str, &str, i64), FrameId> = HashMap::new();
    let mut state = vec![State::New; nodes.len()];
    let mut path: Vec<usize> = Vec::new();
    for start in 0..nodes.len() {
        // Walk up to a node already done (or a root), then intern down.
        let mut at = Some(start);
        let mut above: Option<StackId> = None;
        while let Some(i) = at {
            match state.get(i).copied() {
                Some(State::Done(s)) => {
                    above = s;
                    break;
                }
                Some(State::OnPath) => {
                    return Err(Error::Cycle {
                        node: i,
                        id: nodes.get(i).map_or(0, |n| n.id),
                    })
                }
                Some(State::New) => {
                    if let Some(s) = state.get_mut(i) {
                        *s = State::OnPath;
                    }
                    path.push(i);
                    at = parent.get(i).copied().flatten();
                }
                None => break,
            }
        }
        while let Some(i) = path.pop() {
            let Some(node) = nodes.get(i) else { continue };
            let cf = &node.call_frame;
            let is_root = parent.get(i).copied().flatten().is_none();
            let stack = if is_root && cf.function_name == "(root)" {
                above
            } else {
                let key = (cf.function_name.as_str(), cf.url.as_str(), cf.line_number);
                let frame = match frames.get(&key) {
                    Some(&f) => f,
                    None => {
                        let f = intern_frame(out, cf);
                        frames.insert(key, f);
                        f
                    }
                };
                Some(out.intern_stack(above, frame))
            };
            if let Some(s) = state.get_mut(i) {
                *s = State::Done(stack);
            }
            above = stack;
        }
    }
    Ok(state
        .into_iter()
        .map(|s| match s {
            State::Done(s) => s,
            State::New | State::OnPath => None,
        })
        .collect())
}

fn intern_frame(out: &mut Profile, cf: &CallFrameIn) -> FrameId {
    let name = if cf.function_name.is_empty() {
        "(anonymous)"
    } else {
        &cf.function_name
    };
    // lineNumber is 0-based, -1 when unknown.
    let line = cf
        .line_number
        .checked_add(1)
        .and_then(|l| u32::try_from(l).ok())
        .unwrap_or(0);
    let frame = Frame {
        name: out.intern_str(name),
        module: StringId::EMPTY,
        file: out.intern_str(&cf.url),
        line,
        kind: frame_kind(&cf.function_name),
    };
    out.intern_frame(frame)
}

/// Sample times in nanoseconds: `startTime` plus the deltas, checked.
fn sample_times(pr: &ProfileIn) -> Result<Vec<u64>, Error> {
    if pr.samples.len() != pr.time_deltas.len() {
        return Err(Error::LengthMismatch {
            samples: pr.samples.len(),
            time_deltas: pr.time_deltas.len(),
        });
    }
    let mut times = Vec::with_capacity(pr.time_deltas.len());
    let mut t_us = pr.start_time;
    for (index, &delta) in pr.time_deltas.iter().enumerate() {
        if !(0..=MAX_TIME_DELTA_US).contains(&delta) {
            return Err(Error::BadTimeDelta { index, delta });
        }
        t_us = t_us.saturating_add(delta);
        times.push(to_ns(t_us).ok_or(Error::BadTime {
            sample: index,
            time_us: t_us,
        })?);
    }
    Ok(times)
}

fn to_ns(us: i64) -> Option<u64> {
    u64::try_from(us).ok()?.checked_mul(1000)
}

/// Read a `.cpuprofile` (Node `--cpu-prof`, Chrome DevTools) into a
/// profile.
///
/// See the [crate documentation](crate) for how nodes, samples and time
/// deltas map onto the model.
///
/// # Errors
///
/// [`Error::Json`] for malformed JSON or a missing or mistyped field; the
/// other variants for values that do not fit together (an unknown node
/// id, a cycle, a negative time delta, ...), each naming the JSON path.
///
/// ```
/// let json = br#"{"nodes":[
///     {"id":1,"callFrame":{"functionName":"(root)","url":"","lineNumber":-1},"children":[2]},
///     {"id":2,"callFrame":{"functionName":"main","url":"file:///app.js","lineNumber":0}}],
///   "startTime":100,"endTime":130,"samples":[2,2],"timeDeltas":[0,10]}"#;
/// let p = stackconv_chrome::read(json)?;
/// assert_eq!(p.samples().column(0), Some(&[10_000, 20_000][..])); // ns to the next sample
/// assert_eq!(p.samples().times(), Some(&[100_000, 110_000][..]));
/// # Ok::<(), stackconv_chrome::Error>(())
/// ```
pub fn read(data: &[u8]) -> Result<Profile, Error> {
    let pr: ProfileIn = serde_json::from_slice(data).map_err(Error::json)?;

    let mut index: HashMap<u64, usize> = HashMap::with_capacity(pr.nodes.len());
    for (i, node) in pr.nodes.iter().enumerate() {
        if let Some(&first) = index.get(&node.id) {
            return Err(Error::DuplicateNodeId {
                node: i,
                id: node.id,
                first,
            });
        }
        index.insert(node.id, i);
    }
    let parent = parents(&pr.nodes, &index)?;
    let times = sample_times(&pr)?;

    let mut out = Profile::new(vec![
        ValueType::new("cpu", "nanoseconds"),
        ValueType::new("samples", "count"),
    ]);
    out.meta_mut().source_format = "cpuprofile".to_string();
    out.meta_mut().comm_root = false;
    let stacks = node_stacks(&mut out, &pr.nodes, &parent)?;
    let thread = out.intern_thread(stackconv_model::Thread::default());

    let end_ns = pr.end_time.and_then(to_ns);
    // The time column's total, which must fit 64 bits (an `endTime` far
    // past the last sample, or a long run of day-long deltas, can pass it).
    let mut total: i64 = 0;
    for (sample, &id) in pr.samples.iter().enumerate() {
        let node = *index
            .get(&id)
            .ok_or(Error::UnknownSampleNode { sample, id })?;
        let stack = stacks.get(node).copied().flatten();
        let (Some(&t), next) = (times.get(sample), times.get(sample.saturating_add(1))) else {
            continue;
        };
        // A sample lasts until the next one; the last one until endTime
        // (0 when endTime is missing or before it, as DevTools counts it).
        let end = next.copied().or(end_ns).unwrap_or(t);
        let overflow = || Error::WeightOverflow { sample };
        let weight = i64::try_from(end.saturating_sub(t)).map_err(|_| overflow())?;
        total = total.checked_add(weight).ok_or_else(overflow)?;
        out.push_sample(stack, thread, Some(t), &[weight, 1]);
    }
    if let (Some(first), Some(last)) = (times.first(), end_ns.or(times.last().copied())) {
        out.meta_mut().duration_ns = Some(last.saturating_sub(*first));
    }
    Ok(out)
}
