//! End-to-end tests of the `pardl` binary against the in-process test server.
//!
//! Every test runs the real binary in its own temporary directory, with the proxy variables removed,
//! and asserts what really happened: the bytes on disk, the exit status, the messages, and the
//! requests the server saw.

mod support;

use std::fs;
use std::path::Path;

use pardl_testserver::Behaviour;
use support::*;

// 1. Several multi-chunk files.
#[test]
fn several_multi_chunk_files_arrive_byte_identical_in_planned_chunks() {
    let files = [
        Served::new("/one.bin", 2 * MIB + 12_345, 1),
        Served::new("/two.bin", 5 * MIB / 2, 2),
        Served::new("/three.bin", 3 * MIB - 7, 3),
    ];
    let (server, tmp) = server_and_tempdir(&files);
    write_links(tmp.path(), "links.txt", &urls(&server, &files));

    let argv = Argv::quick("out").args(["-i", "links.txt", "-k", "256K", "-x", "4", "-j", "3"]);
    let run = pardl(tmp.path(), argv);
    run.assert_code(0);

    let out = tmp.path().join("out");
    for file in &files {
        let name = file.name();
        assert_served_file(&out, name, file);
        assert_ranged_download(&server.requests_for(&file.path), file.len, 256 * KIB, 4);
        assert_eq!(
            expected_requests(file.len, 256 * KIB, 4),
            4,
            "the test should exercise a range on every connection, the probe's first"
        );
        run.assert_stderr_line(&["ok", name]);
    }
    assert_no_part_files(tmp.path());
    assert_eq!(names_in(&out), vec!["one.bin", "three.bin", "two.bin"]);
    run.assert_stderr_contains("3 ok, 0 skipped, 0 failed");
}

// 2. Chunks of one file on several connections at once.
#[test]
fn chunks_of_one_file_are_fetched_on_several_connections_at_once() {
    // 2 MiB at 512 KiB/s per connection: 4 s on one connection, ~1 s on four.
    let file = Served::with(
        "/slow.bin",
        2 * MIB,
        21,
        Behaviour::new().rate_limit(512 * KIB),
    );
    let (server, tmp) = server_and_tempdir([&file]);

    let argv = Argv::quick("out").args(["-x", "4", "-k", "256K", &server.url("/slow.bin")]);
    pardl(tmp.path(), argv).assert_code(0);

    assert_served_file(&tmp.path().join("out"), "slow.bin", &file);
    assert_ranged_download(&server.requests_for("/slow.bin"), file.len, 256 * KIB, 4);
    let peak = server.stats().path("/slow.bin").in_flight_peak;
    eprintln!("per-path in-flight peak: {peak}");
    assert!(
        peak >= 3,
        "chunks of one file were not fetched concurrently: per-path in-flight peak {peak} (expected 4)"
    );
    assert!(server.stats().open_connections_peak >= 3);
}

// 3. Files in parallel.
#[test]
fn files_are_downloaded_in_parallel() {
    // Each 384 KiB at 256 KiB/s: 1.5 s alone, on a single connection per file (-x 1).
    let files: Vec<Served> = (0..3)
        .map(|i| {
            Served::with(
                &format!("/par{i}.bin"),
                384 * KIB,
                30 + i,
                Behaviour::new().rate_limit(256 * KIB),
            )
        })
        .collect();
    let (server, tmp) = server_and_tempdir(&files);

    let argv = Argv::quick("out")
        .args(["-x", "1", "-j", "3", "-k", "256K"])
        .urls(&server, &files);
    pardl(tmp.path(), argv).assert_code(0);

    let out = tmp.path().join("out");
    for file in &files {
        assert_served_file(&out, file.name(), file);
        let stats = server.stats().path(&file.path);
        assert_eq!(
            stats.in_flight_peak, 1,
            "-x 1 must never fetch two chunks of {} at once",
            file.path
        );
        assert_ranged_download(&server.requests_for(&file.path), file.len, 256 * KIB, 1);
    }
    let peak = server.stats().in_flight_peak;
    eprintln!("in-flight peak over all files: {peak}");
    assert!(
        peak >= 2,
        "files were not downloaded in parallel: in-flight peak {peak} (expected 3)"
    );
    assert_no_part_files(tmp.path());
}

