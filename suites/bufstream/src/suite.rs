//! `rift test --db bufstream --bin FILE`: jepsen.bufstream's cluster, faults and command line.
//!
//! Roles as the seed's `core/roles`: the first node runs etcd (`coordination`), the second the
//! object store (`storage`), the rest Bufstream (`bufstream`). The seed's fault names work as
//! the seed reads them: a plain `kill`, `pause` or `clock` hits each role (one, a majority or
//! all of the Bufstream nodes; the whole of the one-node roles), a plain `partition` splits the
//! Bufstream nodes among themselves and from etcd and from the store, and `kill-storage`,
//! `partition-bufstream-coordination` and the rest target what they name.

use crate::broker::{Broker, BrokerOptions, KAFKA_PORT};
use crate::store::{ensure_minio, ensure_s3s_fs, Store, StoreKind};
use async_trait::async_trait;
use clap::{ArgMatches, Args, FromArgMatches};
use rift_checker::Checker;
use rift_control::{Cmd, NodeDirs, Remote};
use rift_core::{Db, PlugResult, RiftError, Test, TestInfo};
use rift_kafka_suite::queue::{
    bootstrap_to_brokers, checker_of_spec, queue_test, QueueArgs, QueueSystem,
};
use rift_nemesis::Roles;
use rift_suite::daemon_db::archive_dir;
use rift_suite::DaemonDb;
use rift_suite::{Common, Place, RoleDb, RolePart, Suite, SuiteError};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The coordination role (etcd).
pub const COORDINATION: &str = "coordination";
/// The storage role (the object store).
pub const STORAGE: &str = "storage";
/// The bufstream role.
pub const BUFSTREAM: &str = "bufstream";

/// The seed's `all-nemeses`: none, partition, kill, pause, clock, Bufstream's own faults,
/// general chaos.
pub const TEST_ALL_NEMESES: &[&str] = &[
    "none",
    "partition",
    "kill",
    "pause",
    "clock",
    "kill-bufstream,pause-bufstream,clock-bufstream,partition",
    "partition,pause,kill,clock",
];

/// The seed's fault sets; on the local cluster without their clock faults (Bufstream, etcd
/// and MinIO are Go programs, which LD_PRELOAD cannot skew), the clock-only set dropped.
pub fn test_all_nemeses(over_ssh: bool) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for set in TEST_ALL_NEMESES {
        let kept: Vec<&str> = set
            .split(',')
            .filter(|f| over_ssh || !(*f == "clock" || f.starts_with("clock-")))
            .collect();
        let s = kept.join(",");
        if !s.is_empty() && !out.contains(&s) {
            out.push(s);
        }
    }
    out
}

/// The Bufstream suite's own options (jepsen.bufstream's), beside the queue workload's.
#[derive(Args, Clone, Debug)]
pub struct BufstreamArgs {
    /// The Bufstream binary to run (a file on this machine, uploaded to SSH nodes).
    #[arg(short = 'b', long = "bin", default_value = "bufstream")]
    pub bin: PathBuf,
    /// A MinIO server binary for the storage role (as the seed runs); without it, rift
    /// builds MinIO once from source (`go install`) into its cache.
    #[arg(long)]
    pub minio_bin: Option<PathBuf>,
    /// The object store: minio (the seed's) or s3s-fs (lighter; its conditional writes are
    /// not atomic, so anomalies that depend on them would not be Bufstream's).
    #[arg(long, default_value = "minio", value_parser = ["minio", "s3s-fs"])]
    pub s3_store: String,
    /// The etcd version SSH nodes download (the local cluster runs Debian's etcd).
    #[arg(long, default_value = "3.5.15")]
    pub etcd_version: String,
    /// kafka.fetch_eager in bufstream.yaml (the default).
    #[arg(long = "fetch-eager", overrides_with = "no_fetch_eager")]
    pub fetch_eager: bool,
    /// kafka.fetch_eager: false.
    #[arg(long = "no-fetch-eager")]
    pub no_fetch_eager: bool,
    /// kafka.fetch_sync in bufstream.yaml (the default).
    #[arg(long = "fetch-sync", overrides_with = "no_fetch_sync")]
    pub fetch_sync: bool,
    /// kafka.fetch_sync: false.
    #[arg(long = "no-fetch-sync")]
    pub no_fetch_sync: bool,
    /// Bufstream's log level: DEBUG, INFO, WARN or ERROR.
    #[arg(long, default_value = "INFO")]
    pub bufstream_log_level: String,
    /// Disables Bufstream's archiving (archive.min_bytes: -1), for debugging.
    #[arg(long)]
    pub no_archive: bool,
    /// Captures Kafka traffic to each Bufstream node into nX/tcpdump.pcap.
    #[arg(long)]
    pub tcpdump: bool,
    /// Logs the watchdog's checks of each node (every check, not only restarts).
    #[arg(long)]
    pub debug_watchdog: bool,
    /// The queue workload's options.
    #[command(flatten)]
    pub queue: QueueArgs,
}

