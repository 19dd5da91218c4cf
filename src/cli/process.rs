//! Settings of the whole process, made by `main` before any thread exists: the memory allocator's
//! arenas, the limit of open files and the size of their table. They are cheap to set then and
//! costly to change once the run's threads share them.

/// glibc gives each thread that allocates a malloc arena of its own (up to 8 per core), and each
/// arena keeps freed memory for reuse. With `-j 32` file threads that is about 14 MiB of a
/// million-link run's 61 MiB peak (docs/benchmarks.md), for no gain: the download path reuses one
/// buffer per chunk and does not allocate per byte, so threads hardly contend for malloc. Two arenas
/// keep it small. A `MALLOC_ARENA_MAX` set by the user wins.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
pub(crate) fn limit_malloc_arenas() {
    if std::env::var_os("MALLOC_ARENA_MAX").is_none() {
        // SAFETY: mallopt only changes an allocator setting; it is called before any other thread
        // exists, and a failure (return 0) only leaves the default in place.
        unsafe {
            libc::mallopt(libc::M_ARENA_MAX, 2);
        }
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
pub(crate) fn limit_malloc_arenas() {}

/// The soft limit of open files the command asks for: a quarter of it is the longest commit queue
/// (1,024 files, `src/disk/commit.rs`).
#[cfg(target_os = "linux")]
const OPEN_FILES_WANTED: libc::rlim_t = 4096;

/// Raises the soft limit of open files to [`OPEN_FILES_WANTED`], or to the hard limit if that is
/// lower; never lowers it. Many systems start processes with a soft limit of 1,024 under a hard
/// limit many times higher, leaving the choice to the program: with a higher one the run's group
/// commit can let more finished files wait and flush them together (a quarter of the limit, each
/// waiting file holding a descriptor), which on many small files costs less CPU per file. pardl
/// starts no other programs, so nothing inherits the higher limit. Best effort.
#[cfg(target_os = "linux")]
pub(crate) fn raise_open_files_limit() {
    let Some(mut limit) = open_files_limits() else {
        return;
    };
    let wanted = OPEN_FILES_WANTED.min(limit.rlim_max);
    if limit.rlim_cur < wanted {
        limit.rlim_cur = wanted;
        // SAFETY: setrlimit only reads the struct; a soft limit at or under the hard one is
        // allowed to any process, and a failure leaves the old limit in place.
        unsafe {
            libc::setrlimit(libc::RLIMIT_NOFILE, &limit);
        }
    }
}

#[cfg(not(target_os = "linux"))]
pub(crate) fn raise_open_files_limit() {}

/// The soft and hard limits of open files of this process.
#[cfg(target_os = "linux")]
fn open_files_limits() -> Option<libc::rlimit> {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit only writes into the struct it is given.
    (unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } == 0).then_some(limit)
}

/// The most descriptors the table is grown for up front: 2,048 entries take 16 KiB, room for the
/// longest commit queue (1,024 files) and the run's connections and open files.
#[cfg(target_os = "linux")]
const DESCRIPTORS_UP_FRONT: libc::rlim_t = 2048;

/// Grows the process's table of open files to the size a run needs, up to the soft limit of open
/// files and at most [`DESCRIPTORS_UP_FRONT`] entries.
///
/// A run of many small files holds up to a thousand descriptors at once (the files waiting for
/// the group commit, a connection per worker). Linux starts a process with room for 64 and doubles
/// the table when it is full; while threads share the table, each growth first waits for an RCU
/// grace period (`expand_fdtable` in fs/file.c), and every thread that opens a file or a socket
/// meanwhile waits with it: milliseconds in which downloads stand still, at each growth. Grown once
/// here, while `main` is the only thread, it costs one `fcntl` and one `close`. Best effort: if
/// standard error is closed or the limit is lower, the table grows as it would have.
#[cfg(target_os = "linux")]
pub(crate) fn grow_descriptor_table() {
    let Some(limit) = open_files_limits() else {
        return;
    };
    let Some(highest) = (limit.rlim_cur.min(DESCRIPTORS_UP_FRONT).checked_sub(1))
        .and_then(|highest| libc::c_int::try_from(highest).ok())
    else {
        return;
    };
    // SAFETY: F_DUPFD_CLOEXEC makes a new descriptor (the lowest free one from `highest` on) for
    // the open standard error, which is closed again at once; no other descriptor is touched.
    unsafe {
        let copy = libc::fcntl(libc::STDERR_FILENO, libc::F_DUPFD_CLOEXEC, highest);
        if copy >= 0 {
            libc::close(copy);
        }
    }
}

#[cfg(not(target_os = "linux"))]
pub(crate) fn grow_descriptor_table() {}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;

    /// The size of this process's table of open files, as the kernel reports it.
    fn table_size() -> u64 {
        let status = std::fs::read_to_string("/proc/self/status").unwrap();
        let line = status.lines().find(|l| l.starts_with("FDSize:")).unwrap();
        line["FDSize:".len()..].trim().parse().unwrap()
    }

    #[test]
    fn the_limit_of_open_files_is_raised_within_the_hard_limit_and_never_lowered() {
        let before = open_files_limits().unwrap();
        raise_open_files_limit();
        let after = open_files_limits().unwrap();
        assert_eq!(after.rlim_max, before.rlim_max);
        assert_eq!(
            after.rlim_cur,
            before.rlim_cur.max(OPEN_FILES_WANTED.min(before.rlim_max))
        );
    }

    #[test]
    fn the_table_of_open_files_is_grown_to_what_a_run_needs() {
        let limit = open_files_limits().unwrap();
        grow_descriptor_table();
        let wanted = limit.rlim_cur.min(DESCRIPTORS_UP_FRONT);
        assert!(table_size() >= wanted, "FDSize {} < {wanted}", table_size());
        // Nothing is left open: the descriptor just below the top is free again.
        let top = libc::c_int::try_from(wanted - 1).unwrap();
        assert_eq!(unsafe { libc::fcntl(top, libc::F_GETFD) }, -1);
    }
}
