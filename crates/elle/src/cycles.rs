//! Cycle anomalies: per strongly connected component, first which models' cycle-existence
//! subgraphs are cyclic (cheap SCC tests), then a breadth-first search over a small product
//! state machine for each anomaly type, from the most severe, under a time budget, with a
//! fallback cycle when the budget runs out.

use crate::graph::{self, Graph, PROCESS, REALTIME, RW, WR, WW};
use crate::model::lattice;
use rustc_hash::FxHashMap;
use std::collections::{BTreeSet, VecDeque};
use std::time::Instant;

/// A cycle: global txn ids (first not repeated) and the relation that explains each step
/// (step i goes from `txns[i]` to `txns[(i + 1) % n]`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cycle {
    /// The anomaly type, as classified from the step relations.
    pub ty: String,
    /// Transactions.
    pub txns: Vec<u32>,
    /// Relations, one per step.
    pub rels: Vec<u8>,
}

/// A "some cycle exists" finding for a model.
#[derive(Clone, Debug)]
pub struct CycleExists {
    /// `<model>-cycle-exists`.
    pub ty: String,
    /// The friendly model ruled out.
    pub not: String,
    /// The subgraph, as Elle writes it.
    pub subgraph: serde_json::Value,
    /// Global txn ids in the SCC found.
    pub scc: Vec<u32>,
}

/// What a search found in one SCC.
#[derive(Default, Debug)]
pub struct SccResult {
    /// Cycle-existence findings.
    pub exists: Vec<CycleExists>,
    /// Typed cycles.
    pub cycles: Vec<Cycle>,
    /// Set when the budget ran out: (type being searched, types not found, scc size).
    pub timeout: Option<(String, Vec<String>, usize)>,
}

enum Sub {
    Union(u8),
    Ext(u8, u8),
}

const EXISTS: &[(&str, Sub)] = &[
    ("PL-1", Sub::Union(WW)),
    ("PL-2", Sub::Union(WW | WR)),
    ("PL-SI", Sub::Ext(WW | WR, RW)),
    ("PL-2.99", Sub::Union(WW | WR | RW)),
    ("PL-3", Sub::Union(WW | WR | RW)),
    ("strong-session-PL-1", Sub::Union(WW | PROCESS)),
    ("strong-session-PL-2", Sub::Union(WW | WR | PROCESS)),
    (
        "strong-session-snapshot-isolation",
        Sub::Ext(WW | WR | PROCESS, RW),
    ),
    (
        "strong-session-serializable",
        Sub::Union(WW | WR | RW | PROCESS),
    ),
    ("strong-PL-1", Sub::Union(WW | REALTIME)),
    ("strong-PL-2", Sub::Union(WW | WR | REALTIME)),
    (
        "strong-snapshot-isolation",
        Sub::Ext(WW | WR | REALTIME, RW),
    ),
    ("PL-SS", Sub::Union(WW | WR | RW | REALTIME)),
];

fn rel_names(mask: u8, predicate_twins: bool) -> Vec<serde_json::Value> {
    let mut v = Vec::new();
    for (bit, name, twin) in [
        (WW, "ww", "wwp"),
        (WR, "wr", "wrp"),
        (RW, "rw", "rwp"),
        (PROCESS, "process", ""),
        (REALTIME, "realtime", ""),
    ] {
        if mask & bit != 0 {
            v.push(name.into());
            if predicate_twins && !twin.is_empty() {
                v.push(twin.into());
            }
        }
    }
    v
}

fn subgraph_json(s: &Sub) -> serde_json::Value {
    let union = |m: u8| {
        let mut v = vec![serde_json::Value::from("union")];
        v.extend(rel_names(m, true));
        serde_json::Value::Array(v)
    };
    match s {
        Sub::Union(m) => union(*m),
        Sub::Ext(a, b) => serde_json::json!(["extension", union(*a), union(*b)]),
    }
}

