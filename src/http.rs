//! Everything pardl needs to know about HTTP, kept in one place.
//!
//! * [`build_agent`] makes the one `ureq::Agent` every thread shares, so connections are reused across
//!   chunks and files (keep-alive), with timeouts that suit long downloads.
//! * [`send`] sends one `GET`, after taking a slot of the host's connection limit, with the user's
//!   extra headers (`-H`) and credentials ([`authorization`]).
//! * [`ContentRange`] parses the `Content-Range` header, the server's statement of which bytes a `206`
//!   carries; pardl writes nothing to disk before checking it against what it asked for.
//! * [`redact_url`] masks a password in a URL before it reaches a log line, an error message, the
//!   display or the report.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use ureq::http::{Response, Uri};
use ureq::Agent;

use crate::config::Config;
use crate::context::{is_secret_header, Context};
use crate::error::Error;
use crate::hosts::HostSlot;
use crate::name::percent_decode;

/// The longest `Retry-After` pardl honours; a server asking for more gets this much.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(300);

/// Builds the agent shared by every download thread.
///
/// Why each setting:
/// * `http_status_as_error(false)`: pardl classifies statuses itself (retry a 503, fail a 404 at once).
/// * `Accept-Encoding: identity` (and ureq built without its `gzip` feature): the bytes on disk must be
///   the server's bytes, and byte ranges only make sense on the unencoded representation.
/// * Timeouts for connecting, for the response head and for each read (the stall timeout), but none
///   on the whole body: a large download may take hours, it just must not stall.
/// * An idle pool big enough for every connection pardl may open to one host, or keep-alive is wasted.
pub fn build_agent(config: &Config) -> Agent {
    let per_host = config.max_per_host.max(config.connections).max(1);
    let total = config
        .jobs
        .max(1)
        .saturating_mul(config.connections.max(1))
        .max(per_host);
    let builder = Agent::config_builder()
        .http_status_as_error(false)
        .user_agent(config.user_agent.as_str())
        .accept_encoding("identity")
        .max_redirects(config.max_redirects)
        .max_idle_connections(total.max(10))
        .max_idle_connections_per_host(per_host.max(3))
        .max_idle_age(Duration::from_secs(30))
        .timeout_connect(Some(config.connect_timeout))
        .timeout_recv_response(Some(config.read_timeout))
        .timeout_per_read(Some(config.stall_timeout));
    let builder = match &config.proxy {
        Some(proxy) => match ureq::Proxy::new(proxy) {
            Ok(proxy) => builder.proxy(Some(proxy)),
            Err(error) => {
                // The command line checks the proxy before this; a library user gets a warning.
                log::warn!("ignoring proxy {}: {error}", redact_url(proxy));
                builder.proxy(None)
            }
        },
        None if config.proxy_from_env => builder,
        None => builder.proxy(None),
    };
    // Credentials follow a redirect on the same host (a `/latest` → `/v1.2/file` link), never to
    // another one.
    let builder = builder.redirect_auth_headers(ureq::config::RedirectAuthHeaders::SameHost);
    builder.build().into()
}

/// A response on its way in, with the host slot it occupies until its body has been read.
#[derive(Debug)]
pub struct InFlight {
    /// The response; its body is unread.
    pub response: Response<ureq::Body>,
    /// The connection's place in its host's limit.
    pub slot: HostSlot,
}

