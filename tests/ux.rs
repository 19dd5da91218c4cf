//! What a user of the `pardl` command sees and relies on: plain output off a terminal, the
//! `--report` file, names from `Content-Disposition` and redirects, `-o`, `-H`/`-U`, credentials kept
//! out of every message, `--limit-rate`, retries in the summary, completions and the man page.
//!
//! Every test talks only to a `pardl_testserver::TestServer` on 127.0.0.1, and runs the binary with
//! the proxy variables removed (a proxy would intercept 127.0.0.1).

use std::fs;
use std::time::{Duration, Instant};

use pardl_testserver::{Behaviour, Body, TestServer};
use serde_json::Value;

mod support;

use support::*;

#[test]
fn output_without_a_terminal_has_no_escape_codes_and_a_line_per_file() {
    let server = TestServer::start();
    serve(
        &server,
        "/slow.bin",
        300 * KIB,
        1,
        Behaviour::new().rate_limit(300 * KIB),
    );
    serve(&server, "/fast.bin", 10 * KIB, 2, Behaviour::new());
    let tmp = tempfile::tempdir().unwrap();
    let run = pardl(
        tmp.path(),
        [
            "-d",
            "out",
            "-v",
            "-x",
            "2",
            "-k",
            "64K",
            &server.url("/slow.bin"),
            &server.url("/fast.bin"),
            &server.url("/missing.bin"),
        ],
    );
    run.assert_code(1);
    assert!(
        !run.stderr.contains('\x1b'),
        "escape codes: {:?}",
        run.stderr
    );
    assert!(
        !run.stderr.contains('\r'),
        "carriage returns: {:?}",
        run.stderr
    );
    assert!(run.stdout.is_empty(), "{:?}", run.stdout);
    let finished: Vec<&str> = run
        .stderr
        .lines()
        .filter(|l| l.starts_with("ok ") || l.starts_with("FAIL "))
        .collect();
    assert_eq!(finished.len(), 3, "{}", run.stderr);
    // The closing table names the failed link and its kind.
    assert!(
        run.stderr
            .lines()
            .any(|l| l.contains("argument 3") && l.contains("http-status") && l.contains("404")),
        "{}",
        run.stderr
    );
    run.assert_stderr_contains("2 ok, 0 skipped, 1 failed");
}

#[test]
fn limit_rate_holds_the_rate_over_all_connections() {
    let server = TestServer::start();
    let bytes = serve(&server, "/limited.bin", 3 * MIB, 3, Behaviour::new());
    let tmp = tempfile::tempdir().unwrap();
    let report = tmp.path().join("r.jsonl");
    let started = Instant::now();
    pardl(
        tmp.path(),
        [
            "-d",
            "out",
            "-x",
            "4",
            "-k",
            "256K",
            "--limit-rate",
            "1M",
            "--report",
            &report.to_string_lossy(),
            &server.url("/limited.bin"),
        ],
    )
    .assert_code(0);
    let elapsed = started.elapsed();
    // 3 MiB at 1 MiB/s is 3 s; the bucket lends 0.1 s of burst. No upper bound: a slow machine may
    // take longer, and that is no failure of the limit.
    assert!(
        elapsed >= Duration::from_millis(2700),
        "3 MiB at --limit-rate 1M took only {elapsed:?}"
    );
    assert_eq!(fs::read(tmp.path().join("out/limited.bin")).unwrap(), bytes);
    let lines = report_lines(&report);
    assert!(
        lines[0]["connections"].as_u64().unwrap_or(0) >= 2,
        "the limit is shared by several connections, not reached by using one: {}",
        lines[0]
    );
}