/// Classifies a cycle from its step relations, as Elle's cycle explainer does.
pub fn classify(rels: &[u8]) -> String {
    let count = |r: u8| rels.iter().filter(|&&x| x == r).count();
    let (rw, wr, ww) = (count(RW), count(WR), count(WW));
    let n = rels.len();
    let adj = (0..n).any(|i| rels[i] == RW && rels[(i + 1) % n] == RW);
    let data = if rw == 1 {
        "G-single-item"
    } else if rw > 1 {
        if adj {
            "G2-item"
        } else {
            "G-nonadjacent-item"
        }
    } else if wr > 0 {
        "G1c"
    } else if ww > 0 {
        "G0"
    } else {
        "cycle"
    };
    let sub = if count(REALTIME) > 0 {
        "-realtime"
    } else if count(PROCESS) > 0 {
        "-process"
    } else {
        ""
    };
    format!("{data}{sub}")
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum RwMode {
    None,
    Single,
    Nonadjacent,
    Multiple,
}

struct Spec {
    name: String,
    allowed: u8,
    rw: RwMode,
    require_wr: bool,
    variant: u8,
    typed: bool,
}

/// The typed searches, Elle's `cycle-anomaly-specs` without predicate variants (which can
/// never match item-only histories), sorted by severity depth.
fn specs() -> Vec<Spec> {
    let base: [(&str, u8, RwMode, bool, bool); 5] = [
        ("G0", WW, RwMode::None, false, false),
        ("G1c", WW | WR, RwMode::None, true, false),
        ("G-single-item", WW | WR, RwMode::Single, false, true),
        (
            "G-nonadjacent-item",
            WW | WR,
            RwMode::Nonadjacent,
            false,
            true,
        ),
        ("G2-item", WW | WR, RwMode::Multiple, false, true),
    ];
    let mut out = Vec::new();
    for (name, allowed, rw, require_wr, typed) in base {
        for (suffix, variant) in [("", 0u8), ("-process", PROCESS), ("-realtime", REALTIME)] {
            out.push(Spec {
                name: format!("{name}{suffix}"),
                allowed: allowed | variant,
                rw,
                require_wr,
                variant,
                typed,
            });
        }
    }
    let l = lattice();
    out.sort_by(|a, b| {
        l.depth(&a.name)
            .cmp(&l.depth(&b.name))
            .then_with(|| a.name.cmp(&b.name))
    });
    out
}

/// All cycle anomaly type names (with the predicate ones Elle also knows).
pub fn cycle_types() -> Vec<String> {
    let mut v = Vec::new();
    for b in [
        "G0",
        "G1c",
        "G-single-item",
        "G-single",
        "G-nonadjacent-item",
        "G-nonadjacent",
        "G2-item",
        "G2",
    ] {
        for s in ["", "-process", "-realtime"] {
            v.push(format!("{b}{s}"));
        }
    }
    v
}

/// Searches one SCC (global ids `scc`, sorted) of `g`.
pub fn search_scc(g: &Graph, scc: &[u32], priority: &[u8], deadline: Instant) -> SccResult {
    let local = g.induced(scc);
    let mut res = SccResult::default();
    let l = lattice();
    let mut redundant_models: BTreeSet<String> = BTreeSet::new();
    for (model, sub) in EXISTS {
        if redundant_models.contains(*model) {
            continue;
        }
        let comps = match sub {
            Sub::Union(m) => graph::sccs(&local, *m),
            Sub::Ext(a, b) => extension_sccs(&local, *a, *b),
        };
        if let Some(smallest) = comps.iter().min_by_key(|c| c.len()) {
            res.exists.push(CycleExists {
                ty: format!("{model}-cycle-exists"),
                not: crate::model::friendly(model).to_string(),
                subgraph: subgraph_json(sub),
                scc: smallest.iter().map(|&i| scc[i as usize]).collect(),
            });
            redundant_models.extend(l.impossible_models_of([*model]));
        }
    }
    // Cycle anomalies that cannot exist, given which models are still possible.
    let impossible = l.impossible_models_of(res.exists.iter().map(|e| e.not.as_str()));
    let possible: Vec<&str> = EXISTS
        .iter()
        .map(|(m, _)| *m)
        .filter(|m| !impossible.contains(*m))
        .collect();
    let cannot: BTreeSet<String> = l.prohibited_by(possible);
    let mut redundant: BTreeSet<String> = cycle_types()
        .into_iter()
        .filter(|t| cannot.contains(t))
        .collect();
    let mut searched: Vec<String> = Vec::new();
    for spec in specs() {
        if redundant.contains(&spec.name) {
            continue;
        }
        searched.push(spec.name.clone());
        match find(&local, &spec, priority, deadline) {
            Ok(Some((txns, _))) => {
                // Explain each step by its priority relation, as Elle's explainer does, and
                // classify from those.
                let n = txns.len();
                let rels: Vec<u8> = (0..n)
                    .map(|i| label(local.rels_between(txns[i], txns[(i + 1) % n]), priority))
                    .collect();
                let ty = classify(&rels);
                res.cycles.push(Cycle {
                    ty,
                    txns: txns.iter().map(|&i| scc[i as usize]).collect(),
                    rels,
                });
                redundant.extend(l.implied_anomalies([spec.name.as_str()]));
            }
            Ok(None) => {}
            Err(()) => {
                let found: BTreeSet<&str> = res.cycles.iter().map(|c| c.ty.as_str()).collect();
                let not_found = searched[..searched.len() - 1]
                    .iter()
                    .filter(|t| !found.contains(t.as_str()))
                    .cloned()
                    .collect();
                res.timeout = Some((spec.name.clone(), not_found, scc.len()));
                let (txns, rels) = fallback(&local, priority);
                res.cycles.push(Cycle {
                    ty: classify(&rels),
                    txns: txns.iter().map(|&i| scc[i as usize]).collect(),
                    rels,
                });
                break;
            }
        }
    }
    res
}

/// SCCs of A ∪ A;B, found as SCCs of a two-state product graph: state 1 means "the last
/// edge was an A edge", and a B edge may only follow an A edge.
fn extension_sccs(g: &Graph, a: u8, b: u8) -> Vec<Vec<u32>> {
    let n = g.len();
    let comps = graph::sccs_by(2 * n, |s, f| {
        let (v, st) = (s / 2, s % 2);
        for (w, r) in g.out(v) {
            if r & a != 0 {
                f(w * 2 + 1);
            }
            if r & b != 0 && st == 1 {
                f(w * 2);
            }
        }
    });
    comps
        .into_iter()
        .map(|c| {
            let mut vs: Vec<u32> = c.into_iter().map(|s| s / 2).collect();
            vs.sort_unstable();
            vs.dedup();
            vs
        })
        .collect()
}

/// The priority relation of an edge: the first of `priority` it carries.
pub fn label(rels: u8, priority: &[u8]) -> u8 {
    priority
        .iter()
        .copied()
        .find(|p| rels & p != 0)
        .unwrap_or(0)
}

// Product state bits.
const S_RW1: u8 = 1; // at least one rw
const S_RW2: u8 = 2; // at least two rw
const S_LAST_RW: u8 = 4;
const S_FIRST_RW: u8 = 8;
const S_ADJ: u8 = 16;
const S_WR: u8 = 32;
const S_VAR: u8 = 64;

type Found = Option<(Vec<u32>, Vec<u8>)>;

fn find(g: &Graph, spec: &Spec, priority: &[u8], deadline: Instant) -> Result<Found, ()> {
    let rw_ok = spec.rw != RwMode::None;
    let mask = spec.allowed | if rw_ok { RW } else { 0 };
    let usable = |rels: u8| -> u8 {
        if spec.typed {
            let l = label(rels, priority);
            l & mask
        } else {
            rels & mask
        }
    };
    // Restrict to SCCs of the usable subgraph.
    let comps = graph::sccs_by(g.len(), |v, f| {
        for (w, r) in g.out(v) {
            if usable(r) != 0 {
                f(w)
            }
        }
    });
    let mut comp_of = vec![u32::MAX; g.len()];
    for (ci, c) in comps.iter().enumerate() {
        for &v in c {
            comp_of[v as usize] = ci as u32;
        }
    }
    let start_rel = if rw_ok {
        RW
    } else if spec.require_wr {
        WR
    } else if spec.variant != 0 {
        spec.variant
    } else {
        0xff
    };
    let mut ops = 0usize;
    for (ci, c) in comps.iter().enumerate() {
        for &s in c {
            // Only start where a required edge ends.
            let starts_here = start_rel == 0xff
                || c.iter()
                    .any(|&p| usable(g.rels_between(p, s)) & start_rel != 0);
            if !starts_here {
                continue;
            }
            if let Some(found) = bfs(g, spec, &usable, s, ci as u32, &comp_of, deadline, &mut ops)?
            {
                return Ok(Some(found));
            }
        }
    }
    Ok(None)
}

#[allow(clippy::too_many_arguments)]
fn bfs(
    g: &Graph,
    spec: &Spec,
    usable: &dyn Fn(u8) -> u8,
    s: u32,
    comp: u32,
    comp_of: &[u32],
    deadline: Instant,
    ops: &mut usize,
) -> Result<Found, ()> {
    let mut parent: FxHashMap<(u32, u8), (u32, u8, u8)> = FxHashMap::default();
    let mut queue: VecDeque<(u32, u8)> = VecDeque::new();
    queue.push_back((s, 0));
    parent.insert((s, 0), (u32::MAX, 0, 0));
    let first = true;
    let _ = first;
    while let Some((v, st)) = queue.pop_front() {
        *ops += 1;
        if (*ops).is_multiple_of(1024) && Instant::now() > deadline {
            return Err(());
        }
        for (w, r) in g.out(v) {
            if comp_of[w as usize] != comp {
                continue;
            }
            let labels = usable(r);
            for bit in [WW, WR, RW, PROCESS, REALTIME] {
                if labels & bit == 0 {
                    continue;
                }
                let Some(st2) = step(spec, st, bit, v == s && st == 0) else {
                    continue;
                };
                if w == s {
                    if accept(spec, st2) {
                        return Ok(Some(path(&parent, v, st, bit)));
                    }
                    continue;
                }
                if let std::collections::hash_map::Entry::Vacant(e) = parent.entry((w, st2)) {
                    e.insert((v, st, bit));
                    queue.push_back((w, st2));
                }
            }
        }
    }
    Ok(None)
}

fn step(spec: &Spec, st: u8, bit: u8, first: bool) -> Option<u8> {
    let mut st2 = st;
    if bit == RW {
        match spec.rw {
            RwMode::None => return None,
            RwMode::Single if st & S_RW1 != 0 => return None,
            RwMode::Nonadjacent if st & S_LAST_RW != 0 => return None,
            _ => {}
        }
        if st & S_LAST_RW != 0 {
            st2 |= S_ADJ;
        }
        if st & S_RW1 != 0 {
            st2 |= S_RW2;
        }
        st2 |= S_RW1 | S_LAST_RW;
        if first {
            st2 |= S_FIRST_RW;
        }
    } else {
        st2 &= !S_LAST_RW;
        if bit == WR {
            st2 |= S_WR;
        }
        if bit == spec.variant {
            st2 |= S_VAR;
        }
    }
    Some(st2)
}

fn accept(spec: &Spec, st: u8) -> bool {
    // Wrap-around adjacency: the last step and the first step are both rw.
    let wrap_adj = st & S_LAST_RW != 0 && st & S_FIRST_RW != 0;
    let rw_ok = match spec.rw {
        RwMode::None => st & S_RW1 == 0,
        RwMode::Single => st & S_RW1 != 0 && st & S_RW2 == 0,
        RwMode::Nonadjacent => st & S_RW2 != 0 && !wrap_adj && st & S_ADJ == 0,
        RwMode::Multiple => st & S_RW2 != 0 && (st & S_ADJ != 0 || wrap_adj),
    };
    rw_ok && (!spec.require_wr || st & S_WR != 0) && (spec.variant == 0 || st & S_VAR != 0)
}

fn path(
    parent: &FxHashMap<(u32, u8), (u32, u8, u8)>,
    v: u32,
    st: u8,
    last: u8,
) -> (Vec<u32>, Vec<u8>) {
    let mut txns = vec![v];
    let mut rels = vec![last];
    let mut cur = (v, st);
    while let Some(&(p, pst, bit)) = parent.get(&cur) {
        if p == u32::MAX {
            break;
        }
        txns.push(p);
        rels.push(bit);
        cur = (p, pst);
    }
    txns.reverse();
    rels.reverse();
    (txns, rels)
}

/// Some cycle through the first vertex of a strongly connected graph (shortest, by BFS),
/// labelled by priority.
fn fallback(g: &Graph, priority: &[u8]) -> (Vec<u32>, Vec<u8>) {
    let n = g.len();
    let mut parent = vec![u32::MAX; n];
    let mut queue = VecDeque::from([0u32]);
    while let Some(v) = queue.pop_front() {
        for (w, _) in g.out(v) {
            if w == 0 {
                let mut txns = vec![v];
                let mut cur = v;
                while cur != 0 {
                    cur = parent[cur as usize];
                    txns.push(cur);
                }
                txns.reverse();
                let rels = (0..txns.len())
                    .map(|i| {
                        label(
                            g.rels_between(txns[i], txns[(i + 1) % txns.len()]),
                            priority,
                        )
                    })
                    .collect();
                return (txns, rels);
            }
            if parent[w as usize] == u32::MAX {
                parent[w as usize] = v;
                queue.push_back(w);
            }
        }
    }
    (Vec::new(), Vec::new())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classify_like_elle() {
        assert_eq!(classify(&[WW, WW]), "G0");
        assert_eq!(classify(&[WW, WR]), "G1c");
        assert_eq!(classify(&[WW, RW]), "G-single-item");
        assert_eq!(classify(&[RW, RW]), "G2-item");
        assert_eq!(classify(&[RW, WR, RW, WW]), "G-nonadjacent-item");
        assert_eq!(classify(&[WW, WR, REALTIME]), "G1c-realtime");
        assert_eq!(classify(&[RW, PROCESS]), "G-single-item-process");
    }

    #[test]
    fn specs_follow_severity_depth() {
        // Depth ties break by name, as Elle's keyword comparison does.
        let s = specs();
        assert_eq!(s[0].name, "G-single-item");
        assert_eq!(s[1].name, "G0");
        let pos = |n: &str| s.iter().position(|x| x.name == n).unwrap();
        assert!(pos("G0") < pos("G1c"));
        assert!(pos("G-single-item") < pos("G2-item"));
    }
}
