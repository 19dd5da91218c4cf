//! The shared state of one ranged download: what the chunk tasks of one file's child pool share.
//!
//! A [`RangedJob`] holds the plan (whose per-chunk atomics the workers advance), the `.part` file
//! they write into, the file's counters, the version of the file being fetched, and the first failure
//! (which tells the other chunks to stop). It also owns the resume state: [`RangedJob::checkpoint`]
//! syncs the `.part` data and then replaces the control file, so the control file never claims a byte
//! that is not on disk.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::Mutex;

use crate::disk::control::ControlFile;
use crate::disk::part::PartFile;
use crate::error::Error;
use crate::file::mirrors::{Mirror, Mirrors};
use crate::file::plan::{ChunkPlan, Source};
use crate::http::url::redact_url;
use crate::http::Validators;
use crate::run::context::Context;
use crate::run::progress::FileProgress;

/// How often the control file is brought up to date while a file downloads. A download that ends
/// sooner never writes one; after a crash at most about this much transfer per connection is lost.
pub(crate) const CHECKPOINT_PERIOD: Duration = Duration::from_secs(1);

/// `changed_mirror` when no mirror changed.
const NO_MIRROR: usize = usize::MAX;

/// Everything the chunks of one file share: the plan, the `.part` file, the counters, the resume
/// state, and the first failure (which stops the other chunks).
#[derive(Debug)]
pub(crate) struct RangedJob {
    /// The run's shared state.
    pub context: Arc<Context>,
    /// The link as given (saved in the control file).
    pub link_url: String,
    /// The URL the chunks are fetched from (after the probe's redirects).
    pub url: String,
    /// Where the bytes go.
    pub part: PartFile,
    /// The chunks and their progress.
    pub plan: ChunkPlan,
    /// The version of the file being downloaded.
    pub validators: Validators,
    /// This file's counters.
    pub file: Arc<FileProgress>,
    /// The URLs the chunks are fetched from: the link's one, or its mirrors.
    pub mirrors: Mirrors,
    /// A mirror whose file changed while others are alive ([`NO_MIRROR`] when none).
    changed_mirror: AtomicUsize,
    control_path: PathBuf,
    started: Instant,
    /// Held while the control file is written, so two savers never interleave.
    checkpoint_lock: Mutex<()>,
    /// Whether a control file exists on disk for this download (so finishing must delete it).
    control_saved: AtomicBool,
    failure: Mutex<Option<Error>>,
    aborted: AtomicBool,
}

