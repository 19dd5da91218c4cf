//! One file's task: everything that happens to one link on a worker of the outer pool.
//!
//! [`FileTask::run`] takes a link from its final name to a finished file:
//!
//! 1. skip it if the file exists (unless `--overwrite`);
//! 2. resume from `NAME.part.pardl` if an earlier run left one ([`ControlFile`]), else
//! 3. probe: one `GET` for the first chunk, which says whether ranges work ([`probe`]); for a link
//!    without `out=`, a `Content-Disposition` file name or a redirect may name the file now
//!    ([`FileTask::server_named`]): that name is reserved when the answer arrives, and checked for
//!    skip and resume then;
//! 4. ranges work: plan the chunks ([`ChunkPlan`]), size the `.part` file, and hand them to the
//!    file's own child pool ([`child_pool`]), which saves the resume state every second meanwhile;
//! 5. no ranges: read the probe's answer as one stream ([`stream`]);
//! 6. check the SHA-256 if the link gives one, sync and rename the `.part` file to the final name
//!    ([`PartFile::finish`]).
//!
//! A file that changed on the server mid-download starts again once from scratch; a server that stops
//! honouring ranges gets the file as one stream; an interrupted or failed ranged download keeps its
//! `.part` and control file so the same command continues it.

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::disk::checksum::{sha256_file, verify};
use crate::disk::control::ControlFile;
use crate::disk::names::{name_from_answer, NameReservations};
use crate::disk::part::PartFile;
use crate::error::Error;
use crate::http::header;
use crate::http::url::{host_of, redact_url};
use crate::run::context::Context;
use crate::run::links::Link;
use crate::run::outcome::Status;
use crate::run::progress::FileProgress;

pub(crate) mod answer;
pub(crate) mod body;
pub(crate) mod child_pool;
pub(crate) mod chunk;
pub(crate) mod mirrors;
pub(crate) mod plan;
pub(crate) mod probe;
pub(crate) mod ranged;
pub(crate) mod request;
pub(crate) mod retry;
pub(crate) mod split;
pub(crate) mod stream;

use child_pool::run_chunks;
use mirrors::probe_link;
use plan::ChunkPlan;
use probe::RangeProbe;
use ranged::RangedJob;
use request::InFlight;
use retry::Backoff;
use stream::StreamJob;

/// One link's download, run on the calling thread (a worker of the outer pool, or a library user's
/// own thread).
pub(crate) struct FileTask<'a> {
    /// The run's shared state.
    pub(crate) context: &'a Arc<Context>,
    /// The run's names, for a name the server's answer chooses.
    pub(crate) names: &'a NameReservations,
    /// The link being downloaded.
    pub(crate) link: &'a Link,
    /// Its counters (the display and the outcome read them).
    pub(crate) file: &'a Arc<FileProgress>,
}

