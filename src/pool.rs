//! A hand-written, fixed-size thread pool with a bounded task queue.
//!
//! pardl uses this pool at two levels: one pool downloads files in parallel,
//! and every file task builds a child pool of its own to fetch that file's
//! HTTP Range chunks concurrently. Everything is plain blocking threads; there
//! is no async runtime.
//!
//! # How it works
//!
//! `workers` threads loop over the receiving end of a bounded
//! [`crossbeam_channel`], each taking one boxed task at a time and running it.
//! The queue holds at most `workers` tasks, so a producer reading a links file
//! with millions of lines blocks in [`ThreadPool::execute`] until a worker
//! frees a slot, instead of buffering the whole file as closures in memory.
//! At any moment the pool holds at most `workers` running tasks plus
//! `workers` queued ones, plus one task in the hands of each producer
//! blocked in `execute`. [`ThreadPool::with_queue`] sets another depth, for
//! producers that fall behind workers whose tasks are short (pardl's file
//! pool queues four links per worker).
//!
//! # Relation to the Python article
//!
//! The design follows the classic Python `ThreadPool` recipe, translated:
//!
//! | Python article                                   | This module                                   |
//! |--------------------------------------------------|-----------------------------------------------|
//! | `ThreadPool(num_threads)` builds `Queue(num_threads)` | [`ThreadPool::new`]`(workers)` builds a bounded channel of capacity `workers` |
//! | `Worker(Thread)`, `daemon = True`, loops on `tasks.get()` | private `Worker`, loops until the channel is closed |
//! | worker's `try: func(*args) except: print(e)`     | task runs under `catch_unwind`; the panic is logged with [`log::error!`] and counted |
//! | `finally: tasks.task_done()`                     | a drop guard decrements the pending counter, even if the task panicked |
//! | `add_task(func, *args)`                          | [`ThreadPool::execute`]`(closure)` (the closure captures the arguments) |
//! | `map(func, args_list)`: one `add_task` per item  | [`ThreadPool::map`]`(items, f)`, streaming the items lazily |
//! | `wait_completion()` calls `tasks.join()`         | [`ThreadPool::wait_completion`]: pending counter + `Condvar` |
//!
//! Two deliberate differences:
//!
//! * **Shutdown is graceful.** Python's daemon threads are killed when the
//!   interpreter exits, abandoning whatever is still queued. Dropping a
//!   [`ThreadPool`] closes the queue and joins every worker, and tasks that
//!   were already queued still run first (as in the Rust Book's final
//!   chapter). Dropping the pool therefore blocks until they are done.
//! * **Failures are not silent.** The article's worker prints and forgets an
//!   exception; here a panicking task is logged with its message and the
//!   worker's thread name, and [`ThreadPool::panicked_tasks`] reports how many
//!   there were. The worker keeps serving either way.
//!
//! # Deadlock rules
//!
//! A worker that blocks waiting for its own pool can wait forever:
//!
//! 1. **Never call [`ThreadPool::wait_completion`] from a task of the same
//!    pool.** The waiting task is itself pending, so the count can never reach
//!    zero. This case is detected: the call panics with a clear message
//!    instead of hanging (the task's panic is then caught, logged and
//!    counted like any other).
//! 2. **Avoid [`ThreadPool::execute`] from a task onto its own pool.** If the
//!    queue is full and every worker is blocked submitting, nobody is left to
//!    drain the queue. This is not detected, because it only deadlocks when
//!    the queue happens to be full.
//!
//! The nested pattern pardl relies on is safe: a task of the outer pool
//! builds its *own* child pool, submits to it and waits on it. The outer
//! worker blocks, but the child's queue is drained by the child's threads,
//! which never wait on the outer pool.
//!
//! ```
//! use std::sync::atomic::{AtomicUsize, Ordering};
//! use std::sync::Arc;
//!
//! use pardl::pool::ThreadPool;
//!
//! let chunks_fetched = Arc::new(AtomicUsize::new(0));
//! let files = ThreadPool::with_name(2, "pardl-file");
//! for _file in 0..4 {
//!     let chunks_fetched = Arc::clone(&chunks_fetched);
//!     files.execute(move || {
//!         // A child pool per file: waiting on it cannot starve `files`,
//!         // because its queue is drained by its own threads.
//!         let chunks = ThreadPool::with_name(3, "pardl-chunk");
//!         chunks.map(0..8, move |_chunk: u32| {
//!             chunks_fetched.fetch_add(1, Ordering::Relaxed);
//!         });
//!         chunks.wait_completion();
//!     });
//! }
//! files.wait_completion();
//! assert_eq!(chunks_fetched.load(Ordering::Relaxed), 4 * 8);
//! ```

use std::cell::Cell;
use std::io;
use std::panic::{self, AssertUnwindSafe};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread::{self, JoinHandle};

use crossbeam_channel::{Receiver, Sender};
use log::{debug, error};
use parking_lot::{Condvar, Mutex};

mod handle;

use handle::panic_message;
pub use handle::{TaskHandle, TaskPanicked};

