//! Idle samples: which samples show a thread waiting, and on what.
//!
//! Neither perf nor py-spy's raw and speedscope outputs mark idle samples
//! (py-spy#545). py-spy itself decides per thread (`src/python_spy.rs`,
//! py-spy 0.4): a thread is idle when the OS says it is not running
//! (`/proc/PID/task/TID/stat` state other than `R`, remoteprocess
//! `Thread::active`), and, as a fallback, when its innermost Python frame
//! is a known wait (`_heuristic_is_thread_idle`: `wait` in `threading.py`,
//! `select` in `selectors.py`, `poll` in `asyncore.py` or a zmq, gevent or
//! tornado file). The thread state is not in any profile, so here a sample
//! is classified from its *leaf frames* only, with a longer list:
//!
//! - the **leaf region** of a stack is its innermost Python frame (kind
//!   [`FrameKind::Python`] with a `.py` file, or no file) and every frame
//!   below it (its callees: the native lock, glibc, kernel frames); a stack
//!   without such a Python frame is all leaf region;
//! - the innermost Python frame is matched, as `func (file)`, against the
//!   entries of scope [`Scope::PythonLeaf`] of the one rule table,
//!   [`WAIT_RULES`];
//! - every other frame of the region is matched, by its canonical name
//!   ([`canonical_name`]: py-spy's ` (file:line)`, glibc's `__GI_` and
//!   `__` prefixes, `@@GLIBC_2.3.2` versions, `_private` / `64` suffixes
//!   removed), against the entries of scope [`Scope::Native`] (C library,
//!   CPython internals, Go runtime and kernel names, matched whole);
//! - user regexes (`--idle-frames RE`) are matched, unanchored, against the
//!   display names of every frame of the region; a match is [`Wait::Other`];
//! - when several frames match, the most specific wait wins:
//!   GIL > sleep > I/O > join > condition > lock > other (a thread in
//!   `take_gil` under `pthread_cond_timedwait` and `futex` waits for the
//!   GIL; one in `pthread_cond_wait` over `futex_wait` for a condition);
//! - a sample of perf's idle task (pid 0 or tid 0, or a thread named
//!   `swapper*`) is idle ([`Wait::Other`]) whatever its stack.
//!
//! Bare `schedule` / `__schedule` are deliberately not in the table: the
//! kernel also calls them to preempt a runnable thread on its way back to
//! user space (`exit_to_user_mode_loop`), which is not a wait. Waits reach
//! `schedule` through a wait function that is listed (`futex_wait`,
//! `do_nanosleep`, `do_sys_poll`, `ep_poll`, ...).
//!
//! [`wait_report`] groups samples by their blocking site, with the same
//! table; for off-CPU time ([`WaitScope::AllWeight`]) every nanosecond is in
//! a row (a stack no rule names is [`Wait::Other`]: preemption) or in the
//! idle task's total.
//!
//! Frames that a profile cannot show cannot be classified: py-spy without
//! `--native` does not show C functions, so a thread blocked in
//! `threading.RLock.acquire` (C) or `time.sleep` (C) has its calling
//! Python function as leaf (`load (webapi.py:57)`); pass
//! `--idle-frames 'load \(webapi.py:57\)'` to count it.
//!
//! ```
//! use stackconv_ops::idle::{classify, Wait};
//! use stackconv_model::{FrameKind, Profile, ValueType};
//!
//! let mut p = Profile::new(vec![ValueType::new("samples", "count")]);
//! let t = p.intern_thread(Default::default());
//! let worker = p.intern_frame_named("worker (app.py:10)", FrameKind::Python);
//! let get = p.intern_frame_named("get (queue.py:171)", FrameKind::Python);
//! let wait = p.intern_frame_named("wait (threading.py:355)", FrameKind::Python);
//! let busy = p.intern_frame_named("compute (app.py:20)", FrameKind::Python);
//! let idle_stack = p.intern_stack_frames([worker, get, wait]);
//! let busy_stack = p.intern_stack_frames([worker, busy]);
//! p.push_sample(idle_stack, t, None, &[1]);
//! p.push_sample(busy_stack, t, None, &[1]);
//! assert_eq!(classify(&p, &[]), [Some(Wait::Lock), None]);
//! ```

use regex::Regex;

use crate::view::is_interpreter_module;
pub use crate::wait_rules::Wait;
use crate::wait_rules::{
    c_library_display_name, frame_class, native_wait, python_leaf_wait, FrameClass,
};
#[cfg(doc)]
use crate::wait_rules::{canonical_name, Scope, WAIT_RULES};
use stackconv_model::naming::python_frame;
use stackconv_model::Profile;
use stackconv_model::{FrameId, FrameKind, StackId, ThreadId};

/// Whether `thread` is perf's idle task: pid 0 or tid 0, or a thread named
/// `swapper` (`swapper/3`).
pub fn is_idle_task(p: &Profile, thread: ThreadId) -> bool {
    let t = p.threads().get(thread);
    t.pid == Some(0)
        || t.tid == Some(0)
        || p.str(t.thread_name).starts_with("swapper")
        || p.str(t.process_name).starts_with("swapper")
}

