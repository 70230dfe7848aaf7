//! The symbolizer against `perf script` 6.1: every frame of the committed
//! `testdata/perf/*.perf-script` files (printed at recording time, as
//! `ADDR SYMBOL+OFF (MODULE)`, user-space ADDR being the offset in the
//! mapping as perf prints it) is symbolized from the committed binaries,
//! debug files, kallsyms and perf maps, and must get the name perf printed,
//! tidied as inferno-collapse-perf tidies it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use stackconv_model::naming::{strip_symbol_offset, tidy_perf_symbol};
use stackconv_perf::symbolize::{SymbolOptions, Symbolizer, Unresolved};

fn testdata() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata/perf")
}

/// One frame line of `perf script`, with the `(inlined)` lines perf
/// printed before it for the same address (innermost first).
struct Frame {
    addr: u64,
    symbol: String,
    module: String,
    inlined: Vec<String>,
    /// Only `(inlined)` lines: perf printed no module for this address.
    lone: bool,
}

fn frames(script: &str) -> Vec<Frame> {
    let mut out = Vec::new();
    // (addr, symbol) of `(inlined)` lines not yet attached to a frame.
    let mut pending: Vec<(u64, String)> = Vec::new();
    let mut prev_module = String::new();
    // A run of `(inlined)` lines whose address differs from the next line
    // stands alone (perf names the outermost function after DWARF when it
    // differs from the symbol): its module is the previous frame's.
    let flush = |pending: &mut Vec<(u64, String)>, out: &mut Vec<Frame>, module: &str| {
        if let Some((addr, symbol)) = pending.pop() {
            out.push(Frame {
                addr,
                symbol,
                module: module.to_string(),
                inlined: pending.drain(..).map(|(_, s)| s).collect(),
                lone: true,
            });
        }
    };
    for line in script.lines() {
        if !line.starts_with(|c: char| c.is_whitespace()) {
            flush(&mut pending, &mut out, &prev_module);
            continue;
        }
        let line = line.trim();
        let Some((addr, rest)) = line.split_once(' ') else {
            continue;
        };
        let Ok(addr) = u64::from_str_radix(addr, 16) else {
            continue;
        };
        let Some(open) = rest.rfind(" (") else {
            continue;
        };
        let symbol = rest[..open].to_string();
        let module = rest[open + 2..].trim_end_matches(')').to_string();
        if pending.last().is_some_and(|p| p.0 != addr) {
            flush(&mut pending, &mut out, &prev_module);
        }
        if module == "inlined" {
            pending.push((addr, symbol));
            continue;
        }
        out.push(Frame {
            addr,
            symbol,
            module: module.clone(),
            inlined: pending.drain(..).map(|(_, s)| s).collect(),
            lone: false,
        });
        prev_module = module;
    }
    flush(&mut pending, &mut out, &prev_module);
    out
}

fn build_ids(data: &Path) -> Vec<(Vec<u8>, Vec<u8>)> {
    let file = std::fs::File::open(data).unwrap();
    let reader =
        linux_perf_data::PerfFileReader::parse_file(std::io::BufReader::new(file)).unwrap();
    reader
        .perf_file
        .build_ids()
        .unwrap()
        .into_values()
        .map(|d| (d.path, d.build_id))
        .collect()
}

#[derive(Default, Debug)]
struct Tally {
    agree: u64,
    /// Agreeing frames by kind: kernel, jit, file, plt, vdso.
    kinds: BTreeMap<&'static str, u64>,
    differ: Vec<String>,
    by_reason: BTreeMap<String, u64>,
}

/// Symbolize every frame of `name.perf-script`; `expect_unresolved` lists
/// modules that are not resolved by design, with the reason.
/// `inline`: whether perf printed inlined frames (it does for DWARF-unwound
/// callchains only; for frame-pointer ones the reader drops them).
fn check_with(
    name: &str,
    symbol_dirs: &[&str],
    expect_unresolved: &[(&str, Unresolved)],
    inline: bool,
) -> Tally {
    check_script(name, name, symbol_dirs, expect_unresolved, inline)
}

