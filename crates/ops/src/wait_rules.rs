//! The one rule table of wait functions, and what counts as a C-library or
//! kernel frame. Both the idle classifier ([`crate::idle::classify`]) and
//! the off-CPU report ([`crate::idle::wait_report`]) use it.
//!
//! Names are compared in a *canonical* spelling ([`canonical_name`]), so one
//! table entry covers the many names a C library function goes by in a
//! profile. glibc exports a function under its public name
//! (`pthread_cond_wait@@GLIBC_2.3.2`, a symbol version), defines it under an
//! internal one (`___pthread_cond_wait`, `__pthread_mutex_lock`), calls
//! itself through hidden aliases (`__GI___lll_lock_wait`,
//! `__GI___clock_nanosleep`), and has 64-bit-time, private-futex and
//! non-cancellable variants (`__futex_abstimed_wait_common64`,
//! `__clock_nanosleep_time64`, `__lll_lock_wait_private`,
//! `__read_nocancel`); perf names a frame by whichever of those symbols the
//! symbol table lists first. The kernel adds syscall wrappers
//! (`__x64_sys_futex`, `__se_sys_futex`) and gcc clones
//! (`do_epoll_wait.part.0`, `__mutex_lock.constprop.0`).
//!
//! ```
//! use stackconv_ops::wait_rules::{canonical_name, native_wait};
//! use stackconv_ops::idle::Wait;
//!
//! assert_eq!(canonical_name("__GI___lll_lock_wait"), "lll_lock_wait");
//! assert_eq!(canonical_name("pthread_cond_timedwait@@GLIBC_2.3.2"), "pthread_cond_timedwait");
//! assert_eq!(native_wait("__futex_abstimed_wait_common64"), Some(Wait::Lock));
//! assert_eq!(native_wait("___pthread_cond_wait"), Some(Wait::Condition));
//! assert_eq!(native_wait("compute"), None);
//! ```

use std::sync::OnceLock;

use regex::Regex;

use stackconv_model::naming::is_kernel_module;
use stackconv_model::naming::python_frame;
use stackconv_model::Profile;
use stackconv_model::{FrameId, FrameKind};

