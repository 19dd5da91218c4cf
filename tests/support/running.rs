//! Running the binary: [`pardl`] and its variants run it to the end and return a [`Run`];
//! [`Background`] runs it while the test acts (feeds stdin, sends a signal); [`Argv`] builds command
//! lines that mix fixed flags with URLs known only at run time.

use std::ffi::OsStr;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use pardl_testserver::TestServer;

use super::{urls, write_links, Served};

/// The binary under test, built by cargo for the integration tests.
pub const PARDL: &str = env!("CARGO_BIN_EXE_pardl");

/// A run that takes longer than this is a hang: the child is killed and the test fails.
pub const RUN_TIMEOUT: Duration = Duration::from_secs(120);

/// Environment variables that could change what the binary does: proxies (ureq reads them, and a
/// proxy would intercept 127.0.0.1), the trust store's location, extra logging, forced colours, the
/// config file's directory.
pub const SCRUBBED_ENV: &[&str] = &[
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "ALL_PROXY",
    "NO_PROXY",
    "http_proxy",
    "https_proxy",
    "all_proxy",
    "no_proxy",
    "SSL_CERT_FILE",
    "SSL_CERT_DIR",
    "RUST_LOG",
    "CLICOLOR_FORCE",
    // Where the config file is looked for; `HOME` is replaced rather than removed (see `scrub_env`).
    "XDG_CONFIG_HOME",
];

/// Removes from `command`'s environment [`SCRUBBED_ENV`] and the variables `--shard auto` reads
/// (`pardl::SHARD_ENV`: a CI that happens to run as a Slurm job or a Kubernetes pod must not leak
/// its own into the tests), and points `HOME` at [`empty_home`] with `XDG_CONFIG_HOME` unset, so no
/// run reads the developer's `~/.netrc` or `~/.config/pardl/config`. Use it on every command that
/// starts pardl or an example; a test of those files sets `HOME` or `XDG_CONFIG_HOME` after it.
pub fn scrub_env(command: &mut Command) -> &mut Command {
    for var in SCRUBBED_ENV.iter().chain(pardl::SHARD_ENV) {
        command.env_remove(var);
    }
    command.env("HOME", empty_home());
    command
}

/// A home directory with nothing in it (no `.netrc`, no `.config`), shared by every run of the
/// binary that does not bring its own.
pub fn empty_home() -> PathBuf {
    let home = Path::new(env!("CARGO_TARGET_TMPDIR")).join("pardl-empty-home");
    std::fs::create_dir_all(&home).expect("creating the empty home directory");
    home
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

    /// Asserts that stderr contains `text` anywhere (a summary, a name in a message). Prefer
    /// [`assert_stderr_line`](Run::assert_stderr_line) when several things belong on one line.
    #[track_caller]
    pub fn assert_stderr_contains(&self, text: &str) {
        assert!(
            self.stderr.contains(text),
            "stderr does not contain {text:?}\n--- stderr ---\n{}",
            self.stderr
        );
    }
}

/// Runs the binary with `args` in `cwd`, stdin empty: the usual way to run it.
pub fn pardl<I, S>(cwd: &Path, args: I) -> Run
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    pardl_with_stdin(cwd, args, None)
}

/// The binary with `args` in `cwd`, its environment scrubbed ([`scrub_env`]), stdout and stderr
/// piped, stdin not set up: for [`Background`] runs, or to set more on the command first.
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
    scrub_env(&mut command);
    command
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
    let mut running = Background::start(command);
    let writer = stdin.map(|text| {
        let mut pipe = running.child.stdin.take().expect("stdin is piped");
        let text = text.to_owned();
        thread::spawn(move || {
            // The child may exit without reading everything; that is its business.
            let _ = pipe.write_all(text.as_bytes());
        })
    });
    let run = running.finish();
    if let Some(writer) = writer {
        let _ = writer.join();
    }
    run
}

/// Reads `pipe` to its end on a thread of its own; join the handle for the bytes.
pub fn read_in_background(mut pipe: impl Read + Send + 'static) -> JoinHandle<Vec<u8>> {
    thread::spawn(move || {
        let mut bytes = Vec::new();
        let _ = pipe.read_to_end(&mut bytes);
        bytes
    })
}

