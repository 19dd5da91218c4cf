//! The settings of a run, with the defaults written in one place.
//!
//! [`Config`] is plain data: the command line fills it in `main.rs`, and library users build it
//! themselves (`Config::default()` then change fields), so nothing here depends on clap. Each default
//! is an associated constant (`Config::DEFAULT_JOBS`, …): [`Config::default`] uses them, the command
//! line takes its `--help` defaults from them, and `tests/defaults.rs` holds the manual's table to
//! them, so a default is changed here and nowhere else.

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use crate::disk::checksum_file::ChecksumFile;
use crate::disk::durable::SyncMode;
use crate::http::cookies::CookieJar;
use crate::http::is_secret_header;
use crate::http::netrc::Netrc;
use crate::http::tls::UserTls;
use crate::http::url::redact_url;
use crate::run::shard::Shard;
use crate::run::skip_done::DoneLinks;

/// The window over which `lowest_speed` is measured: long enough not to punish a short hiccup.
pub(crate) const LOW_SPEED_WINDOW: Duration = Duration::from_secs(10);

/// Everything a [`crate::Downloader`] needs to know about how to download.
#[derive(Debug, Clone)]
pub struct Config {
    /// Directory the files are written to; created if missing. Default: [`Config::DEFAULT_DIR`], the
    /// current directory.
    pub dir: PathBuf,
    /// Files downloaded at once: the number of workers of the outer pool. Default:
    /// [`Config::DEFAULT_JOBS`].
    pub jobs: usize,
    /// Connections per file: the number of workers of each file's child pool. Default:
    /// [`Config::DEFAULT_CONNECTIONS`].
    pub connections: usize,
    /// No chunk is smaller than this many bytes, so small files are not split into wasteful requests.
    /// Default: [`Config::DEFAULT_MIN_CHUNK`].
    pub min_chunk: u64,
    /// Connections to one host at once, over all files. pardl lowers it by itself for a host that
    /// refuses connections (see `src/http/hosts.rs`). Default: [`Config::DEFAULT_MAX_PER_HOST`].
    pub max_per_host: usize,
    /// What to do with a file that already exists under a link's final name. Default:
    /// [`IfExists::Skip`].
    pub if_exists: IfExists,
    /// How [`Downloader::run`](crate::Downloader::run) names the files: by `out=` or the URL
    /// ([`Names::Url`]), or by each link's position in the list ([`Names::Index`], `--names index`),
    /// which keeps nothing per link. [`Downloader::download`](crate::Downloader::download), given
    /// one link and no list, always names it by `out=` or its URL. Default:
    /// [`Config::DEFAULT_NAMES`].
    pub names: Names,
    /// How many times one request is tried before its chunk (and so its file) fails. Default:
    /// [`Config::DEFAULT_MAX_TRIES`].
    pub max_tries: u32,
    /// Wait before the first retry; it doubles after each further failure (capped at 30 s). Default:
    /// [`Config::DEFAULT_RETRY_WAIT`].
    pub retry_wait: Duration,
    /// Limit for establishing a connection. Default: [`Config::DEFAULT_CONNECT_TIMEOUT`].
    pub connect_timeout: Duration,
    /// Limit for the response head after the request is sent. Default:
    /// [`Config::DEFAULT_READ_TIMEOUT`].
    pub read_timeout: Duration,
    /// A connection that delivers no byte for this long is dropped and its request retried (from where
    /// it stopped). Default: [`Config::DEFAULT_STALL_TIMEOUT`].
    pub stall_timeout: Duration,
    /// A connection slower than this many bytes per second, measured over 10 seconds, is
    /// dropped and retried (aria2's `--lowest-speed-limit`); 0 = off. Default:
    /// [`Config::DEFAULT_LOWEST_SPEED`].
    pub lowest_speed: u64,
    /// Redirects followed before giving up. Default: [`Config::DEFAULT_MAX_REDIRECTS`].
    pub max_redirects: u32,
    /// Sent as `User-Agent`. Default: [`Config::DEFAULT_USER_AGENT`].
    pub user_agent: String,
    /// Take a proxy from `ALL_PROXY`/`HTTPS_PROXY`/`HTTP_PROXY` (and skip it for hosts in `NO_PROXY`)
    /// as ureq reads them, unless [`proxy`](Config::proxy) is set. Default:
    /// [`Config::DEFAULT_PROXY_FROM_ENV`].
    pub proxy_from_env: bool,
    /// Send every request through this proxy (`http://[user:pass@]host:port` or `https://…`; SOCKS is
    /// not built in), whatever the environment says. Default none.
    pub proxy: Option<String>,
    /// A PEM file of CA certificates to trust for HTTPS (`--ca-certificate`), **in addition to** the
    /// system's trust store (as wget does; curl's `--cacert` replaces it). The system's store is the
    /// operating system's (on Linux the distribution's bundle, or `SSL_CERT_FILE`/`SSL_CERT_DIR`
    /// when set); where it is empty, the Mozilla list built into pardl. See `src/http/tls.rs`.
    /// Default none.
    pub ca_certificate: Option<PathBuf>,
    /// Do not check server certificates at all (`--insecure`): the connection is still encrypted,
    /// but anyone on the way can pose as the server. Each host gets one warning in the log. Default
    /// false.
    pub insecure: bool,
    /// A PEM file with the client certificate (and its chain) that pardl shows a server asking for
    /// one: mutual TLS (`--certificate`). Its key is in the same file unless
    /// [`client_key`](Config::client_key) names another. Default none.
    pub client_certificate: Option<PathBuf>,
    /// The PEM file of the private key of [`client_certificate`](Config::client_certificate)
    /// (`--private-key`). Default none.
    pub client_key: Option<PathBuf>,
    /// Extra request headers sent with every request (`-H`); the secret ones (`Authorization`,
    /// `Cookie`) only to the origins of the links. `Proxy-Authorization` is refused by
    /// [`Config::check`]. Default none.
    pub headers: Vec<Header>,
    /// HTTP Basic credentials (`--user`/`--password`) for the origins (scheme, host and port) of the
    /// links; never sent to one that only a redirect led to. Credentials written in a link's URL
    /// (`https://user:pass@host/…`) are used for that URL's origin instead, and an `Authorization`
    /// header in `headers` instead of these. Default none.
    pub credentials: Option<Credentials>,
    /// The most bytes per second over all connections together; 0 = no limit. See
    /// `src/http/ratelimit.rs`. Default: [`Config::DEFAULT_LIMIT_RATE`].
    pub limit_rate: u64,
    /// Download only the links of this shard of the list (`--shard K/N`); the others are counted in
    /// [`Summary::other_shard`](crate::Summary::other_shard) and cost no request. Applied by
    /// [`Downloader::run`](crate::Downloader::run), not by `download`, which fetches the one link it
    /// is given. See [`Shard`](crate::Shard). Default none: every link.
    pub shard: Option<Shard>,
    /// Links that an earlier report marks `ok` (`--skip-done`): [`Downloader::run`](crate::Downloader::run)
    /// skips them without a request, without an outcome, and counts them in
    /// [`Summary::already_done`](crate::Summary::already_done). See [`DoneLinks`](crate::DoneLinks);
    /// with a [`shard`](Config::shard), [`DoneLinks::in_shard`](crate::DoneLinks::in_shard) keeps
    /// only that shard's links. Default none.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use pardl::{DoneLinks, Shard, Config};
    ///
    /// let mut done = DoneLinks::new();
    /// done.add_journal_text(&b"{\"url\":\"https://example.com/a\",\"status\":\"ok\"}\n"[..])?;
    /// let config = Config {
    ///     shard: Some(Shard::parse("0/4").unwrap()),
    ///     skip_done: Some(Arc::new(done)),
    ///     ..Config::default()
    /// };
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub skip_done: Option<Arc<DoneLinks>>,
    /// Checksums by file name, from checksum files (`--checksum-file SHA256SUMS`): a link without a
    /// checksum of its own is checked against the one listed for its final name, and fails on a
    /// mismatch. See [`ChecksumFile`](crate::ChecksumFile). Default none.
    pub checksums: Option<Arc<ChecksumFile>>,
    /// Set each downloaded file's modification time to the server's `Last-Modified`
    /// (`--remote-time`, curl's `-R`), a resumed file's too. Default:
    /// [`Config::DEFAULT_REMOTE_TIME`] (off: the time the download finished).
    pub remote_time: bool,
    /// When a finished file's data is flushed to the disk before its rename (`--sync`): alone,
    /// together with the files that finish at the same time, or never (giving up the promise that
    /// after a power cut a file under its final name is complete). Default:
    /// [`Config::DEFAULT_SYNC`].
    pub sync: SyncMode,
    /// User names and passwords per machine, from a netrc file (`~/.netrc`, `--netrc-file`), sent
    /// to the machine each names and to no other. Credentials in a link's URL and
    /// [`credentials`](Config::credentials) come first. The library reads no file of its own accord
    /// (the command reads `~/.netrc`): see [`Netrc`](crate::Netrc). Default none.
    pub netrc: Option<Arc<Netrc>>,
    /// Cookies to send, from a Netscape cookies file (`--load-cookies`): each request carries the
    /// ones whose domain and path match its URL. See [`CookieJar`](crate::CookieJar). Default none.
    pub cookies: Option<Arc<CookieJar>>,
}

