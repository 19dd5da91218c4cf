//! The progress counters every download thread adds to, and the display reads.
//!
//! The download threads only ever add to atomics ([`Progress::record`]): no lock, no I/O, no formatting
//! on the hot path. The renderer thread ([`crate::ui::display`]) samples the counters ten times a second
//! and draws them ([`crate::ui::layout`] turns a sample into lines of text). The per-file record
//! ([`FileProgress`]) also collects what the final report wants to know about a file: the retries it
//! needed, the most connections it used at once, the URL it came from after redirects and its
//! SHA-256 when one was computed.
//!
//! This replaces the Python article's progress handling, where every chunk thread formatted and printed
//! a status string for each 8 KiB block, and the file task spun in a busy loop printing the shared
//! counter.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::Mutex;

use crate::disk::checksum::{Checksum, ChecksumAlgorithm};
use crate::run::outcome::{Status, Transfer};

/// Marks a file whose size the server did not tell.
const UNKNOWN_SIZE: u64 = u64::MAX;

/// Counters shared by every thread of a run.
#[derive(Debug, Default)]
pub struct Progress {
    /// Bytes written to disk, over all files (the article's `shared_bytes_var`).
    bytes: AtomicU64,
    /// Sum of the sizes of the files started so far whose size is known.
    expected_bytes: AtomicU64,
    /// Links read from the input so far (including malformed ones).
    links_seen: AtomicU64,
    /// Links finished as ok, skipped, failed or interrupted.
    ok: AtomicU64,
    skipped: AtomicU64,
    failed: AtomicU64,
    interrupted: AtomicU64,
    /// Requests tried again after a transient failure, over all files.
    retries: AtomicU64,
    /// Numbers the files, so the display can tell them apart across samples.
    next_id: AtomicU64,
    /// Files being downloaded now. Locked only when a file starts or ends, never per byte.
    active: Mutex<Vec<Arc<FileProgress>>>,
}

/// How far one file has got, and what the report will say about it.
#[derive(Debug)]
pub struct FileProgress {
    id: u64,
    /// Changes at most once, when the server's answer names the file (Content-Disposition or a
    /// redirect); read by the display, never on the hot path.
    name: Mutex<String>,
    size: AtomicU64,
    bytes: AtomicU64,
    /// The part of `done` that an earlier run left on disk (a resume): in the file's percentage, but
    /// neither in the run's `bytes` nor in its `expected_bytes`.
    existing: AtomicU64,
    connections: AtomicUsize,
    peak_connections: AtomicUsize,
    retries: AtomicU64,
    /// Bytes this run fetched and then threw away (the file changed on the server, or had to be
    /// fetched again as one stream): they came over the network, though they are not on disk.
    discarded: AtomicU64,
    /// Whether an interrupted or failed download left its resume state on disk.
    saved_for_resume: AtomicBool,
    splits: AtomicU64,
    mirrors: Mutex<Vec<(String, u64)>>,
    final_url: Mutex<Option<String>>,
    checksum: Mutex<Option<Checksum>>,
    /// The wait before a request of this file is tried again, while there is one.
    retry: Mutex<Option<RetryWait>>,
}

/// A request of a file waiting to be tried again, for the display: "retry 2/5 in 3s (503)".
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryWait {
    /// The number of the coming try (2 for the first retry).
    pub attempt: u32,
    /// The most tries the request gets (`--max-tries`).
    pub max_tries: u32,
    /// When the coming try starts.
    pub at: Instant,
    /// Why the last try failed, in a word or two: `503`, `timeout`, `connection reset`.
    pub reason: String,
}

impl FileProgress {
    /// A record for a file called `name`, not yet counted as active (see [`Progress::activate`]).
    fn new(id: u64, name: &str) -> FileProgress {
        FileProgress {
            id,
            name: Mutex::new(name.to_string()),
            size: AtomicU64::new(UNKNOWN_SIZE),
            bytes: AtomicU64::new(0),
            existing: AtomicU64::new(0),
            connections: AtomicUsize::new(0),
            peak_connections: AtomicUsize::new(0),
            retries: AtomicU64::new(0),
            discarded: AtomicU64::new(0),
            saved_for_resume: AtomicBool::new(false),
            splits: AtomicU64::new(0),
            mirrors: Mutex::new(Vec::new()),
            final_url: Mutex::new(None),
            checksum: Mutex::new(None),
            retry: Mutex::new(None),
        }
    }

    /// A number unique among the files of one [`Progress`].
    pub fn id(&self) -> u64 {
        self.id
    }

    /// The file's name (as shown to the user).
    pub fn name(&self) -> String {
        self.name.lock().clone()
    }

