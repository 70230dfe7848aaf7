//! The writer: a model profile to one `.cpuprofile`.

use std::collections::HashMap;
use std::io::Write;

use serde::Serialize;
use stackconv_model::{Profile, StackId};

use crate::error::Error;

/// Options for [`write()`](crate::write()).
#[non_exhaustive]
#[derive(Clone, Debug, Default)]
pub struct WriteOptions {
    /// The value column that gives each sample's time span; `None` means
    /// the profile's [`Meta::default_value`](stackconv_model::Meta::default_value).
    pub value: Option<usize>,
}

#[derive(Serialize)]
struct ProfileOut<'a> {
    nodes: Vec<NodeOut<'a>>,
    #[serde(rename = "startTime")]
    start_time: u64,
    #[serde(rename = "endTime")]
    end_time: u64,
    samples: Vec<u64>,
    #[serde(rename = "timeDeltas")]
    time_deltas: Vec<u64>,
}

#[derive(Serialize)]
struct NodeOut<'a> {
    id: u64,
    #[serde(rename = "callFrame")]
    call_frame: CallFrameOut<'a>,
    #[serde(rename = "hitCount")]
    hit_count: u64,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    children: Vec<u64>,
}

#[derive(Serialize)]
struct CallFrameOut<'a> {
    #[serde(rename = "functionName")]
    function_name: &'a str,
    #[serde(rename = "scriptId")]
    script_id: String,
    url: &'a str,
    #[serde(rename = "lineNumber")]
    line_number: i64,
    #[serde(rename = "columnNumber")]
    column_number: i64,
}

/// Nanoseconds a unit of a column that is not a time is drawn as.
const NS_PER_COUNT: u64 = 1_000_000;

/// Write `profile` as one `.cpuprofile` (all threads merged).
///
/// The node tree is the model's stack tree under a `(root)` node. The
/// samples are laid end to end, each as long as its value in the written
/// column (nanoseconds, rounded to microseconds along the running total so
/// that the total stays exact to a microsecond; a column that is not a
/// time counts 1 ms per unit): in time order when the profile has
/// timestamps (the first at its own time), else one sample per distinct
/// stack, in order of first appearance, starting at 0. So Chrome
/// DevTools' and speedscope's self times are the model's weights, and a
/// `.cpuprofile` read by [`read()`](crate::read()) is written back with the
/// same samples, times and weights.
///
/// # Errors
///
/// [`Error::NoSuchValue`] when the column does not exist,
/// [`Error::NegativeValue`] for a negative weight, [`Error::Io`] when
/// writing fails. Nothing is written on the first two.
///
/// ```
/// use stackconv_model::{FrameKind, Profile, ValueType};
/// let mut p = Profile::new(vec![ValueType::new("cpu", "nanoseconds")]);
/// let f = p.intern_frame_named("main", FrameKind::Jit);
/// let s = p.intern_stack_frames([f]);
/// let t = p.intern_thread_named(None, None, "", "");
/// p.push_sample(s, t, None, &[5_000]);
/// let mut out = Vec::new();
/// stackconv_chrome::write(&p, &stackconv_chrome::WriteOptions::default(), &mut out)?;
/// let back = stackconv_chrome::read(&out)?;
/// assert_eq!(back.total(0), 5_000);
/// # Ok::<(), stackconv_chrome::Error>(())
/// ```
pub fn write(profile: &Profile, opts: &WriteOptions, out: impl Write) -> Result<(), Error> {
    let doc = plan(profile, opts)?;
    let mut out = std::io::BufWriter::new(out);
    serde_json::to_writer(&mut out, &doc).map_err(|e| Error::Io(e.into()))?;
    out.flush()?;
    Ok(())
}