/// Whether frame `f` counts as a Python frame for the leaf region: kind
/// Python, and its file (if any) is a Python source (py-spy `--native`
/// writes C frames as `func (file.c:12)`).
fn is_python_frame(p: &Profile, f: FrameId) -> bool {
    let frame = p.frame(f);
    if frame.kind != FrameKind::Python {
        return false;
    }
    let file = match python_frame(p.str(frame.name)) {
        Some(py) => py.file,
        None => p.str(frame.file),
    };
    file.is_empty() || stackconv_model::naming::is_python_source(file)
}

/// Classify one stack (frames root first); `extra` are user regexes.
pub fn classify_frames(p: &Profile, frames: &[FrameId], extra: &[Regex]) -> Option<Wait> {
    let (start, python_leaf) = leaf_region(p, frames);
    let waits = region_waits(p, frames, start, python_leaf, extra);
    best_wait(&waits)
}

/// Where the leaf region of a stack starts (its innermost Python frame, or
/// 0), and whether that is a Python frame.
fn leaf_region(p: &Profile, frames: &[FrameId]) -> (usize, bool) {
    match frames.iter().rposition(|&f| is_python_frame(p, f)) {
        Some(i) => (i, true),
        None => (0, false),
    }
}

/// The wait of each frame of the leaf region `frames[start..]` by the rule
/// table ([`crate::wait_rules::WAIT_RULES`]) and the user's regexes.
fn region_waits(
    p: &Profile,
    frames: &[FrameId],
    start: usize,
    python_leaf: bool,
    extra: &[Regex],
) -> Vec<Option<Wait>> {
    let region = frames.get(start..).unwrap_or(&[]);
    region
        .iter()
        .enumerate()
        .map(|(i, &f)| {
            let name = p.str(p.frame(f).name);
            let user = extra
                .iter()
                .any(|re| re.is_match(name))
                .then_some(Wait::Other);
            let rule = if i == 0 && python_leaf {
                python_frame(name)
                    .and_then(|py| python_leaf_wait(&format!("{} ({})", py.func, py.file)))
            } else {
                native_wait(name)
            };
            higher(user, rule)
        })
        .collect()
}

/// The more specific of two waits ([`Wait::rank`]); `a` on a tie.
fn higher(a: Option<Wait>, b: Option<Wait>) -> Option<Wait> {
    match (a, b) {
        (Some(x), Some(y)) if y.rank() > x.rank() => Some(y),
        (Some(x), _) => Some(x),
        (None, y) => y,
    }
}

fn best_wait(waits: &[Option<Wait>]) -> Option<Wait> {
    waits.iter().fold(None, |best, &w| higher(best, w))
}

/// Where one stack blocked: its wait, the blocking site and the caller
/// (indices into the stack's frames).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Site {
    wait: Option<Wait>,
    at: Option<usize>,
    caller: Option<usize>,
}

/// Find the blocking site of one stack (frames root first).
///
/// The *entry run* is the innermost run of frames, up from the leaf, that
/// are C-library or kernel internals ([`frame_class`]), frames of the
/// Python interpreter's module below the innermost Python frame, or wait
/// functions of the rule table (a runtime's own waits: CPython's
/// `lock_PyThread_acquire_lock -> acquire_timed ->
/// PyThread_acquire_lock_timed`); it stops at the program's code. The
/// stack's wait is the most specific one of its leaf region
/// ([`classify_frames`]), and the site is:
///
/// - the innermost Python frame, when its Python-level wait
///   (`Condition.wait (threading.py)`) is the stack's wait;
/// - else the outermost frame of the entry run with the stack's wait: the
///   function the program called to wait (`pthread_mutex_lock` over
///   `__lll_lock_wait` and `futex_wait`; `__lll_lock_wait` when frame
///   pointers lost `pthread_mutex_lock`), or, failing that, the outermost
///   frame of the leaf region with it;
/// - for a stack without a known wait (only off-CPU reports ask): the
///   innermost C-library frame of the entry run (the C function that was
///   preempted: `__lll_lock_wake`), else the frame that called the entry
///   run (the program's function that was preempted), else the leaf.
///
/// The caller is the nearest Python frame above the site, else the nearest
/// frame above it that is neither C library nor kernel (the program's own
/// code).
fn blocking_site(p: &Profile, frames: &[FrameId], extra: &[Regex]) -> Site {
    let (start, python_leaf) = leaf_region(p, frames);
    let waits = region_waits(p, frames, start, python_leaf, extra);
    let wait = best_wait(&waits);
    let wait_at = |i: usize| {
        i.checked_sub(start)
            .and_then(|k| waits.get(k).copied())
            .flatten()
    };
    let class = |i: usize| frames.get(i).map(|&f| frame_class(p, f));
    let len = frames.len();
    let mut run_start = len;
    for i in (start..len).rev() {
        // Below a Python frame, the interpreter's own frames are runtime
        // internals like the C library's (`fix_status` between
        // `PyThread_acquire_lock_timed` and glibc's semaphore wait): the
        // run goes on to the function the Python code called.
        let runtime = python_leaf
            && frames
                .get(i)
                .is_some_and(|&f| is_interpreter_module(p.str(p.frame(f).module)));
        let in_run = class(i).is_some_and(FrameClass::is_system) || wait_at(i).is_some() || runtime;
        if !in_run || (i == start && python_leaf) {
            break;
        }
        run_start = i;
    }
    let at = match wait {
        Some(w) if python_leaf && wait_at(start) == Some(w) => Some(start),
        Some(w) => (run_start..len)
            .find(|&i| wait_at(i) == Some(w))
            .or_else(|| (start..len).find(|&i| wait_at(i) == Some(w))),
        None => (run_start..len)
            .rev()
            .find(|&i| class(i) == Some(FrameClass::CLibrary))
            .or_else(|| run_start.checked_sub(1))
            .or_else(|| len.checked_sub(1)),
    };
    let caller = at.and_then(|s| {
        let above = frames.get(..s)?;
        above
            .iter()
            .rposition(|&f| is_python_frame(p, f))
            .or_else(|| above.iter().rposition(|&f| !frame_class(p, f).is_system()))
    });
    Site { wait, at, caller }
}