/// Sends a `GET` for `url` (with `Range` and `If-Range` if given) once a connection to its host is
/// allowed. Statuses are not errors here: callers decide what each one means.
pub fn send(
    context: &Context,
    url: &str,
    range: Option<&str>,
    if_range: Option<&str>,
) -> Result<InFlight, Error> {
    let slot = context.hosts.acquire(&host_of(url).unwrap_or_default());
    // Waiting for a slot can take a while; a request started after Ctrl-C would be wasted.
    if context.is_cancelled() {
        return Err(Error::Interrupted {
            url: url.to_string(),
        });
    }
    let mut request = context.agent.get(url);
    let host = host_of(url).unwrap_or_default();
    for extra in &context.config.headers {
        if is_secret_header(&extra.name) && !context.is_trusted_host(&host) {
            log::debug!(
                "not sending -H {} to {host}, which a redirect led to",
                extra.name
            );
            continue;
        }
        request = request.header(extra.name.as_str(), extra.value.as_str());
    }
    if let Some(value) = authorization(context, url) {
        request = request.header("Authorization", value);
    }
    if let Some(range) = range {
        request = request.header("Range", range);
        if let Some(validator) = if_range {
            request = request.header("If-Range", validator);
        }
    }
    log::debug!(
        "GET {} {}",
        redact_url(url),
        range.unwrap_or("(whole file)")
    );
    let response = request.call().map_err(|source| match source {
        ureq::Error::BadUri(reason) => Error::InvalidUrl {
            url: url.to_string(),
            reason,
        },
        source => Error::Network {
            url: url.to_string(),
            source,
        },
    })?;
    log::debug!(
        "{} {} -> {}",
        redact_url(url),
        range.unwrap_or("(whole file)"),
        response.status().as_u16()
    );
    Ok(InFlight { response, slot })
}

/// A parsed `Content-Range: bytes START-END/TOTAL` header (END inclusive, as on the wire).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ContentRange {
    /// First byte carried by the response.
    pub start: u64,
    /// Last byte carried by the response (inclusive).
    pub end_inclusive: u64,
    /// The size of the whole file, if the server knows it (`*` means it does not).
    pub total: Option<u64>,
}

impl ContentRange {
    /// Parses the value of a `Content-Range` header; `None` if it is not a satisfied byte range.
    ///
    /// ```
    /// use pardl::http::ContentRange;
    ///
    /// let range = ContentRange::parse("bytes 0-99/1000").unwrap();
    /// assert_eq!((range.start, range.end_inclusive, range.total), (0, 99, Some(1000)));
    /// assert_eq!(ContentRange::parse("bytes 5-9/*").unwrap().total, None);
    /// assert!(ContentRange::parse("bytes */1000").is_none()); // the form a 416 uses
    /// assert!(ContentRange::parse("bytes 9-5/1000").is_none());
    /// ```
    pub fn parse(value: &str) -> Option<ContentRange> {
        let rest = value.trim().strip_prefix("bytes")?.trim_start();
        let (span, total) = rest.split_once('/')?;
        let (start, end) = span.trim().split_once('-')?;
        let start: u64 = start.trim().parse().ok()?;
        let end_inclusive: u64 = end.trim().parse().ok()?;
        let total = match total.trim() {
            "*" => None,
            digits => Some(digits.parse().ok()?),
        };
        let consistent = start <= end_inclusive && total.is_none_or(|t| end_inclusive < t);
        consistent.then_some(ContentRange {
            start,
            end_inclusive,
            total,
        })
    }

    /// Number of bytes the response carries.
    pub fn len(&self) -> u64 {
        self.end_inclusive - self.start + 1
    }

    /// Always false: a satisfied range carries at least one byte. (Here for clippy's `len` rule.)
    pub fn is_empty(&self) -> bool {
        false
    }
}

/// The value of a `Range` header asking for the bytes `start..end` (end exclusive, as in Rust).
///
/// ```
/// assert_eq!(pardl::http::range_header(0, 1024), "bytes=0-1023");
/// ```
pub fn range_header(start: u64, end: u64) -> String {
    debug_assert!(start < end, "empty range {start}..{end}");
    format!("bytes={start}-{}", end - 1)
}

/// What identifies one version of a file on the server, for `If-Range` and for checking that a
/// resumed download continues the same file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Validators {
    /// The `ETag` header, as sent.
    pub etag: Option<String>,
    /// The `Last-Modified` header, as sent.
    pub last_modified: Option<String>,
}

