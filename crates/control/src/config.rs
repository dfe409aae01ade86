//! The local cluster's configuration and its state file.

use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::ControlError;
use crate::sys::write_atomic;

/// The default name prefix of everything a local cluster creates.
pub const DEFAULT_PREFIX: &str = "rift-";
/// The default root of the node directories and of the state file.
pub const DEFAULT_ROOT: &str = "/var/lib/rift/cluster";
/// The state file's name, under the root.
pub const STATE_FILE: &str = "cluster.json";
/// Linux limits interface names to 15 bytes.
const IFNAME_MAX: usize = 15;

/// How a local cluster finds the processes of a node.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Tracking {
    /// One cgroup v2 per node: kill with `cgroup.kill`, pause with `cgroup.freeze`.
    Cgroup,
    /// By network namespace (`ip netns pids`): kill and pause signal every pid.
    Netns,
}

/// What `LocalCluster::up` builds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterConfig {
    /// Node names, `n1..nN` by default.
    pub nodes: Vec<String>,
    /// The prefix of namespaces, links and /etc/netns dirs (`rift-`); the cgroup directory is
    /// the prefix without trailing `-` (`rift`).
    pub prefix: String,
    /// The first three octets of the /24 the nodes live in (`10.77.0`); the bridge takes `.1`
    /// and node `i` (1-based) takes `.10+i`.
    pub subnet: [u8; 3],
    /// The directory holding `cluster.json` and one `<node>/{data,log}` tree per node.
    pub root: PathBuf,
    /// Whether to try a cgroup v2 per node (falls back to [`Tracking::Netns`] when they fail).
    pub use_cgroups: bool,
}

impl ClusterConfig {
    /// `n` nodes named `n1..nN`, default prefix, subnet and root.
    pub fn new(n: usize) -> Self {
        ClusterConfig {
            nodes: (1..=n).map(|i| format!("n{i}")).collect(),
            prefix: DEFAULT_PREFIX.to_string(),
            subnet: [10, 77, 0],
            root: PathBuf::from(DEFAULT_ROOT),
            use_cgroups: true,
        }
    }

    /// Sets the prefix, and a subnet derived from it (`10.77.0` for `rift-`, another
    /// `10.77.N` otherwise) so that clusters with different prefixes do not share addresses.
    pub fn with_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self.subnet = subnet_for_prefix(&self.prefix);
        self
    }

    /// Sets the root directory.
    pub fn with_root(mut self, root: impl Into<PathBuf>) -> Self {
        self.root = root.into();
        self
    }

    /// Sets the subnet's first three octets.
    pub fn with_subnet(mut self, subnet: [u8; 3]) -> Self {
        self.subnet = subnet;
        self
    }

    /// Checks names against kernel limits and the address plan.
    pub fn validate(&self) -> Result<(), ControlError> {
        let bad = |m: String| Err(ControlError::InvalidConfig(m));
        if self.nodes.is_empty() {
            return bad("a cluster needs at least one node".into());
        }
        if self.nodes.len() > 240 {
            return bad(format!(
                "{} nodes do not fit in a /24 (max 240)",
                self.nodes.len()
            ));
        }
        let ok_char = |c: char| c.is_ascii_alphanumeric() || c == '-' || c == '_';
        if self.prefix.is_empty() || !self.prefix.chars().all(ok_char) {
            return bad(format!(
                "prefix {:?} must be non-empty [A-Za-z0-9_-]",
                self.prefix
            ));
        }
        let mut seen = std::collections::HashSet::new();
        for node in &self.nodes {
            if node.is_empty() || !node.chars().all(ok_char) || !seen.insert(node) {
                return bad(format!(
                    "node name {node:?} is empty, repeated or not [A-Za-z0-9_-]"
                ));
            }
            let link = format!("{}{node}", self.prefix);
            if link.len() > IFNAME_MAX {
                return bad(format!(
                    "link name {link:?} is longer than {IFNAME_MAX} bytes"
                ));
            }
        }
        if bridge_name(&self.prefix).len() > IFNAME_MAX {
            return bad(format!(
                "prefix {:?} is too long for a bridge name",
                self.prefix
            ));
        }
        Ok(())
    }

    /// The state this configuration produces, with the given tracking.
    pub(crate) fn state(&self, tracking: Tracking, cgroup_dir: Option<PathBuf>) -> ClusterState {
        let nodes = self
            .nodes
            .iter()
            .enumerate()
            .map(|(i, name)| NodeState {
                name: name.clone(),
                namespace: format!("{}{name}", self.prefix),
                veth: format!("{}{name}", self.prefix),
                address: node_address(self.subnet, i),
            })
            .collect();
        ClusterState {
            version: 1,
            prefix: self.prefix.clone(),
            root: self.root.clone(),
            subnet: self.subnet,
            bridge: bridge_name(&self.prefix),
            tracking,
            cgroup_dir,
            nodes,
            phase: Phase::Creating,
        }
    }
}

/// The bridge joining the nodes: `<prefix>br0`.
pub fn bridge_name(prefix: &str) -> String {
    format!("{prefix}br0")
}

/// The cgroup directory name for a prefix: the prefix without trailing `-`/`_`.
pub fn cgroup_dir_name(prefix: &str) -> String {
    let trimmed = prefix.trim_end_matches(['-', '_']);
    if trimmed.is_empty() {
        prefix.to_string()
    } else {
        trimmed.to_string()
    }
}