// 4. Servers without ranges, without Content-Length, with chunked framing.
#[test]
fn a_server_ignoring_range_is_fetched_once_as_one_stream() {
    let file = Served::with(
        "/whole.bin",
        3 * MIB / 2 + 3,
        40,
        Behaviour::new().ignore_range(),
    );
    let (server, tmp) = server_and_tempdir([&file]);

    let argv = Argv::quick("out").args(["-x", "4", "-k", "256K", &server.url("/whole.bin")]);
    pardl(tmp.path(), argv).assert_code(0);

    assert_served_file(&tmp.path().join("out"), "whole.bin", &file);
    let records = server.requests_for("/whole.bin");
    assert_eq!(
        records.len(),
        1,
        "a server without ranges must be asked exactly once (no double download): {records:?}"
    );
    assert_eq!(records[0].status, 200);
    assert_eq!(server.stats().path("/whole.bin").bytes_sent, file.len);
    assert_no_part_files(tmp.path());
}

#[test]
fn close_delimited_and_chunked_bodies_arrive_intact() {
    let files = [
        // Ranges honoured, but every 206 is close-delimited.
        Served::with(
            "/close-ranged.bin",
            MIB + 77,
            41,
            Behaviour::new().no_content_length(),
        ),
        // No ranges and no length: one stream of unknown size.
        Served::with(
            "/close-whole.bin",
            MIB + 78,
            42,
            Behaviour::new().no_content_length().ignore_range(),
        ),
        // Ranges honoured with chunked framing.
        Served::with(
            "/chunked-ranged.bin",
            MIB + 79,
            43,
            Behaviour::new().chunked(),
        ),
        // No ranges, chunked framing.
        Served::with(
            "/chunked-whole.bin",
            MIB + 80,
            44,
            Behaviour::new().chunked().ignore_range(),
        ),
    ];
    let (server, tmp) = server_and_tempdir(&files);

    let argv = Argv::quick("out")
        .args(["-x", "3", "-j", "4", "-k", "256K"])
        .urls(&server, &files);
    let run = pardl(tmp.path(), argv);
    run.assert_code(0);

    let out = tmp.path().join("out");
    for file in &files {
        assert_served_file(&out, file.name(), file);
    }
    for whole in ["/close-whole.bin", "/chunked-whole.bin"] {
        assert_eq!(
            server.requests_for(whole).len(),
            1,
            "{whole}: one request without ranges"
        );
    }
    for ranged in &files[..] {
        if !ranged.behaviour.ignore_range {
            assert_ranged_download(&server.requests_for(&ranged.path), ranged.len, 256 * KIB, 3);
        }
    }
    assert_no_part_files(tmp.path());
}

// 5. A 404 among good links.
#[test]
fn a_404_link_fails_while_the_others_succeed() {
    let good = [
        Served::new("/good1.bin", 300 * KIB, 50),
        Served::new("/good2.bin", 5000, 51),
    ];
    let (server, tmp) = server_and_tempdir(&good);
    let missing = server.url("/missing.bin");
    write_links(
        tmp.path(),
        "links.txt",
        &[
            server.url("/good1.bin"),
            missing.clone(),
            server.url("/good2.bin"),
        ],
    );

    let run = pardl(
        tmp.path(),
        Argv::quick("out").args(["-i", "links.txt", "-k", "64K"]),
    );
    run.assert_code(1);

    run.assert_stderr_line(&["FAIL", "line 2", &missing, "404"]);
    run.assert_stderr_contains("2 ok, 0 skipped, 1 failed");
    let out = tmp.path().join("out");
    assert_served_file(&out, "good1.bin", &good[0]);
    assert_served_file(&out, "good2.bin", &good[1]);
    assert!(!out.join("missing.bin").exists());
    assert_eq!(names_in(&out), vec!["good1.bin", "good2.bin"]);
    assert_no_part_files(tmp.path());
    // A 404 is final: it is not retried.
    assert_eq!(server.requests_for("/missing.bin").len(), 1);
}

