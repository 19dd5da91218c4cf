//! Counters and the request log that tests assert on.

use std::collections::{BTreeMap, HashMap};

use crate::Fault;

/// A snapshot of what the server has done since it started (or since the
/// last [`reset_stats`](crate::TestServer::reset_stats)).
///
/// Ordering guarantees, so assertions right after a download do not race
/// the server's threads: a request is counted and recorded before its
/// response headers are written; body bytes are counted before they are
/// written; a response leaves the in-flight gauges before its last write.
/// The one thing the server cannot know early is that a client closed a
/// connection: it still counts as open until its thread reads the EOF
/// (normally microseconds later). So when comparing `open_connections_peak`
/// across phases of one test, prefer a fresh server per phase or a `>=`.
#[derive(Clone, Debug, Default)]
pub struct Stats {
    /// Requests answered, all paths (including 404s and other errors;
    /// unparseable requests answered `400` are not counted).
    pub requests: usize,
    /// TCP connections accepted.
    pub connections: usize,
    /// Most TCP connections open at the same time: proves a client really
    /// used several connections at once.
    pub open_connections_peak: usize,
    /// Most responses being sent at the same time, all paths.
    pub in_flight_peak: usize,
    /// Body bytes written (headers and chunked framing not counted). Counted
    /// just before each slice is written, so once a client has received a
    /// body it is already included; a slice whose write fails is not.
    pub bytes_sent: u64,
    /// Faults injected, all paths: the total length of every
    /// [`RequestRecord::faults`].
    pub faults_injected: usize,
    /// The same per request path (query string removed), including paths
    /// that got a 404.
    pub per_path: BTreeMap<String, PathStats>,
}

impl Stats {
    /// The stats for `path`, or zeros if it was never requested.
    pub fn path(&self, path: &str) -> PathStats {
        self.per_path.get(path).cloned().unwrap_or_default()
    }
}

/// Per-path counters within [`Stats`].
#[derive(Clone, Debug, Default)]
pub struct PathStats {
    /// Requests answered for this path.
    pub requests: usize,
    /// Most responses for this path being sent at the same time: above 1
    /// proves a client fetched several chunks of one file concurrently.
    pub in_flight_peak: usize,
    /// Body bytes written for this path.
    pub bytes_sent: u64,
    /// Faults injected into responses for this path (a response with a
    /// stall and a reset counts 2). Counted when the response starts,
    /// together with `requests`.
    pub faults_injected: usize,
    /// Responses for this path with at least one fault; `requests -
    /// faulty_responses` answered cleanly.
    pub faulty_responses: usize,
    /// Requests for this path refused by
    /// [`max_concurrent`](crate::Behaviour::max_concurrent) (also counted
    /// in the two above).
    pub refusals: usize,
}

/// One request as the server saw it, with the status it answered.
#[derive(Clone, Debug)]
pub struct RequestRecord {
    /// `GET`, `HEAD`, …
    pub method: String,
    /// Request path, query string removed.
    pub path: String,
    /// Raw value of the `Range` header, if any.
    pub range: Option<String>,
    /// Status code answered.
    pub status: u16,
    /// All request headers in order, names as the client spelled them.
    pub headers: Vec<(String, String)>,
    /// The faults injected into the response, in the order the client meets
    /// them; empty for a clean answer.
    pub faults: Vec<Fault>,
}

impl RequestRecord {
    /// The first request header called `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// The live state behind [`Stats`]: totals and peaks plus the "now" gauges
/// the peaks are computed from. Lives under one mutex; every update is a few
/// integer operations, so contention is irrelevant next to socket writes.
#[derive(Default)]
pub(crate) struct StatsState {
    totals: Stats,
    open_now: usize,
    in_flight_now: usize,
    path_in_flight_now: HashMap<String, usize>,
    records: Vec<RequestRecord>,
}

impl StatsState {
    pub(crate) fn snapshot(&self) -> Stats {
        self.totals.clone()
    }

    pub(crate) fn records_for(&self, path: &str) -> Vec<RequestRecord> {
        self.records
            .iter()
            .filter(|r| r.path == path)
            .cloned()
            .collect()
    }

    pub(crate) fn connection_opened(&mut self) {
        self.totals.connections += 1;
        self.open_now += 1;
        self.totals.open_connections_peak = self.totals.open_connections_peak.max(self.open_now);
    }

    pub(crate) fn connection_closed(&mut self) {
        self.open_now = self.open_now.saturating_sub(1);
    }

    pub(crate) fn response_started(&mut self, record: RequestRecord) {
        self.totals.requests += 1;
        self.in_flight_now += 1;
        self.totals.in_flight_peak = self.totals.in_flight_peak.max(self.in_flight_now);

        let now = self
            .path_in_flight_now
            .entry(record.path.clone())
            .or_insert(0);
        *now += 1;
        let path = self.totals.per_path.entry(record.path.clone()).or_default();
        path.requests += 1;
        path.in_flight_peak = path.in_flight_peak.max(*now);
        if !record.faults.is_empty() {
            let refused = record
                .faults
                .iter()
                .filter(|f| matches!(f, Fault::Refused(_)))
                .count();
            path.faults_injected += record.faults.len();
            path.faulty_responses += 1;
            path.refusals += refused;
            self.totals.faults_injected += record.faults.len();
        }

        self.records.push(record);
    }

    pub(crate) fn response_finished(&mut self, path: &str) {
        self.in_flight_now = self.in_flight_now.saturating_sub(1);
        if let Some(now) = self.path_in_flight_now.get_mut(path) {
            *now = now.saturating_sub(1);
            if *now == 0 {
                self.path_in_flight_now.remove(path);
            }
        }
    }

    pub(crate) fn add_bytes(&mut self, path: &str, n: u64) {
        self.totals.bytes_sent += n;
        // get_mut first: this runs for every body slice, and the entry always
        // exists already (response_started created it).
        match self.totals.per_path.get_mut(path) {
            Some(p) => p.bytes_sent += n,
            None => {
                self.totals
                    .per_path
                    .entry(path.to_owned())
                    .or_default()
                    .bytes_sent += n
            }
        }
    }

    /// Undoes [`add_bytes`](Self::add_bytes) for a slice whose write failed.
    pub(crate) fn sub_bytes(&mut self, path: &str, n: u64) {
        // Saturating: a reset_stats between add and sub must not underflow.
        self.totals.bytes_sent = self.totals.bytes_sent.saturating_sub(n);
        if let Some(p) = self.totals.per_path.get_mut(path) {
            p.bytes_sent = p.bytes_sent.saturating_sub(n);
        }
    }

    /// Zeroes totals and forgets the request log. Connections and responses
    /// that are still open at this moment keep counting (their gauges are
    /// live), so each peak restarts at the current level rather than zero.
    pub(crate) fn reset(&mut self) {
        let mut totals = Stats {
            open_connections_peak: self.open_now,
            in_flight_peak: self.in_flight_now,
            ..Stats::default()
        };
        for (path, &now) in &self.path_in_flight_now {
            totals.per_path.insert(
                path.clone(),
                PathStats {
                    in_flight_peak: now,
                    ..PathStats::default()
                },
            );
        }
        self.totals = totals;
        self.records.clear();
    }
}
