//! The perf.data container, validated before any record is decoded.
//!
//! This module reads the container itself, trusting no size the file
//! states: the file header and its section tables (or the pipe header),
//! the attributes, the feature sections we use (EVENT_DESC names,
//! BUILD_ID, OSRELEASE, CLOCK_DATA), and every record header of the data
//! section, each checked against the input's length. Compressed records
//! (`perf record -z`) are decompressed here with a bound on their output.
//! (linux-perf-data 0.13, which reads the same format, allocates every
//! feature section's claimed size, refuses a whole file for one truncated
//! feature section and takes a truncated pipe record for a clean end.)
//!
//! What comes out is the attributes and the data records as byte ranges
//! of the input (not copied; decompressed records in buffers of their
//! own), every record whole and in bounds, read in time order by
//! [`crate::records`], and the metadata read on the way.

use linux_perf_event_reader::PerfEventAttr;

use crate::error::Error;
use crate::pages::Pages;
use crate::symbolize::KERNEL_BUILD_ID_PATH;

/// Called at the first sample taken in the kernel, with the recorded
/// kernel's build id when the header names it.
pub(crate) type OnKernelSample = Box<dyn FnOnce(Option<&[u8]>) + Send>;

/// Called with the container once the files with samples are known.
pub(crate) type OnFiles = Box<dyn for<'c> FnOnce(&Container<'c>) + Send>;

/// Work the walk's findings let a caller start early, on other threads.
#[derive(Default)]
pub(crate) struct Hooks {
    /// At the first sample taken in the kernel, with the kernel's build
    /// id when recorded.
    pub on_kernel_sample: Option<OnKernelSample>,
    /// Once the events and the files with samples (the BUILD_ID feature)
    /// are known: in file mode before the walk; not called in pipe mode,
    /// whose build ids come at the end of the stream.
    pub on_files: Option<OnFiles>,
}

mod decompress;
mod features;

use features::{parse_clock_data, parse_event_desc, parse_header_string};

const FILE_HEADER_SIZE: u64 = 104;
const PIPE_HEADER_SIZE: u64 = 16;
const RECORD_HEADER_SIZE: u64 = 8;
/// `PERF_ATTR_SIZE_VER0`: the smallest `perf_event_attr`.
const ATTR_SIZE_MIN: u64 = 64;
/// Larger than any `perf_event_attr` a kernel has defined (136 bytes in 6.x).
const ATTR_SIZE_MAX: u64 = 4096;
/// Bound on what one compressed record may decompress to, and on the
/// decompressed bytes carried over to the next compressed record. perf
/// compresses at most one ring-buffer chunk (`mmap_len`, 512 KiB by
/// default) per record.
const DECOMPRESSED_MAX: usize = 64 << 20;

/// Feature ids (`enum HEADER_FEAT` in perf's `util/header.h`).
const FEAT_BUILD_ID: u64 = 2;
const FEAT_OSRELEASE: u64 = 4;
const FEAT_EVENT_DESC: u64 = 12;
/// `HEADER_FEAT_COMPRESSED`: the data records are compressed.
const FEAT_COMPRESSED: u64 = 27;
const FEAT_CLOCK_DATA: u64 = 29;

/// Record types (`enum perf_event_type`, `enum perf_user_event_type`).
pub(crate) mod rtype {
    pub const SAMPLE: u32 = 9;
    pub const MMAP2: u32 = 10;
    pub const KERNEL_LAST: u32 = 21;
    pub const HEADER_ATTR: u32 = 64;
    pub const HEADER_EVENT_TYPE: u32 = 65;
    pub const HEADER_TRACING_DATA: u32 = 66;
    pub const HEADER_BUILD_ID: u32 = 67;
    pub const FINISHED_ROUND: u32 = 68;
    pub const AUXTRACE: u32 = 71;
    pub const EVENT_UPDATE: u32 = 78;
    pub const HEADER_FEATURE: u32 = 80;
    pub const COMPRESSED: u32 = 81;
    pub const COMPRESSED2: u32 = 83;
    pub const USER_LAST: u32 = 83;
}

