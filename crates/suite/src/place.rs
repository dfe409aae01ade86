//! Where a run's nodes are: the local cluster, or real machines over SSH.

use rift_control::{ControlError, LocalCluster, NodeDirs, Remote, SshRemote};
use rift_nemesis::LocalNemesis;
use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;

/// Where a run's nodes are.
///
/// The CLI makes one before the first run of `rift test` (bringing the local cluster up, or
/// connecting to the SSH nodes and installing `rift` on them) and hands it to every run's
/// [`crate::Suite::build`]; it also owns the cluster's lifetime (teardown), so a suite never
/// brings a cluster up or down.
pub enum Place {
    /// The local cluster (network namespaces on this machine).
    Local(Arc<LocalCluster>),
    /// Real machines over SSH.
    Ssh(SshPlace),
}

/// SSH nodes: the connection, and each node's IPv4 address.
pub struct SshPlace {
    /// The connection (exec, upload, download on every node).
    pub remote: Arc<SshRemote>,
    /// Node name to address, as the control machine resolves it. The nodes are this map's
    /// keys, in name order.
    pub addresses: BTreeMap<String, Ipv4Addr>,
}

/// Where rift keeps its files on an SSH node: `/var/lib/rift/{node}` (per node name, so that
/// nodes sharing a file system do not collide). The CLI installs the `rift` binary there as
/// `{ssh_home}/rift`; a node's data and log directories are under it ([`NodeDirs::under`]).
pub fn ssh_home(node: &str) -> String {
    format!("/var/lib/rift/{node}")
}

impl Place {
    /// The node names: the local cluster's, or the SSH nodes' in name order.
    pub fn nodes(&self) -> Vec<String> {
        match self {
            Place::Local(c) => c.nodes(),
            Place::Ssh(s) => s.addresses.keys().cloned().collect(),
        }
    }

    /// How to run commands on the nodes.
    pub fn remote(&self) -> Arc<dyn Remote> {
        match self {
            Place::Local(c) => c.clone(),
            Place::Ssh(s) => s.remote.clone(),
        }
    }

    /// Each node's address and directories: the local cluster's, or on SSH nodes those under
    /// [`ssh_home`].
    pub fn node_dirs(&self) -> Result<Vec<(String, NodeDirs)>, ControlError> {
        match self {
            Place::Local(c) => c.node_dirs(),
            Place::Ssh(s) => Ok(s
                .addresses
                .iter()
                .map(|(n, a)| (n.clone(), NodeDirs::under(&ssh_home(n), IpAddr::V4(*a))))
                .collect()),
        }
    }

    /// The local cluster, if the nodes are on it.
    pub fn local(&self) -> Option<&Arc<LocalCluster>> {
        match self {
            Place::Local(c) => Some(c),
            Place::Ssh(_) => None,
        }
    }

    /// The SSH nodes, if the nodes are real machines.
    pub fn ssh(&self) -> Option<&SshPlace> {
        match self {
            Place::Local(_) => None,
            Place::Ssh(s) => Some(s),
        }
    }

    /// A nemesis over these nodes, its random choices seeded with `seed` (the run's seed):
    /// [`LocalNemesis::new`] on the local cluster, [`LocalNemesis::over_remote`] on SSH nodes
    /// (give it the db with [`LocalNemesis::with_db`]: kill and pause go through it there).
    pub fn nemesis(&self, seed: u64) -> LocalNemesis {
        match self {
            Place::Local(c) => LocalNemesis::new(c.clone(), seed),
            Place::Ssh(s) => {
                let remote: Arc<dyn Remote> = s.remote.clone();
                LocalNemesis::over_remote(remote, s.addresses.clone(), seed)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ssh_homes_are_per_node() {
        assert_eq!(ssh_home("n1"), "/var/lib/rift/n1");
        let dirs = NodeDirs::under(&ssh_home("n2"), IpAddr::V4(Ipv4Addr::new(10, 0, 0, 2)));
        assert_eq!(dirs.data_dir.to_str(), Some("/var/lib/rift/n2/data"));
    }
}
