//! What users of curl, wget and aria2 bring with them: a `~/.netrc`, a config file, the checksum
//! files releases publish, `--remote-time`, host names in their own script, a cookies file.
//!
//! Every test runs the binary against a `pardl_testserver::TestServer` on 127.0.0.1 (the IDN test
//! through a CONNECT proxy of its own, also on 127.0.0.1) with `HOME` and `XDG_CONFIG_HOME` pointing
//! into its temporary directory, never at the developer's own files.

use std::fs;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::UNIX_EPOCH;

use md5::Md5;
use pardl_testserver::{Behaviour, TestServer};
use sha1::Sha1;
use sha2::{Digest, Sha256, Sha512};

mod support;

use support::*;

/// `Basic` credentials as a request carries them.
fn basic(user: &str, password: &str) -> String {
    // The test server records the header as sent; the expected value is computed the slow way.
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let bytes = format!("{user}:{password}").into_bytes();
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    format!("Basic {out}")
}

/// Writes `text` to `path` (creating its directory) with Unix mode `mode`.
fn write_private(path: &Path, text: &str, mode: u32) {
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(path, text).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(path, fs::Permissions::from_mode(mode)).unwrap();
    }
    #[cfg(not(unix))]
    let _ = mode;
}

/// The `Authorization` headers of every request for `path`.
fn authorizations(server: &TestServer, path: &str) -> Vec<Option<String>> {
    server
        .requests_for(path)
        .iter()
        .map(|r| r.header("authorization").map(str::to_string))
        .collect()
}

/// The same URL with `localhost` as its host: another host name for the same server.
fn on_localhost(url: &str) -> String {
    url.replacen("127.0.0.1", "localhost", 1)
}

#[test]
fn netrc_credentials_reach_their_machine_and_no_other() {
    let mine = Served::new("/mine.bin", 3 * MIB, 1);
    let other = Served::new("/other.bin", 300 * KIB, 2);
    let away = Served::new("/away.bin", 300 * KIB, 3);
    let (server, dir) = server_and_tempdir([&mine, &other, &away]);
    // A link on the netrc's machine that redirects to another host name.
    server.redirect("/go", &server.url("/away.bin"), 302);
    let home = dir.path().join("home");
    write_private(
        &home.join(".netrc"),
        "# test machines\nmachine localhost\n  login ann\n  password \"s3cret pw\"\n",
        0o600,
    );
    let home_env = home.to_str().unwrap();
    let run = pardl_with_env(
        dir.path(),
        Argv::quick("out").args(["-k", "1M", "-x", "3"]).args([
            on_localhost(&server.url("/mine.bin")),
            server.url("/other.bin"),
            on_localhost(&server.url("/go")),
        ]),
        &[("HOME", home_env)],
    );
    run.assert_code(0);
    let out = dir.path().join("out");
    assert_served_file(&out, "mine.bin", &mine);
    assert_served_file(&out, "other.bin", &other);
    assert_served_file(&out, "away.bin", &away);
    let ann = Some(basic("ann", "s3cret pw"));
    let mine_auth = authorizations(&server, "/mine.bin");
    assert_eq!(mine_auth.len(), 3, "a probe and two more chunks");
    assert!(mine_auth.iter().all(|a| *a == ann), "{mine_auth:?}");
    assert_eq!(authorizations(&server, "/go"), vec![ann.clone()]);
    for path in ["/other.bin", "/away.bin"] {
        let sent = authorizations(&server, path);
        assert!(
            !sent.is_empty() && sent.iter().all(Option::is_none),
            "{path}: {sent:?}"
        );
    }
    assert!(!run.stderr.contains("s3cret"), "{}", run.stderr);
    assert!(
        !run.stderr.contains("can be read by other users"),
        "{}",
        run.stderr
    );

    // --no-netrc: none sent.
    let run = pardl_with_env(
        dir.path(),
        Argv::quick("again").args(["--no-netrc", &on_localhost(&server.url("/other.bin"))]),
        &[("HOME", home_env)],
    );
    run.assert_code(0);
    assert_eq!(authorizations(&server, "/other.bin").last(), Some(&None));
}

