//! Views of mixed Python and native stacks: mixed, Python-only, native-only.
//!
//! A perf recording of Python 3.12+ run with `-X perf` has Python frames
//! (`py::func:/path/file.py`, kind [`FrameKind::Python`]) interleaved with
//! the interpreter's own C frames (`_PyEval_EvalFrameDefault`, call
//! helpers, the perf trampoline's callers) and, under the innermost Python
//! frame, whatever native code it called (a lock, glibc, the kernel).
//!
//! - [`View::Mixed`]: every frame, as recorded.
//! - [`View::Python`]: the stack as a Python user reads it. With `F` the
//!   outermost and `L` the innermost Python frame, native frames are
//!   removed by module (never by a list of the program's names):
//!   - *at the root*, above `F`: frames of the interpreter's own module
//!     ([`is_interpreter_module`]: `libpython*.so*`, or the python
//!     executable) and of the C library (`libc`, the dynamic loader:
//!     [`crate::wait_rules::is_c_library_module`]): process start-up
//!     (`_start`, `__libc_start_main`, `Py_RunMain`, `PyEval_EvalCode`)
//!     and thread bootstrap (`clone3`, `start_thread`, `pythread_wrapper`,
//!     `thread_run`); frames of other modules (an application embedding
//!     Python) stay;
//!   - *between* `F` and `L`: frames of the interpreter's module
//!     (`_PyEval_EvalFrameDefault`, call helpers, the perf trampoline's
//!     callers); other modules (a C extension calling back into Python)
//!     stay;
//!   - *at the leaf*, below `L`: the interpreter's call machinery
//!     ([`is_call_machinery`]: the eval loop and the call protocol that
//!     lead from a Python frame to the C function it calls) and
//!     unsymbolized frames of the interpreter's module, up to the first
//!     frame that is neither; that frame and everything below it stay (the
//!     C function doing the work or the wait: `rlock_acquire`, `time_sleep`,
//!     `take_gil`, a C extension's function; then libc and the kernel).
//!     A sample in the eval loop itself ends at its Python frame.
//!
//!   Python frames are named as Python users read them,
//!   `Repository.load (webapi.py)` ([`stackconv_model::naming::python_display_name`];
//!   the full path stays in the frame's file), unless the transform asks
//!   for perf's spelling (`py::Repository.load:/srv/webapi.py`).
//! - [`View::Native`]: every Python frame is removed.
//!
//! Views rewrite stacks only: every sample is kept, so every total is kept.
//!
//! ```
//! use stackconv_ops::view::{apply_view, View};
//! use stackconv_model::{Frame, FrameKind, Profile, ValueType};
//!
//! let mut p = Profile::new(vec![ValueType::new("samples", "count")]);
//! let native = |p: &mut Profile, name: &str, module: &str| {
//!     let frame = Frame {
//!         name: p.intern_str(name),
//!         module: p.intern_str(module),
//!         kind: FrameKind::Native,
//!         ..Frame::default()
//!     };
//!     p.intern_frame(frame)
//! };
//! let start = native(&mut p, "start_thread", "/usr/lib/libc.so.6");
//! let eval = native(&mut p, "_PyEval_EvalFrameDefault", "/usr/lib/libpython3.12.so.1.0");
//! let lock = native(&mut p, "PyThread_acquire_lock_timed", "/usr/lib/libpython3.12.so.1.0");
//! let futex = native(&mut p, "futex_wait", "/usr/lib/libc.so.6");
//! let worker = p.intern_frame_named("py::worker:/app/w.py", FrameKind::Python);
//! let handler = p.intern_frame_named("py::handler:/app/w.py", FrameKind::Python);
//! let stack = p.intern_stack_frames([start, worker, eval, handler, lock, futex]);
//! let t = p.intern_thread(Default::default());
//! p.push_sample(stack, t, None, &[1]);
//!
//! let py = apply_view(&p, View::Python);
//! assert_eq!(
//!     py.stack_names(py.samples().stacks()[0]),
//!     ["worker (w.py)", "handler (w.py)", "PyThread_acquire_lock_timed", "futex_wait"]
//! );
//! let native = apply_view(&p, View::Native);
//! assert_eq!(native.stack_names(native.samples().stacks()[0]).len(), 4);
//! assert_eq!(py.total(0), p.total(0));
//! ```

