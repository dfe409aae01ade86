//! An in-process system under test: a linearizable store held in memory, reached through the
//! same [`Client`] trait as real systems, with switches that plant real bugs.
//!
//! It exists so that the framework and its checkers can be shown to work end to end with no
//! root and no external server: a correct run must come out valid, a run with a planted bug must
//! come out invalid with the right anomaly. Every operation takes one lock, so without bugs the
//! store is linearizable.
//!
//! Bugs (each fires with probability [`Bugs::rate`] per eligible op, from the run's seed):
//! - `lost-writes`: a write is acknowledged `ok` but not applied (set add, queue enqueue,
//!   counter add, register write); for a bank transfer the credit half is lost.
//! - `stale-reads`: a read returns an older state (a set read misses recent adds, a register read
//!   returns an earlier value, a counter read an earlier count).
//! - `duplicates`: a dequeue returns an element without removing it; id generation hands out an
//!   id again.
//!
//! Besides bugs, `indeterminate` makes ops fail as a flaky network would: the op is applied or
//! not (a coin flip) and the client reports an error, which the runner records as `info`.

use crate::spec::TestInfo;
use crate::traits::{Client, Db, PlugResult, RiftError};
use async_trait::async_trait;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rift_history::{Op, OpType, Value};
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};

/// Which bugs to plant, and how often.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Bugs {
    /// Acknowledge writes without applying them.
    pub lost_writes: bool,
    /// Serve reads from an older state.
    pub stale_reads: bool,
    /// Hand out queue elements and ids more than once.
    pub duplicates: bool,
    /// Probability that a bug fires on an eligible op.
    pub rate: f64,
    /// Probability that an op ends in an error with an unknown outcome (recorded `info`).
    pub indeterminate: f64,
}

impl Bugs {
    /// The names accepted by [`Bugs::enable`].
    pub const NAMES: &'static [&'static str] = &["lost-writes", "stale-reads", "duplicates"];

    /// Turns on a bug by name.
    pub fn enable(&mut self, name: &str) -> Result<(), String> {
        match name {
            "lost-writes" => self.lost_writes = true,
            "stale-reads" => self.stale_reads = true,
            "duplicates" | "duplicate-dequeues" => self.duplicates = true,
            other => {
                return Err(format!(
                    "unknown bug {other:?}; known bugs: {}",
                    Bugs::NAMES.join(", ")
                ))
            }
        }
        Ok(())
    }

    /// The names of the bugs turned on.
    pub fn names(&self) -> Vec<&'static str> {
        let mut v = Vec::new();
        if self.lost_writes {
            v.push("lost-writes");
        }
        if self.stale_reads {
            v.push("stale-reads");
        }
        if self.duplicates {
            v.push("duplicates");
        }
        v
    }
}

/// The data a workload keeps.
#[derive(Debug, Default)]
struct State {
    /// Set elements in insertion order (a stale read returns a prefix).
    set: Vec<Value>,
    queue: VecDeque<Value>,
    accounts: BTreeMap<i64, i64>,
    counter: i64,
    /// Past counter values (for stale reads), bounded.
    counter_past: VecDeque<i64>,
    next_id: i64,
    issued: Vec<i64>,
    /// Registers by key (Jepsen's independent keys), each with its recent past values.
    registers: HashMap<Value, Register>,
}

const PAST: usize = 64;

/// The shared in-memory store: one per test, shared by every "node".
#[derive(Debug)]
pub struct MemSystem {
    state: Mutex<State>,
    rng: Mutex<ChaCha8Rng>,
    bugs: Bugs,
    /// Initial bank balances (account -> balance).
    initial_accounts: BTreeMap<i64, i64>,
}

impl MemSystem {
    /// A new store with the given bugs, seeded for its random choices.
    pub fn new(bugs: Bugs, seed: u64) -> Arc<MemSystem> {
        Arc::new(MemSystem {
            state: Mutex::new(State::default()),
            rng: Mutex::new(ChaCha8Rng::seed_from_u64(seed ^ 0x6d65_6d5f_7379_7374)),
            bugs,
            initial_accounts: BTreeMap::new(),
        })
    }

    /// A new store holding bank accounts with initial balances.
    pub fn with_accounts(bugs: Bugs, seed: u64, accounts: BTreeMap<i64, i64>) -> Arc<MemSystem> {
        let mut s = MemSystem::new(bugs, seed);
        if let Some(m) = Arc::get_mut(&mut s) {
            m.initial_accounts = accounts;
        }
        s
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn chance(&self, p: f64) -> bool {
        p > 0.0
            && self
                .rng
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .random_bool(p.min(1.0))
    }

    fn bug(&self, on: bool) -> bool {
        on && self.chance(self.bugs.rate)
    }

    fn random_below(&self, n: usize) -> usize {
        if n == 0 {
            return 0;
        }
        self.rng
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .random_range(0..n)
    }

    fn reset(&self) {
        let mut s = self.state();
        *s = State::default();
        s.accounts = self.initial_accounts.clone();
    }
}

/// Which data structure a client works on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MemWorkload {
    /// `add` x, `read` -> all elements.
    Set,
    /// `enqueue` x, `dequeue` -> x (fail `:empty`), `drain` -> all elements.
    Queue,
    /// `transfer` {:from :to :amount} (fail `:insufficient-funds`), `read` -> balances.
    Bank,
    /// `add` delta, `read` -> count.
    Counter,
    /// `generate` -> a fresh id.
    UniqueIds,
    /// Independent registers: `write` [k x], `read` [k nil] -> [k x], `cas` [k [old new]]
    /// (fail when the value differs).
    Register,
}

