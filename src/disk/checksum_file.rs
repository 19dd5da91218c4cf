//! Checksum files as releases publish them (`SHA256SUMS`, `SHA512SUMS`, `MD5SUMS`, `sha1sum`
//! output), read for `--checksum-file`.
//!
//! Two formats exist, and Debian, Ubuntu, kernel.org and Python releases use one or the other:
//!
//! ```text
//! 5c8b2b…e1  debian-12.5.0-amd64-netinst.iso        GNU, text mode (sha256sum)
//! 5c8b2b…e1 *debian-12.5.0-amd64-netinst.iso        GNU, binary mode (sha256sum -b)
//! SHA256 (Python-3.12.2.tgz) = be28112dac813d2053545c14bf13a16401a21877f1a69eb6ea5d84c4a0f3d870
//! ```
//!
//! In the GNU form the algorithm is told by the number of hex digits (32 MD5, 40 SHA-1, 64 SHA-256,
//! 128 SHA-512); the BSD form (`sha256sum --tag`, `shasum --tag`, OpenBSD's `sha256`) names it. A
//! GNU name with a backslash or a newline in it is written escaped, with a `\` before the line, as
//! `sha256sum` does. Blank lines and `#` comments are skipped, and so is a PGP signature around a
//! clear-signed file (`SHA256SUMS.asc`) or any other line that is not a checksum: the files are
//! often published with such wrapping, and a line pardl does not understand cannot match a name.
//!
//! A file is matched by its final name only (a name `./iso/debian.iso` in the list matches a
//! download saved as `debian.iso`), because a link's URL path and the layout of the release's
//! directory seldom agree. Two lines for one name with different digests make that name ambiguous:
//! a download of it fails rather than pass on whichever line came first.

use std::collections::HashMap;
use std::fs;
use std::path::Path;

use crate::disk::checksum::{Checksum, ChecksumAlgorithm};

/// The digests of the files named in one or more checksum files, by file name.
///
/// ```
/// use pardl::{ChecksumAlgorithm, ChecksumFile};
///
/// let mut sums = ChecksumFile::new();
/// let md5 = "d41d8cd98f00b204e9800998ecf8427e";
/// let added = sums.add_text(&format!("{md5}  empty.txt\n{md5} *iso/other.bin\n# a comment\n"));
/// assert_eq!(added, 2);
/// assert_eq!(sums.get("empty.txt").unwrap().unwrap().algorithm, ChecksumAlgorithm::Md5);
/// assert!(sums.get("other.bin").is_some()); // matched by its last path component
/// assert!(sums.get("missing.txt").is_none());
/// ```
#[derive(Debug, Clone, Default)]
pub struct ChecksumFile {
    by_name: HashMap<String, Entry>,
}

/// What the files say about one name.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Entry {
    One(Checksum),
    /// Two lines gave this name different digests of the same algorithm.
    Conflicting,
}

impl ChecksumFile {
    /// No checksums yet.
    pub fn new() -> ChecksumFile {
        ChecksumFile::default()
    }

    /// Reads the checksum file at `path` and adds its lines; returns how many checksum lines it had.
    /// A file with none is an error: it is not a checksum file (or not in a format pardl reads).
    pub fn add_file(&mut self, path: &Path) -> Result<usize, String> {
        let bytes = fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        let added = self.add_text(&String::from_utf8_lossy(&bytes));
        if added == 0 {
            return Err(format!(
                "{} has no checksum lines ('HEX  NAME' or 'SHA256 (NAME) = HEX')",
                path.display()
            ));
        }
        Ok(added)
    }

