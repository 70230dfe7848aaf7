//! Bad input: truncated and corrupted data, gzip bombs, references out of
//! range, stack bombs. Every case must give an error (never a panic), and
//! the error must say what was wrong.

mod common;

#[allow(dead_code, missing_docs)]
#[path = "../src/proto.rs"]
mod proto;

use std::io::{Read, Write};

use prost::Message;
use stackconv_pprof::{read, Error, ReadOptions};

fn gunzip(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(data)
        .read_to_end(&mut out)
        .expect("gunzip");
    out
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(data).expect("gzip");
    e.finish().expect("gzip")
}

fn opts() -> ReadOptions {
    ReadOptions::default()
}

/// Offsets where a top-level field of a protobuf message starts or the
/// message ends, found with a walker written for the test.
fn field_boundaries(buf: &[u8]) -> Vec<usize> {
    fn varint(buf: &[u8], pos: &mut usize) -> u64 {
        let mut v = 0u64;
        let mut shift = 0;
        loop {
            let b = buf[*pos];
            *pos += 1;
            v |= u64::from(b & 0x7f) << shift;
            shift += 7;
            if b & 0x80 == 0 {
                return v;
            }
        }
    }
    let mut out = vec![0];
    let mut pos = 0;
    while pos < buf.len() {
        let key = varint(buf, &mut pos);
        match key & 7 {
            0 => {
                varint(buf, &mut pos);
            }
            2 => {
                let len = varint(buf, &mut pos) as usize;
                pos += len;
            }
            wt => panic!("wire type {wt} in test data"),
        }
        out.push(pos);
    }
    out
}

#[test]
fn truncated_plain_profile_fails_inside_fields() {
    for name in ["cpu.pb.gz", "dropframes.pb.gz"] {
        let plain = gunzip(&common::read_testdata(name));
        let boundaries = field_boundaries(&plain);
        let mut errors = 0;
        for cut in 0..plain.len() {
            let r = read(&plain[..cut], &opts());
            if boundaries.contains(&cut) {
                // A shorter but well-formed message: may or may not be a
                // valid profile (strings may be missing).
                continue;
            }
            let e = r
                .err()
                .unwrap_or_else(|| panic!("{name} cut at {cut}: read succeeded"));
            assert!(
                matches!(e, Error::Malformed { .. } | Error::Decode { .. }),
                "{name} cut at {cut}: {e}"
            );
            assert!(e.to_string().contains("byte "), "{e}");
            errors += 1;
        }
        assert!(errors > plain.len() / 2, "{name}: {errors} errors");
    }
}

#[test]
fn truncated_gzip_fails() {
    let gz = common::read_testdata("dropframes.pb.gz");
    for cut in (2..gz.len()).step_by(2).chain([gz.len() - 1]) {
        let e = read(&gz[..cut], &opts())
            .err()
            .unwrap_or_else(|| panic!("cut at {cut}: read succeeded"));
        assert!(matches!(e, Error::Gzip { .. }), "cut at {cut}: {e}");
    }
}

#[test]
fn corrupted_gzip_fails() {
    let gz = common::read_testdata("cpu.pb.gz");
    // Bytes 4..10 of the header (mtime, flags, OS) carry no data.
    for at in 10..gz.len() {
        let mut bad = gz.clone();
        bad[at] ^= 0x55;
        let r = read(&bad, &opts());
        assert!(r.is_err(), "byte {at} corrupted: read succeeded");
    }
}

