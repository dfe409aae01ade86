//! `rift test --db flink`: jepsen.flink's command line, cluster, faults and checker.

use crate::checker::{JobRunningChecker, ModelOptions};
use crate::client::{FlinkClient, JobSpec};
use crate::db::{base_config, daemon_db, FlinkDb, FlinkProcess, Kind, Shared, Zookeeper};
use crate::dist::{self, Source};
use crate::gen::{client_gen, nemesis_gen, stop_when_healthy, CLIENT_GENS, NEMESIS_GENS};
use crate::nemesis::FlinkNemesis;
use clap::{ArgMatches, Args, FromArgMatches};
use rift_checker::Checker;
use rift_control::NodeDirs;
use rift_core::Test;
use rift_generator as gen;
use rift_nemesis::{PackageOptions, Roles};
use rift_suite::{Common, Place, RoleDb, RolePart, Suite, SuiteError};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// The ZooKeeper role.
pub const ZOOKEEPER: &str = "zookeeper";
/// The JobManager role.
pub const JOBMANAGER: &str = "jobmanager";
/// The TaskManager role.
pub const TASKMANAGER: &str = "taskmanager";

/// ZooKeeper servers, and JobManagers (the seed's two: a leader and a standby).
pub const ZK_NODES: usize = 3;
/// See [`ZK_NODES`].
pub const JM_NODES: usize = 2;

/// The HDFS role (a NameNode and a DataNode), with `--hdfs`.
pub const HDFS: &str = "hdfs";
/// The Kafka role (the exactly-once workload's source and sink).
pub const KAFKA: &str = "kafka";
/// Kafka brokers (combined KRaft controllers) of the exactly-once workload.
pub const KAFKA_NODES: usize = 3;

/// When rift's own `--nemesis` faults begin (the seed's schedules start at once, or after
/// their own grace).
pub const RIFT_FAULTS_AFTER: Duration = Duration::from_secs(20);

/// The workloads: the seed's job availability, and exactly-once through Kafka.
pub const WORKLOADS: &[&str] = &["job-running", "exactly-once"];

/// The deployment modes the seed knows, and what this suite does with each.
pub const DEPLOYMENT_MODES: &[&str] = &[
    "standalone-session",
    "yarn-session",
    "yarn-job",
    "mesos-session",
];

/// jepsen.flink's options.
#[derive(Args, Clone, Debug)]
pub struct FlinkArgs {
    /// A Flink binary distribution (file or URL; the seed's --tarball); default: Flink
    /// --flink-version from PyPI's apache-flink-libraries wheel.
    #[arg(long)]
    pub tarball: Option<String>,
    /// The Flink version fetched from PyPI when no --tarball is given (2.2.x matches the
    /// Kafka connector rift's exactly-once job uses).
    #[arg(long, default_value = dist::FLINK_VERSION)]
    pub flink_version: String,
    /// The seed's test spec (EDN): {:dbs [:zookeeper :flink-standalone-session] :jobs
    /// [{:job-jar ".." :job-args ".." :main-class ".."}] :flink-config {...}}. Without it,
    /// rift's stateful job is submitted.
    #[arg(long)]
    pub test_spec: Option<PathBuf>,
    /// Which faults, on the seed's schedule: kill-task-managers, kill-single-task-manager,
    /// kill-random-task-managers, kill-task-managers-bursts, kill-job-managers,
    /// fail-name-node-during-recovery (needs --hdfs), utopia. rift's --nemesis
    /// faults run beside them.
    #[arg(long, default_value = "kill-task-managers")]
    pub nemesis_gen: String,
    /// The client: poll-job-running (every 5 s) or cancel-jobs (also cancels after 15 s).
    #[arg(long, default_value = "poll-job-running")]
    pub client_gen: String,
    /// Consecutive polls finding the job running that make it healthy.
    #[arg(long, default_value_t = crate::checker::DEFAULT_HEALTHY_THRESHOLD)]
    pub job_running_healthy_threshold: u64,
    /// Seconds after the last fault within which the job must run again (at least 60, as
    /// the seed's).
    #[arg(long, default_value_t = 180)]
    pub job_recovery_grace_period: u64,
    /// Keep HA data and checkpoints on HDFS, as the seed does: a NameNode and a DataNode on
    /// the node before the Kafka nodes (the last one without exactly-once), from Hadoop
    /// 3.4.2's jars on Maven Central. `:hadoop` in a test spec's `:dbs` does the same.
    #[arg(long)]
    pub hdfs: bool,
    /// Where HA data and checkpoints go (a URI every JobManager and TaskManager reaches);
    /// default on the local cluster: a directory all nodes share, wiped per run.
    #[arg(long)]
    pub ha_storage_dir: Option<String>,
    /// standalone-session (JobManagers on n4,n5, TaskManagers on n6..). yarn-session and
    /// yarn-job need Hadoop YARN, which this suite does not run yet; Flink dropped Mesos in
    /// 1.14, so mesos-session cannot run.
    #[arg(long, default_value = "standalone-session")]
    pub deployment_mode: String,
    /// Logs the watchdog's checks of each node (every check, not only restarts).
    #[arg(long)]
    pub debug_watchdog: bool,
    /// The exactly-once workload's sink: exactly-once (Flink's transactional Kafka sink), or
    /// at-least-once, a deliberate weakening that shows what replays do (duplicates).
    #[arg(long, default_value = "exactly-once", value_parser = ["exactly-once", "at-least-once"])]
    pub sink_guarantee: String,
    /// Nothing restarts the JobManagers and TaskManagers the seed's faults kill (the seed
    /// supervises them; rift's watchdog does by default): shows what the checker says of a
    /// cluster that really stays down.
    #[arg(long)]
    pub no_supervision: bool,
}

