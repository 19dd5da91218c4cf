//! Downloading a file as one stream, for servers that do not honour `Range` or send no length.
//!
//! The body is written in order into the `.part` file, and hashed on the way when the link asks for a
//! checksum. A transient failure restarts the request from the beginning (without ranges there is no
//! other way), and only bytes past the furthest point reached so far are added to the counters, so the
//! shared byte count never counts a byte twice.

use std::io::Read;
use std::sync::Arc;

use sha2::{Digest, Sha256};

use crate::disk::checksum::to_hex;
use crate::disk::part::PartFile;
use crate::error::Error;
use crate::file::chunk::BUFFER_SIZE;
use crate::file::request::{send, InFlight};
use crate::file::retry::Backoff;
use crate::http::status_error;
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
    /// Whether to compute the SHA-256 of the bytes as they pass.
    pub hash: bool,
}

/// What a finished stream produced.
#[derive(Debug)]
pub(crate) struct Streamed {
    /// The file's length.
    pub len: u64,
    /// Its SHA-256 in hex, if asked for.
    pub sha256: Option<String>,
}

impl StreamJob<'_> {
    /// Reads `first` (a `200` response; or a fresh request if `None`) to the end into the `.part` file,
    /// retrying from the start as `backoff` allows.
    pub(crate) fn run(
        &self,
        first: Option<InFlight>,
        mut backoff: Backoff,
    ) -> Result<Streamed, Error> {
        let mut high_water = 0u64;
        let mut buffer = vec![0u8; BUFFER_SIZE];
        let mut next = first;
        loop {
            if self.context.is_cancelled() {
                return Err(Error::Interrupted {
                    url: self.url.to_string(),
                });
            }
            let before = high_water;
            let attempt = match next.take() {
                Some(in_flight) => Ok(in_flight),
                None => self.request(),
            }
            .and_then(|in_flight| self.copy(in_flight, &mut buffer, &mut high_water));
            match attempt {
                Ok(streamed) => {
                    self.part.set_len(streamed.len)?;
                    return Ok(streamed);
                }
                Err(error) if error.is_transient() => {
                    if high_water > before {
                        backoff.progressed();
                    }
                    match backoff.wait_after(&error) {
                        Some(wait) => {
                            self.context.progress.retried(self.file);
                            log::warn!(
                                "{error}; without ranges the download restarts from the beginning, in {:.1}s",
                                wait.as_secs_f64()
                            );
                            self.context.sleep(wait);
                        }
                        None => return Err(error),
                    }
                }
                Err(error) => return Err(error),
            }
        }
    }

    fn request(&self) -> Result<InFlight, Error> {
        let in_flight = send(self.context, self.url, None, None)?;
        match in_flight.response.status().as_u16() {
            200 => Ok(in_flight),
            429 | 503 => {
                in_flight.slot.refused();
                Err(status_error(self.url, &in_flight.response))
            }
            _ => Err(status_error(self.url, &in_flight.response)),
        }
    }

    fn copy(
        &self,
        in_flight: InFlight,
        buffer: &mut [u8],
        high_water: &mut u64,
    ) -> Result<Streamed, Error> {
        let InFlight { response, slot } = in_flight;
        let _live = self.file.connection();
        let progress = &self.context.progress;
        let length = response.body().content_length();
        if let Some(length) = length {
            progress.set_size(self.file, length);
        }
        let mut hasher = self.hash.then(Sha256::new);
        let mut reader = response.into_body().into_reader();
        let mut offset = 0u64;
        loop {
            if self.context.is_cancelled() {
                return Err(Error::Interrupted {
                    url: self.url.to_string(),
                });
            }
            let n = match reader.read(buffer) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(Error::network(self.url.to_string(), ureq::Error::from(e))),
            };
            self.part.write_all_at(&buffer[..n], offset)?;
            self.context.throttle(n as u64);
            if let Some(hasher) = hasher.as_mut() {
                hasher.update(&buffer[..n]);
            }
            offset += n as u64;
            if offset > *high_water {
                progress.record(self.file, offset - *high_water);
                *high_water = offset;
            }
        }
        match length {
            // ureq already reports a body cut short of its Content-Length as an error; this guards the
            // promise in pardl's own code too.
            Some(length) if length != offset => Err(Error::Protocol {
                url: self.url.to_string(),
                message: format!("body has {offset} bytes, Content-Length said {length}"),
            }),
            _ => {
                slot.succeeded();
                Ok(Streamed {
                    len: offset,
                    sha256: hasher.map(|h| to_hex(&h.finalize())),
                })
            }
        }
    }
}
