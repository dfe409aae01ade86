//! `rift test --db tikv`: the suite as the CLI runs it. Every node runs PD and TiKV; the
//! workloads are the seed's (`register` on the raw API, `set` and `list-append` on
//! transactions), the faults the seed's names (see [`crate::gen`]) beside rift's own.

use crate::client::{ClientOptions, TikvClient, Workload, WORKLOADS};
use crate::db::{TikvDb, TikvOptions};
use crate::gen::{NemesisOptions, Schedule};
use crate::nemesis::TikvNemesis;
use clap::{ArgMatches, Args, FromArgMatches};
use rift_checker::{Checker, CheckerOptions, Compose};
use rift_core::{Db, Test};
use rift_generator::{self as gen, list_append_generator, Gen, GenOp, TxnGenOptions};
use rift_history::Value;
use rift_nemesis::{PackageOptions, Roles};
use rift_suite::{Common, Place, Suite, SuiteError};
use std::collections::BTreeSet;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// The role of the PD processes (every node).
pub const PD: &str = "pd";
/// The role of the TiKV processes (every node).
pub const KV: &str = "kv";
/// What Elle checks list-append against unless told otherwise: TiKV's transactions promise
/// snapshot isolation (Percolator), with start and commit timestamps from PD's timestamp
/// oracle, so in real-time order: strong snapshot isolation. Write skew (G2) is allowed, so
/// `--consistency-models serializable` is stronger than TiKV promises, on purpose.
pub const EXPECTED_MODEL: &str = "strong-snapshot-isolation";

/// The options of `--db tikv`, by the seed's names.
#[derive(Args, Clone, Debug)]
pub struct TikvArgs {
    /// The TiKV release, `vX.Y.Z` (5.0.0 or later): PingCAP's tarball
    /// `http://download.pingcap.org/tidb-vX.Y.Z-linux-amd64.tar.gz`, as the seed builds it.
    #[arg(long)]
    pub version: Option<String>,
    /// A release tarball (file or URL) with `pd-server` and `tikv-server`, instead of
    /// `--version`'s; more than one (comma-separated or repeated) for PingCAP's per-component
    /// tarballs.
    #[arg(long, value_delimiter = ',')]
    pub tarball: Vec<String>,
    /// Operations on each register before its threads move to a fresh key (register).
    #[arg(long, default_value_t = 100)]
    pub ops_per_key: u64,
    /// Seconds between healing and the final reads (the seed's 10).
    #[arg(long, default_value_t = 10.0)]
    pub final_recovery_time: f64,
    /// Faults for 120 s, then heal and 60 s of calm, over and over (the seed's option).
    #[arg(long)]
    pub nemesis_long_recovery: bool,
    /// How fault ops are spaced: `random` (a random delay averaging --nemesis-interval, the
    /// seed's default) or `fixed` (exact multiples of it).
    #[arg(long, default_value = "random")]
    pub nemesis_schedule: String,
    /// The models Elle checks list-append against (default: strong-snapshot-isolation, what
    /// TiKV promises).
    #[arg(long, value_delimiter = ',')]
    pub consistency_models: Vec<String>,
    /// Keys in play at once (list-append).
    #[arg(long, default_value_t = 10)]
    pub key_count: usize,
    /// Most micro-ops per transaction (list-append).
    #[arg(long, default_value_t = 4)]
    pub max_txn_length: usize,
    /// Appends to a key before a fresh key takes its place (list-append).
    #[arg(long, default_value_t = 32)]
    pub max_writes_per_key: u64,
    /// How long one operation may take, seconds (beyond it: `fail` before a commit or a raw
    /// write, `info` during one).
    #[arg(long, default_value_t = 5.0)]
    pub client_timeout: f64,
}

/// What the options come to.
#[derive(Clone, Debug)]
pub struct Resolved {
    /// The workload.
    pub workload: Workload,
    /// The tarballs.
    pub sources: Vec<String>,
    /// The seed's faults of `--nemesis`.
    pub faults: crate::gen::SeedFaults,
    /// rift's faults of `--nemesis` (names the seed does not have).
    pub rift_faults: BTreeSet<String>,
    /// The seed's schedule options.
    pub nemesis: NemesisOptions,
    /// Elle's models (list-append).
    pub models: Vec<String>,
}