    /// Adds the checksum lines of `text`; returns how many there were. Lines that are not checksum
    /// lines are skipped.
    pub fn add_text(&mut self, text: &str) -> usize {
        let mut added = 0;
        for (name, checksum) in text.lines().filter_map(parse_line) {
            added += 1;
            let Some(base) = base_name(&name) else {
                continue;
            };
            let entry = match self.by_name.remove(base) {
                None => Entry::One(checksum),
                Some(Entry::One(earlier)) if earlier == checksum => Entry::One(earlier),
                // A stronger digest of another algorithm for the same name is kept over a weaker
                // one; the same algorithm with another value is a contradiction.
                Some(Entry::One(earlier)) if earlier.algorithm != checksum.algorithm => {
                    Entry::One(stronger(earlier, checksum))
                }
                Some(_) => Entry::Conflicting,
            };
            self.by_name.insert(base.to_string(), entry);
        }
        added
    }

    /// The checksum listed for the file name `name`: `None` when no line names it, `Some(Err(..))`
    /// when lines give it different digests.
    pub fn get(&self, name: &str) -> Option<Result<&Checksum, String>> {
        self.by_name.get(name).map(|entry| match entry {
            Entry::One(checksum) => Ok(checksum),
            Entry::Conflicting => Err(format!("the checksum files give {name} different digests")),
        })
    }

    /// The number of names with a checksum.
    pub fn len(&self) -> usize {
        self.by_name.len()
    }

    /// Whether no name has a checksum.
    pub fn is_empty(&self) -> bool {
        self.by_name.is_empty()
    }
}

/// Of two digests of one file, the one of the algorithm that resists tampering better.
fn stronger(a: Checksum, b: Checksum) -> Checksum {
    let rank = |c: &Checksum| {
        ChecksumAlgorithm::ALL
            .iter()
            .position(|&x| x == c.algorithm)
    };
    if rank(&b) > rank(&a) {
        b
    } else {
        a
    }
}

/// The last component of a listed name (`./iso/x.iso` → `x.iso`); `None` for a name that ends in
/// a separator or is empty.
fn base_name(name: &str) -> Option<&str> {
    let base = name.rsplit(['/', '\\']).next()?;
    (!base.is_empty() && base != "." && base != "..").then_some(base)
}

/// `(name, checksum)` of one line in either format, or `None` for any other line.
fn parse_line(line: &str) -> Option<(String, Checksum)> {
    let line = line.strip_suffix('\r').unwrap_or(line);
    if line.trim().is_empty() || line.trim_start().starts_with('#') {
        return None;
    }
    parse_bsd(line).or_else(|| parse_gnu(line))
}

/// `SHA256 (NAME) = HEX`.
fn parse_bsd(line: &str) -> Option<(String, Checksum)> {
    let (tag, rest) = line.split_once(" (")?;
    let (name, hex) = rest.rsplit_once(") = ")?;
    // `shasum --tag` writes `SHA256`, some tools `SHA2-256`.
    let tag = tag.trim().replace("SHA2-", "SHA");
    let algorithm = ChecksumAlgorithm::from_key(&tag)?;
    let checksum = Checksum::new(algorithm, hex.trim()).ok()?;
    Some((name.to_string(), checksum))
}

/// `HEX  NAME` or `HEX *NAME`, possibly escaped (`\HEX  NA\\ME`).
fn parse_gnu(line: &str) -> Option<(String, Checksum)> {
    let (escaped, line) = match line.strip_prefix('\\') {
        Some(rest) => (true, rest),
        None => (false, line),
    };
    let (hex, rest) = line.split_once(' ')?;
    let algorithm = ChecksumAlgorithm::from_hex_len(hex.len())?;
    let checksum = Checksum::new(algorithm, hex).ok()?;
    // One space, then ' ' (text mode) or '*' (binary mode) before the name.
    let name = rest.strip_prefix([' ', '*'])?;
    if name.is_empty() {
        return None;
    }
    let name = if escaped {
        unescape(name)?
    } else {
        name.to_string()
    };
    Some((name, checksum))
}

