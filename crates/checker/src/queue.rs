//! Jepsen's `total-queue` checker.

use crate::result::{CheckContext, CheckResult, Checker};
use crate::set::read_elements;
use crate::util::{ms_count, ms_intersect, ms_json, ms_minus, op_json, Multiset};
use rift_history::{History, OpType};

/// Jepsen's `total-queue`: what goes in must come out. Histories must drain the queue.
///
/// Multisets of values: `attempts` (enqueue invocations), `enqueues` (ok enqueues), `dequeues`
/// (ok dequeues, plus every element of an ok `drain`). Then `ok` = dequeues ∩ attempts,
/// `unexpected` = dequeues never attempted, `duplicated` = dequeued more often than attempted,
/// `lost` = ok enqueues never dequeued, `recovered` = ok dequeues whose enqueue was not
/// acknowledged. Valid iff nothing is lost or unexpected; as in Jepsen, duplicates are
/// reported but do not invalidate (a queue may deliver at least once). A drain that crashed
/// (`info`) makes the result unknown, as Jepsen refuses such histories.
#[derive(Clone, Copy, Debug, Default)]
pub struct TotalQueue;

impl Checker for TotalQueue {
    fn check(&self, _ctx: &CheckContext, history: &History) -> CheckResult {
        let mut attempts = Multiset::new();
        let mut enqueues = Multiset::new();
        let mut dequeues = Multiset::new();
        for op in history.client_ops() {
            let f = &op.f;
            if f.is_name("enqueue") {
                match op.ty {
                    OpType::Invoke => *attempts.entry(op.value.clone()).or_insert(0) += 1,
                    OpType::Ok => *enqueues.entry(op.value.clone()).or_insert(0) += 1,
                    _ => {}
                }
            } else if f.is_name("dequeue") && op.is_ok() {
                *dequeues.entry(op.value.clone()).or_insert(0) += 1;
            } else if f.is_name("drain") {
                match op.ty {
                    OpType::Ok => match read_elements(op) {
                        Ok(els) => {
                            for e in els {
                                *dequeues.entry(e.clone()).or_insert(0) += 1;
                            }
                        }
                        Err(r) => return r,
                    },
                    OpType::Info => {
                        return CheckResult::unknown(format!(
                            "Not sure how to handle a crashed drain operation (op {})",
                            op.index
                        ))
                        .with("op", op_json(op))
                    }
                    _ => {}
                }
            }
        }
        let ok = ms_intersect(&dequeues, &attempts);
        let unexpected: Multiset = dequeues
            .iter()
            .filter(|(k, _)| !attempts.contains_key(*k))
            .map(|(k, n)| (k.clone(), *n))
            .collect();
        let duplicated = ms_minus(&ms_minus(&dequeues, &attempts), &unexpected);
        let lost = ms_minus(&enqueues, &dequeues);
        let recovered = ms_minus(&ok, &enqueues);
        let mut types = Vec::new();
        if !lost.is_empty() {
            types.push("lost");
        }
        if !unexpected.is_empty() {
            types.push("unexpected");
        }
        let r = CheckResult::from_anomalies(types);
        r.with("attempt-count", ms_count(&attempts))
            .with("acknowledged-count", ms_count(&enqueues))
            .with("ok-count", ms_count(&ok))
            .with("unexpected-count", ms_count(&unexpected))
            .with("duplicated-count", ms_count(&duplicated))
            .with("lost-count", ms_count(&lost))
            .with("recovered-count", ms_count(&recovered))
            .with("lost", ms_json(&lost))
            .with("unexpected", ms_json(&unexpected))
            .with("duplicated", ms_json(&duplicated))
            .with("recovered", ms_json(&recovered))
    }
}
