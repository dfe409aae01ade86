//! The built-in models step by step, and a user-defined model.

use rift_checker::Validity;
use rift_history::{History, Op, OpType, Value};
use rift_linear::{
    check_history, model_by_name, model_named, model_names, Call, Model, MultiRegister, Options,
};

fn v(i: i64) -> Value {
    Value::Int(i)
}

fn vec_of(xs: &[i64]) -> Value {
    Value::Vector(xs.iter().map(|&x| Value::Int(x)).collect())
}

#[test]
fn names_and_aliases() {
    assert_eq!(model_names().len(), 8);
    for name in model_names() {
        assert_eq!(model_by_name(name).unwrap().name(), *name);
    }
    assert_eq!(model_by_name("queue").unwrap().name(), "fifo-queue");
    let e = model_named("bogus").err().unwrap().to_string();
    assert!(
        e.starts_with("unknown model \"bogus\"; valid names: register, cas-register"),
        "{e}"
    );
}

#[test]
fn cas_register_steps() {
    let m = model_by_name("cas-register").unwrap();
    let s = m.init();
    assert_eq!(s, Value::Nil);
    let s = m.step(&s, &Call::ok("write", v(1), v(1))).unwrap();
    assert_eq!(s, v(1));
    assert_eq!(m.step(&s, &Call::ok("read", Value::Nil, v(1))), Some(v(1)));
    assert_eq!(m.step(&s, &Call::ok("read", Value::Nil, Value::Nil)), None);
    let cas = Call::ok("cas", vec_of(&[1, 2]), Value::Nil);
    assert_eq!(m.step(&s, &cas), Some(v(2)));
    assert_eq!(m.step(&v(3), &cas), None);
    assert_eq!(m.explain(&v(3), &cas), "can't CAS 3 from 1 to 2");
    assert_eq!(m.step(&s, &Call::unknown("read", Value::Nil)), Some(v(1)));
    assert!(m.is_read_only(&Call::unknown("read", Value::Nil)));
    assert_eq!(m.step(&s, &Call::ok("frob", Value::Nil, Value::Nil)), None);
    assert_eq!(
        m.explain(&s, &Call::ok("frob", Value::Nil, Value::Nil)),
        "cas-register has no function \"frob\""
    );
    // A read of 5 needs a pending write of 5 (or cas to 5), unless 5 is already there.
    let read5 = Call::ok("read", Value::Nil, v(5));
    let w5 = Call::unknown("write", v(5));
    let cas5 = Call::ok("cas", vec_of(&[0, 5]), Value::Nil);
    assert!(!m.may_become_legal(&s, &read5, &mut std::iter::empty()));
    assert!(m.may_become_legal(&s, &read5, &mut [&w5].into_iter()));
    assert!(m.may_become_legal(&s, &read5, &mut [&cas5].into_iter()));
    assert!(m.may_become_legal(&v(5), &read5, &mut std::iter::empty()));
    // The plain register has no cas.
    assert_eq!(model_by_name("register").unwrap().step(&s, &cas), None);
}

#[test]
fn mutex_steps() {
    let m = model_by_name("mutex").unwrap();
    let free = m.init();
    let held = m
        .step(&free, &Call::ok("acquire", Value::Nil, Value::Nil))
        .unwrap();
    assert_eq!(held, Value::Bool(true));
    assert_eq!(
        m.step(&held, &Call::ok("acquire", Value::Nil, Value::Nil)),
        None
    );
    assert_eq!(
        m.step(&held, &Call::ok("release", Value::Nil, Value::Nil)),
        Some(free.clone())
    );
    assert_eq!(
        m.explain(&free, &Call::ok("release", Value::Nil, Value::Nil)),
        "can't release a free mutex"
    );
}

#[test]
fn set_steps() {
    let m = model_by_name("set").unwrap();
    let s = m.step(&m.init(), &Call::ok("add", v(2), v(2))).unwrap();
    let s = m.step(&s, &Call::ok("add", v(1), v(1))).unwrap();
    assert_eq!(s, vec_of(&[1, 2]));
    let read = |xs: &[i64]| Call::ok("read", Value::Nil, vec_of(xs));
    assert!(m.step(&s, &read(&[2, 1])).is_some());
    assert!(m.step(&s, &read(&[1])).is_none());
    assert!(m.step(&s, &read(&[1, 2, 2])).is_none());
    assert!(m.may_become_legal(&s, &read(&[1, 2, 3]), &mut std::iter::empty()));
    assert!(!m.may_become_legal(&s, &read(&[2, 3]), &mut std::iter::empty()));
}

#[test]
fn queues_steps() {
    let fifo = model_by_name("fifo-queue").unwrap();
    let s = fifo
        .step(&fifo.init(), &Call::ok("enqueue", v(1), v(1)))
        .unwrap();
    let s = fifo.step(&s, &Call::ok("enqueue", v(2), v(2))).unwrap();
    assert_eq!(fifo.step(&s, &Call::ok("dequeue", Value::Nil, v(2))), None);
    assert_eq!(
        fifo.step(&s, &Call::ok("dequeue", Value::Nil, v(1))),
        Some(vec_of(&[2]))
    );
    assert_eq!(
        fifo.step(&fifo.init(), &Call::ok("dequeue", Value::Nil, Value::Nil)),
        Some(vec_of(&[]))
    );
    assert_eq!(
        fifo.step(&s, &Call::ok("dequeue", Value::Nil, Value::Nil)),
        None
    );
    let un = model_by_name("unordered-queue").unwrap();
    let s = un
        .step(&un.init(), &Call::ok("enqueue", v(1), v(1)))
        .unwrap();
    let s = un.step(&s, &Call::ok("enqueue", v(2), v(2))).unwrap();
    assert_eq!(
        un.step(&s, &Call::ok("dequeue", Value::Nil, v(2))),
        Some(vec_of(&[1]))
    );
    assert_eq!(un.step(&s, &Call::ok("dequeue", Value::Nil, v(3))), None);
    assert_eq!(
        un.step(&s, &Call::unknown("dequeue", Value::Nil)),
        Some(vec_of(&[2]))
    );
}

