//! `perf script` text: the default output and the usual `-F` field
//! selections, with or without call chains.
//!
//! A sample is a header line, `comm pid[/tid] [cpu] time: [period] event:`
//! (fields may be missing, as `-F` chooses), then its frames leaf first, one
//! per line, `address symbol (module)`, ended by a blank line; without call
//! chains the one frame follows the header on the same line.
//!
//! ```
//! use stackconv_collapsed::{folded, perf_script};
//!
//! let text = b"app 42/43 [001] 10.000100:    250000 cpu-clock:ppp: \n\
//! \t    1139 work+0x9 (/usr/bin/app)\n\
//! \t    1180 main+0x20 (/usr/bin/app)\n\n";
//! assert!(perf_script::looks_like(text));
//! let p = perf_script::read(text)?;
//! assert_eq!(p.total(0), 250000);
//! let mut out = Vec::new();
//! folded::write(&p, &folded::WriteOptions::default(), &mut out)?;
//! assert_eq!(String::from_utf8_lossy(&out), "app;main;work 250000\n");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::collections::HashMap;

use stackconv_model::naming::{
    fix_rust_symbol, is_jit_module, is_kernel_module, is_python_perf_symbol, python_perf_file,
    strip_symbol_offset, tidy_java_symbol, tidy_symbol_text, unknown_frame_name, UNKNOWN,
};
use stackconv_model::{Frame, FrameId, FrameKind, Profile, StackId, ValueType};

use crate::error::excerpt;
use crate::lines::{head, lines, stream_lines, Line};
use crate::stack_lines::SNIFF_BYTES;
use crate::Error;

const FORMAT: &str = "perf script";

/// Read `perf script` text into a profile.
///
/// Frames are named as inferno-collapse-perf names them (see
/// [`stackconv_model::naming`]): `+0x..` offsets and argument lists
/// dropped, `[unknown]` frames named `[module base name]` when the module is
/// known, Java `a->b` inlining chains split with `_[i]` on the inlined
/// parts, frames whose symbol starts with `(` dropped. Kinds: kernel for a
/// kernel module (`[kernel.kallsyms]`, `*.ko`, `vmlinux`), Python for a
/// `py::` symbol in a perf map (`file` = the part after its last `:`), JIT
/// for other perf-map / jitted-`.so` frames, inline for perf's `(inlined)`
/// frames, unknown for `[unknown]`, native otherwise. `module` is the
/// module as printed (empty for `[unknown]` and inlined frames).
///
/// Value columns: one per event, in order of first appearance, named after
/// it without its modifiers (`cpu-clock`, `cycles`, `sched:sched_switch`),
/// holding each sample's weight, 0 in the other events' columns; then
/// `samples`/`count`, 1 per sample. A sample weighs its period exactly when
/// inferno-collapse-perf reads one, else 1, so that folded totals equal the
/// reference pipeline's: inferno reads the period only when one space
/// separates it from the event name and a time precedes it; perf pads event
/// names to equal width when a recording has several events, and then
/// every sample weighs 1. Unit: `nanoseconds` for `cpu-clock`/`task-clock`
/// when every sample of it was weighed by its period, else `count`. Threads: pid (unknown when only a tid is printed, perf's
/// default), tid, comm as `thread_name`, the comm of the pid's main thread
/// (or the thread's own) as `process_name`. Timestamps in nanoseconds when
/// every sample has one. `meta.comm_root = true`, `meta.default_value = 0`.
///
/// # Errors
///
/// [`Error::BadHeader`] for a line that should start a sample but does not,
/// [`Error::BadFrame`] for a malformed frame line (a frame without
/// `(module)` once frames with modules were seen counts as malformed, which
/// catches a last line cut short), [`Error::Truncated`] when the input ends
/// right after a sample header while the samples before had frames,
/// [`Error::Binary`] for binary input.
pub fn read(input: &[u8]) -> Result<Profile, Error> {
    read_lines(lines(input, FORMAT))
}

