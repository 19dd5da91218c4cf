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
//! A new file starts without a name ([`PartFile::create_unnamed`], Linux's `O_TMPFILE`): it is made
//! in the output directory with no name, and linked under its final name once its data is
//! flushed. For the many files that finish within a second that is one change to the directory
//! instead of two (a create, then a rename), and no lock, no checks of the name and no `unlink`s:
//! no other process can see the file, and if pardl dies it vanishes. A file bigger than
//! [`UNNAMED_MAX`] gets its `.part` name, locked first, as soon as the server's first answer gives
//! its size ([`PartFile::give_name`]), so that it is seen in the directory as it grows; a smaller
//! one that is still running when its resume state is first saved gets it then. Before that there
//! is nothing to resume anyway: resume state is saved once a download is a second old.
//!
//! The file is not sized up front. It grows as bytes land, and is given its full size
//! ([`PartFile::allocate`]) only once the server's first answer has shown that it delivers (see
//! `src/file/child_pool.rs`): an answer that claims 10 GB and sends 4 bytes leaves a 4-byte file,
//! not a 10 GB one.

use std::fs::{self, File, TryLockError};
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Once;

use crate::disk::checksum::{hash_reader, Checksum, ChecksumAlgorithm};
use crate::disk::control::ControlFile;
use crate::disk::durable::{start_writeback, SyncMode};
use crate::disk::open::{
    create_new, create_unnamed, link_unnamed, open_existing, same_file, same_file_as,
};
use crate::error::Error;

/// How often [`PartFile::lock`] opens the name again when the file under it changes between the
/// open and the lock (another process finishing or removing it just then).
const LOCK_ATTEMPTS: usize = 3;

/// The biggest file that stays without a name until it is finished (unless it is still running at
/// its first checkpoint): one that arrives in moments on any usable link, and whose loss to a crash
/// costs little. A bigger one is named as soon as its size is known.
const UNNAMED_MAX: u64 = 1 << 20;

/// Whether the warning that a file system cannot lock files was given.
static LOCKS_UNAVAILABLE: Once = Once::new();

/// Numbers the `.part` files in the order they were opened ([`PartFile::open_order`]).
static OPENED: AtomicU64 = AtomicU64::new(0);

/// The next number of [`OPENED`], taken once a file is open and before anything is written to it.
fn next_open_order() -> u64 {
    OPENED.fetch_add(1, Ordering::Relaxed)
}