/// The in-memory db: nothing to install; setup resets the store, teardown empties it.
#[derive(Clone, Debug)]
pub struct MemDb {
    /// The store.
    pub system: Arc<MemSystem>,
}

#[async_trait]
impl Db for MemDb {
    async fn setup(&self, test: &TestInfo, node: &str) -> PlugResult<()> {
        // One store serves every node: reset it once, from the first node.
        if test.nodes.first().map(String::as_str) == Some(node) {
            self.system.reset();
        }
        Ok(())
    }
    async fn teardown(&self, _test: &TestInfo, _node: &str) -> PlugResult<()> {
        Ok(())
    }
}

/// A client of the in-memory store.
#[derive(Clone, Debug)]
pub struct MemClient {
    /// The store.
    pub system: Arc<MemSystem>,
    /// The data structure.
    pub workload: MemWorkload,
}

#[async_trait]
impl Client for MemClient {
    async fn open(&self, _test: &TestInfo, _node: &str) -> PlugResult<Box<dyn Client>> {
        Ok(Box::new(self.clone()))
    }

    async fn invoke(&mut self, _test: &TestInfo, op: &Op) -> PlugResult<Op> {
        let sys = &self.system;
        if sys.chance(sys.bugs.indeterminate) {
            if sys.chance(0.5) {
                let _ = self.apply(op);
            }
            return Err(RiftError::new("timeout", "no answer (simulated)"));
        }
        self.apply(op)
    }
}

fn unknown(op: &Op, workload: MemWorkload) -> RiftError {
    RiftError::new(
        "unknown-f",
        format!(
            "the {workload:?} workload has no operation {:?}",
            op.f_name()
        ),
    )
}

impl MemClient {
    fn apply(&self, op: &Op) -> PlugResult<Op> {
        match self.workload {
            MemWorkload::Set => self.set(op),
            MemWorkload::Queue => self.queue(op),
            MemWorkload::Bank => self.bank(op),
            MemWorkload::Counter => self.counter(op),
            MemWorkload::UniqueIds => self.unique_ids(op),
            MemWorkload::Register => self.register(op),
        }
    }

    fn set(&self, op: &Op) -> PlugResult<Op> {
        let sys = &self.system;
        match op.f_name() {
            "add" => {
                if !sys.bug(sys.bugs.lost_writes) {
                    sys.state().set.push(op.value.clone());
                }
                Ok(op.complete(OpType::Ok, op.value.clone()))
            }
            "read" => {
                let stale = sys.bug(sys.bugs.stale_reads);
                let s = sys.state();
                let n = if stale && !s.set.is_empty() {
                    sys.random_below(s.set.len())
                } else {
                    s.set.len()
                };
                let mut elems = s.set[..n].to_vec();
                drop(s);
                elems.sort();
                Ok(op.complete(OpType::Ok, Value::Set(elems)))
            }
            _ => Err(unknown(op, self.workload)),
        }
    }

    fn queue(&self, op: &Op) -> PlugResult<Op> {
        let sys = &self.system;
        match op.f_name() {
            "enqueue" => {
                if !sys.bug(sys.bugs.lost_writes) {
                    sys.state().queue.push_back(op.value.clone());
                }
                Ok(op.complete(OpType::Ok, op.value.clone()))
            }
            "dequeue" => {
                let dup = sys.bug(sys.bugs.duplicates);
                let mut s = sys.state();
                let x = if dup {
                    s.queue.front().cloned()
                } else {
                    s.queue.pop_front()
                };
                Ok(match x {
                    Some(x) => op.complete(OpType::Ok, x),
                    None => op
                        .complete(OpType::Fail, Value::Nil)
                        .with_error(Value::kw("empty")),
                })
            }
            "drain" => {
                let all: Vec<Value> = sys.state().queue.drain(..).collect();
                Ok(op.complete(OpType::Ok, Value::Vector(all)))
            }
            _ => Err(unknown(op, self.workload)),
        }
    }

