//! What a path serves ([`Body`]) and how it misbehaves ([`Behaviour`]).

use std::fmt;
use std::time::Duration;

use crate::pattern::pattern_fill;

/// The content of a file served by the [`TestServer`](crate::TestServer).
#[derive(Clone, PartialEq, Eq)]
pub enum Body {
    /// These exact bytes.
    Bytes(Vec<u8>),
    /// `len` bytes of the [`pattern_bytes`](crate::pattern_bytes) sequence for
    /// `seed`, generated slice by slice while sending: a 1 GiB file costs no
    /// memory.
    Pattern {
        /// Length of the file in bytes.
        len: u64,
        /// Selects which pattern; different seeds give unrelated content.
        seed: u64,
    },
}

impl Body {
    /// Length of the file in bytes.
    pub fn len(&self) -> u64 {
        match self {
            Body::Bytes(bytes) => bytes.len() as u64,
            Body::Pattern { len, .. } => *len,
        }
    }

    /// Whether the file is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The bytes at `[offset, offset + len)`, clamped to the end of the body:
    /// what a correct download of that range must contain.
    pub fn bytes_at(&self, offset: u64, len: usize) -> Vec<u8> {
        let available = self.len().saturating_sub(offset);
        let len = len.min(usize::try_from(available).unwrap_or(usize::MAX));
        let mut out = vec![0u8; len];
        self.fill(offset, &mut out);
        out
    }

    /// Copies the bytes at `[offset, offset + buf.len())` into `buf`.
    /// The caller keeps the range inside the body.
    pub(crate) fn fill(&self, offset: u64, buf: &mut [u8]) {
        match self {
            Body::Bytes(bytes) => {
                let start = offset as usize;
                buf.copy_from_slice(&bytes[start..start + buf.len()]);
            }
            Body::Pattern { seed, .. } => pattern_fill(*seed, offset, buf),
        }
    }
}

// A derived Debug would print every byte of a multi-megabyte body into a test
// failure message.
impl fmt::Debug for Body {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Body::Bytes(bytes) => write!(f, "Body::Bytes(<{} bytes>)", bytes.len()),
            Body::Pattern { len, seed } => f
                .debug_struct("Body::Pattern")
                .field("len", len)
                .field("seed", seed)
                .finish(),
        }
    }
}

impl From<Vec<u8>> for Body {
    fn from(bytes: Vec<u8>) -> Body {
        Body::Bytes(bytes)
    }
}

impl From<&[u8]> for Body {
    fn from(bytes: &[u8]) -> Body {
        Body::Bytes(bytes.to_vec())
    }
}

impl From<&str> for Body {
    fn from(text: &str) -> Body {
        Body::Bytes(text.as_bytes().to_vec())
    }
}

