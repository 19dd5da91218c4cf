//! Helpers shared by the integration tests (`mod support;` in each test file).
//!
//! Everything here talks only to a [`TestServer`] on 127.0.0.1: no test needs the internet, and the
//! binary is run with every proxy variable removed so a CI proxy cannot intercept localhost traffic.

// Each test binary uses a different subset of the helpers.
#![allow(dead_code)]

use std::ffi::OsStr;
use std::fs;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use pardl::{ChunkPlan, Config};
use pardl_testserver::{pattern_bytes, Behaviour, Body, RequestRecord, TestServer};

/// The binary under test, built by cargo for the integration tests.
pub const PARDL: &str = env!("CARGO_BIN_EXE_pardl");

/// A run that takes longer than this is a hang: the child is killed and the test fails.
pub const RUN_TIMEOUT: Duration = Duration::from_secs(120);

/// Environment variables that could change what the binary does: proxies (ureq reads them, and a
/// proxy would intercept 127.0.0.1), extra logging, forced colours.
pub const SCRUBBED_ENV: &[&str] = &[
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "ALL_PROXY",
    "NO_PROXY",
    "http_proxy",
    "https_proxy",
    "all_proxy",
    "no_proxy",
    "RUST_LOG",
    "CLICOLOR_FORCE",
];

pub const KIB: u64 = 1024;
pub const MIB: u64 = 1024 * 1024;

/// One file served by a test server: `len` bytes of the pattern for `seed` at `path`.
#[derive(Debug, Clone)]
pub struct Served {
    pub path: String,
    pub len: u64,
    pub seed: u64,
    pub behaviour: Behaviour,
}

impl Served {
    /// A well-behaved pattern file.
    pub fn new(path: &str, len: u64, seed: u64) -> Served {
        Served::with(path, len, seed, Behaviour::default())
    }

    /// A pattern file with a fault injected.
    pub fn with(path: &str, len: u64, seed: u64, behaviour: Behaviour) -> Served {
        Served {
            path: path.to_owned(),
            len,
            seed,
            behaviour,
        }
    }
}

/// Starts a server serving `files`.
pub fn server_with(files: &[Served]) -> TestServer {
    let server = TestServer::start();
    for file in files {
        server.add(
            &file.path,
            Body::Pattern {
                len: file.len,
                seed: file.seed,
            },
            file.behaviour.clone(),
        );
    }
    server
}

/// The result of one run of the binary.
#[derive(Debug)]
pub struct Run {
    /// The exit code (`None` if killed by a signal).
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    /// Asserts the exit code, showing the output if it differs.
    #[track_caller]
    pub fn assert_code(&self, code: i32) -> &Run {
        assert_eq!(
            self.code,
            Some(code),
            "unexpected exit status\n--- stdout ---\n{}\n--- stderr ---\n{}",
            self.stdout,
            self.stderr
        );
        self
    }

    /// The lines of stderr that contain every one of `needles`.
    pub fn stderr_lines_with(&self, needles: &[&str]) -> Vec<&str> {
        self.stderr
            .lines()
            .filter(|line| needles.iter().all(|n| line.contains(n)))
            .collect()
    }

    /// Asserts that some stderr line contains every one of `needles`.
    #[track_caller]
    pub fn assert_stderr_line(&self, needles: &[&str]) {
        assert!(
            !self.stderr_lines_with(needles).is_empty(),
            "no stderr line contains all of {needles:?}\n--- stderr ---\n{}",
            self.stderr
        );
    }
}

/// Runs the binary with `args` in `cwd`, stdin empty.
pub fn pardl<I, S>(cwd: &Path, args: I) -> Run
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    pardl_with_stdin(cwd, args, None)
}

/// The binary with `args` in `cwd`, its environment scrubbed of [`SCRUBBED_ENV`] and of the
/// variables `--shard auto` reads (`pardl::SHARD_ENV`: a CI that happens to run as a Slurm
/// job or a Kubernetes pod must not leak its own into the tests), stdout and stderr piped, stdin not
/// set up.
pub fn pardl_command<I, S>(cwd: &Path, args: I) -> Command
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let mut command = Command::new(PARDL);
    command
        .args(args)
        .current_dir(cwd)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for var in SCRUBBED_ENV.iter().chain(pardl::SHARD_ENV) {
        command.env_remove(var);
    }
    command
}

