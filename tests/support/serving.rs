//! Serving files: [`Served`] describes one, [`server_with`] and [`server_and_tempdir`] start a
//! server with them, [`serve`] adds one to a server already running.

use pardl_testserver::{pattern_bytes, Behaviour, Body, TestServer};
use tempfile::TempDir;

/// One file served by a test server: `len` bytes of the pattern for `seed` at `path`, with the
/// faults of `behaviour`. Tests check downloads against it with
/// [`assert_served_file`](super::assert_served_file).
#[derive(Debug, Clone)]
pub struct Served {
    pub path: String,
    pub len: u64,
    pub seed: u64,
    pub behaviour: Behaviour,
}

impl Served {
    /// A well-behaved pattern file.
    pub fn new(path: &str, len: u64, seed: u64) -> Served {
        Served::with(path, len, seed, Behaviour::default())
    }

    /// A pattern file with a fault injected.
    pub fn with(path: &str, len: u64, seed: u64, behaviour: Behaviour) -> Served {
        Served {
            path: path.to_owned(),
            len,
            seed,
            behaviour,
        }
    }

    /// The last segment of the path: the name pardl gives the download when nothing else (an
    /// `out=`, a `Content-Disposition`, a collision) names it.
    pub fn name(&self) -> &str {
        self.path.rsplit('/').next().unwrap_or(&self.path)
    }

    /// The bytes a correct download of this file holds.
    pub fn bytes(&self) -> Vec<u8> {
        pattern_bytes(self.seed, 0, self.len as usize)
    }

    /// Serves this file on a server that is already running (a file that appears mid-test). Its
    /// fault counts start afresh, as with [`TestServer::add`].
    pub fn add_to(&self, server: &TestServer) {
        server.add(
            &self.path,
            Body::Pattern {
                len: self.len,
                seed: self.seed,
            },
            self.behaviour.clone(),
        );
    }
}

/// Starts a server serving `files`: `server_with([&file])` for one, `server_with(&files)` for a
/// list or an array, `server_with(&[])` for a server that answers 404 to everything.
pub fn server_with<'a>(files: impl IntoIterator<Item = &'a Served>) -> TestServer {
    let server = TestServer::start();
    for file in files {
        file.add_to(&server);
    }
    server
}

/// A server serving `files` and a fresh temporary directory to run in: the set-up most tests start
/// with. `let (server, tmp) = server_and_tempdir([&file]);`
pub fn server_and_tempdir<'a>(
    files: impl IntoIterator<Item = &'a Served>,
) -> (TestServer, TempDir) {
    let server = server_with(files);
    let tmp = tempfile::tempdir().expect("a temporary directory");
    (server, tmp)
}

/// The URLs of `files` on `server`, in order: the lines of a links file, or the URL arguments.
pub fn urls<'a>(server: &TestServer, files: impl IntoIterator<Item = &'a Served>) -> Vec<String> {
    files.into_iter().map(|f| server.url(&f.path)).collect()
}

/// Serves `len` pattern bytes (seed `seed`) at `path` on a running `server` with `behaviour`, and
/// returns the bytes: for tests that add files one by one and compare whole files with `fs::read`.
pub fn serve(
    server: &TestServer,
    path: &str,
    len: u64,
    seed: u64,
    behaviour: Behaviour,
) -> Vec<u8> {
    let file = Served::with(path, len, seed, behaviour);
    file.add_to(server);
    file.bytes()
}

/// Serves a pattern file as [`serve`] does, its answers naming it with this `Content-Disposition`
/// value.
pub fn serve_named(
    server: &TestServer,
    path: &str,
    len: u64,
    seed: u64,
    disposition: &str,
) -> Vec<u8> {
    serve(
        server,
        path,
        len,
        seed,
        Behaviour::new().content_disposition(disposition),
    )
}
