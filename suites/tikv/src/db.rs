//! PD and TiKV on every node, as the seed's `db.clj` runs them: PD `pd<i>` (client port 2379,
//! peer port 2380, `--initial-cluster` of every node), TiKV (20160, status 20180) pointed at
//! every PD, both with configs rift writes (3 replicas). Setup, on every node at once:
//! leftovers killed and data wiped; PD started and waited for (`/health`), restarted when it
//! crashes during start-up, for up to 300 s (the seed's restart loop); once every node's PD
//! serves, TiKV the same way (`/status` on 20180); then until PD lists every store `Up`. A
//! node that fails is named with the tail of its logs, and the other nodes' setups fail at
//! once naming it. Teardown kills both and removes the data; the binaries stay.
//!
//! The processes run through rift's daemon helpers (pid files, logs appended) under the
//! node's directories: `<data>/pd`, `<data>/kv`; `<log>/pd.log` (PD's own log),
//! `<log>/pd.stdout`, `<log>/pd.toml`, and the same for `kv`. TiKV refuses to start with
//! fewer than 82,920 open files allowed: it is started through `sh`, which raises the limit
//! first.

use crate::dist::{self, Binaries};
use crate::pd::{self, CLIENT_PORT, PEER_PORT};
use crate::{Action, Proc, TikvControl};
use async_trait::async_trait;
use rift_control::{
    daemon_running, output_tail, shell_quote, start_daemon, stop_daemon, write_file, Cmd,
    DaemonSpec, NodeDirs, Remote, Signal,
};
use rift_core::{Db, PlugResult, RiftError, TestInfo};
use rift_suite::control_error as ctl;
use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::watch;

/// TiKV's client (gRPC) port.
pub const KV_PORT: u16 = 20160;
/// TiKV's status (HTTP) port.
pub const KV_STATUS_PORT: u16 = 20180;
/// What TiKV is started through (`sh -c RAISE_NOFILE tikv-server ARGS...`): it raises the
/// open-files limit (TiKV wants 82,920 or more) and execs the binary, keeping the pid.
pub const RAISE_NOFILE: &str =
    "ulimit -n 1048576 2>/dev/null || ulimit -n \"$(ulimit -Hn)\"; exec \"$0\" \"$@\"";

/// The seed's start-up deadline per process.
pub const START_DEADLINE: Duration = Duration::from_secs(300);

/// How the suite installs and runs PD and TiKV.
#[derive(Clone, Debug)]
pub struct TikvOptions {
    /// The tarballs (files or URLs) with `pd-server` and `tikv-server`.
    pub sources: Vec<String>,
    /// Unpack on each node through the remote (SSH machines) instead of once on this host
    /// (the local cluster's nodes share its file system).
    pub install_on_nodes: bool,
    /// How long a process may take to serve after its first start (300 s).
    pub start_deadline: Duration,
    /// Extra environment of each node's processes (the clock shim on the local cluster).
    pub env: BTreeMap<String, Vec<(String, String)>>,
    /// Max replicas of every region (PD's `max-replicas`; the seed's 3).
    pub replicas: usize,
}

impl TikvOptions {
    /// The options for `sources`, the seed's deadline and replicas, on this host.
    pub fn new(sources: Vec<String>) -> TikvOptions {
        TikvOptions {
            sources,
            install_on_nodes: false,
            start_deadline: START_DEADLINE,
            env: BTreeMap::new(),
            replicas: 3,
        }
    }
}

/// PD's config (the seed's `pd.conf`: fast ticks and elections, small schedule limits, the
/// three balance schedulers, 3 replicas).
pub fn pd_config(replicas: usize) -> String {
    format!(
        "# written by rift (after tikv/jepsen-test's pd.conf)\n\
         tick-interval = \"50ms\"\n\
         election-interval = \"300ms\"\n\
         lease = 1\n\
         tso-save-interval = \"1s\"\n\
         \n[log]\nlevel = \"info\"\n\
         \n[schedule]\n\
         split-merge-interval = \"5s\"\n\
         max-snapshot-count = 3\n\
         max-pending-peer-count = 64\n\
         max-store-down-time = \"100h\"\n\
         leader-schedule-limit = 8\n\
         region-schedule-limit = 8\n\
         replica-schedule-limit = 16\n\
         merge-schedule-limit = 16\n\
         tolerant-size-ratio = 5.0\n\
         \n[[schedule.schedulers]]\ntype = \"balance-region\"\n\
         \n[[schedule.schedulers]]\ntype = \"balance-leader\"\n\
         \n[[schedule.schedulers]]\ntype = \"hot-region\"\n\
         \n[replication]\nmax-replicas = {replicas}\n"
    )
}

