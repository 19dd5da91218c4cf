//! pardl without the internet: serve a few files from a local test server whose connections are
//! speed-capped, download them twice (first with one connection per file, then with several) and
//! compare the wall times. Every downloaded byte is checked against what the server sent.
//!
//! ```text
//! cargo run --release --example demo
//! cargo run --release --example demo -- -x 8 --size 16 --rate 512
//! ```
//!
//! Why a speed cap: on loopback one connection already moves gigabytes per second, so splitting a
//! file would gain nothing. The cap is per connection, like a real server that limits each client
//! connection (or a long, lossy path where one TCP stream cannot fill the line). That is the case a
//! segmented downloader is for: N connections get up to N times the bandwidth of one.

use std::error::Error;
use std::fs;
use std::io::BufReader;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use pardl::ui::{Console, Renderer};
use pardl::units::human_bytes;
use pardl::{Config, Downloader, LinkReader, Summary};
use pardl_testserver::{pattern_bytes, Behaviour, Body, TestServer};

/// A file the server offers: where, under which name it should land, how big, and which pattern.
struct DemoFile {
    path: &'static str,
    /// The `out=` option for its line in the links file, if any.
    out: Option<&'static str>,
    /// The name pardl is expected to save it under.
    saved_as: &'static str,
    /// Size in quarters of `--size`: 4 is the full size.
    quarters: u64,
    seed: u64,
}

/// Three files of different sizes; the last one shows `out=` (the URL has no useful name).
const FILES: [DemoFile; 3] = [
    DemoFile {
        path: "/images/disk.img",
        out: None,
        saved_as: "disk.img",
        quarters: 4,
        seed: 1,
    },
    DemoFile {
        path: "/data/measurements.csv",
        out: None,
        saved_as: "measurements.csv",
        quarters: 3,
        seed: 2,
    },
    DemoFile {
        path: "/download",
        out: Some("archive.tar"),
        saved_as: "archive.tar",
        quarters: 2,
        seed: 3,
    },
];

/// The demo's knobs, from the command line.
struct Options {
    /// Connections per file in the second run.
    connections: usize,
    /// Size of the largest file, in MiB.
    size_mib: u64,
    /// Speed cap of each connection, in KiB/s.
    rate_kib: u64,
}

fn main() -> Result<(), Box<dyn Error>> {
    let options = parse_args()?;
    let rate = options.rate_kib * 1024;

    // 1. A local HTTP server. Body::Pattern generates the bytes on the fly, so big files cost no
    //    memory, and the same pattern can be recomputed below to check the downloads.
    let server = TestServer::start();
    let mut links = String::from("# written by the pardl demo\n");
    for file in &FILES {
        let body = Body::Pattern {
            len: file_len(file, &options),
            seed: file.seed,
        };
        server.add(file.path, body, Behaviour::new().rate_limit(rate));
        links.push_str(&server.url(file.path));
        if let Some(out) = file.out {
            links.push_str(&format!(" out={out}"));
        }
        links.push('\n');
    }

    // 2. A links file in a temporary directory (deleted when `work` is dropped).
    let work = tempfile::tempdir()?;
    let links_path = work.path().join("links.txt");
    fs::write(&links_path, &links)?;
    println!("Serving {} files on {}", FILES.len(), server.addr());
    println!(
        "each connection capped at {}/s; links file:\n",
        human_bytes(rate)
    );
    for line in links.lines() {
        println!("    {line}");
    }

    // 3. The same links, twice: one connection per file, then several. Each run gets a fresh
    //    directory and a fresh Downloader (its own connections and counters).
    let mut times = Vec::new();
    for (run, connections) in [1, options.connections].into_iter().enumerate() {
        server.reset_stats();
        let dir = work.path().join(format!("run{}", run + 1));
        println!(
            "\n== run {}: -x {connections}, {} ==",
            run + 1,
            match connections {
                1 => "one connection per file".to_string(),
                n => format!("up to {n} connections per file"),
            }
        );
        let (summary, elapsed) = download_all(&links_path, &dir, connections)?;
        if summary.exit_code() != 0 {
            return Err(
                format!("download with -x {connections} failed:\n{}", summary.text()).into(),
            );
        }
        verify(&dir, &options)?;
        let stats = server.stats();
        let busiest = FILES
            .iter()
            .map(|file| stats.path(file.path).in_flight_peak)
            .max()
            .unwrap_or(0);
        println!(
            "{:.2} s; server saw {} requests over {} connections, at most {busiest} at once for one file; all bytes verified",
            elapsed.as_secs_f64(),
            stats.requests,
            stats.connections,
        );
        times.push((connections, elapsed));
    }

    let (one, slow) = times[0];
    let (many, fast) = times[1];
    println!(
        "\n-x {one}: {:.2} s   -x {many}: {:.2} s   speed-up {:.1}x",
        slow.as_secs_f64(),
        fast.as_secs_f64(),
        slow.as_secs_f64() / fast.as_secs_f64()
    );
    Ok(())
}

