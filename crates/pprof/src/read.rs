//! Reading profile.proto into the sample model.

use std::borrow::Cow;
use std::collections::HashMap;
use std::io::Read;

use prost::Message;
use stackconv_model::{
    Frame, FrameId, FrameKind, Label, Meta, Module, Profile, StackId, StringId, Thread, ThreadId,
    ValueType,
};

use crate::names::{display_name, objfile_frame_name, simplify_func};
use crate::proto;
use crate::wire::{as_i64, next_field, Value};
use crate::{Error, ReadOptions};

/// The two bytes every gzip stream starts with.
pub(crate) const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];

/// Frames every input byte may expand to in the samples' stacks before the
/// reader gives up (a location with many inline lines, listed many times
/// per sample, in many samples); generous for real profiles.
const FRAMES_PER_INPUT_BYTE: u64 = 64;
/// Frames any input may expand to regardless of its size.
const FRAMES_BASE: u64 = 1 << 20;

/// Inflate `data` if it is gzipped (concatenated members too, as Go's
/// reader does), never beyond `limit` bytes.
pub(crate) fn inflate(data: &[u8], limit: u64) -> Result<Cow<'_, [u8]>, Error> {
    if !data.starts_with(&GZIP_MAGIC) {
        if u64::try_from(data.len()).unwrap_or(u64::MAX) > limit {
            return Err(Error::TooLarge { limit });
        }
        return Ok(Cow::Borrowed(data));
    }
    let mut decoder = flate2::read::MultiGzDecoder::new(data);
    let mut out = Vec::new();
    let mut chunk = vec![0u8; 64 * 1024];
    loop {
        match decoder.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => {
                let total = u64::try_from(out.len().saturating_add(n)).unwrap_or(u64::MAX);
                if total > limit {
                    return Err(Error::TooLarge { limit });
                }
                out.extend_from_slice(chunk.get(..n).unwrap_or_default());
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(source) => {
                return Err(Error::Gzip {
                    inflated: u64::try_from(out.len()).unwrap_or(u64::MAX),
                    source,
                })
            }
        }
    }
    Ok(Cow::Owned(out))
}

fn offset(o: usize) -> u64 {
    u64::try_from(o).unwrap_or(u64::MAX)
}

fn decode<M: Message + Default>(
    bytes: &[u8],
    at: usize,
    message: &'static str,
) -> Result<M, Error> {
    M::decode(bytes).map_err(|source| Error::Decode {
        offset: offset(at),
        message,
        source: Box::new(source),
    })
}

/// A location, with its lines kept in one flat vector.
struct Loc {
    mapping: Option<usize>,
    lines_start: usize,
    lines_len: usize,
}

/// What the first pass collects: every table but the samples.
#[derive(Default)]
struct Tables<'a> {
    sample_types: Vec<proto::ValueType>,
    mappings: Vec<proto::Mapping>,
    locations: Vec<(u64, proto::Location)>,
    lines: Vec<proto::Line>,
    functions: Vec<proto::Function>,
    /// Where each sample type, mapping, location and function message
    /// starts (errors name it).
    sample_type_at: Vec<u64>,
    mapping_at: Vec<u64>,
    location_at: Vec<u64>,
    function_at: Vec<u64>,
    /// Where the top-level fields that hold string indexes are.
    drop_frames_at: u64,
    keep_frames_at: u64,
    period_type_at: u64,
    default_sample_type_at: u64,
    strings: Vec<&'a [u8]>,
    drop_frames: i64,
    keep_frames: i64,
    time_nanos: i64,
    duration_nanos: i64,
    period_type: Option<proto::ValueType>,
    period: i64,
    default_sample_type: i64,
}

fn expect_varint(f: &crate::wire::Field<'_>, name: &str) -> Result<i64, Error> {
    match f.value {
        Value::Varint(v) => Ok(as_i64(v)),
        _ => Err(Error::Malformed {
            offset: offset(f.offset),
            what: format!("Profile.{name} (field {}) is not a varint", f.number),
        }),
    }
}