/// Undoes `sha256sum`'s escaping of a name: `\\` is a backslash, `\n` a newline.
fn unescape(name: &str) -> Option<String> {
    let mut out = String::with_capacity(name.len());
    let mut chars = name.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            match chars.next()? {
                '\\' => out.push('\\'),
                'n' => out.push('\n'),
                'r' => out.push('\r'),
                _ => return None,
            }
        } else {
            out.push(c);
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SHA256_ABC: &str = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";

    #[test]
    fn both_gnu_modes_and_the_bsd_form_are_read() {
        let sha512 = "f".repeat(128);
        let text = format!(
            "{SHA256_ABC}  text-mode.iso\n{SHA256_ABC} *binary-mode.iso\r\nSHA512 (bsd.tgz) = {sha512}\nSHA2-256 (odd tag.tgz) = {SHA256_ABC}\nMD5 (m.bin) = {}\n",
            "0".repeat(32)
        );
        let mut sums = ChecksumFile::new();
        assert_eq!(sums.add_text(&text), 5);
        let get = |name: &str| sums.get(name).unwrap().unwrap().clone();
        assert_eq!(get("text-mode.iso").hex, SHA256_ABC);
        assert_eq!(get("binary-mode.iso").algorithm, ChecksumAlgorithm::Sha256);
        assert_eq!(get("bsd.tgz").algorithm, ChecksumAlgorithm::Sha512);
        assert_eq!(get("odd tag.tgz").algorithm, ChecksumAlgorithm::Sha256);
        assert_eq!(get("m.bin").algorithm, ChecksumAlgorithm::Md5);
    }

    #[test]
    fn names_with_spaces_parentheses_and_escapes_survive() {
        let text = format!(
            "{SHA256_ABC}  my file (1).iso\nSHA256 (a (b) c.iso) = {SHA256_ABC}\n\\{SHA256_ABC}  back\\\\slash.iso\n"
        );
        let mut sums = ChecksumFile::new();
        assert_eq!(sums.add_text(&text), 3);
        assert!(sums.get("my file (1).iso").is_some());
        assert!(sums.get("a (b) c.iso").is_some());
        assert!(sums.get("back\\slash.iso").is_none(), "a backslash splits");
        assert!(sums.get("slash.iso").is_some());
    }

    #[test]
    fn other_lines_are_skipped() {
        let text = format!(
            "-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA256\n\n# comment\n{SHA256_ABC}  a.iso\nnot a line\nabc  short.iso\n{SHA256_ABC}x  long.iso\n{SHA256_ABC}\n-----BEGIN PGP SIGNATURE-----\n"
        );
        let mut sums = ChecksumFile::new();
        assert_eq!(sums.add_text(&text), 1);
        assert_eq!(sums.len(), 1);
    }

    #[test]
    fn names_match_by_their_last_component() {
        let mut sums = ChecksumFile::new();
        sums.add_text(&format!(
            "{SHA256_ABC}  ./main/installer-amd64/netboot.tar.gz\n{SHA256_ABC}  dir/\n"
        ));
        assert!(sums.get("netboot.tar.gz").is_some());
        assert!(sums.get("./main/installer-amd64/netboot.tar.gz").is_none());
        assert_eq!(sums.len(), 1);
    }

    #[test]
    fn contradicting_lines_make_a_name_ambiguous() {
        let other = "0".repeat(64);
        let mut sums = ChecksumFile::new();
        sums.add_text(&format!(
            "{SHA256_ABC}  a/x.iso\n{other}  b/x.iso\n{SHA256_ABC}  y.iso\n{SHA256_ABC}  again/y.iso\n"
        ));
        assert!(sums
            .get("x.iso")
            .unwrap()
            .unwrap_err()
            .contains("different digests"));
        assert!(sums.get("y.iso").unwrap().is_ok());
    }

    #[test]
    fn of_two_algorithms_the_stronger_is_kept() {
        let mut sums = ChecksumFile::new();
        sums.add_text(&format!(
            "{}  x.iso\n{SHA256_ABC}  x.iso\n{}  x.iso\n",
            "1".repeat(32),
            "2".repeat(40)
        ));
        let kept = sums.get("x.iso").unwrap().unwrap();
        assert_eq!(kept.algorithm, ChecksumAlgorithm::Sha256);
    }
}
