//! The run: the [`Downloader`] and the outer pool, the first level of pardl's nested pools.
//!
//! [`Downloader::run`] reads links as they come and hands each to the outer [`ThreadPool`] (`jobs`
//! workers); its bounded queue makes the reader wait when every worker is busy, so a links file of a
//! million lines never becomes a million queued tasks. Before a link is queued its final name is
//! reserved, in link order, so reruns choose the same names; links of another `--shard` or done
//! earlier (`--skip-done`) take theirs too, then are left out. Each task is one file's download
//! ([`FileTask`]); its outcome is counted in the [`Summary`] and given to the caller.
//!
//! [`Downloader::download`] downloads a single link on the calling thread, for library users who
//! bring their own threads.

use std::fs;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::Mutex;

use crate::disk::names::{name_from_url, sanitize, NameReservations};
use crate::error::Error;
use crate::file::FileTask;
use crate::pool::ThreadPool;

pub(crate) mod cancel;
pub(crate) mod config;
pub(crate) mod context;
pub(crate) mod links;
pub(crate) mod outcome;
pub(crate) mod progress;
pub(crate) mod report;
pub(crate) mod shard;
pub(crate) mod skip_done;

use cancel::CancelHandle;
use config::Config;
use context::Context;
use links::{Link, LinkError, Origin};
use outcome::{Outcome, Status, Summary, Transfer};
use progress::Progress;

/// Downloads links; cheap to clone (clones share settings, counters, names and the cancel handle),
/// usable from any thread.
///
/// ```
/// use pardl::{Config, Downloader, Link, Origin, Status};
///
/// # let server = pardl_testserver::TestServer::start();
/// # server.add("/big.iso", pardl_testserver::Body::Pattern { seed: 7, len: 3 << 20 }, Default::default());
/// # let dir = tempfile::tempdir()?;
/// # std::env::set_current_dir(dir.path())?;
/// # for proxy in ["ALL_PROXY", "HTTP_PROXY", "HTTPS_PROXY", "all_proxy", "http_proxy", "https_proxy"] {
/// #     std::env::remove_var(proxy);
/// # }
/// let downloader = Downloader::new(Config { dir: "downloads".into(), ..Config::default() });
/// let url = "https://example.com/big.iso";
/// # let url = &server.url("/big.iso");
/// let link = Link::parse(&format!("{url} out=big.iso"), Origin::Argument(1)).unwrap();
///
/// // Blocks this thread until the file is complete; its chunks run on a child pool meanwhile.
/// let outcome = std::thread::scope(|s| s.spawn(|| downloader.download(link)).join().unwrap());
/// assert!(matches!(outcome.status, Status::Downloaded { bytes: 3145728, ranged: true }));
/// assert_eq!(std::fs::metadata("downloads/big.iso")?.len(), 3 << 20);
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct Downloader {
    context: Arc<Context>,
    names: Arc<NameReservations>,
}

impl Downloader {
    /// A downloader with its own HTTP agent and counters.
    pub fn new(config: Config) -> Downloader {
        Downloader {
            context: Arc::new(Context::new(config)),
            names: Arc::new(NameReservations::new()),
        }
    }

    /// The live counters, for a progress display.
    pub fn progress(&self) -> Arc<Progress> {
        Arc::clone(&self.context.progress)
    }

    /// The configuration in use.
    pub fn config(&self) -> &Config {
        &self.context.config
    }

    /// The handle that stops this downloader from any thread (a Ctrl-C handler, a GUI's button): no
    /// new link starts, running transfers stop after their current write, resume state is saved, and
    /// the unfinished links end as [`Status::Interrupted`]. Every clone of the `Downloader` shares it.
    pub fn cancel_handle(&self) -> CancelHandle {
        self.context.cancel_handle()
    }

