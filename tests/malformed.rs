//! Damaged inputs through the real binary: for one real file of every input
//! format in testdata/, deterministic variants (truncations, bit flips, and
//! for perf.data and pprof length fields set to 0, huge or past the end)
//! each go through `stackconv FILE -o out.svg` and `stackconv info FILE`,
//! under a timeout and an address-space limit. Each run must exit 0 with a
//! complete output (the damage was harmless) or exit 1 with a message that
//! names the file and where (`byte`, `offset` or `line`), leaving no output
//! and no temporary file; never a panic, a signal or a hang.
//!
//! A variant that fails is saved to `$STACKCONV_MALFORMED_SAVE/` when that
//! is set, to be reproduced by hand and, once fixed, kept in
//! testdata/regress/.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use wait_timeout::ChildExt as _;

/// A run still going after this long is a hang.
const TIMEOUT: Duration = Duration::from_secs(10);
/// `ulimit -v` for every run, in KiB (1 GiB): a run that allocates what
/// the input only claims fails to allocate and aborts, which the suite
/// reports as a signal.
const ADDRESS_SPACE_KIB: u64 = 1 << 20;
/// Worker threads: CI machines and the dev machine have 2 cores.
const THREADS: usize = 2;
/// Evenly spread truncation points per file.
const TRUNCATIONS: usize = 40;
/// Bit-flip variants per file.
const FLIPS: u64 = 30;

fn testdata(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../testdata")
        .join(rel)
}

fn read(rel: &str) -> Vec<u8> {
    std::fs::read(testdata(rel)).unwrap_or_else(|e| panic!("testdata/{rel}: {e}"))
}

/// One damaged input.
struct Variant {
    format: &'static str,
    what: String,
    data: Vec<u8>,
}

/// xorshift64 (Marsaglia 2003): deterministic, good enough to pick bits.
struct XorShift(u64);

