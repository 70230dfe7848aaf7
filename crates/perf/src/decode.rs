//! Records decoded into owned values, on a thread of their own.
//!
//! Parsing records and walking their callchains needs no reader state, so
//! it runs on another core while the reader symbolizes: the decoder sends
//! batches of [`Decoded`] records through a bounded channel, in time order
//! ([`crate::records`]).

use std::sync::mpsc;

use crate::error::Error;
use crate::records::{self, Events};
use crate::unwind;
use linux_perf_event_reader::{
    constants, CpuMode, EventRecord, Mmap2FileId, RawEventRecord, ReadFormat, RecordParseInfo,
    RecordType, SampleFormat, SampleRecord,
};

/// `PERF_RECORD_MISC_SWITCH_OUT`.
const MISC_SWITCH_OUT: u16 = 1 << 13;
/// Record types handled beyond what linux-perf-event-reader parses.
const RECORD_LOST_SAMPLES: u32 = 13;
const RECORD_SWITCH: u32 = 14;
const RECORD_SWITCH_CPU_WIDE: u32 = 15;

/// `sched:sched_switch` raw field offsets (`format` of the tracepoint since
/// Linux 4.x: common header 8 bytes, `prev_comm[16]`, `prev_pid`,
/// `prev_prio`, `prev_state` (long), `next_comm[16]`, `next_pid`).
const SCHED_SWITCH_NEXT_PID: usize = 56;
const SCHED_SWITCH_PREV_PID: usize = 24;

/// Records per batch sent to the reader.
const BATCH: usize = 1024;
/// User stack bytes (`--call-graph dwarf`) per batch, at most about: a
/// batch ends when its stacks reach this. 8 batches of 1024 samples with
/// 16 KiB stacks would hold 128 MiB in flight; and the input's pages under
/// the batches in flight stay mapped until they are read (py-dwarf-100M:
/// 153 MB peak at 512 KiB, 165 MB at 1 MiB).
const BATCH_STACK_BYTES: usize = 1 << 19;
/// Batches in flight between the decoder and the reader.
const IN_FLIGHT: usize = 8;

/// One address of a sample's stack.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Entry {
    pub addr: u64,
    pub kernel: bool,
    /// With inlined frames (a DWARF-unwound entry).
    pub inline: bool,
}

/// The user registers and stack bytes of a `--call-graph dwarf` sample.
#[derive(Debug)]
pub(crate) struct UserStack {
    pub ip: u64,
    pub sp: u64,
    pub bp: u64,
    /// The stack bytes: a range of the input where the record lies in it,
    /// else of its batch's `stacks` (copied: a decompressed record, or one
    /// that wrapped around a pipe buffer).
    pub stack: std::ops::Range<usize>,
    pub in_input: bool,
}

/// What a batch's records refer to: the input, the batch's copied stack
/// bytes and its stack entries.
#[derive(Clone, Copy)]
pub(crate) struct BatchData<'b> {
    pub input: &'b [u8],
    pub stacks: &'b [u8],
    pub entries: &'b [Entry],
}

impl<'b> BatchData<'b> {
    /// The bytes of a sample's user stack.
    pub(crate) fn user_stack(&self, user: &UserStack) -> &'b [u8] {
        let bytes = if user.in_input {
            self.input
        } else {
            self.stacks
        };
        bytes.get(user.stack.clone()).unwrap_or_default()
    }
}

/// Where the decoder puts a sample's user stack: its range of the input
/// when it lies there, else a copy in `copied`; `bytes` counts both.
pub(crate) struct StackSink<'s> {
    pub input: &'s [u8],
    pub copied: &'s mut Vec<u8>,
    pub bytes: &'s mut usize,
}

/// A sample's callchain where it lies in the input (or its ip alone, for a
/// sample without one), read into entries by the decoder, which sends the
/// reader only the entries that differ from the previous stack of the
/// sample's thread ([`Sample::new`]).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Chain<'a> {
    /// The callchain's words (`PERF_CONTEXT_*` markers included), in the
    /// recording's byte order.
    words: &'a [u8],
    big_endian: bool,
    /// The sample's ip, used when it has no callchain.
    ip: Option<u64>,
    /// Whether the sample was taken in the kernel.
    kernel: bool,
    /// Whether the sample has a callchain.
    has_chain: bool,
}