impl FlinkArgs {
    /// Checks that need no cluster.
    pub fn check(&self) -> Result<(), SuiteError> {
        match self.deployment_mode.as_str() {
            "standalone-session" => {}
            "yarn-session" | "yarn-job" => {
                return Err(SuiteError::bad(format!(
                    "--deployment-mode {}: Hadoop YARN is not run by this suite yet; use \
                     standalone-session",
                    self.deployment_mode
                )))
            }
            "mesos-session" => {
                return Err(SuiteError::bad(
                    "--deployment-mode mesos-session: Flink dropped Mesos support in 1.14; \
                     there is no Mesos deployment to test",
                ))
            }
            other => {
                return Err(SuiteError::bad(format!(
                    "--deployment-mode {other:?}: expected one of {}",
                    DEPLOYMENT_MODES.join(", ")
                )))
            }
        }
        if !NEMESIS_GENS.iter().any(|(n, _)| *n == self.nemesis_gen) {
            nemesis_gen(&self.nemesis_gen, Duration::ZERO).map_err(SuiteError::bad)?;
        }
        let hdfs = self.uses_hdfs()?;
        if self.nemesis_gen == "fail-name-node-during-recovery" && !hdfs {
            return Err(SuiteError::bad(
                "--nemesis-gen fail-name-node-during-recovery stops the HDFS NameNode: give \
                 --hdfs (HA data and checkpoints on HDFS, as the seed keeps them)",
            ));
        }
        if hdfs && self.ha_storage_dir.is_some() {
            return Err(SuiteError::bad(
                "--ha-storage-dir with --hdfs: HA data and checkpoints then live on the \
                 cluster's HDFS; give one or the other",
            ));
        }
        if !CLIENT_GENS.contains(&self.client_gen.as_str()) {
            client_gen(&self.client_gen).map_err(SuiteError::bad)?;
        }
        if self.job_running_healthy_threshold == 0 {
            return Err(SuiteError::bad(
                "--job-running-healthy-threshold: must be positive",
            ));
        }
        if self.job_recovery_grace_period < 60 {
            return Err(SuiteError::bad(format!(
                "--job-recovery-grace-period {}: should be at least 60 (seconds)",
                self.job_recovery_grace_period
            )));
        }
        if let Some(p) = &self.test_spec {
            crate::spec::read(p).map_err(SuiteError::bad)?;
        }
        Ok(())
    }

    /// HDFS runs with `--hdfs` or `:hadoop` in the test spec's `:dbs` (as the seed's).
    pub fn uses_hdfs(&self) -> Result<bool, SuiteError> {
        if self.hdfs {
            return Ok(true);
        }
        match &self.test_spec {
            Some(p) => Ok(crate::spec::read(p)
                .map_err(SuiteError::bad)?
                .dbs
                .iter()
                .any(|d| d == "hadoop")),
            None => Ok(false),
        }
    }

