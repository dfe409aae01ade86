//! `rift test --db kv`: a real system on the local cluster (or on SSH nodes), with faults.
//!
//! The local cluster is brought up before the first run and torn down after the last (also
//! when a run fails, panics or is interrupted), unless `--reuse-cluster` names one that `rift
//! cluster up` made, or `--leave-db-running` asks to keep it. With `--ssh` (or any of
//! `--username`, `--password`, `--ssh-private-key`) the nodes are real machines: the `rift`
//! binary is copied to each (it runs the rift-kv server) and faults go through SSH.

use crate::args::{bad, TestArgs};
use anyhow::Result;
use rift_control::{ClusterConfig, LocalCluster, Remote, SshConfig, SshRemote};
use rift_core::workload::{self, WorkloadOptions};
use rift_core::{RunOptions, Test};
use rift_kv::{KvClient, KvDb, KvWorkload, ReadMode};
use rift_nemesis::{LocalNemesis, PackageOptions};
use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, ToSocketAddrs};
use std::sync::Arc;
use std::time::Duration;

/// The workloads rift-kv serves.
pub const KV_WORKLOADS: &[&str] = &["register", "set"];

/// The workloads of the etcd suite.
pub const ETCD_WORKLOADS: &[&str] = &["register", "set", "append", "wr"];

/// Builds one run of `--db etcd` on the local cluster, or on SSH nodes (etcd installed on
/// each: `--bin` uploaded, `--archive` unpacked, or Debian's package with apt).
pub fn etcd_test(
    a: &TestArgs,
    tc: &TestCluster,
    concurrency: u32,
    seed: u64,
    o: &WorkloadOptions,
    opts: RunOptions,
) -> Result<Test> {
    let workload = rift_etcd::EtcdWorkload::parse(&o.workload).map_err(bad)?;
    let faults = rift_nemesis::parse_faults(&a.nemesis_or_default()).map_err(bad)?;
    if faults.contains("clock") && matches!(tc, TestCluster::Local(_)) {
        return Err(bad(
            "--nemesis clock: etcd is a static Go binary, which ignores libfaketime on the \
             local cluster; clock faults on etcd need SSH nodes",
        )
        .into());
    }
    if faults.contains("file") && matches!(tc, TestCluster::Ssh(_)) {
        return Err(bad("--nemesis file: only on the local cluster so far").into());
    }
    let mut eo = rift_etcd::EtcdTestOptions::new(workload);
    eo.rate_hz = o.rate_hz;
    eo.time_limit = o.time_limit;
    eo.concurrency = concurrency;
    eo.seed = seed;
    eo.faults = faults;
    eo.nemesis_interval_s = a.nemesis_interval;
    eo.recovery = Duration::from_secs_f64(a.recovery_time);
    eo.rotate_ns = a.nemesis_rotate.map(|secs| (secs * 1e9) as i64);
    eo.watchdog = a
        .watchdog
        .map(|s| rift_core::Watchdog::new(Duration::from_secs_f64(s)));
    eo.db.bin = a.bin.clone();
    eo.client.serializable_reads = a.serializable_reads;
    eo.db.archive = a.archive.clone();
    eo.run = opts;
    let to_err = |e: rift_etcd::EtcdError| anyhow::anyhow!("{e}");
    let (test, _db, _stats) = match tc {
        TestCluster::Local(l) => rift_etcd::etcd_test(l.cluster.clone(), &eo).map_err(to_err)?,
        TestCluster::Ssh(s) => {
            eo.db.install_on_nodes = true;
            let nodes = s.node_dirs();
            let remote: Arc<dyn Remote> = s.remote.clone();
            let db =
                rift_etcd::EtcdDb::new(remote.clone(), nodes, eo.db.clone()).map_err(to_err)?;
            let nemesis = LocalNemesis::over_remote(remote, s.addresses.clone(), seed);
            rift_etcd::etcd_test_with(Arc::new(db), tc.nodes(), nemesis, &eo).map_err(to_err)?
        }
    };
    Ok(test)
}

