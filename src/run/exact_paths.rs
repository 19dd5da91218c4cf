//! The exact paths a program chose for its links ([`Link::path`](crate::Link::path)), claimed by
//! one download at a time: names in the output directory are kept apart by the run's name
//! reservations, paths outside it by this.

use std::collections::HashSet;
use std::fs;
use std::path::{Path, PathBuf};

use parking_lot::Mutex;

use crate::error::Error;
use crate::run::links::Link;

/// The exact paths downloads are writing to now. Locked when a file starts and ends, never per byte.
#[derive(Debug, Default)]
pub(crate) struct ExactPaths(Mutex<HashSet<PathBuf>>);

/// A path claimed by one download, given back when dropped.
pub(crate) struct ExactPathClaim<'a> {
    paths: &'a ExactPaths,
    path: PathBuf,
}

impl ExactPaths {
    /// Claims `link`'s exact path, if it has one, creating its directories; fails when another
    /// download holds it.
    pub(crate) fn claim(&self, link: &Link) -> Result<Option<ExactPathClaim<'_>>, Error> {
        let Some(path) = &link.path else {
            return Ok(None);
        };
        if !self.0.lock().insert(path.clone()) {
            return Err(Error::PathInUse {
                url: link.url.clone(),
                path: path.clone(),
            });
        }
        let claim = ExactPathClaim {
            paths: self,
            path: path.clone(),
        };
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            fs::create_dir_all(parent).map_err(|e| Error::io("create directory", parent, e))?;
        }
        Ok(Some(claim))
    }
}

impl Drop for ExactPathClaim<'_> {
    fn drop(&mut self) {
        self.paths.0.lock().remove(&self.path);
    }
}

/// The last part of a path a program chose, for the display.
pub(crate) fn file_name_of(path: &Path) -> String {
    path.file_name().map_or_else(
        || path.display().to_string(),
        |name| name.to_string_lossy().into_owned(),
    )
}
