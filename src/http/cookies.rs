//! A cookies file in the Netscape format (`--load-cookies FILE`), as wget, curl (`-b`) and aria2
//! take it, and as browser extensions and `curl -c`/`wget --save-cookies` write it.
//!
//! ```text
//! # Netscape HTTP Cookie File
//! .example.com  TRUE  /  TRUE  1893456000  session  abc123
//! #HttpOnly_files.example.com  FALSE  /private  FALSE  0  token  xyz
//! ```
//!
//! One cookie per line, seven fields separated by tabs (shown as spaces above): the domain, whether subdomains match too
//! (`TRUE`/`FALSE`), the path, whether it is sent over `https` only, when it expires (seconds since
//! 1970; 0 for a cookie that lives as long as the browser session), its name and its value. A line
//! starting with `#HttpOnly_` is a cookie (curl marks HTTP-only cookies so); other `#` lines are
//! comments, and a line that does not have seven fields is skipped, as curl skips it.
//!
//! A request gets the cookies whose domain and path match its URL (the rules of RFC 6265: the host
//! is the domain, or with the subdomain flag ends in `.domain`; the path is the cookie's path or
//! below it), that have not expired, and that are not `https`-only when the URL is `http`; longer
//! paths first. Everything here is a pure function of the file's text and the URL's parts, so it
//! is tested line by line below; `src/file/request.rs` adds the header.

use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

/// The cookies of a Netscape cookies file.
///
/// ```
/// use std::time::SystemTime;
/// use pardl::CookieJar;
///
/// let jar = CookieJar::parse(".example.com\tTRUE\t/\tFALSE\t0\tsession\tabc\n");
/// let now = SystemTime::now();
/// assert_eq!(jar.header_for(false, "files.example.com", "/a.iso", now).as_deref(), Some("session=abc"));
/// assert_eq!(jar.header_for(false, "example.org", "/a.iso", now), None);
/// assert!(!format!("{jar:?}").contains("abc"));
/// ```
#[derive(Clone, Default, PartialEq, Eq)]
pub struct CookieJar {
    cookies: Vec<Cookie>,
}

/// One line of the file.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Cookie {
    /// Lowercase, without a leading dot.
    domain: String,
    include_subdomains: bool,
    path: String,
    secure: bool,
    /// Seconds since 1970; 0 for a session cookie, which never expires here.
    expires: u64,
    name: String,
    value: String,
}

impl CookieJar {
    /// The cookies of a file's text; lines that are not cookies are skipped.
    pub fn parse(text: &str) -> CookieJar {
        CookieJar {
            cookies: text.lines().filter_map(parse_line).collect(),
        }
    }

    /// Reads the cookies file at `path`.
    pub fn read(path: &Path) -> Result<CookieJar, String> {
        let bytes =
            std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        Ok(CookieJar::parse(&String::from_utf8_lossy(&bytes)))
    }

    /// The value of the `Cookie` header for a request to `host` (without port) and `path` (without
    /// query) over `https` (`secure`) or not, at `now`; `None` when no cookie matches.
    pub fn header_for(
        &self,
        secure: bool,
        host: &str,
        path: &str,
        now: SystemTime,
    ) -> Option<String> {
        let now = now.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
        let host = host.trim_end_matches('.').to_ascii_lowercase();
        let path = if path.is_empty() { "/" } else { path };
        let mut matching: Vec<&Cookie> = self
            .cookies
            .iter()
            .filter(|cookie| {
                (secure || !cookie.secure)
                    && (cookie.expires == 0 || cookie.expires > now)
                    && domain_matches(&host, &cookie.domain, cookie.include_subdomains)
                    && path_matches(path, &cookie.path)
            })
            .collect();
        if matching.is_empty() {
            return None;
        }
        // RFC 6265 5.4: longer paths first; a stable sort keeps the file's order otherwise.
        matching.sort_by_key(|cookie| std::cmp::Reverse(cookie.path.len()));
        let pairs: Vec<String> = matching
            .iter()
            .map(|cookie| format!("{}={}", cookie.name, cookie.value))
            .collect();
        Some(pairs.join("; "))
    }

    /// The number of cookies.
    pub fn len(&self) -> usize {
        self.cookies.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.cookies.is_empty()
    }
}

impl std::fmt::Debug for CookieJar {
    /// Domains, paths and names; never the values, which are often session secrets.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(
                self.cookies
                    .iter()
                    .map(|c| format!("{}{} {}=***", c.domain, c.path, c.name)),
            )
            .finish()
    }
}

