//! Folded text for a flame graph, without what the graph would not draw.
//!
//! A flame graph drawn from folded text (inferno, flamegraph.pl) leaves out
//! every frame narrower than its minimum width. On a large profile almost
//! all stacks end in such frames, yet writing and re-reading their text is
//! most of the work. [`write_pruned`] writes the lines of the frames wide
//! enough to be drawn, and in place of each subtree too light to be drawn
//! one line of the same weight at the same place, so the graph drawn from
//! it is the graph drawn from the full text.

use std::collections::HashMap;

use rustc_hash::FxHashMap;
use std::io::{self, Write};

use stackconv_model::pruning::DrawnKeys;
use stackconv_model::{FrameId, Profile, StackId, StackNode, ThreadId};

use crate::folded::{
    checked_total, frame_text, resolve_root, root_text, write, RootFrame, WriteOptions,
};

/// Write folded text for a flame graph whose frames lighter than
/// `min_weight` are not drawn: the lines of the full folded text
/// ([`write()`]), sorted as it is, with every subtree lighter than
/// `min_weight` replaced by at most two lines of the same weight that sort
/// where its lines do: one for the samples that end at its root frame (as
/// in the full text), one ending one frame below it for the rest. Then
/// consecutive such lines of siblings become one (the first's text, their
/// summed weight) while the sum stays lighter than `min_weight`: it is not
/// drawn either, and what follows stays in place.
///
/// Drawn from this text, the graph has the frames, positions and widths of
/// the graph drawn from the full text with that minimum width: a frame is
/// drawn when its weight is not below `min_weight`, the weight before any
/// line is kept, and a replaced subtree's frames stay lighter than
/// `min_weight`.
///
/// When pruning could change the picture (a negative weight, a frame name
/// with `;` or with whitespace at its ends) this writes the full text of
/// [`write()`] instead. The total weight is that of [`write()`] either way.
///
/// Returns whether the text is pruned; its lines are then in the order a
/// flame graph sorts them in (byte order of the whole line), so it can be
/// drawn without sorting (inferno's `no_sort`).
///
/// ```
/// use stackconv_collapsed::{folded::{self, WriteOptions}, prune};
///
/// let p = folded::read(b"main;work;a 60\nmain;work;b;c;d 1\nmain;idle 39\n")?;
/// let mut out = Vec::new();
/// assert!(prune::write_pruned(&p, &WriteOptions::default(), 2.0, &mut out)?);
/// // `b` (weight 1) would not be drawn at a minimum weight of 2: its
/// // subtree is one line one frame below it, of the same weight, at its
/// // place.
/// assert_eq!(
///     String::from_utf8(out)?,
///     "main;idle 39\nmain;work;a 60\nmain;work;b;c 1\n"
/// );
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// # Errors
///
/// As [`write()`].
pub fn write_pruned(
    p: &Profile,
    opts: &WriteOptions,
    min_weight: f64,
    out: impl Write,
) -> io::Result<bool> {
    let column = opts.value.unwrap_or(p.meta().default_value);
    let Some(values) = p.samples().values().get(column) else {
        return write(p, opts, out).map(|()| false);
    };
    // With the total in 64 bits, no subtree's total overflows below (the
    // weights are not negative: `prepare` leaves those to `write`).
    checked_total(p, column)?;
    let root = resolve_root(p, opts.root);
    let nodes = p.stacks().nodes();
    let lines = std::thread::scope(|scope| {
        // The callee lists take a pass over every node: on a large profile
        // they are built on another core meanwhile.
        let lists = (nodes.len() >= PARALLEL_NODES)
            .then(|| {
                std::thread::Builder::new()
                    .name("callee-lists".into())
                    .spawn_scoped(scope, || Callees::new(nodes))
                    .ok()
            })
            .flatten();
        let (names, frame_name, groups) = prepare(p, opts, values, root)?;
        let mut weights = Weights::new(nodes.len());
        if let [(_, samples)] = groups.as_slice() {
            // One root text (the usual case): its samples reach most nodes.
            weights.load_all(nodes, samples);
        }
        let lists = lists
            .and_then(|h| h.join().ok())
            .unwrap_or_else(|| Callees::new(nodes));
        let tree = Tree {
            nodes,
            frame_name: &frame_name,
            lists,
        };
        let mut lines: Vec<String> = Vec::new();
        if let [(root_text, _)] = groups.as_slice() {
            let root_text = root_text.as_deref();
            tree.emit(&weights, &names, root_text, min_weight, &mut lines);
        } else {
            for (root_text, samples) in &groups {
                weights.load(nodes, samples);
                let root_text = root_text.as_deref();
                tree.emit(&weights, &names, root_text, min_weight, &mut lines);
                weights.clear();
            }
        }
        Some(lines)
    });
    let Some(mut lines) = lines else {
        return write(p, opts, out).map(|()| false);
    };
    // Emitted in order but for names one of which starts another (and
    // several root texts): sorted then.
    if !lines.is_sorted() {
        lines.sort_unstable();
    }
    let mut w = io::BufWriter::new(out);
    for line in &lines {
        w.write_all(line.as_bytes())?;
        w.write_all(b"\n")?;
    }
    w.flush()?;
    Ok(true)
}

