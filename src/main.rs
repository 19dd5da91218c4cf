//! The `pardl` command: parses the command line into a [`Config`] and a stream of links, runs the
//! [`Downloader`] with the live display, and turns its [`Summary`](pardl::Summary) into output, a
//! report and an exit status. `pardl completions SHELL` and `pardl man` print a completion script
//! and the man page, generated from the same clap definitions as the parser.

use std::fmt;
use std::fs::File;
use std::io::{self, BufRead, BufReader, Write};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use clap::builder::TypedValueParser;
use clap::{ArgAction, CommandFactory, Parser, Subcommand};
use pardl::ui::{Console, LogWriter, Renderer};
use pardl::units::parse_size;
use pardl::{
    CancelHandle, Config, Credentials, DoneLinks, Downloader, Header, Link, LinkError, LinkReader,
    Origin, ReportFile, Shard,
};

/// Download files in parallel, each over several connections.
///
/// Reads URLs (one per line) from a links file and downloads them: several files at once (-j), each
/// split into HTTP Range chunks fetched over several connections (-x). A file appears under its final
/// name only when it is complete; an existing file is skipped, so rerunning fetches only what is missing.
///
/// Links file: one URL per line; blank lines and lines starting with '#' are ignored; options may follow
/// the URL, separated by spaces: out=NAME sets the file name, sha256=HEX the checksum it must have.
///
/// A file is named by out= (or -o), else by the server's Content-Disposition, else by the URL
/// after redirects. On a terminal, a live display shows each file's progress and the total; elsewhere
/// one line per finished file and a total line every 10 seconds.
///
/// Proxies: HTTPS_PROXY, HTTP_PROXY and ALL_PROXY are used (hosts in NO_PROXY go direct) unless
/// --proxy is given. Credentials may be written in a URL (https://user:pass@host/path) or given with
/// --user/--password; passwords are masked in every message, the display and the report.
///
/// Exit status: 0 all links downloaded or skipped; 1 some link failed; 2 usage error or unreadable
/// links file; 130 interrupted (Ctrl-C; run the same command again to resume).
#[derive(Debug, Parser)]
#[command(
    name = "pardl",
    version,
    max_term_width = 100,
    args_override_self = true
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,

    /// URLs to download (before those of the links file).
    #[arg(value_name = "URL")]
    urls: Vec<String>,

    /// Save the single URL given on the command line as NAME (inside --dir).
    #[arg(short = 'o', long = "output", value_name = "NAME")]
    output: Option<String>,

    /// Another URL of the single URL's file (a mirror); repeat it for more. The file's chunks are
    /// spread over all of them. In a links file, write mirrors after the URL, separated by tabs or spaces.
    #[arg(long = "mirror", value_name = "URL")]
    mirror: Vec<String>,

    /// Read links from FILE ('-' for standard input). Without URLs and without -i, ./links.txt is read if
    /// it exists.
    #[arg(short = 'i', long = "input-file", value_name = "FILE")]
    input_file: Option<PathBuf>,

    /// Directory to save files in (created if missing).
    #[arg(short = 'd', long = "dir", value_name = "DIR", default_value = Config::DEFAULT_DIR)]
    dir: PathBuf,

    /// Files downloaded at once (workers of the outer pool).
    #[arg(short = 'j', long = "jobs", value_name = "N", default_value_t = Config::DEFAULT_JOBS,
          value_parser = clap::value_parser!(u16).range(1..=256).map(usize::from))]
    jobs: usize,

    /// Connections per file (workers of each file's chunk pool).
    #[arg(short = 'x', long = "connections", value_name = "N",
          default_value_t = Config::DEFAULT_CONNECTIONS,
          value_parser = clap::value_parser!(u16).range(1..=64).map(usize::from))]
    connections: usize,

    /// Smallest chunk worth its own request, e.g. 512K, 1M, 20M.
    #[arg(short = 'k', long = "min-chunk", value_name = "SIZE",
          default_value_t = Size(Config::DEFAULT_MIN_CHUNK), value_parser = parse_min_chunk)]
    min_chunk: Size,

    /// Replace files that already exist instead of skipping their links.
    #[arg(long)]
    overwrite: bool,

    /// Tries per request before its file fails (1 = no retries).
    #[arg(long = "max-tries", value_name = "N", default_value_t = Config::DEFAULT_MAX_TRIES,
          value_parser = clap::value_parser!(u32).range(1..))]
    max_tries: u32,

    /// Seconds to wait before the first retry; doubled after each further failure (max 30 s).
    #[arg(long = "retry-wait", value_name = "SECS",
          default_value_t = Seconds(Config::DEFAULT_RETRY_WAIT), value_parser = parse_seconds)]
    retry_wait: Seconds,

    /// Seconds allowed to establish a connection.
    #[arg(long = "connect-timeout", value_name = "SECS",
          default_value_t = Seconds(Config::DEFAULT_CONNECT_TIMEOUT), value_parser = parse_seconds)]
    connect_timeout: Seconds,

    /// Seconds to wait for the server's answer to a request before retrying it.
    #[arg(long = "timeout", value_name = "SECS",
          default_value_t = Seconds(Config::DEFAULT_READ_TIMEOUT), value_parser = parse_seconds)]
    timeout: Seconds,

    /// Seconds without a byte on a connection before it is dropped and the request retried from where
    /// it stopped.
    #[arg(long = "stall-timeout", value_name = "SECS",
          default_value_t = Seconds(Config::DEFAULT_STALL_TIMEOUT), value_parser = parse_seconds)]
    stall_timeout: Seconds,

    /// Drop and retry a connection slower than this (bytes per second over 10 s, e.g. 10K); 0 = off.
    #[arg(long = "lowest-speed", value_name = "RATE",
          default_value_t = Size(Config::DEFAULT_LOWEST_SPEED), value_parser = parse_rate)]
    lowest_speed: Size,

    /// Connections to one host at once, over all files and their chunks. pardl lowers it by itself
    /// for a host that turns connections away (429, 503, or 416 for a valid range) and raises it again
    /// after clean answers.
    #[arg(long = "max-per-host", value_name = "N", default_value_t = Config::DEFAULT_MAX_PER_HOST,
          value_parser = clap::value_parser!(u16).range(1..=1024).map(usize::from))]
    max_per_host: usize,

    /// Verify the download of a single URL: sha256=HEX (in a links file, write sha256=HEX after the URL).
    #[arg(long = "checksum", value_name = "sha256=HEX", value_parser = parse_checksum)]
    checksum: Option<String>,

    /// Limit the download speed of all connections together, e.g. 500K, 2M (bytes per second).
    #[arg(long = "limit-rate", value_name = "RATE",
          default_value_t = Size(Config::DEFAULT_LIMIT_RATE), value_parser = parse_rate,
          hide_default_value = true)]
    limit_rate: Size,

    /// Send this header with every request, e.g. -H 'Cookie: a=b' (repeatable).
    #[arg(short = 'H', long = "header", value_name = "'NAME: VALUE'", value_parser = Header::parse)]
    headers: Vec<Header>,

    /// Send this User-Agent.
    #[arg(short = 'U', long = "user-agent", value_name = "AGENT")]
    user_agent: Option<String>,

    /// User name for HTTP Basic authentication on the links' hosts (never sent to a host a redirect
    /// leads to).
    #[arg(long = "user", value_name = "USER")]
    user: Option<String>,

    /// Password for --user.
    #[arg(long = "password", value_name = "PASSWORD", requires = "user")]
    password: Option<String>,

    /// Use this HTTP proxy for every request (http://[user:pass@]host:port), ignoring
    /// the proxy environment variables.
    #[arg(long = "proxy", value_name = "URL")]
    proxy: Option<String>,

    /// Append one JSON line per link to FILE as each link finishes (url, final_url, path, origin, size, status,
    /// error_kind, error, sha256, seconds, connections, retries).
    #[arg(long = "report", value_name = "FILE")]
    report: Option<PathBuf>,

    /// Download only the links of shard K of N (K from 0 to N-1): those whose URL's stable hash falls
    /// in it, so N machines given the same list download each link exactly once. 'auto' takes K and N
    /// from a Kubernetes Indexed Job (JOB_COMPLETION_INDEX, and --shard-count or PARDL_SHARD_COUNT) or
    /// a Slurm job array (SLURM_ARRAY_TASK_ID and SLURM_ARRAY_TASK_COUNT). See docs/scale.md.
    #[arg(long = "shard", value_name = "K/N|auto", value_parser = parse_shard)]
    shard: Option<ShardChoice>,

    /// The number of shards for --shard auto (a Kubernetes Indexed Job's completions).
    #[arg(long = "shard-count", value_name = "N", requires = "shard",
          value_parser = clap::value_parser!(u64).range(1..))]
    shard_count: Option<u64>,

    /// Skip, without a request, the links that this earlier --report FILE marks ok (repeatable); it
    /// may be this run's own --report.
    #[arg(long = "skip-done", value_name = "FILE.jsonl")]
    skip_done: Vec<PathBuf>,

    /// Print only errors and the final summary.
    #[arg(short = 'q', long, conflicts_with = "verbose")]
    quiet: bool,

    /// More log output on stderr: -v for info, -vv for every request (RUST_LOG also works).
    #[arg(short = 'v', long, action = ArgAction::Count)]
    verbose: u8,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Print a shell completion script to standard output, e.g. `pardl completions bash >
    /// ~/.local/share/bash-completion/completions/pardl`.
    Completions {
        /// The shell to complete for.
        shell: clap_complete::Shell,
    },
    /// Print the man page (roff) to standard output, e.g. `pardl man | man -l -`.
    #[command(hide = true)]
    Man,
}

