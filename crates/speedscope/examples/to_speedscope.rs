//! Convert a speedscope file or folded stacks (`a;b;c 12` lines) into a
//! speedscope file written by this crate.
//!
//! ```text
//! cargo run -p stackconv-speedscope --example to_speedscope -- IN OUT.speedscope.json
//! ```
//!
//! Used by testdata/speedscope/render-check.sh to load our output into
//! speedscope's own page; the `stackconv` CLI does the same for every
//! input format.

use std::error::Error;
use std::fs::File;

use stackconv_model::{FrameKind, Profile, ValueType};
use stackconv_speedscope::{looks_like, read, write, WriteOptions};

/// Folded stacks into a profile with one `samples`/`count` column and no
/// thread information.
fn read_folded(text: &str) -> Result<Profile, Box<dyn Error>> {
    let mut p = Profile::new(vec![ValueType::new("samples", "count")]);
    let thread = p.intern_thread(Default::default());
    for (n, line) in text.lines().enumerate() {
        let line = line.trim_end();
        if line.is_empty() {
            continue;
        }
        let (stack, count) = line
            .rsplit_once(' ')
            .ok_or_else(|| format!("line {}: no count after the stack", n + 1))?;
        let count: i64 = count
            .parse()
            .map_err(|e| format!("line {}: count {count:?}: {e}", n + 1))?;
        let frames: Vec<_> = stack
            .split(';')
            .map(|f| p.intern_frame_named(f, FrameKind::Unknown))
            .collect();
        let stack = p.intern_stack_frames(frames);
        p.push_sample(stack, thread, None, &[count]);
    }
    Ok(p)
}

fn main() -> Result<(), Box<dyn Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [input, output] = args.as_slice() else {
        return Err("usage: to_speedscope IN OUT.speedscope.json".into());
    };
    let data = std::fs::read(input)?;
    let profile = if looks_like(&data[..data.len().min(4096)]) {
        read(&data)?
    } else {
        read_folded(std::str::from_utf8(&data)?)?
    };
    let mut opts = WriteOptions::default();
    opts.name = Some(format!("stackconv: {input}"));
    write(&profile, &opts, File::create(output)?)?;
    eprintln!(
        "{} samples, {} threads, {} frames -> {output}",
        profile.samples().len(),
        profile.threads().len(),
        profile.frames().len()
    );
    Ok(())
}
