//! The local cluster: network namespaces joined by a bridge, one cgroup per node.

use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::config::{
    bridge_name, cgroup_dir_name, ClusterConfig, ClusterState, NodeState, Phase, Tracking,
    STATE_FILE,
};
use crate::error::ControlError;
use crate::remote::Signal;
use crate::sys::{
    cgroup_pids, detect_cgroup2_root, effective_uid, ip_batch, ip_program, link_names, netns_list,
    netns_pids, run_checked, signal_pids, wait_until,
};

/// Where iproute2 keeps per-namespace files that `ip netns exec` bind-mounts over `/etc`.
const ETC_NETNS: &str = "/etc/netns";
/// How long kill and teardown wait for processes to disappear.
const KILL_WAIT_MS: u64 = 2000;

/// A cluster of network namespaces on this machine; see the crate documentation.
///
/// The methods that build, change or remove the cluster are synchronous (they run `ip` and
/// write cgroup files, taking milliseconds); [`crate::Remote`] methods are async.
#[derive(Debug, Clone)]
pub struct LocalCluster {
    pub(crate) state: ClusterState,
}

/// One node as [`LocalCluster::status`] sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeStatus {
    /// The node name.
    pub name: String,
    /// Its address.
    pub address: Ipv4Addr,
    /// Its network namespace.
    pub namespace: String,
    /// Whether the namespace exists.
    pub namespace_present: bool,
    /// The pids of its processes.
    pub pids: Vec<u32>,
    /// Whether its cgroup is frozen (always false when tracking by namespace).
    pub paused: bool,
}

/// The whole cluster as [`LocalCluster::status`] sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClusterStatus {
    /// The name prefix.
    pub prefix: String,
    /// The root directory.
    pub root: PathBuf,
    /// How processes are tracked.
    pub tracking: Tracking,
    /// Whether the bridge exists.
    pub bridge_present: bool,
    /// The nodes, in order.
    pub nodes: Vec<NodeStatus>,
}

/// What a teardown removed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DownReport {
    /// One line per removed object (`netns rift-n1`, `cgroup /sys/...`, `pid 123`...).
    pub removed: Vec<String>,
}

impl LocalCluster {
    /// Builds the cluster `config` describes. Needs root. Fails with
    /// [`ControlError::AlreadyUp`] when objects with the same prefix exist; on any other
    /// failure removes what it created before returning the error.
    pub fn up(config: &ClusterConfig) -> Result<LocalCluster, ControlError> {
        config.validate()?;
        require_root("building a local cluster")?;
        check_not_up(config)?;
        for node in &config.nodes {
            for sub in ["data", "log"] {
                let dir = config.root.join(node).join(sub);
                std::fs::create_dir_all(&dir)
                    .map_err(|e| ControlError::io(format!("creating {}", dir.display()), e))?;
            }
        }
        let (tracking, cgroup_dir) = if config.use_cgroups {
            match prepare_cgroups(config) {
                Some(dir) => (Tracking::Cgroup, Some(dir)),
                None => (Tracking::Netns, None),
            }
        } else {
            (Tracking::Netns, None)
        };
        let mut state = config.state(tracking, cgroup_dir);
        state.save()?;
        if let Err(e) = build(&state) {
            tracing::warn!(error = %e, "local cluster setup failed; tearing down");
            let _ = teardown(&config.root, &config.prefix);
            return Err(e);
        }
        state.phase = Phase::Up;
        state.save()?;
        tracing::info!(nodes = state.nodes.len(), prefix = %state.prefix, ?tracking, "local cluster up");
        Ok(LocalCluster { state })
    }

    /// Opens the cluster recorded in `<root>/cluster.json` (for example from another rift
    /// process).
    pub fn open(root: &Path) -> Result<LocalCluster, ControlError> {
        match ClusterState::load(root)? {
            Some(state) => Ok(LocalCluster { state }),
            None => Err(ControlError::State {
                path: root.join(STATE_FILE),
                detail: "not found: no cluster is up here".into(),
            }),
        }
    }

    /// Removes everything this cluster created (see [`teardown`]).
    pub fn down(&self) -> Result<DownReport, ControlError> {
        teardown(&self.state.root, &self.state.prefix)
    }

    /// The recorded state.
    pub fn state(&self) -> &ClusterState {
        &self.state
    }

