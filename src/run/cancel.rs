//! Stopping a run from another thread.
//!
//! A [`CancelHandle`] is a shared flag that every download thread checks between writes and before
//! each request. Setting it does not kill anything: workers stop starting links, each transfer ends
//! after its current write, a ranged download saves its control file, and every unfinished link
//! ends as [`Status::Interrupted`](crate::Status::Interrupted) (or
//! [`Status::NotStarted`](crate::Status::NotStarted) if it never began). Running the same links
//! again, on the same [`Downloader`](crate::Downloader) or a new one, resumes them.
//!
//! There are two levels of handle, like the two pools. Each run has its own
//! ([`Run::cancel_handle`](crate::Run::cancel_handle)), which stops that run only; the downloader's
//! ([`Downloader::cancel_handle`](crate::Downloader::cancel_handle)) stops every run in progress, as
//! a Ctrl-C handler wants. A run's handle sees the downloader's (a child looks at its parent's
//! flag), so the hot path still checks plain atomics and takes no lock.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// Asks a [`Downloader`](crate::Downloader) to stop; cheap to clone, usable from any thread.
///
/// ```
/// use pardl::{Config, Downloader};
///
/// let downloader = Downloader::new(Config::default()).unwrap();
/// let handle = downloader.cancel_handle();
/// std::thread::spawn(move || handle.cancel()).join().unwrap();
/// assert!(downloader.cancel_handle().is_cancelled());
/// ```
#[derive(Debug, Clone, Default)]
pub struct CancelHandle {
    flag: Arc<AtomicBool>,
    /// The downloader's handle, for the handle of one run.
    parent: Option<Arc<AtomicBool>>,
}

impl CancelHandle {
    /// A handle that is not cancelled.
    pub fn new() -> CancelHandle {
        CancelHandle::default()
    }

    /// Asks the run to stop. Returns whether it had already been asked, so a Ctrl-C handler can tell
    /// a second press from the first.
    pub fn cancel(&self) -> bool {
        // SeqCst keeps it simple: this is called once or twice per run, never on a hot path.
        self.flag.swap(true, Ordering::SeqCst)
    }

    /// Whether [`cancel`](CancelHandle::cancel) has been called, on this handle or on the
    /// downloader's when this is a run's. Checked on the hot path, so it is one or two relaxed loads:
    /// a thread that sees the flag a write late only finishes one more write.
    #[inline]
    pub fn is_cancelled(&self) -> bool {
        self.flag.load(Ordering::Relaxed)
            || self
                .parent
                .as_ref()
                .is_some_and(|parent| parent.load(Ordering::Relaxed))
    }

    /// A handle for one run under this one: cancelling it stops only that run, cancelling this one
    /// stops it too.
    pub(crate) fn child(&self) -> CancelHandle {
        CancelHandle {
            flag: Arc::new(AtomicBool::new(false)),
            parent: Some(Arc::clone(&self.flag)),
        }
    }

    /// Takes a cancel back, so the next run starts (the downloader's handle, when no run is in
    /// progress: a cancel stops the runs that were going on, not the ones after).
    pub(crate) fn reset(&self) {
        self.flag.store(false, Ordering::SeqCst);
    }
}
