//! Inputs that would make stackconv hold more memory than their content
//! warrants (a zstd bomb in a perf.data, a gzip bomb in a pprof, an endless
//! `/dev/zero`) stop with an error that names the limit and the flag that
//! raises it, and the memory stays bounded; and inputs at the edges of what
//! the commands accept (empty py-spy stacks in a diff).

mod common;

use common::{stackconv, testdata};

fn u64_at(d: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(d[at..at + 8].try_into().unwrap())
}

/// One `PERF_RECORD_COMPRESSED` record (type 81) whose zstd data
/// decompresses to `records` `PERF_RECORD_FINISHED_ROUND` records (8 bytes
/// each, forwarded to the reader and so kept in memory).
fn compressed_record(records: usize) -> Vec<u8> {
    let mut plain = Vec::with_capacity(records * 8);
    for _ in 0..records {
        // type 68 (FINISHED_ROUND), misc 0, size 8
        plain.extend_from_slice(&[68, 0, 0, 0, 0, 0, 8, 0]);
    }
    let data = zstd::bulk::compress(&plain, 19).unwrap();
    // Not padded: PERF_RECORD_COMPRESSED's data is the rest of the record.
    let size = 8 + data.len();
    let mut rec = Vec::with_capacity(size);
    rec.extend_from_slice(&81u32.to_le_bytes());
    rec.extend_from_slice(&0u16.to_le_bytes());
    rec.extend_from_slice(&u16::try_from(size).expect("record fits").to_le_bytes());
    rec.extend_from_slice(&data);
    rec
}

/// testdata/perf/c-zstd.data (`perf record -z`, file mode) with `count`
/// compressed records of 32 MiB each inserted before its first compressed
/// record (perf's own records continue one zstd frame; ours are whole
/// frames), the feature sections after the data moved along.
fn zstd_bomb(count: usize) -> Vec<u8> {
    let orig = std::fs::read(testdata("perf/c-zstd.data")).unwrap();
    let data_start = usize::try_from(u64_at(&orig, 40)).unwrap();
    let data_end = data_start + usize::try_from(u64_at(&orig, 48)).unwrap();
    let mut at = data_start;
    while u32::from_le_bytes(orig[at..at + 4].try_into().unwrap()) != 81 {
        at += usize::from(u16::from_le_bytes(orig[at + 6..at + 8].try_into().unwrap()));
        assert!(at < data_end, "c-zstd.data has no compressed record");
    }
    let rec = compressed_record(4 << 20);
    let extra = rec.len() * count;
    let mut out = orig[..at].to_vec();
    for _ in 0..count {
        out.extend_from_slice(&rec);
    }
    out.extend_from_slice(&orig[at..]);
    // data size
    let size = u64_at(&orig, 48) + extra as u64;
    out[48..56].copy_from_slice(&size.to_le_bytes());
    // The feature section table follows the data; each entry (offset,
    // size) points past it.
    let features: u32 = orig[72..104].iter().map(|b| b.count_ones()).sum();
    for i in 0..features as usize {
        let at = data_end + extra + 16 * i;
        let off = u64_at(&out, at) + extra as u64;
        out[at..at + 8].copy_from_slice(&off.to_le_bytes());
    }
    out
}

/// Run `args` under an address-space limit of `limit_mib` MiB (`ulimit -v`
/// in sh): a run that needed more would fail to allocate and abort, not
/// exit 1.
fn run_limited(limit_mib: u64, args: &[&std::ffi::OsStr]) -> std::process::Output {
    let bin = assert_cmd::cargo::cargo_bin("stackconv");
    std::process::Command::new("sh")
        .arg("-c")
        .arg(format!(
            "ulimit -v {} && exec \"$0\" \"$@\"",
            limit_mib * 1024
        ))
        .arg(bin)
        .args(args)
        .output()
        .expect("run sh")
}

