//! `rift test --db nisshi`: a stateless Kafka-compatible broker with the shape of Bufstream's
//! cluster that can be had here. The first node runs PostgreSQL (`storage`), the others nisshi
//! brokers (`broker`) on that one database, so the role faults (`kill-storage`,
//! `partition-broker-storage`, `pause-broker`, ...) are proven on every machine. The queue
//! workload, client and checkers are the Kafka suite's.

use crate::db::{Nisshi, Postgres, KAFKA_PORT};
use crate::dist::{ensure_nisshi, ensure_postgres, NISSHI_VERSION};
use clap::{ArgMatches, Args, FromArgMatches};
use rift_checker::Checker;
use rift_core::{Db, Test};
use rift_kafka_suite::queue::{
    bootstrap_to_brokers, checker_of_spec, queue_test, QueueArgs, QueueSystem,
};
use rift_nemesis::Roles;
use rift_suite::{Common, DaemonDb, Place, RoleDb, RolePart, Suite, SuiteError};
use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::Arc;

/// The storage role (PostgreSQL).
pub const STORAGE: &str = "storage";
/// The broker role (nisshi).
pub const BROKER: &str = "broker";

/// `rift test-all --db nisshi`: none, partition, kill, pause, clock, the role set, all.
pub const TEST_ALL_NEMESES: &[&str] = &[
    "none",
    "partition",
    "kill",
    "pause",
    "clock",
    "kill-storage,pause-broker,partition-broker-storage",
    "partition,pause,kill,clock",
];

/// The nisshi suite's own options, beside the queue workload's.
#[derive(Args, Clone, Debug)]
pub struct NisshiArgs {
    /// A nisshi binary to run instead of the one rift builds (nisshi 0.7.0-pre.2).
    #[arg(long)]
    pub nisshi_bin: Option<PathBuf>,
    /// A directory with PostgreSQL's `postgres`, `initdb` and `psql` (16 or later) instead of
    /// the PostgreSQL 16 rift fetches.
    #[arg(long)]
    pub pg_bin_dir: Option<PathBuf>,
    /// The queue workload's options.
    #[command(flatten)]
    pub queue: QueueArgs,
}

/// Node 1 storage, the rest brokers.
pub fn roles_of(nodes: &[String]) -> Roles {
    let mut r = Roles::new();
    r.insert(STORAGE.into(), nodes.iter().take(1).cloned().collect());
    r.insert(BROKER.into(), nodes.iter().skip(1).cloned().collect());
    r
}

fn check_nodes(n: usize) -> Result<(), SuiteError> {
    if n < 2 {
        return Err(SuiteError::bad(format!(
            "the nisshi suite needs at least 2 nodes (PostgreSQL, a broker), got {n}"
        )));
    }
    Ok(())
}

impl NisshiArgs {
    /// The checks that need no cluster.
    pub fn check(&self) -> Result<(), SuiteError> {
        if let Some(b) = &self.nisshi_bin {
            rift_bufstream_suite::suite::check_binary("--nisshi-bin", b, "a nisshi binary")?;
        }
        if let Some(d) = &self.pg_bin_dir {
            for p in ["postgres", "initdb", "psql"] {
                rift_bufstream_suite::suite::check_binary(
                    "--pg-bin-dir",
                    &d.join(p),
                    "PostgreSQL's binaries",
                )?;
            }
        }
        Ok(())
    }
}

