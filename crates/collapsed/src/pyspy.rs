//! py-spy `--format raw` output: folded lines whose frames are
//! `func (file.py:12)` (`func (file.py)` with `--nolineno`), with optional
//! root frames `process 123:"cmdline"` (`--subprocesses`) and
//! `thread (123)` / `thread (123): name` (`--threads`), and native frames
//! `func (libfoo.so)` or `0x7f.. (libc.so.6)` (`--native`).
//!
//! ```
//! use stackconv_collapsed::pyspy;
//!
//! let raw = b"thread (42): worker;run (app.py:10);work (app.py:20) 3\n";
//! assert!(pyspy::looks_like(raw));
//! let p = pyspy::read(raw)?;
//! assert_eq!(p.total(0), 3);
//! let t = p.threads().get(p.samples().threads()[0]);
//! assert_eq!((t.tid, p.str(t.thread_name)), (Some(42), "worker"));
//! # Ok::<(), stackconv_collapsed::Error>(())
//! ```

use std::collections::HashMap;

use stackconv_model::{Frame, FrameKind, Profile, Thread, ThreadId};

use crate::lines::{head, lines, stream_lines, Line};
use crate::stack_lines::{folded_shape, split_count_allow_empty, FoldedBuilder, SNIFF_BYTES};
use crate::Error;

const FORMAT: &str = "py-spy raw";

/// Read py-spy raw output. Frames are kept exactly as written (so folded
/// output of the profile equals the input lines), root frames included.
///
/// Frames `func (file:line)` and `func (file)` whose file is Python source
/// (`.py`, `.pyw`, `.pyx`, or `<frozen ...>`-style) are
/// [`FrameKind::Python`] with `file` and `line` set and no module; native
/// frames `func (lib.so)` are [`FrameKind::Native`] with the library as
/// module, unsymbolized `0x..` ones [`FrameKind::Unknown`]; root frames
/// `process ..` and `thread ..` are [`FrameKind::Unknown`]. Each sample's
/// thread comes from its root frames: pid and command line from
/// `process PID:"cmd"`, tid and name from `thread (TID): name` (a hex
/// Python thread id that does not fit 32 bits leaves the tid unknown).
/// A line with an empty stack (` 1`: py-spy writes one for a sample of a
/// thread without frames) is a sample whose one frame has an empty name,
/// so that it is kept and written back as it was.
/// One value column `samples`/`count`; `meta.comm_root = false`,
/// `meta.source_format = "py-spy raw"`.
///
/// # Errors
///
/// As [`crate::folded::read`]: a malformed line or binary input, naming the
/// line.
pub fn read(input: &[u8]) -> Result<Profile, Error> {
    read_lines(lines(input, FORMAT), FoldedBuilder::new(FORMAT, 1))
}

/// [`read`] from a reader, a line at a time; with `fold`, equal stacks of
/// one thread are counted as they are read (see
/// [`crate::folded::read_from`]).
///
/// ```
/// use stackconv_collapsed::pyspy;
/// let text = "process 1:\"app\";thread (7);main (app.py:3) 2\n\
///             process 1:\"app\";thread (7);main (app.py:3) 1\n";
/// let p = pyspy::read_from(text.as_bytes(), true)?;
/// assert_eq!((p.samples().len(), p.total(0)), (1, 3));
/// # Ok::<(), stackconv_collapsed::Error>(())
/// ```
///
/// # Errors
///
/// As [`read`], and [`Error::Io`] or [`Error::LineTooLong`].
pub fn read_from(input: impl std::io::BufRead, fold: bool) -> Result<Profile, Error> {
    read_lines(
        stream_lines(input, FORMAT),
        FoldedBuilder::new(FORMAT, 1).folding(fold),
    )
}

fn read_lines<'a>(
    lines: impl Iterator<Item = Result<Line<'a>, Error>>,
    mut b: FoldedBuilder,
) -> Result<Profile, Error> {
    let mut threads: HashMap<Thread, ThreadId> = HashMap::new();
    for line in lines {
        let line = line?;
        if line.text.trim().is_empty() {
            continue;
        }
        let (stack, count) = split_count_allow_empty(&line.text, FORMAT, line.number)?;
        let thread = thread_of(stack);
        let s = b.intern_stack(stack, |p, name| {
            let frame = parse_frame(p, name);
            p.intern_frame(frame)
        });
        let key = Thread {
            pid: thread.pid,
            tid: thread.tid,
            process_name: b.profile.intern_str(thread.process_name),
            thread_name: b.profile.intern_str(thread.thread_name),
        };
        let id = match threads.get(&key) {
            Some(&id) => id,
            None => {
                let id = b.profile.intern_thread(key);
                threads.insert(key, id);
                id
            }
        };
        b.push_with_thread(s, id, &[count], line.number)?;
    }
    Ok(b.finish())
}