/// [`read`] from a reader, a line at a time: the text is never held whole
/// (`perf script | stackconv - ...`); the samples are kept in time order.
///
/// ```
/// use stackconv_collapsed::perf_script;
/// let text = "app 7 1.5: 1 cycles: \n\t4011 work (/bin/app)\n\t4022 main (/bin/app)\n\n";
/// let p = perf_script::read_from(text.as_bytes())?;
/// assert_eq!(p.samples().len(), 1);
/// # Ok::<(), stackconv_collapsed::Error>(())
/// ```
///
/// # Errors
///
/// As [`read`], and [`Error::Io`] or [`Error::LineTooLong`].
pub fn read_from(input: impl std::io::BufRead) -> Result<Profile, Error> {
    read_lines(stream_lines(input, FORMAT))
}

fn read_lines<'a>(lines: impl Iterator<Item = Result<Line<'a>, Error>>) -> Result<Profile, Error> {
    let mut r = Reader::default();
    for line in lines {
        let line = line?;
        r.line(&line.text, line.number)?;
    }
    r.finish()
}

/// Whether `input` looks like `perf script` text: its first line (after
/// `#` comments and blank lines) is a sample header with a time or an
/// event, followed by a frame, another header, a blank line or the end.
///
/// ```
/// use stackconv_collapsed::perf_script;
/// assert!(perf_script::looks_like(b"sh 7 1.5: cycles: \n\t4011 main (/bin/sh)\n"));
/// assert!(!perf_script::looks_like(b"main;work 3\n"));
/// ```
pub fn looks_like(input: &[u8]) -> bool {
    let window = head(input, SNIFF_BYTES);
    let mut header: Option<bool> = None;
    for line in lines(window, FORMAT) {
        let Ok(line) = line else { return false };
        let text = &*line.text;
        if text.starts_with('#') {
            continue;
        }
        match header {
            None => {
                if text.trim().is_empty() {
                    continue;
                }
                let Some(h) = parse_header(text) else {
                    return false;
                };
                if h.time_ns.is_none() && h.event.is_none() {
                    return false;
                }
                if parse_frame_strict(h.rest).is_some() {
                    return true;
                }
                header = Some(true);
            }
            Some(_) => {
                return text.trim().is_empty()
                    || parse_frame_strict(text).is_some()
                    || (text.starts_with('\t') && parse_frame_lenient(text).is_some())
                    || parse_header(text)
                        .is_some_and(|h| h.time_ns.is_some() || h.event.is_some());
            }
        }
    }
    header.is_some()
}

/// A parsed sample header.
#[derive(Debug)]
struct Header<'a> {
    comm: &'a str,
    pid: Option<u32>,
    tid: Option<u32>,
    time_ns: Option<u64>,
    period: Option<u64>,
    /// The period as inferno-collapse-perf reads it (see [`inferno_period`]).
    inferno_period: Option<u64>,
    /// A number where the period goes that is no period: negative,
    /// fractional, or above 2^63-1.
    bad_period: Option<&'a str>,
    event: Option<&'a str>,
    /// What follows the event: a frame (no call chain) or a tracepoint's
    /// payload, trimmed.
    rest: &'a str,
}

/// Parse a header line. comm/pid/tid are found as inferno-collapse-perf
/// finds them: the comm is everything before the first all-digit word
/// (`tid` or `pid/tid`) that follows a space; a line starting with such a
/// word (no comm field) has an empty comm.
fn parse_header(line: &str) -> Option<Header<'_>> {
    let trimmed = line.trim_start();
    let (comm, ids, rest) = match leading_id_word(trimmed) {
        Some((ids, rest)) => ("", ids, rest),
        None => {
            let (comm, ids, rest) = inferno_event_line_parts(trimmed)?;
            (comm, ids, rest)
        }
    };
    let (pid, tid) = match ids.split_once('/') {
        Some((pid, tid)) => (Some(pid.parse().ok()?), tid.parse().ok()?),
        None => (None, ids.parse().ok()?),
    };
    let inferno_period = inferno_period(rest);
    let mut h = Header {
        inferno_period,
        comm,
        pid,
        tid: Some(tid),
        time_ns: None,
        period: None,
        bad_period: None,
        event: None,
        rest: "",
    };
    let mut rest = rest;
    let mut stage = 0;
    loop {
        let t = rest.trim_start();
        let end = t.find([' ', '\t']).unwrap_or(t.len());
        let (tok, after) = t.split_at(end);
        if tok.is_empty() {
            rest = t;
            break;
        }
        if stage < 1 && is_cpu(tok) {
            stage = 1;
        } else if stage < 2 && tok.ends_with(':') && parse_time(tok).is_some() {
            h.time_ns = parse_time(tok);
            stage = 2;
        } else if stage < 3 && tok.bytes().all(|b| b.is_ascii_digit()) {
            // A period above i64::MAX would not fit a weight.
            h.period = tok.parse::<i64>().ok().and_then(|p| u64::try_from(p).ok());
            if h.period.is_none() {
                h.bad_period = Some(tok);
            }
            stage = 3;
        } else if stage < 3 && tok.parse::<f64>().is_ok() && starts_with_event(after) {
            // `-5 cpu-clock:`, `1e30 cpu-clock:`: a number in the period's
            // place that is not one; taken for a comm it would make a new
            // event column.
            h.bad_period = Some(tok);
            stage = 3;
        } else if stage < 4 && tok.len() > 1 && tok.ends_with(':') {
            h.event = tok.get(..tok.len() - 1);
            rest = after;
            break;
        } else {
            rest = t;
            break;
        }
        rest = after;
    }
    h.rest = rest.trim();
    Some(h)
}

