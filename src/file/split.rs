//! Re-splitting: what a connection does when it runs out of work.
//!
//! A file is planned as one range per connection ([`ChunkPlan::new`]). Real servers are uneven (one
//! connection lands on a busy backend, one route is congested), and without more, the file would wait
//! for its slowest range while the other connections idle. So a worker of the child pool that
//! finishes its range and finds no range left untaken ([`ChunkPlan::has_untaken`]) does not stop: it
//! takes over the upper part of the range that would finish last ([`steal`]), and fetches it as a
//! new chunk of the plan. The split itself, and why it never makes two connections write one byte,
//! is in [`crate::file::plan`]; this module decides whether to split, which range, and where.
//!
//! The decision ([`choose_split`], a pure function tested on its own) uses what the download already
//! measures: each range's speed over its current request, the file's speed over all connections, and
//! how long a request takes to bring its first byte (`latency`).
//!
//! * **Which range:** the one whose estimated finish (bytes left over its speed) is furthest away. A
//!   range whose request is younger than [`MIN_SPLIT_GAIN`] has no speed yet and is left alone; a
//!   range whose connection has brought nothing for that long (stalled) finishes never, so it goes
//!   first.
//! * **Where:** the owner keeps what it can fetch by the time the whole file would be done if every
//!   connection stays busy (bytes left in the file over the speed of all connections together), and at least what it
//!   fetches while the new request starts, and at least what it has already claimed. The rest goes
//!   to the thief. Sharing out by the file's end, not by the pair's, matters when several
//!   connections go idle at once: each takes a fair share in turn, instead of the first taking half
//!   and the others splitting that half again while the slow range keeps the other half.
//! * **Whether:** only when the part taken is worth a request: at least `--min-chunk` bytes, and the
//!   range then finishes at least [`MIN_SPLIT_GAIN`] sooner. On a server whose connections are equally
//!   fast the ranges end together and nothing is split, so the file costs one request per
//!   connection.

use std::time::{Duration, Instant};

use crate::file::plan::{Chunk, ChunkPlan, BLOCK};
use crate::file::ranged::RangedJob;

/// A split must bring the range's end at least this much closer, and a range is judged only after
/// its request has run this long. A new request costs more than its time to first byte (a new
/// connection starts slowly; an object store does work per request), and this keeps a split from
/// being made for gains too small to measure.
pub(crate) const MIN_SPLIT_GAIN: Duration = Duration::from_millis(100);

/// How often a worker waiting for a range worth splitting checks whether the file is done.
const IDLE_POLL: Duration = Duration::from_millis(5);

/// What a thief knows about one range another connection is fetching.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Running {
    /// The chunk's index in the plan.
    pub index: usize,
    /// Its first byte (split points are counted in blocks from here).
    pub start: u64,
    /// Its next byte to fetch.
    pub next: u64,
    /// The end of its owner's claim: the lowest split point.
    pub claimed_to: u64,
    /// One past its last byte.
    pub end: u64,
    /// Bytes per second over its current request; `None` while too young to tell.
    pub speed: Option<f64>,
}

impl Running {
    /// Seconds until it is done at its speed (infinite for a stalled connection).
    fn finish(&self) -> Option<f64> {
        let speed = self.speed?;
        let left = (self.end - self.next) as f64;
        Some(if speed > 0.0 {
            left / speed
        } else {
            f64::INFINITY
        })
    }
}

/// What a split decision needs to know besides the ranges.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Outlook {
    /// Bytes still to fetch in the whole file.
    pub left_in_file: u64,
    /// Bytes per second of the whole file once every connection is busy (the running ranges at
    /// their speeds, the idle workers at the thief's).
    pub file_speed: f64,
    /// The speed the thief's new request can expect.
    pub thief_speed: f64,
    /// Time from sending a request to its first byte.
    pub latency: Duration,
    /// `--min-chunk`: no part worth less is taken.
    pub min_chunk: u64,
}

/// Which range to split, and where (a [`BLOCK`] boundary from its start), or `None` if no split is
/// worth a request (see the module docs).
pub(crate) fn choose_split(ranges: &[Running], outlook: &Outlook) -> Option<(usize, u64)> {
    let victim = ranges
        .iter()
        .filter(|r| r.next < r.end)
        .filter_map(|r| Some((r, r.finish()?)))
        .max_by(|(_, a), (_, b)| a.total_cmp(b))
        .map(|(r, _)| r)?;
    let speed = victim.speed?;
    let latency = outlook.latency.as_secs_f64();
    let file_done_in = if outlook.file_speed > 0.0 {
        outlook.left_in_file as f64 / outlook.file_speed
    } else {
        0.0
    };
    let keep = (speed * file_done_in.max(latency)) as u64;
    let lowest = (victim.next + keep).max(victim.claimed_to);
    let at = victim.start + (lowest - victim.start).div_ceil(BLOCK) * BLOCK;
    if at >= victim.end {
        return None;
    }
    let taken = victim.end - at;
    if taken < outlook.min_chunk.max(1) {
        return None;
    }
    let before = victim.finish()?;
    let thief_after = latency + taken as f64 / outlook.thief_speed.max(1.0);
    // A stalled owner keeps only its claim, which the split cannot help; what it gives up is done
    // when the thief is done.
    let after = if speed > 0.0 {
        ((at - victim.next) as f64 / speed).max(thief_after)
    } else {
        thief_after
    };
    (before - after >= MIN_SPLIT_GAIN.as_secs_f64()).then_some((victim.index, at))
}

