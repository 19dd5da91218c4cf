//! The run: the [`Downloader`] and the outer pool, the first level of pardl's nested pools.
//!
//! [`Downloader::run`] reads links as they come and hands each to the outer [`ThreadPool`] (`jobs`
//! workers); its bounded queue makes the reader wait when every worker is busy, so a links file of a
//! million lines never becomes a million queued tasks. Before a link is queued its final name is
//! chosen ([`naming`]), in link order, so reruns choose the same names; links of another `--shard`
//! or done earlier (`--skip-done`) are named too, then are left out. Each task is one file's
//! download ([`FileTask`]); its outcome is counted in the [`Summary`] and given to the caller.
//!
//! [`Downloader::download`] downloads a single link on the calling thread, for library users who
//! bring their own threads.

use std::cell::Cell;
use std::fs;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Instant;

use crossbeam_channel::Sender;

use crate::disk::commit::{commit_queue_capacity, Committer, Ticket};
use crate::disk::durable::SyncMode;
use crate::disk::leftovers::Leftovers;
use crate::disk::names::NameReservations;
use crate::error::Error;
use crate::file::FileTask;
use crate::pool::ThreadPool;

pub(crate) mod cancel;
pub(crate) mod config;
pub(crate) mod context;
pub(crate) mod exact_paths;
pub(crate) mod links;
pub(crate) mod naming;
pub(crate) mod outcome;
pub(crate) mod progress;
pub(crate) mod report;
pub(crate) mod run_handle;
pub(crate) mod shard;
pub(crate) mod skip_done;

use cancel::CancelHandle;
use config::Config;
use context::Context;
use exact_paths::{file_name_of, ExactPaths};
use links::{Link, LinkError, Origin};
use naming::{wanted_name, RunNames};
use outcome::{ended_before_start, failed_before_start, Outcome, Status, Summary};
use progress::Progress;
use run_handle::Run;

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
/// let downloader = Downloader::new(Config { dir: "downloads".into(), ..Config::default() }).unwrap();
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
    /// Runs (and single downloads) going on now; a cancel of the downloader's handle is taken back
    /// when the next one starts after they have all ended.
    runs_in_progress: Arc<AtomicUsize>,
    /// The exact paths ([`Link::path`]) being downloaded to now, so two links never write one file.
    exact_paths: Arc<ExactPaths>,
}

impl Downloader {
    /// A downloader with its own HTTP agent and counters, once [`Config::check`] has found the
    /// settings usable.
    ///
    /// ```
    /// use pardl::{Config, Downloader, Error};
    ///
    /// let error = Downloader::new(Config { jobs: 0, ..Config::default() }).unwrap_err();
    /// assert!(matches!(&error, Error::Config { .. }));
    /// assert_eq!(error.to_string(), "invalid settings: jobs must be at least 1");
    /// ```
    ///
    /// # Errors
    ///
    /// [`Error::Config`] naming the first setting that cannot work.
    pub fn new(config: Config) -> Result<Downloader, Error> {
        config
            .check()
            .map_err(|message| Error::Config { message })?;
        Ok(Downloader {
            context: Arc::new(Context::new(config)),
            names: Arc::new(NameReservations::new()),
            runs_in_progress: Arc::new(AtomicUsize::new(0)),
            exact_paths: Arc::new(ExactPaths::default()),
        })
    }

    /// The live counters, for a progress display.
    pub fn progress(&self) -> Arc<Progress> {
        Arc::clone(&self.context.progress)
    }

    /// The configuration in use.
    pub fn config(&self) -> &Config {
        &self.context.config
    }

    /// The handle that stops every run of this downloader in progress, from any thread (a Ctrl-C
    /// handler, a GUI's button): no new link starts, running transfers stop after their current
    /// write, resume state is saved, and the unfinished links end as [`Status::Interrupted`] or
    /// [`Status::NotStarted`]. Every clone of the `Downloader` shares it.
    ///
    /// A cancel stops the runs that were going on, not the ones after: the next run on this
    /// downloader starts normally and resumes what was left. To stop one run among several, use its
    /// own handle ([`Run::cancel_handle`]).
    pub fn cancel_handle(&self) -> CancelHandle {
        self.context.cancel_handle()
    }

