//! Which kernel's symbols may name a recording's kernel addresses.
//!
//! Kernel addresses are only meaningful for the kernel build that ran the
//! recording: another build (even of the same release) puts functions
//! elsewhere, and its `/proc/kallsyms` gives plausible, wrong names. perf
//! keeps the kernel's build id in the recording (the `[kernel.kallsyms]`
//! entry of the BUILD_ID feature) and its release (the OSRELEASE feature),
//! and refuses a kallsyms whose kernel does not match (tools/perf/util/
//! symbol.c, `dso__load_kernel_sym`). So does stackconv: the running
//! kernel's `/proc/kallsyms` is used only when the running kernel's build id
//! (the GNU build-id note of `/sys/kernel/notes`) equals the recorded one,
//! or, where none was recorded, when the releases are equal.

use std::path::{Path, PathBuf};

use super::SymbolOptions;

/// The module name perf gives kernel code.
pub(crate) const KERNEL_MODULE: &str = "[kernel.kallsyms]";

/// The recorded path of the kernel image in build-id tables (and, with a
/// reference symbol's name after it, of the kernel image's mapping).
pub(crate) const KERNEL_BUILD_ID_PATH: &[u8] = KERNEL_MODULE.as_bytes();

/// The running kernel's symbol table.
pub(crate) const PROC_KALLSYMS: &str = "/proc/kallsyms";

/// Where a recording's kernel symbols are read from, in the order tried.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum KallsymsSource {
    /// `--kallsyms FILE`: used as given (only warned about).
    Given(PathBuf),
    /// perf's build-id cache copy of the recorded kernel's table,
    /// `~/.debug/[kernel.kallsyms]/BUILD_ID/kallsyms`, which `perf record`
    /// writes (and `perf report` reads): the recording's kernel by its
    /// build id, laid out as in its boot (checked against the recording's
    /// kernel mapping), and a plain file, read in a few milliseconds where
    /// `/proc/kallsyms` takes the kernel tens. Passed over for
    /// [`KallsymsSource::Running`] when it is of another boot.
    PerfCache(PathBuf),
    /// `/proc/kallsyms`, when the running kernel is the recording's (see
    /// [`same_kernel`]).
    Running,
}

impl KallsymsSource {
    /// The first source to try: `--kallsyms`; else, unless
    /// `no_system_paths`, perf's cache copy when the recording names its
    /// kernel's build id and the copy exists under `home`, or
    /// `/proc/kallsyms`.
    pub(crate) fn first(
        opts: &SymbolOptions,
        kernel_build_id: Option<&[u8]>,
        home: Option<&Path>,
    ) -> Option<KallsymsSource> {
        if let Some(p) = &opts.kallsyms {
            return Some(KallsymsSource::Given(p.clone()));
        }
        if opts.no_system_paths {
            return None;
        }
        let cached = kernel_build_id
            .zip(home)
            .map(|(id, home)| perf_cache_kallsyms(home, id))
            .filter(|p| p.is_file());
        Some(cached.map_or(KallsymsSource::Running, KallsymsSource::PerfCache))
    }

    /// The file read.
    pub(crate) fn path(&self) -> PathBuf {
        match self {
            KallsymsSource::Given(p) | KallsymsSource::PerfCache(p) => p.clone(),
            KallsymsSource::Running => PathBuf::from(PROC_KALLSYMS),
        }
    }
}

/// perf's build-id cache entry for the kallsyms of kernel `build_id`
/// (tools/perf/util/build-id.c: `DIR/[kernel.kallsyms]/SBUILD_ID/kallsyms`
/// under `~/.debug`).
pub(crate) fn perf_cache_kallsyms(home: &Path, build_id: &[u8]) -> PathBuf {
    let id = super::locate::hex(super::trim_build_id(build_id));
    home.join(".debug")
        .join(KERNEL_MODULE)
        .join(id)
        .join("kallsyms")
}

/// What is known of one kernel: its build id and its release.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct KernelId {
    /// The GNU build id, trailing zero padding removed.
    pub build_id: Option<Vec<u8>>,
    /// `uname -r`.
    pub release: Option<String>,
}

