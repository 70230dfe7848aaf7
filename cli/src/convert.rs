//! The convert command, `stackconv IN... -o OUT`.

use std::sync::Arc;

use stackconv::collapsed::folded::{RootFrame, WriteOptions};
use stackconv::model::pruning::FlameGraphPruning;
use stackconv::OutputFormat;

use crate::common::{
    maps_beside, output_format, read_with_progress, report, report_dropped, report_replaced_names,
    report_title, usage, value_usage, Failure,
};

pub use crate::convert_args::ConvertArgs;

/// The SVG title of `--off-cpu` graphs.
use stackconv::OFF_CPU_TITLE;

pub fn convert(a: ConvertArgs) -> Result<(), Failure> {
    if a.inputs.is_empty() {
        return Err(usage("no input given (try `stackconv --help`)"));
    }
    let output = a.output.clone().ok_or_else(|| {
        usage("no output given: -o OUT (use `-o -` and --to for standard output)")
    })?;
    let format = output_format(a.to, &output)?;
    // Checked before the inputs are read: a bad output fails at once.
    let out = stackconv::Output::prepare(&output, &a.inputs, a.force)?;
    // The library's options for this output (source lines only where
    // shown, perf.data folded while read where no time order is kept),
    // then what the filters need.
    let mut read_opts = a.input.read_options_for(format);
    maps_beside(&mut read_opts, &a.inputs);
    read_opts.perf.symbols.lines |= a.process.needs_lines();
    read_opts.perf.fold &= a.process.can_fold();
    read_opts.fold &= a.process.can_fold();
    let folded_opts = folded_options(&a);
    if format == OutputFormat::Svg {
        read_opts.perf.flame_graph = flame_graph_pruning(&a, &folded_opts);
    }
    if matches!(format, OutputFormat::Parquet | OutputFormat::Arrow) {
        return crate::table::convert_table(&a, format, out, &read_opts);
    }
    if !a.labels.is_empty() || a.label_from_path.is_some() {
        return Err(usage(format!(
            "--label and --label-from-path label the rows of a table (-o OUT.parquet or \
             OUT.arrow); {format} output merges its inputs and carries no labels"
        )));
    }
    let mut profiles = Vec::with_capacity(a.inputs.len());
    for path in &a.inputs {
        profiles.push(read_with_progress(path, &read_opts, a.quiet)?);
    }
    let profile = if profiles.len() == 1 {
        profiles.pop().unwrap_or_default()
    } else {
        stackconv::model::merge(&profiles).map_err(|e| usage(e.to_string()))?
    };
    drop(profiles);
    let input_totals = profile.totals();
    let mut process_opts = a.process.options_for(&a.input, &profile, a.quiet)?;
    // inferno's spelling of Python frames with its annotations.
    process_opts.transform.perf_python_names = a.annotate;
    let processed = stackconv::process(profile, &process_opts).map_err(value_usage)?;
    let mut profile = processed.profile;
    report(&profile, a.quiet);
    report_dropped(
        &profile,
        &input_totals,
        &processed.dropped,
        &processed.warnings,
        a.quiet,
    );
    // The flame graph's writer sums samples by stack as it draws: folding
    // them first would be one pass more over every sample.
    if !format.keeps_time_order() && format != OutputFormat::Svg {
        profile = profile.into_folded();
    }
    report_replaced_names(&profile, format, a.quiet);
    let mut wopts = stackconv::WriteOptions::default();
    wopts.folded = folded_opts;
    if let Some(title) = &a.title {
        wopts.svg.title = title.clone();
    } else if a.input.off_cpu {
        wopts.svg.title = OFF_CPU_TITLE.to_string();
    }
    wopts.html.title = match &a.title {
        Some(t) => t.clone(),
        None => report_title(&a.inputs),
    };
    wopts.svg.icicle = a.icicle;
    wopts.svg.palette = a.palette.clone();
    wopts.svg.min_width_percent = a.min_width;
    wopts.firefox.gzip = output.to_string_lossy().ends_with(".gz");
    out.write_with(|w| stackconv::write(&profile, format, &wopts, w))?;
    Ok(())
}

/// How the folded text (and the flame graph drawn from it) is written:
/// `--annotate`, and the root frame of `--per-thread`, `--per-process`.
fn folded_options(a: &ConvertArgs) -> WriteOptions {
    let mut folded = WriteOptions::default();
    folded.annotate = a.annotate;
    folded.root = if a.per_thread {
        RootFrame::CommPidTid
    } else if a.per_process {
        RootFrame::CommPid
    } else {
        RootFrame::Auto
    };
    folded
}

/// For a flame graph of one input that nothing between reading and drawing
/// changes (no filter, transform, view other than mixed, or value column
/// other than the default): the reader may cut its stacks below what the
/// graph draws, which it does only when `folded` draws every frame as one
/// frame ([`stackconv::collapsed::prune::drawn_keys`]).
fn flame_graph_pruning(a: &ConvertArgs, folded: &WriteOptions) -> Option<FlameGraphPruning> {
    if a.inputs.len() != 1 || a.input.off_cpu {
        return None;
    }
    let o = a.process.options().ok()?;
    if !o.filter.is_empty() || o.value.is_some() {
        return None;
    }
    let transform = o.transform;
    // Without --view, the view is chosen from the profile read.
    let chosen_view = a.process.view.is_none();
    let folded = folded.clone();
    Some(FlameGraphPruning {
        min_width_percent: a.min_width,
        column: None,
        keys: Arc::new(move |p| {
            let mut t = transform.clone();
            if chosen_view {
                t.view = stackconv::ops::view::default_view(p);
            }
            if !t.is_identity() {
                return None;
            }
            stackconv::collapsed::prune::drawn_keys(p, &folded)
        }),
    })
}
