//! One thread per TCP connection: read a request, plan the response from
//! the path's [`Body`] and [`Behaviour`], write it slice by
//! slice, repeat while keep-alive allows.
//!
//! Responses are planned first ([`Plan`]) and written second so the framing
//! and fault decisions live in one place ([`plan`]); the body faults (a
//! stall, a reset or a clean close before the announced length) are carried
//! out by the slice loop in [`send_file`].

use std::fmt::Write as _;
use std::io::{self, BufReader, Read, Write};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use crate::behaviour::{Behaviour, Stall};
use crate::fault::{claim, prepare_reset, Budgets, Slot};
use crate::http::{
    if_range_matches, parse_range, read_request, reason, RangeRequest, ReadError, Request,
};
use crate::tls::Wire;
use crate::{lock, Body, Fault, RequestRecord, Route, Shared};

/// Idle connections are closed after this, so a client that forgets a
/// keep-alive connection does not pin a thread for the life of the process.
pub(crate) const IDLE_TIMEOUT: Duration = Duration::from_secs(30);
/// A client that stops reading mid-body gets dropped after this.
pub(crate) const WRITE_TIMEOUT: Duration = Duration::from_secs(30);
/// Body slice when not rate-limited: big enough for ~GB/s on loopback.
const SLICE: usize = 64 * 1024;
/// Largest body slice when rate-limited; smaller slices pace more smoothly.
const RATE_SLICE: u64 = 16 * 1024;
/// How long to keep draining input after a close-delimited response (see
/// [`lingering_close`]).
const LINGER: Duration = Duration::from_secs(1);
/// A stalled response checks this often whether the server is being
/// dropped, so a long stall does not outlive its test.
const STALL_POLL: Duration = Duration::from_millis(50);

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
///
/// A `max_concurrent` slot is given back at the same moment, for the same
/// reason: a client sending its next request must not be refused because of
/// the response it has just received in full.
struct InFlight<'a> {
    shared: &'a Shared,
    path: &'a str,
    finished: bool,
    slot: Option<Slot>,
}

impl InFlight<'_> {
    fn finish(&mut self) {
        if !self.finished {
            self.finished = true;
            self.shared.stats().response_finished(self.path);
        }
        self.slot = None;
    }

    /// Writes `wire`, which carries `body_bytes` bytes of body, and counts
    /// them. Counted *before* the write for the same reason as above: once a
    /// client has a body, `bytes_sent` must include it. A failed write takes
    /// its slice back out.
    fn write(&self, out: &mut impl Write, wire: &[u8], body_bytes: u64) -> io::Result<()> {
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

/// How a cut body ends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum CutKind {
    /// RST: [`Behaviour::reset_after`].
    Reset,
    /// FIN: [`Behaviour::truncate`].
    Truncate,
}

/// What the connection does after a response.
enum Next {
    KeepAlive,
    /// Close cleanly (see [`lingering_close`]).
    Close,
    /// Reset (see [`prepare_reset`]).
    Reset,
}

enum Payload {
    /// A short text body (errors).
    Text(Vec<u8>),
    /// `len` bytes from `start` of the route's body, or of its
    /// `change_after` version when `changed`.
    File {
        route: Arc<Route>,
        changed: bool,
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
    /// Every fault injected, for the request record.
    faults: Vec<Fault>,
    /// Pause after this many body bytes (GET file responses only).
    stall: Option<Stall>,
    /// End the body after this many bytes, this way (GET file responses
    /// only; always fewer bytes than the payload).
    cut: Option<(u64, CutKind)>,
    /// The response's `max_concurrent` slot, handed to [`InFlight`].
    slot: Option<Slot>,
}

impl Plan {
    fn text(status: u16, text: String) -> Plan {
        Plan {
            status,
            headers: vec![("Content-Type", "text/plain; charset=utf-8".to_owned())],
            framing: Framing::ContentLength,
            payload: Payload::Text(text.into_bytes()),
            rate_limit: None,
            faults: Vec::new(),
            stall: None,
            cut: None,
            slot: None,
        }
    }