/// As [`check_with`], with the frames of `script.perf-script`.
fn check_script(
    name: &str,
    script: &str,
    symbol_dirs: &[&str],
    expect_unresolved: &[(&str, Unresolved)],
    inline: bool,
) -> Tally {
    let td = testdata();
    let mut opts = SymbolOptions::default();
    opts.no_system_paths = true;
    opts.inline = inline;
    opts.symbol_dirs = symbol_dirs.iter().map(|d| td.join(d)).collect();
    opts.kallsyms = Some(td.join(format!("{name}.kallsyms")));
    opts.perf_map_dir = Some(td.join("maps"));
    let mut s = Symbolizer::new(opts);
    for (path, id) in build_ids(&td.join(format!("{name}.data"))) {
        s.add_build_id(&path, &id);
    }
    let text = std::fs::read_to_string(td.join(format!("{script}.perf-script"))).unwrap();
    let mut t = Tally::default();
    for f in frames(&text) {
        if f.module == "[unknown]" {
            continue;
        }
        if f.lone {
            // The DWARF name of a function whose symbol has another name;
            // perf printed no module, so the file is not known here.
            *t.by_reason.entry("lone inlined frames".into()).or_default() += 1;
            continue;
        }
        let kind = if f.module == "[kernel.kallsyms]" {
            "kernel"
        } else if f.module.starts_with("/tmp/perf-") {
            "jit"
        } else if f.module == "[vdso]" {
            "vdso"
        } else if f.symbol.contains("@plt") {
            "plt"
        } else {
            "file"
        };
        let got = if f.module == "[kernel.kallsyms]" {
            s.symbolize_kernel(f.addr)
        } else if let Some(pid) = f
            .module
            .strip_prefix("/tmp/perf-")
            .and_then(|m| m.strip_suffix(".map"))
        {
            s.symbolize_jit(pid.parse().unwrap(), f.addr)
        } else {
            s.symbolize_file(f.module.as_bytes(), f.addr)
        };
        let want: Vec<String> = f
            .inlined
            .iter()
            .chain(std::iter::once(&f.symbol))
            .map(|n| tidy_perf_symbol(strip_symbol_offset(n)).into_owned())
            .collect();
        if !f.inlined.is_empty() {
            *t.kinds.entry("inlined").or_default() += 1;
        }
        let expected_err = expect_unresolved
            .iter()
            .find(|(m, _)| *m == f.module)
            .map(|(_, why)| *why);
        match (&got, expected_err) {
            (Err(why), Some(e)) if *why == e => {
                *t.by_reason
                    .entry(format!("{} {why:?}", f.module))
                    .or_default() += 1;
                continue;
            }
            (Err(_), None) if f.symbol == "[unknown]" => {
                t.agree += 1;
                continue;
            }
            _ => {}
        }
        // The committed system libraries had their DWARF stripped, so their
        // inlined frames (perf read them from the full files) cannot come
        // back; the function frame must still agree.
        let got = match got {
            Ok(frames) if frames.len() == 1 && !f.inlined.is_empty() && !has_dwarf(&f.module) => {
                *t.by_reason
                    .entry(format!("{} inlined frames (no DWARF committed)", f.module))
                    .or_default() += 1;
                let mut want_last = want.clone();
                want_last.drain(..want.len() - 1);
                if frames.iter().map(|f| &f.name).eq(want_last.iter()) {
                    t.agree += 1;
                    continue;
                }
                Ok(frames)
            }
            other => other,
        };
        match got {
            Ok(frames) if frames.iter().map(|f| &f.name).eq(want.iter()) => {
                t.agree += 1;
                *t.kinds.entry(kind).or_default() += 1;
            }
            other => t.differ.push(format!(
                "{:x} {:?} ({}): got {:?}",
                f.addr,
                want,
                f.module,
                other.map(|v| v.iter().map(|f| f.name.clone()).collect::<Vec<_>>())
            )),
        }
    }
    eprintln!(
        "{script}: {} frames agree {:?}, {} differ, by design: {:?}",
        t.agree,
        t.kinds,
        t.differ.len(),
        t.by_reason
    );
    for d in t.differ.iter().take(30) {
        eprintln!("  {d}");
    }
    t
}

/// Whether the committed copy of a recorded file has DWARF (cached).
fn has_dwarf(module: &str) -> bool {
    use std::sync::Mutex;
    static CACHE: Mutex<BTreeMap<String, bool>> = Mutex::new(BTreeMap::new());
    if let Some(&b) = CACHE.lock().unwrap().get(module) {
        return b;
    }
    let b = read_has_dwarf(module);
    CACHE.lock().unwrap().insert(module.to_string(), b);
    b
}

