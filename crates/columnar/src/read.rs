//! Parquet and Arrow IPC tables back into profiles.

use std::collections::HashMap;
use std::io::Cursor;

use arrow_array::cast::AsArray;
use arrow_array::types::{Int64Type, UInt32Type};
use arrow_array::{Array, GenericStringArray, ListArray, PrimitiveArray, RecordBatch, StructArray};
use arrow_schema::{DataType, Schema};
use bytes::Bytes;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use stackconv_model::{Frame, FrameId, FrameKind, Profile, StackCache, ValueType};

use crate::schema::{
    INPUT, INPUTS_KEY, KIND_KEY, PID, PROCESS_NAME, STACK, THREAD_NAME, TID, UNIT_KEY,
};
use crate::write::InputMeta;
use crate::{Error, Source};

/// One input of a table: its path and labels, and its rows as a profile.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct Input {
    /// The input's path and labels, from its first row.
    pub source: Source,
    /// Its rows: one sample each.
    pub profile: Profile,
}

thread_local! {
    /// Whether this thread is inside [`read`]'s `catch_unwind`.
    static READING: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Whether a panic raised now, on this thread, is one [`read`] catches
/// and returns as [`Error::Damaged`]: the thread is inside `read`, in the
/// parquet or arrow readers (some of their panics are raised in `core`,
/// as an arithmetic overflow in a sum, so the panic's source file does not
/// tell). A program with its own panic hook can stay quiet about those
/// (the error says what happened) and report every other panic as before.
///
/// ```
/// assert!(!stackconv_columnar::panic_is_caught_by_read());
/// ```
pub fn panic_is_caught_by_read() -> bool {
    READING.with(|r| r.get())
}

/// Whether `data` starts as a Parquet file does (`PAR1`).
///
/// ```
/// assert!(stackconv_columnar::looks_like_parquet(b"PAR1\x15\x04"));
/// assert!(!stackconv_columnar::looks_like_parquet(b"PAR"));
/// ```
pub fn looks_like_parquet(data: &[u8]) -> bool {
    data.starts_with(b"PAR1")
}

/// Whether `data` starts as an Arrow IPC file does (`ARROW1`).
///
/// ```
/// assert!(stackconv_columnar::looks_like_arrow(b"ARROW1\0\0"));
/// assert!(!stackconv_columnar::looks_like_arrow(b"ARROW"));
/// ```
pub fn looks_like_arrow(data: &[u8]) -> bool {
    data.starts_with(b"ARROW1")
}

/// Check what a Parquet footer claims before the parquet reader relies on
/// it: every row group's row count non-negative and their sum within
/// `i64` (parquet 60 adds them unchecked), every column chunk's bytes
/// inside the file.
fn check_parquet_claims(
    data: &[u8],
    footer_at: usize,
    metadata: &parquet::file::metadata::ParquetMetaData,
) -> Result<Vec<(usize, usize)>, Error> {
    let mut chunks = Vec::new();
    let mut rows: i64 = 0;
    for (index, group) in metadata.row_groups().iter().enumerate() {
        let claim = |what: String| Error::FooterClaim {
            footer_at,
            row_group: index,
            what,
        };
        rows = u64::try_from(group.num_rows())
            .ok()
            .and_then(|n| i64::try_from(n).ok())
            .and_then(|n| rows.checked_add(n))
            .ok_or_else(|| {
                claim(format!(
                    "{} rows (negative, or more than the row groups can hold together)",
                    group.num_rows()
                ))
            })?;
        for (column, chunk) in group.columns().iter().enumerate() {
            // As `byte_range()` reads them, which asserts on negatives.
            let start = chunk
                .dictionary_page_offset()
                .unwrap_or_else(|| chunk.data_page_offset());
            let len = chunk.compressed_size();
            let end = u64::try_from(start)
                .ok()
                .zip(u64::try_from(len).ok())
                .and_then(|(s, l)| s.checked_add(l));
            let inside = end.is_some_and(|end| end <= data.len() as u64);
            if let (true, Ok(start), Ok(len)) =
                (inside, usize::try_from(start), usize::try_from(len))
            {
                chunks.push((start, len));
                continue;
            }
            return Err(claim(format!(
                "column {column} at bytes {start}..{start}+{len}, outside the file of {} bytes",
                data.len()
            )));
        }
    }
    Ok(chunks)
}

/// The byte offset of a Parquet file's footer (FileMetaData): before its
/// 4-byte length and the closing `PAR1`.
fn parquet_footer_at(data: &[u8]) -> Option<usize> {
    let end = data.len().checked_sub(8)?;
    let len = data.get(end..end.checked_add(4)?)?;
    let len = u32::from_le_bytes(len.try_into().ok()?);
    end.checked_sub(usize::try_from(len).ok()?)
}

fn thrift_refused(r: crate::thrift::Refused) -> Error {
    Error::ThriftClaim {
        at: r.at,
        what: r.what,
    }
}

/// Check that every block an Arrow IPC file's footer lists lies inside the
/// file. arrow-ipc 60 allocates (zeroed) each block's claimed length
/// before reading it (`read_block`), so a footer claiming terabytes is an
/// allocation of terabytes, and a negative length a panic. A footer that
/// cannot be found or parsed is left to the arrow reader's own error.
fn check_arrow_blocks(data: &[u8]) -> Result<(), Error> {
    let Some(tail_at) = data.len().checked_sub(10) else {
        return Ok(());
    };
    let Some(tail) = data
        .get(tail_at..)
        .and_then(|t| <[u8; 10]>::try_from(t).ok())
    else {
        return Ok(());
    };
    let Ok(footer_len) = arrow_ipc::reader::read_footer_length(tail) else {
        return Ok(());
    };
    // arrow-ipc allocates the footer's claimed length before reading it.
    let Some(footer) = tail_at
        .checked_sub(footer_len)
        .and_then(|start| data.get(start..tail_at))
    else {
        return Err(Error::ArrowFooterOutsideFile {
            claimed: footer_len,
            at: tail_at,
        });
    };
    let Ok(footer) = arrow_ipc::root_as_footer(footer) else {
        return Ok(());
    };
    let len = data.len();
    let inside = |b: &arrow_ipc::Block| {
        let end = u64::try_from(b.offset()).ok().and_then(|o| {
            let meta = u64::try_from(b.metaDataLength()).ok()?;
            let body = u64::try_from(b.bodyLength()).ok()?;
            o.checked_add(meta)?.checked_add(body)
        });
        end.is_some_and(|end| end <= len as u64)
    };
    let lists = [
        ("record batch", footer.recordBatches()),
        ("dictionary", footer.dictionaries()),
    ];
    for (what, blocks) in lists {
        for (index, b) in blocks.iter().flatten().enumerate() {
            if !inside(b) {
                return Err(Error::BlockOutsideFile {
                    index,
                    what,
                    offset: b.offset(),
                    claimed: i64::from(b.metaDataLength()).saturating_add(b.bodyLength()),
                    len,
                });
            }
        }
    }
    Ok(())
}

/// Read a Parquet or Arrow IPC file of the layout [`crate::Writer`]
/// writes back into one profile per input (in the order of their first
/// rows).
///
/// A file written by stackconv gives back exactly what was written: the
/// same stacks, threads and weights, the value columns' kinds and units as
/// recorded, each input's default value column and folded root frame.
/// Other files of the same columns are read too (a table rewritten by
/// DuckDB or Spark, which keep no stackconv metadata): then every Int64
/// column but the fixed ones is a value column (kind from its
/// `stackconv.kind` field metadata or its name, unit from `unit` or
/// `count`), and every other text column a label.
///
/// # Errors
///
/// [`Error::Parquet`] or [`Error::Arrow`] for a damaged file,
/// [`Error::Column`] for a missing or mistyped column or a bad row.
pub fn read(data: &[u8]) -> Result<Vec<Input>, Error> {
    let format = if looks_like_parquet(data) {
        "parquet"
    } else if looks_like_arrow(data) {
        "arrow"
    } else {
        ""
    };
    // The parquet and arrow readers check most of what a damaged file gets
    // wrong, but not all: parquet 60 panics on some corrupt definition
    // levels (arrow-buffer `BitChunks::new`, "offset + len out of
    // bounds"), found by flipping bytes of our own files
    // (tests/roundtrip.rs). Such a panic is this input's error, not the
    // end of the program.
    let decode = || match format {
        "parquet" => read_parquet(data),
        "arrow" => read_arrow(data),
        _ => Err(Error::NotATable),
    };
    let was_reading = READING.with(|r| r.replace(true));
    let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(decode));
    READING.with(|r| r.set(was_reading));
    match caught {
        Ok(result) => result,
        Err(panic) => Err(Error::Damaged {
            format,
            what: panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_default(),
        }),
    }
}

