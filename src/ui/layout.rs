//! The text of the live display: pure functions from counters, speeds and a terminal size to lines.
//!
//! Nothing here draws, reads a clock or asks the terminal anything, so every layout decision can be
//! tested on plain strings (see the tests at the bottom). [`crate::ui::display`] samples the counters,
//! calls [`frame`] about ten times a second with the terminal's current size, and hands the lines to
//! the terminal.
//!
//! A frame is one line per active file, then one total line:
//!
//! ```text
//! debian-12.4.0-amd64-netinst.iso      39%    15.6 MiB / 40.0 MiB       2.2 MiB/s  ETA 11s      4 conn
//! live.bin                                     1.3 MiB                197.0 KiB/s               1 conn
//! Total  46.9 MiB / 103.3 MiB+  44%  6.7 MiB/s  ETA 9s  files: 0 done, 5 active, 0 failed, 2 queued
//! ```
//!
//! Every field has a fixed width, so columns stay put while numbers change (no jitter), and a
//! priority: when the terminal is too narrow for all of them, the least important fields are left
//! out first (a file line keeps its name, percent and speed longest), and a name that does not fit is
//! shortened in the middle, where it is least informative (`debian-12…netinst.iso`). Widths are
//! measured in terminal columns, so wide (CJK) characters count twice. No line is ever wider than
//! the terminal, which is what keeps a redraw from wrapping and garbling the screen.

use std::time::Duration;

use unicode_width::{UnicodeWidthChar, UnicodeWidthStr};

use crate::run::progress::Snapshot;
use crate::units::human_bytes;
use crate::units::human_duration;

/// Columns kept between two fields.
const GAP: usize = 2;

/// A name is not shortened below this many columns to make room for less important fields.
const MIN_NAME: usize = 20;

/// Columns left free at the end of the last line, for the `^C` a terminal echoes there.
const ECHO_ROOM: usize = 3;

/// Marks the place where a shortened name was cut.
const ELLIPSIS: char = '…';

/// The priority and width of each field of a known-size file's line, in display order: percent,
/// bytes, speed, ETA, connections.
const KNOWN_COLUMNS: [(u8, usize); 5] = [(1, 4), (5, 23), (2, 12), (4, 10), (3, 7)];

/// One active file as the display sees it in one sample.
#[derive(Debug, Clone, PartialEq)]
pub struct FileView {
    /// The file's name.
    pub name: String,
    /// Bytes on disk so far.
    pub done: u64,
    /// The size, if the server told it.
    pub size: Option<u64>,
    /// Bytes per second, smoothed over the last few seconds.
    pub speed: f64,
    /// Connections transferring its bytes right now.
    pub connections: usize,
    /// While a request of the file waits to be tried again, what to say about it ([`retry_text`]).
    pub retry: Option<String>,
}

/// What a file's line says while one of its requests waits to be tried again: the coming try of
/// how many, in how long, and why the last one failed.
///
/// ```
/// use std::time::Duration;
/// use pardl::ui::layout::retry_text;
///
/// assert_eq!(retry_text(2, 5, Duration::from_millis(2300), "503"), "retry 2/5 in 3s (503)");
/// ```
pub fn retry_text(attempt: u32, max_tries: u32, wait: Duration, reason: &str) -> String {
    let seconds = wait.as_secs_f64().ceil() as u64;
    format!(
        "retry {attempt}/{max_tries} in {} ({reason})",
        human_duration(Duration::from_secs(seconds))
    )
}

/// One field of a line: the texts it can be shown as (widest first) and how much it matters
/// (1 = most).
struct Field {
    variants: Vec<String>,
    priority: u8,
}

impl Field {
    fn new(priority: u8, text: String) -> Field {
        Field {
            variants: vec![text],
            priority,
        }
    }
}

/// Picks, by priority, the widest variant of each field that still fits in `room` columns (each
/// field costs its width plus [`GAP`]); returns the chosen text of each field, in display order.
fn choose(fields: &[Field], mut room: usize) -> Vec<Option<&str>> {
    let mut chosen = vec![None; fields.len()];
    let mut order: Vec<usize> = (0..fields.len()).collect();
    // Stable: fields of equal priority are considered left to right.
    order.sort_by_key(|&i| fields[i].priority);
    for i in order {
        if let Some(text) = fields[i]
            .variants
            .iter()
            .find(|v| text_width(v) + GAP <= room)
        {
            room -= text_width(text) + GAP;
            chosen[i] = Some(text.as_str());
        }
    }
    chosen
}

