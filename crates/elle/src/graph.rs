//! Dependency graphs over transactions: compressed sparse rows with `u32` ids, edges carrying
//! a bitset of relations, an iterative Tarjan SCC, and the realtime and process orders.

use crate::txn::Txns;
use rift_history::{History, OpType};
use rustc_hash::FxHashMap;

/// Write-write dependency.
pub const WW: u8 = 1;
/// Write-read dependency.
pub const WR: u8 = 2;
/// Read-write anti-dependency.
pub const RW: u8 = 4;
/// Same process, one after the other.
pub const PROCESS: u8 = 8;
/// One completed before the other began.
pub const REALTIME: u8 = 16;

/// The name of a single relation bit.
pub fn rel_name(r: u8) -> &'static str {
    match r {
        WW => "ww",
        WR => "wr",
        RW => "rw",
        PROCESS => "process",
        REALTIME => "realtime",
        _ => "?",
    }
}

/// Collects edges, then freezes them into a [`Graph`].
#[derive(Default)]
pub struct Builder {
    edges: Vec<(u32, u32, u8)>,
}

impl Builder {
    /// Adds an edge (self-edges are dropped).
    pub fn link(&mut self, a: u32, b: u32, rel: u8) {
        if a != b {
            self.edges.push((a, b, rel));
        }
    }

    /// Freezes into CSR form over `n` vertices, merging parallel edges' relations. A counting
    /// sort by source, then a small sort of each row by target.
    pub fn build(self, n: usize) -> Graph {
        let mut offsets = vec![0u32; n + 1];
        for &(a, _, _) in &self.edges {
            offsets[a as usize + 1] += 1;
        }
        for i in 0..n {
            offsets[i + 1] += offsets[i];
        }
        let mut cursor = offsets.clone();
        let mut row: Vec<(u32, u8)> = vec![(0, 0); self.edges.len()];
        for &(a, b, r) in &self.edges {
            row[cursor[a as usize] as usize] = (b, r);
            cursor[a as usize] += 1;
        }
        drop(self.edges);
        drop(cursor);
        // Sort each row by target and merge duplicates, compacting in place.
        let mut out = 0usize;
        let mut start = 0usize;
        for v in 0..n {
            let end = offsets[v + 1] as usize;
            row[start..end].sort_unstable_by_key(|&(b, _)| b);
            offsets[v] = out as u32;
            for i in start..end {
                let (b, r) = row[i];
                if out > offsets[v] as usize && row[out - 1].0 == b {
                    row[out - 1].1 |= r;
                } else {
                    row[out] = (b, r);
                    out += 1;
                }
            }
            start = end;
        }
        offsets[n] = out as u32;
        row.truncate(out);
        Graph {
            offsets,
            targets: row.iter().map(|&(b, _)| b).collect(),
            rels: row.iter().map(|&(_, r)| r).collect(),
        }
    }
}

/// A directed graph in CSR form; each edge carries a relation bitset.
#[derive(Clone, Debug, Default)]
pub struct Graph {
    offsets: Vec<u32>,
    targets: Vec<u32>,
    rels: Vec<u8>,
}

impl Graph {
    /// Number of vertices.
    pub fn len(&self) -> usize {
        self.offsets.len().saturating_sub(1)
    }

    /// True when there are no vertices.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Number of edges.
    pub fn edge_count(&self) -> usize {
        self.targets.len()
    }

    /// Out-edges of `v`: (target, relations).
    pub fn out(&self, v: u32) -> impl Iterator<Item = (u32, u8)> + '_ {
        let (a, b) = (
            self.offsets[v as usize] as usize,
            self.offsets[v as usize + 1] as usize,
        );
        self.targets[a..b]
            .iter()
            .copied()
            .zip(self.rels[a..b].iter().copied())
    }

    /// The relations on edge a -> b (0 if none).
    pub fn rels_between(&self, a: u32, b: u32) -> u8 {
        let (s, e) = (
            self.offsets[a as usize] as usize,
            self.offsets[a as usize + 1] as usize,
        );
        match self.targets[s..e].binary_search(&b) {
            Ok(i) => self.rels[s + i],
            Err(_) => 0,
        }
    }

    /// The subgraph induced by `vertices` (local ids are positions in `vertices`).
    pub fn induced(&self, vertices: &[u32]) -> Graph {
        let local: FxHashMap<u32, u32> = vertices
            .iter()
            .enumerate()
            .map(|(i, &v)| (v, i as u32))
            .collect();
        let mut b = Builder::default();
        for (i, &v) in vertices.iter().enumerate() {
            for (w, r) in self.out(v) {
                if let Some(&j) = local.get(&w) {
                    b.link(i as u32, j, r);
                }
            }
        }
        b.build(vertices.len())
    }
}

/// Strongly connected components with more than one vertex, of the graph restricted to edges
/// whose relations intersect `mask`. Iterative Tarjan: no recursion.
pub fn sccs(g: &Graph, mask: u8) -> Vec<Vec<u32>> {
    sccs_by(g.len(), |v, f: &mut dyn FnMut(u32)| {
        for (w, r) in g.out(v) {
            if r & mask != 0 {
                f(w)
            }
        }
    })
}

