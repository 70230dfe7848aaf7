//! The reader: a speedscope file to a model profile.

use std::collections::HashMap;

use serde::de::{DeserializeSeed, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer};
use stackconv_model::{Frame, FrameId, FrameKind, Profile, StackId, ThreadId, ValueType};

use crate::error::Error;

#[derive(Deserialize)]
struct FileIn {
    shared: SharedIn,
    profiles: Vec<ProfileIn>,
    #[serde(rename = "activeProfileIndex", default)]
    active_profile_index: Option<f64>,
}

#[derive(Deserialize)]
struct SharedIn {
    frames: Vec<FrameIn>,
}

#[derive(Deserialize)]
struct FrameIn {
    name: String,
    #[serde(default)]
    file: Option<String>,
    #[serde(default)]
    line: Option<f64>,
}

/// Both profile types in one struct: serde's tagged enums would buffer the
/// whole (possibly huge) profile before choosing a variant.
#[derive(Deserialize)]
struct ProfileIn {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    name: String,
    unit: String,
    #[serde(rename = "startValue", default)]
    start_value: Option<f64>,
    #[serde(rename = "endValue", default)]
    end_value: Option<f64>,
    #[serde(default)]
    samples: FlatStacks,
    #[serde(default)]
    weights: Vec<f64>,
    #[serde(default)]
    events: Vec<EventIn>,
}

#[derive(Deserialize)]
struct EventIn {
    #[serde(rename = "type")]
    kind: String,
    at: f64,
    frame: f64,
}

/// The `samples` of a sampled profile, flat: the frame indexes of every
/// sample end to end (no allocation per sample). An index that is not an
/// integer in `0..u32::MAX` is stored as `u32::MAX` and kept in `bad` by
/// its position, for the error message.
#[derive(Default)]
struct FlatStacks {
    idx: Vec<u32>,
    ends: Vec<usize>,
    bad: HashMap<usize, f64>,
}

impl FlatStacks {
    fn len(&self) -> usize {
        self.ends.len()
    }

    /// Each sample's frame indexes with the position of the first one.
    fn iter(&self) -> impl Iterator<Item = (usize, &[u32])> {
        let mut begin = 0;
        self.ends.iter().map(move |&end| {
            let start = begin;
            begin = end;
            (start, self.idx.get(start..end).unwrap_or_default())
        })
    }

    /// The index at flat position `pos` as the input wrote it.
    fn original(&self, pos: usize, idx: u32) -> f64 {
        self.bad.get(&pos).copied().unwrap_or(f64::from(idx))
    }
}

impl<'de> Deserialize<'de> for FlatStacks {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Outer;
        impl<'de> Visitor<'de> for Outer {
            type Value = FlatStacks;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("an array of stacks (arrays of frame indexes)")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<FlatStacks, A::Error> {
                let mut out = FlatStacks::default();
                while seq.next_element_seed(Stack(&mut out))?.is_some() {}
                Ok(out)
            }
        }
        d.deserialize_seq(Outer)
    }
}

/// One stack, appended to a [`FlatStacks`].
struct Stack<'a>(&'a mut FlatStacks);

impl<'de> DeserializeSeed<'de> for Stack<'_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for Stack<'_> {
    type Value = ();
    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a stack (an array of frame indexes)")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while let Some(v) = seq.next_element::<f64>()? {
            let idx = to_index(v, usize::MAX)
                .and_then(|i| u32::try_from(i).ok())
                .filter(|&i| i != u32::MAX);
            match idx {
                Some(i) => self.0.idx.push(i),
                None => {
                    self.0.bad.insert(self.0.idx.len(), v);
                    self.0.idx.push(u32::MAX);
                }
            }
        }
        self.0.ends.push(self.0.idx.len());
        Ok(())
    }
}

