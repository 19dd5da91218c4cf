//! Opening files in the output directory as if it were hostile: another user, another program or
//! another pardl may have put anything under the names pardl uses.
//!
//! * A symbolic link is never followed (`O_NOFOLLOW`): pardl writes only inside the output
//!   directory, and a planted `NAME.part -> ~/.bashrc` must not make it write there.
//! * Only a regular file is used. A FIFO would block a read forever and a device can be endless
//!   (`/dev/zero`), so files are opened with `O_NONBLOCK` (even the opening cannot hang) and then
//!   checked through the open handle (`fstat`), which leaves no window between check and use.
//! * A file written in place must have no other hard link: writing it would change another file.
//! * A new file is created with `O_EXCL`: never an existing file, never through a link.
//!
//! [`same_file`] then tells whether a path still names an open file: after a lock was taken on it,
//! before it is renamed or deleted. On platforms other than Unix the link checks are made on the
//! path just before opening (best effort).

use std::fs::{self, File, OpenOptions};
use std::io;
use std::path::Path;

/// Opens the file at `path` for reading (and writing, if `write`), if there is one: `Ok(None)` if
/// nothing is there. Anything but a regular file is refused with an error saying why, and so is a
/// file to write that has other hard links.
pub(crate) fn open_existing(path: &Path, write: bool) -> io::Result<Option<File>> {
    refuse_link(path)?;
    let mut options = OpenOptions::new();
    options.read(true).write(write);
    guard(&mut options);
    let file = match options.open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(explain(path, e)),
    };
    let metadata = file.metadata()?;
    if !metadata.is_file() {
        return Err(refusal(NOT_REGULAR.to_string()));
    }
    if write {
        let links = hard_links(&metadata);
        if links > 1 {
            return Err(refusal(format!(
                "it has {links} hard links, and writing it would change another file"
            )));
        }
    }
    Ok(Some(file))
}

/// Creates a new, empty file at `path` for reading and writing: never an existing file, never
/// through a link (an existing name gives [`io::ErrorKind::AlreadyExists`]). `private` makes it
/// readable by its owner only.
pub(crate) fn create_new(path: &Path, private: bool) -> io::Result<File> {
    refuse_link(path)?;
    let mut options = OpenOptions::new();
    options.read(true).write(true).create_new(true);
    guard(&mut options);
    if private {
        owner_only(&mut options);
    }
    options.open(path).map_err(|e| explain(path, e))
}

/// Creates a new file without a name in the directory `dir` (`O_TMPFILE`): no other process can
/// open it, and it vanishes with its data if pardl dies before [`link_unnamed`] names it. `None`
/// where that cannot be done (not Linux, no `/proc` to name it through, a file system without
/// unnamed files, or any other refusal): the caller then creates a named file, whose own errors
/// say what is wrong.
#[cfg(target_os = "linux")]
pub(crate) fn create_unnamed(dir: &Path) -> Option<File> {
    use std::os::unix::fs::OpenOptionsExt;
    use std::sync::OnceLock;
    // `linkat` of `/proc/self/fd/N` names the file; without `/proc` it would stay nameless.
    static CAN_NAME: OnceLock<bool> = OnceLock::new();
    if !*CAN_NAME.get_or_init(|| Path::new("/proc/self/fd").is_dir()) {
        return None;
    }
    // `dir` is the empty string for a bare relative name.
    let dir = if dir.as_os_str().is_empty() {
        Path::new(".")
    } else {
        dir
    };
    let mut options = OpenOptions::new();
    options.read(true).write(true).custom_flags(libc::O_TMPFILE);
    options.open(dir).ok()
}

#[cfg(not(target_os = "linux"))]
pub(crate) fn create_unnamed(_dir: &Path) -> Option<File> {
    None
}

/// Gives the unnamed `file` ([`create_unnamed`]) the name `path`, which must be free: a file, a
/// link or anything else there gives [`io::ErrorKind::AlreadyExists`], never a replacement. Like
/// a rename, it makes the file appear whole under its name at once.
///
/// The file is named through its descriptor (`AT_EMPTY_PATH`), which Linux allows since 6.10 to
/// the process that opened it (before, only with `CAP_DAC_READ_SEARCH`); where that is refused,
/// through `/proc/self/fd/N`, whose lookup costs a quarter of the call, and that way from then on.
#[cfg(target_os = "linux")]
pub(crate) fn link_unnamed(file: &File, path: &Path) -> io::Result<()> {
    use std::sync::atomic::{AtomicBool, Ordering};
    static BY_DESCRIPTOR: AtomicBool = AtomicBool::new(true);
    if BY_DESCRIPTOR.load(Ordering::Relaxed) {
        match linkat(file, None, path) {
            Err(e)
                if matches!(
                    e.raw_os_error(),
                    Some(libc::ENOENT | libc::EPERM | libc::EINVAL)
                ) => {}
            done => return done,
        }
    }
    let through_proc = std::path::PathBuf::from(format!("/proc/self/fd/{}", fd_of(file)));
    linkat(file, Some(&through_proc), path)?;
    // The descriptor was refused, not the name: use `/proc` from now on.
    BY_DESCRIPTOR.store(false, Ordering::Relaxed);
    Ok(())
}

