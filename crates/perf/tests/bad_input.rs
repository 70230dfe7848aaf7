//! Damaged perf.data inputs: truncation at many byte positions, corrupted
//! headers, records running past their section, huge claimed sizes, lying
//! feature sections. Each gives an error naming a byte offset (or, where
//! perf still reads the file, a profile with a warning), never a panic.
#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

mod common;

use stackconv_perf::{read, Error, ReadOptions};

fn u64_at(d: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(d[at..at + 8].try_into().unwrap())
}

fn put_u64(d: &mut [u8], at: usize, v: u64) {
    d[at..at + 8].copy_from_slice(&v.to_le_bytes());
}

/// (data offset, data end) of a file-mode perf.data.
fn data_section(d: &[u8]) -> (usize, usize) {
    let off = u64_at(d, 40) as usize;
    (off, off + u64_at(d, 48) as usize)
}

/// Offsets of the records of the data section.
fn records(d: &[u8]) -> Vec<(usize, u32, usize)> {
    let (mut at, end) = data_section(d);
    let mut out = Vec::new();
    while at + 8 <= end {
        let ty = u32::from_le_bytes(d[at..at + 4].try_into().unwrap());
        let size = u16::from_le_bytes(d[at + 6..at + 8].try_into().unwrap()) as usize;
        out.push((at, ty, size));
        at += size;
    }
    out
}

fn opts() -> ReadOptions {
    common::options("c-fp")
}

#[test]
fn truncated_everywhere() {
    let full = common::data("c-fp");
    let (_, data_end) = data_section(&full);
    let whole = read(&full, &opts()).unwrap();
    let total = whole.total(0);
    assert!(total > 0);
    // Every byte of the headers, then every 97th byte.
    let cuts = (0..300).chain((300..full.len()).step_by(97));
    let mut errors = 0;
    for cut in cuts {
        match read(&full[..cut], &opts()) {
            Err(e) => {
                let offset = e
                    .offset()
                    .unwrap_or_else(|| panic!("cut {cut}: no offset: {e}"));
                assert!(
                    offset <= cut as u64,
                    "cut {cut}: offset {offset} past the end: {e}"
                );
                assert!(
                    cut < data_end,
                    "cut {cut} after the data section refused: {e}"
                );
                errors += 1;
            }
            Ok(p) => {
                // Only the feature sections were cut: perf reads such a file.
                assert!(cut >= data_end, "cut {cut} inside the data accepted");
                assert_eq!(p.total(0), total, "cut {cut}");
                assert!(!p.meta().warnings.is_empty(), "cut {cut}: no warning");
            }
        }
    }
    assert!(errors > 100);
}

#[test]
fn truncated_message_names_offset_and_what() {
    let full = common::data("c-fp");
    let recs = records(&full);
    let (at, _, size) = recs[recs.len() / 2];
    let err = read(&full[..at + size / 2], &opts()).unwrap_err();
    assert_eq!(err.offset(), Some(at as u64));
    let msg = err.to_string();
    assert!(msg.contains(&format!("byte {at}")), "{msg}");
    assert!(msg.contains("truncated"), "{msg}");
}

#[test]
fn corrupted_header() {
    let full = common::data("c-fp");
    let mut d = full.clone();
    d[0] = b'X';
    assert!(matches!(read(&d, &opts()), Err(Error::NotPerfData)));

    let mut d = full.clone();
    put_u64(&mut d, 8, 50); // header size
    let e = read(&d, &opts()).unwrap_err();
    assert_eq!(e.offset(), Some(8), "{e}");

    let mut d = full.clone();
    put_u64(&mut d, 16, 1 << 40); // attr size
    let e = read(&d, &opts()).unwrap_err();
    assert_eq!(e.offset(), Some(16), "{e}");

    let mut d = full.clone();
    put_u64(&mut d, 48, u64::MAX - 8); // data size overflowing
    let e = read(&d, &opts()).unwrap_err();
    assert_eq!(e.offset(), Some(40), "{e}");

    let mut d = full.clone();
    put_u64(&mut d, 32, 1 << 50); // attr section size: 1 PiB claimed
    let e = read(&d, &opts()).unwrap_err();
    assert!(matches!(e, Error::Truncated { .. }), "{e}");
    assert_eq!(e.offset(), Some(u64_at(&full, 24)), "{e}");
}

#[test]
fn record_running_past_the_data_section() {
    let full = common::data("c-fp");
    let (_, end) = data_section(&full);
    let recs = records(&full);
    let (at, _, size) = *recs.last().unwrap();
    let mut d = full.clone();
    let new_size = (size + 64) as u16;
    d[at + 6..at + 8].copy_from_slice(&new_size.to_le_bytes());
    match read(&d, &opts()).unwrap_err() {
        Error::RecordTooLong {
            offset,
            size,
            end: e,
        } => {
            assert_eq!(offset, at as u64);
            assert_eq!(size, u64::from(new_size));
            assert_eq!(e, end as u64);
        }
        e => panic!("{e}"),
    }
    // A record size below the header size.
    let mut d = full.clone();
    let (at, _, _) = recs[3];
    d[at + 6..at + 8].copy_from_slice(&4u16.to_le_bytes());
    let e = read(&d, &opts()).unwrap_err();
    assert_eq!(e.offset(), Some(at as u64), "{e}");
}

