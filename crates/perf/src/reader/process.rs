//! Processes and their mappings: mmap records, the overlapping-mapping
//! fixup, address lookup and the mapping generations the caches key on.

use super::*;

/// A mapping of a process.
#[derive(Clone, Copy, Debug)]
pub(super) struct Mapping {
    pub(super) start: u64,
    pub(super) end: u64,
    pub(super) pgoff: u64,
    /// Index into `Reader::paths`.
    pub(super) path: u32,
    pub(super) kind: MapKind,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum MapKind {
    /// A file: symbolized through the symbolizer.
    File,
    /// Anonymous memory: JIT code named by perf maps / jitdump.
    Anon,
}

#[derive(Default)]
pub(super) struct Process {
    /// Sorted by start, not overlapping.
    pub(super) maps: Vec<Mapping>,
    /// Changed by every mapping change, unique across processes (0: no
    /// process): part of the keys of the address caches.
    pub(super) generation: u32,
    pub(super) unwinder: Option<Box<ProcessUnwinder>>,
}

impl Reader<'_> {
    pub(super) fn mmap(
        &mut self,
        pid: i32,
        mode: CpuMode,
        start: u64,
        len: u64,
        pgoff: u64,
        path: &[u8],
    ) {
        if matches!(mode, CpuMode::Kernel | CpuMode::GuestKernel) || pid == -1 {
            // Kernel and module maps: kernel addresses go to kallsyms. The
            // kernel image's (`[kernel.kallsyms]_text`) says where the
            // image was, to check a kallsyms file against.
            if matches!(mode, CpuMode::Kernel) {
                if let Some(name) = path.strip_prefix(crate::symbolize::KERNEL_BUILD_ID_PATH) {
                    self.sym.set_recorded_kernel_image(name, pgoff);
                }
            }
            return;
        }
        let Some(end) = start.checked_add(len) else {
            return;
        };
        if is_jitdump(path) {
            if let Ok(pid) = u32::try_from(pid) {
                self.sym.add_jitdump(pid, path);
                self.jitdumps
                    .insert(pid, String::from_utf8_lossy(path).into_owned());
            }
        }
        let kind = if is_anon(path) {
            MapKind::Anon
        } else {
            MapKind::File
        };
        // A file by its path (not `[vdso]` and the like).
        let named_file = kind == MapKind::File && path.first() == Some(&b'/');
        let path = self.path_id(path);
        if named_file {
            self.exes.entry(pid).or_insert(path);
        }
        let generation = self.next_generation();
        let proc = self.processes.entry(pid).or_default();
        // Replace what the new mapping overlaps (perf's
        // maps__fixup_overlappings): trim or split the old ones.
        let mut kept = Vec::with_capacity(proc.maps.len() + 2);
        let mut removed = Vec::new();
        for m in proc.maps.drain(..) {
            if m.end <= start || m.start >= end {
                kept.push(m);
                continue;
            }
            removed.push(m.start);
            if m.start < start {
                kept.push(Mapping { end: start, ..m });
            }
            if m.end > end {
                kept.push(Mapping {
                    start: end,
                    pgoff: m.pgoff.wrapping_add(end - m.start),
                    ..m
                });
            }
        }
        kept.push(Mapping {
            start,
            end,
            pgoff,
            path,
            kind,
        });
        kept.sort_by_key(|m| m.start);
        proc.maps = kept;
        proc.generation = generation;
        if let Some(u) = proc.unwinder.as_mut() {
            for s in removed {
                u.remove(s);
            }
        }
    }

    /// A fresh mapping generation.
    pub(super) fn next_generation(&mut self) -> u32 {
        self.generations = self.generations.wrapping_add(1).max(1);
        self.generations
    }

    pub(super) fn find_map(&self, pid: i32, addr: u64) -> Option<&Mapping> {
        let maps = &self.processes.get(&pid)?.maps;
        let i = maps.partition_point(|m| m.start <= addr);
        let m = maps.get(i.checked_sub(1)?)?;
        (addr < m.end).then_some(m)
    }
}

/// Anonymous memory, as perf's `is_anon_memory` / `is_no_dso_memory`:
/// perf names its code through `/tmp/perf-PID.map`.
pub(super) fn is_anon(path: &[u8]) -> bool {
    path.is_empty()
        || path.starts_with(b"//anon")
        || path.starts_with(b"[anon:")
        || path.starts_with(b"/dev/zero")
        || path.starts_with(b"/anon_hugepage")
        || path.starts_with(b"/memfd:")
        || path == b"[heap]"
        || path == b"[stack]"
        || is_jitdump(path)
}

/// A jitdump file mapped by a JIT (`.../jit-PID.dump`).
pub(super) fn is_jitdump(path: &[u8]) -> bool {
    let base = path.rsplit(|&c| c == b'/').next().unwrap_or(path);
    base.starts_with(b"jit-") && base.ends_with(b".dump")
}