/// Where a `rift test` runs: the local cluster (torn down on drop when this run created it), or
/// SSH nodes.
pub enum TestCluster {
    /// Network namespaces on this machine.
    Local(LocalTestCluster),
    /// Real machines over SSH.
    Ssh(SshNodes),
}

/// The local cluster of a run.
pub struct LocalTestCluster {
    /// The cluster.
    pub cluster: Arc<LocalCluster>,
    owned: bool,
    keep: bool,
}

/// SSH nodes: the remote, each node's IPv4 address, and where rift is installed on them.
pub struct SshNodes {
    /// The connection.
    pub remote: Arc<SshRemote>,
    /// Node name to address (as the control machine resolves it).
    pub addresses: BTreeMap<String, Ipv4Addr>,
}

/// Where rift keeps its files on an SSH node (per node name, so that nodes sharing a file
/// system do not collide).
fn ssh_home(node: &str) -> String {
    format!("/var/lib/rift/{node}")
}

impl TestCluster {
    /// The local cluster for `nodes`, or SSH connections to them.
    pub fn start(a: &TestArgs, nodes: &[String]) -> Result<TestCluster> {
        if a.uses_ssh() {
            return SshNodes::connect(a, nodes).map(TestCluster::Ssh);
        }
        LocalTestCluster::start(a, nodes).map(TestCluster::Local)
    }

    /// The node names.
    pub fn nodes(&self) -> Vec<String> {
        match self {
            TestCluster::Local(l) => l.cluster.nodes(),
            TestCluster::Ssh(s) => s.addresses.keys().cloned().collect(),
        }
    }
}

impl SshNodes {
    /// Each node's address and directories under [`ssh_home`].
    pub fn node_dirs(&self) -> Vec<(String, rift_control::NodeDirs)> {
        self.addresses
            .iter()
            .map(|(n, a)| {
                (
                    n.clone(),
                    rift_control::NodeDirs::under(&ssh_home(n), IpAddr::V4(*a)),
                )
            })
            .collect()
    }