    fn source(&self) -> Source {
        match &self.tarball {
            Some(t) => Source::Tarball(t.clone()),
            None => Source::PyPi(self.flink_version.clone()),
        }
    }
}

/// Roles in node order: ZooKeeper on the first three, JobManagers on the next two,
/// TaskManagers on the rest; with `kafka`, the last three run Kafka instead, and with `hdfs`
/// the node before them runs HDFS.
pub fn roles_of(nodes: &[String], kafka: bool, hdfs: bool) -> Roles {
    let mut r = Roles::new();
    let k = if kafka {
        KAFKA_NODES.min(nodes.len())
    } else {
        0
    };
    let mut tm_end = nodes.len() - k;
    if hdfs && tm_end > ZK_NODES + JM_NODES {
        tm_end -= 1;
        r.insert(HDFS.into(), vec![nodes[tm_end].clone()]);
    }
    r.insert(
        ZOOKEEPER.into(),
        nodes.iter().take(ZK_NODES).cloned().collect(),
    );
    r.insert(
        JOBMANAGER.into(),
        nodes
            .iter()
            .skip(ZK_NODES)
            .take(JM_NODES)
            .cloned()
            .collect(),
    );
    r.insert(
        TASKMANAGER.into(),
        nodes
            .iter()
            .take(tm_end)
            .skip(ZK_NODES + JM_NODES)
            .cloned()
            .collect(),
    );
    if kafka {
        r.insert(KAFKA.into(), nodes[tm_end..].to_vec());
    }
    r
}

/// The nodes a workload needs: 3 ZooKeeper, 2 JobManagers, one TaskManager or more, and
/// three Kafka nodes for exactly-once.
pub fn min_nodes(workload: &str) -> usize {
    ZK_NODES
        + JM_NODES
        + 1
        + if workload == "exactly-once" {
            KAFKA_NODES
        } else {
            0
        }
}

fn check_nodes(workload: &str, hdfs: bool, n: usize) -> Result<(), SuiteError> {
    let min = min_nodes(workload) + usize::from(hdfs);
    if n < min {
        let kafka = if workload == "exactly-once" {
            ", 3 Kafka at the end"
        } else {
            ""
        };
        return Err(SuiteError::bad(format!(
            "the Flink suite's {workload} workload needs at least {min} nodes (3 ZooKeeper, 2 \
             JobManagers, TaskManagers on the rest{kafka}{}), got {n}: give --nodes n1,...,n{}",
            if hdfs { ", one for HDFS" } else { "" },
            min + 1
        )));
    }
    Ok(())
}

/// The name of a run: `flink-<mode>-<nemesis-gen>[+rift faults]`.
pub fn test_name(
    a: &FlinkArgs,
    workload: &str,
    faults: &std::collections::BTreeSet<String>,
) -> String {
    let mut name = format!("flink-{}-", a.deployment_mode);
    if workload == "exactly-once" {
        name.push_str("exactly-once-");
    }
    name.push_str(&a.nemesis_gen);
    if !faults.is_empty() {
        name.push('-');
        name.push_str(&rift_suite::nemesis_name(faults));
    }
    if a.hdfs {
        name.push_str("-hdfs");
    }
    if a.no_supervision {
        name.push_str("-unsupervised");
    }
    if workload == "exactly-once" && a.sink_guarantee != "exactly-once" {
        name.push('-');
        name.push_str(&a.sink_guarantee);
    }
    if a.client_gen != "poll-job-running" {
        name.push('-');
        name.push_str(&a.client_gen);
    }
    name
}

/// The jobs to submit: the spec's, or rift's stateful job; for exactly-once, rift's Kafka job
/// reading from and writing to the brokers at `kafka`.
fn jobs(
    spec: &crate::spec::TestSpec,
    flink: &dist::FlinkDist,
    kafka: Option<&str>,
    guarantee: &str,
) -> Result<Vec<JobSpec>, SuiteError> {
    if let Some(bootstrap) = kafka {
        if !spec.jobs.is_empty() {
            return Err(SuiteError::bad(
                "--workload exactly-once runs rift's Kafka job; a --test-spec with :jobs is for \
                 --workload job-running",
            ));
        }
        let jar = dist::ensure_jobs(flink).map_err(SuiteError::failed)?;
        return Ok(vec![JobSpec {
            jar,
            args: crate::eo::job_args(bootstrap, guarantee),
            main_class: Some(dist::KAFKA_JOB.into()),
        }]);
    }
    if !spec.jobs.is_empty() {
        return Ok(spec.jobs.clone());
    }
    let jar = dist::ensure_jobs(flink).map_err(SuiteError::failed)?;
    Ok(vec![JobSpec {
        jar,
        // checkpoint interval ms, parallelism, keys, records per second.
        args: ["2000", "2", "64", "200"].map(String::from).to_vec(),
        main_class: Some(dist::STATEFUL_JOB.into()),
    }])
}