/// `PERF_RECORD_MISC_MMAP_BUILD_ID`: an MMAP2 record carries a build id.
const MISC_MMAP_BUILD_ID: u16 = 1 << 14;
/// `PERF_RECORD_MISC_BUILD_ID_SIZE`: a build-id event states its size.
const MISC_BUILD_ID_SIZE: u16 = 1 << 15;
/// `PERF_EVENT_UPDATE__NAME`.
const EVENT_UPDATE_NAME: u64 = 2;

/// One event (attribute) of the recording.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct EventInfo {
    /// The raw `perf_event_attr` bytes (its own `size` long).
    pub attr: Vec<u8>,
    /// The sample ids that belong to this event.
    pub ids: Vec<u64>,
    /// The event's name (EVENT_DESC or EVENT_UPDATE), when recorded.
    pub name: Option<String>,
    /// Where the attribute is in the input (for errors).
    pub offset: u64,
}

/// A run of data records: a range of the input (the records as they are,
/// not copied) or bytes made here (decompressed).
#[derive(Clone, Debug)]
enum Segment {
    Input(std::ops::Range<usize>),
    Owned(Vec<u8>),
}

/// The validated container.
#[derive(Clone, Debug, Default)]
pub(crate) struct Container<'a> {
    /// The input.
    input: &'a [u8],
    /// Its pages, released as the records are read.
    pages: Pages<'a>,
    /// The data records, in file order.
    segments: Vec<Segment>,
    /// Whether the recording is big-endian.
    pub big_endian: bool,
    /// Sample records taken in kernel mode (host or guest): the only ones
    /// with kernel addresses in their stacks.
    pub kernel_samples: u64,
    /// The events in the order of the stream's HEADER_ATTR records.
    pub events: Vec<EventInfo>,
    /// The files perf wrote a build id for (those with samples), from the
    /// BUILD_ID feature or HEADER_BUILD_ID records.
    pub build_ids: Vec<BuildId>,
    /// Problems that did not stop reading.
    pub warnings: Vec<String>,
    /// Records of a type this reader does not know, skipped.
    pub unknown_records: u64,
    /// Records dropped because their content was malformed.
    pub malformed_records: u64,
    /// Whether the input was in pipe mode.
    pub pipe: bool,
    /// Whether the records were compressed (`perf record -z`).
    pub compressed: bool,
    /// The CLOCK_DATA feature: (wall clock ns since the epoch, the
    /// recording clock's ns at the same instant).
    pub clock: Option<(u64, u64)>,
    /// The OSRELEASE feature: the kernel release the recording was made
    /// on (`uname -r` then).
    pub os_release: Option<String>,
}

/// Endian-aware bounds-checked reads.
#[derive(Clone, Copy)]
pub(crate) struct Bytes<'a> {
    pub(crate) data: &'a [u8],
    /// Big-endian.
    pub(crate) be: bool,
}

impl<'a> Bytes<'a> {
    fn len(&self) -> u64 {
        self.data.len() as u64
    }

    fn slice(&self, offset: u64, len: u64) -> Option<&'a [u8]> {
        let start = usize::try_from(offset).ok()?;
        let len = usize::try_from(len).ok()?;
        self.data.get(start..start.checked_add(len)?)
    }

    fn array<const N: usize>(&self, offset: u64) -> Option<[u8; N]> {
        self.slice(offset, N as u64)?.try_into().ok()
    }

    pub(crate) fn u16(&self, offset: u64) -> Option<u16> {
        let a = self.array::<2>(offset)?;
        Some(if self.be {
            u16::from_be_bytes(a)
        } else {
            u16::from_le_bytes(a)
        })
    }

    pub(crate) fn u32(&self, offset: u64) -> Option<u32> {
        let a = self.array::<4>(offset)?;
        Some(if self.be {
            u32::from_be_bytes(a)
        } else {
            u32::from_le_bytes(a)
        })
    }

    fn u64(&self, offset: u64) -> Option<u64> {
        let a = self.array::<8>(offset)?;
        Some(if self.be {
            u64::from_be_bytes(a)
        } else {
            u64::from_le_bytes(a)
        })
    }
}

