//! The [`Remote`] trait and the command and output types it moves.

use std::fmt;
use std::path::Path;
use std::time::Duration;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::error::{output_tail, ControlError};

/// At most this many lines of output go into an error.
pub const TAIL_LINES: usize = 20;
/// At most this many bytes of output go into an error.
pub const TAIL_BYTES: usize = 4096;

/// What a command runs: a program with arguments, or a shell script.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Program {
    /// A program and its arguments; quoted for the shell when needed.
    Argv(Vec<String>),
    /// A script for `sh -c`.
    Shell(String),
}

/// A command to run on a node.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cmd {
    /// What to run.
    pub program: Program,
    /// Bytes written to the command's standard input (then closed); `None` gives it an empty
    /// standard input.
    pub stdin: Option<Vec<u8>>,
    /// The time limit; the command's process group is killed when it passes.
    pub timeout: Option<Duration>,
    /// Extra environment variables.
    pub env: Vec<(String, String)>,
    /// When true (the default), a non-zero exit is an error
    /// ([`ControlError::CommandFailed`]); when false it is returned in [`Output`].
    pub check: bool,
}

impl Cmd {
    /// A program with no arguments yet.
    pub fn new(program: impl Into<String>) -> Self {
        Self::from_program(Program::Argv(vec![program.into()]))
    }

    /// A shell script, run with `sh -c`.
    pub fn shell(script: impl Into<String>) -> Self {
        Self::from_program(Program::Shell(script.into()))
    }

    fn from_program(program: Program) -> Self {
        Cmd {
            program,
            stdin: None,
            timeout: None,
            env: Vec::new(),
            check: true,
        }
    }

    /// Appends an argument (for a shell script, appends it quoted).
    pub fn arg(mut self, arg: impl Into<String>) -> Self {
        let arg = arg.into();
        match &mut self.program {
            Program::Argv(argv) => argv.push(arg),
            Program::Shell(script) => {
                script.push(' ');
                script.push_str(&shell_quote(&arg));
            }
        }
        self
    }

    /// Appends several arguments.
    pub fn args<I, S>(self, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        args.into_iter().fold(self, |cmd, a| cmd.arg(a))
    }

    /// Sets the bytes fed to standard input.
    pub fn stdin(mut self, bytes: impl Into<Vec<u8>>) -> Self {
        self.stdin = Some(bytes.into());
        self
    }

    /// Sets the time limit.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// Adds an environment variable.
    pub fn env(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.env.push((key.into(), value.into()));
        self
    }

    /// Returns a non-zero exit in [`Output`] instead of failing.
    pub fn allow_failure(mut self) -> Self {
        self.check = false;
        self
    }

    /// The command as one shell script (without its environment).
    pub fn script(&self) -> String {
        match &self.program {
            Program::Shell(s) => s.clone(),
            Program::Argv(argv) => argv
                .iter()
                .map(|a| shell_quote(a))
                .collect::<Vec<_>>()
                .join(" "),
        }
    }
}

impl fmt::Display for Cmd {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (k, v) in &self.env {
            write!(f, "{k}={} ", shell_quote(v))?;
        }
        f.write_str(&self.script())
    }
}

/// What a finished command produced.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Output {
    /// The exit code; `None` when a signal ended the process.
    pub exit_code: Option<i32>,
    /// Everything written to standard output.
    pub stdout: Vec<u8>,
    /// Everything written to standard error.
    pub stderr: Vec<u8>,
}

impl Output {
    /// True when the command exited with code 0.
    pub fn success(&self) -> bool {
        self.exit_code == Some(0)
    }

    /// Standard output, lossily decoded, without trailing whitespace.
    pub fn stdout_str(&self) -> String {
        String::from_utf8_lossy(&self.stdout).trim_end().to_string()
    }

    /// The [`ControlError::CommandFailed`] describing this output.
    pub fn to_error(&self, node: &str, cmd: &Cmd) -> ControlError {
        ControlError::CommandFailed {
            node: node.to_string(),
            command: cmd.to_string(),
            exit_code: self.exit_code,
            stdout_tail: output_tail(&self.stdout, TAIL_LINES, TAIL_BYTES),
            stderr_tail: output_tail(&self.stderr, TAIL_LINES, TAIL_BYTES),
        }
    }

