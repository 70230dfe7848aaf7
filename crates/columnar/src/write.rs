//! Profiles to Arrow record batches, and batches to Parquet or Arrow IPC.

use std::io::Write;
use std::sync::{Arc, Mutex};

use arrow_array::builder::{Int64Builder, StringBuilder, UInt32Builder};
use arrow_array::{ArrayRef, ListArray, RecordBatch, StructArray};
use arrow_buffer::OffsetBuffer;
use arrow_schema::SchemaRef;
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::metadata::KeyValue;
use parquet::file::properties::{EnabledStatistics, WriterProperties};
use parquet::schema::types::ColumnPath;
use serde::{Deserialize, Serialize};
use stackconv_model::{Profile, ValueType};

use crate::schema::{
    frame_fields, schema, stack_item, value_column_names, ValueColumn, FIXED_COLUMNS, INPUTS_KEY,
};
use crate::{Error, Format, Source};

/// What a table keeps of each input's [`stackconv_model::Meta`], in the
/// file's metadata under [`crate::schema::INPUTS_KEY`], so that reading
/// the file back gives the same profile (value kinds exactly as recorded,
/// the folded root frame, the default value column).
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub(crate) struct InputMeta {
    pub path: String,
    #[serde(default)]
    pub source_format: String,
    #[serde(default)]
    pub comm_root: bool,
    /// The column name of the default value.
    #[serde(default)]
    pub default_value: Option<String>,
    #[serde(default)]
    pub events: Vec<String>,
    #[serde(default)]
    pub start_time_ns: Option<u64>,
    #[serde(default)]
    pub duration_ns: Option<u64>,
    /// The input's own value columns, in its order.
    #[serde(default)]
    pub value_types: Vec<ColumnMeta>,
    #[serde(default)]
    pub losses: Vec<(String, u64)>,
}

/// One value column of one input.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub(crate) struct ColumnMeta {
    pub column: String,
    pub kind: String,
    pub unit: String,
}

impl InputMeta {
    fn of(profile: &Profile, source: &Source) -> InputMeta {
        let names = value_column_names(profile.value_types());
        let meta = &profile.meta();
        InputMeta {
            path: source.path.clone(),
            source_format: meta.source_format.clone(),
            comm_root: meta.comm_root,
            default_value: names.get(meta.default_value).cloned(),
            events: meta.events.clone(),
            start_time_ns: meta.start_time_ns,
            duration_ns: meta.duration_ns,
            value_types: names
                .into_iter()
                .zip(profile.value_types())
                .map(|(column, vt)| ColumnMeta {
                    column,
                    kind: vt.kind.clone(),
                    unit: vt.unit.clone(),
                })
                .collect(),
            losses: meta
                .losses
                .iter()
                .map(|l| (l.what.clone(), l.count))
                .collect(),
        }
    }
}

/// Where the Parquet writer writes: bytes held until a row group is
/// complete, then moved to the real output. The parquet crate's writer
/// wants a `Send` output; this lets any `Write` (a locked standard output,
/// `&mut dyn Write`) take the file, holding one row group at a time.
#[derive(Clone, Default)]
struct Spool(Arc<Mutex<Vec<u8>>>);

