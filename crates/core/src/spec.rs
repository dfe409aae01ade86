//! The test spec: what to run, against what, for how long, checked how.

use crate::traits::{Client, Db, Nemesis};
use rift_checker::Checker;
use rift_generator::Gen;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// A test to run. Built by a workload (see [`crate::workload`]) or by hand.
pub struct Test {
    /// Name: the store directory is `store/<name>/<timestamp>/`.
    pub name: String,
    /// Node names (`n1`..`n5` on the local cluster).
    pub nodes: Vec<String>,
    /// Client threads. Thread `i` talks to node `i mod nodes.len()`.
    pub concurrency: u32,
    /// How to set up and tear down the system on each node.
    pub db: Arc<dyn Db>,
    /// The client template; each worker opens its own.
    pub client: Box<dyn Client>,
    /// The fault injector.
    pub nemesis: Box<dyn Nemesis>,
    /// The operations to run (clients and nemesis), including any time limit and final phase.
    pub generator: Gen,
    /// What to check the history against.
    pub checker: Box<dyn Checker>,
    /// The seed of every random choice (generator, faults, the in-memory system's bugs).
    pub seed: u64,
    /// Runner options.
    pub opts: RunOptions,
    /// What produced this test: workload name and options, stored in `test.json` so that
    /// `rift analyze` can rebuild the checker.
    pub spec: serde_json::Value,
    /// How plots shade fault periods, stored in `test.json` as `perf`: a list of
    /// `{"name", "start": [f...], "stop": [f...], "color"}`, one per fault package (null: none).
    pub perf: serde_json::Value,
    /// Restarts the database where it crashed on its own (None: no watchdog). Give the same
    /// watchdog to the nemesis so that nodes it kills stay down.
    pub watchdog: Option<Arc<crate::watchdog::Watchdog>>,
}

/// How the runner behaves, independent of the system under test.
#[derive(Clone, Debug)]
pub struct RunOptions {
    /// The store root (`./store` by default).
    pub store_root: PathBuf,
    /// The time limit of the workload, recorded in `test.json` (the generator enforces it).
    pub time_limit: Option<Duration>,
    /// An invocation running longer than this completes `info` with error `:timeout`.
    pub op_timeout: Duration,
    /// Setup and teardown of one node must finish within this.
    pub setup_timeout: Duration,
    /// The command line, for `test.json`.
    pub argv: Vec<String>,
    /// History writes are flushed to disk at least this often.
    pub flush_interval: Duration,
    /// Show a live progress line on stderr.
    pub progress: bool,
    /// After Ctrl-C, wait this long for in-flight ops before marking them `info`.
    pub interrupt_grace: Duration,
    /// Leave the database running after the test (Jepsen's `--leave-db-running`).
    pub leave_db_running: bool,
}

impl Default for RunOptions {
    fn default() -> RunOptions {
        RunOptions {
            store_root: PathBuf::from("store"),
            time_limit: None,
            op_timeout: Duration::from_secs(10),
            setup_timeout: Duration::from_secs(120),
            argv: Vec::new(),
            flush_interval: Duration::from_millis(200),
            progress: false,
            interrupt_grace: Duration::from_secs(5),
            leave_db_running: false,
        }
    }
}

/// What clients, dbs and nemeses see of the running test.
#[derive(Clone, Debug)]
pub struct TestInfo {
    /// Test name.
    pub name: String,
    /// Node names.
    pub nodes: Vec<String>,
    /// Client threads.
    pub concurrency: u32,
    /// The run's seed.
    pub seed: u64,
    /// This run's store directory.
    pub store_dir: PathBuf,
}

impl TestInfo {
    /// The node client thread `thread` is bound to (thread i -> node i mod n).
    pub fn node_for_thread(&self, thread: u32) -> &str {
        if self.nodes.is_empty() {
            return "";
        }
        &self.nodes[thread as usize % self.nodes.len()]
    }
}

/// Parses Jepsen's concurrency: `10` or `3n` (3 times the node count).
pub fn parse_concurrency(text: &str, node_count: usize) -> Result<u32, String> {
    let t = text.trim();
    let (num, per_node) = match t.strip_suffix('n') {
        Some(n) => (n, true),
        None => (t, false),
    };
    let n: u32 = num
        .parse()
        .map_err(|_| format!("concurrency {text:?}: expected a number like 10 or 3n"))?;
    let total = if per_node {
        n.checked_mul(node_count as u32)
            .ok_or_else(|| format!("concurrency {text:?} is too large"))?
    } else {
        n
    };
    if total == 0 {
        return Err(format!("concurrency {text:?} gives no client threads"));
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn concurrency_forms() {
        assert_eq!(parse_concurrency("10", 5), Ok(10));
        assert_eq!(parse_concurrency("3n", 5), Ok(15));
        assert_eq!(parse_concurrency("1n", 1), Ok(1));
        assert!(parse_concurrency("0", 5).is_err());
        assert!(parse_concurrency("xn", 5).unwrap_err().contains("3n"));
        assert!(parse_concurrency("", 5).is_err());
    }
}
