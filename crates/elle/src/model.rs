//! The consistency-model lattice: which models imply which, which anomalies each model
//! forbids, and which anomalies imply which. The facts follow Elle's `elle.consistency-model`
//! (Adya, Cerone, Bailis, Daudjee and others); the code is ours.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

/// `a -> [b...]`: anomaly `a` implies anomalies `b` (finding `a` means `b` happened too).
const IMPLIED_ANOMALIES: &[(&str, &[&str])] = &[
    ("G0", &["G1c", "G0-process"]),
    ("G0-process", &["G1c-process", "G0-realtime"]),
    ("G0-realtime", &["G1c-realtime"]),
    ("G1a", &["G1"]),
    ("G1b", &["G1"]),
    ("G1c", &["G1", "G1c-process"]),
    ("G1c-process", &["G1c-realtime", "G1-process"]),
    ("G1c-realtime", &["G1-realtime"]),
    ("G1", &["G1-process"]),
    ("G1-process", &["G1-realtime"]),
    (
        "G-single-item",
        &["G-single", "G-single-item-process", "G-nonadjacent-item"],
    ),
    (
        "G-single-item-process",
        &[
            "G-single-process",
            "G-single-item-realtime",
            "G-nonadjacent-item-process",
        ],
    ),
    (
        "G-single-item-realtime",
        &["G-single-realtime", "G-nonadjacent-item-realtime"],
    ),
    ("G-single", &["G-nonadjacent", "GSIb", "G-single-process"]),
    (
        "G-single-process",
        &["G-nonadjacent-process", "G-single-realtime"],
    ),
    ("G-single-realtime", &["G-nonadjacent-realtime"]),
    (
        "G-nonadjacent-item",
        &["G-nonadjacent", "G2-item", "G-nonadjacent-item-process"],
    ),
    (
        "G-nonadjacent-item-process",
        &[
            "G-nonadjacent-process",
            "G2-item-process",
            "G-nonadjacent-item-realtime",
        ],
    ),
    (
        "G-nonadjacent-item-realtime",
        &["G2-item-realtime", "G-nonadjacent-realtime"],
    ),
    ("G-nonadjacent", &["G2", "G-nonadjacent-process"]),
    (
        "G-nonadjacent-process",
        &["G2-process", "G-nonadjacent-realtime"],
    ),
    ("G-nonadjacent-realtime", &["G2-realtime"]),
    ("G2", &["G2-process"]),
    ("G2-item", &["G2", "G2-item-process"]),
    ("G2-item-process", &["G2-process", "G2-item-realtime"]),
    ("G2-item-realtime", &["G2-realtime"]),
    ("G2-process", &["G2-realtime"]),
    ("GSIa", &["GSI"]),
    ("GSIb", &["GSI"]),
    ("incompatible-order", &["G1a"]),
    ("future-read", &["G1c"]),
    ("dirty-update", &["G1a"]),
    ("lost-update", &["write-skew", "G2-item"]),
    ("write-skew", &["G2"]),
];

/// Extra severity order (not implication) used to order cycle searches.
const SEVERITY: &[(&str, &[&str])] = &[
    ("G0", &["G1c"]),
    ("G0-process", &["G1c-process"]),
    ("G0-realtime", &["G1c-realtime"]),
    ("G1c", &["G-single", "G2-item"]),
    ("G1c-process", &["G-single-process", "G2-item-process"]),
    ("G1c-realtime", &["G-single-realtime", "G2-item-realtime"]),
    ("G2", &["G0-process"]),
    ("G2-process", &["G0-realtime"]),
];

