//! One chunk of a ranged download: a byte range of the file, how far it has got, and the *window*
//! through which its owner and a thief agree on where it ends.
//!
//! A worker that runs out of work takes over the upper part of a range another connection is still
//! fetching ([`ChunkPlan::split`](crate::file::plan::ChunkPlan::split); when and where is decided in
//! [`crate::file::split`]). Two threads then care about one chunk's end: its owner, which must never
//! write past it, and the thief, which lowers it. They agree through one atomic word per chunk, the
//! chunk's window: how far the owner has claimed, and where the chunk ends, both counted in
//! [`BLOCK`]s from the chunk's start.
//!
//! * The owner, before each read, makes sure the bytes it is about to read are claimed
//!   ([`Chunk::claim`]): usually the claim it made before still covers them (one atomic load);
//!   otherwise it moves its claim forward by one buffer with a compare-and-swap, never past the end.
//! * The thief lowers the end with a compare-and-swap that fails if the owner claimed past the new
//!   end in the meantime ([`Chunk::cut_at`]); it then looks again.
//!
//! So a split point is never inside a window the owner has claimed: the owner never has to stop in
//! the middle of a read, no byte is written by two owners, and none is left without one. There is
//! no lock on the owner's side.

use std::ops::Range;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};

/// Split points fall on multiples of this many bytes from the start of the chunk being split, and an
/// owner claims whole blocks ahead of its reads. Small next to any chunk worth splitting.
pub(crate) const BLOCK: u64 = 64 * 1024;

/// How far ahead of its reads an owner claims at a time: one read buffer's worth. A thief can never
/// take these bytes, so this is the most a stalled owner keeps to itself.
pub(crate) const CLAIM_AHEAD: u64 = 128 * 1024;

/// A window's end when the chunk is too long to count in [`BLOCK`]s (over 256 TiB): such a chunk
/// is never split.
const UNSPLITTABLE: u32 = u32::MAX;

/// `(claimed, end)` in blocks from the chunk's start, as one word.
fn pack(claimed: u32, end: u32) -> u64 {
    (u64::from(claimed) << 32) | u64::from(end)
}

/// The `(claimed, end)` of a window word.
fn unpack(window: u64) -> (u32, u32) {
    ((window >> 32) as u32, window as u32)
}

/// `bytes` in blocks, rounded up; [`UNSPLITTABLE`] if that does not fit.
fn blocks_up(bytes: u64) -> u32 {
    u32::try_from(bytes.div_ceil(BLOCK))
        .ok()
        .filter(|&b| b < UNSPLITTABLE)
        .unwrap_or(UNSPLITTABLE)
}

/// One byte range of a file and its progress.
///
/// The range's end can move down while the chunk is fetched (a split, see the [module](self) docs);
/// its start never moves.
#[derive(Debug)]
pub struct Chunk {
    /// First byte of the range. Set before the chunk is published in its plan, never changed after.
    start: AtomicU64,
    /// One past the last byte the range had when the chunk was made; the real end is at most this.
    /// Set before the chunk is published, never changed after.
    first_end: AtomicU64,
    /// The owner's claim and the range's end, in blocks from `start` ([`pack`]).
    window: AtomicU64,
    /// Bytes of the range already written to disk, counted from `start`. Only the worker that owns the
    /// chunk adds to it; anyone may read it.
    written: AtomicU64,
    /// Whether a worker has taken the chunk (so an idle worker knows whether work is still queued).
    taken: AtomicBool,
    /// When the chunk's current request was sent, in nanoseconds from the plan's epoch (0: none yet).
    request_sent: AtomicU64,
    /// `written` when that request was sent: the bytes since then, over the time since then, are the
    /// connection's speed.
    request_base: AtomicU64,
    /// The mirror its requests go to (0 for a link with one URL).
    mirror: AtomicU32,
    /// Whether its bytes came from more than one mirror (it moved to another after a failure).
    mixed: AtomicBool,
}

/// Where the bytes of a chunk came from, as the resume state keeps it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Source {
    /// All from this mirror (the index among the link's URLs).
    Mirror(u32),
    /// From more than one.
    Mixed,
}

impl Chunk {
    /// A chunk covering `range` with nothing written yet.
    pub fn new(range: Range<u64>) -> Chunk {
        Chunk::with_written(range, 0)
    }

