//! Generated histories for tests and benchmarks.
//!
//! [`history`] runs transactions against an in-memory database that applies each one
//! atomically at its completion, so every generated history is strict-serializable by
//! construction. [`si_history`] runs them against a multi-version store with snapshot
//! isolation: a txn reads from the snapshot taken when it was invoked, buffers its writes,
//! and commits when it completes unless a txn that committed in the meantime wrote one of its
//! keys (first committer wins), in which case it fails. Its histories are strong
//! snapshot-isolated but, since concurrent txns overlap in realtime, not serializable: write
//! skew (G2-item) happens.

use crate::Workload;
use rift_history::{History, Op, OpType, Value};

/// Shape of a generated history.
#[derive(Clone, Debug)]
pub struct GenOptions {
    /// Number of transactions.
    pub txns: usize,
    /// Concurrent client processes.
    pub processes: usize,
    /// Active keys at any time (a key is retired after `max_writes_per_key` writes).
    pub keys: usize,
    /// Micro-ops per transaction: between 1 and this.
    pub max_txn_len: usize,
    /// Writes per key before it is replaced by a fresh key.
    pub max_writes_per_key: u32,
    /// Probability (per mille) that a transaction fails (no effect) or crashes (`info`,
    /// effect applied or not).
    pub fail_per_mille: u32,
}

impl Default for GenOptions {
    fn default() -> GenOptions {
        GenOptions {
            txns: 100,
            processes: 5,
            keys: 10,
            max_txn_len: 5,
            max_writes_per_key: 64,
            fail_per_mille: 50,
        }
    }
}

/// A tiny deterministic PRNG (SplitMix64), so the crate needs no `rand`.
pub struct Rng(u64);

impl Rng {
    /// Seeds it.
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }
    /// Next value below `n` (n > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        (z ^ (z >> 31)) % n.max(1)
    }
}

/// Which keys are in use and how many times each was written.
struct Keys {
    writes: Vec<u32>,
    active: Vec<usize>,
    next_value: i64,
}

impl Keys {
    fn new(n: usize) -> Keys {
        Keys {
            writes: vec![0; n],
            active: (0..n).collect(),
            next_value: 0,
        }
    }
}

struct Db {
    lists: Vec<Vec<i64>>,
}

impl Db {
    fn list(&mut self, k: usize) -> &mut Vec<i64> {
        if self.lists.len() <= k {
            self.lists.resize(k + 1, Vec::new());
        }
        &mut self.lists[k]
    }
}

/// A planned micro-op: (is a write, key, value written).
type Mop = (bool, usize, i64);

fn plan(keys: &mut Keys, rng: &mut Rng, o: &GenOptions, w: Workload) -> Vec<Mop> {
    let n = 1 + rng.below(o.max_txn_len as u64) as usize;
    let mut mops = Vec::with_capacity(n);
    for _ in 0..n {
        let slot = rng.below(keys.active.len() as u64) as usize;
        let mut k = keys.active[slot];
        let write = rng.below(2) == 0;
        if write {
            if keys.writes[k] >= o.max_writes_per_key {
                keys.writes.push(0);
                k = keys.writes.len() - 1;
                keys.active[slot] = k;
            }
            keys.writes[k] += 1;
            keys.next_value += 1;
            mops.push((
                true,
                k,
                if w == Workload::RwRegister {
                    keys.next_value
                } else {
                    keys.writes[k] as i64
                },
            ));
        } else {
            mops.push((false, k, 0));
        }
    }
    mops
}

fn render(mops: &[Mop], db: Option<&mut Db>, w: Workload) -> Value {
    let mut out = Vec::with_capacity(mops.len());
    let mut db = db;
    for &(write, k, v) in mops {
        let key = Value::Int(k as i64);
        let m = match (write, w, db.as_deref_mut()) {
            (true, Workload::ListAppend, d) => {
                if let Some(d) = d {
                    d.list(k).push(v);
                }
                vec![Value::kw("append"), key, Value::Int(v)]
            }
            (true, Workload::RwRegister, d) => {
                if let Some(d) = d {
                    *d.list(k) = vec![v];
                }
                vec![Value::kw("w"), key, Value::Int(v)]
            }
            (false, _, None) => vec![Value::kw("r"), key, Value::Nil],
            (false, Workload::ListAppend, Some(d)) => vec![
                Value::kw("r"),
                key,
                Value::Vector(d.list(k).iter().map(|&x| Value::Int(x)).collect()),
            ],
            (false, Workload::RwRegister, Some(d)) => {
                let v = d.list(k).last().map_or(Value::Nil, |&x| Value::Int(x));
                vec![Value::kw("r"), key, v]
            }
        };
        out.push(Value::Vector(m));
    }
    Value::Vector(out)
}

/// A database the generator drives: a txn begins at its invocation and tries to commit at its
/// completion.
trait Engine {
    /// What a txn keeps from its beginning (e.g. its snapshot).
    type Start;
    /// Begins a txn.
    fn begin(&mut self) -> Self::Start;
    /// Runs and commits a txn: its completed value, or `None` if it had to abort.
    fn commit(&mut self, start: &Self::Start, mops: &[Mop], w: Workload) -> Option<Value>;
}

impl Engine for Db {
    type Start = ();
    fn begin(&mut self) {}
    fn commit(&mut self, _: &(), mops: &[Mop], w: Workload) -> Option<Value> {
        Some(render(mops, Some(self), w))
    }
}

