//! `stackconv::read_from`: a reader (standard input, a pipe) read as the
//! same bytes in memory are, with the line formats streamed a line at a
//! time and, when folding, counted per distinct stack as they are read.

use std::io::Read;
use std::path::{Path, PathBuf};

use stackconv::collapsed::folded;
use stackconv::{read_bytes, read_from, Error, ReadOptions};

fn testdata(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../testdata")
        .join(rel)
}

/// The recordings of the line formats: `perf script` text, py-spy raw
/// output and folded goldens.
fn line_inputs() -> Vec<PathBuf> {
    let mut files = Vec::new();
    for (dir, ext) in [
        ("perf", "perf-script"),
        ("pyspy", "raw"),
        ("perf", "folded"),
    ] {
        for e in std::fs::read_dir(testdata(dir)).unwrap() {
            let p = e.unwrap().path();
            if p.extension().is_some_and(|e| e == ext) {
                files.push(p);
            }
        }
    }
    files.sort();
    assert!(files.len() > 20, "testdata has the line recordings");
    files
}

fn folded_text(p: &stackconv::Profile) -> Vec<u8> {
    let mut out = Vec::new();
    folded::write(p, &folded::WriteOptions::default(), &mut out).unwrap();
    out
}

/// A reader that hands out at most `n` bytes per read, so that lines
/// straddle the reads.
struct Trickle<R>(R, usize);

impl<R: Read> Read for Trickle<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = buf.len().min(self.1);
        self.0.read(&mut buf[..n])
    }
}

#[test]
fn streamed_line_formats_read_as_their_bytes_do() {
    for path in line_inputs() {
        let data = std::fs::read(&path).unwrap();
        for fold in [false, true] {
            let mut opts = ReadOptions::default();
            opts.fold = fold;
            let name = path.display();
            let (whole, streamed) = match (
                read_bytes(&data, &opts),
                read_from(Trickle(&data[..], 4093), &opts),
            ) {
                (Ok(w), Ok(s)) => (w, s),
                // An empty golden: the same error both ways.
                (Err(w), Err(s)) => {
                    assert_eq!(s.to_string(), w.to_string(), "{name}");
                    continue;
                }
                (w, s) => panic!("{name}: read_bytes {w:?}, read_from {s:?}"),
            };
            assert_eq!(
                folded_text(&streamed),
                folded_text(&whole),
                "{name} fold={fold}"
            );
            assert_eq!(streamed.totals(), whole.totals(), "{name} fold={fold}");
            assert_eq!(
                streamed.samples().len(),
                whole.samples().len(),
                "{name} fold={fold}"
            );
            assert_eq!(streamed.meta(), whole.meta(), "{name} fold={fold}");
        }
    }
}

#[test]
fn folding_while_streaming_keeps_one_row_per_distinct_stack() {
    // Two million lines, three distinct stacks, made as they are read:
    // the input is never in memory, and neither is a row per line.
    let lines = ["main;parse;lex 1\n", "main;parse 2\n", "main;eval 3\n"];
    let n = 2_000_000usize;
    let text = (0..n).flat_map(move |i| lines[i % 3].bytes());
    let reader = IterReader(text);
    let mut opts = ReadOptions::default();
    opts.fold = true;
    let p = read_from(reader, &opts).unwrap();
    assert_eq!(p.samples().len(), 3);
    let per_cycle = 1 + 2 + 3;
    assert_eq!(p.total(0), (n / 3 * per_cycle + 1 + 2) as i64);
}

/// A reader over an iterator of bytes.
struct IterReader<I>(I);

impl<I: Iterator<Item = u8>> Read for IterReader<I> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let mut n = 0;
        for (slot, b) in buf.iter_mut().zip(&mut self.0) {
            *slot = b;
            n += 1;
        }
        Ok(n)
    }
}

#[test]
fn a_bad_line_gets_the_same_error_streamed() {
    let data = "main;a 1\n".repeat(20_000) + "main;b one\n";
    let opts = ReadOptions::default();
    let whole = read_bytes(data.as_bytes(), &opts).unwrap_err().to_string();
    let streamed = read_from(data.as_bytes(), &opts).unwrap_err().to_string();
    assert_eq!(streamed, whole);
    assert!(whole.contains("line 20001"), "{whole}");
    // A NUL past the first 64 KiB (detection saw text): binary, by line.
    let data = "main;a 1\n".repeat(20_000) + "main;\0 1\n";
    let streamed = read_from(data.as_bytes(), &opts).unwrap_err().to_string();
    assert_eq!(
        streamed,
        read_bytes(data.as_bytes(), &opts).unwrap_err().to_string()
    );
}

#[test]
fn a_streamed_input_past_the_limit_is_an_error() {
    let data = "main;a 1\n".repeat(100_000);
    let mut opts = ReadOptions::default();
    opts.max_input_bytes = Some(500_000);
    let err = read_from(data.as_bytes(), &opts).unwrap_err();
    assert!(
        matches!(err, Error::InputTooLarge { limit: 500_000 }),
        "{err}"
    );
    // Exactly at the limit is fine.
    opts.max_input_bytes = Some(data.len() as u64);
    assert_eq!(read_from(data.as_bytes(), &opts).unwrap().total(0), 100_000);
}

#[test]
fn other_formats_are_read_whole_then_parsed() {
    let data = std::fs::read(testdata("go/cpu.pb.gz")).unwrap();
    let opts = ReadOptions::default();
    let whole = read_bytes(&data, &opts).unwrap();
    let streamed = read_from(Trickle(&data[..], 1000), &opts).unwrap();
    assert_eq!(streamed.totals(), whole.totals());
    assert_eq!(folded_text(&streamed), folded_text(&whole));
    assert!(matches!(read_from(&b""[..], &opts), Err(Error::EmptyInput)));
}
