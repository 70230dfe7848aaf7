//! The error type of the perf.data reader.

/// Why a perf.data input could not be read. Every variant names the byte
/// offset in the input where the problem was found and what was expected.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The input does not start with the `PERFILE2` magic.
    #[error("perf.data: byte 0: no PERFILE2 magic, not a perf.data file")]
    NotPerfData,
    /// The input ends inside a structure.
    #[error("perf.data: byte {offset}: {what} truncated: needs {needed} bytes, the input ends at byte {len}")]
    Truncated {
        /// Where the truncated structure starts.
        offset: u64,
        /// What was being read.
        what: &'static str,
        /// How many bytes it needs.
        needed: u64,
        /// The input's length.
        len: u64,
    },
    /// A record's size runs past the end of its section (or of the input).
    #[error("perf.data: record at byte {offset}: size {size} runs past the end of the data at byte {end}")]
    RecordTooLong {
        /// Where the record starts.
        offset: u64,
        /// Its claimed size in bytes.
        size: u64,
        /// Where the data section (or the input) ends.
        end: u64,
    },
    /// A field holds a value the format does not allow.
    #[error("perf.data: byte {offset}: bad {what}: {detail}")]
    Invalid {
        /// Where the field is.
        offset: u64,
        /// Which field or structure.
        what: &'static str,
        /// What was wrong.
        detail: String,
    },
    /// The compressed records decompress to more than the limit in all
    /// ([`crate::ReadOptions::max_decompressed_bytes`]).
    #[error("perf.data: compressed record at byte {offset}: the compressed records decompress to more than {limit} bytes in all (the decompressed-size limit; a zstd bomb?)")]
    DecompressedTooLarge {
        /// Where the compressed record that crossed the limit starts.
        offset: u64,
        /// The limit in force, in bytes.
        limit: u64,
    },
    /// The periods (or off-CPU times) of one value column add up past
    /// 2^63-1: refused rather than summed wrongly. Sample records are read
    /// in time order (as `perf script` lists them), not in file order: the
    /// error names the record's byte offset (none for a record of
    /// compressed data) and its number in time order.
    #[error("perf.data: {}sample {sample} (from 0, in time order as perf script lists them): the weights of column {column:?} add up past 2^63-1", offset.map(|o| format!("sample record at byte {o}, ")).unwrap_or_default())]
    WeightOverflow {
        /// The sample whose weight passed the limit.
        sample: u64,
        /// The value column (event) it was added to.
        column: String,
        /// Where its record lies in the input (`None`: in compressed data).
        offset: Option<u64>,
    },
    /// Reading the input failed.
    #[error("perf.data: reading the input failed")]
    Io(#[source] std::io::Error),
    /// The stacks moved to a temporary file while reading
    /// ([`crate::ReadOptions::max_stack_memory`]) could not be read back.
    #[error("perf.data: the stacks moved to a temporary file could not be read back: {0}")]
    Spill(#[source] std::io::Error),
}

impl Error {
    /// The sample the error names (from 0, in time order as `perf script`
    /// lists them), when it names one instead of a byte offset.
    ///
    /// ```
    /// let e = stackconv_perf::Error::WeightOverflow {
    ///     sample: 7,
    ///     column: "cycles".into(),
    ///     offset: Some(4096),
    /// };
    /// assert_eq!((e.sample(), e.offset()), (Some(7), Some(4096)));
    /// ```
    pub fn sample(&self) -> Option<u64> {
        match self {
            Error::WeightOverflow { sample, .. } => Some(*sample),
            _ => None,
        }
    }

    /// The byte offset the error names, when it names one.
    pub fn offset(&self) -> Option<u64> {
        match self {
            Error::NotPerfData => Some(0),
            Error::Truncated { offset, .. }
            | Error::RecordTooLong { offset, .. }
            | Error::Invalid { offset, .. }
            | Error::DecompressedTooLarge { offset, .. } => Some(*offset),
            Error::WeightOverflow { offset, .. } => *offset,
            Error::Io(_) | Error::Spill(_) => None,
        }
    }
}
