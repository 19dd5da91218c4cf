//! Four ways to make nested thread pools hang, on purpose, with pardl's `ThreadPool`, and a watchdog
//! that notices, says who waits for what, and ends the program. docs/pool.md explains each one
//! ("What would deadlock"); this program lets you watch them happen.
//!
//! ```text
//! cargo run --example deadlock -- shared-pool     # files and their chunks on one pool: hangs
//! cargo run --example deadlock -- own-wait        # a task waits on its own pool: the pool refuses
//! cargo run --example deadlock -- full-queue      # a task submits to its own full queue: hangs
//! cargo run --example deadlock -- held-permit     # waiting while holding what the children need: hangs
//! cargo run --example deadlock -- held-permit --fix   # the same shape done right: finishes
//! ```
//!
//! `--fix` runs the right version of any case; `--patience SECS` sets how long the watchdog waits
//! for progress (default 2).
//!
//! Exit status: 0 the case finished; 2 usage error; 3 the case hung and the watchdog stopped it;
//! 4 the pool refused the wait with a panic (`own-wait`).

use std::process;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Barrier, Condvar, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use pardl::ThreadPool;

/// Exit status when the watchdog had to stop a hung case.
const HUNG: i32 = 3;
/// Exit status when the pool refused to wait on itself.
const REFUSED: i32 = 4;

/// What the threads of a case are doing, counted so the watchdog can tell a hang from slowness
/// and say what everyone waits for.
#[derive(Default)]
struct Watch {
    /// Tasks blocked in `ThreadPool::execute` (the queue is full).
    in_execute: AtomicUsize,
    /// Tasks waiting for tasks they queued.
    waiting_for_children: AtomicUsize,
    /// Tasks handed to `execute` that no worker has started yet (those in a blocked `execute`
    /// included).
    queued: AtomicUsize,
    /// Tasks waiting for a permit.
    waiting_for_permit: AtomicUsize,
    /// Set when the case has finished.
    finished: AtomicBool,
}

impl Watch {
    /// `pool.execute(task)`, counting the time spent blocked and the task until it starts.
    fn execute(self: &Arc<Watch>, pool: &ThreadPool, task: impl FnOnce() + Send + 'static) {
        let watch = Arc::clone(self);
        self.in_execute.fetch_add(1, Ordering::SeqCst);
        self.queued.fetch_add(1, Ordering::SeqCst);
        pool.execute(move || {
            watch.queued.fetch_sub(1, Ordering::SeqCst);
            task();
        });
        self.in_execute.fetch_sub(1, Ordering::SeqCst);
    }

    fn get(counter: &AtomicUsize) -> usize {
        counter.load(Ordering::SeqCst)
    }
}

/// Counts down to zero; a task of one's own to wait for other tasks without `wait_completion`.
struct Countdown {
    left: Mutex<usize>,
    zero: Condvar,
}

impl Countdown {
    fn new(n: usize) -> Countdown {
        Countdown {
            left: Mutex::new(n),
            zero: Condvar::new(),
        }
    }

    fn done(&self) {
        let mut left = self.left.lock().unwrap_or_else(|e| e.into_inner());
        *left -= 1;
        if *left == 0 {
            self.zero.notify_all();
        }
    }

    fn wait(&self) {
        let mut left = self.left.lock().unwrap_or_else(|e| e.into_inner());
        while *left > 0 {
            left = self.zero.wait(left).unwrap_or_else(|e| e.into_inner());
        }
    }
}

/// A resource with a fixed number of permits (a connection slot of a host, in pardl).
struct Permits {
    free: Mutex<usize>,
    returned: Condvar,
}

/// One permit held; given back when dropped.
struct Permit<'a>(&'a Permits);

impl Permits {
    fn new(n: usize) -> Permits {
        Permits {
            free: Mutex::new(n),
            returned: Condvar::new(),
        }
    }

    fn take(&self, watch: &Watch) -> Permit<'_> {
        watch.waiting_for_permit.fetch_add(1, Ordering::SeqCst);
        let mut free = self.free.lock().unwrap_or_else(|e| e.into_inner());
        while *free == 0 {
            free = self.returned.wait(free).unwrap_or_else(|e| e.into_inner());
        }
        *free -= 1;
        watch.waiting_for_permit.fetch_sub(1, Ordering::SeqCst);
        Permit(self)
    }
}

impl Drop for Permit<'_> {
    fn drop(&mut self) {
        *self.0.free.lock().unwrap_or_else(|e| e.into_inner()) += 1;
        self.0.returned.notify_all();
    }
}

