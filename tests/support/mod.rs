//! Helpers shared by the integration tests (`mod support; use support::*;` in each test file).
//!
//! Everything here talks only to a [`TestServer`](pardl_testserver::TestServer) on 127.0.0.1: no
//! test needs the internet, and the binary is run with every proxy variable removed so a CI proxy
//! cannot intercept localhost traffic. tests/README.md says which file a new test goes in.
//!
//! A typical command-line test:
//!
//! ```ignore
//! let file = Served::with("/a.bin", 2 * MIB, 1, Behaviour::new().reset_after(100 * KIB, 1));
//! let (server, tmp) = server_and_tempdir([&file]);
//! pardl(tmp.path(), Argv::quick("out").args(["-x", "4"]).urls(&server, [&file])).assert_code(0);
//! assert_served_file(&tmp.path().join("out"), "a.bin", &file);
//! assert_ranged_download(&server.requests_for(&file.path), file.len, MIB, 4);
//! ```
//!
//! * [`serving`]: [`Served`] files, [`server_with`], [`server_and_tempdir`], [`urls`], [`serve`].
//! * [`running`]: [`pardl`] and its variants return a [`Run`] (exit code and output, with
//!   `assert_code` and the stderr assertions); [`Argv`] builds command lines; [`Background`] runs
//!   the binary while the test acts on it.
//! * [`on_disk`]: [`write_links`], [`assert_served_file`], [`assert_no_part_files`], [`names_in`].
//! * [`requests`]: [`expected_requests`] and [`assert_ranged_download`], from what the server saw.
//! * [`reports`]: reading `--report` files.
//! * [`lib_config`]: a library [`Config`] for tests.

// Each test binary uses a different subset of the helpers.
#![allow(dead_code)]

mod on_disk;
mod reports;
mod requests;
mod running;
mod serving;

// A test binary that uses nothing from one of these would otherwise warn about its re-export.
#[allow(unused_imports)]
pub use {on_disk::*, reports::*, requests::*, running::*, serving::*};

use std::path::Path;
use std::time::Duration;

use pardl::Config;

pub const KIB: u64 = 1024;
pub const MIB: u64 = 1024 * 1024;

/// A library configuration for tests: output in `dir`, no proxy from the environment, quick retries.
/// Change a field with struct-update syntax: `Config { jobs: 1, ..lib_config(tmp.path()) }`.
pub fn lib_config(dir: &Path) -> Config {
    Config {
        dir: dir.to_path_buf(),
        jobs: 3,
        connections: 4,
        min_chunk: 256 * KIB,
        max_tries: 3,
        retry_wait: Duration::from_millis(20),
        connect_timeout: Duration::from_secs(10),
        read_timeout: Duration::from_secs(30),
        proxy_from_env: false,
        ..Config::default()
    }
}
