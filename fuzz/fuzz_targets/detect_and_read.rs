//! Anything through the facade, `stackconv::read_bytes`: detection, then
//! whichever reader it picks (hermetic perf options, 64 MiB pprof limit).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    stackconv_fuzz::tolerate_table_crate_panics();
    let mut opts = stackconv::ReadOptions::default();
    opts.perf.symbols.no_system_paths = true;
    opts.pprof = stackconv::pprof::ReadOptions::default()
        .with_max_inflated_bytes(stackconv_fuzz::PPROF_MAX_INFLATED_BYTES);
    if let Ok(p) = stackconv::read_bytes(data, &opts) {
        stackconv_fuzz::check_profile(&p);
    }
});