/// A unit of work, boxed so tasks of different closure types share one queue.
type Job = Box<dyn FnOnce() + Send + 'static>;

/// Identifies a pool so a worker thread can recognise its own pool.
type PoolId = u64;

static NEXT_POOL_ID: AtomicU64 = AtomicU64::new(0);

thread_local! {
    /// The pool whose worker this thread is, if any. Lets
    /// [`ThreadPool::wait_completion`] refuse to wait on its own pool.
    static OWNING_POOL: Cell<Option<PoolId>> = const { Cell::new(None) };
}

/// A fixed set of named worker threads fed through a bounded queue.
///
/// See the [module documentation](self) for the design, the deadlock rules
/// and an example of nested pools.
///
/// # Dropping
///
/// Dropping the pool closes the queue, lets the workers finish every task
/// already queued, and joins them. It therefore blocks until all submitted
/// tasks have run.
pub struct ThreadPool {
    id: PoolId,
    name: String,
    /// `None` only while dropping: taking it out closes the queue.
    sender: Option<Sender<Job>>,
    workers: Vec<Worker>,
    tasks: Arc<TaskCount>,
}

/// Bookkeeping shared between the pool handle and its workers: how many tasks
/// are pending and how many panicked.
struct TaskCount {
    /// Tasks submitted but not yet finished (queued, running, or still being
    /// handed to a full queue).
    pending: Mutex<usize>,
    all_done: Condvar,
    panicked: AtomicUsize,
}

impl ThreadPool {
    /// Starts a pool of `workers` threads named `pool-0`, `pool-1`, ….
    ///
    /// The queue holds up to `workers` tasks. `workers == 0` is treated as 1,
    /// so the pool always makes progress.
    ///
    /// # Panics
    ///
    /// Panics if the operating system refuses to spawn a thread, like
    /// [`std::thread::spawn`]. Use [`ThreadPool::try_with_name`] to handle
    /// that instead.
    ///
    /// ```
    /// use pardl::pool::ThreadPool;
    ///
    /// let pool = ThreadPool::new(4);
    /// assert_eq!(pool.workers(), 4);
    /// assert_eq!(ThreadPool::new(0).workers(), 1);
    /// ```
    pub fn new(workers: usize) -> ThreadPool {
        ThreadPool::with_name(workers, "pool")
    }

    /// Starts a pool whose threads are named `"{name}-{i}"`, e.g.
    /// `pardl-chunk-3`, which shows up in logs, panic messages and debuggers.
    ///
    /// Otherwise identical to [`ThreadPool::new`].
    ///
    /// # Panics
    ///
    /// Panics if the operating system refuses to spawn a thread.
    ///
    /// ```
    /// use pardl::pool::ThreadPool;
    ///
    /// let pool = ThreadPool::with_name(1, "pardl-file");
    /// pool.execute(|| {
    ///     assert_eq!(std::thread::current().name(), Some("pardl-file-0"));
    /// });
    /// pool.wait_completion();
    /// assert_eq!(pool.panicked_tasks(), 0);
    /// ```
    pub fn with_name(workers: usize, name: &str) -> ThreadPool {
        ThreadPool::with_queue(workers, workers, name)
    }