    /// The node names, in order.
    pub fn nodes(&self) -> Vec<String> {
        self.state.nodes.iter().map(|n| n.name.clone()).collect()
    }

    /// How processes are tracked.
    pub fn tracking(&self) -> Tracking {
        self.state.tracking
    }

    /// The address of `node`.
    pub fn address(&self, node: &str) -> Result<Ipv4Addr, ControlError> {
        Ok(self.state.node(node)?.address)
    }

    /// The node's home: `<root>/<node>`; relative remote paths resolve here.
    pub fn node_dir(&self, node: &str) -> Result<PathBuf, ControlError> {
        Ok(self.state.root.join(&self.state.node(node)?.name))
    }

    /// `<root>/<node>/data`.
    pub fn data_dir(&self, node: &str) -> Result<PathBuf, ControlError> {
        Ok(self.node_dir(node)?.join("data"))
    }

    /// `<root>/<node>/log`.
    pub fn log_dir(&self, node: &str) -> Result<PathBuf, ControlError> {
        Ok(self.node_dir(node)?.join("log"))
    }

    /// The node's cgroup directory, when tracking by cgroup.
    pub fn cgroup_dir(&self, node: &str) -> Result<Option<PathBuf>, ControlError> {
        let n = self.state.node(node)?;
        Ok(self.state.cgroup_dir.as_ref().map(|d| d.join(&n.name)))
    }

    /// Pids of every process of `node`: its cgroup's, plus any other process in its namespace.
    pub fn node_pids(&self, node: &str) -> Result<Vec<u32>, ControlError> {
        let n = self.state.node(node)?;
        let mut pids = match self.cgroup_dir(node)? {
            Some(dir) => cgroup_pids(&dir),
            None => Vec::new(),
        };
        pids.extend(netns_pids(&n.namespace));
        pids.sort_unstable();
        pids.dedup();
        Ok(pids)
    }

    /// SIGKILLs every process of `node` and waits until they are gone; returns their pids.
    /// A paused node is unfrozen afterwards, so that processes started later run.
    pub fn kill_node(&self, node: &str) -> Result<Vec<u32>, ControlError> {
        let pids = self.node_pids(node)?;
        let ns = self.state.node(node)?.namespace.clone();
        if let Some(dir) = self.cgroup_dir(node)? {
            kill_cgroup(&dir);
            write_cgroup_file(&dir, "cgroup.freeze", "0")?;
        }
        signal_pids(&netns_pids(&ns), Signal::Kill);
        // Gone from the node, and each killed process finished exiting: a task leaves its
        // cgroup before it turns into a zombie, and until then it still looks alive to
        // `kill -0` (a daemon restarted in that window would think it is still running).
        let gone = wait_until(KILL_WAIT_MS, || {
            self.node_pids(node).map(|p| p.is_empty()).unwrap_or(true)
                && pids.iter().all(|&p| exited(p))
        });
        if !gone {
            return Err(ControlError::Timeout {
                node: node.to_string(),
                what: format!(
                    "processes to die after SIGKILL: {:?}",
                    self.node_pids(node)?
                ),
                timeout_ms: KILL_WAIT_MS,
            });
        }
        tracing::info!(node, ?pids, "killed node");
        Ok(pids)
    }

    /// Stops every process of `node` (cgroup freeze, or SIGSTOP of every pid). Commands run
    /// on a paused node block until it resumes (or their timeout).
    pub fn pause_node(&self, node: &str) -> Result<(), ControlError> {
        let ns = self.state.node(node)?.namespace.clone();
        match self.cgroup_dir(node)? {
            Some(dir) => {
                write_cgroup_file(&dir, "cgroup.freeze", "1")?;
                let inside = cgroup_pids(&dir);
                let outside: Vec<u32> = netns_pids(&ns)
                    .into_iter()
                    .filter(|p| !inside.contains(p))
                    .collect();
                signal_pids(&outside, Signal::Stop);
                if !wait_until(1000, || cgroup_frozen(&dir)) {
                    return Err(ControlError::Timeout {
                        node: node.to_string(),
                        what: "cgroup to report frozen".into(),
                        timeout_ms: 1000,
                    });
                }
            }
            None => signal_pids(&netns_pids(&ns), Signal::Stop),
        }
        tracing::info!(node, "paused node");
        Ok(())
    }

