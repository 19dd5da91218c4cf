//! The config file: long options read before the command line, as aria2.conf, .wgetrc and .curlrc
//! work.
//!
//! ```text
//! # ~/.config/pardl/config
//! connections = 8
//! limit-rate = 2M
//! header = "Accept-Language: en"
//! header = X-Team: downloads
//! remote-time
//! ```
//!
//! It is `--config FILE`, else `$XDG_CONFIG_HOME/pardl/config`, else `~/.config/pardl/config`; a
//! missing default file is no error, and `--no-config` reads none. Each line is `option = value`
//! (the option's long name, with or without `--`; the value may be in double quotes), or `option`
//! alone for a flag (`option = true` and `option = false` work too; `verbose = 2` is `-vv`). Blank
//! lines and lines starting with `#` are skipped.
//!
//! The file's options are put in front of the command line's and the whole is parsed by clap, so a
//! value means exactly what it means on the command line. The command line wins, whatever the kind
//! of option: an option it gives replaces the file's (for a repeatable one such as `-H`, all the
//! file's lines of it), and a file's flag that the command line contradicts (`overwrite` in the file,
//! `--check-existing` on the command line; `quiet` and `-v`) is left out. Each line is checked on its
//! own first, so an unknown option or a bad value is a usage error naming the file and the line.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use clap::error::ErrorKind;
use clap::parser::ValueSource;
use clap::{ArgMatches, Command};

/// Options that make no sense in a config file: they choose the file, answer at once, or apply to
/// the one URL of a command line.
const COMMAND_LINE_ONLY: &[&str] = &[
    "config",
    "no-config",
    "help",
    "version",
    "output",
    "checksum",
];

/// One option of the file, as command-line words.
#[derive(Debug, Clone, PartialEq)]
struct FileOption {
    line: usize,
    /// The clap id of the option.
    id: String,
    /// `--name value`, `--name`, or `--name` repeated (a count).
    args: Vec<OsString>,
}

/// `args` (the command line, program name first) with the config file's options put in front of
/// its own: what the command parses. Errors are clap's, to `exit()` with: the command line's own
/// (including `--help`), or a usage error naming the config file and its line.
pub(crate) fn command_line(
    command: Command,
    args: Vec<OsString>,
) -> Result<Vec<OsString>, clap::Error> {
    let matches = match command.clone().try_get_matches_from(&args) {
        Ok(matches) => matches,
        // The file may hold what the command line's options require (`user` for `--password`): the
        // final parse checks that again.
        Err(error) if error.kind() == ErrorKind::MissingRequiredArgument => command
            .clone()
            .ignore_errors(true)
            .try_get_matches_from(&args)?,
        Err(error) => return Err(error),
    };
    if matches.subcommand().is_some() || matches.get_flag("no_config") {
        return Ok(args);
    }
    let explicit = matches.get_one::<PathBuf>("config").cloned();
    let Some(path) = explicit.clone().or_else(default_path) else {
        return Ok(args);
    };
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound && explicit.is_none() => {
            return Ok(args);
        }
        Err(error) => {
            return Err(usage_error(
                &command,
                format!("cannot read config file {}: {error}", path.display()),
            ))
        }
    };
    let options = parse(&command, &text)
        .map_err(|(line, message)| usage_error(&command, at(&path, line, &message)))?;
    let kept = merge(&command, &matches, &args, options)
        .map_err(|(line, message)| usage_error(&command, at(&path, line, &message)))?;
    let mut merged = Vec::with_capacity(args.len() + kept.len());
    merged.extend(args.first().cloned());
    merged.extend(kept.into_iter().flat_map(|option| option.args));
    merged.extend(args.into_iter().skip(1));
    Ok(merged)
}

/// `$XDG_CONFIG_HOME/pardl/config` (an absolute `XDG_CONFIG_HOME` only, as the XDG rules say), else
/// `~/.config/pardl/config`.
pub(crate) fn default_path() -> Option<PathBuf> {
    let xdg = std::env::var_os("XDG_CONFIG_HOME")
        .map(PathBuf::from)
        .filter(|dir| dir.is_absolute());
    let dir =
        xdg.or_else(|| std::env::var_os("HOME").map(|home| Path::new(&home).join(".config")))?;
    Some(dir.join("pardl").join("config"))
}

fn at(path: &Path, line: usize, message: &str) -> String {
    format!("config file {} line {line}: {message}", path.display())
}

fn usage_error(command: &Command, message: String) -> clap::Error {
    command.clone().error(ErrorKind::InvalidValue, message)
}

