//! Shared pieces: the analysis context (history + parsed txns), anomaly collections, JSON
//! images of ops, and the lost-update scan both workloads use.

use crate::txn::{Kind, Txn, Txns};
use rift_checker::util::{op_json, value_json};
use rift_history::{History, OpType, Value};
use rustc_hash::FxHashMap;
use serde_json::{json, Value as Json};
use std::collections::BTreeMap;

/// The history and its parsed transactions.
pub struct Ctx<'a> {
    /// The history.
    pub history: &'a History,
    /// Its transactions.
    pub txns: &'a Txns<'a>,
}

impl Ctx<'_> {
    /// The completion op of txn `i` as JSON.
    pub fn op_json(&self, i: u32) -> Json {
        op_json(&self.history.ops()[self.txns.txns[i as usize].pos])
    }

    /// Micro-op `m` of txn `i` as JSON `[f, k, v]`.
    pub fn mop_json(&self, i: u32, m: usize) -> Json {
        let mop = &self.txns.txns[i as usize].mops[m];
        let f = match mop.kind {
            Kind::Append => "append",
            Kind::Write => "w",
            Kind::Read => "r",
        };
        json!([
            f,
            value_json(self.txns.keys[mop.key as usize]),
            value_json(mop.value)
        ])
    }

    /// A value as JSON.
    pub fn value_json(&self, v: &Value) -> Json {
        value_json(v)
    }

    /// The `index` of txn `i`'s completion.
    pub fn index_of(&self, i: u32) -> u64 {
        self.history.ops()[self.txns.txns[i as usize].pos].index
    }
}

/// Anomalies found, by type name.
#[derive(Default, Debug)]
pub struct Anomalies {
    /// Type -> instances.
    pub map: BTreeMap<String, Vec<Json>>,
}

impl Anomalies {
    /// Records one instance.
    pub fn add(&mut self, ty: &str, instance: Json) {
        self.map.entry(ty.to_string()).or_default().push(instance);
    }

    /// Merges another collection in.
    pub fn extend(&mut self, other: Anomalies) {
        for (k, v) in other.map {
            self.map.entry(k).or_default().extend(v);
        }
    }
}

/// How the lost-update scan tells versions apart: two first reads saw the same version iff
/// their keys are equal.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Seen<'a> {
    /// A vector (`false`) or list (`true`) read that is a prefix of its key's longest read,
    /// by length: such reads are equal iff their lengths and container kinds are.
    Prefix(u32, bool),
    /// Any other read, by value.
    Value(&'a Value),
}

/// Lost updates: two committed txns that read the same version of a key (their first read of
/// it) and then both wrote it. `seen(txn, mop index)` names the version a read saw.
pub fn lost_updates<'a>(
    ctx: &Ctx<'a>,
    write: Kind,
    seen: impl Fn(&Txn<'a>, usize) -> Seen<'a>,
    out: &mut Anomalies,
) {
    let mut groups: FxHashMap<(u32, Seen<'a>), (&'a Value, Vec<u32>)> = FxHashMap::default();
    let mut reads: Vec<(u32, usize)> = Vec::new();
    let mut wrote: Vec<u32> = Vec::new();
    for (i, t) in ctx.txns.txns.iter().enumerate() {
        if t.ty != OpType::Ok {
            continue;
        }
        reads.clear();
        wrote.clear();
        for (m, mop) in t.mops.iter().enumerate() {
            if mop.kind == write {
                if !wrote.contains(&mop.key) {
                    wrote.push(mop.key);
                    if let Some(&(_, rm)) = reads.iter().find(|r| r.0 == mop.key) {
                        groups
                            .entry((mop.key, seen(t, rm)))
                            .or_insert_with(|| (t.mops[rm].value, Vec::new()))
                            .1
                            .push(i as u32);
                    }
                }
            } else if mop.kind == Kind::Read && !reads.iter().any(|r| r.0 == mop.key) {
                reads.push((mop.key, m));
            }
        }
    }
    let mut cases: Vec<(u32, &Value, Vec<u32>)> = groups
        .into_iter()
        .filter(|(_, (_, ts))| ts.len() >= 2)
        .map(|((k, _), (v, ts))| (k, v, ts))
        .collect();
    cases.sort_by(|a, b| (a.0, a.1).cmp(&(b.0, b.1)));
    for (k, v, ts) in cases {
        let txns: Vec<Json> = ts.iter().map(|&t| ctx.op_json(t)).collect();
        out.add(
            "lost-update",
            json!({"key": value_json(ctx.txns.keys[k as usize]), "value": value_json(v), "txns": txns}),
        );
    }
}
