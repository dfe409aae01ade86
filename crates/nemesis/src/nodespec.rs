//! Node specs: which nodes a kill, pause or packet fault targets (Jepsen's `db-nodes`).

use std::collections::BTreeMap;

use rand::seq::{IndexedRandom, SliceRandom};
use rand::Rng;
use rift_history::Value;

use crate::error::NemesisError;
use crate::grudge::{majority, minority_third};

/// Roles: role name (`storage`, `coordination`, `brokers`...) -> the nodes that play it. A
/// node spec `role:<name>` targets a role's nodes; a partition `between:<a>,<b>` cuts the
/// links between two roles.
pub type Roles = BTreeMap<String, Vec<String>>;

/// The nodes of `role`, or [`NemesisError::UnknownRole`] listing the known roles.
pub fn role_nodes<'a>(roles: &'a Roles, role: &str) -> Result<&'a [String], NemesisError> {
    roles
        .get(role)
        .map(Vec::as_slice)
        .ok_or_else(|| NemesisError::UnknownRole {
            role: role.to_string(),
            known: known_roles(roles),
        })
}

/// The known role names, comma-separated (`none` when there are none).
pub(crate) fn known_roles(roles: &Roles) -> String {
    if roles.is_empty() {
        "none".to_string()
    } else {
        roles.keys().cloned().collect::<Vec<_>>().join(", ")
    }
}

/// Which nodes a fault targets, by Jepsen's names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NodeSpec {
    /// `one`: one random node.
    One,
    /// `minority`: `majority(n) - 1` random nodes.
    Minority,
    /// `minority-third`: `(n - 1) / 3` random nodes.
    MinorityThird,
    /// `majority`: `n / 2 + 1` random nodes.
    Majority,
    /// `all`: every node.
    All,
    /// `primaries`: the nodes the db reports as primaries.
    Primaries,
    /// `nil`: a random non-empty subset.
    Random,
    /// An explicit list.
    Nodes(Vec<String>),
    /// `role:<name>`: every node of a role (see [`Roles`], [`NodeSpec::resolve_roles`]).
    Role(String),
    /// `role:<name>:<spec>`: `spec` (`one`, `majority`, `nil`...) among a role's nodes only
    /// (Jepsen's `restrict-nemesis-package`); resolved to [`NodeSpec::Within`].
    InRole(String, Box<NodeSpec>),
    /// `spec` applied to these nodes only (a role's, once roles are resolved).
    Within(Vec<String>, Box<NodeSpec>),
}

impl NodeSpec {
    /// Parses an op value: a name (`:one`, `"majority"`...), `nil` (random subset) or a list
    /// of node names.
    pub fn from_value(f: &str, v: &Value) -> Result<NodeSpec, NemesisError> {
        if v.is_nil() {
            return Ok(NodeSpec::Random);
        }
        if let Some(name) = v.as_name() {
            return NodeSpec::by_name(name)
                .ok_or_else(|| NemesisError::bad_value(f, format!("unknown node spec {name:?}")));
        }
        if let Some(seq) = v.as_seq() {
            let nodes = seq
                .iter()
                .map(|n| n.as_name().map(str::to_string))
                .collect::<Option<Vec<_>>>()
                .ok_or_else(|| NemesisError::bad_value(f, "node names expected"))?;
            return Ok(NodeSpec::Nodes(nodes));
        }
        Err(NemesisError::bad_value(
            f,
            "expected a node spec (one, minority, minority-third, majority, all, primaries, role:<name>), nil or a node list",
        ))
    }