/// Stack tables from this many nodes build their callee lists on another
/// thread.
const PARALLEL_NODES: usize = 1 << 18;

/// Frame names as the folded text writes them (one id per distinct text),
/// the name id of each frame, and the samples by root text; `None` when
/// pruning could change the picture.
#[allow(clippy::type_complexity)]
fn prepare(
    p: &Profile,
    opts: &WriteOptions,
    values: &[i64],
    root: RootFrame,
) -> Option<(Vec<String>, Vec<u32>, Vec<(Option<String>, Vec<Leaf>)>)> {
    let (names, frame_name) = frame_names(p, opts)?;

    // Samples by root text; negative weights cannot be pruned.
    let mut groups: Vec<(Option<String>, Vec<Leaf>)> = Vec::new();
    let mut group_of_text: HashMap<Option<String>, usize> = HashMap::new();
    let mut group_of_thread: HashMap<ThreadId, usize> = HashMap::new();
    for (i, (&stack, &thread)) in p
        .samples()
        .stacks()
        .iter()
        .zip(p.samples().threads())
        .enumerate()
    {
        let Some(stack) = stack else { continue };
        let v = values.get(i).copied().unwrap_or(0);
        if v < 0 {
            return None;
        }
        if v == 0 {
            continue;
        }
        let g = match group_of_thread.get(&thread) {
            Some(&g) => g,
            None => {
                let text = root_text(p, thread, root);
                if text.as_deref().is_some_and(unsafe_name) {
                    return None;
                }
                let next = groups.len();
                let g = *group_of_text.entry(text.clone()).or_insert(next);
                if g == next {
                    groups.push((text, Vec::new()));
                }
                group_of_thread.insert(thread, g);
                g
            }
        };
        if let Some((_, samples)) = groups.get_mut(g) {
            samples.push((stack, v));
        }
    }

    // A stack without a root text whose first frame is named as another
    // thread's root text would merge with it: keep such profiles whole.
    if groups.len() > 1 && groups.iter().any(|(t, _)| t.is_none()) {
        return None;
    }
    Some((names, frame_name, groups))
}

/// The distinct frame texts of `p` as the folded text writes them, and the
/// text id of each frame; `None` when a text could be drawn other than as
/// one frame ([`unsafe_name`]).
fn frame_names(p: &Profile, opts: &WriteOptions) -> Option<(Vec<String>, Vec<u32>)> {
    let mut name_ids: HashMap<String, u32> = HashMap::new();
    let mut names: Vec<String> = Vec::new();
    let mut frame_name: Vec<u32> = Vec::with_capacity(p.frames().len());
    for (f, _) in p.frames().iter() {
        let text = frame_text(p, f, opts.annotate);
        if unsafe_name(&text) {
            return None;
        }
        let next = names.len() as u32;
        let id = *name_ids.entry(text.clone()).or_insert(next);
        if id == next {
            names.push(text);
        }
        frame_name.push(id);
    }
    Some((names, frame_name))
}

