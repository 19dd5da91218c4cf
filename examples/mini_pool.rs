//! A thread pool built in five steps, with the standard library only: the pool of the Rust Book's
//! last chapter first, then each thing pardl's `ThreadPool` adds to it, one small diff at a time.
//! docs/pool-in-steps.md walks through the steps; this file is the code they show, runnable.
//!
//! ```text
//! cargo run --example mini_pool                       # every step, in order
//! cargo run --example mini_pool -- 2                  # one step
//! cargo run --example mini_pool -- 2 --capacity 0     # step 2 with another queue capacity
//! cargo test --example mini_pool                      # each step's own test
//! ```
//!
//! | step | module | adds |
//! |---|---|---|
//! | 1 | `step1` | the Book's pool: an unbounded `mpsc` channel, its one receiver shared behind `Mutex` |
//! | 2 | `step2` | a bounded `sync_channel`: a full queue makes `execute` wait (backpressure) |
//! | 3 | `step3` | a pending counter and a `Condvar`: `wait_completion` |
//! | 4 | `step4` | `catch_unwind` and a drop guard: a panicking task is counted, the worker lives on |
//! | 5 | `step5` | nesting: a task builds a pool of its own and waits for it |
//!
//! Each step's module holds the whole pool of that step, so it can be read alone; the pools are
//! copies with a few lines changed, and docs/pool-in-steps.md shows exactly those lines.

use std::sync::{Arc, Condvar, Mutex};
use std::thread;
use std::time::{Duration, Instant};

/// Step 1: the Book's pool. Workers share the one receiver of an unbounded channel behind a mutex.
mod step1 {
    use std::sync::mpsc::{self, Receiver, Sender};
    use std::sync::{Arc, Mutex};
    use std::thread::{self, JoinHandle};

    type Job = Box<dyn FnOnce() + Send + 'static>;

    pub struct ThreadPool {
        sender: Option<Sender<Job>>,
        workers: Vec<JoinHandle<()>>,
    }

    impl ThreadPool {
        pub fn new(workers: usize) -> ThreadPool {
            let (sender, receiver) = mpsc::channel::<Job>();
            let receiver = Arc::new(Mutex::new(receiver));
            let workers = (0..workers.max(1))
                .map(|i| {
                    let receiver = Arc::clone(&receiver);
                    thread::Builder::new()
                        .name(format!("mini-{i}"))
                        .spawn(move || work(&receiver))
                        .unwrap_or_else(|e| panic!("mini pool: cannot start worker {i}: {e}"))
                })
                .collect();
            ThreadPool {
                sender: Some(sender),
                workers,
            }
        }

        pub fn execute<F: FnOnce() + Send + 'static>(&self, task: F) {
            if let Some(sender) = &self.sender {
                sender.send(Box::new(task)).expect("a worker is alive");
            }
        }
    }

    fn work(receiver: &Mutex<Receiver<Job>>) {
        loop {
            // The guard of `lock()` is a temporary: it is dropped at the end of this statement,
            // so the lock is held while a task is taken, never while it runs.
            let job = receiver.lock().expect("no task runs under the lock").recv();
            match job {
                Ok(job) => job(),
                Err(_) => break, // the sender is gone and the queue is empty: shut down
            }
        }
    }

    impl Drop for ThreadPool {
        fn drop(&mut self) {
            drop(self.sender.take()); // closes the channel; workers finish what is queued
            for worker in self.workers.drain(..) {
                if worker.join().is_err() {
                    eprintln!("a worker thread died from a panic");
                }
            }
        }
    }
}

/// Step 2: a bounded channel. `execute` waits while `capacity` tasks are already queued.
mod step2 {
    use std::sync::mpsc::{self, Receiver, SyncSender};
    use std::sync::{Arc, Mutex};
    use std::thread::{self, JoinHandle};

    type Job = Box<dyn FnOnce() + Send + 'static>;

    pub struct ThreadPool {
        sender: Option<SyncSender<Job>>,
        workers: Vec<JoinHandle<()>>,
    }