    /// Downloads every link, `jobs` files at once, calling `on_outcome` as each ends; returns when
    /// every link read has ended. Reading stops at an I/O error of the links source (reported in the
    /// summary) or when the run is cancelled; malformed lines fail on their own and the others still
    /// run.
    ///
    /// `on_outcome` runs on one thread of the run's own, one outcome at a time, in the order the
    /// links end, and may borrow from the caller (`run` does not return before its last call), so
    /// collecting results is a `Vec::push`:
    ///
    /// ```
    /// use pardl::{Config, Downloader, LinkReader, Outcome};
    ///
    /// # let server = pardl_testserver::TestServer::start();
    /// # server.add("/a.bin", pardl_testserver::Body::Pattern { seed: 1, len: 5000 }, Default::default());
    /// # let dir = tempfile::tempdir()?;
    /// # for proxy in ["ALL_PROXY", "HTTP_PROXY", "HTTPS_PROXY", "all_proxy", "http_proxy", "https_proxy"] {
    /// #     std::env::remove_var(proxy);
    /// # }
    /// let text = "https://example.com/a.bin\nnot a link\n";
    /// # let text = format!("{}\nnot a link\n", server.url("/a.bin"));
    /// # let config = Config { dir: dir.path().into(), ..Config::default() };
    /// let downloader = Downloader::new(config).unwrap();
    /// let mut outcomes: Vec<Outcome> = Vec::new();
    /// let summary = downloader.run(LinkReader::new(text.as_bytes()), |outcome| outcomes.push(outcome.clone()));
    /// outcomes.sort_by_key(|outcome| outcome.index); // they arrive as they end
    /// assert_eq!((outcomes.len(), summary.ok, summary.failed), (2, 1, 1));
    /// assert!(outcomes[0].is_success() && !outcomes[1].is_success());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    ///
    /// Links of another shard ([`Config::shard`]) and links done earlier ([`Config::skip_done`]) are
    /// left out without a request or an outcome, and counted in the summary. They still take their
    /// names in link order, so the names of the others are those a full run would give them.
    ///
    /// What a run keeps grows by about 9 to 19 bytes per link read (the names taken, as 8-byte keys
    /// in a hash set that is dropped when the run ends), whatever the links' length, unless
    /// [`Config::names`] is [`Names::Index`](crate::Names::Index): then only `out=` names are kept,
    /// and a list without them runs in flat memory at any length. Links themselves are read one at
    /// a time, at most 4 per worker wait in the pool, and finished files waiting for their commit
    /// (`--sync batch`) are at most 64 per worker, a quarter of the limit of open files and 1,024
    /// (or `2 × jobs`, if that is more).
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
    /// let summary = Downloader::new(config).unwrap().run(links, |outcome| eprintln!("{}", outcome.line()));
    /// println!("{} ok, {} done earlier, {} in other shards", summary.ok, summary.already_done, summary.other_shard);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn run<I, F>(&self, links: I, mut on_outcome: F) -> Summary
    where
        I: IntoIterator<Item = Result<Link, LinkError>>,
        F: FnMut(&Outcome) + Send,
    {
        let run = self.begin_run();
        self.run_links(&run, links, &mut |outcome| on_outcome(&outcome))
    }