impl BufstreamArgs {
    fn broker_options(&self) -> BrokerOptions {
        BrokerOptions {
            fetch_eager: !self.no_fetch_eager,
            fetch_sync: !self.no_fetch_sync,
            log_level: self.bufstream_log_level.clone(),
            no_archive: self.no_archive,
            tcpdump: self.tcpdump,
        }
    }

    /// The checks that need no cluster: the binaries, the log level.
    pub fn check(&self) -> Result<(), SuiteError> {
        check_binary("--bin", &self.bin, "the Bufstream binary")?;
        if let Some(m) = &self.minio_bin {
            check_binary("--minio-bin", m, "a MinIO server binary")?;
        }
        let level = self.bufstream_log_level.to_ascii_uppercase();
        if !["DEBUG", "INFO", "WARN", "ERROR"].contains(&level.as_str()) {
            return Err(SuiteError::bad(format!(
                "--bufstream-log-level {:?}: expected DEBUG, INFO, WARN or ERROR",
                self.bufstream_log_level
            )));
        }
        Ok(())
    }
}

/// A binary the user names: it must be an executable file (kept here for the suites that
/// name it through this crate).
pub use rift_suite::check_binary;

/// The seed's roles: node 1 coordination, node 2 storage, the rest bufstream.
pub fn roles_of(nodes: &[String]) -> Roles {
    let mut r = Roles::new();
    r.insert(COORDINATION.into(), nodes.iter().take(1).cloned().collect());
    r.insert(
        STORAGE.into(),
        nodes.iter().skip(1).take(1).cloned().collect(),
    );
    r.insert(BUFSTREAM.into(), nodes.iter().skip(2).cloned().collect());
    r
}

/// The faults the seed's names stand for: a plain `kill`, `pause` or `clock` is that fault in
/// each role; a plain `partition` is the partitions among the Bufstream nodes and between
/// them and each dependency. Role-scoped names are kept.
pub fn expand_faults(faults: &BTreeSet<String>) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for f in faults {
        match f.as_str() {
            "kill" | "pause" | "clock" => {
                for role in [BUFSTREAM, STORAGE, COORDINATION] {
                    out.insert(format!("{f}-{role}"));
                }
            }
            "partition" => {
                out.insert(format!("partition-{BUFSTREAM}"));
                out.insert(format!("partition-{BUFSTREAM}-{COORDINATION}"));
                out.insert(format!("partition-{BUFSTREAM}-{STORAGE}"));
            }
            other => {
                out.insert(other.to_string());
            }
        }
    }
    out
}

/// The roles whose programs are static Go binaries on the local cluster: they ignore
/// `LD_PRELOAD`, so no clock fault can reach them there.
fn go_roles(minio: bool) -> Vec<&'static str> {
    let mut v = vec![BUFSTREAM, COORDINATION];
    if minio {
        v.push(STORAGE);
    }
    v
}

/// Clock faults on the local cluster that cannot be applied, with why.
fn refuse_local_clock(
    faults: &BTreeSet<String>,
    minio: bool,
    over_ssh: bool,
) -> Result<(), SuiteError> {
    if over_ssh {
        return Ok(());
    }
    let go = go_roles(minio);
    if let Some(f) = faults
        .iter()
        .find(|f| go.iter().any(|r| **f == format!("clock-{r}")))
    {
        return Err(SuiteError::bad(format!(
            "--nemesis {f}: on the local cluster clocks are skewed through LD_PRELOAD, which \
             Go programs (Bufstream, etcd, MinIO) ignore; clock faults on them need SSH nodes"
        )));
    }
    Ok(())
}