impl Chain<'_> {
    /// Append the stack's addresses, leaf first, with their kernel or
    /// user context; whether it has a user part (whose first address is
    /// then the user ip).
    #[inline]
    pub(crate) fn entries(&self, out: &mut Vec<Entry>) -> bool {
        if !self.has_chain {
            let Some(ip) = self.ip else { return false };
            out.push(Entry {
                addr: ip,
                kernel: self.kernel,
                inline: false,
            });
            return !self.kernel;
        }
        let mut kernel = self.kernel;
        let mut user_seen = false;
        for word in self.words.chunks_exact(8) {
            let mut b = [0u8; 8];
            b.copy_from_slice(word);
            let addr = if self.big_endian {
                u64::from_be_bytes(b)
            } else {
                u64::from_le_bytes(b)
            };
            if addr >= constants::PERF_CONTEXT_MAX {
                match addr {
                    constants::PERF_CONTEXT_KERNEL | constants::PERF_CONTEXT_GUEST_KERNEL => {
                        kernel = true;
                    }
                    constants::PERF_CONTEXT_USER | constants::PERF_CONTEXT_GUEST_USER => {
                        kernel = false;
                    }
                    _ => {}
                }
                continue;
            }
            user_seen |= !kernel;
            // perf (6.1) expands inlined frames only for DWARF-unwound
            // entries, not for callchain entries.
            out.push(Entry {
                addr,
                kernel,
                inline: false,
            });
        }
        user_seen
    }
}

/// The key under which a sample's stack is compared with the previous
/// one's: its thread id, else its process id, else -1 (one rule for the
/// decoder and the reader's mirror of it).
#[inline]
pub(crate) fn chain_key(pid: Option<i32>, tid: Option<i32>) -> i32 {
    tid.or(pid).unwrap_or(-1)
}

/// A key's previous stack (outermost entry first) after a sample: its
/// `shared` outermost entries kept, then `new` (leaf first) inside them.
/// The decoder keeps each key's stack so, and the reader a mirror of it
/// (one rule for both).
#[inline]
pub(crate) fn follow_stack(last: &mut Vec<Entry>, shared: usize, new: &[Entry]) {
    last.truncate(shared);
    last.extend(new.iter().rev());
}

/// How many outermost entries a stack (`last`, outermost first) shares
/// with `entries` (leaf first).
#[inline]
pub(crate) fn shared_entries(last: &[Entry], entries: &[Entry]) -> usize {
    last.iter()
        .zip(entries.iter().rev())
        .take_while(|(a, b)| a == b)
        .count()
}

/// The decoder's previous stack of each [`chain_key`].
#[derive(Debug, Default)]
struct LastStacks {
    last: crate::fxhash::FxHashMap<i32, Vec<Entry>>,
}

impl LastStacks {
    /// How many outermost entries `entries` (leaf first) shares with the
    /// previous stack of `key`, which becomes `entries`.
    #[inline]
    fn diff(&mut self, key: i32, entries: &[Entry]) -> usize {
        let last = self.last.entry(key).or_default();
        let shared = shared_entries(last, entries);
        let new = entries.get(..entries.len() - shared).unwrap_or_default();
        follow_stack(last, shared, new);
        shared
    }
}

/// A sample, as the reader needs it.
#[derive(Debug)]
pub(crate) struct Sample {
    pub attr_index: usize,
    /// Where its record lies in the input (`None`: decompressed).
    pub offset: Option<u64>,
    pub pid: Option<i32>,
    pub tid: Option<i32>,
    pub timestamp: Option<u64>,
    pub period: Option<u64>,
    /// The callchain's addresses (or the ip) as a change from the previous
    /// sample of the same [`chain_key`]: that sample's `shared` outermost
    /// entries, then `new` (a range of the batch's `entries`, leaf first)
    /// inside them ([`follow_stack`]). The reader mirrors the decoder's
    /// previous stack of each key, so the entries shared, most of a stack,
    /// are neither decoded nor compared on its core.
    pub shared: u32,
    pub new: std::ops::Range<usize>,
    /// Whether the callchain has a user part (whose first address is then
    /// the user ip).
    pub user_ip_seen: bool,
    pub user: Option<UserStack>,
    /// `next_pid` of a `sched:sched_switch` sample's raw data.
    pub next_pid: Option<i32>,
    /// `prev_pid` of a `sched:sched_switch` sample's raw data.
    pub prev_pid: Option<i32>,
}

