//! Read-write register analysis: version orders from the initial state and optional sources
//! (writes-follow-reads, per-key sequential or linearizable keys), cyclic versions, the
//! non-cyclic anomalies (G1a, G1b, internal, lost update, garbage reads) and dependency edges.

use crate::graph::{self, Builder, Graph, RW, WR, WW};
use crate::report::{Anomalies, Ctx};
use crate::txn::{Kind, VKey};
use crate::Error;
use rift_history::{OpType, Value};
use rustc_hash::{FxHashMap, FxHashSet};
use serde_json::json;

/// Where the version order of a register comes from, beyond "nil comes first".
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct VersionSources {
    /// Writes follow reads within a txn: a txn that read x=v and wrote x=v' orders v < v'.
    pub wfr_keys: bool,
    /// Each key is sequentially consistent: process order orders versions.
    pub sequential_keys: bool,
    /// Each key is linearizable: realtime order orders versions.
    pub linearizable_keys: bool,
}

/// An external micro-op: (key, mop index, value).
pub type ExtMop<'a> = (u32, usize, &'a Value);

/// External reads (first read of a key before any write to it) and external writes (last
/// write of each key) of a txn: key -> (mop index, value).
pub fn ext<'a>(t: &crate::txn::Txn<'a>) -> (Vec<ExtMop<'a>>, Vec<ExtMop<'a>>) {
    let mut reads: Vec<(u32, usize, &Value)> = Vec::new();
    let mut writes: Vec<(u32, usize, &Value)> = Vec::new();
    for (m, mop) in t.mops.iter().enumerate() {
        match mop.kind {
            Kind::Read => {
                if !reads.iter().any(|r| r.0 == mop.key) && !writes.iter().any(|w| w.0 == mop.key) {
                    reads.push((mop.key, m, mop.value));
                }
            }
            Kind::Write => match writes.iter_mut().find(|w| w.0 == mop.key) {
                Some(w) => *w = (mop.key, m, mop.value),
                None => writes.push((mop.key, m, mop.value)),
            },
            Kind::Append => {}
        }
    }
    (reads, writes)
}

/// The initial state of every register.
static NIL: Value = Value::Nil;

/// A version edge: key, earlier value, later value (borrowed from the history).
type Edge<'a> = (u32, &'a Value, &'a Value);

/// The inferred version order.
pub struct RegisterIndex<'a> {
    /// Version edges (key, v1, v2), values as hash keys (integers inline, so hashing and
    /// comparing them never touches the history).
    pub versions: FxHashSet<(u32, VKey<'a>, VKey<'a>)>,
}

/// Adds the version edges one source implies.
fn source_edges<'a>(ctx: &Ctx<'a>, source: usize, order: Option<&Graph>, out: &mut Vec<Edge<'a>>) {
    let txns = ctx.txns;
    match source {
        0 => {
            for t in txns.txns.iter().filter(|t| t.possible()) {
                let (r, w) = ext(t);
                let reads = if t.ty == OpType::Ok { r } else { Vec::new() };
                for (k, _, v) in w.into_iter().chain(reads) {
                    if !v.is_nil() {
                        out.push((k, &NIL, v));
                    }
                }
            }
        }
        1 => {
            for t in txns.txns.iter().filter(|t| t.ty == OpType::Ok) {
                let (r, w) = ext(t);
                for (k, _, v) in r {
                    if let Some((_, _, v2)) = w.iter().find(|x| x.0 == k) {
                        if !v.is_nil() && v != *v2 {
                            out.push((k, v, *v2));
                        }
                    }
                }
            }
        }
        _ => {
            if let Some(g) = order {
                order_edges(ctx, g, out);
            }
        }
    }
}

type KeyValues<'a> = Vec<(u32, &'a Value)>;

fn first_last<'a>(t: &crate::txn::Txn<'a>) -> (KeyValues<'a>, KeyValues<'a>) {
    let (r, w) = ext(t);
    let ok = t.ty == OpType::Ok;
    let mut first: KeyValues<'a> = Vec::new();
    let mut last: KeyValues<'a> = Vec::new();
    if ok {
        for &(k, _, v) in &r {
            first.push((k, v));
        }
    }
    for &(k, _, v) in &w {
        if !first.iter().any(|f| f.0 == k) {
            first.push((k, v));
        }
        last.push((k, v));
    }
    if ok {
        for &(k, _, v) in &r {
            if !last.iter().any(|l| l.0 == k) {
                last.push((k, v));
            }
        }
    }
    (first, last)
}