    impl ThreadPool {
        pub fn new(workers: usize, capacity: usize) -> ThreadPool {
            let (sender, receiver) = mpsc::sync_channel::<Job>(capacity);
            let receiver = Arc::new(Mutex::new(receiver));
            let workers = (0..workers.max(1))
                .map(|i| {
                    let receiver = Arc::clone(&receiver);
                    thread::Builder::new()
                        .name(format!("mini-{i}"))
                        .spawn(move || work(&receiver))
                        .unwrap_or_else(|e| panic!("mini pool: cannot start worker {i}: {e}"))
                })
                .collect();
            ThreadPool {
                sender: Some(sender),
                workers,
            }
        }

        /// Blocks while the queue is full: the producer waits for a worker to take a task.
        pub fn execute<F: FnOnce() + Send + 'static>(&self, task: F) {
            if let Some(sender) = &self.sender {
                sender.send(Box::new(task)).expect("a worker is alive");
            }
        }
    }

    fn work(receiver: &Mutex<Receiver<Job>>) {
        loop {
            // The guard of `lock()` is a temporary: it is dropped at the end of this statement,
            // so the lock is held while a task is taken, never while it runs.
            let job = receiver.lock().expect("no task runs under the lock").recv();
            match job {
                Ok(job) => job(),
                Err(_) => break, // the sender is gone and the queue is empty: shut down
            }
        }
    }

    impl Drop for ThreadPool {
        fn drop(&mut self) {
            drop(self.sender.take()); // closes the channel; workers finish what is queued
            for worker in self.workers.drain(..) {
                if worker.join().is_err() {
                    eprintln!("a worker thread died from a panic");
                }
            }
        }
    }
}

/// Step 3: a count of pending tasks and a condition variable, for `wait_completion`.
mod step3 {
    use std::sync::mpsc::{self, Receiver, SyncSender};
    use std::sync::{Arc, Condvar, Mutex};
    use std::thread::{self, JoinHandle};

    type Job = Box<dyn FnOnce() + Send + 'static>;

    pub struct ThreadPool {
        sender: Option<SyncSender<Job>>,
        workers: Vec<JoinHandle<()>>,
        pending: Arc<Pending>,
    }

    /// Tasks submitted and not finished yet: queued, or running.
    #[derive(Default)]
    struct Pending {
        count: Mutex<usize>,
        zero: Condvar,
    }

    impl ThreadPool {
        pub fn new(workers: usize, capacity: usize) -> ThreadPool {
            let (sender, receiver) = mpsc::sync_channel::<Job>(capacity);
            let receiver = Arc::new(Mutex::new(receiver));
            let pending = Arc::new(Pending::default());
            let workers = (0..workers.max(1))
                .map(|i| {
                    let receiver = Arc::clone(&receiver);
                    let pending = Arc::clone(&pending);
                    thread::Builder::new()
                        .name(format!("mini-{i}"))
                        .spawn(move || work(&receiver, &pending))
                        .unwrap_or_else(|e| panic!("mini pool: cannot start worker {i}: {e}"))
                })
                .collect();
            ThreadPool {
                sender: Some(sender),
                workers,
                pending,
            }
        }

        /// Blocks while the queue is full: the producer waits for a worker to take a task.
        pub fn execute<F: FnOnce() + Send + 'static>(&self, task: F) {
            // Counted before it is sent: a fast worker must not finish it first.
            *self.pending.count.lock().expect("not poisoned") += 1;
            if let Some(sender) = &self.sender {
                sender.send(Box::new(task)).expect("a worker is alive");
            }
        }

