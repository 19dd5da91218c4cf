//! What a path serves ([`Body`]) and how it misbehaves ([`Behaviour`]).

use std::fmt;

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
    /// body instead of the file (e.g. `404`, `500`).
    pub status: Option<u16>,
    /// Raw value of a `Content-Disposition` header to send with the file.
    pub content_disposition: Option<String>,
    /// Raw value of an `ETag` header to send with the file (include the
    /// quotes: `"\"abc\""`).
    pub etag: Option<String>,
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
}