impl XorShift {
    fn new(seed: u64) -> Self {
        // Never 0 (a fixed point); mix the seed a little.
        Self(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

fn truncations(format: &'static str, data: &[u8], binary: bool, out: &mut Vec<Variant>) {
    let mut cuts: Vec<usize> = (0..TRUNCATIONS)
        .map(|i| i * data.len() / TRUNCATIONS)
        .collect();
    // Just short of the end: a last record or line cut by one byte.
    cuts.push(data.len() - 1);
    if binary {
        cuts.extend(0..64.min(data.len()));
    }
    cuts.sort_unstable();
    cuts.dedup();
    for cut in cuts {
        out.push(Variant {
            format,
            what: format!("truncated to {cut} bytes"),
            data: data[..cut].to_vec(),
        });
    }
}

fn bit_flips(format: &'static str, data: &[u8], out: &mut Vec<Variant>) {
    for seed in 1..=FLIPS {
        let mut rng = XorShift::new(seed);
        let mut d = data.to_vec();
        let flips = 1 + rng.below(4);
        let mut at = Vec::new();
        for _ in 0..flips {
            let byte = rng.below(d.len());
            let bit = rng.below(8);
            d[byte] ^= 1 << bit;
            at.push(format!("{byte}.{bit}"));
        }
        out.push(Variant {
            format,
            what: format!("seed {seed}: bits flipped at {}", at.join(", ")),
            data: d,
        });
    }
}

fn u64_at(d: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(d[at..at + 8].try_into().expect("8 bytes"))
}

/// The offsets of the records between `start` and `end` (each record
/// starts with `perf_event_header { u32 type; u16 misc; u16 size; }`).
fn record_offsets(d: &[u8], start: usize, end: usize) -> Vec<usize> {
    let mut offsets = Vec::new();
    let mut at = start;
    while at + 8 <= end {
        offsets.push(at);
        let size = usize::from(u16::from_le_bytes([d[at + 6], d[at + 7]]));
        if size < 8 {
            break;
        }
        at += size;
    }
    offsets
}

/// perf.data variants: the file header's u64 sizes and sections (file
/// mode: `perf_file_header` in tools/perf/util/header.h; the layout
/// crates/perf/src/container.rs reads) and records' u16 sizes set to 0,
/// small, huge and past the end.
fn perf_lengths(format: &'static str, d: &[u8], out: &mut Vec<Variant>) {
    let len = d.len() as u64;
    let pipe = u64_at(d, 8) == 16;
    let (data_start, data_end) = if pipe {
        (16, d.len())
    } else {
        // 8 size, 16 attr_size, 24 attrs {offset, size}, 40 data {offset,
        // size}, 56 event_types {offset, size}.
        for (at, field) in [
            (8, "header size"),
            (16, "attr size"),
            (24, "attrs offset"),
            (32, "attrs size"),
            (40, "data offset"),
            (48, "data size"),
            (56, "event types offset"),
            (64, "event types size"),
        ] {
            for (value, name) in [
                (0, "0".to_string()),
                (u64::MAX, "u64::MAX".to_string()),
                (1 << 40, "2^40".to_string()),
                (len + 1, "past the end".to_string()),
                (len - u64_at(d, at).min(len) + 8, "near the end".to_string()),
            ] {
                let mut v = d.to_vec();
                v[at..at + 8].copy_from_slice(&value.to_le_bytes());
                out.push(Variant {
                    format,
                    what: format!("{field} (byte {at}) set to {name}"),
                    data: v,
                });
            }
        }
        let start = usize::try_from(u64_at(d, 40)).expect("data offset");
        (
            start,
            start + usize::try_from(u64_at(d, 48)).expect("data size"),
        )
    };
    let records = record_offsets(d, data_start, data_end);
    assert!(
        records.len() >= 8,
        "{format}: only {} records",
        records.len()
    );
    let n = records.len();
    let mut picked = vec![0, 1, 2, n / 3, n / 2, 2 * n / 3, n - 2, n - 1];
    picked.dedup();
    for i in picked {
        let at = records[i];
        let past = u16::try_from(data_end - at + 8).unwrap_or(u16::MAX);
        for (value, name) in [
            (0u16, "0"),
            (4, "4"),
            (u16::MAX, "65535"),
            (past, "past the end"),
        ] {
            let mut v = d.to_vec();
            v[at + 6..at + 8].copy_from_slice(&value.to_le_bytes());
            out.push(Variant {
                format,
                what: format!("record {i} (byte {at}) size set to {name}"),
                data: v,
            });
        }
    }
}

/// Reads a protobuf varint at `at`: (value, its length in bytes).
fn varint(d: &[u8], at: usize) -> Option<(u64, usize)> {
    let mut v = 0u64;
    for i in 0..10 {
        let b = *d.get(at + i)?;
        v |= u64::from(b & 0x7f) << (7 * i);
        if b & 0x80 == 0 {
            return Some((v, i + 1));
        }
    }
    None
}

fn encode_varint(mut v: u64) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let b = (v & 0x7f) as u8;
        v >>= 7;
        if v == 0 {
            out.push(b);
            return out;
        }
        out.push(b | 0x80);
    }
}

/// The positions of the length varints of the length-delimited fields in
/// `d[start..end]`, and one level into each that parses as a message:
/// (offset of the length, the length, where the field ends).
fn length_fields(d: &[u8], start: usize, end: usize, nested: bool) -> Option<Vec<(usize, usize)>> {
    let mut found = Vec::new();
    let mut at = start;
    while at < end {
        let (tag, n) = varint(d, at)?;
        at += n;
        match tag & 7 {
            0 => at += varint(d, at)?.1,
            1 => at += 8,
            5 => at += 4,
            2 => {
                let (len, n) = varint(d, at)?;
                let body = at + n;
                let body_end = body.checked_add(usize::try_from(len).ok()?)?;
                if body_end > end {
                    return None;
                }
                found.push((at, n));
                if nested {
                    if let Some(inner) = length_fields(d, body, body_end, false) {
                        found.extend(inner);
                    }
                }
                at = body_end;
            }
            _ => return None,
        }
    }
    (at == end).then_some(found)
}

/// pprof variants: a length varint (top level, or one message down) set
/// to huge values and past the end, in the plain message and gzipped.
fn pprof_lengths(plain: &[u8], out: &mut Vec<Variant>) {
    let fields = length_fields(plain, 0, plain.len(), true).expect("cpu.pb.gz parses");
    assert!(fields.len() > 20, "only {} length fields", fields.len());
    let n = fields.len();
    let picked = [0, 1, n / 5, 2 * n / 5, n / 2, 3 * n / 5, 4 * n / 5, n - 1];
    for &i in &picked {
        let (at, width) = fields[i];
        let past = (plain.len() - at) as u64;
        for (value, name) in [
            (u64::MAX, "u64::MAX"),
            (1 << 40, "2^40"),
            (u64::from(u32::MAX), "u32::MAX"),
            (past, "past the end"),
        ] {
            let mut v = plain[..at].to_vec();
            v.extend(encode_varint(value));
            v.extend_from_slice(&plain[at + width..]);
            let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            gz.write_all(&v).expect("gzip");
            let what = format!("length field {i} (byte {at}) set to {name}");
            out.push(Variant {
                format: "pprof-gz",
                what: what.clone(),
                data: gz.finish().expect("gzip"),
            });
            out.push(Variant {
                format: "pprof",
                what,
                data: v,
            });
        }
    }
}

fn inflate(gz: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(gz), &mut out).expect("gunzip");
    out
}

