//! What became of each link, and of the whole run.
//!
//! Every link ends as one [`Outcome`] (downloaded, skipped or failed, with the reason), handed to the
//! caller as soon as it is known; a [`Summary`] adds them up for the final lines and the exit status.

use std::fmt::Write as _;
use std::path::PathBuf;
use std::time::Duration;

use crate::config::human_bytes;
use crate::error::Error;
use crate::http::redact_url;
use crate::links::Origin;
use crate::progress::human_duration;

/// How one link ended.
#[derive(Debug)]
pub enum Status {
    /// The file was downloaded and renamed to its final name.
    Downloaded {
        /// Its size in bytes.
        bytes: u64,
        /// Whether it was fetched in ranged chunks (false: one stream).
        ranged: bool,
    },
    /// A file already existed under the final name and was left alone.
    Skipped,
    /// The link failed; nothing was left under the final name.
    Failed(Error),
    /// The run was stopped (Ctrl-C) before the link finished; a ranged download's progress is saved
    /// so the same command continues it.
    Interrupted,
}

/// The result of one link.
#[derive(Debug)]
pub struct Outcome {
    /// The link as given (may hold credentials: print it through [`redact_url`]).
    pub url: String,
    /// Where the link came from (a line of the links file or a command-line argument).
    pub origin: Origin,
    /// The final path, when a name was chosen.
    pub path: Option<PathBuf>,
    /// What happened.
    pub status: Status,
    /// Time spent on the link.
    pub elapsed: Duration,
}

impl Outcome {
    /// Whether the link ended well (downloaded or skipped).
    pub fn is_success(&self) -> bool {
        !matches!(self.status, Status::Failed(_))
    }

    /// The one line shown for this outcome.
    ///
    /// ```
    /// use std::time::Duration;
    /// use pardl::links::Origin;
    /// use pardl::report::{Outcome, Status};
    ///
    /// let outcome = Outcome {
    ///     url: "http://example.com/a.iso".into(),
    ///     origin: Origin::Line(3),
    ///     path: Some("downloads/a.iso".into()),
    ///     status: Status::Skipped,
    ///     elapsed: Duration::ZERO,
    /// };
    /// assert_eq!(outcome.line(), "skip  downloads/a.iso (already exists)");
    /// ```
    pub fn line(&self) -> String {
        let path = self
            .path
            .as_ref()
            .map_or_else(|| redact_url(&self.url), |p| p.display().to_string());
        match &self.status {
            Status::Downloaded { bytes, .. } => {
                format!(
                    "ok    {path} ({}{})",
                    human_bytes(*bytes),
                    rate(*bytes, self.elapsed)
                )
            }
            Status::Skipped => format!("skip  {path} (already exists)"),
            Status::Interrupted => format!("stop  {path} (interrupted)"),
            Status::Failed(error) => {
                format!("FAIL  {}: {}", self.origin, failure_text(&self.url, error))
            }
        }
    }
}

/// The message for a failed link: the error, with the URL in front when the error does not name it.
fn failure_text(url: &str, error: &Error) -> String {
    match error {
        Error::Io { .. } => format!("{}: {error}", redact_url(url)),
        _ => error.to_string(),
    }
}

/// ` in 4.2s, 3.1 MiB/s`, or nothing for instant transfers.
fn rate(bytes: u64, elapsed: Duration) -> String {
    let seconds = elapsed.as_secs_f64();
    if seconds < 0.001 {
        return String::new();
    }
    format!(
        " in {}, {}/s",
        if seconds < 10.0 {
            format!("{seconds:.1}s")
        } else {
            human_duration(elapsed)
        },
        human_bytes((bytes as f64 / seconds) as u64)
    )
}

/// The totals of a run.
#[derive(Debug, Default)]
pub struct Summary {
    /// Links downloaded.
    pub ok: u64,
    /// Links skipped because the file was there.
    pub skipped: u64,
    /// Links failed.
    pub failed: u64,
    /// Links stopped by an interruption.
    pub interrupted: u64,
    /// Whether the run was cancelled (Ctrl-C).
    pub cancelled: bool,
    /// Bytes of the downloaded files.
    pub bytes: u64,
    /// Wall time of the run.
    pub elapsed: Duration,
    /// One line per failed link: where it came from and why it failed.
    pub failures: Vec<String>,
    /// Reading the links stopped early because of this error (the links before it still ran).
    pub input_error: Option<String>,
    /// The run could not start at all (e.g. the output directory cannot be created).
    pub fatal: Option<Error>,
}

impl Summary {
    /// Adds one outcome.
    pub fn add(&mut self, outcome: &Outcome) {
        match &outcome.status {
            Status::Downloaded { bytes, .. } => {
                self.ok += 1;
                self.bytes += bytes;
            }
            Status::Skipped => self.skipped += 1,
            Status::Interrupted => self.interrupted += 1,
            Status::Failed(error) => {
                self.failed += 1;
                self.failures.push(format!(
                    "{}: {}",
                    outcome.origin,
                    failure_text(&outcome.url, error)
                ));
            }
        }
    }

    /// The process exit status: 0 if every link succeeded or was skipped, 1 if any failed (or the run
    /// could not start), 2 if the links could not be read, 130 if the run was interrupted.
    pub fn exit_code(&self) -> i32 {
        if self.cancelled {
            130
        } else if self.input_error.is_some() {
            2
        } else if self.failed > 0 || self.fatal.is_some() {
            1
        } else {
            0
        }
    }

    /// The closing lines: failed links with their reasons, then the totals.
    ///
    /// ```
    /// use std::time::Duration;
    /// let summary = pardl::report::Summary { ok: 2, skipped: 1, bytes: 3 << 20, elapsed: Duration::from_secs(2), ..Default::default() };
    /// assert_eq!(summary.text(), "2 ok, 1 skipped, 0 failed; 3.0 MiB in 2.0s, 1.5 MiB/s\n");
    /// ```
    pub fn text(&self) -> String {
        let mut text = String::new();
        if !self.failures.is_empty() {
            let _ = writeln!(text, "Failed links:");
            for failure in &self.failures {
                let _ = writeln!(text, "  {failure}");
            }
        }
        if let Some(error) = &self.fatal {
            let _ = writeln!(text, "error: {error}");
        }
        if let Some(error) = &self.input_error {
            let _ = writeln!(text, "error: {error}; links after it were not read");
        }
        if self.cancelled {
            let _ = writeln!(
                text,
                "Interrupted: progress is saved; run the same command again to resume."
            );
        }
        let _ = writeln!(
            text,
            "{} ok, {} skipped, {} failed{}; {}{}",
            self.ok,
            self.skipped,
            self.failed,
            if self.interrupted > 0 {
                format!(", {} interrupted", self.interrupted)
            } else {
                String::new()
            },
            human_bytes(self.bytes),
            rate(self.bytes, self.elapsed)
        );
        text
    }
}
