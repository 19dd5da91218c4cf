//! The control files and `.part` files earlier runs left in the output directory, found with one
//! read of the directory when a run starts, so that a new download need not look for its own.
//!
//! A download whose `.part` file it created itself (nothing was there) has nothing to resume, but a
//! control file may still lie beside it: one whose `.part` was deleted, or the temporary file of a
//! save that failed on a full disk. Such leftovers are read (and refused) or removed like any other
//! control file. And a new file may start without a name (see `src/disk/part.rs`) only when no
//! `.part` file of an earlier run is there to take over. Looking for them costs lookups per file,
//! and in a big directory a lookup of a name that is not there searches the directory's index each
//! time: a tenth of pardl's time on thousands of small files. So a run reads its output directory
//! once, keeps the names of the control and `.part` files there (usually none), and answers from
//! that. A control file that appears later
//! belongs to a `.part` file another process created and holds; this run then finds that `.part`
//! already there, and looks, as before.

use std::collections::HashSet;
use std::ffi::OsString;
use std::fs;
use std::path::{Path, PathBuf};

use crate::disk::control::temp_path;
use crate::disk::open::anything_at;

/// The control files (and their temporary files) and `.part` files found in one directory.
#[derive(Debug)]
pub(crate) struct Leftovers {
    dir: PathBuf,
    names: HashSet<OsString>,
}

impl Leftovers {
    /// Reads `dir` once; `None` if it cannot be read (then every file looks for itself).
    pub(crate) fn scan(dir: &Path) -> Option<Leftovers> {
        let entries = fs::read_dir(dir).ok()?;
        let names = entries
            .filter_map(|entry| entry.ok().map(|entry| entry.file_name()))
            .filter(|name| {
                // Bytes, not a lossy string: no allocation per entry of a big directory.
                let name = name.as_encoded_bytes();
                name.ends_with(b".part")
                    || name.ends_with(b".part.pardl")
                    || name.ends_with(b".part.pardl.tmp")
            })
            .collect();
        Some(Leftovers {
            dir: dir.to_path_buf(),
            names,
        })
    }

    /// Whether something may lie at the control file `path` or its temporary file: answered from
    /// the scan for the scanned directory, looked up for any other.
    pub(crate) fn may_exist(&self, path: &Path) -> bool {
        self.may_hold(path) || self.may_hold(&temp_path(path))
    }

    /// Whether a `.part` file may lie at `path`: answered from the scan for the scanned
    /// directory, looked up for any other.
    pub(crate) fn part_may_exist(&self, path: &Path) -> bool {
        self.may_hold(path)
    }

    /// Whether something may lie at `path`: one of the names the scan kept, for the scanned
    /// directory; looked up, for any other.
    fn may_hold(&self, path: &Path) -> bool {
        match (path.parent(), path.file_name()) {
            (Some(parent), Some(name)) if parent == self.dir => self.names.contains(name),
            _ => anything_at(path),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::disk::control::ControlFile;

    #[test]
    fn control_files_in_the_directory_are_known_without_a_lookup() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("a.bin.part.pardl"), b"").unwrap();
        fs::write(dir.path().join("b.bin.part.pardl.tmp"), b"").unwrap();
        fs::write(dir.path().join("c.bin"), b"").unwrap();
        fs::write(dir.path().join("c.bin.part"), b"").unwrap();
        let leftovers = Leftovers::scan(dir.path()).unwrap();
        assert_eq!(leftovers.names.len(), 3);
        assert!(leftovers.part_may_exist(&dir.path().join("c.bin.part")));
        assert!(!leftovers.part_may_exist(&dir.path().join("a.bin.part")));
        let control = |name: &str| ControlFile::path_for(&dir.path().join(name));
        assert!(leftovers.may_exist(&control("a.bin")));
        assert!(leftovers.may_exist(&control("b.bin")));
        assert!(!leftovers.may_exist(&control("c.bin")));
        // Made after the scan: not known (see the module's comment for why that is safe).
        fs::write(dir.path().join("d.bin.part.pardl"), b"").unwrap();
        assert!(!leftovers.may_exist(&control("d.bin")));
        // Another directory is looked at.
        let other = tempfile::tempdir().unwrap();
        fs::write(other.path().join("e.bin.part.pardl"), b"").unwrap();
        assert!(leftovers.may_exist(&ControlFile::path_for(&other.path().join("e.bin"))));
        assert!(!leftovers.may_exist(&ControlFile::path_for(&other.path().join("f.bin"))));
        fs::write(other.path().join("g.bin.part"), b"").unwrap();
        assert!(leftovers.part_may_exist(&other.path().join("g.bin.part")));
        assert!(!leftovers.part_may_exist(&other.path().join("h.bin.part")));
        assert!(Leftovers::scan(&dir.path().join("missing")).is_none());
    }
}
