//! Lists bigger than one machine: `--shard` (with `auto` from Kubernetes and Slurm variables) and
//! `--skip-done`, end to end against the in-process test server, plus the library's view of both.
//!
//! Which links fall in which shard depends on the URLs, whose port changes from run to run, so the
//! tests compute the expected split with `pardl::Shard::of` (itself pinned to SHA-256 by the
//! unit tests) and compare it with the requests the server really got.

mod support;

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use pardl::DoneLinks;
use pardl::Shard;
use pardl::{Config, Downloader, LinkReader};
use pardl_testserver::{Behaviour, TestServer};
use support::*;

/// `count` small files `/f{i}.bin`, each smaller than one chunk (one request each).
fn small_files(count: u64) -> Vec<Served> {
    (0..count)
        .map(|i| Served::new(&format!("/f{i:02}.bin"), 8 * KIB + i, 700 + i))
        .collect()
}

/// The paths the server was asked for, with how many requests each.
fn requested(server: &TestServer) -> BTreeMap<String, usize> {
    server
        .stats()
        .per_path
        .into_iter()
        .map(|(path, stats)| (path, stats.requests))
        .collect()
}

/// The paths of `files` whose URL is in `shard`.
fn in_shard(server: &TestServer, files: &[Served], shard: Shard) -> BTreeMap<String, usize> {
    files
        .iter()
        .filter(|f| shard.contains(&server.url(&f.path)))
        .map(|f| (f.path.clone(), 1))
        .collect()
}

/// Runs `pardl --shard auto -i links.txt` with `env` and `extra` arguments, and checks that exactly
/// the links of `expected` were requested, once each.
#[track_caller]
fn assert_auto_shard(env: &[(&str, &str)], extra: &[&str], expected: Shard) {
    let files = small_files(10);
    let (server, tmp) = server_and_tempdir(&files);
    write_links(tmp.path(), "links.txt", &urls(&server, &files));
    let mut args = vec!["-d", "out", "-i", "links.txt", "--shard", "auto"];
    args.extend_from_slice(extra);
    let run = pardl_with_env(tmp.path(), &args, env);
    run.assert_code(0);
    let wanted = in_shard(&server, &files, expected);
    assert_eq!(requested(&server), wanted, "shard {expected} from {env:?}");
    run.assert_stderr_line(&[
        &format!("{} ok, 0 skipped, 0 failed", wanted.len()),
        &format!("{} in other shards", 10 - wanted.len()),
    ]);
}

#[test]
fn shard_auto_reads_a_kubernetes_indexed_job() {
    let shard = Shard::new(2, 3).unwrap();
    assert_auto_shard(
        &[("JOB_COMPLETION_INDEX", "2")],
        &["--shard-count", "3"],
        shard,
    );
    assert_auto_shard(
        &[("JOB_COMPLETION_INDEX", "2"), ("PARDL_SHARD_COUNT", "3")],
        &[],
        shard,
    );
}

#[test]
fn shard_auto_reads_a_slurm_job_array_from_0_or_from_1() {
    assert_auto_shard(
        &[
            ("SLURM_ARRAY_TASK_ID", "1"),
            ("SLURM_ARRAY_TASK_COUNT", "3"),
        ],
        &[],
        Shard::new(1, 3).unwrap(),
    );
    // `#SBATCH --array=1-3`: task 1 is shard 0.
    assert_auto_shard(
        &[
            ("SLURM_ARRAY_TASK_ID", "1"),
            ("SLURM_ARRAY_TASK_MIN", "1"),
            ("SLURM_ARRAY_TASK_MAX", "3"),
            ("SLURM_ARRAY_TASK_COUNT", "3"),
        ],
        &[],
        Shard::new(0, 3).unwrap(),
    );
}