/// The options of the file's text, each checked alone: `Err((line, why))` for the first line that
/// is not an option the command takes with a value it accepts.
fn parse(command: &Command, text: &str) -> Result<Vec<FileOption>, (usize, String)> {
    let mut options = Vec::new();
    for (index, line) in text.lines().enumerate() {
        let number = index + 1;
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if let Some(option) = option(command, line).map_err(|why| (number, why))? {
            check_alone(command, &option.args).map_err(|why| (number, why))?;
            options.push(FileOption {
                line: number,
                ..option
            });
        }
    }
    Ok(options)
}

/// One line as command-line words, or `None` for a flag set to false.
fn option(command: &Command, line: &str) -> Result<Option<FileOption>, String> {
    let (name, value) = match line.split_once('=') {
        Some((name, value)) => (name.trim(), Some(unquote(value.trim()))),
        None => (line, None),
    };
    let name = name.strip_prefix("--").unwrap_or(name);
    let arg = command
        .get_arguments()
        .find(|arg| arg.get_long() == Some(name))
        .filter(|_| !COMMAND_LINE_ONLY.contains(&name))
        .ok_or_else(|| {
            if COMMAND_LINE_ONLY.contains(&name) {
                format!("'{name}' can only be given on the command line")
            } else {
                format!("unknown option '{name}'")
            }
        })?;
    let flag = OsString::from(format!("--{name}"));
    let args = match (arg.get_action(), value) {
        (action, Some(value)) if action.takes_values() => vec![flag, OsString::from(value)],
        (action, None) if action.takes_values() => {
            return Err(format!("'{name}' needs a value: {name} = VALUE"))
        }
        (clap::ArgAction::Count, Some(value)) => {
            let times: usize = value
                .parse()
                .map_err(|_| format!("'{name}' takes a count, got '{value}'"))?;
            vec![flag; times]
        }
        (_, None) => vec![flag],
        (_, Some(value)) => match value.to_ascii_lowercase().as_str() {
            "true" | "yes" | "on" | "1" => vec![flag],
            "false" | "no" | "off" | "0" => return Ok(None),
            _ => {
                return Err(format!(
                    "'{name}' is a flag: write '{name}' or '{name} = false'"
                ))
            }
        },
    };
    Ok(Some(FileOption {
        line: 0,
        id: arg.get_id().to_string(),
        args,
    }))
}

/// A value in double quotes without them (`"Accept-Language: en"`), anything else as it is.
fn unquote(value: &str) -> &str {
    value
        .strip_prefix('"')
        .and_then(|v| v.strip_suffix('"'))
        .unwrap_or(value)
}

/// Whether `args` parse on their own: clap's message if not (what another option requires is
/// looked for later, in the whole command line).
fn check_alone(command: &Command, args: &[OsString]) -> Result<(), String> {
    let words = std::iter::once(OsString::from("pardl")).chain(args.iter().cloned());
    match command.clone().try_get_matches_from(words) {
        Ok(_) => Ok(()),
        Err(error) if error.kind() == ErrorKind::MissingRequiredArgument => Ok(()),
        Err(error) => Err(message(&error)),
    }
}

/// The file's options that the command line leaves in place: those it does not give itself and that
/// do not contradict it. Two options of the file that contradict each other are an error.
fn merge(
    command: &Command,
    matches: &ArgMatches,
    args: &[OsString],
    options: Vec<FileOption>,
) -> Result<Vec<FileOption>, (usize, String)> {
    let on_command_line = |id: &str| matches.value_source(id) == Some(ValueSource::CommandLine);
    let mut kept: Vec<FileOption> = Vec::new();
    for option in options {
        if on_command_line(&option.id) {
            continue;
        }
        let with_command_line = std::iter::once(OsString::from("pardl"))
            .chain(option.args.iter().cloned())
            .chain(args.iter().skip(1).cloned());
        if conflicts(command, with_command_line) {
            continue;
        }
        let with_earlier = std::iter::once(OsString::from("pardl"))
            .chain(kept.iter().flat_map(|o| o.args.iter().cloned()))
            .chain(option.args.iter().cloned());
        if conflicts(command, with_earlier) {
            let earlier = kept
                .iter()
                .map(|o| o.line.to_string())
                .collect::<Vec<_>>()
                .join(", ");
            return Err((
                option.line,
                format!(
                    "'{}' contradicts an option on an earlier line ({earlier})",
                    option.id.replace('_', "-")
                ),
            ));
        }
        kept.push(option);
    }
    Ok(kept)
}