    /// Renames the file, when the server's answer chose its name.
    pub(crate) fn set_name(&self, name: &str) {
        *self.name.lock() = name.to_string();
    }

    /// The file's size, once known.
    pub fn size(&self) -> Option<u64> {
        let size = self.size.load(Ordering::Relaxed);
        (size != UNKNOWN_SIZE).then_some(size)
    }

    /// Bytes of this file on disk so far (with those an earlier run left, see
    /// [`FileProgress::resumed`]).
    pub fn bytes(&self) -> u64 {
        self.bytes.load(Ordering::Relaxed)
    }

    /// Bytes an earlier run had left on disk, which this download resumed from; 0 for a fresh
    /// download, and again after the file had to start over.
    pub fn resumed(&self) -> u64 {
        self.existing.load(Ordering::Relaxed)
    }

    /// Bytes of this file that came over the network in this run: those on disk now that an earlier
    /// run did not leave, plus those fetched and then thrown away because the file had to start
    /// over. What the run's speed is measured on.
    pub fn fetched(&self) -> u64 {
        self.bytes().saturating_sub(self.resumed()) + self.discarded.load(Ordering::Relaxed)
    }

    /// Whether the download stopped unfinished with its resume state saved, so the same command
    /// continues it.
    pub fn saved_for_resume(&self) -> bool {
        self.saved_for_resume.load(Ordering::Relaxed)
    }

    /// Records that the resume state of this unfinished download is on disk.
    pub(crate) fn mark_saved_for_resume(&self) {
        self.saved_for_resume.store(true, Ordering::Relaxed);
    }

    /// The wait before one of this file's requests is tried again, while there is one (when several
    /// chunks wait, the one that failed last).
    pub fn retry_wait(&self) -> Option<RetryWait> {
        self.retry.lock().clone()
    }

    /// Records that a request of this file waits to be tried again (`Some`), or no longer does.
    pub(crate) fn set_retry_wait(&self, wait: Option<RetryWait>) {
        *self.retry.lock() = wait;
    }

    /// Connections transferring this file's bytes right now.
    pub fn live_connections(&self) -> usize {
        self.connections.load(Ordering::Relaxed)
    }

    /// The most connections that transferred this file's bytes at the same time.
    pub fn peak_connections(&self) -> usize {
        self.peak_connections.load(Ordering::Relaxed)
    }

    /// Requests for this file that were tried again.
    pub fn retries(&self) -> u64 {
        self.retries.load(Ordering::Relaxed)
    }

    /// How many times a connection that ran out of work took over part of a slower one's range.
    pub fn splits(&self) -> u64 {
        self.splits.load(Ordering::Relaxed)
    }

    /// For a link with mirrors: each mirror's URL (as given) and the bytes it delivered in this run;
    /// empty for a link with one URL.
    pub fn mirrors(&self) -> Vec<(String, u64)> {
        self.mirrors.lock().clone()
    }

    /// Records what each mirror delivered (see [`FileProgress::mirrors`]).
    pub(crate) fn set_mirrors(&self, deliveries: Vec<(String, u64)>) {
        *self.mirrors.lock() = deliveries;
    }

    /// Counts one split of a range (see `src/file/split.rs`).
    pub(crate) fn split(&self) {
        self.splits.fetch_add(1, Ordering::Relaxed);
    }

    /// What this record learnt about the transfer, for the link's [`Outcome`](crate::Outcome).
    pub(crate) fn transfer(&self) -> Transfer {
        Transfer {
            final_url: self.final_url(),
            size: self.size(),
            sha256: self.sha256(),
            checksum: self.checksum(),
            connections: self.peak_connections(),
            retries: self.retries(),
            splits: self.splits(),
            mirrors: self.mirrors(),
            resumed: self.resumed(),
            fetched: self.fetched(),
            saved_for_resume: self.saved_for_resume(),
        }
    }

    /// Counts a connection as live until the returned guard is dropped.
    pub(crate) fn connection(&self) -> LiveConnection<'_> {
        let now = self.connections.fetch_add(1, Ordering::Relaxed) + 1;
        self.peak_connections.fetch_max(now, Ordering::Relaxed);
        LiveConnection(self)
    }

    /// Records the URL the file is fetched from after redirects.
    pub(crate) fn set_final_url(&self, url: &str) {
        *self.final_url.lock() = Some(url.to_string());
    }

    /// The URL the file was fetched from after redirects, once known.
    pub fn final_url(&self) -> Option<String> {
        self.final_url.lock().clone()
    }

    /// Records the digest of the file's bytes, when it was computed.
    pub(crate) fn set_checksum(&self, checksum: &Checksum) {
        *self.checksum.lock() = Some(checksum.clone());
    }

    /// The digest of the file's bytes, if it was computed (the link, or a checksum file, asked for
    /// a check).
    pub fn checksum(&self) -> Option<Checksum> {
        self.checksum.lock().clone()
    }

    /// The SHA-256 (hex) of the file's bytes, if that is the digest that was computed.
    pub fn sha256(&self) -> Option<String> {
        self.checksum()
            .filter(|checksum| checksum.algorithm == ChecksumAlgorithm::Sha256)
            .map(|checksum| checksum.hex)
    }
}

