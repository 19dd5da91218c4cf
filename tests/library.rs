//! Tests of the library API (`pardl::Downloader`) driven from plain threads.

mod support;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;

use pardl::{Config, Downloader, Link, LinkError, Origin, Outcome, Status};
use pardl_testserver::{Behaviour, TestServer};
use support::*;

fn link(url: &str, n: usize) -> Link {
    Link::parse(url, Origin::Argument(n)).expect("a valid test URL")
}

/// Downloads every file with `Downloader::download`, each on a thread of its own, all at once.
fn download_each_on_its_own_thread(
    downloader: &Downloader,
    server: &TestServer,
    files: &[Served],
) -> Vec<Outcome> {
    let handles: Vec<_> = files
        .iter()
        .enumerate()
        .map(|(i, file)| {
            let downloader = downloader.clone();
            let url = server.url(&file.path);
            thread::spawn(move || downloader.download(link(&url, i + 1)))
        })
        .collect();
    handles.into_iter().map(|h| h.join().unwrap()).collect()
}

#[test]
fn download_works_from_several_plain_threads_at_once() {
    let files: Vec<Served> = (0..4)
        .map(|i| Served::new(&format!("/t{i}.bin"), MIB + 1000 * i, 200 + i))
        .collect();
    let (server, tmp) = server_and_tempdir(&files);
    let downloader = Downloader::new(lib_config(tmp.path())).unwrap();

    let outcomes = download_each_on_its_own_thread(&downloader, &server, &files);

    for (file, outcome) in files.iter().zip(&outcomes) {
        let name = file.name();
        assert!(
            matches!(outcome.status, Status::Downloaded { bytes, ranged: true } if bytes == file.len),
            "{}: {:?}",
            file.path,
            outcome.status
        );
        assert_eq!(
            outcome.path.as_deref(),
            Some(tmp.path().join(name).as_path())
        );
        assert_served_file(tmp.path(), name, file);
        assert_ranged_download(&server.requests_for(&file.path), file.len, 256 * KIB, 4);
    }
    assert_no_part_files(tmp.path());
}

#[test]
fn concurrent_downloads_of_one_name_get_distinct_files() {
    // Slow enough (about a second each) that the three are in flight together even on a busy
    // machine: a name is given back when its download ends, and a later one could take it again.
    let slow = Behaviour::new().rate_limit(128 * KIB);
    let files: Vec<Served> = (0..3)
        .map(|i| {
            Served::with(
                &format!("/m{i}/same.bin"),
                300 * KIB + i,
                210 + i,
                slow.clone(),
            )
        })
        .collect();
    let (server, tmp) = server_and_tempdir(&files);
    let downloader = Downloader::new(lib_config(tmp.path())).unwrap();

    let outcomes = download_each_on_its_own_thread(&downloader, &server, &files);

    assert_eq!(
        names_in(tmp.path()),
        vec!["same.1.bin", "same.2.bin", "same.bin"]
    );
    // Which thread got which name is a race; each file must hold the bytes of its own URL.
    for (file, outcome) in files.iter().zip(&outcomes) {
        assert!(outcome.is_success(), "{:?}", outcome.status);
        let path = outcome.path.as_ref().expect("a chosen path");
        assert_pattern_file(path, file.seed, file.len);
    }
}

#[test]
fn run_reports_every_outcome_and_a_matching_summary() {
    let files = [
        Served::new("/r1.bin", 700 * KIB, 220),
        Served::with("/r2.bin", 200 * KIB, 221, Behaviour::new().ignore_range()),
    ];
    let (server, tmp) = server_and_tempdir(&files);
    let downloader = Downloader::new(lib_config(tmp.path())).unwrap();
    let links = vec![
        Ok(link(&server.url("/r1.bin"), 1)),
        Link::parse("ftp://nope/x", Origin::Line(2)),
        Ok(link(&server.url("/r2.bin"), 3)),
        Ok(link(&server.url("/gone.bin"), 4)),
    ];
    let seen = Arc::new(Mutex::new(Vec::new()));
    let summary = {
        let seen = Arc::clone(&seen);
        downloader.run(links, move |outcome| {
            seen.lock().unwrap().push(outcome.line());
        })
    };

    assert_eq!((summary.ok, summary.skipped, summary.failed), (2, 0, 2));
    assert_eq!(summary.bytes, files[0].len + files[1].len);
    assert_eq!(summary.exit_code(), 1);
    assert_eq!(summary.failures.len(), 2);
    assert!(
        summary
            .failures
            .iter()
            .any(|f| f.contains("line 2") && f.contains("ftp://nope/x")),
        "{:?}",
        summary.failures
    );
    assert!(
        summary
            .failures
            .iter()
            .any(|f| f.contains("argument 4") && f.contains("404")),
        "{:?}",
        summary.failures
    );
    assert_eq!(seen.lock().unwrap().len(), 4);
    assert_served_file(tmp.path(), "r1.bin", &files[0]);
    assert_served_file(tmp.path(), "r2.bin", &files[1]);
    assert_eq!(server.requests_for("/r2.bin").len(), 1);
    assert_no_part_files(tmp.path());
}

