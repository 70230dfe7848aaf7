//! Functions by self and cumulative weight, like `go tool pprof -top`.
//!
//! Semantics from pprof (`internal/graph/graph.go`, `internal/report`):
//!
//! - a function is a frame name (pprof's default `functions` granularity:
//!   lines and addresses do not split a function; a py-spy name
//!   `func (file.py:12)` counts as `func (file.py)`); inlined frames are
//!   functions of their own, as pprof lists them;
//! - *flat* is the weight of the samples whose leaf frame is the function;
//!   *cum* the weight of the samples whose stack contains it at least once
//!   (recursion counted once per sample);
//! - rows are sorted by |flat| descending, then by name (byte order), then
//!   by |cum| descending (`Nodes.Sort(FlatNameOrder)`);
//! - percentages are of the total, the sum of the absolute values of the
//!   column (`computeTotal`); *sum%* is the running sum of flat%;
//! - samples of zero weight in the column are skipped, so functions seen
//!   only in them are not listed (`graph.New`);
//! - `-top` hides functions whose |cum| is below `nodefraction` (0.005) of
//!   the total ([`TopOptions::node_fraction`]; [`top`] hides nothing).
//!
//! ```
//! use stackconv_ops::top::top;
//! use stackconv_model::{FrameKind, Profile, ValueType};
//!
//! let mut p = Profile::new(vec![ValueType::new("samples", "count")]);
//! let t = p.intern_thread(Default::default());
//! for (names, n) in [(&["main", "f", "f"][..], 6), (&["main", "g"][..], 3), (&["main"][..], 1)] {
//!     let frames: Vec<_> = names.iter().map(|n| p.intern_frame_named(n, FrameKind::Native)).collect();
//!     let s = p.intern_stack_frames(frames);
//!     p.push_sample(s, t, None, &[n]);
//! }
//! let rows = top(&p, 0);
//! let got: Vec<_> = rows.iter().map(|r| (r.name.as_str(), r.flat, r.cum)).collect();
//! assert_eq!(got, [("f", 6, 6), ("g", 3, 3), ("main", 1, 10)]);
//! assert_eq!(rows[1].sum_pct, 90.0);
//! ```

use std::collections::HashMap;

use crate::transform::function_name;
use stackconv_model::Profile;
use stackconv_model::StackId;
use stackconv_model::StringId;

/// One function of [`top`].
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct TopRow {
    /// The function's name.
    pub name: String,
    /// Self weight: samples whose leaf is this function.
    pub flat: i64,
    /// `flat` as a percentage of the total.
    pub flat_pct: f64,
    /// The running sum of `flat_pct` down to this row.
    pub sum_pct: f64,
    /// Cumulative weight: samples whose stack contains this function.
    pub cum: i64,
    /// `cum` as a percentage of the total.
    pub cum_pct: f64,
}

/// Options of [`top_with`].
#[derive(Clone, Debug, Default)]
#[non_exhaustive]
pub struct TopOptions {
    /// The value column.
    pub column: usize,
    /// The total percentages are of; `None`: the profile's total (sum of
    /// absolute values). pprof computes it before `-focus` and friends
    /// drop samples, so a caller that filtered passes the input's total.
    pub total: Option<i64>,
    /// Hide functions whose |cum| is below this fraction of the profile's
    /// total (pprof `-nodefraction`, 0.005 for `-top`); 0 hides nothing.
    pub node_fraction: f64,
}

/// The result of [`top_with`].
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct Top {
    /// The functions shown, sorted.
    pub rows: Vec<TopRow>,
    /// The total the percentages are of.
    pub total: i64,
    /// How many functions `node_fraction` hid.
    pub dropped_nodes: usize,
}

/// Function identity: the function-granularity name, looked up once per
/// frame name.
#[derive(Default)]
struct Functions {
    names: Vec<String>,
    index: HashMap<String, usize>,
    by_name: HashMap<StringId, usize>,
}

impl Functions {
    fn of(&mut self, p: &Profile, f: stackconv_model::FrameId) -> usize {
        let frame = p.frame(f);
        if let Some(&i) = self.by_name.get(&frame.name) {
            return i;
        }
        let n = function_name(p.str(frame.name), frame.kind).into_owned();
        let i = match self.index.get(&n) {
            Some(&i) => i,
            None => {
                self.names.push(n.clone());
                let i = self.names.len().saturating_sub(1);
                self.index.insert(n, i);
                i
            }
        };
        self.by_name.insert(frame.name, i);
        i
    }
}

/// Every function of `p` by flat weight in value column `column`,
/// percentages of the profile's total.
pub fn top(p: &Profile, column: usize) -> Vec<TopRow> {
    top_with(
        p,
        &TopOptions {
            column,
            ..TopOptions::default()
        },
    )
    .rows
}