/// A byte size or rate on the command line. It is shown as people write it (`1M`, not `1048576`), so
/// `--help` prints the defaults taken from [`Config`] the way a user would type them.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Size(u64);

impl fmt::Display for Size {
    /// The largest binary unit the size is a whole number of (`1M`), else plain bytes; read back by
    /// [`parse_size`] as the same number.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let unit = [('T', 40), ('G', 30), ('M', 20), ('K', 10)]
            .into_iter()
            .find(|&(_, shift)| self.0 != 0 && self.0 % (1u64 << shift) == 0);
        match unit {
            Some((suffix, shift)) => write!(f, "{}{suffix}", self.0 >> shift),
            None => write!(f, "{}", self.0),
        }
    }
}

/// A number of seconds on the command line, shown as one (`30`, `0.5`).
#[derive(Debug, Clone, Copy, PartialEq)]
struct Seconds(Duration);

impl fmt::Display for Seconds {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0.as_secs_f64())
    }
}

fn parse_rate(text: &str) -> Result<Size, String> {
    parse_size(text).map(Size)
}

fn parse_min_chunk(text: &str) -> Result<Size, String> {
    match parse_size(text)? {
        0 => Err("the minimum chunk must be at least 1 byte".into()),
        size => Ok(Size(size)),
    }
}

