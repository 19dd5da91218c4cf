//! The child pool: the second level of pardl's nested pools, built once per file.
//!
//! A ranged download's task (running on a worker of the outer pool) calls [`run_chunks`], which
//! builds a [`ThreadPool`] of its own with up to `connections` workers, queues one task per
//! unfinished chunk ([`fetch_chunk`]), and waits for all of them. A worker that finishes its chunk
//! and finds none queued takes over part of a slower one's range (`src/file/split.rs`); on a
//! resumed download with fewer ranges left than connections, the spare workers start that way
//! ([`help`]). While it waits it is not idle: every
//! [`CHECKPOINT_PERIOD`] it saves the resume state ([`RangedJob::checkpoint`]). When the last chunk has
//! stopped, the pool is dropped (which joins its workers) and the job is handed back to the file's
//! task, which decides how the file ends.
//!
//! A file whose `.part` is not yet given its full size (a fresh download, or one stopped before its
//! first answer delivered) starts with its first chunk alone: the other chunks are queued once that
//! chunk has brought [`FIRST_ANSWER_PROOF`] bytes (or all of itself, if it is smaller), and the
//! `.part` is sized then ([`PartFile::allocate`](crate::disk::part::PartFile::allocate)). Until then
//! nothing is written at offsets taken on the server's word, so a server that claims 10 GB and sends
//! a few bytes per answer gets no 10 GB file and no requests for the rest of it.
//!
//! Why the nesting cannot deadlock: the outer worker waits only for its own child pool, whose workers
//! never wait for anything but the network and the host limit; no chunk task ever queues work on the
//! outer pool. docs/pool.md tells the whole argument.

use std::sync::Arc;
use std::time::Duration;

use crate::error::Error;
use crate::file::chunk::{fetch_chunk, help};
use crate::file::probe::FirstAnswer;
use crate::file::ranged::{RangedJob, CHECKPOINT_PERIOD};
use crate::pool::ThreadPool;

/// How much the first answer of a fresh download must deliver before its size is believed: the
/// other chunks start, and the `.part` is sized. Small, as every other connection waits for it
/// (about 16 ms on a connection capped at 4 MB/s); a server that cannot send this much in one
/// answer is not one to open more connections to.
pub(crate) const FIRST_ANSWER_PROOF: u64 = 64 * 1024;

/// How often the file's task looks whether the first chunk has brought enough to start the others.
const FIRST_ANSWER_POLL: Duration = Duration::from_millis(5);

/// Fetches every unfinished chunk of `job`, `connections` at a time, on a child pool of the file's
/// own; returns the job and the number of chunk tasks that panicked, once every chunk has stopped
/// (finished, failed, or stopped by a cancel).
///
/// `first` is the probe's answer, which carries chunk 0 of a fresh download.
pub(crate) fn run_chunks(
    job: RangedJob,
    first: Option<FirstAnswer>,
    connections: usize,
) -> Result<(RangedJob, usize), Error> {
    let incomplete: Vec<usize> = (0..job.plan.chunks().len())
        .filter(|&i| !job.plan.chunks()[i].is_complete())
        .collect();
    if incomplete.len() == 1 && first.is_some() {
        // The file is one chunk, read over the probe's answer (it is smaller than two
        // `--min-chunk`s, or `-x 1`): there is nothing to share out, so the file's task reads it
        // itself instead of starting a child pool of one thread. Small files are the common case
        // in a long links file, and this saves two thread starts per file.
        fetch_chunk(&job, incomplete[0], first);
        return Ok((job, 0));
    }
    // Chunks a pool before this one had taken (the file went on without a mirror) are free again.
    job.plan.release_all();
    let job = Arc::new(job);
    // A resumed download may have fewer ranges left than connections: the other workers start as
    // helpers, which take over part of a range once they can tell it is worth it.
    let min_chunk = job.context.config.min_chunk;
    let splittable = job
        .plan
        .chunks()
        .iter()
        .any(|c| c.remaining() >= 2 * min_chunk);
    let helpers = if splittable {
        connections.saturating_sub(incomplete.len())
    } else {
        0
    };
    let workers = connections.clamp(1, (incomplete.len() + helpers).max(1));
    let pool = ThreadPool::try_with_name(workers, "pardl-chunk")
        .map_err(|e| Error::io("start download threads for", job.part.path(), e))?;
    let mut first = first;
    let mut incomplete = incomplete.into_iter().peekable();
    if job.part.len()? < job.plan.total() {
        if let Some(index) = incomplete.next_if_eq(&0) {
            let chunk_job = Arc::clone(&job);
            let response = first.take();
            pool.execute(move || fetch_chunk(&chunk_job, index, response));
        }
        // Unproven (the first chunk failed or the file is stopping), the rest is queued only to
        // stop at once.
        if first_answer_delivers(&job, &pool) {
            if let Err(error) = job.part.allocate(job.plan.total()) {
                job.fail(error);
            }
        }
    }
    for index in incomplete {
        let job = Arc::clone(&job);
        // The probe's response carries chunk 0, which is always incomplete on a fresh start.
        let response = if index == 0 { first.take() } else { None };
        pool.execute(move || fetch_chunk(&job, index, response));
    }
    for _ in 0..helpers {
        let job = Arc::clone(&job);
        pool.execute(move || help(&job));
    }
    while !pool.wait_completion_timeout(CHECKPOINT_PERIOD) {
        job.checkpoint(false);
    }
    let panicked = pool.panicked_tasks();
    // Dropping the pool joins its workers, and with them every task's handle on the job.
    drop(pool);
    let job = Arc::try_unwrap(job).map_err(|job| Error::Panicked {
        url: job.link_url.clone(),
    })?;
    if job.mirrors.len() > 1 {
        job.file.set_mirrors(job.mirrors.deliveries());
    }
    Ok((job, panicked))
}

/// Waits until the first chunk of `job` has brought [`FIRST_ANSWER_PROOF`] bytes (or all of
/// itself), its task has ended, or the file is stopping; returns whether it brought that much.
fn first_answer_delivers(job: &RangedJob, pool: &ThreadPool) -> bool {
    let first = &job.plan.chunks()[0];
    let enough = first.len().min(FIRST_ANSWER_PROOF);
    while first.written() < enough && !job.should_stop() {
        if pool.wait_completion_timeout(FIRST_ANSWER_POLL) {
            break;
        }
    }
    first.written() >= enough
}