        /// Blocks until every task submitted so far has finished.
        pub fn wait_completion(&self) {
            let mut count = self.pending.count.lock().expect("not poisoned");
            while *count > 0 {
                count = self.pending.zero.wait(count).expect("not poisoned");
            }
        }
    }

    fn work(receiver: &Mutex<Receiver<Job>>, pending: &Pending) {
        loop {
            // The guard of `lock()` is a temporary: it is dropped at the end of this statement,
            // so the lock is held while a task is taken, never while it runs.
            let job = receiver.lock().expect("no task runs under the lock").recv();
            match job {
                Ok(job) => {
                    job();
                    pending.finished();
                }
                Err(_) => break, // the sender is gone and the queue is empty: shut down
            }
        }
    }

    impl Pending {
        fn finished(&self) {
            let mut count = self.count.lock().expect("not poisoned");
            *count -= 1;
            if *count == 0 {
                self.zero.notify_all();
            }
        }
    }

    impl Drop for ThreadPool {
        fn drop(&mut self) {
            drop(self.sender.take()); // closes the channel; workers finish what is queued
            for worker in self.workers.drain(..) {
                if worker.join().is_err() {
                    eprintln!("a worker thread died from a panic");
                }
            }
        }
    }
}

/// Step 4: every task runs under `catch_unwind`; a drop guard marks it finished whatever happens.
mod step4 {
    use std::panic::{self, AssertUnwindSafe};
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::mpsc::{self, Receiver, SyncSender};
    use std::sync::{Arc, Condvar, Mutex};
    use std::thread::{self, JoinHandle};

    type Job = Box<dyn FnOnce() + Send + 'static>;

    pub struct ThreadPool {
        sender: Option<SyncSender<Job>>,
        workers: Vec<JoinHandle<()>>,
        pending: Arc<Pending>,
    }

    /// Tasks submitted and not finished yet: queued, or running.
    #[derive(Default)]
    struct Pending {
        count: Mutex<usize>,
        zero: Condvar,
        panicked: AtomicUsize,
    }

    impl ThreadPool {
        pub fn new(workers: usize, capacity: usize) -> ThreadPool {
            let (sender, receiver) = mpsc::sync_channel::<Job>(capacity);
            let receiver = Arc::new(Mutex::new(receiver));
            let pending = Arc::new(Pending::default());
            let workers = (0..workers.max(1))
                .map(|i| {
                    let receiver = Arc::clone(&receiver);
                    let pending = Arc::clone(&pending);
                    thread::Builder::new()
                        .name(format!("mini-{i}"))
                        .spawn(move || work(&receiver, &pending))
                        .unwrap_or_else(|e| panic!("mini pool: cannot start worker {i}: {e}"))
                })
                .collect();
            ThreadPool {
                sender: Some(sender),
                workers,
                pending,
            }
        }

        /// Blocks while the queue is full: the producer waits for a worker to take a task.
        pub fn execute<F: FnOnce() + Send + 'static>(&self, task: F) {
            // Counted before it is sent: a fast worker must not finish it first.
            *self.pending.count.lock().expect("not poisoned") += 1;
            if let Some(sender) = &self.sender {
                sender.send(Box::new(task)).expect("a worker is alive");
            }
        }

        /// Blocks until every task submitted so far has finished.
        pub fn wait_completion(&self) {
            let mut count = self.pending.count.lock().expect("not poisoned");
            while *count > 0 {
                count = self.pending.zero.wait(count).expect("not poisoned");
            }
        }

        /// Tasks that panicked; after `wait_completion`, every one it waited for is counted.
        pub fn panicked(&self) -> usize {
            self.pending.panicked.load(Ordering::Relaxed)
        }
    }

    fn work(receiver: &Mutex<Receiver<Job>>, pending: &Pending) {
        loop {
            // The guard of `lock()` is a temporary: it is dropped at the end of this statement,
            // so the lock is held while a task is taken, never while it runs.
            let job = receiver.lock().expect("no task runs under the lock").recv();
            match job {
                Ok(job) => {
                    // Declared first, dropped last: after the panic is counted, and even if
                    // the lines below panic themselves (`eprintln!` does when stderr is closed).
                    let _done = Done(pending);
                    if let Err(payload) = panic::catch_unwind(AssertUnwindSafe(job)) {
                        pending.panicked.fetch_add(1, Ordering::Relaxed);
                        let message = payload
                            .downcast_ref::<&str>()
                            .copied()
                            .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
                            .unwrap_or("?");
                        let thread = thread::current();
                        let name = thread.name().unwrap_or("?");
                        eprintln!("task panicked on thread {name}: {message}");
                    }
                }
                Err(_) => break, // the sender is gone and the queue is empty: shut down
            }
        }
    }

    /// Marks one task finished when dropped.
    struct Done<'a>(&'a Pending);

    impl Drop for Done<'_> {
        fn drop(&mut self) {
            let mut count = self.0.count.lock().expect("not poisoned");
            *count -= 1;
            if *count == 0 {
                self.0.zero.notify_all();
            }
        }
    }

    impl Drop for ThreadPool {
        fn drop(&mut self) {
            drop(self.sender.take()); // closes the channel; workers finish what is queued
            for worker in self.workers.drain(..) {
                if worker.join().is_err() {
                    eprintln!("a worker thread died from a panic");
                }
            }
        }
    }
}

