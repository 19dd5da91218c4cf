//! Fetching one chunk of a ranged download: the work of a child-pool worker.
//!
//! A chunk is fetched by a `GET` with `Range: bytes=NEXT-END`, where `NEXT` is the chunk's first byte
//! not yet on disk, and `If-Range` naming the version of the file the download started with. Nothing is
//! written before the answer is checked: it must be a `206` whose `Content-Range` is exactly the range
//! asked for, of a file of the planned size, with the same validators. Then the hot loop runs
//! ([`BodyCopy`]): read into a buffer, write it at the chunk's offset, add to the chunk's and the shared
//! counters, with no lock anywhere. A transient failure (reset, timeout, stall, short body, 5xx, 408,
//! 429, or a 416 for a range that is valid, which some servers send for "too many connections") is
//! retried ([`with_retries`]) from where the chunk stopped, so a retry fetches no byte twice and counts
//! no byte twice.
//!
//! How each answer is read ([`chunk_verdict`]; the test `every_row_of_the_table` checks it row by row,
//! in this order, and fails if the rows here and there differ):
//!
//! | answer | meaning | action |
//! |---|---|---|
//! | `206`, the range asked for, same file | the bytes asked for | write them |
//! | `206`, the range asked for, size not given (`/*`) | the bytes asked for | write them |
//! | `206`, another validator | the file changed | restart the file ([`Error::FileChanged`]) |
//! | `206`, another size | the file changed | restart the file |
//! | `206`, another range | a confused server or proxy | retry (transient) |
//! | `206`, no usable `Content-Range` | a confused server or proxy | retry (transient) |
//! | `200`, another validator | the file changed (`If-Range` did its job) | restart the file |
//! | `200`, another size after an `If-Range` | the file changed | restart the file |
//! | `200`, same file | the server stopped honouring ranges | fall back to one stream ([`Error::RangeIgnored`]) |
//! | `416`, another size | the file changed | restart the file |
//! | `416`, same size | "too many connections" (the article's case) | fewer connections to the host, retry |
//! | `416`, no size | "too many connections" | fewer connections to the host, retry |
//! | `429`/`503` | overloaded | fewer connections if others are busy; wait (`Retry-After`), retry |
//! | `408`/other `5xx` | trouble on the server | wait, retry |
//! | any other status | refused | fail the file at once |
//!
//! "The range asked for" is the `Range` the request sent. Another connection may take over the upper
//! part of the chunk while the answer is on its way ([`steal`]); the answer is still judged by what
//! was asked, and the copy then stops at the chunk's new end and drops the rest of the body with its
//! connection (the test `a_range_split_after_it_was_asked_is_judged_by_what_was_asked`).

use std::io::Read;
use std::ops::Range;
use std::time::{Duration, Instant};

use crate::error::Error;
use crate::file::answer::{bad_status, reject, BadStatus, Head};
use crate::file::body::{with_buffer, BodyCopy, CopyEnd};
use crate::file::mirrors::is_mirror_failure;
use crate::file::plan::Chunk;
use crate::file::probe::FirstAnswer;
use crate::file::ranged::RangedJob;
use crate::file::request::{send, InFlight};
use crate::file::retry::{with_retries, Backoff, Retryable};
use crate::file::split::steal;
use crate::http::{range_header, ContentRange, Validators};

/// Fetches chunk `index` of `job` to the end, retrying as allowed; records a failure in `job`. Then,
/// while no chunk is left waiting for a worker, takes over part of the range that would finish last
/// ([`steal`]) and fetches that too: the stolen part is a new chunk of the plan, fetched by this task,
/// since this worker is the one free to fetch it.
///
/// `first` is a response already received for this chunk (the probe's), whose `Content-Range` was
/// checked by the probe; it may carry more than the chunk (see [`FirstAnswer`]).
pub(crate) fn fetch_chunk(job: &RangedJob, index: usize, first: Option<FirstAnswer>) {
    with_buffer(|buffer| fetch_chunks_from(job, index, first, buffer));
}