    /// Resumes every process of `node`.
    pub fn resume_node(&self, node: &str) -> Result<(), ControlError> {
        let ns = self.state.node(node)?.namespace.clone();
        if let Some(dir) = self.cgroup_dir(node)? {
            write_cgroup_file(&dir, "cgroup.freeze", "0")?;
        }
        signal_pids(&netns_pids(&ns), Signal::Cont);
        tracing::info!(node, "resumed node");
        Ok(())
    }

    /// What exists now: namespaces, bridge, processes.
    pub fn status(&self) -> ClusterStatus {
        let namespaces = netns_list();
        let links = link_names();
        let nodes = self
            .state
            .nodes
            .iter()
            .map(|n| {
                let cg = self.state.cgroup_dir.as_ref().map(|d| d.join(&n.name));
                NodeStatus {
                    name: n.name.clone(),
                    address: n.address,
                    namespace: n.namespace.clone(),
                    namespace_present: namespaces.contains(&n.namespace),
                    pids: self.node_pids(&n.name).unwrap_or_default(),
                    paused: cg.as_deref().is_some_and(cgroup_frozen),
                }
            })
            .collect();
        ClusterStatus {
            prefix: self.state.prefix.clone(),
            root: self.state.root.clone(),
            tracking: self.state.tracking,
            bridge_present: links.contains(&self.state.bridge),
            nodes,
        }
    }
}

/// Fails with [`ControlError::NeedsRoot`] unless the effective uid is 0.
pub fn require_root(action: &str) -> Result<(), ControlError> {
    if effective_uid() == Some(0) {
        Ok(())
    } else {
        Err(ControlError::NeedsRoot {
            action: action.to_string(),
        })
    }
}

/// Whether this process runs as root (the local cluster needs it).
pub fn is_root() -> bool {
    effective_uid() == Some(0)
}

fn check_not_up(config: &ClusterConfig) -> Result<(), ControlError> {
    let already = |what: String| {
        Err(ControlError::AlreadyUp {
            prefix: config.prefix.clone(),
            what,
        })
    };
    if config.root.join(STATE_FILE).exists() {
        return already(format!("{}", config.root.join(STATE_FILE).display()));
    }
    if let Some(ns) = netns_list()
        .into_iter()
        .find(|n| n.starts_with(&config.prefix))
    {
        return already(format!("network namespace {ns}"));
    }
    let bridge = bridge_name(&config.prefix);
    if link_names().contains(&bridge) {
        return already(format!("bridge {bridge}"));
    }
    Ok(())
}

/// Creates `<cgroup2>/<prefix>/<node>` for every node and checks `cgroup.freeze` exists;
/// `None` (after cleaning up) when anything fails.
fn prepare_cgroups(config: &ClusterConfig) -> Option<PathBuf> {
    let base = detect_cgroup2_root()?.join(cgroup_dir_name(&config.prefix));
    let made = (|| -> std::io::Result<bool> {
        std::fs::create_dir_all(&base)?;
        for node in &config.nodes {
            std::fs::create_dir_all(base.join(node))?;
        }
        Ok(base.join(&config.nodes[0]).join("cgroup.freeze").exists())
    })();
    match made {
        Ok(true) => Some(base),
        other => {
            tracing::warn!(?other, base = %base.display(), "cgroup v2 unusable; tracking by namespace");
            remove_cgroups(&base, &mut Vec::new(), &mut Vec::new());
            None
        }
    }
}

/// Creates the bridge, the namespaces, the veth pairs, addresses and hosts files.
fn build(state: &ClusterState) -> Result<(), ControlError> {
    let [a, b, c] = state.subnet;
    let br = &state.bridge;
    let mut host = vec![
        format!("link add {br} type bridge"),
        format!("addr add {a}.{b}.{c}.1/24 dev {br}"),
        format!("link set {br} up"),
    ];
    for n in &state.nodes {
        host.push(format!("netns add {}", n.namespace));
        host.push(format!(
            "link add {} type veth peer name eth0 netns {}",
            n.veth, n.namespace
        ));
        host.push(format!("link set {} master {br} up", n.veth));
    }
    ip_batch(None, &host)?;
    let mut hosts = state.hosts_file();
    // The nodes share this machine's host name (a network namespace keeps the UTS one):
    // resolve it inside them as Debian's /etc/hosts does (127.0.1.1), or programs that look
    // up their own host name (a JVM's InetAddress.getLocalHost: Flink, ZooKeeper) fail.
    if let Some(name) = machine_host_name(&state.nodes) {
        hosts.push_str(&format!("127.0.1.1\t{name}\n"));
    }
    for n in &state.nodes {
        ip_batch(
            Some(&n.namespace),
            &[
                "link set lo up".to_string(),
                format!("addr add {}/24 dev eth0", n.address),
                "link set eth0 up".to_string(),
            ],
        )?;
        let dir = Path::new(ETC_NETNS).join(&n.namespace);
        std::fs::create_dir_all(&dir)
            .and_then(|_| std::fs::write(dir.join("hosts"), &hosts))
            .map_err(|e| ControlError::io(format!("writing {}/hosts", dir.display()), e))?;
    }
    Ok(())
}

