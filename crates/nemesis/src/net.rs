//! Network faults with nftables: partitions and packet loss, in our own `table inet rift`
//! inside each node's namespace; where `nft` is missing, iptables with our own chains
//! (`RIFT-INPUT`, `RIFT-OUTPUT`) instead.

use std::collections::{BTreeMap, BTreeSet};
use std::net::Ipv4Addr;
use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rift_control::{output_tail, Cmd, LocalCluster, Remote};
use tokio::io::AsyncWriteExt;
use tokio::process::Command;

use crate::error::NemesisError;
use crate::grudge::Grudge;

/// The nft table every rule of ours lives in (family `inet`), inside each node's namespace.
pub const TABLE: &str = "rift";
/// How long one `nft` run may take.
const NFT_TIMEOUT: Duration = Duration::from_secs(10);

/// What one node's table holds.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NodeRules {
    /// Addresses whose packets are dropped both ways (the node's grudge).
    pub drop_peers: BTreeSet<Ipv4Addr>,
    /// Percent (0-100) of outgoing non-loopback packets dropped at random.
    pub loss_percent: u8,
}

impl NodeRules {
    /// True when the node needs no table.
    pub fn is_empty(&self) -> bool {
        self.drop_peers.is_empty() && self.loss_percent == 0
    }
}

/// The `nft -f` script that makes a node's table hold exactly `rules`: it (re)creates
/// `table inet rift` atomically, or deletes it when `rules` is empty. Idempotent: the leading
/// `table inet rift` makes the delete succeed when the table does not exist yet.
pub fn render(rules: &NodeRules) -> String {
    let mut s = format!("table inet {TABLE}\ndelete table inet {TABLE}\n");
    if rules.is_empty() {
        return s;
    }
    let peers = rules
        .drop_peers
        .iter()
        .map(|a| a.to_string())
        .collect::<Vec<_>>()
        .join(", ");
    s.push_str(&format!("table inet {TABLE} {{\n"));
    s.push_str("\tchain input {\n\t\ttype filter hook input priority -10; policy accept;\n");
    if !peers.is_empty() {
        s.push_str(&format!("\t\tip saddr {{ {peers} }} drop\n"));
    }
    s.push_str("\t}\n");
    s.push_str("\tchain output {\n\t\ttype filter hook output priority -10; policy accept;\n");
    if !peers.is_empty() {
        s.push_str(&format!("\t\tip daddr {{ {peers} }} drop\n"));
    }
    // numgen's values are 0..=99, and nft rejects `< 100`: total loss is a plain drop.
    if rules.loss_percent >= 100 {
        s.push_str("\t\toifname != \"lo\" drop\n");
    } else if rules.loss_percent > 0 {
        s.push_str(&format!(
            "\t\toifname != \"lo\" numgen random mod 100 < {} drop\n",
            rules.loss_percent
        ));
    }
    s.push_str("\t}\n}\n");
    s
}

/// Fails with [`NemesisError::NftMissing`] unless `nft --version` runs.
pub async fn check_nft() -> Result<(), NemesisError> {
    if runs("nft").await {
        Ok(())
    } else {
        Err(NemesisError::NftMissing)
    }
}

async fn runs(program: &str) -> bool {
    Command::new(program)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .await
        .map(|s| s.success())
        .unwrap_or(false)
}

/// How the firewall writes its rules.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    /// `nft -f -`: our own `table inet rift`, rewritten atomically (the default).
    Nft,
    /// `iptables`: our own chains `RIFT-INPUT`/`RIFT-OUTPUT`, jumped to from the first rule
    /// of `INPUT`/`OUTPUT` (the fallback where `nft` is missing).
    Iptables,
}

/// The environment variable that forces a backend (`nft` or `iptables`).
pub const BACKEND_VAR: &str = "RIFT_FIREWALL";

/// The backend to use: `RIFT_FIREWALL` if set, else nft when it runs, else iptables when it
/// runs, else [`NemesisError::NftMissing`] (whose message says what to install).
pub async fn detect_backend() -> Result<Backend, NemesisError> {
    match std::env::var(BACKEND_VAR).as_deref() {
        Ok("nft") => return check_nft().await.map(|()| Backend::Nft),
        Ok("iptables") if runs("iptables").await => return Ok(Backend::Iptables),
        Ok("iptables") => return Err(NemesisError::NftMissing),
        Ok(other) if !other.is_empty() => {
            return Err(NemesisError::Unsupported {
                what: format!("{BACKEND_VAR}={other}"),
                why: "the firewall backends are nft and iptables".into(),
            })
        }
        _ => {}
    }
    if runs("nft").await {
        Ok(Backend::Nft)
    } else if runs("iptables").await {
        Ok(Backend::Iptables)
    } else {
        Err(NemesisError::NftMissing)
    }
}