/// [`fetch_chunk`] with the thread's read buffer.
fn fetch_chunks_from(job: &RangedJob, index: usize, first: Option<FirstAnswer>, buffer: &mut [u8]) {
    let config = &job.context.config;
    let mut index = index;
    let mut first = first;
    loop {
        let chunk = &job.plan.chunks()[index];
        chunk.take();
        let mut fetch = ChunkFetch {
            job,
            index,
            chunk,
            first: first.take(),
            buffer: &mut *buffer,
        };
        let backoff = Backoff::new(config.max_tries, config.retry_wait);
        match with_retries(&job.context, &job.file, backoff, &mut fetch) {
            Ok(()) if chunk.is_complete() => job.checkpoint(false),
            Ok(()) => return,
            // A mirror that keeps failing (its tries used up) is dropped while another is alive,
            // and the chunk goes on from that one.
            Err(error)
                if error.is_transient() && job.mirrors.drop_after(chunk.mirror(), &error) =>
            {
                continue
            }
            Err(error) => return job.fail(error),
        }
        match steal(job, Some(index)) {
            Some(stolen) => index = stolen,
            None => return,
        }
    }
}

/// The task of a worker started with no chunk of its own, to help (a resumed download with fewer
/// ranges left than connections): it takes over part of a range as soon as that is worth a request,
/// and goes on as [`fetch_chunk`].
pub(crate) fn help(job: &RangedJob) {
    if let Some(stolen) = steal(job, None) {
        fetch_chunk(job, stolen, None);
    }
}

/// The requests for the rest of one chunk.
struct ChunkFetch<'a> {
    job: &'a RangedJob,
    index: usize,
    chunk: &'a Chunk,
    /// The probe's answer, used instead of the first request.
    first: Option<FirstAnswer>,
    buffer: &'a mut [u8],
}

impl Retryable for ChunkFetch<'_> {
    type Output = ();

    fn attempt(&mut self) -> Result<(), Error> {
        let (answer, asked_end, mirror) = match self.first.take() {
            Some(first) => {
                self.job.plan.request_sent(self.index);
                (first.answer, first.end, self.chunk.mirror())
            }
            None => request_from_a_mirror(self.job, self.index)?,
        };
        let before = self.chunk.written();
        let copied = copy(self.job, self.chunk, answer, asked_end, self.buffer);
        let delivered = self.chunk.written() - before;
        self.job.mirrors.delivered(mirror, delivered);
        copied
    }

    fn progress(&self) -> u64 {
        self.chunk.written()
    }

    /// A finished chunk stops; so does every chunk of a file once one has failed.
    fn should_stop(&self) -> bool {
        self.chunk.is_complete() || self.job.should_stop()
    }

    /// The chunk stays as far as it got: the file's task decides what becomes of it.
    fn stopped(&self) -> Result<(), Error> {
        Ok(())
    }

    fn retry_warning(&self, error: &Error, wait: Duration) -> String {
        format!(
            "chunk {}-{}: {error}; retrying from byte {} in {:.1}s",
            self.chunk.start(),
            self.chunk.end() - 1,
            self.chunk.next_offset(),
            wait.as_secs_f64()
        )
    }
}

/// What a chunk request asked for, and of which file.
#[derive(Debug, Clone)]
pub(crate) struct ChunkAsk<'a> {
    /// The bytes asked for: the rest of the chunk when the request was sent. A split may lower the
    /// chunk's end while the answer is on its way; the answer is still judged by what was asked.
    pub range: Range<u64>,
    /// The size of the file the download started with.
    pub total: u64,
    /// The version of the file the download started with (sent as `If-Range`).
    pub validators: &'a Validators,
}

/// What the answer to a chunk request means; the module's table in enum form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ChunkVerdict {
    /// The bytes asked for, of the same file.
    Write,
    /// A `206` for other bytes than asked, or without a usable `Content-Range`.
    WrongRange,
    /// The file on the server is another version, for this reason.
    FileChanged(String),
    /// A `200` with the same file: the server stopped honouring ranges.
    RangeIgnored,
    /// A `416` for a range inside the file: the server refuses the connection, not the range.
    TooManyConnections,
    /// A status the request did not want.
    BadStatus(BadStatus),
}

