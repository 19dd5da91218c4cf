//! The group commit of a run's finished files (`--sync batch`, the default): their data is flushed
//! to the disk together, then each is renamed to its final name.
//!
//! A file may be renamed to its final name only once its data is on the disk (see
//! [`crate::disk::durable`]). Flushed one by one, every small file waits for its own flush of the
//! disk's cache, and its worker waits with it instead of downloading the next link. So a worker
//! that finishes a file hands it over ([`Committer::submit`]) and goes on at once; the run's
//! commit thread takes everything handed over meanwhile, flushes it with one `syncfs` per file
//! system, and renames each file. The file's outcome goes to the run's delivery thread only once
//! its [`Ticket`] is kept (the commit thread sends the outcomes of a batch once all its files are
//! renamed), so no outcome says "ok" before the file is under its final name, and nobody waits
//! for a ticket.
//!
//! A batch is whatever finished while the previous one was flushed, topped up for at most
//! [`BATCH_WINDOW`] until it holds a quarter of the queue. Each `syncfs` costs something of its own
//! whatever it flushes (it walks the file system's dirty inodes, writes the metadata blocks the
//! batch touched, and flushes the disk's cache), so on many small files bigger batches leave the
//! machine more CPU time for downloading: a sixth less busy time on 20,000 files of 1 KiB
//! (docs/benchmarks.md, "The machine's budget"). A file that finishes alone waits at most the
//! window; the last files of a run not at all, since closing the queue ends the wait. The queue is
//! bounded ([`commit_queue_capacity`]): each waiting file holds a descriptor (and its lock, if it
//! has a name), and a worker that finds the queue full waits, as it would for its own flush.

use std::collections::HashMap;
use std::fs::Metadata;
use std::io;
use std::path::PathBuf;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, RecvTimeoutError, Sender};
use parking_lot::Mutex;

use crate::disk::durable::{syncfs, syncfs_reports_errors, write_and_wait};
use crate::disk::open::device;
use crate::disk::part::PartFile;
use crate::error::Error;

/// The commit thread of one run, and the queue of finished files it renames.
#[derive(Debug)]
pub(crate) struct Committer {
    /// Taken (closing the queue) when the run has handed over its last file.
    sender: Mutex<Option<Sender<Waiting>>>,
    thread: Mutex<Option<JoinHandle<()>>>,
    capacity: usize,
}

/// The promise that a file handed over is renamed, or the error that stopped it. Whoever reports
/// the file says what to do then ([`Ticket::then`]); nobody waits for it.
#[derive(Default)]
pub(crate) struct Ticket {
    state: Mutex<TicketState>,
}

/// What is known of a ticket: nothing yet, its result, or what to do with the result.
#[derive(Default)]
enum TicketState {
    #[default]
    Open,
    Kept(Result<PathBuf, Error>),
    Then(AfterCommit),
}

/// What to do once a file is renamed (its final path) or could not be (why).
pub(crate) type AfterCommit = Box<dyn FnOnce(Result<PathBuf, Error>) + Send>;

impl Ticket {
    /// Records the result; runs what was asked to be done with it, if anything, on this thread.
    fn keep(&self, result: Result<PathBuf, Error>) {
        self.meet(TicketState::Kept(result));
    }

    /// Runs `after` with the result: at once if the file is committed already, else on the
    /// commit thread when it is (after its rename).
    pub(crate) fn then(&self, after: AfterCommit) {
        self.meet(TicketState::Then(after));
    }

    /// The result and what to do with it arrive in either order: the second to arrive runs the
    /// first (outside the lock); the first waits in the ticket.
    fn meet(&self, arriving: TicketState) {
        let mut state = self.state.lock();
        match (std::mem::take(&mut *state), arriving) {
            (TicketState::Then(after), TicketState::Kept(result))
            | (TicketState::Kept(result), TicketState::Then(after)) => {
                drop(state);
                after(result);
            }
            (_, arriving) => *state = arriving,
        }
    }
}

impl std::fmt::Debug for Ticket {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let state = match &*self.state.lock() {
            TicketState::Open => "open",
            TicketState::Kept(_) => "kept",
            TicketState::Then(_) => "awaited",
        };
        f.debug_struct("Ticket").field("state", &state).finish()
    }
}

/// A finished file in the queue. If it is dropped without being committed (the commit thread
/// panicked), its ticket is kept with an error, so nobody waits for it forever.
struct Waiting {
    part: Option<PartFile>,
    /// Its metadata when it was handed over: which file it is, and on which file system.
    opened: Metadata,
    ticket: Arc<Ticket>,
}

