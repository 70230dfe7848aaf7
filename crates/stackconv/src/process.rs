//! Filters, stack transforms and diffs, composed in the order a user
//! expects: samples are chosen first, then stacks are rewritten.

use stackconv_collapsed::folded;
use stackconv_model::Profile;
use stackconv_ops::{filter, transform, SampleFilter, StackTransform};

use crate::Error;

/// What to do to a profile between reading and writing.
#[derive(Clone, Debug, Default)]
#[non_exhaustive]
pub struct ProcessOptions {
    /// Which samples to keep.
    pub filter: SampleFilter,
    /// How to rewrite stacks.
    pub transform: StackTransform,
    /// The value column single-value outputs show, by kind (`--value`).
    pub value: Option<String>,
}

/// The result of [`process`].
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct Processed {
    /// The profile.
    pub profile: Profile,
    /// Weight dropped by filters and transforms, one entry per value column
    /// of `profile`: kept + dropped = input.
    pub dropped: Vec<i64>,
    /// Filters that matched nothing, options that could not apply.
    pub warnings: Vec<String>,
}

/// Filter samples, then transform stacks, then choose the shown column.
///
/// ```
/// use stackconv::{process, read_bytes, ProcessOptions, ReadOptions};
/// use stackconv::ops::StackTransform;
///
/// let p = read_bytes(b"main;handle;parse 3\nmain;gc 1\n", &ReadOptions::default())?;
/// let mut opts = ProcessOptions::default();
/// let mut t = StackTransform::default();
/// t.focus = Some(regex::Regex::new("handle").unwrap());
/// opts.transform = t;
/// let out = process(p, &opts)?;
/// assert_eq!(out.profile.total(0), 3);
/// assert_eq!(out.dropped, vec![1]);
/// # Ok::<(), stackconv::Error>(())
/// ```
///
/// # Errors
///
/// [`Error::NoSuchValue`] when `opts.value` or `opts.filter.event` names no
/// value column, or more than one.
pub fn process(profile: Profile, opts: &ProcessOptions) -> Result<Processed, Error> {
    let mut warnings = Vec::new();
    let mut dropped = vec![0i64; profile.value_types().len()];
    let mut profile = profile;
    if !opts.filter.is_empty() {
        // An event that names nothing (or several events) is the user's
        // mistake, not an empty profile: say so before filtering.
        let mut sample_filter = opts.filter.clone();
        if let Some(event) = &opts.filter.event {
            let column = value_column(&profile, event)?;
            sample_filter.event = profile.value_types().get(column).map(|v| v.kind.clone());
        }
        let f = filter(&profile, &sample_filter);
        add(&mut dropped, &f.dropped);
        warnings.extend(f.warnings);
        profile = f.profile;
    }
    if !opts.transform.is_identity() {
        let t = transform(&profile, &opts.transform);
        add(&mut dropped, &t.dropped);
        warnings.extend(t.warnings);
        profile = t.profile;
    }
    if let Some(name) = &opts.value {
        profile.meta_mut().default_value = value_column(&profile, name)?;
    }
    Ok(Processed {
        profile,
        dropped,
        warnings,
    })
}

fn add(into: &mut [i64], more: &[i64]) {
    for (a, b) in into.iter_mut().zip(more) {
        *a = a.saturating_add(*b);
    }
}

/// The index of the value column `name`: its kind as recorded, or an
/// event's name without modifiers ([`Profile::find_value`]).
///
/// # Errors
///
/// [`Error::NoSuchValue`] listing the columns there are.
pub fn value_column(profile: &Profile, name: &str) -> Result<usize, Error> {
    Ok(profile.find_value(name)?)
}

/// The name of the value column that holds off-CPU time (`--off-cpu`): the
/// `off-cpu` column the perf reader makes from `sched:sched_switch`, else
/// the `offcpu-time` event of `perf record --off-cpu`.
///
/// ```
/// use stackconv::model::{FrameKind, Profile, ValueType};
///
/// let mut p = Profile::new(vec![
///     ValueType::new("cpu-clock", "nanoseconds"),
///     ValueType::new("off-cpu", "nanoseconds"),
/// ]);
/// let wait = p.intern_frame_named("futex_wait", FrameKind::Kernel);
/// let stack = p.intern_stack_frames([wait]);
/// let thread = p.intern_thread(Default::default());
/// p.push_sample(stack, thread, None, &[0, 1_500_000]);
/// assert_eq!(stackconv::off_cpu_value(&p)?, "off-cpu");
/// let cpu_only = Profile::new(vec![ValueType::new("cpu-clock", "nanoseconds")]);
/// assert!(stackconv::off_cpu_value(&cpu_only).is_err());
/// # Ok::<(), stackconv::Error>(())
/// ```
///
/// # Errors
///
/// [`Error::NoOffCpu`] when the profile has neither, naming how to record
/// off-CPU time.
pub fn off_cpu_value(profile: &Profile) -> Result<&'static str, Error> {
    const OFF_CPU_COLUMNS: [&str; 2] = ["off-cpu", "offcpu-time"];
    OFF_CPU_COLUMNS
        .into_iter()
        .find(|name| {
            profile
                .value_index(name)
                .is_some_and(|c| profile.total(c) != 0)
        })
        .ok_or_else(|| Error::NoOffCpu {
            have: profile
                .value_types()
                .iter()
                .map(|v| v.kind.clone())
                .collect(),
        })
}

/// The profile as folded text would show it, read back: root frames (the
/// comm, or `comm-pid`, `comm-pid/tid`) become real frames of the stacks,
/// one value column (the shown one). Diffs align such stacks, as
/// `inferno-diff-folded` aligns folded files.
///
/// # Errors
///
/// Only if the folded writer and reader disagree, which is a bug.
pub fn as_folded(profile: &Profile, opts: &folded::WriteOptions) -> Result<Profile, Error> {
    let mut text = Vec::new();
    folded::write(profile, opts, &mut text)?;
    let mut p = folded::read(&text)?;
    let column = opts.value.unwrap_or(profile.meta().default_value);
    if let Some(vt) = profile.value_types().get(column) {
        // One column read back from one column written: a rename.
        let _ = p.set_value_types(vec![vt.clone()]);
    }
    Ok(p)
}