    /// Starts downloading `links` on a thread of its own and returns at once with the [`Run`]: its
    /// outcomes as owned values, its own cancel handle, and its summary at the end. What
    /// [`run`](Downloader::run) does, for a caller that wants to hold the run rather than wait in it.
    ///
    /// ```
    /// use pardl::{Config, Downloader, Link, Origin};
    ///
    /// # let server = pardl_testserver::TestServer::start();
    /// # server.add("/a.bin", pardl_testserver::Body::Pattern { seed: 1, len: 5000 }, Default::default());
    /// # let dir = tempfile::tempdir()?;
    /// # for proxy in ["ALL_PROXY", "HTTP_PROXY", "HTTPS_PROXY", "all_proxy", "http_proxy", "https_proxy"] {
    /// #     std::env::remove_var(proxy);
    /// # }
    /// # let url = server.url("/a.bin");
    /// # let config = Config { dir: dir.path().into(), ..Config::default() };
    /// let downloader = Downloader::new(config).unwrap();
    /// let links = vec![Link::parse(&format!("{url} out=one.bin"), Origin::Argument(1))];
    /// let run = downloader.start(links)?;
    /// for outcome in run.outcomes() {
    ///     println!("{}", outcome.line());
    /// }
    /// let summary = run.join();
    /// assert_eq!(summary.ok, 1);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    ///
    /// The settings cannot work, the output directory cannot be created, or the run's thread cannot
    /// be started.
    pub fn start<I>(&self, links: I) -> Result<Run, Error>
    where
        I: IntoIterator<Item = Result<Link, LinkError>> + Send + 'static,
    {
        self.prepare_dir()?;
        let run = self.begin_run();
        let cancel = run.context.cancel_handle();
        let (sender, outcomes) = crossbeam_channel::bounded(2 * self.context.config.jobs.max(1));
        let downloader = self.clone();
        let thread = std::thread::Builder::new()
            .name("pardl-run".into())
            .spawn(move || {
                downloader.run_links(&run, links, &mut |outcome| {
                    // A caller that dropped its `Run` no longer wants the outcomes; they are
                    // still counted in the summary.
                    let _ = sender.send(outcome);
                })
            })
            .map_err(|e| Error::io("start the run's thread in", &self.context.config.dir, e))?;
        Ok(Run::new(outcomes, cancel, self.progress(), thread))
    }

    /// The context of a run about to start, counted as in progress until it is dropped.
    fn begin_run(&self) -> RunInProgress {
        // A cancel stops the runs in progress, not the ones after: the first run to start after
        // all the others ended takes a cancel back.
        if self.runs_in_progress.fetch_add(1, Ordering::SeqCst) == 0 {
            self.context.cancel_handle().reset();
        }
        RunInProgress {
            context: Arc::new(self.context.for_run()),
            runs_in_progress: Arc::clone(&self.runs_in_progress),
        }
    }

