//! The `.part` file: where a download's bytes go until every one of them is there.
//!
//! A download writes into `NAME.part`, sized up front when the size is known, each chunk at its own
//! offset with positioned writes (`pwrite` on Unix, `seek_write` on Windows): threads never share a
//! file cursor, so they need no lock, and there are no per-chunk files to combine afterwards (the
//! Python article writes one file per chunk and then copies them all into the final file, reading and
//! writing every byte a second time). Only when the download is complete is the file synced and renamed
//! to `NAME`, which is atomic: a file under its final name is always whole.
//!
//! One process at a time works on a `.part` file. [`PartFile::lock`] opens it (never following a
//! link, never truncating; see [`crate::disk::open`]) and takes an exclusive advisory lock on it
//! (`File::try_lock`: `flock` on Unix), held until the file is renamed or given up; a second pardl
//! that finds it locked leaves it alone ([`Error::Locked`]). The name is checked against the open
//! handle (same device and inode) after the lock is taken and again before the rename, so a file
//! that was deleted or replaced meanwhile is never renamed in its place, and the rename happens
//! while the lock is still held.
//!
//! The file is not sized up front. It grows as bytes land, and is given its full size
//! ([`PartFile::allocate`]) only once the server's first answer has shown that it delivers (see
//! `src/file/child_pool.rs`): an answer that claims 10 GB and sends 4 bytes leaves a 4-byte file,
//! not a 10 GB one.

use std::fs::{self, File, TryLockError};
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Once;

use crate::disk::checksum::{hash_reader, Checksum, ChecksumAlgorithm};
use crate::disk::control::ControlFile;
use crate::disk::durable::{start_writeback, SyncMode};
use crate::disk::open::{create_new, open_existing, same_file, same_file_as};
use crate::error::Error;

/// How often [`PartFile::lock`] opens the name again when the file under it changes between the
/// open and the lock (another process finishing or removing it just then).
const LOCK_ATTEMPTS: usize = 3;

/// Whether the warning that a file system cannot lock files was given.
static LOCKS_UNAVAILABLE: Once = Once::new();

/// An open, locked `.part` file and the final name it will get.
#[derive(Debug)]
pub(crate) struct PartFile {
    file: File,
    part_path: PathBuf,
    final_path: PathBuf,
    /// Whether this task created the file (it was not there): then no earlier run left a
    /// download to resume, and no control file of its own.
    created: bool,
    /// Whether a control file may lie beside the file: unless the task saw there was none
    /// ([`PartFile::mark_no_control`]), or until a checkpoint saves one. Only then is there one to
    /// remove when the download ends: an `unlink` of nothing takes the directory's lock too.
    control_may_exist: AtomicBool,
}

