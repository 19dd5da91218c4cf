//! Where pardl talks to the user: the live display on a terminal, plain lines everywhere else.
//!
//! [`Console`] is the one way anything reaches stderr while downloads run: result lines, log
//! records ([`LogWriter`]), the Ctrl-C notice. On a terminal it owns an [`indicatif::MultiProgress`]
//! and prints above the live area, so a line never lands in the middle of a redraw; elsewhere (a pipe,
//! CI, `2> log`) it writes plain lines and never an escape code.
//!
//! [`Renderer`] is the one thread that draws. On a terminal it samples the counters of
//! [`Progress`] about ten times a second, turns them into text ([`crate::ui::layout::frame`], at the
//! terminal's size of the moment, so a resize is picked up at the next frame) and hands the whole
//! frame to indicatif as one multi-line message: one coherent redraw per tick, written in one go
//! (indicatif buffers a redraw and moves the cursor back over the lines it drew, so nothing
//! flickers). Elsewhere it prints a total line every [`PLAIN_PERIOD`]. The download threads never
//! touch the display or a lock to report progress: they add to atomics, and the renderer reads them.
//!
//! indicatif does the terminal work that is easy to get wrong (cursor movement, clearing what was
//! drawn when lines wrap after a resize, printing above the live area); the counters, the speed
//! measurement and the layout stay pardl's own.

