//! `rift test --db kafka`: the queue suite's options (jepsen.bufstream's command line), and
//! a whole test built from them: Kafka on the run's nodes, the rdkafka client, the queue
//! generator with the seed's phases, faults (role-scoped ones too) and the checkers.

use crate::client::{ClientOptions, KafkaClient};
use crate::db::{roles_of, KafkaDb, KafkaDbOptions};
use crate::dist::{Source, DEFAULT_VERSION};
use crate::gen::{final_generator, main_generator, QueueGenOptions};
use clap::{ArgMatches, Args, FromArgMatches};
use rift_checker::{CheckContext, CheckResult, Checker, Compose, Validity};
use rift_core::workload::NemesisPhase;
use rift_core::Test;
use rift_generator as gen;
use rift_history::History;
use rift_nemesis::{PackageOptions, Roles};
use rift_suite::{Common, Place, Suite, SuiteError};
use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

/// The workloads of the Kafka suite.
pub const WORKLOADS: &[&str] = &["queue"];

/// The fault sets `rift test-all --db kafka` runs: jepsen.bufstream's `all-nemeses`, with
/// Kafka's roles in place of Bufstream's (its "just bufstream" set becomes the brokers and
/// controllers apart): none, partition, kill, pause, clock, the role set, everything.
pub const TEST_ALL_NEMESES: &[&str] = &[
    "none",
    "partition",
    "kill",
    "pause",
    "clock",
    "kill-controller,pause-broker,clock-broker,partition-broker-controller",
    "partition,pause,kill,clock",
];

/// The Kafka suite's own options, named as jepsen.bufstream's (and jepsen.redpanda's) CLI.
#[derive(Args, Clone, Debug)]
pub struct KafkaArgs {
    /// The Kafka version to fetch from Maven Central (org.apache.kafka:kafka_2.13).
    #[arg(long = "version", default_value = DEFAULT_VERSION)]
    pub kafka_version: String,
    /// A Kafka release tarball (kafka_2.13-VERSION.tgz: a local file or an http(s) URL) to
    /// run instead of the Maven jars.
    #[arg(long)]
    pub archive: Option<String>,
    /// Runs the queue workload's ops in Kafka transactions (transactional producers,
    /// consumed offsets committed inside each txn).
    #[arg(long = "txn", overrides_with = "no_txn")]
    pub txn: bool,
    /// No transactions (the default).
    #[arg(long = "no-txn")]
    pub no_txn: bool,
    /// Probability of aborting a transaction on purpose.
    #[arg(long, default_value_t = 0.1, value_parser = rift_suite::parse::probability)]
    pub abort_p: f64,
    /// Producer acks: all, 1 or 0 (default: the Java client's, all).
    #[arg(long)]
    pub acks: Option<String>,
    /// Producer retries (default: the client's: retry until the delivery timeout).
    #[arg(long)]
    pub retries: Option<u32>,
    /// Idempotent producers (the Java client's default).
    #[arg(long, overrides_with = "no_idempotence")]
    pub idempotence: bool,
    /// Producers without idempotence.
    #[arg(long)]
    pub no_idempotence: bool,
    /// Consumer isolation level: read_committed or read_uncommitted (default: the Java
    /// client's, read_uncommitted).
    #[arg(long)]
    pub isolation_level: Option<String>,
    /// What consumers do without a committed offset: earliest or latest (default: the Java
    /// client's, latest).
    #[arg(long)]
    pub auto_offset_reset: Option<String>,
    /// Consumers commit offsets automatically.
    #[arg(long, overrides_with = "disable_auto_commit")]
    pub enable_auto_commit: bool,
    /// Consumers never commit automatically (polls commit explicitly when subscribed).
    #[arg(long)]
    pub disable_auto_commit: bool,
    /// How consumers pick partitions: assign and/or subscribe (comma-separated).
    #[arg(long, value_delimiter = ',', default_value = "subscribe")]
    pub sub_via: Vec<String>,
    /// Probability that an op is an assign/subscribe instead.
    #[arg(long, default_value_t = 1.0 / 64.0, value_parser = rift_suite::parse::probability)]
    pub sub_p: f64,
    /// Writes to a key before it is retired and a fresh key takes its place.
    #[arg(long, default_value_t = 1024)]
    pub max_writes_per_key: u64,
    /// Periodically crash clients: tear down producers and consumers and open fresh ones.
    #[arg(long)]
    pub crash_clients: bool,
    /// Roughly how long, in seconds, one client runs before it is crashed.
    #[arg(long, default_value_t = 30.0, value_parser = rift_suite::parse::positive_f64)]
    pub crash_client_interval: f64,
    /// Seconds the final polls may take to catch up with every sent offset.
    #[arg(long, default_value_t = 200.0, value_parser = rift_suite::parse::positive_f64)]
    pub final_time_limit: f64,
    /// Infer write-write dependencies from offsets (the default).
    #[arg(long = "ww-deps", overrides_with = "no_ww_deps")]
    pub ww_deps: bool,
    /// No write-write dependencies (hunts pure wr cycles; G1c becomes an error).
    #[arg(long)]
    pub no_ww_deps: bool,
    /// Checker error types that do not make the run invalid (comma-separated), e.g. unseen.
    #[arg(long, value_delimiter = ',')]
    pub ignore_queue_errors: Vec<String>,
    /// The safest settings: --disable-auto-commit --acks all --retries 1000 --idempotence
    /// --isolation-level read_committed --auto-offset-reset earliest --sub-via assign. Any
    /// of them given after -s overrides it.
    #[arg(short = 's', long)]
    pub safe: bool,
    /// Rotate the fault mixture every this many seconds (jepsen.bufstream's stable period:
    /// each period a random subset of the fault packages, sometimes none); 0: all faults
    /// mixed for the whole run.
    #[arg(long, default_value_t = 30.0, value_parser = rift_suite::parse::non_negative_f64)]
    pub nemesis_stable_period: f64,
    /// Replication factor of the topics and of Kafka's internal topics.
    #[arg(long, default_value_t = 3)]
    pub replication_factor: u32,
    /// min.insync.replicas of the brokers (and so of every topic).
    #[arg(long, default_value_t = 2)]
    pub min_insync_replicas: u32,
    /// Lets an out-of-sync replica become leader (unclean.leader.election.enable): a
    /// documented weakening that loses acknowledged writes.
    #[arg(long)]
    pub unclean_leader_election: bool,
    /// Partitions per topic (keys 2t and 2t+1 share topic t with 2).
    #[arg(long, default_value_t = 2)]
    pub partitions_per_topic: i32,
    /// JVM heap of each Kafka node, MiB.
    #[arg(long, default_value_t = 512)]
    pub heap_mb: u32,
}

