//! The documentation stays true to the code: every relative link in README.md and docs/ leads to a
//! file (and heading) that exists, and every code name written in backticks (`ThreadPool::execute`,
//! `wait_completion()`, `ChunkPlan`, `src/pool.rs`, `--max-per-host`) exists in the code. A rename in
//! the code then fails this test until the docs follow.

use std::collections::{BTreeSet, HashSet};
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Names docs may mention that are not pardl's: other tools' options, things of the standard library
/// or of dependencies that pardl's code does not spell out, and the article's Python names (those are
/// listed in an `<!-- article-names: … -->` comment of the page that uses them).
const NOT_PARDLS: &[(&str, &str)] = &[
    ("--lowest-speed-limit", "aria2c"),
    ("--file-allocation", "aria2c"),
    ("--no-conf", "aria2c"),
    ("--chunk-size", "wget2"),
    ("--max-threads", "wget2"),
    ("--no-config", "wget2"),
    ("--parallel-immediate", "curl"),
    ("--cacert", "curl"),
    (
        "RootCerts::PlatformVerifier",
        "a ureq setting pardl does not use",
    ),
    ("--fsync", "an option benchmarks.md proposes, not built"),
    ("--array", "Slurm's sbatch"),
    ("--return", "GNU parallel"),
    ("ReadWriteMany", "a Kubernetes volume access mode"),
    (
        "recently_deleted",
        "a function of the Linux kernel (fs/ext4/ialloc.c)",
    ),
];

/// Whether `name` (without `()`, options without `=VALUE`) is one of [`NOT_PARDLS`].
fn not_pardls(name: &str) -> bool {
    let name = name.split(['=', '[']).next().unwrap_or(name);
    NOT_PARDLS.iter().any(|(listed, _whose)| *listed == name)
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// README.md and every Markdown file under docs/.
fn pages() -> Vec<PathBuf> {
    let mut pages = vec![root().join("README.md")];
    for entry in fs::read_dir(root().join("docs")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "md") {
            pages.push(path);
        }
    }
    pages.sort();
    pages
}

/// Every `.rs` file of the project, for the identifier index.
fn sources() -> Vec<PathBuf> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        let Ok(entries) = fs::read_dir(dir) else {
            return;
        };
        for entry in entries {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(&path, out);
            } else if path.extension().is_some_and(|e| e == "rs")
                // This file names made-up things on purpose, to test the check.
                && !path.ends_with("tests/docs.rs")
            {
                out.push(path);
            }
        }
    }
    let mut out = Vec::new();
    for dir in ["src", "tests", "examples", "benches", "testserver/src"] {
        walk(&root().join(dir), &mut out);
    }
    out
}

/// What the code defines and mentions.
struct CodeIndex {
    /// Every identifier that appears in the code.
    words: HashSet<String>,
    /// Names after `fn`, and struct fields (`name: Type` at the start of a line).
    functions: HashSet<String>,
    /// Names after `struct`, `enum`, `trait`, `type`.
    types: HashSet<String>,
    /// File names of the sources (`pool.rs`).
    files: HashSet<String>,
    /// The command's `--help`.
    help: String,
    /// The options the programs in examples/ accept (`"--fix"` in their source).
    example_options: HashSet<String>,
}

fn identifiers(text: &str) -> impl Iterator<Item = &str> {
    text.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .filter(|w| !w.is_empty())
}

