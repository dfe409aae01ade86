//! Unit tests as small literal histories. Notation: one op per string,
//! `"PROCESS TYPE F VALUE-EDN"`, e.g. `"0 ok send [[:send :x [0 :a]]]"`; `time` is the position.

use crate::{check, gen, KafkaChecker, KafkaOptions};
use rift_checker::{CheckContext, Checker, Validity};
use rift_history::{edn, History, Op, Value};
use serde_json::{json, Value as Json};

fn hist(lines: &[&str]) -> History {
    let mut text = String::new();
    for (i, l) in lines.iter().enumerate() {
        let mut it = l.splitn(4, ' ');
        let (p, ty, f) = (it.next().unwrap(), it.next().unwrap(), it.next().unwrap());
        let v = it.next().unwrap_or("nil");
        text.push_str(&format!(
            "{{:process {p}, :type :{ty}, :f :{f}, :value {v}, :time {i}}}\n"
        ));
    }
    History::new(edn::read_edn_bytes(text.as_bytes(), None).unwrap()).unwrap()
}

fn run_with(lines: &[&str], opts: &KafkaOptions) -> Json {
    check(&hist(lines), opts, None).to_json()
}

fn run(lines: &[&str]) -> Json {
    run_with(lines, &KafkaOptions::default())
}

/// The errors of one type, each reduced to the listed fields (ops to their times, which
/// the notation makes their positions).
fn errs(r: &Json, ty: &str, fields: &[&str]) -> Vec<Json> {
    let Some(es) = r[ty]["errors"].as_array() else {
        return Vec::new();
    };
    es.iter()
        .map(|e| {
            let mut m = serde_json::Map::new();
            for f in fields {
                let v = &e[*f];
                let v = match v {
                    Json::Object(o) if o.contains_key("time") => o["time"].clone(),
                    Json::Array(a)
                        if a.iter().all(|x| x.get("time").is_some()) && !a.is_empty() =>
                    {
                        Json::Array(a.iter().map(|x| x["time"].clone()).collect())
                    }
                    v => v.clone(),
                };
                m.insert(f.to_string(), v);
            }
            Json::Object(m)
        })
        .collect()
}

fn types(r: &Json) -> Json {
    r["error-types"].clone()
}

const SEND_1: [&str; 4] = [
    "0 invoke send [[:send :x 1] [:send :y 1]]",
    "0 info send [[:send :x [0 1]] [:send :y 1]]",
    "1 invoke send [[:send :x 2]]",
    "1 ok send [[:send :x [0 2]]]",
];

#[test]
fn info_send_conflict_needs_proof_of_commit() {
    let r = run(&SEND_1);
    assert_eq!(r["inconsistent-offsets"], Json::Null);
    let mut lines = SEND_1.to_vec();
    lines.extend([
        "2 invoke poll [[:poll]]",
        "2 ok poll [[:poll {:y [[5 1]]}]]",
    ]);
    let r = run(&lines);
    assert_eq!(
        errs(
            &r,
            "inconsistent-offsets",
            &["key", "offset", "index", "values"]
        ),
        vec![json!({"key": "x", "offset": 0, "index": 0, "values": [1, 2]})]
    );
    assert_eq!(r["valid?"], false);
}

#[test]
fn aborted_read() {
    let r = run(&[
        "0 invoke send [[:send :x 2] [:send :y 3]]",
        "0 fail send [[:send :x 2] [:send :y 3]]",
        "1 invoke poll [[:poll]]",
        "1 ok poll [[:poll {:x [[0 2]]}]]",
    ]);
    assert_eq!(
        errs(&r, "G1a", &["key", "value", "writer", "reader"]),
        vec![json!({"key": "x", "value": 2, "writer": 1, "reader": 3})]
    );
    // The only writer failed, so it is no vertex: no dependency is left.
    assert_eq!(
        r["bad-error-types"],
        json!(["G1a", "empty-transaction-graph"])
    );
}

