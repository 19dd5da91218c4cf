//! The netrc file (`~/.netrc`): a user name and password per machine, read the way wget, aria2 and
//! curl (`-n`) read it.
//!
//! ```text
//! # ~/.netrc
//! machine downloads.example.com
//!   login ann
//!   password "s3cret with spaces"
//! machine mirror.example.org login bob password hunter2
//! ```
//!
//! The file is a stream of words separated by spaces, tabs or newlines: `machine NAME` starts an
//! entry, and `login`, `password` and `account` give its fields in any order; a word in double quotes
//! may hold spaces, and `\"` or `\\` inside it (as curl reads it). `macdef NAME` (an FTP macro) runs
//! to the next blank line and is skipped, and so is a `#` comment to the end of its line.
//!
//! Matching is by host name alone, ignoring the port and case (`Downloads.Example.com:8443` is
//! `downloads.example.com`), so an entry's credentials go only to the machine it names: a link to
//! another host, or a redirect to one, gets that host's own entry or none. The `default` entry, which
//! the netrc format sends to every other machine, is read but never used: pardl does not hand a
//! password to a host the file does not name.

use std::fmt;
use std::path::Path;

/// The entries of a netrc file.
///
/// ```
/// use pardl::Netrc;
///
/// let netrc = Netrc::parse("machine example.com login ann password s3cret\n").unwrap();
/// assert_eq!(netrc.credentials("EXAMPLE.com", None), Some(("ann", "s3cret")));
/// assert_eq!(netrc.credentials("other.example", None), None);
/// assert!(!format!("{netrc:?}").contains("s3cret"));
/// ```
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Netrc {
    machines: Vec<Machine>,
}

/// One `machine` entry.
#[derive(Clone, Default, PartialEq, Eq)]
struct Machine {
    /// The host name, lowercase.
    name: String,
    login: Option<String>,
    password: Option<String>,
}

impl Netrc {
    /// Reads the entries of a netrc file's text; an error names the line of the first word it cannot
    /// read (a keyword without its value, an unknown keyword, a quote left open).
    pub fn parse(text: &str) -> Result<Netrc, String> {
        let mut words = Words::new(text);
        let mut machines = Vec::new();
        // The entry being read: `Some` after `machine`, `None` after `default` (read, not kept).
        let mut current: Option<Machine> = None;
        let mut in_default = false;
        while let Some((line, word)) = words.next_word()? {
            match word.as_str() {
                "machine" => {
                    machines.extend(current.take());
                    let name = words.value(line, "machine")?;
                    current = Some(Machine {
                        name: name.to_ascii_lowercase(),
                        ..Machine::default()
                    });
                    in_default = false;
                }
                "default" => {
                    machines.extend(current.take());
                    in_default = true;
                }
                "login" | "password" | "account" => {
                    let value = words.value(line, &word)?;
                    let Some(machine) = current.as_mut() else {
                        if in_default {
                            continue;
                        }
                        return Err(format!("line {line}: '{word}' before any 'machine'"));
                    };
                    match word.as_str() {
                        "login" => machine.login = Some(value),
                        "password" => machine.password = Some(value),
                        _ => {}
                    }
                }
                "macdef" => {
                    words.value(line, "macdef")?;
                    words.skip_macro();
                }
                other => return Err(format!("line {line}: unknown keyword '{other}'")),
            }
        }
        machines.extend(current);
        Ok(Netrc { machines })
    }

    /// Reads and parses the netrc file at `path`.
    pub fn read(path: &Path) -> Result<Netrc, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        Netrc::parse(&text).map_err(|e| format!("{}: {e}", path.display()))
    }

    /// The `(login, password)` for `host` (a host name without its port, any case): the first entry
    /// of that machine, or with `user` given, the first entry of that machine with that login (whose
    /// password completes a URL that names only its user). An entry without a login gives none;
    /// without a password, an empty one.
    pub fn credentials(&self, host: &str, user: Option<&str>) -> Option<(&str, &str)> {
        let host = host.trim_end_matches('.');
        self.machines
            .iter()
            .filter(|machine| machine.name.eq_ignore_ascii_case(host))
            .filter_map(|machine| {
                let login = machine.login.as_deref()?;
                Some((login, machine.password.as_deref().unwrap_or("")))
            })
            .find(|(login, _)| user.is_none_or(|user| user == *login))
    }

    /// The warning for a netrc file at `path` that other users may read (its passwords are then
    /// not private), with the command that fixes it, as Python's netrc module and ssh give it; `None` when only its owner can read it, and on
    /// systems without Unix permissions.
    pub fn permission_warning(path: &Path) -> Option<String> {
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(path).ok()?.permissions().mode();
            permission_warning(path, mode)
        }
        #[cfg(not(unix))]
        {
            let _ = path;
            None
        }
    }

    /// The number of `machine` entries.
    pub fn len(&self) -> usize {
        self.machines.len()
    }

    /// Whether the file had no `machine` entry.
    pub fn is_empty(&self) -> bool {
        self.machines.is_empty()
    }
}

impl fmt::Debug for Netrc {
    /// The machines and logins, never the passwords.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list()
            .entries(self.machines.iter().map(|machine| {
                format!(
                    "{} login {} password ***",
                    machine.name,
                    machine.login.as_deref().unwrap_or("-")
                )
            }))
            .finish()
    }
}

/// The warning for a netrc file of Unix permissions `mode` that others may read or write, or `None`
/// when only its owner can.
#[cfg_attr(not(unix), allow(dead_code))]
fn permission_warning(path: &Path, mode: u32) -> Option<String> {
    (mode & 0o077 != 0).then(|| {
        format!(
            "{} can be read by other users (mode {:03o}); its passwords are not private: chmod 600 {}",
            path.display(),
            mode & 0o777,
            path.display()
        )
    })
}

