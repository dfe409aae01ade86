//! Apache Kafka (KRaft) as a rift [`Db`]: a JVM per node, controllers on the first three
//! nodes in combined mode, brokers on every node.
//!
//! **Topology.** On 5 nodes: n1..n3 run `process.roles=broker,controller` (a KRaft voter
//! and a broker in one JVM), n4 and n5 `process.roles=broker`. Combined rather than separate
//! controller processes because rift's faults act on nodes (a network namespace, a cgroup):
//! two processes in one namespace share an address, so no partition could cut a node's
//! controller from its own broker, and a kill of the node takes both anyway. One process per
//! node keeps every fault well defined: `kill-controller` kills a node whose broker dies with
//! its controller (as on a combined machine in production), `partition-broker-controller` cuts
//! the broker-only nodes from the controller nodes. Kafka's docs call combined mode fine for
//! small clusters, not for critical production: this suite tests Kafka's protocols, and the
//! quorum, fencing, ISR and transaction logic are the same.
//!
//! **Setup** on a node: kill what a previous run left, wipe the node's Kafka data, write
//! `server.properties` (and log4j2's configuration), format the storage with Kafka's own
//! storage tool (`kafka.tools.StorageTool format`, the run's cluster id, static voters), start
//! `java -cp 'libs/*' kafka.Kafka server.properties` as a daemon, and wait for the broker's
//! port. A node whose JVM dies or does not listen in time fails setup with its name and the
//! tail of its log. **Kill** is SIGKILL, **pause** SIGSTOP (the local cluster's nemesis uses
//! the node's cgroup instead); **start** after a kill runs the same command: Kafka recovers
//! from its log directories. Logs: `kafka.log` (the JVM's output) and `server.properties`.

use crate::dist::{self, Dist, Source};
use crate::KafkaError;
use async_trait::async_trait;
use rift_control::{
    await_tcp_port, daemon_running, output_tail, shell_quote, start_daemon, stop_daemon,
    write_file, Cmd, DaemonSpec, LocalCluster, NodeDirs, Remote, Signal,
};
use rift_core::{Db, PlugResult, RiftError, TestInfo};
use rift_nemesis::Roles;
use rift_suite::control_error as ctl;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// The port brokers serve clients (and each other) on.
pub const BROKER_PORT: u16 = 9092;
/// The port KRaft controllers talk on.
pub const CONTROLLER_PORT: u16 = 9093;
/// The JVM's output, in the node's log directory.
pub const LOG_FILE: &str = "kafka.log";
/// The daemon's pid file, in the node's log directory.
pub const PID_FILE: &str = "kafka.pid";
/// The server configuration, in the node's log directory (so it lands in the store).
pub const CONFIG_FILE: &str = "server.properties";
/// Kafka's data (log directories, metadata log) under the node's data directory.
pub const DATA_SUBDIR: &str = "kafka";
/// The role of nodes that run a KRaft controller.
pub const CONTROLLER: &str = "controller";
/// The role of nodes that run a broker.
pub const BROKER: &str = "broker";

/// How the suite installs and runs Kafka.
#[derive(Clone, Debug)]
pub struct KafkaDbOptions {
    /// Where Kafka comes from (`--version` from Maven Central, or `--archive`).
    pub source: Source,
    /// How many nodes (the first ones, in order) run a KRaft controller (3, or fewer nodes).
    pub controllers: usize,
    /// `default.replication.factor` and the internal topics' replication.
    pub replication_factor: u32,
    /// `min.insync.replicas` (broker default, and so every topic's).
    pub min_insync_replicas: u32,
    /// `unclean.leader.election.enable`: let an out-of-sync replica lead (a weakening).
    pub unclean_leader_election: bool,
    /// JVM heap per node, MiB.
    pub heap_mb: u32,
    /// How long setup waits for a node's broker port.
    pub setup_timeout: Duration,
    /// How long `start` (after a kill) watches the new JVM before it returns.
    pub start_grace: Duration,
    /// Extra `server.properties` lines, `key=value` (they come last and win).
    pub extra_config: Vec<(String, String)>,
    /// Install on each node through the remote (SSH machines): the jars (or the archive) are
    /// copied to every node instead of being used from this machine's cache.
    pub install_on_nodes: bool,
}

