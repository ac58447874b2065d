//! The persistent `bash` shell of a sandbox: one `bash` process whose working directory and
//! environment persist across calls. Owns the shell process, its pipes, timeouts and output
//! capping; knows nothing about how calls arrive.
//!
//! Protocol with the shell (no extra process per call): we write
//! `IFS= LC_ALL=C read -r -N <len> __hangar_cmd`, the command's bytes, then an `eval` of it
//! with stdin from `/dev/null`, then a `printf` of an end marker carrying `$?` and `$PWD`.
//! bash reads a pipe one byte at a time, so `read -N` takes exactly the command and nothing
//! else; quoting, heredocs and syntax errors in the command cannot confuse the framing.
//! stdout and stderr are the same pipe, so output is interleaved exactly as written.
//!
//! On timeout or cancellation the shell's whole process group is killed and the shell is
//! restarted on the next call in the last known working directory (its environment resets).

use std::io::{Read, Write};
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use rustix::event::{PollFd, PollFlags, poll};
use rustix::process::{Pid, Signal, kill_process_group};

use crate::ToolResult;
use crate::input::BashInput;
use crate::limits::{
    BASH_DEFAULT_TIMEOUT_MS, BASH_MAX_TIMEOUT_MS, BASH_MIN_TIMEOUT_MS, BASH_OUTPUT_CAP_BYTES,
    BASH_POLL_INTERVAL_MS,
};

/// `oom_score_adj` of the shell and its children, so a memory hog is killed rather than
/// the sandbox's init agent.
pub const WORKLOAD_OOM_SCORE_ADJ: i32 = 500;

/// Where the shell lives between calls: absent until first used, or after it was killed.
pub struct ShellSlot {
    shell: Option<Shell>,
    /// The working directory the next shell starts in (the last one reported).
    cwd: PathBuf,
}

struct Shell {
    child: Child,
    stdin: ChildStdin,
    output: std::io::PipeReader,
    marker: String,
}

/// How waiting for a command ended.
enum Ending {
    Finished { exit_code: i32, cwd: String },
    TimedOut,
    Cancelled,
    ShellExited,
}

impl ShellSlot {
    pub fn new(cwd: PathBuf) -> Self {
        ShellSlot { shell: None, cwd }
    }

    /// Runs one `bash` call to completion (or timeout / cancellation).
    pub fn run(
        &mut self,
        input: BashInput,
        env: &[(String, String)],
        cancel: &AtomicBool,
    ) -> ToolResult {
        if input.restart {
            self.kill();
            if input.command.is_none() {
                return ToolResult::ok("The shell was restarted.");
            }
        }
        let Some(command) = input.command else {
            return ToolResult::error(
                "Invalid input for `bash`: give `command`, or `restart: true` to restart the shell.",
            );
        };
        if command.contains('\0') {
            return ToolResult::error("Invalid input for `bash`: `command` contains a NUL byte.");
        }
        let timeout_ms = input
            .timeout_ms
            .unwrap_or(BASH_DEFAULT_TIMEOUT_MS)
            .clamp(BASH_MIN_TIMEOUT_MS, BASH_MAX_TIMEOUT_MS);
        if let Err(error) = self.ensure_started(env) {
            return ToolResult::error(format!("Could not start bash: {error}"));
        }
        let deadline = Instant::now() + Duration::from_millis(timeout_ms);
        let mut output = CappedOutput::new(BASH_OUTPUT_CAP_BYTES);
        let ending = match self.shell.as_mut() {
            Some(shell) => shell.execute(&command, deadline, cancel, &mut output),
            None => Ending::ShellExited,
        };
        self.report(ending, output, timeout_ms)
    }

    /// Starts the shell unless it runs.
    pub fn ensure_started(&mut self, env: &[(String, String)]) -> std::io::Result<()> {
        if self.shell.is_none() {
            self.shell = Some(Shell::start(&self.cwd, env)?);
        }
        Ok(())
    }

