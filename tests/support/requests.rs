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
