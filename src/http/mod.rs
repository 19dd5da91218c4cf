//! HTTP rules that hold whatever run is going on: no state of a run lives here, so every room above
//! may use it and it uses none of them.
//!
//! * [`ContentRange`] parses the `Content-Range` header, the server's statement of which bytes a `206`
//!   carries; pardl writes nothing to disk before checking it against what it asked for.
//! * [`url`] holds every rule about the text of a URL: credentials, host, path, percent-decoding,
//!   and masking a password before a URL reaches a log line, an error message, the display or the
//!   report.
//! * [`Validators`] (`ETag`, `Last-Modified`), `Retry-After` and HTTP dates, the secret headers.
//! * [`netrc`] and [`cookies`]: the user's files of credentials per machine (`~/.netrc`) and of
//!   cookies (`--load-cookies`), read and matched to a URL by pure functions.
//! * [`punycode`]: a host with non-ASCII letters written in ASCII, for [`url::ascii_url`].
//! * [`hosts`]: how many connections each host gets, lowered when it refuses and raised again.
//! * [`ratelimit`]: `--limit-rate`, one lock-free token bucket shared by every connection.
//! * [`tls`]: whom HTTPS trusts (the system's store, `--ca-certificate`, `--insecure`) and the
//!   client certificate of mutual TLS, read from the user's files and checked before any request.
//!
//! The shared agent is built with the run's settings in `src/run/context.rs`, and one request is sent
//! by `src/file/request.rs`.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use ureq::http::Response;

use crate::error::Error;

pub(crate) mod cookies;
pub(crate) mod hosts;
pub(crate) mod netrc;
pub(crate) mod punycode;
pub(crate) mod ratelimit;
pub(crate) mod tls;
pub(crate) mod url;

/// The longest `Retry-After` pardl honours; a server asking for more gets this much.
pub(crate) const MAX_RETRY_AFTER: Duration = Duration::from_secs(300);

/// A parsed `Content-Range: bytes START-END/TOTAL` header (END inclusive, as on the wire).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ContentRange {
    /// First byte carried by the response.
    pub start: u64,
    /// Last byte carried by the response (inclusive).
    pub end_inclusive: u64,
    /// The size of the whole file, if the server knows it (`*` means it does not).
    pub total: Option<u64>,
}

impl ContentRange {
    /// Parses the value of a `Content-Range` header; `None` if it is not a satisfied byte range.
    pub(crate) fn parse(value: &str) -> Option<ContentRange> {
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
    #[cfg(test)]
    fn len(&self) -> u64 {
        self.end_inclusive - self.start + 1
    }
}

/// The value of a `Range` header asking for the bytes `start..end` (end exclusive, as in Rust).
pub(crate) fn range_header(start: u64, end: u64) -> String {
    debug_assert!(start < end, "empty range {start}..{end}");
    format!("bytes={start}-{}", end - 1)
}

/// What identifies one version of a file on the server, for `If-Range` and for checking that a
/// resumed download continues the same file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Validators {
    /// The `ETag` header, as sent.
    pub etag: Option<String>,
    /// The `Last-Modified` header, as sent.
    pub last_modified: Option<String>,
}

impl Validators {
    /// Reads the validators of a response.
    pub(crate) fn of<B>(response: &Response<B>) -> Validators {
        Validators {
            etag: header(response, "etag").map(str::to_string),
            last_modified: header(response, "last-modified").map(str::to_string),
        }
    }

    /// The value for `If-Range`: a strong `ETag`, else `Last-Modified` (a weak `ETag` is not allowed
    /// there), else nothing.
    pub(crate) fn if_range(&self) -> Option<&str> {
        match &self.etag {
            Some(etag) if !etag.starts_with("W/") => Some(etag),
            _ => self.last_modified.as_deref(),
        }
    }

    /// Why `other` (seen in a later response) shows a different version, if it does. A validator the
    /// later response does not send proves nothing either way.
    pub(crate) fn changed_in(&self, other: &Validators) -> Option<String> {
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
pub(crate) fn header<'a, B>(response: &'a Response<B>, name: &str) -> Option<&'a str> {
    response.headers().get(name).and_then(|v| v.to_str().ok())
}

/// The error for a response whose status is not what the caller wanted, with its `Retry-After`.
pub(crate) fn status_error<B>(url: &str, response: &Response<B>) -> Error {
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
pub(crate) fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
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
pub(crate) fn parse_http_date(value: &str) -> Option<SystemTime> {
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

/// The value of a Basic `Authorization` header.
pub(crate) fn basic_auth(user: &str, password: &str) -> String {
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

/// Headers whose values are secrets: hidden from `Debug` output, and sent only to the origins
/// (scheme, host and port) of the links themselves, never to one a redirect led to (as curl does
/// since 7.58); `Proxy-Authorization` is never sent at all (see `src/file/request.rs`).
const SECRET_HEADERS: [&str; 3] = ["authorization", "proxy-authorization", "cookie"];

/// Whether a header of this name carries a secret (credentials or cookies).
pub(crate) fn is_secret_header(name: &str) -> bool {
    SECRET_HEADERS
        .iter()
        .any(|secret| name.eq_ignore_ascii_case(secret))
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
}

#[cfg(test)]
mod examples {
    //! The examples these items once showed in their docs, kept as tests.

    #[test]
    fn parse_example() {
        use crate::http::ContentRange;

        let range = ContentRange::parse("bytes 0-99/1000").unwrap();
        assert_eq!(
            (range.start, range.end_inclusive, range.total),
            (0, 99, Some(1000))
        );
        assert_eq!(ContentRange::parse("bytes 5-9/*").unwrap().total, None);
        assert!(ContentRange::parse("bytes */1000").is_none()); // the form a 416 uses
        assert!(ContentRange::parse("bytes 9-5/1000").is_none());
    }

    #[test]
    fn range_header_example() {
        assert_eq!(crate::http::range_header(0, 1024), "bytes=0-1023");
    }

    #[test]
    fn if_range_example() {
        use crate::http::Validators;

        let v = Validators {
            etag: Some("W/\"x\"".into()),
            last_modified: Some("Tue, 01 Jan 2030 00:00:00 GMT".into()),
        };
        assert_eq!(v.if_range(), Some("Tue, 01 Jan 2030 00:00:00 GMT"));
    }

    #[test]
    fn parse_retry_after_example() {
        use crate::http::parse_retry_after;
        use std::time::{Duration, UNIX_EPOCH};

        let now = UNIX_EPOCH + Duration::from_secs(784_111_777); // Sun, 06 Nov 1994 08:49:37 GMT
        assert_eq!(parse_retry_after("2", now), Some(Duration::from_secs(2)));
        assert_eq!(
            parse_retry_after("Sun, 06 Nov 1994 08:49:47 GMT", now),
            Some(Duration::from_secs(10))
        );
        assert_eq!(
            parse_retry_after("86400", now),
            Some(Duration::from_secs(300))
        );
        assert_eq!(parse_retry_after("soon", now), None);
    }

    #[test]
    fn basic_auth_example() {
        // The example of RFC 7617.
        assert_eq!(
            crate::http::basic_auth("Aladdin", "open sesame"),
            "Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ=="
        );
    }
}
