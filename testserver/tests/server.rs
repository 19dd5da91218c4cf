//! End-to-end tests with a hand-rolled raw `TcpStream` client, so the bytes
//! on the wire (framing, headers) are checked exactly, not through a client
//! library's interpretation.

mod common;

use std::io::{Read, Write};
use std::net::{Shutdown, TcpStream};
use std::thread;
use std::time::{Duration, Instant};

use common::{get, pattern_server, Client, CLIENT_TIMEOUT, SEED};
use pardl_testserver::{pattern_byte, pattern_bytes, pattern_fill, Behaviour, Body, TestServer};

#[test]
fn full_get_returns_whole_body() {
    let server = TestServer::start();
    let bytes: Vec<u8> = (0..=255).cycle().take(100_000).collect();
    server.add("/bytes", Body::Bytes(bytes.clone()), Behaviour::default());
    server.add(
        "/pattern",
        Body::Pattern {
            len: 300_001,
            seed: SEED,
        },
        Behaviour::default(),
    );

    let r = get(&server, "/bytes", &[]);
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-length"), Some("100000"));
    assert_eq!(r.header("content-type"), Some("application/octet-stream"));
    assert_eq!(r.header("accept-ranges"), Some("bytes"));
    assert!(r.header("content-range").is_none());
    assert_eq!(r.body, bytes);

    let r = get(&server, "/pattern", &[]);
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-length"), Some("300001"));
    assert_eq!(r.body, pattern_bytes(SEED, 0, 300_001));
}

#[test]
fn range_gives_206_with_exact_content_range() {
    let server = pattern_server(1_000_000, Behaviour::default());
    let r = get(&server, "/f", &[("Range", "bytes=123457-323456")]);
    assert_eq!(r.status, 206);
    assert_eq!(
        r.header("content-range"),
        Some("bytes 123457-323456/1000000")
    );
    assert_eq!(r.header("content-length"), Some("200000"));
    assert_eq!(r.header("accept-ranges"), Some("bytes"));
    assert_eq!(r.body, pattern_bytes(SEED, 123_457, 200_000));
}

#[test]
fn open_ended_suffix_and_clamped_ranges() {
    let server = pattern_server(10_000, Behaviour::default());

    let r = get(&server, "/f", &[("Range", "bytes=9000-")]);
    assert_eq!(r.status, 206);
    assert_eq!(r.header("content-range"), Some("bytes 9000-9999/10000"));
    assert_eq!(r.body, pattern_bytes(SEED, 9000, 1000));

    let r = get(&server, "/f", &[("Range", "bytes=-100")]);
    assert_eq!(r.status, 206);
    assert_eq!(r.header("content-range"), Some("bytes 9900-9999/10000"));
    assert_eq!(r.body, pattern_bytes(SEED, 9900, 100));

    // A suffix longer than the file is the whole file.
    let r = get(&server, "/f", &[("Range", "bytes=-50000")]);
    assert_eq!(r.status, 206);
    assert_eq!(r.header("content-range"), Some("bytes 0-9999/10000"));
    assert_eq!(r.body.len(), 10_000);

    // End past the file is clamped.
    let r = get(&server, "/f", &[("Range", "bytes=9990-20000")]);
    assert_eq!(r.status, 206);
    assert_eq!(r.header("content-range"), Some("bytes 9990-9999/10000"));
    assert_eq!(r.body, pattern_bytes(SEED, 9990, 10));

    // Last byte exactly.
    let r = get(&server, "/f", &[("Range", "bytes=9999-9999")]);
    assert_eq!(r.status, 206);
    assert_eq!(r.body, pattern_bytes(SEED, 9999, 1));
}

#[test]
fn range_past_end_is_416() {
    let server = pattern_server(10_000, Behaviour::default());
    for range in ["bytes=10000-", "bytes=20000-30000", "bytes=-0"] {
        let r = get(&server, "/f", &[("Range", range)]);
        assert_eq!(r.status, 416, "{range}");
        assert_eq!(r.header("content-range"), Some("bytes */10000"), "{range}");
    }
}

#[test]
fn invalid_or_multi_range_gives_200_full() {
    let server = pattern_server(5000, Behaviour::default());
    for range in ["bytes=0-1,5-9", "bytes=9-2", "lines=1-2", "bytes=x-"] {
        let r = get(&server, "/f", &[("Range", range)]);
        assert_eq!(r.status, 200, "{range}");
        assert_eq!(r.body, pattern_bytes(SEED, 0, 5000), "{range}");
    }
}