impl Waiting {
    /// Flushes the file on its own and renames it: its ticket's result (`None` if it was
    /// committed already).
    fn commit_alone(&mut self) -> Option<Result<PathBuf, Error>> {
        let part = self.part.take()?;
        Some(
            part.sync_data()
                .and_then(|()| part.rename_flushed(&self.opened)),
        )
    }

    /// Once the file's file system is flushed: checks for this file's own write errors (unless
    /// the flush reported every file's: `checked`) and renames it: its ticket's result.
    fn commit_flushed(&mut self, checked: bool) -> Option<Result<PathBuf, Error>> {
        let part = self.part.take()?;
        if checked {
            return Some(part.rename_flushed(&self.opened));
        }
        Some(
            write_and_wait(part.handle())
                .map_err(|e| Error::io("sync", part.path(), e))
                .and_then(|()| part.rename_flushed(&self.opened)),
        )
    }

    /// When the file was opened (`u64::MAX` once it is committed).
    fn open_order(&self) -> u64 {
        self.part.as_ref().map_or(u64::MAX, PartFile::open_order)
    }
}

/// The results of a batch's files, kept (handed on to whoever reports them) together once every
/// file of the batch is renamed, and kept as well if the commit thread unwinds before that. One
/// after the other, the outcomes find the delivery thread awake: it is woken once per batch rather
/// than once per file, which on many small files was a fifth of the commit thread's time.
#[derive(Default)]
struct Results(Vec<(Arc<Ticket>, Result<PathBuf, Error>)>);

impl Drop for Results {
    fn drop(&mut self) {
        for (ticket, result) in self.0.drain(..) {
            ticket.keep(result);
        }
    }
}

impl Drop for Waiting {
    fn drop(&mut self) {
        if let Some(part) = self.part.take() {
            let path = part.path().to_path_buf();
            part.keep();
            self.ticket.keep(Err(Error::io(
                "finish",
                &path,
                io::Error::other("pardl's commit thread stopped before renaming it"),
            )));
        }
    }
}

/// How long the commit thread tops up a batch that is not yet a quarter of the queue.
pub(crate) const BATCH_WINDOW: Duration = Duration::from_millis(20);

/// How many finished files may wait for the commit thread of a run with `jobs` workers: 64 per
/// worker, at most a quarter of the process's limit of open files (each holds a descriptor) and
/// 1,024, and never fewer than two per worker. Under the common limit of 1,024 that is 256 for 4
/// workers or more; `main` raises the limit for the command (`src/cli/process.rs`).
pub(crate) fn commit_queue_capacity(jobs: usize) -> usize {
    capacity_within(jobs, open_files_limit())
}

/// [`commit_queue_capacity`] under a limit of `open_files`.
fn capacity_within(jobs: usize, open_files: u64) -> usize {
    let quarter = usize::try_from(open_files / 4).unwrap_or(usize::MAX);
    quarter.min(1024).min(64 * jobs).max(2 * jobs)
}

/// The soft limit of open files of this process.
#[cfg(target_os = "linux")]
fn open_files_limit() -> u64 {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit only writes into the struct it is given.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } == 0 {
        limit.rlim_cur
    } else {
        1024
    }
}

#[cfg(not(target_os = "linux"))]
fn open_files_limit() -> u64 {
    1024
}

impl Committer {
    /// Starts the commit thread, with room for `capacity` finished files waiting for it; `None` if
    /// no thread can be started (then files flush themselves).
    pub(crate) fn start(capacity: usize) -> Option<Committer> {
        let capacity = capacity.max(1);
        let (sender, receiver) = crossbeam_channel::bounded(capacity);
        let enough = capacity.div_ceil(4);
        let thread = std::thread::Builder::new()
            .name("pardl-commit".into())
            .spawn(move || commit_batches(&receiver, enough))
            .map_err(|error| {
                log::warn!(
                    "cannot start the commit thread ({error}); each file is flushed on its own"
                )
            })
            .ok()?;
        Some(Committer {
            sender: Mutex::new(Some(sender)),
            thread: Mutex::new(Some(thread)),
            capacity,
        })
    }

    /// How many finished files may wait in the queue.
    pub(crate) fn capacity(&self) -> usize {
        self.capacity
    }

