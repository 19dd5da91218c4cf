//! The command's own modules: what only the `pardl` binary needs, kept out of the library (the
//! library reads no file of the user's of its own accord and prints nothing).
//!
//! * [`config_file`]: the config file's options, put in front of the command line's.
//! * [`link_source`]: the links to download, from the arguments and the links file.
//! * [`user_files`]: the files the options name (netrc, cookies, checksum files), read into the
//!   library's types.
//! * [`generate`]: `pardl completions SHELL` and `pardl man`.
//! * [`process`]: settings of the whole process, made before any thread exists.
//!
//! `src/main.rs` declares these modules; `tests/layout.rs` counts them as the binary's, not as
//! modules of the library.

pub(crate) mod config_file;
pub(crate) mod generate;
pub(crate) mod link_source;
pub(crate) mod process;
pub(crate) mod user_files;
