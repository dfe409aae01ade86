//! etcd as a rift [`Db`]: one member per node, started with `start_daemon`, killed, paused and
//! restarted through its pid file, its leader asked from the cluster.

use crate::install::{install_etcd, Installed};
use crate::EtcdError;
use async_trait::async_trait;
use etcd_client::{Client as Etcd, ConnectOptions};
use rift_control::{
    await_tcp_port, start_daemon, stop_daemon, Cmd, DaemonSpec, LocalCluster, NodeDirs, Remote,
    Signal,
};
use rift_core::{Db, PlugResult, RiftError, TestInfo};
use rift_suite::control_error as ctl;
use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The port etcd serves clients on.
pub const CLIENT_PORT: u16 = 2379;
/// The port etcd members talk to each other on.
pub const PEER_PORT: u16 = 2380;
/// The member's log file, in the node's log directory.
pub const LOG_FILE: &str = "etcd.log";
/// The member's pid file, in the node's log directory.
pub const PID_FILE: &str = "etcd.pid";
/// The member's data directory, under the node's data directory (wiped on setup and teardown).
pub const DATA_SUBDIR: &str = "etcd";

/// How the suite installs and runs etcd.
#[derive(Clone, Debug)]
pub struct EtcdOptions {
    /// The etcd binary to run (`--bin PATH`); `None`: `etcd` on `PATH`, installed with
    /// `apt-get install -y etcd-server` when missing.
    pub bin: Option<PathBuf>,
    /// How long setup waits for the cluster to elect a leader (every member set up in
    /// parallel must see one).
    pub setup_timeout: Duration,
    /// How long `start` waits for a restarted member's client port.
    pub start_timeout: Duration,
    /// The `--initial-cluster-token`; `None`: `rift-<pid>-<nanoseconds>`, unique per run.
    pub token: Option<String>,
    /// Extra flags for every member (for example `--snapshot-count 100`).
    pub extra_args: Vec<String>,
    /// Install on each node through the remote (SSH machines) instead of once on this host
    /// (the local cluster's nodes share its file system): `bin` is uploaded to each node,
    /// `archive` (a release tarball: URL or local file) unpacked there, else Debian's
    /// `etcd-server` installed with apt on each node.
    pub install_on_nodes: bool,
    /// With `install_on_nodes`: an etcd release archive (`etcd-v3.5.x-linux-amd64.tar.gz`, a
    /// URL fetched on the node or a local file uploaded) to run instead of Debian's package.
    pub archive: Option<String>,
}

impl Default for EtcdOptions {
    fn default() -> EtcdOptions {
        EtcdOptions {
            bin: None,
            setup_timeout: Duration::from_secs(30),
            start_timeout: Duration::from_secs(10),
            token: None,
            extra_args: Vec::new(),
            install_on_nodes: false,
            archive: None,
        }
    }
}

/// etcd on a cluster: a member per node, named after the node.
pub struct EtcdDb {
    remote: Arc<dyn Remote>,
    nodes: BTreeMap<String, NodeDirs>,
    opts: EtcdOptions,
    token: String,
    installed: tokio::sync::Mutex<Option<Installed>>,
    node_bins: tokio::sync::Mutex<BTreeMap<String, String>>,
}

impl EtcdDb {
    /// A db on `nodes` (names and directories).
    pub fn new(
        remote: Arc<dyn Remote>,
        nodes: Vec<(String, NodeDirs)>,
        opts: EtcdOptions,
    ) -> Result<EtcdDb, EtcdError> {
        if nodes.is_empty() {
            return Err(EtcdError::Config("etcd needs at least one node".into()));
        }
        let token = opts.token.clone().unwrap_or_else(|| {
            let nanos = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or(0);
            format!("rift-{}-{nanos}", std::process::id())
        });
        Ok(EtcdDb {
            remote,
            nodes: nodes.into_iter().collect(),
            opts,
            token,
            installed: tokio::sync::Mutex::new(None),
            node_bins: tokio::sync::Mutex::new(BTreeMap::new()),
        })
    }

    /// A db on every node of a local cluster, with the cluster's per-node directories.
    pub fn on_local_cluster(
        cluster: Arc<LocalCluster>,
        opts: EtcdOptions,
    ) -> Result<EtcdDb, EtcdError> {
        let nodes = cluster.node_dirs()?;
        EtcdDb::new(cluster, nodes, opts)
    }

    /// The run's `--initial-cluster-token`.
    pub fn token(&self) -> &str {
        &self.token
    }

    /// Each node's client URL, `http://ADDR:2379`: what [`crate::EtcdClient::new`] takes.
    pub fn client_endpoints(&self) -> BTreeMap<String, String> {
        self.nodes
            .iter()
            .map(|(n, d)| (n.clone(), client_url(d.address)))
            .collect()
    }

