//! What became of each link, and of the whole run.
//!
//! Every link ends as one [`Outcome`] (downloaded, skipped or failed, with the reason), handed to the
//! caller as soon as it is known; a [`Summary`] adds them up for the final lines and the exit status.
//! The `--report` file ([`crate::run::report`]) writes each outcome as a JSON line.

use std::fmt::Write as _;
use std::path::PathBuf;
use std::time::Duration;

use crate::disk::checksum::Checksum;
use crate::disk::part::is_name_taken;
use crate::error::Error;
use crate::http::url::redact_url;
use crate::run::links::Origin;
use crate::units::{human_bytes, human_duration};

/// How one link ended.
#[derive(Debug, Clone)]
#[non_exhaustive]
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
    /// The run was stopped before this link began: it was read and queued, and nothing was
    /// requested or written for it.
    NotStarted,
}

impl Status {
    /// The status of a link whose task ended with `error`: failed, except a finished file whose
    /// final name another program took meanwhile (it was free when the task began): skipped, as it
    /// would have been had that file been there then.
    pub(crate) fn of_error(error: Error) -> Status {
        if is_name_taken(&error) {
            log::warn!("{error}; the link counts as skipped");
            Status::Skipped
        } else {
            Status::Failed(error)
        }
    }
}

/// The result of one link.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// The link's position in the input of its run, from 0 (lines that are not links, such as
    /// comments, do not count; links left out by `--shard` or `--skip-done` do): the number
    /// [`Names::Index`](crate::Names::Index) names the file by. 0 for
    /// [`Downloader::download`](crate::Downloader::download).
    pub index: u64,
    /// The link as given (may hold credentials: print it through [`redact_url`](crate::redact_url)).
    pub url: String,
    /// Where the link came from (a line of the links file or a command-line argument).
    pub origin: Origin,
    /// The final path, when a name was chosen.
    pub path: Option<PathBuf>,
    /// What happened.
    pub status: Status,
    /// Time spent on the link.
    pub elapsed: Duration,
    /// What the transfer did: final URL, size, checksum, connections, retries.
    pub transfer: Transfer,
}

/// What one link's transfer did, for the report. Empty (`Default`) for a link that never reached
/// the network (malformed, skipped before any request).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Transfer {
    /// The URL the file came from after redirects (may hold credentials: print it through
    /// [`redact_url`](crate::redact_url)).
    pub final_url: Option<String>,
    /// The file's size, when the server told it.
    pub size: Option<u64>,
    /// The SHA-256 of the file (hex), when that digest was computed (the link, or a checksum file,
    /// asked for a SHA-256 check).
    pub sha256: Option<String>,
    /// The digest of the file that was computed for its check, whatever the algorithm.
    pub checksum: Option<Checksum>,
    /// The most connections that transferred the file at once.
    pub connections: usize,
    /// Requests for the file that failed and were tried again.
    pub retries: u64,
    /// How many times a connection that ran out of work took over part of a slower one's range.
    pub splits: u64,
    /// For a link with mirrors: each mirror's URL (as given) and the bytes it delivered; empty for a
    /// link with one URL.
    pub mirrors: Vec<(String, u64)>,
    /// Bytes an earlier run had left on disk, which this one resumed from (0 for a fresh download):
    /// not transferred now, so not counted in the speed.
    pub resumed: u64,
    /// Bytes that came over the network for this link in this run, whether the link ended well or
    /// not (see [`FileProgress::fetched`](crate::FileProgress::fetched)).
    pub fetched: u64,
    /// Whether the link stopped unfinished (interrupted, or failed) with its progress saved, so the
    /// same command resumes it.
    pub saved_for_resume: bool,
}

impl Outcome {
    /// Whether the link ended well (downloaded or skipped).
    pub fn is_success(&self) -> bool {
        matches!(self.status, Status::Downloaded { .. } | Status::Skipped)
    }