impl Validators {
    /// Reads the validators of a response.
    pub fn of<B>(response: &Response<B>) -> Validators {
        Validators {
            etag: header(response, "etag").map(str::to_string),
            last_modified: header(response, "last-modified").map(str::to_string),
        }
    }

    /// The value for `If-Range`: a strong `ETag`, else `Last-Modified` (a weak `ETag` is not allowed
    /// there), else nothing.
    ///
    /// ```
    /// use pardl::http::Validators;
    ///
    /// let v = Validators { etag: Some("W/\"x\"".into()), last_modified: Some("Tue, 01 Jan 2030 00:00:00 GMT".into()) };
    /// assert_eq!(v.if_range(), Some("Tue, 01 Jan 2030 00:00:00 GMT"));
    /// ```
    pub fn if_range(&self) -> Option<&str> {
        match &self.etag {
            Some(etag) if !etag.starts_with("W/") => Some(etag),
            _ => self.last_modified.as_deref(),
        }
    }

    /// Why `other` (seen in a later response) shows a different version, if it does. A validator the
    /// later response does not send proves nothing either way.
    pub fn changed_in(&self, other: &Validators) -> Option<String> {
        if let (Some(ours), Some(theirs)) = (&self.etag, &other.etag) {
            if ours != theirs {
                return Some(format!("ETag was {ours}, now {theirs}"));
            }
        }
        if let (Some(ours), Some(theirs)) = (&self.last_modified, &other.last_modified) {
            if ours != theirs {
                return Some(format!("Last-Modified was {ours}, now {theirs}"));
            }
        }
        None
    }
}

/// A header's value as text, if present and valid.
pub fn header<'a, B>(response: &'a Response<B>, name: &str) -> Option<&'a str> {
    response.headers().get(name).and_then(|v| v.to_str().ok())
}

/// The error for a response whose status is not what the caller wanted, with its `Retry-After`.
pub fn status_error<B>(url: &str, response: &Response<B>) -> Error {
    let status = response.status().as_u16();
    let retry_after = match status {
        429 | 503 => {
            header(response, "retry-after").and_then(|v| parse_retry_after(v, SystemTime::now()))
        }
        _ => None,
    };
    Error::Status {
        url: url.to_string(),
        status,
        retry_after,
    }
}

/// Parses a `Retry-After` value, either seconds or an HTTP date, into a wait from `now`, capped at
/// [`MAX_RETRY_AFTER`]. A date in the past means no wait.
///
/// ```
/// use std::time::{Duration, UNIX_EPOCH};
/// use pardl::http::parse_retry_after;
///
/// let now = UNIX_EPOCH + Duration::from_secs(784_111_777); // Sun, 06 Nov 1994 08:49:37 GMT
/// assert_eq!(parse_retry_after("2", now), Some(Duration::from_secs(2)));
/// assert_eq!(parse_retry_after("Sun, 06 Nov 1994 08:49:47 GMT", now), Some(Duration::from_secs(10)));
/// assert_eq!(parse_retry_after("86400", now), Some(Duration::from_secs(300)));
/// assert_eq!(parse_retry_after("soon", now), None);
/// ```
pub fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    let wait = if let Ok(seconds) = value.parse::<u64>() {
        Duration::from_secs(seconds)
    } else {
        let at = parse_http_date(value)?;
        at.duration_since(now).unwrap_or(Duration::ZERO)
    };
    Some(wait.min(MAX_RETRY_AFTER))
}

