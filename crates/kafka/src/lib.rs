//! The queue/Kafka checker: Jepsen's `jepsen.tests.kafka` analysis of a history of sends and
//! polls over partitioned, offset-addressed logs.
//!
//! # Concepts
//! Each integer **key** stands for one topic-partition: a log of unique **values** at
//! increasing **offsets**. Client ops (`:f` `send`, `poll` or `txn`) carry micro-ops:
//! `[:send k v]`, completed as `[:send k [offset v]]` (offset unknown: `[:send k v]`), and
//! `[:poll]`, completed as `[:poll {k [[offset v] ...]}]`. `assign`/`subscribe` ops (value: a
//! key list) change what a consumer reads; `crash` and `debug-topic-partitions` are ignored.
//!
//! From every poll (ok, info or fail: consumers must only see safe data) and from the sends
//! of ops that **must have committed** (ok, or info with one of its sends polled by an ok op)
//! the checker builds each key's **version order**: offsets to the values seen there; gaps
//! (transaction markers) are skipped, so a value's *index* is its rank among filled offsets.
//! Then it looks for:
//! - `inconsistent-offsets` (an offset with two values), `duplicate` (a value at two offsets;
//!   the result says how many duplicates sit at two or more non-zero offsets, which tells
//!   real duplicates from spurious "offset 0" acknowledgements);
//! - `G1a` (an ok op polled a value only a failed op sent), `precommitted-read` (a txn polled
//!   its own send), `lost-write` (a committed value below the highest index an ok poll
//!   reached, that no ok poll returned), `unseen` (acknowledged, never polled by the end);
//! - `poll-skip` / `nonmonotonic-poll` (per process: a poll that does not start right after
//!   the previous ok poll of that key; failed and info polls are checked but leave the
//!   position; assign/subscribe forget unassigned keys), `nonmonotonic-send`, and the same
//!   within one op: `int-poll-skip`, `int-nonmonotonic-poll` (re-reading a value is delta 0),
//!   `int-send-skip`, `int-nonmonotonic-send`;
//! - cycles in the graph of ok/info ops with `ww` (optional), `wr` and `realtime` edges,
//!   classified by `rift-elle`: `G0`, `G1c` and their `-process`/`-realtime` variants.
//!   No op touches any other: `empty-transaction-graph`.
//!
//! **Validity** (Jepsen's `allowed-error-types`): invalid when any error type is outside the
//! allowed set: `int-send-skip` and the G0 family always; `poll-skip` and
//! `nonmonotonic-poll` when consumers subscribe (rebalances move partitions); the G1c family
//! with `ww` edges (writes are not isolated); plus [`KafkaOptions::ignore`]. A cycle search
//! that runs out of budget, with nothing else bad, gives `unknown`.
//!
//! Informational: realtime lag of polls behind the log tail (worst, per key), unseen counts
//! over time, and with a directory, SVG plots under `kafka/`: `orders/<key>.svg` for keys
//! with offset errors, `unseen.svg`, `realtime-lag.svg`.
//!
//! # Example
//! ```
//! use rift_checker::Validity;
//! use rift_history::{edn, History};
//! use rift_kafka::{check, KafkaOptions};
//!
//! let text = "{:process 0, :type :invoke, :f :send, :value [[:send 1 10]], :time 0}\n\
//!             {:process 0, :type :ok, :f :send, :value [[:send 1 [0 10]]], :time 1}\n\
//!             {:process 0, :type :invoke, :f :send, :value [[:send 1 11]], :time 2}\n\
//!             {:process 0, :type :ok, :f :send, :value [[:send 1 [1 11]]], :time 3}\n\
//!             {:process 1, :type :invoke, :f :poll, :value [[:poll]], :time 4}\n\
//!             {:process 1, :type :ok, :f :poll, :value [[:poll {1 [[1 11]]}]], :time 5}\n";
//! let h = History::new(edn::read_edn_bytes(text.as_bytes(), None)?)?;
//! let r = check(&h, &KafkaOptions::default(), None);
//! assert_eq!(r.valid, Validity::False);
//! // 10 sits below the polled 11 but nobody polled it: lost, and unseen at the end.
//! assert_eq!(r.details["bad-error-types"], serde_json::json!(["lost-write", "unseen"]));
//! assert_eq!(r.details["lost-write"]["errors"][0]["value"], 10);
//! # Ok::<(), rift_history::Error>(())
//! ```
//!
//! # Edge cases
//! - A history with no sends/polls (or none related to another) is invalid with
//!   `empty-transaction-graph`, as Jepsen (Elle reports it, and it is not allowed).
//! - Pending invocations count as info ops (they may have happened).
//! - Malformed micro-ops make the result `unknown` with the op's index.
//! - Offsets that are unknown (`nil`) place nothing in the version order; pairs of values
//!   with unknown indices count as adjacent (delta 1), as in Jepsen.
//! - Only the nemesis is excluded; any other process is a client.

#![warn(missing_docs)]

mod anomalies;
mod cycles;
pub mod gen;
mod lag;
mod model;
mod orders;
mod plot;
mod report;
#[cfg(test)]
mod tests;

pub use gen::{generate, GenOptions};

