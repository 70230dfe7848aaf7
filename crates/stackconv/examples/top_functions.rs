//! The five functions with the most self weight of any profile (py-spy raw,
//! perf.data, pprof, ...), as `stackconv top -n 5` lists them:
//!
//!     cargo run -p stackconv --example top_functions -- raw.txt

use std::path::Path;

use stackconv::ops::top::top;
use stackconv::{read_path, ReadOptions};

/// The `n` functions with the most self weight in the shown value column:
/// (name, self weight, share of the total in percent).
fn top_functions(input: &Path, n: usize) -> Result<Vec<(String, i64, f64)>, stackconv::Error> {
    let profile = read_path(input, &ReadOptions::default())?;
    let column = profile.meta().default_value;
    Ok(top(&profile, column)
        .into_iter()
        .take(n)
        .map(|row| (row.name, row.flat, row.flat_pct))
        .collect())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let input = std::env::args_os()
        .nth(1)
        .ok_or("usage: top_functions PROFILE")?;
    for (name, flat, pct) in top_functions(input.as_ref(), 5)? {
        println!("{flat:>12} {pct:6.2}%  {name}");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn top_five_of_a_pyspy_recording() {
        let raw = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata/pyspy/threads.raw");
        let rows = top_functions(&raw, 5).unwrap();
        assert_eq!(rows.len(), 5);
        // Sorted by self weight, each a share of the whole.
        assert!(rows.windows(2).all(|w| w[0].1 >= w[1].1), "{rows:?}");
        assert!(rows.iter().all(|r| r.2 > 0.0 && r.2 <= 100.0), "{rows:?}");
        // The recording's own text agrees: the top function's weight is the
        // sum of the lines whose leaf frame is that function, at any line
        // of its file (`Condition.wait (threading.py:355)`).
        let (func, file) = rows[0]
            .0
            .strip_suffix(')')
            .unwrap()
            .split_once(" (")
            .unwrap();
        let text = std::fs::read_to_string(&raw).unwrap();
        let leaf_weight: i64 = text
            .lines()
            .filter_map(|l| l.rsplit_once(' '))
            .filter(|(stack, _)| {
                stack
                    .rsplit(';')
                    .next()
                    .is_some_and(|leaf| leaf.starts_with(&format!("{func} ({file}:")))
            })
            .map(|(_, n)| n.trim().parse::<i64>().unwrap())
            .sum();
        assert_eq!(leaf_weight, rows[0].1);
    }
}
