//! The queue workload over the Kafka protocol, for every suite that runs it (Kafka, Bufstream,
//! nisshi): jepsen.bufstream's options ([`QueueArgs`], `-s/--safe` resolved as the seed does),
//! Jepsen's test names, the nemesis phase with the seed's targets and delay, the checkers, and
//! [`queue_test`], which builds a whole run against a [`QueueSystem`].

use crate::client::{ClientOptions, KafkaClient};
use crate::gen::{final_generator, main_generator, QueueGenOptions};
use clap::{ArgMatches, Args};
use rift_checker::{CheckContext, CheckResult, Checker, Compose, Validity};
use rift_core::workload::NemesisPhase;
use rift_core::Test;
use rift_generator as gen;
use rift_history::History;
use rift_nemesis::{PackageOptions, Roles};
use rift_suite::{Common, Place, SuiteError};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

/// The queue workload's options, named as jepsen.bufstream's (and jepsen.redpanda's) CLI:
/// every suite that runs the queue workload over the Kafka protocol flattens them into its own.
#[derive(Args, Clone, Debug)]
pub struct QueueArgs {
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
    /// Partitions per topic (keys 2t and 2t+1 share topic t with 2).
    #[arg(long, default_value_t = 2)]
    pub partitions_per_topic: i32,
}

/// The workloads of every queue suite.
pub const WORKLOADS: &[&str] = &["queue"];
/// The seed's defaults, shared by every queue suite: faults, client threads, request rate.
pub const DEFAULT_NEMESIS: &str = "partition,kill";
/// See [`DEFAULT_NEMESIS`].
pub const DEFAULT_CONCURRENCY: &str = "2n";
/// See [`DEFAULT_NEMESIS`] (jepsen.bufstream's `--rate` default).
pub const DEFAULT_RATE_HZ: f64 = 10_000.0;

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

impl QueueArgs {
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
        Ok(())
    }
}

/// The test name as jepsen.bufstream forms it: `kafka-4.4.0 queue txn rc assign acks=all
/// retries=1000 aor=earliest idem=true kill,partition`, with `system` (`kafka-4.4.0`, the
/// Bufstream binary's name, ...) first.
pub fn test_name(
    system: &str,
    workload: &str,
    txn: bool,
    r: &Resolved,
    faults: &BTreeSet<String>,
) -> String {
    let mut s = format!("{system} {workload}");
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

/// The checkers of a queue run rebuilt from its spec (`rift analyze`): `ww-deps` and
/// `ignore-queue-errors` as the run had them.
pub fn checker_of_spec(spec: &serde_json::Value) -> Box<dyn Checker> {
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
    checker(ww, ignore)
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
    a: &QueueArgs,
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

/// Faults no queue suite takes, with why.
pub fn refuse_unsupported(faults: &BTreeSet<String>, roles: &Roles) -> Result<(), SuiteError> {
    let kinds = rift_nemesis::fault_kinds(faults, roles);
    if kinds.contains("file") {
        return Err(bad(
            "--nemesis file: the queue suites name no files to corrupt",
        ));
    }
    Ok(())
}

/// What a queue run needs of the system under test; the rest comes from the queue options.
pub struct QueueSystem {
    /// The system's name first in the test name: `kafka-4.4.0`, a Bufstream binary's name.
    pub name: String,
    /// The database (setup, teardown, and the faults the nemesis applies to it).
    pub db: Arc<dyn rift_core::Db>,
    /// Each node's Kafka address, `host:port`, for the clients opened on it (nodes that run
    /// no broker map to a broker's address).
    pub bootstrap: BTreeMap<String, String>,
    /// The nodes of each role, for the role-scoped faults.
    pub roles: Roles,
    /// Topic replication factor the clients ask for.
    pub replication_factor: u32,
    /// Topic `min.insync.replicas` the clients ask for.
    pub min_insync_replicas: u32,
    /// More fields for the run's spec (`db`, versions, the system's options).
    pub spec: serde_json::Map<String, serde_json::Value>,
    /// The fault names for the test name when they differ from the faults run (a suite that
    /// expands `kill` into its roles' kills names the run `kill`, as the seed does).
    pub named_faults: Option<BTreeSet<String>>,
}

/// The bootstrap address of every node for a system whose `brokers` are some of the `nodes`
/// (Jepsen's `restrict-client`): a broker's clients go to itself, another node's to a broker
/// chosen by the node's position, so clients spread over the brokers.
pub fn bootstrap_to_brokers(
    nodes: &[String],
    brokers: &[String],
    addresses: &BTreeMap<String, std::net::IpAddr>,
    port: u16,
) -> BTreeMap<String, String> {
    nodes
        .iter()
        .enumerate()
        .map(|(i, n)| {
            let b = if brokers.contains(n) {
                n
            } else {
                &brokers[i % brokers.len()]
            };
            (n.clone(), format!("{}:{port}", addresses[b]))
        })
        .collect()
}

/// One queue run on `place` against `sys`: the seed's phases (faults 5 s in, heal, final
/// polls), the rdkafka client, the checkers. `faults` are the run's, resolved by the suite
/// (`common.faults(&sys.roles)`).
pub fn queue_test(
    a: &QueueArgs,
    r: &Resolved,
    common: &Common,
    place: &Place,
    faults: BTreeSet<String>,
    sys: QueueSystem,
) -> Result<Test, SuiteError> {
    a.check(r)?;
    refuse_unsupported(&faults, &sys.roles)?;
    let watchdog = common.watchdog();
    let (phase, perf, nemesis) = rift_suite::place_nemesis(
        place,
        common.seed,
        sys.db.clone(),
        &sys.roles,
        watchdog.as_ref(),
        nemesis_phase(a, common, &sys.roles, &faults)?,
    );
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
    let copts = client_options(a, r, txn, &sys);
    let client = KafkaClient::new(sys.bootstrap.clone(), copts, common.seed);
    let ww_deps = a.ww_deps || !a.no_ww_deps;
    let ignore: BTreeSet<String> = a
        .ignore_queue_errors
        .iter()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .collect();
    let mut spec = serde_json::json!({
        "workload": common.workload,
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
        "replication-factor": sys.replication_factor,
        "min-insync-replicas": sys.min_insync_replicas,
        "ww-deps": ww_deps,
        "ignore-queue-errors": ignore.iter().cloned().collect::<Vec<_>>(),
        "rate-hz": common.rate_hz,
        "nemesis": faults.iter().cloned().collect::<Vec<_>>(),
        "nemesis-interval-s": common.nemesis_interval_s,
        "nemesis-stable-period-s": a.nemesis_stable_period,
        "roles": sys.roles,
    });
    if let Some(m) = spec.as_object_mut() {
        m.extend(sys.spec.clone());
    }
    let mut run = common.run.clone();
    run.time_limit = Some(common.time_limit);
    Ok(Test {
        name: test_name(
            &sys.name,
            &common.workload,
            txn,
            r,
            sys.named_faults.as_ref().unwrap_or(&faults),
        ),
        nodes: place.nodes(),
        concurrency: common.concurrency,
        db: sys.db,
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
pub fn client_options(a: &QueueArgs, r: &Resolved, txn: bool, sys: &QueueSystem) -> ClientOptions {
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
        replication_factor: sys.replication_factor as i32,
        min_insync_replicas: sys.min_insync_replicas as i32,
        ..d
    }
}
