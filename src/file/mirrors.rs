//! One file from several servers: the mirrors of a link.
//!
//! A link may name several URLs of one file (`URL1<TAB>URL2` in a links file, `--mirror` on the
//! command line). [`probe_link`] probes them all before a byte is written:
//!
//! 1. The first mirror gets the usual probe ([`probe`]: a `GET` for the whole file as a range), whose
//!    answer carries chunk 0. A mirror that fails it (a `404`, a refused connection, a TLS error, or its
//!    tries used up) is dropped with a warning, and the next one is probed the same way.
//! 2. The others are asked, all at once, for their first byte (`Range: bytes=0-0`): that tells their
//!    size and their version (each server has validators of its own) for one small request each.
//!    One that fails is dropped with a warning.
//! 3. The sizes must agree: if they do not, the link fails ([`Error::MirrorsDisagree`], naming every
//!    mirror and its size) before anything is written. Only when every mirror has failed does the
//!    link fail for that reason.
//!
//! Then [`Mirrors`] is what the chunks share: each chunk is fetched from one mirror (spread evenly at
//! first; a connection that takes over part of another's range keeps its own mirror, so a fast mirror
//! takes work from a slow one), each request carries that mirror's own `If-Range`, and each mirror
//! counts the bytes it delivered, for the report. A mirror that fails a request while another is alive
//! is dropped, and the chunk goes on from another at once. `-x` is the number of connections for the
//! file over all its mirrors; `--max-per-host` still limits each host.

use std::io::Read;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use ureq::ResponseExt;

use crate::error::{Error, NetworkErrorKind};
use crate::file::answer::{reject, Head};
use crate::file::probe::{probe, probe_verdict, ProbeVerdict, RangeProbe};
use crate::file::request::send;
use crate::file::retry::Backoff;
use crate::http::url::{keep_credentials, redact_url};
use crate::http::Validators;
use crate::run::context::Context;
use crate::run::links::Link;
use crate::run::progress::FileProgress;

/// One URL of a file, and how it is doing.
#[derive(Debug)]
pub(crate) struct Mirror {
    /// The URL as the link gave it (for messages, the report and the resume state).
    pub link_url: String,
    /// The URL requests go to (after the probe's redirects).
    pub url: String,
    /// The version of the file this mirror serves: its own `ETag` and `Last-Modified`.
    pub validators: Validators,
    alive: AtomicBool,
    delivered: AtomicU64,
}

impl Mirror {
    /// A mirror at `url` (given as `link_url`) serving the version `validators`.
    pub(crate) fn new(link_url: &str, url: &str, validators: Validators) -> Mirror {
        Mirror {
            link_url: link_url.to_string(),
            url: url.to_string(),
            validators,
            alive: AtomicBool::new(true),
            delivered: AtomicU64::new(0),
        }
    }

    /// A mirror that failed before the download began.
    fn dead(link_url: &str) -> Mirror {
        let mirror = Mirror::new(link_url, link_url, Validators::default());
        mirror.alive.store(false, Ordering::Relaxed);
        mirror
    }
}

/// The mirrors of one file, in the link's order (a plain link has one).
#[derive(Debug)]
pub(crate) struct Mirrors {
    list: Vec<Mirror>,
}

impl Mirrors {
    /// The mirrors of a link, in its order.
    pub(crate) fn new(list: Vec<Mirror>) -> Mirrors {
        Mirrors { list }
    }

    /// How many mirrors the link has (alive or not).
    pub(crate) fn len(&self) -> usize {
        self.list.len()
    }

    /// Mirror `index`.
    pub(crate) fn get(&self, index: usize) -> &Mirror {
        &self.list[index.min(self.list.len() - 1)]
    }

    /// Whether mirror `index` is still used.
    pub(crate) fn is_alive(&self, index: usize) -> bool {
        self.get(index).alive.load(Ordering::Acquire)
    }