/// A file perf wrote a build id for.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct BuildId {
    /// The path as recorded.
    pub path: Vec<u8>,
    pub id: Vec<u8>,
    /// Whether the file is the kernel's or a kernel module's (its
    /// addresses are named through kallsyms, not from the file).
    pub kernel: bool,
}

/// Whether a record's `misc` says it was taken in the kernel
/// (PERF_RECORD_MISC_CPUMODE_MASK: KERNEL 1, GUEST_KERNEL 3).
pub(crate) fn kernel_mode(misc: u16) -> bool {
    matches!(misc & 7, 1 | 3)
}

/// Whether `prefix` starts like a perf.data file or pipe stream.
pub(crate) fn looks_like(prefix: &[u8]) -> bool {
    prefix.starts_with(b"PERFILE2") || prefix.starts_with(b"2ELIFREP")
}

/// Read and validate the container of a perf.data file or pipe stream;
/// compressed records may decompress to `max_decompressed` bytes in all.
///
/// `pages` are `data`'s pages when it is a mapped file: the walk releases
/// them behind it (see [`crate::pages`]). `hooks` are called as the walk
/// learns what they wait for.
pub(crate) fn parse<'a>(
    data: &'a [u8],
    pages: Pages<'a>,
    max_decompressed: u64,
    hooks: Hooks,
    stream: bool,
) -> Result<Parsed<'a>, Error> {
    let len = data.len() as u64;
    let magic = data.get(..8).ok_or(Error::Truncated {
        offset: 0,
        what: "perf.data header",
        needed: PIPE_HEADER_SIZE,
        len,
    })?;
    let be = match magic {
        b"PERFILE2" => false,
        b"2ELIFREP" => true,
        _ => return Err(Error::NotPerfData),
    };
    let b = Bytes { data, be };
    let header_size = b.u64(8).ok_or(Error::Truncated {
        offset: 0,
        what: "perf.data header",
        needed: PIPE_HEADER_SIZE,
        len,
    })?;
    let mut w = Walker::new(b);
    w.on_kernel_sample = hooks.on_kernel_sample;
    w.on_files = hooks.on_files;
    w.c.pages = pages;
    w.max_decompressed = max_decompressed;
    if header_size == PIPE_HEADER_SIZE {
        w.c.pipe = true;
        w.walk(PIPE_HEADER_SIZE, len)?;
        return w.finish().map(Parsed::Walked);
    }
    let (start, end) = w.file_mode(header_size)?;
    match w.preview().filter(|_| stream) {
        Some(preview) => Ok(Parsed::Streamed(Box::new(Streamed {
            w,
            start,
            end,
            preview,
        }))),
        None => {
            w.walk(start, end)?;
            w.finish().map(Parsed::Walked)
        }
    }
}

/// What [`parse`] gives: the walked container, or a recording whose data
/// records can be read while they are walked.
pub(crate) enum Parsed<'a> {
    Walked(Container<'a>),
    Streamed(Box<Streamed<'a>>),
}

/// A recording in file mode, its header, attributes and features read,
/// whose data section is still to walk: [`Streamed::walk`] passes on the
/// input ranges of the records as it validates them, so that they can be
/// read meanwhile, and ends as [`parse`] would have.
pub(crate) struct Streamed<'a> {
    w: Walker<'a>,
    /// The data section.
    start: u64,
    end: u64,
    preview: Container<'a>,
}

/// Input bytes of validated records gathered before they are passed on.
const STREAM_CHUNK: usize = 1 << 20;

impl<'a> Streamed<'a> {
    /// The container the walk will give when the records change nothing
    /// that is known before it ([`Container::same_before_records`]), its
    /// records and their counts aside.
    pub(crate) fn preview(&self) -> &Container<'a> {
        &self.preview
    }

    /// Walk the data section, passing on to `send`, in order, the input
    /// ranges its records make up as they are validated, while they are
    /// one run of input ranges: at the first record that is not (a
    /// compressed one), nothing more is sent. The input's pages are left
    /// to the reader to release. Returns the container, as [`parse`]
    /// gives it, and whether every record was sent; the walk's error, if
    /// any, as [`parse`] gives it.
    pub(crate) fn walk(
        mut self,
        send: std::sync::mpsc::SyncSender<std::ops::Range<usize>>,
    ) -> Result<(Container<'a>, bool), Error> {
        let pages = std::mem::take(&mut self.w.c.pages);
        self.w.stream = Some(Stream {
            send: Some(send),
            from: 0,
            to: 0,
            whole: true,
        });
        let walked = self.w.walk(self.start, self.end);
        let whole = self.w.stream.take().is_some_and(|mut s| {
            s.flush();
            s.whole
        });
        walked?;
        let mut c = self.w.finish()?;
        c.pages = pages;
        Ok((c, whole))
    }
}

