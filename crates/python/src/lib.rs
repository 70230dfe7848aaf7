//! The `stackconv` Python module (`stackconv._stackconv`, re-exported by
//! the package's `__init__.py`): read a profile, filter it, list its top
//! functions, write it anywhere, diff two of them.
//!
//! Every operation is the facade's (`stackconv::read_path`,
//! `stackconv::process`, `stackconv::write`, `stackconv::write_diff`,
//! `stackconv::ops::top`), called as the command line calls it, so the
//! module and `stackconv` agree on every number. Parsing, processing and
//! writing run with the GIL released.
//!
//! `Profile.to_arrow()` gives the columnar output (crate
//! `stackconv-columnar`'s Arrow IPC, opened by pyarrow).

use std::borrow::Cow;
use std::path::PathBuf;
use std::sync::Arc;

use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::{PyByteArray, PyBytes, PyDict, PyList, PyMemoryView, PyTuple};
use stackconv::collapsed::folded::{self, RootFrame};
use stackconv::ops::top::{top_with, TopOptions};
use stackconv::ops::view::{default_view, View};
use stackconv::ops::{Granularity, IdleFilter, SampleFilter, StackTransform};
use stackconv::regex::Regex;
use stackconv::{InputFormat, Location, OutputFormat, ProcessOptions, Profile, ReadOptions};

/// The Python module.
#[pymodule]
fn _stackconv(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(read, m)?)?;
    m.add_function(wrap_pyfunction!(merge, m)?)?;
    m.add_function(wrap_pyfunction!(diff, m)?)?;
    m.add_class::<PyProfile>()?;
    m.add_class::<PyDiff>()?;
    m.add(
        "INPUT_FORMATS",
        InputFormat::ALL.map(InputFormat::name).to_vec(),
    )?;
    m.add(
        "OUTPUT_FORMATS",
        OutputFormat::ALL.map(OutputFormat::name).to_vec(),
    )?;
    Ok(())
}

// ---------------------------------------------------------------- errors

/// The Python exception class for `e` (defined in `stackconv/_errors.py`):
/// what the command line treats as bad usage (exit 2) is a `UsageError`
/// (also a `ValueError`), the file system's errors an `IoError` (also an
/// `OSError`), bad input an `InputError`; the rest the base `Error`.
fn error_class(e: &stackconv::Error) -> &'static str {
    use stackconv::Error as E;
    match e {
        E::File { source, .. } | E::Stdout(source) => error_class(source),
        E::NoSuchValue(_)
        | E::NoOffCpu { .. }
        | E::OutputIsInput { .. }
        | E::OutputIsDirectory
        | E::StdinTwice => "UsageError",
        E::Io(_) | E::CannotCreate { .. } | E::StdoutClosed | E::OutOfMemory { .. } => "IoError",
        E::EmptyInput
        | E::UnknownFormat { .. }
        | E::Collapsed(_)
        | E::Perf(_)
        | E::Pprof(_)
        | E::Speedscope(_)
        | E::Chrome(_)
        | E::InputTooLarge { .. }
        | E::WeightOverflow { .. } => "InputError",
        _ => "Error",
    }
}

/// The file an error names, the innermost.
fn error_path(e: &stackconv::Error) -> Option<PathBuf> {
    match e {
        stackconv::Error::File { path, source } => error_path(source).or(Some(path.clone())),
        stackconv::Error::Stdout(source) => error_path(source),
        _ => None,
    }
}

/// The OS error number of an I/O error, for `OSError.errno`.
fn error_errno(e: &stackconv::Error) -> Option<i32> {
    match e {
        stackconv::Error::File { source, .. } | stackconv::Error::Stdout(source) => {
            error_errno(source)
        }
        stackconv::Error::Io(io) | stackconv::Error::CannotCreate { source: io, .. } => {
            io.raw_os_error()
        }
        _ => None,
    }
}

/// An instance of the package's exception class `class`, with `message`
/// and the attributes every `stackconv.Error` has.
fn py_error(
    py: Python<'_>,
    class: &str,
    message: String,
    path: Option<PathBuf>,
    location: Option<Location>,
    errno: Option<i32>,
) -> PyErr {
    let make = || -> PyResult<PyErr> {
        let cls = py.import("stackconv._errors")?.getattr(class)?;
        let path_str = path.as_ref().map(|p| p.to_string_lossy().into_owned());
        let err = match errno {
            // OSError's own form, `[Errno 2] No such file or directory: 'x'`,
            // with `errno`, `strerror` and `filename` set.
            Some(n) => cls.call1((n, os_strerror(&message), path_str.clone()))?,
            None => cls.call1((message.clone(),))?,
        };
        err.setattr("path", path_str)?;
        let (offset, line, column, json_path) = match &location {
            Some(Location::Byte(o)) => (Some(*o), None, None, None),
            Some(Location::Line(l)) => (None, Some(*l), None, None),
            Some(Location::LineColumn { line, column }) => (None, Some(*line), Some(*column), None),
            Some(Location::JsonPath(p)) => (None, None, None, Some(p.clone())),
            Some(_) | None => (None, None, None, None),
        };
        err.setattr("offset", offset)?;
        err.setattr("line", line)?;
        err.setattr("column", column)?;
        err.setattr("json_path", json_path)?;
        Ok(PyErr::from_value(err))
    };
    // The package's own module failing to import is itself the error.
    make().unwrap_or_else(|e| e)
}

