//! Fault injection end to end, with the raw client from `common`: where each
//! fault cuts the body to the byte, how many responses it hits (exactly K,
//! also under concurrency), and what it leaves in the request log and the
//! counters. Timing is only ever checked as a lower bound.

mod common;

use std::io::Read;
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use common::{get, pattern_server, Client, Ending, RESET_ENDING, SEED};
use pardl_testserver::{pattern_bytes, Behaviour, Body, Cut, Fault, TestServer, Version};

const DATE_V1: &str = "Wed, 21 Oct 2015 07:28:00 GMT";
const DATE_V2: &str = "Thu, 22 Oct 2015 07:28:00 GMT";

/// The faults recorded for each request of `path`, in order.
fn faults(server: &TestServer, path: &str) -> Vec<Vec<Fault>> {
    server
        .requests_for(path)
        .into_iter()
        .map(|r| r.faults)
        .collect()
}

/// Sends a GET on a fresh connection, reads the head and then everything
/// until the server closes.
fn get_until_closed(
    server: &TestServer,
    path: &str,
    headers: &[(&str, &str)],
) -> (common::Response, Vec<u8>, Ending) {
    let mut client = Client::connect(server);
    client.send("GET", path, headers);
    let head = client.receive(true);
    let (body, ending) = client.read_until_closed();
    (head, body, ending)
}

#[test]
fn reset_after_cuts_exactly_then_later_responses_are_whole() {
    let len = 1_000_000u64;
    let server = pattern_server(len, Behaviour::new().reset_after(100_000, 2));

    // A 200 cut after exactly 100 000 bytes, announced in full.
    let (head, body, ending) = get_until_closed(&server, "/f", &[]);
    assert_eq!(head.status, 200);
    assert_eq!(head.header("content-length"), Some("1000000"));
    assert_eq!(body.len(), 100_000);
    assert_eq!(body, pattern_bytes(SEED, 0, 100_000));
    assert_eq!(ending, RESET_ENDING);

    // A 206 is cut the same way, counting from the start of its body.
    let (head, body, ending) = get_until_closed(&server, "/f", &[("Range", "bytes=500000-")]);
    assert_eq!(head.status, 206);
    assert_eq!(head.header("content-length"), Some("500000"));
    assert_eq!(body, pattern_bytes(SEED, 500_000, 100_000));
    assert_eq!(ending, RESET_ENDING);

    // Budget spent: whole from now on, and keep-alive works again.
    let mut client = Client::connect(&server);
    for _ in 0..2 {
        let r = client.request("GET", "/f", &[]);
        assert_eq!(r.body, pattern_bytes(SEED, 0, len as usize));
    }

    let reset = Fault::Reset {
        after_bytes: 100_000,
    };
    assert_eq!(
        faults(&server, "/f"),
        [vec![reset.clone()], vec![reset], vec![], vec![]]
    );
    let stats = server.stats().path("/f");
    assert_eq!(stats.requests, 4);
    assert_eq!(stats.faults_injected, 2);
    assert_eq!(stats.faulty_responses, 2);
    assert_eq!(stats.bytes_sent, 2 * 100_000 + 2 * len);
    assert_eq!(server.stats().faults_injected, 2);
}

#[test]
fn reset_delivers_every_byte_before_it_even_to_a_late_reader() {
    // 8 MiB is more than the socket buffers hold, so when the server cuts,
    // part of it is still queued on the server's side. An abortive close
    // would throw that away; the server waits for delivery first. The sleep
    // only sets the scenario up: nothing here depends on how long it takes.
    let cut = 8u64 << 20;
    let server = pattern_server(64 << 20, Behaviour::new().reset_after(cut, 1));
    let mut client = Client::connect(&server);
    client.send("GET", "/f", &[]);
    thread::sleep(Duration::from_millis(100));
    assert_eq!(client.receive(true).status, 200);
    let (body, ending) = client.read_until_closed();
    assert_eq!(body.len() as u64, cut);
    assert!(body == pattern_bytes(SEED, 0, cut as usize));
    assert_eq!(ending, RESET_ENDING);
}

#[test]
fn reset_after_zero_bytes_sends_only_the_head() {
    let server = pattern_server(5000, Behaviour::new().reset_after(0, 1));
    let (head, body, ending) = get_until_closed(&server, "/f", &[]);
    assert_eq!(head.status, 200);
    assert_eq!(head.header("content-length"), Some("5000"));
    assert!(body.is_empty());
    assert_eq!(ending, RESET_ENDING);
    assert_eq!(get(&server, "/f", &[]).body, pattern_bytes(SEED, 0, 5000));
    assert_eq!(server.stats().path("/f").bytes_sent, 5000);
}