/// How the server treats requests for one path: the fault-injection knobs.
///
/// The default is a well-behaved server: `Accept-Ranges: bytes`, `206` for
/// valid ranges, `Content-Length` framing, keep-alive, no speed cap.
///
/// New faults are added as new fields whose default means "behave", so build
/// values either with the builder methods or with struct-update syntax; both
/// keep compiling when fields are added:
///
/// ```
/// use pardl_testserver::Behaviour;
/// let slow = Behaviour::new().rate_limit(100 * 1024).etag("\"v1\"");
/// let no_ranges = Behaviour { ignore_range: true, ..Behaviour::default() };
/// assert_eq!(slow.rate_limit, Some(102_400));
/// assert!(no_ranges.ignore_range);
/// ```
///
/// The framing and range knobs apply to file responses (`200`/`206`/HEAD);
/// error responses (`404`, `416`, a forced [`status`](Behaviour::status))
/// are always small `Content-Length` bodies.
///
/// # Counted faults
///
/// Most faults hit "the first K" responses or start "after N" requests, so
/// a test can say exactly what the client meets: two resets, then clean
/// answers.
///
/// ```
/// use pardl_testserver::Behaviour;
/// use std::time::Duration;
/// let hostile = Behaviour::new()
///     .fail_first(503, 1)
///     .retry_after("1")
///     .reset_after(64 * 1024, 2)
///     .stall_after(1024, Duration::from_millis(200), 1)
///     .etag("\"v1\"");
/// assert_eq!(hostile.reset_after.unwrap().times, 2);
/// ```
///
/// The counts are kept per path under one lock, so concurrent chunk
/// requests see exactly K faults in total, never K per connection. A fault
/// only spends its budget on responses it can actually hit: a cut after
/// 1000 body bytes is not used up by a HEAD or by a 500-byte range, which
/// are answered whole. The counts belong to the registration:
/// [`TestServer::add`](crate::TestServer::add) starts them afresh,
/// [`replace`](crate::TestServer::replace) and
/// [`reset_stats`](crate::TestServer::reset_stats) keep them.
///
/// Every fault injected into a response is listed in
/// [`RequestRecord::faults`](crate::RequestRecord::faults) and counted in
/// [`PathStats::faults_injected`](crate::PathStats::faults_injected).
///
/// # Combining faults
///
/// Faults combine freely. For each GET or HEAD of the path they are decided
/// in this order; the first three steps end the decision when they answer:
///
/// 1. A status instead of the file: [`status`](Behaviour::status), then
///    [`fail_first`](Behaviour::fail_first), then
///    [`fail_after`](Behaviour::fail_after) (each with
///    [`retry_after`](Behaviour::retry_after) if set).
/// 2. [`redirect`](Behaviour::redirect).
/// 3. [`max_concurrent`](Behaviour::max_concurrent) refusals.
/// 4. The range: `If-Range`, [`ignore_range`](Behaviour::ignore_range),
///    [`ignore_range_after`](Behaviour::ignore_range_after), and for a `206`
///    [`wrong_content_range`](Behaviour::wrong_content_range).
/// 5. The body, GET only: [`slow`](Behaviour::slow) (a lower speed cap for
///    chosen responses), [`stall_after`](Behaviour::stall_after), then the
///    earlier of [`reset_after`](Behaviour::reset_after) and
///    [`truncate`](Behaviour::truncate) (a tie goes to the reset; if the
///    earlier cut's budget is spent, the later one may still apply). A
///    stall and a cut at the same byte count give "stall, then close"; a
///    stall beyond the cut would never be reached, so it is neither applied
///    nor counted.
///
/// [`change_after`](Behaviour::change_after) is not a step: it selects which
/// content and validators every response (and `If-Range`) uses.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Behaviour {
    /// Answer `200` with the full body even when a `Range` header is sent,
    /// and send no `Accept-Ranges`: a server without range support.
    pub ignore_range: bool,
    /// Send no `Content-Length`: the body is delimited by closing the
    /// connection, and the response says `Connection: close`.
    pub no_content_length: bool,
    /// Use `Transfer-Encoding: chunked` framing (no `Content-Length`;
    /// keep-alive still works). Takes precedence over `no_content_length`.
    pub chunked: bool,
    /// Cap each response body at this many bytes per second. The cap is per
    /// connection (N parallel connections together get N times this), and
    /// its clock starts with each response body, so idle time between
    /// keep-alive requests earns no burst. Bytes never run ahead of the cap:
    /// a body of B bytes takes at least B / rate seconds to arrive.
    /// `Some(0)` is treated as 1 byte/s.
    pub rate_limit: Option<u64>,
    /// Answer every request for the path with this status and a short text
    /// body instead of the file (e.g. `404`, `500`). Not counted as a fault:
    /// it is what the path is. A forced `416` carries
    /// `Content-Range: bytes */LEN`, as RFC 9110 asks.
    pub status: Option<u16>,
    /// Raw value of a `Content-Disposition` header to send with the file.
    pub content_disposition: Option<String>,
    /// Raw value of an `ETag` header to send with the file (include the
    /// quotes: `"\"abc\""`). Also what `If-Range` is compared with.
    pub etag: Option<String>,
    /// Raw value of a `Last-Modified` header to send with the file, e.g.
    /// `"Wed, 21 Oct 2015 07:28:00 GMT"`. An `If-Range` date must equal it
    /// byte for byte to match.
    pub last_modified: Option<String>,
    /// Answer the first requests with an error status, then serve normally:
    /// a flaky server to retry against. See [`FailFirst`].
    pub fail_first: Option<FailFirst>,
    /// Serve the first requests normally, then answer every later one with
    /// an error status: an expiring link, a server that starts throttling.
    /// See [`FailAfter`].
    pub fail_after: Option<FailAfter>,
    /// Raw value of a `Retry-After` header sent with every status forced by
    /// [`status`](Behaviour::status), [`fail_first`](Behaviour::fail_first),
    /// [`fail_after`](Behaviour::fail_after) and
    /// [`max_concurrent`](Behaviour::max_concurrent): delay seconds (`"2"`)
    /// or an HTTP date, sent exactly as given (so malformed values can be
    /// tested too).
    pub retry_after: Option<String>,
    /// Refuse requests with an error status while too many responses for
    /// the path are being sent at once. See [`MaxConcurrent`].
    pub max_concurrent: Option<MaxConcurrent>,
    /// Honour `Range` for the first this-many requests whose `Range` the
    /// server acts on (answered `206` or `416`; an invalid `Range` or a
    /// failed `If-Range` does not count), then behave like
    /// [`ignore_range`](Behaviour::ignore_range): every later response is
    /// `200` with the whole body and no `Accept-Ranges`. Each `Range` ignored
    /// this way is a [`Fault::RangeIgnored`](crate::Fault::RangeIgnored).
    pub ignore_range_after: Option<usize>,
    /// Answer an open-ended range (`bytes=A-`) with at most this many bytes
    /// (`206` for `A..A+N`): a server that caps long answers, as some CDNs
    /// do. Bounded ranges are served as asked. Not a fault: it is what the
    /// server is.
    pub cap_open_range: Option<u64>,
    /// The first this-many `206` answers serve a range one byte off from the
    /// one requested (`start+1..=end+1`, or `start-1..=end-1` when the range
    /// ends at the last byte), with a `Content-Range` and `Content-Length`
    /// that describe the bytes actually sent. The header is truthful but
    /// does not match the request: a client that checks `Content-Range`
    /// against its `Range` notices, one that writes the body at the offset
    /// it asked for corrupts the file (pattern bodies never repeat, so the
    /// corruption always shows). A `206` for the whole file cannot be
    /// shifted and is answered correctly without spending the budget.
    pub wrong_content_range: Option<usize>,
    /// Reset the connection part-way through the body: see [`Cut`] and
    /// [`reset_after`](Behaviour::reset_after).
    pub reset_after: Option<Cut>,
    /// Close the connection cleanly part-way through the body: see [`Cut`]
    /// and [`truncate`](Behaviour::truncate).
    pub truncate: Option<Cut>,
    /// Pause part-way through the body, connection held open. See [`Stall`].
    pub stall_after: Option<Stall>,
    /// Replace the content and validators after a number of requests: a
    /// file that changes between a download and its resumption. See
    /// [`ChangeAfter`].
    pub change_after: Option<ChangeAfter>,
    /// Cap a few chosen GET responses at a low speed, as if their
    /// connections had landed on a busy backend: a straggler among fast
    /// connections. See [`Slow`].
    pub slow: Option<Slow>,
    /// Answer with a redirect instead of the file. See [`Redirect`] and
    /// [`TestServer::redirect`](crate::TestServer::redirect).
    pub redirect: Option<Redirect>,
}

