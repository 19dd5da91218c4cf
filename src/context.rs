//! What every thread of a run shares: settings, the HTTP agent, counters, host limits, and the
//! cancel flag.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use ureq::Agent;

use crate::config::Config;
use crate::hosts::HostLimits;
use crate::http::build_agent;
use crate::progress::Progress;

/// The shared state of a run; one `Arc<Context>` is cloned into every task.
#[derive(Debug)]
pub struct Context {
    /// The settings.
    pub config: Config,
    /// The one HTTP agent (one connection pool) of the run.
    pub agent: Agent,
    /// Progress counters.
    pub progress: Arc<Progress>,
    /// Connections per host.
    pub hosts: HostLimits,
    /// Set on Ctrl-C: stop starting work, finish current writes, save state.
    cancel: Arc<AtomicBool>,
}

impl Context {
    /// A context for `config`.
    pub fn new(config: Config) -> Context {
        Context {
            agent: build_agent(&config),
            hosts: HostLimits::new(config.max_per_host),
            config,
            progress: Arc::new(Progress::new()),
            cancel: Arc::new(AtomicBool::new(false)),
        }
    }

    /// Whether the run was asked to stop.
    pub fn is_cancelled(&self) -> bool {
        self.cancel.load(Ordering::Relaxed)
    }

    /// The flag that stops the run when set (for a Ctrl-C handler).
    pub fn cancel_flag(&self) -> Arc<AtomicBool> {
        Arc::clone(&self.cancel)
    }

    /// Sleeps for `wait`, waking early if the run is cancelled; returns false if it was.
    pub fn sleep(&self, wait: Duration) -> bool {
        self.sleep_unless(wait, || false)
    }

    /// Sleeps for `wait`, waking early if the run is cancelled or `stop()` becomes true (a retry
    /// wait ends as soon as another chunk of the file has failed); returns false if it woke early.
    pub fn sleep_unless(&self, wait: Duration, stop: impl Fn() -> bool) -> bool {
        let until = Instant::now() + wait;
        loop {
            if self.is_cancelled() || stop() {
                return false;
            }
            let now = Instant::now();
            if now >= until {
                return true;
            }
            std::thread::sleep((until - now).min(Duration::from_millis(100)));
        }
    }
}