#[test]
fn precommitted_read() {
    let r = run(&[
        "0 invoke txn [[:send :x :a] [:poll]]",
        "0 ok txn [[:send :x [0 :a]] [:poll {:x [[0 :a]]}]]",
    ]);
    assert_eq!(
        errs(&r, "precommitted-read", &["key", "value", "op"]),
        vec![json!({"key": "x", "value": "a", "op": 1})]
    );
}

#[test]
fn lost_write_below_highest_poll() {
    let r = run(&[
        "0 invoke send [[:send :x :a]]",
        "0 ok send [[:send :x [0 :a]]]",
        "0 invoke send [[:send :x :b] [:send :x :d]]",
        "0 ok send [[:send :x [1 :b]] [:send :x [3 :d]]]",
        "1 invoke send [[:send :x :c]]",
        "1 info send [[:send :x :c]]",
        "0 invoke poll [[:poll]]",
        "0 ok poll [[:poll {:x [[2 :c]]}]]",
    ]);
    let f = ["value", "index", "max-read-index", "writer", "max-read"];
    assert_eq!(
        errs(&r, "lost-write", &f),
        vec![
            json!({"value": "a", "index": 0, "max-read-index": 2, "writer": 1, "max-read": 7}),
            json!({"value": "b", "index": 1, "max-read-index": 2, "writer": 3, "max-read": 7}),
        ]
    );
}

#[test]
fn lost_write_with_inconsistent_offsets() {
    let r = run(&[
        "0 invoke send [[:send :x :a]]",
        "0 ok send [[:send :x [0 :a]]]",
        "0 invoke send [[:send :x :b] [:send :x :c]]",
        "0 ok send [[:send :x [0 :b]] [:send :x [2 :c]]]",
        "0 invoke poll [[:poll]]",
        "0 ok poll [[:poll {:x [[0 :b] [2 :c]]}]]",
    ]);
    assert_eq!(
        errs(&r, "lost-write", &["value", "index", "max-read-index"]),
        vec![json!({"value": "a", "index": 0, "max-read-index": 1})]
    );
}

#[test]
fn lost_write_of_info_txn_is_atomic() {
    let base = [
        "0 invoke send [[:send :x :a] [:send :y :b]]",
        "0 info send [[:send :x :a] [:send :y [0 :b]]]",
        "1 invoke send [[:send :y :c]]",
        "1 info send [[:send :y :c]]",
    ];
    let poll_c = [
        "3 invoke poll [[:poll]]",
        "3 ok poll [[:poll {:y [[1 :c]]}]]",
    ];
    let poll_a = [
        "2 invoke poll [[:poll]]",
        "2 ok poll [[:poll {:x [[0 :a]]}]]",
    ];
    let without: Vec<&str> = base.iter().chain(&poll_c).copied().collect();
    assert_eq!(run(&without)["lost-write"], Json::Null);
    let with: Vec<&str> = base.iter().chain(&poll_a).chain(&poll_c).copied().collect();
    assert_eq!(
        errs(
            &run(&with),
            "lost-write",
            &["key", "value", "index", "max-read-index", "writer"]
        ),
        vec![json!({"key": "y", "value": "b", "index": 0, "max-read-index": 1, "writer": 1})]
    );
}

const POLL_SKIP: [&str; 12] = [
    "0 invoke poll [[:poll]]",
    "0 ok poll [[:poll {:x [[1 :a] [2 :b]]}]]",
    "1 invoke poll [[:poll]]",
    "1 ok poll [[:poll {:x [[3 :c]]}]]",
    "0 invoke poll [[:poll]]",
    "0 ok poll [[:poll {:x [[4 :d]]}]]",
    "2 invoke send [[:send :x :f]]",
    "2 ok send [[:send :x [6 :f]]]",
    "0 invoke poll [[:poll]]",
    "0 ok poll [[:poll {:x [[7 :g]]}]]",
    "3 invoke send [[:send :x :a] [:send :x :b] [:send :x :c] [:send :x :d] [:send :x :g]]",
    "3 info send [[:send :x :a] [:send :x :b] [:send :x :c] [:send :x :d] [:send :x :g]]",
];