#[test]
fn content_disposition_names_the_file_in_both_forms() {
    let server = TestServer::start();
    let plain = serve_named(
        &server,
        "/get",
        20 * KIB,
        4,
        "attachment; filename=\"report.pdf\"",
    );
    let extended = serve_named(
        &server,
        "/ext",
        20 * KIB,
        5,
        "attachment; filename=\"fallback.txt\"; filename*=UTF-8''na%C3%AFve%20notes.txt",
    );
    let tmp = tempfile::tempdir().unwrap();
    let report = tmp.path().join("report.jsonl");
    let report_arg = report.to_string_lossy().into_owned();
    let args = [
        "-d",
        "out",
        "--report",
        &report_arg,
        &server.url("/get?id=1"),
        &server.url("/ext"),
    ];
    pardl(tmp.path(), args).assert_code(0);
    let out = tmp.path().join("out");
    assert_eq!(fs::read(out.join("report.pdf")).unwrap(), plain);
    assert_eq!(fs::read(out.join("naïve notes.txt")).unwrap(), extended);
    assert!(!out.join("get").exists() && !out.join("ext").exists());

    // A rerun skips them: the name is decided after the probe, and so is the skip.
    let run = pardl(tmp.path(), args);
    run.assert_code(0);
    run.assert_stderr_contains("0 ok, 2 skipped");
    let lines = report_lines(&report);
    assert_eq!(lines.len(), 4, "appended, not replaced");
    assert_eq!(lines[2]["status"], "skipped");
    assert!(
        lines[2]["path"].as_str().unwrap().ends_with("report.pdf")
            || lines[3]["path"].as_str().unwrap().ends_with("report.pdf")
    );
}

#[test]
fn hostile_content_disposition_names_stay_inside_the_directory() {
    let server = TestServer::start();
    let passwd = serve_named(
        &server,
        "/a",
        1000,
        6,
        "attachment; filename=\"../../etc/passwd\"",
    );
    let windows = serve_named(&server, "/b", 1000, 7, "attachment; filename=\"C:\\\\x\"");
    let encoded = serve_named(
        &server,
        "/c",
        1000,
        8,
        "attachment; filename*=UTF-8''..%2F..%2Fevil.sh",
    );
    let tmp = tempfile::tempdir().unwrap();
    let base = tmp.path().join("base");
    fs::create_dir(&base).unwrap();
    pardl(
        &base,
        [
            "-d",
            "out",
            &server.url("/a"),
            &server.url("/b"),
            &server.url("/c"),
        ],
    )
    .assert_code(0);
    let out = base.join("out");
    assert_eq!(fs::read(out.join("etc_passwd")).unwrap(), passwd);
    assert_eq!(fs::read(out.join("C__x")).unwrap(), windows);
    assert_eq!(fs::read(out.join("evil.sh")).unwrap(), encoded);
    let outside = names_in(tmp.path());
    assert_eq!(
        outside,
        ["base"],
        "nothing written outside the output directory"
    );
    assert_eq!(fs::read_dir(&base).unwrap().count(), 1);
}

#[test]
fn out_option_wins_over_content_disposition_and_a_redirect_names_the_file() {
    let server = TestServer::start();
    let named = serve_named(
        &server,
        "/named",
        5000,
        9,
        "attachment; filename=\"server.bin\"",
    );
    let target = serve(
        &server,
        "/files/app-2.0.tar.gz",
        300 * KIB,
        10,
        Behaviour::new(),
    );
    server.add(
        "/latest",
        Body::from(""),
        Behaviour::new().redirect(302, "/files/app-2.0.tar.gz"),
    );
    let tmp = tempfile::tempdir().unwrap();
    write_links(
        tmp.path(),
        "links.txt",
        &[
            format!("{} out=mine.bin", server.url("/named")),
            server.url("/latest"),
        ],
    );
    let report = tmp.path().join("r.jsonl");
    pardl(
        tmp.path(),
        [
            "-d",
            "out",
            "-i",
            "links.txt",
            "-k",
            "64K",
            "--report",
            &report.to_string_lossy(),
        ],
    )
    .assert_code(0);
    let out = tmp.path().join("out");
    assert_eq!(fs::read(out.join("mine.bin")).unwrap(), named);
    assert!(!out.join("server.bin").exists());
    assert_eq!(fs::read(out.join("app-2.0.tar.gz")).unwrap(), target);
    let lines = report_lines(&report);
    let redirected = report_line_for(&lines, "/latest");
    assert_eq!(
        redirected["final_url"],
        server.url("/files/app-2.0.tar.gz").as_str()
    );
}