/// For a worker whose chunk `finished` is done and who finds no chunk waiting for a worker (or, with
/// `None`, a worker started only to help, on a resumed download with fewer ranges left than
/// connections): splits the range that would finish last as soon as that is worth a request, and
/// returns the new chunk (already taken for this worker). Waits while the ranges are too young to
/// judge; gives up (`None`) once no range has enough left to be worth splitting, or the file stops.
pub(crate) fn steal(job: &RangedJob, finished: Option<usize>) -> Option<usize> {
    let min_chunk = job.context.config.min_chunk;
    // Measured now: the finished request's age keeps growing while this worker waits.
    let thief_speed = finished.and_then(|index| speed_of(&job.plan, index));
    loop {
        if job.should_stop() {
            return None;
        }
        if job.plan.has_untaken() {
            if finished.is_some() {
                // Queued chunks come first: the pool hands this worker the next one.
                return None;
            }
            // A helper waits until the other workers have taken theirs.
        } else {
            if let Some(new) = try_steal(job, thief_speed) {
                // The thief keeps its own mirror: that is how a fast mirror takes work from a slow
                // one.
                let mirror = match finished {
                    Some(index) => job.plan.chunks()[index].mirror(),
                    None => {
                        let alive = job.mirrors.alive();
                        alive[new % alive.len().max(1)]
                    }
                };
                job.plan.chunks()[new].use_mirror(mirror);
                return Some(new);
            }
            let worth_waiting = job
                .plan
                .chunks()
                .iter()
                .any(|c| c.is_taken() && c.end().saturating_sub(c.claimed_to()) >= min_chunk);
            if !worth_waiting {
                return None;
            }
        }
        // An idle worker has nothing better to do than look again a little later; it checks often
        // whether the file is done meanwhile, so that it never holds up the end of the file.
        let next_look = Instant::now() + MIN_SPLIT_GAIN;
        while Instant::now() < next_look && !job.should_stop() && !job.plan.is_complete() {
            std::thread::sleep(IDLE_POLL);
        }
    }
}

/// One look at the ranges: splits one if that is worth it now.
fn try_steal(job: &RangedJob, thief_speed: Option<f64>) -> Option<usize> {
    let plan = &job.plan;
    let connections = job.context.config.connections.max(1);
    let new = plan.split(|chunks| {
        let ranges = running(plan, chunks);
        let measured: Vec<f64> = ranges.iter().filter_map(|r| r.speed).collect();
        let typical = if measured.is_empty() {
            plan.speed() / connections as f64
        } else {
            measured.iter().sum::<f64>() / measured.len() as f64
        };
        let thief_speed = thief_speed.unwrap_or(typical);
        // The file's speed once every connection is busy again: the running ranges at their
        // speeds (a young one at the typical speed), and every idle worker at the thief's.
        let idle = connections.saturating_sub(ranges.len()).max(1);
        let file_speed = ranges
            .iter()
            .map(|r| r.speed.unwrap_or(typical))
            .sum::<f64>()
            + idle as f64 * thief_speed;
        let outlook = Outlook {
            left_in_file: chunks.iter().map(Chunk::remaining).sum(),
            file_speed,
            thief_speed,
            latency: plan.latency(),
            min_chunk: job.context.config.min_chunk,
        };
        choose_split(&ranges, &outlook)
    })?;
    job.file.split();
    let chunk = &plan.chunks()[new];
    log::debug!(
        "{}: took over bytes {}-{} from a slower connection",
        crate::http::url::redact_url(&job.url),
        chunk.start(),
        chunk.end() - 1
    );
    Some(new)
}

/// The ranges other connections are fetching now.
fn running(plan: &ChunkPlan, chunks: &[Chunk]) -> Vec<Running> {
    chunks
        .iter()
        .enumerate()
        .filter(|(_, c)| c.is_taken() && !c.is_complete())
        .map(|(index, c)| Running {
            index,
            start: c.start(),
            next: c.next_offset(),
            claimed_to: c.claimed_to(),
            end: c.end(),
            speed: speed_of(plan, index),
        })
        .collect()
}

