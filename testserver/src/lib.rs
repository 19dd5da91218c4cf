//! An in-process HTTP/1.1 test server with fault injection, for pardl's
//! integration tests, demo and benchmarks.
//!
//! [`TestServer::start`] binds `127.0.0.1` on a free port and serves files
//! you register with [`TestServer::add`]: either fixed bytes or a
//! deterministic [pattern](pattern_bytes) generated on the fly (so a 1 GiB
//! file costs no memory). Each path has a [`Behaviour`] that turns on faults:
//! no range support, no `Content-Length`, chunked framing, a speed cap (and
//! a lower one for chosen responses: a straggler), a forced error status; and, for the first K responses only, error statuses
//! with `Retry-After`, connection resets and clean truncations after exactly
//! N body bytes, stalls, a `Content-Range` for the wrong bytes; after N
//! requests, ranges no longer honoured or the file changed (`ETag`,
//! `Last-Modified` and `If-Range` are supported); a cap on concurrent
//! responses; redirects ([`TestServer::redirect`]). [`Stats`] and
//! [`RequestRecord`]s let a test prove what the client really did: how many
//! connections it held open at once, how many chunks of one file it fetched
//! concurrently, which ranges it asked for, and exactly which faults it met.
//!
//! [`TestServer::start_tls`] serves the same files and faults over HTTPS,
//! with certificates made at test time by a [`TestCa`] (a private CA that
//! also issues client certificates for mutual TLS, see [`ServerTls`]), and
//! [`TestProxy`] is a `CONNECT` proxy that records every tunnel it opens.
//!
//! # Why hand-written
//!
//! pardl is built on blocking threads, and so is this server: plain
//! [`std::net::TcpListener`], one thread per connection, no async runtime.
//! Its only dependencies serve the TLS mode: rustls on the server side (the
//! same request loop runs on a TCP stream or a rustls `StreamOwned`) and
//! rcgen for the certificates. More importantly, a downloader's tests need a server
//! that misbehaves *precisely*: lie in `Content-Length`, drop the connection
//! half-way through a body, send the wrong `Content-Range`, stall. Writing
//! the status line, headers and every body slice by hand gives that control;
//! ready-made servers (tiny_http, httpmock, wiremock) do the framing for you
//! and cannot be made to get it wrong on purpose.
//!
//! # Example
//!
//! ```
//! use pardl_testserver::{Behaviour, Body, TestServer};
//! use std::io::{Read, Write};
//! use std::net::TcpStream;
//!
//! let server = TestServer::start();
//! server.add("/hello.txt", Body::from("hello, world"), Behaviour::default());
//!
//! let mut stream = TcpStream::connect(server.addr()).unwrap();
//! stream
//!     .write_all(b"GET /hello.txt HTTP/1.1\r\nHost: x\r\nRange: bytes=7-\r\nConnection: close\r\n\r\n")
//!     .unwrap();
//! let mut response = String::new();
//! stream.read_to_string(&mut response).unwrap();
//!
//! assert!(response.starts_with("HTTP/1.1 206 Partial Content\r\n"));
//! assert!(response.contains("Content-Range: bytes 7-11/12\r\n"));
//! assert!(response.ends_with("\r\n\r\nworld"));
//! assert_eq!(server.requests_for("/hello.txt")[0].range.as_deref(), Some("bytes=7-"));
//! ```
//!
//! # Logging
//!
//! Silent by default (tests capture output). Set `PARDL_TESTSERVER_LOG=1` to
//! get one line per request on stderr.

mod behaviour;
mod conn;
mod fault;
mod http;
mod pattern;
mod proxy;
mod stats;
mod tls;

