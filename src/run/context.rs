//! What every thread of a run shares: settings, the HTTP agent, counters, host limits, the rate
//! limit, and the cancel flag.

use std::collections::HashSet;
use std::path::Path;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use ureq::tls::TlsConfig;
use ureq::Agent;

use crate::disk::commit::Committer;
use crate::disk::control::ControlFile;
use crate::disk::leftovers::Leftovers;
use crate::disk::open::anything_at;
use crate::http::hosts::HostLimits;
use crate::http::is_secret_header;
use crate::http::ratelimit::RateLimit;
use crate::http::tls::{tls_config, InsecureWarnings, UserTls};
use crate::http::url::{origin_of, redact_url, scheme_of};
use crate::run::cancel::CancelHandle;
use crate::run::config::Config;
use crate::run::progress::Progress;

/// The shared state of a run; one `Arc<Context>` is cloned into every task.
#[derive(Debug, Clone)]
pub(crate) struct Context {
    pub(crate) config: Arc<Config>,
    /// The HTTP agents (connection pools) of the downloader; clones share their connections.
    pub(crate) agents: Arc<Agents>,
    pub(crate) progress: Arc<Progress>,
    pub(crate) hosts: Arc<HostLimits>,
    pub(crate) rate_limit: Option<Arc<RateLimit>>,
    /// The run's commit thread (`--sync batch`): finished files are flushed together and renamed
    /// there. `None` outside a run of many links, where each file flushes itself.
    pub(crate) committer: Option<Arc<Committer>>,
    /// The control files a run found in its output directory when it started (`None` outside a
    /// run of many links: each file looks for its own).
    leftovers: Option<Arc<Leftovers>>,
    /// Origins (scheme, host and port) of the links themselves, the only ones `--user` credentials
    /// and secret `-H` headers are sent to. Locked once per request, never per byte.
    link_origins: Arc<Mutex<HashSet<String>>>,
    /// Set on Ctrl-C or by a library caller: stop starting work, finish current writes, save state.
    cancel: CancelHandle,
    /// With `--insecure`, the hosts already warned about; `None` otherwise.
    insecure_warnings: Option<Arc<InsecureWarnings>>,
}

impl Context {
    /// The downloader's context for `config`: what all its runs share.
    pub(crate) fn new(config: Config) -> Context {
        Context {
            agents: Arc::new(Agents::new(&config)),
            hosts: Arc::new(HostLimits::new(config.max_per_host)),
            rate_limit: (config.limit_rate > 0)
                .then(|| Arc::new(RateLimit::new(config.limit_rate))),
            link_origins: Arc::new(Mutex::new(HashSet::new())),
            insecure_warnings: config.insecure.then(Arc::default),
            committer: None,
            leftovers: None,
            config: Arc::new(config),
            progress: Arc::new(Progress::new()),
            cancel: CancelHandle::new(),
        }
    }

    /// The context of one run: everything shared with the downloader (settings, connections, host
    /// limits, rate limit, counters) except the cancel flag, which is the run's own.
    pub(crate) fn for_run(&self) -> Context {
        Context {
            cancel: self.cancel.child(),
            ..self.clone()
        }
    }

    /// The same context for a run of many links: with its commit thread, which its file tasks hand
    /// finished files to, and the control files found in its output directory.
    pub(crate) fn for_links(
        &self,
        committer: Option<Arc<Committer>>,
        leftovers: Option<Leftovers>,
    ) -> Context {
        Context {
            committer,
            leftovers: leftovers.map(Arc::new),
            ..self.clone()
        }
    }

    /// Whether a control file (or its temporary file) may lie at `path`, beside a `.part` file
    /// this task created: known from the run's scan of its directory, else looked up.
    pub(crate) fn control_may_exist(&self, path: &Path) -> bool {
        match &self.leftovers {
            Some(leftovers) => leftovers.may_exist(path),
            None => ControlFile::any_at(path),
        }
    }

