//! The `.part` file: where a download's bytes go until every one of them is there.
//!
//! A download writes into `NAME.part`, sized up front when the size is known, each chunk at its own
//! offset with positioned writes (`pwrite` on Unix, `seek_write` on Windows): threads never share a
//! file cursor, so they need no lock, and there are no per-chunk files to combine afterwards (the
//! Python article writes one file per chunk and then copies them all into the final file, reading and
//! writing every byte a second time). Only when the download is complete is the file synced and renamed
//! to `NAME`, which is atomic: a file under its final name is always whole.

use std::fs::{self, File, OpenOptions};
use std::path::{Path, PathBuf};

use crate::error::Error;

/// An open `.part` file and the final name it will get.
#[derive(Debug)]
pub(crate) struct PartFile {
    file: File,
    part_path: PathBuf,
    final_path: PathBuf,
}

impl PartFile {
    /// Creates (or truncates) `final_path` + `.part`, and sizes it to `size` when known so chunks can be
    /// written anywhere in it.
    pub(crate) fn create(final_path: &Path, size: Option<u64>) -> Result<PartFile, Error> {
        let part_path = part_path_for(final_path);
        let file = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .open(&part_path)
            .map_err(|e| Error::io("create", &part_path, e))?;
        if let Some(size) = size {
            file.set_len(size)
                .map_err(|e| Error::io("allocate", &part_path, e))?;
        }
        Ok(PartFile {
            file,
            part_path,
            final_path: final_path.to_path_buf(),
        })
    }

    /// Opens the `.part` file an interrupted download left, if it exists with exactly `size` bytes
    /// (anything else cannot be what the control file describes).
    pub(crate) fn reopen(final_path: &Path, size: u64) -> Result<Option<PartFile>, Error> {
        let part_path = part_path_for(final_path);
        let file = match OpenOptions::new().write(true).open(&part_path) {
            Ok(file) => file,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(Error::io("open", &part_path, e)),
        };
        let len = file
            .metadata()
            .map_err(|e| Error::io("inspect", &part_path, e))?
            .len();
        Ok((len == size).then(|| PartFile {
            file,
            part_path,
            final_path: final_path.to_path_buf(),
        }))
    }

    /// Flushes the data written so far to disk (before a control file may claim it).
    pub(crate) fn sync_data(&self) -> Result<(), Error> {
        self.file
            .sync_data()
            .map_err(|e| Error::io("sync", &self.part_path, e))
    }

    /// Writes all of `buf` at `offset`. Safe to call from many threads at once for disjoint ranges.
    pub(crate) fn write_all_at(&self, buf: &[u8], offset: u64) -> Result<(), Error> {
        write_all_at(&self.file, buf, offset).map_err(|e| Error::io("write", &self.part_path, e))
    }

    /// Sets the file's length (for a stream whose length was not known up front).
    pub(crate) fn set_len(&self, len: u64) -> Result<(), Error> {
        self.file
            .set_len(len)
            .map_err(|e| Error::io("resize", &self.part_path, e))
    }

    /// The path of the `.part` file.
    pub(crate) fn part_path(&self) -> &Path {
        &self.part_path
    }

    /// The name the file gets when it is finished.
    pub(crate) fn final_path(&self) -> &Path {
        &self.final_path
    }

    /// Sets the file's modification time (`--remote-time`), once its last byte is written: it
    /// reaches its final name with that time already.
    pub(crate) fn set_modified(&self, time: std::time::SystemTime) -> Result<(), Error> {
        self.file
            .set_modified(time)
            .map_err(|e| Error::io("set the time of", &self.part_path, e))
    }

    /// Syncs the data to disk and renames the file to its final name (replacing any file there).
    ///
    /// The sync comes first so that after a power loss the final name never points at a file whose
    /// blocks were not written yet.
    pub(crate) fn finish(self) -> Result<PathBuf, Error> {
        // fdatasync: the data and the size, which is all a reader needs; the timestamps need not be
        // durable, and skipping them makes the one sync per file cheaper.
        self.file
            .sync_data()
            .map_err(|e| Error::io("sync", &self.part_path, e))?;
        drop(self.file);
        fs::rename(&self.part_path, &self.final_path)
            .map_err(|e| Error::io("rename", &self.part_path, e))?;
        // The directory is not synced after the rename: a power loss right after it can at worst undo
        // the rename (leaving the complete `.part` file), never put a wrong file under the final
        // name, and a directory sync per file doubled the cost of a links file of small files.
        Ok(self.final_path)
    }

    /// Closes the file, leaving it on disk for a later resume.
    pub(crate) fn keep(self) {
        drop(self.file);
    }

    /// Gives up: closes and deletes the `.part` file.
    pub(crate) fn discard(self) {
        drop(self.file);
        if let Err(e) = fs::remove_file(&self.part_path) {
            log::warn!("could not remove {}: {e}", self.part_path.display());
        }
    }
}

/// `NAME.part` beside `NAME`.
pub(crate) fn part_path_for(final_path: &Path) -> PathBuf {
    let mut name = final_path.as_os_str().to_os_string();
    name.push(".part");
    PathBuf::from(name)
}

#[cfg(unix)]
fn write_all_at(file: &File, buf: &[u8], offset: u64) -> std::io::Result<()> {
    std::os::unix::fs::FileExt::write_all_at(file, buf, offset)
}

#[cfg(windows)]
fn write_all_at(file: &File, mut buf: &[u8], mut offset: u64) -> std::io::Result<()> {
    use std::os::windows::fs::FileExt;
    while !buf.is_empty() {
        match file.seek_write(buf, offset) {
            Ok(0) => return Err(std::io::ErrorKind::WriteZero.into()),
            Ok(n) => {
                buf = &buf[n..];
                offset += n as u64;
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_land_at_their_offsets_and_finish_renames() {
        let dir = tempfile::tempdir().unwrap();
        let final_path = dir.path().join("f.bin");
        let part = PartFile::create(&final_path, Some(10)).unwrap();
        part.write_all_at(b"56789", 5).unwrap();
        part.write_all_at(b"01234", 0).unwrap();
        assert!(
            !final_path.exists(),
            "nothing under the final name before finish"
        );
        assert_eq!(part.finish().unwrap(), final_path);
        assert_eq!(fs::read(&final_path).unwrap(), b"0123456789");
        assert!(!dir.path().join("f.bin.part").exists());
    }

    #[test]
    fn discard_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let final_path = dir.path().join("g");
        let part = PartFile::create(&final_path, None).unwrap();
        part.write_all_at(b"x", 0).unwrap();
        part.discard();
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 0);
    }

    #[test]
    fn create_names_the_path_on_failure() {
        let dir = tempfile::tempdir().unwrap();
        let error = PartFile::create(&dir.path().join("missing/dir/f"), None).unwrap_err();
        assert!(error.to_string().contains("missing/dir/f.part"), "{error}");
    }
}
