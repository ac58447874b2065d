//! `glob` and `grep`: walking the sandbox's file system for names and contents. Owns the
//! walk, ordering and caps; never follows symlinks into directories (a loop or `/proc` must
//! not make a call run forever).

use std::fmt::Write as _;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use globset::GlobBuilder;
use walkdir::WalkDir;

use crate::input::{GlobInput, GrepInput};
use crate::limits::{
    GLOB_MAX_RESULTS, GREP_MAX_FILE_BYTES, GREP_MAX_LINE_CHARS, GREP_MAX_MATCHES, WALK_MAX_ENTRIES,
};
use crate::{ToolResult, files::looks_binary, resolve};

/// Pseudo file systems that are never worth walking.
const SKIPPED_ROOTS: [&str; 3] = ["/proc", "/sys", "/dev"];

fn walker(root: &Path) -> impl Iterator<Item = walkdir::DirEntry> {
    WalkDir::new(root)
        .follow_links(false)
        .into_iter()
        .filter_entry(|entry| {
            let skipped_root = entry.depth() > 0
                && SKIPPED_ROOTS
                    .iter()
                    .any(|skip| entry.path() == Path::new(skip));
            let git_dir = entry.file_type().is_dir() && entry.file_name() == ".git";
            !skipped_root && !git_dir
        })
        .filter_map(Result::ok)
        .take(WALK_MAX_ENTRIES)
}

/// Splits an absolute pattern into the literal directory it starts from and the rest.
fn split_pattern(workdir: &Path, root: Option<&str>, pattern: &str) -> (PathBuf, String) {
    let base = root.map_or_else(|| workdir.to_path_buf(), |root| resolve(workdir, root));
    if !pattern.starts_with('/') {
        return (base, pattern.to_owned());
    }
    let mut literal = PathBuf::from("/");
    let mut rest = Vec::new();
    for part in pattern.split('/').filter(|p| !p.is_empty()) {
        if rest.is_empty() && !part.contains(['*', '?', '[', '{']) {
            literal.push(part);
        } else {
            rest.push(part);
        }
    }
    if rest.is_empty() {
        let name = literal
            .file_name()
            .map(|n| n.to_string_lossy().into_owned());
        let parent = literal.parent().map(Path::to_path_buf).unwrap_or_default();
        return (parent, name.unwrap_or_default());
    }
    (literal, rest.join("/"))
}

pub fn glob(workdir: &Path, input: GlobInput) -> ToolResult {
    let (root, pattern) = split_pattern(workdir, input.path.as_deref(), &input.pattern);
    let matcher = match GlobBuilder::new(&pattern).literal_separator(true).build() {
        Ok(glob) => glob.compile_matcher(),
        Err(error) => return ToolResult::error(format!("Invalid glob pattern: {error}")),
    };
    if !root.is_dir() {
        return ToolResult::error(format!("Directory not found: {}", root.display()));
    }
    let mut found: Vec<(SystemTime, PathBuf)> = Vec::new();
    let mut visited = 0usize;
    for entry in walker(&root) {
        visited += 1;
        let Ok(relative) = entry.path().strip_prefix(&root) else {
            continue;
        };
        if entry.depth() == 0 || !matcher.is_match(relative) {
            continue;
        }
        let modified = entry
            .metadata()
            .ok()
            .and_then(|m| m.modified().ok())
            .unwrap_or(SystemTime::UNIX_EPOCH);
        found.push((modified, entry.into_path()));
    }
    if found.is_empty() {
        return ToolResult::ok("No files found");
    }
    found.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.cmp(&b.1)));
    let total = found.len();
    let mut text = String::new();
    for (_, path) in found.iter().take(GLOB_MAX_RESULTS) {
        let _ = writeln!(text, "{}", path.display());
    }
    if total > GLOB_MAX_RESULTS {
        let _ = write!(
            text,
            "[Showing the {GLOB_MAX_RESULTS} newest of {total} matches; narrow the pattern or \
             the path to see the others.]"
        );
    }
    if visited >= WALK_MAX_ENTRIES {
        let _ = write!(
            text,
            "\n[The search stopped after visiting {WALK_MAX_ENTRIES} entries; give a narrower \
             `path`.]"
        );
    }
    ToolResult::ok(text.trim_end().to_owned())
}

pub fn grep(workdir: &Path, input: GrepInput) -> ToolResult {
    let regex = match regex::Regex::new(&input.pattern) {
        Ok(regex) => regex,
        Err(error) => return ToolResult::error(format!("Invalid regex: {error}")),
    };
    let root = input
        .path
        .as_deref()
        .map_or_else(|| workdir.to_path_buf(), |path| resolve(workdir, path));
    if !root.exists() {
        return ToolResult::error(format!("Path not found: {}", root.display()));
    }
    let mut text = String::new();
    let mut matches = 0usize;
    let mut visited = 0usize;
    'files: for entry in walker(&root) {
        visited += 1;
        if !entry.file_type().is_file() {
            continue;
        }
        let too_big = entry.metadata().map(|m| m.len() > GREP_MAX_FILE_BYTES);
        if too_big.unwrap_or(true) || looks_binary(entry.path()).unwrap_or(true) {
            continue;
        }
        let Ok(file) = std::fs::File::open(entry.path()) else {
            continue;
        };
        for (index, line) in BufReader::new(file).split(b'\n').enumerate() {
            let Ok(line) = line else { continue 'files };
            let line = String::from_utf8_lossy(&line);
            if !regex.is_match(&line) {
                continue;
            }
            matches += 1;
            if matches > GREP_MAX_MATCHES {
                break 'files;
            }
            let shown: String = line.chars().take(GREP_MAX_LINE_CHARS).collect();
            let _ = writeln!(text, "{}:{}:{}", entry.path().display(), index + 1, shown);
        }
    }
    if matches == 0 {
        return ToolResult::ok("No matches found");
    }
    if matches > GREP_MAX_MATCHES {
        let _ = write!(
            text,
            "[Showing the first {GREP_MAX_MATCHES} matching lines; there are more. Narrow the \
             pattern or the path.]"
        );
    }
    if visited >= WALK_MAX_ENTRIES {
        let _ = write!(
            text,
            "\n[The search stopped after visiting {WALK_MAX_ENTRIES} entries; give a narrower \
             `path`.]"
        );
    }
    ToolResult::ok(text.trim_end().to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn absolute_pattern_starts_at_its_literal_prefix() {
        let (root, rest) = split_pattern(Path::new("/w"), None, "/etc/apt/**/*.list");
        assert_eq!(root, Path::new("/etc/apt"));
        assert_eq!(rest, "**/*.list");
    }

    #[test]
    fn relative_pattern_starts_at_path_or_workdir() {
        let (root, rest) = split_pattern(Path::new("/w"), Some("src"), "**/*.rs");
        assert_eq!(root, Path::new("/w/src"));
        assert_eq!(rest, "**/*.rs");
    }
}