use std::str::FromStr;

use stackconv_model::naming::{is_python_perf_symbol, python_frame};
use stackconv_model::Profile;
use stackconv_model::{Frame, FrameId, FrameKind};

/// Which frames a stack shows.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum View {
    /// Every frame, Python and native, as recorded.
    #[default]
    Mixed,
    /// Python frames named as Python users read them, with the
    /// interpreter's own frames removed at the root, between Python frames
    /// and down to the native function doing the work or the wait.
    Python,
    /// Native frames only: every Python frame removed.
    Native,
}

impl View {
    /// The name the command line uses: `mixed`, `python` or `native`.
    pub fn as_str(self) -> &'static str {
        match self {
            View::Mixed => "mixed",
            View::Python => "python",
            View::Native => "native",
        }
    }
}

/// An unknown view name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParseViewError(pub String);

impl std::fmt::Display for ParseViewError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "unknown view {:?}: expected mixed, python or native",
            self.0
        )
    }
}

impl std::error::Error for ParseViewError {}

impl FromStr for View {
    type Err = ParseViewError;

    /// `mixed`, `python` or `native`.
    ///
    /// ```
    /// use stackconv_ops::view::View;
    /// assert_eq!("python".parse::<View>().ok(), Some(View::Python));
    /// assert!("java".parse::<View>().is_err());
    /// ```
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "mixed" => Ok(View::Mixed),
            "python" => Ok(View::Python),
            "native" => Ok(View::Native),
            _ => Err(ParseViewError(s.to_string())),
        }
    }
}

/// Whether `module` (a path or a base name) is the Python interpreter's own
/// code: a `libpython*` shared object, or an executable whose base name is
/// `python`, `python3`, `python3.12` (optionally with the debug build's
/// `d` suffix).
///
/// ```
/// use stackconv_ops::view::is_interpreter_module;
/// assert!(is_interpreter_module("/usr/lib/x86_64-linux-gnu/libpython3.12.so.1.0"));
/// assert!(is_interpreter_module("/root/.pyenv/versions/3.12.1/bin/python3.12"));
/// assert!(is_interpreter_module("python3"));
/// assert!(!is_interpreter_module("/usr/lib/libc.so.6"));
/// assert!(!is_interpreter_module("/usr/lib/python3.12/lib-dynload/_json.cpython-312-x86_64-linux-gnu.so"));
/// assert!(!is_interpreter_module(""));
/// ```
pub fn is_interpreter_module(module: &str) -> bool {
    let base = module.rsplit('/').next().unwrap_or(module);
    if base.starts_with("libpython") {
        return true;
    }
    let Some(rest) = base.strip_prefix("python") else {
        return false;
    };
    let rest = rest.strip_suffix('d').unwrap_or(rest);
    rest.bytes().all(|b| b.is_ascii_digit() || b == b'.')
}

