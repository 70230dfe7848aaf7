//! The `diff` and `top` commands.

use std::io::Write;
use std::path::PathBuf;

use clap::Args;
use stackconv::collapsed::folded::RootFrame;
use stackconv::ops::top::{format_percentage, top_with, TopOptions};
use stackconv::{OutputFormat, Profile};

use crate::common::{
    maps_beside, output_format, output_format_parser, read_with_progress, report, report_dropped,
    report_title, usage, value_usage, Failure,
};
use crate::options::{InputArgs, ProcessArgs};

/// `stackconv diff BEFORE AFTER -o OUT`.
#[derive(Args, Debug)]
pub struct DiffArgs {
    /// The profile before the change.
    pub before: PathBuf,
    /// The profile after the change.
    pub after: PathBuf,
    /// Output: `.svg` differential flame graph (red slower, blue faster,
    /// violet: frames only before), `.folded` two-column form
    /// (`stack before after`), `.pb.gz` pprof delta (after - before),
    /// `.html` differential report.
    #[arg(short, long, value_name = "OUT")]
    pub output: PathBuf,
    /// Output format: svg, html, folded or pprof (default: from the
    /// extension).
    #[arg(long, value_name = "FORMAT", value_parser = output_format_parser())]
    pub to: Option<OutputFormat>,
    /// Scale the before weights to the after total.
    #[arg(short, long)]
    pub normalize: bool,
    /// Put `comm-pid` as the root frame.
    #[arg(long)]
    pub per_process: bool,
    /// Put `comm-pid/tid` as the root frame.
    #[arg(long, conflicts_with = "per_process")]
    pub per_thread: bool,
    /// SVG title.
    #[arg(long)]
    pub title: Option<String>,
    #[command(flatten)]
    pub input: InputArgs,
    #[command(flatten)]
    pub process: ProcessArgs,
    /// Do not report dropped or unresolved data on stderr.
    #[arg(short, long)]
    pub quiet: bool,
    /// Write the output even when it is also an input.
    #[arg(long)]
    pub force: bool,
}

/// `stackconv top IN...` and `stackconv waits IN...`: inputs, filters,
/// how many rows.
#[derive(Args, Debug)]
pub struct ListArgs {
    /// Input files; several are merged.
    #[arg(required = true)]
    pub inputs: Vec<PathBuf>,
    /// How many rows to list.
    #[arg(short = 'n', long, default_value_t = 20)]
    pub count: usize,
    #[command(flatten)]
    pub input: InputArgs,
    #[command(flatten)]
    pub process: ProcessArgs,
    /// Do not report dropped or unresolved data on stderr.
    #[arg(short, long)]
    pub quiet: bool,
}

impl ListArgs {
    /// Read, merge, filter and transform the inputs, reporting what was
    /// lost and dropped; also the input totals (before filters).
    /// With `fold`, samples are folded while read (when no filter needs
    /// their times).
    fn load(&self, fold: bool) -> Result<(Profile, Vec<i64>), Failure> {
        let p = read_all(
            &self.inputs,
            &self.input,
            self.process.needs_lines(),
            fold && self.process.can_fold(),
            self.quiet,
        )?;
        let totals = p.totals();
        let opts = self.process.options_for(&self.input, &p, self.quiet)?;
        let processed = stackconv::process(p, &opts).map_err(value_usage)?;
        let p = processed.profile;
        report(&p, self.quiet);
        report_dropped(
            &p,
            &totals,
            &processed.dropped,
            &processed.warnings,
            self.quiet,
        );
        Ok((p, totals))
    }
}

/// Read and merge `paths`; with source lines only when `lines` (the lists
/// and diffs show function names); folded while read when `fold` (the
/// lists and diffs show no time order).
fn read_all(
    paths: &[PathBuf],
    input: &InputArgs,
    lines: bool,
    fold: bool,
    quiet: bool,
) -> Result<Profile, Failure> {
    let mut opts = input.read_options();
    maps_beside(&mut opts, paths);
    opts.perf.symbols.lines = lines;
    opts.perf.fold = fold;
    opts.fold = fold;
    let mut profiles = Vec::with_capacity(paths.len());
    for p in paths {
        profiles.push(read_with_progress(p, &opts, quiet)?);
    }
    if profiles.len() == 1 {
        Ok(profiles.pop().unwrap_or_default())
    } else {
        stackconv::model::merge(&profiles).map_err(|e| usage(e.to_string()))
    }
}

