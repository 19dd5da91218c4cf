//! Downloading a file as one stream, for servers that do not honour `Range` or send no length.
//!
//! The body is written in order into the `.part` file ([`BodyCopy`]), and hashed on the way when the
//! link asks for a checksum. A transient failure ([`with_retries`]) restarts the request from the
//! beginning (without ranges there is no other way), and only bytes past the furthest point reached so
//! far, the high-water mark, are added to the counters, so the shared byte count never counts a byte
//! twice; a retry that gets past the mark counts as progress and starts the count of tries again.

use std::sync::Arc;
use std::time::Duration;

use crate::disk::checksum::{Checksum, ChecksumAlgorithm, Hasher};
use crate::disk::part::PartFile;
use crate::error::Error;
use crate::file::answer::{bad_status, reject};
use crate::file::body::{with_buffer, BodyCopy, CopyEnd, CopyTarget};
use crate::file::request::{send, InFlight};
use crate::file::retry::{with_retries, Backoff, Retryable};
use crate::http::header;
use crate::run::context::Context;
use crate::run::progress::FileProgress;

/// One file downloaded as a single stream.
#[derive(Debug)]
pub(crate) struct StreamJob<'a> {
    /// The run's shared state.
    pub context: &'a Context,
    /// The URL (after redirects).
    pub url: &'a str,
    /// Where the bytes go.
    pub part: &'a PartFile,
    /// This file's counters.
    pub file: &'a Arc<FileProgress>,
    /// The digest to compute of the bytes as they pass, if the file is to be checked.
    pub hash: Option<ChecksumAlgorithm>,
}

/// What a finished stream produced.
#[derive(Debug)]
pub(crate) struct Streamed {
    /// The file's length.
    pub len: u64,
    /// Its digest, if asked for.
    pub checksum: Option<Checksum>,
    /// The `Last-Modified` of the answer it came in, if the server sent one.
    pub last_modified: Option<String>,
}

impl StreamJob<'_> {
    /// Reads `first` (a `200` response; or a fresh request if `None`) to the end into the `.part` file,
    /// retrying from the start as `backoff` allows.
    pub(crate) fn run(&self, first: Option<InFlight>, backoff: Backoff) -> Result<Streamed, Error> {
        let streamed = with_buffer(|buffer| {
            let mut attempts = StreamAttempts {
                job: self,
                first,
                high_water: 0,
                buffer,
            };
            with_retries(self.context, self.file, backoff, &mut attempts)
        })?;
        self.part.set_len(streamed.len)?;
        Ok(streamed)
    }

    /// Asks for the whole file again.
    fn request(&self) -> Result<InFlight, Error> {
        let answer = send(self.context, self.url, None, None)?;
        match answer.response.status().as_u16() {
            200 => Ok(answer),
            status => Err(reject(self.url, answer, bad_status(status))),
        }
    }

    /// Reads the body of `answer` into the `.part` file from its start; the file's progress counts
    /// only the bytes past `high_water`, which it then moves.
    fn copy(
        &self,
        answer: InFlight,
        buffer: &mut [u8],
        high_water: &mut u64,
    ) -> Result<Streamed, Error> {
        let InFlight { response, slot } = answer;
        let length = response.body().content_length();
        let last_modified = header(&response, "last-modified").map(str::to_string);
        if let Some(length) = length {
            self.context.progress.set_size(self.file, length);
        }
        let body_copy = BodyCopy {
            context: self.context,
            file: self.file,
            part: self.part,
            url: self.url,
            // Dropping a slow stream would start it over from its first byte: `--lowest-speed` is
            // left to ranged downloads, which continue where they stopped.
            lowest_speed: 0,
        };
        let mut target = StreamTarget {
            offset: 0,
            high_water,
            hasher: self.hash.map(Hasher::new),
        };
        let mut reader = response.into_body().into_reader();
        let end = body_copy.run(&mut reader, &mut target, buffer, || {
            self.context.is_cancelled()
        })?;
        let StreamTarget { offset, hasher, .. } = target;
        match (end, length) {
            (CopyEnd::Stopped, _) => Err(Error::Interrupted {
                url: self.url.to_string(),
            }),
            // ureq already reports a body cut short of its Content-Length as an error; this guards the
            // promise in pardl's own code too.
            (_, Some(length)) if length != offset => Err(Error::Protocol {
                url: self.url.to_string(),
                message: format!("body has {offset} bytes, Content-Length said {length}"),
            }),
            (CopyEnd::BodyEnded | CopyEnd::Filled, _) => {
                slot.succeeded();
                Ok(Streamed {
                    len: offset,
                    checksum: hasher.map(Hasher::finish),
                    last_modified,
                })
            }
        }
    }
}

/// The requests for the whole file, each read from its first byte.
struct StreamAttempts<'a> {
    job: &'a StreamJob<'a>,
    /// The probe's answer, used instead of the first request.
    first: Option<InFlight>,
    /// The furthest byte any attempt reached: the file's progress already counts the bytes before it.
    high_water: u64,
    /// The thread's read buffer ([`with_buffer`]).
    buffer: &'a mut [u8],
}

impl Retryable for StreamAttempts<'_> {
    type Output = Streamed;

    fn attempt(&mut self) -> Result<Streamed, Error> {
        let answer = match self.first.take() {
            Some(answer) => answer,
            None => self.job.request()?,
        };
        self.job.copy(answer, self.buffer, &mut self.high_water)
    }

    fn progress(&self) -> u64 {
        self.high_water
    }

    fn stopped(&self) -> Result<Streamed, Error> {
        Err(Error::Interrupted {
            url: self.job.url.to_string(),
        })
    }

    fn retry_warning(&self, error: &Error, wait: Duration) -> String {
        format!(
            "{error}; without ranges the download restarts from the beginning, in {:.1}s",
            wait.as_secs_f64()
        )
    }
}

/// The `.part` file of a stream, written in order from byte 0.
struct StreamTarget<'a> {
    offset: u64,
    high_water: &'a mut u64,
    /// The digest of the bytes so far, when the file is to be checked.
    hasher: Option<Hasher>,
}

impl CopyTarget for StreamTarget<'_> {
    fn offset(&self) -> u64 {
        self.offset
    }

    fn remaining(&self) -> Option<u64> {
        None
    }

    fn advance(&mut self, written: &[u8]) -> u64 {
        if let Some(hasher) = self.hasher.as_mut() {
            hasher.update(written);
        }
        self.offset += written.len() as u64;
        let new = self.offset.saturating_sub(*self.high_water);
        *self.high_water = (*self.high_water).max(self.offset);
        new
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stream_that_starts_over_counts_only_bytes_past_its_high_water_mark() {
        let mut high_water = 10;
        let mut target = StreamTarget {
            offset: 0,
            high_water: &mut high_water,
            hasher: Some(Hasher::new(ChecksumAlgorithm::Sha256)),
        };
        assert_eq!(target.advance(b"0123"), 0);
        assert_eq!(target.advance(b"456789ab"), 2);
        assert_eq!(target.advance(b"cd"), 2);
        assert_eq!((target.offset(), target.remaining()), (14, None));
        let digest = target.hasher.take().map(Hasher::finish);
        let mut whole = Hasher::new(ChecksumAlgorithm::Sha256);
        whole.update(b"0123456789abcd");
        assert_eq!(digest, Some(whole.finish()));
        assert_eq!(high_water, 14);
    }
}
