//! Stack transforms with pprof's meanings: focus, ignore, hide, show,
//! show-from, prune-from; and renaming, recursion collapsing, kernel
//! stripping, views and granularity.
//!
//! # Matching
//!
//! As in pprof (`profile/filter.go`, `Location.matchesName`), a frame
//! matches a regular expression when its function name, its file name or
//! its module (pprof: the mapping's file) matches; the expression is not
//! anchored. Here the function name is the frame's display name
//! (`py::f:/app/a.py`, `f (a.py:12)`, `std::vector<int>::push_back`); for a
//! Python frame the function (`f`) and file (`/app/a.py`, `a.py`) inside
//! its display name count as its function and file names too, so
//! `--focus '^handle_request$'` works on py-spy and perf names alike.
//!
//! # Order of the steps
//!
//! For each distinct stack, in this order:
//!
//! 1. the [`View`] (Python-only or native-only; the Python view names
//!    Python frames `f (a.py)` unless `perf_python_names`);
//! 2. `no_kernel`: frames of kind [`FrameKind::Kernel`] are removed;
//! 3. `rename`: every `(RE, REPL)` pair in turn, `replace_all` on the
//!    display name and the file name (`$1` style groups allowed);
//! 4. pprof's `FilterSamplesByName`, all four at once, evaluated on the
//!    frames as they are before `hide` and `show` remove any: a sample is
//!    kept when at least one frame matches `focus` (any frame when there is
//!    no `focus`) and no frame matches `ignore`; then frames matching `hide`
//!    are removed and, with `show`, frames not matching it are removed. A
//!    sample left with no frames is dropped, and, as in pprof, when any of
//!    the four is given a sample that had no frames is dropped too;
//! 5. pprof's `ShowFrom`: frames above (callers of) the outermost matching
//!    frame are removed; a sample without a match is dropped;
//! 6. pprof's `PruneFrom`: frames below (callees of) the innermost
//!    (leaf-most) frame whose function name matches are removed, the match
//!    is kept; pprof matches only the function name here (with its argument
//!    list cut off), not the file; a sample without a match is unchanged;
//! 7. the [`Granularity`];
//! 8. `collapse_recursion`: consecutive frames with the same name become one
//!    (`a;a;a;b` -> `a;b`).
//!
//! pprof runs steps 4-6 in that order in `internal/driver/driver_focus.go`
//! (`applyFocus`) and aggregates to its granularity afterwards.
//!
//! Steps 4 and 5 drop samples: [`Transformed::dropped`] holds their weight
//! per value column, so kept + dropped = input. Every other step keeps every
//! sample (a stack may become empty).
//!
//! ```
//! use regex::Regex;
//! use stackconv_ops::transform::{transform, StackTransform};
//! use stackconv_model::{FrameKind, Profile, ValueType};
//!
//! let mut p = Profile::new(vec![ValueType::new("samples", "count")]);
//! let t = p.intern_thread(Default::default());
//! for (names, weight) in [(&["main", "handle", "parse"][..], 3), (&["main", "gc"][..], 2)] {
//!     let frames: Vec<_> = names.iter().map(|n| p.intern_frame_named(n, FrameKind::Native)).collect();
//!     let stack = p.intern_stack_frames(frames);
//!     p.push_sample(stack, t, None, &[weight]);
//! }
//! let mut opts = StackTransform::default();
//! opts.focus = Some(Regex::new("handle")?);
//! opts.hide = Some(Regex::new("^main$")?);
//! let out = transform(&p, &opts);
//! assert_eq!(out.profile.total(0), 3);
//! assert_eq!(out.dropped, [2]);
//! assert_eq!(out.profile.stack_names(out.profile.samples().stacks()[0]), ["handle", "parse"]);
//! # Ok::<(), regex::Error>(())
//! ```

use std::collections::HashMap;
use std::str::FromStr;

use regex::Regex;

use crate::view::{readable_python_frame, view_frames, View, ViewRoles};
use stackconv_model::naming::{python_frame, PythonFrame};
use stackconv_model::Profile;
use stackconv_model::{Frame, FrameId, FrameKind, StackId};