/// `e` as a Python exception.
fn to_py(py: Python<'_>, e: stackconv::Error) -> PyErr {
    let class = error_class(&e);
    let errno = error_errno(&e);
    py_error(
        py,
        class,
        e.to_string(),
        error_path(&e),
        e.location(),
        errno,
    )
}

/// The system's words for an I/O error: its message without the path the
/// message starts with and the `(os error N)` it ends with.
fn os_strerror(message: &str) -> String {
    let last = message.rsplit(": ").next().unwrap_or(message);
    match last.rfind(" (os error ") {
        Some(i) => last.get(..i).unwrap_or(last).to_string(),
        None => last.to_string(),
    }
}

/// A usage error (`stackconv.UsageError`, a `ValueError`) saying `message`.
fn usage(py: Python<'_>, message: impl Into<String>) -> PyErr {
    py_error(py, "UsageError", message.into(), None, None, None)
}

// ---------------------------------------------------------------- reading

/// One or more paths: a `str` or path-like, or a sequence of them.
fn paths(obj: &Bound<'_, PyAny>) -> PyResult<Vec<PathBuf>> {
    if let Ok(p) = obj.extract::<PathBuf>() {
        return Ok(vec![p]);
    }
    let mut out = Vec::new();
    for item in obj.try_iter()? {
        out.push(item?.extract::<PathBuf>()?);
    }
    Ok(out)
}

/// The input format named `name`, as `InputFormat::name` spells it (any
/// case).
fn input_format(py: Python<'_>, name: &str) -> PyResult<InputFormat> {
    InputFormat::ALL
        .into_iter()
        .find(|f| f.name().eq_ignore_ascii_case(name))
        .ok_or_else(|| {
            usage(
                py,
                format!(
                    "format: unknown input format {name:?} ({})",
                    InputFormat::ALL.map(InputFormat::name).join(", ")
                ),
            )
        })
}

/// Read a profile from a file or from bytes, detecting its format from the
/// content. The keyword options are the command line's (see the stub's
/// docstring).
#[pyfunction]
#[pyo3(signature = (
    source, *, format=None, kallsyms=None, symfs=None, symbol_dirs=None, perf_map_dir=None,
    no_inline=false, no_system_paths=false, off_cpu=false, lines=true, fold=false,
    max_decompressed=None, max_input=None,
))]
#[allow(clippy::too_many_arguments)] // Python keyword arguments
fn read(
    py: Python<'_>,
    source: &Bound<'_, PyAny>,
    format: Option<&str>,
    kallsyms: Option<PathBuf>,
    symfs: Option<PathBuf>,
    symbol_dirs: Option<&Bound<'_, PyAny>>,
    perf_map_dir: Option<PathBuf>,
    no_inline: bool,
    no_system_paths: bool,
    off_cpu: bool,
    lines: bool,
    fold: bool,
    max_decompressed: Option<u64>,
    max_input: Option<u64>,
) -> PyResult<PyProfile> {
    let mut opts = ReadOptions::default();
    opts.format = format.map(|f| input_format(py, f)).transpose()?;
    let sym = &mut opts.perf.symbols;
    sym.kallsyms = kallsyms;
    sym.symfs = symfs;
    sym.symbol_dirs = symbol_dirs.map(paths).transpose()?.unwrap_or_default();
    sym.perf_map_dir = perf_map_dir;
    sym.inline = !no_inline;
    sym.no_system_paths = no_system_paths;
    sym.lines = lines;
    opts.perf.off_cpu = off_cpu;
    opts.perf.fold = fold;
    opts.max_decompressed_bytes = max_decompressed;
    opts.max_input_bytes = max_input;

    let (profile, sources) = if let Ok(bytes) = source.cast::<PyBytes>() {
        let data = bytes.as_bytes();
        let p = py.detach(|| stackconv::read_bytes(data, &opts));
        (p, Vec::new())
    } else if source.is_instance_of::<PyByteArray>() || source.is_instance_of::<PyMemoryView>() {
        // A copy: the buffer could change while the GIL is released.
        let copy = py.import("builtins")?.getattr("bytes")?.call1((source,))?;
        let data = copy.cast::<PyBytes>()?.as_bytes();
        let p = py.detach(|| stackconv::read_bytes(data, &opts));
        (p, Vec::new())
    } else {
        let path: PathBuf = source.extract().map_err(|_| {
            PyTypeError::new_err(format!(
                "read() takes a path (str or os.PathLike) or bytes (bytearray, memoryview), not {}",
                source
                    .get_type()
                    .name()
                    .map(|n| n.to_string())
                    .unwrap_or_default()
            ))
        })?;
        let sources = vec![path];
        stackconv::maps_beside(&mut opts, &sources);
        let p = py.detach(|| {
            let first = sources
                .first()
                .map(PathBuf::as_path)
                .unwrap_or("-".as_ref());
            stackconv::read_path(first, &opts)
        });
        (p, sources)
    };
    let mut profile = profile.map_err(|e| to_py(py, e))?;
    if off_cpu {
        // As `--off-cpu`: the off-CPU column is the one shown.
        let name =
            stackconv::off_cpu_value(&profile).map_err(|e| usage(py, format!("off_cpu: {e}")))?;
        profile.meta_mut().default_value =
            stackconv::value_column(&profile, name).map_err(|e| to_py(py, e))?;
    }
    let input_totals = profile.totals();
    Ok(PyProfile {
        profile: Arc::new(profile),
        input_totals,
        view: None,
        dropped: Vec::new(),
        warnings: Vec::new(),
        sources,
        off_cpu,
    })
}