/// How a flame graph drawn from `p`'s folded text (written with `opts`)
/// tells frames and roots apart: frames of one text, threads of one root
/// text. `None` when a stack cut below what the graph draws could be drawn
/// differently: a frame text with `;` or with whitespace at its ends, or a
/// thread without a root text beside threads with one (its first frame
/// could merge with their root).
///
/// For [`FlameGraphPruning`](stackconv_model::pruning::FlameGraphPruning),
/// so that a reader cuts stacks as [`write_pruned`] prunes them.
///
/// ```
/// use stackconv_collapsed::{folded::{self, WriteOptions}, prune};
/// let p = folded::read(b"main;a 1\nmain;b 2\n")?;
/// let keys = prune::drawn_keys(&p, &WriteOptions::default()).unwrap();
/// assert_eq!(keys.frames.len(), p.frames().len());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn drawn_keys(p: &Profile, opts: &WriteOptions) -> Option<DrawnKeys> {
    let (names, frame_name) = frame_names(p, opts)?;
    let mut first: Vec<Option<FrameId>> = vec![None; names.len()];
    let mut frames = Vec::with_capacity(frame_name.len());
    for ((f, _), &n) in p.frames().iter().zip(&frame_name) {
        let slot = first.get_mut(n as usize)?;
        frames.push(*slot.get_or_insert(f));
    }
    let root = resolve_root(p, opts.root);
    let mut group_of_text: HashMap<Option<String>, u32> = HashMap::new();
    let mut threads = Vec::with_capacity(p.threads().len());
    for (t, _) in p.threads().iter() {
        let text = root_text(p, t, root);
        if text.as_deref().is_some_and(unsafe_name) {
            return None;
        }
        let next = group_of_text.len() as u32;
        threads.push(*group_of_text.entry(text).or_insert(next));
    }
    if group_of_text.len() > 1 && group_of_text.contains_key(&None) {
        return None;
    }
    Some(DrawnKeys { frames, threads })
}

/// A sample's stack and weight.
type Leaf = (StackId, i64);

/// Whether pruning by tree could draw `name` differently from the folded
/// text: a `;` splits it into frames, whitespace at its ends is trimmed, a
/// line ending in an empty name or in one that reads as a count (see
/// [`ends_like_a_count`]) is read otherwise by inferno.
fn unsafe_name(name: &str) -> bool {
    name.contains(';') || name.trim() != name || name.is_empty() || ends_like_a_count(name)
}

/// The callees of each stack node.
enum Callees {
    /// The nodes are numbered in depth-first preorder (as
    /// `StackBatch::intern_into` numbers a fresh table: a node's subtree
    /// is the run of ids that starts at it): the size of each subtree.
    /// The callees of node `i` are `i + 1`, then each next one past the
    /// subtree of the one before, up to the end of `i`'s subtree.
    Preorder(Vec<u32>),
    /// Any other numbering: explicit lists.
    Lists(ChildLists),
}

impl Callees {
    fn new(nodes: &[StackNode]) -> Callees {
        match preorder_sizes(nodes) {
            Some(sizes) => Callees::Preorder(sizes),
            None => Callees::Lists(ChildLists::new(nodes)),
        }
    }
}

/// The size of each node's subtree when the nodes are numbered in
/// depth-first preorder (every subtree a run of ids starting at its root),
/// else `None`. One pass back to sum the sizes, one forward to check that
/// each node's caller is the innermost subtree still open before it.
fn preorder_sizes(nodes: &[StackNode]) -> Option<Vec<u32>> {
    let n = u32::try_from(nodes.len()).ok()?;
    let mut sizes = vec![1u32; nodes.len()];
    for i in (0..nodes.len()).rev() {
        let Some(p) = parent(nodes, i) else { continue };
        if p >= i {
            return None;
        }
        let size = sizes.get(i).copied()?;
        let s = sizes.get_mut(p)?;
        *s = s.checked_add(size)?;
    }
    // The subtrees open before node `i`, as (root, end) pairs.
    let mut open: Vec<(u32, u32)> = Vec::new();
    for (i, node) in (0..n).zip(nodes) {
        while open.last().is_some_and(|&(_, end)| end <= i) {
            open.pop();
        }
        let caller = node.parent.map(|p| p.index());
        if caller != open.last().map(|&(root, _)| root as usize) {
            return None;
        }
        let end = i.checked_add(sizes.get(i as usize).copied()?)?;
        if end > n || open.last().is_some_and(|&(_, e)| end > e) {
            return None;
        }
        open.push((i, end));
    }
    Some(sizes)
}