/// The whole live area: a line per active file (as many as fit in `height` rows, keeping one row
/// free), then the total line. Every line is at most `width` columns, the last one a few less.
///
/// ```
/// use pardl::ui::layout::{frame, FileView};
/// use pardl::Snapshot;
///
/// let files = vec![FileView { name: "a.iso".into(), done: 512, size: Some(1024), speed: 256.0, connections: 2, retry: None }];
/// let snap = Snapshot { bytes: 512, expected_bytes: 1024, links_seen: 1, active: 1, ..Default::default() };
/// let lines = frame(&snap, 256.0, &files, 100, 20);
/// assert_eq!(lines.len(), 2);
/// assert!(lines[0].starts_with("a.iso   50%"), "{}", lines[0]);
/// assert!(lines[1].starts_with("Total  512 B / 1.0 KiB  50%"), "{}", lines[1]);
/// ```
pub fn frame(
    snap: &Snapshot,
    speed: f64,
    files: &[FileView],
    width: usize,
    height: usize,
) -> Vec<String> {
    // One row stays free so the lines printed above the live area scroll instead of being drawn
    // over, and the cursor never has to move above the top of the screen.
    let rows = height.saturating_sub(1).max(1);
    let name_column = files.iter().map(|f| text_width(&f.name)).max().unwrap_or(0);
    let mut lines = Vec::new();
    if files.len() < rows {
        lines.extend(files.iter().map(|f| file_line(f, width, name_column)));
    } else if rows >= 2 {
        let shown = rows - 2;
        lines.extend(
            files[..shown]
                .iter()
                .map(|f| file_line(f, width, name_column)),
        );
        lines.push(fit(
            &format!("… and {} more files", files.len() - shown),
            width,
        ));
    }
    // The cursor rests at the end of the last line, where the terminal echoes a Ctrl-C as `^C`: if
    // that wrapped, the next redraw would leave the top line behind.
    lines.push(total_line(snap, speed, width.saturating_sub(ECHO_ROOM)));
    lines
}

