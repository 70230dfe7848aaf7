//! Input-side fixes: what the facade detects and reads (gzip, BOMs,
//! weights that overflow), each with the error a user can act on.

use std::io::Write;

use stackconv::{detect, read_bytes, InputFormat, ReadOptions};

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(data).unwrap();
    gz.finish().unwrap()
}

/// A gzipped pprof whose protobuf is corrupt is read as pprof and gets the
/// protobuf error with its offset, not "not a profile ... NUL byte".
#[test]
fn gzip_with_corrupt_protobuf_reports_the_protobuf_error() {
    // sample_type (field 1, length 4), then field 0 (invalid) and junk.
    let data = gzip(&[0x0a, 0x04, 0x08, 0x01, 0x10, 0x02, 0x00, 0x00, 0xff, 0x00]);
    assert_eq!(detect(&data), Some(InputFormat::Pprof));
    let err = read_bytes(&data, &ReadOptions::default())
        .unwrap_err()
        .to_string();
    assert!(err.starts_with("pprof: byte "), "{err}");
    assert!(!err.contains("NUL"), "{err}");
    // A truncated varint at the end.
    let data = gzip(&[0x0a, 0x04, 0x08, 0x01, 0x10, 0x02, 0x10, 0xff]);
    let err = read_bytes(&data, &ReadOptions::default())
        .unwrap_err()
        .to_string();
    assert!(
        err.starts_with("pprof: byte 7: data ends inside a varint"),
        "{err}"
    );
    // gzip magic without a deflate stream stays unknown.
    assert_eq!(detect(b"\x1f\x8b\x08\x00junkjunkjunk"), None);
}

/// Weights that add up past 64 bits are refused whatever the format (here
/// pprof, whose reader takes each value as it is): later sums cannot
/// overflow.
#[test]
fn weights_past_64_bits_are_refused_for_every_format() {
    use stackconv::model::{FrameKind, Profile, ValueType};
    let mut p = Profile::new(vec![ValueType::new("samples", "count")]);
    let a = p.intern_frame_named("a", FrameKind::Native);
    let b = p.intern_frame_named("b", FrameKind::Native);
    let t = p.intern_thread(Default::default());
    let sa = p.intern_stack_frames([a]);
    let sb = p.intern_stack_frames([a, b]);
    p.push_sample(sa, t, None, &[i64::MAX]);
    p.push_sample(sb, t, None, &[5]);
    let mut pb = Vec::new();
    stackconv::pprof::write(&p, &mut pb).unwrap();
    let err = stackconv::read_bytes(&pb, &stackconv::ReadOptions::default()).unwrap_err();
    assert!(err.to_string().contains("add up past 2^63-1"), "{err}");
    // One value short of the limit is fine.
    let mut p2 = Profile::new(vec![ValueType::new("samples", "count")]);
    let t = p2.intern_thread(Default::default());
    let a = p2.intern_frame_named("a", FrameKind::Native);
    let s = p2.intern_stack_frames([a]);
    p2.push_sample(s, t, None, &[i64::MAX - 5]);
    p2.push_sample(s, t, None, &[5]);
    let mut pb = Vec::new();
    stackconv::pprof::write(&p2, &mut pb).unwrap();
    let read = stackconv::read_bytes(&pb, &stackconv::ReadOptions::default()).unwrap();
    assert_eq!(read.total(0), i64::MAX);
}
