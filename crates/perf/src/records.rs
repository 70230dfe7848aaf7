//! The validated records in the order `perf script` lists them, straight
//! from the container's byte ranges: no copy and no second parse.
//!
//! perf writes each CPU's ring buffer in turn, so records are in time
//! order per CPU only. It ends every pass over the buffers with a
//! `FINISHED_ROUND` record: a record read before the previous round's end
//! cannot be later than every record read since, so when a round ends,
//! the records buffered so far that are no later than the previous round's
//! latest time are sorted and passed on, and the rest wait for the next
//! round (perf's `ordered_events`, and linux-perf-data's sorter).
//! Records are sorted by (time, position in the file): equal times keep
//! their file order.

use std::collections::HashMap;

use byteorder::{BigEndian, ByteOrder, LittleEndian};
use linux_perf_event_reader::{
    get_record_id, get_record_identifier, get_record_timestamp, AttrFlags, Endianness,
    PerfEventAttr, RawData, RawEventRecord, RecordIdParseInfo, RecordParseInfo, RecordType,
    SampleFormat,
};

use crate::container::{rtype, Bytes, Container, EventInfo};
use crate::error::Error;

/// The events of a recording: their attributes, and how a record finds
/// its event.
pub(crate) struct Events {
    /// The attributes, in the container's order.
    pub attrs: Vec<PerfEventAttr>,
    parse_infos: Vec<RecordParseInfo>,
    ids: IdMode,
    /// Sample id -> event index.
    id_to_event: HashMap<u64, usize>,
    be: bool,
}

/// How a record's event is found.
enum IdMode {
    /// One event: every record is its.
    One,
    /// Several events whose records carry the id at the same place.
    Same(RecordIdParseInfo),
    /// Several events with `PERF_SAMPLE_IDENTIFIER` (the id first in a
    /// sample, last in another record when the bool, `sample_id_all`).
    Identifier(bool),
}

impl Events {
    /// The events of `c`: its attributes parsed (the container checked
    /// that they parse), and how records name them.
    pub(crate) fn new(c: &Container) -> Result<Self, Error> {
        let be = c.big_endian;
        let endian = if be {
            Endianness::BigEndian
        } else {
            Endianness::LittleEndian
        };
        let mut attrs = Vec::with_capacity(c.events.len());
        for ev in &c.events {
            attrs.push(parse_attr(ev, be)?);
        }
        let parse_infos: Vec<RecordParseInfo> = attrs
            .iter()
            .map(|a| RecordParseInfo::new(a, endian))
            .collect();
        let mut id_to_event = HashMap::new();
        for (i, ev) in c.events.iter().enumerate() {
            for &id in &ev.ids {
                id_to_event.insert(id, i);
            }
        }
        let ids = match parse_infos.split_first() {
            None => {
                return Err(Error::Invalid {
                    offset: 0,
                    what: "event list",
                    detail: "the recording describes no event (no perf_event_attr)".into(),
                })
            }
            Some((_, [])) => IdMode::One,
            Some((first, rest)) if rest.iter().all(|p| p.id_parse_info == first.id_parse_info) => {
                IdMode::Same(first.id_parse_info)
            }
            Some(_) => {
                // Records of different layouts: each must say its event
                // the same way (perf always records IDENTIFIER then).
                let id_all = |a: &PerfEventAttr| a.flags.contains(AttrFlags::SAMPLE_ID_ALL);
                let first_all = attrs.first().is_some_and(id_all);
                for (a, ev) in attrs.iter().zip(&c.events) {
                    if !a.sample_format.contains(SampleFormat::IDENTIFIER) {
                        return Err(Error::Invalid {
                            offset: ev.offset,
                            what: "perf_event_attr",
                            detail: "several events whose records differ in layout, and this one's do not start with their event id (no PERF_SAMPLE_IDENTIFIER): records cannot be told apart".into(),
                        });
                    }
                    if id_all(a) != first_all {
                        return Err(Error::Invalid {
                            offset: ev.offset,
                            what: "perf_event_attr",
                            detail: "sample_id_all differs from the first event's: records cannot be told apart".into(),
                        });
                    }
                }
                IdMode::Identifier(first_all)
            }
        };
        Ok(Events {
            attrs,
            parse_infos,
            ids,
            id_to_event,
            be,
        })
    }

    /// The event of a record of built-in type `ty` with body `data`, and
    /// its time (from the sample, or the `sample_id_all` fields).
    fn event_and_time(&self, ty: RecordType, data: RawData) -> (usize, Option<u64>) {
        if self.be {
            self.event_and_time_in::<BigEndian>(ty, data)
        } else {
            self.event_and_time_in::<LittleEndian>(ty, data)
        }
    }

