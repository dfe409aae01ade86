mod common;

use common::B;
use rift_checker::*;
use rift_history::{Op, OpType, Process, Value};
use serde_json::json;

fn ctx() -> CheckContext {
    CheckContext::none()
}

#[test]
fn stats_counts_by_f_and_ignores_nemesis() {
    let h = B::new()
        .inv(0, "read", Value::Nil)
        .ok(0, "read", 1)
        .inv(1, "write", 2)
        .fail(1, "write", 2)
        .inv(2, "write", 3)
        .info(2, "write", 3)
        .inv(1, "write", 4)
        .ok(1, "write", 4)
        .nemesis("start-partition")
        .inv(3, "read", Value::Nil) // pending: not counted
        .build();
    let r = Stats.check(&ctx(), &h);
    assert_eq!(
        r.to_json(),
        json!({"valid?": true, "count": 4, "ok-count": 2, "fail-count": 1, "info-count": 1,
            "by-f": {
                "read": {"valid?": true, "count": 1, "ok-count": 1, "fail-count": 0, "info-count": 0},
                "write": {"valid?": true, "count": 3, "ok-count": 1, "fail-count": 1, "info-count": 1}}})
    );
}

#[test]
fn stats_invalid_when_an_f_never_succeeds() {
    let h = B::new()
        .inv(0, "read", Value::Nil)
        .ok(0, "read", 1)
        .inv(0, "cas", vec![1, 2])
        .fail(0, "cas", vec![1, 2])
        .build();
    let r = Stats.check(&ctx(), &h);
    assert_eq!(r.valid, Validity::False);
    assert_eq!(r.anomaly_types, ["never-ok"]);
    assert_eq!(r.details["by-f"]["cas"]["valid?"], json!(false));
    assert_eq!(r.details["by-f"]["read"]["valid?"], json!(true));
}

#[test]
fn stats_empty_history_is_valid() {
    let r = Stats.check(&ctx(), &B::new().nemesis("kill").build());
    assert_eq!(
        r.to_json(),
        json!({"valid?": true, "count": 0, "ok-count": 0, "fail-count": 0, "info-count": 0, "by-f": {}})
    );
}

fn with_exception(op: Op, ty: &str, msg: &str) -> Op {
    let mut op = op;
    op.set_extra(
        "exception",
        Value::Map(vec![
            (Value::kw("type"), Value::str(ty)),
            (Value::kw("message"), Value::str(msg)),
        ]),
    );
    op
}

#[test]
fn exceptions_grouped_by_type_then_error() {
    let crash = |p: i64, ty: &str| {
        with_exception(
            Op::new(
                OpType::Info,
                Process::Client(p),
                Value::kw("read"),
                Value::Nil,
            ),
            ty,
            "boom",
        )
    };
    let timeout = |p: i64| {
        Op::new(
            OpType::Info,
            Process::Client(p),
            Value::kw("write"),
            1.into(),
        )
        .with_error(Value::Vector(vec![Value::kw("timeout"), Value::str("5s")]))
    };
    let failed = Op::new(
        OpType::Fail,
        Process::Client(9),
        Value::kw("write"),
        1.into(),
    )
    .with_error(Value::kw("not-found"));
    let h = B::new()
        .inv(0, "read", Value::Nil)
        .raw(crash(0, "java.net.SocketException"))
        .inv(1, "write", 1)
        .raw(timeout(1))
        .inv(2, "write", 1)
        .raw(timeout(2))
        .inv(3, "read", Value::Nil)
        .raw(crash(3, "java.io.IOException"))
        .inv(9, "write", 1)
        .raw(failed) // a fail with an error is not an exception
        .build();
    let r = Exceptions.check(&ctx(), &h);
    assert_eq!(r.valid, Validity::True);
    let ex = r.details["exceptions"].as_array().unwrap();
    let summary: Vec<(String, u64)> = ex
        .iter()
        .map(|e| {
            (
                e["class"].as_str().unwrap().to_string(),
                e["count"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            ("timeout".to_string(), 2),
            ("java.io.IOException".to_string(), 1),
            ("java.net.SocketException".to_string(), 1)
        ]
    );
    assert_eq!(ex[0]["example"]["index"], json!(3));
    assert_eq!(ex[0]["example"]["process"], json!(1));
    assert_eq!(ex[2]["example"]["exception"]["message"], json!("~sboom"));
}

#[test]
fn exceptions_read_jepsen_via_and_absent_is_plain_valid() {
    let mut op = Op::new(
        OpType::Info,
        Process::Client(0),
        Value::kw("read"),
        Value::Nil,
    );
    op.set_extra(
        "exception",
        Value::Map(vec![(
            Value::kw("via"),
            Value::Vector(vec![Value::Map(vec![(
                Value::kw("type"),
                Value::Symbol("clojure.lang.ExceptionInfo".into()),
            )])]),
        )]),
    );
    let h = B::new().inv(0, "read", Value::Nil).raw(op).build();
    let r = Exceptions.check(&ctx(), &h);
    assert_eq!(
        r.details["exceptions"][0]["class"],
        json!("clojure.lang.ExceptionInfo")
    );
    let clean = B::new().inv(0, "read", Value::Nil).ok(0, "read", 1).build();
    assert_eq!(
        Exceptions.check(&ctx(), &clean).to_json(),
        json!({"valid?": true})
    );
}