/// Parses an HTTP date in its one modern form (IMF-fixdate, `Sun, 06 Nov 1994 08:49:37 GMT`).
pub fn parse_http_date(value: &str) -> Option<SystemTime> {
    let mut parts = value.split_whitespace();
    let _weekday = parts.next()?;
    let day: u64 = parts.next()?.parse().ok()?;
    let month = match parts.next()? {
        "Jan" => 1,
        "Feb" => 2,
        "Mar" => 3,
        "Apr" => 4,
        "May" => 5,
        "Jun" => 6,
        "Jul" => 7,
        "Aug" => 8,
        "Sep" => 9,
        "Oct" => 10,
        "Nov" => 11,
        "Dec" => 12,
        _ => return None,
    };
    let year: u64 = parts.next()?.parse().ok()?;
    let mut clock = parts.next()?.split(':').map(|p| p.parse::<u64>().ok());
    let (hour, minute, second) = (clock.next()??, clock.next()??, clock.next()??);
    if parts.next()? != "GMT"
        || !(1..=31).contains(&day)
        || hour > 23
        || minute > 59
        || second > 60
        || year < 1970
    {
        return None;
    }
    let days = days_since_epoch(year, month, day);
    Some(UNIX_EPOCH + Duration::from_secs(days * 86_400 + hour * 3600 + minute * 60 + second))
}

/// Days from 1970-01-01 to the given civil date (Howard Hinnant's algorithm, for years >= 1970).
fn days_since_epoch(year: u64, month: u64, day: u64) -> u64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y / 400;
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Masks the password of a URL's credentials so it can be printed.
///
/// ```
/// use pardl::http::redact_url;
///
/// assert_eq!(redact_url("https://ann:s3cret@example.com/f"), "https://ann:***@example.com/f");
/// assert_eq!(redact_url("https://example.com/a@b"), "https://example.com/a@b");
/// ```
pub fn redact_url(url: &str) -> String {
    let Some(scheme_end) = url.find("://") else {
        return url.to_string();
    };
    let authority_start = scheme_end + 3;
    let authority_end = url[authority_start..]
        .find(['/', '?', '#'])
        .map_or(url.len(), |i| authority_start + i);
    let authority = &url[authority_start..authority_end];
    let Some(at) = authority.rfind('@') else {
        return url.to_string();
    };
    let user = authority[..at].split(':').next().unwrap_or("");
    format!(
        "{}{user}:***@{}{}",
        &url[..authority_start],
        &authority[at + 1..],
        &url[authority_end..]
    )
}

/// The `Authorization` value for a request to `url`: Basic credentials from the URL itself
/// (`https://user:pass@host/…`, percent-decoded), else the `--user`/`--password` ones when `url` is
/// on the host of a link (not a host a redirect led to), else none.
pub fn authorization(context: &Context, url: &str) -> Option<String> {
    let (user, password) = match userinfo(url) {
        Some((user, password)) => (percent_decode(user), percent_decode(password.unwrap_or(""))),
        None => {
            let credentials = context.config.credentials.as_ref()?;
            if !context.is_trusted_host(&host_of(url)?) {
                return None;
            }
            (credentials.user.clone(), credentials.password.clone())
        }
    };
    Some(basic_auth(&user, &password))
}

/// The value of a Basic `Authorization` header.
///
/// ```
/// // The example of RFC 7617.
/// assert_eq!(pardl::http::basic_auth("Aladdin", "open sesame"), "Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==");
/// ```
pub fn basic_auth(user: &str, password: &str) -> String {
    format!("Basic {}", base64(format!("{user}:{password}").as_bytes()))
}

