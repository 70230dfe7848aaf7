//! `stackconv record`: run `perf record` with the flags the target needs,
//! keep the perf maps beside the recording, and convert in one step.
//!
//! The decisions (which flags for which target, which error for which
//! failure) are pure functions of what was found out about the target, so
//! that they are tested without perf; [`record`] only gathers the facts,
//! runs perf and converts.
//!
//! - CPython 3.12+ is detected from the command (an executable named
//!   `python`, `python3`, `python3.12`, ..., asked for its version and
//!   `CFLAGS`) or, with `-p PID`, from `/proc/PID/exe` and a `libpython`
//!   in `/proc/PID/maps`. Its perf support is turned on with
//!   `PYTHONPERFSUPPORT=1` in the workload's environment (the same as
//!   `-X perf`, and it reaches child Python processes and pyenv shims
//!   too): Python writes `/tmp/perf-PID.map`. 3.13's `-X perf_jit`
//!   (jitdump) is not used: the perf map and DWARF unwinding through the
//!   trampolines give the same stacks for 3.12 and 3.13.
//! - Call graphs: `--call-graph dwarf,16384` for a Python built without
//!   frame pointers (pyenv and most distribution builds: their `CFLAGS`
//!   lack `-fno-omit-frame-pointer`), frame pointers (`-g`) otherwise;
//!   `--call-graph` overrides.
//! - `--off-cpu`: `-e cpu-clock/freq=HZ/ -e sched:sched_switch -c 1
//!   --switch-events`, every switch recorded (the cpu-clock event keeps its
//!   own frequency, as perf refuses `-F` and `-c` together).

use std::ffi::{OsStr, OsString};
use std::io::{BufRead, BufReader};
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use clap::Args;

use crate::common::{maps_dir_of, output_format, output_format_parser, usage, Failure};
use crate::convert::ConvertArgs;
use crate::options::{InputArgs, ProcessArgs};

/// `stackconv record [OPTIONS] -- CMD...` or `stackconv record -p PID`.
#[derive(Args, Debug)]
pub struct RecordArgs {
    /// The command to record (after `--`).
    #[arg(last = true, value_name = "CMD")]
    pub command: Vec<OsString>,
    /// Record a running process instead of a command.
    #[arg(short = 'p', long = "attach", value_name = "PID")]
    pub attach: Option<u32>,
    /// Stop after this many seconds (with -p; a command runs to its end or
    /// Ctrl-C).
    #[arg(long, value_name = "SECONDS")]
    pub duration: Option<f64>,
    /// Output: any format stackconv writes (from the extension or --to), or
    /// a `.data` file (`out.perf.data`) to keep the raw recording, with the
    /// perf maps in `out.perf.data.maps/`.
    #[arg(short, long, value_name = "OUT")]
    pub output: PathBuf,
    /// Output format (default: from the output's extension; `.data` keeps
    /// the raw recording).
    #[arg(long, value_name = "FORMAT", value_parser = output_format_parser())]
    pub to: Option<stackconv::OutputFormat>,
    /// Keep the raw recording and the perf maps beside the output
    /// (`flame.svg` -> `flame.perf.data`, `flame.perf.data.maps/`).
    #[arg(long)]
    pub keep: bool,
    /// Record off-CPU time too (sched:sched_switch, every switch) and show
    /// it.
    #[arg(long)]
    pub off_cpu: bool,
    /// perf's call graph mode: `fp`, `dwarf[,SIZE]` or `lbr` (default:
    /// dwarf,16384 for a Python without frame pointers, else fp).
    #[arg(long, value_name = "MODE")]
    pub call_graph: Option<String>,
    /// Sampling frequency of on-CPU samples, in Hz.
    #[arg(short = 'F', long, value_name = "HZ", default_value_t = DEFAULT_FREQ_HZ)]
    pub freq: u32,
    /// The perf command.
    #[arg(long, value_name = "PATH", default_value = "perf")]
    pub perf: PathBuf,
    #[command(flatten)]
    pub process: ProcessArgs,
    /// Put `comm-pid/tid` as the root frame.
    #[arg(long)]
    pub per_thread: bool,
    /// SVG title.
    #[arg(long)]
    pub title: Option<String>,
    /// Do not relay perf's messages or report dropped data.
    #[arg(short, long)]
    pub quiet: bool,
}

