//! HTTPS end to end: trust (a private CA given with `--ca-certificate` or found in the system's
//! store through `SSL_CERT_FILE`, `--insecure`), mutual TLS, a `CONNECT` proxy, the download paths
//! that matter over TLS (ranges with chunks in flight, a reset mid-body, a redirect, Ctrl-C and
//! resume), and the failures that must end at once with a message naming the fix.
//!
//! Every certificate is made at test time by the test server's [`TestCa`]; nothing that can expire
//! is committed.

mod support;

use std::fs;
use std::path::{Path, PathBuf};
use std::time::Duration;

use pardl_testserver::{Behaviour, ServerTls, TestCa, TestProxy, TestServer};
use support::*;

/// Small chunks so a few MiB make several, quick retries, and the tries a final failure must not
/// use up.
const FAST: [&str; 8] = [
    "-x",
    "4",
    "-k",
    "256K",
    "--retry-wait",
    "0.05",
    "--max-tries",
    "5",
];

/// A TLS test server whose certificate (for `localhost` and `127.0.0.1`) comes from a fresh CA,
/// a temporary directory, and the CA's certificate written there as `ca.pem`.
struct Https {
    ca: TestCa,
    server: TestServer,
    dir: tempfile::TempDir,
    ca_file: PathBuf,
}

impl Https {
    fn serving(files: &[&Served]) -> Https {
        let ca = TestCa::new("pardl test CA");
        Https::with_tls(
            ServerTls::new(ca.server(&["localhost", "127.0.0.1"])),
            ca,
            files,
        )
    }

