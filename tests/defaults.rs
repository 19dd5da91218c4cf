//! The manual's option table (docs/usage.md) states the defaults the command really has.
//!
//! Each default is written once, as a constant of `pardl::Config`; clap shows it in `--help` as
//! `[default: …]`. The manual repeats them for people, so this test reads its table and holds every
//! stated default to `pardl --help`, or, for the few that `--help` does not show, to the constants.

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;
use std::process::Command;

use pardl::Config;

/// One row of the manual's option table: its long option (or first spelling) and its default cell.
struct Row {
    option: String,
    default: String,
}

/// The rows of the table under `## Command line`.
fn manual_rows() -> Vec<Row> {
    let manual = fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/usage.md"))
        .expect("docs/usage.md is readable");
    let section = manual
        .split("\n## Command line\n")
        .nth(1)
        .expect("docs/usage.md has a Command line section");
    let section = section.split("\n## ").next().unwrap_or(section);
    let mut lines = section
        .lines()
        .skip_while(|line| !line.starts_with("| option | default |"))
        .skip(2); // the header and the |---| line
    let mut rows = Vec::new();
    for line in lines.by_ref().take_while(|line| line.starts_with('|')) {
        let cells: Vec<&str> = line.trim_matches('|').split('|').map(str::trim).collect();
        let spellings = cells[0].trim_matches('`');
        let option = spellings
            .split([',', ' '])
            .find(|word| word.starts_with("--"))
            .unwrap_or(spellings)
            .to_string();
        rows.push(Row {
            option,
            default: cells[1].to_string(),
        });
    }
    assert!(
        rows.len() > 20,
        "the option table was not found in docs/usage.md"
    );
    rows
}

/// What the manual's cell says a default is, as it would be typed: `` `1M` `` is `1M`, `0 (off)` is `0`.
fn typed(cell: &str) -> String {
    let value = cell.split(" (").next().unwrap_or(cell);
    value.trim().trim_matches('`').to_string()
}

/// `pardl --help`: each long option with the default it shows, if any.
fn help_defaults() -> BTreeMap<String, Option<String>> {
    let output = Command::new(env!("CARGO_BIN_EXE_pardl"))
        .arg("--help")
        .output()
        .expect("pardl --help runs");
    assert!(output.status.success());
    let help = String::from_utf8(output.stdout).expect("the help is UTF-8");
    let mut options = BTreeMap::new();
    let mut current: Option<String> = None;
    for line in help.lines() {
        let indent = line.len() - line.trim_start().len();
        let text = line.trim();
        // Option lines are indented by 2 (`  -j, --jobs <N>`) or 6 (`      --overwrite`); their
        // descriptions by 10.
        if indent < 10 && text.starts_with('-') {
            let long = text
                .split([',', ' '])
                .find(|word| word.starts_with("--"))
                .map(|word| word.trim_end_matches("..."))
                .expect("every option has a long form");
            current = Some(long.to_string());
            options.insert(long.to_string(), None);
        } else if let (Some(option), Some(rest)) = (&current, text.strip_prefix("[default: ")) {
            let value = rest.strip_suffix(']').expect("a default ends with ]");
            options.insert(option.clone(), Some(value.to_string()));
        }
    }
    assert!(
        options.get("--jobs").is_some_and(Option::is_some),
        "--help was not read: {options:?}"
    );
    options
}

#[test]
fn the_manual_states_the_defaults_the_command_has() {
    let help = help_defaults();
    let rows = manual_rows();
    let mut wrong = Vec::new();

    // Every default --help shows is in the table, as --help shows it.
    for (option, default) in &help {
        let Some(default) = default else { continue };
        match rows.iter().find(|row| &row.option == option) {
            None => wrong.push(format!(
                "{option}: --help shows a default of {default}, docs/usage.md has no row"
            )),
            Some(row) if typed(&row.default) != *default => wrong.push(format!(
                "{option}: docs/usage.md says {:?}, --help says {default}",
                row.default
            )),
            Some(_) => {}
        }
    }

    // A default the table states that --help does not show is one of these, held to the library.
    let version = env!("CARGO_PKG_VERSION");
    for row in &rows {
        let shown = help.get(&row.option).cloned().flatten();
        if row.default.is_empty() || shown.is_some() {
            continue;
        }
        let config = Config::default();
        let right = match row.option.as_str() {
            // Hidden in --help (`hide_default_value`), as "no limit" reads better than "0".
            "--limit-rate" => typed(&row.default) == Config::DEFAULT_LIMIT_RATE.to_string(),
            "--user-agent" => {
                row.default
                    == format!(
                        "`{}`",
                        Config::DEFAULT_USER_AGENT.replace(version, "VERSION")
                    )
            }
            "--overwrite" | "--check-existing" => {
                row.default == "off" && config.if_exists == pardl::IfExists::Skip
            }
            "--insecure" => row.default == "off" && !config.insecure,
            "--ca-certificate" => {
                row.default == "the system's store" && config.ca_certificate.is_none()
            }
            "--proxy" => {
                row.default == "from the environment"
                    && Config::DEFAULT_PROXY_FROM_ENV
                    && config.proxy.is_none()
            }
            // Not settings of the library: what the command does without the option.
            "--input-file" => row.default == "`./links.txt`",
            "--password" => row.default == "empty",
            _ => {
                wrong.push(format!(
                    "{}: docs/usage.md states a default ({}) that --help does not show and this test \
                     does not know; show it in --help or check it here",
                    row.option, row.default
                ));
                continue;
            }
        };
        if !right {
            wrong.push(format!(
                "{}: docs/usage.md says {}, which is not the default",
                row.option, row.default
            ));
        }
    }
    assert!(
        wrong.is_empty(),
        "docs/usage.md and the command disagree:\n{}",
        wrong.join("\n")
    );
}

#[test]
fn the_manuals_prose_about_defaults_uses_the_defaults() {
    let manual = fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/usage.md"))
        .expect("docs/usage.md is readable");
    // Line breaks in the prose are spaces.
    let manual = manual.split_whitespace().collect::<Vec<_>>().join(" ");
    let help = help_defaults();
    let min_chunk = help["--min-chunk"]
        .clone()
        .expect("--min-chunk shows its default");
    for expected in [
        format!("`-j {}` is aria2's default", Config::DEFAULT_JOBS),
        format!("`-x {}` is axel's default", Config::DEFAULT_CONNECTIONS),
        format!("`-k {min_chunk}` keeps small files in one request"),
        format!(
            "({} with the defaults)",
            Config::DEFAULT_JOBS * Config::DEFAULT_CONNECTIONS
        ),
        format!("`--max-per-host` ({})", Config::DEFAULT_MAX_PER_HOST),
    ] {
        assert!(
            manual.contains(&expected),
            "docs/usage.md lacks {expected:?}"
        );
    }
}