impl Write for Spool {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .map_err(|_| std::io::Error::other("parquet spool poisoned"))?
            .extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Spool {
    /// Move the bytes held so far to `out`.
    fn drain(&self, out: &mut impl Write) -> std::io::Result<()> {
        let mut held = self
            .0
            .lock()
            .map_err(|_| std::io::Error::other("parquet spool poisoned"))?;
        out.write_all(&held)?;
        held.clear();
        Ok(())
    }
}

enum Sink<W: Write> {
    Parquet {
        writer: Box<ArrowWriter<Spool>>,
        spool: Spool,
        out: W,
    },
    Arrow(Box<arrow_ipc::writer::FileWriter<W>>),
}

/// Writes profiles, one input at a time, to one Parquet or Arrow IPC file:
/// each input is one row group (Parquet; more when it has over a million
/// rows) or one record batch (Arrow), so memory holds one input's rows at a
/// time, never the whole table.
///
/// The columns are fixed when the writer is made: the label keys, and the
/// value columns (of the first input, by [`crate::value_column_names`]).
/// A later input may lack value columns (null in its rows) or labels (null),
/// but may not bring new ones ([`Error::NewValueColumn`], [`Error::Label`]).
///
/// ```
/// use stackconv_columnar::{read, Format, Source, Writer};
/// use stackconv_model::{FrameKind, Profile, ValueType};
///
/// let mut p = Profile::new(vec![ValueType::new("cpu", "nanoseconds")]);
/// let main = p.intern_frame_named("main", FrameKind::Native);
/// let work = p.intern_frame_named("work", FrameKind::Native);
/// let stack = p.intern_stack_frames([main, work]);
/// let thread = p.intern_thread_named(Some(7), Some(7), "app", "app");
/// p.push_sample(stack, thread, None, &[10_000_000]);
///
/// let keys = ["host".to_string()];
/// let mut w = Writer::new(Format::Parquet, Vec::new(), &keys, p.value_types())?;
/// w.write(&p, &Source::new("a/perf.data").with_label("host", "a"))?;
/// w.write(&p, &Source::new("b/perf.data").with_label("host", "b"))?;
/// let bytes = w.finish()?;
///
/// let inputs = read(&bytes)?;
/// assert_eq!(inputs.len(), 2);
/// assert_eq!(inputs[1].source.labels, [("host".to_string(), "b".to_string())]);
/// assert_eq!(inputs[1].profile.total(0), 10_000_000);
/// # Ok::<(), stackconv_columnar::Error>(())
/// ```
pub struct Writer<W: Write> {
    sink: Sink<W>,
    schema: SchemaRef,
    label_keys: Vec<String>,
    values: Vec<ValueColumn>,
    inputs: Vec<InputMeta>,
}

impl<W: Write> Writer<W> {
    /// A table written to `out` as `format`, with one nullable text column
    /// per label key (in this order) and one value column per value type
    /// (named by [`crate::value_column_names`]).
    ///
    /// # Errors
    ///
    /// [`Error::Label`] for a label key given twice, or that is the name of
    /// a fixed column or of a value column; the writer's error.
    pub fn new(
        format: Format,
        out: W,
        label_keys: &[String],
        value_types: &[ValueType],
    ) -> Result<Self, Error> {
        let values: Vec<ValueColumn> = value_column_names(value_types)
            .into_iter()
            .zip(value_types)
            .map(|(name, vt)| ValueColumn {
                name,
                value_type: vt.clone(),
            })
            .collect();
        for (i, key) in label_keys.iter().enumerate() {
            let clash = if label_keys.get(..i).is_some_and(|k| k.contains(key)) {
                Some("given twice".to_string())
            } else if FIXED_COLUMNS.contains(&key.as_str()) {
                Some(format!(
                    "is the name of a column every table has ({})",
                    FIXED_COLUMNS.join(", ")
                ))
            } else if values.iter().any(|v| &v.name == key) {
                Some("is the name of a value column".to_string())
            } else if key.is_empty() {
                Some("is empty".to_string())
            } else {
                None
            };
            if let Some(what) = clash {
                return Err(Error::Label {
                    key: key.clone(),
                    what,
                });
            }
        }
        let schema = schema(label_keys, &values);
        let sink = match format {
            Format::Parquet => {
                // Statistics per column chunk, not per page, and none for
                // the frames of `stack`: the writer holds every row group's
                // metadata until the footer is written, so these set how
                // much memory each input adds (measured by
                // scripts/fleet.sh); chunk statistics of `input`, the
                // labels, `leaf` and the values still let engines skip row
                // groups.
                let frames = ["name", "module", "file", "line", "kind"];
                let props = frames
                    .iter()
                    .fold(WriterProperties::builder(), |b, f| {
                        b.set_column_statistics_enabled(
                            ColumnPath::new(vec![
                                crate::schema::STACK.to_string(),
                                "list".to_string(),
                                "item".to_string(),
                                (*f).to_string(),
                            ]),
                            EnabledStatistics::None,
                        )
                    })
                    .set_statistics_enabled(EnabledStatistics::Chunk)
                    .set_compression(Compression::ZSTD(ZstdLevel::default()))
                    .set_created_by(format!("stackconv {}", env!("CARGO_PKG_VERSION")))
                    .build();
                let spool = Spool::default();
                let writer = ArrowWriter::try_new(spool.clone(), Arc::clone(&schema), Some(props))?;
                Sink::Parquet {
                    writer: Box::new(writer),
                    spool,
                    out,
                }
            }
            Format::Arrow => Sink::Arrow(Box::new(arrow_ipc::writer::FileWriter::try_new(
                out, &schema,
            )?)),
        };
        Ok(Writer {
            sink,
            schema,
            label_keys: label_keys.to_vec(),
            values,
            inputs: Vec::new(),
        })
    }