/// Tarjan's algorithm over `n` vertices whose successors `succ(v, emit)` yields. Returns the
/// components with more than one vertex, or with a self-loop.
pub fn sccs_by(n: usize, succ: impl Fn(u32, &mut dyn FnMut(u32))) -> Vec<Vec<u32>> {
    const UNSEEN: u32 = u32::MAX;
    let mut index = vec![UNSEEN; n];
    let mut low = vec![0u32; n];
    let mut on_stack = vec![false; n];
    let mut stack: Vec<u32> = Vec::new();
    let mut out = Vec::new();
    let mut next = 0u32;
    let mut succs: Vec<u32> = Vec::new();
    // Call stack frames: (vertex, start of its successor list in `succs`, cursor).
    let mut frames: Vec<(u32, usize, usize)> = Vec::new();
    for root in 0..n as u32 {
        if index[root as usize] != UNSEEN {
            continue;
        }
        let push = |v: u32,
                    succs: &mut Vec<u32>,
                    frames: &mut Vec<(u32, usize, usize)>,
                    index: &mut Vec<u32>,
                    low: &mut Vec<u32>,
                    stack: &mut Vec<u32>,
                    on_stack: &mut Vec<bool>,
                    next: &mut u32| {
            index[v as usize] = *next;
            low[v as usize] = *next;
            *next += 1;
            stack.push(v);
            on_stack[v as usize] = true;
            let start = succs.len();
            succ(v, &mut |w| succs.push(w));
            frames.push((v, start, start));
        };
        push(
            root,
            &mut succs,
            &mut frames,
            &mut index,
            &mut low,
            &mut stack,
            &mut on_stack,
            &mut next,
        );
        while let Some(&(v, start, cursor)) = frames.last() {
            // Successors of the top frame run to the end of `succs`.
            let end = succs.len();
            if cursor < end {
                let w = succs[cursor];
                if let Some(top) = frames.last_mut() {
                    top.2 += 1;
                }
                if index[w as usize] == UNSEEN {
                    push(
                        w,
                        &mut succs,
                        &mut frames,
                        &mut index,
                        &mut low,
                        &mut stack,
                        &mut on_stack,
                        &mut next,
                    );
                } else if on_stack[w as usize] {
                    low[v as usize] = low[v as usize].min(index[w as usize]);
                }
                continue;
            }
            // Done with v.
            let has_self = succs[start..end].contains(&v);
            succs.truncate(start);
            frames.pop();
            if let Some(&(p, _, _)) = frames.last() {
                low[p as usize] = low[p as usize].min(low[v as usize]);
            }
            if low[v as usize] == index[v as usize] {
                let mut comp = Vec::new();
                loop {
                    let w = stack.pop().expect("tarjan stack");
                    on_stack[w as usize] = false;
                    comp.push(w);
                    if w == v {
                        break;
                    }
                }
                if comp.len() > 1 || has_self {
                    comp.sort_unstable();
                    out.push(comp);
                }
            }
        }
    }
    out
}

/// Realtime edges, as Elle computes them: from each ok completion to the completions of
/// operations invoked later, keeping only a transitive reduction (a buffer of the latest
/// completions not already implied). When T completes, it implies every buffered completion
/// that was buffered before T's invocation, so those leave the buffer.
pub fn realtime_edges(history: &History, txns: &Txns, b: &mut Builder) {
    const NONE: u32 = u32::MAX;
    let mut node = vec![NONE; history.len()];
    for (i, t) in txns.txns.iter().enumerate() {
        if t.possible() {
            node[t.pos] = i as u32;
        }
    }
    // Buffered completions (txn, buffering sequence number), and each in-flight txn's
    // sequence number at its invocation.
    let mut buffer: Vec<(u32, u64)> = Vec::new();
    let mut invoked_at: FxHashMap<u32, u64> = FxHashMap::default();
    let mut seq = 0u64;
    for (pos, op) in history.ops().iter().enumerate() {
        if op.process == rift_history::Process::Nemesis {
            continue;
        }
        match op.ty {
            OpType::Invoke => {
                let Some(c) = history.pair_of(pos) else {
                    continue;
                };
                let t = node[c];
                if t == NONE {
                    continue;
                }
                for &(a, _) in &buffer {
                    b.link(a, t, REALTIME);
                }
                invoked_at.insert(t, seq);
            }
            OpType::Ok => {
                let t = node[pos];
                if t == NONE {
                    continue;
                }
                if let Some(s) = invoked_at.remove(&t) {
                    buffer.retain(|&(_, x)| x >= s);
                }
                buffer.push((t, seq));
                seq += 1;
            }
            _ => {
                let t = node[pos];
                if t != NONE {
                    invoked_at.remove(&t);
                }
            }
        }
    }
}

/// Process edges: each ok txn to the next ok txn of the same process.
pub fn process_edges(history: &History, txns: &Txns, b: &mut Builder) {
    let mut last: FxHashMap<rift_history::Process, u32> = FxHashMap::default();
    for (i, t) in txns.txns.iter().enumerate() {
        if t.ty != OpType::Ok {
            continue;
        }
        let p = history.ops()[t.pos].process.clone();
        if let Some(prev) = last.insert(p, i as u32) {
            b.link(prev, i as u32, PROCESS);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tarjan_finds_cycles_and_self_loops() {
        let mut b = Builder::default();
        b.link(0, 1, WW);
        b.link(1, 2, WR);
        b.link(2, 0, RW);
        b.link(3, 4, WW);
        let g = b.build(5);
        assert_eq!(sccs(&g, WW | WR | RW), vec![vec![0, 1, 2]]);
        assert!(sccs(&g, WW | WR).is_empty());
        let s = sccs_by(2, |v, f| {
            if v == 1 {
                f(1)
            }
        });
        assert_eq!(s, vec![vec![1]]);
    }

    #[test]
    fn tarjan_is_iterative_on_long_chains() {
        let n = 1_000_000u32;
        let mut b = Builder::default();
        for i in 0..n {
            b.link(i, (i + 1) % n, WW);
        }
        let g = b.build(n as usize);
        let s = sccs(&g, WW);
        assert_eq!(s.len(), 1);
        assert_eq!(s[0].len(), n as usize);
    }
}