#[test]
fn cut_budget_is_not_spent_on_responses_it_cannot_hit() {
    let server = pattern_server(100_000, Behaviour::new().reset_after(10_000, 1));
    let mut client = Client::connect(&server);
    // No body to cut, and a body too short to reach the cut: both whole.
    assert_eq!(client.request("HEAD", "/f", &[]).status, 200);
    let r = client.request("GET", "/f", &[("Range", "bytes=0-9999")]);
    assert_eq!(r.body, pattern_bytes(SEED, 0, 10_000));
    // The first response long enough is the one cut.
    client.send("GET", "/f", &[("Range", "bytes=0-10000")]);
    assert_eq!(client.receive(true).status, 206);
    let (body, ending) = client.read_until_closed();
    assert_eq!((body.len(), ending), (10_000, RESET_ENDING));

    assert_eq!(
        faults(&server, "/f"),
        [
            vec![],
            vec![],
            vec![Fault::Reset {
                after_bytes: 10_000
            }]
        ]
    );
}

#[test]
fn concurrent_requests_share_one_budget() {
    // 8 chunk requests at once against a budget of 3: exactly 3 are cut,
    // not 3 per connection, whichever connections they are.
    let server = Arc::new(pattern_server(
        80_000,
        Behaviour::new().reset_after(1000, 3),
    ));
    let handles: Vec<_> = (0..8u64)
        .map(|i| {
            let server = Arc::clone(&server);
            thread::spawn(move || {
                let start = i * 10_000;
                let range = format!("bytes={start}-{}", start + 9_999);
                // Connection: close, so whole bodies end with EOF too.
                let headers = [("Range", range.as_str()), ("Connection", "close")];
                let (head, body, ending) = get_until_closed(&server, "/f", &headers);
                assert_eq!(head.status, 206);
                let want = if body.len() == 1000 { 1000 } else { 10_000 };
                assert_eq!(body, pattern_bytes(SEED, start, want));
                (body.len() == 1000, ending)
            })
        })
        .collect();
    let results: Vec<(bool, Ending)> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    let cut = results.iter().filter(|(cut, _)| *cut).count();
    assert_eq!(cut, 3);
    for (was_cut, ending) in &results {
        let want = if *was_cut { RESET_ENDING } else { Ending::Eof };
        assert_eq!(*ending, want);
    }
    let stats = server.stats().path("/f");
    assert_eq!((stats.requests, stats.faults_injected), (8, 3));
    assert_eq!(stats.bytes_sent, 3 * 1000 + 5 * 10_000);
}

#[test]
fn truncate_closes_cleanly_after_exact_bytes() {
    let server = pattern_server(100_000, Behaviour::new().truncate(12_345, 1));
    let (head, body, ending) = get_until_closed(&server, "/f", &[]);
    assert_eq!(head.status, 200);
    assert_eq!(head.header("content-length"), Some("100000"));
    // The truncation does not announce itself.
    assert!(head.header("connection").is_none());
    assert_eq!(body, pattern_bytes(SEED, 0, 12_345));
    assert_eq!(ending, Ending::Eof);

    assert_eq!(
        get(&server, "/f", &[]).body,
        pattern_bytes(SEED, 0, 100_000)
    );
    assert_eq!(
        faults(&server, "/f"),
        [
            vec![Fault::Truncated {
                after_bytes: 12_345
            }],
            vec![]
        ]
    );
}

/// Decodes a chunked body that may stop anywhere: the data, and whether the
/// terminating chunk arrived.
fn decode_chunks(mut raw: &[u8]) -> (Vec<u8>, bool) {
    let mut data = Vec::new();
    loop {
        let Some(eol) = raw.windows(2).position(|w| w == b"\r\n") else {
            assert!(raw.is_empty(), "partial size line");
            return (data, false);
        };
        let size = usize::from_str_radix(std::str::from_utf8(&raw[..eol]).unwrap(), 16).unwrap();
        raw = &raw[eol + 2..];
        if size == 0 {
            assert_eq!(raw, b"\r\n");
            return (data, true);
        }
        data.extend_from_slice(&raw[..size]);
        assert_eq!(&raw[size..size + 2], b"\r\n");
        raw = &raw[size + 2..];
    }
}