/// The defaults of [`Config::default`], each written once, here. The command line shows them in
/// `--help`, the manual's option table repeats them (checked by `tests/defaults.rs`), and a library
/// user can start from them: `jobs: Config::DEFAULT_JOBS * 2`. (Rustdoc shows a literal's value but
/// not a `Duration`'s, so those say theirs in words next to the code.)
///
/// ```
/// use pardl::Config;
///
/// let busy = Config { jobs: Config::DEFAULT_JOBS * 2, ..Config::default() };
/// assert_eq!(busy.connections, Config::DEFAULT_CONNECTIONS);
/// assert_eq!(busy.retry_wait, Config::DEFAULT_RETRY_WAIT);
/// ```
/// What to do with a file that already exists under a link's final name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum IfExists {
    /// Leave it alone and end the link as skipped, without a request (`wget -nc`, `curl
    /// --skip-existing`): rerunning a links file fetches only what is missing.
    #[default]
    Skip,
    /// Download the file again and replace it (`--overwrite`); the old file stays intact until the
    /// new one is complete.
    Overwrite,
    /// Ask the server (`--check-existing`): keep the file when its size is the server's (and its
    /// SHA-256 the link's `sha256=`, when given), else download it again and replace it. A download
    /// an earlier run left unfinished for this name is resumed first either way.
    Check,
}

