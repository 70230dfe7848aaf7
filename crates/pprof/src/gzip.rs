//! Gzip of a message as it is encoded, on both cores.
//!
//! The encoder hands over chunks of the message as it fills them; a
//! thread compresses each alone, as raw deflate ending on a byte boundary
//! (a sync flush), with its CRC-32. When the encoder is done, it
//! compresses what is left beside that thread. The chunks, in order,
//! followed by an empty final block, are one deflate stream (each chunk
//! starts with an empty window: a few bytes more per megabyte); with the
//! CRCs combined, one gzip member, as any gzip reader expects.

use std::collections::VecDeque;
use std::io::{self, Write};
use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};

use flate2::{Compress, Compression, Crc, FlushCompress, Status};

/// Chunks waiting to be compressed, at most: the encoder waits for room
/// beyond that (memory stays a few chunks whatever the message's size).
const WAITING: usize = 4;

/// Compress everything `produce` writes into the writer it is given (as
/// chunks: each write is one) as one gzip member, at the fastest level, as
/// Go's runtime/pprof writes its profiles (the default level took most of
/// the time of a large profile: zlib-rs's fastest level gives c-fp-100M's
/// 16.5 MB message as 8.2 MB in 66 ms of one core, its next 5.9 MB in
/// 127 ms). Gives the gzip bytes, or the first error of `produce` or of
/// compressing.
pub(crate) fn gzip_while<E: From<io::Error>>(
    produce: impl FnOnce(&mut Chunks<'_>) -> Result<(), E>,
) -> Result<Vec<u8>, E> {
    let queue = Queue {
        state: Mutex::new(State {
            producing: true,
            ..State::default()
        }),
        changed: Condvar::new(),
    };
    let (produced, mine, theirs) = std::thread::scope(|scope| {
        let helper = std::thread::Builder::new()
            .name("pprof-gzip".into())
            .spawn_scoped(scope, || queue.compress_all());
        let produced = match &helper {
            Ok(_) => produce(&mut Chunks {
                queue: &queue,
                next: 0,
            }),
            Err(e) => Err(io::Error::new(e.kind(), e.to_string()).into()),
        };
        // Done, or failed: the helper stops once the queue is empty, and
        // this thread compresses beside it until then.
        queue.lock().producing = false;
        queue.changed.notify_all();
        let mine = queue.compress_all();
        let theirs = match helper {
            Ok(h) => h
                .join()
                .unwrap_or_else(|_| Err(io::Error::other("the gzip thread panicked"))),
            Err(e) => Err(e),
        };
        (produced, mine, theirs)
    });
    produced?;
    let mut chunks = mine?;
    chunks.extend(theirs?);
    chunks.sort_unstable_by_key(|c| c.index);
    Ok(member(&chunks))
}

/// The gzip member of `chunks` (in order): the header flate2's encoder
/// writes at the fastest level (no name, no time, unknown system), the
/// chunks, an empty final block, the CRC-32 and the length.
fn member(chunks: &[Deflated]) -> Vec<u8> {
    const HEADER: [u8; 10] = [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 4, 0xff];
    // A final block of fixed codes holding only its end: bits 1, 01, 0000000.
    const FINAL_BLOCK: [u8; 2] = [0x03, 0x00];
    let size: usize = chunks.iter().map(|c| c.bytes.len()).sum();
    let mut out = Vec::with_capacity(size + HEADER.len() + FINAL_BLOCK.len() + 8);
    out.extend_from_slice(&HEADER);
    let mut crc = Crc::new();
    for c in chunks {
        out.extend_from_slice(&c.bytes);
        crc.combine(&c.crc);
    }
    out.extend_from_slice(&FINAL_BLOCK);
    out.extend_from_slice(&crc.sum().to_le_bytes());
    // The length modulo 2^32, as gzip keeps it.
    out.extend_from_slice(&crc.amount().to_le_bytes());
    out
}

/// A chunk compressed: where it goes, its deflate bytes, its CRC-32.
struct Deflated {
    index: usize,
    bytes: Vec<u8>,
    crc: Crc,
}

/// Chunk `bytes` as raw deflate at the fastest level, ending on a byte
/// boundary and not final, so that another chunk's blocks may follow.
fn deflate(index: usize, bytes: &[u8]) -> io::Result<Deflated> {
    let mut z = Compress::new(Compression::fast(), false);
    let mut out: Vec<u8> = Vec::with_capacity(bytes.len() / 2 + 64);
    loop {
        let done = usize::try_from(z.total_in()).unwrap_or(usize::MAX);
        let rest = bytes.get(done..).unwrap_or_default();
        if out.capacity() - out.len() < 64 {
            out.reserve(rest.len() / 2 + 4096);
        }
        let status = z
            .compress_vec(rest, &mut out, FlushCompress::Sync)
            .map_err(io::Error::other)?;
        let all_in = usize::try_from(z.total_in()).is_ok_and(|n| n >= bytes.len());
        // The flush is complete once all the input is in and the output
        // was not filled (zlib's rule for a sync flush).
        if status == Status::StreamEnd || (all_in && out.len() < out.capacity()) {
            break;
        }
    }
    let mut crc = Crc::new();
    crc.update(bytes);
    Ok(Deflated {
        index,
        bytes: out,
        crc,
    })
}

/// The chunks between the encoder and the threads compressing them.
struct Queue {
    state: Mutex<State>,
    /// Told when a chunk comes or goes, and when the encoder is done.
    changed: Condvar,
}

#[derive(Default)]
struct State {
    waiting: VecDeque<(usize, Vec<u8>)>,
    /// Whether the encoder may still add chunks.
    producing: bool,
    /// A thread failed to compress: the encoder is told, nothing more is
    /// compressed.
    failed: bool,
}

impl Queue {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Compress chunks as they come until the encoder is done and none is
    /// left (or one failed): those this thread compressed.
    fn compress_all(&self) -> io::Result<Vec<Deflated>> {
        // Should this thread unwind, the encoder is not left waiting for
        // room that would never come.
        let guard = FailOnDrop(self);
        let mut done = Vec::new();
        loop {
            let job = {
                let mut state = self.lock();
                loop {
                    if state.failed {
                        break None;
                    }
                    if let Some(job) = state.waiting.pop_front() {
                        break Some(job);
                    }
                    if !state.producing {
                        break None;
                    }
                    state = self
                        .changed
                        .wait(state)
                        .unwrap_or_else(PoisonError::into_inner);
                }
            };
            self.changed.notify_all();
            let Some((index, bytes)) = job else { break };
            done.push(deflate(index, &bytes)?);
        }
        std::mem::forget(guard);
        Ok(done)
    }
}

/// Marks the queue failed when dropped: by a compressing thread that
/// returns an error or unwinds.
struct FailOnDrop<'q>(&'q Queue);