impl RangedJob {
    /// Bundles the shared state of one file's chunks.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn new(
        context: Arc<Context>,
        link_url: String,
        url: String,
        part: PartFile,
        plan: ChunkPlan,
        validators: Validators,
        file: Arc<FileProgress>,
        control_path: PathBuf,
    ) -> RangedJob {
        let mirrors = Mirrors::new(vec![Mirror::new(&link_url, &url, validators.clone())]);
        RangedJob {
            context,
            link_url,
            url,
            part,
            plan,
            validators,
            file,
            mirrors,
            changed_mirror: AtomicUsize::new(NO_MIRROR),
            control_path,
            started: Instant::now(),
            checkpoint_lock: Mutex::new(()),
            control_saved: AtomicBool::new(false),
            failure: Mutex::new(None),
            aborted: AtomicBool::new(false),
        }
    }

    /// Marks that a control file for this download is already on disk (it is being resumed).
    pub(crate) fn with_saved_control(self) -> RangedJob {
        self.control_saved.store(true, Ordering::Release);
        self
    }

    /// Uses the mirrors of a link (from [`probe_link`](crate::file::mirrors::probe_link)) instead of
    /// its one URL; `primary` is the one whose answer carries chunk 0. The chunks are spread over the
    /// mirrors still alive, in turn.
    pub(crate) fn with_mirrors(mut self, mirrors: Option<(Mirrors, usize)>) -> RangedJob {
        let Some((mirrors, primary)) = mirrors else {
            return self;
        };
        let alive = mirrors.alive();
        for (i, chunk) in self.plan.chunks().iter().enumerate() {
            let mirror = match i {
                0 => primary,
                _ => {
                    alive[(alive.iter().position(|&m| m == primary).unwrap_or(0) + i) % alive.len()]
                }
            };
            chunk.use_mirror(mirror);
        }
        self.mirrors = mirrors;
        self
    }

    /// Uses the mirrors a control file saved for a link with mirrors (`link_url` is mirror 0; the
    /// chunks already know their mirror from the control file).
    pub(crate) fn with_saved_mirrors(
        mut self,
        control: &ControlFile,
        urls: &[String],
    ) -> RangedJob {
        if control.mirrors.is_empty() {
            return self;
        }
        let mut list = vec![Mirror::new(
            &self.link_url,
            &self.url,
            control.validators.clone(),
        )];
        // The control file holds the mirrors' URLs masked; the link's own (with any credentials)
        // are the same mirrors in the same order, as the resume checked.
        for (url, (_, validators)) in urls.iter().zip(&control.mirrors) {
            list.push(Mirror::new(url, url, validators.clone()));
        }
        let mirrors = Mirrors::new(list);
        for &index in &control.dropped {
            let error = Error::Interrupted {
                url: mirrors.get(index).link_url.clone(),
            };
            if !mirrors.drop_after(index, &error) {
                break;
            }
        }
        let alive = mirrors.alive();
        for (i, chunk) in self.plan.chunks().iter().enumerate() {
            if !mirrors.is_alive(chunk.mirror()) || chunk.source() == Source::Mixed {
                chunk.use_mirror(alive[i % alive.len().max(1)]);
            }
        }
        self.mirrors = mirrors;
        self
    }

    /// Records that mirror `index` serves another version of the file now. If another mirror is
    /// alive, the file will go on without it ([`RangedJob::forget_changed_mirror`]); returns whether
    /// that is so.
    pub(crate) fn mirror_changed(&self, index: usize) -> bool {
        if self.mirrors.alive().iter().any(|&m| m != index) {
            self.changed_mirror.store(index, Ordering::Release);
            true
        } else {
            false
        }
    }

    /// After the chunks stopped because a mirror's file changed while others are alive: drops that
    /// mirror, forgets the bytes it contributed (every chunk whose bytes came from it, alone or with
    /// another), and makes the job ready to run again. Returns false (and changes nothing) when no
    /// such mirror was recorded.
    pub(crate) fn forget_changed_mirror(&self) -> bool {
        let changed = self.changed_mirror.swap(NO_MIRROR, Ordering::AcqRel);
        if changed == NO_MIRROR {
            return false;
        }
        let error = Error::FileChanged {
            url: self.mirrors.get(changed).link_url.clone(),
            reason: "its file changed".into(),
        };
        self.mirrors.drop_after(changed, &error);
        let alive = self.mirrors.alive();
        let mut forgotten = 0;
        for chunk in self.plan.chunks() {
            let from_changed = match chunk.source() {
                Source::Mirror(m) => m as usize == changed,
                Source::Mixed => true,
            };
            if from_changed {
                forgotten += chunk.restart();
            }
            if !self.mirrors.is_alive(chunk.mirror()) {
                chunk.use_mirror(alive[chunk.start() as usize % alive.len().max(1)]);
            }
        }
        self.context.progress.forget(&self.file, forgotten);
        log::warn!(
            "{}: fetching again the {forgotten} bytes mirror {} delivered, from the other mirrors",
            redact_url(&self.link_url),
            redact_url(&self.mirrors.get(changed).link_url)
        );
        self.aborted.store(false, Ordering::Release);
        self.failure.lock().take();
        true
    }

    /// Records a failure and tells the other chunks to stop; the first failure is the one reported.
    pub(crate) fn fail(&self, error: Error) {
        self.aborted.store(true, Ordering::Release);
        let mut failure = self.failure.lock();
        if failure.is_none() {
            *failure = Some(error);
        } else {
            log::debug!("further failure after the first: {error}");
        }
    }

    /// Whether the chunks should stop: one failed, or the run was cancelled.
    pub(crate) fn should_stop(&self) -> bool {
        self.aborted.load(Ordering::Acquire) || self.context.is_cancelled()
    }

    /// Takes the first failure, if any.
    pub(crate) fn take_failure(&self) -> Option<Error> {
        self.failure.lock().take()
    }

    /// Brings the control file up to date: syncs the `.part` data first, then replaces the control
    /// file, so it never claims bytes that are not on disk. Unless `force`d, a download younger than
    /// [`CHECKPOINT_PERIOD`] writes nothing, so small files cost no extra I/O.
    pub(crate) fn checkpoint(&self, force: bool) {
        if !force && self.started.elapsed() < CHECKPOINT_PERIOD {
            return;
        }
        let _saving = self.checkpoint_lock.lock();
        if !force && !self.part.is_named() && self.plan.is_complete() {
            // The last chunk just ended and the file is about to get its final name: nothing is
            // left to resume, so it is not named for that.
            return;
        }
        // The first save of a download that began without a name names it: a control file must
        // describe a `.part` file that is there.
        if !self.part.name_for_resume() {
            return;
        }
        // The counts are read before the sync: every byte they count was written before they were
        // advanced, so the sync covers it.
        let control = if self.mirrors.len() > 1 {
            let mirrors: Vec<_> = (0..self.mirrors.len())
                .map(|i| {
                    let mirror = self.mirrors.get(i);
                    (
                        mirror.link_url.clone(),
                        mirror.validators.clone(),
                        self.mirrors.is_alive(i),
                    )
                })
                .collect();
            ControlFile::with_mirrors(&self.link_url, &self.plan, &mirrors)
        } else {
            ControlFile::snapshot(&self.link_url, &self.validators, &self.plan)
        };
        // With `--sync never` nothing is flushed: the state then survives a crash of pardl (the
        // kernel has the data), not a power cut.
        let flush = self.context.config.sync.flushes();
        if flush {
            if let Err(error) = self.part.sync_data() {
                log::warn!("{error}; resume state not saved");
                return;
            }
        }
        // Marked before the save: a half-done save may leave a temp file that removal must clean.
        self.control_saved.store(true, Ordering::Release);
        self.part.mark_control_saved();
        if let Err(error) = control.save(&self.control_path, flush) {
            log::warn!(
                "cannot save resume state {}: {error}",
                self.control_path.display()
            );
        }
    }

    /// Deletes the control file (the download is finished or must start over), if there is one.
    pub(crate) fn remove_control(&self) {
        let _saving = self.checkpoint_lock.lock();
        if self.control_saved.swap(false, Ordering::AcqRel) {
            ControlFile::remove(&self.control_path);
        }
    }

    /// Saves the state of an unfinished download so the same command continues it, and keeps its
    /// `.part` file.
    pub(crate) fn keep_for_resume(self) {
        self.checkpoint(true);
        if self.control_saved.load(Ordering::Acquire) {
            self.file.mark_saved_for_resume();
        }
        if self.part.is_named() {
            log::info!(
                "kept {} ({} of {} bytes) to resume later",
                self.part.path().display(),
                self.plan.written(),
                self.plan.total()
            );
        } else {
            log::info!(
                "{}: {} of {} bytes not kept; it starts again from scratch",
                self.part.path().display(),
                self.plan.written(),
                self.plan.total()
            );
        }
        self.part.keep();
    }
}
