//! `--call-graph dwarf`: a sample's user stack unwound from its registers
//! and stack copy, with the Python 3.12 perf-trampoline rule.

use super::*;

impl Reader<'_> {
    /// Unwind the user stack of a `--call-graph dwarf` sample: the
    /// addresses to name, the instruction pointer, then each return
    /// address less one, outermost last.
    pub(super) fn unwind_user(
        &mut self,
        pid: i32,
        ip: u64,
        sp: u64,
        bp: u64,
        stack: &[u8],
    ) -> Vec<u64> {
        let mut out = Vec::new();
        let mut read_stack = |addr: u64| -> Result<u64, ()> {
            let off = addr.checked_sub(sp).ok_or(())?;
            let off = usize::try_from(off).map_err(|_| ())?;
            let b = stack.get(off..off.checked_add(8).ok_or(())?).ok_or(())?;
            let a: [u8; 8] = b.try_into().map_err(|_| ())?;
            Ok(u64::from_le_bytes(a))
        };
        let mut regs = UnwindRegsX86_64::new(ip, sp, bp);
        let mut address = FrameAddress::from_instruction_pointer(ip);
        let upid = u32::try_from(pid).unwrap_or(0);
        let mut unwinder = self
            .processes
            .get_mut(&pid)
            .and_then(|p| p.unwinder.take())
            .unwrap_or_else(|| Box::new(ProcessUnwinder::new()));
        // Consecutive frames are mostly in one mapping: the last one found
        // is asked first (mappings do not overlap, and do not change
        // during one unwind).
        let mut last_map: Option<process::Mapping> = None;
        for _ in 0..unwind::MAX_FRAMES {
            let addr = address.address();
            // A return address is named from one byte back, inside its
            // call instruction, as perf's unwinders do (libdw's
            // `isactivation`, libunwind's non-signal frames): the
            // instruction after a call may belong to another inlined
            // function or line, or to the next function after a call
            // that does not return.
            let lookup = address.address_for_lookup();
            out.push(lookup);
            let map = match last_map {
                Some(m) if (m.start..m.end).contains(&lookup) => Some(m),
                _ => {
                    let found = self.find_map(pid, lookup).copied();
                    // Make sure the module of a mapping met is known to
                    // framehop.
                    if let Some(m) = found.filter(|m| m.kind == MapKind::File) {
                        if unwinder.tried.insert(m.start) {
                            self.add_module(&mut unwinder, &m);
                        }
                    }
                    last_map = found;
                    found
                }
            };
            let mut next = None;
            if map.is_none_or(|m| m.kind != MapKind::File) {
                // JIT code: the Python 3.12 perf trampoline rule.
                let entry = self.sym.jit_entry_python(upid, addr);
                if let Some((start, size, true)) = entry {
                    if let Some((ra, caller_sp)) =
                        unwind::trampoline_step(address, start, size, regs.sp(), &mut read_stack)
                    {
                        regs.set_sp(caller_sp);
                        next = Some(ra);
                    }
                }
            }
            let ra = match next {
                Some(ra) => Some(ra),
                None => unwinder.step(address, &mut regs, &mut read_stack),
            };
            match ra.and_then(FrameAddress::from_return_address) {
                Some(a) => address = a,
                None => break,
            }
        }
        if let Some(p) = self.processes.get_mut(&pid) {
            p.unwinder = Some(unwinder);
        }
        out
    }

    /// Add the module of file mapping `m` to a process's unwinder, when
    /// its file is found.
    fn add_module(&mut self, unwinder: &mut ProcessUnwinder, m: &process::Mapping) {
        let Some(path) = self.paths.get(m.path as usize).cloned() else {
            return;
        };
        if let Ok(bytes) = self.sym.file_bytes(&path) {
            let name = String::from_utf8_lossy(&path).into_owned();
            if let Some(module) = unwind::module_for(&name, bytes, m.start, m.end, m.pgoff) {
                unwinder.add(module);
            }
        }
    }
}