/// Where samples wait: one row per (wait, blocking frame, caller).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct WaitSite {
    /// What is waited for; [`Wait::Other`] for off-CPU time that no rule
    /// names (preemption, a wait the table does not know).
    pub wait: Wait,
    /// The blocking site (see [`wait_report`]) by its display name
    /// (C-library names without glibc's `__GI_` prefix and symbol version),
    /// e.g. `pthread_mutex_lock`, `__lll_lock_wait`,
    /// `lock_PyThread_acquire_lock`, `Condition.wait (threading.py:355)`;
    /// for perf's idle task its thread name; `[no stack]` for a sample
    /// without frames.
    pub blocked_in: String,
    /// Who waits: the nearest Python frame above `blocked_in`, else the
    /// nearest frame above it that is neither C library nor kernel (the
    /// program's own code); empty when there is none.
    pub caller: String,
    /// The weight of these samples in the column asked for.
    pub weight: i64,
    /// How many samples.
    pub samples: u64,
}

/// Which samples a [`wait_report`] groups.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum WaitScope {
    /// The idle samples ([`classify`]), perf's idle task among them: for
    /// sampled profiles (py-spy `--idle`, CPU profiles).
    IdleSamples,
    /// Every sample with weight: for off-CPU time, where all of it is
    /// waiting. perf's idle task is reported apart
    /// ([`WaitReport::idle_task`]).
    AllWeight,
}

/// Where the samples of a profile wait (`stackconv waits`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct WaitReport {
    /// One row per (wait, blocking site, caller), heaviest first (then by
    /// wait, site and caller).
    pub sites: Vec<WaitSite>,
    /// With [`WaitScope::AllWeight`]: the weight of perf's idle task
    /// (`swapper`, pid 0), in no row.
    pub idle_task: i64,
    /// How many samples of the idle task that is.
    pub idle_task_samples: u64,
}

impl WaitReport {
    /// The weight of all rows.
    pub fn rows_total(&self) -> i64 {
        self.sites
            .iter()
            .fold(0i64, |t, s| t.saturating_add(s.weight))
    }
}