/// Feature sections whose sizes lie are skipped with a warning, as perf
/// skips them, and nothing is allocated for their claimed size.
#[test]
fn lying_feature_sections() {
    let full = common::data("c-fp");
    let whole = read(&full, &opts()).unwrap();
    let (_, data_end) = data_section(&full);
    let features = u64_at(&full, 72).count_ones() as usize;
    assert!(features > 3);
    for i in 0..features {
        for claimed in [u64::MAX / 2, 1 << 46, full.len() as u64] {
            let mut d = full.clone();
            put_u64(&mut d, data_end + 16 * i + 8, claimed);
            let p = read(&d, &opts()).unwrap();
            assert_eq!(p.total(0), whole.total(0));
            assert!(
                p.meta().warnings.iter().any(|w| w.contains("feature")),
                "feature {i} size {claimed}: {:?}",
                p.meta().warnings
            );
        }
    }
}

/// A sample whose callchain length is huge (linux-perf-event-reader would
/// multiply it unchecked) is skipped and counted.
#[test]
fn huge_callchain_length() {
    let full = common::data("c-fp");
    let whole = read(&full, &opts()).unwrap();
    let recs = records(&full);
    let &(at, _, _) = recs.iter().find(|r| r.1 == 9).unwrap();
    // c-fp's sample_type: IP, TID, TIME, PERIOD, CALLCHAIN (perf record -g -F):
    // the callchain length follows 8 + 8 + 8 + 8 bytes of the body.
    let mut d = full.clone();
    let nr_at = at + 8 + 32;
    let nr = u64_at(&d, nr_at);
    assert!(nr > 0 && nr < 200, "layout assumption: nr = {nr}");
    put_u64(&mut d, nr_at, u64::MAX / 4);
    let p = read(&d, &opts()).unwrap();
    assert_eq!(p.samples().len() + 1, whole.samples().len());
    let malformed = p
        .meta()
        .losses
        .iter()
        .find(|l| l.what.contains("malformed"))
        .map(|l| l.count);
    assert_eq!(malformed, Some(1));
}

/// An MMAP2 record claiming a build id longer than 20 bytes
/// (linux-perf-event-reader asserts) is skipped and counted.
#[test]
fn mmap2_build_id_too_long() {
    let full = common::data("c-fp");
    let recs = records(&full);
    let &(at, _, _) = recs.iter().find(|r| r.1 == 10).unwrap();
    let mut d = full.clone();
    let misc = u16::from_le_bytes(d[at + 4..at + 6].try_into().unwrap()) | (1 << 14);
    d[at + 4..at + 6].copy_from_slice(&misc.to_le_bytes());
    d[at + 8 + 32] = 200;
    let p = read(&d, &opts()).unwrap();
    assert!(p
        .meta()
        .warnings
        .iter()
        .any(|w| w.contains("build id size 200")));
    assert!(p
        .meta()
        .losses
        .iter()
        .any(|l| l.what.contains("malformed") && l.count == 1));
}

/// Random damage anywhere: an error with an offset inside the input, or a
/// profile; never a panic.
#[test]
fn random_byte_damage() {
    damage("c-fp", 300, 4);
}

/// The same on compressed records, a pipe stream and DWARF samples
/// (registers and stack copies feed the unwinder).
#[test]
fn random_byte_damage_other_formats() {
    damage("c-zstd", 200, 4);
    damage("c-pipe", 200, 4);
    damage("c-dwarf", 20, 200);
    damage("py-dwarf", 5, 300);
}

fn damage(name: &str, rounds: usize, bytes: usize) {
    let full = common::data(name);
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let mut errors = 0;
    for _ in 0..rounds {
        let mut d = full.clone();
        for _ in 0..bytes {
            let at = (next() % d.len() as u64) as usize;
            d[at] = next() as u8;
        }
        match read(&d, &common::options(name)) {
            Err(e) => {
                errors += 1;
                if let Some(o) = e.offset() {
                    assert!(o <= d.len() as u64, "{e}");
                }
            }
            Ok(p) => assert!(p.samples().len() <= 2 * full.len()),
        }
    }
    let _ = errors;
}

#[test]
fn not_perf_data() {
    assert!(matches!(
        read(b"", &opts()),
        Err(Error::Truncated { offset: 0, .. })
    ));
    assert!(matches!(
        read(b"hello world, not perf", &opts()),
        Err(Error::NotPerfData)
    ));
    assert!(!stackconv_perf::looks_like(b"PERFFILE"));
    assert!(stackconv_perf::looks_like(b"PERFILE2\x10\0\0\0\0\0\0\0"));
}

