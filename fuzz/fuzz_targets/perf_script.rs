//! `perf script` text through `stackconv_collapsed::perf_script::read`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(p) = stackconv_collapsed::perf_script::read(data) {
        stackconv_fuzz::check_profile(&p);
    }
});
