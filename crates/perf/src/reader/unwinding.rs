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
            // Make sure the module of this address is known to framehop.
            let map = self.find_map(pid, lookup).cloned();
            let mut next = None;
            match map {
                Some(m) if m.kind == MapKind::File => {
                    if unwinder.tried.insert(m.start) {
                        let path = self.paths.get(m.path as usize).cloned();
                        if let Some(path) = path {
                            if let Ok(bytes) = self.sym.file_bytes(&path) {
                                let name = String::from_utf8_lossy(&path).into_owned();
                                if let Some(module) =
                                    unwind::module_for(&name, bytes, m.start, m.end, m.pgoff)
                                {
                                    unwinder.add(module);
                                }
                            }
                        }
                    }
                }
                Some(_) | None => {
                    // JIT code: the Python 3.12 perf trampoline rule.
                    if let Some((start, size, name)) = self.sym.jit_entry(upid, addr) {
                        if stackconv_model::naming::is_python_perf_symbol(&name) {
                            if let Some((ra, caller_sp)) = unwind::trampoline_step(
                                address,
                                start,
                                size,
                                regs.sp(),
                                &mut read_stack,
                            ) {
                                regs.set_sp(caller_sp);
                                next = Some(ra);
                            }
                        }
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
}