fn variants() -> Vec<Variant> {
    let mut out = Vec::new();
    let binary: [(&'static str, Vec<u8>); 5] = [
        ("perf.data", read("perf/c-fp.data")),
        ("perf.data-pipe", read("perf/c-fp.pipe.data")),
        ("perf.data-zstd", read("perf/c-zstd.data")),
        ("pprof-gz", read("go/cpu.pb.gz")),
        ("pprof", inflate(&read("go/cpu.pb.gz"))),
    ];
    for (format, data) in &binary {
        truncations(format, data, true, &mut out);
        bit_flips(format, data, &mut out);
        if format.starts_with("perf.data") {
            perf_lengths(format, data, &mut out);
        }
    }
    pprof_lengths(&binary[4].1, &mut out);
    let text: [(&'static str, &str); 5] = [
        ("perf-script", "perf/c-fp.perf-script"),
        ("py-spy", "pyspy/plain.raw"),
        ("folded", "perf/c-fp.folded"),
        ("speedscope", "pyspy/webapi.speedscope.json"),
        ("cpuprofile", "node/app.cpuprofile"),
    ];
    for (format, rel) in text {
        let data = read(rel);
        truncations(format, &data, false, &mut out);
        bit_flips(format, &data, &mut out);
    }
    out
}

/// How one run ended.
struct Run {
    status: Option<ExitStatus>,
    stdout: Vec<u8>,
    stderr: String,
    elapsed: Duration,
}

/// Run the binary with `args` in `dir` under the address-space limit;
/// stdout and stderr go to files (no pipe to fill up while we wait).
fn run(dir: &Path, args: &[&str]) -> Run {
    let bin = assert_cmd::cargo::cargo_bin("stackconv");
    let out_path = dir.join("stdout");
    let err_path = dir.join("stderr");
    let start = Instant::now();
    let mut child = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "ulimit -v {ADDRESS_SPACE_KIB} && exec \"$0\" \"$@\""
        ))
        .arg(bin)
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&out_path).expect("stdout file"))
        .stderr(std::fs::File::create(&err_path).expect("stderr file"))
        .spawn()
        .expect("spawn sh");
    let status = match child.wait_timeout(TIMEOUT).expect("wait") {
        Some(s) => Some(s),
        None => {
            let _ = child.kill();
            let _ = child.wait();
            None
        }
    };
    Run {
        status,
        stdout: std::fs::read(&out_path).unwrap_or_default(),
        stderr: String::from_utf8_lossy(&std::fs::read(&err_path).unwrap_or_default()).into_owned(),
        elapsed: start.elapsed(),
    }
}

/// Leftover `.stackconv-*.tmp` files in `dir`.
fn temporary_files(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .expect("read temp dir")
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n.starts_with(".stackconv-") && n.ends_with(".tmp"))
        .collect()
}

