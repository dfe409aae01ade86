//! Deterministic simulations of the queue generator against a toy broker.

use super::*;
use rift_generator::{simulate, SimConfig};
use rift_history::{Process, Value};
use std::collections::{BTreeMap, BTreeSet};

const MS: i64 = 1_000_000;
const S: i64 = 1_000_000_000;

/// A toy broker: one log per key; each client process has its own consumer (assigned keys
/// and positions), so a crash (a new process) starts a fresh consumer.
#[derive(Default)]
struct Broker {
    logs: BTreeMap<i64, Vec<Value>>,
    consumers: BTreeMap<i64, BTreeMap<i64, usize>>,
    /// Most records per key per poll.
    batch: usize,
    /// Final polls (those with `poll-ms`) return nothing.
    stall_final: bool,
    latency_ns: i64,
}

impl Broker {
    fn new(batch: usize, latency_ns: i64) -> Broker {
        Broker {
            batch,
            latency_ns,
            ..Broker::default()
        }
    }

    fn complete(&mut self, op: &Op) -> (OpType, Value, i64) {
        let Process::Client(p) = op.process else {
            panic!("client ops only: {op:?}")
        };
        let lat = self.latency_ns;
        match op.f_name() {
            "crash" => (OpType::Info, Value::Nil, lat),
            "debug-topic-partitions" => {
                let m = keys_of(&op.value)
                    .into_iter()
                    .map(|k| (Value::Int(k), Value::Int(self.log(k).len() as i64)))
                    .collect();
                (OpType::Ok, Value::Map(m), lat)
            }
            "assign" | "subscribe" => {
                let seek = op.get_extra("seek-to-beginning?") == Some(&Value::Bool(true));
                let old = self.consumers.remove(&p).unwrap_or_default();
                let new = keys_of(&op.value)
                    .into_iter()
                    .map(|k| {
                        (
                            k,
                            if seek {
                                0
                            } else {
                                old.get(&k).copied().unwrap_or(0)
                            },
                        )
                    })
                    .collect();
                self.consumers.insert(p, new);
                (OpType::Ok, op.value.clone(), lat)
            }
            _ => {
                let stall = self.stall_final && op.get_extra("poll-ms").is_some();
                let mops = op.value.as_seq().unwrap();
                let done = mops.iter().map(|m| self.mop(p, m, stall)).collect();
                (OpType::Ok, Value::Vector(done), lat)
            }
        }
    }

    fn log(&mut self, k: i64) -> &mut Vec<Value> {
        self.logs.entry(k).or_default()
    }

    fn mop(&mut self, p: i64, mop: &Value, stall: bool) -> Value {
        let m = mop.as_seq().unwrap();
        if m[0].is_name("send") {
            let k = m[1].as_i64().unwrap();
            let log = self.log(k);
            log.push(m[2].clone());
            let offset = Value::Int(log.len() as i64 - 1);
            return Value::Vector(vec![
                m[0].clone(),
                m[1].clone(),
                Value::Vector(vec![offset, m[2].clone()]),
            ]);
        }
        let mut out = Vec::new();
        let positions = self.consumers.get(&p).cloned().unwrap_or_default();
        for (k, pos) in positions {
            let log = self.logs.get(&k).cloned().unwrap_or_default();
            let end = if stall {
                pos
            } else {
                (pos + self.batch).min(log.len())
            };
            if end > pos {
                let pairs = (pos..end)
                    .map(|o| Value::Vector(vec![Value::Int(o as i64), log[o].clone()]))
                    .collect();
                out.push((Value::Int(k), Value::Vector(pairs)));
                self.consumers.get_mut(&p).unwrap().insert(k, end);
            }
        }
        Value::Vector(vec![m[0].clone(), Value::Map(out)])
    }
}

fn keys_of(v: &Value) -> Vec<i64> {
    v.as_seq()
        .unwrap_or(&[])
        .iter()
        .map(|k| k.as_i64().unwrap())
        .collect()
}

fn cfg(concurrency: u32, seed: u64, max_ops: usize) -> SimConfig {
    SimConfig {
        concurrency,
        nemesis: false,
        seed,
        max_ops,
    }
}

fn run(g: Gen, c: SimConfig, broker: &mut Broker) -> Vec<Op> {
    simulate(g, c, |op, _| broker.complete(op))
}

