//! A Parquet or Arrow IPC table of profiles through the facade
//! (`stackconv::read_bytes` with the format detected): the columnar
//! reader's schema and row checks, and the merge of its inputs.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    stackconv_fuzz::tolerate_table_crate_panics();
    let format = if data.starts_with(b"PAR1") {
        stackconv::InputFormat::Parquet
    } else {
        stackconv::InputFormat::Arrow
    };
    let mut opts = stackconv::ReadOptions::default();
    opts.format = Some(format);
    if let Ok(p) = stackconv::read_bytes(data, &opts) {
        stackconv_fuzz::check_profile(&p);
    }
});
