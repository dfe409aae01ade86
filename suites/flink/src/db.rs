//! The seed's standalone session cluster with ZooKeeper HA, one role per node:
//! ZooKeeper (`zookeeper`, three nodes), JobManagers (`jobmanager`: a leader and standbys
//! elected through ZooKeeper) and TaskManagers (`taskmanager`). Every process is a JVM that
//! rift starts itself (no Flink scripts: the class path, memory and options are rift's), in
//! the foreground of its pid file, so that kills and pauses hit exactly it.
//!
//! HA data and checkpoints live in `--ha-storage-dir`: on the local cluster a directory all
//! nodes share (they share this machine's file system), wiped before and after each run.
//! The seed keeps them on HDFS; see the README for why this suite does not run HDFS yet.

use async_trait::async_trait;
use rift_control::{DaemonSpec, NodeDirs, Remote};
use rift_core::{Db, PlugResult, RiftError, TestInfo};
use rift_suite::{Daemon, DaemonDb, Files, RoleDb};
use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// ZooKeeper's client port.
pub const ZK_PORT: u16 = 2181;
/// The REST port of every JobManager.
pub const REST_PORT: u16 = 8081;
/// The JobManager's RPC port.
pub const JM_RPC_PORT: u16 = 6123;
/// The TaskManager's RPC port (fixed, so that setup can wait for it).
pub const TM_RPC_PORT: u16 = 6122;

/// The JVM options Flink's own scripts give every process on Java 17 (module access its
/// serializers and RPC need).
pub const JAVA_OPENS: &[&str] = &[
    "--add-exports=java.rmi/sun.rmi.registry=ALL-UNNAMED",
    "--add-exports=java.security.jgss/sun.security.krb5=ALL-UNNAMED",
    "--add-opens=java.base/java.lang=ALL-UNNAMED",
    "--add-opens=java.base/java.net=ALL-UNNAMED",
    "--add-opens=java.base/java.io=ALL-UNNAMED",
    "--add-opens=java.base/java.nio=ALL-UNNAMED",
    "--add-opens=java.base/sun.nio.ch=ALL-UNNAMED",
    "--add-opens=java.base/java.lang.reflect=ALL-UNNAMED",
    "--add-opens=java.base/java.text=ALL-UNNAMED",
    "--add-opens=java.base/java.time=ALL-UNNAMED",
    "--add-opens=java.base/java.util=ALL-UNNAMED",
    "--add-opens=java.base/java.util.concurrent=ALL-UNNAMED",
    "--add-opens=java.base/java.util.concurrent.atomic=ALL-UNNAMED",
    "--add-opens=java.base/java.util.concurrent.locks=ALL-UNNAMED",
];

/// Flink's log4j2 configuration for rift: everything at INFO to standard output, which the
/// daemon's log file takes.
pub const LOG4J: &str = "rootLogger.level = INFO\n\
rootLogger.appenderRef.console.ref = ConsoleAppender\n\
logger.pekko.name = org.apache.pekko\nlogger.pekko.level = INFO\n\
logger.kafka.name = org.apache.kafka\nlogger.kafka.level = WARN\n\
logger.zookeeper.name = org.apache.zookeeper\nlogger.zookeeper.level = INFO\n\
logger.shaded_zookeeper.name = org.apache.flink.shaded.zookeeper3\nlogger.shaded_zookeeper.level = INFO\n\
appender.console.name = ConsoleAppender\nappender.console.type = CONSOLE\n\
appender.console.layout.type = PatternLayout\n\
appender.console.layout.pattern = %d{yyyy-MM-dd HH:mm:ss,SSS} %-5p %-60c %x - %m%n\n";

/// ZooKeeper's logback configuration: INFO to standard output.
pub const LOGBACK: &str = r#"<configuration>
  <appender name="OUT" class="ch.qos.logback.core.ConsoleAppender">
    <encoder><pattern>%d{ISO8601} [myid:%X{myid}] - %-5p [%t:%C{1}@%L] - %m%n</pattern></encoder>
  </appender>
  <root level="INFO"><appender-ref ref="OUT"/></root>
</configuration>
"#;