/// A run that must stop before any request with a usage error (exit status 2) saying `needles`.
#[track_caller]
fn assert_usage_error(env: &[(&str, &str)], args: &[&str], needles: &[&str]) {
    let tmp = tempfile::tempdir().unwrap();
    // A port nothing listens on: a request would fail the link (exit 1), not exit 2.
    write_links(tmp.path(), "links.txt", &["http://127.0.0.1:9/a.bin"]);
    let mut all = vec!["-d", "out", "-i", "links.txt"];
    all.extend_from_slice(args);
    let run = pardl_with_env(tmp.path(), &all, env);
    run.assert_code(2);
    run.assert_stderr_line(needles);
    assert!(!tmp.path().join("out").exists(), "nothing may start");
}

#[test]
fn bad_shards_are_usage_errors_that_name_what_is_expected() {
    assert_usage_error(
        &[],
        &["--shard", "auto"],
        &[
            "JOB_COMPLETION_INDEX",
            "SLURM_ARRAY_TASK_ID",
            "SLURM_ARRAY_TASK_COUNT",
        ],
    );
    assert_usage_error(
        &[("JOB_COMPLETION_INDEX", "1")],
        &["--shard", "auto"],
        &["--shard-count", "PARDL_SHARD_COUNT"],
    );
    assert_usage_error(
        &[
            ("SLURM_ARRAY_TASK_ID", "4"),
            ("SLURM_ARRAY_TASK_COUNT", "4"),
        ],
        &["--shard", "auto"],
        &["shard index 4 is not below the shard count 4"],
    );
    assert_usage_error(
        &[("SLURM_ARRAY_TASK_ID", "3")],
        &["--shard", "auto"],
        &["SLURM_ARRAY_TASK_COUNT"],
    );
    assert_usage_error(
        &[],
        &["--shard", "3/2"],
        &["shard index 3 is not below the shard count 2"],
    );
    assert_usage_error(&[], &["--shard", "1/0"], &["at least 1"]);
    assert_usage_error(&[], &["--shard", "half"], &["expected K/N"]);
    assert_usage_error(
        &[],
        &["--shard", "0/2", "--shard-count", "2"],
        &["--shard auto"],
    );
    assert_usage_error(&[], &["--skip-done", "missing.jsonl"], &["missing.jsonl"]);
}

