//! Where `rift test` runs a suite that needs nodes: the local cluster, or SSH nodes.
//!
//! The local cluster is brought up before the first run and torn down after the last (also
//! when a run fails, panics or is interrupted), unless `--reuse-cluster` names one that `rift
//! cluster up` made, or `--leave-db-running` asks to keep it. With `--ssh` (or any of
//! `--username`, `--password`, `--ssh-private-key`) the nodes are real machines: the `rift`
//! binary is copied to each (it runs the rift-kv server) and faults go through SSH. Either way
//! the suites get a [`Place`].

use crate::args::{bad, TestArgs};
use anyhow::Result;
use rift_control::{ClusterConfig, LocalCluster, Remote, SshConfig, SshRemote};
use rift_suite::{ssh_home, Place, SshPlace};
use std::collections::{BTreeMap, BTreeSet};
use std::net::{IpAddr, ToSocketAddrs};
use std::sync::Arc;

/// The place of a `rift test`, and the local cluster's lifetime when this run brought it up
/// (torn down on drop).
pub struct TestPlace {
    /// Where the nodes are, for the suites.
    pub place: Place,
    _local: Option<LocalTestCluster>,
}

impl TestPlace {
    /// The local cluster for `nodes`, or SSH connections to them. `fault_kinds` are the base
    /// kinds of every fault the runs will use (`partition`, `clock`...): the host tools they
    /// need are checked (and installed, as root) first.
    pub fn start(
        a: &TestArgs,
        nodes: &[String],
        fault_kinds: &BTreeSet<String>,
    ) -> Result<TestPlace> {
        if a.uses_ssh() {
            let ssh = connect_ssh(a, nodes)?;
            return Ok(TestPlace {
                place: Place::Ssh(ssh),
                _local: None,
            });
        }
        let local = LocalTestCluster::start(a, nodes, fault_kinds)?;
        Ok(TestPlace {
            place: Place::Local(local.cluster.clone()),
            _local: Some(local),
        })
    }
}

/// The local cluster of a run.
pub struct LocalTestCluster {
    /// The cluster.
    pub cluster: Arc<LocalCluster>,
    owned: bool,
    keep: bool,
}

/// Resolves the nodes, checks that each answers over SSH, and installs this `rift` binary on
/// each (at `{ssh_home}/rift`: it runs the rift-kv server there).
fn connect_ssh(a: &TestArgs, nodes: &[String]) -> Result<SshPlace> {
    let mut config = SshConfig {
        username: a.username.clone().unwrap_or_else(|| "root".into()),
        password: a.password.clone(),
        private_key: a.ssh_private_key.clone(),
        port: a.ssh_port,
        strict_host_key_checking: a.strict_host_key_checking,
        ..SshConfig::default()
    };
    config.sudo = config.username != "root";
    let mut addresses = BTreeMap::new();
    for node in nodes {
        let addr = (node.as_str(), a.ssh_port)
            .to_socket_addrs()
            .map_err(|e| bad(format!("--nodes: cannot resolve {node:?}: {e}")))?
            .find_map(|sa| match sa.ip() {
                IpAddr::V4(v4) => Some(v4),
                IpAddr::V6(_) => None,
            })
            .ok_or_else(|| bad(format!("--nodes: {node:?} has no IPv4 address")))?;
        addresses.insert(node.clone(), addr);
    }
    let remote = Arc::new(SshRemote::new(config)?);
    let exe = std::env::current_exe()?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let results = rt.block_on(rift_control::on_nodes(nodes, |node| {
        let remote = remote.clone();
        let exe = exe.clone();
        async move {
            let home = ssh_home(&node);
            let mkdir = rift_control::Cmd::new("mkdir").args(["-p", &home]);
            remote.exec(&node, &mkdir).await?;
            let bin = format!("{home}/rift");
            remote.upload(&node, &exe, &bin).await?;
            remote
                .exec(&node, &rift_control::Cmd::new("chmod").args(["755", &bin]))
                .await
                .map(|_| ())
        }
    }));
    for (node, r) in results {
        r.map_err(|e| anyhow::anyhow!("installing rift on {node}: {e}"))?;
    }
    eprintln!("rift installed on {} SSH nodes", nodes.len());
    Ok(SshPlace { remote, addresses })
}

