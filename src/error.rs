//! The one error type of the library.
//!
//! Every failure a link can meet ends up as an [`Error`], and its `Display` is the sentence a user reads
//! next to the link in the final summary. Each variant carries what is needed to act on it: the URL for
//! network trouble, the path for local trouble, the status for an HTTP refusal. URLs inside messages have
//! their password masked (see [`crate::redact_url`]).

use std::fmt;
use std::io;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use crate::http::url::redact_url;

/// Why a download (or a part of one) failed.
///
/// Cheap to clone (the sources are shared), so an [`Outcome`](crate::Outcome) holding one can be
/// kept, sent to another thread or collected.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum Error {
    /// The link is not something pardl can fetch (bad scheme, no host, unparsable).
    InvalidUrl {
        /// The link as given.
        url: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The server answered with a status that is not a success.
    Status {
        /// The URL that was requested.
        url: String,
        /// The HTTP status code.
        status: u16,
        /// How long the server asked us to wait (`Retry-After` on a 429 or 503), already capped.
        retry_after: Option<Duration>,
    },
    /// The request or the transfer of the body failed: DNS, connect, TLS, reset, timeout.
    Network {
        /// The URL that was requested.
        url: String,
        /// What went wrong, as a kind a program can act on.
        kind: NetworkErrorKind,
        /// The HTTP library's own error, for its message and its `source` chain.
        source: Arc<dyn std::error::Error + Send + Sync>,
    },
    /// The server's answer broke a promise pardl relies on: a `Content-Range` other than the one asked
    /// for, a body shorter than announced, a server that stopped honouring ranges.
    Protocol {
        /// The URL that was requested.
        url: String,
        /// What was wrong with the answer.
        message: String,
    },
    /// A local file operation failed: creating the directory, writing, syncing, renaming.
    Io {
        /// What pardl was doing, such as "write" or "rename".
        action: &'static str,
        /// The file or directory involved.
        path: PathBuf,
        /// The operating system's error.
        source: Arc<io::Error>,
    },
    /// A line of the links file (or a command-line argument) that is not a link pardl understands.
    MalformedLink {
        /// The offending text (shortened if very long).
        text: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The server ignored a `Range` request for a part of the file after having honoured one before:
    /// the answer was a `200` with the whole file, which must not be written at the chunk's offset.
    RangeIgnored {
        /// The URL that was requested.
        url: String,
    },
    /// The file on the server is not the one the download started with: its size or validator
    /// (`ETag`, `Last-Modified`) changed, or an `If-Range` request got the whole new file. Bytes of two
    /// versions must never be mixed, so the download starts again from scratch (once).
    FileChanged {
        /// The URL that was requested.
        url: String,
        /// What showed the change.
        reason: String,
    },
    /// The mirrors of a link (several URLs of one file) do not agree on its size: they cannot all
    /// serve the same file, so nothing is downloaded.
    MirrorsDisagree {
        /// The link (its first URL).
        url: String,
        /// Each mirror that answered, with the size it gave.
        sizes: Vec<(String, u64)>,
    },
    /// The downloaded file does not have the SHA-256 the link asked for.
    ChecksumMismatch {
        /// The URL that was downloaded.
        url: String,
        /// The digest the link gave.
        expected: String,
        /// The digest of the bytes received.
        actual: String,
    },
    /// The run was interrupted (Ctrl-C) before this link finished; its progress is saved. Used inside
    /// a download to stop it; an [`Outcome`](crate::Outcome) says
    /// [`Status::Interrupted`](crate::Status::Interrupted) instead, so a program never sees it there.
    Interrupted {
        /// The URL that was being downloaded.
        url: String,
    },
    /// The settings cannot work (an unsupported proxy, a zero where at least one is needed); nothing
    /// was downloaded. See [`Config::check`](crate::Config::check).
    Config {
        /// What is wrong, naming the setting.
        message: String,
    },
    /// A worker task panicked while downloading; this is a bug in pardl, reported instead of hanging.
    Panicked {
        /// The URL whose download panicked.
        url: String,
    },
}

impl Error {
    /// Builds an [`Error::Io`] for `action` on `path`.
    pub(crate) fn io(action: &'static str, path: impl Into<PathBuf>, source: io::Error) -> Error {
        Error::Io {
            action,
            path: path.into(),
            source: Arc::new(source),
        }
    }

    /// Builds an [`Error::Network`] from what ureq reported, sorted into its kind.
    pub(crate) fn network(url: impl Into<String>, source: ureq::Error) -> Error {
        Error::Network {
            url: url.into(),
            kind: NetworkErrorKind::of(&source),
            source: Arc::new(source),
        }
    }

    /// Whether trying the same request again could succeed: network hiccups, server overload and short
    /// bodies are transient; a 404, a TLS failure or a full disk are not.
    pub fn is_transient(&self) -> bool {
        match self {
            Error::Status { status, .. } => matches!(status, 408 | 429 | 500..=599),
            Error::Network { kind, source, .. } => kind.is_transient(source.as_ref()),
            Error::Protocol { .. } => true,
            Error::InvalidUrl { .. }
            | Error::FileChanged { .. }
            | Error::MirrorsDisagree { .. }
            | Error::ChecksumMismatch { .. }
            | Error::Interrupted { .. }
            | Error::MalformedLink { .. }
            | Error::RangeIgnored { .. }
            | Error::Io { .. }
            | Error::Config { .. }
            | Error::Panicked { .. } => false,
        }
    }

    /// A short machine-friendly name for the kind of failure (used in summaries and reports).
    pub fn kind(&self) -> &'static str {
        match self {
            Error::InvalidUrl { .. } => "invalid-url",
            Error::Status { .. } => "http-status",
            Error::Network { .. } => "network",
            Error::Protocol { .. } => "protocol",
            Error::Io { .. } => "local-io",
            Error::MalformedLink { .. } => "malformed-link",
            Error::RangeIgnored { .. } => "range-ignored",
            Error::FileChanged { .. } => "file-changed",
            Error::MirrorsDisagree { .. } => "mirrors-disagree",
            Error::ChecksumMismatch { .. } => "checksum-mismatch",
            Error::Interrupted { .. } => "interrupted",
            Error::Config { .. } => "config",
            Error::Panicked { .. } => "panic",
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::InvalidUrl { url, reason } => {
                write!(f, "{}: invalid URL: {reason}", redact_url(url))
            }
            Error::Status { url, status, .. } => {
                let reason = ureq::http::StatusCode::from_u16(*status)
                    .ok()
                    .and_then(|s| s.canonical_reason())
                    .unwrap_or("(unknown status)");
                write!(f, "{}: HTTP {status} {reason}", redact_url(url))
            }
            Error::Network { url, source, .. } => write!(f, "{}: {source}", redact_url(url)),
            Error::Protocol { url, message } => write!(f, "{}: {message}", redact_url(url)),
            Error::Io {
                action,
                path,
                source,
            } => write!(f, "cannot {action} {}: {source}", path.display()),
            Error::MalformedLink { text, reason } => write!(f, "malformed link '{text}': {reason}"),
            Error::RangeIgnored { url } => write!(
                f,
                "{}: the server stopped honouring Range requests (answered 200 to a request for part of the file)",
                redact_url(url)
            ),
            Error::FileChanged { url, reason } => {
                write!(f, "{}: the file changed on the server ({reason})", redact_url(url))
            }
            Error::MirrorsDisagree { url, sizes } => {
                write!(f, "{}: the mirrors disagree on the size of the file:", redact_url(url))?;
                for (i, (mirror, size)) in sizes.iter().enumerate() {
                    let sep = if i == 0 { "" } else { "," };
                    write!(f, "{sep} {} has {size} bytes", redact_url(mirror))?;
                }
                Ok(())
            }
            Error::ChecksumMismatch {
                url,
                expected,
                actual,
            } => write!(
                f,
                "{}: SHA-256 mismatch: expected {expected}, got {actual}",
                redact_url(url)
            ),
            Error::Interrupted { url } => write!(f, "{}: interrupted", redact_url(url)),
            Error::Config { message } => write!(f, "invalid settings: {message}"),
            Error::Panicked { url } => write!(
                f,
                "{}: a download thread panicked (a bug in pardl; run with RUST_LOG=debug and report it)",
                redact_url(url)
            ),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Network { source, .. } => Some(source.as_ref()),
            Error::Io { source, .. } => Some(source.as_ref()),
            _ => None,
        }
    }
}

