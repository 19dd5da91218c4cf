//! pardl without the internet: serve a few files from a local test server whose connections are
//! speed-capped, download them twice (first with one connection per file, then with several) and
//! compare the wall times; then download more files than there are file workers, to watch the outer
//! pool's queue fill and the reader wait. Every downloaded byte is checked against what the server
//! sent.
//!
//! ```text
//! cargo run --release --example demo
//! cargo run --release --example demo -- -x 8 -j 3 --size 16 --rate 512
//! ```
//!
//! Why a speed cap: on loopback one connection already moves gigabytes per second, so splitting a
//! file would gain nothing. The cap is per connection, like a real server that limits each client
//! connection (or a long, lossy path where one TCP stream cannot fill the line). That is the case a
//! segmented downloader is for: N connections get up to N times the bandwidth of one.
//!
//! After each run it prints what the threads did: the most `pardl-file-*` and `pardl-chunk-*`
//! threads alive at once (read from /proc/self/task on Linux), the most links read but not finished,
//! and where the server's request count comes from (one request per chunk of each file's plan).

use std::error::Error;
use std::fs;
use std::io::BufReader;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use pardl::ui::{Console, Renderer};
use pardl::units::human_bytes;
use pardl::{ChunkPlan, Config, Downloader, LinkReader, Progress, Summary};
use pardl_testserver::{pattern_bytes, Behaviour, Body, TestServer};

/// A file the server offers: where, under which name it should land, how big, and which pattern.
struct DemoFile {
    path: String,
    /// The `out=` option for its line in the links file, if any.
    out: Option<&'static str>,
    /// The name pardl is expected to save it under.
    saved_as: String,
    len: u64,
    seed: u64,
}

/// The demo's knobs, from the command line.
struct Options {
    /// Connections per file in the second and third runs.
    connections: usize,
    /// Files at once (the outer pool's workers) in every run.
    jobs: usize,
    /// Size of the largest file, in MiB.
    size_mib: u64,
    /// Speed cap of each connection, in KiB/s.
    rate_kib: u64,
}

/// Three files of different sizes; the last one shows `out=` (the URL has no useful name).
fn three_files(options: &Options) -> Vec<DemoFile> {
    let mib = options.size_mib * 1024 * 1024;
    let file = |path: &str, out, saved_as: &str, len, seed| DemoFile {
        path: path.to_string(),
        out,
        saved_as: saved_as.to_string(),
        len,
        seed,
    };
    vec![
        file("/images/disk.img", None, "disk.img", mib, 1),
        file(
            "/data/measurements.csv",
            None,
            "measurements.csv",
            mib * 3 / 4,
            2,
        ),
        file("/download", Some("archive.tar"), "archive.tar", mib / 2, 3),
    ]
}

/// How many links the run reads ahead of its `jobs` workers: the slots of the outer pool's queue.
fn queue_slots(jobs: usize) -> usize {
    Config {
        jobs,
        ..Config::default()
    }
    .read_ahead()
}

/// More files than the outer pool has workers and queue slots, by three: files of a quarter of the
/// largest size each.
fn many_files(options: &Options) -> Vec<DemoFile> {
    (1..=(options.jobs + queue_slots(options.jobs)) as u64 + 3)
        .map(|i| DemoFile {
            path: format!("/many/part-{i:02}.bin"),
            out: None,
            saved_as: format!("part-{i:02}.bin"),
            len: options.size_mib * 1024 * 1024 / 4,
            seed: 100 + i,
        })
        .collect()
}

/// One run of the demo: its files, its settings, and whether to print a line per file.
struct Run {
    title: String,
    files: Vec<DemoFile>,
    connections: usize,
    result_lines: bool,
}

