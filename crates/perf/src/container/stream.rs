//! The canonical pipe-mode stream the validated records make, read by
//! linux-perf-data's `parse_pipe`, releasing the input's pages behind it.

use super::*;

impl Container<'_> {
    /// The canonical pipe-mode stream, for `PerfFileReader::parse_pipe`.
    pub(crate) fn stream(
        &self,
        progress: Option<crate::Progress>,
        position: std::sync::Arc<std::sync::atomic::AtomicU64>,
    ) -> impl std::io::Read + Send + '_ {
        let mut parts: Vec<(&[u8], Option<usize>)> = vec![(&self.header, None)];
        for seg in &self.segments {
            parts.push(match seg {
                Segment::Input(r) => (self.input.get(r.clone()).unwrap_or_default(), Some(r.start)),
                Segment::Owned(v) => (v, None),
            });
        }
        StreamReader {
            parts,
            index: 0,
            pages: self.pages,
            released: 0,
            progress,
            reported: 0,
            len: self.input.len() as u64,
            position,
        }
    }
}

/// Input bytes read between two progress reports.
const PROGRESS_STEP: usize = 4 << 20;

/// Reads a list of byte slices one after the other, each with its offset
/// in the input when it lies there, releasing the input's pages behind it.
struct StreamReader<'a> {
    parts: Vec<(&'a [u8], Option<usize>)>,
    index: usize,
    pages: Pages<'a>,
    /// The input is released up to here.
    released: usize,
    progress: Option<crate::Progress>,
    /// The input offset last reported.
    reported: usize,
    len: u64,
    /// How far the input has been read (for errors of the parser).
    position: std::sync::Arc<std::sync::atomic::AtomicU64>,
}

impl std::io::Read for StreamReader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        while let Some((part, at)) = self.parts.get_mut(self.index) {
            if part.is_empty() {
                self.index += 1;
                continue;
            }
            let n = part.read(buf)?;
            if let Some(at) = at {
                *at = at.saturating_add(n);
                self.position
                    .store(*at as u64, std::sync::atomic::Ordering::Relaxed);
                if *at >= self.released.saturating_add(self.pages.window) {
                    self.pages
                        .release(self.released.max(*at - self.pages.window)..*at);
                    self.released = *at;
                }
                if let Some(p) = &self.progress {
                    if *at >= self.reported.saturating_add(PROGRESS_STEP) {
                        self.reported = *at;
                        p.report(*at as u64, self.len);
                    }
                }
            }
            return Ok(n);
        }
        Ok(0)
    }
}
