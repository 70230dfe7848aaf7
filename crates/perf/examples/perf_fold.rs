//! Fold a perf.data file to folded stacks on stdout (value column 0, comm
//! as the root frame): `perf_fold FILE [--symbol-dir DIR]... [--kallsyms F]
//! [--perf-map-dir D] [--column N] [--all]`.

use std::collections::BTreeMap;
use std::path::PathBuf;

use stackconv_model::naming::{is_jit_module, is_kernel_module};
use stackconv_perf::{read, ReadOptions, SymbolOptions};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let file = args.next().ok_or("usage: perf_fold FILE [options]")?;
    let mut symbols = SymbolOptions::default();
    symbols.no_system_paths = true;
    let mut column = 0usize;
    let mut annotate = false;
    while let Some(a) = args.next() {
        match a.as_str() {
            "--symbol-dir" => symbols
                .symbol_dirs
                .push(PathBuf::from(args.next().ok_or("DIR")?)),
            "--kallsyms" => symbols.kallsyms = Some(PathBuf::from(args.next().ok_or("FILE")?)),
            "--perf-map-dir" => {
                symbols.perf_map_dir = Some(PathBuf::from(args.next().ok_or("DIR")?))
            }
            "--column" => column = args.next().ok_or("N")?.parse()?,
            "--all" => annotate = true,
            "--system" => symbols.no_system_paths = false,
            _ => return Err(format!("unknown option {a}").into()),
        }
    }
    let mut opts = ReadOptions::default();
    opts.symbols = symbols;
    let data = std::fs::read(&file)?;
    let t0 = std::time::Instant::now();
    let p = read(&data, &opts)?;
    eprintln!("read: {:.2?}", t0.elapsed());
    let mut out: BTreeMap<String, i64> = BTreeMap::new();
    for s in p.iter_samples() {
        let w = s.values.get(column).copied().unwrap_or(0);
        if w == 0 {
            continue;
        }
        let t = p.threads().get(s.thread);
        let mut line = p.str(t.thread_name).to_string();
        for f in p.stack_frames(s.stack) {
            let fr = p.frame(f);
            line.push(';');
            line.push_str(p.str(fr.name));
            if annotate && fr.kind != stackconv_model::FrameKind::Inline {
                let m = p.str(fr.module);
                if is_kernel_module(m) {
                    line.push_str("_[k]");
                } else if is_jit_module(m) {
                    line.push_str("_[j]");
                }
            }
        }
        *out.entry(line).or_default() += w;
    }
    for (k, v) in out {
        println!("{k} {v}");
    }
    eprintln!(
        "samples {}, stack nodes {}, frames {}, threads {}",
        p.samples().len(),
        p.stacks().len(),
        p.frames().len(),
        p.threads().len()
    );
    eprintln!("value types: {:?}", p.value_types());
    eprintln!("losses: {:?}", p.meta().losses);
    for w in &p.meta().warnings {
        eprintln!("warning: {w}");
    }
    Ok(())
}
