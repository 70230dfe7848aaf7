//! The error type of stackconv-columnar.

/// Why a Parquet or Arrow table could not be written or read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The data is neither a Parquet file nor an Arrow IPC file.
    #[error("not a Parquet (PAR1) or Arrow IPC (ARROW1) file")]
    NotATable,
    /// The Parquet reader or writer failed (a damaged or truncated file:
    /// the parquet crate's message).
    #[error("parquet: {0}")]
    Parquet(#[from] parquet::errors::ParquetError),
    /// The Arrow IPC reader or writer, or an array, failed.
    #[error("arrow: {0}")]
    Arrow(#[from] arrow_schema::ArrowError),
    /// A column the table needs is missing or has another type.
    #[error("{format}: column {column:?}: {what}")]
    Column {
        /// `parquet` or `arrow`.
        format: &'static str,
        /// The column's name.
        column: String,
        /// What was expected.
        what: String,
    },
    /// The stackconv metadata of the file is not what stackconv writes.
    #[error("{format}: metadata key `{key}`: {source}")]
    Metadata {
        /// `parquet` or `arrow`.
        format: &'static str,
        /// The key.
        key: &'static str,
        /// What the JSON reader said.
        #[source]
        source: serde_json::Error,
    },
    /// A later input of one table has a value column the table, begun by
    /// the first input, has not (the columns are fixed when the file is
    /// started).
    #[error(
        "{path}: value column {column:?} ({kind}, {unit}) is not in the table, whose value \
         columns come from the first input ({have}); write inputs that record other events to \
         another file"
    )]
    NewValueColumn {
        /// The input.
        path: String,
        /// The column's name.
        column: String,
        /// Its kind, as recorded.
        kind: String,
        /// Its unit.
        unit: String,
        /// The table's value columns.
        have: String,
    },
    /// A label key that the table was not started with, or that is also the
    /// name of another column.
    #[error("label {key:?}: {what}")]
    Label {
        /// The key.
        key: String,
        /// What is wrong with it.
        what: String,
    },
    /// The file is damaged in a way the parquet or arrow reader did not
    /// check, and it failed (panicked) on it.
    #[error("{format}: damaged file (the reader failed: {what})")]
    Damaged {
        /// `parquet` or `arrow`.
        format: &'static str,
        /// The reader's message.
        what: String,
    },
    /// An Arrow IPC file's footer lists a block outside the file (or of
    /// a negative size): the arrow reader would allocate what it claims.
    #[error("arrow: {what} block {index} of the footer claims bytes {offset}..{offset}+{claimed}, outside the file of {len} bytes")]
    BlockOutsideFile {
        /// The block's index among the footer's blocks.
        index: usize,
        /// The byte offset the block claims.
        offset: i64,
        /// The bytes it claims (metadata + body, saturating), as the file says.
        claimed: i64,
        /// `record batch` or `dictionary`.
        what: &'static str,
        /// The file's length.
        len: usize,
    },
    /// An Arrow IPC file's footer length (the 4 bytes before the closing
    /// `ARROW1`) claims more bytes than come before it.
    #[error("arrow: the footer length at byte {at} claims {claimed} bytes, more than the file holds before it")]
    ArrowFooterOutsideFile {
        /// The claimed footer length.
        claimed: usize,
        /// The byte offset of the footer length.
        at: usize,
    },
    /// A Parquet footer or page header (Thrift) claims more elements than
    /// it has bytes: the parquet crate would loop over the claim.
    #[error("parquet: byte {at}: {what}")]
    ThriftClaim {
        /// The byte offset of the claim.
        at: usize,
        /// What is claimed.
        what: &'static str,
    },
    /// A Parquet footer claims what the file cannot hold (a row count
    /// that overflows, a column chunk outside the file).
    #[error("parquet: the footer at byte {footer_at} claims row group {row_group} has {what}")]
    FooterClaim {
        /// The footer's byte offset.
        footer_at: usize,
        /// The row group, 0-based.
        row_group: usize,
        /// What it claims.
        what: String,
    },
    /// Writing failed.
    #[error("{0}")]
    Io(#[from] std::io::Error),
}