/// The interpreter's call machinery: the functions that lead from a Python
/// frame to the function it calls, as name prefixes (a prefix also covers
/// gcc's clone suffixes, `.lto_priv.0`). From CPython 3.12/3.13's sources:
/// the eval loop (`Python/ceval.c`: `_PyEval_EvalFrameDefault`,
/// `_PyEval_Vector`, `PyEval_EvalCode`), the call protocol
/// (`Objects/call.c`: `PyObject_Vectorcall`, `_PyObject_VectorcallTstate`,
/// `_PyObject_MakeTpCall`, `PyObject_Call*`, `_PyFunction_Vectorcall`,
/// `object_vacall`), C function and method calls
/// (`Objects/methodobject.c`: `cfunction_vectorcall_*`, `cfunction_call`;
/// `Objects/descrobject.c`: `method_vectorcall_*`, `*descr_call`,
/// `wrapper_call`; `Objects/classobject.c`: `method_vectorcall`), type and
/// slot calls (`Objects/typeobject.c`: `type_call`, `slot_tp_call`,
/// `vectorcall_method`, `vectorcall_unbound`), the recursion guards
/// inlined into the call paths (`Include/internal/pycore_ceval.h`:
/// `_Py_EnterRecursiveCallTstate`, `_Py_LeaveRecursiveCallTstate`; perf
/// names code inlined from them by their out-of-line copies) and the perf
/// trampoline (`Python/perf_trampoline.c`: `py_trampoline_evaluator`).
///
/// Everything else of the interpreter's module is a C implementation
/// function and is kept below the innermost Python frame: builtin
/// modules' functions (`rlock_acquire`, `lock_PyThread_acquire_lock`,
/// `time_sleep`, `builtin_len`), the GIL (`take_gil`), allocation.
pub const CALL_MACHINERY: &[&str] = &[
    "_PyEval_EvalFrame",
    "_PyEval_Vector",
    "PyEval_EvalCode",
    "_PyObject_Vectorcall",
    "PyObject_Vectorcall",
    "_PyObject_MakeTpCall",
    "_PyObject_Call",
    "PyObject_Call",
    "_PyFunction_Vectorcall",
    "_PyVectorcall_Call",
    "PyVectorcall_Call",
    "object_vacall",
    "cfunction_vectorcall",
    "cfunction_call",
    "method_vectorcall",
    "methoddescr_call",
    "classmethoddescr_call",
    "wrapperdescr_call",
    "wrapper_call",
    "method_call",
    "type_call",
    "slot_tp_call",
    "vectorcall_method",
    "vectorcall_unbound",
    "_Py_EnterRecursiveCall",
    "_Py_LeaveRecursiveCall",
    "py_trampoline_evaluator",
];

/// Whether `name` is one of the interpreter's call machinery functions
/// ([`CALL_MACHINERY`]).
///
/// ```
/// use stackconv_ops::view::is_call_machinery;
/// assert!(is_call_machinery("_PyObject_VectorcallTstate"));
/// assert!(is_call_machinery("cfunction_vectorcall_O"));
/// assert!(is_call_machinery("_PyEval_EvalFrameDefault"));
/// assert!(!is_call_machinery("rlock_acquire"));
/// assert!(!is_call_machinery("PyThread_acquire_lock_timed"));
/// assert!(!is_call_machinery("take_gil"));
/// ```
pub fn is_call_machinery(name: &str) -> bool {
    CALL_MACHINERY.iter().any(|p| name.starts_with(p))
}

/// The view a profile is shown in when the user names none:
/// [`View::Python`] when it holds Python frames recorded together with
/// native ones (perf's `-X perf` frames, which carry the perf map or
/// jitdump they came from as their module), else [`View::Mixed`]. py-spy
/// and folded inputs, whose Python frames carry no module, stay mixed.
///
/// ```
/// use stackconv_ops::view::{default_view, View};
/// use stackconv_model::{Frame, FrameKind, Profile, ValueType};
///
/// let mut p = Profile::new(vec![ValueType::new("samples", "count")]);
/// assert_eq!(default_view(&p), View::Mixed);
/// let f = Frame {
///     name: p.intern_str("py::main:/app/a.py"),
///     module: p.intern_str("/tmp/perf-1.map"),
///     kind: FrameKind::Python,
///     ..Frame::default()
/// };
/// p.intern_frame(f);
/// assert_eq!(default_view(&p), View::Python);
/// ```
pub fn default_view(p: &Profile) -> View {
    let recorded_python = p
        .frames()
        .iter()
        .any(|(_, f)| f.kind == FrameKind::Python && !p.str(f.module).is_empty());
    if recorded_python {
        View::Python
    } else {
        View::Mixed
    }
}

/// A copy of `p` with every stack shown in `view`, Python frames named as
/// Python users read them in [`View::Python`]. Totals are kept.
pub fn apply_view(p: &Profile, view: View) -> Profile {
    if view == View::Mixed {
        return p.clone();
    }
    let mut work = p.clone();
    let readable: Vec<FrameId> = p
        .frames()
        .iter()
        .map(|(id, f)| match view {
            View::Python => readable_python_frame(&mut work, id, *f),
            View::Mixed | View::Native => id,
        })
        .collect();
    let roles = ViewRoles::of(&work);
    work.map_stacks(|_, frames| {
        view_frames(&roles, frames, view)
            .into_iter()
            .map(|f| readable.get(f.index()).copied().unwrap_or(f))
            .collect()
    })
}