#[test]
fn dash_o_names_a_single_url() {
    let server = TestServer::start();
    let bytes = serve(&server, "/x.bin", 5000, 11, Behaviour::new());
    let tmp = tempfile::tempdir().unwrap();
    pardl(
        tmp.path(),
        ["-d", "out", "-o", "custom.dat", &server.url("/x.bin")],
    )
    .assert_code(0);
    assert_eq!(fs::read(tmp.path().join("out/custom.dat")).unwrap(), bytes);

    let two = pardl(
        tmp.path(),
        ["-o", "a", &server.url("/x.bin"), &server.url("/x.bin")],
    );
    two.assert_code(2);
    two.assert_stderr_contains("single URL");
    let path = pardl(tmp.path(), ["-o", "dir/a", &server.url("/x.bin")]);
    path.assert_code(2);
    path.assert_stderr_contains("-d DIR -o NAME");
}

#[test]
fn headers_and_user_agent_reach_every_request() {
    let server = TestServer::start();
    serve(&server, "/h.bin", 600 * KIB, 12, Behaviour::new());
    let tmp = tempfile::tempdir().unwrap();
    pardl(
        tmp.path(),
        [
            "-d",
            "out",
            "-k",
            "128K",
            "-x",
            "3",
            "-H",
            "X-Test: yes",
            "--header",
            "Cookie: session=abc",
            "-U",
            "pardl-test/1.0",
            &server.url("/h.bin"),
        ],
    )
    .assert_code(0);
    let records = server.requests_for("/h.bin");
    assert!(records.len() >= 2, "probe and chunks: {records:?}");
    for record in &records {
        assert_eq!(record.header("x-test"), Some("yes"), "{record:?}");
        assert_eq!(record.header("cookie"), Some("session=abc"), "{record:?}");
        assert_eq!(
            record.header("user-agent"),
            Some("pardl-test/1.0"),
            "{record:?}"
        );
    }

    let refused = pardl(
        tmp.path(),
        ["-H", "Range: bytes=0-1", &server.url("/h.bin")],
    );
    refused.assert_code(2);
    refused.assert_stderr_contains("Range");
}

#[test]
fn credentials_are_sent_but_never_printed_or_reported() {
    let server = TestServer::start();
    serve(&server, "/private.bin", 300 * KIB, 13, Behaviour::new());
    let tmp = tempfile::tempdir().unwrap();
    let report = tmp.path().join("r.jsonl");
    let with_password = |path: &str| server.url(path).replace("http://", "http://ann:s3cret@");
    let run = pardl(
        tmp.path(),
        [
            "-d",
            "out",
            "-vv",
            "-k",
            "64K",
            "--report",
            &report.to_string_lossy(),
            &with_password("/private.bin"),
            &with_password("/missing.bin"),
        ],
    );
    run.assert_code(1);
    // base64("ann:s3cret")
    let expected = "Basic YW5uOnMzY3JldA==".to_string();
    let records = server.requests_for("/private.bin");
    assert!(!records.is_empty());
    for record in &records {
        assert_eq!(
            record.header("authorization"),
            Some(expected.as_str()),
            "{record:?}"
        );
    }
    let report_text = fs::read_to_string(&report).unwrap();
    for (what, text) in [
        ("stderr", &run.stderr),
        ("stdout", &run.stdout),
        ("report", &report_text),
    ] {
        assert!(!text.contains("s3cret"), "password in {what}: {text}");
    }
    run.assert_stderr_contains("ann:***@");
    let lines = report_lines(&report);
    assert_eq!(
        report_line_for(&lines, "/missing.bin")["error_kind"],
        "http-status"
    );
    assert!(report_line_for(&lines, "/missing.bin")["url"]
        .as_str()
        .unwrap()
        .contains("ann:***@"));

    // --user/--password: sent as Basic credentials, and kept out of the output as well.
    serve(&server, "/other.bin", 1000, 14, Behaviour::new());
    let run = pardl(
        tmp.path(),
        [
            "-d",
            "out",
            "-vv",
            "--user",
            "bob",
            "--password",
            "hunter2",
            &server.url("/other.bin"),
        ],
    );
    run.assert_code(0);
    // base64("bob:hunter2")
    let expected = "Basic Ym9iOmh1bnRlcjI=".to_string();
    assert_eq!(
        server.requests_for("/other.bin")[0].header("authorization"),
        Some(expected.as_str())
    );
    assert!(!run.stderr.contains("hunter2"), "{}", run.stderr);
}