/// What an idle sample waits for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Wait {
    /// A lock, semaphore, futex, or a Python lock, event or queue.
    Lock,
    /// A condition variable (`pthread_cond_wait`).
    Condition,
    /// Another thread's end (`pthread_join`).
    Join,
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
    /// A short lowercase name: `lock`, `condition`, `join`, `gil`, `io`,
    /// `sleep`, `other`.
    pub fn as_str(self) -> &'static str {
        match self {
            Wait::Lock => "lock",
            Wait::Condition => "condition",
            Wait::Join => "join",
            Wait::Gil => "gil",
            Wait::Io => "io",
            Wait::Sleep => "sleep",
            Wait::Other => "other",
        }
    }

    /// Precedence when several frames of a stack match: the most specific
    /// wait is the larger.
    pub(crate) fn rank(self) -> u8 {
        match self {
            Wait::Gil => 6,
            Wait::Sleep => 5,
            Wait::Io => 4,
            Wait::Join => 3,
            Wait::Condition => 2,
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

/// Which frames a [`WaitRule`] is matched against.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Scope {
    /// The innermost Python frame of a stack, as `func (file)` (`func` may
    /// carry a class: `Condition.wait`; `file` as the profiler wrote it).
    /// The pattern is anchored as written.
    PythonLeaf,
    /// Any other frame, by its [`canonical_name`]; the pattern must match
    /// the whole name.
    Native,
}

/// One entry of [`WAIT_RULES`].
#[derive(Clone, Copy, Debug)]
pub struct WaitRule {
    /// Which frames it applies to.
    pub scope: Scope,
    /// What a matching frame waits for.
    pub wait: Wait,
    /// A regular expression (see [`Scope`] for how it is anchored).
    pub pattern: &'static str,
    /// Where the names come from.
    pub source: &'static str,
}

const fn rule(scope: Scope, wait: Wait, pattern: &'static str, source: &'static str) -> WaitRule {
    WaitRule {
        scope,
        wait,
        pattern,
        source,
    }
}

/// The wait functions: which frames show a thread waiting, and for what.
///
/// Native patterns are written in canonical spelling ([`canonical_name`]:
/// no `__GI_` or leading underscores, no `@@GLIBC_x` version, no
/// `_private` / `_nocancel` / `64` / `_time64` suffix, no `libc_` prefix, no
/// kernel syscall-wrapper prefix, no gcc clone suffix); each entry's
/// `source` says where its names come from. Bare `schedule` / `__schedule`
/// are deliberately absent: the kernel also calls them to preempt a
/// runnable thread on its way back to user space
/// (`irqentry_exit_to_user_mode`), which is not a wait; waits reach
/// `schedule` through a function that is listed (`futex_wait`,
/// `do_nanosleep`, `ep_poll`, `io_schedule`, `pipe_read`, ...).
pub const WAIT_RULES: &[WaitRule] = &[
    rule(
        Scope::PythonLeaf,
        Wait::Lock,
        r"^(?:\w+\.)*(?:wait|wait_for|acquire|_acquire_restore|_wait_for_tstate_lock|join) \((?:.*/)?threading\.py\)$",
        "py-spy 0.4 src/python_spy.rs _heuristic_is_thread_idle (wait in threading.py), widened to every wait of CPython's Lib/threading.py",
    ),
    rule(
        Scope::PythonLeaf,
        Wait::Lock,
        r"^(?:\w+\.)*(?:get|put|join) \((?:.*/)?queue\.py\)$",
        "CPython Lib/queue.py: Queue.get/put/join wait on the queue's condition",
    ),
    rule(
        Scope::PythonLeaf,
        Wait::Io,
        r"^(?:\w+\.)*(?:select|poll) \((?:.*/)?selectors\.py\)$",
        "py-spy _heuristic_is_thread_idle (select in selectors.py)",
    ),
    rule(
        Scope::PythonLeaf,
        Wait::Io,
        r"^(?:\w+\.)*poll \(.*(?:asyncore\.py|zmq|gevent|tornado).*\)$",
        "py-spy _heuristic_is_thread_idle (poll in asyncore.py, zmq, gevent, tornado)",
    ),
    rule(
        Scope::PythonLeaf,
        Wait::Io,
        r"^(?:\w+\.)*(?:accept|recv|recv_into|recvfrom|read|readinto|readline|sendall) \((?:.*/)?(?:socket|ssl)\.py\)$",
        "CPython Lib/socket.py, Lib/ssl.py blocking calls",
    ),
    rule(
        Scope::PythonLeaf,
        Wait::Io,
        r"^(?:\w+\.)*(?:_recv|_recv_bytes|_poll|wait) \((?:.*/)?multiprocessing/connection\.py\)$",
        "CPython Lib/multiprocessing/connection.py",
    ),
    rule(
        Scope::PythonLeaf,
        Wait::Other,
        r"^(?:\w+\.)*(?:wait|_wait|_try_wait|communicate) \((?:.*/)?subprocess\.py\)$",
        "CPython Lib/subprocess.py: waiting for a child",
    ),
    rule(
        Scope::PythonLeaf,
        Wait::Sleep,
        r"^(?:\w+\.)*sleep \(",
        "time.sleep / asyncio.sleep as py-spy shows them",
    ),
    rule(
        Scope::Native,
        Wait::Gil,
        r"take_gil|PyEval_RestoreThread|PyEval_AcquireThread|PyGILState_Ensure",
        "CPython 3.12/3.13 Python/ceval_gil.c, Python/pystate.c",
    ),
    rule(
        Scope::Native,
        Wait::Lock,
        r"PyThread_acquire_lock_timed|PyThread_acquire_lock|acquire_timed|lock_PyThread_acquire_lock|rlock_acquire|PyMUTEX_LOCK|PyMutex_LockTimed|PySemaphore_Wait|PyParkingLot_Park",
        "CPython 3.12/3.13 Python/thread_pthread.h, Modules/_threadmodule.c, Python/lock.c, Python/parking_lot.c",
    ),
    rule(
        Scope::Native,
        Wait::Sleep,
        r"time_sleep|pysleep",
        "CPython Modules/timemodule.c",
    ),
    rule(
        Scope::Native,
        Wait::Io,
        r"select_select|select_poll_poll_impl|select_poll_poll|select_epoll_poll_impl|select_epoll_poll|sock_recv|sock_recv_into|sock_recvfrom|sock_accept|sock_call_ex|Py_read|os_read_impl|io_FileIO_readinto_impl",
        "CPython Modules/selectmodule.c, Modules/socketmodule.c, Python/fileutils.c, Modules/posixmodule.c, Modules/_io/fileio.c",
    ),
    rule(
        Scope::Native,
        Wait::Other,
        r"os_waitpid_impl|os_wait_impl",
        "CPython Modules/posixmodule.c: waiting for a child",
    ),
    rule(
        Scope::Native,
        Wait::Lock,
        r"pthread_mutex_(?:timed|clock)?lock(?:_full)?|pthread_mutex_cond_lock(?:_full)?|pthread_mutex_clocklock_common|lll_lock_wait|pthread_rwlock_(?:timed|clock)?(?:rd|wr)lock(?:_full)?|sem_(?:timed|clock)?wait|new_sem_wait_slow|new_sem_wait|do_futex_wait|futex_abstimed_wait(?:_common|_cancelable)?|futex_wait|futex_lock_pi|mtx_(?:timed)?lock",
        "glibc 2.36 nptl/pthread_mutex_lock.c, nptl/lowlevellock.c, nptl/pthread_rwlock_common.c, nptl/sem_waitcommon.c, sysdeps/nptl/futex-internal.c",
    ),
    rule(
        Scope::Native,
        Wait::Condition,
        r"pthread_cond_(?:timed|clock)?wait|pthread_cond_wait_common|cnd_(?:timed)?wait",
        "glibc 2.36 nptl/pthread_cond_wait.c (pthread_cond_wait@@GLIBC_2.3.2 is ___pthread_cond_wait)",
    ),
    rule(
        Scope::Native,
        Wait::Join,
        r"pthread_join|pthread_(?:try|timed|clock)join_np|pthread_(?:clock|timed)join_ex|thrd_join",
        "glibc 2.36 nptl/pthread_join.c, nptl/pthread_join_common.c (__pthread_clockjoin_ex)",
    ),
    rule(
        Scope::Native,
        Wait::Sleep,
        r"nanosleep|clock_nanosleep|usleep|sleep|pause|thrd_sleep",
        "glibc 2.36 sysdeps/unix/sysv/linux/clock_nanosleep.c, posix/nanosleep.c, sleep.c, usleep.c",
    ),
    rule(
        Scope::Native,
        Wait::Io,
        r"select|pselect6?|poll|ppoll|epoll_wait|epoll_pwait2?|recv|recvfrom|recvmsg|accept4?|read|readv|pread|connect",
        "glibc 2.36 sysdeps/unix/sysv/linux/*.c syscall wrappers (__libc_read, __read_nocancel, __GI___poll, ...)",
    ),
    rule(
        Scope::Native,
        Wait::Other,
        r"waitpid|wait4|waitid",
        "glibc 2.36 posix/waitpid.c, sysdeps/unix/sysv/linux/wait4.c: waiting for a child",
    ),
    rule(
        Scope::Native,
        Wait::Lock,
        r"runtime\.futexsleep|runtime\.notesleep|runtime\.notetsleep|runtime\.notetsleepg|runtime\.semasleep|runtime\.lock2",
        "Go runtime (src/runtime/lock_futex.go, os_linux.go)",
    ),
    rule(
        Scope::Native,
        Wait::Sleep,
        r"runtime\.usleep|runtime\.nanosleep",
        "Go runtime (src/runtime/sys_linux_amd64.s)",
    ),
    rule(
        Scope::Native,
        Wait::Io,
        r"runtime\.epollwait|runtime\.netpoll",
        "Go runtime (src/runtime/netpoll_epoll.go)",
    ),
    rule(
        Scope::Native,
        Wait::Lock,
        r"futex|futex_wait_queue(?:_me)?|futex_wait_setup|futex_do_wait|do_futex|rwsem_down_(?:read|write)_slowpath|mutex_lock(?:_slowpath|_killable|_interruptible)?|rt_mutex_slowlock",
        "Linux kernel/futex/waitwake.c (futex_wait, futex_do_wait, futex_wait_queue), kernel/locking/*.c; sys_futex after its syscall-wrapper prefix",
    ),
    rule(
        Scope::Native,
        Wait::Sleep,
        r"do_nanosleep|hrtimer_nanosleep|common_nsleep",
        "Linux kernel/time/hrtimer.c, kernel/time/posix-timers.c (sys_nanosleep, sys_clock_nanosleep: see the C library's sleep entry)",
    ),
    rule(
        Scope::Native,
        Wait::Io,
        r"do_sys_poll|do_select|core_sys_select|do_pselect|ep_poll|do_epoll_wait|do_epoll_pwait|io_schedule(?:_timeout)?|sk_wait_data|inet_csk_accept|unix_stream_read_generic|pipe_read|n_tty_read|wait_woken|schedule_hrtimeout_range(?:_clock)?",
        "Linux fs/select.c, fs/eventpoll.c, kernel/sched/core.c (io_schedule), net/core/sock.c, net/ipv4/inet_connection_sock.c, net/unix/af_unix.c, fs/pipe.c, drivers/tty/n_tty.c",
    ),
    rule(
        Scope::Native,
        Wait::Other,
        r"do_idle|cpu_idle_poll|cpuidle_enter(?:_state)?|default_idle(?:_call)?|intel_idle|acpi_idle_enter|poll_idle|do_wait|kernel_wait4|schedule_timeout",
        "Linux kernel/sched/idle.c, drivers/cpuidle, kernel/exit.c (waiting for a child), kernel/time/timer.c",
    ),
];

/// The compiled [`WAIT_RULES`].
struct Compiled {
    python: Vec<(Wait, Regex)>,
    native: Vec<(Wait, Regex)>,
}

fn compiled() -> &'static Compiled {
    static COMPILED: OnceLock<Compiled> = OnceLock::new();
    COMPILED.get_or_init(|| {
        let mut python = Vec::new();
        let mut native = Vec::new();
        for r in WAIT_RULES {
            // The table is a constant checked by a test; an entry that does
            // not compile is skipped rather than panicking.
            if let Ok(re) = Regex::new(&anchored(r)) {
                match r.scope {
                    Scope::PythonLeaf => python.push((r.wait, re)),
                    Scope::Native => native.push((r.wait, re)),
                }
            }
        }
        Compiled { python, native }
    })
}