use rift_checker::{CheckContext, CheckResult, Checker};
use rift_history::History;
use std::collections::BTreeSet;
use std::path::Path;
use std::time::Duration;

/// Errors of this crate.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// An op whose value the checker cannot read.
    #[error("op {index}: {detail}")]
    BadOp {
        /// The op's index.
        index: u64,
        /// What is wrong.
        detail: String,
    },
}

/// Checker options (Jepsen's test keys where they exist).
#[derive(Clone, Debug)]
pub struct KafkaOptions {
    /// Infer write-write edges from the version order (Jepsen's `--ww-deps`, default true).
    /// With them, G1c cycles are expected and allowed.
    pub ww_deps: bool,
    /// Error types that do not make the history invalid (CLI `--ignore-queue-errors`).
    pub ignore: BTreeSet<String>,
    /// Keep every error of every type in the result instead of a sample.
    pub keep_all: bool,
    /// Errors shown per type when not `keep_all` (largest first).
    pub sample_size: usize,
    /// Whether consumers subscribe (allowing poll-skip and nonmonotonic-poll); None: true when
    /// the history has a `subscribe` op.
    pub subscribe: Option<bool>,
    /// Time budget of the cycle search, per strongly connected component.
    pub cycle_budget: Duration,
    /// Most keys that get an order plot.
    pub plot_keys: usize,
}

impl Default for KafkaOptions {
    fn default() -> KafkaOptions {
        KafkaOptions {
            ww_deps: true,
            ignore: BTreeSet::new(),
            keep_all: false,
            sample_size: 8,
            subscribe: None,
            cycle_budget: Duration::from_secs(1),
            plot_keys: 32,
        }
    }
}

/// One finding, with interned ids (ops are indices into the parsed ops; values are vids).
#[derive(Clone, Debug)]
pub(crate) enum Case {
    Inconsistent {
        key: u32,
        offset: i64,
        index: u32,
        values: Vec<u32>,
    },
    Duplicate {
        key: u32,
        value: u32,
        offsets: Vec<i64>,
    },
    G1a {
        value: u32,
        writer: u32,
        reader: u32,
    },
    Precommitted {
        op: u32,
        value: u32,
    },
    LostWrite {
        value: u32,
        index: u32,
        max_read_index: u32,
        writer: u32,
        max_read: u32,
    },
    IntPoll {
        op: u32,
        v1: u32,
        v2: u32,
        delta: i64,
    },
    IntSend {
        op: u32,
        v1: u32,
        v2: u32,
        delta: i64,
    },
    Poll {
        ops: [u32; 2],
        v1: u32,
        v2: u32,
        delta: i64,
    },
    Send {
        ops: [u32; 2],
        v1: u32,
        v2: u32,
        delta: i64,
    },
    Cycle(rift_elle::cycles::Cycle),
}

impl Case {
    /// The error type name.
    pub(crate) fn ty(&self) -> &str {
        let skip = |d: i64| d > 1;
        match self {
            Case::Inconsistent { .. } => "inconsistent-offsets",
            Case::Duplicate { .. } => "duplicate",
            Case::G1a { .. } => "G1a",
            Case::Precommitted { .. } => "precommitted-read",
            Case::LostWrite { .. } => "lost-write",
            Case::IntPoll { delta, .. } if skip(*delta) => "int-poll-skip",
            Case::IntPoll { .. } => "int-nonmonotonic-poll",
            Case::IntSend { delta, .. } if skip(*delta) => "int-send-skip",
            Case::IntSend { .. } => "int-nonmonotonic-send",
            Case::Poll { delta, .. } if skip(*delta) => "poll-skip",
            Case::Poll { .. } => "nonmonotonic-poll",
            Case::Send { .. } => "nonmonotonic-send",
            Case::Cycle(c) => &c.ty,
        }
    }

    /// Sort weight: larger is shown first.
    pub(crate) fn weight(&self) -> i64 {
        match self {
            Case::Inconsistent { values, .. } => values.len() as i64,
            Case::Duplicate { offsets, .. } => offsets.len() as i64,
            Case::IntPoll { delta, .. }
            | Case::IntSend { delta, .. }
            | Case::Poll { delta, .. }
            | Case::Send { delta, .. } => {
                if *delta > 1 {
                    *delta
                } else {
                    1 - *delta
                }
            }
            Case::Cycle(c) => -(c.txns.len() as i64),
            _ => 0,
        }
    }
}

/// The error types allowed whatever the options: Kafka transactions interleave writes.
pub const ALWAYS_ALLOWED: &[&str] = &["int-send-skip", "G0", "G0-process", "G0-realtime"];

/// Checks a history. With `dir`, writes plots under `dir/kafka/`.
pub fn check(history: &History, opts: &KafkaOptions, dir: Option<&Path>) -> CheckResult {
    match report::analyze(history, opts, dir) {
        Ok(r) => r,
        Err(e) => CheckResult::unknown(e.to_string()),
    }
}

/// The Kafka checker as a [`Checker`] (writes its plots into the context's `kafka/`).
#[derive(Clone, Debug, Default)]
pub struct KafkaChecker(pub KafkaOptions);

impl Checker for KafkaChecker {
    fn check(&self, ctx: &CheckContext, history: &History) -> CheckResult {
        check(history, &self.0, ctx.dir.as_deref())
    }
}