fn invokes(h: &[Op]) -> Vec<&Op> {
    h.iter().filter(|op| op.ty == OpType::Invoke).collect()
}

fn opts(concurrency: u32) -> QueueGenOptions {
    QueueGenOptions {
        concurrency,
        ..QueueGenOptions::default()
    }
}

/// The main phase for `limit`, then (if given) the final phase, as the suite assembles it.
fn whole(o: &QueueGenOptions, rate_hz: f64, limit_ns: i64, fin: bool) -> (Gen, Offsets) {
    let (main, offsets) = main_generator(o);
    let last = fin.then(|| final_generator(o, offsets.clone()));
    let limit = Duration::from_nanos(limit_ns as u64);
    let g = rift_core::workload::assemble_final(main, last, rate_hz, limit, None);
    (g, offsets)
}

fn mop_fs(op: &Op) -> Vec<&str> {
    op.value
        .as_seq()
        .unwrap()
        .iter()
        .map(|m| m.as_seq().unwrap()[0].as_name().unwrap())
        .collect()
}

#[test]
fn without_txn_every_op_is_one_send_or_one_poll() {
    let (main, _) = main_generator(&opts(3));
    let h = run(main, cfg(3, 1, 4_000), &mut Broker::new(5, MS));
    let mut fs = BTreeMap::<&str, usize>::new();
    for op in invokes(&h) {
        *fs.entry(op.f_name()).or_default() += 1;
        match op.f_name() {
            "send" => {
                let m = op.value.as_seq().unwrap();
                assert_eq!(m.len(), 1, "{op:?}");
                let m = m[0].as_seq().unwrap();
                assert!(m[0].is_name("send") && m[1].as_i64().is_some() && m[2].as_i64().is_some());
            }
            "poll" => assert_eq!(op.value.to_string(), "[[:poll]]"),
            "subscribe" => assert!(op.value.as_seq().is_some()),
            other => panic!("unexpected f {other}"),
        }
    }
    assert!(fs["send"] > 1_500 && fs["poll"] > 1_500, "{fs:?}");
    assert!(fs["subscribe"] > 20, "{fs:?}");
}

#[test]
fn txns_mix_sends_and_polls_and_are_tagged_by_content() {
    let o = QueueGenOptions {
        txn: true,
        sub_via: vec!["assign".into(), "subscribe".into()],
        ..opts(3)
    };
    let (main, _) = main_generator(&o);
    let h = run(main, cfg(3, 2, 4_000), &mut Broker::new(5, MS));
    let mut fs = BTreeMap::<&str, usize>::new();
    let mut lengths = BTreeSet::new();
    for op in invokes(&h) {
        *fs.entry(op.f_name()).or_default() += 1;
        if matches!(op.f_name(), "assign" | "subscribe") {
            continue;
        }
        let kinds: BTreeSet<&str> = mop_fs(op).into_iter().collect();
        lengths.insert(op.value.as_seq().unwrap().len());
        let expect: &[&str] = match op.f_name() {
            "send" => &["send"],
            "poll" => &["poll"],
            "txn" => &["poll", "send"],
            other => panic!("unexpected f {other}"),
        };
        assert_eq!(kinds.into_iter().collect::<Vec<_>>(), expect, "{op:?}");
    }
    assert_eq!(lengths.into_iter().collect::<Vec<_>>(), [1, 2, 3, 4]);
    for f in ["send", "poll", "txn", "assign", "subscribe"] {
        assert!(fs.get(f).copied().unwrap_or(0) > 10, "{f}: {fs:?}");
    }
}

