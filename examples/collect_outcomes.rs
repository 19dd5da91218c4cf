//! Download a list of URLs and keep every result as a value: a table in input order, typed errors
//! included.
//!
//! ```text
//! cargo run --example collect_outcomes -- DIR URL [URL ...]
//! ```
//!
//! `Downloader::start` runs the downloads on threads of their own and returns a `Run` at once. Its
//! outcomes arrive as owned values, in the order the links end, each with its position in the input
//! (`Outcome::index`), so putting them back in input order is a sort. An outcome (and the `Error`
//! inside a failed one) is `Clone` and `Send`: keep it, send it elsewhere, match on it later.

use std::path::PathBuf;
use std::process::ExitCode;

use pardl::{Config, Downloader, Error, Link, Origin, Outcome, Status};

fn main() -> ExitCode {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    if args.len() < 2 {
        eprintln!("usage: collect_outcomes DIR URL [URL ...]");
        return ExitCode::from(2);
    }
    let dir = PathBuf::from(args.remove(0));
    let links: Vec<_> = args
        .iter()
        .enumerate()
        .map(|(i, url)| Link::parse(url, Origin::Argument(i + 1)))
        .collect();
    let total = links.len();

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
    let run = match downloader.start(links) {
        Ok(run) => run,
        Err(error) => {
            eprintln!("cannot start: {error}");
            return ExitCode::from(2);
        }
    };
    let mut outcomes: Vec<Outcome> = Vec::with_capacity(total);
    for outcome in run.outcomes() {
        println!("{} of {total} ended", outcomes.len() + 1);
        outcomes.push(outcome);
    }
    let summary = run.join();

    outcomes.sort_by_key(|outcome| outcome.index);
    for outcome in &outcomes {
        let what = match &outcome.status {
            Status::Downloaded { bytes, .. } => format!("{bytes} bytes"),
            Status::Skipped => "already there".to_string(),
            Status::Failed(Error::Status { status, .. }) => format!("refused with HTTP {status}"),
            Status::Failed(error) => format!("failed ({}): {error}", error.kind()),
            _ => "stopped".to_string(),
        };
        println!("#{} {}: {what}", outcome.index, outcome.url);
    }
    println!("{} ok, {} failed", summary.ok, summary.failed);
    ExitCode::from(summary.exit_code() as u8)
}