/// [`top`] with options.
pub fn top_with(p: &Profile, o: &TopOptions) -> Top {
    let mut funcs = Functions::default();
    // Per distinct stack: (leaf function, distinct functions).
    let mut per_stack: HashMap<StackId, (usize, Vec<usize>)> = HashMap::new();
    let mut flat: Vec<i64> = Vec::new();
    let mut cum: Vec<i64> = Vec::new();
    let mut abs_total: i64 = 0;
    for i in 0..p.samples().len() {
        let v = p.value(o.column, i);
        abs_total = abs_total.saturating_add(v.saturating_abs());
        if v == 0 {
            // graph.New skips samples of zero weight: their functions are
            // not listed.
            continue;
        }
        let Some(stack) = p.samples().stacks().get(i).copied().flatten() else {
            continue;
        };
        let entry = per_stack.entry(stack).or_insert_with(|| {
            let frames = p.stacks().frames(stack);
            let mut ids: Vec<usize> = frames.iter().map(|&f| funcs.of(p, f)).collect();
            let leaf = ids.last().copied().unwrap_or(0);
            ids.sort_unstable();
            ids.dedup();
            (leaf, ids)
        });
        let needed = funcs.names.len();
        if flat.len() < needed {
            flat.resize(needed, 0);
            cum.resize(needed, 0);
        }
        if let Some(f) = flat.get_mut(entry.0) {
            *f = f.saturating_add(v);
        }
        for &fun in &entry.1 {
            if let Some(c) = cum.get_mut(fun) {
                *c = c.saturating_add(v);
            }
        }
    }
    let total = o.total.unwrap_or(abs_total);
    // getNodesAboveCumCutoff: keep |cum| >= cutoff, cutoff from the
    // profile's own total (the graph's node sum).
    let cutoff = (abs_total as f64 * o.node_fraction) as i64;
    let names = funcs.names;
    let mut order: Vec<usize> = (0..names.len()).collect();
    let before = order.len();
    order.retain(|&i| cum.get(i).copied().unwrap_or(0).saturating_abs() >= cutoff.saturating_abs());
    let dropped_nodes = before.saturating_sub(order.len());
    let get = |v: &[i64], i: usize| v.get(i).copied().unwrap_or(0).saturating_abs();
    order.sort_by(|&a, &b| {
        get(&flat, b)
            .cmp(&get(&flat, a))
            .then_with(|| names.get(a).cmp(&names.get(b)))
            .then_with(|| get(&cum, b).cmp(&get(&cum, a)))
    });
    let pct = |v: i64| {
        if total == 0 {
            0.0
        } else {
            (v as f64 / total as f64).abs() * 100.0
        }
    };
    let mut flat_sum = 0i64;
    let rows = order
        .into_iter()
        .map(|i| {
            let f = flat.get(i).copied().unwrap_or(0);
            let c = cum.get(i).copied().unwrap_or(0);
            flat_sum = flat_sum.saturating_add(f);
            TopRow {
                name: names.get(i).cloned().unwrap_or_default(),
                flat: f,
                flat_pct: pct(f),
                sum_pct: pct(flat_sum),
                cum: c,
                cum_pct: pct(c),
            }
        })
        .collect();
    Top {
        rows,
        total,
        dropped_nodes,
    }
}

/// A percentage as pprof prints it (`measurement.Percentage`): `  100%`
/// near 100, two decimals from 1 up, two significant digits below.
///
/// ```
/// use stackconv_ops::top::format_percentage;
/// assert_eq!(format_percentage(12.3456), "12.35%");
/// assert_eq!(format_percentage(100.0), "  100%");
/// assert_eq!(format_percentage(0.5), "  0.5%");
/// assert_eq!(format_percentage(0.0), "    0%");
/// ```
pub fn format_percentage(pct: f64) -> String {
    let r = pct.abs();
    if (99.95..=100.05).contains(&r) {
        "  100%".to_string()
    } else if r >= 1.0 {
        format!("{r:5.2}%")
    } else {
        format!("{:>5}%", format_g2(r))
    }
}

/// Go's `%.2g` for a non-negative number below 1.
fn format_g2(v: f64) -> String {
    if v == 0.0 {
        return "0".to_string();
    }
    // Two significant digits, in exponent form below 1e-4 as Go does.
    let exp = v.log10().floor() as i32;
    if exp < -4 {
        let s = format!("{v:.1e}");
        // Rust writes 1.2e-5; Go writes 1.2e-05.
        return match s.split_once('e') {
            Some((m, e)) => {
                let m = m.trim_end_matches('0').trim_end_matches('.');
                let (sign, digits) = e.strip_prefix('-').map_or(("+", e), |d| ("-", d));
                format!("{m}e{sign}{digits:0>2}")
            }
            None => s,
        };
    }
    let decimals = usize::try_from(1 - exp).unwrap_or(0);
    let s = format!("{v:.decimals$}");
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    }
}
