//! The handle of a task queued with [`ThreadPool::spawn`](super::ThreadPool::spawn): a blocking
//! promise of its value, or of its panic.

use std::any::Any;
use std::thread;

use crossbeam_channel::Receiver;

/// The promise of a task queued with [`ThreadPool::spawn`](super::ThreadPool::spawn): its value once it has run, or its panic.
///
/// Dropping the handle does not cancel the task; it still runs, and its value is dropped.
#[derive(Debug)]
pub struct TaskHandle<T> {
    result: Receiver<Result<T, TaskPanicked>>,
}

impl<T> TaskHandle<T> {
    pub(super) fn new(result: Receiver<Result<T, TaskPanicked>>) -> TaskHandle<T> {
        TaskHandle { result }
    }

    /// Blocks until the task has run; returns its value, or how it panicked.
    ///
    /// Like [`ThreadPool::wait_completion`](super::ThreadPool::wait_completion), never call it from a task of the same pool on a task
    /// queued behind it: with every worker waiting, nobody is left to run what they wait for.
    pub fn join(self) -> Result<T, TaskPanicked> {
        self.result.recv().unwrap_or_else(|_| {
            // The sender is dropped without a send only if the task never ran, which the pool's
            // graceful drop rules out; say so rather than hang or invent a value.
            Err(TaskPanicked {
                message: "the task was dropped before it ran".to_owned(),
                thread: String::new(),
            })
        })
    }

    /// Whether the task has finished (returned or panicked), so that [`TaskHandle::join`] will not
    /// block.
    pub fn is_finished(&self) -> bool {
        !self.result.is_empty()
    }
}

/// How a task queued with [`ThreadPool::spawn`](super::ThreadPool::spawn) panicked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskPanicked {
    message: String,
    thread: String,
}

impl TaskPanicked {
    /// The panic of a task running on this thread.
    pub(super) fn of(payload: &(dyn Any + Send)) -> TaskPanicked {
        TaskPanicked {
            message: panic_message(payload).to_owned(),
            thread: thread::current().name().unwrap_or("<unnamed>").to_owned(),
        }
    }

    /// The panic's message (`<non-string panic payload>` for a payload that is not text).
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The name of the worker thread it panicked on, e.g. `pardl-chunk-2`.
    pub fn thread(&self) -> &str {
        &self.thread
    }
}

impl std::fmt::Display for TaskPanicked {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "task panicked on thread {}: {}",
            self.thread, self.message
        )
    }
}

impl std::error::Error for TaskPanicked {}

/// The text of a panic, for payloads from `panic!("literal")` (`&str`) and
/// `panic!("{formatted}")` (`String`); other payload types have no message.
pub(super) fn panic_message(payload: &(dyn Any + Send)) -> &str {
    if let Some(message) = payload.downcast_ref::<&str>() {
        message
    } else if let Some(message) = payload.downcast_ref::<String>() {
        message
    } else {
        "<non-string panic payload>"
    }
}