    /// The spec with a Jepsen name (or `role:<name>`, or `role:<name>:<spec>`), if any.
    pub fn by_name(name: &str) -> Option<NodeSpec> {
        if let Some(role) = name.strip_prefix("role:") {
            if let Some((role, inner)) = role.split_once(':') {
                let inner = match inner {
                    "nil" => NodeSpec::Random,
                    other => match NodeSpec::by_name(other)? {
                        NodeSpec::Role(_) | NodeSpec::InRole(..) => return None,
                        spec => spec,
                    },
                };
                return (!role.is_empty())
                    .then(|| NodeSpec::InRole(role.to_string(), Box::new(inner)));
            }
            return (!role.is_empty()).then(|| NodeSpec::Role(role.to_string()));
        }
        Some(match name {
            "one" => NodeSpec::One,
            "minority" => NodeSpec::Minority,
            "minority-third" => NodeSpec::MinorityThird,
            "majority" => NodeSpec::Majority,
            "all" => NodeSpec::All,
            "primaries" => NodeSpec::Primaries,
            _ => return None,
        })
    }

    /// Whether resolving this spec needs the db's primaries.
    pub fn needs_primaries(&self) -> bool {
        match self {
            NodeSpec::Primaries => true,
            NodeSpec::InRole(_, inner) | NodeSpec::Within(_, inner) => inner.needs_primaries(),
            _ => false,
        }
    }

    /// Replaces `role:<name>` by the role's node list and `role:<name>:<spec>` by the spec
    /// within the role's nodes; other specs are returned unchanged.
    pub fn resolve_roles(self, roles: &Roles) -> Result<NodeSpec, NemesisError> {
        match self {
            NodeSpec::Role(r) => Ok(NodeSpec::Nodes(role_nodes(roles, &r)?.to_vec())),
            NodeSpec::InRole(r, inner) => {
                Ok(NodeSpec::Within(role_nodes(roles, &r)?.to_vec(), inner))
            }
            other => Ok(other),
        }
    }