/// Version edges from a txn order: the last value of a key in T1 precedes the first value in
/// each nearest following txn that touches the key.
fn order_edges<'a>(ctx: &Ctx<'a>, g: &Graph, out: &mut Vec<Edge<'a>>) {
    let txns = &ctx.txns.txns;
    let fl: Vec<_> = txns.iter().map(first_last).collect();
    let mut seen: FxHashMap<u32, u32> = FxHashMap::default();
    let mut stack: Vec<u32> = Vec::new();
    let mut stamp = 0u32;
    for (a, (_, last)) in fl.iter().enumerate() {
        for (k, v1) in last {
            stamp += 1;
            stack.clear();
            stack.extend(g.out(a as u32).map(|(w, _)| w));
            let mut budget = 100_000usize;
            while let Some(b) = stack.pop() {
                if seen.insert(b, stamp) == Some(stamp) || budget == 0 {
                    continue;
                }
                budget -= 1;
                if let Some((_, v2)) = fl[b as usize].0.iter().find(|f| f.0 == *k) {
                    // Versions are not their own successors (Elle's version graphs drop
                    // self-edges).
                    if v1 != v2 {
                        out.push((*k, *v1, *v2));
                    }
                } else {
                    stack.extend(g.out(b).map(|(w, _)| w));
                }
            }
        }
    }
}

fn cyclic<'a>(edges: &[Edge<'a>]) -> Vec<(u32, Vec<&'a Value>)> {
    let mut by_key: FxHashMap<u32, Vec<(&'a Value, &'a Value)>> = FxHashMap::default();
    for &(k, a, b) in edges {
        by_key.entry(k).or_default().push((a, b));
    }
    let mut out = Vec::new();
    let mut keys: Vec<u32> = by_key.keys().copied().collect();
    keys.sort_unstable();
    for k in keys {
        let es = &by_key[&k];
        let mut ids: FxHashMap<VKey<'a>, u32> = FxHashMap::default();
        let mut vals: Vec<&'a Value> = Vec::new();
        let mut b = Builder::default();
        for &(x, y) in es {
            let mut ij = [0u32; 2];
            for (slot, v) in ij.iter_mut().zip([x, y]) {
                let n = vals.len() as u32;
                *slot = *ids.entry(VKey::of(v)).or_insert(n);
                if *slot == n {
                    vals.push(v);
                }
            }
            b.link(ij[0], ij[1], WW);
        }
        let g = b.build(vals.len());
        for scc in graph::sccs(&g, WW) {
            out.push((k, scc.iter().map(|&i| vals[i as usize]).collect()));
        }
    }
    out
}

/// Builds the version order, reporting cyclic versions; a source whose edges close a cycle
/// is left out, as Elle does.
pub fn index<'a>(
    ctx: &Ctx<'a>,
    sources: &VersionSources,
    out: &mut Anomalies,
) -> Result<RegisterIndex<'a>, Error> {
    let order_graph = |process: bool| {
        let mut b = Builder::default();
        if process {
            graph::process_edges(ctx.history, ctx.txns, &mut b);
        } else {
            graph::realtime_edges(ctx.history, ctx.txns, &mut b);
        }
        b.build(ctx.txns.txns.len())
    };
    let mut plan: Vec<(usize, &str, Option<Graph>)> = vec![(0, "initial-state", None)];
    if sources.wfr_keys {
        plan.push((1, "wfr-keys", None));
    }
    if sources.sequential_keys {
        plan.push((2, "sequential-keys", Some(order_graph(true))));
    }
    if sources.linearizable_keys {
        plan.push((2, "linearizable-keys", Some(order_graph(false))));
    }
    let mut edges: Vec<Edge<'a>> = Vec::new();
    let mut used: Vec<&str> = Vec::new();
    for (src, name, g) in &plan {
        let mut more = edges.clone();
        source_edges(ctx, *src, g.as_ref(), &mut more);
        let cycles = cyclic(&more);
        if cycles.is_empty() {
            edges = more;
            used.push(name);
        } else {
            let mut srcs = used.clone();
            srcs.push(name);
            for (k, scc) in cycles {
                let vs: Vec<_> = scc.iter().map(|v| ctx.value_json(v)).collect();
                out.add(
                    "cyclic-versions",
                    json!({"key": ctx.value_json(ctx.txns.keys[k as usize]), "scc": vs, "sources": srcs}),
                );
            }
        }
    }
    Ok(RegisterIndex {
        versions: edges
            .into_iter()
            .map(|(k, a, b)| (k, VKey::of(a), VKey::of(b)))
            .collect(),
    })
}