/// Links the open `file` at `path`: by its descriptor (`AT_EMPTY_PATH`), or, given `through`, by
/// that path to it, followed (`/proc/self/fd/N`).
#[cfg(target_os = "linux")]
fn linkat(file: &File, through: Option<&Path>, path: &Path) -> io::Result<()> {
    use std::ffi::CString;
    use std::os::unix::ffi::OsStrExt;
    let to = CString::new(path.as_os_str().as_bytes())?;
    let (from_dir, from, flags) = match through {
        Some(through) => (
            libc::AT_FDCWD,
            CString::new(through.as_os_str().as_bytes())?,
            libc::AT_SYMLINK_FOLLOW,
        ),
        None => (fd_of(file), CString::default(), libc::AT_EMPTY_PATH),
    };
    // SAFETY: both are NUL-terminated strings that outlive the call, and the descriptor is open
    // for as long as `file` is borrowed.
    let linked =
        unsafe { libc::linkat(from_dir, from.as_ptr(), libc::AT_FDCWD, to.as_ptr(), flags) };
    if linked == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

#[cfg(target_os = "linux")]
fn fd_of(file: &File) -> libc::c_int {
    std::os::unix::io::AsRawFd::as_raw_fd(file)
}

#[cfg(not(target_os = "linux"))]
pub(crate) fn link_unnamed(_file: &File, _path: &Path) -> io::Result<()> {
    Err(io::Error::from(io::ErrorKind::Unsupported))
}

/// Whether anything (even a dangling link) is at `path`; an error other than "not found" counts as
/// something, so that callers take the careful way.
pub(crate) fn anything_at(path: &Path) -> bool {
    !matches!(fs::symlink_metadata(path), Err(e) if e.kind() == io::ErrorKind::NotFound)
}

/// Whether `path` names `file` now (the same device and inode): not if it was renamed, deleted or
/// replaced since it was opened.
pub(crate) fn same_file(path: &Path, file: &File) -> io::Result<bool> {
    same_file_as(path, &file.metadata()?)
}

/// Whether `path` names the open file whose metadata is `opened` (the device and inode of an open
/// file never change, so metadata read earlier through its handle will do).
pub(crate) fn same_file_as(path: &Path, opened: &fs::Metadata) -> io::Result<bool> {
    let named = match fs::symlink_metadata(path) {
        Ok(metadata) => metadata,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(false),
        Err(e) => return Err(e),
    };
    Ok(identity(opened) == identity(&named))
}

/// The device (file system) a file is on, for flushing the files of one file system together; 0
/// where the platform does not tell.
pub(crate) fn device(metadata: &fs::Metadata) -> u64 {
    identity(metadata).map_or(0, |(device, _)| device)
}

const SYMLINK: &str =
    "it is a symbolic link, and pardl never follows links in the output directory";
const NOT_REGULAR: &str = "not a regular file";

/// The error for a file pardl refuses to use: [`io::ErrorKind::InvalidInput`], so no caller takes
/// it for a missing or existing file.
fn refusal(why: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, why)
}

/// Puts the operating system's error for an open into words: `O_NOFOLLOW` answers a link with
/// `ELOOP` ("too many levels of symbolic links"), and opening a directory for writing with `EISDIR`.
fn explain(path: &Path, error: io::Error) -> io::Error {
    match fs::symlink_metadata(path) {
        Ok(metadata) if metadata.file_type().is_symlink() => refusal(SYMLINK.to_string()),
        Ok(metadata) if !metadata.is_file() => refusal(NOT_REGULAR.to_string()),
        _ => error,
    }
}

#[cfg(unix)]
fn guard(options: &mut OpenOptions) {
    use std::os::unix::fs::OpenOptionsExt;
    options.custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK);
}

#[cfg(not(unix))]
fn guard(_options: &mut OpenOptions) {}

/// On Unix `O_NOFOLLOW` refuses links at the open itself, without a window; elsewhere the path is
/// looked at first.
#[cfg(unix)]
fn refuse_link(_path: &Path) -> io::Result<()> {
    Ok(())
}

#[cfg(not(unix))]
fn refuse_link(path: &Path) -> io::Result<()> {
    match fs::symlink_metadata(path) {
        Ok(metadata) if metadata.file_type().is_symlink() => Err(refusal(SYMLINK.to_string())),
        _ => Ok(()),
    }
}

