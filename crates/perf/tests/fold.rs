//! `ReadOptions::fold`: folding while reading gives the rows of the
//! unfolded profile folded afterwards, on every testdata recording
//! (several events, off-CPU from sched_switch, DWARF unwinding, JIT,
//! pipe mode, zstd).

mod common;

use stackconv_perf::read;

#[test]
fn folding_while_reading_is_folding_after() {
    for name in common::RECORDINGS {
        let data = common::data(name);
        let opts = common::options(name);
        let unfolded = read(&data, &opts).unwrap();
        let mut fold_opts = opts.clone();
        fold_opts.fold = true;
        let folded = read(&data, &fold_opts).unwrap();
        let want = unfolded.clone().into_folded();
        assert!(folded.samples().times().is_none(), "{name}: no times");
        // Known to be folded (the rows compared below are folded ones):
        // folding again, and the writers' merging, are skipped.
        assert!(folded.samples().is_folded(), "{name}: marked folded");
        assert!(!unfolded.samples().is_folded(), "{name}: not marked");
        assert_eq!(
            folded.samples().stacks(),
            want.samples().stacks(),
            "{name}: stacks"
        );
        assert_eq!(
            folded.samples().threads(),
            want.samples().threads(),
            "{name}: threads"
        );
        assert_eq!(
            folded.samples().values(),
            want.samples().values(),
            "{name}: values"
        );
        assert_eq!(
            folded.stacks().nodes(),
            want.stacks().nodes(),
            "{name}: stack table"
        );
        assert_eq!(
            folded.meta().duration_ns,
            unfolded.meta().duration_ns,
            "{name}"
        );
        assert_eq!(folded.meta().warnings, unfolded.meta().warnings, "{name}");
        assert!(
            folded.samples().len() <= unfolded.samples().len(),
            "{name}: folded has no more rows"
        );
    }
}

/// Reading from the mapped file, its pages released behind the reader
/// every 128 KiB (the smallest window that releases whole 64 KiB pages),
/// gives the profile read from bytes.
#[test]
fn reading_the_mapped_file_is_reading_its_bytes() {
    for name in [
        "c-fp",
        "c-dwarf",
        "c-fp.pipe",
        "c-zstd",
        "mutex",
        "py-dwarf",
    ] {
        let path = common::path(name);
        let opts = common::options(name);
        let want = read(&common::data(name), &opts).unwrap();
        let file = std::fs::File::open(&path).unwrap();
        for window in [128 << 10, 1 << 20] {
            let got = stackconv_perf::read_file_windowed(&file, &opts, window).unwrap();
            assert_eq!(
                got.samples().stacks(),
                want.samples().stacks(),
                "{name} {window}"
            );
            assert_eq!(
                got.samples().values(),
                want.samples().values(),
                "{name} {window}"
            );
            assert_eq!(
                got.samples().times(),
                want.samples().times(),
                "{name} {window}"
            );
            assert_eq!(
                got.stacks().nodes(),
                want.stacks().nodes(),
                "{name} {window}"
            );
            assert_eq!(got.meta().warnings, want.meta().warnings, "{name} {window}");
        }
    }
}
