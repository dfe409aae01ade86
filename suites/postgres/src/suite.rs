//! `rift test --db postgres`: the suite as the CLI runs it. n1 is the primary, the next
//! nodes streaming replicas (`--replicas N`, default: every other node given; with neither,
//! one node); every transaction runs at `--isolation`, and Elle checks `--consistency-models`
//! (default: `--expected-consistency`, itself by default what the level promises).

use crate::checker::{checker, summary_lines, CheckSpec};
use crate::client::{ClientOptions, Isolation, PgClient, Workload, WORKLOADS};
use crate::db::{Part, Postgres};
use clap::parser::ValueSource;
use clap::{ArgMatches, Args, FromArgMatches};
use rift_core::workload::{NemesisPhase, BANK_ACCOUNTS, BANK_TOTAL};
use rift_core::{Db, Test};
use rift_generator::{list_append_generator, rw_register_generator, TxnGenOptions};
use rift_nemesis::{PackageOptions, Roles};
use rift_suite::{Common, DaemonDb, Place, RoleDb, RolePart, Suite, SuiteError};
use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// The primary's role.
pub const PRIMARY: &str = "primary";
/// The replicas' role.
pub const REPLICA: &str = "replica";

/// The options of `--db postgres` (Jepsen's names where its PostgreSQL suite has them).
#[derive(Args, Clone, Debug)]
pub struct PostgresArgs {
    /// The isolation level of every transaction: read-committed, repeatable-read or
    /// serializable. `rift test-all` runs every level unless this is given.
    #[arg(long, default_value = "serializable")]
    pub isolation: String,
    /// The consistency model the run is expected to keep (default: what the level promises:
    /// read-committed, snapshot-isolation, serializable); the summary says whether it held.
    #[arg(long, alias = "expected-consistency-model")]
    pub expected_consistency: Option<String>,
    /// The models Elle checks, comma-separated (default: the expected one): give a stronger
    /// one on purpose (`--isolation repeatable-read --consistency-models serializable` finds
    /// write skew).
    #[arg(long, value_delimiter = ',')]
    pub consistency_models: Vec<String>,
    /// Streaming replicas on the nodes after the primary (default: every node but n1).
    #[arg(long)]
    pub replicas: Option<usize>,
    /// Read-only transactions go to a replica (at repeatable read, the most a hot standby
    /// offers): a documented weakening, stale reads included.
    #[arg(long)]
    pub replica_reads: bool,
    /// A directory with `postgres`, `initdb`, `pg_basebackup` and `psql` (default: the newest
    /// /usr/lib/postgresql/<major>/bin; as root, Debian's `postgresql` is installed when
    /// there is none).
    #[arg(long)]
    pub pg_bin_dir: Option<PathBuf>,
    /// Tables the append and wr keys spread over (Jepsen's `txn0`, `txn1`, ...).
    #[arg(long, default_value_t = 3)]
    pub table_count: u32,
    /// Keys in play at once (append, wr).
    #[arg(long, default_value_t = 10)]
    pub key_count: usize,
    /// Most micro-ops per transaction (append, wr; at least 1).
    #[arg(long, default_value_t = 4)]
    pub max_txn_length: usize,
    /// Writes to a key before a fresh key takes its place (append, wr).
    #[arg(long, default_value_t = 32)]
    pub max_writes_per_key: u64,
    /// How long one statement or connection may take, seconds.
    #[arg(long, default_value_t = 5.0)]
    pub client_timeout: f64,
}

/// What the options come to.
#[derive(Clone, Debug)]
pub struct Resolved {
    /// The workload.
    pub workload: Workload,
    /// The isolation level.
    pub isolation: Isolation,
    /// The expected model.
    pub expected: String,
    /// The models Elle checks.
    pub models: Vec<String>,
    /// Replicas.
    pub replicas: usize,
}

fn check_model(option: &str, m: &str) -> Result<(), SuiteError> {
    if rift_elle::model_names().contains(&m) {
        return Ok(());
    }
    Err(SuiteError::bad(format!(
        "{option} {m:?}: not a consistency model Elle knows; known: {}",
        rift_elle::model_names().join(", ")
    )))
}