/// The words of a netrc text, with the line each starts on.
struct Words<'a> {
    chars: std::iter::Peekable<std::str::Chars<'a>>,
    line: usize,
}

impl<'a> Words<'a> {
    fn new(text: &'a str) -> Words<'a> {
        Words {
            chars: text.chars().peekable(),
            line: 1,
        }
    }

    /// The next word and its line, skipping blanks and comments; `None` at the end.
    fn next_word(&mut self) -> Result<Option<(usize, String)>, String> {
        loop {
            match self.chars.peek() {
                None => return Ok(None),
                Some('\n') => {
                    self.line += 1;
                    self.chars.next();
                }
                Some(c) if c.is_whitespace() => {
                    self.chars.next();
                }
                Some('#') => while self.chars.next_if(|&c| c != '\n').is_some() {},
                Some('"') => {
                    self.chars.next();
                    return self.quoted().map(|word| Some((self.line, word)));
                }
                Some(_) => {
                    let mut word = String::new();
                    while let Some(c) = self.chars.next_if(|c| !c.is_whitespace()) {
                        word.push(c);
                    }
                    return Ok(Some((self.line, word)));
                }
            }
        }
    }

    /// The rest of a word that began with `"`, up to the closing quote.
    fn quoted(&mut self) -> Result<String, String> {
        let start = self.line;
        let mut word = String::new();
        loop {
            match self.chars.next() {
                None => return Err(format!("line {start}: a quote is not closed")),
                Some('"') => return Ok(word),
                Some('\\') => match self.chars.next() {
                    Some(c) => word.push(c),
                    None => return Err(format!("line {start}: a quote is not closed")),
                },
                Some(c) => {
                    if c == '\n' {
                        self.line += 1;
                    }
                    word.push(c);
                }
            }
        }
    }

    /// The value after `keyword` (found on `line`).
    fn value(&mut self, line: usize, keyword: &str) -> Result<String, String> {
        match self.next_word()? {
            Some((_, value)) => Ok(value),
            None => Err(format!("line {line}: '{keyword}' without a value")),
        }
    }

    /// Skips a macro definition's body: everything up to an empty line.
    fn skip_macro(&mut self) {
        let mut previous = ' ';
        for c in self.chars.by_ref() {
            if c == '\n' {
                self.line += 1;
                if previous == '\n' {
                    return;
                }
            }
            previous = c;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_on_one_line_or_many_with_comments_and_quotes() {
        let text = "# my machines\nmachine a.example\n  login ann # the usual\n  password \"two words\"\n\nmachine b.example login bob password p\\\"q account x\nmachine c.example login \"c\\\\d\"\n";
        let netrc = Netrc::parse(text).unwrap();
        assert_eq!(netrc.len(), 3);
        assert_eq!(
            netrc.credentials("a.example", None),
            Some(("ann", "two words"))
        );
        assert_eq!(
            netrc.credentials("b.example", None),
            Some(("bob", "p\\\"q"))
        );
        assert_eq!(netrc.credentials("c.example", None), Some(("c\\d", "")));
    }

    #[test]
    fn hosts_match_whole_and_in_any_case_and_never_the_default_entry() {
        let netrc = Netrc::parse(
            "machine Example.COM login ann password one\ndefault login anonymous password guest\n",
        )
        .unwrap();
        assert_eq!(netrc.credentials("example.com", None), Some(("ann", "one")));
        assert_eq!(
            netrc.credentials("example.com.", None),
            Some(("ann", "one"))
        );
        for other in [
            "www.example.com",
            "example.co",
            "xample.com",
            "example.com.evil",
            "",
        ] {
            assert_eq!(netrc.credentials(other, None), None, "{other}");
        }
    }

    #[test]
    fn a_user_picks_its_own_entry() {
        let netrc = Netrc::parse(
            "machine h login ann password one\nmachine h login bob password two\nmachine h password nologin\n",
        )
        .unwrap();
        assert_eq!(netrc.credentials("h", None), Some(("ann", "one")));
        assert_eq!(netrc.credentials("h", Some("bob")), Some(("bob", "two")));
        assert_eq!(netrc.credentials("h", Some("carl")), None);
    }

    #[test]
    fn macros_are_skipped_to_the_blank_line() {
        let text = "macdef init\ncd /pub\nget x\n\nmachine h login ann password one\n";
        let netrc = Netrc::parse(text).unwrap();
        assert_eq!(netrc.credentials("h", None), Some(("ann", "one")));
    }

    #[test]
    fn mistakes_name_their_line() {
        for (text, error) in [
            ("machine h login", "line 1: 'login' without a value"),
            ("\n\nlogin ann", "line 3: 'login' before any 'machine'"),
            ("machine h\nlogn ann", "line 2: unknown keyword 'logn'"),
            (
                "machine h password \"open\n",
                "line 1: a quote is not closed",
            ),
        ] {
            assert_eq!(Netrc::parse(text).unwrap_err(), error, "{text:?}");
        }
        assert_eq!(Netrc::parse("").unwrap(), Netrc::default());
    }

    #[test]
    fn a_file_others_can_read_gets_a_warning() {
        let path = Path::new("/home/ann/.netrc");
        assert_eq!(permission_warning(path, 0o100600), None);
        assert_eq!(permission_warning(path, 0o100400), None);
        assert_eq!(
            permission_warning(path, 0o100644).unwrap(),
            "/home/ann/.netrc can be read by other users (mode 644); its passwords are not private: chmod 600 /home/ann/.netrc"
        );
        assert!(permission_warning(path, 0o100640).is_some());
    }
}