    /// The indices of the mirrors still used.
    pub(crate) fn alive(&self) -> Vec<usize> {
        (0..self.list.len()).filter(|&i| self.is_alive(i)).collect()
    }

    /// A mirror for a request that would go to `preferred`: that one while it is alive, else the
    /// next alive one after it. `None` when every mirror is dropped.
    pub(crate) fn pick(&self, preferred: usize) -> Option<usize> {
        let n = self.list.len();
        (0..n)
            .map(|step| (preferred + step) % n)
            .find(|&i| self.is_alive(i))
    }

    /// Drops mirror `index` after `error`, if another mirror is alive (the last one is never
    /// dropped: its errors are the file's). Returns whether it was dropped (or already was).
    pub(crate) fn drop_after(&self, index: usize, error: &Error) -> bool {
        let others = (0..self.list.len()).any(|i| i != index && self.is_alive(i));
        if !others {
            return false;
        }
        if self.get(index).alive.swap(false, Ordering::AcqRel) {
            log::warn!(
                "mirror {} dropped: {error}; going on with the others",
                redact_url(&self.get(index).link_url)
            );
        }
        true
    }

    /// Counts `n` bytes delivered by mirror `index`.
    pub(crate) fn delivered(&self, index: usize, n: u64) {
        self.get(index).delivered.fetch_add(n, Ordering::Relaxed);
    }

    /// Each mirror's URL (as given) and the bytes it delivered in this run.
    pub(crate) fn deliveries(&self) -> Vec<(String, u64)> {
        self.list
            .iter()
            .map(|m| (m.link_url.clone(), m.delivered.load(Ordering::Relaxed)))
            .collect()
    }
}

/// Whether `error`, from a request to one mirror, is that mirror's failure (drop it and go on with
/// another) rather than a hiccup to retry on it or the file's own trouble: a refusal by status, or a
/// host that cannot be resolved, reached or trusted.
pub(crate) fn is_mirror_failure(error: &Error) -> bool {
    match error {
        Error::Status { .. } => !error.is_transient(),
        Error::Network { kind, .. } => matches!(
            kind,
            NetworkErrorKind::Dns
                | NetworkErrorKind::Connect
                | NetworkErrorKind::Tls
                | NetworkErrorKind::Redirect
        ),
        Error::InvalidUrl { .. } => true,
        _ => false,
    }
}