#[test]
fn ignore_range_gives_200_full_body_without_accept_ranges() {
    let server = pattern_server(50_000, Behaviour::new().ignore_range());
    let r = get(&server, "/f", &[("Range", "bytes=100-199")]);
    assert_eq!(r.status, 200);
    assert!(r.header("accept-ranges").is_none());
    assert!(r.header("content-range").is_none());
    assert_eq!(r.header("content-length"), Some("50000"));
    assert_eq!(r.body, pattern_bytes(SEED, 0, 50_000));
    assert_eq!(server.requests_for("/f")[0].status, 200);
}

#[test]
fn no_content_length_closes_after_body() {
    let server = pattern_server(200_000, Behaviour::new().no_content_length());
    let mut client = Client::connect(&server);
    let r = client.request("GET", "/f", &[("Range", "bytes=1000-")]);
    assert_eq!(r.status, 206);
    assert!(r.header("content-length").is_none());
    assert!(r.header("transfer-encoding").is_none());
    assert_eq!(r.header("connection"), Some("close"));
    // receive() read to EOF, so the body length proves where it ended.
    assert_eq!(r.body, pattern_bytes(SEED, 1000, 199_000));
    assert!(client.at_eof());
}

#[test]
fn chunked_framing_decodes_and_keeps_alive() {
    let server = pattern_server(150_000, Behaviour::new().chunked());
    let mut client = Client::connect(&server);
    let r = client.request("GET", "/f", &[]);
    assert_eq!(r.status, 200);
    assert_eq!(r.header("transfer-encoding"), Some("chunked"));
    assert!(r.header("connection").is_none());
    assert_eq!(r.body, pattern_bytes(SEED, 0, 150_000));

    let r = client.request("GET", "/f", &[("Range", "bytes=-10")]);
    assert_eq!(r.status, 206);
    assert_eq!(r.body, pattern_bytes(SEED, 149_990, 10));
    assert_eq!(server.stats().connections, 1);
}

#[test]
fn status_override_and_unknown_path_are_404() {
    let server = TestServer::start();
    server.add("/gone", Body::from("secret"), Behaviour::new().status(404));
    server.add(
        "/broken",
        Body::from("secret"),
        Behaviour::new().status(500),
    );

    let r = get(&server, "/gone", &[]);
    assert_eq!(r.status, 404);
    assert!(!r.body.windows(6).any(|w| w == b"secret"));

    let r = get(&server, "/broken", &[("Range", "bytes=0-1")]);
    assert_eq!(r.status, 500);

    let r = get(&server, "/nowhere", &[]);
    assert_eq!(r.status, 404);
    assert_eq!(server.requests_for("/nowhere")[0].status, 404);
    assert_eq!(server.stats().path("/nowhere").requests, 1);
}

#[test]
fn head_sends_headers_only_and_keeps_alive() {
    let server = pattern_server(12_345, Behaviour::new().etag("\"v1\""));
    let mut client = Client::connect(&server);
    let r = client.request("HEAD", "/f", &[]);
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-length"), Some("12345"));
    assert_eq!(r.header("etag"), Some("\"v1\""));
    // The next response must start right where the headers ended.
    let r = client.request("GET", "/f", &[("Range", "bytes=0-9")]);
    assert_eq!(r.body, pattern_bytes(SEED, 0, 10));
    assert_eq!(server.stats().path("/f").bytes_sent, 10);
}

#[test]
fn keep_alive_serves_two_requests_on_one_connection() {
    let server = pattern_server(70_000, Behaviour::default());
    let mut client = Client::connect(&server);
    let a = client.request("GET", "/f", &[("Range", "bytes=0-39999")]);
    let b = client.request("GET", "/f", &[("Range", "bytes=40000-")]);
    assert_eq!([a.status, b.status], [206, 206]);
    assert_eq!([a.body, b.body].concat(), pattern_bytes(SEED, 0, 70_000));

    // Connection: close is honoured.
    let c = client.request(
        "GET",
        "/f",
        &[("Range", "bytes=0-0"), ("Connection", "close")],
    );
    assert_eq!(c.header("connection"), Some("close"));
    assert!(client.at_eof());

    let stats = server.stats();
    assert_eq!(stats.connections, 1);
    assert_eq!(stats.requests, 3);
}

#[test]
fn http10_closes_by_default() {
    let server = pattern_server(10, Behaviour::default());
    let mut stream = TcpStream::connect(server.addr()).unwrap();
    stream.set_read_timeout(Some(CLIENT_TIMEOUT)).unwrap();
    stream.write_all(b"GET /f HTTP/1.0\r\n\r\n").unwrap();
    let mut all = Vec::new();
    stream.read_to_end(&mut all).unwrap(); // returns only because the server closes
    let text = String::from_utf8_lossy(&all);
    assert!(text.starts_with("HTTP/1.1 200 OK\r\n"), "{text}");
    assert!(text.contains("Connection: close\r\n"));
    assert!(all.ends_with(&pattern_bytes(SEED, 0, 10)));
}