    fn event_and_time_in<T: ByteOrder>(
        &self,
        ty: RecordType,
        data: RawData,
    ) -> (usize, Option<u64>) {
        let id = match &self.ids {
            IdMode::One => None,
            IdMode::Same(info) => get_record_id::<T>(ty, data, info),
            IdMode::Identifier(id_all) => get_record_identifier::<T>(ty, data, *id_all),
        };
        // A record whose id names no event is read as the first event's,
        // as perf does.
        let event = id
            .and_then(|id| self.id_to_event.get(&id).copied())
            .unwrap_or(0);
        let time = self
            .parse_infos
            .get(event)
            .and_then(|info| get_record_timestamp::<T>(ty, data, info));
        (event, time)
    }

    fn parse_info(&self, event: usize) -> Option<RecordParseInfo> {
        self.parse_infos.get(event).copied()
    }
}

/// Whether samples of these events carry a copy of the user stack to
/// unwind (`perf record --call-graph dwarf`).
pub(crate) fn unwinds_user_stacks(c: &Container<'_>) -> bool {
    c.events
        .iter()
        .filter_map(|ev| parse_attr(ev, c.big_endian).ok())
        .any(|a| a.sample_format.contains(SampleFormat::STACK_USER))
}

fn parse_attr(ev: &EventInfo, be: bool) -> Result<PerfEventAttr, Error> {
    let parsed = if be {
        PerfEventAttr::parse::<_, BigEndian>(&ev.attr[..])
    } else {
        PerfEventAttr::parse::<_, LittleEndian>(&ev.attr[..])
    };
    parsed.map(|(a, _)| a).map_err(|e| Error::Invalid {
        offset: ev.offset,
        what: "perf_event_attr",
        detail: format!("not supported by linux-perf-event-reader ({e})"),
    })
}

/// A record waiting for its round to end.
struct Pending<'a> {
    time: Option<u64>,
    /// Its position among the records, for equal times.
    seq: u64,
    ty: RecordType,
    misc: u16,
    body: &'a [u8],
    event: usize,
    /// Where it lies in the input (`None`: decompressed).
    offset: Option<u64>,
}

impl Pending<'_> {
    fn key(&self) -> (Option<u64>, u64) {
        (self.time, self.seq)
    }
}

/// A record in time order, as [`for_each`] passes it.
pub(crate) struct Record<'a> {
    /// The event it belongs to.
    pub event: usize,
    pub raw: RawEventRecord<'a>,
    /// Its bytes after the header (`raw`'s data).
    pub body: &'a [u8],
    /// Where it lies in the input (`None`: in decompressed data).
    pub offset: Option<u64>,
}

/// Input bytes read between two progress reports.
const PROGRESS_STEP: u64 = 4 << 20;

/// The data records of a recording, run by run, in file order: each run's
/// bytes and, when they are the input's, where they start in it (as
/// [`Container::record_ranges`] gives them, or as the walk finds them,
/// [`crate::container::Streamed`]); their byte order and the input's
/// length.
pub(crate) struct Runs<I> {
    pub runs: I,
    pub big_endian: bool,
    pub input_len: usize,
}

/// What [`Runs::runs`] goes through: each run's bytes and, when they are
/// the input's, where they start in it.
pub(crate) trait RunIter<'a>: Iterator<Item = (&'a [u8], Option<usize>)> {}

impl<'a, I: Iterator<Item = (&'a [u8], Option<usize>)>> RunIter<'a> for I {}

/// The runs of a walked container.
pub(crate) fn runs_of<'a>(c: &'a Container<'a>) -> Runs<impl RunIter<'a> + 'a> {
    Runs {
        runs: c.record_ranges(),
        big_endian: c.big_endian,
        input_len: c.input_len(),
    }
}