/// The input ranges a streamed walk passes on: the part of the current
/// run of input records not sent yet, `from..to`.
struct Stream {
    send: Option<std::sync::mpsc::SyncSender<std::ops::Range<usize>>>,
    from: usize,
    to: usize,
    /// No record was other than a range of the input.
    whole: bool,
}

impl Stream {
    /// Add the record at `start..end` of the input.
    fn input(&mut self, start: usize, end: usize) {
        if start != self.to {
            self.flush();
            self.from = start;
        }
        self.to = end;
        if self.to - self.from >= STREAM_CHUNK {
            self.flush();
        }
    }

    /// A record made here (decompressed): the runs are not the input's
    /// any more; stop sending.
    fn made(&mut self) {
        self.whole = false;
        self.send = None;
    }

    fn flush(&mut self) {
        if self.to > self.from {
            if let Some(send) = &self.send {
                if send.send(self.from..self.to).is_err() {
                    // The reader stopped: the walk goes on, for its errors.
                    self.send = None;
                }
            }
        }
        self.from = self.to;
    }
}

struct Walker<'a> {
    b: Bytes<'a>,
    c: Container<'a>,
    /// EVENT_DESC entries (attr, ids, name), when the recording has them.
    event_desc: Vec<EventInfo>,
    /// Names from EVENT_UPDATE records, by sample id.
    update_names: Vec<(u64, String)>,
    decoder: Option<zstd::stream::raw::Decoder<'static>>,
    /// Decompressed bytes of a record split across compressed records.
    pending: Vec<u8>,
    /// Where the compressed record that left `pending` starts.
    pending_offset: u64,
    /// Bytes decompressed so far, from every compressed record.
    decompressed: u64,
    /// Called at the first sample taken in the kernel.
    on_kernel_sample: Option<OnKernelSample>,
    /// Called once the files with samples are known.
    on_files: Option<OnFiles>,
    /// The bound on `decompressed`.
    max_decompressed: u64,
    /// Where validated records go as they are found, when streaming.
    stream: Option<Stream>,
}

impl<'a> Walker<'a> {
    fn new(b: Bytes<'a>) -> Self {
        Walker {
            b,
            c: Container {
                input: b.data,
                ..Container::default()
            },
            event_desc: Vec::new(),
            update_names: Vec::new(),
            decoder: None,
            pending: Vec::new(),
            pending_offset: 0,
            decompressed: 0,
            max_decompressed: u64::MAX,
            on_kernel_sample: None,
            on_files: None,
            stream: None,
        }
    }

    fn truncated(&self, offset: u64, what: &'static str, needed: u64) -> Error {
        Error::Truncated {
            offset,
            what,
            needed,
            len: self.b.len(),
        }
    }

    /// A `perf_file_section` (offset, size) at `at`, checked to lie in the file.
    fn section(&self, at: u64, what: &'static str) -> Result<(u64, u64), Error> {
        let offset = self.b.u64(at).ok_or_else(|| self.truncated(at, what, 16))?;
        let size = self
            .b
            .u64(at + 8)
            .ok_or_else(|| self.truncated(at, what, 16))?;
        match offset.checked_add(size) {
            Some(end) if end <= self.b.len() => Ok((offset, size)),
            // A section starting past the end is reported where the input ends.
            Some(_) => Err(self.truncated(offset.min(self.b.len()), what, size)),
            None => Err(Error::Invalid {
                offset: at,
                what,
                detail: format!("offset {offset} + size {size} overflows"),
            }),
        }
    }

