//! List-append analysis: version orders from the longest reads, the non-cyclic anomalies
//! (G1a, G1b, dirty update, duplicates, incompatible orders, internal, future reads, lost
//! updates, garbage reads) and the ww/wr/rw dependency edges.

use crate::graph::{Builder, RW, WR, WW};
use crate::report::{Anomalies, Ctx};
use crate::txn::{Kind, Txns};
use crate::Error;
use rift_history::{OpType, Value};
use rustc_hash::FxHashMap;
use serde_json::json;

/// Where a version sits: the initial (empty) state or an element of the longest read.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Prev {
    /// The empty list.
    Init,
    /// The element at this position of the key's longest read.
    At(u32),
}

/// The version order of every key and the indexes the edges and explanations need.
pub struct AppendIndex {
    /// Per key: (txn, mop) of the longest read, if any.
    longest: Vec<Option<(u32, u32)>>,
    /// (key, element) -> position in the longest read.
    pos: FxHashMap<(u32, Value), u32>,
    /// (key, element) -> ok/info txn that appended it.
    writer: FxHashMap<(u32, Value), u32>,
    /// (key, slot) -> txns whose read of key ended at slot (0: empty; i+1: element i).
    readers: FxHashMap<(u32, u32), Vec<u32>>,
}

impl AppendIndex {
    fn longest_of<'a>(&self, txns: &'a Txns, k: u32) -> &'a [Value] {
        match self.longest[k as usize] {
            Some((t, m)) => txns.txns[t as usize].mops[m as usize]
                .value
                .as_seq()
                .unwrap_or(&[]),
            None => &[],
        }
    }

    /// The version an append of `v` to `k` overwrote.
    pub fn prev(&self, txns: &Txns, k: u32, v: &Value) -> Prev {
        match self.pos.get(&(k, v.clone())) {
            Some(0) => Prev::Init,
            Some(&i) => Prev::At(i - 1),
            None => match self.longest_of(txns, k).len() {
                0 => Prev::Init,
                n => Prev::At(n as u32 - 1),
            },
        }
    }

    /// The element at position `i` of `k`'s order.
    pub fn element<'a>(&self, txns: &'a Txns, k: u32, i: u32) -> Option<&'a Value> {
        self.longest_of(txns, k).get(i as usize)
    }

    /// Which ok/info txn appended `v` to `k`.
    pub fn writer(&self, k: u32, v: &Value) -> Option<u32> {
        self.writer.get(&(k, v.clone())).copied()
    }
}

fn read_list(v: &Value) -> &[Value] {
    v.as_seq().unwrap_or(&[])
}

/// Builds the index; errors on a value appended twice to one key.
pub fn index(txns: &Txns) -> Result<AppendIndex, Error> {
    let nkeys = txns.keys.len();
    let mut longest: Vec<Option<(u32, u32)>> = vec![None; nkeys];
    let mut longest_len = vec![0usize; nkeys];
    let mut writer = FxHashMap::default();
    let mut seen: FxHashMap<(u32, Value), u32> = FxHashMap::default();
    for (i, t) in txns.txns.iter().enumerate() {
        for (m, mop) in t.mops.iter().enumerate() {
            match mop.kind {
                Kind::Append => {
                    let kv = (mop.key, mop.value.clone());
                    if let Some(&other) = seen.get(&kv) {
                        if other != i as u32 {
                            return Err(Error::DuplicateWrite {
                                key: txns.keys[mop.key as usize].to_string(),
                                value: mop.value.to_string(),
                            });
                        }
                    }
                    seen.insert(kv.clone(), i as u32);
                    if t.possible() {
                        writer.insert(kv, i as u32);
                    }
                }
                Kind::Read if t.possible() => {
                    let n = read_list(&mop.value).len();
                    if n > longest_len[mop.key as usize] {
                        longest_len[mop.key as usize] = n;
                        longest[mop.key as usize] = Some((i as u32, m as u32));
                    }
                }
                _ => {}
            }
        }
    }
    let mut idx = AppendIndex {
        longest,
        pos: FxHashMap::default(),
        writer,
        readers: FxHashMap::default(),
    };
    for k in 0..nkeys as u32 {
        let l = idx.longest_of(txns, k);
        for (i, e) in l.iter().enumerate() {
            idx.pos.entry((k, e.clone())).or_insert(i as u32);
        }
    }
    for (i, t) in txns.txns.iter().enumerate() {
        if !t.possible() {
            continue;
        }
        for mop in &t.mops {
            if mop.kind != Kind::Read || (t.ty == OpType::Info && mop.value.is_nil()) {
                continue;
            }
            let slot = match read_list(&mop.value).last() {
                None => 0,
                Some(e) => match idx.pos.get(&(mop.key, e.clone())) {
                    Some(&p) => p + 1,
                    None => continue,
                },
            };
            idx.readers
                .entry((mop.key, slot))
                .or_default()
                .push(i as u32);
        }
    }
    Ok(idx)
}