fn plan<'a>(p: &'a Profile, opts: &WriteOptions) -> Result<ProfileOut<'a>, Error> {
    let column = opts.value.unwrap_or(p.meta().default_value);
    let no_such = || Error::NoSuchValue {
        column,
        columns: p.value_types().len(),
    };
    let vt = p.value_types().get(column).ok_or_else(no_such)?;
    let values = p.samples().values().get(column).ok_or_else(no_such)?;
    let ns_per_unit = if vt.unit == "nanoseconds" {
        1
    } else {
        NS_PER_COUNT
    };

    // (stack, weight in ns) rows in the order they are written.
    let mut rows: Vec<(Option<StackId>, u64)> = Vec::new();
    let mut start_ns = 0;
    let weight = |i: usize| -> Result<u64, Error> {
        let v = values.get(i).copied().unwrap_or(0);
        u64::try_from(v)
            .map(|v| v.saturating_mul(ns_per_unit))
            .map_err(|_| Error::NegativeValue {
                sample: i,
                column: vt.kind.clone(),
                value: v,
            })
    };
    match p.samples().times() {
        Some(times) => {
            let mut order: Vec<usize> = (0..p.samples().len()).collect();
            // Stable: samples at equal times keep their order.
            order.sort_by_key(|&i| times.get(i).copied().unwrap_or(u64::MAX));
            start_ns = order
                .first()
                .and_then(|&i| times.get(i))
                .copied()
                .unwrap_or(0);
            for i in order {
                let stack = p.samples().stacks().get(i).copied().flatten();
                rows.push((stack, weight(i)?));
            }
        }
        None => {
            let mut row_of: HashMap<Option<StackId>, usize> = HashMap::new();
            for i in 0..p.samples().len() {
                let stack = p.samples().stacks().get(i).copied().flatten();
                let w = weight(i)?;
                match row_of.get(&stack) {
                    Some(&r) => {
                        if let Some(row) = rows.get_mut(r) {
                            row.1 = row.1.saturating_add(w);
                        }
                    }
                    None => {
                        row_of.insert(stack, rows.len());
                        rows.push((stack, w));
                    }
                }
            }
        }
    }

    // Node ids: 1 is (root); each model stack used gets the next id, its
    // ancestors first, so parents are listed before their children.
    let mut node_of: HashMap<StackId, u64> = HashMap::new();
    let mut nodes: Vec<NodeOut<'a>> = vec![NodeOut {
        id: 1,
        call_frame: CallFrameOut {
            function_name: "(root)",
            script_id: "0".to_string(),
            url: "",
            line_number: -1,
            column_number: -1,
        },
        hit_count: 0,
        children: Vec::new(),
    }];
    let mut script_ids: HashMap<&'a str, u64> = HashMap::new();
    let mut samples = Vec::with_capacity(rows.len());
    let mut time_deltas = Vec::with_capacity(rows.len());
    let mut elapsed_ns: u64 = 0;
    let mut last_us: u64 = start_ns / 1000;
    let start_us = last_us;
    let mut chain: Vec<StackId> = Vec::new();
    for (stack, w) in rows {
        // The stack's nodes not yet written, innermost first.
        chain.clear();
        let mut at = stack;
        while let Some(s) = at {
            if node_of.contains_key(&s) {
                break;
            }
            chain.push(s);
            at = p.stacks().get(s).parent;
        }
        let mut parent_id = at.and_then(|s| node_of.get(&s).copied()).unwrap_or(1);
        while let Some(s) = chain.pop() {
            let id = u64::try_from(nodes.len())
                .unwrap_or(u64::MAX)
                .saturating_add(1);
            let frame = p.frame(p.stacks().get(s).frame);
            let url = p.str(frame.file);
            let next_script = u64::try_from(script_ids.len())
                .unwrap_or(0)
                .saturating_add(1);
            let script = if url.is_empty() {
                0
            } else {
                *script_ids.entry(url).or_insert(next_script)
            };
            nodes.push(NodeOut {
                id,
                call_frame: CallFrameOut {
                    function_name: p.str(frame.name),
                    script_id: script.to_string(),
                    url,
                    line_number: i64::from(frame.line).saturating_sub(1),
                    column_number: -1,
                },
                hit_count: 0,
                children: Vec::new(),
            });
            if let Some(parent) = usize::try_from(parent_id)
                .ok()
                .and_then(|p| nodes.get_mut(p.saturating_sub(1)))
            {
                parent.children.push(id);
            }
            node_of.insert(s, id);
            parent_id = id;
        }
        let id = stack.and_then(|s| node_of.get(&s).copied()).unwrap_or(1);
        if let Some(node) = usize::try_from(id)
            .ok()
            .and_then(|i| nodes.get_mut(i.saturating_sub(1)))
        {
            node.hit_count = node.hit_count.saturating_add(1);
        }
        // This sample starts at start + the weights before it, rounded
        // to microseconds along the running total.
        let at_us = start_ns.saturating_add(elapsed_ns) / 1000;
        samples.push(id);
        time_deltas.push(at_us.saturating_sub(last_us));
        last_us = at_us;
        elapsed_ns = elapsed_ns.saturating_add(w);
    }
    let end_time = start_ns.saturating_add(elapsed_ns) / 1000;
    Ok(ProfileOut {
        nodes,
        start_time: start_us,
        end_time,
        samples,
        time_deltas,
    })
}
