//! The `pardl` command: options into a [`Config`] and links, run by the [`Downloader`] with the live
//! display, then output and exit status; `completions` and `man` come from the same clap definitions.

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use clap::builder::TypedValueParser;
use clap::{ArgAction, CommandFactory, Parser, Subcommand};
use pardl::ui::{Console, LogWriter, Renderer};
use pardl::units::parse_size;
use pardl::{
    CancelHandle, Checksum, Config, Credentials, DoneLinks, Downloader, Header, IfExists, Names,
    ReportFile, Shard, SyncMode,
};

// The command's own modules, apart from the library (tests/layout.rs reads them as the binary's).
mod cli;

use cli::config_file;
use cli::generate::generate;
use cli::link_source::link_source;
use cli::user_files::UserFiles;

/// Download files in parallel, each over several connections.
///
/// Reads URLs (one per line) from a links file and downloads them: several files at once (-j), each
/// split into HTTP Range chunks fetched over several connections (-x). A file appears under its final
/// name only when it is complete; an existing file is skipped, so rerunning fetches only what is missing.
///
/// Links file: one URL per line; blank lines and lines starting with '#' are ignored; options may follow
/// the URL, separated by spaces: out=NAME sets the file name, sha256=HEX (or sha512=, sha1=, md5=) the
/// checksum it must have. MD5 and SHA-1 catch a corrupted download, not a forged one.
///
/// A file is named by out= (or -o), else by the server's Content-Disposition, else by the URL
/// after redirects. On a terminal, a live display shows each file's progress and the total; elsewhere
/// one line per finished file and a total line every 10 seconds.
///
/// HTTPS: server certificates are checked against the system's trust store (SSL_CERT_FILE and
/// SSL_CERT_DIR are honoured); --ca-certificate adds a private CA. An untrusted certificate or an
/// unknown host fails at once, without retries.
///
/// Proxies: HTTPS_PROXY, HTTP_PROXY and ALL_PROXY are used (hosts in NO_PROXY go direct) unless
/// --proxy is given. Credentials may be written in a URL (https://user:pass@host/path), given with
/// --user/--password, or read per machine from ~/.netrc; passwords are masked in every message, the
/// display and the report.
///
/// Config file: long options, one 'option = value' per line ('option' alone for a flag; '#' starts a
/// comment line), read from $XDG_CONFIG_HOME/pardl/config or ~/.config/pardl/config before the
/// command line, whose options win.
///
/// Exit status: 0 all links downloaded or skipped; 1 some link failed; 2 usage error or unreadable
/// links file; 130 interrupted (Ctrl-C; the summary says what the same command will resume).
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

    /// How to name the files: 'url' (out=, else the server's name, else the URL's; numbered when two
    /// links want one name) or 'index' (the link's position in the list, from 0, with the URL's
    /// extension: 000000042.jpg), which keeps nothing per link: flat memory at any list length.
    #[arg(long = "names", value_name = "url|index", default_value_t = Config::DEFAULT_NAMES,
          value_parser = Names::parse)]
    names: Names,

    /// Replace files that already exist instead of skipping their links.
    #[arg(long, conflicts_with = "check_existing")]
    overwrite: bool,

    /// Keep an existing file only if its size is the server's (and its SHA-256 the link's, when
    /// given); otherwise download it again and replace it.
    #[arg(long = "check-existing")]
    check_existing: bool,

    /// Tries per request before its file fails (1 = no retries). A try that brought --min-chunk bytes
    /// (at most 1 MiB) starts the count again, up to ten times N tries in all.
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

    /// Verify the download of a single URL: sha256=HEX, sha512=HEX, sha1=HEX or md5=HEX (in a links
    /// file, write it after the URL).
    #[arg(long = "checksum", value_name = "ALGO=HEX", value_parser = Checksum::parse)]
    checksum: Option<Checksum>,

    /// Check each file against the digest this checksum file lists for its final name
    /// (SHA256SUMS, SHA512SUMS, MD5SUMS: 'HEX  NAME' or 'SHA256 (NAME) = HEX'); repeatable. A link's
    /// own sha256= (or --checksum) comes first.
    #[arg(long = "checksum-file", value_name = "FILE")]
    checksum_files: Vec<PathBuf>,

    /// Set each file's modification time from the server's Last-Modified (also after a resume).
    #[arg(short = 'R', long = "remote-time")]
    remote_time: bool,

    /// When a finished file's data is flushed to the disk before its rename: batch (files that
    /// finish together share one flush), always (each file on its own), never (faster, but a power
    /// cut may leave a file under its final name incomplete).
    #[arg(long = "sync", value_name = "MODE", default_value_t = Config::DEFAULT_SYNC,
          value_parser = SyncMode::parse)]
    sync: SyncMode,

    /// Limit the download speed of all connections together, e.g. 500K, 2M (bytes per second).
    #[arg(long = "limit-rate", value_name = "RATE",
          default_value_t = Size(Config::DEFAULT_LIMIT_RATE), value_parser = parse_rate,
          hide_default_value = true)]
    limit_rate: Size,

    /// Send this header with every request, e.g. -H 'Cookie: a=b' (repeatable); Authorization and
    /// Cookie only to the links' origins.
    #[arg(short = 'H', long = "header", value_name = "'NAME: VALUE'", value_parser = Header::parse)]
    headers: Vec<Header>,

    /// Send this User-Agent.
    #[arg(short = 'U', long = "user-agent", value_name = "AGENT")]
    user_agent: Option<String>,

    /// User name for HTTP Basic authentication on the links' origins: the same scheme, host and port
    /// (never sent where only a redirect leads).
    #[arg(long = "user", value_name = "USER")]
    user: Option<String>,

    /// Password for --user.
    #[arg(long = "password", value_name = "PASSWORD", requires = "user")]
    password: Option<String>,

    /// Read credentials per machine from FILE instead of ~/.netrc (each sent only to its machine).
    #[arg(long = "netrc-file", value_name = "FILE", conflicts_with = "no_netrc")]
    netrc_file: Option<PathBuf>,

    /// Do not read ~/.netrc.
    #[arg(long = "no-netrc")]
    no_netrc: bool,

    /// Send the cookies of this Netscape-format cookies file (as curl -c and wget --save-cookies
    /// write it) to the URLs whose domain and path they match.
    #[arg(long = "load-cookies", value_name = "FILE")]
    load_cookies: Option<PathBuf>,

    /// Use this HTTP proxy for every request (http://[user:pass@]host:port), ignoring
    /// the proxy environment variables.
    #[arg(long = "proxy", value_name = "URL")]
    proxy: Option<String>,

    /// Trust the CA certificates in FILE (PEM) for HTTPS, in addition to the system's store.
    #[arg(long = "ca-certificate", value_name = "FILE")]
    ca_certificate: Option<PathBuf>,

    /// Do not check server certificates (warns once per host): anyone on the way could pose as
    /// the server.
    #[arg(long = "insecure", visible_alias = "no-check-certificate")]
    insecure: bool,

    /// Client certificate (PEM, with its key unless --private-key is given) for servers that ask
    /// for one.
    #[arg(long = "certificate", value_name = "FILE")]
    certificate: Option<PathBuf>,

    /// Private key (PEM) of the --certificate.
    #[arg(long = "private-key", value_name = "FILE", requires = "certificate")]
    private_key: Option<PathBuf>,

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

    /// Read options from FILE instead of $XDG_CONFIG_HOME/pardl/config (or ~/.config/pardl/config).
    #[arg(long = "config", value_name = "FILE", conflicts_with = "no_config")]
    config: Option<PathBuf>,

    /// Read no config file.
    #[arg(long = "no-config")]
    no_config: bool,
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
            .find(|&(_, shift)| self.0 != 0 && self.0.is_multiple_of(1u64 << shift));
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

