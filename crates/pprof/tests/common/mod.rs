//! Helpers shared by the tests: paths, and parsers for `go tool pprof`
//! `-traces` and `-top` output.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::PathBuf;

use stackconv_model::{FrameKind, Profile};

/// `testdata/go` of the repository.
pub fn testdata() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../testdata/go")
}

pub fn read_testdata(name: &str) -> Vec<u8> {
    let path = testdata().join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

pub fn read_text(name: &str) -> String {
    String::from_utf8(read_testdata(name)).expect("utf-8")
}

/// One frame as `-traces` prints it: its name and whether it is inlined.
pub type TraceFrame = (String, bool);
/// Stacks (leaf first) to their summed weight.
pub type Traces = BTreeMap<Vec<TraceFrame>, i64>;

const SEPARATOR: &str = "-----------+-------------------------------------------------------";

/// A value as `-traces`/`-top` print it with an exact unit: `123`,
/// `123ns`, `123B`.
pub fn parse_value(s: &str) -> Option<i64> {
    let digits = s
        .strip_suffix("ns")
        .or_else(|| s.strip_suffix('B'))
        .unwrap_or(s);
    digits.parse().ok()
}

/// Parse `go tool pprof -traces` output: each block between separator lines
/// is labels (`key:  value`), then the stack leaf first, the first stack
/// line carrying the value (`%10s   %s`), the others indented 13 spaces;
/// inlined frames end in ` (inline)`. Stacks are summed.
pub fn parse_traces(text: &str) -> Traces {
    let mut out = Traces::new();
    let blocks = text.split(SEPARATOR).skip(1);
    // The last piece after the final separator is empty.
    for block in blocks {
        let mut value = None;
        let mut stack: Vec<TraceFrame> = Vec::new();
        for line in block.lines().filter(|l| !l.is_empty()) {
            let frame_text = if let Some(rest) = line.strip_prefix("             ") {
                assert!(value.is_some(), "frame before value: {line:?}");
                rest
            } else {
                let trimmed = line.trim_start();
                let (first, rest) = trimmed.split_once(' ').unwrap_or((trimmed, ""));
                match (parse_value(first), rest.strip_prefix("  ")) {
                    (Some(v), Some(name)) if value.is_none() => {
                        value = Some(v);
                        name
                    }
                    _ => {
                        assert!(value.is_none(), "label after stack: {line:?}");
                        assert!(trimmed.contains(":  "), "not a label: {line:?}");
                        continue;
                    }
                }
            };
            let (name, inline) = match frame_text.strip_suffix(" (inline)") {
                Some(n) => (n, true),
                None => (frame_text, false),
            };
            stack.push((name.to_string(), inline));
        }
        if let Some(v) = value {
            *out.entry(stack).or_insert(0) += v;
        }
    }
    out
}

/// The same aggregation from a model profile, for value column `column`:
/// stacks leaf first, inline flag from the frame kind; empty stacks are
/// skipped, as `-traces` skips them.
pub fn model_traces(p: &Profile, column: usize) -> Traces {
    let mut out = Traces::new();
    for s in p.iter_samples() {
        if s.stack.is_none() {
            continue;
        }
        let stack: Vec<TraceFrame> = p
            .stack_frames(s.stack)
            .into_iter()
            .rev()
            .map(|f| {
                (
                    p.frame_name(f).to_string(),
                    p.frame_kind(f) == FrameKind::Inline,
                )
            })
            .collect();
        *out.entry(stack).or_insert(0) += s.values.get(column).copied().unwrap_or(0);
    }
    out
}

/// What `go tool pprof -top` shows: the total, and flat/cum per function.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Top {
    pub total: i64,
    pub rows: BTreeMap<String, (i64, i64)>,
}

/// Parse `-top` output (complete: -nodecount=100000 -nodefraction=0).
/// Names lose a trailing ` (inline)`.
pub fn parse_top(text: &str) -> Top {
    let mut top = Top::default();
    let mut in_rows = false;
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("Showing nodes accounting for ") {
            // "X, 100% of TOTAL total"
            let total = rest
                .split(" of ")
                .nth(1)
                .and_then(|t| t.strip_suffix(" total"))
                .expect("total");
            top.total = parse_value(total).expect("total value");
            continue;
        }
        if line.trim_start().starts_with("flat  flat%") {
            in_rows = true;
            continue;
        }
        if !in_rows {
            continue;
        }
        let fields: Vec<&str> = line.split_whitespace().collect();
        assert!(fields.len() >= 6, "top row: {line:?}");
        let flat = parse_value(fields[0]).expect("flat");
        let cum = parse_value(fields[3]).expect("cum");
        // The name is the rest of the line after the fifth field.
        let mut rest = line;
        for f in &fields[..5] {
            let at = rest.find(f).expect("field") + f.len();
            rest = &rest[at..];
        }
        let name = rest.trim_start();
        let name = name.strip_suffix(" (inline)").unwrap_or(name);
        let e = top.rows.entry(name.to_string()).or_insert((0, 0));
        e.0 += flat;
        e.1 += cum;
    }
    top
}

/// `-top` computed from the model: flat = weight of samples whose leaf
/// frame has the name, cum = weight of samples with the name anywhere.
pub fn model_top(p: &Profile, column: usize) -> Top {
    let mut top = Top::default();
    for s in p.iter_samples() {
        let v = s.values.get(column).copied().unwrap_or(0);
        top.total += v;
        let frames = p.stack_frames(s.stack);
        let mut seen = std::collections::BTreeSet::new();
        for (i, f) in frames.iter().rev().enumerate() {
            let name = p.frame_name(*f).to_string();
            let e = top.rows.entry(name.clone()).or_insert((0, 0));
            if i == 0 {
                e.0 += v;
            }
            if seen.insert(name) {
                e.1 += v;
            }
        }
    }
    // -top lists only nodes with weight.
    top.rows.retain(|_, (flat, cum)| *flat != 0 || *cum != 0);
    top
}

/// A readable first difference between two trace maps.
pub fn diff_traces(ours: &Traces, theirs: &Traces) -> Option<String> {
    for (k, v) in theirs {
        match ours.get(k) {
            None => return Some(format!("missing in ours: {k:?} = {v}")),
            Some(o) if o != v => {
                return Some(format!("weight differs for {k:?}: ours {o}, pprof {v}"))
            }
            _ => {}
        }
    }
    for (k, v) in ours {
        if !theirs.contains_key(k) {
            return Some(format!("extra in ours: {k:?} = {v}"));
        }
    }
    None
}