/// TiKV's config (the seed's `tikv.conf`: fast raft ticks, a short leader lease, synced
/// logs, tiny regions so that keys spread over many), plus what several TiKVs on one machine
/// need: a small block cache (TiKV takes 45% of the machine's memory by default) and no
/// reserved space (5 GB per store by default).
pub fn kv_config() -> String {
    format!(
        "# written by rift (after tikv/jepsen-test's tikv.conf)\n\
         [server]\nstatus-addr = \"0.0.0.0:{KV_STATUS_PORT}\"\n\
         \n[raftstore]\n\
         pd-heartbeat-tick-interval = \"5s\"\n\
         raft-store-max-leader-lease = \"50ms\"\n\
         raft-base-tick-interval = \"100ms\"\n\
         raft-heartbeat-ticks = 3\n\
         raft-election-timeout-ticks = 10\n\
         sync-log = true\n\
         \n[coprocessor]\nregion-max-keys = 5\nregion-split-keys = 3\n\
         \n[storage]\nreserve-space = \"0MB\"\n\
         \n[storage.block-cache]\ncapacity = \"256MB\"\n"
    )
}

/// Where one process's files are on a node.
#[derive(Clone, Debug)]
pub struct ProcFiles {
    /// Its data directory.
    pub data: String,
    /// Its own log (`--log-file`).
    pub log: String,
    /// Its standard output and error.
    pub stdout: String,
    /// Its pid file.
    pub pid: String,
    /// Its config.
    pub config: String,
}

impl ProcFiles {
    /// The files of `proc` in `dirs`.
    pub fn of(dirs: &NodeDirs, proc: Proc) -> ProcFiles {
        let p = proc.name();
        let l = dirs.log_dir.display().to_string();
        ProcFiles {
            data: dirs.data_dir.join(p).display().to_string(),
            log: format!("{l}/{p}.log"),
            stdout: format!("{l}/{p}.stdout"),
            pid: format!("{l}/{p}.pid"),
            config: format!("{l}/{p}.toml"),
        }
    }
}

/// How a node's part of a setup phase ended: `Ok`, or why not.
type Arrivals = BTreeMap<String, Result<(), String>>;

/// A barrier of the nodes' setups (the seed's `jepsen/synchronize`): each node arrives with
/// its result, and waits until every node has arrived; one failure fails the others at once,
/// naming the node.
struct Gate {
    what: &'static str,
    n: usize,
    tx: watch::Sender<Arrivals>,
}

impl Gate {
    fn new(what: &'static str, n: usize) -> Gate {
        Gate {
            what,
            n,
            tx: watch::channel(Arrivals::new()).0,
        }
    }

    async fn arrive(
        &self,
        node: &str,
        result: Result<(), String>,
        timeout: Duration,
    ) -> PlugResult<()> {
        if let Err(e) = &result {
            // Its own failure first, whatever the others did.
            let e = e.clone();
            self.tx.send_modify(|m| {
                m.insert(node.to_string(), result);
            });
            return Err(RiftError::new("start-failed", e));
        }
        let mut rx = self.tx.subscribe();
        self.tx.send_modify(|m| {
            m.insert(node.to_string(), result);
        });
        let n = self.n;
        let done = tokio::time::timeout(
            timeout,
            rx.wait_for(|m| m.len() >= n || m.values().any(|r| r.is_err())),
        )
        .await;
        let arrivals = self.tx.borrow().clone();
        if let Some((failed, Err(e))) = arrivals.iter().find(|(_, r)| r.is_err()) {
            return Err(RiftError::new(
                "start-failed",
                format!(
                    "{node}: not starting {} because {failed} failed: {e}",
                    self.what
                ),
            ));
        }
        if done.is_err() {
            return Err(RiftError::new(
                "timeout",
                format!(
                    "{node}: waited {timeout:?} for every node's {}; arrived: {}",
                    self.what,
                    arrivals.keys().cloned().collect::<Vec<_>>().join(", ")
                ),
            ));
        }
        Ok(())
    }
}