/// A link source that records, each time it is asked for an item, how many links were already
/// pulled and how many had finished.
struct CountingLinks {
    urls: std::vec::IntoIter<String>,
    pulled: Arc<AtomicUsize>,
    finished: Arc<AtomicUsize>,
    /// The largest `pulled - finished` seen when asked for another item.
    max_unfinished: Arc<AtomicUsize>,
}

impl Iterator for CountingLinks {
    type Item = Result<Link, LinkError>;

    fn next(&mut self) -> Option<Self::Item> {
        let pulled = self.pulled.load(Ordering::SeqCst);
        let finished = self.finished.load(Ordering::SeqCst);
        self.max_unfinished
            .fetch_max(pulled.saturating_sub(finished), Ordering::SeqCst);
        let url = self.urls.next()?;
        let n = self.pulled.fetch_add(1, Ordering::SeqCst) + 1;
        Some(Ok(link(&url, n)))
    }
}

#[test]
fn run_pulls_links_only_as_workers_free_up() {
    const LINKS: usize = 300;
    const JOBS: usize = 1;
    // The pool's queue holds 4 links per worker (`Config::read_ahead`); one more link
    // may be waiting to be handed over; files done but waiting for their commit (`--sync batch`)
    // are at most the commit queue's 64 per worker (src/disk/commit.rs) and a batch as big being
    // flushed; outcomes not yet delivered are as many as the delivery channel holds (`2 × jobs`
    // and room for the commit queue), plus the one being settled. Still well under the 300 links:
    // a run that read all its links ahead would pull them all.
    const COMMIT_QUEUE: usize = 64 * JOBS;
    const READ_AHEAD: usize = 4 * JOBS;
    const BOUND: usize = JOBS + READ_AHEAD + 2 + 2 * COMMIT_QUEUE + 2 * JOBS + COMMIT_QUEUE + 1;

    // The first link takes ~2 s (512 KiB at 256 KiB/s); the other 299 are tiny.
    let mut files = vec![Served::with(
        "/slow.bin",
        512 * KIB,
        230,
        Behaviour::new().rate_limit(256 * KIB),
    )];
    files.extend((1..LINKS as u64).map(|i| Served::new(&format!("/s{i}.bin"), 2_000 + i, 230 + i)));
    let (server, tmp) = server_and_tempdir(&files);
    let downloader = Downloader::new(Config {
        jobs: JOBS,
        connections: 1,
        min_chunk: MIB,
        ..lib_config(tmp.path())
    })
    .unwrap();

    let pulled = Arc::new(AtomicUsize::new(0));
    let finished = Arc::new(AtomicUsize::new(0));
    let max_unfinished = Arc::new(AtomicUsize::new(0));
    let pulled_when_slow_finished = Arc::new(AtomicUsize::new(usize::MAX));
    let links = CountingLinks {
        urls: urls(&server, &files).into_iter(),
        pulled: Arc::clone(&pulled),
        finished: Arc::clone(&finished),
        max_unfinished: Arc::clone(&max_unfinished),
    };
    let summary = {
        let pulled = Arc::clone(&pulled);
        let finished = Arc::clone(&finished);
        let pulled_when_slow_finished = Arc::clone(&pulled_when_slow_finished);
        downloader.run(links, move |outcome| {
            if outcome.url.ends_with("/slow.bin") {
                pulled_when_slow_finished.store(pulled.load(Ordering::SeqCst), Ordering::SeqCst);
            }
            finished.fetch_add(1, Ordering::SeqCst);
        })
    };

    assert_eq!((summary.ok, summary.failed), (LINKS as u64, 0));
    assert_eq!(pulled.load(Ordering::SeqCst), LINKS);
    assert_eq!(finished.load(Ordering::SeqCst), LINKS);
    let at_slow_end = pulled_when_slow_finished.load(Ordering::SeqCst);
    let max_unfinished = max_unfinished.load(Ordering::SeqCst);
    eprintln!(
        "pulled when the slow file finished: {at_slow_end}; most unfinished: {max_unfinished}"
    );
    assert!(
        at_slow_end <= BOUND + 1,
        "the links were read ahead while the first file was still downloading: {at_slow_end} of {LINKS} pulled"
    );
    assert!(
        max_unfinished <= BOUND,
        "up to {max_unfinished} links were pulled but unfinished (bound {BOUND})"
    );
    for file in &files {
        assert_served_file(tmp.path(), file.name(), file);
    }
}