/// The callees of each stack node, as explicit lists.
struct ChildLists {
    /// Children of node `i`: `children[first[i]..first[i + 1]]`; the roots
    /// are the children of the virtual node `nodes.len()`.
    first: Vec<u32>,
    children: Vec<u32>,
}

impl ChildLists {
    fn new(nodes: &[StackNode]) -> ChildLists {
        let n = nodes.len();
        let slot = |node: &StackNode| node.parent.map_or(n, StackId::index);
        let mut first = vec![0u32; n + 2];
        for node in nodes {
            if let Some(c) = first.get_mut(slot(node) + 1) {
                *c += 1;
            }
        }
        for i in 1..first.len() {
            let prev = first.get(i - 1).copied().unwrap_or(0);
            if let Some(c) = first.get_mut(i) {
                *c += prev;
            }
        }
        let mut fill = first.clone();
        let mut children = vec![0u32; n];
        for (i, node) in nodes.iter().enumerate() {
            if let Some(at) = fill.get_mut(slot(node)) {
                if let Some(c) = children.get_mut(*at as usize) {
                    *c = i as u32;
                }
                *at += 1;
            }
        }
        ChildLists { first, children }
    }
}

/// The stack tree with callee lists and frame names.
struct Tree<'p> {
    nodes: &'p [StackNode],
    /// Name id of each frame.
    frame_name: &'p [u32],
    lists: Callees,
}