#[test]
fn subscribes_come_at_about_sub_p_with_recent_keys() {
    let o = QueueGenOptions {
        key_count: 3,
        key_dist: KeyDist::Uniform,
        max_writes_per_key: 16,
        ..opts(3)
    };
    let (main, _) = main_generator(&o);
    let h = run(main, cfg(3, 3, 20_000), &mut Broker::new(5, MS));
    let ops = invokes(&h);
    // Where each key was sent, by invocation number.
    let mut sent_at: BTreeMap<i64, Vec<usize>> = BTreeMap::new();
    for (i, op) in ops.iter().enumerate() {
        if op.f_name() == "send" {
            let k = op.value.as_seq().unwrap()[0].as_seq().unwrap()[1]
                .as_i64()
                .unwrap();
            sent_at.entry(k).or_default().push(i);
        }
    }
    let mut subs = 0;
    for (i, op) in ops
        .iter()
        .enumerate()
        .filter(|(_, op)| op.f_name() == "subscribe")
    {
        subs += 1;
        let unseen: BTreeSet<i64> = op
            .get_extra("unseen")
            .and_then(Value::as_map)
            .unwrap_or(&[])
            .iter()
            .map(|(k, _)| k.as_i64().unwrap())
            .collect();
        for k in keys_of(&op.value)
            .into_iter()
            .filter(|k| !unseen.contains(k))
        {
            // A key in play: sent within 60 ops around the subscribe (or never yet written).
            let near = sent_at
                .get(&k)
                .is_some_and(|at| at.iter().any(|&j| j.abs_diff(i) <= 60));
            assert!(
                near || k < 3,
                "op {i}: key {k} of {} is not recent",
                op.value
            );
        }
    }
    let expect = ops.len() as f64 / 64.0;
    let ratio = subs as f64 / expect;
    assert!(
        (0.8..1.2).contains(&ratio),
        "{subs} subscribes, {expect:.0} expected"
    );
}

#[test]
fn poll_unseen_widens_subscribes_with_lagging_keys() {
    let (main, _) = main_generator(&QueueGenOptions {
        sub_p: 0.1,
        ..opts(3)
    });
    // Nobody is assigned anything at first: sends pile up unseen.
    let h = run(main, cfg(3, 4, 3_000), &mut Broker::new(5, MS));
    let widened: Vec<&Op> = invokes(&h)
        .into_iter()
        .filter(|op| op.get_extra("unseen").is_some())
        .collect();
    let subs = invokes(&h)
        .iter()
        .filter(|op| op.f_name() == "subscribe")
        .count();
    let share = widened.len() as f64 / subs as f64;
    assert!((0.2..0.45).contains(&share), "{} of {subs}", widened.len());
    for op in widened {
        let unseen = op.get_extra("unseen").unwrap().as_map().unwrap();
        let keys = keys_of(&op.value);
        // Unseen keys come first, each with its offsets.
        for ((k, v), got) in unseen.iter().zip(&keys) {
            assert_eq!(k.as_i64(), Some(*got));
            assert!(
                v.get("sent").unwrap().as_i64().unwrap()
                    > v.get("polled").unwrap().as_i64().unwrap()
            );
        }
        assert_eq!(
            keys.len(),
            keys.iter().collect::<BTreeSet<_>>().len(),
            "distinct"
        );
    }
}

#[test]
fn keys_rotate_after_max_writes_and_values_are_unique_per_key() {
    let o = QueueGenOptions {
        txn: true,
        max_writes_per_key: 16,
        crash_clients: true,
        crash_client_interval_s: 1.0,
        ..opts(3)
    };
    // At 2 kHz under stagger, beside crashes: many offers are discarded and re-asked.
    let (g, _) = whole(&o, 2_000.0, 4 * S, false);
    let h = run(g, cfg(3, 5, 20_000), &mut Broker::new(5, MS));
    let mut values: BTreeMap<i64, Vec<i64>> = BTreeMap::new();
    for op in invokes(&h)
        .into_iter()
        .filter(|op| op.f_name() != "subscribe")
    {
        for m in op.value.as_seq().unwrap_or(&[]) {
            let m = m.as_seq().unwrap();
            if m[0].is_name("send") {
                values
                    .entry(m[1].as_i64().unwrap())
                    .or_default()
                    .push(m[2].as_i64().unwrap());
            }
        }
    }
    assert!(values.len() > 50, "{} keys", values.len());
    for (k, vs) in &values {
        let expect: Vec<i64> = (1..=vs.len() as i64).collect();
        assert_eq!(vs, &expect, "key {k}: 1, 2, ... in dispatch order");
    }
    // Only the keys still in play at the end have fewer than 16 writes.
    let partial = values.values().filter(|vs| vs.len() < 16).count();
    assert!(partial <= o.key_count, "{partial} partially written keys");
}

