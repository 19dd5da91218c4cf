//! Downloading a file as one stream, for servers that do not honour `Range` or send no length.
//!
//! The body is written in order into the `.part` file. A transient failure restarts the request from
//! the beginning (without ranges there is no other way), and only bytes past the furthest point reached
//! so far are added to the counters, so the shared byte count never counts a byte twice.

use std::io::Read;
use std::sync::Arc;

use ureq::http::Response;
use ureq::{Agent, Body};

use crate::chunk::BUFFER_SIZE;
use crate::error::Error;
use crate::part::PartFile;
use crate::probe::send;
use crate::progress::{FileProgress, Progress};
use crate::retry::Backoff;

/// One file downloaded as a single stream.
#[derive(Debug)]
pub struct StreamJob<'a> {
    /// The URL (after redirects).
    pub url: &'a str,
    /// The shared HTTP agent.
    pub agent: &'a Agent,
    /// Where the bytes go.
    pub part: &'a PartFile,
    /// The run's counters.
    pub progress: &'a Arc<Progress>,
    /// This file's counters.
    pub file: &'a Arc<FileProgress>,
}

impl StreamJob<'_> {
    /// Reads `first` (a `200` response) to the end into the `.part` file, retrying from the start as
    /// `backoff` allows. Returns the file's length.
    pub fn run(&self, first: Response<Body>, mut backoff: Backoff) -> Result<u64, Error> {
        let mut high_water = 0u64;
        let mut buffer = vec![0u8; BUFFER_SIZE];
        let mut next = Some(first);
        loop {
            let before = high_water;
            let attempt = match next.take() {
                Some(response) => Ok(response),
                None => self.request(),
            }
            .and_then(|response| self.copy(response, &mut buffer, &mut high_water));
            match attempt {
                Ok(len) => {
                    self.part.set_len(len)?;
                    return Ok(len);
                }
                Err(error) if error.is_transient() => {
                    if high_water > before {
                        backoff.progressed();
                    }
                    match backoff.failed() {
                        Some(wait) => {
                            log::warn!(
                                "{error}; the server does not support ranges, restarting from the beginning in {:.1}s",
                                wait.as_secs_f64()
                            );
                            std::thread::sleep(wait);
                        }
                        None => return Err(error),
                    }
                }
                Err(error) => return Err(error),
            }
        }
    }

    fn request(&self) -> Result<Response<Body>, Error> {
        log::debug!("GET {} (whole file)", crate::http::redact_url(self.url));
        let response = send(self.agent, self.url, None)?;
        match response.status().as_u16() {
            200 => Ok(response),
            status => Err(Error::Status {
                url: self.url.to_string(),
                status,
            }),
        }
    }

    fn copy(
        &self,
        response: Response<Body>,
        buffer: &mut [u8],
        high_water: &mut u64,
    ) -> Result<u64, Error> {
        let _live = self.file.connection();
        let length = response.body().content_length();
        if let Some(length) = length {
            self.progress.set_size(self.file, length);
        }
        let mut reader = response.into_body().into_reader();
        let mut offset = 0u64;
        loop {
            let n = match reader.read(buffer) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    return Err(Error::Network {
                        url: self.url.to_string(),
                        source: ureq::Error::from(e),
                    })
                }
            };
            self.part.write_all_at(&buffer[..n], offset)?;
            offset += n as u64;
            if offset > *high_water {
                self.progress.record(self.file, offset - *high_water);
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
            _ => Ok(offset),
        }
    }
}
