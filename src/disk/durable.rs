//! Making a finished file's data durable before it gets its final name: alone, together with the
//! files that finish at the same time, or not at all ([`SyncMode`]).
//!
//! pardl promises that a file under its final name is complete, even after a power cut. A rename
//! is atomic, but the kernel may write a file's data to the disk long after the rename, so the data
//! has to be flushed first. Flushing each file on its own (`fdatasync`) also flushes the disk's
//! write cache once per file; with thousands of small files that is most of pardl's time on a real
//! disk (a file of 16 KiB downloads in a fraction of a millisecond, its flush takes longer).
//!
//! [`GroupSync`] lets files that finish at about the same time share one flush, the way databases
//! commit the transactions waiting for their log together (*group commit*). The first file to ask
//! becomes the leader and flushes; files that ask while that flush runs wait, and when it ends the
//! first of them leads the next flush, for all of them. There is no timer and no thread of its own:
//! a file that finishes alone is flushed at once, and under load a batch is whatever finished during
//! the previous flush, so the batches grow exactly as much as the flushes are the bottleneck.
//!
//! Each file first writes its own pages and waits for them (`sync_file_range`, which flushes
//! nothing and reports any write error of that file): that work is per file anyway, and is done by
//! the file's own thread, in parallel with the others. What the batch shares is the rest. Its
//! leader makes the inodes durable and flushes the disk's cache once, with Linux's `syncfs` on the
//! file system (which also writes back other programs' unwritten data there, work the kernel would
//! do within seconds anyway; `--sync always` avoids it, at one flush per file); a leader alone
//! flushes only its own file (`fdatasync`). A failed `syncfs` makes every file of its batch, and of
//! later batches, flush itself instead. On systems without `syncfs` every file flushes itself, as
//! with `--sync always`.

use std::collections::HashMap;
use std::fmt;
use std::fs::File;
use std::io;

use parking_lot::{Condvar, Mutex};

/// When a finished file's data is flushed to the disk before the file is renamed to its final
/// name. The default, [`SyncMode::Batch`], keeps pardl's promise that after a power cut a file under
/// its final name is complete, and flushes the files that finish together at once.
///
/// ```
/// use pardl::SyncMode;
///
/// assert_eq!(SyncMode::parse("never"), Ok(SyncMode::Never));
/// assert_eq!(SyncMode::default().to_string(), "batch");
/// assert!(SyncMode::parse("sometimes").unwrap_err().contains("always, batch or never"));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum SyncMode {
    /// Each file flushes its own data (`fdatasync`) just before its rename: one flush of the disk's
    /// cache per file, and no other program's data is written with it.
    Always,
    /// Files that finish at the same time share one flush (group commit; see `src/disk/durable.rs`).
    /// The same promise as `Always`, for much less on many small files.
    #[default]
    Batch,
    /// Nothing is flushed, neither finished files nor the resume state of unfinished ones: the
    /// kernel writes them back when it sees fit, as curl and wget leave it. A crash or `kill -9` of
    /// pardl still never leaves a partial file under a final name, but a power cut or a crash of
    /// the operating system may leave a file under its final name with missing data.
    Never,
}

impl SyncMode {
    /// Reads `always`, `batch` or `never` (`--sync`).
    pub fn parse(text: &str) -> Result<SyncMode, String> {
        match text {
            "always" => Ok(SyncMode::Always),
            "batch" => Ok(SyncMode::Batch),
            "never" => Ok(SyncMode::Never),
            _ => Err(format!(
                "'{text}' is not a sync mode: expected always, batch or never"
            )),
        }
    }
}

impl fmt::Display for SyncMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SyncMode::Always => "always",
            SyncMode::Batch => "batch",
            SyncMode::Never => "never",
        })
    }
}