/// How finely frames are told apart, as pprof's `-granularity`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Granularity {
    /// Frames with the same name and module are one frame: line numbers are
    /// dropped; a py-spy name `func (file.py:12)` becomes `func (file.py)`
    /// (what py-spy writes with `--nolineno`).
    Function,
    /// A frame is named by its source file; by `[module base name]` when it
    /// has no file; frames with neither keep their name.
    File,
    /// A frame is named `func file:line` when its file and line are known
    /// (py-spy `func (file.py:12)` becomes `func file.py:12`); others keep
    /// their name.
    Line,
    /// Frames as they are (the default: every input's finest level).
    #[default]
    Address,
}

impl Granularity {
    /// The name the command line uses.
    pub fn as_str(self) -> &'static str {
        match self {
            Granularity::Function => "function",
            Granularity::File => "file",
            Granularity::Line => "line",
            Granularity::Address => "address",
        }
    }
}

/// An unknown granularity name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParseGranularityError(pub String);

impl std::fmt::Display for ParseGranularityError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "unknown granularity {:?}: expected function, file, line or address",
            self.0
        )
    }
}

impl std::error::Error for ParseGranularityError {}

impl FromStr for Granularity {
    type Err = ParseGranularityError;

    /// `function`, `file`, `line` or `address` (pprof's plural spellings
    /// `functions`, `files`, `lines`, `addresses` too).
    ///
    /// ```
    /// use stackconv_ops::transform::Granularity;
    /// assert_eq!("lines".parse::<Granularity>().ok(), Some(Granularity::Line));
    /// assert!("module".parse::<Granularity>().is_err());
    /// ```
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "function" | "functions" => Ok(Granularity::Function),
            "file" | "files" => Ok(Granularity::File),
            "line" | "lines" => Ok(Granularity::Line),
            "address" | "addresses" => Ok(Granularity::Address),
            _ => Err(ParseGranularityError(s.to_string())),
        }
    }
}

/// What [`transform`] does to stacks. Every field off by default.
#[derive(Clone, Debug, Default)]
#[non_exhaustive]
pub struct StackTransform {
    /// Python-only or native-only view ([`View::Mixed`]: as recorded).
    pub view: View,
    /// In [`View::Python`], keep Python frames in perf's spelling
    /// (`py::f:/app/a.py`, as the reference tools name them) instead of
    /// the readable `f (a.py)`.
    pub perf_python_names: bool,
    /// Remove kernel frames.
    pub no_kernel: bool,
    /// `(RE, REPL)` pairs applied in order to names and file names
    /// (`--rename RE=REPL`).
    pub rename: Vec<(Regex, String)>,
    /// Keep only samples with a matching frame (`--focus`).
    pub focus: Option<Regex>,
    /// Drop samples with a matching frame (`--ignore`).
    pub ignore: Option<Regex>,
    /// Remove matching frames (`--hide`).
    pub hide: Option<Regex>,
    /// Keep only matching frames (`--show`).
    pub show: Option<Regex>,
    /// Remove frames above the outermost match (`--show-from`).
    pub show_from: Option<Regex>,
    /// Remove frames below the innermost match (`--prune-from`).
    pub prune_from: Option<Regex>,
    /// How finely frames are told apart.
    pub granularity: Granularity,
    /// Collapse direct recursion: consecutive frames of the same name.
    pub collapse_recursion: bool,
}

impl StackTransform {
    /// Whether this transform changes nothing.
    pub fn is_identity(&self) -> bool {
        self.view == View::Mixed
            && !self.no_kernel
            && self.rename.is_empty()
            && self.focus.is_none()
            && self.ignore.is_none()
            && self.hide.is_none()
            && self.show.is_none()
            && self.show_from.is_none()
            && self.prune_from.is_none()
            && self.granularity == Granularity::Address
            && !self.collapse_recursion
    }

    fn filters_by_name(&self) -> bool {
        self.focus.is_some() || self.ignore.is_some() || self.hide.is_some() || self.show.is_some()
    }
}

/// The result of [`transform`].
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct Transformed {
    /// The transformed profile.
    pub profile: Profile,
    /// The weight of the samples dropped (by focus, ignore, hide, show,
    /// show-from), one entry per value column: kept + dropped = input.
    pub dropped: Vec<i64>,
    /// Options that matched nothing, as pprof warns
    /// (`"--focus expression matched no frames"`).
    pub warnings: Vec<String>,
}

