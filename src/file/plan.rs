//! How a file is cut into chunks, how far each chunk has got, and how a chunk is split while it is
//! being fetched.
//!
//! A [`ChunkPlan`] is the explicit state of one ranged download: the file's size and a list of
//! [`Chunk`]s, each a byte range with an atomic count of the bytes already written. Workers of the
//! file's child pool fetch chunks; the display reads the counts; the control file
//! ([`crate::disk::control`]) saves them so an interrupted download can resume. Keeping it one plain
//! structure, rather than locals spread over the threads, is what makes all three possible.
//!
//! # Ranges that move: splitting a chunk while it is fetched
//!
//! A worker that runs out of work takes over the upper part of a range another connection is still
//! fetching ([`ChunkPlan::split`]; when and where is decided in [`crate::file::split`]). The owner
//! and the thief agree on the chunk's new end through its window ([`crate::file::window`]), with no
//! lock on the owner's side; the thieves and the resume-state snapshots take the plan's split lock,
//! so a snapshot sees every split either done or not begun (the victim's end lowered *and* the new
//! chunk there), never half.

use std::ops::Range;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use parking_lot::Mutex;

pub(crate) use crate::file::window::{Chunk, Source, BLOCK};

/// Room for splits, per connection, beyond the chunks a plan starts with. Each split at least halves
/// what a slow connection has left, so a handful per connection is what a download needs; the bound
/// keeps the plan's memory and the control file small whatever happens.
const SPLITS_PER_CONNECTION: usize = 16;

/// Room for splits in a plan rebuilt from a control file (which does not say how many connections
/// the next run will use).
const SPLITS_AFTER_RESUME: usize = 64;

/// The chunks of one file, covering `0..total` with no gap and no overlap.
///
/// The plan has room for more chunks than it starts with: a split fills the next free slot. The
/// chunks are in file order until the first split; [`ChunkPlan::ranges`] gives them sorted.
#[derive(Debug)]
pub struct ChunkPlan {
    total: u64,
    /// The chunks in use (the first `live`), then free slots for splits.
    slots: Box<[Chunk]>,
    live: AtomicUsize,
    /// Held by a split and by a snapshot of the ranges, never by an owner reading and writing.
    split_lock: Mutex<()>,
    splits: AtomicU64,
    /// What request times and speeds are measured from.
    epoch: Instant,
    /// Bytes that were on disk when the plan was made (a resume): not part of this run's speed.
    resumed: u64,
    /// The last time a request took to bring its first byte, in nanoseconds.
    latency: AtomicU64,
}