    /// Resolves the nodes, checks that each answers over SSH, and installs this `rift` binary
    /// on each (it runs the rift-kv server there).
    pub fn connect(a: &TestArgs, nodes: &[String]) -> Result<SshNodes> {
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
        Ok(SshNodes { remote, addresses })
    }
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
/// iptables) for network faults, libfaketime for clock faults. As root they are installed with
/// apt when missing; otherwise the error says exactly what to install.
fn ensure_host_tools(faults: &std::collections::BTreeSet<String>) -> Result<()> {
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
    pub fn start(a: &TestArgs, nodes: &[String]) -> Result<LocalTestCluster> {
        if rift_control::is_root() || a.reuse_cluster {
            let faults = rift_nemesis::parse_faults(&a.nemesis_or_default()).map_err(bad)?;
            ensure_host_tools(&faults)?;
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

/// Builds one run of `--db kv` on `tc`.
pub fn kv_test(
    a: &TestArgs,
    tc: &TestCluster,
    concurrency: u32,
    seed: u64,
    o: &WorkloadOptions,
    opts: RunOptions,
) -> Result<Test> {
    let kind = match o.workload.as_str() {
        "register" => KvWorkload::Register,
        "set" => KvWorkload::Set,
        other => {
            return Err(bad(format!(
                "--db kv serves the workloads {}; not {other:?}",
                KV_WORKLOADS.join(", ")
            ))
            .into())
        }
    };
    let reads = ReadMode::parse(&a.kv_reads).map_err(bad)?;
    let faults = rift_nemesis::parse_faults(&a.nemesis_or_default()).map_err(bad)?;
    let watchdog = a
        .watchdog
        .map(|s| rift_core::Watchdog::new(Duration::from_secs_f64(s)));
    let db = Arc::new(kv_db(tc, reads, &faults)?);
    let client = KvClient::new(db.client_addresses(), kind);
    let mut popts = PackageOptions::new(faults.clone(), tc.nodes());
    popts.interval_ns = (a.nemesis_interval * 1e9) as i64;
    popts.files = vec![format!("data/{}", rift_kv::LOG_FILE)];
    let packages = rift_nemesis::packages(&popts).map_err(bad)?;
    let rotate_ns = a.nemesis_rotate.map(|secs| (secs * 1e9) as i64);
    let recovery = Duration::from_secs_f64(a.recovery_time);
    let (phase, perf, nemesis): (_, _, Box<dyn rift_core::Nemesis>) =
        match rift_nemesis::test_phase(packages, rotate_ns, recovery) {
            None => (
                None,
                serde_json::Value::Null,
                Box::new(rift_core::NoopNemesis),
            ),
            Some((phase, perf)) => {
                let nem = match tc {
                    TestCluster::Local(l) => LocalNemesis::new(l.cluster.clone(), seed),
                    TestCluster::Ssh(s) => {
                        let remote: Arc<dyn Remote> = s.remote.clone();
                        LocalNemesis::over_remote(remote, s.addresses.clone(), seed)
                    }
                };
                let mut nem = nem.with_db(db.clone());
                if let Some(w) = &watchdog {
                    nem = nem.with_watchdog(w.clone());
                }
                (Some(phase), perf, Box::new(nem))
            }
        };
    let mut spec = workload::spec_json("kv", o);
    spec["kv-reads"] = reads.name().into();
    spec["nemesis"] = faults.iter().cloned().collect::<Vec<_>>().into();
    spec["nemesis-interval-s"] = a.nemesis_interval.into();
    if let Some(secs) = a.nemesis_rotate {
        spec["nemesis-rotate-s"] = secs.into();
    }
    let checker = workload::checker_for(&spec).map_err(bad)?;
    let generator =
        workload::generator_with_nemesis(&o.workload, o.rate_hz, o.time_limit, concurrency, phase)
            .map_err(bad)?;
    let nemesis_name = if faults.is_empty() {
        "none".to_string()
    } else {
        faults.iter().cloned().collect::<Vec<_>>().join("+")
    };
    Ok(Test {
        name: format!("kv-{}-{nemesis_name}", o.workload),
        nodes: tc.nodes(),
        concurrency,
        db,
        client: Box::new(client),
        nemesis,
        generator,
        checker,
        seed,
        opts,
        spec,
        perf,
        watchdog,
    })
}

/// rift-kv on the run's nodes: on the local cluster with this binary (under libfaketime when
/// clock faults run); on SSH nodes with the copy installed there (clock faults step the
/// machines' real clocks; file faults are local-cluster only).
fn kv_db(
    tc: &TestCluster,
    reads: ReadMode,
    faults: &std::collections::BTreeSet<String>,
) -> Result<KvDb> {
    let to_err = |e: rift_core::RiftError| anyhow::anyhow!("{e}");
    match tc {
        TestCluster::Local(l) => {
            let exe = std::env::current_exe()?;
            let server = vec![exe.display().to_string(), "kv-server".to_string()];
            let mut db =
                KvDb::on_local_cluster(l.cluster.clone(), server, reads).map_err(to_err)?;
            if faults.contains("clock") {
                // The servers run under libfaketime, so that the clock nemesis skews their
                // clocks (and only theirs: the host clock is never touched).
                rift_control::clock::require_faketime().map_err(bad)?;
                for node in l.cluster.nodes() {
                    let env = rift_control::clock::faketime_env(&l.cluster, &node)?;
                    db = db.with_env(&node, env);
                }
            }
            Ok(db)
        }
        TestCluster::Ssh(s) => {
            if faults.contains("file") {
                return Err(bad(
                    "--nemesis file: only on the local cluster so far, not on SSH nodes",
                )
                .into());
            }
            let nodes = s.node_dirs();
            // Every node runs its own copy; `{home}/rift kv-server ...`.
            let first = s.addresses.keys().next().cloned().unwrap_or_default();
            let server = vec![
                format!("{}/rift", ssh_home(&first)),
                "kv-server".to_string(),
            ];
            let remote: Arc<dyn Remote> = s.remote.clone();
            KvDb::new(remote, nodes, server, reads)
                .map(|db| db.with_node_servers(|n| format!("{}/rift", ssh_home(n))))
                .map_err(to_err)
        }
    }
}
