//! The hot loop: one response body onto disk, for a chunk and for a stream alike.
//!
//! [`BodyCopy::run`] reads the body into a buffer, writes each piece at its offset in the `.part` file
//! (a positioned write, so the connections of a file never share a file cursor), advances the counters
//! ([`Progress::record`] and whatever the [`CopyTarget`] keeps: a chunk's atomic count, a stream's
//! offset and hash), gives `--limit-rate` its due ([`Context::throttle`]) and drops a connection slower
//! than `--lowest-speed` over [`LOW_SPEED_WINDOW`]. A chunk stops at the end of its range; a stream
//! has no end but the body's.
//!
//! This path takes no lock: a read, a `write_all_at`, atomic adds (the chunk's count, the progress
//! counters, the rate limit's bucket) and, for a stream asked to, a hash. Everything that locks (host
//! limits, checkpoints, failures) happens per request or per second, never per read; keep it so.
//!
//! [`Progress::record`]: crate::run::progress::Progress::record

use std::cell::RefCell;
use std::io::Read;
use std::time::Instant;

use crate::disk::part::PartFile;
use crate::error::Error;
use crate::file::plan::Chunk;
use crate::run::config::LOW_SPEED_WINDOW;
use crate::run::context::Context;
use crate::run::progress::FileProgress;

/// Size of the buffer each connection reads into. Large enough that a fast local transfer is not
/// dominated by system calls, small enough that many connections cost little memory.
pub(crate) const BUFFER_SIZE: usize = 128 * 1024;

thread_local! {
    /// The read buffer of the last download on this thread, kept for the next: a worker that
    /// downloads thousands of small files allocates it (and the kernel zeroes its pages) once.
    static BUFFER: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

/// Runs `f` with this thread's read buffer of [`BUFFER_SIZE`] bytes (a fresh one if the thread's
/// is in use further up its stack).
pub(crate) fn with_buffer<R>(f: impl FnOnce(&mut [u8]) -> R) -> R {
    BUFFER.with(|cell| match cell.try_borrow_mut() {
        Ok(mut buffer) => {
            buffer.resize(BUFFER_SIZE, 0);
            f(&mut buffer)
        }
        Err(_) => f(&mut vec![0; BUFFER_SIZE]),
    })
}

/// After this many bytes written by one connection, the kernel is asked to start writing them to
/// the disk ([`PartFile::start_writeback`]), so that a big file's final flush waits only for its
/// last few MiB instead of the whole file. Once per 64 reads of a full buffer: no cost to speak of.
const WRITEBACK_STEP: u64 = 8 << 20;

/// Where a body goes and what its bytes count towards: the parts of the copy that differ between a
/// chunk and a stream.
pub(crate) trait CopyTarget {
    /// The offset in the file of the next byte.
    fn offset(&self) -> u64;

    /// How many more bytes the target takes; `None` for as many as the body has.
    fn remaining(&self) -> Option<u64>;

    /// `written` is on disk at [`offset`](CopyTarget::offset): moves past it. Returns how many of its
    /// bytes are new to the file's progress (a stream that starts over counts again only past the
    /// furthest point it reached before).
    fn advance(&mut self, written: &[u8]) -> u64;
}

/// A ranged download's chunk, filled from where it stopped to the end of its range. Each read takes
/// no more than the owner has claimed ([`Chunk::claim`]), so a split of the range never lands inside
/// a read.
impl CopyTarget for &Chunk {
    fn offset(&self) -> u64 {
        self.next_offset()
    }

    fn remaining(&self) -> Option<u64> {
        let offset = self.next_offset();
        Some(self.claim(offset).saturating_sub(offset))
    }

    fn advance(&mut self, written: &[u8]) -> u64 {
        let n = written.len() as u64;
        Chunk::advance(self, n);
        n
    }
}

/// Why a copy ended without an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CopyEnd {
    /// The target took all it wanted (a chunk reached the end of its range).
    Filled,
    /// The body ended; whether that was early is the caller's to judge.
    BodyEnded,
    /// The caller's stop condition held (Ctrl-C, or another chunk of the file failed).
    Stopped,
}