/// Parameters of [`Behaviour::fail_first`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FailFirst {
    /// Status to answer, e.g. `503`, `500`, `429`, `408`.
    pub status: u16,
    /// How many requests (GET or HEAD) of the path get it; the rest are
    /// served normally.
    pub times: usize,
}

/// Parameters of [`Behaviour::fail_after`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FailAfter {
    /// How many requests (GET or HEAD) of the path are served normally
    /// first. Every request counts, including ones answered by other
    /// faults.
    pub requests: usize,
    /// Status for every later request, e.g. `403`, `410`, `429`.
    pub status: u16,
}

/// Parameters of [`Behaviour::max_concurrent`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MaxConcurrent {
    /// How many file responses (`200`/`206`, GET or HEAD) of the path may be
    /// in flight at once. A response stops counting just before its last
    /// byte is written, so a client that sends its next request as soon as
    /// it has a whole response is never refused for that one.
    pub limit: usize,
    /// Status for a request over the limit, e.g. `503`, `429`, `416`.
    pub status: u16,
}

/// Where and how often a body is cut: [`Behaviour::reset_after`] and
/// [`Behaviour::truncate`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cut {
    /// Body bytes sent before the cut. Only GET responses whose body is
    /// longer than this are cut (and counted); HEADs and shorter bodies are
    /// whole.
    pub after_bytes: u64,
    /// How many responses of the path are cut; later ones are whole.
    pub times: usize,
}

/// Parameters of [`Behaviour::stall_after`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Stall {
    /// Body bytes sent before the pause. Only GET responses whose body is
    /// longer than this stall (and are counted).
    pub after_bytes: u64,
    /// How long nothing is sent. The connection stays open, then the body
    /// continues (a rate limit resumes its pace rather than bursting to
    /// catch up).
    pub duration: Duration,
    /// How many responses of the path stall; later ones do not.
    pub times: usize,
}

/// Parameters of [`Behaviour::slow`]: GET responses with a body are
/// numbered in the order they start (from 0); those numbered `skip` to
/// `skip + times - 1` are capped at `rate` bytes per second (instead of
/// [`rate_limit`](Behaviour::rate_limit), if any), for their whole body.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Slow {
    /// GET responses with a body served at the normal speed first (1 spares
    /// a ranged client's probe).
    pub skip: usize,
    /// How many responses after those are slow.
    pub times: usize,
    /// Their speed in bytes per second (`0` is treated as 1).
    pub rate: u64,
}

