//! kallsyms text (`--kallsyms FILE`, `/proc/kallsyms`) through `stackconv_perf::symbolize::fuzzing::kallsyms`: parsed, put
//! in the symbolizer's lookup table, and looked up as a recording's
//! addresses would be. No panic, hang or over-allocation.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = stackconv_perf::symbolize::fuzzing::kallsyms(data);
});