/// The configuration every Flink process shares, before the test spec's `:flink-config`.
/// Memory is small (the whole cluster fits in well under 6 GB) and fixed: the JVM flags
/// below are computed from it, so a spec may not change these keys.
pub fn base_config(zk_quorum: &str, ha_dir: &str) -> BTreeMap<String, String> {
    let kv = [
        ("high-availability.type", "zookeeper".to_string()),
        ("high-availability.zookeeper.quorum", zk_quorum.to_string()),
        ("high-availability.zookeeper.path.root", "/flink".into()),
        ("high-availability.cluster-id", "/rift".into()),
        ("high-availability.storageDir", format!("{ha_dir}/ha")),
        (
            "execution.checkpointing.dir",
            format!("{ha_dir}/checkpoints"),
        ),
        (
            "execution.checkpointing.savepoint-dir",
            format!("{ha_dir}/savepoints"),
        ),
        ("execution.checkpointing.num-retained", "2".into()),
        ("state.backend.type", "hashmap".into()),
        // The seed's: a TaskManager idle for 10 s is released, registration waits 30 s.
        ("slotmanager.taskmanager-timeout", "10000".into()),
        ("taskmanager.registration.timeout", "30 s".into()),
        ("state.backend.local-recovery", "false".into()),
        ("restart-strategy.type", "fixed-delay".into()),
        ("restart-strategy.fixed-delay.attempts", "2147483647".into()),
        ("restart-strategy.fixed-delay.delay", "2 s".into()),
        ("jobmanager.execution.failover-strategy", "region".into()),
        ("heartbeat.interval", "2000".into()),
        ("heartbeat.timeout", "10000".into()),
        ("jobmanager.rpc.port", JM_RPC_PORT.to_string()),
        ("rest.port", REST_PORT.to_string()),
        ("rest.bind-address", "0.0.0.0".into()),
        ("jobmanager.bind-host", "0.0.0.0".into()),
        ("blob.server.port", "6124".into()),
        ("taskmanager.rpc.port", TM_RPC_PORT.to_string()),
        ("taskmanager.data.port", "6121".into()),
        ("taskmanager.bind-host", "0.0.0.0".into()),
        ("taskmanager.numberOfTaskSlots", "2".into()),
        ("parallelism.default", "2".into()),
        ("web.submit.enable", "true".into()),
        // A standby's REST call waits for the leader this long (600 s by default: a poll
        // during a failover would hang for ten minutes instead of failing).
        ("web.timeout", "10000".into()),
        // ZooKeeper runs without SASL; without this Flink logs a JAAS error each connect.
        ("zookeeper.sasl.disable", "true".into()),
        ("jobmanager.memory.heap.size", "128m".into()),
        ("jobmanager.memory.off-heap.size", "64m".into()),
        ("jobmanager.memory.jvm-metaspace.size", "128m".into()),
        ("jobmanager.memory.jvm-overhead.min", "64m".into()),
        ("jobmanager.memory.jvm-overhead.max", "64m".into()),
        ("taskmanager.memory.framework.heap.size", "64m".into()),
        ("taskmanager.memory.task.heap.size", "96m".into()),
        ("taskmanager.memory.managed.size", "16m".into()),
        ("taskmanager.memory.framework.off-heap.size", "64m".into()),
        ("taskmanager.memory.task.off-heap.size", "0m".into()),
        ("taskmanager.memory.network.min", "32m".into()),
        ("taskmanager.memory.network.max", "32m".into()),
        ("taskmanager.memory.jvm-metaspace.size", "128m".into()),
        ("taskmanager.memory.jvm-overhead.min", "64m".into()),
        ("taskmanager.memory.jvm-overhead.max", "64m".into()),
    ];
    kv.into_iter().map(|(k, v)| (k.to_string(), v)).collect()
}

/// Keys a test spec's `:flink-config` may not set: the ones rift derives JVM flags,
/// addresses and ports from.
pub fn reserved_key(k: &str) -> bool {
    k.starts_with("jobmanager.memory.")
        || k.starts_with("taskmanager.memory.")
        || k.starts_with("high-availability.zookeeper.quorum")
        || matches!(
            k,
            "jobmanager.rpc.address"
                | "jobmanager.rpc.port"
                | "rest.port"
                | "rest.address"
                | "taskmanager.host"
                | "taskmanager.rpc.port"
        )
}

/// `config.yaml` text: one flat `key: value` per line (Flink 2 reads flattened keys), values
/// quoted.
pub fn render_config(c: &BTreeMap<String, String>) -> String {
    c.iter()
        .map(|(k, v)| format!("{k}: {}\n", serde_json::Value::String(v.clone())))
        .collect()
}

/// What all three roles share.
#[derive(Clone)]
pub struct Shared {
    /// Its class path.
    pub classpath: String,
    /// ZooKeeper's jars.
    pub zk_libs: PathBuf,
    /// The ZooKeeper nodes' addresses, in order (server ids 1..).
    pub zk: Vec<IpAddr>,
    /// The Flink configuration (base + the spec's).
    pub config: BTreeMap<String, String>,
    /// Extra environment per node (the wall-clock shim for clock faults).
    pub env: BTreeMap<String, Vec<(String, String)>>,
}