    /// The one line shown for this outcome.
    ///
    /// ```
    /// use std::time::Duration;
    /// use pardl::Origin;
    /// use pardl::{Outcome, Status};
    ///
    /// let outcome = Outcome {
    ///     index: 0,
    ///     url: "http://example.com/a.iso".into(),
    ///     origin: Origin::Line(3),
    ///     path: Some("downloads/a.iso".into()),
    ///     status: Status::Skipped,
    ///     elapsed: Duration::ZERO,
    ///     transfer: Default::default(),
    /// };
    /// assert_eq!(outcome.line(), "skip  downloads/a.iso (already exists)");
    ///
    /// // A resumed download: its speed counts only the bytes fetched by this run.
    /// let resumed = Outcome {
    ///     index: 0,
    ///     status: Status::Downloaded { bytes: 4 << 20, ranged: true },
    ///     elapsed: Duration::from_secs(2),
    ///     transfer: pardl::Transfer { resumed: 3 << 20, ..Default::default() },
    ///     ..outcome
    /// };
    /// assert_eq!(
    ///     resumed.line(),
    ///     "ok    downloads/a.iso (4.0 MiB, 3.0 MiB of it from an earlier run; 1.0 MiB in 2.0s, 512.0 KiB/s)"
    /// );
    /// ```
    pub fn line(&self) -> String {
        let path = self
            .path
            .as_ref()
            .map_or_else(|| redact_url(&self.url), |p| p.display().to_string());
        match &self.status {
            Status::Downloaded { bytes, .. } => {
                let resumed = self.transfer.resumed.min(*bytes);
                let fetched = *bytes - resumed;
                if resumed > 0 {
                    format!(
                        "ok    {path} ({}, {} of it from an earlier run; {}{})",
                        human_bytes(*bytes),
                        human_bytes(resumed),
                        human_bytes(fetched),
                        rate(fetched, self.elapsed)
                    )
                } else {
                    format!(
                        "ok    {path} ({}{}{})",
                        human_bytes(*bytes),
                        rate(fetched, self.elapsed),
                        mirror_shares(&self.transfer.mirrors)
                    )
                }
            }
            Status::Skipped => format!("skip  {path} (already exists)"),
            Status::Interrupted => format!("stop  {path} (interrupted)"),
            Status::NotStarted => format!("stop  {path} (not started)"),
            Status::Failed(error) => {
                format!("FAIL  {}: {}", self.origin, failure_text(&self.url, error))
            }
        }
    }
}

/// `; from mirrors: URL 3.0 MiB, URL 1.0 MiB` for a link with mirrors, nothing otherwise.
fn mirror_shares(mirrors: &[(String, u64)]) -> String {
    if mirrors.is_empty() {
        return String::new();
    }
    let shares: Vec<String> = mirrors
        .iter()
        .map(|(url, bytes)| format!("{} {}", redact_url(url), human_bytes(*bytes)))
        .collect();
    format!("; from mirrors: {}", shares.join(", "))
}

/// The message for a failed link: the error, with the URL in front when the error does not name it.
pub(crate) fn failure_text(url: &str, error: &Error) -> String {
    match error {
        Error::Io { .. } | Error::Locked { .. } => format!("{}: {error}", redact_url(url)),
        _ => error.to_string(),
    }
}

/// ` in 4.2s, 3.1 MiB/s` (wall time and mean speed), or nothing for instant transfers.
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

/// The most failed links a [`Summary`] keeps for its closing table; the rest are only counted (each
/// still has its `FAIL` line, unless quiet, and its `--report` line), so a run with a million failures does not
/// keep a million messages.
pub(crate) const LISTED_FAILURES: usize = 100;