fn anchored(r: &WaitRule) -> String {
    match r.scope {
        Scope::PythonLeaf => r.pattern.to_string(),
        Scope::Native => format!("^(?:{})$", r.pattern),
    }
}

/// Syscall-wrapper prefixes of the kernel (`arch/x86/include/asm/syscall_wrapper.h`,
/// `include/linux/syscalls.h`): `__x64_sys_futex` is `sys_futex`.
const SYSCALL_PREFIXES: &[&str] = &["x64_sys_", "ia32_sys_", "arm64_sys_", "se_sys_", "do_sys_"];

/// gcc's names for clones of a function (`.constprop.0`, `.part.0`,
/// `.isra.0`, `.cold`, `.lto_priv.0`).
const CLONE_SUFFIXES: &[&str] = &[".constprop", ".part", ".isra", ".cold", ".lto_priv"];

/// The spelling [`WAIT_RULES`] are written in: py-spy's ` (file:line)`
/// dropped; a symbol version (`@@GLIBC_2.3.2`, `@GLIBC_2.2.5`) and gcc
/// clone suffixes (`.part.0`) cut off; glibc's hidden-alias prefix `__GI_`,
/// then every leading `_`, then a `libc_` prefix and a kernel
/// syscall-wrapper prefix (`x64_sys_`, `se_sys_`, ...) removed; then a
/// `_nocancel` or `_private` suffix and a 64-bit-time suffix (`_time64`,
/// `64`) removed.
///
/// ```
/// use stackconv_ops::wait_rules::canonical_name;
/// assert_eq!(canonical_name("__GI___clock_nanosleep"), "clock_nanosleep");
/// assert_eq!(canonical_name("__clock_nanosleep_time64"), "clock_nanosleep");
/// assert_eq!(canonical_name("__lll_lock_wait_private"), "lll_lock_wait");
/// assert_eq!(canonical_name("__x64_sys_futex"), "futex");
/// assert_eq!(canonical_name("do_epoll_wait.part.0"), "do_epoll_wait");
/// assert_eq!(canonical_name("runtime.futexsleep"), "runtime.futexsleep");
/// ```
pub fn canonical_name(name: &str) -> String {
    let mut s = python_frame(name)
        .filter(|_| !stackconv_model::naming::is_python_perf_symbol(name))
        .map(|py| py.func)
        .unwrap_or(name);
    s = s.split_once('@').map_or(s, |(n, _)| n);
    // Clone suffixes may stack (`f.part.0.cold`): cut at the first one.
    let cut = CLONE_SUFFIXES
        .iter()
        .filter_map(|suf| {
            s.match_indices(suf)
                .map(|(at, _)| at)
                .find(|&at| clone_suffix_at(s, at, suf.len()))
        })
        .min();
    if let Some(at) = cut {
        s = s.get(..at).unwrap_or(s);
    }
    s = s.strip_prefix("__GI_").unwrap_or(s);
    let trimmed = s.trim_start_matches('_');
    if !trimmed.is_empty() {
        s = trimmed;
    }
    s = s.strip_prefix("libc_").unwrap_or(s);
    if let Some(rest) = SYSCALL_PREFIXES
        .iter()
        .find_map(|p| s.strip_prefix(p))
        .filter(|r| !r.is_empty())
    {
        s = rest;
    }
    for suffix in ["_nocancel", "_private"] {
        s = s
            .strip_suffix(suffix)
            .filter(|r| !r.is_empty())
            .unwrap_or(s);
    }
    for suffix in ["_time64", "64"] {
        if let Some(r) = s.strip_suffix(suffix).filter(|r| !r.is_empty()) {
            s = r;
            break;
        }
    }
    s.to_string()
}