/// The address of the node at 0-based position `index`.
pub fn node_address(subnet: [u8; 3], index: usize) -> Ipv4Addr {
    Ipv4Addr::new(subnet[0], subnet[1], subnet[2], (11 + index).min(254) as u8)
}

/// `10.77.0` for the default prefix; otherwise `10.77.N` with N in 50..=249 from a hash.
pub fn subnet_for_prefix(prefix: &str) -> [u8; 3] {
    if prefix == DEFAULT_PREFIX {
        return [10, 77, 0];
    }
    // FNV-1a: stable across runs and Rust versions, unlike the std hasher.
    let mut h: u32 = 0x811c_9dc5;
    for b in prefix.bytes() {
        h = (h ^ u32::from(b)).wrapping_mul(0x0100_0193);
    }
    [10, 77, 50 + (h % 200) as u8]
}

/// Where a cluster is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Phase {
    /// `up` started; objects may be half-created.
    Creating,
    /// `up` finished.
    Up,
}

/// One node as the state file records it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeState {
    /// The node name (`n1`).
    pub name: String,
    /// Its network namespace (`rift-n1`).
    pub namespace: String,
    /// The host side of its veth pair (`rift-n1`); the node side is `eth0`.
    pub veth: String,
    /// Its address.
    pub address: Ipv4Addr,
}

/// Everything a cluster created, as written to `<root>/cluster.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClusterState {
    /// Format version (1).
    pub version: u32,
    /// The name prefix.
    pub prefix: String,
    /// The root directory.
    pub root: PathBuf,
    /// The subnet's first three octets.
    pub subnet: [u8; 3],
    /// The bridge name.
    pub bridge: String,
    /// How processes are tracked.
    pub tracking: Tracking,
    /// The cgroup directory holding one child per node, when tracking by cgroup.
    pub cgroup_dir: Option<PathBuf>,
    /// The nodes.
    pub nodes: Vec<NodeState>,
    /// Whether `up` finished.
    pub phase: Phase,
}

impl ClusterState {
    /// Reads `<root>/cluster.json`; `Ok(None)` when there is none.
    pub fn load(root: &Path) -> Result<Option<ClusterState>, ControlError> {
        let path = root.join(STATE_FILE);
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(ControlError::io(format!("reading {}", path.display()), e)),
        };
        serde_json::from_str(&text)
            .map(Some)
            .map_err(|e| ControlError::State {
                path,
                detail: e.to_string(),
            })
    }

    /// Writes `<root>/cluster.json` atomically.
    pub fn save(&self) -> Result<(), ControlError> {
        let path = self.root.join(STATE_FILE);
        let json = serde_json::to_vec_pretty(self).map_err(|e| ControlError::State {
            path: path.clone(),
            detail: e.to_string(),
        })?;
        write_atomic(&path, &json)
    }

    /// The node called `name`.
    pub fn node(&self, name: &str) -> Result<&NodeState, ControlError> {
        self.nodes
            .iter()
            .find(|n| n.name == name)
            .ok_or_else(|| ControlError::UnknownNode {
                node: name.to_string(),
                known: self
                    .nodes
                    .iter()
                    .map(|n| n.name.as_str())
                    .collect::<Vec<_>>()
                    .join(","),
            })
    }

    /// The `/etc/hosts` every node sees: localhost and all nodes by name.
    pub fn hosts_file(&self) -> String {
        let mut s =
            String::from("127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n");
        for n in &self.nodes {
            s.push_str(&format!("{}\t{}\n", n.address, n.name));
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults() {
        let c = ClusterConfig::new(3);
        assert_eq!(c.nodes, vec!["n1", "n2", "n3"]);
        assert_eq!(c.subnet, [10, 77, 0]);
        c.validate().unwrap();
        let s = c.state(Tracking::Cgroup, None);
        assert_eq!(s.nodes[0].namespace, "rift-n1");
        assert_eq!(s.nodes[2].address, Ipv4Addr::new(10, 77, 0, 13));
        assert_eq!(s.bridge, "rift-br0");
        assert_eq!(
            s.hosts_file(),
            "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n\
             10.77.0.11\tn1\n10.77.0.12\tn2\n10.77.0.13\tn3\n"
        );
    }

    #[test]
    fn prefixes() {
        assert_eq!(cgroup_dir_name("rift-"), "rift");
        assert_eq!(cgroup_dir_name("rt12a-"), "rt12a");
        let s = subnet_for_prefix("rt12a-");
        assert!(s[2] >= 50, "{s:?}");
        assert_eq!(s, subnet_for_prefix("rt12a-"));
        let bad = ClusterConfig::new(2).with_prefix("a-very-long-prefix-");
        assert!(matches!(
            bad.validate(),
            Err(ControlError::InvalidConfig(_))
        ));
        let bad = ClusterConfig::new(2).with_prefix("a b");
        assert!(matches!(
            bad.validate(),
            Err(ControlError::InvalidConfig(_))
        ));
        assert!(ClusterConfig::new(0).validate().is_err());
    }

    #[test]
    fn state_round_trips() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = ClusterConfig::new(2)
            .with_root(dir.path())
            .state(Tracking::Netns, None);
        assert_eq!(ClusterState::load(dir.path()).unwrap(), None);
        s.save().unwrap();
        s.phase = Phase::Up;
        s.save().unwrap();
        assert_eq!(ClusterState::load(dir.path()).unwrap(), Some(s.clone()));
        assert!(s.node("n9").is_err());
        assert_eq!(s.node("n2").unwrap().address, Ipv4Addr::new(10, 77, 0, 12));
    }
}