/// The iptables chains of ours.
pub const IPTABLES_CHAINS: [(&str, &str); 2] = [("INPUT", "RIFT-INPUT"), ("OUTPUT", "RIFT-OUTPUT")];

/// The shell script that makes a node's iptables hold exactly `rules` in our chains: it removes
/// every jump to them and the chains themselves (errors ignored: they may not exist), then,
/// unless `rules` is empty, recreates the chains with `iptables-restore --noflush` (one
/// atomic commit) and jumps to them from the top of `INPUT`/`OUTPUT`. Nothing else is touched.
pub fn render_iptables(rules: &NodeRules) -> String {
    let mut s = String::from(
        "set -e
",
    );
    for (hook, chain) in IPTABLES_CHAINS {
        s.push_str(&format!(
            "while iptables -w -D {hook} -j {chain} 2>/dev/null; do :; done
             iptables -w -F {chain} 2>/dev/null || true
iptables -w -X {chain} 2>/dev/null || true
"
        ));
    }
    if rules.is_empty() {
        return s;
    }
    s.push_str(
        "iptables-restore -w --noflush <<'EOF'
*filter
:RIFT-INPUT - [0:0]
:RIFT-OUTPUT - [0:0]
",
    );
    for peer in &rules.drop_peers {
        s.push_str(&format!(
            "-A RIFT-INPUT -s {peer} -j DROP
"
        ));
        s.push_str(&format!(
            "-A RIFT-OUTPUT -d {peer} -j DROP
"
        ));
    }
    if rules.loss_percent >= 100 {
        s.push_str(
            "-A RIFT-OUTPUT ! -o lo -j DROP
",
        );
    } else if rules.loss_percent > 0 {
        s.push_str(&format!(
            "-A RIFT-OUTPUT ! -o lo -m statistic --mode random --probability {:.2} -j DROP
",
            f64::from(rules.loss_percent) / 100.0
        ));
    }
    s.push_str(
        "COMMIT
EOF
",
    );
    for (hook, chain) in IPTABLES_CHAINS {
        s.push_str(&format!(
            "iptables -w -I {hook} 1 -j {chain}
"
        ));
    }
    s
}

/// Runs `nft -f -` (or, for iptables, `sh -s`) with `script` inside namespace `ns` (not inside
/// the node's cgroup, so that a paused node can still be partitioned and healed).
async fn nft_in(node: &str, ns: &str, script: &str, backend: Backend) -> Result<(), NemesisError> {
    let program: &[&str] = match backend {
        Backend::Nft => &["nft", "-f", "-"],
        Backend::Iptables => &["sh", "-s"],
    };
    let mut child = Command::new("ip")
        .args(["netns", "exec", ns])
        .args(program)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| {
            if e.kind() == std::io::ErrorKind::NotFound {
                NemesisError::NftMissing
            } else {
                NemesisError::io(format!("starting {} in {ns}", program[0]), e)
            }
        })?;
    if let Some(mut stdin) = child.stdin.take() {
        let _ = stdin.write_all(script.as_bytes()).await;
        let _ = stdin.shutdown().await;
    }
    let out = tokio::time::timeout(NFT_TIMEOUT, child.wait_with_output())
        .await
        .map_err(|_| {
            NemesisError::Many(vec![format!("{node}: {} timed out after 10 s", program[0])])
        })?
        .map_err(|e| NemesisError::io(format!("running {} in {ns}", program[0]), e))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(NemesisError::Many(vec![format!(
            "{node}: {} exited {:?}: {}",
            program.join(" "),
            out.status.code(),
            output_tail(&out.stderr, 20, 4096).trim_end()
        )]))
    }
}

/// Where a firewall's rules go.
#[derive(Clone)]
enum Nodes {
    /// Each node's network namespace, entered directly (`ip netns exec`).
    Local(Arc<LocalCluster>),
    /// Each node through a [`Remote`] (SSH to real machines: nft runs as root there), with the
    /// addresses the nodes know each other by.
    Remote {
        remote: Arc<dyn Remote>,
        addresses: BTreeMap<String, Ipv4Addr>,
    },
}