/// Standard base64 with padding (RFC 4648), for Basic credentials; not worth a dependency.
fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for group in bytes.chunks(3) {
        let b = [
            group[0],
            *group.get(1).unwrap_or(&0),
            *group.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= group.len() {
                out.push(char::from(ALPHABET[(n >> (18 - 6 * i)) as usize & 63]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// The `user[:password]` part of a URL, if it has one.
fn userinfo(url: &str) -> Option<(&str, Option<&str>)> {
    let authority_start = url.find("://")? + 3;
    let authority_end = url[authority_start..]
        .find(['/', '?', '#'])
        .map_or(url.len(), |i| authority_start + i);
    let (info, _) = url[authority_start..authority_end].rsplit_once('@')?;
    Some(match info.split_once(':') {
        Some((user, password)) => (user, Some(password)),
        None => (info, None),
    })
}

/// `final_url` (where `url` led after redirects) with `url`'s credentials put back, when a redirect
/// stayed on the same scheme and host and the redirect target dropped them: the chunks are then
/// fetched from the final URL with the credentials the link gave.
///
/// ```
/// use pardl::http::keep_credentials;
///
/// assert_eq!(keep_credentials("http://u:p@h/latest", "http://h/v2/f"), "http://u:p@h/v2/f");
/// assert_eq!(keep_credentials("http://u:p@h/f", "http://other/f"), "http://other/f");
/// assert_eq!(keep_credentials("http://h/f", "http://h/g"), "http://h/g");
/// ```
pub fn keep_credentials(url: &str, final_url: &str) -> String {
    let (Some((user, password)), None) = (userinfo(url), userinfo(final_url)) else {
        return final_url.to_string();
    };
    let same_place = host_of(url) == host_of(final_url)
        && url.split("://").next() == final_url.split("://").next();
    match final_url.find("://") {
        Some(at) if same_place => {
            let credentials = match password {
                Some(password) => format!("{user}:{password}"),
                None => user.to_string(),
            };
            format!(
                "{}{credentials}@{}",
                &final_url[..at + 3],
                &final_url[at + 3..]
            )
        }
        _ => final_url.to_string(),
    }
}

/// The host (and port, if any) a URL points at, for logs and per-host bookkeeping.
pub fn host_of(url: &str) -> Option<String> {
    let uri: Uri = url.parse().ok()?;
    uri.authority().map(|a| {
        let authority = a.as_str();
        authority
            .rsplit_once('@')
            .map_or(authority, |(_, host)| host)
            .to_string()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_range_accepts_spaces_and_rejects_nonsense() {
        assert_eq!(
            ContentRange::parse("bytes  10-19/20"),
            Some(ContentRange {
                start: 10,
                end_inclusive: 19,
                total: Some(20)
            })
        );
        assert_eq!(
            ContentRange::parse("bytes 10-20/20"),
            None,
            "end past total"
        );
        assert_eq!(ContentRange::parse("items 0-1/2"), None);
        assert_eq!(ContentRange::parse("bytes 0-x/2"), None);
        assert_eq!(ContentRange::parse(""), None);
        assert_eq!(ContentRange::parse("bytes 0-0/1").map(|r| r.len()), Some(1));
    }

    #[test]
    fn http_dates_parse_to_the_right_second() {
        let date = parse_http_date("Thu, 01 Jan 1970 00:00:00 GMT").unwrap();
        assert_eq!(date, UNIX_EPOCH);
        let date = parse_http_date("Tue, 29 Feb 2028 12:00:01 GMT").unwrap();
        assert_eq!(
            date.duration_since(UNIX_EPOCH).unwrap().as_secs(),
            1_835_438_401
        );
        assert_eq!(parse_http_date("Tue, 29 Feb 2028 12:00:01 UTC"), None);
        assert_eq!(parse_http_date("yesterday"), None);
    }

    #[test]
    fn retry_after_in_the_past_means_now() {
        let now = UNIX_EPOCH + Duration::from_secs(1_000_000_000);
        assert_eq!(
            parse_retry_after("Thu, 01 Jan 1970 00:00:00 GMT", now),
            Some(Duration::ZERO)
        );
    }

    #[test]
    fn validators_spot_a_changed_etag_but_not_a_missing_one() {
        let ours = Validators {
            etag: Some("\"1\"".into()),
            last_modified: None,
        };
        let theirs = Validators {
            etag: Some("\"2\"".into()),
            last_modified: None,
        };
        assert!(ours.changed_in(&theirs).unwrap().contains("ETag"));
        assert_eq!(ours.changed_in(&Validators::default()), None);
        assert_eq!(ours.if_range(), Some("\"1\""));
    }

    #[test]
    fn redact_handles_user_without_password_and_ports() {
        assert_eq!(redact_url("http://u@h:8080/x"), "http://u:***@h:8080/x");
        assert_eq!(redact_url("not a url"), "not a url");
        assert_eq!(host_of("http://u:p@h:8080/x").as_deref(), Some("h:8080"));
    }
}
