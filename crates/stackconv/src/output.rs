//! Where an output goes and how it is written: the one place for the rules
//! that keep outputs (and inputs) safe.
//!
//! - `-`, `/dev/stdout`, `/dev/fd/1` and `/proc/self/fd/1`: standard output,
//!   written as it is (a shell's `>>` keeps appending).
//! - Character and block devices, FIFOs and sockets, and files named through
//!   a `/proc/*/fd` or `/dev/fd` link: opened and written straight through,
//!   never replaced.
//! - A regular file, or a path that does not exist yet: written to a
//!   temporary file `.stackconv-*.tmp` in the same directory, synced, and
//!   renamed over the target. A symlinked output is followed: the file it
//!   points to is replaced and the link stays a link. A new file gets mode
//!   `0666 & !umask`; an overwritten one keeps its mode and owner. Replacing
//!   a file takes the right to write it, as `>` or `cp` would (a writable
//!   directory alone would let anyone replace anyone's file). A file with
//!   more than one hard link, or whose owner the process may not give the
//!   new file (someone else's file it may write), is written in place once
//!   the temporary copy is complete, so every name keeps seeing the same
//!   file and it keeps its owner.
//! - An output that is the same file (device and inode) as an input is
//!   refused unless the caller allows it; `-` may be an input at most once.
//! - Everything that can be checked is checked by [`Output::prepare`], before
//!   the inputs are read: a directory, a missing or read-only directory, a
//!   closed standard output.
//! - The temporary file is removed on every error path (its destructor) and,
//!   once [`remove_temporary_files_on_signals`] has run, on SIGINT and
//!   SIGTERM.

use std::fs::{self, File, Metadata, OpenOptions, Permissions};
use std::io::{self, BufWriter, Seek, Write};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileTypeExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::{SystemTime, UNIX_EPOCH};

use crate::Error;

/// The temporary files that exist now. Creating, renaming and removing one
/// happen under this lock, so the signal thread, which takes it and never
/// gives it back, sees every file that exists and no file appears after it.
static TEMPORARY: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());

fn temporary() -> MutexGuard<'static, Vec<PathBuf>> {
    TEMPORARY.lock().unwrap_or_else(|e| e.into_inner())
}

/// Where a profile will be written, checked before the inputs are read.
///
/// ```no_run
/// use std::path::PathBuf;
/// use stackconv::{read_path, write, Output, OutputFormat, ReadOptions, WriteOptions};
///
/// let inputs = [PathBuf::from("app.folded")];
/// // Fails now, before the input is read, if out.svg cannot be written.
/// let out = Output::prepare("out.svg".as_ref(), &inputs, false)?;
/// let profile = read_path(&inputs[0], &ReadOptions::default())?;
/// out.write_with(|w| write(&profile, OutputFormat::Svg, &WriteOptions::default(), w))?;
/// # Ok::<(), stackconv::Error>(())
/// ```
#[derive(Debug)]
pub struct Output {
    /// The path as given, for messages.
    shown: PathBuf,
    target: Target,
}

#[derive(Debug)]
enum Target {
    /// Standard output.
    Stdout,
    /// Opened and written in place: a device, FIFO or socket, or a file
    /// named through a file-descriptor link.
    Through(PathBuf),
    /// A regular file or a new path: written to `temp`, then renamed over
    /// `path`, or, with `linked` (the open target of a file with several
    /// hard links, or of another owner), copied into it.
    Replace {
        path: PathBuf,
        temp: Temporary,
        linked: Option<File>,
    },
}

impl Output {
    /// Check that `path` can be written and is not one of `inputs` (unless
    /// `overwrite_inputs`), and make the temporary file a regular file is
    /// written to. Call it before reading the inputs, so that a bad output
    /// fails at once.
    ///
    /// # Errors
    ///
    /// [`Error::StdinTwice`] when `-` is in `inputs` more than once;
    /// [`Error::StdoutClosed`]; and, in an [`Error::File`] naming `path`:
    /// [`Error::OutputIsDirectory`], [`Error::OutputIsInput`],
    /// [`Error::CannotCreate`] (a missing or read-only directory), or the
    /// I/O error of looking the path up.
    pub fn prepare(
        path: &Path,
        inputs: &[PathBuf],
        overwrite_inputs: bool,
    ) -> Result<Output, Error> {
        check_inputs(inputs)?;
        if is_stdout(path) {
            check_stdout()?;
            if !overwrite_inputs {
                // `stackconv a.folded -o - >>a.folded`
                if let Ok(m) = fs::metadata("/dev/stdout") {
                    refuse_input(&m, inputs).map_err(|e| Error::Stdout(Box::new(e)))?;
                }
            }
            return Ok(Output {
                shown: path.to_path_buf(),
                target: Target::Stdout,
            });
        }
        let target = prepare_path(path, inputs, overwrite_inputs).map_err(|e| e.in_file(path))?;
        Ok(Output {
            shown: path.to_path_buf(),
            target,
        })
    }