/// The ww, wr and rw edges.
pub fn edges(txns: &Txns, idx: &AppendIndex, b: &mut Builder) {
    for (i, t) in txns.txns.iter().enumerate() {
        if !t.possible() {
            continue;
        }
        let i = i as u32;
        for mop in &t.mops {
            match mop.kind {
                Kind::Read => {
                    if let Some(last) = read_list(&mop.value).last() {
                        if let Some(w) = idx.writer(mop.key, last) {
                            b.link(w, i, WR);
                        }
                    }
                }
                Kind::Append => {
                    let prev = idx.prev(txns, mop.key, &mop.value);
                    let slot = match prev {
                        Prev::Init => 0,
                        Prev::At(p) => {
                            if let Some(e) = idx.element(txns, mop.key, p) {
                                if let Some(w) = idx.writer(mop.key, e) {
                                    b.link(w, i, WW);
                                }
                            }
                            p + 1
                        }
                    };
                    if let Some(rs) = idx.readers.get(&(mop.key, slot)) {
                        for &r in rs {
                            b.link(r, i, RW);
                        }
                    }
                }
                Kind::Write => {}
            }
        }
    }
}

/// Finds the non-cyclic anomalies.
pub fn anomalies(ctx: &Ctx, idx: &AppendIndex, out: &mut Anomalies) {
    let txns = ctx.txns;
    let mut failed: FxHashMap<(u32, &Value), u32> = FxHashMap::default();
    let mut intermediate: FxHashMap<(u32, &Value), u32> = FxHashMap::default();
    let mut any_append: rustc_hash::FxHashSet<(u32, &Value)> = Default::default();
    for (i, t) in txns.txns.iter().enumerate() {
        let mut last: FxHashMap<u32, &Value> = FxHashMap::default();
        for mop in t.mops.iter().filter(|m| m.kind == Kind::Append) {
            any_append.insert((mop.key, &mop.value));
            if t.ty == OpType::Fail {
                failed.insert((mop.key, &mop.value), i as u32);
            }
            if let Some(prev) = last.insert(mop.key, &mop.value) {
                intermediate.insert((mop.key, prev), i as u32);
            }
        }
    }
    for (i, t) in txns.txns.iter().enumerate() {
        if t.ty == OpType::Ok {
            ok_txn_cases(ctx, i as u32, &failed, &intermediate, &any_append, out);
        }
        if t.possible() {
            for (m, mop) in t.mops.iter().enumerate() {
                if mop.kind == Kind::Read {
                    duplicates(ctx, i as u32, m, out);
                }
            }
        }
    }
    incompatible_orders(ctx, idx, out);
    dirty_updates(ctx, idx, out);
    crate::report::lost_updates(ctx, Kind::Append, out);
}

