//! `read`, `write` and `edit`: plain file operations inside the sandbox's file system. Owns
//! their error messages and caps; paths resolve against the working directory.

use std::fmt::Write as _;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;

use crate::input::{EditInput, ReadInput, WriteInput};
use crate::limits::{
    BINARY_SNIFF_BYTES, EDIT_MAX_FILE_BYTES, READ_MAX_BYTES, READ_MAX_LINE_CHARS, READ_MAX_LINES,
};
use crate::{ToolResult, resolve};

/// Describes why a path cannot be read as a text file, or `None` when it can.
fn unreadable_reason(path: &Path, shown: &str) -> Option<String> {
    match std::fs::metadata(path) {
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
            Some(format!("File not found: {shown}"))
        }
        Err(error) => Some(format!("Cannot access {shown}: {error}")),
        Ok(meta) if meta.is_dir() => Some(format!(
            "{shown} is a directory, not a file; use `glob` or `bash ls` to list it."
        )),
        Ok(_) => None,
    }
}

/// True when the first bytes of the file contain a NUL byte.
pub fn looks_binary(path: &Path) -> std::io::Result<bool> {
    let mut file = std::fs::File::open(path)?;
    let mut sniff = vec![0u8; BINARY_SNIFF_BYTES];
    let mut filled = 0;
    while filled < sniff.len() {
        match file.read(&mut sniff[filled..])? {
            0 => break,
            n => filled += n,
        }
    }
    Ok(sniff[..filled].contains(&0))
}

pub fn read(workdir: &Path, input: ReadInput) -> ToolResult {
    let path = resolve(workdir, &input.file_path);
    if let Some(reason) = unreadable_reason(&path, &input.file_path) {
        return ToolResult::error(reason);
    }
    match looks_binary(&path) {
        Ok(true) => {
            let size = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
            return ToolResult::error(format!(
                "{} is a binary file ({size} bytes); its contents are not shown. Use `bash` \
                 (e.g. `file`, `xxd | head`) to inspect it.",
                input.file_path
            ));
        }
        Ok(false) => {}
        Err(error) => {
            return ToolResult::error(format!("Cannot read {}: {error}", input.file_path));
        }
    }
    let (start, end) = match input.view_range {
        None => (1, None),
        Some([start, _]) if start < 1 => {
            return ToolResult::error(format!(
                "Invalid `view_range`: start line {start} must be 1 or more."
            ));
        }
        Some([start, end]) if end > 0 && end < start => {
            return ToolResult::error(format!(
                "Invalid `view_range`: end line {end} is before start line {start}."
            ));
        }
        Some([start, end]) => (start as usize, (end > 0).then_some(end as usize)),
    };
    match render_lines(&path, start, end) {
        Ok(text) => ToolResult::ok(text),
        Err(error) if error.kind() == std::io::ErrorKind::InvalidInput => {
            ToolResult::error(error.to_string())
        }
        Err(error) => ToolResult::error(format!("Cannot read {}: {error}", input.file_path)),
    }
}

/// Numbers lines `start..=end` like `cat -n`, within the read caps.
fn render_lines(path: &Path, start: usize, end: Option<usize>) -> std::io::Result<String> {
    let reader = BufReader::new(std::fs::File::open(path)?);
    let mut text = String::new();
    let mut shown = 0usize;
    let mut line_number = 0usize;
    let mut stopped_at = None;
    for line in reader.split(b'\n') {
        let line = line?;
        line_number += 1;
        if line_number < start {
            continue;
        }
        if end.is_some_and(|end| line_number > end) {
            break;
        }
        if shown >= READ_MAX_LINES || text.len() >= READ_MAX_BYTES {
            stopped_at = Some(line_number);
            break;
        }
        let line = String::from_utf8_lossy(&line);
        let line = line.strip_suffix('\r').unwrap_or(&line);
        let _ = write!(text, "{line_number:>6}\t");
        match line.char_indices().nth(READ_MAX_LINE_CHARS) {
            Some((cut, _)) => {
                text.push_str(&line[..cut]);
                text.push_str(" [... line truncated]");
            }
            None => text.push_str(line),
        }
        text.push('\n');
        shown += 1;
    }
    if line_number < start && start > 1 {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            format!(
                "`view_range` starts at line {start} but the file has only {line_number} lines."
            ),
        ));
    }
    if let Some(next) = stopped_at {
        let _ = write!(
            text,
            "[Output capped at {shown} lines / {READ_MAX_BYTES} bytes; the file continues at \
             line {next}. Use `view_range` to read further.]"
        );
    } else if text.is_empty() {
        text.push_str("(empty file)");
    }
    Ok(text)
}

