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