impl Default for KafkaDbOptions {
    fn default() -> KafkaDbOptions {
        KafkaDbOptions {
            source: Source::Maven(dist::DEFAULT_VERSION.to_string()),
            controllers: 3,
            replication_factor: 3,
            min_insync_replicas: 2,
            unclean_leader_election: false,
            heap_mb: 512,
            setup_timeout: Duration::from_secs(90),
            start_grace: Duration::from_millis(300),
            extra_config: Vec::new(),
            install_on_nodes: false,
        }
    }
}

/// Kafka on a cluster: node ids 1..n in node order; the first `controllers` are voters.
pub struct KafkaDb {
    remote: Arc<dyn Remote>,
    nodes: BTreeMap<String, NodeDirs>,
    order: Vec<String>,
    opts: KafkaDbOptions,
    cluster_id: String,
    env: BTreeMap<String, Vec<(String, String)>>,
    /// The distribution once fetched, or why fetching it failed (not tried again per node).
    dist: tokio::sync::Mutex<Option<Result<Dist, RiftError>>>,
    homes: tokio::sync::Mutex<BTreeMap<String, String>>,
}

impl KafkaDb {
    /// A db on `nodes` (names and directories, in order: the first ones are controllers).
    pub fn new(
        remote: Arc<dyn Remote>,
        nodes: Vec<(String, NodeDirs)>,
        opts: KafkaDbOptions,
        seed: u64,
    ) -> Result<KafkaDb, KafkaError> {
        if nodes.is_empty() {
            return Err(KafkaError::Config("Kafka needs at least one node".into()));
        }
        if opts.replication_factor as usize > nodes.len() {
            return Err(KafkaError::Config(format!(
                "--replication-factor {} needs at least that many nodes; there are {}",
                opts.replication_factor,
                nodes.len()
            )));
        }
        if opts.min_insync_replicas == 0 || opts.min_insync_replicas > opts.replication_factor {
            return Err(KafkaError::Config(format!(
                "--min-insync-replicas {} must be between 1 and the replication factor {}",
                opts.min_insync_replicas, opts.replication_factor
            )));
        }
        let order: Vec<String> = nodes.iter().map(|(n, _)| n.clone()).collect();
        Ok(KafkaDb {
            remote,
            nodes: nodes.into_iter().collect(),
            order,
            cluster_id: cluster_id(seed),
            opts,
            env: BTreeMap::new(),
            dist: tokio::sync::Mutex::new(None),
            homes: tokio::sync::Mutex::new(BTreeMap::new()),
        })
    }

    /// A db on every node of a local cluster.
    pub fn on_local_cluster(
        cluster: Arc<LocalCluster>,
        opts: KafkaDbOptions,
        seed: u64,
    ) -> Result<KafkaDb, KafkaError> {
        let nodes = cluster.node_dirs()?;
        KafkaDb::new(cluster, nodes, opts, seed)
    }

    /// Runs `node`'s JVMs with extra environment variables (rift's wall-clock shim for clock
    /// faults).
    pub fn with_env(mut self, node: &str, env: Vec<(String, String)>) -> KafkaDb {
        self.env.insert(node.to_string(), env);
        self
    }

    /// The run's KRaft cluster id (22 characters of base64url, as Kafka's `random-uuid`).
    pub fn cluster_id(&self) -> &str {
        &self.cluster_id
    }

    /// The nodes that run a controller.
    pub fn controllers(&self) -> Vec<String> {
        let n = self.opts.controllers.clamp(1, self.order.len());
        self.order[..n].to_vec()
    }

    /// The db's roles: `controller` (the voters) and `broker` (every node).
    pub fn roles(&self) -> Roles {
        roles_of(&self.order, self.opts.controllers)
    }

