//! The library's run API as a program on plain threads uses it: a callback that borrows, a run held
//! as a value (`Downloader::start`), cancelling one run and resuming on the same downloader, owned
//! and cloneable results.

mod support;

use std::thread;
use std::time::Duration;

use pardl::{Config, Downloader, Error, IfExists, Link, NetworkErrorKind, Origin, Outcome, Status};
use pardl_testserver::Behaviour;
use support::*;

fn links(
    server: &pardl_testserver::TestServer,
    files: &[Served],
) -> Vec<Result<Link, pardl::LinkError>> {
    files
        .iter()
        .enumerate()
        .map(|(i, file)| Link::parse(&server.url(&file.path), Origin::Argument(i + 1)))
        .collect()
}

/// Waits (at most a minute) until `ready` holds.
fn wait_for(what: &str, ready: impl Fn() -> bool) {
    for _ in 0..6000 {
        if ready() {
            return;
        }
        thread::sleep(Duration::from_millis(10));
    }
    panic!("gave up waiting for {what}");
}

#[test]
fn run_hands_outcomes_to_a_callback_that_borrows_and_each_knows_its_place() {
    let files: Vec<Served> = (0..6)
        .map(|i| Served::new(&format!("/c{i}.bin"), 20_000 + 1000 * i, 500 + i))
        .collect();
    let server = server_with(&files);
    let tmp = tempfile::tempdir().unwrap();
    let downloader = Downloader::new(lib_config(tmp.path())).unwrap();
    let mut input = links(&server, &files);
    input.insert(3, Link::parse("ftp://nowhere/x", Origin::Argument(99)));

    // A plain local Vec, pushed to from the callback: no Arc, no Mutex, no 'static.
    let mut collected: Vec<Outcome> = Vec::new();
    let summary = downloader.run(input, |outcome| collected.push(outcome.clone()));

    assert_eq!((summary.ok, summary.failed, summary.links_read), (6, 1, 7));
    assert_eq!(collected.len(), 7);
    collected.sort_by_key(|outcome| outcome.index);
    let indices: Vec<u64> = collected.iter().map(|o| o.index).collect();
    assert_eq!(indices, [0, 1, 2, 3, 4, 5, 6]);
    assert!(matches!(
        &collected[3].status,
        Status::Failed(Error::MalformedLink { .. })
    ));
    let downloaded: Vec<&Outcome> = collected.iter().filter(|o| o.index != 3).collect();
    for (file, outcome) in files.iter().zip(downloaded) {
        assert_eq!(outcome.url, server.url(&file.path));
        assert_served_file(tmp.path(), file.path.trim_start_matches('/'), file);
    }
}

#[test]
fn a_held_run_gives_owned_outcomes_and_its_cancel_leaves_the_downloader_usable() {
    // One file at a time; each file 1 MiB at 256 KiB/s per connection, so the first is still
    // running, and the others still queued, when the run is cancelled.
    let behaviour = Behaviour::new().rate_limit(256 * KIB);
    let files: Vec<Served> = (0..4)
        .map(|i| Served::with(&format!("/h{i}.bin"), MIB, 600 + i, behaviour.clone()))
        .collect();
    let server = server_with(&files);
    let tmp = tempfile::tempdir().unwrap();
    let config = Config {
        jobs: 1,
        ..lib_config(tmp.path())
    };
    let downloader = Downloader::new(config).unwrap();
    let progress = downloader.progress();

    let run = downloader.start(links(&server, &files)).unwrap();
    wait_for("the first bytes", || progress.bytes() >= 128 * KIB);
    run.cancel();
    let outcomes: Vec<Outcome> = run.outcomes().collect();
    let summary = run.join();

    assert!(summary.cancelled);
    assert_eq!(summary.exit_code(), 130);
    // Every link read has its outcome: the running one interrupted, the queued ones not started.
    assert_eq!(outcomes.len() as u64, summary.links_read);
    assert!(summary.links_read >= 2, "{summary:?}");
    let first = outcomes.iter().find(|o| o.index == 0).unwrap();
    assert!(
        matches!(first.status, Status::Interrupted),
        "{:?}",
        first.status
    );
    for queued in outcomes.iter().filter(|o| o.index > 0) {
        assert!(
            matches!(queued.status, Status::NotStarted),
            "{:?}",
            queued.status
        );
        assert_eq!(
            server
                .stats()
                .path(&files[queued.index as usize].path)
                .requests,
            0
        );
    }
    assert_eq!(summary.interrupted, summary.links_read);
    assert_eq!(summary.not_started, summary.links_read - 1);
    assert!(tmp.path().join("h0.bin.part.pardl").exists());

    // The same downloader runs again: it is not stuck cancelled, and it resumes the first file.
    let mut again = Vec::new();
    let summary = downloader.run(links(&server, &files), |o| again.push(o.clone()));
    assert_eq!((summary.ok, summary.interrupted), (4, 0), "{summary:?}");
    let first = again.iter().find(|o| o.index == 0).unwrap();
    assert!(first.transfer.resumed > 0, "{:?}", first.transfer);
    for file in &files {
        assert_served_file(tmp.path(), file.path.trim_start_matches('/'), file);
    }
    assert_no_part_files(tmp.path());
}

