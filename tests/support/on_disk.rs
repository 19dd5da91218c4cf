//! Files on disk: writing links files, and checking what a run left behind (exact bytes, no `.part`
//! files, exactly these names).

use std::fs;
use std::path::{Path, PathBuf};

use pardl_testserver::pattern_bytes;

use super::Served;

/// Writes `lines` (joined with `\n`, with a final newline) to `dir/name` and returns its path.
pub fn write_links<S: AsRef<str>>(dir: &Path, name: &str, lines: &[S]) -> PathBuf {
    let path = dir.join(name);
    let mut text = String::new();
    for line in lines {
        text.push_str(line.as_ref());
        text.push('\n');
    }
    fs::write(&path, text).unwrap_or_else(|e| panic!("cannot write {}: {e}", path.display()));
    path
}

/// Asserts that the file at `path` holds exactly `pattern_bytes(seed, 0, len)`. Compares the lengths
/// first and reports the first differing offset rather than megabytes of bytes.
#[track_caller]
pub fn assert_pattern_file(path: &Path, seed: u64, len: u64) {
    let actual = fs::read(path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    assert_eq!(
        actual.len() as u64,
        len,
        "{} has the wrong length",
        path.display()
    );
    let expected = pattern_bytes(seed, 0, len as usize);
    if let Some(offset) = actual.iter().zip(&expected).position(|(a, e)| a != e) {
        let end = (offset + 16).min(actual.len());
        panic!(
            "{} differs from pattern seed {seed} first at byte {offset} (of {len}): got {:02x?}, expected {:02x?}",
            path.display(),
            &actual[offset..end],
            &expected[offset..end]
        );
    }
}

/// Asserts that the served file landed at `dir/name` byte for byte.
#[track_caller]
pub fn assert_served_file(dir: &Path, name: &str, served: &Served) {
    assert_pattern_file(&dir.join(name), served.seed, served.len);
}

/// Asserts that no `.part` file remains in `dir` (and its subdirectories).
#[track_caller]
pub fn assert_no_part_files(dir: &Path) {
    let parts: Vec<PathBuf> = files_under(dir)
        .into_iter()
        .filter(|p| p.to_string_lossy().ends_with(".part"))
        .collect();
    assert!(parts.is_empty(), "leftover .part files: {parts:?}");
}

/// Every file (not directory) under `dir`, recursively, sorted.
pub fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(current) = pending.pop() {
        let Ok(entries) = fs::read_dir(&current) else {
            continue;
        };
        for entry in entries {
            let entry = entry.expect("reading a directory entry");
            let path = entry.path();
            if entry.file_type().expect("file type").is_dir() {
                pending.push(path);
            } else {
                found.push(path);
            }
        }
    }
    found.sort();
    found
}

/// The names of the entries directly in `dir`, sorted.
pub fn names_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()))
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// The SHA-256 of `bytes` in lower-case hex, as `sha256=` in a links file and the report write it.
pub fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}