/// Judges the answer `head` to the chunk request `asked` (see the module's table).
pub(crate) fn chunk_verdict(asked: &ChunkAsk<'_>, head: &Head<'_>) -> ChunkVerdict {
    let total = asked.total;
    let size_changed =
        |now: u64| ChunkVerdict::FileChanged(format!("size was {total} bytes, now {now}"));
    match head.status {
        206 => {
            if let Some(reason) = asked.validators.changed_in(&head.validators) {
                return ChunkVerdict::FileChanged(reason);
            }
            match head.content_range.and_then(ContentRange::parse) {
                Some(ContentRange {
                    total: Some(now), ..
                }) if now != total => size_changed(now),
                Some(got)
                    if got.start == asked.range.start
                        && got.end_inclusive == asked.range.end - 1 =>
                {
                    ChunkVerdict::Write
                }
                _ => ChunkVerdict::WrongRange,
            }
        }
        200 => match asked.validators.changed_in(&head.validators) {
            Some(reason) => ChunkVerdict::FileChanged(reason),
            None => match head.content_length {
                Some(now) if asked.validators.if_range().is_some() && now != total => {
                    ChunkVerdict::FileChanged(format!(
                        "If-Range was not met and the size is now {now}"
                    ))
                }
                _ => ChunkVerdict::RangeIgnored,
            },
        },
        416 => match head.content_range.and_then(unsatisfied_total) {
            Some(now) if now != total => size_changed(now),
            // The size still fits the range, so the server is refusing this connection, not the
            // range: the article's "too many connections" case.
            _ => ChunkVerdict::TooManyConnections,
        },
        status => ChunkVerdict::BadStatus(bad_status(status)),
    }
}

/// The size a `416` states (`Content-Range: bytes */TOTAL`).
fn unsatisfied_total(content_range: &str) -> Option<u64> {
    content_range
        .trim()
        .strip_prefix("bytes */")
        .and_then(|total| total.trim().parse().ok())
}

/// Asks a mirror for the rest of chunk `index` (its own mirror while that one is alive): returns
/// the answer, the end it asked for and the mirror. A mirror that fails while another is alive is
/// dropped and the next one asked at once; one whose file changed stops the file, which then goes on
/// without it ([`RangedJob::forget_changed_mirror`]).
fn request_from_a_mirror(job: &RangedJob, index: usize) -> Result<(InFlight, u64, usize), Error> {
    let chunk = &job.plan.chunks()[index];
    loop {
        let mirror = job.mirrors.pick(chunk.mirror()).unwrap_or(chunk.mirror());
        chunk.use_mirror(mirror);
        match request_chunk(job, index, mirror) {
            Ok((answer, asked_end)) => return Ok((answer, asked_end, mirror)),
            Err(error @ Error::FileChanged { .. }) => {
                job.mirror_changed(mirror);
                return Err(error);
            }
            Err(error)
                if (is_mirror_failure(&error) || matches!(error, Error::RangeIgnored { .. }))
                    && job.mirrors.drop_after(mirror, &error) => {}
            Err(error) => return Err(error),
        }
    }
}

/// Asks mirror `mirror` for the rest of chunk `index` and returns the answer if it is exactly that
/// ([`chunk_verdict`]), with the end it asked for.
fn request_chunk(job: &RangedJob, index: usize, mirror: usize) -> Result<(InFlight, u64), Error> {
    let chunk = &job.plan.chunks()[index];
    let source = job.mirrors.get(mirror);
    let asked = ChunkAsk {
        range: chunk.next_offset()..chunk.end(),
        total: job.plan.total(),
        validators: &source.validators,
    };
    let range = range_header(asked.range.start, asked.range.end);
    job.plan.request_sent(index);
    let sent = Instant::now();
    let answer = send(
        &job.context,
        &source.url,
        Some(&range),
        source.validators.if_range(),
    )?;
    job.plan.record_latency(sent.elapsed());
    let head = Head::of(&answer.response);
    let url = || source.url.clone();
    match chunk_verdict(&asked, &head) {
        ChunkVerdict::Write => Ok((answer, asked.range.end)),
        ChunkVerdict::WrongRange => Err(Error::Protocol {
            url: url(),
            message: format!(
                "asked for {range} of {} bytes, got Content-Range {}",
                asked.total,
                head.content_range.unwrap_or("(none)")
            ),
        }),
        ChunkVerdict::FileChanged(reason) => Err(Error::FileChanged { url: url(), reason }),
        ChunkVerdict::RangeIgnored => Err(Error::RangeIgnored { url: url() }),
        ChunkVerdict::TooManyConnections => {
            answer.slot.refused();
            Err(Error::Protocol {
                url: url(),
                message: format!(
                    "416 for {range}, which is inside the file (too many connections?)"
                ),
            })
        }
        ChunkVerdict::BadStatus(bad) => Err(reject(&source.url, answer, bad)),
    }
}