    /// Append the rows of `profile`, labelled by `source`: one row per
    /// sample (a folded profile has one per thread and stack).
    ///
    /// # Errors
    ///
    /// [`Error::NewValueColumn`], [`Error::Label`], the writer's error.
    pub fn write(&mut self, profile: &Profile, source: &Source) -> Result<(), Error> {
        let batch = batch(
            &self.schema,
            &self.label_keys,
            &self.values,
            profile,
            source,
        )?;
        match &mut self.sink {
            Sink::Parquet { writer, spool, out } => {
                writer.write(&batch)?;
                // One row group per input, out of memory once written.
                writer.flush()?;
                spool.drain(out)?;
            }
            Sink::Arrow(w) => w.write(&batch)?,
        }
        self.inputs.push(InputMeta::of(profile, source));
        Ok(())
    }

    /// Finish the file (its footer, with every input's meta data) and give
    /// back the writer.
    ///
    /// # Errors
    ///
    /// The writer's error.
    pub fn finish(self) -> Result<W, Error> {
        let inputs = serde_json::to_string(&self.inputs).map_err(std::io::Error::other)?;
        match self.sink {
            Sink::Parquet {
                mut writer,
                spool,
                mut out,
            } => {
                writer.append_key_value_metadata(KeyValue::new(INPUTS_KEY.to_string(), inputs));
                writer.close()?;
                spool.drain(&mut out)?;
                Ok(out)
            }
            Sink::Arrow(mut w) => {
                w.write_metadata(INPUTS_KEY, inputs);
                w.finish()?;
                Ok(w.into_inner()?)
            }
        }
    }
}

/// The table of one profile as an Arrow record batch: the columns of
/// [`Writer`] with `source`'s label keys and `profile`'s value columns.
///
/// ```
/// use stackconv_columnar::{record_batch, Source};
/// use stackconv_model::{FrameKind, Profile, ValueType};
///
/// let mut p = Profile::new(vec![ValueType::new("samples", "count")]);
/// let f = p.intern_frame_named("main", FrameKind::Native);
/// let s = p.intern_stack_frames([f]);
/// let t = p.intern_thread(Default::default());
/// p.push_sample(s, t, None, &[3]);
/// let batch = record_batch(&p, &Source::new("x.folded").with_label("service", "api"))?;
/// assert_eq!(batch.num_rows(), 1);
/// assert!(batch.schema().field_with_name("service").is_ok());
/// assert!(batch.schema().field_with_name("samples").is_ok());
/// # Ok::<(), stackconv_columnar::Error>(())
/// ```
///
/// # Errors
///
/// [`Error::Label`] for a label key that is a column's name.
pub fn record_batch(profile: &Profile, source: &Source) -> Result<RecordBatch, Error> {
    let keys: Vec<String> = source.labels.iter().map(|(k, _)| k.clone()).collect();
    let w = Writer::new(Format::Arrow, std::io::sink(), &keys, profile.value_types())?;
    batch(&w.schema, &w.label_keys, &w.values, profile, source)
}

fn batch(
    schema: &SchemaRef,
    label_keys: &[String],
    values: &[ValueColumn],
    profile: &Profile,
    source: &Source,
) -> Result<RecordBatch, Error> {
    // Where each of the table's value columns comes from in this profile.
    let mut from: Vec<Option<usize>> = vec![None; values.len()];
    for (c, (name, vt)) in value_column_names(profile.value_types())
        .into_iter()
        .zip(profile.value_types())
        .enumerate()
    {
        let slot = values
            .iter()
            .position(|v| v.name == name)
            .and_then(|i| from.get_mut(i));
        match slot {
            Some(slot) => *slot = Some(c),
            None => {
                return Err(Error::NewValueColumn {
                    path: source.path.clone(),
                    column: name,
                    kind: vt.kind.clone(),
                    unit: vt.unit.clone(),
                    have: values
                        .iter()
                        .map(|v| v.name.as_str())
                        .collect::<Vec<_>>()
                        .join(", "),
                })
            }
        }
    }
    for (key, _) in &source.labels {
        if !label_keys.contains(key) {
            return Err(Error::Label {
                key: key.clone(),
                what: format!(
                    "not one of the table's labels ({}), which are fixed when the table is begun",
                    label_keys.join(", ")
                ),
            });
        }
    }
    let n = profile.samples().len();
    let mut input = StringBuilder::with_capacity(n, n.saturating_mul(source.path.len()));
    let label_values: Vec<Option<&str>> = label_keys
        .iter()
        .map(|k| {
            source
                .labels
                .iter()
                .find(|(key, _)| key == k)
                .map(|(_, v)| v.as_str())
        })
        .collect();
    let mut labels: Vec<StringBuilder> = label_keys
        .iter()
        .map(|_| StringBuilder::with_capacity(n, 0))
        .collect();
    let mut pid = UInt32Builder::with_capacity(n);
    let mut tid = UInt32Builder::with_capacity(n);
    let mut process_name = StringBuilder::with_capacity(n, 0);
    let mut thread_name = StringBuilder::with_capacity(n, 0);
    let mut leaf = StringBuilder::with_capacity(n, 0);
    let mut value_builders: Vec<Int64Builder> = values
        .iter()
        .map(|_| Int64Builder::with_capacity(n))
        .collect();
    let mut offsets: Vec<i32> = Vec::with_capacity(n.saturating_add(1));
    offsets.push(0);
    let mut frames_total: i32 = 0;
    let mut name = StringBuilder::new();
    let mut module = StringBuilder::new();
    let mut file = StringBuilder::new();
    let mut line = UInt32Builder::new();
    let mut kind = StringBuilder::new();
    let non_empty = |s: &str| (!s.is_empty()).then(|| s.to_string());
    for sample in profile.iter_samples() {
        input.append_value(&source.path);
        for (b, v) in labels.iter_mut().zip(&label_values) {
            b.append_option(*v);
        }
        let thread = profile.thread(sample.thread);
        pid.append_option(thread.pid);
        tid.append_option(thread.tid);
        process_name.append_option(non_empty(profile.str(thread.process_name)));
        thread_name.append_option(non_empty(profile.str(thread.thread_name)));
        for (b, c) in value_builders.iter_mut().zip(&from) {
            b.append_option(c.and_then(|c| sample.values.get(c).copied()));
        }
        let frames = profile.stack_frames(sample.stack);
        leaf.append_option(frames.last().map(|&f| profile.frame_name(f)));
        for &f in &frames {
            let frame = profile.frame(f);
            name.append_value(profile.str(frame.name));
            module.append_option(non_empty(profile.str(frame.module)));
            file.append_option(non_empty(profile.str(frame.file)));
            line.append_option((frame.line != 0).then_some(frame.line));
            kind.append_value(frame.kind.as_str());
        }
        frames_total = i32::try_from(frames.len())
            .ok()
            .and_then(|k| frames_total.checked_add(k))
            .ok_or_else(|| Error::Column {
                format: "arrow",
                column: crate::schema::STACK.to_string(),
                what: format!(
                    "{}: more than 2^31 frames in one input's stacks",
                    source.path
                ),
            })?;
        offsets.push(frames_total);
    }
    let frames = StructArray::try_new(
        frame_fields(),
        vec![
            Arc::new(name.finish()) as ArrayRef,
            Arc::new(module.finish()),
            Arc::new(file.finish()),
            Arc::new(line.finish()),
            Arc::new(kind.finish()),
        ],
        None,
    )?;
    let stack = ListArray::try_new(
        stack_item(),
        OffsetBuffer::new(offsets.into()),
        Arc::new(frames),
        None,
    )?;
    let mut columns: Vec<ArrayRef> = vec![Arc::new(input.finish())];
    columns.extend(labels.iter_mut().map(|b| Arc::new(b.finish()) as ArrayRef));
    columns.extend([
        Arc::new(pid.finish()) as ArrayRef,
        Arc::new(tid.finish()),
        Arc::new(process_name.finish()),
        Arc::new(thread_name.finish()),
        Arc::new(leaf.finish()),
    ]);
    columns.extend(
        value_builders
            .iter_mut()
            .map(|b| Arc::new(b.finish()) as ArrayRef),
    );
    columns.push(Arc::new(stack));
    Ok(RecordBatch::try_new(Arc::clone(schema), columns)?)
}