#[test]
fn download_into_an_existing_file_is_skipped_without_a_request() {
    let file = Served::new("/kept.bin", 10_000, 240);
    let (server, tmp) = server_and_tempdir([&file]);
    std::fs::write(tmp.path().join("kept.bin"), b"mine").unwrap();

    let outcome = Downloader::new(lib_config(tmp.path()))
        .unwrap()
        .download(link(&server.url("/kept.bin"), 1));
    assert!(
        matches!(outcome.status, Status::Skipped),
        "{:?}",
        outcome.status
    );
    assert_eq!(std::fs::read(tmp.path().join("kept.bin")).unwrap(), b"mine");
    assert_eq!(server.stats().requests, 0);

    let outcome = Downloader::new(Config {
        if_exists: pardl::IfExists::Overwrite,
        ..lib_config(tmp.path())
    })
    .unwrap()
    .download(link(&server.url("/kept.bin"), 1));
    assert!(
        matches!(outcome.status, Status::Downloaded { bytes: 10_000, .. }),
        "{:?}",
        outcome.status
    );
    assert_served_file(tmp.path(), "kept.bin", &file);
}

#[test]
fn running_the_same_links_twice_on_one_downloader_skips_the_second_time() {
    let file = Served::new("/again.bin", 300 * KIB, 250);
    let (server, tmp) = server_and_tempdir([&file]);
    let downloader = Downloader::new(lib_config(tmp.path())).unwrap();
    let url = server.url("/again.bin");

    let first = downloader.run(vec![Ok(link(&url, 1))], |_| {});
    assert_eq!((first.ok, first.skipped, first.failed), (1, 0, 0));
    let requests_after_first = server.stats().requests;

    let second = downloader.run(vec![Ok(link(&url, 1))], |_| {});
    assert_eq!(
        names_in(tmp.path()),
        vec!["again.bin"],
        "a second run of the same link wrote a second copy"
    );
    assert_eq!((second.ok, second.skipped, second.failed), (0, 1, 0));
    assert_eq!(server.stats().requests, requests_after_first);
}

#[test]
fn retrying_a_failed_download_on_the_same_downloader_keeps_its_name() {
    let (server, tmp) = server_and_tempdir(&[]);
    let downloader = Downloader::new(lib_config(tmp.path())).unwrap();
    let url = server.url("/later.bin");

    let outcome = downloader.download(link(&url, 1));
    assert!(!outcome.is_success(), "nothing is served yet");
    assert!(names_in(tmp.path()).is_empty());

    let file = Served::new("/later.bin", 20_000, 251);
    file.add_to(&server);
    let outcome = downloader.download(link(&url, 1));
    assert!(outcome.is_success(), "{:?}", outcome.status);
    assert_eq!(
        outcome.path.as_deref(),
        Some(tmp.path().join("later.bin").as_path()),
        "the retry of a failed link should reuse its name"
    );
    assert_served_file(tmp.path(), "later.bin", &file);
}

