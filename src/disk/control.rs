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
//! `url` is the link as given, its password masked (a rerun must name the same link),
//! `size` the file's size, `etag` and
//! `last-modified` the server's validators when it sent them (each line optional), and one `chunk START
//! END DONE` line per chunk, in file order: its byte range (END exclusive) and how many of its bytes,
//! counted from START, are on disk. The ranges are those of the moment the file was saved, splits
//! included (a split is saved whole or not at all, see `src/file/plan.rs`).
//!
//! A link with mirrors adds what is kept per mirror: `mirror N URL` for each further URL (numbered
//! from 1, in the link's order; `url` is mirror 0), `mirror N etag VALUE` and `mirror N last-modified
//! DATE` for its own validators, `mirror N dropped` for one no longer used, and at the end of each
//! chunk line `from N` (the mirror its bytes came from) or `from *` (more than one):
//!
//! ```text
//! url https://a.example/big.iso
//! size 1073741824
//! etag "5f3a-1b2c"
//! mirror 1 https://b.example/big.iso
//! mirror 1 etag "77-aa"
//! chunk 0 1048576 1048576 from 0
//! chunk 1048576 537919488 20971520 from 1
//! chunk 537919488 1073741824 0 from 0
//! ```
//!
//! The file is replaced atomically (written to `NAME.part.pardl.tmp`, synced, renamed), and only after
//! the `.part` data it describes has been synced, so after a crash or power loss it never claims a byte
//! that is not on disk. A control file that cannot be parsed, or does not match the link or the `.part`
//! file, is reported and the download starts from scratch; it never causes a panic.
//!
//! Others may write to the directory, so the file is handled with care ([`crate::disk::open`]): it
//! holds no password and only its owner may read it (mode 0600); it is read only if it is a regular
//! file (not a link, a FIFO or a device) of at most [`MAX_CONTROL_BYTES`]; its temporary file is
//! created anew (`O_EXCL`, never through a link) and removed again if the save fails.

use std::fmt::Write as _;
use std::fs;
use std::io::{self, Read, Write};
use std::ops::Range;
use std::path::{Path, PathBuf};

use crate::disk::open::{anything_at, create_new, open_existing};
use crate::file::plan::{ChunkPlan, Source};
use crate::http::url::redact_url;
use crate::http::Validators;

/// The first line after the comment, naming the format and its version.
const MAGIC: &str = "pardl-control 1";

/// The largest control file pardl reads. A real one has a line per chunk, a few KiB at most; a
/// bigger file is not pardl's, and is not read into memory.
pub(crate) const MAX_CONTROL_BYTES: u64 = 1 << 20;

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
    /// For a link with mirrors: the URLs after `url`, in order, each with its own validators.
    pub mirrors: Vec<(String, Validators)>,
    /// For a link with mirrors: the mirrors no longer used (0 is `url`).
    pub dropped: Vec<usize>,
    /// For a link with mirrors: where each chunk's bytes came from (empty otherwise).
    pub sources: Vec<Source>,
}

/// One mirror as [`ControlFile::with_mirrors`] saves it: its URL as given, its validators, and
/// whether it is still used.
pub(crate) type MirrorState = (String, Validators, bool);

impl ControlFile {
    /// The state of `plan` right now.
    pub(crate) fn snapshot(url: &str, validators: &Validators, plan: &ChunkPlan) -> ControlFile {
        ControlFile {
            url: url.to_string(),
            total: plan.total(),
            validators: validators.clone(),
            chunks: plan.ranges(),
            mirrors: Vec::new(),
            dropped: Vec::new(),
            sources: Vec::new(),
        }
    }

    /// The state of `plan` right now, for a link with `mirrors` (the first is the link's `url`).
    pub(crate) fn with_mirrors(
        url: &str,
        plan: &ChunkPlan,
        mirrors: &[MirrorState],
    ) -> ControlFile {
        let saved = plan.ranges_and_sources();
        let validators = mirrors.first().map(|m| m.1.clone()).unwrap_or_default();
        ControlFile {
            url: url.to_string(),
            total: plan.total(),
            validators,
            chunks: saved.iter().map(|(r, w, _)| (r.clone(), *w)).collect(),
            mirrors: mirrors
                .iter()
                .skip(1)
                .map(|(url, validators, _)| (url.clone(), validators.clone()))
                .collect(),
            dropped: (0..mirrors.len()).filter(|&i| !mirrors[i].2).collect(),
            sources: saved.iter().map(|(_, _, source)| *source).collect(),
        }
    }