    /// Hands over `part`, complete with `size` bytes, to be flushed with the files that finish
    /// meanwhile and renamed. Checks the size first (an error then leaves `part` on disk, as
    /// [`PartFile::finish`] does).
    pub(crate) fn submit(&self, part: PartFile, size: u64) -> Result<Arc<Ticket>, Error> {
        let opened = part.check_size(size)?;
        let ticket = Arc::new(Ticket::default());
        let waiting = Waiting {
            part: Some(part),
            opened,
            ticket: Arc::clone(&ticket),
        };
        let sender = self.sender.lock().clone();
        let mut unsent = match sender {
            Some(sender) => match sender.send(waiting) {
                Ok(()) => return Ok(ticket),
                Err(crossbeam_channel::SendError(waiting)) => waiting,
            },
            None => waiting,
        };
        // The run is closing its queue: the file commits itself.
        if let Some(result) = unsent.commit_alone() {
            unsent.ticket.keep(result);
        }
        Ok(ticket)
    }

    /// Closes the queue and waits until every file handed over is committed.
    pub(crate) fn close(&self) {
        drop(self.sender.lock().take());
        if let Some(thread) = self.thread.lock().take() {
            if thread.join().is_err() {
                log::error!("pardl's commit thread panicked");
            }
        }
    }
}

impl Drop for Committer {
    fn drop(&mut self) {
        self.close();
    }
}

/// The commit thread: flushes and renames, batch after batch, until the queue is closed.
fn commit_batches(queue: &Receiver<Waiting>, enough: usize) {
    while let Ok(first) = queue.recv() {
        commit(gather(queue, first, enough, BATCH_WINDOW));
    }
}

/// A batch: `first`, everything queued behind it, and what arrives within `window` of taking
/// `first`, until the batch holds `enough` or the queue is closed.
fn gather<T>(queue: &Receiver<T>, first: T, enough: usize, window: Duration) -> Vec<T> {
    let mut batch = vec![first];
    batch.extend(queue.try_iter());
    let deadline = Instant::now() + window;
    while batch.len() < enough {
        match queue.recv_deadline(deadline) {
            Ok(next) => {
                batch.push(next);
                batch.extend(queue.try_iter());
            }
            Err(RecvTimeoutError::Timeout | RecvTimeoutError::Disconnected) => break,
        }
    }
    batch
}

/// Flushes the files of `batch` (one `syncfs` per file system, or the file's own `fdatasync` when
/// it is alone there), then renames each. The `syncfs` goes through the file opened first, so that,
/// where it reports write errors, it reports those of every file of the batch.
fn commit(batch: Vec<Waiting>) {
    let mut by_device: HashMap<u64, Vec<Waiting>> = HashMap::new();
    for waiting in batch {
        by_device
            .entry(device(&waiting.opened))
            .or_default()
            .push(waiting);
    }
    for (_, files) in by_device {
        // tests/faults.rs kills pardl right after this line.
        log::debug!("commit: {} finished file(s) to flush", files.len());
        let flushed = match files.as_slice() {
            [_, _, ..] => first_opened(&files)
                .and_then(|waiting| waiting.part.as_ref())
                .map(|part| syncfs(part.handle())),
            _ => None,
        };
        let checked = syncfs_reports_errors();
        let mut results = Results::default();
        for mut waiting in files {
            let result = match &flushed {
                Some(Ok(())) => waiting.commit_flushed(checked),
                // Alone, or the shared flush failed: the file flushes itself.
                _ => waiting.commit_alone(),
            };
            if let Some(result) = result {
                results.0.push((Arc::clone(&waiting.ticket), result));
            }
        }
    }
}

