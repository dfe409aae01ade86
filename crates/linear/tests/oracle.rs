//! The WGL search against a brute-force oracle on small random histories (<= 8 ops, several
//! models, with `info`, `fail` and never-completed ops).
//!
//! The oracle is independent of the search: it enumerates every order of the ops that respects
//! real time (an op whose completion precedes another's invocation goes first), with every
//! subset of the ops of unknown outcome, and steps the model along each order.

use proptest::prelude::*;
use proptest::strategy::ValueTree;
use rift_checker::Validity;
use rift_history::{History, Op, OpType, Process, Value};
use rift_linear::{check_history, model_by_name, Call, Model, Options};

/// One op for the oracle: invocation and completion positions, call, and whether it must
/// happen (`ok`) or may (`info`, pending).
struct OracleOp {
    invoke: usize,
    complete: Option<usize>,
    call: Call,
}

fn oracle_ops(h: &History) -> Vec<OracleOp> {
    let mut v = Vec::new();
    for (pos, op) in h.ops().iter().enumerate() {
        if !op.is_invoke() {
            continue;
        }
        let comp = h.pair_of(pos).map(|p| (p, &h.ops()[p]));
        match comp {
            Some((_, c)) if c.is_fail() => continue,
            Some((p, c)) if c.is_ok() => v.push(OracleOp {
                invoke: pos,
                complete: Some(p),
                call: Call::of(op, Some(c)),
            }),
            _ => v.push(OracleOp {
                invoke: pos,
                complete: None,
                call: Call::of(op, None),
            }),
        }
    }
    v
}

/// True when some order explains the history.
fn oracle(model: &dyn Model, h: &History) -> bool {
    let ops = oracle_ops(h);
    let mut used = vec![false; ops.len()];
    explore(model, &ops, &mut used, &model.init())
}

fn explore(model: &dyn Model, ops: &[OracleOp], used: &mut [bool], state: &Value) -> bool {
    if ops
        .iter()
        .zip(used.iter())
        .all(|(o, &u)| u || o.complete.is_none())
    {
        return true;
    }
    for i in 0..ops.len() {
        if used[i] {
            continue;
        }
        // `i` can go next only if no unused op completed before it was invoked.
        let blocked = ops
            .iter()
            .zip(used.iter())
            .any(|(o, &u)| !u && o.complete.is_some_and(|c| c < ops[i].invoke));
        if blocked {
            continue;
        }
        if let Some(next) = model.step(state, &ops[i].call) {
            used[i] = true;
            let found = explore(model, ops, used, &next);
            used[i] = false;
            if found {
                return true;
            }
        }
    }
    false
}

/// A random event script: (process slot, is completion, completion type, value choices).
#[derive(Clone, Debug)]
struct Script {
    model: usize,
    events: Vec<(u8, u8, u8, u8)>,
}

const MODELS: &[&str] = &[
    "register",
    "cas-register",
    "mutex",
    "set",
    "fifo-queue",
    "unordered-queue",
    "kv",
];

fn invocation(model: &str, a: u8, b: u8) -> (&'static str, Value, Option<&'static str>) {
    let small = |x: u8| Value::Int(i64::from(x % 3));
    match model {
        "register" => match a % 2 {
            0 => ("write", small(b), None),
            _ => ("read", Value::Nil, None),
        },
        "cas-register" => match a % 3 {
            0 => ("write", small(b), None),
            1 => ("read", Value::Nil, None),
            _ => ("cas", Value::Vector(vec![small(b), small(b / 3)]), None),
        },
        "mutex" => (
            if a & 1 == 0 { "acquire" } else { "release" },
            Value::Nil,
            None,
        ),
        "set" => match a % 2 {
            0 => ("add", small(b), None),
            _ => ("read", Value::Nil, None),
        },
        "fifo-queue" | "unordered-queue" => match a % 2 {
            0 => ("enqueue", small(b), None),
            _ => ("dequeue", Value::Nil, None),
        },
        _ => {
            let key = if b & 1 == 0 { "k1" } else { "k2" };
            match a % 3 {
                0 => (
                    "put",
                    Value::str(["a", "b"][(b / 2 % 2) as usize]),
                    Some(key),
                ),
                1 => (
                    "append",
                    Value::str(["a", "b"][(b / 2 % 2) as usize]),
                    Some(key),
                ),
                _ => ("get", Value::Nil, Some(key)),
            }
        }
    }
}