    /// Whether a `.part` file may lie at `path` (one an earlier run left, to be taken over):
    /// known from the run's scan of its directory, else looked up.
    pub(crate) fn part_may_exist(&self, path: &Path) -> bool {
        match &self.leftovers {
            Some(leftovers) => leftovers.part_may_exist(path),
            None => anything_at(path),
        }
    }

    /// Whether something may lie under the final name `path`: false only if the run's scan of its
    /// directory found the name free (see `src/disk/leftovers.rs` for why a name taken since is not
    /// missed); true where it must be looked up.
    pub(crate) fn final_may_exist(&self, path: &Path) -> bool {
        self.leftovers
            .as_ref()
            .is_none_or(|leftovers| leftovers.final_may_exist(path))
    }

    /// Whether the run was asked to stop.
    pub(crate) fn is_cancelled(&self) -> bool {
        self.cancel.is_cancelled()
    }

    /// The handle that stops the run (for a Ctrl-C handler or another thread).
    pub(crate) fn cancel_handle(&self) -> CancelHandle {
        self.cancel.clone()
    }

    /// Called on the hot path after `n` bytes arrived: with `--limit-rate`, takes them from the shared
    /// bucket and sleeps while it is empty (waking early on Ctrl-C); without, does nothing.
    #[inline]
    pub(crate) fn throttle(&self, n: u64) {
        if let Some(limit) = &self.rate_limit {
            let wait = limit.take(n);
            if !wait.is_zero() {
                self.sleep(wait);
            }
        }
    }

    /// Notes the origin of `url`, a link's own URL (not one a redirect led to): `--user` credentials
    /// and `-H` headers that carry secrets (`Authorization`, `Cookie`) may be sent to it.
    pub(crate) fn trust_link(&self, url: &str) {
        if !self.has_secrets() {
            return;
        }
        if let Some(origin) = origin_of(url) {
            let mut origins = self.link_origins.lock();
            if !origins.contains(&origin) {
                origins.insert(origin);
            }
        }
    }

    /// Whether `url` is on the origin (the same scheme, host and port) of one of the links. Without
    /// credentials or secret headers to send, nobody asks, and no origin is kept: then false, without
    /// the lock every request would otherwise take.
    pub(crate) fn is_trusted(&self, url: &str) -> bool {
        self.has_secrets()
            && origin_of(url).is_some_and(|origin| self.link_origins.lock().contains(&origin))
    }

    /// Whether the run has `--user` credentials or `-H` headers that carry secrets.
    fn has_secrets(&self) -> bool {
        self.config.credentials.is_some()
            || self
                .config
                .headers
                .iter()
                .any(|h| is_secret_header(&h.name))
    }

    /// With `--insecure`, warns once per host that `url`'s certificate is not checked; without, does
    /// nothing.
    pub(crate) fn note_unverified(&self, url: &str) {
        if let Some(warnings) = &self.insecure_warnings {
            warnings.note(url);
        }
    }

    /// Sleeps for `wait`, waking early if the run is cancelled; returns false if it was.
    pub(crate) fn sleep(&self, wait: Duration) -> bool {
        self.sleep_unless(wait, || false)
    }

    /// Sleeps for `wait`, waking early if the run is cancelled or `stop()` becomes true (a retry
    /// wait ends as soon as another chunk of the file has failed); returns false if it woke early.
    pub(crate) fn sleep_unless(&self, wait: Duration, stop: impl Fn() -> bool) -> bool {
        let until = Instant::now() + wait;
        loop {
            if self.is_cancelled() || stop() {
                return false;
            }
            let now = Instant::now();
            if now >= until {
                return true;
            }
            std::thread::sleep((until - now).min(Duration::from_millis(100)));
        }
    }
}

/// The HTTP agents of a downloader. Reading the system's trust store takes longer than fetching
/// dozens of small files (about 8 ms for the 300 certificates of a Debian system), and a links
/// file of `http://` URLs never needs it. So plain HTTP goes through an agent without it, and
/// HTTPS through one built, with the trust store, when the first request needs it. With a proxy,
/// which may itself be reached over TLS, every request goes through the second.
#[derive(Debug)]
pub(crate) struct Agents {
    /// For `http://` URLs when no proxy is set.
    plain: Option<Agent>,
    /// For everything else; built on first use.
    secure: OnceLock<Agent>,
}

