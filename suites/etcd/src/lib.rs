//! rift-etcd: the etcd suite. etcd runs as one member per node of the local cluster; clients
//! speak its gRPC API (the `etcd-client` crate); four workloads check it.
//!
//! # Concepts
//!
//! [`EtcdDb`] is the rift [`rift_core::Db`]. Setup finds etcd (`--bin PATH`, else `etcd` on
//! `PATH`, else `apt-get install -y etcd-server`, stopping the service Debian's package may
//! start on the host), wipes the member's data directory and starts the member with
//! `start_daemon`: named after its node, peer URL `http://ADDR:2380`, client URL
//! `http://ADDR:2379`, the `--initial-cluster` of every node, `--initial-cluster-state new`
//! and a token unique to the run. Setup returns once the member sees a leader. Kill is SIGKILL,
//! pause/resume SIGSTOP/SIGCONT; start after a kill runs the same command, and etcd, finding
//! its WAL, rejoins instead of bootstrapping. `primaries` asks every member for its status
//! (leader id) and member list (id -> name). Logs: `etcd.log` in each node's log directory.
//!
//! [`EtcdClient`] is the rift [`rift_core::Client`]; a client talks to its node's member only.
//! Workloads ([`EtcdWorkload`]):
//! - `register`: `[k v]` read/write/cas on `r/<k>`; cas is a txn comparing the value (a
//!   mismatch is `fail` with `:cas-mismatch`). Checked linearizable (cas-register).
//! - `set`: `add` puts `s/<v>`; `read` is one prefix range read of `s/`. Checked set-full.
//! - `append` and `wr`: Elle txns run optimistically ([`txn`]): a snapshot read of every key
//!   at one revision, then one etcd txn that commits only if no key's `mod_revision` moved,
//!   retried up to [`ClientOptions::max_txn_attempts`] times (then `fail`, `:txn-conflict`).
//!   Checked by Elle (list-append, rw-register) at strict-serializable.
//!
//! **Outcomes.** A definite error (the request was refused before it was proposed: gRPC
//! `InvalidArgument`, `NotFound`, `FailedPrecondition`, `ResourceExhausted`...) completes
//! `fail`; timeouts, `Unavailable`, `Unknown` and transport errors on writes are returned as
//! errors, which the runner records as `info`. A failed read is always `fail`: it changed
//! nothing. See [`classify`].
//!
//! **Serializable reads** ([`ClientOptions::serializable_reads`], off by default) make register
//! reads non-quorum: a member answers from its own state, so one cut off by a partition
//! serves stale values. This is etcd's documented weakening, and the register workload
//! catches it as non-linearizable.
//!
//! [`etcd_test`] builds a whole [`rift_core::Test`] (db, client, nemesis packages, generator,
//! checker) for a local cluster. [`EtcdSuite`] is the suite the `rift` CLI runs as `rift test
//! --db etcd` (its own options: [`EtcdArgs`], `--serializable-reads`, `--bin`, `--archive`), on
//! the local cluster or SSH nodes.
//!
//! # Example
//!
//! ```
//! use rift_etcd::{txn, EtcdWorkload};
//! use rift_history::Value;
//!
//! // An append txn against a snapshot in which key 1 holds [1 2]: reads see the snapshot and
//! // the txn's own appends; the commit would write [1,2,3].
//! let t = Value::Vector(vec![
//!     Value::Vector(vec![Value::kw("append"), 1.into(), 3.into()]),
//!     Value::Vector(vec![Value::kw("r"), 1.into(), Value::Nil]),
//! ]);
//! let mops = txn::parse_mops(&t, txn::TxnKind::Append).unwrap();
//! let snap = txn::Snapshot {
//!     revision: 7,
//!     keys: [(1, txn::Stored { mod_revision: 5, value: Some(b"[1,2]".to_vec()) })].into(),
//! };
//! let plan = txn::plan(txn::TxnKind::Append, &mops, &snap).unwrap();
//! assert_eq!(plan.completed.to_string(), "[[:append 1 3] [:r 1 [1 2 3]]]");
//! assert_eq!(plan.writes[&1], b"[1,2,3]".to_vec());
//! assert_eq!(EtcdWorkload::parse("wr"), Ok(EtcdWorkload::Wr));
//! ```
//!
//! # Edge cases
//!
//! - Connections are lazy: opening a client on a dead or paused member succeeds; its first
//!   request times out ([`ClientOptions::timeout`], 2 s by default).
//! - A read-only txn is not committed: its snapshot read (a linearizable txn of gets) is the
//!   whole transaction.
//! - A cas from a value on a missing key fails (`:cas-mismatch`): etcd's value compare on a
//!   missing key is false.
//! - `primaries` may name two leaders while an old leader cut off by a partition has not yet
//!   stepped down; members that do not answer within 1 s are skipped.
//! - The packaged service is recognised by its command line (the binary alone); a member of
//!   ours always carries flags, so it is never stopped by mistake.

#![warn(missing_docs)]

mod cli;
mod client;
mod db;
mod gen;
mod install;
mod suite;
pub mod txn;

pub use cli::{EtcdArgs, EtcdSuite, ETCD_WORKLOADS};
pub use client::{
    classify, ClientOptions, ClientStats, ErrorClass, EtcdClient, EtcdWorkload, APPEND_PREFIX,
    CONNECT_FAIL_PAUSE, REGISTER_PREFIX, SET_PREFIX, WR_PREFIX,
};
pub use db::{EtcdDb, EtcdOptions, CLIENT_PORT, DATA_SUBDIR, LOG_FILE, PEER_PORT, PID_FILE};
pub use gen::{checker, generator, list_append_generator, rw_register_generator, TxnGenOptions};
pub use install::{install_etcd, is_packaged_default, on_path, Installed, ETCD_PACKAGE};
pub use rift_control::NodeDirs;
pub use suite::{etcd_test, etcd_test_with, spec_json, EtcdTestOptions};

/// What can go wrong building or running the etcd suite.
#[derive(Debug, thiserror::Error)]
pub enum EtcdError {
    /// Bad options (unknown node, missing `--bin`, unknown fault...).
    #[error("config: {0}")]
    Config(String),
    /// Installing or finding etcd failed.
    #[error("install: {0}")]
    Install(String),
    /// A cluster command failed.
    #[error(transparent)]
    Control(#[from] rift_control::ControlError),
    /// The etcd client failed.
    #[error("etcd: {0}")]
    Etcd(#[from] etcd_client::Error),
    /// No answer in time.
    #[error("timed out: {0}")]
    Timeout(String),
}
