//! A pprof profile cut down to the stacks through one function and written
//! as folded text, as `stackconv cpu.pb.gz --focus RE -o out.folded` does:
//!
//!     cargo run -p stackconv --example pprof_focus_to_folded -- cpu.pb.gz 'main\.fib'

use std::path::Path;

use stackconv::ops::StackTransform;
use stackconv::{
    process, read_path, write, OutputFormat, ProcessOptions, ReadOptions, WriteOptions,
};

/// The folded text of the samples of `input` whose stack has a frame
/// matching `focus` (pprof's `-focus`), and the weight dropped.
fn focus_folded(input: &Path, focus: &str) -> Result<(String, i64), Box<dyn std::error::Error>> {
    let profile = read_path(input, &ReadOptions::default())?;
    let mut transform = StackTransform::default();
    transform.focus = Some(regex::Regex::new(focus)?);
    let mut opts = ProcessOptions::default();
    opts.transform = transform;
    let out = process(profile, &opts)?;
    let column = out.profile.meta().default_value;
    let dropped = out.dropped.get(column).copied().unwrap_or(0);
    let mut text = Vec::new();
    write(
        &out.profile.into_folded(),
        OutputFormat::Folded,
        &WriteOptions::default(),
        &mut text,
    )?;
    Ok((String::from_utf8(text)?, dropped))
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let (Some(input), Some(focus)) = (args.next(), args.next()) else {
        return Err("usage: pprof_focus_to_folded PROFILE REGEX".into());
    };
    let (text, dropped) = focus_folded(input.as_ref(), &focus)?;
    print!("{text}");
    eprintln!("dropped weight: {dropped}");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn focus_on_fib_of_the_go_recording() {
        let go = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata/go");
        let (text, dropped) = focus_folded(&go.join("cpu.pb.gz"), "^main\\.fib$").unwrap();
        assert!(!text.is_empty());
        assert!(text.lines().all(|l| l.contains("main.fib")), "{text}");
        assert!(dropped > 0, "other stacks were dropped");
        // `go tool pprof -focus '^main\.fib$' -traces` (recorded with the
        // testdata) keeps the same weight: the sum of its traces' values.
        let traces = std::fs::read_to_string(go.join("cpu.focus-fib.traces.txt")).unwrap();
        let reference: i64 = traces
            .lines()
            .filter_map(|l| l.split_whitespace().next()?.strip_suffix("ns"))
            .map(|n| n.parse::<i64>().unwrap())
            .sum();
        let kept: i64 = text
            .lines()
            .map(|l| l.rsplit_once(' ').unwrap().1.parse::<i64>().unwrap())
            .sum();
        assert_eq!(kept, reference);
    }
}
