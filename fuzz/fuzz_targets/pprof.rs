//! pprof (gzipped or plain) through `stackconv_pprof::read` with a 64 MiB
//! inflate limit; what it read writes as pprof (folded first for inputs of
//! odd length) and reads back with the same totals.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let opts = stackconv_pprof::ReadOptions::default()
        .with_max_inflated_bytes(stackconv_fuzz::PPROF_MAX_INFLATED_BYTES);
    let Ok(p) = stackconv_pprof::read(data, &opts) else {
        return;
    };
    stackconv_fuzz::check_profile(&p);
    let p = if data.len() % 2 == 1 { p.fold() } else { p };
    let mut out = Vec::new();
    stackconv_pprof::write(&p, &mut out).expect("pprof::write of what pprof::read returned");
    let back = stackconv_pprof::read(&out, &stackconv_pprof::ReadOptions::default())
        .expect("pprof output reads back");
    assert_eq!(back.totals(), p.totals(), "totals after a pprof round trip");
});
