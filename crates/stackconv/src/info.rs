//! `stackconv info`: what a profile holds.

use std::collections::BTreeMap;
use std::fmt;

use stackconv_model::Profile;

/// A summary of a profile: format, events, samples, weight per value column,
/// threads, time span, and what was lost or not resolved.
///
/// ```
/// use stackconv::{read_bytes, ReadOptions, Summary};
/// let p = read_bytes(b"main;work 3\nmain;idle 1\n", &ReadOptions::default())?;
/// let s = Summary::of(&p);
/// assert_eq!(s.samples, 4); // folded counts are samples
/// assert_eq!(s.totals[0].2, 4);
/// assert!(s.to_string().contains("weight"));
/// # Ok::<(), stackconv::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Summary {
    /// The input format.
    pub format: String,
    /// Event names.
    pub events: Vec<String>,
    /// Samples: the total of the `samples` count column when the profile
    /// has one, else the number of sample rows.
    pub samples: usize,
    /// Distinct stacks.
    pub distinct_stacks: usize,
    /// (kind, unit, total) per value column.
    pub totals: Vec<(String, String, i64)>,
    /// The column single-value outputs show.
    pub default_value: usize,
    /// The threads that have samples.
    pub threads: Vec<ThreadSummary>,
    /// First and last timestamp, nanoseconds.
    pub time_span_ns: Option<(u64, u64)>,
    /// Losses: (what, count).
    pub losses: Vec<(String, u64)>,
    /// Warnings.
    pub warnings: Vec<String>,
}

/// One thread of a [`Summary`].
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ThreadSummary {
    /// Process id.
    pub pid: Option<u32>,
    /// Thread id.
    pub tid: Option<u32>,
    /// Process name.
    pub process: String,
    /// Thread name.
    pub thread: String,
    /// Sample rows of this thread.
    pub rows: usize,
}

impl Summary {
    /// Summarize `p`.
    pub fn of(p: &Profile) -> Summary {
        let mut per_thread: BTreeMap<usize, usize> = BTreeMap::new();
        for t in p.samples().threads() {
            *per_thread.entry(t.index()).or_default() += 1;
        }
        let threads = p
            .threads()
            .iter()
            .filter_map(|(id, t)| {
                let n = per_thread.get(&id.index()).copied()?;
                Some(ThreadSummary {
                    pid: t.pid,
                    tid: t.tid,
                    process: p.str(t.process_name).to_string(),
                    thread: p.str(t.thread_name).to_string(),
                    rows: n,
                })
            })
            .collect();
        let distinct: std::collections::HashSet<_> = p.samples().stacks().iter().collect();
        let time_span_ns = p.samples().times().and_then(|t| {
            let min = t.iter().min()?;
            let max = t.iter().max()?;
            Some((*min, *max))
        });
        Summary {
            format: p.meta().source_format.clone(),
            events: p.meta().events.clone(),
            // The `samples` column counts samples even where the reader
            // folded equal ones into one row.
            samples: p
                .value_index("samples")
                .and_then(|c| usize::try_from(p.total(c)).ok())
                .unwrap_or(p.samples().len()),
            distinct_stacks: distinct.len(),
            totals: p
                .value_types()
                .iter()
                .enumerate()
                .map(|(i, v)| (v.kind.clone(), v.unit.clone(), p.total(i)))
                .collect(),
            default_value: p.meta().default_value,
            threads,
            time_span_ns,
            losses: p
                .meta()
                .losses
                .iter()
                .map(|l| (l.what.clone(), l.count))
                .collect(),
            warnings: p.meta().warnings.clone(),
        }
    }
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "format:          {}", self.format)?;
        if !self.events.is_empty() {
            writeln!(f, "events:          {}", self.events.join(", "))?;
        }
        writeln!(f, "samples:         {}", self.samples)?;
        writeln!(f, "distinct stacks: {}", self.distinct_stacks)?;
        for (i, (kind, unit, total)) in self.totals.iter().enumerate() {
            let mark = if i == self.default_value {
                " (shown)"
            } else {
                ""
            };
            writeln!(f, "weight:          {total} {unit} of {kind}{mark}")?;
        }
        if let Some((a, b)) = self.time_span_ns {
            let secs = b.saturating_sub(a) as f64 / 1e9;
            writeln!(f, "time span:       {secs:.3} s")?;
        }
        writeln!(f, "threads:         {}", self.threads.len())?;
        for ThreadSummary {
            pid,
            tid,
            process,
            thread,
            rows: n,
        } in &self.threads
        {
            let id = |v: &Option<u32>| v.map_or("-".to_string(), |v| v.to_string());
            let name = if process.is_empty() || process == thread {
                thread.clone()
            } else {
                format!("{process}/{thread}")
            };
            writeln!(
                f,
                "  {:>7} {:>7}  {:<24} {n} samples",
                id(pid),
                id(tid),
                name
            )?;
        }
        if self.losses.is_empty() {
            writeln!(f, "lost:            nothing")?;
        } else {
            writeln!(f, "lost:")?;
            for (what, n) in &self.losses {
                writeln!(f, "  {n:>9}  {what}")?;
            }
        }
        for w in &self.warnings {
            writeln!(f, "warning: {w}")?;
        }
        Ok(())
    }
}
