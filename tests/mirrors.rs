//! One file from several servers (issue "stragglers and mirrors"): mirrors in a links file and with
//! `--mirror`, chunks spread over them, a dead mirror dropped, mirrors that disagree refused, a slow
//! mirror's range taken over by a fast one, and a change on one mirror between runs.
//!
//! Each mirror is a test server of its own on 127.0.0.1 serving the same pattern file.

mod support;

use std::fs;
use std::net::TcpListener;
use std::path::Path;

use pardl_testserver::{Behaviour, TestServer};
use serde_json::Value;
use support::*;

/// A server serving `file` (its path, length and pattern) with `behaviour`.
fn mirror(file: &Served, behaviour: Behaviour) -> TestServer {
    let server = TestServer::start();
    Served::with(&file.path, file.len, file.seed, behaviour).add_to(&server);
    server
}

/// Runs pardl on a links file of `line` with `-x 4 -k 256K`, quick retries and a report, then
/// `extra`; returns the run and the link's report line.
fn run_line(dir: &Path, line: &str, extra: &[&str]) -> (Run, Value) {
    let report = dir.join("report.jsonl");
    let argv = Argv::links_file(dir, &[line])
        .args(["-x", "4", "-k", "256K", "--retry-wait", "0.05"])
        .args(["--report", report.to_str().unwrap()])
        .args(extra);
    let run = pardl(dir, argv);
    let line = report_lines(&report).pop().expect("a report line");
    (run, line)
}

/// The bytes the report says each mirror delivered, in the link's order.
fn delivered(line: &Value) -> Vec<u64> {
    line["mirrors"]
        .as_array()
        .unwrap_or_else(|| panic!("no mirrors in {line}"))
        .iter()
        .map(|m| m["bytes"].as_u64().unwrap())
        .collect()
}

/// A URL on 127.0.0.1 where nothing listens.
fn refused_url(path: &str) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    format!("http://127.0.0.1:{port}{path}")
}

#[test]
fn a_file_is_fetched_from_two_mirrors_given_on_one_line() {
    let file = Served::new("/m.bin", 4 * MIB, 70);
    // Capped, so that the four connections stay busy long enough to share the file out.
    let a = mirror(&file, Behaviour::new().rate_limit(2 * MIB).etag("\"a\""));
    let b = mirror(&file, Behaviour::new().rate_limit(2 * MIB).etag("\"b\""));
    let dir = tempfile::tempdir().unwrap();
    let line = format!("{}\t{} out=m.bin", a.url(&file.path), b.url(&file.path));
    let (run, report) = run_line(dir.path(), &line, &[]);
    run.assert_code(0);
    assert_served_file(&dir.path().join("out"), "m.bin", &file);
    run.assert_stderr_line(&["ok", "m.bin", "from mirrors:", &a.url(&file.path)]);
    // The first mirror's probe carries chunk 0; the second is asked for its first byte only.
    let (from_a, from_b) = (a.requests_for(&file.path), b.requests_for(&file.path));
    assert_eq!(from_a[0].range.as_deref(), Some(PROBE_RANGE));
    assert_eq!(from_b[0].range.as_deref(), Some("bytes=0-0"));
    // Each mirror is asked with its own validator.
    assert!(from_a[1..]
        .iter()
        .all(|r| r.header("if-range") == Some("\"a\"")));
    assert!(from_b[1..]
        .iter()
        .all(|r| r.header("if-range") == Some("\"b\"")));
    let bytes = delivered(&report);
    assert_eq!(bytes.iter().sum::<u64>(), file.len, "{report}");
    assert!(bytes.iter().all(|&b| b >= file.len / 5), "{report}");
    assert_no_part_files(&dir.path().join("out"));
}

#[test]
fn the_mirror_option_adds_mirrors_to_a_single_url() {
    let file = Served::new("/opt.bin", 2 * MIB, 71);
    let (a, b) = (
        mirror(&file, Behaviour::new()),
        mirror(&file, Behaviour::new()),
    );
    let dir = tempfile::tempdir().unwrap();
    let argv = Argv::quick("out")
        .args(["-x", "4", "-k", "256K", &a.url(&file.path)])
        .args(["--mirror", &b.url(&file.path)]);
    pardl(dir.path(), argv).assert_code(0);
    assert_served_file(&dir.path().join("out"), "opt.bin", &file);
    assert!(!b.requests_for(&file.path).is_empty());
    let misuse = Argv::quick("out").args(["--mirror", &b.url(&file.path)]);
    let run = pardl(dir.path(), misuse.args([&a.url("/x"), &a.url("/y")]));
    run.assert_code(2);
    run.assert_stderr_contains("--mirror applies to a single URL");
}