fn ok_txn_cases(
    ctx: &Ctx,
    i: u32,
    failed: &FxHashMap<(u32, &Value), u32>,
    intermediate: &FxHashMap<(u32, &Value), u32>,
    any_append: &rustc_hash::FxHashSet<(u32, &Value)>,
    out: &mut Anomalies,
) {
    let t = &ctx.txns.txns[i as usize];
    for (m, mop) in t.mops.iter().enumerate() {
        if mop.kind != Kind::Read {
            continue;
        }
        let list = read_list(&mop.value);
        for e in list {
            if let Some(&w) = failed.get(&(mop.key, e)) {
                out.add(
                    "G1a",
                    json!({"op": ctx.op_json(i), "mop": ctx.mop_json(i, m),
                           "writer": ctx.op_json(w), "element": ctx.value_json(e)}),
                );
            } else if !any_append.contains(&(mop.key, e)) {
                out.add(
                    "garbage-read",
                    json!({"op": ctx.op_json(i), "mop": ctx.mop_json(i, m),
                           "element": ctx.value_json(e)}),
                );
            }
        }
        if let Some(e) = list.last() {
            if let Some(&w) = intermediate.get(&(mop.key, e)) {
                if w != i {
                    out.add(
                        "G1b",
                        json!({"op": ctx.op_json(i), "mop": ctx.mop_json(i, m),
                               "writer": ctx.op_json(w), "element": ctx.value_json(e)}),
                    );
                }
            }
        }
    }
    internal_case(ctx, i, out);
    future_read_case(ctx, i, out);
}

/// Elle's INT for lists: a read must equal what the txn last read plus what it appended
/// since (or end with what it appended, when it never read the key).
fn internal_case(ctx: &Ctx, i: u32, out: &mut Anomalies) {
    let t = &ctx.txns.txns[i as usize];
    // key -> (known prefix?, expected elements)
    let mut state: FxHashMap<u32, (bool, Vec<&Value>)> = FxHashMap::default();
    for (m, mop) in t.mops.iter().enumerate() {
        match mop.kind {
            Kind::Append => state
                .entry(mop.key)
                .or_insert((false, Vec::new()))
                .1
                .push(&mop.value),
            Kind::Read => {
                let v = read_list(&mop.value);
                if let Some((known, s)) = state.get(&mop.key) {
                    let bad = if *known {
                        v.len() != s.len() || v.iter().zip(s).any(|(a, b)| a != *b)
                    } else {
                        v.len() < s.len()
                            || v[v.len() - s.len()..].iter().zip(s).any(|(a, b)| a != *b)
                    };
                    if bad {
                        let exp: Vec<serde_json::Value> =
                            s.iter().map(|x| ctx.value_json(x)).collect();
                        let expected = if *known {
                            serde_json::Value::Array(exp)
                        } else {
                            let mut e = vec![json!("...")];
                            e.extend(exp);
                            serde_json::Value::Array(e)
                        };
                        out.add(
                            "internal",
                            json!({"op": ctx.op_json(i), "mop": ctx.mop_json(i, m), "expected": expected}),
                        );
                        return;
                    }
                }
                state.insert(mop.key, (true, v.iter().collect()));
            }
            Kind::Write => {}
        }
    }
}

fn future_read_case(ctx: &Ctx, i: u32, out: &mut Anomalies) {
    let t = &ctx.txns.txns[i as usize];
    let mut reads: FxHashMap<(u32, &Value), usize> = FxHashMap::default();
    for (m, mop) in t.mops.iter().enumerate() {
        match mop.kind {
            Kind::Read => {
                for e in read_list(&mop.value) {
                    reads.entry((mop.key, e)).or_insert(m);
                }
            }
            Kind::Append => {
                if let Some(&rm) = reads.get(&(mop.key, &mop.value)) {
                    out.add(
                        "future-read",
                        json!({"op": ctx.op_json(i), "mop": ctx.mop_json(i, rm),
                               "element": ctx.value_json(&mop.value)}),
                    );
                    return;
                }
            }
            Kind::Write => {}
        }
    }
}