#[test]
fn cancelling_one_run_leaves_another_run_of_the_same_downloader_alone() {
    let slow = Served::with(
        "/slow.bin",
        MIB,
        700,
        Behaviour::new().rate_limit(128 * KIB),
    );
    let quick: Vec<Served> = (0..3)
        .map(|i| Served::new(&format!("/q{i}.bin"), 300 * KIB, 710 + i))
        .collect();
    let mut all = quick.clone();
    all.push(slow.clone());
    let server = server_with(&all);
    let tmp = tempfile::tempdir().unwrap();
    let downloader = Downloader::new(lib_config(tmp.path())).unwrap();
    let progress = downloader.progress();

    let doomed = downloader
        .start(links(&server, std::slice::from_ref(&slow)))
        .unwrap();
    wait_for("the slow file to start", || progress.bytes() >= 64 * KIB);
    let kept = downloader.start(links(&server, &quick)).unwrap();
    doomed.cancel();
    let kept = kept.join();
    let doomed = doomed.join();

    assert!(doomed.cancelled && doomed.interrupted == 1, "{doomed:?}");
    assert!(!kept.cancelled, "{kept:?}");
    assert_eq!((kept.ok, kept.failed, kept.interrupted), (3, 0, 0));
    for file in &quick {
        assert_served_file(tmp.path(), file.path.trim_start_matches('/'), file);
    }
}

#[test]
fn the_downloaders_cancel_stops_the_run_in_progress_but_not_the_next() {
    let file = Served::with(
        "/long.bin",
        MIB,
        800,
        Behaviour::new().rate_limit(128 * KIB),
    );
    let server = server_with(std::slice::from_ref(&file));
    let tmp = tempfile::tempdir().unwrap();
    let downloader = Downloader::new(lib_config(tmp.path())).unwrap();
    let progress = downloader.progress();

    let run = downloader
        .start(links(&server, std::slice::from_ref(&file)))
        .unwrap();
    wait_for("the first bytes", || progress.bytes() >= 64 * KIB);
    downloader.cancel_handle().cancel();
    let summary = run.join();
    assert_eq!((summary.ok, summary.interrupted), (0, 1));

    let outcome = downloader.download_url(&server.url(&file.path));
    assert!(outcome.is_success(), "{}", outcome.line());
    assert!(outcome.transfer.resumed > 0, "{:?}", outcome.transfer);
    assert_served_file(tmp.path(), "long.bin", &file);
}

#[test]
fn errors_are_cloneable_values_with_a_kind_and_no_http_library_types() {
    // A port nobody listens on: the connection is refused.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let tmp = tempfile::tempdir().unwrap();
    let downloader = Downloader::new(Config {
        max_tries: 2,
        ..lib_config(tmp.path())
    })
    .unwrap();
    let outcome = downloader.download_url(&format!("http://127.0.0.1:{port}/f.bin"));
    let copy = outcome.clone();

    let Status::Failed(error) = &copy.status else {
        panic!("{:?}", copy.status);
    };
    let Error::Network { kind, source, .. } = error else {
        panic!("{error:?}");
    };
    assert_eq!(*kind, NetworkErrorKind::Connect);
    assert!(error.is_transient());
    assert_eq!(copy.transfer.retries, 1, "one retry with --max-tries 2");
    // The source chain is plain `std::error::Error`s, and the clone says what the original says.
    assert_eq!(
        std::error::Error::source(error).map(|s| s.to_string()),
        Some(source.to_string())
    );
    assert_eq!(outcome.line(), copy.line());
    assert!(
        copy.line().contains(&format!("127.0.0.1:{port}/f.bin")),
        "{}",
        copy.line()
    );
}