/// The frame `id` (= `f`) of `work` named as Python users read it when it
/// is a Python frame in perf's spelling (`py::f:/app/a.py` becomes
/// `f (a.py)`, with `/app/a.py` as its file); else `id` itself.
pub(crate) fn readable_python_frame(work: &mut Profile, id: FrameId, f: Frame) -> FrameId {
    if f.kind != FrameKind::Python {
        return id;
    }
    let name = work.str(f.name);
    if !is_python_perf_symbol(name) {
        return id;
    }
    let Some(py) = python_frame(name) else {
        return id;
    };
    let display = py.display_name();
    let file = if work.str(f.file).is_empty() {
        Some(py.file.to_string())
    } else {
        None
    };
    let frame = Frame {
        name: work.intern_str(&display),
        file: match file {
            Some(file) => work.intern_str(&file),
            None => f.file,
        },
        ..f
    };
    work.intern_frame(frame)
}

/// The frames (root first) of one stack in `view` (which frames, not how
/// they are named).
/// What [`view_frames`] asks of each frame of a profile, worked out once
/// per frame rather than once per frame of every stack (its module's and
/// name's tests are string work).
pub(crate) struct ViewRoles(Vec<u8>);

impl ViewRoles {
    /// A Python frame.
    const PYTHON: u8 = 1;
    /// Code of the interpreter's module ([`is_interpreter_module`]).
    const INTERPRETER: u8 = 2;
    /// Code of the C library ([`crate::wait_rules::is_c_library_module`]).
    const C_LIBRARY: u8 = 4;
    /// Interpreter code that only carries a call: unnamed, or the call
    /// machinery ([`is_call_machinery`]).
    const CALL: u8 = 8;

    /// The roles of every frame of `p`.
    pub(crate) fn of(p: &Profile) -> Self {
        ViewRoles(
            p.frames()
                .iter()
                .map(|(_, f)| {
                    let module = p.str(f.module);
                    let interpreter = is_interpreter_module(module);
                    let mut roles = 0;
                    if f.kind == FrameKind::Python {
                        roles |= Self::PYTHON;
                    }
                    if interpreter {
                        roles |= Self::INTERPRETER;
                    }
                    if crate::wait_rules::is_c_library_module(module) {
                        roles |= Self::C_LIBRARY;
                    }
                    if interpreter
                        && (f.kind == FrameKind::Unknown || is_call_machinery(p.str(f.name)))
                    {
                        roles |= Self::CALL;
                    }
                    roles
                })
                .collect(),
        )
    }

    fn has(&self, f: FrameId, role: u8) -> bool {
        self.0.get(f.index()).is_some_and(|r| r & role != 0)
    }
}