#[test]
fn a_netrc_file_can_be_named_and_one_others_can_read_gets_a_warning() {
    let file = Served::new("/f.bin", 100 * KIB, 4);
    let (server, dir) = server_and_tempdir([&file]);
    let netrc = dir.path().join("creds");
    write_private(&netrc, "machine 127.0.0.1 login bob password pw\n", 0o644);
    let run = pardl(
        dir.path(),
        Argv::quick("out").args([
            "--netrc-file",
            netrc.to_str().unwrap(),
            &server.url("/f.bin"),
        ]),
    );
    run.assert_code(0);
    assert_eq!(
        authorizations(&server, "/f.bin"),
        vec![Some(basic("bob", "pw"))]
    );
    #[cfg(unix)]
    run.assert_stderr_line(&["creds", "can be read by other users", "chmod 600"]);

    // A URL that names its user takes that user's password from the netrc.
    let run = pardl(
        dir.path(),
        Argv::quick("two").args([
            "--netrc-file",
            netrc.to_str().unwrap(),
            &server.url("/f.bin").replacen("://", "://bob@", 1),
        ]),
    );
    run.assert_code(0);
    assert_eq!(
        authorizations(&server, "/f.bin").last(),
        Some(&Some(basic("bob", "pw")))
    );

    // A named file that is missing or malformed is a usage error, naming the file and the line.
    let bad = dir.path().join("bad");
    fs::write(&bad, "machine h\nlogn x\n").unwrap();
    let run = pardl(
        dir.path(),
        ["--netrc-file", bad.to_str().unwrap(), "http://h/x"],
    );
    run.assert_code(2);
    run.assert_stderr_line(&["--netrc-file", "line 2: unknown keyword 'logn'"]);
    let run = pardl(dir.path(), ["--netrc-file", "missing", "http://h/x"]);
    run.assert_code(2);
    run.assert_stderr_line(&["--netrc-file", "cannot read missing"]);
}

#[test]
fn the_config_file_changes_what_runs_and_the_command_line_wins() {
    let file = Served::new("/c.bin", 100 * KIB, 5);
    let (server, dir) = server_and_tempdir([&file]);
    let xdg = dir.path().join("xdg");
    write_private(
        &xdg.join("pardl/config"),
        "# pardl settings\nheader = \"X-From: config\"\nuser-agent = from-config\nretry-wait = 0.05\n",
        0o600,
    );
    let xdg_env = xdg.to_str().unwrap();
    let url = server.url("/c.bin");
    let last = |what: &str| {
        server
            .requests_for("/c.bin")
            .last()
            .and_then(|r| r.header(what).map(str::to_string))
    };

    pardl_with_env(
        dir.path(),
        ["-d", "one", &url],
        &[("XDG_CONFIG_HOME", xdg_env)],
    )
    .assert_code(0);
    assert_eq!(last("x-from").as_deref(), Some("config"));
    assert_eq!(last("user-agent").as_deref(), Some("from-config"));

    // The command line's options win: its -U replaces the file's, its -H all of the file's.
    pardl_with_env(
        dir.path(),
        ["-d", "two", "-U", "from-cli", "-H", "X-Cli: 1", &url],
        &[("XDG_CONFIG_HOME", xdg_env)],
    )
    .assert_code(0);
    assert_eq!(last("user-agent").as_deref(), Some("from-cli"));
    assert_eq!(
        (last("x-from"), last("x-cli").as_deref()),
        (None, Some("1"))
    );

    // --no-config ignores it.
    pardl_with_env(
        dir.path(),
        ["-d", "three", "--no-config", &url],
        &[("XDG_CONFIG_HOME", xdg_env)],
    )
    .assert_code(0);
    assert_eq!(last("x-from"), None);
    assert!(last("user-agent").unwrap().starts_with("pardl/"));

    // Without XDG_CONFIG_HOME, ~/.config/pardl/config; --config names another file.
    let home = dir.path().join("home");
    write_private(
        &home.join(".config/pardl/config"),
        "header = X-From: home\n",
        0o600,
    );
    pardl_with_env(
        dir.path(),
        ["-d", "four", &url],
        &[("HOME", home.to_str().unwrap())],
    )
    .assert_code(0);
    assert_eq!(last("x-from").as_deref(), Some("home"));
    let named = dir.path().join("named.conf");
    fs::write(&named, "header = X-From: named\n").unwrap();
    pardl(
        dir.path(),
        ["-d", "five", "--config", named.to_str().unwrap(), &url],
    )
    .assert_code(0);
    assert_eq!(last("x-from").as_deref(), Some("named"));
    for name in ["one", "two", "three", "four", "five"] {
        assert_served_file(&dir.path().join(name), "c.bin", &file);
    }
}