impl Tree<'_> {
    fn len(&self) -> usize {
        self.nodes.len()
    }

    /// The name id of node `i`'s frame.
    fn name(&self, i: u32) -> Option<u32> {
        let frame = self.nodes.get(i as usize)?.frame;
        self.frame_name.get(frame.index()).copied()
    }

    /// The children of `node` (`len()` for the roots).
    fn children(&self, node: usize) -> Children<'_> {
        match &self.lists {
            Callees::Lists(l) => {
                let start = l.first.get(node).copied().unwrap_or(0) as usize;
                let end = l.first.get(node + 1).copied().unwrap_or(0) as usize;
                Children::List(l.children.get(start..end).unwrap_or_default().iter())
            }
            Callees::Preorder(sizes) => {
                // The virtual root's subtree is every node.
                let (next, end) = if node >= sizes.len() {
                    (0, sizes.len())
                } else {
                    let size = sizes.get(node).map_or(1, |&s| s as usize);
                    (node + 1, node + size)
                };
                Children::Preorder { sizes, next, end }
            }
        }
    }

    /// Add to `lines` the lines of one root text's samples (loaded in `w`),
    /// in the order they sort in as a rule (see [`Tree::enter`]).
    fn emit(
        &self,
        w: &Weights,
        names: &[String],
        root_text: Option<&str>,
        min_weight: f64,
        lines: &mut Vec<String>,
    ) {
        // Depth-first over the groups of equal names; one text buffer
        // holds the path of the group being visited.
        struct Visit {
            text_len: usize,
            children: Vec<Group>,
            order: Vec<(usize, Part)>,
            next: usize,
        }
        let mut text = String::new();
        let mut stack: Vec<Visit> = Vec::new();
        // The root: the root text as a frame of its own, or no frame.
        let top = Group {
            name: None,
            text: root_text.map(str::to_string),
            members: vec![self.len() as u32],
            total: 0,
            own: 0,
        };
        let (children, order) = self.enter(&top, w, names, &mut text);
        stack.push(Visit {
            text_len: 0,
            children,
            order,
            next: 0,
        });
        // Consecutive lines of siblings too light to be drawn are one line
        // (the first's text, their summed weight) while that stays too
        // light: drawn alike, at the same place. A group's own line and
        // the line below it are summed only together: apart, inferno
        // would join the two lines back into one frame (they start with
        // it), its weight now with the other groups' too.
        let mut light = Light::default();
        while let Some(v) = stack.last_mut() {
            let Some((at, part, group)) = v
                .order
                .get(v.next)
                .and_then(|&(i, part)| Some((i, part, v.children.get(i)?)))
            else {
                light.flush(lines);
                let len = v.text_len;
                stack.pop();
                text.truncate(len);
                continue;
            };
            v.next += 1;
            let Some(name) = group.name.and_then(|n| names.get(n as usize)) else {
                continue;
            };
            if (group.total as f64) >= min_weight {
                light.flush(lines);
                match part {
                    // Its own samples' line, as in the full text.
                    Part::Own if group.own != 0 => {
                        lines.push(format!("{}{name} {}", Sep(&text), group.own));
                    }
                    Part::Own => {}
                    Part::Below => {
                        let text_len = text.len();
                        let (children, order) = self.enter(group, w, names, &mut text);
                        stack.push(Visit {
                            text_len,
                            children,
                            order,
                            next: 0,
                        });
                    }
                }
                continue;
            }
            // Not drawn: its own samples' line `text;name <own>` as in the
            // full text; the lines below it sort as `text;name;...` and
            // become one line through one of its callees.
            let whole = part == Part::Own && v.order.get(v.next) == Some(&(at, Part::Below));
            if whole {
                v.next += 1;
            }
            let own = match part {
                Part::Own => group.own,
                Part::Below => 0,
            };
            let below = if whole || part == Part::Below {
                group.total.saturating_sub(group.own)
            } else {
                0
            };
            let callee = (below != 0)
                .then(|| {
                    group.members.iter().find_map(|&m| {
                        self.children(m as usize)
                            .find(|&c| w.total(c) != 0)
                            .and_then(|c| names.get(self.name(c)? as usize))
                    })
                })
                .flatten();
            let below = if callee.is_some() { below } else { 0 };
            if whole {
                let weight = own.saturating_add(below);
                if weight != 0 {
                    let line = || match (own, callee) {
                        (0, Some(callee)) => format!("{}{name};{callee}", Sep(&text)),
                        _ => format!("{}{name}", Sep(&text)),
                    };
                    light.add(line, weight, min_weight, lines);
                }
                continue;
            }
            // One part of a group whose other part sorts elsewhere: a line
            // of its own.
            light.flush(lines);
            if own != 0 {
                lines.push(format!("{}{name} {own}", Sep(&text)));
            }
            if let Some(callee) = callee.filter(|_| below != 0) {
                lines.push(format!("{}{name};{callee} {below}", Sep(&text)));
            }
        }
    }

    /// Enter a kept group: extend `text` by its name; return its child
    /// groups, and the order of their parts' lines: as their names
    /// followed by ` ` (own line) or `;` (the lines below) sort, which is
    /// the order of the lines but where a name continues with a space or
    /// with the digits of another's weight (`a` and `a b`).
    fn enter(
        &self,
        group: &Group,
        w: &Weights,
        names: &[String],
        text: &mut String,
    ) -> (Vec<Group>, Vec<(usize, Part)>) {
        let name = match (&group.text, group.name) {
            (Some(t), _) => Some(t.as_str()),
            (None, Some(n)) => names.get(n as usize).map(String::as_str),
            (None, None) => None,
        };
        if let Some(name) = name {
            if !text.is_empty() {
                text.push(';');
            }
            text.push_str(name);
        }
        // Child groups by name.
        let mut by_name: FxHashMap<u32, usize> = FxHashMap::default();
        let mut groups: Vec<Group> = Vec::new();
        for &m in &group.members {
            for c in self.children(m as usize) {
                let total = w.total(c);
                if total == 0 {
                    continue;
                }
                let n = self.name(c).unwrap_or(0);
                let at = *by_name.entry(n).or_insert_with(|| {
                    groups.push(Group {
                        name: Some(n),
                        text: None,
                        members: Vec::new(),
                        total: 0,
                        own: 0,
                    });
                    groups.len() - 1
                });
                if let Some(g) = groups.get_mut(at) {
                    g.members.push(c);
                    g.total = g.total.saturating_add(total);
                    g.own = g.own.saturating_add(w.own(c));
                }
            }
        }
        // Each part's key: its group's name and the byte after it. The
        // keys are distinct (a name is one group), so an unstable sort
        // orders them as a stable one would.
        let name_of: Vec<&[u8]> = groups
            .iter()
            .map(|g| {
                g.name
                    .and_then(|n| names.get(n as usize))
                    .map_or(&[][..], |n| n.as_bytes())
            })
            .collect();
        let mut order: Vec<(usize, Part)> = (0..groups.len())
            .flat_map(|i| [(i, Part::Own), (i, Part::Below)])
            .collect();
        order.sort_unstable_by(|&(a, pa), &(b, pb)| {
            let name = |i: usize| name_of.get(i).copied().unwrap_or_default();
            key_order(name(a), pa.end(), name(b), pb.end())
        });
        (groups, order)
    }
}

