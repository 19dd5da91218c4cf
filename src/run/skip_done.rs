//! The links an earlier run finished, read from its `--report` journal: `--skip-done`.
//!
//! [`DoneLinks`] streams each journal line by line and keeps, for every line whose `status` is
//! `"ok"`, only the [stable key](crate::key::stable_key) of its `url`: 8 bytes per finished link in
//! one sorted vector, so the journal of a million-link run costs about 8 MiB however long its lines
//! are. Only `ok` counts: a `skipped` line proves only that some file was at the path then, and
//! `failed` and `interrupted` links are what a rerun is for.
//!
//! The report masks passwords (`https://ann:***@host/f`), so a link is matched by the key of its URL
//! with the password masked the same way ([`redact_url`]): two links that differ only in their
//! password count as the same link.
//!
//! A run of one `--shard` needs only its own shard's links: [`DoneLinks::in_shard`] keeps the keys
//! of that shard alone, as it reads, so `--shard K/N` divides this memory by N as it divides the
//! downloads. A link's shard is the same stable key of its URL, so the test costs nothing; a
//! journal URL whose credentials were masked is kept whatever its key, since the shard of the URL as
//! written (with its password) cannot be told from it.
//!
//! A line that is not a JSON object with a string `url` and `status` (the last line of a journal
//! whose writer was killed mid-write, a line mangled by hand) is skipped and counted
//! ([`DoneLinks::unreadable_lines`]), never fatal: the caller warns about it. A journal that cannot
//! be opened or read is an error.

use std::borrow::Cow;
use std::fmt;
use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::path::Path;

use serde::Deserialize;

use crate::error::Error;
use crate::http::url::{redact_url, userinfo};
use crate::key::stable_key;
use crate::run::shard::Shard;

/// The longest journal line read; a longer one is skipped as unreadable without being stored.
/// Report lines hold at most two URLs (each under 64 KiB) and a message, so real ones are far
/// shorter.
pub(crate) const MAX_JOURNAL_LINE_BYTES: usize = 1024 * 1024;

/// The links that earlier reports mark `ok`, as a compact set of keys.
///
/// ```
/// use pardl::DoneLinks;
///
/// let journal = r#"{"url":"https://ann:***@example.com/a.iso","status":"ok"}
/// {"url":"https://example.com/b.iso","status":"failed"}
/// {"url":"https://example.com/c.iso","sta"#;
/// let mut done = DoneLinks::new();
/// done.add_journal_text(journal.as_bytes()).unwrap();
/// assert!(done.contains("https://ann:s3cret@example.com/a.iso")); // the report masked the password
/// assert!(!done.contains("https://example.com/b.iso"));
/// assert_eq!((done.len(), done.unreadable_lines()), (1, 1));
/// ```
#[derive(Default, Clone)]
pub struct DoneLinks {
    /// Keys of the masked URLs, sorted and without duplicates.
    keys: Vec<u64>,
    /// Lines of the journals read so far that could not be understood.
    unreadable: u64,
    /// The only shard whose links are kept, if any.
    shard: Option<Shard>,
}

/// The part of a report line that `--skip-done` reads.
#[derive(Deserialize)]
struct JournalLine<'a> {
    #[serde(borrow)]
    url: Cow<'a, str>,
    #[serde(borrow)]
    status: Cow<'a, str>,
}

impl DoneLinks {
    /// An empty set: nothing is done.
    pub fn new() -> DoneLinks {
        DoneLinks::default()
    }

    /// An empty set that will keep only the links of `shard`: what a run of that shard (see
    /// [`Config::shard`](crate::Config::shard)) asks about, in a `1/N`th of the memory.
    ///
    /// ```
    /// use pardl::{DoneLinks, Shard};
    ///
    /// let journal = "{\"url\":\"https://example.com/a\",\"status\":\"ok\"}\n\
    ///                {\"url\":\"https://example.com/b\",\"status\":\"ok\"}\n";
    /// let shard = Shard::parse("1/2").unwrap();
    /// assert!(shard.contains("https://example.com/b") && !shard.contains("https://example.com/a"));
    /// let mut done = DoneLinks::in_shard(shard);
    /// done.add_journal_text(journal.as_bytes())?;
    /// assert!(done.contains("https://example.com/b"));
    /// assert_eq!(done.len(), 1); // a/ is another shard's business
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn in_shard(shard: Shard) -> DoneLinks {
        DoneLinks {
            shard: Some(shard),
            ..DoneLinks::default()
        }
    }

    /// Reads the journal at `path` (a `--report` file).
    pub fn load(path: &Path) -> Result<DoneLinks, Error> {
        let mut done = DoneLinks::new();
        done.add_journal(path)?;
        Ok(done)
    }

    /// Adds the `ok` links of the journal at `path`. Fails if the file cannot be opened or read.
    pub fn add_journal(&mut self, path: &Path) -> Result<(), Error> {
        let file = File::open(path).map_err(|e| Error::io("open the journal", path, e))?;
        self.add_journal_text(BufReader::new(file))
            .map_err(|e| Error::io("read the journal", path, e))
    }