/// Builds one run on `place`.
pub fn build_test(
    a: &NisshiArgs,
    m: &ArgMatches,
    common: &Common,
    place: &Place,
) -> Result<Test, SuiteError> {
    a.check()?;
    let r = a.queue.resolve(m);
    a.queue.check(&r)?;
    let nodes = place.nodes();
    check_nodes(nodes.len())?;
    let Some(cluster) = place.local() else {
        return Err(SuiteError::bad(
            "the nisshi suite runs on the local cluster only (so far)",
        ));
    };
    let roles = roles_of(&nodes);
    let faults = common.faults(&roles)?;
    let cache = rift_control::cache_dir();
    let nisshi_bin = match &a.nisshi_bin {
        Some(b) => b.clone(),
        None => ensure_nisshi(&cache).map_err(SuiteError::failed)?,
    };
    let pg_bin = match &a.pg_bin_dir {
        Some(d) => d.clone(),
        None => ensure_postgres(&cache).map_err(SuiteError::failed)?,
    };
    let dirs: BTreeMap<String, rift_control::NodeDirs> = place
        .node_dirs()
        .map_err(SuiteError::failed)?
        .into_iter()
        .collect();
    // Both are C-library programs (PostgreSQL in C, nisshi in Rust): the wall-clock shim
    // reaches them, so clock faults move their CLOCK_REALTIME only.
    let env = rift_suite::clock_envs(cluster, &faults, &roles)?;
    let of = |role: &str| rift_suite::role_dirs(&roles, role, &dirs);
    let storage_addr = dirs[&roles[STORAGE][0]].address;
    let remote = place.remote();
    let pg = DaemonDb::new(
        remote.clone(),
        of(STORAGE),
        Postgres {
            bin_dir: pg_bin.display().to_string(),
            env: env.clone(),
        },
    );
    let brokers = DaemonDb::new(
        remote,
        of(BROKER),
        Nisshi {
            bin: nisshi_bin.display().to_string(),
            storage: storage_addr,
            env,
        },
    );
    let parts = vec![
        RolePart {
            role: STORAGE.into(),
            db: Arc::new(pg) as Arc<dyn Db>,
            nodes: roles[STORAGE].clone(),
            tier: 0,
        },
        RolePart {
            role: BROKER.into(),
            db: Arc::new(brokers),
            nodes: roles[BROKER].clone(),
            tier: 1,
        },
    ];
    let db = Arc::new(RoleDb::new(parts).map_err(SuiteError::failed)?);
    let addresses = dirs.iter().map(|(n, d)| (n.clone(), d.address)).collect();
    let bootstrap = bootstrap_to_brokers(&nodes, &roles[BROKER], &addresses, KAFKA_PORT);
    let mut spec = serde_json::Map::new();
    spec.insert("db".into(), "nisshi".into());
    spec.insert("nisshi-version".into(), NISSHI_VERSION.into());
    spec.insert("nisshi-bin".into(), nisshi_bin.display().to_string().into());
    spec.insert("pg-bin-dir".into(), pg_bin.display().to_string().into());
    let mut common = common.clone();
    common.watchdog_s = Some(common.watchdog_s.unwrap_or(1.0));
    let sys = QueueSystem {
        name: format!("nisshi-{NISSHI_VERSION}"),
        db,
        bootstrap,
        roles,
        // Replication is PostgreSQL's business: every broker reports itself as the one
        // replica of every partition.
        replication_factor: 1,
        min_insync_replicas: 1,
        spec,
        named_faults: None,
    };
    queue_test(&a.queue, &r, &common, place, faults, sys)
}

/// The nisshi suite in the CLI's table.
pub struct NisshiSuite;

impl Suite for NisshiSuite {
    fn name(&self) -> &'static str {
        "nisshi"
    }

    fn about(&self) -> &'static str {
        "nisshi (stateless Kafka-compatible brokers on one PostgreSQL, built from crates.io): the queue workload"
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

    fn test_all_nemeses(&self, _over_ssh: bool) -> Vec<String> {
        TEST_ALL_NEMESES.iter().map(|s| s.to_string()).collect()
    }

    fn roles(&self, nodes: &[String]) -> Roles {
        roles_of(nodes)
    }

    fn args(&self, cmd: clap::Command) -> clap::Command {
        NisshiArgs::augment_args(cmd)
    }

    fn check_args(
        &self,
        m: &ArgMatches,
        common: &Common,
        over_ssh: bool,
    ) -> Result<(), SuiteError> {
        let a = NisshiArgs::from_arg_matches(m)?;
        a.check()?;
        a.queue.check(&a.queue.resolve(m))?;
        check_nodes(common.nodes.len())?;
        if over_ssh {
            return Err(SuiteError::bad(
                "the nisshi suite runs on the local cluster only (so far)",
            ));
        }
        let roles = self.roles(&common.nodes);
        let faults: BTreeSet<String> = common.faults(&roles)?;
        rift_kafka_suite::queue::refuse_unsupported(&faults, &roles)
    }

    fn build(
        &self,
        m: &ArgMatches,
        common: &Common,
        place: Option<&Place>,
    ) -> Result<Test, SuiteError> {
        let a = NisshiArgs::from_arg_matches(m)?;
        let place = place.ok_or_else(|| SuiteError::failed("the nisshi suite needs nodes"))?;
        build_test(&a, m, common, place)
    }

    fn checker(&self, spec: &serde_json::Value) -> Result<Box<dyn Checker>, String> {
        Ok(checker_of_spec(spec))
    }
}