fn read_parquet(data: &[u8]) -> Result<Vec<Input>, Error> {
    let footer_at = parquet_footer_at(data);
    if let Some(start) = footer_at {
        let end = data.len().saturating_sub(8);
        crate::thrift::check_footer(data, start, end).map_err(thrift_refused)?;
    }
    let builder = ParquetRecordBatchReaderBuilder::try_new(Bytes::copy_from_slice(data))?;
    let chunks = check_parquet_claims(data, footer_at.unwrap_or(0), builder.metadata())?;
    crate::thrift::check_pages(data, &chunks).map_err(thrift_refused)?;
    let inputs = builder
        .metadata()
        .file_metadata()
        .key_value_metadata()
        .and_then(|kv| kv.iter().find(|kv| kv.key == INPUTS_KEY))
        .and_then(|kv| kv.value.clone());
    let mut tables = Tables::new(builder.schema(), inputs.as_deref(), "parquet")?;
    for batch in builder.build()? {
        tables.add(&batch?)?;
    }
    Ok(tables.finish())
}

fn read_arrow(data: &[u8]) -> Result<Vec<Input>, Error> {
    check_arrow_blocks(data)?;
    let reader = arrow_ipc::reader::FileReader::try_new(Cursor::new(data), None)?;
    let inputs = reader.custom_metadata().get(INPUTS_KEY).cloned();
    let mut tables = Tables::new(&reader.schema(), inputs.as_deref(), "arrow")?;
    for batch in reader {
        tables.add(&batch?)?;
    }
    Ok(tables.finish())
}