    /// `NAME.part.pardl` for the final path `NAME`.
    pub(crate) fn path_for(final_path: &Path) -> PathBuf {
        let mut name = final_path.as_os_str().to_os_string();
        name.push(".part.pardl");
        PathBuf::from(name)
    }

    pub(crate) fn render(&self) -> String {
        let mut text = String::new();
        let _ = writeln!(
            text,
            "# pardl control file: resume state of the .part file beside it. Do not edit."
        );
        let _ = writeln!(text, "{MAGIC}");
        // A password in the link stays out of the file: a rerun compares links with theirs masked.
        let _ = writeln!(text, "url {}", redact_url(&self.url));
        let _ = writeln!(text, "size {}", self.total);
        if let Some(etag) = &self.validators.etag {
            let _ = writeln!(text, "etag {etag}");
        }
        if let Some(date) = &self.validators.last_modified {
            let _ = writeln!(text, "last-modified {date}");
        }
        for (i, (url, validators)) in self.mirrors.iter().enumerate() {
            // Masked like the link's own URL: the control file never holds a password.
            let _ = writeln!(text, "mirror {} {}", i + 1, redact_url(url));
            if let Some(etag) = &validators.etag {
                let _ = writeln!(text, "mirror {} etag {etag}", i + 1);
            }
            if let Some(date) = &validators.last_modified {
                let _ = writeln!(text, "mirror {} last-modified {date}", i + 1);
            }
        }
        for index in &self.dropped {
            let _ = writeln!(text, "mirror {index} dropped");
        }
        for (i, (range, done)) in self.chunks.iter().enumerate() {
            let _ = write!(text, "chunk {} {} {done}", range.start, range.end);
            match self.sources.get(i) {
                Some(Source::Mirror(mirror)) => {
                    let _ = write!(text, " from {mirror}");
                }
                Some(Source::Mixed) => text.push_str(" from *"),
                None => {}
            }
            text.push('\n');
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
        let (mut mirrors, mut dropped, mut sources) = (Vec::new(), Vec::new(), Vec::new());
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
                "mirror" => parse_mirror_line(value, &mut mirrors, &mut dropped)
                    .ok_or_else(|| format!("bad mirror line '{line}'"))?,
                "chunk" => {
                    let (value, source) = match value.split_once(" from ") {
                        Some((numbers, "*")) => (numbers, Some(Source::Mixed)),
                        Some((numbers, mirror)) => {
                            let mirror = mirror
                                .parse()
                                .map_err(|_| format!("bad chunk line '{line}'"))?;
                            (numbers, Some(Source::Mirror(mirror)))
                        }
                        None => (value, None),
                    };
                    sources.extend(source);
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
        if !sources.is_empty() && sources.len() != chunks.len() {
            return Err("some chunk lines say where their bytes came from, others do not".into());
        }
        let mirror_count = mirrors.len() as u32;
        if sources
            .iter()
            .any(|s| matches!(s, Source::Mirror(m) if *m > mirror_count))
            || dropped.iter().any(|&d| d > mirrors.len())
        {
            return Err("a mirror number with no mirror line".into());
        }
        let control = ControlFile {
            url,
            total,
            validators,
            chunks,
            mirrors,
            dropped,
            sources,
        };
        control
            .plan()
            .ok_or("its chunks do not cover the file exactly")?;
        Ok(control)
    }

    /// Rebuilds the chunk plan with its progress (and, for a link with mirrors, where each chunk's
    /// bytes came from).
    pub(crate) fn plan(&self) -> Option<ChunkPlan> {
        let plan = ChunkPlan::from_parts(self.total, self.chunks.clone())?;
        for (chunk, source) in plan.chunks().iter().zip(&self.sources) {
            chunk.set_source(*source);
        }
        Some(plan)
    }

    /// Reads the control file at `path`: `Ok(None)` if there is none, `Err` with a reason if it is
    /// unreadable or corrupt, is not a regular file, or is larger than [`MAX_CONTROL_BYTES`].
    pub(crate) fn load(path: &Path) -> Result<Option<ControlFile>, String> {
        let Some(file) = open_existing(path, false).map_err(|e| e.to_string())? else {
            return Ok(None);
        };
        let mut bytes = Vec::new();
        file.take(MAX_CONTROL_BYTES + 1)
            .read_to_end(&mut bytes)
            .map_err(|e| e.to_string())?;
        if bytes.len() as u64 > MAX_CONTROL_BYTES {
            return Err(format!(
                "larger than {} KiB, so not a control file",
                MAX_CONTROL_BYTES >> 10
            ));
        }
        let text = String::from_utf8(bytes).map_err(|_| "not UTF-8 text".to_string())?;
        ControlFile::parse(&text).map(Some)
    }

    /// Replaces the control file at `path` atomically: a new temporary file (readable by its owner
    /// only), sync (unless `flush` is false: `--sync never`), rename. A failed save leaves no
    /// temporary file behind.
    pub(crate) fn save(&self, path: &Path, flush: bool) -> io::Result<()> {
        let temp = temp_path(path);
        // A temporary file left by a crash or a full disk is this download's own (its lock is held).
        remove_if_there(&temp)?;
        let written = create_new(&temp, true).and_then(|mut file| {
            file.write_all(self.render().as_bytes())?;
            if flush {
                file.sync_all()?;
            }
            Ok(())
        });
        let saved = written.and_then(|()| fs::rename(&temp, path));
        if saved.is_err() {
            let _ = remove_if_there(&temp);
        }
        saved
    }

    /// Whether anything lies at `path` or at its temporary file's name (a control file, a leftover
    /// of a failed save, or something else pardl will refuse to read): looked up, not opened.
    pub(crate) fn any_at(path: &Path) -> bool {
        anything_at(path) || anything_at(&temp_path(path))
    }

    /// Deletes the control file at `path` (and a leftover temp file), ignoring files that are not there.
    pub(crate) fn remove(path: &Path) {
        for p in [path.to_path_buf(), temp_path(path)] {
            if let Err(e) = remove_if_there(&p) {
                log::warn!("could not remove {}: {e}", p.display());
            }
        }
    }
}

/// `NAME.part.pardl.tmp`, where a new control file is written before it replaces the old one.
pub(crate) fn temp_path(path: &Path) -> PathBuf {
    let mut temp = path.as_os_str().to_os_string();
    temp.push(".tmp");
    PathBuf::from(temp)
}

/// Deletes `path` (a link itself, not what it points to) if something is there.
fn remove_if_there(path: &Path) -> io::Result<()> {
    match fs::remove_file(path) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

/// Reads the value of a `mirror` line (`N URL`, `N etag VALUE`, `N last-modified DATE`, `N dropped`)
/// into `mirrors` (numbered from 1) and `dropped`; `None` if it is malformed.
fn parse_mirror_line(
    value: &str,
    mirrors: &mut Vec<(String, Validators)>,
    dropped: &mut Vec<usize>,
) -> Option<()> {
    let (number, rest) = value.split_once(' ')?;
    let index: usize = number.parse().ok()?;
    if rest == "dropped" {
        dropped.push(index);
        return Some(());
    }
    if let Some(etag) = rest.strip_prefix("etag ") {
        mirrors.get_mut(index.checked_sub(1)?)?.1.etag = Some(etag.to_string());
    } else if let Some(date) = rest.strip_prefix("last-modified ") {
        mirrors.get_mut(index.checked_sub(1)?)?.1.last_modified = Some(date.to_string());
    } else if index == mirrors.len() + 1 {
        mirrors.push((rest.to_string(), Validators::default()));
    } else {
        return None;
    }
    Some(())
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
            mirrors: Vec::new(),
            dropped: Vec::new(),
            sources: Vec::new(),
        }
    }

    #[test]
    fn mirrors_round_trip_with_their_own_validators_and_the_source_of_each_chunk() {
        let control = ControlFile {
            mirrors: vec![
                (
                    "https://b/f.iso".into(),
                    Validators {
                        etag: Some("\"b1\"".into()),
                        last_modified: None,
                    },
                ),
                ("https://c/f.iso".into(), Validators::default()),
            ],
            dropped: vec![2],
            sources: vec![Source::Mirror(1), Source::Mixed],
            ..sample()
        };
        let text = control.render();
        assert!(
            text.contains("mirror 1 https://b/f.iso\nmirror 1 etag \"b1\"\n"),
            "{text}"
        );
        assert!(
            text.contains("chunk 0 50 50 from 1\nchunk 50 100 7 from *\n"),
            "{text}"
        );
        // The link's password is masked on disk.
        let on_disk = ControlFile {
            url: redact_url(&control.url),
            ..control.clone()
        };
        assert_eq!(ControlFile::parse(&text), Ok(on_disk));
        let plan = control.plan().unwrap();
        assert_eq!(plan.chunks()[0].source(), Source::Mirror(1));
        assert_eq!(plan.chunks()[1].source(), Source::Mixed);
        for (bad, reason) in [
            (
                text.replace("chunk 0 50 50 from 1", "chunk 0 50 50 from 7"),
                "no mirror line",
            ),
            (
                text.replace("chunk 0 50 50 from 1", "chunk 0 50 50"),
                "others do not",
            ),
            (
                text.replace("mirror 1 etag", "mirror 5 etag"),
                "bad mirror line",
            ),
        ] {
            let error = ControlFile::parse(&bad).unwrap_err();
            assert!(
                error.contains(reason),
                "{error:?} should mention {reason:?}"
            );
        }
    }

    #[test]
    fn save_and_load_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f.iso.part.pardl");
        assert_eq!(ControlFile::load(&path), Ok(None));
        sample().save(&path, true).unwrap();
        // Everything comes back but the password, which never reaches the disk.
        let masked = ControlFile {
            url: "https://u:***@h/f.iso".into(),
            ..sample()
        };
        assert_eq!(ControlFile::load(&path), Ok(Some(masked)));
        assert!(!fs::read_to_string(&path).unwrap().contains("u:p@"));
        assert!(!dir.path().join("f.iso.part.pardl.tmp").exists());
        ControlFile::remove(&path);
        assert!(!path.exists());
    }