/// The file of `files` that was opened first.
fn first_opened(files: &[Waiting]) -> Option<&Waiting> {
    files.iter().min_by_key(|waiting| waiting.open_order())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The result a ticket is kept with, waiting for it.
    fn result_of(ticket: &Ticket) -> Result<PathBuf, Error> {
        let (sender, receiver) = crossbeam_channel::bounded(1);
        ticket.then(Box::new(move |result| {
            let _ = sender.send(result);
        }));
        receiver.recv().unwrap()
    }

    #[test]
    fn the_queue_holds_64_per_worker_within_a_quarter_of_the_open_files_and_1024() {
        assert_eq!(capacity_within(16, 1024), 256);
        assert_eq!(capacity_within(1, 1024), 64);
        assert_eq!(capacity_within(1, 20_000), 64);
        assert_eq!(capacity_within(8, 20_000), 512);
        assert_eq!(capacity_within(16, 4096), 1024);
        assert_eq!(capacity_within(16, u64::MAX), 1024);
        assert_eq!(capacity_within(200, 1024), 400);
        assert_eq!(capacity_within(600, 1_000_000), 1200);
        assert_eq!(capacity_within(0, 0), 0);
        assert_eq!(
            commit_queue_capacity(16),
            capacity_within(16, open_files_limit())
        );
    }

    #[test]
    fn a_batch_takes_what_is_queued_and_what_comes_within_the_window_until_it_has_enough() {
        let (sender, queue) = crossbeam_channel::unbounded();
        for i in 1..=3 {
            sender.send(i).unwrap();
        }
        // Enough already: nothing is waited for.
        assert_eq!(gather(&queue, 0, 2, Duration::from_secs(600)), [0, 1, 2, 3]);

        // Not enough: what arrives within the window joins, until there is enough.
        let late = std::thread::spawn(move || {
            for i in 11..=13 {
                std::thread::sleep(Duration::from_millis(5));
                sender.send(i).unwrap();
            }
            sender
        });
        assert_eq!(
            gather(&queue, 10, 4, Duration::from_secs(600)),
            [10, 11, 12, 13]
        );
        let sender = late.join().unwrap();

        // The window ends the wait, and so does a closed queue (else this test would take ten
        // minutes).
        assert_eq!(gather(&queue, 20, 4, Duration::from_millis(10)), [20]);
        drop(sender);
        assert_eq!(gather(&queue, 30, 4, Duration::from_secs(600)), [30]);
    }

    #[test]
    fn files_handed_over_are_renamed_and_their_tickets_kept() {
        let dir = tempfile::tempdir().unwrap();
        let committer = Committer::start(8).unwrap();
        let tickets: Vec<_> = (0..50u8)
            .map(|i| {
                let part = PartFile::lock(&dir.path().join(format!("f{i}"))).unwrap();
                part.write_all_at(&[i; 100], 0).unwrap();
                committer.submit(part, 100).unwrap()
            })
            .collect();
        for (i, ticket) in tickets.iter().enumerate() {
            let path = result_of(ticket).unwrap();
            assert_eq!(path, dir.path().join(format!("f{i}")));
            assert_eq!(std::fs::read(&path).unwrap(), vec![i as u8; 100]);
        }
        committer.close();
        let mut names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        names.sort();
        assert_eq!(names.len(), 50);
        assert!(names.iter().all(|name| !name.ends_with(".part")));
    }

    #[test]
    fn a_batch_is_flushed_through_the_file_opened_first_whatever_order_it_came_in() {
        let dir = tempfile::tempdir().unwrap();
        let waiting = |name: &str| {
            let part = PartFile::lock(&dir.path().join(name)).unwrap();
            Waiting {
                opened: part.check_size(0).unwrap(),
                part: Some(part),
                ticket: Arc::new(Ticket::default()),
            }
        };
        let (early, middle, late) = (waiting("early"), waiting("middle"), waiting("late"));
        let batch = vec![late, early, middle];
        let first = first_opened(&batch).and_then(|w| w.part.as_ref()).unwrap();
        assert_eq!(first.path(), dir.path().join("early.part"));
        commit(batch);
        for name in ["early", "middle", "late"] {
            assert!(dir.path().join(name).is_file(), "{name} was not renamed");
        }
    }

    #[test]
    fn a_file_of_the_wrong_size_is_refused_before_the_queue_and_a_closed_queue_commits_in_place() {
        let dir = tempfile::tempdir().unwrap();
        let committer = Committer::start(8).unwrap();
        let part = PartFile::lock(&dir.path().join("short")).unwrap();
        part.write_all_at(b"abc", 0).unwrap();
        let error = committer.submit(part, 4).unwrap_err();
        assert!(
            error.to_string().contains("3 bytes, not the 4 planned"),
            "{error}"
        );
        assert!(dir.path().join("short.part").exists());

        committer.close();
        let part = PartFile::lock(&dir.path().join("late")).unwrap();
        part.write_all_at(b"late", 0).unwrap();
        let ticket = committer.submit(part, 4).unwrap();
        assert_eq!(result_of(&ticket).unwrap(), dir.path().join("late"));
        assert_eq!(std::fs::read(dir.path().join("late")).unwrap(), b"late");
    }
}