/// How a run names the files of its links (`--names`).
///
/// ```
/// use pardl::Names;
///
/// assert_eq!(Names::parse("index"), Ok(Names::Index));
/// assert_eq!(Names::Url.to_string(), "url");
/// assert!(Names::parse("hash").unwrap_err().contains("'url' or 'index'"));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Names {
    /// `out=` if the link has one, else the name the server's answer gives (`Content-Disposition`,
    /// or the URL after redirects), else the URL's last path segment; a name wanted by two links
    /// is numbered in link order (`x.bin`, `x.1.bin`). Remembering the names taken costs 9 to 19
    /// bytes per link of the run.
    #[default]
    Url,
    /// The link's position among the links of the input (from 0, as
    /// [`Outcome::index`](crate::Outcome::index) counts it), zero-padded to nine digits, with the
    /// URL's extension when it is a plain one: `000000042.jpg`. No name is remembered, so memory
    /// stays flat at any list length; the server's answer never renames the file. A link with
    /// `out=` keeps that name (numbered among the other `out=` names if two want the same); an
    /// `out=` name shaped like another link's index name fails that link. See `docs/scale.md`.
    Index,
}

impl Names {
    /// Reads `url` or `index` (the values of `--names`), in any case.
    pub fn parse(text: &str) -> Result<Names, String> {
        match text.trim().to_ascii_lowercase().as_str() {
            "url" => Ok(Names::Url),
            "index" => Ok(Names::Index),
            _ => Err(format!(
                "'{text}' is not a way of naming files: use 'url' or 'index'"
            )),
        }
    }
}