#[test]
fn corrupted_plain_bytes_never_panic() {
    let plain = gunzip(&common::read_testdata("dropframes.pb.gz"));
    let total = read(&plain, &opts()).expect("valid").total(1);
    let mut errors = 0;
    let mut same_total = 0;
    // Every 3rd byte, two ways (debug builds are slow: keep it short).
    for at in (0..plain.len()).step_by(3) {
        for flip in [0xff_u8, 0x01] {
            let mut bad = plain.clone();
            bad[at] ^= flip;
            match read(&bad, &opts()) {
                Err(e) => {
                    assert!(!e.to_string().is_empty());
                    errors += 1;
                }
                Ok(p) => same_total += usize::from(p.total(1) == total),
            }
        }
    }
    // Most corruptions are caught; those that are not mostly change only
    // names or numbers.
    assert!(errors > plain.len() / 6, "{errors} errors");
    assert!(same_total > 0);
    // A corrupted first key is reported at byte 0.
    let mut bad = plain.clone();
    bad[0] = 0x0f; // field 1, wire type 7
    match read(&bad, &opts()) {
        Err(Error::Malformed { offset: 0, what }) => assert!(what.contains("wire type"), "{what}"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn gzip_bomb_stops_at_the_limit() {
    // 16 MiB of zeros, compressed as it streams (at the best level: the
    // fastest level of some deflate implementations gives up on long
    // matches, and a bomb is made as small as it can be).
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    let zeros = vec![0u8; 1 << 20];
    for _ in 0..16 {
        e.write_all(&zeros).expect("gzip");
    }
    let bomb = e.finish().expect("gzip");
    assert!(bomb.len() < 1 << 17);
    let limit = 1 << 20;
    let o = ReadOptions::default().with_max_inflated_bytes(limit);
    match read(&bomb, &o) {
        Err(Error::TooLarge { limit: l }) => assert_eq!(l, limit),
        other => panic!("{other:?}"),
    }
    // The same limit applies to plain input.
    match read(
        &zeros,
        &ReadOptions::default().with_max_inflated_bytes(1000),
    ) {
        Err(Error::TooLarge { limit: 1000 }) => {}
        other => panic!("{other:?}"),
    }
    assert_eq!(ReadOptions::default().max_inflated_bytes, 1 << 30);
}

/// A small valid profile: strings ["", "samples", "count", "main", "f",
/// "/bin/app", "k", "v"], one mapping, two functions, two locations, one
/// sample.
fn valid() -> proto::Profile {
    let strings = ["", "samples", "count", "main", "f", "/bin/app", "k", "v"];
    proto::Profile {
        sample_type: vec![proto::ValueType { r#type: 1, unit: 2 }],
        sample: vec![proto::Sample {
            location_id: vec![2, 1],
            value: vec![5],
            label: vec![proto::Label {
                key: 6,
                str: 7,
                num: 0,
                num_unit: 0,
            }],
        }],
        mapping: vec![proto::Mapping {
            id: 1,
            filename: 5,
            ..Default::default()
        }],
        location: vec![
            proto::Location {
                id: 1,
                mapping_id: 1,
                line: vec![proto::Line {
                    function_id: 1,
                    line: 3,
                    column: 0,
                }],
                ..Default::default()
            },
            proto::Location {
                id: 2,
                mapping_id: 1,
                line: vec![proto::Line {
                    function_id: 2,
                    line: 7,
                    column: 0,
                }],
                ..Default::default()
            },
        ],
        function: vec![
            proto::Function {
                id: 1,
                name: 3,
                ..Default::default()
            },
            proto::Function {
                id: 2,
                name: 4,
                ..Default::default()
            },
        ],
        string_table: strings.iter().map(|s| s.to_string()).collect(),
        ..Default::default()
    }
}

fn read_msg(m: &proto::Profile) -> Result<stackconv_model::Profile, Error> {
    read(&m.encode_to_vec(), &opts())
}

#[test]
fn the_valid_base_case_reads() {
    let p = read_msg(&valid()).expect("valid");
    assert_eq!(p.stack_names(p.samples().stacks()[0]), ["main", "f"]);
    assert_eq!(p.total(0), 5);
}

#[test]
fn missing_location_id() {
    let mut m = valid();
    m.sample[0].location_id.push(99);
    // The same through gzip.
    assert!(matches!(
        read(&gzip(&m.encode_to_vec()), &opts()),
        Err(Error::LocationId {
            sample: 0,
            id: 99,
            ..
        })
    ));
    match read_msg(&m) {
        Err(
            e @ Error::LocationId {
                sample: 0, id: 99, ..
            },
        ) => {
            assert!(e.to_string().contains("location id 99"), "{e}")
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn missing_function_id() {
    let mut m = valid();
    m.location[1].line[0].function_id = 99;
    match read_msg(&m) {
        Err(Error::FunctionId {
            location: 2,
            id: 99,
            ..
        }) => {}
        other => panic!("{other:?}"),
    }
}

#[test]
fn missing_mapping_id() {
    let mut m = valid();
    m.location[0].mapping_id = 7;
    match read_msg(&m) {
        Err(Error::MappingId {
            location: 1, id: 7, ..
        }) => {}
        other => panic!("{other:?}"),
    }
}

#[test]
fn string_index_out_of_range() {
    let mut m = valid();
    m.function[1].name = 99;
    match read_msg(&m) {
        Err(Error::StringIndex {
            field,
            index: 99,
            len: 8,
            ..
        }) => {
            assert_eq!(field, "Function 2 name")
        }
        other => panic!("{other:?}"),
    }
    let mut m = valid();
    m.sample_type[0].unit = -1;
    match read_msg(&m) {
        Err(Error::StringIndex { index: -1, .. }) => {}
        other => panic!("{other:?}"),
    }
    let mut m = valid();
    m.sample[0].label[0].key = 8;
    match read_msg(&m) {
        Err(Error::StringIndex {
            field, index: 8, ..
        }) => assert!(field.contains("label"), "{field}"),
        other => panic!("{other:?}"),
    }
    let mut m = valid();
    m.drop_frames = 1 << 40;
    assert!(matches!(read_msg(&m), Err(Error::StringIndex { .. })));
}

#[test]
fn zero_and_duplicate_ids() {
    let mut m = valid();
    m.location[1].id = 1;
    match read_msg(&m) {
        Err(Error::BadId {
            table: "location",
            id: 1,
            ..
        }) => {}
        other => panic!("{other:?}"),
    }
    let mut m = valid();
    m.function[0].id = 0;
    match read_msg(&m) {
        Err(Error::BadId {
            table: "function",
            id: 0,
            ..
        }) => {}
        other => panic!("{other:?}"),
    }
}

#[test]
fn value_count_mismatch() {
    let mut m = valid();
    m.sample[0].value.push(1);
    match read_msg(&m) {
        Err(Error::ValueCount {
            sample: 0,
            values: 2,
            types: 1,
            ..
        }) => {}
        other => panic!("{other:?}"),
    }
}

#[test]
fn wrong_wire_types() {
    // drop_frames (7) as a length-delimited field.
    let mut bytes = valid().encode_to_vec();
    bytes.extend_from_slice(&[0x3a, 0x01, 0x00]);
    match read(&bytes, &opts()) {
        Err(Error::Malformed { offset, what }) => {
            assert_eq!(offset as usize, bytes.len() - 3);
            assert!(what.contains("drop_frames"), "{what}");
        }
        other => panic!("{other:?}"),
    }
    // A sample whose bytes are not a Sample message.
    let mut bytes = valid().encode_to_vec();
    bytes.extend_from_slice(&[0x12, 0x02, 0x0a, 0x05]);
    match read(&bytes, &opts()) {
        Err(Error::Decode {
            message: "Sample",
            offset,
            ..
        }) => {
            assert_eq!(offset as usize, bytes.len() - 2)
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn nested_group_bomb_is_an_error() {
    // A sample made of 100 000 start-group tags of an unknown field: prost's
    // recursion limit stops it.
    let inner: Vec<u8> = std::iter::repeat_n(0x7b_u8, 100_000).collect(); // field 15, start group
    let mut bytes = valid().encode_to_vec();
    bytes.push(0x12);
    let mut len = inner.len();
    while len >= 0x80 {
        bytes.push((len as u8 & 0x7f) | 0x80);
        len >>= 7;
    }
    bytes.push(len as u8);
    bytes.extend_from_slice(&inner);
    match read(&bytes, &opts()) {
        Err(Error::Decode {
            message: "Sample", ..
        }) => {}
        other => panic!("{other:?}"),
    }
}

#[test]
fn stack_bomb_is_an_error() {
    // One location with 5000 inline lines, listed 2000 times by each of 20
    // samples: 200 million frames from about 60 KB.
    let mut m = valid();
    m.location[0].line = (0..5000)
        .map(|i| proto::Line {
            function_id: 1,
            line: i,
            column: 0,
        })
        .collect();
    m.sample = (0..20)
        .map(|i| proto::Sample {
            location_id: vec![1; 2000],
            value: vec![i],
            label: vec![],
        })
        .collect();
    let bytes = m.encode_to_vec();
    assert!(bytes.len() < 100_000);
    match read(&bytes, &opts()) {
        Err(Error::TooManyFrames { limit }) => {
            assert_eq!(limit, bytes.len() as u64 * 64 + (1 << 20))
        }
        other => panic!("{other:?}"),
    }
}

mod arbitrary {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        /// Arbitrary bytes: an error or a profile whose every sample has one
        /// value per column, never a panic.
        #[test]
        fn arbitrary_bytes(data in proptest::collection::vec(any::<u8>(), 0..512)) {
            if let Ok(p) = read(&data, &opts()) {
                for column in p.samples().values() {
                    prop_assert_eq!(column.len(), p.samples().len());
                }
            }
        }

        /// A valid profile with a few bytes replaced.
        #[test]
        fn mutated_profile(edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..6)) {
            let mut bytes = valid().encode_to_vec();
            for (at, b) in edits {
                let i = at.index(bytes.len());
                bytes[i] = b;
            }
            if let Ok(p) = read(&bytes, &opts()) {
                // Each sample costs at least two bytes.
                prop_assert!(p.samples().len() <= bytes.len() / 2);
            }
        }
    }
}

#[test]
fn reference_errors_name_the_byte_of_their_message() {
    // A sample with a missing location: the offset is where that sample's
    // message starts.
    let mut m = valid();
    m.sample[0].location_id.push(99);
    let bytes = m.encode_to_vec();
    let sample = m.sample[0].encode_to_vec();
    match read(&bytes, &opts()) {
        Err(e @ Error::LocationId { offset, .. }) => {
            let at = usize::try_from(offset).unwrap();
            assert!(bytes[at..].starts_with(&sample), "offset {at}");
            assert!(e.to_string().contains(&format!("byte {at}:")), "{e}");
        }
        other => panic!("{other:?}"),
    }
    // A function's bad string index: where that function's message starts.
    let mut m = valid();
    m.function[1].name = 99;
    let bytes = m.encode_to_vec();
    let function = m.function[1].encode_to_vec();
    match read(&bytes, &opts()) {
        Err(Error::StringIndex { offset, .. }) => {
            let at = usize::try_from(offset).unwrap();
            assert!(bytes[at..].starts_with(&function), "offset {at}");
        }
        other => panic!("{other:?}"),
    }
    // A sample type's: the first sample type's message.
    let mut m = valid();
    m.sample_type[0].r#type = 50;
    let bytes = m.encode_to_vec();
    let st = m.sample_type[0].encode_to_vec();
    match read(&bytes, &opts()) {
        Err(Error::StringIndex { offset, .. }) => {
            let at = usize::try_from(offset).unwrap();
            assert!(bytes[at..].starts_with(&st), "offset {at}");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn values_adding_up_past_64_bits_are_an_error_naming_the_sample() {
    // Two samples of one stack (merged into one row) whose values each fit.
    let mut m = valid();
    m.sample[0].value = vec![i64::MAX - 3];
    m.sample.push(m.sample[0].clone());
    m.sample[1].value = vec![5];
    let data = m.encode_to_vec();
    match read(&data, &opts()) {
        Err(
            e @ Error::WeightOverflow {
                sample: 1,
                column: 0,
                offset,
            },
        ) => {
            // The second sample's message: after the first one's.
            assert!(offset > 0 && offset < data.len() as u64, "{e}");
            assert!(e.to_string().contains("2^63-1"), "{e}");
            assert_eq!(e.offset(), Some(offset));
        }
        other => panic!("{other:?}"),
    }
    // Magnitudes count, as in `Profile::checked_total`: MAX-3 and
    // -(MAX-3) in two rows sum to 0, but a sum of some rows (a subtree
    // with other samples) could pass 2^63-1; refused too.
    m.sample[1].value = vec![-(i64::MAX - 3)];
    m.sample[1].location_id = vec![1];
    assert!(matches!(
        read_msg(&m),
        Err(Error::WeightOverflow { sample: 1, .. })
    ));
    // Up to the limit reads.
    m.sample[1].value = vec![3];
    assert_eq!(read_msg(&m).expect("fits").total(0), i64::MAX);
}
