//! Cancel a run, then resume it on the same downloader.
//!
//! ```text
//! cargo run --example cancel_resume -- --after BYTES DIR URL [URL ...]
//! ```
//!
//! The first run is cancelled through its own handle once BYTES have arrived: the file being fetched
//! keeps its `.part` file and control file, and links that had not begun end as "not started". The
//! second run, on the same `Downloader` (same counters, same connections), takes up each file where
//! the first one left it.

use std::path::PathBuf;
use std::process::ExitCode;
use std::thread;
use std::time::Duration;

use pardl::{Config, Downloader, Link, Origin};

fn main() -> ExitCode {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let after = match (args.first().map(String::as_str), args.get(1)) {
        (Some("--after"), Some(bytes)) => bytes.parse::<u64>().ok(),
        _ => None,
    };
    let Some(after) = after.filter(|_| args.len() >= 4) else {
        eprintln!("usage: cancel_resume --after BYTES DIR URL [URL ...]");
        return ExitCode::from(2);
    };
    args.drain(..2);
    let dir = PathBuf::from(args.remove(0));
    let links = || -> Vec<_> {
        args.iter()
            .enumerate()
            .map(|(i, url)| Link::parse(url, Origin::Argument(i + 1)))
            .collect()
    };

    let downloader = match Downloader::new(Config {
        dir,
        jobs: 1,
        ..Config::default()
    }) {
        Ok(downloader) => downloader,
        Err(error) => {
            eprintln!("{error}");
            return ExitCode::from(2);
        }
    };
    let progress = downloader.progress();
    let first = match downloader.start(links()) {
        Ok(run) => run,
        Err(error) => {
            eprintln!("cannot start: {error}");
            return ExitCode::from(2);
        }
    };
    // A watcher thread cancels the run once enough has arrived; this thread reads its outcomes.
    let cancel = first.cancel_handle();
    let stop_watching = first.cancel_handle();
    let watcher = thread::spawn(move || {
        while progress.bytes() < after && !cancel.is_cancelled() {
            thread::sleep(Duration::from_millis(10));
        }
        cancel.cancel();
    });
    for outcome in first.outcomes() {
        println!("first run:  {}", outcome.line());
    }
    let summary = first.join();
    // The run is over; a cancel now changes nothing but tells the watcher to stop waiting.
    stop_watching.cancel();
    let _ = watcher.join();
    println!("first run cancelled: {}", summary.cancelled);

    let summary = downloader.run(links(), |outcome| {
        println!("second run: {}", outcome.line())
    });
    print!("{}", summary.text());
    ExitCode::from(summary.exit_code() as u8)
}
