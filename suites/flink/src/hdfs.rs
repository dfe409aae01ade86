//! HDFS, as the seed keeps Flink's HA data and checkpoints (`--hdfs`, or `:hadoop` in a test
//! spec's `:dbs`): one node of the `hdfs` role runs a NameNode and a DataNode (replication
//! 1), from Hadoop's jars on Maven Central. The seed's `fail-name-node-during-recovery`
//! stops the NameNode alone ([`HdfsDb::stop_name_node`]); node faults (kill, pause, partition)
//! hit both.

use crate::dist::HadoopDist;
use async_trait::async_trait;
use rift_control::{shell_quote, Cmd, DaemonSpec, NodeDirs, Remote};
use rift_core::{Db, PlugResult, RiftError, TestInfo};
use rift_suite::{Daemon, DaemonDb, Files};
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The NameNode's RPC port (`fs.defaultFS`).
pub const NAMENODE_PORT: u16 = 9000;
/// The DataNode's data transfer port.
pub const DATANODE_PORT: u16 = 9866;

/// Hadoop's log4j (1.x syntax, which Hadoop 3.4's reload4j reads): INFO to standard error,
/// which the daemon's log file takes.
pub const LOG4J: &str = "log4j.rootLogger=INFO,console\n\
log4j.appender.console=org.apache.log4j.ConsoleAppender\n\
log4j.appender.console.target=System.err\n\
log4j.appender.console.layout=org.apache.log4j.PatternLayout\n\
log4j.appender.console.layout.ConversionPattern=%d{ISO8601} %p %c{2}: %m%n\n\
log4j.logger.org.apache.hadoop.util.NativeCodeLoader=ERROR\n";

fn property(out: &mut String, name: &str, value: &str) {
    out.push_str(&format!(
        "  <property><name>{name}</name><value>{value}</value></property>\n"
    ));
}

/// `core-site.xml`: the NameNode at `address`; clients give up on a NameNode that is down
/// after 3 connection attempts 500 ms apart, so that its failure shows quickly.
pub fn core_site(address: IpAddr, tmp: &str) -> String {
    let mut s = String::from("<?xml version=\"1.0\"?>\n<configuration>\n");
    property(
        &mut s,
        "fs.defaultFS",
        &format!("hdfs://{address}:{NAMENODE_PORT}"),
    );
    property(&mut s, "hadoop.tmp.dir", tmp);
    property(&mut s, "ipc.client.connect.max.retries", "3");
    property(&mut s, "ipc.client.connect.retry.interval", "500");
    s.push_str("</configuration>\n");
    s
}

/// `hdfs-site.xml`: the name and data directories, every port bound on all addresses,
/// replication 1, no permissions, a DataNode seen dead after 20 s, safe mode left once the
/// DataNode has reported its blocks.
pub fn hdfs_site(address: IpAddr, name_dir: &str, data_dir: &str) -> String {
    let mut s = String::from("<?xml version=\"1.0\"?>\n<configuration>\n");
    for (k, v) in [
        ("dfs.namenode.name.dir", format!("file://{name_dir}")),
        ("dfs.datanode.data.dir", format!("file://{data_dir}")),
        (
            "dfs.namenode.rpc-address",
            format!("{address}:{NAMENODE_PORT}"),
        ),
        ("dfs.namenode.rpc-bind-host", "0.0.0.0".into()),
        ("dfs.namenode.http-address", "0.0.0.0:9870".into()),
        ("dfs.datanode.address", format!("0.0.0.0:{DATANODE_PORT}")),
        ("dfs.datanode.http.address", "0.0.0.0:9864".into()),
        ("dfs.datanode.ipc.address", "0.0.0.0:9867".into()),
        ("dfs.replication", "1".into()),
        ("dfs.permissions.enabled", "false".into()),
        ("dfs.namenode.safemode.threshold-pct", "0.999".into()),
        ("dfs.namenode.safemode.extension", "0".into()),
        ("dfs.namenode.safemode.min.datanodes", "0".into()),
        (
            "dfs.namenode.datanode.registration.ip-hostname-check",
            "false".into(),
        ),
        ("dfs.heartbeat.interval", "1".into()),
        ("dfs.namenode.heartbeat.recheck-interval", "5000".into()),
        ("dfs.namenode.stale.datanode.interval", "10000".into()),
        (
            "dfs.client.block.write.replace-datanode-on-failure.enable",
            "false".into(),
        ),
    ] {
        property(&mut s, k, &v);
    }
    s.push_str("</configuration>\n");
    s
}