// ---------------------------------------------------------------- Profile

/// A profile: samples, their stacks, threads and value columns.
#[pyclass(name = "Profile", module = "stackconv", frozen)]
struct PyProfile {
    profile: Arc<Profile>,
    /// The totals as read, before any filter: `top`'s percentages are of
    /// them, as pprof's and `stackconv top`'s.
    input_totals: Vec<i64>,
    /// The view the stacks are shown in, once chosen (by `filter`); until
    /// then outputs show the default view, as the command line does.
    view: Option<View>,
    /// Weight dropped by filters so far, per value column.
    dropped: Vec<i64>,
    /// What the filters said.
    warnings: Vec<String>,
    /// The files read (outputs refuse to overwrite them).
    sources: Vec<PathBuf>,
    /// Read with `off_cpu`: off-CPU time is shown (SVGs are titled so).
    off_cpu: bool,
}

/// Options of outputs that show folded stacks: the root frame and the
/// annotations.
fn root_frame(py: Python<'_>, per_process: bool, per_thread: bool) -> PyResult<RootFrame> {
    match (per_process, per_thread) {
        (true, true) => Err(usage(py, "per_process and per_thread exclude each other")),
        (_, true) => Ok(RootFrame::CommPidTid),
        (true, _) => Ok(RootFrame::CommPid),
        _ => Ok(RootFrame::Auto),
    }
}

fn compile(py: Python<'_>, what: &str, re: &str) -> PyResult<Regex> {
    Regex::new(re).map_err(|e| usage(py, format!("{what}: {e}")))
}

fn regex(py: Python<'_>, what: &str, re: Option<&str>) -> PyResult<Option<Regex>> {
    re.map(|r| compile(py, what, r)).transpose()
}

/// Ids given as one int or a sequence of them.
fn ids(obj: Option<&Bound<'_, PyAny>>) -> PyResult<Vec<u32>> {
    match obj {
        None => Ok(Vec::new()),
        Some(o) => match o.extract::<u32>() {
            Ok(id) => Ok(vec![id]),
            Err(_) => o.extract::<Vec<u32>>(),
        },
    }
}

/// `rename`: a dict or a sequence of (RE, REPLACEMENT) pairs, applied in
/// order.
fn renames(py: Python<'_>, obj: Option<&Bound<'_, PyAny>>) -> PyResult<Vec<(Regex, String)>> {
    let Some(obj) = obj else {
        return Ok(Vec::new());
    };
    let pairs: Vec<(String, String)> = match obj.cast::<PyDict>() {
        Ok(d) => d
            .items()
            .iter()
            .map(|kv| kv.extract::<(String, String)>())
            .collect::<PyResult<_>>()?,
        Err(_) => obj.extract()?,
    };
    pairs
        .into_iter()
        .map(|(re, repl)| Ok((compile(py, "rename", &re)?, repl)))
        .collect()
}

impl PyProfile {
    fn derived(&self, profile: Profile, view: Option<View>) -> PyProfile {
        PyProfile {
            profile: Arc::new(profile),
            input_totals: self.input_totals.clone(),
            view,
            dropped: self.dropped.clone(),
            warnings: self.warnings.clone(),
            sources: self.sources.clone(),
            off_cpu: self.off_cpu,
        }
    }

