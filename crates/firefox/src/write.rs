//! The writer: a model profile to Firefox Profiler processed JSON.

use std::collections::HashMap;
use std::io::Write;
use std::time::Duration;

use fx::{
    CategoryColor, CategoryPairHandle, CpuDelta, FrameFlags, FrameInfo, ProcessHandle,
    ReferenceTimestamp, SamplingInterval, StackHandle, ThreadHandle, Timestamp,
};
use fxprof_processed_profile as fx;
use stackconv_model::{FrameKind, Profile, StackId, ThreadId};

use crate::Error;

/// Options for [`write()`](crate::write()).
#[non_exhaustive]
#[derive(Clone, Debug, Default)]
pub struct WriteOptions {
    /// The value column whose values are the samples' CPU deltas; `None`
    /// means the profile's [`Meta::default_value`](stackconv_model::Meta::default_value).
    pub value: Option<usize>,
    /// Gzip the JSON (`.json.gz`); the Firefox Profiler opens both.
    pub gzip: bool,
}

/// Nanoseconds a unit of a column that is not a time lasts when samples
/// without timestamps are laid end to end.
const NS_PER_COUNT: u64 = 1_000_000;

/// The categories, one per frame kind.
struct Categories {
    native: CategoryPairHandle,
    kernel: CategoryPairHandle,
    python: CategoryPairHandle,
    jit: CategoryPairHandle,
    other: CategoryPairHandle,
}

impl Categories {
    fn new(out: &mut fx::Profile) -> Self {
        let mut add = |name, color| CategoryPairHandle::from(out.add_category(name, color));
        Categories {
            native: add("Native", CategoryColor::Yellow),
            kernel: add("Kernel", CategoryColor::Orange),
            python: add("Python", CategoryColor::Blue),
            jit: add("JIT", CategoryColor::Green),
            // The profile's first category, which the crate adds itself.
            other: CategoryPairHandle::from(fx::CategoryHandle::OTHER),
        }
    }

    fn of(&self, kind: FrameKind) -> (CategoryPairHandle, FrameFlags) {
        match kind {
            FrameKind::Native | FrameKind::Inline => (self.native, FrameFlags::empty()),
            FrameKind::Kernel => (self.kernel, FrameFlags::empty()),
            FrameKind::Python => (self.python, FrameFlags::IS_JS),
            FrameKind::Jit => (self.jit, FrameFlags::IS_JS),
            // Unknown, and any kind added later.
            _ => (self.other, FrameFlags::empty()),
        }
    }
}

/// Write `profile` as Firefox Profiler processed JSON (see the [crate
/// documentation](crate) for the mapping).
///
/// # Errors
///
/// [`Error::NoSuchValue`] when the column does not exist (nothing is
/// written then), [`Error::Json`] or [`Error::Io`] when writing fails.
///
/// ```
/// use stackconv_model::{FrameKind, Profile, ValueType};
/// let mut p = Profile::new(vec![ValueType::new("samples", "count")]);
/// let f = p.intern_frame_named("main", FrameKind::Python);
/// let s = p.intern_stack_frames([f]);
/// let t = p.intern_thread_named(None, None, "", "");
/// p.push_sample(s, t, None, &[3]);
/// let mut out = Vec::new();
/// stackconv_firefox::write(&p, &stackconv_firefox::WriteOptions::default(), &mut out)?;
/// assert!(out.starts_with(b"{"));
/// # Ok::<(), stackconv_firefox::Error>(())
/// ```
pub fn write(profile: &Profile, opts: &WriteOptions, out: impl Write) -> Result<(), Error> {
    let fx_profile = build(profile, opts)?;
    let json_error = |source: serde_json::Error| Error::Json {
        line: source.line(),
        column: source.column(),
        source: Box::new(source),
    };
    if opts.gzip {
        let mut gz = flate2::write::GzEncoder::new(out, flate2::Compression::default());
        serde_json::to_writer(&mut gz, &fx_profile).map_err(json_error)?;
        gz.finish()?.flush()?;
    } else {
        let mut out = std::io::BufWriter::new(out);
        serde_json::to_writer(&mut out, &fx_profile).map_err(json_error)?;
        out.flush()?;
    }
    Ok(())
}

/// The thread's display name: its thread name, else its process name,
/// else `all`.
fn thread_name(p: &Profile, t: ThreadId) -> String {
    let th = p.threads().get(t);
    [th.thread_name, th.process_name]
        .into_iter()
        .map(|s| p.str(s))
        .find(|s| !s.is_empty())
        .unwrap_or("all")
        .to_string()
}

