//! The source layout keeps the promises docs/design.md makes about it: modules depend on each other
//! one way only, few modules are public, no file grows past what a reader takes in at once, each
//! rule lives in one place, and the command writes no default of its own.
//!
//! The module graph is read from the source itself: a module depends on every module it names by a
//! `crate::` path (or, in a `mod.rs`, by a path starting with one of its own children).

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

/// Every `.rs` file under `dir`.
fn rust_files(dir: &Path) -> Vec<PathBuf> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        for entry in fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(&path, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push(path);
            }
        }
    }
    let mut files = Vec::new();
    if dir.is_dir() {
        walk(dir, &mut files);
    } else if dir.with_extension("rs").is_file() {
        files.push(dir.with_extension("rs"));
    }
    files
}

/// The files of the binary: `src/main.rs` and the modules it declares itself (`mod cli;` is
/// `src/cli.rs` or everything under `src/cli/`), which the library does not know. As (name, text).
fn binary_files() -> BTreeMap<String, String> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let main = fs::read_to_string(root.join("main.rs")).unwrap();
    let mut files = BTreeMap::new();
    for name in main
        .lines()
        .filter_map(|line| line.trim().strip_prefix("mod "))
        .filter_map(|rest| rest.strip_suffix(';'))
    {
        for path in rust_files(&root.join(name)) {
            let relative = path.strip_prefix(&root).unwrap().display().to_string();
            files.insert(relative, fs::read_to_string(&path).unwrap());
        }
    }
    files.insert("main.rs".to_string(), main);
    files
}

/// Every `.rs` file of the library under `src/`, as (module path, text); `src/lib.rs` is the crate
/// root `crate`. The binary's files ([`binary_files`]) are not modules of the library.
fn modules() -> BTreeMap<String, String> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let binary = binary_files();
    rust_files(&root)
        .into_iter()
        .filter(|path| {
            let relative = path.strip_prefix(&root).unwrap().display().to_string();
            !binary.contains_key(&relative)
        })
        .map(|path| {
            let relative = path.strip_prefix(&root).unwrap().with_extension("");
            let mut parts: Vec<String> = relative
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect();
            if parts.last().is_some_and(|p| p == "mod" || p == "lib") {
                parts.pop();
            }
            let module = std::iter::once("crate".to_string())
                .chain(parts)
                .collect::<Vec<_>>()
                .join("::");
            (module, fs::read_to_string(&path).unwrap())
        })
        .collect()
}

