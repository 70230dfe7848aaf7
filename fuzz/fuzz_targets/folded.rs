//! Folded text through `stackconv_collapsed::folded::read`: the folded
//! output of what it read weighs the profile's column-0 total, and reads
//! back to the same total.
#![no_main]

use libfuzzer_sys::fuzz_target;
use stackconv_collapsed::folded;

fuzz_target!(|data: &[u8]| {
    let Ok(p) = folded::read(data) else { return };
    let out = stackconv_fuzz::check_profile(&p);
    let total = i128::from(p.total(0));
    if total < i128::from(i64::MAX) {
        assert_eq!(
            stackconv_fuzz::folded_sum(&out),
            Some(total),
            "folded output's total vs the input's"
        );
        let back = folded::read(&out).expect("folded output reads back");
        assert_eq!(back.total(0), p.total(0), "total after a round trip");
    }
});