/// Parameters of [`Behaviour::change_after`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChangeAfter {
    /// How many requests (GET or HEAD) of the path see the original content;
    /// every later one sees `version`. Every request counts, including ones
    /// answered by other faults.
    pub requests: usize,
    /// The content and validators after the change.
    pub version: Version,
}

/// One version of a file: its content and the validators sent with it.
/// Used by [`Behaviour::change_after`] and
/// [`TestServer::replace`](crate::TestServer::replace).
///
/// ```
/// use pardl_testserver::{Body, Version};
/// let v2 = Version::new("new content")
///     .etag("\"v2\"")
///     .last_modified("Thu, 22 Oct 2015 07:28:00 GMT");
/// assert_eq!(v2.body, Body::from("new content"));
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Version {
    /// The content.
    pub body: Body,
    /// `ETag` to send with it; `None` sends none.
    pub etag: Option<String>,
    /// `Last-Modified` to send with it; `None` sends none.
    pub last_modified: Option<String>,
}

impl Version {
    /// `body` without validators.
    pub fn new(body: impl Into<Body>) -> Version {
        Version {
            body: body.into(),
            etag: None,
            last_modified: None,
        }
    }

    /// Sets [`etag`](Version::etag) (include the quotes).
    pub fn etag(mut self, value: impl Into<String>) -> Version {
        self.etag = Some(value.into());
        self
    }

    /// Sets [`last_modified`](Version::last_modified).
    pub fn last_modified(mut self, value: impl Into<String>) -> Version {
        self.last_modified = Some(value.into());
        self
    }
}

/// Parameters of [`Behaviour::redirect`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Redirect {
    /// `301`, `302`, `303`, `307` or `308` (not checked, so odd statuses can
    /// be tested too).
    pub status: u16,
    /// Raw `Location` value: a path (`/b`), a relative reference (`b`,
    /// `../b`) or an absolute URL, sent exactly as given.
    pub location: String,
}

impl Behaviour {
    /// A well-behaved server; same as [`Behaviour::default`].
    pub fn new() -> Behaviour {
        Behaviour::default()
    }

    /// Sets [`ignore_range`](Behaviour::ignore_range).
    pub fn ignore_range(mut self) -> Behaviour {
        self.ignore_range = true;
        self
    }

    /// Sets [`no_content_length`](Behaviour::no_content_length).
    pub fn no_content_length(mut self) -> Behaviour {
        self.no_content_length = true;
        self
    }

    /// Sets [`chunked`](Behaviour::chunked).
    pub fn chunked(mut self) -> Behaviour {
        self.chunked = true;
        self
    }

    /// Sets [`rate_limit`](Behaviour::rate_limit) in bytes per second.
    pub fn rate_limit(mut self, bytes_per_second: u64) -> Behaviour {
        self.rate_limit = Some(bytes_per_second);
        self
    }

    /// Sets [`status`](Behaviour::status).
    pub fn status(mut self, status: u16) -> Behaviour {
        self.status = Some(status);
        self
    }

    /// Sets [`content_disposition`](Behaviour::content_disposition).
    pub fn content_disposition(mut self, value: impl Into<String>) -> Behaviour {
        self.content_disposition = Some(value.into());
        self
    }

    /// Sets [`etag`](Behaviour::etag).
    pub fn etag(mut self, value: impl Into<String>) -> Behaviour {
        self.etag = Some(value.into());
        self
    }

    /// Sets [`last_modified`](Behaviour::last_modified).
    pub fn last_modified(mut self, value: impl Into<String>) -> Behaviour {
        self.last_modified = Some(value.into());
        self
    }

    /// The first `times` requests (GET or HEAD) of the path are answered
    /// with `status` and a short text body; later ones are served normally.
    /// Each is a [`Fault::Status`](crate::Fault::Status).
    pub fn fail_first(mut self, status: u16, times: usize) -> Behaviour {
        self.fail_first = Some(FailFirst { status, times });
        self
    }

    /// The first `requests` requests of the path are served normally; every
    /// later one is answered with `status`. Each is a
    /// [`Fault::Status`](crate::Fault::Status).
    pub fn fail_after(mut self, requests: usize, status: u16) -> Behaviour {
        self.fail_after = Some(FailAfter { requests, status });
        self
    }

    /// Sets [`retry_after`](Behaviour::retry_after): the raw `Retry-After`
    /// value sent with forced statuses.
    pub fn retry_after(mut self, value: impl Into<String>) -> Behaviour {
        self.retry_after = Some(value.into());
        self
    }