/// Flushes finished files according to a [`SyncMode`], sharing one flush among the files that
/// finish together in [`SyncMode::Batch`]. Shared by all the downloads of a downloader.
#[derive(Debug)]
pub(crate) struct GroupSync {
    mode: SyncMode,
    /// The batches of each file system (by device number): a flush covers one file system.
    groups: Mutex<HashMap<u64, Group>>,
    /// Signalled whenever a flush ends.
    flush_ended: Condvar,
}

/// The flushes of one file system. Flushes are numbered from 0; a file that asks while no flush
/// runs, or while flush `n - 1` runs, is covered by flush `next == n`.
#[derive(Debug, Default)]
struct Group {
    /// The number of the next flush to start.
    next: u64,
    /// How many files wait for flush `next`.
    waiting: usize,
    /// How many flushes have ended.
    ended: u64,
    /// Whether a flush is running now.
    running: bool,
    /// Whether a `syncfs` failed here: from then on every file flushes itself.
    failed: bool,
}

impl GroupSync {
    pub(crate) fn new(mode: SyncMode) -> GroupSync {
        GroupSync {
            mode,
            groups: Mutex::new(HashMap::new()),
            flush_ended: Condvar::new(),
        }
    }

    pub(crate) fn mode(&self) -> SyncMode {
        self.mode
    }

    /// Returns once the data of `file` (on the file system `device`), all written, is on the disk,
    /// or at once with [`SyncMode::Never`].
    pub(crate) fn make_durable(&self, file: &File, device: u64) -> io::Result<()> {
        match self.mode {
            SyncMode::Never => Ok(()),
            SyncMode::Always => file.sync_data(),
            SyncMode::Batch => self.in_batch(file, device),
        }
    }

    #[cfg(not(target_os = "linux"))]
    fn in_batch(&self, file: &File, _device: u64) -> io::Result<()> {
        file.sync_data()
    }

    #[cfg(target_os = "linux")]
    fn in_batch(&self, file: &File, device: u64) -> io::Result<()> {
        // The file's own pages are written by its own thread, in parallel with the others'; what
        // the batch shares is the rest: the inodes and the flush of the disk's cache.
        write_and_wait(file)?;
        let mut groups = self.groups.lock();
        let group = groups.entry(device).or_default();
        if group.failed {
            drop(groups);
            return file.sync_data();
        }
        let ticket = group.next;
        group.waiting += 1;
        loop {
            let group = groups.entry(device).or_default();
            if group.ended > ticket {
                // A flush that started after this file was complete has ended.
                let failed = group.failed;
                drop(groups);
                return if failed { file.sync_data() } else { Ok(()) };
            }
            if !group.running {
                // Lead flush number `ticket` for everyone waiting for it.
                let batch = std::mem::take(&mut group.waiting);
                group.running = true;
                group.next += 1;
                drop(groups);
                // Logged before the flush: tests/faults.rs kills pardl right after this line.
                log::debug!("flush {ticket} of finished files: {batch} waiting");
                let flushed = if batch == 1 {
                    file.sync_data()
                } else {
                    syncfs(file)
                };
                groups = self.groups.lock();
                let group = groups.entry(device).or_default();
                group.running = false;
                group.ended += 1;
                if let Err(error) = &flushed {
                    if batch > 1 {
                        log::warn!(
                            "flushing {batch} files together failed ({error}); each file is flushed on its own from now on"
                        );
                        group.failed = true;
                    }
                }
                self.flush_ended.notify_all();
                drop(groups);
                return match flushed {
                    Err(_) if batch > 1 => file.sync_data(),
                    flushed => flushed,
                };
            }
            self.flush_ended.wait(&mut groups);
        }
    }
}