/// Runs a rules script on `node` through `remote`.
async fn rules_over(
    remote: &dyn Remote,
    node: &str,
    script: String,
    backend: Backend,
) -> Result<(), NemesisError> {
    let cmd = match backend {
        Backend::Nft => Cmd::new("nft").args(["-f", "-"]),
        Backend::Iptables => Cmd::new("sh").arg("-s"),
    }
    .stdin(script.into_bytes())
    .timeout(NFT_TIMEOUT);
    remote
        .exec(node, &cmd)
        .await
        .map(|_| ())
        .map_err(|e| NemesisError::Many(vec![format!("{node}: {e}")]))
}

/// The firewall of a cluster: remembers each node's rules and rewrites a node's table as a
/// whole whenever they change, all nodes concurrently (one `nft -f -` per node).
pub struct Firewall {
    nodes: Nodes,
    rules: BTreeMap<String, NodeRules>,
    backend: Backend,
}

impl Firewall {
    /// A firewall of the local cluster with no rules (it does not touch the namespaces yet).
    pub fn new(cluster: Arc<LocalCluster>) -> Firewall {
        Firewall {
            nodes: Nodes::Local(cluster),
            rules: BTreeMap::new(),
            backend: Backend::Nft,
        }
    }

    /// A firewall of the nodes behind `remote` (real machines over SSH), which know each other
    /// by `addresses`.
    pub fn remote(remote: Arc<dyn Remote>, addresses: BTreeMap<String, Ipv4Addr>) -> Firewall {
        Firewall {
            nodes: Nodes::Remote { remote, addresses },
            rules: BTreeMap::new(),
            backend: Backend::Nft,
        }
    }

    /// The backend for SSH nodes: `RIFT_FIREWALL` if set, else nft when the first node has
    /// it, else iptables when it has that, else [`NemesisError::NftMissing`].
    pub async fn detect_remote(&self) -> Result<Backend, NemesisError> {
        let Nodes::Remote { remote, addresses } = &self.nodes else {
            return detect_backend().await;
        };
        match std::env::var(BACKEND_VAR).as_deref() {
            Ok("nft") => return Ok(Backend::Nft),
            Ok("iptables") => return Ok(Backend::Iptables),
            _ => {}
        }
        let Some(node) = addresses.keys().next() else {
            return Ok(Backend::Nft);
        };
        let cmd = Cmd::shell("command -v nft >/dev/null && echo nft || { command -v iptables >/dev/null && echo iptables; } || echo none");
        let out = remote
            .exec(node, &cmd)
            .await
            .map_err(|e| NemesisError::Many(vec![e.to_string()]))?;
        match out.stdout_str().trim() {
            "nft" => Ok(Backend::Nft),
            "iptables" => Ok(Backend::Iptables),
            _ => Err(NemesisError::NftMissing),
        }
    }

    /// Runs a shell `script` on `node` (in its namespace on the local cluster, outside its
    /// cgroup; through the remote otherwise) and returns its standard output.
    pub async fn shell(&self, node: &str, script: &str) -> Result<String, NemesisError> {
        match &self.nodes {
            Nodes::Local(c) => {
                let ns = c.state().node(node)?.namespace.clone();
                let mut child = Command::new("ip")
                    .args(["netns", "exec", &ns, "sh", "-s"])
                    .stdin(Stdio::piped())
                    .stdout(Stdio::piped())
                    .stderr(Stdio::piped())
                    .kill_on_drop(true)
                    .spawn()
                    .map_err(|e| NemesisError::io(format!("starting sh in {ns}"), e))?;
                if let Some(mut stdin) = child.stdin.take() {
                    let _ = stdin.write_all(script.as_bytes()).await;
                    let _ = stdin.shutdown().await;
                }
                let out = tokio::time::timeout(NFT_TIMEOUT, child.wait_with_output())
                    .await
                    .map_err(|_| NemesisError::Many(vec![format!("{node}: sh timed out")]))?
                    .map_err(|e| NemesisError::io(format!("running sh in {ns}"), e))?;
                Ok(String::from_utf8_lossy(&out.stdout).into_owned())
            }
            Nodes::Remote { remote, .. } => {
                let cmd = Cmd::new("sh")
                    .arg("-s")
                    .stdin(script.as_bytes().to_vec())
                    .timeout(NFT_TIMEOUT)
                    .allow_failure();
                let out = remote
                    .exec(node, &cmd)
                    .await
                    .map_err(|e| NemesisError::Many(vec![format!("{node}: {e}")]))?;
                Ok(out.stdout_str())
            }
        }
    }

    /// The nodes this firewall covers.
    pub fn node_names(&self) -> Vec<String> {
        match &self.nodes {
            Nodes::Local(c) => c.nodes(),
            Nodes::Remote { addresses, .. } => addresses.keys().cloned().collect(),
        }
    }