#[test]
fn crashes_come_every_interval_over_concurrency() {
    let o = QueueGenOptions {
        crash_clients: true,
        ..opts(3)
    };
    let (g, _) = whole(&o, 0.0, 300 * S, false);
    let h = run(g, cfg(3, 6, 100_000), &mut Broker::new(5, 100 * MS));
    let crashes: Vec<&Op> = invokes(&h)
        .into_iter()
        .filter(|op| op.f_name() == "crash")
        .collect();
    // 300 s at one crash every 30 / 3 s on average.
    assert!(
        (20..=40).contains(&crashes.len()),
        "{} crashes",
        crashes.len()
    );
    // A crashed thread comes back as process + concurrency.
    let procs: BTreeSet<i64> = invokes(&h)
        .iter()
        .filter_map(|op| match op.process {
            Process::Client(p) => Some(p),
            _ => None,
        })
        .collect();
    assert_eq!(procs.len(), 3 + crashes.len(), "{procs:?}");

    let (g, _) = whole(&opts(3), 0.0, 30 * S, false);
    let h = run(g, cfg(3, 6, 100_000), &mut Broker::new(5, 100 * MS));
    assert!(invokes(&h).iter().all(|op| op.f_name() != "crash"));
}

/// The final-phase ops of each thread (from its first `crash`), by thread.
fn final_ops_by_thread(h: &[Op], concurrency: i64) -> BTreeMap<i64, Vec<&Op>> {
    let mut out: BTreeMap<i64, Vec<&Op>> = BTreeMap::new();
    let mut started = BTreeSet::new();
    for op in invokes(h) {
        let Process::Client(p) = op.process else {
            continue;
        };
        let t = p % concurrency;
        if op.f_name() == "crash" {
            started.insert(t);
        }
        if started.contains(&t) {
            out.entry(t).or_default().push(op);
        }
    }
    out
}

/// The completion of invocation `inv` (the next op of its process), if it is ok.
fn ok_completion<'h>(h: &'h [Op], inv: &Op) -> Option<&'h Op> {
    let at = h.iter().position(|o| std::ptr::eq(o, inv))?;
    h[at + 1..]
        .iter()
        .find(|c| c.process == inv.process && c.ty != OpType::Invoke)
        .filter(|c| c.ty == OpType::Ok)
}

#[test]
fn final_polls_read_every_key_back_then_stop() {
    let o = QueueGenOptions {
        max_writes_per_key: 16,
        sub_via: vec!["assign".into()],
        ..opts(3)
    };
    let (g, offsets) = whole(&o, 0.0, S, true);
    let h = run(g, cfg(3, 7, 100_000), &mut Broker::new(4, MS));
    // The targets: the highest offset per key of every ok main-phase op.
    let first_final = h.iter().position(|op| op.f_name() == "crash").unwrap();
    let mut expect = BTreeMap::new();
    for op in h[..first_final].iter().filter(|op| op.ty == OpType::Ok) {
        merge_max(&mut expect, &max_offsets(op));
    }
    let targets = offsets.snapshot();
    assert_eq!(targets, expect);
    assert!(targets.len() > 20, "{} keys", targets.len());
    let all_keys = Value::Vector(targets.keys().map(|&k| Value::Int(k)).collect());

    let by_thread = final_ops_by_thread(&h, 3);
    assert_eq!(by_thread.len(), 3);
    for (t, ops) in by_thread {
        let fs: Vec<&str> = ops.iter().take(4).map(|op| op.f_name()).collect();
        assert_eq!(
            fs,
            ["crash", "debug-topic-partitions", "assign", "poll"],
            "thread {t}"
        );
        assert_eq!(ops[1].value, all_keys);
        assert_eq!(ops[2].value, all_keys);
        assert_eq!(
            ops[2].get_extra("seek-to-beginning?"),
            Some(&Value::Bool(true))
        );
        let mut left = targets.clone();
        for (i, op) in ops.iter().enumerate().skip(3) {
            assert_eq!(op.f_name(), "poll", "thread {t} caught up in one round");
            assert_eq!(op.get_extra("poll-ms"), Some(&Value::Int(1000)));
            let ok = ok_completion(&h, op).expect("polls succeed");
            let seen = max_offsets(ok);
            left.retain(|k, target| seen.get(k).is_none_or(|s| s < target));
            if left.is_empty() {
                assert_eq!(i, ops.len() - 1, "thread {t} stops once caught up");
            }
        }
        assert!(left.is_empty(), "thread {t} still waits for {left:?}");
    }
}