/// One file's line: name, percent, bytes, speed, ETA and live connections, as many as fit in
/// `width` columns. The name column is `name_column` wide where there is room (so the lines of one
/// frame line up), never less than what is left after the fields that fit. A file of unknown size
/// shows the bytes received and the speed, without percent or ETA.
///
/// ```
/// use pardl::ui::layout::{file_line, FileView};
///
/// let file = FileView { name: "big.iso".into(), done: 3 << 20, size: Some(12 << 20), speed: 1048576.0, connections: 4, retry: None };
/// assert_eq!(
///     file_line(&file, 100, 7),
///     "big.iso   25%     3.0 MiB / 12.0 MiB       1.0 MiB/s  ETA 9s       4 conn"
/// );
/// // In 30 columns only the most important fields are left.
/// assert_eq!(file_line(&file, 30, 7), "big.iso   25%     1.0 MiB/s");
///
/// // Nothing moves while a request waits to be tried again; the line says so instead.
/// let waiting = FileView { speed: 0.0, connections: 0, retry: Some("retry 2/5 in 3s (503)".into()), ..file };
/// assert_eq!(
///     file_line(&waiting, 100, 7),
///     "big.iso   25%     3.0 MiB / 12.0 MiB    retry 2/5 in 3s (503)"
/// );
/// ```
pub fn file_line(file: &FileView, width: usize, name_column: usize) -> String {
    // The room for fields depends on the frame's name column, not on this line's name, so every line
    // of a frame makes the same choices and the columns line up.
    let name_column = name_column.max(1);
    let room = width.saturating_sub(name_column.min(MIN_NAME));
    let speed = format!("{:>12}", format!("{}/s", human_bytes(file.speed as u64)));
    let connections = format!("{:>2} conn", file.connections);
    let (fields, room) = match file.size {
        Some(size) => {
            let done = file.done.min(size);
            let percent = (done * 100).checked_div(size).unwrap_or(100);
            let fields = vec![
                Field::new(1, format!("{percent:>3}%")),
                Field::new(
                    5,
                    format!("{:>10} / {:<10}", human_bytes(done), human_bytes(size)),
                ),
                Field::new(2, speed),
                Field::new(4, format!("{:<10}", eta_text(size - done, file.speed))),
                Field::new(3, connections),
            ];
            (fields, room)
        }
        None => {
            let done = human_bytes(file.done);
            // Where a file of known size shows its bytes, this one's bytes take the place of the
            // percent and the bytes, so the columns after them line up; elsewhere just the number.
            let placeholders: Vec<Field> = KNOWN_COLUMNS
                .iter()
                .map(|&(priority, width)| Field::new(priority, " ".repeat(width)))
                .collect();
            let aligned = choose(&placeholders, room)[1].is_some();
            // Not aligned, the number is wider than a percent: the name gives up the difference,
            // so the speed still fits where a known file's does.
            let (bytes, room) = match aligned {
                true => (format!("{:>16}{:13}", done, ""), room),
                false => (format!("{done:>10}"), (room + 6).min(width)),
            };
            let fields = vec![
                Field::new(1, bytes),
                Field::new(2, speed),
                Field::new(4, " ".repeat(10)),
                Field::new(3, connections),
            ];
            (fields, room)
        }
    };
    let fields = match &file.retry {
        // The speed, ETA and connections would all read 0 while nothing is connected: the retry
        // note takes their place, shortened before it is left out.
        Some(note) if file.connections == 0 => {
            let kept = if file.size.is_some() { 2 } else { 1 };
            let mut fields: Vec<Field> = fields.into_iter().take(kept).collect();
            let short = note.split(" (").next().unwrap_or(note).to_string();
            fields.push(Field {
                variants: vec![note.clone(), short],
                priority: 2,
            });
            fields
        }
        _ => fields,
    };
    let chosen = choose(&fields, room);
    let used: usize = chosen.iter().flatten().map(|t| text_width(t) + GAP).sum();
    let name_room = width.saturating_sub(used).min(name_column);
    let mut line = pad(&shorten(&file.name, name_room), name_room);
    for text in chosen.into_iter().flatten() {
        line.push_str(&" ".repeat(GAP));
        line.push_str(text);
    }
    fit(line.trim_end(), width)
}

/// `ETA 1m05s`, or `ETA ?` when nothing is arriving, or nothing when the file is complete.
fn eta_text(remaining: u64, speed: f64) -> String {
    if remaining == 0 {
        String::new()
    } else if speed < 1.0 {
        "ETA ?".to_string()
    } else {
        let seconds = (remaining as f64 / speed).ceil().min(u64::MAX as f64) as u64;
        format!("ETA {}", human_duration(Duration::from_secs(seconds)))
    }
}

/// The total line: bytes so far out of the known total, percent, speed, ETA, and how many links are
/// done, active, failed and queued; as many of those as fit in `width` columns. While files of
/// unknown size are downloading, the total is a lower bound (`/ 12.0 MiB+`), and the percent and ETA
/// are those of the files of known size.
///
/// ```
/// use pardl::ui::layout::total_line;
/// use pardl::Snapshot;
///
/// let snap = Snapshot { bytes: 1 << 20, expected_bytes: 4 << 20, links_seen: 5, ok: 1, failed: 1, active: 2, ..Default::default() };
/// assert_eq!(
///     total_line(&snap, 524288.0, 100),
///     "Total  1.0 MiB / 4.0 MiB  25%  512.0 KiB/s  ETA 6s  files: 1 done, 2 active, 1 failed, 1 queued"
/// );
/// assert_eq!(total_line(&snap, 524288.0, 40), "1.0 MiB / 4.0 MiB  25%  512.0 KiB/s");
/// ```
pub fn total_line(snap: &Snapshot, speed: f64, width: usize) -> String {
    let known = snap.expected_bytes > 0;
    let mut fields = vec![Field::new(6, "Total".to_string())];
    // Bytes of the files of known size: what the percent and the ETA are about.
    let done = snap
        .bytes
        .saturating_sub(snap.unsized_bytes)
        .min(snap.expected_bytes);
    if known {
        let (total, more) = match snap.unsized_files {
            0 => (snap.expected_bytes, ""),
            _ => (snap.expected_bytes + snap.unsized_bytes, "+"),
        };
        fields.push(Field::new(
            1,
            format!("{} / {}{more}", human_bytes(snap.bytes), human_bytes(total)),
        ));
        fields.push(Field::new(
            2,
            format!("{}%", done * 100 / snap.expected_bytes),
        ));
    } else {
        fields.push(Field::new(1, human_bytes(snap.bytes)));
    }
    fields.push(Field::new(3, format!("{}/s", human_bytes(speed as u64))));
    if known && snap.expected_bytes > done {
        fields.push(Field::new(5, eta_text(snap.expected_bytes - done, speed)));
    }
    fields.push(Field {
        variants: vec![
            format!(
                "files: {} done, {} active, {} failed, {} queued",
                snap.succeeded(),
                snap.active,
                snap.failed,
                snap.queued()
            ),
            format!(
                "{}/{} done, {} failed",
                snap.succeeded(),
                snap.links_seen,
                snap.failed
            ),
            format!("{}/{} done", snap.succeeded(), snap.links_seen),
        ],
        priority: 4,
    });
    // The first field has no gap before it, so it may use the columns of one.
    let chosen = choose(&fields, width.saturating_add(GAP));
    let line = chosen.into_iter().flatten().collect::<Vec<_>>().join("  ");
    fit(&line, width)
}