/// Read, filter and transform one input of a diff.
fn diff_side(path: &PathBuf, a: &DiffArgs) -> Result<Profile, Failure> {
    let p = read_all(
        std::slice::from_ref(path),
        &a.input,
        a.process.needs_lines(),
        a.process.can_fold(),
        a.quiet,
    )?;
    let totals = p.totals();
    let opts = a.process.options_for(&a.input, &p, a.quiet)?;
    let processed = stackconv::process(p, &opts).map_err(value_usage)?;
    report(&processed.profile, a.quiet);
    report_dropped(
        &processed.profile,
        &totals,
        &processed.dropped,
        &processed.warnings,
        a.quiet,
    );
    Ok(processed.profile.into_folded())
}

pub fn diff(a: DiffArgs) -> Result<(), Failure> {
    let format = output_format(a.to, &a.output)?;
    if !stackconv::DIFF_FORMATS.contains(&format) {
        return Err(usage(format!(
            "diff writes svg, html, folded or pprof, not {format}"
        )));
    }
    let mut opts = stackconv::DiffOptions::default();
    opts.root = if a.per_thread {
        RootFrame::CommPidTid
    } else if a.per_process {
        RootFrame::CommPid
    } else {
        RootFrame::Auto
    };
    opts.normalize = a.normalize;
    opts.title = a.title.clone();
    if format == OutputFormat::Html && opts.title.is_none() {
        let inputs = [a.before.clone(), a.after.clone()];
        opts.title = Some(format!("{} (differential)", report_title(&inputs)));
    }
    // Checked before the inputs are read: a bad output fails at once.
    let out = stackconv::Output::prepare(&a.output, &[a.before.clone(), a.after.clone()], a.force)?;
    let before = diff_side(&a.before, &a)?;
    let after = diff_side(&a.after, &a)?;
    let d = stackconv::diff(&before, &after, &opts).map_err(Failure::Run)?;
    out.write_with(|w| stackconv::write_diff(&d, format, &opts, w))
        .map_err(Failure::Run)
}

pub fn top(a: ListArgs) -> Result<(), Failure> {
    let (p, totals) = a.load(true)?;
    let column = p.meta().default_value;
    let mut o = TopOptions::default();
    o.column = column;
    // Percentages of the input's total, as pprof computes them before
    // -focus and friends drop samples.
    o.total = totals.get(column).copied();
    let t = top_with(&p, &o);
    let unit = p
        .value_types()
        .get(column)
        .map(|v| v.unit.as_str())
        .unwrap_or("");
    let kind = p
        .value_types()
        .get(column)
        .map(|v| v.kind.as_str())
        .unwrap_or("");
    let shown: i64 = t.rows.iter().take(a.count).map(|r| r.flat).sum();
    let mut out = std::io::stdout().lock();
    let mut emit = || -> std::io::Result<()> {
        writeln!(
            out,
            "Showing top {} of {} functions, {} {unit} of {kind} ({} of {} total)",
            a.count.min(t.rows.len()),
            t.rows.len(),
            shown,
            format_percentage(pct(shown, t.total)).trim(),
            t.total
        )?;
        writeln!(
            out,
            "{:>14} {:>6} {:>6} {:>14} {:>6}  function",
            "flat", "flat%", "sum%", "cum", "cum%"
        )?;
        for r in t.rows.iter().take(a.count) {
            writeln!(
                out,
                "{:>14} {:>6} {:>6} {:>14} {:>6}  {}",
                r.flat,
                format_percentage(r.flat_pct),
                format_percentage(r.sum_pct),
                r.cum,
                format_percentage(r.cum_pct),
                r.name
            )?;
        }
        Ok(())
    };
    emit().map_err(|e| Failure::Run(stackconv::Error::Io(e)))
}

fn pct(part: i64, total: i64) -> f64 {
    if total == 0 {
        0.0
    } else {
        100.0 * part as f64 / total as f64
    }
}

/// `stackconv waits IN...`.
#[derive(Args, Debug)]
pub struct WaitsArgs {
    #[command(flatten)]
    pub list: ListArgs,
    /// Write JSON (every row, and per thread its off-CPU time, on-CPU time
    /// when known, wall span and off-CPU share) instead of the table.
    #[arg(long)]
    pub json: bool,
}

/// The on-CPU time column of `p`: the first in nanoseconds that is not
/// off-CPU time (cpu-clock, task-clock, pprof's cpu).
fn on_cpu_column(p: &Profile, off: usize) -> Option<usize> {
    p.value_types().iter().enumerate().position(|(i, v)| {
        i != off && v.unit == "nanoseconds" && v.kind != "off-cpu" && v.kind != "offcpu-time"
    })
}