#[test]
fn cancel_from_another_thread_leaves_resumable_state() {
    // 2 MiB at 256 KiB/s per connection, 4 connections: about 2 s if nothing stops it.
    let file = Served::with(
        "/slow.bin",
        2 * MIB,
        301,
        Behaviour::new().rate_limit(256 * KIB),
    );
    let (server, tmp) = server_and_tempdir([&file]);
    let downloader = Downloader::new(lib_config(tmp.path())).unwrap();
    let handle = downloader.cancel_handle();
    let progress = downloader.progress();

    let url = server.url(&file.path);
    let worker = {
        let downloader = downloader.clone();
        thread::spawn(move || downloader.run([Ok(link(&url, 1))], |_| {}))
    };
    // Cancel once some bytes, but not all, have arrived.
    while progress.bytes() < 256 * KIB {
        thread::sleep(std::time::Duration::from_millis(10));
    }
    assert!(!handle.cancel(), "the first cancel is the first");
    let summary = worker.join().unwrap();

    assert!(summary.cancelled);
    assert_eq!((summary.ok, summary.interrupted), (0, 1));
    assert_eq!(summary.exit_code(), 130);
    assert!(!tmp.path().join("slow.bin").exists());
    assert!(tmp.path().join("slow.bin.part").exists());
    assert!(tmp.path().join("slow.bin.part.pardl").exists());
    let sent_before = server.stats().path(&file.path).bytes_sent;
    assert!(sent_before < file.len, "cancelled at {sent_before} bytes");

    // A fresh downloader (a new process, in effect) resumes instead of starting over.
    let resumed = Downloader::new(lib_config(tmp.path()))
        .unwrap()
        .download_url(&server.url(&file.path));
    assert!(resumed.is_success(), "{:?}", resumed.status);
    // What the first run had saved counts as resumed, not as fetched now.
    assert!(
        resumed.transfer.resumed > 0 && resumed.transfer.resumed <= sent_before,
        "resumed {} of {sent_before} bytes sent before",
        resumed.transfer.resumed
    );
    assert!(
        resumed.line().contains(" of it from an earlier run; "),
        "{}",
        resumed.line()
    );
    assert_served_file(tmp.path(), "slow.bin", &file);
    assert_no_part_files(tmp.path());
    let sent_total = server.stats().path(&file.path).bytes_sent;
    // What was saved is not fetched again; what was in flight but unsaved may be (at most a little).
    assert!(
        sent_total < file.len + sent_before,
        "resume re-fetched everything: {sent_total} bytes sent for a {} byte file",
        file.len
    );
}

#[test]
fn download_url_reports_malformed_text_as_a_failed_outcome() {
    let tmp = tempfile::tempdir().unwrap();
    let downloader = Downloader::new(lib_config(tmp.path())).unwrap();
    let outcome = downloader.download_url("ftp://example.com/file");
    match &outcome.status {
        Status::Failed(error) => assert_eq!(error.kind(), "malformed-link", "{error}"),
        other => panic!("expected a failure, got {other:?}"),
    }
    assert!(!outcome.is_success());
    assert!(
        outcome.line().contains("ftp://example.com/file"),
        "{}",
        outcome.line()
    );
}

#[test]
fn a_setting_that_cannot_work_is_refused_before_any_request() {
    let file = Served::new("/never.bin", 10 * KIB, 302);
    let (server, tmp) = server_and_tempdir([&file]);
    let config = Config {
        proxy: Some("socks5://127.0.0.1:9".into()),
        ..lib_config(tmp.path())
    };
    // Refused when the downloader is made, so no run, no link and no request can meet it.
    let fatal = Downloader::new(config).unwrap_err();
    assert_eq!(fatal.kind(), "config");
    assert!(
        fatal.to_string().contains("socks5://127.0.0.1:9"),
        "{fatal}"
    );
    let zero_jobs = Downloader::new(Config {
        jobs: 0,
        ..lib_config(tmp.path())
    })
    .unwrap_err();
    assert_eq!(
        zero_jobs.to_string(),
        "invalid settings: jobs must be at least 1"
    );
    assert_eq!(server.stats().requests, 0);
    assert!(names_in(tmp.path()).is_empty());
}

