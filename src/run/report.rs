//! The `--report FILE.jsonl` file: each link's [`Outcome`] as one JSON line, written the moment it is
//! known, so a crash loses nothing and a script can act on a run while it goes on. `--skip-done`
//! reads these lines back ([`crate::run::skip_done`]).

use std::fs::{File, OpenOptions};
use std::io::{self, Write as _};
use std::path::{Path, PathBuf};

use parking_lot::Mutex;
use serde::Serialize;

use crate::http::url::redact_url;
use crate::run::outcome::{failure_text, status_word, Outcome, Status};

/// One line of the `--report` file: everything a script needs to act on one link. Every key is
/// always there (`null` when it does not apply), so the lines of one file share one schema.
///
/// ```
/// use std::time::Duration;
/// use pardl::Origin;
/// use pardl::{Outcome, ReportLine, Status};
///
/// let outcome = Outcome {
///     index: 0,
///     url: "https://ann:s3cret@example.com/a.iso".into(),
///     origin: Origin::Line(3),
///     path: Some("downloads/a.iso".into()),
///     status: Status::Downloaded { bytes: 10, ranged: true },
///     elapsed: Duration::from_millis(1500),
///     transfer: Default::default(),
/// };
/// let json = serde_json::to_string(&ReportLine::from(&outcome)).unwrap();
/// assert!(json.starts_with(r#"{"url":"https://ann:***@example.com/a.iso","final_url":null,"path":"downloads/a.iso","#), "{json}");
/// assert!(!json.contains("s3cret"));
/// ```
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ReportLine {
    /// The link as given, password masked.
    pub url: String,
    /// The URL after redirects, password masked.
    pub final_url: Option<String>,
    /// The file's path, when a name was chosen.
    pub path: Option<String>,
    /// Where the link came from: `line 3`, `argument 1`.
    pub origin: String,
    /// `ok`, `skipped`, `failed` or `interrupted`.
    pub status: &'static str,
    /// The file's size in bytes, when known.
    pub size: Option<u64>,
    /// The kind of failure ([`Error::kind`](crate::Error::kind)), for a failed link.
    pub error_kind: Option<&'static str>,
    /// The failure's message (password masked), for a failed link.
    pub error: Option<String>,
    /// The SHA-256 of the file (hex), when that digest was computed.
    pub sha256: Option<String>,
    /// The digest computed for the file's check, whatever its algorithm, as `ALGORITHM=HEX` (the way
    /// a links file writes it: `sha512=…`, `md5=…`).
    pub checksum: Option<String>,
    /// Seconds spent on the link.
    pub seconds: f64,
    /// The most connections that transferred the file at once.
    pub connections: usize,
    /// Requests that failed and were tried again.
    pub retries: u64,
    /// How many times a connection that ran out of work took over part of a slower one's range.
    pub splits: u64,
    /// For a link with mirrors: each mirror (URL, password masked) and the bytes it delivered;
    /// `null` for a link with one URL.
    pub mirrors: Option<Vec<MirrorLine>>,
}

/// One mirror of a [`ReportLine`]: its URL and the bytes it delivered.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct MirrorLine {
    /// The mirror's URL as given, password masked.
    pub url: String,
    /// Bytes it delivered in this run.
    pub bytes: u64,
}

impl From<&Outcome> for ReportLine {
    fn from(outcome: &Outcome) -> ReportLine {
        let (error_kind, error) = match &outcome.status {
            Status::Failed(error) => (Some(error.kind()), Some(failure_text(&outcome.url, error))),
            _ => (None, None),
        };
        let size = match outcome.status {
            Status::Downloaded { bytes, .. } => Some(bytes),
            _ => outcome.transfer.size,
        };
        ReportLine {
            url: redact_url(&outcome.url),
            final_url: outcome.transfer.final_url.as_deref().map(redact_url),
            path: outcome
                .path
                .as_ref()
                .map(|p| p.to_string_lossy().into_owned()),
            origin: outcome.origin.to_string(),
            status: status_word(&outcome.status),
            size,
            error_kind,
            error,
            sha256: outcome.transfer.sha256.clone(),
            checksum: outcome.transfer.checksum.as_ref().map(ToString::to_string),
            // Milliseconds are precision enough, and keep the lines short.
            seconds: (outcome.elapsed.as_secs_f64() * 1000.0).round() / 1000.0,
            connections: outcome.transfer.connections,
            retries: outcome.transfer.retries,
            splits: outcome.transfer.splits,
            mirrors: (!outcome.transfer.mirrors.is_empty()).then(|| {
                outcome
                    .transfer
                    .mirrors
                    .iter()
                    .map(|(url, bytes)| MirrorLine {
                        url: redact_url(url),
                        bytes: *bytes,
                    })
                    .collect()
            }),
        }
    }
}

/// Whether `file` is not empty and does not end with a newline.
fn ends_in_cut_line(file: &mut File) -> io::Result<bool> {
    use std::io::{Read as _, Seek as _, SeekFrom};
    if file.metadata()?.len() == 0 {
        return Ok(false);
    }
    file.seek(SeekFrom::End(-1))?;
    let mut last = [0u8; 1];
    file.read_exact(&mut last)?;
    Ok(last[0] != b'\n')
}

/// The `--report` file: one JSON line per link, appended and flushed as each link ends.
///
/// Each line is written with one `write` call on a file opened for appending, under a lock, so lines
/// never interleave and a crash (or Ctrl-C) loses at most the line being written. JSON is written by
/// `serde_json`, which escapes whatever a URL, a path or a server's message may contain.
#[derive(Debug)]
pub struct ReportFile {
    path: PathBuf,
    file: Mutex<File>,
}

impl ReportFile {
    /// Opens (creating it if needed) `path` for appending. If the file ends in a line cut short (a run
    /// killed while writing it), a newline ends that line first, so the first new line is not glued
    /// to it.
    pub fn open(path: &Path) -> io::Result<ReportFile> {
        let mut file = OpenOptions::new()
            .create(true)
            .read(true)
            .append(true)
            .open(path)?;
        if ends_in_cut_line(&mut file)? {
            file.write_all(b"\n")?;
        }
        Ok(ReportFile {
            path: path.to_path_buf(),
            file: Mutex::new(file),
        })
    }

    /// Appends the line for `outcome`. A failure to write is logged, not fatal: the downloads matter
    /// more than their report.
    pub fn write(&self, outcome: &Outcome) {
        let result = serde_json::to_string(&ReportLine::from(outcome))
            .map_err(io::Error::other)
            .and_then(|mut line| {
                line.push('\n');
                let mut file = self.file.lock();
                file.write_all(line.as_bytes())?;
                file.flush()
            });
        if let Err(error) = result {
            log::error!("cannot write the report {}: {error}", self.path.display());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::run::outcome::tests::failed;

    #[test]
    fn a_report_cut_mid_line_gets_its_newline_before_new_lines() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("r.jsonl");
        std::fs::write(&path, "{\"url\":\"http://h/1\",\"sta").unwrap();
        let report = ReportFile::open(&path).unwrap();
        report.write(&failed(2));
        drop(report);
        let text = std::fs::read_to_string(&path).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 2, "{text}");
        assert_eq!(lines[0], "{\"url\":\"http://h/1\",\"sta");
        assert!(lines[1].starts_with("{\"url\":\"http://h/2\""), "{text}");
        // A whole file is left as it is.
        ReportFile::open(&path).unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), text);
    }
}
