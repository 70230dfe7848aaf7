//! Tables of the testdata recordings read back: the same folded text, in
//! every root-frame form, and the same totals per value column.

use std::path::{Path, PathBuf};

use stackconv_collapsed::folded::{self, RootFrame};
use stackconv_columnar::{read, Format, Source, Writer};
use stackconv_model::Profile;

fn testdata(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../testdata")
        .join(rel)
}

/// The recordings this crate can read without the perf.data reader.
fn recordings() -> Vec<(String, Profile)> {
    let mut out = Vec::new();
    for name in [
        "perf/c-2ev.perf-script",
        "perf/mutex.perf-script",
        "perf/py-dwarf.perf-script",
        "perf/py313-jit.perf-script",
        "perf/c-fp.folded",
    ] {
        let data = std::fs::read(testdata(name)).expect(name);
        let p = if name.ends_with(".folded") {
            stackconv_collapsed::folded::read(&data)
        } else {
            stackconv_collapsed::perf_script::read(&data)
        }
        .expect(name);
        out.push((name.to_string(), p));
    }
    out
}

fn folded_text(p: &Profile, root: RootFrame, column: usize) -> String {
    let mut opts = folded::WriteOptions::default();
    opts.root = root;
    opts.value = Some(column);
    let mut out = Vec::new();
    folded::write(p, &opts, &mut out).expect("folded");
    String::from_utf8(out).expect("utf-8")
}

fn assert_same(name: &str, a: &Profile, b: &Profile) {
    assert_eq!(a.value_types(), b.value_types(), "{name}: value types");
    assert_eq!(a.totals(), b.totals(), "{name}: totals");
    assert_eq!(a.meta().comm_root, b.meta().comm_root, "{name}: comm root");
    assert_eq!(a.meta().default_value, b.meta().default_value, "{name}");
    for column in 0..a.value_types().len() {
        for root in [RootFrame::Auto, RootFrame::CommPid, RootFrame::CommPidTid] {
            let (x, y) = (folded_text(a, root, column), folded_text(b, root, column));
            assert!(!x.is_empty(), "{name}: empty folded text");
            if x != y {
                let line = x.lines().zip(y.lines()).position(|(l, m)| l != m);
                panic!("{name}: column {column}, {root:?}: folded text differs at line {line:?}");
            }
        }
    }
    // Frames keep their kinds, files and lines.
    let frames = |p: &Profile| {
        let mut v: Vec<String> = p
            .iter_samples()
            .flat_map(|s| p.stack_frames(s.stack))
            .map(|f| {
                let fr = p.frame(f);
                format!(
                    "{}|{}|{}|{}|{:?}",
                    p.str(fr.name),
                    p.str(fr.module),
                    p.str(fr.file),
                    fr.line,
                    fr.kind
                )
            })
            .collect();
        v.sort();
        v.dedup();
        v
    };
    assert_eq!(frames(a), frames(b), "{name}: frames");
}

#[test]
fn parquet_and_arrow_round_trip_every_recording() {
    for format in [Format::Parquet, Format::Arrow] {
        for (name, p) in recordings() {
            let folded = p.fold();
            let mut file = Vec::new();
            stackconv_columnar::write(&folded, &Source::new(&name), format, &mut file).unwrap();
            let back = read(&file).unwrap();
            assert_eq!(back.len(), 1, "{name}");
            assert_eq!(back[0].source.path, name);
            assert_eq!(back[0].profile.samples().len(), folded.samples().len());
            assert_same(&name, &folded, &back[0].profile);
            // Unfolded: one row per sample, the same totals.
            let mut file = Vec::new();
            stackconv_columnar::write(&p, &Source::new(&name), format, &mut file).unwrap();
            let back = read(&file).unwrap();
            assert_eq!(back[0].profile.samples().len(), p.samples().len(), "{name}");
            assert_same(&name, &p, &back[0].profile);
        }
    }
}

#[test]
fn several_inputs_keep_their_rows_labels_and_value_columns_apart() {
    // Each has a subset of the first's value columns, in another order
    // (py-dwarf) or with fewer (mutex, folded): null in their rows.
    let recs: Vec<_> = recordings()
        .into_iter()
        .filter(|(n, _)| !n.contains("py313"))
        .collect();
    let (_, first) = recs.first().unwrap();
    let keys = vec!["host".to_string(), "service".to_string()];
    for format in [Format::Parquet, Format::Arrow] {
        let mut w = Writer::new(format, Vec::new(), &keys, first.value_types()).unwrap();
        let mut wrote = Vec::new();
        for (i, (name, p)) in recs.iter().enumerate() {
            // A perf script recording of one event has a subset of the
            // two-event recording's columns.
            let source = Source::new(name.as_str()).with_label("host", format!("h{i}"));
            let source = if i % 2 == 0 {
                source.with_label("service", "api")
            } else {
                source
            };
            w.write(&p.fold(), &source).unwrap();
            wrote.push((source, p.fold()));
        }
        let file = w.finish().unwrap();
        let back = read(&file).unwrap();
        assert_eq!(back.len(), wrote.len());
        for (input, (source, p)) in back.iter().zip(&wrote) {
            assert_eq!(&input.source, source);
            assert_same(&source.path, p, &input.profile);
        }
    }
}