fn parse_checksum(text: &str) -> Result<String, String> {
    match text.split_once('=') {
        Some((algorithm, hex)) if algorithm.eq_ignore_ascii_case("sha256") => {
            pardl::parse_sha256(hex)
        }
        _ => Err("expected sha256=HEX (the only algorithm supported is SHA-256)".into()),
    }
}

/// `--shard`: a fixed shard, or one to read from the scheduler's environment.
#[derive(Debug, Clone, Copy)]
enum ShardChoice {
    Fixed(Shard),
    Auto,
}

fn parse_shard(text: &str) -> Result<ShardChoice, String> {
    if text.trim().eq_ignore_ascii_case("auto") {
        Ok(ShardChoice::Auto)
    } else {
        Shard::parse(text).map(ShardChoice::Fixed)
    }
}

/// The shard of this run, if any: `--shard K/N`, or `--shard auto` read from the environment.
fn shard(cli: &Cli) -> Result<Option<Shard>, String> {
    let shard = match cli.shard {
        None => return Ok(None),
        Some(ShardChoice::Fixed(_)) if cli.shard_count.is_some() => {
            return Err(
                "--shard-count applies to --shard auto; --shard K/N already gives the count".into(),
            )
        }
        Some(ShardChoice::Fixed(shard)) => shard,
        Some(ShardChoice::Auto) => {
            Shard::from_env(cli.shard_count, |name| std::env::var(name).ok())?
        }
    };
    log::info!("shard {shard}: downloading only this shard's links");
    Ok(Some(shard))
}

