//! One test per way in that an attacker has, and per defence docs/faults.md's threat model lists
//! ("Threats"): a links file or a server choosing hostile names, a shared or hostile output
//! directory (another pardl, planted links, FIFOs), credentials meeting a redirect, a server that
//! keeps pardl retrying forever, redirects to other schemes. Each checks the exact bytes on disk,
//! what reached the server, and the message a user reads.

mod support;

use std::fs;
use std::time::{Duration, Instant};

use pardl_testserver::{Behaviour, RequestRecord, TestServer};
use support::*;

/// Waits (up to 20 s) until `ready()` holds, failing the test with `what` otherwise.
#[track_caller]
fn wait_for(what: &str, ready: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !ready() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Asserts that the file at `path` holds exactly `expected` (without printing megabytes if not).
#[track_caller]
fn assert_bytes(path: &std::path::Path, expected: &[u8]) {
    let got = fs::read(path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    assert!(
        got == expected,
        "{} holds {} bytes that differ from the {} expected",
        path.display(),
        got.len(),
        expected.len()
    );
}

/// How many `name` headers `record` carries (a request may carry a header twice).
fn count_headers(record: &RequestRecord, name: &str) -> usize {
    record
        .headers
        .iter()
        .filter(|(n, _)| n.eq_ignore_ascii_case(name))
        .count()
}

// 1. Names.

#[test]
fn a_final_name_never_takes_the_temporary_files_of_another_link() {
    let server = TestServer::start();
    // Slow (3 s on one connection), so the other links end while its `.part` and its control file
    // are in use.
    let slow = serve(
        &server,
        "/z.iso",
        3 * MIB,
        1,
        Behaviour::new().rate_limit(MIB),
    );
    let part = serve(&server, "/a", 64 * KIB, 2, Behaviour::new());
    let control = serve(&server, "/b", 64 * KIB, 3, Behaviour::new());
    let temp = serve(&server, "/c", 64 * KIB, 4, Behaviour::new());
    // A server can ask for a temporary name too, in any case.
    let named = serve_named(
        &server,
        "/get",
        64 * KIB,
        5,
        "attachment; filename=\"Z.ISO.PART\"",
    );
    let tmp = tempfile::tempdir().unwrap();
    let links = [
        format!("{} out=z.iso", server.url("/z.iso")),
        format!("{} out=z.iso.part", server.url("/a")),
        format!("{} out=z.iso.part.pardl", server.url("/b")),
        format!("{} out=z.iso.part.pardl.tmp", server.url("/c")),
        server.url("/get"),
    ];
    let run = pardl(
        tmp.path(),
        Argv::links_file(tmp.path(), &links).args(["-j", "5", "-x", "1", "-k", "256K"]),
    );
    run.assert_code(0);
    let out = tmp.path().join("out");
    assert_bytes(&out.join("z.iso"), &slow);
    assert_bytes(&out.join("z.iso_part"), &part);
    assert_bytes(&out.join("z.iso.part_pardl"), &control);
    assert_bytes(&out.join("z.iso.part.pardl_tmp"), &temp);
    // `Z.ISO_PART` is `z.iso_part` on a case-insensitive file system: numbered.
    assert_bytes(&out.join("Z.1.ISO_PART"), &named);
    assert_eq!(
        names_in(&out),
        [
            "Z.1.ISO_PART",
            "z.iso",
            "z.iso.part.pardl_tmp",
            "z.iso.part_pardl",
            "z.iso_part"
        ]
    );
    run.assert_stderr_line(&["ok", "z.iso (3.0 MiB"]);
}

// 2. A directory shared with another pardl.

/// A file slow enough (8 MiB at 1 MiB/s per connection, 4 connections) that a second process
/// starts while the first is at it.
fn shared_file() -> Served {
    Served::with(
        "/shared.bin",
        8 * MIB,
        6,
        Behaviour::new().rate_limit(MIB).etag("\"s\""),
    )
}

#[test]
fn a_second_pardl_on_the_same_directory_leaves_a_file_in_progress_alone() {
    let file = shared_file();
    let (server, dir) = server_and_tempdir([&file]);
    let out = dir.path().join("out");
    let args =
        Argv::links_file(dir.path(), &[server.url(&file.path)]).args(["-x", "4", "-k", "256K"]);
    let first = Background::start(pardl_command(dir.path(), &args));
    wait_for("the first run's .part", || {
        fs::metadata(out.join("shared.bin.part")).is_ok_and(|m| m.len() > 0)
    });
    let report = dir.path().join("second.jsonl");
    let second = pardl(
        dir.path(),
        args.clone()
            .args(["--report", &report.display().to_string()]),
    );
    second.assert_code(1);
    second.assert_stderr_line(&["FAIL", "shared.bin.part", "another pardl process"]);
    let line = &report_lines(&report)[0];
    assert_eq!(line["error_kind"], "locked", "{line}");
    let first = first.finish();
    first.assert_code(0);
    assert_served_file(&out, "shared.bin", &file);
    assert_eq!(names_in(&out), ["shared.bin"], "no stale control file");
    // The second process asked for nothing: the server saw exactly one download.
    assert_ranged_download(&server.requests_for(&file.path), file.len, 256 * KIB, 4);
}

#[cfg(unix)]
#[test]
fn two_resumers_started_together_after_a_kill_finish_the_file_once() {
    let file = shared_file();
    let (server, dir) = server_and_tempdir([&file]);
    let out = dir.path().join("out");
    let args =
        Argv::links_file(dir.path(), &[server.url(&file.path)]).args(["-x", "4", "-k", "256K"]);
    let mut killed = pardl_command(dir.path(), &args).spawn().unwrap();
    wait_for("a control file", || {
        out.join("shared.bin.part.pardl").exists()
    });
    killed.kill().unwrap();
    killed.wait().unwrap();
    server.reset_stats();
    let one = Background::start(pardl_command(dir.path(), &args));
    let other = Background::start(pardl_command(dir.path(), &args));
    let (one, other) = (one.finish(), other.finish());
    let (winner, loser) = if one.code == Some(0) {
        (one, other)
    } else {
        (other, one)
    };
    winner.assert_code(0);
    loser.assert_code(1);
    loser.assert_stderr_line(&["FAIL", "shared.bin.part", "another pardl process"]);
    assert_served_file(&out, "shared.bin", &file);
    assert_eq!(names_in(&out), ["shared.bin"], "no stale control file");
    // The winner resumed (no probe), and the loser asked for nothing.
    let records = server.requests_for(&file.path);
    assert!(
        records
            .iter()
            .all(|r| !r.range.as_deref().unwrap_or("").starts_with("bytes=0-")),
        "{records:?}"
    );
}

// 3. Links planted in the output directory.

#[cfg(unix)]
#[test]
fn links_in_the_output_directory_are_never_followed() {
    use std::os::unix::fs::{symlink, MetadataExt};
    let server = TestServer::start();
    for (name, seed) in [("f", 7), ("g", 8), ("k", 10), ("d", 11)] {
        serve(
            &server,
            &format!("/{name}.bin"),
            512 * KIB,
            seed,
            Behaviour::new(),
        );
    }
    // About 1.5 s: it saves a control file (through its temporary file) on the way.
    let h = serve(
        &server,
        "/h.bin",
        3 * MIB,
        9,
        Behaviour::new().rate_limit(MIB),
    );
    let tmp = tempfile::tempdir().unwrap();
    let (out, outside) = (tmp.path().join("out"), tmp.path().join("outside"));
    fs::create_dir_all(&out).unwrap();
    fs::create_dir_all(&outside).unwrap();
    let victim = tmp.path().join("victim.txt");
    fs::write(&victim, b"do not touch").unwrap();
    symlink(&victim, out.join("f.bin.part")).unwrap();
    symlink(outside.join("created"), out.join("g.bin.part")).unwrap();
    symlink(&victim, out.join("h.bin.part.pardl.tmp")).unwrap();
    fs::hard_link(&victim, out.join("k.bin.part")).unwrap();
    fs::create_dir(out.join("d.bin.part")).unwrap();
    let urls: Vec<String> = ["f", "g", "h", "k", "d"]
        .iter()
        .map(|name| server.url(&format!("/{name}.bin")))
        .collect();
    let run = pardl(
        tmp.path(),
        Argv::quick("out")
            .args(["-x", "2", "-k", "256K"])
            .args(urls),
    );
    run.assert_code(1);
    run.assert_stderr_line(&["FAIL", "f.bin.part", "symbolic link"]);
    run.assert_stderr_line(&["FAIL", "g.bin.part", "symbolic link"]);
    run.assert_stderr_line(&["FAIL", "k.bin.part", "hard link"]);
    run.assert_stderr_line(&["FAIL", "d.bin.part", "not a regular file"]);
    assert_eq!(fs::read(&victim).unwrap(), b"do not touch");
    assert_eq!(fs::metadata(&victim).unwrap().nlink(), 2);
    assert!(names_in(&outside).is_empty(), "nothing written outside -d");
    assert_bytes(&out.join("h.bin"), &h);
    assert_eq!(
        names_in(&out),
        [
            "d.bin.part",
            "f.bin.part",
            "g.bin.part",
            "h.bin",
            "k.bin.part"
        ]
    );
    // Nothing was asked of the server for the refused files.
    for name in ["f", "g", "k", "d"] {
        assert!(server.requests_for(&format!("/{name}.bin")).is_empty());
    }
}

// 4. Credentials and redirects.

#[test]
fn credentials_go_only_to_the_scheme_host_and_port_they_were_given_for() {
    let origin = TestServer::start();
    // The same host, another port: another origin.
    let mirror = TestServer::start();
    let f = serve(&mirror, "/f.bin", 600 * KIB, 12, Behaviour::new());
    let g = serve(&mirror, "/g.bin", 600 * KIB, 13, Behaviour::new());
    origin.redirect("/f.bin", &mirror.url("/f.bin"), 302);
    origin.redirect("/g.bin", &mirror.url("/g.bin"), 307);
    let with_userinfo = origin.url("/f.bin").replace("http://", "http://u:p%40ss@");
    let tmp = tempfile::tempdir().unwrap();
    pardl(
        tmp.path(),
        [
            "-d",
            "out",
            "-k",
            "128K",
            "--user",
            "alice",
            "--password",
            "s3cret",
            "-H",
            "Authorization: Bearer X",
            "-H",
            "Cookie: session=1",
            "-H",
            "X-Plain: yes",
            &with_userinfo,
            &origin.url("/g.bin"),
        ],
    )
    .assert_code(0);
    assert_bytes(&tmp.path().join("out/f.bin"), &f);
    assert_bytes(&tmp.path().join("out/g.bin"), &g);
    // One Authorization header at most: the URL's own credentials first, then -H, then --user.
    let asked_f = origin.requests_for("/f.bin");
    assert_eq!(asked_f.len(), 1);
    assert_eq!(count_headers(&asked_f[0], "authorization"), 1);
    assert_eq!(asked_f[0].header("authorization"), Some("Basic dTpwQHNz"));
    let asked_g = origin.requests_for("/g.bin");
    assert_eq!(asked_g.len(), 1);
    assert_eq!(count_headers(&asked_g[0], "authorization"), 1);
    assert_eq!(asked_g[0].header("authorization"), Some("Bearer X"));
    assert_eq!(asked_g[0].header("cookie"), Some("session=1"));
    for path in ["/f.bin", "/g.bin"] {
        let served = mirror.requests_for(path);
        assert!(served.len() >= 2, "probe and chunks: {served:?}");
        for record in &served {
            assert_eq!(count_headers(record, "authorization"), 0, "{record:?}");
            assert_eq!(record.header("cookie"), None, "{record:?}");
            assert_eq!(record.header("x-plain"), Some("yes"), "{record:?}");
        }
    }
}

#[test]
fn proxy_authorization_in_a_header_is_refused_before_it_reaches_a_server() {
    let server = TestServer::start();
    serve(&server, "/p.bin", KIB, 20, Behaviour::new());
    let tmp = tempfile::tempdir().unwrap();
    let run = pardl(
        tmp.path(),
        [
            "-d",
            "out",
            "-H",
            "Proxy-Authorization: Basic c2VjcmV0",
            &server.url("/p.bin"),
        ],
    );
    run.assert_code(2);
    run.assert_stderr_line(&["Proxy-Authorization", "--proxy"]);
    assert!(!run.stderr.contains("c2VjcmV0"), "{}", run.stderr);
    assert_eq!(server.stats().requests, 0);
}

#[test]
fn a_redirect_leads_only_to_http_or_https_and_a_relative_one_resolves_as_curl_does() {
    let server = TestServer::start();
    let rel = serve(&server, "/dl/rel.bin", 300 * KIB, 15, Behaviour::new());
    server.redirect("/a/file", "file:///etc/passwd", 302);
    server.redirect("/a/data", "data:text/plain,hello", 302);
    server.redirect("/a/js", "javascript:alert(1)", 302);
    server.redirect("/d/e/f", "../../dl/rel.bin", 302);
    server.redirect("/n", &format!("//{}/dl/rel.bin", server.addr()), 301);
    let tmp = tempfile::tempdir().unwrap();
    let links = [
        format!("{} out=passwd", server.url("/a/file")),
        format!("{} out=data", server.url("/a/data")),
        format!("{} out=js", server.url("/a/js")),
        server.url("/d/e/f"),
        format!("{} out=n.bin", server.url("/n")),
    ];
    let run = pardl(
        tmp.path(),
        Argv::links_file(tmp.path(), &links).args(["-k", "128K", "--retry-wait", "0.01"]),
    );
    run.assert_code(1);
    for (path, location) in [
        ("/a/file", "file:///etc/passwd"),
        ("/a/data", "data:text/plain,hello"),
        ("/a/js", "javascript:alert(1)"),
    ] {
        run.assert_stderr_line(&["FAIL", path, location, "only to http:// and https://"]);
        // Refused once, not retried.
        assert_eq!(server.requests_for(path).len(), 1, "{path}");
    }
    let out = tmp.path().join("out");
    assert_eq!(names_in(&out), ["n.bin", "rel.bin"]);
    assert_bytes(&out.join("rel.bin"), &rel);
    assert_bytes(&out.join("n.bin"), &rel);
    let asked: Vec<String> = server.stats().per_path.into_keys().collect();
    assert_eq!(
        asked,
        ["/a/data", "/a/file", "/a/js", "/d/e/f", "/dl/rel.bin", "/n"],
        "nothing but the links and where they lead"
    );
}

// 5. A server that keeps pardl retrying.

#[test]
fn a_server_that_sends_a_few_bytes_per_answer_is_given_up_on() {
    // It claims 10 GiB and cuts every answer after 4 bytes: each try "gets somewhere".
    let file = Served::with(
        "/endless.bin",
        10 << 30,
        14,
        Behaviour::new().truncate(4, usize::MAX),
    );
    let (server, dir) = server_and_tempdir([&file]);
    let run = Background::start(pardl_command(
        dir.path(),
        [
            "-d",
            "out",
            "-x",
            "4",
            "-k",
            "1M",
            "--max-tries",
            "3",
            "--retry-wait",
            "0.01",
            &server.url(&file.path),
        ],
    ))
    .finish_within(Duration::from_secs(60));
    run.assert_code(1);
    run.assert_stderr_line(&["FAIL", "endless.bin"]);
    // Three tries of the first chunk; the others never start, as the answer never proved itself.
    let records = server.requests_for(&file.path);
    assert_eq!(records.len(), 3, "{records:?}");
    // And no 10 GiB `.part`: the file holds what arrived.
    for path in files_under(&dir.path().join("out")) {
        let len = fs::metadata(&path).unwrap().len();
        assert!(len <= MIB, "{} is {len} bytes", path.display());
    }
}

#[test]
fn a_trickling_body_is_dropped_by_lowest_speed_and_then_given_up_on() {
    // One byte a second: never silent long enough for --stall-timeout. --lowest-speed drops it
    // after its 10-second window; each try brings 10 bytes, which is not progress.
    let file = Served::with("/trickle.bin", 64 * KIB, 19, Behaviour::new().rate_limit(1));
    let (server, dir) = server_and_tempdir([&file]);
    let run = Background::start(pardl_command(
        dir.path(),
        [
            "-d",
            "out",
            "-k",
            "16K",
            "-x",
            "1",
            "--lowest-speed",
            "100",
            "--max-tries",
            "2",
            "--retry-wait",
            "0.01",
            &server.url(&file.path),
        ],
    ))
    .finish_within(Duration::from_secs(90));
    run.assert_code(1);
    run.assert_stderr_line(&["FAIL", "trickle.bin", "slower than the lowest speed"]);
    assert_eq!(server.requests_for(&file.path).len(), 2);
}

// 6. Smaller ones.

#[cfg(unix)]
#[test]
fn the_control_file_keeps_no_password_and_only_its_owner_may_read_it() {
    use std::os::unix::fs::PermissionsExt;
    let failing = Served::with(
        "/secret.bin",
        2 * MIB,
        16,
        // The probe is answered (it carries the first half); the request for the second half,
        // on the other connection, is refused, so the download fails and keeps its resume state.
        Behaviour::new().fail_after(1, 403).etag("\"p\""),
    );
    let (server, dir) = server_and_tempdir([&failing]);
    let url = server
        .url(&failing.path)
        .replace("http://", "http://alice:s3cret@");
    let args = ["-d", "out", "-x", "2", "-k", "256K", &url];
    let run = pardl(dir.path(), args);
    run.assert_code(1);
    assert!(!run.stderr.contains("s3cret"), "{}", run.stderr);
    let out = dir.path().join("out");
    let control = out.join("secret.bin.part.pardl");
    let text = fs::read_to_string(&control).unwrap();
    assert!(!text.contains("s3cret"), "{text}");
    assert!(text.contains("url http://alice:***@127.0.0.1:"), "{text}");
    let mode = fs::metadata(&control).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600, "{mode:o}");
    // The same command continues from it.
    let fixed = Served::with("/secret.bin", 2 * MIB, 16, Behaviour::new().etag("\"p\""));
    fixed.add_to(&server);
    server.reset_stats();
    pardl(dir.path(), args).assert_code(0);
    assert_served_file(&out, "secret.bin", &fixed);
    assert_eq!(names_in(&out), ["secret.bin"]);
    let records = server.requests_for(&fixed.path);
    assert!(
        records
            .iter()
            .all(|r| !r.range.as_deref().unwrap_or("").starts_with("bytes=0-")),
        "resumed, not started over: {records:?}"
    );
    assert!(records
        .iter()
        .all(|r| r.header("authorization") == Some("Basic YWxpY2U6czNjcmV0")));
}

#[cfg(unix)]
#[test]
fn a_control_file_that_is_huge_a_fifo_or_a_device_is_not_read() {
    let server = TestServer::start();
    let data: Vec<Vec<u8>> = ["a", "b", "c"]
        .iter()
        .zip(21..)
        .map(|(name, seed)| {
            serve(
                &server,
                &format!("/{name}.bin"),
                300 * KIB,
                seed,
                Behaviour::new(),
            )
        })
        .collect();
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    fs::create_dir_all(&out).unwrap();
    fs::write(out.join("a.bin.part.pardl"), "x".repeat(2 << 20)).unwrap();
    let fifo = std::process::Command::new("mkfifo")
        .arg(out.join("b.bin.part.pardl"))
        .status()
        .unwrap();
    assert!(fifo.success());
    std::os::unix::fs::symlink("/dev/zero", out.join("c.bin.part.pardl")).unwrap();
    let urls: Vec<String> = ["a", "b", "c"]
        .iter()
        .map(|name| server.url(&format!("/{name}.bin")))
        .collect();
    let run = Background::start(pardl_command(
        tmp.path(),
        Argv::quick("out").args(["-k", "64K"]).args(urls),
    ))
    .finish_within(Duration::from_secs(60));
    run.assert_code(0);
    run.assert_stderr_line(&["a.bin.part.pardl", "larger than"]);
    run.assert_stderr_line(&["b.bin.part.pardl", "not a regular file"]);
    run.assert_stderr_line(&["c.bin.part.pardl", "symbolic link"]);
    assert_eq!(names_in(&out), ["a.bin", "b.bin", "c.bin"]);
    for (name, bytes) in ["a.bin", "b.bin", "c.bin"].iter().zip(&data) {
        assert_bytes(&out.join(name), bytes);
    }
}

#[test]
fn a_leftover_temporary_control_file_does_not_survive_a_successful_run() {
    // What a full disk leaves: the temporary file created, nothing written into it.
    let file = Served::new("/t.bin", 100 * KIB, 24);
    let (server, dir) = server_and_tempdir([&file]);
    let out = dir.path().join("out");
    fs::create_dir_all(&out).unwrap();
    fs::write(out.join("t.bin.part.pardl.tmp"), b"").unwrap();
    pardl(dir.path(), Argv::quick("out").urls(&server, [&file])).assert_code(0);
    assert_served_file(&out, "t.bin", &file);
    assert_eq!(names_in(&out), ["t.bin"]);
}

#[test]
fn a_directory_that_is_a_file_is_a_usage_error() {
    let server = TestServer::start();
    serve(&server, "/x.bin", KIB, 25, Behaviour::new());
    let tmp = tempfile::tempdir().unwrap();
    fs::write(tmp.path().join("plain"), b"a file").unwrap();
    let run = pardl(tmp.path(), ["-d", "plain", &server.url("/x.bin")]);
    run.assert_code(2);
    run.assert_stderr_line(&["plain", "not a directory"]);
    assert_eq!(server.stats().requests, 0);
    assert_eq!(fs::read(tmp.path().join("plain")).unwrap(), b"a file");
}

#[test]
fn bidirectional_controls_in_names_are_replaced_and_never_printed() {
    let server = TestServer::start();
    let invoice = serve_named(
        &server,
        "/invoice",
        1000,
        26,
        "attachment; filename*=UTF-8''invoice%E2%80%AEfdp.exe",
    );
    let report = serve(&server, "/report", 1000, 27, Behaviour::new());
    let tmp = tempfile::tempdir().unwrap();
    let links = [
        server.url("/invoice"),
        format!(
            "{} out=report\u{2067}fdp\u{2069}.exe",
            server.url("/report")
        ),
        "http://exa\u{202E}mple.com/x".to_string(),
    ];
    let run = pardl(tmp.path(), Argv::links_file(tmp.path(), &links));
    run.assert_code(1);
    let out = tmp.path().join("out");
    assert_eq!(names_in(&out), ["invoice_fdp.exe", "report_fdp_.exe"]);
    assert_bytes(&out.join("invoice_fdp.exe"), &invoice);
    assert_bytes(&out.join("report_fdp_.exe"), &report);
    for text in [&run.stdout, &run.stderr] {
        assert!(
            !text.contains(['\u{202E}', '\u{2067}', '\u{2069}']),
            "{text}"
        );
    }
    run.assert_stderr_line(&["FAIL", "line 3", "exa\\u{202e}mple.com"]);
}

#[test]
fn a_checksum_that_is_not_hex_says_which_character_is_wrong() {
    let tmp = tempfile::tempdir().unwrap();
    let line = format!("http://127.0.0.1:9/x sha256=ab{}", "g".repeat(62));
    let run = pardl(tmp.path(), Argv::links_file(tmp.path(), &[line]));
    run.assert_code(1);
    run.assert_stderr_line(&["FAIL", "'g'", "character 3", "not a hex digit"]);
}