/// Whether `.suffix` at byte `at` of `s` (of length `len`) ends the name or
/// is followed by `.digits` or another clone suffix.
fn clone_suffix_at(s: &str, at: usize, len: usize) -> bool {
    let Some(rest) = at.checked_add(len).and_then(|end| s.get(end..)) else {
        return false;
    };
    rest.is_empty() || rest.starts_with('.')
}

/// The wait of a non-Python frame name by [`WAIT_RULES`] (scope
/// [`Scope::Native`]), matched in its [`canonical_name`].
pub fn native_wait(name: &str) -> Option<Wait> {
    let canon = canonical_name(name);
    compiled()
        .native
        .iter()
        .find(|(_, re)| re.is_match(&canon))
        .map(|(w, _)| *w)
}

/// The wait of an innermost Python frame, given as `func (file)`, by
/// [`WAIT_RULES`] (scope [`Scope::PythonLeaf`]).
pub fn python_leaf_wait(func_file: &str) -> Option<Wait> {
    compiled()
        .python
        .iter()
        .find(|(_, re)| re.is_match(func_file))
        .map(|(w, _)| *w)
}

/// What a frame is, for finding where a thread blocked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum FrameClass {
    /// Kernel code: kind [`FrameKind::Kernel`] or a kernel module
    /// ([`is_kernel_module`]).
    Kernel,
    /// The C library: a frame whose module is glibc's or musl's libc, libpthread or
    /// dynamic loader ([`is_c_library_module`]).
    CLibrary,
    /// Anything else: the program, its other libraries, an interpreter.
    Other,
}