/// Reads the body of `answer` (a `206` for the rest of `chunk`, up to `asked_end`) into the chunk.
fn copy(
    job: &RangedJob,
    chunk: &Chunk,
    answer: InFlight,
    asked_end: u64,
    buffer: &mut [u8],
) -> Result<(), Error> {
    let InFlight { response, slot } = answer;
    let body_copy = BodyCopy {
        context: &job.context,
        file: &job.file,
        part: &job.part,
        url: &job.url,
        lowest_speed: job.context.config.lowest_speed,
    };
    let mut reader = response.into_body().into_reader();
    let mut target = chunk;
    match body_copy.run(&mut reader, &mut target, buffer, || job.should_stop())? {
        CopyEnd::Filled => {
            if chunk.end() >= asked_end {
                // A 206 carries exactly the range, so the body is fully read; one last read lets
                // ureq see its end and return the connection to the pool for the next chunk.
                let _ = reader.read(&mut buffer[..1]);
            }
            // Otherwise another connection took the rest of the range: the rest of this body is
            // not read but dropped with its connection (see docs/design.md, "Re-splitting").
            slot.succeeded();
            Ok(())
        }
        CopyEnd::Stopped => Ok(()),
        CopyEnd::BodyEnded => Err(Error::Protocol {
            url: job.url.clone(),
            message: format!(
                "body ended early, at byte {} of chunk {}-{}",
                chunk.next_offset(),
                chunk.start(),
                chunk.end() - 1
            ),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::file::answer::doc_table_answers;

    fn head(status: u16, content_range: Option<&'static str>) -> Head<'static> {
        Head {
            status,
            content_range,
            validators: version("\"v1\""),
            content_length: None,
        }
    }

    fn version(etag: &str) -> Validators {
        Validators {
            etag: Some(etag.to_string()),
            last_modified: None,
        }
    }

    /// One row of the module's table: the answer's cell, answers that fit it, and their verdict.
    struct Row {
        answer: &'static str,
        heads: Vec<Head<'static>>,
        verdict: ChunkVerdict,
    }

    fn row(answer: &'static str, heads: Vec<Head<'static>>, verdict: ChunkVerdict) -> Row {
        Row {
            answer,
            heads,
            verdict,
        }
    }

    /// Bytes 100..200 of a 1000-byte file whose ETag was "v1", as every row asks.
    fn rows() -> Vec<Row> {
        let changed = |reason: &str| ChunkVerdict::FileChanged(reason.to_string());
        let with_etag = |head: Head<'static>, etag: &str| Head {
            validators: version(etag),
            ..head
        };
        let with_length = |head: Head<'static>, length: u64| Head {
            content_length: Some(length),
            ..head
        };
        let statuses = |statuses: &[u16]| statuses.iter().map(|&s| head(s, None)).collect();
        vec![
            row(
                "`206`, the range asked for, same file",
                vec![
                    head(206, Some("bytes 100-199/1000")),
                    head(206, Some(" bytes  100 - 199 / 1000 ")),
                    Head {
                        validators: Validators::default(),
                        ..head(206, Some("bytes 100-199/1000"))
                    },
                ],
                ChunkVerdict::Write,
            ),
            row(
                "`206`, the range asked for, size not given (`/*`)",
                vec![head(206, Some("bytes 100-199/*"))],
                ChunkVerdict::Write,
            ),
            row(
                "`206`, another validator",
                vec![with_etag(head(206, Some("bytes 100-199/1000")), "\"v2\"")],
                changed("ETag was \"v1\", now \"v2\""),
            ),
            row(
                "`206`, another size",
                vec![head(206, Some("bytes 100-199/2000"))],
                changed("size was 1000 bytes, now 2000"),
            ),
            row(
                "`206`, another range",
                vec![
                    head(206, Some("bytes 0-99/1000")),
                    head(206, Some("bytes 100-999/1000")),
                    head(206, Some("bytes 101-199/1000")),
                ],
                ChunkVerdict::WrongRange,
            ),
            row(
                "`206`, no usable `Content-Range`",
                vec![
                    head(206, None),
                    head(206, Some("bytes=100-199")),
                    head(206, Some("bytes */1000")),
                ],
                ChunkVerdict::WrongRange,
            ),
            row(
                "`200`, another validator",
                vec![with_length(with_etag(head(200, None), "\"v2\""), 1000)],
                changed("ETag was \"v1\", now \"v2\""),
            ),
            row(
                "`200`, another size after an `If-Range`",
                vec![with_length(head(200, None), 2000)],
                changed("If-Range was not met and the size is now 2000"),
            ),
            row(
                "`200`, same file",
                vec![with_length(head(200, None), 1000), head(200, None)],
                ChunkVerdict::RangeIgnored,
            ),
            row(
                "`416`, another size",
                vec![head(416, Some("bytes */2000"))],
                changed("size was 1000 bytes, now 2000"),
            ),
            row(
                "`416`, same size",
                vec![head(416, Some("bytes */1000"))],
                ChunkVerdict::TooManyConnections,
            ),
            row(
                "`416`, no size",
                vec![head(416, None), head(416, Some("bytes */*"))],
                ChunkVerdict::TooManyConnections,
            ),
            row(
                "`429`/`503`",
                statuses(&[429, 503]),
                ChunkVerdict::BadStatus(BadStatus::Overloaded),
            ),
            row(
                "`408`/other `5xx`",
                statuses(&[408, 500, 502, 504, 599]),
                ChunkVerdict::BadStatus(BadStatus::Retryable),
            ),
            row(
                "any other status",
                statuses(&[400, 401, 403, 404, 410, 204, 301]),
                ChunkVerdict::BadStatus(BadStatus::Fatal),
            ),
        ]
    }

    #[test]
    fn every_row_of_the_table() {
        let ours = version("\"v1\"");
        let asked = ChunkAsk {
            range: 100..200,
            total: 1000,
            validators: &ours,
        };
        let rows = rows();
        let answers: Vec<&str> = rows.iter().map(|row| row.answer).collect();
        assert_eq!(
            answers,
            doc_table_answers(include_str!("chunk.rs")),
            "the rows here and the table in the module doc must match, in order"
        );
        for row in rows {
            for head in &row.heads {
                assert_eq!(
                    chunk_verdict(&asked, head),
                    row.verdict,
                    "row {}: {head:?}",
                    row.answer
                );
            }
        }
    }

    #[test]
    fn without_if_range_a_200_of_another_size_only_shows_ranges_ignored() {
        // No validator was sent, so the server had nothing to compare: only the size could tell,
        // and a 200's length is the whole file's as the server has it now.
        let none = Validators::default();
        let asked = ChunkAsk {
            range: 100..200,
            total: 1000,
            validators: &none,
        };
        let answer = Head {
            status: 200,
            content_length: Some(2000),
            ..Head::default()
        };
        assert_eq!(chunk_verdict(&asked, &answer), ChunkVerdict::RangeIgnored);
    }

    #[test]
    fn a_range_split_after_it_was_asked_is_judged_by_what_was_asked() {
        // Asked for 100..200; another connection took 150..200 before the answer came. The answer
        // is for what was sent, so it is the right one (the copy stops at 150).
        let ours = Validators::default();
        let asked = ChunkAsk {
            range: 100..200,
            total: 1000,
            validators: &ours,
        };
        let answer = |content_range| Head {
            status: 206,
            content_range: Some(content_range),
            ..Head::default()
        };
        assert_eq!(
            chunk_verdict(&asked, &answer("bytes 100-199/1000")),
            ChunkVerdict::Write
        );
        assert_eq!(
            chunk_verdict(&asked, &answer("bytes 100-149/1000")),
            ChunkVerdict::WrongRange,
            "a server that sends only the part left is not the answer to what was asked"
        );
    }

    #[test]
    fn the_last_byte_of_the_file_is_a_valid_end() {
        let ours = Validators::default();
        let asked = ChunkAsk {
            range: 900..1000,
            total: 1000,
            validators: &ours,
        };
        let answer = Head {
            status: 206,
            content_range: Some("bytes 900-999/1000"),
            ..Head::default()
        };
        assert_eq!(chunk_verdict(&asked, &answer), ChunkVerdict::Write);
    }
}