impl fmt::Display for Names {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Names::Url => "url",
            Names::Index => "index",
        })
    }
}

impl Config {
    /// The directory files are written to: the current one.
    pub const DEFAULT_DIR: &'static str = ".";
    /// Files downloaded at once: aria2's default for `-j`, enough to keep a fast line busy when some
    /// servers are slow, few enough to be polite to the servers.
    pub const DEFAULT_JOBS: usize = 5;
    /// Connections per file: axel's default for `-n`. A few connections help when a server or a long
    /// path limits each connection; many more mostly add load on the server.
    pub const DEFAULT_CONNECTIONS: usize = 4;
    /// The smallest chunk, 1 MiB: a file smaller than this is fetched whole by its first request
    /// (aria2 uses 20 MiB; with 1 MiB, files of a few megabytes are split too).
    pub const DEFAULT_MIN_CHUNK: u64 = 1 << 20;
    /// Connections to one host at once, over all files.
    pub const DEFAULT_MAX_PER_HOST: usize = 16;
    /// Tries per request, the first one included.
    pub const DEFAULT_MAX_TRIES: u32 = 5;
    /// The wait before the first retry: 1 s.
    pub const DEFAULT_RETRY_WAIT: Duration = Duration::from_secs(1);
    /// The time allowed to establish a connection: 30 s.
    pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(30);
    /// The time allowed for the response head: 60 s.
    pub const DEFAULT_READ_TIMEOUT: Duration = Duration::from_secs(60);
    /// The time a connection may go without a byte: 30 s.
    pub const DEFAULT_STALL_TIMEOUT: Duration = Duration::from_secs(30);
    /// The lowest speed a connection may keep: 0, no check.
    pub const DEFAULT_LOWEST_SPEED: u64 = 0;
    /// Redirects followed before giving up.
    pub const DEFAULT_MAX_REDIRECTS: u32 = 10;
    /// `pardl/` and the crate's version.
    pub const DEFAULT_USER_AGENT: &'static str = concat!("pardl/", env!("CARGO_PKG_VERSION"));
    /// Proxies are taken from the environment.
    pub const DEFAULT_PROXY_FROM_ENV: bool = true;
    /// The rate limit over all connections: 0, none.
    pub const DEFAULT_LIMIT_RATE: u64 = 0;
    /// Files get the time their download finished, not the server's `Last-Modified`.
    pub const DEFAULT_REMOTE_TIME: bool = false;
    /// Files that finish together are flushed to the disk together, before their renames.
    pub const DEFAULT_SYNC: SyncMode = SyncMode::Batch;
    /// Files are named by `out=` or their URL, as wget, curl and aria2 name them.
    pub const DEFAULT_NAMES: Names = Names::Url;

    /// How many links a run with this configuration reads ahead of its workers, queued in its
    /// file pool: 4 per worker (`jobs`), at most 1,024 in all, and never fewer than `jobs`.
    ///
    /// A small file takes a worker about a millisecond, and the thread reading the links competes
    /// for the CPU with every worker. With one link queued per worker (the article's queue) the
    /// reader was often late: the queue ran dry, and nearly every link handed over woke a sleeping
    /// worker and every slot freed woke the reader. Four per worker made 2,000 files of 16 KiB and
    /// 20,000 of 1 KiB 6% faster (docs/benchmarks.md, "Links read ahead"). A queued link costs a
    /// few hundred bytes.
    ///
    /// ```
    /// use pardl::Config;
    ///
    /// assert_eq!(Config { jobs: 16, ..Config::default() }.read_ahead(), 64);
    /// assert_eq!(Config { jobs: 1000, ..Config::default() }.read_ahead(), 1024);
    /// ```
    pub fn read_ahead(&self) -> usize {
        (4 * self.jobs).min(1024).max(self.jobs)
    }
}