/// Pass every record of a built-in type (sample, mmap, comm, ...) of
/// `runs` to `each`, in time order (see the module's documentation); stops
/// when `each` returns `false`. Reports progress by input offset, and after
/// a round, to `passed_on`, the input offset before which every record has
/// been passed to `each` (when it grew).
pub(crate) fn for_each<'a>(
    runs: Runs<impl RunIter<'a>>,
    events: &Events,
    progress: Option<&crate::Progress>,
    mut each: impl FnMut(Record<'a>) -> bool,
    mut passed_on: impl FnMut(usize),
) {
    let be = runs.big_endian;
    let mut sorter = Sorter::default();
    let mut seq = 0u64;
    let mut reported = 0u64;
    let mut passed = 0usize;
    let len = runs.input_len as u64;
    let mut emit = |sorter: &mut Sorter<'a>, all: bool| -> bool {
        for p in sorter.ready(all) {
            let Some(parse_info) = events.parse_info(p.event) else {
                continue;
            };
            let raw = RawEventRecord {
                record_type: p.ty,
                misc: p.misc,
                data: RawData::Single(p.body),
                parse_info,
            };
            if !each(Record {
                event: p.event,
                raw,
                body: p.body,
                offset: p.offset,
            }) {
                return false;
            }
        }
        true
    };
    for (bytes, base) in runs.runs {
        let r = Bytes { data: bytes, be };
        let mut at = 0usize;
        let mut warmer = crate::pages::Warmer::default();
        while let (Some(ty), Some(misc), Some(size)) =
            (r.u32(at as u64), r.u16(at as u64 + 4), r.u16(at as u64 + 6))
        {
            warmer.ahead(bytes, at);
            let size = usize::from(size);
            // The container walk checked every size; a record that does
            // not fit ends the range all the same.
            let Some(rec) = bytes.get(at..at + size).filter(|_| size >= 8) else {
                break;
            };
            let offset = base.map(|b| (b + at) as u64);
            at += size;
            if ty == rtype::FINISHED_ROUND {
                sorter.finish_round();
                if !emit(&mut sorter, false) {
                    return;
                }
                // Input behind every waiting record is passed on.
                if let Some(base) = base {
                    let oldest = sorter.oldest_offset().map_or(base + at, |o| o as usize);
                    if oldest > passed {
                        passed = oldest;
                        passed_on(passed);
                    }
                }
                if let (Some(p), Some(o)) = (progress, offset) {
                    if o >= reported.saturating_add(PROGRESS_STEP) {
                        reported = o;
                        p.report(o, len);
                    }
                }
                continue;
            }
            let ty = RecordType(ty);
            if !ty.is_builtin_type() {
                continue;
            }
            let body = rec.get(8..).unwrap_or_default();
            let (event, time) = events.event_and_time(ty, RawData::Single(body));
            sorter.insert(Pending {
                time,
                seq,
                ty,
                misc,
                body,
                event,
                offset,
            });
            seq += 1;
        }
    }
    sorter.finish();
    emit(&mut sorter, true);
}

/// Records of the rounds not passed on yet.
#[derive(Default)]
struct Sorter<'a> {
    waiting: Vec<Pending<'a>>,
    /// The latest time of the rounds before the last one ended.
    prev_max: Option<u64>,
    /// The latest time seen.
    cur_max: Option<u64>,
    /// How many of `waiting` (its first ones once sorted) are ready.
    ready: usize,
}

impl<'a> Sorter<'a> {
    fn insert(&mut self, p: Pending<'a>) {
        if p.time > self.cur_max {
            self.cur_max = p.time;
        }
        self.waiting.push(p);
    }

    /// A round ended: the records no later than the previous round's
    /// latest time are ready.
    fn finish_round(&mut self) {
        let prev_max = self.prev_max;
        let n = self.waiting.iter().filter(|p| p.time <= prev_max).count();
        if n > 0 {
            if n < self.waiting.len() {
                self.waiting.select_nth_unstable_by_key(n - 1, Pending::key);
            }
            if let Some(first) = self.waiting.get_mut(..n) {
                first.sort_unstable_by_key(Pending::key);
            }
        }
        self.ready = n;
        self.prev_max = self.cur_max;
    }

    /// The input ended: every record is ready.
    fn finish(&mut self) {
        self.waiting.sort_unstable_by_key(Pending::key);
        self.ready = self.waiting.len();
    }

    /// The ready records, in order (all of them when `all`).
    fn ready(&mut self, all: bool) -> std::vec::Drain<'_, Pending<'a>> {
        let n = if all { self.waiting.len() } else { self.ready };
        self.ready = 0;
        self.waiting.drain(..n.min(self.waiting.len()))
    }

    /// The input offset of the earliest waiting record from the input.
    fn oldest_offset(&self) -> Option<u64> {
        self.waiting.iter().filter_map(|p| p.offset).min()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pending(time: u64, seq: u64) -> Pending<'static> {
        Pending {
            time: Some(time),
            seq,
            ty: RecordType::SAMPLE,
            misc: 0,
            body: &[],
            event: 0,
            offset: None,
        }
    }

    fn take(s: &mut Sorter, all: bool) -> Vec<u64> {
        s.ready(all).filter_map(|p| p.time).collect()
    }

    #[test]
    fn a_round_passes_on_what_no_later_record_can_precede() {
        // Two CPUs written in turn: times 1 2 (cpu 0), 2 3 4 (cpu 1).
        let mut s = Sorter::default();
        for (i, t) in [1, 2, 3, 2, 4].into_iter().enumerate() {
            s.insert(pending(t, i as u64));
        }
        s.finish_round();
        assert!(
            take(&mut s, false).is_empty(),
            "nothing before the first round's end is safe"
        );
        for (i, t) in [3, 5, 6, 7, 4, 5].into_iter().enumerate() {
            s.insert(pending(t, 10 + i as u64));
        }
        s.finish_round();
        assert_eq!(take(&mut s, false), [1, 2, 2, 3, 3, 4, 4]);
        s.finish();
        assert_eq!(take(&mut s, true), [5, 5, 6, 7]);
    }

    #[test]
    fn equal_times_keep_their_file_order() {
        let mut s = Sorter::default();
        for seq in [0, 1, 2] {
            s.insert(pending(5, seq));
        }
        s.finish();
        let order: Vec<u64> = s.ready(true).map(|p| p.seq).collect();
        assert_eq!(order, [0, 1, 2]);
    }
}