    /// While `limit` file responses of the path are in flight, further
    /// requests are refused with `status` (e.g. `503`, `429`, `416`). Each
    /// refusal is a [`Fault::Refused`](crate::Fault::Refused), counted in
    /// [`PathStats::refusals`](crate::PathStats::refusals).
    pub fn max_concurrent(mut self, limit: usize, status: u16) -> Behaviour {
        self.max_concurrent = Some(MaxConcurrent { limit, status });
        self
    }

    /// Sets [`ignore_range_after`](Behaviour::ignore_range_after): the first
    /// `requests` requests with a `Range` are honoured, later ones get `200`
    /// and the whole body.
    pub fn ignore_range_after(mut self, requests: usize) -> Behaviour {
        self.ignore_range_after = Some(requests);
        self
    }

    /// Sets [`cap_open_range`](Behaviour::cap_open_range).
    pub fn cap_open_range(mut self, bytes: u64) -> Behaviour {
        self.cap_open_range = Some(bytes.max(1));
        self
    }

    /// Sets [`wrong_content_range`](Behaviour::wrong_content_range): the
    /// first `times` `206` answers are for a range one byte off.
    pub fn wrong_content_range(mut self, times: usize) -> Behaviour {
        self.wrong_content_range = Some(times);
        self
    }

    /// The first `times` GET responses of the path whose body is longer than
    /// `bytes` are cut after exactly `bytes` body bytes by resetting the
    /// connection: on Linux a real TCP RST (`SO_LINGER` 0, after waiting up
    /// to 2 s for the bytes already written to reach the client, so it
    /// reads all `bytes` and then `ECONNRESET`); on other platforms a
    /// shutdown, which the client sees as an early EOF. Later responses are
    /// whole. Each cut is a [`Fault::Reset`](crate::Fault::Reset).
    pub fn reset_after(mut self, bytes: u64, times: usize) -> Behaviour {
        self.reset_after = Some(Cut {
            after_bytes: bytes,
            times,
        });
        self
    }

    /// The first `times` GET responses of the path whose body is longer than
    /// `bytes` announce their full length but end after exactly `bytes` body
    /// bytes with a clean close (FIN): the client sees an early EOF. With
    /// chunked framing the terminating chunk is missing; with
    /// [`no_content_length`](Behaviour::no_content_length) the truncation is
    /// undetectable by design. Later responses are whole. Each is a
    /// [`Fault::Truncated`](crate::Fault::Truncated).
    pub fn truncate(mut self, bytes: u64, times: usize) -> Behaviour {
        self.truncate = Some(Cut {
            after_bytes: bytes,
            times,
        });
        self
    }

    /// The first `times` GET responses of the path whose body is longer than
    /// `bytes` send `bytes` body bytes, then nothing for `duration` with the
    /// connection held open, then the rest. To close instead of continuing,
    /// add [`reset_after`](Behaviour::reset_after) or
    /// [`truncate`](Behaviour::truncate) at the same byte count. Each stall
    /// is a [`Fault::Stall`](crate::Fault::Stall).
    pub fn stall_after(mut self, bytes: u64, duration: Duration, times: usize) -> Behaviour {
        self.stall_after = Some(Stall {
            after_bytes: bytes,
            duration,
            times,
        });
        self
    }

    /// After the first `skip` GET responses with a body, the next `times`
    /// are capped at `rate` bytes per second: one slow connection among fast
    /// ones. Each is a [`Fault::Slow`](crate::Fault::Slow).
    pub fn slow(mut self, skip: usize, times: usize, rate: u64) -> Behaviour {
        self.slow = Some(Slow { skip, times, rate });
        self
    }

    /// After the first `requests` requests (GET or HEAD) of the path, serve
    /// `version` instead: its body, and its `ETag` and `Last-Modified` in
    /// place of [`etag`](Behaviour::etag) and
    /// [`last_modified`](Behaviour::last_modified), which `If-Range` is then
    /// checked against. A resumed download that sends the old validator in
    /// `If-Range` gets `200` and the whole new body.
    pub fn change_after(mut self, requests: usize, version: Version) -> Behaviour {
        self.change_after = Some(ChangeAfter { requests, version });
        self
    }

    /// Answer with `status` and `Location: location` (sent as given) instead
    /// of the file. [`TestServer::redirect`](crate::TestServer::redirect)
    /// registers a path that does only this.
    pub fn redirect(mut self, status: u16, location: impl Into<String>) -> Behaviour {
        self.redirect = Some(Redirect {
            status,
            location: location.into(),
        });
        self
    }
}