#[test]
fn poll_skip_per_process() {
    let r = run(&POLL_SKIP);
    assert_eq!(
        errs(&r, "poll-skip", &["key", "ops", "delta", "skipped"]),
        vec![
            json!({"key": "x", "ops": [1, 5], "delta": 2, "skipped": ["c"]}),
            json!({"key": "x", "ops": [5, 9], "delta": 2, "skipped": ["f"]}),
        ]
    );
    // The info send's d -> g jumps over f: an int-send-skip, and with f's writer a G0
    // (d < f < g), both allowed. Nobody polled f, below the polled g: lost (and unseen).
    assert_eq!(
        types(&r),
        json!(["G0", "int-send-skip", "lost-write", "poll-skip", "unseen"])
    );
    assert_eq!(
        r["bad-error-types"],
        json!(["lost-write", "poll-skip", "unseen"])
    );
}

#[test]
fn assign_and_subscribe_reset_tracking() {
    let mut lines = POLL_SKIP.to_vec();
    lines.splice(4..4, ["0 invoke subscribe [:y]", "0 ok subscribe [:y]"]);
    lines.splice(10..10, ["0 invoke assign [:y]", "0 info assign [:y]"]);
    let r = run(&lines);
    assert_eq!(r["poll-skip"], Json::Null);
    // A subscribe that still covers x keeps the position.
    let mut lines = POLL_SKIP.to_vec();
    lines.splice(
        4..4,
        ["0 invoke subscribe [:x :y]", "0 ok subscribe [:x :y]"],
    );
    let r = run(&lines);
    assert_eq!(r["poll-skip"]["count"], 2);
    // With subscribe, poll skips are expected (rebalances).
    assert_eq!(r["bad-error-types"], json!(["lost-write", "unseen"]));
}

#[test]
fn failed_poll_does_not_roll_back_position() {
    let r = run(&[
        "0 invoke send [[:send :x :a] [:send :x :b] [:send :x :c]]",
        "0 ok send [[:send :x [0 :a]] [:send :x [1 :b]] [:send :x [2 :c]]]",
        "1 invoke poll [[:poll]]",
        "1 ok poll [[:poll {:x [[0 :a]]}]]",
        "1 invoke poll [[:poll]]",
        "1 fail poll [[:poll {:x [[1 :b]]}]]",
        "1 invoke poll [[:poll]]",
        "1 ok poll [[:poll {:x [[2 :c]]}]]",
    ]);
    assert_eq!(
        errs(&r, "poll-skip", &["ops", "values", "delta", "skipped"]),
        vec![json!({"ops": [3, 7], "values": ["a", "c"], "delta": 2, "skipped": ["b"]})]
    );
}

#[test]
fn info_poll_can_skip() {
    let r = run(&[
        "0 invoke send [[:send :x :a] [:send :x :b] [:send :x :c]]",
        "0 ok send [[:send :x [0 :a]] [:send :x [1 :b]] [:send :x [2 :c]]]",
        "1 invoke poll [[:poll]]",
        "1 ok poll [[:poll {:x [[0 :a]]}]]",
        "1 invoke poll [[:poll]]",
        "1 info poll [[:poll {:x [[2 :c]]}]]",
    ]);
    assert_eq!(
        errs(&r, "poll-skip", &["ops", "delta", "skipped"]),
        vec![json!({"ops": [3, 5], "delta": 2, "skipped": ["b"]})]
    );
}