    /// Whether this output is standard output.
    pub fn is_stdout(&self) -> bool {
        matches!(self.target, Target::Stdout)
    }

    /// Run `f` on a buffered writer to the output and finish it: flush,
    /// and for a regular file sync and rename (or copy) into place.
    ///
    /// # Errors
    ///
    /// What `f` returns, or the I/O error of writing, in an [`Error::File`]
    /// naming the output (an [`Error::Stdout`] for standard output). The
    /// temporary file is removed and the target left as it was.
    pub fn write_with(
        self,
        f: impl FnOnce(&mut dyn Write) -> Result<(), Error>,
    ) -> Result<(), Error> {
        let shown = self.shown;
        match self.target {
            Target::Stdout => {
                let stdout = io::stdout();
                let mut lock = stdout.lock();
                f(&mut lock)
                    .and_then(|()| lock.flush().map_err(Error::Io))
                    .map_err(|e| Error::Stdout(Box::new(e)))
            }
            Target::Through(path) => write_through(&path, f).map_err(|e| e.in_file(&shown)),
            Target::Replace { path, temp, linked } => {
                replace(&path, temp, linked, f).map_err(|e| e.in_file(&shown))
            }
        }
    }
}

/// `-`, `/dev/stdout` and the other names of file descriptor 1.
fn is_stdout(path: &Path) -> bool {
    let s = path.as_os_str().as_bytes();
    matches!(s, b"-" | b"/dev/stdout" | b"/dev/fd/1" | b"/proc/self/fd/1")
}

fn prepare_path(path: &Path, inputs: &[PathBuf], overwrite_inputs: bool) -> Result<Target, Error> {
    // `dir/`: a name the kernel would only take as a directory.
    if path.as_os_str().as_bytes().ends_with(b"/") || path.file_name().is_none() {
        return Err(Error::OutputIsDirectory);
    }
    let followed = match fs::metadata(path) {
        Ok(m) => Some(m),
        Err(e) if e.kind() == io::ErrorKind::NotFound => None,
        Err(e) => return Err(Error::Io(e)),
    };
    if let Some(m) = &followed {
        if m.is_dir() {
            return Err(Error::OutputIsDirectory);
        }
        if !overwrite_inputs {
            refuse_input(m, inputs)?;
        }
        if !m.is_file() {
            return Ok(Target::Through(path.to_path_buf()));
        }
    }
    let resolved = match resolve_links(path)? {
        Some(r) => r,
        // Through a file-descriptor link: the path names an open file,
        // not a place in a directory to rename into.
        None if followed.is_some() => return Ok(Target::Through(path.to_path_buf())),
        None => path.to_path_buf(),
    };
    if let Some(m) = &followed {
        match fs::symlink_metadata(&resolved) {
            Ok(r) if r.dev() == m.dev() && r.ino() == m.ino() => {}
            // Resolved somewhere else than the kernel did: write through
            // rather than guess.
            _ => return Ok(Target::Through(path.to_path_buf())),
        }
    }
    let dir = match resolved.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let create_mode = if followed.is_some() { 0o600 } else { 0o666 };
    let temp = Temporary::create(&dir, create_mode)
        .map_err(|source| Error::CannotCreate { dir, source })?;
    let linked = match &followed {
        Some(m) => {
            // Opened (not truncated) now: a file the process may not write
            // is refused before the inputs are read.
            let target = OpenOptions::new().write(true).open(&resolved)?;
            let owner_kept = temp.keep_owner_and_mode(m)?;
            (m.nlink() > 1 || !owner_kept).then_some(target)
        }
        None => None,
    };
    Ok(Target::Replace {
        path: resolved,
        temp,
        linked,
    })
}