fn expect_bytes<'a>(f: &crate::wire::Field<'a>, name: &str) -> Result<&'a [u8], Error> {
    match f.value {
        Value::Bytes(b) => Ok(b),
        _ => Err(Error::Malformed {
            offset: offset(f.offset),
            what: format!(
                "Profile.{name} (field {}) is not length-delimited",
                f.number
            ),
        }),
    }
}

fn first_pass(buf: &[u8]) -> Result<Tables<'_>, Error> {
    let mut t = Tables::default();
    let mut pos = 0;
    while let Some(f) = next_field(buf, &mut pos)? {
        let at = f.payload_offset;
        match f.number {
            1 => {
                t.sample_types
                    .push(decode(expect_bytes(&f, "sample_type")?, at, "ValueType")?);
                t.sample_type_at.push(offset(at));
            }
            2 => {
                expect_bytes(&f, "sample")?;
            }
            3 => {
                t.mappings
                    .push(decode(expect_bytes(&f, "mapping")?, at, "Mapping")?);
                t.mapping_at.push(offset(at));
            }
            4 => {
                let mut loc: proto::Location =
                    decode(expect_bytes(&f, "location")?, at, "Location")?;
                let lines = std::mem::take(&mut loc.line);
                let start = t.lines.len();
                t.lines.extend(lines);
                // Keep the line range in `line` as a marker: (start, len).
                t.locations.push((offset(start), loc));
                t.location_at.push(offset(at));
            }
            5 => {
                t.functions
                    .push(decode(expect_bytes(&f, "function")?, at, "Function")?);
                t.function_at.push(offset(at));
            }
            6 => t.strings.push(expect_bytes(&f, "string_table")?),
            7 => {
                t.drop_frames = expect_varint(&f, "drop_frames")?;
                t.drop_frames_at = offset(f.offset);
            }
            8 => {
                t.keep_frames = expect_varint(&f, "keep_frames")?;
                t.keep_frames_at = offset(f.offset);
            }
            9 => t.time_nanos = expect_varint(&f, "time_nanos")?,
            10 => t.duration_nanos = expect_varint(&f, "duration_nanos")?,
            11 => {
                t.period_type = Some(decode(expect_bytes(&f, "period_type")?, at, "ValueType")?);
                t.period_type_at = offset(at);
            }
            12 => t.period = expect_varint(&f, "period")?,
            14 => {
                t.default_sample_type = expect_varint(&f, "default_sample_type")?;
                t.default_sample_type_at = offset(f.offset);
            }
            // comment (13), tick_unit, label_set and unknown fields: not
            // needed.
            _ => {}
        }
    }
    Ok(t)
}

/// Strings of the profile, interned into the model on demand.
struct Strings<'a> {
    raw: Vec<&'a [u8]>,
    ids: Vec<Option<StringId>>,
}

impl<'a> Strings<'a> {
    fn new(raw: Vec<&'a [u8]>) -> Self {
        let ids = vec![None; raw.len()];
        Strings { raw, ids }
    }

    /// `index`, checked; `at` is where the message holding it starts.
    fn check(&self, index: i64, at: u64, field: impl FnOnce() -> String) -> Result<usize, Error> {
        usize::try_from(index)
            .ok()
            .filter(|&i| i < self.raw.len() || i == 0)
            .ok_or_else(|| Error::StringIndex {
                offset: at,
                field: field(),
                index,
                len: self.raw.len(),
            })
    }

    /// The text of string `index` (lossily decoded), checked.
    fn text(
        &self,
        index: i64,
        at: u64,
        field: impl FnOnce() -> String,
    ) -> Result<Cow<'a, str>, Error> {
        let i = self.check(index, at, field)?;
        Ok(self
            .raw
            .get(i)
            .map(|b| String::from_utf8_lossy(b))
            .unwrap_or(Cow::Borrowed("")))
    }

    fn id(
        &mut self,
        p: &mut Profile,
        index: i64,
        at: u64,
        field: impl FnOnce() -> String,
    ) -> Result<StringId, Error> {
        let i = self.check(index, at, field)?;
        if let Some(Some(id)) = self.ids.get(i) {
            return Ok(*id);
        }
        let text = self
            .raw
            .get(i)
            .map(|b| String::from_utf8_lossy(b))
            .unwrap_or(Cow::Borrowed(""));
        let id = p.intern_str(&text);
        if let Some(slot) = self.ids.get_mut(i) {
            *slot = Some(id);
        }
        Ok(id)
    }
}

