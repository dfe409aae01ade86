//! Elle's transaction generators (`elle.txn/wr-txns`, `elle.list-append/gen`): random txns of
//! reads and writes over a rotating pool of integer keys, every written value unique per key.
//!
//! Used by the etcd suite (list-append, rw-register), by the Kafka queue workload (which
//! rewrites appends into sends and reads into polls) and by future SQL suites.
//!
//! # Purity
//! The key pool (active keys, writes per key) lives in the generator value: `op` builds a txn
//! from a copy of the pool and returns the advanced pool in the next generator, which the
//! scheduler keeps only when it commits the op. A txn offered and then discarded (a `stagger`
//! answered with a future time, a sibling of `any` chosen instead) leaves the pool as it was,
//! so per-key values are exactly 1, 2, 3, ... in dispatch order and a key is retired after
//! exactly `max_writes_per_key` dispatched writes, as with Elle's lazy sequence.
//!
//! The earlier version (in the etcd suite) mutated a `Mutex<KeyPool>` inside `from_fn`. That
//! was safe for uniqueness, because values came from per-key counters that only grow: a
//! discarded txn just skipped its values. But under `stagger` it left gaps and retired keys
//! after fewer real writes than `max_writes_per_key`. With no discarded asks (no stagger, no
//! `any`), both versions emit the same txns for the same seed.
//!
//! Like any pure generator (and like Elle's sequence in Jepsen), a copy made by
//! [`crate::each_thread`] or [`crate::each_process`] runs its own pool: such copies would
//! repeat each other's values, so run one of these generators on all threads at once.

use crate::context::Context;
use crate::gen::{Gen, GenOp, Generator, Poll};
use rand::Rng;
use rift_history::Value;
use std::sync::Arc;

/// How the key of each micro-op is chosen from the active keys (Elle's `:key-dist`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum KeyDist {
    /// Every active key equally likely (Elle's `:uniform`).
    Uniform,
    /// Elle's `:exponential`: the active key in slot `i` is `base^i` times as likely as the
    /// one in slot 0 (with base 2 and 10 keys, the last slot gets about half of all
    /// micro-ops). A retired key's replacement takes its slot, so hot slots rotate keys fast
    /// while cold ones keep old keys alive for a long time.
    Exponential {
        /// The base (Elle's `:key-dist-base`, default 2); values at or below 1 act as uniform.
        base: f64,
    },
}

/// The shape of generated txns (Elle's `wr-txns` / `list-append/gen` options).
#[derive(Clone, Debug, PartialEq)]
pub struct TxnGenOptions {
    /// Keys in play at any time (at least 1).
    pub key_count: usize,
    /// Fewest micro-ops per txn (at least 1).
    pub min_txn_length: usize,
    /// Most micro-ops per txn (at least `min_txn_length`).
    pub max_txn_length: usize,
    /// Writes to a key before it is retired and a fresh key takes its slot (at least 1).
    pub max_writes_per_key: u64,
    /// How keys are chosen among the active ones.
    pub key_dist: KeyDist,
}

impl Default for TxnGenOptions {
    /// 3 keys chosen uniformly, 1 to 4 micro-ops, 32 writes a key (Elle's uniform defaults,
    /// with Jepsen's usual `max-txn-length` 4). Elle's own default distribution is
    /// exponential over 10 keys: see [`TxnGenOptions::elle`].
    fn default() -> TxnGenOptions {
        TxnGenOptions {
            key_count: 3,
            min_txn_length: 1,
            max_txn_length: 4,
            max_writes_per_key: 32,
            key_dist: KeyDist::Uniform,
        }
    }
}

impl TxnGenOptions {
    /// Elle's defaults when no option is given: 10 keys, exponential with base 2, 1 to 2
    /// micro-ops, 32 writes a key.
    pub fn elle() -> TxnGenOptions {
        TxnGenOptions {
            key_count: 10,
            min_txn_length: 1,
            max_txn_length: 2,
            max_writes_per_key: 32,
            key_dist: KeyDist::Exponential { base: 2.0 },
        }
    }
}