    /// Read the header, attributes and features; returns the data section
    /// to walk (walked here only to find where a file cut short ends).
    fn file_mode(&mut self, header_size: u64) -> Result<(u64, u64), Error> {
        let len = self.b.len();
        if len < FILE_HEADER_SIZE {
            return Err(self.truncated(0, "perf.data file header", FILE_HEADER_SIZE));
        }
        if header_size < FILE_HEADER_SIZE || header_size > len {
            return Err(Error::Invalid {
                offset: 8,
                what: "header size",
                detail: format!("{header_size} (expected 104 or more, within the file)"),
            });
        }
        let attr_size = self.b.u64(16).unwrap_or(0);
        if !(ATTR_SIZE_MIN + 16..=ATTR_SIZE_MAX + 16).contains(&attr_size) {
            return Err(Error::Invalid {
                offset: 16,
                what: "attribute size",
                detail: format!("{attr_size} (expected 80 to 4112)"),
            });
        }
        // The data section first: a file cut short is reported at the
        // first record it cuts.
        let data_offset = self.b.u64(40).unwrap_or(0);
        let data_size = self.b.u64(48).unwrap_or(0);
        let data_end = data_offset.checked_add(data_size).ok_or(Error::Invalid {
            offset: 40,
            what: "data section",
            detail: format!("offset {data_offset} + size {data_size} overflows"),
        })?;
        if data_offset < header_size {
            return Err(Error::Invalid {
                offset: 40,
                what: "data section",
                detail: format!("starts at {data_offset}, inside the header"),
            });
        }
        let (attr_offset, attr_bytes) = self.section(24, "attribute section")?;
        self.attrs_from_section(attr_offset, attr_bytes, attr_size)?;
        if data_end > len {
            // Find the first record the end of the file cuts, for the error.
            self.walk(data_offset, len)?;
            return Err(self.truncated(data_offset.min(len), "data section", data_size));
        }
        self.features(data_end);
        if let Some(on_files) = self.on_files.take() {
            on_files(&self.c);
        }
        Ok((data_offset, data_end))
    }