/// Holds one of a file's live-connection slots; see [`FileProgress::connection`].
#[derive(Debug)]
pub(crate) struct LiveConnection<'a>(&'a FileProgress);

impl Drop for LiveConnection<'_> {
    fn drop(&mut self) {
        self.0.connections.fetch_sub(1, Ordering::Relaxed);
    }
}

/// A consistent-enough reading of the counters, for display.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Snapshot {
    /// Bytes written over all files.
    pub bytes: u64,
    /// Known total of the files started so far.
    pub expected_bytes: u64,
    /// Links read so far.
    pub links_seen: u64,
    /// Links that ended ok.
    pub ok: u64,
    /// Links skipped.
    pub skipped: u64,
    /// Links failed.
    pub failed: u64,
    /// Links stopped by Ctrl-C.
    pub interrupted: u64,
    /// Files being downloaded now.
    pub active: usize,
    /// Requests tried again so far.
    pub retries: u64,
    /// Active files whose size the server did not tell.
    pub unsized_files: usize,
    /// Bytes so far of those files (counted in `bytes`, not in `expected_bytes`).
    pub unsized_bytes: u64,
}

impl Snapshot {
    /// Links read but neither finished nor started yet: waiting for a free worker.
    ///
    /// ```
    /// let snap = pardl::Snapshot { links_seen: 10, ok: 2, failed: 1, active: 3, ..Default::default() };
    /// assert_eq!(snap.queued(), 4);
    /// ```
    pub fn queued(&self) -> u64 {
        self.links_seen
            .saturating_sub(self.ok + self.skipped + self.failed + self.interrupted)
            .saturating_sub(self.active as u64)
    }

    /// Links that ended well: downloaded, or skipped because the file was there.
    pub fn succeeded(&self) -> u64 {
        self.ok + self.skipped
    }
}

impl Progress {
    /// Fresh counters.
    pub fn new() -> Progress {
        Progress::default()
    }

    /// Counts one more link read from the input.
    pub(crate) fn link_seen(&self) {
        self.links_seen.fetch_add(1, Ordering::Relaxed);
    }

