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
//! - the innermost Python frame is matched, as `func (file)`, against
//!   [`DEFAULT_IDLE_FRAMES`] entries of scope [`Scope::PythonLeaf`];
//! - every other frame of the region is matched, by its bare function name
//!   (`py-spy`'s ` (file:line)` and glibc's `@@GLIBC_2.3.2` version suffix
//!   removed), against the entries of scope [`Scope::Native`] (C library,
//!   CPython internals, Go runtime and kernel names, matched whole);
//! - user regexes (`--idle-frames RE`) are matched, unanchored, against the
//!   display names of every frame of the region; a match is [`Wait::Other`];
//! - when several frames match, the most specific wait wins:
//!   GIL > sleep > I/O > lock > other (a thread in `take_gil` under
//!   `pthread_cond_timedwait` and `futex` waits for the GIL; one in
//!   `clock_nanosleep` under `PyEval_SaveThread` sleeps);
//! - a sample of perf's idle task (pid 0 or tid 0, or a thread named
//!   `swapper*`) is idle ([`Wait::Other`]) whatever its stack.
//!
//! Bare `schedule` / `__schedule` are deliberately not in the list: the
//! kernel also calls them to preempt a runnable thread on its way back to
//! user space (`exit_to_user_mode_loop`), which is not a wait. Waits reach
//! `schedule` through a wait function that is listed (`futex_wait`,
//! `do_nanosleep`, `do_sys_poll`, `ep_poll`, ...).
//!
//! Frames that a profile cannot show cannot be classified: py-spy without
//! `--native` does not show C functions, so a thread blocked in
//! `threading.RLock.acquire` (C) or `time.sleep` (C) has its calling
//! Python function as leaf (`load (webapi.py:57)`); pass
//! `--idle-frames 'load \(webapi.py:57\)'` to count it.
//!
//! ```
//! use stackconv_model::idle::{classify, Wait};
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

use std::sync::OnceLock;

use regex::Regex;

use crate::profile::Profile;
use crate::tables::{FrameId, FrameKind, StackId, ThreadId};
use crate::transform::python_name;

/// What an idle sample waits for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Wait {
    /// A lock, condition variable, semaphore, event or queue.
    Lock,
    /// Python's global interpreter lock.
    Gil,
    /// Sockets, pipes, files, `select` / `poll` / `epoll`.
    Io,
    /// A sleep.
    Sleep,
    /// Something else: perf's idle task, waiting for a child, a user
    /// `--idle-frames` expression.
    Other,
}

impl Wait {
    /// A short lowercase name: `lock`, `gil`, `io`, `sleep`, `other`.
    pub fn as_str(self) -> &'static str {
        match self {
            Wait::Lock => "lock",
            Wait::Gil => "gil",
            Wait::Io => "io",
            Wait::Sleep => "sleep",
            Wait::Other => "other",
        }
    }

    /// Precedence when several frames of a stack match: the most specific
    /// wait is the larger.
    fn rank(self) -> u8 {
        match self {
            Wait::Gil => 4,
            Wait::Sleep => 3,
            Wait::Io => 2,
            Wait::Lock => 1,
            Wait::Other => 0,
        }
    }
}