#[test]
fn truncate_with_chunked_framing_omits_the_terminator() {
    let server = pattern_server(300_000, Behaviour::new().chunked().truncate(100_000, 1));
    let (head, raw, ending) = get_until_closed(&server, "/f", &[]);
    assert_eq!(head.header("transfer-encoding"), Some("chunked"));
    assert_eq!(ending, Ending::Eof);
    let (data, terminated) = decode_chunks(&raw);
    assert!(!terminated);
    assert_eq!(data, pattern_bytes(SEED, 0, 100_000));

    let r = get(&server, "/f", &[]);
    assert_eq!(r.body, pattern_bytes(SEED, 0, 300_000));
}

#[test]
fn stall_pauses_with_the_connection_open_then_continues() {
    let stall = Duration::from_millis(300);
    let server = pattern_server(20_000, Behaviour::new().stall_after(5000, stall, 1));
    let mut client = Client::connect(&server);
    let started = Instant::now();
    let r = client.request("GET", "/f", &[]);
    // Byte 5001 cannot leave before the stall ends, which began after the
    // request arrived: a lower bound whatever the machine's load.
    assert!(started.elapsed() >= stall, "took {:?}", started.elapsed());
    assert_eq!(r.status, 200);
    assert_eq!(r.body, pattern_bytes(SEED, 0, 20_000));

    // Same connection, budget spent: no stall recorded.
    let r = client.request("GET", "/f", &[("Range", "bytes=0-9999")]);
    assert_eq!(r.body, pattern_bytes(SEED, 0, 10_000));
    assert_eq!(server.stats().connections, 1);
    assert_eq!(
        faults(&server, "/f"),
        [
            vec![Fault::Stall {
                after_bytes: 5000,
                duration: stall
            }],
            vec![]
        ]
    );
}

#[test]
fn stall_then_close_combines_a_stall_and_a_cut_at_the_same_byte() {
    let stall = Duration::from_millis(200);
    let server = pattern_server(
        10_000,
        Behaviour::new()
            .stall_after(1000, stall, 1)
            .truncate(1000, 1),
    );
    let started = Instant::now();
    let (head, body, ending) = get_until_closed(&server, "/f", &[]);
    assert!(started.elapsed() >= stall);
    assert_eq!(head.header("content-length"), Some("10000"));
    assert_eq!((body, ending), (pattern_bytes(SEED, 0, 1000), Ending::Eof));
    assert_eq!(
        faults(&server, "/f"),
        [vec![
            Fault::Stall {
                after_bytes: 1000,
                duration: stall
            },
            Fault::Truncated { after_bytes: 1000 }
        ]]
    );
    // Two faults, one faulty response.
    let stats = server.stats().path("/f");
    assert_eq!((stats.faults_injected, stats.faulty_responses), (2, 1));
}

#[test]
fn rate_limited_stall_adds_to_the_paced_duration() {
    // 100 KiB at 200 KiB/s is >= 0.5 s; the stall adds 0.3 s on top rather
    // than being caught up by a burst.
    let server = pattern_server(
        100 * 1024,
        Behaviour::new().rate_limit(200 * 1024).stall_after(
            50 * 1024,
            Duration::from_millis(300),
            1,
        ),
    );
    let started = Instant::now();
    let r = get(&server, "/f", &[]);
    assert_eq!(r.body, pattern_bytes(SEED, 0, 100 * 1024));
    assert!(
        started.elapsed() >= Duration::from_millis(750),
        "took {:?}",
        started.elapsed()
    );
}

