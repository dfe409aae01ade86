//! The shapes a system under test plugs into: [`Db`], [`Client`], [`Nemesis`], in Jepsen's form.

use crate::spec::TestInfo;
use async_trait::async_trait;
use rift_history::{Op, Value};
use std::fmt;
use std::path::PathBuf;

/// An error from a client, a db or a nemesis.
///
/// For a client, an error while invoking means the outcome is unknown: the runner records the
/// op as `info` (it may or may not have taken effect), applies the crash rule and opens a fresh
/// client. A client that knows an op definitely did not happen returns a `fail` completion
/// instead of an error.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RiftError {
    /// A short machine-readable kind, like `connection-refused` or `timeout`.
    pub kind: String,
    /// What happened.
    pub message: String,
}

impl RiftError {
    /// An error of a kind with a message.
    pub fn new(kind: impl Into<String>, message: impl Into<String>) -> RiftError {
        RiftError {
            kind: kind.into(),
            message: message.into(),
        }
    }

    /// The "this db or nemesis cannot do that" error.
    pub fn unsupported(what: &str) -> RiftError {
        RiftError::new("unsupported", format!("{what} is not supported here"))
    }
}

impl fmt::Display for RiftError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.kind, self.message)
    }
}

impl std::error::Error for RiftError {}

/// Result of the plug-in traits.
pub type PlugResult<T> = Result<T, RiftError>;

/// How to install, start, stop and inspect the system on one node (Jepsen's `jepsen.db/DB` plus
/// its optional protocols Kill, Pause, Primary, LogFiles). Setup and teardown run on every node
/// in parallel; the runner waits for all of them (a barrier with a timeout that names the node
/// that did not finish).
#[async_trait]
pub trait Db: Send + Sync {
    /// Installs and starts the system on `node`.
    async fn setup(&self, test: &TestInfo, node: &str) -> PlugResult<()>;
    /// Stops the system on `node` and removes its data. Always called, even after a failure.
    async fn teardown(&self, test: &TestInfo, node: &str) -> PlugResult<()>;
    /// Kills the system's processes on `node` (SIGKILL).
    async fn kill(&self, _test: &TestInfo, _node: &str) -> PlugResult<()> {
        Err(RiftError::unsupported("kill"))
    }
    /// Starts the system on `node` after a kill.
    async fn start(&self, _test: &TestInfo, _node: &str) -> PlugResult<()> {
        Err(RiftError::unsupported("start"))
    }
    /// Whether the database is running on `node` (the watchdog restarts it when not).
    async fn is_running(&self, _test: &TestInfo, _node: &str) -> PlugResult<bool> {
        Err(RiftError::unsupported("is_running"))
    }
    /// Pauses the system's processes on `node` (SIGSTOP).
    async fn pause(&self, _test: &TestInfo, _node: &str) -> PlugResult<()> {
        Err(RiftError::unsupported("pause"))
    }
    /// Resumes paused processes on `node` (SIGCONT).
    async fn resume(&self, _test: &TestInfo, _node: &str) -> PlugResult<()> {
        Err(RiftError::unsupported("resume"))
    }
    /// The nodes that currently lead (Jepsen's `primaries`).
    async fn primaries(&self, _test: &TestInfo) -> PlugResult<Vec<String>> {
        Err(RiftError::unsupported("primaries"))
    }
    /// Log files on `node` to copy into the store after the test.
    fn log_files(&self, _test: &TestInfo, _node: &str) -> Vec<PathBuf> {
        Vec::new()
    }
    /// Copies `node`'s log files into `dest` (a directory). The default copies the paths
    /// [`Db::log_files`] names from this machine's file system; a Db on remote machines
    /// downloads them (through its `Remote`). Returns the files it could not fetch, with why.
    async fn fetch_logs(&self, test: &TestInfo, node: &str, dest: &std::path::Path) -> Vec<String> {
        let mut failures = Vec::new();
        for file in self.log_files(test, node) {
            let Some(name) = file.file_name() else {
                continue;
            };
            let res =
                std::fs::create_dir_all(dest).and_then(|_| std::fs::copy(&file, dest.join(name)));
            if let Err(e) = res {
                failures.push(format!("{}: {e}", file.display()));
            }
        }
        failures
    }
}

/// How one logical process talks to the system (Jepsen's `jepsen.client/Client`).
///
/// The test holds one client as a template; [`Client::open`] makes a connected copy for a worker
/// and node. `setup` runs once per node before the workload, `teardown` once per node after it.
#[async_trait]
pub trait Client: Send + Sync {
    /// Connects to `node`, returning a fresh client.
    async fn open(&self, test: &TestInfo, node: &str) -> PlugResult<Box<dyn Client>>;
    /// Creates what the workload needs (tables, topics). Once per node.
    async fn setup(&mut self, _test: &TestInfo) -> PlugResult<()> {
        Ok(())
    }
    /// Applies an invocation and returns its completion: the same op with type `ok`, `fail`
    /// (definitely did not happen) or `info` (unknown), and the observed value. An `Err` is
    /// recorded as `info`.
    async fn invoke(&mut self, test: &TestInfo, op: &Op) -> PlugResult<Op>;
    /// Undoes `setup`. Once per node.
    async fn teardown(&mut self, _test: &TestInfo) -> PlugResult<()> {
        Ok(())
    }
    /// Closes the connection.
    async fn close(&mut self, _test: &TestInfo) -> PlugResult<()> {
        Ok(())
    }
}

/// Injects faults (Jepsen's `jepsen.nemesis/Nemesis`). Its ops run on the nemesis thread and are
/// recorded with process `:nemesis`; the completion usually has type `info` and says what was
/// done (`{:partitioned [...]}`).
#[async_trait]
pub trait Nemesis: Send {
    /// Prepares (e.g. checks that firewall tools exist).
    async fn setup(&mut self, _test: &TestInfo) -> PlugResult<()> {
        Ok(())
    }
    /// Applies a fault op and returns its completion.
    async fn invoke(&mut self, test: &TestInfo, op: &Op) -> PlugResult<Op>;
    /// Heals everything it did. Always called, even after a failure or Ctrl-C.
    async fn teardown(&mut self, _test: &TestInfo) -> PlugResult<()> {
        Ok(())
    }
    /// The `f`s this nemesis handles (Jepsen's Reflection), for validation and reports.
    fn fs(&self) -> Vec<String> {
        Vec::new()
    }
}

/// A nemesis that does nothing: every op completes `info` with its value unchanged.
#[derive(Clone, Copy, Debug, Default)]
pub struct NoopNemesis;

#[async_trait]
impl Nemesis for NoopNemesis {
    async fn invoke(&mut self, _test: &TestInfo, op: &Op) -> PlugResult<Op> {
        Ok(op.complete(rift_history::OpType::Info, op.value.clone()))
    }
}

/// A db with nothing to install (for systems started by hand, or in-process ones).
#[derive(Clone, Copy, Debug, Default)]
pub struct NoopDb;

#[async_trait]
impl Db for NoopDb {
    async fn setup(&self, _test: &TestInfo, _node: &str) -> PlugResult<()> {
        Ok(())
    }
    async fn teardown(&self, _test: &TestInfo, _node: &str) -> PlugResult<()> {
        Ok(())
    }
}

/// The `exception` map the runner attaches to an op whose client raised an error.
pub fn exception_value(e: &RiftError) -> Value {
    Value::Map(vec![
        (Value::kw("type"), Value::str(&e.kind)),
        (Value::kw("message"), Value::str(&e.message)),
    ])
}