/// Builds one run.
pub fn build_test(a: &FlinkArgs, common: &Common, place: &Place) -> Result<Test, SuiteError> {
    a.check()?;
    let Some(cluster) = place.local() else {
        return Err(SuiteError::bad(
            "the Flink suite runs on the local cluster for now (its JVMs start from this \
             machine's cache); SSH nodes are not wired yet",
        ));
    };
    let nodes = place.nodes();
    let eo = common.workload == "exactly-once";
    let hdfs = a.uses_hdfs()?;
    check_nodes(&common.workload, hdfs, nodes.len())?;
    let roles = roles_of(&nodes, eo, hdfs);
    let faults = common.faults(&roles)?;
    if rift_nemesis::fault_kinds(&faults, &roles).contains("file") {
        return Err(SuiteError::bad(
            "--nemesis file: the Flink suite names no files to corrupt",
        ));
    }
    let spec = match &a.test_spec {
        Some(p) => crate::spec::read(p).map_err(SuiteError::bad)?,
        None => crate::spec::TestSpec::default(),
    };
    dist::ensure_jdk().map_err(SuiteError::failed)?;
    let flink = dist::ensure_flink(&a.source()).map_err(SuiteError::failed)?;
    let zk_libs = dist::ensure_zookeeper().map_err(SuiteError::failed)?;
    let dirs: BTreeMap<String, NodeDirs> = place
        .node_dirs()
        .map_err(SuiteError::failed)?
        .into_iter()
        .collect();
    let brokers = eo.then(|| {
        roles[KAFKA]
            .iter()
            .map(|n| format!("{}:{}", dirs[n].address, rift_kafka_suite::BROKER_PORT))
            .collect::<Vec<_>>()
            .join(",")
    });
    let jobs = jobs(&spec, &flink, brokers.as_deref(), &a.sink_guarantee)?;
    let of = |role: &str| rift_suite::role_dirs(&roles, role, &dirs);
    let root = cluster
        .node_dir(&nodes[0])
        .map_err(SuiteError::failed)?
        .parent()
        .map(PathBuf::from)
        .ok_or_else(|| SuiteError::failed("the local cluster has no root directory"))?;
    let hadoop = match hdfs {
        true => Some(Arc::new(dist::ensure_hadoop().map_err(SuiteError::failed)?)),
        false => None,
    };
    let (ha_dir, shared_dir) = match &a.ha_storage_dir {
        Some(d) => (d.clone(), None),
        None if hdfs => {
            let nn = dirs[&roles[HDFS][0]].address;
            (
                format!("hdfs://{nn}:{}/flink", crate::hdfs::NAMENODE_PORT),
                None,
            )
        }
        None => {
            let d = root.join("flink-shared");
            (format!("file://{}", d.display()), Some(d))
        }
    };
    let zk: Vec<_> = roles[ZOOKEEPER].iter().map(|n| dirs[n].address).collect();
    let mut config = base_config(&Shared::zk_quorum(&zk), &ha_dir);
    config.extend(spec.flink_config.clone());
    let env = rift_suite::clock_envs(cluster, &faults, &roles)?;
    let shared = Arc::new(Shared {
        classpath: {
            let mut cp = flink.classpath().map_err(SuiteError::failed)?;
            if let Some(h) = &hadoop {
                // Flink's hdfs:// file system loads Hadoop's client from its class path.
                cp.push(':');
                cp.push_str(&h.client_classpath);
            }
            cp
        },
        zk_libs,
        zk,
        config,
        env,
    });
    let remote = place.remote();
    let part = |role: &str, db: Arc<dyn rift_core::Db>, tier: u32| RolePart {
        role: role.into(),
        db,
        nodes: roles[role].clone(),
        tier,
    };
    let zk_db = daemon_db(remote.clone(), of(ZOOKEEPER), Zookeeper(shared.clone()));
    let jm_db = daemon_db(
        remote.clone(),
        of(JOBMANAGER),
        FlinkProcess {
            kind: Kind::JobManager,
            shared: shared.clone(),
        },
    );
    let tm_db = daemon_db(
        remote.clone(),
        of(TASKMANAGER),
        FlinkProcess {
            kind: Kind::TaskManager,
            shared: shared.clone(),
        },
    );
    let mut parts = vec![
        part(ZOOKEEPER, Arc::new(zk_db), 0),
        part(JOBMANAGER, Arc::new(jm_db), 1),
        part(TASKMANAGER, Arc::new(tm_db), 2),
    ];
    if eo {
        let opts = rift_kafka_suite::KafkaDbOptions {
            heap_mb: 256,
            ..rift_kafka_suite::KafkaDbOptions::default()
        };
        let mut kafka =
            rift_kafka_suite::KafkaDb::new(remote.clone(), of(KAFKA), opts, common.seed)
                .map_err(SuiteError::bad)?;
        for (node, env) in &shared.env {
            if roles[KAFKA].contains(node) {
                kafka = kafka.with_env(node, env.clone());
            }
        }
        parts.push(part(KAFKA, Arc::new(kafka), 0));
    }
    let hdfs_db = hadoop.as_ref().map(|h| {
        Arc::new(crate::hdfs::HdfsDb::new(
            remote.clone(),
            of(HDFS),
            h.clone(),
            shared.env.clone(),
        ))
    });
    if let Some(h) = &hdfs_db {
        parts.push(part(HDFS, h.clone(), 0));
    }
    let role_db = RoleDb::new(parts).map_err(SuiteError::failed)?;
    let db: Arc<dyn rift_core::Db> = Arc::new(FlinkDb {
        roles: Arc::new(role_db),
        shared_dir,
        first: nodes[0].clone(),
        remote: remote.clone(),
    });

    let mut common = common.clone();
    common.watchdog_s = match a.no_supervision {
        true => None,
        false => Some(common.watchdog_s.unwrap_or(1.0)),
    };
    common.watchdog_debug |= a.debug_watchdog;
    let watchdog = common.watchdog();
    let time_limit = common.time_limit;
    let (seed_gen, seed_len) = nemesis_gen(&a.nemesis_gen, time_limit).map_err(SuiteError::bad)?;
    let mut nemesis_gens = vec![gen::nemesis(seed_gen)];
    let mut perf = serde_json::json!([
        {"name": "kill", "start": ["kill-task-managers", "kill-single-task-manager",
            "kill-random-task-managers", "kill-job-manager"], "color": "#E9A4A0"},
        {"name": "partition", "start": ["partition-start"], "stop": ["partition-stop"],
            "color": "#C0D8F0"},
        {"name": "namenode", "start": ["fail-name-node-start"], "stop": ["fail-name-node-stop"],
            "color": "#D8C0F0"},
    ]);
    let mut phase_len = seed_len;
    if !faults.is_empty() {
        let mut popts = PackageOptions::new(faults.clone(), nodes.clone());
        popts.interval_ns = common.nemesis_interval_ns();
        popts.roles = roles.clone();
        let packages = rift_nemesis::packages(&popts).map_err(SuiteError::bad)?;
        if let Some((phase, p)) =
            rift_nemesis::test_phase(packages, common.nemesis_rotate_ns(), common.recovery)
        {
            // rift's faults start once the job can be running (its TaskManagers register
            // and it deploys within ~20 s of submission), so that they hit a running job.
            let mut g = vec![gen::time_limit(
                time_limit.as_nanos() as i64,
                crate::gen::not_before(RIFT_FAULTS_AFTER.as_nanos() as i64, phase.generator),
            )];
            if let Some(heal) = phase.final_generator {
                g.push(gen::nemesis(heal));
            }
            nemesis_gens.push(gen::concat(g));
            if let (Some(a), Some(b)) = (perf.as_array_mut(), p.as_array()) {
                a.extend(b.iter().cloned());
            }
            phase_len = phase_len.max(time_limit);
        }
    }
    let polls = client_gen(&a.client_gen).map_err(SuiteError::bad)?;
    let clients = if eo {
        // Thread 0 polls the job as the seed's client does; the others send for the time
        // limit.
        let sends = gen::time_limit(
            time_limit.as_nanos() as i64,
            match common.rate_hz > 0.0 {
                true => gen::stagger((1e9 / common.rate_hz) as i64, crate::eo::send_gen()),
                false => crate::eo::send_gen(),
            },
        );
        gen::clients(gen::reserve(vec![(1, polls)], sends))
    } else {
        gen::clients(polls)
    };
    let mut all = vec![clients];
    all.extend(nemesis_gens);
    let mut generator = stop_when_healthy(
        gen::any(all),
        phase_len,
        a.job_running_healthy_threshold,
        a.job_recovery_grace_period as f64,
    );
    if eo {
        // The job commits its output at each checkpoint (1 s): give it a few, then read.
        generator = gen::phases(vec![
            generator,
            gen::clients(gen::sleep(10_000_000_000)),
            gen::clients(crate::eo::read_gen()),
        ]);
    }
    // Exactly-once: thread 0 polls, the others send (4 unless --concurrency gives 2 or more).
    let concurrency = match (eo, common.concurrency) {
        (false, _) => 1,
        (true, c) if c >= 2 => c,
        (true, _) => 5,
    };
    let mut local = place
        .nemesis(common.seed)
        .with_db(db.clone())
        .with_roles(roles.clone());
    if let Some(w) = &watchdog {
        local = local.with_watchdog(w.clone());
    }
    let mut nemesis = FlinkNemesis::new(Box::new(local), db.clone(), roles.clone(), common.seed);
    if let Some(h) = hdfs_db {
        nemesis = nemesis.with_name_node(roles[HDFS][0].clone(), h, watchdog.clone());
    }
    let endpoints: Vec<String> = roles[JOBMANAGER]
        .iter()
        .map(|n| format!("{}:{}", dirs[n].address, crate::db::REST_PORT))
        .collect();
    let flink_client = FlinkClient::new(endpoints, jobs.clone());
    let client: Box<dyn rift_core::Client> = if eo {
        let addresses = dirs.iter().map(|(n, d)| (n.clone(), d.address)).collect();
        let bootstrap = rift_kafka_suite::queue::bootstrap_to_brokers(
            &nodes,
            &roles[KAFKA],
            &addresses,
            rift_kafka_suite::BROKER_PORT,
        );
        Box::new(crate::eo::EoClient::new(
            flink_client,
            bootstrap,
            common.seed,
        ))
    } else {
        Box::new(flink_client)
    };
    let opts = ModelOptions {
        healthy_threshold: a.job_running_healthy_threshold,
        recovery_grace_s: a.job_recovery_grace_period as f64,
        ..ModelOptions::default()
    };
    let spec_json = serde_json::json!({
        "db": "flink",
        "workload": common.workload,
        "flink-version": flink.version,
        "deployment-mode": a.deployment_mode,
        "nemesis-gen": a.nemesis_gen,
        "client-gen": a.client_gen,
        "nemesis": faults.iter().cloned().collect::<Vec<_>>(),
        "job-running-healthy-threshold": a.job_running_healthy_threshold,
        "job-recovery-grace-period": a.job_recovery_grace_period,
        "ha-storage-dir": ha_dir,
        "supervision": !a.no_supervision,
        "hdfs": hdfs,
        "sink-guarantee": a.sink_guarantee,
        "jobs": jobs.iter().map(|j| serde_json::json!({
            "job-jar": j.jar.display().to_string(),
            "job-args": j.args,
            "main-class": j.main_class,
        })).collect::<Vec<_>>(),
        "roles": roles,
    });
    let mut run = common.run.clone();
    run.time_limit = Some(time_limit);
    run.op_timeout = run.op_timeout.max(Duration::from_secs(60));
    run.setup_timeout = run.setup_timeout.max(Duration::from_secs(300));
    Ok(Test {
        name: test_name(a, &common.workload, &faults),
        nodes,
        concurrency,
        db,
        client,
        nemesis: Box::new(nemesis),
        generator,
        checker: checker_of(opts, eo),
        seed: common.seed,
        opts: run,
        spec: spec_json,
        perf,
        watchdog,
    })
}