#[test]
fn fail_first_answers_the_status_k_times_with_retry_after() {
    let server = pattern_server(1000, Behaviour::new().fail_first(503, 2).retry_after("2"));
    let date = "Fri, 31 Dec 1999 23:59:59 GMT";
    server.add(
        "/date",
        Body::from("ok"),
        Behaviour::new().fail_first(429, 1).retry_after(date),
    );
    server.add(
        "/plain",
        Body::from("ok"),
        Behaviour::new().fail_first(500, 1),
    );

    let mut client = Client::connect(&server);
    for _ in 0..2 {
        let r = client.request("GET", "/f", &[("Range", "bytes=0-9")]);
        assert_eq!(r.status, 503);
        assert_eq!(r.header("retry-after"), Some("2"));
        assert!(r.header("content-range").is_none());
    }
    let r = client.request("GET", "/f", &[("Range", "bytes=0-9")]);
    assert_eq!(r.status, 206);
    assert!(r.header("retry-after").is_none());
    assert_eq!(r.body, pattern_bytes(SEED, 0, 10));

    // The raw value goes out as given: an HTTP date here.
    let r = client.request("HEAD", "/date", &[]);
    assert_eq!((r.status, r.header("retry-after")), (429, Some(date)));
    assert_eq!(client.request("GET", "/date", &[]).body, b"ok");

    // No retry_after, no header.
    let r = client.request("GET", "/plain", &[]);
    assert_eq!(r.status, 500);
    assert!(r.header("retry-after").is_none());

    assert_eq!(
        faults(&server, "/f"),
        [vec![Fault::Status(503)], vec![Fault::Status(503)], vec![]]
    );
    let stats = server.stats();
    assert_eq!(stats.path("/f").faults_injected, 2);
    assert_eq!(stats.path("/date").faults_injected, 1);
    assert_eq!(stats.faults_injected, 4);
    // Failed answers still kept the connection.
    assert_eq!(stats.connections, 1);
}

#[test]
fn fail_first_416_says_how_long_the_file_is() {
    let server = pattern_server(1234, Behaviour::new().fail_first(416, 1));
    let r = get(&server, "/f", &[("Range", "bytes=0-9")]);
    assert_eq!(r.status, 416);
    assert_eq!(r.header("content-range"), Some("bytes */1234"));
    assert_eq!(get(&server, "/f", &[("Range", "bytes=0-9")]).status, 206);
}

#[test]
fn fail_after_serves_n_requests_then_answers_the_status() {
    let server = pattern_server(100, Behaviour::new().fail_after(2, 403));
    let mut client = Client::connect(&server);
    let statuses: Vec<u16> = (0..4)
        .map(|_| client.request("GET", "/f", &[]).status)
        .collect();
    assert_eq!(statuses, [200, 200, 403, 403]);
    assert_eq!(server.stats().path("/f").faults_injected, 2);
}

#[test]
fn max_concurrent_refuses_the_extra_connection() {
    // 32 MiB is more than the socket buffers on the way can hold (a few MiB
    // each), so a response whose client reads nothing stays in flight until
    // it does: no timing involved.
    let len = 32u64 << 20;
    let server = pattern_server(
        len,
        Behaviour::new().max_concurrent(2, 503).retry_after("1"),
    );
    let mut a = Client::connect(&server);
    let mut b = Client::connect(&server);
    a.send("GET", "/f", &[]);
    b.send("GET", "/f", &[("Range", "bytes=1000-")]);
    // A head proves its response was planned, so its slot is taken.
    assert_eq!(a.receive(true).status, 200);
    assert_eq!(b.receive(true).status, 206);

    let mut c = Client::connect(&server);
    let refused = c.request("GET", "/f", &[]);
    assert_eq!(refused.status, 503);
    assert_eq!(refused.header("retry-after"), Some("1"));

    // Drain A: its slot is given back before its last byte, so C's retry
    // on the same connection is served.
    let mut rest = vec![0u8; len as usize];
    a.reader.read_exact(&mut rest).unwrap();
    assert_eq!(rest[..1000], pattern_bytes(SEED, 0, 1000)[..]);
    let r = c.request("GET", "/f", &[("Range", "bytes=0-99")]);
    assert_eq!(r.status, 206);
    assert_eq!(r.body, pattern_bytes(SEED, 0, 100));

    let stats = server.stats().path("/f");
    assert_eq!(stats.requests, 4);
    assert_eq!(stats.refusals, 1);
    assert_eq!(stats.faults_injected, 1);
    assert_eq!(stats.in_flight_peak, 3);
    let records = server.requests_for("/f");
    assert_eq!(records[2].faults, [Fault::Refused(503)]);
    assert_eq!(records[2].status, 503);
}

#[test]
fn max_concurrent_416_carries_a_content_range() {
    let server = pattern_server(500, Behaviour::new().max_concurrent(0, 416));
    let r = get(&server, "/f", &[("Range", "bytes=0-9")]);
    assert_eq!(r.status, 416);
    assert_eq!(r.header("content-range"), Some("bytes */500"));
    assert_eq!(server.stats().path("/f").refusals, 1);
}