/// Whether `input` looks like py-spy raw output: folded lines (in its first
/// kilobytes) with at least one py-spy frame, `func (file.py:12)`,
/// `func (file.py)`, `process N:"cmd"` or `thread (N)`.
///
/// ```
/// use stackconv_collapsed::pyspy;
/// assert!(pyspy::looks_like(b"<module> (app.py:3);main (app.py:9) 1\n"));
/// assert!(!pyspy::looks_like(b"main;work 1\n"));
/// ```
pub fn looks_like(input: &[u8]) -> bool {
    if !folded_shape(input, true) {
        return false;
    }
    let window = head(input, SNIFF_BYTES);
    for line in lines(window, FORMAT) {
        let Ok(line) = line else { return false };
        let Ok((stack, _)) = split_count_allow_empty(&line.text, FORMAT, line.number) else {
            continue;
        };
        if stack
            .split(';')
            .any(|f| is_python_frame(f) || parse_process(f).is_some() || parse_thread(f).is_some())
        {
            return true;
        }
    }
    false
}

/// Whether a frame has py-spy's Python frame shape `func (file.py:12)`.
pub(crate) fn is_python_frame(name: &str) -> bool {
    matches!(split_location(name), Some((_, file, _)) if is_python_file(file))
}

/// `func (inside)` -> (func, file, line) where inside is `file:line` or
/// `file`: [`stackconv_model::naming::python_frame`] on py-spy's spelling
/// (perf's `py::` spelling is not py-spy's).
fn split_location(name: &str) -> Option<(&str, &str, u32)> {
    if stackconv_model::naming::is_python_perf_symbol(name) {
        return None;
    }
    let py = stackconv_model::naming::python_frame(name)?;
    if py.file.is_empty() {
        return None;
    }
    let line = py.line.and_then(|l| l.parse().ok()).unwrap_or(0);
    Some((py.func, py.file, line))
}

fn is_python_file(file: &str) -> bool {
    stackconv_model::naming::is_python_source(file)
}

/// `process 123:"cmdline"` -> (pid, cmdline).
fn parse_process(name: &str) -> Option<(u32, &str)> {
    let rest = name.strip_prefix("process ")?;
    let (pid, cmd) = rest.split_once(':')?;
    let pid = pid.parse().ok()?;
    let cmd = cmd.strip_prefix('"')?.strip_suffix('"')?;
    Some((pid, cmd))
}

/// `thread (123)`, `thread (123): name` or `thread (0x7F..)` -> (tid, name).
fn parse_thread(name: &str) -> Option<(Option<u32>, &str)> {
    let rest = name.strip_prefix("thread (")?;
    let (id, after) = rest.split_once(')')?;
    let thread_name = match after {
        "" => "",
        a => a.strip_prefix(": ")?,
    };
    let tid = if let Some(hex) = id.strip_prefix("0x").or_else(|| id.strip_prefix("0X")) {
        if hex.is_empty() || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        u32::from_str_radix(hex, 16).ok()
    } else {
        if id.is_empty() || !id.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        id.parse().ok()
    };
    Some((tid, thread_name))
}

/// What a line's root frames say about its thread.
#[derive(Default)]
struct ThreadInfo<'a> {
    pid: Option<u32>,
    tid: Option<u32>,
    process_name: &'a str,
    thread_name: &'a str,
}

fn thread_of(stack: &str) -> ThreadInfo<'_> {
    let mut info = ThreadInfo::default();
    let mut frames = stack.split(';').peekable();
    if let Some((pid, cmd)) = frames.peek().and_then(|f| parse_process(f)) {
        info.pid = Some(pid);
        info.process_name = cmd;
        frames.next();
    }
    if let Some((tid, name)) = frames.peek().and_then(|f| parse_thread(f)) {
        info.tid = tid;
        info.thread_name = name;
    }
    info
}

fn parse_frame(p: &mut Profile, name: &str) -> Frame {
    let mut frame = Frame {
        name: p.intern_str(name),
        ..Frame::default()
    };
    if parse_process(name).is_some() || parse_thread(name).is_some() {
        frame.kind = FrameKind::Unknown;
        return frame;
    }
    match split_location(name) {
        Some((_, file, line)) if is_python_file(file) => {
            frame.kind = FrameKind::Python;
            frame.file = p.intern_str(file);
            frame.line = line;
        }
        Some((func, module, _)) => {
            frame.kind = if func.starts_with("0x") {
                FrameKind::Unknown
            } else {
                FrameKind::Native
            };
            frame.module = p.intern_str(module);
        }
        None => frame.kind = FrameKind::Unknown,
    }
    frame
}