/// Bytes per second of chunk `index`'s current request, once it has run for [`MIN_SPLIT_GAIN`].
fn speed_of(plan: &ChunkPlan, index: usize) -> Option<f64> {
    let (age, bytes) = plan.request_progress(index)?;
    (age >= MIN_SPLIT_GAIN).then(|| bytes as f64 / age.as_secs_f64())
}

#[cfg(test)]
mod tests {
    use super::*;

    const MB: f64 = 1e6;
    const MIB: u64 = 1 << 20;

    fn range(index: usize, next: u64, end: u64, speed: f64) -> Running {
        Running {
            index,
            start: 0,
            next,
            claimed_to: next + 128 * 1024,
            end,
            speed: Some(speed),
        }
    }

    fn outlook(left_in_file: u64, file_speed: f64, thief_speed: f64) -> Outlook {
        Outlook {
            left_in_file,
            file_speed,
            thief_speed,
            latency: Duration::from_millis(2),
            min_chunk: MIB,
        }
    }

    #[test]
    fn a_straggler_keeps_only_what_it_fetches_by_the_time_the_file_is_done() {
        // The case: three connections at 4 MB/s are done, the fourth, at 0.4 MB/s, has 15 MB
        // left of its range; the file goes at 12.4 MB/s over all four.
        let slow = range(3, 1_000_000, 16_000_000, 0.4 * MB);
        let (index, at) = choose_split(&[slow], &outlook(15_000_000, 12.4 * MB, 4.0 * MB)).unwrap();
        assert_eq!(index, 3);
        let kept = at - 1_000_000;
        // 15 MB / 12.4 MB/s = 1.21 s at 0.4 MB/s: about 0.48 MB, rounded up to a block.
        assert!((480_000..=560_000).contains(&kept), "kept {kept}");
        assert_eq!(at % BLOCK, 0);
    }

    #[test]
    fn the_range_that_finishes_last_is_split_first() {
        let ranges = [
            range(0, 0, 40 * MIB, 8.0 * MB),  // 5.2 s
            range(1, 0, 20 * MIB, 2.0 * MB),  // 10.5 s
            range(2, 0, 30 * MIB, 10.0 * MB), // 3.1 s
        ];
        let (index, _) = choose_split(&ranges, &outlook(90 * MIB, 20.0 * MB, 5.0 * MB)).unwrap();
        assert_eq!(index, 1);
    }

    #[test]
    fn a_stalled_range_gives_up_everything_past_its_claim() {
        let stalled = range(1, 5 * MIB, 20 * MIB, 0.0);
        let (index, at) =
            choose_split(&[stalled], &outlook(15 * MIB, 10.0 * MB, 5.0 * MB)).unwrap();
        assert_eq!((index, at), (1, 5 * MIB + 128 * 1024));
    }

    #[test]
    fn ranges_that_end_together_are_not_split() {
        // Equal connections a few milliseconds from their end: a split cannot gain enough.
        let ranges = [
            range(0, 0, 900_000, 10.0 * MB),
            range(1, 0, 950_000, 10.0 * MB),
        ];
        let mut small_chunks = outlook(1_850_000, 30.0 * MB, 10.0 * MB);
        small_chunks.min_chunk = 256 * 1024;
        assert_eq!(choose_split(&ranges, &small_chunks), None);
    }

    #[test]
    fn a_part_smaller_than_min_chunk_is_not_taken() {
        // 1.5 MiB left at 0.1 MB/s would gain seconds, but what the owner keeps leaves less than
        // --min-chunk to take.
        let slow = range(0, 0, 3 * MIB / 2, 0.1 * MB);
        let mut slow_file = outlook(3 * MIB / 2, 10.0 * MB, 10.0 * MB);
        slow_file.min_chunk = 2 * MIB;
        assert_eq!(choose_split(std::slice::from_ref(&slow), &slow_file), None);
        slow_file.min_chunk = MIB;
        assert!(choose_split(&[slow], &slow_file).is_some());
    }

    #[test]
    fn a_range_too_young_to_measure_is_left_alone() {
        let young = Running {
            speed: None,
            ..range(0, 0, 64 * MIB, 0.0)
        };
        assert_eq!(
            choose_split(&[young], &outlook(64 * MIB, 10.0 * MB, 10.0 * MB)),
            None
        );
    }

    #[test]
    fn a_slow_new_request_makes_a_split_not_worth_it() {
        // The owner has 0.3 s left; a request that takes 0.5 s to start cannot help.
        let owner = range(0, 0, 3 * MIB, 10.0 * MB);
        let mut slow_start = outlook(3 * MIB, 10.0 * MB, 10.0 * MB);
        slow_start.latency = Duration::from_millis(500);
        assert_eq!(choose_split(&[owner], &slow_start), None);
    }
}