#[test]
fn nonmonotonic_poll_across_ops() {
    let r = run(&[
        "0 invoke send [[:send :x :a] [:send :x :b] [:send :x :c] [:send :x :d]]",
        "0 ok send [[:send :x :a] [:send :x :b] [:send :x :c] [:send :x :d]]",
        "0 invoke poll [[:poll]]",
        "0 ok poll [[:poll {:x [[1 :a] [2 :b] [3 :c]]}]]",
        "0 invoke poll [[:poll]]",
        "0 ok poll [[:poll {:x [[2 :b] [3 :c] [4 :d]]}]]",
    ]);
    assert_eq!(
        errs(&r, "nonmonotonic-poll", &["key", "ops", "values", "delta"]),
        vec![json!({"key": "x", "ops": [3, 5], "values": ["c", "b"], "delta": -1})]
    );
}

#[test]
fn nonmonotonic_send_across_ops() {
    let r = run(&[
        "0 invoke send [[:send :x :c] [:send :x :d]]",
        "0 ok send [[:send :x [3 :c]] [:send :x [4 :d]]]",
        "0 invoke send [[:send :x 1] [:send :x 2]]",
        "0 ok send [[:send :x [1 :a]] [:send :x [2 :b]]]",
    ]);
    assert_eq!(
        errs(&r, "nonmonotonic-send", &["key", "values", "delta", "ops"]),
        vec![json!({"key": "x", "values": ["d", "a"], "delta": -3, "ops": [1, 3]})]
    );
}

#[test]
fn internal_poll_skips() {
    let r = run(&[
        "1 invoke send [[:send :x :a] [:send :x :b] [:send :x :d]]",
        "1 info send [[:send :x :a] [:send :x :b] [:send :x :d]]",
        "0 invoke poll [[:poll]]",
        "0 ok poll [[:poll {:x [[1 :a] [4 :d]]}]]",
        "0 invoke poll [[:poll] [:poll]]",
        "0 ok poll [[:poll {:x [[1 :a]]}] [:poll {:x [[4 :d]]}]]",
        "0 invoke poll [[:poll]]",
        "0 ok poll [[:poll {:x [[2 :b]]}]]",
    ]);
    assert_eq!(
        errs(
            &r,
            "int-poll-skip",
            &["key", "values", "skipped", "delta", "op"]
        ),
        vec![
            json!({"key": "x", "values": ["a", "d"], "skipped": ["b"], "delta": 2, "op": 3}),
            json!({"key": "x", "values": ["a", "d"], "skipped": ["b"], "delta": 2, "op": 5}),
        ]
    );
}

#[test]
fn internal_nonmonotonic_polls_including_rereads() {
    let r = run(&[
        "0 invoke send [[:send :x :a] [:send :x :b] [:send :x :c]]",
        "0 info send [[:send :x :a] [:send :x :b] [:send :x :c]]",
        "1 invoke poll [[:poll]]",
        "1 ok poll [[:poll {:x [[3 :c] [1 :a]]}]]",
        "1 invoke poll [[:poll]]",
        "1 ok poll [[:poll {:x [[2 :b] [3 :c]]}] [:poll {:x [[3 :c]]}]]",
    ]);
    assert_eq!(
        errs(&r, "int-nonmonotonic-poll", &["values", "delta", "op"]),
        vec![
            json!({"values": ["c", "a"], "delta": -2, "op": 3}),
            json!({"values": ["c", "c"], "delta": 0, "op": 5}),
        ]
    );
}