use std::collections::HashMap;
use std::io::{self, IsTerminal, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use crossbeam_channel::{bounded, RecvTimeoutError, Sender};
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use parking_lot::Mutex;

use crate::run::progress::{Progress, SpeedMeter};
use crate::ui::layout::{frame, retry_text, total_line, FileView};

/// Time between two frames of the live display.
pub const FRAME_PERIOD: Duration = Duration::from_millis(100);

/// Time between two total lines when stderr is not a terminal.
pub const PLAIN_PERIOD: Duration = Duration::from_secs(10);

/// Speeds are averaged over this long: long enough to be steady, short enough to follow a change.
pub const SPEED_WINDOW: Duration = Duration::from_secs(3);

/// The terminal size assumed when it cannot be asked.
const FALLBACK_SIZE: (usize, usize) = (80, 24);

/// Where pardl's messages go: above the live area on a terminal, plain lines otherwise.
#[derive(Debug)]
pub struct Console {
    quiet: bool,
    /// The live area, when stderr is a terminal and the run is not quiet.
    live: Option<MultiProgress>,
    /// Whether the renderer is drawing the live area now: only then do lines go through indicatif
    /// (which parks the cursor for the live area's sake, see [`ParkedCursor`]).
    drawing: AtomicBool,
}

impl Console {
    /// A console on stderr: live when stderr is a terminal (and not a dumb one) and `quiet` is off.
    pub fn stderr(quiet: bool) -> Console {
        let dumb = std::env::var_os("TERM").is_some_and(|t| t == "dumb");
        let live = !quiet && !dumb && io::stderr().is_terminal();
        Console {
            quiet,
            drawing: AtomicBool::new(false),
            live: live.then(|| {
                MultiProgress::with_draw_target(ProgressDrawTarget::term_like_with_hz(
                    Box::new(ParkedCursor(console::Term::buffered_stderr())),
                    20,
                ))
            }),
        }
    }

    /// A console that never draws a live area (for library users and tests).
    pub fn plain(quiet: bool) -> Console {
        Console {
            quiet,
            live: None,
            drawing: AtomicBool::new(false),
        }
    }

    /// Whether a live area is drawn.
    pub fn is_live(&self) -> bool {
        self.live.is_some()
    }

    /// Whether only errors and the summary are printed.
    pub fn is_quiet(&self) -> bool {
        self.quiet
    }

    /// Prints one line (or several, separated by `\n`) above the live area, if any.
    pub fn line(&self, text: &str) {
        if let Some(live) = &self.live {
            if self.drawing.load(Ordering::Acquire) && live.println(text).is_ok() {
                return;
            }
        }
        // A closed stderr is no reason to fail a download.
        let _ = writeln!(io::stderr().lock(), "{text}");
    }

    /// Erases the live area (before exiting without the renderer's help, e.g. on a second Ctrl-C).
    pub fn clear(&self) {
        if let Some(live) = &self.live {
            let _ = live.clear();
        }
    }
}

/// The renderer thread; stops (erasing the live area) when dropped.
#[derive(Debug)]
pub struct Renderer {
    stop: Option<Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Renderer {
    /// Starts showing `progress` on `console`: a live area on a terminal, a total line every
    /// [`PLAIN_PERIOD`] otherwise, nothing at all when the console is quiet.
    pub fn start(progress: Arc<Progress>, console: Arc<Console>) -> Renderer {
        if console.is_quiet() {
            return Renderer {
                stop: None,
                thread: None,
            };
        }
        let (stop, stopped) = bounded::<()>(1);
        let thread = thread::Builder::new()
            .name("pardl-display".into())
            .spawn(move || match &console.live {
                Some(live) => {
                    console.drawing.store(true, Ordering::Release);
                    draw_live(&progress, live, terminal_size, || {
                        stopped.recv_timeout(FRAME_PERIOD) == Err(RecvTimeoutError::Timeout)
                    });
                    console.drawing.store(false, Ordering::Release);
                }
                None => print_plain(&progress, &console, || {
                    stopped.recv_timeout(PLAIN_PERIOD) == Err(RecvTimeoutError::Timeout)
                }),
            });
        if let Err(error) = &thread {
            log::warn!("cannot start the progress display: {error}");
        }
        Renderer {
            stop: Some(stop),
            thread: thread.ok(),
        }
    }
}

impl Drop for Renderer {
    fn drop(&mut self) {
        // Dropping the sender wakes the thread at once; it erases the live area and exits.
        self.stop.take();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// The live loop: one frame per tick, laid out for the `size` of the moment, until `wait` says stop.
fn draw_live(
    progress: &Progress,
    live: &MultiProgress,
    size: impl Fn() -> (usize, usize),
    mut wait: impl FnMut() -> bool,
) {
    let area = live.add(ProgressBar::no_length());
    // `{msg}` alone: the frame is laid out by `layout`, indicatif only draws it.
    if let Ok(style) = ProgressStyle::with_template("{msg}") {
        area.set_style(style);
    }
    let mut sampler = Sampler::new();
    loop {
        let (width, height) = size();
        area.set_message(
            sampler
                .frame(progress, Instant::now(), width, height)
                .join("\n"),
        );
        if !wait() {
            break;
        }
    }
    area.finish_and_clear();
    live.remove(&area);
    let _ = live.clear();
}

/// The plain loop: a total line every [`PLAIN_PERIOD`], no escape codes, no carriage returns.
fn print_plain(progress: &Progress, console: &Console, mut wait: impl FnMut() -> bool) {
    let mut meter = SpeedMeter::new(PLAIN_PERIOD);
    meter.sample(Instant::now(), progress.bytes());
    while wait() {
        let snap = progress.snapshot();
        let speed = meter.sample(Instant::now(), snap.bytes);
        console.line(&total_line(&snap, speed, usize::MAX));
    }
}

/// Keeps a speed meter per file between frames.
struct Sampler {
    total: SpeedMeter,
    files: HashMap<u64, SpeedMeter>,
}

impl Sampler {
    fn new() -> Sampler {
        Sampler {
            total: SpeedMeter::new(SPEED_WINDOW),
            files: HashMap::new(),
        }
    }

    /// Samples the counters at `now` and lays them out for a `width` × `height` terminal.
    fn frame(
        &mut self,
        progress: &Progress,
        now: Instant,
        width: usize,
        height: usize,
    ) -> Vec<String> {
        let snap = progress.snapshot();
        let speed = self.total.sample(now, snap.bytes);
        let active = progress.active_files();
        let mut views = Vec::with_capacity(active.len());
        let mut meters = HashMap::with_capacity(active.len());
        for file in &active {
            let mut meter = self
                .files
                .remove(&file.id())
                .unwrap_or_else(|| SpeedMeter::new(SPEED_WINDOW));
            let done = file.bytes();
            views.push(FileView {
                name: file.name(),
                done,
                size: file.size(),
                speed: meter.sample(now, done),
                connections: file.live_connections(),
                retry: file.retry_wait().map(|wait| {
                    let left = wait.at.saturating_duration_since(now);
                    retry_text(wait.attempt, wait.max_tries, left, &wait.reason)
                }),
            });
            meters.insert(file.id(), meter);
        }
        // Meters of files that finished are dropped here.
        self.files = meters;
        frame(&snap, speed, &views, width, height)
    }
}

/// stderr as indicatif draws on it, except that the cursor is parked at the start of the last line
/// after every redraw instead of past its end.
///
/// indicatif pads each line to the terminal's width and leaves the cursor after the last column.
/// Anything the terminal echoes there (the `^C` of a Ctrl-C, a key typed by mistake) then starts a
/// new line that indicatif does not know about, and the next redraw leaves the top line of the live
/// area behind. Parked at the start of the line, an echo only overwrites the first columns of the
/// last line, which the next redraw rewrites.
#[derive(Debug)]
struct ParkedCursor(console::Term);

impl indicatif::TermLike for ParkedCursor {
    fn width(&self) -> u16 {
        self.0.size().1
    }

    fn height(&self) -> u16 {
        self.0.size().0
    }

    fn move_cursor_up(&self, n: usize) -> io::Result<()> {
        self.0.move_cursor_up(n)
    }

    fn move_cursor_down(&self, n: usize) -> io::Result<()> {
        self.0.move_cursor_down(n)
    }

    fn move_cursor_right(&self, n: usize) -> io::Result<()> {
        self.0.move_cursor_right(n)
    }

    fn move_cursor_left(&self, n: usize) -> io::Result<()> {
        self.0.move_cursor_left(n)
    }

    fn write_line(&self, s: &str) -> io::Result<()> {
        self.0.write_line(s)
    }

    fn write_str(&self, s: &str) -> io::Result<()> {
        self.0.write_str(s)
    }

    fn clear_line(&self) -> io::Result<()> {
        self.0.clear_line()
    }

    fn flush(&self) -> io::Result<()> {
        self.0.write_str("\r")?;
        self.0.flush()
    }
}

/// The terminal's (columns, rows) now; asked every frame, so a resize shows at the next one.
fn terminal_size() -> (usize, usize) {
    match console::Term::stderr().size_checked() {
        Some((rows, columns)) if rows > 0 && columns > 0 => {
            (usize::from(columns), usize::from(rows))
        }
        _ => FALLBACK_SIZE,
    }
}

/// An [`io::Write`] for `env_logger` that hands each complete log line to a [`Console`], so log
/// records appear above the live area instead of inside it.
#[derive(Debug)]
pub struct LogWriter {
    console: Arc<Console>,
    pending: Mutex<Vec<u8>>,
}

impl LogWriter {
    /// A writer printing through `console`.
    pub fn new(console: Arc<Console>) -> LogWriter {
        LogWriter {
            console,
            pending: Mutex::new(Vec::new()),
        }
    }
}

impl Write for LogWriter {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        let mut pending = self.pending.lock();
        pending.extend_from_slice(bytes);
        while let Some(end) = pending.iter().position(|&b| b == b'\n') {
            let line: Vec<u8> = pending.drain(..=end).collect();
            self.console
                .line(String::from_utf8_lossy(&line[..end]).trim_end_matches('\r'));
        }
        Ok(bytes.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        let mut pending = self.pending.lock();
        if !pending.is_empty() {
            let line = String::from_utf8_lossy(&pending).into_owned();
            pending.clear();
            self.console.line(&line);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::run::progress::RetryWait;

    #[test]
    fn sampler_follows_files_as_they_come_and_go() {
        let progress = Progress::new();
        let a = progress.start_file("a.bin");
        progress.set_size(&a, 1000);
        let mut sampler = Sampler::new();
        let t0 = Instant::now();
        let lines = sampler.frame(&progress, t0, 100, 20);
        assert_eq!(lines.len(), 2);
        assert!(lines[0].starts_with("a.bin"), "{lines:?}");
        progress.record(&a, 500);
        let lines = sampler.frame(&progress, t0 + Duration::from_secs(1), 100, 20);
        assert!(
            lines[0].contains("50%") && lines[0].contains("500 B/s"),
            "{lines:?}"
        );
        progress.end_file(&a);
        let lines = sampler.frame(&progress, t0 + Duration::from_secs(2), 100, 20);
        assert_eq!(lines.len(), 1, "{lines:?}");
        assert!(sampler.files.is_empty());
    }

    #[test]
    fn a_file_waiting_for_a_retry_says_which_try_when_and_why() {
        let progress = Progress::new();
        let file = progress.start_file("flaky.bin");
        progress.set_size(&file, 1000);
        let t0 = Instant::now();
        file.set_retry_wait(Some(RetryWait {
            attempt: 2,
            max_tries: 5,
            at: t0 + Duration::from_millis(2500),
            reason: "503".into(),
        }));
        let mut sampler = Sampler::new();
        let lines = sampler.frame(&progress, t0, 100, 20);
        assert!(lines[0].ends_with("retry 2/5 in 3s (503)"), "{lines:?}");
        let lines = sampler.frame(&progress, t0 + Duration::from_secs(2), 100, 20);
        assert!(lines[0].ends_with("retry 2/5 in 1s (503)"), "{lines:?}");
        file.set_retry_wait(None);
        let lines = sampler.frame(&progress, t0 + Duration::from_secs(3), 100, 20);
        assert!(lines[0].ends_with("0 conn"), "{lines:?}");
    }

    #[test]
    fn the_live_area_is_drawn_as_one_frame_and_erased_at_the_end() {
        let term = indicatif::InMemoryTerm::new(10, 60);
        let live =
            MultiProgress::with_draw_target(ProgressDrawTarget::term_like(Box::new(term.clone())));
        let progress = Progress::new();
        let file = progress.start_file("a-rather-long-name-for-a-narrow-terminal.iso");
        progress.set_size(&file, 1000);
        progress.record(&file, 250);
        let stream = progress.start_file("stream.bin");
        progress.record(&stream, 2048);
        let mut screens = Vec::new();
        draw_live(
            &progress,
            &live,
            || (60, 10),
            || {
                screens.push(term.contents());
                false
            },
        );
        let screen = &screens[0];
        let lines: Vec<&str> = screen.lines().collect();
        assert_eq!(lines.len(), 3, "{screen}");
        assert!(
            lines[0].starts_with("a-rather-long") && lines[0].contains("25%"),
            "{screen}"
        );
        assert!(lines[0].contains('…'), "shortened: {screen}");
        assert!(
            lines[1].starts_with("stream.bin") && lines[1].contains("2.0 KiB"),
            "{screen}"
        );
        assert!(!lines[1].contains('%'), "{screen}");
        assert!(lines[2].contains("2.2 KiB / 3.0 KiB+"), "{screen}");
        assert!(lines.iter().all(|l| l.chars().count() <= 60), "{screen}");
        assert_eq!(term.contents().trim(), "", "erased when the renderer stops");
    }

    #[test]
    fn log_lines_are_passed_on_whole() {
        let mut writer = LogWriter::new(Arc::new(Console::plain(false)));
        writer.write_all(b"first part").unwrap();
        assert_eq!(writer.pending.lock().len(), 10);
        writer.write_all(b" and the rest\nnext").unwrap();
        assert_eq!(&*writer.pending.lock(), b"next");
        writer.flush().unwrap();
        assert!(writer.pending.lock().is_empty());
    }
}
