//! Every cap and timeout of the toolset, in one place so they are easy to find, document and
//! test. Owns numbers only.

/// `bash` timeout when the call gives none.
pub const BASH_DEFAULT_TIMEOUT_MS: u64 = 120_000;
/// Largest `timeout_ms` a call may ask for; larger values are clamped to it.
pub const BASH_MAX_TIMEOUT_MS: u64 = 600_000;
/// Shortest timeout honoured: a smaller `timeout_ms` (models sometimes send `1`) is raised to
/// it, so a command is never killed before it could start.
pub const BASH_MIN_TIMEOUT_MS: u64 = 1_000;
/// Bytes of `bash` output returned; beyond this the middle is dropped (head and tail kept)
/// and a note says how many bytes were dropped.
pub const BASH_OUTPUT_CAP_BYTES: usize = 50 * 1024;
/// How often a waiting `bash` call checks for cancellation and its deadline.
pub const BASH_POLL_INTERVAL_MS: u16 = 20;

/// Lines `read` returns without a `view_range` (and at most per call).
pub const READ_MAX_LINES: usize = 2000;
/// Characters of one line that `read` shows; longer lines are cut with a marker.
pub const READ_MAX_LINE_CHARS: usize = 2000;
/// Bytes `read` returns in total; beyond this it stops and says where.
pub const READ_MAX_BYTES: usize = 256 * 1024;
/// Bytes examined to decide whether a file is binary (a NUL byte means binary).
pub const BINARY_SNIFF_BYTES: usize = 8 * 1024;

/// Largest file `edit` will load.
pub const EDIT_MAX_FILE_BYTES: u64 = 16 * 1024 * 1024;

/// Paths `glob` returns (newest first); a note says when there were more.
pub const GLOB_MAX_RESULTS: usize = 100;
/// Directory entries `glob` and `grep` visit before giving up with a note.
pub const WALK_MAX_ENTRIES: usize = 200_000;

/// Matching lines `grep` returns; a note says when there were more.
pub const GREP_MAX_MATCHES: usize = 200;
/// Characters of a matching line that `grep` shows.
pub const GREP_MAX_LINE_CHARS: usize = 500;
/// Files larger than this are skipped by `grep`.
pub const GREP_MAX_FILE_BYTES: u64 = 10 * 1024 * 1024;