    fn with_tls(tls: ServerTls, ca: TestCa, files: &[&Served]) -> Https {
        let server = TestServer::start_tls(tls);
        for file in files {
            file.add_to(&server);
        }
        let dir = tempfile::tempdir().expect("a temporary directory");
        let ca_file = write(dir.path(), "ca.pem", &ca.cert_pem());
        Https {
            ca,
            server,
            dir,
            ca_file,
        }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn out(&self) -> PathBuf {
        self.dir.path().join("out")
    }

    /// `--ca-certificate ca.pem` and [`FAST`], downloads in `out/`.
    fn trusting(&self) -> Argv {
        Argv::quick("out")
            .args(FAST)
            .args(["--ca-certificate", path_text(&self.ca_file)])
    }
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    fs::write(&path, text).expect("write a PEM file");
    path
}

fn path_text(path: &Path) -> &str {
    path.to_str().expect("a UTF-8 temporary path")
}

/// Asserts that the run made exactly one connection and no request (the handshake failed), and
/// that it tried once: no retry warning.
#[track_caller]
fn assert_failed_at_once(run: &Run, server: &TestServer) {
    run.assert_code(1);
    let stats = server.stats();
    assert_eq!(
        (stats.connections, stats.requests),
        (1, 0),
        "one handshake, no request\n{}",
        run.stderr
    );
    assert!(
        run.stderr_lines_with(&["retrying"]).is_empty(),
        "no retry:\n{}",
        run.stderr
    );
}

#[test]
fn a_private_ca_is_trusted_with_ca_certificate_and_ranges_are_fetched_over_reused_connections() {
    let file = Served::with(
        "/big.bin",
        3 * MIB,
        71,
        Behaviour::new().rate_limit(2 * MIB),
    );
    let https = Https::serving(&[&file]);
    pardl(https.path(), https.trusting().urls(&https.server, [&file])).assert_code(0);
    assert_served_file(&https.out(), "big.bin", &file);
    let records = https.server.requests_for(&file.path);
    assert_ranged_download(&records, file.len, 256 * KIB, 4);
    let stats = https.server.stats();
    assert!(
        stats.path(&file.path).in_flight_peak >= 2,
        "chunks in flight at once: {stats:?}"
    );
    // One handshake per connection: 12 chunks over at most 4 connections.
    assert!(
        stats.connections <= 4 && stats.requests == records.len(),
        "{} connections for {} requests",
        stats.connections,
        stats.requests
    );
}

#[test]
fn the_system_store_is_trusted_without_an_option_and_an_unknown_ca_fails_at_once() {
    let file = Served::new("/a.bin", 300 * KIB, 72);
    let https = Https::serving(&[&file]);
    let url = https.server.url(&file.path);

    // Not in the system's store: one try, a message naming the fix, error_kind tls.
    let run = pardl(
        https.path(),
        Argv::quick("out")
            .args(FAST)
            .args(["--report", "report.jsonl", &url]),
    );
    assert_failed_at_once(&run, &https.server);
    let host = https.server.addr().to_string();
    run.assert_stderr_contains(&format!(
        "the certificate of {host} is signed by an unknown authority: add --ca-certificate FILE, or install the CA in the system store"
    ));
    let lines = report_lines(&https.path().join("report.jsonl"));
    assert_eq!(lines[0]["error_kind"], "tls");
    assert!(!https.out().join("a.bin").exists());

    // In the store that SSL_CERT_FILE names, as OpenSSL-based tools read it: trusted.
    pardl_with_env(
        https.path(),
        Argv::quick("out").args(FAST).args([url.as_str()]),
        &[("SSL_CERT_FILE", path_text(&https.ca_file))],
    )
    .assert_code(0);
    assert_served_file(&https.out(), "a.bin", &file);
}

#[test]
fn a_certificate_for_another_name_or_an_expired_one_fails_at_once_naming_the_problem() {
    let file = Served::new("/a.bin", 100 * KIB, 73);
    for (expired, expected) in [
        (false, "is for another name"),
        (true, "has expired: the server must renew it"),
    ] {
        let ca = TestCa::new("pardl test CA");
        let identity = if expired {
            ca.expired_server(&["localhost", "127.0.0.1"])
        } else {
            ca.server(&["files.example"])
        };
        let https = Https::with_tls(ServerTls::new(identity), ca, &[&file]);
        let run = pardl(https.path(), https.trusting().urls(&https.server, [&file]));
        assert_failed_at_once(&run, &https.server);
        run.assert_stderr_line(&["FAIL", expected]);
    }
}

#[test]
fn a_plain_http_server_behind_an_https_url_fails_at_once() {
    // What a plain web server answers to a TLS handshake: a 400 in plain text.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("https://{}/a.bin", listener.local_addr().unwrap());
    let server = std::thread::spawn(move || {
        let mut connections = 0;
        listener.set_nonblocking(true).unwrap();
        let until = std::time::Instant::now() + Duration::from_secs(5);
        while std::time::Instant::now() < until {
            match listener.accept() {
                Ok((mut stream, _)) => {
                    connections += 1;
                    stream.set_nonblocking(false).unwrap();
                    let mut hello = [0u8; 512];
                    let _ = std::io::Read::read(&mut stream, &mut hello);
                    let _ = std::io::Write::write_all(
                        &mut stream,
                        b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                    );
                }
                Err(_) => std::thread::sleep(Duration::from_millis(10)),
            }
        }
        connections
    });
    let dir = tempfile::tempdir().unwrap();
    let run = pardl(
        dir.path(),
        Argv::quick("out").args(FAST).args([url.as_str()]),
    );
    run.assert_code(1);
    run.assert_stderr_line(&["FAIL", "does not answer in TLS", "use an http:// URL"]);
    assert!(
        run.stderr_lines_with(&["retrying"]).is_empty(),
        "{}",
        run.stderr
    );
    assert_eq!(server.join().unwrap(), 1, "one try");
}

#[test]
fn insecure_downloads_from_an_untrusted_server_and_warns_once_per_host() {
    let first = Served::new("/one.bin", 600 * KIB, 75);
    let second = Served::new("/two.bin", 700 * KIB, 76);
    let third = Served::new("/three.bin", 100 * KIB, 83);
    let https = Https::serving(&[&first, &second]);
    let other = Https::serving(&[&third]);
    let run = pardl(
        https.path(),
        Argv::quick("out")
            .args(FAST)
            .args(["--insecure"])
            .urls(&https.server, [&first, &second])
            .urls(&other.server, [&third]),
    );
    run.assert_code(0);
    assert_served_file(&https.out(), "two.bin", &second);
    assert_served_file(&https.out(), "three.bin", &third);
    for server in [&https.server, &other.server] {
        let host = server.addr().to_string();
        assert_eq!(
            run.stderr_lines_with(&["not checking the certificate of", &host, "--insecure"])
                .len(),
            1,
            "one warning for {host}:\n{}",
            run.stderr
        );
    }
    // The wget spelling works too.
    let again = pardl(
        https.path(),
        Argv::quick("again")
            .args(["--no-check-certificate"])
            .urls(&https.server, [&first]),
    );
    again.assert_code(0);
    assert_served_file(&https.path().join("again"), "one.bin", &first);
}

#[test]
fn mutual_tls_sends_the_client_certificate_and_says_when_one_is_missing() {
    let file = Served::new("/private.bin", 900 * KIB, 77);
    let ca = TestCa::new("pardl test CA");
    let tls = ServerTls::new(ca.server(&["localhost", "127.0.0.1"])).require_client_cert(&ca);
    let client = ca.client("pardl-client");
    let https = Https::with_tls(tls, ca, &[&file]);
    let cert = write(https.path(), "client.pem", &client.cert_pem);
    let key = write(https.path(), "client.key", &client.key_pem);
    let both = write(
        https.path(),
        "both.pem",
        &format!("{}{}", client.cert_pem, client.key_pem),
    );

    let without = pardl(https.path(), https.trusting().urls(&https.server, [&file]));
    without.assert_code(1);
    without.assert_stderr_line(&[
        "FAIL",
        "asks for a client certificate: give --certificate FILE (and --private-key FILE)",
    ]);
    assert!(
        without.stderr_lines_with(&["retrying"]).is_empty(),
        "{}",
        without.stderr
    );
    assert_eq!(https.server.stats().requests, 0);

    pardl(
        https.path(),
        https
            .trusting()
            .args([
                "--certificate",
                path_text(&cert),
                "--private-key",
                path_text(&key),
            ])
            .urls(&https.server, [&file]),
    )
    .assert_code(0);
    assert_served_file(&https.out(), "private.bin", &file);

    // The key may sit in the certificate's own file, as curl and wget allow.
    pardl(
        https.path(),
        Argv::quick("again")
            .args(["--ca-certificate", path_text(&https.ca_file)])
            .args(["--certificate", path_text(&both)])
            .urls(&https.server, [&file]),
    )
    .assert_code(0);
    assert_served_file(&https.path().join("again"), "private.bin", &file);

    // A certificate from a CA the server does not know is refused, at once.
    let stranger = TestCa::new("another CA").client("stranger");
    let stranger_file = write(
        https.path(),
        "stranger.pem",
        &format!("{}{}", stranger.cert_pem, stranger.key_pem),
    );
    let refused = pardl(
        https.path(),
        https
            .trusting()
            .args(["--certificate", path_text(&stranger_file)])
            .urls(&https.server, [&Served::new("/other.bin", KIB, 1)]),
    );
    refused.assert_code(1);
    refused.assert_stderr_line(&["FAIL", "did not accept the client certificate"]);
}

#[test]
fn bad_certificate_files_are_usage_errors_naming_the_file_before_any_request() {
    let file = Served::new("/a.bin", KIB, 78);
    let https = Https::serving(&[&file]);
    let other = https.ca.client("someone else");
    let client = https.ca.client("pardl-client");
    let not_pem = write(https.path(), "notes.txt", "this is not a certificate\n");
    let cert = write(https.path(), "client.pem", &client.cert_pem);
    let wrong_key = write(https.path(), "wrong.key", &other.key_pem);
    let url = https.server.url(&file.path);
    for (args, expected) in [
        (
            vec!["--ca-certificate", "missing.pem"],
            "cannot read CA certificate file missing.pem".to_string(),
        ),
        (
            vec!["--ca-certificate", path_text(&not_pem)],
            format!(
                "CA certificate file {} holds no PEM certificate",
                not_pem.display()
            ),
        ),
        (
            vec!["--certificate", path_text(&cert)],
            format!(
                "client certificate {} holds no private key: give its key with --private-key FILE",
                cert.display()
            ),
        ),
        (
            vec![
                "--certificate",
                path_text(&cert),
                "--private-key",
                path_text(&wrong_key),
            ],
            format!(
                "private key {} does not belong to client certificate {}",
                wrong_key.display(),
                cert.display()
            ),
        ),
    ] {
        let run = pardl(
            https.path(),
            Argv::quick("out").args(args).args([url.as_str()]),
        );
        run.assert_code(2);
        run.assert_stderr_contains(&expected);
    }
    assert_eq!(https.server.stats().connections, 0, "no request was made");
}

#[test]
fn https_goes_through_a_connect_proxy_from_the_option_and_from_https_proxy() {
    let file = Served::new("/tunnelled.bin", 2 * MIB, 79);
    let https = Https::serving(&[&file]);
    let proxy = TestProxy::start();
    pardl(
        https.path(),
        https
            .trusting()
            .args(["--proxy", &proxy.url()])
            .urls(&https.server, [&file]),
    )
    .assert_code(0);
    assert_served_file(&https.out(), "tunnelled.bin", &file);
    let target = https.server.addr().to_string();
    let tunnels = proxy.tunnels();
    assert!(!tunnels.is_empty());
    assert!(tunnels.iter().all(|t| *t == target), "{tunnels:?}");
    assert_eq!(
        tunnels.len(),
        https.server.stats().connections,
        "every connection went through the proxy"
    );

    let from_env = TestProxy::start();
    pardl_with_env(
        https.path(),
        Argv::quick("env")
            .args(["--ca-certificate", path_text(&https.ca_file)])
            .urls(&https.server, [&file]),
        &[("HTTPS_PROXY", &from_env.url())],
    )
    .assert_code(0);
    assert_served_file(&https.path().join("env"), "tunnelled.bin", &file);
    assert!(!from_env.tunnels().is_empty());
}

#[test]
fn a_reset_mid_body_over_tls_continues_from_where_the_chunk_stopped() {
    let file = Served::with(
        "/reset.bin",
        2 * MIB,
        80,
        Behaviour::new().reset_after(100 * KIB, 2),
    );
    let https = Https::serving(&[&file]);
    pardl(https.path(), https.trusting().urls(&https.server, [&file])).assert_code(0);
    assert_served_file(&https.out(), "reset.bin", &file);
    let planned = expected_requests(file.len, 256 * KIB, 4);
    assert_eq!(
        https.server.requests_for(&file.path).len(),
        planned + 2,
        "one extra request per reset"
    );
    let stats = https.server.stats().path(&file.path);
    assert_eq!(stats.faults_injected, 2);
    assert!(stats.bytes_sent <= file.len + 2 * 100 * KIB);
    assert_no_part_files(&https.out());
}

#[test]
fn a_redirect_from_https_to_https_is_followed() {
    let file = Served::new("/files/v2.bin", 1536 * KIB, 81);
    let ca = TestCa::new("pardl test CA");
    let target = TestServer::start_tls(ServerTls::new(ca.server(&["localhost", "127.0.0.1"])));
    file.add_to(&target);
    let https = Https::with_tls(
        ServerTls::new(ca.server(&["localhost", "127.0.0.1"])),
        ca,
        &[],
    );
    https
        .server
        .redirect("/latest", &target.url(&file.path), 302);
    let latest = https.server.url("/latest");
    pardl(https.path(), https.trusting().args([latest.as_str()])).assert_code(0);
    assert_served_file(&https.out(), "v2.bin", &file);
    assert_ranged_download(&target.requests_for(&file.path), file.len, 256 * KIB, 4);
}

#[cfg(unix)]
#[test]
fn ctrl_c_over_tls_saves_progress_and_the_same_command_resumes() {
    let file = Served::with(
        "/throttled.bin",
        4 * MIB,
        82,
        Behaviour::new().rate_limit(256 * KIB).etag("\"t\""),
    );
    let https = Https::serving(&[&file]);
    let args = https.trusting().urls(&https.server, [&file]);
    let running = Background::start(pardl_command(https.path(), &args));
    std::thread::sleep(Duration::from_millis(2000));
    let status = std::process::Command::new("kill")
        .args(["-INT", &running.child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    running.finish().assert_code(130);
    assert!(https.out().join("throttled.bin.part.pardl").exists());
    let before = https.server.stats().path(&file.path).bytes_sent;
    assert!(before > 0 && before < file.len, "{before}");

    pardl(https.path(), &args).assert_code(0);
    assert_served_file(&https.out(), "throttled.bin", &file);
    let sent = https.server.stats().path(&file.path).bytes_sent;
    assert!(
        sent <= file.len + 4 * 256 * KIB,
        "resumed, not started over: sent {sent} for {}",
        file.len
    );
}

#[test]
fn a_host_name_that_cannot_exist_fails_at_once_as_dns() {
    // A label longer than DNS allows (63 bytes): the resolver refuses it without asking a name
    // server, so the answer does not depend on this machine's network.
    let host = format!("{}.invalid", "x".repeat(70));
    let dir = tempfile::tempdir().unwrap();
    let run = pardl(
        dir.path(),
        Argv::quick("out").args(FAST).args([
            "--report",
            "report.jsonl",
            &format!("http://{host}/a.bin"),
        ]),
    );
    run.assert_code(1);
    run.assert_stderr_line(&[
        "FAIL",
        "does not exist (DNS found no such name): check the URL",
    ]);
    assert!(
        run.stderr_lines_with(&["retrying"]).is_empty(),
        "{}",
        run.stderr
    );
    let lines = report_lines(&dir.path().join("report.jsonl"));
    assert_eq!(lines[0]["error_kind"], "dns");
}