/// The wr, ww and rw edges.
pub fn edges<'a>(ctx: &Ctx<'a>, idx: &RegisterIndex<'a>, b: &mut Builder) -> Result<(), Error> {
    let txns = ctx.txns;
    let mut writer: FxHashMap<(u32, VKey<'a>), u32> = FxHashMap::default();
    let mut readers: FxHashMap<(u32, VKey<'a>), Vec<u32>> = FxHashMap::default();
    for (i, t) in txns.txns.iter().enumerate() {
        if t.ty != OpType::Ok {
            continue;
        }
        let (r, w) = ext(t);
        for (k, _, v) in w {
            if let Some(other) = writer.insert((k, VKey::of(v)), i as u32) {
                if other != i as u32 {
                    return Err(Error::DuplicateWrite {
                        key: txns.keys[k as usize].to_string(),
                        value: v.to_string(),
                    });
                }
            }
        }
        for (k, _, v) in r {
            readers.entry((k, VKey::of(v))).or_default().push(i as u32);
        }
    }
    for (kv, rs) in &readers {
        if let Some(&w) = writer.get(kv) {
            for &r in rs {
                b.link(w, r, WR);
            }
        }
    }
    for &(k, v1, v2) in &idx.versions {
        let Some(&w2) = writer.get(&(k, v2)) else {
            continue;
        };
        if let Some(&w1) = writer.get(&(k, v1)) {
            b.link(w1, w2, WW);
        }
        for &r in readers.get(&(k, v1)).into_iter().flatten() {
            b.link(r, w2, RW);
        }
    }
    Ok(())
}

/// Non-cyclic anomalies: G1a, G1b, internal, lost update, garbage reads.
pub fn anomalies(ctx: &Ctx, out: &mut Anomalies) {
    let txns = ctx.txns;
    let mut failed: FxHashMap<(u32, VKey), u32> = FxHashMap::default();
    let mut intermediate: FxHashMap<(u32, VKey), u32> = FxHashMap::default();
    let mut written: FxHashSet<(u32, VKey)> = FxHashSet::default();
    for (i, t) in txns.txns.iter().enumerate() {
        let mut last: FxHashMap<u32, &Value> = FxHashMap::default();
        for mop in t.mops.iter().filter(|m| m.kind == Kind::Write) {
            written.insert((mop.key, mop.vkey()));
            if t.ty == OpType::Fail {
                failed.insert((mop.key, mop.vkey()), i as u32);
            }
            if let Some(prev) = last.insert(mop.key, mop.value) {
                intermediate.insert((mop.key, VKey::of(prev)), i as u32);
            }
        }
    }
    for (i, t) in txns.txns.iter().enumerate() {
        if t.ty != OpType::Ok {
            continue;
        }
        let i = i as u32;
        let mut state: FxHashMap<u32, &Value> = FxHashMap::default();
        let mut internal_done = false;
        for (m, mop) in t.mops.iter().enumerate() {
            if mop.kind == Kind::Write {
                state.insert(mop.key, mop.value);
                continue;
            }
            let v = &mop.value;
            if !internal_done {
                if let Some(s) = state.get(&mop.key) {
                    if *s != *v {
                        out.add(
                            "internal",
                            json!({"op": ctx.op_json(i), "mop": ctx.mop_json(i, m), "expected": ctx.value_json(s)}),
                        );
                        internal_done = true;
                    }
                }
                state.insert(mop.key, v);
            }
            if v.is_nil() {
                continue;
            }
            let vk = mop.vkey();
            if let Some(&w) = failed.get(&(mop.key, vk)) {
                out.add(
                    "G1a",
                    json!({"op": ctx.op_json(i), "mop": ctx.mop_json(i, m), "writer": ctx.op_json(w)}),
                );
            } else if !written.contains(&(mop.key, vk)) {
                out.add(
                    "garbage-read",
                    json!({"op": ctx.op_json(i), "mop": ctx.mop_json(i, m)}),
                );
            }
            if let Some(&w) = intermediate.get(&(mop.key, vk)) {
                if w != i {
                    out.add(
                        "G1b",
                        json!({"op": ctx.op_json(i), "mop": ctx.mop_json(i, m), "writer": ctx.op_json(w)}),
                    );
                }
            }
        }
    }
    crate::report::lost_updates(
        ctx,
        Kind::Write,
        |t, m| crate::report::Seen::Value(t.mops[m].value),
        out,
    );
}
