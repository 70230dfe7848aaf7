//! A filter of your own: keep the samples that wait on a lock and cut their
//! stacks at the lock function (the kernel frames above it say nothing
//! more), then write the result as folded text:
//!
//!     cargo run -p stackconv --example custom_filter -- perf.data locks.folded
//!
//! `Profile::filter_samples` and `Profile::map_stacks` are the building
//! blocks of stackconv's own `--focus`, `--exclude` and views; both keep
//! the accounting (kept + dropped = input).

use std::path::Path;

use stackconv::model::FrameId;
use stackconv::{read_path, write_path, OutputFormat, Profile, ReadOptions, WriteOptions};

/// Whether a function name is a lock's slow path (glibc's futex-based
/// mutexes and rwlocks).
fn is_lock_wait(name: &str) -> bool {
    name.starts_with("__lll_lock_wait") || name.starts_with("__GI___lll_lock_wait")
}

/// The samples whose stack passes through a lock wait, each stack cut just
/// below its outermost lock frame's callees; and the weights dropped.
fn lock_waits(p: &Profile) -> (Profile, Vec<i64>) {
    let has_lock = |p: &Profile, i: usize| {
        let stack = p.samples().stacks().get(i).copied().flatten();
        p.stack_names(stack).iter().any(|n| is_lock_wait(n))
    };
    let (kept, dropped) = p.filter_samples(has_lock);
    let cut = kept.map_stacks(|p, frames: &[FrameId]| {
        let end = frames
            .iter()
            .position(|&f| is_lock_wait(p.frame_name(f)))
            .map_or(frames.len(), |i| i + 1);
        frames.get(..end).unwrap_or(frames).to_vec()
    });
    (cut, dropped)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args_os().skip(1);
    let (Some(input), Some(output)) = (args.next(), args.next()) else {
        return Err("usage: custom_filter IN OUT.folded".into());
    };
    let p = read_path(input.as_ref(), &ReadOptions::default())?;
    let (locks, dropped) = lock_waits(&p);
    write_path(
        &locks,
        OutputFormat::Folded,
        &WriteOptions::default(),
        Path::new(&output),
    )?;
    eprintln!("kept {} of {}", locks.total(0), locks.total(0) + dropped[0]);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_lock_waits_and_accounts_for_the_rest() {
        let perf = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata/perf");
        let mut opts = ReadOptions::default();
        opts.perf.symbols.symbol_dirs = vec![perf.join("bin"), perf.join("debug")];
        opts.perf.symbols.kallsyms = Some(perf.join("mutex.kallsyms"));
        opts.perf.symbols.no_system_paths = true;
        let p = read_path(&perf.join("mutex.data"), &opts).unwrap();
        let (locks, dropped) = lock_waits(&p);
        // Nothing is lost: kept + dropped = input, in every column.
        for (c, d) in dropped.iter().enumerate() {
            assert_eq!(locks.total(c) + d, p.total(c));
        }
        // What is kept is what the folded text's lines through a lock wait
        // weigh, counted on the text independently of the filter.
        let dir = tempfile::tempdir().unwrap();
        let all = dir.path().join("all.folded");
        write_path(&p, OutputFormat::Folded, &WriteOptions::default(), &all).unwrap();
        let want: i64 = std::fs::read_to_string(&all)
            .unwrap()
            .lines()
            .filter(|l| l.split(';').any(is_lock_wait))
            .map(|l| l.rsplit_once(' ').unwrap().1.parse::<i64>().unwrap())
            .sum();
        assert!(want > 0, "mutex.data waits on its lock");
        assert_eq!(locks.total(p.meta().default_value), want);
        // Every kept stack ends at the lock wait.
        let out = dir.path().join("locks.folded");
        write_path(&locks, OutputFormat::Folded, &WriteOptions::default(), &out).unwrap();
        for line in std::fs::read_to_string(&out).unwrap().lines() {
            let stack = line.rsplit_once(' ').unwrap().0;
            assert!(is_lock_wait(stack.rsplit(';').next().unwrap()), "{line}");
        }
    }
}