    /// The view `filter` applies when asked for `asked`: the asked one or
    /// the default on the first choice; none (already applied) after.
    fn view_to_apply(&self, py: Python<'_>, asked: Option<View>) -> PyResult<(View, View)> {
        match (self.view, asked) {
            (None, None) => {
                let v = default_view(&self.profile);
                Ok((v, v))
            }
            (None, Some(v)) => Ok((v, v)),
            (Some(current), Some(v)) if current != v => Err(usage(
                py,
                format!(
                    "view: this profile is already shown in the {} view; \
                     choose the view in the first filter() after read()",
                    current.as_str()
                ),
            )),
            (Some(current), _) => Ok((View::Mixed, current)),
        }
    }

    /// The profile as outputs show it: in the default view when no view
    /// was chosen yet (Python recordings in the Python view, as the
    /// command line shows them); with `perf_names`, Python frames keep
    /// perf's spelling there (`--annotate`).
    fn shown(&self, py: Python<'_>, perf_names: bool) -> PyResult<Cow<'_, Profile>> {
        if self.view.is_some() {
            return Ok(Cow::Borrowed(&self.profile));
        }
        let mut t = StackTransform::default();
        t.view = default_view(&self.profile);
        t.perf_python_names = perf_names;
        if t.is_identity() {
            return Ok(Cow::Borrowed(&self.profile));
        }
        let mut o = ProcessOptions::default();
        o.transform = t;
        let profile = &*self.profile;
        let p = py
            .detach(|| stackconv::process(profile.clone(), &o))
            .map_err(|e| to_py(py, e))?;
        Ok(Cow::Owned(p.profile))
    }

    fn column(&self, py: Python<'_>, value: Option<&str>) -> PyResult<usize> {
        match value {
            None => Ok(self.profile.meta().default_value),
            Some(name) => stackconv::value_column(&self.profile, name).map_err(|e| to_py(py, e)),
        }
    }

    fn output_format(
        py: Python<'_>,
        path: &std::path::Path,
        format: Option<&str>,
    ) -> PyResult<OutputFormat> {
        match format {
            Some(name) => OutputFormat::from_name(name).ok_or_else(|| {
                usage(
                    py,
                    format!(
                        "format: unknown output format {name:?} ({})",
                        OutputFormat::ALL.map(OutputFormat::name).join(", ")
                    ),
                )
            }),
            None => OutputFormat::from_path(path).ok_or_else(|| {
                let endings: Vec<&str> = OutputFormat::ALL
                    .iter()
                    .flat_map(|f| f.extensions().iter().copied())
                    .collect();
                usage(
                    py,
                    format!(
                        "{}: cannot tell the format from the extension ({}); pass format=",
                        path.display(),
                        endings.join(", ")
                    ),
                )
            }),
        }
    }
}

#[pymethods]
impl PyProfile {
    /// Keep some samples and rewrite stacks, as the command line's sample
    /// and stack options do; returns a new profile.
    #[pyo3(signature = (
        *, pid=None, tid=None, comm=None, thread=None, event=None, time=None,
        no_idle=false, only_idle=false, idle_frames=None,
        focus=None, ignore=None, hide=None, show=None, show_from=None, prune_from=None,
        rename=None, collapse_recursion=false, no_kernel=false, view=None, granularity=None,
        value=None,
    ))]
    #[allow(clippy::too_many_arguments)] // Python keyword arguments
    fn filter(
        &self,
        py: Python<'_>,
        pid: Option<&Bound<'_, PyAny>>,
        tid: Option<&Bound<'_, PyAny>>,
        comm: Option<&str>,
        thread: Option<&str>,
        event: Option<String>,
        time: Option<&str>,
        no_idle: bool,
        only_idle: bool,
        idle_frames: Option<Vec<String>>,
        focus: Option<&str>,
        ignore: Option<&str>,
        hide: Option<&str>,
        show: Option<&str>,
        show_from: Option<&str>,
        prune_from: Option<&str>,
        rename: Option<&Bound<'_, PyAny>>,
        collapse_recursion: bool,
        no_kernel: bool,
        view: Option<&str>,
        granularity: Option<&str>,
        value: Option<String>,
    ) -> PyResult<PyProfile> {
        let mut f = SampleFilter::default();
        f.pids = ids(pid)?;
        f.tids = ids(tid)?;
        f.comm = regex(py, "comm", comm)?;
        f.thread = regex(py, "thread", thread)?;
        f.event = event;
        f.time = time
            .map(|t| {
                t.parse()
                    .map_err(|e: stackconv::ops::filter::ParseTimeRangeError| {
                        usage(py, format!("time: {}", e.0))
                    })
            })
            .transpose()?;
        f.idle = match (no_idle, only_idle) {
            (true, true) => return Err(usage(py, "no_idle and only_idle exclude each other")),
            (true, _) => IdleFilter::NoIdle,
            (_, true) => IdleFilter::OnlyIdle,
            _ => IdleFilter::All,
        };
        f.idle_frames = idle_frames
            .unwrap_or_default()
            .iter()
            .map(|re| compile(py, "idle_frames", re))
            .collect::<PyResult<_>>()?;
        let mut t = StackTransform::default();
        t.focus = regex(py, "focus", focus)?;
        t.ignore = regex(py, "ignore", ignore)?;
        t.hide = regex(py, "hide", hide)?;
        t.show = regex(py, "show", show)?;
        t.show_from = regex(py, "show_from", show_from)?;
        t.prune_from = regex(py, "prune_from", prune_from)?;
        t.rename = renames(py, rename)?;
        t.collapse_recursion = collapse_recursion;
        t.no_kernel = no_kernel;
        let asked = view
            .map(|v| {
                v.parse::<View>().map_err(|_| {
                    usage(
                        py,
                        format!("view: unknown view {v:?} (mixed, python, native)"),
                    )
                })
            })
            .transpose()?;
        let (apply, chosen) = self.view_to_apply(py, asked)?;
        t.view = apply;
        if let Some(g) = granularity {
            t.granularity = g.parse::<Granularity>().map_err(|_| {
                usage(
                    py,
                    format!(
                        "granularity: unknown granularity {g:?} (function, file, line, address)"
                    ),
                )
            })?;
        }
        let mut o = ProcessOptions::default();
        o.filter = f;
        o.transform = t;
        o.value = value;
        let profile = &*self.profile;
        let processed = py
            .detach(|| stackconv::process(profile.clone(), &o))
            .map_err(|e| to_py(py, e))?;
        let mut out = self.derived(processed.profile, Some(chosen));
        for (d, more) in out.dropped.iter_mut().zip(&processed.dropped) {
            *d = d.saturating_add(*more);
        }
        if out.dropped.is_empty() {
            out.dropped = processed.dropped;
        }
        out.warnings.extend(processed.warnings);
        Ok(out)
    }

    /// The functions with the most self weight, as `stackconv top -n N`
    /// lists them: a list of `TopRow(name, flat, flat_pct, sum_pct, cum,
    /// cum_pct)`; all of them when `n` is None.
    #[pyo3(signature = (n=20))]
    fn top<'py>(&self, py: Python<'py>, n: Option<usize>) -> PyResult<Bound<'py, PyList>> {
        let shown = self.shown(py, false)?;
        let column = shown.meta().default_value;
        let mut o = TopOptions::default();
        o.column = column;
        o.total = self.input_totals.get(column).copied();
        let p: &Profile = &shown;
        let t = py.detach(|| top_with(p, &o));
        let row_class = py.import("stackconv")?.getattr("TopRow")?;
        let rows = PyList::empty(py);
        for r in t.rows.iter().take(n.unwrap_or(usize::MAX)) {
            rows.append(row_class.call1((
                r.name.as_str(),
                r.flat,
                r.flat_pct,
                r.sum_pct,
                r.cum,
                r.cum_pct,
            ))?)?;
        }
        Ok(rows)
    }

    /// The profile as folded text (`inferno-collapse-perf`'s lines).
    #[pyo3(signature = (*, per_process=false, per_thread=false, annotate=false, value=None))]
    fn folded(
        &self,
        py: Python<'_>,
        per_process: bool,
        per_thread: bool,
        annotate: bool,
        value: Option<&str>,
    ) -> PyResult<String> {
        let mut w = folded::WriteOptions::default();
        w.root = root_frame(py, per_process, per_thread)?;
        w.annotate = annotate;
        w.value = value.map(|v| self.column(py, Some(v))).transpose()?;
        let shown = self.shown(py, annotate)?;
        let p: &Profile = &shown;
        let text = py.detach(|| -> Result<Vec<u8>, stackconv::Error> {
            let mut out = Vec::new();
            stackconv::write(&p.fold(), OutputFormat::Folded, &write_opts(w), &mut out)?;
            Ok(out)
        });
        let text = text.map_err(|e| to_py(py, e))?;
        Ok(String::from_utf8_lossy(&text).into_owned())
    }

    /// Write the profile to `path` in `format` (default: from the path's
    /// extension), as `stackconv IN -o PATH` writes it: through a
    /// temporary file renamed into place; an input is not overwritten
    /// unless `force`.
    #[pyo3(signature = (
        path, format=None, *, per_process=false, per_thread=false, annotate=false, value=None,
        title=None, icicle=false, palette=None, min_width=None, force=false,
    ))]
    #[allow(clippy::too_many_arguments)] // Python keyword arguments
    fn write(
        &self,
        py: Python<'_>,
        path: PathBuf,
        format: Option<&str>,
        per_process: bool,
        per_thread: bool,
        annotate: bool,
        value: Option<&str>,
        title: Option<String>,
        icicle: bool,
        palette: Option<String>,
        min_width: Option<f64>,
        force: bool,
    ) -> PyResult<()> {
        let format = Self::output_format(py, &path, format)?;
        let mut w = folded::WriteOptions::default();
        w.root = root_frame(py, per_process, per_thread)?;
        w.annotate = annotate;
        w.value = value.map(|v| self.column(py, Some(v))).transpose()?;
        let mut opts = write_opts(w);
        // The command's titles: the one given, else for off-CPU time
        // "Off-CPU Time Flame Graph", and the inputs' names for the report.
        if let Some(t) = &title {
            opts.svg.title = t.clone();
            opts.html.title = t.clone();
        } else {
            if self.off_cpu {
                opts.svg.title = stackconv::OFF_CPU_TITLE.to_string();
            }
            if !self.sources.is_empty() {
                opts.html.title = stackconv::report_title(&self.sources);
            }
        }
        opts.svg.icicle = icicle;
        opts.svg.palette = palette;
        if let Some(m) = min_width {
            opts.svg.min_width_percent = m;
        }
        opts.firefox.gzip = path.to_string_lossy().ends_with(".gz");
        let shown = self.shown(py, annotate)?;
        let p: &Profile = &shown;
        let sources = &self.sources;
        py.detach(|| -> Result<(), stackconv::Error> {
            let out = stackconv::Output::prepare(&path, sources, force)?;
            if format.keeps_time_order() {
                out.write_with(|w| stackconv::write(p, format, &opts, w))
            } else {
                let folded = p.fold();
                out.write_with(|w| stackconv::write(&folded, format, &opts, w))
            }
        })
        .map_err(|e| to_py(py, e))
    }

    /// The profile as a pyarrow Table, one row per (thread, stack), in the
    /// schema of `stackconv IN -o OUT.arrow` (stackconv-columnar): `input`,
    /// one column per label, pid, tid, process and thread names, `leaf`, one
    /// Int64 column per value type, and `stack` as a list of frames root
    /// first. The table is made in Rust as Arrow IPC and opened by pyarrow
    /// over the same buffer, without copying. Needs pyarrow.
    #[pyo3(signature = (*, labels=None))]
    fn to_arrow<'py>(
        &self,
        py: Python<'py>,
        labels: Option<Vec<(String, String)>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let pa = py.import("pyarrow")?;
        let ipc = py.import("pyarrow.ipc")?;
        let mut opts = stackconv::WriteOptions::default();
        let path = self.sources.first().map(|p| p.display().to_string());
        let mut source = stackconv::columnar::Source::new(path.unwrap_or_default());
        for (k, v) in labels.unwrap_or_default() {
            source = source.with_label(k, v);
        }
        opts.columnar = source;
        let shown = self.shown(py, false)?;
        let p: &Profile = &shown;
        let bytes = py
            .detach(|| -> Result<Vec<u8>, stackconv::Error> {
                let mut out = Vec::new();
                stackconv::write(&p.fold(), OutputFormat::Arrow, &opts, &mut out)?;
                Ok(out)
            })
            .map_err(|e| to_py(py, e))?;
        let buffer = pa.call_method1("py_buffer", (PyBytes::new(py, &bytes),))?;
        ipc.call_method1("open_file", (buffer,))?
            .call_method0("read_all")
    }

    /// The total weight of the shown value column, or of the column
    /// `value` names.
    #[pyo3(signature = (value=None))]
    fn total(&self, py: Python<'_>, value: Option<&str>) -> PyResult<i64> {
        let column = self.column(py, value)?;
        Ok(self.profile.total(column))
    }

    /// The value columns: a list of `(kind, unit)`, e.g.
    /// `[("cpu-clock", "nanoseconds"), ("samples", "count")]`.
    #[getter]
    fn value_types(&self) -> Vec<(String, String)> {
        self.profile
            .value_types()
            .iter()
            .map(|v| (v.kind.clone(), v.unit.clone()))
            .collect()
    }

    /// The kind of the value column that `top`, `folded`, `total` and
    /// single-value outputs show.
    #[getter]
    fn value(&self) -> Option<String> {
        self.profile
            .value_types()
            .get(self.profile.meta().default_value)
            .map(|v| v.kind.clone())
    }

    /// The input format (`perf.data`, `pprof`, `folded`, ...).
    #[getter]
    fn source_format(&self) -> String {
        self.profile.meta().source_format.clone()
    }

    /// The files read, as given.
    #[getter]
    fn sources(&self) -> Vec<PathBuf> {
        self.sources.clone()
    }

    /// The view the stacks are shown in: `mixed`, `python` or `native`;
    /// None until a filter chose it (outputs then show the default: python
    /// for perf recordings with Python frames, else mixed).
    #[getter]
    fn view(&self) -> Option<&'static str> {
        self.view.map(View::as_str)
    }

    /// What was lost or not resolved on the way: `(what, count)` pairs.
    #[getter]
    fn losses(&self) -> Vec<(String, u64)> {
        self.profile
            .meta()
            .losses
            .iter()
            .map(|l| (l.what.clone(), l.count))
            .collect()
    }

    /// The readers' and the filters' warnings.
    #[getter]
    fn warnings(&self) -> Vec<String> {
        let mut w = self.profile.meta().warnings.clone();
        w.extend(self.warnings.iter().cloned());
        w
    }

    /// The weight the filters dropped, per value column: kept + dropped =
    /// as read.
    #[getter]
    fn dropped(&self) -> Vec<i64> {
        if self.dropped.is_empty() {
            vec![0; self.profile.value_types().len()]
        } else {
            self.dropped.clone()
        }
    }

    /// The threads: `(pid, tid, process name, thread name)`.
    #[getter]
    fn threads(&self) -> Vec<(Option<u32>, Option<u32>, String, String)> {
        let p = &self.profile;
        p.threads()
            .iter()
            .map(|(_, t)| {
                (
                    t.pid,
                    t.tid,
                    p.str(t.process_name).to_string(),
                    p.str(t.thread_name).to_string(),
                )
            })
            .collect()
    }

    /// The number of sample rows (one per distinct stack and thread when
    /// the profile was folded).
    fn __len__(&self) -> usize {
        self.profile.samples().len()
    }

    fn __repr__(&self) -> String {
        let p = &self.profile;
        let source = self
            .sources
            .first()
            .map(|s| format!(" {}", s.display()))
            .unwrap_or_default();
        let shown = p
            .value_types()
            .get(p.meta().default_value)
            .map(|v| {
                format!(
                    ", {} {} {}",
                    v.kind,
                    p.total(p.meta().default_value),
                    v.unit
                )
            })
            .unwrap_or_default();
        format!(
            "<stackconv.Profile{source} ({}): {} samples, {} threads{shown}>",
            p.meta().source_format,
            p.samples().len(),
            p.threads().len()
        )
    }
}

