//! The first request for a file, which finds out how to download the rest.
//!
//! pardl never spends a request only to learn about a file: the probe is a `GET` for the whole file as
//! a range (`Range: bytes=0-`, open-ended), and its answer both tells and serves. Its body is the
//! first connection's range of the plan ([`ChunkPlan::new`](crate::file::plan::ChunkPlan::new): one
//! range per connection), read up to that range's end; the connection is then dropped with the rest
//! of the answer unread. So a file on a server whose connections are equally fast costs one request
//! per connection, not one more (asking for a first chunk of `--min-chunk` bytes, as pardl did
//! before, cost the probe's connection a second request for its share). Where requests are
//! expensive, that request was the difference: against moto's S3 server, pardl was no faster than
//! aria2c before and is now (docs/benchmarks.md, scenario 11). docs/design.md ("Why the probe asks
//! for the whole file") tells the cost: the bytes the server sent past the first range's end.
//!
//! How each answer is read ([`probe_verdict`]; the test `every_row_of_the_table` checks it row by row,
//! in this order, and fails if the rows here and there differ):
//!
//! | answer | meaning | action |
//! |---|---|---|
//! | `206`, `bytes 0-N/TOTAL`, all of the file | the server honours ranges and the size is known | the body carries the first connection's range; the others ask for theirs |
//! | `206`, `bytes 0-N/TOTAL`, less than all | the same, from a server that caps its answers | the body is the first chunk; the rest is shared among the connections |
//! | `206`, another range of a known size | a confused server (or proxy) | write nothing, retry (transient) |
//! | `206`, no total (`bytes 0-N/*`) | pardl does not guess the size | drop the answer, ask again without `Range`: one stream |
//! | `206`, no usable `Content-Range` | pardl does not guess the size | drop the answer, ask again without `Range`: one stream |
//! | `200` | the server ignores `Range` (or the file is not a plain static file) | the body is the whole file: one stream on this connection, with or without a `Content-Length` |
//! | `416` | typically an empty file | drop the answer, ask again without `Range`: one stream |
//! | `429`/`503` | overloaded | fewer connections if others are busy; wait (`Retry-After`), retry |
//! | `408`/other `5xx` | trouble on the server | wait, retry |
//! | any other status | refused | fail the file at once |
//!
//! The Python article instead sent a separate request to read `Content-Length`, then another to ask
//! whether ranges work, then the downloads: three round trips before the first useful byte.

use std::time::Duration;

use ureq::http::Response;
use ureq::ResponseExt;

use crate::error::Error;
use crate::file::answer::{bad_status, reject, BadStatus, Head};
use crate::file::request::{send, InFlight};
use crate::file::retry::{with_retries, Backoff, Retryable};
use crate::http::url::{keep_credentials, redact_url};
use crate::http::{status_error, ContentRange, Validators};
use crate::run::context::Context;
use crate::run::progress::FileProgress;

/// What the probe learnt, with the response that still carries the body.
#[derive(Debug)]
pub(crate) enum RangeProbe {
    /// The server honours ranges: the response is a `206` carrying the first bytes of `total`.
    Ranged {
        /// The size of the file.
        total: u64,
        /// The response, body unread, and how far it reaches.
        first: FirstAnswer,
        /// The URL after redirects; later range requests go there directly.
        final_url: String,
        /// The version of the file the download is about.
        validators: Validators,
    },
    /// One stream: the response is a `200` with the whole file.
    Whole {
        /// The response, body unread.
        first: InFlight,
        final_url: String,
    },
}

impl RangeProbe {
    /// The answer, body unread (its headers may name the file: `Content-Disposition`).
    pub(crate) fn response(&self) -> &Response<ureq::Body> {
        match self {
            RangeProbe::Ranged { first, .. } => &first.answer.response,
            RangeProbe::Whole { first, .. } => &first.response,
        }
    }

    /// The URL after redirects.
    pub(crate) fn final_url(&self) -> &str {
        match self {
            RangeProbe::Ranged { final_url, .. } | RangeProbe::Whole { final_url, .. } => final_url,
        }
    }
}

/// The probe's `Range`: the whole file, from its first byte.
const WHOLE_FILE: &str = "bytes=0-";

/// The probe's answer, as the task of the first chunk reads it.
#[derive(Debug)]
pub(crate) struct FirstAnswer {
    /// The response, body unread.
    pub answer: InFlight,
    /// One past the last byte it carries. The first chunk may end sooner: its copy stops there and
    /// drops the rest of the body with the connection.
    pub end: u64,
}