/// The model value column for a speedscope unit, and the factor that
/// turns a speedscope value into that column's unit.
fn column_for(unit: &str) -> Option<(ValueType, f64)> {
    let time = |scale| Some((ValueType::new("cpu", "nanoseconds"), scale));
    match unit {
        "nanoseconds" => time(1.0),
        "microseconds" => time(1e3),
        "milliseconds" => time(1e6),
        "seconds" => time(1e9),
        "bytes" => Some((ValueType::new("space", "bytes"), 1.0)),
        "none" => Some((ValueType::new("samples", "count"), 1.0)),
        _ => None,
    }
}

/// `v` rounded to an `i64` when it is finite, non-negative and fits.
fn to_weight(v: f64) -> Option<i64> {
    let r = v.round();
    // 2^63 is exactly representable; every f64 below it fits an i64.
    if (0.0..9_223_372_036_854_775_808.0).contains(&r) {
        #[allow(clippy::cast_possible_truncation)]
        Some(r as i64)
    } else {
        None
    }
}

/// `v` rounded to a `u64` timestamp when it is finite, non-negative and fits.
fn to_time(v: f64) -> Option<u64> {
    let r = v.round();
    if (0.0..18_446_744_073_709_551_616.0).contains(&r) {
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        Some(r as u64)
    } else {
        None
    }
}

/// `v` as an index below `len`, when it is a non-negative integer.
fn to_index(v: f64, len: usize) -> Option<usize> {
    if v.is_finite() && v >= 0.0 && v.fract() == 0.0 {
        let i = to_time(v)?;
        let i = usize::try_from(i).ok()?;
        (i < len).then_some(i)
    } else {
        None
    }
}

/// A frame's kind from what the file says: Python for Python source files
/// and perf-map `py::` names, unknown otherwise.
fn frame_kind(name: &str, file: &str) -> FrameKind {
    if stackconv_model::naming::is_python_perf_symbol(name)
        || stackconv_model::naming::is_python_source(file)
    {
        FrameKind::Python
    } else {
        FrameKind::Unknown
    }
}

/// Reads one profile's samples or events into `out`.
struct ProfileReader<'a> {
    out: &'a mut Profile,
    frames: &'a [FrameId],
    thread: ThreadId,
    column: usize,
    scale: f64,
    timed: bool,
    row: Vec<i64>,
    /// Each column's weight so far, over every profile read.
    totals: &'a mut [i64],
    index: usize,
    name: &'a str,
}

