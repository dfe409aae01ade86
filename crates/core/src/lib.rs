//! # rift-core: the runner
//!
//! A [`Test`] names nodes, a [`Db`] (install/start/kill the system on a node), a [`Client`]
//! (how one logical process talks to it), a [`Nemesis`] (faults), a generator (what to run and
//! when) and a checker. [`run`] does what Jepsen's `jepsen.core/run!` does:
//!
//! 1. creates the run's store directory `store/<name>/<timestamp>/` and writes `test.json`;
//! 2. sets up the db on every node in parallel (a barrier: a node that fails or times out is
//!    named, and teardown still runs), the nemesis, and the client once per node;
//! 3. runs one worker per client thread (thread `i` bound to node `i mod n`) plus a nemesis
//!    worker, driven by the generator's scheduler. Every invocation and completion is appended
//!    to `history.jsonl` as it happens and flushed in chunks, so a killed run leaves a readable
//!    prefix; the runner keeps only in-flight ops in memory, whatever the history's length;
//! 4. applies the crash rule: a client error or a timeout completes the op as `info`, and the
//!    thread continues as process `p + concurrency` with a fresh client;
//! 5. on Ctrl-C or SIGTERM stops generating, waits for in-flight ops (a grace period; a second
//!    Ctrl-C stops waiting), records the rest as `info` with error `:interrupted`, and still
//!    writes the history and results (an interrupted run is at best `unknown`);
//! 6. tears down (nemesis heal, client teardown, db teardown: always, errors reported beside
//!    the verdict), copies node logs, writes `history.edn`, runs the checker, writes
//!    `results.json`.
//!
//! ```no_run
//! use rift_core::{mem::Bugs, workload, RunOptions};
//! use std::time::Duration;
//!
//! let opts = workload::WorkloadOptions {
//!     workload: "set".into(),
//!     rate_hz: 500.0,
//!     time_limit: Duration::from_secs(5),
//!     bugs: Bugs::default(),
//! };
//! let nodes = vec!["n1".to_string(), "n2".into(), "n3".into()];
//! let test = workload::mem_test(nodes, 6, 42, &opts, RunOptions::default()).unwrap();
//! let outcome = rift_core::run(test).unwrap();
//! println!("{:?} in {}", outcome.result.valid, outcome.dir.path().display());
//! ```
//!
//! Edge cases: `:sleep` and `:log` generator ops run on a worker but are not recorded; a client
//! that cannot connect makes its ops `fail` with `:no-client` (never sent, so definitely not
//! applied) until it can; a history write error stops nothing but fails the run at the end.
#![warn(missing_docs)]

mod interpreter;
pub mod log;
pub mod mem;
pub mod progress;
mod runner;
pub mod spec;
pub mod store;
pub mod traits;
pub mod watchdog;
mod worker;
pub mod workload;

pub use interpreter::{Interrupt, Stop};
pub use runner::{check_run, run, run_async, RunError, RunOutcome};
pub use spec::{parse_concurrency, RunOptions, Test, TestInfo};
pub use traits::{Client, Db, Nemesis, NoopDb, NoopNemesis, PlugResult, RiftError};
pub use watchdog::Watchdog;
