//! Sample filters: pid, tid, process and thread name, event, time range,
//! idle.
//!
//! A sample is kept when it passes every filter that is set. The weight of
//! the dropped samples is returned per value column, so kept + dropped =
//! input. A filter that matches nothing gives an empty profile and a
//! warning, not an error.
//!
//! ```
//! use regex::Regex;
//! use stackconv_ops::filter::{filter, SampleFilter};
//! use stackconv_model::{FrameKind, Profile, ValueType};
//!
//! let mut p = Profile::new(vec![ValueType::new("samples", "count")]);
//! let main = p.intern_frame_named("main", FrameKind::Native);
//! let stack = p.intern_stack_frames([main]);
//! let w1 = p.intern_thread_named(Some(10), Some(11), "app", "worker-1");
//! let io = p.intern_thread_named(Some(10), Some(12), "app", "io");
//! p.push_sample(stack, w1, Some(1_000), &[3]);
//! p.push_sample(stack, io, Some(2_000), &[4]);
//!
//! let mut f = SampleFilter::default();
//! f.thread = Some(Regex::new("^worker")?);
//! let out = filter(&p, &f);
//! assert_eq!(out.profile.total(0), 3);
//! assert_eq!(out.dropped, [4]);
//! assert!(out.warnings.is_empty());
//! # Ok::<(), regex::Error>(())
//! ```

use std::str::FromStr;

use regex::Regex;

use crate::idle::{classify, Wait};
use stackconv_model::Profile;

/// Which samples the idle filter keeps.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum IdleFilter {
    /// Every sample, idle or not.
    #[default]
    All,
    /// Drop the idle samples (`--no-idle`).
    NoIdle,
    /// Keep only the idle samples (`--only-idle`).
    OnlyIdle,
}

/// A time range, both ends optional, the start included and the end
/// excluded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum TimeRange {
    /// Nanoseconds from the first (earliest) sample's time.
    Relative {
        /// First nanosecond kept.
        start_ns: Option<u64>,
        /// First nanosecond no longer kept.
        end_ns: Option<u64>,
    },
    /// Absolute sample timestamps in nanoseconds, in the profile's clock.
    Absolute {
        /// First timestamp kept.
        start_ns: Option<u64>,
        /// First timestamp no longer kept.
        end_ns: Option<u64>,
    },
}

/// A time range that could not be parsed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParseTimeRangeError(pub String);

impl std::fmt::Display for ParseTimeRangeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "bad time range {:?}: expected START..END in seconds from the first sample \
             (`10..20`, `1.5s..2s`, `..5`, `30..`)",
            self.0
        )
    }
}

impl std::error::Error for ParseTimeRangeError {}

fn parse_seconds(s: &str, whole: &str) -> Result<Option<u64>, ParseTimeRangeError> {
    let s = s.trim();
    if s.is_empty() {
        return Ok(None);
    }
    let err = || ParseTimeRangeError(whole.to_string());
    let (num, scale) = if let Some(n) = s.strip_suffix("ms") {
        (n, 1e6)
    } else if let Some(n) = s.strip_suffix("us") {
        (n, 1e3)
    } else if let Some(n) = s.strip_suffix("ns") {
        (n, 1.0)
    } else if let Some(n) = s.strip_suffix('s') {
        (n, 1e9)
    } else {
        (s, 1e9)
    };
    let v: f64 = num.trim().parse().map_err(|_| err())?;
    if !v.is_finite() || v < 0.0 {
        return Err(err());
    }
    let ns = (v * scale).round();
    if ns >= u64::MAX as f64 {
        return Err(err());
    }
    // In range and non-negative: the conversion is exact enough.
    Ok(Some(ns as u64))
}

impl FromStr for TimeRange {
    type Err = ParseTimeRangeError;

    /// A relative range `START..END` in seconds from the first sample;
    /// either end may be left out; units `s`, `ms`, `us`, `ns` may follow a
    /// number.
    ///
    /// ```
    /// use stackconv_ops::filter::TimeRange;
    /// assert_eq!(
    ///     "10..20.5s".parse::<TimeRange>().ok(),
    ///     Some(TimeRange::Relative { start_ns: Some(10_000_000_000), end_ns: Some(20_500_000_000) })
    /// );
    /// assert_eq!(
    ///     "..500ms".parse::<TimeRange>().ok(),
    ///     Some(TimeRange::Relative { start_ns: None, end_ns: Some(500_000_000) })
    /// );
    /// assert!("10-20".parse::<TimeRange>().is_err());
    /// ```
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (a, b) = s
            .split_once("..")
            .ok_or_else(|| ParseTimeRangeError(s.to_string()))?;
        Ok(TimeRange::Relative {
            start_ns: parse_seconds(a, s)?,
            end_ns: parse_seconds(b, s)?,
        })
    }
}

