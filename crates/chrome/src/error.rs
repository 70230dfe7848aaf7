//! The error type of this crate.

/// Why a `.cpuprofile` could not be read or written.
///
/// Every variant says where the problem is: the JSON line and column, or
/// the JSON path of the offending value (`nodes[3].children[1]`,
/// `samples[17]`, `timeDeltas[4]`).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The input is not well-formed JSON, or not the shape of a CPU
    /// profile (a required field missing or of the wrong type, a nesting
    /// bomb where a value is expected, a negative id).
    #[error("cpuprofile: JSON at line {line} column {column}: {source}")]
    Json {
        /// 1-based line of the problem.
        line: usize,
        /// 1-based column of the problem.
        column: usize,
        /// The JSON parser's error (boxed: the parser's error type is not
        /// part of this crate's API).
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// Two nodes have the same id.
    #[error("cpuprofile: nodes[{node}].id: id {id} is already the id of nodes[{first}]")]
    DuplicateNodeId {
        /// Index of the node in `nodes`.
        node: usize,
        /// The id.
        id: u64,
        /// Index of the first node with that id.
        first: usize,
    },
    /// A node's `children` or `parent` names an id no node has.
    #[error("cpuprofile: nodes[{node}].{field}: no node has id {id}")]
    UnknownNode {
        /// Index of the node in `nodes`.
        node: usize,
        /// `children[i]` or `parent`.
        field: String,
        /// The id found.
        id: u64,
    },
    /// A node is the child of two different nodes (through `children` or
    /// `parent`), so the nodes do not form a tree.
    #[error("cpuprofile: nodes[{node}] (id {id}) has two parents, ids {first} and {second}")]
    TwoParents {
        /// Index of the node in `nodes`.
        node: usize,
        /// Its id.
        id: u64,
        /// The first parent's id.
        first: u64,
        /// The other parent's id.
        second: u64,
    },
    /// Following parents from a node leads back to it.
    #[error(
        "cpuprofile: nodes[{node}] (id {id}) is its own ancestor: the parent links form a cycle"
    )]
    Cycle {
        /// Index of a node on the cycle in `nodes`.
        node: usize,
        /// Its id.
        id: u64,
    },
    /// A sample names a node id no node has.
    #[error("cpuprofile: samples[{sample}]: no node has id {id}")]
    UnknownSampleNode {
        /// Index of the sample in `samples`.
        sample: usize,
        /// The id found.
        id: u64,
    },
    /// `samples` and `timeDeltas` differ in length.
    #[error("cpuprofile: timeDeltas: {time_deltas} entries for {samples} samples")]
    LengthMismatch {
        /// Length of `samples`.
        samples: usize,
        /// Length of `timeDeltas`.
        time_deltas: usize,
    },
    /// A time delta is negative or longer than [`crate::MAX_TIME_DELTA_US`].
    #[error(
        "cpuprofile: timeDeltas[{index}]: {delta} µs, expected 0 to {} µs",
        crate::MAX_TIME_DELTA_US
    )]
    BadTimeDelta {
        /// Index in `timeDeltas`.
        index: usize,
        /// The delta found, in microseconds.
        delta: i64,
    },
    /// A sample's time (`startTime` plus the deltas up to it) is negative
    /// or does not fit 64 bits in nanoseconds.
    #[error("cpuprofile: samples[{sample}]: time {time_us} µs is negative or too large")]
    BadTime {
        /// Index of the sample.
        sample: usize,
        /// Its time in microseconds, saturated.
        time_us: i64,
    },
    /// The samples' time spans (each until the next sample, the last until
    /// `endTime`) add up past 2^63-1 nanoseconds.
    #[error("cpuprofile: samples[{sample}]: the samples' time spans (to the next sample, the last to endTime) add up past 2^63-1 ns")]
    WeightOverflow {
        /// Index of the sample whose span passed the limit.
        sample: usize,
    },
    /// The value column to write does not exist.
    #[error("cpuprofile: value column {column} asked for, but the profile has {columns}")]
    NoSuchValue {
        /// The column asked for.
        column: usize,
        /// How many value columns the profile has.
        columns: usize,
    },
    /// A sample to write has a negative value in the written column: it
    /// cannot be a time span.
    #[error("cpuprofile: sample {sample} has value {value} in column {column:?}; a CPU profile's time spans cannot be negative")]
    NegativeValue {
        /// Index of the sample in the model.
        sample: usize,
        /// The column's kind.
        column: String,
        /// The value.
        value: i64,
    },
    /// Writing failed.
    #[error("cpuprofile: write failed: {0}")]
    Io(#[from] std::io::Error),
}

impl Error {
    /// The JSON path of the value the error is about (`nodes[3].children[1]`,
    /// `samples[17]`, `timeDeltas[4]`), when it names one. A [`Error::Json`]
    /// names a line and column instead (its fields).
    ///
    /// ```
    /// let json = br#"{"nodes": [], "startTime": 0, "endTime": 1, "samples": [7], "timeDeltas": [0]}"#;
    /// let e = stackconv_chrome::read(json).unwrap_err();
    /// assert_eq!(e.json_path().as_deref(), Some("samples[0]"));
    /// ```
    pub fn json_path(&self) -> Option<String> {
        match self {
            Error::DuplicateNodeId { node, .. } => Some(format!("nodes[{node}].id")),
            Error::UnknownNode { node, field, .. } => Some(format!("nodes[{node}].{field}")),
            Error::TwoParents { node, .. } | Error::Cycle { node, .. } => {
                Some(format!("nodes[{node}]"))
            }
            Error::UnknownSampleNode { sample, .. }
            | Error::BadTime { sample, .. }
            | Error::WeightOverflow { sample } => Some(format!("samples[{sample}]")),
            Error::BadTimeDelta { index, .. } => Some(format!("timeDeltas[{index}]")),
            Error::LengthMismatch { .. } => Some("timeDeltas".to_string()),
            Error::Json { .. }
            | Error::NoSuchValue { .. }
            | Error::NegativeValue { .. }
            | Error::Io(_) => None,
        }
    }

    /// Wrap a `serde_json` error from reading.
    pub(crate) fn json(source: serde_json::Error) -> Self {
        Error::Json {
            line: source.line(),
            column: source.column(),
            source: Box::new(source),
        }
    }
}
