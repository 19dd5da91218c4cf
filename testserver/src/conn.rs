//! One thread per TCP connection: read a request, plan the response from
//! the path's [`Body`] and [`Behaviour`](crate::Behaviour), write it slice by
//! slice, repeat while keep-alive allows.
//!
//! Responses are planned first ([`Plan`]) and written second so the framing
//! decisions live in one place; future faults (a lying `Content-Length`,
//! a reset mid-body, a stall) hook into the slice loop in [`send_file`].

use std::fmt::Write as _;
use std::io::{self, BufReader, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use crate::http::{parse_range, read_request, reason, RangeRequest, ReadError, Request};
use crate::{Body, RequestRecord, Route, Shared};

/// Idle connections are closed after this, so a client that forgets a
/// keep-alive connection does not pin a thread for the life of the process.
const IDLE_TIMEOUT: Duration = Duration::from_secs(30);
/// A client that stops reading mid-body gets dropped after this.
const WRITE_TIMEOUT: Duration = Duration::from_secs(30);
/// Body slice when not rate-limited: big enough for ~GB/s on loopback.
const SLICE: usize = 64 * 1024;
/// Largest body slice when rate-limited; smaller slices pace more smoothly.
const RATE_SLICE: u64 = 16 * 1024;
/// How long to keep draining input after a close-delimited response (see
/// [`lingering_close`]).
const LINGER: Duration = Duration::from_secs(1);

/// Keeps the open-connection gauge and the shutdown registry honest however
/// the connection thread ends (including a failed spawn, which drops it).
pub(crate) struct ConnGuard {
    pub shared: Arc<Shared>,
    pub id: u64,
}

impl Drop for ConnGuard {
    fn drop(&mut self) {
        self.shared.stats().connection_closed();
        self.shared.conns().remove(&self.id);
    }
}

/// Tracks one response in the in-flight gauges.
///
/// The response leaves the gauges just *before* its last write, not after:
/// a client can receive the final bytes before this thread runs again, and a
/// test that starts the next download at that moment must not see the old
/// response still "in flight" (a stale 2 in an `in_flight_peak == 1`
/// assertion). Dropping the guard finishes it too, for early exits.
struct InFlight<'a> {
    shared: &'a Shared,
    path: &'a str,
    finished: bool,
}

impl InFlight<'_> {
    fn finish(&mut self) {
        if !self.finished {
            self.finished = true;
            self.shared.stats().response_finished(self.path);
        }
    }

    /// Writes `wire`, which carries `body_bytes` bytes of body, and counts
    /// them. Counted *before* the write for the same reason as above: once a
    /// client has a body, `bytes_sent` must include it. A failed write takes
    /// its slice back out.
    fn write(&self, out: &mut TcpStream, wire: &[u8], body_bytes: u64) -> io::Result<()> {
        self.shared.stats().add_bytes(self.path, body_bytes);
        let result = out.write_all(wire);
        if result.is_err() {
            self.shared.stats().sub_bytes(self.path, body_bytes);
        }
        result
    }
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.finish();
    }
}

/// How the end of a body is signalled.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Framing {
    ContentLength,
    Chunked,
    /// No length at all: the body ends when the connection closes.
    Close,
}

enum Payload {
    /// A short text body (errors).
    Text(Vec<u8>),
    /// `len` bytes of the route's body from `start`.
    File {
        route: Arc<Route>,
        start: u64,
        len: u64,
    },
}

impl Payload {
    fn len(&self) -> u64 {
        match self {
            Payload::Text(t) => t.len() as u64,
            Payload::File { len, .. } => *len,
        }
    }
}

/// Everything decided about a response before the first byte is written.
struct Plan {
    status: u16,
    /// Headers other than framing (`Content-Length`, `Transfer-Encoding`)
    /// and `Connection`, which are derived from `framing`.
    headers: Vec<(&'static str, String)>,
    framing: Framing,
    payload: Payload,
    rate_limit: Option<u64>,
}

impl Plan {
    fn text(status: u16, text: String) -> Plan {
        Plan {
            status,
            headers: vec![("Content-Type", "text/plain; charset=utf-8".to_owned())],
            framing: Framing::ContentLength,
            payload: Payload::Text(text.into_bytes()),
            rate_limit: None,
        }
    }