use std::collections::HashMap;
use std::fmt;
use std::net::{Ipv4Addr, Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::{self, JoinHandle};
use std::time::Duration;

pub use behaviour::{
    Behaviour, Body, ChangeAfter, Cut, FailAfter, FailFirst, MaxConcurrent, Redirect, Slow, Stall,
    Version,
};
pub use fault::Fault;
pub use pattern::{pattern_byte, pattern_bytes, pattern_fill};
pub use proxy::TestProxy;
pub use stats::{PathStats, RequestRecord, Stats};
pub use tls::{Identity, ServerTls, TestCa};

use fault::RouteState;
use stats::StatsState;

/// A registered file. Shared by `Arc` so [`TestServer::add`] can replace a
/// route while responses from the old one are still being written.
pub(crate) struct Route {
    pub body: Body,
    pub behaviour: Behaviour,
    /// Fault budgets and gauges: fresh for each [`TestServer::add`], carried
    /// over by [`TestServer::replace`].
    pub state: Arc<RouteState>,
}

impl Route {
    /// The body and validators to serve: the original, or the
    /// [`change_after`](Behaviour::change_after) version once `changed`.
    pub(crate) fn content(&self, changed: bool) -> (&Body, Option<&str>, Option<&str>) {
        match &self.behaviour.change_after {
            Some(change) if changed => (
                &change.version.body,
                change.version.etag.as_deref(),
                change.version.last_modified.as_deref(),
            ),
            _ => (
                &self.body,
                self.behaviour.etag.as_deref(),
                self.behaviour.last_modified.as_deref(),
            ),
        }
    }
}

/// State shared by the handle, the accept thread and connection threads.
pub(crate) struct Shared {
    routes: Mutex<HashMap<String, Arc<Route>>>,
    stats: Mutex<StatsState>,
    /// Open connections, so Drop can shut them down instead of leaving their
    /// threads blocked until the idle timeout.
    conns: Mutex<HashMap<u64, TcpStream>>,
    pub stopping: AtomicBool,
    log: bool,
    addr: SocketAddr,
    /// The TLS mode's configuration; `None` serves plain HTTP.
    tls: Option<Arc<rustls::ServerConfig>>,
}

/// Locks ignoring poison: a panicking connection thread must not turn every
/// later assertion into a confusing PoisonError. The data are counters and
/// maps that stay consistent between statements.
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Shared {
    pub(crate) fn stats(&self) -> MutexGuard<'_, StatsState> {
        lock(&self.stats)
    }

    pub(crate) fn conns(&self) -> MutexGuard<'_, HashMap<u64, TcpStream>> {
        lock(&self.conns)
    }

    pub(crate) fn route(&self, path: &str) -> Option<Arc<Route>> {
        lock(&self.routes).get(path).cloned()
    }

    pub(crate) fn log(&self, args: fmt::Arguments<'_>) {
        if self.log {
            eprintln!("pardl-testserver {}: {args}", self.addr);
        }
    }
}

/// Paths are given with a leading '/', but a missing one is harmless to add.
fn normalise(path: &str) -> String {
    if path.starts_with('/') {
        path.to_owned()
    } else {
        format!("/{path}")
    }
}

/// A running server. Dropping it stops accepting, closes open connections
/// and joins the accept thread; it never hangs.
pub struct TestServer {
    shared: Arc<Shared>,
    addr: SocketAddr,
    accept_thread: Option<JoinHandle<()>>,
}

impl TestServer {
    /// Binds `127.0.0.1` on a free port and starts serving in background
    /// threads. No paths are registered yet: everything is 404 until
    /// [`add`](TestServer::add).
    ///
    /// # Panics
    ///
    /// If the socket cannot be bound or the accept thread cannot be spawned;
    /// this is a test helper, and there is nothing useful a test could do
    /// with the error.
    pub fn start() -> TestServer {
        TestServer::start_with(None)
    }

    /// Like [`start`](TestServer::start), but speaking HTTPS with `tls`'s
    /// certificate: [`url`](TestServer::url) gives `https://127.0.0.1:PORT`
    /// URLs, and every behaviour and fault works as over plain HTTP (a reset
    /// cuts the TLS stream after exactly N body bytes; a clean close sends
    /// TLS's `close_notify` first). A client that does not trust the
    /// certificate, or lacks the client certificate
    /// [`ServerTls::require_client_cert`] asks for, fails its handshake; the
    /// connection is counted but no request is recorded.
    pub fn start_tls(tls: ServerTls) -> TestServer {
        TestServer::start_with(Some(tls.server_config()))
    }

