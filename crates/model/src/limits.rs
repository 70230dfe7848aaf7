//! Limits on what an input may make a reader hold, shared by every reader
//! of compressed data (zstd records of perf.data, gzip of pprof).

/// The decompressed-size limit used when none is given for an input of
/// `input_len` bytes: 64 times the input, and at least 256 MiB.
///
/// zstd at perf's level (`-z` is level 1) shrinks perf records about 5 to
/// 20 times, and gzip shrinks pprof about as much, so real inputs stay well
/// inside 64 times their size; a compression bomb (thousands of times) is
/// stopped after at most 256 MiB for a small file, before it can fill
/// memory.
///
/// ```
/// use stackconv_model::limits::default_max_decompressed;
/// assert_eq!(default_max_decompressed(1000), 256 << 20);
/// assert_eq!(default_max_decompressed(1 << 30), 64 << 30);
/// ```
pub fn default_max_decompressed(input_len: u64) -> u64 {
    input_len.saturating_mul(64).max(256 << 20)
}