impl TikvArgs {
    /// Checks the options and resolves the defaults.
    pub fn resolve(&self, common: &Common) -> Result<Resolved, SuiteError> {
        let workload = Workload::parse(&common.workload).map_err(SuiteError::bad)?;
        let sources = crate::dist::sources(self.version.as_deref(), &self.tarball)?;
        let (faults, rift_faults) = split_nemesis(&common.nemesis, &roles_of(&common.nodes))?;
        let schedule = match self.nemesis_schedule.as_str() {
            "random" => Schedule::Random,
            "fixed" => Schedule::Fixed,
            other => {
                return Err(SuiteError::bad(format!(
                    "--nemesis-schedule {other:?}: expected fixed or random"
                )))
            }
        };
        if !(common.nemesis_interval_s > 0.0 && common.nemesis_interval_s.is_finite()) {
            return Err(SuiteError::bad("--nemesis-interval must be positive"));
        }
        let nemesis = NemesisOptions {
            interval: Duration::from_secs_f64(common.nemesis_interval_s),
            long_recovery: self.nemesis_long_recovery,
            schedule,
        };
        let models: Vec<String> = self
            .consistency_models
            .iter()
            .map(|m| m.trim().to_string())
            .filter(|m| !m.is_empty())
            .collect();
        for m in &models {
            if !rift_elle::model_names().contains(&m.as_str()) {
                return Err(SuiteError::bad(format!(
                    "--consistency-models {m:?}: not a consistency model Elle knows; known: {}",
                    rift_elle::model_names().join(", ")
                )));
            }
        }
        let models = if models.is_empty() {
            vec![EXPECTED_MODEL.to_string()]
        } else {
            models
        };
        for (what, v) in [
            ("--ops-per-key", self.ops_per_key),
            ("--key-count", self.key_count as u64),
            ("--max-txn-length", self.max_txn_length as u64),
            ("--max-writes-per-key", self.max_writes_per_key),
        ] {
            if v == 0 {
                return Err(SuiteError::bad(format!("{what} must be at least 1")));
            }
        }
        for (what, v) in [
            ("--client-timeout", self.client_timeout),
            ("--final-recovery-time", self.final_recovery_time + 1.0),
        ] {
            if !(v > 0.0 && v.is_finite()) {
                return Err(SuiteError::bad(format!(
                    "{what}: give a positive number of seconds"
                )));
            }
        }
        if common.nodes.len() < 3 {
            return Err(SuiteError::bad(format!(
                "--db tikv needs 3 nodes or more (3 replicas of every region), got {}",
                common.nodes.len()
            )));
        }
        Ok(Resolved {
            workload,
            sources,
            faults,
            rift_faults,
            nemesis,
            models,
        })
    }
}

/// The seed's faults of a `--nemesis` value, and the rest as rift's faults.
fn split_nemesis(
    text: &str,
    roles: &Roles,
) -> Result<(crate::gen::SeedFaults, BTreeSet<String>), SuiteError> {
    crate::gen::parse_nemesis(text, roles).map_err(|e| SuiteError::bad(format!("--nemesis: {e}")))
}

/// PD and TiKV on every node.
pub fn roles_of(nodes: &[String]) -> Roles {
    let mut r = Roles::new();
    r.insert(PD.into(), nodes.to_vec());
    r.insert(KV.into(), nodes.to_vec());
    r
}

/// The whole generator of a run: the workload's (with its final read for `set`), the
/// faults beside it.
fn generator(
    a: &TikvArgs,
    r: &Resolved,
    common: &Common,
    phase: Option<rift_core::workload::NemesisPhase>,
) -> Gen {
    match r.workload {
        Workload::Register => rift_core::workload::assemble(
            // The seed's: groups of 10 threads per key, `--ops-per-key` ops each, values 0..5;
            // compare-and-sets too (the seed leaves them out for want of one in its client).
            rift_core::workload::register_keys_generator(
                common.concurrency.clamp(1, 10) as usize,
                a.ops_per_key,
            ),
            None,
            common.rate_hz,
            common.time_limit,
            phase,
        ),
        Workload::Set => {
            let next = Arc::new(AtomicI64::new(0));
            let main = gen::from_fn(move |_| {
                Some(GenOp::invoke("add", next.fetch_add(1, Ordering::Relaxed)))
            });
            rift_core::workload::assemble(
                main,
                Some(GenOp::invoke("read", Value::Nil)),
                common.rate_hz,
                common.time_limit,
                phase,
            )
        }
        Workload::ListAppend => rift_core::workload::assemble(
            list_append_generator(TxnGenOptions {
                key_count: a.key_count,
                min_txn_length: 1,
                max_txn_length: a.max_txn_length,
                max_writes_per_key: a.max_writes_per_key,
                ..TxnGenOptions::default()
            }),
            None,
            common.rate_hz,
            common.time_limit,
            phase,
        ),
    }
}