    /// The container as [`Walker::finish`] would make it if the walk
    /// found no record: `None` when finishing would fail (the walk's
    /// errors come first), or when the data is compressed
    /// (`HEADER_FEAT_COMPRESSED`: its records are made here, not ranges of
    /// the input).
    fn preview(&self) -> Option<Container<'a>> {
        let features = self.b.u64(72).unwrap_or(0);
        if features & (1 << FEAT_COMPRESSED) != 0 {
            return None;
        }
        let mut c = self.c.clone();
        self.complete(&mut c).ok()?;
        Some(c)
    }

    fn attrs_from_section(&mut self, offset: u64, size: u64, attr_size: u64) -> Result<(), Error> {
        let count = size / attr_size;
        if !size.is_multiple_of(attr_size) {
            self.c.warnings.push(format!(
                "attribute section at byte {offset}: size {size} is not a multiple of {attr_size}"
            ));
        }
        for i in 0..count {
            let at = offset + i * attr_size;
            let attr = self.attr_at(at, attr_size - 16)?;
            let (ids_offset, ids_size) = self.section(at + attr_size - 16, "event id section")?;
            let ids = self.ids(ids_offset, ids_size / 8);
            self.c.events.push(EventInfo {
                attr,
                ids,
                name: None,
                offset: at,
            });
        }
        Ok(())
    }

    /// The `perf_event_attr` at `at`, at most `room` bytes long.
    fn attr_at(&self, at: u64, room: u64) -> Result<Vec<u8>, Error> {
        let size = u64::from(
            self.b
                .u32(at + 4)
                .ok_or_else(|| self.truncated(at, "perf_event_attr", ATTR_SIZE_MIN))?,
        );
        if size < ATTR_SIZE_MIN || size > room {
            return Err(Error::Invalid {
                offset: at + 4,
                what: "perf_event_attr size",
                detail: format!("{size} (expected 64 to {room})"),
            });
        }
        self.b
            .slice(at, size)
            .map(<[u8]>::to_vec)
            .ok_or_else(|| self.truncated(at, "perf_event_attr", size))
    }

    /// `count` u64 ids at `at` (the caller checked they lie in the input).
    fn ids(&self, at: u64, count: u64) -> Vec<u64> {
        (0..count).map_while(|i| self.b.u64(at + i * 8)).collect()
    }

    /// Walk the records in `[start, end)` of the input.
    fn walk(&mut self, start: u64, end: u64) -> Result<(), Error> {
        let mut at = start;
        let mut released = usize::try_from(start).unwrap_or(usize::MAX);
        let window = self.c.pages.window;
        let mut warmer = crate::pages::Warmer::default();
        while at < end {
            let here = usize::try_from(at).unwrap_or(usize::MAX);
            warmer.ahead(self.b.data, here);
            if here >= released.saturating_add(window) {
                self.c.pages.release(released..here);
                released = here;
            }
            if at + RECORD_HEADER_SIZE > end {
                return Err(self.record_past_end(at, RECORD_HEADER_SIZE, end));
            }
            let size = u64::from(self.b.u16(at + 6).unwrap_or(0));
            if size < RECORD_HEADER_SIZE {
                return Err(Error::Invalid {
                    offset: at,
                    what: "record size",
                    detail: format!("{size} (a record is at least 8 bytes)"),
                });
            }
            if at + size > end {
                return Err(self.record_past_end(at, size, end));
            }
            let rec = self
                .b
                .slice(at, size)
                .ok_or_else(|| self.record_past_end(at, size, end))?;
            let extra = self.record(rec, at, end, true)?;
            at += size + extra;
        }
        Ok(())
    }

    fn record_past_end(&self, at: u64, size: u64, end: u64) -> Error {
        if end >= self.b.len() {
            self.truncated(at, "record", size)
        } else {
            Error::RecordTooLong {
                offset: at,
                size,
                end,
            }
        }
    }

    /// Pass a record on to the stream: `rec` lies at input offset `at`
    /// when `in_input`, else it was decompressed.
    fn forward(&mut self, rec: &[u8], at: u64, in_input: bool) {
        if in_input {
            let start = usize::try_from(at).unwrap_or(usize::MAX);
            let end = start.saturating_add(rec.len());
            if let Some(s) = &mut self.stream {
                s.input(start, end);
            }
            if let Some(Segment::Input(r)) = self.c.segments.last_mut() {
                if r.end == start {
                    r.end = end;
                    return;
                }
            }
            self.c.segments.push(Segment::Input(start..end));
        } else {
            if let Some(s) = &mut self.stream {
                s.made();
            }
            if let Some(Segment::Owned(v)) = self.c.segments.last_mut() {
                v.extend_from_slice(rec);
                return;
            }
            self.c.segments.push(Segment::Owned(rec.to_vec()));
        }
    }

    /// Handle one record (`rec` includes its header) found at input offset
    /// `at` (when `in_input`; else decompressed from the compressed record
    /// at `at`); returns how many bytes of payload follow it in the input
    /// (AUXTRACE data, pipe-mode tracing data).
    fn record(&mut self, rec: &[u8], at: u64, end: u64, in_input: bool) -> Result<u64, Error> {
        let r = Bytes {
            data: rec,
            be: self.b.be,
        };
        let ty = r.u32(0).unwrap_or(0);
        let misc = r.u16(4).unwrap_or(0);
        let body = rec.get(8..).unwrap_or_default();
        match ty {
            rtype::HEADER_ATTR => {
                let attr = Bytes {
                    data: body,
                    be: self.b.be,
                };
                let size = u64::from(attr.u32(4).unwrap_or(0));
                if size < ATTR_SIZE_MIN || size > attr.len() {
                    return Err(Error::Invalid {
                        offset: at + 12,
                        what: "perf_event_attr size",
                        detail: format!("{size} (expected 64 to {})", attr.len()),
                    });
                }
                let ids = (size..attr.len())
                    .step_by(8)
                    .filter_map(|o| attr.u64(o))
                    .collect();
                self.c.events.push(EventInfo {
                    attr: body.get(..size as usize).unwrap_or_default().to_vec(),
                    ids,
                    name: None,
                    offset: at + 8,
                });
            }
            rtype::HEADER_FEATURE => {
                let feature = r.u64(8).unwrap_or(0);
                let data = rec.get(16..).unwrap_or_default();
                match feature {
                    FEAT_EVENT_DESC => match parse_event_desc(data, self.b.be) {
                        Some(events) => self.event_desc = events,
                        None => self.c.warnings.push(format!(
                            "EVENT_DESC record at byte {at} is malformed; event names unknown"
                        )),
                    },
                    FEAT_BUILD_ID => self.build_id_section(data, at + 16),
                    FEAT_CLOCK_DATA => self.c.clock = parse_clock_data(data, self.b.be),
                    FEAT_OSRELEASE => self.c.os_release = parse_header_string(data, self.b.be),
                    _ => {}
                }
            }
            rtype::HEADER_BUILD_ID => self.build_id_event(rec, misc),
            rtype::EVENT_UPDATE => {
                if r.u64(8) == Some(EVENT_UPDATE_NAME) {
                    let id = r.u64(16).unwrap_or(0);
                    let name = rec.get(24..).unwrap_or_default();
                    let name = name.split(|&c| c == 0).next().unwrap_or_default();
                    self.update_names
                        .push((id, String::from_utf8_lossy(name).into_owned()));
                }
            }
            rtype::HEADER_TRACING_DATA => {
                // `struct perf_record_header_tracing_data { header; u32 size; }`,
                // then the tracing data, padded to 8 bytes (perf's
                // `perf_event__process_tracing_data`).
                let size = u64::from(r.u32(8).unwrap_or(0));
                let padded = size.div_ceil(8) * 8;
                return self.payload(at, rec.len() as u64, padded, end);
            }
            rtype::AUXTRACE => {
                // `struct perf_record_auxtrace`: the trace data follows the
                // record. We do not use it: skip it.
                let size = r.u64(8).unwrap_or(0);
                return self.payload(at, rec.len() as u64, size, end);
            }
            rtype::COMPRESSED | rtype::COMPRESSED2 => {
                let data = if ty == rtype::COMPRESSED {
                    body
                } else {
                    // COMPRESSED2: u64 data_size, then the data and padding.
                    let n = r.u64(8).unwrap_or(u64::MAX);
                    body.get(8..)
                        .and_then(|d| d.get(..usize::try_from(n).ok()?))
                        .ok_or(Error::Invalid {
                            offset: at + 8,
                            what: "compressed record data size",
                            detail: format!("{n} exceeds the record"),
                        })?
                };
                self.decompress(data, at)?;
            }
            rtype::HEADER_EVENT_TYPE => {}
            rtype::MMAP2 if misc & MISC_MMAP_BUILD_ID != 0 => {
                // linux-perf-event-reader asserts build_id_size <= 20.
                let id_len = body.get(32).copied().unwrap_or(u8::MAX);
                if id_len > 20 {
                    self.c.malformed_records += 1;
                    self.c.warnings.push(format!(
                        "MMAP2 record at byte {at}: build id size {id_len} (at most 20); record skipped"
                    ));
                } else {
                    self.forward(rec, at, in_input);
                }
            }
            1..=rtype::KERNEL_LAST | rtype::FINISHED_ROUND..=rtype::USER_LAST => {
                if ty == rtype::SAMPLE && kernel_mode(misc) {
                    if let Some(first) = self.on_kernel_sample.take() {
                        let kernel = KERNEL_BUILD_ID_PATH;
                        let ids = &self.c.build_ids;
                        first(ids.iter().find(|b| b.path == kernel).map(|b| &b.id[..]));
                    }
                    self.c.kernel_samples += 1;
                }
                self.forward(rec, at, in_input);
            }
            _ => self.c.unknown_records += 1,
        }
        Ok(0)
    }

    /// Skip `size` bytes of payload that follow the record at `at` (of
    /// `rec_len` bytes) in the input.
    fn payload(&self, at: u64, rec_len: u64, size: u64, end: u64) -> Result<u64, Error> {
        let total = rec_len.checked_add(size).ok_or(Error::Invalid {
            offset: at + 8,
            what: "payload size",
            detail: format!("{size} overflows"),
        })?;
        if at.checked_add(total).is_none_or(|e| e > end) {
            return Err(self.record_past_end(at, total, end));
        }
        Ok(size)
    }

    fn finish(mut self) -> Result<Container<'a>, Error> {
        let mut c = std::mem::take(&mut self.c);
        self.complete(&mut c)?;
        Ok(c)
    }

    /// What the walk's end makes of `c`: the warning for a record left
    /// inside compressed data, the events named, their attributes checked.
    fn complete(&self, c: &mut Container<'a>) -> Result<(), Error> {
        if !self.pending.is_empty() {
            c.warnings.push(format!(
                "compressed data ends inside a record ({} bytes after the compressed record at byte {}); dropped",
                self.pending.len(),
                self.pending_offset
            ));
            c.malformed_records += 1;
        }
        if c.events.is_empty() {
            // Only EVENT_DESC (no attribute section entries): use its attrs.
            c.events = self.event_desc.clone();
        }
        if c.events.is_empty() {
            return Err(Error::Invalid {
                offset: 0,
                what: "event list",
                detail: "the recording describes no event (no perf_event_attr)".into(),
            });
        }
        // Names: EVENT_DESC entry with the same ids, else with the same
        // index when the counts agree; EVENT_UPDATE names by id.
        let same_count = self.event_desc.len() == c.events.len();
        for (i, ev) in c.events.iter_mut().enumerate() {
            if ev.name.is_some() {
                continue;
            }
            let by_ids = self
                .event_desc
                .iter()
                .find(|d| !d.ids.is_empty() && d.ids == ev.ids);
            let by_index = same_count.then(|| self.event_desc.get(i)).flatten();
            ev.name = by_ids.or(by_index).and_then(|d| d.name.clone());
            if ev.name.is_none() {
                ev.name = self
                    .update_names
                    .iter()
                    .find(|(id, _)| ev.ids.contains(id))
                    .map(|(_, n)| n.clone());
            }
        }
        // linux-perf-event-reader cannot parse an attribute of an event
        // type or config it does not know: refuse the recording, saying
        // which attribute and where.
        for ev in &c.events {
            let parsed = if self.b.be {
                PerfEventAttr::parse::<_, byteorder::BigEndian>(&ev.attr[..])
            } else {
                PerfEventAttr::parse::<_, byteorder::LittleEndian>(&ev.attr[..])
            };
            if let Err(e) = parsed {
                let ty = Bytes {
                    data: &ev.attr,
                    be: self.b.be,
                };
                return Err(Error::Invalid {
                    offset: ev.offset,
                    what: "perf_event_attr",
                    detail: format!(
                        "type {} config {:#x} not supported by linux-perf-event-reader ({e})",
                        ty.u32(0).unwrap_or(0),
                        ty.u64(8).unwrap_or(0)
                    ),
                });
            }
        }
        c.big_endian = self.b.be;
        Ok(())
    }
}

