//! `pardl completions SHELL` and `pardl man`: generated from the parser's own definitions, so they
//! never disagree with it.
//!
//! The man page takes its name, description, options and version from clap_mangen, and writes its
//! own synopsis (with each option's value, which clap_mangen leaves out), its own list of commands
//! (clap_mangen's points at `pardl-completions(1)` and `pardl-help(1)`, pages that do not exist),
//! the files pardl reads, and a SEE ALSO of pages that do exist.

use std::io::{self, Write};

use clap::Command;

/// Writes what `command` asks for to standard output; returns the exit status.
pub(crate) fn generate(mut definition: Command, command: &crate::Command) -> i32 {
    let mut out = io::stdout().lock();
    let written = match command {
        crate::Command::Completions { shell } => {
            clap_complete::generate(*shell, &mut definition, "pardl", &mut out);
            Ok(())
        }
        crate::Command::Man => man_page(definition, &mut out),
    };
    match written.and_then(|()| out.flush()) {
        Ok(()) => 0,
        Err(error) if error.kind() == io::ErrorKind::BrokenPipe => 0,
        Err(error) => {
            eprintln!("pardl: cannot write to standard output: {error}");
            1
        }
    }
}

/// The man page of `definition`, in roff.
pub(crate) fn man_page(definition: Command, out: &mut dyn Write) -> io::Result<()> {
    let man = clap_mangen::Man::new(definition.clone());
    man.render_title(out)?;
    man.render_name_section(out)?;
    out.write_all(synopsis(&definition).as_bytes())?;
    man.render_description_section(out)?;
    man.render_options_section(out)?;
    out.write_all(COMMANDS_FILES_AND_SEE_ALSO.as_bytes())?;
    man.render_version_section(out)
}

/// `.SH SYNOPSIS`: every option with its value (`[-j|--jobs N]`), then the two commands.
fn synopsis(definition: &Command) -> String {
    let mut line = String::from("\\fBpardl\\fR");
    for arg in definition.get_arguments() {
        if arg.is_hide_set() || arg.is_positional() {
            continue;
        }
        let mut names = Vec::new();
        if let Some(short) = arg.get_short() {
            names.push(format!("\\fB\\-{short}\\fR"));
        }
        if let Some(long) = arg.get_long() {
            names.push(format!("\\fB\\-\\-{}\\fR", roff(long)));
        }
        let value = match arg.get_value_names() {
            Some(values) if arg.get_action().takes_values() => values
                .iter()
                .map(|value| format!(" \\fI{}\\fR", roff(value)))
                .collect::<String>(),
            _ => String::new(),
        };
        let repeat = match arg.get_action() {
            clap::ArgAction::Append | clap::ArgAction::Count => "...",
            _ => "",
        };
        line.push_str(&format!(" [{}{value}]{repeat}", names.join("|")));
    }
    line.push_str(" [\\fIURL\\fR]...");
    format!(
        ".SH SYNOPSIS\n{line}\n.br\n\\fBpardl completions\\fR \\fISHELL\\fR\n.br\n\\fBpardl man\\fR\n"
    )
}

/// Text for roff: a `-` is a hyphen, `\-` the minus sign a command line needs.
fn roff(text: &str) -> String {
    text.replace('\\', "\\e").replace('-', "\\-")
}

const COMMANDS_FILES_AND_SEE_ALSO: &str = r#".SH COMMANDS
.TP
\fBpardl completions\fR \fISHELL\fR
Print a completion script for \fISHELL\fR (bash, elvish, fish, powershell, zsh) to standard output, e.g. \fBpardl completions bash > ~/.local/share/bash\-completion/completions/pardl\fR.
.TP
\fBpardl man\fR
Print this page in roff to standard output, e.g. \fBpardl man | man \-l \-\fR, or \fBpardl man > ~/.local/share/man/man1/pardl.1\fR.
.SH FILES
.TP
\fI$XDG_CONFIG_HOME/pardl/config\fR, else \fI~/.config/pardl/config\fR
Options read before the command line (whose options win): one long option per line, as \fBoption = value\fR, or \fBoption\fR alone for a flag; lines starting with \fB#\fR are comments. See \fB\-\-config\fR and \fB\-\-no\-config\fR.
.TP
\fI~/.netrc\fR
User names and passwords per machine (\fBmachine\fR \fIHOST\fR \fBlogin\fR \fIUSER\fR \fBpassword\fR \fIPASSWORD\fR), each sent only to its machine. See \fB\-\-netrc\-file\fR and \fB\-\-no\-netrc\fR.
.TP
\fINAME\fR\fB.part\fR, \fINAME\fR\fB.part.pardl\fR
A download in progress and its resume state, beside the final \fINAME\fR.
.SH SEE ALSO
\fBcurl\fR(1), \fBwget\fR(1), \fBaria2c\fR(1), \fBnetrc\fR(5), \fBsha256sum\fR(1)
"#;

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    fn page() -> String {
        let mut out = Vec::new();
        man_page(crate::Cli::command(), &mut out).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn the_synopsis_shows_option_values_and_the_commands() {
        let page = page();
        let synopsis = page.split(".SH SYNOPSIS\n").nth(1).unwrap();
        let synopsis = synopsis.split(".SH ").next().unwrap();
        for expected in [
            "[\\fB\\-j\\fR|\\fB\\-\\-jobs\\fR \\fIN\\fR]",
            "[\\fB\\-H\\fR|\\fB\\-\\-header\\fR \\fI'NAME: VALUE'\\fR]...",
            "[\\fB\\-\\-overwrite\\fR]",
            "[\\fB\\-v\\fR|\\fB\\-\\-verbose\\fR]...",
            "\\fBpardl completions\\fR \\fISHELL\\fR",
            "\\fBpardl man\\fR",
        ] {
            assert!(synopsis.contains(expected), "{expected} in {synopsis}");
        }
    }

    #[test]
    fn every_page_it_names_exists() {
        let page = page();
        assert!(!page.contains("pardl\\-completions(1)"), "{page}");
        assert!(!page.contains("pardl\\-help(1)"), "{page}");
        assert!(page.contains(".SH SEE ALSO\n\\fBcurl\\fR(1)"), "{page}");
        assert!(page.contains(".SH FILES"), "{page}");
        assert!(page.contains("\\-\\-remote\\-time"), "{page}");
    }
}