    fn report(&mut self, ending: Ending, output: CappedOutput, timeout_ms: u64) -> ToolResult {
        let mut text = output.render();
        let note = |text: &mut String, line: &str| {
            if !text.is_empty() && !text.ends_with('\n') {
                text.push('\n');
            }
            text.push_str(line);
        };
        match ending {
            Ending::Finished { exit_code, cwd } => {
                self.cwd = PathBuf::from(cwd);
                if exit_code != 0 {
                    note(&mut text, &format!("[exit code: {exit_code}]"));
                } else if text.is_empty() {
                    text.push_str("(no output)");
                }
                ToolResult::ok(text)
            }
            Ending::TimedOut => {
                self.kill();
                note(
                    &mut text,
                    &format!(
                        "[The command timed out after {timeout_ms} ms and was killed. The shell \
                         was restarted: the working directory is kept, environment variables \
                         set in the shell are reset.]"
                    ),
                );
                ToolResult::error(text)
            }
            Ending::Cancelled => {
                self.kill();
                note(
                    &mut text,
                    "[The command was cancelled and killed. The shell was restarted: the \
                     working directory is kept, environment variables set in the shell are \
                     reset.]",
                );
                ToolResult::error(text)
            }
            Ending::ShellExited => {
                self.kill();
                note(
                    &mut text,
                    "[The shell exited (for example through `exit`); a new shell starts on the \
                     next call in the same working directory.]",
                );
                ToolResult::error(text)
            }
        }
    }

    /// Kills the shell and everything in its process group.
    pub fn kill(&mut self) {
        if let Some(mut shell) = self.shell.take() {
            shell.kill();
            // Reaping may race with a PID 1 reaper (the sandbox init); either way is fine.
            let _ = shell.child.try_wait();
        }
    }
}

impl Drop for ShellSlot {
    fn drop(&mut self) {
        self.kill();
    }
}

impl Shell {
    fn start(cwd: &std::path::Path, env: &[(String, String)]) -> std::io::Result<Shell> {
        let (output, writer) = std::io::pipe()?;
        let stderr = writer.try_clone()?;
        let cwd = if cwd.is_dir() {
            cwd.to_path_buf()
        } else {
            PathBuf::from("/")
        };
        let mut child = Command::new("bash")
            .args(["--noprofile", "--norc"])
            .env_clear()
            .envs(env.iter().map(|(k, v)| (k, v)))
            .current_dir(cwd)
            .stdin(Stdio::piped())
            .stdout(writer)
            .stderr(stderr)
            // Own process group, so a timeout kills the command's whole tree at once.
            .process_group(0)
            .spawn()?;
        // Make the shell and everything it starts the OOM killer's first choice, ahead of
        // the sandbox's init agent (lowering the agent's score would need CAP_SYS_RESOURCE;
        // raising our own needs nothing). Best effort.
        let _ = std::fs::write(
            format!("/proc/{}/oom_score_adj", child.id()),
            WORKLOAD_OOM_SCORE_ADJ.to_string(),
        );
        let stdin = child
            .stdin
            .take()
            .ok_or_else(|| std::io::Error::other("bash has no stdin pipe"))?;
        Ok(Shell {
            child,
            stdin,
            output,
            marker: format!("__HANGAR_END_{}__", unique_token()),
        })
    }

    fn kill(&mut self) {
        if let Some(pid) = Pid::from_raw(self.child.id() as i32) {
            let _ = kill_process_group(pid, Signal::KILL);
        }
        let _ = self.child.kill();
    }

    fn execute(
        &mut self,
        command: &str,
        deadline: Instant,
        cancel: &AtomicBool,
        output: &mut CappedOutput,
    ) -> Ending {
        let script = format!(
            "IFS= LC_ALL=C read -r -N {len} __hangar_cmd\n{command}eval \"$__hangar_cmd\" \
             </dev/null\nprintf '\\n{marker} %d %s\\n' \"$?\" \"$PWD\"\n",
            len = command.len(),
            marker = self.marker,
        );
        if self.stdin.write_all(script.as_bytes()).is_err() {
            return Ending::ShellExited;
        }
        let mut scanner = MarkerScanner::new(format!("\n{} ", self.marker));
        let mut buffer = vec![0u8; 16 * 1024];
        loop {
            if cancel.load(Ordering::Relaxed) {
                return Ending::Cancelled;
            }
            let now = Instant::now();
            if now >= deadline {
                return Ending::TimedOut;
            }
            let wait = (deadline - now).min(Duration::from_millis(BASH_POLL_INTERVAL_MS.into()));
            let mut fds = [PollFd::new(&self.output, PollFlags::IN)];
            let timeout = rustix::event::Timespec {
                tv_sec: 0,
                tv_nsec: wait.as_nanos() as i64,
            };
            match poll(&mut fds, Some(&timeout)) {
                Ok(0) => continue,
                Ok(_) => {}
                Err(rustix::io::Errno::INTR) => continue,
                Err(_) => return Ending::ShellExited,
            }
            let read = match self.output.read(&mut buffer) {
                Ok(0) | Err(_) => {
                    output.push(scanner.flush());
                    return Ending::ShellExited;
                }
                Ok(read) => read,
            };
            if let Some((exit_code, cwd)) = scanner.feed(&buffer[..read], output) {
                return Ending::Finished { exit_code, cwd };
            }
        }
    }
}

