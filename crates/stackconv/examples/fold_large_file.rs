//! Fold a large perf.data as it is read: memory grows with its distinct
//! stacks and symbols, not with its samples or its size (the file is
//! mapped and its pages given back behind the reader), then print what it
//! holds:
//!
//!     cargo run --release -p stackconv --example fold_large_file -- perf.data

use std::path::Path;

use stackconv::ops::top::top;
use stackconv::{read_path, Profile, ReadOptions};

/// Read `input` folded: one row per distinct (stack, thread).
fn read_folded(input: &Path, opts: &ReadOptions) -> Result<Profile, stackconv::Error> {
    let mut opts = opts.clone();
    opts.fold = true;
    read_path(input, &opts)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let input = std::env::args_os()
        .nth(1)
        .ok_or("usage: fold_large_file PERF.DATA")?;
    let p = read_folded(input.as_ref(), &ReadOptions::default())?;
    let column = p.meta().default_value;
    println!(
        "{} rows (distinct stack and thread), {} distinct stacks, total {} {}",
        p.samples().len(),
        p.stacks().len(),
        p.total(column),
        p.value_types().get(column).map_or("", |v| v.unit.as_str())
    );
    for row in top(&p, column).into_iter().take(5) {
        println!("{:>14} {:6.2}%  {}", row.flat, row.flat_pct, row.name);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Folding while reading gives the rows of reading every sample and
    /// folding afterwards, with the same totals.
    #[test]
    fn folded_as_read_is_folded_after() {
        let perf = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata/perf");
        let mut opts = ReadOptions::default();
        opts.perf.symbols.symbol_dirs = vec![perf.join("bin"), perf.join("debug")];
        opts.perf.symbols.kallsyms = Some(perf.join("c-fp.kallsyms"));
        opts.perf.symbols.no_system_paths = true;
        let input = perf.join("c-fp.data");
        let folded = read_folded(&input, &opts).unwrap();
        let every = read_path(&input, &opts).unwrap();
        assert!(
            folded.samples().len() < every.samples().len(),
            "rows are folded"
        );
        assert!(folded.samples().times().is_none());
        assert_eq!(folded.totals(), every.totals());
        let after = every.into_folded();
        assert_eq!(folded.samples().stacks(), after.samples().stacks());
        assert_eq!(folded.samples().values(), after.samples().values());
        assert_eq!(top(&folded, 0), top(&after, 0));
    }
}