/// PD and TiKV on a cluster's nodes.
pub struct TikvDb {
    remote: Arc<dyn Remote>,
    /// In order: node i is `pd<i>`.
    order: Vec<String>,
    nodes: BTreeMap<String, NodeDirs>,
    opts: TikvOptions,
    local_bins: tokio::sync::Mutex<Option<Result<Binaries, String>>>,
    node_bins: tokio::sync::Mutex<BTreeMap<String, Binaries>>,
    pd_gate: Gate,
    kv_gate: Gate,
}

impl TikvDb {
    /// A db on `nodes` (in order: the first is `pd1`).
    pub fn new(
        remote: Arc<dyn Remote>,
        nodes: Vec<(String, NodeDirs)>,
        opts: TikvOptions,
    ) -> Result<TikvDb, String> {
        if nodes.is_empty() {
            return Err("TiKV needs at least one node".into());
        }
        if opts.sources.is_empty() {
            return Err("TiKV needs a tarball (--version or --tarball)".into());
        }
        let n = nodes.len();
        Ok(TikvDb {
            remote,
            order: nodes.iter().map(|(n, _)| n.clone()).collect(),
            nodes: nodes.into_iter().collect(),
            opts,
            local_bins: tokio::sync::Mutex::new(None),
            node_bins: tokio::sync::Mutex::new(BTreeMap::new()),
            pd_gate: Gate::new("PD", n),
            kv_gate: Gate::new("TiKV", n),
        })
    }

    /// The nodes in order.
    pub fn nodes(&self) -> &[String] {
        &self.order
    }

    fn dirs(&self, node: &str) -> PlugResult<&NodeDirs> {
        self.nodes
            .get(node)
            .ok_or_else(|| RiftError::new("config", format!("TiKV does not run on {node}")))
    }

    fn address(&self, node: &str) -> PlugResult<IpAddr> {
        Ok(self.dirs(node)?.address)
    }

    /// `addr1:2379,...`: every PD's client endpoint, what the clients and TiKV are given.
    pub fn pd_endpoints(&self) -> Vec<String> {
        self.order
            .iter()
            .map(|n| format!("{}:{CLIENT_PORT}", self.nodes[n].address))
            .collect()
    }

    /// Every TiKV's advertised address (`addr:20160`), as PD lists the stores.
    pub fn kv_addresses(&self) -> Vec<String> {
        self.order
            .iter()
            .map(|n| format!("{}:{KV_PORT}", self.nodes[n].address))
            .collect()
    }

    /// `pd1=http://addr1:2380,...`.
    pub fn initial_cluster(&self) -> String {
        self.order
            .iter()
            .enumerate()
            .map(|(i, n)| {
                format!(
                    "{}=http://{}:{PEER_PORT}",
                    pd::pd_name(i + 1),
                    self.nodes[n].address
                )
            })
            .collect::<Vec<_>>()
            .join(",")
    }

    /// PD's command line on `node` (the seed's flags).
    pub fn pd_args(&self, node: &str) -> PlugResult<Vec<String>> {
        let i = self
            .order
            .iter()
            .position(|n| n == node)
            .ok_or_else(|| RiftError::new("config", format!("TiKV does not run on {node}")))?;
        let a = self.address(node)?;
        let f = ProcFiles::of(self.dirs(node)?, Proc::Pd);
        Ok(vec![
            format!("--name={}", pd::pd_name(i + 1)),
            format!("--data-dir={}", f.data),
            format!("--client-urls=http://0.0.0.0:{CLIENT_PORT}"),
            format!("--peer-urls=http://0.0.0.0:{PEER_PORT}"),
            format!("--advertise-client-urls=http://{a}:{CLIENT_PORT}"),
            format!("--advertise-peer-urls=http://{a}:{PEER_PORT}"),
            format!("--initial-cluster={}", self.initial_cluster()),
            format!("--log-file={}", f.log),
            format!("--config={}", f.config),
        ])
    }