// 6. Malformed lines, blank lines and comments.
#[test]
fn malformed_lines_are_reported_by_line_and_the_rest_still_downloads() {
    let good = [
        Served::new("/g1.bin", 10_000, 60),
        Served::new("/g2.bin", 20_000, 61),
    ];
    let (server, tmp) = server_and_tempdir(&good);
    write_links(
        tmp.path(),
        "links.txt",
        &[
            "# a comment".to_owned(),                         // 1
            String::new(),                                    // 2
            server.url("/g1.bin"),                            // 3
            "ftp://x".to_owned(),                             // 4
            "   ".to_owned(),                                 // 5
            "not a url".to_owned(),                           // 6
            format!("{} foo=bar", server.url("/unused.bin")), // 7
            "  # an indented comment".to_owned(),             // 8
            server.url("/g2.bin"),                            // 9
        ],
    );

    let run = pardl(tmp.path(), Argv::quick("out").args(["-i", "links.txt"]));
    run.assert_code(1);

    run.assert_stderr_line(&["line 4", "ftp://x", "not an http or https URL"]);
    run.assert_stderr_line(&["line 6", "not"]);
    run.assert_stderr_line(&["line 7", "foo=bar", "unknown option"]);
    for skipped in ["line 1:", "line 2:", "line 5:", "line 8:"] {
        assert!(
            !run.stderr.contains(skipped),
            "{skipped} is blank or a comment and must not be reported\n{}",
            run.stderr
        );
    }
    run.assert_stderr_contains("2 ok, 0 skipped, 3 failed");
    let out = tmp.path().join("out");
    assert_served_file(&out, "g1.bin", &good[0]);
    assert_served_file(&out, "g2.bin", &good[1]);
    assert_eq!(names_in(&out), vec!["g1.bin", "g2.bin"]);
    // The line with an unknown option is refused before any request.
    assert_eq!(server.stats().path("/unused.bin").requests, 0);
}

// 7. Name collisions.
#[test]
fn urls_with_the_same_last_segment_get_numbered_names_in_link_order() {
    let files = [
        Served::new("/a/file.bin", 70_000, 70),
        Served::new("/b/file.bin", 80_000, 71),
        Served::new("/c/file.bin", 90_000, 72),
    ];
    let (server, tmp) = server_and_tempdir(&files);
    write_links(tmp.path(), "links.txt", &urls(&server, &files));

    let argv = Argv::quick("out").args(["-i", "links.txt", "-j", "3", "-k", "16K"]);
    pardl(tmp.path(), argv).assert_code(0);

    let out = tmp.path().join("out");
    assert_eq!(names_in(&out), vec!["file.1.bin", "file.2.bin", "file.bin"]);
    assert_served_file(&out, "file.bin", &files[0]);
    assert_served_file(&out, "file.1.bin", &files[1]);
    assert_served_file(&out, "file.2.bin", &files[2]);
}

// 8. Hostile out= names.
#[test]
fn hostile_out_names_stay_inside_the_output_dir() {
    let files = [
        Served::new("/rel.bin", 5_000, 80),
        Served::new("/abs.bin", 6_000, 81),
        Served::new("/dots.bin", 7_000, 82),
    ];
    let (server, root) = server_and_tempdir(&files);
    let work = root.path().join("work");
    fs::create_dir(&work).unwrap();
    // The output dir is two levels below `work`, so `../../x` would land in `work` itself.
    let absolute_target = root.path().join("escaped.bin");
    write_links(
        &work,
        "links.txt",
        &[
            format!("{} out=../../x", server.url("/rel.bin")),
            format!(
                "{} out={}",
                server.url("/abs.bin"),
                absolute_target.display()
            ),
            format!("{} out=..", server.url("/dots.bin")),
        ],
    );

    let run = pardl(&work, Argv::quick("out/sub").args(["-i", "links.txt"]));
    run.assert_code(0);

    let out = work.join("out/sub");
    assert!(!work.join("x").exists(), "../../x escaped the output dir");
    assert!(!root.path().join("x").exists());
    assert!(
        !absolute_target.exists(),
        "an absolute out= escaped the output dir"
    );
    assert_served_file(&out, "x", &files[0]);
    assert_served_file(&out, "download", &files[2]);

    // The absolute name is flattened into one plain name inside -d.
    let names = names_in(&out);
    assert_eq!(names.len(), 3, "{names:?}");
    let flattened: Vec<&String> = names
        .iter()
        .filter(|n| n.as_str() != "x" && n.as_str() != "download")
        .collect();
    assert_eq!(flattened.len(), 1, "{names:?}");
    assert!(
        flattened[0].ends_with("escaped.bin") && !flattened[0].contains('/'),
        "{names:?}"
    );
    assert_served_file(&out, flattened[0], &files[1]);

    // Nothing anywhere under the temporary root but the links file and the three downloads.
    let mut everything: Vec<_> = files_under(root.path())
        .into_iter()
        .map(|p| p.strip_prefix(root.path()).unwrap().to_path_buf())
        .collect();
    everything.sort();
    let mut expected = vec![
        std::path::PathBuf::from("work/links.txt"),
        std::path::PathBuf::from("work/out/sub/x"),
        std::path::PathBuf::from("work/out/sub/download"),
        std::path::Path::new("work/out/sub").join(flattened[0]),
    ];
    expected.sort();
    assert_eq!(everything, expected);
}