/// The client and generator settings after `--safe` and the explicit options are resolved.
#[derive(Clone, Debug, PartialEq)]
pub struct Resolved {
    /// `--acks`.
    pub acks: Option<String>,
    /// `--retries`.
    pub retries: Option<u32>,
    /// `--[no-]idempotence`.
    pub idempotence: Option<bool>,
    /// `--isolation-level`.
    pub isolation_level: Option<String>,
    /// `--auto-offset-reset`.
    pub auto_offset_reset: Option<String>,
    /// `--enable-auto-commit` / `--disable-auto-commit`.
    pub enable_auto_commit: Option<bool>,
    /// `--sub-via`.
    pub sub_via: Vec<String>,
}

/// Whether option `id` was given on the command line after `-s` (or at all, without `-s`).
fn given_after_safe(m: &ArgMatches, id: &str) -> bool {
    use clap::parser::ValueSource;
    if m.value_source(id) != Some(ValueSource::CommandLine) {
        return false;
    }
    match (m.index_of("safe"), m.index_of(id)) {
        (Some(safe), Some(i)) => i > safe,
        _ => true,
    }
}

impl KafkaArgs {
    /// Applies `-s/--safe` as jepsen.bufstream does: the safe settings, except those given
    /// after `-s` on the command line.
    pub fn resolve(&self, m: &ArgMatches) -> Resolved {
        let safe = self.safe;
        let pick = |ids: &[&str]| !safe || ids.iter().any(|id| given_after_safe(m, id));
        let flag = |on: bool, off: bool| match (on, off) {
            (true, _) => Some(true),
            (_, true) => Some(false),
            _ => None,
        };
        Resolved {
            acks: if pick(&["acks"]) {
                self.acks.clone()
            } else {
                Some("all".into())
            },
            retries: if pick(&["retries"]) {
                self.retries
            } else {
                Some(1000)
            },
            idempotence: if pick(&["idempotence", "no_idempotence"]) {
                flag(self.idempotence, self.no_idempotence)
            } else {
                Some(true)
            },
            isolation_level: if pick(&["isolation_level"]) {
                self.isolation_level.clone()
            } else {
                Some("read_committed".into())
            },
            auto_offset_reset: if pick(&["auto_offset_reset"]) {
                self.auto_offset_reset.clone()
            } else {
                Some("earliest".into())
            },
            enable_auto_commit: if pick(&["enable_auto_commit", "disable_auto_commit"]) {
                flag(self.enable_auto_commit, self.disable_auto_commit)
            } else {
                Some(false)
            },
            sub_via: if pick(&["sub_via"]) {
                self.sub_via.clone()
            } else {
                vec!["assign".into()]
            },
        }
    }

