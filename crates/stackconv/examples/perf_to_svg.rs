//! A perf.data (or any other profile) to a flame-graph SVG, as
//! `stackconv IN -o OUT.svg` does:
//!
//!     cargo run -p stackconv --example perf_to_svg -- perf.data flame.svg
//!
//! The output draws the frames inferno-flamegraph draws from
//! `perf script | inferno-collapse-perf` of the same recording.

use std::path::Path;

use stackconv::{read_path, write_path, OutputFormat, Profile, ReadOptions, WriteOptions};

/// Read `input` with `opts`, fold it (a flame graph needs no time order)
/// and write it to `output` as an SVG; the profile written.
fn perf_to_svg(
    input: &Path,
    output: &Path,
    opts: &ReadOptions,
) -> Result<Profile, stackconv::Error> {
    let profile = read_path(input, opts)?.into_folded();
    write_path(
        &profile,
        OutputFormat::Svg,
        &WriteOptions::default(),
        output,
    )?;
    Ok(profile)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args_os().skip(1);
    let (Some(input), Some(output)) = (args.next(), args.next()) else {
        return Err("usage: perf_to_svg IN OUT.svg".into());
    };
    let p = perf_to_svg(input.as_ref(), output.as_ref(), &ReadOptions::default())?;
    for loss in &p.meta().losses {
        eprintln!("note: {}: {}", loss.what, loss.count);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn draws_the_recording() {
        let perf = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata/perf");
        let mut opts = ReadOptions::default();
        opts.perf.symbols.symbol_dirs = vec![perf.join("bin"), perf.join("debug")];
        opts.perf.symbols.kallsyms = Some(perf.join("c-fp.kallsyms"));
        opts.perf.symbols.no_system_paths = true;
        let dir = tempfile::tempdir().unwrap();
        let svg = dir.path().join("flame.svg");
        let p = perf_to_svg(&perf.join("c-fp.data"), &svg, &opts).unwrap();
        let svg = std::fs::read_to_string(&svg).unwrap();
        assert!(svg.contains(&format!("total_samples=\"{}\"", p.total(0))));
        assert!(svg.contains("<title>main ("), "the program's main is drawn");
    }
}
