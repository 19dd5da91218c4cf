//! What the server saw: how many requests a ranged download makes, and whether the requests of one
//! download tile the file exactly once.

use std::ops::Range;

use pardl::ChunkPlan;
use pardl_testserver::RequestRecord;

/// The probe's `Range`: the whole file, open-ended.
pub const PROBE_RANGE: &str = "bytes=0-";

/// The ranges a fresh ranged download of `total` bytes plans: one per connection (fewer, none under
/// `min_chunk`, for a small file), the first read over the probe's open-ended answer.
pub fn planned_ranges(total: u64, min_chunk: u64, connections: usize) -> Vec<Range<u64>> {
    ChunkPlan::new(total, total, connections, min_chunk)
        .ranges()
        .into_iter()
        .map(|(range, _)| range)
        .collect()
}

/// How many requests a ranged download of `total` bytes makes when no connection is slower than the
/// others: one per planned range, the probe being the first.
pub fn expected_requests(total: u64, min_chunk: u64, connections: usize) -> usize {
    planned_ranges(total, min_chunk, connections).len()
}

/// Where the first planned range ends: how far the probe's open-ended answer is read.
pub fn probe_end(total: u64, min_chunk: u64, connections: usize) -> u64 {
    planned_ranges(total, min_chunk, connections)[0].end
}

/// Parses `bytes=A-B` into `A..B+1`. The probe's open-ended `bytes=0-` is read only up to the end
/// of the first planned range, `probe_end`: that is its span.
pub fn parse_range(value: &str, probe_end: u64) -> Range<u64> {
    let spec = value
        .strip_prefix("bytes=")
        .unwrap_or_else(|| panic!("not a byte range: {value:?}"));
    let (start, end) = spec
        .split_once('-')
        .unwrap_or_else(|| panic!("not a byte range: {value:?}"));
    let start: u64 = start.parse().expect("range start");
    if end.is_empty() {
        return start..probe_end;
    }
    let end: u64 = end.parse().expect("range end");
    start..end + 1
}

/// Asserts that `records` are one ranged download of `total` bytes with `min_chunk` and
/// `connections`: one request per planned range, the first being the probe (`bytes=0-`, read for
/// the first range), the others asking for exactly the other ranges, all answered `206`.
#[track_caller]
pub fn assert_ranged_download(
    records: &[RequestRecord],
    total: u64,
    min_chunk: u64,
    connections: usize,
) {
    let ranges: Vec<Option<String>> = records.iter().map(|r| r.range.clone()).collect();
    assert_eq!(
        records.len(),
        expected_requests(total, min_chunk, connections),
        "request count for a {total}-byte file (k={min_chunk}, x={connections}); ranges: {ranges:?}"
    );
    assert!(
        records.iter().all(|r| r.method == "GET"),
        "only GETs expected: {records:?}"
    );
    assert_eq!(
        ranges[0].as_deref(),
        Some(PROBE_RANGE),
        "the first request is the probe"
    );
    let planned = planned_ranges(total, min_chunk, connections);
    let mut spans: Vec<Range<u64>> = records
        .iter()
        .map(|r| {
            parse_range(
                r.range
                    .as_deref()
                    .unwrap_or_else(|| panic!("a request without Range: {ranges:?}")),
                planned[0].end,
            )
        })
        .collect();
    spans.sort_by_key(|s| s.start);
    assert_eq!(spans, planned, "the ranges asked for: {ranges:?}");
    assert!(
        records.iter().all(|r| r.status == 206),
        "every ranged request is answered 206"
    );
}

/// The ranges of `records` that begin strictly inside the range of another request of the same
/// download: a split (another connection took over the upper part of a range) or a retry (a chunk
/// continued from where it stopped). The probe's span ends at `probe_end` ([`parse_range`]).
pub fn ranges_starting_inside_others(records: &[RequestRecord], probe_end: u64) -> Vec<Range<u64>> {
    let spans: Vec<Range<u64>> = records
        .iter()
        .filter_map(|r| {
            r.range
                .as_deref()
                .map(|range| parse_range(range, probe_end))
        })
        .collect();
    spans
        .iter()
        .filter(|s| {
            spans
                .iter()
                .any(|other| other.start < s.start && s.start < other.end)
        })
        .cloned()
        .collect()
}

/// Asserts that the ranges of `records` account for the bytes `wanted` (the whole file, or what a
/// resumed download was missing) exactly once when each range is cut where a later one begins
/// inside it (a split or a retry takes over from there): from one range's start to the next start,
/// some range asked for those bytes, and none asked for bytes outside `wanted`. The probe's span ends
/// at `probe_end` ([`parse_range`]).
#[track_caller]
pub fn assert_ranges_cover(records: &[RequestRecord], wanted: Range<u64>, probe_end: u64) {
    let (first, total) = (wanted.start, wanted.end);
    let spans: Vec<Range<u64>> = records
        .iter()
        .map(|r| {
            parse_range(
                r.range.as_deref().expect("every request has a Range"),
                probe_end,
            )
        })
        .collect();
    let mut starts: Vec<u64> = spans.iter().map(|s| s.start).collect();
    starts.sort_unstable();
    starts.dedup();
    assert_eq!(
        starts.first(),
        Some(&first),
        "nothing asked for the first byte: {spans:?}"
    );
    for (i, &start) in starts.iter().enumerate() {
        let next = starts.get(i + 1).copied().unwrap_or(total);
        assert!(
            spans.iter().any(|s| s.start == start && s.end >= next),
            "bytes {start}..{next} were asked for by no range: {spans:?}"
        );
    }
    assert!(
        spans.iter().all(|s| s.end <= total),
        "a range past the end: {spans:?}"
    );
}