#[test]
fn a_dead_mirror_is_dropped_with_a_warning_and_the_file_completes_from_the_others() {
    let file = Served::new("/d.bin", 2 * MIB, 72);
    let alive = mirror(&file, Behaviour::new());
    let gone = mirror(&file, Behaviour::new().status(404));
    let refused = refused_url(&file.path);
    let dir = tempfile::tempdir().unwrap();
    // The first URL refuses connections, the third answers 404: only the second is used.
    let line = format!(
        "{refused} {} {} out=d.bin",
        alive.url(&file.path),
        gone.url(&file.path)
    );
    let (run, report) = run_line(dir.path(), &line, &[]);
    run.assert_code(0);
    assert_served_file(&dir.path().join("out"), "d.bin", &file);
    run.assert_stderr_line(&["mirror", &refused, "dropped"]);
    run.assert_stderr_line(&["mirror", &gone.url(&file.path), "dropped", "404"]);
    assert_eq!(
        gone.requests_for(&file.path).len(),
        1,
        "asked once, then dropped"
    );
    assert_eq!(delivered(&report), [0, file.len, 0]);
}

#[test]
fn a_mirror_that_keeps_failing_with_5xx_is_dropped_after_its_tries() {
    let file = Served::new("/busy.bin", 2 * MIB, 77);
    let good = mirror(&file, Behaviour::new());
    // Its first answer (to the first-byte probe) is fine, every later one a 503.
    let busy = mirror(&file, Behaviour::new().fail_after(1, 503));
    let dir = tempfile::tempdir().unwrap();
    let line = format!("{} {}", good.url(&file.path), busy.url(&file.path));
    let (run, report) = run_line(dir.path(), &line, &["--max-tries", "2"]);
    run.assert_code(0);
    assert_served_file(&dir.path().join("out"), "busy.bin", &file);
    run.assert_stderr_line(&["mirror", &busy.url(&file.path), "dropped", "503"]);
    assert_eq!(delivered(&report), [file.len, 0]);
}

#[test]
fn when_every_mirror_fails_the_link_fails() {
    let file = Served::new("/all.bin", MIB, 73);
    let a = mirror(&file, Behaviour::new().status(404));
    let b = mirror(&file, Behaviour::new().status(410));
    let dir = tempfile::tempdir().unwrap();
    let line = format!("{} {}", a.url(&file.path), b.url(&file.path));
    let run = pardl(dir.path(), Argv::links_file(dir.path(), &[line]));
    run.assert_code(1);
    run.assert_stderr_line(&["FAIL", "410"]);
    assert!(!dir.path().join("out/all.bin").exists());
}

#[test]
fn mirrors_that_disagree_on_the_size_fail_loudly_and_leave_no_file() {
    let file = Served::new("/size.bin", 2 * MIB, 74);
    let other = Served::new("/size.bin", 2 * MIB + 1, 74);
    let a = mirror(&file, Behaviour::new());
    let b = mirror(&other, Behaviour::new());
    let dir = tempfile::tempdir().unwrap();
    let line = format!("{}\t{}", a.url(&file.path), b.url(&file.path));
    let (run, report) = run_line(dir.path(), &line, &[]);
    run.assert_code(1);
    run.assert_stderr_line(&[
        "FAIL",
        "the mirrors disagree on the size of the file",
        &format!("{} has {} bytes", a.url(&file.path), file.len),
        &format!("{} has {} bytes", b.url(&file.path), other.len),
    ]);
    assert_eq!(report["error_kind"], "mirrors-disagree");
    assert_eq!(names_in(&dir.path().join("out")), Vec::<String>::new());
}

#[test]
fn a_slow_mirror_s_range_is_taken_over_by_the_fast_one() {
    let file = Served::new("/s.bin", 8 * MIB, 75);
    let slow = mirror(&file, Behaviour::new().rate_limit(128 * KIB));
    let fast = mirror(&file, Behaviour::new());
    let dir = tempfile::tempdir().unwrap();
    let line = format!("{} {}", slow.url(&file.path), fast.url(&file.path));
    let (run, report) = run_line(dir.path(), &line, &[]);
    run.assert_code(0);
    assert_served_file(&dir.path().join("out"), "s.bin", &file);
    assert!(report["splits"].as_u64().unwrap() >= 1, "{report}");
    // The fast mirror took over the slow one's ranges: it went on asking for parts of them.
    let first = probe_end(file.len, 256 * KIB, 4);
    let slow_ranges: Vec<_> = slow
        .requests_for(&file.path)
        .iter()
        .filter_map(|r| r.range.as_deref().map(|range| parse_range(range, first)))
        .collect();
    let taken_over = fast
        .requests_for(&file.path)
        .iter()
        .filter_map(|r| r.range.as_deref().map(|range| parse_range(range, first)))
        .filter(|r| {
            slow_ranges
                .iter()
                .any(|s| s.start < r.start && r.start < s.end)
        })
        .count();
    assert!(taken_over >= 1, "{report}");
    let bytes = delivered(&report);
    assert_eq!(bytes.iter().sum::<u64>(), file.len);
    assert!(
        bytes[1] > bytes[0],
        "the fast mirror delivered more: {report}"
    );
}