// 9. Existing files are skipped; --overwrite replaces them.
#[test]
fn an_existing_file_is_skipped_without_any_request() {
    let file = Served::new("/have.bin", 40_000, 90);
    let other = Served::new("/new.bin", 30_000, 91);
    let (server, tmp) = server_and_tempdir([&file, &other]);
    let out = tmp.path().join("out");
    fs::create_dir(&out).unwrap();
    fs::write(out.join("have.bin"), b"precious local content").unwrap();

    let argv = Argv::quick("out").args([server.url("/have.bin"), server.url("/new.bin")]);
    let run = pardl(tmp.path(), argv);
    run.assert_code(0);

    assert_eq!(
        fs::read(out.join("have.bin")).unwrap(),
        b"precious local content"
    );
    assert_eq!(
        server.stats().path("/have.bin").requests,
        0,
        "an existing file must cost no request"
    );
    run.assert_stderr_line(&["skip", "have.bin", "already exists"]);
    run.assert_stderr_contains("1 ok, 1 skipped, 0 failed");
    assert_served_file(&out, "new.bin", &other);

    // --overwrite replaces it with the server's bytes.
    let argv = Argv::quick("out").args(["--overwrite", &server.url("/have.bin")]);
    let run = pardl(tmp.path(), argv);
    run.assert_code(0);
    assert_served_file(&out, "have.bin", &file);
    assert_eq!(server.stats().path("/have.bin").requests, 1);
    assert!(
        !run.stderr.contains("already exists") && run.stderr.contains("1 ok, 0 skipped"),
        "{}",
        run.stderr
    );
    assert_no_part_files(tmp.path());
}

#[test]
fn check_existing_replaces_only_a_file_that_differs_from_the_servers() {
    let file = Served::new("/same.bin", 40_000, 92);
    let (server, tmp) = server_and_tempdir([&file]);
    let out = tmp.path().join("out");
    fs::create_dir(&out).unwrap();
    fs::write(out.join("same.bin"), b"truncated").unwrap();

    // Another size than the server's: fetched again.
    let argv = Argv::quick("out").args(["--check-existing", &server.url("/same.bin")]);
    pardl(tmp.path(), argv.clone()).assert_code(0);
    assert_served_file(&out, "same.bin", &file);
    let requests = server.stats().path("/same.bin").requests;

    // Now the same size: kept after one request, which tells the size.
    let run = pardl(tmp.path(), argv);
    run.assert_code(0);
    run.assert_stderr_contains("0 ok, 1 skipped, 0 failed");
    assert_eq!(server.stats().path("/same.bin").requests, requests + 1);
    assert_served_file(&out, "same.bin", &file);

    // It cannot be combined with --overwrite.
    let argv =
        Argv::quick("out").args(["--check-existing", "--overwrite", &server.url("/same.bin")]);
    pardl(tmp.path(), argv).assert_code(2);
}

// 10. Exit codes and where links come from.
#[test]
fn a_missing_links_file_exits_2() {
    let tmp = tempfile::tempdir().unwrap();
    let run = pardl(tmp.path(), ["-i", "does-not-exist.txt"]);
    run.assert_code(2);
    // The message names the file.
    run.assert_stderr_contains("does-not-exist.txt");
    assert_eq!(files_under(tmp.path()), Vec::<std::path::PathBuf>::new());
}