fn write_opts(folded: folded::WriteOptions) -> stackconv::WriteOptions {
    let mut o = stackconv::WriteOptions::default();
    o.folded = folded;
    o
}

/// Merge profiles into one, as the command line merges several inputs.
#[pyfunction]
fn merge(py: Python<'_>, profiles: Vec<PyRef<'_, PyProfile>>) -> PyResult<PyProfile> {
    let Some(first) = profiles.first() else {
        return Err(usage(py, "merge() needs at least one profile"));
    };
    let view = first.view;
    if profiles.iter().any(|p| p.view != view) {
        return Err(usage(
            py,
            "merge(): the profiles are shown in different views",
        ));
    }
    let models: Vec<Profile> = profiles.iter().map(|p| (*p.profile).clone()).collect();
    let merged = py
        .detach(|| stackconv::model::merge(&models))
        .map_err(|e| usage(py, e.to_string()))?;
    let mut input_totals = vec![0i64; merged.value_types().len()];
    let mut dropped = vec![0i64; merged.value_types().len()];
    for p in &profiles {
        for (acc, v) in input_totals.iter_mut().zip(&p.input_totals) {
            *acc = acc.saturating_add(*v);
        }
        for (acc, v) in dropped.iter_mut().zip(&p.dropped) {
            *acc = acc.saturating_add(*v);
        }
    }
    Ok(PyProfile {
        profile: Arc::new(merged),
        input_totals,
        view,
        dropped,
        warnings: profiles.iter().flat_map(|p| p.warnings.clone()).collect(),
        sources: profiles.iter().flat_map(|p| p.sources.clone()).collect(),
        off_cpu: profiles.iter().all(|p| p.off_cpu),
    })
}

