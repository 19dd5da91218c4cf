//! The first request for a file, which finds out how to download the rest.
//!
//! pardl never spends a request only to learn about a file: the probe is a `GET` for the file's first
//! chunk (`Range: bytes=0-N`), and its answer both tells and serves.
//!
//! * `206` with `Content-Range: bytes 0-N/TOTAL` exactly as asked: the server honours ranges and the
//!   size is known. The response body *is* the first chunk; the rest is split among connections.
//! * `200`: the server ignores `Range` (or the file is not a plain static file). Its body is the whole
//!   file, downloaded as one stream on this connection, with or without a `Content-Length`.
//! * `206` that does not match (another start, unknown total), or `416` (typically an empty file):
//!   pardl does not guess. It drops that answer and asks again without `Range`, for one stream.
//!
//! The Python article instead sent a separate request to read `Content-Length`, then another to ask
//! whether ranges work, then the downloads: three round trips before the first useful byte.

use ureq::http::Response;
use ureq::{Agent, Body, ResponseExt};

use crate::error::Error;
use crate::http::{range_header, ContentRange};
use crate::retry::Backoff;

/// What the probe learnt, with the response that still carries the body.
#[derive(Debug)]
pub enum RangeProbe {
    /// The server honours ranges: `response` is a `206` carrying bytes `0..first_end` of `total`.
    Ranged {
        /// The size of the file.
        total: u64,
        /// One past the last byte the response carries.
        first_end: u64,
        /// The response, body unread.
        response: Response<Body>,
        /// The URL after redirects; later range requests go there directly.
        final_url: String,
    },
    /// One stream: `response` is a `200` with the whole file.
    Whole {
        /// `Content-Length`, if the server sent one.
        length: Option<u64>,
        /// The response, body unread.
        response: Response<Body>,
        /// The URL after redirects.
        final_url: String,
    },
}

/// Sends the probe for `url`, asking for its first `first_len` bytes, retrying transient failures
/// as `backoff` allows.
pub fn probe(
    agent: &Agent,
    url: &str,
    first_len: u64,
    mut backoff: Backoff,
) -> Result<RangeProbe, Error> {
    loop {
        match probe_once(agent, url, first_len.max(1)) {
            Ok(answer) => return Ok(answer),
            Err(error) if error.is_transient() => match backoff.failed() {
                Some(wait) => {
                    log::warn!("{error}; retrying in {:.1}s", wait.as_secs_f64());
                    std::thread::sleep(wait);
                }
                None => return Err(error),
            },
            Err(error) => return Err(error),
        }
    }
}

fn probe_once(agent: &Agent, url: &str, first_len: u64) -> Result<RangeProbe, Error> {
    let range = range_header(0, first_len);
    log::debug!("GET {} Range: {range}", crate::http::redact_url(url));
    let response = send(agent, url, Some(&range))?;
    let status = response.status().as_u16();
    log::debug!("{} -> {status}", crate::http::redact_url(url));
    match status {
        206 => {
            let final_url = response.get_uri().to_string();
            let content_range = response
                .headers()
                .get("content-range")
                .and_then(|v| v.to_str().ok())
                .and_then(ContentRange::parse);
            match content_range {
                Some(ContentRange {
                    start: 0,
                    end_inclusive,
                    total: Some(total),
                }) if end_inclusive + 1 == first_len.min(total) => Ok(RangeProbe::Ranged {
                    total,
                    first_end: end_inclusive + 1,
                    response,
                    final_url,
                }),
                other => {
                    log::info!(
                        "{}: unusable answer to a range request ({other:?} for {range}); downloading as one stream",
                        crate::http::redact_url(url)
                    );
                    drop(response);
                    whole(agent, &final_url)
                }
            }
        }
        200 => Ok(whole_from(response)),
        416 => {
            log::info!(
                "{}: 416 for {range} (an empty file?); downloading as one stream",
                crate::http::redact_url(url)
            );
            whole(agent, url)
        }
        _ => Err(Error::Status {
            url: url.to_string(),
            status,
        }),
    }
}

/// Asks for the whole file without `Range`.
fn whole(agent: &Agent, url: &str) -> Result<RangeProbe, Error> {
    let response = send(agent, url, None)?;
    match response.status().as_u16() {
        200 => Ok(whole_from(response)),
        status => Err(Error::Status {
            url: url.to_string(),
            status,
        }),
    }
}

fn whole_from(response: Response<Body>) -> RangeProbe {
    RangeProbe::Whole {
        length: response.body().content_length(),
        final_url: response.get_uri().to_string(),
        response,
    }
}

/// Sends a `GET` for `url`, with a `Range` header if given. Statuses are not errors here: callers
/// decide what each one means.
pub fn send(agent: &Agent, url: &str, range: Option<&str>) -> Result<Response<Body>, Error> {
    let mut request = agent.get(url);
    if let Some(range) = range {
        request = request.header("Range", range);
    }
    request.call().map_err(|source| match source {
        ureq::Error::BadUri(reason) => Error::InvalidUrl {
            url: url.to_string(),
            reason,
        },
        source => Error::Network {
            url: url.to_string(),
            source,
        },
    })
}