/// The completion value of an `ok` op: reads return a random plausible value.
fn ok_value(model: &str, f: &str, input: &Value, c: u8) -> Value {
    let small = |x: u8| Value::Int(i64::from(x % 3));
    match (model, f) {
        ("register" | "cas-register", "read") => {
            if c % 4 == 3 {
                Value::Nil
            } else {
                small(c)
            }
        }
        ("set", "read") => {
            Value::Vector((0..3).filter(|i| c >> i & 1 == 1).map(Value::Int).collect())
        }
        (_, "dequeue") => {
            if c % 4 == 3 {
                Value::Nil
            } else {
                small(c)
            }
        }
        ("kv", "get") => Value::str(["", "a", "b", "ab", "ba", "aa"][(c % 6) as usize]),
        _ => input.clone(),
    }
}

/// Builds a Jepsen-shaped history from a script: up to 3 live processes; a process that gets
/// `info` is replaced by a fresh one; at most 8 invocations.
fn build(script: &Script) -> History {
    let model = MODELS[script.model];
    let mut ops = Vec::new();
    let mut slots: [Option<(i64, Op)>; 3] = [None, None, None];
    let mut next_process = [0i64, 1, 2];
    let mut invoked = 0;
    for &(slot, kind, ty, val) in &script.events {
        let s = (slot % 3) as usize;
        match slots[s].take() {
            None if invoked < 8 => {
                let (f, input, key) = invocation(model, kind, val);
                let mut op = Op::new(
                    OpType::Invoke,
                    Process::Client(next_process[s]),
                    Value::kw(f),
                    input,
                );
                if let Some(k) = key {
                    op.set_extra("key", Value::str(k));
                }
                ops.push(op.clone());
                slots[s] = Some((next_process[s], op));
                invoked += 1;
            }
            None => {}
            Some((_, inv)) => {
                let t = match ty % 8 {
                    0 => OpType::Fail,
                    1 => OpType::Info,
                    _ => OpType::Ok,
                };
                let value = if t == OpType::Ok {
                    ok_value(model, inv.f_name(), &inv.value, val)
                } else {
                    inv.value.clone()
                };
                ops.push(inv.complete(t, value));
                if t == OpType::Info {
                    next_process[s] += 3;
                }
            }
        }
    }
    History::reindexed(ops).expect("well-formed history")
}

fn script() -> impl Strategy<Value = Script> {
    (
        0..MODELS.len(),
        prop::collection::vec(any::<(u8, u8, u8, u8)>(), 4..24),
    )
        .prop_map(|(model, events)| Script { model, events })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 6000, ..ProptestConfig::default() })]

    #[test]
    fn wgl_agrees_with_brute_force(s in script()) {
        let h = build(&s);
        let name = MODELS[s.model];
        let model = model_by_name(name).unwrap();
        let expected = oracle(&*model, &h);
        for split in [true, false] {
            let opts = Options { split_by_key: split, ..Options::default() };
            let out = check_history(&h, &*model, &opts);
            prop_assert_eq!(
                out.valid,
                Validity::from_bool(expected),
                "model {} split {} history:\n{}",
                name,
                split,
                h.ops().iter().map(|o| o.to_string()).collect::<Vec<_>>().join("\n")
            );
            prop_assert_eq!(out.counterexample.is_some(), !expected);
        }
    }
}

#[test]
fn oracle_sees_both_verdicts() {
    // The generator must produce linearizable and non-linearizable histories for the
    // comparison to mean anything.
    let mut runner = proptest::test_runner::TestRunner::deterministic();
    let (mut yes, mut no) = (0, 0);
    for _ in 0..2000 {
        let s = script().new_tree(&mut runner).unwrap().current();
        let h = build(&s);
        let model = model_by_name(MODELS[s.model]).unwrap();
        if oracle(&*model, &h) {
            yes += 1;
        } else {
            no += 1;
        }
    }
    assert!(yes > 300 && no > 300, "linearizable {yes}, not {no}");
}