    /// Checks the values clap cannot (names, ranges that depend on each other).
    pub fn check(&self, r: &Resolved) -> Result<(), SuiteError> {
        let one_of = |what: &str, v: &Option<String>, known: &[&str]| match v {
            Some(x) if !known.contains(&x.as_str()) => Err(SuiteError::bad(format!(
                "--{what} {x:?}: expected one of {}",
                known.join(", ")
            ))),
            _ => Ok(()),
        };
        one_of("acks", &r.acks, &["all", "-1", "1", "0"])?;
        one_of(
            "isolation-level",
            &r.isolation_level,
            &["read_committed", "read_uncommitted"],
        )?;
        one_of(
            "auto-offset-reset",
            &r.auto_offset_reset,
            &["earliest", "latest"],
        )?;
        if r.sub_via.is_empty() {
            return Err(SuiteError::bad("--sub-via: give assign, subscribe or both"));
        }
        if let Some(bad) = r
            .sub_via
            .iter()
            .find(|s| !["assign", "subscribe"].contains(&s.as_str()))
        {
            return Err(SuiteError::bad(format!(
                "--sub-via {bad:?}: expected assign and/or subscribe"
            )));
        }
        if self.partitions_per_topic < 1 {
            return Err(SuiteError::bad("--partitions-per-topic must be at least 1"));
        }
        if self.min_insync_replicas == 0 || self.min_insync_replicas > self.replication_factor {
            return Err(SuiteError::bad(format!(
                "--min-insync-replicas {} must be between 1 and --replication-factor {}",
                self.min_insync_replicas, self.replication_factor
            )));
        }
        Ok(())
    }

    /// Where Kafka comes from.
    pub fn source(&self) -> Source {
        match &self.archive {
            Some(a) => Source::Archive(a.clone()),
            None => Source::Maven(self.kafka_version.clone()),
        }
    }
}

/// The test name as jepsen.bufstream forms it: `kafka-4.4.0 queue txn rc assign acks=all
/// retries=1000 aor=earliest idem=true kill,partition`.
pub fn test_name(
    version: &str,
    workload: &str,
    txn: bool,
    r: &Resolved,
    faults: &BTreeSet<String>,
) -> String {
    let mut s = format!("kafka-{version} {workload}");
    if txn {
        s.push_str(" txn");
    }
    if let Some(i) = &r.isolation_level {
        s.push(' ');
        s.push_str(match i.as_str() {
            "read_committed" => "rc",
            "read_uncommitted" => "ru",
            other => other,
        });
    }
    let mut via = r.sub_via.clone();
    via.sort();
    via.dedup();
    s.push(' ');
    s.push_str(&via.join(","));
    if let Some(a) = &r.acks {
        s.push_str(&format!(" acks={a}"));
    }
    if let Some(n) = r.retries {
        s.push_str(&format!(" retries={n}"));
    }
    if let Some(a) = &r.auto_offset_reset {
        s.push_str(&format!(" aor={a}"));
    }
    if let Some(i) = r.idempotence {
        s.push_str(&format!(" idem={i}"));
    }
    if !faults.is_empty() {
        s.push(' ');
        s.push_str(&faults.iter().cloned().collect::<Vec<_>>().join(","));
    }
    s
}

/// The Kafka suite in the CLI's table.
pub struct KafkaSuite;

