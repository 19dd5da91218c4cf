//! Stopping a run from another thread.
//!
//! A [`CancelHandle`] is a shared flag that every download thread checks between writes and before
//! each request. Setting it does not kill anything: workers stop starting links, each transfer ends
//! after its current write, a ranged download saves its control file, and every unfinished link
//! ends as [`Status::Interrupted`](crate::Status::Interrupted). Running the same links again resumes
//! them. The command line sets it from its Ctrl-C handler; a program can set it from any thread.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// Asks a [`Downloader`](crate::Downloader) to stop; cheap to clone, usable from any thread.
///
/// ```
/// use pardl::{Config, Downloader};
///
/// let downloader = Downloader::new(Config::default());
/// let handle = downloader.cancel_handle();
/// std::thread::spawn(move || handle.cancel()).join().unwrap();
/// assert!(downloader.cancel_handle().is_cancelled());
/// ```
#[derive(Debug, Clone, Default)]
pub struct CancelHandle {
    flag: Arc<AtomicBool>,
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

    /// Whether [`cancel`](CancelHandle::cancel) has been called. Checked on the hot path, so it is one
    /// relaxed load: a thread that sees the flag a write late only finishes one more write.
    #[inline]
    pub fn is_cancelled(&self) -> bool {
        self.flag.load(Ordering::Relaxed)
    }
}
