//! Sizes and durations as people write and read them: `512K` on the command line, `12.3 MiB` and
//! `3m07s` in the display, the result lines and the summary.

use std::time::Duration;

/// Parses a byte size as users write it: `1048576`, `512K`, `1M`, `1.5G` (binary multiples; a trailing
/// `B` or `iB` is accepted too).
///
/// ```
/// use pardl::units::parse_size;
///
/// assert_eq!(parse_size("1M"), Ok(1024 * 1024));
/// assert_eq!(parse_size("512k"), Ok(512 * 1024));
/// assert_eq!(parse_size("1.5GiB"), Ok(3 * 512 * 1024 * 1024));
/// assert_eq!(parse_size("4096"), Ok(4096));
/// assert!(parse_size("lots").is_err());
/// ```
pub fn parse_size(text: &str) -> Result<u64, String> {
    let trimmed = text.trim();
    let lower = trimmed.to_ascii_lowercase();
    let without_b = lower
        .strip_suffix("ib")
        .or_else(|| lower.strip_suffix('b'))
        .unwrap_or(&lower);
    let (number, multiplier) = match without_b.chars().last() {
        Some('k') => (&without_b[..without_b.len() - 1], 1u64 << 10),
        Some('m') => (&without_b[..without_b.len() - 1], 1 << 20),
        Some('g') => (&without_b[..without_b.len() - 1], 1 << 30),
        Some('t') => (&without_b[..without_b.len() - 1], 1 << 40),
        _ => (without_b, 1),
    };
    let invalid = || format!("invalid size '{trimmed}' (expected e.g. 4096, 512K, 1M, 2G)");
    let value: f64 = number.trim().parse().map_err(|_| invalid())?;
    if !value.is_finite() || value < 0.0 {
        return Err(invalid());
    }
    let bytes = value * multiplier as f64;
    if bytes > u64::MAX as f64 {
        return Err(format!("size '{trimmed}' is too large"));
    }
    Ok(bytes.round() as u64)
}

/// Formats a byte count for people: `1023 B`, `1.5 KiB`, `12.3 MiB`.
///
/// ```
/// assert_eq!(pardl::units::human_bytes(1536), "1.5 KiB");
/// assert_eq!(pardl::units::human_bytes(10), "10 B");
/// ```
pub fn human_bytes(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["KiB", "MiB", "GiB", "TiB", "PiB"];
    if bytes < 1024 {
        return format!("{bytes} B");
    }
    let mut value = bytes as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    format!("{value:.1} {}", UNITS[unit])
}

/// Formats a duration for people: `42s`, `3m07s`, `1h02m`.
///
/// ```
/// use std::time::Duration;
/// assert_eq!(pardl::units::human_duration(Duration::from_secs(187)), "3m07s");
/// ```
pub fn human_duration(d: Duration) -> String {
    let s = d.as_secs();
    match s {
        0..=59 => format!("{s}s"),
        60..=3599 => format!("{}m{:02}s", s / 60, s % 60),
        _ => format!("{}h{:02}m", s / 3600, (s % 3600) / 60),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_reject_negative_and_empty() {
        assert!(parse_size("-1M").is_err());
        assert!(parse_size("").is_err());
        assert!(parse_size("M").is_err());
        assert_eq!(parse_size(" 2 M "), Ok(2 << 20));
        assert_eq!(parse_size("0"), Ok(0));
    }

    #[test]
    fn human_bytes_switches_units() {
        assert_eq!(human_bytes(1024 * 1024), "1.0 MiB");
        assert_eq!(human_bytes(5 * 1024 * 1024 * 1024), "5.0 GiB");
    }
}