pub fn waits(a: WaitsArgs) -> Result<(), Failure> {
    use stackconv::ops::idle::{is_idle_task, thread_waits, wait_report, WaitScope};
    // Not folded: each thread's wall time spans its samples' times.
    let (p, _) = a.list.load(false)?;
    // Off-CPU time when the recording has it: all of it is waiting (a stack
    // that no rule names is "other": preemption). Else the idle samples of
    // the shown column.
    let off_cpu = p
        .value_index("off-cpu")
        .or_else(|| p.value_index("offcpu-time"));
    let (column, scope) = match off_cpu {
        Some(c) => (c, WaitScope::AllWeight),
        None => (p.meta().default_value, WaitScope::IdleSamples),
    };
    let extra = &a.list.process.idle_frames;
    let report = wait_report(&p, column, extra, scope);
    let total = report.rows_total();
    let all = p.total(column);
    let vt = p.value_types().get(column);
    let unit = vt.map(|v| v.unit.as_str()).unwrap_or("");
    let kind = vt.map(|v| v.kind.as_str()).unwrap_or("");
    let mut out = std::io::stdout().lock();
    let mut emit = || -> std::io::Result<()> {
        if a.json {
            let threads = match off_cpu {
                Some(c) => thread_waits(&p, c, on_cpu_column(&p, c)),
                None => Vec::new(),
            };
            let mut j = String::new();
            j.push_str(&format!(
                "{{\n  \"value\": {},\n  \"unit\": {},\n  \"off_cpu\": {},\n  \"total\": {all},\n  \"waiting\": {total},\n  \"idle_task\": {},\n  \"rows\": [",
                json_str(kind),
                json_str(unit),
                off_cpu.is_some(),
                report.idle_task
            ));
            for (i, s) in report.sites.iter().enumerate() {
                j.push_str(if i == 0 { "\n    " } else { ",\n    " });
                j.push_str(&format!(
                    "{{\"wait\": {}, \"blocked_in\": {}, \"caller\": {}, \"weight\": {}, \"samples\": {}}}",
                    json_str(s.wait.as_str()),
                    json_str(&s.blocked_in),
                    json_str(&s.caller),
                    s.weight,
                    s.samples
                ));
            }
            j.push_str("\n  ],\n  \"threads\": [");
            for (i, t) in threads.iter().enumerate() {
                let th = p.threads().get(t.thread);
                let opt = |v: Option<String>| v.unwrap_or_else(|| "null".to_string());
                j.push_str(if i == 0 { "\n    " } else { ",\n    " });
                j.push_str(&format!(
                    "{{\"pid\": {}, \"tid\": {}, \"process\": {}, \"thread\": {}, \"idle_task\": {}, \"off_cpu_ns\": {}, \"on_cpu_ns\": {}, \"wall_ns\": {}, \"share\": {}}}",
                    opt(th.pid.map(|v| v.to_string())),
                    opt(th.tid.map(|v| v.to_string())),
                    json_str(p.str(th.process_name)),
                    json_str(p.str(th.thread_name)),
                    is_idle_task(&p, t.thread),
                    t.off_cpu_ns,
                    opt(t.on_cpu_ns.map(|v| v.to_string())),
                    opt(t.wall_ns().map(|v| v.to_string())),
                    opt(t.share().map(|v| format!("{v:.6}"))),
                ));
            }
            j.push_str("\n  ]\n}\n");
            return out.write_all(j.as_bytes());
        }
        write!(
            out,
            "Waiting: {total} of {all} {unit} of {kind} ({})",
            format_percentage(pct(total, all)).trim()
        )?;
        if scope == WaitScope::AllWeight {
            write!(
                out,
                "; idle task (swapper, pid 0): {} {unit} in {} intervals",
                report.idle_task, report.idle_task_samples
            )?;
        }
        writeln!(out)?;
        writeln!(
            out,
            "{:>14} {:>6} {:>8}  {:<9} caller > blocked in",
            "weight", "%", "samples", "wait"
        )?;
        for s in report.sites.iter().take(a.list.count) {
            writeln!(
                out,
                "{:>14} {:>6} {:>8}  {:<9} {} > {}",
                s.weight,
                format_percentage(pct(s.weight, total)),
                s.samples,
                s.wait.as_str(),
                if s.caller.is_empty() { "-" } else { &s.caller },
                s.blocked_in
            )?;
        }
        // The rows left out, so that the printed weights add up.
        let rest = report.sites.get(a.list.count..).unwrap_or_default();
        if !rest.is_empty() {
            let weight = rest.iter().fold(0i64, |t, s| t.saturating_add(s.weight));
            let samples = rest.iter().fold(0u64, |t, s| t.saturating_add(s.samples));
            writeln!(
                out,
                "{:>14} {:>6} {:>8}  ({} more rows; -n to show them)",
                weight,
                format_percentage(pct(weight, total)),
                samples,
                rest.len()
            )?;
        }
        Ok(())
    };
    emit().map_err(|e| Failure::Run(stackconv::Error::Io(e)))
}

/// `s` as a JSON string.
fn json_str(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if u32::from(c) < 0x20 => out.push_str(&format!("\\u{:04x}", u32::from(c))),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}
