//! Many inputs into one Parquet or Arrow table, and tables back into a
//! profile.

use std::io::{self, Write};
use std::path::{Path, PathBuf};

use rayon::prelude::*;
use stackconv_columnar::{Format, Source, Writer};
use stackconv_model::{MergeError, Profile};

use crate::{read_path, Error, OutputFormat, ReadOptions};

/// A table read as one profile: its inputs merged ([`stackconv_model::merge`]).
pub(crate) fn read_merged(data: &[u8]) -> Result<Profile, Error> {
    let mut profiles: Vec<Profile> = stackconv_columnar::read(data)?
        .into_iter()
        .map(|i| i.profile)
        .collect();
    if profiles.len() <= 1 {
        return Ok(profiles.pop().unwrap_or_default());
    }
    stackconv_model::merge(&profiles).map_err(|e| match e {
        MergeError::WeightOverflow { column } => Error::WeightOverflow { column },
        other => Error::Io(io::Error::other(other.to_string())),
    })
}

/// Convert many inputs into one Parquet or Arrow table (`format` is
/// [`OutputFormat::Parquet`] or [`OutputFormat::Arrow`]) written to
/// `out`, and return how many rows it has.
///
/// Each input is read (with `read_opts`), given to `prepare` (filters,
/// stack transforms: the command's options), folded, and written as its
/// own row group (Parquet) or record batch (Arrow), its rows carrying its
/// [`Source`]'s path and labels. Inputs are read in parallel (rayon), a
/// few at a time (twice the threads) and written in the order given, so
/// memory holds the folded profiles of those few, never the fleet. The
/// table's value columns are the first input's; a later input that has
/// others is an error (see [`stackconv_columnar::Writer`]).
///
/// ```
/// use std::path::PathBuf;
/// use stackconv::columnar::Source;
/// use stackconv::{write_table, OutputFormat, ReadOptions};
///
/// let dir = tempfile::tempdir().unwrap();
/// let mut inputs = Vec::new();
/// for host in ["a", "b"] {
///     let path = dir.path().join(format!("{host}.folded"));
///     std::fs::write(&path, "main;work 3\nmain;idle 1\n").unwrap();
///     inputs.push((path.clone(), Source::new(path.display().to_string()).with_label("host", host)));
/// }
/// let mut table = Vec::new();
/// let rows = write_table(
///     &inputs,
///     &["host".to_string()],
///     OutputFormat::Parquet,
///     &ReadOptions::default(),
///     |_, p| Ok::<_, stackconv::Error>(p),
///     &mut table,
/// )?;
/// assert_eq!(rows, 4);
/// let back = stackconv::read_bytes(&table, &ReadOptions::default())?;
/// assert_eq!(back.total(0), 8);
/// # Ok::<(), stackconv::Error>(())
/// ```
///
/// # Errors
///
/// The first input's read error (naming its file) or `prepare`'s error,
/// in the order of the inputs; [`Error::Columnar`] for value columns or
/// labels the table was not begun with; [`Error::Io`].
pub fn write_table<E>(
    inputs: &[(PathBuf, Source)],
    label_keys: &[String],
    format: OutputFormat,
    read_opts: &ReadOptions,
    prepare: impl Fn(&Path, Profile) -> Result<Profile, E> + Sync,
    out: &mut dyn Write,
) -> Result<u64, E>
where
    E: From<Error> + Send,
{
    let format = match format {
        OutputFormat::Parquet => Format::Parquet,
        OutputFormat::Arrow => Format::Arrow,
        other => {
            return Err(Error::Io(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("{other} is not a table format (parquet, arrow)"),
            ))
            .into())
        }
    };
    let mut out = io::BufWriter::with_capacity(256 * 1024, out);
    let mut writer: Option<Writer<&mut io::BufWriter<&mut dyn Write>>> = None;
    let mut rows = 0u64;
    let at_once = rayon::current_num_threads().max(1).saturating_mul(2);
    let mut writer_out = Some(&mut out);
    for chunk in inputs.chunks(at_once) {
        let profiles: Vec<Result<Profile, E>> = chunk
            .par_iter()
            .map(|(path, _)| {
                let profile = read_path(path, read_opts).map_err(E::from)?;
                Ok(prepare(path, profile)?.into_folded())
            })
            .collect();
        for (profile, (_, source)) in profiles.into_iter().zip(chunk) {
            let profile = profile?;
            let w = match (&mut writer, writer_out.take()) {
                (Some(w), _) => w,
                (None, Some(o)) => writer.insert(
                    Writer::new(format, o, label_keys, profile.value_types())
                        .map_err(|e| E::from(e.into()))?,
                ),
                (None, None) => {
                    return Err(E::from(Error::Io(io::Error::other(
                        "table writer lost its output",
                    ))))
                }
            };
            // Its errors name the input.
            w.write(&profile, source).map_err(|e| E::from(e.into()))?;
            rows = rows.saturating_add(u64::try_from(profile.samples().len()).unwrap_or(u64::MAX));
        }
    }
    match writer {
        Some(w) => {
            w.finish().map_err(|e| E::from(e.into()))?;
        }
        // No inputs: an empty table of no value columns.
        None => {
            if let Some(o) = writer_out {
                Writer::new(format, o, label_keys, &[])
                    .and_then(Writer::finish)
                    .map_err(|e| E::from(e.into()))?;
            }
        }
    }
    out.flush().map_err(|e| E::from(Error::Io(e)))?;
    Ok(rows)
}