/// Removes everything a local cluster with this root and prefix created, whether or not `up`
/// finished and whether or not the state file survived: processes (cgroup and namespace),
/// cgroups, namespaces, links named `<prefix>*` (veths, bridge), `/etc/netns/<prefix>*`
/// directories and the state file. Node directories under the root stay (they hold data and
/// logs). Idempotent: with nothing left, it does nothing and succeeds. Tries every step and
/// reports everything that could not be removed in one [`ControlError::Teardown`].
pub fn teardown(root: &Path, prefix: &str) -> Result<DownReport, ControlError> {
    let state = ClusterState::load(root).ok().flatten();
    let prefix = state
        .as_ref()
        .map_or(prefix, |s| s.prefix.as_str())
        .to_string();
    let mut removed = Vec::new();
    let mut failures = Vec::new();
    let cgroup_base = state
        .as_ref()
        .and_then(|s| s.cgroup_dir.clone())
        .or_else(|| detect_cgroup2_root().map(|r| r.join(cgroup_dir_name(&prefix))));
    if let Some(base) = cgroup_base.filter(|b| b.exists()) {
        remove_cgroups(&base, &mut removed, &mut failures);
    }
    let mut namespaces: Vec<String> = netns_list()
        .into_iter()
        .filter(|n| n.starts_with(&prefix))
        .collect();
    if let Some(s) = &state {
        let present = netns_list();
        namespaces.extend(
            s.nodes
                .iter()
                .map(|n: &NodeState| n.namespace.clone())
                .filter(|ns| present.contains(ns)),
        );
    }
    namespaces.sort();
    namespaces.dedup();
    for ns in &namespaces {
        remove_namespace(ns, &mut removed, &mut failures);
    }
    for link in link_names().into_iter().filter(|l| l.starts_with(&prefix)) {
        match run_checked(&[ip_program(), "link", "del", &link], None) {
            Ok(_) => removed.push(format!("link {link}")),
            // Deleting one end of a veth pair deletes the other: gone is fine.
            Err(_) if !link_names().contains(&link) => {}
            Err(e) => failures.push(format!("link {link}: {e}")),
        }
    }
    remove_etc_netns(&prefix, &mut removed, &mut failures);
    let state_path = root.join(STATE_FILE);
    if state_path.exists() {
        match std::fs::remove_file(&state_path) {
            Ok(()) => removed.push(format!("state file {}", state_path.display())),
            Err(e) => failures.push(format!("state file {}: {e}", state_path.display())),
        }
    }
    if failures.is_empty() {
        tracing::info!(removed = removed.len(), %prefix, "local cluster down");
        Ok(DownReport { removed })
    } else {
        Err(ControlError::Teardown { failures })
    }
}

fn remove_namespace(ns: &str, removed: &mut Vec<String>, failures: &mut Vec<String>) {
    let pids = netns_pids(ns);
    if !pids.is_empty() {
        signal_pids(&pids, Signal::Cont);
        signal_pids(&pids, Signal::Kill);
        if !wait_until(KILL_WAIT_MS, || netns_pids(ns).is_empty()) {
            failures.push(format!(
                "netns {ns}: processes survive SIGKILL: {:?}",
                netns_pids(ns)
            ));
        }
        removed.extend(pids.iter().map(|p| format!("pid {p} (netns {ns})")));
    }
    match run_checked(&[ip_program(), "netns", "del", ns], None) {
        Ok(_) => removed.push(format!("netns {ns}")),
        Err(e) => failures.push(format!("netns {ns}: {e}")),
    }
}

