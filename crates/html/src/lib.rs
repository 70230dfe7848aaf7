//! A self-contained HTML report of a profile, for stackconv.
//!
//! One file that opens offline (no network access, no external URL, no
//! third-party code): the page's script and style are stackconv's own
//! (`report.html`, included at build time), the profile is embedded as
//! compact JSON. The page draws an interactive flame graph on a canvas
//! (zoom, search with the matched share, tooltips, flame / icicle, inverted
//! callers-of-the-leaf view), a sandwich view of one function, a thread
//! selector (all merged, or one thread) and a value selector (every value
//! column), and tables of the top functions, the waits (from the model's
//! wait classification, [`stackconv_ops::idle::sample_waits`]) and the
//! data quality (the profile's losses and warnings). A differential report
//! ([`write_diff_html`]) colours frames by their change and keeps frames
//! present only before, marked removed.
//!
//! # The embedded data
//!
//! Stacks are merged by frame name into one call tree (as a flame graph
//! draws them), written in preorder, children sorted by name:
//!
//! - `names`, `files`, `kinds`, `colors`: one entry per distinct frame
//!   name (its first file, its kind as one letter, its colour as six hex
//!   digits from [`stackconv_model::FrameKind::color`], the SVG's rule);
//! - `nodes`: two integers per node: `up`, how many levels above the
//!   previous node's child it sits (0: a child of the previous node), and
//!   its name's index; the root ("all") is implicit;
//! - `rows`: the weights, as rows of `node delta, thread, wait, v0, v1, ...`
//!   (node indices ascending, each the difference from the previous row's),
//!   one row per (node, thread, wait site) that has weight: a node's self
//!   weight for one thread and one value column is the sum of its rows;
//!   the page adds the totals up the tree;
//! - `threads`, `values`, `waits` (sites: wait kind, blocked in, caller),
//!   `meta` (source, events, duration, losses, warnings).
//!
//! So the file grows with the distinct stacks and threads, not with the
//! samples; tiny frames are culled when drawn, never dropped from the data.
//!
//! # Example
//!
//! ```
//! use stackconv_html::{write_html, HtmlOptions};
//! use stackconv_model::{FrameKind, Profile, ValueType};
//!
//! let mut p = Profile::new(vec![ValueType::new("samples", "count")]);
//! let main = p.intern_frame_named("main", FrameKind::Native);
//! let work = p.intern_frame_named("work", FrameKind::Native);
//! let stack = p.intern_stack_frames([main, work]);
//! let thread = p.intern_thread_named(Some(1), Some(1), "app", "app");
//! p.push_sample(stack, thread, None, &[5]);
//!
//! let mut html = Vec::new();
//! write_html(&p, &HtmlOptions::default(), &mut html)?;
//! let html = String::from_utf8(html).unwrap();
//! assert!(html.starts_with("<!DOCTYPE html>"));
//! assert!(html.contains(r#""names":["main","work"]"#));
//! assert!(!html.contains("http://") && !html.contains("https://"));
//! # Ok::<(), std::io::Error>(())
//! ```
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::indexing_slicing))]

use std::collections::HashMap;
use std::io::{self, Write};

use stackconv_model::{Diff, FrameKind, Profile, StackId, StringId};
use stackconv_ops::idle::{sample_waits, SampleWait, WaitScope};

/// The page: markup, style and script, with [`DATA_MARKER`] where the
/// profile's JSON goes.
const TEMPLATE: &str = include_str!("report.html");

/// Where the JSON goes in [`TEMPLATE`].
const DATA_MARKER: &str = "@@STACKCONV_DATA@@";

/// How to write the report.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct HtmlOptions {
    /// The page's title.
    pub title: String,
}

impl Default for HtmlOptions {
    fn default() -> Self {
        HtmlOptions {
            title: "stackconv profile".to_string(),
        }
    }
}

/// Write the HTML report of `profile`.
///
/// # Errors
///
/// An I/O error from `out`.
pub fn write_html(profile: &Profile, opts: &HtmlOptions, out: impl Write) -> io::Result<()> {
    let json = encode(profile, opts, None);
    write_page(&json, out)
}