    /// The outer pool: reads `links`, reserves each name in link order, and queues one file task per
    /// link; a thread of the run's own hands each outcome to `deliver` as it arrives.
    fn run_links<I>(
        &self,
        run: &RunInProgress,
        links: I,
        deliver: &mut (dyn FnMut(Outcome) + Send),
    ) -> Summary
    where
        I: IntoIterator<Item = Result<Link, LinkError>>,
    {
        let started = Instant::now();
        let context = &run.context;
        if let Err(error) = self.prepare_dir() {
            return Summary {
                fatal: Some(error),
                ..Summary::default()
            };
        }
        // With `--sync batch`, finished files are flushed together and renamed on a thread of the
        // run's own (`src/disk/commit.rs`), and their workers go on to the next link at once.
        // And the control files earlier runs left are found with one read of the directory.
        let jobs = context.config.jobs;
        let committer = (context.config.sync == SyncMode::Batch)
            .then(|| Committer::start(commit_queue_capacity(jobs)))
            .flatten()
            .map(Arc::new);
        let leftovers = Leftovers::scan(&context.config.dir);
        let context = &Arc::new(context.for_links(committer.clone(), leftovers));
        let mut read = ReadCounts::default();
        let mut summary = std::thread::scope(|scope| {
            // Outcomes go to one thread that adds them up and delivers them, so `deliver` may
            // borrow from the caller and needs no lock, and a slow `deliver` slows the workers
            // down instead of piling up outcomes. The outcome of a file handed to the commit thread
            // is sent from there, once the file is renamed: a batch at once, with room for one on
            // top, so the commit thread is not held up mid-batch waiting for the delivery thread.
            let room = committer.as_ref().map_or(0, |c| c.capacity());
            let (sender, outcomes) = crossbeam_channel::bounded::<Outcome>(2 * jobs.max(1) + room);
            let delivery = scope.spawn(move || {
                let mut summary = Summary::default();
                for outcome in outcomes {
                    summary.add(&outcome);
                    deliver(outcome);
                }
                summary
            });
            let pool = ThreadPool::with_queue(jobs, context.config.read_ahead(), "pardl-file");
            // Names taken stay reserved for the whole run (two links of one run never share a
            // file), and are given back as a whole at its end, so running the same links again maps
            // them to the same files.
            let names = RunNames::open(&self.names, context.config.names);
            for item in links {
                if context.is_cancelled() {
                    break;
                }
                let index = read.links;
                read.links += 1;
                // A link that fails before any request ends here, on the reading thread.
                let failed = match item {
                    Ok(link) => {
                        // Named before it may be left out: see `naming`.
                        let name = names.name(index, &link, &context.config.dir);
                        if self.leave_out(&link.url, &mut read) {
                            continue;
                        }
                        context.progress.link_seen();
                        match name {
                            Ok(name) => {
                                let downloader = self.clone();
                                let context = Arc::clone(context);
                                let sender = sender.clone();
                                pool.execute(move || {
                                    let (outcome, committed) =
                                        downloader.download_named(&context, index, link, &name);
                                    deliver_when_committed(outcome, committed, &context, sender);
                                });
                                continue;
                            }
                            // Its `out=` name was refused: nothing is at the path it asked for.
                            Err(error) => Outcome {
                                path: Some(context.config.dir.join(wanted_name(&link))),
                                ..failed_before_start(link.url, link.origin, index, error)
                            },
                        }
                    }
                    Err(LinkError::Malformed {
                        origin,
                        text,
                        reason,
                    }) => {
                        // Sharded by its text, so exactly one shard reports it.
                        if self.leave_out(&text, &mut read) {
                            continue;
                        }
                        context.progress.link_seen();
                        let error = Error::MalformedLink {
                            text: text.clone(),
                            reason,
                        };
                        failed_before_start(text, origin, index, error)
                    }
                    Err(LinkError::Read(error)) => {
                        read.links -= 1;
                        read.input_error = Some(format!("reading links: {error}"));
                        break;
                    }
                };
                context.progress.count(&failed.status);
                let _ = sender.send(failed);
            }
            pool.wait_completion();
            drop(pool);
            if let Some(committer) = &committer {
                committer.close();
            }
            drop(sender);
            names.close();
            match delivery.join() {
                Ok(summary) => summary,
                // The caller's `on_outcome` panicked: the run is over, and so is the caller's call.
                Err(panic) => std::panic::resume_unwind(panic),
            }
        });
        summary.links_read = read.links;
        summary.other_shard = read.other_shard;
        summary.already_done = read.already_done;
        summary.input_error = read.input_error;
        summary.elapsed = started.elapsed();
        summary.cancelled = context.is_cancelled();
        summary
    }

    /// Whether `run` leaves the link with this URL out: it belongs to another shard
    /// ([`Config::shard`]) or an earlier report marks it `ok` ([`Config::skip_done`]). Counted in the
    /// summary; no request, no outcome.
    fn leave_out(&self, url: &str, read: &mut ReadCounts) -> bool {
        let config = &self.context.config;
        if config.shard.is_some_and(|shard| !shard.contains(url)) {
            read.other_shard += 1;
            true
        } else if config
            .skip_done
            .as_ref()
            .is_some_and(|done| done.contains(url))
        {
            read.already_done += 1;
            true
        } else {
            false
        }
    }

    /// Downloads one link on the calling thread (its chunks still use a child pool).
    pub fn download(&self, link: Link) -> Outcome {
        if let Err(error) = self.prepare_dir() {
            return failed_before_start(link.url, link.origin, 0, error);
        }
        // No commit thread here (the context has none): the file is renamed before this returns.
        let run = self.begin_run();
        if link.path.is_some() {
            return self.download_named(&run.context, 0, link, "").0;
        }
        let name = self.names.reserve(&wanted_name(&link));
        let (outcome, _) = self.download_named(&run.context, 0, link, &name);
        self.names.release(&name);
        outcome
    }