impl std::fmt::Display for Wait {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Which frames an entry of [`DEFAULT_IDLE_FRAMES`] is matched against.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scope {
    /// The innermost Python frame, as `func (file)` (`func` may carry a
    /// class: `Condition.wait`; `file` as the profiler wrote it).
    PythonLeaf,
    /// A non-Python frame of the leaf region, by its bare function name.
    Native,
}

/// The built-in list of idle frames: (scope, wait, regex). Native regexes
/// are matched against the whole bare name (they are wrapped in `^(?:…)$`);
/// Python ones are anchored as written.
pub const DEFAULT_IDLE_FRAMES: &[(Scope, Wait, &str)] = &[
    // py-spy's own heuristic (python_spy.rs, _heuristic_is_thread_idle),
    // widened to every wait of threading.py (Condition.wait, Event.wait,
    // Barrier.wait, Semaphore.acquire, Thread.join's lock wait).
    (
        Scope::PythonLeaf,
        Wait::Lock,
        r"^(?:\w+\.)*(?:wait|wait_for|acquire|_acquire_restore|_wait_for_tstate_lock|join) \((?:.*/)?threading\.py\)$",
    ),
    // queue.Queue.get/put waiting for the queue's mutex.
    (
        Scope::PythonLeaf,
        Wait::Lock,
        r"^(?:\w+\.)*(?:get|put|join) \((?:.*/)?queue\.py\)$",
    ),
    (
        Scope::PythonLeaf,
        Wait::Io,
        r"^(?:\w+\.)*(?:select|poll) \((?:.*/)?selectors\.py\)$",
    ),
    (
        Scope::PythonLeaf,
        Wait::Io,
        r"^(?:\w+\.)*poll \(.*(?:asyncore\.py|zmq|gevent|tornado).*\)$",
    ),
    (
        Scope::PythonLeaf,
        Wait::Io,
        r"^(?:\w+\.)*(?:accept|recv|recv_into|recvfrom|read|readinto|readline|sendall) \((?:.*/)?(?:socket|ssl)\.py\)$",
    ),
    (
        Scope::PythonLeaf,
        Wait::Io,
        r"^(?:\w+\.)*(?:_recv|_recv_bytes|_poll|wait) \((?:.*/)?multiprocessing/connection\.py\)$",
    ),
    (
        Scope::PythonLeaf,
        Wait::Other,
        r"^(?:\w+\.)*(?:wait|_wait|_try_wait|communicate) \((?:.*/)?subprocess\.py\)$",
    ),
    (Scope::PythonLeaf, Wait::Sleep, r"^(?:\w+\.)*sleep \("),
    // CPython internals.
    (
        Scope::Native,
        Wait::Gil,
        r"take_gil|_PyEval_RestoreThread|PyEval_RestoreThread|PyEval_AcquireThread|PyGILState_Ensure",
    ),
    (
        Scope::Native,
        Wait::Lock,
        r"PyThread_acquire_lock_timed|PyThread_acquire_lock|acquire_timed|lock_PyThread_acquire_lock|rlock_acquire|PyMUTEX_LOCK|_PyMutex_LockTimed|_PySemaphore_Wait|_PyParkingLot_Park",
    ),
    (Scope::Native, Wait::Sleep, r"time_sleep|pysleep"),
    (
        Scope::Native,
        Wait::Io,
        r"select_select|select_poll_poll_impl|select_poll_poll|select_epoll_poll_impl|select_epoll_poll|sock_recv|sock_recv_into|sock_recvfrom|sock_accept|sock_call_ex|_Py_read|os_read_impl|_io_FileIO_readinto_impl",
    ),
    (Scope::Native, Wait::Other, r"os_waitpid_impl|os_wait_impl"),
    // glibc (with its internal aliases as perf shows them).
    (
        Scope::Native,
        Wait::Lock,
        r"pthread_mutex_(?:timed|clock)?lock|__pthread_mutex_(?:cond_)?lock(?:_full)?|__pthread_mutex_clocklock_common|__lll_lock_wait(?:_private)?|lll_lock_wait|pthread_rwlock_(?:timed|clock)?(?:rd|wr)lock|__pthread_rwlock_(?:rd|wr)lock(?:_full64)?|sem_(?:timed|clock)?wait|__new_sem_wait_slow64|__new_sem_wait_slow|do_futex_wait|__futex_abstimed_wait_common(?:64)?|__futex_abstimed_wait_cancelable64|futex_abstimed_wait(?:_cancelable)?|futex_wait|__futex_wait|__GI___futex_abstimed_wait_cancelable64|pthread_cond_(?:timed|clock)?wait|__pthread_cond_wait|__pthread_cond_(?:timed|clock)wait(?:64)?|__pthread_cond_wait_common|pthread_join|__pthread_clockjoin_ex|__pthread_timedjoin_ex",
    ),
    (
        Scope::Native,
        Wait::Sleep,
        r"nanosleep|__nanosleep|__GI___nanosleep|__libc_nanosleep|clock_nanosleep|__clock_nanosleep|__GI___clock_nanosleep|__clock_nanosleep_time64|__GI___clock_nanosleep_time64|usleep|sleep|pause",
    ),
    (
        Scope::Native,
        Wait::Io,
        r"select|__select|__GI___select|pselect|pselect6|__pselect|poll|__poll|__GI___poll|ppoll|__ppoll|epoll_wait|__epoll_wait|epoll_pwait2?|recv|__recv|__libc_recv|recvfrom|__libc_recvfrom|recvmsg|__libc_recvmsg|accept4?|__libc_accept|read|__read|__libc_read|__GI___libc_read|readv|__readv|pread64|__libc_pread64|connect|__libc_connect",
    ),
    (
        Scope::Native,
        Wait::Other,
        r"waitpid|__waitpid|__GI___waitpid|wait4|__wait4|__GI___wait4|waitid",
    ),
    // Go runtime.
    (
        Scope::Native,
        Wait::Lock,
        r"runtime\.futexsleep|runtime\.notesleep|runtime\.notetsleep|runtime\.notetsleepg|runtime\.semasleep|runtime\.lock2",
    ),
    (
        Scope::Native,
        Wait::Sleep,
        r"runtime\.usleep|runtime\.nanosleep",
    ),
    (
        Scope::Native,
        Wait::Io,
        r"runtime\.epollwait|runtime\.netpoll",
    ),
    // Linux kernel.
    (
        Scope::Native,
        Wait::Lock,
        r"futex_wait_queue(?:_me)?|futex_wait_setup|do_futex|__x64_sys_futex|__se_sys_futex|__do_sys_futex|__arm64_sys_futex|rwsem_down_(?:read|write)_slowpath|__mutex_lock(?:\.constprop\.\d+)?|__mutex_lock_slowpath",
    ),
    (
        Scope::Native,
        Wait::Sleep,
        r"do_nanosleep|hrtimer_nanosleep|common_nsleep|__x64_sys_nanosleep|__x64_sys_clock_nanosleep|__arm64_sys_nanosleep|__arm64_sys_clock_nanosleep",
    ),
    (
        Scope::Native,
        Wait::Io,
        r"do_sys_poll|do_select|core_sys_select|do_pselect(?:\.constprop\.\d+)?|ep_poll|do_epoll_wait|do_epoll_pwait(?:\.part\.\d+)?|__x64_sys_(?:poll|ppoll|select|pselect6|epoll_wait|epoll_pwait2?)|__arm64_sys_(?:ppoll|pselect6|epoll_pwait2?)|io_schedule(?:_timeout)?|sk_wait_data|inet_csk_accept|unix_stream_read_generic|pipe_read|n_tty_read|wait_woken|schedule_hrtimeout_range(?:_clock)?",
    ),
    (
        Scope::Native,
        Wait::Other,
        r"do_idle|cpu_idle_poll|cpuidle_enter(?:_state)?|default_idle(?:_call)?|intel_idle|acpi_idle_enter|poll_idle|do_wait|kernel_wait4|__x64_sys_wait4|__do_sys_wait4|schedule_timeout",
    ),
];

/// The compiled default list, one regex per (scope, wait).
struct Compiled {
    python: Vec<(Wait, Regex)>,
    native: Vec<(Wait, Regex)>,
}

fn compiled() -> &'static Compiled {
    static COMPILED: OnceLock<Compiled> = OnceLock::new();
    COMPILED.get_or_init(|| {
        let mut python = Vec::new();
        let mut native = Vec::new();
        for &(scope, wait, re) in DEFAULT_IDLE_FRAMES {
            let (list, text) = match scope {
                Scope::PythonLeaf => (&mut python, re.to_string()),
                Scope::Native => (&mut native, format!("^(?:{re})$")),
            };
            // The list is a constant checked by a test; an entry that does
            // not compile is skipped rather than panicking.
            if let Ok(re) = Regex::new(&text) {
                list.push((wait, re));
            }
        }
        Compiled { python, native }
    })
}

