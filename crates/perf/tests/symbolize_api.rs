//! The symbolizer's reporting, perf maps through the public API, build-id
//! refusal, file bytes, and corrupted ELF input.

use std::path::{Path, PathBuf};

use stackconv_model::FrameKind;
use stackconv_perf::symbolize::{SymbolOptions, Symbolizer, Unresolved};

fn testdata() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata/perf")
}

fn scratch(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

/// The address `perf script` printed for the first `cmp_int` frame of
/// c-fp (read from the file so a re-recording keeps the test true).
fn cmp_int_addr() -> u64 {
    let text = std::fs::read_to_string(testdata().join("c-fp.perf-script")).unwrap();
    let line = text
        .lines()
        .find(|l| l.contains(" cmp_int+") && l.ends_with("(/tmp/stackconv-record/cfp)"))
        .unwrap();
    u64::from_str_radix(line.split_whitespace().next().unwrap(), 16).unwrap()
}

fn hermetic() -> SymbolOptions {
    let mut o = SymbolOptions::default();
    o.no_system_paths = true;
    o
}

#[test]
fn symbolize_perf_map_through_the_api() {
    let dir = scratch("symbolize_perf_map");
    std::fs::write(
        dir.join("perf-77.map"),
        "7f0000001000 40 py::handle:/app/webapi.py\n\
         7f0000001040 20 LazyCompile:~foo(int) bar.js:1\n\
         not a line\n\
         7f0000001000 10 py::rewritten:/app/new.py\n",
    )
    .unwrap();
    let mut o = hermetic();
    o.perf_map_dir = Some(dir.clone());
    let mut s = Symbolizer::new(o);

    let f = s.symbolize_jit(77, 0x7f0000001010).unwrap();
    assert_eq!(f.len(), 1);
    assert_eq!(f[0].name, "py::handle:/app/webapi.py");
    assert_eq!(f[0].kind, FrameKind::Python);
    assert_eq!(f[0].file.as_deref(), Some("/app/webapi.py"));
    // A later entry over the same range wins.
    let f = s.symbolize_jit(77, 0x7f0000001008).unwrap();
    assert_eq!(f[0].name, "py::rewritten:/app/new.py");
    assert_eq!(
        s.jit_entry(77, 0x7f0000001008),
        Some((0x7f0000001000, 0x10, "py::rewritten:/app/new.py".into()))
    );
    // Other entries are JIT frames, tidied as inferno does.
    let f = s.symbolize_jit(77, 0x7f000000105f).unwrap();
    assert_eq!(f[0].name, "LazyCompile:~foo");
    assert_eq!(f[0].kind, FrameKind::Jit);
    assert_eq!(
        s.symbolize_jit(77, 0x7f0000001060).unwrap_err(),
        Unresolved::NoSymbol
    );
    assert_eq!(
        s.symbolize_jit(78, 0x10).unwrap_err(),
        Unresolved::NoPerfMap
    );
    assert_eq!(
        s.symbolize_jit(78, 0x10).unwrap_err(),
        Unresolved::NoPerfMap
    );

    let (losses, warnings) = s.report();
    let map = dir.join("perf-77.map");
    assert!(
        warnings
            .iter()
            .any(|w| w == &format!("{}: 1 malformed lines skipped (line 3)", map.display())),
        "{warnings:?}"
    );
    assert!(
        warnings
            .iter()
            .any(|w| w.starts_with("pid 78: no perf map")),
        "{warnings:?}"
    );
    let loss = |what: &str| losses.iter().find(|l| l.what == what).map(|l| l.count);
    assert_eq!(
        loss("unresolved addresses in JIT code of pid 78 (no perf map; 1 distinct)"),
        Some(2)
    );
    assert_eq!(
        loss("unresolved addresses in JIT code of pid 77 (no symbol; 1 distinct)"),
        Some(1)
    );
}

#[test]
fn symbolize_refuses_a_mismatched_build_id_and_says_why() {
    let td = testdata();
    let mut o = hermetic();
    o.symbol_dirs = vec![td.join("bin-mismatch")];
    let mut s = Symbolizer::new(o);
    // testdata/perf/MANIFEST: cfpmm was recorded with build id 9e4865...;
    // bin-mismatch/cfpmm is another build (438334...).
    let path = b"/tmp/stackconv-record/cfpmm";
    s.add_build_id(path, &unhex("9e4865b251c1bae21374a6467666543d037e4989"));
    assert_eq!(
        s.symbolize_file(path, 0x1100).unwrap_err(),
        Unresolved::BuildIdMismatch
    );
    assert_eq!(
        s.symbolize_file(path, 0x1100).unwrap_err(),
        Unresolved::BuildIdMismatch
    );
    assert_eq!(
        s.symbolize_file(path, 0x1200).unwrap_err(),
        Unresolved::BuildIdMismatch
    );
    assert!(matches!(
        s.file_bytes(path),
        Err(Unresolved::BuildIdMismatch)
    ));
    let (losses, warnings) = s.report();
    assert_eq!(losses.len(), 1);
    assert_eq!(
        losses[0].what,
        "unresolved addresses in /tmp/stackconv-record/cfpmm (build id mismatch; 2 distinct)"
    );
    assert_eq!(losses[0].count, 3);
    assert_eq!(
        warnings,
        vec![format!(
            "/tmp/stackconv-record/cfpmm: build id 9e4865b251c1bae21374a6467666543d037e4989 \
             wanted; not used: {} (build id 438334f1c326aecd022a3273398d9b68778c1956)",
            td.join("bin-mismatch/cfpmm").display()
        )]
    );
}

#[test]
fn symbolize_missing_files_and_kallsyms_are_reported() {
    let mut s = Symbolizer::new(hermetic());
    assert_eq!(
        s.symbolize_file(b"/usr/bin/nothere", 1).unwrap_err(),
        Unresolved::FileMissing
    );
    assert_eq!(
        s.symbolize_file(b"[vdso]", 1).unwrap_err(),
        Unresolved::FileMissing
    );
    assert_eq!(
        s.symbolize_kernel(0xffffffff81000000).unwrap_err(),
        Unresolved::FileMissing
    );
    let (losses, warnings) = s.report();
    let whats: Vec<&str> = losses.iter().map(|l| l.what.as_str()).collect();
    assert_eq!(
        whats,
        vec![
            "unresolved addresses in /usr/bin/nothere (file missing; 1 distinct)",
            "unresolved addresses in [vdso] (file missing; 1 distinct)",
            "unresolved addresses in [kernel.kallsyms] (file missing; 1 distinct)",
        ]
    );
    assert!(warnings.contains(&"/usr/bin/nothere: file not found".to_string()));
}

#[test]
fn symbolize_file_bytes_and_xz() {
    let td = testdata();
    let mut o = hermetic();
    o.symbol_dirs = vec![td.join("bin")];
    let mut s = Symbolizer::new(o);
    let bytes = s.file_bytes(b"/tmp/stackconv-record/cfp").unwrap();
    assert_eq!(
        (*bytes).as_ref(),
        std::fs::read(td.join("bin/cfp")).unwrap()
    );
    // rustv0 is committed as rustv0.xz and unpacked in memory.
    let bytes = s.file_bytes(b"/tmp/stackconv-record/rustv0").unwrap();
    assert_eq!((*bytes).as_ref().get(..4), Some(&b"\x7fELF"[..]));
}

#[test]
fn symbolize_symfs_uses_the_recorded_path_under_it() {
    let td = testdata();
    let root = scratch("symbolize_symfs");
    let dir = root.join("tmp/stackconv-record");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::copy(td.join("bin/cfp"), dir.join("cfp")).unwrap();
    let mut o = hermetic();
    o.symfs = Some(root);
    let mut s = Symbolizer::new(o);
    let f = s
        .symbolize_file(b"/tmp/stackconv-record/cfp", cmp_int_addr())
        .unwrap();
    assert_eq!(f.last().unwrap().name, "cmp_int");
    assert_eq!(f.last().unwrap().kind, FrameKind::Native);
    assert!(f
        .last()
        .unwrap()
        .file
        .as_deref()
        .unwrap()
        .ends_with("cfp.c"));
}

#[test]
fn symbolize_corrupted_elf_never_panics() {
    let td = testdata();
    let good = std::fs::read(td.join("bin/cfp")).unwrap();
    let dir = scratch("symbolize_corrupt");
    let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    for round in 0..120 {
        let mut bad = good.clone();
        if round % 3 == 0 {
            bad.truncate((next() as usize) % good.len());
        } else {
            for _ in 0..(1 + round % 16) {
                let at = (next() as usize) % bad.len();
                bad[at] = next() as u8;
            }
        }
        std::fs::write(dir.join("cfp"), &bad).unwrap();
        let mut o = hermetic();
        o.symbol_dirs = vec![dir.clone()];
        let mut s = Symbolizer::new(o);
        for off in [0u64, 0x1030, 0x1100, 0x13d2, 0x14cf, 0x2000, u64::MAX] {
            let _ = s.symbolize_file(b"/tmp/stackconv-record/cfp", off);
        }
        let _ = s.file_bytes(b"/tmp/stackconv-record/cfp");
        let _ = s.report();
    }
    // The intact file still resolves after all that.
    std::fs::write(dir.join("cfp"), &good).unwrap();
    let mut o = hermetic();
    o.symbol_dirs = vec![dir];
    let mut s = Symbolizer::new(o);
    assert_eq!(
        s.symbolize_file(b"/tmp/stackconv-record/cfp", cmp_int_addr())
            .unwrap()[0]
            .name,
        "cmp_int"
    );
}

#[test]
fn symbolize_compressed_dwarf_from_a_fresh_build() {
    // Built here (when a C compiler is around) with zlib-compressed debug
    // sections; the expected line comes from the DWARF line table through
    // binutils' addr2line when present, else only its presence is checked.
    let dir = scratch("symbolize_gz");
    let src = testdata().join("../src/cfp.c");
    let out = dir.join("cfpgz");
    let built = std::process::Command::new("cc")
        .args(["-O1", "-g", "-gz=zlib", "-fno-omit-frame-pointer", "-o"])
        .arg(&out)
        .arg(&src)
        .status();
    if !built.is_ok_and(|s| s.success()) {
        eprintln!("no C compiler: skipped");
        return;
    }
    use object::{Object, ObjectSegment, ObjectSymbol};
    let data = std::fs::read(&out).unwrap();
    let file = object::File::parse(&*data).unwrap();
    let main = file
        .symbols()
        .find(|s| s.name() == Ok("main"))
        .unwrap()
        .address();
    let seg = file
        .segments()
        .find(|s| s.address() <= main && main < s.address() + s.size())
        .unwrap();
    let offset = main - seg.address() + seg.file_range().0;
    let mut o = hermetic();
    o.symbol_dirs = vec![dir.clone()];
    o.inline = false;
    let mut s = Symbolizer::new(o);
    let f = s.symbolize_file(b"/somewhere/cfpgz", offset).unwrap();
    assert_eq!(f.len(), 1);
    assert_eq!(f[0].name, "main");
    assert!(
        f[0].file.as_deref().is_some_and(|p| p.ends_with("cfp.c")),
        "{f:?}"
    );
    if let Ok(a2l) = std::process::Command::new("addr2line")
        .arg("-e")
        .arg(&out)
        .arg(format!("{main:x}"))
        .output()
    {
        let text = String::from_utf8_lossy(&a2l.stdout);
        let line: u32 = text
            .trim()
            .rsplit(':')
            .next()
            .and_then(|l| l.split_whitespace().next())
            .and_then(|l| l.parse().ok())
            .unwrap_or(0);
        if line > 0 {
            assert_eq!(f[0].line, line, "{text}");
        }
    }
}