/// Lines of siblings too light to be drawn, being summed into one.
#[derive(Default)]
struct Light {
    /// The first line's text and the weight so far.
    line: Option<(String, i64)>,
}

impl Light {
    /// Add a line (its text, made when needed) of weight `weight`: to the
    /// line being summed while the sum stays lighter than `min_weight`,
    /// else as the start of another.
    fn add(
        &mut self,
        text: impl FnOnce() -> String,
        weight: i64,
        min_weight: f64,
        lines: &mut Vec<String>,
    ) {
        if let Some((_, sum)) = &mut self.line {
            let more = sum.saturating_add(weight);
            if (more as f64) < min_weight {
                *sum = more;
                return;
            }
        }
        self.flush(lines);
        self.line = Some((text(), weight));
    }

    /// Write the line being summed.
    fn flush(&mut self, lines: &mut Vec<String>) {
        if let Some((text, weight)) = self.line.take() {
            lines.push(format!("{text} {weight}"));
        }
    }
}

/// Whether inferno would read the end of a line ending in frame `name` as
/// a count (the first of two columns, as in a differential graph): its
/// last space-separated word is digits with at most one `.` (or empty).
fn ends_like_a_count(name: &str) -> bool {
    let Some((_, word)) = name.rsplit_once(' ') else {
        return false;
    };
    let mut dots = 0;
    word.chars().all(|c| {
        dots += usize::from(c == '.');
        c.is_ascii_digit() || (c == '.' && dots == 1)
    })
}

/// The lines of a child group: those of its own samples, or those below it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Part {
    Own,
    Below,
}

impl Part {
    /// The byte after the group's name in its lines.
    fn end(self) -> u8 {
        match self {
            Part::Own => b' ',
            Part::Below => b';',
        }
    }
}

/// How `a` followed by the byte `a_end` orders against `b` followed by
/// `b_end`, in byte order: the names compared as slices (not byte by
/// byte through an iterator), then the first byte past the shorter.
fn key_order(a: &[u8], a_end: u8, b: &[u8], b_end: u8) -> std::cmp::Ordering {
    let n = a.len().min(b.len());
    let (head_a, head_b) = (
        a.get(..n).unwrap_or_default(),
        b.get(..n).unwrap_or_default(),
    );
    head_a.cmp(head_b).then_with(|| {
        let next_a = a.get(n).copied().unwrap_or(a_end);
        let next_b = b.get(n).copied().unwrap_or(b_end);
        // Equal so far: the key that ends first (its name was the shorter,
        // its end byte the longer name's next) sorts first.
        next_a.cmp(&next_b).then_with(|| a.len().cmp(&b.len()))
    })
}

/// A path's text followed by `;` unless empty, to write a child's line.
struct Sep<'a>(&'a str);

impl std::fmt::Display for Sep<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.0.is_empty() {
            Ok(())
        } else {
            write!(f, "{};", self.0)
        }
    }
}

/// The callees of one node, in increasing id order.
enum Children<'a> {
    List(std::slice::Iter<'a, u32>),
    Preorder {
        sizes: &'a [u32],
        next: usize,
        end: usize,
    },
}

impl Iterator for Children<'_> {
    type Item = u32;

    fn next(&mut self) -> Option<u32> {
        match self {
            Children::List(it) => it.next().copied(),
            Children::Preorder { sizes, next, end } => {
                if *next >= *end {
                    return None;
                }
                let c = *next;
                // A size of 0 cannot occur (every subtree holds its root);
                // stepping by at least 1 keeps the walk finite anyway.
                *next = c + sizes.get(c).map_or(1, |&s| (s as usize).max(1));
                u32::try_from(c).ok()
            }
        }
    }
}

/// The caller of node `i`.
fn parent(nodes: &[StackNode], i: usize) -> Option<usize> {
    nodes.get(i)?.parent.map(StackId::index)
}

/// Frames of equal name under one kept path.
struct Group {
    /// Name id, `None` for the root.
    name: Option<u32>,
    /// The root text, for a root that is one.
    text: Option<String>,
    /// Its stack nodes (the virtual root `Tree::len()` for the root).
    members: Vec<u32>,
    /// Weight of the samples at or below its nodes.
    total: i64,
    /// Weight of the samples that end at its nodes.
    own: i64,
}