#[test]
fn report_lines_parse_and_hold_the_right_fields() {
    let server = TestServer::start();
    // Capped per connection, so the chunks' connections overlap and the report sees several.
    let big = serve(
        &server,
        "/big.bin",
        512 * KIB,
        15,
        Behaviour::new().rate_limit(2 * MIB),
    );
    let flaky = serve(
        &server,
        "/flaky.bin",
        2000,
        16,
        Behaviour::new().fail_first(503, 2),
    );
    let tmp = tempfile::tempdir().unwrap();
    let sha = sha256_hex(&big);
    write_links(
        tmp.path(),
        "links.txt",
        &[
            format!("{} sha256={sha}", server.url("/big.bin")),
            server.url("/flaky.bin"),
            server.url("/gone.bin"),
            "not-a-url".to_owned(),
        ],
    );
    let report = tmp.path().join("report.jsonl");
    let run = pardl(
        tmp.path(),
        [
            "-d",
            "out",
            "-k",
            "128K",
            "-x",
            "4",
            "--retry-wait",
            "0.01",
            "--report",
            &report.to_string_lossy(),
        ],
    );
    run.assert_code(1);
    assert_eq!(fs::read(tmp.path().join("out/flaky.bin")).unwrap(), flaky);
    let lines = report_lines(&report);
    assert_eq!(lines.len(), 4, "{lines:#?}");
    let keys = [
        "url",
        "final_url",
        "path",
        "origin",
        "status",
        "size",
        "error_kind",
        "error",
        "sha256",
        "seconds",
        "connections",
        "retries",
        "splits",
        "mirrors",
    ];
    for line in &lines {
        for key in keys {
            assert!(line.get(key).is_some(), "{key} missing in {line}");
        }
    }

    let big_line = report_line_for(&lines, "/big.bin");
    assert_eq!(big_line["status"], "ok");
    assert_eq!(big_line["size"], 512 * KIB);
    assert_eq!(big_line["sha256"], sha.as_str());
    assert_eq!(big_line["origin"], "line 1");
    assert!(big_line["path"].as_str().unwrap().ends_with("out/big.bin"));
    assert!(big_line["connections"].as_u64().unwrap() >= 2, "{big_line}");
    assert!(big_line["seconds"].as_f64().unwrap() >= 0.0);
    assert_eq!(big_line["error"], Value::Null);

    let flaky_line = report_line_for(&lines, "/flaky.bin");
    assert_eq!(flaky_line["status"], "ok");
    assert_eq!(flaky_line["retries"], 2, "{flaky_line}");
    assert_eq!(flaky_line["sha256"], Value::Null);

    let gone = report_line_for(&lines, "/gone.bin");
    assert_eq!(gone["status"], "failed");
    assert_eq!(gone["error_kind"], "http-status");
    assert!(gone["error"].as_str().unwrap().contains("404"));

    let malformed = report_line_for(&lines, "not-a-url");
    assert_eq!(malformed["status"], "failed");
    assert_eq!(malformed["error_kind"], "malformed-link");
    assert_eq!(malformed["path"], Value::Null);

    assert!(
        run.stderr.contains("2 ok, 0 skipped, 2 failed") && run.stderr.contains("; 2 retries"),
        "{}",
        run.stderr
    );
}

