//! `--limit-rate`: one cap on the bytes per second of all connections together.
//!
//! A token bucket kept in a single [`AtomicU64`], in the form known as GCRA (the "generic cell rate
//! algorithm"): instead of a count of tokens that a timer refills, the bucket stores the moment at
//! which everything taken so far will have been paid for at the allowed rate (its "theoretical
//! arrival time"). A connection that has just received `n` bytes moves that moment `n / rate`
//! seconds further with one compare-and-swap, and sleeps until it is no more than the burst
//! allowance ahead of now. So the hot path takes no lock: one atomic update per read, and a sleep
//! only when the bucket is empty.
//!
//! Sharing is fair in the order bytes arrive: every connection pays for exactly the bytes it got,
//! and waits behind those that got theirs earlier; a connection reading more often simply waits more
//! often. While a connection sleeps it does not read, so its socket buffer fills and TCP slows the
//! server down: the limit is real on the wire, not just on disk, after the first socket buffer.
//! Idle time earns no more than [`BURST`] of credit, so the rate over any few seconds stays within
//! the limit.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// How far ahead of the allowed rate a burst may run: the credit an idle bucket keeps.
pub(crate) const BURST: Duration = Duration::from_millis(100);

/// A shared cap of `rate` bytes per second.
#[derive(Debug)]
pub(crate) struct RateLimit {
    rate: u64,
    start: Instant,
    /// Nanoseconds after `start` at which all bytes taken so far are paid for.
    paid_until: AtomicU64,
}

impl RateLimit {
    /// A limit of `rate` bytes per second (at least 1).
    pub(crate) fn new(rate: u64) -> RateLimit {
        RateLimit {
            rate: rate.max(1),
            start: Instant::now(),
            paid_until: AtomicU64::new(0),
        }
    }

    /// Takes `n` bytes (already received) from the bucket; returns how long the caller must wait
    /// before reading more.
    pub(crate) fn take(&self, n: u64) -> Duration {
        self.take_at(n, self.start.elapsed())
    }

    /// [`take`](RateLimit::take) at `now` (time since the limit was created), for tests.
    fn take_at(&self, n: u64, now: Duration) -> Duration {
        let now = nanos(now);
        let cost = nanos_for(n, self.rate);
        let burst = nanos(BURST);
        let previous = self
            .paid_until
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |paid| {
                // Idle time is forgiven (the bucket refills), but only up to now.
                Some(paid.max(now).saturating_add(cost))
            })
            // The closure always returns Some, so this arm is never taken.
            .unwrap_or_else(|paid| paid);
        let paid_until = previous.max(now).saturating_add(cost);
        Duration::from_nanos(paid_until.saturating_sub(now.saturating_add(burst)))
    }
}

/// A duration in nanoseconds, saturating (585 years is far enough).
fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

/// Nanoseconds `n` bytes take at `rate` bytes per second.
fn nanos_for(n: u64, rate: u64) -> u64 {
    u64::try_from(u128::from(n) * 1_000_000_000 / u128::from(rate)).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    #[test]
    fn waits_add_up_to_the_rate() {
        let limit = RateLimit::new(1_000_000);
        let now = Duration::ZERO;
        // Ten reads of 100 KB at the same moment: the tenth must wait until 1 s minus the burst.
        let waits: Vec<Duration> = (0..10).map(|_| limit.take_at(100_000, now)).collect();
        assert_eq!(
            waits[0],
            Duration::ZERO,
            "the first 100 ms are burst credit"
        );
        assert_eq!(waits[9], 900 * MS);
        assert!(waits.windows(2).all(|w| w[0] <= w[1]));
    }

    #[test]
    fn idle_time_earns_only_the_burst() {
        let limit = RateLimit::new(1000);
        assert_eq!(limit.take_at(100, Duration::ZERO), Duration::ZERO);
        // After ten idle seconds, 1000 bytes still cost a second (less the burst), not nothing.
        let wait = limit.take_at(1000, Duration::from_secs(10));
        assert_eq!(wait, 900 * MS);
    }

    #[test]
    fn concurrent_takers_share_one_budget() {
        let limit = RateLimit::new(1_000_000);
        let total: Duration = std::thread::scope(|scope| {
            let handles: Vec<_> = (0..8)
                .map(|_| {
                    scope.spawn(|| (0..10).map(|_| limit.take_at(10_000, Duration::ZERO)).max())
                })
                .collect();
            handles
                .into_iter()
                .filter_map(|h| h.join().ok().flatten())
                .max()
                .unwrap_or_default()
        });
        // 800 KB at 1 MB/s: the last one waits 0.8 s less the burst.
        assert_eq!(total, 700 * MS);
    }
}

#[cfg(test)]
mod examples {
    //! The examples these items once showed in their docs, kept as tests.

    #[test]
    fn take_example() {
        use crate::http::ratelimit::RateLimit;
        use std::time::Duration;

        let limit = RateLimit::new(1000);
        // 1000 bytes at 1000 B/s are paid for in one second; the first 100 ms are burst credit.
        let wait = limit.take(1000);
        assert!(
            wait > Duration::from_millis(800) && wait <= Duration::from_millis(900),
            "{wait:?}"
        );
    }
}