/// Per node weights of one root text's samples: total (at or below the
/// node) by node, own (ending at the node) for the nodes samples end at,
/// and the nodes touched, so that clearing costs what loading did.
struct Weights {
    total: Vec<i64>,
    own: HashMap<u32, i64>,
    touched: Vec<u64>,
}

impl Weights {
    // Deliberate: see the comment on `total`.
    #[allow(clippy::slow_vector_initialization)]
    fn new(n: usize) -> Weights {
        // Zeroed by writing, not by a fresh zero mapping (`vec![0; n]`):
        // the first pass reads each total before writing it, and a page
        // of the zero mapping would fault twice, once per access.
        let mut total = Vec::with_capacity(n);
        total.resize(n, 0);
        Weights {
            total,
            own: HashMap::new(),
            touched: vec![0; n.div_ceil(64)],
        }
    }

    fn is_touched(&self, i: usize) -> bool {
        self.touched
            .get(i / 64)
            .is_some_and(|w| w & (1 << (i % 64)) != 0)
    }

    fn own(&self, i: u32) -> i64 {
        self.own.get(&i).copied().unwrap_or(0)
    }

    fn total(&self, i: u32) -> i64 {
        self.total.get(i as usize).copied().unwrap_or(0)
    }

    fn add_own(&mut self, samples: &[Leaf]) {
        for &(stack, v) in samples {
            let i = stack.index();
            if let Some(t) = self.total.get_mut(i) {
                *t = t.saturating_add(v);
                let own = self.own.entry(i as u32).or_insert(0);
                *own = own.saturating_add(v);
            }
        }
    }

    /// Add node `i`'s total to its caller's.
    fn add_to_caller(&mut self, nodes: &[StackNode], i: usize) {
        let t = self.total.get(i).copied().unwrap_or(0);
        if let Some(x) = parent(nodes, i).and_then(|p| self.total.get_mut(p)) {
            *x = x.saturating_add(t);
        }
    }

    /// Add `samples`' weights to their nodes and every caller, visiting
    /// every node of the tree (for samples that reach most of them).
    fn load_all(&mut self, nodes: &[StackNode], samples: &[Leaf]) {
        self.add_own(samples);
        // Callees have larger ids than their callers: sum from the end.
        for i in (0..nodes.len()).rev() {
            self.add_to_caller(nodes, i);
        }
    }

    /// Add `samples`' weights to their nodes and every caller, visiting
    /// only the nodes they reach.
    fn load(&mut self, nodes: &[StackNode], samples: &[Leaf]) {
        self.add_own(samples);
        for &(stack, _) in samples {
            // Mark the path up to the first node already marked.
            let mut at = Some(stack.index());
            while let Some(i) = at.filter(|&i| i < nodes.len() && !self.is_touched(i)) {
                if let Some(word) = self.touched.get_mut(i / 64) {
                    *word |= 1 << (i % 64);
                }
                at = parent(nodes, i);
            }
        }
        // Callees have larger ids than their callers: sum from the end.
        for wi in (0..self.touched.len()).rev() {
            let mut word = self.touched.get(wi).copied().unwrap_or(0);
            while word != 0 {
                let bit = 63 - word.leading_zeros() as usize;
                word &= !(1 << bit);
                self.add_to_caller(nodes, wi * 64 + bit);
            }
        }
    }

