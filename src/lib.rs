//! pardl: a parallel file downloader built on two levels of hand-written thread pools.
//!
//! Files are downloaded in parallel by an outer [`ThreadPool`]; each file's download builds its own
//! child [`ThreadPool`] that fetches HTTP `Range` chunks of that file concurrently into one `.part`
//! file, renamed to its final name only when every chunk is there. Blocking threads throughout, no
//! async runtime: every call below blocks the thread that makes it, and every type that a program
//! shares between threads ([`Downloader`], [`CancelHandle`], [`progress::Progress`]) is `Send + Sync`.
//!
//! ```text
//!  links ──▶ outer pool (jobs workers, bounded queue) ──▶ one task per file
//!                                                          │ probe: size, Range support, chunk 1
//!                                                          ▼
//!                          child pool (connections workers) ──▶ chunk 2, chunk 3, …
//!                                                          │ positioned writes into NAME.part
//!                                                          ▼
//!                                        wait for every chunk, sync, rename NAME.part ▶ NAME
//! ```
//!
//! # Using it
//!
//! Build a [`Config`] (every field has a default), make a [`Downloader`], and either
//! [`run`](Downloader::run) it over a stream of links (what the `pardl` command does) or
//! [`download`](Downloader::download) one link on the calling thread:
//!
//! ```
//! use pardl::{Config, Downloader, LinkReader, Status};
//!
//! # let server = pardl_testserver::TestServer::start();
//! # server.add("/a.bin", pardl_testserver::Body::Pattern { seed: 1, len: 3 << 20 }, Default::default());
//! # server.add("/b.bin", pardl_testserver::Body::Pattern { seed: 2, len: 5000 }, Default::default());
//! # let dir = tempfile::tempdir()?;
//! # std::env::set_current_dir(dir.path())?;
//! # for proxy in ["ALL_PROXY", "HTTP_PROXY", "HTTPS_PROXY", "all_proxy", "http_proxy", "https_proxy"] {
//! #     std::env::remove_var(proxy);
//! # }
//! let links_file = "https://example.com/a.bin\nhttps://example.com/b.bin out=second.bin\n";
//! # let links_file = format!("{}\n{} out=second.bin\n", server.url("/a.bin"), server.url("/b.bin"));
//! let downloader = Downloader::new(Config {
//!     dir: "downloads".into(),
//!     jobs: 2,        // files at once: the outer pool's workers
//!     connections: 4, // chunks of one file at once: each child pool's workers
//!     ..Config::default()
//! });
//! let links = LinkReader::new(links_file.as_bytes());
//! let summary = downloader.run(links, |outcome| println!("{}", outcome.line()));
//! assert_eq!((summary.ok, summary.failed), (2, 0));
//! assert_eq!(summary.exit_code(), 0);
//!
//! // One link on this thread; the file is there now, so it is skipped without a request.
//! let outcome = downloader.download_url("https://example.com/b.bin out=second.bin");
//! # let outcome = downloader.download_url(&format!("{} out=second.bin", server.url("/b.bin")));
//! assert!(matches!(outcome.status, Status::Skipped));
//! # Ok::<(), std::io::Error>(())
//! ```
//!
//! While it works, another thread can read [`Downloader::progress`] (atomic counters, no lock on the
//! download path) and stop the run with [`Downloader::cancel_handle`]. The programs in `examples/`
//! show each of these from a plain `fn main`, and [`pool`] can be used on its own.
//!
//! # A tour of the modules, in the order a byte meets them
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
//! | [`control`] | the control file beside the `.part` file, from which an interrupted download resumes |
//! | [`checksum`] | SHA-256 of a finished file, checked against `sha256=` |
//! | [`retry`] | when to try again and how long to wait |
//! | [`hosts`] | how many connections each host gets, lowered when it refuses and raised again |
//! | [`ratelimit`] | `--limit-rate`: one lock-free token bucket shared by every connection |
//! | [`progress`] | the atomic counters every download thread adds to |
//! | [`cancel`] | the [`CancelHandle`] that stops a run from another thread |
//! | [`layout`] | the text of the live display, as pure functions of counters and terminal size |
//! | [`display`] | the renderer thread and the [`display::Console`]: live area on a terminal, plain lines elsewhere |
//! | [`report`] | each link's [`Outcome`], the run's [`Summary`] and the `--report` JSON lines |
//! | [`http`] | the shared `ureq` agent, sending a request (headers, credentials, proxy), `Content-Range` parsing |
//! | [`context`] | what every thread of a run shares: settings, agent, counters, host limits, cancel handle |
//! | [`config`] | the settings and their defaults |
//! | [`error`] | the one [`Error`] type |
//!
//! The design, with diagrams, is explained in `docs/design.md`; the pool alone in `docs/pool.md`.
#![warn(missing_docs)]

pub mod cancel;
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

pub use cancel::CancelHandle;
pub use config::Config;
pub use download::Downloader;
pub use error::Error;
pub use links::{Link, LinkError, LinkReader, Origin};
pub use plan::ChunkPlan;
pub use pool::ThreadPool;
pub use report::{Outcome, Status, Summary};