#[test]
fn the_bomb_is_what_it_claims() {
    // The bomb reads when its records are allowed: 64 records of 32 MiB
    // would decompress to 2 GiB, from a file of a few hundred KB.
    let bomb = zstd_bomb(64);
    assert!(bomb.len() < 400_000, "{} bytes", bomb.len());
    let one = zstd_bomb(1);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("one.data");
    std::fs::write(&path, one).unwrap();
    let out = stackconv()
        .args([path.as_os_str(), "-o".as_ref(), "-".as_ref()])
        .args(["--to", "folded", "--no-system-paths"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn zstd_bomb_stops_at_the_limit_in_bounded_memory() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bomb.data");
    std::fs::write(&path, zstd_bomb(64)).unwrap();
    let out_svg = dir.path().join("out.svg");
    let args = [
        path.as_os_str(),
        "-o".as_ref(),
        out_svg.as_os_str(),
        "--no-system-paths".as_ref(),
    ];
    // The default limit (256 MiB for a small file), in 512 MiB of address
    // space.
    let out = run_limited(512, &args);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "stderr: {err}");
    assert!(err.contains("bomb.data"), "{err}");
    assert!(
        err.contains("decompress to more than 268435456 bytes"),
        "{err}"
    );
    assert!(err.contains("--max-decompressed"), "{err}");
    assert!(!err.contains("memory allocation"), "{err}");
    assert!(!out_svg.exists());
    // A lower limit given on the command line, in 240 MiB (far below the
    // 2 GiB the bomb claims; 200 MiB left too little room once the binary
    // carried the arrow and parquet crates: 45 MB of code in a debug build,
    // from 17).
    let mut low = args.to_vec();
    low.extend(["--max-decompressed", "64M"].map(std::ffi::OsStr::new));
    let out = run_limited(240, &low);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "stderr: {err}");
    assert!(err.contains("more than 67108864 bytes"), "{err}");
    assert!(err.contains("(64M)"), "{err}");
    // A bad size is a usage error.
    let out = stackconv()
        .args([path.as_os_str(), "-o".as_ref(), out_svg.as_os_str()])
        .args(["--max-decompressed", "lots"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn gzip_bomb_stops_at_the_limit() {
    use std::io::Write;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bomb.pb.gz");
    // A plausible profile start (a sample_type field), then zeros: 300 MiB
    // inflated, a few hundred KB of gzip.
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    gz.write_all(&[0x0a, 0x04, 0x08, 0x01, 0x10, 0x02]).unwrap();
    let zeros = vec![0u8; 1 << 20];
    for _ in 0..300 {
        gz.write_all(&zeros).unwrap();
    }
    std::fs::write(&path, gz.finish().unwrap()).unwrap();
    let out = run_limited(
        512,
        &[
            path.as_os_str(),
            "-o".as_ref(),
            "-".as_ref(),
            "--to".as_ref(),
            "folded".as_ref(),
        ],
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "stderr: {err}");
    assert!(
        err.contains("exceeds the limit of 268435456 bytes"),
        "{err}"
    );
    assert!(err.contains("--max-decompressed"), "{err}");
}

#[test]
fn endless_device_and_pipe_stop_at_the_input_limit() {
    // /dev/zero with a small limit.
    let out = stackconv()
        .args([
            "/dev/zero",
            "-o",
            "-",
            "--to",
            "folded",
            "--max-input",
            "1M",
        ])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "stderr: {err}");
    assert!(err.contains("/dev/zero"), "{err}");
    assert!(err.contains("input larger than 1048576 bytes"), "{err}");
    assert!(err.contains("--max-input"), "{err}");
    // With the default limit (4 GiB) in 1 GiB of address space: an error
    // about memory, not an abort.
    let out = run_limited(
        1024,
        &[
            "/dev/zero".as_ref(),
            "-o".as_ref(),
            "-".as_ref(),
            "--to".as_ref(),
            "folded".as_ref(),
        ],
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "stderr: {err}");
    assert!(err.contains("/dev/zero"), "{err}");
    assert!(err.contains("out of memory after reading"), "{err}");
    // Standard input over the limit.
    let out = stackconv()
        .args(["-", "-o", "-", "--to", "folded", "--max-input", "1K"])
        .write_stdin("a;b 1\n".repeat(1000))
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "stderr: {err}");
    assert!(err.contains("input larger than 1024 bytes"), "{err}");
    // ... and exactly at it.
    let out = stackconv()
        .args(["-", "-o", "-", "--to", "folded", "--max-input", "6"])
        .write_stdin("a;b 1\n")
        .output()
        .unwrap();
    assert!(out.status.success());
    assert_eq!(String::from_utf8_lossy(&out.stdout), "a;b 1\n");
}

/// `diff` accepts what conversion accepts: a py-spy recording with an
/// empty-stack line (` 2`, which py-spy writes for a thread without
/// frames).
#[test]
fn diff_accepts_a_pyspy_empty_stack() {
    let dir = tempfile::tempdir().unwrap();
    let mut raw = std::fs::read(testdata("pyspy/plain.raw")).unwrap();
    raw.extend_from_slice(b" 2\n");
    let path = dir.path().join("a.raw");
    std::fs::write(&path, raw).unwrap();
    let out = dir.path().join("d.svg");
    let run = stackconv()
        .args(["diff".as_ref(), path.as_os_str(), path.as_os_str()])
        .args(["-o".as_ref(), out.as_os_str()])
        .output()
        .unwrap();
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let folded = stackconv()
        .args(["diff".as_ref(), path.as_os_str(), path.as_os_str()])
        .args(["-o", "-", "--to", "folded"])
        .output()
        .unwrap();
    assert!(folded.status.success());
    let text = String::from_utf8(folded.stdout).unwrap();
    assert!(text.lines().any(|l| l == " 2 2"), "{text}");
    // The conversion's folded output reads back.
    let converted = dir.path().join("a.folded");
    stackconv()
        .args([path.as_os_str(), "-o".as_ref(), converted.as_os_str()])
        .assert()
        .success();
    stackconv()
        .args([converted.as_os_str(), "-o".as_ref(), out.as_os_str()])
        .assert()
        .success();
}

/// Weights past 64 bits: an error naming the line, not "no samples with a
/// positive weight to draw".
#[test]
fn svg_of_weights_past_64_bits_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("big.folded");
    std::fs::write(&path, "a;b 9223372036854775807\na;c 5\n").unwrap();
    let out = dir.path().join("big.svg");
    let run = stackconv()
        .args([path.as_os_str(), "-o".as_ref(), out.as_os_str()])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&run.stderr);
    assert_eq!(run.status.code(), Some(1), "{err}");
    assert!(
        err.contains("big.folded: folded: line 2: total weight overflows 64 bits"),
        "{err}"
    );
}