/// Files and chunks on one shared pool of 2 workers: each file task queues its chunk, then waits
/// for it. Once every worker is a waiting file task, the chunks sit in the queue with nobody to run
/// them. The fix is pardl's: a pool of its own for each file's chunks.
fn shared_pool(watch: &Arc<Watch>, fix: bool) -> Vec<String> {
    const WORKERS: usize = 2;
    let shared = Arc::new(ThreadPool::with_name(WORKERS, "shared"));
    // Both file tasks start before either queues a chunk: the unlucky timing, made certain. With
    // more files than workers it needs no help: sooner or later every worker is a file task.
    let both_running = Arc::new(Barrier::new(WORKERS));
    for _file in 0..WORKERS {
        let (watch, pool, both_running) = (
            Arc::clone(watch),
            Arc::clone(&shared),
            Arc::clone(&both_running),
        );
        shared.execute(move || {
            both_running.wait();
            let chunk_done = Arc::new(Countdown::new(1));
            let done = Arc::clone(&chunk_done);
            if fix {
                let own = ThreadPool::with_name(2, "chunks");
                watch.execute(&own, move || done.done());
                own.wait_completion();
            } else {
                watch.execute(&pool, move || done.done());
                watch.waiting_for_children.fetch_add(1, Ordering::SeqCst);
                chunk_done.wait();
                watch.waiting_for_children.fetch_sub(1, Ordering::SeqCst);
            }
        });
    }
    shared.wait_completion();
    vec![format!(
        "shared-pool --fix: {WORKERS} files finished, each chunk on its file's own pool"
    )]
}

/// What a hung `shared-pool` looks like.
fn shared_pool_report(watch: &Watch) -> String {
    format!(
        "{} of 2 workers wait for their chunks, {} are blocked in execute; {} chunk tasks queued, \
         none started: no worker is left to run them",
        Watch::get(&watch.waiting_for_children),
        Watch::get(&watch.in_execute),
        Watch::get(&watch.queued) - Watch::get(&watch.in_execute),
    )
}

/// A task calls `wait_completion` on the pool it runs on. It is itself pending, so it would wait for
/// itself forever; pardl's pool notices (each worker knows its pool) and panics with a message.
fn own_wait(watch: &Arc<Watch>, fix: bool) -> Result<Vec<String>, String> {
    let pool = Arc::new(ThreadPool::with_name(2, "own"));
    let me = Arc::clone(&pool);
    let handle = pool.spawn(move || {
        let inner = me.spawn(|| 42);
        if !fix {
            me.wait_completion(); // from a task of `me`: refused
        }
        inner
    });
    let inner = handle.join().map_err(|panicked| {
        format!(
            "own-wait: the pool refused: {} (on thread {})",
            panicked.message(),
            panicked.thread()
        )
    })?;
    // The fix: wait from outside the pool (here the main thread, through the task's handle).
    let value = inner.join().map_err(|p| p.to_string())?;
    watch.finished.store(true, Ordering::SeqCst);
    Ok(vec![format!(
        "own-wait --fix: waited from outside the pool; the inner task gave {value}"
    )])
}

/// A task of a 1-worker pool submits two tasks to its own pool. The first fills the queue; the
/// second waits for room that only the one worker, the one that is waiting, could make.
fn full_queue(watch: &Arc<Watch>, fix: bool) -> Vec<String> {
    let pool = Arc::new(ThreadPool::with_name(1, "own"));
    let other = Arc::new(ThreadPool::with_name(1, "other"));
    let (me, target, task_watch) = (Arc::clone(&pool), Arc::clone(&other), Arc::clone(watch));
    pool.execute(move || {
        let target = if fix { &target } else { &me };
        for _ in 0..2 {
            task_watch.execute(target, || {});
        }
    });
    pool.wait_completion();
    other.wait_completion();
    vec!["full-queue --fix: the task submitted to another pool, which drains by itself".to_string()]
}

fn full_queue_report(watch: &Watch) -> String {
    format!(
        "{} of 1 worker is blocked in execute on its own pool's full queue; {} task queued, none \
         started: the only worker that could take it is the one waiting to add more",
        Watch::get(&watch.in_execute),
        Watch::get(&watch.queued) - Watch::get(&watch.in_execute),
    )
}

/// A file task takes the only permit (as pardl's probe answer holds a connection slot of its host),
/// then queues two chunk tasks on its own child pool, each needing a permit, and waits for them
/// while still holding it. The pools are fine; the cycle goes through the permit.
fn held_permit(watch: &Arc<Watch>, fix: bool) -> Vec<String> {
    let permits = Arc::new(Permits::new(1));
    let files = ThreadPool::with_name(1, "files");
    let task_watch = Arc::clone(watch);
    files.execute(move || {
        let watch = task_watch;
        let held = permits.take(&watch);
        let chunks = ThreadPool::with_name(2, "chunks");
        for _chunk in 0..2 {
            let (permits, watch) = (Arc::clone(&permits), Arc::clone(&watch));
            chunks.execute(move || {
                let _permit = permits.take(&watch);
            });
        }
        if fix {
            drop(held); // give back what the children need before waiting for them
        }
        watch.waiting_for_children.fetch_add(1, Ordering::SeqCst);
        chunks.wait_completion();
        watch.waiting_for_children.fetch_sub(1, Ordering::SeqCst);
    });
    files.wait_completion();
    vec![
        "held-permit --fix: the file task gave its permit back before waiting; both chunks ran"
            .to_string(),
    ]
}