/// An index from ids to positions, rejecting 0 and duplicates.
fn id_index(
    ids: impl Iterator<Item = u64>,
    at: &[u64],
    table: &'static str,
) -> Result<HashMap<u64, usize>, Error> {
    let mut map = HashMap::new();
    for (i, id) in ids.enumerate() {
        if id == 0 || map.insert(id, i).is_some() {
            return Err(Error::BadId {
                offset: at.get(i).copied().unwrap_or(0),
                table,
                id,
            });
        }
    }
    Ok(map)
}

/// How `drop_frames` treats one location, as pprof's `Prune` computes it.
#[derive(Clone, Copy, Default)]
struct PruneMark {
    /// The whole location matches (its outermost line).
    prune: bool,
    /// Some line matches: the location ends the stack.
    beneath: bool,
    /// Lines kept: `lines[keep_from..]` (leaf-first order).
    keep_from: usize,
}

/// The labels keys that make model threads; see the crate docs.
pub(crate) fn thread_from_labels(p: &Profile, labels: &[Label]) -> Thread {
    let mut t = Thread::default();
    let mut thread_str = StringId::EMPTY;
    let num_of = |l: &Label| -> Option<u32> {
        if l.str.is_empty() {
            u32::try_from(l.num).ok()
        } else {
            p.str(l.str).trim().parse().ok()
        }
    };
    for l in labels {
        match p.str(l.key) {
            "pid" | "process_id" => t.pid = num_of(l).or(t.pid),
            "tid" | "thread_id" => t.tid = num_of(l).or(t.tid),
            "thread" => match num_of(l) {
                Some(n) => t.tid = Some(n),
                None if !l.str.is_empty() => thread_str = l.str,
                None => {}
            },
            "thread_name" if !l.str.is_empty() => t.thread_name = l.str,
            "process_name" if !l.str.is_empty() => t.process_name = l.str,
            _ => {}
        }
    }
    if t.thread_name.is_empty() {
        t.thread_name = thread_str;
    }
    t
}

fn frame_kind_for(name: &str, module: &str) -> FrameKind {
    let base = module.rsplit('/').next().unwrap_or(module);
    if name.starts_with('[') && name.ends_with(']') {
        // `[unknown]`, `[libc.so.6]`: unsymbolized, as perf tools name them.
        FrameKind::Unknown
    } else if module.starts_with("[kernel") || module == "[vmlinux]" || module.starts_with("[vdso")
    {
        if module.starts_with("[vdso") {
            FrameKind::Native
        } else {
            FrameKind::Kernel
        }
    } else if name.starts_with(stackconv_model::naming::PYTHON_PERF_MAP_PREFIX) {
        FrameKind::Python
    } else if (base.starts_with("perf-") && base.ends_with(".map"))
        || (base.starts_with("jit-") && base.ends_with(".dump"))
    {
        FrameKind::Jit
    } else {
        FrameKind::Native
    }
}

fn compile_frames_regex(
    strings: &Strings<'_>,
    index: i64,
    at: u64,
    what: &str,
    meta: &mut Meta,
) -> Result<Option<regex::Regex>, Error> {
    if index == 0 {
        return Ok(None);
    }
    let text = strings.text(index, at, || format!("Profile.{what}"))?;
    if text.is_empty() {
        return Ok(None);
    }
    // pprof compiles "^(" + re + ")$" and, when that fails, ignores
    // drop_frames (RemoveUninteresting's error is not checked by the
    // driver); we warn.
    match regex::RegexBuilder::new(&format!("^({text})$"))
        .size_limit(1 << 22)
        .build()
    {
        Ok(r) => Ok(Some(r)),
        Err(e) => {
            meta.warnings.push(format!(
                "pprof: {what} regexp {text:?} does not compile, not applied: {e}"
            ));
            Ok(None)
        }
    }
}