/// etcd for the coordination role, with its data directory archived into the store as
/// `data.tar.bz2` (the seed's `n1/data.tar.bz2`).
struct Coordination {
    etcd: rift_etcd::EtcdDb,
    remote: Arc<dyn Remote>,
    dirs: BTreeMap<String, NodeDirs>,
}

#[async_trait]
impl Db for Coordination {
    async fn setup(&self, t: &TestInfo, n: &str) -> PlugResult<()> {
        self.etcd.setup(t, n).await
    }
    async fn teardown(&self, t: &TestInfo, n: &str) -> PlugResult<()> {
        self.etcd.teardown(t, n).await
    }
    async fn kill(&self, t: &TestInfo, n: &str) -> PlugResult<()> {
        self.etcd.kill(t, n).await
    }
    async fn start(&self, t: &TestInfo, n: &str) -> PlugResult<()> {
        self.etcd.start(t, n).await
    }
    async fn is_running(&self, t: &TestInfo, n: &str) -> PlugResult<bool> {
        self.etcd.is_running(t, n).await
    }
    async fn pause(&self, t: &TestInfo, n: &str) -> PlugResult<()> {
        self.etcd.pause(t, n).await
    }
    async fn resume(&self, t: &TestInfo, n: &str) -> PlugResult<()> {
        self.etcd.resume(t, n).await
    }
    fn log_files(&self, t: &TestInfo, n: &str) -> Vec<PathBuf> {
        self.etcd.log_files(t, n)
    }
    async fn fetch_logs(&self, t: &TestInfo, n: &str, dest: &Path) -> Vec<String> {
        let mut failures = self.etcd.fetch_logs(t, n, dest).await;
        let Some(d) = self.dirs.get(n) else {
            return failures;
        };
        let tarball = d.log_dir.join("data.tar.bz2").display().to_string();
        let data = d.data_dir.display().to_string();
        let remote = &*self.remote;
        match archive_dir(remote, n, &data, rift_etcd::DATA_SUBDIR, &tarball).await {
            Ok(()) => {
                let files = [PathBuf::from(tarball)];
                failures.extend(rift_control::fetch_files(remote, n, &files, dest).await);
            }
            Err(e) => failures.push(e),
        }
        failures
    }
}

/// The three roles' databases on `place`, and the bootstrap address of every node (the
/// coordination and storage nodes' clients go to Bufstream nodes, as the seed's
/// `restrict-client`).
pub struct Cluster {
    /// The role database.
    pub db: Arc<RoleDb>,
    /// Each node's Kafka bootstrap address.
    pub bootstrap: BTreeMap<String, String>,
    /// The roles.
    pub roles: Roles,
    /// The store's S3 API.
    pub s3: crate::s3::S3,
}

/// One node per dependency and at least one Bufstream node.
fn check_nodes(n: usize) -> Result<(), SuiteError> {
    if n < 3 {
        return Err(SuiteError::bad(format!(
            "the Bufstream suite needs at least 3 nodes (etcd, storage, Bufstream), got {n}"
        )));
    }
    Ok(())
}

