//! Settings of the whole process, made by `main` before any thread exists: the memory allocator's
//! arenas and the size of the table of open files. Both are cheap to set then and costly to change
//! once the run's threads share them.

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

/// The most descriptors the table is grown for up front: 1,024 entries take 8 KiB.
#[cfg(target_os = "linux")]
const DESCRIPTORS_UP_FRONT: libc::rlim_t = 1024;

/// Grows the process's table of open files to the size a run needs, up to the soft limit of open
/// files and at most [`DESCRIPTORS_UP_FRONT`] entries.
///
/// A run of many small files holds a few hundred descriptors at once (the files waiting for the
/// group commit, a connection per worker). Linux starts a process with room for 64 and doubles the
/// table when it is full; while threads share the table, each growth first waits for an RCU grace
/// period (`expand_fdtable` in fs/file.c), and every thread that opens a file or a socket meanwhile
/// waits with it: milliseconds in which downloads stand still, three times per run. Grown once
/// here, while `main` is the only thread, it costs one `fcntl` and one `close`. Best effort: if
/// standard error is closed or the limit is lower, the table grows as it would have.
#[cfg(target_os = "linux")]
pub(crate) fn grow_descriptor_table() {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit only writes into the struct it is given.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } != 0 {
        return;
    }
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
    fn the_table_of_open_files_is_grown_to_what_a_run_needs() {
        let mut limit = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        assert_eq!(
            unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) },
            0
        );
        grow_descriptor_table();
        let wanted = limit.rlim_cur.min(DESCRIPTORS_UP_FRONT);
        assert!(table_size() >= wanted, "FDSize {} < {wanted}", table_size());
        // Nothing is left open: the descriptor just below the top is free again.
        let top = libc::c_int::try_from(wanted - 1).unwrap();
        assert_eq!(unsafe { libc::fcntl(top, libc::F_GETFD) }, -1);
    }
}
