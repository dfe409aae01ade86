mod common;

use common::B;
use rift_checker::*;
use rift_history::{History, Value};
use serde_json::json;

#[test]
fn merge_prefers_false_then_unknown() {
    use Validity::*;
    assert_eq!(Validity::merge(True, True), True);
    assert_eq!(Validity::merge(True, Unknown), Unknown);
    assert_eq!(Validity::merge(Unknown, True), Unknown);
    assert_eq!(Validity::merge(Unknown, False), False);
    assert_eq!(Validity::merge(False, Unknown), False);
    assert_eq!(Validity::merge_all([]), True);
    assert_eq!(
        [True, Unknown, True].into_iter().collect::<Validity>(),
        Unknown
    );
    assert_eq!(
        [True, Unknown, False].into_iter().collect::<Validity>(),
        False
    );
    assert_eq!(Unknown.to_string(), "unknown");
    assert_eq!(False.to_string(), "false");
}

#[test]
fn validity_serde() {
    assert_eq!(
        serde_json::to_string(&Validity::Unknown).unwrap(),
        r#""unknown""#
    );
    assert_eq!(serde_json::to_string(&Validity::True).unwrap(), "true");
    let v: Validity = serde_json::from_str("false").unwrap();
    assert_eq!(v, Validity::False);
    let v: Validity = serde_json::from_str(r#"":unknown""#).unwrap();
    assert_eq!(v, Validity::Unknown);
    assert!(serde_json::from_str::<Validity>("3").is_err());
}

#[test]
fn json_shape_and_round_trip() {
    let r = CheckResult::invalid(["unexpected", "lost", "lost"])
        .with("lost-count", 2)
        .with("attempt-count", 5);
    assert_eq!(r.anomaly_types, ["lost", "unexpected"]);
    assert_eq!(
        r.to_json_string(),
        r#"{"valid?":false,"anomaly-types":["lost","unexpected"],"attempt-count":5,"lost-count":2}"#
    );
    let back = CheckResult::from_json(&r.to_json()).unwrap();
    assert_eq!(back, r);
    let u = CheckResult::unknown("Set was never read");
    assert_eq!(
        u.to_json(),
        json!({"valid?": "unknown", "error": "Set was never read"})
    );
    assert_eq!(
        u.to_json_string(),
        r#"{"valid?":"unknown","error":"Set was never read"}"#
    );
    assert!(CheckResult::from_json(&json!({"x": 1})).is_err());
    assert!(CheckResult::from_json(&json!({"valid?": 3})).is_err());
    let pretty = CheckResult::valid().with("a", 1).to_json_pretty();
    assert_eq!(pretty, "{\n  \"valid?\": true,\n  \"a\": 1\n}");
}

#[test]
fn from_json_reads_elle_cli_results() {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/data/elle-cli/test/test-data/bank-negative-balances-result.json"
    ))
    .unwrap();
    let r = CheckResult::from_json_str(&text).unwrap();
    assert_eq!(r.valid, Validity::False);
    assert_eq!(r.get("error-count"), Some(&json!(1)));
}