fn main() -> Result<(), Box<dyn Error>> {
    let options = parse_args()?;
    let rate = options.rate_kib * 1024;
    let work = tempfile::tempdir()?; // deleted when dropped
    let server = TestServer::start();
    let (j, x) = (options.jobs, options.connections);
    let runs = [
        Run {
            title: format!("run 1: -x 1 -j {j}, one connection per file"),
            files: three_files(&options),
            connections: 1,
            result_lines: true,
        },
        Run {
            title: format!("run 2: -x {x} -j {j}, up to {x} connections per file"),
            files: three_files(&options),
            connections: x,
            result_lines: true,
        },
        Run {
            title: format!(
                "run 3: -x {x} -j {j}, {} files: more than {j} workers and {} queue slots",
                many_files(&options).len(),
                queue_slots(j)
            ),
            files: many_files(&options),
            connections: x,
            result_lines: false,
        },
    ];

    // 1. A local HTTP server. Body::Pattern generates the bytes on the fly, so big files cost no
    //    memory, and the same pattern can be recomputed below to check the downloads.
    for file in runs[0].files.iter().chain(&runs[2].files) {
        let body = Body::Pattern {
            len: file.len,
            seed: file.seed,
        };
        server.add(&file.path, body, Behaviour::new().rate_limit(rate));
    }
    println!(
        "Serving {} files on {}, each connection capped at {}/s",
        runs[0].files.len() + runs[2].files.len(),
        server.addr(),
        human_bytes(rate)
    );

    // 2. Each run: a links file in a temporary directory, a fresh directory and a fresh Downloader
    //    (its own connections and counters).
    let mut times = Vec::new();
    for (number, run) in runs.iter().enumerate() {
        server.reset_stats();
        let mut links = String::from("# written by the pardl demo\n");
        for file in &run.files {
            links.push_str(&server.url(&file.path));
            if let Some(out) = file.out {
                links.push_str(&format!(" out={out}"));
            }
            links.push('\n');
        }
        let links_path = work.path().join(format!("links{}.txt", number + 1));
        fs::write(&links_path, &links)?;
        if number == 0 {
            println!("links file:\n");
            for line in links.lines() {
                println!("    {line}");
            }
        }
        println!("\n== {} ==", run.title);
        let dir = work.path().join(format!("run{}", number + 1));
        let seen = download_all(&links_path, &dir, run, options.jobs)?;
        if seen.summary.exit_code() != 0 {
            return Err(format!("{} failed:\n{}", run.title, seen.summary.text()).into());
        }
        verify(&dir, &run.files)?;
        let stats = server.stats();
        let busiest = run
            .files
            .iter()
            .map(|file| stats.path(&file.path).in_flight_peak)
            .max()
            .unwrap_or(0);
        println!(
            "{:.2} s; server saw {} requests over {} connections, at most {busiest} at once for one file; all bytes verified",
            seen.elapsed.as_secs_f64(),
            stats.requests,
            stats.connections,
        );
        println!("{}", explain_requests(&run.files, run.connections));
        println!("{}", seen.threads_line());
        if number == 2 {
            println!("{}", seen.reader_line(options.jobs));
        } else {
            times.push((run.connections, seen.elapsed));
        }
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

/// Where the server's request count comes from: one request per chunk of each file's plan (chunk 0
/// is read over the first request's answer, the probe, which carries the whole file), with the
/// defaults' 1 MiB smallest chunk.
fn explain_requests(files: &[DemoFile], connections: usize) -> String {
    let min_chunk = Config::default().min_chunk;
    let chunks: Vec<usize> = files
        .iter()
        .map(|file| {
            ChunkPlan::new(file.len, file.len, connections, min_chunk)
                .chunks()
                .len()
        })
        .collect();
    let sum: usize = chunks.iter().sum();
    let terms: Vec<String> = chunks.iter().map(usize::to_string).collect();
    let mut terms = terms.join(" + ");
    if chunks.len() > 4 && chunks.iter().all(|&c| c == chunks[0]) {
        terms = format!("{} x {}", chunks.len(), chunks[0]);
    }
    format!("requests: {terms} = {sum}, one per chunk of each file's plan (chunk 0: the probe)")
}

/// What one run did, as seen from outside the library.
struct Seen {
    summary: Summary,
    elapsed: Duration,
    /// The most `pardl-file-*` and `pardl-chunk-*` threads alive at once, if they can be counted.
    peak_threads: Option<(usize, usize)>,
    /// The most links read from the links file but not finished.
    peak_unfinished: u64,
    /// When the run took each link from the links file, since the start.
    link_taken: Vec<Duration>,
    /// When the first link finished.
    first_finished: Option<Duration>,
}

impl Seen {
    fn threads_line(&self) -> String {
        let threads = match self.peak_threads {
            Some((files, chunks)) => {
                format!("threads: at most {files} pardl-file, {chunks} pardl-chunk")
            }
            None => "threads: not countable on this system".to_string(),
        };
        format!(
            "{threads}; links read but not finished: at most {}",
            self.peak_unfinished
        )
    }

    /// When the reader took each link: the first `jobs` + queue slots + 1 at once, then one per
    /// finished file.
    fn reader_line(&self, jobs: usize) -> String {
        // "At once": long before any file could finish (half the time the first one took).
        let first = self.first_finished.unwrap_or_default();
        let at_once = self
            .link_taken
            .iter()
            .take_while(|&&t| t < first / 2)
            .count();
        let Some(&next) = self.link_taken.get(at_once) else {
            return format!("reader: all {at_once} links taken at once");
        };
        format!(
            "reader: links 1-{at_once} taken at once ({jobs} running, {} queued, 1 held in \
             execute); link {} at {:.2} s, after the first file finished ({:.2} s)",
            queue_slots(jobs),
            at_once + 1,
            next.as_secs_f64(),
            first.as_secs_f64()
        )
    }
}

/// Downloads every link of `links_path` into `dir`, the way the `pardl` command does: result lines
/// on stderr and, on a terminal, the live display below them; meanwhile a sampler thread watches
/// the threads and the counters.
fn download_all(
    links_path: &Path,
    dir: &Path,
    run: &Run,
    jobs: usize,
) -> Result<Seen, Box<dyn Error>> {
    let config = Config {
        dir: dir.to_path_buf(),
        connections: run.connections,
        jobs,
        // The test server is on 127.0.0.1: an HTTP_PROXY in the environment must not get in the way.
        proxy_from_env: false,
        ..Config::default()
    };
    let downloader = Downloader::new(config)?;
    let started = Instant::now();
    let link_taken = Arc::new(Mutex::new(Vec::new()));
    let links = {
        let link_taken = Arc::clone(&link_taken);
        LinkReader::new(BufReader::new(fs::File::open(links_path)?)).inspect(move |_| {
            if let Ok(mut taken) = link_taken.lock() {
                taken.push(started.elapsed());
            }
        })
    };
    let stop = Arc::new(AtomicBool::new(false));
    let sampler = {
        let (progress, stop) = (downloader.progress(), Arc::clone(&stop));
        thread::spawn(move || sample(&progress, &stop))
    };

    let console = Arc::new(Console::stderr(false));
    let live = Renderer::start(downloader.progress(), Arc::clone(&console));
    let mut first_finished = None;
    let summary = {
        let console = Arc::clone(&console);
        let show = run.result_lines;
        downloader.run(links, |outcome| {
            first_finished.get_or_insert(started.elapsed());
            if show {
                console.line(&outcome.line());
            }
        })
    };
    let elapsed = started.elapsed();
    drop(live); // stops the renderer thread and erases the live line
    console.line(summary.text().trim_end());
    stop.store(true, Ordering::Relaxed);
    let (peak_threads, peak_unfinished) = sampler.join().map_err(|_| "the sampler panicked")?;
    let link_taken = link_taken.lock().map(|t| t.clone()).unwrap_or_default();
    Ok(Seen {
        summary,
        elapsed,
        peak_threads,
        peak_unfinished,
        link_taken,
        first_finished,
    })
}

/// Every 5 ms until `stop`: the `pardl-file-*` and `pardl-chunk-*` threads alive, and the links read
/// but not finished. Returns the peaks.
fn sample(progress: &Progress, stop: &AtomicBool) -> (Option<(usize, usize)>, u64) {
    let mut peak = Some((0, 0));
    let mut before = Vec::new();
    let mut unfinished = 0;
    while !stop.load(Ordering::Relaxed) {
        let now = pardl_threads();
        peak = peak.zip(now.as_ref()).map(|((files, chunks), now)| {
            // Only threads seen in two samples in a row count: a short-lived helper thread (the
            // HTTP library resolving a name) inherits the name of the worker that started it.
            let lasting = |prefix: &str| {
                now.iter()
                    .filter(|thread| thread.1.starts_with(prefix) && before.contains(*thread))
                    .count()
            };
            (
                files.max(lasting("pardl-file-")),
                chunks.max(lasting("pardl-chunk-")),
            )
        });
        before = now.unwrap_or_default();
        let snap = progress.snapshot();
        unfinished = unfinished
            .max(snap.links_seen - (snap.ok + snap.skipped + snap.failed + snap.interrupted));
        thread::sleep(Duration::from_millis(5));
    }
    (peak, unfinished)
}

/// The threads of this process with their names, from /proc (Linux only): `(id, name)`.
fn pardl_threads() -> Option<Vec<(String, String)>> {
    let mut threads = Vec::new();
    for task in fs::read_dir("/proc/self/task").ok()? {
        let task = task.ok()?;
        let name = fs::read_to_string(task.path().join("comm")).unwrap_or_default();
        threads.push((task.file_name().to_string_lossy().into_owned(), name));
    }
    Some(threads)
}

/// Checks that every file in `dir` holds exactly the server's bytes and that no `.part` file is left.
fn verify(dir: &Path, files: &[DemoFile]) -> Result<(), Box<dyn Error>> {
    for file in files {
        let path = dir.join(&file.saved_as);
        let got = fs::read(&path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        let want = pattern_bytes(file.seed, 0, file.len as usize);
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

const USAGE: &str = "usage: demo [-x CONNECTIONS] [-j JOBS] [--size MIB] [--rate KIB_PER_SEC]

  -x N          connections per file in runs 2 and 3 (default 4; run 1 uses 1)
  -j N          files at once, the outer pool's workers, in every run (default 5);
                run 3 downloads 2 x N + 3 files, so its queue fills and the reader waits
  --size MIB    size of the largest file; the others are 3/4 and 1/2 of it, and run 3's files
                1/4 (default 12)
  --rate KIB    speed cap of each connection in KiB/s (default 1024)";

fn parse_args() -> Result<Options, Box<dyn Error>> {
    let mut options = Options {
        connections: 4,
        jobs: Config::DEFAULT_JOBS,
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
            "-j" | "--jobs" => options.jobs = value.min(64) as usize,
            "--size" => options.size_mib = value,
            "--rate" => options.rate_kib = value,
            _ => return Err(format!("unknown option {flag}\n\n{USAGE}").into()),
        }
    }
    Ok(options)
}