/// The keys in play and how often each was written.
#[derive(Clone, Debug)]
struct KeyPool {
    /// (key, writes so far) per slot.
    active: Vec<(i64, u64)>,
    /// The next fresh key (keys are never reused).
    next_key: i64,
}

impl KeyPool {
    fn new(n: usize) -> KeyPool {
        let n = n.max(1);
        KeyPool {
            active: (0..n as i64).map(|k| (k, 0)).collect(),
            next_key: n as i64,
        }
    }

    /// A write to slot `slot`: its key and the value to write (1, 2, ... per key: unique and
    /// increasing); a key that has had its writes is replaced by a fresh one first.
    fn write(&mut self, slot: usize, max_writes: u64) -> (i64, i64) {
        if self.active[slot].1 >= max_writes.max(1) {
            self.active[slot] = (self.next_key, 0);
            self.next_key += 1;
        }
        let entry = &mut self.active[slot];
        entry.1 += 1;
        (entry.0, entry.1 as i64)
    }
}

/// A slot in `0..n` drawn from `dist` (Elle's `rand-key`).
fn draw_slot(rng: &mut impl Rng, dist: KeyDist, n: usize) -> usize {
    match dist {
        KeyDist::Exponential { base } if base > 1.0 && n > 1 => {
            // Elle: u uniform in [0, scale) with scale = b (b^n - 1) / (b - 1); then
            // floor(log_b(u + b)) - 1 lands in slot i with probability b^(i+1) / scale.
            let scale = base * (base.powi(n as i32) - 1.0) / (base - 1.0);
            let u = rng.random::<f64>() * scale;
            let i = ((u + base).ln() / base.ln() - 1.0).floor();
            (i.max(0.0) as usize).min(n - 1)
        }
        _ => rng.random_range(0..n),
    }
}

/// Elle's txn generator as a pure [`Generator`] (see the module docs).
struct TxnGen {
    write_f: &'static str,
    opts: Arc<TxnGenOptions>,
    pool: Arc<KeyPool>,
}

impl TxnGen {
    /// One txn from `pool` (advanced in place), with the run's RNG.
    fn txn(&self, ctx: &Context, pool: &mut KeyPool) -> Value {
        let o = &self.opts;
        let min = o.min_txn_length.max(1);
        let max = o.max_txn_length.max(min);
        let mut rng = ctx.rng();
        let n = rng.random_range(min..=max);
        let mut mops = Vec::with_capacity(n);
        for _ in 0..n {
            let slot = draw_slot(&mut *rng, o.key_dist, pool.active.len());
            let mop = if rng.random_bool(0.5) {
                let (k, v) = pool.write(slot, o.max_writes_per_key);
                vec![Value::kw(self.write_f), Value::Int(k), Value::Int(v)]
            } else {
                vec![Value::kw("r"), Value::Int(pool.active[slot].0), Value::Nil]
            };
            mops.push(Value::Vector(mop));
        }
        Value::Vector(mops)
    }
}

impl Generator for TxnGen {
    fn op(&self, ctx: &Context) -> Poll {
        if ctx.free_thread_count() == 0 {
            return Poll::Pending;
        }
        let mut pool = (*self.pool).clone();
        let value = self.txn(ctx, &mut pool);
        match GenOp::invoke("txn", value).fill_in(ctx) {
            Some(op) => {
                let next = TxnGen {
                    write_f: self.write_f,
                    opts: self.opts.clone(),
                    pool: Arc::new(pool),
                };
                Poll::Op(op, Some(Box::new(next)))
            }
            None => Poll::Pending,
        }
    }
}

fn txn_generator(write_f: &'static str, o: TxnGenOptions) -> Gen {
    Box::new(TxnGen {
        write_f,
        pool: Arc::new(KeyPool::new(o.key_count)),
        opts: Arc::new(o),
    })
}