struct Fixed(Validity, &'static str);
impl Checker for Fixed {
    fn check(&self, _: &CheckContext, _: &History) -> CheckResult {
        let mut r = CheckResult::with_validity(self.0).with("tag", self.1);
        if self.0 == Validity::False {
            r.add_anomalies([self.1]);
        }
        r
    }
}

struct Panics;
impl Checker for Panics {
    fn check(&self, _: &CheckContext, _: &History) -> CheckResult {
        panic!("boom")
    }
}

#[test]
fn compose_merges_and_nests() {
    let h = B::new().build();
    let c = Compose::new(vec![
        (
            "a",
            Box::new(Fixed(Validity::True, "a")) as Box<dyn Checker>,
        ),
        ("b", Box::new(Fixed(Validity::Unknown, "b"))),
    ]);
    let r = c.check(&CheckContext::none(), &h);
    assert_eq!(r.valid, Validity::Unknown);
    assert_eq!(
        r.to_json(),
        json!({"valid?": "unknown", "a": {"valid?": true, "tag": "a"},
        "b": {"valid?": "unknown", "tag": "b"}})
    );
    let c = Compose::new(vec![
        (
            "u",
            Box::new(Fixed(Validity::Unknown, "u")) as Box<dyn Checker>,
        ),
        ("f", Box::new(Fixed(Validity::False, "bad"))),
        ("t", Box::new(Fixed(Validity::True, "t"))),
    ]);
    let r = c.check(&CheckContext::none(), &h);
    assert_eq!(r.valid, Validity::False);
    assert_eq!(
        r.to_json_string(),
        r#"{"valid?":false,"f":{"valid?":false,"anomaly-types":["bad"],"tag":"bad"},"t":{"valid?":true,"tag":"t"},"u":{"valid?":"unknown","tag":"u"}}"#
    );
    let each = c.check_each(&CheckContext::none(), &h);
    let names: Vec<&str> = each.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["u", "f", "t"]);
    let one = Compose::new(vec![(
        "only",
        Box::new(Fixed(Validity::True, "x")) as Box<dyn Checker>,
    )]);
    assert_eq!(one.check(&CheckContext::none(), &h).valid, Validity::True);
    let empty = Compose::new(Vec::<(String, Box<dyn Checker>)>::new());
    assert_eq!(
        empty.check(&CheckContext::none(), &h).to_json(),
        json!({"valid?": true})
    );
}

#[test]
fn compose_turns_panics_into_unknown() {
    let h = B::new().build();
    for checkers in [1, 2] {
        let mut v: Vec<(&str, Box<dyn Checker>)> = vec![("p", Box::new(Panics))];
        if checkers == 2 {
            v.push(("t", Box::new(Fixed(Validity::True, "t"))));
        }
        let r = Compose::new(v).check(&CheckContext::none(), &h);
        assert_eq!(r.valid, Validity::Unknown);
        let p = &r.details["p"];
        assert_eq!(p["valid?"], json!("unknown"));
        assert_eq!(p["error"], json!("checker panicked: boom"));
    }
}

#[test]
fn context_dirs_and_files() {
    let none = CheckContext::none();
    assert_eq!(none.subdir("x").dir, None);
    assert_eq!(none.write_file("f", b"x").unwrap(), None);
    let base = std::env::temp_dir().join(format!("rift-checker-test-{}", std::process::id()));
    let ctx = CheckContext::in_dir(&base).subdir("set");
    assert_eq!(ctx.dir, Some(base.join("set")));
    assert!(!base.exists(), "subdir creates nothing");
    let p = ctx.write_file("out.txt", b"hello").unwrap().unwrap();
    assert_eq!(std::fs::read_to_string(&p).unwrap(), "hello");
    std::fs::remove_dir_all(&base).unwrap();
}

#[test]
fn by_name_builds_every_checker() {
    let opts = CheckerOptions::default();
    let h = B::new().build();
    for name in names()
        .iter()
        .chain(["unhandled-exceptions", "queue"].iter())
    {
        let c = by_name(name, &opts).unwrap();
        let v = c.check(&CheckContext::none(), &h).valid;
        let expect = if *name == "set" || *name == "set-full" {
            Validity::Unknown
        } else {
            Validity::True
        };
        assert_eq!(v, expect, "{name} on the empty history");
    }
    let e = by_name("linear", &opts).err().unwrap().to_string();
    assert!(
        e.starts_with("unknown checker \"linear\"; valid names: stats, exceptions"),
        "{e}"
    );
    assert!(e.ends_with("unhandled-exceptions, queue"), "{e}");
    assert_eq!(names().len(), 8);
    let _ = Value::Nil;
}

#[test]
fn by_name_passes_bank_options() {
    let opts = CheckerOptions {
        bank_total: Some(10),
        ..Default::default()
    };
    let h = B::new()
        .inv(0, "read", Value::Nil)
        .ok(0, "read", common::map_of(&[(0, Some(5)), (1, Some(4))]))
        .build();
    let r = by_name("bank", &opts)
        .unwrap()
        .check(&CheckContext::none(), &h);
    assert_eq!(r.anomaly_types, ["wrong-total"]);
}