impl PartFile {
    /// Opens `final_path` + `.part` for this process alone, creating it (empty) if there is none.
    /// Nothing is truncated: a file left by an earlier run keeps its bytes until the caller decides
    /// ([`clear`](PartFile::clear) or resume). Fails with [`Error::Locked`] if another process holds
    /// the file, and refuses a link, a non-regular file or a file with other hard links.
    pub(crate) fn lock(final_path: &Path) -> Result<PartFile, Error> {
        let part_path = part_path_for(final_path);
        for _ in 0..LOCK_ATTEMPTS {
            // Created first: most `.part` files are new, and a failed create costs no more than
            // a failed open.
            let (file, created) = match create_new(&part_path, false) {
                Ok(file) => (file, true),
                // Something is there (a refusal says what, if it is no regular file): opening it
                // tells, with the open's words.
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::AlreadyExists | io::ErrorKind::InvalidInput
                    ) =>
                {
                    match open_existing(&part_path, true) {
                        Ok(Some(file)) => (file, false),
                        // Removed just now (another process finished or gave up): create it again.
                        Ok(None) => continue,
                        Err(e) => return Err(Error::io("open", &part_path, e)),
                    }
                }
                Err(e) => return Err(Error::io("create", &part_path, e)),
            };
            match file.try_lock() {
                Ok(()) => {}
                Err(TryLockError::WouldBlock) => return Err(Error::Locked { path: part_path }),
                // A file system without locks (some network and FUSE ones): work as before locks,
                // and say so once, not once per file.
                Err(TryLockError::Error(e)) => LOCKS_UNAVAILABLE.call_once(|| {
                    log::warn!(
                        "cannot lock {}: {e}; another pardl working in this directory would not be noticed",
                        part_path.display()
                    )
                }),
            }
            // The process that held the lock may have renamed or deleted the file between our open
            // and our lock; this handle is then an orphan, and the name is opened again.
            if same_file(&part_path, &file).map_err(|e| Error::io("inspect", &part_path, e))? {
                return Ok(PartFile {
                    file,
                    part_path,
                    final_path: final_path.to_path_buf(),
                    created,
                    control_may_exist: AtomicBool::new(true),
                });
            }
        }
        Err(Error::Locked { path: part_path })
    }

    /// Whether this task created the file: nothing of an earlier run is in it or beside it.
    pub(crate) fn is_new(&self) -> bool {
        self.created
    }

    /// Notes that no control file (nor its temporary file) lies beside the file: finishing then
    /// removes none, unless a checkpoint saves one meanwhile.
    pub(crate) fn mark_no_control(&self) {
        self.control_may_exist.store(false, Ordering::Release);
    }

    /// Notes that a control file is being saved beside the file, so that it is removed at the end.
    pub(crate) fn mark_control_saved(&self) {
        self.control_may_exist.store(true, Ordering::Release);
    }

    /// Starts writing `len` bytes from `offset` back to the disk without waiting (see
    /// [`start_writeback`]).
    pub(crate) fn start_writeback(&self, offset: u64, len: u64) {
        start_writeback(&self.file, offset, len);
    }

    /// The file's length now.
    pub(crate) fn len(&self) -> Result<u64, Error> {
        self.file
            .metadata()
            .map(|m| m.len())
            .map_err(|e| Error::io("inspect", &self.part_path, e))
    }

    /// Empties the file, for a download that starts from scratch.
    pub(crate) fn clear(&self) -> Result<(), Error> {
        self.file
            .set_len(0)
            .map_err(|e| Error::io("empty", &self.part_path, e))
    }

    /// Gives the file its full `size` (sparse where nothing was written yet), once the server has
    /// shown that it delivers what it announced.
    pub(crate) fn allocate(&self, size: u64) -> Result<(), Error> {
        self.file
            .set_len(size)
            .map_err(|e| Error::io("allocate", &self.part_path, e))
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

    pub(crate) fn part_path(&self) -> &Path {
        &self.part_path
    }

    /// The `algorithm` digest of the file's bytes, read through the open handle (not by opening the
    /// name again, which another program could have changed).
    pub(crate) fn checksum(&self, algorithm: ChecksumAlgorithm) -> Result<Checksum, Error> {
        let reader = PositionedReader {
            file: &self.file,
            offset: 0,
        };
        hash_reader(reader, algorithm)
            .map_err(|e| Error::io("read for checksum", &self.part_path, e))
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

    /// Renames the file to its final name (replacing any file there) once it holds exactly `size`
    /// bytes and its name still names it; then deletes the control file beside it, if there may be
    /// one, and only then releases the lock.
    ///
    /// The data is flushed first unless `sync` is [`SyncMode::Never`], so that after a power loss
    /// the final name never points at a file whose blocks were not written yet. (A run flushes its
    /// files in batches instead: [`crate::disk::commit::Committer`].)
    pub(crate) fn finish(self, size: u64, sync: SyncMode) -> Result<PathBuf, Error> {
        let metadata = self.check_size(size)?;
        if sync.flushes() {
            // fdatasync: the data and the size, which is all a reader needs; the timestamps need
            // not be durable, and skipping them makes the flush cheaper.
            self.sync_data()?;
        }
        self.rename_flushed(&metadata)
    }

    /// Fails unless the file holds exactly `size` bytes: the first check before the rename. Its
    /// metadata, read through the handle, also says which file (and file system) it is.
    pub(crate) fn check_size(&self, size: u64) -> Result<fs::Metadata, Error> {
        let metadata = self
            .file
            .metadata()
            .map_err(|e| Error::io("inspect", &self.part_path, e))?;
        let len = metadata.len();
        if len != size {
            return Err(self.refuse(format!("it has {len} bytes, not the {size} planned")));
        }
        Ok(metadata)
    }

    /// The open file, for flushing it (or its whole file system).
    pub(crate) fn handle(&self) -> &File {
        &self.file
    }

    /// The rest of [`finish`](PartFile::finish), once the data is flushed: renames the file if its
    /// name still names it (`opened` is its metadata from [`check_size`](PartFile::check_size)),
    /// deletes the control file beside it if there may be one, releases the lock.
    pub(crate) fn rename_flushed(self, opened: &fs::Metadata) -> Result<PathBuf, Error> {
        // Checked after the flush, which may have waited for a batch: as close to the rename as
        // can be.
        if !same_file_as(&self.part_path, opened)
            .map_err(|e| Error::io("inspect", &self.part_path, e))?
        {
            return Err(self.refuse(
                "another program moved or replaced it while pardl was writing it".to_string(),
            ));
        }
        fs::rename(&self.part_path, &self.final_path)
            .map_err(|e| Error::io("rename", &self.part_path, e))?;
        // The directory is not synced after the rename: a power loss right after it can at worst undo
        // the rename (leaving the complete `.part` file), never put a wrong file under the final
        // name, and a directory sync per file doubled the cost of a links file of small files. A
        // crash before the next line leaves a complete file and a stale control file, never a
        // control file without its data.
        if self.control_may_exist.load(Ordering::Acquire) {
            ControlFile::remove(&ControlFile::path_for(&self.final_path));
        }
        drop(self.file);
        Ok(self.final_path)
    }

    /// The error for a `.part` file that must not become the final file.
    fn refuse(&self, why: String) -> Error {
        Error::io(
            "finish",
            &self.part_path,
            io::Error::new(io::ErrorKind::InvalidData, why),
        )
    }

    /// Closes the file and releases its lock, leaving it on disk for a later resume.
    pub(crate) fn keep(self) {
        drop(self.file);
    }

    /// Gives up: deletes the `.part` file (if its name still names it) and releases the lock.
    pub(crate) fn discard(self) {
        if same_file(&self.part_path, &self.file).unwrap_or(false) {
            if let Err(e) = fs::remove_file(&self.part_path) {
                log::warn!("could not remove {}: {e}", self.part_path.display());
            }
        }
        drop(self.file);
    }
}

/// `NAME.part` beside `NAME`.
pub(crate) fn part_path_for(final_path: &Path) -> PathBuf {
    let mut name = final_path.as_os_str().to_os_string();
    name.push(".part");
    PathBuf::from(name)
}

/// Reads a file from `offset` on with positioned reads, leaving the handle's cursor alone.
struct PositionedReader<'a> {
    file: &'a File,
    offset: u64,
}

