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
//! shape pardl uses for files and their chunks.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use pardl::ThreadPool;

fn main() {
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
    let small = ThreadPool::with_name(2, "backpressure");
    let started = Instant::now();
    for _ in 0..12 {
        small.execute(|| thread::sleep(Duration::from_millis(50)));
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
    //    (The panic message still goes to standard error, as every panic's does.)
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
    let outer = ThreadPool::with_name(3, "files");
    let chunks_done = Arc::new(AtomicUsize::new(0));
    for _file in 0..6 {
        let chunks_done = Arc::clone(&chunks_done);
        outer.execute(move || {
            let chunks = ThreadPool::with_name(4, "chunks");
            for _chunk in 0..5 {
                let chunks_done = Arc::clone(&chunks_done);
                chunks.execute(move || {
                    chunks_done.fetch_add(1, Ordering::Relaxed);
                });
            }
            chunks.wait_completion();
        });
    }
    outer.wait_completion();
    println!(
        "nested pools: 6 files x 5 chunks = {} chunks done",
        chunks_done.load(Ordering::Relaxed)
    );
    // Dropping a pool closes its queue and joins its workers once they have finished.
}