    /// `n1=http://ADDR1:2380,n2=...`: every member's peer URL.
    pub fn initial_cluster(&self) -> String {
        let members: Vec<String> = self
            .nodes
            .iter()
            .map(|(n, d)| format!("{n}={}", peer_url(d.address)))
            .collect();
        members.join(",")
    }

    fn dirs(&self, node: &str) -> PlugResult<&NodeDirs> {
        self.nodes
            .get(node)
            .ok_or_else(|| RiftError::new("config", format!("etcd has no node {node}")))
    }

    fn pidfile(&self, node: &str) -> PlugResult<String> {
        Ok(self
            .dirs(node)?
            .log_dir
            .join(PID_FILE)
            .display()
            .to_string())
    }

    /// The member's data directory on `node`.
    pub fn member_dir(&self, node: &str) -> PlugResult<PathBuf> {
        Ok(self.dirs(node)?.data_dir.join(DATA_SUBDIR))
    }

    /// The daemon that runs `node`'s member with binary `bin`. The same flags serve the first
    /// start and every restart: with an existing data directory etcd ignores the
    /// `--initial-cluster*` flags and rejoins with its own WAL (it never re-bootstraps).
    pub fn daemon(&self, node: &str, bin: &str) -> PlugResult<DaemonSpec> {
        let d = self.dirs(node)?;
        let a = d.address;
        let mut args = vec![
            format!("--name={node}"),
            format!("--data-dir={}", self.member_dir(node)?.display()),
            format!("--listen-peer-urls={}", peer_url(a)),
            format!("--initial-advertise-peer-urls={}", peer_url(a)),
            // Loopback too: `await_tcp_port` probes 127.0.0.1 inside the node.
            format!(
                "--listen-client-urls={},http://127.0.0.1:{CLIENT_PORT}",
                client_url(a)
            ),
            format!("--advertise-client-urls={}", client_url(a)),
            format!("--initial-cluster={}", self.initial_cluster()),
            "--initial-cluster-state=new".to_string(),
            format!("--initial-cluster-token={}", self.token),
            "--logger=zap".to_string(),
            "--log-outputs=stderr".to_string(),
        ];
        args.extend(self.opts.extra_args.iter().cloned());
        Ok(DaemonSpec {
            bin: bin.to_string(),
            args,
            pidfile: self.pidfile(node)?,
            logfile: d.log_dir.join(LOG_FILE).display().to_string(),
            chdir: None,
            env: Vec::new(),
        })
    }

    /// The etcd binary, installing it first if needed (once per db; the local cluster's
    /// nodes share the host's filesystem, so it installs on the host).
    pub async fn binary(&self) -> PlugResult<String> {
        let mut guard = self.installed.lock().await;
        if let Some(i) = guard.as_ref() {
            return Ok(i.bin.clone());
        }
        let bin = self.opts.bin.clone();
        let installed = tokio::task::spawn_blocking(move || install_etcd(bin.as_deref()))
            .await
            .map_err(|e| RiftError::new("install", e.to_string()))?
            .map_err(rift)?;
        let bin = installed.bin.clone();
        *guard = Some(installed);
        Ok(bin)
    }

    /// The binary `node` runs: [`EtcdDb::binary`] on the local cluster; with
    /// `install_on_nodes`, installed on the node itself once (uploaded `--bin`, an unpacked
    /// archive, or Debian's package with apt, whose default service is then stopped).
    pub async fn binary_on(&self, node: &str) -> PlugResult<String> {
        if !self.opts.install_on_nodes {
            return self.binary().await;
        }
        if let Some(b) = self.node_bins.lock().await.get(node) {
            return Ok(b.clone());
        }
        let home = self
            .dirs(node)?
            .data_dir
            .parent()
            .map(|p| p.display().to_string())
            .unwrap_or_else(|| "/var/lib/rift".into());
        let remote = &*self.remote;
        let bin = if let Some(local) = &self.opts.bin {
            let dest = format!("{home}/etcd");
            remote.upload(node, local, &dest).await.map_err(ctl)?;
            remote
                .exec(node, &Cmd::new("chmod").args(["755", &dest]))
                .await
                .map_err(ctl)?;
            dest
        } else if let Some(archive) = &self.opts.archive {
            let dest = format!("{home}/etcd-dist");
            rift_control::install_archive(remote, node, archive, &dest)
                .await
                .map_err(ctl)?;
            format!("{dest}/etcd")
        } else {
            let pkgs = [crate::install::ETCD_PACKAGE.to_string()];
            let fresh = rift_control::install_packages(remote, node, &pkgs)
                .await
                .map_err(ctl)?;
            if !fresh.is_empty() {
                // The package's service would hold the ports; ours run with our own flags.
                let stop = Cmd::shell(
                    "systemctl disable --now etcd >/dev/null 2>&1 || service etcd stop >/dev/null 2>&1 || true",
                );
                remote.exec(node, &stop).await.map_err(ctl)?;
            }
            "etcd".to_string()
        };
        self.node_bins
            .lock()
            .await
            .insert(node.to_string(), bin.clone());
        Ok(bin)
    }