impl FrameClass {
    /// Kernel and C-library frames: the internals a wait passes through
    /// between the program's call and the scheduler.
    pub fn is_system(self) -> bool {
        matches!(self, FrameClass::Kernel | FrameClass::CLibrary)
    }
}

/// Whether `module` (a path or a base name) is the C library: `libc.so.6`,
/// `libc-2.31.so`, `libpthread.so.0`, the dynamic loader
/// `ld-linux-x86-64.so.2` / `ld-2.31.so`, or musl's `libc.musl-*.so.1` /
/// `ld-musl-*.so.1`.
///
/// ```
/// use stackconv_ops::wait_rules::is_c_library_module;
/// assert!(is_c_library_module("/usr/lib/x86_64-linux-gnu/libc.so.6"));
/// assert!(is_c_library_module("/lib64/ld-linux-x86-64.so.2"));
/// assert!(is_c_library_module("libpthread-2.31.so"));
/// assert!(!is_c_library_module("/usr/lib/x86_64-linux-gnu/libcrypto.so.3"));
/// assert!(!is_c_library_module("/tmp/app/mutex"));
/// ```
pub fn is_c_library_module(module: &str) -> bool {
    let base = module.rsplit('/').next().unwrap_or(module);
    let Some((stem, _)) = base.split_once(".so") else {
        return false;
    };
    let stem = stem.split_once('-').map_or(stem, |(s, _)| s);
    matches!(stem, "libc" | "libpthread" | "ld" | "libc.musl")
        || base.starts_with("ld-linux")
        || base.starts_with("ld-musl")
        || base.starts_with("libc.musl")
}