impl ProfileReader<'_> {
    /// Add a sample of `weight` (non-negative); `at` is where it was read
    /// (`weights` or `events`, and the index), for the error when the
    /// column's total would pass 2^63-1.
    fn push(
        &mut self,
        stack: Option<StackId>,
        weight: i64,
        time: Option<u64>,
        at: (&'static str, usize),
    ) -> Result<(), Error> {
        if let Some(total) = self.totals.get_mut(self.column) {
            *total = total
                .checked_add(weight)
                .ok_or_else(|| Error::WeightOverflow {
                    profile: self.index,
                    name: self.name.to_string(),
                    field: at.0,
                    index: at.1,
                })?;
        }
        if let Some(v) = self.row.get_mut(self.column) {
            *v = weight;
        }
        let time = if self.timed { time } else { None };
        self.out.push_sample(stack, self.thread, time, &self.row);
        Ok(())
    }

    fn sampled(&mut self, pr: &ProfileIn) -> Result<(), Error> {
        if pr.samples.len() != pr.weights.len() {
            return Err(Error::LengthMismatch {
                profile: self.index,
                name: self.name.to_string(),
                samples: pr.samples.len(),
                weights: pr.weights.len(),
            });
        }
        let start = pr.start_value.unwrap_or(0.0);
        // speedscope lays samples end to end from startValue, each as wide
        // as its weight: that is each sample's time.
        let mut at = start;
        // Equal index lists are equal stacks: intern each list once.
        let mut cache: HashMap<&[u32], Option<StackId>> = HashMap::new();
        for (sample, ((pos, stack), &weight)) in pr.samples.iter().zip(&pr.weights).enumerate() {
            let bad_weight = || Error::BadWeight {
                profile: self.index,
                name: self.name.to_string(),
                sample,
                weight,
            };
            if !weight.is_finite() || weight < 0.0 {
                return Err(bad_weight());
            }
            let value = to_weight(weight * self.scale).ok_or_else(bad_weight)?;
            let leaf = match cache.get(stack) {
                Some(&leaf) => leaf,
                None => {
                    let mut leaf = None;
                    for (k, &idx) in stack.iter().enumerate() {
                        let frame = usize::try_from(idx)
                            .ok()
                            .and_then(|i| self.frames.get(i))
                            .copied()
                            .ok_or_else(|| Error::SampleFrameIndex {
                                profile: self.index,
                                name: self.name.to_string(),
                                sample,
                                index: pr.samples.original(pos.saturating_add(k), idx),
                                frames: self.frames.len(),
                            })?;
                        leaf = Some(self.out.intern_stack(leaf, frame));
                    }
                    cache.insert(stack, leaf);
                    leaf
                }
            };
            let time = to_time(at * self.scale);
            self.push(leaf, value, time, ("weights", sample))?;
            at += weight;
        }
        Ok(())
    }

    fn evented(&mut self, pr: &ProfileIn) -> Result<(), Error> {
        let start = pr.start_value.unwrap_or(0.0);
        // Events before startValue are no error: start from the first.
        let mut last = pr.events.first().map_or(start, |e| e.at).min(start);
        // The open frames, innermost last, with the stack each opens.
        let mut open: Vec<(usize, StackId)> = Vec::new();
        for (event, ev) in pr.events.iter().enumerate() {
            if !ev.at.is_finite() || ev.at < last {
                return Err(Error::BadEventTime {
                    profile: self.index,
                    name: self.name.to_string(),
                    event,
                    at: ev.at,
                    previous: last,
                });
            }
            let (idx, frame) = to_index(ev.frame, self.frames.len())
                .and_then(|i| Some((i, *self.frames.get(i)?)))
                .ok_or_else(|| Error::EventFrameIndex {
                    profile: self.index,
                    name: self.name.to_string(),
                    event,
                    index: ev.frame,
                    frames: self.frames.len(),
                })?;
            if ev.at > last {
                if let Some(&(_, stack)) = open.last() {
                    let weight = ev.at - last;
                    let value = to_weight(weight * self.scale).ok_or_else(|| Error::BadWeight {
                        profile: self.index,
                        name: self.name.to_string(),
                        sample: event,
                        weight,
                    })?;
                    self.push(
                        Some(stack),
                        value,
                        to_time(last * self.scale),
                        ("events", event),
                    )?;
                }
                last = ev.at;
            }
            match ev.kind.as_str() {
                "O" => {
                    let parent = open.last().map(|&(_, s)| s);
                    let stack = self.out.intern_stack(parent, frame);
                    open.push((idx, stack));
                }
                "C" => match open.last() {
                    Some(&(top, _)) if top == idx => {
                        open.pop();
                    }
                    top => {
                        return Err(Error::UnmatchedClose {
                            profile: self.index,
                            name: self.name.to_string(),
                            event,
                            frame: idx,
                            open: top.map(|&(t, _)| t),
                        })
                    }
                },
                other => {
                    return Err(Error::UnknownEventType {
                        profile: self.index,
                        name: self.name.to_string(),
                        event,
                        found: other.to_string(),
                    })
                }
            }
        }
        if !open.is_empty() {
            // speedscope refuses such a profile too.
            return Err(Error::UnclosedFrames {
                profile: self.index,
                name: self.name.to_string(),
                open: open.len(),
            });
        }
        Ok(())
    }
}

/// The UTF-8 byte order mark.
const BOM: &[u8] = b"\xEF\xBB\xBF";