/// Whether `program` runs here (`program <version_flag>`).
fn runs(program: &str, version_flag: &str) -> bool {
    std::process::Command::new(program)
        .arg(version_flag)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// The host tools a local-cluster run needs: `ip` (iproute2) always, `nft` (nftables, or
/// iptables) for network faults, libfaketime for clock faults; `faults` are base kinds (a
/// `kill-controller` is a `kill`: [`rift_nemesis::fault_kinds`]). As root they are installed with
/// apt when missing; otherwise the error says exactly what to install.
fn ensure_host_tools(faults: &BTreeSet<String>) -> Result<()> {
    let mut missing = Vec::new();
    if !runs("ip", "-V") {
        missing.push("iproute2");
    }
    let network = faults.contains("partition") || faults.contains("packet");
    if network && !runs("nft", "--version") && !runs("iptables", "--version") {
        missing.push("nftables");
    }
    if faults.contains("clock") && rift_control::clock::faketime_lib().is_none() {
        missing.push("libfaketime");
    }
    if missing.is_empty() {
        return Ok(());
    }
    let list = missing.join(" ");
    if !rift_control::is_root() {
        return Err(bad(format!(
            "the local cluster needs {list}: run `sudo apt-get install -y {list}` (and run rift as root)"
        ))
        .into());
    }
    eprintln!("installing {list} with apt-get");
    let ok = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!(
            "export DEBIAN_FRONTEND=noninteractive; apt-get install -y -q {list} >/dev/null 2>&1 || \
             {{ apt-get update -q >/dev/null 2>&1 && apt-get install -y -q {list}; }}"
        ))
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        return Err(anyhow::anyhow!(
            "`apt-get install -y {list}` failed; install it by hand"
        ));
    }
    Ok(())
}

impl LocalTestCluster {
    /// Brings up (or, with `--reuse-cluster`, opens) the local cluster for `nodes`.
    pub fn start(
        a: &TestArgs,
        nodes: &[String],
        fault_kinds: &BTreeSet<String>,
    ) -> Result<LocalTestCluster> {
        if rift_control::is_root() || a.reuse_cluster {
            ensure_host_tools(fault_kinds)?;
        }
        let at = &a.cluster_at();
        if a.reuse_cluster {
            let cluster = LocalCluster::open(&at.root).map_err(crate::cluster_error)?;
            if cluster.nodes() != nodes {
                return Err(bad(format!(
                    "--reuse-cluster: the cluster at {} has nodes {:?}, the test wants {:?}",
                    at.root.display(),
                    cluster.nodes(),
                    nodes
                ))
                .into());
            }
            eprintln!("using the local cluster at {}", at.root.display());
            return Ok(LocalTestCluster {
                cluster: Arc::new(cluster),
                owned: false,
                keep: true,
            });
        }
        let mut config = ClusterConfig::new(nodes.len())
            .with_prefix(at.prefix.clone())
            .with_root(at.root.clone());
        config.nodes = nodes.to_vec();
        let t = std::time::Instant::now();
        let cluster = LocalCluster::up(&config).map_err(|e| match e {
            rift_control::ControlError::AlreadyUp { .. } => bad(format!(
                "{e}\na local cluster is already up at {} (made by `rift cluster up`, or left by an \
                 interrupted test): pass --reuse-cluster to run on it, or remove it with \
                 `rift cluster down --root {} --prefix {}`",
                at.root.display(),
                at.root.display(),
                at.prefix
            ))
            .into(),
            other => crate::cluster_error(other),
        })?;
        eprintln!(
            "local cluster of {} nodes up in {} ms",
            nodes.len(),
            t.elapsed().as_millis()
        );
        Ok(LocalTestCluster {
            cluster: Arc::new(cluster),
            owned: true,
            keep: a.leave_db_running,
        })
    }
}

impl Drop for LocalTestCluster {
    fn drop(&mut self) {
        if !self.owned {
            return;
        }
        if self.keep {
            eprintln!(
                "leaving the local cluster up (--leave-db-running); remove it with `rift cluster down`"
            );
            return;
        }
        let s = self.cluster.state();
        match rift_control::teardown(&s.root, &s.prefix) {
            Ok(_) => eprintln!("local cluster torn down"),
            Err(e) => eprintln!(
                "rift: tearing the local cluster down failed: {e}; run `rift cluster down --root {} --prefix {}`",
                s.root.display(),
                s.prefix
            ),
        }
    }
}
