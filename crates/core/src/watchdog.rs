//! The watchdog: restarts a database that crashed on its own, as the Bufstream suite's does.
//!
//! While the test runs, every `interval` the watchdog asks [`Db::is_running`] on each node and
//! calls [`Db::start`] where the answer is no. A node the nemesis killed on purpose must stay
//! down until the nemesis starts it: the nemesis calls [`Watchdog::suppress`] when it kills and
//! [`Watchdog::release`] when it starts. Restarts are logged and counted.

use crate::spec::TestInfo;
use crate::traits::Db;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

/// Shared between the runner (which runs it) and the nemesis (which suppresses it).
#[derive(Debug)]
pub struct Watchdog {
    interval: Duration,
    /// Log every check, not only restarts (jepsen.bufstream's `--debug-watchdog`).
    debug: bool,
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    suppressed: BTreeSet<String>,
    restarts: BTreeMap<String, u64>,
}

impl Watchdog {
    /// A watchdog that looks every `interval`.
    pub fn new(interval: Duration) -> Arc<Watchdog> {
        Watchdog::with_debug(interval, false)
    }

    /// A watchdog that, with `debug`, logs each node's state at every check.
    pub fn with_debug(interval: Duration, debug: bool) -> Arc<Watchdog> {
        Arc::new(Watchdog {
            interval,
            debug,
            state: Mutex::new(State::default()),
        })
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Leaves `node` alone (the nemesis killed it on purpose).
    pub fn suppress(&self, node: &str) {
        self.state().suppressed.insert(node.to_string());
    }

    /// Watches `node` again (the nemesis started it).
    pub fn release(&self, node: &str) {
        self.state().suppressed.remove(node);
    }

    /// Whether `node` is left alone now.
    pub fn is_suppressed(&self, node: &str) -> bool {
        self.state().suppressed.contains(node)
    }

    /// Restarts so far, per node.
    pub fn restarts(&self) -> BTreeMap<String, u64> {
        self.state().restarts.clone()
    }

    /// Watches until the task is aborted. A node whose check or start fails is tried again
    /// next round (the error is logged once per streak).
    pub async fn run(self: Arc<Self>, db: Arc<dyn Db>, test: Arc<TestInfo>) {
        let mut failing: BTreeSet<String> = BTreeSet::new();
        loop {
            tokio::time::sleep(self.interval).await;
            for node in &test.nodes {
                if self.is_suppressed(node) {
                    continue;
                }
                let running = db.is_running(&test, node).await;
                if self.debug {
                    match &running {
                        Ok(r) => tracing::info!(node, running = r, "watchdog check"),
                        Err(e) => tracing::info!(node, error = %e, "watchdog check"),
                    }
                }
                let outcome = match running {
                    Ok(true) => Ok(false),
                    Ok(false) if self.is_suppressed(node) => Ok(false),
                    Ok(false) => db.start(&test, node).await.map(|()| true),
                    Err(e) => Err(e),
                };
                match outcome {
                    Ok(restarted) => {
                        failing.remove(node);
                        if restarted {
                            *self.state().restarts.entry(node.clone()).or_insert(0) += 1;
                            tracing::warn!(node, "watchdog: the db was down; restarted it");
                        }
                    }
                    Err(e) => {
                        if failing.insert(node.clone()) {
                            tracing::warn!(node, error = %e, "watchdog could not check or restart the db");
                        }
                    }
                }
            }
        }
    }
}
