//! The error type of this crate.

use std::path::PathBuf;

/// The message given to a user who lacks the privileges a local cluster needs.
pub const NEEDS_ROOT_MESSAGE: &str = "creating network namespaces needs root (or CAP_NET_ADMIN + CAP_SYS_ADMIN): run rift as root or with sudo";

/// Everything that can go wrong while controlling nodes.
#[derive(Debug, thiserror::Error)]
pub enum ControlError {
    /// The process lacks the privileges to build or change a local cluster.
    #[error("{NEEDS_ROOT_MESSAGE} (while {action})")]
    NeedsRoot {
        /// What rift was trying to do.
        action: String,
    },
    /// A command ran and exited unsuccessfully (or was killed by a signal).
    #[error(
        "command failed on {node} (exit code {}): {command}\n--- stdout (tail) ---\n{stdout_tail}\n--- stderr (tail) ---\n{stderr_tail}",
        exit_code.map_or_else(|| "none: killed by a signal".to_string(), |c| c.to_string())
    )]
    CommandFailed {
        /// The node the command ran on (`localhost` for host-side commands).
        node: String,
        /// The command as a shell string.
        command: String,
        /// The exit code, `None` when a signal ended the process.
        exit_code: Option<i32>,
        /// The last lines (at most 20 lines, 4 KB) of standard output.
        stdout_tail: String,
        /// The last lines (at most 20 lines, 4 KB) of standard error.
        stderr_tail: String,
    },
    /// A command or a wait did not finish in time.
    #[error("timed out after {timeout_ms} ms on {node}: {what}")]
    Timeout {
        /// The node concerned.
        node: String,
        /// The command or condition waited for.
        what: String,
        /// The time limit, in milliseconds.
        timeout_ms: u64,
    },
    /// A local I/O operation failed.
    #[error("{context}: {source}")]
    Io {
        /// What was being done, with the path concerned.
        context: String,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// The node is not part of this cluster.
    #[error("unknown node {node:?} (known: {known})")]
    UnknownNode {
        /// The name asked for.
        node: String,
        /// The known node names, comma separated.
        known: String,
    },
    /// A cluster with this prefix already exists.
    #[error(
        "a cluster with prefix {prefix:?} already exists ({what}): run `rift cluster down` first"
    )]
    AlreadyUp {
        /// The name prefix.
        prefix: String,
        /// The object found.
        what: String,
    },
    /// The cluster state file is missing or unreadable.
    #[error("cluster state file {}: {detail}", path.display())]
    State {
        /// The state file.
        path: PathBuf,
        /// What is wrong with it.
        detail: String,
    },
    /// The configuration cannot work (bad prefix, too many nodes...).
    #[error("invalid cluster configuration: {0}")]
    InvalidConfig(String),
    /// Something a run needs on this machine is missing or could not be built.
    #[error("{0}")]
    Prerequisite(String),
    /// Teardown tried everything but some objects could not be removed.
    #[error("teardown left objects behind:\n  {}", failures.join("\n  "))]
    Teardown {
        /// One line per object that could not be removed, with the reason.
        failures: Vec<String>,
    },
}

impl ControlError {
    /// Builds an [`ControlError::Io`] with its context.
    pub(crate) fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        ControlError::Io {
            context: context.into(),
            source,
        }
    }
}

/// The tail of a command's output: at most `max_lines` lines and `max_bytes` bytes, lossily
/// decoded as UTF-8, with a marker when something was cut.
pub fn output_tail(bytes: &[u8], max_lines: usize, max_bytes: usize) -> String {
    let mut start = bytes.len().saturating_sub(max_bytes);
    let trimmed = bytes.strip_suffix(b"\n").unwrap_or(bytes);
    let mut lines = 0;
    for (i, b) in trimmed.iter().enumerate().rev() {
        if i < start {
            break;
        }
        if *b == b'\n' {
            lines += 1;
            if lines == max_lines {
                start = i + 1;
                break;
            }
        }
    }
    let tail = String::from_utf8_lossy(&bytes[start..]).into_owned();
    if start > 0 {
        format!("[... {start} bytes cut]\n{tail}")
    } else {
        tail
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tail_keeps_short_output_whole() {
        assert_eq!(output_tail(b"a\nb\n", 20, 4096), "a\nb\n");
        assert_eq!(output_tail(b"", 20, 4096), "");
    }

    #[test]
    fn tail_cuts_lines() {
        let text: String = (1..=30).map(|i| format!("line{i}\n")).collect();
        let tail = output_tail(text.as_bytes(), 20, 4096);
        let expected_cut = (1..=10).map(|i| format!("line{i}\n").len()).sum::<usize>();
        assert!(tail.starts_with(&format!("[... {expected_cut} bytes cut]\nline11\n")));
        assert!(tail.ends_with("line30\n"));
        assert_eq!(tail.lines().count(), 21);
    }

    #[test]
    fn tail_cuts_bytes() {
        let text = vec![b'x'; 10_000];
        let tail = output_tail(&text, 20, 4096);
        assert_eq!(tail, format!("[... 5904 bytes cut]\n{}", "x".repeat(4096)));
    }

    #[test]
    fn needs_root_message_says_what_to_do() {
        let e = ControlError::NeedsRoot {
            action: "building a local cluster".into(),
        };
        assert_eq!(
            e.to_string(),
            "creating network namespaces needs root (or CAP_NET_ADMIN + CAP_SYS_ADMIN): \
             run rift as root or with sudo (while building a local cluster)"
        );
    }

    #[test]
    fn failed_command_message_names_everything() {
        let e = ControlError::CommandFailed {
            node: "n2".into(),
            command: "false".into(),
            exit_code: Some(1),
            stdout_tail: "out".into(),
            stderr_tail: "err".into(),
        };
        let msg = e.to_string();
        assert!(msg.starts_with("command failed on n2 (exit code 1): false\n"));
        assert!(msg.contains("out") && msg.contains("err"));
    }
}