/// The default on-CPU sampling frequency: odd, so that it does not beat
/// with timers.
pub const DEFAULT_FREQ_HZ: u32 = 999;

/// The first CPython with perf support (`-X perf`, `PYTHONPERFSUPPORT`).
pub const FIRST_PERF_PYTHON: (u32, u32) = (3, 12);

/// The DWARF stack copy size for Python: perf's default (8192) cuts deep
/// Python stacks short.
pub const PYTHON_DWARF_STACK_BYTES: u32 = 16384;

/// What was found out about a Python target.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PythonTarget {
    /// `(major, minor)`.
    pub version: (u32, u32),
    /// Whether it was built with frame pointers (`-fno-omit-frame-pointer`
    /// in its `CFLAGS`); `false` when not known.
    pub frame_pointers: bool,
}

/// The Python program that prints what [`parse_python_probe`] reads.
pub const PYTHON_PROBE: &str = "import sys, sysconfig; print(sys.version_info[0], sys.version_info[1]); print(sysconfig.get_config_var('CFLAGS') or '')";

/// Read the output of [`PYTHON_PROBE`]: `3 12` then the `CFLAGS`.
///
/// Frame pointers count as present when `CFLAGS` has
/// `-fno-omit-frame-pointer` (and no later `-fomit-frame-pointer`).
pub fn parse_python_probe(out: &str) -> Option<PythonTarget> {
    let mut lines = out.lines();
    let mut v = lines.next()?.split_whitespace();
    let major = v.next()?.parse().ok()?;
    let minor = v.next()?.parse().ok()?;
    let cflags = lines.next().unwrap_or("");
    Some(PythonTarget {
        version: (major, minor),
        frame_pointers: has_frame_pointers(cflags),
    })
}

/// Whether compiler flags keep frame pointers: the last of
/// `-fno-omit-frame-pointer` / `-fomit-frame-pointer` wins, as in gcc.
pub fn has_frame_pointers(cflags: &str) -> bool {
    cflags
        .split_whitespace()
        .rev()
        .find_map(|f| match f {
            "-fno-omit-frame-pointer" => Some(true),
            "-fomit-frame-pointer" => Some(false),
            _ => None,
        })
        .unwrap_or(false)
}

/// Whether an executable's base name is a Python interpreter's:
/// `python`, `python3`, `python3.12`, `python3.13d`.
pub fn is_python_executable(path: &Path) -> bool {
    let Some(base) = path.file_name().and_then(OsStr::to_str) else {
        return false;
    };
    let Some(rest) = base.strip_prefix("python") else {
        return false;
    };
    let rest = rest.strip_suffix('d').unwrap_or(rest);
    rest.bytes().all(|b| b.is_ascii_digit() || b == b'.')
}

/// The Python interpreter a `#!` line runs, when it runs one:
/// `#!/usr/bin/python3.12 -u` gives `/usr/bin/python3.12`,
/// `#!/usr/bin/env python3` gives `python3`.
pub fn shebang_python(line: &str) -> Option<String> {
    let rest = line.strip_prefix("#!")?.trim();
    let mut words = rest.split_whitespace();
    let mut program = words.next()?;
    if Path::new(program).file_name().is_some_and(|n| n == "env") {
        program = words.find(|w| !w.starts_with('-'))?;
    }
    is_python_executable(Path::new(program)).then(|| program.to_string())
}

/// The first line of a file, if it starts with `#!` (at most 256 bytes).
fn read_first_line(path: &Path) -> Option<String> {
    use std::io::Read;
    let mut buf = [0u8; 256];
    let n = std::fs::File::open(path).ok()?.read(&mut buf).ok()?;
    let head = buf.get(..n)?;
    if !head.starts_with(b"#!") {
        return None;
    }
    let line = head.split(|&b| b == b'\n').next()?;
    Some(String::from_utf8_lossy(line).into_owned())
}

/// The Python version of a process from its `/proc/PID/maps` text: the
/// `libpython3.X` it maps.
pub fn python_version_from_maps(maps: &str) -> Option<(u32, u32)> {
    maps.lines().find_map(|l| {
        let path = l.split_whitespace().nth(5)?;
        let base = path.rsplit('/').next()?;
        let v = base.strip_prefix("libpython")?;
        let v: String = v
            .chars()
            .take_while(|c| c.is_ascii_digit() || *c == '.')
            .collect();
        let mut parts = v.trim_end_matches('.').split('.');
        Some((parts.next()?.parse().ok()?, parts.next()?.parse().ok()?))
    })
}

