//! One test per fault a server or the local disk can throw at pardl (issue "never lose a byte").
//!
//! Every test checks the exact final bytes (or the exact failure), the request count where it
//! matters, and that nothing incorrect sits under the final name. The fault model is described in
//! docs/faults.md.

mod support;

use std::fs;
use std::path::Path;
use std::time::{Duration, Instant};

use pardl::ChunkPlan;
use pardl_testserver::{pattern_bytes, Behaviour, Fault, TestServer, Version};
use support::*;

/// Flags every fault test uses: small chunks so a few MiB make several, quick retries.
const FAST: [&str; 6] = ["-x", "4", "-k", "256K", "--retry-wait", "0.05"];

/// Runs pardl in `dir` on a links file of `lines` (downloads in `dir/out`) with [`FAST`], then
/// `extra`.
fn run_links(dir: &Path, lines: &[String], extra: &[&str]) -> Run {
    pardl(dir, Argv::links_file(dir, lines).args(FAST).args(extra))
}

#[test]
fn a_connection_reset_mid_body_continues_from_where_the_chunk_stopped() {
    let file = Served::with(
        "/reset.bin",
        2 * MIB,
        31,
        Behaviour::new().reset_after(100 * KIB, 2),
    );
    let (server, dir) = server_and_tempdir([&file]);
    run_links(dir.path(), &[server.url(&file.path)], &[]).assert_code(0);
    assert_served_file(&dir.path().join("out"), "reset.bin", &file);
    let records = server.requests_for(&file.path);
    let planned = expected_requests(file.len, 256 * KIB, 4);
    assert_eq!(records.len(), planned + 2, "one extra request per reset");
    // The retries ask for the rest of their chunk, not for the chunk again.
    let retried: Vec<_> = records[planned.min(records.len())..].to_vec();
    let stats = server.stats().path(&file.path);
    assert_eq!(stats.faults_injected, 2);
    assert!(
        stats.bytes_sent <= file.len + 2 * 100 * KIB,
        "at most the cut bytes may be sent twice, sent {} for {}; retries {retried:?}",
        stats.bytes_sent,
        file.len
    );
    assert_no_part_files(&dir.path().join("out"));
}

#[test]
fn a_503_with_retry_after_is_waited_out_then_retried() {
    let file = Served::with(
        "/busy.bin",
        MIB,
        32,
        Behaviour::new().fail_first(503, 2).retry_after("1"),
    );
    let (server, dir) = server_and_tempdir([&file]);
    let started = Instant::now();
    run_links(dir.path(), &[server.url(&file.path)], &[]).assert_code(0);
    // --retry-wait is 0.05 s; only honouring Retry-After makes the two retries take 2 s.
    assert!(
        started.elapsed() >= Duration::from_millis(1900),
        "{:?}",
        started.elapsed()
    );
    assert_served_file(&dir.path().join("out"), "busy.bin", &file);
    assert_eq!(
        server.requests_for(&file.path).len(),
        expected_requests(file.len, 256 * KIB, 4) + 2
    );
}

#[test]
fn a_429_with_an_http_date_in_the_past_is_retried_at_once() {
    let file = Served::with(
        "/limited.bin",
        MIB,
        33,
        Behaviour::new()
            .fail_first(429, 1)
            .retry_after("Thu, 01 Jan 1970 00:00:00 GMT"),
    );
    let (server, dir) = server_and_tempdir([&file]);
    run_links(dir.path(), &[server.url(&file.path)], &[]).assert_code(0);
    assert_served_file(&dir.path().join("out"), "limited.bin", &file);
    let records = server.requests_for(&file.path);
    assert_eq!(records[0].status, 429);
    assert_eq!(records.len(), expected_requests(file.len, 256 * KIB, 4) + 1);
}

#[test]
fn server_errors_are_retried_until_max_tries_then_fail_the_link() {
    let flaky = Served::with("/flaky.bin", MIB, 34, Behaviour::new().fail_first(500, 2));
    let broken = Served::with("/broken.bin", MIB, 35, Behaviour::new().status(500));
    let (server, dir) = server_and_tempdir([&flaky, &broken]);
    let run = run_links(
        dir.path(),
        &[server.url(&flaky.path), server.url(&broken.path)],
        &["--max-tries", "3"],
    );
    run.assert_code(1);
    run.assert_stderr_line(&["FAIL", "/broken.bin", "500"]);
    assert_served_file(&dir.path().join("out"), "flaky.bin", &flaky);
    assert_eq!(
        server.requests_for(&broken.path).len(),
        3,
        "--max-tries 3 means three tries"
    );
    assert!(!dir.path().join("out/broken.bin").exists());
    assert_no_part_files(&dir.path().join("out"));
}

#[test]
fn a_client_error_fails_at_once_without_retries() {
    let file = Served::with("/forbidden.bin", MIB, 36, Behaviour::new().status(403));
    let (server, dir) = server_and_tempdir([&file]);
    let run = run_links(dir.path(), &[server.url(&file.path)], &[]);
    run.assert_code(1);
    run.assert_stderr_line(&["FAIL", "403 Forbidden"]);
    assert_eq!(server.requests_for(&file.path).len(), 1);
}