fn remove_etc_netns(prefix: &str, removed: &mut Vec<String>, failures: &mut Vec<String>) {
    let Ok(entries) = std::fs::read_dir(ETC_NETNS) else {
        return;
    };
    for entry in entries.flatten() {
        if entry.file_name().to_string_lossy().starts_with(prefix) {
            let path = entry.path();
            match std::fs::remove_dir_all(&path) {
                Ok(()) => removed.push(format!("dir {}", path.display())),
                Err(e) => failures.push(format!("dir {}: {e}", path.display())),
            }
        }
    }
}

/// Kills the processes of every child cgroup of `base`, removes the children, then `base`.
fn remove_cgroups(base: &Path, removed: &mut Vec<String>, failures: &mut Vec<String>) {
    let children: Vec<PathBuf> = std::fs::read_dir(base)
        .map(|rd| {
            rd.flatten()
                .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
                .map(|e| e.path())
                .collect()
        })
        .unwrap_or_default();
    for dir in children.iter().chain(std::iter::once(&base.to_path_buf())) {
        let pids = cgroup_pids(dir);
        if !pids.is_empty() {
            kill_cgroup(dir);
            removed.extend(pids.iter().map(|p| format!("pid {p} (cgroup)")));
        }
        if !wait_until(KILL_WAIT_MS, || cgroup_pids(dir).is_empty()) {
            failures.push(format!(
                "cgroup {}: processes survive: {:?}",
                dir.display(),
                cgroup_pids(dir)
            ));
            continue;
        }
        // A killed process leaves cgroup.procs before the kernel has finished with it (a big
        // JVM takes a while): until `populated 0`, rmdir says EBUSY.
        wait_until(KILL_WAIT_MS, || !cgroup_populated(dir));
        let mut result = std::fs::remove_dir(dir);
        let deadline = std::time::Instant::now() + std::time::Duration::from_millis(KILL_WAIT_MS);
        while matches!(&result, Err(e) if e.raw_os_error() == Some(16))
            && std::time::Instant::now() < deadline
        {
            std::thread::sleep(std::time::Duration::from_millis(50));
            result = std::fs::remove_dir(dir);
        }
        match result {
            Ok(()) => removed.push(format!("cgroup {}", dir.display())),
            Err(e) => failures.push(format!("cgroup {}: {e}", dir.display())),
        }
    }
}

/// This machine's host name, unless it is empty, `localhost` or a node's name.
fn machine_host_name(nodes: &[crate::config::NodeState]) -> Option<String> {
    let name = std::fs::read_to_string("/proc/sys/kernel/hostname").ok()?;
    let name = name.trim();
    let taken = name.is_empty() || name == "localhost" || nodes.iter().any(|n| n.name == name);
    (!taken
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.'))
    .then(|| name.to_string())
}

/// Whether a cgroup (or a descendant) still has live processes (`populated 1` in
/// `cgroup.events`); a cgroup without that file counts as empty.
fn cgroup_populated(dir: &Path) -> bool {
    std::fs::read_to_string(dir.join("cgroup.events"))
        .map(|t| t.lines().any(|l| l.trim() == "populated 1"))
        .unwrap_or(false)
}

/// SIGKILLs every process in a cgroup: `cgroup.kill` when the kernel has it (5.14+), else
/// signals to every listed pid (after thawing, so that stopped processes die at once).
fn kill_cgroup(dir: &Path) {
    if write_cgroup_file(dir, "cgroup.kill", "1").is_err() {
        let _ = write_cgroup_file(dir, "cgroup.freeze", "0");
        signal_pids(&cgroup_pids(dir), Signal::Kill);
    }
    wait_until(KILL_WAIT_MS, || cgroup_pids(dir).is_empty());
}

fn write_cgroup_file(dir: &Path, file: &str, value: &str) -> Result<(), ControlError> {
    let path = dir.join(file);
    std::fs::write(&path, value)
        .map_err(|e| ControlError::io(format!("writing {value:?} to {}", path.display()), e))
}

fn cgroup_frozen(dir: &Path) -> bool {
    std::fs::read_to_string(dir.join("cgroup.events"))
        .map(|t| t.lines().any(|l| l.trim() == "frozen 1"))
        .unwrap_or(false)
}

/// True when `pid` no longer runs: gone from /proc, or a zombie waiting to be reaped.
fn exited(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        // The state letter follows the parenthesised command name.
        Ok(stat) => stat
            .rsplit(')')
            .next()
            .is_some_and(|rest| matches!(rest.trim_start().chars().next(), Some('Z' | 'X'))),
        Err(_) => true,
    }
}