    fn error(status: u16) -> Plan {
        Plan::text(status, format!("{status} {}\n", reason(status)))
    }

    /// A status answered instead of the file: [`Behaviour::status`], a
    /// failure or a refusal. `total` is the length of the file it stands
    /// in for.
    fn forced(status: u16, total: u64, behaviour: &Behaviour, fault: Option<Fault>) -> Plan {
        let mut plan = Plan::error(status);
        if status == 416 {
            // RFC 9110 §15.5.17: a 416 should say how long the file is.
            plan.headers
                .push(("Content-Range", format!("bytes */{total}")));
        }
        if let Some(value) = &behaviour.retry_after {
            plan.headers.push(("Retry-After", value.clone()));
        }
        plan.faults.extend(fault);
        plan
    }
}

/// Per-connection state reused across requests.
struct Conn<W> {
    /// The connection, read through a buffer; responses are written to
    /// `io.get_mut()`, straight past it (HTTP/1.1 answers one request at a
    /// time, so nothing buffered is ever overtaken).
    io: BufReader<W>,
    /// Body slice buffer, filled from the pattern or copied from the Vec.
    buf: Vec<u8>,
    /// Chunked framing buffer: size line, data and CRLF go out in one write.
    frame: Vec<u8>,
}

/// Serves requests on `stream` until the client closes, asks to close, an
/// error occurs or the server is dropped. Errors end the connection quietly:
/// a client that hangs up mid-body is normal in a downloader's tests.
///
/// `stream` is plain TCP or TLS (whose handshake happens on the first read);
/// either way its socket's timeouts are set already.
pub(crate) fn handle_connection<W: Wire>(stream: W, guard: ConnGuard) {
    let shared = &*guard.shared;
    let mut conn = Conn {
        io: BufReader::new(stream),
        buf: vec![0; SLICE],
        frame: Vec::with_capacity(SLICE + 32),
    };

    loop {
        if shared.stopping.load(Ordering::SeqCst) {
            return;
        }
        let request = match read_request(&mut conn.io) {
            Ok(Some(request)) => request,
            Ok(None) => return,
            Err(ReadError::Io(e)) => {
                shared.log(format_args!("connection error while reading: {e}"));
                return;
            }
            Err(ReadError::Malformed(why)) => {
                shared.log(format_args!("400 for a malformed request: {why}"));
                let _ = send_bad_request(&mut conn, why);
                lingering_close(&mut conn.io);
                return;
            }
        };
        match serve(shared, &request, &mut conn) {
            Ok(Next::KeepAlive) => {}
            Ok(Next::Close) => {
                lingering_close(&mut conn.io);
                return;
            }
            Ok(Next::Reset) => {
                // The RST goes out when this thread drops the last
                // descriptor of the socket, on return.
                prepare_reset(conn.io.get_ref().tcp());
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
/// last bytes. So send FIN (after TLS's `close_notify`) first, then drain
/// until the client closes too.
fn lingering_close<W: Wire>(reader: &mut BufReader<W>) {
    if reader.get_mut().finish_sending().is_err() {
        return;
    }
    let _ = reader.get_ref().tcp().set_read_timeout(Some(LINGER));
    let deadline = Instant::now() + LINGER;
    let mut scratch = [0u8; 4096];
    while Instant::now() < deadline {
        match reader.read(&mut scratch) {
            Ok(0) | Err(_) => break,
            Ok(_) => {}
        }
    }
}

fn send_bad_request<W: Wire>(conn: &mut Conn<W>, why: &str) -> io::Result<()> {
    let body = format!("400 Bad Request: {why}\n");
    let head = format!(
        "HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain; charset=utf-8\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    conn.io.get_mut().write_all(head.as_bytes())?;
    conn.io.get_mut().write_all(body.as_bytes())
}

/// Decides status, headers, framing, payload and faults for `request`, in
/// the order documented on [`Behaviour`] ("Combining faults").
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
    // One lock for every decision about this request, so concurrent chunk
    // requests spend each budget exactly (K faults in total, not K per
    // connection) and never interleave their claims across budgets.
    let mut budgets = lock(&route.state.budgets);
    let seq = budgets.requests;
    budgets.requests += 1;
    let changed = behaviour
        .change_after
        .as_ref()
        .is_some_and(|change| seq >= change.requests);
    let (body, etag, last_modified) = route.content(changed);
    let total = body.len();

    // 1. A status instead of the file.
    if let Some(status) = behaviour.status {
        return Plan::forced(status, total, behaviour, None);
    }
    if let Some(fail) = behaviour.fail_first {
        if claim(&mut budgets.failed_first, fail.times) {
            let fault = Fault::Status(fail.status);
            return Plan::forced(fail.status, total, behaviour, Some(fault));
        }
    }
    if let Some(fail) = behaviour.fail_after {
        if seq >= fail.requests {
            let fault = Fault::Status(fail.status);
            return Plan::forced(fail.status, total, behaviour, Some(fault));
        }
    }
    // 2. A redirect.
    if let Some(redirect) = &behaviour.redirect {
        let mut plan = Plan::error(redirect.status);
        plan.headers.push(("Location", redirect.location.clone()));
        return plan;
    }
    // 3. Too many at once. The slot itself is taken at the end, for file
    // responses only; holding the lock until then keeps check and take
    // atomic.
    if let Some(max) = behaviour.max_concurrent {
        if route.state.active() >= max.limit {
            let fault = Fault::Refused(max.status);
            return Plan::forced(max.status, total, behaviour, Some(fault));
        }
    }

    // 4. The range. RFC 9110 §13.1.5: an If-Range that does not match the
    // current version means "send me the whole new file", not an error.
    let mut faults = Vec::new();
    let if_range_holds = request
        .header("if-range")
        .is_none_or(|value| if_range_matches(value, etag, last_modified));
    let mut range = match request.header("range") {
        Some(value) if !behaviour.ignore_range && if_range_holds => parse_range(value, total),
        _ => RangeRequest::Full,
    };
    let mut accept_ranges = !behaviour.ignore_range;
    if let Some(honoured) = behaviour.ignore_range_after {
        if budgets.ranges_honoured >= honoured {
            accept_ranges = false;
            if range != RangeRequest::Full {
                faults.push(Fault::RangeIgnored);
                range = RangeRequest::Full;
            }
        } else if range != RangeRequest::Full {
            budgets.ranges_honoured += 1;
        }
    }

    let mut headers = vec![("Content-Type", "application/octet-stream".to_owned())];
    if accept_ranges {
        headers.push(("Accept-Ranges", "bytes".to_owned()));
    }
    let (status, start, len) = match range {
        RangeRequest::Full => (200, 0, total),
        RangeRequest::Partial { mut start, mut end } => {
            let open_ended = request
                .header("range")
                .is_some_and(|value| value.trim_end().ends_with('-'));
            if let Some(cap) = behaviour.cap_open_range.filter(|_| open_ended) {
                end = end.min(start + cap - 1);
            }
            if let Some(times) = behaviour.wrong_content_range {
                if let Some((s, e)) = shifted(start, end, total) {
                    if claim(&mut budgets.wrong_ranges, times) {
                        (start, end) = (s, e);
                        faults.push(Fault::WrongRange { start, end });
                    }
                }
            }
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
    if let Some(etag) = etag {
        headers.push(("ETag", etag.to_owned()));
    }
    if let Some(last_modified) = last_modified {
        headers.push(("Last-Modified", last_modified.to_owned()));
    }
    if let Some(disposition) = &behaviour.content_disposition {
        headers.push(("Content-Disposition", disposition.clone()));
    }

    // 5. The body.
    let (stall, cut) = if request.method == "GET" {
        body_faults(behaviour, &mut budgets, len)
    } else {
        (None, None)
    };
    if let Some(stall) = stall {
        faults.push(Fault::Stall {
            after_bytes: stall.after_bytes,
            duration: stall.duration,
        });
    }
    match cut {
        Some((after_bytes, CutKind::Reset)) => faults.push(Fault::Reset { after_bytes }),
        Some((after_bytes, CutKind::Truncate)) => faults.push(Fault::Truncated { after_bytes }),
        None => {}
    }
    let mut rate_limit = behaviour.rate_limit;
    if request.method == "GET" && len > 0 {
        let body_seq = budgets.bodies;
        budgets.bodies += 1;
        if let Some(slow) = behaviour.slow {
            if body_seq >= slow.skip && body_seq - slow.skip < slow.times {
                rate_limit = Some(slow.rate);
                faults.push(Fault::Slow { rate: slow.rate });
            }
        }
    }
    let slot = behaviour.max_concurrent.map(|_| route.state.take_slot());
    drop(budgets);

    let framing = if behaviour.chunked {
        Framing::Chunked
    } else if behaviour.no_content_length {
        Framing::Close
    } else {
        Framing::ContentLength
    };
    Plan {
        status,
        headers,
        framing,
        payload: Payload::File {
            route: Arc::clone(&route),
            changed,
            start,
            len,
        },
        rate_limit,
        faults,
        stall,
        cut,
        slot,
    }
}

/// The range one byte off from `start..=end` in a file of `total` bytes:
/// one later if that fits, else one earlier; `None` for the whole file,
/// which has nowhere to go.
fn shifted(start: u64, end: u64, total: u64) -> Option<(u64, u64)> {
    if end + 1 < total {
        Some((start + 1, end + 1))
    } else if start > 0 {
        Some((start - 1, end - 1))
    } else {
        None
    }
}

/// Which stall and cut a GET body of `len` bytes gets, spending their
/// budgets. A fault only applies, and is only counted, where it can happen:
/// inside the body, and for a stall, not after the cut.
fn body_faults(
    behaviour: &Behaviour,
    budgets: &mut Budgets,
    len: u64,
) -> (Option<Stall>, Option<(u64, CutKind)>) {
    // The earlier cut first; if its budget is spent, the other one may
    // still apply. The sort is stable, so a tie goes to the reset.
    let mut cuts = [
        (behaviour.reset_after, CutKind::Reset),
        (behaviour.truncate, CutKind::Truncate),
    ];
    cuts.sort_by_key(|(cut, _)| cut.map_or(u64::MAX, |c| c.after_bytes));
    let mut chosen = None;
    for (cut, kind) in cuts {
        let Some(cut) = cut.filter(|c| c.after_bytes < len) else {
            continue;
        };
        let used = match kind {
            CutKind::Reset => &mut budgets.resets,
            CutKind::Truncate => &mut budgets.truncations,
        };
        if claim(used, cut.times) {
            chosen = Some((cut.after_bytes, kind));
            break;
        }
    }
    let stall = behaviour.stall_after.filter(|stall| {
        stall.after_bytes < len
            && chosen.is_none_or(|(at, _)| stall.after_bytes <= at)
            && claim(&mut budgets.stalls, stall.times)
    });
    (stall, chosen)
}

/// Answers one request and says what the connection does next.
fn serve<W: Wire>(shared: &Shared, request: &Request, conn: &mut Conn<W>) -> io::Result<Next> {
    let mut plan = plan(shared, request);
    let keep_alive = request.keep_alive()
        && plan.framing != Framing::Close
        && !shared.stopping.load(Ordering::SeqCst);

    shared.stats().response_started(RequestRecord {
        method: request.method.clone(),
        path: request.path.clone(),
        range: request.header("range").map(str::to_owned),
        status: plan.status,
        headers: request.headers.clone(),
        faults: plan.faults.clone(),
    });
    let mut in_flight = InFlight {
        shared,
        path: &request.path,
        finished: false,
        slot: plan.slot.take(),
    };
    shared.log(format_args!(
        "{} {}{} -> {} ({} body bytes){}",
        request.method,
        request.target,
        request
            .header("range")
            .map(|r| format!(" [Range: {r}]"))
            .unwrap_or_default(),
        plan.status,
        plan.payload.len(),
        if plan.faults.is_empty() {
            String::new()
        } else {
            format!(" faults: {:?}", plan.faults)
        }
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
    conn.io.get_mut().write_all(head.as_bytes())?;
    if body_follows {
        match &plan.payload {
            Payload::Text(text) => {
                in_flight.finish();
                in_flight.write(conn.io.get_mut(), text, text.len() as u64)?;
            }
            Payload::File {
                route,
                changed,
                start,
                len,
            } => send_file(
                conn,
                &mut in_flight,
                route.content(*changed).0,
                (*start, *len),
                plan.framing,
                plan.rate_limit,
                (plan.stall, plan.cut.map(|(at, _)| at)),
            )?,
        }
    }
    // A cut is only planned for a GET body longer than the cut, so it has
    // happened by now.
    Ok(match plan.cut {
        Some((_, CutKind::Reset)) => Next::Reset,
        Some((_, CutKind::Truncate)) => Next::Close,
        None if keep_alive => Next::KeepAlive,
        None => Next::Close,
    })
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

/// Sends nothing for `duration` (a [`Stall`]), waking up regularly so a
/// dropped server is not kept waiting. Returns how long it really paused.
fn pause(shared: &Shared, duration: Duration) -> io::Result<Duration> {
    let began = Instant::now();
    loop {
        if shared.stopping.load(Ordering::SeqCst) {
            return Err(io::Error::other("server stopped during a stall"));
        }
        let elapsed = began.elapsed();
        if elapsed >= duration {
            return Ok(elapsed);
        }
        thread::sleep((duration - elapsed).min(STALL_POLL));
    }
}

/// Writes `len` bytes of `body` from `start`, one slice at a time, so a
/// pattern body is never materialised and stats see progress as it happens.
///
/// `stall` pauses after its byte count; `cut` stops after that many bytes
/// without the chunked terminator (closing is the caller's business). Slices
/// are shortened to land exactly on both, so "N bytes, then the fault" is
/// exact.
fn send_file(
    conn: &mut Conn<impl Wire>,
    in_flight: &mut InFlight<'_>,
    body: &Body,
    (start, len): (u64, u64),
    framing: Framing,
    rate_limit: Option<u64>,
    (mut stall, cut): (Option<Stall>, Option<u64>),
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
    let end = cut.map_or(len, |at| at.min(len));

    let mut sent = 0u64;
    loop {
        if let Some(due) = stall.filter(|s| s.after_bytes == sent) {
            stall = None;
            let paused = pause(in_flight.shared, due.duration)?;
            // The pause is not bandwidth saved up: no burst afterwards.
            if let Some(pacer) = &mut pacer {
                pacer.start += paused;
            }
        }
        if sent == end {
            break;
        }
        let mut n = slice.min(usize::try_from(end - sent).unwrap_or(usize::MAX));
        if let Some(stall) = stall {
            // Past `sent` here, or it would just have fired.
            n = n.min(usize::try_from(stall.after_bytes - sent).unwrap_or(usize::MAX));
        }
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
        // The last write of the response, unless a stall still follows it
        // (a stall at the cut) or a chunked terminator does.
        let last = sent == end && stall.is_none() && (framing != Framing::Chunked || cut.is_some());
        if last {
            in_flight.finish();
        }
        if framing == Framing::Chunked {
            conn.frame.clear();
            let _ = write!(conn.frame, "{n:x}\r\n");
            conn.frame.extend_from_slice(data);
            conn.frame.extend_from_slice(b"\r\n");
            in_flight.write(conn.io.get_mut(), &conn.frame, n as u64)?;
        } else {
            in_flight.write(conn.io.get_mut(), data, n as u64)?;
        }
    }
    // Idempotent; covers a stall at the cut and a cut after 0 bytes.
    in_flight.finish();
    if framing == Framing::Chunked && cut.is_none() {
        conn.io.get_mut().write_all(b"0\r\n\r\n")?;
    }
    Ok(())
}