/// Write the differential HTML report of `diff`: value columns `before`
/// and `after`, and a difference view (the default) whose widths are the
/// after weights, except for frames present only before, drawn at their
/// before weight and marked removed; colours red where a frame grew, blue
/// where it shrank, violet where it was removed.
///
/// ```
/// use stackconv_html::{write_diff_html, HtmlOptions};
/// use stackconv_model::{diff, FrameKind, Profile, ValueType};
///
/// let side = |leaf: &str, n: i64| {
///     let mut p = Profile::new(vec![ValueType::new("samples", "count")]);
///     let t = p.intern_thread(Default::default());
///     let f = [p.intern_frame_named("main", FrameKind::Native), p.intern_frame_named(leaf, FrameKind::Native)];
///     let s = p.intern_stack_frames(f);
///     p.push_sample(s, t, None, &[n]);
///     p
/// };
/// let d = diff(&side("lock_wait", 4), &side("work", 3), false)?;
/// let mut html = Vec::new();
/// write_diff_html(&d, &HtmlOptions::default(), &mut html)?;
/// let html = String::from_utf8(html).unwrap();
/// assert!(html.contains(r#""diff":{"before":4,"after":3"#));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// # Errors
///
/// An I/O error from `out`.
pub fn write_diff_html(diff: &Diff, opts: &HtmlOptions, out: impl Write) -> io::Result<()> {
    let json = encode(&diff.to_profile(), opts, Some(diff));
    write_page(&json, out)
}

fn write_page(json: &str, mut out: impl Write) -> io::Result<()> {
    let (head, tail) = TEMPLATE
        .split_once(DATA_MARKER)
        .ok_or_else(|| io::Error::other("html template without a data marker"))?;
    out.write_all(head.as_bytes())?;
    out.write_all(json.as_bytes())?;
    out.write_all(tail.as_bytes())?;
    out.flush()
}

/// A JSON string that is safe inside a `<script>` element: `<` is written
/// `\u003c`, so no `</script>` (or `<!--`) can end or confuse it.
fn js(s: &str) -> String {
    serde_json::Value::from(s)
        .to_string()
        .replace('<', "\\u003c")
}

/// The call tree, stacks merged by frame name.
struct Tree {
    /// Name index (into `names`) and parent of each node; node 0 is the root.
    name: Vec<u32>,
    parent: Vec<u32>,
    children: HashMap<(u32, u32), u32>,
    /// Distinct frame names: text, file, kind.
    names: Vec<(StringId, StringId, FrameKind)>,
    name_of: HashMap<StringId, u32>,
    /// The node of each stack of the profile, once known.
    node_of: HashMap<StackId, u32>,
}

impl Tree {
    fn new() -> Self {
        Tree {
            name: vec![u32::MAX],
            parent: vec![0],
            children: HashMap::new(),
            names: Vec::new(),
            name_of: HashMap::new(),
            node_of: HashMap::new(),
        }
    }

    fn child(&mut self, parent: u32, name: u32) -> u32 {
        let next = u32::try_from(self.name.len()).unwrap_or(u32::MAX);
        *self.children.entry((parent, name)).or_insert_with(|| {
            self.name.push(name);
            self.parent.push(parent);
            next
        })
    }

    fn name_index(&mut self, p: &Profile, stack: StackId) -> u32 {
        let frame = p.frame(p.stacks().get(stack).frame);
        let next = u32::try_from(self.names.len()).unwrap_or(u32::MAX);
        *self.name_of.entry(frame.name).or_insert_with(|| {
            self.names.push((frame.name, frame.file, frame.kind));
            next
        })
    }

    /// The node of `stack` (0 for no stack).
    fn node(&mut self, p: &Profile, stack: Option<StackId>) -> u32 {
        let Some(leaf) = stack else { return 0 };
        if let Some(&n) = self.node_of.get(&leaf) {
            return n;
        }
        // Walk up to the first stack already placed, then down.
        let mut pending = vec![leaf];
        let mut node = 0;
        while let Some(&s) = pending.last() {
            match p.stacks().get(s).parent {
                Some(parent) => match self.node_of.get(&parent) {
                    Some(&n) => {
                        node = n;
                        break;
                    }
                    None => pending.push(parent),
                },
                None => break,
            }
        }
        while let Some(s) = pending.pop() {
            let name = self.name_index(p, s);
            node = self.child(node, name);
            self.node_of.insert(s, node);
        }
        node
    }
}