/// A record decoded.
#[derive(Debug)]
pub(crate) enum Decoded {
    Sample(Sample),
    Comm {
        pid: i32,
        tid: i32,
        name: String,
    },
    Fork {
        pid: i32,
        ppid: i32,
        tid: i32,
        ptid: i32,
    },
    Mmap {
        pid: i32,
        mode: CpuMode,
        start: u64,
        len: u64,
        pgoff: u64,
        path: Vec<u8>,
        build_id: Option<Vec<u8>>,
        executable: bool,
    },
    Lost(u64),
    SwitchIn {
        tid: i32,
        time: u64,
    },
    Malformed,
    Other,
}

/// Records decoded, in order, with the user stack bytes of their samples
/// (buffers reused from batch to batch).
#[derive(Debug, Default)]
pub(crate) struct Batch {
    pub records: Vec<Decoded>,
    pub stacks: Vec<u8>,
    /// The bytes of the batch's user stacks, copied or in the input.
    pub stack_bytes: usize,
    /// The samples' new stack entries ([`Sample::new`]).
    pub entries: Vec<Entry>,
    /// The input offset before which every record is in this batch or an
    /// earlier one: once the batch is read, the input's pages before it
    /// can go (the reader reads callchains where they lie).
    pub passed: usize,
}

/// What the decoder sends: a batch, or the error that ends the stream.
pub(crate) type Message = Result<Batch, Error>;

/// Decode every record of `runs`, in time order, into `send`, in batches;
/// returns when the records end or the receiver hangs up. Batches are
/// refilled from `recycled` (emptied by the receiver) when it has one, so
/// that their buffers are reused, and `pages` of the input before them
/// released.
pub(crate) fn decode_all<'a>(
    runs: records::Runs<impl records::RunIter<'a>>,
    events: &Events,
    progress: Option<&crate::Progress>,
    send: &mpsc::SyncSender<Message>,
    recycled: &mpsc::Receiver<Batch>,
    pages: crate::pages::Pages<'_>,
    input: &[u8],
) {
    // The input before a batch given back is read: its pages are released
    // here, a window at a time, not on the reader's thread.
    let released = std::cell::Cell::new(0);
    let next_batch = || {
        recycled
            .try_recv()
            .map(|mut b| {
                if b.passed >= released.get() + pages.window {
                    pages.release(released.get()..b.passed);
                    released.set(b.passed);
                }
                b.records.clear();
                b.stacks.clear();
                b.stack_bytes = 0;
                b.entries.clear();
                b.passed = 0;
                b
            })
            .unwrap_or_else(|_| Batch {
                records: Vec::with_capacity(BATCH),
                stacks: Vec::new(),
                stack_bytes: 0,
                entries: Vec::new(),
                passed: 0,
            })
    };
    let mut batch = next_batch();
    let mut open = true;
    let big_endian = runs.big_endian;
    let passed = std::cell::Cell::new(0);
    let mut stacks = ChainStacks::default();
    let each = |r: records::Record<'a>| {
        let d = decode(
            r.event,
            &r.raw,
            r.body,
            r.offset,
            big_endian,
            &mut StackSink {
                input,
                copied: &mut batch.stacks,
                bytes: &mut batch.stack_bytes,
            },
            &mut stacks,
            &mut batch.entries,
        );
        batch.records.push(d);
        if batch.records.len() >= BATCH || batch.stack_bytes >= BATCH_STACK_BYTES {
            batch.passed = passed.get();
            open = send
                .send(Ok(std::mem::replace(&mut batch, next_batch())))
                .is_ok();
        }
        open
    };
    records::for_each(runs, events, progress, each, |offset| passed.set(offset));
    if open && !batch.records.is_empty() {
        batch.passed = passed.get();
        let _ = send.send(Ok(batch));
    }
}

/// A channel for [`decode_all`].
pub(crate) fn channel() -> (mpsc::SyncSender<Message>, mpsc::Receiver<Message>) {
    mpsc::sync_channel(IN_FLIGHT)
}

/// The decoder's stacks: the previous one of each key, and a sample's
/// entries being compared with it.
#[derive(Debug, Default)]
struct ChainStacks {
    last: LastStacks,
    scratch: Vec<Entry>,
}

