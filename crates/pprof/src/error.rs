//! The error type of stackconv-pprof.

/// Why a pprof profile could not be read or written.
///
/// Byte offsets count in the inflated (decompressed) profile.proto bytes.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The gzip stream is corrupt or truncated.
    #[error("pprof: gzip stream after {inflated} inflated bytes: {source}")]
    Gzip {
        /// How many bytes were inflated before the error.
        inflated: u64,
        /// What flate2 reported.
        #[source]
        source: std::io::Error,
    },
    /// The inflated profile is larger than [`crate::ReadOptions::max_inflated_bytes`].
    #[error("pprof: inflated profile exceeds the limit of {limit} bytes (a gzip bomb?)")]
    TooLarge {
        /// The limit in force.
        limit: u64,
    },
    /// A protobuf field of the top-level `Profile` message is malformed or
    /// runs past the end of the data.
    #[error("pprof: byte {offset}: {what}")]
    Malformed {
        /// Where the field starts.
        offset: u64,
        /// What was wrong.
        what: String,
    },
    /// A nested message (sample, location, ...) failed to decode.
    #[error("pprof: byte {offset}: {message} message: {source}")]
    Decode {
        /// Where the message's bytes start.
        offset: u64,
        /// Which message (`Sample`, `Location`, ...).
        message: &'static str,
        /// What the protobuf decoder reported (boxed: the decoder's error
        /// type is not part of this crate's API).
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// A string index is negative or past the end of the string table.
    #[error(
        "pprof: byte {offset}: {field} refers to string {index}, but the string table has {len} strings"
    )]
    StringIndex {
        /// Where the message (or top-level field) holding the index starts.
        offset: u64,
        /// Which field held the index (e.g. `Function 3 name`).
        field: String,
        /// The index.
        index: i64,
        /// How many strings there are.
        len: usize,
    },
    /// A sample refers to a location id that no location has.
    #[error(
        "pprof: byte {offset}: sample {sample} refers to location id {id}, which does not exist"
    )]
    LocationId {
        /// Where the sample's message starts.
        offset: u64,
        /// The sample's index (0-based, in file order).
        sample: u64,
        /// The missing id.
        id: u64,
    },
    /// A location's line refers to a function id that no function has.
    #[error(
        "pprof: byte {offset}: location {location} refers to function id {id}, which does not exist"
    )]
    FunctionId {
        /// Where the location's message starts.
        offset: u64,
        /// The location's id.
        location: u64,
        /// The missing id.
        id: u64,
    },
    /// A location refers to a mapping id that no mapping has.
    #[error(
        "pprof: byte {offset}: location {location} refers to mapping id {id}, which does not exist"
    )]
    MappingId {
        /// Where the location's message starts.
        offset: u64,
        /// The location's id.
        location: u64,
        /// The missing id.
        id: u64,
    },
    /// A mapping, location or function has id 0 or the id of an earlier one.
    #[error("pprof: byte {offset}: {table} id {id} is zero or used twice")]
    BadId {
        /// Where the message with that id starts.
        offset: u64,
        /// `mapping`, `location` or `function`.
        table: &'static str,
        /// The id.
        id: u64,
    },
    /// A sample has a different number of values than the profile has
    /// sample types (pprof rejects such profiles too).
    #[error(
        "pprof: byte {offset}: sample {sample} has {values} values, but the profile has {types} sample types"
    )]
    ValueCount {
        /// Where the sample's message starts.
        offset: u64,
        /// The sample's index.
        sample: u64,
        /// How many values it has.
        values: usize,
        /// How many sample types there are.
        types: usize,
    },
    /// A sample type's values add up past 2^63-1 (counting magnitudes):
    /// refused rather than summed wrongly.
    #[error("pprof: byte {offset}: sample {sample}: the values of sample type {column} add up past 2^63-1")]
    WeightOverflow {
        /// Where the sample's message starts.
        offset: u64,
        /// The sample's index (0-based, in file order).
        sample: u64,
        /// The sample type's index.
        column: usize,
    },
    /// Expanding the samples' stacks would take more frames than the input
    /// size justifies (a stack bomb: deep stacks of locations with many
    /// lines).
    #[error("pprof: stacks expand to more than {limit} frames in all")]
    TooManyFrames {
        /// The limit in force, derived from the input size.
        limit: u64,
    },
    /// Writing failed.
    #[error("pprof: write: {0}")]
    Io(#[from] std::io::Error),
}

impl Error {
    /// The byte offset (in the inflated profile.proto bytes) the error
    /// names, when it names one.
    ///
    /// ```
    /// let e = stackconv_pprof::read(b"\x0a\xff", &Default::default()).unwrap_err();
    /// assert_eq!(e.offset(), Some(1)); // the length varint that runs past the end
    /// ```
    pub fn offset(&self) -> Option<u64> {
        match self {
            Error::Malformed { offset, .. }
            | Error::Decode { offset, .. }
            | Error::WeightOverflow { offset, .. } => Some(*offset),
            Error::Gzip { .. }
            | Error::TooLarge { .. }
            | Error::StringIndex { .. }
            | Error::LocationId { .. }
            | Error::FunctionId { .. }
            | Error::MappingId { .. }
            | Error::BadId { .. }
            | Error::ValueCount { .. }
            | Error::TooManyFrames { .. }
            | Error::Io(_) => None,
        }
    }
}