/// Columns `text` takes on a terminal.
///
/// ```
/// assert_eq!(pardl::ui::layout::text_width("abc"), 3);
/// assert_eq!(pardl::ui::layout::text_width("日本"), 4);
/// ```
pub fn text_width(text: &str) -> usize {
    UnicodeWidthStr::width(text)
}

/// `name` cut in the middle to at most `width` columns, keeping its start and its end (where the
/// extension and version numbers are).
///
/// ```
/// use pardl::ui::layout::shorten;
///
/// assert_eq!(shorten("debian-12.4.0-amd64-netinst.iso", 20), "debian-12.4.…nst.iso");
/// assert_eq!(shorten("short.iso", 20), "short.iso");
/// assert_eq!(shorten("abcdef", 1), "…");
/// ```
pub fn shorten(name: &str, width: usize) -> String {
    if text_width(name) <= width {
        return name.to_string();
    }
    if width == 0 {
        return String::new();
    }
    // Left of the cut gets a little more: the start of a name tells most about it.
    let room = width - 1;
    let tail_room = room * 2 / 5;
    let head = take_columns(name.chars(), room - tail_room);
    let tail: String = take_columns(name.chars().rev(), tail_room)
        .chars()
        .rev()
        .collect();
    format!("{head}{ELLIPSIS}{tail}")
}

/// The longest run of `chars` (in the order given) that fits in `width` columns.
fn take_columns(chars: impl Iterator<Item = char>, width: usize) -> String {
    let mut taken = String::new();
    let mut used = 0;
    for c in chars {
        let w = c.width().unwrap_or(0);
        if used + w > width {
            break;
        }
        used += w;
        taken.push(c);
    }
    taken
}

/// `text` padded with spaces to `width` columns.
fn pad(text: &str, width: usize) -> String {
    let missing = width.saturating_sub(text_width(text));
    format!("{text}{}", " ".repeat(missing))
}

