#!/usr/bin/env python3
"""Per-thread off-CPU time of a perf.data recording of sched:sched_switch,
from perf's own text: the reference stackconv's off-CPU values are checked
against (testdata/record.sh writes its output next to the recording).

Input: the output of

    perf script --ns -F pid,tid,time,event,trace [--show-switch-events] -i X.data

on stdin (`--show-switch-events` for recordings made with --switch-events:
it prints the PERF_RECORD_SWITCH records). perf script prints records in
time order.

Definition (DESIGN.md, "Off-CPU"): a thread is switched out at a
sched:sched_switch whose prev_pid is the thread, and switched back in at the
first later one of
  - a PERF_RECORD_SWITCH record of the thread that is not an OUT
    (per-process recordings with --switch-events),
  - a sched:sched_switch whose next_pid is the thread (system-wide
    recordings),
  - the thread's next sched:sched_switch as prev_pid (it must have run in
    between; only when the switch-in was not recorded).
Its off-CPU time is the sum of these intervals. An interval still open at the
end of the recording is not counted (its length is unknown). pid 0, the idle
task (swapper, one per CPU, all with tid 0), is left out. A thread's last
switch-out, when it exits (prev_state=X), has no switch-in: it stays open.

Output, one line per thread, sorted by pid then tid:

    pid<TAB>tid<TAB>off_cpu_ns<TAB>intervals

after comment lines (#) that say what was read.
"""

import re
import sys

LINE = re.compile(
    r"^\s*(?P<pid>-?\d+)/(?P<tid>-?\d+)\s+(?P<sec>\d+)\.(?P<frac>\d+):\s+(?P<rest>.*)$"
)
FIELD = re.compile(r"\b(prev_pid|next_pid)=(-?\d+)")


def time_ns(sec, frac):
    if len(frac) > 9:
        raise ValueError(f"time with more than 9 decimals: {sec}.{frac}")
    return int(sec) * 1_000_000_000 + int(frac.ljust(9, "0"))


def main():
    open_since = {}  # tid -> switch-out time (ns)
    pid_of = {}  # tid -> pid
    total = {}  # tid -> (ns, intervals)
    switches = records = 0
    last_time = None

    def close(tid, t):
        start = open_since.pop(tid, None)
        if start is None:
            return
        if t < start:
            raise ValueError(f"tid {tid}: switch-in at {t} before switch-out at {start}")
        ns, n = total.get(tid, (0, 0))
        total[tid] = (ns + t - start, n + 1)

    for lineno, line in enumerate(sys.stdin, 1):
        if not line.strip():
            continue
        m = LINE.match(line)
        if not m:
            raise ValueError(f"line {lineno}: not pid/tid time: ...: {line.rstrip()!r}")
        records += 1
        pid, tid = int(m["pid"]), int(m["tid"])
        t = time_ns(m["sec"], m["frac"])
        if last_time is not None and t < last_time:
            raise ValueError(f"line {lineno}: time goes back ({t} < {last_time})")
        last_time = t
        rest = m["rest"]
        if rest.startswith("PERF_RECORD_SWITCH"):
            words = rest.split()
            if len(words) < 2 or words[1] not in ("IN", "OUT"):
                raise ValueError(f"line {lineno}: switch record without IN/OUT: {rest!r}")
            if words[1] == "IN" and tid > 0:
                close(tid, t)
            continue
        if not rest.startswith("sched:sched_switch:"):
            continue
        fields = dict(FIELD.findall(rest))
        if "prev_pid" not in fields or "next_pid" not in fields:
            raise ValueError(f"line {lineno}: sched_switch without prev_pid/next_pid: {rest!r}")
        prev, nxt = int(fields["prev_pid"]), int(fields["next_pid"])
        # perf gives the sample of a thread's last switch, on exit
        # (prev_state=X), tid -1: the kernel has already unhashed it.
        if prev != tid and tid != -1:
            raise ValueError(f"line {lineno}: sched_switch of tid {tid} has prev_pid {prev}")
        switches += 1
        if nxt > 0 and nxt != prev:
            close(nxt, t)
        if prev > 0:
            close(prev, t)
            open_since[prev] = t
            if pid > 0:
                pid_of[prev] = pid
            total.setdefault(prev, (0, 0))

    print("# off-CPU time per thread (testdata/offcpu_intervals.py): from each")
    print("# sched:sched_switch (prev_pid) to the thread's next switch-in")
    print(f"# records read: {records}; sched_switch: {switches}; "
          f"intervals still open at the end (not counted): {len(open_since)}")
    print("# pid\ttid\toff_cpu_ns\tintervals")
    for tid in sorted(total, key=lambda k: (pid_of.get(k, 0), k)):
        ns, n = total[tid]
        print(f"{pid_of.get(tid, 0)}\t{tid}\t{ns}\t{n}")


if __name__ == "__main__":
    try:
        main()
    except ValueError as e:
        print(f"offcpu_intervals.py: {e}", file=sys.stderr)
        sys.exit(1)
