//! `stackconv waits`: where threads wait.

use std::collections::HashMap;

use regex::Regex;
use stackconv_model::idle::classify;
use stackconv_model::{FrameKind, Profile, Wait};

/// One place threads wait: the wait kind, the innermost Python frames
/// (callers of the wait, innermost last) and the native or kernel leaf.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct WaitRow {
    /// What the wait is (`None`: an off-CPU interval whose stack matches no
    /// known wait).
    pub wait: Option<Wait>,
    /// Up to three innermost Python frames, outermost first.
    pub python: Vec<String>,
    /// Below the Python frames: the two innermost user-space frames, then
    /// the system call the thread blocked in (or the kernel leaf).
    pub native: Vec<String>,
    /// The weight waiting there.
    pub weight: i64,
}

/// Where threads wait: the weight of idle samples (or, when the profile
/// has an `off-cpu` column, of off-CPU time) grouped by the frames that
/// blocked and their Python callers, heaviest first, with the total waited
/// and the value column used.
///
/// ```
/// use stackconv::{read_bytes, waits, ReadOptions};
/// let p = read_bytes(
///     b"worker (app.py:3);acquire (threading.py:10);PyThread_acquire_lock_timed;futex_wait 5\nworker (app.py:3);compute (app.py:9) 2\n",
///     &ReadOptions::default(),
/// )?;
/// let (rows, total, _) = waits(&p, &[]);
/// assert_eq!(total, 5);
/// assert_eq!(rows[0].weight, 5);
/// assert_eq!(rows[0].native.last().map(String::as_str), Some("futex_wait"));
/// # Ok::<(), stackconv::Error>(())
/// ```
pub fn waits(p: &Profile, extra: &[Regex]) -> (Vec<WaitRow>, i64, usize) {
    let off_cpu = p.value_index("off-cpu");
    let column = off_cpu.unwrap_or(p.meta.default_value);
    let kinds = classify(p, extra);
    let mut rows: HashMap<(Option<Wait>, Vec<String>, Vec<String>), i64> = HashMap::new();
    let mut total = 0i64;
    let mut keys: HashMap<Option<stackconv_model::StackId>, (Vec<String>, Vec<String>)> =
        HashMap::new();
    for (i, kind) in kinds.iter().enumerate() {
        let v = p.value(column, i);
        // With an off-CPU column every interval is a wait; otherwise only
        // the samples classified idle are.
        if v == 0 || (off_cpu.is_none() && kind.is_none()) {
            continue;
        }
        let stack = p.samples.stacks.get(i).copied().flatten();
        let (python, native) = keys
            .entry(stack)
            .or_insert_with(|| {
                let frames = p.stack_frames(stack);
                let last_py = frames
                    .iter()
                    .rposition(|&f| p.frame_kind(f) == FrameKind::Python);
                let python: Vec<String> = frames
                    .iter()
                    .filter(|&&f| p.frame_kind(f) == FrameKind::Python)
                    .rev()
                    .take(3)
                    .map(|&f| p.frame_name(f).to_string())
                    .collect::<Vec<_>>()
                    .into_iter()
                    .rev()
                    .collect();
                let below = frames.get(last_py.map_or(0, |i| i + 1)..).unwrap_or(&[]);
                // The two innermost user-space frames (the lock or wait
                // call), then the system call the thread blocked in (or the
                // kernel leaf when there is no system call frame).
                let is_kernel =
                    |f: &stackconv_model::FrameId| p.frame_kind(*f) == FrameKind::Kernel;
                let mut native: Vec<String> = below
                    .iter()
                    .filter(|f| !is_kernel(f))
                    .rev()
                    .take(2)
                    .map(|&f| p.frame_name(f).to_string())
                    .collect::<Vec<_>>()
                    .into_iter()
                    .rev()
                    .collect();
                let kernel: Vec<_> = below.iter().filter(|f| is_kernel(f)).collect();
                let syscall = kernel.iter().find(|&&&f| {
                    let n = p.frame_name(f);
                    n.starts_with("__x64_sys_")
                        || n.starts_with("__arm64_sys_")
                        || n.starts_with("__se_sys_")
                });
                if let Some(&&f) = syscall.or(kernel.last()) {
                    native.push(p.frame_name(f).to_string());
                }
                (python, native)
            })
            .clone();
        *rows.entry((*kind, python, native)).or_default() += v;
        total = total.saturating_add(v);
    }
    let mut rows: Vec<WaitRow> = rows
        .into_iter()
        .map(|((wait, python, native), weight)| WaitRow {
            wait,
            python,
            native,
            weight,
        })
        .collect();
    rows.sort_by(|a, b| {
        b.weight
            .cmp(&a.weight)
            .then_with(|| a.python.cmp(&b.python))
            .then_with(|| a.native.cmp(&b.native))
    });
    (rows, total, column)
}
