//! Reading the links to download, from a links file or from the command line.
//!
//! The format is the one aria2 and wget users already know: one URL per line,
//! surrounding whitespace ignored, blank lines and `#` comment lines skipped.
//! A URL may be followed by whitespace-separated `key=value` options:
//! `out=NAME` (the output file name) and one checksum the file must have,
//! `sha256=HEX`, `sha512=HEX`, `sha1=HEX` or `md5=HEX` (MD5 and SHA-1 catch a
//! corrupted download, not a forged one).
//! A URL may also be followed by more URLs of the same file: mirrors, separated by tabs (aria2's
//! convention) or spaces.
//!
//! ```text
//! # nightly images
//! https://example.com/images/disk.iso   sha256=9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08
//! https://example.com/get?id=42   out=report.pdf
//! https://a.example.org/disk.iso https://b.example.net/disk.iso out=disk.iso
//! ```
//!
//! [`LinkReader`] streams: it reads only as far as the next link, so downloads
//! can start while a large (or piped, still being written) links file is
//! being read, and memory use does not grow with the file. For the same
//! reason a single line is capped at [`MAX_LINE_BYTES`]; without the cap, a
//! file with no newlines (a binary passed by mistake) would be read whole into
//! memory.
//!
//! Two kinds of failure are kept apart. A malformed line is the user's typo:
//! it is reported with its line number and reading goes on, so one bad line
//! does not cost the rest of the batch. An I/O error means the rest of the file
//! cannot be trusted, so it is reported as [`LinkError::Read`] and the
//! iterator ends; the caller is expected to stop (exit status 2).

use std::fmt;
use std::io::{self, BufRead};
use std::path::PathBuf;

use crate::disk::checksum::{Checksum, ChecksumAlgorithm};
use crate::http::url::{ascii_url, is_bidi_control, redact_url, scheme_hint, validate_url};

/// The longest line [`LinkReader`] accepts, in bytes.
///
/// `http::Uri` refuses URLs longer than 64 KiB, so anything beyond twice that
/// cannot be a valid line even with options; the rest of such a line is
/// skipped without being stored.
pub(crate) const MAX_LINE_BYTES: usize = 128 * 1024;

/// Offending text in error messages is cut to this many characters: a
/// multi-kilobyte line would drown the message that explains it.
const EXCERPT_CHARS: usize = 200;

/// One thing to download.
///
/// ```
/// use pardl::{Link, Origin};
///
/// let link = Link::parse("https://example.com/a.iso out=b.iso", Origin::Line(3)).unwrap();
/// assert_eq!(link.url, "https://example.com/a.iso");
/// assert_eq!(link.out.as_deref(), Some("b.iso"));
/// assert_eq!(link.origin.to_string(), "line 3");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Link {
    /// The URL as written (it may carry `user:pass@` credentials), except that a non-ASCII host is
    /// turned into its punycode form (`bücher.example` → `xn--bcher-kva.example`) and other
    /// non-ASCII characters are percent-encoded as UTF-8, as browsers and curl send them.
    pub url: String,
    /// The `out=` option: the wanted output file name, not yet sanitised
    /// (see `src/disk/names.rs`).
    pub out: Option<String>,
    /// The checksum the file must have: the `sha256=`, `sha512=`, `sha1=` or `md5=` option (at most
    /// one per link). Without it, a [`Config::checksums`](crate::Config::checksums) list may give
    /// one by the file's final name.
    pub checksum: Option<Checksum>,
    /// The exact path a program chose for the file ([`Link::saved_as`]), used as given: relative to
    /// the current directory, not to [`Config::dir`](crate::Config::dir), not sanitised, never
    /// numbered, its directories created. A links file cannot set it (its `out=` names stay inside
    /// the output directory).
    pub path: Option<PathBuf>,
    /// More URLs of the same file (mirrors), in the order given; empty for most links. The file's
    /// chunks are spread over `url` and these.
    pub mirrors: Vec<String>,
    /// Where the link came from, for messages.
    pub origin: Origin,
}

/// Where a link was written, so messages can point the user at it.
///
/// ```
/// use pardl::Origin;
///
/// assert_eq!(Origin::Line(12).to_string(), "line 12");
/// assert_eq!(Origin::Argument(2).to_string(), "argument 2");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// 1-based position among the URLs given on the command line.
    Argument(usize),
    /// 1-based line number in the links file.
    Line(usize),
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Origin::Argument(n) => write!(f, "argument {n}"),
            Origin::Line(n) => write!(f, "line {n}"),
        }
    }
}

