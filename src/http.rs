//! Everything pardl needs to know about HTTP, kept in one place.
//!
//! * [`build_agent`] makes the one `ureq::Agent` every thread shares, so connections are reused across
//!   chunks and files (keep-alive), with timeouts that suit long downloads.
//! * [`ContentRange`] parses the `Content-Range` header, the server's statement of which bytes a `206`
//!   carries; pardl writes nothing to disk before checking it against what it asked for.
//! * [`redact_url`] masks a password in a URL before it reaches a log line or an error message.

use std::time::Duration;

use ureq::http::Uri;
use ureq::Agent;

use crate::config::Config;

/// Builds the agent shared by every download thread.
///
/// Why each setting:
/// * `http_status_as_error(false)`: pardl classifies statuses itself (retry a 503, fail a 404 at once).
/// * `Accept-Encoding: identity` (and ureq built without its `gzip` feature): the bytes on disk must be
///   the server's bytes, and byte ranges only make sense on the unencoded representation.
/// * Timeouts for connecting, for the response head and for each read, but none on the whole body: a
///   large download may take hours, it just must not stall.
/// * An idle pool big enough for every connection pardl may open to one host, or keep-alive is wasted.
pub fn build_agent(config: &Config) -> Agent {
    let connections = config.jobs.max(1).saturating_mul(config.connections.max(1));
    let builder = Agent::config_builder()
        .http_status_as_error(false)
        .user_agent(config.user_agent.as_str())
        .accept_encoding("identity")
        .max_redirects(config.max_redirects)
        .max_idle_connections(connections.max(10))
        .max_idle_connections_per_host(connections.max(3))
        .max_idle_age(Duration::from_secs(30))
        .timeout_connect(Some(config.connect_timeout))
        .timeout_recv_response(Some(config.read_timeout))
        .timeout_per_read(Some(config.read_timeout));
    let builder = if config.proxy_from_env {
        builder
    } else {
        builder.proxy(None)
    };
    builder.build().into()
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
    fn redact_handles_user_without_password_and_ports() {
        assert_eq!(redact_url("http://u@h:8080/x"), "http://u:***@h:8080/x");
        assert_eq!(redact_url("not a url"), "not a url");
        assert_eq!(host_of("http://u:p@h:8080/x").as_deref(), Some("h:8080"));
    }
}