/// Follow the symlinks of `path` to the name of the file they lead to
/// (which may not exist yet). `None` when a link leads into `/proc` or
/// `/dev/fd`, whose links name open files rather than paths.
fn resolve_links(path: &Path) -> Result<Option<PathBuf>, Error> {
    let mut p = path.to_path_buf();
    // The kernel's limit (MAXSYMLINKS).
    for _ in 0..40 {
        if p.starts_with("/proc") || p.starts_with("/dev/fd") {
            return Ok(None);
        }
        match fs::symlink_metadata(&p) {
            Ok(m) if m.file_type().is_symlink() => {
                let to = fs::read_link(&p)?;
                p = match p.parent() {
                    Some(dir) if to.is_relative() => dir.join(to),
                    _ => to,
                };
            }
            _ => return Ok(Some(p)),
        }
    }
    Err(Error::Io(io::Error::other(
        "too many levels of symbolic links",
    )))
}

/// Refuse an output whose file (`m`) is one of `inputs`.
fn refuse_input(m: &Metadata, inputs: &[PathBuf]) -> Result<(), Error> {
    // A device or FIFO that is read and written is the user's business.
    if !m.is_file() {
        return Ok(());
    }
    for input in inputs {
        let im = if input.as_os_str() == "-" {
            fs::metadata("/dev/stdin")
        } else {
            fs::metadata(input)
        };
        if let Ok(im) = im {
            if im.dev() == m.dev() && im.ino() == m.ino() {
                return Err(Error::OutputIsInput {
                    input: input.clone(),
                });
            }
        }
    }
    Ok(())
}

/// Check that standard input (`-`) is among `inputs` at most once: it can
/// be read only once.
///
/// # Errors
///
/// [`Error::StdinTwice`].
pub fn check_inputs(inputs: &[PathBuf]) -> Result<(), Error> {
    if inputs.iter().filter(|p| p.as_os_str() == "-").count() > 1 {
        return Err(Error::StdinTwice);
    }
    Ok(())
}

/// Check that standard output was open when the process started.
///
/// Rust's runtime opens `/dev/null` (read-write) in place of a standard
/// descriptor that is closed at start-up, so `1>&-` would otherwise make
/// every write succeed and lose the output. A shell's `>/dev/null` opens it
/// write-only, which this tells apart by the flags in
/// `/proc/self/fdinfo/1` (Linux; elsewhere the check passes).
///
/// # Errors
///
/// [`Error::StdoutClosed`].
pub fn check_stdout() -> Result<(), Error> {
    if stdout_was_closed() {
        Err(Error::StdoutClosed)
    } else {
        Ok(())
    }
}

fn stdout_was_closed() -> bool {
    let (Ok(out), Ok(null)) = (fs::metadata("/proc/self/fd/1"), fs::metadata("/dev/null")) else {
        return false;
    };
    if !out.file_type().is_char_device() || out.rdev() != null.rdev() {
        return false;
    }
    let Ok(info) = fs::read_to_string("/proc/self/fdinfo/1") else {
        return false;
    };
    info.lines()
        .find_map(|l| l.strip_prefix("flags:"))
        .and_then(|f| u32::from_str_radix(f.trim(), 8).ok())
        // O_ACCMODE == O_RDWR
        .is_some_and(|flags| flags & 0o3 == 0o2)
}

fn write_through(
    path: &Path,
    f: impl FnOnce(&mut dyn Write) -> Result<(), Error>,
) -> Result<(), Error> {
    // O_TRUNC empties a regular file named through /dev/fd; devices and
    // FIFOs ignore it.
    let file = OpenOptions::new().write(true).truncate(true).open(path)?;
    let mut w = BufWriter::with_capacity(256 * 1024, file);
    f(&mut w)?;
    w.flush()?;
    Ok(())
}

fn replace(
    path: &Path,
    mut temp: Temporary,
    linked: Option<File>,
    f: impl FnOnce(&mut dyn Write) -> Result<(), Error>,
) -> Result<(), Error> {
    let file = &mut temp.file;
    {
        let mut w = BufWriter::with_capacity(256 * 1024, Writeback::new(file));
        f(&mut w)?;
        w.flush()?;
    }
    file.sync_all()?;
    match linked {
        Some(mut target) => {
            // Complete and synced beside it: now copy into the linked file,
            // the one step that can leave it half-written.
            file.rewind()?;
            target.set_len(0)?;
            io::copy(file, &mut target)?;
            target.sync_all()?;
            Ok(())
        }
        None => {
            temp.persist(path)?;
            // The rename is durable once the directory is synced; a
            // directory that cannot be opened or synced loses nothing that
            // was asked for.
            if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                if let Ok(d) = File::open(dir) {
                    let _ = d.sync_all();
                }
            }
            Ok(())
        }
    }
}

