//! Grudges: which node must not hear from which, and Jepsen's ways of building them.

use std::collections::{BTreeMap, BTreeSet};

use rand::seq::SliceRandom;
use rand::Rng;
use rift_history::Value;

use crate::error::NemesisError;
use crate::nodespec::{role_nodes, Roles};

/// A grudge: node -> the set of nodes it must not hear from (Jepsen's `grudge`). Nodes that
/// hold no grudge may be absent. Ordered maps keep rendering and history values stable.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Grudge(pub BTreeMap<String, BTreeSet<String>>);

impl Grudge {
    /// The empty grudge (everyone hears everyone).
    pub fn new() -> Grudge {
        Grudge::default()
    }

    /// True when no node holds a grudge.
    pub fn is_empty(&self) -> bool {
        self.0.values().all(|s| s.is_empty())
    }

    /// The nodes `node` must not hear from (empty when none).
    pub fn of(&self, node: &str) -> BTreeSet<String> {
        self.0.get(node).cloned().unwrap_or_default()
    }

    /// Adds "`node` must not hear from `from`".
    pub fn add(&mut self, node: &str, from: &str) {
        self.0
            .entry(node.to_string())
            .or_default()
            .insert(from.to_string());
    }

    /// Jepsen's `complete-grudge`: every node grudges every node outside its own component.
    /// Nodes in no component hold no grudge and are grudged by nobody.
    pub fn complete(components: &[Vec<String>]) -> Grudge {
        let mut g = Grudge::new();
        for (i, comp) in components.iter().enumerate() {
            for node in comp {
                g.0.entry(node.clone()).or_default();
                for (j, other) in components.iter().enumerate() {
                    if i != j {
                        for o in other.iter().filter(|o| !comp.contains(o)) {
                            g.add(node, o);
                        }
                    }
                }
            }
        }
        g
    }

    /// `one`: isolates one random node from all others.
    pub fn one<R: Rng>(nodes: &[String], rng: &mut R) -> Grudge {
        let mut v = nodes.to_vec();
        v.shuffle(rng);
        let rest = v.split_off(v.len().min(1));
        Grudge::complete(&[v, rest])
    }

    /// `majority`: shuffles the nodes and cuts them in two, a minority (`n / 2` nodes) and a
    /// majority (Jepsen's `bisect` of a shuffle).
    pub fn majority<R: Rng>(nodes: &[String], rng: &mut R) -> Grudge {
        let mut v = nodes.to_vec();
        v.shuffle(rng);
        let rest = v.split_off(nodes.len() / 2);
        Grudge::complete(&[v, rest])
    }

    /// `minority-third`: cuts off a random group of `(n - 1) / 3` nodes (the largest number
    /// strictly below a third; none for 3 nodes or fewer) from the rest.
    pub fn minority_third<R: Rng>(nodes: &[String], rng: &mut R) -> Grudge {
        let mut v = nodes.to_vec();
        v.shuffle(rng);
        let rest = v.split_off(minority_third(nodes.len()));
        Grudge::complete(&[v, rest])
    }

    /// `bridge`: two halves that cannot talk, except through one node of the larger half that
    /// sees (and is seen by) everyone.
    pub fn bridge<R: Rng>(nodes: &[String], rng: &mut R) -> Grudge {
        let mut v = nodes.to_vec();
        v.shuffle(rng);
        let second = v.split_off(nodes.len() / 2);
        let mut g = Grudge::complete(&[v, second.clone()]);
        if let Some(bridge) = second.first() {
            g.0.insert(bridge.clone(), BTreeSet::new());
            for set in g.0.values_mut() {
                set.remove(bridge);
            }
        }
        g
    }

    /// `majorities-ring`: the nodes form a random ring and each sees only a majority made of
    /// itself and its nearest ring neighbours, so every node sees a majority and no two see the
    /// same one (for 5 nodes: itself and one neighbour on each side). When `majority(n) - 1`
    /// is odd (3, 7 nodes...), the extra neighbour is taken on the right, so the grudge is not
    /// symmetric.
    pub fn majorities_ring<R: Rng>(nodes: &[String], rng: &mut R) -> Grudge {
        let mut ring = nodes.to_vec();
        ring.shuffle(rng);
        let n = ring.len();
        let mut g = Grudge::new();
        if n == 0 {
            return g;
        }
        let others = majority(n) - 1;
        let (left, right) = (others / 2, others - others / 2);
        for (i, node) in ring.iter().enumerate() {
            let mut sees = BTreeSet::new();
            sees.insert(i);
            for d in 1..=left {
                sees.insert((i + n - d % n) % n);
            }
            for d in 1..=right {
                sees.insert((i + d) % n);
            }
            g.0.entry(node.clone()).or_default();
            for (j, other) in ring.iter().enumerate() {
                if !sees.contains(&j) {
                    g.add(node, other);
                }
            }
        }
        g
    }