    /// Each node's bootstrap address, `ADDR:9092`.
    pub fn bootstrap(&self) -> BTreeMap<String, String> {
        self.nodes
            .iter()
            .map(|(n, d)| (n.clone(), format!("{}:{BROKER_PORT}", d.address)))
            .collect()
    }

    fn dirs(&self, node: &str) -> PlugResult<&NodeDirs> {
        self.nodes
            .get(node)
            .ok_or_else(|| RiftError::new("config", format!("Kafka has no node {node}")))
    }

    fn id(&self, node: &str) -> PlugResult<usize> {
        self.order
            .iter()
            .position(|n| n == node)
            .map(|i| i + 1)
            .ok_or_else(|| RiftError::new("config", format!("Kafka has no node {node}")))
    }

    fn log_path(&self, node: &str, file: &str) -> PlugResult<String> {
        Ok(self.dirs(node)?.log_dir.join(file).display().to_string())
    }

    fn data_dir(&self, node: &str) -> PlugResult<PathBuf> {
        Ok(self.dirs(node)?.data_dir.join(DATA_SUBDIR))
    }

    /// `node`'s `server.properties`.
    pub fn server_properties(&self, node: &str) -> PlugResult<String> {
        let address = self.dirs(node)?.address;
        let voters: Vec<String> = self
            .controllers()
            .iter()
            .map(|c| {
                let a = self.dirs(c)?.address;
                Ok(format!("{}@{a}:{CONTROLLER_PORT}", self.id(c)?))
            })
            .collect::<PlugResult<_>>()?;
        let controller = self.controllers().iter().any(|c| c == node);
        // Clients on every address (the node's, and loopback for rift's readiness probe);
        // the controller listener on the node's address, as the voters name it.
        let listeners = if controller {
            format!("PLAINTEXT://0.0.0.0:{BROKER_PORT},CONTROLLER://{address}:{CONTROLLER_PORT}")
        } else {
            format!("PLAINTEXT://0.0.0.0:{BROKER_PORT}")
        };
        let data = self.data_dir(node)?;
        let o = &self.opts;
        let internal_isr = o.min_insync_replicas.min(o.replication_factor);
        let mut lines = vec![
            format!(
                "process.roles={}",
                if controller {
                    "broker,controller"
                } else {
                    "broker"
                }
            ),
            format!("node.id={}", self.id(node)?),
            format!("controller.quorum.voters={}", voters.join(",")),
            "controller.listener.names=CONTROLLER".to_string(),
            format!("listeners={listeners}"),
            format!("advertised.listeners=PLAINTEXT://{address}:{BROKER_PORT}"),
            "listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT".to_string(),
            "inter.broker.listener.name=PLAINTEXT".to_string(),
            format!("log.dirs={}/logs", data.display()),
            format!("default.replication.factor={}", o.replication_factor),
            format!("min.insync.replicas={}", o.min_insync_replicas),
            format!("offsets.topic.replication.factor={}", o.replication_factor),
            "offsets.topic.num.partitions=10".to_string(),
            format!(
                "transaction.state.log.replication.factor={}",
                o.replication_factor
            ),
            format!("transaction.state.log.min.isr={internal_isr}"),
            "transaction.state.log.num.partitions=10".to_string(),
            format!(
                "unclean.leader.election.enable={}",
                o.unclean_leader_election
            ),
            "num.partitions=2".to_string(),
            "auto.create.topics.enable=true".to_string(),
            // As Jepsen's Kafka setup: quick group joins under test.
            "group.initial.rebalance.delay.ms=0".to_string(),
            "group.min.session.timeout.ms=1000".to_string(),
        ];
        lines.extend(o.extra_config.iter().map(|(k, v)| format!("{k}={v}")));
        Ok(lines.join("\n") + "\n")
    }