/// One extra request header, as given to `-H 'Name: value'`.
///
/// Its `Debug` hides the value of headers that carry secrets (`Authorization`, `Cookie`, …), so a
/// logged [`Config`] never shows them.
///
/// ```
/// use pardl::Header;
///
/// let header = Header::parse("X-Token:  abc ").unwrap();
/// assert_eq!((header.name.as_str(), header.value.as_str()), ("X-Token", "abc"));
/// assert!(Header::parse("no colon").is_err());
/// assert!(Header::parse("Range: bytes=0-1").is_err()); // pardl's own business
/// let secret = Header::parse("Authorization: Bearer s3cret").unwrap();
/// assert!(!format!("{secret:?}").contains("s3cret"));
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct Header {
    /// The header's name, as given.
    pub name: String,
    /// Its value, without surrounding whitespace.
    pub value: String,
}

/// Headers pardl sets itself for every request; a user's value would break downloads.
const OWN_HEADERS: &[&str] = &[
    "range",
    "if-range",
    "accept-encoding",
    "host",
    "content-length",
    "transfer-encoding",
    "connection",
];

impl Header {
    /// Parses `Name: value`; refuses malformed names and values, and the headers pardl must set
    /// itself (`Range`, `If-Range`, `Accept-Encoding`, `Host`, framing headers).
    pub fn parse(text: &str) -> Result<Header, String> {
        let Some((name, value)) = text.split_once(':') else {
            return Err(format!("'{text}' is not a header: expected 'Name: value'"));
        };
        let name = name.trim();
        let value = value.trim();
        ureq::http::HeaderName::from_bytes(name.as_bytes())
            .map_err(|_| format!("'{name}' is not a valid header name"))?;
        ureq::http::HeaderValue::from_str(value).map_err(|_| {
            format!("the value of header '{name}' has characters a header cannot carry")
        })?;
        if OWN_HEADERS.contains(&name.to_ascii_lowercase().as_str()) {
            return Err(format!(
                "pardl sets the {name} header itself; it cannot be given with -H"
            ));
        }
        Ok(Header {
            name: name.to_string(),
            value: value.to_string(),
        })
    }

    /// Whether the value is a secret (credentials or cookies).
    pub fn is_secret(&self) -> bool {
        is_secret_header(&self.name)
    }
}

impl fmt::Debug for Header {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let value = if self.is_secret() { "***" } else { &self.value };
        write!(f, "{}: {value}", self.name)
    }
}

/// A user name and password for HTTP Basic authentication. `Debug` hides the password.
///
/// ```
/// let credentials = pardl::Credentials { user: "ann".into(), password: "s3cret".into() };
/// assert_eq!(format!("{credentials:?}"), "Credentials { user: \"ann\", password: *** }");
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    /// The user name.
    pub user: String,
    /// The password (may be empty).
    pub password: String,
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Credentials {{ user: {:?}, password: *** }}", self.user)
    }
}

impl Default for Config {
    fn default() -> Config {
        Config {
            dir: PathBuf::from(Config::DEFAULT_DIR),
            jobs: Config::DEFAULT_JOBS,
            connections: Config::DEFAULT_CONNECTIONS,
            min_chunk: Config::DEFAULT_MIN_CHUNK,
            max_per_host: Config::DEFAULT_MAX_PER_HOST,
            if_exists: IfExists::Skip,
            names: Config::DEFAULT_NAMES,
            max_tries: Config::DEFAULT_MAX_TRIES,
            retry_wait: Config::DEFAULT_RETRY_WAIT,
            connect_timeout: Config::DEFAULT_CONNECT_TIMEOUT,
            read_timeout: Config::DEFAULT_READ_TIMEOUT,
            stall_timeout: Config::DEFAULT_STALL_TIMEOUT,
            lowest_speed: Config::DEFAULT_LOWEST_SPEED,
            max_redirects: Config::DEFAULT_MAX_REDIRECTS,
            user_agent: Config::DEFAULT_USER_AGENT.to_string(),
            proxy_from_env: Config::DEFAULT_PROXY_FROM_ENV,
            proxy: None,
            ca_certificate: None,
            insecure: false,
            client_certificate: None,
            client_key: None,
            headers: Vec::new(),
            credentials: None,
            limit_rate: Config::DEFAULT_LIMIT_RATE,
            shard: None,
            skip_done: None,
            checksums: None,
            remote_time: Config::DEFAULT_REMOTE_TIME,
            sync: Config::DEFAULT_SYNC,
            netrc: None,
            cookies: None,
        }
    }
}

