//! The checkers: Elle (`append`, `wr`) at `--consistency-models`, Knossos-style
//! linearizability of each register (`register`), Jepsen's bank checker (`bank`), each beside
//! `stats` and `exceptions`; and around them [`Summary`], which adds what the summary
//! prints: the throughput of the history, the checker's own time, and whether the model the
//! isolation level promises (`--expected-consistency`) holds.

use rift_checker::{CheckContext, CheckResult, Checker, CheckerOptions, Compose, Validity};
use rift_history::{History, OpType};
use serde_json::{json, Value as Json};
use std::time::Instant;

use crate::client::Workload;

/// What the checker of a run checks.
#[derive(Clone, Debug)]
pub struct CheckSpec {
    /// The workload.
    pub workload: Workload,
    /// The models Elle checks (`--consistency-models`).
    pub models: Vec<String>,
    /// The model the isolation level promises (`--expected-consistency`).
    pub expected: String,
}

/// The composed checker of a run, wrapped in [`Summary`].
pub fn checker(spec: &CheckSpec) -> Result<Box<dyn Checker>, String> {
    let elle = match spec.workload {
        Workload::Register => "register",
        Workload::Bank => "bank",
        Workload::Append | Workload::Wr => "",
    };
    let inner = if !elle.is_empty() {
        rift_core::workload::checker_for(&json!({ "workload": elle }))?
    } else {
        let w = match spec.workload {
            Workload::Append => rift_elle::Workload::ListAppend,
            _ => rift_elle::Workload::RwRegister,
        };
        let opts = rift_elle::Options {
            consistency_models: spec.models.clone(),
            ..rift_elle::Options::default()
        };
        let copts = CheckerOptions::default();
        let stats = rift_checker::by_name("stats", &copts).map_err(|e| e.to_string())?;
        let exceptions = rift_checker::by_name("exceptions", &copts).map_err(|e| e.to_string())?;
        Box::new(Compose::new(vec![
            (
                "workload".to_string(),
                Box::new(rift_elle::checker(w, opts)) as Box<dyn Checker>,
            ),
            ("stats".to_string(), stats),
            ("exceptions".to_string(), exceptions),
        ])) as Box<dyn Checker>
    };
    Ok(Box::new(Summary {
        inner,
        expected: matches!(spec.workload, Workload::Append | Workload::Wr)
            .then(|| spec.expected.clone()),
    }))
}

/// Adds a `summary` entry to the inner checker's result (see the module documentation).
pub struct Summary {
    inner: Box<dyn Checker>,
    /// The expected model, for Elle's workloads.
    expected: Option<String>,
}

/// Whether `model` holds by an Elle result (the `workload` entry of the composed result):
/// valid, or `model` is in neither `not` nor `also-not`. None when Elle could not tell.
pub fn model_holds(elle: &Json, model: &str) -> Option<bool> {
    match elle.get("valid?") {
        Some(Json::Bool(true)) => return Some(true),
        Some(Json::Bool(false)) => {}
        _ => return None,
    }
    let listed = |k: &str| {
        elle.get(k)
            .and_then(Json::as_array)
            .is_some_and(|a| a.iter().any(|m| m.as_str() == Some(model)))
    };
    Some(!(listed("not") || listed("also-not")))
}

impl Checker for Summary {
    fn check(&self, ctx: &CheckContext, history: &History) -> CheckResult {
        let t = Instant::now();
        let mut r = self.inner.check(ctx, history);
        let checker_s = t.elapsed().as_secs_f64();
        let mut counts = [0u64; 3];
        let (mut first, mut last) = (i64::MAX, i64::MIN);
        for op in history.client_ops() {
            if let Some(t) = op.time {
                first = first.min(t);
                last = last.max(t);
            }
            match op.ty {
                OpType::Ok => counts[0] += 1,
                OpType::Fail => counts[1] += 1,
                OpType::Info => counts[2] += 1,
                _ => {}
            }
        }
        let span_s = if last > first {
            (last - first) as f64 / 1e9
        } else {
            0.0
        };
        let throughput = if span_s > 0.0 {
            counts[0] as f64 / span_s
        } else {
            0.0
        };
        let mut s = json!({
            "ok": counts[0], "fail": counts[1], "info": counts[2],
            "span-s": span_s, "ok-per-s": throughput, "checker-s": checker_s,
        });
        if let Some(model) = &self.expected {
            let elle = r.details.get("workload").cloned().unwrap_or(Json::Null);
            s["expected-consistency"] = json!(model);
            s["expected-holds"] = json!(model_holds(&elle, model));
        }
        r.details.insert("summary".into(), s);
        r
    }
}

