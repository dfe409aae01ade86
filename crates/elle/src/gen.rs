//! Generated histories for tests and benchmarks: transactions run against an in-memory
//! database that applies each one atomically at its completion, so every generated history
//! is strict-serializable by construction.

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

struct Db {
    lists: Vec<Vec<i64>>,
    writes: Vec<u32>,
    active: Vec<usize>,
    next_value: i64,
}

fn plan(db: &mut Db, rng: &mut Rng, o: &GenOptions, w: Workload) -> Vec<(bool, usize, i64)> {
    let n = 1 + rng.below(o.max_txn_len as u64) as usize;
    let mut mops = Vec::with_capacity(n);
    for _ in 0..n {
        let slot = rng.below(db.active.len() as u64) as usize;
        let mut k = db.active[slot];
        let write = rng.below(2) == 0;
        if write {
            if db.writes[k] >= o.max_writes_per_key {
                db.lists.push(Vec::new());
                db.writes.push(0);
                k = db.lists.len() - 1;
                db.active[slot] = k;
            }
            db.writes[k] += 1;
            db.next_value += 1;
            mops.push((
                true,
                k,
                if w == Workload::RwRegister {
                    db.next_value
                } else {
                    db.writes[k] as i64
                },
            ));
        } else {
            mops.push((false, k, 0));
        }
    }
    mops
}

fn render(mops: &[(bool, usize, i64)], db: Option<&mut Db>, w: Workload) -> Value {
    let mut out = Vec::with_capacity(mops.len());
    let mut db = db;
    for &(write, k, v) in mops {
        let key = Value::Int(k as i64);
        let m = match (write, w, db.as_deref_mut()) {
            (true, Workload::ListAppend, d) => {
                if let Some(d) = d {
                    d.lists[k].push(v);
                }
                vec![Value::kw("append"), key, Value::Int(v)]
            }
            (true, Workload::RwRegister, d) => {
                if let Some(d) = d {
                    d.lists[k] = vec![v];
                }
                vec![Value::kw("w"), key, Value::Int(v)]
            }
            (false, _, None) => vec![Value::kw("r"), key, Value::Nil],
            (false, Workload::ListAppend, Some(d)) => vec![
                Value::kw("r"),
                key,
                Value::Vector(d.lists[k].iter().map(|&x| Value::Int(x)).collect()),
            ],
            (false, Workload::RwRegister, Some(d)) => {
                let v = d.lists[k].last().map_or(Value::Nil, |&x| Value::Int(x));
                vec![Value::kw("r"), key, v]
            }
        };
        out.push(Value::Vector(m));
    }
    Value::Vector(out)
}

type InFlight = (i64, Vec<(bool, usize, i64)>, Op);

/// Generates a strict-serializable history.
pub fn history(w: Workload, o: &GenOptions, seed: u64) -> History {
    let mut rng = Rng::new(seed);
    let mut db = Db {
        lists: vec![Vec::new(); o.keys],
        writes: vec![0; o.keys],
        active: (0..o.keys).collect(),
        next_value: 0,
    };
    let mut ops: Vec<Op> = Vec::with_capacity(o.txns * 2);
    let mut inflight: Vec<Option<InFlight>> = vec![None; o.processes];
    let mut procs: Vec<i64> = (0..o.processes as i64).collect();
    let (mut started, mut time) = (0usize, 0i64);
    while started < o.txns || inflight.iter().any(Option::is_some) {
        time += 1 + rng.below(1000) as i64;
        let slot = rng.below(o.processes as u64) as usize;
        match inflight[slot].take() {
            None if started < o.txns => {
                let mops = plan(&mut db, &mut rng, o, w);
                let mut inv = Op::invoke(procs[slot], "txn", render(&mops, None, w));
                inv.time = Some(time);
                ops.push(inv.clone());
                inflight[slot] = Some((procs[slot], mops, inv));
                started += 1;
            }
            None => {}
            Some((_, mops, inv)) => {
                let roll = rng.below(1000) as u32;
                let mut done = if roll < o.fail_per_mille / 2 {
                    inv.complete(OpType::Fail, inv.value.clone())
                } else if roll < o.fail_per_mille {
                    if rng.below(2) == 0 {
                        render(&mops, Some(&mut db), w);
                    }
                    procs[slot] += o.processes as i64;
                    inv.complete(OpType::Info, inv.value.clone())
                } else {
                    let v = render(&mops, Some(&mut db), w);
                    inv.complete(OpType::Ok, v)
                };
                done.time = Some(time);
                ops.push(done);
            }
        }
    }
    History::reindexed(ops).expect("generated history pairs")
}
