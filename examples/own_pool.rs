//! pardl's `ThreadPool` on your own tasks: the same pool that downloads files, with nothing about
//! HTTP in it.
//!
//! ```text
//! cargo run --example own_pool
//! ```
//!
//! It shows, in order: `execute` and `wait_completion`; backpressure (the queue holds as many tasks
//! as there are workers, so a fast producer waits instead of piling up tasks in memory); `map`, which
//! submits one task per item and, like `execute`, does not wait for them; a
//! task that panics, which is counted while the pool goes on; `spawn`, whose handle gives back a
//! task's value or its panic (a blocking promise, no async); and a pool inside a pool's task, the
//! shape pardl uses for files and their chunks, with the peak number of threads it needs.
//!
//! Results are plain lines; what happens on the way is a timeline, one line per event, starting
//! with `[` and the time since the start, then the name of the thread it happened on (the pool names
//! its workers `NAME-0`, `NAME-1`, …). Logging is set up with env_logger, so the pool's own report
//! of a panicking task (`task panicked on thread …`, a `log` error record) shows in the timeline.
//! `RUST_LOG=debug` adds the pool's debug lines (each worker saying it exits).

use std::io::Write;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::thread;
use std::time::{Duration, Instant};

use pardl::ThreadPool;

/// When the program started: every timeline line says how long after it.
fn started() -> Instant {
    static START: OnceLock<Instant> = OnceLock::new();
    *START.get_or_init(Instant::now)
}

/// The start of a timeline line: time since the start, and the thread it is printed from.
fn stamp() -> String {
    let thread = thread::current();
    format!(
        "[{:>8.1} ms] {:<15}",
        started().elapsed().as_secs_f64() * 1000.0,
        thread.name().unwrap_or("?")
    )
}

/// Prints one timeline line.
fn event(what: &str) {
    println!("{} {what}", stamp());
}

/// Threads that exist now, and the most at once.
#[derive(Default)]
struct ThreadCount(Mutex<(usize, usize)>);

impl ThreadCount {
    fn add(&self, n: usize) {
        let mut count = self.0.lock().unwrap_or_else(|e| e.into_inner());
        count.0 += n;
        count.1 = count.1.max(count.0);
    }

    fn sub(&self, n: usize) {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).0 -= n;
    }

    fn peak(&self) -> usize {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).1
    }
}

