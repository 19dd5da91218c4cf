//! The downloader: the outer pool over links, and the download of one file.
//!
//! [`Downloader::run`] reads links as they come and hands each to the outer [`ThreadPool`] (`jobs`
//! workers); its bounded queue makes the reader wait when every worker is busy, so a links file of a
//! million lines never becomes a million queued tasks. Each task downloads one file:
//!
//! 1. pick the final name (in link order, so reruns choose the same names) and skip it if it exists;
//! 2. probe: one `GET` for the first chunk, which says whether ranges work ([`crate::probe`]);
//! 3. ranges work: plan the chunks ([`ChunkPlan`]), size the `.part` file, and build the file's own
//!    child [`ThreadPool`] of `connections` workers, one task per chunk ([`crate::chunk`]); wait for it;
//! 4. no ranges: read the probe's answer as one stream ([`crate::stream`]);
//! 5. sync and rename the `.part` file to the final name ([`PartFile::finish`]); on failure delete it.
//!
//! [`Downloader::download`] does steps 1–5 for a single link on the calling thread, for library users
//! who bring their own threads.

use std::fs;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use parking_lot::Mutex;
use ureq::Agent;

use crate::chunk::{fetch_chunk, RangedJob};
use crate::config::Config;
use crate::error::Error;
use crate::http::build_agent;
use crate::links::{Link, LinkError};
use crate::name::{name_from_url, sanitize, NameReservations};
use crate::part::PartFile;
use crate::plan::ChunkPlan;
use crate::pool::ThreadPool;
use crate::probe::{probe, RangeProbe};
use crate::progress::{Finish, Progress};
use crate::report::{Outcome, Status, Summary};
use crate::retry::Backoff;
use crate::stream::StreamJob;

/// Downloads links; cheap to clone, usable from any thread.
///
/// ```no_run
/// use pardl::{Config, Downloader, Link, Origin};
///
/// let downloader = Downloader::new(Config { dir: "downloads".into(), ..Config::default() });
/// let link = Link::parse("https://example.com/big.iso out=big.iso", Origin::Argument(1)).unwrap();
/// let outcome = downloader.download(link);
/// println!("{}", outcome.line());
/// ```
#[derive(Debug, Clone)]
pub struct Downloader {
    shared: Arc<Shared>,
}

#[derive(Debug)]
struct Shared {
    config: Config,
    agent: Agent,
    progress: Arc<Progress>,
    names: NameReservations,
}

impl Downloader {
    /// A downloader with its own HTTP agent and counters.
    pub fn new(config: Config) -> Downloader {
        Downloader {
            shared: Arc::new(Shared {
                agent: build_agent(&config),
                config,
                progress: Arc::new(Progress::new()),
                names: NameReservations::new(),
            }),
        }
    }

    /// The live counters, for a progress display.
    pub fn progress(&self) -> Arc<Progress> {
        Arc::clone(&self.shared.progress)
    }

    /// The configuration in use.
    pub fn config(&self) -> &Config {
        &self.shared.config
    }

