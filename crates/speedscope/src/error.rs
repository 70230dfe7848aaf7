//! The error type of this crate.

/// Why a speedscope file could not be read or written.
///
/// Every variant says where the problem is (JSON line and column, or the
/// profile, sample or event index) and what was expected.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The input is not well-formed JSON or does not have the shape of a
    /// speedscope file (a required field is missing or has the wrong type,
    /// as a nesting bomb where a number is expected).
    #[error("speedscope: JSON at line {line} column {column}: {source}")]
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
    /// A profile's `type` is neither `sampled` nor `evented`.
    #[error("speedscope: profile {profile} ({name:?}): type {found:?}, expected \"sampled\" or \"evented\"")]
    UnknownProfileType {
        /// Index of the profile in `profiles`.
        profile: usize,
        /// The profile's name.
        name: String,
        /// The type found.
        found: String,
    },
    /// A profile's `unit` is not one the file format defines.
    #[error("speedscope: profile {profile} ({name:?}): unit {found:?}, expected one of bytes, microseconds, milliseconds, nanoseconds, none, seconds")]
    UnknownUnit {
        /// Index of the profile in `profiles`.
        profile: usize,
        /// The profile's name.
        name: String,
        /// The unit found.
        found: String,
    },
    /// A sampled profile has not as many weights as samples.
    #[error("speedscope: profile {profile} ({name:?}): {samples} samples but {weights} weights")]
    LengthMismatch {
        /// Index of the profile in `profiles`.
        profile: usize,
        /// The profile's name.
        name: String,
        /// Length of `samples`.
        samples: usize,
        /// Length of `weights`.
        weights: usize,
    },
    /// A sample names a frame index that is not in `shared.frames` (or is
    /// not a non-negative integer).
    #[error("speedscope: profile {profile} ({name:?}): sample {sample}: frame index {index} is not in shared.frames ({frames} frames)")]
    SampleFrameIndex {
        /// Index of the profile in `profiles`.
        profile: usize,
        /// The profile's name.
        name: String,
        /// Index of the sample in `samples`.
        sample: usize,
        /// The frame index found.
        index: f64,
        /// How many shared frames there are.
        frames: usize,
    },
    /// An event names a frame index that is not in `shared.frames` (or is
    /// not a non-negative integer).
    #[error("speedscope: profile {profile} ({name:?}): event {event}: frame index {index} is not in shared.frames ({frames} frames)")]
    EventFrameIndex {
        /// Index of the profile in `profiles`.
        profile: usize,
        /// The profile's name.
        name: String,
        /// Index of the event in `events`.
        event: usize,
        /// The frame index found.
        index: f64,
        /// How many shared frames there are.
        frames: usize,
    },
    /// A weight is negative, not a number, infinite, or too large for a
    /// 64-bit value once converted to the model's unit.
    #[error("speedscope: profile {profile} ({name:?}): sample {sample}: weight {weight}, expected a finite non-negative number")]
    BadWeight {
        /// Index of the profile in `profiles`.
        profile: usize,
        /// The profile's name.
        name: String,
        /// Index of the sample (or, for an evented profile, of the event
        /// that ends the interval).
        sample: usize,
        /// The weight found.
        weight: f64,
    },
    /// The weights of one unit (one value column), over every profile,
    /// add up past 2^63-1: refused rather than summed wrongly.
    #[error("speedscope: profile {profile} ({name:?}): {field}[{index}]: the weights in this profile's unit add up past 2^63-1")]
    WeightOverflow {
        /// Index of the profile in `profiles`.
        profile: usize,
        /// The profile's name.
        name: String,
        /// `weights` (a sampled profile) or `events` (an evented one).
        field: &'static str,
        /// Index in that field of the weight that passed the limit.
        index: usize,
    },
    /// An event's `at` is not a finite number, or is earlier than the
    /// event before it.
    #[error("speedscope: profile {profile} ({name:?}): event {event}: at {at}, expected a finite time not before {previous}")]
    BadEventTime {
        /// Index of the profile in `profiles`.
        profile: usize,
        /// The profile's name.
        name: String,
        /// Index of the event in `events`.
        event: usize,
        /// Its time.
        at: f64,
        /// The time of the event before it (or the profile's `startValue`).
        previous: f64,
    },
    /// An event's `type` is neither `O` nor `C`.
    #[error("speedscope: profile {profile} ({name:?}): event {event}: type {found:?}, expected \"O\" or \"C\"")]
    UnknownEventType {
        /// Index of the profile in `profiles`.
        profile: usize,
        /// The profile's name.
        name: String,
        /// Index of the event in `events`.
        event: usize,
        /// The type found.
        found: String,
    },
    /// A close event does not close the innermost open frame.
    #[error("speedscope: profile {profile} ({name:?}): event {event}: closes frame {frame} but the innermost open frame is {}", open.map_or_else(|| "none".to_string(), |o| o.to_string()))]
    UnmatchedClose {
        /// Index of the profile in `profiles`.
        profile: usize,
        /// The profile's name.
        name: String,
        /// Index of the event in `events`.
        event: usize,
        /// The frame it closes.
        frame: usize,
        /// The innermost open frame, if any.
        open: Option<usize>,
    },
    /// An evented profile ends with frames still open.
    #[error(
        "speedscope: profile {profile} ({name:?}): {open} frames still open after the last event"
    )]
    UnclosedFrames {
        /// Index of the profile in `profiles`.
        profile: usize,
        /// The profile's name.
        name: String,
        /// How many frames are open.
        open: usize,
    },
    /// The value column to write does not exist.
    #[error("speedscope: value column {column} asked for, but the profile has {columns}")]
    NoSuchValue {
        /// The column asked for.
        column: usize,
        /// How many value columns the profile has.
        columns: usize,
    },
    /// A sample to write has a negative value in the written column, which
    /// speedscope rejects.
    #[error("speedscope: sample {sample} has value {value} in column {column:?}; speedscope weights must not be negative")]
    NegativeValue {
        /// Index of the sample in the model.
        sample: usize,
        /// The column's kind.
        column: String,
        /// The value.
        value: i64,
    },
    /// Writing failed.
    #[error("speedscope: write failed: {0}")]
    Io(#[from] std::io::Error),
}

