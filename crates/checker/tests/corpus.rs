//! Our verdicts and results on elle-cli's Jepsen histories, against elle-cli's expected output.

use rift_checker::*;
use rift_history::{History, Op};
use serde_json::Value as Json;
use std::path::Path;

const DATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/data/elle-cli");

fn load(rel: &str) -> History {
    let path = Path::new(DATA).join(rel);
    let ops: Vec<Op> = if rel.ends_with(".edn") {
        rift_history::edn::read_edn_file(&path).unwrap()
    } else {
        let bytes = std::fs::read(&path).unwrap();
        rift_history::json::read_json_array_bytes(&bytes, Some(&path)).unwrap()
    };
    History::new(ops).unwrap()
}

fn expected(case: &str) -> Json {
    let path = Path::new(DATA).join(format!("test/test-data/{case}-result.json"));
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn run(checker: &dyn Checker, rel: &str) -> Json {
    checker.check(&CheckContext::none(), &load(rel)).to_json()
}

#[test]
fn bank_histories_match_elle_cli() {
    let bank = Bank::default();
    assert_eq!(
        run(&bank, "test/test-data/bank-neg.edn"),
        expected("bank-neg")
    );
    assert_eq!(run(&bank, "histories/jepsen/bank.edn"), expected("bank"));
    assert_eq!(run(&bank, "histories/jepsen/bank.json"), expected("bank"));
}

#[test]
fn bank_negative_balances_matches_elle_cli() {
    let got = run(
        &Bank::default(),
        "histories/jepsen/bank-negative-balances.json",
    );
    let mut want = expected("bank-negative-balances");
    // Our result also names the anomaly types; elle-cli's bank result has none.
    want.as_object_mut().unwrap().insert(
        "anomaly-types".into(),
        serde_json::json!(["negative-value"]),
    );
    assert_eq!(got, want);
}

#[test]
fn counter_histories_match_elle_cli() {
    assert_eq!(
        run(&Counter, "test/test-data/counter.edn"),
        expected("counter")
    );
    assert_eq!(
        run(&Counter, "histories/jepsen/counter.json"),
        expected("counter")
    );
}

#[test]
fn set_history_matches_elle_cli() {
    assert_eq!(run(&Set, "test/test-data/set.edn"), expected("set"));
}

#[test]
fn set_full_histories_match_elle_cli() {
    let mut want = expected("set_full");
    want.as_object_mut()
        .unwrap()
        .insert("anomaly-types".into(), serde_json::json!(["lost"]));
    let c = SetFull::default();
    assert_eq!(run(&c, "histories/jepsen/set_full.edn"), want);
    assert_eq!(run(&c, "histories/jepsen/set_full.json"), want);
}

#[test]
fn stats_over_the_bank_history() {
    let r = Stats.check(&CheckContext::none(), &load("histories/jepsen/bank.edn"));
    assert_eq!(r.valid, Validity::True);
    assert_eq!(r.details["by-f"]["read"]["ok-count"], Json::from(168));
}