    fn jvm_args(&self, node: &str, dist_home: &str) -> PlugResult<Vec<String>> {
        let heap = self.opts.heap_mb;
        Ok(vec![
            format!("-Xms{}m", heap.min(256)),
            format!("-Xmx{heap}m"),
            "-XX:+UseG1GC".into(),
            "-XX:MaxGCPauseMillis=20".into(),
            "-XX:ParallelGCThreads=1".into(),
            "-XX:ConcGCThreads=1".into(),
            // Two cores for five JVMs: C1 only starts faster and is plenty for a test load.
            "-XX:TieredStopAtLevel=1".into(),
            "-XX:-UsePerfData".into(),
            "-Djava.awt.headless=true".into(),
            format!(
                "-Dlog4j2.configurationFile={}",
                self.log_path(node, "log4j2.properties")?
            ),
            "-cp".into(),
            format!("{dist_home}/libs/*"),
        ])
    }

    /// The daemon that runs `node`'s Kafka from the distribution at `dist_home`.
    pub fn daemon(&self, node: &str, dist_home: &str) -> PlugResult<DaemonSpec> {
        let mut args = self.jvm_args(node, dist_home)?;
        args.push("kafka.Kafka".into());
        args.push(self.log_path(node, CONFIG_FILE)?);
        Ok(DaemonSpec {
            bin: "java".into(),
            args,
            pidfile: self.log_path(node, PID_FILE)?,
            logfile: self.log_path(node, LOG_FILE)?,
            chdir: None,
            env: self.env.get(node).cloned().unwrap_or_default(),
        })
    }

    /// The distribution on this machine, fetched once (Java checked first).
    pub async fn dist(&self) -> PlugResult<Dist> {
        let mut guard = self.dist.lock().await;
        if let Some(d) = guard.as_ref() {
            return d.clone();
        }
        let source = self.opts.source.clone();
        let d = tokio::task::spawn_blocking(move || {
            dist::ensure_java()?;
            dist::fetch(&source)
        })
        .await
        .map_err(|e| RiftError::new("install", e.to_string()))
        .and_then(|r| r.map_err(install));
        *guard = Some(d.clone());
        d
    }

    /// Where `node` finds Kafka: this machine's cache on the local cluster; with
    /// `install_on_nodes`, a copy uploaded once to the node (and Java installed there).
    pub async fn home_on(&self, node: &str) -> PlugResult<String> {
        let d = self.dist().await?;
        if !self.opts.install_on_nodes {
            return Ok(d.home.display().to_string());
        }
        if let Some(h) = self.homes.lock().await.get(node) {
            return Ok(h.clone());
        }
        let base = self
            .dirs(node)?
            .data_dir
            .parent()
            .map(|p| p.display().to_string())
            .unwrap_or_else(|| "/var/lib/rift".into());
        let home = format!("{base}/kafka-{}", d.version);
        let tarball = std::env::temp_dir().join(format!("rift-kafka-{}.tar", d.version));
        if !tarball.is_file() {
            let status = std::process::Command::new("tar")
                .arg("-cf")
                .arg(&tarball)
                .arg("-C")
                .arg(&d.home)
                .arg("libs")
                .status()
                .map_err(|e| RiftError::new("install", format!("tar: {e}")))?;
            if !status.success() {
                return Err(RiftError::new("install", "tar of Kafka's libs failed"));
            }
        }
        let remote = &*self.remote;
        let jre = ["default-jre-headless".to_string()];
        let has_java = Cmd::shell("command -v java >/dev/null").allow_failure();
        if !remote.exec(node, &has_java).await.map_err(ctl)?.success() {
            rift_control::install_packages(remote, node, &jre)
                .await
                .map_err(ctl)?;
        }
        let staged = format!("{base}/kafka-libs.tar");
        remote.upload(node, &tarball, &staged).await.map_err(ctl)?;
        let unpack = Cmd::shell(format!(
            "rm -rf {h} && mkdir -p {h} && tar -xf {s} -C {h} && rm -f {s}",
            h = shell_quote(&home),
            s = shell_quote(&staged)
        ));
        remote.exec(node, &unpack).await.map_err(ctl)?;
        self.homes.lock().await.insert(node.into(), home.clone());
        Ok(home)
    }