/// Why a link could not be used.
///
/// ```
/// use pardl::{Link, LinkError, Origin};
///
/// let err = Link::parse("ftp://x/y", Origin::Line(3)).unwrap_err();
/// assert!(matches!(err, LinkError::Malformed { .. }));
/// assert_eq!(err.to_string(), "line 3: not an http or https URL: 'ftp://x/y'");
/// ```
#[derive(Debug)]
pub enum LinkError {
    /// This line or argument is unusable; the ones after it may be fine.
    Malformed {
        /// Where the text came from.
        origin: Origin,
        /// The offending part (the URL, the option, or the whole line),
        /// shortened, with control characters escaped and any URL password
        /// hidden, so it is safe to print.
        text: String,
        /// What is wrong with it.
        reason: String,
    },
    /// Reading the links file failed; nothing after this point was read.
    Read(io::Error),
}

impl fmt::Display for LinkError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LinkError::Malformed {
                origin,
                text,
                reason,
            } => write!(f, "{origin}: {reason}: '{text}'"),
            LinkError::Read(err) => write!(f, "reading links: {err}"),
        }
    }
}

impl std::error::Error for LinkError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            LinkError::Malformed { .. } => None,
            LinkError::Read(err) => Some(err),
        }
    }
}

impl LinkError {
    fn malformed(origin: Origin, text: &str, reason: impl Into<String>) -> Self {
        LinkError::Malformed {
            origin,
            text: excerpt(text),
            reason: reason.into(),
        }
    }
}

impl Link {
    /// Parses one links-file line or one command-line argument: a URL
    /// followed by optional whitespace-separated `key=value` options and
    /// mirror URLs (any further word that starts with `http://` or
    /// `https://`).
    ///
    /// Because options are separated by whitespace, a URL containing spaces
    /// must have them percent-encoded (`%20`).
    ///
    /// ```
    /// use pardl::{Link, Origin};
    ///
    /// let link = Link::parse("http://example.com/f.bin", Origin::Argument(1)).unwrap();
    /// assert_eq!(link.out, None);
    ///
    /// let err = Link::parse("http://example.com/f.bin foo=bar", Origin::Line(7)).unwrap_err();
    /// assert_eq!(err.to_string(), "line 7: unknown option: 'foo=bar'");
    ///
    /// let mirrored = Link::parse("http://a.example/f\thttp://b.example/f out=f", Origin::Line(8)).unwrap();
    /// assert_eq!(mirrored.mirrors, ["http://b.example/f"]);
    /// ```
    pub fn parse(text: &str, origin: Origin) -> Result<Link, LinkError> {
        let mut tokens = text.split_whitespace();
        let Some(written) = tokens.next() else {
            return Err(LinkError::malformed(origin, text, "no URL"));
        };
        let url = ascii_url(written);
        validate_url(&url).map_err(|reason| match scheme_hint(written) {
            Some(hint) => LinkError::malformed(
                origin,
                written,
                format!("{reason} (did you mean '{}'?)", redact_url(&hint)),
            ),
            None => LinkError::malformed(origin, written, reason),
        })?;

        let mut out = None;
        let mut checksum = None;
        let mut mirrors = Vec::new();
        let options: Vec<&str> = tokens.collect();
        for (at, &option) in options.iter().enumerate() {
            if is_url_word(option) {
                validate_url(option)
                    .map_err(|reason| LinkError::malformed(origin, option, reason))?;
                if option == url || mirrors.iter().any(|m| m == option) {
                    return Err(LinkError::malformed(
                        origin,
                        option,
                        "the same mirror twice",
                    ));
                }
                mirrors.push(option.to_string());
                continue;
            }
            let Some((key, value)) = option.split_once('=') else {
                return Err(LinkError::malformed(
                    origin,
                    option,
                    not_an_option(written, &options[at..]),
                ));
            };
            if let Some(algorithm) = checksum_key(key) {
                checksum_option(&mut checksum, algorithm, value)
                    .map_err(|reason| LinkError::malformed(origin, option, reason))?;
                continue;
            }
            // New options get one arm each; `set_once` gives them the same
            // empty/duplicate checks as `out`.
            let slot = match key {
                "out" => &mut out,
                _ => return Err(LinkError::malformed(origin, option, "unknown option")),
            };
            set_once(slot, key, value)
                .map_err(|reason| LinkError::malformed(origin, option, reason))?;
        }

        let checksum = checksum
            .map(|(algorithm, hex)| Checksum::new(algorithm, &hex))
            .transpose()
            .map_err(|reason| LinkError::malformed(origin, text, reason))?;
        Ok(Link {
            url: url.into_owned(),
            out,
            checksum,
            path: None,
            mirrors,
            origin,
        })
    }

    /// This link, to be saved at exactly `path` (see [`Link::path`]).
    ///
    /// ```
    /// use pardl::{Link, Origin};
    ///
    /// let link = Link::parse("https://example.com/a.iso", Origin::Argument(1))
    ///     .unwrap()
    ///     .saved_as("images/2026/a.iso");
    /// assert_eq!(link.path.as_deref(), Some("images/2026/a.iso".as_ref()));
    /// ```
    pub fn saved_as(self, path: impl Into<PathBuf>) -> Link {
        Link {
            path: Some(path.into()),
            ..self
        }
    }
}