/// Finds the end marker in the stream while passing everything before it to the output,
/// holding back only the bytes that might be the start of the marker.
struct MarkerScanner {
    marker: Vec<u8>,
    pending: Vec<u8>,
}

impl MarkerScanner {
    fn new(marker: String) -> Self {
        MarkerScanner {
            marker: marker.into_bytes(),
            pending: Vec::new(),
        }
    }

    /// Returns `(exit code, cwd)` once the whole marker line has arrived.
    fn feed(&mut self, data: &[u8], output: &mut CappedOutput) -> Option<(i32, String)> {
        self.pending.extend_from_slice(data);
        if let Some(at) = find(&self.pending, &self.marker) {
            let rest = &self.pending[at + self.marker.len()..];
            let end = rest.iter().position(|&b| b == b'\n')?;
            let line = String::from_utf8_lossy(&rest[..end]).into_owned();
            let (code, cwd) = line.split_once(' ').unwrap_or((line.as_str(), "/"));
            let exit_code = code.trim().parse().unwrap_or(-1);
            output.push(&self.pending[..at]);
            self.pending.clear();
            return Some((exit_code, cwd.to_owned()));
        }
        // Keep a tail long enough to hold a partial marker; pass the rest on.
        let keep = self.marker.len().min(self.pending.len());
        let cut = self.pending.len() - keep;
        output.push(&self.pending[..cut]);
        self.pending.drain(..cut);
        None
    }

    fn flush(&mut self) -> &[u8] {
        &self.pending
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// Output kept within a byte cap: the head and the tail are kept, the middle is counted.
pub struct CappedOutput {
    cap: usize,
    head: Vec<u8>,
    tail: std::collections::VecDeque<u8>,
    dropped: usize,
}

impl CappedOutput {
    pub fn new(cap: usize) -> Self {
        CappedOutput {
            cap,
            head: Vec::new(),
            tail: std::collections::VecDeque::new(),
            dropped: 0,
        }
    }

    pub fn push(&mut self, mut data: &[u8]) {
        let head_cap = self.cap / 2;
        if self.head.len() < head_cap {
            let take = (head_cap - self.head.len()).min(data.len());
            self.head.extend_from_slice(&data[..take]);
            data = &data[take..];
        }
        self.tail.extend(data);
        let tail_cap = self.cap - head_cap;
        if self.tail.len() > tail_cap {
            let excess = self.tail.len() - tail_cap;
            self.tail.drain(..excess);
            self.dropped += excess;
        }
    }

    pub fn render(&self) -> String {
        let mut text = String::from_utf8_lossy(&self.head).into_owned();
        if self.dropped > 0 {
            if !text.ends_with('\n') {
                text.push('\n');
            }
            text.push_str(&format!(
                "[... output truncated: {} bytes dropped from the middle; {} bytes kept ...]\n",
                self.dropped, self.cap
            ));
        }
        let tail: Vec<u8> = self.tail.iter().copied().collect();
        text.push_str(&String::from_utf8_lossy(&tail));
        text
    }
}

/// A token that is unique enough to never collide with command output by accident.
fn unique_token() -> String {
    let mut bytes = [0u8; 8];
    let from_urandom = std::fs::File::open("/dev/urandom")
        .and_then(|mut file| file.read_exact(&mut bytes))
        .is_ok();
    if !from_urandom {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default();
        bytes = ((nanos as u64) ^ u64::from(std::process::id()).rotate_left(32)).to_le_bytes();
    }
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn capped_output_keeps_head_and_tail_and_counts_the_middle() {
        let mut output = CappedOutput::new(10);
        output.push(b"0123456789abcdefghij");
        let text = output.render();
        assert!(text.starts_with("01234"), "{text}");
        assert!(text.ends_with("fghij"), "{text}");
        assert!(text.contains("10 bytes dropped"), "{text}");
    }

    #[test]
    fn small_output_is_untouched() {
        let mut output = CappedOutput::new(100);
        output.push(b"hello\n");
        assert_eq!(output.render(), "hello\n");
    }

    #[test]
    fn marker_split_across_reads_is_found() {
        let mut output = CappedOutput::new(1000);
        let mut scanner = MarkerScanner::new("\n__M__ ".into());
        assert!(scanner.feed(b"hi\n__M", &mut output).is_none());
        assert_eq!(
            scanner.feed(b"__ 3 /tmp\n", &mut output),
            Some((3, "/tmp".into()))
        );
        assert_eq!(output.render(), "hi");
    }
}
