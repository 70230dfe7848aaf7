//! Before/after: merge the profiles of each side and draw what changed as a
//! differential flame graph, as `stackconv diff` does for one file a side:
//!
//!     cargo run -p stackconv --example diff_to_svg -- \
//!         before-1.data before-2.data -- after-1.data after-2.data diff.svg
//!
//! Red frames got heavier, blue lighter; violet frames are drawn at their
//! before weight because they are gone after.

use std::path::{Path, PathBuf};

use stackconv::model::diff::Diff;
use stackconv::model::merge;
use stackconv::{diff, read_path, write_diff, DiffOptions, OutputFormat, Profile, ReadOptions};

/// Read every input of one side, folded as it is read (a diff needs no
/// time order), and merge them into one profile.
fn read_side(paths: &[PathBuf], opts: &ReadOptions) -> Result<Profile, Box<dyn std::error::Error>> {
    let mut opts = opts.clone();
    opts.fold = true;
    let profiles = paths
        .iter()
        .map(|p| read_path(p, &opts))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(merge(&profiles)?)
}

/// The diff of the merged sides, written to `out` as an SVG.
fn diff_to_svg(
    before: &Profile,
    after: &Profile,
    out: &Path,
) -> Result<Diff, Box<dyn std::error::Error>> {
    let opts = DiffOptions::default();
    let d = diff(before, after, &opts)?;
    let mut file = std::fs::File::create(out)?;
    write_diff(&d, OutputFormat::Svg, &opts, &mut file)?;
    Ok(d)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<PathBuf> = std::env::args_os().skip(1).map(PathBuf::from).collect();
    let usage = "usage: diff_to_svg BEFORE... -- AFTER... OUT.svg";
    let split = args
        .iter()
        .position(|a| a.as_os_str() == "--")
        .ok_or(usage)?;
    let (before, rest) = args.split_at(split);
    let (out, after) = rest.get(1..).and_then(|r| r.split_last()).ok_or(usage)?;
    let opts = ReadOptions::default();
    let d = diff_to_svg(&read_side(before, &opts)?, &read_side(after, &opts)?, out)?;
    eprintln!("{} stacks compared", d.rows.len());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn perf() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata/perf")
    }

    fn side(names: &[&str]) -> Profile {
        let perf = perf();
        let mut profiles = Vec::new();
        for name in names {
            let mut opts = ReadOptions::default();
            opts.perf.symbols.symbol_dirs = vec![perf.join("bin"), perf.join("debug")];
            opts.perf.symbols.kallsyms = Some(perf.join(format!("{name}.kallsyms")));
            opts.perf.symbols.no_system_paths = true;
            profiles.push(read_side(&[perf.join(format!("{name}.data"))], &opts).unwrap());
        }
        merge(&profiles).unwrap()
    }

    /// One file a side: the rows are `inferno-diff-folded` of the two
    /// recordings' `perf script | inferno-collapse-perf` text, recorded by
    /// testdata/record.sh, and the frame only in the before run is drawn.
    #[test]
    fn matches_inferno_diff_folded() {
        let dir = tempfile::tempdir().unwrap();
        let svg = dir.path().join("diff.svg");
        let d = diff_to_svg(&side(&["c-before"]), &side(&["c-after"]), &svg).unwrap();
        let ours: Vec<String> = d
            .rows
            .iter()
            .map(|r| format!("{} {} {}", r.folded, r.before, r.after))
            .collect();
        let want = std::fs::read_to_string(perf().join("c-diff.folded")).unwrap();
        let mut want: Vec<&str> = want.lines().collect();
        let mut got: Vec<&str> = ours.iter().map(String::as_str).collect();
        want.sort_unstable();
        got.sort_unstable();
        assert_eq!(got, want);
        let svg = std::fs::read_to_string(&svg).unwrap();
        assert!(
            svg.contains("fdget_pos (removed)"),
            "only in the before run"
        );
    }

    /// Merged sides: two copies of the after run weigh twice as much.
    #[test]
    fn merges_each_side() {
        let dir = tempfile::tempdir().unwrap();
        let once = diff_to_svg(
            &side(&["c-before"]),
            &side(&["c-after"]),
            &dir.path().join("1.svg"),
        )
        .unwrap();
        let twice = diff_to_svg(
            &side(&["c-before"]),
            &side(&["c-after", "c-after"]),
            &dir.path().join("2.svg"),
        )
        .unwrap();
        assert_eq!(once.rows.len(), twice.rows.len());
        for (a, b) in once.rows.iter().zip(&twice.rows) {
            assert_eq!(
                (&a.folded, a.before, 2 * a.after),
                (&b.folded, b.before, b.after)
            );
        }
    }
}