#[test]
fn kv_steps_and_partitions() {
    let m = model_by_name("kv").unwrap();
    let call = |f: &str, key: &str, input: &str, out: Option<&str>| Call {
        f: f.into(),
        input: Value::str(input),
        output: out.map(Value::str),
        key: Some(Value::str(key)),
    };
    let s = m.step(&m.init(), &call("append", "a", "x", None)).unwrap();
    let s = m.step(&s, &call("append", "a", "y", None)).unwrap();
    let s = m.step(&s, &call("put", "b", "z", None)).unwrap();
    let flat = Value::Vector(vec![
        Value::str("a"),
        Value::str("xy"),
        Value::str("b"),
        Value::str("z"),
    ]);
    assert_eq!(s, flat);
    assert!(m.step(&s, &call("get", "a", "", Some("xy"))).is_some());
    assert!(m.step(&s, &call("get", "c", "", Some(""))).is_some());
    assert!(m.step(&s, &call("get", "a", "", Some("x"))).is_none());
    assert_eq!(
        m.partition(&call("get", "q", "", None)),
        Some(Value::str("q"))
    );
    // Appends only extend: "xy" can still become "xyz", never "x".
    let get = |o: &str| call("get", "a", "", Some(o));
    assert!(m.may_become_legal(&s, &get("xyz"), &mut std::iter::empty()));
    assert!(!m.may_become_legal(&s, &get("x"), &mut std::iter::empty()));
    let put = call("put", "a", "x", None);
    assert!(m.may_become_legal(&s, &get("x"), &mut [&put].into_iter()));
}

#[test]
fn multi_register_txns() {
    let m = MultiRegister {
        initial: vec![(Value::kw("x"), v(0))],
    };
    let txn = |mops: Vec<(&str, &str, Value)>| {
        Value::Vector(
            mops.into_iter()
                .map(|(f, k, x)| Value::Vector(vec![Value::kw(f), Value::kw(k), x]))
                .collect(),
        )
    };
    let w = txn(vec![("write", "y", v(2)), ("read", "x", Value::Nil)]);
    let s = m
        .step(
            &m.init(),
            &Call::ok(
                "txn",
                w.clone(),
                txn(vec![("write", "y", v(2)), ("read", "x", v(0))]),
            ),
        )
        .unwrap();
    assert_eq!(
        s,
        Value::Vector(vec![Value::kw("x"), v(0), Value::kw("y"), v(2)])
    );
    let bad = Call::ok(
        "txn",
        w,
        txn(vec![("write", "y", v(2)), ("read", "x", v(1))]),
    );
    assert_eq!(m.step(&m.init(), &bad), None);
    assert_eq!(m.explain(&m.init(), &bad), "can't read :x = 1: it is 0");
    assert!(m.is_read_only(&Call::unknown("txn", txn(vec![("read", "x", Value::Nil)]))));
}

/// A user model: a counter that only increments, read returns the count.
struct Counter;

impl Model for Counter {
    fn name(&self) -> &str {
        "counter"
    }
    fn init(&self) -> Value {
        Value::Int(0)
    }
    fn step(&self, state: &Value, call: &Call) -> Option<Value> {
        let n = state.as_i64()?;
        match (call.f.as_str(), &call.output) {
            ("incr", _) => Some(Value::Int(n + 1)),
            ("read", Some(out)) => (out.as_i64() == Some(n)).then(|| state.clone()),
            ("read", None) => Some(state.clone()),
            _ => None,
        }
    }
    fn is_read_only(&self, call: &Call) -> bool {
        call.f == "read"
    }
}

#[test]
fn user_models_plug_in() {
    let i = Op::invoke(0, "incr", Value::Nil);
    let r = Op::invoke(1, "read", Value::Nil);
    let ok = History::reindexed(vec![
        i.clone(),
        r.clone(),
        r.complete(OpType::Ok, v(1)), // concurrent with the increment: fine
        i.complete(OpType::Ok, Value::Nil),
    ])
    .unwrap();
    assert_eq!(
        check_history(&ok, &Counter, &Options::default()).valid,
        Validity::True
    );
    let bad = History::reindexed(vec![
        i.clone(),
        i.complete(OpType::Ok, Value::Nil),
        r.clone(),
        r.complete(OpType::Ok, v(0)),
    ])
    .unwrap();
    let out = check_history(&bad, &Counter, &Options::default());
    assert_eq!(out.valid, Validity::False);
    let attempt = &out.counterexample.unwrap().attempts[0];
    assert_eq!(
        attempt.result,
        Err("read nil -> 0 is impossible in state 1".to_string())
    );
}