fn checker_of(opts: ModelOptions, exactly_once: bool) -> Box<dyn Checker> {
    let mut v: Vec<(&str, Box<dyn Checker>)> =
        vec![("job-running", Box::new(JobRunningChecker { opts }))];
    if exactly_once {
        v.push(("exactly-once", Box::new(crate::eo::EoChecker)));
    }
    Box::new(rift_checker::Compose::new(v))
}

/// The checker of a stored run.
pub fn checker_of_spec(spec: &serde_json::Value) -> Result<Box<dyn Checker>, String> {
    let n = |k: &str| spec.get(k).and_then(serde_json::Value::as_u64);
    let opts = ModelOptions {
        healthy_threshold: n("job-running-healthy-threshold")
            .ok_or("the spec has no job-running-healthy-threshold")?,
        recovery_grace_s: n("job-recovery-grace-period")
            .ok_or("the spec has no job-recovery-grace-period")? as f64,
        ..ModelOptions::default()
    };
    let eo = spec.get("workload").and_then(serde_json::Value::as_str) == Some("exactly-once");
    Ok(checker_of(opts, eo))
}

/// The Flink suite.
pub struct FlinkSuite;

impl Suite for FlinkSuite {
    fn name(&self) -> &'static str {
        "flink"
    }

    fn about(&self) -> &'static str {
        "Apache Flink (standalone session, ZooKeeper HA), as jepsen.flink: job availability under faults"
    }

    fn workloads(&self) -> &'static [&'static str] {
        WORKLOADS
    }

    fn default_concurrency(&self) -> &'static str {
        "1"
    }

    fn default_node_count(&self, _m: &ArgMatches, workload: &str) -> usize {
        min_nodes(workload) + 1
    }

    fn default_rate_hz(&self) -> Option<f64> {
        // The exactly-once workload's sends, in all (the job-running polls are every 5 s).
        Some(100.0)
    }

    fn test_all_nemeses(&self, _over_ssh: bool) -> Vec<String> {
        vec!["none".into()]
    }

    fn roles(&self, nodes: &[String]) -> Roles {
        // The CLI checks --nemesis against these before it knows the workload: with enough
        // nodes for exactly-once, the Kafka role is there.
        roles_of(nodes, nodes.len() > min_nodes("exactly-once"), true)
    }

    fn args(&self, cmd: clap::Command) -> clap::Command {
        FlinkArgs::augment_args(cmd)
    }

    fn check_args(
        &self,
        m: &ArgMatches,
        common: &Common,
        _over_ssh: bool,
    ) -> Result<(), SuiteError> {
        let a = FlinkArgs::from_arg_matches(m)?;
        a.check()?;
        let hdfs = a.uses_hdfs()?;
        check_nodes(&common.workload, hdfs, common.nodes.len())?;
        let roles = roles_of(&common.nodes, common.workload == "exactly-once", hdfs);
        common.faults(&roles)?;
        Ok(())
    }

    fn build(
        &self,
        m: &ArgMatches,
        common: &Common,
        place: Option<&Place>,
    ) -> Result<Test, SuiteError> {
        let a = FlinkArgs::from_arg_matches(m)?;
        let place = place.ok_or_else(|| SuiteError::failed("the Flink suite needs a cluster"))?;
        build_test(&a, common, place)
    }

    fn checker(&self, spec: &serde_json::Value) -> Result<Box<dyn Checker>, String> {
        checker_of_spec(spec)
    }

    fn summary(&self, result: &rift_checker::CheckResult) {
        for line in summary_lines(&result.details) {
            println!("{line}");
        }
    }
}

