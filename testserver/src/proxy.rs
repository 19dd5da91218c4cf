//! An HTTP proxy that only tunnels: it answers `CONNECT host:port` with
//! `200`, then copies bytes both ways, as corporate proxies do for HTTPS.
//! It never looks inside the tunnel, so a TLS client behind it still checks
//! the real server's certificate.
//!
//! Only targets on the loopback interface are tunnelled (anything else gets
//! `403`): tests never reach out of the machine, even through a proxy.

use std::io::{self, BufRead, BufReader, Write};
use std::net::{Ipv4Addr, Shutdown, SocketAddr, TcpListener, TcpStream, ToSocketAddrs};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::Duration;

use crate::http::read_request;
use crate::{lock, stop_accepting};

/// A running `CONNECT` proxy on `127.0.0.1`. Dropping it stops accepting
/// and closes every tunnel.
///
/// ```
/// use pardl_testserver::TestProxy;
///
/// let proxy = TestProxy::start();
/// assert!(proxy.url().starts_with("http://127.0.0.1:"));
/// assert!(proxy.tunnels().is_empty());
/// ```
pub struct TestProxy {
    addr: SocketAddr,
    shared: Arc<ProxyShared>,
    accept_thread: Option<JoinHandle<()>>,
}

struct ProxyShared {
    /// The `host:port` of every tunnel opened, in order.
    tunnels: Mutex<Vec<String>>,
    /// Every socket of every tunnel, so Drop can shut them down.
    sockets: Mutex<Vec<TcpStream>>,
    stopping: AtomicBool,
}

impl TestProxy {
    /// Binds `127.0.0.1` on a free port and starts tunnelling.
    ///
    /// # Panics
    ///
    /// If the socket cannot be bound or the thread cannot be spawned.
    pub fn start() -> TestProxy {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
            .unwrap_or_else(|e| panic!("pardl-testserver proxy: cannot bind: {e}"));
        let addr = listener
            .local_addr()
            .unwrap_or_else(|e| panic!("pardl-testserver proxy: no local address: {e}"));
        let shared = Arc::new(ProxyShared {
            tunnels: Mutex::new(Vec::new()),
            sockets: Mutex::new(Vec::new()),
            stopping: AtomicBool::new(false),
        });
        let accept_shared = Arc::clone(&shared);
        let accept_thread = thread::Builder::new()
            .name(format!("testproxy-accept-{}", addr.port()))
            .spawn(move || accept_loop(listener, accept_shared))
            .unwrap_or_else(|e| panic!("pardl-testserver proxy: cannot spawn: {e}"));
        TestProxy {
            addr,
            shared,
            accept_thread: Some(accept_thread),
        }
    }

    /// `http://127.0.0.1:PORT`, the value for `--proxy` or `HTTPS_PROXY`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The `host:port` of every tunnel opened so far, in order: one per
    /// connection the client made through the proxy.
    pub fn tunnels(&self) -> Vec<String> {
        lock(&self.shared.tunnels).clone()
    }
}

impl std::fmt::Debug for TestProxy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestProxy")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

impl Drop for TestProxy {
    fn drop(&mut self) {
        stop_accepting(&self.shared.stopping, self.addr, self.accept_thread.take());
        for socket in lock(&self.shared.sockets).drain(..) {
            let _ = socket.shutdown(Shutdown::Both);
        }
    }
}

fn accept_loop(listener: TcpListener, shared: Arc<ProxyShared>) {
    for (n, incoming) in listener.incoming().enumerate() {
        if shared.stopping.load(Ordering::SeqCst) {
            break;
        }
        let Ok(client) = incoming else {
            thread::sleep(Duration::from_millis(10));
            continue;
        };
        let shared = Arc::clone(&shared);
        let _ = thread::Builder::new()
            .name(format!("testproxy-conn-{n}"))
            .spawn(move || {
                let _ = tunnel(client, &shared);
            });
    }
}

/// Reads the `CONNECT` request, connects to its target, answers `200`, and
/// copies bytes both ways until both sides are done.
fn tunnel(client: TcpStream, shared: &ProxyShared) -> io::Result<()> {
    client.set_read_timeout(Some(Duration::from_secs(30)))?;
    let mut reader = BufReader::new(client.try_clone()?);
    let mut answer = client.try_clone()?;
    let request = match read_request(&mut reader) {
        Ok(Some(request)) => request,
        _ => return Ok(()),
    };
    if request.method != "CONNECT" {
        return answer.write_all(
            b"HTTP/1.1 405 Method Not Allowed\r\nAllow: CONNECT\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
        );
    }
    let target = request.target.clone();
    let loopback = target
        .to_socket_addrs()
        .map(|mut addrs| addrs.all(|addr| addr.ip().is_loopback()))
        .unwrap_or(false);
    if !loopback {
        return answer.write_all(
            b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
        );
    }
    let Ok(server) = TcpStream::connect(&target) else {
        return answer.write_all(
            b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
        );
    };
    client.set_read_timeout(None)?;
    {
        let mut sockets = lock(&shared.sockets);
        sockets.push(client.try_clone()?);
        sockets.push(server.try_clone()?);
    }
    lock(&shared.tunnels).push(target);
    answer.write_all(b"HTTP/1.1 200 Connection established\r\n\r\n")?;

    // Whatever the client sent after its request head belongs to the
    // tunnel: pass it on before the rest.
    let mut upstream = server.try_clone()?;
    let pending = reader.buffer().len();
    upstream.write_all(reader.buffer())?;
    reader.consume(pending);
    let client_to_server = thread::spawn(move || {
        let _ = io::copy(&mut reader, &mut upstream);
        let _ = upstream.shutdown(Shutdown::Write);
    });
    let mut downstream = server;
    let _ = io::copy(&mut downstream, &mut answer);
    let _ = answer.shutdown(Shutdown::Write);
    let _ = client_to_server.join();
    Ok(())
}