/// A file being written whose writeback to the disk is started every
/// [`WRITEBACK_BYTES`] written, not left to the sync at its end: that sync
/// then waits for the last part only (a 94 MB folded file: 28 ms of sync
/// at the end before, 5 ms after, on this project's test machine).
struct Writeback<'a> {
    file: &'a File,
    written: u64,
    /// Where the writeback not started yet begins.
    started: u64,
}

/// See [`Writeback`].
const WRITEBACK_BYTES: u64 = 8 << 20;

impl<'a> Writeback<'a> {
    fn new(file: &'a File) -> Self {
        Writeback {
            file,
            written: 0,
            started: 0,
        }
    }
}

impl Write for Writeback<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.file.write(buf)?;
        self.written += n as u64;
        if self.written - self.started >= WRITEBACK_BYTES {
            start_writeback(self.file, self.started, self.written - self.started);
            self.started = self.written;
        }
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.file.flush()
    }
}

/// Ask the kernel to start writing `len` bytes of `file` at `offset` to the
/// disk, without waiting. Only a hint: a failure (a file system that does
/// not support it) changes nothing, the sync at the end still writes all.
#[cfg(target_os = "linux")]
fn start_writeback(file: &File, offset: u64, len: u64) {
    use std::os::fd::AsRawFd;
    let (Ok(offset), Ok(len)) = (i64::try_from(offset), i64::try_from(len)) else {
        return;
    };
    #[allow(unsafe_code)]
    // SAFETY: `sync_file_range` reads no memory of this process; the file
    // descriptor is open for as long as `file` is borrowed.
    unsafe {
        libc::sync_file_range(file.as_raw_fd(), offset, len, libc::SYNC_FILE_RANGE_WRITE);
    }
}

#[cfg(not(target_os = "linux"))]
fn start_writeback(_: &File, _: u64, _: u64) {}

/// A temporary file beside an output, registered for removal on signals
/// and removed when dropped unless renamed.
#[derive(Debug)]
struct Temporary {
    path: PathBuf,
    file: File,
    /// Not renamed (or removed) yet.
    live: bool,
}

impl Temporary {
    /// Create `dir/.stackconv-PID-N.tmp` with `mode` (less the umask).
    fn create(dir: &Path, mode: u32) -> io::Result<Temporary> {
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let mut registry = temporary();
        let clock = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        loop {
            let n = COUNTER.fetch_add(1, Ordering::Relaxed);
            let path = dir.join(format!(
                ".stackconv-{}-{clock:x}{n}.tmp",
                std::process::id()
            ));
            match OpenOptions::new()
                .read(true)
                .write(true)
                .create_new(true)
                .mode(mode)
                .open(&path)
            {
                Ok(file) => {
                    registry.push(path.clone());
                    return Ok(Temporary {
                        path,
                        file,
                        live: true,
                    });
                }
                // Left by a process killed outright: try the next name.
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists && n < 1000 => {}
                Err(e) => return Err(e),
            }
        }
    }

    /// Give it the owner and mode of the file it replaces; whether the
    /// owner could be given (only root may give a file away: others get
    /// EPERM for another user's or group's file).
    fn keep_owner_and_mode(&self, of: &Metadata) -> io::Result<bool> {
        // chown clears set-id bits, so the mode comes after.
        let owner_kept = match std::os::unix::fs::fchown(&self.file, Some(of.uid()), Some(of.gid()))
        {
            Ok(()) => true,
            Err(e) if e.kind() == io::ErrorKind::PermissionDenied => false,
            Err(e) => return Err(e),
        };
        self.file
            .set_permissions(Permissions::from_mode(of.mode() & 0o7777))?;
        Ok(owner_kept)
    }

    /// Rename it to `to`.
    fn persist(mut self, to: &Path) -> io::Result<()> {
        let mut registry = temporary();
        let result = fs::rename(&self.path, to);
        if result.is_err() {
            let _ = fs::remove_file(&self.path);
        }
        self.live = false;
        registry.retain(|p| *p != self.path);
        result
    }
}