/// Whether `thread` is perf's idle task: pid 0 or tid 0, or a thread named
/// `swapper` (`swapper/3`).
pub fn is_idle_task(p: &Profile, thread: ThreadId) -> bool {
    let t = p.threads.get(thread);
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
    let file = match python_name(p.str(frame.name)) {
        Some(py) => py.file,
        None => p.str(frame.file),
    };
    file.is_empty() || file.ends_with(".py") || file.ends_with(".pyw") || file.starts_with('<')
}

/// The bare function name of a frame: py-spy's ` (file:line)` and a glibc
/// symbol version (`@@GLIBC_2.3.2`) removed.
fn bare_name(name: &str) -> &str {
    let name = python_name(name)
        .filter(|_| !name.starts_with(crate::naming::PYTHON_PERF_MAP_PREFIX))
        .map(|py| py.func)
        .unwrap_or(name);
    name.split_once('@').map(|(n, _)| n).unwrap_or(name)
}

/// Classify one stack (frames root first); `extra` are user regexes.
pub fn classify_frames(p: &Profile, frames: &[FrameId], extra: &[Regex]) -> Option<Wait> {
    classify_site(p, frames, extra).map(|(w, _)| w)
}

/// The wait of one stack and the index (in `frames`) of the outermost
/// frame that matched it.
fn classify_site(p: &Profile, frames: &[FrameId], extra: &[Regex]) -> Option<(Wait, usize)> {
    let c = compiled();
    let innermost_py = frames.iter().rposition(|&f| is_python_frame(p, f));
    let start = innermost_py.unwrap_or(0);
    let region = frames.get(start..).unwrap_or(&[]);
    let mut best: Option<(Wait, usize)> = None;
    let mut consider = |w: Wait, at: usize| {
        if best.is_none_or(|(b, _)| w.rank() > b.rank()) {
            best = Some((w, at));
        }
    };
    for (i, &f) in region.iter().enumerate() {
        let at = start.saturating_add(i);
        let name = p.str(p.frame(f).name);
        if extra.iter().any(|re| re.is_match(name)) {
            consider(Wait::Other, at);
        }
        if i == 0 && innermost_py.is_some() {
            if let Some(py) = python_name(name) {
                let text = format!("{} ({})", py.func, py.file);
                for (w, re) in &c.python {
                    if re.is_match(&text) {
                        consider(*w, at);
                    }
                }
            }
            continue;
        }
        let bare = bare_name(name);
        for (w, re) in &c.native {
            if re.is_match(bare) {
                consider(*w, at);
            }
        }
    }
    best
}