fn build(p: &Profile, opts: &WriteOptions) -> Result<fx::Profile, Error> {
    let column = opts.value.unwrap_or(p.meta().default_value);
    let no_such = || Error::NoSuchValue {
        column,
        columns: p.value_types().len(),
    };
    let vt = p.value_types().get(column).ok_or_else(no_such)?;
    let values = p.samples().values().get(column).ok_or_else(no_such)?;
    let is_time = vt.unit == "nanoseconds";
    let value_ns = |i: usize| -> u64 {
        let v = u64::try_from(values.get(i).copied().unwrap_or(0)).unwrap_or(0);
        if is_time {
            v
        } else {
            v.saturating_mul(NS_PER_COUNT)
        }
    };

    // Sample order and times (ns relative to the first sample).
    let (order, rel_ns): (Vec<usize>, Vec<u64>) = match p.samples().times() {
        Some(times) => {
            let mut order: Vec<usize> = (0..p.samples().len()).collect();
            order.sort_by_key(|&i| times.get(i).copied().unwrap_or(u64::MAX));
            let first = order
                .first()
                .and_then(|&i| times.get(i))
                .copied()
                .unwrap_or(0);
            let rel = order
                .iter()
                .map(|&i| times.get(i).copied().unwrap_or(first).saturating_sub(first))
                .collect();
            (order, rel)
        }
        None => {
            let mut at = 0u64;
            let rel = (0..p.samples().len())
                .map(|i| {
                    let t = at;
                    at = at.saturating_add(value_ns(i));
                    t
                })
                .collect();
            ((0..p.samples().len()).collect(), rel)
        }
    };

    let reference = match p.meta().start_time_ns {
        Some(ns) => ReferenceTimestamp::from_duration_since_unix_epoch(Duration::from_nanos(ns)),
        None => ReferenceTimestamp::from_millis_since_unix_epoch(0.0),
    };
    let interval = match &p.meta().period {
        Some((vt, period)) if vt.unit == "nanoseconds" && *period > 0 => {
            SamplingInterval::from_nanos(u64::try_from(*period).unwrap_or(1_000_000))
        }
        _ => SamplingInterval::from_millis(1),
    };
    let product = match p.meta().source_format.as_str() {
        "" => "stackconv".to_string(),
        source => format!("stackconv ({source})"),
    };
    let mut out = fx::Profile::new(&product, reference, interval);
    let categories = Categories::new(&mut out);

    // Processes by pid and threads in model order of first sample.
    let mut processes: HashMap<Option<u32>, ProcessHandle> = HashMap::new();
    let mut threads: HashMap<ThreadId, ThreadHandle> = HashMap::new();
    let mut stacks: HashMap<(ThreadId, StackId), StackHandle> = HashMap::new();
    let mut first_time: HashMap<ThreadId, Timestamp> = HashMap::new();
    for (&i, &rel) in order.iter().zip(&rel_ns) {
        let Some(&thread) = p.samples().threads().get(i) else {
            continue;
        };
        let at = Timestamp::from_nanos_since_reference(rel);
        first_time.entry(thread).or_insert(at);
        let handle = match threads.get(&thread) {
            Some(&h) => h,
            None => {
                let th = p.threads().get(thread);
                let process = *processes.entry(th.pid).or_insert_with(|| {
                    let name = match p.str(th.process_name) {
                        "" => thread_name(p, thread),
                        name => name.to_string(),
                    };
                    out.add_process(&name, th.pid.unwrap_or(0), at)
                });
                let tid = th.tid.or(th.pid).unwrap_or(0);
                let is_main = th.tid.is_none() || th.tid == th.pid;
                let h = out.add_thread(process, tid, at, is_main);
                out.set_thread_name(h, &thread_name(p, thread));
                threads.insert(thread, h);
                h
            }
        };
        let stack = match p.samples().stacks().get(i).copied().flatten() {
            None => None,
            Some(s) => match stacks.get(&(thread, s)) {
                Some(&h) => Some(h),
                None => {
                    let frames: Vec<FrameInfo> = p
                        .stacks()
                        .frames(s)
                        .into_iter()
                        .map(|f| {
                            let frame = p.frame(f);
                            let (category_pair, flags) = categories.of(frame.kind);
                            FrameInfo {
                                frame: fx::Frame::Label(out.intern_string(p.str(frame.name))),
                                category_pair,
                                flags,
                            }
                        })
                        .collect();
                    let h = out.intern_stack_frames(handle, frames.into_iter());
                    if let Some(h) = h {
                        stacks.insert((thread, s), h);
                    }
                    h
                }
            },
        };
        let cpu = if is_time {
            CpuDelta::from_nanos(value_ns(i))
        } else {
            CpuDelta::ZERO
        };
        out.add_sample(handle, at, stack, cpu, 1);
    }
    Ok(out)
}