/// A multi-version store with snapshot isolation. Per key, its committed versions in commit
/// order as (commit timestamp, value): a list's elements at snapshot `s` are the values of
/// the versions stamped `<= s`, a register's value is the last of them.
#[derive(Default)]
struct MvStore {
    versions: Vec<Vec<(u64, i64)>>,
    clock: u64,
}

impl MvStore {
    fn visible(&self, k: usize, snap: u64) -> &[(u64, i64)] {
        let vs = self.versions.get(k).map_or(&[][..], Vec::as_slice);
        &vs[..vs.partition_point(|&(ts, _)| ts <= snap)]
    }

    /// Runs `mops` on snapshot `snap`, buffering writes: the txn's value and its writes.
    fn run(&self, mops: &[Mop], snap: u64, w: Workload) -> (Value, Vec<(usize, i64)>) {
        let mut buf: Vec<(usize, i64)> = Vec::new();
        let mut out = Vec::with_capacity(mops.len());
        for &(write, k, v) in mops {
            let key = Value::Int(k as i64);
            let m = if write {
                buf.push((k, v));
                let f = if w == Workload::ListAppend {
                    "append"
                } else {
                    "w"
                };
                vec![Value::kw(f), key, Value::Int(v)]
            } else {
                let seen = self.visible(k, snap).iter().map(|x| x.1);
                let mine = buf.iter().filter(|b| b.0 == k).map(|b| b.1);
                let read = match w {
                    Workload::ListAppend => {
                        Value::Vector(seen.chain(mine).map(Value::Int).collect())
                    }
                    Workload::RwRegister => seen.chain(mine).last().map_or(Value::Nil, Value::Int),
                };
                vec![Value::kw("r"), key, read]
            };
            out.push(Value::Vector(m));
        }
        (Value::Vector(out), buf)
    }
}

impl Engine for MvStore {
    type Start = u64;
    fn begin(&mut self) -> u64 {
        self.clock
    }
    /// First committer wins: aborts if a txn that committed after `snap` wrote one of the
    /// keys this one wrote.
    fn commit(&mut self, &snap: &u64, mops: &[Mop], w: Workload) -> Option<Value> {
        let (value, writes) = self.run(mops, snap, w);
        let conflict = writes.iter().any(|&(k, _)| {
            self.versions
                .get(k)
                .and_then(|v| v.last())
                .is_some_and(|&(ts, _)| ts > snap)
        });
        if conflict {
            return None;
        }
        if !writes.is_empty() {
            self.clock += 1;
        }
        for (k, v) in writes {
            if self.versions.len() <= k {
                self.versions.resize(k + 1, Vec::new());
            }
            self.versions[k].push((self.clock, v));
        }
        Some(value)
    }
}

/// Generates a strict-serializable history.
pub fn history(w: Workload, o: &GenOptions, seed: u64) -> History {
    let db = Db {
        lists: vec![Vec::new(); o.keys],
    };
    drive(db, w, o, seed)
}

/// Generates a snapshot-isolated history (strong snapshot isolation: a txn's snapshot is
/// taken at its invocation, so it holds every txn that completed before). Txns that lose a
/// write-write race fail (`:fail`, value as invoked); others fail or crash (`:info`, effect
/// applied or not) with probability `fail_per_mille`.
pub fn si_history(w: Workload, o: &GenOptions, seed: u64) -> History {
    drive(MvStore::default(), w, o, seed)
}

/// A txn in flight: what it kept from its beginning, its micro-ops, its invocation.
type InFlight<S> = Option<(S, Vec<Mop>, Op)>;

/// Runs `o.txns` txns on `processes` concurrent clients whose invocations and completions
/// interleave at random.
fn drive<E: Engine>(mut db: E, w: Workload, o: &GenOptions, seed: u64) -> History {
    let mut rng = Rng::new(seed);
    let mut keys = Keys::new(o.keys);
    let mut ops: Vec<Op> = Vec::with_capacity(o.txns * 2);
    let mut inflight: Vec<InFlight<E::Start>> = (0..o.processes).map(|_| None).collect();
    let mut procs: Vec<i64> = (0..o.processes as i64).collect();
    let (mut started, mut time) = (0usize, 0i64);
    while started < o.txns || inflight.iter().any(Option::is_some) {
        time += 1 + rng.below(1000) as i64;
        let slot = rng.below(o.processes as u64) as usize;
        match inflight[slot].take() {
            None if started < o.txns => {
                let mops = plan(&mut keys, &mut rng, o, w);
                let mut inv = Op::invoke(procs[slot], "txn", render(&mops, None, w));
                inv.time = Some(time);
                ops.push(inv.clone());
                inflight[slot] = Some((db.begin(), mops, inv));
                started += 1;
            }
            None => {}
            Some((start, mops, inv)) => {
                let roll = rng.below(1000) as u32;
                let mut done = if roll < o.fail_per_mille / 2 {
                    inv.complete(OpType::Fail, inv.value.clone())
                } else if roll < o.fail_per_mille {
                    if rng.below(2) == 0 {
                        db.commit(&start, &mops, w);
                    }
                    procs[slot] += o.processes as i64;
                    inv.complete(OpType::Info, inv.value.clone())
                } else {
                    match db.commit(&start, &mops, w) {
                        Some(v) => inv.complete(OpType::Ok, v),
                        None => inv.complete(OpType::Fail, inv.value.clone()),
                    }
                };
                done.time = Some(time);
                ops.push(done);
            }
        }
    }
    History::reindexed(ops).expect("generated history pairs")
}