impl<'a> Container<'a> {
    /// The data records, run by run, in file order: each run's bytes and,
    /// when they are the input's, where they start in it.
    pub(crate) fn record_ranges(&self) -> impl Iterator<Item = (&[u8], Option<usize>)> + '_ {
        self.segments.iter().map(|seg| match seg {
            Segment::Input(r) => (self.input.get(r.clone()).unwrap_or_default(), Some(r.start)),
            Segment::Owned(v) => (&v[..], None),
        })
    }

    /// Whether `self` and `other` say the same before their records: the
    /// events, the files' build ids, the byte order and the features read.
    /// A streamed walk ([`Streamed::walk`]) read as its preview said when
    /// they do.
    pub(crate) fn same_before_records(&self, other: &Container<'_>) -> bool {
        self.events == other.events
            && self.build_ids == other.build_ids
            && self.big_endian == other.big_endian
            && self.pipe == other.pipe
            && self.compressed == other.compressed
            && self.clock == other.clock
            && self.os_release == other.os_release
    }

    /// The input.
    pub(crate) fn input(&self) -> &'a [u8] {
        self.input
    }

    /// The input's length in bytes.
    pub(crate) fn input_len(&self) -> usize {
        self.input.len()
    }

    /// The input's pages.
    pub(crate) fn pages(&self) -> Pages<'a> {
        self.pages
    }
}