/// What every copy of one file shares: where the bytes go and whom they are reported to.
#[derive(Debug, Clone, Copy)]
pub(crate) struct BodyCopy<'a> {
    /// The run's shared state (rate limit, progress, `--lowest-speed`).
    pub context: &'a Context,
    /// The file's counters.
    pub file: &'a FileProgress,
    /// The `.part` file the bytes are written into.
    pub part: &'a PartFile,
    /// The URL the body comes from, for errors.
    pub url: &'a str,
    /// Bytes per second under which the connection is dropped (0: never).
    pub lowest_speed: u64,
}

impl BodyCopy<'_> {
    /// Copies `body` into `target` through `buffer` until the target is filled, the body ends, or
    /// `stop()` holds (checked before every read). A failed read is a [`Error::Network`] error, a
    /// connection under the lowest speed a [`Error::Protocol`] one: both transient.
    pub(crate) fn run(
        &self,
        body: &mut impl Read,
        target: &mut impl CopyTarget,
        buffer: &mut [u8],
        stop: impl Fn() -> bool,
    ) -> Result<CopyEnd, Error> {
        let _live = self.file.connection();
        let mut window = SpeedWindow::new();
        let flushes = self.context.config.sync.flushes();
        let mut unflushed = (target.offset(), 0u64);
        loop {
            let want = match target.remaining() {
                Some(0) => return Ok(CopyEnd::Filled),
                Some(left) => buffer
                    .len()
                    .min(usize::try_from(left).unwrap_or(usize::MAX)),
                None => buffer.len(),
            };
            if stop() {
                return Ok(CopyEnd::Stopped);
            }
            let n = match body.read(&mut buffer[..want]) {
                Ok(0) => return Ok(CopyEnd::BodyEnded),
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(Error::network(self.url, ureq::Error::from(e))),
            };
            let piece = &buffer[..n];
            let offset = target.offset();
            self.part.write_all_at(piece, offset)?;
            if flushes {
                // The bytes of one connection are contiguous, so a start and a length describe them.
                if unflushed.0 + unflushed.1 != offset {
                    unflushed = (offset, 0);
                }
                unflushed.1 += n as u64;
                if unflushed.1 >= WRITEBACK_STEP {
                    self.part.start_writeback(unflushed.0, unflushed.1);
                    unflushed = (offset + n as u64, 0);
                }
            }
            let new = target.advance(piece);
            if new > 0 {
                self.context.progress.record(self.file, new);
            }
            self.context.throttle(n as u64);
            window.received(n as u64);
            if self.lowest_speed > 0 {
                if let Some(speed) = window.full_window_speed() {
                    if speed < self.lowest_speed as f64 {
                        return Err(Error::Protocol {
                            url: self.url.to_string(),
                            message: format!(
                                "connection slower than the lowest speed ({speed:.0} B/s)"
                            ),
                        });
                    }
                }
            }
        }
    }
}

/// The bytes one connection received since the start of its current [`LOW_SPEED_WINDOW`].
struct SpeedWindow {
    since: Instant,
    bytes: u64,
}

impl SpeedWindow {
    fn new() -> SpeedWindow {
        SpeedWindow {
            since: Instant::now(),
            bytes: 0,
        }
    }

    fn received(&mut self, n: u64) {
        self.bytes += n;
    }

    /// The speed over the window once it is [`LOW_SPEED_WINDOW`] long (and a new window begins);
    /// `None` before.
    fn full_window_speed(&mut self) -> Option<f64> {
        let elapsed = self.since.elapsed();
        if elapsed < LOW_SPEED_WINDOW {
            return None;
        }
        let speed = self.bytes as f64 / elapsed.as_secs_f64();
        *self = SpeedWindow::new();
        Some(speed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io;
    use std::time::Duration;

    /// A context, a file's counters and a 30-byte `.part` file in a temporary directory.
    struct Setup {
        context: Context,
        file: std::sync::Arc<FileProgress>,
        part: PartFile,
        _dir: tempfile::TempDir,
    }

    impl Setup {
        fn new() -> Setup {
            let dir = tempfile::tempdir().unwrap();
            let context = Context::new(crate::Config::default());
            let file = context.progress.start_file("f");
            let part = PartFile::lock(&dir.path().join("f")).unwrap();
            part.allocate(30).unwrap();
            Setup {
                context,
                file,
                part,
                _dir: dir,
            }
        }

        fn copy(&self) -> BodyCopy<'_> {
            BodyCopy {
                context: &self.context,
                file: &self.file,
                part: &self.part,
                url: "http://h/f",
                lowest_speed: 0,
            }
        }

        fn on_disk(&self) -> Vec<u8> {
            std::fs::read(self.part.path()).unwrap()
        }
    }

    /// A body that hands out `pieces` one read at a time.
    struct Pieces(Vec<io::Result<Vec<u8>>>);

    impl Read for Pieces {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            if self.0.is_empty() {
                return Ok(0);
            }
            let piece = self.0.remove(0)?;
            buf[..piece.len()].copy_from_slice(&piece);
            Ok(piece.len())
        }
    }

