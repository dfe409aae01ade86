//! `rift test --db kafka`: Kafka's options beside the queue workload's ([`QueueArgs`]), and a
//! whole test built from them: Kafka on the run's nodes (under the wall-clock shim when clock
//! faults run), then [`queue_test`].

use crate::db::{roles_of, KafkaDb, KafkaDbOptions};
use crate::dist::{Source, DEFAULT_VERSION};
use crate::queue::{
    checker_of_spec, queue_test, refuse_unsupported, QueueArgs, QueueSystem, Resolved,
};
use clap::{ArgMatches, Args, FromArgMatches};
use rift_checker::Checker;
use rift_core::Test;
use rift_nemesis::Roles;
use rift_suite::{Common, Place, Suite, SuiteError};
use std::collections::BTreeSet;
use std::sync::Arc;

/// The workloads of the Kafka suite.
pub use crate::queue::WORKLOADS;

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
    /// The queue workload's options.
    #[command(flatten)]
    pub queue: QueueArgs,
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
    /// JVM heap of each Kafka node, MiB.
    #[arg(long, default_value_t = 512)]
    pub heap_mb: u32,
}

impl KafkaArgs {
    /// Applies `-s/--safe` (see [`QueueArgs::resolve`]).
    pub fn resolve(&self, m: &ArgMatches) -> Resolved {
        self.queue.resolve(m)
    }

    /// Checks the queue options and Kafka's own.
    pub fn check(&self, r: &Resolved) -> Result<(), SuiteError> {
        self.queue.check(r)?;
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
        crate::queue::DEFAULT_NEMESIS
    }

    fn default_concurrency(&self) -> &'static str {
        crate::queue::DEFAULT_CONCURRENCY
    }

    fn default_rate_hz(&self) -> Option<f64> {
        Some(crate::queue::DEFAULT_RATE_HZ)
    }

    fn test_all_nemeses(&self, _over_ssh: bool) -> Vec<String> {
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
        Ok(checker_of_spec(spec))
    }
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
    let mut db =
        KafkaDb::new(place.remote(), dirs, db_opts, common.seed).map_err(SuiteError::bad)?;
    if let (Some(cluster), true) = (place.local(), faults_kinds_clock(&faults, &roles)) {
        // The JVMs see their node's clock offset through rift's wall-clock shim: only
        // CLOCK_REALTIME moves, as when a real machine's clock is stepped (libfaketime
        // breaks a JVM's timed waits; see rift_control::clock::FaketimeOptions).
        for (node, env) in rift_control::clock::realtime_envs(cluster).map_err(SuiteError::bad)? {
            db = db.with_env(&node, env);
        }
    }
    let db = Arc::new(db);
    let bootstrap = db.bootstrap();
    let mut spec = serde_json::Map::new();
    spec.insert("db".into(), "kafka".into());
    spec.insert("kafka-version".into(), a.source().version().into());
    spec.insert(
        "unclean-leader-election".into(),
        a.unclean_leader_election.into(),
    );
    let sys = QueueSystem {
        name: format!("kafka-{}", a.source().version()),
        db: db.clone(),
        bootstrap,
        roles,
        replication_factor: a.replication_factor,
        min_insync_replicas: a.min_insync_replicas,
        spec,
        named_faults: None,
    };
    queue_test(&a.queue, r, common, place, faults, sys)
}

fn faults_kinds_clock(faults: &BTreeSet<String>, roles: &Roles) -> bool {
    rift_nemesis::fault_kinds(faults, roles).contains("clock")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::queue::{test_name, QueueStats};
    use rift_checker::{CheckContext, Validity};
    use rift_history::History;

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
            test_name("kafka-4.4.0", "queue", true, &r, &faults),
            "kafka-4.4.0 queue txn rc assign acks=all retries=1000 aor=earliest idem=true kill,partition"
        );
        let (a, m) = parse(&[]);
        assert_eq!(
            test_name(
                "kafka-4.4.0",
                "queue",
                false,
                &a.resolve(&m),
                &BTreeSet::new()
            ),
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