    /// The last lines of `node`'s Kafka log (for errors).
    pub async fn log_tail(&self, node: &str) -> String {
        let Ok(path) = self.log_path(node, LOG_FILE) else {
            return String::new();
        };
        let cmd = Cmd::shell(format!("tail -n 25 {}", shell_quote(&path))).allow_failure();
        match self.remote.exec(node, &cmd).await {
            Ok(out) => output_tail(&out.stdout, 25, 6000),
            Err(e) => format!("(could not read {path}: {e})"),
        }
    }

    async fn failed_start(&self, node: &str, what: String) -> RiftError {
        let log = self.log_path(node, LOG_FILE).unwrap_or_default();
        RiftError::new(
            "start-failed",
            format!(
                "Kafka on {node} {what}; the tail of {log}:\n{}",
                self.log_tail(node).await
            ),
        )
    }

    async fn format_storage(&self, node: &str, home: &str) -> PlugResult<()> {
        let mut cmd = Cmd::new("java");
        cmd = cmd.args(self.jvm_args(node, home)?);
        cmd = cmd.args([
            "kafka.tools.StorageTool",
            "format",
            "-t",
            &self.cluster_id,
            "-c",
            &self.log_path(node, CONFIG_FILE)?,
        ]);
        let cmd = cmd.allow_failure().timeout(Duration::from_secs(120));
        let out = self.remote.exec(node, &cmd).await.map_err(ctl)?;
        if !out.success() {
            return Err(RiftError::new(
                "start-failed",
                format!(
                    "formatting Kafka's storage on {node} failed (exit {:?}):\n{}{}",
                    out.exit_code,
                    output_tail(&out.stdout, 15, 4000),
                    output_tail(&out.stderr, 15, 4000)
                ),
            ));
        }
        Ok(())
    }

    async fn wipe(&self, node: &str) -> PlugResult<()> {
        let dir = self.data_dir(node)?.display().to_string();
        self.remote
            .exec(node, &Cmd::new("rm").arg("-rf").arg(dir))
            .await
            .map_err(ctl)?;
        Ok(())
    }

    /// Sends `signal` to `node`'s JVM through its pid file (kill, pause, resume).
    async fn signal(&self, node: &str, signal: Signal) -> PlugResult<()> {
        let pidfile = self.log_path(node, PID_FILE)?;
        stop_daemon(&*self.remote, node, &pidfile, signal)
            .await
            .map_err(ctl)?;
        Ok(())
    }

    /// Starts `node`'s JVM unless its pid file names a live one.
    async fn launch(&self, node: &str) -> PlugResult<rift_control::DaemonStart> {
        let home = self.home_on(node).await?;
        start_daemon(&*self.remote, node, &self.daemon(node, &home)?)
            .await
            .map_err(ctl)
    }

    async fn start_and_wait(&self, node: &str, timeout: Duration) -> PlugResult<()> {
        self.launch(node).await?;
        let pidfile = self.log_path(node, PID_FILE)?;
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let step = Duration::from_secs(2);
            if await_tcp_port(&*self.remote, node, BROKER_PORT, step)
                .await
                .is_ok()
            {
                return Ok(());
            }
            if !daemon_running(&*self.remote, node, &pidfile)
                .await
                .map_err(ctl)?
            {
                return Err(self
                    .failed_start(node, "exited during start-up".into())
                    .await);
            }
            if tokio::time::Instant::now() >= deadline {
                let what = format!(
                    "did not listen on port {BROKER_PORT} within {} s",
                    timeout.as_secs()
                );
                return Err(self.failed_start(node, what).await);
            }
        }
    }
}

/// The roles of Kafka on `nodes` with `controllers` voters: `controller` -> the first
/// `controllers` nodes, `broker` -> every node.
pub fn roles_of(nodes: &[String], controllers: usize) -> Roles {
    let n = controllers.clamp(1, nodes.len().max(1)).min(nodes.len());
    let mut r = Roles::new();
    r.insert(CONTROLLER.to_string(), nodes[..n].to_vec());
    r.insert(BROKER.to_string(), nodes.to_vec());
    r
}