impl Shared {
    /// `host:2181,...`.
    pub fn zk_quorum(zk: &[IpAddr]) -> String {
        zk.iter()
            .map(|a| format!("{a}:{ZK_PORT}"))
            .collect::<Vec<_>>()
            .join(",")
    }

    fn env(&self, node: &str) -> Vec<(String, String)> {
        self.env.get(node).cloned().unwrap_or_default()
    }
}

/// A ZooKeeper server of the ensemble.
pub struct Zookeeper(pub Arc<Shared>);

impl Zookeeper {
    /// `zoo.cfg` for the server at `address`.
    pub fn zoo_cfg(&self, data: &str) -> String {
        let mut s = format!(
            "tickTime=500\ninitLimit=20\nsyncLimit=10\ndataDir={data}\nclientPort={ZK_PORT}\n\
             admin.enableServer=false\n4lw.commands.whitelist=ruok,srvr,stat,mntr\n"
        );
        for (i, a) in self.0.zk.iter().enumerate() {
            s.push_str(&format!("server.{}={a}:2888:3888\n", i + 1));
        }
        s
    }

    fn myid(&self, address: IpAddr) -> Option<usize> {
        self.0.zk.iter().position(|a| *a == address).map(|i| i + 1)
    }
}

#[async_trait]
impl Daemon for Zookeeper {
    fn what(&self) -> &str {
        "ZooKeeper"
    }
    fn name(&self) -> &str {
        "zookeeper"
    }
    fn port(&self) -> u16 {
        ZK_PORT
    }
    fn spec(&self, node: &str, _dirs: &NodeDirs, f: &Files) -> PlugResult<DaemonSpec> {
        Ok(DaemonSpec {
            bin: "java".into(),
            args: vec![
                "-Xms64m".into(),
                "-Xmx128m".into(),
                "-XX:+UseSerialGC".into(),
                format!("-Dlogback.configurationFile={}/logback.xml", f.data),
                "-Dzookeeper.jmx.log4j.disable=true".into(),
                "-cp".into(),
                format!("{}/*", self.0.zk_libs.display()),
                "org.apache.zookeeper.server.quorum.QuorumPeerMain".into(),
                format!("{}/zoo.cfg", f.data),
            ],
            pidfile: f.pid.clone(),
            logfile: f.log.clone(),
            chdir: Some(f.data.clone()),
            env: self.0.env(node),
        })
    }
    fn files(&self, node: &str, dirs: &NodeDirs, f: &Files) -> PlugResult<Vec<(String, Vec<u8>)>> {
        let id = self
            .myid(dirs.address)
            .ok_or_else(|| RiftError::new("config", format!("{node} is not a ZooKeeper node")))?;
        Ok(vec![
            (
                format!("{}/zoo.cfg", f.data),
                self.zoo_cfg(&f.data).into_bytes(),
            ),
            (format!("{}/myid", f.data), format!("{id}\n").into_bytes()),
            (
                format!("{}/logback.xml", f.data),
                LOGBACK.as_bytes().to_vec(),
            ),
        ])
    }
    fn archives(&self) -> Vec<(String, String)> {
        vec![("version-2".into(), "zookeeper-data.tar.bz2".into())]
    }
}

/// Which Flink process.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// `StandaloneSessionClusterEntrypoint` (the seed's "ClusterEntrypoint").
    JobManager,
    /// `TaskManagerRunner` (the seed's "TaskExecutorRunner").
    TaskManager,
}

/// A JobManager or TaskManager.
pub struct FlinkProcess {
    /// Which.
    pub kind: Kind,
    /// What every role shares.
    pub shared: Arc<Shared>,
}