/// Where idle samples wait: one row per (wait, blocking frame, caller).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WaitSite {
    /// What is waited for.
    pub wait: Wait,
    /// The outermost frame that made the sample idle (its display name),
    /// e.g. `lock_PyThread_acquire_lock`, `Condition.wait (threading.py:355)`;
    /// for perf's idle task its thread name.
    pub blocked_in: String,
    /// Who waits: the nearest Python frame above `blocked_in` (the Python
    /// function that called a native wait, or the Python caller of a Python
    /// wait such as `Condition.wait`), else the frame that called
    /// `blocked_in`; empty when there is none.
    pub caller: String,
    /// The weight of these samples in the column asked for.
    pub weight: i64,
    /// How many samples.
    pub samples: u64,
}

/// The idle samples of `p` grouped by where they wait, heaviest first (then
/// by wait, blocking frame and caller), weights from value column
/// `column`; for `stackconv waits`.
///
/// ```
/// use stackconv_model::idle::{wait_sites, Wait};
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
    use std::collections::HashMap;
    let mut by_stack: HashMap<Option<StackId>, Option<(Wait, String, String)>> = HashMap::new();
    let mut rows: HashMap<(Wait, String, String), (i64, u64)> = HashMap::new();
    for i in 0..p.samples.len() {
        let Some(&thread) = p.samples.threads.get(i) else {
            continue;
        };
        let key = if is_idle_task(p, thread) {
            let t = p.threads.get(thread);
            let name = p.str(t.thread_name);
            Some((
                Wait::Other,
                if name.is_empty() { "[idle task]" } else { name }.to_string(),
                String::new(),
            ))
        } else {
            let stack = p.samples.stacks.get(i).copied().flatten();
            by_stack
                .entry(stack)
                .or_insert_with(|| {
                    let frames = p.stack_frames(stack);
                    let (wait, at) = classify_site(p, &frames, extra)?;
                    let name = |k: usize| {
                        frames
                            .get(k)
                            .map(|&f| p.frame_name(f).to_string())
                            .unwrap_or_default()
                    };
                    let python_above = |end: usize| {
                        frames
                            .get(..end)
                            .and_then(|f| f.iter().rposition(|&f| is_python_frame(p, f)))
                    };
                    // A native wait: the Python function that called it. A
                    // Python wait (Condition.wait): its Python caller, not
                    // the interpreter frames in between.
                    let caller = python_above(at)
                        .or_else(|| at.checked_sub(1))
                        .map(name)
                        .unwrap_or_default();
                    Some((wait, name(at), caller))
                })
                .clone()
        };
        let Some(key) = key else { continue };
        let row = rows.entry(key).or_insert((0, 0));
        row.0 = row.0.saturating_add(p.value(column, i));
        row.1 = row.1.saturating_add(1);
    }
    let mut out: Vec<WaitSite> = rows
        .into_iter()
        .map(|((wait, blocked_in, caller), (weight, samples))| WaitSite {
            wait,
            blocked_in,
            caller,
            weight,
            samples,
        })
        .collect();
    out.sort_by(|a, b| {
        b.weight
            .cmp(&a.weight)
            .then_with(|| a.wait.cmp(&b.wait))
            .then_with(|| a.blocked_in.cmp(&b.blocked_in))
            .then_with(|| a.caller.cmp(&b.caller))
    });
    out
}