/// Whether `text` starts (after blanks) with an event name, `name:`.
fn starts_with_event(text: &str) -> bool {
    text.split_whitespace()
        .next()
        .is_some_and(|t| t.len() > 1 && t.ends_with(':'))
}

/// The period as inferno-collapse-perf reads it from the text after the
/// pid: the word before the event name in the part between the first and
/// second `:`, when it is a number. That is the period when exactly one
/// space separates it from the event name, and nothing when perf pads the
/// event name (it right-aligns event names to the longest one when a
/// recording has several events), or prints no time before the period.
fn inferno_period(after_pid: &str) -> Option<u64> {
    let period_and_event = after_pid.split(':').nth(1)?;
    let mut words = period_and_event.rsplit(' ');
    words.next();
    words.next()?.parse().ok()
}

/// A line that starts with a `pid/tid` or `tid` word (perf script without
/// the comm field): (ids, rest).
fn leading_id_word(line: &str) -> Option<(&str, &str)> {
    let end = line.find(' ').unwrap_or(line.len());
    let (word, rest) = line.split_at(end);
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    let ok = match word.split_once('/') {
        Some((a, b)) => digits(a) && digits(b),
        None => digits(word),
    };
    ok.then_some((word, rest))
}

/// inferno-collapse-perf's `event_line_parts`: the first all-digit word
/// (digits, or digits `/` digits) after a space; the comm is the trimmed
/// text before it. Unlike inferno, the word may also end the line.
fn inferno_event_line_parts(line: &str) -> Option<(&str, &str, &str)> {
    let mut word_start = 0usize;
    let mut all_digits = false;
    let mut last_was_space = false;
    let found = |word_start: usize, idx: usize| -> Option<(&str, &str, &str)> {
        let ids = line.get(word_start..idx)?;
        let comm = line.get(..word_start.checked_sub(1)?)?.trim();
        let rest = line.get(idx..)?;
        Some((comm, ids, rest))
    };
    for (idx, c) in line.char_indices() {
        if c == ' ' {
            if all_digits && !last_was_space {
                return found(word_start, idx);
            }
            word_start = idx + 1;
            all_digits = true;
        } else if c == '/' || c.is_ascii_digit() {
            // '/' keeps the word numeric only between digits; a word like
            // "1/" is rejected when parsed.
        } else {
            all_digits = false;
        }
        last_was_space = c == ' ';
    }
    if all_digits && !last_was_space && word_start > 0 && word_start < line.len() {
        return found(word_start, line.len());
    }
    None
}

fn is_cpu(tok: &str) -> bool {
    tok.strip_prefix('[')
        .and_then(|t| t.strip_suffix(']'))
        .is_some_and(|d| !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit()))
}

/// `578.425275:` (seconds, any number of decimals up to 9) -> nanoseconds.
fn parse_time(tok: &str) -> Option<u64> {
    let body = tok.strip_suffix(':')?;
    let (secs, frac) = body.split_once('.').unwrap_or((body, ""));
    if secs.is_empty() || !secs.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    if frac.len() > 9 || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let secs: u64 = secs.parse().ok()?;
    let mut ns: u64 = 0;
    for i in 0..9 {
        let d = frac.as_bytes().get(i).map_or(0, |b| u64::from(b - b'0'));
        ns = ns * 10 + d;
    }
    secs.checked_mul(1_000_000_000)?.checked_add(ns)
}

