//! pardl: a parallel file downloader built on two levels of hand-written thread pools.
//!
//! Files are downloaded in parallel by an outer [`ThreadPool`]; each file's download builds its own
//! child [`ThreadPool`] that fetches HTTP `Range` chunks of that file concurrently into one `.part`
//! file, renamed to its final name only when every chunk is there. Blocking threads throughout, no
//! async runtime.
//!
//! A tour of the modules, in the order a byte meets them:
//!
//! | module | its one job |
//! |---|---|
//! | [`links`] | read the links file as a stream of [`Link`]s, with line numbers for errors |
//! | [`shard`] | `--shard K/N` and `--shard auto`: which links of the list are this machine's |
//! | [`done`] | `--skip-done`: the links an earlier `--report` marks `ok`, as a compact set |
//! | [`key`] | the one stable 64-bit key of a text (SHA-256 prefix) that shards, names and done links use |
//! | [`name`] | turn a link into a safe, unique file name inside the output directory |
//! | [`disposition`] | the file name a server suggests in `Content-Disposition` |
//! | [`pool`] | the hand-written `ThreadPool` (bounded queue, `wait_completion`, panics caught) |
//! | [`download`] | the outer pool over links, and the steps of one file's download |
//! | [`probe`] | the first request: learn size and `Range` support while fetching the first chunk |
//! | [`plan`] | the [`ChunkPlan`]: chunks and their progress, one explicit structure |
//! | [`chunk`] | fetch one chunk: check the `206`, then read → positioned write → counters |
//! | [`stream`] | fetch a file as one stream when ranges are not possible |
//! | [`part`] | the `.part` file: positioned writes, sync, atomic rename |
//! | [`retry`] | when to try again and how long to wait |
//! | [`ratelimit`] | `--limit-rate`: one lock-free token bucket shared by every connection |
//! | [`progress`] | the atomic counters every download thread adds to |
//! | [`layout`] | the text of the live display, as pure functions of counters and terminal size |
//! | [`display`] | the renderer thread and the [`display::Console`]: live area on a terminal, plain lines elsewhere |
//! | [`report`] | each link's [`Outcome`], the run's [`Summary`] and the `--report` JSON lines |
//! | [`http`] | the shared `ureq` agent, sending a request (headers, credentials, proxy), `Content-Range` parsing |
//! | [`config`] | the settings and their defaults |
//! | [`error`] | the one [`Error`] type |
//!
//! ```no_run
//! use pardl::{Config, Downloader, LinkReader};
//!
//! let links = LinkReader::new(std::io::BufReader::new(std::fs::File::open("links.txt")?));
//! let downloader = Downloader::new(Config { jobs: 3, connections: 8, ..Config::default() });
//! let summary = downloader.run(links, |outcome| eprintln!("{}", outcome.line()));
//! print!("{}", summary.text());
//! std::process::exit(summary.exit_code());
//! # Ok::<(), std::io::Error>(())
//! ```
#![warn(missing_docs)]

pub mod checksum;
pub mod chunk;
pub mod config;
pub mod context;
pub mod control;
pub mod display;
pub mod disposition;
pub mod done;
pub mod download;
pub mod error;
pub mod hosts;
pub mod http;
pub mod key;
pub mod layout;
pub mod links;
pub mod name;
pub mod part;
pub mod plan;
pub mod pool;
pub mod probe;
pub mod progress;
pub mod ratelimit;
pub mod report;
pub mod retry;
pub mod shard;
pub mod stream;

pub use config::Config;
pub use download::Downloader;
pub use error::Error;
pub use links::{Link, LinkError, LinkReader, Origin};
pub use plan::ChunkPlan;
pub use pool::ThreadPool;
pub use report::{Outcome, Status, Summary};