impl CodeIndex {
    fn build() -> CodeIndex {
        let mut index = CodeIndex {
            words: HashSet::new(),
            functions: HashSet::new(),
            types: HashSet::new(),
            files: HashSet::new(),
            help: String::new(),
            example_options: HashSet::new(),
        };
        for path in sources() {
            let text = fs::read_to_string(&path).unwrap();
            index
                .files
                .insert(path.file_name().unwrap().to_string_lossy().into_owned());
            let words: Vec<&str> = identifiers(&text).collect();
            for pair in words.windows(2) {
                match pair[0] {
                    "fn" => {
                        index.functions.insert(pair[1].to_string());
                    }
                    "struct" | "enum" | "trait" | "type" => {
                        index.types.insert(pair[1].to_string());
                    }
                    _ => {}
                }
            }
            for line in text.lines() {
                let line = line.trim_start();
                let line = line.strip_prefix("pub ").unwrap_or(line);
                if let Some((field, rest)) = line.split_once(':') {
                    let is_field = !rest.starts_with(':')
                        && !field.is_empty()
                        && field
                            .chars()
                            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
                    if is_field {
                        index.functions.insert(field.to_string());
                    }
                }
            }
            index.words.extend(words.into_iter().map(str::to_string));
            if path.parent().is_some_and(|dir| dir.ends_with("examples")) {
                for literal in text.split('"').skip(1).step_by(2) {
                    if literal.starts_with("--") && !literal.contains(char::is_whitespace) {
                        index.example_options.insert(literal.to_string());
                    }
                }
            }
        }
        let help = Command::new(env!("CARGO_BIN_EXE_pardl"))
            .arg("--help")
            .output()
            .expect("pardl --help runs");
        index.help = String::from_utf8_lossy(&help.stdout).into_owned();
        index
    }

    /// Why `name` (the text between backticks) does not exist in the code, or `None` if it does or is
    /// not a code name at all (a command line, a value, prose).
    fn check(&self, name: &str) -> Option<String> {
        let name = name.trim();
        if name.contains(char::is_whitespace) {
            return None;
        }
        if let Some(flag) = name.strip_prefix("--") {
            let flag = flag.split(['=', '[']).next().unwrap_or(flag);
            let is_flag =
                !flag.is_empty() && flag.chars().all(|c| c.is_ascii_lowercase() || c == '-');
            let known = self.help.contains(&format!("--{flag}"))
                || self.example_options.contains(&format!("--{flag}"));
            return (is_flag && !known)
                .then(|| format!("option --{flag} is not in pardl --help nor in an example"));
        }
        if name.ends_with(".rs") {
            let file = name.rsplit('/').next().unwrap_or(name);
            let exists = if name.contains('/') {
                root().join(name).exists() || root().join("testserver").join(name).exists()
            } else {
                self.files.contains(file)
            };
            return (!exists).then(|| format!("no source file {name}"));
        }
        let path = name.strip_suffix("()").unwrap_or(name);
        let segments: Vec<&str> = path.split("::").collect();
        let looks_like_rust = segments.iter().all(|s| {
            !s.is_empty()
                && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
                && !s.starts_with(|c: char| c.is_ascii_digit())
        });
        if !looks_like_rust {
            return None;
        }
        let is_call = name.ends_with("()");
        let is_path = segments.len() > 1;
        let is_type = segments.len() == 1
            && path.starts_with(|c: char| c.is_ascii_uppercase())
            && path.chars().any(|c| c.is_ascii_lowercase());
        if !(is_call || is_path || is_type) {
            // A lone lowercase word (`pending`, `ok`) is as likely prose as code.
            return None;
        }
        for segment in &segments {
            if !self.words.contains(*segment) {
                return Some(format!("`{segment}` does not appear in the code"));
            }
        }
        // `Type::method` on one of pardl's own types must name a function pardl defines.
        if let [.., owner, item] = segments.as_slice() {
            let is_method = item.starts_with(|c: char| c.is_ascii_lowercase());
            if self.types.contains(*owner) && is_method && !self.functions.contains(*item) {
                return Some(format!("pardl defines no fn or field {item} (for {owner})"));
            }
        }
        if is_call
            && segments.len() == 1
            && !self.functions.contains(path)
            && !self.words.contains(path)
        {
            return Some(format!("no function {path}"));
        }
        None
    }
}

/// The lines of a Markdown text outside fenced code blocks, numbered from 1.
fn prose_lines(text: &str) -> Vec<(usize, &str)> {
    let mut fenced = false;
    let mut lines = Vec::new();
    for (index, line) in text.lines().enumerate() {
        if line.trim_start().starts_with("```") {
            fenced = !fenced;
        } else if !fenced {
            lines.push((index + 1, line));
        }
    }
    lines
}