fn main() {
    started();
    // The pool reports a panicking task with `log::error!`; without a logger that line goes nowhere.
    // This one prints log records as timeline lines, on standard output with the rest.
    env_logger::Builder::new()
        .filter_level(log::LevelFilter::Warn)
        .parse_default_env()
        .format(|out, record| {
            writeln!(
                out,
                "{} log {} {}: {}",
                stamp(),
                record.level(),
                record.target(),
                record.args()
            )
        })
        .target(env_logger::Target::Stdout)
        .init();

    // 1. Sum 1..=1000 in 10 tasks of 100 numbers each.
    let pool = ThreadPool::with_name(4, "example");
    let total = Arc::new(AtomicU64::new(0));
    for block in 0..10u64 {
        let total = Arc::clone(&total);
        pool.execute(move || {
            let sum: u64 = (block * 100 + 1..=block * 100 + 100).sum();
            total.fetch_add(sum, Ordering::Relaxed);
        });
    }
    pool.wait_completion();
    println!("sum of 1..=1000: {}", total.load(Ordering::Relaxed));

    // 2. Backpressure: 2 workers and a queue of 2. Each task sleeps 50 ms; the producer can run at
    //    most 4 tasks ahead of the workers, so submitting 12 tasks takes about 4 rounds of 50 ms.
    //    The timeline shows it: tasks 1 to 4 are accepted at once (2 run, 2 wait in the queue),
    //    then each `execute` returns only when a worker has taken a task out of the queue.
    let small = ThreadPool::with_name(2, "backpressure");
    let started = Instant::now();
    for task in 1..=12 {
        let asked = Instant::now();
        small.execute(move || {
            event(&format!("runs task {task}"));
            thread::sleep(Duration::from_millis(50));
        });
        event(&format!(
            "execute(task {task}) returned after {} ms",
            asked.elapsed().as_millis()
        ));
    }
    let submitting = started.elapsed();
    small.wait_completion();
    println!(
        "submitting 12 slow tasks to 2 workers blocked the producer for {} ms (>= 200 ms)",
        submitting.as_millis()
    );

    // 3. `map`: one task per item. It returns once the last task is queued, not run, so wait.
    let squares = Arc::new(AtomicU64::new(0));
    {
        let squares = Arc::clone(&squares);
        pool.map(1..=100u64, move |n| {
            squares.fetch_add(n * n, Ordering::Relaxed);
        });
    }
    pool.wait_completion();
    println!(
        "sum of squares of 1..=100: {}",
        squares.load(Ordering::Relaxed)
    );

    // 4. A panicking task is caught and counted; the worker lives on and the pool keeps working.
    //    The pool's `log` error line shows in the timeline; Rust's own panic message still goes to
    //    standard error, as every panic's does.
    pool.execute(|| panic!("this task fails on purpose"));
    pool.wait_completion();
    let after = Arc::new(AtomicUsize::new(0));
    {
        let after = Arc::clone(&after);
        pool.map(0..8, move |_| {
            after.fetch_add(1, Ordering::Relaxed);
        });
    }
    pool.wait_completion();
    println!(
        "panicked tasks: {}; tasks run after the panic: {}",
        pool.panicked_tasks(),
        after.load(Ordering::Relaxed)
    );

    // 5. `spawn`: a task that returns a value. Its handle's `join` blocks until the task has run and
    //    gives back the value, or the panic of the task that failed: no side channel needed to learn
    //    which task it was.
    let handles: Vec<_> = (1..=5u64)
        .map(|n| {
            pool.spawn(move || {
                if n == 4 {
                    panic!("no square for {n} today");
                }
                n * n
            })
        })
        .collect();
    for (n, handle) in (1..=5u64).zip(handles) {
        match handle.join() {
            Ok(square) => println!("spawn: {n} squared is {square}"),
            Err(panicked) => println!("spawn: task {n} panicked: {}", panicked.message()),
        }
    }

    // 6. Nested pools: each outer task builds its own child pool and waits for it, as a file's
    //    download waits for its chunks. No deadlock: an outer worker waits only on its own child
    //    pool, whose workers never wait on the outer pool.
    //    The timeline shows each outer worker blocked in `wait_completion` while threads of its
    //    own child pool run the chunks; examples/deadlock.rs shows what happens without them.
    let threads = Arc::new(ThreadCount::default());
    threads.add(1 + 3); // this thread and the outer pool's workers
    let outer = ThreadPool::with_name(3, "files");
    let chunks_done = Arc::new(AtomicUsize::new(0));
    for file in 0..6 {
        let (chunks_done, threads) = (Arc::clone(&chunks_done), Arc::clone(&threads));
        outer.execute(move || {
            let chunks = ThreadPool::with_name(4, "chunks");
            threads.add(chunks.workers());
            for chunk in 0..5 {
                let chunks_done = Arc::clone(&chunks_done);
                chunks.execute(move || {
                    thread::sleep(Duration::from_millis(10));
                    chunks_done.fetch_add(1, Ordering::Relaxed);
                    event(&format!("file {file}: chunk {chunk} done"));
                });
            }
            event(&format!(
                "file {file}: 5 chunks queued on its own pool of 4; waits"
            ));
            let waiting = Instant::now();
            chunks.wait_completion();
            event(&format!(
                "file {file}: its chunks are done; it waited {} ms",
                waiting.elapsed().as_millis()
            ));
            let workers = chunks.workers();
            drop(chunks); // joins the child pool's threads
            threads.sub(workers);
        });
    }
    outer.wait_completion();
    println!(
        "nested pools: 6 files x 5 chunks = {} chunks done",
        chunks_done.load(Ordering::Relaxed)
    );
    println!(
        "peak threads: {} at once (at most 1 main + 3 file workers + 3 child pools x 4 = 16)",
        threads.peak()
    );
    // Dropping a pool closes its queue and joins its workers once they have finished.
}
