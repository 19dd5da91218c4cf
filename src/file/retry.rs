//! When to try a failed request again, how long to wait first, and the one loop that does it.
//!
//! [`Backoff`] counts the tries of one request and hands out waits that double each time (with jitter,
//! so the connections of a file that failed together do not come back in lockstep). A try that made
//! progress resets it: a long download with an occasional reset never runs out of tries, while a server
//! that keeps failing the same request is given up on after `max_tries`.
//!
//! Progress must be worth the name, or a server could keep pardl busy forever by sending a few bytes
//! per answer: a failed try counts as progress only if it brought at least
//! [`meaningful_progress`] bytes (`--min-chunk`, at most 1 MiB), and a request is tried at most
//! [`TRIES_IN_ALL_PER_MAX_TRIES`] × `max_tries` times in all, progress or not.
//!
//! [`with_retries`] is the retry loop of every request pardl sends: the probe, each chunk, and the
//! stream. It owns the policy: a transient error ([`Error::is_transient`]) is waited out
//! ([`Backoff::wait_after`], which honours `Retry-After`), counted in the file's progress, logged once,
//! and slept off (waking early on Ctrl-C or when the caller says to stop); a try that made progress
//! starts the count again. A caller says only what differs, through [`Retryable`]: what one try is,
//! how its progress is measured, and what the warning says. A change to the policy is made here once.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::error::{Error, NetworkErrorKind};
use crate::run::context::Context;
use crate::run::progress::{FileProgress, RetryWait};

/// The longest pardl waits between two tries of one request.
pub(crate) const MAX_RETRY_WAIT: Duration = Duration::from_secs(30);

/// The most bytes a failed try must bring to count as progress (see [`meaningful_progress`]).
pub(crate) const MEANINGFUL_PROGRESS_CAP: u64 = 1 << 20;

/// How many times `max_tries` a request may be tried in all, however much each try brought: with
/// the default 5, fifty tries of one chunk, plenty for a flaky network (a failed file keeps its
/// bytes for the next run), and an end for a server that would feed pardl a little at a time.
pub(crate) const TRIES_IN_ALL_PER_MAX_TRIES: u32 = 10;

/// How many bytes a failed try must bring before it counts as progress (and its request gets its
/// `max_tries` again): `min_chunk`, at most [`MEANINGFUL_PROGRESS_CAP`]. Less than that is not a
/// download getting somewhere; it is a server (or a path) that cannot deliver.
pub(crate) fn meaningful_progress(min_chunk: u64) -> u64 {
    min_chunk.clamp(1, MEANINGFUL_PROGRESS_CAP)
}

/// The retry state of one request.
#[derive(Debug, Clone)]
pub(crate) struct Backoff {
    max_tries: u32,
    first_wait: Duration,
    /// Failed tries since the last progress.
    failures: u32,
    /// Failed tries in all.
    failed_in_all: u32,
}

impl Backoff {
    /// A request that may be tried `max_tries` times in a row without progress (and
    /// [`TRIES_IN_ALL_PER_MAX_TRIES`] times as often in all), waiting `first_wait` after the first
    /// failure and twice as long after each further one (capped at [`MAX_RETRY_WAIT`]).
    pub(crate) fn new(max_tries: u32, first_wait: Duration) -> Backoff {
        Backoff {
            max_tries: max_tries.max(1),
            first_wait,
            failures: 0,
            failed_in_all: 0,
        }
    }

    /// Records a failed try; returns how long to wait before the next one, or `None` when the tries are
    /// used up.
    pub(crate) fn failed(&mut self) -> Option<Duration> {
        self.failures += 1;
        self.failed_in_all += 1;
        let tries_in_all = self.max_tries.saturating_mul(TRIES_IN_ALL_PER_MAX_TRIES);
        if self.failures >= self.max_tries || self.failed_in_all >= tries_in_all {
            return None;
        }
        let doubled = self
            .first_wait
            .saturating_mul(1u32 << (self.failures - 1).min(16))
            .min(MAX_RETRY_WAIT);
        Some(jitter(doubled))
    }

