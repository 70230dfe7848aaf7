//! The table's columns: their names, types and metadata, in one place for
//! the writer and the reader.

use std::collections::HashMap;
use std::sync::Arc;

use arrow_schema::{DataType, Field, Fields, Schema, SchemaRef};
use stackconv_model::naming::event_base_name;
use stackconv_model::ValueType;

/// The input's path.
pub const INPUT: &str = "input";
/// Process id.
pub const PID: &str = "pid";
/// Thread id.
pub const TID: &str = "tid";
/// The process's name.
pub const PROCESS_NAME: &str = "process_name";
/// The thread's name (its comm).
pub const THREAD_NAME: &str = "thread_name";
/// The leaf function's name.
pub const LEAF: &str = "leaf";
/// The stack, root first.
pub const STACK: &str = "stack";

/// The columns every table has, whatever its labels and value columns; no
/// label and no value column takes one of these names.
pub const FIXED_COLUMNS: [&str; 7] = [INPUT, PID, TID, PROCESS_NAME, THREAD_NAME, LEAF, STACK];

/// Field metadata key of a value column: its unit as the model has it
/// (`nanoseconds`, `count`, `bytes`).
pub const UNIT_KEY: &str = "unit";
/// Field metadata key of a value column: its kind exactly as recorded
/// (`cpu-clock/freq=99/`, `alloc_space`).
pub const KIND_KEY: &str = "stackconv.kind";
/// Schema metadata key: the version of this table layout.
pub const VERSION_KEY: &str = "stackconv.table";
/// The version written.
pub const VERSION: &str = "1";
/// File metadata key: the inputs' own meta data (a JSON array, one object per input).
pub const INPUTS_KEY: &str = "stackconv.inputs";

/// The name of the Int64 column of a value type: the event's base name as
/// a user types it (modifiers and terms dropped, as
/// [`event_base_name`] defines), lowercased, every run of other
/// characters than ASCII letters and digits made one `_`, and a suffix for
/// the unit: `_ns` nanoseconds, `_us` microseconds, `_ms` milliseconds,
/// `_s` seconds, `_bytes` bytes, none for a count (or no unit), else `_`
/// and the unit spelt the same way. A name that would clash with a fixed
/// column gets `_value` after it; names made equal by these rules get
/// `_2`, `_3`, ... in the order of the columns ([`value_column_names`]).
///
/// ```
/// use stackconv_columnar::value_column_name;
/// use stackconv_model::ValueType;
///
/// assert_eq!(value_column_name(&ValueType::new("cpu", "nanoseconds")), "cpu_ns");
/// assert_eq!(value_column_name(&ValueType::new("cpu-clock/freq=99/", "nanoseconds")), "cpu_clock_ns");
/// assert_eq!(value_column_name(&ValueType::new("samples", "count")), "samples");
/// assert_eq!(value_column_name(&ValueType::new("sched:sched_switch", "count")), "sched_sched_switch");
/// assert_eq!(value_column_name(&ValueType::new("alloc_space", "bytes")), "alloc_space_bytes");
/// ```
pub fn value_column_name(vt: &ValueType) -> String {
    let mut name = snake(event_base_name(&vt.kind));
    if name.is_empty() {
        name.push_str("value");
    }
    if name.starts_with(|c: char| c.is_ascii_digit()) {
        name.insert_str(0, "v_");
    }
    let suffix = match vt.unit.as_str() {
        "nanoseconds" => "ns".to_string(),
        "microseconds" => "us".to_string(),
        "milliseconds" => "ms".to_string(),
        "seconds" => "s".to_string(),
        "bytes" => "bytes".to_string(),
        "count" | "" => String::new(),
        other => snake(other),
    };
    if !suffix.is_empty() && !name.ends_with(&format!("_{suffix}")) {
        name.push('_');
        name.push_str(&suffix);
    }
    if FIXED_COLUMNS.contains(&name.as_str()) {
        name.push_str("_value");
    }
    name
}

/// The column names of `value_types`, in order: [`value_column_name`] of
/// each, made unique with `_2`, `_3`, ...
///
/// ```
/// use stackconv_columnar::value_column_names;
/// use stackconv_model::ValueType;
///
/// let names = value_column_names(&[
///     ValueType::new("cycles:u", "count"),
///     ValueType::new("cycles:k", "count"),
/// ]);
/// assert_eq!(names, ["cycles", "cycles_2"]);
/// ```
pub fn value_column_names(value_types: &[ValueType]) -> Vec<String> {
    let mut names: Vec<String> = Vec::with_capacity(value_types.len());
    for vt in value_types {
        let base = value_column_name(vt);
        let mut name = base.clone();
        let mut n = 1;
        while names.contains(&name) {
            n += 1;
            name = format!("{base}_{n}");
        }
        names.push(name);
    }
    names
}

/// `s` lowercased, each run of characters other than ASCII letters and
/// digits one `_`, no `_` at either end.
fn snake(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.is_empty() && !out.ends_with('_') {
            out.push('_');
        }
    }
    while out.ends_with('_') {
        out.pop();
    }
    out
}

/// One value column of a table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct ValueColumn {
    pub name: String,
    pub value_type: ValueType,
}

/// The struct of one frame in the `stack` list.
pub(crate) fn frame_fields() -> Fields {
    Fields::from(vec![
        Field::new("name", DataType::Utf8, false),
        Field::new("module", DataType::Utf8, true),
        Field::new("file", DataType::Utf8, true),
        Field::new("line", DataType::UInt32, true),
        Field::new("kind", DataType::Utf8, false),
    ])
}

/// The list item of the `stack` column.
pub(crate) fn stack_item() -> Arc<Field> {
    Arc::new(Field::new("item", DataType::Struct(frame_fields()), false))
}

/// The schema of a table with these labels and value columns.
pub(crate) fn schema(label_keys: &[String], values: &[ValueColumn]) -> SchemaRef {
    let mut fields = vec![Field::new(INPUT, DataType::Utf8, false)];
    fields.extend(
        label_keys
            .iter()
            .map(|k| Field::new(k.as_str(), DataType::Utf8, true)),
    );
    fields.extend([
        Field::new(PID, DataType::UInt32, true),
        Field::new(TID, DataType::UInt32, true),
        Field::new(PROCESS_NAME, DataType::Utf8, true),
        Field::new(THREAD_NAME, DataType::Utf8, true),
        Field::new(LEAF, DataType::Utf8, true),
    ]);
    fields.extend(values.iter().map(|v| {
        Field::new(v.name.as_str(), DataType::Int64, true).with_metadata(HashMap::from([
            (UNIT_KEY.to_string(), v.value_type.unit.clone()),
            (KIND_KEY.to_string(), v.value_type.kind.clone()),
        ]))
    }));
    fields.push(Field::new(STACK, DataType::List(stack_item()), false));
    Arc::new(Schema::new_with_metadata(
        fields,
        HashMap::from([(VERSION_KEY.to_string(), VERSION.to_string())]),
    ))
}
