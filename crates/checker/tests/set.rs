mod common;

use common::{set_of, vec_of, B, MS};
use rift_checker::*;
use rift_history::Value;
use serde_json::json;

fn ctx() -> CheckContext {
    CheckContext::none()
}

#[test]
fn set_valid_with_recovered_info_add() {
    let h = B::new()
        .inv(0, "add", 0)
        .ok(0, "add", 0)
        .inv(1, "add", 1)
        .info(1, "add", 1)
        .inv(2, "add", 2)
        .fail(2, "add", 2)
        .nemesis("start")
        .inv(0, "read", Value::Nil)
        .ok(0, "read", set_of(&[0, 1]))
        .build();
    let r = Set.check(&ctx(), &h);
    assert_eq!(
        r.to_json(),
        json!({"valid?": true, "attempt-count": 3, "acknowledged-count": 1, "ok-count": 2,
            "lost-count": 0, "recovered-count": 1, "unexpected-count": 0,
            "ok": "#{0..1}", "lost": "#{}", "unexpected": "#{}", "recovered": "#{1}"})
    );
}

#[test]
fn set_lost_and_unexpected_use_final_read() {
    let h = B::new()
        .inv(0, "add", 1)
        .ok(0, "add", 1)
        .inv(0, "add", 2)
        .ok(0, "add", 2)
        .inv(1, "read", Value::Nil)
        .ok(1, "read", vec_of(&[1, 2]))
        .inv(1, "read", Value::Nil)
        .ok(1, "read", vec_of(&[2, 7]))
        .inv(1, "read", Value::Nil)
        .fail(1, "read", Value::Nil)
        .build();
    let r = Set.check(&ctx(), &h);
    assert_eq!(r.valid, Validity::False);
    assert_eq!(r.anomaly_types, ["lost", "unexpected"]);
    assert_eq!(r.details["lost"], json!("#{1}"));
    assert_eq!(r.details["unexpected"], json!("#{7}"));
    assert_eq!(r.details["ok-count"], json!(1));
}

#[test]
fn set_never_read_or_malformed_is_unknown() {
    let h = B::new().inv(0, "add", 1).ok(0, "add", 1).build();
    assert_eq!(
        Set.check(&ctx(), &h).to_json(),
        json!({"valid?": "unknown", "error": "Set was never read"})
    );
    let bad = B::new().inv(0, "read", Value::Nil).ok(0, "read", 5).build();
    let r = Set.check(&ctx(), &bad);
    assert_eq!(r.valid, Validity::Unknown);
    assert_eq!(
        r.details["error"],
        json!("read 1 returned a value that is not a collection")
    );
    assert_eq!(
        Set.check(&ctx(), &B::new().build()).valid,
        Validity::Unknown
    );
}

#[test]
fn set_full_stable_and_never_read() {
    // 0 is added and read; 1 is added after the last read.
    let h = B::new()
        .inv(0, "add", 0)
        .ok(0, "add", 0)
        .inv(1, "read", Value::Nil)
        .ok(1, "read", vec_of(&[0]))
        .inv(0, "add", 1)
        .ok(0, "add", 1)
        .build();
    let r = SetFull::default().check(&ctx(), &h);
    assert_eq!(
        r.to_json(),
        json!({"valid?": true, "attempt-count": 2, "stable-count": 1, "lost-count": 0,
            "lost": [], "never-read-count": 1, "never-read": [1], "stale-count": 0, "stale": [],
            "worst-stale": [], "duplicated-count": 0, "duplicated": {},
            "stable-latencies": {"0": 0, "0.5": 0, "0.95": 0, "0.99": 0, "1": 0}})
    );
}

#[test]
fn set_full_lost_element() {
    let h = B::new()
        .inv(0, "add", 5) // t=0
        .ok(0, "add", 5) // t=1ms: known
        .inv(1, "read", Value::Nil) // t=2ms
        .ok(1, "read", vec_of(&[5]))
        .inv(1, "read", Value::Nil) // t=4ms: misses 5
        .ok(1, "read", vec_of(&[]))
        .build();
    let r = SetFull::default().check(&ctx(), &h);
    assert_eq!(r.valid, Validity::False);
    assert_eq!(r.anomaly_types, ["lost"]);
    assert_eq!(r.details["lost"], json!([5]));
    assert_eq!(r.details["stable-count"], json!(0));
    // lost time = last present invocation (2ms) + 1ns; known at 1ms: 1 ms.
    assert_eq!(
        r.details["lost-latencies"],
        json!({"0": 1, "0.5": 1, "0.95": 1, "0.99": 1, "1": 1})
    );
}