    fn start_with(tls: Option<Arc<rustls::ServerConfig>>) -> TestServer {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
            .unwrap_or_else(|e| panic!("pardl-testserver: cannot bind 127.0.0.1:0: {e}"));
        let addr = listener
            .local_addr()
            .unwrap_or_else(|e| panic!("pardl-testserver: no local address for listener: {e}"));
        let log = std::env::var("PARDL_TESTSERVER_LOG").is_ok_and(|v| !v.is_empty() && v != "0");
        let shared = Arc::new(Shared {
            routes: Mutex::new(HashMap::new()),
            stats: Mutex::new(StatsState::default()),
            conns: Mutex::new(HashMap::new()),
            stopping: AtomicBool::new(false),
            log,
            addr,
            tls,
        });
        let accept_shared = Arc::clone(&shared);
        let accept_thread = thread::Builder::new()
            .name(format!("testserver-accept-{}", addr.port()))
            .spawn(move || accept_loop(listener, accept_shared))
            .unwrap_or_else(|e| panic!("pardl-testserver: cannot spawn accept thread: {e}"));
        TestServer {
            shared,
            addr,
            accept_thread: Some(accept_thread),
        }
    }

    /// `http://127.0.0.1:PORT` (`https://` in the TLS mode) followed by
    /// `path` (which should start with `/`; one is inserted if it does not).
    pub fn url(&self, path: &str) -> String {
        let scheme = if self.shared.tls.is_some() {
            "https"
        } else {
            "http"
        };
        format!("{scheme}://{}{}", self.addr, normalise(path))
    }

    /// The address the server listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Serves `body` at `path` with `behaviour`, replacing any earlier
    /// registration. Safe while requests are running: responses already
    /// started finish with the old content. Fault budgets ("the first K
    /// responses") start afresh.
    pub fn add(&self, path: &str, body: Body, behaviour: Behaviour) {
        let route = Arc::new(Route {
            body,
            behaviour,
            state: Arc::default(),
        });
        lock(&self.shared.routes).insert(normalise(path), route);
    }

    /// Changes the file at `path` to `version`: its body, and its `ETag` and
    /// `Last-Modified` in place of the behaviour's
    /// [`etag`](Behaviour::etag) and
    /// [`last_modified`](Behaviour::last_modified) (`None` stops sending
    /// one). Every other knob stays, and unlike [`add`](TestServer::add) the
    /// fault budgets and request counts carry on, so a fault that has
    /// already fired does not fire again. Responses already started finish
    /// with the old content; a pending
    /// [`change_after`](Behaviour::change_after) still takes over after its
    /// count.
    ///
    /// # Panics
    ///
    /// If nothing is registered at `path`: a typo would otherwise make the
    /// test pass against a 404.
    pub fn replace(&self, path: &str, version: Version) {
        let path = normalise(path);
        let mut routes = lock(&self.shared.routes);
        let Some(old) = routes.get(&path) else {
            panic!("pardl-testserver: replace({path:?}): no file registered there");
        };
        let route = Arc::new(Route {
            body: version.body,
            behaviour: Behaviour {
                etag: version.etag,
                last_modified: version.last_modified,
                ..old.behaviour.clone()
            },
            state: Arc::clone(&old.state),
        });
        routes.insert(path, route);
    }

    /// Makes `from` answer every GET and HEAD with `status` (`301`, `302`,
    /// `303`, `307`, `308`) and `Location: to`, sent exactly as given: a
    /// path (`/b`), a relative reference, or an absolute URL such as
    /// `server.url("/b")`. Replaces any registration at `from`. Chains are
    /// built one hop at a time, and `a -> b -> a` makes a loop. Shorthand for
    /// [`add`](TestServer::add) with [`Behaviour::redirect`], which can be
    /// combined with other faults.
    pub fn redirect(&self, from: &str, to: &str, status: u16) {
        self.add(from, Body::from(""), Behaviour::new().redirect(status, to));
    }

    /// A snapshot of the counters.
    pub fn stats(&self) -> Stats {
        self.shared.stats().snapshot()
    }

