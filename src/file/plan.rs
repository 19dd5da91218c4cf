//! How a file is cut into chunks, and how far each chunk has got.
//!
//! A [`ChunkPlan`] is the explicit state of one ranged download: the file's size and a list of
//! [`Chunk`]s, each a byte range with an atomic count of the bytes already written. Workers of the
//! file's child pool fetch chunks; the display reads the counts; the control file ([`crate::disk::control`]) saves
//! them so an interrupted download can resume. Keeping it one plain structure, rather than locals spread over the
//! threads, is what makes all three possible.

use std::ops::Range;
use std::sync::atomic::{AtomicU64, Ordering};

/// How many chunks per connection a plan aims for. More chunks than connections lets a fast connection
/// take more of the file than a slow one, at the cost of one request per chunk; four keeps the
/// tail (the last chunk still running while the others are idle) short without many extra requests.
pub(crate) const CHUNKS_PER_CONNECTION: u64 = 4;

/// One byte range of a file and its progress.
#[derive(Debug)]
pub struct Chunk {
    /// First byte of the range.
    pub start: u64,
    /// One past the last byte of the range.
    pub end: u64,
    /// Bytes of the range already written to disk, counted from `start`. Only the worker that owns the
    /// chunk adds to it; anyone may read it.
    written: AtomicU64,
}

impl Chunk {
    /// A chunk covering `range` with nothing written yet.
    pub fn new(range: Range<u64>) -> Chunk {
        Chunk::with_written(range, 0)
    }

    /// A chunk covering `range` of which the first `written` bytes are already on disk.
    pub fn with_written(range: Range<u64>, written: u64) -> Chunk {
        assert!(range.start < range.end, "a chunk cannot be empty");
        Chunk {
            start: range.start,
            end: range.end,
            written: AtomicU64::new(written.min(range.end - range.start)),
        }
    }

    /// Size of the range in bytes.
    pub fn len(&self) -> u64 {
        self.end - self.start
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
        self.start + self.written()
    }

    /// Bytes still to fetch.
    pub fn remaining(&self) -> u64 {
        self.len() - self.written()
    }

    /// Whether every byte of the range is on disk.
    pub fn is_complete(&self) -> bool {
        self.remaining() == 0
    }

    /// Records that `n` more bytes were written right after the previous ones.
    pub fn advance(&self, n: u64) {
        let before = self.written.fetch_add(n, Ordering::AcqRel);
        debug_assert!(before + n <= self.len(), "chunk overran its range");
    }
}

/// The chunks of one file, in file order, covering `0..total` with no gap and no overlap.
#[derive(Debug)]
pub struct ChunkPlan {
    total: u64,
    chunks: Vec<Chunk>,
}

impl ChunkPlan {
    /// Plans a file of `total` bytes whose first chunk is already decided (`0..first_end`, the range the
    /// probe request asked for) and whose rest is split for `connections` connections into chunks of
    /// at least `min_chunk` bytes.
    ///
    /// ```
    /// use pardl::ChunkPlan;
    ///
    /// // 10 MiB, first chunk of 1 MiB from the probe, 2 connections, chunks of at least 1 MiB.
    /// let plan = ChunkPlan::new(10 << 20, 1 << 20, 2, 1 << 20);
    /// assert_eq!(plan.chunks()[0].end, 1 << 20);
    /// assert_eq!(plan.chunks().last().unwrap().end, 10 << 20);
    /// assert!(plan.chunks().iter().all(|c| c.len() >= 1 << 20));
    /// assert_eq!(plan.chunks().len(), 9);
    /// ```
    pub fn new(total: u64, first_end: u64, connections: usize, min_chunk: u64) -> ChunkPlan {
        let first_end = first_end.min(total);
        let mut chunks = Vec::new();
        if first_end > 0 {
            chunks.push(Chunk::new(0..first_end));
        }
        let rest = total - first_end;
        if rest > 0 {
            let wanted = (connections.max(1) as u64).saturating_mul(CHUNKS_PER_CONNECTION);
            let size = rest.div_ceil(wanted).max(min_chunk.max(1));
            // Rounding the count down and spreading evenly keeps every chunk at least `size` (so at
            // least `min_chunk`) and leaves no runt at the end.
            let count = (rest / size).max(1);
            let mut lens = even_split(rest, count);
            // The connection that reads the probe's chunk starts on the rest that much later, and
            // with connections of equal speed (a server capping each one) it is also the one that
            // takes the last chunk. Spreading the probe's bytes over the plan and taking them off the
            // last chunk lets every connection finish together instead of one lagging behind.
            let balanced = even_split(rest + first_end, count);
            if let Some(&last) = balanced.last() {
                if count > 1 && last >= first_end + min_chunk.max(1) {
                    lens = balanced;
                    if let Some(last) = lens.last_mut() {
                        *last -= first_end;
                    }
                }
            }
            let mut start = first_end;
            for len in lens {
                chunks.push(Chunk::new(start..start + len));
                start += len;
            }
        }
        ChunkPlan { total, chunks }
    }