#[test]
fn final_polls_give_up_at_the_final_time_limit() {
    let o = QueueGenOptions {
        max_writes_per_key: 16,
        final_time_limit: Duration::from_secs(35),
        ..opts(2)
    };
    let (g, offsets) = whole(&o, 0.0, S, true);
    let mut broker = Broker::new(4, MS);
    broker.stall_final = true;
    let h = run(g, cfg(2, 8, 100_000), &mut broker);
    assert!(!offsets.snapshot().is_empty());
    let start = h
        .iter()
        .find(|op| op.f_name() == "crash")
        .unwrap()
        .time
        .unwrap();
    let last = invokes(&h).last().unwrap().time.unwrap();
    assert!(
        last < start + 35 * S && last > start + 34 * S,
        "{} s",
        (last - start) / S
    );
    for (t, ops) in final_ops_by_thread(&h, 2) {
        // A fresh round (crash, debug, assign) every 10 s: at about 0, 10, 20 and 30 s.
        let rounds: Vec<i64> = ops
            .iter()
            .enumerate()
            .filter(|(_, op)| op.f_name() == "crash")
            .map(|(i, op)| {
                assert_eq!(ops[i + 1].f_name(), "debug-topic-partitions");
                assert_eq!(ops[i + 2].f_name(), "assign");
                (op.time.unwrap() - start) / S
            })
            .collect();
        assert_eq!(rounds.len(), 4, "thread {t}: rounds at {rounds:?} s");
        assert!(
            rounds.windows(2).all(|w| (9..=10).contains(&(w[1] - w[0]))),
            "{rounds:?}"
        );
        let polls = ops.iter().filter(|op| op.f_name() == "poll").count();
        // About one poll every 200 ms (gaps uniform in [0, 400) ms), plus one at each round's
        // start.
        assert!((140..=220).contains(&polls), "thread {t}: {polls} polls");
    }
}

#[test]
fn no_tracked_offsets_means_no_final_polls() {
    let o = opts(2);
    let g = final_generator(&o, Offsets::new());
    let h = run(g, cfg(2, 9, 100), &mut Broker::new(4, MS));
    assert!(h.is_empty());
}

#[test]
fn the_same_seed_makes_the_same_ops() {
    let o = QueueGenOptions {
        txn: true,
        crash_clients: true,
        crash_client_interval_s: 2.0,
        sub_via: vec!["assign".into(), "subscribe".into()],
        ..opts(3)
    };
    let go = |seed| {
        let (g, _) = whole(&o, 500.0, 3 * S, true);
        run(g, cfg(3, seed, 50_000), &mut Broker::new(4, MS))
    };
    let a = go(10);
    assert!(a.len() > 2_000, "{}", a.len());
    assert_eq!(a, go(10));
    assert_ne!(a, go(11));
}

#[test]
fn offsets_of_completed_ops() {
    let mut op = Op::invoke(0, "txn", Value::Nil).complete(OpType::Ok, Value::Nil);
    let text = "[[:send 1 [3 10]] [:send 1 [5 11]] [:send 2 12] \
                [:poll {1 [[7 13] [6 14]], 3 [[nil 1]]}]]";
    op.value = rift_history::edn::parse_value(text).unwrap();
    assert_eq!(max_send_offsets(&op), BTreeMap::from([(1, 5)]));
    assert_eq!(max_poll_offsets(&op), BTreeMap::from([(1, 7), (3, -1)]));
    assert_eq!(max_offsets(&op), BTreeMap::from([(1, 7), (3, -1)]));
    op.ty = OpType::Fail;
    assert!(max_offsets(&op).is_empty(), "failed ops did nothing");
    let o = QueueGenOptions::default();
    assert_eq!(o.txn_options().max_txn_length, 1);
    let t = QueueGenOptions { txn: true, ..o }.txn_options();
    assert_eq!(
        (t.max_txn_length, t.key_count, t.max_writes_per_key),
        (4, 10, 1024)
    );
}