pub fn write(workdir: &Path, input: WriteInput) -> ToolResult {
    let path = resolve(workdir, &input.file_path);
    if path.is_dir() {
        return ToolResult::error(format!("{} is a directory.", input.file_path));
    }
    if let Some(parent) = path.parent()
        && let Err(error) = std::fs::create_dir_all(parent)
    {
        return ToolResult::error(format!(
            "Cannot create the directory {}: {error}",
            parent.display()
        ));
    }
    match std::fs::write(&path, input.content.as_bytes()) {
        Ok(()) => ToolResult::ok(format!(
            "Wrote {} bytes to {}.",
            input.content.len(),
            input.file_path
        )),
        Err(error) => ToolResult::error(format!("Cannot write {}: {error}", input.file_path)),
    }
}

pub fn edit(workdir: &Path, input: EditInput) -> ToolResult {
    let path = resolve(workdir, &input.file_path);
    if let Some(reason) = unreadable_reason(&path, &input.file_path) {
        return ToolResult::error(reason);
    }
    if input.old_string.is_empty() {
        return ToolResult::error("`old_string` is empty; give the exact text to replace.");
    }
    if input.old_string == input.new_string {
        return ToolResult::error(
            "`old_string` and `new_string` are identical; nothing to change.",
        );
    }
    match std::fs::metadata(&path) {
        Ok(meta) if meta.len() > EDIT_MAX_FILE_BYTES => {
            return ToolResult::error(format!(
                "{} is {} bytes, larger than the {EDIT_MAX_FILE_BYTES}-byte edit limit; use `bash` \
                 (e.g. sed) instead.",
                input.file_path,
                meta.len()
            ));
        }
        _ => {}
    }
    let content = match std::fs::read(&path).map(String::from_utf8) {
        Ok(Ok(content)) => content,
        Ok(Err(_)) => {
            return ToolResult::error(format!(
                "{} is not valid UTF-8 text; use `bash` to change it.",
                input.file_path
            ));
        }
        Err(error) => {
            return ToolResult::error(format!("Cannot read {}: {error}", input.file_path));
        }
    };
    let matches = content.matches(&input.old_string).count();
    if matches == 0 {
        return ToolResult::error(format!(
            "`old_string` was not found in {} (0 matches); it must match the file exactly, \
             including whitespace and indentation.",
            input.file_path
        ));
    }
    if matches > 1 && !input.replace_all {
        return ToolResult::error(format!(
            "`old_string` matches {matches} times in {}; add surrounding context so it matches \
             exactly once, or set `replace_all: true`.",
            input.file_path
        ));
    }
    let updated = if input.replace_all {
        content.replace(&input.old_string, &input.new_string)
    } else {
        content.replacen(&input.old_string, &input.new_string, 1)
    };
    match std::fs::write(&path, updated) {
        Ok(()) => ToolResult::ok(format!(
            "Edited {}: replaced {matches} occurrence{}.",
            input.file_path,
            if matches == 1 { "" } else { "s" }
        )),
        Err(error) => ToolResult::error(format!("Cannot write {}: {error}", input.file_path)),
    }
}