/// The links the `--skip-done` journals mark ok. Read before the report is opened, so the report of
/// the run being repeated can be both.
fn done_links(paths: &[PathBuf]) -> Result<Option<Arc<DoneLinks>>, String> {
    if paths.is_empty() {
        return Ok(None);
    }
    let mut done = DoneLinks::new();
    for path in paths {
        done.add_journal(path)
            .map_err(|e| format!("--skip-done: {e}"))?;
    }
    if done.unreadable_lines() > 0 {
        log::warn!(
            "--skip-done: skipped {} unreadable journal line(s) (a run killed while writing leaves its last line cut); their links are not taken as done",
            done.unreadable_lines()
        );
    }
    log::info!("--skip-done: {} links done earlier", done.len());
    Ok(Some(Arc::new(done)))
}

fn parse_seconds(text: &str) -> Result<Seconds, String> {
    match text.trim().parse::<f64>() {
        Ok(s) if (0.0..=86_400.0).contains(&s) => Ok(Seconds(Duration::from_secs_f64(s))),
        _ => Err(format!(
            "'{text}' is not a number of seconds between 0 and 86400"
        )),
    }
}

fn main() {
    limit_malloc_arenas();
    std::process::exit(run());
}

/// glibc gives each thread that allocates a malloc arena of its own (up to 8 per core), and each
/// arena keeps freed memory for reuse. With `-j 32` file threads that is about 14 MiB of a
/// million-link run's 61 MiB peak (docs/benchmarks.md), for no gain: the download path reuses one
/// buffer per chunk and does not allocate per byte, so threads hardly contend for malloc. Two arenas
/// keep it small. A `MALLOC_ARENA_MAX` set by the user wins.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn limit_malloc_arenas() {
    if std::env::var_os("MALLOC_ARENA_MAX").is_none() {
        // SAFETY: mallopt only changes an allocator setting; it is called before any other thread
        // exists, and a failure (return 0) only leaves the default in place.
        unsafe {
            libc::mallopt(libc::M_ARENA_MAX, 2);
        }
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn limit_malloc_arenas() {}

fn run() -> i32 {
    let cli = Cli::parse();
    if let Some(command) = &cli.command {
        return generate(command);
    }
    let console = Arc::new(Console::stderr(cli.quiet));
    init_logging(cli.quiet, cli.verbose, Arc::clone(&console));

    let usage_error = |message: String| {
        let mut command = Cli::command();
        command
            .error(clap::error::ErrorKind::Io, message)
            .print()
            .ok();
        2
    };
    let shard = match shard(&cli) {
        Ok(shard) => shard,
        Err(message) => return usage_error(message),
    };
    // Journals are read before the report is opened, so one file can be both.
    let skip_done = match done_links(&cli.skip_done) {
        Ok(done) => done,
        Err(message) => return usage_error(message),
    };
    let config = Config {
        shard,
        skip_done,
        ..config(&cli)
    };
    // Checked before the links file is read, so a bad setting is a usage error, not a run of failures.
    if let Err(message) = config.check() {
        return usage_error(message.replacen("proxy", "--proxy", 1));
    }
    let links = match link_source(&cli) {
        Ok(links) => links,
        Err(message) => return usage_error(message),
    };
    let report = match &cli.report {
        Some(path) => match ReportFile::open(path) {
            Ok(report) => Some(report),
            Err(error) => {
                return usage_error(format!("cannot open report {}: {error}", path.display()))
            }
        },
        None => None,
    };
    let downloader = match Downloader::new(config) {
        Ok(downloader) => downloader,
        Err(error) => return usage_error(error.to_string()),
    };
    install_interrupt_handler(downloader.cancel_handle(), Arc::clone(&console));
    let display = Renderer::start(downloader.progress(), Arc::clone(&console));
    let summary = {
        let console = Arc::clone(&console);
        downloader.run(links, move |outcome| {
            // The report first: it is what a script waits for.
            if let Some(report) = &report {
                report.write(outcome);
            }
            if !console.is_quiet() {
                console.line(&outcome.line());
            }
        })
    };
    // Stopping the display erases the live area, so the summary comes out below the result lines.
    drop(display);
    console.line(summary.text().trim_end());
    summary.exit_code()
}

/// The settings the options give; the defaults are [`Config`]'s own, through clap's.
fn config(cli: &Cli) -> Config {
    Config {
        dir: cli.dir.clone(),
        jobs: cli.jobs,
        connections: cli.connections,
        min_chunk: cli.min_chunk.0,
        overwrite: cli.overwrite,
        max_tries: cli.max_tries,
        retry_wait: cli.retry_wait.0,
        connect_timeout: cli.connect_timeout.0,
        read_timeout: cli.timeout.0,
        stall_timeout: cli.stall_timeout.0,
        lowest_speed: cli.lowest_speed.0,
        max_per_host: cli.max_per_host,
        limit_rate: cli.limit_rate.0,
        headers: cli.headers.clone(),
        credentials: cli.user.as_ref().map(|user| Credentials {
            user: user.clone(),
            password: cli.password.clone().unwrap_or_default(),
        }),
        proxy: cli.proxy.clone(),
        user_agent: cli
            .user_agent
            .clone()
            .unwrap_or_else(|| Config::DEFAULT_USER_AGENT.into()),
        ..Config::default()
    }
}

/// Ctrl-C (or SIGTERM): the first stops cleanly (transfers finish their current write, resume state is
/// saved, exit status 130); a second exits at once.
fn install_interrupt_handler(cancel: CancelHandle, console: Arc<Console>) {
    let result = ctrlc::set_handler(move || {
        if cancel.cancel() {
            console.clear();
            eprintln!("pardl: interrupted again; exiting now");
            std::process::exit(130);
        }
        console.line("pardl: interrupting: saving progress (press Ctrl-C again to exit at once)");
    });
    if let Err(error) = result {
        log::warn!("cannot install the Ctrl-C handler: {error}");
    }
}

/// `pardl completions SHELL` and `pardl man`: generated from the parser's own definitions, so they
/// never disagree with it.
fn generate(command: &Command) -> i32 {
    let mut definition = Cli::command();
    let mut out = io::stdout().lock();
    let written = match command {
        Command::Completions { shell } => {
            clap_complete::generate(*shell, &mut definition, "pardl", &mut out);
            Ok(())
        }
        Command::Man => clap_mangen::Man::new(definition).render(&mut out),
    };
    match written.and_then(|()| out.flush()) {
        Ok(()) => 0,
        Err(error) if error.kind() == io::ErrorKind::BrokenPipe => 0,
        Err(error) => {
            eprintln!("pardl: cannot write to standard output: {error}");
            1
        }
    }
}

/// The links to download: command-line URLs first, then the links file (`-i`, or `./links.txt` when
/// neither is given). Streams; nothing is read ahead.
fn link_source(cli: &Cli) -> Result<Box<dyn Iterator<Item = Result<Link, LinkError>>>, String> {
    if cli.checksum.is_some() && (cli.urls.len() != 1 || cli.input_file.is_some()) {
        return Err("--checksum applies to a single URL given on the command line; in a links file write sha256=HEX after the URL".into());
    }
    if let Some(output) = &cli.output {
        if cli.urls.len() != 1 || cli.input_file.is_some() {
            return Err("-o applies to a single URL given on the command line; in a links file write out=NAME after the URL".into());
        }
        if output.contains(['/', '\\']) {
            return Err(format!(
                "-o takes a file name, not a path ('{output}'): use -d DIR -o NAME"
            ));
        }
    }
    if !cli.mirror.is_empty() && (cli.urls.len() != 1 || cli.input_file.is_some()) {
        return Err("--mirror applies to a single URL given on the command line; in a links file write the mirrors after the URL, separated by tabs or spaces".into());
    }
    let arguments: Vec<Result<Link, LinkError>> = cli
        .urls
        .iter()
        .enumerate()
        .map(|(i, url)| {
            let with_mirrors = std::iter::once(url.as_str())
                .chain(cli.mirror.iter().map(String::as_str))
                .collect::<Vec<_>>()
                .join(" ");
            Link::parse(&with_mirrors, Origin::Argument(i + 1)).map(|link| Link {
                sha256: link.sha256.or_else(|| cli.checksum.clone()),
                out: link.out.or_else(|| cli.output.clone()),
                ..link
            })
        })
        .collect();
    let file: Option<Box<dyn BufRead>> = match &cli.input_file {
        Some(path) if path.as_os_str() == "-" => Some(Box::new(BufReader::new(io::stdin()))),
        Some(path) => {
            Some(Box::new(BufReader::new(File::open(path).map_err(|e| {
                format!("cannot read links file {}: {e}", path.display())
            })?)))
        }
        None if cli.urls.is_empty() => {
            let default = PathBuf::from("links.txt");
            match File::open(&default) {
                Ok(file) => Some(Box::new(BufReader::new(file))),
                Err(e) if e.kind() == io::ErrorKind::NotFound => {
                    return Err(
                        "no links: give URLs, -i FILE, or create links.txt in this directory"
                            .into(),
                    )
                }
                Err(e) => return Err(format!("cannot read links file links.txt: {e}")),
            }
        }
        None => None,
    };
    let from_file = file.into_iter().flat_map(LinkReader::new);
    Ok(Box::new(arguments.into_iter().chain(from_file)))
}

/// Warnings by default, errors only with -q; -v/-vv raise the level; RUST_LOG refines it per module.
/// Records go through the console, so they appear above the live display instead of inside it.
fn init_logging(quiet: bool, verbose: u8, console: Arc<Console>) {
    let level = match (quiet, verbose) {
        (true, _) => log::LevelFilter::Error,
        (false, 0) => log::LevelFilter::Warn,
        (false, 1) => log::LevelFilter::Info,
        (false, 2) => log::LevelFilter::Debug,
        (false, _) => log::LevelFilter::Trace,
    };
    let mut builder = env_logger::Builder::new();
    // ureq's trace level dumps raw request bytes, `Authorization` included; its debug level redacts
    // them. -vvv stops at debug for the HTTP library (an explicit RUST_LOG can still ask for more).
    let http_level = level.min(log::LevelFilter::Debug);
    builder
        .filter_level(level)
        .filter_module("ureq", http_level)
        .filter_module("ureq_proto", http_level)
        .format_timestamp_millis()
        .target(env_logger::Target::Pipe(Box::new(LogWriter::new(console))));
    if let Ok(spec) = std::env::var("RUST_LOG") {
        builder.parse_filters(&spec);
    }
    builder.init();
}

#[cfg(test)]
mod tests {
    use super::*;

    /// With no option, the command runs with exactly the library's defaults: clap's defaults come from
    /// [`Config`]'s constants and survive the trip through their text in `--help`.
    #[test]
    fn no_option_gives_the_library_defaults() {
        let cli = Cli::try_parse_from(["pardl"]).unwrap();
        assert_eq!(
            format!("{:?}", config(&cli)),
            format!("{:?}", Config::default())
        );
    }

    #[test]
    fn sizes_and_seconds_are_shown_as_they_are_typed_and_read_back() {
        for (bytes, text) in [
            (0, "0"),
            (1000, "1000"),
            (1 << 20, "1M"),
            (1536, "1536"),
            (3072, "3K"),
            (3 << 30, "3G"),
            (1 << 40, "1T"),
        ] {
            assert_eq!(Size(bytes).to_string(), text);
            assert_eq!(parse_rate(text), Ok(Size(bytes)));
        }
        for (seconds, text) in [(1.0, "1"), (0.5, "0.5"), (60.0, "60")] {
            let shown = Seconds(Duration::from_secs_f64(seconds));
            assert_eq!(shown.to_string(), text);
            assert_eq!(parse_seconds(text), Ok(shown));
        }
    }
}