    /// A record for a file that may be downloaded under `name`; it is shown once [`activate`]d.
    ///
    /// [`activate`]: Progress::activate
    pub(crate) fn new_file(&self, name: &str) -> Arc<FileProgress> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        Arc::new(FileProgress::new(id, name))
    }

    /// Adds `file` to the files being downloaded now.
    pub(crate) fn activate(&self, file: &Arc<FileProgress>) {
        self.active.lock().push(Arc::clone(file));
    }

    /// Registers a file whose download starts now ([`new_file`](Progress::new_file) and
    /// [`activate`](Progress::activate) in one).
    #[cfg(test)]
    pub(crate) fn start_file(&self, name: &str) -> Arc<FileProgress> {
        let file = self.new_file(name);
        self.activate(&file);
        file
    }

    /// Records the size of `file` once the server has told it.
    pub(crate) fn set_size(&self, file: &FileProgress, size: u64) {
        if file.size.swap(size, Ordering::Relaxed) == UNKNOWN_SIZE {
            self.expected_bytes.fetch_add(size, Ordering::Relaxed);
        }
    }

    /// Records that `n` bytes of `file` were already on disk from an earlier run (a resume): they count
    /// for the file's percentage, but not as bytes transferred now.
    pub(crate) fn add_existing(&self, file: &FileProgress, n: u64) {
        file.bytes.fetch_add(n, Ordering::Relaxed);
        file.existing.fetch_add(n, Ordering::Relaxed);
        self.expected_bytes.fetch_sub(
            n.min(self.expected_bytes.load(Ordering::Relaxed)),
            Ordering::Relaxed,
        );
    }

    /// Forgets the bytes of `file` written so far, because they are being thrown away (the file
    /// changed on the server, or must be fetched again as one stream).
    ///
    /// Bytes an earlier run left (see [`add_existing`](Progress::add_existing)) were never counted
    /// as transferred, so they are not taken off `bytes`; they go back into the expected total,
    /// since they must now be fetched.
    pub(crate) fn rewind(&self, file: &FileProgress) {
        let done = file.bytes.swap(0, Ordering::Relaxed);
        let existing = file.existing.swap(0, Ordering::Relaxed);
        let transferred = done.saturating_sub(existing);
        file.discarded.fetch_add(transferred, Ordering::Relaxed);
        self.bytes
            .fetch_sub(transferred.min(self.bytes()), Ordering::Relaxed);
        self.expected_bytes.fetch_add(existing, Ordering::Relaxed);
    }

    /// Forgets `n` bytes of `file` that are being thrown away and fetched again (a mirror's file
    /// changed: what it delivered is fetched from the others). Bytes an earlier run left are taken
    /// off first, as [`rewind`](Progress::rewind) does for all of them.
    pub(crate) fn forget(&self, file: &FileProgress, n: u64) {
        let existing = file.existing.load(Ordering::Relaxed);
        let from_earlier = n.min(existing);
        file.existing.fetch_sub(from_earlier, Ordering::Relaxed);
        file.bytes.fetch_sub(n.min(file.bytes()), Ordering::Relaxed);
        let transferred = n - from_earlier;
        self.bytes
            .fetch_sub(transferred.min(self.bytes()), Ordering::Relaxed);
        self.expected_bytes
            .fetch_add(from_earlier, Ordering::Relaxed);
    }

    /// The hot path: `n` more bytes of `file` are on disk. Two atomic adds, nothing else.
    #[inline]
    pub(crate) fn record(&self, file: &FileProgress, n: u64) {
        file.bytes.fetch_add(n, Ordering::Relaxed);
        self.bytes.fetch_add(n, Ordering::Relaxed);
    }

    /// Counts a request of `file` that failed and is about to be tried again.
    pub(crate) fn retried(&self, file: &FileProgress) {
        file.retries.fetch_add(1, Ordering::Relaxed);
        self.retries.fetch_add(1, Ordering::Relaxed);
    }

    /// Removes `file` from the active set (it finished, one way or another). The bytes it will not
    /// deliver (it failed or was interrupted) leave the expected total, so the total line can still
    /// reach 100%.
    pub(crate) fn end_file(&self, file: &Arc<FileProgress>) {
        self.active.lock().retain(|f| !Arc::ptr_eq(f, file));
        if let Some(size) = file.size() {
            let missing = size.saturating_sub(file.bytes());
            let expected = self.expected_bytes.load(Ordering::Relaxed);
            self.expected_bytes
                .fetch_sub(missing.min(expected), Ordering::Relaxed);
        } else {
            // A file of unknown size is, once ended, as big as what arrived.
            self.expected_bytes
                .fetch_add(file.bytes(), Ordering::Relaxed);
        }
    }

    /// Counts a link that ended with `status`.
    pub(crate) fn count(&self, status: &Status) {
        self.counter(status).fetch_add(1, Ordering::Relaxed);
    }

    /// The counter of links that ended as `status`.
    fn counter(&self, status: &Status) -> &AtomicU64 {
        match status {
            Status::Downloaded { .. } => &self.ok,
            Status::Skipped => &self.skipped,
            Status::Failed(_) => &self.failed,
            Status::Interrupted | Status::NotStarted => &self.interrupted,
        }
    }

    /// Moves a link counted as `was` to `now` (a file whose rename failed after it was counted).
    pub(crate) fn recount(&self, was: &Status, now: &Status) {
        self.counter(was).fetch_sub(1, Ordering::Relaxed);
        self.count(now);
    }

    /// Bytes written over all files so far.
    pub fn bytes(&self) -> u64 {
        self.bytes.load(Ordering::Relaxed)
    }

    /// Requests tried again so far, over all files.
    pub fn retries(&self) -> u64 {
        self.retries.load(Ordering::Relaxed)
    }

    /// Files being downloaded now (a copy of the list).
    pub fn active_files(&self) -> Vec<Arc<FileProgress>> {
        self.active.lock().clone()
    }

    /// Reads every counter.
    pub fn snapshot(&self) -> Snapshot {
        let (active, unsized_files, unsized_bytes) = {
            let files = self.active.lock();
            let sizeless = files.iter().filter(|f| f.size().is_none());
            (
                files.len(),
                sizeless.clone().count(),
                sizeless.map(|f| f.bytes()).sum(),
            )
        };
        Snapshot {
            bytes: self.bytes(),
            expected_bytes: self.expected_bytes.load(Ordering::Relaxed),
            links_seen: self.links_seen.load(Ordering::Relaxed),
            ok: self.ok.load(Ordering::Relaxed),
            skipped: self.skipped.load(Ordering::Relaxed),
            failed: self.failed.load(Ordering::Relaxed),
            interrupted: self.interrupted.load(Ordering::Relaxed),
            active,
            retries: self.retries(),
            unsized_files,
            unsized_bytes,
        }
    }
}

