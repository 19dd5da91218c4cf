//! Every program in `examples/` runs and does what its doc comment says, against the in-process test
//! server. The examples are built by cargo first (a no-op when `cargo test` has built them already),
//! so this file never runs a stale binary.

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

use pardl_testserver::Behaviour;
use support::*;

/// Builds the examples once per test binary and returns the directory holding them.
fn examples_dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        // target/<profile>/deps/examples-HASH → target/<profile>/examples
        let exe = std::env::current_exe().expect("the test binary's path");
        let profile_dir = exe
            .parent()
            .and_then(Path::parent)
            .expect("the test binary lives in target/<profile>/deps");
        let mut cargo = Command::new(env!("CARGO"));
        cargo.current_dir(env!("CARGO_MANIFEST_DIR")).args([
            "build",
            "--quiet",
            "--locked",
            "-p",
            "pardl",
            "--examples",
        ]);
        if profile_dir
            .file_name()
            .is_some_and(|name| name == "release")
        {
            cargo.arg("--release");
        }
        let status = cargo.status().expect("cargo runs");
        assert!(status.success(), "cargo build --examples failed");
        profile_dir.join("examples")
    })
}

/// Runs example `name` with `args` in `cwd`, proxies and backtraces scrubbed from its environment.
fn example(name: &str, cwd: &Path, args: &[&str]) -> Output {
    let mut command = Command::new(examples_dir().join(name));
    scrub_env(command.current_dir(cwd).args(args)).env("RUST_BACKTRACE", "0");
    command.output().expect("the example starts")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Checks the example's exit status (showing both of its outputs if it is wrong) and returns its
/// standard output.
fn assert_exit(output: &Output, code: i32) -> String {
    let stdout = text(&output.stdout);
    assert_eq!(
        output.status.code(),
        Some(code),
        "{stdout}{}",
        text(&output.stderr)
    );
    stdout
}

#[test]
fn download_one_fetches_the_exact_bytes_and_exits_0() {
    let file = Served::new("/one/file.bin", 3 * MIB + 17, 401);
    let (server, tmp) = server_and_tempdir([&file]);
    let dir = tmp.path().join("out");

    let output = example(
        "download_one",
        tmp.path(),
        &[&server.url(&file.path), dir.to_str().unwrap()],
    );
    let stdout = assert_exit(&output, 0);
    assert!(
        stdout.contains(&format!("{} bytes, fetched in ranged chunks", file.len)),
        "{stdout}"
    );
    assert_served_file(&dir, "file.bin", &file);
    assert_no_part_files(&dir);
    // 8 connections, the default 1 MiB minimum chunk: one request per chunk, the probe the first.
    assert_eq!(
        server.stats().path(&file.path).requests,
        expected_requests(file.len, MIB, 8)
    );
}

#[test]
fn download_one_names_the_link_when_it_fails() {
    let (server, tmp) = server_and_tempdir(&[]);
    let url = server.url("/missing.bin");

    let output = example("download_one", tmp.path(), &[&url]);
    assert_exit(&output, 1);
    let stderr = text(&output.stderr);
    assert!(
        stderr.contains(&format!("error (http-status): {url}: HTTP 404 Not Found")),
        "{stderr}"
    );
    assert!(names_in(tmp.path()).is_empty());

    let usage = example("download_one", tmp.path(), &[]);
    assert_exit(&usage, 2);
    assert!(text(&usage.stderr).starts_with("usage: download_one URL"));
}

#[test]
fn own_pool_prints_what_its_tasks_computed() {
    let tmp = tempfile::tempdir().unwrap();
    let output = example("own_pool", tmp.path(), &[]);
    let stdout = assert_exit(&output, 0);
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 10, "{stdout}");
    assert_eq!(lines[0], "sum of 1..=1000: 500500");
    // The producer was held back by the bounded queue: 8 of the 12 tasks (50 ms each, 2 at a time)
    // had to finish before the 12th could be queued.
    let blocked_ms: u64 = lines[1]
        .strip_prefix("submitting 12 slow tasks to 2 workers blocked the producer for ")
        .and_then(|rest| rest.split(' ').next())
        .and_then(|ms| ms.parse().ok())
        .unwrap_or_else(|| panic!("unexpected line: {}", lines[1]));
    assert!(blocked_ms >= 200, "{}", lines[1]);
    assert_eq!(lines[2], "sum of squares of 1..=100: 338350");
    assert_eq!(lines[3], "panicked tasks: 1; tasks run after the panic: 8");
    // `spawn`: each value comes back through its own handle, and the failed task's panic through
    // its handle, in the order the program asked, whatever order the workers ran them in.
    assert_eq!(
        lines[4..9],
        [
            "spawn: 1 squared is 1",
            "spawn: 2 squared is 4",
            "spawn: 3 squared is 9",
            "spawn: task 4 panicked: no square for 4 today",
            "spawn: 5 squared is 25",
        ]
    );
    assert_eq!(
        lines[9],
        "nested pools: 6 files x 5 chunks = 30 chunks done"
    );
    assert!(text(&output.stderr).contains("this task fails on purpose"));
}

#[test]
fn watch_progress_reports_growing_counters_from_its_own_thread() {
    // 2 MiB at 512 KiB/s per connection over 4 connections: about a second, so several readings.
    let file = Served::with(
        "/watched.bin",
        2 * MIB,
        402,
        Behaviour::new().rate_limit(512 * KIB),
    );
    let (server, tmp) = server_and_tempdir([&file]);

    let output = example(
        "watch_progress",
        tmp.path(),
        &["out", &server.url(&file.path)],
    );
    let stdout = assert_exit(&output, 0);
    let readings: Vec<&str> = stdout
        .lines()
        .filter(|l| l.starts_with("progress: "))
        .collect();
    assert!(readings.len() >= 2, "{stdout}");
    assert!(
        readings.iter().any(|l| l.contains(" of 2.0 MiB; 1 active")),
        "{stdout}"
    );
    assert!(stdout.contains("1 ok, 0 skipped, 0 failed"), "{stdout}");
    assert_served_file(&tmp.path().join("out"), "watched.bin", &file);
}