/// Where the columns are, by kind.
struct Layout {
    input: usize,
    pid: Option<usize>,
    tid: Option<usize>,
    process_name: Option<usize>,
    thread_name: Option<usize>,
    stack: usize,
    labels: Vec<(String, usize)>,
    /// Name, value type (from the field), index.
    values: Vec<(String, ValueType, usize)>,
    ignored: Vec<String>,
}

/// One input being read.
struct Reading {
    source: Source,
    profile: Profile,
    cache: StackCache,
    /// The schema index of each of the profile's value columns.
    values: Vec<Option<usize>>,
    /// Per value column, the magnitudes of its values so far: kept within
    /// 2^63-1 (the rule of `Profile::checked_total`), so that every sum of
    /// some of them fits.
    magnitudes: Vec<u64>,
}

struct Tables {
    format: &'static str,
    layout: Layout,
    meta: HashMap<String, InputMeta>,
    by_path: HashMap<String, usize>,
    inputs: Vec<Reading>,
    row: u64,
}

impl Tables {
    fn new(schema: &Schema, inputs: Option<&str>, format: &'static str) -> Result<Tables, Error> {
        let column = |name: &str, what: &str| Error::Column {
            format,
            column: name.to_string(),
            what: what.to_string(),
        };
        let find = |name: &str, want: &DataType| -> Result<Option<usize>, Error> {
            match schema.index_of(name) {
                Err(_) => Ok(None),
                Ok(i) if schema.field(i).data_type() == want => Ok(Some(i)),
                Ok(i) => Err(column(
                    name,
                    &format!("{} expected, found {}", want, schema.field(i).data_type()),
                )),
            }
        };
        let input = find(INPUT, &DataType::Utf8)?.ok_or_else(|| column(INPUT, "missing"))?;
        let stack = schema
            .index_of(STACK)
            .map_err(|_| column(STACK, "missing"))?;
        match schema.field(stack).data_type() {
            DataType::List(item) if matches!(item.data_type(), DataType::Struct(_)) => {}
            other => {
                return Err(column(
                    STACK,
                    &format!("a list of frame structs expected, found {other}"),
                ))
            }
        }
        let mut layout = Layout {
            input,
            pid: find(PID, &DataType::UInt32)?,
            tid: find(TID, &DataType::UInt32)?,
            process_name: find(PROCESS_NAME, &DataType::Utf8)?,
            thread_name: find(THREAD_NAME, &DataType::Utf8)?,
            stack,
            labels: Vec::new(),
            values: Vec::new(),
            ignored: Vec::new(),
        };
        for (i, field) in schema.fields().iter().enumerate() {
            let name = field.name();
            if crate::schema::FIXED_COLUMNS.contains(&name.as_str()) {
                continue;
            }
            match field.data_type() {
                DataType::Utf8 => layout.labels.push((name.clone(), i)),
                DataType::Int64 => {
                    let meta = field.metadata();
                    let kind = meta.get(KIND_KEY).unwrap_or(name).clone();
                    let unit = meta.get(UNIT_KEY).map_or("count", |u| u.as_str());
                    layout
                        .values
                        .push((name.clone(), ValueType::new(kind, unit), i));
                }
                other => layout.ignored.push(format!("{name} ({other})")),
            }
        }
        let meta: Vec<InputMeta> = match inputs {
            Some(json) => serde_json::from_str(json).map_err(|source| Error::Metadata {
                format,
                key: INPUTS_KEY,
                source,
            })?,
            None => Vec::new(),
        };
        Ok(Tables {
            format,
            layout,
            meta: meta.into_iter().map(|m| (m.path.clone(), m)).collect(),
            by_path: HashMap::new(),
            inputs: Vec::new(),
            row: 0,
        })
    }

