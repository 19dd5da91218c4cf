//! Every program in `examples/` runs and does what its doc comment says, against the in-process test
//! server. The examples are built by cargo first (a no-op when `cargo test` has built them already),
//! so this file never runs a stale binary.

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;
use std::thread;
use std::time::{Duration, Instant};

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

/// Like [`example`], but kills the example if it is still running after `limit`: a program that
/// demonstrates a hang must end by itself, and a test must never wait for it forever.
fn example_within(name: &str, args: &[&str], limit: Duration) -> Output {
    let tmp = tempfile::tempdir().unwrap();
    let mut command = Command::new(examples_dir().join(name));
    scrub_env(command.current_dir(tmp.path()).args(args))
        .env("RUST_BACKTRACE", "0")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = command.spawn().expect("the example starts");
    let started = Instant::now();
    while child
        .try_wait()
        .expect("the example can be waited for")
        .is_none()
    {
        if started.elapsed() > limit {
            let _ = child.kill();
            let output = child
                .wait_with_output()
                .expect("the killed example is reaped");
            panic!(
                "{name} {args:?} was still running after {limit:?}:\n{}{}",
                text(&output.stdout),
                text(&output.stderr)
            );
        }
        thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().expect("the example's output")
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
    // Results are plain lines; the timeline's lines start with `[` and the time.
    let (timeline, lines): (Vec<&str>, Vec<&str>) =
        stdout.lines().partition(|line| line.starts_with('['));
    assert_eq!(lines.len(), 11, "{stdout}");
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
    let peak: usize = lines[10]
        .strip_prefix("peak threads: ")
        .and_then(|rest| rest.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("unexpected line: {}", lines[10]));
    assert!((5..=16).contains(&peak), "{}", lines[10]);
    assert!(text(&output.stderr).contains("this task fails on purpose"));

    // The timeline: a time, the thread's name, the event.
    let event = |line: &str| -> (f64, String, String) {
        let (time, rest) = line[1..]
            .split_once(" ms] ")
            .expect("[TIME ms] THREAD EVENT");
        let (thread, what) = rest.split_once(' ').expect("a thread name, then the event");
        (
            time.trim().parse().expect("a time in ms"),
            thread.to_string(),
            what.trim_start().to_string(),
        )
    };
    let events: Vec<(f64, String, String)> = timeline.iter().map(|l| event(l)).collect();
    // Backpressure, seen from the producer: all 12 submissions on the main thread, and the ones
    // after the first 4 had to wait for a worker to take a task (at least one waited half a task).
    let submitted: Vec<u64> = events
        .iter()
        .filter(|(_, thread, what)| thread == "main" && what.starts_with("execute(task "))
        .map(|(_, _, what)| {
            what.rsplit(" after ")
                .next()
                .and_then(|ms| ms.strip_suffix(" ms"))
                .and_then(|ms| ms.parse().ok())
                .unwrap_or_else(|| panic!("unexpected event: {what}"))
        })
        .collect();
    assert_eq!(submitted.len(), 12, "{stdout}");
    assert!(submitted[4..].iter().any(|&ms| ms >= 25), "{stdout}");
    // The tasks ran on the pool's two named workers.
    for (_, thread, what) in events.iter().filter(|(_, _, w)| w.starts_with("runs task")) {
        assert!(thread.starts_with("backpressure-"), "{what} on {thread}");
    }
    // The pool's own report of the panicking task, through the logger, names its worker.
    assert!(
        events.iter().any(|(_, thread, what)| thread.starts_with("example-")
            && what == &format!("log ERROR pardl::pool: task panicked on thread {thread}: this task fails on purpose")),
        "{stdout}"
    );
    // Nesting: each file task waits on its own pool, whose threads (not the file workers) run
    // the chunks.
    for file in 0..6 {
        let waits = format!("file {file}: 5 chunks queued on its own pool of 4; waits");
        assert!(
            events
                .iter()
                .any(|(_, t, w)| t.starts_with("files-") && w == &waits),
            "{stdout}"
        );
        let chunks: Vec<&String> = events
            .iter()
            .filter(|(_, _, w)| w.starts_with(&format!("file {file}: chunk ")))
            .map(|(_, thread, _)| thread)
            .collect();
        assert_eq!(chunks.len(), 5, "{stdout}");
        assert!(chunks.iter().all(|t| t.starts_with("chunks-")), "{stdout}");
    }
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
    // Run 3 has 2 x 2 + 3 = 7 files of 256 KiB at 512 KiB/s: half a second each, two at a time.
    let output = example(
        "demo",
        tmp.path(),
        &["--size", "1", "--rate", "512", "-j", "2"],
    );
    let stdout = assert_exit(&output, 0);
    assert_eq!(stdout.matches("all bytes verified").count(), 3, "{stdout}");
    // Each run's request count is explained by its chunk plans, and adds up to what the server saw.
    let saw: Vec<&str> = stdout
        .lines()
        .filter_map(|l| l.split("server saw ").nth(1)?.split(' ').next())
        .collect();
    let explained: Vec<&str> = stdout
        .lines()
        .filter_map(|l| {
            l.strip_prefix("requests: ")?
                .split(", one per chunk")
                .next()
        })
        .filter_map(|sum| sum.rsplit(" = ").next())
        .collect();
    assert_eq!(saw.len(), 3, "{stdout}");
    assert_eq!(saw, explained, "{stdout}");
    assert!(
        stdout.contains("requests: 1 + 1 + 1 = 3, one per chunk"),
        "{stdout}"
    );
    assert!(
        stdout.contains("requests: 13 x 1 = 13, one per chunk"),
        "{stdout}"
    );
    // Run 3: more files than workers, so the outer queue fills and the reader waits.
    assert!(
        stdout.contains("== run 3: -x 4 -j 2, 13 files: more than 2 workers and 8 queue slots =="),
        "{stdout}"
    );
    assert!(
        stdout.contains(
            "; links read but not finished: at most 11\nreader: links 1-11 taken at once (2 \
             running, 8 queued, 1 held in execute); link 12 at "
        ),
        "{stdout}"
    );
    if cfg!(target_os = "linux") {
        assert!(
            stdout.contains("threads: at most 2 pardl-file, "),
            "{stdout}"
        );
    }
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

/// The mini pool's steps, each run alone as docs/pool-in-steps.md shows them, print what the page
/// says they print.
#[test]
fn mini_pool_prints_each_step_as_the_page_shows() {
    let limit = Duration::from_secs(60);
    let step = |args: &[&str]| {
        let output = example_within("mini_pool", args, limit);
        assert_exit(&output, 0)
    };
    assert_eq!(
        step(&["1"]),
        "step 1: 2 workers, 12 tasks that wait at a closed gate\n\
         step 1: execute never waited: 12 tasks accepted while both workers were busy\n\
         step 1: dropping the pool ran every queued task: 12 of 12 done\n"
    );
    assert_eq!(
        step(&["2"]),
        "step 2: 2 workers, queue capacity 2, 12 tasks that wait at a closed gate\n\
         step 2: execute blocked at task 5: 2 running, 2 waiting in the queue\n\
         step 2: the gate opened and the producer went on: 12 of 12 accepted\n"
    );
    // The exercise: capacity 0, 1 and 1000.
    for (capacity, line) in [
        (
            "0",
            "step 2: execute blocked at task 3: 2 running, 0 waiting in the queue",
        ),
        (
            "1",
            "step 2: execute blocked at task 4: 2 running, 1 waiting in the queue",
        ),
        (
            "1000",
            "step 2: execute never blocked: 2 running, 10 waiting in the queue",
        ),
    ] {
        let stdout = step(&["2", "--capacity", capacity]);
        assert_eq!(stdout.lines().nth(1), Some(line), "{stdout}");
    }
    assert_eq!(
        step(&["3"]),
        "step 3: wait_completion with nothing pending returned at once (under a second)\n\
         step 3: wait_completion returned when 12 of 12 tasks had finished\n"
    );
    let output = example_within("mini_pool", &["4"], limit);
    assert_eq!(
        assert_exit(&output, 0),
        "step 4: a task panicked; wait_completion returned; panicked tasks: 1\n\
         step 4: afterwards 2 tasks met at a barrier of 2: every worker survived\n"
    );
    assert!(
        text(&output.stderr).contains("task panicked on thread mini-"),
        "{}",
        text(&output.stderr)
    );
    let stdout = step(&["5"]);
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(
        lines[0],
        "step 5: 4 files x 5 chunks = 20 chunks done, each file on a pool of its own"
    );
    let peak: usize = lines[1]
        .strip_prefix("step 5: at most ")
        .and_then(|rest| rest.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("unexpected line: {}", lines[1]));
    assert!((4..=9).contains(&peak), "{}", lines[1]);
    assert!(lines[1].ends_with("(bound: 1 + 2 file workers + 2 x 3 chunk workers = 9)"));
    // Every step in order, and a bad argument is a usage error.
    assert_eq!(step(&[]).lines().count(), 12);
    assert_exit(&example_within("mini_pool", &["6"], limit), 2);
}

/// mini_pool is the Book's pool grown in steps with the standard library alone: no crate, not
/// even pardl, may appear in it.
#[test]
fn mini_pool_uses_only_the_standard_library() {
    let source = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/mini_pool.rs"),
    )
    .unwrap();
    for line in source.lines().map(str::trim) {
        if let Some(path) = line.strip_prefix("use ").or(line.strip_prefix("pub use ")) {
            assert!(
                ["std::", "super::", "self::", "crate::"]
                    .iter()
                    .any(|std| path.starts_with(std)),
                "mini_pool.rs uses something besides std: {line}"
            );
        }
        assert!(!line.contains("pardl::"), "mini_pool.rs uses pardl: {line}");
    }
}

/// Each case of examples/deadlock.rs breaks what it names, and ends by itself with the documented
/// exit status and a message that says who waits for what; `--fix` finishes.
#[test]
fn deadlock_demonstrates_each_failure_and_exits_by_itself() {
    let limit = Duration::from_secs(60);
    let run = |case: &str, fix: bool| {
        let mut args = vec![case, "--patience", "1"];
        if fix {
            args.push("--fix");
        }
        example_within("deadlock", &args, limit)
    };
    let hangs = [
        (
            "shared-pool",
            "watchdog: no progress for 1.0 s: 2 of 2 workers wait for their chunks, 0 are blocked \
             in execute; 2 chunk tasks queued, none started: no worker is left to run them",
        ),
        (
            "full-queue",
            "watchdog: no progress for 1.0 s: 1 of 1 worker is blocked in execute on its own \
             pool's full queue; 1 task queued, none started: the only worker that could take it \
             is the one waiting to add more",
        ),
        (
            "held-permit",
            "watchdog: no progress for 1.0 s: the file task holds the only permit and waits for \
             its child pool (1 waiting); 2 chunk tasks wait for a permit that only the file task \
             can give back",
        ),
    ];
    for (case, report) in hangs {
        let stdout = assert_exit(&run(case, false), 3);
        assert!(stdout.lines().any(|l| l == report), "{case}:\n{stdout}");
        assert!(
            stdout.ends_with("watchdog: stopping the program (exit status 3)\n"),
            "{stdout}"
        );
    }
    let stdout = assert_exit(&run("own-wait", false), 4);
    assert!(
        stdout.contains(
            "own-wait: the pool refused: thread pool 'own': wait_completion called from one of \
             its own tasks; the task would wait for itself forever (on thread own-"
        ),
        "{stdout}"
    );
    assert!(!stdout.contains("watchdog"), "{stdout}");
    for (case, done) in [
        ("shared-pool", "shared-pool --fix: 2 files finished"),
        (
            "own-wait",
            "own-wait --fix: waited from outside the pool; the inner task gave 42",
        ),
        (
            "full-queue",
            "full-queue --fix: the task submitted to another pool",
        ),
        (
            "held-permit",
            "held-permit --fix: the file task gave its permit back before waiting",
        ),
    ] {
        let stdout = assert_exit(&run(case, true), 0);
        assert!(stdout.contains(done), "{case} --fix:\n{stdout}");
        assert!(!stdout.contains("watchdog"), "{stdout}");
    }
    assert_exit(&example_within("deadlock", &[], limit), 2);
}

/// The outputs docs/pool-in-steps.md shows (a `$ cargo run --example mini_pool -- N` line, then what
/// it prints) are what the steps print. Only a measured peak may differ; it is compared as `N`.
#[test]
fn pool_in_steps_shows_what_mini_pool_prints() {
    let page = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/pool-in-steps.md"),
    )
    .unwrap();
    let measured = |text: &str| -> String {
        text.lines()
            .map(|line| match line.split_once("at most ") {
                Some((before, after)) => {
                    let rest = after.trim_start_matches(|c: char| c.is_ascii_digit());
                    format!("{before}at most N{rest}")
                }
                None => line.to_string(),
            })
            .collect::<Vec<_>>()
            .join("\n")
    };
    let mut shown = 0;
    for block in page.split("```text\n").skip(1) {
        let block = block.split("```").next().unwrap();
        let Some((command, printed)) = block.split_once('\n') else {
            continue;
        };
        let Some(args) = command.strip_prefix("$ cargo run --example mini_pool --") else {
            continue;
        };
        let args: Vec<&str> = args.split_whitespace().collect();
        let output = example_within("mini_pool", &args, Duration::from_secs(60));
        assert_eq!(
            measured(&assert_exit(&output, 0)),
            measured(printed),
            "docs/pool-in-steps.md shows another output for mini_pool {args:?}"
        );
        shown += 1;
    }
    assert_eq!(shown, 5, "one output per step");
}