    /// Writes rules with `backend` from now on (see [`detect_backend`]).
    pub fn set_backend(&mut self, backend: Backend) {
        self.backend = backend;
    }

    /// The backend in use.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// The rules currently applied to `node`.
    pub fn rules(&self, node: &str) -> NodeRules {
        self.rules.get(node).cloned().unwrap_or_default()
    }

    /// Replaces the current partition with `grudge` (packet loss stays). Returns the time it
    /// took to apply.
    pub async fn partition(&mut self, grudge: &Grudge) -> Result<Duration, NemesisError> {
        let mut next = self.rules.clone();
        for node in self.node_names() {
            let mut peers = BTreeSet::new();
            for other in grudge.of(&node) {
                peers.insert(self.address(&other)?);
            }
            next.entry(node).or_default().drop_peers = peers;
        }
        if let Some(bad) = grudge.nodes().into_iter().find(|n| !next.contains_key(n)) {
            return Err(NemesisError::UnknownNode(bad));
        }
        self.apply(next).await
    }

    /// Removes every partition rule (packet loss stays).
    pub async fn heal_partition(&mut self) -> Result<Duration, NemesisError> {
        let mut next = self.rules.clone();
        next.values_mut().for_each(|r| r.drop_peers.clear());
        self.apply(next).await
    }

    /// Drops `percent` of the outgoing packets of `nodes` (others keep their loss setting).
    pub async fn start_loss(
        &mut self,
        nodes: &[String],
        percent: u8,
    ) -> Result<Duration, NemesisError> {
        let mut next = self.rules.clone();
        for node in nodes {
            self.address(node)?;
            next.entry(node.clone()).or_default().loss_percent = percent.min(100);
        }
        self.apply(next).await
    }

    /// Removes all packet loss (partitions stay).
    pub async fn stop_loss(&mut self) -> Result<Duration, NemesisError> {
        let mut next = self.rules.clone();
        next.values_mut().for_each(|r| r.loss_percent = 0);
        self.apply(next).await
    }

    /// Deletes our table in every namespace, whatever this firewall thinks is there.
    pub async fn heal_all(&mut self) -> Result<Duration, NemesisError> {
        self.rules.clear();
        let all = self
            .node_names()
            .into_iter()
            .map(|n| (n, NodeRules::default()))
            .collect();
        self.run(all).await
    }

    /// Whether `node`'s namespace holds `table inet rift` now (asks nft).
    pub async fn has_table(&self, node: &str) -> Result<bool, NemesisError> {
        let ns = match &self.nodes {
            Nodes::Local(c) => c.state().node(node)?.namespace.clone(),
            Nodes::Remote { remote, .. } => {
                let cmd = match self.backend {
                    Backend::Iptables => Cmd::shell(
                        "iptables -w -S RIFT-INPUT >/dev/null 2>&1 && echo yes || echo no",
                    ),
                    Backend::Nft => Cmd::shell(format!(
                        "nft list tables | grep -qx 'table inet {TABLE}' && echo yes || echo no"
                    )),
                };
                let out = remote
                    .exec(node, &cmd)
                    .await
                    .map_err(|e| NemesisError::Many(vec![e.to_string()]))?;
                return Ok(out.stdout_str().trim() == "yes");
            }
        };
        if self.backend == Backend::Iptables {
            let out = Command::new("ip")
                .args(["netns", "exec", &ns, "iptables", "-w", "-S", "RIFT-INPUT"])
                .output()
                .await
                .map_err(|e| NemesisError::io(format!("listing iptables chains in {ns}"), e))?;
            return Ok(out.status.success());
        }
        let out = Command::new("ip")
            .args(["netns", "exec", &ns, "nft", "list", "tables"])
            .output()
            .await
            .map_err(|e| NemesisError::io(format!("listing nft tables in {ns}"), e))?;
        let text = String::from_utf8_lossy(&out.stdout);
        Ok(text
            .lines()
            .any(|l| l.trim() == format!("table inet {TABLE}")))
    }

    fn address(&self, node: &str) -> Result<Ipv4Addr, NemesisError> {
        let unknown = || NemesisError::UnknownNode(node.to_string());
        match &self.nodes {
            Nodes::Local(c) => c.address(node).map_err(|_| unknown()),
            Nodes::Remote { addresses, .. } => addresses.get(node).copied().ok_or_else(unknown),
        }
    }

