//! The transaction dependency graph over ok and info sends/polls/txns: `ww` (the writer of a
//! key's previous value in the version order, to the writer of the next; optional), `wr` (the
//! writer of a value to every op that polled it) and `realtime` (a transitive reduction of
//! "completed before invoked"). Cycles are found and classified by `rift-elle` (iterative
//! Tarjan per strongly connected component, then a typed search under a time budget).

use crate::model::{Model, NONE};
use crate::orders::Orders;
use crate::{Case, KafkaOptions};
use rift_checker::util::{op_json, value_json};
use rift_elle::cycles::{search_scc, Cycle};
use rift_elle::graph::{self, Builder, Graph, REALTIME, RW, WR, WW};
use rift_history::OpType;
use serde_json::{json, Value as Json};
use std::time::Instant;

/// Explanation priority: ww first, as Jepsen combines its ww graph before its wr graph.
const PRIORITY: &[u8] = &[WW, WR, RW, graph::PROCESS, REALTIME];

/// The graph and the op behind each vertex.
pub(crate) struct TxnGraph {
    pub graph: Graph,
    /// Vertex -> op index.
    pub ops: Vec<u32>,
}

/// Builds the graph.
pub(crate) fn build(m: &Model, o: &Orders, ww_deps: bool) -> TxnGraph {
    let mut vertex = vec![NONE; m.ops.len()];
    let mut ops = Vec::new();
    for (i, op) in m.ops.iter().enumerate() {
        if op.is_txn() && op.ty != OpType::Fail {
            vertex[i] = ops.len() as u32;
            ops.push(i as u32);
        }
    }
    let vx = |op: u32| {
        if op == NONE {
            NONE
        } else {
            vertex[op as usize]
        }
    };
    let mut b = Builder::default();
    if ww_deps {
        for kl in &o.keys {
            for p in kl.by_index.windows(2) {
                let (a, c) = (vx(m.writer[p[0] as usize]), vx(m.writer[p[1] as usize]));
                if a != NONE && c != NONE {
                    b.link(a, c, WW);
                }
            }
        }
    }
    let mut last_reader = vec![NONE; ops.len()];
    for (t, &op) in ops.iter().enumerate() {
        for r in m.reads_of(op) {
            let w = vx(m.writer[r.vid as usize]);
            if w != NONE && last_reader[w as usize] != t as u32 {
                last_reader[w as usize] = t as u32;
                b.link(w, t as u32, WR);
            }
        }
    }
    realtime(m, &ops, &mut b);
    TxnGraph {
        graph: b.build(ops.len()),
        ops,
    }
}

/// Realtime edges as Elle draws them: from each ok completion to ops invoked later, keeping a
/// buffer of completions not yet implied by a later one.
fn realtime(m: &Model, ops: &[u32], b: &mut Builder) {
    let n = m.history.len();
    let mut node = vec![NONE; n];
    for (t, &op) in ops.iter().enumerate() {
        let k = &m.ops[op as usize];
        node[k.pos as usize] = t as u32;
        if k.inv != NONE {
            node[k.inv as usize] = t as u32;
        }
    }
    let mut buffer: Vec<(u32, u64)> = Vec::new();
    let mut invoked_at: rustc_hash::FxHashMap<u32, u64> = Default::default();
    let mut seq = 0u64;
    for (pos, op) in m.history.ops().iter().enumerate() {
        let t = node[pos];
        if t == NONE {
            continue;
        }
        match op.ty {
            OpType::Invoke => {
                for &(a, _) in &buffer {
                    b.link(a, t, REALTIME);
                }
                invoked_at.insert(t, seq);
            }
            OpType::Ok => {
                if let Some(s) = invoked_at.remove(&t) {
                    buffer.retain(|&(_, x)| x >= s);
                }
                buffer.push((t, seq));
                seq += 1;
            }
            _ => {
                invoked_at.remove(&t);
            }
        }
    }
}

