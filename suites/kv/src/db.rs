//! rift-kv as a rift [`Db`]: a server per node, the first node the primary.

use crate::server::ReadMode;
use async_trait::async_trait;
use rift_control::{
    await_tcp_port, daemon_running, start_daemon, stop_daemon, Cmd, DaemonSpec, LocalCluster,
    NodeDirs, Remote, Signal,
};
use rift_core::{Db, PlugResult, RiftError, TestInfo};
use rift_suite::control_error as ctl;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// The port every rift-kv server listens on.
pub const DEFAULT_PORT: u16 = 7400;

/// rift-kv on a cluster: `server` is the command that runs the server (the `rift` binary's
/// `kv-server` subcommand, or `rift-kvd`); it must be runnable on each node.
pub struct KvDb {
    remote: Arc<dyn Remote>,
    nodes: BTreeMap<String, NodeDirs>,
    primary: String,
    server: Vec<String>,
    port: u16,
    reads: ReadMode,
    start_timeout: Duration,
    env: BTreeMap<String, Vec<(String, String)>>,
    node_server: BTreeMap<String, String>,
}

impl KvDb {
    /// A db on `nodes` (in order; the first is the primary).
    pub fn new(
        remote: Arc<dyn Remote>,
        nodes: Vec<(String, NodeDirs)>,
        server: Vec<String>,
        reads: ReadMode,
    ) -> Result<KvDb, RiftError> {
        let primary = nodes
            .first()
            .map(|(n, _)| n.clone())
            .ok_or_else(|| RiftError::new("config", "rift-kv needs at least one node"))?;
        if server.is_empty() {
            return Err(RiftError::new("config", "no server command"));
        }
        Ok(KvDb {
            remote,
            nodes: nodes.into_iter().collect(),
            primary,
            server,
            port: DEFAULT_PORT,
            reads,
            start_timeout: Duration::from_secs(10),
            env: BTreeMap::new(),
            node_server: BTreeMap::new(),
        })
    }

    /// A db on every node of a local cluster, with the cluster's per-node directories.
    pub fn on_local_cluster(
        cluster: Arc<LocalCluster>,
        server: Vec<String>,
        reads: ReadMode,
    ) -> Result<KvDb, RiftError> {
        let nodes = cluster.node_dirs().map_err(ctl)?;
        KvDb::new(cluster, nodes, server, reads)
    }

    /// Runs `node`'s server with these extra environment variables (for example
    /// `rift_control::clock::faketime_env`, so that clock faults reach it).
    pub fn with_env(mut self, node: &str, env: Vec<(String, String)>) -> KvDb {
        self.env.insert(node.to_string(), env);
        self
    }

    /// Runs each node's server from `bin(node)` instead of the server command's program
    /// (machines that each got their own copy).
    pub fn with_node_servers(mut self, bin: impl Fn(&str) -> String) -> KvDb {
        self.node_server = self.nodes.keys().map(|n| (n.clone(), bin(n))).collect();
        self
    }

    /// Where clients connect: each node's address and port.
    pub fn client_addresses(&self) -> BTreeMap<String, SocketAddr> {
        self.nodes
            .iter()
            .map(|(n, d)| (n.clone(), SocketAddr::new(d.address, self.port)))
            .collect()
    }

    fn dirs(&self, node: &str) -> PlugResult<&NodeDirs> {
        self.nodes
            .get(node)
            .ok_or_else(|| RiftError::new("config", format!("rift-kv has no node {node}")))
    }

    fn pidfile(&self, node: &str) -> PlugResult<String> {
        Ok(self
            .dirs(node)?
            .log_dir
            .join("kvd.pid")
            .display()
            .to_string())
    }

    /// The daemon that runs on `node`.
    pub fn daemon(&self, node: &str) -> PlugResult<DaemonSpec> {
        let d = self.dirs(node)?;
        let mut args: Vec<String> = self.server[1..].to_vec();
        args.extend([
            "--listen".to_string(),
            format!("0.0.0.0:{}", self.port),
            "--data".to_string(),
            d.data_dir.display().to_string(),
            "--reads".to_string(),
            self.reads.name().to_string(),
        ]);
        if node != self.primary {
            let p = self.dirs(&self.primary)?.address;
            args.extend(["--primary".to_string(), format!("{p}:{}", self.port)]);
        }
        Ok(DaemonSpec {
            bin: self
                .node_server
                .get(node)
                .cloned()
                .unwrap_or_else(|| self.server[0].clone()),
            args,
            pidfile: self.pidfile(node)?,
            logfile: d.log_dir.join("kvd.log").display().to_string(),
            chdir: None,
            env: self.env.get(node).cloned().unwrap_or_default(),
        })
    }

    async fn wipe(&self, node: &str) -> PlugResult<()> {
        let d = self.dirs(node)?;
        let cmd = Cmd::new("rm").arg("-rf").arg(
            d.data_dir
                .join(crate::server::LOG_FILE)
                .display()
                .to_string(),
        );
        self.remote.exec(node, &cmd).await.map_err(ctl)?;
        Ok(())
    }
}

#[async_trait]
impl Db for KvDb {
    async fn setup(&self, test: &TestInfo, node: &str) -> PlugResult<()> {
        self.kill(test, node).await?;
        self.wipe(node).await?;
        self.start(test, node).await
    }

    async fn teardown(&self, test: &TestInfo, node: &str) -> PlugResult<()> {
        self.resume(test, node).await?;
        self.kill(test, node).await?;
        self.wipe(node).await
    }

    async fn kill(&self, _test: &TestInfo, node: &str) -> PlugResult<()> {
        stop_daemon(&*self.remote, node, &self.pidfile(node)?, Signal::Kill)
            .await
            .map_err(ctl)?;
        Ok(())
    }

    async fn start(&self, _test: &TestInfo, node: &str) -> PlugResult<()> {
        start_daemon(&*self.remote, node, &self.daemon(node)?)
            .await
            .map_err(ctl)?;
        await_tcp_port(&*self.remote, node, self.port, self.start_timeout)
            .await
            .map_err(ctl)
    }

    async fn is_running(&self, _test: &TestInfo, node: &str) -> PlugResult<bool> {
        daemon_running(&*self.remote, node, &self.pidfile(node)?)
            .await
            .map_err(ctl)
    }

    async fn pause(&self, _test: &TestInfo, node: &str) -> PlugResult<()> {
        stop_daemon(&*self.remote, node, &self.pidfile(node)?, Signal::Stop)
            .await
            .map_err(ctl)?;
        Ok(())
    }

    async fn resume(&self, _test: &TestInfo, node: &str) -> PlugResult<()> {
        stop_daemon(&*self.remote, node, &self.pidfile(node)?, Signal::Cont)
            .await
            .map_err(ctl)?;
        Ok(())
    }

    async fn primaries(&self, _test: &TestInfo) -> PlugResult<Vec<String>> {
        Ok(vec![self.primary.clone()])
    }

    fn log_files(&self, _test: &TestInfo, node: &str) -> Vec<PathBuf> {
        self.nodes
            .get(node)
            .map(|d| vec![d.log_dir.join("kvd.log")])
            .unwrap_or_default()
    }

    async fn fetch_logs(&self, test: &TestInfo, node: &str, dest: &std::path::Path) -> Vec<String> {
        // Through the remote: a local copy on the local cluster, scp from SSH machines.
        let files = self.log_files(test, node);
        rift_control::fetch_files(&*self.remote, node, &files, dest).await
    }
}