/// The frames of a stack (root first) in `view`, the profile's frames
/// told apart by `roles`.
pub(crate) fn view_frames(roles: &ViewRoles, frames: &[FrameId], view: View) -> Vec<FrameId> {
    let is_python = |f: &FrameId| roles.has(*f, ViewRoles::PYTHON);
    match view {
        View::Mixed => frames.to_vec(),
        View::Native => frames.iter().copied().filter(|f| !is_python(f)).collect(),
        View::Python => {
            let (Some(first), Some(last)) = (
                frames.iter().position(is_python),
                frames.iter().rposition(is_python),
            ) else {
                return frames.to_vec();
            };
            let interpreter = |f: &FrameId| roles.has(*f, ViewRoles::INTERPRETER);
            let root = frames
                .get(..first)
                .unwrap_or_default()
                .iter()
                .filter(|f| !roles.has(**f, ViewRoles::INTERPRETER | ViewRoles::C_LIBRARY));
            let middle = frames
                .get(first..=last)
                .unwrap_or_default()
                .iter()
                .filter(|f| is_python(f) || !interpreter(f));
            let leaf = frames
                .get(last.saturating_add(1)..)
                .unwrap_or_default()
                .iter()
                .skip_while(|f| roles.has(**f, ViewRoles::CALL));
            root.chain(middle).chain(leaf).copied().collect()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use stackconv_model::{Frame, ValueType};

    fn frame(p: &mut Profile, name: &str, module: &str, kind: FrameKind) -> FrameId {
        let f = Frame {
            name: p.intern_str(name),
            module: p.intern_str(module),
            kind,
            ..Frame::default()
        };
        p.intern_frame(f)
    }

    const PY: &str = "/root/.pyenv/versions/3.12.1/bin/python3.12";
    const LIBPY: &str = "/root/.pyenv/versions/3.12.1/lib/libpython3.12.so.1.0";
    const LIBC: &str = "/usr/lib/x86_64-linux-gnu/libc.so.6";
    const MAP: &str = "/tmp/perf-42.map";
    const KERNEL: &str = "[kernel.kallsyms]";

    /// One sample of `frames` (name, module, kind), root first, in the
    /// Python view: its frame names, and the frames' files.
    fn python_view(frames: &[(&str, &str, FrameKind)]) -> (Vec<String>, Vec<String>) {
        let mut p = Profile::new(vec![ValueType::new("samples", "count")]);
        let ids: Vec<FrameId> = frames
            .iter()
            .map(|&(n, m, k)| frame(&mut p, n, m, k))
            .collect();
        let s = p.intern_stack_frames(ids);
        let t = p.intern_thread(Default::default());
        p.push_sample(s, t, None, &[7]);
        let v = apply_view(&p, View::Python);
        assert_eq!(v.total(0), 7, "the view keeps the weight");
        let stack = v.samples().stacks()[0];
        let files = v
            .stack_frames(stack)
            .iter()
            .map(|&f| v.str(v.frame(f).file).to_string())
            .collect();
        let names = v.stack_names(stack).iter().map(|n| n.to_string()).collect();
        (names, files)
    }

    use FrameKind::{Kernel, Native, Python, Unknown};

    #[test]
    fn main_thread_starts_at_the_module() {
        let (names, files) = python_view(&[
            ("_start", PY, Native),
            ("__libc_start_main", LIBC, Native),
            ("main", PY, Native),
            ("Py_BytesMain", LIBPY, Native),
            ("Py_RunMain", LIBPY, Native),
            ("_PyRun_SimpleFileObject", LIBPY, Native),
            ("run_mod", LIBPY, Native),
            ("PyEval_EvalCode", LIBPY, Native),
            ("py_trampoline_evaluator", LIBPY, Native),
            ("py::<module>:/srv/app.py", MAP, Python),
            ("_PyEval_EvalFrameDefault", LIBPY, Native),
            ("[unknown]", LIBPY, Unknown),
            ("py::main:/srv/app.py", MAP, Python),
            ("_PyEval_EvalFrameDefault", LIBPY, Native),
        ]);
        assert_eq!(names, ["<module> (app.py)", "main (app.py)"]);
        assert_eq!(files, ["/srv/app.py", "/srv/app.py"]);
    }

    #[test]
    fn worker_thread_starts_at_thread_bootstrap_and_ends_in_the_lock() {
        let (names, _) = python_view(&[
            ("clone3", LIBC, Native),
            ("start_thread", LIBC, Native),
            ("pythread_wrapper", LIBPY, Native),
            ("thread_run", LIBPY, Native),
            ("method_vectorcall", LIBPY, Native),
            ("_PyObject_VectorcallTstate.lto_priv.0", LIBPY, Native),
            ("py_trampoline_evaluator", LIBPY, Native),
            (
                "py::Thread._bootstrap:/usr/lib/python3.12/threading.py",
                MAP,
                Python,
            ),
            ("_PyEval_EvalFrameDefault", LIBPY, Native),
            ("py::worker:/srv/app.py", MAP, Python),
            ("py::Repository.load:/srv/app.py", MAP, Python),
            ("_PyEval_EvalFrameDefault", LIBPY, Native),
            ("method_vectorcall_NOARGS", LIBPY, Native),
            ("rlock_acquire", LIBPY, Native),
            ("PyThread_acquire_lock_timed", LIBPY, Native),
            ("__futex_abstimed_wait_common", LIBC, Native),
            ("futex_wait", KERNEL, Kernel),
        ]);
        assert_eq!(
            names,
            [
                "Thread._bootstrap (threading.py)",
                "worker (app.py)",
                "Repository.load (app.py)",
                "rlock_acquire",
                "PyThread_acquire_lock_timed",
                "__futex_abstimed_wait_common",
                "futex_wait"
            ]
        );
    }

    #[test]
    fn c_extension_call_keeps_the_extension_and_what_it_calls() {
        let json = "/usr/lib/python3.12/lib-dynload/_json.cpython-312-x86_64-linux-gnu.so";
        let (names, _) = python_view(&[
            ("py::render:/srv/app.py", MAP, Python),
            ("_PyEval_EvalFrameDefault", LIBPY, Native),
            ("_PyObject_MakeTpCall", LIBPY, Native),
            ("type_call", LIBPY, Native),
            ("encoder_new", json, Native),
            ("PyArg_ParseTupleAndKeywords", LIBPY, Native),
            ("_PyObject_Malloc", LIBPY, Native),
        ]);
        assert_eq!(
            names,
            [
                "render (app.py)",
                "encoder_new",
                "PyArg_ParseTupleAndKeywords",
                "_PyObject_Malloc"
            ]
        );
        // A C extension between two Python frames stays too.
        let (names, _) = python_view(&[
            ("py::a:/srv/app.py", MAP, Python),
            ("_PyEval_EvalFrameDefault", LIBPY, Native),
            ("encoder_call", json, Native),
            ("PyObject_Vectorcall", LIBPY, Native),
            ("py::default:/srv/app.py", MAP, Python),
            ("_PyEval_EvalFrameDefault", LIBPY, Native),
        ]);
        assert_eq!(names, ["a (app.py)", "encoder_call", "default (app.py)"]);
    }

    #[test]
    fn gil_wait_keeps_take_gil() {
        let (names, _) = python_view(&[
            ("py::f:/srv/app.py", MAP, Python),
            ("_PyEval_EvalFrameDefault", LIBPY, Native),
            ("_Py_HandlePending", LIBPY, Native),
            ("take_gil", LIBPY, Native),
            ("pthread_cond_timedwait@@GLIBC_2.3.2", LIBC, Native),
            ("futex_wait", KERNEL, Kernel),
        ]);
        assert_eq!(
            names,
            [
                "f (app.py)",
                "_Py_HandlePending",
                "take_gil",
                "pthread_cond_timedwait@@GLIBC_2.3.2",
                "futex_wait"
            ]
        );
    }

    #[test]
    fn eval_loop_samples_end_at_their_python_frame_and_others_are_unchanged() {
        let (names, _) = python_view(&[
            ("py::fib:/srv/app.py", MAP, Python),
            ("_PyEval_EvalFrameDefault", LIBPY, Native),
        ]);
        assert_eq!(names, ["fib (app.py)"]);
        // No Python frame: as recorded.
        let (names, _) = python_view(&[
            ("clone3", LIBC, Native),
            ("start_thread", LIBC, Native),
            ("_PyEval_EvalFrameDefault", LIBPY, Native),
        ]);
        assert_eq!(
            names,
            ["clone3", "start_thread", "_PyEval_EvalFrameDefault"]
        );
        // An application embedding Python keeps its own root frames.
        let (names, _) = python_view(&[
            ("main", "/usr/bin/uwsgi", Native),
            ("PyObject_Call", LIBPY, Native),
            ("py::app:/srv/app.py", MAP, Python),
        ]);
        assert_eq!(names, ["main", "app (app.py)"]);
    }

    #[test]
    fn native_view_removes_python_frames() {
        let mut p = Profile::new(vec![ValueType::new("samples", "count")]);
        let a = frame(&mut p, "_start", PY, Native);
        let f = frame(&mut p, "py::f:/a.py", MAP, Python);
        let e = frame(&mut p, "PyObject_Vectorcall", LIBPY, Native);
        let k = frame(&mut p, "do_futex", KERNEL, Kernel);
        let s = p.intern_stack_frames([a, f, e, k]);
        let t = p.intern_thread(Default::default());
        p.push_sample(s, t, None, &[5]);
        let n = apply_view(&p, View::Native);
        assert_eq!(
            n.stack_names(n.samples().stacks()[0]),
            ["_start", "PyObject_Vectorcall", "do_futex"]
        );
        assert_eq!(n.total(0), 5);
    }
}
