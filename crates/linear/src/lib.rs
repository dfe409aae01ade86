//! Linearizability checking: is there one order of the operations, consistent with real time,
//! in which a sequential model explains every result?
//!
//! # Models
//! A [`Model`] is a sequential specification over [`rift_history::Value`] states: an initial
//! state, `step(state, call) -> Option<next state>` and `explain(state, call)` (why a call is
//! impossible, for counterexamples). Built in, by name
//! ([`model_by_name`]): `register`, `cas-register` (`read`, `write`, `cas [old new]`; nil at
//! first, like Knossos), `multi-register` (`txn` of `[:read k v]`/`[:write k v]`), `mutex`
//! (`acquire`/`release`), `set` (`add`/`read`), `fifo-queue` (alias `queue`) and
//! `unordered-queue` (`enqueue`/`dequeue`), `kv` (Porcupine's `get`/`put`/`append` on the
//! op's `:key`). Your own model is any type implementing the trait. The search interns states
//! and memoises transitions, so `step` runs once per distinct (state, call) and state equality
//! is an integer comparison.
//!
//! # The search
//! Wing-Gong-Lowe: calls and returns in a doubly linked list in history order; a configuration
//! is the set of linearized ops (a bitset) and the model state; an op whose call comes before
//! the first pending return may be linearized next, if the model accepts it and the resulting
//! configuration is new (Lowe's memo, hashed incrementally with per-op random keys); when no
//! candidate works, backtrack. On top of that, all iterative (explicit stacks):
//! - read-only ops ([`Model::is_read_only`]) that the model accepts are linearized at once,
//!   without branching: an op that never changes the state can always go first;
//! - the other candidates are tried earliest deadline (return) first, ops of unknown outcome
//!   last, and identical calls of unknown outcome only once (they are interchangeable);
//! - [`Model::may_become_legal`] lets a model abandon a configuration in which a pending read
//!   can never become legal (a kv get whose value no longer extends the current string, a
//!   register read of a value no pending op writes);
//! - partitions are searched in rounds of growing step slices, so one quickly failing
//!   partition is found even when another takes long.
//!
//! # P-compositionality
//! Linearizability is compositional: a model that declares a partition function
//! ([`Model::partition`]; `kv` partitions by key) gets one search per partition, run in
//! parallel (rayon). [`Options::split_by_key`] `false` checks one unsplit state instead. Jepsen
//! `independent` histories (values `[k v]`) are split by the [`Independent`] wrapper, which
//! writes per-key results under `independent/<key>/`.
//!
//! # `ok`, `fail`, `info`
//! `ok` ops happened between invocation and completion. `fail` ops did not happen: dropped.
//! `info` ops and invocations never completed may take effect at any point after their
//! invocation, or never: they have no deadline, and the search succeeds once every `ok` op is
//! linearized. A read whose outcome is unknown constrains nothing and is dropped
//! ([`Model::is_read_only`]). Only client processes count; the nemesis is ignored. Real-time
//! order is the order of ops in the history.
//!
//! # Budgets and counterexamples
//! [`Options::time_budget`] and [`Options::memory_budget_bytes`] bound the search; past them
//! the verdict is `unknown` with a reason, never a hang or an out-of-memory kill. On failure
//! the [`Outcome`] carries a [`Counterexample`]: the longest linearizable prefix found, the op
//! that could not be linearized, the model state(s) after the prefix and the model's answer
//! for every op that could have gone next; with [`Options::artifact_dir`] it is drawn as
//! `linear.svg` (processes as lanes, ops as bars, a window around the failure only, so the
//! file stays small).
//!
//! # Example
//! ```
//! use rift_history::{History, Op, OpType, Value};
//! use rift_linear::{check_history, model_by_name, Options};
//! use rift_checker::Validity;
//!
//! let w = Op::invoke(0, "write", 1);
//! let r = Op::invoke(1, "read", Value::Nil);
//! let history = History::reindexed(vec![
//!     w.clone(),
//!     w.complete(OpType::Ok, 1.into()),
//!     r.clone(),
//!     r.complete(OpType::Ok, Value::Nil), // a stale read: the write had completed
//! ])
//! .unwrap();
//! let model = model_by_name("cas-register").unwrap();
//! let out = check_history(&history, &*model, &Options::default());
//! assert_eq!(out.valid, Validity::False);
//! let cex = out.counterexample.unwrap();
//! assert_eq!(cex.prefix, [0]); // the write linearized...
//! assert_eq!(cex.op.completion, Some(3)); // ...then the read of nil is impossible
//! assert_eq!(cex.states, [Value::Int(1)]);
//! ```
//!
//! # Edge cases
//! - An empty history (or one with only failed ops) is linearizable.
//! - A read that returns nil is a read of nil (as in Porcupine): it does not match a register
//!   holding a value.
//! - `multi-register` and registers start at nil; give [`CasRegister::initial`] or
//!   [`MultiRegister::initial`] when a history assumes another start (Knossos's multi-register
//!   test starts at `{:x 0 :y 0}`).
//! - With several failing partitions, the counterexample is the first by key; the others may
//!   be stopped early ([`Options::stop_on_failure`]).

#![warn(missing_docs)]

mod cex;
mod check;
mod checker;
mod model;
mod prepare;
mod render;
mod wgl;

pub use cex::{Attempt, Counterexample, OpRef, MAX_ATTEMPTS, PREFIX_TAIL};
pub use check::{check_history, Options, Outcome, SearchStats};
pub use checker::{
    independent, linearizable, outcome_result, split_by_key, Independent, Linearizable,
};
pub use model::{
    model_by_name, model_names, Call, CasRegister, FifoQueue, Kv, Model, MultiRegister, Mutex,
    Register, Set, UnorderedQueue,
};
pub use prepare::PrepareStats;

/// Errors of this crate.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A model name [`model_by_name`] does not know.
    #[error("unknown model {name:?}; valid names: {}", model_names().join(", "))]
    UnknownModel {
        /// The name asked for.
        name: String,
    },
}

/// Like [`model_by_name`], with an error naming the valid models.
pub fn model_named(name: &str) -> Result<Box<dyn Model>, Error> {
    model_by_name(name).ok_or_else(|| Error::UnknownModel {
        name: name.to_string(),
    })
}