#[cfg(unix)]
fn owner_only(options: &mut OpenOptions) {
    use std::os::unix::fs::OpenOptionsExt;
    options.mode(0o600);
}

#[cfg(not(unix))]
fn owner_only(_options: &mut OpenOptions) {}

#[cfg(unix)]
fn hard_links(metadata: &fs::Metadata) -> u64 {
    std::os::unix::fs::MetadataExt::nlink(metadata)
}

#[cfg(not(unix))]
fn hard_links(_metadata: &fs::Metadata) -> u64 {
    1
}

#[cfg(unix)]
fn identity(metadata: &fs::Metadata) -> Option<(u64, u64)> {
    use std::os::unix::fs::MetadataExt;
    Some((metadata.dev(), metadata.ino()))
}

/// Without a stable file identity in the standard library, any regular file counts as the same.
#[cfg(not(unix))]
fn identity(metadata: &fs::Metadata) -> Option<(u64, u64)> {
    metadata.is_file().then_some((0, 0))
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::os::unix::fs::{symlink, PermissionsExt};

    #[test]
    fn links_fifos_directories_and_shared_files_are_refused_with_a_reason() {
        let dir = tempfile::tempdir().unwrap();
        let victim = dir.path().join("victim");
        fs::write(&victim, b"v").unwrap();
        symlink(&victim, dir.path().join("link")).unwrap();
        symlink(dir.path().join("nowhere"), dir.path().join("dangling")).unwrap();
        fs::hard_link(&victim, dir.path().join("twin")).unwrap();
        fs::create_dir(dir.path().join("dir")).unwrap();
        let fifo = std::process::Command::new("mkfifo")
            .arg(dir.path().join("fifo"))
            .status()
            .unwrap();
        assert!(fifo.success());
        for (name, write, reason) in [
            ("link", false, "symbolic link"),
            ("link", true, "symbolic link"),
            ("dangling", true, "symbolic link"),
            ("twin", true, "2 hard links"),
            ("dir", false, NOT_REGULAR),
            ("dir", true, NOT_REGULAR),
            ("fifo", false, NOT_REGULAR),
            ("fifo", true, NOT_REGULAR),
        ] {
            let error = open_existing(&dir.path().join(name), write).unwrap_err();
            assert!(error.to_string().contains(reason), "{name}: {error}");
            assert_eq!(error.kind(), io::ErrorKind::InvalidInput);
        }
        for name in ["link", "dangling", "victim"] {
            let error = create_new(&dir.path().join(name), false).unwrap_err();
            assert_ne!(error.kind(), io::ErrorKind::NotFound, "{name}");
        }
        assert!(!dir.path().join("nowhere").exists());
        assert_eq!(fs::read(&victim).unwrap(), b"v");
        // Reading a file with another link is harmless.
        assert!(open_existing(&dir.path().join("twin"), false)
            .unwrap()
            .is_some());
        assert!(open_existing(&dir.path().join("none"), true)
            .unwrap()
            .is_none());
    }

    #[test]
    fn a_new_private_file_is_its_owners_and_same_file_follows_renames() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("new");
        let file = create_new(&path, true).unwrap();
        let mode = fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        assert!(same_file(&path, &file).unwrap());
        fs::rename(&path, dir.path().join("moved")).unwrap();
        assert!(!same_file(&path, &file).unwrap());
        fs::write(&path, b"another").unwrap();
        assert!(!same_file(&path, &file).unwrap());
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn an_unnamed_file_is_linked_by_its_descriptor_or_through_proc_never_over_a_name() {
        let dir = tempfile::tempdir().unwrap();
        let link = |file: &File, through_proc: bool, path: &Path| {
            let proc_path = std::path::PathBuf::from(format!("/proc/self/fd/{}", fd_of(file)));
            linkat(file, through_proc.then_some(proc_path.as_path()), path)
        };
        for (name, through_proc) in [("by-descriptor", false), ("through-proc", true)] {
            let file = create_unnamed(dir.path()).unwrap();
            std::io::Write::write_all(&mut &file, name.as_bytes()).unwrap();
            let path = dir.path().join(name);
            link(&file, through_proc, &path).unwrap();
            assert_eq!(fs::read(&path).unwrap(), name.as_bytes());
            // Another file under a name that is taken: refused, nothing replaced.
            let other = create_unnamed(dir.path()).unwrap();
            std::io::Write::write_all(&mut &other, b"other").unwrap();
            let error = link(&other, through_proc, &path).unwrap_err();
            assert_eq!(error.kind(), io::ErrorKind::AlreadyExists, "{name}");
            assert_eq!(fs::read(&path).unwrap(), name.as_bytes());
        }
    }
}