/// The checker of a stored spec: linearizable registers, set-full, or Elle's list-append at
/// the spec's models; each beside stats and exceptions.
pub fn checker_of(spec: &serde_json::Value) -> Result<Box<dyn Checker>, String> {
    let w = Workload::parse(
        spec.get("workload")
            .and_then(|w| w.as_str())
            .ok_or("the test spec names no workload")?,
    )?;
    match w {
        Workload::Register => {
            rift_core::workload::checker_for(&serde_json::json!({"workload": "register"}))
        }
        Workload::Set => rift_core::workload::checker_for(&serde_json::json!({"workload": "set"})),
        Workload::ListAppend => {
            let models: Vec<String> = spec
                .get("consistency-models")
                .and_then(|m| m.as_array())
                .map(|a| {
                    a.iter()
                        .filter_map(|m| m.as_str().map(str::to_string))
                        .collect()
                })
                .filter(|m: &Vec<String>| !m.is_empty())
                .unwrap_or_else(|| vec![EXPECTED_MODEL.to_string()]);
            let opts = rift_elle::Options {
                consistency_models: models,
                ..rift_elle::Options::default()
            };
            let copts = CheckerOptions::default();
            let stats = rift_checker::by_name("stats", &copts).map_err(|e| e.to_string())?;
            let exceptions =
                rift_checker::by_name("exceptions", &copts).map_err(|e| e.to_string())?;
            Ok(Box::new(Compose::new(vec![
                (
                    "workload".to_string(),
                    Box::new(rift_elle::checker(rift_elle::Workload::ListAppend, opts))
                        as Box<dyn Checker>,
                ),
                ("stats".to_string(), stats),
                ("exceptions".to_string(), exceptions),
            ])))
        }
    }
}

/// The run's name: `tikv-<workload>-<faults>` (the `--nemesis` names, sorted, joined by
/// `+`).
pub fn test_name(r: &Resolved, nemesis: &str) -> String {
    let faults: BTreeSet<String> = nemesis
        .split(',')
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty() && s != "none")
        .collect();
    format!(
        "tikv-{}-{}",
        r.workload.name(),
        rift_suite::nemesis_name(&faults)
    )
}