#[test]
fn a_bad_config_line_is_a_usage_error_naming_the_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("xdg/pardl/config");
    for (text, expected) in [
        (
            "jobs = 4\n# fine so far\nconections = 2\n",
            "line 3: unknown option 'conections'",
        ),
        (
            "jobs = lots\n",
            "line 1: invalid value 'lots' for '--jobs <N>'",
        ),
    ] {
        write_private(&config, text, 0o600);
        let run = pardl_with_env(
            dir.path(),
            ["http://127.0.0.1:9/x"],
            &[("XDG_CONFIG_HOME", dir.path().join("xdg").to_str().unwrap())],
        );
        run.assert_code(2);
        run.assert_stderr_line(&["config file", "pardl/config", expected]);
    }
    let run = pardl(
        dir.path(),
        ["--config", "nowhere.conf", "http://127.0.0.1:9/x"],
    );
    run.assert_code(2);
    run.assert_stderr_line(&["cannot read config file nowhere.conf"]);
}

/// The digest of `bytes` with `algorithm` (`md5`, `sha1`, `sha256`, `sha512`), in hex.
fn digest(algorithm: &str, bytes: &[u8]) -> String {
    let raw = match algorithm {
        "md5" => Md5::digest(bytes).to_vec(),
        "sha1" => Sha1::digest(bytes).to_vec(),
        "sha256" => Sha256::digest(bytes).to_vec(),
        "sha512" => Sha512::digest(bytes).to_vec(),
        other => panic!("no algorithm {other}"),
    };
    raw.iter().map(|b| format!("{b:02x}")).collect()
}

#[test]
fn every_checksum_option_passes_the_right_digest_and_fails_a_wrong_one() {
    let algorithms = ["md5", "sha1", "sha256", "sha512"];
    let files: Vec<Served> = algorithms
        .iter()
        .enumerate()
        .flat_map(|(i, _)| {
            [
                // Ranged (hashed from the .part) and streamed (hashed on the way).
                Served::new(&format!("/r{i}.bin"), 2 * MIB, 10 + i as u64),
                Served::with(
                    &format!("/s{i}.bin"),
                    300 * KIB,
                    20 + i as u64,
                    Behaviour::new().ignore_range(),
                ),
            ]
        })
        .collect();
    let (server, dir) = server_and_tempdir(&files);
    let mut lines = Vec::new();
    for (i, algorithm) in algorithms.iter().enumerate() {
        for file in &files[2 * i..2 * i + 2] {
            let right = digest(algorithm, &file.bytes());
            let wrong = "0".repeat(right.len());
            lines.push(format!(
                "{} out=good-{} {algorithm}={}",
                server.url(&file.path),
                file.name(),
                right.to_uppercase()
            ));
            lines.push(format!(
                "{} out=bad-{} {algorithm}={wrong}",
                server.url(&file.path),
                file.name()
            ));
        }
    }
    let run = pardl(
        dir.path(),
        Argv::links_file(dir.path(), &lines).args(["-k", "512K"]),
    );
    run.assert_code(1);
    let out = dir.path().join("out");
    let mut expected: Vec<String> = files.iter().map(|f| format!("good-{}", f.name())).collect();
    expected.sort();
    assert_eq!(
        names_in(&out),
        expected,
        "only verified files, no .part left"
    );
    for file in &files {
        assert_served_file(&out, &format!("good-{}", file.name()), file);
    }
    for (algorithm, label) in algorithms
        .iter()
        .zip(["MD5", "SHA-1", "SHA-256", "SHA-512"])
    {
        let bad = run.stderr_lines_with(&["FAIL", &format!("{label} mismatch")]);
        assert_eq!(bad.len(), 2, "{algorithm}: {}", run.stderr);
    }
    // The failure names the file as it would have been called, not only the URL.
    run.assert_stderr_line(&[
        "FAIL",
        "out/bad-r0.bin: MD5 mismatch: expected 000",
        "downloaded from http://",
    ]);
}