fn read_has_dwarf(module: &str) -> bool {
    use object::Object;
    let base = module.rsplit('/').next().unwrap_or(module);
    let bin = testdata().join("bin").join(base);
    let data = std::fs::read(&bin).or_else(|_| {
        let mut xz = bin.into_os_string();
        xz.push(".xz");
        std::fs::read(xz).map(|c| {
            let mut out = Vec::new();
            lzma_rs::xz_decompress(&mut &c[..], &mut out).unwrap();
            out
        })
    });
    data.ok().is_some_and(|d| {
        object::File::parse(&*d)
            .ok()
            .and_then(|f| f.section_by_name(".debug_info").map(|_| ()))
            .is_some()
    })
}

fn kind(t: &Tally, k: &str) -> u64 {
    t.kinds.get(k).copied().unwrap_or(0)
}

#[test]
fn symbolize_c_fp_like_perf() {
    for (name, inline) in [
        ("c-fp", false),
        ("c-2ev", false),
        ("c-zstd", false),
        ("c-before", false),
        ("c-after", false),
    ] {
        let t = check_with(name, &["bin", "debug"], &[], inline);
        assert!(
            kind(&t, "file") > 100 && kind(&t, "kernel") > 0,
            "{name}: {t:?}"
        );
        assert!(t.differ.is_empty(), "{name}: {:?}", t.differ);
    }
}

#[test]
fn symbolize_dwarf_inlined_frames_like_perf() {
    // perf script prints inlined frames for DWARF-unwound callchains.
    let t = check_with("c-dwarf", &["bin", "debug"], &[], true);
    assert!(kind(&t, "inlined") > 50, "{t:?}");
    assert!(t.differ.is_empty(), "{:?}", t.differ);
    let t = check_script("c-dwarf", "c-dwarf.noinline", &["bin", "debug"], &[], false);
    assert!(kind(&t, "file") > 300, "{t:?}");
    assert!(t.differ.is_empty(), "{:?}", t.differ);
}

#[test]
fn symbolize_stripped_binary_through_debug_file() {
    // cfpstrip has no .symtab; its names come from
    // debug/.build-id/fd/3edac6...debug; libc's from its debug file too.
    let t = check_with("c-debug", &["bin", "debug"], &[], false);
    assert!(kind(&t, "file") > 300 && kind(&t, "plt") > 0, "{t:?}");
    assert!(t.differ.is_empty(), "{:?}", t.differ);
    // Without the debug files, the stripped binary has only .dynsym.
    let t = check_with("c-debug", &["bin"], &[], false);
    assert!(!t.differ.is_empty());
}

#[test]
fn symbolize_cpp_like_perf() {
    let t = check_with("cpp", &["bin", "debug"], &[], false);
    assert!(kind(&t, "file") > 1000, "{t:?}");
    assert!(t.differ.is_empty(), "{:?}", t.differ);
}

#[test]
fn symbolize_rust_v0_like_perf() {
    // bin/rustv0.xz is decompressed in memory.
    let t = check_with("rust-v0", &["bin", "debug"], &[], false);
    assert!(kind(&t, "file") > 1000, "{t:?}");
    assert!(t.differ.is_empty(), "{:?}", t.differ);
}

#[test]
fn symbolize_python_perf_map_like_perf() {
    for (name, script, inline) in [
        ("py-fp", "py-fp", false),
        ("py-dwarf", "py-dwarf", true),
        ("py-dwarf", "py-dwarf.noinline", false),
    ] {
        let t = check_script(name, script, &["bin", "debug"], &[], inline);
        assert!(
            kind(&t, "jit") > 0 && kind(&t, "file") > 100,
            "{name}: {t:?}"
        );
        assert!(t.differ.is_empty(), "{name}: {:?}", t.differ);
    }
    let t = check_with("py-fp", &["bin", "debug"], &[], false);
    assert!(kind(&t, "vdso") > 0 && kind(&t, "plt") > 0, "{t:?}");
}

#[test]
fn symbolize_mismatched_build_id_is_refused_and_reported() {
    let t = check_with(
        "c-mismatch",
        &["bin-mismatch", "bin", "debug"],
        &[("/tmp/stackconv-record/cfpmm", Unresolved::BuildIdMismatch)],
        false,
    );
    assert!(t.differ.is_empty(), "{:?}", t.differ);
    assert!(
        t.by_reason
            .get("/tmp/stackconv-record/cfpmm BuildIdMismatch")
            .is_some_and(|&n| n > 100),
        "{t:?}"
    );
}