impl FlinkProcess {
    /// The JVM flags that match [`base_config`]'s memory, and the dynamic properties Flink's
    /// scripts would compute from it.
    fn memory(&self) -> (Vec<&'static str>, Vec<&'static str>) {
        match self.kind {
            Kind::JobManager => (
                vec![
                    "-Xmx134217728",
                    "-Xms134217728",
                    "-XX:MaxMetaspaceSize=134217728",
                ],
                vec![
                    "jobmanager.memory.off-heap.size=67108864b",
                    "jobmanager.memory.jvm-overhead.min=67108864b",
                    "jobmanager.memory.jvm-metaspace.size=134217728b",
                    "jobmanager.memory.heap.size=134217728b",
                    "jobmanager.memory.jvm-overhead.max=67108864b",
                ],
            ),
            Kind::TaskManager => (
                vec![
                    "-Xmx167772160",
                    "-Xms167772160",
                    "-XX:MaxDirectMemorySize=100663296",
                    "-XX:MaxMetaspaceSize=134217728",
                ],
                vec![
                    "taskmanager.memory.network.min=33554432b",
                    "taskmanager.memory.network.max=33554432b",
                    "taskmanager.cpu.cores=2.0",
                    "taskmanager.memory.task.off-heap.size=0b",
                    "taskmanager.memory.jvm-metaspace.size=134217728b",
                    "external-resources=none",
                    "taskmanager.memory.jvm-overhead.min=67108864b",
                    "taskmanager.memory.jvm-overhead.max=67108864b",
                    "taskmanager.memory.framework.off-heap.size=67108864b",
                    "taskmanager.memory.framework.heap.size=67108864b",
                    "taskmanager.memory.managed.size=16777216b",
                    "taskmanager.memory.task.heap.size=100663296b",
                ],
            ),
        }
    }
}

#[async_trait]
impl Daemon for FlinkProcess {
    fn what(&self) -> &str {
        match self.kind {
            Kind::JobManager => "the Flink JobManager",
            Kind::TaskManager => "the Flink TaskManager",
        }
    }
    fn name(&self) -> &str {
        match self.kind {
            Kind::JobManager => "jobmanager",
            Kind::TaskManager => "taskmanager",
        }
    }
    fn port(&self) -> u16 {
        match self.kind {
            Kind::JobManager => REST_PORT,
            Kind::TaskManager => TM_RPC_PORT,
        }
    }
    fn spec(&self, node: &str, dirs: &NodeDirs, f: &Files) -> PlugResult<DaemonSpec> {
        let conf = format!("{}/conf", f.data);
        let (jvm, dynamic) = self.memory();
        let mut args: Vec<String> = jvm.iter().map(|s| s.to_string()).collect();
        args.extend(JAVA_OPENS.iter().map(|s| s.to_string()));
        args.push(format!(
            "-Dlog4j.configurationFile=file:{conf}/log4j-console.properties"
        ));
        args.push("-classpath".into());
        args.push(self.shared.classpath.clone());
        args.push(
            match self.kind {
                Kind::JobManager => {
                    "org.apache.flink.runtime.entrypoint.StandaloneSessionClusterEntrypoint"
                }
                Kind::TaskManager => "org.apache.flink.runtime.taskexecutor.TaskManagerRunner",
            }
            .into(),
        );
        args.push("--configDir".into());
        args.push(conf);
        let a = dirs.address;
        let mut props: Vec<String> = dynamic.iter().map(|s| s.to_string()).collect();
        props.push(format!("io.tmp.dirs={}/tmp", f.data));
        match self.kind {
            Kind::JobManager => {
                props.push(format!("jobmanager.rpc.address={a}"));
                props.push(format!("rest.address={a}"));
                props.push(format!("web.upload.dir={}/upload", f.data));
            }
            Kind::TaskManager => {
                props.push(format!("taskmanager.host={a}"));
                props.push(format!("taskmanager.resource-id={node}-{}", unique()));
            }
        }
        for p in props {
            args.push("-D".into());
            args.push(p);
        }
        Ok(DaemonSpec {
            bin: "java".into(),
            args,
            pidfile: f.pid.clone(),
            logfile: f.log.clone(),
            chdir: Some(f.data.clone()),
            env: self.shared.env(node),
        })
    }
    fn files(
        &self,
        _node: &str,
        _dirs: &NodeDirs,
        f: &Files,
    ) -> PlugResult<Vec<(String, Vec<u8>)>> {
        let conf = format!("{}/conf", f.data);
        Ok(vec![
            (
                format!("{conf}/config.yaml"),
                render_config(&self.shared.config).into_bytes(),
            ),
            (
                format!("{conf}/log4j-console.properties"),
                LOG4J.as_bytes().to_vec(),
            ),
            (format!("{}/tmp/.keep", f.data), Vec::new()),
            (format!("{}/upload/.keep", f.data), Vec::new()),
        ])
    }
}

/// A fresh suffix for a TaskManager's resource id: each start registers as a new
/// TaskManager, as a restarted process does under the seed's supervision.
fn unique() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    format!("{:x}", nanos & 0xffff_ffff)
}