/// The totals of a run.
///
/// Its size does not grow with the number of links: counters, and at most 100 (`LISTED_FAILURES`)
/// failed links for the closing table.
#[derive(Debug, Default)]
pub struct Summary {
    /// Links downloaded.
    pub ok: u64,
    /// Links skipped because the file was there.
    pub skipped: u64,
    /// Links failed.
    pub failed: u64,
    /// Links stopped by an interruption, begun or not.
    pub interrupted: u64,
    /// Of the `interrupted` links, those that never began ([`Status::NotStarted`]).
    pub not_started: u64,
    /// Links read from the input, including those left out by `--shard` and `--skip-done` and
    /// those that are not links; a cancelled run stops reading, so the links after these have no
    /// outcome.
    pub links_read: u64,
    /// Links not fetched because an earlier report marks them `ok` (`--skip-done`).
    pub already_done: u64,
    /// Links not fetched because they belong to another shard (`--shard`).
    pub other_shard: u64,
    /// Whether the run was cancelled (Ctrl-C).
    pub cancelled: bool,
    /// Bytes of the downloaded files (all of each file, the part an earlier run left included).
    pub bytes: u64,
    /// Bytes that came over the network in this run, over every link: the downloaded files, and
    /// what arrived of those that failed or were interrupted. The speed is measured on these.
    pub fetched: u64,
    /// Bytes that earlier runs had left on disk and this run resumed from: already there, so not
    /// fetched.
    pub resumed: u64,
    /// Interrupted links whose progress is saved on disk, so the same command resumes them.
    pub saved_for_resume: u64,
    /// Interrupted links that had fetched bytes but could keep none (a server without ranges: the
    /// file must start over).
    pub lost_on_interrupt: u64,
    /// Wall time of the run.
    pub elapsed: Duration,
    /// One line per failed link, for the first 100 (`LISTED_FAILURES`): where it came from and why it
    /// failed.
    pub failures: Vec<String>,
    /// The first 100 (`LISTED_FAILURES`) failed links, for the table of the closing lines (`failed`
    /// counts them all).
    pub failed_links: Vec<Failure>,
    /// Requests tried again, over all links.
    pub retries: u64,
    /// Reading the links stopped early because of this error (the links before it still ran).
    pub input_error: Option<String>,
    /// The run could not start at all (e.g. the output directory cannot be created).
    pub fatal: Option<Error>,
}

/// One failed link, as the summary's table shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// Where the link came from (`line 3`, `argument 1`).
    pub origin: String,
    /// The kind of error ([`Error::kind`]).
    pub kind: &'static str,
    /// Why it failed (credentials masked).
    pub message: String,
}

impl Summary {
    /// Adds one outcome.
    pub fn add(&mut self, outcome: &Outcome) {
        let transfer = &outcome.transfer;
        self.retries += transfer.retries;
        self.fetched += transfer.fetched;
        self.resumed += transfer.resumed;
        match &outcome.status {
            Status::Downloaded { bytes, .. } => {
                self.ok += 1;
                self.bytes += bytes;
            }
            Status::Skipped => self.skipped += 1,
            Status::Interrupted => {
                self.interrupted += 1;
                if transfer.saved_for_resume {
                    self.saved_for_resume += 1;
                } else if transfer.fetched > 0 {
                    self.lost_on_interrupt += 1;
                }
            }
            Status::NotStarted => {
                self.interrupted += 1;
                self.not_started += 1;
            }
            Status::Failed(error) => {
                self.failed += 1;
                if self.failed_links.len() >= LISTED_FAILURES {
                    return;
                }
                let message = failure_text(&outcome.url, error);
                self.failures.push(format!("{}: {message}", outcome.origin));
                self.failed_links.push(Failure {
                    origin: outcome.origin.to_string(),
                    kind: error.kind(),
                    message,
                });
            }
        }
    }

    /// The process exit status: 0 if every link succeeded or was skipped (links done earlier and
    /// links of other shards count as neither), 1 if any failed (or the run
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