#[test]
fn usage_errors_exit_2() {
    let tmp = tempfile::tempdir().unwrap();
    for bad in [
        &["-x", "0", "http://127.0.0.1:9/f"][..],
        &["-j", "0", "http://127.0.0.1:9/f"],
        &["-k", "0", "http://127.0.0.1:9/f"],
        &["--sync", "sometimes", "http://127.0.0.1:9/f"],
        &["--no-such-flag"],
    ] {
        let run = pardl(tmp.path(), bad);
        assert_eq!(
            run.code,
            Some(2),
            "{bad:?} is a usage error\n{}",
            run.stderr
        );
        assert!(!run.stderr.is_empty(), "{bad:?}: the error is explained");
    }
    // Nothing was downloaded or created.
    assert!(files_under(tmp.path()).is_empty());
}

#[test]
fn no_urls_and_no_links_file_exits_2() {
    let tmp = tempfile::tempdir().unwrap();
    let run = pardl(tmp.path(), ["-d", "out"]);
    run.assert_code(2);
    run.assert_stderr_contains("links.txt");
}

#[test]
fn urls_given_as_arguments_are_downloaded() {
    let files = [
        Served::new("/arg1.bin", 100_000, 100),
        Served::new("/arg2.bin", 1, 101),
    ];
    let (server, tmp) = server_and_tempdir(&files);
    pardl(tmp.path(), Argv::quick("out").urls(&server, &files)).assert_code(0);
    let out = tmp.path().join("out");
    assert_served_file(&out, "arg1.bin", &files[0]);
    assert_served_file(&out, "arg2.bin", &files[1]);

    // A malformed argument is reported by its position.
    let argv = Argv::quick("out2").args(["gopher://nope", &server.url("/arg1.bin")]);
    let run = pardl(tmp.path(), argv);
    run.assert_code(1);
    run.assert_stderr_line(&["argument 1", "gopher://nope"]);
    assert_served_file(&tmp.path().join("out2"), "arg1.bin", &files[0]);
}

#[test]
fn links_are_read_from_stdin_with_dash() {
    let files = [
        Served::new("/in1.bin", 50_000, 110),
        Served::new("/in2.bin", 60_000, 111),
    ];
    let (server, tmp) = server_and_tempdir(&files);
    let stdin = format!(
        "# from a pipe\n{}\n\n{} out=renamed.bin\n",
        server.url("/in1.bin"),
        server.url("/in2.bin")
    );
    let argv = Argv::quick("out").args(["-i", "-"]);
    pardl_with_stdin(tmp.path(), argv, Some(&stdin)).assert_code(0);
    let out = tmp.path().join("out");
    assert_eq!(names_in(&out), vec!["in1.bin", "renamed.bin"]);
    assert_served_file(&out, "in1.bin", &files[0]);
    assert_served_file(&out, "renamed.bin", &files[1]);
}

#[test]
fn links_txt_in_the_current_dir_is_read_by_default() {
    let file = Served::new("/default.bin", 123_456, 120);
    let (server, tmp) = server_and_tempdir([&file]);
    write_links(tmp.path(), "links.txt", &[server.url("/default.bin")]);
    // No URL and no -i; the output dir defaults to the current directory too.
    let run = pardl(tmp.path(), ["--retry-wait", "0.05"]);
    run.assert_code(0);
    assert_served_file(tmp.path(), "default.bin", &file);
    assert_eq!(names_in(tmp.path()), vec!["default.bin", "links.txt"]);
}

// 11. Tiny files.
#[test]
fn an_empty_file_downloads_as_an_empty_file() {
    let file = Served::new("/empty.bin", 0, 130);
    let (server, tmp) = server_and_tempdir([&file]);
    pardl(
        tmp.path(),
        Argv::quick("out").args([server.url("/empty.bin")]),
    )
    .assert_code(0);
    let path = tmp.path().join("out/empty.bin");
    assert_eq!(fs::metadata(&path).unwrap().len(), 0);
    assert_no_part_files(tmp.path());
    // The probe's range cannot be satisfied (416); one plain GET follows. No more than that.
    let records = server.requests_for("/empty.bin");
    assert!(
        (1..=2).contains(&records.len()),
        "an empty file costs at most two requests: {records:?}"
    );
}

