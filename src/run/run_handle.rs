//! A run you can hold: what [`Downloader::start`](crate::Downloader::start) returns.
//!
//! The run goes on, on a thread of its own, while the caller reads its outcomes as owned values
//! (blocking, one by one, as links end), looks at its progress, or cancels it. [`Run::join`] waits
//! for the end and gives the [`Summary`].

use std::sync::Arc;
use std::thread::JoinHandle;

use crossbeam_channel::Receiver;

use crate::error::Error;
use crate::run::cancel::CancelHandle;
use crate::run::outcome::{Outcome, Summary};
use crate::run::progress::Progress;

/// A run in progress; see [`Downloader::start`](crate::Downloader::start).
///
/// Outcomes wait in a short queue until they are read: a caller that never reads them holds the
/// run back until [`Run::join`], which reads (and drops) what is left. Dropping a `Run` without
/// joining it lets the run finish in the background, like a detached thread.
#[derive(Debug)]
pub struct Run {
    outcomes: Receiver<Outcome>,
    cancel: CancelHandle,
    progress: Arc<Progress>,
    thread: JoinHandle<Summary>,
}

impl Run {
    pub(crate) fn new(
        outcomes: Receiver<Outcome>,
        cancel: CancelHandle,
        progress: Arc<Progress>,
        thread: JoinHandle<Summary>,
    ) -> Run {
        Run {
            outcomes,
            cancel,
            progress,
            thread,
        }
    }

    /// The outcomes, as the links end; the iteration ends when the run has ended. Each carries its
    /// link's position in the input ([`Outcome::index`]).
    pub fn outcomes(&self) -> impl Iterator<Item = Outcome> + '_ {
        self.outcomes.iter()
    }

    /// Stops this run (not the downloader's other runs): see [`CancelHandle`]. What it left is
    /// resumed by the next run of the same links.
    pub fn cancel(&self) {
        self.cancel.cancel();
    }

    /// This run's cancel handle, for another thread.
    pub fn cancel_handle(&self) -> CancelHandle {
        self.cancel.clone()
    }

    /// Whether the run has ended (every outcome is then waiting to be read).
    pub fn is_finished(&self) -> bool {
        self.thread.is_finished()
    }

    /// The downloader's counters, which this run adds to.
    pub fn progress(&self) -> &Arc<Progress> {
        &self.progress
    }

    /// Waits for the run to end and returns its summary; outcomes not read yet are dropped (they
    /// are counted in the summary).
    pub fn join(self) -> Summary {
        for _ in self.outcomes.iter() {}
        match self.thread.join() {
            Ok(summary) => summary,
            Err(_) => Summary {
                fatal: Some(Error::Panicked {
                    url: "(the run's own thread)".into(),
                }),
                ..Summary::default()
            },
        }
    }
}