/// The spans between single backticks, outside fenced code blocks, with their line numbers.
fn backticked(text: &str) -> Vec<(usize, String)> {
    let mut spans = Vec::new();
    for (number, line) in prose_lines(text) {
        let parts: Vec<&str> = line.split('`').collect();
        // Odd-numbered parts are inside backticks (a line with an unpaired backtick is skipped).
        if parts.len() % 2 == 1 {
            for part in parts.iter().skip(1).step_by(2) {
                spans.push((number, part.to_string()));
            }
        }
    }
    spans
}

/// Names a page declares as the article's own, in `<!-- article-names: a, b, c -->`.
fn article_names(text: &str) -> HashSet<String> {
    let Some(start) = text.find("<!-- article-names:") else {
        return HashSet::new();
    };
    let rest = &text[start + "<!-- article-names:".len()..];
    let end = rest.find("-->").unwrap_or(rest.len());
    rest[..end]
        .split(',')
        .map(|name| name.trim().to_string())
        .filter(|name| !name.is_empty())
        .collect()
}

#[test]
fn code_names_in_the_docs_exist_in_the_code() {
    let index = CodeIndex::build();
    let mut problems = BTreeSet::new();
    for page in pages() {
        let text = fs::read_to_string(&page).unwrap();
        let article = article_names(&text);
        for (line, name) in backticked(&text) {
            let base = name.trim().trim_end_matches("()");
            let base_segments: Vec<&str> = base.split("::").collect();
            if not_pardls(base)
                || article.contains(base)
                || base_segments
                    .first()
                    .is_some_and(|first| article.contains(*first))
            {
                continue;
            }
            if let Some(why) = index.check(&name) {
                let page = page.strip_prefix(root()).unwrap().display().to_string();
                problems.insert(format!("{page}:{line}: `{name}`: {why}"));
            }
        }
    }
    assert!(
        problems.is_empty(),
        "{} names in the docs do not match the code:\n{}",
        problems.len(),
        problems.into_iter().collect::<Vec<_>>().join("\n")
    );
}

/// GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens.
fn slug(heading: &str) -> String {
    heading
        .trim()
        .to_lowercase()
        .chars()
        .filter(|c| c.is_alphanumeric() || *c == ' ' || *c == '-' || *c == '_')
        .map(|c| if c == ' ' { '-' } else { c })
        .collect()
}

fn anchors(text: &str) -> HashSet<String> {
    let mut anchors = HashSet::new();
    for (_, line) in prose_lines(text) {
        if let Some(heading) = line.strip_prefix('#') {
            let base = slug(heading.trim_start_matches('#'));
            // GitHub numbers repeated headings: name, name-1, name-2.
            let mut anchor = base.clone();
            let mut n = 0;
            while !anchors.insert(anchor.clone()) {
                n += 1;
                anchor = format!("{base}-{n}");
            }
        }
    }
    anchors
}

/// The targets of inline links `[text](target)` outside fenced code.
fn link_targets(text: &str) -> Vec<(usize, String)> {
    let mut targets = Vec::new();
    for (number, line) in prose_lines(text) {
        let mut rest = line;
        while let Some(at) = rest.find("](") {
            rest = &rest[at + 2..];
            if let Some(end) = rest.find(')') {
                targets.push((number, rest[..end].to_string()));
                rest = &rest[end..];
            }
        }
    }
    targets
}

#[test]
fn relative_links_in_the_docs_resolve() {
    let mut problems = Vec::new();
    for page in pages() {
        let text = fs::read_to_string(&page).unwrap();
        let dir = page.parent().unwrap();
        let name = page.strip_prefix(root()).unwrap().display().to_string();
        for (line, target) in link_targets(&text) {
            if target.contains("://") || target.starts_with("mailto:") {
                continue;
            }
            let (file, anchor) = match target.split_once('#') {
                Some((file, anchor)) => (file, Some(anchor)),
                None => (target.as_str(), None),
            };
            let linked = if file.is_empty() {
                page.clone()
            } else {
                dir.join(file)
            };
            if !linked.exists() {
                problems.push(format!("{name}:{line}: {target}: no such file"));
                continue;
            }
            if let Some(anchor) = anchor {
                let linked_text = fs::read_to_string(&linked).unwrap_or_default();
                if !anchors(&linked_text).contains(anchor) {
                    problems.push(format!("{name}:{line}: {target}: no such heading"));
                }
            }
        }
    }
    assert!(
        problems.is_empty(),
        "broken links:\n{}",
        problems.join("\n")
    );
}