    fn error(status: u16) -> Plan {
        Plan::text(status, format!("{status} {}\n", reason(status)))
    }
}

/// Per-connection state reused across requests.
struct Conn {
    out: TcpStream,
    /// Body slice buffer, filled from the pattern or copied from the Vec.
    buf: Vec<u8>,
    /// Chunked framing buffer: size line, data and CRLF go out in one write.
    frame: Vec<u8>,
}

/// Serves requests on `stream` until the client closes, asks to close, an
/// error occurs or the server is dropped. Errors end the connection quietly:
/// a client that hangs up mid-body is normal in a downloader's tests.
pub(crate) fn handle_connection(stream: TcpStream, guard: ConnGuard) {
    let shared = &*guard.shared;
    // Failures here only lose a timeout or a latency tweak; serve anyway.
    let _ = stream.set_read_timeout(Some(IDLE_TIMEOUT));
    let _ = stream.set_write_timeout(Some(WRITE_TIMEOUT));
    // Headers and body go out as separate writes; without NODELAY, Nagle plus
    // delayed ACK can add 40 ms to every small keep-alive response.
    let _ = stream.set_nodelay(true);
    let Ok(read_half) = stream.try_clone() else {
        return;
    };
    let mut reader = BufReader::new(read_half);
    let mut conn = Conn {
        out: stream,
        buf: vec![0; SLICE],
        frame: Vec::with_capacity(SLICE + 32),
    };

    loop {
        if shared.stopping.load(Ordering::SeqCst) {
            return;
        }
        let request = match read_request(&mut reader) {
            Ok(Some(request)) => request,
            Ok(None) => return,
            Err(ReadError::Io(e)) => {
                shared.log(format_args!("connection error while reading: {e}"));
                return;
            }
            Err(ReadError::Malformed(why)) => {
                shared.log(format_args!("400 for a malformed request: {why}"));
                let _ = send_bad_request(&mut conn, why);
                lingering_close(&conn.out, &mut reader);
                return;
            }
        };
        match serve(shared, &request, &mut conn) {
            Ok(true) => {}
            Ok(false) => {
                lingering_close(&conn.out, &mut reader);
                return;
            }
            Err(e) => {
                shared.log(format_args!(
                    "{} {}: connection ended mid-response: {e}",
                    request.method, request.target
                ));
                return;
            }
        }
    }
}

/// Closes a connection whose response ended by closing, without losing the
/// body's tail: if unread input is pending when a socket is closed, Linux
/// answers with RST, and the client may see a reset before it has read the
/// last bytes. So send FIN first, then drain until the client closes too.
fn lingering_close(out: &TcpStream, reader: &mut BufReader<TcpStream>) {
    if out.shutdown(Shutdown::Write).is_err() {
        return;
    }
    let _ = reader.get_ref().set_read_timeout(Some(LINGER));
    let deadline = Instant::now() + LINGER;
    let mut scratch = [0u8; 4096];
    while Instant::now() < deadline {
        match reader.read(&mut scratch) {
            Ok(0) | Err(_) => break,
            Ok(_) => {}
        }
    }
}

fn send_bad_request(conn: &mut Conn, why: &str) -> io::Result<()> {
    let body = format!("400 Bad Request: {why}\n");
    let head = format!(
        "HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain; charset=utf-8\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    conn.out.write_all(head.as_bytes())?;
    conn.out.write_all(body.as_bytes())
}

/// Decides status, headers, framing and payload for `request`.
fn plan(shared: &Shared, request: &Request) -> Plan {
    if request.method != "GET" && request.method != "HEAD" {
        let mut plan = Plan::error(405);
        plan.headers.push(("Allow", "GET, HEAD".to_owned()));
        return plan;
    }
    let Some(route) = shared.route(&request.path) else {
        return Plan::error(404);
    };
    let behaviour = &route.behaviour;
    if let Some(status) = behaviour.status {
        return Plan::error(status);
    }

    let total = route.body.len();
    let range = match request.header("range") {
        Some(value) if !behaviour.ignore_range => parse_range(value, total),
        _ => RangeRequest::Full,
    };

    let mut headers = vec![("Content-Type", "application/octet-stream".to_owned())];
    if !behaviour.ignore_range {
        headers.push(("Accept-Ranges", "bytes".to_owned()));
    }
    let (status, start, len) = match range {
        RangeRequest::Full => (200, 0, total),
        RangeRequest::Partial { start, end } => {
            headers.push(("Content-Range", format!("bytes {start}-{end}/{total}")));
            (206, start, end - start + 1)
        }
        RangeRequest::Unsatisfiable => {
            let mut plan = Plan::error(416);
            plan.headers
                .push(("Content-Range", format!("bytes */{total}")));
            plan.headers.push(("Accept-Ranges", "bytes".to_owned()));
            return plan;
        }
    };
    if let Some(etag) = &behaviour.etag {
        headers.push(("ETag", etag.clone()));
    }
    if let Some(disposition) = &behaviour.content_disposition {
        headers.push(("Content-Disposition", disposition.clone()));
    }
    let framing = if behaviour.chunked {
        Framing::Chunked
    } else if behaviour.no_content_length {
        Framing::Close
    } else {
        Framing::ContentLength
    };
    let rate_limit = behaviour.rate_limit;
    Plan {
        status,
        headers,
        framing,
        payload: Payload::File { route, start, len },
        rate_limit,
    }
}

/// Answers one request. `Ok(true)` means the connection may serve another.
fn serve(shared: &Shared, request: &Request, conn: &mut Conn) -> io::Result<bool> {
    let plan = plan(shared, request);
    let keep_alive = request.keep_alive()
        && plan.framing != Framing::Close
        && !shared.stopping.load(Ordering::SeqCst);

    shared.stats().response_started(RequestRecord {
        method: request.method.clone(),
        path: request.path.clone(),
        range: request.header("range").map(str::to_owned),
        status: plan.status,
        headers: request.headers.clone(),
    });
    let mut in_flight = InFlight {
        shared,
        path: &request.path,
        finished: false,
    };
    shared.log(format_args!(
        "{} {}{} -> {} ({} body bytes)",
        request.method,
        request.target,
        request
            .header("range")
            .map(|r| format!(" [Range: {r}]"))
            .unwrap_or_default(),
        plan.status,
        plan.payload.len()
    ));

    let mut head = format!("HTTP/1.1 {} {}\r\n", plan.status, reason(plan.status));
    for (name, value) in &plan.headers {
        let _ = write!(head, "{name}: {value}\r\n");
    }
    match plan.framing {
        Framing::ContentLength => {
            let _ = write!(head, "Content-Length: {}\r\n", plan.payload.len());
        }
        Framing::Chunked => head.push_str("Transfer-Encoding: chunked\r\n"),
        Framing::Close => {}
    }
    if !keep_alive {
        head.push_str("Connection: close\r\n");
    } else if request.http10 {
        head.push_str("Connection: keep-alive\r\n");
    }
    head.push_str("\r\n");

    // A chunked body always has at least its terminator to write.
    let body_follows =
        request.method != "HEAD" && (plan.payload.len() > 0 || plan.framing == Framing::Chunked);
    if !body_follows {
        in_flight.finish();
    }
    conn.out.write_all(head.as_bytes())?;
    if body_follows {
        match &plan.payload {
            Payload::Text(text) => {
                in_flight.finish();
                in_flight.write(&mut conn.out, text, text.len() as u64)?;
            }
            Payload::File { route, start, len } => send_file(
                conn,
                &mut in_flight,
                &route.body,
                (*start, *len),
                plan.framing,
                plan.rate_limit,
            )?,
        }
    }
    Ok(keep_alive)
}

/// Sleeps so that the bytes of a response go out no faster than `rate`
/// bytes per second on average since the response started.
struct Pacer {
    rate: u64,
    start: Instant,
    sent: u64,
}

impl Pacer {
    /// Waits until `n` more bytes may be sent. Waiting for the slice's *end*
    /// (not its start) keeps "bytes sent by time t" <= rate * t at every
    /// moment, so a client timing the transfer sees the full duration.
    fn wait_for(&mut self, n: u64) {
        self.sent += n;
        let due_nanos = u128::from(self.sent) * 1_000_000_000 / u128::from(self.rate);
        let due = Duration::from_nanos(u64::try_from(due_nanos).unwrap_or(u64::MAX));
        let elapsed = self.start.elapsed();
        if due > elapsed {
            thread::sleep(due - elapsed);
        }
    }
}

/// Writes `len` bytes of `body` from `start`, one slice at a time, so a
/// pattern body is never materialised and stats see progress as it happens.
fn send_file(
    conn: &mut Conn,
    in_flight: &mut InFlight<'_>,
    body: &Body,
    (start, len): (u64, u64),
    framing: Framing,
    rate_limit: Option<u64>,
) -> io::Result<()> {
    let (slice, mut pacer) = match rate_limit {
        Some(rate) => {
            let rate = rate.max(1);
            // ~10 slices per second, so pacing is smooth even at low rates.
            let slice = (rate / 10).clamp(1, RATE_SLICE);
            let pacer = Pacer {
                rate,
                start: Instant::now(),
                sent: 0,
            };
            (slice as usize, Some(pacer))
        }
        None => (SLICE, None),
    };

    let mut sent = 0u64;
    while sent < len {
        let n = slice.min(usize::try_from(len - sent).unwrap_or(usize::MAX));
        if let Some(pacer) = &mut pacer {
            pacer.wait_for(n as u64);
        }
        let offset = start + sent;
        let data: &[u8] = match body {
            // Straight from the Vec: no copy.
            Body::Bytes(bytes) => &bytes[offset as usize..offset as usize + n],
            Body::Pattern { .. } => {
                body.fill(offset, &mut conn.buf[..n]);
                &conn.buf[..n]
            }
        };
        sent += n as u64;
        if framing == Framing::Chunked {
            conn.frame.clear();
            let _ = write!(conn.frame, "{n:x}\r\n");
            conn.frame.extend_from_slice(data);
            conn.frame.extend_from_slice(b"\r\n");
            in_flight.write(&mut conn.out, &conn.frame, n as u64)?;
        } else {
            if sent == len {
                in_flight.finish();
            }
            in_flight.write(&mut conn.out, data, n as u64)?;
        }
    }
    if framing == Framing::Chunked {
        in_flight.finish();
        conn.out.write_all(b"0\r\n\r\n")?;
    }
    Ok(())
}
