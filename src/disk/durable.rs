//! Making a finished file's data durable before it gets its final name: alone, together with the
//! files that finish at the same time, or not at all ([`SyncMode`]).
//!
//! pardl promises that a file under its final name is complete, even after a power cut. A rename
//! is atomic, but the kernel may write a file's data to the disk long after the rename, so the data
//! has to be flushed first. Flushing each file on its own (`fdatasync`) also flushes the disk's
//! write cache once per file; with thousands of small files that is most of pardl's time on a real
//! disk (a file of 16 KiB downloads in a fraction of a millisecond, its flush takes longer).
//!
//! [`Committer`](crate::disk::commit::Committer) lets the files that finish at about the same time
//! share one flush, the way databases commit the transactions waiting for their log together
//! (*group commit*); this module holds the mode that chooses it ([`SyncMode`]) and the system calls
//! it is made of: `syncfs` (write back a whole file system and flush its disk's cache once),
//! `sync_file_range` (write back one file's pages, or start to, without a flush) and, through the
//! standard library, `fdatasync` (one file, flushed on its own). A failed write must not go
//! unnoticed either: since Linux 5.8 `syncfs` itself reports it ([`syncfs_reports_errors`]);
//! before, each file of a batch is asked for its own errors after the shared flush.

use std::fmt;
use std::fs::File;
use std::io;

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
    /// Files that finish at the same time share one flush (group commit; see `src/disk/commit.rs`).
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
    /// Whether anything is flushed at all: finished files, resume state, early writeback.
    pub(crate) fn flushes(self) -> bool {
        self != SyncMode::Never
    }

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

/// `syncfs(2)`: writes back the file system `file` is on and flushes its disk's cache.
#[cfg(target_os = "linux")]
pub(crate) fn syncfs(file: &File) -> io::Result<()> {
    use std::os::fd::AsRawFd;
    // SAFETY: the descriptor is open for as long as `file` is borrowed; syncfs only reads it.
    if unsafe { libc::syncfs(file.as_raw_fd()) } == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// Whether a `syncfs` through a file also reports the write errors of every other file on the file
/// system since that file was opened: Linux does from 5.8 on. A batch then needs no check of each
/// file after its shared flush, as long as the flush goes through the file of the batch that was
/// opened first ([`PartFile::open_order`](crate::disk::part::PartFile::open_order)): no other
/// file of the batch was written before that one was opened. Older kernels report nothing, and
/// each file is checked on its own ([`write_and_wait`]).
#[cfg(target_os = "linux")]
pub(crate) fn syncfs_reports_errors() -> bool {
    static REPORTS: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *REPORTS.get_or_init(|| {
        // SAFETY: `uname` only writes into the zeroed struct it is given.
        let mut names: libc::utsname = unsafe { std::mem::zeroed() };
        if unsafe { libc::uname(&mut names) } != 0 {
            return false;
        }
        // SAFETY: `uname` NUL-terminates `release`.
        let release = unsafe { std::ffi::CStr::from_ptr(names.release.as_ptr()) };
        release
            .to_str()
            .ok()
            .and_then(kernel_version)
            .is_some_and(|version| version >= (5, 8))
    })
}

/// Elsewhere each file of a batch is flushed on its own anyway.
#[cfg(not(target_os = "linux"))]
pub(crate) fn syncfs_reports_errors() -> bool {
    false
}

/// The major and minor numbers of a Linux release such as `6.1.0-18-amd64`.
#[cfg_attr(not(target_os = "linux"), allow(dead_code))]
fn kernel_version(release: &str) -> Option<(u32, u32)> {
    let mut numbers = release.split(|c: char| !c.is_ascii_digit());
    let major = numbers.next()?.parse().ok()?;
    let minor = numbers.next()?.parse().ok()?;
    Some((major, minor))
}

/// Writes `file`'s data to the disk and waits for it, without flushing the disk's cache, and
/// returns any error the kernel met writing it since the file was opened.
#[cfg(target_os = "linux")]
pub(crate) fn write_and_wait(file: &File) -> io::Result<()> {
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

/// Without `syncfs`, the file flushes itself.
#[cfg(not(target_os = "linux"))]
pub(crate) fn syncfs(file: &File) -> io::Result<()> {
    file.sync_data()
}

/// Without `sync_file_range`, the file flushes itself.
#[cfg(not(target_os = "linux"))]
pub(crate) fn write_and_wait(file: &File) -> io::Result<()> {
    file.sync_data()
}

#[cfg(test)]
mod tests {
    use super::*;

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
    fn kernel_releases_read_as_major_and_minor() {
        assert_eq!(kernel_version("6.18.44-fc-v1045"), Some((6, 18)));
        assert_eq!(kernel_version("5.8.0"), Some((5, 8)));
        assert_eq!(kernel_version("4.19.0-27-amd64"), Some((4, 19)));
        assert_eq!(kernel_version("5.10"), Some((5, 10)));
        assert!(kernel_version("4.19.0").unwrap() < (5, 8));
        assert!(kernel_version("5.10.0").unwrap() >= (5, 8));
        assert_eq!(kernel_version("6"), None);
        assert_eq!(kernel_version("custom"), None);
    }
}
