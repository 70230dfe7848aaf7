//! `ReadOptions::fold`: folding while reading gives the rows of the
//! unfolded profile folded afterwards, on every testdata recording
//! (several events, off-CPU from sched_switch, DWARF unwinding, JIT,
//! pipe mode, zstd).

mod common;

use stackconv_perf::read;

#[test]
fn folding_while_reading_is_folding_after() {
    for name in [
        "c-2ev",
        "c-fp",
        "c-dwarf",
        "c-fp.pipe",
        "c-zstd",
        "cpp",
        "mutex",
        "mutex-a",
        "py-dwarf",
        "py-fp",
        "py313-jit",
        "rust-v0",
    ] {
        let data = common::data(name);
        let opts = common::options(name);
        let unfolded = read(&data, &opts).unwrap();
        let mut fold_opts = opts.clone();
        fold_opts.fold = true;
        let folded = read(&data, &fold_opts).unwrap();
        let want = unfolded.clone().into_folded();
        assert!(folded.samples.times.is_none(), "{name}: no times");
        assert_eq!(folded.samples.stacks, want.samples.stacks, "{name}: stacks");
        assert_eq!(
            folded.samples.threads, want.samples.threads,
            "{name}: threads"
        );
        assert_eq!(folded.samples.values, want.samples.values, "{name}: values");
        assert_eq!(
            folded.stacks.nodes(),
            want.stacks.nodes(),
            "{name}: stack table"
        );
        assert_eq!(folded.meta.duration_ns, unfolded.meta.duration_ns, "{name}");
        assert_eq!(folded.meta.warnings, unfolded.meta.warnings, "{name}");
        assert!(
            folded.samples.len() <= unfolded.samples.len(),
            "{name}: folded has no more rows"
        );
    }
}