    #[cfg(unix)]
    #[test]
    fn the_file_is_private_and_a_stale_or_planted_temporary_file_is_replaced_not_followed() {
        use std::os::unix::fs::{symlink, PermissionsExt};
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f.part.pardl");
        let victim = dir.path().join("victim");
        fs::write(&victim, b"v").unwrap();
        symlink(&victim, dir.path().join("f.part.pardl.tmp")).unwrap();
        sample().save(&path, true).unwrap();
        assert_eq!(fs::read(&victim).unwrap(), b"v");
        let mode = fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "{mode:o}");
        assert!(!dir.path().join("f.part.pardl.tmp").exists());
    }

    #[test]
    fn a_failed_save_leaves_no_temporary_file() {
        let dir = tempfile::tempdir().unwrap();
        // A directory (not empty) where the control file goes: the rename fails.
        let path = dir.path().join("f.part.pardl");
        fs::create_dir_all(path.join("in the way")).unwrap();
        assert!(sample().save(&path, true).is_err());
        assert!(!dir.path().join("f.part.pardl.tmp").exists());
    }

    #[cfg(unix)]
    #[test]
    fn only_a_regular_file_of_reasonable_size_is_read() {
        let dir = tempfile::tempdir().unwrap();
        let huge = dir.path().join("huge.part.pardl");
        fs::write(&huge, "#".repeat(MAX_CONTROL_BYTES as usize + 1)).unwrap();
        assert!(ControlFile::load(&huge)
            .unwrap_err()
            .contains("larger than 1024 KiB"));
        let zero = dir.path().join("zero.part.pardl");
        std::os::unix::fs::symlink("/dev/zero", &zero).unwrap();
        assert!(ControlFile::load(&zero)
            .unwrap_err()
            .contains("symbolic link"));
        let fifo = dir.path().join("fifo.part.pardl");
        let made = std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap();
        assert!(made.success());
        assert!(ControlFile::load(&fifo)
            .unwrap_err()
            .contains("not a regular file"));
        let just_right = dir.path().join("ok.part.pardl");
        let text = sample().render();
        let padded = format!(
            "{text}{}",
            "#\n".repeat((MAX_CONTROL_BYTES as usize - text.len()) / 2)
        );
        fs::write(&just_right, padded).unwrap();
        assert!(ControlFile::load(&just_right).unwrap().is_some());
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
            (good.replace("url https://u:***@h/f.iso\n", ""), "no url"),
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
            mirrors: Vec::new(),
            dropped: Vec::new(),
            sources: Vec::new(),
        };
        assert_eq!(ControlFile::parse(&control.render()), Ok(control));
    }
}