#[test]
fn ignore_range_after_n_range_requests_answers_200_full() {
    let server = pattern_server(10_000, Behaviour::new().ignore_range_after(2));
    let mut client = Client::connect(&server);

    let r = client.request("GET", "/f", &[("Range", "bytes=0-99")]);
    assert_eq!((r.status, r.header("accept-ranges")), (206, Some("bytes")));
    // A request without Range is not counted.
    let r = client.request("GET", "/f", &[]);
    assert_eq!((r.status, r.header("accept-ranges")), (200, Some("bytes")));
    let r = client.request("GET", "/f", &[("Range", "bytes=100-199")]);
    assert_eq!(r.status, 206);
    assert_eq!(r.body, pattern_bytes(SEED, 100, 100));

    // Third range request: ignored, and ranges are no longer advertised.
    let r = client.request("GET", "/f", &[("Range", "bytes=200-299")]);
    assert_eq!(r.status, 200);
    assert!(r.header("content-range").is_none());
    assert!(r.header("accept-ranges").is_none());
    assert_eq!(r.body, pattern_bytes(SEED, 0, 10_000));
    let r = client.request("GET", "/f", &[]);
    assert!(r.header("accept-ranges").is_none());

    assert_eq!(
        faults(&server, "/f"),
        [vec![], vec![], vec![], vec![Fault::RangeIgnored], vec![]]
    );
    assert_eq!(server.stats().path("/f").faults_injected, 1);
}

#[test]
fn wrong_content_range_serves_a_range_one_byte_off() {
    let server = pattern_server(10_000, Behaviour::new().wrong_content_range(2));

    // One byte later, described truthfully.
    let r = get(&server, "/f", &[("Range", "bytes=1000-1999")]);
    assert_eq!(r.status, 206);
    assert_eq!(r.header("content-range"), Some("bytes 1001-2000/10000"));
    assert_eq!(r.header("content-length"), Some("1000"));
    assert_eq!(r.body, pattern_bytes(SEED, 1001, 1000));

    // The whole file has nowhere to go: correct, budget not spent.
    let r = get(&server, "/f", &[("Range", "bytes=0-")]);
    assert_eq!(r.header("content-range"), Some("bytes 0-9999/10000"));

    // A range at the end of the file moves one byte earlier.
    let r = get(&server, "/f", &[("Range", "bytes=9000-")]);
    assert_eq!(r.header("content-range"), Some("bytes 8999-9998/10000"));
    assert_eq!(r.body, pattern_bytes(SEED, 8999, 1000));

    // Budget spent.
    let r = get(&server, "/f", &[("Range", "bytes=1000-1999")]);
    assert_eq!(r.header("content-range"), Some("bytes 1000-1999/10000"));
    assert_eq!(r.body, pattern_bytes(SEED, 1000, 1000));

    assert_eq!(
        faults(&server, "/f"),
        [
            vec![Fault::WrongRange {
                start: 1001,
                end: 2000
            }],
            vec![],
            vec![Fault::WrongRange {
                start: 8999,
                end: 9998
            }],
            vec![]
        ]
    );
}

#[test]
fn if_range_honours_the_range_only_when_the_validator_matches() {
    let server = pattern_server(
        10_000,
        Behaviour::new().etag("\"v1\"").last_modified(DATE_V1),
    );
    let range = ("Range", "bytes=100-199");
    let check = |if_range: &str, want: u16| {
        let r = get(&server, "/f", &[range, ("If-Range", if_range)]);
        assert_eq!(r.status, want, "If-Range: {if_range}");
        assert_eq!(r.header("etag"), Some("\"v1\""));
        assert_eq!(r.header("last-modified"), Some(DATE_V1));
        if want == 206 {
            assert_eq!(r.body, pattern_bytes(SEED, 100, 100));
        } else {
            assert!(r.header("content-range").is_none());
            assert_eq!(r.body, pattern_bytes(SEED, 0, 10_000));
        }
    };
    check("\"v1\"", 206);
    check(DATE_V1, 206);
    check("\"v0\"", 200);
    check(DATE_V2, 200);
    // Weak tags never match (strong comparison).
    check("W/\"v1\"", 200);

    // Without Range, If-Range means nothing.
    let r = get(&server, "/f", &[("If-Range", "\"v0\"")]);
    assert_eq!(r.status, 200);
    // Correct behaviour, not a fault.
    assert_eq!(server.stats().path("/f").faults_injected, 0);
}