#[test]
fn internal_send_skip_and_nonmonotonic_send() {
    let r = run(&[
        "0 invoke send [[:send :x :a] [:send :x :c]]",
        "0 ok send [[:send :x [1 :a]] [:send :x :c]]",
        "1 invoke send [[:send :x :b]]",
        "1 info send [[:send :x :b]]",
        "2 invoke poll [[:poll]]",
        "2 ok poll [[:poll {:x [[2 :b] [3 :c]]}]]",
    ]);
    assert_eq!(
        errs(&r, "int-send-skip", &["values", "skipped", "delta", "op"]),
        vec![json!({"values": ["a", "c"], "skipped": ["b"], "delta": 2, "op": 1})]
    );
    let r = run(&[
        "0 invoke send [[:send :x 3] [:send :x 1]]",
        "0 ok send [[:send :x [3 :c]] [:send :x [1 :a]]]",
        "0 invoke send [[:send :y :d] [:send :y :b]]",
        "0 info send [[:send :y :d] [:send :y :b]]",
        "1 invoke send [[:send :y :c]]",
        "1 info send [[:send :y :c]]",
        "2 invoke poll [[:poll]]",
        "2 ok poll [[:poll {:y [[2 :b] [3 :c] [4 :d]]}]]",
    ]);
    assert_eq!(
        errs(
            &r,
            "int-nonmonotonic-send",
            &["key", "values", "delta", "op"]
        ),
        // Largest first.
        vec![
            json!({"key": "y", "values": ["d", "b"], "delta": -2, "op": 3}),
            json!({"key": "x", "values": ["c", "a"], "delta": -1, "op": 1}),
        ]
    );
}

#[test]
fn ten_values_at_offsets_zero_and_one() {
    let sends: Vec<String> = (1..=10).map(|v| format!("[:send :x {v}]")).collect();
    let send = format!("[{}]", sends.join(" "));
    let mut lines = vec![format!("0 invoke send {send}"), format!("0 ok send {send}")];
    for v in 1..=10 {
        lines.push("1 invoke poll [[:poll]]".into());
        lines.push(format!("1 ok poll [[:poll {{:x [[0 {v}] [1 {v}]]}}]]"));
    }
    let lines: Vec<&str> = lines.iter().map(String::as_str).collect();
    let r = run(&lines);
    assert_eq!(r["duplicate"]["count"], 10);
    assert_eq!(r["duplicate"]["at-nonzero-offsets-count"], 0);
    assert_eq!(r["duplicate"]["only-offset-0?"], true);
    assert_eq!(r["duplicate"]["errors"].as_array().unwrap().len(), 8);
    assert_eq!(
        errs(&r, "duplicate", &["value", "count", "offsets"])[0],
        json!({"value": 1, "count": 2, "offsets": [0, 1]})
    );
    let all: Vec<i64> = (1..=10).collect();
    assert_eq!(
        errs(&r, "inconsistent-offsets", &["offset", "values"]),
        vec![
            json!({"offset": 0, "values": all}),
            json!({"offset": 1, "values": all})
        ]
    );
    let keep = KafkaOptions {
        keep_all: true,
        ..KafkaOptions::default()
    };
    assert_eq!(
        run_with(&lines, &keep)["duplicate"]["errors"]
            .as_array()
            .unwrap()
            .len(),
        10
    );
}

#[test]
fn duplicate_at_two_nonzero_offsets_is_real() {
    let r = run(&[
        "0 invoke send [[:send :x :a]]",
        "0 ok send [[:send :x [1 :a]]]",
        "1 invoke send [[:send :x :b]]",
        "1 info send [[:send :x :b]]",
        "2 invoke poll [[:poll]]",
        "2 ok poll [[:poll {:x [[2 :b] [3 :a]]}]]",
    ]);
    assert_eq!(
        errs(&r, "duplicate", &["key", "value", "count", "offsets"]),
        vec![json!({"key": "x", "value": "a", "count": 2, "offsets": [1, 3]})]
    );
    assert_eq!(r["duplicate"]["at-nonzero-offsets-count"], 1);
}

const G0: [&str; 4] = [
    "0 invoke send [[:send :x :a] [:send :y :a]]",
    "1 invoke send [[:send :x :b] [:send :y :b]]",
    "0 ok send [[:send :x [0 :a]] [:send :y [1 :a]]]",
    "1 ok send [[:send :x [1 :b]] [:send :y [0 :b]]]",
];