/// Decode one record (`body`: its bytes after the header); a sample's
/// user stack goes to `stacks`, its new stack entries to `entries`.
/// `offset`: where the record lies in the input (`None`: decompressed).
#[allow(clippy::too_many_arguments)]
fn decode<'a>(
    attr_index: usize,
    record: &RawEventRecord<'a>,
    body: &'a [u8],
    offset: Option<u64>,
    big_endian: bool,
    stacks: &mut StackSink<'_>,
    chains: &mut ChainStacks,
    entries: &mut Vec<Entry>,
) -> Decoded {
    let ty = record.record_type;
    let mut chain_words: &'a [u8] = &[];
    if ty == RecordType::SAMPLE {
        match callchain_of(body, &record.parse_info) {
            Some(words) => chain_words = words,
            None => return Decoded::Malformed,
        }
    }
    match ty.0 {
        RECORD_LOST_SAMPLES => {
            let d = record.data.as_slice();
            let lost = d
                .get(..8)
                .and_then(|b| <[u8; 8]>::try_from(b).ok())
                .map(u64::from_le_bytes)
                .unwrap_or(0);
            return Decoded::Lost(lost);
        }
        RECORD_SWITCH | RECORD_SWITCH_CPU_WIDE => {
            if record.misc & MISC_SWITCH_OUT == 0 {
                if let Ok(common) = record.common_data() {
                    if let (Some(tid), Some(time)) = (common.tid, common.timestamp) {
                        return Decoded::SwitchIn { tid, time };
                    }
                }
            }
            return Decoded::Other;
        }
        _ => {}
    }
    let Ok(parsed) = record.parse() else {
        return Decoded::Malformed;
    };
    match parsed {
        // The words found where the crate found its callchain (the two
        // walks agree; a sample where they would not is not read).
        EventRecord::Sample(s)
            if s.callchain.as_ref().map_or(0, |c| c.len()) != chain_words.len() / 8 =>
        {
            Decoded::Malformed
        }
        EventRecord::Sample(s) => {
            let chain = Chain {
                words: chain_words,
                big_endian,
                ip: s.ip,
                kernel: matches!(s.cpu_mode, CpuMode::Kernel | CpuMode::GuestKernel),
                has_chain: s.callchain.is_some(),
            };
            let ChainStacks { last, scratch } = chains;
            scratch.clear();
            let user_ip_seen = chain.entries(scratch);
            let shared = last.diff(chain_key(s.pid, s.tid), scratch);
            let start = entries.len();
            entries.extend_from_slice(scratch.get(..scratch.len() - shared).unwrap_or_default());
            let delta = StackDelta {
                shared: u32::try_from(shared).unwrap_or(u32::MAX),
                new: start..entries.len(),
                user_ip_seen,
            };
            Decoded::Sample(sample(attr_index, &s, offset, delta, stacks))
        }
        EventRecord::Comm(c) => Decoded::Comm {
            pid: c.pid,
            tid: c.tid,
            name: String::from_utf8_lossy(&c.name.as_slice()).into_owned(),
        },
        EventRecord::Fork(f) => Decoded::Fork {
            pid: f.pid,
            ppid: f.ppid,
            tid: f.tid,
            ptid: f.ptid,
        },
        EventRecord::Mmap(m) => Decoded::Mmap {
            pid: m.pid,
            mode: m.cpu_mode,
            start: m.address,
            len: m.length,
            pgoff: m.page_offset,
            path: m.path.as_slice().into_owned(),
            build_id: None,
            executable: m.is_executable,
        },
        EventRecord::Mmap2(m) => Decoded::Mmap {
            pid: m.pid,
            mode: m.cpu_mode,
            start: m.address,
            len: m.length,
            pgoff: m.page_offset,
            path: m.path.as_slice().into_owned(),
            build_id: match &m.file_id {
                Mmap2FileId::BuildId(id) if id.iter().any(|&b| b != 0) => Some(id.clone()),
                _ => None,
            },
            // PROT_EXEC = 4.
            executable: m.protection & 4 != 0 || m.protection == 0,
        },
        EventRecord::Lost(l) => Decoded::Lost(l.count),
        _ => Decoded::Other,
    }
}

/// A sample's stack as a change from its key's previous one.
struct StackDelta {
    shared: u32,
    new: std::ops::Range<usize>,
    user_ip_seen: bool,
}