/// Runs `pardl ARGS --shard K/SHARDS` in `cwd` for every shard K at once, as machines sharing a
/// directory would; the runs in the order of K.
fn run_every_shard(cwd: &Path, shards: u64, args: &[&str]) -> Vec<Run> {
    thread::scope(|scope| {
        let handles: Vec<_> = (0..shards)
            .map(|k| {
                scope.spawn(move || {
                    let shard = format!("{k}/{shards}");
                    pardl(cwd, args.iter().copied().chain(["--shard", shard.as_str()]))
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    })
}

#[test]
fn shards_into_one_directory_fetch_every_link_once_under_the_names_of_a_full_run() {
    // Names that collide (data.bin six times, across hosts' paths and case, and two out=same.txt), so
    // the numbering must agree across shards for the shared directory to work.
    let mut files = small_files(6);
    for (i, dir) in ["a", "b", "c", "d", "e", "f"].iter().enumerate() {
        let name = if i == 3 { "DATA.bin" } else { "data.bin" };
        files.push(Served::new(
            &format!("/{dir}/{name}"),
            5 * KIB + i as u64,
            800 + i as u64,
        ));
    }
    files.push(Served::new("/g/one", 3 * KIB, 900));
    files.push(Served::new("/h/two", 4 * KIB, 901));
    let (server, tmp) = server_and_tempdir(&files);
    let lines: Vec<String> = files
        .iter()
        .map(|f| {
            let url = server.url(&f.path);
            if f.path.starts_with("/g/") || f.path.starts_with("/h/") {
                format!("{url} out=same.txt")
            } else {
                url
            }
        })
        .collect();
    write_links(tmp.path(), "links.txt", &lines);

    const SHARDS: u64 = 3;
    let runs = run_every_shard(tmp.path(), SHARDS, &["-d", "shared", "-i", "links.txt"]);
    let mut ok = 0;
    for (k, run) in runs.iter().enumerate() {
        run.assert_code(0);
        let mine = in_shard(&server, &files, Shard::new(k as u64, SHARDS).unwrap()).len();
        run.assert_stderr_line(&[
            &format!("{mine} ok, 0 skipped, 0 failed"),
            &format!("{} in other shards", files.len() - mine),
        ]);
        ok += mine;
    }
    assert_eq!(ok, files.len());
    let every_path_once: BTreeMap<String, usize> =
        files.iter().map(|f| (f.path.clone(), 1)).collect();
    assert_eq!(
        requested(&server),
        every_path_once,
        "each link once over all shards"
    );

    // One machine, no shards: the same names, each with the same bytes.
    pardl(tmp.path(), ["-d", "solo", "-i", "links.txt"]).assert_code(0);
    let shared = names_in(&tmp.path().join("shared"));
    assert_eq!(shared.len(), files.len());
    assert_eq!(shared, names_in(&tmp.path().join("solo")));
    for name in &shared {
        assert_eq!(
            fs::read(tmp.path().join("shared").join(name)).unwrap(),
            fs::read(tmp.path().join("solo").join(name)).unwrap(),
            "{name} differs between the sharded and the full run"
        );
    }
    assert!(shared.contains(&"data.5.bin".to_string()), "{shared:?}");
    assert!(shared.contains(&"same.1.txt".to_string()), "{shared:?}");
}

#[test]
fn skip_done_after_a_kill_fetches_only_the_links_not_marked_ok() {
    // 20 files of 24 KiB at 16 KiB/s each, two at a time: about 15 s for the whole list, and killed
    // (SIGKILL, no chance to clean up) once 6 lines are in the report.
    let files: Vec<Served> = (0..20)
        .map(|i| {
            Served::with(
                &format!("/k{i:02}.bin"),
                24 * KIB,
                300 + i,
                Behaviour::new().rate_limit(16 * KIB),
            )
        })
        .collect();
    let (server, tmp) = server_and_tempdir(&files);
    let urls = urls(&server, &files);
    write_links(tmp.path(), "links.txt", &urls);
    let report = tmp.path().join("run.jsonl");

    let mut child = pardl_command(
        tmp.path(),
        [
            "-d",
            "first",
            "-i",
            "links.txt",
            "-j",
            "2",
            "--report",
            "run.jsonl",
        ],
    )
    .stdin(std::process::Stdio::null())
    .stdout(std::process::Stdio::null())
    .stderr(std::process::Stdio::null())
    .spawn()
    .unwrap();
    let deadline = Instant::now() + RUN_TIMEOUT;
    while fs::read_to_string(&report).map_or(0, |t| t.lines().count()) < 6 {
        assert!(Instant::now() < deadline, "the report never got 6 lines");
        assert!(
            child.try_wait().unwrap().is_none(),
            "pardl ended before it was killed"
        );
        thread::sleep(Duration::from_millis(20));
    }
    child.kill().unwrap();
    child.wait().unwrap();

    let journal = fs::read_to_string(&report).unwrap();
    let done = report_ok_urls(&journal);
    assert!(
        done.len() >= 6 && done.len() < files.len(),
        "{} done",
        done.len()
    );
    // A journal whose writer died mid-line: the cut line is skipped with a warning, not fatal.
    let cut = format!("{{\"url\":\"{}\",\"status\":\"o", urls[19]);
    fs::write(&report, format!("{journal}{cut}")).unwrap();

    // The rerun writes to a new directory, so the existing-file check cannot hide what --skip-done
    // does: every request it makes is for a link the journal does not mark ok.
    server.reset_stats();
    let run = pardl(
        tmp.path(),
        [
            "-d",
            "second",
            "-i",
            "links.txt",
            "-j",
            "8",
            "--report",
            "run.jsonl",
            "--skip-done",
            "run.jsonl",
        ],
    );
    run.assert_code(0);
    let rest: BTreeMap<String, usize> = files
        .iter()
        .filter(|f| !done.contains(&server.url(&f.path)))
        .map(|f| (f.path.clone(), 1))
        .collect();
    assert_eq!(rest.len(), files.len() - done.len());
    assert_eq!(
        requested(&server),
        rest,
        "only the links not marked ok, once each"
    );
    assert_eq!(server.stats().requests, files.len() - done.len());
    run.assert_stderr_line(&[&format!(
        "{} ok, 0 skipped, 0 failed, {} done earlier",
        rest.len(),
        done.len()
    )]);
    run.assert_stderr_line(&["--skip-done", "1 unreadable"]);
    for file in files.iter().filter(|f| done.contains(&server.url(&f.path))) {
        let name = file.name();
        assert!(
            run.stderr_lines_with(&[name]).is_empty(),
            "a link done earlier gets no line of its own: {name}\n{}",
            run.stderr
        );
    }
    for file in &files {
        let name = file.name();
        let dir = if done.contains(&server.url(&file.path)) {
            "first"
        } else {
            "second"
        };
        assert_served_file(&tmp.path().join(dir), name, file);
    }
    assert_eq!(names_in(&tmp.path().join("second")).len(), rest.len());

    // The appended report: one new line per link fetched (none for those done earlier), the cut line
    // stays one unreadable line, and every link is now ok in it.
    let appended = fs::read_to_string(&report).unwrap();
    assert_eq!(
        appended.lines().count(),
        journal.lines().count() + 1 + rest.len()
    );
    let all = DoneLinks::load(&report).unwrap();
    assert_eq!((all.len(), all.unreadable_lines()), (files.len(), 1));
    assert!(urls.iter().all(|u| all.contains(u)));
}

#[test]
fn links_left_out_keep_their_names_so_a_rerun_names_the_rest_as_before() {
    // Two links want x.bin; the first is done. If it did not take its name, the second would become
    // x.bin, find the first one's file there and be skipped wrongly.
    let files = [
        Served::new("/one/x.bin", 10 * KIB, 1),
        Served::new("/two/x.bin", 11 * KIB, 2),
    ];
    let (server, tmp) = server_and_tempdir(&files);
    let journal = format!(
        "{{\"url\":\"{}\",\"status\":\"ok\"}}\n",
        server.url("/one/x.bin")
    );
    let mut done = DoneLinks::new();
    done.add_journal_text(journal.as_bytes()).unwrap();
    let config = Config {
        skip_done: Some(Arc::new(done)),
        ..lib_config(tmp.path())
    };
    let list = format!(
        "{}\n{}\n",
        server.url("/one/x.bin"),
        server.url("/two/x.bin")
    );
    let summary = Downloader::new(config)
        .unwrap()
        .run(LinkReader::new(list.as_bytes()), |_| {});
    assert_eq!(
        (summary.ok, summary.already_done, summary.failed),
        (1, 1, 0)
    );
    assert_eq!(names_in(tmp.path()), ["x.1.bin"]);
    assert_served_file(tmp.path(), "x.1.bin", &files[1]);
    assert_eq!(
        requested(&server).keys().collect::<Vec<_>>(),
        ["/two/x.bin"]
    );

    // The same through a shard: whichever shard holds /two/x.bin names it x.1.bin.
    let holder = Shard::of(&server.url("/two/x.bin"), 2);
    let other = tempfile::tempdir().unwrap();
    let config = Config {
        shard: Some(Shard::new(holder, 2).unwrap()),
        ..lib_config(other.path())
    };
    let summary = Downloader::new(config)
        .unwrap()
        .run(LinkReader::new(list.as_bytes()), |_| {});
    let both_here = Shard::of(&server.url("/one/x.bin"), 2) == holder;
    assert_eq!(summary.other_shard, u64::from(!both_here));
    assert!(names_in(other.path()).contains(&"x.1.bin".to_string()));
}

/// The lines of a list for `--names index`, with the name each link must get: comments and blank
/// lines do not count, a malformed line does; a `Content-Disposition` and a redirect rename
/// nothing; `out=` names are numbered among themselves.
fn index_named_list(server: &TestServer) -> (Vec<String>, Vec<(&'static str, Served)>) {
    let named = |path: &str, seed| Served::new(path, 6 * KIB + seed, seed);
    let files = vec![
        ("000000000.jpg", named("/a/photo.jpg", 1)),
        ("000000001.jpg", named("/b/photo.jpg", 2)),
        (
            "000000002",
            Served::with(
                "/dl/get",
                7 * KIB,
                3,
                Behaviour::new().content_disposition("attachment; filename=\"report.pdf\""),
            ),
        ),
        // Position 3 is the malformed line; 4 is the redirect.
        ("000000004", named("/v2/app-2.0.tar.gz", 4)),
        ("cover.jpg", named("/c/cover.jpg", 5)),
        ("cover.1.jpg", named("/d/cover.jpg", 6)),
        ("000000007.gz", named("/e/x.tar.gz", 7)),
        ("000000008", named("/f/noext", 8)),
        ("000000009.bin", named("/f09.bin", 9)),
    ];
    for (_, file) in &files {
        file.add_to(server);
    }
    server.redirect("/latest", "/v2/app-2.0.tar.gz", 302);
    let url = |path: &str| server.url(path);
    let lines = vec![
        "# images, then the rest".to_string(),
        url("/a/photo.jpg"),
        String::new(),
        url("/b/photo.jpg"),
        url("/dl/get"),
        "ftp://example.com/old.iso".to_string(),
        url("/latest"),
        format!("{} out=cover.jpg", url("/c/cover.jpg")),
        format!("{} out=cover.jpg", url("/d/cover.jpg")),
        url("/e/x.tar.gz"),
        url("/f/noext"),
        url("/f09.bin"),
    ];
    (lines, files)
}

#[test]
fn index_names_are_the_same_in_every_shard_and_in_a_full_run() {
    let server = TestServer::start();
    let tmp = tempfile::tempdir().unwrap();
    let (lines, files) = index_named_list(&server);
    write_links(tmp.path(), "links.txt", &lines);

    const SHARDS: u64 = 3;
    let malformed_in = Shard::of("ftp://example.com/old.iso", SHARDS);
    let args = ["-d", "shared", "-i", "links.txt", "--names", "index"];
    let runs = run_every_shard(tmp.path(), SHARDS, &args);
    for (k, run) in runs.iter().enumerate() {
        let malformed_here = k as u64 == malformed_in;
        run.assert_code(i32::from(malformed_here));
        if malformed_here {
            run.assert_stderr_line(&["line 6", "not an http or https URL"]);
        }
    }
    let mut requests = requested(&server);
    assert_eq!(requests.remove("/latest"), Some(1));
    let every_file_once: BTreeMap<String, usize> =
        files.iter().map(|(_, f)| (f.path.clone(), 1)).collect();
    assert_eq!(requests, every_file_once, "each link once over all shards");

    // One machine, no shards: the same names, and the names the list says.
    let solo = pardl(
        tmp.path(),
        ["-d", "solo", "-i", "links.txt", "--names", "index"],
    );
    solo.assert_code(1);
    solo.assert_stderr_line(&["9 ok, 0 skipped, 1 failed"]);
    let mut expected: Vec<String> = files.iter().map(|(name, _)| name.to_string()).collect();
    expected.sort();
    for dir in ["shared", "solo"] {
        assert_eq!(names_in(&tmp.path().join(dir)), expected, "in {dir}");
        for (name, file) in &files {
            assert_served_file(&tmp.path().join(dir), name, file);
        }
    }
}

#[test]
fn an_out_name_shaped_like_another_links_index_name_fails_that_link_alone() {
    let files = [
        Served::new("/a.bin", 3 * KIB, 1),
        Served::new("/b.bin", 4 * KIB, 2),
        Served::new("/c.bin", 5 * KIB, 3),
    ];
    let (server, tmp) = server_and_tempdir(&files);
    let url = |i: usize| server.url(&files[i].path);
    write_links(
        tmp.path(),
        "links.txt",
        &[
            format!("{} out=000000001.bin", url(0)),
            url(1),
            // Its own index name, with another extension, is a link's to take.
            format!("{} out=000000002.dat", url(2)),
        ],
    );
    let run = pardl(
        tmp.path(),
        "-d out -i links.txt --names index --report r.jsonl".split(' '),
    );
    run.assert_code(1);
    run.assert_stderr_line(&[
        "line 1",
        "its out= name out/000000001.bin is the index name of the link at position 1",
        "give this link another out= name",
    ]);
    assert_eq!(
        requested(&server).keys().collect::<Vec<_>>(),
        ["/b.bin", "/c.bin"],
        "the refused link asks nothing"
    );
    let out = tmp.path().join("out");
    assert_eq!(names_in(&out), ["000000001.bin", "000000002.dat"]);
    assert_served_file(&out, "000000001.bin", &files[1]);
    assert_served_file(&out, "000000002.dat", &files[2]);
    let lines = report_lines(&tmp.path().join("r.jsonl"));
    let refused = report_line_for(&lines, "/a.bin");
    assert_eq!(refused["error_kind"], "index-name");
    assert_eq!(refused["path"], "out/000000001.bin");
}

#[test]
fn a_rerun_with_index_names_skips_what_is_there_and_resumes_what_is_not() {
    // The big file's first answer is cut after 600 KiB; with one try per request the link fails,
    // keeping its .part and control file under its index name.
    let big = Served::with(
        "/big.bin",
        2 * MIB,
        7,
        Behaviour::new().reset_after(600 * KIB, 1),
    );
    let small = [
        Served::new("/s0.bin", 3 * KIB, 1),
        Served::new("/s1.bin", 4 * KIB, 2),
    ];
    let (server, tmp) = server_and_tempdir(small.iter().chain([&big]));
    let list = urls(&server, small.iter().chain([&big]));
    write_links(tmp.path(), "links.txt", &list);
    let args: Vec<&str> = "-d out -i links.txt --names index -x 1 -k 4M --max-tries 1"
        .split(' ')
        .collect();
    pardl(tmp.path(), &args).assert_code(1);
    let out = tmp.path().join("out");
    assert_eq!(
        names_in(&out),
        [
            "000000000.bin",
            "000000001.bin",
            "000000002.bin.part",
            "000000002.bin.part.pardl"
        ]
    );

    server.reset_stats();
    let rerun = pardl(tmp.path(), &args);
    rerun.assert_code(0);
    rerun.assert_stderr_line(&["1 ok, 2 skipped, 0 failed"]);
    assert_eq!(
        requested(&server).keys().collect::<Vec<_>>(),
        ["/big.bin"],
        "the small files are skipped without a request"
    );
    let resumed = server.requests_for("/big.bin");
    assert_eq!(resumed.len(), 1, "{resumed:?}");
    let range = resumed[0].range.as_deref().expect("a ranged request");
    assert_eq!(range, format!("bytes={}-{}", 600 * KIB, 2 * MIB - 1));
    assert_eq!(server.stats().bytes_sent, 2 * MIB - 600 * KIB);
    assert_eq!(
        names_in(&out),
        ["000000000.bin", "000000001.bin", "000000002.bin"]
    );
    assert_served_file(&out, "000000000.bin", &small[0]);
    assert_served_file(&out, "000000001.bin", &small[1]);
    assert_served_file(&out, "000000002.bin", &big);
}