/// Group the samples of `p` (those `scope` says) by where they wait,
/// weights from value column `column`; `extra` are the user's
/// `--idle-frames` regexes.
///
/// The blocking site of a stack is where the program entered the wait:
/// walking up from the leaf over C-library and kernel internals (a frame
/// whose module is libc, libpthread or the dynamic loader, or a kernel
/// frame: [`crate::wait_rules::frame_class`]) and over wait functions of the
/// rule table, the outermost frame whose rule gives the stack's wait
/// (`pthread_mutex_lock`, `pthread_cond_wait`, `nanosleep`, `read`,
/// `lock_PyThread_acquire_lock`); a Python-level wait
/// (`Condition.wait (threading.py)`) is itself the site. The caller is the
/// nearest Python frame above the site, else the nearest frame of the
/// program's own code. With [`WaitScope::AllWeight`] the rows and
/// [`WaitReport::idle_task`] add up to the column's total.
///
/// ```
/// use stackconv_ops::idle::{wait_report, Wait, WaitScope};
/// use stackconv_model::{Frame, FrameKind, Profile, ValueType};
///
/// let mut p = Profile::new(vec![ValueType::new("off-cpu", "nanoseconds")]);
/// let t = p.intern_thread_named(Some(7), Some(8), "app", "app");
/// let mut frame = |p: &mut Profile, name: &str, module: &str, kind| {
///     let f = Frame { name: p.intern_str(name), module: p.intern_str(module), kind, ..Frame::default() };
///     p.intern_frame(f)
/// };
/// let libc = "/usr/lib/x86_64-linux-gnu/libc.so.6";
/// let stack = [
///     frame(&mut p, "start_thread", libc, FrameKind::Native),
///     frame(&mut p, "locker_main", "/srv/app", FrameKind::Native),
///     frame(&mut p, "__GI___lll_lock_wait", libc, FrameKind::Native),
///     frame(&mut p, "futex_wait", "[kernel.kallsyms]", FrameKind::Kernel),
///     frame(&mut p, "schedule", "[kernel.kallsyms]", FrameKind::Kernel),
/// ];
/// let s = p.intern_stack_frames(stack);
/// p.push_sample(s, t, None, &[1500]);
/// let r = wait_report(&p, 0, &[], WaitScope::AllWeight);
/// let row = &r.sites[0];
/// assert_eq!((row.wait, row.blocked_in.as_str(), row.caller.as_str()), (Wait::Lock, "__lll_lock_wait", "locker_main"));
/// assert_eq!(r.rows_total(), 1500);
/// ```
pub fn wait_report(p: &Profile, column: usize, extra: &[Regex], scope: WaitScope) -> WaitReport {
    use std::collections::HashMap;
    let waits = sample_waits(p, column, extra, scope);
    let mut rows: HashMap<usize, (i64, u64)> = HashMap::new();
    let mut report = WaitReport::default();
    for (i, w) in waits.samples.iter().enumerate() {
        let weight = p.value(column, i);
        match *w {
            SampleWait::NotWaiting => {}
            SampleWait::IdleTask => {
                report.idle_task = report.idle_task.saturating_add(weight);
                report.idle_task_samples = report.idle_task_samples.saturating_add(1);
            }
            SampleWait::At(key) => {
                let row = rows.entry(key).or_insert((0, 0));
                row.0 = row.0.saturating_add(weight);
                row.1 = row.1.saturating_add(1);
            }
        }
    }
    let mut out: Vec<WaitSite> = rows
        .into_iter()
        .filter_map(|(key, (weight, samples))| {
            let k = waits.keys.get(key)?;
            Some(WaitSite {
                wait: k.wait,
                blocked_in: k.blocked_in.clone(),
                caller: k.caller.clone(),
                weight,
                samples,
            })
        })
        .collect();
    out.sort_by(|a, b| {
        b.weight
            .cmp(&a.weight)
            .then_with(|| a.wait.cmp(&b.wait))
            .then_with(|| a.blocked_in.cmp(&b.blocked_in))
            .then_with(|| a.caller.cmp(&b.caller))
    });
    report.sites = out;
    report
}

/// A place samples wait: what for, where the program blocked, who waits
/// (the grouping key of a [`WaitSite`]).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct WaitKey {
    /// What is waited for.
    pub wait: Wait,
    /// The blocking site, as [`WaitSite::blocked_in`].
    pub blocked_in: String,
    /// Who waits, as [`WaitSite::caller`].
    pub caller: String,
}

/// Where one sample waits, in [`SampleWaits`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum SampleWait {
    /// Not waiting (or, with [`WaitScope::AllWeight`], no weight).
    NotWaiting,
    /// perf's idle task, with [`WaitScope::AllWeight`] (reported apart).
    IdleTask,
    /// At [`SampleWaits::keys`]`[i]`.
    At(usize),
}

/// Each sample's wait: what [`wait_report`] sums, kept per sample so that
/// a caller can sum it per thread (the HTML report does, in the browser).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct SampleWaits {
    /// The distinct places, in order of first appearance.
    pub keys: Vec<WaitKey>,
    /// One entry per sample of the profile.
    pub samples: Vec<SampleWait>,
}