    #[test]
    fn a_chunk_takes_its_range_and_not_a_byte_more() {
        let setup = Setup::new();
        let chunk = Chunk::new(10..20);
        let mut body: &[u8] = b"abcdefghijklmno";
        let end = setup
            .copy()
            .run(&mut body, &mut &chunk, &mut [0u8; 4], || false)
            .unwrap();
        assert_eq!(end, CopyEnd::Filled);
        assert_eq!(body, b"klmno", "read past the range");
        assert_eq!(&setup.on_disk()[10..20], b"abcdefghij");
        assert_eq!(chunk.written(), 10);
        assert_eq!(
            (setup.context.progress.bytes(), setup.file.bytes()),
            (10, 10)
        );
    }

    #[test]
    fn a_body_shorter_than_the_chunk_ends_with_what_it_had() {
        let setup = Setup::new();
        let chunk = Chunk::with_written(0..10, 2);
        let mut body: &[u8] = b"cde";
        let end = setup
            .copy()
            .run(&mut body, &mut &chunk, &mut [0u8; 8], || false)
            .unwrap();
        assert_eq!(end, CopyEnd::BodyEnded);
        assert_eq!(&setup.on_disk()[..5], b"\0\0cde");
        assert_eq!(chunk.next_offset(), 5);
    }

    #[test]
    fn the_stop_condition_is_checked_before_every_read() {
        let setup = Setup::new();
        let chunk = Chunk::new(0..10);
        let mut body: &[u8] = b"0123456789";
        let reads = std::cell::Cell::new(0);
        let end = setup
            .copy()
            .run(&mut body, &mut &chunk, &mut [0u8; 3], || {
                reads.set(reads.get() + 1);
                reads.get() > 2
            })
            .unwrap();
        assert_eq!(end, CopyEnd::Stopped);
        assert_eq!(
            chunk.written(),
            6,
            "two reads of three bytes, then the stop"
        );
    }

    #[test]
    fn an_interrupted_read_is_read_again_and_a_failed_one_is_a_transient_network_error() {
        let setup = Setup::new();
        let chunk = Chunk::new(0..10);
        let mut body = Pieces(vec![
            Ok(b"abc".to_vec()),
            Err(io::ErrorKind::Interrupted.into()),
            Ok(b"de".to_vec()),
            Err(io::ErrorKind::ConnectionReset.into()),
        ]);
        let error = setup
            .copy()
            .run(&mut body, &mut &chunk, &mut [0u8; 8], || false)
            .unwrap_err();
        assert!(matches!(error, Error::Network { .. }), "{error:?}");
        assert!(error.is_transient());
        assert_eq!(chunk.written(), 5, "the bytes before the reset stay");
        assert_eq!(&setup.on_disk()[..5], b"abcde");
    }

    #[test]
    fn the_speed_window_reports_once_it_is_full_and_then_starts_again() {
        let mut window = SpeedWindow::new();
        window.received(1000);
        assert_eq!(window.full_window_speed(), None);
        window.since -= LOW_SPEED_WINDOW + Duration::from_secs(10);
        let speed = window.full_window_speed().unwrap();
        assert!((40.0..=55.0).contains(&speed), "{speed}");
        assert_eq!((window.bytes, window.full_window_speed()), (0, None));
    }
}