    /// Every request for `path` (query string removed) answered since start
    /// or the last [`reset_stats`](TestServer::reset_stats), in arrival order.
    pub fn requests_for(&self, path: &str) -> Vec<RequestRecord> {
        self.shared.stats().records_for(&normalise(path))
    }

    /// Zeroes [`Stats`] and forgets recorded requests, e.g. between the
    /// phases of one test. Connections and responses still open keep being
    /// tracked, so the peaks restart at what is open right now (and a path
    /// with a response in flight keeps a `per_path` entry with 0 requests).
    /// Fault budgets are not stats and are not reset: re-[`add`](TestServer::add)
    /// the path for that.
    pub fn reset_stats(&self) {
        self.shared.stats().reset();
    }
}

/// Stops an accept loop that checks `stopping` after each connection: sets the flag, then wakes the
/// blocked `accept()` with a throwaway connection so it sees the flag and returns, and joins it. If
/// even that connect fails, the thread is detached rather than risk hanging the test in `join()`.
fn stop_accepting(stopping: &AtomicBool, addr: SocketAddr, thread: Option<JoinHandle<()>>) {
    stopping.store(true, Ordering::SeqCst);
    let woken = TcpStream::connect_timeout(&addr, Duration::from_secs(1)).is_ok();
    if let (Some(handle), true) = (thread, woken) {
        let _ = handle.join();
    }
}

impl fmt::Debug for TestServer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TestServer")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        stop_accepting(&self.shared.stopping, self.addr, self.accept_thread.take());
        // After the join no new connection can be registered. Shutting the
        // sockets down makes blocked reads return and writes fail, so
        // connection threads end now instead of after the idle timeout.
        for (_, stream) in self.shared.conns().drain() {
            let _ = stream.shutdown(Shutdown::Both);
        }
    }
}

fn accept_loop(listener: TcpListener, shared: Arc<Shared>) {
    let mut next_id = 0u64;
    for incoming in listener.incoming() {
        if shared.stopping.load(Ordering::SeqCst) {
            break;
        }
        let stream = match incoming {
            Ok(stream) => stream,
            Err(e) => {
                // Typically EMFILE or ECONNABORTED: transient, and spinning
                // on it would starve the rest of the test.
                shared.log(format_args!("accept failed: {e}"));
                thread::sleep(Duration::from_millis(10));
                continue;
            }
        };
        next_id += 1;
        // Counted here, before the thread exists, so a test that has
        // connected and got a response always sees its connection counted.
        shared.stats().connection_opened();
        if let Ok(clone) = stream.try_clone() {
            shared.conns().insert(next_id, clone);
        }
        let guard = conn::ConnGuard {
            shared: Arc::clone(&shared),
            id: next_id,
        };
        // If spawning fails the closure is dropped, and with it `guard`
        // (undoing the counting above) and `stream` (closing it).
        let tls = shared.tls.clone();
        let spawned = thread::Builder::new()
            .name(format!("testserver-conn-{next_id}"))
            .spawn(move || serve_connection(stream, tls, guard));
        if let Err(e) = spawned {
            shared.log(format_args!("cannot spawn connection thread: {e}"));
        }
    }
}

/// Serves one accepted connection on its own thread, in TLS when `tls` is
/// set (the handshake happens on the first read, on this thread).
fn serve_connection(
    stream: TcpStream,
    tls: Option<Arc<rustls::ServerConfig>>,
    guard: conn::ConnGuard,
) {
    // Failures here only lose a timeout or a latency tweak; serve anyway.
    let _ = stream.set_read_timeout(Some(conn::IDLE_TIMEOUT));
    let _ = stream.set_write_timeout(Some(conn::WRITE_TIMEOUT));
    // Headers and body go out as separate writes; without NODELAY, Nagle plus
    // delayed ACK can add 40 ms to every small keep-alive response.
    let _ = stream.set_nodelay(true);
    match tls {
        None => conn::handle_connection(stream, guard),
        Some(config) => match rustls::ServerConnection::new(config) {
            Ok(session) => {
                conn::handle_connection(rustls::StreamOwned::new(session, stream), guard)
            }
            Err(e) => guard.shared.log(format_args!("cannot start TLS: {e}")),
        },
    }
}
