//! pardl: a parallel file downloader built on two levels of hand-written thread pools.
//!
//! Files are downloaded in parallel by an outer [`ThreadPool`]; each file's download builds its own
//! child [`ThreadPool`] that fetches HTTP `Range` chunks of that file concurrently into one `.part`
//! file, renamed to its final name only when every chunk is there. Blocking threads throughout, no
//! async runtime: every call below blocks the thread that makes it, and every type that a program
//! shares between threads ([`Downloader`], [`CancelHandle`], [`Progress`]) is `Send + Sync`.
//!
//! ```text
//!  links ──▶ outer pool (jobs workers, bounded queue) ──▶ one task per file         src/run/
//!                                                          │ probe: size, Range support,
//!                                                          │ and the first bytes (chunk 0)   src/file/
//!                                                          ▼
//!          child pool of this file (≤ connections workers) ──▶ chunk 0, chunk 1, chunk 2, …
//!                                                          │ positioned writes into NAME.part
//!                                                          ▼
//!                                        wait for every chunk, sync, rename NAME.part ▶ NAME
//! ```
//!
//! The probe asks for the whole file (`Range: bytes=0-`) and chunk 0 is read over its answer, up to
//! chunk 0's end, by a worker of the child pool like every other chunk; only a file of one chunk
//! (under two `--min-chunk`s, or with one connection) is read by the file's task itself, with no
//! child pool.
//!
//! # Using it
//!
//! What a program on plain threads does with pardl, each shown whole by a program in `examples/`
//! (run by the test suite, with its output checked):
//!
//! | to … | call | example |
//! |---|---|---|
//! | download a list and keep every result | [`Downloader::run`] with a callback that may borrow, or [`Downloader::start`] for a [`Run`] whose [`Outcome`]s are owned values with their input [`index`](Outcome::index) | `collect_outcomes.rs` |
//! | watch progress from a thread of your own | [`Downloader::progress`] → [`Progress::snapshot`] | `watch_progress.rs` |
//! | cancel, then resume on the same downloader | [`Run::cancel`] (one run) or [`Downloader::cancel_handle`] (every run in progress), then run again | `cancel_resume.rs` |
//! | download one checked file on this thread | [`Downloader::download`], [`Downloader::download_url`] with `sha256=` (or `sha512=`, `sha1=`, `md5=`; a [`ChecksumFile`] in [`Config::checksums`]) | `download_one.rs` |
//! | use the thread pool for your own tasks | [`ThreadPool`]: `execute`, `map`, [`spawn`](ThreadPool::spawn) → [`join`](pool::TaskHandle::join) | `own_pool.rs` |
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
//! })?; // settings that cannot work are refused here
//! let links = LinkReader::new(links_file.as_bytes());
//! let summary = downloader.run(links, |outcome| println!("{}", outcome.line()));
//! assert_eq!((summary.ok, summary.failed), (2, 0));
//! assert_eq!(summary.exit_code(), 0);
//!
//! // One link on this thread; the file is there now, so it is skipped without a request.
//! let outcome = downloader.download_url("https://example.com/b.bin out=second.bin");
//! # let outcome = downloader.download_url(&format!("{} out=second.bin", server.url("/b.bin")));
//! assert!(matches!(outcome.status, Status::Skipped));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! While it works, another thread can read [`Downloader::progress`] (atomic counters, no lock on the
//! download path) and stop the run with [`Downloader::cancel_handle`]. The programs in `examples/`
//! show each of these from a plain `fn main`, and [`pool`] can be used on its own.
//!
//! # A tour of the source, in the order a link meets it
//!
//! The folders follow the two pool levels, and dependencies only point down the table: `run` uses
//! `file`, `file` uses `http` and `disk`, and [`pool`] depends on nothing else in the crate.
//!
//! | where | what lives there |
//! |---|---|
//! | `src/pool.rs` | the hand-written [`ThreadPool`] both levels use: bounded queue, `wait_completion`, panics caught ([`pool`]) |
//! | `src/run/mod.rs` | the [`Downloader`] and the **outer pool**: one task per link, named in link order (`naming.rs`, [`Names`]) |
//! | `src/run/` | what a run reads and shares: `links.rs` ([`LinkReader`]), `shard.rs` ([`Shard`]), `skip_done.rs` ([`DoneLinks`]), `config.rs` ([`Config`]), `context.rs` (what every thread shares), `progress.rs` ([`Progress`]), `cancel.rs` ([`CancelHandle`]), `outcome.rs` ([`Outcome`], [`Summary`]), `report.rs` (the `--report` lines) |
//! | `src/file/mod.rs` | one file's task: skip, resume, probe, plan, ranged or stream, check, rename |
//! | `src/file/child_pool.rs` | the **child pool** of one file: one task per chunk, resume state saved every second |
//! | `src/file/` | `probe.rs` (the first request), `plan.rs` ([`ChunkPlan`]), `window.rs` (one chunk's range, and how its owner and a thief agree on its end), `split.rs` (a worker out of work takes over part of a slower range), `mirrors.rs` (one file from several URLs), `ranged.rs` (what a file's chunks share), `chunk.rs` (one range), `stream.rs` (no ranges: one stream), `request.rs` (one `GET`: its credentials, and its redirects followed by hand), `answer.rs` and the `*_verdict` functions (what an answer means, as pure functions), `body.rs` (the hot loop: read → positioned write → counters), `retry.rs` (the one retry driver) |
//! | `src/http/` | HTTP rules with no state of the run: header parsing, `url.rs` (every rule about URL text: credentials, host, origin, redirect targets, masking, percent-decoding, non-ASCII hosts), `hosts.rs` (connections per host), `ratelimit.rs` (`--limit-rate`), `netrc.rs` ([`Netrc`]) and `cookies.rs` ([`CookieJar`]), `tls.rs` (whom HTTPS trusts) |
//! | `src/disk/` | the `.part` file and its lock (`part.rs`), the control file (`control.rs`), safe names (`names.rs`, `disposition.rs`), `checksum.rs` ([`Checksum`]) and `checksum_file.rs` ([`ChecksumFile`]), opening files in a directory others may write to (`open.rs`) |
//! | `src/ui/` | the command's live display ([`ui`], behind the default `cli` feature) |
//! | `src/units.rs`, `src/key.rs`, `src/error.rs` | sizes and durations for people ([`units`]), the stable key of a URL, the one [`Error`] type |
//!
//! The README's reading path starts the lesson; the design, with diagrams, is explained in
//! `docs/design.md`, the pool built in steps in `docs/pool-in-steps.md` (with `examples/mini_pool.rs`)
//! and on its own in `docs/pool.md`.
#![warn(missing_docs, unreachable_pub)]
// The tour above links to `ui`, which exists only with the `cli` feature; the default build (the one
// CI documents with `-D warnings`) still checks every link.
#![cfg_attr(not(feature = "cli"), allow(rustdoc::broken_intra_doc_links))]

pub mod pool;
#[cfg(feature = "cli")]
pub mod ui;
pub mod units;

mod disk;
mod error;
mod file;
mod http;
mod key;
mod run;

pub use disk::checksum::{Checksum, ChecksumAlgorithm};
pub use disk::checksum_file::ChecksumFile;
pub use disk::durable::SyncMode;
pub use error::{Error, NetworkErrorKind};
pub use file::plan::ChunkPlan;
pub use http::cookies::CookieJar;
pub use http::netrc::Netrc;
pub use http::url::redact_url;
pub use pool::ThreadPool;
pub use run::cancel::CancelHandle;
pub use run::config::{Config, Credentials, Header, IfExists, Names};
pub use run::links::{parse_sha256, Link, LinkError, LinkReader, Origin};
pub use run::outcome::{Failure, Outcome, Status, Summary, Transfer};
pub use run::progress::{FileProgress, Progress, RetryWait, Snapshot};
pub use run::report::{MirrorLine, ReportFile, ReportLine};
pub use run::run_handle::Run;
pub use run::shard::{Shard, SHARD_ENV};
pub use run::skip_done::DoneLinks;
pub use run::Downloader;