/// An open, locked `.part` file and the final name it will get.
#[derive(Debug)]
pub(crate) struct PartFile {
    file: File,
    part_path: PathBuf,
    final_path: PathBuf,
    /// Whether this task created the file (it was not there): then no earlier run left a
    /// download to resume, and no control file of its own.
    created: bool,
    /// Whether the file has a name: its `.part` name, or none yet
    /// ([`create_unnamed`](PartFile::create_unnamed)).
    named: AtomicBool,
    /// Whether giving it a name failed: it is not tried (nor warned about) again.
    unnameable: AtomicBool,
    /// Whether it started without a name: then its final name was free when its task began, and
    /// it gets that name only if it is free still, never replacing what another program put there.
    born_unnamed: bool,
    /// Whether a control file may lie beside the file: unless the task saw there was none
    /// ([`PartFile::mark_no_control`]), or until a checkpoint saves one. Only then is there one to
    /// remove when the download ends: an `unlink` of nothing takes the directory's lock too.
    control_may_exist: AtomicBool,
    /// When it was opened, among the `.part` files of this process ([`PartFile::open_order`]).
    open_order: u64,
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
                    named: AtomicBool::new(true),
                    unnameable: AtomicBool::new(false),
                    born_unnamed: false,
                    control_may_exist: AtomicBool::new(true),
                    open_order: next_open_order(),
                });
            }
        }
        Err(Error::Locked { path: part_path })
    }

    /// A new, empty file for `final_path` without a name, in its directory: it gets the final name
    /// when it is finished, or its `.part` name first if it is bigger than [`UNNAMED_MAX`] or still
    /// running when its resume state is first saved ([`give_name`](PartFile::give_name)). No lock
    /// is needed, as no other process can open it. `None` where files without a name cannot be made (see
    /// [`create_unnamed`]): then [`lock`](PartFile::lock) is the way.
    pub(crate) fn create_unnamed(final_path: &Path) -> Option<PartFile> {
        let file = create_unnamed(final_path.parent()?)?;
        Some(PartFile {
            file,
            part_path: part_path_for(final_path),
            final_path: final_path.to_path_buf(),
            created: true,
            named: AtomicBool::new(false),
            unnameable: AtomicBool::new(false),
            born_unnamed: true,
            control_may_exist: AtomicBool::new(false),
            open_order: next_open_order(),
        })
    }

    /// Gives a file without a name its `.part` name, locked first so that it is never seen
    /// unlocked: from now on it can be resumed, and is seen in the directory. Fails with
    /// [`Error::Locked`] if a file appeared under that name meanwhile (another pardl started the
    /// same file). Callers serialize their calls (the checkpoints of a download do).
    pub(crate) fn give_name(&self) -> Result<(), Error> {
        if self.is_named() {
            return Ok(());
        }
        // Nobody else can hold a lock on a file they cannot open; on a file system without locks
        // the file is worked on as in `lock`.
        if let Err(TryLockError::Error(e)) = self.file.try_lock() {
            log::debug!("cannot lock {}: {e}", self.part_path.display());
        }
        match link_unnamed(&self.file, &self.part_path) {
            Ok(()) => {
                self.named.store(true, Ordering::Release);
                Ok(())
            }
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Err(Error::Locked {
                path: self.part_path.clone(),
            }),
            Err(e) => Err(Error::io("create", &self.part_path, e)),
        }
    }

    /// Gives the file its `.part` name ([`give_name`](PartFile::give_name)) if it is bigger than
    /// [`UNNAMED_MAX`], or of a size not known (`None`): once the server's first answer tells.
    pub(crate) fn name_if_big(&self, size: Option<u64>) -> Result<(), Error> {
        if size.is_none_or(|size| size > UNNAMED_MAX) {
            self.give_name()?;
        }
        Ok(())
    }

    /// Whether the file has its `.part` name, giving it the name if it has none yet
    /// ([`give_name`](PartFile::give_name)): for the first save of its resume state. If it cannot
    /// be named, that is said once, and the download goes on without a name and without resume.
    pub(crate) fn name_for_resume(&self) -> bool {
        if self.is_named() {
            return true;
        }
        if self.unnameable.load(Ordering::Acquire) {
            return false;
        }
        match self.give_name() {
            Ok(()) => true,
            Err(error) => {
                log::warn!("{error}; the download goes on, but cannot be resumed if interrupted");
                self.unnameable.store(true, Ordering::Release);
                false
            }
        }
    }

    /// Whether the file has a name (its `.part` name) rather than none yet: only a named file can
    /// be resumed.
    pub(crate) fn is_named(&self) -> bool {
        self.named.load(Ordering::Acquire)
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
            .map_err(|e| Error::io("inspect", self.path(), e))
    }

    /// Empties the file, for a download that starts from scratch.
    pub(crate) fn clear(&self) -> Result<(), Error> {
        self.file
            .set_len(0)
            .map_err(|e| Error::io("empty", self.path(), e))
    }

    /// Gives the file its full `size` (sparse where nothing was written yet), once the server has
    /// shown that it delivers what it announced.
    pub(crate) fn allocate(&self, size: u64) -> Result<(), Error> {
        self.file
            .set_len(size)
            .map_err(|e| Error::io("allocate", self.path(), e))
    }

    /// Flushes the data written so far to disk (before a control file may claim it).
    pub(crate) fn sync_data(&self) -> Result<(), Error> {
        self.file
            .sync_data()
            .map_err(|e| Error::io("sync", self.path(), e))
    }

    /// Writes all of `buf` at `offset`. Safe to call from many threads at once for disjoint ranges.
    pub(crate) fn write_all_at(&self, buf: &[u8], offset: u64) -> Result<(), Error> {
        write_all_at(&self.file, buf, offset).map_err(|e| Error::io("write", self.path(), e))
    }

    /// Sets the file's length (for a stream whose length was not known up front).
    pub(crate) fn set_len(&self, len: u64) -> Result<(), Error> {
        self.file
            .set_len(len)
            .map_err(|e| Error::io("resize", self.path(), e))
    }

    /// Where the file is: its `.part` name, or for a file without a name yet the final name it
    /// is for (what messages about it show).
    pub(crate) fn path(&self) -> &Path {
        if self.is_named() {
            &self.part_path
        } else {
            &self.final_path
        }
    }

    /// The `algorithm` digest of the file's bytes, read through the open handle (not by opening the
    /// name again, which another program could have changed).
    pub(crate) fn checksum(&self, algorithm: ChecksumAlgorithm) -> Result<Checksum, Error> {
        let reader = PositionedReader {
            file: &self.file,
            offset: 0,
        };
        hash_reader(reader, algorithm).map_err(|e| Error::io("read for checksum", self.path(), e))
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
            .map_err(|e| Error::io("set the time of", self.path(), e))
    }

    /// Renames the file to its final name (replacing any file there) once it holds exactly `size`
    /// bytes and its name still names it; then deletes the control file beside it, if there may be
    /// one, and only then releases the lock. A file without a name is linked under the final name
    /// instead, which must then be free.
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
            .map_err(|e| Error::io("inspect", self.path(), e))?;
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

    /// Orders the `.part` files of this process by when they were opened: a smaller number was
    /// opened earlier. The number is taken after the open and before the first write, so every
    /// write to a file with a bigger number comes after this file's open (what a `syncfs` through
    /// this file reports on: see [`crate::disk::durable::syncfs_reports_errors`]).
    pub(crate) fn open_order(&self) -> u64 {
        self.open_order
    }

    /// The rest of [`finish`](PartFile::finish), once the data is flushed: renames the file if its
    /// name still names it (`opened` is its metadata from [`check_size`](PartFile::check_size)),
    /// deletes the control file beside it if there may be one, releases the lock.
    pub(crate) fn rename_flushed(self, opened: &fs::Metadata) -> Result<PathBuf, Error> {
        if !self.is_named() {
            return match link_unnamed(&self.file, &self.final_path) {
                Ok(()) => Ok(self.final_path),
                // The name was free when the task began (or it would have been skipped): another
                // program made a file there meanwhile. Its file stays; this one vanishes.
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                    Err(name_taken(&self.final_path))
                }
                Err(e) => Err(Error::io("name", &self.final_path, e)),
            };
        }
        // Checked after the flush, which may have waited for a batch: as close to the rename as
        // can be.
        if !same_file_as(&self.part_path, opened)
            .map_err(|e| Error::io("inspect", self.path(), e))?
        {
            return Err(self.refuse(
                "another program moved or replaced it while pardl was writing it".to_string(),
            ));
        }
        if self.born_unnamed {
            // Named later (big, or slow): linked, as if it had stayed without a name, then the
            // `.part` name goes. A crash between the two leaves both names on the complete file.
            match fs::hard_link(&self.part_path, &self.final_path) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                    let final_path = self.final_path.clone();
                    self.remove_control_file();
                    self.discard();
                    return Err(name_taken(&final_path));
                }
                Err(e) => return Err(Error::io("name", &self.final_path, e)),
            }
            if let Err(e) = fs::remove_file(&self.part_path) {
                log::warn!("could not remove {}: {e}", self.part_path.display());
            }
        } else {
            fs::rename(&self.part_path, &self.final_path)
                .map_err(|e| Error::io("rename", &self.part_path, e))?;
        }
        // The directory is not synced after the rename: a power loss right after it can at worst undo
        // the rename (leaving the complete `.part` file), never put a wrong file under the final
        // name, and a directory sync per file doubled the cost of a links file of small files. A
        // crash before the next line leaves a complete file and a stale control file, never a
        // control file without its data.
        self.remove_control_file();
        drop(self.file);
        Ok(self.final_path)
    }

    /// Deletes the control file beside the file, if there may be one.
    fn remove_control_file(&self) {
        if self.control_may_exist.load(Ordering::Acquire) {
            ControlFile::remove(&ControlFile::path_for(&self.final_path));
        }
    }

    /// The error for a `.part` file that must not become the final file.
    fn refuse(&self, why: String) -> Error {
        Error::io(
            "finish",
            self.path(),
            io::Error::new(io::ErrorKind::InvalidData, why),
        )
    }

    /// Closes the file and releases its lock, leaving it on disk for a later resume (a file without
    /// a name vanishes).
    pub(crate) fn keep(self) {
        drop(self.file);
    }

    /// Gives up: deletes the `.part` file (if its name still names it) and releases the lock. A file
    /// without a name needs only to be closed.
    pub(crate) fn discard(self) {
        if self.is_named() && same_file(&self.part_path, &self.file).unwrap_or(false) {
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

/// The error for a finished file whose final name another program took while it was being
/// downloaded (the name was free when its task began): the other file is left as it is, and the
/// link counts as skipped ([`is_name_taken`]).
fn name_taken(path: &Path) -> Error {
    let why = "another program created a file under this name while pardl was downloading it; \
               that file is left as it is";
    Error::io(
        "name",
        path,
        io::Error::new(io::ErrorKind::AlreadyExists, why),
    )
}

/// Whether `error` is the one of [`name_taken`].
pub(crate) fn is_name_taken(error: &Error) -> bool {
    matches!(error, Error::Io { action: "name", source, .. } if source.kind() == io::ErrorKind::AlreadyExists)
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

    #[cfg(target_os = "linux")]
    #[test]
    fn a_file_without_a_name_is_linked_whole_under_a_free_final_name_only() {
        let dir = tempfile::tempdir().unwrap();
        let names = || -> Vec<String> {
            let mut names: Vec<_> = fs::read_dir(dir.path())
                .unwrap()
                .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect();
            names.sort();
            names
        };
        let final_path = dir.path().join("f.bin");
        let part = PartFile::create_unnamed(&final_path).expect("O_TMPFILE on the test's disk");
        assert!(!part.is_named());
        part.write_all_at(b"0123456789", 0).unwrap();
        assert!(names().is_empty(), "nothing has a name before the finish");
        assert_eq!(part.path(), final_path);
        assert_eq!(part.finish(10, SyncMode::Always).unwrap(), final_path);
        assert_eq!(fs::read(&final_path).unwrap(), b"0123456789");
        assert_eq!(names(), ["f.bin"]);

        // A file that appeared under the name meanwhile is never replaced.
        let part = PartFile::create_unnamed(&final_path).unwrap();
        part.write_all_at(b"new", 0).unwrap();
        let error = part.finish(3, SyncMode::Never).unwrap_err();
        assert!(
            error.to_string().contains("another program created a file"),
            "{error}"
        );
        assert_eq!(fs::read(&final_path).unwrap(), b"0123456789");
        assert_eq!(names(), ["f.bin"]);

        // Given its `.part` name, it is locked and can be kept for a resume; discarded unnamed, it
        // leaves nothing.
        let other = dir.path().join("g.bin");
        let part = PartFile::create_unnamed(&other).unwrap();
        part.write_all_at(b"kept", 0).unwrap();
        part.give_name().unwrap();
        assert!(part.name_for_resume(), "naming twice is naming once");
        assert_eq!(part.path(), dir.path().join("g.bin.part"));
        assert!(matches!(PartFile::lock(&other), Err(Error::Locked { .. })));
        part.keep();
        assert_eq!(fs::read(dir.path().join("g.bin.part")).unwrap(), b"kept");
        PartFile::create_unnamed(&dir.path().join("h.bin"))
            .unwrap()
            .discard();
        assert_eq!(names(), ["f.bin", "g.bin.part"]);

        // A name already taken is not taken over: the file goes on without one.
        fs::write(dir.path().join("i.bin.part"), b"theirs").unwrap();
        let part = PartFile::create_unnamed(&dir.path().join("i.bin")).unwrap();
        let error = part.give_name().unwrap_err();
        assert!(
            matches!(&error, Error::Locked { path } if path.ends_with("i.bin.part")),
            "{error:?}"
        );
        assert!(!part.name_for_resume());
        assert!(!part.is_named());
        part.discard();
        assert_eq!(fs::read(dir.path().join("i.bin.part")).unwrap(), b"theirs");
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