/// Which options a (renamed) frame matches.
#[derive(Clone, Copy, Debug, Default)]
struct Matches {
    focus: bool,
    ignore: bool,
    hide: bool,
    show: bool,
    show_from: bool,
    prune_from: bool,
}

/// Everything the per-stack rewrite needs, computed once per frame.
struct Pipeline<'a> {
    t: &'a StackTransform,
    /// Original frame index -> renamed frame.
    renamed: Vec<FrameId>,
    /// Renamed frame index -> its matches (None for frames that are not
    /// renamed frames).
    matches: Vec<Option<Matches>>,
    /// Renamed frame index -> frame at the asked granularity.
    granular: Vec<Option<FrameId>>,
    /// Frames counted as matching, for the warnings.
    any: Matches,
    /// What the view asks of each frame.
    roles: ViewRoles,
}

impl Pipeline<'_> {
    /// The new frames (root first, frames of the working profile) of the
    /// stack `frames` (frames of the original profile), or `None` when the
    /// sample is dropped.
    fn rewrite(&self, work: &Profile, frames: &[FrameId]) -> Option<Vec<FrameId>> {
        let t = self.t;
        let mut frames = view_frames(&self.roles, frames, t.view);
        if t.no_kernel {
            frames.retain(|f| work.frame(*f).kind != FrameKind::Kernel);
        }
        for f in frames.iter_mut() {
            if let Some(r) = self.renamed.get(f.index()) {
                *f = *r;
            }
        }
        let m = |f: &FrameId| {
            self.matches
                .get(f.index())
                .copied()
                .flatten()
                .unwrap_or_default()
        };
        if t.filters_by_name() {
            // profile.focusedAndNotIgnored: a frame that matches ignore is
            // ignored, else it is focused when there is no focus or it
            // matches focus.
            let mut focused = false;
            for f in &frames {
                let fm = m(f);
                if t.ignore.is_some() && fm.ignore {
                    return None;
                }
                if t.focus.is_none() || fm.focus {
                    focused = true;
                }
            }
            if !focused {
                return None;
            }
            if t.hide.is_some() {
                frames.retain(|f| !m(f).hide);
            }
            if t.show.is_some() {
                frames.retain(|f| m(f).show);
            }
            if frames.is_empty() {
                return None;
            }
        }
        if t.show_from.is_some() {
            let first = frames.iter().position(|f| m(f).show_from)?;
            frames.drain(..first);
        }
        if t.prune_from.is_some() {
            if let Some(last) = frames.iter().rposition(|f| m(f).prune_from) {
                frames.truncate(last.saturating_add(1));
            }
        }
        if t.granularity != Granularity::Address {
            for f in frames.iter_mut() {
                if let Some(g) = self.granular.get(f.index()).copied().flatten() {
                    *f = g;
                }
            }
        }
        if t.collapse_recursion {
            frames.dedup_by(|a, b| work.frame(*a).name == work.frame(*b).name);
        }
        Some(frames)
    }
}