// ---------------------------------------------------------------- diff

/// Two profiles aligned stack by stack.
#[pyclass(name = "Diff", module = "stackconv", frozen)]
struct PyDiff {
    diff: stackconv::model::diff::Diff,
    sources: Vec<PathBuf>,
}

/// Align `before` and `after` by stack, as `stackconv diff` does.
#[pyfunction]
#[pyo3(signature = (before, after, *, normalize=false, per_process=false, per_thread=false))]
fn diff(
    py: Python<'_>,
    before: PyRef<'_, PyProfile>,
    after: PyRef<'_, PyProfile>,
    normalize: bool,
    per_process: bool,
    per_thread: bool,
) -> PyResult<PyDiff> {
    let mut opts = stackconv::DiffOptions::default();
    opts.root = root_frame(py, per_process, per_thread)?;
    opts.normalize = normalize;
    let b = before.shown(py, false)?;
    let a = after.shown(py, false)?;
    let (b, a): (&Profile, &Profile) = (&b, &a);
    let d = py
        .detach(|| stackconv::diff(&b.fold(), &a.fold(), &opts))
        .map_err(|e| to_py(py, e))?;
    let mut sources = before.sources.clone();
    sources.extend(after.sources.iter().cloned());
    Ok(PyDiff { diff: d, sources })
}

