//! The control file: what an interrupted download needs to continue where it stopped.
//!
//! Beside `NAME.part` a ranged download keeps `NAME.part.pardl`, a small text file:
//!
//! ```text
//! # pardl control file: resume state of the .part file beside it. Do not edit.
//! pardl-control 1
//! url https://example.com/big.iso
//! size 1073741824
//! etag "5f3a-1b2c"
//! last-modified Tue, 01 Jan 2030 00:00:00 GMT
//! chunk 0 1048576 1048576
//! chunk 1048576 34603008 20971520
//! ```
//!
//! `url` is the link as given (a rerun must name the same link), `size` the file's size, `etag` and
//! `last-modified` the server's validators when it sent them (each line optional), and one `chunk START
//! END DONE` line per chunk: its byte range (END exclusive) and how many of its bytes, counted from
//! START, are on disk.
//!
//! The file is replaced atomically (written to `NAME.part.pardl.tmp`, synced, renamed), and only after
//! the `.part` data it describes has been synced, so after a crash or power loss it never claims a byte
//! that is not on disk. A control file that cannot be parsed, or does not match the link or the `.part`
//! file, is reported and the download starts from scratch; it never causes a panic.

use std::fmt::Write as _;
use std::fs::{self, File};
use std::io::{self, Write};
use std::ops::Range;
use std::path::{Path, PathBuf};

use crate::file::plan::ChunkPlan;
use crate::http::Validators;

/// The first line after the comment, naming the format and its version.
const MAGIC: &str = "pardl-control 1";

/// The saved state of one ranged download.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ControlFile {
    /// The link as given.
    pub url: String,
    /// The file's size.
    pub total: u64,
    /// The server's validators when the download started.
    pub validators: Validators,
    /// Each chunk's range and the bytes of it on disk.
    pub chunks: Vec<(Range<u64>, u64)>,
}

impl ControlFile {
    /// The state of `plan` right now.
    pub(crate) fn snapshot(url: &str, validators: &Validators, plan: &ChunkPlan) -> ControlFile {
        ControlFile {
            url: url.to_string(),
            total: plan.total(),
            validators: validators.clone(),
            chunks: plan.ranges(),
        }
    }

    /// `NAME.part.pardl` for the final path `NAME`.
    pub(crate) fn path_for(final_path: &Path) -> PathBuf {
        let mut name = final_path.as_os_str().to_os_string();
        name.push(".part.pardl");
        PathBuf::from(name)
    }

    /// The file's text.
    pub(crate) fn render(&self) -> String {
        let mut text = String::new();
        let _ = writeln!(
            text,
            "# pardl control file: resume state of the .part file beside it. Do not edit."
        );
        let _ = writeln!(text, "{MAGIC}");
        let _ = writeln!(text, "url {}", self.url);
        let _ = writeln!(text, "size {}", self.total);
        if let Some(etag) = &self.validators.etag {
            let _ = writeln!(text, "etag {etag}");
        }
        if let Some(date) = &self.validators.last_modified {
            let _ = writeln!(text, "last-modified {date}");
        }
        for (range, done) in &self.chunks {
            let _ = writeln!(text, "chunk {} {} {done}", range.start, range.end);
        }
        text
    }

    /// Parses the text of a control file; the error says what is wrong with it.
    pub(crate) fn parse(text: &str) -> Result<ControlFile, String> {
        let mut lines = text
            .lines()
            .map(str::trim_end)
            .filter(|l| !l.is_empty() && !l.starts_with('#'));
        if lines.next() != Some(MAGIC) {
            return Err(format!("not a control file (expected '{MAGIC}')"));
        }
        let (mut url, mut total) = (None, None);
        let mut validators = Validators::default();
        let mut chunks = Vec::new();
        for line in lines {
            let (key, value) = line.split_once(' ').unwrap_or((line, ""));
            match key {
                "url" => url = Some(value.to_string()),
                "size" => {
                    total = Some(
                        value
                            .parse::<u64>()
                            .map_err(|_| format!("bad size '{value}'"))?,
                    )
                }
                "etag" => validators.etag = Some(value.to_string()),
                "last-modified" => validators.last_modified = Some(value.to_string()),
                "chunk" => {
                    let numbers: Vec<u64> = value
                        .split(' ')
                        .map(str::parse)
                        .collect::<Result<_, _>>()
                        .map_err(|_| format!("bad chunk line '{line}'"))?;
                    let [start, end, done] = numbers[..] else {
                        return Err(format!("bad chunk line '{line}'"));
                    };
                    chunks.push((start..end, done));
                }
                _ => return Err(format!("unknown line '{line}'")),
            }
        }
        let url = url.ok_or("no url line")?;
        let total = total.ok_or("no size line")?;
        let control = ControlFile {
            url,
            total,
            validators,
            chunks,
        };
        control
            .plan()
            .ok_or("its chunks do not cover the file exactly")?;
        Ok(control)
    }

