//! The one error type of this crate.

/// Why an input could not be read. Every variant names the 1-based line
/// where reading stopped and what was expected there.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A NUL byte: the input is binary, not text.
    #[error("{format}: line {line}: expected text, found a NUL byte (binary input?)")]
    Binary {
        /// The format being read (`folded`, `perf script`, `py-spy raw`).
        format: &'static str,
        /// The line, 1-based.
        line: u64,
    },
    /// A folded-style line without a count after the stack.
    #[error(
        "{format}: line {line}: expected `frame;frame;... count`, found no count after the stack"
    )]
    MissingCount {
        /// The format being read.
        format: &'static str,
        /// The line, 1-based.
        line: u64,
    },
    /// A folded-style count that is not a non-negative integer below 2^63.
    #[error("{format}: line {line}: expected a sample count (an integer from 0 to 2^63-1), found {found:?}")]
    BadCount {
        /// The format being read.
        format: &'static str,
        /// The line, 1-based.
        line: u64,
        /// The text found where the count should be (cut to 80 bytes).
        found: String,
    },
    /// A folded-style line whose stack is empty.
    #[error(
        "{format}: line {line}: expected at least one frame before the count, found an empty stack"
    )]
    EmptyStack {
        /// The format being read.
        format: &'static str,
        /// The line, 1-based.
        line: u64,
    },
    /// A differential folded line without its two counts.
    #[error("folded: line {line}: expected `frame;frame;... before after` (two counts)")]
    MissingDiffCount {
        /// The line, 1-based.
        line: u64,
    },
    /// The input could not be read (a streamed reader's I/O error) after
    /// `line` lines.
    #[error("{format}: reading line {line}: {source}")]
    Io {
        /// The format being read.
        format: &'static str,
        /// The line being read, 1-based.
        line: u64,
        /// What the reader said.
        #[source]
        source: std::io::Error,
    },
    /// A line longer than the streaming readers take (1 GiB): not text of
    /// this format.
    #[error("{format}: line {line}: longer than {max} bytes")]
    LineTooLong {
        /// The format being read.
        format: &'static str,
        /// The line, 1-based.
        line: u64,
        /// The longest line taken.
        max: u64,
    },
    /// A `perf script` line that should start a sample but does not.
    #[error("perf script: line {line}: expected a sample header `comm pid[/tid] [cpu] time: [period] event:`, found {found:?}")]
    BadHeader {
        /// The line, 1-based.
        line: u64,
        /// The line's text (cut to 80 bytes).
        found: String,
    },
    /// A `perf script` line inside a sample that is not a frame.
    #[error(
        "perf script: line {line}: expected a frame `address symbol (module)`, found {found:?}"
    )]
    BadFrame {
        /// The line, 1-based.
        line: u64,
        /// The line's text (cut to 80 bytes).
        found: String,
    },
    /// A `perf script` sample header whose period (the number before the
    /// event name) is negative, fractional or above 2^63-1.
    #[error("perf script: line {line}: expected a period (an integer from 0 to 2^63-1) before the event name, found {found:?}")]
    BadPeriod {
        /// The line, 1-based.
        line: u64,
        /// The text found where the period should be (cut to 80 bytes).
        found: String,
    },
    /// The weights read so far add up to more than a 64-bit total holds.
    #[error("{format}: line {line}: total weight overflows 64 bits (the weights up to this line add up to more than 2^63-1)")]
    WeightOverflow {
        /// The format being read.
        format: &'static str,
        /// The line, 1-based.
        line: u64,
    },
    /// The input ends inside a sample: a header whose frames are missing.
    #[error("perf script: line {line}: expected the frames of the sample whose header is on this line, found the end of the input (truncated record)")]
    Truncated {
        /// The line of the sample header, 1-based.
        line: u64,
    },
}

impl Error {
    /// The 1-based line the error names (every variant names one).
    ///
    /// ```
    /// let e = stackconv_collapsed::folded::read(b"main;a 1\nmain;b\n").unwrap_err();
    /// assert_eq!(e.line(), 2);
    /// ```
    pub fn line(&self) -> u64 {
        match self {
            Error::Binary { line, .. }
            | Error::Io { line, .. }
            | Error::LineTooLong { line, .. }
            | Error::MissingCount { line, .. }
            | Error::BadCount { line, .. }
            | Error::EmptyStack { line, .. }
            | Error::MissingDiffCount { line }
            | Error::BadHeader { line, .. }
            | Error::BadFrame { line, .. }
            | Error::BadPeriod { line, .. }
            | Error::WeightOverflow { line, .. }
            | Error::Truncated { line } => *line,
        }
    }
}

/// `text` cut to at most 80 bytes (on a character boundary), for messages.
pub(crate) fn excerpt(text: &str) -> String {
    const MAX: usize = 80;
    if text.len() <= MAX {
        return text.to_string();
    }
    let mut end = MAX;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    let mut s = text.get(..end).unwrap_or("").to_string();
    s.push('…');
    s
}
