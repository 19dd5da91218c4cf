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

use crate::disk::checksum::ChecksumAlgorithm;
use crate::http::url::{host_of, redact_url};

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
    /// Another process (another pardl, or another run in this one) is downloading this file into
    /// the same directory: it holds the lock on the `.part` file. The link is left to it, and the
    /// file is not touched.
    Locked {
        /// The `.part` file that is locked.
        path: PathBuf,
    },
    /// The mirrors of a link (several URLs of one file) do not agree on its size: they cannot all
    /// serve the same file, so nothing is downloaded.
    MirrorsDisagree {
        /// The link (its first URL).
        url: String,
        /// Each mirror that answered, with the size it gave.
        sizes: Vec<(String, u64)>,
    },
    /// The downloaded file does not have the checksum the link (or a `--checksum-file`) gave; it was
    /// not kept.
    ChecksumMismatch {
        /// The URL that was downloaded.
        url: String,
        /// The file's final path, where nothing was put.
        path: PathBuf,
        /// The hash function.
        algorithm: ChecksumAlgorithm,
        /// The digest the link gave (lowercase hex).
        expected: String,
        /// The digest of the bytes received (lowercase hex).
        actual: String,
    },
    /// The checksum files (`--checksum-file`) give the file's name two different digests, so it
    /// cannot be checked; it was not kept.
    AmbiguousChecksum {
        /// The URL that was downloaded.
        url: String,
        /// The file's final path, where nothing was put.
        path: PathBuf,
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
    /// Another download of this program is writing the exact path the link asks for
    /// ([`Link::path`](crate::Link::path)); two links never write one file.
    PathInUse {
        /// The link's URL.
        url: String,
        /// The path.
        path: PathBuf,
    },
    /// With [`Names::Index`](crate::Names::Index), the link's `out=` name has the shape of the index
    /// name of another link of the list (`out=000000007.jpg` on any link but the one at position
    /// 7), which would make the two links share a file. Nothing was requested.
    IndexNameOfAnother {
        /// The link's URL.
        url: String,
        /// The path the `out=` name gives.
        path: PathBuf,
        /// The position of the link whose index name it is.
        position: u64,
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

    /// Builds the [`Error::Network`] of kind [`NetworkErrorKind::Redirect`] for a redirect of `url`
    /// that pardl does not follow, saying why.
    pub(crate) fn redirect(url: impl Into<String>, why: String) -> Error {
        Error::Network {
            url: url.into(),
            kind: NetworkErrorKind::Redirect,
            source: Arc::new(RedirectRefused(why)),
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
            | Error::Locked { .. }
            | Error::AmbiguousChecksum { .. }
            | Error::Interrupted { .. }
            | Error::MalformedLink { .. }
            | Error::RangeIgnored { .. }
            | Error::Io { .. }
            | Error::Config { .. }
            | Error::PathInUse { .. }
            | Error::IndexNameOfAnother { .. }
            | Error::Panicked { .. } => false,
        }
    }

    /// A short machine-friendly name for the kind of failure (used in summaries and reports).
    pub fn kind(&self) -> &'static str {
        match self {
            Error::InvalidUrl { .. } => "invalid-url",
            Error::Status { .. } => "http-status",
            Error::Network {
                kind: NetworkErrorKind::Tls,
                ..
            } => "tls",
            Error::Network {
                kind: NetworkErrorKind::Dns,
                ..
            } => "dns",
            Error::Network { .. } => "network",
            Error::Protocol { .. } => "protocol",
            Error::Io { .. } => "local-io",
            Error::MalformedLink { .. } => "malformed-link",
            Error::RangeIgnored { .. } => "range-ignored",
            Error::FileChanged { .. } => "file-changed",
            Error::Locked { .. } => "locked",
            Error::MirrorsDisagree { .. } => "mirrors-disagree",
            Error::ChecksumMismatch { .. } => "checksum-mismatch",
            Error::AmbiguousChecksum { .. } => "checksum-ambiguous",
            Error::Interrupted { .. } => "interrupted",
            Error::Config { .. } => "config",
            Error::PathInUse { .. } => "path-in-use",
            Error::IndexNameOfAnother { .. } => "index-name",
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
            Error::Network { url, kind, source } => {
                write!(f, "{}: {}", redact_url(url), explain(*kind, url, source.as_ref()))
            }
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
            Error::Locked { path } => write!(
                f,
                "{} is locked: another pardl process is downloading this file into the same directory",
                path.display()
            ),
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
                path,
                algorithm,
                expected,
                actual,
            } => write!(
                f,
                "{}: {algorithm} mismatch: expected {expected}, got {actual} (downloaded from {})",
                path.display(),
                redact_url(url)
            ),
            Error::AmbiguousChecksum { url, path } => write!(
                f,
                "{}: the checksum files give this name two different digests; not kept (downloaded from {})",
                path.display(),
                redact_url(url)
            ),
            Error::Interrupted { url } => write!(f, "{}: interrupted", redact_url(url)),
            Error::Config { message } => write!(f, "invalid settings: {message}"),
            Error::PathInUse { url, path } => write!(
                f,
                "{}: another download is writing {} now",
                redact_url(url),
                path.display()
            ),
            Error::IndexNameOfAnother {
                url,
                path,
                position,
            } => write!(
                f,
                "{}: its out= name {} is the index name of the link at position {position} (--names index); give this link another out= name",
                redact_url(url),
                path.display()
            ),
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

/// Why pardl did not follow a redirect (the source of an [`Error::redirect`]).
#[derive(Debug)]
struct RedirectRefused(String);

impl fmt::Display for RedirectRefused {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for RedirectRefused {}

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
    /// Sorts what ureq reported. Failures of TLS and of name resolution often reach ureq as plain
    /// I/O errors, so the error inside is looked at too: rustls's own [`rustls::Error`], the
    /// [`io::ErrorKind`], and the resolver's message.
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
        if rustls_error(error).is_some() {
            return NetworkErrorKind::Tls;
        }
        match error.kind() {
            io::ErrorKind::ConnectionRefused => NetworkErrorKind::Connect,
            io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock => NetworkErrorKind::Timeout,
            _ if Resolution::of(error).is_some() => NetworkErrorKind::Dns,
            _ => NetworkErrorKind::Reset,
        }
    }

    /// Whether a second try could succeed. A TLS failure (an untrusted, expired or misnamed
    /// certificate, a refused handshake), a host name that does not exist, a redirect loop, a bad
    /// proxy URL or a request that cannot be made are final; the name server's "try again" (no
    /// network yet, a name server that did not answer) is not.
    fn is_transient(self, source: &(dyn std::error::Error + Send + Sync + 'static)) -> bool {
        match self {
            NetworkErrorKind::Dns => {
                find_io(source)
                    .and_then(Resolution::of)
                    .is_none_or(|resolution| resolution == Resolution::Temporary)
                    && !is_host_not_found(source)
            }
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

/// What a failed name lookup says about the name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Resolution {
    /// The name does not exist (or has no address): asking again gives the same answer.
    NoSuchName,
    /// No answer for now: no network, or the name server did not reply.
    Temporary,
}

impl Resolution {
    /// Reads the resolver's failure out of the I/O error the standard library makes of it. On Unix
    /// the standard library words it "failed to lookup address information: " and the C library's
    /// text (`gai_strerror`), on Windows it is the socket error 11001 or 11002; the texts below are
    /// glibc's, musl's and the BSDs' (macOS) for "no such name" and "try again".
    fn of(error: &io::Error) -> Option<Resolution> {
        const NO_SUCH_NAME: &[&str] = &[
            "Name or service not known",                    // glibc EAI_NONAME
            "No address associated with hostname",          // glibc EAI_NODATA
            "nodename nor servname provided, or not known", // BSD and macOS EAI_NONAME
            "Name does not resolve",                        // musl EAI_NONAME
        ];
        match error.raw_os_error() {
            Some(11001) if cfg!(windows) => return Some(Resolution::NoSuchName), // WSAHOST_NOT_FOUND
            Some(11002) if cfg!(windows) => return Some(Resolution::Temporary),  // WSATRY_AGAIN
            _ => {}
        }
        let text = error.to_string();
        let detail = text.strip_prefix("failed to lookup address information: ")?;
        if NO_SUCH_NAME.iter().any(|known| detail.contains(known)) {
            Some(Resolution::NoSuchName)
        } else {
            Some(Resolution::Temporary)
        }
    }
}

/// The I/O error in `error`'s chain, if any (ureq's `Error::Io` holds one).
fn find_io<'a>(error: &'a (dyn std::error::Error + 'static)) -> Option<&'a io::Error> {
    let mut next = Some(error);
    while let Some(error) = next {
        if let Some(io) = error.downcast_ref::<io::Error>() {
            return Some(io);
        }
        if let Some(ureq::Error::Io(io)) = error.downcast_ref::<ureq::Error>() {
            return Some(io);
        }
        next = error.source();
    }
    None
}

/// rustls's error inside `error`: an I/O error can carry one (`io::Error::get_ref`), which its
/// `source()` would skip.
fn rustls_error(error: &io::Error) -> Option<&rustls::Error> {
    error.get_ref()?.downcast_ref::<rustls::Error>()
}

/// Whether ureq's resolver found no address at all for the name.
fn is_host_not_found(error: &(dyn std::error::Error + 'static)) -> bool {
    matches!(
        error.downcast_ref::<ureq::Error>(),
        Some(ureq::Error::HostNotFound)
    )
}

/// The sentence for a network failure of `url`: for TLS and DNS failures what happened in plain
/// words and what fixes it; otherwise the HTTP library's own message.
fn explain(
    kind: NetworkErrorKind,
    url: &str,
    source: &(dyn std::error::Error + 'static),
) -> String {
    let host = host_of(url).unwrap_or_else(|| "the server".into());
    let tls = match source.downcast_ref::<ureq::Error>() {
        Some(ureq::Error::Rustls(error)) => Some(error),
        Some(ureq::Error::Io(io)) => rustls_error(io),
        _ => None,
    };
    match (kind, tls) {
        (NetworkErrorKind::Tls, Some(error)) => explain_tls(&host, error),
        (NetworkErrorKind::Dns, _) => match find_io(source).and_then(Resolution::of) {
            Some(Resolution::Temporary) => format!(
                "cannot look up {host} for now ({}): no network, or the name server does not answer",
                find_io(source).map_or_else(String::new, |io| io.to_string())
            ),
            _ => format!("the host {host} does not exist (DNS found no such name): check the URL"),
        },
        _ => source.to_string(),
    }
}

/// A TLS failure with `host` in plain words, with the fix when there is one.
fn explain_tls(host: &str, error: &rustls::Error) -> String {
    use rustls::{AlertDescription as Alert, CertificateError as Cert};
    let certificate = |problem: &str| format!("the certificate of {host} {problem}");
    match error {
        rustls::Error::InvalidCertificate(Cert::UnknownIssuer) => certificate(
            "is signed by an unknown authority: add --ca-certificate FILE, or install the CA in the system store (--insecure skips the check)",
        ),
        rustls::Error::InvalidCertificate(
            Cert::NotValidForName | Cert::NotValidForNameContext { .. },
        ) => certificate(&format!(
            "is for another name ({error}): use the name the certificate gives in the URL"
        )),
        rustls::Error::InvalidCertificate(Cert::Expired | Cert::ExpiredContext { .. }) => {
            certificate("has expired: the server must renew it (or this computer's clock is wrong)")
        }
        rustls::Error::InvalidCertificate(Cert::NotValidYet | Cert::NotValidYetContext { .. }) => {
            certificate("is not valid yet: check this computer's clock")
        }
        rustls::Error::InvalidCertificate(Cert::Revoked) => certificate("has been revoked"),
        // webpki's own error, which rustls passes on only as text.
        rustls::Error::InvalidCertificate(Cert::Other(other))
            if format!("{other:?}").contains("CaUsedAsEndEntity") =>
        {
            certificate(
                "is a CA certificate used as the server's own (as `openssl req -x509` makes by default), which rustls refuses even when trusted: give the server a certificate with basicConstraints CA:FALSE, or one signed by a CA (--insecure skips the check)",
            )
        }
        rustls::Error::InvalidCertificate(_) => certificate(&format!("cannot be trusted: {error}")),
        rustls::Error::AlertReceived(Alert::CertificateRequired) => format!(
            "{host} asks for a client certificate: give --certificate FILE (and --private-key FILE)"
        ),
        rustls::Error::AlertReceived(
            alert @ (Alert::BadCertificate
            | Alert::UnknownCA
            | Alert::UnsupportedCertificate
            | Alert::CertificateRevoked
            | Alert::CertificateExpired
            | Alert::CertificateUnknown
            | Alert::AccessDenied),
        ) => format!(
            "{host} refused the TLS connection ({alert:?}): it did not accept the client certificate (--certificate)"
        ),
        rustls::Error::InvalidMessage(_) | rustls::Error::InappropriateMessage { .. } => format!(
            "{host} does not answer in TLS ({error}): if it serves plain HTTP, use an http:// URL"
        ),
        _ => format!("the TLS connection to {host} failed: {error}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rustls::{AlertDescription, CertificateError};

    const URL: &str = "https://files.example:8443/a.iso";

    /// The error pardl builds from what ureq reports for `URL`.
    fn network(source: ureq::Error) -> Error {
        Error::network(URL, source)
    }

    /// A failure that reached ureq as an I/O error carrying `inner`, as rustls's are.
    fn io_carrying(inner: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> ureq::Error {
        ureq::Error::Io(io::Error::new(io::ErrorKind::InvalidData, inner))
    }

    /// A resolver failure as the standard library words it on Unix.
    fn lookup_failed(detail: &str) -> ureq::Error {
        ureq::Error::Io(io::Error::other(format!(
            "failed to lookup address information: {detail}"
        )))
    }

    #[test]
    fn certificate_failures_are_final_tls_errors_that_name_the_fix() {
        let error = network(io_carrying(rustls::Error::InvalidCertificate(
            CertificateError::UnknownIssuer,
        )));
        assert_eq!(error.kind(), "tls");
        assert!(!error.is_transient());
        assert_eq!(
            error.to_string(),
            "https://files.example:8443/a.iso: the certificate of files.example:8443 is signed by an unknown authority: add --ca-certificate FILE, or install the CA in the system store (--insecure skips the check)"
        );
        for (problem, words) in [
            (CertificateError::Expired, "has expired"),
            (CertificateError::NotValidYet, "is not valid yet"),
            (CertificateError::NotValidForName, "is for another name"),
            (CertificateError::Revoked, "has been revoked"),
            (CertificateError::BadSignature, "cannot be trusted"),
        ] {
            for source in [
                io_carrying(rustls::Error::InvalidCertificate(problem.clone())),
                ureq::Error::Rustls(rustls::Error::InvalidCertificate(problem.clone())),
            ] {
                let error = network(source);
                assert_eq!(error.kind(), "tls", "{error}");
                assert!(!error.is_transient(), "{error}");
                assert!(error.to_string().contains(words), "{error}");
            }
        }
    }

    #[test]
    fn a_self_signed_ca_certificate_used_by_the_server_is_explained() {
        #[derive(Debug)]
        struct CaUsedAsEndEntity;
        impl fmt::Display for CaUsedAsEndEntity {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "CaUsedAsEndEntity")
            }
        }
        impl std::error::Error for CaUsedAsEndEntity {}
        let error = network(io_carrying(rustls::Error::InvalidCertificate(
            CertificateError::Other(rustls::OtherError(Arc::new(CaUsedAsEndEntity))),
        )));
        assert_eq!(error.kind(), "tls");
        assert!(!error.is_transient());
        assert!(
            error
                .to_string()
                .contains("is a CA certificate used as the server's own"),
            "{error}"
        );
    }

    #[test]
    fn a_refused_handshake_says_what_the_server_wants() {
        let wants = network(io_carrying(rustls::Error::AlertReceived(
            AlertDescription::CertificateRequired,
        )));
        assert!(!wants.is_transient());
        assert!(
            wants.to_string().ends_with(
                "files.example:8443 asks for a client certificate: give --certificate FILE (and --private-key FILE)"
            ),
            "{wants}"
        );
        let refused = network(io_carrying(rustls::Error::AlertReceived(
            AlertDescription::UnknownCA,
        )));
        assert!(refused
            .to_string()
            .contains("did not accept the client certificate"));
        let plain = network(io_carrying(rustls::Error::InvalidMessage(
            rustls::InvalidMessage::InvalidContentType,
        )));
        assert_eq!(plain.kind(), "tls");
        assert!(plain.to_string().contains("use an http:// URL"), "{plain}");
    }

    #[test]
    fn a_name_that_does_not_exist_is_a_final_dns_error() {
        for detail in [
            "Name or service not known",
            "No address associated with hostname",
            "nodename nor servname provided, or not known",
            "Name does not resolve",
        ] {
            let error = network(lookup_failed(detail));
            assert_eq!(error.kind(), "dns", "{detail}");
            assert!(!error.is_transient(), "{detail}");
            assert_eq!(
                error.to_string(),
                "https://files.example:8443/a.iso: the host files.example:8443 does not exist (DNS found no such name): check the URL"
            );
        }
        let empty = network(ureq::Error::HostNotFound);
        assert_eq!(empty.kind(), "dns");
        assert!(!empty.is_transient());
    }

    #[test]
    fn a_name_server_that_says_try_again_is_retried() {
        for detail in ["Temporary failure in name resolution", "Try again"] {
            let error = network(lookup_failed(detail));
            assert_eq!(error.kind(), "dns", "{detail}");
            assert!(error.is_transient(), "{detail}");
            assert!(
                error.to_string().contains(&format!(
                    "cannot look up files.example:8443 for now (failed to lookup address information: {detail}): no network"
                )),
                "{error}"
            );
        }
    }

    #[test]
    fn resets_timeouts_and_refusals_stay_transient_network_errors() {
        for source in [
            ureq::Error::Io(io::Error::from(io::ErrorKind::ConnectionReset)),
            ureq::Error::Io(io::Error::from(io::ErrorKind::UnexpectedEof)),
            ureq::Error::Io(io::Error::from(io::ErrorKind::ConnectionRefused)),
            ureq::Error::Io(io::Error::from(io::ErrorKind::TimedOut)),
            ureq::Error::Timeout(ureq::Timeout::Connect),
            ureq::Error::ConnectionFailed,
        ] {
            let error = network(source);
            assert_eq!(error.kind(), "network", "{error}");
            assert!(error.is_transient(), "{error}");
        }
        let redirects = network(ureq::Error::TooManyRedirects);
        assert_eq!(redirects.kind(), "network");
        assert!(!redirects.is_transient());
    }
}
