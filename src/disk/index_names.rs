//! Names by position in the list (`--names index`): `000000042.jpg` for the link at position 42.
//!
//! The default names (see [`crate::disk::names`]) come from the URL, and two links that want the same
//! one are told apart by a number given in link order, which needs the set of every name taken so
//! far: memory that grows with the list. Dataset downloaders (img2dataset and the like) name each
//! file by its row instead, and so does this module: a link's name is its position among the links
//! of the input, counted from 0 and zero-padded to [`INDEX_DIGITS`] digits so that names sort in
//! list order, followed by the extension of the URL's last path segment when it is a plain one
//! (`.jpg`, `.parquet`; see [`index_name`]). Two positions never give the same name, so no set is
//! needed, and a name depends on nothing but the position and the URL: every shard and every rerun
//! of the same list gives every link the same name.
//!
//! An `out=` name could still take the shape of another link's index name (`out=000000007.jpg` on
//! the line of link 12); [`index_name_position`] recognises that shape so the run can refuse it.

use crate::disk::names::split_extension;
use crate::http::url::{last_segment, percent_decode};

/// The digits of an index name: positions below a billion are zero-padded to this width, so the
/// names of a list sort in its order (`ls`, `sort` and tar see the list's order). Longer positions
/// are written in full, without padding.
pub(crate) const INDEX_DIGITS: usize = 9;

/// The longest extension kept, in characters. Longer "extensions" are more likely part of a name
/// (`x.averyveryverylongword`) than a file type.
const MAX_INDEX_EXTENSION: usize = 16;

/// The name of the link at `position` (0 for the first link of the input) whose URL is `url`: the
/// position with at least [`INDEX_DIGITS`] digits, then the extension of the URL's last path
/// segment (percent-decoded, before the query) if it is 1 to 16 ASCII letters and digits, as
/// written. `part` is never kept as an extension: a final name does not end like pardl's own
/// `.part` files (see [`crate::disk::names`]).
///
/// The result is always a safe name (digits, a dot, letters and digits).
pub(crate) fn index_name(position: u64, url: &str) -> String {
    let segment = percent_decode(last_segment(url));
    let (_, extension) = split_extension(&segment);
    let extension = extension.strip_prefix('.').unwrap_or_default();
    if is_plain_extension(extension) {
        format!("{position:0INDEX_DIGITS$}.{extension}")
    } else {
        format!("{position:0INDEX_DIGITS$}")
    }
}

/// The position whose [`index_name`] `name` could be, if it has that shape: [`INDEX_DIGITS`]
/// digits (or more, without a leading zero), optionally followed by a dot and a plain extension.
/// `000000007.jpg` and `000000007` give 7; `0000007.jpg`, `0000000007`, `000000007.tar.gz` and
/// `000000007_x` give none.
pub(crate) fn index_name_position(name: &str) -> Option<u64> {
    let digits = name
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(name.len());
    let (number, rest) = name.split_at(digits);
    let padded_as_written =
        number.len() == INDEX_DIGITS || (number.len() > INDEX_DIGITS && !number.starts_with('0'));
    let extension_fits = rest.is_empty() || rest.strip_prefix('.').is_some_and(is_plain_extension);
    if padded_as_written && extension_fits {
        number.parse().ok()
    } else {
        None
    }
}

/// Whether an index name keeps `extension` (given without its dot).
fn is_plain_extension(extension: &str) -> bool {
    (1..=MAX_INDEX_EXTENSION).contains(&extension.len())
        && extension.bytes().all(|b| b.is_ascii_alphanumeric())
        && !extension.eq_ignore_ascii_case("part")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::disk::names::sanitize;

    #[test]
    fn the_position_is_zero_padded_and_the_extension_kept() {
        for (position, url, name) in [
            (0, "https://h/a/photo.jpg", "000000000.jpg"),
            (42, "https://h/a/photo.jpg?w=200#top", "000000042.jpg"),
            (42, "https://h/a/PHOTO.JPEG", "000000042.JPEG"),
            (7, "https://h/data/part-00017.parquet", "000000007.parquet"),
            (7, "https://h/archive.tar.gz", "000000007.gz"),
            (7, "https://h/my%20photo.png", "000000007.png"),
            (999_999_999, "https://h/x.webp", "999999999.webp"),
            (1_000_000_000, "https://h/x.webp", "1000000000.webp"),
            (u64::MAX, "https://h/x", "18446744073709551615"),
        ] {
            assert_eq!(index_name(position, url), name, "{position} {url}");
        }
    }

    #[test]
    fn only_a_plain_extension_is_kept() {
        for url in [
            "https://h/",
            "https://h",
            "https://h/get?id=5.jpg",
            "https://h/dir/",
            "https://h/noext",
            "https://h/.bashrc",
            "https://h/x.",
            "https://h/x.j-pg",
            "https://h/x.jp%2Fg",
            "https://h/x.%2E%2E",
            "https://h/x.ünï",
            "https://h/x.abcdefghijklmnopq",
            "https://h/x.part",
            "https://h/x.PART",
            "https://h/x.j%00g",
        ] {
            assert_eq!(index_name(5, url), "000000005", "{url}");
        }
        assert_eq!(
            index_name(5, "https://h/x.abcdefghijklmnop"),
            "000000005.abcdefghijklmnop"
        );
        assert_eq!(index_name(5, "https://h/x.part1"), "000000005.part1");
    }

    #[test]
    fn index_names_are_safe_and_distinct() {
        let urls = ["https://h/a.jpg", "https://h/b", "https://h/c.tar.gz"];
        let mut seen = std::collections::HashSet::new();
        for position in (0..2000).chain(999_999_000..1_000_001_000) {
            let url = urls[(position % 3) as usize];
            let name = index_name(position, url);
            assert_eq!(sanitize(&name), name);
            assert_eq!(index_name_position(&name), Some(position), "{name}");
            assert!(seen.insert(name.to_ascii_lowercase()), "{name}");
        }
    }

    #[test]
    fn names_of_another_shape_have_no_position() {
        for name in [
            "report.pdf",
            "00000007.jpg",
            "0000000007.jpg",
            "000000007.tar.gz",
            "000000007_x",
            "000000007.",
            "000000007.j-g",
            "000000007.part",
            "x000000007",
            "99999999999999999999999",
            "",
        ] {
            assert_eq!(index_name_position(name), None, "{name}");
        }
        assert_eq!(index_name_position("000000007"), Some(7));
        assert_eq!(index_name_position("000000007.JPG"), Some(7));
        assert_eq!(index_name_position("1234567890.bin"), Some(1_234_567_890));
    }
}