    /// TiKV's command line on `node` (the seed's flags).
    pub fn kv_args(&self, node: &str) -> PlugResult<Vec<String>> {
        let a = self.address(node)?;
        let f = ProcFiles::of(self.dirs(node)?, Proc::Kv);
        Ok(vec![
            format!("--pd={}", self.pd_endpoints().join(",")),
            format!("--addr=0.0.0.0:{KV_PORT}"),
            format!("--advertise-addr={a}:{KV_PORT}"),
            format!("--status-addr=0.0.0.0:{KV_STATUS_PORT}"),
            format!("--advertise-status-addr={a}:{KV_STATUS_PORT}"),
            format!("--data-dir={}", f.data),
            format!("--log-file={}", f.log),
            format!("--config={}", f.config),
        ])
    }

    /// The process `proc` on `node` with binaries `bins`.
    pub fn spec(&self, node: &str, proc: Proc, bins: &Binaries) -> PlugResult<DaemonSpec> {
        let f = ProcFiles::of(self.dirs(node)?, proc);
        let (bin, args) = match proc {
            Proc::Pd => (bins.pd.clone(), self.pd_args(node)?),
            Proc::Kv => {
                let mut a = vec!["-c".to_string(), RAISE_NOFILE.to_string(), bins.kv.clone()];
                a.extend(self.kv_args(node)?);
                ("sh".to_string(), a)
            }
        };
        Ok(DaemonSpec {
            bin,
            args,
            pidfile: f.pid,
            logfile: f.stdout,
            chdir: None,
            env: self.opts.env.get(node).cloned().unwrap_or_default(),
        })
    }

    /// The binaries `node` runs: unpacked once on this host (the local cluster), or on the
    /// node itself (SSH).
    pub async fn binaries(&self, node: &str) -> PlugResult<Binaries> {
        let failed = |e: rift_suite::SuiteError| RiftError::new("install", e.to_string());
        if !self.opts.install_on_nodes {
            // Once for all nodes, a failure too: the nodes after the first are told to look
            // at its error rather than each downloading again.
            let mut guard = self.local_bins.lock().await;
            match guard.as_ref() {
                Some(Ok(b)) => return Ok(b.clone()),
                Some(Err(_)) => {
                    return Err(RiftError::new(
                        "install",
                        format!(
                            "{node}: PD and TiKV could not be installed from {} (the first node's error says why)",
                            self.opts.sources.join(", ")
                        ),
                    ))
                }
                None => {}
            }
            let sources = self.opts.sources.clone();
            let b = tokio::task::spawn_blocking(move || dist::install_local(&sources))
                .await
                .map_err(|e| RiftError::new("install", e.to_string()))?
                .map_err(failed);
            *guard = Some(b.clone().map_err(|e| e.to_string()));
            return b;
        }
        if let Some(b) = self.node_bins.lock().await.get(node) {
            return Ok(b.clone());
        }
        let dest = format!("{}/tidb", rift_suite::ssh_home(node));
        let b = dist::install_on_node(&*self.remote, node, &self.opts.sources, &dest)
            .await
            .map_err(failed)?;
        self.node_bins
            .lock()
            .await
            .insert(node.to_string(), b.clone());
        Ok(b)
    }

    async fn signal(&self, node: &str, proc: Proc, signal: Signal) -> PlugResult<()> {
        let f = ProcFiles::of(self.dirs(node)?, proc);
        stop_daemon(&*self.remote, node, &f.pid, signal)
            .await
            .map_err(ctl)?;
        Ok(())
    }

    async fn launch(&self, node: &str, proc: Proc) -> PlugResult<()> {
        let bins = self.binaries(node).await?;
        start_daemon(&*self.remote, node, &self.spec(node, proc, &bins)?)
            .await
            .map_err(ctl)?;
        Ok(())
    }

    async fn running(&self, node: &str, proc: Proc) -> PlugResult<bool> {
        let f = ProcFiles::of(self.dirs(node)?, proc);
        daemon_running(&*self.remote, node, &f.pid)
            .await
            .map_err(ctl)
    }

    /// The last lines of `proc`'s log and standard output on `node`.
    pub async fn log_tail(&self, node: &str, proc: Proc) -> String {
        let Ok(d) = self.dirs(node) else {
            return String::new();
        };
        let f = ProcFiles::of(d, proc);
        let mut out = String::new();
        for file in [&f.log, &f.stdout] {
            let cmd = Cmd::shell(format!("tail -n 20 {}", shell_quote(file))).allow_failure();
            let text = match self.remote.exec(node, &cmd).await {
                Ok(o) if o.success() => output_tail(&o.stdout, 20, 4000),
                Ok(_) => "(none)".to_string(),
                Err(e) => format!("(could not read it: {e})"),
            };
            out.push_str(&format!("\n--- {file}:\n{text}"));
        }
        out
    }