/// The parts of a sample the reader needs; its user stack
/// (`--call-graph dwarf`) goes to `stacks`.
fn sample(
    attr_index: usize,
    s: &SampleRecord,
    offset: Option<u64>,
    delta: StackDelta,
    stacks: &mut StackSink<'_>,
) -> Sample {
    // --call-graph dwarf: the registers and stack, unwound by the reader.
    let user = match (&s.user_regs, &s.user_stack) {
        (Some(regs), Some((stack, dyn_size))) => {
            let ip = regs.get(unwind::REG_IP);
            let sp = regs.get(unwind::REG_SP);
            let bp = regs.get(unwind::REG_BP).unwrap_or(0);
            match (ip, sp) {
                (Some(ip), Some(sp)) => {
                    let valid = usize::try_from(*dyn_size)
                        .unwrap_or(usize::MAX)
                        .min(stack.len());
                    // Borrowed from the record unless it wrapped around a
                    // pipe buffer; in the input unless it was decompressed.
                    let bytes = stack.as_slice();
                    let bytes = bytes.get(..valid).unwrap_or_default();
                    *stacks.bytes = stacks.bytes.saturating_add(bytes.len());
                    let (stack, in_input) = match crate::slices::range_in(stacks.input, bytes) {
                        Some(range) => (range, true),
                        None => {
                            let start = stacks.copied.len();
                            stacks.copied.extend_from_slice(bytes);
                            (start..stacks.copied.len(), false)
                        }
                    };
                    Some(UserStack {
                        ip,
                        sp,
                        bp,
                        stack,
                        in_input,
                    })
                }
                _ => None,
            }
        }
        _ => None,
    };
    let raw_i32 = |at: usize| {
        s.raw.as_ref().and_then(|raw| {
            let raw = raw.as_slice();
            let b = raw.get(at..at.checked_add(4)?)?;
            <[u8; 4]>::try_from(b).ok().map(i32::from_le_bytes)
        })
    };
    let next_pid = raw_i32(SCHED_SWITCH_NEXT_PID);
    let prev_pid = raw_i32(SCHED_SWITCH_PREV_PID);
    Sample {
        attr_index,
        offset,
        pid: s.pid,
        tid: s.tid,
        timestamp: s.timestamp,
        period: s.period,
        shared: delta.shared,
        new: delta.new,
        user_ip_seen: delta.user_ip_seen,
        user,
        next_pid,
        prev_pid,
    }
}