/// Friendly model name -> canonical name.
const CANONICAL: &[(&str, &str)] = &[
    ("consistent-view", "PL-2+"),
    ("conflict-serializable", "PL-3"),
    ("cursor-stability", "PL-CS"),
    ("forward-consistent-view", "PL-FCV"),
    ("monotonic-snapshot-read", "PL-MSR"),
    ("monotonic-view", "PL-2L"),
    ("read-committed", "PL-2"),
    ("read-uncommitted", "PL-1"),
    ("repeatable-read", "PL-2.99"),
    ("serializable", "PL-3"),
    ("snapshot-isolation", "PL-SI"),
    ("strict-serializable", "PL-SS"),
    ("strong-serializable", "PL-SS"),
    ("update-serializable", "PL-3U"),
    ("strong-session-read-uncommitted", "strong-session-PL-1"),
    ("strong-session-read-committed", "strong-session-PL-2"),
    ("strong-read-uncommitted", "strong-PL-1"),
    ("strong-read-committed", "strong-PL-2"),
];

/// Canonical name -> friendly name, as Elle prints them.
const FRIENDLY: &[(&str, &str)] = &[
    ("PL-2+", "consistent-view"),
    ("PL-3", "serializable"),
    ("PL-CS", "cursor-stability"),
    ("PL-FCV", "forward-consistent-view"),
    ("PL-MSR", "monotonic-snapshot-read"),
    ("PL-2L", "monotonic-view"),
    ("PL-2", "read-committed"),
    ("PL-1", "read-uncommitted"),
    ("PL-2.99", "repeatable-read"),
    ("PL-SI", "snapshot-isolation"),
    ("PL-SS", "strong-serializable"),
    ("PL-3U", "update-serializable"),
    ("strong-session-PL-1", "strong-session-read-uncommitted"),
    ("strong-session-PL-2", "strong-session-read-committed"),
    ("strong-PL-1", "strong-read-uncommitted"),
    ("strong-PL-2", "strong-read-committed"),
];

/// `a -> [b...]`: a history satisfying model `a` satisfies every `b` (names as written;
/// canonicalised when the graph is built).
const MODELS: &[(&str, &[&str])] = &[
    ("causal-cerone", &["read-atomic"]),
    ("consistent-view", &["cursor-stability", "monotonic-view"]),
    ("conflict-serializable", &["view-serializable"]),
    ("cursor-stability", &["read-committed", "PL-2"]),
    ("forward-consistent-view", &["consistent-view"]),
    ("PL-2", &["PL-1"]),
    ("PL-3", &["repeatable-read", "update-serializable"]),
    ("update-serializable", &["forward-consistent-view"]),
    ("monotonic-atomic-view", &["read-committed"]),
    ("monotonic-view", &["PL-2"]),
    ("monotonic-snapshot-read", &["PL-2"]),
    (
        "parallel-snapshot-isolation",
        &["causal-cerone", "update-atomic"],
    ),
    ("prefix", &["causal-cerone"]),
    ("read-atomic", &["monotonic-atomic-view"]),
    ("read-committed", &["read-uncommitted"]),
    (
        "repeatable-read",
        &["cursor-stability", "monotonic-atomic-view"],
    ),
    ("update-atomic", &["read-atomic"]),
    (
        "serializable",
        &["repeatable-read", "snapshot-isolation", "view-serializable"],
    ),
    ("session-serializable", &["1SR"]),
    (
        "snapshot-isolation",
        &[
            "forward-consistent-view",
            "monotonic-atomic-view",
            "monotonic-snapshot-read",
            "parallel-snapshot-isolation",
            "prefix",
        ],
    ),
    (
        "strict-serializable",
        &[
            "PL-3",
            "serializable",
            "linearizable",
            "snapshot-isolation",
            "strong-snapshot-isolation",
            "strong-session-serializable",
        ],
    ),
    ("strong-session-PL-1", &["PL-1"]),
    ("strong-session-PL-2", &["PL-2", "strong-session-PL-1"]),
    ("strong-PL-1", &["strong-session-PL-1"]),
    ("strong-PL-2", &["strong-session-PL-2", "strong-PL-1"]),
    (
        "strong-session-serializable",
        &["serializable", "strong-session-snapshot-isolation"],
    ),
    (
        "strong-session-snapshot-isolation",
        &["snapshot-isolation", "strong-session-PL-2"],
    ),
    ("strong-serializable", &["session-serializable"]),
    (
        "strong-snapshot-isolation",
        &["strong-session-snapshot-isolation", "strong-PL-2"],
    ),
    ("linearizable", &["sequential"]),
    ("sequential", &["causal"]),
    ("causal", &["writes-follow-reads", "PRAM"]),
    (
        "PRAM",
        &["monotonic-reads", "monotonic-writes", "read-your-writes"],
    ),
];