    /// The closing lines: a table of the failed links (where, what kind of error, why; the first
    /// 100 (`LISTED_FAILURES`), then how many more), then the totals: links ok, skipped and failed (and
    /// interrupted, done earlier, in other shards, when there are any), the bytes this run fetched, wall
    /// time, mean speed over those bytes, what was already there, retries.
    ///
    /// ```
    /// use std::time::Duration;
    /// use pardl::{Failure, Summary};
    ///
    /// let summary = Summary { ok: 2, skipped: 1, bytes: 3 << 20, fetched: 3 << 20, elapsed: Duration::from_secs(2), ..Default::default() };
    /// assert_eq!(summary.text(), "2 ok, 1 skipped, 0 failed; 3.0 MiB in 2.0s, 1.5 MiB/s; 0 retries\n");
    ///
    /// // A resumed file: the bytes and the speed are what this run fetched.
    /// let resumed = Summary { ok: 1, bytes: 512 << 20, fetched: 263 << 20, resumed: 249 << 20, elapsed: Duration::from_secs(10), ..Default::default() };
    /// assert_eq!(resumed.text(), "1 ok, 0 skipped, 0 failed; 263.0 MiB in 10s, 26.3 MiB/s (249.0 MiB was already there); 0 retries\n");
    ///
    /// let failed = Summary {
    ///     failed: 2,
    ///     retries: 4,
    ///     failed_links: vec![
    ///         Failure { origin: "line 2".into(), kind: "http-status", message: "http://h/a: HTTP 404 Not Found".into() },
    ///         Failure { origin: "line 10".into(), kind: "network", message: "http://h/b: connection refused".into() },
    ///     ],
    ///     ..Default::default()
    /// };
    /// assert_eq!(failed.text(), "\
    /// Failed links:
    ///   line 2   http-status  http://h/a: HTTP 404 Not Found
    ///   line 10  network      http://h/b: connection refused
    /// 0 ok, 0 skipped, 2 failed; 0 B; 4 retries
    /// ");
    ///
    /// let rerun = Summary { ok: 3, already_done: 12, other_shard: 45, failed: 150, failed_links: vec![
    ///     Failure { origin: "line 7".into(), kind: "network", message: "http://h/c: timed out".into() },
    /// ], ..Default::default() };
    /// assert_eq!(rerun.text(), "\
    /// Failed links:
    ///   line 7  network  http://h/c: timed out
    ///   ... and 149 more (each on its FAIL line above unless -q, and in the --report file)
    /// 3 ok, 0 skipped, 150 failed, 12 done earlier, 45 in other shards; 0 B; 0 retries
    /// ");
    /// ```
    pub fn text(&self) -> String {
        let mut text = String::new();
        if !self.failed_links.is_empty() {
            let _ = writeln!(text, "Failed links:");
            let origin_width = self.failed_links.iter().map(|f| f.origin.len()).max();
            let kind_width = self.failed_links.iter().map(|f| f.kind.len()).max();
            for failure in &self.failed_links {
                let _ = writeln!(
                    text,
                    "  {:origin$}  {:kind$}  {}",
                    failure.origin,
                    failure.kind,
                    failure.message,
                    origin = origin_width.unwrap_or(0),
                    kind = kind_width.unwrap_or(0),
                );
            }
            let unlisted = self.failed.saturating_sub(self.failed_links.len() as u64);
            if unlisted > 0 {
                let _ = writeln!(
                    text,
                    "  ... and {unlisted} more (each on its FAIL line above unless -q, and in the --report file)"
                );
            }
        }
        if let Some(error) = &self.fatal {
            let _ = writeln!(text, "error: {error}");
        }
        if let Some(error) = &self.input_error {
            let _ = writeln!(text, "error: {error}; links after it were not read");
        }
        if self.cancelled {
            let _ = writeln!(text, "{}", self.interrupted_text());
        }
        let mut extra = String::new();
        for (count, what) in [
            (self.interrupted, "interrupted"),
            (self.already_done, "done earlier"),
            (self.other_shard, "in other shards"),
        ] {
            if count > 0 {
                let _ = write!(extra, ", {count} {what}");
            }
        }
        let already_there = match self.resumed {
            0 => String::new(),
            resumed => format!(" ({} was already there)", human_bytes(resumed)),
        };
        let _ = writeln!(
            text,
            "{} ok, {} skipped, {} failed{extra}; {}{}{already_there}",
            self.ok,
            self.skipped,
            self.failed,
            human_bytes(self.fetched),
            rate(self.fetched, self.elapsed)
        );
        // The totals line ends with the retries.
        text.pop();
        let _ = writeln!(
            text,
            "; {} {}",
            self.retries,
            if self.retries == 1 {
                "retry"
            } else {
                "retries"
            }
        );
        text
    }
}