/// One line per job: healthy or the model's first inconsistency, as the seed's final models
/// say it.
pub fn summary_lines(details: &serde_json::Map<String, serde_json::Value>) -> Vec<String> {
    let models = details
        .get("job-running")
        .and_then(|r| r.get("final-models"))
        .and_then(serde_json::Value::as_array);
    let mut out = Vec::new();
    for m in models.into_iter().flatten() {
        let id = m["job-id"].as_str().unwrap_or("?");
        let line = match m.get("inconsistent").filter(|i| !i.is_null()) {
            Some(i) => format!(
                "  job {id}: {} (op {} at {:.1} s)",
                i["msg"].as_str().unwrap_or("?"),
                i["index"],
                i["time-s"].as_f64().unwrap_or(0.0)
            ),
            None if m["healthy?"] == true => format!(
                "  job {id}: healthy ({} consecutive running polls at the end)",
                m["healthy-count"]
            ),
            None => format!(
                "  job {id}: not healthy at the end ({} consecutive running polls)",
                m["healthy-count"]
            ),
        };
        out.push(line);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(extra: &[&str]) -> Result<FlinkArgs, String> {
        let cmd = FlinkArgs::augment_args(clap::Command::new("test"));
        let mut argv = vec!["test"];
        argv.extend_from_slice(extra);
        let m = cmd.try_get_matches_from(argv).map_err(|e| e.to_string())?;
        FlinkArgs::from_arg_matches(&m).map_err(|e| e.to_string())
    }

    #[test]
    fn roles_follow_the_node_order() {
        let nodes: Vec<String> = (1..=7).map(|i| format!("n{i}")).collect();
        let r = roles_of(&nodes, false, false);
        assert_eq!(r[ZOOKEEPER], ["n1", "n2", "n3"]);
        assert_eq!(r[JOBMANAGER], ["n4", "n5"]);
        assert_eq!(r[TASKMANAGER], ["n6", "n7"]);
        assert!(!r.contains_key(KAFKA));
        let nodes: Vec<String> = (1..=10).map(|i| format!("n{i}")).collect();
        let r = roles_of(&nodes, true, false);
        assert_eq!(r[TASKMANAGER], ["n6", "n7"]);
        assert_eq!(r[KAFKA], ["n8", "n9", "n10"]);
        let r = roles_of(&nodes, true, true);
        assert_eq!(r[TASKMANAGER], ["n6"]);
        assert_eq!(r[HDFS], ["n7"]);
        let e = check_nodes("job-running", false, 5)
            .unwrap_err()
            .to_string();
        assert!(e.contains("at least 6 nodes"), "{e}");
        assert!(check_nodes("job-running", false, 6).is_ok());
        let e = check_nodes("job-running", true, 6).unwrap_err().to_string();
        assert!(e.contains("one for HDFS"), "{e}");
        let e = check_nodes("exactly-once", false, 8)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("at least 9 nodes") && e.contains("3 Kafka"),
            "{e}"
        );
    }

    #[test]
    fn options_are_checked_before_any_cluster() {
        assert!(args(&[]).unwrap().check().is_ok());
        let bad = |extra: &[&str]| args(extra).unwrap().check().unwrap_err().to_string();
        assert!(bad(&["--deployment-mode", "mesos-session"]).contains("dropped Mesos"));
        assert!(bad(&["--deployment-mode", "yarn-job"]).contains("YARN is not run"));
        assert!(bad(&["--deployment-mode", "k8s"]).contains("standalone-session"));
        assert!(bad(&["--nemesis-gen", "kill-all"]).contains("kill-task-managers"));
        assert!(bad(&["--nemesis-gen", "fail-name-node-during-recovery"]).contains("--hdfs"));
        assert!(
            args(&["--nemesis-gen", "fail-name-node-during-recovery", "--hdfs"])
                .unwrap()
                .check()
                .is_ok()
        );
        assert!(bad(&["--hdfs", "--ha-storage-dir", "file:///x"]).contains("one or the other"));
        assert!(bad(&["--client-gen", "x"]).contains("poll-job-running"));
        assert!(bad(&["--job-recovery-grace-period", "30"]).contains("at least 60"));
        assert!(bad(&["--job-running-healthy-threshold", "0"]).contains("positive"));
        assert!(bad(&["--test-spec", "/nonexistent.edn"]).contains("/nonexistent.edn"));
    }

    #[test]
    fn test_names_and_stored_checkers() {
        let a = args(&["--nemesis-gen", "kill-job-managers"]).unwrap();
        assert_eq!(
            test_name(&a, "job-running", &Default::default()),
            "flink-standalone-session-kill-job-managers"
        );
        let f: std::collections::BTreeSet<String> = ["partition".to_string()].into();
        assert_eq!(
            test_name(&a, "exactly-once", &f),
            "flink-standalone-session-exactly-once-kill-job-managers-partition"
        );
        let spec = serde_json::json!({"job-running-healthy-threshold": 5, "job-recovery-grace-period": 180});
        assert!(checker_of_spec(&spec).is_ok());
        assert!(checker_of_spec(&serde_json::json!({})).is_err());
    }
}