/// Model -> anomalies it forbids directly (in addition to those of weaker models).
const PROSCRIBED: &[(&str, &[&str])] = &[
    ("causal-cerone", &["internal", "G1a"]),
    ("cursor-stability", &["G1", "G-cursor", "lost-update"]),
    ("monotonic-view", &["G1", "G-monotonic"]),
    ("monotonic-snapshot-read", &["G1", "G-MSR"]),
    ("consistent-view", &["G1", "G-single"]),
    ("forward-consistent-view", &["G1", "G-SIb"]),
    ("parallel-snapshot-isolation", &["internal", "G1a"]),
    (
        "PL-3",
        &["G1", "G2", "predicate-read-miss", "PL-3-cycle-exists"],
    ),
    ("PL-2", &["G1", "PL-2-cycle-exists"]),
    (
        "PL-1",
        &[
            "G0",
            "duplicate-elements",
            "cyclic-versions",
            "PL-1-cycle-exists",
        ],
    ),
    ("prefix", &["internal", "G1a"]),
    ("serializable", &["internal"]),
    (
        "snapshot-isolation",
        &[
            "internal",
            "G1",
            "G-SI",
            "G-nonadjacent",
            "PL-SI-cycle-exists",
        ],
    ),
    ("read-atomic", &["internal", "G1a", "future-read"]),
    (
        "repeatable-read",
        &["G1", "G2-item", "PL-2.99-cycle-exists", "lost-update"],
    ),
    ("update-atomic", &["lost-update"]),
    (
        "strict-serializable",
        &["G1", "G1c-realtime", "G2-realtime", "PL-SS-cycle-exists"],
    ),
    (
        "strong-session-PL-1",
        &["strong-session-PL-1-cycle-exists", "G0-process"],
    ),
    (
        "strong-session-PL-2",
        &["strong-session-PL-2-cycle-exists", "G1c-process"],
    ),
    ("strong-PL-1", &["strong-PL-1-cycle-exists", "G0-realtime"]),
    ("strong-PL-2", &["strong-PL-2-cycle-exists", "G1c-realtime"]),
    (
        "strong-session-snapshot-isolation",
        &[
            "internal",
            "G1-process",
            "G-nonadjacent-process",
            "strong-session-snapshot-isolation-cycle-exists",
        ],
    ),
    (
        "strong-snapshot-isolation",
        &[
            "internal",
            "G1-realtime",
            "G-nonadjacent-realtime",
            "strong-snapshot-isolation-cycle-exists",
        ],
    ),
    (
        "strong-session-serializable",
        &[
            "G1-process",
            "G2-process",
            "strong-session-serializable-cycle-exists",
        ],
    ),
    ("update-serializable", &["G1", "G-update"]),
];

/// The canonical name of a model (`serializable` -> `PL-3`); unknown names are returned as is.
pub fn canonical(model: &str) -> &str {
    CANONICAL
        .iter()
        .find(|(f, _)| *f == model)
        .map_or(model, |(_, c)| *c)
}

/// The friendly name of a canonical model (`PL-3` -> `serializable`).
pub fn friendly(model: &str) -> &str {
    FRIENDLY
        .iter()
        .find(|(c, _)| *c == model)
        .map_or(model, |(_, f)| *f)
}

type Graph = BTreeMap<&'static str, BTreeSet<&'static str>>;