/// The frames of each sample of a `perf script` file: (symbol, module).
fn samples(text: &str) -> Vec<Vec<(u64, String, String)>> {
    let mut out = Vec::new();
    let mut cur: Vec<(u64, String, String)> = Vec::new();
    for line in text.lines() {
        if !line.starts_with(|c: char| c.is_whitespace()) {
            if !cur.is_empty() {
                out.push(std::mem::take(&mut cur));
            }
            continue;
        }
        let line = line.trim();
        let Some((addr, rest)) = line.split_once(' ') else {
            continue;
        };
        let (Ok(addr), Some(open)) = (u64::from_str_radix(addr, 16), rest.rfind(" (")) else {
            continue;
        };
        cur.push((
            addr,
            rest[..open].to_string(),
            rest[open + 2..].trim_end_matches(')').to_string(),
        ));
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

#[test]
fn symbolize_jitdump_like_perf_inject() {
    // Python 3.13 -X perf_jit wrote maps/jit-3924.dump; plain `perf script`
    // shows its code as `[unknown] (/tmp/perf-3924.map)`, and after
    // `perf inject --jit` the same frames carry the jitdump names.
    let td = testdata();
    let mut opts = SymbolOptions::default();
    opts.no_system_paths = true;
    opts.perf_map_dir = Some(td.join("maps"));
    let mut s = Symbolizer::new(opts);
    s.add_jitdump(3924, b"/tmp/stackconv-record/jit-3924.dump");
    let plain =
        samples(&std::fs::read_to_string(td.join("py313-jit.noinline.perf-script")).unwrap());
    let injected = samples(
        &std::fs::read_to_string(td.join("py313-jit.injected.noinline.perf-script")).unwrap(),
    );
    assert_eq!(plain.len(), injected.len());
    let (mut agree, mut differ) = (0, Vec::new());
    // Without the jitted code's unwind tables perf's DWARF unwinding stops
    // at the first JIT frame, so only the frames up to it line up.
    for (p, i) in plain.iter().zip(&injected) {
        for ((addr, _, module), (_, sym, imod)) in p.iter().zip(i) {
            if module != "/tmp/perf-3924.map" {
                continue;
            }
            assert!(imod.contains("jitted-"), "{imod}");
            let want = tidy_perf_symbol(strip_symbol_offset(sym)).into_owned();
            match s.symbolize_jit(3924, *addr) {
                Ok(f) if f.len() == 1 && f[0].name == want => agree += 1,
                other => differ.push(format!("{addr:x} {want}: {other:?}")),
            }
            break;
        }
    }
    eprintln!("jitdump: {agree} frames agree, {} differ", differ.len());
    assert!(agree > 30, "{agree}");
    assert!(differ.is_empty(), "{:?}", &differ[..differ.len().min(20)]);
    assert_eq!(s.jit_entry(3924, 0), None);
    assert_eq!(s.symbolize_jit(3924, 0).unwrap_err(), Unresolved::NoSymbol);
    assert_eq!(s.symbolize_jit(1, 0).unwrap_err(), Unresolved::NoPerfMap);
    assert_eq!(
        s.jit_sources(3924),
        vec![td.join("maps").join("jit-3924.dump")]
    );
}

#[test]
fn symbolize_inline_per_lookup_shares_one_symbolizer() {
    // c-dwarf at 0x27304 in libc: with inlines perf names it after DWARF
    // (`__libc_start_main_impl`, not committed here); without, by the ELF
    // symbol perf picks among the aliases at that address.
    let td = testdata();
    let mut opts = SymbolOptions::default();
    opts.no_system_paths = true;
    opts.symbol_dirs = vec![td.join("bin"), td.join("debug")];
    let mut s = Symbolizer::new(opts);
    for (path, id) in build_ids(&td.join("c-dwarf.data")) {
        s.add_build_id(&path, &id);
    }
    let text = std::fs::read_to_string(td.join("c-dwarf.noinline.perf-script")).unwrap();
    let mut checked = 0;
    for f in frames(&text) {
        if f.module != "/tmp/stackconv-record/cfp" {
            continue;
        }
        let want = tidy_perf_symbol(strip_symbol_offset(&f.symbol)).into_owned();
        let outer = s
            .symbolize_file_inline(f.module.as_bytes(), f.addr, false)
            .unwrap();
        assert_eq!(outer.len(), 1);
        assert_eq!(outer[0].name, want);
        let inner = s
            .symbolize_file_inline(f.module.as_bytes(), f.addr, true)
            .unwrap();
        assert!(!inner.is_empty());
        checked += 1;
    }
    assert!(checked > 100, "{checked}");
}