/// The flame graph's error for a profile that read correctly but holds
/// no weight (the two bytes `PE` are a valid pprof message: `time_nanos`
/// 69): there is no bad byte to name, and the message names the output.
const NOTHING_TO_DRAW: &str = "no samples with a positive weight to draw";

/// Judge one run: `Ok(exit code)` (0 or 1) or what was wrong.
fn judge(run: &Run, input: &str, output: Option<&Path>, dir: &Path) -> Result<i32, String> {
    let Some(status) = run.status else {
        return Err(format!("still running after {TIMEOUT:?} (killed)"));
    };
    let Some(code) = status.code() else {
        return Err(format!(
            "killed by a signal: {status}; stderr: {}",
            run.stderr
        ));
    };
    if run.stderr.contains("panicked") || code == 101 {
        return Err(format!("panicked (exit {code}): {}", run.stderr));
    }
    let tmp = temporary_files(dir);
    if !tmp.is_empty() {
        return Err(format!("temporary files left: {tmp:?}"));
    }
    match code {
        0 => {
            match output {
                Some(path) => {
                    let svg = std::fs::read_to_string(path)
                        .map_err(|e| format!("exit 0 but no readable output: {e}"))?;
                    if !svg.trim_end().ends_with("</svg>") {
                        return Err(format!(
                            "exit 0 but the SVG is incomplete ({} bytes)",
                            svg.len()
                        ));
                    }
                }
                None if run.stdout.is_empty() => {
                    return Err("exit 0 but info printed nothing".into())
                }
                None => {}
            }
            Ok(0)
        }
        1 => {
            if let Some(path) = output {
                if path.exists() {
                    return Err("exit 1 but the output file exists".into());
                }
            }
            let msg = &run.stderr;
            if msg.contains(NOTHING_TO_DRAW) {
                return Ok(1);
            }
            if !msg.contains(input) {
                return Err(format!("exit 1, message does not name {input}: {msg}"));
            }
            if !["byte", "offset", "line"].iter().any(|w| msg.contains(w)) {
                return Err(format!(
                    "exit 1, message names no byte offset or line: {msg}"
                ));
            }
            Ok(1)
        }
        _ => Err(format!("exit {code}: {}", run.stderr)),
    }
}

/// Per format: variants, runs that exited 0, runs that exited 1.
#[derive(Default, Clone)]
struct Tally {
    variants: usize,
    exit0: usize,
    exit1: usize,
}

/// The exit codes of both commands on one variant, or what was wrong.
type Checked = Result<[i32; 2], String>;

/// Both commands on one variant: the failures, or the two exit codes.
fn check(v: &Variant, dir: &Path) -> Checked {
    let input = "damaged.input";
    std::fs::write(dir.join(input), &v.data).expect("write input");
    let svg = dir.join("out.svg");
    let convert = run(dir, &[input, "-o", "out.svg", "--no-system-paths"]);
    let a = judge(&convert, input, Some(&svg), dir).map_err(|e| format!("convert: {e}"));
    let _ = std::fs::remove_file(&svg);
    let info = run(dir, &["info", input, "--no-system-paths"]);
    let b = judge(&info, input, None, dir).map_err(|e| format!("info: {e}"));
    if convert.elapsed.max(info.elapsed) > Duration::from_secs(5) {
        eprintln!(
            "slow: {} {}: {:?} / {:?}",
            v.format, v.what, convert.elapsed, info.elapsed
        );
    }
    match (a, b) {
        (Ok(a), Ok(b)) => Ok([a, b]),
        (a, b) => Err([a.err(), b.err()]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join("; ")),
    }
}