/// Finds cycles, one search per strongly connected component. Returns the cycles found and
/// the timeouts (as JSON findings).
pub(crate) fn find(tg: &TxnGraph, opts: &KafkaOptions, out: &mut Vec<Case>) -> Vec<Json> {
    let mut timeouts = Vec::new();
    for scc in graph::sccs(&tg.graph, 0xff) {
        let deadline = Instant::now() + opts.cycle_budget;
        let res = search_scc(&tg.graph, &scc, PRIORITY, deadline);
        if let Some((ty, not, size)) = res.timeout {
            timeouts.push(json!({"anomaly-spec-type": ty, "does-not-contain": not,
                                 "scc-size": size}));
        }
        for mut c in res.cycles {
            c.txns = c.txns.iter().map(|&v| tg.ops[v as usize]).collect();
            out.push(Case::Cycle(c));
        }
    }
    timeouts
}

/// A cycle as JSON: the ops (first repeated at the end), one step per edge and Elle-style
/// sentences.
pub(crate) fn cycle_json(m: &Model, o: &Orders, c: &Cycle) -> Json {
    let n = c.txns.len();
    let mut cycle: Vec<Json> = c.txns.iter().map(|&t| op_json(m.hop(t))).collect();
    cycle.push(op_json(m.hop(c.txns[0])));
    let mut steps = Vec::new();
    let mut text = Vec::new();
    for i in 0..n {
        let (a, b) = (c.txns[i], c.txns[(i + 1) % n]);
        let (step, why) = explain(m, o, a, b, c.rels[i], i, (i + 1) % n);
        steps.push(step);
        let lead = if i + 1 == n { "However, " } else { "" };
        text.push(format!(
            "{lead}T{} < T{}, because {why}",
            i + 1,
            (i + 1) % n + 1
        ));
    }
    let lets: Vec<String> = c
        .txns
        .iter()
        .enumerate()
        .map(|(i, &t)| format!("T{} = op {}", i + 1, m.hop(t).index))
        .collect();
    json!({"type": c.ty, "cycle": cycle, "steps": steps,
           "explanation": format!("Let {}. Then: {}: a contradiction!", lets.join(", "),
                                  text.join("; "))})
}

fn explain(m: &Model, o: &Orders, a: u32, b: u32, rel: u8, ai: usize, bi: usize) -> (Json, String) {
    let (an, bn) = (format!("T{}", ai + 1), format!("T{}", bi + 1));
    let at = |off: i64| {
        if off >= 0 {
            format!(" at offset {off}")
        } else {
            String::new()
        }
    };
    if rel == WW {
        for w2 in m.writes_of(b) {
            let Some(v1) = o.previous(w2.key, w2.vid) else {
                continue;
            };
            if m.writer[v1 as usize] != a {
                continue;
            }
            let w1 = m.writes_of(a).iter().find(|w| w.vid == v1);
            let (mop, off) = w1.map_or((Json::Null, -1), |w| (w.mop.into(), w.offset));
            let (k, x, y) = (
                &m.keys[w2.key as usize],
                &m.vals[v1 as usize],
                &m.vals[w2.vid as usize],
            );
            return (
                json!({"type": "ww", "key": value_json(k), "value": value_json(x),
                       "value'": value_json(y), "a-mop-index": mop, "b-mop-index": w2.mop}),
                format!(
                    "{an} sent {x} to key {k}{} before {bn} sent {y}{}",
                    at(off),
                    at(w2.offset)
                ),
            );
        }
    } else if rel == WR {
        if let Some(r) = m.reads_of(b).iter().find(|r| m.writer[r.vid as usize] == a) {
            let w = m.writes_of(a).iter().find(|w| w.vid == r.vid);
            let (k, x) = (&m.keys[r.key as usize], &m.vals[r.vid as usize]);
            return (
                json!({"type": "wr", "key": value_json(k), "value": value_json(x),
                       "a-mop-index": w.map(|w| w.mop), "b-mop-index": r.mop}),
                format!(
                    "{an} sent {x} to key {k}{} which was polled by {bn}",
                    at(r.offset)
                ),
            );
        }
    }
    let (ca, ib) = (m.hop(a).index, m.history.ops()[inv_pos(m, b)].index);
    (
        json!({"type": "realtime", "a'": ca, "b": ib}),
        format!("{an} completed (index {ca}) before {bn} was invoked (index {ib})"),
    )
}

fn inv_pos(m: &Model, t: u32) -> usize {
    let op = &m.ops[t as usize];
    if op.inv == NONE {
        op.pos as usize
    } else {
        op.inv as usize
    }
}
