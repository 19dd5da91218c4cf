//! Fetching one chunk of a ranged download: the work of a child-pool worker.
//!
//! A chunk is fetched by a `GET` with `Range: bytes=NEXT-END`, where `NEXT` is the chunk's first byte
//! not yet on disk, and `If-Range` naming the version of the file the download started with. Nothing is
//! written before the answer is checked: it must be a `206` whose `Content-Range` is exactly the range
//! asked for, of a file of the planned size, with the same validators. Then the hot loop runs: read into
//! a buffer, write it at the chunk's offset, add to the chunk's and the shared counters, with no lock
//! anywhere. A transient failure (reset, timeout, stall, short body, 5xx, 408, 429, or a 416 for a range that
//! is valid, which some servers send for "too many connections") is retried from where the
//! chunk stopped, so a retry fetches no byte twice and counts no byte twice.
//!
//! How each answer is read:
//!
//! | answer | meaning | action |
//! |---|---|---|
//! | `206`, matching | the bytes asked for | write them |
//! | `206`, other range | a confused server or proxy | retry (transient) |
//! | `206`/`416`, other size or validator | the file changed | restart the file ([`Error::FileChanged`]) |
//! | `200`, other validator | the file changed (`If-Range` did its job) | restart the file |
//! | `200`, same file | the server stopped honouring ranges | fall back to one stream ([`Error::RangeIgnored`]) |
//! | `416`, same size | "too many connections" (the article's case) | fewer connections to the host, retry |
//! | `429`/`503` | overloaded | fewer connections if others are busy; wait (`Retry-After`), retry |
//! | other 4xx | refused | fail the file at once |

use std::io::Read;
use std::time::Instant;

use crate::error::Error;
use crate::file::plan::Chunk;
use crate::file::ranged::RangedJob;
use crate::file::request::{send, InFlight};
use crate::file::retry::Backoff;
use crate::http::{header, range_header, status_error, ContentRange, Validators};
use crate::run::config::LOW_SPEED_WINDOW;

/// Size of the buffer each connection reads into. Large enough that a fast local transfer is not
/// dominated by system calls, small enough that many connections cost little memory.
pub(crate) const BUFFER_SIZE: usize = 128 * 1024;

/// Fetches chunk `index` of `job` to the end, retrying as allowed; records a failure in `job`.
///
/// `first` is a response already received for this chunk (the probe's), whose `Content-Range` was
/// checked by the probe.
pub(crate) fn fetch_chunk(job: &RangedJob, index: usize, first: Option<InFlight>) {
    let chunk = &job.plan.chunks()[index];
    match fetch_with_retries(job, chunk, first) {
        Ok(()) if chunk.is_complete() => job.checkpoint(false),
        Ok(()) => {}
        Err(error) => job.fail(error),
    }
}

fn fetch_with_retries(
    job: &RangedJob,
    chunk: &Chunk,
    mut first: Option<InFlight>,
) -> Result<(), Error> {
    let config = &job.context.config;
    let mut backoff = Backoff::new(config.max_tries, config.retry_wait);
    let mut buffer = vec![0u8; BUFFER_SIZE];
    while !chunk.is_complete() && !job.should_stop() {
        let before = chunk.done();
        let attempt = match first.take() {
            Some(in_flight) => Ok(in_flight),
            None => request_chunk(job, chunk),
        }
        .and_then(|in_flight| copy_body(job, chunk, in_flight, &mut buffer));
        match attempt {
            Ok(()) => {}
            Err(error) if error.is_transient() => {
                if chunk.done() > before {
                    backoff.progressed();
                }
                match backoff.wait_after(&error) {
                    Some(wait) => {
                        job.context.progress.retried(&job.file);
                        log::warn!(
                            "chunk {}-{}: {error}; retrying from byte {} in {:.1}s",
                            chunk.start,
                            chunk.end - 1,
                            chunk.next_offset(),
                            wait.as_secs_f64()
                        );
                        job.context.sleep_unless(wait, || job.should_stop());
                    }
                    None => return Err(error),
                }
            }
            Err(error) => return Err(error),
        }
    }
    Ok(())
}

