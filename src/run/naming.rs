//! How a run names its links' files: in link order, before any request, as [`Config::names`] says.
//!
//! Names are chosen on the reading thread, not in the workers, so the same links file maps to the
//! same names on every run, which is what makes skipping and resuming work; links the run leaves
//! out (another shard's, or done earlier) are named too, so every shard names every link alike.
//!
//! * [`Names::Url`]: each link reserves the name it wants (`out=`, else its URL's) in a scope of the
//!   downloader's [`NameReservations`] opened for the run, so a name wanted twice is numbered in
//!   link order. The scope remembers every name until the run ends: 9 to 19 bytes per link.
//! * [`Names::Index`]: a link without `out=` is named by its position alone
//!   ([`index_name`]), which needs no memory. Only `out=` names are reserved, so they are numbered
//!   among themselves as above; one shaped like another link's index name fails its link
//!   ([`Error::IndexNameOfAnother`]), since no set of index names exists to number it against.
//!
//! [`Config::names`]: crate::Config::names

use std::path::Path;

use crate::disk::index_names::{index_name, index_name_position};
use crate::disk::names::{name_from_url, sanitize, NameReservations, NameScope};
use crate::error::Error;
use crate::run::config::Names;
use crate::run::links::Link;

/// The names of one run's links. Its reservations are given back by [`close`](RunNames::close),
/// once the run's last download has ended (a server's name joins its link's scope).
pub(crate) struct RunNames<'a> {
    names: &'a NameReservations,
    scope: NameScope,
    mode: Names,
}

impl<'a> RunNames<'a> {
    /// Opens the run's scope in `names`.
    pub(crate) fn open(names: &'a NameReservations, mode: Names) -> RunNames<'a> {
        RunNames {
            names,
            scope: names.open_scope(),
            mode,
        }
    }

    /// The file name of `link`, the link at `position` in the run's input, inside `dir`: empty for
    /// a link with an exact path (not a name in the output directory).
    ///
    /// # Errors
    ///
    /// [`Error::IndexNameOfAnother`] for an `out=` name that is another link's index name.
    pub(crate) fn name(&self, position: u64, link: &Link, dir: &Path) -> Result<String, Error> {
        if link.path.is_some() {
            return Ok(String::new());
        }
        let scope = &self.scope;
        match (self.mode, &link.out) {
            (Names::Index, None) => Ok(index_name(position, &link.url)),
            (Names::Index, Some(out)) => {
                // An `out=` name may be numbered; both the name wanted and the one given must stay
                // clear of the other links' index names.
                let wanted = sanitize(out);
                let refuse = |name: &str| {
                    index_name_position(name)
                        .filter(|&other| other != position)
                        .map(|other| Error::IndexNameOfAnother {
                            url: link.url.clone(),
                            path: dir.join(name),
                            position: other,
                        })
                };
                if let Some(error) = refuse(&wanted) {
                    return Err(error);
                }
                let name = self.names.reserve_in(scope, &wanted);
                refuse(&name).map_or(Ok(name), Err)
            }
            (Names::Url, _) => Ok(self.names.reserve_in(scope, &wanted_name(link))),
        }
    }

    /// Gives back every name the run reserved, so running the same links again maps them to the
    /// same files.
    pub(crate) fn close(self) {
        self.names.close_scope(self.scope);
    }
}

/// The name `link` asks for: its `out=`, else the one its URL suggests.
pub(crate) fn wanted_name(link: &Link) -> String {
    match &link.out {
        Some(out) => sanitize(out),
        None => name_from_url(&link.url),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::run::links::Origin;

    /// The name `run` gives the link written `text` at `position`, in the directory `out`.
    fn name(run: &RunNames, position: u64, text: &str) -> Result<String, Error> {
        let link = Link::parse(text, Origin::Line(1)).unwrap();
        run.name(position, &link, Path::new("out"))
    }

    #[test]
    fn index_names_need_no_reservation() {
        let names = NameReservations::new();
        let run = RunNames::open(&names, Names::Index);
        assert_eq!(name(&run, 3, "http://h/a.jpg").unwrap(), "000000003.jpg");
        // The same URL at another position is another file.
        assert_eq!(name(&run, 4, "http://h/a.jpg").unwrap(), "000000004.jpg");
        // Nothing was reserved: the URL's own name is free.
        assert_eq!(names.reserve("a.jpg"), "a.jpg");
        assert_eq!(names.reserve("000000003.jpg"), "000000003.jpg");
    }

    #[test]
    fn out_names_are_numbered_among_themselves_in_index_mode() {
        let names = NameReservations::new();
        let run = RunNames::open(&names, Names::Index);
        for (position, text, given) in [
            (0, "http://h/a.jpg out=cover.jpg", "cover.jpg"),
            (1, "http://h/b.jpg out=cover.jpg", "cover.1.jpg"),
            // Its own index name, with any extension, is a link's to take.
            (2, "http://h/c.jpg out=000000002.png", "000000002.png"),
            // Names that only look like index names are fine.
            (6, "http://h/e.jpg out=00000007.jpg", "00000007.jpg"),
            (8, "http://h/f.jpg out=000000007.tar.gz", "000000007.tar.gz"),
        ] {
            assert_eq!(name(&run, position, text).unwrap(), given, "{text}");
        }
        // Another link's index name is not.
        let error = name(&run, 5, "http://h/d.jpg out=000000007.jpg").unwrap_err();
        assert_eq!(error.kind(), "index-name");
        assert_eq!(
            error.to_string(),
            "http://h/d.jpg: its out= name out/000000007.jpg is the index name of the link at \
             position 7 (--names index); give this link another out= name"
        );
    }

    #[test]
    fn url_names_are_reserved_in_link_order_and_given_back_at_the_end() {
        let names = NameReservations::new();
        let run = RunNames::open(&names, Names::Url);
        for (position, text, given) in [
            (0, "http://h/a.jpg", "a.jpg"),
            (1, "http://g/a.jpg", "a.1.jpg"),
            (2, "http://g/000000007.jpg", "000000007.jpg"),
        ] {
            assert_eq!(name(&run, position, text).unwrap(), given, "{text}");
        }
        assert_eq!(names.reserve("a.jpg"), "a.2.jpg");
        run.close();
        names.release("a.2.jpg");
        assert_eq!(names.reserve("a.jpg"), "a.jpg");
    }
}