#[test]
fn a_new_value_column_or_label_after_the_first_input_is_an_error() {
    let recs = recordings();
    let folded = recs.iter().find(|(n, _)| n.ends_with(".folded")).unwrap();
    let two_events = recs.iter().find(|(n, _)| n.contains("2ev")).unwrap();
    let mut w = Writer::new(Format::Parquet, Vec::new(), &[], folded.1.value_types()).unwrap();
    let e = w
        .write(&two_events.1, &Source::new("2ev"))
        .unwrap_err()
        .to_string();
    assert!(e.contains("2ev: value column"), "{e}");
    let e = w
        .write(&folded.1, &Source::new("x").with_label("host", "a"))
        .unwrap_err()
        .to_string();
    assert!(e.contains("label \"host\""), "{e}");
    let e = Writer::new(Format::Parquet, Vec::new(), &["pid".to_string()], &[])
        .err()
        .unwrap()
        .to_string();
    assert!(e.contains("label \"pid\""), "{e}");
}

#[test]
fn damaged_files_are_errors_not_panics() {
    let (name, p) = recordings().remove(0);
    for format in [Format::Parquet, Format::Arrow] {
        let mut file = Vec::new();
        stackconv_columnar::write(&p.fold(), &Source::new(&name), format, &mut file).unwrap();
        // Every truncation, and a flipped byte every 97 bytes.
        for len in (0..file.len()).step_by(61) {
            let _ = read(&file[..len]);
        }
        for at in (0..file.len()).step_by(97) {
            let mut bad = file.clone();
            bad[at] ^= 0x55;
            let _ = read(&bad);
        }
        assert!(read(&file[..file.len() - 1]).is_err());
    }
}

/// An Arrow file whose footer claims a record batch far larger than the
/// file is refused before the arrow reader allocates the claim (it
/// allocates each block's claimed length, zeroed, before reading it; the
/// fuzz target `table` found a claim of 211 TB).
#[test]
fn arrow_blocks_claiming_more_than_the_file_are_refused() {
    let (name, p) = recordings().remove(0);
    let mut file = Vec::new();
    stackconv_columnar::write(&p.fold(), &Source::new(&name), Format::Arrow, &mut file).unwrap();
    // The footer: before its 4-byte length and the closing `ARROW1`.
    let tail = file.len() - 10;
    let footer_len = u32::from_le_bytes(file[tail..tail + 4].try_into().unwrap()) as usize;
    let footer = tail - footer_len..tail;
    let blocks = arrow_ipc::root_as_footer(&file[footer.clone()])
        .unwrap()
        .recordBatches()
        .unwrap();
    let body = blocks.get(0).bodyLength();
    // The block's body length, where the footer stores it (a struct of
    // offset, metadata length and body length: the one place in the
    // footer where offset and body length follow each other).
    let mut needle = blocks.get(0).offset().to_le_bytes().to_vec();
    needle.extend_from_slice(&blocks.get(0).metaDataLength().to_le_bytes());
    needle.extend_from_slice(&[0; 4]);
    needle.extend_from_slice(&body.to_le_bytes());
    let at = file[footer.clone()]
        .windows(needle.len())
        .position(|w| w == needle)
        .expect("the block struct in the footer")
        + footer.start
        + needle.len()
        - 8;
    let mut bad = file.clone();
    bad[at..at + 8].copy_from_slice(&(3i64 << 30).to_le_bytes());
    let err = read(&bad).unwrap_err().to_string();
    assert!(err.contains("outside the file"), "{err}");
    assert!(err.contains(&format!("{} bytes", file.len())), "{err}");
    // A negative length too (the arrow reader would panic on it).
    bad[at..at + 8].copy_from_slice(&(-1i64).to_le_bytes());
    assert!(read(&bad)
        .unwrap_err()
        .to_string()
        .contains("outside the file"));
    // Untouched, it reads.
    assert!(read(&file).is_ok());
}