/// Builds the cluster's databases (nothing runs yet).
pub fn cluster(a: &BufstreamArgs, place: &Place) -> Result<Cluster, SuiteError> {
    let nodes = place.nodes();
    check_nodes(nodes.len())?;
    let roles = roles_of(&nodes);
    let dirs: BTreeMap<String, NodeDirs> = place
        .node_dirs()
        .map_err(SuiteError::failed)?
        .into_iter()
        .collect();
    let of = |role: &str| rift_suite::role_dirs(&roles, role, &dirs);
    let remote = place.remote();
    let over_ssh = place.local().is_none();
    let etcd_opts = rift_etcd::EtcdOptions {
        install_on_nodes: over_ssh,
        archive: over_ssh.then(|| {
            format!(
                "https://github.com/etcd-io/etcd/releases/download/v{v}/etcd-v{v}-linux-amd64.tar.gz",
                v = a.etcd_version
            )
        }),
        ..rift_etcd::EtcdOptions::default()
    };
    let etcd = rift_etcd::EtcdDb::new(remote.clone(), of(COORDINATION), etcd_opts)
        .map_err(SuiteError::failed)?;
    let coordination = Coordination {
        etcd,
        remote: remote.clone(),
        dirs: of(COORDINATION).into_iter().collect(),
    };
    let cache = rift_control::cache_dir();
    let kind = match (&a.minio_bin, a.s3_store.as_str()) {
        (Some(m), _) => StoreKind::Minio(m.clone()),
        (None, "s3s-fs") => {
            tracing::warn!(
                "--s3-store s3s-fs: its conditional writes are not atomic and it never fsyncs; \
                 an anomaly that rests on the store may be s3s-fs's, not Bufstream's"
            );
            StoreKind::S3sFs(ensure_s3s_fs(&cache).map_err(SuiteError::failed)?)
        }
        (None, _) => StoreKind::Minio(ensure_minio(&cache).map_err(SuiteError::failed)?),
    };
    let local_bin = |p: &Path| -> String {
        std::fs::canonicalize(p)
            .unwrap_or_else(|_| p.to_path_buf())
            .display()
            .to_string()
    };
    // On SSH nodes the binaries are uploaded into each node's home by setup (see
    // `Uploaded`); on the local cluster the nodes share this file system.
    let (store_bin, broker_bin) = match place {
        Place::Local(_) => {
            let sb = match &kind {
                StoreKind::Minio(p) | StoreKind::S3sFs(p) => local_bin(p),
            };
            (sb, local_bin(&a.bin))
        }
        Place::Ssh(s) => {
            let first = s.addresses.keys().next().cloned().unwrap_or_default();
            let home = rift_suite::ssh_home(&first);
            (format!("{home}/store-server"), format!("{home}/bufstream"))
        }
    };
    let address = |role: &str| dirs[&roles[role][0]].address;
    let s3 = Store::s3(address(STORAGE));
    let store = DaemonDb::new(
        remote.clone(),
        of(STORAGE),
        Store {
            kind: kind.clone(),
            bin: store_bin.clone(),
        },
    );
    let broker = DaemonDb::new(
        remote.clone(),
        of(BUFSTREAM),
        Broker {
            bin: broker_bin.clone(),
            etcd: address(COORDINATION),
            store: address(STORAGE),
            opts: a.broker_options(),
        },
    );
    let (store, broker): (Arc<dyn Db>, Arc<dyn Db>) = match place {
        Place::Local(_) => (Arc::new(store), Arc::new(broker)),
        Place::Ssh(_) => {
            let src = match &kind {
                StoreKind::Minio(p) | StoreKind::S3sFs(p) => p.clone(),
            };
            (
                Arc::new(Uploaded::new(store, remote.clone(), src, store_bin)),
                Arc::new(Uploaded::new(
                    broker,
                    remote.clone(),
                    a.bin.clone(),
                    broker_bin,
                )),
            )
        }
    };
    let parts = vec![
        RolePart {
            role: COORDINATION.into(),
            db: Arc::new(coordination),
            nodes: roles[COORDINATION].clone(),
            tier: 0,
        },
        RolePart {
            role: STORAGE.into(),
            db: store,
            nodes: roles[STORAGE].clone(),
            tier: 0,
        },
        RolePart {
            role: BUFSTREAM.into(),
            db: broker,
            nodes: roles[BUFSTREAM].clone(),
            tier: 1,
        },
    ];
    let db = Arc::new(RoleDb::new(parts).map_err(SuiteError::failed)?);
    let addresses = dirs.iter().map(|(n, d)| (n.clone(), d.address)).collect();
    let bootstrap = bootstrap_to_brokers(&nodes, &roles[BUFSTREAM], &addresses, KAFKA_PORT);
    Ok(Cluster {
        db,
        bootstrap,
        roles,
        s3,
    })
}

/// A role db whose binary is uploaded to each node before its setup (SSH nodes).
pub struct Uploaded<D> {
    inner: D,
    remote: Arc<dyn Remote>,
    local: PathBuf,
    on_node: String,
}

impl<D> Uploaded<D> {
    /// `inner`, with `local` uploaded to `on_node` first.
    pub fn new(inner: D, remote: Arc<dyn Remote>, local: PathBuf, on_node: String) -> Self {
        Uploaded {
            inner,
            remote,
            local,
            on_node,
        }
    }
}

