//! The last steps of one file, once every byte is in its `.part` file: the checksum it must have,
//! its time (`--remote-time`), and its commit: flushed and renamed here, or handed to the run's
//! commit thread (`src/disk/commit.rs`).

use std::path::Path;

use crate::disk::checksum::Checksum;
use crate::disk::part::PartFile;
use crate::error::Error;
use crate::file::FileTask;
use crate::http::parse_http_date;

impl FileTask<'_> {
    /// Hands the complete `part` of `size` bytes to the run's commit thread (`--sync batch`: flushed
    /// with the files that finish meanwhile, then renamed; [`FileTask::committed`] gets the ticket),
    /// or flushes and renames it here.
    pub(super) fn finish_part(&self, part: PartFile, size: u64) -> Result<(), Error> {
        match &self.context.committer {
            Some(committer) => self.committed.set(Some(committer.submit(part, size)?)),
            None => drop(part.finish(size, self.context.config.sync)?),
        }
        Ok(())
    }

    /// The checksum the file at `final_path` must have: the link's own, else the one the
    /// `--checksum-file` lists for its final name.
    pub(super) fn expected_checksum(&self, final_path: &Path) -> Result<Option<Checksum>, Error> {
        if let Some(checksum) = &self.link.checksum {
            return Ok(Some(checksum.clone()));
        }
        let Some(sums) = &self.context.config.checksums else {
            return Ok(None);
        };
        let name = final_path.file_name().map(|n| n.to_string_lossy());
        match name.as_deref().and_then(|name| sums.get(name)) {
            Some(Ok(checksum)) => Ok(Some(checksum.clone())),
            Some(Err(_)) => Err(Error::AmbiguousChecksum {
                url: self.link.url.clone(),
                path: final_path.to_path_buf(),
            }),
            None => {
                log::warn!(
                    "{}: no checksum file lists this name; not verified",
                    final_path.display()
                );
                Ok(None)
            }
        }
    }

    /// The last steps before the final name, once every byte is in `part`: the checksum, when one
    /// is expected (`computed` is the digest of a stream, hashed as it arrived; a ranged file is
    /// read back), and the time with `--remote-time`. An error leaves `part` to the caller.
    pub(super) fn check_and_date(
        &self,
        part: &PartFile,
        expected: Option<&Checksum>,
        computed: Option<Checksum>,
        last_modified: Option<&str>,
    ) -> Result<(), Error> {
        if let Some(expected) = expected {
            let actual = match computed {
                Some(actual) => actual,
                None => part.checksum(expected.algorithm)?,
            };
            self.file.set_checksum(&actual);
            if actual != *expected {
                return Err(Error::ChecksumMismatch {
                    url: self.link.url.clone(),
                    path: part.final_path().to_path_buf(),
                    algorithm: expected.algorithm,
                    expected: expected.hex.clone(),
                    actual: actual.hex,
                });
            }
        }
        if self.context.config.remote_time {
            match last_modified.and_then(parse_http_date) {
                Some(time) => {
                    if let Err(error) = part.set_modified(time) {
                        log::warn!("{error}; it keeps the time of the download");
                    }
                }
                None => log::info!(
                    "{}: the server sent no Last-Modified; --remote-time leaves the time of the download",
                    part.final_path().display()
                ),
            }
        }
        Ok(())
    }
}