/// Waits for `child` to exit, killing it and failing the test after [`RUN_TIMEOUT`].
pub fn wait_or_kill(child: &mut Child) -> ExitStatus {
    let deadline = Instant::now() + RUN_TIMEOUT;
    loop {
        match child.try_wait().expect("waiting for pardl") {
            Some(status) => return status,
            None if Instant::now() >= deadline => {
                let _ = child.kill();
                let _ = child.wait();
                panic!("pardl did not finish within {RUN_TIMEOUT:?} and was killed");
            }
            None => thread::sleep(Duration::from_millis(20)),
        }
    }
}

/// Runs the binary with `args` in `cwd`, feeding `stdin` if given (else stdin is empty), with a clean
/// environment and a [`RUN_TIMEOUT`]: a hang kills the child and fails the test.
pub fn pardl_with_stdin<I, S>(cwd: &Path, args: I, stdin: Option<&str>) -> Run
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    run_to_end(pardl_command(cwd, args), stdin)
}

/// Runs the binary with `args` in `cwd` as [`pardl`] does, with the variables `env` set on top of the
/// scrubbed environment.
pub fn pardl_with_env<I, S>(cwd: &Path, args: I, env: &[(&str, &str)]) -> Run
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let mut command = pardl_command(cwd, args);
    command.envs(env.iter().copied());
    run_to_end(command, None)
}

/// Runs `command` to its end with a [`RUN_TIMEOUT`], feeding `stdin` if given (else stdin is empty).
pub fn run_to_end(mut command: Command, stdin: Option<&str>) -> Run {
    command.stdin(if stdin.is_some() {
        Stdio::piped()
    } else {
        Stdio::null()
    });
    let mut child = command
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {PARDL}: {e}"));

    let writer = stdin.map(|text| {
        let mut pipe = child.stdin.take().expect("stdin is piped");
        let text = text.to_owned();
        thread::spawn(move || {
            // The child may exit without reading everything; that is its business.
            let _ = pipe.write_all(text.as_bytes());
        })
    });
    let stdout = read_in_background(child.stdout.take().expect("stdout is piped"));
    let stderr = read_in_background(child.stderr.take().expect("stderr is piped"));

    let deadline = Instant::now() + RUN_TIMEOUT;
    let status = loop {
        match child.try_wait().expect("waiting for pardl") {
            Some(status) => break Some(status),
            None if Instant::now() >= deadline => {
                let _ = child.kill();
                let _ = child.wait();
                break None;
            }
            None => thread::sleep(Duration::from_millis(20)),
        }
    };
    if let Some(writer) = writer {
        let _ = writer.join();
    }
    let stdout = String::from_utf8_lossy(&stdout.join().expect("stdout reader")).into_owned();
    let stderr = String::from_utf8_lossy(&stderr.join().expect("stderr reader")).into_owned();
    let Some(status) = status else {
        panic!(
            "pardl did not finish within {RUN_TIMEOUT:?} and was killed\n--- stdout ---\n{stdout}\n--- stderr ---\n{stderr}"
        );
    };
    Run {
        code: status.code(),
        stdout,
        stderr,
    }
}

pub fn read_in_background(mut pipe: impl Read + Send + 'static) -> thread::JoinHandle<Vec<u8>> {
    thread::spawn(move || {
        let mut bytes = Vec::new();
        let _ = pipe.read_to_end(&mut bytes);
        bytes
    })
}

/// Writes `lines` (joined with `\n`, with a final newline) to `dir/name` and returns its path.
pub fn write_links<S: AsRef<str>>(dir: &Path, name: &str, lines: &[S]) -> PathBuf {
    let path = dir.join(name);
    let mut text = String::new();
    for line in lines {
        text.push_str(line.as_ref());
        text.push('\n');
    }
    fs::write(&path, text).unwrap_or_else(|e| panic!("cannot write {}: {e}", path.display()));
    path
}