    /// A chunk covering `range` of which the first `written` bytes are already on disk.
    pub fn with_written(range: Range<u64>, written: u64) -> Chunk {
        assert!(range.start < range.end, "a chunk cannot be empty");
        let chunk = Chunk::unused();
        chunk.fill(range, written);
        chunk
    }

    /// A slot for a chunk a split may make later.
    pub(crate) fn unused() -> Chunk {
        Chunk {
            start: AtomicU64::new(0),
            first_end: AtomicU64::new(0),
            window: AtomicU64::new(0),
            written: AtomicU64::new(0),
            taken: AtomicBool::new(false),
            request_sent: AtomicU64::new(0),
            request_base: AtomicU64::new(0),
            mirror: AtomicU32::new(0),
            mixed: AtomicBool::new(false),
        }
    }

    /// Makes this slot the chunk `range` with `written` bytes on disk. Only on a slot nobody else
    /// can see yet (its plan publishes it afterwards, with a release store).
    pub(crate) fn fill(&self, range: Range<u64>, written: u64) {
        let len = range.end - range.start;
        self.start.store(range.start, Ordering::Relaxed);
        self.first_end.store(range.end, Ordering::Relaxed);
        self.window
            .store(pack(0, blocks_up(len)), Ordering::Relaxed);
        self.written.store(written.min(len), Ordering::Relaxed);
    }

    /// First byte of the range.
    pub fn start(&self) -> u64 {
        self.start.load(Ordering::Relaxed)
    }

    /// One past the last byte of the range, as it is now (a split may lower it).
    pub fn end(&self) -> u64 {
        self.end_of(unpack(self.window.load(Ordering::Acquire)).1)
    }

    /// The byte offset where a window end of `end_blocks` puts the chunk's end.
    fn end_of(&self, end_blocks: u32) -> u64 {
        let first_end = self.first_end.load(Ordering::Relaxed);
        if end_blocks == UNSPLITTABLE {
            return first_end;
        }
        (self.start() + u64::from(end_blocks) * BLOCK).min(first_end)
    }

    /// Size of the range in bytes.
    pub fn len(&self) -> u64 {
        self.end() - self.start()
    }

    /// Always false: empty chunks are never created.
    pub fn is_empty(&self) -> bool {
        false
    }

    /// Bytes written so far.
    pub fn written(&self) -> u64 {
        self.written.load(Ordering::Acquire)
    }

    /// The offset of the next byte to fetch: where a (re)started request begins.
    pub fn next_offset(&self) -> u64 {
        self.start() + self.written()
    }

    /// Bytes still to fetch.
    pub fn remaining(&self) -> u64 {
        self.len().saturating_sub(self.written())
    }

    /// Whether every byte of the range is on disk.
    pub fn is_complete(&self) -> bool {
        self.remaining() == 0
    }

    /// For the owner: the end of the bytes it may write now, starting at `offset` (its next byte).
    /// If its earlier claim does not reach past `offset`, claims up to [`CLAIM_AHEAD`] more bytes (in
    /// whole blocks, never past the end). Returns `offset` itself when the chunk has ended there.
    pub(crate) fn claim(&self, offset: u64) -> u64 {
        let start = self.start();
        loop {
            let window = self.window.load(Ordering::Acquire);
            let (claimed, end_blocks) = unpack(window);
            let end = self.end_of(end_blocks);
            if end_blocks == UNSPLITTABLE {
                return end;
            }
            let claimed_to = (start + u64::from(claimed) * BLOCK).min(end);
            if claimed_to > offset || offset >= end {
                return claimed_to.max(offset).min(end);
            }
            let wanted = blocks_up(offset + CLAIM_AHEAD - start).min(end_blocks);
            let claimed_now = pack(wanted, end_blocks);
            if self
                .window
                .compare_exchange(window, claimed_now, Ordering::AcqRel, Ordering::Acquire)
                .is_ok()
            {
                return (start + u64::from(wanted) * BLOCK).min(end);
            }
        }
    }

    /// The end of the owner's claim: where the chunk could be split now, at the earliest.
    pub(crate) fn claimed_to(&self) -> u64 {
        let (claimed, end_blocks) = unpack(self.window.load(Ordering::Acquire));
        if end_blocks == UNSPLITTABLE {
            return self.end();
        }
        (self.start() + u64::from(claimed) * BLOCK)
            .min(self.end_of(end_blocks))
            .max(self.next_offset())
    }