/// The code of a file without comments (doc links are not dependencies) and without its tests.
fn code(text: &str) -> String {
    text.lines()
        .take_while(|line| !line.starts_with("#[cfg(test)]"))
        .filter(|line| !line.trim_start().starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The modules `module` names in its code.
fn dependencies(module: &str, text: &str, all: &BTreeMap<String, String>) -> BTreeSet<String> {
    let code = code(text);
    let mut found = BTreeSet::new();
    let mut names = Vec::new();
    for (at, _) in code.match_indices("crate::") {
        let path: String = code[at..]
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_' || *c == ':')
            .collect();
        names.push(path.trim_end_matches(':').to_string());
    }
    // A parent names its children without `crate::` (`use plan::ChunkPlan;`).
    for child in all.keys().filter(|m| is_child(module, m)) {
        let short = &child[module.len() + 2..];
        let named = code.lines().any(|line| {
            let line = line.trim_start();
            !line.contains("mod ")
                && (line.contains(&format!(" {short}::")) || line.contains(&format!("({short}::")))
        });
        if named {
            names.push(child.clone());
        }
    }
    for name in names {
        // The longest module that is a prefix of the path is the one depended on.
        let target = all
            .keys()
            .filter(|m| name == **m || name.starts_with(&format!("{m}::")))
            .max_by_key(|m| m.len());
        if let Some(target) = target {
            if target != module && target != "crate" {
                found.insert(target.clone());
            }
        }
    }
    found
}

fn is_child(parent: &str, module: &str) -> bool {
    module
        .strip_prefix(parent)
        .and_then(|rest| rest.strip_prefix("::"))
        .is_some_and(|rest| !rest.contains("::"))
}

#[test]
fn modules_depend_on_each_other_one_way_only() {
    let all = modules();
    let graph: BTreeMap<String, BTreeSet<String>> = all
        .iter()
        .map(|(module, text)| (module.clone(), dependencies(module, text, &all)))
        .collect();
    assert!(
        graph["crate::file::child_pool"].contains("crate::pool"),
        "the graph reader misses dependencies: {graph:#?}"
    );
    // Depth-first search for a path back to where it started.
    fn cycle_from(
        node: &str,
        graph: &BTreeMap<String, BTreeSet<String>>,
        stack: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(at) = stack.iter().position(|n| n == node) {
            let mut cycle = stack[at..].to_vec();
            cycle.push(node.to_string());
            return Some(cycle);
        }
        if done.contains(node) {
            return None;
        }
        stack.push(node.to_string());
        for next in graph.get(node).into_iter().flatten() {
            if let Some(cycle) = cycle_from(next, graph, stack, done) {
                return Some(cycle);
            }
        }
        stack.pop();
        done.insert(node.to_string());
        None
    }
    let mut done = BTreeSet::new();
    for module in graph.keys() {
        if let Some(cycle) = cycle_from(module, &graph, &mut Vec::new(), &mut done) {
            panic!("a dependency cycle: {}", cycle.join(" -> "));
        }
    }
    // The pool is the lesson: it stands on its own (its own submodules aside).
    assert!(
        graph["crate::pool"]
            .iter()
            .all(|module| module.starts_with("crate::pool::")),
        "{:?}",
        graph["crate::pool"]
    );
}

#[test]
fn the_public_api_is_a_few_modules_and_re_exports() {
    let all = modules();
    let public: Vec<&str> = all["crate"]
        .lines()
        .filter_map(|line| line.trim().strip_prefix("pub mod "))
        .collect();
    assert!(public.contains(&"pool;"), "{public:?}");
    assert!(public.len() <= 6, "public modules: {public:?}");
}

#[test]
fn no_source_file_is_longer_than_600_lines_before_its_tests() {
    let mut long = Vec::new();
    for (module, text) in modules() {
        let lines = text
            .lines()
            .take_while(|line| !line.starts_with("#[cfg(test)]"))
            .count();
        if lines > 600 {
            long.push(format!("{module}: {lines}"));
        }
    }
    for (file, text) in binary_files() {
        let lines = text
            .lines()
            .take_while(|l| !l.starts_with("#[cfg(test)]"))
            .count();
        if lines > 600 {
            long.push(format!("{file}: {lines}"));
        }
    }
    assert!(
        binary_files().contains_key("cli/config_file.rs"),
        "the binary's modules were not found"
    );
    assert!(
        !modules().contains_key("crate::cli"),
        "the binary's modules are not the library's"
    );
    assert!(long.is_empty(), "too long: {long:?}");
}

#[test]
fn the_command_writes_no_numeric_default_of_its_own() {
    let binary = binary_files();
    let written: Vec<&str> = binary
        .values()
        .flat_map(|text| text.lines())
        .filter(|line| {
            ["default_value_t = ", "default_value = \""]
                .iter()
                .any(|attr| {
                    line.split(attr)
                        .nth(1)
                        .is_some_and(|value| value.starts_with(|c: char| c.is_ascii_digit()))
                })
        })
        .collect();
    assert!(
        written.is_empty(),
        "defaults written in the command's files: {written:#?}"
    );
}

/// The names of the functions defined in a file's code (tests and comments left out).
fn functions(text: &str) -> Vec<String> {
    let code = code(text);
    code.match_indices("fn ")
        .filter(|(at, _)| {
            code[..*at]
                .chars()
                .next_back()
                .is_none_or(|c| !(c.is_alphanumeric() || c == '_'))
        })
        .map(|(at, _)| {
            code[at + 3..]
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect()
        })
        .collect()
}

#[test]
fn each_url_rule_has_one_home() {
    let mut files = modules();
    files.extend(binary_files());
    let defined: Vec<(String, String)> = files
        .iter()
        .flat_map(|(module, text)| {
            functions(text)
                .into_iter()
                .map(move |name| (module.clone(), name))
        })
        .collect();
    assert!(
        defined.iter().any(|(_, name)| name == "name_from_url"),
        "the function reader misses functions: {defined:?}"
    );
    for (rule, matches) in [
        (
            "masks credentials (a name starting with `redact`)",
            &(|name: &str| name.starts_with("redact")) as &dyn Fn(&str) -> bool,
        ),
        (
            "percent-decodes (a name containing `percent_decode`)",
            &|name: &str| name.contains("percent_decode"),
        ),
    ] {
        let found: Vec<&(String, String)> =
            defined.iter().filter(|(_, name)| matches(name)).collect();
        assert_eq!(
            found.len(),
            1,
            "exactly one function {rule}, found: {found:?}"
        );
    }
}