#[test]
fn checksum_files_in_both_formats_check_files_by_their_final_name() {
    let iso = Served::new("/pub/images/disk.iso", 2 * MIB, 30);
    let tgz = Served::with("/get", 300 * KIB, 31, Behaviour::new().ignore_range());
    let bad = Served::new("/bad.bin", 300 * KIB, 32);
    let unlisted = Served::new("/unlisted.bin", 100 * KIB, 33);
    let bad_bsd = Served::new("/bad-bsd.bin", 100 * KIB, 34);
    let (server, dir) = server_and_tempdir([&iso, &tgz, &bad, &unlisted, &bad_bsd]);
    // GNU text and binary mode with paths in the names, and the BSD form for SHA-512.
    let sha256sums = format!(
        "{}  ./images/disk.iso\n{} *bad.bin\n",
        digest("sha256", &iso.bytes()),
        "f".repeat(64)
    );
    let sha512sums = format!(
        "SHA512 (release-1.0.tgz) = {}\nSHA512 (bad-bsd.bin) = {}\n",
        digest("sha512", &tgz.bytes()),
        "e".repeat(128)
    );
    fs::write(dir.path().join("SHA256SUMS"), sha256sums).unwrap();
    fs::write(dir.path().join("SHA512SUMS"), sha512sums).unwrap();
    let lines = [
        server.url(&iso.path),
        format!("{} out=release-1.0.tgz", server.url("/get?id=7")),
        server.url(&bad.path),
        server.url(&unlisted.path),
        server.url(&bad_bsd.path),
    ];
    let run = pardl(
        dir.path(),
        Argv::links_file(dir.path(), &lines).args([
            "--checksum-file",
            "SHA256SUMS",
            "--checksum-file",
            "SHA512SUMS",
            "--report",
            "report.jsonl",
        ]),
    );
    run.assert_code(1);
    let out = dir.path().join("out");
    assert_eq!(
        names_in(&out),
        vec!["disk.iso", "release-1.0.tgz", "unlisted.bin"]
    );
    assert_served_file(&out, "disk.iso", &iso);
    assert_served_file(&out, "release-1.0.tgz", &tgz);
    run.assert_stderr_line(&[
        "FAIL",
        "line 3",
        "out/bad.bin: SHA-256 mismatch",
        &"f".repeat(64),
    ]);
    run.assert_stderr_line(&[
        "unlisted.bin",
        "no checksum file lists this name; not verified",
    ]);
    run.assert_stderr_line(&[
        "FAIL",
        "line 5",
        "out/bad-bsd.bin: SHA-512 mismatch",
        &"e".repeat(128),
    ]);
    let report = report_lines(&dir.path().join("report.jsonl"));
    let tgz_line = report_line_for(&report, "/get?id=7");
    assert_eq!(
        tgz_line["checksum"],
        format!("sha512={}", digest("sha512", &tgz.bytes()))
    );
    assert_eq!(tgz_line["sha256"], serde_json::Value::Null);
    let iso_line = report_line_for(&report, "disk.iso");
    assert_eq!(iso_line["sha256"], digest("sha256", &iso.bytes()));

    // A file that is not a checksum file is a usage error.
    let run = pardl(
        dir.path(),
        ["--checksum-file", "links.txt", "http://127.0.0.1:9/x"],
    );
    run.assert_code(2);
    run.assert_stderr_line(&["--checksum-file", "links.txt has no checksum lines"]);
}

/// `Last-Modified: Wed, 21 Oct 2015 07:28:00 GMT`, as seconds since 1970.
const LAST_MODIFIED: &str = "Wed, 21 Oct 2015 07:28:00 GMT";
const LAST_MODIFIED_SECS: u64 = 1_445_412_480;