impl PostgresArgs {
    /// Checks the options against the run's common ones and resolves the defaults.
    pub fn resolve(&self, common: &Common) -> Result<Resolved, SuiteError> {
        let workload = Workload::parse(&common.workload).map_err(SuiteError::bad)?;
        let level = common.variant.as_deref().unwrap_or(&self.isolation);
        let isolation = Isolation::parse(level).map_err(SuiteError::bad)?;
        let expected = self
            .expected_consistency
            .clone()
            .unwrap_or_else(|| isolation.promises().to_string());
        check_model("--expected-consistency", &expected)?;
        let models: Vec<String> = self
            .consistency_models
            .iter()
            .map(|m| m.trim().to_string())
            .filter(|m| !m.is_empty())
            .collect();
        for m in &models {
            check_model("--consistency-models", m)?;
        }
        let models = if models.is_empty() {
            vec![expected.clone()]
        } else {
            models
        };
        let n = common.nodes.len();
        let replicas = self.replicas.unwrap_or(n.saturating_sub(1));
        if replicas + 1 != n {
            return Err(SuiteError::bad(format!(
                "--replicas {replicas} needs {} nodes (the primary and its replicas), got {n}: \
                 give --replicas {} or {} nodes",
                replicas + 1,
                n.saturating_sub(1),
                replicas + 1
            )));
        }
        if self.replica_reads && replicas == 0 {
            return Err(SuiteError::bad(
                "--replica-reads needs replicas: give --replicas N (N+1 nodes)",
            ));
        }
        if self.table_count == 0 || self.key_count == 0 || self.max_txn_length == 0 {
            return Err(SuiteError::bad(
                "--table-count, --key-count and --max-txn-length must be at least 1",
            ));
        }
        if self.max_writes_per_key == 0 {
            return Err(SuiteError::bad("--max-writes-per-key must be at least 1"));
        }
        if !(self.client_timeout > 0.0 && self.client_timeout.is_finite()) {
            return Err(SuiteError::bad(format!(
                "--client-timeout {}: give a positive number of seconds",
                self.client_timeout
            )));
        }
        if let Some(d) = &self.pg_bin_dir {
            crate::dist::check_bin_dir(d)?;
        }
        Ok(Resolved {
            workload,
            isolation,
            expected,
            models,
            replicas,
        })
    }
}

/// n1 the primary, the rest replicas.
pub fn roles_of(nodes: &[String]) -> Roles {
    let mut r = Roles::new();
    r.insert(PRIMARY.into(), nodes.iter().take(1).cloned().collect());
    r.insert(REPLICA.into(), nodes.iter().skip(1).cloned().collect());
    r
}

/// The name of a run, after Jepsen's `postgres append RR (SI) none`:
/// `postgres-append-RR-SI-none`.
pub fn test_name(r: &Resolved, replica_reads: bool, faults: &BTreeSet<String>) -> String {
    let short = |m: &str| match m {
        "strict-serializable" => "Strict-1SR".to_string(),
        "serializable" => "S".into(),
        "strong-snapshot-isolation" => "Strong-SI".into(),
        "snapshot-isolation" => "SI".into(),
        "repeatable-read" => "RR".into(),
        "read-committed" => "RC".into(),
        "read-uncommitted" => "RU".into(),
        other => other.into(),
    };
    let checked: Vec<String> = r.models.iter().map(|m| short(m)).collect();
    let mut name = format!("postgres-{}", r.workload.name());
    if matches!(r.workload, Workload::Append | Workload::Wr) {
        name.push_str(&format!("-{}-{}", r.isolation.short(), checked.join("+")));
    } else {
        name.push_str(&format!("-{}", r.isolation.short()));
    }
    if replica_reads {
        name.push_str("-replica-reads");
    }
    name.push('-');
    name.push_str(&rift_suite::nemesis_name(faults));
    name
}

/// The whole generator: the workload's (Elle's txn generators for append and wr, the common
/// register and bank ones), with the faults beside it.
fn generator(
    a: &PostgresArgs,
    r: &Resolved,
    common: &Common,
    phase: Option<NemesisPhase>,
) -> Result<rift_generator::Gen, SuiteError> {
    let o = TxnGenOptions {
        key_count: a.key_count,
        min_txn_length: 1,
        max_txn_length: a.max_txn_length,
        max_writes_per_key: a.max_writes_per_key,
        ..TxnGenOptions::default()
    };
    let main = match r.workload {
        Workload::Append => list_append_generator(o),
        Workload::Wr => rw_register_generator(o),
        Workload::Register | Workload::Bank => {
            return rift_core::workload::generator_with_nemesis(
                r.workload.name(),
                common.rate_hz,
                common.time_limit,
                common.concurrency,
                phase,
            )
            .map_err(SuiteError::bad)
        }
    };
    Ok(rift_core::workload::assemble(
        main,
        None,
        common.rate_hz,
        common.time_limit,
        phase,
    ))
}

