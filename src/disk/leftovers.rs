//! The control files and `.part` files earlier runs left in the output directory, and the names
//! already taken there, found with one read of the directory when a run starts, so that a new
//! download need not look for them one by one.
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
//!
//! The same read answers the skip check (is the final name taken already?) for names that were
//! free: a fingerprint of every other name is kept, and only a name whose fingerprint is there is
//! looked up. A name taken after the read is not missed: a new small file is linked under its
//! final name, which fails, and the link counts as skipped, if anything is there by then (see
//! `src/disk/part.rs`); any other file locks its `.part` name and looks again. Up to
//! [`MAX_FINGERPRINTS`] names are kept (4 MiB); a bigger directory is looked up name by name.

use std::collections::HashSet;
use std::ffi::{OsStr, OsString};
use std::fs;
use std::hash::{BuildHasher, BuildHasherDefault, DefaultHasher};
use std::path::{Path, PathBuf};

use crate::disk::control::temp_path;
use crate::disk::open::anything_at;

/// The most names of other files [`Leftovers`] keeps fingerprints of: 4 bytes each.
pub(crate) const MAX_FINGERPRINTS: usize = 1 << 20;

/// The control files (and their temporary files) and `.part` files found in one directory, and
/// the fingerprints of the other names there.
#[derive(Debug)]
pub(crate) struct Leftovers {
    dir: PathBuf,
    names: HashSet<OsString>,
    /// Sorted; `None` if the directory held more than [`MAX_FINGERPRINTS`] other names.
    taken: Option<Vec<u32>>,
}

impl Leftovers {
    /// Reads `dir` once; `None` if it cannot be read (then every file looks for itself).
    pub(crate) fn scan(dir: &Path) -> Option<Leftovers> {
        Leftovers::scan_keeping(dir, MAX_FINGERPRINTS)
    }

    fn scan_keeping(dir: &Path, max_fingerprints: usize) -> Option<Leftovers> {
        let mut names = HashSet::new();
        let mut taken = Some(Vec::new());
        for entry in fs::read_dir(dir).ok()? {
            let Ok(entry) = entry else {
                // An entry that cannot be read may be any name.
                taken = None;
                continue;
            };
            let name = entry.file_name();
            // Bytes, not a lossy string: no allocation per entry of a big directory.
            let bytes = name.as_encoded_bytes();
            if bytes.ends_with(b".part")
                || bytes.ends_with(b".part.pardl")
                || bytes.ends_with(b".part.pardl.tmp")
            {
                names.insert(name);
            } else if let Some(fingerprints) = &mut taken {
                if fingerprints.len() == max_fingerprints {
                    taken = None;
                } else {
                    fingerprints.push(fingerprint(&name));
                }
            }
        }
        if let Some(fingerprints) = &mut taken {
            fingerprints.sort_unstable();
            fingerprints.dedup();
            fingerprints.shrink_to_fit();
        }
        Some(Leftovers {
            dir: dir.to_path_buf(),
            names,
            taken,
        })
    }

    /// Whether something may lie at `path`, a final name: false only if the scanned directory held
    /// no such name when the run began; true for a path elsewhere, which must be looked up.
    pub(crate) fn final_may_exist(&self, path: &Path) -> bool {
        match (self.name_in_dir(path), &self.taken) {
            (Some(name), Some(taken)) => {
                taken.binary_search(&fingerprint(name)).is_ok() || self.names.contains(name)
            }
            _ => true,
        }
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
        match self.name_in_dir(path) {
            Some(name) => self.names.contains(name),
            None => anything_at(path),
        }
    }