#[test]
fn change_after_switches_body_and_validators() {
    let server = TestServer::start();
    server.add(
        "/f",
        Body::from("old old old"),
        Behaviour::new()
            .etag("\"v1\"")
            .last_modified(DATE_V1)
            .change_after(
                2,
                Version::new("NEW CONTENT!")
                    .etag("\"v2\"")
                    .last_modified(DATE_V2),
            ),
    );
    let mut client = Client::connect(&server);

    let r = client.request("GET", "/f", &[]);
    assert_eq!(
        (r.body.as_slice(), r.header("etag")),
        (&b"old old old"[..], Some("\"v1\""))
    );
    let r = client.request(
        "GET",
        "/f",
        &[("Range", "bytes=4-"), ("If-Range", "\"v1\"")],
    );
    assert_eq!((r.status, r.body.as_slice()), (206, &b"old old"[..]));

    // Third request: the file has changed; resuming with the old ETag
    // gets the whole new file.
    let r = client.request(
        "GET",
        "/f",
        &[("Range", "bytes=4-"), ("If-Range", "\"v1\"")],
    );
    assert_eq!(r.status, 200);
    assert_eq!(r.body, b"NEW CONTENT!");
    assert_eq!(r.header("etag"), Some("\"v2\""));
    assert_eq!(r.header("last-modified"), Some(DATE_V2));
    // The same with the old date.
    let r = client.request("GET", "/f", &[("Range", "bytes=4-"), ("If-Range", DATE_V1)]);
    assert_eq!(r.status, 200);
    // And the new validator resumes.
    let r = client.request(
        "GET",
        "/f",
        &[("Range", "bytes=4-"), ("If-Range", "\"v2\"")],
    );
    assert_eq!((r.status, r.body.as_slice()), (206, &b"CONTENT!"[..]));
    let r = client.request("GET", "/f", &[("Range", "bytes=4-"), ("If-Range", DATE_V2)]);
    assert_eq!(r.status, 206);
}

#[test]
fn replace_changes_the_file_but_keeps_fault_budgets() {
    let server = TestServer::start();
    server.add(
        "/f",
        Body::from("version one"),
        Behaviour::new().etag("\"v1\"").fail_first(503, 1),
    );
    assert_eq!(get(&server, "/f", &[]).status, 503);
    assert_eq!(get(&server, "/f", &[]).body, b"version one");

    server.replace("/f", Version::new("version two").etag("\"v2\""));
    // fail_first has already fired: it does not fire again.
    let r = get(
        &server,
        "/f",
        &[("Range", "bytes=8-"), ("If-Range", "\"v1\"")],
    );
    assert_eq!((r.status, r.body.as_slice()), (200, &b"version two"[..]));
    assert_eq!(r.header("etag"), Some("\"v2\""));
    let r = get(
        &server,
        "/f",
        &[("Range", "bytes=8-"), ("If-Range", "\"v2\"")],
    );
    assert_eq!((r.status, r.body.as_slice()), (206, &b"two"[..]));

    // A version without validators sends none.
    server.replace("/f", Version::new("three"));
    let r = get(&server, "/f", &[]);
    assert!(r.header("etag").is_none());
    assert_eq!(r.body, b"three");
    assert_eq!(server.stats().path("/f").faults_injected, 1);
}

#[test]
#[should_panic(expected = "no file registered")]
fn replace_of_an_unknown_path_panics() {
    let server = TestServer::start();
    server.replace("/typo", Version::new("x"));
}

#[test]
fn add_restarts_budgets_but_reset_stats_does_not() {
    let server = pattern_server(100, Behaviour::new().fail_first(500, 1));
    assert_eq!(get(&server, "/f", &[]).status, 500);
    server.reset_stats();
    assert_eq!(get(&server, "/f", &[]).status, 200);
    assert_eq!(server.stats().path("/f").faults_injected, 0);

    server.add(
        "/f",
        Body::Pattern {
            len: 100,
            seed: SEED,
        },
        Behaviour::new().fail_first(500, 1),
    );
    assert_eq!(get(&server, "/f", &[]).status, 500);
}

