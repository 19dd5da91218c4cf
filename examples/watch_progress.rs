//! Watch a download's progress from a thread of your own, and stop it from there.
//!
//! ```text
//! cargo run --example watch_progress -- DIR URL [URL ...]
//! cargo run --example watch_progress -- --stop-after 2 DIR URL   # cancel after 2 seconds
//! ```
//!
//! The downloader's counters are atomics that the download threads add to; any thread can read them
//! at any time with `Progress::snapshot`, without a lock on the download path and without any
//! terminal code (pardl's own live display is just one such reader). Here the main thread prints a
//! line every half second, while a second thread runs the downloads. With `--stop-after SECS`, the
//! main thread cancels the run through a `CancelHandle`; the same command then resumes it.

use std::path::PathBuf;
use std::process::ExitCode;
use std::thread;
use std::time::{Duration, Instant};

use pardl::units::human_bytes;
use pardl::{Config, Downloader, Link, Origin};

fn main() -> ExitCode {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let mut stop_after = None;
    if args.first().map(String::as_str) == Some("--stop-after") && args.len() > 1 {
        stop_after = args[1].parse::<f64>().ok().map(Duration::from_secs_f64);
        args.drain(..2);
    }
    if args.len() < 2 {
        eprintln!("usage: watch_progress [--stop-after SECS] DIR URL [URL ...]");
        return ExitCode::from(2);
    }
    let dir = PathBuf::from(args.remove(0));
    let links: Vec<_> = args
        .iter()
        .enumerate()
        .map(|(i, url)| Link::parse(url, Origin::Argument(i + 1)))
        .collect();

    let downloader = match Downloader::new(Config {
        dir,
        ..Config::default()
    }) {
        Ok(downloader) => downloader,
        Err(error) => {
            eprintln!("{error}");
            return ExitCode::from(2);
        }
    };
    let progress = downloader.progress();
    let cancel = downloader.cancel_handle();

    // The downloads run on their own thread; `run` returns when every link has ended.
    let runner = {
        let downloader = downloader.clone();
        thread::spawn(move || downloader.run(links, |outcome| println!("{}", outcome.line())))
    };

    let started = Instant::now();
    while !runner.is_finished() {
        let snap = progress.snapshot();
        let total = if snap.expected_bytes > 0 {
            format!(" of {}", human_bytes(snap.expected_bytes))
        } else {
            String::new()
        };
        println!(
            "progress: {}{total}; {} active, {} done, {} failed",
            human_bytes(snap.bytes),
            snap.active,
            snap.succeeded(),
            snap.failed
        );
        if stop_after.is_some_and(|limit| started.elapsed() >= limit) && !cancel.is_cancelled() {
            println!("cancelling");
            cancel.cancel();
        }
        thread::sleep(Duration::from_millis(500));
    }

    let summary = match runner.join() {
        Ok(summary) => summary,
        Err(_) => {
            eprintln!("the download thread panicked");
            return ExitCode::FAILURE;
        }
    };
    print!("{}", summary.text());
    ExitCode::from(summary.exit_code() as u8)
}