/// Downloads every link of `links_path` into `dir` with `connections` per file, the way the `pardl`
/// command does: result lines on stderr and, on a terminal, the live display below them.
fn download_all(
    links_path: &Path,
    dir: &Path,
    connections: usize,
) -> Result<(Summary, Duration), Box<dyn Error>> {
    let config = Config {
        dir: dir.to_path_buf(),
        connections,
        // The test server is on 127.0.0.1: an HTTP_PROXY in the environment must not get in the way.
        proxy_from_env: false,
        ..Config::default()
    };
    let downloader = Downloader::new(config)?;
    let links = LinkReader::new(BufReader::new(fs::File::open(links_path)?));

    let console = Arc::new(Console::stderr(false));
    let live = Renderer::start(downloader.progress(), Arc::clone(&console));
    let started = Instant::now();
    let summary = {
        let console = Arc::clone(&console);
        downloader.run(links, move |outcome| console.line(&outcome.line()))
    };
    let elapsed = started.elapsed();
    drop(live); // stops the renderer thread and erases the live line
    console.line(summary.text().trim_end());
    Ok((summary, elapsed))
}

/// Checks that every file in `dir` holds exactly the server's bytes and that no `.part` file is left.
fn verify(dir: &Path, options: &Options) -> Result<(), Box<dyn Error>> {
    for file in &FILES {
        let path = dir.join(file.saved_as);
        let got = fs::read(&path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        let want = pattern_bytes(file.seed, 0, file_len(file, options) as usize);
        if got.len() != want.len() {
            return Err(format!(
                "{}: {} bytes, expected {}",
                path.display(),
                got.len(),
                want.len()
            )
            .into());
        }
        if let Some(at) = got.iter().zip(&want).position(|(a, b)| a != b) {
            return Err(format!("{}: wrong byte at offset {at}", path.display()).into());
        }
    }
    for entry in fs::read_dir(dir)? {
        let name = entry?.file_name();
        if name.to_string_lossy().ends_with(".part") {
            return Err(format!("left behind: {}", dir.join(name).display()).into());
        }
    }
    Ok(())
}

fn file_len(file: &DemoFile, options: &Options) -> u64 {
    options.size_mib * 1024 * 1024 * file.quarters / 4
}

const USAGE: &str = "usage: demo [-x CONNECTIONS] [--size MIB] [--rate KIB_PER_SEC]

  -x N          connections per file in the second run (default 4; the first run uses 1)
  --size MIB    size of the largest file; the others are 3/4 and 1/2 of it (default 12)
  --rate KIB    speed cap of each connection in KiB/s (default 1024)";

fn parse_args() -> Result<Options, Box<dyn Error>> {
    let mut options = Options {
        connections: 4,
        size_mib: 12,
        rate_kib: 1024,
    };
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        if flag == "-h" || flag == "--help" {
            println!("{USAGE}");
            std::process::exit(0);
        }
        let value: u64 = args
            .next()
            .and_then(|v| v.parse().ok())
            .filter(|&v| v > 0)
            .ok_or_else(|| format!("{flag} needs a positive number\n\n{USAGE}"))?;
        match flag.as_str() {
            "-x" | "--connections" => options.connections = value.min(64) as usize,
            "--size" => options.size_mib = value,
            "--rate" => options.rate_kib = value,
            _ => return Err(format!("unknown option {flag}\n\n{USAGE}").into()),
        }
    }
    Ok(options)
}