/// Whether a word after a link's URL is another URL (a mirror) rather than an option.
fn is_url_word(word: &str) -> bool {
    let lower = word.get(..8).unwrap_or(word).to_ascii_lowercase();
    lower.starts_with("http://") || lower.starts_with("https://")
}

/// Checks a `sha256=` value: 64 hex digits, returned in lowercase. (The other algorithms:
/// [`Checksum::new`].)
///
/// ```
/// let hex = "E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855";
/// assert_eq!(pardl::parse_sha256(hex).unwrap(), hex.to_ascii_lowercase());
/// assert!(pardl::parse_sha256("abc").is_err());
/// ```
pub fn parse_sha256(hex: &str) -> Result<String, String> {
    Checksum::new(ChecksumAlgorithm::Sha256, hex).map(|checksum| checksum.hex)
}

/// The algorithm a checksum option names (`sha256`, `sha512`, `sha1`, `md5`, written in lowercase
/// like every option), or `None` for another option.
fn checksum_key(key: &str) -> Option<ChecksumAlgorithm> {
    ChecksumAlgorithm::from_key(key).filter(|algorithm| algorithm.key() == key)
}

/// Stores a checksum option's value (checked later, with the whole line quoted in the message),
/// refusing an empty one or a second checksum: two digests for one file say one thing too many.
fn checksum_option(
    slot: &mut Option<(ChecksumAlgorithm, String)>,
    algorithm: ChecksumAlgorithm,
    value: &str,
) -> Result<(), String> {
    let key = algorithm.key();
    if value.is_empty() {
        return Err(format!("empty {key}= option"));
    }
    match slot {
        Some((earlier, _)) if *earlier == algorithm => Err(format!("duplicate {key}= option")),
        Some((earlier, _)) => Err(format!(
            "two checksums ({}= and {key}=): give one per link",
            earlier.key()
        )),
        None => {
            *slot = Some((algorithm, value.to_string()));
            Ok(())
        }
    }
}

/// Why a word after the URL that has no `=` is an error. A known option name (`out`) lacks its
/// value; anything else is most likely the rest of a URL with a space in it, and the message shows
/// that URL with its spaces written as `%20`.
fn not_an_option(url: &str, rest: &[&str]) -> String {
    let word = rest.first().copied().unwrap_or_default();
    if word == "out" || checksum_key(word).is_some() {
        return "expected an option of the form key=value".to_string();
    }
    let spaced: Vec<&str> = rest
        .iter()
        .copied()
        .take_while(|word| !word.contains('='))
        .collect();
    format!(
        "expected an option of the form key=value; a URL with spaces must have them written as %20 ({})",
        redact_url(&format!("{url}%20{}", spaced.join("%20")))
    )
}

/// Stores an option's value, refusing an empty value or a second occurrence:
/// with two `out=` it is unclear which one the user meant.
fn set_once(slot: &mut Option<String>, key: &str, value: &str) -> Result<(), String> {
    if value.is_empty() {
        return Err(format!("empty {key}= option"));
    }
    if slot.is_some() {
        return Err(format!("duplicate {key}= option"));
    }
    *slot = Some(value.to_string());
    Ok(())
}

/// Streams [`Link`]s out of a links file, one line at a time.
///
/// Each item is either a link, a [`LinkError::Malformed`] for a bad line
/// (iteration continues with the next line), or a [`LinkError::Read`] after
/// which the iterator is finished. UTF-8 byte order marks (at the start of the
/// file, or of any line after `cat a b`) and CRLF line endings are accepted.
///
/// ```
/// use pardl::{LinkError, LinkReader, Origin};
///
/// let text = "# mirrors\nhttps://example.com/a.iso\n\nftp://example.com/b.iso\nhttp://example.com/c out=c.txt\n";
/// let items: Vec<_> = LinkReader::new(text.as_bytes()).collect();
/// assert_eq!(items.len(), 3);
/// assert_eq!(items[0].as_ref().unwrap().origin, Origin::Line(2));
/// assert!(matches!(items[1], Err(LinkError::Malformed { origin: Origin::Line(4), .. })));
/// assert_eq!(items[2].as_ref().unwrap().out.as_deref(), Some("c.txt"));
/// ```
pub struct LinkReader<R> {
    reader: R,
    /// Number of the line last read, 1-based.
    line: usize,
    /// Reused between lines so a long file does not allocate per line.
    buf: Vec<u8>,
    /// Set after an I/O error or end of input: a reader that failed once may
    /// fail forever, and the contract is that iteration ends.
    done: bool,
}

