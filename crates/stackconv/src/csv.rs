//! CSV of function self weights: `function,self_weight`, one row per
//! function, heaviest first (the order and the function identity of
//! [`stackconv_ops::top`], as `go tool pprof -top` lists them).

use std::io::{self, Write};

use stackconv_model::Profile;
use stackconv_ops::top::top;

/// Write the self weight of every function of `profile` in value column
/// `column` as CSV (RFC 4180: a name holding `,`, `"` or a line break is
/// quoted).
///
/// # Errors
///
/// An [`io::ErrorKind::InvalidInput`] error when the column does not
/// exist, and any error of `out`.
pub(crate) fn write(profile: &Profile, column: usize, mut out: impl Write) -> io::Result<()> {
    if column >= profile.value_types().len() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "csv: no value column {column} (the profile has {})",
                profile.value_types().len()
            ),
        ));
    }
    writeln!(out, "function,self_weight")?;
    for row in top(profile, column) {
        writeln!(out, "{},{}", field(&row.name), row.flat)?;
    }
    Ok(())
}

/// `text` as one CSV field.
fn field(text: &str) -> std::borrow::Cow<'_, str> {
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\"")).into()
    } else {
        text.into()
    }
}

#[cfg(test)]
mod tests {
    use crate::{read_bytes, write, OutputFormat, ReadOptions, WriteOptions};

    #[test]
    fn self_weights_heaviest_first_with_names_quoted() {
        let folded = b"main;work 5\nmain 1\nmain;f<a, b> 2\nmain;say \"hi\" 3\n";
        let p = read_bytes(folded, &ReadOptions::default()).unwrap();
        assert_eq!(
            OutputFormat::from_path("out.csv".as_ref()),
            Some(OutputFormat::Csv)
        );
        let mut out = Vec::new();
        write(&p, OutputFormat::Csv, &WriteOptions::default(), &mut out).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "function,self_weight\nwork,5\n\"say \"\"hi\"\"\",3\n\"f<a, b>\",2\nmain,1\n"
        );
    }
}