    /// The nodes this spec picks from `nodes`; `primaries` are the db's primaries (used only by
    /// [`NodeSpec::Primaries`]). Explicit lists must name known nodes.
    pub fn resolve<R: Rng>(
        &self,
        nodes: &[String],
        primaries: &[String],
        rng: &mut R,
    ) -> Result<Vec<String>, NemesisError> {
        let take = |k: usize, rng: &mut R| {
            let mut v = nodes.to_vec();
            v.shuffle(rng);
            v.truncate(k);
            v
        };
        let mut picked = match self {
            NodeSpec::One => nodes.choose(rng).cloned().into_iter().collect(),
            NodeSpec::Minority => take(majority(nodes.len()) - 1, rng),
            NodeSpec::MinorityThird => take(minority_third(nodes.len()), rng),
            NodeSpec::Majority => take(majority(nodes.len()).min(nodes.len()), rng),
            NodeSpec::All => nodes.to_vec(),
            NodeSpec::Primaries => primaries.to_vec(),
            NodeSpec::Random => {
                let k = if nodes.is_empty() {
                    0
                } else {
                    rng.random_range(1..=nodes.len())
                };
                take(k, rng)
            }
            NodeSpec::Nodes(list) => {
                if let Some(bad) = list.iter().find(|n| !nodes.contains(n)) {
                    return Err(NemesisError::UnknownNode(bad.clone()));
                }
                list.clone()
            }
            NodeSpec::Within(within, inner) => {
                let sub: Vec<String> = nodes
                    .iter()
                    .filter(|n| within.contains(n))
                    .cloned()
                    .collect();
                let prims: Vec<String> = primaries
                    .iter()
                    .filter(|n| within.contains(n))
                    .cloned()
                    .collect();
                return inner.resolve(&sub, &prims, rng);
            }
            NodeSpec::Role(role) | NodeSpec::InRole(role, _) => {
                return Err(NemesisError::UnknownRole {
                    role: role.clone(),
                    known: "none (roles not resolved)".to_string(),
                })
            }
        };
        picked.sort();
        picked.dedup();
        Ok(picked)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    fn nodes(n: usize) -> Vec<String> {
        (1..=n).map(|i| format!("n{i}")).collect()
    }

    #[test]
    fn parse() {
        assert_eq!(
            NodeSpec::from_value("kill", &Value::kw("majority")).unwrap(),
            NodeSpec::Majority
        );
        assert_eq!(
            NodeSpec::from_value("kill", &Value::str("minority-third")).unwrap(),
            NodeSpec::MinorityThird
        );
        assert_eq!(
            NodeSpec::from_value("kill", &Value::Nil).unwrap(),
            NodeSpec::Random
        );
        assert_eq!(
            NodeSpec::from_value("kill", &Value::Vector(vec![Value::str("n2")])).unwrap(),
            NodeSpec::Nodes(vec!["n2".into()])
        );
        let e = NodeSpec::from_value("kill", &Value::kw("most")).unwrap_err();
        assert_eq!(
            e.to_string(),
            "bad value for kill: unknown node spec \"most\""
        );
        assert!(NodeSpec::from_value("kill", &Value::Int(1)).is_err());
    }

    #[test]
    fn role_scoped_specs_pick_within_the_role() {
        let roles: Roles = [(
            "controller".to_string(),
            vec!["n1".into(), "n2".into(), "n3".into()],
        )]
        .into();
        let ns = nodes(5);
        let mut rng = ChaCha8Rng::seed_from_u64(9);
        let spec = NodeSpec::by_name("role:controller:majority").unwrap();
        assert_eq!(
            spec,
            NodeSpec::InRole("controller".into(), Box::new(NodeSpec::Majority))
        );
        let spec = spec.resolve_roles(&roles).unwrap();
        for _ in 0..50 {
            let picked = spec.resolve(&ns, &[], &mut rng).unwrap();
            assert_eq!(picked.len(), 2, "{picked:?}");
            assert!(picked
                .iter()
                .all(|n| ["n1", "n2", "n3"].contains(&n.as_str())));
        }
        let one = NodeSpec::by_name("role:controller:nil")
            .unwrap()
            .resolve_roles(&roles)
            .unwrap();
        for _ in 0..50 {
            let picked = one.resolve(&ns, &[], &mut rng).unwrap();
            assert!((1..=3).contains(&picked.len()));
            assert!(picked
                .iter()
                .all(|n| ["n1", "n2", "n3"].contains(&n.as_str())));
        }
        // Primaries within a role: only the role's primaries.
        let p = NodeSpec::by_name("role:controller:primaries")
            .unwrap()
            .resolve_roles(&roles)
            .unwrap();
        let picked = p
            .resolve(&ns, &["n2".into(), "n5".into()], &mut rng)
            .unwrap();
        assert_eq!(picked, vec!["n2".to_string()]);
        assert!(NodeSpec::by_name("role:controller:most").is_none());
        assert!(NodeSpec::by_name("role:a:role:b").is_none());
        let e = NodeSpec::by_name("role:brokers:one")
            .unwrap()
            .resolve_roles(&roles)
            .unwrap_err();
        assert!(e.to_string().contains("unknown role \"brokers\""), "{e}");
    }

    #[test]
    fn sizes() {
        let mut rng = ChaCha8Rng::seed_from_u64(5);
        let ns = nodes(5);
        let len = |s: NodeSpec, rng: &mut ChaCha8Rng| s.resolve(&ns, &[], rng).unwrap().len();
        assert_eq!(len(NodeSpec::One, &mut rng), 1);
        assert_eq!(len(NodeSpec::Minority, &mut rng), 2);
        assert_eq!(len(NodeSpec::MinorityThird, &mut rng), 1);
        assert_eq!(len(NodeSpec::Majority, &mut rng), 3);
        assert_eq!(len(NodeSpec::All, &mut rng), 5);
        for _ in 0..50 {
            let k = len(NodeSpec::Random, &mut rng);
            assert!((1..=5).contains(&k), "{k}");
        }
        let p = NodeSpec::Primaries
            .resolve(&ns, &["n3".into()], &mut rng)
            .unwrap();
        assert_eq!(p, vec!["n3".to_string()]);
        let e = NodeSpec::Nodes(vec!["n9".into()])
            .resolve(&ns, &[], &mut rng)
            .unwrap_err();
        assert_eq!(e.to_string(), "unknown node \"n9\"");
    }
}
