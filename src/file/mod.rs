//! One file's task: everything that happens to one link on a worker of the outer pool.
//!
//! [`FileTask::run`] takes a link from its final name to a finished file:
//!
//! 1. skip it if the file exists (unless `--overwrite` or `--check-existing`: [`IfExists`]);
//! 2. open and lock `NAME.part` ([`PartFile::lock`]): another pardl working on the same file makes
//!    the link fail as `locked`, untouched; everything below happens under the lock. A new file
//!    with no `.part` or control file of an earlier run starts without a name instead
//!    ([`PartFile::create_unnamed`]), which no other process can see; it gets its `.part` name
//!    once the probe shows it is big, or when its resume state is first saved
//!    ([`PartFile::give_name`]);
//! 3. resume from `NAME.part.pardl` if an earlier run left one ([`ControlFile`]), else empty the
//!    `.part` and
//! 4. probe: one `GET` for the whole file as a range, which says whether ranges work and whose answer
//!    carries the first connection's range ([`probe`]); for a link
//!    without `out=`, a `Content-Disposition` file name or a redirect may name the file now
//!    ([`FileTask::server_named`]): that name is reserved when the answer arrives, and checked for
//!    skip, lock and resume then;
//! 5. ranges work: plan the chunks ([`ChunkPlan`]) and hand them to the file's own child pool
//!    ([`child_pool`]), which sizes the `.part` file once the first answer has delivered, and saves
//!    the resume state every second meanwhile;
//! 6. no ranges: read the probe's answer as one stream ([`stream`]);
//! 7. check the file's checksum if the link (or a `--checksum-file`, by the final name) gives one,
//!    set its time to the server's `Last-Modified` with `--remote-time`, and commit it
//!    ([`finish`]): flush and rename the `.part` file to the final name ([`PartFile::finish`]), or,
//!    in a run with `--sync batch`, hand it to the run's commit thread, which flushes it with the
//!    files that finish meanwhile and then renames it; either way the rename checks first that it
//!    is still the file this task opened, with the planned size.
//!
//! A file that changed on the server mid-download starts again once from scratch; a server that stops
//! honouring ranges gets the file as one stream; an interrupted or failed ranged download keeps its
//! `.part` and control file so the same command continues it.

use std::cell::Cell;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::disk::checksum::hash_reader;
use crate::disk::commit::Ticket;
use crate::disk::control::ControlFile;
use crate::disk::names::{name_from_answer, NameReservations};
use crate::disk::open::open_existing;
use crate::disk::part::{part_path_for, PartFile};
use crate::error::Error;
use crate::http::header;
use crate::http::url::redact_url;
use crate::run::config::{IfExists, Names};
use crate::run::context::Context;
use crate::run::links::Link;
use crate::run::outcome::Status;
use crate::run::progress::FileProgress;

pub(crate) mod answer;
pub(crate) mod body;
pub(crate) mod child_pool;
pub(crate) mod chunk;
mod finish;
pub(crate) mod mirrors;
pub(crate) mod plan;
pub(crate) mod probe;
pub(crate) mod ranged;
pub(crate) mod request;
pub(crate) mod retry;
pub(crate) mod split;
pub(crate) mod stream;
pub(crate) mod window;