/// Where each sample of `p` waits, by the rules of [`wait_report`] (which
/// sums this).
///
/// ```
/// use stackconv_ops::idle::{sample_waits, SampleWait, Wait, WaitScope};
/// use stackconv_model::{FrameKind, Profile, ValueType};
///
/// let mut p = Profile::new(vec![ValueType::new("samples", "count")]);
/// let t = p.intern_thread(Default::default());
/// let main = p.intern_frame_named("main", FrameKind::Native);
/// let sleep = p.intern_frame_named("nanosleep", FrameKind::Native);
/// let busy = p.intern_stack_frames([main]);
/// let idle = p.intern_stack_frames([main, sleep]);
/// p.push_sample(busy, t, None, &[1]);
/// p.push_sample(idle, t, None, &[1]);
/// let w = sample_waits(&p, 0, &[], WaitScope::IdleSamples);
/// assert_eq!(w.samples, [SampleWait::NotWaiting, SampleWait::At(0)]);
/// assert_eq!(w.keys[0].wait, Wait::Sleep);
/// ```
pub fn sample_waits(p: &Profile, column: usize, extra: &[Regex], scope: WaitScope) -> SampleWaits {
    use std::collections::HashMap;
    let every = scope == WaitScope::AllWeight;
    let mut by_stack: HashMap<Option<StackId>, Option<usize>> = HashMap::new();
    let mut index: HashMap<WaitKey, usize> = HashMap::new();
    let mut out = SampleWaits::default();
    let mut intern = |out: &mut SampleWaits, key: WaitKey| -> usize {
        *index.entry(key).or_insert_with_key(|k| {
            out.keys.push(k.clone());
            out.keys.len().saturating_sub(1)
        })
    };
    for i in 0..p.samples().len() {
        let Some(&thread) = p.samples().threads().get(i) else {
            out.samples.push(SampleWait::NotWaiting);
            continue;
        };
        let weight = p.value(column, i);
        if every && weight == 0 {
            out.samples.push(SampleWait::NotWaiting);
            continue;
        }
        let w = if is_idle_task(p, thread) {
            if every {
                SampleWait::IdleTask
            } else {
                let t = p.threads().get(thread);
                let name = p.str(t.thread_name);
                let key = WaitKey {
                    wait: Wait::Other,
                    blocked_in: if name.is_empty() { "[idle task]" } else { name }.to_string(),
                    caller: String::new(),
                };
                SampleWait::At(intern(&mut out, key))
            }
        } else {
            let stack = p.samples().stacks().get(i).copied().flatten();
            let key = match by_stack.get(&stack) {
                Some(&k) => k,
                None => {
                    let k = stack_wait_key(p, stack, extra, every).map(|k| intern(&mut out, k));
                    by_stack.insert(stack, k);
                    k
                }
            };
            key.map_or(SampleWait::NotWaiting, SampleWait::At)
        };
        out.samples.push(w);
    }
    out
}

/// The wait key of one stack; `None` when it does not wait (never with
/// `every`: off-CPU time no rule names is [`Wait::Other`]).
fn stack_wait_key(
    p: &Profile,
    stack: Option<StackId>,
    extra: &[Regex],
    every: bool,
) -> Option<WaitKey> {
    let frames = p.stack_frames(stack);
    let site = blocking_site(p, &frames, extra);
    let wait = match site.wait {
        Some(w) => w,
        None if every => Wait::Other,
        None => return None,
    };
    let name = |k: Option<usize>, display: bool| {
        k.and_then(|k| frames.get(k))
            .map(|&f| {
                let n = p.frame_name(f);
                if display && frame_class(p, f) == FrameClass::CLibrary {
                    c_library_display_name(n)
                } else {
                    n
                }
                .to_string()
            })
            .unwrap_or_default()
    };
    let blocked_in = match site.at {
        Some(_) => name(site.at, true),
        None => "[no stack]".to_string(),
    };
    Some(WaitKey {
        wait,
        blocked_in,
        caller: name(site.caller, false),
    })
}

/// The idle samples of `p` grouped by where they wait, heaviest first;
/// [`wait_report`] with [`WaitScope::IdleSamples`].
///
/// ```
/// use stackconv_ops::idle::{wait_sites, Wait};
/// use stackconv_model::{FrameKind, Profile, ValueType};
///
/// let mut p = Profile::new(vec![ValueType::new("samples", "count")]);
/// let t = p.intern_thread(Default::default());
/// let names = ["py::worker:/app/w.py", "py::load:/app/w.py"];
/// let mut frames: Vec<_> = names.iter().map(|n| p.intern_frame_named(n, FrameKind::Python)).collect();
/// frames.push(p.intern_frame_named("PyThread_acquire_lock_timed", FrameKind::Native));
/// frames.push(p.intern_frame_named("futex_wait", FrameKind::Kernel));
/// let s = p.intern_stack_frames(frames);
/// p.push_sample(s, t, None, &[3]);
/// let sites = wait_sites(&p, 0, &[]);
/// assert_eq!(sites.len(), 1);
/// assert_eq!((sites[0].wait, sites[0].blocked_in.as_str()), (Wait::Lock, "PyThread_acquire_lock_timed"));
/// assert_eq!((sites[0].caller.as_str(), sites[0].weight), ("py::load:/app/w.py", 3));
/// ```
pub fn wait_sites(p: &Profile, column: usize, extra: &[Regex]) -> Vec<WaitSite> {
    wait_report(p, column, extra, WaitScope::IdleSamples).sites
}

/// One thread's share of wall time spent off the CPU.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ThreadWait {
    /// The thread.
    pub thread: ThreadId,
    /// Its off-CPU time (the weight in the off-CPU column), nanoseconds.
    pub off_cpu_ns: i64,
    /// Its on-CPU time, when the profile has an on-CPU time column.
    pub on_cpu_ns: Option<i64>,
    /// The first and last instant the recording saw it (an off-CPU
    /// interval counts to its end), when samples carry timestamps.
    pub span_ns: Option<(u64, u64)>,
}

impl ThreadWait {
    /// The wall time between the first and last instant seen, nanoseconds.
    pub fn wall_ns(&self) -> Option<u64> {
        self.span_ns.map(|(a, b)| b.saturating_sub(a))
    }