/// The spec stored in `test.json` (what `rift analyze` rebuilds the checker from).
pub fn spec_json(
    a: &PostgresArgs,
    r: &Resolved,
    common: &Common,
    extra: serde_json::Value,
) -> serde_json::Value {
    let mut spec = serde_json::json!({
        "db": "postgres",
        "workload": r.workload.name(),
        "isolation": r.isolation.name(),
        "expected-consistency": r.expected,
        "consistency-models": r.models,
        "replicas": r.replicas,
        "replica-reads": a.replica_reads,
        "table-count": a.table_count,
        "key-count": a.key_count,
        "max-txn-length": a.max_txn_length,
        "max-writes-per-key": a.max_writes_per_key,
        "client-timeout-s": a.client_timeout,
        "rate-hz": common.rate_hz,
        "bank-total": BANK_TOTAL,
        "nemesis": common.nemesis,
        "nemesis-interval-s": common.nemesis_interval_s,
    });
    if let (Some(m), Some(e)) = (spec.as_object_mut(), extra.as_object()) {
        m.extend(e.clone());
    }
    spec
}

/// The check spec of a stored spec.
pub fn check_spec_of(spec: &serde_json::Value) -> Result<CheckSpec, String> {
    let field = |k: &str| spec.get(k).and_then(|v| v.as_str());
    let workload = Workload::parse(field("workload").ok_or("the test spec names no workload")?)?;
    let expected = field("expected-consistency")
        .unwrap_or("serializable")
        .to_string();
    let models = spec
        .get("consistency-models")
        .and_then(|m| m.as_array())
        .map(|a| {
            a.iter()
                .filter_map(|m| m.as_str().map(str::to_string))
                .collect::<Vec<_>>()
        })
        .filter(|m| !m.is_empty())
        .unwrap_or_else(|| vec![expected.clone()]);
    Ok(CheckSpec {
        workload,
        models,
        expected,
    })
}

/// Builds one run on `place`.
pub fn build_test(a: &PostgresArgs, common: &Common, place: &Place) -> Result<Test, SuiteError> {
    let r = a.resolve(common)?;
    let Some(cluster) = place.local() else {
        return Err(SuiteError::bad(
            "the postgres suite runs on the local cluster only (so far)",
        ));
    };
    let nodes = place.nodes();
    let roles = roles_of(&nodes);
    let faults = common.faults(&roles)?;
    let bin_dir = crate::dist::bin_dir(a.pg_bin_dir.as_deref())?;
    let version = crate::dist::version(&bin_dir).unwrap_or_else(|| "unknown".into());
    let dirs: BTreeMap<String, rift_control::NodeDirs> = place
        .node_dirs()
        .map_err(SuiteError::failed)?
        .into_iter()
        .collect();
    // PostgreSQL reads the wall clock through the C library: the shim moves its
    // CLOCK_REALTIME only (timeouts and the WAL writer keep the monotonic clock).
    let env = rift_suite::clock_envs(cluster, &faults, &roles)?;
    let of = |role: &str| rift_suite::role_dirs(&roles, role, &dirs);
    let primary = roles[PRIMARY][0].clone();
    let primary_addr = dirs[&primary].address;
    let remote = place.remote();
    let daemon = |part: Part| Postgres {
        bin_dir: bin_dir.display().to_string(),
        part,
        env: env.clone(),
    };
    let mut parts = vec![RolePart {
        role: PRIMARY.into(),
        db: Arc::new(DaemonDb::new(
            remote.clone(),
            of(PRIMARY),
            daemon(Part::Primary),
        )) as Arc<dyn Db>,
        nodes: roles[PRIMARY].clone(),
        tier: 0,
    }];
    if !roles[REPLICA].is_empty() {
        parts.push(RolePart {
            role: REPLICA.into(),
            db: Arc::new(DaemonDb::new(
                remote,
                of(REPLICA),
                daemon(Part::Replica(primary_addr)),
            )),
            nodes: roles[REPLICA].clone(),
            tier: 1,
        });
    }
    let db = Arc::new(RoleDb::new(parts).map_err(SuiteError::failed)?);
    let watchdog = common.watchdog();
    let mut popts = PackageOptions::new(faults.clone(), nodes.clone());
    popts.interval_ns = common.nemesis_interval_ns();
    popts.roles = roles.clone();
    let packages = rift_nemesis::packages(&popts).map_err(SuiteError::bad)?;
    let (phase, perf, nemesis) = rift_suite::place_nemesis(
        place,
        common.seed,
        db.clone(),
        &roles,
        watchdog.as_ref(),
        rift_nemesis::test_phase(packages, common.nemesis_rotate_ns(), common.recovery),
    );
    let generator = generator(a, &r, common, phase)?;
    let client = PgClient::new(ClientOptions {
        workload: r.workload,
        isolation: r.isolation,
        primary: primary_addr,
        replicas: roles[REPLICA]
            .iter()
            .map(|n| (n.clone(), dirs[n].address))
            .collect(),
        replica_reads: a.replica_reads,
        table_count: a.table_count,
        timeout: Duration::from_secs_f64(a.client_timeout),
        bank_accounts: BANK_ACCOUNTS,
        bank_total: BANK_TOTAL,
    });
    let spec = spec_json(
        a,
        &r,
        common,
        serde_json::json!({
            "postgres-version": version,
            "pg-bin-dir": bin_dir.display().to_string(),
            "roles": roles,
        }),
    );
    let checker =
        checker(&check_spec_of(&spec).map_err(SuiteError::failed)?).map_err(SuiteError::failed)?;
    let mut run = common.run.clone();
    run.time_limit = Some(common.time_limit);
    Ok(Test {
        name: test_name(&r, a.replica_reads, &faults),
        nodes,
        concurrency: common.concurrency,
        db,
        client: Box::new(client),
        nemesis,
        generator,
        checker,
        seed: common.seed,
        opts: run,
        spec,
        perf,
        watchdog,
    })
}

