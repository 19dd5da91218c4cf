//! The small slice of HTTP/1.1 the server needs: request parsing, `Range`
//! parsing and reason phrases. Deliberately strict where strictness costs
//! nothing and lenient where real clients vary (header name case, spaces).

use std::io::{self, BufRead, Read};

/// Longest request line or header line accepted; a test client never comes
/// near it, and the cap keeps a runaway client from growing a String forever.
const MAX_LINE: u64 = 16 * 1024;
/// Most header lines accepted in one request.
const MAX_HEADERS: usize = 200;
/// Largest request body we are willing to read and discard.
const MAX_DISCARD: u64 = 1 << 20;

#[derive(Debug)]
pub(crate) struct Request {
    pub method: String,
    /// Request target as sent, e.g. `/file?x=1`.
    pub target: String,
    /// Target with the query string removed: what routes and stats use.
    pub path: String,
    /// True for HTTP/1.0, whose default is to close after one response.
    pub http10: bool,
    pub headers: Vec<(String, String)>,
}

impl Request {
    /// The first header called `name`, case-insensitive.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    fn connection_has(&self, token: &str) -> bool {
        self.headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case("connection"))
            .flat_map(|(_, v)| v.split(','))
            .any(|t| t.trim().eq_ignore_ascii_case(token))
    }

    /// Whether the client lets the connection stay open after this request.
    pub fn keep_alive(&self) -> bool {
        if self.http10 {
            self.connection_has("keep-alive")
        } else {
            !self.connection_has("close")
        }
    }
}

#[derive(Debug)]
pub(crate) enum ReadError {
    /// Socket error or timeout: close without answering.
    Io(io::Error),
    /// Not HTTP we understand: answer 400 and close.
    Malformed(&'static str),
}

impl From<io::Error> for ReadError {
    fn from(e: io::Error) -> ReadError {
        ReadError::Io(e)
    }
}

/// Reads one line (with its terminator) into `line`; `Ok(false)` at EOF.
fn read_line(reader: &mut impl BufRead, line: &mut String) -> Result<bool, ReadError> {
    line.clear();
    let n = reader.by_ref().take(MAX_LINE).read_line(line)?;
    if n == 0 {
        return Ok(false);
    }
    if !line.ends_with('\n') {
        // Either the cap was hit or the peer closed mid-line.
        return Err(ReadError::Malformed("line too long or truncated"));
    }
    let trimmed = line.trim_end_matches(['\r', '\n']).len();
    line.truncate(trimmed);
    Ok(true)
}

/// Reads the next request head from a keep-alive connection.
/// `Ok(None)` means the client closed the connection between requests.
pub(crate) fn read_request(reader: &mut impl BufRead) -> Result<Option<Request>, ReadError> {
    let mut line = String::new();
    // RFC 9112 §2.2: a server should ignore empty lines before a request line.
    loop {
        if !read_line(reader, &mut line)? {
            return Ok(None);
        }
        if !line.is_empty() {
            break;
        }
    }

    let mut parts = line.split_ascii_whitespace();
    let (Some(method), Some(target), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(ReadError::Malformed("bad request line"));
    };
    let http10 = match version {
        "HTTP/1.1" => false,
        "HTTP/1.0" => true,
        _ => return Err(ReadError::Malformed("unsupported HTTP version")),
    };
    let method = method.to_owned();
    let target = target.to_owned();
    let path = target.split(['?', '#']).next().unwrap_or("").to_owned();

    let mut headers = Vec::new();
    loop {
        if !read_line(reader, &mut line)? {
            return Err(ReadError::Malformed("connection closed inside the header"));
        }
        if line.is_empty() {
            break;
        }
        if headers.len() == MAX_HEADERS {
            return Err(ReadError::Malformed("too many headers"));
        }
        let Some((name, value)) = line.split_once(':') else {
            return Err(ReadError::Malformed("header line without a colon"));
        };
        if name.is_empty() || name.ends_with([' ', '\t']) {
            return Err(ReadError::Malformed("bad header name"));
        }
        headers.push((name.to_owned(), value.trim().to_owned()));
    }

    let request = Request {
        method,
        target,
        path,
        http10,
        headers,
    };

    // GET and HEAD normally carry no body, but if one is declared it must be
    // consumed or it would be parsed as the next request.
    if request.header("transfer-encoding").is_some() {
        return Err(ReadError::Malformed(
            "request bodies with Transfer-Encoding",
        ));
    }
    if let Some(len) = request.header("content-length") {
        let len: u64 = len
            .parse()
            .map_err(|_| ReadError::Malformed("bad Content-Length"))?;
        if len > MAX_DISCARD {
            return Err(ReadError::Malformed("request body too large"));
        }
        let copied = io::copy(&mut reader.by_ref().take(len), &mut io::sink())?;
        if copied != len {
            return Err(ReadError::Malformed("request body truncated"));
        }
    }
    Ok(Some(request))
}

/// What a `Range` header asks of a body of a given length.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum RangeRequest {
    /// Absent, unparseable or multi-range: RFC 9110 §14.2 lets the server
    /// ignore it and send the whole body with `200`.
    Full,
    /// Bytes `start..=end`, already clamped to the body.
    Partial { start: u64, end: u64 },
    /// Syntactically fine but no byte of it exists: `416`.
    Unsatisfiable,
}