    /// Off-CPU time over wall time (0 to 1), when the wall time is known
    /// and not zero.
    pub fn share(&self) -> Option<f64> {
        let wall = self.wall_ns().filter(|&w| w > 0)?;
        Some(self.off_cpu_ns as f64 / wall as f64)
    }
}

/// Per thread of `p` with samples: off-CPU time from column `off_column`,
/// on-CPU time from `on_column` (if any) and the wall span; ordered by
/// thread id. perf's idle task is included (callers may set it apart with
/// [`is_idle_task`]).
pub fn thread_waits(p: &Profile, off_column: usize, on_column: Option<usize>) -> Vec<ThreadWait> {
    let mut out: Vec<Option<ThreadWait>> = vec![None; p.threads().len()];
    let times = p.samples().times();
    for (i, &thread) in p.samples().threads().iter().enumerate() {
        let Some(slot) = out.get_mut(thread.index()) else {
            continue;
        };
        let t = slot.get_or_insert(ThreadWait {
            thread,
            off_cpu_ns: 0,
            on_cpu_ns: on_column.map(|_| 0),
            span_ns: None,
        });
        let off = p.value(off_column, i);
        t.off_cpu_ns = t.off_cpu_ns.saturating_add(off);
        if let (Some(on), Some(c)) = (t.on_cpu_ns.as_mut(), on_column) {
            *on = on.saturating_add(p.value(c, i));
        }
        if let Some(&at) = times.and_then(|ts| ts.get(i)) {
            let end = at.saturating_add(u64::try_from(off).unwrap_or(0));
            t.span_ns = Some(match t.span_ns {
                Some((a, b)) => (a.min(at), b.max(end)),
                None => (at, end),
            });
        }
    }
    out.into_iter().flatten().collect()
}