fn graph(edges: &[(&'static str, &'static [&'static str])], canon: bool) -> (Graph, Graph) {
    let mut out: Graph = BTreeMap::new();
    let mut inn: Graph = BTreeMap::new();
    let c = |s: &'static str| if canon { canonical(s) } else { s };
    for (a, bs) in edges {
        let a = c(a);
        out.entry(a).or_default();
        inn.entry(a).or_default();
        for b in bs.iter() {
            let b = c(b);
            out.entry(a).or_default().insert(b);
            inn.entry(b).or_default().insert(a);
            out.entry(b).or_default();
        }
    }
    (out, inn)
}

/// Breadth-first closure of `start` along `g` (the start included).
fn closure<'a>(g: &Graph, start: impl IntoIterator<Item = &'a str>) -> BTreeSet<String> {
    let mut seen: BTreeSet<String> = BTreeSet::new();
    let mut queue: VecDeque<String> = start.into_iter().map(str::to_string).collect();
    while let Some(x) = queue.pop_front() {
        if !seen.insert(x.clone()) {
            continue;
        }
        if let Some(next) = g.get(x.as_str()) {
            queue.extend(next.iter().map(|s| s.to_string()));
        }
    }
    seen
}

/// The lattice, built once.
pub struct Lattice {
    implied_out: Graph,
    implied_in: Graph,
    models_out: Graph,
    models_in: Graph,
    proscribed_out: Graph,
    proscribed_in: Graph,
    depth: BTreeMap<&'static str, usize>,
}

impl Lattice {
    fn build() -> Lattice {
        let (implied_out, implied_in) = graph(IMPLIED_ANOMALIES, false);
        let (models_out, models_in) = graph(MODELS, true);
        let proscribed: Vec<(&'static str, &'static [&'static str])> = PROSCRIBED.to_vec();
        let mut proscribed_out: Graph = BTreeMap::new();
        let mut proscribed_in: Graph = BTreeMap::new();
        for (m, anomalies) in proscribed {
            let m = canonical(m);
            for a in anomalies {
                proscribed_out.entry(m).or_default().insert(a);
                proscribed_in.entry(a).or_default().insert(m);
            }
        }
        let mut sev = implied_out.clone();
        for (a, bs) in SEVERITY {
            for b in bs.iter() {
                sev.entry(a).or_default().insert(b);
                sev.entry(b).or_default();
            }
        }
        for anomalies in proscribed_out.values() {
            for a in anomalies {
                sev.entry(a).or_default();
            }
        }
        let depth = topo_depths(&sev);
        Lattice {
            implied_out,
            implied_in,
            models_out,
            models_in,
            proscribed_out,
            proscribed_in,
            depth,
        }
    }

    /// The depth of an anomaly in the implication/severity order (0: nothing implies it).
    pub fn depth(&self, anomaly: &str) -> usize {
        self.depth.get(anomaly).copied().unwrap_or(0)
    }

    /// Every known model name (friendly and canonical).
    pub fn all_models(&self) -> BTreeSet<&'static str> {
        let mut s: BTreeSet<&'static str> = self.models_out.keys().copied().collect();
        for (f, c) in CANONICAL {
            s.insert(f);
            s.insert(c);
        }
        s
    }

    /// Anomalies implied by these (themselves included).
    pub fn implied_anomalies<'a>(&self, a: impl IntoIterator<Item = &'a str>) -> BTreeSet<String> {
        closure(&self.implied_out, a)
    }

    /// Anomalies that imply any of these (themselves included).
    pub fn anomalies_implying<'a>(&self, a: impl IntoIterator<Item = &'a str>) -> BTreeSet<String> {
        closure(&self.implied_in, a)
    }

    /// Anomalies forbidden if all these models hold.
    pub fn prohibited_by<'a>(&self, models: impl IntoIterator<Item = &'a str>) -> BTreeSet<String> {
        let implied = closure(&self.models_out, models.into_iter().map(canonical));
        let direct: Vec<String> = implied
            .iter()
            .filter_map(|m| self.proscribed_out.get(m.as_str()))
            .flat_map(|s| s.iter().map(|a| a.to_string()))
            .collect();
        self.anomalies_implying(direct.iter().map(String::as_str))
    }

    /// Canonical models made impossible by these (and stronger models).
    pub fn impossible_models_of<'a>(
        &self,
        models: impl IntoIterator<Item = &'a str>,
    ) -> BTreeSet<String> {
        closure(&self.models_in, models.into_iter().map(canonical))
    }

    /// Canonical models that cannot hold when these anomalies are present.
    pub fn impossible_models<'a>(
        &self,
        anomalies: impl IntoIterator<Item = &'a str>,
    ) -> BTreeSet<String> {
        let implied = self.implied_anomalies(anomalies);
        let direct: Vec<&str> = implied
            .iter()
            .filter_map(|a| self.proscribed_in.get(a.as_str()))
            .flat_map(|s| s.iter().copied())
            .collect();
        self.impossible_models_of(direct)
    }

    /// Elle's boundary: the weakest models ruled out (`not`) and the other ruled-out models
    /// (`also-not`), friendly names, sorted.
    pub fn boundary<'a>(
        &self,
        anomalies: impl IntoIterator<Item = &'a str>,
    ) -> (Vec<String>, Vec<String>) {
        let impossible = self.impossible_models(anomalies);
        let weakest: BTreeSet<&String> = impossible
            .iter()
            .filter(|m| {
                let below = closure(&self.models_out, [m.as_str()]);
                !below.iter().any(|b| b != *m && impossible.contains(b))
            })
            .collect();
        let not: BTreeSet<String> = weakest.iter().map(|m| friendly(m).to_string()).collect();
        let also: BTreeSet<String> = impossible
            .iter()
            .filter(|m| !weakest.contains(m))
            .map(|m| friendly(m).to_string())
            .collect();
        (not.into_iter().collect(), also.into_iter().collect())
    }
}

