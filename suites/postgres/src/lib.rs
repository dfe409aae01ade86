//! rift-postgres: `rift test --db postgres`, Jepsen's PostgreSQL tests on Debian's
//! PostgreSQL, on the local cluster.
//!
//! - [`db`]: a primary on n1 and streaming replicas on the next nodes (`--replicas N`), each
//!   node with its own data directory, run as the postgres user; logs into the store.
//! - [`client`]: tokio-postgres, every operation one explicit transaction at `--isolation`;
//!   its error table says which errors are `fail` and which `info`.
//! - Workloads: `append` and `wr` (Elle's list-append and rw-register, 1 to 4 micro-ops),
//!   `register` (linearizable registers, independent keys) and `bank`.
//! - [`checker`]: Elle at `--consistency-models` (default: what the level promises), the
//!   linearizability and bank checkers, and a summary of throughput, the checker's time and
//!   whether the expected model held.
//! - Faults: kill and pause (of any node, or `kill-primary`, `pause-primary`), partitions
//!   (primary from replicas), clock; `--replica-reads` sends read-only transactions to the
//!   replicas.

#![warn(missing_docs)]

pub mod checker;
pub mod client;
pub mod db;
pub mod dist;
pub mod suite;

pub use suite::{PostgresArgs, PostgresSuite};
