//! When to try a failed request again, and how long to wait first.
//!
//! [`Backoff`] counts the tries of one request and hands out waits that double each time (with jitter,
//! so the connections of a file that failed together do not come back in lockstep). A try that made
//! progress resets it: a long download with an occasional reset never runs out of tries, while a server
//! that keeps failing the same request is given up on after `max_tries`.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::error::Error;

/// The longest pardl waits between two tries of one request.
pub(crate) const MAX_RETRY_WAIT: Duration = Duration::from_secs(30);

/// The retry state of one request.
#[derive(Debug, Clone)]
pub(crate) struct Backoff {
    max_tries: u32,
    first_wait: Duration,
    failures: u32,
}

impl Backoff {
    /// A request that may be tried `max_tries` times in all, waiting `first_wait` after the first
    /// failure and twice as long after each further one (capped at [`MAX_RETRY_WAIT`]).
    pub(crate) fn new(max_tries: u32, first_wait: Duration) -> Backoff {
        Backoff {
            max_tries: max_tries.max(1),
            first_wait,
            failures: 0,
        }
    }

    /// Records a failed try; returns how long to wait before the next one, or `None` when the tries are
    /// used up.
    pub(crate) fn failed(&mut self) -> Option<Duration> {
        self.failures += 1;
        if self.failures >= self.max_tries {
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

    /// Records that a try made progress: the count starts again.
    pub(crate) fn progressed(&mut self) {
        self.failures = 0;
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