/// A perf.data drawn as an SVG with its distinct stacks moved to a
/// temporary file after every sample (`--max-stack-memory 0`: chunks
/// merged back at the end) draws the graph drawn with them in memory, byte
/// for byte, on every recording in testdata (frame pointers and DWARF
/// unwinding, one root or a root per thread); when the file cannot be
/// made, they stay in memory, with a warning, and the graph is the same.
#[test]
fn stacks_moved_to_a_file_draw_the_same_graph() {
    let mut files: Vec<_> = std::fs::read_dir(testdata("perf"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "data"))
        .collect();
    files.sort();
    assert!(files.len() >= 10, "testdata has its perf recordings");
    let run = |path: &std::path::Path, extra: &[&str], tmp: Option<&str>| {
        let mut cmd = stackconv();
        cmd.arg(path)
            .args(common::perf_symbol_args("c-fp.kallsyms"))
            .args(["-o", "-", "--to", "svg"])
            .args(extra);
        if let Some(t) = tmp {
            cmd.env("TMPDIR", t);
        }
        cmd.output().unwrap()
    };
    let mut drawn = 0;
    for path in &files {
        for root in [&[][..], &["--per-thread"][..]] {
            let kept = run(path, root, None);
            let moved = run(path, &[root, &["--max-stack-memory", "0"]].concat(), None);
            let name = path.display();
            assert_eq!(kept.status.code(), moved.status.code(), "{name} {root:?}");
            assert_eq!(
                String::from_utf8_lossy(&kept.stderr),
                String::from_utf8_lossy(&moved.stderr),
                "{name} {root:?}"
            );
            assert!(
                kept.stdout == moved.stdout,
                "{name} {root:?}: the SVGs differ"
            );
            drawn += usize::from(kept.status.success() && kept.stdout.len() > 1000);
        }
    }
    assert!(drawn >= 20, "{drawn} graphs drawn");
    for name in ["perf/c-fp.data", "perf/c-dwarf.data"] {
        let path = testdata(name);
        let kept = run(&path, &[], None);
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("missing");
        let moved = run(&path, &["--max-stack-memory", "0"], missing.to_str());
        let err = String::from_utf8_lossy(&moved.stderr);
        assert!(moved.status.success(), "{name}: {err}");
        assert!(
            err.contains("could not be moved to a temporary file"),
            "{name}: {err}"
        );
        assert!(kept.stdout == moved.stdout, "{name}: the SVGs differ");
    }
}

/// A temporary file that takes no more (a full disk; here a file-size
/// limit, `ulimit -f`, with SIGXFSZ ignored so that the write fails with
/// EFBIG) costs memory, never the graph: whether the chunks stop while the
/// recording is read, the last one cannot be written, or the sorted runs
/// cannot be, every stack is read back into memory with a warning, and the
/// SVG is the one drawn without the file.
#[test]
fn a_full_temporary_file_draws_the_same_graph() {
    let path = testdata("perf/c-fp.data");
    let whole = stackconv()
        .arg(&path)
        .args(["--no-system-paths", "-o", "-", "--to", "svg"])
        .output()
        .unwrap();
    assert!(whole.status.success());
    let bin = assert_cmd::cargo::cargo_bin("stackconv");
    let (mut stopped, mut unsorted) = (0, 0);
    // Limits in the shell's blocks (512 bytes in dash, 1024 in bash): from
    // a file that takes a few chunks to one that takes them all.
    for blocks in [4, 8, 16, 24, 32, 40, 48, 56, 64, 96, 128, 256] {
        let out = std::process::Command::new("sh")
            .arg("-c")
            .arg(format!(
                "trap '' XFSZ; ulimit -f {blocks} && exec \"$0\" \"$@\""
            ))
            .arg(&bin)
            .arg(&path)
            .args(["--no-system-paths", "--max-stack-memory", "0"])
            .args(["-o", "-", "--to", "svg"])
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{blocks} blocks: {err}");
        assert!(
            out.stdout == whole.stdout,
            "{blocks} blocks: the SVGs differ: {err}"
        );
        stopped += usize::from(err.contains("last distinct stacks could not be moved"));
        unsorted += usize::from(err.contains("could not be sorted there"));
    }
    assert!(
        stopped > 0 && unsorted > 0,
        "{stopped} stopped, {unsorted} unsorted"
    );
}