/// Which samples to keep. Every field off by default (keep everything).
#[derive(Clone, Debug, Default)]
#[non_exhaustive]
pub struct SampleFilter {
    /// Keep samples of these process ids (`--pid`); empty: any.
    pub pids: Vec<u32>,
    /// Keep samples of these thread ids (`--tid`); empty: any.
    pub tids: Vec<u32>,
    /// Keep samples whose process name matches (`--comm`, unanchored).
    pub comm: Option<Regex>,
    /// Keep samples whose thread name matches (`--thread`, unanchored).
    pub thread: Option<Regex>,
    /// Keep samples with a non-zero value in the value column of this kind
    /// (`--event`: a perf event or a pprof sample type); that column also
    /// becomes the profile's default value column.
    pub event: Option<String>,
    /// Keep samples in this time range (`--time`).
    pub time: Option<TimeRange>,
    /// Keep idle samples, drop them, or keep only them.
    pub idle: IdleFilter,
    /// Extra idle frame expressions (`--idle-frames`), see [`crate::idle`].
    pub idle_frames: Vec<Regex>,
}

impl SampleFilter {
    /// Whether this filter keeps every sample.
    pub fn is_empty(&self) -> bool {
        self.pids.is_empty()
            && self.tids.is_empty()
            && self.comm.is_none()
            && self.thread.is_none()
            && self.event.is_none()
            && self.time.is_none()
            && self.idle == IdleFilter::All
    }
}

/// The result of [`filter`].
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct Filtered {
    /// The kept samples.
    pub profile: Profile,
    /// The weight of the dropped samples, one entry per value column:
    /// kept + dropped = input.
    pub dropped: Vec<i64>,
    /// What the user should hear: filters that matched nothing, filters
    /// that could not apply.
    pub warnings: Vec<String>,
}

/// Keep the samples of `p` that pass `f`.
pub fn filter(p: &Profile, f: &SampleFilter) -> Filtered {
    let mut warnings = Vec::new();
    if f.is_empty() {
        return Filtered {
            profile: p.clone(),
            dropped: vec![0; p.value_types().len()],
            warnings,
        };
    }
    // Per thread: pid, tid, names.
    let thread_ok: Vec<bool> = p
        .threads()
        .iter()
        .map(|(_, t)| {
            (f.pids.is_empty() || t.pid.is_some_and(|pid| f.pids.contains(&pid)))
                && (f.tids.is_empty() || t.tid.is_some_and(|tid| f.tids.contains(&tid)))
                && f.comm
                    .as_ref()
                    .is_none_or(|re| re.is_match(p.str(t.process_name)))
                && f.thread
                    .as_ref()
                    .is_none_or(|re| re.is_match(p.str(t.thread_name)))
        })
        .collect();
    let mut event_column = None;
    let mut event_missing = false;
    if let Some(event) = &f.event {
        match p.find_value(event) {
            Ok(c) => event_column = Some(c),
            Err(e) => {
                event_missing = true;
                warnings.push(format!("--event: {e}"));
            }
        }
    }
    let mut window: Option<(u64, u64)> = None;
    if let Some(range) = f.time {
        match p.samples().times() {
            None => warnings.push(
                "--time: the samples carry no timestamps; the time filter is ignored".to_string(),
            ),
            Some(times) => {
                let (base, start, end) = match range {
                    TimeRange::Relative { start_ns, end_ns } => {
                        (times.iter().copied().min().unwrap_or(0), start_ns, end_ns)
                    }
                    TimeRange::Absolute { start_ns, end_ns } => (0, start_ns, end_ns),
                };
                window = Some((
                    base.saturating_add(start.unwrap_or(0)),
                    end.map_or(u64::MAX, |e| base.saturating_add(e)),
                ));
            }
        }
    }
    let idle = if f.idle == IdleFilter::All {
        None
    } else {
        Some(classify(p, &f.idle_frames))
    };
    let (mut profile, dropped) = p.filter_samples(|p, i| {
        if event_missing {
            return false;
        }
        let thread_pass = p
            .samples()
            .threads()
            .get(i)
            .and_then(|t| thread_ok.get(t.index()))
            .copied()
            .unwrap_or(false);
        if !thread_pass {
            return false;
        }
        if let Some(c) = event_column {
            if p.value(c, i) == 0 {
                return false;
            }
        }
        if let Some((start, end)) = window {
            let t = p
                .samples()
                .times()
                .as_ref()
                .and_then(|t| t.get(i))
                .copied()
                .unwrap_or(0);
            if t < start || t >= end {
                return false;
            }
        }
        if let Some(idle) = &idle {
            let is_idle: bool = idle.get(i).copied().flatten().is_some();
            let want_idle = f.idle == IdleFilter::OnlyIdle;
            if is_idle != want_idle {
                return false;
            }
        }
        true
    });
    if let Some(c) = event_column {
        profile.meta_mut().default_value = c;
    }
    if !p.samples().is_empty() && profile.samples().is_empty() && !event_missing {
        warnings.push("the sample filters matched no samples".to_string());
    }
    Filtered {
        profile,
        dropped,
        warnings,
    }
}

