//! Views of mixed Python and native stacks: mixed, Python-only, native-only.
//!
//! A perf recording of Python 3.12+ run with `-X perf` has Python frames
//! (`py::func:/path/file.py`, kind [`FrameKind::Python`]) interleaved with
//! the interpreter's own C frames (`_PyEval_EvalFrameDefault`, call
//! helpers, the perf trampoline's callers) and, under the innermost Python
//! frame, whatever native code it called (a lock, glibc, the kernel).
//!
//! - [`View::Mixed`]: every frame, as recorded.
//! - [`View::Python`]: native frames of the interpreter's own module
//!   (`libpython*.so*`, or the python executable: a module whose base name
//!   matches `^python[0-9.]*d?$`) are removed when they sit *between* two
//!   Python frames. Native frames above the outermost Python frame (thread
//!   start, `main`) and below the innermost one (a lock wait:
//!   `handler` -> `acquire` -> `PyThread_acquire_lock_timed` -> `futex`)
//!   are kept, whatever their module. The view is defined by module, not by
//!   a list of function names: frames of other modules (C extensions such
//!   as `_json.cpython-312-x86_64-linux-gnu.so`) stay.
//! - [`View::Native`]: every Python frame is removed.
//!
//! Views rewrite stacks only: every sample is kept, so every total is kept.
//!
//! ```
//! use stackconv_model::view::{apply_view, View};
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
//!     py.stack_names(py.samples.stacks[0]),
//!     ["start_thread", "py::worker:/app/w.py", "py::handler:/app/w.py",
//!      "PyThread_acquire_lock_timed", "futex_wait"]
//! );
//! let native = apply_view(&p, View::Native);
//! assert_eq!(native.stack_names(native.samples.stacks[0]).len(), 4);
//! assert_eq!(py.total(0), p.total(0));
//! ```

use std::str::FromStr;

use crate::profile::Profile;
use crate::tables::{FrameId, FrameKind};

/// Which frames a stack shows.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum View {
    /// Every frame, Python and native, as recorded.
    #[default]
    Mixed,
    /// Python frames, with the interpreter's own frames between two Python
    /// frames removed; native frames outside the Python part are kept.
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
    /// use stackconv_model::view::View;
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
/// use stackconv_model::view::is_interpreter_module;
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

/// A copy of `p` with every stack shown in `view`. Totals are kept.
pub fn apply_view(p: &Profile, view: View) -> Profile {
    if view == View::Mixed {
        return p.clone();
    }
    p.map_stacks(|p, frames| view_frames(p, frames, view))
}

/// The frames (root first) of one stack in `view`.
pub(crate) fn view_frames(p: &Profile, frames: &[FrameId], view: View) -> Vec<FrameId> {
    let is_python = |f: &FrameId| p.frame(*f).kind == FrameKind::Python;
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
            frames
                .iter()
                .enumerate()
                .filter(|&(i, f)| {
                    if i <= first || i >= last || is_python(f) {
                        return true;
                    }
                    !is_interpreter_module(p.str(p.frame(*f).module))
                })
                .map(|(_, f)| *f)
                .collect()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Frame, ValueType};

    fn frame(p: &mut Profile, name: &str, module: &str, kind: FrameKind) -> FrameId {
        let f = Frame {
            name: p.intern_str(name),
            module: p.intern_str(module),
            kind,
            ..Frame::default()
        };
        p.intern_frame(f)
    }

    #[test]
    fn python_view_keeps_outside_frames_and_other_modules() {
        let mut p = Profile::new(vec![ValueType::new("samples", "count")]);
        let py = "/usr/bin/python3.12";
        let a = frame(&mut p, "_start", py, FrameKind::Native);
        let b = frame(&mut p, "Py_RunMain", py, FrameKind::Native);
        let m = frame(
            &mut p,
            "py::<module>:/a.py",
            "/tmp/perf-1.map",
            FrameKind::Python,
        );
        let e = frame(&mut p, "_PyEval_EvalFrameDefault", py, FrameKind::Native);
        let u = frame(&mut p, "[unknown]", py, FrameKind::Unknown);
        let j = frame(
            &mut p,
            "encoder_call",
            "/x/_json.cpython-312.so",
            FrameKind::Native,
        );
        let f = frame(&mut p, "py::f:/a.py", "/tmp/perf-1.map", FrameKind::Python);
        let e2 = frame(&mut p, "PyObject_Vectorcall", py, FrameKind::Native);
        let k = frame(&mut p, "do_futex", "[kernel.kallsyms]", FrameKind::Kernel);
        let s = p.intern_stack_frames([a, b, m, e, u, j, f, e2, k]);
        let t = p.intern_thread(Default::default());
        p.push_sample(s, t, None, &[5]);
        let v = apply_view(&p, View::Python);
        assert_eq!(
            v.stack_names(v.samples.stacks[0]),
            [
                "_start",
                "Py_RunMain",
                "py::<module>:/a.py",
                "encoder_call",
                "py::f:/a.py",
                "PyObject_Vectorcall",
                "do_futex"
            ]
        );
        let n = apply_view(&p, View::Native);
        assert_eq!(
            n.stack_names(n.samples.stacks[0]),
            [
                "_start",
                "Py_RunMain",
                "_PyEval_EvalFrameDefault",
                "[unknown]",
                "encoder_call",
                "PyObject_Vectorcall",
                "do_futex"
            ]
        );
        assert_eq!(v.total(0), 5);
        assert_eq!(n.total(0), 5);
    }
}