/// Sends the probe for `url`, retrying transient failures as `backoff` allows (each retry is
/// counted in `file`'s progress).
pub(crate) fn probe(
    context: &Context,
    url: &str,
    backoff: Backoff,
    file: &FileProgress,
) -> Result<RangeProbe, Error> {
    let mut request = ProbeRequest { context, url };
    with_retries(context, file, backoff, &mut request)
}

/// The probe of one file, as the retry loop tries it.
struct ProbeRequest<'a> {
    context: &'a Context,
    url: &'a str,
}

impl Retryable for ProbeRequest<'_> {
    type Output = RangeProbe;

    fn attempt(&mut self) -> Result<RangeProbe, Error> {
        probe_once(self.context, self.url)
    }

    fn stopped(&self) -> Result<RangeProbe, Error> {
        Err(Error::Interrupted {
            url: self.url.to_string(),
        })
    }

    fn retry_warning(&self, error: &Error, wait: Duration) -> String {
        format!("{error}; retrying in {:.1}s", wait.as_secs_f64())
    }
}

/// What the answer to the probe means; the module's table in enum form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ProbeVerdict {
    /// Ranges work: the file has `total` bytes, and the answer carries `0..first_end`.
    Ranged {
        /// The size of the file.
        total: u64,
        /// One past the last byte the answer carries.
        first_end: u64,
    },
    /// A `206` for another range of a file of known size.
    WrongRange,
    /// A `206` whose `Content-Range` gives no size, or cannot be read: ask again without `Range`.
    NoUsableRange,
    /// A `200`: the answer carries the whole file.
    Whole,
    /// A `416`: ask again without `Range`.
    Unsatisfiable,
    /// A status the probe did not want.
    BadStatus(BadStatus),
}

/// Judges the answer `head` to a request for the file from its first byte: open-ended (`asked`
/// `None`, the probe; see the module's table), or for its first `asked` bytes.
pub(crate) fn probe_verdict(asked: Option<u64>, head: &Head<'_>) -> ProbeVerdict {
    match head.status {
        206 => match head.content_range.and_then(ContentRange::parse) {
            // An open-ended request may be answered with less than the whole file (a server that
            // caps its answers): that much is the first chunk.
            Some(ContentRange {
                start: 0,
                end_inclusive,
                total: Some(total),
            }) if asked.is_none_or(|len| end_inclusive + 1 == len.min(total)) => {
                ProbeVerdict::Ranged {
                    total,
                    first_end: end_inclusive + 1,
                }
            }
            // A server that knows the size but sends another range than asked is confused (or a
            // proxy is); its bytes are not written, and the probe is tried again.
            Some(ContentRange { total: Some(_), .. }) => ProbeVerdict::WrongRange,
            _ => ProbeVerdict::NoUsableRange,
        },
        200 => ProbeVerdict::Whole,
        416 => ProbeVerdict::Unsatisfiable,
        status => ProbeVerdict::BadStatus(bad_status(status)),
    }
}

/// Sends the probe once and acts on its [`probe_verdict`].
fn probe_once(context: &Context, url: &str) -> Result<RangeProbe, Error> {
    let range = WHOLE_FILE;
    let first = send(context, url, Some(range), None)?;
    let final_url = keep_credentials(url, &first.response.get_uri().to_string());
    let head = Head::of(&first.response);
    match probe_verdict(None, &head) {
        ProbeVerdict::Ranged { total, first_end } => {
            first.slot.succeeded();
            Ok(RangeProbe::Ranged {
                total,
                validators: head.validators,
                first: FirstAnswer {
                    answer: first,
                    end: first_end,
                },
                final_url,
            })
        }
        ProbeVerdict::WrongRange => Err(Error::Protocol {
            url: url.to_string(),
            message: format!(
                "asked for {range}, got Content-Range {}",
                head.content_range.unwrap_or("(none)")
            ),
        }),
        ProbeVerdict::NoUsableRange => {
            log::info!(
                "{}: no usable Content-Range in the answer to {range} ({:?}); downloading as one stream",
                redact_url(url),
                head.content_range.and_then(ContentRange::parse)
            );
            drop(first);
            whole(context, &final_url)
        }
        ProbeVerdict::Whole => Ok(RangeProbe::Whole { first, final_url }),
        ProbeVerdict::Unsatisfiable => {
            log::info!(
                "{}: 416 for {range} (an empty file?); downloading as one stream",
                redact_url(url)
            );
            drop(first);
            whole(context, url)
        }
        ProbeVerdict::BadStatus(bad) => Err(reject(url, first, bad)),
    }
}

