//! Property tests: histories from a correct in-memory system under random concurrency are never
//! invalid; a planted fault makes them invalid with the right anomaly type.

use proptest::prelude::*;
use rift_checker::*;
use rift_history::{History, Op, OpType, Process, Value};
use std::collections::{BTreeMap, BTreeSet, VecDeque};

const WORKERS: usize = 3;

#[derive(Clone, Debug)]
struct Step {
    worker: usize,
    choice: u8,
    arg: i64,
    crash: bool,
}

fn steps() -> impl Strategy<Value = Vec<Step>> {
    let step = (
        0..WORKERS,
        any::<u8>(),
        0i64..20,
        prop::bool::weighted(0.12),
    )
        .prop_map(|(worker, choice, arg, crash)| Step {
            worker,
            choice,
            arg,
            crash,
        });
    prop::collection::vec(step, 0..120)
}

/// Runs workers against a model that applies each op atomically when it completes. A crashed
/// op is recorded `info`, may or may not have applied (`arg` parity, when `may_apply` allows),
/// and its worker continues as a new process.
fn simulate<S>(
    steps: &[Step],
    state: &mut S,
    gen: impl Fn(u8, i64, &mut i64) -> (&'static str, Value),
    apply: impl Fn(&mut S, &str, &Value) -> Option<Value>,
    may_apply: impl Fn(&str) -> bool,
) -> Vec<Op> {
    let mut ops = Vec::new();
    let mut process: Vec<i64> = (0..WORKERS as i64).collect();
    let mut busy: Vec<Option<Op>> = vec![None; WORKERS];
    let mut fresh = 0i64;
    for s in steps {
        let w = s.worker;
        match busy[w].take() {
            None => {
                let (f, v) = gen(s.choice, s.arg, &mut fresh);
                let op = Op::invoke(process[w], f, v);
                ops.push(op.clone());
                busy[w] = Some(op);
            }
            Some(inv) => {
                let f = inv.f_name().to_string();
                if s.crash {
                    if may_apply(&f) && s.arg % 2 == 0 {
                        apply(state, &f, &inv.value);
                    }
                    ops.push(inv.complete(OpType::Info, inv.value.clone()));
                    process[w] += WORKERS as i64;
                } else {
                    match apply(state, &f, &inv.value) {
                        Some(v) => ops.push(inv.complete(OpType::Ok, v)),
                        None => ops.push(inv.complete(OpType::Fail, inv.value.clone())),
                    }
                }
            }
        }
    }
    ops
}

/// A final op by a fresh process, invoked after everything else.
fn final_op(ops: &mut Vec<Op>, f: &str, result: Value) {
    let inv = Op::invoke(1000, f, Value::Nil);
    ops.push(inv.clone());
    ops.push(inv.complete(OpType::Ok, result));
}

fn history(mut ops: Vec<Op>) -> History {
    for (i, op) in ops.iter_mut().enumerate() {
        op.time = Some(i as i64 * 1000);
    }
    let mut nem = Op::new(
        OpType::Info,
        Process::Nemesis,
        Value::kw("kill"),
        Value::Nil,
    );
    nem.time = Some(0);
    ops.insert(0, nem);
    History::reindexed(ops).unwrap()
}

fn check(c: &dyn Checker, h: &History) -> CheckResult {
    c.check(&CheckContext::none(), h)
}

fn set_ops(steps: &[Step]) -> (Vec<Op>, BTreeSet<i64>) {
    let mut set = BTreeSet::new();
    let ops = simulate(
        steps,
        &mut set,
        |c, _, fresh| {
            if c % 3 == 0 {
                ("read", Value::Nil)
            } else {
                *fresh += 1;
                ("add", Value::Int(*fresh))
            }
        },
        |s: &mut BTreeSet<i64>, f, v| match f {
            "add" => {
                s.insert(v.as_i64().unwrap());
                Some(v.clone())
            }
            _ => Some(Value::Vector(s.iter().map(|&x| Value::Int(x)).collect())),
        },
        |f| f == "add",
    );
    (ops, set)
}

fn acked(ops: &[Op], f: &str) -> Vec<Value> {
    ops.iter()
        .filter(|o| o.is_ok() && o.f.is_name(f))
        .map(|o| o.value.clone())
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    #[test]
    fn correct_set_is_valid_and_lost_element_is_caught(steps in steps()) {
        let (mut ops, set) = set_ops(&steps);
        let good = set.iter().map(|&x| Value::Int(x)).collect::<Vec<_>>();
        let mut bad_ops = ops.clone();
        final_op(&mut ops, "read", Value::Vector(good.clone()));
        let h = history(ops);
        prop_assert_eq!(check(&Set, &h).valid, Validity::True);
        let full = check(&SetFull { linearizable: true }, &h);
        prop_assert!(full.valid != Validity::False, "{}", full.to_json_string());
        let acks = acked(&bad_ops, "add");
        if let Some(victim) = acks.first() {
            let read: Vec<Value> = good.into_iter().filter(|v| v != victim).collect();
            final_op(&mut bad_ops, "read", Value::Vector(read));
            let h = history(bad_ops);
            let r = check(&Set, &h);
            prop_assert_eq!(r.valid, Validity::False);
            prop_assert_eq!(r.anomaly_types.clone(), vec!["lost".to_string()]);
            let r = check(&SetFull::default(), &h);
            prop_assert_eq!(r.valid, Validity::False);
            prop_assert!(r.anomaly_types.contains(&"lost".to_string()));
        }
    }

    #[test]
    fn correct_queue_is_valid_and_faults_are_caught(steps in steps()) {
        let mut q = VecDeque::new();
        let mut ops = simulate(
            &steps,
            &mut q,
            |c, _, fresh| {
                if c % 2 == 0 {
                    ("dequeue", Value::Nil)
                } else {
                    *fresh += 1;
                    ("enqueue", Value::Int(*fresh))
                }
            },
            |q: &mut VecDeque<Value>, f, v| match f {
                "enqueue" => {
                    q.push_back(v.clone());
                    Some(v.clone())
                }
                _ => q.pop_front(),
            },
            |f| f == "enqueue",
        );
        let rest: Vec<Value> = q.into_iter().collect();
        let mut dup_ops = ops.clone();
        let mut lost_ops = ops.clone();
        final_op(&mut ops, "drain", Value::Vector(rest.clone()));
        let r = check(&TotalQueue, &history(ops));
        prop_assert_eq!(r.valid, Validity::True, "{}", r.to_json_string());
        prop_assert_eq!(&r.details["duplicated-count"], &serde_json::json!(0));
        let acks = acked(&dup_ops, "enqueue");
        if let Some(victim) = acks.first() {
            let mut twice = rest.clone();
            twice.push(victim.clone());
            twice.push(victim.clone());
            final_op(&mut dup_ops, "drain", Value::Vector(twice));
            let r = check(&TotalQueue, &history(dup_ops));
            // Jepsen's total-queue reports duplicates without failing.
            prop_assert!(r.details["duplicated-count"].as_u64().unwrap() >= 1);
            let dequeued: BTreeSet<Value> = acked(&lost_ops, "dequeue").into_iter().collect();
            if !dequeued.contains(victim) {
                let kept: Vec<Value> = rest.into_iter().filter(|v| v != victim).collect();
                final_op(&mut lost_ops, "drain", Value::Vector(kept));
                let r = check(&TotalQueue, &history(lost_ops));
                prop_assert_eq!(r.valid, Validity::False);
                prop_assert_eq!(r.anomaly_types.clone(), vec!["lost".to_string()]);
            }
        }
    }

    #[test]
    fn correct_counter_is_valid_and_wrong_read_is_caught(steps in steps()) {
        let mut n = 0i64;
        let mut ops = simulate(
            &steps,
            &mut n,
            |c, arg, _| if c % 3 == 0 { ("read", Value::Nil) } else { ("add", Value::Int(arg - 7)) },
            |n: &mut i64, f, v| match f {
                "add" => {
                    *n += v.as_i64().unwrap();
                    Some(v.clone())
                }
                _ => Some(Value::Int(*n)),
            },
            |f| f == "add",
        );
        let mut bad = ops.clone();
        final_op(&mut ops, "read", Value::Int(n));
        let r = check(&Counter, &history(ops));
        prop_assert_eq!(r.valid, Validity::True, "{}", r.to_json_string());
        final_op(&mut bad, "read", Value::Int(n + 10_000));
        let r = check(&Counter, &history(bad));
        prop_assert_eq!(r.valid, Validity::False);
        prop_assert_eq!(r.anomaly_types.clone(), vec!["out-of-bounds".to_string()]);
    }

    #[test]
    fn correct_bank_is_valid_and_wrong_total_is_caught(steps in steps()) {
        let mut accts: BTreeMap<i64, i64> = (0..5).map(|a| (a, if a == 0 { 100 } else { 0 })).collect();
        let read_of = |a: &BTreeMap<i64, i64>| {
            Value::Map(a.iter().map(|(&k, &v)| (Value::Int(k), Value::Int(v))).collect())
        };
        let mut ops = simulate(
            &steps,
            &mut accts,
            |c, arg, _| {
                if c % 2 == 0 {
                    ("read", Value::Nil)
                } else {
                    let from = i64::from(c % 5);
                    let to = (from + 1 + arg % 4) % 5;
                    let m = vec![
                        (Value::kw("from"), Value::Int(from)),
                        (Value::kw("to"), Value::Int(to)),
                        (Value::kw("amount"), Value::Int(arg + 1)),
                    ];
                    ("transfer", Value::Map(m))
                }
            },
            |a: &mut BTreeMap<i64, i64>, f, v| match f {
                "transfer" => {
                    let from = v.get("from").unwrap().as_i64().unwrap();
                    let to = v.get("to").unwrap().as_i64().unwrap();
                    let amount = v.get("amount").unwrap().as_i64().unwrap();
                    if a[&from] < amount {
                        return None;
                    }
                    *a.get_mut(&from).unwrap() -= amount;
                    *a.get_mut(&to).unwrap() += amount;
                    Some(v.clone())
                }
                _ => Some(read_of(a)),
            },
            |f| f == "transfer",
        );
        let mut bad = ops.clone();
        let first_read = Op::invoke(999, "read", Value::Nil);
        ops.insert(0, first_read.complete(OpType::Ok, read_of(&(0..5).map(|a| (a, if a == 0 { 100 } else { 0 })).collect())));
        ops.insert(0, first_read);
        final_op(&mut ops, "read", read_of(&accts));
        let r = check(&Bank { total: Some(100), ..Default::default() }, &history(ops.clone()));
        prop_assert_eq!(r.valid, Validity::True, "{}", r.to_json_string());
        prop_assert_eq!(check(&Bank::default(), &history(ops)).valid, Validity::True);
        *accts.get_mut(&3).unwrap() += 1;
        final_op(&mut bad, "read", read_of(&accts));
        let r = check(&Bank { total: Some(100), ..Default::default() }, &history(bad));
        prop_assert_eq!(r.valid, Validity::False);
        prop_assert_eq!(r.anomaly_types.clone(), vec!["wrong-total".to_string()]);
    }
}