/// The PostgreSQL suite in the CLI's table.
pub struct PostgresSuite;

impl Suite for PostgresSuite {
    fn name(&self) -> &'static str {
        "postgres"
    }

    fn about(&self) -> &'static str {
        "PostgreSQL (Debian's), a primary and streaming replicas: Elle's append and wr at every isolation level, register, bank"
    }

    fn workloads(&self) -> &'static [&'static str] {
        WORKLOADS
    }

    fn default_concurrency(&self) -> &'static str {
        "10"
    }

    fn default_rate_hz(&self) -> Option<f64> {
        Some(200.0)
    }

    fn default_node_count(&self, m: &ArgMatches, _workload: &str) -> usize {
        m.try_get_one::<usize>("replicas")
            .ok()
            .flatten()
            .map_or(1, |r| r + 1)
    }

    /// Jepsen's PostgreSQL suite's sets: none, and pause, kill, partition and clock together.
    fn test_all_nemeses(&self, _over_ssh: bool) -> Vec<String> {
        vec!["none".into(), "pause,kill,partition,clock".into()]
    }

    fn test_all_variants(&self, m: &ArgMatches) -> Option<(&'static str, Vec<String>)> {
        if m.value_source("isolation") == Some(ValueSource::CommandLine) {
            return None;
        }
        Some((
            "isolation",
            crate::client::ISOLATIONS
                .iter()
                .map(|s| s.to_string())
                .collect(),
        ))
    }

    fn roles(&self, nodes: &[String]) -> Roles {
        roles_of(nodes)
    }

    fn args(&self, cmd: clap::Command) -> clap::Command {
        PostgresArgs::augment_args(cmd)
    }

    fn check_args(
        &self,
        m: &ArgMatches,
        common: &Common,
        over_ssh: bool,
    ) -> Result<(), SuiteError> {
        let a = PostgresArgs::from_arg_matches(m)?;
        a.resolve(common)?;
        if over_ssh {
            return Err(SuiteError::bad(
                "the postgres suite runs on the local cluster only (so far)",
            ));
        }
        common.faults(&self.roles(&common.nodes))?;
        Ok(())
    }

    fn build(
        &self,
        m: &ArgMatches,
        common: &Common,
        place: Option<&Place>,
    ) -> Result<Test, SuiteError> {
        let a = PostgresArgs::from_arg_matches(m)?;
        let place = place.ok_or_else(|| SuiteError::failed("the postgres suite needs nodes"))?;
        build_test(&a, common, place)
    }

    fn checker(&self, spec: &serde_json::Value) -> Result<Box<dyn rift_checker::Checker>, String> {
        checker(&check_spec_of(spec)?)
    }

    fn summary(&self, result: &rift_checker::CheckResult) {
        for line in summary_lines(result) {
            println!("{line}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Command;

    fn matches(args: &[&str]) -> ArgMatches {
        let mut argv = vec!["test"];
        argv.extend(args);
        PostgresSuite
            .args(Command::new("test"))
            .try_get_matches_from(argv)
            .unwrap()
    }

    fn resolve(args: &[&str], workload: &str, nodes: usize) -> Result<Resolved, SuiteError> {
        let m = matches(args);
        let nodes = (1..=nodes).map(|i| format!("n{i}")).collect();
        let c = Common::new(workload, nodes);
        PostgresArgs::from_arg_matches(&m).unwrap().resolve(&c)
    }

    #[test]
    fn defaults_follow_the_isolation_level() {
        let r = resolve(&[], "append", 1).unwrap();
        assert_eq!(r.isolation, Isolation::Serializable);
        assert_eq!(r.expected, "serializable");
        assert_eq!(r.models, ["serializable"]);
        assert_eq!(r.replicas, 0);
        let r = resolve(&["--isolation", "repeatable-read"], "wr", 3).unwrap();
        assert_eq!(r.expected, "snapshot-isolation");
        assert_eq!(r.replicas, 2);
        let r = resolve(
            &[
                "--isolation",
                "repeatable-read",
                "--consistency-models",
                "serializable",
            ],
            "append",
            1,
        )
        .unwrap();
        assert_eq!(
            (r.expected.as_str(), r.models.as_slice()),
            ("snapshot-isolation", &["serializable".to_string()][..])
        );
        assert_eq!(
            test_name(&r, false, &BTreeSet::new()),
            "postgres-append-RR-S-none"
        );
    }

    #[test]
    fn bad_input_gets_a_clear_error() {
        let e = resolve(&["--isolation", "snapshot"], "append", 1).unwrap_err();
        assert_eq!(e.exit_code(), 254);
        assert!(e.to_string().contains("--isolation \"snapshot\""), "{e}");
        let e = resolve(&["--consistency-models", "serialisable"], "append", 1).unwrap_err();
        assert!(
            e.to_string()
                .contains("--consistency-models \"serialisable\""),
            "{e}"
        );
        let e = resolve(&["--replicas", "2"], "append", 2).unwrap_err();
        assert!(e.to_string().contains("needs 3 nodes"), "{e}");
        let e = resolve(&["--replica-reads"], "append", 1).unwrap_err();
        assert!(
            e.to_string().contains("--replica-reads needs replicas"),
            "{e}"
        );
        let e = resolve(&[], "set", 1).unwrap_err();
        assert!(e.to_string().contains("append, wr, register, bank"), "{e}");
        let e = resolve(&["--pg-bin-dir", "/nonexistent"], "append", 1).unwrap_err();
        assert!(
            e.to_string().contains("--pg-bin-dir /nonexistent/postgres"),
            "{e}"
        );
    }

    #[test]
    fn node_count_and_variants_follow_the_options() {
        assert_eq!(PostgresSuite.default_node_count(&matches(&[]), "append"), 1);
        assert_eq!(
            PostgresSuite.default_node_count(&matches(&["--replicas", "2"]), "append"),
            3
        );
        let (col, vs) = PostgresSuite.test_all_variants(&matches(&[])).unwrap();
        assert_eq!(col, "isolation");
        assert_eq!(vs, ISOLATION_NAMES);
        assert!(PostgresSuite
            .test_all_variants(&matches(&["--isolation", "serializable"]))
            .is_none());
        // A test-all variant overrides --isolation.
        let m = matches(&[]);
        let mut c = Common::new("append", vec!["n1".into()]);
        c.variant = Some("read-committed".into());
        let r = PostgresArgs::from_arg_matches(&m)
            .unwrap()
            .resolve(&c)
            .unwrap();
        assert_eq!(r.expected, "read-committed");
    }

    const ISOLATION_NAMES: &[&str] = crate::client::ISOLATIONS;

    #[test]
    fn stored_specs_rebuild_the_checker() {
        let a =
            PostgresArgs::from_arg_matches(&matches(&["--isolation", "read-committed"])).unwrap();
        let c = Common::new("append", vec!["n1".into()]);
        let r = a.resolve(&c).unwrap();
        let spec = spec_json(&a, &r, &c, serde_json::json!({"postgres-version": "15.18"}));
        let cs = check_spec_of(&spec).unwrap();
        assert_eq!(cs.models, ["read-committed"]);
        assert_eq!(spec["postgres-version"], "15.18");
        assert!(PostgresSuite.checker(&spec).is_ok());
        assert!(PostgresSuite.checker(&serde_json::json!({})).is_err());
    }
}