impl KernelId {
    /// The kernel this process runs on, from `/sys/kernel/notes` and
    /// `/proc/sys/kernel/osrelease` (either may be missing).
    pub(crate) fn running() -> KernelId {
        KernelId {
            build_id: std::fs::read("/sys/kernel/notes")
                .ok()
                .and_then(|notes| gnu_build_id_note(&notes))
                .map(|id| super::trim_build_id(&id).to_vec()),
            release: std::fs::read_to_string("/proc/sys/kernel/osrelease")
                .ok()
                .map(|r| r.trim().to_string())
                .filter(|r| !r.is_empty()),
        }
    }

    /// The build id as hex, or the release, for messages.
    fn describe(&self) -> String {
        let id = self.build_id.as_deref().map(super::locate::hex);
        match (&self.release, id) {
            (Some(r), Some(id)) => format!("{r} (build id {id})"),
            (Some(r), None) => r.clone(),
            (None, Some(id)) => format!("build id {id}"),
            (None, None) => "an unknown kernel".to_string(),
        }
    }
}

/// Whether the running kernel's symbols may name the recording's kernel
/// addresses: `Ok` when they are the same kernel, else the reason for the
/// user, naming both kernels and what to do.
pub(crate) fn same_kernel(recorded: &KernelId, running: &KernelId) -> Result<(), String> {
    let differ = || {
        format!(
            "kernel frames are not named: recorded on kernel {}, running {}; \
             pass --kallsyms FILE of the recording's kernel",
            recorded.describe(),
            running.describe()
        )
    };
    if let (Some(a), Some(b)) = (&recorded.build_id, &running.build_id) {
        return if a == b { Ok(()) } else { Err(differ()) };
    }
    // A recorded build id that cannot be checked here: the release decides,
    // as where none was recorded.
    match (&recorded.release, &running.release) {
        (Some(a), Some(b)) if a == b => Ok(()),
        (Some(_), Some(_)) => Err(differ()),
        _ => Err(format!(
            "kernel frames are not named: the recording names no kernel build id or release \
             to check the running kernel's symbols against ({}); pass --kallsyms FILE of the \
             recording's kernel",
            running.describe()
        )),
    }
}