    /// Records that `n` more bytes were written right after the previous ones (by the owner, inside
    /// its claim).
    pub(crate) fn advance(&self, n: u64) {
        let before = self.written.fetch_add(n, Ordering::AcqRel);
        debug_assert!(before + n <= self.len(), "chunk overran its range");
    }

    /// Lowers the end to `at` (a block boundary from the start), unless the owner has claimed past it
    /// or the end is already there or lower; returns the end before, if lowered.
    pub(crate) fn cut_at(&self, at: u64) -> Option<u64> {
        let start = self.start();
        if at <= start || !(at - start).is_multiple_of(BLOCK) {
            return None;
        }
        let at_blocks = u32::try_from((at - start) / BLOCK).ok()?;
        let window = self.window.load(Ordering::Acquire);
        let (claimed, end_blocks) = unpack(window);
        let end = self.end_of(end_blocks);
        if end_blocks == UNSPLITTABLE || at_blocks < claimed || at >= end || at < self.next_offset()
        {
            return None;
        }
        self.window
            .compare_exchange(
                window,
                pack(claimed, at_blocks),
                Ordering::AcqRel,
                Ordering::Acquire,
            )
            .ok()
            .map(|_| end)
    }

    /// The mirror this chunk's requests go to.
    pub(crate) fn mirror(&self) -> usize {
        self.mirror.load(Ordering::Relaxed) as usize
    }

    /// Sends this chunk's next requests to mirror `mirror`; bytes it already has from another one
    /// make it mixed.
    pub(crate) fn use_mirror(&self, mirror: usize) {
        let mirror = u32::try_from(mirror).unwrap_or(u32::MAX);
        let before = self.mirror.swap(mirror, Ordering::Relaxed);
        if before != mirror && self.written() > 0 {
            self.mixed.store(true, Ordering::Relaxed);
        }
    }

    /// Where its bytes came from.
    pub(crate) fn source(&self) -> Source {
        if self.mixed.load(Ordering::Relaxed) {
            Source::Mixed
        } else {
            Source::Mirror(self.mirror.load(Ordering::Relaxed))
        }
    }

    /// Restores where its bytes came from (a resume).
    pub(crate) fn set_source(&self, source: Source) {
        match source {
            Source::Mirror(mirror) => {
                self.mirror.store(mirror, Ordering::Relaxed);
                self.mixed.store(false, Ordering::Relaxed);
            }
            Source::Mixed => self.mixed.store(true, Ordering::Relaxed),
        }
    }

    /// Forgets the chunk's bytes, to fetch them again (their mirror changed its file). Only while no
    /// worker fetches it.
    pub(crate) fn restart(&self) -> u64 {
        let (_, end_blocks) = unpack(self.window.load(Ordering::Acquire));
        self.window.store(pack(0, end_blocks), Ordering::Release);
        self.mixed.store(false, Ordering::Relaxed);
        self.taken.store(false, Ordering::Release);
        self.written.swap(0, Ordering::AcqRel)
    }

    /// Takes the chunk for a worker; false if another worker already has.
    pub(crate) fn take(&self) -> bool {
        !self.taken.swap(true, Ordering::AcqRel)
    }

    /// Whether a worker has taken the chunk.
    pub(crate) fn is_taken(&self) -> bool {
        self.taken.load(Ordering::Acquire)
    }

    /// Records that a request for the rest of the chunk is being sent at `now` (nanoseconds on its
    /// plan's clock, never 0).
    pub(crate) fn mark_request(&self, now: u64) {
        self.request_base.store(self.written(), Ordering::Relaxed);
        self.request_sent.store(now, Ordering::Release);
    }

    /// When the chunk's current request was sent (on its plan's clock), and the bytes it brought
    /// since; `None` before its first request.
    pub(crate) fn since_request(&self) -> Option<(u64, u64)> {
        let sent = self.request_sent.load(Ordering::Acquire);
        let base = self.request_base.load(Ordering::Relaxed);
        (sent != 0).then(|| (sent, self.written().saturating_sub(base)))
    }

    /// Marks the chunk untaken, for a new child pool's tasks (the pool before has stopped).
    pub(crate) fn release(&self) {
        self.taken.store(false, Ordering::Release);
    }
}