/// The links the `--skip-done` journals mark ok (of this run's shard only). Read before the report
/// is opened, so the report of the run being repeated can be both.
fn done_links(paths: &[PathBuf], shard: Option<Shard>) -> Result<Option<Arc<DoneLinks>>, String> {
    if paths.is_empty() {
        return Ok(None);
    }
    let mut done = shard.map_or_else(DoneLinks::new, DoneLinks::in_shard);
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
    cli::process::limit_malloc_arenas();
    cli::process::raise_open_files_limit();
    cli::process::grow_descriptor_table();
    std::process::exit(run());
}

fn run() -> i32 {
    // The config file's options go in front of the command line's, which win (see cli/config_file.rs).
    let args = config_file::command_line(Cli::command(), std::env::args_os().collect())
        .unwrap_or_else(|error| error.exit());
    let cli = Cli::parse_from(args);
    if let Some(command) = &cli.command {
        return generate(Cli::command(), command);
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
    let skip_done = match done_links(&cli.skip_done, shard) {
        Ok(done) => done,
        Err(message) => return usage_error(message),
    };
    let files = match UserFiles::read(&cli) {
        Ok(files) => files,
        Err(message) => return usage_error(message),
    };
    let config = Config {
        shard,
        skip_done,
        checksums: files.checksums,
        netrc: files.netrc,
        cookies: files.cookies,
        ..config(&cli)
    };
    // Checked before the links file is read, so a bad setting is a usage error, not a run of failures.
    if let Err(message) = config.check() {
        let is_proxy =
            message.starts_with("invalid proxy") || message.starts_with("unsupported proxy");
        return usage_error(if is_proxy {
            message.replacen("proxy", "--proxy", 1)
        } else {
            message
        });
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
        names: cli.names,
        if_exists: if cli.overwrite {
            IfExists::Overwrite
        } else if cli.check_existing {
            IfExists::Check
        } else {
            IfExists::Skip
        },
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
        ca_certificate: cli.ca_certificate.clone(),
        insecure: cli.insecure,
        client_certificate: cli.certificate.clone(),
        client_key: cli.private_key.clone(),
        remote_time: cli.remote_time,
        sync: cli.sync,
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
        console.line("pardl: interrupting: stopping, and saving what can be resumed (press Ctrl-C again to exit at once)");
    });
    if let Err(error) = result {
        log::warn!("cannot install the Ctrl-C handler: {error}");
    }
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