#[test]
fn a_change_on_one_mirror_between_runs_refetches_only_what_it_delivered() {
    let file = Served::new("/c.bin", 2 * MIB, 76);
    let a = mirror(&file, Behaviour::new().etag("\"a1\""));
    // The second mirror's file changed since the earlier run (same bytes, a new ETag).
    let b = mirror(&file, Behaviour::new().etag("\"b2\""));
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    fs::create_dir_all(&out).unwrap();
    // The earlier run: 512 KiB from the first mirror, 256 KiB of the next range from the second.
    let mut part = vec![0u8; file.len as usize];
    let bytes = file.bytes();
    part[..512 * KIB as usize].copy_from_slice(&bytes[..512 * KIB as usize]);
    part[512 * KIB as usize..768 * KIB as usize]
        .copy_from_slice(&bytes[512 * KIB as usize..768 * KIB as usize]);
    fs::write(out.join("c.bin.part"), part).unwrap();
    let (url_a, url_b) = (a.url(&file.path), b.url(&file.path));
    fs::write(
        out.join("c.bin.part.pardl"),
        format!(
            "pardl-control 1\nurl {url_a}\nsize {}\netag \"a1\"\nmirror 1 {url_b}\nmirror 1 etag \"b1\"\n\
             chunk 0 {} {} from 0\nchunk {} {} {} from 1\nchunk {} {} 0 from 0\n",
            file.len,
            512 * KIB,
            512 * KIB,
            512 * KIB,
            MIB,
            256 * KIB,
            MIB,
            file.len
        ),
    )
    .unwrap();
    let line = format!("{url_a}\t{url_b}");
    let (run, report) = run_line(dir.path(), &line, &["-x", "2"]);
    run.assert_code(0);
    assert_served_file(&out, "c.bin", &file);
    run.assert_stderr_line(&["fetching again the 262144 bytes mirror", &url_b]);
    // Nothing the first mirror delivered was asked for again; the second mirror's part was, from
    // the first.
    let from_a: Vec<_> = a
        .requests_for(&file.path)
        .iter()
        // A resumed download sends no probe.
        .map(|r| parse_range(r.range.as_deref().unwrap(), 0))
        .collect();
    assert!(from_a.iter().all(|r| r.start >= 512 * KIB), "{from_a:?}");
    assert!(from_a.iter().any(|r| r.start == 512 * KIB), "{from_a:?}");
    assert_eq!(delivered(&report)[1], 0, "{report}");
}

#[cfg(unix)]
#[test]
fn kill_9_during_a_mirrored_download_resumes_with_each_mirror_s_state() {
    let file = Served::new("/k.bin", 4 * MIB, 78);
    let a = mirror(&file, Behaviour::new().rate_limit(512 * KIB).etag("\"a\""));
    let b = mirror(&file, Behaviour::new().rate_limit(512 * KIB).etag("\"b\""));
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let line = format!("{}\t{}", a.url(&file.path), b.url(&file.path));
    let args = Argv::links_file(dir.path(), &[line]).args(["-x", "4", "-k", "256K"]);
    let mut child = pardl_command(dir.path(), &args).spawn().unwrap();
    let control_path = out.join("k.bin.part.pardl");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    // Killed once the saved state names the second mirror and a chunk from it.
    while !fs::read_to_string(&control_path).is_ok_and(|c| c.contains(" from 1")) {
        assert!(
            std::time::Instant::now() < deadline,
            "no control file with mirrors"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let control = fs::read_to_string(&control_path).unwrap();
    assert!(
        control.contains(&format!(
            "mirror 1 {}\nmirror 1 etag \"b\"\n",
            b.url(&file.path)
        )),
        "{control}"
    );
    let run = pardl(dir.path(), &args);
    run.assert_code(0);
    assert_served_file(&out, "k.bin", &file);
    assert_eq!(names_in(&out), vec!["k.bin".to_string()]);
    // The rerun asked each mirror with its own validator.
    let rerun_if_ranges: Vec<_> = b
        .requests_for(&file.path)
        .iter()
        .filter_map(|r| r.header("if-range").map(str::to_string))
        .collect();
    assert!(
        rerun_if_ranges.iter().all(|v| v == "\"b\""),
        "{rerun_if_ranges:?}"
    );
}