/// The class of frame `f` of `p`: decided once, here, from its kind and
/// module (never from its name).
pub fn frame_class(p: &Profile, f: FrameId) -> FrameClass {
    let frame = p.frame(f);
    let module = p.str(frame.module);
    if frame.kind == FrameKind::Kernel || is_kernel_module(module) {
        FrameClass::Kernel
    } else if frame.kind != FrameKind::Python && is_c_library_module(module) {
        FrameClass::CLibrary
    } else {
        FrameClass::Other
    }
}

/// How a C-library frame is shown in a report: its name without glibc's
/// `__GI_` alias prefix and symbol version (`__GI___lll_lock_wait` is
/// `__lll_lock_wait`, `pthread_cond_timedwait@@GLIBC_2.3.2` is
/// `pthread_cond_timedwait`). Other names are returned as they are.
pub fn c_library_display_name(name: &str) -> &str {
    let name = name.split_once('@').map_or(name, |(n, _)| n);
    name.strip_prefix("__GI_").unwrap_or(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_rule_compiles() {
        for r in WAIT_RULES {
            assert!(Regex::new(&anchored(r)).is_ok(), "{}", r.pattern);
            assert!(!r.source.is_empty(), "{}", r.pattern);
        }
        assert_eq!(
            compiled().python.len() + compiled().native.len(),
            WAIT_RULES.len()
        );
    }

    /// Every spelling family of glibc and the kernel, as perf prints them.
    #[test]
    fn spellings() {
        use Wait::*;
        let cases: &[(&str, Option<Wait>)] = &[
            // __GI_ hidden aliases
            ("__GI___lll_lock_wait", Some(Lock)),
            ("__GI___clock_nanosleep", Some(Sleep)),
            ("__GI___poll", Some(Io)),
            ("__GI___libc_read", Some(Io)),
            ("__GI___futex_abstimed_wait_cancelable64", Some(Lock)),
            // __ and ___ internal names
            ("__lll_lock_wait", Some(Lock)),
            ("__pthread_mutex_lock", Some(Lock)),
            ("___pthread_mutex_lock", Some(Lock)),
            ("___pthread_cond_wait", Some(Condition)),
            ("__pthread_cond_wait_common", Some(Condition)),
            ("___pthread_clockjoin_ex", Some(Join)),
            ("__pthread_timedjoin_ex", Some(Join)),
            ("__new_sem_wait_slow64", Some(Lock)),
            ("__libc_recv", Some(Io)),
            ("__epoll_wait", Some(Io)),
            ("__waitpid", Some(Other)),
            // @@GLIBC_x / @GLIBC_x versions
            ("pthread_cond_timedwait@@GLIBC_2.3.2", Some(Condition)),
            ("pthread_cond_wait@GLIBC_2.2.5", Some(Condition)),
            ("clock_nanosleep@GLIBC_2.2.5", Some(Sleep)),
            ("pthread_join@@GLIBC_2.34", Some(Join)),
            // _private / 64 / _time64 / _nocancel suffixes
            ("__lll_lock_wait_private", Some(Lock)),
            ("__futex_abstimed_wait_common64", Some(Lock)),
            ("__futex_abstimed_wait_common", Some(Lock)),
            ("__pthread_cond_timedwait64", Some(Condition)),
            ("__clock_nanosleep_time64", Some(Sleep)),
            ("__GI___clock_nanosleep_time64", Some(Sleep)),
            ("__read_nocancel", Some(Io)),
            ("__libc_pread64", Some(Io)),
            // public names
            ("pthread_mutex_lock", Some(Lock)),
            ("pthread_rwlock_wrlock", Some(Lock)),
            ("sem_wait", Some(Lock)),
            ("pthread_cond_wait", Some(Condition)),
            ("pthread_join", Some(Join)),
            ("nanosleep", Some(Sleep)),
            ("read", Some(Io)),
            ("epoll_wait", Some(Io)),
            // the kernel: wait functions, syscall wrappers, gcc clones
            ("futex_wait", Some(Lock)),
            ("__futex_wait", Some(Lock)),
            ("futex_do_wait", Some(Lock)),
            ("futex_wait_queue_me", Some(Lock)),
            ("__x64_sys_futex", Some(Lock)),
            ("__se_sys_futex", Some(Lock)),
            ("__mutex_lock.constprop.0", Some(Lock)),
            ("do_nanosleep", Some(Sleep)),
            ("hrtimer_nanosleep", Some(Sleep)),
            ("__x64_sys_clock_nanosleep", Some(Sleep)),
            ("io_schedule", Some(Io)),
            ("io_schedule_timeout", Some(Io)),
            ("ep_poll", Some(Io)),
            ("do_epoll_wait.part.0", Some(Io)),
            ("pipe_read", Some(Io)),
            ("do_sys_poll", Some(Io)),
            ("schedule_timeout", Some(Other)),
            ("do_wait", Some(Other)),
            // CPython, Go
            ("take_gil", Some(Gil)),
            ("_PyEval_RestoreThread", Some(Gil)),
            ("PyThread_acquire_lock_timed", Some(Lock)),
            (
                "PyThread_acquire_lock_timed (thread_pthread.h:478)",
                Some(Lock),
            ),
            ("_PyMutex_LockTimed", Some(Lock)),
            ("time_sleep", Some(Sleep)),
            ("runtime.futexsleep", Some(Lock)),
            ("runtime.netpoll", Some(Io)),
            // not waits
            ("schedule", None),
            ("__schedule", None),
            ("irqentry_exit_to_user_mode", None),
            ("locker_main", None),
            ("pthread_mutex_unlock", None),
            ("start_thread", None),
            ("memcpy", None),
            ("readdir", None),
            ("thread_read_loop", None),
        ];
        for &(name, want) in cases {
            assert_eq!(native_wait(name), want, "{name} ({})", canonical_name(name));
        }
    }

    #[test]
    fn canonical_names() {
        for (name, want) in [
            ("__GI___lll_lock_wait", "lll_lock_wait"),
            ("___pthread_cond_wait", "pthread_cond_wait"),
            (
                "pthread_cond_timedwait@@GLIBC_2.3.2",
                "pthread_cond_timedwait",
            ),
            (
                "__futex_abstimed_wait_common64",
                "futex_abstimed_wait_common",
            ),
            ("__libc_read", "read"),
            ("f.part.0.cold", "f"),
            ("partial.parts", "partial.parts"),
            ("__", "__"),
            ("64", "64"),
            ("", ""),
            ("wait (threading.py:355)", "wait"),
        ] {
            assert_eq!(canonical_name(name), want, "{name}");
        }
    }

    #[test]
    fn c_library_modules() {
        for m in [
            "/usr/lib/x86_64-linux-gnu/libc.so.6",
            "libc.so.6",
            "/lib/x86_64-linux-gnu/libpthread.so.0",
            "/lib/x86_64-linux-gnu/libc-2.31.so",
            "/lib64/ld-linux-x86-64.so.2",
            "/lib/ld-musl-x86_64.so.1",
            "/lib/libc.musl-x86_64.so.1",
        ] {
            assert!(is_c_library_module(m), "{m}");
        }
        for m in [
            "",
            "[kernel.kallsyms]",
            "/usr/lib/libcrypto.so.3",
            "/opt/python3.12/lib/libpython3.12.so.1.0",
            "/usr/lib/libcap.so.2",
            "/tmp/stackconv-record/mutex",
            "/tmp/perf-12.map",
        ] {
            assert!(!is_c_library_module(m), "{m}");
        }
        assert_eq!(
            c_library_display_name("__GI___lll_lock_wait"),
            "__lll_lock_wait"
        );
        assert_eq!(
            c_library_display_name("pthread_cond_timedwait@@GLIBC_2.3.2"),
            "pthread_cond_timedwait"
        );
    }
}