    /// Zero what [`Weights::load`] set.
    fn clear(&mut self) {
        for wi in 0..self.touched.len() {
            let mut word = self.touched.get(wi).copied().unwrap_or(0);
            while word != 0 {
                let bit = word.trailing_zeros() as usize;
                word &= word - 1;
                if let Some(x) = self.total.get_mut(wi * 64 + bit) {
                    *x = 0;
                }
            }
            if let Some(w) = self.touched.get_mut(wi) {
                *w = 0;
            }
        }
        self.own.clear();
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn key_order_is_byte_order_of_name_and_end() {
        // Every name of up to three bytes of an alphabet with the end
        // bytes in it, against every other, each with either end byte.
        let alphabet = [b' ', b';', b'a', b'b'];
        let mut names: Vec<Vec<u8>> = vec![Vec::new()];
        for len in 1..=3u32 {
            for code in 0..alphabet.len().pow(len) {
                let mut c = code;
                let name = (0..len)
                    .map(|_| {
                        let b = alphabet[c % alphabet.len()];
                        c /= alphabet.len();
                        b
                    })
                    .collect();
                names.push(name);
            }
        }
        for a in &names {
            for b in &names {
                for (ea, eb) in [(b' ', b' '), (b' ', b';'), (b';', b' '), (b';', b';')] {
                    let whole = |n: &[u8], e: u8| [n, &[e]].concat();
                    assert_eq!(
                        super::key_order(a, ea, b, eb),
                        whole(a, ea).cmp(&whole(b, eb)),
                        "{a:?}+{ea} against {b:?}+{eb}"
                    );
                }
            }
        }
    }

    #[test]
    fn names_read_as_counts() {
        for name in ["f 12", "f 1.5", "a b 7", "f ", "x 1."] {
            assert!(super::ends_like_a_count(name), "{name}");
        }
        for name in [
            "f",
            "12",
            "f 1.2.3",
            "f 12a",
            "Queue.get (queue.py:171)",
            "",
        ] {
            assert!(!super::ends_like_a_count(name), "{name}");
        }
    }

    #[test]
    fn light_siblings_are_summed_while_too_light() {
        use super::Light;
        let mut lines = Vec::new();
        let mut light = Light::default();
        for (text, weight) in [("p;a", 1), ("p;b", 1), ("p;c", 1), ("p;d", 2), ("p;e", 0)] {
            light.add(|| text.to_string(), weight, 3.0, &mut lines);
        }
        light.flush(&mut lines);
        // a+b (2: with c it would be 3, drawn), then c+d would be 3 too.
        assert_eq!(lines, ["p;a 2", "p;c 1", "p;d 2"]);
    }

    use super::*;

    /// Nodes whose callers are the nodes at the given indexes (distinct
    /// frames, so that no two nodes are equal).
    fn table(parents: &[Option<usize>]) -> Vec<StackNode> {
        let mut p = stackconv_model::Profile::new(vec![]);
        let mut ids: Vec<StackId> = Vec::new();
        for (i, &parent) in parents.iter().enumerate() {
            let frame = p.intern_frame_named(&format!("f{i}"), stackconv_model::FrameKind::Native);
            let parent = parent.map(|j| ids[j]);
            ids.push(p.stacks_mut().intern(StackNode { parent, frame }));
        }
        p.stacks().nodes().to_vec()
    }

    fn callees(c: &Callees, nodes: &[StackNode], node: usize) -> Vec<u32> {
        let frame_name = [0u32];
        let tree = Tree {
            nodes,
            frame_name: &frame_name,
            lists: match c {
                Callees::Preorder(s) => Callees::Preorder(s.clone()),
                Callees::Lists(_) => Callees::Lists(ChildLists::new(nodes)),
            },
        };
        tree.children(node).collect()
    }

    #[test]
    fn preorder_callees_match_lists() {
        // 0 -> (1 -> 2, 3), 4 -> 5; roots 0 and 4.
        let nodes = table(&[None, Some(0), Some(1), Some(0), None, Some(4)]);
        let sizes = preorder_sizes(&nodes).unwrap();
        assert_eq!(sizes, vec![4, 2, 1, 1, 2, 1]);
        let pre = Callees::Preorder(sizes);
        let lists = Callees::Lists(ChildLists::new(&nodes));
        for node in 0..=nodes.len() {
            assert_eq!(
                callees(&pre, &nodes, node),
                callees(&lists, &nodes, node),
                "callees of {node}"
            );
        }
        assert_eq!(callees(&pre, &nodes, nodes.len()), vec![0, 4]);
    }

    #[test]
    fn other_numberings_are_not_preorder() {
        // 2's caller 0 is not the innermost open subtree (1 is).
        assert!(preorder_sizes(&table(&[None, Some(0), Some(0), Some(1)])).is_none());
        // A root while a subtree is open is fine only when it is closed.
        assert!(preorder_sizes(&table(&[None, None, Some(0)])).is_none());
        assert!(preorder_sizes(&table(&[])).is_some());
    }
}