#[test]
fn a_server_that_stops_honouring_range_mid_download_gets_the_file_as_one_stream() {
    let file = Served::with(
        "/fickle.bin",
        2 * MIB,
        37,
        Behaviour::new().ignore_range_after(3),
    );
    let (server, dir) = server_and_tempdir([&file]);
    let run = run_links(dir.path(), &[server.url(&file.path)], &["-v"]);
    run.assert_code(0);
    run.assert_stderr_line(&["stopped honouring ranges"]);
    assert_served_file(&dir.path().join("out"), "fickle.bin", &file);
    let records = server.requests_for(&file.path);
    let last = records.last().unwrap();
    assert_eq!(
        (last.range.as_deref(), last.status),
        (None, 200),
        "the fallback asks for the whole file"
    );
    assert_no_part_files(&dir.path().join("out"));
}

#[test]
fn a_wrong_content_range_is_never_written_and_the_chunk_retries() {
    let file = Served::with(
        "/shifted.bin",
        2 * MIB,
        38,
        Behaviour::new().wrong_content_range(2),
    );
    let (server, dir) = server_and_tempdir([&file]);
    run_links(dir.path(), &[server.url(&file.path)], &[]).assert_code(0);
    assert_served_file(&dir.path().join("out"), "shifted.bin", &file);
    assert_eq!(
        server.requests_for(&file.path).len(),
        expected_requests(file.len, 256 * KIB, 4) + 2
    );
}

#[test]
fn a_server_that_caps_its_answer_to_the_probe_gets_the_rest_planned_after_it() {
    // The probe asks for the whole file and gets its first MiB: that is chunk 0, and the other
    // 3 MiB are one chunk per connection (each under the cap, asked for with a bounded range).
    let file = Served::with(
        "/capped-answer.bin",
        4 * MIB,
        50,
        Behaviour::new().cap_open_range(MIB),
    );
    let (server, dir) = server_and_tempdir([&file]);
    run_links(dir.path(), &[server.url(&file.path)], &[]).assert_code(0);
    assert_served_file(&dir.path().join("out"), "capped-answer.bin", &file);
    let records = server.requests_for(&file.path);
    let planned: Vec<_> = ChunkPlan::new(file.len, MIB, 4, 256 * KIB)
        .ranges()
        .into_iter()
        .map(|(range, _)| range)
        .collect();
    assert_eq!(
        planned.len(),
        5,
        "the probe's MiB, then one chunk per connection"
    );
    assert_eq!(records.len(), planned.len(), "{records:?}");
    assert_eq!(records[0].range.as_deref(), Some(PROBE_RANGE));
    let mut asked: Vec<_> = records[1..]
        .iter()
        .map(|r| parse_range(r.range.as_deref().unwrap(), 0))
        .collect();
    asked.sort_by_key(|r| r.start);
    assert_eq!(asked, planned[1..], "{records:?}");
    assert!(records.iter().all(|r| r.status == 206));
    assert_eq!(server.stats().path(&file.path).bytes_sent, file.len);
}

#[test]
fn a_stalled_connection_is_dropped_and_retried() {
    let file = Served::with(
        "/stall.bin",
        2 * MIB,
        39,
        Behaviour::new().stall_after(64 * KIB, Duration::from_secs(20), 1),
    );
    let (server, dir) = server_and_tempdir([&file]);
    let (run, splits) = run_with_report(
        dir.path(),
        &server.url(&file.path),
        &["--stall-timeout", "1"],
    );
    run.assert_code(0);
    assert_served_file(&dir.path().join("out"), "stall.bin", &file);
    // The stalled answer is the probe's, whose range has more left than one chunk: the idle
    // connections may take part of it over before the stall timeout ends it.
    assert_eq!(
        server.requests_for(&file.path).len() as u64,
        expected_requests(file.len, 256 * KIB, 4) as u64 + 1 + splits,
        "one retry for the stalled chunk, and one request per split"
    );
}

#[test]
fn a_truncated_body_is_retried_from_where_it_stopped() {
    let file = Served::with(
        "/short.bin",
        2 * MIB,
        40,
        Behaviour::new().truncate(10 * KIB, 2),
    );
    let (server, dir) = server_and_tempdir([&file]);
    run_links(dir.path(), &[server.url(&file.path)], &[]).assert_code(0);
    assert_served_file(&dir.path().join("out"), "short.bin", &file);
    let stats = server.stats().path(&file.path);
    assert_eq!(
        stats.requests,
        expected_requests(file.len, 256 * KIB, 4) + 2
    );
    assert_eq!(
        stats.bytes_sent, file.len,
        "a clean cut loses nothing: no byte is sent twice"
    );
}

#[test]
fn a_truncated_stream_without_ranges_is_fetched_again_whole() {
    let file = Served::with(
        "/short-stream.bin",
        MIB,
        41,
        Behaviour::new().ignore_range().truncate(100 * KIB, 1),
    );
    let (server, dir) = server_and_tempdir([&file]);
    run_links(dir.path(), &[server.url(&file.path)], &[]).assert_code(0);
    assert_served_file(&dir.path().join("out"), "short-stream.bin", &file);
    assert_eq!(server.requests_for(&file.path).len(), 2);
}