    /// Adds the `ok` links of a journal read from `reader`, line by line.
    pub fn add_journal_text<R: BufRead>(&mut self, mut reader: R) -> io::Result<()> {
        let mut line = Vec::new();
        loop {
            line.clear();
            let limit = MAX_JOURNAL_LINE_BYTES as u64 + 1;
            if reader.by_ref().take(limit).read_until(b'\n', &mut line)? == 0 {
                break;
            }
            if line.len() > MAX_JOURNAL_LINE_BYTES && line.last() != Some(&b'\n') {
                reader.skip_until(b'\n')?;
                self.unreadable += 1;
                continue;
            }
            let text = line.trim_ascii();
            if text.is_empty() {
                continue;
            }
            match serde_json::from_slice::<JournalLine>(text) {
                Ok(entry) if entry.status == "ok" => {
                    let key = stable_key(&entry.url);
                    if self.keeps(key, &entry.url) {
                        self.keys.push(key);
                    }
                }
                Ok(_) => {}
                Err(_) => self.unreadable += 1,
            }
        }
        self.keys.sort_unstable();
        self.keys.dedup();
        self.keys.shrink_to_fit();
        Ok(())
    }

    /// Whether the `ok` link with this key and (masked) URL may be asked about: it is in the shard,
    /// or its shard cannot be told because its password was masked.
    fn keeps(&self, key: u64, url: &str) -> bool {
        // The key of a URL without credentials is the one its shard is taken from.
        self.shard
            .is_none_or(|shard| shard.holds_key(key) || userinfo(url).is_some())
    }

    /// Whether an earlier report marks the link with this URL (as written in the links file) `ok`.
    pub fn contains(&self, url: &str) -> bool {
        self.keys
            .binary_search(&stable_key(&redact_url(url)))
            .is_ok()
    }

    /// How many distinct links are done.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Whether no link is done.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// Lines of the journals that could not be read as report lines and were skipped.
    pub fn unreadable_lines(&self) -> u64 {
        self.unreadable
    }
}

impl fmt::Debug for DoneLinks {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // A million keys are of no use in a log.
        f.debug_struct("DoneLinks")
            .field("len", &self.keys.len())
            .field("unreadable_lines", &self.unreadable)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(text: &[u8]) -> DoneLinks {
        let mut done = DoneLinks::new();
        done.add_journal_text(text).unwrap();
        done
    }

    #[test]
    fn only_ok_lines_count_and_garbage_is_counted_not_fatal() {
        let done = read(
            concat!(
                r#"{"url":"http://h/ok","final_url":null,"path":"d/ok","origin":"line 1","status":"ok","size":3}"#,
                "\n",
                r#"{"url":"http://h/skipped","status":"skipped"}"#,
                "\n\n",
                r#"{"url":"http://h/failed","status":"failed"}"#,
                "\n",
                "not json\n",
                r#"{"url":5,"status":"ok"}"#,
                "\n",
                r#"{"url":"http://h/esc\u0061ped","status":"ok"}"#,
                "\r\n",
                r#"{"url":"http://h/ok","status":"ok"}"#,
                "\n",
                r#"{"url":"http://h/cut","status":"o"#,
            )
            .as_bytes(),
        );
        assert!(done.contains("http://h/ok"));
        assert!(done.contains("http://h/escaped"));
        assert!(!done.contains("http://h/skipped"));
        assert!(!done.contains("http://h/failed"));
        assert!(!done.contains("http://h/cut"));
        assert_eq!(done.len(), 2, "duplicates are kept once");
        assert_eq!(done.unreadable_lines(), 3);
    }

    #[test]
    fn an_endless_line_is_skipped_without_being_stored() {
        let mut text = vec![b'x'; MAX_JOURNAL_LINE_BYTES * 2];
        text.extend_from_slice(b"\n{\"url\":\"http://h/a\",\"status\":\"ok\"}\n");
        let done = read(&text);
        assert!(done.contains("http://h/a"));
        assert_eq!(done.unreadable_lines(), 1);
    }

    #[test]
    fn journals_add_up_and_a_missing_one_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("a.jsonl");
        let b = dir.path().join("b.jsonl");
        std::fs::write(&a, "{\"url\":\"http://h/a\",\"status\":\"ok\"}\n").unwrap();
        std::fs::write(&b, "{\"url\":\"http://h/b\",\"status\":\"ok\"}\n").unwrap();
        let mut done = DoneLinks::load(&a).unwrap();
        done.add_journal(&b).unwrap();
        assert!(done.contains("http://h/a") && done.contains("http://h/b"));
        let missing = DoneLinks::load(&dir.path().join("none.jsonl")).unwrap_err();
        assert!(missing.to_string().contains("none.jsonl"), "{missing}");
        assert_eq!(
            format!("{done:?}"),
            "DoneLinks { len: 2, unreadable_lines: 0 }"
        );
    }

    #[test]
    fn a_shard_keeps_only_its_own_links_and_the_masked_ones() {
        let urls: Vec<String> = (0..400).map(|n| format!("http://h/{n}")).collect();
        let mut journal = String::new();
        for url in &urls {
            journal.push_str(&format!("{{\"url\":\"{url}\",\"status\":\"ok\"}}\n"));
        }
        journal.push_str("{\"url\":\"http://ann:***@h/secret\",\"status\":\"ok\"}\n");
        let mut kept = 0;
        for index in 0..4 {
            let shard = Shard::new(index, 4).unwrap();
            let mut done = DoneLinks::in_shard(shard);
            done.add_journal_text(journal.as_bytes()).unwrap();
            // Every link of the shard is still found; the others were never stored.
            for url in &urls {
                assert_eq!(done.contains(url), shard.contains(url), "{url} in {shard}");
            }
            assert!(done.contains("http://ann:s3cret@h/secret"), "{shard}");
            kept += done.len() - 1;
        }
        assert_eq!(kept, urls.len(), "each link is kept by exactly one shard");
    }
}