impl ChunkPlan {
    /// Plans a file of `total` bytes whose probe answer carries its bytes `0..first_end`: one range
    /// per connection, each of at least `min_chunk` bytes (fewer ranges for a smaller file), the
    /// first of them read over the probe's answer. A connection that runs out of work later takes
    /// over part of another's range, so no more chunks are needed to balance connections of unequal
    /// speed.
    ///
    /// When the answer carries less than the whole file (a server that caps its answers), its bytes
    /// are chunk 0 and the rest is split into one chunk per connection, as above.
    ///
    /// ```
    /// use pardl::ChunkPlan;
    ///
    /// // 10 MiB whose probe answer carries all of it, 2 connections, chunks of at least 1 MiB:
    /// // one range per connection, the first read over the probe's answer.
    /// let plan = ChunkPlan::new(10 << 20, 10 << 20, 2, 1 << 20);
    /// assert_eq!(plan.chunks().len(), 2);
    /// assert_eq!(plan.chunks()[0].end(), 5 << 20);
    /// assert_eq!(plan.chunks()[1].end(), 10 << 20);
    ///
    /// // The same file from a server that answered with its first MiB only.
    /// let plan = ChunkPlan::new(10 << 20, 1 << 20, 2, 1 << 20);
    /// assert_eq!(plan.chunks()[0].end(), 1 << 20);
    /// assert!(plan.chunks().iter().all(|c| c.len() >= 1 << 20));
    /// assert_eq!(plan.chunks().len(), 3); // the probe's chunk, then one per connection
    /// ```
    pub fn new(total: u64, first_end: u64, connections: usize, min_chunk: u64) -> ChunkPlan {
        let first_end = first_end.min(total);
        if first_end == total {
            return ChunkPlan::shared(total, connections, min_chunk);
        }
        let mut ranges = Vec::new();
        if first_end > 0 {
            ranges.push(0..first_end);
        }
        let rest = total - first_end;
        if rest > 0 {
            // One chunk per connection, fewer if they would be under `min_chunk`; spreading evenly
            // leaves no runt at the end.
            let count = (connections.max(1) as u64)
                .min(rest / min_chunk.max(1))
                .max(1);
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
                ranges.push(start..start + len);
                start += len;
            }
        }
        let room = if ranges.len() > 1 {
            SPLITS_PER_CONNECTION * connections.max(1)
        } else {
            0
        };
        ChunkPlan::with_room(total, ranges.into_iter().map(|r| (r, 0)), room)
    }

    /// One range per connection (fewer, none under `min_chunk`, for a small file), evenly.
    fn shared(total: u64, connections: usize, min_chunk: u64) -> ChunkPlan {
        let count = (connections.max(1) as u64)
            .min(total / min_chunk.max(1))
            .max(1);
        let mut start = 0;
        let ranges: Vec<(Range<u64>, u64)> = even_split(total, count)
            .into_iter()
            .map(|len| {
                start += len;
                (start - len..start, 0)
            })
            .collect();
        // A plan of one chunk is read by the file's task alone: nobody could take part of it.
        let room = if count > 1 {
            SPLITS_PER_CONNECTION * connections
        } else {
            0
        };
        ChunkPlan::with_room(total, ranges.into_iter(), room)
    }

    /// A plan of these chunks, with `room` free slots for splits.
    fn with_room(
        total: u64,
        parts: impl ExactSizeIterator<Item = (Range<u64>, u64)>,
        room: usize,
    ) -> ChunkPlan {
        let used = parts.len();
        let slots: Box<[Chunk]> = (0..used + room).map(|_| Chunk::unused()).collect();
        for (slot, (range, written)) in slots.iter().zip(parts) {
            slot.fill(range, written);
        }
        let resumed = slots[..used].iter().map(Chunk::written).sum();
        ChunkPlan {
            total,
            slots,
            live: AtomicUsize::new(used),
            split_lock: Mutex::new(()),
            splits: AtomicU64::new(0),
            epoch: Instant::now(),
            resumed,
            latency: AtomicU64::new(0),
        }
    }

    /// Rebuilds a plan from saved ranges and progress (for resuming); `None` if they do not tile
    /// `0..total` exactly, in order.
    pub fn from_parts(total: u64, parts: Vec<(Range<u64>, u64)>) -> Option<ChunkPlan> {
        let mut expected_start = 0;
        for (range, written) in &parts {
            if range.start != expected_start
                || range.end <= range.start
                || *written > range.end - range.start
            {
                return None;
            }
            expected_start = range.end;
        }
        (expected_start == total)
            .then(|| ChunkPlan::with_room(total, parts.into_iter(), SPLITS_AFTER_RESUME))
    }

    /// Size of the file.
    pub fn total(&self) -> u64 {
        self.total
    }

    /// The chunks: in file order as planned, then those that splits made, in the order they were
    /// made.
    pub fn chunks(&self) -> &[Chunk] {
        &self.slots[..self.live.load(Ordering::Acquire)]
    }

    /// Bytes on disk over all chunks.
    pub fn written(&self) -> u64 {
        self.chunks().iter().map(Chunk::written).sum()
    }

    /// Whether every chunk is complete.
    pub fn is_complete(&self) -> bool {
        self.chunks().iter().all(Chunk::is_complete)
    }

    /// How many times a range was split while it was being fetched.
    pub fn splits(&self) -> u64 {
        self.splits.load(Ordering::Relaxed)
    }

    /// Every chunk's range as it is now and the bytes of it on disk, in file order: what the control
    /// file saves. Taken under the split lock, so a split is in it whole or not at all.
    pub fn ranges(&self) -> Vec<(Range<u64>, u64)> {
        self.ranges_and_sources()
            .into_iter()
            .map(|(range, written, _)| (range, written))
            .collect()
    }

    /// [`ranges`](ChunkPlan::ranges) with where each chunk's bytes came from.
    pub(crate) fn ranges_and_sources(&self) -> Vec<(Range<u64>, u64, Source)> {
        let _no_split_meanwhile = self.split_lock.lock();
        let mut ranges: Vec<(Range<u64>, u64, Source)> = self
            .chunks()
            .iter()
            .map(|c| (c.start()..c.end(), c.written(), c.source()))
            .collect();
        ranges.sort_by_key(|(range, _, _)| range.start);
        ranges
    }

    /// Marks every chunk untaken, so a new child pool's tasks can take them (after the pool before
    /// stopped).
    pub(crate) fn release_all(&self) {
        for chunk in self.chunks() {
            chunk.release();
        }
    }

    /// Whether some unfinished chunk has not been taken by a worker yet (it is queued for one).
    pub(crate) fn has_untaken(&self) -> bool {
        self.chunks()
            .iter()
            .any(|c| !c.is_taken() && !c.is_complete())
    }

    /// Splits a chunk while it is fetched: `choose` looks at the chunks (under the split lock) and
    /// names a chunk and a split point on a [`BLOCK`] boundary from its start; the chunk's end moves
    /// down to that point and a new chunk, from there to the old end, is made and returned, already
    /// taken for the caller. `None` if `choose` names nothing, the plan has no room left, or the owner
    /// keeps claiming past the point.
    pub(crate) fn split(
        &self,
        mut choose: impl FnMut(&[Chunk]) -> Option<(usize, u64)>,
    ) -> Option<usize> {
        let _splitting = self.split_lock.lock();
        let live = self.live.load(Ordering::Acquire);
        if live == self.slots.len() {
            return None;
        }
        // A failed cut means the owner claimed past the point meanwhile: look again, a few times.
        for _ in 0..4 {
            let (victim, at) = choose(&self.slots[..live])?;
            let Some(old_end) = self.slots.get(victim)?.cut_at(at) else {
                continue;
            };
            let new = &self.slots[live];
            new.fill(at..old_end, 0);
            new.take();
            self.live.store(live + 1, Ordering::Release);
            self.splits.fetch_add(1, Ordering::Relaxed);
            return Some(live);
        }
        None
    }

    /// Time since the plan was made, in nanoseconds (the clock of [`ChunkPlan::request_sent`]).
    fn now_nanos(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_nanos())
            .unwrap_or(u64::MAX)
            .max(1)
    }

    /// Records that a request for the rest of chunk `index` is being sent now.
    pub(crate) fn request_sent(&self, index: usize) {
        self.chunks()[index].mark_request(self.now_nanos());
    }

    /// How long chunk `index`'s current request has been running, and the bytes it brought; `None`
    /// before its first request.
    pub(crate) fn request_progress(&self, index: usize) -> Option<(Duration, u64)> {
        let (sent, bytes) = self.chunks()[index].since_request()?;
        let age = Duration::from_nanos(self.now_nanos().saturating_sub(sent));
        Some((age, bytes))
    }

    /// Records how long a request took to bring its first byte.
    pub(crate) fn record_latency(&self, latency: Duration) {
        let nanos = u64::try_from(latency.as_nanos()).unwrap_or(u64::MAX);
        self.latency.store(nanos, Ordering::Relaxed);
    }

    /// How long the last request took to bring its first byte (zero before any).
    pub(crate) fn latency(&self) -> Duration {
        Duration::from_nanos(self.latency.load(Ordering::Relaxed))
    }

    /// Bytes per second this plan's download has fetched so far, over all its connections.
    pub(crate) fn speed(&self) -> f64 {
        let fetched = self.written().saturating_sub(self.resumed);
        let seconds = self.epoch.elapsed().as_secs_f64();
        if seconds > 0.0 {
            fetched as f64 / seconds
        } else {
            0.0
        }
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
    use crate::file::window::CLAIM_AHEAD;
    use std::sync::atomic::{AtomicBool, AtomicU32};

    fn assert_tiles(plan: &ChunkPlan) {
        let mut at = 0;
        for (range, written) in plan.ranges() {
            assert_eq!(range.start, at, "gap or overlap in {plan:?}");
            assert!(range.end > range.start);
            assert!(written <= range.end - range.start);
            at = range.end;
        }
        assert_eq!(at, plan.total());
    }

    #[test]
    fn plans_tile_the_file_for_many_shapes() {
        for total in [1, 2, 999, 1 << 20, (1 << 20) + 1, 10_000_019, 1 << 30] {
            for connections in [1, 2, 3, 8, 16] {
                for min_chunk in [1, 1000, 1 << 20] {
                    // A server that capped its answer to the probe at `min_chunk` bytes.
                    let plan = ChunkPlan::new(total, min_chunk.min(total), connections, min_chunk);
                    assert_tiles(&plan);
                    // Every chunk after the probe's respects the minimum, unless the whole rest is smaller.
                    let rest = total - plan.chunks()[0].end();
                    for chunk in &plan.chunks()[1..] {
                        assert!(
                            chunk.len() >= min_chunk.min(rest),
                            "{chunk:?} in {total}/{connections}/{min_chunk}"
                        );
                    }
                    // The probe's chunk, then at most one per connection.
                    assert!(plan.chunks().len() <= 1 + connections);
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
    fn a_whole_answer_makes_one_even_range_per_connection() {
        const MIB: u64 = 1 << 20;
        for (total, connections, min_chunk, count) in [
            (48 * MIB, 4, MIB, 4),
            (48 * MIB + 3, 4, MIB, 4),
            (10 * MIB, 16, MIB, 10),
            (2 * MIB - 1, 4, MIB, 1),
            (2 * MIB, 4, MIB, 2),
            (48 * MIB, 1, MIB, 1),
            (100, 4, MIB, 1),
        ] {
            let plan = ChunkPlan::new(total, total, connections, min_chunk);
            assert_tiles(&plan);
            assert_eq!(plan.chunks().len(), count, "{total}/{connections}");
            let lens: Vec<u64> = plan.chunks().iter().map(Chunk::len).collect();
            let (shortest, longest) = (lens.iter().min().unwrap(), lens.iter().max().unwrap());
            assert!(longest - shortest <= 1, "{lens:?}");
            assert!(*shortest >= min_chunk.min(total), "{lens:?}");
            // A plan of one chunk is read by the file's task alone: no room for splits.
            let room = plan.slots.len() - plan.chunks().len();
            assert_eq!(room == 0, count == 1, "{total}/{connections}");
        }
    }

    #[test]
    fn progress_is_counted_per_chunk() {
        let plan = ChunkPlan::new(4000, 1000, 3, 1000);
        plan.chunks()[1].advance(500);
        assert_eq!(plan.written(), 500);
        assert_eq!(
            plan.chunks()[1].next_offset(),
            plan.chunks()[1].start() + 500
        );
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

    #[test]
    fn an_owner_claims_a_buffer_ahead_and_a_split_never_goes_below_the_claim() {
        let plan = ChunkPlan::from_parts(10 * BLOCK, vec![(0..10 * BLOCK, 0)]).unwrap();
        let chunk = &plan.chunks()[0];
        assert_eq!(chunk.claim(0), CLAIM_AHEAD, "one buffer claimed");
        assert_eq!(chunk.claim(1000), CLAIM_AHEAD, "the claim still covers it");
        // Inside the claim, or off a block boundary: refused.
        assert_eq!(plan.split(|_| Some((0, BLOCK))), None);
        assert_eq!(plan.split(|_| Some((0, 5 * BLOCK + 1))), None);
        let new = plan.split(|_| Some((0, 5 * BLOCK))).unwrap();
        assert_eq!((chunk.start(), chunk.end()), (0, 5 * BLOCK));
        let stolen = &plan.chunks()[new];
        assert_eq!((stolen.start(), stolen.end()), (5 * BLOCK, 10 * BLOCK));
        assert!(stolen.is_taken(), "the thief has it");
        assert_eq!(plan.splits(), 1);
        assert_tiles(&plan);
        // The owner's claims stop at its new end.
        chunk.advance(CLAIM_AHEAD);
        assert_eq!(chunk.claim(CLAIM_AHEAD), CLAIM_AHEAD + CLAIM_AHEAD);
        chunk.advance(CLAIM_AHEAD);
        assert_eq!(chunk.claim(2 * CLAIM_AHEAD), 5 * BLOCK);
        chunk.advance(BLOCK);
        assert!(chunk.is_complete());
        assert_eq!(chunk.claim(5 * BLOCK), 5 * BLOCK, "nothing more to claim");
    }

    #[test]
    fn a_resumed_chunk_is_never_split_below_what_is_on_disk() {
        let plan = ChunkPlan::from_parts(8 * BLOCK, vec![(0..8 * BLOCK, 3 * BLOCK)]).unwrap();
        assert_eq!(plan.split(|_| Some((0, 2 * BLOCK))), None);
        assert!(plan.split(|_| Some((0, 4 * BLOCK))).is_some());
        assert_tiles(&plan);
    }

    #[test]
    fn the_last_partial_block_ends_at_the_file_end() {
        let total = 3 * BLOCK + 10;
        let plan = ChunkPlan::from_parts(total, vec![(0..total, 0)]).unwrap();
        let new = plan.split(|_| Some((0, 3 * BLOCK))).unwrap();
        assert_eq!(plan.chunks()[new].end(), total);
        assert_eq!(plan.chunks()[new].claim(3 * BLOCK), total);
    }

    /// A tiny deterministic generator for the stress test (splitmix64).
    struct Rng(u64);

    impl Rng {
        fn below(&mut self, n: u64) -> u64 {
            self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = self.0;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            (z ^ (z >> 31)) % n.max(1)
        }
    }

    /// What an owner does with chunk `index`, as the body copy does it: claim, "read" a piece of
    /// random size inside the claim, "write" it (marking every byte with the owner's id, which must
    /// find the byte unwritten), advance.
    fn own(plan: &ChunkPlan, index: usize, id: u32, bytes: &[AtomicU32], rng: &mut Rng) {
        let chunk = &plan.chunks()[index];
        loop {
            let offset = chunk.next_offset();
            let claimed = chunk.claim(offset);
            if claimed <= offset {
                assert!(chunk.is_complete());
                return;
            }
            let n = 1 + rng.below((claimed - offset).min(40_000));
            for at in offset..offset + n {
                let before = bytes[at as usize].swap(id, Ordering::Relaxed);
                assert_eq!(before, 0, "byte {at} written by {before} and {id}");
            }
            chunk.advance(n);
            if rng.below(4) == 0 {
                std::thread::yield_now();
            }
        }
    }

    #[test]
    fn owners_and_thieves_racing_write_every_byte_exactly_once_and_snapshots_always_tile() {
        for round in 0..8u64 {
            let total = 4 << 20;
            // One range and one owner, as a resumed download starts; four thieves.
            let plan = ChunkPlan::from_parts(total, vec![(0..total, 0)]).unwrap();
            let bytes: Vec<AtomicU32> = (0..total).map(|_| AtomicU32::new(0)).collect();
            let done = AtomicBool::new(false);
            std::thread::scope(|scope| {
                let (plan, bytes, done) = (&plan, &bytes, &done);
                for worker in 0..5u32 {
                    scope.spawn(move || {
                        let mut rng = Rng(round * 100 + u64::from(worker));
                        let mut id = worker + 1;
                        let mut owned = (worker == 0).then_some(0);
                        while !plan.is_complete() {
                            if let Some(index) = owned {
                                own(plan, index, id, bytes, &mut rng);
                                id += 100;
                            }
                            // Out of work: take part of the range with most left.
                            owned = plan.split(|chunks| {
                                let (victim, chunk) = chunks
                                    .iter()
                                    .enumerate()
                                    .max_by_key(|(_, c)| c.remaining())?;
                                let from = chunk.claimed_to() + rng.below(3) * BLOCK;
                                let at =
                                    chunk.start() + (from - chunk.start()).div_ceil(BLOCK) * BLOCK;
                                (at + BLOCK <= chunk.end()).then_some((victim, at))
                            });
                            if owned.is_none() {
                                std::thread::yield_now();
                            }
                        }
                    });
                }
                scope.spawn(move || {
                    while !done.load(Ordering::Acquire) {
                        assert_tiles(plan);
                    }
                });
                while !plan.is_complete() {
                    std::thread::yield_now();
                }
                done.store(true, Ordering::Release);
            });
            assert!(plan.splits() > 0, "round {round}: no split happened");
            assert_tiles(&plan);
            assert_eq!(plan.written(), total);
            let orphans = bytes
                .iter()
                .filter(|b| b.load(Ordering::Relaxed) == 0)
                .count();
            assert_eq!(orphans, 0, "round {round}: bytes nobody wrote");
        }
    }
}