/// Asks for the whole file without `Range`.
pub(crate) fn whole(context: &Context, url: &str) -> Result<RangeProbe, Error> {
    let first = send(context, url, None, None)?;
    match first.response.status().as_u16() {
        200 => Ok(RangeProbe::Whole {
            final_url: keep_credentials(url, &first.response.get_uri().to_string()),
            first,
        }),
        _ => Err(status_error(url, &first.response)),
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
            ..Head::default()
        }
    }

    /// One row of the module's table: the answer's cell, answers that fit it, and their verdict.
    struct Row {
        answer: &'static str,
        heads: Vec<Head<'static>>,
        verdict: ProbeVerdict,
    }

    fn row(answer: &'static str, heads: Vec<Head<'static>>, verdict: ProbeVerdict) -> Row {
        Row {
            answer,
            heads,
            verdict,
        }
    }

    /// The probe's open-ended request, as every row asks.
    fn rows() -> Vec<Row> {
        let statuses = |statuses: &[u16]| statuses.iter().map(|&s| head(s, None)).collect();
        vec![
            row(
                "`206`, `bytes 0-N/TOTAL`, all of the file",
                vec![head(206, Some("bytes 0-999/1000"))],
                ProbeVerdict::Ranged {
                    total: 1000,
                    first_end: 1000,
                },
            ),
            row(
                "`206`, `bytes 0-N/TOTAL`, less than all",
                vec![head(206, Some("bytes 0-99/1000"))],
                ProbeVerdict::Ranged {
                    total: 1000,
                    first_end: 100,
                },
            ),
            row(
                "`206`, another range of a known size",
                vec![
                    head(206, Some("bytes 10-109/1000")),
                    head(206, Some("bytes 1-999/1000")),
                ],
                ProbeVerdict::WrongRange,
            ),
            row(
                "`206`, no total (`bytes 0-N/*`)",
                vec![head(206, Some("bytes 0-99/*"))],
                ProbeVerdict::NoUsableRange,
            ),
            row(
                "`206`, no usable `Content-Range`",
                vec![
                    head(206, None),
                    head(206, Some("bytes=0-99")),
                    head(206, Some("bytes */1000")),
                    head(206, Some("items 0-99/1000")),
                ],
                ProbeVerdict::NoUsableRange,
            ),
            row("`200`", vec![head(200, None)], ProbeVerdict::Whole),
            row(
                "`416`",
                vec![head(416, None), head(416, Some("bytes */0"))],
                ProbeVerdict::Unsatisfiable,
            ),
            row(
                "`429`/`503`",
                statuses(&[429, 503]),
                ProbeVerdict::BadStatus(BadStatus::Overloaded),
            ),
            row(
                "`408`/other `5xx`",
                statuses(&[408, 500, 502, 504, 599]),
                ProbeVerdict::BadStatus(BadStatus::Retryable),
            ),
            row(
                "any other status",
                statuses(&[400, 401, 403, 404, 410, 204, 301]),
                ProbeVerdict::BadStatus(BadStatus::Fatal),
            ),
        ]
    }

    #[test]
    fn every_row_of_the_table() {
        let rows = rows();
        let answers: Vec<&str> = rows.iter().map(|row| row.answer).collect();
        assert_eq!(
            answers,
            doc_table_answers(include_str!("probe.rs")),
            "the rows here and the table in the module doc must match, in order"
        );
        for row in rows {
            for head in &row.heads {
                assert_eq!(
                    probe_verdict(None, head),
                    row.verdict,
                    "row {}: {head:?}",
                    row.answer
                );
            }
        }
    }

    #[test]
    fn a_bounded_request_wants_exactly_what_it_asked() {
        // A mirror's first byte (`bytes=0-0`): that byte, or all of a file that has fewer.
        let ranged = |total, first_end| ProbeVerdict::Ranged { total, first_end };
        assert_eq!(
            probe_verdict(Some(1), &head(206, Some("bytes 0-0/1000"))),
            ranged(1000, 1)
        );
        assert_eq!(
            probe_verdict(Some(100), &head(206, Some("bytes 0-49/50"))),
            ranged(50, 50)
        );
        for other in ["bytes 0-1/1000", "bytes 0-29/50", "bytes 1-1/1000"] {
            assert_eq!(
                probe_verdict(Some(1), &head(206, Some(other))),
                ProbeVerdict::WrongRange,
                "{other}"
            );
        }
    }
}