#[test]
fn g0_across_two_keys() {
    let r = run(&G0);
    assert_eq!(r["G0"]["count"], 1);
    let e = &r["G0"]["errors"][0];
    let steps: Vec<&str> = e["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["type"].as_str().unwrap())
        .collect();
    assert_eq!(steps, ["ww", "ww"]);
    assert_eq!(e["cycle"].as_array().unwrap().len(), 3);
    assert!(e["explanation"].as_str().unwrap().contains("sent"), "{e}");
    // G0 is allowed; what makes this invalid is that nobody polled.
    assert_eq!(r["bad-error-types"], json!(["unseen"]));
    // Without ww edges there is no dependency at all.
    let no_ww = KafkaOptions {
        ww_deps: false,
        ..KafkaOptions::default()
    };
    assert_eq!(
        types(&run_with(&G0, &no_ww)),
        json!(["empty-transaction-graph", "unseen"])
    );
}

const G1C_WR: [&str; 4] = [
    "0 invoke txn [[:send :x :a] [:poll]]",
    "1 invoke txn [[:send :y :b] [:poll]]",
    "0 ok txn [[:send :x [0 :a]] [:poll {:y [[0 :b]]}]]",
    "1 ok txn [[:send :y [0 :b]] [:poll {:x [[0 :a]]}]]",
];

#[test]
fn g1c_from_wr_edges_alone() {
    let no_ww = KafkaOptions {
        ww_deps: false,
        ..KafkaOptions::default()
    };
    let r = run_with(&G1C_WR, &no_ww);
    assert_eq!(types(&r), json!(["G1c"]));
    assert_eq!(r["bad-error-types"], json!(["G1c"]));
    assert_eq!(r["valid?"], false);
    let steps = r["G1c"]["errors"][0]["steps"].as_array().unwrap().clone();
    let kinds: Vec<(&str, &str)> = steps
        .iter()
        .map(|s| (s["type"].as_str().unwrap(), s["key"].as_str().unwrap()))
        .collect();
    assert!(
        kinds == [("wr", "x"), ("wr", "y")] || kinds == [("wr", "y"), ("wr", "x")],
        "{kinds:?}"
    );
    // With ww edges G1c is expected in Kafka, hence allowed.
    let r = run(&G1C_WR);
    assert_eq!(types(&r), json!(["G1c"]));
    assert_eq!(r["valid?"], true);
}

#[test]
fn g1c_from_ww_and_wr() {
    let r = run(&[
        "0 invoke txn [[:send :x :a] [:send :y :c]]",
        "1 invoke txn [[:poll] [:send :y :b]]",
        "0 ok txn [[:send :x [0 :a]] [:send :y [2 :c]]]",
        "1 ok txn [[:poll {:x [[0 :a]]}] [:send :y [1 :b]]]",
    ]);
    assert_eq!(r["G1c"]["count"], 1);
    let mut kinds: Vec<String> = r["G1c"]["errors"][0]["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["type"].as_str().unwrap().to_string())
        .collect();
    kinds.sort();
    assert_eq!(kinds, ["wr", "ww"]);
}

#[test]
fn empty_histories_are_invalid() {
    let r = run(&[]);
    assert_eq!(r["valid?"], false);
    assert_eq!(types(&r), json!(["empty-transaction-graph"]));
    let r = run(&["0 invoke assign [:x]", "0 ok assign [:x]"]);
    assert_eq!(r["bad-error-types"], json!(["empty-transaction-graph"]));
    let ignore = KafkaOptions {
        ignore: ["empty-transaction-graph".to_string()].into(),
        ..KafkaOptions::default()
    };
    assert_eq!(run_with(&[], &ignore)["valid?"], true);
}

#[test]
fn unseen_counts() {
    let lines = [
        "0 invoke poll [[:poll]]",
        "0 ok poll [[:poll {}]]",
        "0 invoke send [[:send :x :a] [:send :x :b]]",
        "0 ok send [[:send :x [0 :a]] [:send :x [1 :b]]]",
        "0 invoke poll [[:poll]]",
        "0 ok poll [[:poll {:x [[0 :a]]}]]",
    ];
    let r = run(&lines);
    assert_eq!(r["unseen"]["count"], 1);
    assert_eq!(r["unseen"]["unseen"], json!({"x": 1}));
    assert_eq!(r["unseen"]["messages"], json!({"x": ["b"]}));
    assert_eq!(
        r["unseen"]["series"],
        json!([[1e-9, 0], [3e-9, 2], [5e-9, 1]])
    );
    assert_eq!(r["bad-error-types"], json!(["unseen"]));
    let mut all = lines.to_vec();
    all.extend([
        "0 invoke poll [[:poll]]",
        "0 ok poll [[:poll {:x [[1 :b]]}]]",
    ]);
    let r = run(&all);
    assert_eq!(r["unseen"]["count"], 0);
    assert_eq!(r["valid?"], true);
}

#[test]
fn realtime_lag() {
    let r = run(&[
        "0 invoke assign [:x]",
        "0 ok assign [:x]",
        "0 invoke poll [[:poll]]",
        "0 ok poll [[:poll {:x []}]]",
        "0 invoke send [[:send :x :a]]",
        "0 ok send [[:send :x [0 :a]]]",
        "0 invoke poll [[:poll]]",
        "0 ok poll [[:poll {:x []}]]",
        "1 invoke send [[:send :x :c] [:send :x :d]]",
        "1 ok send [[:send :x [2 :c]] [:send :x [3 :d]]]",
        "0 invoke poll [[:poll]]",
        "0 ok poll [[:poll]]",
        "0 invoke poll [[:poll]]",
        "0 ok poll [[:poll {:x [[0 :a] [1 :b]]}]]",
        "0 invoke assign [:x :y]",
        "0 ok assign [:x :y]",
        "0 invoke poll [[:poll]]",
        "0 ok poll [[:poll {}]]",
        "0 invoke assign [:y]",
        "0 ok assign [:y]",
        "0 invoke assign [:x]",
        "0 ok assign [:x]",
        "0 invoke poll [[:poll]]",
        "0 ok poll [[:poll {}]]",
        "0 invoke poll [[:poll] [:poll]]",
        "0 ok poll [[:poll {:x [[0 :a] [1 :b]]}] [:poll {:x [[2 :c] [3 :d]]}]]",
        "1 invoke send [[:send :x :b]]",
        "1 info send [[:send :x :b]]",
    ]);
    assert_eq!(
        r["worst-realtime-lag"],
        json!({"time": 22e-9, "process": 0, "key": "x", "lag": 17e-9})
    );
    assert_eq!(r["lag"]["measurements"], 8);
    assert_eq!(r["lag"]["max-by-key"], json!({"x": 17e-9}));
}

#[test]
fn checker_writes_plots() {
    let dir = std::env::temp_dir().join(format!("rift-kafka-test-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let h = hist(
        &SEND_1
            .iter()
            .chain(&[
                "2 invoke poll [[:poll]]",
                "2 ok poll [[:poll {:y [[5 1]]}]]",
            ])
            .copied()
            .collect::<Vec<_>>(),
    );
    let r = KafkaChecker::default().check(&CheckContext::in_dir(&dir), &h);
    assert_eq!(r.valid, Validity::False);
    assert_eq!(r.get("file-errors"), None);
    let svg = std::fs::read_to_string(dir.join("kafka/orders/x.svg")).unwrap();
    assert!(svg.contains("#ffb3b3"), "conflicting offset is shaded");
    assert!(dir.join("kafka/unseen.svg").exists());
    assert!(dir.join("kafka/realtime-lag.svg").exists());
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn malformed_ops_are_unknown() {
    let r = run(&["0 invoke send [[:frob :x 1]]", "0 ok send [[:frob :x 1]]"]);
    assert_eq!(r["valid?"], "unknown");
    assert_eq!(r["error"], "op 1: unknown micro-op [:frob :x 1]");
}

fn small(seed: u64) -> gen::GenOptions {
    gen::GenOptions {
        ops: 4000,
        keys: 6,
        concurrency: 4,
        seed,
        ..gen::GenOptions::default()
    }
}

#[test]
fn generated_history_is_valid_and_a_planted_loss_is_found() {
    let ops = gen::generate(&small(7));
    let h = History::new(ops.clone()).unwrap();
    let r = check(&h, &KafkaOptions::default(), None).to_json();
    assert_eq!(r["error-types"], json!([]), "{}", r);
    assert_eq!(r["valid?"], true);
    // Plant a loss: remove one acknowledged value from every poll that returned it.
    let victim = ops
        .iter()
        .filter(|o| o.is_ok() && o.f.is_name("send"))
        .find_map(|o| o.value.as_seq()?.first().cloned())
        .unwrap();
    let (k, pair) = (
        victim.as_seq().unwrap()[1].clone(),
        victim.as_seq().unwrap()[2].clone(),
    );
    let v = pair.as_seq().unwrap()[1].clone();
    let planted: Vec<Op> = ops.into_iter().map(|o| strip(o, &k, &v)).collect();
    let r = check(
        &History::new(planted).unwrap(),
        &KafkaOptions::default(),
        None,
    )
    .to_json();
    assert_eq!(r["lost-write"]["count"], 1);
    assert_eq!(
        r["lost-write"]["errors"][0]["value"],
        rift_checker::util::value_json(&v)
    );
    assert_eq!(r["unseen"]["count"], 1);
    assert_eq!(r["valid?"], false);
}

/// Removes value `v` of key `k` from an op's poll results.
fn strip(mut o: Op, k: &Value, v: &Value) -> Op {
    if let Value::Vector(mops) = &mut o.value {
        for m in mops.iter_mut() {
            if let Value::Vector(parts) = m {
                if let Some(Value::Map(res)) = parts.get_mut(1) {
                    for (key, recs) in res.iter_mut() {
                        if key == k {
                            if let Value::Vector(rs) = recs {
                                rs.retain(|r| r.as_seq().map(|p| &p[1]) != Some(v));
                            }
                        }
                    }
                }
            }
        }
    }
    o
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(12))]
    #[test]
    fn generated_histories_are_valid(seed in 0u64..10_000) {
        let h = History::new(gen::generate(&small(seed))).unwrap();
        let r = check(&h, &KafkaOptions::default(), None);
        proptest::prop_assert_eq!(r.valid, Validity::True, "{}", r.to_json());
    }
}

#[test]
fn rebalanced_keys_are_exempt_from_internal_poll_checks() {
    let lines = [
        "1 invoke send [[:send :x :a] [:send :x :b] [:send :x :d]]",
        "1 info send [[:send :x :a] [:send :x :b] [:send :x :d]]",
        "0 invoke poll [[:poll]]",
        "0 ok poll [[:poll {:x [[1 :a] [4 :d]]}]]",
        "2 invoke poll [[:poll]]",
        "2 ok poll [[:poll {:x [[2 :b]]}]]",
    ];
    let r = run(&lines);
    assert_eq!(r["int-poll-skip"]["count"], 1);
    let mut ops = hist(&lines).into_ops();
    let log = edn::read_edn_bytes(b"{:type :ok, :value [{:keys [:x]}]}", None).unwrap();
    ops[3].set_extra("rebalance-log", log[0].value.clone());
    let r = check(&History::new(ops).unwrap(), &KafkaOptions::default(), None).to_json();
    assert_eq!(r["int-poll-skip"], Json::Null);
}