#[test]
fn other_methods_get_405_and_garbage_gets_400() {
    let server = pattern_server(10, Behaviour::default());
    let r = Client::connect(&server).request("POST", "/f", &[("Content-Length", "0")]);
    assert_eq!(r.status, 405);
    assert_eq!(r.header("allow"), Some("GET, HEAD"));

    let mut client = Client::connect(&server);
    client
        .reader
        .get_mut()
        .write_all(b"NONSENSE\r\n\r\n")
        .unwrap();
    let r = client.receive(false);
    assert_eq!(r.status, 400);
    assert!(client.at_eof());
}

#[test]
fn stats_count_requests_paths_bytes_and_simultaneous_connections() {
    let server = TestServer::start();
    server.add("/a", Body::from("aaaa"), Behaviour::default());
    server.add("/b", Body::from("bbbbbbbb"), Behaviour::default());

    // Two connections open at once, each proven accepted by a response.
    let mut one = Client::connect(&server);
    let mut two = Client::connect(&server);
    assert_eq!(one.request("GET", "/a", &[]).body, b"aaaa");
    assert_eq!(two.request("GET", "/b", &[]).body, b"bbbbbbbb");
    assert_eq!(
        one.request("GET", "/b", &[("Range", "bytes=0-1")]).body,
        b"bb"
    );

    let stats = server.stats();
    assert_eq!(stats.requests, 3);
    assert_eq!(stats.connections, 2);
    assert_eq!(stats.open_connections_peak, 2);
    assert_eq!(stats.bytes_sent, 4 + 8 + 2);
    assert_eq!(stats.path("/a").requests, 1);
    assert_eq!(stats.path("/a").bytes_sent, 4);
    assert_eq!(stats.path("/b").requests, 2);
    assert_eq!(stats.path("/b").bytes_sent, 10);
    assert_eq!(stats.per_path.len(), 2);

    let records = server.requests_for("/b");
    assert_eq!(records.len(), 2);
    assert_eq!(records[0].method, "GET");
    assert_eq!(records[0].range, None);
    assert_eq!(records[1].range.as_deref(), Some("bytes=0-1"));
    assert_eq!(records[1].status, 206);
    assert_eq!(records[1].header("HOST"), Some("test"));

    server.reset_stats();
    let stats = server.stats();
    assert_eq!(
        (stats.requests, stats.connections, stats.bytes_sent),
        (0, 0, 0)
    );
    // Both connections are still open, so the peak restarts at 2.
    assert_eq!(stats.open_connections_peak, 2);
    assert!(stats.per_path.is_empty());
    assert!(server.requests_for("/b").is_empty());
    assert_eq!(two.request("GET", "/a", &[]).body, b"aaaa");
    assert_eq!(server.stats().requests, 1);
}

#[test]
fn per_path_in_flight_peak_sees_concurrent_chunks() {
    // Each response takes ~1 s, so two started together overlap for certain.
    let server = pattern_server(200_000, Behaviour::new().rate_limit(100_000));
    server.add("/other", Body::from("x"), Behaviour::default());
    let mut a = Client::connect(&server);
    let mut b = Client::connect(&server);
    a.send("GET", "/f", &[("Range", "bytes=0-99999")]);
    b.send("GET", "/f", &[("Range", "bytes=100000-")]);
    let (ra, rb) = (a.receive(false), b.receive(false));
    assert_eq!([ra.body, rb.body].concat(), pattern_bytes(SEED, 0, 200_000));
    get(&server, "/other", &[]);

    let stats = server.stats();
    assert_eq!(stats.path("/f").in_flight_peak, 2);
    assert_eq!(stats.path("/other").in_flight_peak, 1);
    assert!(stats.in_flight_peak >= 2);
}

#[test]
fn rate_limit_paces_the_body() {
    let server = pattern_server(200 * 1024, Behaviour::new().rate_limit(100 * 1024));
    let started = Instant::now();
    let r = get(&server, "/f", &[]);
    let elapsed = started.elapsed();
    assert_eq!(r.body, pattern_bytes(SEED, 0, 200 * 1024));
    // Nominally 2 s. Only a lower bound: a loaded machine may be slower.
    assert!(elapsed >= Duration::from_millis(1800), "took {elapsed:?}");
}

#[test]
fn content_disposition_and_etag_are_sent() {
    let server = TestServer::start();
    server.add(
        "/dl",
        Body::from("data"),
        Behaviour::new()
            .content_disposition("attachment; filename=\"report.pdf\"")
            .etag("\"abc\""),
    );
    let r = get(&server, "/dl", &[("Range", "bytes=1-2")]);
    assert_eq!(r.status, 206);
    assert_eq!(
        r.header("content-disposition"),
        Some("attachment; filename=\"report.pdf\"")
    );
    assert_eq!(r.header("etag"), Some("\"abc\""));
    assert_eq!(r.body, b"at");
}