/// The event name without perf's modifiers (`cycles:u` -> `cycles`), as
/// every reader names an event's column.
fn event_name(raw: &str) -> &str {
    stackconv_model::naming::strip_event_modifiers(raw)
}

/// A frame line: address, symbol text as printed, module (without its
/// parentheses) when printed.
#[derive(Debug)]
struct FrameLine<'a> {
    /// The symbol text (with offset), and the module: what the frame cache
    /// is keyed by.
    key: &'a str,
    sym: &'a str,
    module: Option<&'a str>,
}

fn is_hex(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// inferno-collapse-perf's `stack_line_parts`: the address up to the first
/// space, the module as the last space-separated word in parentheses, the
/// symbol in between (trimmed; a missing symbol is `" "`, as inferno and
/// stackcollapse-perf.pl make it). We also require a hex address.
fn parse_frame_strict(line: &str) -> Option<FrameLine<'_>> {
    let t = line.trim_start();
    let (pc, rest) = t.split_once(' ')?;
    if !is_hex(pc.trim_end()) {
        return None;
    }
    let (sym, module) = rest.rsplit_once(' ')?;
    let module = module.strip_prefix('(')?.strip_suffix(')')?;
    let sym = match sym.trim() {
        "" => " ",
        s => s,
    };
    Some(FrameLine {
        key: rest.trim(),
        sym,
        module: Some(module),
    })
}

/// A frame printed without its module (`-F ip,sym` or `-F ip`).
fn parse_frame_lenient(line: &str) -> Option<FrameLine<'_>> {
    let t = line.trim();
    let (pc, sym) = t.split_once(' ').unwrap_or((t, ""));
    if !is_hex(pc) {
        return None;
    }
    let sym = match sym.trim() {
        "" => UNKNOWN,
        s => s,
    };
    Some(FrameLine {
        key: sym,
        sym,
        module: None,
    })
}

/// perf's `-F +srcline` continuation under a frame: `  file.c:42`,
/// `  ??:0`, `  file.c:42 (discriminator 2)`, or `  module[addr]` when perf
/// has no line for the address (`  [kernel.kallsyms][ffffffff816a8411]`).
fn is_srcline(line: &str) -> bool {
    let Some(t) = line.strip_prefix("  ") else {
        return false;
    };
    let t = t.trim();
    let (loc, rest) = t.split_once(' ').unwrap_or((t, ""));
    let file_line = loc.rsplit_once(':').is_some_and(|(f, l)| {
        !f.is_empty() && !l.is_empty() && l.bytes().all(|b| b.is_ascii_digit())
    });
    let module_addr = loc
        .strip_suffix(']')
        .and_then(|l| l.rsplit_once('['))
        .is_some_and(|(m, a)| !m.is_empty() && is_hex(a));
    (file_line && (rest.is_empty() || rest.starts_with("(discriminator ")))
        || (module_addr && rest.is_empty())
}

/// A sample being read.
struct Pending {
    header_line: u64,
    thread: usize,
    time_ns: Option<u64>,
    event: usize,
    weight: i64,
    /// Frame ids, leaf first.
    frames: Vec<FrameId>,
    frame_lines: usize,
    java: bool,
}

/// A sample read, before the value columns are known.
struct RawSample {
    stack: Option<StackId>,
    thread: usize,
    time_ns: Option<u64>,
    event: usize,
    weight: i64,
}

#[derive(Default)]
struct Reader {
    profile: Profile,
    pending: Option<Pending>,
    samples: Vec<RawSample>,
    events: Vec<String>,
    /// Per event: whether some samples were weighed by a period, whether
    /// some were weighed 1.
    event_periods: Vec<(bool, bool)>,
    threads: Vec<(Option<u32>, Option<u32>, String)>,
    thread_index: HashMap<(Option<u32>, Option<u32>, String), usize>,
    /// Samples whose period perf script shows but inferno does not read.
    periods_ignored: u64,
    /// Per event: the weight read so far, checked.
    event_totals: Vec<crate::stack_lines::WeightTotal>,
    frame_cache: HashMap<String, Vec<FrameId>>,
    key: String,
    /// Whether any frame line was seen (call chains or one-line frames).
    frames_seen: bool,
    /// Whether any frame carried a `(module)`.
    modules_seen: bool,
    scratch: Vec<FrameId>,
}