impl Config {
    /// Checks that the settings can work, naming the first one that cannot. [`Downloader`] runs it
    /// before any link starts (a failure ends the run as [`Error::Config`]); the command line runs it
    /// first to report a usage error. A proxy is checked here because ignoring a bad one would send
    /// traffic around it; the certificate files are read and checked (a missing file, no PEM
    /// certificate in it, a key that does not belong to its certificate), each error naming the file.
    ///
    /// ```
    /// use pardl::Config;
    ///
    /// assert_eq!(Config::default().check(), Ok(()));
    /// let socks = Config { proxy: Some("socks5://127.0.0.1:1080".into()), ..Config::default() };
    /// assert!(socks.check().unwrap_err().contains("only http:// and https:// proxies"));
    /// let no_tries = Config { max_tries: 0, ..Config::default() };
    /// assert_eq!(no_tries.check(), Err("max_tries must be at least 1".into()));
    /// let not_a_dir = Config { dir: "Cargo.toml".into(), ..Config::default() };
    /// # let not_a_dir = Config { dir: env!("CARGO_MANIFEST_DIR").into(), ..not_a_dir };
    /// # let not_a_dir = Config { dir: not_a_dir.dir.join("Cargo.toml"), ..not_a_dir };
    /// assert!(not_a_dir.check().unwrap_err().ends_with("Cargo.toml is not a directory"));
    /// let no_ca = Config { ca_certificate: Some("/no/such/ca.pem".into()), ..Config::default() };
    /// assert!(no_ca.check().unwrap_err().starts_with("cannot read CA certificate file /no/such/ca.pem"));
    /// ```
    ///
    /// [`Downloader`]: crate::Downloader
    /// [`Error::Config`]: crate::Error::Config
    pub fn check(&self) -> Result<(), String> {
        for (name, value) in [
            ("jobs", self.jobs as u64),
            ("connections", self.connections as u64),
            ("min_chunk", self.min_chunk),
            ("max_per_host", self.max_per_host as u64),
            ("max_tries", u64::from(self.max_tries)),
        ] {
            if value == 0 {
                return Err(format!("{name} must be at least 1"));
            }
        }
        if self.dir.exists() && !self.dir.is_dir() {
            return Err(format!(
                "the output directory {} is not a directory",
                self.dir.display()
            ));
        }
        if self
            .headers
            .iter()
            .any(|h| h.name.eq_ignore_ascii_case("proxy-authorization"))
        {
            // Proxies are used through CONNECT tunnels, inside which a request's headers reach the
            // server, not the proxy.
            return Err("a Proxy-Authorization header would be sent to the servers, not to the proxy: give the proxy's credentials in the --proxy URL (http://user:password@proxy:port)".into());
        }
        if let Some(proxy) = &self.proxy {
            let scheme = proxy
                .split_once("://")
                .map(|(scheme, _)| scheme.to_ascii_lowercase());
            if scheme.is_some_and(|s| s != "http" && s != "https") {
                return Err(format!(
                    "unsupported proxy {}: only http:// and https:// proxies are supported",
                    redact_url(proxy)
                ));
            }
            if let Err(error) = ureq::Proxy::new(proxy) {
                return Err(format!("invalid proxy {}: {error}", redact_url(proxy)));
            }
        }
        self.user_tls().map(|_| ())
    }

    /// The user's certificate files, read and checked (see `src/http/tls.rs`).
    pub(crate) fn user_tls(&self) -> Result<UserTls, String> {
        UserTls::load(
            self.ca_certificate.as_deref(),
            self.client_certificate.as_deref(),
            self.client_key.as_deref(),
        )
    }
}
