//! Reading files for the symbolizer: memory-mapped where possible, read
//! otherwise, and `NAME.xz` copies decompressed into memory.

use std::ffi::OsStr;
use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::FileBytes;

/// Largest file we decompress from `.xz` (a guard against xz bombs).
const MAX_XZ_OUTPUT_BYTES: u64 = 1 << 30;

/// A path from the bytes of a perf record.
pub(crate) fn bytes_to_path(path: &[u8]) -> PathBuf {
    #[cfg(unix)]
    {
        use std::os::unix::ffi::OsStrExt;
        PathBuf::from(OsStr::from_bytes(path))
    }
    #[cfg(not(unix))]
    {
        PathBuf::from(String::from_utf8_lossy(path).into_owned())
    }
}

/// The last `/`-separated component of a recorded path.
pub(crate) fn base_name(path: &[u8]) -> &[u8] {
    path.rsplit(|&b| b == b'/').next().unwrap_or(path)
}

/// `root` joined with a recorded absolute path (perf's `--symfs`).
pub(crate) fn under_root(root: &Path, recorded: &[u8]) -> PathBuf {
    let mut rel = recorded;
    while let Some(rest) = rel.strip_prefix(b"/") {
        rel = rest;
    }
    root.join(bytes_to_path(rel))
}

/// Lowercase hex of a build id.
pub(crate) fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(s, "{b:02x}");
    }
    s
}

/// `.build-id/xx/rest` for a build id (perf's and gdb's layout).
pub(crate) fn build_id_rel_path(build_id: &[u8]) -> Option<PathBuf> {
    let h = hex(build_id);
    if h.len() < 3 {
        return None;
    }
    let (dir, rest) = h.split_at(2);
    Some(Path::new(".build-id").join(dir).join(rest))
}

/// A mapped file.
struct Mapped(memmap2::Mmap);

impl AsRef<[u8]> for Mapped {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

/// A file read or decompressed into memory.
struct Owned(Vec<u8>);

impl AsRef<[u8]> for Owned {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

/// Open a regular file: mmap it, or read it when mapping fails.
pub(crate) fn read_file(path: &Path) -> Option<FileBytes> {
    let meta = std::fs::metadata(path).ok()?;
    if !meta.is_file() {
        return None;
    }
    let mut file = File::open(path).ok()?;
    if meta.len() > 0 {
        // SAFETY: the map is read-only and private. If another process
        // truncates or rewrites the file while it is mapped, reads may see
        // changed bytes or fault; every parser treats the bytes as
        // untrusted input, and profiles are read from files that are not
        // being rewritten (as perf itself maps them).
        #[allow(unsafe_code)]
        let map = unsafe { memmap2::Mmap::map(&file) };
        if let Ok(map) = map {
            return Some(Arc::new(Mapped(map)));
        }
    }
    let mut buf = Vec::new();
    file.read_to_end(&mut buf).ok()?;
    Some(Arc::new(Owned(buf)))
}

/// [`read_file`], or the error of reading `path` when it cannot be read.
pub(crate) fn read_file_or_error(path: &Path) -> std::io::Result<FileBytes> {
    match read_file(path) {
        Some(bytes) => Ok(bytes),
        None => std::fs::read(path).map(|b| Arc::new(Owned(b)) as FileBytes),
    }
}

/// Open `path`, or `path.xz` decompressed when `path` does not exist.
pub(crate) fn read_file_or_xz(path: &Path) -> Option<FileBytes> {
    if let Some(bytes) = read_file(path) {
        return Some(bytes);
    }
    let mut xz = path.as_os_str().to_owned();
    xz.push(".xz");
    let xz = PathBuf::from(xz);
    let compressed = read_file(&xz)?;
    let out = decompress_xz((*compressed).as_ref())?;
    Some(Arc::new(Owned(out)))
}

/// Decompress an xz stream, refusing output past [`MAX_XZ_OUTPUT_BYTES`].
fn decompress_xz(data: &[u8]) -> Option<Vec<u8>> {
    let mut input = std::io::BufReader::new(data);
    let mut out = Limited {
        buf: Vec::new(),
        left: MAX_XZ_OUTPUT_BYTES,
    };
    lzma_rs::xz_decompress(&mut input, &mut out).ok()?;
    Some(out.buf)
}

struct Limited {
    buf: Vec<u8>,
    left: u64,
}

impl std::io::Write for Limited {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        let n = u64::try_from(data.len()).unwrap_or(u64::MAX);
        if n > self.left {
            return Err(std::io::Error::other("xz output too large"));
        }
        self.left -= n;
        self.buf.extend_from_slice(data);
        Ok(data.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths() {
        assert_eq!(base_name(b"/usr/lib/libc.so.6"), b"libc.so.6");
        assert_eq!(base_name(b"app"), b"app");
        assert_eq!(
            under_root(Path::new("/sym"), b"/usr/bin/app"),
            PathBuf::from("/sym/usr/bin/app")
        );
        assert_eq!(
            build_id_rel_path(&[0xab, 0xcd, 0x01]),
            Some(PathBuf::from(".build-id/ab/cd01"))
        );
        assert_eq!(build_id_rel_path(&[0xab]), None);
    }

    #[test]
    fn xz_round_trip_and_limit() {
        let mut compressed = Vec::new();
        let data = b"hello symbolizer".repeat(100);
        lzma_rs::xz_compress(&mut &data[..], &mut compressed).unwrap();
        assert_eq!(decompress_xz(&compressed).unwrap(), data);
        assert_eq!(decompress_xz(b"not xz"), None);
    }
}