#[test]
fn resuming_a_server_named_file_with_one_connection_per_host_finishes() {
    // The server names the file; the URL does not. Resuming it is decided only after the probe,
    // whose answer must give its host slot back before the chunks need it.
    let behaviour = Behaviour::new()
        .rate_limit(512 * KIB)
        .content_disposition("attachment; filename=\"named.bin\"");
    let file = Served::with("/get", 2 * MIB, 303, behaviour);
    let (server, tmp) = server_and_tempdir([&file]);
    let config = Config {
        max_per_host: 1,
        ..lib_config(tmp.path())
    };
    let url = server.url(&file.path);

    let first = Downloader::new(config.clone()).unwrap();
    let progress = first.progress();
    let handle = first.cancel_handle();
    let runner = {
        let url = url.clone();
        thread::spawn(move || first.download_url(&url))
    };
    while progress.bytes() < 300 * KIB {
        thread::sleep(std::time::Duration::from_millis(10));
    }
    handle.cancel();
    assert!(matches!(runner.join().unwrap().status, Status::Interrupted));
    assert!(tmp.path().join("named.bin.part.pardl").exists());

    let (done, finished) = std::sync::mpsc::channel();
    thread::spawn(move || {
        // The receiver gives up after a timeout; a late result then has nowhere to go.
        let _ = done.send(Downloader::new(config).unwrap().download_url(&url));
    });
    let outcome = finished
        .recv_timeout(std::time::Duration::from_secs(60))
        .expect("the resumed download hangs");
    assert!(outcome.is_success(), "{:?}", outcome.status);
    assert_served_file(tmp.path(), "named.bin", &file);
    assert_no_part_files(tmp.path());
}

#[test]
fn https_with_a_private_ca_from_the_config_and_certificate_files_checked_by_new() {
    use pardl::{Error, NetworkErrorKind};
    use pardl_testserver::{ServerTls, TestCa};

    let file = Served::new("/secure.bin", 2 * MIB, 303);
    let ca = TestCa::new("pardl test CA");
    let server = TestServer::start_tls(ServerTls::new(ca.server(&["127.0.0.1"])));
    file.add_to(&server);
    let tmp = tempfile::tempdir().unwrap();
    let ca_file = tmp.path().join("ca.pem");
    std::fs::write(&ca_file, ca.cert_pem()).unwrap();

    // A file that cannot be read is refused by `new`, naming it.
    let missing = Downloader::new(Config {
        ca_certificate: Some(tmp.path().join("missing.pem")),
        ..lib_config(tmp.path())
    })
    .unwrap_err();
    assert!(matches!(missing, Error::Config { .. }), "{missing:?}");
    assert!(missing.to_string().contains("missing.pem"), "{missing}");

    // Without the CA the server is not trusted: one failure of kind TLS, not retried.
    let untrusting = Downloader::new(lib_config(tmp.path())).unwrap();
    let outcome = untrusting.download(link(&server.url(&file.path), 1));
    match &outcome.status {
        Status::Failed(Error::Network { kind, .. }) => assert_eq!(*kind, NetworkErrorKind::Tls),
        other => panic!("expected a TLS failure, got {other:?}"),
    }
    assert_eq!(server.stats().requests, 0);

    let trusting = Downloader::new(Config {
        ca_certificate: Some(ca_file),
        ..lib_config(tmp.path())
    })
    .unwrap();
    let outcome = trusting.download(link(&server.url(&file.path), 2));
    assert!(outcome.is_success(), "{}", outcome.line());
    assert_served_file(tmp.path(), "secure.bin", &file);
    assert_ranged_download(&server.requests_for(&file.path), file.len, 256 * KIB, 4);
}

#[test]
fn a_file_waiting_to_retry_shows_the_wait_in_its_progress() {
    let file = Served::with(
        "/busy.bin",
        100 * KIB,
        300,
        Behaviour::new().fail_first(503, 1).retry_after("2"),
    );
    let (server, tmp) = server_and_tempdir([&file]);
    let downloader = Downloader::new(Config {
        max_tries: 4,
        ..lib_config(tmp.path())
    })
    .unwrap();
    let progress = downloader.progress();
    let url = server.url(&file.path);
    let worker = {
        let downloader = downloader.clone();
        thread::spawn(move || downloader.download(link(&url, 1)))
    };
    // The wait is there while the file waits out the server's Retry-After, and gone after.
    let mut seen = None;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while seen.is_none() && std::time::Instant::now() < deadline {
        seen = progress.active_files().iter().find_map(|f| f.retry_wait());
        thread::sleep(std::time::Duration::from_millis(20));
    }
    let outcome = worker.join().unwrap();
    assert!(matches!(outcome.status, Status::Downloaded { .. }));
    let wait = seen.expect("the retry wait was visible");
    assert_eq!(
        (wait.attempt, wait.max_tries, wait.reason.as_str()),
        (2, 4, "503")
    );
    assert_eq!(outcome.transfer.retries, 1);
    assert_eq!(outcome.transfer.fetched, file.len);
    assert_served_file(tmp.path(), "busy.bin", &file);
}