#[async_trait]
impl<D: Db> Db for Uploaded<D> {
    async fn setup(&self, t: &TestInfo, n: &str) -> PlugResult<()> {
        let e = |e: rift_control::ControlError| RiftError::new("install", e.to_string());
        self.remote
            .upload(n, &self.local, &self.on_node)
            .await
            .map_err(e)?;
        self.remote
            .exec(n, &Cmd::new("chmod").args(["+x", &self.on_node]))
            .await
            .map_err(e)?;
        self.inner.setup(t, n).await
    }
    async fn teardown(&self, t: &TestInfo, n: &str) -> PlugResult<()> {
        self.inner.teardown(t, n).await
    }
    async fn kill(&self, t: &TestInfo, n: &str) -> PlugResult<()> {
        self.inner.kill(t, n).await
    }
    async fn start(&self, t: &TestInfo, n: &str) -> PlugResult<()> {
        self.inner.start(t, n).await
    }
    async fn is_running(&self, t: &TestInfo, n: &str) -> PlugResult<bool> {
        self.inner.is_running(t, n).await
    }
    async fn pause(&self, t: &TestInfo, n: &str) -> PlugResult<()> {
        self.inner.pause(t, n).await
    }
    async fn resume(&self, t: &TestInfo, n: &str) -> PlugResult<()> {
        self.inner.resume(t, n).await
    }
    fn log_files(&self, t: &TestInfo, n: &str) -> Vec<PathBuf> {
        self.inner.log_files(t, n)
    }
    async fn fetch_logs(&self, t: &TestInfo, n: &str, dest: &Path) -> Vec<String> {
        self.inner.fetch_logs(t, n, dest).await
    }
}

/// The run's faults, expanded as the seed reads them, and refused where they cannot work.
pub fn run_faults(
    a: &BufstreamArgs,
    common: &Common,
    roles: &Roles,
    over_ssh: bool,
) -> Result<(BTreeSet<String>, BTreeSet<String>), SuiteError> {
    let named = common.faults(roles)?;
    let faults = expand_faults(&named);
    let minio = a.minio_bin.is_some() || a.s3_store == "minio";
    refuse_local_clock(&faults, minio, over_ssh)?;
    Ok((named, faults))
}

/// Builds one run on `place`.
pub fn build_test(
    a: &BufstreamArgs,
    m: &ArgMatches,
    common: &Common,
    place: &Place,
) -> Result<Test, SuiteError> {
    a.check()?;
    let r = a.queue.resolve(m);
    a.queue.check(&r)?;
    let c = cluster(a, place)?;
    let (named, faults) = run_faults(a, common, &c.roles, place.local().is_none())?;
    let name = a
        .bin
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "bufstream".into());
    let mut spec = serde_json::Map::new();
    spec.insert("db".into(), "bufstream".into());
    spec.insert("bin".into(), a.bin.display().to_string().into());
    let storage = if a.minio_bin.is_some() {
        "minio"
    } else {
        a.s3_store.as_str()
    };
    spec.insert("storage".into(), storage.into());
    spec.insert("fetch-eager".into(), (!a.no_fetch_eager).into());
    spec.insert("fetch-sync".into(), (!a.no_fetch_sync).into());
    spec.insert("no-archive".into(), a.no_archive.into());
    let sys = QueueSystem {
        name,
        db: c.db,
        bootstrap: c.bootstrap,
        roles: c.roles,
        replication_factor: 3,
        min_insync_replicas: 2,
        spec,
        named_faults: Some(named),
    };
    // The seed always runs its watchdog (every second) on Bufstream.
    let mut common = common.clone();
    common.watchdog_s = Some(common.watchdog_s.unwrap_or(1.0));
    common.watchdog_debug |= a.debug_watchdog;
    queue_test(&a.queue, &r, &common, place, faults, sys)
}

/// The Bufstream suite in the CLI's table.
pub struct BufstreamSuite;