fn mtime(path: &Path) -> u64 {
    fs::metadata(path)
        .unwrap()
        .modified()
        .unwrap()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

#[test]
fn remote_time_sets_the_mtime_from_last_modified_also_after_a_resume() {
    let dated = Behaviour::new().last_modified(LAST_MODIFIED);
    let ranged = Served::with("/ranged.bin", 2 * MIB, 40, dated.clone());
    let streamed = Served::with("/streamed.bin", 300 * KIB, 41, dated.clone().ignore_range());
    let resumed = Served::with("/resumed.bin", MIB, 42, dated);
    let undated = Served::new("/undated.bin", 100 * KIB, 43);
    let (server, dir) = server_and_tempdir([&ranged, &streamed, &resumed, &undated]);
    let out = dir.path().join("out");
    // What an interrupted run left of resumed.bin: its first half, and the resume state.
    fs::create_dir_all(&out).unwrap();
    let half = resumed.len / 2;
    let mut part = resumed.bytes();
    part[half as usize..].fill(0);
    fs::write(out.join("resumed.bin.part"), &part).unwrap();
    fs::write(
        out.join("resumed.bin.part.pardl"),
        format!(
            "pardl-control 1\nurl {}\nsize {}\nlast-modified {LAST_MODIFIED}\nchunk 0 {half} {half}\nchunk {half} {} 0\n",
            server.url(&resumed.path),
            resumed.len,
            resumed.len
        ),
    )
    .unwrap();
    let run = pardl(
        dir.path(),
        Argv::quick("out")
            .args(["-R", "-k", "512K"])
            .urls(&server, [&ranged, &streamed, &resumed, &undated]),
    );
    run.assert_code(0);
    for file in [&ranged, &streamed, &resumed] {
        assert_served_file(&out, file.name(), file);
        assert_eq!(
            mtime(&out.join(file.name())),
            LAST_MODIFIED_SECS,
            "{}",
            file.name()
        );
    }
    assert_eq!(
        server.requests_for(&resumed.path).len(),
        1,
        "only the missing half was fetched"
    );
    assert!(mtime(&out.join("undated.bin")) > LAST_MODIFIED_SECS);

    // Without the option the file gets the time of its download.
    pardl(dir.path(), Argv::quick("plain").urls(&server, [&ranged])).assert_code(0);
    assert!(mtime(&dir.path().join("plain/ranged.bin")) > LAST_MODIFIED_SECS);
}

/// A CONNECT proxy on 127.0.0.1 that tunnels every connection to one address, whatever host it is
/// asked for, and keeps the request line of each CONNECT.
struct TunnelProxy {
    addr: SocketAddr,
    connects: Arc<Mutex<Vec<String>>>,
}

impl TunnelProxy {
    fn start(target: SocketAddr) -> TunnelProxy {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let connects = Arc::new(Mutex::new(Vec::new()));
        let seen = Arc::clone(&connects);
        std::thread::spawn(move || {
            for client in listener.incoming().flatten() {
                let seen = Arc::clone(&seen);
                std::thread::spawn(move || tunnel(client, target, &seen));
            }
        });
        TunnelProxy { addr, connects }
    }
}

fn tunnel(client: TcpStream, target: SocketAddr, seen: &Mutex<Vec<String>>) {
    let mut reader = BufReader::new(client.try_clone().unwrap());
    let mut first = String::new();
    if reader.read_line(&mut first).is_err() {
        return;
    }
    seen.lock().unwrap().push(first.trim_end().to_string());
    loop {
        let mut line = String::new();
        match reader.read_line(&mut line) {
            Ok(0) | Err(_) => return,
            Ok(_) if line == "\r\n" => break,
            Ok(_) => {}
        }
    }
    let Ok(mut upstream) = TcpStream::connect(target) else {
        return;
    };
    let mut client_out = client;
    if client_out
        .write_all(b"HTTP/1.1 200 Connection established\r\n\r\n")
        .is_err()
    {
        return;
    }
    // Whatever the reader holds past the head belongs to the tunnel.
    let early = reader.buffer().to_vec();
    let _ = upstream.write_all(&early);
    let mut upstream_in = upstream.try_clone().unwrap();
    let mut client_in = reader.into_inner();
    let up = std::thread::spawn(move || {
        let _ = std::io::copy(&mut client_in, &mut upstream);
        let _ = upstream.shutdown(std::net::Shutdown::Write);
    });
    let mut buffer = [0u8; 64 * 1024];
    while let Ok(n) = upstream_in.read(&mut buffer) {
        if n == 0 || client_out.write_all(&buffer[..n]).is_err() {
            break;
        }
    }
    let _ = client_out.shutdown(std::net::Shutdown::Both);
    let _ = up.join();
}

#[test]
fn an_idn_host_is_sent_as_punycode() {
    // The path is sent percent-encoded too, as browsers send it.
    let encoded_path = "/b%C3%BCcher/f.bin";
    let served = Served::new(encoded_path, 2 * MIB, 50);
    let (server, dir) = server_and_tempdir([&served]);
    let proxy = TunnelProxy::start(server.addr());
    let run = pardl(
        dir.path(),
        Argv::quick("out").args([
            "--proxy",
            &format!("http://{}", proxy.addr),
            "-k",
            "512K",
            "http://Bücher.example/bücher/f.bin",
        ]),
    );
    run.assert_code(0);
    assert_served_file(&dir.path().join("out"), "f.bin", &served);
    let connects = proxy.connects.lock().unwrap().clone();
    assert!(!connects.is_empty());
    for line in &connects {
        assert_eq!(line, "CONNECT xn--bcher-kva.example:80 HTTP/1.1");
    }
    let requests = server.requests_for(encoded_path);
    assert!(requests.len() > 1, "ranged: several requests");
    for request in &requests {
        assert_eq!(request.header("host"), Some("xn--bcher-kva.example"));
    }
}

#[test]
fn cookies_of_a_cookies_file_reach_only_matching_urls() {
    let files = [
        Served::new("/private/a.bin", 2 * MIB, 60),
        Served::new("/public/b.bin", 100 * KIB, 61),
        Served::new("/c.bin", 100 * KIB, 62),
    ];
    let (server, dir) = server_and_tempdir(&files);
    let far_future = 4_102_444_800u64; // 2100
    let cookies = format!(
        "# Netscape HTTP Cookie File\n\
         localhost\tFALSE\t/private\tFALSE\t0\tsession\tabc\n\
         #HttpOnly_localhost\tFALSE\t/\tFALSE\t{far_future}\tsite\tall\n\
         localhost\tFALSE\t/\tTRUE\t0\tsecure\tonly-https\n\
         localhost\tFALSE\t/\tFALSE\t1\texpired\tgone\n\
         example.com\tTRUE\t/\tFALSE\t0\tother\tnever\n"
    );
    let jar = dir.path().join("cookies.txt");
    fs::write(&jar, cookies).unwrap();
    let run = pardl(
        dir.path(),
        Argv::quick("out")
            .args([
                "--load-cookies",
                jar.to_str().unwrap(),
                "-k",
                "512K",
                "-H",
                "Cookie: given=1",
            ])
            .args([
                on_localhost(&server.url("/private/a.bin")),
                on_localhost(&server.url("/public/b.bin")),
                server.url("/c.bin"),
            ]),
    );
    run.assert_code(0);
    let cookie = |path: &str| -> Vec<Option<String>> {
        server
            .requests_for(path)
            .iter()
            .map(|r| {
                let all: Vec<&str> = r
                    .headers
                    .iter()
                    .filter(|(n, _)| n.eq_ignore_ascii_case("cookie"))
                    .map(|(_, v)| v.as_str())
                    .collect();
                assert!(all.len() <= 1, "one Cookie header at most: {all:?}");
                all.first().map(|v| v.to_string())
            })
            .collect()
    };
    let private = cookie("/private/a.bin");
    assert!(private.len() > 1, "ranged: several requests");
    for sent in &private {
        assert_eq!(sent.as_deref(), Some("given=1; session=abc; site=all"));
    }
    assert_eq!(
        cookie("/public/b.bin"),
        vec![Some("given=1; site=all".to_string())]
    );
    // 127.0.0.1 is not the cookies' domain: only the -H cookie goes there.
    assert_eq!(cookie("/c.bin"), vec![Some("given=1".to_string())]);
    assert!(!run.stderr.contains("abc"), "{}", run.stderr);
    for file in &files {
        assert_served_file(&dir.path().join("out"), file.name(), file);
    }
}