fn encode(p: &Profile, opts: &HtmlOptions, diff: Option<&Diff>) -> String {
    use std::fmt::Write as _;
    let columns = p.value_types().len();
    // Waits: off-CPU time when there is some (all of it is waiting), else
    // the idle samples of whichever column is shown.
    let off_cpu = ["off-cpu", "offcpu-time"]
        .into_iter()
        .find_map(|k| p.value_index(k).filter(|&c| p.total(c) != 0));
    let (wait_column, scope) = match off_cpu {
        Some(c) => (c, WaitScope::AllWeight),
        None => (p.meta().default_value, WaitScope::IdleSamples),
    };
    let waits = if diff.is_some() {
        Default::default()
    } else {
        sample_waits(p, wait_column, &[], scope)
    };

    // Rows: (node, thread, wait) -> values.
    let mut tree = Tree::new();
    let mut rows: HashMap<(u32, u32, i64), Vec<i64>> = HashMap::new();
    for i in 0..p.samples().len() {
        let (Some(&stack), Some(&thread)) =
            (p.samples().stacks().get(i), p.samples().threads().get(i))
        else {
            continue;
        };
        if (0..columns).all(|c| p.value(c, i) == 0) {
            continue;
        }
        let node = tree.node(p, stack);
        let wait = match waits.samples.get(i) {
            Some(SampleWait::At(k)) => i64::try_from(*k).map_or(0, |k| k + 1),
            Some(SampleWait::IdleTask) => -1,
            _ => 0,
        };
        let thread = u32::try_from(thread.index()).unwrap_or(u32::MAX);
        let values = rows
            .entry((node, thread, wait))
            .or_insert_with(|| vec![0; columns]);
        for (c, v) in values.iter_mut().enumerate() {
            *v = v.saturating_add(p.value(c, i));
        }
    }

    // Preorder, children by name.
    let n = tree.name.len();
    let mut kids: Vec<Vec<u32>> = vec![Vec::new(); n];
    for node in 1..n {
        if let (Some(&parent), Ok(node)) = (tree.parent.get(node), u32::try_from(node)) {
            if let Some(k) = kids.get_mut(parent as usize) {
                k.push(node);
            }
        }
    }
    let name_text = |tree: &Tree, node: u32| -> &str {
        tree.name
            .get(node as usize)
            .and_then(|&i| tree.names.get(i as usize))
            .map_or("", |&(s, _, _)| p.str(s))
    };
    for k in &mut kids {
        k.sort_by(|&a, &b| name_text(&tree, a).cmp(name_text(&tree, b)));
    }
    let mut order = vec![u32::MAX; n]; // tree node -> preorder index
    let mut nodes = String::with_capacity(n * 8);
    let mut stack: Vec<(u32, usize)> = kids
        .first()
        .map(|k| k.iter().rev().map(|&c| (c, 1)).collect())
        .unwrap_or_default();
    let (mut prev_depth, mut next) = (0usize, 1u32);
    if let Some(o) = order.first_mut() {
        *o = 0;
    }
    while let Some((node, depth)) = stack.pop() {
        if let Some(o) = order.get_mut(node as usize) {
            *o = next;
        }
        next = next.saturating_add(1);
        let up = prev_depth + 1 - depth;
        let name = tree.name.get(node as usize).copied().unwrap_or(0);
        if !nodes.is_empty() {
            nodes.push(',');
        }
        let _ = write!(nodes, "{up},{name}");
        prev_depth = depth;
        if let Some(k) = kids.get(node as usize) {
            stack.extend(k.iter().rev().map(|&c| (c, depth + 1)));
        }
    }

    let mut rows: Vec<((u32, u32, i64), Vec<i64>)> = rows
        .into_iter()
        .map(|((node, t, w), v)| {
            let pre = order.get(node as usize).copied().unwrap_or(0);
            ((pre, t, w), v)
        })
        .collect();
    rows.sort_unstable_by_key(|r| r.0);
    let mut row_text = String::with_capacity(rows.len() * (8 + 10 * columns));
    let mut prev = 0u32;
    for ((node, thread, wait), values) in &rows {
        if !row_text.is_empty() {
            row_text.push(',');
        }
        let _ = write!(row_text, "{},{thread},{wait}", node - prev);
        prev = *node;
        for v in values {
            let _ = write!(row_text, ",{v}");
        }
    }

    let mut j = String::with_capacity(nodes.len() + row_text.len() + 4096);
    let _ = write!(j, "{{\"title\":{}", js(&opts.title));
    let list = |items: &mut dyn Iterator<Item = String>| items.collect::<Vec<_>>().join(",");
    let _ = write!(
        j,
        ",\"names\":[{}]",
        list(&mut tree.names.iter().map(|&(s, _, _)| js(p.str(s))))
    );
    let _ = write!(
        j,
        ",\"files\":[{}]",
        list(&mut tree.names.iter().map(|&(_, f, _)| js(p.str(f))))
    );
    let kinds: String = tree
        .names
        .iter()
        .map(|&(_, _, k)| FrameKind::letter(k))
        .collect();
    let _ = write!(j, ",\"kinds\":\"{kinds}\"");
    let mut colors = String::with_capacity(tree.names.len() * 6);
    for &(s, _, k) in &tree.names {
        let [r, g, b] = k.color(p.str(s));
        let _ = write!(colors, "{r:02x}{g:02x}{b:02x}");
    }
    let _ = write!(j, ",\"colors\":\"{colors}\"");
    let _ = write!(j, ",\"nodes\":[{nodes}],\"rows\":[{row_text}]");
    let _ = write!(
        j,
        ",\"values\":[{}],\"default\":{}",
        list(&mut p.value_types().iter().map(|v| format!(
            "{{\"kind\":{},\"unit\":{}}}",
            js(&v.kind),
            js(&v.unit)
        ))),
        p.meta().default_value
    );
    let opt = |v: Option<u32>| v.map_or("null".to_string(), |v| v.to_string());
    let _ = write!(
        j,
        ",\"threads\":[{}]",
        list(&mut p.threads().iter().map(|(_, t)| format!(
            "[{},{},{},{}]",
            opt(t.pid),
            opt(t.tid),
            js(p.str(t.process_name)),
            js(p.str(t.thread_name))
        )))
    );
    let _ = write!(
        j,
        ",\"waits\":{{\"column\":{},\"offcpu\":{},\"sites\":[{}]}}",
        wait_column,
        off_cpu.is_some(),
        list(&mut waits.keys.iter().map(|k| format!(
            "[{},{},{}]",
            js(k.wait.as_str()),
            js(&k.blocked_in),
            js(&k.caller)
        )))
    );
    let m = &p.meta();
    let _ = write!(
        j,
        ",\"meta\":{{\"source\":{},\"events\":[{}],\"duration_ns\":{},\"samples\":{},\"modules\":{},\"build_ids\":{},\"losses\":[{}],\"warnings\":[{}]}}",
        js(&m.source_format),
        list(&mut m.events.iter().map(|e| js(e))),
        m.duration_ns.map_or("null".to_string(), |d| d.to_string()),
        p.samples().len(),
        m.modules.len(),
        m.modules.iter().filter(|m| m.build_id.is_some()).count(),
        list(&mut m.losses.iter().map(|l| format!("[{},{}]", js(&l.what), l.count))),
        list(&mut m.warnings.iter().map(|w| js(w))),
    );
    if let Some(d) = diff {
        let _ = write!(
            j,
            ",\"diff\":{{\"before\":{},\"after\":{},\"normalized\":{},\"unit\":{}}}",
            d.before_total,
            d.after_total,
            d.normalized,
            js(&d.value_type.unit)
        );
    }
    j.push('}');
    j
}