    /// Like [`ThreadPool::with_name`], but reports a failure to spawn a
    /// thread as an error instead of panicking. Workers spawned before the
    /// failure are shut down and joined before the error is returned.
    ///
    /// ```
    /// use pardl::pool::ThreadPool;
    ///
    /// let pool = ThreadPool::try_with_name(2, "pardl-file")?;
    /// assert_eq!(pool.workers(), 2);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn try_with_name(workers: usize, name: &str) -> io::Result<ThreadPool> {
        ThreadPool::try_with_queue(workers, workers, name)
    }

    /// Like [`ThreadPool::with_name`], but the queue holds up to `queue` tasks (at least one)
    /// instead of one per worker.
    ///
    /// A deeper queue suits a producer that is often late: a thread that competes for the CPU
    /// with many workers, feeding them tasks that each take a millisecond. With one slot per
    /// worker the queue is soon empty, and every task handed over wakes a sleeping worker, and
    /// every slot freed wakes the producer. pardl's file pool queues 4 links per worker for this
    /// reason ([`Config::read_ahead`](crate::Config::read_ahead)).
    ///
    /// # Panics
    ///
    /// Panics if the operating system refuses to spawn a thread.
    ///
    /// ```
    /// use std::sync::atomic::{AtomicU64, Ordering};
    /// use std::sync::Arc;
    ///
    /// use pardl::pool::ThreadPool;
    ///
    /// // Two workers, and up to 32 tasks queued ahead of them.
    /// let pool = ThreadPool::with_queue(2, 32, "pardl-file");
    /// let sum = Arc::new(AtomicU64::new(0));
    /// let total = Arc::clone(&sum);
    /// pool.map(1..=100u64, move |n| {
    ///     total.fetch_add(n, Ordering::Relaxed);
    /// });
    /// pool.wait_completion();
    /// assert_eq!(sum.load(Ordering::Relaxed), 5050);
    /// assert_eq!(pool.workers(), 2);
    /// ```
    pub fn with_queue(workers: usize, queue: usize, name: &str) -> ThreadPool {
        ThreadPool::try_with_queue(workers, queue, name)
            .unwrap_or_else(|err| panic!("thread pool '{name}': cannot spawn worker thread: {err}"))
    }

    /// [`ThreadPool::with_queue`], reporting a failure to spawn a thread as an error.
    fn try_with_queue(workers: usize, queue: usize, name: &str) -> io::Result<ThreadPool> {
        let workers = workers.max(1);
        let (sender, receiver) = crossbeam_channel::bounded(queue.max(1));
        // Build the pool first and push workers into it, so that if a spawn
        // fails, dropping the half-built pool shuts down the ones that exist.
        let mut pool = ThreadPool {
            id: NEXT_POOL_ID.fetch_add(1, Ordering::Relaxed),
            name: name.to_owned(),
            sender: Some(sender),
            workers: Vec::with_capacity(workers),
            tasks: Arc::new(TaskCount {
                pending: Mutex::new(0),
                all_done: Condvar::new(),
                panicked: AtomicUsize::new(0),
            }),
        };
        for index in 0..workers {
            let worker = Worker::spawn(
                pool.id,
                format!("{name}-{index}"),
                receiver.clone(),
                Arc::clone(&pool.tasks),
            )?;
            pool.workers.push(worker);
        }
        Ok(pool)
    }

    /// Queues `task` to run on one of the workers.
    ///
    /// Blocks while the queue is full, which is what keeps a fast producer
    /// from racing ahead of the workers.
    ///
    /// # Panics
    ///
    /// Panics if every worker thread has died, which cannot happen through a
    /// panicking task (those are caught) and would indicate a bug in this
    /// module.
    ///
    /// ```
    /// use std::sync::atomic::{AtomicUsize, Ordering};
    /// use std::sync::Arc;
    ///
    /// use pardl::pool::ThreadPool;
    ///
    /// let pool = ThreadPool::new(2);
    /// let done = Arc::new(AtomicUsize::new(0));
    /// for _ in 0..10 {
    ///     let done = Arc::clone(&done);
    ///     pool.execute(move || {
    ///         done.fetch_add(1, Ordering::Relaxed);
    ///     });
    /// }
    /// pool.wait_completion();
    /// assert_eq!(done.load(Ordering::Relaxed), 10);
    /// ```
    pub fn execute<F>(&self, task: F)
    where
        F: FnOnce() + Send + 'static,
    {
        // Count the task before it can possibly run, or a fast worker could
        // finish it and decrement a counter that was never incremented.
        self.tasks.task_submitted();
        let delivered = match &self.sender {
            Some(sender) => sender.send(Box::new(task)).is_ok(),
            None => false,
        };
        if !delivered {
            self.tasks.task_finished();
            panic!(
                "thread pool '{}': every worker thread has exited, cannot run the task",
                self.name
            );
        }
    }

    /// Queues `task` like [`ThreadPool::execute`] and returns a [`TaskHandle`] whose
    /// [`join`](TaskHandle::join) blocks until the task has run and gives back its value, or the
    /// message of its panic: a blocking promise, with no async runtime.
    ///
    /// A panic is still caught, logged and counted by the pool as for any task; the handle only
    /// adds a way to learn *which* task panicked and why.
    ///
    /// ```
    /// use pardl::pool::ThreadPool;
    ///
    /// let pool = ThreadPool::new(2);
    /// let squares: Vec<_> = (1..=4u64).map(|n| pool.spawn(move || n * n)).collect();
    /// let failing = pool.spawn(|| -> u64 { panic!("no answer for 13") });
    ///
    /// let values: Vec<u64> = squares.into_iter().map(|h| h.join().unwrap()).collect();
    /// assert_eq!(values, [1, 4, 9, 16]);
    /// let panic = failing.join().unwrap_err();
    /// assert_eq!(panic.message(), "no answer for 13");
    /// pool.wait_completion();
    /// assert_eq!(pool.panicked_tasks(), 1);
    /// ```
    pub fn spawn<T, F>(&self, task: F) -> TaskHandle<T>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        // Capacity 1: the task never blocks handing its result over, even if nobody joins.
        let (result_tx, result_rx) = crossbeam_channel::bounded(1);
        self.execute(move || match panic::catch_unwind(AssertUnwindSafe(task)) {
            Ok(value) => {
                let _ = result_tx.send(Ok(value));
            }
            Err(payload) => {
                let _ = result_tx.send(Err(TaskPanicked::of(payload.as_ref())));
                // Unwind on into the worker, which logs and counts it like any other panic.
                panic::resume_unwind(payload);
            }
        });
        TaskHandle::new(result_rx)
    }

    /// Submits one task per item, each calling `f(item)`, like the article's
    /// `map`. Does not wait for them: call [`ThreadPool::wait_completion`]
    /// afterwards.
    ///
    /// Items are pulled from the iterator only as the queue accepts them, so
    /// a huge or lazily read input is never materialised in memory.
    ///
    /// ```
    /// use std::sync::atomic::{AtomicUsize, Ordering};
    /// use std::sync::Arc;
    ///
    /// use pardl::pool::ThreadPool;
    ///
    /// let pool = ThreadPool::new(3);
    /// let total = Arc::new(AtomicUsize::new(0));
    /// let sum = Arc::clone(&total);
    /// pool.map(1..=100, move |n: usize| {
    ///     sum.fetch_add(n, Ordering::Relaxed);
    /// });
    /// pool.wait_completion();
    /// assert_eq!(total.load(Ordering::Relaxed), 5050);
    /// ```
    pub fn map<T, I, F>(&self, items: I, f: F)
    where
        I: IntoIterator<Item = T>,
        T: Send + 'static,
        F: Fn(T) + Send + Sync + 'static,
    {
        let f = Arc::new(f);
        for item in items {
            let f = Arc::clone(&f);
            self.execute(move || f(item));
        }
    }

    /// Blocks until every task submitted so far has finished, whether it
    /// returned or panicked (Python's `Queue.join`). Returns at once if
    /// nothing is pending, and may be called any number of times.
    ///
    /// # Panics
    ///
    /// Panics when called from a task running on this same pool, because
    /// that task would be waiting for itself to finish (see the deadlock
    /// rules in the [module documentation](self)).
    ///
    /// ```
    /// use pardl::pool::ThreadPool;
    ///
    /// let pool = ThreadPool::new(2);
    /// pool.wait_completion(); // nothing submitted: returns at once
    /// pool.execute(|| {});
    /// pool.wait_completion();
    /// pool.wait_completion(); // still nothing pending
    /// ```
    pub fn wait_completion(&self) {
        if OWNING_POOL.with(Cell::get) == Some(self.id) {
            panic!(
                "thread pool '{}': wait_completion called from one of its own tasks; \
                 the task would wait for itself forever",
                self.name
            );
        }
        let mut pending = self.tasks.pending.lock();
        while *pending > 0 {
            self.tasks.all_done.wait(&mut pending);
        }
    }

    /// Like [`ThreadPool::wait_completion`], but gives up after `timeout`; returns whether every task
    /// has finished. Lets the waiting thread do periodic work (pardl saves resume state) while it waits.
    ///
    /// ```
    /// use std::time::Duration;
    /// use pardl::pool::ThreadPool;
    ///
    /// let pool = ThreadPool::new(1);
    /// let (release, wait) = crossbeam_channel::bounded::<()>(0);
    /// pool.execute(move || { let _ = wait.recv(); });
    /// assert!(!pool.wait_completion_timeout(Duration::from_millis(10)));
    /// drop(release);
    /// assert!(pool.wait_completion_timeout(Duration::from_secs(60)));
    /// ```
    pub fn wait_completion_timeout(&self, timeout: std::time::Duration) -> bool {
        if OWNING_POOL.with(Cell::get) == Some(self.id) {
            panic!(
                "thread pool '{}': wait_completion_timeout called from one of its own tasks",
                self.name
            );
        }
        let deadline = std::time::Instant::now() + timeout;
        let mut pending = self.tasks.pending.lock();
        while *pending > 0 {
            if self
                .tasks
                .all_done
                .wait_until(&mut pending, deadline)
                .timed_out()
            {
                return *pending == 0;
            }
        }
        true
    }

    /// How many tasks have panicked since the pool started.
    ///
    /// After [`ThreadPool::wait_completion`] returns, this includes every
    /// task submitted before the call.
    ///
    /// ```
    /// use pardl::pool::ThreadPool;
    ///
    /// let pool = ThreadPool::new(1);
    /// pool.execute(|| panic!("simulated failure"));
    /// pool.execute(|| {});
    /// pool.wait_completion();
    /// assert_eq!(pool.panicked_tasks(), 1);
    /// ```
    pub fn panicked_tasks(&self) -> usize {
        // Relaxed is enough: a worker counts the panic before it releases
        // the pending-counter mutex that `wait_completion` acquires.
        self.tasks.panicked.load(Ordering::Relaxed)
    }

    /// The number of worker threads.
    ///
    /// ```
    /// use pardl::pool::ThreadPool;
    ///
    /// assert_eq!(ThreadPool::new(8).workers(), 8);
    /// ```
    pub fn workers(&self) -> usize {
        self.workers.len()
    }
}