    /// The reading of the input `path`, begun with the labels of row `i`.
    fn input_for(&mut self, path: &str, batch: &RecordBatch, i: usize) -> Result<usize, Error> {
        if let Some(&n) = self.by_path.get(path) {
            return Ok(n);
        }
        let mut labels = Vec::new();
        for (key, c) in &self.layout.labels {
            let array = batch.column(*c).as_string::<i32>();
            if array.is_valid(i) {
                labels.push((key.clone(), array.value(i).to_string()));
            }
        }
        let source = Source {
            path: path.to_string(),
            labels,
        };
        let reading = match self.meta.get(path) {
            Some(m) => {
                let mut values = Vec::with_capacity(m.value_types.len());
                let mut types = Vec::with_capacity(m.value_types.len());
                for c in &m.value_types {
                    let at = self.layout.values.iter().find(|(n, _, _)| *n == c.column);
                    values.push(at.map(|(_, _, i)| *i));
                    types.push(ValueType::new(c.kind.clone(), c.unit.clone()));
                }
                let mut profile = Profile::new(types);
                let meta = profile.meta_mut();
                meta.comm_root = m.comm_root;
                meta.default_value = m
                    .default_value
                    .as_ref()
                    .and_then(|d| m.value_types.iter().position(|c| &c.column == d))
                    .unwrap_or(0);
                meta.events.clone_from(&m.events);
                meta.start_time_ns = m.start_time_ns;
                meta.duration_ns = m.duration_ns;
                for (what, count) in &m.losses {
                    meta.add_loss(what, *count);
                }
                Reading {
                    source,
                    profile,
                    cache: StackCache::default(),
                    values,
                    magnitudes: Vec::new(),
                }
            }
            None => Reading {
                source,
                profile: Profile::new(
                    self.layout
                        .values
                        .iter()
                        .map(|(_, vt, _)| vt.clone())
                        .collect(),
                ),
                cache: StackCache::default(),
                magnitudes: Vec::new(),
                values: self
                    .layout
                    .values
                    .iter()
                    .map(|(_, _, i)| Some(*i))
                    .collect(),
            },
        };
        let n = self.inputs.len();
        self.inputs.push(reading);
        self.by_path.insert(path.to_string(), n);
        Ok(n)
    }