/// Probes the link: its one URL as [`probe`] does, or, for a link with mirrors, every mirror as the
/// module docs tell. Returns the answer that carries chunk 0 and, for a link with mirrors, the
/// mirrors (the one that answered first marked by `RangeProbe`'s `final_url`, the ones that failed
/// dropped) with the index of the one that answered the probe.
pub(crate) fn probe_link(
    context: &Context,
    link: &Link,
    file: &FileProgress,
) -> Result<(RangeProbe, Option<(Mirrors, usize)>), Error> {
    let config = &context.config;
    if link.mirrors.is_empty() {
        let backoff = Backoff::new(config.max_tries, config.retry_wait);
        return Ok((probe(context, &link.url, backoff, file)?, None));
    }
    let urls: Vec<&str> = std::iter::once(link.url.as_str())
        .chain(link.mirrors.iter().map(String::as_str))
        .collect();
    // 1. The full probe, mirror after mirror, until one answers. Only the last one standing gets
    //    the usual tries: while others are left, a failing mirror is given up on at once.
    let mut last_error = None;
    let mut first = None;
    for (index, url) in urls.iter().enumerate() {
        let tries = if index + 1 == urls.len() {
            config.max_tries
        } else {
            1
        };
        let backoff = Backoff::new(tries, config.retry_wait);
        match probe(context, url, backoff, file) {
            Ok(answer) => match &answer {
                RangeProbe::Ranged {
                    total,
                    final_url,
                    validators,
                    ..
                } => {
                    let primary = Mirror::new(url, final_url, validators.clone());
                    first = Some((index, *total, primary, answer));
                    break;
                }
                RangeProbe::Whole { .. } if index + 1 == urls.len() => {
                    log::warn!(
                        "{}: no mirror honours ranges; downloading from the last one as one stream",
                        redact_url(&link.url)
                    );
                    return Ok((answer, None));
                }
                RangeProbe::Whole { .. } => log::warn!(
                    "mirror {} dropped: it does not honour ranges",
                    redact_url(url)
                ),
            },
            Err(error @ Error::Interrupted { .. }) => return Err(error),
            Err(error) => {
                log::warn!("mirror {} dropped: {error}", redact_url(url));
                last_error = Some(error);
            }
        }
    }
    let Some((primary, total, primary_mirror, answer)) = first else {
        return Err(last_error.unwrap_or(Error::Interrupted {
            url: link.url.clone(),
        }));
    };
    // 2. The others, at once, for their first byte.
    let others: Vec<(usize, Result<FirstByte, Error>)> = std::thread::scope(|scope| {
        let handles: Vec<_> = urls
            .iter()
            .enumerate()
            .skip(primary + 1)
            .map(|(index, url)| (index, scope.spawn(move || first_byte(context, url))))
            .collect();
        handles
            .into_iter()
            .map(|(index, handle)| {
                let result = handle.join().unwrap_or_else(|_| {
                    Err(Error::Panicked {
                        url: urls[index].to_string(),
                    })
                });
                (index, result)
            })
            .collect()
    });
    // 3. The sizes must agree.
    let mut sizes = vec![(urls[primary].to_string(), total)];
    let mut list: Vec<Mirror> = urls[..primary]
        .iter()
        .map(|url| Mirror::dead(url))
        .collect();
    list.push(primary_mirror);
    for (index, result) in others {
        match result {
            Ok(answer) => {
                sizes.push((urls[index].to_string(), answer.total));
                list.push(Mirror::new(
                    urls[index],
                    &answer.final_url,
                    answer.validators,
                ));
            }
            Err(error @ Error::Interrupted { .. }) => return Err(error),
            Err(error) => {
                log::warn!("mirror {} dropped: {error}", redact_url(urls[index]));
                list.push(Mirror::dead(urls[index]));
            }
        }
    }
    if sizes.iter().any(|(_, size)| *size != total) {
        return Err(Error::MirrorsDisagree {
            url: link.url.clone(),
            sizes,
        });
    }
    Ok((answer, Some((Mirrors::new(list), primary))))
}

/// What a mirror's answer to a request for its first byte tells.
struct FirstByte {
    /// The URL after redirects.
    final_url: String,
    /// The file's size.
    total: u64,
    /// The mirror's version of the file.
    validators: Validators,
}

/// Asks `url` for its first byte: its final URL, the file's size and its validators, or why not.
fn first_byte(context: &Context, url: &str) -> Result<FirstByte, Error> {
    let answer = send(context, url, Some("bytes=0-0"), None)?;
    let final_url = keep_credentials(url, &answer.response.get_uri().to_string());
    let head = Head::of(&answer.response);
    let protocol = |message: &str| Error::Protocol {
        url: url.to_string(),
        message: message.to_string(),
    };
    match probe_verdict(Some(1), &head) {
        ProbeVerdict::Ranged { total, .. } => {
            let validators = head.validators;
            answer.slot.succeeded();
            // Read the one byte, so the connection goes back to the pool for the chunks.
            let mut reader = answer.response.into_body().into_reader();
            let mut byte = [0u8; 2];
            let _ = reader.read(&mut byte);
            let _ = reader.read(&mut byte);
            Ok(FirstByte {
                final_url,
                total,
                validators,
            })
        }
        ProbeVerdict::BadStatus(bad) => Err(reject(url, answer, bad)),
        ProbeVerdict::Whole => Err(protocol("it does not honour ranges")),
        _ => Err(protocol("no usable answer to a request for its first byte")),
    }
}
