//! Progress counters, and the one live status line drawn from them.
//!
//! The download threads only ever add to atomics ([`Progress::record`]): no lock, no I/O, no formatting
//! on the hot path. A separate renderer thread ([`LiveLine`]) samples the counters ten times a second and
//! redraws one line on stderr when it is a terminal. Result lines (a file finished, a link failed) go
//! through [`Console`], which erases the live line first so the two never interleave.
//!
//! This replaces the Python article's progress handling, where every chunk thread formatted and printed
//! a status string for each 8 KiB block, and the file task spun in a busy loop printing the shared
//! counter.

use std::collections::VecDeque;
use std::io::{IsTerminal, Write};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use crossbeam_channel::{bounded, RecvTimeoutError, Sender};
use parking_lot::Mutex;

use crate::config::human_bytes;

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
    /// Links finished as ok, skipped or failed.
    ok: AtomicU64,
    skipped: AtomicU64,
    failed: AtomicU64,
    /// Files being downloaded now. Locked only when a file starts or ends, never per byte.
    active: Mutex<Vec<Arc<FileProgress>>>,
}

/// How far one file has got.
#[derive(Debug)]
pub struct FileProgress {
    name: String,
    size: AtomicU64,
    done: AtomicU64,
    connections: AtomicUsize,
}

impl FileProgress {
    /// The file's name (as shown to the user).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The file's size, once known.
    pub fn size(&self) -> Option<u64> {
        let size = self.size.load(Ordering::Relaxed);
        (size != UNKNOWN_SIZE).then_some(size)
    }

    /// Bytes of this file written so far.
    pub fn done(&self) -> u64 {
        self.done.load(Ordering::Relaxed)
    }

    /// Connections transferring this file's bytes right now.
    pub fn live_connections(&self) -> usize {
        self.connections.load(Ordering::Relaxed)
    }

    /// Counts a connection as live until the returned guard is dropped.
    pub fn connection(&self) -> LiveConnection<'_> {
        self.connections.fetch_add(1, Ordering::Relaxed);
        LiveConnection(self)
    }
}

/// Holds one of a file's live-connection slots; see [`FileProgress::connection`].
#[derive(Debug)]
pub struct LiveConnection<'a>(&'a FileProgress);

impl Drop for LiveConnection<'_> {
    fn drop(&mut self) {
        self.0.connections.fetch_sub(1, Ordering::Relaxed);
    }
}

/// How a link ended, for the counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Finish {
    /// Downloaded.
    Ok,
    /// Already there; left alone.
    Skipped,
    /// Failed.
    Failed,
}

/// A consistent-enough reading of the counters, for display.
#[derive(Debug, Clone, Default)]
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
    /// Files being downloaded now.
    pub active: usize,
}

impl Progress {
    /// Fresh counters.
    pub fn new() -> Progress {
        Progress::default()
    }

    /// Counts one more link read from the input.
    pub fn link_seen(&self) {
        self.links_seen.fetch_add(1, Ordering::Relaxed);
    }

    /// Registers a file whose download starts now.
    pub fn start_file(&self, name: &str) -> Arc<FileProgress> {
        let file = Arc::new(FileProgress {
            name: name.to_string(),
            size: AtomicU64::new(UNKNOWN_SIZE),
            done: AtomicU64::new(0),
            connections: AtomicUsize::new(0),
        });
        self.active.lock().push(Arc::clone(&file));
        file
    }

    /// Records the size of `file` once the server has told it.
    pub fn set_size(&self, file: &FileProgress, size: u64) {
        if file.size.swap(size, Ordering::Relaxed) == UNKNOWN_SIZE {
            self.expected_bytes.fetch_add(size, Ordering::Relaxed);
        }
    }

    /// Records that `n` bytes of `file` were already on disk from an earlier run (a resume): they count
    /// for the file's percentage, but not as bytes transferred now.
    pub fn add_existing(&self, file: &FileProgress, n: u64) {
        file.done.fetch_add(n, Ordering::Relaxed);
        self.expected_bytes.fetch_sub(
            n.min(self.expected_bytes.load(Ordering::Relaxed)),
            Ordering::Relaxed,
        );
    }

    /// Forgets the bytes of `file` written so far, because they are being thrown away (the file
    /// changed on the server, or must be fetched again as one stream).
    pub fn rewind(&self, file: &FileProgress) {
        let done = file.done.swap(0, Ordering::Relaxed);
        self.bytes
            .fetch_sub(done.min(self.bytes()), Ordering::Relaxed);
    }