#[test]
fn damaged_inputs_fail_cleanly() {
    let started = Instant::now();
    let all = variants();
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<(usize, Checked)>> = Mutex::new(Vec::new());
    std::thread::scope(|s| {
        for _ in 0..THREADS {
            s.spawn(|| {
                let dir = tempfile::tempdir().expect("temp dir");
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(v) = all.get(i) else { break };
                    let r = check(v, dir.path());
                    results.lock().expect("results").push((i, r));
                }
            });
        }
    });
    let mut results = results.into_inner().expect("results");
    results.sort_by_key(|(i, _)| *i);

    let mut tally: Vec<(&str, Tally)> = Vec::new();
    let mut failures = Vec::new();
    let save = std::env::var_os("STACKCONV_MALFORMED_SAVE").map(PathBuf::from);
    for (i, r) in &results {
        let v = &all[*i];
        let t = match tally.iter_mut().find(|(f, _)| *f == v.format) {
            Some((_, t)) => t,
            None => {
                tally.push((v.format, Tally::default()));
                &mut tally.last_mut().expect("just pushed").1
            }
        };
        t.variants += 1;
        match r {
            Ok(codes) => {
                for c in codes {
                    if *c == 0 {
                        t.exit0 += 1;
                    } else {
                        t.exit1 += 1;
                    }
                }
            }
            Err(e) => {
                failures.push(format!("{} {} (variant {i}): {e}", v.format, v.what));
                if let Some(dir) = &save {
                    std::fs::create_dir_all(dir).expect("save dir");
                    std::fs::write(dir.join(format!("{}-{i}.bin", v.format)), &v.data)
                        .expect("save variant");
                }
            }
        }
    }
    eprintln!("format            variants  runs exit 0  runs exit 1");
    for (f, t) in &tally {
        eprintln!("{f:<16} {:>9} {:>12} {:>12}", t.variants, t.exit0, t.exit1);
    }
    eprintln!(
        "{} variants, {} runs in {:.1} s, {} failed",
        all.len(),
        2 * all.len(),
        started.elapsed().as_secs_f64(),
        failures.len()
    );
    assert!(
        failures.is_empty(),
        "{} of {} variants failed:\n{}",
        failures.len(),
        all.len(),
        failures.join("\n")
    );
}

#[test]
fn xorshift_is_deterministic_and_spreads() {
    let mut a = XorShift::new(7);
    let mut b = XorShift::new(7);
    let xs: Vec<u64> = (0..100).map(|_| a.next()).collect();
    let ys: Vec<u64> = (0..100).map(|_| b.next()).collect();
    assert_eq!(xs, ys);
    let mut seen = std::collections::HashSet::new();
    let mut r = XorShift::new(1);
    for _ in 0..1000 {
        seen.insert(r.below(64));
    }
    assert_eq!(seen.len(), 64);
}

#[test]
fn pprof_length_fields_are_found() {
    let plain = inflate(&read("go/cpu.pb.gz"));
    let fields = length_fields(&plain, 0, plain.len(), true).expect("parses");
    // Every length found is a varint that lies inside the message.
    for (at, width) in &fields {
        let (len, n) = varint(&plain, *at).expect("varint");
        assert_eq!(n, *width);
        assert!(at + n + usize::try_from(len).unwrap() <= plain.len());
    }
    assert!(fields.len() > 20);
}

#[test]
fn empty_input_and_empty_profile_say_so() {
    let dir = tempfile::tempdir().expect("temp dir");
    // 0 bytes: the message says the input is empty, not that its format is
    // unknown.
    std::fs::write(dir.path().join("empty"), b"").expect("write");
    let r = run(dir.path(), &["empty", "-o", "out.svg"]);
    assert_eq!(r.status.and_then(|s| s.code()), Some(1), "{}", r.stderr);
    assert!(
        r.stderr.contains("empty: empty input (0 bytes)"),
        "{}",
        r.stderr
    );
    // `PE` (a perf.data cut after 2 bytes) is a pprof message holding only
    // time_nanos: a profile without value columns, nothing to draw.
    std::fs::write(dir.path().join("pe"), b"PE").expect("write");
    let r = run(dir.path(), &["pe", "-o", "out.svg"]);
    assert_eq!(r.status.and_then(|s| s.code()), Some(1), "{}", r.stderr);
    assert!(r.stderr.contains(NOTHING_TO_DRAW), "{}", r.stderr);
    assert!(!dir.path().join("out.svg").exists());
    let r = run(dir.path(), &["info", "pe"]);
    assert_eq!(r.status.and_then(|s| s.code()), Some(0), "{}", r.stderr);
}