    /// Whether `proc` on `node` answers its health check: PD's `/health` (the seed's), or
    /// TiKV's `/status`.
    pub async fn healthy(&self, node: &str, proc: Proc) -> Result<(), String> {
        let a = self.address(node).map_err(|e| e.to_string())?;
        let (endpoint, target) = match proc {
            Proc::Pd => (format!("{a}:{CLIENT_PORT}"), "/health"),
            Proc::Kv => (format!("{a}:{KV_STATUS_PORT}"), "/status"),
        };
        let get = |target: &'static str| {
            let endpoint = endpoint.clone();
            async move {
                rift_suite::http::request(
                    &endpoint,
                    "GET",
                    target,
                    &[],
                    b"",
                    Duration::from_secs(2),
                )
                .await
            }
        };
        let r = get(target).await?;
        if proc == Proc::Pd && r.status == 404 {
            // A PD without the embedded etcd's `/health`: a leader means it serves.
            let l = get("/pd/api/v1/leader").await?;
            let l = l.ok(&format!("GET /pd/api/v1/leader at {endpoint}"))?;
            return pd::parse_leader(&l.text()).map(|_| ());
        }
        r.ok(&format!("GET {target} at {endpoint}")).map(|_| ())
    }

    /// The seed's start-and-wait loop: starts `proc`, and every second until it is healthy
    /// starts it again if it has crashed, up to the deadline; then an error naming the node
    /// with the tail of its logs.
    pub async fn start_and_wait(&self, node: &str, proc: Proc) -> PlugResult<()> {
        let deadline = Instant::now() + self.opts.start_deadline;
        self.launch(node, proc).await?;
        let mut restarts = 0;
        loop {
            tokio::time::sleep(Duration::from_secs(1)).await;
            let last = match self.healthy(node, proc).await {
                Ok(()) => return Ok(()),
                Err(e) => e,
            };
            if Instant::now() >= deadline {
                return Err(RiftError::new(
                    "start-failed",
                    format!(
                        "{} on {node} did not become healthy in {:?} ({restarts} restarts; last: {last}); the tail of its logs:{}",
                        what(proc),
                        self.opts.start_deadline,
                        self.log_tail(node, proc).await
                    ),
                ));
            }
            if !self.running(node, proc).await? {
                restarts += 1;
                tracing::info!(
                    "{} on {node} crashed during start-up; starting it again",
                    what(proc)
                );
                self.launch(node, proc).await?;
            }
        }
    }

    /// Waits until PD lists every TiKV as an `Up` store.
    pub async fn await_stores(&self, node: &str, timeout: Duration) -> PlugResult<()> {
        let deadline = Instant::now() + timeout;
        let want = self.kv_addresses();
        loop {
            let last = match self.pd_get("/pd/api/v1/stores").await {
                Ok(body) => match pd::parse_stores(&body).and_then(|s| pd::stores_up(&s, &want)) {
                    Ok(()) => return Ok(()),
                    Err(e) => e,
                },
                Err(e) => e.to_string(),
            };
            if Instant::now() >= deadline {
                return Err(RiftError::new(
                    "start-failed",
                    format!("{node}: PD does not list every TiKV as Up after {timeout:?}: {last}"),
                ));
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    }

    /// `GET path` of PD's API, asked of the nodes in turn until one answers 2xx.
    pub async fn pd_get(&self, path: &str) -> PlugResult<String> {
        self.pd_call("GET", path, b"").await
    }

    async fn pd_call(&self, method: &str, path: &str, body: &[u8]) -> PlugResult<String> {
        let mut errors = Vec::new();
        for n in &self.order {
            let endpoint = format!("{}:{CLIENT_PORT}", self.nodes[n].address);
            let headers = [("content-type".to_string(), "application/json".to_string())];
            match rift_suite::http::request(
                &endpoint,
                method,
                path,
                &headers,
                body,
                Duration::from_secs(3),
            )
            .await
            .and_then(|r| r.ok(&format!("{method} {path} at {endpoint}")))
            {
                Ok(r) => return Ok(r.text()),
                Err(e) => errors.push(e),
            }
        }
        Err(RiftError::new(
            "unavailable",
            format!("no PD answered {method} {path}: {}", errors.join("; ")),
        ))
    }

    async fn setup_node(&self, node: &str) -> PlugResult<()> {
        let dirs = self.dirs(node)?.clone();
        let timeout = self.opts.start_deadline + Duration::from_secs(30);
        let prepare = async {
            for proc in [Proc::Kv, Proc::Pd] {
                self.signal(node, proc, Signal::Cont).await?;
                self.signal(node, proc, Signal::Kill).await?;
            }
            self.write_files(node, &dirs).await?;
            self.binaries(node).await?;
            self.start_and_wait(node, Proc::Pd).await
        };
        let pd = prepare.await;
        self.pd_gate
            .arrive(node, pd.map_err(|e| e.message), timeout)
            .await?;
        let kv = self.start_and_wait(node, Proc::Kv).await;
        self.kv_gate
            .arrive(node, kv.map_err(|e| e.message), timeout)
            .await?;
        self.await_stores(node, Duration::from_secs(120)).await
    }

    async fn write_files(&self, node: &str, dirs: &NodeDirs) -> PlugResult<()> {
        let pdf = ProcFiles::of(dirs, Proc::Pd);
        let kvf = ProcFiles::of(dirs, Proc::Kv);
        let log_dir = dirs.log_dir.display().to_string();
        let cmd = Cmd::new("sh").args([
            "-c",
            &format!(
                "rm -rf {pd} {kv} {pdl} {kvl} {pdo} {kvo} && mkdir -p {pd} {kv} {l}",
                pd = shell_quote(&pdf.data),
                kv = shell_quote(&kvf.data),
                pdl = shell_quote(&pdf.log),
                kvl = shell_quote(&kvf.log),
                pdo = shell_quote(&pdf.stdout),
                kvo = shell_quote(&kvf.stdout),
                l = shell_quote(&log_dir),
            ),
        ]);
        self.remote.exec(node, &cmd).await.map_err(ctl)?;
        write_file(
            &*self.remote,
            node,
            &pdf.config,
            pd_config(self.opts.replicas).as_bytes(),
        )
        .await
        .map_err(ctl)?;
        write_file(&*self.remote, node, &kvf.config, kv_config().as_bytes())
            .await
            .map_err(ctl)
    }

    async fn wipe(&self, node: &str) -> PlugResult<()> {
        let d = self.dirs(node)?;
        let cmd = Cmd::new("rm").args([
            "-rf",
            &ProcFiles::of(d, Proc::Pd).data,
            &ProcFiles::of(d, Proc::Kv).data,
        ]);
        self.remote.exec(node, &cmd).await.map_err(ctl)?;
        Ok(())
    }
}

fn what(proc: Proc) -> &'static str {
    match proc {
        Proc::Pd => "PD",
        Proc::Kv => "TiKV",
    }
}