impl Reader {
    fn line(&mut self, text: &str, number: u64) -> Result<(), Error> {
        if text.starts_with('#') {
            return Ok(());
        }
        if text.trim().is_empty() {
            self.end_sample();
            return Ok(());
        }
        if self.pending.is_some() {
            if let Some(f) = parse_frame_strict(text) {
                return self.frame(&f);
            }
            if is_srcline(text) {
                return Ok(());
            }
            if !text.starts_with('\t') {
                if let Some(h) = parse_header(text) {
                    self.end_sample();
                    return self.header(&h, number);
                }
            }
            if !self.modules_seen {
                if let Some(f) = parse_frame_lenient(text) {
                    return self.frame(&f);
                }
            }
            return Err(Error::BadFrame {
                line: number,
                found: excerpt(text),
            });
        }
        match parse_header(text) {
            Some(h) => self.header(&h, number),
            None => Err(Error::BadHeader {
                line: number,
                found: excerpt(text),
            }),
        }
    }

    fn header(&mut self, h: &Header<'_>, number: u64) -> Result<(), Error> {
        let bad_period = |found: &str| Error::BadPeriod {
            line: number,
            found: excerpt(found),
        };
        if let Some(found) = h.bad_period {
            return Err(bad_period(found));
        }
        let key = (h.pid, h.tid, h.comm.to_string());
        let thread = match self.thread_index.get(&key) {
            Some(&t) => t,
            None => {
                let t = self.threads.len();
                self.threads.push(key.clone());
                self.thread_index.insert(key, t);
                t
            }
        };
        let name = event_name(h.event.unwrap_or("events"));
        let event = match self.events.iter().position(|e| e == name) {
            Some(e) => e,
            None => {
                self.events.push(name.to_string());
                self.event_periods.push((false, false));
                self.events.len() - 1
            }
        };
        // Weigh a sample as inferno-collapse-perf does, so that folded
        // totals equal the reference pipeline's: its period when inferno
        // reads one, else 1.
        if let Some(flag) = self.event_periods.get_mut(event) {
            flag.0 |= h.inferno_period.is_some();
            flag.1 |= h.inferno_period.is_none();
        }
        if h.period.is_some() && h.inferno_period.is_none() {
            self.periods_ignored = self.periods_ignored.saturating_add(1);
        }
        let weight = match h.inferno_period {
            Some(p) => i64::try_from(p).map_err(|_| bad_period(&p.to_string()))?,
            None => 1,
        };
        if self.event_totals.len() <= event {
            self.event_totals
                .resize_with(event.saturating_add(1), Default::default);
        }
        if let Some(total) = self.event_totals.get_mut(event) {
            total.add(weight, FORMAT, number)?;
        }
        self.pending = Some(Pending {
            header_line: number,
            thread,
            time_ns: h.time_ns,
            event,
            weight,
            frames: Vec::new(),
            frame_lines: 0,
            java: h.comm.starts_with("java"),
        });
        if !h.rest.is_empty() {
            // Without call chains the frame follows the event on the same
            // line; anything else there is a tracepoint's payload.
            if let Some(f) = parse_frame_strict(h.rest) {
                self.frame(&f)?;
                self.end_sample();
            }
        }
        Ok(())
    }

    fn frame(&mut self, f: &FrameLine<'_>) -> Result<(), Error> {
        self.frames_seen = true;
        if f.module.is_some() {
            self.modules_seen = true;
        }
        let Some(pending) = self.pending.as_mut() else {
            return Ok(());
        };
        pending.frame_lines += 1;
        // The cache key: whether the comm is java's, whether a module was
        // printed, and the text after the address (symbol and module).
        self.key.clear();
        self.key.push(if pending.java { 'j' } else { '-' });
        self.key.push(if f.module.is_some() { 'm' } else { '-' });
        self.key.push_str(f.key);
        if let Some(ids) = self.frame_cache.get(self.key.as_str()) {
            pending.frames.extend_from_slice(ids);
            return Ok(());
        }
        let ids = frames_of(&mut self.profile, f.sym, f.module, pending.java);
        pending.frames.extend_from_slice(&ids);
        self.frame_cache.insert(self.key.clone(), ids);
        Ok(())
    }