/// Refuse a Python without perf support, naming what to use instead.
///
/// # Errors
///
/// A one-line message for a Python older than 3.12.
pub fn check_python(t: &PythonTarget) -> Result<(), String> {
    if t.version < FIRST_PERF_PYTHON {
        return Err(format!(
            "Python {}.{} cannot name its functions for perf (that needs 3.12 or newer, `-X perf`); record it with py-spy instead: `py-spy record --format raw -o raw.txt -- CMD`, then `stackconv raw.txt -o flame.svg`",
            t.version.0, t.version.1
        ));
    }
    Ok(())
}

/// perf's call graph options: the user's `--call-graph`, else DWARF for a
/// Python without frame pointers, else frame pointers.
pub fn call_graph_args(python: Option<&PythonTarget>, user: Option<&str>) -> Vec<String> {
    match user {
        Some(mode) => vec!["--call-graph".to_string(), mode.to_string()],
        None if python.is_some_and(|p| !p.frame_pointers) => vec![
            "--call-graph".to_string(),
            format!("dwarf,{PYTHON_DWARF_STACK_BYTES}"),
        ],
        None => vec!["-g".to_string()],
    }
}

/// perf's ring buffer size: DWARF call graphs copy the stack into every
/// sample (16 KB for Python), which overflows perf's default buffer (512 KB
/// per CPU) and loses samples; root may lock 16 MB per CPU (others are held
/// to `perf_event_mlock_kb`, perf's default then).
pub fn buffer_args(call_graph: &[String], root: bool) -> Vec<String> {
    if root && call_graph.iter().any(|a| a.starts_with("dwarf")) {
        vec!["-m".to_string(), "16M".to_string()]
    } else {
        Vec::new()
    }
}

/// perf's event options: cpu-clock at `freq_hz`, plus every
/// `sched:sched_switch` and the switch records for off-CPU time.
pub fn event_args(freq_hz: u32, off_cpu: bool) -> Vec<String> {
    if off_cpu {
        // -F and -c are perf's global options and conflict; the cpu-clock
        // event takes its frequency as a term instead.
        vec![
            "-e".to_string(),
            format!("cpu-clock/freq={freq_hz}/"),
            "-e".to_string(),
            "sched:sched_switch".to_string(),
            "-c".to_string(),
            "1".to_string(),
            "--switch-events".to_string(),
        ]
    } else {
        vec![
            "-e".to_string(),
            "cpu-clock".to_string(),
            "-F".to_string(),
            freq_hz.to_string(),
        ]
    }
}

/// Why `perf_event_paranoid` = `level` stops this recording, if it does:
/// unprivileged users need a level of 2 or less to profile their own
/// processes (`kernel/events/core.c`: above 2 nothing is allowed) and -1
/// to read tracepoints' raw data (`--off-cpu`). Root is not limited.
pub fn paranoid_problem(level: i32, root: bool, off_cpu: bool) -> Option<String> {
    if root {
        return None;
    }
    if level > 2 {
        return Some(format!(
            "perf_event_paranoid is {level}: perf may not record as a normal user; allow it with `sudo sysctl kernel.perf_event_paranoid=2`{}, or run as root",
            if off_cpu { " (=-1 for --off-cpu)" } else { "" }
        ));
    }
    if off_cpu && level > -1 {
        return Some(format!(
            "perf_event_paranoid is {level}: --off-cpu reads the sched:sched_switch tracepoint, which needs `sudo sysctl kernel.perf_event_paranoid=-1` or root"
        ));
    }
    None
}

/// A one-line explanation of a perf failure from its standard error, for
/// the failures a user meets; `None` for others (then perf's own words are
/// shown).
pub fn explain_perf_failure(stderr: &str, attach: Option<u32>) -> Option<String> {
    if stderr.contains("perf_event_paranoid") {
        return Some(
            "perf may not record here (perf_event_paranoid): allow it with `sudo sysctl kernel.perf_event_paranoid=-1`, or run as root".to_string(),
        );
    }
    if let Some(pid) = attach {
        if stderr.contains("No such process") || stderr.contains("Problems finding threads") {
            return Some(format!("-p {pid}: no such process"));
        }
        if stderr.contains("Permission denied") || stderr.contains("Operation not permitted") {
            return Some(format!(
                "-p {pid}: no permission to attach: record as the process's user (with perf_event_paranoid <= 1) or as root"
            ));
        }
    }
    if stderr.contains("sched:sched_switch") && stderr.contains("unknown tracepoint") {
        return Some(
            "this kernel has no sched:sched_switch tracepoint for perf (is tracefs mounted? `mount -t tracefs nodev /sys/kernel/tracing`); record without --off-cpu".to_string(),
        );
    }
    None
}