/// Asks for the rest of `chunk` and checks that the answer is exactly that (see the module's table).
fn request_chunk(job: &RangedJob, chunk: &Chunk) -> Result<InFlight, Error> {
    let range = range_header(chunk.next_offset(), chunk.end);
    let in_flight = send(
        &job.context,
        &job.url,
        Some(&range),
        job.validators.if_range(),
    )?;
    let response = &in_flight.response;
    let total = job.plan.total();
    let changed = |reason: String| Error::FileChanged {
        url: job.url.clone(),
        reason,
    };
    match response.status().as_u16() {
        206 => {
            if let Some(reason) = job.validators.changed_in(&Validators::of(response)) {
                return Err(changed(reason));
            }
            let got = header(response, "content-range").and_then(ContentRange::parse);
            match got {
                Some(got) if got.total.is_some_and(|t| t != total) => Err(changed(format!(
                    "size was {total} bytes, now {}",
                    got.total.unwrap_or_default()
                ))),
                Some(got)
                    if got.start == chunk.next_offset() && got.end_inclusive == chunk.end - 1 =>
                {
                    Ok(in_flight)
                }
                _ => Err(Error::Protocol {
                    url: job.url.clone(),
                    message: format!(
                        "asked for {range} of {total} bytes, got Content-Range {}",
                        header(response, "content-range").unwrap_or("(none)")
                    ),
                }),
            }
        }
        200 => match job.validators.changed_in(&Validators::of(response)) {
            Some(reason) => Err(changed(reason)),
            None if job.validators.if_range().is_some()
                && response.body().content_length().is_some_and(|l| l != total) =>
            {
                Err(changed(format!(
                    "If-Range was not met and the size is now {}",
                    response.body().content_length().unwrap_or_default()
                )))
            }
            None => Err(Error::RangeIgnored {
                url: job.url.clone(),
            }),
        },
        416 => {
            let unsatisfied_total = header(response, "content-range")
                .and_then(|v| v.trim().strip_prefix("bytes */"))
                .and_then(|t| t.trim().parse::<u64>().ok());
            match unsatisfied_total {
                Some(now) if now != total => {
                    Err(changed(format!("size was {total} bytes, now {now}")))
                }
                _ => {
                    // The size still fits the range, so the server is refusing this connection, not the
                    // range: the article's "too many connections" case.
                    in_flight.slot.refused();
                    Err(Error::Protocol {
                        url: job.url.clone(),
                        message: format!(
                            "416 for {range}, which is inside the file (too many connections?)"
                        ),
                    })
                }
            }
        }
        429 | 503 => {
            in_flight.slot.refused();
            Err(status_error(&job.url, response))
        }
        _ => Err(status_error(&job.url, response)),
    }
}

/// The hot loop: body → buffer → `.part` at the chunk's offset → counters.
fn copy_body(
    job: &RangedJob,
    chunk: &Chunk,
    in_flight: InFlight,
    buffer: &mut [u8],
) -> Result<(), Error> {
    let InFlight { response, slot } = in_flight;
    let _live = job.file.connection();
    let lowest_speed = job.context.config.lowest_speed;
    let mut window = (Instant::now(), chunk.done());
    let mut reader = response.into_body().into_reader();
    while !chunk.is_complete() {
        if job.should_stop() {
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
            Err(e) => return Err(Error::network(job.url.clone(), ureq::Error::from(e))),
        };
        job.part.write_all_at(&buffer[..n], chunk.next_offset())?;
        chunk.advance(n as u64);
        job.context.progress.record(&job.file, n as u64);
        job.context.throttle(n as u64);
        if lowest_speed > 0 {
            let elapsed = window.0.elapsed();
            if elapsed >= LOW_SPEED_WINDOW {
                let speed = (chunk.done() - window.1) as f64 / elapsed.as_secs_f64();
                if speed < lowest_speed as f64 {
                    return Err(Error::Protocol {
                        url: job.url.clone(),
                        message: format!(
                            "connection slower than the lowest speed ({speed:.0} B/s)"
                        ),
                    });
                }
                window = (Instant::now(), chunk.done());
            }
        }
    }
    // A 206 carries exactly the range, so the body is fully read; one last read lets ureq see its end
    // and return the connection to the pool for the next chunk.
    let _ = reader.read(&mut buffer[..1]);
    slot.succeeded();
    Ok(())
}
