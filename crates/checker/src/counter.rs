//! Jepsen's `counter` and `unique-ids` checkers.

use crate::result::{CheckContext, CheckResult, Checker, Validity};
use crate::util::{key_text, op_json, value_json};
use rift_history::{History, OpType, Value};
use serde_json::{Map, Value as Json};
use std::collections::{BTreeMap, HashMap};

/// Jepsen's `counter`: a counter starts at 0, `add` ops change it by their value, `read`s
/// return it.
///
/// A read must return a value between `lower` and `upper`: `lower` sums the increments that
/// completed ok before the read was invoked and every decrement invoked before it completed;
/// `upper` sums every increment invoked before the read completed and the decrements that
/// completed ok before it was invoked. With increments only this is Jepsen's rule (lower bound
/// at the read's invocation, upper bound at its completion); Jepsen allows no decrements, here
/// they are the mirror image. Adds that completed `fail` never count; `info` and pending adds
/// stay possible for ever. `reads` lists every ok read as
/// `[lower, value, upper]`, `errors` those out of bounds (anomaly type `out-of-bounds`). A
/// non-integer add or read value makes the result unknown (`malformed` lists the ops).
#[derive(Clone, Copy, Debug, Default)]
pub struct Counter;

impl Checker for Counter {
    fn check(&self, _ctx: &CheckContext, history: &History) -> CheckResult {
        // Sums of positive / negative deltas, invoked (possibly applied) and ok (applied).
        let (mut pos_inv, mut pos_ok, mut neg_inv, mut neg_ok) = (0i128, 0i128, 0i128, 0i128);
        // Read invocation position -> (pos_ok, neg_ok) when it was invoked.
        let mut pending: HashMap<usize, (i128, i128)> = HashMap::new();
        let mut reads: Vec<Json> = Vec::new();
        let mut errors: Vec<Json> = Vec::new();
        let mut malformed: Vec<Json> = Vec::new();
        for (pos, op) in history.ops().iter().enumerate() {
            if !op.is_client() {
                continue;
            }
            if op.f.is_name("add") {
                let failed = op.is_invoke()
                    && history
                        .completion(pos)
                        .is_some_and(|c| c.ty == OpType::Fail);
                if failed || !(op.is_invoke() || op.is_ok()) {
                    continue;
                }
                let Some(d) = op.value.as_i64().map(i128::from) else {
                    malformed.push(op_json(op));
                    continue;
                };
                match (op.is_invoke(), d >= 0) {
                    (true, true) => pos_inv += d,
                    (true, false) => neg_inv += d,
                    (false, true) => pos_ok += d,
                    (false, false) => neg_ok += d,
                }
            } else if op.f.is_name("read") {
                if op.is_invoke() {
                    pending.insert(pos, (pos_ok, neg_ok));
                } else if op.is_ok() {
                    let inv = history.pair_of(pos);
                    let at_inv = inv.and_then(|i| pending.remove(&i));
                    let (p_ok, n_ok) = at_inv.unwrap_or((pos_ok, neg_ok));
                    let Some(v) = op.value.as_i64().map(i128::from) else {
                        malformed.push(op_json(op));
                        continue;
                    };
                    // Lowest: increments done before the read began, every decrement begun
                    // before it ended; highest: the mirror image.
                    let (lo, hi) = (p_ok + neg_inv, pos_inv + n_ok);
                    let entry = Json::Array(vec![big(lo), big(v), big(hi)]);
                    if !(lo <= v && v <= hi) {
                        errors.push(entry.clone());
                    }
                    reads.push(entry);
                }
            }
        }
        let valid = if !errors.is_empty() {
            Validity::False
        } else if !malformed.is_empty() {
            Validity::Unknown
        } else {
            Validity::True
        };
        let mut r = CheckResult::with_validity(valid);
        if !errors.is_empty() {
            r.add_anomalies(["out-of-bounds"]);
        }
        if !malformed.is_empty() {
            r = r.with("malformed", malformed);
        }
        r.with("reads", reads).with("errors", errors)
    }
}

/// An i128 as a JSON number, or as its decimal text when it does not fit an i64.
fn big(x: i128) -> Json {
    i64::try_from(x).map_or_else(|_| Json::String(x.to_string()), Json::from)
}

/// Jepsen's `unique-ids`: every ok `generate` must return a distinct id.
///
/// Reports `attempted-count` (invocations), `acknowledged-count` (ok completions),
/// `duplicated-count`, `duplicated` (up to 48 of the most repeated ids -> times seen) and
/// `range` (`[lowest, highest]` id, null when none). Duplicates are anomaly type `duplicated`.
#[derive(Clone, Copy, Debug, Default)]
pub struct UniqueIds;

impl Checker for UniqueIds {
    fn check(&self, _ctx: &CheckContext, history: &History) -> CheckResult {
        let mut attempted = 0u64;
        let mut acked = 0u64;
        let mut freqs: HashMap<&Value, u64> = HashMap::new();
        let mut range: Option<(&Value, &Value)> = None;
        for op in history.client_ops().filter(|o| o.f.is_name("generate")) {
            if op.is_invoke() {
                attempted += 1;
            } else if op.is_ok() {
                acked += 1;
                *freqs.entry(&op.value).or_insert(0) += 1;
                let v = &op.value;
                range = Some(match range {
                    None => (v, v),
                    Some((lo, hi)) => (lo.min(v), hi.max(v)),
                });
            }
        }
        let mut dups: Vec<(&Value, u64)> = freqs.into_iter().filter(|(_, n)| *n > 1).collect();
        let dup_count = dups.len();
        dups.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(b.0)));
        dups.truncate(48);
        let shown: BTreeMap<&Value, u64> = dups.into_iter().collect();
        let shown: Map<String, Json> = shown
            .into_iter()
            .map(|(v, n)| (key_text(v), Json::from(n)))
            .collect();
        let r = if dup_count > 0 {
            CheckResult::invalid(["duplicated"])
        } else {
            CheckResult::valid()
        };
        let range = range.map_or(Json::Null, |(lo, hi)| {
            Json::Array(vec![value_json(lo), value_json(hi)])
        });
        r.with("attempted-count", attempted)
            .with("acknowledged-count", acked)
            .with("duplicated-count", dup_count)
            .with("duplicated", shown)
            .with("range", range)
    }
}