    /// Downloads every link, `jobs` files at once, calling `on_outcome` (from a worker thread) as each
    /// ends. Reading stops at an I/O error of the links source (reported in the summary); malformed
    /// lines fail on their own and the others still run.
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
        let pool = ThreadPool::with_name(self.shared.config.jobs, "pardl-file");
        for item in links {
            self.shared.progress.link_seen();
            match item {
                Ok(link) => {
                    // Names are reserved here, in link order, not in the workers: the same links file
                    // then maps to the same names on every run, which is what makes skipping work.
                    let name = self.reserve_name(&link);
                    let downloader = self.clone();
                    let finished = Arc::clone(&finished);
                    pool.execute(move || finished(downloader.download_named(link, &name)));
                }
                Err(LinkError::Malformed {
                    origin,
                    text,
                    reason,
                }) => {
                    self.shared.progress.finish(Finish::Failed);
                    finished(Outcome {
                        url: text.clone(),
                        origin,
                        path: None,
                        status: Status::Failed(Error::MalformedLink { text, reason }),
                        elapsed: std::time::Duration::ZERO,
                    });
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
        let mut summary = summary.lock();
        summary.elapsed = started.elapsed();
        std::mem::take(&mut *summary)
    }

    /// Downloads one link on the calling thread (its chunks still use a child pool).
    pub fn download(&self, link: Link) -> Outcome {
        if let Err(error) = self.prepare_dir() {
            return Outcome {
                url: link.url,
                origin: link.origin,
                path: None,
                status: Status::Failed(error),
                elapsed: std::time::Duration::ZERO,
            };
        }
        let name = self.reserve_name(&link);
        self.download_named(link, &name)
    }

    fn prepare_dir(&self) -> Result<(), Error> {
        let dir = &self.shared.config.dir;
        fs::create_dir_all(dir).map_err(|e| Error::io("create directory", dir, e))
    }

    fn reserve_name(&self, link: &Link) -> String {
        let wanted = match &link.out {
            Some(out) => sanitize(out),
            None => name_from_url(&link.url),
        };
        self.shared.names.reserve(&wanted)
    }

    /// Downloads `link` to `name` in the output directory and counts how it ended.
    fn download_named(&self, link: Link, name: &str) -> Outcome {
        let started = Instant::now();
        let path = self.shared.config.dir.join(name);
        // A panic here is a bug; it must still end as a failed link, not as a missing outcome.
        let status = catch_unwind(AssertUnwindSafe(|| self.fetch_file(&link.url, name, &path)))
            .unwrap_or_else(|_| {
                Err(Error::Panicked {
                    url: link.url.clone(),
                })
            });
        let (status, finish) = match status {
            Ok(status @ Status::Skipped) => (status, Finish::Skipped),
            Ok(status) => (status, Finish::Ok),
            Err(error) => (Status::Failed(error), Finish::Failed),
        };
        self.shared.progress.finish(finish);
        Outcome {
            url: link.url,
            origin: link.origin,
            path: Some(path),
            status,
            elapsed: started.elapsed(),
        }
    }

    fn fetch_file(&self, url: &str, name: &str, final_path: &Path) -> Result<Status, Error> {
        let config = &self.shared.config;
        if !config.overwrite && exists(final_path) {
            log::info!(
                "{} exists, skipping {}",
                final_path.display(),
                crate::http::redact_url(url)
            );
            return Ok(Status::Skipped);
        }
        let progress = &self.shared.progress;
        let file = progress.start_file(name);
        let backoff = Backoff::new(config.max_tries, config.retry_wait);
        let result = match probe(&self.shared.agent, url, config.min_chunk, backoff.clone()) {
            Ok(RangeProbe::Ranged {
                total,
                first_end,
                response,
                final_url,
            }) => {
                progress.set_size(&file, total);
                let part = PartFile::create(final_path, Some(total))?;
                let plan = ChunkPlan::new(total, first_end, config.connections, config.min_chunk);
                log::debug!(
                    "{}: {total} bytes in {} chunks over up to {} connections",
                    crate::http::redact_url(url),
                    plan.chunks().len(),
                    config.connections
                );
                let job = RangedJob::new(
                    final_url,
                    self.shared.agent.clone(),
                    part,
                    plan,
                    Arc::clone(progress),
                    Arc::clone(&file),
                    config.max_tries,
                    config.retry_wait,
                );
                fetch_ranged(job, response, config.connections, final_path)
            }
            Ok(RangeProbe::Whole {
                length,
                response,
                final_url,
            }) => {
                if let Some(length) = length {
                    progress.set_size(&file, length);
                }
                let part = PartFile::create(final_path, length)?;
                let stream = StreamJob {
                    url: &final_url,
                    agent: &self.shared.agent,
                    part: &part,
                    progress,
                    file: &file,
                };
                match stream.run(response, backoff) {
                    Ok(bytes) => part.finish().map(|_| Status::Downloaded {
                        bytes,
                        ranged: false,
                    }),
                    Err(error) => {
                        part.discard();
                        Err(error)
                    }
                }
            }
            Err(error) => Err(error),
        };
        progress.end_file(&file);
        result
    }
}

/// Runs the chunks of one file on the file's own child pool and finishes the file.
fn fetch_ranged(
    job: RangedJob,
    first: ureq::http::Response<ureq::Body>,
    connections: usize,
    final_path: &Path,
) -> Result<Status, Error> {
    let chunk_count = job.plan.chunks().len();
    let total = job.plan.total();
    let url = job.url.clone();
    let job = Arc::new(job);
    let pool = ThreadPool::try_with_name(connections.clamp(1, chunk_count), "pardl-chunk")
        .map_err(|e| Error::io("start download threads for", final_path, e))?;
    let mut first = Some(first);
    for index in 0..chunk_count {
        let job = Arc::clone(&job);
        let response = first.take();
        pool.execute(move || fetch_chunk(&job, index, response));
    }
    pool.wait_completion();
    let panicked = pool.panicked_tasks();
    // Dropping the pool joins its workers, and with them every task's handle on the job.
    drop(pool);
    let Ok(job) = Arc::try_unwrap(job) else {
        return Err(Error::Panicked { url });
    };
    if let Some(error) = job.take_failure() {
        job.part.discard();
        return Err(error);
    }
    if panicked > 0 || !job.plan.is_complete() {
        job.part.discard();
        return Err(Error::Panicked { url });
    }
    job.part.finish()?;
    Ok(Status::Downloaded {
        bytes: total,
        ranged: true,
    })
}

/// Whether something (a file, a directory, even a dangling link) is at `path`.
fn exists(path: &Path) -> bool {
    fs::symlink_metadata(path).is_ok()
}