#[test]
fn a_file_smaller_than_min_chunk_is_one_request() {
    let file = Served::new("/small.bin", 100_000, 131);
    let (server, tmp) = server_and_tempdir([&file]);
    let argv = Argv::quick("out").args(["-k", "1M", "-x", "8", &server.url("/small.bin")]);
    pardl(tmp.path(), argv).assert_code(0);
    assert_served_file(&tmp.path().join("out"), "small.bin", &file);
    let records = server.requests_for("/small.bin");
    assert_eq!(records.len(), 1, "{records:?}");
    assert_eq!(records[0].range.as_deref(), Some(PROBE_RANGE));
    assert_eq!(records[0].status, 206);
}

// 13. No terminal, no escape codes.
#[test]
fn a_run_without_a_terminal_prints_no_ansi_escapes() {
    // Slow enough (~1 s) that a live status line, redrawn every 100 ms, would show up.
    let files = [
        Served::with(
            "/tty1.bin",
            512 * KIB,
            140,
            Behaviour::new().rate_limit(256 * KIB),
        ),
        Served::new("/tty2.bin", 10_000, 141),
    ];
    let (server, tmp) = server_and_tempdir(&files);
    let argv = Argv::quick("out")
        .args(["-x", "2", "-k", "256K"])
        .urls(&server, &files)
        .args([server.url("/missing.bin")]); // an error line too
    let run = pardl(tmp.path(), argv);
    run.assert_code(1);
    assert!(
        !run.stderr.contains('\x1b') && !run.stdout.contains('\x1b'),
        "escape codes in non-tty output: {:?}",
        run.stderr
    );
    assert!(
        !run.stderr.contains('\r'),
        "carriage returns (a redrawn line) in non-tty output: {:?}",
        run.stderr
    );
    run.assert_stderr_line(&["ok", "tty1.bin"]);
    assert_served_file(&tmp.path().join("out"), "tty1.bin", &files[0]);
}

#[test]
fn a_links_file_that_cannot_be_read_exits_2() {
    let tmp = tempfile::tempdir().unwrap();
    fs::create_dir(tmp.path().join("links-dir")).unwrap();
    let run = pardl(tmp.path(), ["-d", "out", "-i", "links-dir"]);
    run.assert_code(2);
    run.assert_stderr_line(&["error", "reading links"]);
}

#[test]
fn a_failed_overwrite_keeps_the_old_file() {
    let (server, tmp) = server_and_tempdir(&[]);
    let out = tmp.path().join("out");
    fs::create_dir(&out).unwrap();
    fs::write(out.join("gone.bin"), b"old but whole").unwrap();
    let argv = Argv::quick("out").args(["--overwrite", &server.url("/gone.bin")]);
    let run = pardl(tmp.path(), argv);
    run.assert_code(1);
    run.assert_stderr_line(&["FAIL", "argument 1", "404"]);
    assert_eq!(fs::read(out.join("gone.bin")).unwrap(), b"old but whole");
    assert_no_part_files(tmp.path());
}

#[test]
fn quiet_prints_only_the_failures_and_the_summary() {
    let files = [Served::new("/q.bin", 10_000, 150)];
    let (server, tmp) = server_and_tempdir(&files);
    let argv = Argv::quick("out").args(["-q", &server.url("/q.bin"), &server.url("/nope.bin")]);
    let run = pardl(tmp.path(), argv);
    run.assert_code(1);
    assert!(
        run.stderr_lines_with(&["ok ", "q.bin"]).is_empty(),
        "no per-file ok line with -q\n{}",
        run.stderr
    );
    run.assert_stderr_line(&["argument 2", "nope.bin", "404"]);
    run.assert_stderr_line(&["1 ok, 0 skipped, 1 failed"]);
    assert_served_file(&tmp.path().join("out"), "q.bin", &files[0]);
}