#[test]
fn watch_progress_cancels_and_the_same_command_resumes() {
    // 4 MiB at 256 KiB/s per connection: 4 s in all; the example cancels after about 1 s.
    let file = Served::with(
        "/cancelled.bin",
        4 * MIB,
        403,
        Behaviour::new().rate_limit(256 * KIB),
    );
    let (server, tmp) = server_and_tempdir([&file]);
    let url = server.url(&file.path);

    let first = example(
        "watch_progress",
        tmp.path(),
        &["--stop-after", "1", "out", &url],
    );
    let stdout = assert_exit(&first, 130);
    assert!(stdout.contains("cancelling"), "{stdout}");
    assert!(
        stdout.contains("Interrupted: progress is saved"),
        "{stdout}"
    );
    let out = tmp.path().join("out");
    assert!(out.join("cancelled.bin.part.pardl").exists());
    assert!(!out.join("cancelled.bin").exists());
    let sent_first = server.stats().path(&file.path).bytes_sent;

    let second = example("watch_progress", tmp.path(), &["out", &url]);
    assert_exit(&second, 0);
    assert_served_file(&out, "cancelled.bin", &file);
    assert_no_part_files(&out);
    let sent_total = server.stats().path(&file.path).bytes_sent;
    assert!(
        sent_total < file.len + sent_first,
        "resumed from zero: {sent_total} bytes sent"
    );
}

#[test]
fn demo_runs_and_verifies_its_downloads() {
    let tmp = tempfile::tempdir().unwrap();
    let output = example("demo", tmp.path(), &["--size", "1", "--rate", "4096"]);
    let stdout = assert_exit(&output, 0);
    assert_eq!(stdout.matches("all bytes verified").count(), 2, "{stdout}");
}

#[test]
fn collect_outcomes_keeps_every_result_in_input_order_with_its_error() {
    let files: Vec<Served> = (0..3)
        .map(|i| Served::new(&format!("/kept{i}.bin"), 40_000 + i, 410 + i))
        .collect();
    let (server, tmp) = server_and_tempdir(&files);
    let missing = server.url("/missing.bin");
    let mut args = vec!["out".to_string()];
    args.push(server.url(&files[0].path));
    args.push(missing.clone());
    args.extend(files[1..].iter().map(|f| server.url(&f.path)));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();

    let output = example("collect_outcomes", tmp.path(), &args);
    let stdout = assert_exit(&output, 1);
    let table: Vec<&str> = stdout.lines().filter(|l| l.starts_with('#')).collect();
    assert_eq!(
        table,
        [
            format!("#0 {}: 40000 bytes", server.url(&files[0].path)),
            format!("#1 {missing}: refused with HTTP 404"),
            format!("#2 {}: 40001 bytes", server.url(&files[1].path)),
            format!("#3 {}: 40002 bytes", server.url(&files[2].path)),
        ],
        "{stdout}"
    );
    let counted: Vec<&str> = stdout.lines().filter(|l| l.ends_with(" ended")).collect();
    assert_eq!(
        counted,
        [
            "1 of 4 ended",
            "2 of 4 ended",
            "3 of 4 ended",
            "4 of 4 ended"
        ]
    );
    assert!(stdout.ends_with("3 ok, 1 failed\n"), "{stdout}");
    for file in &files {
        assert_served_file(&tmp.path().join("out"), file.name(), file);
    }
}

#[test]
fn cancel_resume_stops_a_run_and_resumes_on_the_same_downloader() {
    // One file at a time, each 512 KiB at 256 KiB/s (one request each: the files fit in the first
    // 1 MiB chunk): the run is cancelled while the first file is on its way and the second is still
    // queued.
    let behaviour = Behaviour::new().rate_limit(256 * KIB);
    let files: Vec<Served> = (0..2)
        .map(|i| {
            Served::with(
                &format!("/cr{i}.bin"),
                512 * KIB,
                420 + i,
                behaviour.clone(),
            )
        })
        .collect();
    let (server, tmp) = server_and_tempdir(&files);
    let mut args = vec![
        "--after".to_string(),
        (128 * KIB).to_string(),
        "out".to_string(),
    ];
    args.extend(files.iter().map(|f| server.url(&f.path)));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();

    let output = example("cancel_resume", tmp.path(), &args);
    let stdout = assert_exit(&output, 0);
    let out = tmp.path().join("out");
    let first: Vec<&str> = stdout
        .lines()
        .filter(|l| l.starts_with("first run: "))
        .collect();
    assert_eq!(
        first,
        [
            "first run:  stop  out/cr0.bin (interrupted)",
            "first run:  stop  out/cr1.bin (not started)",
        ],
        "{stdout}"
    );
    assert!(stdout.contains("first run cancelled: true"), "{stdout}");
    assert!(
        stdout.contains("second run: ok    out/cr0.bin (512.0 KiB, ")
            && stdout.contains(" of it from an earlier run; "),
        "the first file was not resumed: {stdout}"
    );
    assert!(stdout.contains("2 ok, 0 skipped, 0 failed"), "{stdout}");
    for file in &files {
        assert_served_file(&out, file.name(), file);
    }
    assert_no_part_files(&out);
    // The second file was never asked for before the second run, which fetched it in one request.
    assert_eq!(server.stats().path(&files[1].path).requests, 1);
}