/// A non-empty run of ASCII digits (`u64::from_str` would also take `+5`).
fn digits(s: &str) -> Option<u64> {
    if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) {
        s.parse().ok()
    } else {
        None
    }
}

/// Interprets a single-range `Range` header value against a body of `total`
/// bytes: `bytes=A-B`, `bytes=A-` or `bytes=-N`.
pub(crate) fn parse_range(value: &str, total: u64) -> RangeRequest {
    let value = value.trim();
    let Some((unit, spec)) = value.split_once('=') else {
        return RangeRequest::Full;
    };
    if !unit.trim().eq_ignore_ascii_case("bytes") {
        return RangeRequest::Full;
    }
    if spec.contains(',') {
        // Multi-range would need multipart/byteranges; whole body is allowed.
        return RangeRequest::Full;
    }
    let Some((first, last)) = spec.split_once('-') else {
        return RangeRequest::Full;
    };
    let (first, last) = (first.trim(), last.trim());

    if first.is_empty() {
        // Suffix range: the last N bytes.
        let Some(n) = digits(last) else {
            return RangeRequest::Full;
        };
        if n == 0 || total == 0 {
            return RangeRequest::Unsatisfiable;
        }
        return RangeRequest::Partial {
            start: total - n.min(total),
            end: total - 1,
        };
    }

    let Some(start) = digits(first) else {
        return RangeRequest::Full;
    };
    let end = if last.is_empty() {
        None
    } else {
        match digits(last) {
            Some(end) if end >= start => Some(end),
            // `bytes=5-2` or garbage: invalid, so ignored.
            _ => return RangeRequest::Full,
        }
    };
    if start >= total {
        return RangeRequest::Unsatisfiable;
    }
    RangeRequest::Partial {
        start,
        end: end.map_or(total - 1, |e| e.min(total - 1)),
    }
}

/// Whether an `If-Range` value lets the `Range` be honoured, given the
/// current version's validators (RFC 9110 §13.1.5). An entity tag matches
/// only by strong comparison: neither side weak, same opaque tag. Anything
/// else is an HTTP date, which must equal `Last-Modified` exactly (the RFC
/// asks for an exact match, so no date parsing). No validator to compare
/// with means no match: the client gets the whole file, which is always
/// safe.
pub(crate) fn if_range_matches(
    value: &str,
    etag: Option<&str>,
    last_modified: Option<&str>,
) -> bool {
    let value = value.trim();
    if value.starts_with("W/") {
        false
    } else if value.starts_with('"') {
        etag.is_some_and(|etag| !etag.starts_with("W/") && etag == value)
    } else {
        last_modified == Some(value)
    }
}