fn held_permit_report(watch: &Watch) -> String {
    format!(
        "the file task holds the only permit and waits for its child pool ({} waiting); {} chunk \
         tasks wait for a permit that only the file task can give back",
        Watch::get(&watch.waiting_for_children),
        Watch::get(&watch.waiting_for_permit),
    )
}

/// Starts the watchdog: once what `report` sees has stayed the same for `patience` without the case
/// finishing, it prints that and what it means, then ends the process with [`HUNG`].
fn watchdog(
    watch: Arc<Watch>,
    patience: Duration,
    report: fn(&Watch) -> String,
    meaning: &'static str,
) {
    thread::Builder::new()
        .name("watchdog".into())
        .spawn(move || {
            let mut seen = report(&watch);
            let mut since = Instant::now();
            while since.elapsed() < patience {
                thread::sleep(Duration::from_millis(20));
                if watch.finished.load(Ordering::SeqCst) {
                    return;
                }
                let now = report(&watch);
                if now != seen {
                    (seen, since) = (now, Instant::now()); // progress: start counting again
                }
            }
            println!(
                "watchdog: no progress for {:.1} s: {seen}",
                patience.as_secs_f64()
            );
            println!("watchdog: {meaning}");
            println!("watchdog: stopping the program (exit status {HUNG})");
            process::exit(HUNG);
        })
        .unwrap_or_else(|e| panic!("cannot start the watchdog thread: {e}"));
}

const USAGE: &str = "usage: deadlock CASE [--fix] [--patience SECS]

  shared-pool   file tasks and their chunks on one pool             (hangs: exit 3)
  own-wait      a task calls wait_completion on its own pool        (refused: exit 4)
  full-queue    a task submits to its own pool's full queue         (hangs: exit 3)
  held-permit   a task holds the one permit its children need       (hangs: exit 3)
  --fix         run the right version instead                       (exit 0)
  --patience S  seconds the watchdog waits for progress (default 2)";

fn usage(problem: &str) -> ! {
    eprintln!("deadlock: {problem}\n\n{USAGE}");
    process::exit(2);
}

fn main() {
    let mut case = None;
    let mut fix = false;
    let mut patience = Duration::from_secs(2);
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--fix" => fix = true,
            "--patience" => {
                patience = args
                    .next()
                    .and_then(|s| s.parse::<f64>().ok())
                    .filter(|s| s.is_finite() && *s > 0.0 && *s < 3600.0)
                    .map(Duration::from_secs_f64)
                    .unwrap_or_else(|| usage("--patience needs a number of seconds"));
            }
            "-h" | "--help" => {
                println!("{USAGE}");
                return;
            }
            "shared-pool" | "own-wait" | "full-queue" | "held-permit" if case.is_none() => {
                case = Some(arg)
            }
            _ => usage(&format!("unexpected argument {arg:?}")),
        }
    }
    let Some(case) = case else {
        usage("which case?");
    };
    let watch = Arc::new(Watch::default());
    let lines = match case.as_str() {
        "shared-pool" => {
            println!("shared-pool: one pool of 2 workers runs the file tasks and their chunks too");
            watchdog(
                Arc::clone(&watch),
                patience,
                shared_pool_report,
                "every worker is a file task waiting for chunk tasks that need a worker: a cycle. \
                 pardl gives each file a child pool with threads of its own (--fix).",
            );
            shared_pool(&watch, fix)
        }
        "own-wait" => {
            println!("own-wait: a task of pool 'own' calls wait_completion on 'own'");
            watchdog(
                Arc::clone(&watch),
                patience,
                |_| "the task still waits for itself".to_string(),
                "pardl's pool should have refused this wait.",
            );
            match own_wait(&watch, fix) {
                Ok(lines) => lines,
                Err(refusal) => {
                    println!("{refusal}");
                    println!(
                        "own-wait: the waiting task is itself pending, so the count it waits for \
                         could never reach zero; wait from outside the pool (--fix)"
                    );
                    process::exit(REFUSED);
                }
            }
        }
        "full-queue" => {
            println!(
                "full-queue: the only task of a 1-worker pool submits 2 tasks to the same pool"
            );
            watchdog(
                Arc::clone(&watch),
                patience,
                full_queue_report,
                "a bounded queue whose producer is its own only consumer fills up with nobody to \
                 drain it; pardl never submits to a pool from one of its own tasks (--fix: \
                 another pool).",
            );
            full_queue(&watch, fix)
        }
        _ => {
            println!("held-permit: a file task holds the only permit, then waits for chunk tasks that need it");
            watchdog(
                Arc::clone(&watch),
                patience,
                held_permit_report,
                "the pools are not in a cycle, but the permit is: hand over or drop what your \
                 children need before waiting for them (--fix), as pardl drops the probe's answer.",
            );
            held_permit(&watch, fix)
        }
    };
    watch.finished.store(true, Ordering::SeqCst);
    for line in lines {
        println!("{line}");
    }
}