/// One line as a cookie, or `None` for a comment, a blank line or a malformed line.
fn parse_line(line: &str) -> Option<Cookie> {
    let line = line.strip_suffix('\r').unwrap_or(line);
    let line = line.strip_prefix("#HttpOnly_").unwrap_or(line);
    if line.starts_with('#') || line.trim().is_empty() {
        return None;
    }
    let fields: Vec<&str> = line.split('\t').collect();
    let [domain, subdomains, path, secure, expires, name, value] = fields[..] else {
        return None;
    };
    let flag = |text: &str| match text {
        "TRUE" => Some(true),
        "FALSE" => Some(false),
        _ => None,
    };
    let domain = domain.trim_start_matches('.').to_ascii_lowercase();
    if domain.is_empty() || name.is_empty() {
        return None;
    }
    Some(Cookie {
        domain,
        include_subdomains: flag(subdomains)?,
        path: if path.is_empty() { "/" } else { path }.to_string(),
        secure: flag(secure)?,
        expires: expires.parse().ok()?,
        name: name.to_string(),
        value: value.to_string(),
    })
}

/// Whether a cookie for `domain` goes to `host` (both lowercase).
fn domain_matches(host: &str, domain: &str, include_subdomains: bool) -> bool {
    host == domain
        || (include_subdomains
            && host
                .strip_suffix(domain)
                .is_some_and(|prefix| prefix.ends_with('.')))
}

/// RFC 6265 5.1.4: the request path is the cookie's, or below it at a `/`.
fn path_matches(request: &str, cookie: &str) -> bool {
    match request.strip_prefix(cookie) {
        Some("") => true,
        Some(rest) => cookie.ends_with('/') || rest.starts_with('/'),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn at(seconds: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(seconds)
    }

    const FILE: &str = "# Netscape HTTP Cookie File\n\
        .example.com\tTRUE\t/\tFALSE\t0\tall\t1\n\
        files.example.com\tFALSE\t/private\tFALSE\t0\tprivate\t2\n\
        #HttpOnly_example.com\tFALSE\t/\tTRUE\t2000\tsecure\t3\n\
        example.com\tFALSE\t/\tFALSE\t1000\told\t4\n\
        malformed line\n\
        other.org\tTRUE\t/\tFALSE\t0\n";

    #[test]
    fn the_file_gives_its_cookies_and_skips_the_rest() {
        let jar = CookieJar::parse(FILE);
        assert_eq!(jar.len(), 4);
    }

    #[test]
    fn cookies_go_only_where_domain_path_scheme_and_time_allow() {
        let jar = CookieJar::parse(FILE);
        let header =
            |secure, host: &str, path: &str, now| jar.header_for(secure, host, path, at(now));
        assert_eq!(
            header(false, "example.com", "/", 500).as_deref(),
            Some("all=1; old=4")
        );
        assert_eq!(
            header(false, "example.com", "/", 1500).as_deref(),
            Some("all=1")
        );
        assert_eq!(
            header(true, "example.com", "/x", 1500).as_deref(),
            Some("all=1; secure=3")
        );
        assert_eq!(
            header(true, "EXAMPLE.com.", "/x", 2500).as_deref(),
            Some("all=1")
        );
        assert_eq!(
            header(false, "files.example.com", "/private/a.iso", 1500).as_deref(),
            Some("private=2; all=1")
        );
        assert_eq!(
            header(false, "files.example.com", "/privateer", 1500).as_deref(),
            Some("all=1")
        );
        assert_eq!(
            header(false, "a.files.example.com", "/private/x", 1500).as_deref(),
            Some("all=1")
        );
        for host in [
            "example.org",
            "badexample.com",
            "example.com.evil.net",
            "other.org",
        ] {
            assert_eq!(header(true, host, "/", 0), None, "{host}");
        }
    }

    #[test]
    fn paths_match_as_rfc_6265_says() {
        for (request, cookie, matches) in [
            ("/", "/", true),
            ("/a", "/", true),
            ("/docs", "/docs", true),
            ("/docs/x", "/docs", true),
            ("/docs/x", "/docs/", true),
            ("/docsx", "/docs", false),
            ("/doc", "/docs", false),
            ("/", "/docs", false),
        ] {
            assert_eq!(path_matches(request, cookie), matches, "{request} {cookie}");
        }
    }
}