impl Drop for Temporary {
    fn drop(&mut self) {
        if self.live {
            let mut registry = temporary();
            let _ = fs::remove_file(&self.path);
            registry.retain(|p| *p != self.path);
        }
    }
}

/// Remove every temporary output file that exists now. The signal thread
/// calls it; it is public for callers with their own signal handling.
pub fn remove_temporary_files() {
    remove_all(&mut temporary());
}

fn remove_all(registry: &mut Vec<PathBuf>) {
    for p in registry.drain(..) {
        let _ = fs::remove_file(&p);
    }
}

/// Start a thread that, on SIGINT or SIGTERM, removes the temporary output
/// files and ends the process as the signal would have (exit status
/// 128 + signal if that fails). A signal the process was started with
/// ignored (`nohup`, a shell's background job) stays ignored.
///
/// # Errors
///
/// The error of registering the handlers or starting the thread.
pub fn remove_temporary_files_on_signals() -> io::Result<()> {
    use signal_hook::consts::{SIGINT, SIGTERM};
    let ignored = ignored_signals();
    let wanted: Vec<i32> = [SIGINT, SIGTERM]
        .into_iter()
        .filter(|&s| {
            // Bit s - 1 of the mask; 0 (not known) for signals past it.
            let bit = u32::try_from(s - 1).ok().and_then(|b| 1u64.checked_shl(b));
            bit.is_none_or(|b| ignored & b == 0)
        })
        .collect();
    if wanted.is_empty() {
        return Ok(());
    }
    let mut signals = signal_hook::iterator::Signals::new(wanted)?;
    std::thread::Builder::new()
        .name("stackconv-signals".to_string())
        .spawn(move || {
            if let Some(sig) = signals.forever().next() {
                // Held until the process ends: no temporary file is made
                // or renamed after this.
                let mut registry = temporary();
                remove_all(&mut registry);
                let _ = signal_hook::low_level::emulate_default_handler(sig);
                std::process::exit(128 + sig);
            }
        })?;
    Ok(())
}

/// The signals this process started with ignored (the `SigIgn` mask of
/// `/proc/self/status`; none where that cannot be read).
fn ignored_signals() -> u64 {
    fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("SigIgn:"))
                .and_then(|m| u64::from_str_radix(m.trim(), 16).ok())
        })
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn temporary_files_are_registered_and_removed() {
        let dir = tempfile::tempdir().unwrap();
        let temp = Temporary::create(dir.path(), 0o666).unwrap();
        let path = temp.path.clone();
        assert!(temporary().contains(&path));
        drop(temp);
        assert!(!path.exists());
        assert!(!temporary().contains(&path));

        let temp = Temporary::create(dir.path(), 0o666).unwrap();
        let path = temp.path.clone();
        std::mem::forget(temp);
        remove_temporary_files();
        assert!(
            !path.exists(),
            "remove_temporary_files left {}",
            path.display()
        );

        let temp = Temporary::create(dir.path(), 0o666).unwrap();
        let path = temp.path.clone();
        temp.persist(&dir.path().join("out")).unwrap();
        assert!(!path.exists());
        assert!(dir.path().join("out").exists());
        assert!(!temporary().contains(&path));
    }

    #[test]
    fn stdin_at_most_once() {
        let one = [PathBuf::from("-"), PathBuf::from("a")];
        assert!(check_inputs(&one).is_ok());
        let two = [PathBuf::from("-"), PathBuf::from("-")];
        assert!(matches!(check_inputs(&two), Err(Error::StdinTwice)));
    }

    #[test]
    fn names_of_stdout() {
        for s in ["-", "/dev/stdout", "/dev/fd/1", "/proc/self/fd/1"] {
            assert!(is_stdout(Path::new(s)), "{s}");
        }
        assert!(!is_stdout(Path::new("/dev/stderr")));
    }

    #[test]
    fn a_file_written_past_several_writebacks_is_whole() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("big.folded");
        // Writes of odd sizes, so that writebacks start mid-write, and a
        // last part left to the sync.
        let data: Vec<u8> = (0..(2 * WRITEBACK_BYTES + 12_345) as usize)
            .map(|i| (i % 251) as u8)
            .collect();
        let out = Output::prepare(&path, &[], false).unwrap();
        out.write_with(|w| {
            for part in data.chunks(1_000_003) {
                w.write_all(part)?;
            }
            Ok(())
        })
        .unwrap();
        assert!(fs::read(&path).unwrap() == data);
    }
}