#[test]
fn redirect_chain_gives_each_location() {
    let server = TestServer::start();
    let absolute = server.url("/c");
    server.redirect("/a", "/b", 301);
    server.redirect("/b", &absolute, 307);
    server.redirect("/c", "d", 308);
    server.redirect("/d", "/file", 302);
    server.add("/file", Body::from("arrived"), Behaviour::default());

    let mut client = Client::connect(&server);
    let mut path = "/a".to_owned();
    let mut hops = Vec::new();
    let body = loop {
        let r = client.request("GET", &path, &[]);
        if r.status == 200 {
            break r.body;
        }
        let location = r.header("location").expect("Location").to_owned();
        hops.push((r.status, location.clone()));
        // Resolve by hand, as a client would: absolute, absolute-path or
        // relative to the current directory ("/").
        path = match location.strip_prefix(&format!("http://{}", server.addr())) {
            Some(rest) => rest.to_owned(),
            None if location.starts_with('/') => location,
            None => format!("/{location}"),
        };
    };
    assert_eq!(body, b"arrived");
    assert_eq!(
        hops,
        [
            (301, "/b".to_owned()),
            (307, absolute),
            (308, "d".to_owned()),
            (302, "/file".to_owned())
        ]
    );
    // HEAD is redirected too.
    let r = client.request("HEAD", "/a", &[]);
    assert_eq!((r.status, r.header("location")), (301, Some("/b")));
}

#[test]
fn redirect_loop_bounces_forever() {
    let server = TestServer::start();
    server.redirect("/x", "/y", 302);
    server.redirect("/y", "/x", 302);
    let mut client = Client::connect(&server);
    let mut path = "/x".to_owned();
    for hop in 0..10 {
        let r = client.request("GET", &path, &[]);
        assert_eq!(r.status, 302, "hop {hop}");
        path = r.header("location").unwrap().to_owned();
        assert_eq!(path, if hop % 2 == 0 { "/y" } else { "/x" });
    }
    let stats = server.stats();
    assert_eq!(
        (stats.path("/x").requests, stats.path("/y").requests),
        (5, 5)
    );
    assert_eq!(stats.faults_injected, 0);
}

#[test]
fn faults_combine_in_the_documented_order() {
    let server = pattern_server(
        10_000,
        Behaviour::new()
            .fail_first(500, 1)
            .wrong_content_range(1)
            .reset_after(1000, 1)
            .etag("\"v1\""),
    );
    // 1: the status comes first; nothing else is spent on it.
    assert_eq!(get(&server, "/f", &[("Range", "bytes=0-4999")]).status, 500);
    // 2: a shifted range, then cut.
    let (head, body, ending) = get_until_closed(&server, "/f", &[("Range", "bytes=0-4999")]);
    assert_eq!(head.header("content-range"), Some("bytes 1-5000/10000"));
    assert_eq!(body, pattern_bytes(SEED, 1, 1000));
    assert_eq!(ending, RESET_ENDING);
    // 3: clean.
    let r = get(&server, "/f", &[("Range", "bytes=0-4999")]);
    assert_eq!(r.body, pattern_bytes(SEED, 0, 5000));

    assert_eq!(
        faults(&server, "/f"),
        [
            vec![Fault::Status(500)],
            vec![
                Fault::WrongRange {
                    start: 1,
                    end: 5000
                },
                Fault::Reset { after_bytes: 1000 }
            ],
            vec![]
        ]
    );
    let stats = server.stats().path("/f");
    assert_eq!(
        (
            stats.requests,
            stats.faulty_responses,
            stats.faults_injected
        ),
        (3, 2, 3)
    );
}

#[test]
fn the_earlier_cut_wins_and_the_later_one_keeps_its_budget() {
    let server = pattern_server(
        10_000,
        Behaviour::new().truncate(500, 1).reset_after(2000, 1),
    );
    let (_, body, ending) = get_until_closed(&server, "/f", &[]);
    assert_eq!((body.len(), ending), (500, Ending::Eof));
    let (_, body, ending) = get_until_closed(&server, "/f", &[]);
    assert_eq!((body.len(), ending), (2000, RESET_ENDING));
    assert_eq!(get(&server, "/f", &[]).body.len(), 10_000);
}

#[test]
fn struct_update_syntax_still_builds_fault_behaviours() {
    let behaviour = Behaviour {
        truncate: Some(Cut {
            after_bytes: 3,
            times: 1,
        }),
        ..Behaviour::default()
    };
    assert_eq!(behaviour, Behaviour::new().truncate(3, 1));
    let server = TestServer::start();
    server.add("/f", Body::from("abcdef"), behaviour);
    let (_, body, ending) = get_until_closed(&server, "/f", &[]);
    assert_eq!((body.as_slice(), ending), (&b"abc"[..], Ending::Eof));
}