/// The weight of the idle samples of `p` per wait kind, in value column
/// `column`, for a report (`stackconv waits`, the `--no-idle` message).
///
/// ```
/// use stackconv_ops::filter::idle_weights;
/// use stackconv_ops::idle::Wait;
/// use stackconv_model::{FrameKind, Profile, ValueType};
///
/// let mut p = Profile::new(vec![ValueType::new("samples", "count")]);
/// let t = p.intern_thread(Default::default());
/// let f = p.intern_frame_named("nanosleep", FrameKind::Native);
/// let s = p.intern_stack_frames([f]);
/// p.push_sample(s, t, None, &[5]);
/// assert_eq!(idle_weights(&p, 0, &[]), [(Wait::Sleep, 5)]);
/// ```
pub fn idle_weights(p: &Profile, column: usize, extra: &[Regex]) -> Vec<(Wait, i64)> {
    let mut out: Vec<(Wait, i64)> = Vec::new();
    for (i, w) in classify(p, extra).into_iter().enumerate() {
        let Some(w) = w else { continue };
        let v = p.value(column, i);
        match out.iter_mut().find(|(k, _)| *k == w) {
            Some((_, total)) => *total = total.saturating_add(v),
            None => out.push((w, v)),
        }
    }
    out.sort();
    out
}

#[cfg(test)]
// Outside this crate a #[non_exhaustive] struct is built this way; tests do
// the same.
#[allow(clippy::field_reassign_with_default)]
mod tests {
    use super::*;
    use stackconv_model::{FrameKind, ValueType};

    fn sample_profile() -> Profile {
        let mut p = Profile::new(vec![
            ValueType::new("cpu-clock", "nanoseconds"),
            ValueType::new("sched:sched_switch", "count"),
            ValueType::new("samples", "count"),
        ]);
        let main = p.intern_frame_named("main", FrameKind::Native);
        let sleep = p.intern_frame_named("nanosleep", FrameKind::Native);
        let busy = p.intern_stack_frames([main]);
        let idle = p.intern_stack_frames([main, sleep]);
        let a = p.intern_thread_named(Some(1), Some(1), "app", "app");
        let b = p.intern_thread_named(Some(1), Some(2), "app", "worker");
        let c = p.intern_thread_named(Some(2), Some(3), "other", "other");
        p.push_sample(busy, a, Some(1_000_000_000), &[100, 0, 1]);
        p.push_sample(idle, b, Some(2_000_000_000), &[0, 1, 1]);
        p.push_sample(busy, c, Some(3_000_000_000), &[300, 0, 1]);
        p.push_sample(idle, a, Some(4_000_000_000), &[400, 0, 1]);
        p
    }

    fn check(p: &Profile, f: &SampleFilter, kept: &[i64], dropped: &[i64]) -> Filtered {
        let out = filter(p, f);
        assert_eq!(out.profile.totals(), kept);
        assert_eq!(out.dropped, dropped);
        out
    }

    #[test]
    fn each_filter() {
        let p = sample_profile();
        let mut f = SampleFilter::default();
        f.pids = vec![1];
        check(&p, &f, &[500, 1, 3], &[300, 0, 1]);

        let mut f = SampleFilter::default();
        f.tids = vec![2, 3];
        check(&p, &f, &[300, 1, 2], &[500, 0, 2]);

        let mut f = SampleFilter::default();
        f.comm = Some(Regex::new("^oth").expect("re"));
        check(&p, &f, &[300, 0, 1], &[500, 1, 3]);

        let mut f = SampleFilter::default();
        f.event = Some("sched:sched_switch".to_string());
        let out = check(&p, &f, &[0, 1, 1], &[800, 0, 3]);
        assert_eq!(out.profile.meta().default_value, 1);

        let mut f = SampleFilter::default();
        f.time = Some("1..3".parse().expect("range"));
        check(&p, &f, &[300, 1, 2], &[500, 0, 2]);

        let mut f = SampleFilter::default();
        f.time = Some(TimeRange::Absolute {
            start_ns: Some(3_000_000_000),
            end_ns: None,
        });
        check(&p, &f, &[700, 0, 2], &[100, 1, 2]);

        let mut f = SampleFilter::default();
        f.idle = IdleFilter::NoIdle;
        check(&p, &f, &[400, 0, 2], &[400, 1, 2]);
        f.idle = IdleFilter::OnlyIdle;
        check(&p, &f, &[400, 1, 2], &[400, 0, 2]);
    }

    #[test]
    fn matching_nothing_warns() {
        let p = sample_profile();
        let mut f = SampleFilter::default();
        f.thread = Some(Regex::new("nope").expect("re"));
        let out = check(&p, &f, &[0, 0, 0], &[800, 1, 4]);
        assert_eq!(out.warnings.len(), 1);
        let mut f = SampleFilter::default();
        f.event = Some("cycles".to_string());
        let out = check(&p, &f, &[0, 0, 0], &[800, 1, 4]);
        assert!(out.warnings[0].contains("cpu-clock"));
    }

    #[test]
    fn time_without_timestamps_is_a_no_op() {
        let mut p = sample_profile();
        p.clear_times();
        let mut f = SampleFilter::default();
        f.time = Some("1..2".parse().expect("range"));
        let out = check(&p, &f, &[800, 1, 4], &[0, 0, 0]);
        assert_eq!(out.warnings.len(), 1);
    }
}
