//! Reading the `--report` file (JSON lines, one per finished link; the schema is docs/report.md).

use std::collections::BTreeSet;
use std::fs;
use std::path::Path;

use serde_json::Value;

/// Reads the `--report` file at `path`: one parsed JSON object per line. A line that does not parse
/// fails the test.
pub fn report_lines(path: &Path) -> Vec<Value> {
    fs::read_to_string(path)
        .expect("report written")
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}")))
        .collect()
}

/// The report line of the link whose URL ends with `suffix`.
pub fn report_line_for<'a>(lines: &'a [Value], suffix: &str) -> &'a Value {
    lines
        .iter()
        .find(|l| l["url"].as_str().is_some_and(|u| u.ends_with(suffix)))
        .unwrap_or_else(|| panic!("no report line for {suffix}: {lines:#?}"))
}

/// The URLs a report's text marks `ok`, skipping lines that do not parse (a journal cut short by a
/// kill): what `--skip-done` would skip.
pub fn report_ok_urls(report: &str) -> BTreeSet<String> {
    report
        .lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .filter(|v| v["status"] == "ok")
        .map(|v| v["url"].as_str().unwrap().to_owned())
        .collect()
}
