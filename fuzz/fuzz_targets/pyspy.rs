//! py-spy raw text through `stackconv_collapsed::pyspy::read`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(p) = stackconv_collapsed::pyspy::read(data) {
        stackconv_fuzz::check_profile(&p);
    }
});