    fn bank(&self, op: &Op) -> PlugResult<Op> {
        let sys = &self.system;
        match op.f_name() {
            "read" => {
                let s = sys.state();
                let m = s
                    .accounts
                    .iter()
                    .map(|(a, b)| (Value::Int(*a), Value::Int(*b)))
                    .collect();
                Ok(op.complete(OpType::Ok, Value::Map(m)))
            }
            "transfer" => {
                let field = |k: &str| op.value.get(k).and_then(Value::as_i64);
                let (Some(from), Some(to), Some(amount)) =
                    (field("from"), field("to"), field("amount"))
                else {
                    return Err(RiftError::new(
                        "bad-op",
                        format!("transfer needs {{:from :to :amount}}, got {}", op.value),
                    ));
                };
                let lose_credit = sys.bug(sys.bugs.lost_writes);
                let mut s = sys.state();
                let (Some(&fb), true) = (s.accounts.get(&from), s.accounts.contains_key(&to))
                else {
                    return Ok(op
                        .complete(OpType::Fail, op.value.clone())
                        .with_error(Value::kw("no-such-account")));
                };
                if fb - amount < 0 {
                    return Ok(op
                        .complete(OpType::Fail, op.value.clone())
                        .with_error(Value::kw("insufficient-funds")));
                }
                s.accounts.insert(from, fb - amount);
                if !lose_credit {
                    *s.accounts.entry(to).or_insert(0) += amount;
                }
                Ok(op.complete(OpType::Ok, op.value.clone()))
            }
            _ => Err(unknown(op, self.workload)),
        }
    }

    fn counter(&self, op: &Op) -> PlugResult<Op> {
        let sys = &self.system;
        match op.f_name() {
            "add" => {
                let delta = op.value.as_i64().ok_or_else(|| {
                    RiftError::new("bad-op", format!("add needs an integer, got {}", op.value))
                })?;
                if !sys.bug(sys.bugs.lost_writes) {
                    let mut s = sys.state();
                    let old = s.counter;
                    s.counter_past.push_back(old);
                    if s.counter_past.len() > PAST {
                        s.counter_past.pop_front();
                    }
                    s.counter += delta;
                }
                Ok(op.complete(OpType::Ok, op.value.clone()))
            }
            "read" => {
                let stale = sys.bug(sys.bugs.stale_reads);
                let s = sys.state();
                let v = match (stale, s.counter_past.len()) {
                    (true, n) if n > 0 => s.counter_past[sys.random_below(n)],
                    _ => s.counter,
                };
                Ok(op.complete(OpType::Ok, Value::Int(v)))
            }
            _ => Err(unknown(op, self.workload)),
        }
    }

    fn unique_ids(&self, op: &Op) -> PlugResult<Op> {
        let sys = &self.system;
        match op.f_name() {
            "generate" => {
                let dup = sys.bug(sys.bugs.duplicates);
                let mut s = sys.state();
                let id = if dup && !s.issued.is_empty() {
                    s.issued[sys.random_below(s.issued.len())]
                } else {
                    s.next_id += 1;
                    let id = s.next_id;
                    if s.issued.len() < 4096 {
                        s.issued.push(id);
                    }
                    id
                };
                Ok(op.complete(OpType::Ok, Value::Int(id)))
            }
            _ => Err(unknown(op, self.workload)),
        }
    }

    /// Register ops on independent keys: values are `[k v]` tuples (`[k nil]` to read,
    /// `[k [old new]]` for cas).
    fn register(&self, op: &Op) -> PlugResult<Op> {
        let sys = &self.system;
        let (key, arg) = match op.value.as_seq() {
            Some([k, v]) => (k.clone(), v.clone()),
            _ => {
                return Err(RiftError::new(
                    "bad-op",
                    format!("register ops take [key value] tuples, got {}", op.value),
                ))
            }
        };
        let tuple = |v: Value| Value::Vector(vec![key.clone(), v]);
        match op.f_name() {
            "write" => {
                if !sys.bug(sys.bugs.lost_writes) {
                    sys.state()
                        .registers
                        .entry(key.clone())
                        .or_default()
                        .set(arg.clone());
                }
                Ok(op.complete(OpType::Ok, op.value.clone()))
            }
            "read" => {
                let stale = sys.bug(sys.bugs.stale_reads);
                let s = sys.state();
                let v = match s.registers.get(&key) {
                    None => Value::Nil,
                    Some(r) if stale && !r.past.is_empty() => {
                        r.past[sys.random_below(r.past.len())].clone()
                    }
                    Some(r) => r.value.clone(),
                };
                Ok(op.complete(OpType::Ok, tuple(v)))
            }
            "cas" => {
                let Some([old, new]) = arg.as_seq() else {
                    return Err(RiftError::new(
                        "bad-op",
                        format!("cas takes [key [old new]], got {}", op.value),
                    ));
                };
                let mut s = sys.state();
                let r = s.registers.entry(key.clone()).or_default();
                if &r.value != old {
                    return Ok(op.complete(OpType::Fail, op.value.clone()));
                }
                r.set(new.clone());
                Ok(op.complete(OpType::Ok, op.value.clone()))
            }
            _ => Err(unknown(op, self.workload)),
        }
    }
}

/// One register: its value (nil before the first write) and a few past values.
#[derive(Debug, Default)]
struct Register {
    value: Value,
    past: VecDeque<Value>,
}

impl Register {
    fn set(&mut self, v: Value) {
        let old = std::mem::replace(&mut self.value, v);
        self.past.push_back(old);
        if self.past.len() > PAST {
            self.past.pop_front();
        }
    }
}
