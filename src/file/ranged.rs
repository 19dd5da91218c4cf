//! The shared state of one ranged download: what the chunk tasks of one file's child pool share.
//!
//! A [`RangedJob`] holds the plan (whose per-chunk atomics the workers advance), the `.part` file
//! they write into, the file's counters, the version of the file being fetched, and the first failure
//! (which tells the other chunks to stop). It also owns the resume state: [`RangedJob::checkpoint`]
//! syncs the `.part` data and then replaces the control file, so the control file never claims a byte
//! that is not on disk.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::Mutex;

use crate::disk::control::ControlFile;
use crate::disk::part::PartFile;
use crate::error::Error;
use crate::file::plan::ChunkPlan;
use crate::http::Validators;
use crate::run::context::Context;
use crate::run::progress::FileProgress;

/// How often the control file is brought up to date while a file downloads. A download that ends
/// sooner never writes one; after a crash at most about this much transfer per connection is lost.
pub(crate) const CHECKPOINT_PERIOD: Duration = Duration::from_secs(1);

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
        RangedJob {
            context,
            link_url,
            url,
            part,
            plan,
            validators,
            file,
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
        // The counts are read before the sync: every byte they count was written before they were
        // advanced, so the sync covers it.
        let control = ControlFile::snapshot(&self.link_url, &self.validators, &self.plan);
        if let Err(error) = self.part.sync_data() {
            log::warn!("{error}; resume state not saved");
            return;
        }
        // Marked before the save: a half-done save may leave a temp file that removal must clean.
        self.control_saved.store(true, Ordering::Release);
        if let Err(error) = control.save(&self.control_path) {
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
        log::info!(
            "kept {} ({} of {} bytes) to resume later",
            self.part.part_path().display(),
            self.plan.written(),
            self.plan.total()
        );
        self.part.keep();
    }
}