/// Step 5: nesting. No new pool code: an outer task builds a pool of its own, fills it and waits
/// for it, as a pardl file task does with its chunks. The outer worker blocks, but only on threads
/// that exist for it alone and wait for nothing above them.
mod step5 {
    pub use super::step4::ThreadPool;

    /// One file of the demo: `chunks` tasks on a pool of its own with `connections` workers.
    pub fn download_file(
        chunks: usize,
        connections: usize,
        chunk: impl Fn() + Send + Sync + 'static,
    ) {
        let pool = ThreadPool::new(connections, connections);
        let chunk = std::sync::Arc::new(chunk);
        for _ in 0..chunks {
            let chunk = std::sync::Arc::clone(&chunk);
            pool.execute(move || chunk());
        }
        pool.wait_completion(); // waits on its own pool's threads, never on the outer pool
    }
}

/// A door tasks wait at until the demo opens it: it keeps workers busy for as long as it likes.
#[derive(Default)]
struct Gate {
    open: Mutex<bool>,
    opened: Condvar,
}

impl Gate {
    fn wait(&self) {
        let mut open = self.open.lock().expect("not poisoned");
        while !*open {
            open = self.opened.wait(open).expect("not poisoned");
        }
    }

    fn open(&self) {
        *self.open.lock().expect("not poisoned") = true;
        self.opened.notify_all();
    }
}

/// A number several threads change; `peak` keeps its largest value.
#[derive(Default)]
struct Gauge {
    now: Mutex<(usize, usize)>,
}

impl Gauge {
    fn add(&self, n: usize) {
        let mut now = self.now.lock().expect("not poisoned");
        now.0 += n;
        now.1 = now.1.max(now.0);
    }

    fn sub(&self, n: usize) {
        self.now.lock().expect("not poisoned").0 -= n;
    }

    fn get(&self) -> usize {
        self.now.lock().expect("not poisoned").0
    }

    fn peak(&self) -> usize {
        self.now.lock().expect("not poisoned").1
    }
}

/// Waits until `read` has not changed for `quiet` (a producer blocked for good), then returns it.
fn settled(read: impl Fn() -> usize, quiet: Duration) -> usize {
    let mut last = read();
    let mut since = Instant::now();
    loop {
        thread::sleep(Duration::from_millis(10));
        let now = read();
        if now != last {
            (last, since) = (now, Instant::now());
        } else if since.elapsed() >= quiet {
            return now;
        }
    }
}

const WORKERS: usize = 2;
const TASKS: usize = 12;

fn step1() -> Vec<String> {
    let gate = Arc::new(Gate::default());
    let done = Arc::new(Gauge::default());
    let pool = step1::ThreadPool::new(WORKERS);
    for _ in 0..TASKS {
        let (gate, done) = (Arc::clone(&gate), Arc::clone(&done));
        pool.execute(move || {
            gate.wait();
            done.add(1);
        });
    }
    let queued_while_busy = TASKS - done.get();
    gate.open();
    drop(pool); // waits for every queued task
    vec![
        format!("step 1: {WORKERS} workers, {TASKS} tasks that wait at a closed gate"),
        format!("step 1: execute never waited: {queued_while_busy} tasks accepted while both workers were busy"),
        format!("step 1: dropping the pool ran every queued task: {} of {TASKS} done", done.get()),
    ]
}