impl Suite for BufstreamSuite {
    fn name(&self) -> &'static str {
        "bufstream"
    }

    fn about(&self) -> &'static str {
        "Bufstream (your --bin) on etcd and an S3 store, as jepsen.bufstream: the queue workload"
    }

    fn workloads(&self) -> &'static [&'static str] {
        rift_kafka_suite::queue::WORKLOADS
    }

    fn default_nemesis(&self) -> &'static str {
        rift_kafka_suite::queue::DEFAULT_NEMESIS
    }

    fn default_concurrency(&self) -> &'static str {
        rift_kafka_suite::queue::DEFAULT_CONCURRENCY
    }

    fn default_rate_hz(&self) -> Option<f64> {
        Some(rift_kafka_suite::queue::DEFAULT_RATE_HZ)
    }

    fn test_all_nemeses(&self, over_ssh: bool) -> Vec<String> {
        test_all_nemeses(over_ssh)
    }

    fn roles(&self, nodes: &[String]) -> Roles {
        roles_of(nodes)
    }

    fn args(&self, cmd: clap::Command) -> clap::Command {
        BufstreamArgs::augment_args(cmd)
    }

    fn check_args(
        &self,
        m: &ArgMatches,
        common: &Common,
        over_ssh: bool,
    ) -> Result<(), SuiteError> {
        let a = BufstreamArgs::from_arg_matches(m)?;
        a.check()?;
        a.queue.check(&a.queue.resolve(m))?;
        check_nodes(common.nodes.len())?;
        let roles = self.roles(&common.nodes);
        run_faults(&a, common, &roles, over_ssh).map(|_| ())
    }

    fn build(
        &self,
        m: &ArgMatches,
        common: &Common,
        place: Option<&Place>,
    ) -> Result<Test, SuiteError> {
        let a = BufstreamArgs::from_arg_matches(m)?;
        let place = place.ok_or_else(|| SuiteError::failed("the Bufstream suite needs nodes"))?;
        build_test(&a, m, common, place)
    }

    fn checker(&self, spec: &serde_json::Value) -> Result<Box<dyn Checker>, String> {
        Ok(checker_of_spec(spec))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(v: &[&str]) -> BTreeSet<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn the_seeds_fault_names_expand_per_role() {
        assert_eq!(
            expand_faults(&set(&["kill", "partition"])),
            set(&[
                "kill-bufstream",
                "kill-coordination",
                "kill-storage",
                "partition-bufstream",
                "partition-bufstream-coordination",
                "partition-bufstream-storage",
            ])
        );
        assert_eq!(
            expand_faults(&set(&["kill-storage", "partition-bufstream-storage"])),
            set(&["kill-storage", "partition-bufstream-storage"])
        );
    }

    #[test]
    fn test_all_drops_clock_faults_on_the_local_cluster_only() {
        assert_eq!(test_all_nemeses(true).len(), TEST_ALL_NEMESES.len());
        assert_eq!(
            test_all_nemeses(false),
            [
                "none",
                "partition",
                "kill",
                "pause",
                "kill-bufstream,pause-bufstream,partition",
                "partition,pause,kill",
            ]
        );
    }

    #[test]
    fn roles_follow_the_seed() {
        let nodes: Vec<String> = (1..=5).map(|i| format!("n{i}")).collect();
        let r = roles_of(&nodes);
        assert_eq!(r[COORDINATION], ["n1"]);
        assert_eq!(r[STORAGE], ["n2"]);
        assert_eq!(r[BUFSTREAM], ["n3", "n4", "n5"]);
    }

    #[test]
    fn clock_faults_on_go_programs_need_ssh() {
        let e = refuse_local_clock(&set(&["clock-bufstream"]), false, false)
            .unwrap_err()
            .to_string();
        assert!(e.contains("need SSH nodes"), "{e}");
        assert!(refuse_local_clock(&set(&["clock-storage"]), false, false).is_ok());
        assert!(refuse_local_clock(&set(&["clock-storage"]), true, false).is_err());
        assert!(refuse_local_clock(&set(&["clock-bufstream"]), false, true).is_ok());
    }

    #[test]
    fn binaries_must_be_executable_files() {
        let dir = tempfile::tempdir().unwrap();
        let e = check_binary("--bin", &dir.path().join("nope"), "the Bufstream binary")
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("--bin ") && e.contains("No such file"), "{e}");
        assert!(check_binary("--bin", dir.path(), "x")
            .unwrap_err()
            .to_string()
            .contains("not a file"));
        let f = dir.path().join("bufstream");
        std::fs::write(&f, "#!/bin/sh\n").unwrap();
        assert!(check_binary("--bin", &f, "x")
            .unwrap_err()
            .to_string()
            .contains("not executable"));
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o755)).unwrap();
        assert!(check_binary("--bin", &f, "x").is_ok());
    }
}