/// Which HDFS daemon.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// `org.apache.hadoop.hdfs.server.namenode.NameNode`.
    NameNode,
    /// `org.apache.hadoop.hdfs.server.datanode.DataNode`.
    DataNode,
}

/// One HDFS daemon. Both write the same configuration into their own `conf/`.
pub struct HdfsDaemon {
    /// Which.
    pub role: Role,
    /// Hadoop's jars.
    pub hadoop: Arc<HadoopDist>,
    /// Extra environment per node (the wall-clock shim).
    pub env: std::collections::BTreeMap<String, Vec<(String, String)>>,
}

impl HdfsDaemon {
    fn classpath(&self, f: &Files) -> String {
        format!("{}/conf:{}", f.data, self.hadoop.server_classpath)
    }

    /// The name directory (under the NameNode's data) and the data directory (the
    /// DataNode's), from either daemon's files on the node.
    fn dirs_on(dirs: &NodeDirs) -> (String, String) {
        (
            format!("{}/name", Files::of(dirs, "namenode").data),
            format!("{}/blocks", Files::of(dirs, "datanode").data),
        )
    }
}

#[async_trait]
impl Daemon for HdfsDaemon {
    fn what(&self) -> &str {
        match self.role {
            Role::NameNode => "the HDFS NameNode",
            Role::DataNode => "the HDFS DataNode",
        }
    }
    fn name(&self) -> &str {
        match self.role {
            Role::NameNode => "namenode",
            Role::DataNode => "datanode",
        }
    }
    fn port(&self) -> u16 {
        match self.role {
            Role::NameNode => NAMENODE_PORT,
            Role::DataNode => DATANODE_PORT,
        }
    }
    fn spec(&self, node: &str, _dirs: &NodeDirs, f: &Files) -> PlugResult<DaemonSpec> {
        let main = match self.role {
            Role::NameNode => "org.apache.hadoop.hdfs.server.namenode.NameNode",
            Role::DataNode => "org.apache.hadoop.hdfs.server.datanode.DataNode",
        };
        let mut env = vec![("HADOOP_USER_NAME".to_string(), "root".to_string())];
        env.extend(self.env.get(node).cloned().unwrap_or_default());
        Ok(DaemonSpec {
            bin: "java".into(),
            args: vec![
                "-Xmx256m".into(),
                "-XX:+UseSerialGC".into(),
                "-cp".into(),
                self.classpath(f),
                main.into(),
            ],
            pidfile: f.pid.clone(),
            logfile: f.log.clone(),
            chdir: Some(f.data.clone()),
            env,
        })
    }
    fn files(&self, _node: &str, dirs: &NodeDirs, f: &Files) -> PlugResult<Vec<(String, Vec<u8>)>> {
        let (name, data) = HdfsDaemon::dirs_on(dirs);
        let conf = format!("{}/conf", f.data);
        Ok(vec![
            (
                format!("{conf}/core-site.xml"),
                core_site(dirs.address, &format!("{}/tmp", f.data)).into_bytes(),
            ),
            (
                format!("{conf}/hdfs-site.xml"),
                hdfs_site(dirs.address, &name, &data).into_bytes(),
            ),
            (
                format!("{conf}/log4j.properties"),
                LOG4J.as_bytes().to_vec(),
            ),
        ])
    }
    /// The NameNode formats its name directory before its first start.
    async fn prepare(&self, remote: &dyn Remote, node: &str, f: &Files) -> PlugResult<()> {
        if self.role != Role::NameNode {
            return Ok(());
        }
        let script = format!(
            "HADOOP_USER_NAME=root java -Xmx256m -cp {} org.apache.hadoop.hdfs.server.namenode.NameNode \
             -format -nonInteractive -force >> {} 2>&1",
            shell_quote(&self.classpath(f)),
            shell_quote(&f.log)
        );
        let out = remote
            .exec(node, &Cmd::shell(script).allow_failure())
            .await
            .map_err(|e| RiftError::new("control", e.to_string()))?;
        if !out.success() {
            return Err(RiftError::new(
                "start-failed",
                format!(
                    "formatting the HDFS NameNode on {node} failed; see {}",
                    f.log
                ),
            ));
        }
        Ok(())
    }
}

