//! The downloader: the outer pool over links, and the download of one file.
//!
//! [`Downloader::run`] reads links as they come and hands each to the outer [`ThreadPool`] (`jobs`
//! workers); its bounded queue makes the reader wait when every worker is busy, so a links file of a
//! million lines never becomes a million queued tasks. Each task downloads one file:
//!
//! 1. pick the final name (in link order, so reruns choose the same names; links of another
//!    `--shard` or done earlier (`--skip-done`) take theirs too, then are left out) and skip it if it
//!    exists;
//! 2. resume from `NAME.part.pardl` if an earlier run left one ([`crate::control`]), else
//! 3. probe: one `GET` for the first chunk, which says whether ranges work ([`crate::probe`]); for a
//!    link without `out=`, a `Content-Disposition` file name or a redirect may name the file now
//!    (`server_named`): that name is reserved when the answer arrives, and checked for skip and
//!    resume then;
//! 4. ranges work: plan the chunks ([`ChunkPlan`]), size the `.part` file, and build the file's own
//!    child [`ThreadPool`] of `connections` workers, one task per chunk ([`crate::chunk`]); while it
//!    works, save the resume state every second;
//! 5. no ranges: read the probe's answer as one stream ([`crate::stream`]);
//! 6. check the SHA-256 if the link gives one, sync and rename the `.part` file to the final name
//!    ([`PartFile::finish`]).
//!
//! A file that changed on the server mid-download starts again once from scratch; a server that stops
//! honouring ranges gets the file as one stream; an interrupted or failed ranged download keeps its
//! `.part` and control file so the same command continues it.
//!
//! [`Downloader::download`] does all this for a single link on the calling thread, for library users
//! who bring their own threads.

use std::fs;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::Mutex;