    /// Rebuilds the chunk plan with its progress.
    pub(crate) fn plan(&self) -> Option<ChunkPlan> {
        ChunkPlan::from_parts(self.total, self.chunks.clone())
    }

    /// Reads the control file at `path`: `Ok(None)` if there is none, `Err` with a reason if it is
    /// unreadable or corrupt.
    pub(crate) fn load(path: &Path) -> Result<Option<ControlFile>, String> {
        match fs::read(path) {
            Ok(bytes) => {
                let text = String::from_utf8(bytes).map_err(|_| "not UTF-8 text".to_string())?;
                ControlFile::parse(&text).map(Some)
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e.to_string()),
        }
    }

    /// Replaces the control file at `path` atomically: temp file, sync, rename.
    pub(crate) fn save(&self, path: &Path) -> io::Result<()> {
        let mut temp = path.as_os_str().to_os_string();
        temp.push(".tmp");
        let temp = PathBuf::from(temp);
        let mut file = File::create(&temp)?;
        file.write_all(self.render().as_bytes())?;
        file.sync_all()?;
        drop(file);
        fs::rename(&temp, path)
    }

    /// Deletes the control file at `path` (and a leftover temp file), ignoring files that are not there.
    pub(crate) fn remove(path: &Path) {
        let mut temp = path.as_os_str().to_os_string();
        temp.push(".tmp");
        for p in [path.to_path_buf(), PathBuf::from(temp)] {
            match fs::remove_file(&p) {
                Err(e) if e.kind() != io::ErrorKind::NotFound => {
                    log::warn!("could not remove {}: {e}", p.display());
                }
                _ => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> ControlFile {
        ControlFile {
            url: "https://u:p@h/f.iso".into(),
            total: 100,
            validators: Validators {
                etag: Some("\"a b\"".into()),
                last_modified: Some("Tue, 01 Jan 2030 00:00:00 GMT".into()),
            },
            chunks: vec![(0..50, 50), (50..100, 7)],
        }
    }

    #[test]
    fn save_and_load_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f.iso.part.pardl");
        assert_eq!(ControlFile::load(&path), Ok(None));
        sample().save(&path).unwrap();
        assert_eq!(ControlFile::load(&path), Ok(Some(sample())));
        assert!(!dir.path().join("f.iso.part.pardl.tmp").exists());
        ControlFile::remove(&path);
        assert!(!path.exists());
    }

    #[test]
    fn corrupt_files_give_reasons_not_panics() {
        let good = sample().render();
        let cases = [
            (String::new(), "not a control file"),
            (good.replace("size 100", "size many"), "bad size"),
            (
                good.replace("chunk 50 100 7", "chunk 50 100"),
                "bad chunk line",
            ),
            (
                good.replace("chunk 50 100 7", "chunk 60 100 7"),
                "do not cover",
            ),
            (
                good.replace("chunk 50 100 7", "chunk 50 100 70"),
                "do not cover",
            ),
            (good.replace("url https://u:p@h/f.iso\n", ""), "no url"),
            (format!("{good}bogus line\n"), "unknown line"),
        ];
        for (text, reason) in cases {
            let error = ControlFile::parse(&text).unwrap_err();
            assert!(
                error.contains(reason),
                "{error:?} should mention {reason:?}"
            );
        }
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.part.pardl");
        fs::write(&path, [0xff, 0xfe, 0x00]).unwrap();
        assert!(ControlFile::load(&path).is_err());
    }
}

#[cfg(test)]
mod examples {
    //! The examples these items once showed in their docs, kept as tests.

    #[test]
    fn render_example() {
        use crate::disk::control::ControlFile;
        use crate::http::Validators;

        let control = ControlFile {
            url: "http://h/f".into(),
            total: 10,
            validators: Validators {
                etag: Some("\"v1\"".into()),
                last_modified: None,
            },
            chunks: vec![(0..4, 4), (4..10, 1)],
        };
        assert_eq!(ControlFile::parse(&control.render()), Ok(control));
    }
}
