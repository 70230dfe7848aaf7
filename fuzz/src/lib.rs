//! Checks shared by the fuzz targets in `fuzz_targets/`.
//!
//! Every target feeds the fuzzer's bytes to one reader; when the reader
//! returns a profile, [`check_profile`] holds it to invariants that every
//! profile a reader hands out must keep.

use stackconv_collapsed::folded;
use stackconv_model::Profile;

/// The pprof inflate limit the targets use: large enough for any real
/// test profile, small enough that a gzip bomb is rejected long before
/// libFuzzer's `-rss_limit_mb`.
pub const PPROF_MAX_INFLATED_BYTES: u64 = 64 << 20;

/// Write `p` as folded text with the default options.
///
/// # Panics
///
/// When the writer fails: a profile a reader returned must be writable.
pub fn write_folded(p: &Profile) -> Vec<u8> {
    let mut out = Vec::new();
    if let Err(e) = folded::write(p, &folded::WriteOptions::default(), &mut out) {
        panic!("folded::write failed on a profile a reader returned: {e}");
    }
    out
}

/// The sum of the counts ending the lines of folded text (`None` when a
/// line has no count).
pub fn folded_sum(text: &[u8]) -> Option<i128> {
    let text = std::str::from_utf8(text).ok()?;
    let mut sum = 0i128;
    for line in text.lines() {
        let (_, count) = line.rsplit_once(' ')?;
        sum = sum.checked_add(i128::from(count.parse::<i64>().ok()?))?;
    }
    Some(sum)
}

/// The weight the folded writer shows for `p`: column
/// `meta.default_value` of every sample that has a stack (samples without
/// frames write nothing, as inferno-collapse-perf), and the sum of the
/// magnitudes (to know whether the writer's saturating sums are exact).
pub fn expected_folded_sum(p: &Profile) -> (i128, i128) {
    let Some(column) = p.samples().values().get(p.meta().default_value) else {
        return (0, 0);
    };
    let mut sum = 0i128;
    let mut magnitude = 0i128;
    for (stack, &v) in p.samples().stacks().iter().zip(column) {
        if stack.is_some() {
            sum += i128::from(v);
            magnitude += i128::from(v).abs();
        }
    }
    (sum, magnitude)
}

/// Hold a profile a reader returned to the invariants every profile keeps:
///
/// - every value column is as long as the sample list, and so are the
///   thread column and (when present) the time and label columns;
/// - `meta.default_value` names an existing column (when there is one);
/// - writing it as folded text succeeds;
/// - the folded text's counts add up to the default column's weight of the
///   samples with a stack, when no name contains a line break (which would
///   split a folded line) and no sum can saturate.
///
/// Returns the folded text.
///
/// # Panics
///
/// When an invariant does not hold.
pub fn check_profile(p: &Profile) -> Vec<u8> {
    let n = p.samples().stacks().len();
    assert_eq!(p.samples().threads().len(), n, "thread column length");
    assert_eq!(
        p.samples().values().len(),
        p.value_types().len(),
        "one value column per value type"
    );
    for (i, c) in p.samples().values().iter().enumerate() {
        assert_eq!(c.len(), n, "value column {i} length");
    }
    if let Some(t) = p.samples().times() {
        assert_eq!(t.len(), n, "time column length");
    }
    if let Some(l) = p.samples().labels() {
        assert_eq!(l.len(), n, "label column length");
    }
    if p.samples().is_folded() {
        let s = p.samples();
        assert!(
            s.are_distinct(),
            "samples marked folded with two of one stack and thread"
        );
        assert!(
            s.times().is_none() && s.labels().is_none(),
            "samples marked folded with times or labels"
        );
    }
    if !p.value_types().is_empty() {
        assert!(
            p.meta().default_value < p.value_types().len(),
            "default value column {} of {}",
            p.meta().default_value,
            p.value_types().len()
        );
    }
    let out = if p.value_types().is_empty() {
        Vec::new()
    } else {
        write_folded(p)
    };
    let line_break = p.strings().iter().any(|(_, s)| s.contains(['\n', '\r']));
    let (expected, magnitude) = expected_folded_sum(p);
    if !line_break && magnitude <= i128::from(i64::MAX) {
        assert_eq!(
            folded_sum(&out),
            Some(expected),
            "folded output's total vs the profile's"
        );
        // The text an SVG is drawn from, pruned at 1% of the total: the
        // same total.
        let min_weight = (expected.max(0) as f64) / 100.0;
        let mut pruned = Vec::new();
        if p.value_types().is_empty() {
            return out;
        }
        if let Err(e) = stackconv_collapsed::prune::write_pruned(
            p,
            &folded::WriteOptions::default(),
            min_weight,
            &mut pruned,
        ) {
            panic!("folded::write_pruned failed on a profile a reader returned: {e}");
        }
        assert_eq!(
            folded_sum(&pruned),
            Some(expected),
            "pruned folded output's total vs the profile's"
        );
    }
    out
}

/// Let a panic raised inside the parquet or arrow crates unwind instead of
/// aborting, once per process.
///
/// `stackconv_columnar::read` catches such panics (parquet 60 panics on
/// some corrupt definition levels, and overflows a sum of claimed row
/// counts in `core`'s `Iterator::sum` with overflow checks on) and returns them as
/// `Error::Damaged`; libFuzzer's panic hook would abort before the
/// unwind reaches that `catch_unwind`, reporting a bug that is the
/// dependency's and already handled. Any other panic still aborts, with
/// libFuzzer's hook.
pub fn tolerate_table_crate_panics() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let fuzzer_hook = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            // Caught by the table reader, and not raised in our own code
            // (which the reader also runs inside its `catch_unwind`).
            let ours = info
                .location()
                .is_some_and(|l| l.file().contains("crates/columnar/"));
            if ours || !stackconv::columnar::panic_is_caught_by_read() {
                fuzzer_hook(info);
            }
        }));
    });
}