/// `text` cut (at the end) to at most `width` columns: the last guard against a line that would
/// wrap.
///
/// ```
/// assert_eq!(pardl::ui::layout::fit("abcdef", 4), "abcd");
/// ```
pub fn fit(text: &str, width: usize) -> String {
    if text_width(text) <= width {
        text.to_string()
    } else {
        take_columns(text.chars(), width)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIB: u64 = 1 << 20;

    fn file(name: &str, done: u64, size: Option<u64>) -> FileView {
        FileView {
            name: name.into(),
            done,
            size,
            speed: 2.0 * MIB as f64,
            connections: 4,
            retry: None,
        }
    }

    fn snap() -> Snapshot {
        Snapshot {
            bytes: 30 * MIB,
            expected_bytes: 100 * MIB,
            links_seen: 12,
            ok: 3,
            skipped: 1,
            failed: 1,
            active: 2,
            ..Default::default()
        }
    }

    #[test]
    fn no_line_is_wider_than_the_terminal() {
        let files = vec![
            file(&"long-name-".repeat(20), 10 * MIB, Some(100 * MIB)),
            file("日本語のファイル名.iso", 5 * MIB, None),
            file("x", 0, Some(0)),
        ];
        for width in 0..=200 {
            for line in frame(&snap(), 1e6, &files, width, 30) {
                assert!(text_width(&line) <= width, "{width}: {line:?}");
            }
        }
    }

    #[test]
    fn the_last_line_leaves_room_for_an_echoed_ctrl_c() {
        for width in 10..=200 {
            let lines = frame(&snap(), 1e6, &[file("a", 1, Some(2))], width, 30);
            let last = lines.last().unwrap();
            assert!(text_width(last) + 2 < width, "{width}: {last:?}");
        }
    }

    #[test]
    fn columns_line_up_across_files() {
        let files = vec![
            file("a.iso", 10 * MIB, Some(100 * MIB)),
            file("much-longer-name.tar.gz", 50 * MIB, Some(60 * MIB)),
            file("stream.bin", 7 * MIB, None),
        ];
        let lines = frame(&snap(), 1e6, &files, 120, 30);
        let speed_column = |line: &str| line.find("MiB/s").unwrap();
        assert_eq!(
            speed_column(&lines[0]),
            speed_column(&lines[1]),
            "{lines:#?}"
        );
        assert_eq!(
            speed_column(&lines[0]),
            speed_column(&lines[2]),
            "{lines:#?}"
        );
        let conn_column = |line: &str| line.find("conn").unwrap();
        assert_eq!(conn_column(&lines[0]), conn_column(&lines[2]), "{lines:#?}");
    }

    #[test]
    fn unknown_size_shows_bytes_and_speed_but_no_percent_or_eta() {
        let line = file_line(&file("stream.bin", 7 * MIB, None), 100, 10);
        assert!(line.contains("7.0 MiB"), "{line}");
        assert!(line.contains("2.0 MiB/s"), "{line}");
        assert!(!line.contains('%') && !line.contains("ETA"), "{line}");
        // Narrow: the bytes survive (they are what there is to show) with the speed, the percent
        // never appears; with long names around too.
        for name_column in [10, 40] {
            let narrow = file_line(&file("stream.bin", 7 * MIB, None), 40, name_column);
            assert!(
                narrow.contains("7.0 MiB") && !narrow.contains('%'),
                "{narrow}"
            );
            assert!(narrow.contains("MiB/s"), "{narrow}");
            assert!(text_width(&narrow) <= 40);
        }
    }

    #[test]
    fn long_names_are_shortened_in_the_middle_to_fit() {
        let name = "a-very-long-file-name-that-goes-on-and-on-version-1.2.3.tar.gz";
        let line = file_line(&file(name, 10 * MIB, Some(100 * MIB)), 80, text_width(name));
        assert!(line.starts_with("a-very-long"), "{line}");
        assert!(line.contains('…'), "{line}");
        assert!(line.contains(".tar.gz"), "{line}");
        assert!(line.contains("10%"), "{line}");
        assert!(text_width(&line) <= 80);
    }

    #[test]
    fn narrow_terminals_keep_name_percent_and_speed() {
        let f = file("ubuntu-24.04-desktop-amd64.iso", 10 * MIB, Some(100 * MIB));
        let line = file_line(&f, 40, 30);
        assert!(line.contains("10%"), "{line}");
        assert!(line.contains("MiB/s"), "{line}");
        assert!(line.starts_with("ubuntu"), "{line}");
        assert!(!line.contains("ETA"), "{line}");
        // Very narrow: whatever is left still fits.
        for width in [1, 5, 10, 15, 20] {
            let line = file_line(&f, width, 30);
            assert!(text_width(&line) <= width, "{width}: {line:?}");
        }
    }

    #[test]
    fn wide_characters_count_double() {
        let name = "日本語のファイル名がとても長い場合.iso";
        let shortened = shorten(name, 15);
        assert!(text_width(&shortened) <= 15, "{shortened}");
        assert!(shortened.ends_with(".iso"), "{shortened}");
    }

    #[test]
    fn total_line_drops_fields_by_priority() {
        let s = snap();
        let full = total_line(&s, 1e6, 120);
        assert_eq!(
            full,
            "Total  30.0 MiB / 100.0 MiB  30%  976.6 KiB/s  ETA 1m14s  files: 4 done, 2 active, 1 failed, 5 queued"
        );
        let medium = total_line(&s, 1e6, 70);
        assert_eq!(
            medium,
            "30.0 MiB / 100.0 MiB  30%  976.6 KiB/s  ETA 1m14s  4/12 done, 1 failed"
        );
        let narrow = total_line(&s, 1e6, 30);
        assert_eq!(narrow, "30.0 MiB / 100.0 MiB  30%");
    }

    #[test]
    fn total_with_a_file_of_unknown_size_is_a_lower_bound() {
        let s = Snapshot {
            bytes: 15 * MIB,
            expected_bytes: 10 * MIB,
            unsized_files: 1,
            unsized_bytes: 6 * MIB,
            links_seen: 2,
            active: 2,
            ..Default::default()
        };
        assert_eq!(
            total_line(&s, MIB as f64, 100),
            "Total  15.0 MiB / 16.0 MiB+  90%  1.0 MiB/s  ETA 1s  files: 0 done, 2 active, 0 failed, 0 queued"
        );
    }

    #[test]
    fn an_unlimited_width_shows_everything() {
        // What the plain (non-terminal) output asks for.
        let line = total_line(&snap(), 1e6, usize::MAX);
        assert!(
            line.starts_with("Total") && line.ends_with("5 queued"),
            "{line}"
        );
    }

    #[test]
    fn total_without_known_sizes_has_no_percent_or_eta() {
        let s = Snapshot {
            bytes: 2048,
            links_seen: 1,
            active: 1,
            ..Default::default()
        };
        assert_eq!(
            total_line(&s, 1024.0, 100),
            "Total  2.0 KiB  1.0 KiB/s  files: 0 done, 1 active, 0 failed, 0 queued"
        );
    }

    #[test]
    fn too_many_files_for_the_screen_are_summed_up() {
        let files: Vec<FileView> = (0..10)
            .map(|i| file(&format!("f{i}"), MIB, Some(2 * MIB)))
            .collect();
        let lines = frame(&snap(), 0.0, &files, 80, 6);
        assert_eq!(lines.len(), 5, "{lines:#?}");
        assert!(lines[0].starts_with("f0"));
        assert_eq!(lines[3], "… and 7 more files");
        assert!(lines[4].contains("30.0 MiB / 100.0 MiB"), "{lines:#?}");
        // A screen of one or two rows still shows the total.
        assert_eq!(frame(&snap(), 0.0, &files, 80, 1).len(), 1);
        assert_eq!(frame(&snap(), 0.0, &files, 80, 2).len(), 1);
    }

    #[test]
    fn a_file_waiting_to_retry_says_so_instead_of_zeros() {
        let mut waiting = file("flaky.bin", 0, Some(4 * MIB));
        waiting.speed = 0.0;
        waiting.connections = 0;
        waiting.retry = Some(retry_text(2, 5, Duration::from_secs(3), "503"));
        let line = file_line(&waiting, 100, 9);
        assert_eq!(
            line,
            "flaky.bin    0%         0 B / 4.0 MiB     retry 2/5 in 3s (503)"
        );
        // Narrower: the reason goes first, the note before the bytes.
        assert_eq!(
            file_line(&waiting, 35, 9),
            "flaky.bin    0%  retry 2/5 in 3s"
        );
        let sizeless = FileView {
            size: None,
            ..waiting.clone()
        };
        let sizeless_line = file_line(&sizeless, 100, 9);
        assert_eq!(
            sizeless_line.find("retry"),
            line.find("retry"),
            "{sizeless_line}"
        );
        // A retry while other connections work shows the usual line.
        let busy = FileView {
            connections: 3,
            ..waiting
        };
        assert!(file_line(&busy, 100, 9).ends_with("3 conn"));
        assert_eq!(
            retry_text(3, 5, Duration::from_secs(75), "timeout"),
            "retry 3/5 in 1m15s (timeout)"
        );
    }

    #[test]
    fn eta_says_when_nothing_arrives() {
        let mut f = file("a", 0, Some(MIB));
        f.speed = 0.0;
        assert!(file_line(&f, 100, 1).contains("ETA ?"));
        let done = file("a", MIB, Some(MIB));
        assert!(!file_line(&done, 100, 1).contains("ETA"));
    }
}