/// The summary lines of a result (empty when it has no `summary`).
pub fn summary_lines(r: &CheckResult) -> Vec<String> {
    let Some(s) = r.details.get("summary") else {
        return Vec::new();
    };
    let f = |k: &str| s.get(k).and_then(Json::as_f64).unwrap_or(0.0);
    let mut out = vec![format!(
        "throughput: {:.0} ok ops/s ({} ok, {} fail, {} info in {:.1} s); checker: {:.2} s",
        f("ok-per-s"),
        f("ok") as u64,
        f("fail") as u64,
        f("info") as u64,
        f("span-s"),
        f("checker-s"),
    )];
    if let Some(m) = s.get("expected-consistency").and_then(Json::as_str) {
        let line = match s.get("expected-holds").and_then(Json::as_bool) {
            Some(true) if r.valid == Validity::True => {
                format!("expected consistency {m}: holds")
            }
            Some(true) => {
                format!("expected consistency {m}: holds (the anomalies found are ones {m} allows)")
            }
            Some(false) => format!("expected consistency {m}: VIOLATED"),
            None => format!("expected consistency {m}: unknown"),
        };
        out.push(line);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use rift_elle::notation::parse_history;

    fn spec(models: &[&str], expected: &str) -> CheckSpec {
        CheckSpec {
            workload: Workload::Append,
            models: models.iter().map(|s| s.to_string()).collect(),
            expected: expected.into(),
        }
    }

    #[test]
    fn write_skew_breaks_serializable_and_not_snapshot_isolation() {
        // Each txn read the other's key empty, then appended to its own: G2-item.
        let h = parse_history("ax1 ry | ay1 rx").unwrap();
        let ctx = CheckContext::default();
        let r = checker(&spec(&["serializable"], "snapshot-isolation"))
            .unwrap()
            .check(&ctx, &h);
        assert_eq!(r.valid, Validity::False);
        let lines = summary_lines(&r);
        assert!(lines[1].contains("snapshot-isolation: holds"), "{lines:?}");
        let r = checker(&spec(&["snapshot-isolation"], "snapshot-isolation"))
            .unwrap()
            .check(&ctx, &h);
        assert_eq!(r.valid, Validity::True, "{:?}", r.details);
        assert!(summary_lines(&r)[1].ends_with("holds"));
    }

    #[test]
    fn a_lost_update_violates_snapshot_isolation() {
        // Both read x empty and appended: one append's read missed the other (P4, G-single).
        let h = parse_history("rx ax1 | rx ax2 | rx1,2").unwrap();
        let r = checker(&spec(&["snapshot-isolation"], "snapshot-isolation"))
            .unwrap()
            .check(&CheckContext::default(), &h);
        assert_eq!(r.valid, Validity::False);
        assert!(summary_lines(&r)[1].contains("VIOLATED"), "{:?}", r.details);
    }

    #[test]
    fn register_and_bank_have_their_checkers() {
        for w in [Workload::Register, Workload::Bank] {
            let c = checker(&CheckSpec {
                workload: w,
                models: vec![],
                expected: "serializable".into(),
            })
            .unwrap();
            let r = c.check(&CheckContext::default(), &History::new(vec![]).unwrap());
            assert_eq!(summary_lines(&r).len(), 1, "{w:?}");
        }
    }
}
