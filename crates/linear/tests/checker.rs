//! The `linearizable` checker, the `independent` wrapper, budgets, counterexamples and the
//! rendered artifact.

use rift_checker::{CheckContext, Checker, Validity};
use rift_history::{read_ops_file, History, Op, OpType, Process, Value};
use rift_linear::{
    check_history, independent, linearizable, model_by_name, split_by_key, CasRegister, Options,
};
use std::path::Path;
use std::time::Duration;

fn ops(list: &[(i64, &str, Value, OpType, Value)]) -> Vec<Op> {
    // Each entry invokes and completes at once, in order: a sequential history.
    let mut v = Vec::new();
    for (p, f, input, ty, output) in list {
        let inv = Op::invoke(*p, f, input.clone());
        v.push(inv.clone());
        v.push(inv.complete(*ty, output.clone()));
    }
    v
}

fn stale_history() -> History {
    History::reindexed(ops(&[
        (0, "write", 1.into(), OpType::Ok, 1.into()),
        (
            1,
            "cas",
            Value::Vector(vec![1.into(), 2.into()]),
            OpType::Ok,
            Value::Nil,
        ),
        (2, "read", Value::Nil, OpType::Ok, 1.into()),
    ]))
    .unwrap()
}

#[test]
fn result_json_names_the_failing_op_and_state() {
    let dir = tempfile::tempdir().unwrap();
    let checker = linearizable(model_by_name("cas-register").unwrap(), Options::default());
    let r = checker.check(&CheckContext::in_dir(dir.path()), &stale_history());
    assert_eq!(r.valid, Validity::False);
    assert_eq!(r.anomaly_types, ["nonlinearizable"]);
    let j = r.to_json();
    assert_eq!(j["model"], "cas-register");
    assert_eq!(j["analyzer"], "wgl");
    assert_eq!(j["op-count"], 3);
    let cex = &j["counterexample"];
    assert_eq!(cex["op"]["index"], 5);
    assert_eq!(cex["op"]["f"], "read");
    assert_eq!(cex["prefix-length"], 2);
    assert_eq!(cex["linearized"], serde_json::json!([0, 2]));
    assert_eq!(cex["states"], serde_json::json!([2]));
    assert_eq!(cex["attempts"][0]["result"], "can't read 1 from register 2");
    let svg = std::fs::read_to_string(dir.path().join("linear.svg")).unwrap();
    assert!(svg.starts_with("<svg"), "{svg}");
    assert!(svg.contains("could not be linearized"));
    assert!(svg.contains("linearized #2"));
    assert!(svg.contains("read nil → 1"));
    assert!(svg.trim_end().ends_with("</svg>"));
}

#[test]
fn valid_history_writes_no_artifact() {
    let dir = tempfile::tempdir().unwrap();
    let h = History::reindexed(ops(&[
        (0, "write", 1.into(), OpType::Ok, 1.into()),
        (1, "read", Value::Nil, OpType::Ok, 1.into()),
        (
            2,
            "cas",
            Value::Vector(vec![2.into(), 3.into()]),
            OpType::Fail,
            Value::Nil,
        ),
    ]))
    .unwrap();
    let checker = linearizable(model_by_name("cas-register").unwrap(), Options::default());
    let r = checker.check(&CheckContext::in_dir(dir.path()), &h);
    assert_eq!(r.valid, Validity::True);
    assert_eq!(r.to_json()["failed-count"], 1);
    assert!(!dir.path().join("linear.svg").exists());
}

#[test]
fn budgets_give_unknown_with_a_reason() {
    let path = Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/data/porcupine/kv/c10-bad.txt"
    ));
    let h = History::new(read_ops_file(path).unwrap().0).unwrap();
    let kv = model_by_name("kv").unwrap();
    let unsplit = Options {
        split_by_key: false,
        time_budget: Duration::ZERO,
        ..Options::default()
    };
    let out = check_history(&h, &*kv, &unsplit);
    assert_eq!(out.valid, Validity::Unknown);
    assert_eq!(out.reason.as_deref(), Some("time budget exhausted"));
    let tiny_memory = Options {
        split_by_key: false,
        memory_budget_bytes: 1 << 10,
        ..Options::default()
    };
    let out = check_history(&h, &*kv, &tiny_memory);
    assert_eq!(out.valid, Validity::Unknown);
    assert!(out.reason.unwrap().starts_with("memory budget exhausted"));
}