/// The GNU build id in a sequence of ELF notes (`/sys/kernel/notes`:
/// `Elf_Nhdr { u32 namesz, descsz, type }`, name and desc each padded to 4
/// bytes, native byte order). `None` when absent or malformed.
pub(crate) fn gnu_build_id_note(notes: &[u8]) -> Option<Vec<u8>> {
    const NT_GNU_BUILD_ID: u32 = 3;
    let word = |at: usize| -> Option<u32> {
        let b: [u8; 4] = notes.get(at..at.checked_add(4)?)?.try_into().ok()?;
        Some(u32::from_ne_bytes(b))
    };
    let pad4 = |n: usize| n.checked_add(3).map(|n| n & !3);
    let mut at = 0usize;
    while at.checked_add(12)? <= notes.len() {
        let namesz = usize::try_from(word(at)?).ok()?;
        let descsz = usize::try_from(word(at + 4)?).ok()?;
        let kind = word(at + 8)?;
        let name_at = at + 12;
        let desc_at = name_at.checked_add(pad4(namesz)?)?;
        let next = desc_at.checked_add(pad4(descsz)?)?;
        let name = notes.get(name_at..name_at.checked_add(namesz)?)?;
        let desc = notes.get(desc_at..desc_at.checked_add(descsz)?)?;
        if kind == NT_GNU_BUILD_ID && name == b"GNU\0" && !desc.is_empty() {
            return Some(desc.to_vec());
        }
        at = next;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kallsyms_sources_in_order() {
        let home = std::env::temp_dir().join(format!("stackconv-kallsyms-{}", std::process::id()));
        let id = [0xab, 0xcd, 0, 0];
        let cached = perf_cache_kallsyms(&home, &id);
        assert!(cached.ends_with(".debug/[kernel.kallsyms]/abcd/kallsyms"));
        let mut opts = SymbolOptions::default();
        // No copy in the cache yet: the running kernel's.
        let first =
            |o: &SymbolOptions, id: Option<&[u8]>| KallsymsSource::first(o, id, Some(&home));
        assert_eq!(first(&opts, Some(&id)), Some(KallsymsSource::Running));
        std::fs::create_dir_all(cached.parent().unwrap()).unwrap();
        std::fs::write(&cached, "ffffffff81000000 T _text\n").unwrap();
        assert_eq!(
            first(&opts, Some(&id)),
            Some(KallsymsSource::PerfCache(cached.clone()))
        );
        assert_eq!(first(&opts, None), Some(KallsymsSource::Running));
        assert_eq!(first(&opts, Some(&[0xab])), Some(KallsymsSource::Running));
        opts.no_system_paths = true;
        assert_eq!(first(&opts, Some(&id)), None);
        opts.kallsyms = Some(PathBuf::from("k.txt"));
        assert_eq!(
            first(&opts, Some(&id)),
            Some(KallsymsSource::Given("k.txt".into()))
        );
        std::fs::remove_dir_all(&home).unwrap();
    }

    fn note(name: &[u8], kind: u32, desc: &[u8]) -> Vec<u8> {
        let mut v = Vec::new();
        v.extend_from_slice(&(name.len() as u32).to_ne_bytes());
        v.extend_from_slice(&(desc.len() as u32).to_ne_bytes());
        v.extend_from_slice(&kind.to_ne_bytes());
        v.extend_from_slice(name);
        v.resize(v.len().next_multiple_of(4), 0);
        v.extend_from_slice(desc);
        v.resize(v.len().next_multiple_of(4), 0);
        v
    }

    #[test]
    fn finds_the_gnu_build_id_among_other_notes() {
        let mut notes = note(b"Xen\0", 6, b"abcdef");
        notes.extend(note(b"Linux\0", 0x101, &[1, 2, 3]));
        notes.extend(note(b"GNU\0", 3, &[0xde, 0xad, 0xbe, 0xef, 0x01]));
        assert_eq!(
            gnu_build_id_note(&notes),
            Some(vec![0xde, 0xad, 0xbe, 0xef, 0x01])
        );
        // Cut anywhere: no panic, and no id where its note is cut.
        for n in 0..notes.len() {
            let _ = gnu_build_id_note(&notes[..n]);
        }
        assert_eq!(gnu_build_id_note(&notes[..notes.len() - 8]), None);
        assert_eq!(gnu_build_id_note(&note(b"GNU\0", 1, b"abi")), None);
    }

    #[test]
    fn huge_sizes_are_refused() {
        let mut v = Vec::new();
        v.extend_from_slice(&u32::MAX.to_ne_bytes());
        v.extend_from_slice(&u32::MAX.to_ne_bytes());
        v.extend_from_slice(&3u32.to_ne_bytes());
        v.extend_from_slice(b"GNU\0");
        assert_eq!(gnu_build_id_note(&v), None);
    }

    fn k(id: Option<&[u8]>, release: Option<&str>) -> KernelId {
        KernelId {
            build_id: id.map(<[u8]>::to_vec),
            release: release.map(str::to_string),
        }
    }

    #[test]
    fn build_id_decides_then_release() {
        let a = k(Some(&[1, 2]), Some("6.1.0"));
        assert_eq!(same_kernel(&a, &a), Ok(()));
        // Same release, other build: refused, and the message names both.
        let b = k(Some(&[3, 4]), Some("6.1.0"));
        let why = same_kernel(&a, &b).unwrap_err();
        assert!(
            why.contains("build id 0102") && why.contains("build id 0304"),
            "{why}"
        );
        assert!(why.contains("--kallsyms"), "{why}");
        // No build id recorded: the release decides.
        assert_eq!(same_kernel(&k(None, Some("6.1.0")), &b), Ok(()));
        assert!(same_kernel(&k(None, Some("6.2.0")), &b).is_err());
        // A recorded id that cannot be checked here: the release decides.
        assert_eq!(same_kernel(&a, &k(None, Some("6.1.0"))), Ok(()));
        // Nothing recorded: never assumed to match.
        assert!(same_kernel(&k(None, None), &b).is_err());
    }
}