use child_pool::run_chunks;
use mirrors::probe_link;
use plan::ChunkPlan;
use probe::{FirstAnswer, RangeProbe};
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
    /// The commit ticket of the file once it is handed to the run's commit thread: its outcome is
    /// reported only when the ticket is kept (the file renamed).
    pub(crate) committed: &'a Cell<Option<Arc<Ticket>>>,
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
        if self.context.config.if_exists == IfExists::Skip && self.final_exists(final_path) {
            // Debug, not info: the outcome's `skip` line says it already, and `-v` must not say it
            // twice.
            log::debug!(
                "{} exists, skipping {}",
                final_path.display(),
                redact_url(&link.url)
            );
            return Ok(Status::Skipped);
        }
        let progress = &self.context.progress;
        progress.activate(file);
        self.context.trust_link(&link.url);
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
        let part = match self.open_part(final_path)? {
            Locked::Part(part) => part,
            Locked::Skipped => return Ok(Status::Skipped),
        };
        let part = match self.resume(final_path, part)? {
            Resumed::Job(job) => return self.run_ranged(*job, None),
            Resumed::Fresh(part) => part,
        };
        let (answer, mirrors) = match probe_link(context, link, file) {
            Ok(answer) => answer,
            Err(error) => {
                // Nothing was written: the empty `.part` goes.
                part.discard();
                return Err(error);
            }
        };
        file.set_final_url(answer.final_url());
        let named = self.server_named(final_path, &answer);
        let final_path = named.as_deref().unwrap_or(final_path);
        let part = if named.is_some() {
            // The skip, lock and resume steps so far were for the URL's name; now they are taken
            // for the server's (dropping its answer when they apply). The URL's `.part` was empty.
            part.discard();
            if config.if_exists == IfExists::Skip && self.final_exists(final_path) {
                log::debug!("{} exists, skipping", final_path.display());
                return Ok(Status::Skipped);
            }
            let part = match self.open_part(final_path)? {
                Locked::Part(part) => part,
                Locked::Skipped => return Ok(Status::Skipped),
            };
            match self.resume(final_path, part)? {
                Resumed::Job(job) => {
                    // The probe's answer holds one of the host's connection slots; the resumed
                    // chunks need it (with one slot per host they would wait for it forever).
                    drop(answer);
                    return self.run_ranged(*job, None);
                }
                Resumed::Fresh(part) => part,
            }
        } else {
            part
        };
        if config.if_exists == IfExists::Check && self.existing_is_current(final_path, &answer)? {
            log::debug!(
                "{} exists and matches the server's, skipping",
                final_path.display()
            );
            // As when skipping an existing file: this task's empty `.part` goes, an earlier one stays.
            if part.len()? == 0 {
                part.discard();
            } else {
                part.keep();
            }
            return Ok(Status::Skipped);
        }
        let control_path = ControlFile::path_for(final_path);
        match answer {
            RangeProbe::Ranged {
                total,
                first,
                final_url,
                validators,
            } => {
                // No stale control file can be left here: `resume` found none, or removed the one it
                // could not use. The `.part` is sized later, once the answer has delivered.
                context.progress.set_size(file, total);
                part.name_if_big(Some(total))?;
                let plan = ChunkPlan::new(total, first.end, config.connections, config.min_chunk);
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
                part.name_if_big(first.response.body().content_length())?;
                self.run_stream(part, &final_url, Some(first))
            }
        }
    }

    /// Whether the file already under `final_path` is the one the server has (`--check-existing`):
    /// the size the answer gives, and the link's SHA-256 when it has one. A size the server does
    /// not tell cannot be checked, so such a file is fetched again.
    fn existing_is_current(&self, final_path: &Path, answer: &RangeProbe) -> Result<bool, Error> {
        // Opened as every file in the output directory is: no link followed, nothing but a regular
        // file read. Anything else there is not a current copy.
        let Ok(Some(existing)) = open_existing(final_path, false) else {
            return Ok(false);
        };
        let local_size = existing
            .metadata()
            .map_err(|e| Error::io("read the size of", final_path, e))?
            .len();
        let server_size = match answer {
            RangeProbe::Ranged { total, .. } => Some(*total),
            RangeProbe::Whole { first, .. } => first.response.body().content_length(),
        };
        if server_size != Some(local_size) {
            return Ok(false);
        }
        match self.expected_checksum(final_path) {
            Ok(Some(expected)) => {
                let actual = hash_reader(existing, expected.algorithm)
                    .map_err(|e| Error::io("read for checksum", final_path, e))?;
                Ok(actual == expected)
            }
            Ok(None) => Ok(true),
            // Two digests for the name: it cannot be shown current, so it is fetched again (and
            // that download fails its check).
            Err(_) => Ok(false),
        }
    }

    /// The `.part` file of `final_path` for this task: one without a name when no `.part` or
    /// control file of an earlier run is there to take over ([`PartFile::create_unnamed`]), else
    /// the named one, locked ([`FileTask::lock`]).
    fn open_part(&self, final_path: &Path) -> Result<Locked, Error> {
        let context = self.context;
        // A file without a name gets its final name by a link, which never replaces a file there:
        // only for `IfExists::Skip`, where the name is free (the others may replace a file).
        if context.config.if_exists == IfExists::Skip
            && !context.part_may_exist(&part_path_for(final_path))
            && !context.control_may_exist(&ControlFile::path_for(final_path))
        {
            if let Some(part) = PartFile::create_unnamed(final_path) {
                return Ok(Locked::Part(part));
            }
        }
        self.lock(final_path)
    }

    /// Whether the final file exists (the skip check): looked up, unless the run's read of its
    /// directory found the name free.
    fn final_exists(&self, final_path: &Path) -> bool {
        self.context.final_may_exist(final_path) && exists(final_path)
    }

    /// Opens and locks the `.part` file of `final_path`, then looks again whether the final file
    /// appeared meanwhile (another process may have just finished it).
    fn lock(&self, final_path: &Path) -> Result<Locked, Error> {
        let part = PartFile::lock(final_path)?;
        if self.context.config.if_exists == IfExists::Skip && exists(final_path) {
            log::info!("{} exists, skipping", final_path.display());
            // A `.part` this task just created is removed again; an earlier run's is left alone.
            if part.len()? == 0 {
                part.discard();
            } else {
                part.keep();
            }
            return Ok(Locked::Skipped);
        }
        Ok(Locked::Part(part))
    }

    /// The path named by the server's answer, for a link without `out=` (or an index name, which no
    /// answer changes) whose answer names it unlike its URL (`Content-Disposition`, else the URL after
    /// redirects). Such a name is chosen, and reserved, when the answer arrives, so unlike names from
    /// `out=` or the URL it is not decided in link order, and its skip check comes after the probe.
    fn server_named(&self, final_path: &Path, answer: &RangeProbe) -> Option<PathBuf> {
        let (link, file) = (self.link, self.file);
        if link.out.is_some() || link.path.is_some() || self.context.config.names == Names::Index {
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

    /// The ranged download an earlier run left in `part` (locked), if its control file fits this
    /// link and the `.part` file holds what the control file claims; else `part` emptied, with no
    /// control file left beside it.
    fn resume(&self, final_path: &Path, part: PartFile) -> Result<Resumed, Error> {
        let (link, file) = (self.link, self.file);
        let control_path = ControlFile::path_for(final_path);
        if part.is_new() && !self.context.control_may_exist(&control_path) {
            // Nothing to resume and nothing to remove later (known from the run's one read of its
            // directory), not four `unlink`s of nothing that each take the directory's lock.
            part.mark_no_control();
            return Ok(Resumed::Fresh(part));
        }
        let start_over = |part: PartFile, why: Option<String>| {
            if let Some(why) = why {
                log::warn!(
                    "{}: {why}; starting {} from scratch",
                    control_path.display(),
                    final_path.display()
                );
            }
            // Under the lock, so no other process's state is removed; a leftover temporary file
            // goes too.
            ControlFile::remove(&control_path);
            part.clear()?;
            Ok(Resumed::Fresh(part))
        };
        let control = match ControlFile::load(&control_path) {
            Ok(None) => return start_over(part, None),
            Ok(Some(control)) => control,
            Err(reason) => {
                return start_over(part, Some(format!("unusable resume state ({reason})")))
            }
        };
        // The control file holds the URLs with their passwords masked (older ones: as given).
        let saved_mirrors: Vec<String> = control
            .mirrors
            .iter()
            .map(|(url, _)| redact_url(url))
            .collect();
        let link_mirrors: Vec<String> = link.mirrors.iter().map(|url| redact_url(url)).collect();
        if saved_mirrors != link_mirrors {
            return start_over(
                part,
                Some("resume state of the same link with other mirrors".into()),
            );
        }
        // The control file holds the link with its password masked (older ones: as given).
        if redact_url(&control.url) != redact_url(&link.url) {
            return start_over(
                part,
                Some(format!(
                    "resume state of another link ({})",
                    redact_url(&control.url)
                )),
            );
        }
        let Some(plan) = control.plan() else {
            return start_over(part, Some("inconsistent chunks".into()));
        };
        // The file may be shorter than the download (sized only once its first answer delivered),
        // but must hold every byte the control file counts.
        let len = part.len()?;
        let written = plan.chunks().iter().filter(|chunk| chunk.written() > 0);
        let needed = written.map(|chunk| chunk.next_offset()).max().unwrap_or(0);
        if len > control.total || len < needed {
            return start_over(
                part,
                Some("the .part file is missing or has another size".into()),
            );
        }
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
        Ok(Resumed::Job(Box::new(
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
            .with_saved_mirrors(&control, &link.mirrors),
        )))
    }

    /// Runs the chunks of the file on its own child pool, then finishes the file.
    fn run_ranged(&self, job: RangedJob, first: Option<FirstAnswer>) -> Result<Status, Error> {
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
                let checked = self
                    .expected_checksum(job.part.final_path())
                    .and_then(|expected| {
                        let last_modified = job.validators.last_modified.as_deref();
                        self.check_and_date(&job.part, expected.as_ref(), None, last_modified)
                    });
                if let Err(error) = checked {
                    job.remove_control();
                    job.part.discard();
                    return Err(error);
                }
                let total = job.plan.total();
                // The control file goes after the rename, under the lock (see `PartFile::finish`).
                self.finish_part(job.part, total)?;
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
        let file = self.file;
        let config = &self.context.config;
        let expected = match self.expected_checksum(part.final_path()) {
            Ok(expected) => expected,
            Err(error) => {
                part.discard();
                return Err(error);
            }
        };
        let stream = StreamJob {
            context: self.context,
            url,
            part: &part,
            file,
            hash: expected.as_ref().map(|checksum| checksum.algorithm),
        };
        let result = stream.run(first, Backoff::new(config.max_tries, config.retry_wait));
        let streamed = match result {
            Ok(streamed) => streamed,
            Err(error) => {
                part.discard();
                return Err(error);
            }
        };
        let checked = self.check_and_date(
            &part,
            expected.as_ref(),
            streamed.checksum,
            streamed.last_modified.as_deref(),
        );
        if let Err(error) = checked {
            part.discard();
            return Err(error);
        }
        self.finish_part(part, streamed.len)?;
        Ok(Status::Downloaded {
            bytes: streamed.len,
            ranged: false,
        })
    }
}

/// The `.part` file of a task, or the news that the file appeared meanwhile.
enum Locked {
    /// The `.part` file, locked for this task.
    Part(PartFile),
    /// The final file exists now: the link is skipped.
    Skipped,
}

/// What an earlier run left for a file.
enum Resumed {
    /// A ranged download to continue (boxed: it is large, and made once per file).
    Job(Box<RangedJob>),
    /// Nothing usable: the `.part` file, empty, for a fresh start.
    Fresh(PartFile),
}

/// Whether something (a file, a directory, even a dangling link) is at `path`.
fn exists(path: &Path) -> bool {
    fs::symlink_metadata(path).is_ok()
}