#[test]
fn set_full_stale_read_only_invalid_when_linearizable() {
    let h = B::new()
        .inv(0, "add", 3) // 0
        .ok(0, "add", 3) // 1ms known
        .inv(1, "read", Value::Nil) // 2ms: misses 3 although known: stale
        .ok(1, "read", vec_of(&[]))
        .inv(1, "read", Value::Nil) // 4ms: sees it
        .ok(1, "read", vec_of(&[3]))
        .build();
    let r = SetFull::default().check(&ctx(), &h);
    assert_eq!(r.valid, Validity::True);
    assert_eq!(r.details["stale"], json!([3]));
    assert_eq!(r.details["stale-count"], json!(1));
    // stable time = 2ms + 1ns, known 1ms: latency 1 ms.
    assert_eq!(r.details["worst-stale"][0]["stable-latency"], json!(1));
    assert_eq!(r.details["worst-stale"][0]["known"]["index"], json!(1));
    assert_eq!(
        r.details["worst-stale"][0]["last-absent"]["index"],
        json!(2)
    );
    let lin = SetFull { linearizable: true }.check(&ctx(), &h);
    assert_eq!(lin.valid, Validity::False);
    assert_eq!(lin.anomaly_types, ["stale"]);
}

#[test]
fn set_full_concurrent_read_missing_is_not_stale() {
    // The read starts before the add completes: missing the element is fine.
    let h = B::new()
        .inv(0, "add", 3)
        .inv(1, "read", Value::Nil)
        .ok(0, "add", 3)
        .ok(1, "read", vec_of(&[]))
        .inv(1, "read", Value::Nil)
        .ok(1, "read", vec_of(&[3]))
        .build();
    let r = SetFull { linearizable: true }.check(&ctx(), &h);
    assert_eq!(r.valid, Validity::True);
    assert_eq!(r.details["stale-count"], json!(0));
    assert_eq!(r.details["stable-count"], json!(1));
}

#[test]
fn set_full_info_add_seen_by_read_is_known_then_lost() {
    let h = B::new()
        .inv(0, "add", 9)
        .info(0, "add", 9)
        .inv(1, "read", Value::Nil)
        .ok(1, "read", vec_of(&[9]))
        .inv(1, "read", Value::Nil)
        .ok(1, "read", vec_of(&[]))
        .build();
    let r = SetFull::default().check(&ctx(), &h);
    assert_eq!(r.anomaly_types, ["lost"]);
    // An info add never read stays never-read, not lost.
    let h = B::new()
        .inv(0, "add", 9)
        .info(0, "add", 9)
        .inv(1, "read", Value::Nil)
        .ok(1, "read", vec_of(&[]))
        .build();
    let r = SetFull::default().check(&ctx(), &h);
    assert_eq!(r.valid, Validity::Unknown);
    assert_eq!(r.details["never-read"], json!([9]));
}

#[test]
fn set_full_duplicates_invalidate() {
    let h = B::new()
        .inv(0, "add", 1)
        .ok(0, "add", 1)
        .inv(1, "read", Value::Nil)
        .ok(1, "read", vec_of(&[1, 1, 1]))
        .build();
    let r = SetFull::default().check(&ctx(), &h);
    assert_eq!(r.valid, Validity::False);
    assert_eq!(r.anomaly_types, ["duplicated"]);
    assert_eq!(r.details["duplicated"], json!({"1": 3}));
    assert_eq!(r.details["duplicated-count"], json!(1));
}

#[test]
fn set_full_empty_is_unknown_and_sub_ms_stale_counts() {
    let r = SetFull::default().check(&ctx(), &B::new().build());
    assert_eq!(r.valid, Validity::Unknown);
    assert_eq!(r.details["attempt-count"], json!(0));
    // Times closer than a millisecond: still stale (decided in ns), latency 0 ms.
    let mut b = B::new()
        .inv(0, "add", 3)
        .ok(0, "add", 3)
        .inv(1, "read", Value::Nil)
        .ok(1, "read", vec_of(&[]))
        .inv(1, "read", Value::Nil)
        .ok(1, "read", vec_of(&[3]))
        .build()
        .into_ops();
    for (i, op) in b.iter_mut().enumerate() {
        op.time = Some(i as i64 * 1000);
    }
    let h = rift_history::History::new(b).unwrap();
    let r = SetFull { linearizable: true }.check(&ctx(), &h);
    assert_eq!(r.valid, Validity::False);
    assert_eq!(r.details["worst-stale"][0]["stable-latency"], json!(0));
    let _ = MS;
}
