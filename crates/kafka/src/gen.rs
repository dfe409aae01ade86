//! A generator of correct queue histories, for benchmarks and property tests: a simulated
//! Kafka where each op takes effect atomically at its completion. Processes `assign`
//! themselves keys, `send` (one to three values), `poll` (up to `max_poll` records per assigned
//! key), and run `txn`s mixing sends and a poll (the poll sees the log before the txn's own
//! sends; a committed txn leaves a marker offset after its sends, so offsets have gaps). Some
//! ops fail (no effect) or crash (`info`: the effect happens or not; the process is replaced).
//! A final phase assigns every key to a fresh process and polls until all is read.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rift_history::{Op, OpType, Value};

/// Generator options.
#[derive(Clone, Debug)]
pub struct GenOptions {
    /// Approximate number of history ops (invocations plus completions).
    pub ops: usize,
    /// Number of keys.
    pub keys: u32,
    /// Client threads.
    pub concurrency: u32,
    /// RNG seed (ChaCha8).
    pub seed: u64,
    /// Most records one poll returns per key.
    pub max_poll: usize,
    /// Probability an op fails.
    pub fail_p: f64,
    /// Probability an op crashes (`info`).
    pub info_p: f64,
}

impl Default for GenOptions {
    fn default() -> GenOptions {
        GenOptions {
            ops: 10_000,
            keys: 10,
            concurrency: 10,
            seed: 0,
            max_poll: 8,
            fail_p: 0.03,
            info_p: 0.01,
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Mop {
    Send(u32, i64),
    Poll,
}

struct Thread {
    process: i64,
    /// (key, next log index to read)
    assigned: Vec<(u32, usize)>,
    in_flight: Option<(String, Vec<Mop>, Vec<u32>)>,
}

struct Sim {
    rng: ChaCha8Rng,
    logs: Vec<Vec<(i64, i64)>>,
    next_offset: Vec<i64>,
    committed: Vec<usize>,
    next_value: i64,
    time: i64,
    out: Vec<Op>,
    o: GenOptions,
}

fn mops_value(mops: &[Mop]) -> Value {
    Value::Vector(
        mops.iter()
            .map(|m| match *m {
                Mop::Send(k, v) => Value::Vector(vec![Value::kw("send"), k.into(), v.into()]),
                Mop::Poll => Value::Vector(vec![Value::kw("poll")]),
            })
            .collect(),
    )
}

impl Sim {
    fn push(&mut self, mut op: Op) {
        self.time += self.rng.random_range(1_000..200_000);
        op.index = self.out.len() as u64;
        op.time = Some(self.time);
        self.out.push(op);
    }

    fn invoke(&mut self, t: &mut Thread) {
        let r: f64 = self.rng.random();
        let (f, mops, keys) = if t.assigned.is_empty() || r < 0.02 {
            let n = self.rng.random_range(5..=15).min(self.o.keys as usize);
            let mut ks: Vec<u32> = Vec::new();
            while ks.len() < n {
                let k = self.rng.random_range(0..self.o.keys);
                if !ks.contains(&k) {
                    ks.push(k);
                }
            }
            ("assign", Vec::new(), ks)
        } else if r < 0.45 {
            let n = self.rng.random_range(1..=3);
            (
                "send",
                (0..n).map(|_| self.send_mop()).collect(),
                Vec::new(),
            )
        } else if r < 0.9 {
            ("poll", vec![Mop::Poll], Vec::new())
        } else {
            let mut m: Vec<Mop> = (0..self.rng.random_range(1..=2))
                .map(|_| self.send_mop())
                .collect();
            let at = self.rng.random_range(0..=m.len());
            m.insert(at, Mop::Poll);
            ("txn", m, Vec::new())
        };
        let value = if f == "assign" {
            Value::Vector(keys.iter().map(|&k| k.into()).collect())
        } else {
            mops_value(&mops)
        };
        self.push(Op::invoke(t.process, f, value));
        t.in_flight = Some((f.to_string(), mops, keys));
    }

    fn send_mop(&mut self) -> Mop {
        self.next_value += 1;
        Mop::Send(self.rng.random_range(0..self.o.keys), self.next_value)
    }

    fn complete(&mut self, t: &mut Thread) {
        let Some((f, mops, keys)) = t.in_flight.take() else {
            return;
        };
        let r: f64 = self.rng.random();
        let ty = if r < self.o.fail_p {
            OpType::Fail
        } else if r < self.o.fail_p + self.o.info_p {
            OpType::Info
        } else {
            OpType::Ok
        };
        let value = if f == "assign" {
            if ty == OpType::Ok {
                let old = std::mem::take(&mut t.assigned);
                t.assigned = keys
                    .iter()
                    .map(|&k| match old.iter().find(|a| a.0 == k) {
                        Some(&a) => a,
                        None => (k, self.committed[k as usize]),
                    })
                    .collect();
            }
            Value::Vector(keys.iter().map(|&k| k.into()).collect())
        } else if ty == OpType::Ok {
            self.apply(t, &f, &mops)
        } else {
            if ty == OpType::Info && self.rng.random_bool(0.5) {
                // A crashed send may still take effect; nobody learns its offsets.
                self.append_sends(&f, &mops);
            }
            mops_value(&mops)
        };
        let mut op = Op::invoke(t.process, &f, value);
        op.ty = ty;
        self.push(op);
        if ty == OpType::Info {
            t.process += self.o.concurrency as i64;
            t.assigned.clear();
        }
    }

    /// Appends the sends of an op; returns their offsets in order.
    fn append_sends(&mut self, f: &str, mops: &[Mop]) -> Vec<i64> {
        let mut offsets = Vec::new();
        let mut touched: Vec<u32> = Vec::new();
        for m in mops {
            if let Mop::Send(k, v) = *m {
                let o = self.next_offset[k as usize];
                self.next_offset[k as usize] += 1;
                self.logs[k as usize].push((o, v));
                offsets.push(o);
                if !touched.contains(&k) {
                    touched.push(k);
                }
            }
        }
        if f == "txn" {
            for k in touched {
                self.next_offset[k as usize] += 1; // the commit marker
            }
        }
        offsets
    }

    /// Applies an ok send/poll/txn: polls first (they cannot see the op's own sends).
    fn apply(&mut self, t: &mut Thread, f: &str, mops: &[Mop]) -> Value {
        let mut polled: Vec<Value> = Vec::new();
        if mops.contains(&Mop::Poll) {
            polled.push(self.poll(t));
        }
        let offsets = self.append_sends(f, mops);
        let (mut oi, mut pi) = (0, 0);
        let out = mops
            .iter()
            .map(|m| match *m {
                Mop::Send(k, v) => {
                    oi += 1;
                    let pair = Value::Vector(vec![offsets[oi - 1].into(), v.into()]);
                    Value::Vector(vec![Value::kw("send"), k.into(), pair])
                }
                Mop::Poll => {
                    pi += 1;
                    let res = polled
                        .get(pi - 1)
                        .cloned()
                        .unwrap_or(Value::Map(Vec::new()));
                    Value::Vector(vec![Value::kw("poll"), res])
                }
            })
            .collect();
        Value::Vector(out)
    }

    fn poll(&mut self, t: &mut Thread) -> Value {
        let mut res = Vec::new();
        for (k, pos) in t.assigned.iter_mut() {
            let log = &self.logs[*k as usize];
            let n = self
                .rng
                .random_range(0..=self.o.max_poll)
                .min(log.len() - *pos);
            if n == 0 {
                continue;
            }
            let recs: Vec<Value> = log[*pos..*pos + n]
                .iter()
                .map(|&(o, v)| Value::Vector(vec![o.into(), v.into()]))
                .collect();
            *pos += n;
            let c = &mut self.committed[*k as usize];
            *c = (*c).max(*pos);
            res.push((Value::from(*k), Value::Vector(recs)));
        }
        Value::Map(res)
    }
}

/// Generates a correct history (see the module docs); deterministic for a seed.
pub fn generate(o: &GenOptions) -> Vec<Op> {
    let mut s = Sim {
        rng: ChaCha8Rng::seed_from_u64(o.seed),
        logs: vec![Vec::new(); o.keys as usize],
        next_offset: vec![0; o.keys as usize],
        committed: vec![0; o.keys as usize],
        next_value: 0,
        time: 0,
        out: Vec::with_capacity(o.ops + 1024),
        o: o.clone(),
    };
    let c = o.concurrency.max(1);
    let mut threads: Vec<Thread> = (0..c as i64)
        .map(|p| Thread {
            process: p,
            assigned: Vec::new(),
            in_flight: None,
        })
        .collect();
    let main = o.ops.saturating_sub(o.ops / 50);
    while s.out.len() < main {
        let i = s.rng.random_range(0..threads.len());
        let t = &mut threads[i];
        if t.in_flight.is_some() {
            s.complete(t);
        } else {
            s.invoke(t);
        }
    }
    for t in threads.iter_mut() {
        s.complete(t);
    }
    final_polls(&mut s, &mut threads[0]);
    s.out
}

fn final_polls(s: &mut Sim, t: &mut Thread) {
    t.process += s.o.concurrency as i64 * 1000;
    let keys: Vec<u32> = (0..s.o.keys).collect();
    let v = Value::Vector(keys.iter().map(|&k| k.into()).collect());
    let inv = Op::invoke(t.process, "assign", v.clone());
    s.push(inv.clone());
    s.push(inv.complete(OpType::Ok, v));
    t.assigned = keys.iter().map(|&k| (k, s.committed[k as usize])).collect();
    s.o.max_poll = s.o.max_poll.max(64);
    while t
        .assigned
        .iter()
        .any(|(k, p)| *p < s.logs[*k as usize].len())
    {
        let inv = Op::invoke(t.process, "poll", mops_value(&[Mop::Poll]));
        s.push(inv.clone());
        let res = s.poll(t);
        s.push(inv.complete(
            OpType::Ok,
            Value::Vector(vec![Value::Vector(vec![Value::kw("poll"), res])]),
        ));
    }
}
