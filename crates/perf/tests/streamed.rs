//! Reading the records while the walk validates them (file mode) gives
//! what reading them once the walk is done gives: the same profile, or
//! the same error, on every testdata recording, cut short or damaged.

mod common;

use stackconv_perf::{read, read_walked_first};

/// `read` and `read_walked_first` agree on `data`.
fn agree(name: &str, what: &str, data: &[u8], opts: &stackconv_perf::ReadOptions) {
    let streamed = read(data, opts).map(|p| format!("{p:?}"));
    let walked = read_walked_first(data, opts).map(|p| format!("{p:?}"));
    match (&streamed, &walked) {
        (Ok(a), Ok(b)) => assert!(a == b, "{name} {what}: profiles differ"),
        (Err(a), Err(b)) => assert_eq!(a.to_string(), b.to_string(), "{name} {what}"),
        _ => panic!(
            "{name} {what}: {:?} vs {:?}",
            streamed.as_ref().err(),
            walked.as_ref().err()
        ),
    }
}

#[test]
fn reading_along_the_walk_is_reading_after_it() {
    for name in common::RECORDINGS {
        let data = common::data(name);
        let opts = common::options(name);
        agree(name, "whole", &data, &opts);
        // Cut short, and a record's size damaged, at places through the
        // data: the walk's error is the one reported.
        for k in 1..6 {
            let at = data.len() * k / 6;
            agree(name, &format!("cut at {at}"), &data[..at], &opts);
            let mut bad = data.clone();
            for b in bad.iter_mut().skip(at).take(8) {
                *b = 0xff;
            }
            agree(name, &format!("damaged at {at}"), &bad, &opts);
        }
    }
}

#[test]
fn compressed_records_without_the_compressed_feature_are_read_after_the_walk() {
    // The header's feature bit says the records are compressed: with it
    // cleared, the walk meets records made by decompressing while the
    // reading has begun, and the walked container is read instead.
    let name = "c-zstd";
    let mut data = common::data(name);
    assert_eq!(&data[..8], b"PERFILE2", "file mode");
    let word = u64::from_le_bytes(data[72..80].try_into().unwrap());
    assert_ne!(word & (1 << 27), 0, "the recording says it is compressed");
    data[72..80].copy_from_slice(&(word & !(1 << 27)).to_le_bytes());
    let opts = common::options(name);
    agree(name, "feature bit cleared", &data, &opts);
    assert!(!read(&data, &opts).unwrap().samples().is_empty());
}