impl Drop for ThreadPool {
    /// Closes the queue, then joins every worker. Workers drain the tasks
    /// already queued before they see the queue closed, so nothing submitted
    /// is lost.
    fn drop(&mut self) {
        drop(self.sender.take());
        let current = thread::current().id();
        for worker in self.workers.drain(..) {
            // A task holding the last `Arc<ThreadPool>` drops the pool on one
            // of its own workers; joining that thread from itself would fail.
            // It exits by itself once the task returns and the queue is empty.
            if worker.thread.thread().id() == current {
                continue;
            }
            let name = worker
                .thread
                .thread()
                .name()
                .unwrap_or("<unnamed>")
                .to_owned();
            if worker.thread.join().is_err() {
                error!(
                    "thread pool '{}': worker {name} died from a panic",
                    self.name
                );
            }
        }
    }
}

impl TaskCount {
    fn task_submitted(&self) {
        *self.pending.lock() += 1;
    }

    fn task_finished(&self) {
        let mut pending = self.pending.lock();
        *pending -= 1;
        if *pending == 0 {
            self.all_done.notify_all();
        }
    }
}

/// Marks one task finished when dropped: the `finally: task_done()` of the
/// article, which also runs if the worker itself unwinds.
struct TaskDone<'a>(&'a TaskCount);