/// `syncfs(2)`: writes back the file system `file` is on and flushes its disk's cache.
#[cfg(target_os = "linux")]
fn syncfs(file: &File) -> io::Result<()> {
    use std::os::fd::AsRawFd;
    // SAFETY: the descriptor is open for as long as `file` is borrowed; syncfs only reads it.
    if unsafe { libc::syncfs(file.as_raw_fd()) } == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// Writes `file`'s data to the disk and waits for it, without flushing the disk's cache, and
/// returns any error the kernel met writing it since the file was opened.
#[cfg(target_os = "linux")]
fn write_and_wait(file: &File) -> io::Result<()> {
    use std::os::fd::AsRawFd;
    let flags = libc::SYNC_FILE_RANGE_WAIT_BEFORE
        | libc::SYNC_FILE_RANGE_WRITE
        | libc::SYNC_FILE_RANGE_WAIT_AFTER;
    // SAFETY: as in `syncfs`; offset 0 and length 0 mean the whole file.
    if unsafe { libc::sync_file_range(file.as_raw_fd(), 0, 0, flags) } == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// Asks the kernel to start writing `len` bytes of `file` from `offset` to the disk now, without
/// waiting: a big download's final flush then waits only for its last bytes. Best effort: errors
/// are left for the final flush to report.
#[cfg(target_os = "linux")]
pub(crate) fn start_writeback(file: &File, offset: u64, len: u64) {
    use std::os::fd::AsRawFd;
    let (Ok(offset), Ok(len)) = (i64::try_from(offset), i64::try_from(len)) else {
        return;
    };
    // SAFETY: as in `syncfs`.
    unsafe {
        libc::sync_file_range(file.as_raw_fd(), offset, len, libc::SYNC_FILE_RANGE_WRITE);
    }
}

#[cfg(not(target_os = "linux"))]
pub(crate) fn start_writeback(_file: &File, _offset: u64, _len: u64) {}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::sync::Arc;

    fn device_of(file: &File) -> u64 {
        #[cfg(unix)]
        {
            std::os::unix::fs::MetadataExt::dev(&file.metadata().unwrap())
        }
        #[cfg(not(unix))]
        {
            let _ = file;
            0
        }
    }

    #[test]
    fn modes_read_and_print_the_same_words() {
        for mode in [SyncMode::Always, SyncMode::Batch, SyncMode::Never] {
            assert_eq!(SyncMode::parse(&mode.to_string()), Ok(mode));
        }
        assert_eq!(SyncMode::default(), SyncMode::Batch);
        assert_eq!(
            SyncMode::parse("Always").unwrap_err(),
            "'Always' is not a sync mode: expected always, batch or never"
        );
    }

    #[test]
    fn many_threads_finishing_together_share_flushes_and_all_return() {
        let dir = tempfile::tempdir().unwrap();
        let sync = Arc::new(GroupSync::new(SyncMode::Batch));
        let threads: Vec<_> = (0..16)
            .map(|i| {
                let sync = Arc::clone(&sync);
                let path = dir.path().join(format!("f{i}"));
                std::thread::spawn(move || {
                    for round in 0..20 {
                        let mut file = File::create(&path).unwrap();
                        file.write_all(&[round as u8; 4096]).unwrap();
                        let device = device_of(&file);
                        sync.make_durable(&file, device).unwrap();
                    }
                })
            })
            .collect();
        for thread in threads {
            thread.join().unwrap();
        }
        let groups = sync.groups.lock();
        let group = groups.values().next().unwrap();
        // Every flush ended, nobody is left waiting, and none failed.
        assert_eq!(
            (group.ended, group.waiting, group.running, group.failed),
            (group.next, 0, false, false)
        );
        assert!(
            group.ended >= 1 && group.ended <= 16 * 20,
            "{} flushes",
            group.ended
        );
    }

    #[test]
    fn never_and_always_do_not_batch() {
        let dir = tempfile::tempdir().unwrap();
        let file = File::create(dir.path().join("f")).unwrap();
        for mode in [SyncMode::Never, SyncMode::Always] {
            let sync = GroupSync::new(mode);
            sync.make_durable(&file, device_of(&file)).unwrap();
            assert!(sync.groups.lock().is_empty());
        }
    }
}