impl Suite for KafkaSuite {
    fn name(&self) -> &'static str {
        "kafka"
    }

    fn about(&self) -> &'static str {
        "Apache Kafka (KRaft, from Maven Central) on the local cluster or SSH nodes: Jepsen's queue workload"
    }

    fn workloads(&self) -> &'static [&'static str] {
        WORKLOADS
    }

    fn default_nemesis(&self) -> &'static str {
        "partition,kill"
    }

    fn default_concurrency(&self) -> &'static str {
        "2n"
    }

    fn default_rate_hz(&self) -> Option<f64> {
        Some(10_000.0)
    }

    fn test_all_nemeses(&self) -> Vec<String> {
        TEST_ALL_NEMESES.iter().map(|s| s.to_string()).collect()
    }

    fn roles(&self, nodes: &[String]) -> Roles {
        roles_of(nodes, 3)
    }

    fn args(&self, cmd: clap::Command) -> clap::Command {
        KafkaArgs::augment_args(cmd)
    }

    fn check_args(
        &self,
        m: &ArgMatches,
        common: &Common,
        _over_ssh: bool,
    ) -> Result<(), SuiteError> {
        let a = KafkaArgs::from_arg_matches(m)?;
        a.check(&a.resolve(m))?;
        let roles = self.roles(&common.nodes);
        refuse_unsupported(&common.faults(&roles)?, &roles)
    }

    fn build(
        &self,
        m: &ArgMatches,
        common: &Common,
        place: Option<&Place>,
    ) -> Result<Test, SuiteError> {
        let a = KafkaArgs::from_arg_matches(m)?;
        let place = place.ok_or_else(|| SuiteError::failed("the Kafka suite needs nodes"))?;
        build_test(&a, &a.resolve(m), common, place)
    }

    fn checker(&self, spec: &serde_json::Value) -> Result<Box<dyn Checker>, String> {
        let ignore = spec
            .get("ignore-queue-errors")
            .and_then(|v| v.as_array())
            .map(|v| {
                v.iter()
                    .filter_map(|s| s.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default();
        let ww = spec
            .get("ww-deps")
            .and_then(|v| v.as_bool())
            .unwrap_or(true);
        Ok(checker(ww, ignore))
    }
}

/// Jepsen's `stats` for this workload: `crash` and `debug-topic-partitions` never complete
/// `ok` by design, so they do not make it invalid.
pub struct QueueStats;

impl Checker for QueueStats {
    fn check(&self, ctx: &CheckContext, history: &History) -> CheckResult {
        let mut r = rift_checker::Stats.check(ctx, history);
        let others_ok = r
            .details
            .get("by-f")
            .and_then(|b| b.as_object())
            .is_some_and(|by_f| {
                by_f.iter()
                    .filter(|(f, _)| !["crash", "debug-topic-partitions"].contains(&f.as_str()))
                    .all(|(_, s)| s.get("valid?") == Some(&serde_json::Value::Bool(true)))
            });
        if others_ok && r.valid == Validity::False {
            r.valid = Validity::True;
            r.anomaly_types.clear();
        }
        r
    }
}

/// The checkers of a queue run: stats, exceptions, and the Kafka checker (`ww_deps`, error
/// types in `ignore` allowed).
pub fn checker(ww_deps: bool, ignore: BTreeSet<String>) -> Box<dyn Checker> {
    let opts = rift_kafka::KafkaOptions {
        ww_deps,
        ignore,
        ..rift_kafka::KafkaOptions::default()
    };
    Box::new(Compose::new(vec![
        (
            "workload".to_string(),
            Box::new(rift_kafka::KafkaChecker(opts)) as Box<dyn Checker>,
        ),
        ("stats".to_string(), Box::new(QueueStats)),
        ("exceptions".to_string(), Box::new(rift_checker::Exceptions)),
    ]))
}

fn bad(e: impl std::fmt::Display) -> SuiteError {
    SuiteError::bad(e)
}

/// The fault packages of the run: Jepsen's targets as jepsen.bufstream sets them (partitions
/// one or majority; kills and pauses one, majority or all), role faults among their roles.
fn nemesis_phase(
    a: &KafkaArgs,
    common: &Common,
    roles: &Roles,
    faults: &BTreeSet<String>,
) -> Result<Option<(NemesisPhase, serde_json::Value)>, SuiteError> {
    let mut popts = PackageOptions::new(faults.clone(), common.nodes.clone());
    popts.interval_ns = common.nemesis_interval_ns();
    popts.roles = roles.clone();
    let targets = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    popts
        .targets
        .insert("partition".into(), targets(&["one", "majority"]));
    popts
        .targets
        .insert("kill".into(), targets(&["one", "majority", "all"]));
    popts
        .targets
        .insert("pause".into(), targets(&["one", "majority", "all"]));
    let packages = rift_nemesis::packages(&popts).map_err(bad)?;
    let rotate_ns = match common.nemesis_rotate_ns() {
        Some(ns) => Some(ns),
        None if a.nemesis_stable_period > 0.0 => Some((a.nemesis_stable_period * 1e9) as i64),
        None => None,
    };
    let Some((mut phase, perf)) = rift_nemesis::test_phase(packages, rotate_ns, common.recovery)
    else {
        return Ok(None);
    };
    // As the seed: faults start 5 s into the workload (early faults can leave a cluster that
    // is still forming its metadata unusable).
    // (concat, not phases: phases would wait for every client thread to be free at once.)
    phase.generator = gen::concat(vec![
        gen::nemesis(gen::sleep(5_000_000_000)),
        phase.generator,
    ]);
    Ok(Some((phase, perf)))
}

/// Faults the Kafka suite refuses, with why.
pub fn refuse_unsupported(faults: &BTreeSet<String>, roles: &Roles) -> Result<(), SuiteError> {
    let kinds = rift_nemesis::fault_kinds(faults, roles);
    if kinds.contains("file") {
        return Err(bad(
            "--nemesis file: the Kafka suite names no files to corrupt",
        ));
    }
    Ok(())
}

fn faults_kinds_clock(faults: &BTreeSet<String>, roles: &Roles) -> bool {
    rift_nemesis::fault_kinds(faults, roles).contains("clock")
}

/// Builds one run on `place`.
pub fn build_test(
    a: &KafkaArgs,
    r: &Resolved,
    common: &Common,
    place: &Place,
) -> Result<Test, SuiteError> {
    a.check(r)?;
    let nodes = place.nodes();
    let roles = roles_of(&nodes, 3);
    let faults = common.faults(&roles)?;
    refuse_unsupported(&faults, &roles)?;
    let db_opts = KafkaDbOptions {
        source: a.source(),
        replication_factor: a.replication_factor,
        min_insync_replicas: a.min_insync_replicas,
        unclean_leader_election: a.unclean_leader_election,
        heap_mb: a.heap_mb,
        install_on_nodes: place.local().is_none(),
        ..KafkaDbOptions::default()
    };
    let dirs = place.node_dirs().map_err(SuiteError::failed)?;
    let mut db = KafkaDb::new(place.remote(), dirs, db_opts, common.seed).map_err(bad)?;
    if let (Some(cluster), true) = (place.local(), faults_kinds_clock(&faults, &roles)) {
        // The JVMs see their node's clock offset through rift's wall-clock shim: only
        // CLOCK_REALTIME moves, as when a real machine's clock is stepped (libfaketime
        // breaks a JVM's timed waits; see rift_control::clock::FaketimeOptions).
        let opts = rift_control::clock::FaketimeOptions {
            realtime_only: true,
        };
        for node in cluster.nodes() {
            let env = rift_control::clock::faketime_env_with(cluster, &node, opts)
                .map_err(SuiteError::bad)?;
            db = db.with_env(&node, env);
        }
    }
    let db = Arc::new(db);
    let watchdog = common.watchdog();
    let (phase, perf, nemesis): (_, _, Box<dyn rift_core::Nemesis>) =
        match nemesis_phase(a, common, &roles, &faults)? {
            None => (
                None,
                serde_json::Value::Null,
                Box::new(rift_core::NoopNemesis),
            ),
            Some((phase, perf)) => {
                let mut nem = place
                    .nemesis(common.seed)
                    .with_db(db.clone())
                    .with_roles(roles.clone());
                if let Some(w) = &watchdog {
                    nem = nem.with_watchdog(w.clone());
                }
                (Some(phase), perf, Box::new(nem))
            }
        };
    let txn = a.txn && !a.no_txn;
    let g = QueueGenOptions {
        txn,
        sub_via: r.sub_via.clone(),
        sub_p: a.sub_p,
        max_writes_per_key: a.max_writes_per_key,
        crash_clients: a.crash_clients,
        crash_client_interval_s: a.crash_client_interval,
        concurrency: common.concurrency,
        final_time_limit: Duration::from_secs_f64(a.final_time_limit),
        // Jepsen's final polls restart only when 10000 s pass: in effect one round.
        final_round: Duration::from_secs_f64(a.final_time_limit),
        ..QueueGenOptions::default()
    };
    let (main, offsets) = main_generator(&g);
    let last = final_generator(&g, offsets);
    let generator = rift_core::workload::assemble_final(
        main,
        Some(last),
        common.rate_hz,
        common.time_limit,
        phase,
    );
    let copts = client_options(a, r, txn);
    let client = KafkaClient::new(db.bootstrap(), copts, common.seed);
    let ww_deps = a.ww_deps || !a.no_ww_deps;
    let ignore: BTreeSet<String> = a
        .ignore_queue_errors
        .iter()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .collect();
    let version = a.source().version();
    let spec = serde_json::json!({
        "db": "kafka",
        "workload": common.workload,
        "kafka-version": version,
        "txn": txn,
        "abort-p": a.abort_p,
        "acks": r.acks,
        "retries": r.retries,
        "idempotence": r.idempotence,
        "isolation-level": r.isolation_level,
        "auto-offset-reset": r.auto_offset_reset,
        "enable-auto-commit": r.enable_auto_commit,
        "sub-via": r.sub_via,
        "sub-p": a.sub_p,
        "max-writes-per-key": a.max_writes_per_key,
        "crash-clients": a.crash_clients,
        "crash-client-interval-s": a.crash_client_interval,
        "final-time-limit-s": a.final_time_limit,
        "partitions-per-topic": a.partitions_per_topic,
        "replication-factor": a.replication_factor,
        "min-insync-replicas": a.min_insync_replicas,
        "unclean-leader-election": a.unclean_leader_election,
        "ww-deps": ww_deps,
        "ignore-queue-errors": ignore.iter().cloned().collect::<Vec<_>>(),
        "rate-hz": common.rate_hz,
        "nemesis": faults.iter().cloned().collect::<Vec<_>>(),
        "nemesis-interval-s": common.nemesis_interval_s,
        "nemesis-stable-period-s": a.nemesis_stable_period,
        "roles": roles,
    });
    let mut run = common.run.clone();
    run.time_limit = Some(common.time_limit);
    Ok(Test {
        name: test_name(&version, &common.workload, txn, r, &faults),
        nodes,
        concurrency: common.concurrency,
        db,
        client: Box::new(client),
        nemesis,
        generator,
        checker: checker(ww_deps, ignore),
        seed: common.seed,
        opts: run,
        spec,
        perf,
        watchdog,
    })
}

/// The client's settings. Options left unset take the Java client's defaults, as they do in
/// Jepsen's runs ([`ClientOptions::default`]: acks all, idempotence on, read_uncommitted,
/// latest, auto-commit on), so a run without `-s` behaves as the seed's does.
pub fn client_options(a: &KafkaArgs, r: &Resolved, txn: bool) -> ClientOptions {
    let d = ClientOptions::default();
    ClientOptions {
        acks: r.acks.clone().unwrap_or(d.acks),
        retries: r.retries.or(d.retries),
        idempotence: r.idempotence.unwrap_or(d.idempotence),
        txn,
        abort_p: a.abort_p,
        isolation_level: r.isolation_level.clone().unwrap_or(d.isolation_level),
        auto_offset_reset: r.auto_offset_reset.clone().unwrap_or(d.auto_offset_reset),
        enable_auto_commit: r.enable_auto_commit.unwrap_or(d.enable_auto_commit),
        partitions_per_topic: a.partitions_per_topic,
        replication_factor: a.replication_factor as i32,
        min_insync_replicas: a.min_insync_replicas as i32,
        ..d
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> (KafkaArgs, ArgMatches) {
        let cmd = KafkaArgs::augment_args(clap::Command::new("t"));
        let m = cmd
            .try_get_matches_from(std::iter::once("t").chain(args.iter().copied()))
            .unwrap();
        (KafkaArgs::from_arg_matches(&m).unwrap(), m)
    }

    #[test]
    fn safe_sets_the_safest_settings_and_later_options_override_it() {
        let (a, m) = parse(&["-s"]);
        let r = a.resolve(&m);
        assert_eq!(r.acks.as_deref(), Some("all"));
        assert_eq!(r.retries, Some(1000));
        assert_eq!(r.idempotence, Some(true));
        assert_eq!(r.isolation_level.as_deref(), Some("read_committed"));
        assert_eq!(r.auto_offset_reset.as_deref(), Some("earliest"));
        assert_eq!(r.enable_auto_commit, Some(false));
        assert_eq!(r.sub_via, ["assign"]);
        let (a, m) = parse(&[
            "-s",
            "--acks",
            "1",
            "--sub-via",
            "subscribe",
            "--no-idempotence",
        ]);
        let r = a.resolve(&m);
        assert_eq!(r.acks.as_deref(), Some("1"));
        assert_eq!(r.sub_via, ["subscribe"]);
        assert_eq!(r.idempotence, Some(false));
        assert_eq!(r.retries, Some(1000));
        // Before -s, -s wins (Jepsen's options apply left to right).
        let (a, m) = parse(&["--acks", "0", "--safe"]);
        assert_eq!(a.resolve(&m).acks.as_deref(), Some("all"));
        // Without -s, unset means the client's default.
        let (a, m) = parse(&[]);
        let r = a.resolve(&m);
        assert_eq!(r.acks, None);
        assert_eq!(r.sub_via, ["subscribe"]);
        assert_eq!(r.enable_auto_commit, None);
    }

    #[test]
    fn names_follow_jepsen() {
        let (a, m) = parse(&["-s", "--txn"]);
        let r = a.resolve(&m);
        let faults: BTreeSet<String> = ["partition".to_string(), "kill".to_string()].into();
        assert_eq!(
            test_name("4.4.0", "queue", true, &r, &faults),
            "kafka-4.4.0 queue txn rc assign acks=all retries=1000 aor=earliest idem=true kill,partition"
        );
        let (a, m) = parse(&[]);
        assert_eq!(
            test_name("4.4.0", "queue", false, &a.resolve(&m), &BTreeSet::new()),
            "kafka-4.4.0 queue subscribe"
        );
    }

    #[test]
    fn bad_values_name_the_option() {
        let (a, m) = parse(&["--acks", "most"]);
        let e = a.check(&a.resolve(&m)).unwrap_err().to_string();
        assert_eq!(e, "--acks \"most\": expected one of all, -1, 1, 0");
        let (a, m) = parse(&["--sub-via", "assign,poll"]);
        let e = a.check(&a.resolve(&m)).unwrap_err().to_string();
        assert!(e.contains("--sub-via \"poll\""), "{e}");
        let (a, m) = parse(&["--isolation-level", "serializable"]);
        assert!(a.check(&a.resolve(&m)).is_err());
        let (a, m) = parse(&["--min-insync-replicas", "4"]);
        assert!(a
            .check(&a.resolve(&m))
            .unwrap_err()
            .to_string()
            .contains("--min-insync-replicas 4"));
        assert!(KafkaArgs::augment_args(clap::Command::new("t"))
            .try_get_matches_from(["t", "--abort-p", "2"])
            .is_err());
    }

    #[test]
    fn stats_ignore_crash_and_debug_ops() {
        use rift_history::edn;
        let text = "{:process 0, :type :invoke, :f :crash, :value nil, :time 0}\n\
                    {:process 0, :type :info, :f :crash, :value nil, :time 1}\n\
                    {:process 1, :type :invoke, :f :poll, :value [[:poll]], :time 2}\n\
                    {:process 1, :type :ok, :f :poll, :value [[:poll {}]], :time 3}\n";
        let h = History::new(edn::read_edn_bytes(text.as_bytes(), None).unwrap()).unwrap();
        let r = QueueStats.check(&CheckContext::none(), &h);
        assert_eq!(r.valid, Validity::True);
        let text = "{:process 1, :type :invoke, :f :poll, :value [[:poll]], :time 2}\n\
                    {:process 1, :type :fail, :f :poll, :value [[:poll]], :time 3}\n";
        let h = History::new(edn::read_edn_bytes(text.as_bytes(), None).unwrap()).unwrap();
        assert_eq!(
            QueueStats.check(&CheckContext::none(), &h).valid,
            Validity::False
        );
    }
}