/// How perf's exit status reads for the workload it ran: perf record
/// exits with its workload's status, 128 + N when a signal N ended it; when
/// perf itself was stopped by a signal (`signal`: SIGINT, which perf
/// re-raises once it has written the recording) it ended the workload.
pub fn workload_status(code: Option<i32>, signal: Option<i32>) -> String {
    match (code, signal) {
        (Some(0), _) => "exited with status 0".to_string(),
        (Some(c), _) if c > 128 && c < 160 => format!("was ended by signal {}", c - 128),
        (Some(c), _) => format!("exited with status {c}"),
        (None, Some(s)) => format!("was ended by perf, which stopped on signal {s}"),
        (None, None) => "ended by a signal".to_string(),
    }
}

/// Whether an output path asks for the raw recording (`out.perf.data`,
/// `perf.data`).
pub fn is_raw_output(path: &Path) -> bool {
    path.extension().is_some_and(|e| e == "data")
}

/// Where `--keep` puts the raw recording beside `output`:
/// `flame.svg` -> `flame.perf.data`.
pub fn kept_recording_path(output: &Path) -> PathBuf {
    let stem = output
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let stem = stem.split('.').next().unwrap_or("");
    let stem = if stem.is_empty() { "stackconv" } else { stem };
    output.with_file_name(format!("{stem}.perf.data"))
}

/// Find `program` as the shell would: a path with a `/` as it is, else in
/// `$PATH`.
fn find_program(program: &OsStr) -> Option<PathBuf> {
    let p = Path::new(program);
    if p.components().count() > 1 || program.to_string_lossy().contains('/') {
        return p.is_file().then(|| p.to_path_buf());
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(program))
        .find(|c| is_executable(c))
}

