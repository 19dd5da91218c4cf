//! The first request for a file, which finds out how to download the rest.
//!
//! pardl never spends a request only to learn about a file: the probe is a `GET` for the file's first
//! chunk (`Range: bytes=0-N`), and its answer both tells and serves.
//!
//! * `206` with `Content-Range: bytes 0-N/TOTAL` exactly as asked: the server honours ranges and the
//!   size is known. The response body *is* the first chunk; the rest is split among connections.
//! * `200`: the server ignores `Range` (or the file is not a plain static file). Its body is the whole
//!   file, downloaded as one stream on this connection, with or without a `Content-Length`.
//! * `206` for another range than asked: nothing is written and the probe is retried.
//! * `206` without a known total, or `416` (typically an empty file): pardl does not guess. It drops
//!   that answer and asks again without `Range`, for one stream.
//!
//! The Python article instead sent a separate request to read `Content-Length`, then another to ask
//! whether ranges work, then the downloads: three round trips before the first useful byte.

use ureq::http::Response;
use ureq::ResponseExt;

use crate::error::Error;
use crate::file::request::{send, InFlight};
use crate::file::retry::Backoff;
use crate::http::url::{keep_credentials, redact_url};
use crate::http::{header, range_header, status_error, ContentRange, Validators};
use crate::run::context::Context;
use crate::run::progress::FileProgress;

/// What the probe learnt, with the response that still carries the body.
#[derive(Debug)]
pub(crate) enum RangeProbe {
    /// The server honours ranges: the response is a `206` carrying bytes `0..first_end` of `total`.
    Ranged {
        /// The size of the file.
        total: u64,
        /// One past the last byte the response carries.
        first_end: u64,
        /// The response, body unread.
        first: InFlight,
        /// The URL after redirects; later range requests go there directly.
        final_url: String,
        /// The version of the file the download is about.
        validators: Validators,
    },
    /// One stream: the response is a `200` with the whole file.
    Whole {
        /// The response, body unread.
        first: InFlight,
        /// The URL after redirects.
        final_url: String,
    },
}

impl RangeProbe {
    /// The answer, body unread (its headers may name the file: `Content-Disposition`).
    pub(crate) fn response(&self) -> &Response<ureq::Body> {
        match self {
            RangeProbe::Ranged { first, .. } | RangeProbe::Whole { first, .. } => &first.response,
        }
    }

    /// The URL after redirects.
    pub(crate) fn final_url(&self) -> &str {
        match self {
            RangeProbe::Ranged { final_url, .. } | RangeProbe::Whole { final_url, .. } => final_url,
        }
    }
}

/// Sends the probe for `url`, asking for its first `first_len` bytes, retrying transient failures
/// as `backoff` allows (each retry is counted in `file`'s progress).
pub(crate) fn probe(
    context: &Context,
    url: &str,
    first_len: u64,
    mut backoff: Backoff,
    file: &FileProgress,
) -> Result<RangeProbe, Error> {
    loop {
        if context.is_cancelled() {
            return Err(Error::Interrupted {
                url: url.to_string(),
            });
        }
        match probe_once(context, url, first_len.max(1)) {
            Ok(answer) => return Ok(answer),
            Err(error) if error.is_transient() => match backoff.wait_after(&error) {
                Some(wait) => {
                    context.progress.retried(file);
                    log::warn!("{error}; retrying in {:.1}s", wait.as_secs_f64());
                    context.sleep(wait);
                }
                None => return Err(error),
            },
            Err(error) => return Err(error),
        }
    }
}

fn probe_once(context: &Context, url: &str, first_len: u64) -> Result<RangeProbe, Error> {
    let range = range_header(0, first_len);
    let first = send(context, url, Some(&range), None)?;
    let final_url = keep_credentials(url, &first.response.get_uri().to_string());
    match first.response.status().as_u16() {
        206 => {
            let content_range =
                header(&first.response, "content-range").and_then(ContentRange::parse);
            match content_range {
                Some(ContentRange {
                    start: 0,
                    end_inclusive,
                    total: Some(total),
                }) if end_inclusive + 1 == first_len.min(total) => {
                    first.slot.succeeded();
                    Ok(RangeProbe::Ranged {
                        total,
                        first_end: end_inclusive + 1,
                        validators: Validators::of(&first.response),
                        first,
                        final_url,
                    })
                }
                Some(ContentRange { total: Some(_), .. }) => {
                    // A server that knows the size but sends another range than asked is confused
                    // (or a proxy is); its bytes are not written, and the probe is tried again.
                    Err(Error::Protocol {
                        url: url.to_string(),
                        message: format!(
                            "asked for {range}, got Content-Range {}",
                            header(&first.response, "content-range").unwrap_or("(none)")
                        ),
                    })
                }
                other => {
                    log::info!(
                        "{}: no usable Content-Range in the answer to {range} ({other:?}); downloading as one stream",
                        redact_url(url)
                    );
                    drop(first);
                    whole(context, &final_url)
                }
            }
        }
        200 => Ok(RangeProbe::Whole { first, final_url }),
        416 => {
            log::info!(
                "{}: 416 for {range} (an empty file?); downloading as one stream",
                redact_url(url)
            );
            drop(first);
            whole(context, url)
        }
        429 | 503 => {
            first.slot.refused();
            Err(status_error(url, &first.response))
        }
        _ => Err(status_error(url, &first.response)),
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