impl Summary {
    /// What an interrupted run says about running it again: a promise to resume only for what was
    /// saved.
    fn interrupted_text(&self) -> String {
        let files = |n: u64| {
            if n == 1 {
                "1 file".to_string()
            } else {
                format!("{n} files")
            }
        };
        match (self.saved_for_resume, self.lost_on_interrupt) {
            (_, 0) if self.saved_for_resume > 0 => {
                "Interrupted: progress is saved; run the same command again to resume.".to_string()
            }
            (0, 0) => "Interrupted: run the same command again to continue.".to_string(),
            (0, lost) => format!(
                "Interrupted: nothing could be saved ({} from a server without ranges cannot resume); run the same command again to start over.",
                files(lost)
            ),
            (saved, lost) => format!(
                "Interrupted: progress of {} is saved; run the same command again to resume ({} from a server without ranges starts over).",
                files(saved),
                files(lost)
            ),
        }
    }
}

/// The status words of the report.
pub(crate) fn status_word(status: &Status) -> &'static str {
    match status {
        Status::Downloaded { .. } => "ok",
        Status::Skipped => "skipped",
        Status::Failed(_) => "failed",
        Status::NotStarted => "not-started",
        Status::Interrupted => "interrupted",
    }
}

/// The outcome of a link that failed before any name was chosen or request made.
pub(crate) fn failed_before_start(
    url: String,
    origin: Origin,
    index: u64,
    error: Error,
) -> Outcome {
    ended_before_start(url, origin, index, Status::Failed(error))
}

/// The outcome of a link that ended before any request was made.
pub(crate) fn ended_before_start(
    url: String,
    origin: Origin,
    index: u64,
    status: Status,
) -> Outcome {
    Outcome {
        index,
        url,
        origin,
        path: None,
        status,
        elapsed: Duration::ZERO,
        transfer: Transfer::default(),
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn failed(line: usize) -> Outcome {
        Outcome {
            index: 0,
            url: format!("http://h/{line}"),
            origin: Origin::Line(line),
            path: None,
            status: Status::Failed(Error::Protocol {
                url: format!("http://h/{line}"),
                message: "short body".into(),
            }),
            elapsed: Duration::ZERO,
            transfer: Transfer::default(),
        }
    }

    #[test]
    fn the_summary_keeps_the_first_failures_and_counts_the_rest() {
        let mut summary = Summary::default();
        for line in 1..=LISTED_FAILURES + 25 {
            summary.add(&failed(line));
        }
        assert_eq!(summary.failed, (LISTED_FAILURES + 25) as u64);
        assert_eq!(summary.failed_links.len(), LISTED_FAILURES);
        assert_eq!(summary.failures.len(), LISTED_FAILURES);
        assert_eq!(
            summary.failed_links[LISTED_FAILURES - 1].origin,
            format!("line {LISTED_FAILURES}")
        );
        let text = summary.text();
        assert_eq!(
            text.lines().filter(|l| l.contains("short body")).count(),
            LISTED_FAILURES
        );
        assert!(
            text.contains("\n  ... and 25 more (each on its FAIL line above"),
            "{text}"
        );
        assert!(
            text.ends_with("0 ok, 0 skipped, 125 failed; 0 B; 0 retries\n"),
            "{text}"
        );
        assert_eq!(summary.exit_code(), 1);
    }
}