impl<R: BufRead> LinkReader<R> {
    /// Wraps a buffered reader; nothing is read until the first `next()`.
    pub fn new(reader: R) -> Self {
        LinkReader {
            reader,
            line: 0,
            buf: Vec::new(),
            done: false,
        }
    }

    /// Reads the next line into `self.buf`, without its `\n`, keeping at most
    /// [`MAX_LINE_BYTES`] of it. Returns `None` at end of input, otherwise
    /// whether the line was longer than that.
    ///
    /// Hand-rolled rather than `read_until` so an endless line is skipped
    /// instead of being stored.
    fn read_line(&mut self) -> io::Result<Option<bool>> {
        self.buf.clear();
        let mut overlong = false;
        let mut started = false;
        loop {
            let available = match self.reader.fill_buf() {
                Ok(available) => available,
                Err(err) if err.kind() == io::ErrorKind::Interrupted => continue,
                Err(err) => return Err(err),
            };
            if available.is_empty() {
                return Ok(started.then_some(overlong));
            }
            started = true;
            let newline = available.iter().position(|&b| b == b'\n');
            let content = &available[..newline.unwrap_or(available.len())];
            let room = MAX_LINE_BYTES - self.buf.len();
            if content.len() > room {
                overlong = true;
            }
            self.buf
                .extend_from_slice(&content[..content.len().min(room)]);
            let used = newline.map_or(available.len(), |i| i + 1);
            self.reader.consume(used);
            if newline.is_some() {
                return Ok(Some(overlong));
            }
        }
    }

    /// Turns the line in `self.buf` into an item, or `None` if it is blank or
    /// a comment.
    fn parse_line(&self, overlong: bool) -> Option<Result<Link, LinkError>> {
        let origin = Origin::Line(self.line);
        let bytes = self.buf.as_slice();
        if self.line == 1 && (bytes.starts_with(&[0xFF, 0xFE]) || bytes.starts_with(&[0xFE, 0xFF]))
        {
            // Windows editors offer UTF-16 as "Unicode"; without this hint
            // every line would fail with a baffling "not a URL".
            return Some(Err(LinkError::malformed(
                origin,
                &String::from_utf8_lossy(bytes),
                "links file looks like UTF-16; save it as UTF-8",
            )));
        }
        // Editors put a byte order mark at the start of the file; `cat a b`
        // can then leave one at the start of any line. U+FEFF is invisible
        // and not whitespace, so keeping it would fail with a message
        // showing a seemingly correct URL.
        let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
        // A comment or blank line is skipped even if it is not valid UTF-8
        // or too long: an old Latin-1 comment should not be an error.
        let trimmed = bytes.trim_ascii();
        if trimmed.is_empty() || trimmed.starts_with(b"#") {
            return None;
        }
        if overlong {
            return Some(Err(LinkError::malformed(
                origin,
                &String::from_utf8_lossy(trimmed),
                format!("line longer than {MAX_LINE_BYTES} bytes"),
            )));
        }
        let Ok(text) = std::str::from_utf8(trimmed) else {
            return Some(Err(LinkError::malformed(
                origin,
                &String::from_utf8_lossy(trimmed),
                "line is not valid UTF-8",
            )));
        };
        // Unicode whitespace such as a no-break space pasted from a web page
        // is not ASCII, so it is only trimmed now.
        let text = text.trim();
        if text.is_empty() || text.starts_with('#') {
            return None;
        }
        Some(Link::parse(text, origin))
    }
}

impl<R: BufRead> Iterator for LinkReader<R> {
    type Item = Result<Link, LinkError>;

    fn next(&mut self) -> Option<Self::Item> {
        while !self.done {
            match self.read_line() {
                Ok(None) => self.done = true,
                Ok(Some(overlong)) => {
                    self.line += 1;
                    if let Some(item) = self.parse_line(overlong) {
                        return Some(item);
                    }
                }
                Err(err) => {
                    self.done = true;
                    return Some(Err(LinkError::Read(err)));
                }
            }
        }
        None
    }
}

