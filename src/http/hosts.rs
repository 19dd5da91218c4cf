//! How many connections pardl opens to each host, adapting to servers that refuse extra ones.
//!
//! Every request (probe, chunk, stream) first takes a slot of its host from [`HostLimits`]; the slot is
//! released when the response has been read. Each host starts at the configured maximum. When a
//! server refuses a connection while others to it are busy (a `429` or `503`, or the `416` some servers
//! send for "too many connections", the case the Python article retried blindly), the host's limit is
//! set to half the number of connections that were in use (multiplicative decrease), so pardl stops
//! hammering it; after as many clean responses as the limit, it grows by one again (additive
//! increase), up to the maximum. The limit is per host and shared by every file from that host.
//!
//! A list of a million links may name a million hosts, so a host is forgotten again once nothing uses
//! it and its limit is back at the maximum (the state a new host starts in anyway): only hosts in use
//! and hosts still held below the maximum are remembered.

use std::collections::HashMap;
use std::sync::Arc;

use parking_lot::{Condvar, Mutex};

/// Per-host connection limits shared by all downloads of a run.
#[derive(Debug)]
pub(crate) struct HostLimits {
    max_per_host: usize,
    hosts: Mutex<Known>,
}

/// The hosts remembered, and when to look for ones to forget.
#[derive(Debug)]
struct Known {
    map: HashMap<String, Arc<Host>>,
    /// Forget idle hosts when the map reaches this size.
    prune_at: usize,
}

/// Below this many hosts nothing is forgotten.
const PRUNE_MIN: usize = 1024;

#[derive(Debug)]
struct Host {
    name: String,
    state: Mutex<HostState>,
    slot_freed: Condvar,
}

#[derive(Debug)]
struct HostState {
    limit: usize,
    in_use: usize,
    clean_since_change: usize,
}

/// One connection's permission to talk to a host; released on drop.
#[derive(Debug)]
pub(crate) struct HostSlot {
    host: Arc<Host>,
    max_per_host: usize,
}

impl HostLimits {
    /// Limits starting (and capped) at `max_per_host` connections per host.
    pub(crate) fn new(max_per_host: usize) -> HostLimits {
        HostLimits {
            max_per_host: max_per_host.max(1),
            hosts: Mutex::new(Known {
                map: HashMap::new(),
                prune_at: PRUNE_MIN,
            }),
        }
    }

    /// Waits for a free slot of `host` and takes it.
    pub(crate) fn acquire(&self, host: &str) -> HostSlot {
        let host = {
            let mut known = self.hosts.lock();
            if known.map.len() >= known.prune_at && !known.map.contains_key(host) {
                self.forget_idle(&mut known);
            }
            // Looked up before it is inserted: no allocation for a host already known.
            if let Some(known_host) = known.map.get(host) {
                Arc::clone(known_host)
            } else {
                let new_host = Arc::new(Host {
                    name: host.to_string(),
                    state: Mutex::new(HostState {
                        limit: self.max_per_host,
                        in_use: 0,
                        clean_since_change: 0,
                    }),
                    slot_freed: Condvar::new(),
                });
                known.map.insert(host.to_string(), Arc::clone(&new_host));
                new_host
            }
        };
        {
            let mut state = host.state.lock();
            while state.in_use >= state.limit {
                host.slot_freed.wait(&mut state);
            }
            state.in_use += 1;
        }
        HostSlot {
            host,
            max_per_host: self.max_per_host,
        }
    }

    #[cfg(test)]
    /// The current limit of `host` (the maximum for a host not seen yet).
    pub(crate) fn limit(&self, host: &str) -> usize {
        self.hosts
            .lock()
            .map
            .get(host)
            .map_or(self.max_per_host, |h| h.state.lock().limit)
    }

    #[cfg(test)]
    /// Slots of `host` in use now.
    pub(crate) fn in_use(&self, host: &str) -> usize {
        self.hosts
            .lock()
            .map
            .get(host)
            .map_or(0, |h| h.state.lock().in_use)
    }

    #[cfg(test)]
    /// How many hosts are remembered now.
    pub(crate) fn remembered(&self) -> usize {
        self.hosts.lock().map.len()
    }

    /// Forgets the hosts nobody holds a slot of (or waits for one: that also holds the host) whose
    /// limit is back at the maximum: a new entry would be the same.
    fn forget_idle(&self, known: &mut Known) {
        let max = self.max_per_host;
        known
            .map
            .retain(|_, host| Arc::strong_count(host) > 1 || host.state.lock().limit < max);
        known.prune_at = (2 * known.map.len()).max(PRUNE_MIN);
    }
}