#[test]
fn empty_and_failed_only_histories_are_linearizable() {
    let model = CasRegister::default();
    let empty = History::default();
    assert_eq!(
        check_history(&empty, &model, &Options::default()).valid,
        Validity::True
    );
    let failed =
        History::reindexed(ops(&[(0, "write", 3.into(), OpType::Fail, 3.into())])).unwrap();
    let out = check_history(&failed, &model, &Options::default());
    assert_eq!(out.valid, Validity::True);
    assert_eq!(out.prepared.failed, 1);
    assert_eq!(out.partitions, 0);
}

fn tuple(k: i64, v: Value) -> Value {
    Value::Vector(vec![Value::Int(k), v])
}

#[test]
fn independent_splits_tuples_and_shares_the_nemesis() {
    let mut v = Vec::new();
    let w = Op::invoke(0, "write", tuple(1, 5.into()));
    v.push(w.clone());
    v.push(w.complete(OpType::Ok, tuple(1, 5.into())));
    let mut nem = Op::new(
        OpType::Info,
        Process::Nemesis,
        Value::kw("start"),
        Value::Nil,
    );
    nem.time = None;
    v.push(nem);
    let r = Op::invoke(1, "read", tuple(2, Value::Nil));
    v.push(r.clone());
    v.push(r.complete(OpType::Ok, tuple(2, 5.into()))); // key 2 was never written
    let r1 = Op::invoke(2, "read", tuple(1, Value::Nil));
    v.push(r1.clone());
    v.push(r1.complete(OpType::Ok, tuple(1, 5.into())));
    let h = History::reindexed(v).unwrap();

    let subs = split_by_key(&h);
    assert_eq!(subs.len(), 2);
    assert_eq!(subs[0].0, Value::Int(1));
    assert_eq!(subs[0].1.len(), 5); // 4 client ops + the nemesis op
    assert_eq!(subs[0].1.ops()[0].value, Value::Int(5));
    assert_eq!(subs[1].1.ops()[2].value, Value::Int(5));

    let dir = tempfile::tempdir().unwrap();
    let checker = independent(linearizable(
        model_by_name("cas-register").unwrap(),
        Options::default(),
    ));
    let res = checker.check(&CheckContext::in_dir(dir.path()), &h);
    assert_eq!(res.valid, Validity::False);
    let j = res.to_json();
    assert_eq!(j["failures"], serde_json::json!(["2"]));
    assert_eq!(j["results"]["1"]["valid?"], true);
    assert_eq!(j["results"]["2"]["valid?"], false);
    assert_eq!(j["nemesis-op-count"], 1);
    let per_key = std::fs::read_to_string(dir.path().join("independent/2/results.json")).unwrap();
    assert!(per_key.starts_with("{\n  \"valid?\": false"), "{per_key}");
    assert!(dir.path().join("independent/2/linear.svg").exists());
    assert!(!dir.path().join("independent/1/linear.svg").exists());
}

#[test]
fn c50_bad_artifact_is_small() {
    let path = Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/data/porcupine/kv/c50-bad.txt"
    ));
    let h = History::new(read_ops_file(path).unwrap().0).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let opts = Options {
        artifact_dir: Some(dir.path().to_path_buf()),
        ..Options::default()
    };
    let out = check_history(&h, &*model_by_name("kv").unwrap(), &opts);
    assert_eq!(out.valid, Validity::False);
    let cex = out.counterexample.unwrap();
    assert!(cex.key.is_some());
    let svg = std::fs::metadata(dir.path().join("linear.svg"))
        .unwrap()
        .len();
    assert!(svg > 1000 && svg < 400_000, "linear.svg is {svg} bytes");
}
