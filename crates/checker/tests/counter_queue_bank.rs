mod common;

use common::{map_of, vec_of, B};
use rift_checker::*;
use rift_history::Value;
use serde_json::json;

fn ctx() -> CheckContext {
    CheckContext::none()
}

#[test]
fn counter_bounds_from_ok_and_pending_adds() {
    let h = B::new()
        .inv(0, "add", 1)
        .ok(0, "add", 1) // lower 1, upper 1
        .inv(1, "add", 5) // upper 6
        .inv(2, "read", Value::Nil) // lower at invoke: 1
        .ok(2, "read", 6) // upper at completion: 6
        .info(1, "add", 5)
        .inv(0, "add", 2)
        .fail(0, "add", 2) // never counts
        .inv(2, "read", Value::Nil)
        .ok(2, "read", 0) // below lower 1: error
        .nemesis("kill")
        .build();
    let r = Counter.check(&ctx(), &h);
    assert_eq!(
        r.to_json(),
        json!({"valid?": false, "anomaly-types": ["out-of-bounds"],
            "reads": [[1, 6, 6], [1, 0, 6]], "errors": [[1, 0, 6]]})
    );
}

#[test]
fn counter_negative_deltas_mirror() {
    let h = B::new()
        .inv(0, "add", 10)
        .ok(0, "add", 10)
        .inv(0, "add", -3) // lower 7, upper 10
        .inv(1, "read", Value::Nil)
        .ok(1, "read", 7)
        .ok(0, "add", -3) // upper 7
        .inv(1, "read", Value::Nil)
        .ok(1, "read", 8) // above upper 7
        .build();
    let r = Counter.check(&ctx(), &h);
    assert_eq!(r.details["reads"], json!([[7, 7, 10], [7, 8, 7]]));
    assert_eq!(r.details["errors"], json!([[7, 8, 7]]));
    assert_eq!(r.valid, Validity::False);
}

#[test]
fn counter_empty_valid_and_malformed_unknown() {
    assert_eq!(
        Counter.check(&ctx(), &B::new().build()).to_json(),
        json!({"valid?": true, "reads": [], "errors": []})
    );
    let h = B::new()
        .inv(0, "read", Value::Nil)
        .ok(0, "read", Value::kw("x"))
        .build();
    let r = Counter.check(&ctx(), &h);
    assert_eq!(r.valid, Validity::Unknown);
    assert_eq!(r.details["malformed"][0]["index"], json!(1));
}

#[test]
fn unique_ids_counts_and_duplicates() {
    let h = B::new()
        .inv(0, "generate", Value::Nil)
        .ok(0, "generate", 3)
        .inv(0, "generate", Value::Nil)
        .ok(0, "generate", 1)
        .inv(1, "generate", Value::Nil)
        .ok(1, "generate", 3)
        .inv(1, "generate", Value::Nil)
        .info(1, "generate", Value::Nil)
        .build();
    let r = UniqueIds.check(&ctx(), &h);
    assert_eq!(
        r.to_json(),
        json!({"valid?": false, "anomaly-types": ["duplicated"], "attempted-count": 4,
            "acknowledged-count": 3, "duplicated-count": 1, "duplicated": {"3": 2},
            "range": [1, 3]})
    );
    let empty = UniqueIds.check(&ctx(), &B::new().build());
    assert_eq!(
        empty.to_json(),
        json!({"valid?": true, "attempted-count": 0, "acknowledged-count": 0,
            "duplicated-count": 0, "duplicated": {}, "range": null})
    );
}

#[test]
fn total_queue_categories() {
    let h = B::new()
        .inv(0, "enqueue", 1)
        .ok(0, "enqueue", 1)
        .inv(0, "enqueue", 2)
        .ok(0, "enqueue", 2) // lost: never dequeued
        .inv(0, "enqueue", 3)
        .info(0, "enqueue", 3) // recovered below
        .inv(1, "dequeue", Value::Nil)
        .ok(1, "dequeue", 1)
        .inv(1, "drain", Value::Nil)
        .ok(1, "drain", vec_of(&[1, 3, 42])) // 1 duplicated, 42 unexpected
        .inv(2, "dequeue", Value::Nil)
        .fail(2, "dequeue", Value::Nil)
        .build();
    let r = TotalQueue.check(&ctx(), &h);
    assert_eq!(
        r.to_json(),
        json!({"valid?": false, "anomaly-types": ["lost", "unexpected"],
            "attempt-count": 3, "acknowledged-count": 2, "ok-count": 2,
            "unexpected-count": 1, "duplicated-count": 1, "lost-count": 1,
            "recovered-count": 1, "lost": [2], "unexpected": [42], "duplicated": [1],
            "recovered": [3]})
    );
}