#[test]
fn a_file_that_changes_mid_download_is_restarted_once_and_never_mixed() {
    let new_content = pattern_bytes(99, 0, (2 * MIB) as usize);
    let file = Served::with(
        "/moving.bin",
        2 * MIB,
        42,
        Behaviour::new()
            .etag("\"v1\"")
            // The probe gets the first version (and carries the first half); the next request (the
            // second half, on the other connection) sees the second.
            .change_after(1, Version::new(new_content.clone()).etag("\"v2\"")),
    );
    let (server, dir) = server_and_tempdir([&file]);
    let run = run_links(dir.path(), &[server.url(&file.path)], &["-x", "2"]);
    run.assert_code(0);
    run.assert_stderr_line(&["changed on the server"]);
    let got = fs::read(dir.path().join("out/moving.bin")).unwrap();
    assert!(
        got == new_content,
        "the file must be entirely the new version"
    );
    let records = server.requests_for(&file.path);
    // Every range request after a probe names the version it continues.
    assert!(records
        .iter()
        .filter(|r| r.range.as_deref().is_some_and(|r| r != PROBE_RANGE))
        .all(|r| r.header("if-range").is_some()));
}

#[test]
fn a_redirect_chain_is_followed_and_a_loop_fails_clearly() {
    let file = Served::new("/real.bin", MIB, 43);
    let (server, dir) = server_and_tempdir([&file]);
    server.redirect("/first", "/second", 302);
    server.redirect("/second", "/real.bin", 301);
    server.redirect("/loop-a", "/loop-b", 302);
    server.redirect("/loop-b", "/loop-a", 302);
    let run = run_links(
        dir.path(),
        &[
            format!("{} out=chained.bin", server.url("/first")),
            format!("{} out=loop.bin", server.url("/loop-a")),
        ],
        &[],
    );
    run.assert_code(1);
    run.assert_stderr_line(&["FAIL", "/loop-a", "redirect"]);
    assert_served_file(&dir.path().join("out"), "chained.bin", &file);
    assert!(!dir.path().join("out/loop.bin").exists());
    // Chunks go straight to the final URL: the redirect is followed once, by the probe.
    assert_eq!(server.requests_for("/first").len(), 1);
}

#[test]
fn a_checksum_mismatch_fails_the_link_and_leaves_nothing() {
    let ranged = Served::new("/ranged.bin", MIB, 44);
    let streamed = Served::with("/streamed.bin", MIB, 45, Behaviour::new().ignore_range());
    let good = Served::new("/good.bin", MIB, 46);
    let (server, dir) = server_and_tempdir([&ranged, &streamed, &good]);
    let wrong = "0".repeat(64);
    let right = sha256_hex(&good.bytes());
    let run = run_links(
        dir.path(),
        &[
            format!("{} sha256={wrong}", server.url(&ranged.path)),
            format!("{} sha256={wrong}", server.url(&streamed.path)),
            format!("{} sha256={}", server.url(&good.path), right.to_uppercase()),
        ],
        &[],
    );
    run.assert_code(1);
    let actual = sha256_hex(&ranged.bytes());
    run.assert_stderr_line(&["/ranged.bin", &format!("expected {wrong}, got {actual}")]);
    run.assert_stderr_line(&["/streamed.bin", "SHA-256 mismatch"]);
    let out = dir.path().join("out");
    assert_eq!(
        names_in(&out),
        vec!["good.bin".to_string()],
        "nothing but the verified file"
    );
    assert_served_file(&out, "good.bin", &good);
}

#[test]
fn the_checksum_option_verifies_a_single_url() {
    let file = Served::new("/one.bin", 300 * KIB, 47);
    let (server, dir) = server_and_tempdir([&file]);
    let right = sha256_hex(&file.bytes());
    let out = dir.path().join("out");
    pardl(
        dir.path(),
        [
            &server.url(&file.path),
            "-d",
            out.to_str().unwrap(),
            "--checksum",
            &format!("sha256={right}"),
        ],
    )
    .assert_code(0);
    assert_served_file(&out, "one.bin", &file);
    // With a links file it is a usage error: the checksum belongs in the file.
    let links = write_links(dir.path(), "l.txt", &[server.url(&file.path)]);
    pardl(
        dir.path(),
        [
            "-i",
            links.to_str().unwrap(),
            "--checksum",
            &format!("sha256={right}"),
        ],
    )
    .assert_code(2);
}

#[test]
fn a_local_error_names_the_path_and_other_links_continue() {
    let blocked = Served::new("/blocked.bin", MIB, 48);
    let fine = Served::new("/fine.bin", MIB, 49);
    let (server, dir) = server_and_tempdir([&blocked, &fine]);
    let out = dir.path().join("out");
    // A directory where the .part file must go: creating it fails, as on a read-only or full disk
    // (tests may run as root, for whom permissions do not apply).
    fs::create_dir_all(out.join("blocked.bin.part")).unwrap();
    let run = run_links(
        dir.path(),
        &[server.url(&blocked.path), server.url(&fine.path)],
        &[],
    );
    run.assert_code(1);
    run.assert_stderr_line(&[
        "FAIL",
        "cannot open",
        "blocked.bin.part",
        "not a regular file",
    ]);
    assert!(!out.join("blocked.bin").exists());
    assert_served_file(&out, "fine.bin", &fine);
    // A real read-only output directory, where permissions apply (not to root).
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let read_only = dir.path().join("read-only");
        fs::create_dir(&read_only).unwrap();
        fs::set_permissions(&read_only, fs::Permissions::from_mode(0o555)).unwrap();
        if fs::write(read_only.join("probe"), b"").is_err() {
            let run = pardl(
                dir.path(),
                [&server.url(&fine.path), "-d", read_only.to_str().unwrap()],
            );
            run.assert_code(1);
            run.assert_stderr_line(&[
                "FAIL",
                "cannot create",
                "read-only/fine.bin.part",
                "ermission denied",
            ]);
        }
        fs::set_permissions(&read_only, fs::Permissions::from_mode(0o755)).unwrap();
    }
    // An output "directory" that is a file: a usage error, which says where.
    let not_a_dir = dir.path().join("file");
    fs::write(&not_a_dir, b"x").unwrap();
    let run = pardl(
        dir.path(),
        [&server.url(&fine.path), "-d", not_a_dir.to_str().unwrap()],
    );
    run.assert_code(2);
    run.assert_stderr_line(&["file", "is not a directory"]);
}

