//! speedscope JSON through `stackconv_speedscope::read`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(p) = stackconv_speedscope::read(data) {
        stackconv_fuzz::check_profile(&p);
    }
});