#[async_trait]
impl TikvControl for TikvDb {
    async fn process(&self, node: &str, proc: Proc, action: Action) -> PlugResult<()> {
        match action {
            Action::Kill => self.signal(node, proc, Signal::Kill).await,
            Action::Start => self.launch(node, proc).await,
            Action::Pause => self.signal(node, proc, Signal::Stop).await,
            Action::Resume => self.signal(node, proc, Signal::Cont).await,
        }
    }

    async fn pd_leader(&self) -> PlugResult<String> {
        let body = self.pd_get("/pd/api/v1/leader").await?;
        let leader = pd::parse_leader(&body).map_err(|e| RiftError::new("pd", e))?;
        pd::node_of(&leader.name, &self.order).ok_or_else(|| {
            RiftError::new(
                "pd",
                format!(
                    "the PD leader {:?} is none of this run's nodes",
                    leader.name
                ),
            )
        })
    }

    async fn scheduler(&self, name: &str, add: bool) -> PlugResult<String> {
        if add {
            let body = pd::add_scheduler_body(name);
            self.pd_call("POST", "/pd/api/v1/schedulers", body.as_bytes())
                .await
        } else {
            self.pd_call("DELETE", &format!("/pd/api/v1/schedulers/{name}"), b"")
                .await
        }
    }
}