/// A table rewritten with another codec (Snappy is the default of
/// pyarrow, DuckDB and Spark) reads back the same.
#[test]
fn a_table_rewritten_with_snappy_reads_the_same() {
    use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
    use parquet::arrow::ArrowWriter;
    use parquet::basic::Compression;
    use parquet::file::properties::WriterProperties;

    let (name, p) = recordings().remove(0);
    let p = p.fold();
    let mut file = Vec::new();
    stackconv_columnar::write(&p, &Source::new(&name), Format::Parquet, &mut file).unwrap();
    let builder = ParquetRecordBatchReaderBuilder::try_new(bytes::Bytes::from(file)).unwrap();
    let kv = builder
        .metadata()
        .file_metadata()
        .key_value_metadata()
        .cloned();
    let props = WriterProperties::builder()
        .set_compression(Compression::SNAPPY)
        .set_key_value_metadata(kv)
        .build();
    let mut snappy = Vec::new();
    let mut writer =
        ArrowWriter::try_new(&mut snappy, builder.schema().clone(), Some(props)).unwrap();
    for batch in builder.build().unwrap() {
        writer.write(&batch.unwrap()).unwrap();
    }
    writer.close().unwrap();
    let back = read(&snappy).unwrap();
    assert_eq!(back.len(), 1);
    assert_same(&name, &p, &back[0].profile);
}

/// A Parquet footer with an unknown field holding a list that claims
/// 2^31 - 1 booleans in five bytes is refused at that list's offset: the
/// parquet crate skips unknown fields by looping over the claimed count
/// (seconds per claim; the `table` fuzz target found a file of such
/// claims that took minutes).
#[test]
fn a_footer_list_claiming_more_elements_than_bytes_is_refused() {
    let (name, p) = recordings().remove(0);
    let mut file = Vec::new();
    stackconv_columnar::write(&p.fold(), &Source::new(&name), Format::Parquet, &mut file).unwrap();
    let tail = file.len() - 8;
    let footer_len = u32::from_le_bytes(file[tail..tail + 4].try_into().unwrap()) as usize;
    let footer = tail - footer_len..tail;
    assert_eq!(file[tail - 1], 0, "the footer ends with its STOP");
    // Field 100 (long form: type 9 = list, zigzag id 200), a list header
    // of booleans (type 1) with a varint size of 2^31 - 1, then STOP.
    let claim = [0x09, 0xc8, 0x01, 0xf1, 0xff, 0xff, 0xff, 0xff, 0x07];
    let mut bad = file[..tail - 1].to_vec();
    let list_at = bad.len() + 3;
    bad.extend_from_slice(&claim);
    bad.push(0);
    let new_len = u32::try_from(bad.len() - footer.start).unwrap();
    bad.extend_from_slice(&new_len.to_le_bytes());
    bad.extend_from_slice(b"PAR1");
    let err = read(&bad).unwrap_err().to_string();
    assert!(
        err.contains("a list claims more elements than bytes left"),
        "{err}"
    );
    // The offset after the list header, where its elements would start.
    assert!(err.contains(&format!("byte {}", list_at + 6)), "{err}");
    // A list that holds what it claims (two i32, type 5) reads.
    let mut good = file[..tail - 1].to_vec();
    good.extend_from_slice(&[0x09, 0xc8, 0x01, 0x25, 0x02, 0x04, 0x00]);
    let new_len = u32::try_from(good.len() - footer.start).unwrap();
    good.extend_from_slice(&new_len.to_le_bytes());
    good.extend_from_slice(b"PAR1");
    assert!(read(&good).is_ok(), "{:?}", read(&good).err());
}

/// The rows of one input whose values add up past 2^63-1 (two inputs
/// written under one path, each within the limit) are an error naming the
/// column and the row, not a profile whose totals overflow later (the
/// `table` fuzz target found such files).
#[test]
fn values_of_one_input_adding_up_past_64_bits_are_an_error_with_the_row() {
    use stackconv_model::ValueType;
    let mut p = Profile::new(vec![ValueType::new("cpu-clock", "nanoseconds")]);
    let t = p.intern_thread_named(Some(1), Some(1), "app", "app");
    let f = p.intern_frame_named("main", stackconv_model::FrameKind::Native);
    let s = p.intern_stack_frames([f]);
    p.push_sample(s, t, None, &[i64::MAX - 1]);
    for format in [Format::Parquet, Format::Arrow] {
        let mut w = Writer::new(format, Vec::new(), &[], p.value_types()).unwrap();
        w.write(&p, &Source::new("same.data")).unwrap();
        w.write(&p, &Source::new("same.data")).unwrap();
        let file = w.finish().unwrap();
        let err = read(&file).unwrap_err().to_string();
        assert!(err.contains("column \"cpu-clock\""), "{err}");
        assert!(err.contains("row 1:"), "{err}");
        assert!(err.contains("past 2^63-1"), "{err}");
        // One of them reads.
        let mut w = Writer::new(format, Vec::new(), &[], p.value_types()).unwrap();
        w.write(&p, &Source::new("same.data")).unwrap();
        assert!(read(&w.finish().unwrap()).is_ok());
    }
}