/// Asserts that the file at `path` holds exactly `pattern_bytes(seed, 0, len)`. Compares the lengths
/// first and reports the first differing offset rather than megabytes of bytes.
#[track_caller]
pub fn assert_pattern_file(path: &Path, seed: u64, len: u64) {
    let actual = fs::read(path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    assert_eq!(
        actual.len() as u64,
        len,
        "{} has the wrong length",
        path.display()
    );
    let expected = pattern_bytes(seed, 0, len as usize);
    if let Some(offset) = actual.iter().zip(&expected).position(|(a, e)| a != e) {
        let end = (offset + 16).min(actual.len());
        panic!(
            "{} differs from pattern seed {seed} first at byte {offset} (of {len}): got {:02x?}, expected {:02x?}",
            path.display(),
            &actual[offset..end],
            &expected[offset..end]
        );
    }
}

/// Asserts that the served file landed at `dir/name` byte for byte.
#[track_caller]
pub fn assert_served_file(dir: &Path, name: &str, served: &Served) {
    assert_pattern_file(&dir.join(name), served.seed, served.len);
}

/// Asserts that no `.part` file remains in `dir` (and its subdirectories).
#[track_caller]
pub fn assert_no_part_files(dir: &Path) {
    let parts: Vec<PathBuf> = files_under(dir)
        .into_iter()
        .filter(|p| p.to_string_lossy().ends_with(".part"))
        .collect();
    assert!(parts.is_empty(), "leftover .part files: {parts:?}");
}

/// Every file (not directory) under `dir`, recursively, sorted.
pub fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(current) = pending.pop() {
        let Ok(entries) = fs::read_dir(&current) else {
            continue;
        };
        for entry in entries {
            let entry = entry.expect("reading a directory entry");
            let path = entry.path();
            if entry.file_type().expect("file type").is_dir() {
                pending.push(path);
            } else {
                found.push(path);
            }
        }
    }
    found.sort();
    found
}

/// The names of the entries directly in `dir`, sorted.
pub fn names_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()))
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// How many requests a ranged download of `total` bytes makes: the probe is the first chunk, and
/// the plan decides the rest.
pub fn expected_requests(total: u64, min_chunk: u64, connections: usize) -> usize {
    ChunkPlan::new(total, min_chunk, connections, min_chunk)
        .chunks()
        .len()
}

/// Parses `bytes=A-B` into `A..B+1`.
pub fn parse_range(value: &str) -> std::ops::Range<u64> {
    let spec = value
        .strip_prefix("bytes=")
        .unwrap_or_else(|| panic!("not a byte range: {value:?}"));
    let (start, end) = spec
        .split_once('-')
        .unwrap_or_else(|| panic!("not a byte range: {value:?}"));
    let start: u64 = start.parse().expect("range start");
    let end: u64 = end.parse().expect("range end");
    start..end + 1
}

/// Asserts that `records` are one ranged download of `total` bytes with `min_chunk` and
/// `connections`: as many requests as the plan has chunks, the first being the probe for
/// `0..min(min_chunk, total)`, and the ranges together tiling the file exactly once.
#[track_caller]
pub fn assert_ranged_download(
    records: &[RequestRecord],
    total: u64,
    min_chunk: u64,
    connections: usize,
) {
    let ranges: Vec<Option<String>> = records.iter().map(|r| r.range.clone()).collect();
    assert_eq!(
        records.len(),
        expected_requests(total, min_chunk, connections),
        "request count for a {total}-byte file (k={min_chunk}, x={connections}); ranges: {ranges:?}"
    );
    assert!(
        records.iter().all(|r| r.method == "GET"),
        "only GETs expected: {records:?}"
    );
    let mut spans: Vec<std::ops::Range<u64>> = records
        .iter()
        .map(|r| {
            parse_range(
                r.range
                    .as_deref()
                    .unwrap_or_else(|| panic!("a request without Range: {ranges:?}")),
            )
        })
        .collect();
    assert_eq!(
        spans[0],
        0..min_chunk.min(total),
        "the first request is the probe for the first chunk"
    );
    spans.sort_by_key(|s| s.start);
    let mut at = 0;
    for span in &spans {
        assert_eq!(span.start, at, "gap or overlap in the ranges {ranges:?}");
        assert!(span.end > span.start);
        at = span.end;
    }
    assert_eq!(at, total, "the ranges do not reach the end: {ranges:?}");
    assert!(
        records.iter().all(|r| r.status == 206),
        "every ranged request is answered 206"
    );
}

/// A library configuration for tests: output in `dir`, no proxy from the environment, quick retries.
pub fn lib_config(dir: &Path) -> Config {
    Config {
        dir: dir.to_path_buf(),
        jobs: 3,
        connections: 4,
        min_chunk: 256 * KIB,
        max_tries: 3,
        retry_wait: Duration::from_millis(20),
        connect_timeout: Duration::from_secs(10),
        read_timeout: Duration::from_secs(30),
        proxy_from_env: false,
        ..Config::default()
    }
}