/// Rewrite the stacks of `p` as `t` says; see the [module docs](self) for
/// what each option does and in which order.
///
/// Each distinct stack is rewritten once. Threads, times, values, labels
/// and meta data of the kept samples are kept.
pub fn transform(p: &Profile, t: &StackTransform) -> Transformed {
    let columns = p.value_types().len();
    if t.is_identity() {
        return Transformed {
            profile: p.clone(),
            dropped: vec![0; columns],
            warnings: Vec::new(),
        };
    }
    let mut work = p.clone();
    let renamed: Vec<FrameId> = p
        .frames()
        .iter()
        .map(|(id, f)| {
            let id = if t.view == View::Python && !t.perf_python_names {
                readable_python_frame(&mut work, id, *f)
            } else {
                id
            };
            let f = *work.frame(id);
            rename_frame(&mut work, id, f, &t.rename)
        })
        .collect();
    let mut matches: Vec<Option<Matches>> = vec![None; work.frames().len()];
    let mut any = Matches::default();
    let mut granular: Vec<Option<FrameId>> = vec![None; work.frames().len()];
    for &r in &renamed {
        if matches.get(r.index()).copied().flatten().is_some() {
            continue;
        }
        let fm = frame_matches(&work, *work.frame(r), t);
        any.focus |= fm.focus;
        any.ignore |= fm.ignore;
        any.hide |= fm.hide;
        any.show |= fm.show;
        any.show_from |= fm.show_from;
        any.prune_from |= fm.prune_from;
        if let Some(slot) = matches.get_mut(r.index()) {
            *slot = Some(fm);
        }
        if t.granularity != Granularity::Address {
            let frame = *work.frame(r);
            let g = granular_frame(&mut work, frame, t.granularity);
            if let Some(slot) = granular.get_mut(r.index()) {
                *slot = Some(g);
            }
        }
    }
    let pipeline = Pipeline {
        t,
        renamed,
        matches,
        granular,
        any,
        roles: ViewRoles::of(&work),
    };
    let drops = t.filters_by_name() || t.show_from.is_some();
    let (kept, dropped) = if drops {
        let mut keep_cache: HashMap<Option<StackId>, bool> = HashMap::new();
        work.filter_samples(|w, i| {
            let stack = w.samples().stacks().get(i).copied().flatten();
            *keep_cache
                .entry(stack)
                .or_insert_with(|| pipeline.rewrite(w, &w.stack_frames(stack)).is_some())
        })
    } else {
        (work, vec![0; columns])
    };
    let profile = kept.map_stacks(|w, frames| pipeline.rewrite(w, frames).unwrap_or_default());
    let mut warnings = Vec::new();
    let mut warn = |given: bool, matched: bool, option: &str| {
        if given && !matched {
            warnings.push(format!("--{option} expression matched no frames"));
        }
    };
    warn(t.focus.is_some(), pipeline.any.focus, "focus");
    warn(t.ignore.is_some(), pipeline.any.ignore, "ignore");
    warn(t.hide.is_some(), pipeline.any.hide, "hide");
    warn(t.show.is_some(), pipeline.any.show, "show");
    warn(t.show_from.is_some(), pipeline.any.show_from, "show-from");
    warn(
        t.prune_from.is_some(),
        pipeline.any.prune_from,
        "prune-from",
    );
    if !p.samples().is_empty() && profile.samples().is_empty() {
        warnings.push("no samples left after the stack filters".to_string());
    }
    Transformed {
        profile,
        dropped,
        warnings,
    }
}

/// Intern the renamed copy of frame `id` into `work`.
fn rename_frame(work: &mut Profile, id: FrameId, f: Frame, rename: &[(Regex, String)]) -> FrameId {
    if rename.is_empty() {
        return id;
    }
    let mut name = work.str(f.name).to_string();
    let mut file = work.str(f.file).to_string();
    for (re, repl) in rename {
        if let std::borrow::Cow::Owned(n) = re.replace_all(&name, repl.as_str()) {
            name = n;
        }
        if let std::borrow::Cow::Owned(n) = re.replace_all(&file, repl.as_str()) {
            file = n;
        }
    }
    let frame = Frame {
        name: work.intern_str(&name),
        file: work.intern_str(&file),
        ..f
    };
    work.intern_frame(frame)
}

fn frame_matches(work: &Profile, f: Frame, t: &StackTransform) -> Matches {
    let name = work.str(f.name);
    let file = work.str(f.file);
    let module = work.str(f.module);
    // A Python frame's name carries its file (`f (a.py:3)`,
    // `py::f:/app/a.py`): its function and file count on their own too.
    let py = if f.kind == FrameKind::Python {
        python_frame(name)
    } else {
        None
    };
    let any = |re: &Option<Regex>| {
        re.as_ref().is_some_and(|re| {
            re.is_match(name)
                || (!file.is_empty() && re.is_match(file))
                || (!module.is_empty() && re.is_match(module))
                || py.is_some_and(|py| {
                    re.is_match(py.func) || (!py.file.is_empty() && re.is_match(py.file))
                })
        })
    };
    Matches {
        focus: any(&t.focus),
        ignore: any(&t.ignore),
        hide: any(&t.hide),
        show: any(&t.show),
        show_from: any(&t.show_from),
        // profile.PruneFrom: the function name only, argument list cut off
        // (simplifyFunc).
        prune_from: t.prune_from.as_ref().is_some_and(|re| {
            (!name.is_empty() && re.is_match(simplify_func(name)))
                || py.is_some_and(|py| re.is_match(py.func))
        }),
    }
}