/// Jepsen's list-append txns (`elle.list-append/gen`): `{:f :txn, :value [[:r k nil]
/// [:append k v] ...]}`, `min..=max` micro-ops, each a read or an append (even odds) of a key
/// from the pool; values 1, 2, 3... per key (unique per key and increasing, as Elle needs);
/// a key is retired after `max_writes_per_key` appends. Never exhausted; pending while no
/// thread is free.
pub fn list_append_generator(o: TxnGenOptions) -> Gen {
    txn_generator("append", o)
}

/// Rw-register txns (`elle.txn/wr-txns`): `[[:r k nil] [:w k v] ...]`, the same shape as
/// [`list_append_generator`], values unique per key.
pub fn rw_register_generator(o: TxnGenOptions) -> Gen {
    txn_generator("w", o)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{simulate, stagger, SimConfig};
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;
    use rift_history::{OpType, Value};
    use std::collections::BTreeMap;

    /// Appended values per key, in invocation order.
    fn appends(g: Gen, n: usize) -> BTreeMap<i64, Vec<i64>> {
        let cfg = SimConfig {
            concurrency: 3,
            nemesis: false,
            seed: 11,
            max_ops: n,
        };
        let h = simulate(g, cfg, |op, _| (OpType::Ok, op.value.clone(), 1_000_000));
        let mut seen: BTreeMap<i64, Vec<i64>> = BTreeMap::new();
        for op in h.iter().filter(|op| op.ty == OpType::Invoke) {
            for m in op.value.as_seq().unwrap() {
                let m = m.as_seq().unwrap();
                if m[0] == Value::kw("append") {
                    let k = m[1].as_i64().unwrap();
                    seen.entry(k).or_default().push(m[2].as_i64().unwrap());
                }
            }
        }
        seen
    }

    #[test]
    fn discarded_offers_leave_no_gaps() {
        // stagger answers with future times, so most offers are discarded and re-asked.
        let o = TxnGenOptions {
            max_writes_per_key: 5,
            ..TxnGenOptions::default()
        };
        let seen = appends(stagger(3_000_000, list_append_generator(o)), 400);
        let last = *seen.keys().max().unwrap();
        for (k, vs) in &seen {
            let expect: Vec<i64> = (1..=vs.len() as i64).collect();
            assert_eq!(vs, &expect, "key {k}");
            // Retired keys had exactly their 5 writes; only the 3 active ones may have fewer.
            if *k <= last - 3 {
                assert_eq!(vs.len(), 5, "key {k}");
            }
        }
        assert!(seen.len() > 30, "{} keys", seen.len());
    }

    #[test]
    fn exponential_favours_the_last_slots() {
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let dist = KeyDist::Exponential { base: 2.0 };
        let mut counts = [0u32; 10];
        for _ in 0..100_000 {
            counts[draw_slot(&mut rng, dist, 10)] += 1;
        }
        // Slot i has probability 2^(i+1) / 2046: about 50% for slot 9, 0.1% for slot 0.
        assert!((49_000..51_000).contains(&counts[9]), "{counts:?}");
        assert!((24_000..26_000).contains(&counts[8]), "{counts:?}");
        assert!((50..200).contains(&counts[0]), "{counts:?}");
        assert!(counts.windows(2).all(|w| w[0] < w[1]), "{counts:?}");
        assert_eq!(
            draw_slot(&mut rng, KeyDist::Exponential { base: 2.0 }, 1),
            0
        );
    }

    #[test]
    fn elle_defaults_rotate_hot_slots_fastest() {
        let seen = appends(list_append_generator(TxnGenOptions::elle()), 3_000);
        // Keys 0..9 start in slots 0..9; slot 9's key is retired first, so key 10 replaces
        // it, and most later keys come from the hot slots too.
        assert!(seen.len() > 40, "{} keys", seen.len());
        assert!(seen.get(&0).is_none_or(|v| v.len() < 32), "slot 0 is cold");
        assert_eq!(seen[&9].len(), 32);
        for vs in seen.values() {
            let expect: Vec<i64> = (1..=vs.len() as i64).collect();
            assert_eq!(vs, &expect);
        }
    }
}