    /// `primaries`: every primary alone in its own component, the other nodes together.
    pub fn primaries(nodes: &[String], primaries: &[String]) -> Grudge {
        let rest: Vec<String> = nodes
            .iter()
            .filter(|n| !primaries.contains(n))
            .cloned()
            .collect();
        let mut comps: Vec<Vec<String>> = primaries.iter().map(|p| vec![p.clone()]).collect();
        comps.push(rest);
        Grudge::complete(&comps)
    }

    /// `between`: cuts every link between a node of `a` and a node of `b` (both ways) and
    /// leaves every other link alone. Nodes in both groups (roles that share nodes, such as
    /// Kafka's combined controller+broker nodes) keep talking to each other, so with
    /// overlapping roles the cut falls between the nodes of one role only and the other role.
    pub fn between(a: &[String], b: &[String]) -> Grudge {
        let mut g = Grudge::new();
        let both = |n: &String| a.contains(n) && b.contains(n);
        for x in a {
            for y in b.iter().filter(|y| *y != x && !(both(x) && both(y))) {
                g.add(x, y);
                g.add(y, x);
            }
        }
        g
    }

    /// Parses `between:<roleA>,<roleB>` against `roles` and builds [`Grudge::between`] of the
    /// two roles' nodes. `None` when `name` does not start with `between:`.
    pub fn between_roles(name: &str, roles: &Roles) -> Option<Result<Grudge, NemesisError>> {
        let rest = name.strip_prefix("between:")?;
        Some(match rest.split_once(',') {
            Some((a, b)) if !a.trim().is_empty() && !b.trim().is_empty() => {
                role_nodes(roles, a.trim())
                    .and_then(|a| role_nodes(roles, b.trim()).map(|b| Grudge::between(a, b)))
            }
            _ => Err(NemesisError::bad_value(
                "start-partition",
                format!("{name:?}: expected between:<roleA>,<roleB>"),
            )),
        })
    }

    /// The grudge as a history value: `{"n1" #{"n2" "n3"}, ...}` (Jepsen's grudge map).
    pub fn to_value(&self) -> Value {
        Value::Map(
            self.0
                .iter()
                .map(|(k, set)| {
                    (
                        Value::str(k),
                        Value::Set(set.iter().map(|s| Value::str(s)).collect()),
                    )
                })
                .collect(),
        )
    }

    /// Reads a grudge map `{node [nodes...]}` (keys and members as strings or keywords).
    pub fn from_value(v: &Value) -> Result<Grudge, NemesisError> {
        let bad = |d: &str| NemesisError::bad_value("start-partition", d);
        let map = v.as_map().ok_or_else(|| bad("a grudge must be a map"))?;
        let mut g = Grudge::new();
        for (k, set) in map {
            let node = k
                .as_name()
                .ok_or_else(|| bad("grudge keys are node names"))?;
            g.0.entry(node.to_string()).or_default();
            for m in set
                .as_seq()
                .ok_or_else(|| bad("grudge values are node lists"))?
            {
                g.add(node, m.as_name().ok_or_else(|| bad("node names expected"))?);
            }
        }
        Ok(g)
    }

    /// Every node name the grudge mentions, as keys or members.
    pub fn nodes(&self) -> BTreeSet<String> {
        let mut all: BTreeSet<String> = self.0.keys().cloned().collect();
        for s in self.0.values() {
            all.extend(s.iter().cloned());
        }
        all
    }
}

/// Jepsen's `majority`: `n / 2 + 1`.
pub fn majority(n: usize) -> usize {
    n / 2 + 1
}