    /// The name of `path` if it lies in the scanned directory (the scan answers for it), else
    /// `None`.
    fn name_in_dir<'p>(&self, path: &'p Path) -> Option<&'p OsStr> {
        // Asked several times per link: a path made as `dir.join(name)` is recognised from its
        // bytes, without taking both paths apart into components.
        let (bytes, dir) = (path.as_os_str().as_encoded_bytes(), self.dir.as_os_str());
        if let Some(name) = (!dir.is_empty())
            .then_some(bytes)
            .and_then(|bytes| bytes.strip_prefix(dir.as_encoded_bytes()))
            .and_then(|rest| rest.split_first())
            .filter(|(separator, _)| std::path::is_separator(char::from(**separator)))
            .map(|(_, name)| name)
            .filter(|name| {
                !matches!(name, [] | [b'.'] | [b'.', b'.'])
                    && !name.iter().any(|&b| std::path::is_separator(char::from(b)))
            })
        {
            // SAFETY: `name` is what follows an ASCII separator in bytes from `as_encoded_bytes`.
            return Some(unsafe { OsStr::from_encoded_bytes_unchecked(name) });
        }
        path.file_name()
            .filter(|_| path.parent() == Some(self.dir.as_path()))
    }
}

/// A name's fingerprint: the same for the same name within a run, and for two names rarely (a
/// collision only costs a lookup).
fn fingerprint(name: &OsStr) -> u32 {
    let hash = BuildHasherDefault::<DefaultHasher>::default().hash_one(name);
    (hash >> 32) as u32 ^ hash as u32
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::disk::control::ControlFile;

    #[test]
    fn a_name_in_the_directory_is_told_from_its_bytes_as_from_its_components() {
        let slow = |dir: &Path, path: &Path| {
            path.file_name()
                .filter(|_| path.parent() == Some(dir))
                .map(OsStr::to_owned)
        };
        for dir in ["/tmp/out", "out", "/", "out/", "./out", "a/b"] {
            let leftovers = Leftovers {
                dir: PathBuf::from(dir),
                names: HashSet::new(),
                taken: None,
            };
            for path in [
                "/tmp/out/f.bin",
                "/tmp/out/sub/f.bin",
                "/tmp/outer/f.bin",
                "/tmp/out/..",
                "/tmp/out/.",
                "/tmp/out/",
                "out/f.bin",
                "out//f.bin",
                "/f.bin",
                "./out/f.bin",
                "out/./f.bin",
                "a/b/c",
                "a/bc",
                "a/b/c/",
            ] {
                let path = Path::new(path);
                assert_eq!(
                    leftovers.name_in_dir(path).map(OsStr::to_owned),
                    slow(Path::new(dir), path),
                    "{dir} and {}",
                    path.display()
                );
            }
        }
    }

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

    #[test]
    fn names_taken_when_the_run_began_are_known_and_the_others_looked_up_past_the_limit() {
        let dir = tempfile::tempdir().unwrap();
        for name in ["a.bin", "b.bin", "c.bin.part"] {
            fs::write(dir.path().join(name), b"").unwrap();
        }
        fs::create_dir(dir.path().join("sub")).unwrap();
        let leftovers = Leftovers::scan(dir.path()).unwrap();
        let at = |name: &str| dir.path().join(name);
        assert_eq!(leftovers.taken.as_ref().map(Vec::len), Some(3));
        for taken in ["a.bin", "b.bin", "sub", "c.bin.part"] {
            assert!(leftovers.final_may_exist(&at(taken)), "{taken}");
        }
        // Free when the scan read the directory: not looked up, so a file made since is not seen
        // here (the link under that name fails instead, and counts as a skip).
        fs::write(at("d.bin"), b"").unwrap();
        assert!(!leftovers.final_may_exist(&at("d.bin")));
        assert!(!leftovers.final_may_exist(&at("e.bin")));
        // In a subdirectory (not scanned): to be looked up.
        assert!(leftovers.final_may_exist(&dir.path().join("sub/g.bin")));

        // More names than it keeps: every name is to be looked up.
        let crowded = Leftovers::scan_keeping(dir.path(), 2).unwrap();
        assert!(crowded.taken.is_none());
        assert!(crowded.final_may_exist(&at("e.bin")));
        assert!(crowded.part_may_exist(&at("c.bin.part")));
    }
}
