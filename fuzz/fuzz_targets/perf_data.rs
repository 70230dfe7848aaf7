//! perf.data (file or pipe mode) through `stackconv_perf::read`, hermetic:
//! no system paths, so no file outside the input is read; inputs of odd
//! length are folded while read.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut opts = stackconv_perf::ReadOptions::default();
    opts.symbols.no_system_paths = true;
    opts.fold = data.len() % 2 == 1;
    if let Ok(p) = stackconv_perf::read(data, &opts) {
        stackconv_fuzz::check_profile(&p);
    }
});