#[cfg(test)]
mod tests {
    use super::*;
    use stackconv_model::ValueType;

    fn profile() -> Profile {
        let mut p = Profile::new(vec![
            ValueType::new("cpu-clock", "nanoseconds"),
            ValueType::new("off-cpu", "nanoseconds"),
        ]);
        let t1 = p.intern_thread_named(Some(1), Some(1), "app", "app");
        let t2 = p.intern_thread_named(Some(1), Some(2), "app", "worker</script>");
        let f = |p: &mut Profile, n: &str| p.intern_frame_named(n, FrameKind::Native);
        let (main, b, a, wait) = (
            f(&mut p, "main"),
            f(&mut p, "b"),
            f(&mut p, "a"),
            f(&mut p, "nanosleep"),
        );
        let s1 = p.intern_stack_frames([main, b]);
        let s2 = p.intern_stack_frames([main, a]);
        let s3 = p.intern_stack_frames([main, wait]);
        p.push_sample(s1, t1, None, &[10, 0]);
        p.push_sample(s2, t2, None, &[5, 0]);
        p.push_sample(s1, t1, None, &[1, 0]);
        p.push_sample(s3, t2, None, &[0, 7]);
        p
    }

    fn data(p: &Profile) -> serde_json::Value {
        serde_json::from_str(&encode(p, &HtmlOptions::default(), None)).unwrap()
    }

    #[test]
    fn preorder_tree_and_rows() {
        let j = data(&profile());
        assert_eq!(
            j["names"],
            serde_json::json!(["main", "b", "a", "nanosleep"])
        );
        // main, then its children by name: a, b, nanosleep.
        assert_eq!(j["nodes"], serde_json::json!([0, 0, 0, 2, 1, 1, 1, 3]));
        // Rows by node: a (t2), b (t1, 10+1), nanosleep (t2, a wait).
        assert_eq!(
            j["rows"],
            serde_json::json!([2, 1, 0, 5, 0, 1, 0, 0, 11, 0, 1, 1, 1, 0, 7])
        );
        assert_eq!(j["waits"]["offcpu"], true);
        assert_eq!(j["waits"]["sites"][0][0], "sleep");
        assert_eq!(j["kinds"], "nnnn");
        assert_eq!(j["colors"].as_str().unwrap().len(), 24);
    }

    #[test]
    fn page_is_self_contained_and_script_safe() {
        let mut out = Vec::new();
        write_html(&profile(), &HtmlOptions::default(), &mut out).unwrap();
        let html = String::from_utf8(out).unwrap();
        assert!(!html.contains("worker</script>"));
        assert!(html.contains("worker\\u003c/script>"));
        for bad in ["http://", "https://", "src=\"//", "url("] {
            assert!(!html.contains(bad), "{bad}");
        }
        assert!(!html.contains(DATA_MARKER));
    }
}