    /// Applies the nodes whose rules differ from the current ones; on success `next` becomes
    /// the current state.
    async fn apply(&mut self, next: BTreeMap<String, NodeRules>) -> Result<Duration, NemesisError> {
        let changed: BTreeMap<String, NodeRules> = next
            .iter()
            .filter(|(n, r)| self.rules.get(*n).cloned().unwrap_or_default() != **r)
            .map(|(n, r)| (n.clone(), r.clone()))
            .collect();
        let took = self.run(changed).await?;
        self.rules = next.into_iter().filter(|(_, r)| !r.is_empty()).collect();
        Ok(took)
    }

    /// Writes each node's table concurrently; every failure is reported.
    async fn run(&self, tables: BTreeMap<String, NodeRules>) -> Result<Duration, NemesisError> {
        let started = Instant::now();
        let mut set = tokio::task::JoinSet::new();
        for (node, rules) in tables {
            let backend = self.backend;
            let script = match backend {
                Backend::Nft => render(&rules),
                Backend::Iptables => render_iptables(&rules),
            };
            match &self.nodes {
                Nodes::Local(c) => {
                    let ns = c.state().node(&node)?.namespace.clone();
                    set.spawn(async move { nft_in(&node, &ns, &script, backend).await });
                }
                Nodes::Remote { remote, .. } => {
                    let remote = remote.clone();
                    set.spawn(async move { rules_over(&*remote, &node, script, backend).await });
                }
            }
        }
        let mut failures = Vec::new();
        while let Some(res) = set.join_next().await {
            match res {
                Ok(Ok(())) => {}
                Ok(Err(NemesisError::Many(v))) => failures.extend(v),
                Ok(Err(e)) => failures.push(e.to_string()),
                Err(e) => failures.push(format!("nft task: {e}")),
            }
        }
        if failures.is_empty() {
            Ok(started.elapsed())
        } else {
            failures.sort();
            Err(NemesisError::Many(failures))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iptables_scripts_touch_only_our_chains() {
        let heal = render_iptables(&NodeRules::default());
        assert!(
            heal.contains("iptables -w -D INPUT -j RIFT-INPUT"),
            "{heal}"
        );
        assert!(heal.contains("iptables -w -X RIFT-OUTPUT"), "{heal}");
        assert!(!heal.contains("iptables-restore"), "{heal}");
        let rules = NodeRules {
            drop_peers: ["10.77.0.12".parse().unwrap()].into_iter().collect(),
            loss_percent: 30,
        };
        let s = render_iptables(&rules);
        assert!(
            s.contains(
                "-A RIFT-INPUT -s 10.77.0.12 -j DROP\n-A RIFT-OUTPUT -d 10.77.0.12 -j DROP\n"
            ),
            "{s}"
        );
        assert!(s.contains("--probability 0.30 -j DROP"), "{s}");
        assert!(
            s.ends_with(
                "iptables -w -I INPUT 1 -j RIFT-INPUT\niptables -w -I OUTPUT 1 -j RIFT-OUTPUT\n"
            ),
            "{s}"
        );
        for line in s.lines() {
            // Never a flush or delete of a chain that is not ours.
            if line.contains(" -F ") || line.contains(" -X ") {
                assert!(line.contains("RIFT-"), "{line}");
            }
        }
    }

    #[test]
    fn render_empty_deletes() {
        assert_eq!(
            render(&NodeRules::default()),
            "table inet rift\ndelete table inet rift\n"
        );
    }

    #[test]
    fn render_partition_and_loss() {
        let rules = NodeRules {
            drop_peers: ["10.77.0.12", "10.77.0.11"]
                .iter()
                .map(|a| a.parse().unwrap())
                .collect(),
            loss_percent: 30,
        };
        assert_eq!(
            render(&rules),
            "table inet rift\ndelete table inet rift\ntable inet rift {\n\
             \tchain input {\n\t\ttype filter hook input priority -10; policy accept;\n\
             \t\tip saddr { 10.77.0.11, 10.77.0.12 } drop\n\t}\n\
             \tchain output {\n\t\ttype filter hook output priority -10; policy accept;\n\
             \t\tip daddr { 10.77.0.11, 10.77.0.12 } drop\n\
             \t\toifname != \"lo\" numgen random mod 100 < 30 drop\n\t}\n}\n"
        );
        let loss_only = NodeRules {
            loss_percent: 100,
            ..NodeRules::default()
        };
        let text = render(&loss_only);
        assert!(!text.contains("saddr"), "{text}");
        assert!(
            text.ends_with("\t\toifname != \"lo\" drop\n\t}\n}\n"),
            "{text}"
        );
        assert!(!text.contains("numgen"), "{text}");
    }
}