/// The names in `dir` seen while `run` downloads, looked at every few milliseconds until it ends.
#[cfg(target_os = "linux")]
fn names_seen_while(run: Background, dir: &Path) -> (Run, std::collections::BTreeSet<String>) {
    let mut run = run;
    let mut seen = std::collections::BTreeSet::new();
    while run.child.try_wait().expect("waiting for pardl").is_none() {
        if let Ok(entries) = fs::read_dir(dir) {
            for entry in entries.flatten() {
                seen.insert(entry.file_name().to_string_lossy().into_owned());
            }
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    (run.finish(), seen)
}

/// A small new file has no name until it is whole (Linux's `O_TMPFILE`, see src/disk/part.rs): no
/// `.part` of it is ever seen, even while its body trickles in for a quarter of a second. A big one
/// is seen under its `.part` name as it downloads, as someone watching the directory expects.
#[cfg(target_os = "linux")]
#[test]
fn a_small_file_is_never_seen_unfinished_and_a_big_one_is_seen_under_its_part_name() {
    let small = Served::with(
        "/small.bin",
        256 * KIB,
        60,
        Behaviour::new().rate_limit(MIB),
    );
    let big = Served::with(
        "/big.bin",
        4 * MIB,
        61,
        Behaviour::new().rate_limit(4 * MIB),
    );
    let (server, dir) = server_and_tempdir([&small, &big]);
    let out = dir.path().join("out");
    fs::create_dir_all(&out).unwrap();
    let out_arg = out.to_str().unwrap();

    let url = server.url(&small.path);
    let run = Background::start(pardl_command(dir.path(), [url.as_str(), "-d", out_arg]));
    let (run, seen) = names_seen_while(run, &out);
    run.assert_code(0);
    assert!(seen.iter().all(|name| name == "small.bin"), "{seen:?}");
    assert_served_file(&out, "small.bin", &small);

    let url = server.url(&big.path);
    let run = Background::start(pardl_command(dir.path(), [url.as_str(), "-d", out_arg]));
    let (run, seen) = names_seen_while(run, &out);
    run.assert_code(0);
    assert!(seen.contains("big.bin.part"), "{seen:?}");
    assert_served_file(&out, "big.bin", &big);
    assert_no_part_files(&out);
}

/// A final name that was free when the run read its directory, but that another program takes
/// while pardl downloads the file, is left to that program: whether the file had no name yet (a
/// small one) or its `.part` name (a big one), nothing replaces the other file, nothing of pardl's
/// is left, and the link counts as skipped, as it would have had the file been there at the start.
#[cfg(target_os = "linux")]
#[test]
fn a_name_taken_while_downloading_is_left_to_its_owner_and_the_link_is_skipped() {
    let stalled = |bytes| Behaviour::new().stall_after(bytes, Duration::from_secs(3), 1);
    let small = Served::with("/small.bin", 64 * KIB, 62, stalled(32 * KIB));
    let big = Served::with("/big.bin", 2 * MIB, 63, stalled(MIB));
    let (server, dir) = server_and_tempdir([&small, &big]);
    let out = dir.path().join("out");
    fs::create_dir_all(&out).unwrap();
    let urls = [server.url(&small.path), server.url(&big.path)];
    let args = [&urls[0], &urls[1], "-j", "2", "-d", out.to_str().unwrap()];
    let mut run = Background::start(pardl_command(dir.path(), args));
    // Both answers have begun (the big file has its `.part` name), and both stall for 3 s.
    let deadline = Instant::now() + Duration::from_secs(20);
    while server.requests_for(&small.path).is_empty() || !out.join("big.bin.part").exists() {
        assert!(run.child.try_wait().unwrap().is_none(), "pardl ended early");
        assert!(Instant::now() < deadline, "the downloads did not begin");
        std::thread::sleep(Duration::from_millis(2));
    }
    fs::write(out.join("small.bin"), b"another program's small file").unwrap();
    fs::write(out.join("big.bin"), b"another program's big file").unwrap();
    let run = run.finish();
    run.assert_code(0);
    for name in ["small.bin", "big.bin"] {
        run.assert_stderr_line(&["skip ", name, "(already exists)"]);
        run.assert_stderr_line(&["another program created a file under this name", name]);
    }
    assert_eq!(
        fs::read(out.join("small.bin")).unwrap(),
        b"another program's small file"
    );
    assert_eq!(
        fs::read(out.join("big.bin")).unwrap(),
        b"another program's big file"
    );
    assert_eq!(names_in(&out), ["big.bin", "small.bin"]);
    // Both were downloaded whole: the server saw no second attempt of the small one.
    assert_eq!(server.requests_for(&small.path).len(), 1);
}

#[cfg(unix)]
#[test]
fn a_full_disk_fails_the_link_with_the_path_and_no_final_file() {
    // RLIMIT_FSIZE (with SIGXFSZ ignored) makes writes past 512 KiB fail (EFBIG), the way a full disk
    // fails them (ENOSPC): the same error path, without needing a tiny file system.
    let file = Served::new("/huge.bin", 4 * MIB, 50);
    let (server, dir) = server_and_tempdir([&file]);
    let out = dir.path().join("out");
    let script = format!(
        "trap '' XFSZ; ulimit -f 512; exec '{PARDL}' '{}' -d '{}' -x 2 -k 256K",
        server.url(&file.path),
        out.display()
    );
    let output = scrub_env(std::process::Command::new("sh").arg("-c").arg(script))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    // The file is big enough to get its `.part` name as soon as its size is known (see
    // src/disk/part.rs): the message names that, and what it holds is kept there with its resume
    // state, for a rerun once there is room.
    assert!(
        stderr.contains(&format!(
            "cannot write {}: ",
            out.join("huge.bin.part").display()
        )),
        "the message names the file: {stderr}"
    );
    let mut left: Vec<_> = fs::read_dir(&out)
        .unwrap()
        .map(|entry| entry.unwrap().file_name())
        .collect();
    left.sort();
    assert_eq!(left, ["huge.bin.part", "huge.bin.part.pardl"]);
}

#[test]
fn a_server_refusing_extra_connections_gets_fewer() {
    let file = Served::with(
        "/crowded.bin",
        2 * MIB,
        51,
        Behaviour::new().rate_limit(2 * MIB).max_concurrent(2, 416),
    );
    let (server, dir) = server_and_tempdir([&file]);
    let run = run_links(dir.path(), &[server.url(&file.path)], &["-k", "128K"]);
    run.assert_code(0);
    run.assert_stderr_line(&["refused a connection", "using at most"]);
    assert_served_file(&dir.path().join("out"), "crowded.bin", &file);
    let stats = server.stats().path(&file.path);
    // Once halved to 2, pardl stops asking for more than the server allows.
    assert!(
        stats.refusals >= 1 && stats.refusals <= 6,
        "refusals: {}",
        stats.refusals
    );
}

#[test]
fn a_corrupt_control_file_is_reported_and_the_file_starts_over() {
    let file = Served::new("/c.bin", MIB, 52);
    let (server, dir) = server_and_tempdir([&file]);
    let out = dir.path().join("out");
    fs::create_dir_all(&out).unwrap();
    fs::write(out.join("c.bin.part"), vec![7u8; file.len as usize]).unwrap();
    fs::write(out.join("c.bin.part.pardl"), "pardl-control 1\nsize lots\n").unwrap();
    let run = run_links(dir.path(), &[server.url(&file.path)], &[]);
    run.assert_code(0);
    run.assert_stderr_line(&["c.bin.part.pardl", "unusable resume state", "from scratch"]);
    assert_served_file(&out, "c.bin", &file);
    assert_eq!(names_in(&out), vec!["c.bin".to_string()]);
}

/// A throttled multi-chunk download (4 MiB at 256 KiB/s per connection, 4 connections: about 4 s),
/// set up the way the interruption tests use it.
struct Interruptible {
    server: TestServer,
    file: Served,
    dir: tempfile::TempDir,
    out: std::path::PathBuf,
    args: Argv,
}

impl Interruptible {
    fn new(seed: u64) -> Interruptible {
        let file = Served::with(
            "/throttled.bin",
            4 * MIB,
            seed,
            Behaviour::new().rate_limit(256 * KIB).etag("\"t\""),
        );
        let (server, dir) = server_and_tempdir([&file]);
        let out = dir.path().join("out");
        let args =
            Argv::links_file(dir.path(), &[server.url(&file.path)]).args(["-x", "4", "-k", "256K"]);
        Interruptible {
            server,
            file,
            dir,
            out,
            args,
        }
    }

    fn bytes_sent(&self) -> u64 {
        self.server.stats().path(&self.file.path).bytes_sent
    }
}

#[cfg(unix)]
#[test]
fn ctrl_c_saves_progress_and_the_same_command_resumes() {
    let setup = Interruptible::new(53);
    let (file, dir, out, args) = (&setup.file, &setup.dir, &setup.out, &setup.args);
    let running = Background::start(pardl_command(dir.path(), args));
    std::thread::sleep(Duration::from_millis(2500));
    let status = std::process::Command::new("kill")
        .args(["-INT", &running.child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let run = running.finish();
    run.assert_code(130);
    run.assert_stderr_contains("run the same command again to resume");
    assert!(!out.join("throttled.bin").exists());
    let control = fs::read_to_string(out.join("throttled.bin.part.pardl")).unwrap();
    assert!(
        control.starts_with("# pardl control file") && control.contains("etag \"t\""),
        "{control}"
    );
    let sent_before = setup.bytes_sent();

    pardl(dir.path(), args).assert_code(0);
    assert_served_file(out, "throttled.bin", file);
    assert_eq!(
        names_in(out),
        vec!["throttled.bin".to_string()],
        "control and .part are gone"
    );
    let sent = setup.bytes_sent();
    // A clean stop saves every written byte: the rerun fetches only what was missing, plus what was
    // in flight (read from the socket but not yet written) when the stop came.
    assert!(
        sent <= file.len + 4 * 256 * KIB,
        "sent {sent} bytes for a {}-byte file ({sent_before} before the interruption)",
        file.len
    );
}

#[cfg(unix)]
#[test]
fn kill_9_at_random_moments_then_rerun_ends_byte_identical_with_bounded_refetch() {
    let setup = Interruptible::new(54);
    let (file, dir, out, args) = (&setup.file, &setup.dir, &setup.out, &setup.args);
    let mut seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos() as u64;
    let kills = 3;
    for _ in 0..kills {
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let after = Duration::from_millis(1200 + (seed >> 33) % 1000);
        let mut child = pardl_command(dir.path(), args).spawn().unwrap();
        std::thread::sleep(after);
        child.kill().unwrap();
        child.wait().unwrap();
        assert!(
            !out.join("throttled.bin").exists()
                || fs::metadata(out.join("throttled.bin")).unwrap().len() == file.len
        );
    }
    pardl(dir.path(), args).assert_code(0);
    let got = fs::read(out.join("throttled.bin")).unwrap();
    assert_eq!(sha256_hex(&got), sha256_hex(&file.bytes()));
    assert_eq!(names_in(out), vec!["throttled.bin".to_string()]);
    // Each kill loses at most about one checkpoint period of transfer per connection (4 connections
    // at 256 KiB/s), plus what was in flight; allow 2 s per connection per kill.
    let sent = setup.bytes_sent();
    let bound = file.len + kills * 4 * 2 * 256 * KIB;
    assert!(
        sent <= bound,
        "sent {sent} bytes for a {}-byte file, bound {bound}",
        file.len
    );
}

#[test]
fn a_resumed_download_of_a_changed_file_starts_over() {
    let file = Served::with("/v.bin", MIB, 55, Behaviour::new().etag("\"new\""));
    let (server, dir) = server_and_tempdir([&file]);
    let out = dir.path().join("out");
    fs::create_dir_all(&out).unwrap();
    // State left by an earlier run against the old version: half of it "downloaded".
    fs::write(out.join("v.bin.part"), vec![1u8; file.len as usize]).unwrap();
    let half = file.len / 2;
    fs::write(
        out.join("v.bin.part.pardl"),
        format!(
            "pardl-control 1\nurl {}\nsize {}\netag \"old\"\nchunk 0 {half} {half}\nchunk {half} {} 0\n",
            server.url(&file.path),
            file.len,
            file.len
        ),
    )
    .unwrap();
    let run = run_links(dir.path(), &[server.url(&file.path)], &[]);
    run.assert_code(0);
    run.assert_stderr_line(&["changed on the server"]);
    assert_served_file(&out, "v.bin", &file);
}

/// Sends Ctrl-C (SIGINT) to a running pardl after `after`, and waits for it to end.
#[cfg(unix)]
fn interrupt_after(running: Background, after: Duration) -> Run {
    std::thread::sleep(after);
    let status = std::process::Command::new("kill")
        .args(["-INT", &running.child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    running.finish()
}

/// The bytes a control file says are on disk: the sum of its chunks' third numbers.
fn saved_in_control(path: &Path) -> u64 {
    fs::read_to_string(path)
        .unwrap()
        .lines()
        .filter_map(|line| line.strip_prefix("chunk "))
        .map(|chunk| chunk.split(' ').nth(2).unwrap().parse::<u64>().unwrap())
        .sum()
}

#[cfg(unix)]
#[test]
fn totals_say_what_this_run_fetched_and_what_was_already_there() {
    use pardl::units::human_bytes;
    let setup = Interruptible::new(56);
    let (file, dir, out, args) = (&setup.file, &setup.dir, &setup.out, &setup.args);
    let run = interrupt_after(
        Background::start(pardl_command(dir.path(), args)),
        Duration::from_millis(1500),
    );
    run.assert_code(130);
    let saved = saved_in_control(&out.join("throttled.bin.part.pardl"));
    assert!(saved > 0 && saved < file.len, "{saved}");
    // Before this fix the summary counted only finished files: "0 B".
    run.assert_stderr_line(&[
        "0 ok, 0 skipped, 0 failed, 1 interrupted;",
        &format!("; {} in ", human_bytes(saved)),
    ]);
    run.assert_stderr_contains(
        "Interrupted: progress is saved; run the same command again to resume.",
    );

    let run = pardl(dir.path(), args);
    run.assert_code(0);
    assert_served_file(out, "throttled.bin", file);
    // The resumed run fetched the rest; what the first one saved is counted apart, not in the speed.
    run.assert_stderr_line(&[
        &format!(
            "1 ok, 0 skipped, 0 failed; {} in ",
            human_bytes(file.len - saved)
        ),
        &format!("({} was already there); 0 retries", human_bytes(saved)),
    ]);
}

#[cfg(unix)]
#[test]
fn ctrl_c_promises_a_resume_only_for_what_was_saved() {
    let file = Served::with(
        "/whole.bin",
        4 * MIB,
        57,
        Behaviour::new().ignore_range().rate_limit(512 * KIB),
    );
    let (server, dir) = server_and_tempdir([&file]);
    let args = Argv::links_file(dir.path(), &[server.url(&file.path)]);
    let run = interrupt_after(
        Background::start(pardl_command(dir.path(), &args)),
        Duration::from_millis(1500),
    );
    run.assert_code(130);
    assert!(!run.stderr.contains("progress is saved"), "{}", run.stderr);
    run.assert_stderr_contains(
        "Interrupted: nothing could be saved (1 file from a server without ranges cannot resume); run the same command again to start over.",
    );
    assert_eq!(names_in(&dir.path().join("out")), Vec::<String>::new());
}

/// Runs pardl with [`FAST`] and `--report`, and returns the run and the file's `splits` count.
fn run_with_report(dir: &Path, url: &str, extra: &[&str]) -> (Run, u64) {
    let report = dir.join("report.jsonl");
    let report_arg = report.to_str().unwrap().to_string();
    let run = run_links(
        dir,
        &[url.to_string()],
        &[&["--report", report_arg.as_str()], extra].concat(),
    );
    let lines = report_lines(&report);
    let splits = lines
        .last()
        .and_then(|line| line["splits"].as_u64())
        .expect("a splits count in the report");
    (run, splits)
}

#[test]
fn a_slow_connection_s_range_is_split_and_the_file_is_byte_exact() {
    // The first chunk after the probe goes at 128 KiB/s, the others as fast as the machine allows:
    // without a split the file would take 16 s.
    let file = Served::with(
        "/straggler.bin",
        8 * MIB,
        60,
        Behaviour::new().slow(1, 1, 128 * KIB),
    );
    let (server, dir) = server_and_tempdir([&file]);
    let (run, splits) = run_with_report(dir.path(), &server.url(&file.path), &[]);
    run.assert_code(0);
    assert_served_file(&dir.path().join("out"), "straggler.bin", &file);
    let records = server.requests_for(&file.path);
    let slow: Vec<_> = records
        .iter()
        .filter(|r| r.faults.contains(&Fault::Slow { rate: 128 * KIB }))
        .collect();
    assert_eq!(slow.len(), 1, "{records:?}");
    let first = probe_end(file.len, 256 * KIB, 4);
    let slow = parse_range(slow[0].range.as_deref().unwrap(), first);
    // The request log shows the split: a request for the upper part of the slow range.
    let taken: Vec<_> = ranges_starting_inside_others(&records, first)
        .into_iter()
        .filter(|r| slow.start < r.start && r.start < slow.end)
        .collect();
    assert!(!taken.is_empty(), "no split of {slow:?}: {records:?}");
    assert!(splits >= 1, "the report counts the split");
    assert_eq!(
        records.len() as u64,
        expected_requests(file.len, 256 * KIB, 4) as u64 + splits,
        "one request per planned chunk and one per split, no retry"
    );
    assert_ranges_cover(&records, 0..file.len, first);
    assert_no_part_files(&dir.path().join("out"));
}

#[test]
fn a_stalled_chunk_is_split_and_the_file_is_byte_exact() {
    // The first response longer than 512 KiB (a chunk, not the probe) stops for 3 s after 512 KiB,
    // then goes on: the others take over the rest of its range meanwhile.
    let file = Served::with(
        "/stalled.bin",
        8 * MIB,
        61,
        Behaviour::new().stall_after(512 * KIB, Duration::from_secs(3), 1),
    );
    let (server, dir) = server_and_tempdir([&file]);
    let (run, splits) = run_with_report(dir.path(), &server.url(&file.path), &[]);
    run.assert_code(0);
    assert_served_file(&dir.path().join("out"), "stalled.bin", &file);
    let records = server.requests_for(&file.path);
    let stalled: Vec<_> = records.iter().filter(|r| !r.faults.is_empty()).collect();
    assert_eq!(stalled.len(), 1, "{records:?}");
    let first = probe_end(file.len, 256 * KIB, 4);
    let stalled = parse_range(stalled[0].range.as_deref().unwrap(), first);
    assert!(
        ranges_starting_inside_others(&records, first)
            .iter()
            .any(|r| stalled.start + 512 * KIB < r.start && r.start < stalled.end),
        "nobody took over the stalled range {stalled:?}: {records:?}"
    );
    assert!(splits >= 1);
    assert_eq!(
        records.len() as u64,
        expected_requests(file.len, 256 * KIB, 4) as u64 + splits
    );
    assert_ranges_cover(&records, 0..file.len, first);
}

#[cfg(unix)]
#[test]
fn kill_9_right_after_a_split_then_rerun_ends_byte_identical() {
    // 4 connections at 512 KiB/s, one of them at 64 KiB/s: the others run out of work after about
    // 2 s and split the slow range. The run is killed as soon as the split request arrives.
    let file = Served::with(
        "/split-kill.bin",
        4 * MIB,
        62,
        Behaviour::new()
            .rate_limit(512 * KIB)
            .slow(1, 1, 64 * KIB)
            .etag("\"s\""),
    );
    let (server, dir) = server_and_tempdir([&file]);
    let out = dir.path().join("out");
    let args =
        Argv::links_file(dir.path(), &[server.url(&file.path)]).args(["-x", "4", "-k", "256K"]);
    let mut child = pardl_command(dir.path(), &args).spawn().unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    let first = probe_end(file.len, 256 * KIB, 4);
    while ranges_starting_inside_others(&server.requests_for(&file.path), first).is_empty() {
        assert!(Instant::now() < deadline, "no split within 30 s");
        std::thread::sleep(Duration::from_millis(5));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(!out.join("split-kill.bin").exists());
    if let Ok(control) = fs::read_to_string(out.join("split-kill.bin.part.pardl")) {
        // Whatever moment it was saved at, it describes ranges that tile the file.
        let mut at = 0;
        for line in control.lines().filter(|l| l.starts_with("chunk ")) {
            let numbers: Vec<u64> = line[6..].split(' ').map(|n| n.parse().unwrap()).collect();
            assert_eq!(numbers[0], at, "{control}");
            assert!(numbers[2] <= numbers[1] - numbers[0], "{control}");
            at = numbers[1];
        }
        assert_eq!(at, file.len, "{control}");
    }
    pardl(dir.path(), &args).assert_code(0);
    let got = fs::read(out.join("split-kill.bin")).unwrap();
    assert_eq!(sha256_hex(&got), sha256_hex(&file.bytes()));
    assert_eq!(names_in(&out), vec!["split-kill.bin".to_string()]);
}

#[test]
fn a_resumed_download_with_one_range_left_still_uses_every_connection() {
    // An earlier run (with -x 1) left the first 256 KiB and one range for the rest.
    let file = Served::with(
        "/one-left.bin",
        4 * MIB,
        63,
        Behaviour::new().rate_limit(MIB).etag("\"r\""),
    );
    let (server, dir) = server_and_tempdir([&file]);
    let out = dir.path().join("out");
    fs::create_dir_all(&out).unwrap();
    let mut part = file.bytes();
    part[256 * KIB as usize..].fill(0);
    fs::write(out.join("one-left.bin.part"), part).unwrap();
    fs::write(
        out.join("one-left.bin.part.pardl"),
        format!(
            "pardl-control 1\nurl {}\nsize {}\netag \"r\"\nchunk 0 {} {}\nchunk {} {} 0\n",
            server.url(&file.path),
            file.len,
            256 * KIB,
            256 * KIB,
            256 * KIB,
            file.len
        ),
    )
    .unwrap();
    let (run, splits) = run_with_report(dir.path(), &server.url(&file.path), &[]);
    run.assert_code(0);
    assert_served_file(&out, "one-left.bin", &file);
    assert!(
        splits >= 1,
        "the other connections took over parts of the range"
    );
    let records = server.requests_for(&file.path);
    assert_eq!(records.len() as u64, 1 + splits);
    assert!(server.stats().path(&file.path).in_flight_peak >= 2);
    // A range whose upper part was taken over is cut off at its new end: the server may have sent
    // a little past it before the connection closed, but nothing is asked for twice.
    let sent = server.stats().path(&file.path).bytes_sent;
    assert!(
        sent <= file.len - 256 * KIB + splits * 256 * KIB,
        "sent {sent} for {} missing bytes with {splits} splits",
        file.len - 256 * KIB
    );
    // A resumed download sends no probe.
    assert_ranges_cover(&records, 256 * KIB..file.len, 0);
}

/// Files that finish together are flushed together (`--sync batch`, the default) and renamed only
/// after their flush: a `kill -9` while batches are flushed and renamed leaves every file under its
/// final name whole, and the same command then completes the rest.
#[cfg(target_os = "linux")]
#[test]
fn kill_9_while_finished_files_are_flushed_in_batches_leaves_only_whole_files() {
    use std::io::{BufRead, BufReader};

    let files: Vec<Served> = (0..1200u64)
        .map(|i| Served::new(&format!("/small/{i}.bin"), 16 * KIB + i, 900 + i))
        .collect();
    let (server, dir) = server_and_tempdir(&files);
    let out = dir.path().join("out");
    let args = Argv::links_file(dir.path(), &urls(&server, &files)).args(["-j", "16", "-x", "1"]);
    let mut child = pardl_command(dir.path(), args.clone().args(["-vv"]))
        .spawn()
        .unwrap();
    let stderr = BufReader::new(child.stderr.take().unwrap());
    // Killed right after the commit thread said it starts its 3rd flush: files of that batch are
    // being flushed, others wait for the next one, earlier ones are being renamed. (A batch holds
    // at most the 256 files of the commit queue and one per worker, so at least a third of the
    // 1,200 are not done yet.)
    let flushes = stderr
        .lines()
        .map_while(Result::ok)
        .filter(|line| line.contains("finished file(s) to flush"))
        .take(3)
        .count();
    child.kill().unwrap();
    child.wait().unwrap();
    assert_eq!(flushes, 3, "the run ended before its 3rd flush");
    let mut whole = 0;
    for file in &files {
        let path = out.join(file.name());
        if path.exists() {
            assert_served_file(&out, file.name(), file);
            whole += 1;
        }
    }
    assert!(whole < files.len(), "the kill came after the last file");

    pardl(dir.path(), args).assert_code(0);
    for file in &files {
        assert_served_file(&out, file.name(), file);
    }
    assert_no_part_files(&out);
}

/// A rename that fails on the commit thread (`--sync batch`) fails its link there: the outcome says
/// so with the path, the totals count it as failed, not ok, and the other files are renamed.
#[test]
fn a_rename_that_fails_on_the_commit_thread_fails_its_link_and_is_counted_so() {
    let files: Vec<Served> = (0..4u64)
        .map(|i| Served::new(&format!("/r{i}.bin"), 20 * KIB + i, 960 + i))
        .collect();
    let (server, dir) = server_and_tempdir(&files);
    let out = dir.path().join("out");
    // A directory (with something in it) under the first file's name: with --overwrite the file
    // is downloaded, and only its rename can fail.
    fs::create_dir_all(out.join(files[0].name()).join("inside")).unwrap();
    let run = pardl(
        dir.path(),
        Argv::quick("out")
            .args(["-j", "4", "--overwrite"])
            .urls(&server, &files),
    );
    run.assert_code(1);
    run.assert_stderr_line(&["FAIL", "rename", "r0.bin.part"]);
    run.assert_stderr_line(&["3 ok, 0 skipped, 1 failed"]);
    for file in &files[1..] {
        assert_served_file(&out, file.name(), file);
    }
    assert!(out.join(files[0].name()).join("inside").is_dir());
}