impl Drop for FailOnDrop<'_> {
    fn drop(&mut self) {
        self.0.lock().failed = true;
        self.0.changed.notify_all();
    }
}

/// The encoder's side: each write is a chunk, numbered in order.
pub(crate) struct Chunks<'q> {
    queue: &'q Queue,
    next: usize,
}

impl Write for Chunks<'_> {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        let mut state = self.queue.lock();
        while state.waiting.len() >= WAITING && !state.failed {
            state = self
                .queue
                .changed
                .wait(state)
                .unwrap_or_else(PoisonError::into_inner);
        }
        if state.failed {
            return Err(io::Error::other("compressing the profile failed"));
        }
        state.waiting.push_back((self.next, bytes.to_vec()));
        self.next += 1;
        drop(state);
        self.queue.changed.notify_all();
        Ok(bytes.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    fn gunzip(gz: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(gz)
            .read_to_end(&mut out)
            .unwrap();
        out
    }

    /// Bytes that compress somewhat, as a message does.
    fn message(len: usize) -> Vec<u8> {
        (0..len)
            .map(|i| (i % 251) as u8 ^ ((i / 4099) as u8))
            .collect()
    }

    #[test]
    fn chunks_make_one_member_of_the_whole() {
        for (len, chunk) in [
            (0, 1),
            (1, 1),
            (1000, 7),
            (300_000, 65_536),
            (3 << 20, 1 << 20),
        ] {
            let whole = message(len);
            let gz = gzip_while(|w: &mut Chunks<'_>| -> io::Result<()> {
                for c in whole.chunks(chunk) {
                    w.write_all(c)?;
                }
                Ok(())
            })
            .unwrap();
            assert_eq!(gunzip(&gz), whole, "{len} bytes in chunks of {chunk}");
            // One member: its trailer is the last 8 bytes, and they say
            // the whole.
            let mut crc = Crc::new();
            crc.update(&whole);
            let trailer = gz.get(gz.len() - 8..).unwrap();
            assert_eq!(trailer.get(..4).unwrap(), crc.sum().to_le_bytes());
            assert_eq!(trailer.get(4..).unwrap(), (len as u32).to_le_bytes());
            // Go's reader (and any other) reads one member: no second
            // header follows the first's data.
            let mut d = flate2::read::DeflateDecoder::new(gz.get(10..).unwrap());
            let mut raw = Vec::new();
            d.read_to_end(&mut raw).unwrap();
            assert_eq!(raw, whole);
        }
    }

    #[test]
    fn the_encoders_error_is_given_and_nothing_hangs() {
        #[derive(Debug)]
        struct Stop;
        impl From<io::Error> for Stop {
            fn from(_: io::Error) -> Self {
                Stop
            }
        }
        let r = gzip_while(|w: &mut Chunks<'_>| -> Result<(), Stop> {
            for _ in 0..3 * WAITING {
                w.write_all(&message(10_000))?;
            }
            Err(Stop)
        });
        assert!(matches!(r, Err(Stop)));
    }
}