fn is_executable(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// Ask a Python executable for its version and CFLAGS.
fn probe_python(exe: &Path) -> Option<PythonTarget> {
    let out = Command::new(exe)
        .args(["-c", PYTHON_PROBE])
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .ok()?;
    if !out.status.success() {
        return None;
    }
    parse_python_probe(&String::from_utf8_lossy(&out.stdout))
}

/// What is being recorded.
enum Target {
    Command { argv: Vec<OsString> },
    Pid(u32),
}

/// Find out whether the target is Python, and which.
fn python_of(target: &Target) -> Result<Option<PythonTarget>, Failure> {
    match target {
        Target::Command { argv } => {
            let Some(program) = argv.first() else {
                return Err(usage(
                    "record: no command given: `stackconv record -o OUT -- CMD...` or `-p PID`",
                ));
            };
            let Some(exe) = find_program(program) else {
                return Err(run_error(format!(
                    "record: command not found: {}",
                    program.to_string_lossy()
                )));
            };
            if is_python_executable(&exe) {
                return Ok(probe_python(&exe));
            }
            // A script or a console entry point (`gunicorn`, `./app.py`)
            // run by Python through its `#!` line.
            let first = read_first_line(&exe);
            match first.as_deref().and_then(shebang_python) {
                Some(interpreter) => {
                    let path = find_program(OsStr::new(&interpreter));
                    Ok(path.and_then(|p| probe_python(&p)))
                }
                None => Ok(None),
            }
        }
        Target::Pid(pid) => {
            let proc = PathBuf::from(format!("/proc/{pid}"));
            let exe = std::fs::read_link(proc.join("exe"));
            if !proc.exists() {
                return Err(run_error(format!("-p {pid}: no such process")));
            }
            let maps = std::fs::read_to_string(proc.join("maps")).unwrap_or_default();
            let lib_version = python_version_from_maps(&maps);
            let exe = match exe {
                Ok(e) => e,
                Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => {
                    return Err(run_error(format!(
                        "-p {pid}: no permission to attach (cannot read /proc/{pid}/exe): record as the process's user or as root"
                    )))
                }
                Err(_) => PathBuf::new(),
            };
            if is_python_executable(&exe) {
                if let Some(t) = probe_python(&exe) {
                    return Ok(Some(t));
                }
            }
            Ok(lib_version.map(|version| PythonTarget {
                version,
                frame_pointers: false,
            }))
        }
    }
}

fn run_error(msg: String) -> Failure {
    Failure::Run(stackconv::Error::Io(std::io::Error::other(msg)))
}

/// Removes a temporary directory when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> std::io::Result<Self> {
        let base = std::env::temp_dir();
        for n in 0..1000u32 {
            let dir = base.join(format!("stackconv-record-{}-{n}", std::process::id()));
            match std::fs::create_dir(&dir) {
                Ok(()) => return Ok(TempDir(dir)),
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(e),
            }
        }
        Err(std::io::Error::other("no free temporary directory name"))
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Copy the perf maps and jitdumps written since `since` (and those of
/// `pid`) from /tmp into `dir`; how many were copied.
fn copy_perf_maps(dir: &Path, since: SystemTime, pid: Option<u32>) -> std::io::Result<usize> {
    std::fs::create_dir_all(dir)?;
    let mut copied = 0;
    let Ok(entries) = std::fs::read_dir("/tmp") else {
        return Ok(0);
    };
    for e in entries.flatten() {
        let name = e.file_name();
        let name = name.to_string_lossy();
        let file_pid = name
            .strip_prefix("perf-")
            .and_then(|r| r.strip_suffix(".map"))
            .or_else(|| {
                name.strip_prefix("jit-")
                    .and_then(|r| r.strip_suffix(".dump"))
            })
            .and_then(|p| p.parse::<u32>().ok());
        let Some(file_pid) = file_pid else {
            continue;
        };
        let recent = e
            .metadata()
            .and_then(|m| m.modified())
            .is_ok_and(|t| t >= since);
        if recent || Some(file_pid) == pid {
            std::fs::copy(e.path(), dir.join(&*name))?;
            copied += 1;
        }
    }
    Ok(copied)
}

/// `stackconv record`.
pub fn record(a: RecordArgs) -> Result<(), Failure> {
    let target = match (a.attach, a.command.is_empty()) {
        (Some(_), false) => {
            return Err(usage(
                "record: give either -p PID or a command after --, not both",
            ))
        }
        (Some(pid), true) => Target::Pid(pid),
        (None, false) => Target::Command {
            argv: a.command.clone(),
        },
        (None, true) => {
            return Err(usage(
                "record: no command given: `stackconv record -o OUT -- CMD...` or `-p PID`",
            ))
        }
    };
    if a.duration.is_some_and(|d| !(d > 0.0 && d.is_finite())) {
        return Err(usage("--duration: expected a positive number of seconds"));
    }
    let raw = is_raw_output(&a.output) && a.to.is_none();
    if !raw {
        // The output format, the output file and the process options,
        // checked before perf runs.
        output_format(a.to, &a.output)?;
        drop(stackconv::Output::prepare(&a.output, &[], false)?);
        a.process.options()?;
    }
    // perf installed?
    match Command::new(&a.perf)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
    {
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(run_error(format!(
                "record: `{}` not found: install perf (Debian: apt-get install linux-perf; Ubuntu: linux-tools-$(uname -r); Fedora: perf)",
                a.perf.display()
            )))
        }
        Err(e) => {
            return Err(run_error(format!(
                "record: cannot run `{}`: {e}",
                a.perf.display()
            )))
        }
    }
    let root = rustix::process::geteuid().is_root();
    if let Some(level) = std::fs::read_to_string("/proc/sys/kernel/perf_event_paranoid")
        .ok()
        .and_then(|s| s.trim().parse::<i32>().ok())
    {
        if let Some(msg) = paranoid_problem(level, root, a.off_cpu) {
            return Err(run_error(format!("record: {msg}")));
        }
    }
    let python = python_of(&target)?;
    if let Some(py) = &python {
        check_python(py).map_err(|m| run_error(format!("record: {m}")))?;
    }

    // Where the recording and its maps go.
    let temp;
    let recording = if raw {
        a.output.clone()
    } else if a.keep {
        kept_recording_path(&a.output)
    } else {
        temp =
            TempDir::new().map_err(|e| run_error(format!("record: temporary directory: {e}")))?;
        temp.0.join("perf.data")
    };
    let maps_dir = maps_dir_of(&recording);

    let mut perf = Command::new(&a.perf);
    perf.arg("record").arg("-o").arg(&recording);
    if a.quiet {
        perf.arg("-q");
    }
    perf.args(event_args(a.freq, a.off_cpu));
    let call_graph = call_graph_args(python.as_ref(), a.call_graph.as_deref());
    perf.args(buffer_args(&call_graph, root));
    perf.args(&call_graph);
    match &target {
        Target::Pid(pid) => {
            perf.arg("-p").arg(pid.to_string());
            if let Some(d) = a.duration {
                perf.arg("--").arg("sleep").arg(d.to_string());
            }
            if python.is_some() && !Path::new(&format!("/tmp/perf-{pid}.map")).exists() && !a.quiet
            {
                say!(
                    "stackconv: warning: process {pid} writes no perf map (/tmp/perf-{pid}.map): its Python functions will not be named; start it with PYTHONPERFSUPPORT=1 or `python -X perf`"
                );
            }
        }
        Target::Command { argv } => {
            perf.arg("--").args(argv);
            if python.is_some() {
                perf.env("PYTHONPERFSUPPORT", "1");
            }
        }
    }
    if !a.quiet {
        match &python {
            Some(py) => say!(
                "stackconv: recording Python {}.{} with perf support (PYTHONPERFSUPPORT=1), {} call graphs{}",
                py.version.0,
                py.version.1,
                if a.call_graph.is_some() {
                    "the asked"
                } else if py.frame_pointers {
                    "frame-pointer"
                } else {
                    "DWARF (no frame pointers)"
                },
                if a.off_cpu { ", on- and off-CPU" } else { "" }
            ),
            None => say!(
                "stackconv: recording with perf{}",
                if a.off_cpu { ", on- and off-CPU" } else { "" }
            ),
        }
    }
    let started = SystemTime::now()
        .checked_sub(Duration::from_secs(1))
        .unwrap_or(SystemTime::UNIX_EPOCH);

    // SIGINT/SIGTERM while perf runs go to perf, which stops recording and
    // ends its workload; afterwards they end stackconv as usual.
    let perf_pid = Arc::new(AtomicI32::new(0));
    let interrupted = Arc::new(AtomicBool::new(false));
    forward_signals(Arc::clone(&perf_pid), Arc::clone(&interrupted))
        .map_err(|e| run_error(format!("record: signal handlers: {e}")))?;

    perf.stdin(Stdio::inherit()).stderr(Stdio::piped());
    let mut child = perf
        .spawn()
        .map_err(|e| run_error(format!("record: cannot run `{}`: {e}", a.perf.display())))?;
    if let Ok(pid) = i32::try_from(child.id()) {
        perf_pid.store(pid, Ordering::SeqCst);
    }
    let quiet = a.quiet;
    let relay = child.stderr.take().map(|err| {
        std::thread::spawn(move || {
            let mut text = String::new();
            for line in BufReader::new(err).lines().map_while(Result::ok) {
                if !quiet {
                    say!("{line}");
                }
                text.push_str(&line);
                text.push('\n');
            }
            text
        })
    });
    let status = child.wait();
    perf_pid.store(0, Ordering::SeqCst);
    let perf_stderr = relay.and_then(|t| t.join().ok()).unwrap_or_default();
    let status = status.map_err(|e| run_error(format!("record: waiting for perf: {e}")))?;

    // Keep the maps before anything else can remove them.
    let pid = match target {
        Target::Pid(p) => Some(p),
        Target::Command { .. } => None,
    };
    let copied = copy_perf_maps(&maps_dir, started, pid).map_err(|e| {
        run_error(format!(
            "record: copying perf maps to {}: {e}",
            maps_dir.display()
        ))
    })?;

    let recorded = std::fs::metadata(&recording).is_ok_and(|m| m.len() > 0);
    if !recorded {
        let msg = explain_perf_failure(&perf_stderr, a.attach).unwrap_or_else(|| {
            let last = perf_stderr
                .lines()
                .rev()
                .find(|l| !l.trim().is_empty())
                .unwrap_or("no output");
            format!(
                "perf record failed ({}): {last}",
                workload_status(status.code(), status.signal())
            )
        });
        return Err(run_error(format!("record: {msg}")));
    }
    if !a.quiet {
        let who = match pid {
            Some(p) => format!("process {p}"),
            None => "the workload".to_string(),
        };
        let how = if interrupted.load(Ordering::SeqCst) {
            format!(
                "{} (stopped by a signal to stackconv)",
                workload_status(status.code(), status.signal())
            )
        } else {
            workload_status(status.code(), status.signal())
        };
        if pid.is_none() || interrupted.load(Ordering::SeqCst) {
            say!("stackconv: {who} {how}");
        }
        if python.is_some() && (raw || a.keep) {
            say!(
                "stackconv: {copied} perf map(s) kept in {}",
                maps_dir.display()
            );
        }
    }
    if raw {
        if !a.quiet {
            say!(
                "stackconv: wrote {}; convert it with `stackconv {} -o flame.svg`",
                recording.display(),
                recording.display()
            );
        }
        return Ok(());
    }
    let input = InputArgs {
        perf_map_dir: Some(maps_dir),
        off_cpu: a.off_cpu,
        ..InputArgs::default()
    };
    let convert = ConvertArgs {
        inputs: vec![recording],
        output: Some(a.output.clone()),
        to: a.to,
        input,
        per_thread: a.per_thread,
        process: a.process.clone(),
        title: a.title.clone(),
        min_width: stackconv::flamegraph::DEFAULT_MIN_WIDTH_PERCENT,
        quiet: a.quiet,
        ..ConvertArgs::default()
    };
    crate::convert::convert(convert)
}

/// Start the thread that passes SIGINT and SIGTERM to perf while it runs
/// (`perf_pid` non-zero), and ends stackconv as the signal would once it
/// has exited (removing temporary output files).
fn forward_signals(perf_pid: Arc<AtomicI32>, interrupted: Arc<AtomicBool>) -> std::io::Result<()> {
    use signal_hook::consts::{SIGINT, SIGTERM};
    let mut signals = signal_hook::iterator::Signals::new([SIGINT, SIGTERM])?;
    std::thread::Builder::new()
        .name("stackconv-record-signals".to_string())
        .spawn(move || {
            for sig in signals.forever() {
                let pid = perf_pid.load(Ordering::SeqCst);
                if pid > 0 {
                    interrupted.store(true, Ordering::SeqCst);
                    let signal = if sig == SIGTERM {
                        rustix::process::Signal::TERM
                    } else {
                        rustix::process::Signal::INT
                    };
                    if let Some(p) = rustix::process::Pid::from_raw(pid) {
                        // perf may have exited meanwhile: nothing to do then.
                        let _ = rustix::process::kill_process(p, signal);
                    }
                    continue;
                }
                stackconv::remove_temporary_files();
                let _ = signal_hook::low_level::emulate_default_handler(sig);
                std::process::exit(128 + sig);
            }
        })?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn py(minor: u32, fp: bool) -> PythonTarget {
        PythonTarget {
            version: (3, minor),
            frame_pointers: fp,
        }
    }

    #[test]
    fn python_probe_and_frame_pointers() {
        let t =
            parse_python_probe("3 12\n-fno-strict-overflow -Wsign-compare -DNDEBUG -g -O3 -Wall\n");
        assert_eq!(t, Some(py(12, false)));
        let t =
            parse_python_probe("3 13\n-O2 -fno-omit-frame-pointer -mno-omit-leaf-frame-pointer\n");
        assert_eq!(t, Some(py(13, true)));
        assert!(!has_frame_pointers(
            "-fno-omit-frame-pointer -fomit-frame-pointer"
        ));
        assert_eq!(parse_python_probe("Python 2.7\n"), None);
        assert_eq!(parse_python_probe(""), None);
    }

    #[test]
    fn which_call_graph_for_which_target() {
        assert_eq!(
            call_graph_args(Some(&py(12, false)), None),
            ["--call-graph", "dwarf,16384"]
        );
        assert_eq!(call_graph_args(Some(&py(12, true)), None), ["-g"]);
        assert_eq!(call_graph_args(None, None), ["-g"]);
        assert_eq!(
            call_graph_args(Some(&py(12, false)), Some("fp")),
            ["--call-graph", "fp"]
        );
    }

    #[test]
    fn bigger_buffers_for_dwarf_as_root() {
        let dwarf = call_graph_args(Some(&py(12, false)), None);
        assert_eq!(buffer_args(&dwarf, true), ["-m", "16M"]);
        assert!(buffer_args(&dwarf, false).is_empty());
        assert!(buffer_args(&call_graph_args(None, None), true).is_empty());
    }

    #[test]
    fn events_on_and_off_cpu() {
        assert_eq!(event_args(999, false), ["-e", "cpu-clock", "-F", "999"]);
        assert_eq!(
            event_args(499, true),
            [
                "-e",
                "cpu-clock/freq=499/",
                "-e",
                "sched:sched_switch",
                "-c",
                "1",
                "--switch-events"
            ]
        );
    }

    #[test]
    fn old_pythons_are_sent_to_py_spy() {
        assert!(check_python(&py(12, false)).is_ok());
        assert!(check_python(&py(13, false)).is_ok());
        let e = check_python(&py(11, false)).unwrap_err();
        assert!(e.contains("Python 3.11") && e.contains("py-spy"), "{e}");
    }

    #[test]
    fn python_executables_and_libraries() {
        for yes in [
            "/usr/bin/python3",
            "python",
            "/x/bin/python3.12",
            "python3.13d",
        ] {
            assert!(is_python_executable(Path::new(yes)), "{yes}");
        }
        for no in ["/usr/bin/perf", "pythonista", "/x/libpython3.12.so", ""] {
            assert!(!is_python_executable(Path::new(no)), "{no}");
        }
        let maps = "7f00-7f10 r-xp 00000000 08:01 12 /root/.pyenv/versions/3.12.1/lib/libpython3.12.so.1.0\n";
        assert_eq!(python_version_from_maps(maps), Some((3, 12)));
        assert_eq!(
            python_version_from_maps("7f00-7f10 r-xp 0 0 0 /lib/libc.so.6\n"),
            None
        );
    }

    #[test]
    fn scripts_run_by_python() {
        assert_eq!(
            shebang_python("#!/usr/bin/python3.12 -u").as_deref(),
            Some("/usr/bin/python3.12")
        );
        assert_eq!(
            shebang_python("#!/usr/bin/env python3").as_deref(),
            Some("python3")
        );
        assert_eq!(
            shebang_python("#!/usr/bin/env -S python3 -X dev").as_deref(),
            Some("python3")
        );
        assert_eq!(shebang_python("#!/bin/sh"), None);
        assert_eq!(shebang_python("import os"), None);
    }

    #[test]
    fn paranoid_levels() {
        assert_eq!(paranoid_problem(3, true, true), None);
        assert!(paranoid_problem(3, false, false)
            .is_some_and(|m| m.contains("sysctl kernel.perf_event_paranoid")));
        assert_eq!(paranoid_problem(2, false, false), None);
        assert!(paranoid_problem(2, false, true).is_some_and(|m| m.contains("=-1")));
        assert_eq!(paranoid_problem(-1, false, true), None);
    }

    #[test]
    fn perf_failures_in_one_line() {
        let e = "Error:\nAccess to performance monitoring and observability operations is limited.\n... /proc/sys/kernel/perf_event_paranoid ...";
        assert!(explain_perf_failure(e, None).is_some_and(|m| m.contains("sysctl")));
        let e = "Problems finding threads of monitor\n";
        assert_eq!(
            explain_perf_failure(e, Some(7)).as_deref(),
            Some("-p 7: no such process")
        );
        assert_eq!(explain_perf_failure("something else", None), None);
        assert_eq!(workload_status(Some(0), None), "exited with status 0");
        assert_eq!(workload_status(Some(143), None), "was ended by signal 15");
        assert_eq!(workload_status(Some(3), None), "exited with status 3");
        assert_eq!(
            workload_status(None, Some(2)),
            "was ended by perf, which stopped on signal 2"
        );
    }

    #[test]
    fn output_paths() {
        assert!(is_raw_output(Path::new("out.perf.data")));
        assert!(is_raw_output(Path::new("perf.data")));
        assert!(!is_raw_output(Path::new("flame.svg")));
        assert_eq!(
            kept_recording_path(Path::new("/a/flame.svg")),
            Path::new("/a/flame.perf.data")
        );
        assert_eq!(
            maps_dir_of(Path::new("/a/out.perf.data")),
            Path::new("/a/out.perf.data.maps")
        );
    }
}