/// The `hdfs` role: a NameNode and a DataNode on each of its nodes (one, as this suite runs
/// it).
pub struct HdfsDb {
    /// The NameNode.
    pub namenode: DaemonDb<HdfsDaemon>,
    /// The DataNode.
    pub datanode: DaemonDb<HdfsDaemon>,
}

impl HdfsDb {
    /// HDFS on `nodes`.
    pub fn new(
        remote: Arc<dyn Remote>,
        nodes: Vec<(String, NodeDirs)>,
        hadoop: Arc<HadoopDist>,
        env: std::collections::BTreeMap<String, Vec<(String, String)>>,
    ) -> HdfsDb {
        let d = |role| HdfsDaemon {
            role,
            hadoop: hadoop.clone(),
            env: env.clone(),
        };
        HdfsDb {
            namenode: crate::db::daemon_db(remote.clone(), nodes.clone(), d(Role::NameNode)),
            datanode: crate::db::daemon_db(remote, nodes, d(Role::DataNode)),
        }
    }

    /// The seed's `stop-name-node!`: the NameNode alone goes down (SIGKILL).
    pub async fn stop_name_node(&self, t: &TestInfo, n: &str) -> PlugResult<()> {
        self.namenode.kill(t, n).await
    }

    /// The seed's `start-name-node!`.
    pub async fn start_name_node(&self, t: &TestInfo, n: &str) -> PlugResult<()> {
        self.namenode.start(t, n).await
    }
}

#[async_trait]
impl Db for HdfsDb {
    async fn setup(&self, t: &TestInfo, n: &str) -> PlugResult<()> {
        self.namenode.setup(t, n).await?;
        self.datanode.setup(t, n).await
    }
    async fn teardown(&self, t: &TestInfo, n: &str) -> PlugResult<()> {
        let a = self.datanode.teardown(t, n).await;
        self.namenode.teardown(t, n).await?;
        a
    }
    async fn kill(&self, t: &TestInfo, n: &str) -> PlugResult<()> {
        self.datanode.kill(t, n).await?;
        self.namenode.kill(t, n).await
    }
    async fn start(&self, t: &TestInfo, n: &str) -> PlugResult<()> {
        self.namenode.start(t, n).await?;
        self.datanode.start(t, n).await
    }
    async fn is_running(&self, t: &TestInfo, n: &str) -> PlugResult<bool> {
        Ok(self.namenode.is_running(t, n).await? && self.datanode.is_running(t, n).await?)
    }
    async fn pause(&self, t: &TestInfo, n: &str) -> PlugResult<()> {
        self.namenode.pause(t, n).await?;
        self.datanode.pause(t, n).await
    }
    async fn resume(&self, t: &TestInfo, n: &str) -> PlugResult<()> {
        self.namenode.resume(t, n).await?;
        self.datanode.resume(t, n).await
    }
    fn log_files(&self, t: &TestInfo, n: &str) -> Vec<PathBuf> {
        let mut v = self.namenode.log_files(t, n);
        v.extend(self.datanode.log_files(t, n));
        v
    }
    async fn fetch_logs(&self, t: &TestInfo, n: &str, dest: &Path) -> Vec<String> {
        let mut v = self.namenode.fetch_logs(t, n, dest).await;
        v.extend(self.datanode.fetch_logs(t, n, dest).await);
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_configuration_names_the_namenode_and_binds_everywhere() {
        let a: IpAddr = "10.77.0.18".parse().unwrap();
        let core = core_site(a, "/d/tmp");
        assert!(core.contains("<name>fs.defaultFS</name><value>hdfs://10.77.0.18:9000</value>"));
        let site = hdfs_site(a, "/d/name", "/d/blocks");
        assert!(site.contains("<name>dfs.namenode.name.dir</name><value>file:///d/name</value>"));
        assert!(site.contains("<name>dfs.namenode.rpc-bind-host</name><value>0.0.0.0</value>"));
        assert!(site.contains("<name>dfs.replication</name><value>1</value>"));
    }
}