#[async_trait]
impl Db for TikvDb {
    async fn setup(&self, _test: &TestInfo, node: &str) -> PlugResult<()> {
        self.setup_node(node).await
    }

    async fn teardown(&self, _test: &TestInfo, node: &str) -> PlugResult<()> {
        for proc in [Proc::Kv, Proc::Pd] {
            self.signal(node, proc, Signal::Cont).await?;
            self.signal(node, proc, Signal::Kill).await?;
        }
        self.wipe(node).await
    }

    /// Both processes (the seed's `kill` is `kill-pd` and `kill-kv`).
    async fn kill(&self, _test: &TestInfo, node: &str) -> PlugResult<()> {
        self.signal(node, Proc::Kv, Signal::Kill).await?;
        self.signal(node, Proc::Pd, Signal::Kill).await
    }

    async fn start(&self, _test: &TestInfo, node: &str) -> PlugResult<()> {
        self.launch(node, Proc::Pd).await?;
        self.launch(node, Proc::Kv).await
    }

    async fn is_running(&self, _test: &TestInfo, node: &str) -> PlugResult<bool> {
        Ok(self.running(node, Proc::Pd).await? && self.running(node, Proc::Kv).await?)
    }

    async fn pause(&self, _test: &TestInfo, node: &str) -> PlugResult<()> {
        self.signal(node, Proc::Kv, Signal::Stop).await?;
        self.signal(node, Proc::Pd, Signal::Stop).await
    }

    async fn resume(&self, _test: &TestInfo, node: &str) -> PlugResult<()> {
        self.signal(node, Proc::Pd, Signal::Cont).await?;
        self.signal(node, Proc::Kv, Signal::Cont).await
    }

    /// The PD leader's node (what a `primaries` partition isolates).
    async fn primaries(&self, _test: &TestInfo) -> PlugResult<Vec<String>> {
        Ok(vec![self.pd_leader().await?])
    }