impl Error {
    /// The JSON path of the value the error is about
    /// (`profiles[0].samples[3]`, `profiles[1].events[7]`), when it names
    /// one. A [`Error::Json`] names a line and column instead (its fields).
    ///
    /// ```
    /// let json = br#"{"$schema": "https://www.speedscope.app/file-format-schema.json",
    ///   "shared": {"frames": [{"name": "main"}]},
    ///   "profiles": [{"type": "sampled", "name": "t", "unit": "none", "startValue": 0,
    ///     "endValue": 1, "samples": [[0], [5]], "weights": [1, 1]}]}"#;
    /// let e = stackconv_speedscope::read(json).unwrap_err();
    /// assert_eq!(e.json_path().as_deref(), Some("profiles[0].samples[1]"));
    /// ```
    pub fn json_path(&self) -> Option<String> {
        match self {
            Error::UnknownProfileType { profile, .. } => Some(format!("profiles[{profile}].type")),
            Error::UnknownUnit { profile, .. } => Some(format!("profiles[{profile}].unit")),
            Error::LengthMismatch { profile, .. }
            | Error::BadWeight { profile, .. }
            | Error::UnclosedFrames { profile, .. } => Some(format!("profiles[{profile}]")),
            Error::SampleFrameIndex {
                profile, sample, ..
            } => Some(format!("profiles[{profile}].samples[{sample}]")),
            Error::WeightOverflow {
                profile,
                field,
                index,
                ..
            } => Some(format!("profiles[{profile}].{field}[{index}]")),
            Error::EventFrameIndex { profile, event, .. }
            | Error::BadEventTime { profile, event, .. }
            | Error::UnknownEventType { profile, event, .. }
            | Error::UnmatchedClose { profile, event, .. } => {
                Some(format!("profiles[{profile}].events[{event}]"))
            }
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