/// The kinds of network failure, for a program that handles them differently (and for the retry
/// rule: which of them a second try could mend).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum NetworkErrorKind {
    /// The host name could not be resolved.
    Dns,
    /// The host refused or did not answer the connection.
    Connect,
    /// The TLS handshake failed (an unknown issuer, an expired or mismatched certificate).
    Tls,
    /// No answer, or no data for longer than the timeouts allow.
    Timeout,
    /// The connection broke while the request or the body was on its way.
    Reset,
    /// Too many redirects, or a redirect pardl cannot follow.
    Redirect,
    /// The proxy URL is not one pardl can use.
    Proxy,
    /// The request could not be made from this URL or these headers.
    Request,
    /// The answer is not HTTP pardl can read (a broken or hostile server, a proxy's hiccup).
    Protocol,
}

impl NetworkErrorKind {
    /// Sorts what ureq reported. Some failures reach ureq from the operating system or from the
    /// TLS stack as plain I/O errors, so their text is read as well.
    fn of(error: &ureq::Error) -> NetworkErrorKind {
        match error {
            ureq::Error::HostNotFound => NetworkErrorKind::Dns,
            ureq::Error::ConnectionFailed => NetworkErrorKind::Connect,
            ureq::Error::Timeout(_) | ureq::Error::BodyStalled => NetworkErrorKind::Timeout,
            ureq::Error::Tls(_)
            | ureq::Error::Pem(_)
            | ureq::Error::Rustls(_)
            | ureq::Error::TlsRequired => NetworkErrorKind::Tls,
            ureq::Error::TooManyRedirects | ureq::Error::RedirectFailed => {
                NetworkErrorKind::Redirect
            }
            ureq::Error::InvalidProxyUrl => NetworkErrorKind::Proxy,
            ureq::Error::ConnectProxyFailed(_) => NetworkErrorKind::Connect,
            ureq::Error::BadUri(_) | ureq::Error::Http(_) => NetworkErrorKind::Request,
            ureq::Error::Io(io) => NetworkErrorKind::of_io(io),
            _ => NetworkErrorKind::Protocol,
        }
    }

    fn of_io(error: &io::Error) -> NetworkErrorKind {
        let text = error.to_string();
        match error.kind() {
            io::ErrorKind::ConnectionRefused => NetworkErrorKind::Connect,
            io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock => NetworkErrorKind::Timeout,
            _ if text.contains("failed to lookup address") => NetworkErrorKind::Dns,
            _ if text.contains("invalid peer certificate") => NetworkErrorKind::Tls,
            _ => NetworkErrorKind::Reset,
        }
    }

    /// Whether a second try could succeed: a host name that does not resolve, a certificate that
    /// is not trusted, a redirect loop, a bad proxy URL or a request that cannot be made are final;
    /// the name server's own "try again" is not.
    fn is_transient(self, source: &(dyn std::error::Error + Send + Sync)) -> bool {
        match self {
            NetworkErrorKind::Dns => source.to_string().contains("Temporary failure"),
            NetworkErrorKind::Tls
            | NetworkErrorKind::Redirect
            | NetworkErrorKind::Proxy
            | NetworkErrorKind::Request => false,
            NetworkErrorKind::Connect
            | NetworkErrorKind::Timeout
            | NetworkErrorKind::Reset
            | NetworkErrorKind::Protocol => true,
        }
    }
}