#[test]
fn links_from_stdin_are_downloaded_before_the_input_ends() {
    let files = [
        Served::new("/early.bin", 64 * KIB, 160),
        Served::new("/late.bin", 64 * KIB, 161),
    ];
    let (server, tmp) = server_and_tempdir(&files);
    let out = tmp.path().join("out");
    let mut command = pardl_command(tmp.path(), Argv::quick("out").args(["-i", "-"]));
    command.stdin(std::process::Stdio::piped());
    let mut running = Background::start(command);
    let mut stdin = running.child.stdin.take().unwrap();

    use std::io::Write;
    writeln!(stdin, "{}", server.url("/early.bin")).unwrap();
    stdin.flush().unwrap();
    // The first file must appear while the links are still open.
    let deadline = std::time::Instant::now() + RUN_TIMEOUT;
    while !out.join("early.bin").exists() {
        if std::time::Instant::now() >= deadline || running.child.try_wait().unwrap().is_some() {
            let _ = running.child.kill();
            let _ = running.child.wait();
            panic!("early.bin did not appear while stdin was still open");
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    assert_served_file(&out, "early.bin", &files[0]);
    writeln!(stdin, "{}", server.url("/late.bin")).unwrap();
    drop(stdin);

    running.finish().assert_code(0);
    assert_served_file(&out, "late.bin", &files[1]);
}

#[test]
fn mistyped_links_get_messages_that_say_how_to_fix_them() {
    let dir = tempfile::tempdir().unwrap();
    let run = pardl(
        dir.path(),
        [
            "--retry-wait",
            "0.05",
            "http://127.0.0.1:9/my file.bin",
            "example.com/f.iso",
        ],
    );
    run.assert_code(1);
    run.assert_stderr_line(&[
        "argument 1",
        "a URL with spaces must have them written as %20 (http://127.0.0.1:9/my%20file.bin)",
        "'file.bin'",
    ]);
    run.assert_stderr_line(&[
        "argument 2",
        "not an http or https URL (did you mean 'http://example.com/f.iso'?)",
    ]);
}

#[test]
fn verbose_says_a_skip_once() {
    let file = Served::new("/here.bin", 10 * KIB, 90);
    let (server, dir) = server_and_tempdir([&file]);
    pardl(dir.path(), Argv::quick("out").urls(&server, [&file])).assert_code(0);
    let run = pardl(
        dir.path(),
        Argv::quick("out").args(["-v"]).urls(&server, [&file]),
    );
    run.assert_code(0);
    assert_eq!(
        run.stderr_lines_with(&["here.bin"]),
        vec!["skip  out/here.bin (already exists)"],
        "{}",
        run.stderr
    );
}

#[test]
fn the_shipped_links_file_documents_every_option() {
    let text = fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("links.txt")).unwrap();
    for option in [
        "out=NAME",
        "sha256=HEX",
        "sha512=",
        "sha1=",
        "md5=",
        "--checksum-file",
    ] {
        assert!(text.contains(option), "links.txt does not mention {option}");
    }
    assert!(!text.contains("The only one today"), "{text}");
}

/// Every `--sync` mode gives the same files; with `-vv`, `batch` and `always` say how they flush and
/// `never` flushes nothing.
#[test]
fn every_sync_mode_downloads_the_same_files() {
    let files: Vec<Served> = (0..6u64)
        .map(|i| Served::new(&format!("/sync{i}.bin"), 40 * KIB + i, 320 + i))
        .collect();
    let (server, tmp) = server_and_tempdir(&files);
    for mode in ["batch", "always", "never"] {
        let out = format!("out-{mode}");
        let run = pardl(
            tmp.path(),
            Argv::quick(&out)
                .args(["-j", "6", "--sync", mode, "-vv"])
                .urls(&server, &files),
        );
        run.assert_code(0);
        for file in &files {
            assert_served_file(&tmp.path().join(&out), file.name(), file);
        }
        assert_no_part_files(&tmp.path().join(&out));
        let flushes = run.stderr_lines_with(&["finished file(s) to flush"]).len();
        match mode {
            // Group commit: between one flush for all six and one each.
            "batch" => assert!(
                (1..=6).contains(&flushes),
                "{mode}: {flushes} flushes\n{}",
                run.stderr
            ),
            _ => assert_eq!(flushes, 0, "{mode} flushes each file itself, or none"),
        }
    }
}
