//! `rift test --db kv`: a real system on the local cluster, with faults.
//!
//! The cluster is brought up before the first run and torn down after the last (also when a
//! run fails, panics or is interrupted), unless `--reuse-cluster` names one that `rift cluster
//! up` made, or `--leave-db-running` asks to keep it.

use crate::args::{bad, TestArgs};
use anyhow::Result;
use rift_control::{ClusterConfig, LocalCluster};
use rift_core::workload::{self, NemesisPhase, WorkloadOptions};
use rift_core::{RunOptions, Test};
use rift_kv::{KvClient, KvDb, KvWorkload, ReadMode};
use rift_nemesis::{LocalNemesis, PackageOptions};
use std::sync::Arc;
use std::time::Duration;

/// The workloads rift-kv serves.
pub const KV_WORKLOADS: &[&str] = &["register", "set"];

/// The local cluster a `rift test` runs on, torn down on drop when this run created it.
pub struct TestCluster {
    /// The cluster.
    pub cluster: Arc<LocalCluster>,
    owned: bool,
    keep: bool,
}

impl TestCluster {
    /// Brings up (or, with `--reuse-cluster`, opens) the local cluster for `nodes`.
    pub fn start(a: &TestArgs, nodes: &[String]) -> Result<TestCluster> {
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
            return Ok(TestCluster {
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
        Ok(TestCluster {
            cluster: Arc::new(cluster),
            owned: true,
            keep: a.leave_db_running,
        })
    }
}

impl Drop for TestCluster {
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
    let exe = std::env::current_exe()?;
    let server = vec![exe.display().to_string(), "kv-server".to_string()];
    let faults = rift_nemesis::parse_faults(&a.nemesis).map_err(bad)?;
    let watchdog = a
        .watchdog
        .map(|s| rift_core::Watchdog::new(Duration::from_secs_f64(s)));
    let mut db = KvDb::on_local_cluster(tc.cluster.clone(), server, reads)
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    if faults.contains("clock") {
        // The servers run under libfaketime, so that the clock nemesis skews their clocks
        // (and only theirs: the host clock is never touched).
        rift_control::clock::require_faketime().map_err(bad)?;
        for node in tc.cluster.nodes() {
            let env = rift_control::clock::faketime_env(&tc.cluster, &node)?;
            db = db.with_env(&node, env);
        }
    }
    let db = Arc::new(db);
    let client = KvClient::new(db.client_addresses(), kind);
    let mut popts = PackageOptions::new(faults.clone(), tc.cluster.nodes());
    popts.interval_ns = (a.nemesis_interval * 1e9) as i64;
    popts.files = vec![format!("data/{}", rift_kv::LOG_FILE)];
    let packages = rift_nemesis::packages(&popts).map_err(bad)?;
    let (phase, perf, nemesis): (_, _, Box<dyn rift_core::Nemesis>) = if packages.is_empty() {
        (
            None,
            serde_json::Value::Null,
            Box::new(rift_core::NoopNemesis),
        )
    } else {
        let package = rift_nemesis::compose(packages);
        let perf = serde_json::Value::Array(
            package
                .perf
                .iter()
                .map(|p| {
                    serde_json::json!({"name": p.name, "start": p.start, "stop": p.stop, "color": p.color})
                })
                .collect(),
        );
        let phase = NemesisPhase {
            generator: package.generator,
            final_generator: package.final_generator,
            recovery: Duration::from_secs_f64(a.recovery_time),
        };
        let mut nem = LocalNemesis::new(tc.cluster.clone(), seed).with_db(db.clone());
        if let Some(w) = &watchdog {
            nem = nem.with_watchdog(w.clone());
        }
        (Some(phase), perf, Box::new(nem))
    };
    let mut spec = workload::spec_json("kv", o);
    spec["kv-reads"] = reads.name().into();
    spec["nemesis"] = faults.iter().cloned().collect::<Vec<_>>().into();
    spec["nemesis-interval-s"] = a.nemesis_interval.into();
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
        nodes: tc.cluster.nodes(),
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