fn conflicts(command: &Command, words: impl Iterator<Item = OsString>) -> bool {
    matches!(
        command.clone().try_get_matches_from(words),
        Err(error) if error.kind() == ErrorKind::ArgumentConflict
    )
}

/// The first line of clap's message, without its `error: `.
fn message(error: &clap::Error) -> String {
    let text = error.to_string();
    let first = text.lines().next().unwrap_or_default();
    first.strip_prefix("error: ").unwrap_or(first).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::{CommandFactory, Parser};

    use crate::Cli;

    fn words(args: &[&str]) -> Vec<OsString> {
        args.iter().map(OsString::from).collect()
    }

    /// The command line `args` with the config file `text` in front, as the command parses it.
    fn with_file(text: &str, args: &[&str]) -> Result<Cli, String> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config");
        std::fs::write(&path, text).unwrap();
        let mut argv = vec!["pardl", "--config", path.to_str().unwrap()];
        argv.extend_from_slice(args);
        let merged = command_line(Cli::command(), words(&argv)).map_err(|e| message(&e))?;
        Cli::try_parse_from(merged).map_err(|e| message(&e))
    }

    #[test]
    fn the_file_sets_options_of_every_kind() {
        let cli = with_file(
            "# defaults\n\njobs = 2\n--connections=7\nheader = \"X-A: 1\"\nheader = X-B: 2\nremote-time\nno-netrc = true\noverwrite = false\nverbose = 2\n",
            &[],
        )
        .unwrap();
        assert_eq!((cli.jobs, cli.connections), (2, 7));
        let headers: Vec<_> = cli.headers.iter().map(|h| h.value.as_str()).collect();
        assert_eq!(headers, ["1", "2"]);
        assert!(cli.remote_time && cli.no_netrc && !cli.overwrite);
        assert_eq!(cli.verbose, 2);
    }

    #[test]
    fn the_command_line_wins_for_values_flags_and_repeatable_options() {
        let file = "jobs = 2\nheader = X-A: 1\nheader = X-B: 2\noverwrite\nquiet\n";
        let cli = with_file(file, &["-j", "9", "-H", "X-C: 3", "--check-existing", "-v"]).unwrap();
        assert_eq!(cli.jobs, 9);
        let headers: Vec<_> = cli.headers.iter().map(|h| h.value.as_str()).collect();
        assert_eq!(headers, ["3"], "the command line's -H replaces the file's");
        assert!(cli.check_existing && !cli.overwrite);
        assert!(!cli.quiet && cli.verbose == 1);
        // What the command line leaves alone stays.
        let cli = with_file(file, &["-x", "3"]).unwrap();
        assert_eq!((cli.jobs, cli.connections, cli.headers.len()), (2, 3, 2));
        assert!(cli.overwrite && cli.quiet);
    }

    #[test]
    fn mistakes_name_the_file_and_the_line() {
        for (text, expected) in [
            (
                "jobs = 2\n\nconections = 4\n",
                "line 3: unknown option 'conections'",
            ),
            ("jobs = 0\n", "line 1: invalid value '0' for '--jobs <N>'"),
            (
                "min-chunk = big\n",
                "line 1: invalid value 'big' for '--min-chunk <SIZE>'",
            ),
            ("jobs\n", "line 1: 'jobs' needs a value: jobs = VALUE"),
            ("overwrite = maybe\n", "line 1: 'overwrite' is a flag"),
            (
                "config = other\n",
                "line 1: 'config' can only be given on the command line",
            ),
            (
                "overwrite\ncheck-existing\n",
                "line 2: 'check-existing' contradicts an option on an earlier line (1)",
            ),
        ] {
            let error = with_file(text, &[]).unwrap_err();
            assert!(
                error.starts_with("config file ") && error.contains(expected),
                "{text:?}: {error}"
            );
        }
    }

    #[test]
    fn what_one_option_requires_may_come_from_the_other_side() {
        let cli = with_file("user = ann\n", &["--password", "pw"]).unwrap();
        assert_eq!(cli.password.as_deref(), Some("pw"));
        let cli = with_file("password = pw\n", &["--user", "ann"]).unwrap();
        assert_eq!(cli.user.as_deref(), Some("ann"));
        assert!(with_file("password = pw\n", &[]).is_err());
    }

    #[test]
    fn no_config_and_commands_read_no_file() {
        let bad = "not an option\n";
        assert!(with_file(bad, &[]).is_err());
        assert!(
            with_file(bad, &["--no-config"]).is_err(),
            "--config and --no-config conflict"
        );
        let args = words(&["pardl", "--no-config", "-j", "3"]);
        assert_eq!(command_line(Cli::command(), args.clone()).unwrap(), args);
    }
}