impl Agents {
    fn new(config: &Config) -> Agents {
        let plain = build_agent(config, TlsConfig::default());
        Agents {
            plain: plain.config().proxy().is_none().then_some(plain),
            secure: OnceLock::new(),
        }
    }

    /// The agent for a request to `url`, made by the downloader configured by `config`.
    pub(crate) fn for_url(&self, url: &str, config: &Config) -> &Agent {
        let plain_http = scheme_of(url).is_some_and(|scheme| scheme.eq_ignore_ascii_case("http"));
        match &self.plain {
            Some(agent) if plain_http => agent,
            _ => self
                .secure
                .get_or_init(|| build_agent(config, tls_config(user_tls(config), config.insecure))),
        }
    }

    /// Whether the trust store has been read (tests).
    #[cfg(test)]
    fn has_secure(&self) -> bool {
        self.secure.get().is_some()
    }
}

/// Builds an agent shared by every download thread, with TLS set up as `tls`.
///
/// Why each setting:
/// * `http_status_as_error(false)`: pardl classifies statuses itself (retry a 503, fail a 404 at once).
/// * `Accept-Encoding: identity` (and ureq built without its `gzip` feature): the bytes on disk must be
///   the server's bytes, and byte ranges only make sense on the unencoded representation.
/// * Timeouts for connecting, for the response head and for each read (the stall timeout), but none
///   on the whole body: a large download may take hours, it just must not stall.
/// * An idle pool big enough for every connection pardl may open to one host, or keep-alive is wasted.
/// * No redirects: `src/file/request.rs` follows them itself, choosing per request which
///   credentials go along (ureq's own rule compares hosts without ports or schemes).
/// * TLS as `src/http/tls.rs` builds it from the system's trust store and the user's files (or
///   ureq's default, for the agent that never makes a TLS connection: see [`Agents`]).
fn build_agent(config: &Config, tls: TlsConfig) -> Agent {
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
        .max_redirects(0)
        .max_idle_connections(total.max(10))
        .max_idle_connections_per_host(per_host.max(3))
        .max_idle_age(Duration::from_secs(30))
        .timeout_connect(Some(config.connect_timeout))
        .timeout_recv_response(Some(config.read_timeout))
        .timeout_per_read(Some(config.stall_timeout))
        .tls_config(tls);
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
    builder.build().into()
}

/// The user's certificate files. `Downloader::new` has checked them (`Config::check`); reading them
/// again fails only if they changed since, and then none are used: a server pardl no longer trusts,
/// or one that wants the missing client certificate, fails the requests; none is sent with less
/// checking than asked for.
fn user_tls(config: &Config) -> UserTls {
    config.user_tls().unwrap_or_else(|message| {
        log::error!("{message}; going on without the certificate files");
        UserTls::default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_trust_store_is_read_only_for_the_first_https_request_or_a_proxy() {
        let config = Config {
            proxy_from_env: false,
            ..Config::default()
        };
        let agents = Agents::new(&config);
        let plain = agents.for_url("http://127.0.0.1:1/a", &config) as *const Agent;
        assert_eq!(
            agents.for_url("HTTP://127.0.0.1:1/b", &config) as *const Agent,
            plain
        );
        assert!(!agents.has_secure());
        let secure = agents.for_url("https://127.0.0.1:1/a", &config) as *const Agent;
        assert_ne!(secure, plain);
        assert!(agents.has_secure());
        assert_eq!(
            agents.for_url("https://example.com/", &config) as *const Agent,
            secure
        );

        let proxied = Config {
            proxy: Some("http://127.0.0.1:1".to_string()),
            ..config
        };
        let agents = Agents::new(&proxied);
        agents.for_url("http://127.0.0.1:1/a", &proxied);
        assert!(agents.has_secure());
    }
}