/// Classify every sample of `p`: `Some(wait)` for an idle sample. Each
/// distinct stack is classified once; perf's idle task ([`is_idle_task`])
/// is idle whatever its stack. `extra` are the user's `--idle-frames`
/// regexes.
pub fn classify(p: &Profile, extra: &[Regex]) -> Vec<Option<Wait>> {
    let mut by_stack: Vec<Option<Option<Wait>>> = vec![None; p.stacks().len()];
    let mut by_thread: Vec<Option<bool>> = vec![None; p.threads().len()];
    let empty = classify_frames(p, &[], extra);
    (0..p.samples().len())
        .map(|i| {
            if let Some(&t) = p.samples().threads().get(i) {
                let idle_task = match by_thread.get(t.index()).copied().flatten() {
                    Some(b) => b,
                    None => {
                        let b = is_idle_task(p, t);
                        if let Some(slot) = by_thread.get_mut(t.index()) {
                            *slot = Some(b);
                        }
                        b
                    }
                };
                if idle_task {
                    return Some(Wait::Other);
                }
            }
            let stack: Option<StackId> = p.samples().stacks().get(i).copied().flatten();
            let Some(s) = stack else {
                return empty;
            };
            if let Some(w) = by_stack.get(s.index()).copied().flatten() {
                return w;
            }
            let w = classify_frames(p, &p.stacks().frames(s), extra);
            if let Some(slot) = by_stack.get_mut(s.index()) {
                *slot = Some(w);
            }
            w
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use stackconv_model::{Frame, ValueType};

    fn stack(p: &mut Profile, frames: &[(&str, FrameKind)]) -> Vec<FrameId> {
        frames
            .iter()
            .map(|&(n, k)| {
                let module = if k == FrameKind::Kernel {
                    "[kernel.kallsyms]"
                } else {
                    ""
                };
                let f = Frame {
                    name: p.intern_str(n),
                    module: p.intern_str(module),
                    kind: k,
                    ..Frame::default()
                };
                p.intern_frame(f)
            })
            .collect()
    }

    #[test]
    fn classifies_waits() {
        use FrameKind::{Kernel as K, Native as N, Python as P};
        let mut p = Profile::new(vec![ValueType::new("samples", "count")]);
        type Case<'a> = (Vec<(&'a str, FrameKind)>, Option<Wait>);
        let cases: Vec<Case> = vec![
            // perf -X perf: lock wait under the innermost Python frame.
            (
                vec![
                    ("py::worker:/app/w.py", P),
                    ("py::load:/app/w.py", P),
                    ("_PyEval_EvalFrameDefault", N),
                    ("lock_PyThread_acquire_lock", N),
                    ("PyThread_acquire_lock_timed", N),
                    ("__futex_abstimed_wait_common", N),
                    ("entry_SYSCALL_64_after_hwframe", K),
                    ("__x64_sys_futex", K),
                    ("futex_wait", K),
                    ("schedule", K),
                ],
                Some(Wait::Lock),
            ),
            // GIL wait wins over the condition variable below it.
            (
                vec![
                    ("py::load:/app/w.py", P),
                    ("PyEval_RestoreThread", N),
                    ("take_gil", N),
                    ("pthread_cond_timedwait@@GLIBC_2.3.2", N),
                    ("futex_wait", K),
                ],
                Some(Wait::Gil),
            ),
            // sleep
            (
                vec![
                    ("py::slow_query:/app/w.py", P),
                    ("time_sleep", N),
                    ("clock_nanosleep@GLIBC_2.2.5", N),
                    ("do_nanosleep", K),
                ],
                Some(Wait::Sleep),
            ),
            // py-spy leaf wait in threading.py; a CPU frame above it does
            // not matter.
            (
                vec![
                    ("worker (webapi.py:140)", P),
                    ("get (queue.py:171)", P),
                    ("wait (threading.py:355)", P),
                ],
                Some(Wait::Lock),
            ),
            (
                vec![("serve (srv.py:3)", P), ("select (selectors.py:468)", P)],
                Some(Wait::Io),
            ),
            // a wait only above the innermost Python frame: busy.
            (
                vec![
                    ("select (selectors.py:468)", P),
                    ("callback (app.py:9)", P),
                    ("fib (app.py:3)", P),
                ],
                None,
            ),
            // a Python function that merely has a wait-like name elsewhere.
            (vec![("read (parser.py:3)", P)], None),
            // py-spy --native frames: C frames under the Python leaf.
            (
                vec![
                    ("load (webapi.py:57)", P),
                    ("PyThread_acquire_lock_timed (thread_pthread.h:478)", P),
                ],
                Some(Wait::Lock),
            ),
            // pure native program
            (
                vec![
                    ("main", N),
                    ("worker", N),
                    ("pthread_mutex_lock", N),
                    ("__lll_lock_wait", N),
                ],
                Some(Wait::Lock),
            ),
            (vec![("main", N), ("compute", N)], None),
            // preemption on return to user space is not a wait
            (
                vec![
                    ("main", N),
                    ("asm_sysvec_apic_timer_interrupt", K),
                    ("irqentry_exit_to_user_mode", K),
                    ("schedule", K),
                ],
                None,
            ),
        ];
        for (frames, want) in cases {
            let ids = stack(&mut p, &frames);
            assert_eq!(classify_frames(&p, &ids, &[]), want, "{frames:?}");
        }
        let ids = stack(&mut p, &[("load (webapi.py:57)", P)]);
        assert_eq!(classify_frames(&p, &ids, &[]), None);
        let extra = [Regex::new(r"load \(webapi\.py:57\)").expect("regex")];
        assert_eq!(classify_frames(&p, &ids, &extra), Some(Wait::Other));
    }

    /// Blocking sites and callers of real stack shapes (frame-pointer
    /// stacks through libc lose the frame that called libc).
    #[test]
    fn blocking_sites() {
        let libc = "/usr/lib/x86_64-linux-gnu/libc.so.6";
        let app = "/tmp/stackconv-record/mutex";
        let k = "[kernel.kallsyms]";
        let py = "/tmp/perf-1.map";
        let lp = "/opt/python3.12/lib/libpython3.12.so.1.0";
        let futex = [
            ("entry_SYSCALL_64_after_hwframe", k),
            ("__x64_sys_futex", k),
            ("futex_wait", k),
            ("schedule", k),
        ];
        type Case<'a> = (Vec<(&'a str, &'a str)>, Option<Wait>, &'a str, &'a str);
        let with = |head: &[(&'static str, &'static str)],
                    tail: &[(&'static str, &'static str)]| {
            head.iter().chain(tail).copied().collect::<Vec<_>>()
        };
        let cases: Vec<Case> = vec![
            (
                with(
                    &[
                        ("start_thread", libc),
                        ("locker_main", app),
                        ("__GI___lll_lock_wait", libc),
                    ],
                    &futex,
                ),
                Some(Wait::Lock),
                "__lll_lock_wait",
                "locker_main",
            ),
            (
                with(
                    &[
                        ("start_thread", libc),
                        ("locker_main", app),
                        ("take_turn", app),
                        ("pthread_mutex_lock@@GLIBC_2.2.5", libc),
                        ("__GI___lll_lock_wait", libc),
                    ],
                    &futex,
                ),
                Some(Wait::Lock),
                "pthread_mutex_lock",
                "take_turn",
            ),
            (
                with(
                    &[
                        ("main", app),
                        ("___pthread_clockjoin_ex", libc),
                        ("__futex_abstimed_wait_common64", libc),
                    ],
                    &futex,
                ),
                Some(Wait::Join),
                "___pthread_clockjoin_ex",
                "main",
            ),
            (
                with(
                    &[
                        ("consumer", app),
                        ("pthread_cond_wait@@GLIBC_2.3.2", libc),
                        ("__futex_abstimed_wait_common", libc),
                    ],
                    &futex,
                ),
                Some(Wait::Condition),
                "pthread_cond_wait",
                "consumer",
            ),
            (
                vec![
                    ("main", app),
                    ("__GI___clock_nanosleep", libc),
                    ("do_syscall_64", k),
                    ("do_nanosleep", k),
                    ("schedule", k),
                ],
                Some(Wait::Sleep),
                "__clock_nanosleep",
                "main",
            ),
            // preempted: no wait; the program function it was in
            (
                vec![
                    ("locker_main", app),
                    ("work", app),
                    ("asm_sysvec_apic_timer_interrupt", k),
                    ("irqentry_exit_to_user_mode", k),
                    ("schedule", k),
                ],
                None,
                "work",
                "locker_main",
            ),
            // preempted in libc, its caller lost
            (
                vec![
                    ("start_thread", libc),
                    ("__GI___lll_lock_wake", libc),
                    ("exit_to_user_mode_loop", k),
                    ("schedule", k),
                ],
                None,
                "__lll_lock_wake",
                "",
            ),
            // Python: the C implementation of lock.acquire, called from load
            (
                with(
                    &[
                        ("py::load:/app/w.py", py),
                        ("_PyEval_EvalFrameDefault", lp),
                        ("lock_PyThread_acquire_lock", lp),
                        ("acquire_timed", lp),
                        ("PyThread_acquire_lock_timed", lp),
                        ("__new_sem_wait_slow64", libc),
                    ],
                    &futex,
                ),
                Some(Wait::Lock),
                "lock_PyThread_acquire_lock",
                "py::load:/app/w.py",
            ),
        ];
        let mut p = Profile::new(vec![ValueType::new("off-cpu", "nanoseconds")]);
        for (frames, want, site, caller) in cases {
            let ids: Vec<FrameId> = frames
                .iter()
                .map(|&(n, m)| {
                    let kind = if m == k {
                        FrameKind::Kernel
                    } else if n.starts_with("py::") {
                        FrameKind::Python
                    } else {
                        FrameKind::Native
                    };
                    let f = Frame {
                        name: p.intern_str(n),
                        module: p.intern_str(m),
                        kind,
                        ..Frame::default()
                    };
                    p.intern_frame(f)
                })
                .collect();
            let s = blocking_site(&p, &ids, &[]);
            assert_eq!(s.wait, want, "{frames:?}");
            let name = |i: Option<usize>| {
                i.and_then(|i| ids.get(i))
                    .map(|&f| c_library_display_name(p.frame_name(f)).to_string())
                    .unwrap_or_default()
            };
            assert_eq!(name(s.at), site, "{frames:?}");
            assert_eq!(name(s.caller), caller, "{frames:?}");
        }
    }

    /// Off-CPU: every nanosecond is in a row or the idle task's total.
    #[test]
    fn off_cpu_report_accounts_for_everything() {
        let mut p = Profile::new(vec![ValueType::new("off-cpu", "nanoseconds")]);
        let idle = p.intern_thread_named(Some(0), Some(0), "swapper", "swapper");
        let app = p.intern_thread_named(Some(7), Some(7), "app", "app");
        let f = p.intern_frame_named("compute", FrameKind::Native);
        let g = p.intern_frame_named("nanosleep", FrameKind::Native);
        let busy = p.intern_stack_frames([f]);
        let sleep = p.intern_stack_frames([f, g]);
        p.push_sample(busy, idle, None, &[5]);
        p.push_sample(busy, app, None, &[7]);
        p.push_sample(sleep, app, None, &[11]);
        p.push_sample(sleep, app, None, &[0]);
        let r = wait_report(&p, 0, &[], WaitScope::AllWeight);
        assert_eq!((r.idle_task, r.idle_task_samples), (5, 1));
        assert_eq!(r.rows_total() + r.idle_task, p.total(0));
        assert_eq!(r.sites.len(), 2);
        assert_eq!((r.sites[0].wait, r.sites[0].weight), (Wait::Sleep, 11));
        assert_eq!(
            (r.sites[1].wait, r.sites[1].blocked_in.as_str()),
            (Wait::Other, "compute")
        );
        // Samples: only the idle ones, the idle task among them.
        let r = wait_report(&p, 0, &[], WaitScope::IdleSamples);
        assert_eq!(r.rows_total(), 5 + 11);
        let ts = thread_waits(&p, 0, None);
        assert_eq!(ts.iter().map(|t| t.off_cpu_ns).sum::<i64>(), p.total(0));
    }

    #[test]
    fn idle_task_is_idle() {
        let mut p = Profile::new(vec![ValueType::new("samples", "count")]);
        let idle = p.intern_thread_named(Some(0), Some(0), "swapper", "swapper");
        let busy = p.intern_thread_named(Some(7), Some(7), "app", "app");
        let f = p.intern_frame_named("cpu_startup_entry", FrameKind::Kernel);
        let s = p.intern_stack_frames([f]);
        p.push_sample(s, idle, None, &[1]);
        p.push_sample(s, busy, None, &[1]);
        assert_eq!(classify(&p, &[]), [Some(Wait::Other), None]);
    }
}
