//! Chrome / Node `.cpuprofile` JSON through `stackconv_chrome::read`; what
//! it read keeps the profile invariants and writes as a `.cpuprofile`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(p) = stackconv_chrome::read(data) {
        stackconv_fuzz::check_profile(&p);
        let mut out = Vec::new();
        stackconv_chrome::write(&p, &stackconv_chrome::WriteOptions::default(), &mut out)
            .expect("chrome::write of what chrome::read returned");
    }
});