#[test]
fn the_checks_catch_what_they_are_for() {
    let index = CodeIndex::build();
    // Real names pass.
    for name in [
        "ThreadPool::execute",
        "ThreadPool::wait_completion",
        "wait_completion()",
        "ChunkPlan",
        "src/pool.rs",
        "pool.rs",
        "--max-per-host",
        "Progress::record",
    ] {
        assert_eq!(index.check(name), None, "{name}");
    }
    // Made-up ones do not.
    for name in [
        "ThreadPool::wait_all",
        "ChunkPlanner",
        "wait_for_everything()",
        "src/threadpool.rs",
        "--max-connections-per-server",
    ] {
        assert!(index.check(name).is_some(), "{name} passed");
    }
    // Prose in backticks is not checked.
    for text in ["pending", "NAME.part", "-j 3", "bytes=0-1023"] {
        assert_eq!(index.check(text), None, "{text}");
    }
    assert_eq!(
        slug("The life of one chunk (and of one byte)"),
        "the-life-of-one-chunk-and-of-one-byte"
    );
    assert_eq!(
        article_names("<!-- article-names: add_task, DownloadChunk -->"),
        HashSet::from(["add_task".to_string(), "DownloadChunk".to_string()])
    );
}

/// Words as `wc -w` counts them: runs of characters between whitespace.
fn words(text: &str) -> usize {
    text.split_whitespace().count()
}

/// The heading lines of a Markdown text outside fenced code: (line index, level, anchor).
fn headings(text: &str) -> Vec<(usize, usize, String)> {
    prose_lines(text)
        .into_iter()
        .filter(|(_, line)| line.starts_with('#'))
        .map(|(number, line)| {
            let level = line.chars().take_while(|&c| c == '#').count();
            (number - 1, level, slug(line.trim_start_matches('#')))
        })
        .collect()
}

/// The words of section `anchor` of `text`: its heading up to the next heading of the same or a
/// higher level.
fn section_words(text: &str, anchor: &str) -> usize {
    let lines: Vec<&str> = text.lines().collect();
    let all = headings(text);
    let (at, (start, level, _)) = all
        .iter()
        .enumerate()
        .find(|(_, (_, _, a))| a == anchor)
        .unwrap_or_else(|| panic!("no heading #{anchor}"));
    let end = all[at + 1..]
        .iter()
        .find(|(_, l, _)| l <= level)
        .map_or(lines.len(), |(line, _, _)| *line);
    words(&lines[*start..end].join("\n"))
}

/// The words of `text` before the heading `anchor`.
fn words_before(text: &str, anchor: &str) -> usize {
    let lines: Vec<&str> = text.lines().collect();
    let (line, _, _) = headings(text)
        .into_iter()
        .find(|(_, _, a)| a == anchor)
        .unwrap_or_else(|| panic!("no heading #{anchor}"));
    words(&lines[..line].join("\n"))
}

/// A number as the README writes it: `9,100`, `**45**`.
fn stated(cell: &str) -> usize {
    cell.trim()
        .trim_matches('*')
        .replace(',', "")
        .parse()
        .unwrap_or_else(|_| panic!("not a number: {cell:?}"))
}