    /// What installing did (the binary, its version, whether apt ran), once [`EtcdDb::binary`]
    /// has run.
    pub async fn installed(&self) -> Option<Installed> {
        self.installed.lock().await.clone()
    }

    async fn wipe(&self, node: &str) -> PlugResult<()> {
        let dir = self.member_dir(node)?.display().to_string();
        let cmd = Cmd::new("rm").arg("-rf").arg(dir);
        self.remote.exec(node, &cmd).await.map_err(ctl)?;
        Ok(())
    }

    /// Waits until `node`'s member answers a status request naming a leader; returns the
    /// leader's member id.
    pub async fn await_leader(&self, node: &str, timeout: Duration) -> PlugResult<u64> {
        let url = client_url(self.dirs(node)?.address);
        let deadline = Instant::now() + timeout;
        loop {
            let last = match status_of(&url, Duration::from_secs(1)).await {
                Ok(s) if s.leader != 0 => return Ok(s.leader),
                Ok(_) => "the member knows no leader".to_string(),
                Err(e) => e.to_string(),
            };
            if Instant::now() >= deadline {
                return Err(RiftError::new(
                    "timeout",
                    format!(
                        "{node}: no etcd leader after {} ms ({last}); see {}",
                        timeout.as_millis(),
                        self.dirs(node)?.log_dir.join(LOG_FILE).display()
                    ),
                ));
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// Every node's view: which member it says leads (its name), or why it did not answer.
    /// Nodes are asked in parallel, each with a 1 s timeout.
    pub async fn leader_views(&self) -> BTreeMap<String, Result<Option<String>, String>> {
        let mut asks = tokio::task::JoinSet::new();
        for (n, d) in &self.nodes {
            let (node, url) = (n.clone(), client_url(d.address));
            asks.spawn(async move {
                let view = match status_of(&url, Duration::from_secs(1)).await {
                    Ok(s) if s.leader == 0 => Ok(None),
                    Ok(s) => Ok(Some(
                        s.names
                            .get(&s.leader)
                            .cloned()
                            .unwrap_or(format!("{:x}", s.leader)),
                    )),
                    Err(e) => Err(e.to_string()),
                };
                (node, view)
            });
        }
        let mut out = BTreeMap::new();
        while let Some(done) = asks.join_next().await {
            match done {
                Ok((n, v)) => {
                    out.insert(n, v);
                }
                Err(e) => tracing::warn!("etcd status task failed: {e}"),
            }
        }
        out
    }
}

/// A member's answer to a status request.
struct Status {
    leader: u64,
    names: BTreeMap<u64, String>,
}

/// Asks the member at `url` for its status and the member list (names by id).
async fn status_of(url: &str, timeout: Duration) -> Result<Status, EtcdError> {
    let fut = async {
        let opts = ConnectOptions::new()
            .with_connect_timeout(timeout)
            .with_timeout(timeout);
        let mut c = Etcd::connect([url], Some(opts)).await?;
        let s = c.status().await?;
        let members = c.member_list().await?;
        let names = members
            .members()
            .iter()
            .map(|m| (m.id(), m.name().to_string()))
            .collect();
        Ok::<Status, EtcdError>(Status {
            leader: s.leader(),
            names,
        })
    };
    tokio::time::timeout(timeout * 2, fut)
        .await
        .map_err(|_| EtcdError::Timeout(format!("status of {url}")))?
}

fn client_url(a: IpAddr) -> String {
    format!("http://{a}:{CLIENT_PORT}")
}

fn peer_url(a: IpAddr) -> String {
    format!("http://{a}:{PEER_PORT}")
}

fn rift(e: EtcdError) -> RiftError {
    RiftError::new("etcd", e.to_string())
}

#[async_trait]
impl Db for EtcdDb {
    async fn setup(&self, test: &TestInfo, node: &str) -> PlugResult<()> {
        self.kill(test, node).await?;
        self.wipe(node).await?;
        self.start(test, node).await?;
        self.await_leader(node, self.opts.setup_timeout).await?;
        Ok(())
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
        let bin = self.binary_on(node).await?;
        start_daemon(&*self.remote, node, &self.daemon(node, &bin)?)
            .await
            .map_err(ctl)?;
        await_tcp_port(&*self.remote, node, CLIENT_PORT, self.opts.start_timeout)
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

    /// Every leader some member names (Jepsen's etcd suite does the same): usually one;
    /// two while an old leader cut off by a partition has not noticed yet. Members that do
    /// not answer are skipped; none answering is an error.
    async fn primaries(&self, _test: &TestInfo) -> PlugResult<Vec<String>> {
        let views = self.leader_views().await;
        let leaders: BTreeSet<String> = views
            .values()
            .filter_map(|v| v.as_ref().ok().cloned().flatten())
            .collect();
        if leaders.is_empty() && views.values().all(|v| v.is_err()) {
            let why: Vec<String> = views
                .iter()
                .map(|(n, v)| format!("{n}: {}", v.as_ref().err().cloned().unwrap_or_default()))
                .collect();
            return Err(RiftError::new(
                "unavailable",
                format!("no etcd member answered: {}", why.join("; ")),
            ));
        }
        Ok(leaders.into_iter().collect())
    }

    fn log_files(&self, _test: &TestInfo, node: &str) -> Vec<PathBuf> {
        self.nodes
            .get(node)
            .map(|d| vec![d.log_dir.join(LOG_FILE)])
            .unwrap_or_default()
    }

    async fn fetch_logs(&self, test: &TestInfo, node: &str, dest: &std::path::Path) -> Vec<String> {
        // Through the remote: a local copy on the local cluster, scp from SSH machines.
        let files = self.log_files(test, node);
        rift_control::fetch_files(&*self.remote, node, &files, dest).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rift_control::testkit::NoRemote;
    use std::net::Ipv4Addr;

    fn db() -> EtcdDb {
        let dirs = |i: u8| NodeDirs {
            address: IpAddr::V4(Ipv4Addr::new(10, 9, 0, i)),
            data_dir: PathBuf::from(format!("/r/n{i}/data")),
            log_dir: PathBuf::from(format!("/r/n{i}/log")),
        };
        let opts = EtcdOptions {
            token: Some("tok".into()),
            ..EtcdOptions::default()
        };
        let nodes = vec![("n1".to_string(), dirs(1)), ("n2".to_string(), dirs(2))];
        EtcdDb::new(Arc::new(NoRemote), nodes, opts).unwrap()
    }

    #[test]
    fn member_flags_name_every_peer_and_the_token() {
        let db = db();
        assert_eq!(
            db.initial_cluster(),
            "n1=http://10.9.0.1:2380,n2=http://10.9.0.2:2380"
        );
        let d = db.daemon("n2", "/usr/bin/etcd").unwrap();
        assert_eq!(d.bin, "/usr/bin/etcd");
        assert_eq!(
            d.args,
            [
                "--name=n2",
                "--data-dir=/r/n2/data/etcd",
                "--listen-peer-urls=http://10.9.0.2:2380",
                "--initial-advertise-peer-urls=http://10.9.0.2:2380",
                "--listen-client-urls=http://10.9.0.2:2379,http://127.0.0.1:2379",
                "--advertise-client-urls=http://10.9.0.2:2379",
                "--initial-cluster=n1=http://10.9.0.1:2380,n2=http://10.9.0.2:2380",
                "--initial-cluster-state=new",
                "--initial-cluster-token=tok",
                "--logger=zap",
                "--log-outputs=stderr",
            ]
        );
        assert_eq!(d.pidfile, "/r/n2/log/etcd.pid");
        assert_eq!(d.logfile, "/r/n2/log/etcd.log");
        assert_eq!(
            db.client_endpoints().get("n1").map(String::as_str),
            Some("http://10.9.0.1:2379")
        );
        assert!(db.daemon("n3", "etcd").is_err());
    }

    #[test]
    fn tokens_differ_between_runs_unless_given() {
        let mk = || {
            let nodes = vec![(
                "n1".to_string(),
                NodeDirs {
                    address: IpAddr::V4(Ipv4Addr::LOCALHOST),
                    data_dir: "/d".into(),
                    log_dir: "/l".into(),
                },
            )];
            EtcdDb::new(Arc::new(NoRemote), nodes, EtcdOptions::default()).unwrap()
        };
        let (a, b) = (mk(), mk());
        assert!(a.token().starts_with("rift-"), "{}", a.token());
        assert_ne!(a.token(), b.token());
        assert_eq!(db().token(), "tok");
        let empty = EtcdDb::new(Arc::new(NoRemote), Vec::new(), EtcdOptions::default());
        assert!(matches!(empty, Err(EtcdError::Config(_))));
    }
}