/// Pipe mode: a stream cut inside a record is an error naming the record,
/// not a clean end (linux-perf-data takes it for one).
#[test]
fn truncated_pipe_stream() {
    let full = common::data("c-pipe");
    let whole = read(&full, &opts()).unwrap();
    assert!(whole.total(0) > 0);
    // The records of the stream.
    let mut at = 16usize;
    let mut recs = Vec::new();
    while at + 8 <= full.len() {
        let size = u16::from_le_bytes(full[at + 6..at + 8].try_into().unwrap()) as usize;
        recs.push((at, size));
        at += size;
    }
    assert_eq!(at, full.len());
    for &(at, size) in recs.iter().step_by(37) {
        for cut in [at + 3, at + size / 2] {
            let e = read(&full[..cut], &opts()).unwrap_err();
            assert_eq!(e.offset(), Some(at as u64), "cut {cut}: {e}");
        }
        // Cut between records: a shorter but valid stream.
        if at > 16 {
            assert!(read(&full[..at], &opts()).is_ok());
        }
    }
    // From a reader (stdin), the same.
    let e = stackconv_perf::read_pipe(&full[..full.len() - 5], &opts()).unwrap_err();
    assert!(matches!(e, Error::Truncated { .. }), "{e}");
}

/// Records of a type this reader does not know are skipped and counted.
#[test]
fn unknown_record_types_counted() {
    let full = common::data("c-fp");
    let whole = read(&full, &opts()).unwrap();
    let recs = records(&full);
    let mut d = full.clone();
    let mut changed = 0;
    for &(at, ty, _) in &recs {
        if ty == 3 || ty == 4 {
            // COMM / EXIT -> type 50 (unassigned)
            d[at..at + 4].copy_from_slice(&50u32.to_le_bytes());
            changed += 1;
        }
    }
    assert!(changed > 0);
    let p = read(&d, &opts()).unwrap();
    let unknown = p
        .meta()
        .losses
        .iter()
        .find(|l| l.what.contains("unknown type"))
        .map(|l| l.count);
    assert_eq!(unknown, Some(changed));
    assert_eq!(p.total(0), whole.total(0));
}

/// An attribute linux-perf-event-reader does not understand (an unknown
/// software counter here) is refused with its offset, before the crate
/// refuses the stream without one.
#[test]
fn unsupported_event_attribute() {
    let full = common::data("c-fp");
    let attr_at = u64_at(&full, 24) as usize;
    let mut d = full.clone();
    put_u64(&mut d, attr_at + 8, 999); // config: no such software counter
    match read(&d, &opts()).unwrap_err() {
        Error::Invalid { offset, what, .. } => {
            assert_eq!(offset, attr_at as u64);
            assert_eq!(what, "perf_event_attr");
        }
        e => panic!("{e}"),
    }
}

#[test]
fn periods_adding_up_past_64_bits_are_an_error_naming_the_sample() {
    let full = common::data("c-fp");
    let whole = read(&full, &opts()).unwrap();
    let samples: Vec<usize> = records(&full)
        .iter()
        .filter(|r| r.1 == 9)
        .map(|r| r.0)
        .collect();
    assert!(samples.len() > 3);
    // c-fp's sample_type: IP, TID, TIME, PERIOD, ...: the period is the
    // fourth u64 of the body.
    let period_at = |rec: usize| rec + 8 + 24;
    let period = u64_at(&full, period_at(samples[0]));
    assert!(
        period > 0 && period < 1 << 40,
        "layout assumption: {period}"
    );
    // One period past i64::MAX (it was cut to i64::MAX).
    let mut d = full.clone();
    put_u64(&mut d, period_at(samples[0]), 1 << 63);
    match read(&d, &opts()) {
        Err(e @ Error::WeightOverflow { .. }) => {
            assert!(e.to_string().contains("2^63-1"), "{e}");
            assert!(e.sample().is_some(), "{e}");
            // The record is named by its offset in the file.
            assert_eq!(e.offset(), Some(samples[0] as u64), "{e}");
            assert!(
                e.to_string()
                    .contains(&format!("sample record at byte {}", samples[0])),
                "{e}"
            );
        }
        other => panic!("{other:?}"),
    }
    // Two periods that fit alone but not together (they saturated).
    let mut d = full.clone();
    put_u64(&mut d, period_at(samples[1]), 1 << 62);
    put_u64(&mut d, period_at(samples[2]), 1 << 62);
    match read(&d, &opts()) {
        Err(Error::WeightOverflow {
            sample,
            column,
            offset,
        }) => {
            assert!(sample >= 1, "the second large period: {sample}");
            assert_eq!(
                offset,
                Some(samples[2] as u64),
                "the second large period's record"
            );
            assert_eq!(column, whole.value_types()[0].kind);
        }
        other => panic!("{other:?}"),
    }
    // One that fits reads, with its weight.
    let mut d = full.clone();
    let old = u64_at(&d, period_at(samples[1]));
    put_u64(&mut d, period_at(samples[1]), 1 << 62);
    let p = read(&d, &opts()).unwrap();
    assert_eq!(p.total(0), whole.total(0) - old as i64 + (1 << 62));
}