impl FileTask<'_> {
    /// Downloads the file to `final_path` (or skips it), starting over once if it changes on the
    /// server meanwhile.
    pub(crate) fn run(&self, final_path: &Path) -> Result<Status, Error> {
        let (link, file) = (self.link, self.file);
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
        let mut result = self.fetch_version(final_path);
        if let Err(Error::FileChanged { reason, .. }) = &result {
            // Never mix bytes of two versions: everything written so far is thrown away, once.
            log::warn!(
                "{}: the file changed on the server ({reason}); downloading it again from scratch",
                redact_url(&link.url)
            );
            progress.rewind(file);
            result = self.fetch_version(final_path);
        }
        progress.end_file(file);
        result
    }

    /// One attempt at the file as the server has it now: resume, or probe and start.
    fn fetch_version(&self, final_path: &Path) -> Result<Status, Error> {
        let (link, file) = (self.link, self.file);
        let context = &self.context;
        let config = &context.config;
        if let Some(job) = self.resume(final_path)? {
            return self.run_ranged(job, None);
        }
        let (answer, mirrors) = probe_link(context, link, config.min_chunk, file)?;
        file.set_final_url(answer.final_url());
        let named = self.server_named(final_path, &answer);
        let final_path = named.as_deref().unwrap_or(final_path);
        if named.is_some() {
            // The skip and resume checks so far were for the URL's name; now they are made for the
            // server's (dropping its answer when they apply).
            if !config.overwrite && exists(final_path) {
                log::info!("{} exists, skipping", final_path.display());
                return Ok(Status::Skipped);
            }
            if let Some(job) = self.resume(final_path)? {
                // The probe's answer holds one of the host's connection slots; the resumed chunks
                // need it (with one slot per host they would wait for it forever).
                drop(answer);
                return self.run_ranged(job, None);
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
                )
                .with_mirrors(mirrors);
                self.run_ranged(job, Some(first))
            }
            RangeProbe::Whole { first, final_url } => {
                let length = first.response.body().content_length();
                let part = PartFile::create(final_path, length)?;
                self.run_stream(part, &final_url, Some(first))
            }
        }
    }

    /// The path named by the server's answer, for a link without `out=` whose answer gives another
    /// name than its URL did (`Content-Disposition`, else the URL after redirects). Such a name can
    /// only be chosen, and reserved, when the answer arrives, so unlike names from `out=` or the URL
    /// it is not decided in link order, and the skip check for it comes after the probe.
    fn server_named(&self, final_path: &Path, answer: &RangeProbe) -> Option<PathBuf> {
        let (link, file) = (self.link, self.file);
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
    fn resume(&self, final_path: &Path) -> Result<Option<RangedJob>, Error> {
        let (link, file) = (self.link, self.file);
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
        let saved_mirrors: Vec<&String> = control.mirrors.iter().map(|(url, _)| url).collect();
        if saved_mirrors != link.mirrors.iter().collect::<Vec<_>>() {
            return start_over("resume state of the same link with other mirrors".into());
        }
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
        progress.add_existing(file, plan.written());
        log::info!(
            "resuming {}: {} of {} bytes already there",
            final_path.display(),
            plan.written(),
            control.total
        );
        Ok(Some(
            RangedJob::new(
                Arc::clone(self.context),
                link.url.clone(),
                link.url.clone(),
                part,
                plan,
                control.validators.clone(),
                Arc::clone(file),
                control_path,
            )
            .with_saved_control()
            .with_saved_mirrors(&control),
        ))
    }

    /// Runs the chunks of the file on its own child pool, then finishes the file.
    fn run_ranged(&self, job: RangedJob, first: Option<InFlight>) -> Result<Status, Error> {
        let (job, panicked) = run_chunks(job, first, self.context.config.connections)?;
        self.finish_ranged(job, panicked)
    }

    /// Ends a ranged download whose chunks have all stopped: falls back, fails, keeps it for resume, or
    /// checks and renames it.
    fn finish_ranged(&self, job: RangedJob, panicked: usize) -> Result<Status, Error> {
        let link = self.link;
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
                let RangedJob { part, url, .. } = job;
                self.run_stream(part, &url, None)
            }
            // One mirror's file changed, others are alive: what it delivered is fetched from them.
            Some(Error::FileChanged { .. }) if job.forget_changed_mirror() => {
                self.run_ranged(job, None)
            }
            Some(error @ Error::FileChanged { .. }) => {
                job.remove_control();
                job.part.discard();
                Err(error)
            }
            Some(error) => {
                job.keep_for_resume();
                Err(error)
            }
            None if self.context.is_cancelled() && !complete => {
                job.keep_for_resume();
                Err(Error::Interrupted {
                    url: link.url.clone(),
                })
            }
            None if panicked > 0 || !complete => {
                job.keep_for_resume();
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

    /// Downloads the file as one stream into `part` and finishes it.
    fn run_stream(
        &self,
        part: PartFile,
        url: &str,
        first: Option<InFlight>,
    ) -> Result<Status, Error> {
        let (link, file) = (self.link, self.file);
        let config = &self.context.config;
        let stream = StreamJob {
            context: self.context,
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

/// Whether something (a file, a directory, even a dangling link) is at `path`.
fn exists(path: &Path) -> bool {
    fs::symlink_metadata(path).is_ok()
}