/// Builds one run on `place`.
pub fn build_test(a: &TikvArgs, common: &Common, place: &Place) -> Result<Test, SuiteError> {
    let r = a.resolve(common)?;
    let nodes = place.nodes();
    let roles = roles_of(&nodes);
    let mut opts = TikvOptions::new(r.sources.clone());
    opts.install_on_nodes = place.ssh().is_some();
    if let Some(cluster) = place.local() {
        // TiKV reads the wall clock through the C library; PD is Go and ignores the shim.
        opts.env = rift_suite::clock_envs(cluster, &r.rift_faults, &roles)?;
    }
    let node_dirs = place.node_dirs().map_err(SuiteError::failed)?;
    let db = Arc::new(TikvDb::new(place.remote(), node_dirs, opts).map_err(SuiteError::failed)?);
    let watchdog = common.watchdog();
    let mut popts = PackageOptions::new(r.rift_faults.clone(), nodes.clone());
    popts.interval_ns = common.nemesis_interval_ns();
    popts.roles = roles.clone();
    let packages = rift_nemesis::packages(&popts).map_err(SuiteError::bad)?;
    let recovery = Duration::from_secs_f64(a.final_recovery_time.max(0.0));
    let rift_phase = rift_nemesis::test_phase(packages, common.nemesis_rotate_ns(), recovery);
    let seed_phase = crate::gen::seed_phase(&r.faults, &r.nemesis, recovery);
    let (phase, perf, inner) = rift_suite::place_nemesis(
        place,
        common.seed,
        db.clone() as Arc<dyn Db>,
        &roles,
        watchdog.as_ref(),
        crate::gen::merge_phases(seed_phase, rift_phase),
    );
    let nemesis: Box<dyn rift_core::Nemesis> = Box::new(TikvNemesis::new(
        inner,
        db.clone(),
        nodes.clone(),
        common.seed,
    ));
    let generator = generator(a, &r, common, phase);
    let client = TikvClient::new(ClientOptions {
        workload: r.workload,
        pd_endpoints: db.pd_endpoints(),
        timeout: Duration::from_secs_f64(a.client_timeout),
    });
    let spec = serde_json::json!({
        "db": "tikv",
        "workload": r.workload.name(),
        "sources": r.sources,
        "version": a.version,
        "consistency-models": r.models,
        "ops-per-key": a.ops_per_key,
        "key-count": a.key_count,
        "max-txn-length": a.max_txn_length,
        "max-writes-per-key": a.max_writes_per_key,
        "client-timeout-s": a.client_timeout,
        "rate-hz": common.rate_hz,
        "nemesis": common.nemesis,
        "nemesis-interval-s": common.nemesis_interval_s,
        "nemesis-schedule": a.nemesis_schedule,
        "nemesis-long-recovery": a.nemesis_long_recovery,
        "final-recovery-time-s": a.final_recovery_time,
    });
    let checker = checker_of(&spec).map_err(SuiteError::failed)?;
    let mut run = common.run.clone();
    run.time_limit = Some(common.time_limit);
    Ok(Test {
        name: test_name(&r, &common.nemesis),
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

/// The TiKV suite in the CLI's table.
pub struct TikvSuite;

impl Suite for TikvSuite {
    fn name(&self) -> &'static str {
        "tikv"
    }

    fn about(&self) -> &'static str {
        "TiKV (tikv/jepsen-test): PD and TiKV from a release tarball on every node, register, set, list-append, the seed's nemeses"
    }

    fn workloads(&self) -> &'static [&'static str] {
        WORKLOADS
    }

    fn default_concurrency(&self) -> &'static str {
        "10"
    }

    /// The seed's `--rate` is per thread, 10 by default.
    fn default_rate_per_thread(&self) -> Option<f64> {
        Some(10.0)
    }

    fn test_all_nemeses(&self, _over_ssh: bool) -> Vec<String> {
        vec!["none".into(), "partition,kill".into()]
    }

    fn roles(&self, nodes: &[String]) -> Roles {
        roles_of(nodes)
    }

    fn nemesis_faults(&self, text: &str, roles: &Roles) -> Result<BTreeSet<String>, String> {
        let (seed, mut rift) = crate::gen::parse_nemesis(text, roles)?;
        rift.extend(seed.rift_kinds());
        Ok(rift)
    }

    fn args(&self, cmd: clap::Command) -> clap::Command {
        TikvArgs::augment_args(cmd)
    }

    fn check_args(
        &self,
        m: &ArgMatches,
        common: &Common,
        _over_ssh: bool,
    ) -> Result<(), SuiteError> {
        TikvArgs::from_arg_matches(m)?.resolve(common)?;
        Ok(())
    }

    fn build(
        &self,
        m: &ArgMatches,
        common: &Common,
        place: Option<&Place>,
    ) -> Result<Test, SuiteError> {
        let a = TikvArgs::from_arg_matches(m)?;
        let place = place.ok_or_else(|| SuiteError::failed("the tikv suite needs nodes"))?;
        build_test(&a, common, place)
    }

    fn checker(&self, spec: &serde_json::Value) -> Result<Box<dyn Checker>, String> {
        checker_of(spec)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Command;

    fn matches(args: &[&str]) -> ArgMatches {
        let mut argv = vec!["test"];
        argv.extend(args);
        TikvSuite
            .args(Command::new("test"))
            .try_get_matches_from(argv)
            .unwrap()
    }

    fn resolve(args: &[&str], workload: &str, nemesis: &str) -> Result<Resolved, SuiteError> {
        let m = matches(args);
        let nodes = (1..=5).map(|i| format!("n{i}")).collect();
        let mut c = Common::new(workload, nodes);
        c.nemesis = nemesis.to_string();
        TikvArgs::from_arg_matches(&m).unwrap().resolve(&c)
    }

    #[test]
    fn options_resolve_with_the_seeds_defaults() {
        let r = resolve(&["--version", "v7.5.1"], "list-append", "none").unwrap();
        assert_eq!(r.workload, Workload::ListAppend);
        assert_eq!(
            r.sources,
            ["http://download.pingcap.org/tidb-v7.5.1-linux-amd64.tar.gz"]
        );
        assert_eq!(r.models, [EXPECTED_MODEL]);
        assert_eq!(r.nemesis.schedule, Schedule::Random);
        assert!(r.faults.is_empty() && r.rift_faults.is_empty());
        let r = resolve(
            &["--version", "v7.5.1", "--nemesis-schedule", "fixed"],
            "register",
            "partition-pd-leader,kill-kv,clock",
        )
        .unwrap();
        assert_eq!(r.nemesis.schedule, Schedule::Fixed);
        assert!(!r.faults.is_empty());
        assert_eq!(r.rift_faults.iter().collect::<Vec<_>>(), ["clock"]);
        assert_eq!(
            test_name(&r, "partition-pd-leader,kill-kv"),
            "tikv-register-kill-kv+partition-pd-leader"
        );
    }

    #[test]
    fn bad_input_gets_a_clear_error() {
        let e = resolve(&[], "register", "none").unwrap_err();
        assert_eq!(e.exit_code(), 254);
        assert!(e.to_string().contains("give --version vX.Y.Z"), "{e}");
        let e = resolve(&["--version", "7.5"], "register", "none").unwrap_err();
        assert!(e.to_string().contains("--version \"7.5\""), "{e}");
        let e = resolve(&["--tarball", "/nonexistent.tgz"], "register", "none").unwrap_err();
        assert!(
            e.to_string()
                .contains("--tarball /nonexistent.tgz: no such file"),
            "{e}"
        );
        let e = resolve(&["--version", "v7.5.1"], "bank", "none").unwrap_err();
        assert!(e.to_string().contains("register, set, list-append"), "{e}");
        let e = resolve(&["--version", "v7.5.1"], "register", "partition-everything").unwrap_err();
        assert!(e.to_string().starts_with("--nemesis: "), "{e}");
        assert!(e.to_string().contains("partition-pd-leader"), "{e}");
        let e = resolve(
            &["--version", "v7.5.1", "--nemesis-schedule", "sometimes"],
            "register",
            "kill",
        )
        .unwrap_err();
        assert!(e.to_string().contains("expected fixed or random"), "{e}");
        let e = resolve(
            &[
                "--version",
                "v7.5.1",
                "--consistency-models",
                "linearisable",
            ],
            "list-append",
            "none",
        )
        .unwrap_err();
        assert!(
            e.to_string()
                .contains("--consistency-models \"linearisable\""),
            "{e}"
        );
        let e = resolve(
            &["--version", "v7.5.1", "--ops-per-key", "0"],
            "register",
            "none",
        )
        .unwrap_err();
        assert!(
            e.to_string().contains("--ops-per-key must be at least 1"),
            "{e}"
        );
    }

    #[test]
    fn nemesis_names_map_to_the_kinds_the_cluster_must_offer() {
        let roles = roles_of(&["n1".into(), "n2".into(), "n3".into()]);
        let kinds = TikvSuite
            .nemesis_faults("partition-one,pause-pd,shuffle-leader", &roles)
            .unwrap();
        // Partitions are nft rules the cluster must be able to write; process and scheduler
        // faults need nothing of it.
        assert_eq!(kinds.iter().collect::<Vec<_>>(), ["partition"]);
        let kinds = TikvSuite.nemesis_faults("kill,clock", &roles).unwrap();
        assert_eq!(kinds.iter().collect::<Vec<_>>(), ["clock"]);
        let e = TikvSuite
            .nemesis_faults("kill-everything", &roles)
            .unwrap_err();
        assert!(!e.starts_with("--nemesis"), "{e}");
        assert!(TikvSuite.nemesis_faults("none", &roles).unwrap().is_empty());
    }

    #[test]
    fn stored_specs_rebuild_the_checker() {
        for w in WORKLOADS {
            assert!(
                checker_of(&serde_json::json!({"workload": w})).is_ok(),
                "{w}"
            );
        }
        assert!(checker_of(&serde_json::json!({})).is_err());
        assert!(checker_of(&serde_json::json!({"workload": "bank"})).is_err());
    }
}