impl Drop for TaskDone<'_> {
    fn drop(&mut self) {
        self.0.task_finished();
    }
}

/// One worker thread of a [`ThreadPool`].
struct Worker {
    thread: JoinHandle<()>,
}

impl Worker {
    fn spawn(
        pool: PoolId,
        name: String,
        jobs: Receiver<Job>,
        tasks: Arc<TaskCount>,
    ) -> io::Result<Worker> {
        let thread = thread::Builder::new()
            .name(name)
            .spawn(move || Worker::run(pool, &jobs, &tasks))?;
        Ok(Worker { thread })
    }

    /// Runs tasks until the queue is closed and empty.
    fn run(pool: PoolId, jobs: &Receiver<Job>, tasks: &TaskCount) {
        OWNING_POOL.with(|owner| owner.set(Some(pool)));
        for job in jobs.iter() {
            // Declared before the task runs so it is dropped after the panic
            // is counted: `wait_completion` must never return before
            // `panicked_tasks` reflects the task it waited for.
            let _done = TaskDone(tasks);
            // AssertUnwindSafe: a task that panics is never resumed, and any
            // state it shares is its own business (it chose to share it).
            if let Err(payload) = panic::catch_unwind(AssertUnwindSafe(job)) {
                tasks.panicked.fetch_add(1, Ordering::Relaxed);
                error!(
                    "task panicked on thread {}: {}",
                    thread::current().name().unwrap_or("<unnamed>"),
                    panic_message(payload.as_ref())
                );
            }
        }
        debug!(
            "worker {} exiting: queue closed",
            thread::current().name().unwrap_or("<unnamed>")
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;
    use std::sync::atomic::AtomicBool;
    use std::sync::{mpsc, Barrier};
    use std::time::{Duration, Instant};

    /// Long enough that a busy 2-core machine never trips it by accident;
    /// only a real hang does.
    const HANG: Duration = Duration::from_secs(60);

    /// How long to give a wrongly non-blocking call the chance to return.
    /// Only used to strengthen "did not return" checks, which cannot fail
    /// spuriously whatever the scheduling.
    const GRACE: Duration = Duration::from_millis(200);

    /// Runs `f` on its own thread and fails the test if it does not finish,
    /// so a deadlock shows up as a failure instead of a hung test run.
    fn finishes<F: FnOnce() + Send + 'static>(what: &str, f: F) {
        let (finished_tx, finished_rx) = mpsc::channel();
        thread::spawn(move || {
            f();
            let _ = finished_tx.send(());
        });
        assert!(
            finished_rx.recv_timeout(HANG).is_ok(),
            "{what} did not finish (deadlock or panic)"
        );
    }

    /// Gives the single worker of `pool` a task that runs until the returned sender is used or
    /// dropped, and waits until the worker has started it.
    fn occupy_the_only_worker(pool: &ThreadPool) -> mpsc::Sender<()> {
        let (started_tx, started_rx) = mpsc::channel();
        let (release_tx, release_rx) = mpsc::channel::<()>();
        pool.execute(move || {
            started_tx.send(()).expect("test thread is listening");
            let _ = release_rx.recv();
        });
        started_rx
            .recv_timeout(HANG)
            .expect("worker never started the blocker");
        release_tx
    }

    fn counter() -> Arc<AtomicUsize> {
        Arc::new(AtomicUsize::new(0))
    }

    fn each_task_runs_exactly_once(workers: usize) {
        const TASKS: usize = 10_000;
        let runs: Arc<Vec<AtomicUsize>> =
            Arc::new((0..TASKS).map(|_| AtomicUsize::new(0)).collect());
        let pool = ThreadPool::new(workers);
        for task in 0..TASKS {
            let runs = Arc::clone(&runs);
            pool.execute(move || {
                runs[task].fetch_add(1, Ordering::Relaxed);
            });
        }
        pool.wait_completion();
        let counts: Vec<usize> = runs.iter().map(|run| run.load(Ordering::Relaxed)).collect();
        assert!(
            counts.iter().all(|&count| count == 1),
            "a task ran zero or several times"
        );
        assert_eq!(counts.iter().sum::<usize>(), TASKS);
        assert_eq!(pool.panicked_tasks(), 0);
    }

    #[test]
    fn every_task_runs_exactly_once_on_one_worker() {
        each_task_runs_exactly_once(1);
    }

    #[test]
    fn every_task_runs_exactly_once_on_eight_workers() {
        each_task_runs_exactly_once(8);
    }

    /// Fills the queue of `pool` (one worker, its queue `queue` deep) behind a blocker, and checks
    /// that the next `execute` waits until the worker frees a slot.
    fn execute_blocks_once_the_queue_holds(pool: &ThreadPool, queue: usize) {
        // The worker has taken the blocker off the queue: all `queue` slots are free.
        let release_tx = occupy_the_only_worker(pool);
        let ran = counter();
        for _ in 0..queue {
            let queued = Arc::clone(&ran);
            pool.execute(move || {
                queued.fetch_add(1, Ordering::Relaxed);
            });
        }

        let released = AtomicBool::new(false);
        thread::scope(|scope| {
            let (returned_tx, returned_rx) = mpsc::channel();
            let overflowing = Arc::clone(&ran);
            let released = &released;
            scope.spawn(move || {
                pool.execute(move || {
                    overflowing.fetch_add(1, Ordering::Relaxed);
                });
                // Only possible once the blocker let the worker take a
                // queued task, which happens after `released` is set.
                let _ = returned_tx.send(released.load(Ordering::SeqCst));
            });
            assert!(
                returned_rx.recv_timeout(GRACE).is_err(),
                "execute returned although the queue was full"
            );
            released.store(true, Ordering::SeqCst);
            release_tx.send(()).expect("blocker is waiting");
            let saw_release = returned_rx
                .recv_timeout(HANG)
                .expect("producer never unblocked");
            assert!(
                saw_release,
                "execute returned before the worker freed a slot"
            );
        });
        pool.wait_completion();
        assert_eq!(ran.load(Ordering::Relaxed), queue + 1);
    }

    #[test]
    fn execute_blocks_while_the_queue_is_full() {
        execute_blocks_once_the_queue_holds(&ThreadPool::new(1), 1);
    }

    #[test]
    fn a_deeper_queue_takes_as_many_tasks_before_execute_blocks() {
        execute_blocks_once_the_queue_holds(&ThreadPool::with_queue(1, 5, "deep"), 5);
        // Zero is treated as one, as for workers.
        execute_blocks_once_the_queue_holds(&ThreadPool::with_queue(1, 0, "shallow"), 1);
    }

    #[test]
    fn map_pulls_items_only_as_the_queue_accepts_them() {
        let pool = ThreadPool::new(1);
        // The worker has taken the blocker off the queue: one free slot left.
        let release_tx = occupy_the_only_worker(&pool);

        let pulled = counter();
        let ran = counter();
        let mut pulled_while_blocked = 0;
        thread::scope(|scope| {
            let pool = &pool;
            let pulled_by_map = Arc::clone(&pulled);
            let ran_by_map = Arc::clone(&ran);
            scope.spawn(move || {
                let items = (0..100).inspect(move |_| {
                    pulled_by_map.fetch_add(1, Ordering::SeqCst);
                });
                pool.map(items, move |_item: i32| {
                    ran_by_map.fetch_add(1, Ordering::Relaxed);
                });
            });
            // With the only worker busy, map can queue one item and then
            // blocks holding the second: exactly two pulled, never more.
            let deadline = Instant::now() + HANG;
            while pulled.load(Ordering::SeqCst) < 2 && Instant::now() < deadline {
                thread::yield_now();
            }
            thread::sleep(GRACE);
            pulled_while_blocked = pulled.load(Ordering::SeqCst);
            // Release before asserting, so a failure cannot leave the map
            // thread blocked and hang the scope.
            release_tx.send(()).expect("blocker is waiting");
        });
        assert_eq!(
            pulled_while_blocked, 2,
            "map did not stream items as the queue drained"
        );
        pool.wait_completion();
        assert_eq!(pulled.load(Ordering::SeqCst), 100);
        assert_eq!(ran.load(Ordering::Relaxed), 100);
    }

    #[test]
    fn panicking_task_is_counted_and_the_single_worker_keeps_serving() {
        let pool = ThreadPool::new(1);
        pool.execute(|| panic!("simulated failure"));
        let ran = counter();
        for _ in 0..100 {
            let ran = Arc::clone(&ran);
            pool.execute(move || {
                ran.fetch_add(1, Ordering::Relaxed);
            });
        }
        finishes("wait_completion after a panic", move || {
            pool.wait_completion();
            assert_eq!(pool.panicked_tasks(), 1);
            assert_eq!(ran.load(Ordering::Relaxed), 100);

            // The same worker thread survived and still runs new tasks.
            let after = counter();
            let after_in_task = Arc::clone(&after);
            pool.execute(move || {
                after_in_task.fetch_add(1, Ordering::Relaxed);
            });
            pool.wait_completion();
            assert_eq!(after.load(Ordering::Relaxed), 1);
            assert_eq!(pool.panicked_tasks(), 1);
        });
    }

    #[test]
    fn panics_interleaved_with_work_on_many_workers_are_all_counted() {
        let pool = ThreadPool::new(8);
        let ran = counter();
        for task in 0..200 {
            let ran = Arc::clone(&ran);
            pool.execute(move || {
                if task % 2 == 0 {
                    panic!("task {task} failed");
                }
                ran.fetch_add(1, Ordering::Relaxed);
            });
        }
        finishes("wait_completion after many panics", move || {
            pool.wait_completion();
            assert_eq!(pool.panicked_tasks(), 100);
            assert_eq!(ran.load(Ordering::Relaxed), 100);
        });
    }

    #[test]
    fn panic_message_reads_str_and_string_payloads() {
        let literal = panic::catch_unwind(|| panic!("literal")).unwrap_err();
        assert_eq!(panic_message(literal.as_ref()), "literal");
        let formatted = panic::catch_unwind(|| panic!("code {}", 42)).unwrap_err();
        assert_eq!(panic_message(formatted.as_ref()), "code 42");
        let other = panic::catch_unwind(|| panic::panic_any(7_u8)).unwrap_err();
        assert_eq!(panic_message(other.as_ref()), "<non-string panic payload>");
    }

    #[test]
    fn drop_runs_the_queued_tasks_before_returning() {
        const WORKERS: usize = 4;
        let pool = ThreadPool::new(WORKERS);
        let ran = counter();
        let (started_tx, started_rx) = mpsc::channel();
        let (release_tx, release_rx) = crossbeam_channel::bounded::<()>(0);
        for _ in 0..WORKERS {
            let started_tx = started_tx.clone();
            let release_rx = release_rx.clone();
            let ran = Arc::clone(&ran);
            pool.execute(move || {
                started_tx.send(()).expect("test thread is listening");
                // Returns once the test drops `release_tx`.
                let _ = release_rx.recv();
                ran.fetch_add(1, Ordering::Relaxed);
            });
        }
        for _ in 0..WORKERS {
            started_rx
                .recv_timeout(HANG)
                .expect("a worker never started");
        }
        // Every worker is busy, so these fill the queue without running.
        for _ in 0..WORKERS {
            let ran = Arc::clone(&ran);
            pool.execute(move || {
                ran.fetch_add(1, Ordering::Relaxed);
            });
        }
        assert_eq!(ran.load(Ordering::Relaxed), 0);
        let ran_after_drop = Arc::clone(&ran);
        finishes("drop with queued tasks", move || {
            drop(release_tx);
            // Almost certainly still queued here; the assertion below holds
            // either way, since drop must not return before they ran.
            drop(pool);
            assert_eq!(ran_after_drop.load(Ordering::Relaxed), 2 * WORKERS);
        });
    }

    #[test]
    fn nested_pools_run_every_subtask_without_deadlock() {
        let subtasks = counter();
        let outer = ThreadPool::with_name(2, "outer");
        for _ in 0..20 {
            let subtasks = Arc::clone(&subtasks);
            outer.execute(move || {
                let inner = ThreadPool::with_name(3, "inner");
                for _ in 0..50 {
                    let subtasks = Arc::clone(&subtasks);
                    inner.execute(move || {
                        subtasks.fetch_add(1, Ordering::Relaxed);
                    });
                }
                inner.wait_completion();
            });
        }
        let total = Arc::clone(&subtasks);
        finishes("nested pools", move || {
            outer.wait_completion();
            assert_eq!(outer.panicked_tasks(), 0);
            assert_eq!(total.load(Ordering::Relaxed), 20 * 50);
        });
    }

    #[test]
    fn map_runs_f_once_per_item_of_a_range() {
        let pool = ThreadPool::new(4);
        let count = counter();
        let sum = counter();
        let (count_in_f, sum_in_f) = (Arc::clone(&count), Arc::clone(&sum));
        pool.map(0..1000, move |n: usize| {
            count_in_f.fetch_add(1, Ordering::Relaxed);
            sum_in_f.fetch_add(n, Ordering::Relaxed);
        });
        pool.wait_completion();
        assert_eq!(count.load(Ordering::Relaxed), 1000);
        assert_eq!(sum.load(Ordering::Relaxed), (0..1000).sum::<usize>());
    }

    #[test]
    fn wait_completion_without_tasks_and_twice_returns() {
        let pool = ThreadPool::new(2);
        let ran = counter();
        let ran_in_check = Arc::clone(&ran);
        finishes("wait_completion with nothing pending", move || {
            pool.wait_completion();
            pool.wait_completion();
            let ran = Arc::clone(&ran_in_check);
            pool.execute(move || {
                ran.fetch_add(1, Ordering::Relaxed);
            });
            pool.wait_completion();
            pool.wait_completion();
        });
        assert_eq!(ran.load(Ordering::Relaxed), 1);
    }

    #[test]
    fn wait_completion_from_own_task_panics_instead_of_deadlocking() {
        let pool = Arc::new(ThreadPool::new(1));
        let (message_tx, message_rx) = mpsc::channel();
        let same_pool = Arc::clone(&pool);
        pool.execute(move || {
            let refused = panic::catch_unwind(AssertUnwindSafe(|| same_pool.wait_completion()));
            let message = refused
                .err()
                .map(|payload| panic_message(payload.as_ref()).to_owned());
            message_tx.send(message).expect("test thread is listening");
        });
        let message = message_rx
            .recv_timeout(HANG)
            .expect("task hung in wait_completion");
        let message = message.expect("wait_completion on its own pool did not panic");
        assert!(message.contains("own tasks"), "unclear message: {message}");
        finishes("wait_completion from outside", move || {
            pool.wait_completion()
        });
    }

    #[test]
    fn waiting_on_another_pool_from_a_task_is_allowed() {
        let outer = ThreadPool::new(1);
        let inner = Arc::new(ThreadPool::new(1));
        let ran = counter();
        let (inner_in_task, ran_in_task) = (Arc::clone(&inner), Arc::clone(&ran));
        outer.execute(move || {
            inner_in_task.execute(move || {
                ran_in_task.fetch_add(1, Ordering::Relaxed);
            });
            inner_in_task.wait_completion();
        });
        finishes("waiting on another pool", move || {
            outer.wait_completion();
            assert_eq!(outer.panicked_tasks(), 0);
        });
        assert_eq!(ran.load(Ordering::Relaxed), 1);
    }

    #[test]
    fn dropping_the_last_handle_inside_its_own_task_does_not_hang() {
        let pool = Arc::new(ThreadPool::new(2));
        let (hold_tx, hold_rx) = mpsc::channel::<()>();
        let (dropped_tx, dropped_rx) = mpsc::channel();
        let last_handle = Arc::clone(&pool);
        pool.execute(move || {
            // Wait until the test has given up its handle, so this one is
            // the last and dropping it runs `ThreadPool::drop` on a worker.
            let _ = hold_rx.recv();
            drop(last_handle);
            dropped_tx.send(()).expect("test thread is listening");
        });
        drop(pool);
        drop(hold_tx);
        assert!(
            dropped_rx.recv_timeout(HANG).is_ok(),
            "dropping the pool from its own worker hung or panicked"
        );
    }

    #[test]
    fn worker_threads_are_named_after_the_pool() {
        const WORKERS: usize = 3;
        let pool = ThreadPool::with_name(WORKERS, "pardl-chunk");
        let names = Arc::new(Mutex::new(BTreeSet::new()));
        // The barrier holds each task until all three are running, so they
        // must be on three different workers.
        let all_running = Arc::new(Barrier::new(WORKERS));
        for _ in 0..WORKERS {
            let (names, all_running) = (Arc::clone(&names), Arc::clone(&all_running));
            pool.execute(move || {
                all_running.wait();
                let name = thread::current().name().map(str::to_owned);
                names.lock().insert(name);
            });
        }
        finishes("named workers", move || pool.wait_completion());
        let expected: BTreeSet<_> = ["pardl-chunk-0", "pardl-chunk-1", "pardl-chunk-2"]
            .into_iter()
            .map(|name| Some(name.to_owned()))
            .collect();
        assert_eq!(*names.lock(), expected);

        let default = ThreadPool::new(1);
        let (name_tx, name_rx) = mpsc::channel();
        default.execute(move || {
            let _ = name_tx.send(thread::current().name().map(str::to_owned));
        });
        assert_eq!(
            name_rx.recv_timeout(HANG).ok().flatten().as_deref(),
            Some("pool-0")
        );
    }

    #[test]
    fn zero_workers_is_treated_as_one() {
        let pool = ThreadPool::new(0);
        assert_eq!(pool.workers(), 1);
        let ran = counter();
        let ran_in_task = Arc::clone(&ran);
        pool.execute(move || {
            ran_in_task.fetch_add(1, Ordering::Relaxed);
        });
        finishes("zero-worker pool", move || pool.wait_completion());
        assert_eq!(ran.load(Ordering::Relaxed), 1);
    }

    #[test]
    fn thread_pool_can_be_shared_between_threads() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<ThreadPool>();
    }

    #[test]
    fn spawned_tasks_hand_back_values_and_panics_and_the_pool_keeps_serving() {
        let pool = ThreadPool::with_name(2, "promise");
        let failing = pool.spawn(|| -> u32 { panic!("chunk {} is cursed", 7) });
        let values: Vec<_> = (0..20u32).map(|n| pool.spawn(move || n * 2)).collect();
        let panicked = failing.join().unwrap_err();
        assert_eq!(panicked.message(), "chunk 7 is cursed");
        assert!(panicked.thread().starts_with("promise-"), "{panicked}");
        let values: Vec<u32> = values.into_iter().map(|h| h.join().unwrap()).collect();
        assert_eq!(values, (0..20).map(|n| n * 2).collect::<Vec<_>>());
        pool.wait_completion();
        assert_eq!(pool.panicked_tasks(), 1);
        // A handle nobody joins costs nothing and blocks nobody.
        drop(pool.spawn(|| 1));
        let last = pool.spawn(|| "still serving");
        pool.wait_completion();
        assert!(last.is_finished());
        assert_eq!(last.join(), Ok("still serving"));
    }
}