    /// Records a failed try that ended in `error`: like [`Backoff::failed`], but a server's
    /// `Retry-After` (already capped) is waited out when it asks for longer than the backoff would.
    pub(crate) fn wait_after(&mut self, error: &Error) -> Option<Duration> {
        let wait = self.failed()?;
        match error {
            Error::Status {
                retry_after: Some(asked),
                ..
            } => Some(wait.max(*asked)),
            _ => Some(wait),
        }
    }

    /// Records that a try made progress: the count of tries in a row starts again (not the count
    /// of tries in all).
    pub(crate) fn progressed(&mut self) {
        self.failures = 0;
    }
}

/// One request as [`with_retries`] tries it again and again.
pub(crate) trait Retryable {
    /// What a successful try gives.
    type Output;

    /// Sends the request once and takes its answer as far as it goes.
    fn attempt(&mut self) -> Result<Self::Output, Error>;

    /// A count that grows when a try gets somewhere (bytes on disk); a failed try that made it grow
    /// by at least [`meaningful_progress`] was not a wasted one, so the count of failures starts
    /// again.
    fn progress(&self) -> u64 {
        0
    }

    /// Whether to stop trying (besides Ctrl-C, which always stops): checked before each try and while
    /// waiting for the next.
    fn should_stop(&self) -> bool {
        false
    }

    /// What the loop returns when it stops before a try succeeded (Ctrl-C, or [`should_stop`]).
    ///
    /// [`should_stop`]: Retryable::should_stop
    fn stopped(&self) -> Result<Self::Output, Error>;

    /// The warning logged before waiting `wait` to try again after `error`: it names what is retried.
    fn retry_warning(&self, error: &Error, wait: Duration) -> String;
}

/// Tries `request` until a try succeeds, fails for good, the tries `backoff` allows are used up, or
/// the run is cancelled; each retry is counted in `file`'s progress.
pub(crate) fn with_retries<R: Retryable>(
    context: &Context,
    file: &FileProgress,
    mut backoff: Backoff,
    request: &mut R,
) -> Result<R::Output, Error> {
    let meaningful = meaningful_progress(context.config.min_chunk);
    loop {
        if context.is_cancelled() || request.should_stop() {
            return request.stopped();
        }
        let before = request.progress();
        let error = match request.attempt() {
            Ok(output) => return Ok(output),
            Err(error) if error.is_transient() => error,
            Err(error) => return Err(error),
        };
        if request.progress() >= before.saturating_add(meaningful) {
            backoff.progressed();
        }
        let Some(wait) = backoff.wait_after(&error) else {
            return Err(error);
        };
        context.progress.retried(file);
        log::warn!("{}", request.retry_warning(&error, wait));
        // Shown on the file's line of the live display while the wait lasts.
        file.set_retry_wait(Some(RetryWait {
            attempt: backoff.failures.saturating_add(1),
            max_tries: backoff.max_tries,
            at: Instant::now() + wait,
            reason: retry_reason(&error),
        }));
        context.sleep_unless(wait, || request.should_stop());
        file.set_retry_wait(None);
    }
}

/// Why a try failed, in the word or two the display has room for: the status (`503`), or the kind
/// of network trouble (`timeout`, `connection reset`).
fn retry_reason(error: &Error) -> String {
    match error {
        Error::Status { status, .. } => status.to_string(),
        Error::Network { kind, .. } => match kind {
            NetworkErrorKind::Dns => "DNS",
            NetworkErrorKind::Connect => "cannot connect",
            NetworkErrorKind::Tls => "TLS",
            NetworkErrorKind::Timeout => "timeout",
            NetworkErrorKind::Reset => "connection reset",
            NetworkErrorKind::Redirect => "redirect",
            NetworkErrorKind::Proxy => "proxy",
            _ => "network",
        }
        .to_string(),
        Error::Protocol { .. } => "bad answer".to_string(),
        other => other.kind().to_string(),
    }
}

