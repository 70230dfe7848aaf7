//! `stackconv IN... -o OUT.parquet` (or `.arrow`): every input into one
//! table, each input's rows labelled, inputs read in parallel.

use std::path::PathBuf;
use std::sync::Mutex;

use stackconv::columnar::Source;
use stackconv::{OutputFormat, Profile};

use crate::common::{usage, Failure};
use crate::convert_args::ConvertArgs;

/// The table's label keys, each input's file and source (path and
/// labels), and how many paths `--label-from-path` did not match.
struct Sources {
    keys: Vec<String>,
    inputs: Vec<(PathBuf, Source)>,
    unmatched: usize,
}

/// The label keys of the table: `--label` keys, then the named groups of
/// `--label-from-path`; and each input's source (path and labels).
fn sources(a: &ConvertArgs) -> Result<Sources, Failure> {
    let mut keys: Vec<String> = Vec::new();
    for (k, _) in &a.labels {
        if keys.contains(k) {
            return Err(usage(format!("--label {k}=...: given twice")));
        }
        keys.push(k.clone());
    }
    if let Some(re) = &a.label_from_path {
        let groups: Vec<&str> = re.capture_names().flatten().collect();
        if groups.is_empty() {
            return Err(usage(format!(
                "--label-from-path {re}: no named group (such as `(?P<host>[^/]+)`) to make a label of"
            )));
        }
        for g in groups {
            if keys.iter().any(|k| k == g) {
                return Err(usage(format!(
                    "label {g:?} is given by --label and by --label-from-path"
                )));
            }
            keys.push(g.to_string());
        }
    }
    let mut unmatched = 0;
    let mut inputs = Vec::with_capacity(a.inputs.len());
    for path in &a.inputs {
        let shown = path.to_string_lossy();
        let mut source = Source::new(shown.as_ref());
        for (k, v) in &a.labels {
            source = source.with_label(k.as_str(), v.as_str());
        }
        if let Some(re) = &a.label_from_path {
            match re.captures(&shown) {
                Some(caps) => {
                    for name in re.capture_names().flatten() {
                        if let Some(m) = caps.name(name) {
                            source = source.with_label(name, m.as_str());
                        }
                    }
                }
                None => unmatched += 1,
            }
        }
        inputs.push((path.clone(), source));
    }
    Ok(Sources {
        keys,
        inputs,
        unmatched,
    })
}

pub fn convert_table(
    a: &ConvertArgs,
    format: OutputFormat,
    out: stackconv::Output,
    read_opts: &stackconv::ReadOptions,
) -> Result<(), Failure> {
    let Sources {
        keys,
        inputs,
        unmatched,
    } = sources(a)?;
    if unmatched > 0 && !a.quiet {
        if let Some(re) = &a.label_from_path {
            say!(
                "stackconv: warning: --label-from-path {re} matches {unmatched} of {} input paths not at all: their labels are null",
                inputs.len()
            );
        }
    }
    // A usage error inside the parallel conversion (an --event or --value
    // that names nothing in an input), said as such after it.
    let usage_error: Mutex<Option<String>> = Mutex::new(None);
    let prepare = |path: &std::path::Path, profile: Profile| -> Result<Profile, stackconv::Error> {
        let quiet = a.quiet;
        let opts = match a.process.options_for(&a.input, &profile, quiet) {
            Ok(o) => o,
            Err(f) => return Err(note_usage(&usage_error, f)),
        };
        let totals = profile.totals();
        let processed = stackconv::process(profile, &opts).map_err(|e| match e {
            stackconv::Error::NoSuchValue(_) => note_usage(
                &usage_error,
                Failure::Usage(format!("{}: {e}", path.display())),
            ),
            other => other,
        })?;
        if !quiet {
            report_input(path, &processed, &totals);
        }
        Ok(processed.profile)
    };
    let result = out.write_with(|w| {
        stackconv::write_table(&inputs, &keys, format, read_opts, prepare, w).map(|_| ())
    });
    if let Some(msg) = usage_error.lock().ok().and_then(|mut m| m.take()) {
        return Err(usage(msg));
    }
    result?;
    Ok(())
}

/// Keep a usage failure for after the run; the error that stops it.
fn note_usage(slot: &Mutex<Option<String>>, f: Failure) -> stackconv::Error {
    let msg = match f {
        Failure::Usage(m) => m,
        Failure::Run(e) => return e,
    };
    if let Ok(mut s) = slot.lock() {
        s.get_or_insert(msg);
    }
    stackconv::Error::Io(std::io::Error::other("usage error"))
}

/// What one input lost on the way, and what the filters dropped of it,
/// naming the input.
fn report_input(path: &std::path::Path, processed: &stackconv::Processed, totals: &[i64]) {
    let p = &processed.profile;
    let shown = path.display();
    for loss in &p.meta().losses {
        say!("stackconv: {shown}: note: {}: {}", loss.what, loss.count);
    }
    for w in p.meta().warnings.iter().chain(&processed.warnings) {
        say!("stackconv: {shown}: warning: {w}");
    }
    let column = p.meta().default_value;
    if let (Some(&d), Some(&total), Some(vt)) = (
        processed.dropped.get(column),
        totals.get(column),
        p.value_types().get(column),
    ) {
        if d != 0 {
            say!(
                "stackconv: {shown}: note: dropped {d} of {total} {} {}",
                vt.unit,
                vt.kind
            );
        }
    }
}