/// Speed over a sliding window of recent samples, so the figure follows the current rate rather than
/// the average since the start. Only the command's display (`src/ui`) reads speeds this way, so a
/// build without the `cli` feature uses it in its tests alone.
#[derive(Debug)]
#[cfg_attr(not(feature = "cli"), allow(dead_code))]
pub(crate) struct SpeedMeter {
    window: Duration,
    samples: VecDeque<(Instant, u64)>,
}

#[cfg_attr(not(feature = "cli"), allow(dead_code))]
impl SpeedMeter {
    /// A meter averaging over `window`.
    pub(crate) fn new(window: Duration) -> SpeedMeter {
        SpeedMeter {
            window,
            samples: VecDeque::new(),
        }
    }

    /// Adds a reading of a byte counter taken at `now`; returns bytes per second over the window.
    pub(crate) fn sample(&mut self, now: Instant, bytes: u64) -> f64 {
        self.samples.push_back((now, bytes));
        while let Some(&(t, _)) = self.samples.front() {
            if now.duration_since(t) > self.window && self.samples.len() > 2 {
                self.samples.pop_front();
            } else {
                break;
            }
        }
        let (t0, b0) = self.samples[0];
        let seconds = now.duration_since(t0).as_secs_f64();
        if seconds <= 0.0 {
            0.0
        } else {
            bytes.saturating_sub(b0) as f64 / seconds
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_add_up_and_active_files_come_and_go() {
        let progress = Progress::new();
        let a = progress.start_file("a");
        let b = progress.start_file("b");
        progress.set_size(&a, 100);
        progress.set_size(&a, 100);
        progress.record(&a, 60);
        progress.record(&b, 5);
        assert_eq!(a.bytes(), 60);
        assert_eq!(progress.bytes(), 65);
        assert_eq!(
            progress.snapshot().expected_bytes,
            100,
            "a size is counted once"
        );
        progress.end_file(&a);
        progress.count(&Status::Downloaded {
            bytes: 60,
            ranged: false,
        });
        let snap = progress.snapshot();
        assert_eq!((snap.ok, snap.active), (1, 1));
        assert_eq!(progress.active_files()[0].name(), "b");
        assert_eq!(b.size(), None);
    }

    #[test]
    fn live_connections_are_released_by_the_guard() {
        let progress = Progress::new();
        let file = progress.start_file("f");
        {
            let _one = file.connection();
            let _two = file.connection();
            assert_eq!(file.live_connections(), 2);
        }
        assert_eq!((file.live_connections(), file.peak_connections()), (0, 2));
    }

    #[test]
    fn speed_follows_the_recent_window() {
        let mut meter = SpeedMeter::new(Duration::from_secs(2));
        let t0 = Instant::now();
        assert_eq!(meter.sample(t0, 0), 0.0);
        // 1000 B/s for 10 s, then 100 B/s: after a while the meter shows about 100.
        let mut bytes = 0;
        for s in 1..=10 {
            bytes += 1000;
            meter.sample(t0 + Duration::from_secs(s), bytes);
        }
        let mut speed = 0.0;
        for s in 11..=15 {
            bytes += 100;
            speed = meter.sample(t0 + Duration::from_secs(s), bytes);
        }
        assert!((speed - 100.0).abs() < 1.0, "{speed}");
    }

    #[test]
    fn rewind_forgets_what_this_run_fetched_but_not_what_was_on_disk() {
        let progress = Progress::new();
        let file = progress.start_file("f");
        progress.set_size(&file, 100);
        progress.add_existing(&file, 40); // resumed: 40 bytes were on disk
        progress.record(&file, 10); // 10 more arrived in this run
        assert_eq!(
            (progress.bytes(), progress.snapshot().expected_bytes),
            (10, 60)
        );
        progress.rewind(&file); // the file changed: start over
        assert_eq!(
            (
                progress.bytes(),
                progress.snapshot().expected_bytes,
                file.bytes()
            ),
            (0, 100, 0)
        );
        assert_eq!(
            file.fetched(),
            10,
            "the thrown-away bytes still came over the network"
        );
        progress.record(&file, 30);
        assert_eq!(file.fetched(), 40);
    }
}