/// Read a speedscope file into a profile.
///
/// See the [crate documentation](crate) for how profiles, units, frames
/// and events map onto the model.
///
/// # Errors
///
/// [`Error::Json`] for malformed JSON or a missing or mistyped field; the
/// other variants for values that do
/// not fit together (a frame index outside `shared.frames`, a negative or
/// NaN weight, an unmatched close event, ...), each naming the profile and
/// the sample or event.
pub fn read(data: &[u8]) -> Result<Profile, Error> {
    // A UTF-8 byte order mark (Windows editors write one) is not JSON:
    // skip it, as `looks_like` does, keeping columns those of the file.
    let (data, shift) = match data.strip_prefix(BOM) {
        Some(rest) => (rest, BOM.len()),
        None => (data, 0),
    };
    let file: FileIn = serde_json::from_slice(data).map_err(|e| {
        let mut err = Error::json(e);
        if let Error::Json {
            line: 1, column, ..
        } = &mut err
        {
            *column = column.saturating_add(shift);
        }
        err
    })?;

    // One value column per distinct unit kind, in order of first use.
    let mut columns: Vec<ValueType> = Vec::new();
    let mut plans = Vec::with_capacity(file.profiles.len());
    for (index, pr) in file.profiles.iter().enumerate() {
        if pr.kind != "sampled" && pr.kind != "evented" {
            return Err(Error::UnknownProfileType {
                profile: index,
                name: pr.name.clone(),
                found: pr.kind.clone(),
            });
        }
        let (vt, scale) = column_for(&pr.unit).ok_or_else(|| Error::UnknownUnit {
            profile: index,
            name: pr.name.clone(),
            found: pr.unit.clone(),
        })?;
        let column = match columns.iter().position(|c| *c == vt) {
            Some(c) => c,
            None => {
                columns.push(vt);
                columns.len() - 1
            }
        };
        plans.push((column, scale));
    }
    if columns.is_empty() {
        columns.push(ValueType::new("samples", "count"));
    }
    let timed = columns.iter().all(|c| c.unit == "nanoseconds");

    let mut out = Profile::new(columns);
    out.meta_mut().source_format = "speedscope".to_string();
    out.meta_mut().comm_root = false;

    let frames: Vec<FrameId> = file
        .shared
        .frames
        .iter()
        .map(|f| {
            let file_name = f.file.as_deref().unwrap_or("");
            let kind = frame_kind(&f.name, file_name);
            let line = f
                .line
                .and_then(to_time)
                .and_then(|l| u32::try_from(l).ok())
                .unwrap_or(0);
            let frame = Frame {
                name: out.intern_str(&f.name),
                module: stackconv_model::StringId::EMPTY,
                file: out.intern_str(file_name),
                line,
                kind,
            };
            out.intern_frame(frame)
        })
        .collect();

    let ncols = out.value_types().len();
    let mut totals = vec![0i64; ncols];
    let mut duration_ns: Option<u64> = None;
    for (index, (pr, &(column, scale))) in file.profiles.iter().zip(&plans).enumerate() {
        let thread = out.intern_thread_named(None, None, "", &pr.name);
        let mut reader = ProfileReader {
            out: &mut out,
            frames: &frames,
            thread,
            column,
            scale,
            timed,
            row: vec![0; ncols],
            totals: &mut totals,
            index,
            name: &pr.name,
        };
        if pr.kind == "sampled" {
            reader.sampled(pr)?;
        } else {
            reader.evented(pr)?;
        }
        if timed {
            if let (Some(s), Some(e)) = (pr.start_value, pr.end_value) {
                if let Some(d) = to_time((e - s) * scale) {
                    duration_ns = Some(duration_ns.map_or(d, |m| m.max(d)));
                }
            }
        }
    }
    out.meta_mut().duration_ns = duration_ns;
    out.meta_mut().default_value = file
        .active_profile_index
        .and_then(|i| to_index(i, plans.len()))
        .and_then(|i| plans.get(i))
        .map_or(0, |&(c, _)| c);
    Ok(out)
}