#[pymethods]
impl PyDiff {
    /// The aligned stacks: `(folded stack, before, after)`, sorted by stack.
    #[getter]
    fn rows<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        let rows = PyList::empty(py);
        for r in &self.diff.rows {
            rows.append(PyTuple::new(
                py,
                [
                    r.folded.as_str().into_pyobject(py)?.into_any(),
                    r.before.into_pyobject(py)?.into_any(),
                    r.after.into_pyobject(py)?.into_any(),
                ],
            )?)?;
        }
        Ok(rows)
    }

    /// The before profile's total, before normalising.
    #[getter]
    fn before_total(&self) -> i64 {
        self.diff.before_total
    }

    /// The after profile's total.
    #[getter]
    fn after_total(&self) -> i64 {
        self.diff.after_total
    }

    /// Whether the before weights were scaled to the after total.
    #[getter]
    fn normalized(&self) -> bool {
        self.diff.normalized
    }

    /// The shown value type of both sides: `(kind, unit)`.
    #[getter]
    fn value_type(&self) -> (String, String) {
        (
            self.diff.value_type.kind.clone(),
            self.diff.value_type.unit.clone(),
        )
    }

    /// The two-column folded form (`stack before after` lines), as
    /// `inferno-diff-folded` writes it.
    fn folded(&self, py: Python<'_>) -> PyResult<String> {
        let d = &self.diff;
        let text = py
            .detach(|| -> Result<Vec<u8>, stackconv::Error> {
                let mut out = Vec::new();
                let opts = stackconv::DiffOptions::default();
                stackconv::write_diff(d, OutputFormat::Folded, &opts, &mut out)?;
                Ok(out)
            })
            .map_err(|e| to_py(py, e))?;
        Ok(String::from_utf8_lossy(&text).into_owned())
    }

    /// Write the diff to `path`: `.svg` differential flame graph, `.html`
    /// report, `.folded` two-column form, `.pb.gz` pprof delta (or
    /// `format`), as `stackconv diff` writes them.
    #[pyo3(signature = (path, format=None, *, title=None, force=false))]
    fn write(
        &self,
        py: Python<'_>,
        path: PathBuf,
        format: Option<&str>,
        title: Option<String>,
        force: bool,
    ) -> PyResult<()> {
        let format = PyProfile::output_format(py, &path, format)?;
        if !stackconv::DIFF_FORMATS.contains(&format) {
            return Err(usage(
                py,
                format!(
                    "diff writes {}, not {format}",
                    stackconv::DIFF_FORMATS.map(OutputFormat::name).join(", ")
                ),
            ));
        }
        // The report's default title, as the command's: the inputs' names.
        let title = title.or_else(|| {
            (format == OutputFormat::Html && !self.sources.is_empty())
                .then(|| format!("{} (differential)", stackconv::report_title(&self.sources)))
        });
        let mut opts = stackconv::DiffOptions::default();
        opts.title = title;
        let d = &self.diff;
        let sources = &self.sources;
        py.detach(|| -> Result<(), stackconv::Error> {
            stackconv::Output::prepare(&path, sources, force)?
                .write_with(|w| stackconv::write_diff(d, format, &opts, w))
        })
        .map_err(|e| to_py(py, e))
    }

    fn __len__(&self) -> usize {
        self.diff.rows.len()
    }

    fn __repr__(&self) -> String {
        format!(
            "<stackconv.Diff: {} stacks, {} {}: before {}, after {}{}>",
            self.diff.rows.len(),
            self.diff.value_type.kind,
            self.diff.value_type.unit,
            self.diff.before_total,
            self.diff.after_total,
            if self.diff.normalized {
                " (before normalized)"
            } else {
                ""
            }
        )
    }
}