fn topo_depths(g: &Graph) -> BTreeMap<&'static str, usize> {
    // Longest path from a root, by Kahn's algorithm (the graph is a DAG).
    let mut indeg: BTreeMap<&'static str, usize> = g.keys().map(|k| (*k, 0)).collect();
    for bs in g.values() {
        for b in bs {
            *indeg.entry(b).or_default() += 1;
        }
    }
    let mut depth: BTreeMap<&'static str, usize> = indeg.keys().map(|k| (*k, 0)).collect();
    let mut queue: VecDeque<&'static str> = indeg
        .iter()
        .filter(|(_, d)| **d == 0)
        .map(|(k, _)| *k)
        .collect();
    while let Some(a) = queue.pop_front() {
        let da = depth[a];
        for b in g.get(a).into_iter().flatten() {
            let e = depth.entry(b).or_default();
            *e = (*e).max(da + 1);
            let d = indeg.entry(b).or_default();
            *d -= 1;
            if *d == 0 {
                queue.push_back(b);
            }
        }
    }
    depth
}

/// The shared lattice.
pub fn lattice() -> &'static Lattice {
    static L: std::sync::OnceLock<Lattice> = std::sync::OnceLock::new();
    L.get_or_init(Lattice::build)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn boundary_of_g_single_item() {
        let (not, also) = lattice().boundary(["G-single-item"]);
        assert_eq!(not, ["consistent-view", "repeatable-read"]);
        assert_eq!(
            also,
            [
                "forward-consistent-view",
                "serializable",
                "snapshot-isolation",
                "strong-serializable",
                "strong-session-serializable",
                "strong-session-snapshot-isolation",
                "strong-snapshot-isolation",
                "update-serializable"
            ]
        );
    }

    #[test]
    fn serializable_forbids_g2_item_but_not_realtime() {
        let p = lattice().prohibited_by(["serializable"]);
        assert!(p.contains("G2-item"));
        assert!(p.contains("G0"));
        assert!(!p.contains("G2-item-realtime"));
        let s = lattice().prohibited_by(["strict-serializable"]);
        assert!(s.contains("G2-item-realtime"));
        assert!(s.contains("G-single-item-process"));
    }

    #[test]
    fn depths_order_g0_first() {
        let l = lattice();
        assert_eq!(l.depth("G0"), 0);
        assert!(l.depth("G1c") > l.depth("G0"));
        assert!(l.depth("G2-item") > l.depth("G-single-item"));
    }
}