/// A wait between half and all of `wait`, so retries of many connections spread out.
fn jitter(wait: Duration) -> Duration {
    // A full random number generator is not worth a dependency here: the sub-second clock is noise
    // enough to spread a handful of connections.
    let noise = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let fraction = 0.5 + f64::from(noise % 1000) / 2000.0;
    wait.mul_f64(fraction)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_double_and_are_capped() {
        let mut backoff = Backoff::new(100, Duration::from_secs(1));
        let waits: Vec<Duration> = (0..8).map(|_| backoff.failed().unwrap()).collect();
        for (i, wait) in waits.iter().enumerate() {
            let full = Duration::from_secs(1 << i).min(MAX_RETRY_WAIT);
            assert!(*wait >= full / 2 && *wait <= full, "try {i}: {wait:?}");
        }
    }

    #[test]
    fn progress_resets_the_count() {
        let mut backoff = Backoff::new(2, Duration::ZERO);
        assert!(backoff.failed().is_some());
        backoff.progressed();
        assert!(backoff.failed().is_some());
        assert!(backoff.failed().is_none());
    }

    #[test]
    fn retry_after_lengthens_the_wait_but_not_the_tries() {
        let mut backoff = Backoff::new(2, Duration::from_millis(10));
        let error = Error::Status {
            url: "u".into(),
            status: 503,
            retry_after: Some(Duration::from_secs(3)),
        };
        assert_eq!(backoff.wait_after(&error), Some(Duration::from_secs(3)));
        assert_eq!(backoff.wait_after(&error), None);
    }

    /// A request that plays `script` (one result per try; a try that fails moves `progress` by
    /// `gain`), and is told to stop once `stop_after` tries were made.
    struct Scripted {
        script: Vec<Result<&'static str, Error>>,
        tries: usize,
        gain: u64,
        progress: u64,
        stop_after: Option<usize>,
    }

    impl Scripted {
        fn new(script: Vec<Result<&'static str, Error>>) -> Scripted {
            Scripted {
                script,
                tries: 0,
                gain: 0,
                progress: 0,
                stop_after: None,
            }
        }
    }

    impl Retryable for Scripted {
        type Output = &'static str;

        fn attempt(&mut self) -> Result<&'static str, Error> {
            let result = self.script.remove(0);
            self.tries += 1;
            if result.is_err() {
                self.progress += self.gain;
            }
            result
        }

        fn progress(&self) -> u64 {
            self.progress
        }

        fn should_stop(&self) -> bool {
            self.stop_after.is_some_and(|tries| self.tries >= tries)
        }

        fn stopped(&self) -> Result<&'static str, Error> {
            Ok("stopped")
        }

        fn retry_warning(&self, error: &Error, _wait: Duration) -> String {
            format!("{error}; again")
        }
    }

    fn status(status: u16) -> Error {
        Error::Status {
            url: "u".into(),
            status,
            retry_after: None,
        }
    }

    fn run(
        request: &mut Scripted,
        max_tries: u32,
        first_wait: Duration,
    ) -> (Result<&'static str, Error>, u64) {
        let context = Context::new(crate::Config::default());
        let file = context.progress.start_file("f");
        let result = with_retries(
            &context,
            &file,
            Backoff::new(max_tries, first_wait),
            request,
        );
        assert_eq!(context.progress.retries(), file.retries());
        (result, file.retries())
    }

    #[test]
    fn the_driver_retries_transient_errors_until_the_tries_are_used_up() {
        let mut request = Scripted::new((0..5).map(|_| Err(status(500))).collect());
        let (result, retries) = run(&mut request, 3, Duration::ZERO);
        assert!(matches!(result, Err(Error::Status { status: 500, .. })));
        assert_eq!((request.tries, retries), (3, 2));
    }

    #[test]
    fn the_driver_returns_the_first_success() {
        let mut request = Scripted::new(vec![Err(status(503)), Ok("done"), Ok("unused")]);
        let (result, retries) = run(&mut request, 3, Duration::ZERO);
        assert_eq!(result.ok(), Some("done"));
        assert_eq!((request.tries, retries), (2, 1));
    }

    #[test]
    fn the_driver_gives_up_at_once_on_a_permanent_error() {
        let mut request = Scripted::new(vec![Err(status(403)), Ok("unused")]);
        let (result, retries) = run(&mut request, 5, Duration::ZERO);
        assert!(matches!(result, Err(Error::Status { status: 403, .. })));
        assert_eq!((request.tries, retries), (1, 0));
    }

    #[test]
    fn the_driver_starts_counting_again_after_progress() {
        // Two tries allowed, yet six failures in a row are survived: each one got somewhere (a
        // meaningful amount: the default min_chunk, 1 MiB).
        let mut script: Vec<_> = (0..6).map(|_| Err(status(500))).collect();
        script.push(Ok("done"));
        let mut request = Scripted::new(script);
        request.gain = MEANINGFUL_PROGRESS_CAP;
        let (result, retries) = run(&mut request, 2, Duration::ZERO);
        assert_eq!(result.ok(), Some("done"));
        assert_eq!((request.tries, retries), (7, 6));
    }

    #[test]
    fn a_few_bytes_per_try_are_not_progress() {
        // A server that sends 4 bytes per answer: every try "gets somewhere", and yet the request
        // is given up on after its max_tries.
        let mut request = Scripted::new((0..100).map(|_| Err(status(500))).collect());
        request.gain = 4;
        let (result, retries) = run(&mut request, 3, Duration::ZERO);
        assert!(matches!(result, Err(Error::Status { status: 500, .. })));
        assert_eq!((request.tries, retries), (3, 2));
        assert_eq!(meaningful_progress(256 << 10), 256 << 10);
        assert_eq!(meaningful_progress(64 << 20), MEANINGFUL_PROGRESS_CAP);
        assert_eq!(meaningful_progress(0), 1);
    }

    #[test]
    fn a_request_has_a_bound_on_its_tries_in_all() {
        // Each failure brings a meaningful amount, so the count of tries in a row starts again;
        // the count in all still ends it.
        let mut request = Scripted::new((0..100).map(|_| Err(status(500))).collect());
        request.gain = MEANINGFUL_PROGRESS_CAP;
        let (result, retries) = run(&mut request, 2, Duration::ZERO);
        assert!(result.is_err());
        let in_all = 2 * TRIES_IN_ALL_PER_MAX_TRIES as usize;
        assert_eq!((request.tries, retries), (in_all, in_all as u64 - 1));
    }

    #[test]
    fn the_driver_stops_before_a_try_when_the_run_is_cancelled() {
        let context = Context::new(crate::Config::default());
        let file = context.progress.start_file("f");
        context.cancel_handle().cancel();
        let mut request = Scripted::new(vec![Ok("unused")]);
        let result = with_retries(
            &context,
            &file,
            Backoff::new(3, Duration::ZERO),
            &mut request,
        );
        assert_eq!(result.ok(), Some("stopped"));
        assert_eq!(request.tries, 0);
    }

    #[test]
    fn a_stop_condition_ends_the_wait_early() {
        let mut request = Scripted::new(vec![Err(status(500)), Ok("unused")]);
        request.stop_after = Some(1);
        let started = std::time::Instant::now();
        let (result, retries) = run(&mut request, 3, Duration::from_secs(20));
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "{:?}",
            started.elapsed()
        );
        assert_eq!(result.ok(), Some("stopped"));
        assert_eq!((request.tries, retries), (1, 1));
    }

    #[test]
    fn one_try_means_no_retry() {
        assert_eq!(Backoff::new(1, Duration::ZERO).failed(), None);
        assert_eq!(Backoff::new(0, Duration::ZERO).failed(), None);
    }
}

#[cfg(test)]
mod examples {
    //! The examples these items once showed in their docs, kept as tests.

    #[test]
    fn failed_example() {
        use crate::file::retry::Backoff;
        use std::time::Duration;

        let mut backoff = Backoff::new(3, Duration::from_millis(100));
        let first = backoff.failed().unwrap();
        assert!(first >= Duration::from_millis(50) && first <= Duration::from_millis(100));
        assert!(backoff.failed().is_some());
        assert_eq!(backoff.failed(), None); // three tries in all
    }
}