/// Read an inflated profile.proto.
pub(crate) fn read_plain(buf: &[u8]) -> Result<Profile, Error> {
    let t = first_pass(buf)?;
    let mut strings = Strings::new(t.strings);

    // Value columns.
    let mut value_types = Vec::with_capacity(t.sample_types.len());
    for (i, (st, &at)) in t.sample_types.iter().zip(&t.sample_type_at).enumerate() {
        let kind = strings.text(st.r#type, at, || format!("sample_type {i} type"))?;
        let unit = strings.text(st.unit, at, || format!("sample_type {i} unit"))?;
        value_types.push(ValueType::new(kind, unit));
    }
    let mut p = Profile::new(value_types);
    p.meta_mut().source_format = "pprof".to_string();
    p.meta_mut().comm_root = false;
    p.meta_mut().events = p.value_types().iter().map(|v| v.kind.clone()).collect();
    let default_type = strings.text(t.default_sample_type, t.default_sample_type_at, || {
        "Profile.default_sample_type".to_string()
    })?;
    p.meta_mut().default_value = if default_type.is_empty() {
        None
    } else {
        p.value_types().iter().position(|v| v.kind == default_type)
    }
    .unwrap_or_else(|| p.value_types().len().saturating_sub(1));
    if t.period != 0 || t.period_type.is_some() {
        let pt = t.period_type.unwrap_or_default();
        let at = t.period_type_at;
        let kind = strings.text(pt.r#type, at, || "period_type type".to_string())?;
        let unit = strings.text(pt.unit, at, || "period_type unit".to_string())?;
        p.meta_mut().period = Some((ValueType::new(kind, unit), t.period));
    }
    p.meta_mut().start_time_ns = u64::try_from(t.time_nanos).ok().filter(|&v| v > 0);
    p.meta_mut().duration_ns = u64::try_from(t.duration_nanos).ok().filter(|&v| v > 0);

    // Mappings: module names and meta.modules.
    let mapping_index = id_index(t.mappings.iter().map(|m| m.id), &t.mapping_at, "mapping")?;
    let mut mapping_file = Vec::with_capacity(t.mappings.len());
    let mut seen_modules: std::collections::HashSet<(StringId, StringId)> =
        std::collections::HashSet::new();
    for (m, &at) in t.mappings.iter().zip(&t.mapping_at) {
        let file = strings.id(&mut p, m.filename, at, || {
            format!("Mapping {} filename", m.id)
        })?;
        let build_id = strings.id(&mut p, m.build_id, at, || {
            format!("Mapping {} build_id", m.id)
        })?;
        mapping_file.push(file);
        if file.is_empty() || !seen_modules.insert((file, build_id)) {
            continue;
        }
        let module = Module::new(
            p.str(file).to_string(),
            (!build_id.is_empty()).then(|| parse_build_id(p.str(build_id))),
        );
        p.meta_mut().modules.push(module);
    }

    // Functions: display names as pprof shows them.
    let function_index = id_index(t.functions.iter().map(|f| f.id), &t.function_at, "function")?;
    let mut fn_name = Vec::with_capacity(t.functions.len());
    let mut fn_file = Vec::with_capacity(t.functions.len());
    // Ids of the model's string table are equal exactly when the strings
    // are, so names are compared (and simplified) once per string.
    let mut simplified: HashMap<StringId, StringId> = HashMap::new();
    for (f, &at) in t.functions.iter().zip(&t.function_at) {
        let name = strings.id(&mut p, f.name, at, || format!("Function {} name", f.id))?;
        let system = strings.id(&mut p, f.system_name, at, || {
            format!("Function {} system_name", f.id)
        })?;
        let id = if !name.is_empty() && name != system {
            name
        } else {
            match simplified.get(&system) {
                Some(&id) => id,
                None => {
                    let shown = display_name("", p.str(system)).into_owned();
                    let id = p.intern_str(&shown);
                    simplified.insert(system, id);
                    id
                }
            }
        };
        fn_name.push(id);
        fn_file.push(strings.id(&mut p, f.filename, at, || {
            format!("Function {} filename", f.id)
        })?);
    }

    // Locations, checked.
    let location_index = id_index(
        t.locations.iter().map(|(_, l)| l.id),
        &t.location_at,
        "location",
    )?;
    let mut locs = Vec::with_capacity(t.locations.len());
    for (i, (start, l)) in t.locations.iter().enumerate() {
        let at = t.location_at.get(i).copied().unwrap_or(0);
        let lines_start = usize::try_from(*start).unwrap_or(usize::MAX);
        let next = t
            .locations
            .get(i.saturating_add(1))
            .and_then(|(s, _)| usize::try_from(*s).ok())
            .unwrap_or(t.lines.len());
        let mapping = match l.mapping_id {
            0 => None,
            id => Some(*mapping_index.get(&id).ok_or(Error::MappingId {
                offset: at,
                location: l.id,
                id,
            })?),
        };
        let lines_len = next.saturating_sub(lines_start);
        for line in t.lines.get(lines_start..next).unwrap_or_default() {
            if !function_index.contains_key(&line.function_id) && line.function_id != 0 {
                return Err(Error::FunctionId {
                    offset: at,
                    location: l.id,
                    id: line.function_id,
                });
            }
        }
        locs.push(Loc {
            mapping,
            lines_start,
            lines_len,
        });
    }
    let loc_lines = |loc: &Loc| -> &[proto::Line] {
        t.lines
            .get(loc.lines_start..loc.lines_start.saturating_add(loc.lines_len))
            .unwrap_or_default()
    };

    // drop_frames / keep_frames, as pprof's Prune (profile/prune.go).
    let drop = compile_frames_regex(
        &strings,
        t.drop_frames,
        t.drop_frames_at,
        "drop_frames",
        p.meta_mut(),
    )?;
    let keep = match &drop {
        Some(_) => compile_frames_regex(
            &strings,
            t.keep_frames,
            t.keep_frames_at,
            "keep_frames",
            p.meta_mut(),
        )?,
        None => None,
    };
    let mut marks = vec![PruneMark::default(); locs.len()];
    if let Some(drop) = &drop {
        let mut matches: HashMap<StringId, bool> = HashMap::new();
        for (loc, mark) in locs.iter().zip(marks.iter_mut()) {
            let lines = loc_lines(loc);
            for (i, line) in lines.iter().enumerate().rev() {
                let Some(&fi) = function_index.get(&line.function_id) else {
                    continue;
                };
                let Some(&name) = fn_name.get(fi) else {
                    continue;
                };
                if name.is_empty() {
                    continue;
                }
                let hit = *matches.entry(name).or_insert_with(|| {
                    let simple = simplify_func(p.str(name));
                    drop.is_match(simple) && !keep.as_ref().is_some_and(|k| k.is_match(simple))
                });
                if hit {
                    mark.beneath = true;
                    mark.prune = i.saturating_add(1) == lines.len();
                    // A pruned location keeps its lines (it is cut from
                    // the stacks instead); otherwise the matching line and
                    // the ones inlined into it go, in every sample.
                    mark.keep_from = if mark.prune { 0 } else { i.saturating_add(1) };
                    break;
                }
            }
        }
    }

    // `[module]` names, once per module.
    let mut objfile_names: HashMap<StringId, StringId> = HashMap::new();
    let mut objfile_name = |p: &mut Profile, module: StringId| -> StringId {
        *objfile_names.entry(module).or_insert_with(|| {
            let name = objfile_frame_name(p.str(module));
            p.intern_str(&name)
        })
    };
    // Frames of each location, root first, made on first use.
    let mut loc_frames: Vec<Option<(usize, usize)>> = vec![None; locs.len()];
    let mut frames_flat: Vec<FrameId> = Vec::new();

    // Second pass: the samples, folded by (stack, thread, labels) as they
    // come, since pprof samples carry no time.
    let frame_limit = offset(buf.len())
        .saturating_mul(FRAMES_PER_INPUT_BYTE)
        .saturating_add(FRAMES_BASE);
    let mut frames_used: u64 = 0;
    let columns = p.value_types().len();
    // Per column, the sum of the values' magnitudes so far: while it fits
    // an i64, so does every sum of some of them (a merged row's, a
    // subtree's, the total).
    let mut magnitudes: Vec<u64> = vec![0; columns];
    let mut rows: HashMap<(Option<StackId>, ThreadId, Vec<Label>), usize> = HashMap::new();
    let mut row_labels: Vec<Vec<Label>> = Vec::new();
    let mut any_labels = false;
    let mut sample = proto::Sample::default();
    let mut kept_locs: Vec<usize> = Vec::new();
    let mut labels: Vec<Label> = Vec::new();
    let mut sample_no: u64 = 0;
    let mut pos = 0;
    while let Some(f) = next_field(buf, &mut pos)? {
        if f.number != 2 {
            continue;
        }
        let bytes = expect_bytes(&f, "sample")?;
        sample.clear();
        sample.merge(bytes).map_err(|source| Error::Decode {
            offset: offset(f.payload_offset),
            message: "Sample",
            source: Box::new(source),
        })?;
        let this = sample_no;
        let at = offset(f.payload_offset);
        sample_no = sample_no.saturating_add(1);
        if sample.value.len() != columns {
            return Err(Error::ValueCount {
                offset: at,
                sample: this,
                values: sample.value.len(),
                types: columns,
            });
        }
        // Locations, leaf first, then pruned as pprof's Prune does: scan
        // from the root; after the first location that is not marked, the
        // first marked one ends the stack.
        kept_locs.clear();
        for &id in &sample.location_id {
            let li = *location_index.get(&id).ok_or(Error::LocationId {
                offset: at,
                sample: this,
                id,
            })?;
            kept_locs.push(li);
        }
        let mut found_user = false;
        let mut cut = 0;
        for (i, &li) in kept_locs.iter().enumerate().rev() {
            let mark = marks.get(li).copied().unwrap_or_default();
            if !mark.prune && !mark.beneath {
                found_user = true;
                continue;
            }
            if !found_user {
                continue;
            }
            cut = if mark.prune { i.saturating_add(1) } else { i };
            break;
        }
        // Check the frame budget before building anything: a location
        // gives one frame per kept line (at least one).
        let kept = kept_locs.get(cut..).unwrap_or_default();
        for &li in kept {
            let lines = locs.get(li).map(|l| l.lines_len).unwrap_or(0);
            let keep_from = marks.get(li).map(|m| m.keep_from).unwrap_or(0);
            let n = lines.saturating_sub(keep_from).max(1);
            frames_used = frames_used.saturating_add(offset(n));
        }
        if frames_used > frame_limit {
            return Err(Error::TooManyFrames { limit: frame_limit });
        }
        // Stack, root first.
        let mut stack: Option<StackId> = None;
        for &li in kept.iter().rev() {
            let (start, len) = match loc_frames.get(li).copied().flatten() {
                Some(r) => r,
                None => {
                    let start = frames_flat.len();
                    let loc = locs.get(li);
                    let module = loc
                        .and_then(|l| l.mapping)
                        .and_then(|m| mapping_file.get(m).copied())
                        .unwrap_or(StringId::EMPTY);
                    let lines = loc.map(&loc_lines).unwrap_or_default();
                    let keep_from = marks.get(li).map(|m| m.keep_from).unwrap_or(0);
                    let lines = lines.get(keep_from..).unwrap_or_default();
                    if lines.is_empty() {
                        let name = objfile_name(&mut p, module);
                        frames_flat.push(p.intern_frame(Frame {
                            name,
                            module,
                            file: StringId::EMPTY,
                            line: 0,
                            kind: FrameKind::Unknown,
                        }));
                    }
                    let last = lines.len().saturating_sub(1);
                    for (i, line) in lines.iter().enumerate().rev() {
                        let fi = function_index.get(&line.function_id).copied();
                        let name = fi.and_then(|fi| fn_name.get(fi).copied());
                        let file = fi
                            .and_then(|fi| fn_file.get(fi).copied())
                            .unwrap_or(StringId::EMPTY);
                        let name = match name {
                            Some(n) if !n.is_empty() => n,
                            _ => objfile_name(&mut p, module),
                        };
                        let kind = if i != last {
                            FrameKind::Inline
                        } else if fi.is_none() {
                            FrameKind::Unknown
                        } else {
                            frame_kind_for(p.str(name), p.str(module))
                        };
                        frames_flat.push(p.intern_frame(Frame {
                            name,
                            module,
                            file,
                            line: u32::try_from(line.line).unwrap_or(0),
                            kind,
                        }));
                    }
                    let r = (start, frames_flat.len().saturating_sub(start));
                    if let Some(slot) = loc_frames.get_mut(li) {
                        *slot = Some(r);
                    }
                    r
                }
            };
            for &fr in frames_flat
                .get(start..start.saturating_add(len))
                .unwrap_or_default()
            {
                stack = Some(p.intern_stack(stack, fr));
            }
        }
        // Labels: string labels when str is set, numeric ones when num or
        // num_unit is (pprof drops labels with neither).
        labels.clear();
        for l in &sample.label {
            let key = strings.id(&mut p, l.key, at, || format!("sample {this} label key"))?;
            if l.str != 0 {
                let s = strings.id(&mut p, l.str, at, || format!("sample {this} label value"))?;
                labels.push(Label {
                    key,
                    str: s,
                    num: 0,
                    num_unit: StringId::EMPTY,
                });
            } else if l.num != 0 || l.num_unit != 0 {
                let unit = strings.id(&mut p, l.num_unit, at, || {
                    format!("sample {this} label num_unit")
                })?;
                labels.push(Label {
                    key,
                    str: StringId::EMPTY,
                    num: l.num,
                    num_unit: unit,
                });
            }
        }
        // pprof drops samples whose values are all zero when it loads a
        // profile (profile/merge.go, isZeroSample); so do we.
        if sample.value.iter().all(|&v| v == 0) {
            continue;
        }
        for (column, (m, &v)) in magnitudes.iter_mut().zip(&sample.value).enumerate() {
            *m = m
                .checked_add(v.unsigned_abs())
                .filter(|&m| i64::try_from(m).is_ok())
                .ok_or(Error::WeightOverflow {
                    offset: at,
                    sample: this,
                    column,
                })?;
        }
        any_labels |= !labels.is_empty();
        let thread = thread_from_labels(&p, &labels);
        let thread = p.intern_thread(thread);
        match rows.get(&(stack, thread, labels.clone())) {
            Some(&row) => {
                p.add_to_sample(row, &sample.value)
                    .map_err(|column| Error::WeightOverflow {
                        offset: at,
                        sample: this,
                        column,
                    })?;
            }
            None => {
                rows.insert((stack, thread, labels.clone()), row_labels.len());
                row_labels.push(labels.clone());
                p.push_sample(stack, thread, None, &sample.value);
            }
        }
    }
    if any_labels {
        // One label set per row, pushed with each row.
        let _ = p.set_labels(row_labels);
    }
    Ok(p)
}

/// A build id as bytes: hex digits decoded, anything else kept as its
/// UTF-8 bytes.
fn parse_build_id(s: &str) -> Vec<u8> {
    let digits = s.as_bytes();
    let hex = |c: u8| -> Option<u8> {
        match c {
            b'0'..=b'9' => Some(c - b'0'),
            b'a'..=b'f' => Some(c - b'a' + 10),
            b'A'..=b'F' => Some(c - b'A' + 10),
            _ => None,
        }
    };
    if !digits.is_empty() && digits.len().is_multiple_of(2) {
        let decoded: Option<Vec<u8>> = digits
            .chunks_exact(2)
            .map(|pair| match pair {
                [hi, lo] => Some(hex(*hi)? << 4 | hex(*lo)?),
                _ => None,
            })
            .collect();
        if let Some(d) = decoded {
            return d;
        }
    }
    digits.to_vec()
}

/// Read a gzipped or plain profile.
pub(crate) fn read(data: &[u8], opts: &ReadOptions) -> Result<Profile, Error> {
    let plain = inflate(data, opts.max_inflated_bytes)?;
    read_plain(&plain)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn build_ids() {
        assert_eq!(parse_build_id("0aff"), vec![0x0a, 0xff]);
        assert_eq!(parse_build_id("xyz"), b"xyz".to_vec());
        assert_eq!(parse_build_id("abc"), b"abc".to_vec());
    }
}