fn duplicates(ctx: &Ctx, i: u32, m: usize, out: &mut Anomalies) {
    let v = read_list(&ctx.txns.txns[i as usize].mops[m].value);
    let mut counts: FxHashMap<&Value, u32> = FxHashMap::default();
    for e in v {
        *counts.entry(e).or_default() += 1;
    }
    let mut dups: Vec<(&Value, u32)> = counts.into_iter().filter(|(_, c)| *c > 1).collect();
    if dups.is_empty() {
        return;
    }
    dups.sort();
    let d: serde_json::Map<String, serde_json::Value> = dups
        .iter()
        .map(|(e, c)| (rift_checker::util::key_text(e), json!(c)))
        .collect();
    out.add(
        "duplicate-elements",
        json!({"op": ctx.op_json(i), "mop": ctx.mop_json(i, m), "duplicates": d}),
    );
}

fn incompatible_orders(ctx: &Ctx, idx: &AppendIndex, out: &mut Anomalies) {
    let txns = ctx.txns;
    let mut bad: Vec<Option<(u32, usize)>> = vec![None; txns.keys.len()];
    for (i, t) in txns.txns.iter().enumerate() {
        if !t.possible() {
            continue;
        }
        for (m, mop) in t.mops.iter().enumerate() {
            if mop.kind != Kind::Read || bad[mop.key as usize].is_some() {
                continue;
            }
            let v = read_list(&mop.value);
            let l = idx.longest_of(txns, mop.key);
            if v.len() > l.len() || v.iter().zip(l).any(|(a, b)| a != b) {
                bad[mop.key as usize] = Some((i as u32, m));
            }
        }
    }
    for (k, b) in bad.iter().enumerate() {
        if let Some((i, m)) = *b {
            let v = &txns.txns[i as usize].mops[m].value;
            let l: Vec<serde_json::Value> = idx
                .longest_of(txns, k as u32)
                .iter()
                .map(|x| ctx.value_json(x))
                .collect();
            out.add(
                "incompatible-order",
                json!({"key": ctx.value_json(&txns.keys[k]), "values": [ctx.value_json(v), l]}),
            );
        }
    }
}

fn dirty_updates(ctx: &Ctx, idx: &AppendIndex, out: &mut Anomalies) {
    let txns = ctx.txns;
    let mut by: FxHashMap<(u32, &Value), u32> = FxHashMap::default();
    for (i, t) in txns.txns.iter().enumerate() {
        if t.ty == OpType::Invoke {
            continue;
        }
        for mop in t.mops.iter().filter(|m| m.kind == Kind::Append) {
            by.insert((mop.key, &mop.value), i as u32);
        }
    }
    for k in 0..txns.keys.len() as u32 {
        let mut t1: Option<u32> = None; // None: the initial ok state
        let mut vs: Vec<&Value> = Vec::new();
        for v in idx.longest_of(txns, k) {
            let Some(&t2) = by.get(&(k, v)) else { continue };
            vs.push(v);
            let ty = |t: Option<u32>| t.map_or(OpType::Ok, |t| txns.txns[t as usize].ty);
            match (ty(t1), txns.txns[t2 as usize].ty) {
                (OpType::Fail, OpType::Ok) => {
                    let values: Vec<serde_json::Value> =
                        vs.iter().map(|x| ctx.value_json(x)).collect();
                    out.add(
                        "dirty-update",
                        json!({"key": ctx.value_json(&txns.keys[k as usize]), "values": values,
                               "txns": [ctx.op_json(t1.unwrap_or(t2)), "...", ctx.op_json(t2)]}),
                    );
                    t1 = Some(t2);
                    vs = vec![v];
                }
                (_, OpType::Ok) | (OpType::Ok | OpType::Info, OpType::Fail) => {
                    t1 = Some(t2);
                    vs = vec![v];
                }
                _ => {}
            }
        }
    }
}