use crate::cancel::CancelHandle;
use crate::checksum::{sha256_file, verify};
use crate::chunk::{fetch_chunk, RangedJob, CHECKPOINT_PERIOD};
use crate::config::Config;
use crate::context::Context;
use crate::control::ControlFile;
use crate::error::Error;
use crate::http::{header, host_of, redact_url, InFlight};
use crate::links::{Link, LinkError, Origin};
use crate::name::{name_from_answer, name_from_url, sanitize, NameReservations};
use crate::part::PartFile;
use crate::plan::ChunkPlan;
use crate::pool::ThreadPool;
use crate::probe::{probe, RangeProbe};
use crate::progress::{FileProgress, Finish, Progress};
use crate::report::{Outcome, Status, Summary, Transfer};
use crate::retry::Backoff;
use crate::stream::StreamJob;

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
    /// use pardl::{done::DoneLinks, shard::Shard, Config, Downloader, LinkReader};
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
                    self.context.progress.finish(Finish::Failed);
                    let error = Error::MalformedLink {
                        text: text.clone(),
                        reason,
                    };
                    finished(failed_before_start(text, origin, error));
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
        let result = catch_unwind(AssertUnwindSafe(|| self.fetch_file(&link, &file, &path)))
            .unwrap_or_else(|_| {
                Err(Error::Panicked {
                    url: link.url.clone(),
                })
            });
        let (status, finish) = match result {
            Ok(status @ Status::Skipped) => (status, Some(Finish::Skipped)),
            Ok(status) => (status, Some(Finish::Ok)),
            Err(Error::Interrupted { .. }) => (Status::Interrupted, Some(Finish::Interrupted)),
            Err(error) => (Status::Failed(error), Some(Finish::Failed)),
        };
        if let Some(finish) = finish {
            self.context.progress.finish(finish);
        }
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

    fn fetch_file(
        &self,
        link: &Link,
        file: &Arc<FileProgress>,
        final_path: &Path,
    ) -> Result<Status, Error> {
        if self.context.is_cancelled() {
            return Err(Error::Interrupted {
                url: link.url.clone(),
            });
        }
        if !self.context.config.overwrite && exists(final_path) {
            log::info!(
                "{} exists, skipping {}",
                final_path.display(),
                redact_url(&link.url)
            );
            return Ok(Status::Skipped);
        }
        let progress = &self.context.progress;
        progress.activate(file);
        self.context
            .trust_host(&host_of(&link.url).unwrap_or_default());
        let mut result = self.fetch_version(link, final_path, file);
        if let Err(Error::FileChanged { reason, .. }) = &result {
            // Never mix bytes of two versions: everything written so far is thrown away, once.
            log::warn!(
                "{}: the file changed on the server ({reason}); downloading it again from scratch",
                redact_url(&link.url)
            );
            progress.rewind(file);
            result = self.fetch_version(link, final_path, file);
        }
        progress.end_file(file);
        result
    }

    /// One attempt at the file as the server has it now: resume, or probe and start.
    fn fetch_version(
        &self,
        link: &Link,
        final_path: &Path,
        file: &Arc<FileProgress>,
    ) -> Result<Status, Error> {
        let context = &self.context;
        let config = &context.config;
        if let Some(job) = self.resume(link, final_path, file)? {
            return self.run_ranged(link, job, None);
        }
        let backoff = Backoff::new(config.max_tries, config.retry_wait);
        let answer = probe(context, &link.url, config.min_chunk, backoff, file)?;
        file.set_final_url(answer.final_url());
        let named = self.server_named(link, final_path, &answer, file);
        let final_path = named.as_deref().unwrap_or(final_path);
        if named.is_some() {
            // The skip and resume checks so far were for the URL's name; now they are made for the
            // server's (dropping its answer when they apply).
            if !config.overwrite && exists(final_path) {
                log::info!("{} exists, skipping", final_path.display());
                return Ok(Status::Skipped);
            }
            if let Some(job) = self.resume(link, final_path, file)? {
                // The probe's answer holds one of the host's connection slots; the resumed chunks
                // need it (with one slot per host they would wait for it forever).
                drop(answer);
                return self.run_ranged(link, job, None);
            }
        }
        let control_path = ControlFile::path_for(final_path);
        match answer {
            RangeProbe::Ranged {
                total,
                first_end,
                first,
                final_url,
                validators,
            } => {
                // No stale control file can be left here: `resume` found none, or removed the one it
                // could not use.
                context.progress.set_size(file, total);
                let part = PartFile::create(final_path, Some(total))?;
                let plan = ChunkPlan::new(total, first_end, config.connections, config.min_chunk);
                log::debug!(
                    "{}: {total} bytes in {} chunks over up to {} connections",
                    redact_url(&link.url),
                    plan.chunks().len(),
                    config.connections
                );
                let job = RangedJob::new(
                    Arc::clone(context),
                    link.url.clone(),
                    final_url,
                    part,
                    plan,
                    validators,
                    Arc::clone(file),
                    control_path,
                );
                self.run_ranged(link, job, Some(first))
            }
            RangeProbe::Whole { first, final_url } => {
                let length = first.response.body().content_length();
                let part = PartFile::create(final_path, length)?;
                self.run_stream(link, part, &final_url, Some(first), file)
            }
        }
    }

    /// The path named by the server's answer, for a link without `out=` whose answer gives another
    /// name than its URL did (`Content-Disposition`, else the URL after redirects). Such a name can
    /// only be chosen, and reserved, when the answer arrives, so unlike names from `out=` or the URL
    /// it is not decided in link order, and the skip check for it comes after the probe.
    fn server_named(
        &self,
        link: &Link,
        final_path: &Path,
        answer: &RangeProbe,
        file: &FileProgress,
    ) -> Option<PathBuf> {
        if link.out.is_some() {
            return None;
        }
        let reserved = final_path.file_name()?.to_str()?;
        let earlier = file.name();
        if earlier != reserved {
            // An earlier attempt at this file (before it changed on the server) got the server's
            // name: the file keeps it.
            return Some(final_path.with_file_name(earlier));
        }
        let disposition = header(answer.response(), "content-disposition");
        let wanted = name_from_answer(&link.url, answer.final_url(), disposition)?;
        let name = self.names.reserve_instead(reserved, &wanted);
        file.set_name(&name);
        Some(final_path.with_file_name(name))
    }

    /// The ranged download an earlier run left, if its control file and `.part` file fit this link.
    fn resume(
        &self,
        link: &Link,
        final_path: &Path,
        file: &Arc<FileProgress>,
    ) -> Result<Option<RangedJob>, Error> {
        let control_path = ControlFile::path_for(final_path);
        let start_over = |why: String| {
            log::warn!(
                "{}: {why}; starting {} from scratch",
                control_path.display(),
                final_path.display()
            );
            ControlFile::remove(&control_path);
            Ok(None)
        };
        let control = match ControlFile::load(&control_path) {
            Ok(None) => return Ok(None),
            Ok(Some(control)) => control,
            Err(reason) => return start_over(format!("unusable resume state ({reason})")),
        };
        if control.url != link.url {
            return start_over(format!(
                "resume state of another link ({})",
                redact_url(&control.url)
            ));
        }
        let Some(plan) = control.plan() else {
            return start_over("inconsistent chunks".into());
        };
        let Some(part) = PartFile::reopen(final_path, control.total)? else {
            return start_over("the .part file is missing or has another size".into());
        };
        if control.validators.if_range().is_none() {
            log::info!(
                "{}: the server gave no ETag or Last-Modified; only the size can show whether the file changed",
                redact_url(&link.url)
            );
        }
        let progress = &self.context.progress;
        progress.set_size(file, control.total);
        progress.add_existing(file, plan.done());
        log::info!(
            "resuming {}: {} of {} bytes already there",
            final_path.display(),
            plan.done(),
            control.total
        );
        Ok(Some(
            RangedJob::new(
                Arc::clone(&self.context),
                link.url.clone(),
                link.url.clone(),
                part,
                plan,
                control.validators,
                Arc::clone(file),
                control_path,
            )
            .with_saved_control(),
        ))
    }

    /// Runs the chunks of one file on the file's own child pool and finishes the file.
    fn run_ranged(
        &self,
        link: &Link,
        job: RangedJob,
        first: Option<InFlight>,
    ) -> Result<Status, Error> {
        let incomplete: Vec<usize> = (0..job.plan.chunks().len())
            .filter(|&i| !job.plan.chunks()[i].is_complete())
            .collect();
        if incomplete.len() == 1 && first.is_some() {
            // The whole file fits in the probe's answer (it is no bigger than `--min-chunk`): there is
            // nothing to share out, so the file's task reads it itself instead of starting a child
            // pool of one thread. Small files are the common case in a long links file, and this
            // saves two thread starts per file.
            fetch_chunk(&job, incomplete[0], first);
            return self.finish_ranged(link, job, 0);
        }
        let job = Arc::new(job);
        let workers = self
            .context
            .config
            .connections
            .clamp(1, incomplete.len().max(1));
        let pool = ThreadPool::try_with_name(workers, "pardl-chunk")
            .map_err(|e| Error::io("start download threads for", job.part.part_path(), e))?;
        let mut first = first;
        for index in incomplete {
            let job = Arc::clone(&job);
            // The probe's response carries chunk 0, which is always incomplete on a fresh start.
            let response = if index == 0 { first.take() } else { None };
            pool.execute(move || fetch_chunk(&job, index, response));
        }
        while !pool.wait_completion_timeout(CHECKPOINT_PERIOD) {
            job.checkpoint(false);
        }
        let panicked = pool.panicked_tasks();
        // Dropping the pool joins its workers, and with them every task's handle on the job.
        drop(pool);
        let job = Arc::try_unwrap(job).map_err(|_| Error::Panicked {
            url: link.url.clone(),
        })?;
        self.finish_ranged(link, job, panicked)
    }

    /// Ends a ranged download whose chunks have all stopped: falls back, fails, keeps it for resume, or
    /// checks and renames it.
    fn finish_ranged(&self, link: &Link, job: RangedJob, panicked: usize) -> Result<Status, Error> {
        let complete = job.plan.is_complete();
        let failure = job.take_failure();
        match failure {
            Some(Error::RangeIgnored { .. }) => {
                log::warn!(
                    "{}: the server stopped honouring ranges; downloading the file again as one stream",
                    redact_url(&link.url)
                );
                job.remove_control();
                self.context.progress.rewind(&job.file);
                let RangedJob {
                    part, url, file, ..
                } = job;
                self.run_stream(link, part, &url, None, &file)
            }
            Some(error @ Error::FileChanged { .. }) => {
                job.remove_control();
                job.part.discard();
                Err(error)
            }
            Some(error) => {
                self.keep_for_resume(job);
                Err(error)
            }
            None if self.context.is_cancelled() && !complete => {
                self.keep_for_resume(job);
                Err(Error::Interrupted {
                    url: link.url.clone(),
                })
            }
            None if panicked > 0 || !complete => {
                self.keep_for_resume(job);
                Err(Error::Panicked {
                    url: link.url.clone(),
                })
            }
            None => {
                if let Some(expected) = &link.sha256 {
                    let actual = sha256_file(job.part.part_path())?;
                    job.file.set_sha256(&actual);
                    if let Err(error) = verify(&link.url, expected, actual) {
                        job.remove_control();
                        job.part.discard();
                        return Err(error);
                    }
                }
                let total = job.plan.total();
                let control_path = job.saved_control().map(Path::to_path_buf);
                job.part.finish()?;
                // Only after the rename: a crash in between leaves a complete file plus a stale
                // control file, never a control file without its data.
                if let Some(control_path) = control_path {
                    ControlFile::remove(&control_path);
                }
                Ok(Status::Downloaded {
                    bytes: total,
                    ranged: true,
                })
            }
        }
    }

    /// Saves the state of an unfinished ranged download so the same command continues it.
    fn keep_for_resume(&self, job: RangedJob) {
        job.checkpoint(true);
        log::info!(
            "kept {} ({} of {} bytes) to resume later",
            job.part.part_path().display(),
            job.plan.done(),
            job.plan.total()
        );
        job.part.keep();
    }

    /// Downloads the file as one stream into `part` and finishes it.
    fn run_stream(
        &self,
        link: &Link,
        part: PartFile,
        url: &str,
        first: Option<InFlight>,
        file: &Arc<FileProgress>,
    ) -> Result<Status, Error> {
        let config = &self.context.config;
        let stream = StreamJob {
            context: &self.context,
            url,
            part: &part,
            file,
            hash: link.sha256.is_some(),
        };
        let result = stream.run(first, Backoff::new(config.max_tries, config.retry_wait));
        let streamed = match result {
            Ok(streamed) => streamed,
            Err(error) => {
                part.discard();
                return Err(error);
            }
        };
        if let (Some(expected), Some(actual)) = (&link.sha256, streamed.sha256) {
            file.set_sha256(&actual);
            if let Err(error) = verify(&link.url, expected, actual) {
                part.discard();
                return Err(error);
            }
        }
        part.finish()?;
        Ok(Status::Downloaded {
            bytes: streamed.len,
            ranged: false,
        })
    }
}

/// The name `link` asks for: its `out=`, else the one its URL suggests.
fn wanted_name(link: &Link) -> String {
    match &link.out {
        Some(out) => sanitize(out),
        None => name_from_url(&link.url),
    }
}

/// Whether something (a file, a directory, even a dangling link) is at `path`.
fn exists(path: &Path) -> bool {
    fs::symlink_metadata(path).is_ok()
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