    fn end_sample(&mut self) {
        let Some(pending) = self.pending.take() else {
            return;
        };
        self.scratch.clear();
        self.scratch.extend(pending.frames.iter().rev());
        let mut stack = None;
        for &f in &self.scratch {
            stack = Some(self.profile.intern_stack(stack, f));
        }
        self.samples.push(RawSample {
            stack,
            thread: pending.thread,
            time_ns: pending.time_ns,
            event: pending.event,
            weight: pending.weight,
        });
    }

    fn finish(mut self) -> Result<Profile, Error> {
        if let Some(p) = &self.pending {
            if p.frame_lines == 0 && self.frames_seen {
                return Err(Error::Truncated {
                    line: p.header_line,
                });
            }
        }
        self.end_sample();
        let mut p = self.profile;
        let mut value_types: Vec<ValueType> = self
            .events
            .iter()
            .zip(&self.event_periods)
            .map(|(e, &(period, count))| {
                let ns = period
                    && !count
                    && matches!(e.as_str(), "cpu-clock" | "task-clock" | "offcpu-time");
                ValueType::new(e.clone(), if ns { "nanoseconds" } else { "count" })
            })
            .collect();
        value_types.push(ValueType::new("samples", "count"));
        let columns = value_types.len();
        // No sample is pushed yet, so the value types are free to set and
        // this cannot fail.
        debug_assert!(p.samples().is_empty());
        let _ = p.set_value_types(value_types);
        p.reserve_samples(self.samples.len());
        // Process names: the comm of each pid's main thread.
        let mut main_comm: HashMap<u32, &str> = HashMap::new();
        for (pid, tid, comm) in &self.threads {
            if let (Some(pid), Some(tid)) = (pid, tid) {
                if pid == tid {
                    main_comm.entry(*pid).or_insert(comm);
                }
            }
        }
        let thread_ids: Vec<_> = self
            .threads
            .iter()
            .map(|(pid, tid, comm)| {
                let process = pid
                    .and_then(|pid| main_comm.get(&pid).copied())
                    .unwrap_or(comm);
                p.intern_thread_named(*pid, *tid, process, comm)
            })
            .collect();
        let mut values = vec![0i64; columns];
        let (mut first, mut last) = (u64::MAX, 0u64);
        for s in &self.samples {
            values.iter_mut().for_each(|v| *v = 0);
            if let Some(v) = values.get_mut(s.event) {
                *v = s.weight;
            }
            if let Some(v) = values.last_mut() {
                *v = 1;
            }
            if let Some(t) = s.time_ns {
                first = first.min(t);
                last = last.max(t);
            }
            let Some(&thread) = thread_ids.get(s.thread) else {
                continue;
            };
            p.push_sample(s.stack, thread, s.time_ns, &values);
        }
        p.meta_mut().source_format = FORMAT.to_string();
        p.meta_mut().events = self.events;
        p.meta_mut().comm_root = true;
        p.meta_mut().default_value = 0;
        if self.periods_ignored > 0 {
            p.meta_mut().warnings.push(format!(
                "perf script: {} samples show a period that inferno-collapse-perf does not read \
                 (event names padded to equal width, or no time field); they weigh 1, as there",
                self.periods_ignored
            ));
        }
        if p.has_times() && first <= last {
            p.meta_mut().duration_ns = Some(last - first);
        }
        Ok(p)
    }
}

/// The frames (leaf first) of one frame line, named as inferno does.
fn frames_of(p: &mut Profile, sym: &str, module: Option<&str>, java: bool) -> Vec<FrameId> {
    let raw = strip_symbol_offset(sym);
    // stackcollapse-perf.pl skips "process name" frames.
    if raw.starts_with('(') {
        return Vec::new();
    }
    let module = module.filter(|m| !m.is_empty());
    let raw = fix_rust_symbol(raw);
    let mut out = Vec::new();
    for (i, part) in raw.split("->").enumerate() {
        let mut name = if part == UNKNOWN {
            unknown_frame_name(module)
        } else {
            tidy_symbol_text(part).into_owned()
        };
        if java {
            name = tidy_java_symbol(&name, "java").to_string();
        }
        let inlined_java = i > 0;
        if inlined_java && !name.contains("_[i]") {
            name.push_str("_[i]");
        }
        let frame = make_frame(p, &name, part == UNKNOWN, module, inlined_java);
        out.push(p.intern_frame(frame));
    }
    // Parts are root first within the line; the sample's frames are leaf
    // first.
    out.reverse();
    out
}