    /// `Ok(self)` unless `cmd.check` is set and the command failed.
    pub fn checked(self, node: &str, cmd: &Cmd) -> Result<Output, ControlError> {
        if cmd.check && !self.success() {
            Err(self.to_error(node, cmd))
        } else {
            Ok(self)
        }
    }
}

/// How rift reaches nodes: run commands, copy files in and out.
///
/// Implementations: [`crate::LocalCluster`] (network namespaces on this machine) and
/// [`crate::SshRemote`] (real machines over SSH). Paths on the node are absolute, or relative to the node's home directory.
#[async_trait]
pub trait Remote: Send + Sync {
    /// Runs `cmd` on `node` and waits for it. With `cmd.check` (the default) a non-zero exit is
    /// a [`ControlError::CommandFailed`] carrying the tail of both outputs.
    async fn exec(&self, node: &str, cmd: &Cmd) -> Result<Output, ControlError>;

    /// Copies the local file or directory `local` to `remote_path` on `node`.
    async fn upload(&self, node: &str, local: &Path, remote_path: &str)
        -> Result<(), ControlError>;

    /// Copies `remote_path` on `node` (a file or a directory) to the local path `local`.
    async fn download(
        &self,
        node: &str,
        remote_path: &str,
        local: &Path,
    ) -> Result<(), ControlError>;
}

/// Quotes `s` for a POSIX shell (unchanged when it only holds safe characters).
pub fn shell_quote(s: &str) -> String {
    let safe = |c: char| c.is_ascii_alphanumeric() || "-_./=:,+@%".contains(c);
    if !s.is_empty() && s.chars().all(safe) {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

/// A signal, by its name as `kill -s` takes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Signal {
    /// SIGKILL.
    Kill,
    /// SIGTERM.
    Term,
    /// SIGINT.
    Int,
    /// SIGHUP.
    Hup,
    /// SIGSTOP.
    Stop,
    /// SIGCONT.
    Cont,
}

impl Signal {
    /// The name `kill -s` takes (`KILL`, `TERM`...).
    pub fn name(self) -> &'static str {
        match self {
            Signal::Kill => "KILL",
            Signal::Term => "TERM",
            Signal::Int => "INT",
            Signal::Hup => "HUP",
            Signal::Stop => "STOP",
            Signal::Cont => "CONT",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting() {
        assert_eq!(shell_quote("abc-1.2/x"), "abc-1.2/x");
        assert_eq!(shell_quote(""), "''");
        assert_eq!(shell_quote("a b"), "'a b'");
        assert_eq!(shell_quote("it's"), r"'it'\''s'");
        assert_eq!(shell_quote("$HOME"), "'$HOME'");
    }

    #[test]
    fn scripts_and_display() {
        let c = Cmd::new("echo").arg("a b").arg("c").env("K", "v w");
        assert_eq!(c.script(), "echo 'a b' c");
        assert_eq!(c.to_string(), "K='v w' echo 'a b' c");
        let s = Cmd::shell("ls | wc -l").arg("x y");
        assert_eq!(s.script(), "ls | wc -l 'x y'");
        assert!(c.check);
        assert!(!c.allow_failure().check);
    }

    #[test]
    fn checked_output() {
        let cmd = Cmd::new("false");
        let out = Output {
            exit_code: Some(1),
            stdout: b"o\n".to_vec(),
            stderr: b"e\n".to_vec(),
        };
        match out.clone().checked("n1", &cmd) {
            Err(ControlError::CommandFailed {
                node,
                exit_code,
                stdout_tail,
                stderr_tail,
                ..
            }) => {
                assert_eq!(node, "n1");
                assert_eq!(exit_code, Some(1));
                assert_eq!(stdout_tail, "o\n");
                assert_eq!(stderr_tail, "e\n");
            }
            other => panic!("expected CommandFailed, got {other:?}"),
        }
        assert_eq!(
            out.clone().checked("n1", &cmd.allow_failure()).unwrap(),
            out
        );
    }
}
