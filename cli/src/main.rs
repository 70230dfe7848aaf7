//! The `stackconv` command: argument parsing, then the facade does the work.

/// `eprintln!` that ignores a closed or full standard error: a reader of
/// `2>&1 | head` that went away must not stop a conversion (`eprintln!`
/// panics then).
macro_rules! say {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr(), $($arg)*);
    }};
}

mod args;
mod commands;
mod common;
mod convert;
mod convert_args;
mod options;
mod record;
mod size;
mod table;

use std::io::{self, Write};
use std::process::ExitCode;

use clap::Parser;

use args::{Cli, Command, InfoArgs};
use common::Failure;

/// Panics inside the parquet and arrow crates are caught by the table
/// reader and reported as the file's error ("damaged file"); their default
/// message and backtrace on stderr would only bury it. Every other panic
/// is reported as before.
fn quiet_caught_table_panics() {
    let report = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if !stackconv::columnar::panic_is_caught_by_read() {
            report(info);
        }
    }));
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            // clap prints help/version to stdout with exit 0 and usage
            // errors to stderr with exit 2.
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { 2 } else { 0 });
        }
    };
    quiet_caught_table_panics();
    // `record` passes SIGINT to perf while it runs, and handles signals
    // itself.
    let records = matches!(cli.command, Some(Command::Record(_)));
    if !records {
        if let Err(e) = stackconv::remove_temporary_files_on_signals() {
            say!(
                "stackconv: warning: temporary files may be left behind on SIGINT or SIGTERM: {e}"
            );
        }
    }
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::Usage(msg)) => {
            say!("stackconv: {msg}");
            ExitCode::from(2)
        }
        Err(Failure::Run(e)) => {
            if is_broken_pipe(&e) {
                return ExitCode::SUCCESS;
            }
            say!("stackconv: {e}");
            if let Some(hint) = limit_hint(&e) {
                say!("stackconv: {hint}");
            }
            ExitCode::from(1)
        }
    }
}

/// Name standard output in the bare I/O errors of a command that prints
/// to it (its inputs' errors name their files).
fn on_stdout(f: Failure) -> Failure {
    match f {
        Failure::Run(e @ stackconv::Error::Io(_)) => {
            Failure::Run(stackconv::Error::Stdout(Box::new(e)))
        }
        other => other,
    }
}

/// Before a command that prints to standard output reads its inputs.
fn check_listing(inputs: &[std::path::PathBuf]) -> Result<(), Failure> {
    stackconv::check_inputs(inputs)?;
    stackconv::check_stdout()?;
    Ok(())
}

/// For an error that a size limit caused, how to raise the limit.
fn limit_hint(e: &stackconv::Error) -> Option<String> {
    use stackconv::Error as E;
    let (flag, limit) = match e {
        E::File { source, .. } => return limit_hint(source),
        E::InputTooLarge { limit } => ("--max-input", *limit),
        E::Perf(stackconv::perf::Error::DecompressedTooLarge { limit, .. })
        | E::Pprof(stackconv::pprof::Error::TooLarge { limit }) => ("--max-decompressed", *limit),
        _ => return None,
    };
    Some(format!(
        "the limit is {limit} bytes ({}); if the input is trusted, raise it with {flag} SIZE (e.g. {flag} {})",
        size::show_size(limit),
        size::show_size(limit.saturating_mul(4)),
    ))
}

fn is_broken_pipe(e: &stackconv::Error) -> bool {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = source {
        if let Some(io) = err.downcast_ref::<io::Error>() {
            if io.kind() == io::ErrorKind::BrokenPipe {
                return true;
            }
        }
        source = err.source();
    }
    false
}

fn run(cli: Cli) -> Result<(), Failure> {
    match cli.command {
        Some(Command::Info(a)) => {
            check_listing(&a.inputs)?;
            info(a).map_err(on_stdout)
        }
        Some(Command::Diff(a)) => commands::diff(a),
        Some(Command::Top(a)) => {
            check_listing(&a.inputs)?;
            commands::top(a).map_err(on_stdout)
        }
        Some(Command::Waits(a)) => {
            check_listing(&a.list.inputs)?;
            commands::waits(a).map_err(on_stdout)
        }
        Some(Command::Record(a)) => record::record(*a),
        None => convert::convert(cli.convert),
    }
}

/// `stackconv info IN...`.
fn info(a: InfoArgs) -> Result<(), Failure> {
    let mut opts = a.input.read_options();
    common::maps_beside(&mut opts, &a.inputs);
    let mut out = io::stdout().lock();
    for (n, path) in a.inputs.iter().enumerate() {
        let profile = stackconv::read_path(path, &opts)?;
        if a.inputs.len() > 1 {
            if n > 0 {
                writeln!(out).map_err(stackconv::Error::Io)?;
            }
            writeln!(out, "{}:", path.display()).map_err(stackconv::Error::Io)?;
        }
        write!(out, "{}", stackconv::Summary::of(&profile)).map_err(stackconv::Error::Io)?;
    }
    out.flush().map_err(stackconv::Error::Io)?;
    Ok(())
}
