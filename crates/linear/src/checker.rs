//! The [`Linearizable`] checker and the [`Independent`] per-key wrapper.

use crate::check::{check_history, Options, Outcome};
use crate::model::Model;
use rayon::prelude::*;
use rift_checker::util::{key_text, value_json};
use rift_checker::{CheckContext, CheckResult, Checker, Validity};
use rift_history::{History, Op, Process, Value};
use serde_json::{json, Map, Value as Json};
use std::collections::BTreeMap;

/// Jepsen's `linearizable` checker with a model, searching with WGL.
pub struct Linearizable {
    model: Box<dyn Model>,
    opts: Options,
}

/// A `linearizable` checker for `model`.
pub fn linearizable(model: Box<dyn Model>, opts: Options) -> Linearizable {
    Linearizable { model, opts }
}

impl Linearizable {
    /// The model.
    pub fn model(&self) -> &dyn Model {
        &*self.model
    }
}

/// The result JSON of an outcome: `valid?`, `model`, `analyzer` (`"wgl"`), counts, and on
/// failure the `counterexample`; on unknown the `error`.
pub fn outcome_result(outcome: &Outcome, history: &History) -> CheckResult {
    let mut r = CheckResult::with_validity(outcome.valid);
    if outcome.valid == Validity::False {
        r.add_anomalies(["nonlinearizable"]);
    }
    let p = &outcome.prepared;
    r = r
        .with("model", outcome.model.clone())
        .with("analyzer", "wgl")
        .with("partitions", outcome.partitions)
        .with("op-count", p.ok + p.indefinite)
        .with("indefinite-count", p.indefinite)
        .with("failed-count", p.failed)
        .with("configurations", outcome.search.configurations)
        .with("elapsed-ms", outcome.elapsed.as_millis() as u64);
    if let Some(reason) = &outcome.reason {
        r = r.with("error", reason.clone());
    }
    if let Some(c) = &outcome.counterexample {
        r = r.with("counterexample", c.to_json(history));
    }
    if let Some(a) = &outcome.artifact {
        r = r.with("artifact", a.display().to_string());
    }
    if let Some(e) = &outcome.artifact_error {
        r = r.with("artifact-error", e.clone());
    }
    r
}

impl Checker for Linearizable {
    fn check(&self, ctx: &CheckContext, history: &History) -> CheckResult {
        let mut opts = self.opts.clone();
        if ctx.dir.is_some() {
            opts.artifact_dir = ctx.dir.clone();
        }
        let outcome = check_history(history, &*self.model, &opts);
        let mut r = outcome_result(&outcome, history);
        // Ops of no client process (no `:process`, or a name) are not checked: a verdict that
        // left them out can be no better than unknown.
        let skipped: Vec<&Op> = history
            .ops()
            .iter()
            .filter(|o| !o.is_client() && o.process != Process::Nemesis)
            .collect();
        if let Some(first) = skipped.first() {
            if r.valid == Validity::True {
                r.valid = Validity::Unknown;
            }
            r = r.with(
                "unchecked-ops",
                json!({
                    "count": skipped.len(),
                    "first-index": first.index,
                    "why": "not of a client process (no :process, or not an integer): left out",
                }),
            );
        }
        r
    }
}

/// Jepsen's `independent/checker`: ops whose value is a tuple `[k v]` are split into one
/// sub-history per key `k` (with value `v`); nemesis ops go to every key. Each key is checked
/// by the inner checker (in parallel) with its files under `independent/<key>/`, where its
/// `results.json` is written too. The result is `{valid?, results: {key: result}, failures:
/// [keys]}` with the verdicts merged (false > unknown > true).
pub struct Independent<C: Checker> {
    inner: C,
}

/// Wraps a checker to check each independent key on its own.
pub fn independent<C: Checker>(inner: C) -> Independent<C> {
    Independent { inner }
}

/// Splits a history of `[k v]` tuple values into per-key histories (keys sorted), keeping each
/// op's `index`. A completion without a tuple goes to its invocation's key; client ops that
/// have neither are left out; nemesis and other non-client ops go to every key.
pub fn split_by_key(history: &History) -> Vec<(Value, History)> {
    let mut keys: BTreeMap<Value, Vec<Op>> = BTreeMap::new();
    let mut shared: Vec<(usize, Op)> = Vec::new();
    let mut key_of_pos: Vec<Option<Value>> = vec![None; history.len()];
    for (pos, op) in history.ops().iter().enumerate() {
        if !op.is_client() {
            shared.push((pos, op.clone()));
            continue;
        }
        let (key, v) = match op.value.as_seq() {
            Some([k, v]) if matches!(op.value, Value::Vector(_)) => (Some(k.clone()), v.clone()),
            _ => {
                let k = history.pair_of(pos).and_then(|p| key_of_pos[p].clone());
                (k, op.value.clone())
            }
        };
        let Some(key) = key else { continue };
        key_of_pos[pos] = Some(key.clone());
        let mut o = op.clone();
        o.value = v;
        keys.entry(key).or_default().push(o);
    }
    keys.into_iter()
        .filter_map(|(k, ops)| {
            let mut all: Vec<Op> = ops;
            all.extend(shared.iter().map(|(_, o)| o.clone()));
            all.sort_by_key(|o| o.index);
            History::new_lenient(all).ok().map(|h| (k, h))
        })
        .collect()
}

fn is_nemesis(op: &Op) -> bool {
    op.process == Process::Nemesis
}

impl<C: Checker> Checker for Independent<C> {
    fn check(&self, ctx: &CheckContext, history: &History) -> CheckResult {
        let subs = split_by_key(history);
        let nemesis = history.ops().iter().filter(|o| is_nemesis(o)).count();
        let results: Vec<(String, CheckResult)> = subs
            .par_iter()
            .map(|(k, h)| {
                let name = key_text(k).replace(['/', '\\'], "_");
                let sub = ctx.subdir("independent").subdir(&name);
                let r = self.inner.check(&sub, h);
                let _ = sub.write_file("results.json", r.to_json_pretty().as_bytes());
                (name, r)
            })
            .collect();
        let mut out = CheckResult::with_validity(results.iter().map(|(_, r)| r.valid).collect());
        let mut map = Map::new();
        let mut failures = Vec::new();
        for (name, r) in &results {
            if r.valid == Validity::False {
                failures.push(Json::String(name.clone()));
                out.add_anomalies(r.anomaly_types.iter().cloned());
            }
            map.insert(name.clone(), r.to_json());
        }
        out = out
            .with("key-count", subs.len())
            .with("nemesis-op-count", nemesis)
            .with("failures", failures)
            .with("results", map);
        if subs.is_empty() {
            out = out.with("keys", json!([]));
        } else {
            let keys: Vec<Json> = subs.iter().map(|(k, _)| value_json(k)).collect();
            out = out.with("keys", keys);
        }
        out
    }
}