fn step2(capacity: usize) -> Vec<String> {
    let gate = Arc::new(Gate::default());
    let accepted = Arc::new(Gauge::default());
    let pool = Arc::new(step2::ThreadPool::new(WORKERS, capacity));
    let producer = {
        let (gate, accepted, pool) = (Arc::clone(&gate), Arc::clone(&accepted), Arc::clone(&pool));
        thread::spawn(move || {
            for _ in 0..TASKS {
                let gate = Arc::clone(&gate);
                pool.execute(move || gate.wait());
                accepted.add(1);
            }
        })
    };
    let ahead = settled(|| accepted.get(), Duration::from_millis(200));
    gate.open();
    producer.join().expect("the producer does not panic");
    let waiting = ahead.saturating_sub(WORKERS);
    let blocked = if ahead < TASKS {
        format!("execute blocked at task {}", ahead + 1)
    } else {
        "execute never blocked".to_string()
    };
    vec![
        format!("step 2: {WORKERS} workers, queue capacity {capacity}, {TASKS} tasks that wait at a closed gate"),
        format!("step 2: {blocked}: {} running, {waiting} waiting in the queue", ahead.min(WORKERS)),
        format!("step 2: the gate opened and the producer went on: {} of {TASKS} accepted", accepted.get()),
    ]
}

fn step3() -> Vec<String> {
    let done = Arc::new(Gauge::default());
    let pool = step3::ThreadPool::new(WORKERS, WORKERS);
    let started = Instant::now();
    pool.wait_completion();
    let idle = started.elapsed();
    for _ in 0..TASKS {
        let done = Arc::clone(&done);
        pool.execute(move || {
            thread::sleep(Duration::from_millis(10));
            done.add(1);
        });
    }
    pool.wait_completion();
    vec![
        format!(
            "step 3: wait_completion with nothing pending returned at once ({})",
            if idle < Duration::from_secs(1) {
                "under a second"
            } else {
                "late"
            }
        ),
        format!(
            "step 3: wait_completion returned when {} of {TASKS} tasks had finished",
            done.get()
        ),
    ]
}

fn step4() -> Vec<String> {
    let pool = step4::ThreadPool::new(WORKERS, WORKERS);
    pool.execute(|| panic!("this task fails on purpose"));
    pool.wait_completion();
    let panicked = pool.panicked();
    // Two tasks that can only finish together: both workers must still be alive.
    let meeting = Arc::new(std::sync::Barrier::new(WORKERS));
    let met = Arc::new(Gauge::default());
    for _ in 0..WORKERS {
        let (meeting, met) = (Arc::clone(&meeting), Arc::clone(&met));
        pool.execute(move || {
            meeting.wait();
            met.add(1);
        });
    }
    pool.wait_completion();
    vec![
        format!("step 4: a task panicked; wait_completion returned; panicked tasks: {panicked}"),
        format!(
            "step 4: afterwards {} tasks met at a barrier of {WORKERS}: every worker survived",
            met.get()
        ),
    ]
}

fn step5() -> Vec<String> {
    const FILES: usize = 4;
    const CHUNKS: usize = 5;
    const CONNECTIONS: usize = 3;
    let threads = Arc::new(Gauge::default());
    let chunks_done = Arc::new(Gauge::default());
    threads.add(1 + WORKERS); // this thread and the outer pool's workers
    let files = step5::ThreadPool::new(WORKERS, WORKERS);
    for _ in 0..FILES {
        let (threads, chunks_done) = (Arc::clone(&threads), Arc::clone(&chunks_done));
        files.execute(move || {
            threads.add(CONNECTIONS);
            step5::download_file(CHUNKS, CONNECTIONS, move || {
                thread::sleep(Duration::from_millis(20));
                chunks_done.add(1);
            });
            threads.sub(CONNECTIONS); // the file's pool is dropped: its threads are joined
        });
    }
    files.wait_completion();
    vec![
        format!("step 5: {FILES} files x {CHUNKS} chunks = {} chunks done, each file on a pool of its own", chunks_done.get()),
        format!(
            "step 5: at most {} threads at once (bound: 1 + {WORKERS} file workers + {WORKERS} x {CONNECTIONS} chunk workers = {})",
            threads.peak(),
            1 + WORKERS + WORKERS * CONNECTIONS
        ),
    ]
}

