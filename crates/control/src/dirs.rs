//! Where a node keeps a system's files, the same shape on the local cluster and on SSH
//! machines, so that a Db is written once for both.

use std::net::IpAddr;
use std::path::PathBuf;

use crate::error::ControlError;
use crate::local::LocalCluster;

/// One node's address and directories, as a Db sees them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodeDirs {
    /// The node's address (peers and clients connect to it).
    pub address: IpAddr,
    /// The system's data (wiped by the Db on setup and teardown).
    pub data_dir: PathBuf,
    /// Logs and pid files.
    pub log_dir: PathBuf,
}

impl NodeDirs {
    /// `<home>/data` and `<home>/log` on a machine at `address`.
    pub fn under(home: &str, address: IpAddr) -> NodeDirs {
        let home = home.trim_end_matches('/');
        NodeDirs {
            address,
            data_dir: PathBuf::from(format!("{home}/data")),
            log_dir: PathBuf::from(format!("{home}/log")),
        }
    }
}

impl LocalCluster {
    /// Every node's address and its `data`/`log` directories, in node order.
    pub fn node_dirs(&self) -> Result<Vec<(String, NodeDirs)>, ControlError> {
        self.nodes()
            .into_iter()
            .map(|n| {
                let dirs = NodeDirs {
                    address: IpAddr::V4(self.address(&n)?),
                    data_dir: self.data_dir(&n)?,
                    log_dir: self.log_dir(&n)?,
                };
                Ok((n, dirs))
            })
            .collect()
    }
}

/// Downloads `files` from `node` into the local directory `dest` (created), each under its
/// file name. Returns the files that could not be fetched, with why (a log that was never
/// written is not an error worth failing a test for).
pub async fn fetch_files(
    remote: &dyn crate::remote::Remote,
    node: &str,
    files: &[PathBuf],
    dest: &std::path::Path,
) -> Vec<String> {
    if let Err(e) = std::fs::create_dir_all(dest) {
        return vec![format!("{}: {e}", dest.display())];
    }
    let mut failures = Vec::new();
    for file in files {
        let Some(name) = file.file_name() else {
            continue;
        };
        let from = file.display().to_string();
        if let Err(e) = remote.download(node, &from, &dest.join(name)).await {
            failures.push(format!("{from}: {e}"));
        }
    }
    failures
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dirs_under_a_home() {
        let d = NodeDirs::under("/var/lib/rift/n1/", "10.0.0.1".parse().unwrap());
        assert_eq!(d.data_dir, PathBuf::from("/var/lib/rift/n1/data"));
        assert_eq!(d.log_dir, PathBuf::from("/var/lib/rift/n1/log"));
    }
}
