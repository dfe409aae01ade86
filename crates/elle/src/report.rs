//! Shared pieces: the analysis context (history + parsed txns), anomaly collections, JSON
//! images of ops, and the lost-update scan both workloads use.

use crate::txn::{Kind, Txns};
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
    pub txns: &'a Txns,
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
            value_json(&self.txns.keys[mop.key as usize]),
            value_json(&mop.value)
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

/// Lost updates: two committed txns that read the same version of a key (their first read of
/// it) and then both wrote it.
pub fn lost_updates(ctx: &Ctx, write: Kind, out: &mut Anomalies) {
    let mut groups: FxHashMap<(u32, &Value), Vec<u32>> = FxHashMap::default();
    for (i, t) in ctx.txns.txns.iter().enumerate() {
        if t.ty != OpType::Ok {
            continue;
        }
        let mut reads: FxHashMap<u32, &Value> = FxHashMap::default();
        let mut wrote: rustc_hash::FxHashSet<u32> = Default::default();
        for mop in &t.mops {
            if mop.kind == write {
                if wrote.insert(mop.key) {
                    if let Some(v) = reads.get(&mop.key) {
                        groups.entry((mop.key, v)).or_default().push(i as u32);
                    }
                }
            } else if mop.kind == Kind::Read {
                reads.entry(mop.key).or_insert(&mop.value);
            }
        }
    }
    let mut cases: Vec<(u32, &Value, Vec<u32>)> = groups
        .into_iter()
        .filter(|(_, ts)| ts.len() >= 2)
        .map(|((k, v), ts)| (k, v, ts))
        .collect();
    cases.sort_by(|a, b| (a.0, a.1).cmp(&(b.0, b.1)));
    for (k, v, ts) in cases {
        let txns: Vec<Json> = ts.iter().map(|&t| ctx.op_json(t)).collect();
        out.add(
            "lost-update",
            json!({"key": value_json(&ctx.txns.keys[k as usize]), "value": value_json(v), "txns": txns}),
        );
    }
}
