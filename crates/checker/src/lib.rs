//! Checkers: decide whether a history shows the behaviour a system promises.
//!
//! # Concepts
//! A [`Checker`] reads a [`rift_history::History`] and returns a [`CheckResult`]: a
//! [`Validity`] (Jepsen's `:valid?`: `true`, `false` or `unknown`), the sorted names of the
//! anomaly types it found, and Jepsen-style details under kebab-case keys (`"lost-count"`,
//! `"ok-count"`, ...). `unknown` means the checker could not decide: nothing to check (a set
//! that was never read), or input it cannot interpret (a read whose value is not a collection).
//! Checkers never panic on user data.
//!
//! Verdicts merge as in Jepsen's `merge-valid`: `false` beats `unknown` beats `true`
//! ([`Validity::merge`]). [`Compose`] runs named checkers (in parallel) and returns
//! `{"valid?": merged, "<name>": sub-result, ...}`; a checker that panics there becomes
//! `unknown` with an `"error"` (Jepsen's `check-safe`).
//!
//! Result JSON ([`CheckResult::to_json`], [`CheckResult::to_json_pretty`]) has `"valid?"`
//! first, `"anomaly-types"` next (omitted when empty), then the details, the shape Jepsen's
//! results and elle-cli's JSON output have. [`CheckResult::from_json`] reads it back.
//!
//! The checkers follow `jepsen.checker` and `jepsen.tests.bank`: [`Stats`], [`Exceptions`]
//! (`unhandled-exceptions`), [`Set`], [`SetFull`], [`Counter`], [`UniqueIds`], [`TotalQueue`],
//! [`Bank`]. [`by_name`] builds one from its CLI name. Only client ops (integer processes)
//! count; `f` and names match keywords and strings alike (`:read` or `"read"`).
//!
//! # Example
//! ```
//! use rift_checker::{CheckContext, Checker, Set, Validity};
//! use rift_history::{History, Op, OpType, Value};
//!
//! let add = Op::invoke(0, "add", 1);
//! let read = Op::invoke(1, "read", Value::Nil);
//! let history = History::reindexed(vec![
//!     add.clone(),
//!     add.complete(OpType::Ok, 1.into()),
//!     read.clone(),
//!     read.complete(OpType::Ok, Value::Vector(vec![])), // the acknowledged 1 is missing
//! ])
//! .unwrap();
//! let r = Set.check(&CheckContext::none(), &history);
//! assert_eq!(r.valid, Validity::False);
//! assert_eq!(r.anomaly_types, ["lost"]);
//! assert_eq!(r.to_json()["lost"], "#{1}");
//! assert!(r.to_json_string().starts_with(r#"{"valid?":false,"anomaly-types":["lost"]"#));
//! ```
//!
//! # Edge cases
//! - An empty history: `stats`, `exceptions`, `counter`, `unique-ids`, `total-queue` and
//!   `bank` are valid (nothing contradicts them); `set` and `set-full` are unknown (nothing
//!   was read, or nothing became stable).
//! - `info` and pending (never completed) ops may have happened: they widen what reads may
//!   show (a counter's upper bound, a set's recovered elements) but are never required.
//! - The nemesis and other non-client processes are ignored by every checker.
//! - Bank without a configured total or account list takes both from the first ok read.

#![warn(missing_docs)]

mod bank;
mod counter;
mod queue;
mod result;
mod set;
mod set_full;
mod stats;
pub mod util;

pub use bank::Bank;
pub use counter::{Counter, UniqueIds};
pub use queue::TotalQueue;
pub use result::{CheckContext, CheckResult, Checker, Compose, Validity};
pub use set::Set;
pub use set_full::SetFull;
pub use stats::{Exceptions, Stats};

use std::path::PathBuf;

/// Errors of this crate.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A checker name that [`by_name`] does not know.
    #[error("unknown checker {name:?}; valid names: {}", valid.join(", "))]
    UnknownChecker {
        /// The name asked for.
        name: String,
        /// The names that exist (aliases included).
        valid: Vec<String>,
    },
    /// Result JSON that is not a check result.
    #[error("not a check result: {0}")]
    BadResult(String),
    /// Writing a checker's file failed.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
}

/// Options for checkers built by name ([`by_name`]).
#[derive(Clone, Debug, Default)]
pub struct CheckerOptions {
    /// Bank: the total every read must show (None: the first ok read's sum).
    pub bank_total: Option<i64>,
    /// Bank: allow negative balances.
    pub bank_negative_balances: bool,
    /// Bank: the known accounts (None: the first ok read's accounts).
    pub bank_accounts: Option<Vec<rift_history::Value>>,
    /// Set-full: the set should be linearizable, so stale reads are errors.
    pub linearizable_set: bool,
}

const NAMES: &[&str] = &[
    "stats",
    "exceptions",
    "set",
    "set-full",
    "counter",
    "unique-ids",
    "total-queue",
    "bank",
];

const ALIASES: &[(&str, &str)] = &[
    ("unhandled-exceptions", "exceptions"),
    ("queue", "total-queue"),
];

/// The canonical checker names [`by_name`] accepts (it also takes the aliases
/// `unhandled-exceptions` and `queue`).
pub fn names() -> &'static [&'static str] {
    NAMES
}

/// Builds a checker by its CLI name (`rift check --checker NAME FILE`).
pub fn by_name(name: &str, opts: &CheckerOptions) -> Result<Box<dyn Checker>, Error> {
    let canonical = ALIASES
        .iter()
        .find(|(alias, _)| *alias == name)
        .map_or(name, |(_, c)| *c);
    Ok(match canonical {
        "stats" => Box::new(Stats),
        "exceptions" => Box::new(Exceptions),
        "set" => Box::new(Set),
        "set-full" => Box::new(SetFull {
            linearizable: opts.linearizable_set,
        }),
        "counter" => Box::new(Counter),
        "unique-ids" => Box::new(UniqueIds),
        "total-queue" => Box::new(TotalQueue),
        "bank" => Box::new(Bank {
            total: opts.bank_total,
            negative_balances: opts.bank_negative_balances,
            accounts: opts.bank_accounts.clone(),
        }),
        _ => {
            let mut valid: Vec<String> = NAMES.iter().map(|s| s.to_string()).collect();
            valid.extend(ALIASES.iter().map(|(a, _)| a.to_string()));
            return Err(Error::UnknownChecker {
                name: name.to_string(),
                valid,
            });
        }
    })
}