    fn add(&mut self, batch: &RecordBatch) -> Result<(), Error> {
        let format = self.format;
        let bad_row = |row: u64, what: String| Error::Column {
            format,
            column: STACK.to_string(),
            what: format!("row {row}: {what}"),
        };
        let strings = |c: Option<usize>| c.map(|c| batch.column(c).as_string::<i32>());
        let uints = |c: Option<usize>| c.map(|c| batch.column(c).as_primitive::<UInt32Type>());
        let input = batch.column(self.layout.input).as_string::<i32>();
        let (pid, tid) = (uints(self.layout.pid), uints(self.layout.tid));
        let process_name = strings(self.layout.process_name);
        let thread_name = strings(self.layout.thread_name);
        let stacks: &ListArray = batch.column(self.layout.stack).as_list::<i32>();
        let frames: &StructArray = stacks.values().as_struct();
        let part = |name: &str| frames.column_by_name(name);
        let text = |name: &str| -> Result<Option<&GenericStringArray<i32>>, Error> {
            match part(name) {
                None => Ok(None),
                Some(a) => a
                    .as_string_opt::<i32>()
                    .map(Some)
                    .ok_or_else(|| Error::Column {
                        format,
                        column: format!("{STACK}.{name}"),
                        what: format!("utf8 expected, found {}", a.data_type()),
                    }),
            }
        };
        let name = text("name")?.ok_or_else(|| Error::Column {
            format,
            column: format!("{STACK}.name"),
            what: "missing".to_string(),
        })?;
        let (module, file, kind) = (text("module")?, text("file")?, text("kind")?);
        let line: Option<&PrimitiveArray<UInt32Type>> = match part("line") {
            None => None,
            Some(a) => Some(
                a.as_primitive_opt::<UInt32Type>()
                    .ok_or_else(|| Error::Column {
                        format,
                        column: format!("{STACK}.line"),
                        what: format!("uint32 expected, found {}", a.data_type()),
                    })?,
            ),
        };
        let opt_str = |a: Option<&GenericStringArray<i32>>, i: usize| -> String {
            a.filter(|a| a.is_valid(i))
                .map_or(String::new(), |a| a.value(i).to_string())
        };
        let mut frame_ids: Vec<FrameId> = Vec::new();
        let mut values: Vec<i64> = Vec::new();
        for i in 0..batch.num_rows() {
            let row = self.row;
            self.row = self.row.saturating_add(1);
            let path = if input.is_valid(i) {
                input.value(i)
            } else {
                ""
            };
            let n = self.input_for(path, batch, i)?;
            let Some(reading) = self.inputs.get_mut(n) else {
                continue;
            };
            let p = &mut reading.profile;
            let uint = |a: Option<&PrimitiveArray<UInt32Type>>| {
                a.filter(|a| a.is_valid(i)).map(|a| a.value(i))
            };
            let thread = p.intern_thread_named(
                uint(pid),
                uint(tid),
                &opt_str(process_name, i),
                &opt_str(thread_name, i),
            );
            frame_ids.clear();
            if stacks.is_valid(i) {
                let offsets = stacks.value_offsets();
                let (start, end) = match (offsets.get(i), offsets.get(i + 1)) {
                    (Some(&s), Some(&e)) => (s, e),
                    _ => return Err(bad_row(row, "no stack offsets".to_string())),
                };
                let range = usize::try_from(start).unwrap_or(0)..usize::try_from(end).unwrap_or(0);
                for j in range {
                    if !name.is_valid(j) {
                        return Err(bad_row(row, "a frame without a name".to_string()));
                    }
                    let kind_name = opt_str(kind, j);
                    let frame_kind = if kind_name.is_empty() {
                        FrameKind::Unknown
                    } else {
                        FrameKind::from_name(&kind_name).ok_or_else(|| {
                            bad_row(
                                row,
                                format!(
                                    "frame kind {kind_name:?} is none of {}",
                                    FrameKind::ALL.map(FrameKind::as_str).join(", ")
                                ),
                            )
                        })?
                    };
                    let frame = Frame {
                        name: p.intern_str(name.value(j)),
                        module: p.intern_str(&opt_str(module, j)),
                        file: p.intern_str(&opt_str(file, j)),
                        line: line.filter(|l| l.is_valid(j)).map_or(0, |l| l.value(j)),
                        kind: frame_kind,
                    };
                    frame_ids.push(p.intern_frame(frame));
                }
            }
            let stack = p.intern_stack_cached(&mut reading.cache, &frame_ids);
            values.clear();
            for c in &reading.values {
                let v = c
                    .map(|c| batch.column(c).as_primitive::<Int64Type>())
                    .filter(|a| a.is_valid(i))
                    .map_or(0, |a| a.value(i));
                values.push(v);
            }
            reading.magnitudes.resize(values.len(), 0);
            for (c, (&v, m)) in values.iter().zip(reading.magnitudes.iter_mut()).enumerate() {
                match m
                    .checked_add(v.unsigned_abs())
                    .filter(|&t| i64::try_from(t).is_ok())
                {
                    Some(t) => *m = t,
                    None => {
                        return Err(Error::Column {
                            format,
                            column: p
                                .value_types()
                                .get(c)
                                .map(|vt| vt.kind.clone())
                                .unwrap_or_default(),
                            what: format!(
                                "row {row}: the values of input {path:?} add up past 2^63-1"
                            ),
                        })
                    }
                }
            }
            p.push_sample(stack, thread, None, &values);
        }
        Ok(())
    }

    fn finish(self) -> Vec<Input> {
        let ignored = self.layout.ignored;
        let format = self.format;
        self.inputs
            .into_iter()
            .map(|mut r| {
                r.profile.meta_mut().source_format = format.to_string();
                if !ignored.is_empty() {
                    r.profile.meta_mut().warnings.push(format!(
                        "{format}: columns of no stackconv type ignored: {}",
                        ignored.join(", ")
                    ));
                }
                Input {
                    source: r.source,
                    profile: r.profile,
                }
            })
            .collect()
    }
}