    /// Rebuilds a plan from saved ranges and progress (for resuming); `None` if they do not tile
    /// `0..total` exactly.
    pub fn from_parts(total: u64, parts: Vec<(Range<u64>, u64)>) -> Option<ChunkPlan> {
        let mut expected_start = 0;
        let mut chunks = Vec::with_capacity(parts.len());
        for (range, written) in parts {
            if range.start != expected_start
                || range.end <= range.start
                || written > range.end - range.start
            {
                return None;
            }
            expected_start = range.end;
            chunks.push(Chunk::with_written(range, written));
        }
        (expected_start == total).then_some(ChunkPlan { total, chunks })
    }

    /// Size of the file.
    pub fn total(&self) -> u64 {
        self.total
    }

    /// The chunks, in file order.
    pub fn chunks(&self) -> &[Chunk] {
        &self.chunks
    }

    /// Bytes on disk over all chunks.
    pub fn written(&self) -> u64 {
        self.chunks.iter().map(Chunk::written).sum()
    }

    /// Whether every chunk is complete.
    pub fn is_complete(&self) -> bool {
        self.chunks.iter().all(Chunk::is_complete)
    }
}

/// `total` cut into `count` lengths that differ by at most one, longer ones first.
fn even_split(total: u64, count: u64) -> Vec<u64> {
    let (base, extra) = (total / count, total % count);
    (0..count).map(|i| base + u64::from(i < extra)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_tiles(plan: &ChunkPlan) {
        let mut at = 0;
        for chunk in plan.chunks() {
            assert_eq!(chunk.start, at, "gap or overlap in {plan:?}");
            assert!(chunk.end > chunk.start);
            at = chunk.end;
        }
        assert_eq!(at, plan.total());
    }

    #[test]
    fn plans_tile_the_file_for_many_shapes() {
        for total in [1, 2, 999, 1 << 20, (1 << 20) + 1, 10_000_019, 1 << 30] {
            for connections in [1, 2, 3, 8, 16] {
                for min_chunk in [1, 1000, 1 << 20] {
                    let plan = ChunkPlan::new(total, min_chunk.min(total), connections, min_chunk);
                    assert_tiles(&plan);
                    // Every chunk after the probe's respects the minimum, unless the whole rest is smaller.
                    let rest = total - plan.chunks()[0].end;
                    for chunk in &plan.chunks()[1..] {
                        assert!(
                            chunk.len() >= min_chunk.min(rest),
                            "{chunk:?} in {total}/{connections}/{min_chunk}"
                        );
                    }
                    assert!(
                        plan.chunks().len() as u64
                            <= 1 + connections as u64 * CHUNKS_PER_CONNECTION
                    );
                }
            }
        }
    }

    /// When the last connection finishes if `connections` equally fast connections take the chunks
    /// in order, each taking the next one as soon as it is free (how the child pool hands them out).
    fn makespan(plan: &ChunkPlan, connections: usize) -> u64 {
        let mut free_at = vec![0u64; connections];
        for chunk in plan.chunks() {
            let earliest = free_at.iter_mut().min().unwrap();
            *earliest += chunk.len();
        }
        free_at.into_iter().max().unwrap()
    }

    #[test]
    fn the_probe_chunk_does_not_make_one_connection_finish_late() {
        const MIB: u64 = 1 << 20;
        for (total, connections) in [(256 * MIB, 8), (64 * MIB, 4), (1 << 30, 4), (100 * MIB, 3)] {
            let plan = ChunkPlan::new(total, MIB, connections, MIB);
            assert_tiles(&plan);
            let ideal = total.div_ceil(connections as u64);
            let excess = makespan(&plan, connections) - ideal;
            assert!(
                excess <= 64,
                "{total}/{connections}: a connection finishes {excess} bytes late"
            );
        }
    }

    #[test]
    fn a_file_smaller_than_the_probe_is_one_chunk() {
        let plan = ChunkPlan::new(100, 1 << 20, 4, 1 << 20);
        assert_eq!(plan.chunks().len(), 1);
        assert_eq!(plan.chunks()[0].end, 100);
    }

    #[test]
    fn progress_is_counted_per_chunk() {
        let plan = ChunkPlan::new(4000, 1000, 3, 1000);
        plan.chunks()[1].advance(500);
        assert_eq!(plan.written(), 500);
        assert_eq!(plan.chunks()[1].next_offset(), plan.chunks()[1].start + 500);
        for chunk in plan.chunks() {
            chunk.advance(chunk.remaining());
        }
        assert!(plan.is_complete());
        assert_eq!(plan.written(), 4000);
    }

    #[test]
    fn from_parts_rejects_gaps() {
        assert!(ChunkPlan::from_parts(10, vec![(0..5, 5), (5..10, 2)]).is_some());
        assert!(ChunkPlan::from_parts(10, vec![(0..5, 5), (6..10, 0)]).is_none());
        assert!(ChunkPlan::from_parts(10, vec![(0..5, 6), (5..10, 0)]).is_none());
        assert!(ChunkPlan::from_parts(11, vec![(0..5, 0), (5..10, 0)]).is_none());
    }
}
