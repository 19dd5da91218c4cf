//! The files of the user's that the options name, read into the library's types before the run:
//! the netrc (`~/.netrc` unless `--no-netrc`, or `--netrc-file`), the cookies (`--load-cookies`)
//! and the checksum files (`--checksum-file`).
//!
//! A file named on the command line that cannot be read is a usage error. The default `~/.netrc`
//! is read as wget and aria2 read it: a missing one is no error, an unreadable or malformed one is a
//! warning (the links may not need it), and one that others can read gets a warning with the fix
//! (`chmod 600`), as Python's netrc module and ssh warn. (curl's manual says it does not complain.)

use std::path::{Path, PathBuf};
use std::sync::Arc;

use pardl::{ChecksumFile, CookieJar, Netrc};

use crate::Cli;

/// What the options' files hold.
#[derive(Debug, Default)]
pub(crate) struct UserFiles {
    pub netrc: Option<Arc<Netrc>>,
    pub cookies: Option<Arc<CookieJar>>,
    pub checksums: Option<Arc<ChecksumFile>>,
}

impl UserFiles {
    /// Reads the files `cli` names (and `~/.netrc`); an error is a usage error's message.
    pub(crate) fn read(cli: &Cli) -> Result<UserFiles, String> {
        Ok(UserFiles {
            netrc: netrc(cli)?.map(Arc::new),
            cookies: cookies(cli.load_cookies.as_deref())?.map(Arc::new),
            checksums: checksums(&cli.checksum_files)?.map(Arc::new),
        })
    }
}

/// `~/.netrc`: `$HOME/.netrc` (`%USERPROFILE%\_netrc` on Windows, as curl has it).
pub(crate) fn default_netrc() -> Option<PathBuf> {
    if cfg!(windows) {
        std::env::var_os("USERPROFILE").map(|home| PathBuf::from(home).join("_netrc"))
    } else {
        std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".netrc"))
    }
}

fn netrc(cli: &Cli) -> Result<Option<Netrc>, String> {
    if cli.no_netrc {
        return Ok(None);
    }
    let (path, named) = match &cli.netrc_file {
        Some(path) => (path.clone(), true),
        None => match default_netrc() {
            Some(path) if path.exists() => (path, false),
            _ => return Ok(None),
        },
    };
    let netrc = match Netrc::read(&path) {
        Ok(netrc) => netrc,
        Err(message) if named => return Err(format!("--netrc-file: {message}")),
        Err(message) => {
            log::warn!("{message}; not using it (--no-netrc turns this off)");
            return Ok(None);
        }
    };
    if let Some(warning) = Netrc::permission_warning(&path) {
        log::warn!("{warning}");
    }
    log::info!(
        "{}: credentials for {} machine(s)",
        path.display(),
        netrc.len()
    );
    Ok(Some(netrc))
}

fn cookies(path: Option<&Path>) -> Result<Option<CookieJar>, String> {
    let Some(path) = path else {
        return Ok(None);
    };
    let jar = CookieJar::read(path).map_err(|message| format!("--load-cookies: {message}"))?;
    if jar.is_empty() {
        log::warn!(
            "--load-cookies: {} has no cookies in the Netscape format (7 fields separated by tabs)",
            path.display()
        );
    }
    Ok(Some(jar))
}

fn checksums(paths: &[PathBuf]) -> Result<Option<ChecksumFile>, String> {
    if paths.is_empty() {
        return Ok(None);
    }
    let mut sums = ChecksumFile::new();
    for path in paths {
        let lines = sums
            .add_file(path)
            .map_err(|message| format!("--checksum-file: {message}"))?;
        log::info!("{}: {lines} checksum(s)", path.display());
    }
    Ok(Some(sums))
}
