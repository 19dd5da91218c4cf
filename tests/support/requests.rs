//! What the server saw: how many requests a ranged download makes, and whether the requests of one
//! download tile the file exactly once.

use std::ops::Range;

use pardl::ChunkPlan;
use pardl_testserver::RequestRecord;

/// How many requests a ranged download of `total` bytes makes: the probe is the first chunk, and
/// the plan decides the rest.
pub fn expected_requests(total: u64, min_chunk: u64, connections: usize) -> usize {
    ChunkPlan::new(total, min_chunk, connections, min_chunk)
        .chunks()
        .len()
}

/// Parses `bytes=A-B` into `A..B+1`.
pub fn parse_range(value: &str) -> Range<u64> {
    let spec = value
        .strip_prefix("bytes=")
        .unwrap_or_else(|| panic!("not a byte range: {value:?}"));
    let (start, end) = spec
        .split_once('-')
        .unwrap_or_else(|| panic!("not a byte range: {value:?}"));
    let start: u64 = start.parse().expect("range start");
    let end: u64 = end.parse().expect("range end");
    start..end + 1
}

/// Asserts that `records` are one ranged download of `total` bytes with `min_chunk` and
/// `connections`: as many requests as the plan has chunks, the first being the probe for
/// `0..min(min_chunk, total)`, and the ranges together tiling the file exactly once.
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
    let mut spans: Vec<Range<u64>> = records
        .iter()
        .map(|r| {
            parse_range(
                r.range
                    .as_deref()
                    .unwrap_or_else(|| panic!("a request without Range: {ranges:?}")),
            )
        })
        .collect();
    assert_eq!(
        spans[0],
        0..min_chunk.min(total),
        "the first request is the probe for the first chunk"
    );
    spans.sort_by_key(|s| s.start);
    let mut at = 0;
    for span in &spans {
        assert_eq!(span.start, at, "gap or overlap in the ranges {ranges:?}");
        assert!(span.end > span.start);
        at = span.end;
    }
    assert_eq!(at, total, "the ranges do not reach the end: {ranges:?}");
    assert!(
        records.iter().all(|r| r.status == 206),
        "every ranged request is answered 206"
    );
}

/// The ranges of `records` that begin strictly inside the range of another request of the same
/// download: a split (another connection took over the upper part of a range) or a retry (a chunk
/// continued from where it stopped).
pub fn ranges_starting_inside_others(records: &[RequestRecord]) -> Vec<Range<u64>> {
    let spans: Vec<Range<u64>> = records
        .iter()
        .filter_map(|r| r.range.as_deref().map(parse_range))
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
/// some range asked for those bytes, and none asked for bytes outside `wanted`.
#[track_caller]
pub fn assert_ranges_cover(records: &[RequestRecord], wanted: Range<u64>) {
    let (first, total) = (wanted.start, wanted.end);
    let spans: Vec<Range<u64>> = records
        .iter()
        .map(|r| parse_range(r.range.as_deref().expect("every request has a Range")))
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