/// A KRaft cluster id from `seed` and the time: 16 bytes in unpadded base64url (22
/// characters), the shape `kafka-storage random-uuid` prints.
pub fn cluster_id(seed: u64) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0);
    let mut bytes = [0u8; 16];
    bytes[..8].copy_from_slice(&seed.to_be_bytes());
    bytes[8..].copy_from_slice(&(nanos ^ u64::from(std::process::id())).to_be_bytes());
    base64url(&bytes)
}

fn base64url(bytes: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        let chars = chunk.len() + 1;
        for i in 0..chars {
            out.push(A[((n >> (18 - 6 * i)) & 63) as usize] as char);
        }
    }
    out
}

fn install(e: KafkaError) -> RiftError {
    match e {
        KafkaError::Install(why) => RiftError::new("install", why),
        other => RiftError::new("install", other.to_string()),
    }
}

#[async_trait]
impl Db for KafkaDb {
    async fn setup(&self, test: &TestInfo, node: &str) -> PlugResult<()> {
        let home = self.home_on(node).await?;
        self.kill(test, node).await?;
        self.wipe(node).await?;
        let logs = self.dirs(node)?.log_dir.display().to_string();
        let r = &*self.remote;
        r.exec(node, &Cmd::new("mkdir").args(["-p", &logs]))
            .await
            .map_err(ctl)?;
        r.exec(
            node,
            &Cmd::new("rm").args(["-f", &self.log_path(node, LOG_FILE)?]),
        )
        .await
        .map_err(ctl)?;
        write_file(
            r,
            node,
            &self.log_path(node, CONFIG_FILE)?,
            self.server_properties(node)?.as_bytes(),
        )
        .await
        .map_err(ctl)?;
        write_file(
            r,
            node,
            &self.log_path(node, "log4j2.properties")?,
            dist::LOG4J2.as_bytes(),
        )
        .await
        .map_err(ctl)?;
        self.format_storage(node, &home).await?;
        self.start_and_wait(node, self.opts.setup_timeout).await
    }

    async fn teardown(&self, test: &TestInfo, node: &str) -> PlugResult<()> {
        self.resume(test, node).await?;
        self.kill(test, node).await?;
        self.wipe(node).await
    }

    async fn kill(&self, _test: &TestInfo, node: &str) -> PlugResult<()> {
        self.signal(node, Signal::Kill).await
    }

    /// Starts the JVM and returns once it has lived a moment (as Jepsen's `start!`, which
    /// does not wait for the broker either): a restarted broker recovers its logs and
    /// rejoins the quorum in its own time, and the nemesis starts nodes one after another
    /// within one op's timeout. A JVM that dies at once is an error with its log's tail.
    async fn start(&self, _test: &TestInfo, node: &str) -> PlugResult<()> {
        let t = std::time::Instant::now();
        let how = self.launch(node).await?;
        if let rift_control::DaemonStart::AlreadyRunning(_) = how {
            return Ok(());
        }
        tokio::time::sleep(self.opts.start_grace).await;
        tracing::info!(
            node,
            took_ms = t.elapsed().as_millis() as u64,
            "started Kafka"
        );
        let pidfile = self.log_path(node, PID_FILE)?;
        if !daemon_running(&*self.remote, node, &pidfile)
            .await
            .map_err(ctl)?
        {
            return Err(self.failed_start(node, "exited at start".into()).await);
        }
        Ok(())
    }

    async fn is_running(&self, _test: &TestInfo, node: &str) -> PlugResult<bool> {
        daemon_running(&*self.remote, node, &self.log_path(node, PID_FILE)?)
            .await
            .map_err(ctl)
    }

    async fn pause(&self, _test: &TestInfo, node: &str) -> PlugResult<()> {
        self.signal(node, Signal::Stop).await
    }

    async fn resume(&self, _test: &TestInfo, node: &str) -> PlugResult<()> {
        self.signal(node, Signal::Cont).await
    }

    fn log_files(&self, _test: &TestInfo, node: &str) -> Vec<PathBuf> {
        self.nodes
            .get(node)
            .map(|d| vec![d.log_dir.join(LOG_FILE), d.log_dir.join(CONFIG_FILE)])
            .unwrap_or_default()
    }

