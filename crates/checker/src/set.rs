//! Jepsen's `set` checker: adds, then one final read.

use crate::result::{CheckContext, CheckResult, Checker};
use crate::util::{interval_set, op_json};
use rift_history::{History, Op, Value};
use std::collections::HashSet;

/// The elements of a read's value: a vector, list or set; `nil` reads as empty (as Jepsen's
/// `(set nil)`). Anything else is malformed.
pub(crate) fn read_elements(op: &Op) -> Result<&[Value], CheckResult> {
    match &op.value {
        Value::Nil => Ok(&[]),
        v => v.as_seq().ok_or_else(|| {
            CheckResult::unknown(format!(
                "read {} returned a value that is not a collection",
                op.index
            ))
            .with("op", op_json(op))
        }),
    }
}

/// Jepsen's `set` checker: `add` operations, then a final `read` of the whole set.
///
/// Every element whose add completed `ok` must be in the last ok read (else `lost`), and the
/// read may hold only elements someone tried to add (else `unexpected`). Elements whose add was
/// `info` or pending and that were read are `recovered`. Element lists are Jepsen's compact
/// integer strings (`"#{0..2 5}"`), or sorted JSON arrays for non-integer elements. With no ok
/// read the result is unknown: "Set was never read".
#[derive(Clone, Copy, Debug, Default)]
pub struct Set;

impl Checker for Set {
    fn check(&self, _ctx: &CheckContext, history: &History) -> CheckResult {
        let mut attempts: HashSet<&Value> = HashSet::new();
        let mut adds: HashSet<&Value> = HashSet::new();
        let mut final_read: Option<&Op> = None;
        for op in history.client_ops() {
            if op.f.is_name("add") {
                if op.is_invoke() {
                    attempts.insert(&op.value);
                } else if op.is_ok() {
                    adds.insert(&op.value);
                }
            } else if op.f.is_name("read") && op.is_ok() {
                final_read = Some(op);
            }
        }
        let Some(read) = final_read else {
            return CheckResult::unknown("Set was never read");
        };
        let read: HashSet<&Value> = match read_elements(read) {
            Ok(els) => els.iter().collect(),
            Err(r) => return r,
        };
        let ok: Vec<&Value> = read.intersection(&attempts).copied().collect();
        let unexpected: Vec<&Value> = read.difference(&attempts).copied().collect();
        let lost: Vec<&Value> = adds.difference(&read).copied().collect();
        let recovered: Vec<&Value> = ok.iter().copied().filter(|v| !adds.contains(v)).collect();
        let mut types = Vec::new();
        if !lost.is_empty() {
            types.push("lost");
        }
        if !unexpected.is_empty() {
            types.push("unexpected");
        }
        let r = CheckResult::from_anomalies(types);
        r.with("attempt-count", attempts.len())
            .with("acknowledged-count", adds.len())
            .with("ok-count", ok.len())
            .with("lost-count", lost.len())
            .with("recovered-count", recovered.len())
            .with("unexpected-count", unexpected.len())
            .with("ok", interval_set(&ok))
            .with("lost", interval_set(&lost))
            .with("unexpected", interval_set(&unexpected))
            .with("recovered", interval_set(&recovered))
    }
}
