//! A whole etcd test on a local cluster: db, client, faults, generator and checker together,
//! as `rift test --db etcd` runs it.

use crate::client::{ClientOptions, EtcdClient, EtcdWorkload};
use crate::db::{EtcdDb, EtcdOptions};
use crate::gen::{checker, generator};
use crate::EtcdError;
use rift_control::LocalCluster;
use rift_core::{RunOptions, Test};
use rift_nemesis::{LocalNemesis, PackageOptions};
use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

/// Everything an etcd test needs besides the cluster.
#[derive(Clone, Debug)]
pub struct EtcdTestOptions {
    /// The workload.
    pub workload: EtcdWorkload,
    /// Total client ops per second (0: as fast as possible).
    pub rate_hz: f64,
    /// How long the main phase runs.
    pub time_limit: Duration,
    /// Client threads.
    pub concurrency: u32,
    /// The run's seed.
    pub seed: u64,
    /// Fault kinds (`partition`, `kill`, `pause`, ...; see `rift_nemesis::parse_faults`).
    pub faults: BTreeSet<String>,
    /// Seconds between fault ops (`--nemesis-interval`).
    pub nemesis_interval_s: f64,
    /// Quiet time after healing, before the final phase (only `set` has one).
    pub recovery: Duration,
    /// How etcd is installed and run.
    pub db: EtcdOptions,
    /// How clients talk to it (timeouts, serializable reads).
    pub client: ClientOptions,
    /// Runner options.
    pub run: RunOptions,
    /// Rotate the fault packages every this many ns (`--nemesis-rotate`); None: all together.
    pub rotate_ns: Option<i64>,
    /// Restarts members that died on their own (`--watchdog`).
    pub watchdog: Option<Arc<rift_core::Watchdog>>,
}

impl EtcdTestOptions {
    /// A test of `workload` with no faults, 10 ops/s, 60 s, 5 threads, seed 0, Jepsen's 10 s
    /// nemesis interval and 10 s recovery, default db and client options.
    pub fn new(workload: EtcdWorkload) -> EtcdTestOptions {
        EtcdTestOptions {
            workload,
            rate_hz: 10.0,
            time_limit: Duration::from_secs(60),
            concurrency: 5,
            seed: 0,
            faults: BTreeSet::new(),
            nemesis_interval_s: 10.0,
            recovery: Duration::from_secs(10),
            db: EtcdOptions::default(),
            client: ClientOptions::default(),
            run: RunOptions::default(),
            rotate_ns: None,
            watchdog: None,
        }
    }
}

/// The spec stored in `test.json`: `rift analyze` rebuilds the checker from `workload`
/// (through [`crate::checker`] for `append` and `wr`).
pub fn spec_json(o: &EtcdTestOptions) -> serde_json::Value {
    serde_json::json!({
        "db": "etcd",
        "workload": o.workload.name(),
        "rate-hz": o.rate_hz,
        "serializable-reads": o.client.serializable_reads,
        "client-timeout-ms": o.client.timeout.as_millis() as u64,
        "nemesis": o.faults.iter().cloned().collect::<Vec<_>>(),
        "nemesis-interval-s": o.nemesis_interval_s,
    })
}

/// Builds one run on `cluster`: the test, and the db (to ask it for leaders or the installed
/// version) and client statistics beside it.
pub fn etcd_test(
    cluster: Arc<LocalCluster>,
    o: &EtcdTestOptions,
) -> Result<(Test, Arc<EtcdDb>, Arc<crate::ClientStats>), EtcdError> {
    let db = Arc::new(EtcdDb::on_local_cluster(cluster.clone(), o.db.clone())?);
    let nemesis = LocalNemesis::new(cluster.clone(), o.seed);
    etcd_test_with(db, cluster.nodes(), nemesis, o)
}

/// Builds one run with a given db and nemesis (SSH nodes: [`EtcdDb::new`] over the SSH remote
/// with `install_on_nodes`, and [`LocalNemesis::over_remote`]); the nemesis gets the db.
pub fn etcd_test_with(
    db: Arc<EtcdDb>,
    nodes: Vec<String>,
    nemesis: LocalNemesis,
    o: &EtcdTestOptions,
) -> Result<(Test, Arc<EtcdDb>, Arc<crate::ClientStats>), EtcdError> {
    let client = EtcdClient::new(db.client_endpoints(), o.workload, o.client.clone());
    let stats = client.stats();
    let mut popts = PackageOptions::new(o.faults.clone(), nodes.clone());
    popts.interval_ns = (o.nemesis_interval_s * 1e9) as i64;
    let packages = rift_nemesis::packages(&popts).map_err(|e| EtcdError::Config(e.to_string()))?;
    let (phase, perf, nemesis): (_, _, Box<dyn rift_core::Nemesis>) =
        match rift_nemesis::test_phase(packages, o.rotate_ns, o.recovery) {
            None => (
                None,
                serde_json::Value::Null,
                Box::new(rift_core::NoopNemesis),
            ),
            Some((phase, perf)) => {
                let mut nem = nemesis.with_db(db.clone());
                if let Some(w) = &o.watchdog {
                    nem = nem.with_watchdog(w.clone());
                }
                (Some(phase), perf, Box::new(nem))
            }
        };
    let generator = generator(o.workload, o.rate_hz, o.time_limit, o.concurrency, phase)
        .map_err(EtcdError::Config)?;
    let checker = checker(o.workload).map_err(EtcdError::Config)?;
    let nemesis_name = if o.faults.is_empty() {
        "none".to_string()
    } else {
        o.faults.iter().cloned().collect::<Vec<_>>().join("+")
    };
    let mut run = o.run.clone();
    run.time_limit = Some(o.time_limit);
    let test = Test {
        name: format!("etcd-{}-{nemesis_name}", o.workload.name()),
        nodes,
        concurrency: o.concurrency,
        db: db.clone(),
        client: Box::new(client),
        nemesis,
        generator,
        checker,
        seed: o.seed,
        opts: run,
        spec: spec_json(o),
        perf,
        watchdog: o.watchdog.clone(),
    };
    Ok((test, db, stats))
}