#[test]
fn add_replaces_a_route_while_running() {
    let server = TestServer::start();
    server.add("/f", Body::from("old"), Behaviour::default());
    let mut client = Client::connect(&server);
    assert_eq!(client.request("GET", "/f", &[]).body, b"old");
    server.add("/f", Body::from("newer"), Behaviour::new().chunked());
    let r = client.request("GET", "/f", &[]);
    assert_eq!(r.header("transfer-encoding"), Some("chunked"));
    assert_eq!(r.body, b"newer");
}

#[test]
fn client_disconnect_mid_body_is_harmless() {
    let server = pattern_server(50 << 20, Behaviour::default());
    let mut client = Client::connect(&server);
    client.send("GET", "/f", &[]);
    let mut some = [0u8; 1000];
    client.reader.read_exact(&mut some).unwrap();
    client.reader.get_ref().shutdown(Shutdown::Both).unwrap();
    drop(client);

    let r = get(&server, "/f", &[("Range", "bytes=5-9")]);
    assert_eq!(r.body, pattern_bytes(SEED, 5, 5));
    // The abandoned response ended well short of 50 MiB.
    let sent = server.stats().path("/f").bytes_sent;
    assert!(sent < 50 << 20, "{sent}");
}

#[test]
fn drop_stops_accepting_and_closes_connections() {
    let server = pattern_server(10, Behaviour::default());
    let addr = server.addr();
    let mut idle = Client::connect(&server);
    assert_eq!(idle.request("GET", "/f", &[]).status, 200);
    drop(server);
    // The idle keep-alive connection is closed rather than left to time out.
    assert!(idle.at_eof());
    assert!(TcpStream::connect(addr).is_err());
}

#[test]
fn many_servers_start_and_stop() {
    for _ in 0..20 {
        let server = pattern_server(100, Behaviour::default());
        assert!(server.url("/f").starts_with("http://127.0.0.1:"));
        assert!(server.url("/f").ends_with("/f"));
        assert_eq!(get(&server, "/f", &[]).body, pattern_bytes(SEED, 0, 100));
    }
}

#[test]
fn pattern_fill_at_unaligned_offset_equals_pattern_bytes() {
    for offset in [0u64, 1, 5, 7, 8, 13, 1_000_003, (1 << 30) + 3] {
        let mut buf = vec![0u8; 1021];
        pattern_fill(SEED, offset, &mut buf);
        assert_eq!(buf, pattern_bytes(SEED, offset, 1021), "offset {offset}");
        let reference: Vec<u8> = (offset..offset + 1021)
            .map(|i| pattern_byte(SEED, i))
            .collect();
        assert_eq!(buf, reference, "offset {offset}");
    }
    // Pattern bodies and Body::bytes_at agree with pattern_bytes.
    let body = Body::Pattern { len: 100, seed: 9 };
    assert_eq!(body.bytes_at(90, 50), pattern_bytes(9, 90, 10));
}

#[test]
fn concurrent_downloads_are_served_in_parallel_threads() {
    let server = std::sync::Arc::new(pattern_server(4 << 20, Behaviour::default()));
    let handles: Vec<_> = (0..4u64)
        .map(|i| {
            let server = std::sync::Arc::clone(&server);
            thread::spawn(move || {
                let (start, end) = (i << 20, ((i + 1) << 20) - 1);
                let range = format!("bytes={start}-{end}");
                let r = get(&server, "/f", &[("Range", &range)]);
                assert_eq!(r.status, 206);
                assert_eq!(r.body, pattern_bytes(SEED, start, 1 << 20));
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    let stats = server.stats();
    assert_eq!(stats.requests, 4);
    assert_eq!(stats.bytes_sent, 4 << 20);
}

/// Not a correctness test: how fast the server streams a pattern body in this
/// build profile. `cargo test -p pardl-testserver -- --ignored --nocapture`.
#[test]
#[ignore]
fn throughput_of_a_large_pattern_body() {
    let len: u64 = 256 << 20;
    let server = pattern_server(len, Behaviour::default());
    let mut client = Client::connect(&server);
    client.send("GET", "/f", &[]);
    let started = Instant::now();
    let mut head = String::new();
    while client.line() != "" {
        head.push('.');
    }
    let mut buf = vec![0u8; 1 << 20];
    let mut got = 0u64;
    while got < len {
        let n = client.reader.read(&mut buf).unwrap();
        assert!(n > 0);
        got += n as u64;
    }
    let secs = started.elapsed().as_secs_f64();
    eprintln!(
        "{} MiB in {secs:.2} s = {:.0} MiB/s",
        len >> 20,
        (len >> 20) as f64 / secs
    );
}