/// The callchain words of a sample (`data`: its bytes after the header),
/// empty without one; `None` when linux-perf-event-reader cannot parse the
/// sample without overflowing (it multiplies the callchain length by 8
/// unchecked). Walks the sample the way it does, up to the callchain.
fn callchain_of<'a>(data: &'a [u8], pi: &RecordParseInfo) -> Option<&'a [u8]> {
    let be = matches!(pi.endian, linux_perf_event_reader::Endianness::BigEndian);
    let u64_at = |at: usize| -> Option<u64> {
        let a: [u8; 8] = data.get(at..at.checked_add(8)?)?.try_into().ok()?;
        Some(if be {
            u64::from_be_bytes(a)
        } else {
            u64::from_le_bytes(a)
        })
    };
    let f = pi.sample_format;
    let mut at = 0usize;
    for flag in [
        SampleFormat::IDENTIFIER,
        SampleFormat::IP,
        SampleFormat::TID,
        SampleFormat::TIME,
        SampleFormat::ADDR,
        SampleFormat::ID,
        SampleFormat::STREAM_ID,
        SampleFormat::CPU,
        SampleFormat::PERIOD,
    ] {
        if f.contains(flag) {
            at += 8;
        }
    }
    if f.contains(SampleFormat::READ) {
        let rf = pi.read_format;
        let extra = 8
            * (usize::from(rf.contains(ReadFormat::TOTAL_TIME_ENABLED))
                + usize::from(rf.contains(ReadFormat::TOTAL_TIME_RUNNING)));
        if rf.contains(ReadFormat::GROUP) {
            at += 8 + extra + 8 * usize::from(rf.contains(ReadFormat::ID));
        } else {
            let nr = u64_at(at)?;
            let per = 8 + 8 * u64::from(rf.contains(ReadFormat::ID));
            let bytes = nr.checked_mul(per).and_then(|b| usize::try_from(b).ok())?;
            at = at
                .checked_add(8 + extra)
                .and_then(|a| a.checked_add(bytes))?;
        }
    }
    if f.contains(SampleFormat::CALLCHAIN) {
        let nr = u64_at(at)?;
        let remaining = data.len().saturating_sub(at + 8) as u64;
        if nr > remaining / 8 {
            return None;
        }
        let start = at + 8;
        return data.get(start..start + nr as usize * 8);
    }
    Some(&[])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stack_is_borrowed_only_from_inside_the_input() {
        let input = vec![7u8; 64];
        // A copy is read back from the batch, a borrowed stack from the
        // input.
        let data = BatchData {
            input: &input,
            stacks: &[1, 2, 3],
            entries: &[],
        };
        let user = |stack, in_input| UserStack {
            ip: 0,
            sp: 0,
            bp: 0,
            stack,
            in_input,
        };
        assert_eq!(data.user_stack(&user(0..2, true)), &[7, 7]);
        assert_eq!(data.user_stack(&user(1..3, false)), &[2, 3]);
    }

    proptest::proptest! {
        /// The reader's mirror, followed with what the decoder sends for
        /// each sample, is the sample's stack, whatever the order of the
        /// keys' samples; and only entries past the shared ones are sent.
        #[test]
        fn a_mirror_follows_the_decoders_stacks(
            samples in proptest::collection::vec(
                (0i32..3, proptest::collection::vec((0u64..4, proptest::bool::ANY), 0..6)),
                0..60,
            )
        ) {
            let mut decoder = LastStacks::default();
            let mut mirror: std::collections::HashMap<i32, Vec<Entry>> = Default::default();
            for (key, stack) in samples {
                let entries: Vec<Entry> = stack
                    .iter()
                    .map(|&(addr, kernel)| Entry { addr, kernel, inline: false })
                    .collect();
                let shared = decoder.diff(key, &entries);
                let new = &entries[..entries.len() - shared];
                let m = mirror.entry(key).or_default();
                proptest::prop_assert!(shared <= m.len());
                proptest::prop_assert!(shared == m.len() || shared == entries.len()
                    || m[shared] != entries[entries.len() - 1 - shared]);
                follow_stack(m, shared, new);
                let leaf_first: Vec<Entry> = m.iter().rev().copied().collect();
                proptest::prop_assert_eq!(leaf_first, entries);
            }
        }
    }

    fn words(addrs: &[u64], big_endian: bool) -> Vec<u8> {
        addrs
            .iter()
            .flat_map(|a| {
                if big_endian {
                    a.to_be_bytes()
                } else {
                    a.to_le_bytes()
                }
            })
            .collect()
    }

    #[test]
    fn a_chain_reads_its_contexts_in_either_byte_order() {
        let chain = [
            constants::PERF_CONTEXT_KERNEL,
            0xffff_ffff_8100_0010,
            0xffff_ffff_8100_0020,
            constants::PERF_CONTEXT_USER,
            0x40_1000,
            0x40_2000,
        ];
        for big_endian in [false, true] {
            let bytes = words(&chain, big_endian);
            let c = Chain {
                words: &bytes,
                big_endian,
                ip: Some(1),
                kernel: false,
                has_chain: true,
            };
            let mut out = Vec::new();
            assert!(c.entries(&mut out));
            let got: Vec<(u64, bool)> = out.iter().map(|e| (e.addr, e.kernel)).collect();
            assert_eq!(
                got,
                [
                    (0xffff_ffff_8100_0010, true),
                    (0xffff_ffff_8100_0020, true),
                    (0x40_1000, false),
                    (0x40_2000, false)
                ],
                "big endian: {big_endian}"
            );
            assert!(out.iter().all(|e| !e.inline));
        }
    }

    #[test]
    fn a_kernel_only_chain_has_no_user_part_and_no_chain_is_the_ip() {
        let bytes = words(
            &[constants::PERF_CONTEXT_KERNEL, 0xffff_ffff_8100_0010],
            false,
        );
        let mut c = Chain {
            words: &bytes,
            big_endian: false,
            ip: Some(0xffff_ffff_8100_0010),
            kernel: true,
            has_chain: true,
        };
        let mut out = Vec::new();
        assert!(!c.entries(&mut out), "no user part");
        assert_eq!(out.len(), 1);
        c.has_chain = false;
        c.kernel = false;
        c.ip = Some(0x40_1000);
        out.clear();
        assert!(c.entries(&mut out), "a user ip is the user part");
        assert_eq!(
            out.first().map(|e| (e.addr, e.kernel)),
            Some((0x40_1000, false))
        );
    }
}
