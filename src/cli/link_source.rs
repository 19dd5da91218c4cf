//! Where the command's links come from: the URLs given as arguments (with `-o`, `--checksum` and
//! `--mirror`, which apply to a single one), then the links file (`-i FILE`, `-i -` for standard input, or
//! `./links.txt` when neither URLs nor `-i` are given).

use std::fs::File;
use std::io::{self, BufRead, BufReader};
use std::path::PathBuf;

use pardl::{Link, LinkError, LinkReader, Origin};

use crate::Cli;

/// The links to download: command-line URLs first, then the links file (`-i`, or `./links.txt` when
/// neither is given). Streams; nothing is read ahead.
pub(crate) fn link_source(
    cli: &Cli,
) -> Result<Box<dyn Iterator<Item = Result<Link, LinkError>>>, String> {
    if cli.checksum.is_some() && (cli.urls.len() != 1 || cli.input_file.is_some()) {
        return Err("--checksum applies to a single URL given on the command line; in a links file write sha256=HEX (or sha512=, sha1=, md5=) after the URL".into());
    }
    if let Some(output) = &cli.output {
        if cli.urls.len() != 1 || cli.input_file.is_some() {
            return Err("-o applies to a single URL given on the command line; in a links file write out=NAME after the URL".into());
        }
        if output.contains(['/', '\\']) {
            return Err(format!(
                "-o takes a file name, not a path ('{output}'): use -d DIR -o NAME"
            ));
        }
    }
    if !cli.mirror.is_empty() && (cli.urls.len() != 1 || cli.input_file.is_some()) {
        return Err("--mirror applies to a single URL given on the command line; in a links file write the mirrors after the URL, separated by tabs or spaces".into());
    }
    let arguments: Vec<Result<Link, LinkError>> = cli
        .urls
        .iter()
        .enumerate()
        .map(|(i, url)| {
            let with_mirrors = std::iter::once(url.as_str())
                .chain(cli.mirror.iter().map(String::as_str))
                .collect::<Vec<_>>()
                .join(" ");
            Link::parse(&with_mirrors, Origin::Argument(i + 1)).map(|link| Link {
                checksum: link.checksum.or_else(|| cli.checksum.clone()),
                out: link.out.or_else(|| cli.output.clone()),
                ..link
            })
        })
        .collect();
    let file: Option<Box<dyn BufRead>> = match &cli.input_file {
        Some(path) if path.as_os_str() == "-" => Some(Box::new(BufReader::new(io::stdin()))),
        Some(path) => {
            Some(Box::new(BufReader::new(File::open(path).map_err(|e| {
                format!("cannot read links file {}: {e}", path.display())
            })?)))
        }
        None if cli.urls.is_empty() => {
            let default = PathBuf::from("links.txt");
            match File::open(&default) {
                Ok(file) => Some(Box::new(BufReader::new(file))),
                Err(e) if e.kind() == io::ErrorKind::NotFound => {
                    return Err(
                        "no links: give URLs, -i FILE, or create links.txt in this directory"
                            .into(),
                    )
                }
                Err(e) => return Err(format!("cannot read links file links.txt: {e}")),
            }
        }
        None => None,
    };
    let from_file = file.into_iter().flat_map(LinkReader::new);
    Ok(Box::new(arguments.into_iter().chain(from_file)))
}