    async fn fetch_logs(&self, test: &TestInfo, node: &str, dest: &std::path::Path) -> Vec<String> {
        let files = self.log_files(test, node);
        rift_control::fetch_files(&*self.remote, node, &files, dest).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rift_control::testkit::NoRemote;
    use std::net::{IpAddr, Ipv4Addr};

    fn db(n: u8) -> KafkaDb {
        let nodes = rift_control::testkit::fake_node_dirs(n);
        KafkaDb::new(Arc::new(NoRemote), nodes, KafkaDbOptions::default(), 7).unwrap()
    }

    #[test]
    fn controllers_are_combined_on_the_first_three_nodes() {
        let db = db(5);
        assert_eq!(db.controllers(), ["n1", "n2", "n3"]);
        let p1 = db.server_properties("n1").unwrap();
        assert!(p1.contains("process.roles=broker,controller\n"), "{p1}");
        assert!(p1.contains("node.id=1\n"));
        assert!(p1.contains(
            "controller.quorum.voters=1@10.9.0.1:9093,2@10.9.0.2:9093,3@10.9.0.3:9093\n"
        ));
        assert!(p1.contains("\nlisteners=PLAINTEXT://0.0.0.0:9092,CONTROLLER://10.9.0.1:9093\n"));
        assert!(p1.contains("advertised.listeners=PLAINTEXT://10.9.0.1:9092\n"));
        assert!(p1.contains("min.insync.replicas=2\n"));
        assert!(p1.contains("unclean.leader.election.enable=false\n"));
        let p5 = db.server_properties("n5").unwrap();
        assert!(p5.contains("process.roles=broker\n"), "{p5}");
        assert!(p5.contains("node.id=5\n"));
        assert!(p5.contains("\nlisteners=PLAINTEXT://0.0.0.0:9092\n"));
        assert!(p5.contains("log.dirs=/r/n5/data/kafka/logs\n"));
        let roles = db.roles();
        assert_eq!(roles[CONTROLLER], ["n1", "n2", "n3"]);
        assert_eq!(roles[BROKER].len(), 5);
        assert_eq!(db.bootstrap()["n2"], "10.9.0.2:9092");
        assert!(db.server_properties("n9").is_err());
    }

    #[test]
    fn the_daemon_runs_kafka_with_its_config() {
        let d = db(3).daemon("n2", "/cache/kafka").unwrap();
        assert_eq!(d.bin, "java");
        assert!(d.args.contains(&"/cache/kafka/libs/*".to_string()));
        assert_eq!(d.args[d.args.len() - 2], "kafka.Kafka");
        assert_eq!(d.args[d.args.len() - 1], "/r/n2/log/server.properties");
        assert_eq!(d.pidfile, "/r/n2/log/kafka.pid");
        assert_eq!(d.logfile, "/r/n2/log/kafka.log");
    }

    #[test]
    fn cluster_ids_look_like_kafkas() {
        let id = cluster_id(1);
        assert_eq!(id.len(), 22, "{id}");
        assert!(id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'));
        assert_eq!(base64url(b"\xff\xff\xff"), "____");
        assert_eq!(base64url(b"Ma"), "TWE");
    }

    #[test]
    fn bad_replication_options_are_refused() {
        let nodes = vec![(
            "n1".to_string(),
            NodeDirs {
                address: IpAddr::V4(Ipv4Addr::LOCALHOST),
                data_dir: "/d".into(),
                log_dir: "/l".into(),
            },
        )];
        let e = KafkaDb::new(
            Arc::new(NoRemote),
            nodes.clone(),
            KafkaDbOptions::default(),
            0,
        )
        .err()
        .unwrap();
        assert!(
            e.to_string().contains("--replication-factor 3 needs"),
            "{e}"
        );
        let o = KafkaDbOptions {
            replication_factor: 1,
            min_insync_replicas: 2,
            ..KafkaDbOptions::default()
        };
        let e = KafkaDb::new(Arc::new(NoRemote), nodes, o, 0).err().unwrap();
        assert!(e.to_string().contains("--min-insync-replicas 2"), "{e}");
    }
}
