//! Everything pardl keeps on disk, and the rules that keep it safe: the `.part` file written in
//! place and renamed only when complete and durable (alone, or with the files that finish with it),
//! the control file a download resumes from (and those earlier runs left behind), safe and unique
//! file names (including the one a server suggests, or a link's position in the list), the
//! checksum of a finished file (with the checksum files releases publish), and how files in a
//! directory others may write to are opened.

pub(crate) mod checksum;
pub(crate) mod checksum_file;
pub(crate) mod commit;
pub(crate) mod control;
pub(crate) mod disposition;
pub(crate) mod durable;
pub(crate) mod index_names;
pub(crate) mod leftovers;
pub(crate) mod names;
pub(crate) mod open;
pub(crate) mod part;
