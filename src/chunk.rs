//! Fetching one chunk of a ranged download: the work of a child-pool worker.
//!
//! A chunk is fetched by a `GET` with `Range: bytes=NEXT-END`, where `NEXT` is the chunk's first byte
//! not yet on disk. Nothing is written before the answer is checked: it must be a `206` whose
//! `Content-Range` is exactly the range asked for, of a file of the size the plan was made for. Then the
//! hot loop runs: read into a buffer, write it at the chunk's offset, add to the chunk's and the shared
//! counters, with no lock anywhere. A transient failure (reset, timeout, short body, 5xx) is retried
//! from where the chunk stopped, so a retry fetches no byte twice and counts no byte twice.

use std::io::Read;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use ureq::http::Response;
use ureq::{Agent, Body};

use crate::error::Error;
use crate::http::{range_header, redact_url, ContentRange};
use crate::part::PartFile;
use crate::plan::{Chunk, ChunkPlan};
use crate::probe::send;
use crate::progress::{FileProgress, Progress};
use crate::retry::Backoff;

/// Size of the buffer each connection reads into. Large enough that a fast local transfer is not
/// dominated by system calls, small enough that many connections cost little memory.
pub const BUFFER_SIZE: usize = 128 * 1024;

/// Everything the chunks of one file share: the plan, the `.part` file, the counters, and the first
/// failure (which stops the other chunks).
#[derive(Debug)]
pub struct RangedJob {
    /// The URL the chunks are fetched from (after the probe's redirects).
    pub url: String,
    /// The shared HTTP agent.
    pub agent: Agent,
    /// Where the bytes go.
    pub part: PartFile,
    /// The chunks and their progress.
    pub plan: ChunkPlan,
    /// The run's shared counters.
    pub progress: Arc<Progress>,
    /// This file's counters.
    pub file: Arc<FileProgress>,
    /// Tries per request.
    pub max_tries: u32,
    /// First wait between tries.
    pub retry_wait: Duration,
    failure: Mutex<Option<Error>>,
    aborted: AtomicBool,
}

impl RangedJob {
    /// Bundles the shared state of one file's chunks.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        url: String,
        agent: Agent,
        part: PartFile,
        plan: ChunkPlan,
        progress: Arc<Progress>,
        file: Arc<FileProgress>,
        max_tries: u32,
        retry_wait: Duration,
    ) -> RangedJob {
        RangedJob {
            url,
            agent,
            part,
            plan,
            progress,
            file,
            max_tries,
            retry_wait,
            failure: Mutex::new(None),
            aborted: AtomicBool::new(false),
        }
    }

    /// Records a failure and tells the other chunks to stop; the first failure is the one reported.
    pub fn fail(&self, error: Error) {
        self.aborted.store(true, Ordering::Release);
        let mut failure = self.failure.lock();
        if failure.is_none() {
            *failure = Some(error);
        } else {
            log::debug!("further failure after the first: {error}");
        }
    }

    /// Whether some chunk failed and the others should stop.
    pub fn is_aborted(&self) -> bool {
        self.aborted.load(Ordering::Acquire)
    }

    /// Takes the first failure, if any.
    pub fn take_failure(&self) -> Option<Error> {
        self.failure.lock().take()
    }
}

/// Fetches chunk `index` of `job` to the end, retrying as allowed; records a failure in `job`.
///
/// `first` is a response already received for this chunk (the probe's), whose `Content-Range` was
/// checked by the probe.
pub fn fetch_chunk(job: &RangedJob, index: usize, first: Option<Response<Body>>) {
    let chunk = &job.plan.chunks()[index];
    if let Err(error) = fetch_with_retries(job, chunk, first) {
        job.fail(error);
    }
}

fn fetch_with_retries(
    job: &RangedJob,
    chunk: &Chunk,
    mut first: Option<Response<Body>>,
) -> Result<(), Error> {
    let mut backoff = Backoff::new(job.max_tries, job.retry_wait);
    let mut buffer = vec![0u8; BUFFER_SIZE];
    while !chunk.is_complete() && !job.is_aborted() {
        let before = chunk.done();
        let attempt = match first.take() {
            Some(response) => Ok(response),
            None => request_chunk(job, chunk),
        }
        .and_then(|response| copy_body(job, chunk, response, &mut buffer));
        match attempt {
            Ok(()) => {}
            Err(error) if error.is_transient() => {
                if chunk.done() > before {
                    backoff.progressed();
                }
                match backoff.failed() {
                    Some(wait) => {
                        log::warn!(
                            "chunk {}-{}: {error}; retrying from byte {} in {:.1}s",
                            chunk.start,
                            chunk.end - 1,
                            chunk.next_offset(),
                            wait.as_secs_f64()
                        );
                        std::thread::sleep(wait);
                    }
                    None => return Err(error),
                }
            }
            Err(error) => return Err(error),
        }
    }
    Ok(())
}

/// Asks for the rest of `chunk` and checks that the answer is exactly that.
fn request_chunk(job: &RangedJob, chunk: &Chunk) -> Result<Response<Body>, Error> {
    let range = range_header(chunk.next_offset(), chunk.end);
    log::debug!("GET {} Range: {range}", redact_url(&job.url));
    let response = send(&job.agent, &job.url, Some(&range))?;
    let status = response.status().as_u16();
    log::debug!("{} {range} -> {status}", redact_url(&job.url));
    match status {
        206 => {
            let expected = ContentRange {
                start: chunk.next_offset(),
                end_inclusive: chunk.end - 1,
                total: Some(job.plan.total()),
            };
            let got = response
                .headers()
                .get("content-range")
                .and_then(|v| v.to_str().ok())
                .and_then(ContentRange::parse);
            if got == Some(expected) {
                Ok(response)
            } else {
                Err(Error::Protocol {
                    url: job.url.clone(),
                    message: format!(
                        "asked for {range} of {} bytes, got Content-Range {got:?}",
                        job.plan.total()
                    ),
                })
            }
        }
        200 => Err(Error::RangeIgnored {
            url: job.url.clone(),
        }),
        status => Err(Error::Status {
            url: job.url.clone(),
            status,
        }),
    }
}

/// The hot loop: body → buffer → `.part` at the chunk's offset → counters.
fn copy_body(
    job: &RangedJob,
    chunk: &Chunk,
    response: Response<Body>,
    buffer: &mut [u8],
) -> Result<(), Error> {
    let _live = job.file.connection();
    let mut reader = response.into_body().into_reader();
    while !chunk.is_complete() {
        if job.is_aborted() {
            return Ok(());
        }
        let want = buffer
            .len()
            .min(usize::try_from(chunk.remaining()).unwrap_or(usize::MAX));
        let n = match reader.read(&mut buffer[..want]) {
            Ok(0) => {
                return Err(Error::Protocol {
                    url: job.url.clone(),
                    message: format!(
                        "body ended early, at byte {} of chunk {}-{}",
                        chunk.next_offset(),
                        chunk.start,
                        chunk.end - 1
                    ),
                })
            }
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => {
                return Err(Error::Network {
                    url: job.url.clone(),
                    source: ureq::Error::from(e),
                })
            }
        };
        job.part.write_all_at(&buffer[..n], chunk.next_offset())?;
        chunk.advance(n as u64);
        job.progress.record(&job.file, n as u64);
    }
    // The body is fully read (Content-Length equals the range); one last read lets ureq see the end
    // and return the connection to the pool for the next chunk.
    let _ = reader.read(&mut buffer[..1]);
    Ok(())
}