/// Classify every sample of `p`: `Some(wait)` for an idle sample. Each
/// distinct stack is classified once; perf's idle task ([`is_idle_task`])
/// is idle whatever its stack. `extra` are the user's `--idle-frames`
/// regexes.
pub fn classify(p: &Profile, extra: &[Regex]) -> Vec<Option<Wait>> {
    let mut by_stack: Vec<Option<Option<Wait>>> = vec![None; p.stacks.len()];
    let mut by_thread: Vec<Option<bool>> = vec![None; p.threads.len()];
    let empty = classify_frames(p, &[], extra);
    (0..p.samples.len())
        .map(|i| {
            if let Some(&t) = p.samples.threads.get(i) {
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
            let stack: Option<StackId> = p.samples.stacks.get(i).copied().flatten();
            let Some(s) = stack else {
                return empty;
            };
            if let Some(w) = by_stack.get(s.index()).copied().flatten() {
                return w;
            }
            let w = classify_frames(p, &p.stacks.frames(s), extra);
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
    use crate::{Frame, ValueType};

    #[test]
    fn default_list_compiles() {
        for &(scope, _, re) in DEFAULT_IDLE_FRAMES {
            let text = match scope {
                Scope::PythonLeaf => re.to_string(),
                Scope::Native => format!("^(?:{re})$"),
            };
            assert!(Regex::new(&text).is_ok(), "{re}");
        }
        assert_eq!(
            compiled().python.len() + compiled().native.len(),
            DEFAULT_IDLE_FRAMES.len()
        );
    }

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