fn make_frame(
    p: &mut Profile,
    name: &str,
    unknown: bool,
    module: Option<&str>,
    inlined: bool,
) -> Frame {
    let m = module.unwrap_or("");
    let mut frame = Frame {
        name: p.intern_str(name),
        ..Frame::default()
    };
    let perf_inline = m == "inlined";
    if !perf_inline && m != UNKNOWN {
        frame.module = p.intern_str(m);
    }
    frame.kind = if inlined || perf_inline {
        FrameKind::Inline
    } else if is_kernel_module(m) && !is_user_pseudo_module(m) {
        FrameKind::Kernel
    } else if is_jit_module(m) {
        if is_python_perf_symbol(name) {
            if let Some(file) = python_perf_file(name) {
                frame.file = p.intern_str(file);
            }
            FrameKind::Python
        } else {
            FrameKind::Jit
        }
    } else if unknown {
        FrameKind::Unknown
    } else {
        FrameKind::Native
    };
    frame
}

/// Bracketed perf module names that are user-space memory, not kernel
/// code (inferno's `_[k]` test still matches them; the folded writer
/// follows inferno there by module name).
fn is_user_pseudo_module(m: &str) -> bool {
    matches!(
        m,
        "[vdso]"
            | "[vdso32]"
            | "[vdsox32]"
            | "[vsyscall]"
            | "[heap]"
            | "[stack]"
            | "[vvar]"
            | "[uprobes]"
    ) || m.starts_with("[anon")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers() {
        let h = parse_header("sh 14812   578.425275:    1001001 cpu-clock:ppp: ").unwrap();
        assert_eq!((h.comm, h.pid, h.tid), ("sh", None, Some(14812)));
        assert_eq!(h.time_ns, Some(578_425_275_000));
        assert_eq!(
            (h.period, h.event, h.rest),
            (Some(1001001), Some("cpu-clock:ppp"), "")
        );
        let h = parse_header("swapper     0/0     [000]   593.285140:    1001001 cpu-clock:ppp: ")
            .unwrap();
        assert_eq!((h.comm, h.pid, h.tid), ("swapper", Some(0), Some(0)));
        let h = parse_header("V8 WorkerThread 24636/25607 [000] 94564.109216: cycles:").unwrap();
        assert_eq!(
            (h.comm, h.pid, h.tid, h.period),
            ("V8 WorkerThread", Some(24636), Some(25607), None)
        );
        let h = parse_header("             seq 24126   895.536600:    1001001 cpu-clock:ppp:      7f07d11a7b70 _start+0x0 (/usr/lib/ld.so)").unwrap();
        assert_eq!(h.comm, "seq");
        assert_eq!(h.rest, "7f07d11a7b70 _start+0x0 (/usr/lib/ld.so)");
        let h = parse_header("14812/14812   578.425275:    1001001 ").unwrap();
        assert_eq!((h.comm, h.pid, h.period), ("", Some(14812), Some(1001001)));
        let h = parse_header("perf 10 [001] 1.5: 1 sched:sched_switch: prev_comm=perf prev_pid=10")
            .unwrap();
        assert_eq!(event_name(h.event.unwrap()), "sched:sched_switch");
        assert_eq!(h.rest, "prev_comm=perf prev_pid=10");
        assert!(parse_header("no digits here").is_none());
    }

    #[test]
    fn frames() {
        let f = parse_frame_strict("\tffffffff81407fc5 finish_rcuwait+0x5 ([kernel.kallsyms])")
            .unwrap();
        assert_eq!(
            (f.sym, f.module),
            ("finish_rcuwait+0x5", Some("[kernel.kallsyms]"))
        );
        let f = parse_frame_strict("\t    7f1e2215d058  (/lib/libc.so)").unwrap();
        assert_eq!(f.sym, " ");
        assert!(parse_frame_strict("\tffff finish ([kernel.kal").is_none());
        assert_eq!(event_name("cycles:u"), "cycles");
        assert_eq!(parse_time("1.5:"), Some(1_500_000_000));
    }
}