/// The cluster: the role database, with the shared HA directory wiped when the first
/// ZooKeeper node is set up (before any JobManager starts: they are a later tier) and torn
/// down.
pub struct FlinkDb {
    /// The roles.
    pub roles: Arc<RoleDb>,
    /// The shared directory on the local cluster (None: the user's `--ha-storage-dir`).
    pub shared_dir: Option<PathBuf>,
    /// The node that wipes it.
    pub first: String,
    /// To run the wipe.
    pub remote: Arc<dyn Remote>,
}

impl FlinkDb {
    async fn wipe(&self, node: &str) -> PlugResult<()> {
        let Some(dir) = &self.shared_dir else {
            return Ok(());
        };
        let d = dir.display().to_string();
        let cmd = rift_control::Cmd::shell(format!(
            "rm -rf {q} && mkdir -p {q} && chmod 777 {q}",
            q = rift_control::shell_quote(&d)
        ));
        self.remote
            .exec(node, &cmd)
            .await
            .map_err(|e| RiftError::new("control", e.to_string()))?;
        Ok(())
    }
}

#[async_trait]
impl Db for FlinkDb {
    async fn setup(&self, t: &TestInfo, n: &str) -> PlugResult<()> {
        if n == self.first {
            self.wipe(n).await?;
        }
        self.roles.setup(t, n).await
    }
    async fn teardown(&self, t: &TestInfo, n: &str) -> PlugResult<()> {
        let r = self.roles.teardown(t, n).await;
        if n == self.first {
            self.wipe(n).await?;
        }
        r
    }
    async fn kill(&self, t: &TestInfo, n: &str) -> PlugResult<()> {
        self.roles.kill(t, n).await
    }
    async fn start(&self, t: &TestInfo, n: &str) -> PlugResult<()> {
        self.roles.start(t, n).await
    }
    async fn is_running(&self, t: &TestInfo, n: &str) -> PlugResult<bool> {
        self.roles.is_running(t, n).await
    }
    async fn pause(&self, t: &TestInfo, n: &str) -> PlugResult<()> {
        self.roles.pause(t, n).await
    }
    async fn resume(&self, t: &TestInfo, n: &str) -> PlugResult<()> {
        self.roles.resume(t, n).await
    }
    fn log_files(&self, t: &TestInfo, n: &str) -> Vec<PathBuf> {
        self.roles.log_files(t, n)
    }
    async fn fetch_logs(&self, t: &TestInfo, n: &str, dest: &Path) -> Vec<String> {
        self.roles.fetch_logs(t, n, dest).await
    }
}

/// A [`DaemonDb`] of `daemon` on `nodes`, with Flink's slower start allowed for.
pub fn daemon_db<D: Daemon>(
    remote: Arc<dyn Remote>,
    nodes: Vec<(String, NodeDirs)>,
    daemon: D,
) -> DaemonDb<D> {
    let mut db = DaemonDb::new(remote, nodes, daemon);
    db.setup_timeout = std::time::Duration::from_secs(120);
    db.start_grace = std::time::Duration::from_millis(500);
    db
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_is_flat_quoted_yaml_and_reserves_what_rift_derives() {
        let c = base_config("10.0.0.1:2181", "file:///tmp/x");
        let text = render_config(&c);
        assert!(text.contains("high-availability.type: \"zookeeper\"\n"));
        assert!(text.contains("high-availability.storageDir: \"file:///tmp/x/ha\"\n"));
        assert!(text.contains("taskmanager.registration.timeout: \"30 s\"\n"));
        assert!(reserved_key("taskmanager.memory.task.heap.size"));
        assert!(reserved_key("rest.port"));
        assert!(!reserved_key("jobmanager.execution.failover-strategy"));
    }

    #[test]
    fn zookeeper_servers_are_numbered_in_node_order() {
        let zk: Vec<IpAddr> = ["10.77.0.11", "10.77.0.12", "10.77.0.13"]
            .iter()
            .map(|a| a.parse().unwrap())
            .collect();
        assert_eq!(
            Shared::zk_quorum(&zk),
            "10.77.0.11:2181,10.77.0.12:2181,10.77.0.13:2181"
        );
        let shared = Arc::new(Shared {
            classpath: String::new(),
            zk_libs: "/zk".into(),
            zk: zk.clone(),
            config: BTreeMap::new(),
            env: BTreeMap::new(),
        });
        let z = Zookeeper(shared);
        let cfg = z.zoo_cfg("/d");
        assert!(cfg.contains("server.2=10.77.0.12:2888:3888\n"), "{cfg}");
        assert_eq!(z.myid(zk[2]), Some(3));
        assert_eq!(z.myid("10.0.0.9".parse().unwrap()), None);
    }
}