    /// The hot path: `n` more bytes of `file` are on disk. Two atomic adds, nothing else.
    #[inline]
    pub fn record(&self, file: &FileProgress, n: u64) {
        file.done.fetch_add(n, Ordering::Relaxed);
        self.bytes.fetch_add(n, Ordering::Relaxed);
    }

    /// Removes `file` from the active set (it finished, one way or another). The bytes it will not
    /// deliver (it failed or was interrupted) leave the expected total, so the total line can still
    /// reach 100%.
    pub fn end_file(&self, file: &Arc<FileProgress>) {
        self.active.lock().retain(|f| !Arc::ptr_eq(f, file));
        if let Some(size) = file.size() {
            let missing = size.saturating_sub(file.done());
            let expected = self.expected_bytes.load(Ordering::Relaxed);
            self.expected_bytes
                .fetch_sub(missing.min(expected), Ordering::Relaxed);
        }
    }

    /// Counts a finished link.
    pub fn finish(&self, finish: Finish) {
        let counter = match finish {
            Finish::Ok => &self.ok,
            Finish::Skipped => &self.skipped,
            Finish::Failed => &self.failed,
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// Bytes written over all files so far.
    pub fn bytes(&self) -> u64 {
        self.bytes.load(Ordering::Relaxed)
    }

    /// Files being downloaded now (a copy of the list).
    pub fn active_files(&self) -> Vec<Arc<FileProgress>> {
        self.active.lock().clone()
    }

    /// Reads every counter.
    pub fn snapshot(&self) -> Snapshot {
        Snapshot {
            bytes: self.bytes(),
            expected_bytes: self.expected_bytes.load(Ordering::Relaxed),
            links_seen: self.links_seen.load(Ordering::Relaxed),
            ok: self.ok.load(Ordering::Relaxed),
            skipped: self.skipped.load(Ordering::Relaxed),
            failed: self.failed.load(Ordering::Relaxed),
            active: self.active.lock().len(),
        }
    }
}

/// Where pardl talks to the user: stderr, with an optional live line at the bottom.
#[derive(Debug)]
pub struct Console {
    live: bool,
    quiet: bool,
    /// Whether a live line is on screen now (and must be erased before printing anything else).
    line_drawn: Mutex<bool>,
}

impl Console {
    /// A console on stderr. The live line is drawn only if stderr is a terminal and `quiet` is off.
    pub fn stderr(quiet: bool) -> Console {
        Console {
            live: !quiet && std::io::stderr().is_terminal(),
            quiet,
            line_drawn: Mutex::new(false),
        }
    }

    /// A console that never draws a live line (for library users and tests).
    pub fn plain(quiet: bool) -> Console {
        Console {
            live: false,
            quiet,
            line_drawn: Mutex::new(false),
        }
    }

    /// Whether a live line is drawn.
    pub fn is_live(&self) -> bool {
        self.live
    }

    /// Whether only errors and the summary are printed.
    pub fn is_quiet(&self) -> bool {
        self.quiet
    }

    /// Prints one line of results (above the live line, if any).
    pub fn line(&self, text: &str) {
        let mut drawn = self.line_drawn.lock();
        let mut err = std::io::stderr().lock();
        if *drawn {
            let _ = write!(err, "\r\x1b[2K");
            *drawn = false;
        }
        // A closed stderr is no reason to fail a download.
        let _ = writeln!(err, "{text}");
    }

    /// Replaces the live line with `text`.
    fn draw(&self, text: &str) {
        if !self.live {
            return;
        }
        let mut drawn = self.line_drawn.lock();
        let mut err = std::io::stderr().lock();
        let _ = write!(err, "\r\x1b[2K{text}");
        let _ = err.flush();
        *drawn = true;
    }

    /// Erases the live line, leaving the cursor at the start of an empty line.
    pub fn clear(&self) {
        let mut drawn = self.line_drawn.lock();
        if *drawn {
            let _ = write!(std::io::stderr().lock(), "\r\x1b[2K");
            *drawn = false;
        }
    }
}

/// Speed over a sliding window of recent samples, so the figure follows the current rate rather than
/// the average since the start.
#[derive(Debug)]
pub struct SpeedMeter {
    window: Duration,
    samples: VecDeque<(Instant, u64)>,
}

impl SpeedMeter {
    /// A meter averaging over `window`.
    pub fn new(window: Duration) -> SpeedMeter {
        SpeedMeter {
            window,
            samples: VecDeque::new(),
        }
    }

    /// Adds a reading of a byte counter taken at `now`; returns bytes per second over the window.
    pub fn sample(&mut self, now: Instant, bytes: u64) -> f64 {
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

/// Formats the live status line from a snapshot and a speed.
///
/// ```
/// use pardl::progress::{status_line, Snapshot};
///
/// let snap = Snapshot { bytes: 1 << 20, expected_bytes: 4 << 20, links_seen: 3, ok: 1, active: 2, ..Default::default() };
/// assert_eq!(status_line(&snap, 524288.0), "1.0 MiB / 4.0 MiB (25%)  512.0 KiB/s  ETA 6s  files 1/3 ok, 2 active");
/// ```
pub fn status_line(snap: &Snapshot, speed: f64) -> String {
    let mut line = human_bytes(snap.bytes);
    if let Some(percent) =
        (snap.bytes.min(snap.expected_bytes) * 100).checked_div(snap.expected_bytes)
    {
        line.push_str(&format!(
            " / {} ({percent}%)",
            human_bytes(snap.expected_bytes)
        ));
    }
    line.push_str(&format!("  {}/s", human_bytes(speed as u64)));
    if speed >= 1.0 && snap.expected_bytes > snap.bytes {
        let eta = ((snap.expected_bytes - snap.bytes) as f64 / speed).ceil() as u64;
        line.push_str(&format!(
            "  ETA {}",
            human_duration(Duration::from_secs(eta))
        ));
    }
    line.push_str(&format!("  files {}/{} ok", snap.ok, snap.links_seen));
    if snap.skipped > 0 {
        line.push_str(&format!(", {} skipped", snap.skipped));
    }
    if snap.failed > 0 {
        line.push_str(&format!(", {} failed", snap.failed));
    }
    line.push_str(&format!(", {} active", snap.active));
    line
}

/// Formats a duration for people: `42s`, `3m07s`, `1h02m`.
///
/// ```
/// use std::time::Duration;
/// assert_eq!(pardl::progress::human_duration(Duration::from_secs(187)), "3m07s");
/// ```
pub fn human_duration(d: Duration) -> String {
    let s = d.as_secs();
    match s {
        0..=59 => format!("{s}s"),
        60..=3599 => format!("{}m{:02}s", s / 60, s % 60),
        _ => format!("{}h{:02}m", s / 3600, (s % 3600) / 60),
    }
}

/// The renderer thread: redraws the live line about ten times a second until dropped.
#[derive(Debug)]
pub struct LiveLine {
    stop: Option<Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl LiveLine {
    /// Starts drawing `progress` on `console` (does nothing if the console is not live).
    pub fn start(progress: Arc<Progress>, console: Arc<Console>) -> LiveLine {
        if !console.is_live() {
            return LiveLine {
                stop: None,
                thread: None,
            };
        }
        let (stop, stopped) = bounded::<()>(1);
        let thread = thread::Builder::new()
            .name("pardl-progress".into())
            .spawn(move || {
                let mut meter = SpeedMeter::new(Duration::from_secs(3));
                loop {
                    let snap = progress.snapshot();
                    let speed = meter.sample(Instant::now(), snap.bytes);
                    console.draw(&status_line(&snap, speed));
                    match stopped.recv_timeout(Duration::from_millis(100)) {
                        Err(RecvTimeoutError::Timeout) => continue,
                        _ => break,
                    }
                }
                console.clear();
            })
            .ok();
        LiveLine {
            stop: Some(stop),
            thread,
        }
    }
}

impl Drop for LiveLine {
    fn drop(&mut self) {
        // Dropping the sender wakes the thread at once; it erases the line and exits.
        self.stop.take();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
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
        assert_eq!(a.done(), 60);
        assert_eq!(progress.bytes(), 65);
        assert_eq!(
            progress.snapshot().expected_bytes,
            100,
            "a size is counted once"
        );
        progress.end_file(&a);
        progress.finish(Finish::Ok);
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
        assert_eq!(file.live_connections(), 0);
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
    fn status_line_without_known_sizes_has_no_percent_or_eta() {
        let snap = Snapshot {
            bytes: 2048,
            links_seen: 1,
            active: 1,
            ..Default::default()
        };
        assert_eq!(
            status_line(&snap, 1024.0),
            "2.0 KiB  1.0 KiB/s  files 0/1 ok, 1 active"
        );
    }
}
