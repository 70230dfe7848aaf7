//! Off-CPU time: intervals from a thread's switch-out to its switch-in,
//! and what the user is told when they can only be approximate.

use super::*;

/// How off-CPU intervals were closed, to tell the user when the off-CPU
/// column can only be an approximation.
#[derive(Clone, Copy, Debug, Default)]
pub(super) struct SwitchIns {
    /// By a `PERF_RECORD_SWITCH` switch-in (`--switch-events`).
    pub(super) records: u64,
    /// By the `next_pid` of a `sched:sched_switch` (system-wide).
    pub(super) next_pid: u64,
    /// By a later sample of the thread (an upper bound of the interval).
    pub(super) later_sample: u64,
}

/// An off-CPU interval waiting for its thread's switch-in.
pub(super) struct SwitchOut {
    pub(super) time: u64,
    pub(super) stack: PathId,
    pub(super) thread: ThreadId,
}

impl Reader<'_> {
    /// Charge the off-CPU interval of `tid` that ends at `time`; whether
    /// one was open.
    pub(super) fn switch_in(&mut self, tid: i32, time: u64) -> bool {
        let Some(col) = self.off_cpu_column else {
            return false;
        };
        let Some(out) = self.pending_off_cpu.remove(&tid) else {
            return false;
        };
        let Some(dt) = time.checked_sub(out.time) else {
            return false;
        };
        let mut values = vec![0i64; self.columns];
        if let Some(v) = values.get_mut(col) {
            *v = self.weight(col, dt);
        }
        self.push_sample(out.stack, out.thread, Some(out.time), &values);
        true
    }

    /// Say when the off-CPU column can only be part of the off-CPU time:
    /// `sched:sched_switch` was sampled (only some switch-outs recorded), or
    /// no switch-in was recorded (no `--switch-events` and not system-wide),
    /// so intervals end at the thread's next sample, an upper bound.
    pub(super) fn off_cpu_completeness(&mut self) {
        const HOW: &str =
            "record every switch with `perf record -e sched:sched_switch -c 1 --switch-events`";
        if self.off_cpu_column.is_none() {
            return;
        }
        for ev in self.events.iter().filter(|e| e.sched_switch) {
            if let Some(how) = &ev.sampled {
                self.profile.meta_mut().warnings.push(format!(
                    "off-CPU time is incomplete: sched:sched_switch was sampled ({how}), so most switch-outs were not recorded; {HOW}"
                ));
            }
        }
        let s = self.switch_ins;
        if s.later_sample > 0 && s.records == 0 && s.next_pid == 0 {
            self.profile.meta_mut().warnings.push(format!(
                "off-CPU time is approximate: no switch-in was recorded (no PERF_RECORD_SWITCH records, not system-wide), so {} off-CPU intervals end at their thread's next sample; {HOW}",
                s.later_sample
            ));
        }
    }
}