const USAGE: &str = "usage: mini_pool [STEP] [--capacity N]

  STEP            1 to 5: run that step only (default: every step)
  --capacity N    the queue capacity of step 2 (default: 2, as many as the workers)";

fn main() {
    let mut step = None;
    let mut capacity = WORKERS;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let parsed = match arg.as_str() {
            "--capacity" => args
                .next()
                .and_then(|n| n.parse().ok())
                .map(|n| capacity = n),
            "-h" | "--help" => {
                println!("{USAGE}");
                return;
            }
            _ => arg
                .parse()
                .ok()
                .filter(|n| (1..=5).contains(n))
                .map(|n| step = Some(n)),
        };
        if parsed.is_none() {
            eprintln!("mini_pool: bad argument {arg:?}\n\n{USAGE}");
            std::process::exit(2);
        }
    }
    for n in 1..=5 {
        if step.is_some_and(|s| s != n) {
            continue;
        }
        let lines = match n {
            1 => step1(),
            2 => step2(capacity),
            3 => step3(),
            4 => step4(),
            _ => step5(),
        };
        for line in lines {
            println!("{line}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc;

    /// Runs `f` on its own thread and fails instead of hanging if it takes a minute.
    fn finishes<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
        let (sender, receiver) = mpsc::channel();
        thread::spawn(move || sender.send(f()));
        receiver
            .recv_timeout(Duration::from_secs(60))
            .expect("finished within a minute")
    }

    #[test]
    fn step1_queues_without_limit_and_drop_runs_everything() {
        let lines = finishes(step1);
        assert_eq!(
            lines[1],
            "step 1: execute never waited: 12 tasks accepted while both workers were busy"
        );
        assert_eq!(
            lines[2],
            "step 1: dropping the pool ran every queued task: 12 of 12 done"
        );
    }

    #[test]
    fn step2_execute_waits_when_the_queue_is_full() {
        let lines = finishes(|| step2(2));
        assert_eq!(
            lines[1],
            "step 2: execute blocked at task 5: 2 running, 2 waiting in the queue"
        );
        assert_eq!(
            lines[2],
            "step 2: the gate opened and the producer went on: 12 of 12 accepted"
        );
        assert_eq!(
            finishes(|| step2(0))[1],
            "step 2: execute blocked at task 3: 2 running, 0 waiting in the queue"
        );
        assert_eq!(
            finishes(|| step2(1000))[1],
            "step 2: execute never blocked: 2 running, 10 waiting in the queue"
        );
    }

    #[test]
    fn step3_wait_completion_waits_for_every_task() {
        let lines = finishes(step3);
        assert_eq!(
            lines[0],
            "step 3: wait_completion with nothing pending returned at once (under a second)"
        );
        assert_eq!(
            lines[1],
            "step 3: wait_completion returned when 12 of 12 tasks had finished"
        );
    }

    #[test]
    fn step4_a_panic_is_counted_before_wait_completion_returns() {
        // Many rounds: a guard dropped before the panic is counted would lose this race sometimes.
        let pool = step4::ThreadPool::new(4, 4);
        for round in 1..=200 {
            pool.execute(|| panic!("round"));
            pool.wait_completion();
            assert_eq!(pool.panicked(), round);
        }
        let lines = finishes(step4);
        assert_eq!(
            lines[0],
            "step 4: a task panicked; wait_completion returned; panicked tasks: 1"
        );
        assert_eq!(
            lines[1],
            "step 4: afterwards 2 tasks met at a barrier of 2: every worker survived"
        );
    }

    #[test]
    fn step5_nested_pools_finish() {
        let lines = finishes(step5);
        assert_eq!(
            lines[0],
            "step 5: 4 files x 5 chunks = 20 chunks done, each file on a pool of its own"
        );
        assert!(
            lines[1].ends_with("(bound: 1 + 2 file workers + 2 x 3 chunk workers = 9)"),
            "{}",
            lines[1]
        );
    }
}