    fn log_files(&self, _test: &TestInfo, node: &str) -> Vec<PathBuf> {
        let Ok(d) = self.dirs(node) else {
            return Vec::new();
        };
        [Proc::Pd, Proc::Kv]
            .into_iter()
            .flat_map(|p| {
                let f = ProcFiles::of(d, p);
                [f.log, f.stdout, f.config].map(PathBuf::from)
            })
            .collect()
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

    fn db(n: u8) -> TikvDb {
        let nodes = rift_control::testkit::fake_node_dirs(n);
        TikvDb::new(
            Arc::new(NoRemote),
            nodes,
            TikvOptions::new(vec!["/t/tidb.tar.gz".into()]),
        )
        .unwrap()
    }

    #[test]
    fn pd_runs_with_the_seeds_flags() {
        let db = db(3);
        assert_eq!(
            db.pd_args("n2").unwrap(),
            [
                "--name=pd2",
                "--data-dir=/r/n2/data/pd",
                "--client-urls=http://0.0.0.0:2379",
                "--peer-urls=http://0.0.0.0:2380",
                "--advertise-client-urls=http://10.9.0.2:2379",
                "--advertise-peer-urls=http://10.9.0.2:2380",
                "--initial-cluster=pd1=http://10.9.0.1:2380,pd2=http://10.9.0.2:2380,pd3=http://10.9.0.3:2380",
                "--log-file=/r/n2/log/pd.log",
                "--config=/r/n2/log/pd.toml",
            ]
        );
        assert!(db.pd_args("n9").is_err());
        let bins = Binaries {
            pd: "/c/bin/pd-server".into(),
            kv: "/c/bin/tikv-server".into(),
            pd_ctl: None,
        };
        let s = db.spec("n2", Proc::Pd, &bins).unwrap();
        assert_eq!(s.bin, "/c/bin/pd-server");
        assert_eq!(s.pidfile, "/r/n2/log/pd.pid");
        assert_eq!(s.logfile, "/r/n2/log/pd.stdout");
    }

    #[test]
    fn tikv_runs_with_every_pd_and_a_raised_file_limit() {
        let db = db(3);
        let bins = Binaries {
            pd: "/c/bin/pd-server".into(),
            kv: "/c/bin/tikv-server".into(),
            pd_ctl: None,
        };
        let s = db.spec("n3", Proc::Kv, &bins).unwrap();
        assert_eq!(s.bin, "sh");
        assert_eq!(s.args[0], "-c");
        assert_eq!(s.args[1], RAISE_NOFILE);
        assert!(RAISE_NOFILE.starts_with("ulimit -n 1048576"));
        assert!(RAISE_NOFILE.ends_with("exec \"$0\" \"$@\""));
        assert_eq!(
            &s.args[2..],
            [
                "/c/bin/tikv-server",
                "--pd=10.9.0.1:2379,10.9.0.2:2379,10.9.0.3:2379",
                "--addr=0.0.0.0:20160",
                "--advertise-addr=10.9.0.3:20160",
                "--status-addr=0.0.0.0:20180",
                "--advertise-status-addr=10.9.0.3:20180",
                "--data-dir=/r/n3/data/kv",
                "--log-file=/r/n3/log/kv.log",
                "--config=/r/n3/log/kv.toml",
            ]
        );
        assert_eq!(s.pidfile, "/r/n3/log/kv.pid");
        assert_eq!(
            db.kv_addresses(),
            ["10.9.0.1:20160", "10.9.0.2:20160", "10.9.0.3:20160"]
        );
    }

    #[test]
    fn the_sh_wrapper_raises_the_limit_and_keeps_the_pid() {
        // The wrapper as TiKV's start runs it, with a stand-in program printing its pid,
        // its arguments and its limit.
        let out = std::process::Command::new("sh")
            .args([
                "-c",
                RAISE_NOFILE,
                "sh",
                "-c",
                "echo $$ $(ulimit -n) \"$0\"",
                "arg0",
            ])
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        let fields: Vec<&str> = text.split_whitespace().collect();
        assert_eq!(fields.len(), 3, "{text}");
        assert_eq!(fields[2], "arg0");
        let limit: u64 = fields[1].parse().unwrap();
        assert!(limit >= 1024, "{text}");
    }

    #[test]
    fn configs_carry_the_seeds_settings_and_what_one_machine_needs() {
        let p = pd_config(3);
        for line in [
            "tick-interval = \"50ms\"",
            "election-interval = \"300ms\"",
            "max-store-down-time = \"100h\"",
            "type = \"hot-region\"",
            "[replication]\nmax-replicas = 3",
        ] {
            assert!(p.contains(line), "{line} in\n{p}");
        }
        let k = kv_config();
        for line in [
            "status-addr = \"0.0.0.0:20180\"",
            "raft-store-max-leader-lease = \"50ms\"",
            "sync-log = true",
            "region-max-keys = 5",
            "reserve-space = \"0MB\"",
            "capacity = \"256MB\"",
        ] {
            assert!(k.contains(line), "{line} in\n{k}");
        }
    }

    #[tokio::test(flavor = "current_thread")]
    async fn the_setup_barrier_waits_for_all_and_names_a_failed_node() {
        let g = Arc::new(Gate::new("PD", 3));
        let t = Duration::from_secs(5);
        let (a, b) = (g.clone(), g.clone());
        let h1 = tokio::spawn(async move { a.arrive("n1", Ok(()), t).await });
        let h2 = tokio::spawn(async move { b.arrive("n2", Ok(()), t).await });
        tokio::task::yield_now().await;
        assert!(!h1.is_finished());
        g.arrive("n3", Ok(()), t).await.unwrap();
        h1.await.unwrap().unwrap();
        h2.await.unwrap().unwrap();

        let g = Arc::new(Gate::new("TiKV", 3));
        let a = g.clone();
        let h1 = tokio::spawn(async move { a.arrive("n1", Ok(()), t).await });
        let e = g
            .arrive("n2", Err("n2: TiKV exited".into()), t)
            .await
            .unwrap_err();
        assert_eq!(e.to_string(), "start-failed: n2: TiKV exited");
        let e = h1.await.unwrap().unwrap_err();
        assert!(
            e.to_string()
                .contains("n1: not starting TiKV because n2 failed: n2: TiKV exited"),
            "{e}"
        );

        let g = Gate::new("PD", 2);
        let e = g
            .arrive("n1", Ok(()), Duration::from_millis(20))
            .await
            .unwrap_err();
        assert!(e.to_string().contains("arrived: n1"), "{e}");
    }
}
