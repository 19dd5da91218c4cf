//! Download one URL from a plain `fn main`: no async runtime, no threads of your own.
//!
//! ```text
//! cargo run --example download_one -- https://example.com/file.iso [DIR]
//! ```
//!
//! `Downloader::download_url` blocks the calling thread until the file is complete (or has failed);
//! underneath, the file's chunks are still fetched by a child thread pool, several connections at
//! once. The file appears in DIR (default: the current directory) only when every byte is there.

use std::path::PathBuf;
use std::process::ExitCode;

use pardl::{Config, Downloader, Status};

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let Some(url) = args.next() else {
        eprintln!("usage: download_one URL [DIR]");
        return ExitCode::from(2);
    };
    let dir = args
        .next()
        .map_or_else(|| PathBuf::from("."), PathBuf::from);

    // Every setting has a default; change only what this program cares about.
    let config = Config {
        dir,
        connections: 8,
        ..Config::default()
    };
    // Settings that cannot work are refused here, before any request.
    let downloader = match Downloader::new(config) {
        Ok(downloader) => downloader,
        Err(error) => {
            eprintln!("{error}");
            return ExitCode::from(2);
        }
    };
    let outcome = downloader.download_url(&url);

    // `Outcome::line` is the same one-line summary the command line prints.
    println!("{}", outcome.line());
    match outcome.status {
        Status::Downloaded { bytes, ranged } => {
            let how = if ranged {
                "in ranged chunks"
            } else {
                "as one stream"
            };
            println!("{bytes} bytes, fetched {how}");
            ExitCode::SUCCESS
        }
        Status::Skipped => ExitCode::SUCCESS,
        Status::Failed(error) => {
            // Every error names the link (or the local path) and says what went wrong.
            eprintln!("error ({}): {error}", error.kind());
            ExitCode::FAILURE
        }
        // Stopped before the end (Interrupted, NotStarted), or a status newer than this program.
        _ => ExitCode::from(130),
    }
}