impl HostSlot {
    /// The server refused this request in a way that means "too many connections". If others to the
    /// same host are busy, halve the host's limit to what was in use; returns whether it did.
    pub(crate) fn refused(&self) -> bool {
        let mut state = self.host.state.lock();
        if state.in_use <= 1 {
            return false;
        }
        let new_limit = (state.in_use / 2).max(1);
        if new_limit >= state.limit {
            return false;
        }
        log::warn!(
            "{} refused a connection while {} were open; using at most {new_limit} connection(s) to it",
            self.host.name,
            state.in_use
        );
        state.limit = new_limit;
        state.clean_since_change = 0;
        true
    }

    /// The request went through cleanly: after `limit` such answers, allow one more connection.
    pub(crate) fn succeeded(&self) {
        let mut state = self.host.state.lock();
        if state.limit >= self.max_per_host {
            return;
        }
        state.clean_since_change += 1;
        if state.clean_since_change >= state.limit {
            state.limit += 1;
            state.clean_since_change = 0;
            log::info!(
                "{}: raising the connection limit to {}",
                self.host.name,
                state.limit
            );
            self.host.slot_freed.notify_one();
        }
    }
}

impl Drop for HostSlot {
    fn drop(&mut self) {
        let mut state = self.host.state.lock();
        state.in_use -= 1;
        self.host.slot_freed.notify_one();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::time::Duration;

    #[test]
    fn a_full_host_makes_the_next_request_wait() {
        let limits = Arc::new(HostLimits::new(1));
        let held = limits.acquire("h");
        let acquired = Arc::new(AtomicBool::new(false));
        let waiter = {
            let limits = Arc::clone(&limits);
            let acquired = Arc::clone(&acquired);
            std::thread::spawn(move || {
                let _slot = limits.acquire("h");
                acquired.store(true, Ordering::SeqCst);
            })
        };
        std::thread::sleep(Duration::from_millis(100));
        assert!(
            !acquired.load(Ordering::SeqCst),
            "the second slot must wait"
        );
        // Another host is not affected.
        drop(limits.acquire("other"));
        drop(held);
        waiter.join().unwrap();
        assert!(acquired.load(Ordering::SeqCst));
        assert_eq!(limits.in_use("h"), 0);
    }

    #[test]
    fn decrease_is_multiplicative_and_increase_additive() {
        let limits = HostLimits::new(8);
        let slots: Vec<HostSlot> = (0..8).map(|_| limits.acquire("h")).collect();
        assert!(slots[0].refused());
        assert_eq!(limits.limit("h"), 4);
        assert!(!slots[1].refused(), "already below what halving 8 gives");
        drop(slots);
        let slot = limits.acquire("h");
        for _ in 0..4 {
            slot.succeeded();
        }
        assert_eq!(limits.limit("h"), 5);
        for _ in 0..100 {
            slot.succeeded();
        }
        assert_eq!(limits.limit("h"), 8, "never above the maximum");
    }

    #[test]
    fn idle_hosts_are_forgotten_and_busy_or_limited_ones_kept() {
        let limits = HostLimits::new(4);
        let busy = limits.acquire("busy");
        {
            let a = limits.acquire("limited");
            let _b = limits.acquire("limited");
            assert!(a.refused());
        }
        for n in 0..10 * PRUNE_MIN {
            drop(limits.acquire(&format!("host{n}")));
        }
        assert!(
            limits.remembered() <= PRUNE_MIN + 2,
            "{}",
            limits.remembered()
        );
        assert_eq!(limits.in_use("busy"), 1);
        assert_eq!(limits.limit("limited"), 1, "a lowered limit is remembered");
        drop(busy);
    }

    #[test]
    fn a_lone_refusal_does_not_shrink_the_limit() {
        let limits = HostLimits::new(4);
        let slot = limits.acquire("h");
        assert!(!slot.refused());
        assert_eq!(limits.limit("h"), 4);
    }
}

#[cfg(test)]
mod examples {
    //! The examples these items once showed in their docs, kept as tests.

    #[test]
    fn acquire_example() {
        use crate::http::hosts::HostLimits;

        let limits = HostLimits::new(4);
        let first = limits.acquire("example.com");
        let _second = limits.acquire("example.com");
        assert_eq!(limits.in_use("example.com"), 2);
        first.refused(); // the server turned one away while two were busy: halve to 1
        assert_eq!(limits.limit("example.com"), 1);
    }
}
