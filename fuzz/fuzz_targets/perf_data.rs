//! perf.data (file or pipe mode) through `stackconv_perf::read`, hermetic:
//! no system paths, so no file outside the input is read; inputs of odd
//! length are folded while read, and of those, inputs of length 3 modulo 4
//! are read again cut for a flame graph with every stack moved to a
//! temporary file as it comes (`max_stack_memory` 0): the totals must be
//! the folded read's.
#![no_main]

use std::sync::Arc;

use libfuzzer_sys::fuzz_target;
use stackconv_model::pruning::{DrawnKeys, FlameGraphPruning};

fuzz_target!(|data: &[u8]| {
    let mut opts = stackconv_perf::ReadOptions::default();
    opts.symbols.no_system_paths = true;
    opts.fold = data.len() % 2 == 1;
    let Ok(p) = stackconv_perf::read(data, &opts) else {
        return;
    };
    stackconv_fuzz::check_profile(&p);
    if data.len() % 4 != 3 {
        return;
    }
    opts.max_stack_memory = Some(0);
    opts.flame_graph = Some(FlameGraphPruning {
        min_width_percent: 1.0,
        column: None,
        keys: Arc::new(|p| {
            Some(DrawnKeys {
                frames: p.frames().iter().map(|(id, _)| id).collect(),
                threads: vec![0; p.threads().len()],
            })
        }),
    });
    let cut = stackconv_perf::read(data, &opts).expect("read again, cut");
    stackconv_fuzz::check_profile(&cut);
    assert_eq!(cut.totals(), p.totals(), "the cut read's totals");
});