    /// Downloads every link, `jobs` files at once, calling `on_outcome` (from a worker thread) as each
    /// ends. Reading stops at an I/O error of the links source (reported in the summary) or when the
    /// run is cancelled; malformed lines fail on their own and the others still run.
    ///
    /// Links of another shard ([`Config::shard`]) and links done earlier ([`Config::skip_done`]) are
    /// left out without a request or an outcome, and counted in the summary. They still take their
    /// names in link order, so the names of the others are those a full run would give them.
    ///
    /// What a run keeps grows by about 9 to 19 bytes per link read (the names taken, as 8-byte keys
    /// in a hash set that is dropped when the run ends), whatever the links' length; links
    /// themselves are read one at a time, and at most `2 × jobs` wait in the pool.
    ///
    /// ```no_run
    /// use pardl::{DoneLinks, Shard, Config, Downloader, LinkReader};
    ///
    /// // Shard 2 of 8, skipping what an earlier run's report marks ok.
    /// let config = Config {
    ///     shard: Some(Shard::parse("2/8").unwrap()),
    ///     skip_done: Some(DoneLinks::load("report-2.jsonl".as_ref())?.into()),
    ///     ..Config::default()
    /// };
    /// let links = LinkReader::new(std::io::BufReader::new(std::fs::File::open("links.txt")?));
    /// let summary = Downloader::new(config).run(links, |outcome| eprintln!("{}", outcome.line()));
    /// println!("{} ok, {} done earlier, {} in other shards", summary.ok, summary.already_done, summary.other_shard);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn run<I, F>(&self, links: I, on_outcome: F) -> Summary
    where
        I: IntoIterator<Item = Result<Link, LinkError>>,
        F: Fn(&Outcome) + Send + Sync + 'static,
    {
        let started = Instant::now();
        let summary = Arc::new(Mutex::new(Summary::default()));
        if let Err(error) = self.prepare_dir() {
            let mut summary = summary.lock();
            summary.fatal = Some(error);
            return std::mem::take(&mut *summary);
        }
        let finished = {
            let summary = Arc::clone(&summary);
            Arc::new(move |outcome: Outcome| {
                on_outcome(&outcome);
                summary.lock().add(&outcome);
            })
        };
        let pool = ThreadPool::with_name(self.context.config.jobs, "pardl-file");
        // Names stay reserved for the whole run (two links of one run never share a file), in a
        // scope of the run's own that is given back as a whole at its end, so running the same links
        // again maps them to the same files.
        let names = self.names.open_scope();
        for item in links {
            if self.context.is_cancelled() {
                break;
            }
            match item {
                Ok(link) => {
                    // Names are reserved here, in link order, not in the workers: the same links file
                    // then maps to the same names on every run, which is what makes skipping and
                    // resuming work. Links this run leaves out (another shard's, or done earlier)
                    // reserve theirs too, so every shard, and every rerun, names every link alike.
                    let name = self.names.reserve_in(&names, &wanted_name(&link));
                    if self.leave_out(&link.url, &summary) {
                        continue;
                    }
                    self.context.progress.link_seen();
                    let downloader = self.clone();
                    let finished = Arc::clone(&finished);
                    pool.execute(move || finished(downloader.download_named(link, &name)));
                }
                Err(LinkError::Malformed {
                    origin,
                    text,
                    reason,
                }) => {
                    // Sharded by its text, so exactly one shard reports it.
                    if self.leave_out(&text, &summary) {
                        continue;
                    }
                    self.context.progress.link_seen();
                    let error = Error::MalformedLink {
                        text: text.clone(),
                        reason,
                    };
                    let outcome = failed_before_start(text, origin, error);
                    self.context.progress.count(&outcome.status);
                    finished(outcome);
                }
                Err(LinkError::Read(error)) => {
                    summary.lock().input_error = Some(format!("reading links: {error}"));
                    break;
                }
            }
        }
        pool.wait_completion();
        drop(pool);
        drop(finished);
        self.names.close_scope(names);
        let mut summary = summary.lock();
        summary.elapsed = started.elapsed();
        summary.cancelled = self.context.is_cancelled();
        std::mem::take(&mut *summary)
    }

    /// Whether `run` leaves the link with this URL out: it belongs to another shard
    /// ([`Config::shard`]) or an earlier report marks it `ok` ([`Config::skip_done`]). Counted in the
    /// summary; no request, no outcome.
    fn leave_out(&self, url: &str, summary: &Mutex<Summary>) -> bool {
        let config = &self.context.config;
        if config.shard.is_some_and(|shard| !shard.contains(url)) {
            summary.lock().other_shard += 1;
            true
        } else if config
            .skip_done
            .as_ref()
            .is_some_and(|done| done.contains(url))
        {
            summary.lock().already_done += 1;
            true
        } else {
            false
        }
    }