    /// Creates the output directory: what must hold before any link starts (the settings were
    /// checked by [`Downloader::new`]).
    fn prepare_dir(&self) -> Result<(), Error> {
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
    /// let downloader = pardl::Downloader::new(pardl::Config::default()).unwrap();
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
                failed_before_start(text, origin, 0, error)
            }
            // Parsing text reads nothing, so it cannot fail to read.
            Err(LinkError::Read(error)) => failed_before_start(
                text.to_string(),
                Origin::Argument(1),
                0,
                Error::MalformedLink {
                    text: text.to_string(),
                    reason: error.to_string(),
                },
            ),
        }
    }

    /// Downloads `link` to `name` in the output directory (or to the path the link names exactly)
    /// and counts how it ended; with the ticket of its rename if it went to the run's commit thread.
    fn download_named(
        &self,
        context: &Arc<Context>,
        index: u64,
        link: Link,
        name: &str,
    ) -> Delivery {
        let started = Instant::now();
        let (path, name) = match &link.path {
            Some(exact) => (exact.clone(), file_name_of(exact)),
            None => (context.config.dir.join(name), name.to_string()),
        };
        if context.is_cancelled() {
            // Queued before the cancel, never begun: nothing to resume, nothing on disk.
            let outcome = ended_before_start(link.url, link.origin, index, Status::NotStarted);
            context.progress.count(&outcome.status);
            let outcome = Outcome {
                path: Some(path),
                ..outcome
            };
            return (outcome, None);
        }
        let committed = Cell::new(None);
        let file = context.progress.new_file(&name);
        // A panic here is a bug; it must still end as a failed link, not as a missing outcome.
        let task = FileTask {
            context,
            names: &self.names,
            link: &link,
            file: &file,
            committed: &committed,
        };
        let result = match self.exact_paths.claim(&link) {
            Ok(_claim) => catch_unwind(AssertUnwindSafe(|| task.run(&path))).unwrap_or_else(|_| {
                Err(Error::Panicked {
                    url: link.url.clone(),
                })
            }),
            Err(error) => Err(error),
        };
        let status = match result {
            Ok(status) => status,
            Err(Error::Interrupted { .. }) => Status::Interrupted,
            Err(error) => Status::of_error(error),
        };
        context.progress.count(&status);
        let outcome = Outcome {
            index,
            url: link.url,
            origin: link.origin,
            // The server's answer may have renamed the file (see `server_named`).
            path: Some(path.with_file_name(file.name())),
            status,
            elapsed: started.elapsed(),
            transfer: file.transfer(),
        };
        (outcome, committed.take())
    }
}

/// What a file task ends with: its outcome, and the ticket of its rename when the run's commit
/// thread has still to do it.
type Delivery = (Outcome, Option<Arc<Ticket>>);

/// Sends `outcome` to the delivery thread, at once, or (for a file handed to the commit thread)
/// from the commit thread once the file is renamed: failed then if its flush or rename failed.
/// The delivery thread outlives the pool and the commit thread, so the send cannot fail.
fn deliver_when_committed(
    mut outcome: Outcome,
    committed: Option<Arc<Ticket>>,
    context: &Context,
    sender: Sender<Outcome>,
) {
    let Some(ticket) = committed else {
        let _ = sender.send(outcome);
        return;
    };
    let progress = Arc::clone(&context.progress);
    ticket.then(Box::new(move |result| {
        if let Err(error) = result {
            let status = Status::of_error(error);
            progress.recount(&outcome.status, &status);
            outcome.status = status;
        }
        let _ = sender.send(outcome);
    }));
}

/// What the reading loop of a run counts besides the outcomes.
#[derive(Debug, Default)]
struct ReadCounts {
    links: u64,
    other_shard: u64,
    already_done: u64,
    input_error: Option<String>,
}

/// A run's context, counted in the downloader's runs in progress until dropped (even by a panic).
struct RunInProgress {
    context: Arc<Context>,
    runs_in_progress: Arc<AtomicUsize>,
}

impl Drop for RunInProgress {
    fn drop(&mut self) {
        self.runs_in_progress.fetch_sub(1, Ordering::SeqCst);
    }
}