#[test]
fn total_queue_duplicates_alone_stay_valid_and_crashed_drain_unknown() {
    let h = B::new()
        .inv(0, "enqueue", 1)
        .ok(0, "enqueue", 1)
        .inv(1, "dequeue", Value::Nil)
        .ok(1, "dequeue", 1)
        .inv(1, "dequeue", Value::Nil)
        .ok(1, "dequeue", 1)
        .build();
    let r = TotalQueue.check(&ctx(), &h);
    assert_eq!(r.valid, Validity::True);
    assert_eq!(r.details["duplicated"], json!([1]));
    let crashed = B::new()
        .inv(0, "drain", Value::Nil)
        .info(0, "drain", Value::Nil)
        .build();
    let r = TotalQueue.check(&ctx(), &crashed);
    assert_eq!(r.valid, Validity::Unknown);
    assert_eq!(r.details["op"]["index"], json!(1));
    assert_eq!(
        TotalQueue.check(&ctx(), &B::new().build()).valid,
        Validity::True
    );
}

fn bank_history(reads: &[Value]) -> rift_history::History {
    let mut b = B::new()
        .inv(0, "transfer", Value::Nil)
        .ok(0, "transfer", Value::Nil);
    for r in reads {
        b = b.inv(1, "read", Value::Nil).ok(1, "read", r.clone());
    }
    b.nemesis("partition").build()
}

#[test]
fn bank_valid_with_inferred_total() {
    let h = bank_history(&[
        map_of(&[(0, Some(10)), (1, Some(0))]),
        map_of(&[(0, Some(3)), (1, Some(7))]),
    ]);
    let r = Bank::default().check(&ctx(), &h);
    assert_eq!(
        r.to_json(),
        json!({"valid?": true, "read-count": 2, "error-count": 0, "first-error": null, "errors": {}})
    );
}

#[test]
fn bank_every_error_type() {
    let h = bank_history(&[
        map_of(&[(0, Some(10)), (1, Some(0))]),
        map_of(&[(0, Some(11)), (1, Some(0))]), // wrong-total 11
        map_of(&[(0, Some(12)), (1, Some(-2))]), // negative-value
        map_of(&[(0, Some(10)), (1, None)]),    // nil-balance
        map_of(&[(0, Some(5)), (1, Some(5)), (7, Some(0))]), // unexpected-key 7
        map_of(&[(0, Some(30)), (1, Some(0))]), // wrong-total 30, worst
        Value::Int(3),                          // malformed
    ]);
    let r = Bank::default().check(&ctx(), &h);
    assert_eq!(r.valid, Validity::False);
    assert_eq!(
        r.anomaly_types,
        [
            "malformed-read",
            "negative-value",
            "nil-balance",
            "unexpected-key",
            "wrong-total"
        ]
    );
    let d = r.to_json();
    assert_eq!(d["read-count"], json!(7));
    assert_eq!(d["error-count"], json!(6));
    assert_eq!(d["first-error"]["type"], json!("wrong-total"));
    assert_eq!(d["first-error"]["total"], json!(11));
    assert_eq!(d["first-error"]["op"]["index"], json!(5));
    let wt = &d["errors"]["wrong-total"];
    assert_eq!(wt["count"], json!(2));
    assert_eq!(wt["worst"]["total"], json!(30));
    assert_eq!(wt["lowest"]["total"], json!(11));
    assert_eq!(wt["highest"]["total"], json!(30));
    assert_eq!(wt["last"]["total"], json!(30));
    assert_eq!(
        d["errors"]["negative-value"]["first"]["negative"],
        json!([-2])
    );
    assert_eq!(
        d["errors"]["nil-balance"]["first"]["nils"],
        json!({"1": null})
    );
    assert_eq!(
        d["errors"]["unexpected-key"]["first"]["unexpected"],
        json!([7])
    );
    assert_eq!(d["errors"]["malformed-read"]["count"], json!(1));
    assert!(d["errors"]["negative-value"].get("lowest").is_none());
}

#[test]
fn bank_options_total_accounts_negative() {
    let h = bank_history(&[map_of(&[(0, Some(12)), (1, Some(-2))])]);
    let lenient = Bank {
        total: Some(10),
        negative_balances: true,
        accounts: Some(vec![Value::Int(0), Value::Int(1)]),
    };
    assert_eq!(lenient.check(&ctx(), &h).valid, Validity::True);
    let strict = Bank {
        total: Some(11),
        negative_balances: false,
        accounts: Some(vec![Value::Int(0)]),
    };
    assert_eq!(strict.check(&ctx(), &h).anomaly_types, ["unexpected-key"]);
    let total = Bank {
        total: Some(11),
        ..Default::default()
    };
    assert_eq!(total.check(&ctx(), &h).anomaly_types, ["wrong-total"]);
    // no ok read: valid, as Jepsen
    let r = Bank::default().check(&ctx(), &bank_history(&[]));
    assert_eq!(r.valid, Validity::True);
    assert_eq!(r.details["read-count"], json!(0));
}