#[test]
fn a_program_chooses_the_exact_path_and_two_links_never_share_one() {
    let file = Served::new("/exact.bin", 300 * KIB, 900);
    let slow = Served::with(
        "/slow.bin",
        512 * KIB,
        901,
        Behaviour::new().rate_limit(256 * KIB),
    );
    let server = server_with(&[file.clone(), slow.clone()]);
    let tmp = tempfile::tempdir().unwrap();
    let downloader = Downloader::new(lib_config(&tmp.path().join("default-dir"))).unwrap();

    // Anywhere the program likes, directories created, the name kept as given (no sanitising).
    let exact = tmp.path().join("by date/2026-12-02/exact copy.bin");
    let link = Link::parse(&server.url(&file.path), Origin::Argument(1))
        .unwrap()
        .saved_as(&exact);
    let outcome = downloader.download(link);
    assert!(outcome.is_success(), "{}", outcome.line());
    assert_eq!(outcome.path.as_deref(), Some(exact.as_path()));
    assert_eq!(std::fs::read(&exact).unwrap(), file.bytes());
    assert!(names_in(&tmp.path().join("default-dir")).is_empty());

    // Two links of one run to one path: one writes it, the other is refused, naming the path.
    let shared = tmp.path().join("shared.bin");
    let both = (0..2).map(|i| {
        Link::parse(&server.url(&slow.path), Origin::Argument(i + 1)).map(|l| l.saved_as(&shared))
    });
    let mut outcomes = Vec::new();
    let summary = downloader.run(both, |o| outcomes.push(o.clone()));
    assert_eq!((summary.ok, summary.failed), (1, 1), "{summary:?}");
    let refused = outcomes.iter().find(|o| !o.is_success()).unwrap();
    let Status::Failed(error) = &refused.status else {
        panic!("{:?}", refused.status);
    };
    assert_eq!(error.kind(), "path-in-use");
    assert!(
        error.to_string().ends_with(&format!(
            "another download is writing {} now",
            shared.display()
        )),
        "{error}"
    );
    assert_eq!(std::fs::read(&shared).unwrap(), slow.bytes());
}

#[test]
fn check_existing_keeps_a_current_file_and_replaces_a_stale_one() {
    let file = Served::new("/current.bin", 200 * KIB, 910);
    let server = server_with(std::slice::from_ref(&file));
    let tmp = tempfile::tempdir().unwrap();
    let downloader = Downloader::new(Config {
        if_exists: IfExists::Check,
        ..lib_config(tmp.path())
    })
    .unwrap();
    let url = server.url(&file.path);
    let path = tmp.path().join("current.bin");
    let sha = sha256_hex(&file.bytes());

    // Same size as the server's: kept after one request (the probe), not rewritten.
    let same_size = vec![7u8; file.len as usize];
    std::fs::write(&path, &same_size).unwrap();
    let outcome = downloader.download_url(&url);
    assert!(
        matches!(outcome.status, Status::Skipped),
        "{}",
        outcome.line()
    );
    assert_eq!(std::fs::read(&path).unwrap(), same_size);
    assert_eq!(server.stats().path(&file.path).requests, 1);

    // Same size, but the link's sha256= says otherwise: fetched again and replaced.
    let outcome = downloader.download_url(&format!("{url} sha256={sha}"));
    assert!(
        matches!(outcome.status, Status::Downloaded { .. }),
        "{}",
        outcome.line()
    );
    assert_eq!(std::fs::read(&path).unwrap(), file.bytes());

    // Now it matches size and checksum: kept.
    let outcome = downloader.download_url(&format!("{url} sha256={sha}"));
    assert!(
        matches!(outcome.status, Status::Skipped),
        "{}",
        outcome.line()
    );

    // Another size: fetched again and replaced.
    std::fs::write(&path, b"short").unwrap();
    let outcome = downloader.download_url(&url);
    assert!(
        matches!(outcome.status, Status::Downloaded { .. }),
        "{}",
        outcome.line()
    );
    assert_eq!(std::fs::read(&path).unwrap(), file.bytes());
    assert_no_part_files(tmp.path());
}