#[test]
fn completions_and_man_page_are_generated_from_the_parser() {
    let tmp = tempfile::tempdir().unwrap();
    let bash = pardl(tmp.path(), ["completions", "bash"]);
    bash.assert_code(0);
    assert!(bash.stdout.contains("_pardl()"), "{}", bash.stdout);
    assert!(bash.stdout.contains("--limit-rate"));
    let zsh = pardl(tmp.path(), ["completions", "zsh"]);
    zsh.assert_code(0);
    assert!(zsh.stdout.starts_with("#compdef pardl"), "{}", zsh.stdout);
    let fish = pardl(tmp.path(), ["completions", "fish"]);
    fish.assert_code(0);
    assert!(fish.stdout.contains("complete -c pardl"), "{}", fish.stdout);
    let man = pardl(tmp.path(), ["man"]);
    man.assert_code(0);
    assert!(man.stdout.contains(".TH pardl 1"), "{}", man.stdout);
    assert!(man.stdout.contains("limit\\-rate"), "{}", man.stdout);
    // The synopsis gives each option's value, and SEE ALSO names only pages that exist.
    assert!(
        man.stdout
            .contains("[\\fB\\-j\\fR|\\fB\\-\\-jobs\\fR \\fIN\\fR]"),
        "{}",
        man.stdout
    );
    assert!(
        !man.stdout.contains("pardl\\-completions(1)") && !man.stdout.contains("pardl\\-help(1)")
    );
    // Both commands are in --help.
    let help = pardl(tmp.path(), ["--help"]);
    assert!(help.stdout.contains("\n  completions  "), "{}", help.stdout);
    assert!(
        help.stdout.contains("\n  man          Print the man page"),
        "{}",
        help.stdout
    );
    pardl(tmp.path(), ["completions", "tcsh"]).assert_code(2);

    // A URL is still a URL, not a subcommand.
    let server = TestServer::start();
    let bytes = serve(&server, "/completions", 100, 17, Behaviour::new());
    pardl(tmp.path(), ["-d", "out", &server.url("/completions")]).assert_code(0);
    assert_eq!(fs::read(tmp.path().join("out/completions")).unwrap(), bytes);
}

#[test]
fn secret_headers_do_not_follow_a_redirect_to_another_host() {
    let origin = TestServer::start();
    let mirror = TestServer::start();
    let data = serve(&mirror, "/file.bin", 600 * KIB, 13, Behaviour::new());
    // Another host name, not just another port: that is what "another host" means to a redirect.
    let mirror_by_name = mirror.url("/file.bin").replace("127.0.0.1", "localhost");
    origin.redirect("/file.bin", &mirror_by_name, 302);
    let tmp = tempfile::tempdir().unwrap();
    pardl(
        tmp.path(),
        [
            "-d",
            "out",
            "-k",
            "128K",
            "-H",
            "Authorization: Bearer secret-token",
            "-H",
            "X-Plain: yes",
            &origin.url("/file.bin"),
        ],
    )
    .assert_code(0);
    assert_eq!(fs::read(tmp.path().join("out/file.bin")).unwrap(), data);
    let asked = origin.requests_for("/file.bin");
    assert_eq!(
        asked[0].header("authorization"),
        Some("Bearer secret-token"),
        "the link's own host gets it"
    );
    let served = mirror.requests_for("/file.bin");
    assert!(
        served.len() >= 2,
        "probe (redirected) and chunks: {served:?}"
    );
    for record in &served {
        assert_eq!(record.header("authorization"), None, "{record:?}");
        assert_eq!(record.header("x-plain"), Some("yes"), "{record:?}");
    }
}

#[test]
fn a_socks_proxy_is_refused_as_a_usage_error() {
    let tmp = tempfile::tempdir().unwrap();
    let run = pardl(
        tmp.path(),
        [
            "--proxy",
            "socks5://u:hidden@127.0.0.1:1080",
            "http://127.0.0.1:9/x",
        ],
    );
    run.assert_code(2);
    run.assert_stderr_contains("only http:// and https:// proxies");
    assert!(
        !run.stderr.contains("hidden"),
        "the password is masked: {}",
        run.stderr
    );
}