/// Reason phrase for the status line; clients ignore it, humans reading a
/// packet capture do not.
pub(crate) fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        204 => "No Content",
        206 => "Partial Content",
        301 => "Moved Permanently",
        302 => "Found",
        303 => "See Other",
        304 => "Not Modified",
        307 => "Temporary Redirect",
        308 => "Permanent Redirect",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        410 => "Gone",
        412 => "Precondition Failed",
        416 => "Range Not Satisfiable",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => "Unknown",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;
    use RangeRequest::*;

    #[test]
    fn ranges() {
        assert_eq!(parse_range("bytes=0-9", 100), Partial { start: 0, end: 9 });
        assert_eq!(
            parse_range("bytes=10-", 100),
            Partial { start: 10, end: 99 }
        );
        assert_eq!(
            parse_range("bytes=-10", 100),
            Partial { start: 90, end: 99 }
        );
        assert_eq!(
            parse_range("bytes=-1000", 100),
            Partial { start: 0, end: 99 }
        );
        assert_eq!(
            parse_range("bytes=90-1000", 100),
            Partial { start: 90, end: 99 }
        );
        assert_eq!(
            parse_range("BYTES = 1 - 2", 100),
            Partial { start: 1, end: 2 }
        );
        assert_eq!(
            parse_range("bytes=99-99", 100),
            Partial { start: 99, end: 99 }
        );
        assert_eq!(parse_range("bytes=100-", 100), Unsatisfiable);
        assert_eq!(parse_range("bytes=100-200", 100), Unsatisfiable);
        assert_eq!(parse_range("bytes=-0", 100), Unsatisfiable);
        assert_eq!(parse_range("bytes=0-", 0), Unsatisfiable);
        assert_eq!(parse_range("bytes=-5", 0), Unsatisfiable);
        assert_eq!(parse_range("bytes=5-2", 100), Full);
        assert_eq!(parse_range("bytes=0-1,5-6", 100), Full);
        assert_eq!(parse_range("items=0-1", 100), Full);
        assert_eq!(parse_range("bytes=+1-2", 100), Full);
        assert_eq!(parse_range("bytes=a-b", 100), Full);
        assert_eq!(parse_range("bytes=1", 100), Full);
        assert_eq!(parse_range("bytes=99999999999999999999-", 100), Full);
    }

    #[test]
    fn if_range_comparison() {
        let date = "Wed, 21 Oct 2015 07:28:00 GMT";
        let (strong, weak) = (Some("\"v1\""), Some("W/\"v1\""));
        assert!(if_range_matches("\"v1\"", strong, None));
        assert!(if_range_matches(" \"v1\" ", strong, Some(date)));
        assert!(!if_range_matches("\"v2\"", strong, None));
        assert!(!if_range_matches("W/\"v1\"", strong, None));
        assert!(!if_range_matches("\"v1\"", weak, None));
        assert!(!if_range_matches("\"v1\"", None, Some(date)));
        assert!(if_range_matches(date, strong, Some(date)));
        assert!(!if_range_matches(
            "Thu, 22 Oct 2015 07:28:00 GMT",
            None,
            Some(date)
        ));
        assert!(!if_range_matches(date, strong, None));
    }

    #[test]
    fn parses_request_and_discards_body() {
        let raw = "\r\nGET /a/b?x=1 HTTP/1.1\r\nHost: x\r\nrange:  bytes=0-1 \r\n\
                   Content-Length: 3\r\n\r\nabcHEAD / HTTP/1.0\r\n\r\n";
        let mut r = Cursor::new(raw.as_bytes());
        let req = read_request(&mut r).unwrap().unwrap();
        assert_eq!(req.method, "GET");
        assert_eq!(req.target, "/a/b?x=1");
        assert_eq!(req.path, "/a/b");
        assert_eq!(req.header("Range"), Some("bytes=0-1"));
        assert!(req.keep_alive());
        let req = read_request(&mut r).unwrap().unwrap();
        assert_eq!(req.method, "HEAD");
        assert!(req.http10 && !req.keep_alive());
        assert!(read_request(&mut r).unwrap().is_none());
    }

    #[test]
    fn rejects_garbage() {
        for raw in [
            "GET /\r\n\r\n",
            "GET / HTTP/2\r\n\r\n",
            "GET / HTTP/1.1\r\nno colon\r\n\r\n",
            "GET / HTTP/1.1\r\nHost: x\r\n",
        ] {
            let mut r = Cursor::new(raw.as_bytes());
            assert!(
                matches!(read_request(&mut r), Err(ReadError::Malformed(_))),
                "{raw:?}"
            );
        }
    }

    #[test]
    fn connection_header_tokens() {
        let raw = "GET / HTTP/1.1\r\nConnection: TE, Close\r\n\r\n";
        let req = read_request(&mut Cursor::new(raw.as_bytes()))
            .unwrap()
            .unwrap();
        assert!(!req.keep_alive());
        let raw = "GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n";
        let req = read_request(&mut Cursor::new(raw.as_bytes()))
            .unwrap()
            .unwrap();
        assert!(req.keep_alive());
    }
}