/// Makes `text` safe and short enough to quote in a message: passwords in
/// URLs hidden, control characters (which could drive the terminal) and
/// bidirectional formatting characters (which could show it as other text)
/// escaped, and at most [`EXCERPT_CHARS`] characters kept.
fn excerpt(text: &str) -> String {
    let text = redact_url(text);
    let mut out = String::new();
    for (i, c) in text.chars().enumerate() {
        if i == EXCERPT_CHARS {
            out.push('…');
            break;
        }
        if c.is_control() || is_bidi_control(c) {
            out.extend(c.escape_debug());
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;
    use std::io::{BufReader, Read};
    use std::rc::Rc;

    fn read_all(text: &[u8]) -> Vec<Result<Link, LinkError>> {
        LinkReader::new(text).collect()
    }

    fn link(url: &str, out: Option<&str>, line: usize) -> Link {
        Link {
            url: url.to_string(),
            out: out.map(str::to_string),
            checksum: None,
            path: None,
            mirrors: Vec::new(),
            origin: Origin::Line(line),
        }
    }

    #[test]
    fn mirrors_follow_the_url_separated_by_tabs_or_spaces() {
        let text = "http://a.example/f\thttp://b.example/f\tHTTPS://c.example/f out=f sha256=\
                    e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\n\
                    http://a.example/g out=g http://b.example/g?x=1\n";
        let links: Vec<Link> = read_all(text.as_bytes())
            .into_iter()
            .map(Result::unwrap)
            .collect();
        assert_eq!(
            links[0].mirrors,
            ["http://b.example/f", "HTTPS://c.example/f"]
        );
        assert_eq!(links[0].out.as_deref(), Some("f"));
        assert!(links[0].checksum.is_some());
        assert_eq!(links[1].mirrors, ["http://b.example/g?x=1"]);
        let cases = [
            (
                "http://a.example/f http://a.example/f",
                "line 1: the same mirror twice: 'http://a.example/f'",
            ),
            ("http://a.example/f http://", "line 1: missing host"),
        ];
        for (text, start) in cases {
            let err = Link::parse(text, Origin::Line(1)).unwrap_err().to_string();
            assert!(err.starts_with(start), "{err}");
        }
    }

    /// The line numbers of the malformed items, and the links, in order.
    fn split(items: Vec<Result<Link, LinkError>>) -> (Vec<Link>, Vec<usize>) {
        let mut links = Vec::new();
        let mut bad = Vec::new();
        for item in items {
            match item {
                Ok(link) => links.push(link),
                Err(LinkError::Malformed {
                    origin: Origin::Line(n),
                    ..
                }) => bad.push(n),
                Err(other) => panic!("unexpected error: {other}"),
            }
        }
        (links, bad)
    }

    #[test]
    fn skips_comments_and_blank_lines_and_trims() {
        let text = "# header\n\n   \n\t# indented comment\n  http://a.example/x  \n\thttps://b.example/y\t\n";
        let (links, bad) = split(read_all(text.as_bytes()));
        assert!(bad.is_empty());
        assert_eq!(
            links,
            vec![
                link("http://a.example/x", None, 5),
                link("https://b.example/y", None, 6)
            ]
        );
    }

    #[test]
    fn handles_crlf_bom_and_missing_final_newline() {
        let text = b"\xEF\xBB\xBFhttp://a.example/x\r\n\r\n# c\r\nhttp://b.example/y out=z\r\nhttp://c.example/w";
        let (links, bad) = split(read_all(text));
        assert!(bad.is_empty());
        assert_eq!(
            links,
            vec![
                link("http://a.example/x", None, 1),
                link("http://b.example/y", Some("z"), 4),
                link("http://c.example/w", None, 5),
            ]
        );
    }

    #[test]
    fn bom_of_a_concatenated_file_is_also_ignored() {
        let items = read_all(b"http://a.example/\n\xEF\xBB\xBFhttp://b.example/\n");
        let (links, bad) = split(items);
        assert!(bad.is_empty());
        assert_eq!(links[1], link("http://b.example/", None, 2));
    }

    #[test]
    fn comment_after_bom_is_skipped() {
        let (links, bad) = split(read_all(b"\xEF\xBB\xBF# c\nhttp://a.example/\n"));
        assert!(bad.is_empty());
        assert_eq!(links, vec![link("http://a.example/", None, 2)]);
    }

    #[test]
    fn unicode_whitespace_is_trimmed() {
        let (links, _) = split(read_all("\u{a0}http://a.example/x\u{a0}\n".as_bytes()));
        assert_eq!(links, vec![link("http://a.example/x", None, 1)]);
    }

    #[test]
    fn parses_out_option() {
        let parsed = Link::parse("http://a.example/x   out=my file", Origin::Line(1));
        // Whitespace separates options, so "file" is a second, malformed one.
        assert!(parsed.is_err());
        let parsed =
            Link::parse("http://a.example/x \t out=my%20file.txt", Origin::Line(1)).unwrap();
        assert_eq!(parsed.out.as_deref(), Some("my%20file.txt"));
        // The value is taken verbatim; only everything up to the first '='
        // is the key.
        let parsed = Link::parse("http://a.example/x out=a=b", Origin::Argument(2)).unwrap();
        assert_eq!(parsed.out.as_deref(), Some("a=b"));
        assert_eq!(parsed.origin, Origin::Argument(2));
    }

    #[test]
    fn rejects_bad_options() {
        let cases = [
            (
                "http://a.example/ foo=bar",
                "line 1: unknown option: 'foo=bar'",
            ),
            ("http://a.example/ OUT=x", "line 1: unknown option: 'OUT=x'"),
            (
                "http://a.example/ out",
                "line 1: expected an option of the form key=value: 'out'",
            ),
            (
                "http://a.example/ out=",
                "line 1: empty out= option: 'out='",
            ),
            (
                "http://a.example/ out=a out=b",
                "line 1: duplicate out= option: 'out=b'",
            ),
            (
                "http://a.example/ out=a out=a",
                "line 1: duplicate out= option: 'out=a'",
            ),
        ];
        for (text, message) in cases {
            let err = Link::parse(text, Origin::Line(1)).unwrap_err();
            assert_eq!(err.to_string(), message, "for {text:?}");
        }
    }

    #[test]
    fn rejects_bad_urls_with_line_numbers_and_continues() {
        let text = "ftp://x/y\nnot a url\nhttp://\nhttp://ok.example/1\nhttps://:443/\nfile:///etc/passwd\nhttps://ok.example/2\n";
        let items = read_all(text.as_bytes());
        let messages: Vec<String> = items
            .iter()
            .filter_map(|item| item.as_ref().err().map(ToString::to_string))
            .collect();
        assert_eq!(
            messages,
            vec![
                "line 1: not an http or https URL: 'ftp://x/y'",
                "line 2: not an http or https URL: 'not'",
                "line 3: missing host: 'http://'",
                "line 5: missing host: 'https://:443/'",
                "line 6: not an http or https URL: 'file:///etc/passwd'",
            ]
        );
        let (links, bad) = split(items);
        assert_eq!(bad, vec![1, 2, 3, 5, 6]);
        assert_eq!(
            links,
            vec![
                link("http://ok.example/1", None, 4),
                link("https://ok.example/2", None, 7)
            ]
        );
    }

    #[test]
    fn invalid_utf8_line_is_an_error_and_reading_continues() {
        let text = b"http://a.example/\xFF\xFE\nhttp://b.example/\n# caf\xE9 comment\n";
        let items = read_all(text);
        assert_eq!(items.len(), 2);
        let err = items[0].as_ref().unwrap_err();
        assert!(matches!(
            err,
            LinkError::Malformed {
                origin: Origin::Line(1),
                ..
            }
        ));
        assert!(err.to_string().contains("not valid UTF-8"), "{err}");
        assert_eq!(
            items[1].as_ref().unwrap(),
            &link("http://b.example/", None, 2)
        );
    }

    #[test]
    fn utf16_file_gets_a_hint() {
        let items = read_all(b"\xFF\xFEh\0t\0t\0p\0");
        let err = items[0].as_ref().unwrap_err().to_string();
        assert!(err.contains("UTF-16"), "{err}");
    }

    #[test]
    fn overlong_line_is_skipped_without_being_stored() {
        let mut text = b"http://a.example/".to_vec();
        text.extend(std::iter::repeat_n(b'x', MAX_LINE_BYTES * 3));
        text.extend_from_slice(b"\nhttp://b.example/\n");
        // A small buffer makes the long line arrive in many pieces.
        let mut reader = LinkReader::new(BufReader::with_capacity(1000, text.as_slice()));
        let err = reader.next().unwrap().unwrap_err();
        assert!(err.to_string().contains("line longer than"), "{err}");
        assert!(reader.buf.capacity() <= 2 * MAX_LINE_BYTES);
        assert_eq!(
            reader.next().unwrap().unwrap(),
            link("http://b.example/", None, 2)
        );
        assert!(reader.next().is_none());
    }

    #[test]
    fn line_of_exactly_the_maximum_is_accepted_by_the_reader() {
        let mut text = b"http://a.example/".to_vec();
        text.resize(MAX_LINE_BYTES, b'x');
        text.push(b'\n');
        let mut reader = LinkReader::new(BufReader::with_capacity(1000, text.as_slice()));
        // Too long for `Uri`, but not cut off as an overlong line.
        let err = reader.next().unwrap().unwrap_err().to_string();
        assert!(err.contains("invalid URL"), "{err}");
    }

    #[test]
    fn messages_are_short_escaped_and_hide_passwords() {
        let long = format!("ftp://example.com/{}", "y".repeat(1000));
        let err = Link::parse(&long, Origin::Line(9)).unwrap_err();
        let LinkError::Malformed { text, .. } = &err else {
            panic!("{err}")
        };
        assert_eq!(text.chars().count(), EXCERPT_CHARS + 1);
        assert!(text.ends_with('…'));

        let err = Link::parse("http://a.example/ \u{1b}[31m", Origin::Line(1)).unwrap_err();
        assert!(err.to_string().ends_with(": '\\u{1b}[31m'"), "{err}");

        let err = Link::parse("ftp://me:hunter2@example.com/f", Origin::Line(1)).unwrap_err();
        assert_eq!(
            err.to_string(),
            "line 1: not an http or https URL: 'ftp://me:***@example.com/f'"
        );
        assert_eq!(
            redact_url("http://me@example.com/a:b@c"),
            "http://***@example.com/a:b@c"
        );
        assert_eq!(redact_url("no url"), "no url");
    }

    #[test]
    fn credentials_are_allowed() {
        let parsed = Link::parse("https://me:hunter2@example.com/f", Origin::Argument(1)).unwrap();
        assert_eq!(parsed.url, "https://me:hunter2@example.com/f");
    }

    /// Serves `lines`, one per `read` call, then fails or panics.
    struct ScriptedReader {
        lines: Vec<&'static [u8]>,
        reads: Rc<Cell<usize>>,
        then_fail: bool,
    }

    impl Read for ScriptedReader {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            let n = self.reads.get();
            self.reads.set(n + 1);
            if let Some(line) = self.lines.get(n) {
                buf[..line.len()].copy_from_slice(line);
                return Ok(line.len());
            }
            if self.then_fail {
                return Err(io::Error::other("disk on fire"));
            }
            panic!("read past what next() needed (a pipe would block here)");
        }
    }

    #[test]
    fn io_error_mid_stream_ends_iteration() {
        let reads = Rc::new(Cell::new(0));
        let source = ScriptedReader {
            lines: vec![
                b"http://a.example/1\n",
                b"# c\n",
                b"http://a.example/2\nhttp://",
            ],
            reads: reads.clone(),
            then_fail: true,
        };
        let items: Vec<_> = LinkReader::new(BufReader::new(source)).collect();
        assert_eq!(items.len(), 3);
        assert_eq!(
            items[0].as_ref().unwrap(),
            &link("http://a.example/1", None, 1)
        );
        assert_eq!(
            items[1].as_ref().unwrap(),
            &link("http://a.example/2", None, 3)
        );
        let err = items[2].as_ref().unwrap_err();
        assert!(matches!(err, LinkError::Read(_)), "{err:?}");
        assert_eq!(err.to_string(), "reading links: disk on fire");
        assert!(std::error::Error::source(err).is_some());
        // Ended after the failure instead of retrying the broken reader.
        assert_eq!(reads.get(), 4);
    }

    #[test]
    fn reads_only_as_far_as_next_needs() {
        let reads = Rc::new(Cell::new(0));
        let source = ScriptedReader {
            lines: vec![
                b"http://a.example/1\n",
                b"\n# skip\n",
                b"http://a.example/2\n",
            ],
            reads: reads.clone(),
            then_fail: false,
        };
        let mut reader = LinkReader::new(BufReader::new(source));
        assert_eq!(reads.get(), 0);
        assert_eq!(
            reader.next().unwrap().unwrap(),
            link("http://a.example/1", None, 1)
        );
        assert_eq!(reads.get(), 1);
        assert_eq!(
            reader.next().unwrap().unwrap(),
            link("http://a.example/2", None, 4)
        );
        assert_eq!(reads.get(), 3);
        // A fourth read would panic: nothing more is pulled until asked.
    }

    #[test]
    fn interrupted_reads_are_retried() {
        struct Flaky(bool, &'static [u8]);
        impl Read for Flaky {
            fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
                self.0 = !self.0;
                if self.0 {
                    return Err(io::ErrorKind::Interrupted.into());
                }
                let n = self.1.len().min(buf.len()).min(4);
                buf[..n].copy_from_slice(&self.1[..n]);
                self.1 = &self.1[n..];
                Ok(n)
            }
        }
        let reader = LinkReader::new(BufReader::new(Flaky(false, b"http://a.example/x\n")));
        let items: Vec<_> = reader.map(Result::unwrap).collect();
        assert_eq!(items, vec![link("http://a.example/x", None, 1)]);
    }

    #[test]
    fn empty_input_yields_nothing() {
        assert!(read_all(b"").is_empty());
        assert!(read_all(b"\xEF\xBB\xBF").is_empty());
        assert!(read_all(b"\n\r\n  \n").is_empty());
    }

    #[test]
    fn parse_of_blank_text_is_an_error_not_a_panic() {
        let err = Link::parse("  ", Origin::Argument(3)).unwrap_err();
        assert_eq!(err.to_string(), "argument 3: no URL: '  '");
    }

    #[test]
    fn sha256_option_is_checked_and_lowercased() {
        let hex = "AB".repeat(32);
        let link = Link::parse(&format!("http://h/f sha256={hex}"), Origin::Line(1)).unwrap();
        assert_eq!(
            link.checksum,
            Some(Checksum {
                algorithm: ChecksumAlgorithm::Sha256,
                hex: "ab".repeat(32)
            })
        );
        let err = Link::parse("http://h/f sha256=xyz", Origin::Line(4)).unwrap_err();
        assert!(
            err.to_string()
                .starts_with("line 4: sha256= needs 64 hex digits"),
            "{err}"
        );
        let err = Link::parse(
            &format!("http://h/f sha256={hex} sha256={hex}"),
            Origin::Line(5),
        )
        .unwrap_err();
        assert!(err.to_string().contains("sha256"), "{err}");
    }

    #[test]
    fn a_checksum_error_says_what_is_wrong_with_it() {
        let non_hex = format!("ab{}", "g".repeat(62));
        assert_eq!(
            parse_sha256(&non_hex).unwrap_err(),
            "sha256= needs 64 hex digits, and 'g' (character 3) is not a hex digit"
        );
        assert_eq!(
            parse_sha256(&format!("{}\u{202E}", "a".repeat(63))).unwrap_err(),
            "sha256= needs 64 hex digits, and '\\u{202e}' (character 64) is not a hex digit"
        );
        assert_eq!(
            parse_sha256("abc").unwrap_err(),
            "sha256= needs 64 hex digits, got 3 characters"
        );
    }

    #[test]
    fn bidirectional_controls_in_a_bad_line_are_escaped() {
        let err = Link::parse("http://exa\u{202E}mple.com/x", Origin::Line(2)).unwrap_err();
        let text = err.to_string();
        assert!(!text.contains('\u{202E}'), "{text}");
        assert!(text.contains("exa\\u{202e}mple.com"), "{text}");
    }

    #[test]
    fn each_checksum_option_wants_its_own_digits_and_one_is_enough() {
        for algorithm in ChecksumAlgorithm::ALL {
            let key = algorithm.key();
            let hex = "Ab".repeat(algorithm.hex_len() / 2);
            let link = Link::parse(&format!("http://h/f {key}={hex}"), Origin::Line(1)).unwrap();
            let checksum = link.checksum.unwrap();
            assert_eq!(checksum.algorithm, algorithm);
            assert_eq!(checksum.hex, hex.to_ascii_lowercase());
            let err = Link::parse(&format!("http://h/f {key}=abc"), Origin::Line(2)).unwrap_err();
            assert_eq!(
                err.to_string(),
                format!(
                    "line 2: {key}= needs {} hex digits, got 3 characters: 'http://h/f {key}=abc'",
                    algorithm.hex_len()
                )
            );
        }
        let (md5, sha1) = ("0".repeat(32), "1".repeat(40));
        let err = Link::parse(
            &format!("http://h/f md5={md5} sha1={sha1}"),
            Origin::Line(3),
        )
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            format!("line 3: two checksums (md5= and sha1=): give one per link: 'sha1={sha1}'")
        );
        let err = Link::parse(&format!("http://h/f SHA1={sha1}"), Origin::Line(4)).unwrap_err();
        assert!(err.to_string().contains("unknown option"), "{err}");
    }

    #[test]
    fn a_url_with_a_raw_space_is_shown_with_the_space_encoded() {
        let err = Link::parse("http://h/my big file.bin out=x", Origin::Line(1)).unwrap_err();
        assert_eq!(
            err.to_string(),
            "line 1: expected an option of the form key=value; a URL with spaces must have them written as %20 (http://h/my%20big%20file.bin): 'big'"
        );
        let err = Link::parse("http://u:pw@h/a b", Origin::Line(2)).unwrap_err();
        assert!(err.to_string().contains("(http://u:***@h/a%20b)"), "{err}");
    }

    #[test]
    fn a_url_without_a_scheme_gets_a_hint() {
        for (text, hint) in [
            ("example.com/file.iso", "http://example.com/file.iso"),
            ("localhost:8080/f", "http://localhost:8080/f"),
            ("www.example.com", "http://www.example.com"),
        ] {
            let err = Link::parse(text, Origin::Line(1)).unwrap_err();
            assert_eq!(
                err.to_string(),
                format!("line 1: not an http or https URL (did you mean '{hint}'?): '{text}'")
            );
        }
        for text in ["not", "ftp://example.com/f", "C:/files/x.iso"] {
            let err = Link::parse(text, Origin::Line(1)).unwrap_err();
            assert!(!err.to_string().contains("did you mean"), "{err}");
        }
    }

    #[test]
    fn a_non_ascii_host_is_sent_as_punycode() {
        let link = Link::parse("http://bücher.example/ü ber.pdf", Origin::Line(1));
        assert!(link.is_err(), "a raw space still separates options");
        let link = Link::parse("http://Bücher.example:8080/Straße?q=ä#x", Origin::Line(1)).unwrap();
        assert_eq!(
            link.url,
            "http://xn--bcher-kva.example:8080/Stra%C3%9Fe?q=%C3%A4#x"
        );
    }
}