    /// Downloads one link on the calling thread (its chunks still use a child pool).
    pub fn download(&self, link: Link) -> Outcome {
        if let Err(error) = self.prepare_dir() {
            return failed_before_start(link.url, link.origin, error);
        }
        let name = self.names.reserve(&wanted_name(&link));
        let outcome = self.download_named(link, &name);
        self.names.release(&name);
        outcome
    }

    /// Checks the settings and creates the output directory: what must hold before any link starts.
    fn prepare_dir(&self) -> Result<(), Error> {
        self.context
            .config
            .check()
            .map_err(|message| Error::Config { message })?;
        let dir = &self.context.config.dir;
        fs::create_dir_all(dir).map_err(|e| Error::io("create directory", dir, e))
    }

    /// Downloads one URL on the calling thread: [`download`](Downloader::download) for a link given as
    /// text (`URL`, optionally followed by `out=NAME` and `sha256=HEX`, as in a links file). Text that
    /// is not a link pardl can fetch ends as a failed [`Outcome`], like any other failure; its origin
    /// is `argument 1`.
    ///
    /// ```
    /// # let server = pardl_testserver::TestServer::start();
    /// # server.add("/big.iso", pardl_testserver::Body::Pattern { seed: 7, len: 3 << 20 }, Default::default());
    /// # let dir = tempfile::tempdir()?;
    /// # std::env::set_current_dir(dir.path())?;
    /// # for proxy in ["ALL_PROXY", "HTTP_PROXY", "HTTPS_PROXY", "all_proxy", "http_proxy", "https_proxy"] {
    /// #     std::env::remove_var(proxy);
    /// # }
    /// let downloader = pardl::Downloader::new(pardl::Config::default());
    /// let outcome = downloader.download_url("https://example.com/big.iso");
    /// # let outcome = downloader.download_url(&server.url("/big.iso"));
    /// assert!(outcome.is_success(), "{}", outcome.line());
    ///
    /// let outcome = downloader.download_url("ftp://example.com/big.iso");
    /// assert_eq!(outcome.line(), "FAIL  argument 1: malformed link 'ftp://example.com/big.iso': not an http or https URL");
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn download_url(&self, text: &str) -> Outcome {
        match Link::parse(text, Origin::Argument(1)) {
            Ok(link) => self.download(link),
            Err(LinkError::Malformed {
                origin,
                text,
                reason,
            }) => {
                let error = Error::MalformedLink {
                    text: text.clone(),
                    reason,
                };
                failed_before_start(text, origin, error)
            }
            // Parsing text reads nothing, so it cannot fail to read.
            Err(LinkError::Read(error)) => failed_before_start(
                text.to_string(),
                Origin::Argument(1),
                Error::MalformedLink {
                    text: text.to_string(),
                    reason: error.to_string(),
                },
            ),
        }
    }

    /// Downloads `link` to `name` in the output directory and counts how it ended.
    fn download_named(&self, link: Link, name: &str) -> Outcome {
        let started = Instant::now();
        let path = self.context.config.dir.join(name);
        let file = self.context.progress.new_file(name);
        // A panic here is a bug; it must still end as a failed link, not as a missing outcome.
        let task = FileTask {
            context: &self.context,
            names: &self.names,
            link: &link,
            file: &file,
        };
        let result = catch_unwind(AssertUnwindSafe(|| task.run(&path))).unwrap_or_else(|_| {
            Err(Error::Panicked {
                url: link.url.clone(),
            })
        });
        let status = match result {
            Ok(status) => status,
            Err(Error::Interrupted { .. }) => Status::Interrupted,
            Err(error) => Status::Failed(error),
        };
        self.context.progress.count(&status);
        Outcome {
            url: link.url,
            origin: link.origin,
            // The server's answer may have renamed the file (see `server_named`).
            path: Some(path.with_file_name(file.name())),
            status,
            elapsed: started.elapsed(),
            transfer: Transfer::of(&file),
        }
    }
}

/// The name `link` asks for: its `out=`, else the one its URL suggests.
fn wanted_name(link: &Link) -> String {
    match &link.out {
        Some(out) => sanitize(out),
        None => name_from_url(&link.url),
    }
}

/// The outcome of a link that failed before any name was chosen or request made.
fn failed_before_start(url: String, origin: Origin, error: Error) -> Outcome {
    Outcome {
        url,
        origin,
        path: None,
        status: Status::Failed(error),
        elapsed: Duration::ZERO,
        transfer: Transfer::default(),
    }
}