/// Jepsen's `minority-third`: the largest integer strictly below `n / 3`, that is `(n - 1) / 3`
/// (0 for `n == 0`).
pub fn minority_third(n: usize) -> usize {
    n.saturating_sub(1) / 3
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    fn nodes(n: usize) -> Vec<String> {
        (1..=n).map(|i| format!("n{i}")).collect()
    }

    fn s(v: &[&str]) -> BTreeSet<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    /// Whether `a` hears `b` and `b` hears `a`.
    fn talk(g: &Grudge, a: &str, b: &str) -> bool {
        !g.of(a).contains(b) && !g.of(b).contains(a)
    }

    #[test]
    fn complete_grudge() {
        let g = Grudge::complete(&[
            vec!["n1".into(), "n2".into()],
            vec!["n3".into()],
            vec!["n4".into(), "n5".into()],
        ]);
        assert_eq!(g.of("n1"), s(&["n3", "n4", "n5"]));
        assert_eq!(g.of("n3"), s(&["n1", "n2", "n4", "n5"]));
        assert_eq!(g.of("n5"), s(&["n1", "n2", "n3"]));
        assert_eq!(g.of("n9"), s(&[]));
        assert!(Grudge::complete(&[nodes(3)]).is_empty());
    }

    #[test]
    fn one_isolates_exactly_one() {
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        for _ in 0..20 {
            let g = Grudge::one(&nodes(5), &mut rng);
            let lonely: Vec<_> = g.0.iter().filter(|(_, v)| v.len() == 4).collect();
            assert_eq!(lonely.len(), 1);
            let others: Vec<_> = g.0.iter().filter(|(_, v)| v.len() == 1).collect();
            assert_eq!(others.len(), 4);
        }
    }

    #[test]
    fn majority_splits_two_and_three() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let g = Grudge::majority(&nodes(5), &mut rng);
        let mut sizes: Vec<usize> = g.0.values().map(|v| v.len()).collect();
        sizes.sort();
        // Majority members grudge the 2 minority nodes; minority members grudge 3.
        assert_eq!(sizes, vec![2, 2, 2, 3, 3]);
        let g4 = Grudge::majority(&nodes(4), &mut rng);
        assert!(g4.0.values().all(|v| v.len() == 2));
    }

    #[test]
    fn same_seed_same_grudge() {
        let a = Grudge::majority(&nodes(5), &mut ChaCha8Rng::seed_from_u64(42));
        let b = Grudge::majority(&nodes(5), &mut ChaCha8Rng::seed_from_u64(42));
        assert_eq!(a, b);
    }

    #[test]
    fn minority_third_sizes() {
        assert_eq!(
            [0, 1, 3, 4, 5, 7, 9, 10].map(minority_third),
            [0, 0, 0, 1, 1, 2, 2, 3]
        );
        let g = Grudge::minority_third(&nodes(7), &mut ChaCha8Rng::seed_from_u64(3));
        let mut sizes: Vec<usize> = g.0.values().map(|v| v.len()).collect();
        sizes.sort();
        assert_eq!(sizes, vec![2, 2, 2, 2, 2, 5, 5]);
        assert!(Grudge::minority_third(&nodes(3), &mut ChaCha8Rng::seed_from_u64(3)).is_empty());
    }

    #[test]
    fn bridge_node_sees_everyone() {
        let g = Grudge::bridge(&nodes(5), &mut ChaCha8Rng::seed_from_u64(9));
        let bridges: Vec<&String> =
            g.0.iter()
                .filter(|(_, v)| v.is_empty())
                .map(|(k, _)| k)
                .collect();
        assert_eq!(bridges.len(), 1);
        let b = bridges[0];
        for n in nodes(5) {
            assert!(talk(&g, b, &n), "bridge {b} and {n}");
        }
        // The four others: two pairs that cannot talk across.
        let mut sizes: Vec<usize> = g.0.values().map(|v| v.len()).collect();
        sizes.sort();
        assert_eq!(sizes, vec![0, 2, 2, 2, 2]);
    }

    #[test]
    fn majorities_ring_every_node_sees_a_distinct_majority() {
        for n in [3usize, 5, 7, 9] {
            let g = Grudge::majorities_ring(&nodes(n), &mut ChaCha8Rng::seed_from_u64(n as u64));
            let mut views = BTreeSet::new();
            for node in nodes(n) {
                let sees: BTreeSet<String> = nodes(n)
                    .into_iter()
                    .filter(|o| !g.of(&node).contains(o))
                    .collect();
                assert_eq!(sees.len(), majority(n), "{node} sees {sees:?}");
                assert!(sees.contains(&node));
                views.insert(sees);
            }
            assert_eq!(views.len(), n, "views must differ");
            // An even number of neighbours (5, 9 nodes) gives a symmetric ring.
            let symmetric = matches!(n, 5 | 9);
            let mut all_symmetric = true;
            for a in nodes(n) {
                for b in nodes(n) {
                    all_symmetric &= g.of(&a).contains(&b) == g.of(&b).contains(&a);
                }
            }
            assert_eq!(all_symmetric, symmetric, "n = {n}");
        }
    }

    #[test]
    fn primaries_alone() {
        let g = Grudge::primaries(&nodes(5), &["n2".to_string(), "n4".to_string()]);
        assert_eq!(g.of("n2"), s(&["n1", "n3", "n4", "n5"]));
        assert_eq!(g.of("n4"), s(&["n1", "n2", "n3", "n5"]));
        assert_eq!(g.of("n1"), s(&["n2", "n4"]));
        assert!(talk(&g, "n1", "n5"));
    }

    #[test]
    fn value_round_trip() {
        let g = Grudge::complete(&[vec!["n1".into()], vec!["n2".into(), "n3".into()]]);
        let v = g.to_value();
        assert_eq!(v.get("n1").unwrap().as_seq().unwrap().len(), 2);
        assert_eq!(Grudge::from_value(&v).unwrap(), g);
        assert!(Grudge::from_value(&Value::Int(3)).is_err());
    }
}