/// pprof's `simplifyFunc`: drop a leading `.` and the argument list from
/// the first `(` that does not start `(anonymous namespace)` or belong to
/// `operator()`.
fn simplify_func(name: &str) -> &str {
    let name = name.strip_prefix('.').unwrap_or(name);
    let mut from = 0;
    while let Some(rel) = name.get(from..).and_then(|s| s.find(['(', 'o'])) {
        let at = from.saturating_add(rel);
        let rest = name.get(at..).unwrap_or("");
        if rest.starts_with("(anonymous namespace)") {
            from = at.saturating_add("(anonymous namespace)".len());
        } else if rest.starts_with("operator()") {
            from = at.saturating_add("operator()".len());
        } else if rest.starts_with('(') {
            return name.get(..at).unwrap_or(name);
        } else {
            from = at.saturating_add(1);
        }
    }
    name
}

/// The name of a frame at function granularity: a py-spy name loses its
/// `:line`.
pub(crate) fn function_name(name: &str, kind: FrameKind) -> std::borrow::Cow<'_, str> {
    if kind == FrameKind::Python {
        if let Some(py) = python_frame(name) {
            if py.line.is_some() {
                return std::borrow::Cow::Owned(format!("{} ({})", py.func, py.file));
            }
        }
    }
    std::borrow::Cow::Borrowed(name)
}

fn granular_frame(work: &mut Profile, f: Frame, g: Granularity) -> FrameId {
    let name = work.str(f.name);
    let file = work.str(f.file);
    let module = work.str(f.module);
    let py = if f.kind == FrameKind::Python {
        python_frame(name)
    } else {
        None
    };
    let new_name: String = match g {
        Granularity::Address => name.to_string(),
        Granularity::Function => function_name(name, f.kind).into_owned(),
        Granularity::File => {
            if !file.is_empty() {
                file.to_string()
            } else if let Some(py) = py.filter(|py| !py.file.is_empty()) {
                py.file.to_string()
            } else if module.starts_with('[') {
                // `[kernel.kallsyms]`, `[vdso]`: already a bracketed name.
                module.to_string()
            } else if !module.is_empty() {
                format!("[{}]", module.rsplit('/').next().unwrap_or(module))
            } else {
                name.to_string()
            }
        }
        Granularity::Line => match py {
            Some(PythonFrame {
                func,
                file,
                line: Some(line),
            }) => format!("{func} {file}:{line}"),
            _ if f.line != 0 && !file.is_empty() => {
                let func = py.map(|py| py.func).unwrap_or(name);
                format!("{func} {file}:{}", f.line)
            }
            _ => name.to_string(),
        },
    };
    let line = if g == Granularity::Line || g == Granularity::Address {
        f.line
    } else {
        0
    };
    let frame = Frame {
        name: work.intern_str(&new_name),
        line,
        ..f
    };
    work.intern_frame(frame)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn python_names() {
        assert_eq!(
            python_frame("handle (webapi.py:130)"),
            Some(PythonFrame {
                func: "handle",
                file: "webapi.py",
                line: Some("130")
            })
        );
        assert_eq!(
            python_frame("wait (/usr/lib/python3.12/threading.py)"),
            Some(PythonFrame {
                func: "wait",
                file: "/usr/lib/python3.12/threading.py",
                line: None
            })
        );
        assert_eq!(
            python_frame("py::Condition.wait:/usr/lib/python3.12/threading.py"),
            Some(PythonFrame {
                func: "Condition.wait",
                file: "/usr/lib/python3.12/threading.py",
                line: None
            })
        );
        assert_eq!(python_frame("main"), None);
        assert_eq!(
            function_name("f (a.py:3)", FrameKind::Python),
            "f (a.py)".to_string()
        );
    }

    #[test]
    fn simplify_func_as_pprof() {
        assert_eq!(simplify_func("foo(int)"), "foo");
        assert_eq!(simplify_func(".foo"), "foo");
        assert_eq!(
            simplify_func("(anonymous namespace)::f(int)"),
            "(anonymous namespace)::f"
        );
        assert_eq!(simplify_func("A::operator()(int)"), "A::operator()");
        assert_eq!(simplify_func("main.(*T).m"), "main.");
    }
}
