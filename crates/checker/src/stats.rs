//! Jepsen's `stats` and `unhandled-exceptions` checkers.

use crate::result::{CheckContext, CheckResult, Checker, Validity};
use crate::util::{key_text, op_json};
use rift_history::{History, Op, OpType};
use serde_json::{Map, Value as Json};
use std::collections::BTreeMap;

/// Success and failure counts, overall and per `f` (Jepsen's `stats`).
///
/// Counts client completions only (the nemesis and invocations are ignored). The result has
/// `count`, `ok-count`, `fail-count`, `info-count` and `by-f` (the same per `f`, each with its
/// own `valid?`). It is invalid when some `f` never completed `ok` (anomaly type `never-ok`).
#[derive(Clone, Copy, Debug, Default)]
pub struct Stats;

#[derive(Default, Clone, Copy)]
struct Counts {
    ok: u64,
    fail: u64,
    info: u64,
}

impl Counts {
    fn add(&mut self, ty: OpType) {
        match ty {
            OpType::Ok => self.ok += 1,
            OpType::Fail => self.fail += 1,
            OpType::Info => self.info += 1,
            OpType::Invoke => {}
        }
    }

    fn to_json(self, with_valid: bool) -> Map<String, Json> {
        let mut m = Map::new();
        if with_valid {
            m.insert("valid?".into(), Validity::from_bool(self.ok > 0).to_json());
        }
        m.insert("count".into(), (self.ok + self.fail + self.info).into());
        m.insert("ok-count".into(), self.ok.into());
        m.insert("fail-count".into(), self.fail.into());
        m.insert("info-count".into(), self.info.into());
        m
    }
}

impl Checker for Stats {
    fn check(&self, _ctx: &CheckContext, history: &History) -> CheckResult {
        let mut all = Counts::default();
        let mut by_f: BTreeMap<String, Counts> = BTreeMap::new();
        for op in history.client_ops().filter(|o| o.ty.is_completion()) {
            all.add(op.ty);
            by_f.entry(key_text(&op.f)).or_default().add(op.ty);
        }
        let never_ok = by_f.values().any(|c| c.ok == 0);
        let mut r = if never_ok {
            CheckResult::invalid(["never-ok"])
        } else {
            CheckResult::valid()
        };
        r.details = all.to_json(false);
        let by_f: Map<String, Json> = by_f
            .into_iter()
            .map(|(f, c)| (f, Json::Object(c.to_json(true))))
            .collect();
        r.with("by-f", by_f)
    }
}

/// Groups client operations that crashed with an exception (Jepsen's `unhandled-exceptions`).
///
/// An op counts when it is a completion carrying an `exception` field (Jepsen's
/// `{:via [{:type ..}] ..}` or a flat `{:type .. :message ..}`), grouped by that type; otherwise
/// an `info` op with an `error` value, grouped by the error (its name, or its JSON text; for
/// vectors such as `[:timeout ..]`, the first element). The result lists `exceptions`, sorted by
/// descending count then class, each `{count, class, example}` (the first op seen). Always
/// valid: it is informational.
#[derive(Clone, Copy, Debug, Default)]
pub struct Exceptions;

fn exception_class(op: &Op) -> Option<String> {
    if op.ty == OpType::Invoke {
        return None;
    }
    if let Some(e) = op.get_extra("exception") {
        let via_type = e
            .get("via")
            .and_then(|v| v.as_seq())
            .and_then(|v| v.first())
            .and_then(|f| f.get("type"));
        let ty = via_type.or_else(|| e.get("type"));
        return Some(ty.map(key_text).unwrap_or_else(|| "unknown".into()));
    }
    if op.ty == OpType::Info {
        let e = op.error.as_ref()?;
        if e.is_nil() {
            return None;
        }
        let head = e.as_seq().and_then(|s| s.first()).unwrap_or(e);
        return Some(key_text(head));
    }
    None
}

impl Checker for Exceptions {
    fn check(&self, _ctx: &CheckContext, history: &History) -> CheckResult {
        let mut groups: BTreeMap<String, (u64, &Op)> = BTreeMap::new();
        for op in history.client_ops() {
            if let Some(class) = exception_class(op) {
                groups.entry(class).or_insert((0, op)).0 += 1;
            }
        }
        if groups.is_empty() {
            return CheckResult::valid();
        }
        let mut list: Vec<(String, u64, &Op)> =
            groups.into_iter().map(|(c, (n, op))| (c, n, op)).collect();
        list.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        let exceptions: Vec<Json> = list
            .into_iter()
            .map(|(class, count, op)| {
                serde_json::json!({"count": count, "class": class, "example": op_json(op)})
            })
            .collect();
        CheckResult::valid().with("exceptions", exceptions)
    }
}