/// A run of the binary that the test acts on while it runs: writes to its stdin bit by bit, sends
/// it a signal, waits for a file to appear. Its piped stdout and stderr are read from the start,
/// so a chatty run never blocks on a full pipe. [`finish`](Background::finish) gives the [`Run`].
pub struct Background {
    /// The running binary. Take its stdin (if piped) to write to it; its stdout and stderr are
    /// already taken.
    pub child: Child,
    stdout: Option<JoinHandle<Vec<u8>>>,
    stderr: Option<JoinHandle<Vec<u8>>>,
}

impl Background {
    /// Starts `command` (usually from [`pardl_command`], with stdin set up as the test needs).
    pub fn start(mut command: Command) -> Background {
        let mut child = command
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {PARDL}: {e}"));
        let stdout = child.stdout.take().map(read_in_background);
        let stderr = child.stderr.take().map(read_in_background);
        Background {
            child,
            stdout,
            stderr,
        }
    }

    /// Waits for the run to end and returns its exit code and output. A run still going after
    /// [`RUN_TIMEOUT`] is killed and fails the test, showing what it printed.
    pub fn finish(self) -> Run {
        self.finish_within(RUN_TIMEOUT)
    }

    /// [`finish`](Background::finish) with a deadline of the test's own: for a run that must end by
    /// itself soon (a test of a bound), so a run that never would fails the test quickly.
    pub fn finish_within(mut self, timeout: Duration) -> Run {
        let deadline = Instant::now() + timeout;
        let status = loop {
            match self.child.try_wait().expect("waiting for pardl") {
                Some(status) => break Some(status),
                None if Instant::now() >= deadline => {
                    let _ = self.child.kill();
                    let _ = self.child.wait();
                    break None;
                }
                None => thread::sleep(Duration::from_millis(20)),
            }
        };
        let text = |reader: Option<JoinHandle<Vec<u8>>>| {
            reader.map_or_else(String::new, |r| {
                String::from_utf8_lossy(&r.join().expect("output reader")).into_owned()
            })
        };
        let stdout = text(self.stdout);
        let stderr = text(self.stderr);
        let Some(status) = status else {
            panic!(
                "pardl did not finish within {timeout:?} and was killed\n--- stdout ---\n{stdout}\n--- stderr ---\n{stderr}"
            );
        };
        Run {
            code: status.code(),
            stdout,
            stderr,
        }
    }
}

/// A command line built piece by piece, for runs whose arguments mix fixed flags with URLs or paths
/// known only at run time. A fixed list reads best as a plain array:
/// `pardl(tmp.path(), ["-d", "out", &url])`.
///
/// ```ignore
/// pardl(tmp.path(), Argv::quick("out").args(["-x", "4", "-k", "256K"]).urls(&server, &files))
/// ```
#[derive(Debug, Clone, Default)]
pub struct Argv(Vec<String>);

impl Argv {
    /// No arguments yet.
    pub fn new() -> Argv {
        Argv::default()
    }

    /// `-d DIR --retry-wait 0.05`: downloads into `dir` (relative to the directory the binary runs
    /// in), retries 50 ms apart so no test waits out the default. What most command-line tests start
    /// with.
    pub fn quick(dir: &str) -> Argv {
        Argv::new().args(["-d", dir, "--retry-wait", "0.05"])
    }

    /// Writes `lines` to `dir/links.txt` and starts `-i DIR/links.txt -d DIR/out` (absolute
    /// paths): a links-file run whose downloads land in `dir/out`.
    pub fn links_file<S: AsRef<str>>(dir: &Path, lines: &[S]) -> Argv {
        let links = write_links(dir, "links.txt", lines);
        let out = dir.join("out");
        Argv::new().args([
            "-i",
            &links.display().to_string(),
            "-d",
            &out.display().to_string(),
        ])
    }

    /// Appends `args`.
    pub fn args<I, S>(mut self, args: I) -> Argv
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        self.0
            .extend(args.into_iter().map(|a| a.as_ref().to_owned()));
        self
    }

    /// Appends the URL of each of `files` on `server`.
    pub fn urls<'a>(
        self,
        server: &TestServer,
        files: impl IntoIterator<Item = &'a Served>,
    ) -> Argv {
        self.args(urls(server, files))
    }
}

impl IntoIterator for Argv {
    type Item = String;
    type IntoIter = std::vec::IntoIter<String>;

    fn into_iter(self) -> Self::IntoIter {
        self.0.into_iter()
    }
}

impl<'a> IntoIterator for &'a Argv {
    type Item = &'a String;
    type IntoIter = std::slice::Iter<'a, String>;

    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}