impl Read for PositionedReader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = read_at(self.file, buf, self.offset)?;
        self.offset += n as u64;
        Ok(n)
    }
}

#[cfg(unix)]
fn read_at(file: &File, buf: &mut [u8], offset: u64) -> io::Result<usize> {
    std::os::unix::fs::FileExt::read_at(file, buf, offset)
}

#[cfg(windows)]
fn read_at(file: &File, buf: &mut [u8], offset: u64) -> io::Result<usize> {
    std::os::windows::fs::FileExt::seek_read(file, buf, offset)
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
        let part = PartFile::lock(&final_path).unwrap();
        part.write_all_at(b"56789", 5).unwrap();
        part.write_all_at(b"01234", 0).unwrap();
        assert!(
            !final_path.exists(),
            "nothing under the final name before finish"
        );
        assert_eq!(part.finish(10, SyncMode::Always).unwrap(), final_path);
        assert_eq!(fs::read(&final_path).unwrap(), b"0123456789");
        assert!(!dir.path().join("f.bin.part").exists());
    }

    #[test]
    fn discard_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let final_path = dir.path().join("g");
        let part = PartFile::lock(&final_path).unwrap();
        part.write_all_at(b"x", 0).unwrap();
        part.discard();
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 0);
    }

    #[test]
    fn create_names_the_path_on_failure() {
        let dir = tempfile::tempdir().unwrap();
        let error = PartFile::lock(&dir.path().join("missing/dir/f")).unwrap_err();
        assert!(error.to_string().contains("missing/dir/f.part"), "{error}");
    }

    #[test]
    fn a_locked_file_is_left_alone_and_a_released_one_is_taken_without_truncating() {
        let dir = tempfile::tempdir().unwrap();
        let final_path = dir.path().join("f");
        let first = PartFile::lock(&final_path).unwrap();
        first.write_all_at(b"kept", 0).unwrap();
        let error = PartFile::lock(&final_path).unwrap_err();
        assert!(
            matches!(&error, Error::Locked { path } if path.ends_with("f.part")),
            "{error:?}"
        );
        assert_eq!(error.kind(), "locked");
        first.keep();
        let second = PartFile::lock(&final_path).unwrap();
        assert_eq!(second.len().unwrap(), 4);
        assert_eq!(
            second.checksum(ChecksumAlgorithm::Sha256).unwrap().hex,
            crate::disk::checksum::to_hex(&{
                use sha2::Digest;
                sha2::Sha256::digest(b"kept")
            })
        );
    }

    #[test]
    fn finish_refuses_a_file_of_another_size_or_under_another_name() {
        let dir = tempfile::tempdir().unwrap();
        let final_path = dir.path().join("f");
        let part = PartFile::lock(&final_path).unwrap();
        part.write_all_at(b"abc", 0).unwrap();
        let error = part.finish(4, SyncMode::Always).unwrap_err();
        assert!(
            error.to_string().contains("3 bytes, not the 4 planned"),
            "{error}"
        );
        assert!(!final_path.exists());

        let part = PartFile::lock(&final_path).unwrap();
        fs::rename(dir.path().join("f.part"), dir.path().join("elsewhere")).unwrap();
        fs::write(dir.path().join("f.part"), b"xyz").unwrap();
        let error = part.finish(3, SyncMode::Always).unwrap_err();
        assert!(error.to_string().contains("moved or replaced"), "{error}");
        assert!(!final_path.exists());
    }

    #[test]
    fn finishing_removes_the_control_file_and_its_temporary_file() {
        let dir = tempfile::tempdir().unwrap();
        let final_path = dir.path().join("f");
        let part = PartFile::lock(&final_path).unwrap();
        part.allocate(2).unwrap();
        fs::write(dir.path().join("f.part.pardl"), b"state").unwrap();
        fs::write(dir.path().join("f.part.pardl.tmp"), b"").unwrap();
        part.finish(2, SyncMode::Always).unwrap();
        let names: Vec<_> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, ["f"]);
    }
}