/// The README's reading path says how many words each step is and how long it takes; the pages
/// change, so this recounts: each step within 10% of what the table says, minutes at 200 words a
/// minute, and the whole path about 45 minutes.
#[test]
fn the_reading_path_is_as_long_as_the_readme_says() {
    let readme = fs::read_to_string(root().join("README.md")).unwrap();
    let path = readme
        .split("\n## The reading path")
        .nth(1)
        .expect("the README has a reading path");
    let path = path.split("\n## ").next().unwrap_or(path);
    let mut steps = 0;
    let (mut total_counted, mut total_stated) = (0, 0);
    for line in path.lines().filter(|line| line.starts_with("| ")) {
        let cells: Vec<&str> = line.trim_matches('|').split('|').collect();
        if cells[0].trim().parse::<usize>().is_err() {
            if cells[1].contains("whole path") {
                let (words, minutes) = (stated(cells[3]), stated(cells[4]));
                assert!(
                    words.abs_diff(total_counted) * 10 <= total_counted,
                    "the whole path is {total_counted} words, the README says {words}"
                );
                assert!(
                    words.abs_diff(total_stated) * 100 <= total_stated,
                    "the steps add up to {total_stated} words, the total row says {words}"
                );
                assert!(minutes.abs_diff(words / 200) <= 1, "{line}");
                assert!((40..=50).contains(&minutes), "not about 45 minutes: {line}");
                total_stated = usize::MAX; // seen
            }
            continue;
        }
        steps += 1;
        // Each link is a page (read whole), a page#section (that section), or, after "up to",
        // where the reading of the page before it stops.
        let targets: Vec<(usize, String)> = link_targets(cells[1]);
        let mut counted = 0;
        let mut index = 0;
        while index < targets.len() {
            let target = &targets[index].1;
            let (file, anchor) = target.split_once('#').unwrap_or((target, ""));
            let text = fs::read_to_string(root().join(file)).unwrap();
            let stops = cells[1].contains(&format!("]({target}) up to ["));
            if stops {
                let (_, stop) = targets[index + 1]
                    .1
                    .split_once('#')
                    .expect("up to a heading");
                counted += words_before(&text, stop);
                index += 2;
            } else {
                counted += if anchor.is_empty() {
                    words(&text)
                } else {
                    section_words(&text, anchor)
                };
                index += 1;
            }
        }
        let (words, minutes) = (stated(cells[3]), stated(cells[4]));
        assert!(
            words.abs_diff(counted) * 10 <= counted,
            "step {}: {counted} words, the README says {words}",
            cells[0].trim()
        );
        assert!(minutes.abs_diff(words / 200) <= 1, "{line}");
        total_counted += counted;
        total_stated += words;
    }
    assert_eq!(steps, 5, "the reading path has five steps");
    assert_eq!(total_stated, usize::MAX, "the path has a total row");
}

/// docs/pool-in-steps.md shows each step as a diff against the step before; every line it adds is
/// in that step's module of examples/mini_pool.rs, and every line it removes in the previous one.
#[test]
fn the_pool_steps_diffs_match_mini_pool() {
    let page = fs::read_to_string(root().join("docs/pool-in-steps.md")).unwrap();
    let source = fs::read_to_string(root().join("examples/mini_pool.rs")).unwrap();
    let module = |step: usize| -> Vec<String> {
        let start = format!("mod step{step} {{");
        source
            .lines()
            .skip_while(|line| *line != start)
            .take_while(|line| *line != "}")
            .map(|line| line.trim().to_string())
            .collect()
    };
    let mut step = 0;
    let mut in_diff = false;
    let mut checked = 0;
    for line in page.lines() {
        if let Some(rest) = line.strip_prefix("## Step ") {
            step = rest.split(':').next().unwrap().parse().unwrap();
        } else if line.starts_with("```diff") {
            in_diff = true;
        } else if line.starts_with("```") {
            in_diff = false;
        } else if in_diff {
            let (sign, code) = line.split_at(1);
            let wanted = match sign {
                "+" => module(step),
                "-" => module(step - 1),
                _ => continue,
            };
            assert!(
                wanted.iter().any(|have| have == code.trim()),
                "step {step}: {line:?} is not in mini_pool.rs's step{}",
                if sign == "+" { step } else { step - 1 }
            );
            checked += 1;
        }
    }
    assert!(checked > 40, "only {checked} diff lines found");
}
