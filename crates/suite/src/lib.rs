//! rift-suite: what a suite is to the `rift` command line.
//!
//! # Concepts
//!
//! A **suite** tests one system: etcd, rift-kv, Kafka, the in-memory store... To the CLI it
//! is a value implementing [`Suite`], looked up by its [`Suite::name`] (`--db NAME`) in one
//! table (`crates/cli/src/suites.rs`); adding a suite is adding its line there. A suite says:
//!
//! - its **workloads** ([`Suite::workloads`], the first is the default) and defaults for the
//!   common options that differ between systems ([`Suite::default_nemesis`],
//!   [`Suite::default_concurrency`], [`Suite::default_rate_hz`]);
//! - its **roles** ([`Suite::roles`]: `controller`, `broker`...), against which the CLI
//!   checks `--nemesis` (role faults such as `kill-controller`) before any cluster is built;
//! - its **own options** ([`Suite::args`]), a `clap::Args` struct of the suite's crate added
//!   to the common ones, so that `rift test --db etcd --help` lists the common options and
//!   etcd's, nothing else. The suite reads them back from the same matches in
//!   [`Suite::build`] (`<EtcdArgs as clap::FromArgMatches>::from_arg_matches(m)`);
//! - how to **build** one run ([`Suite::build`]) from the options every suite shares
//!   ([`Common`], parsed by the CLI) and the [`Place`] the nodes are at (the local cluster or
//!   SSH machines; the CLI owns its lifetime);
//! - how to rebuild its **checker** from a stored `test.json` spec ([`Suite::checker`]), for
//!   `rift analyze`.
//!
//! [`MemSuite`] (`--db mem`, the in-process store with planted bugs) lives here; the other
//! suites live in their own crates (`rift_etcd::EtcdSuite`, `rift_kv::KvSuite`...).
//!
//! # Example
//!
//! ```
//! use clap::Command;
//! use rift_suite::{Common, MemSuite, Suite};
//!
//! // What the CLI does for `rift test --db mem --bug lost-writes`, minus the common options.
//! let suite: &dyn Suite = &MemSuite;
//! let cmd = suite.args(Command::new("test"));
//! let m = cmd.try_get_matches_from(["test", "--bug", "lost-writes"]).unwrap();
//! let nodes: Vec<String> = vec!["n1".into(), "n2".into()];
//! let common = Common::new(suite.workloads()[0], nodes);
//! let test = suite.build(&m, &common, None).unwrap();
//! assert_eq!(test.name, "mem-set");
//! assert_eq!(test.spec["bugs"][0], "lost-writes");
//! // `rift analyze` rebuilds the same checker from the stored spec.
//! assert!(suite.checker(&test.spec).is_ok());
//! // A bad option of the suite is a bad-arguments error (exit 254), never a panic.
//! let m = suite.args(Command::new("test")).try_get_matches_from(["test", "--bug", "gremlins"]);
//! let err = suite.build(&m.unwrap(), &common, None).err().unwrap();
//! assert_eq!(err.exit_code(), 254);
//! ```
//!
//! # Edge cases
//!
//! - [`Suite::build`] gets `place == None` only for a suite that does not
//!   [`Suite::needs_cluster`]; a suite that needs one and gets none returns
//!   [`SuiteError::Failed`] rather than panicking.
//! - Option ids share one namespace with the common options: a suite's `--seed` would clash
//!   (clap refuses it when the command is built; the CLI's unit tests build every suite's).
//! - [`Suite::check_args`] runs before the cluster is built, once per run of `rift test-all`'s
//!   matrix; what it refuses costs nothing. Checks that need the nodes belong in `build`.
//! - `Common::nemesis` is the text of `--nemesis` (or the suite's default), not yet parsed:
//!   parse it with [`Common::faults`] and the suite's roles.

#![warn(missing_docs)]

pub mod daemon_db;
pub mod http;
mod mem;
pub mod parse;
mod place;
mod role_db;

pub use daemon_db::{control_error, run_script, Daemon, DaemonDb, Files};
pub use mem::{MemArgs, MemSuite};
pub use place::{ssh_home, Place, SshPlace};
pub use role_db::{RoleDb, RolePart};

use rift_nemesis::Roles;
use std::collections::BTreeSet;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

/// What every suite's run shares, parsed by the CLI from the common options.
#[derive(Clone, Debug)]
pub struct Common {
    /// The chosen workload (one of [`Suite::workloads`]).
    pub workload: String,
    /// The node names (the [`Place`]'s, when there is one).
    pub nodes: Vec<String>,
    /// Client threads.
    pub concurrency: u32,
    /// The run's seed.
    pub seed: u64,
    /// How long the workload's main phase runs.
    pub time_limit: Duration,
    /// Total client operations per second (0: as fast as possible): `--rate`, else the
    /// suite's [`Suite::default_rate_hz`], else 500.
    pub rate_hz: f64,
    /// The `--nemesis` text, or the suite's [`Suite::default_nemesis`]; parse it with
    /// [`Common::faults`].
    pub nemesis: String,
    /// Seconds between fault operations (`--nemesis-interval`).
    pub nemesis_interval_s: f64,
    /// Rotate the fault packages every this many seconds (`--nemesis-rotate`).
    pub nemesis_rotate_s: Option<f64>,
    /// Quiet time after healing, before the final phase (`--recovery-time`).
    pub recovery: Duration,
    /// Restart crashed daemons every this many seconds (`--watchdog`).
    pub watchdog_s: Option<f64>,
    /// The watchdog logs every check, not only restarts.
    pub watchdog_debug: bool,
    /// Runner options: store root, time limit, op timeout, argv, progress line,
    /// `--leave-db-running`.
    pub run: rift_core::RunOptions,
    /// The value of the suite's [`Suite::test_all_variants`] axis this run of `rift
    /// test-all` takes (it overrides the option it stands for); None for `rift test`.
    pub variant: Option<String>,
}

impl Common {
    /// The options of a run of `workload` on `nodes` with the CLI's defaults: one thread per
    /// node, seed 0, 60 s at 500 ops/s, no faults (10 s interval, 5 s recovery), no watchdog,
    /// default runner options with the time limit set.
    pub fn new(workload: &str, nodes: Vec<String>) -> Common {
        let time_limit = Duration::from_secs(60);
        Common {
            workload: workload.to_string(),
            concurrency: nodes.len().max(1) as u32,
            nodes,
            seed: 0,
            time_limit,
            rate_hz: 500.0,
            nemesis: "none".to_string(),
            nemesis_interval_s: 10.0,
            nemesis_rotate_s: None,
            recovery: Duration::from_secs(5),
            watchdog_s: None,
            watchdog_debug: false,
            run: rift_core::RunOptions {
                time_limit: Some(time_limit),
                ..rift_core::RunOptions::default()
            },
            variant: None,
        }
    }

    /// The fault names of [`Common::nemesis`] for a suite with `roles` (plain kinds and
    /// role faults such as `kill-controller`); an unknown name is [`SuiteError::BadArgs`].
    pub fn faults(&self, roles: &Roles) -> Result<BTreeSet<String>, SuiteError> {
        rift_nemesis::parse_faults_for(&self.nemesis, roles)
            .map_err(|e| SuiteError::BadArgs(format!("--nemesis: {e}")))
    }

    /// `--nemesis-interval` in nanoseconds.
    pub fn nemesis_interval_ns(&self) -> i64 {
        (self.nemesis_interval_s * 1e9) as i64
    }

    /// `--nemesis-rotate` in nanoseconds.
    pub fn nemesis_rotate_ns(&self) -> Option<i64> {
        self.nemesis_rotate_s.map(|s| (s * 1e9) as i64)
    }

    /// The watchdog of `--watchdog`, shared by the runner and the nemesis.
    pub fn watchdog(&self) -> Option<Arc<rift_core::Watchdog>> {
        self.watchdog_s.map(|s| {
            rift_core::Watchdog::with_debug(Duration::from_secs_f64(s), self.watchdog_debug)
        })
    }
}

/// A set of faults as it appears in test names: `none`, or the names joined by `+`
/// (`partition+kill`).
pub fn nemesis_name(faults: &BTreeSet<String>) -> String {
    if faults.is_empty() {
        "none".to_string()
    } else {
        faults.iter().cloned().collect::<Vec<_>>().join("+")
    }
}

/// Why a suite could not build a run.
#[derive(Debug, thiserror::Error)]
pub enum SuiteError {
    /// The options are wrong (an unknown workload or fault, a fault the place cannot do):
    /// the CLI exits 254.
    #[error("{0}")]
    BadArgs(String),
    /// Something else failed (a node, a file, the system): the CLI exits 255.
    #[error("{0}")]
    Failed(String),
}

impl SuiteError {
    /// The exit code the CLI ends with: 254 for [`SuiteError::BadArgs`], 255 else.
    pub fn exit_code(&self) -> u8 {
        match self {
            SuiteError::BadArgs(_) => 254,
            SuiteError::Failed(_) => 255,
        }
    }

    /// A [`SuiteError::BadArgs`] from any message.
    pub fn bad(msg: impl std::fmt::Display) -> SuiteError {
        SuiteError::BadArgs(msg.to_string())
    }

    /// A [`SuiteError::Failed`] from any message.
    pub fn failed(msg: impl std::fmt::Display) -> SuiteError {
        SuiteError::Failed(msg.to_string())
    }
}

impl From<clap::Error> for SuiteError {
    /// A suite's options that do not parse back from the matches are bad arguments.
    fn from(e: clap::Error) -> SuiteError {
        SuiteError::BadArgs(e.to_string().trim_end().to_string())
    }
}

/// The fault sets `rift test-all` runs a suite's workloads under unless the suite says
/// otherwise: none, partition, kill, pause, and partitions with kills.
pub const STANDARD_NEMESES: &[&str] = &["none", "partition", "kill", "pause", "partition,kill"];

/// One system under test, as the CLI sees it. See the [crate] documentation.
pub trait Suite: Send + Sync {
    /// The `--db` name.
    fn name(&self) -> &'static str;

    /// One line for `rift test --help`'s list of suites.
    fn about(&self) -> &'static str;

    /// The workloads it serves; the first is the default.
    fn workloads(&self) -> &'static [&'static str];

    /// The faults when `--nemesis` is not given.
    fn default_nemesis(&self) -> &'static str {
        "none"
    }

    /// `--concurrency` when not given (`1n`: one thread per node).
    fn default_concurrency(&self) -> &'static str {
        "1n"
    }

    /// `--rate` when not given; None: the common default (500 ops/s).
    fn default_rate_hz(&self) -> Option<f64> {
        None
    }

    /// `--rate` when not given, per client thread (a seed whose `--rate` is per thread, as
    /// tikv/jepsen-test's); it wins over [`Suite::default_rate_hz`]. None: not per thread.
    fn default_rate_per_thread(&self) -> Option<f64> {
        None
    }

    /// How many nodes (`n1..nN`) a run of `workload` gets when `--nodes` and `--nodes-file`
    /// are not given; `m` holds the suite's options (`--replicas N` may say).
    fn default_node_count(&self, _m: &clap::ArgMatches, _workload: &str) -> usize {
        5
    }

    /// A third axis of `rift test-all`'s matrix besides workloads and fault sets: its column
    /// name and values (PostgreSQL's isolation levels), handed to each run as
    /// [`Common::variant`]. None (the default): no such axis, or the user fixed it with an
    /// option.
    fn test_all_variants(&self, _m: &clap::ArgMatches) -> Option<(&'static str, Vec<String>)> {
        None
    }

    /// Whether runs need nodes (the local cluster or SSH machines). A suite that does not
    /// (`mem`) gets no [`Place`] and refuses `--nemesis`.
    fn needs_cluster(&self) -> bool {
        true
    }

    /// The fault sets `rift test-all` runs each workload under when `--nemesis` is not given,
    /// on SSH nodes or the local cluster (where some faults may not reach the system).
    /// Default: [`STANDARD_NEMESES`].
    fn test_all_nemeses(&self, _over_ssh: bool) -> Vec<String> {
        STANDARD_NEMESES.iter().map(|s| s.to_string()).collect()
    }

    /// Role name to the nodes that play it, for role faults (`kill-controller`) and
    /// `role:<name>` targets; used to check `--nemesis` before a cluster is built.
    fn roles(&self, _nodes: &[String]) -> Roles {
        Roles::new()
    }

    /// The faults of a `--nemesis` value in rift's vocabulary (`partition`, `kill`,
    /// `kill-controller`, ...), checked before a cluster is built and telling the cluster
    /// what it must be able to do (firewall rules, the clock shim). Default:
    /// [`rift_nemesis::parse_faults_for`]. A suite with fault names of its own (TiKV's
    /// `partition-pd-leader`, `shuffle-leader`) maps them to the kinds they use.
    fn nemesis_faults(&self, text: &str, roles: &Roles) -> Result<BTreeSet<String>, String> {
        rift_nemesis::parse_faults_for(text, roles).map_err(|e| e.to_string())
    }

    /// Adds the suite's own options to `cmd`: `<SuiteArgs as clap::Args>::augment_args(cmd)`.
    fn args(&self, cmd: clap::Command) -> clap::Command {
        cmd
    }

    /// Checks the options before the cluster is built (bad arguments then cost nothing):
    /// `over_ssh` says whether the nodes will be SSH machines. Default: nothing to check.
    fn check_args(
        &self,
        _m: &clap::ArgMatches,
        _common: &Common,
        _over_ssh: bool,
    ) -> Result<(), SuiteError> {
        Ok(())
    }

    /// Builds one run. `place` is None only when the suite does not
    /// [`Suite::needs_cluster`]; the suite reads its own options from `m` with
    /// `<SuiteArgs as clap::FromArgMatches>::from_arg_matches(m)`.
    fn build(
        &self,
        m: &clap::ArgMatches,
        common: &Common,
        place: Option<&Place>,
    ) -> Result<rift_core::Test, SuiteError>;

    /// The checker of a stored run, from `test.json`'s `spec` (for `rift analyze`).
    fn checker(&self, spec: &serde_json::Value) -> Result<Box<dyn rift_checker::Checker>, String>;

    /// Extra lines after the verdict summary of a run (default: nothing).
    fn summary(&self, _result: &rift_checker::CheckResult) {}
}

/// The wall-clock shim's environment for every node of `cluster` when `faults` (with
/// `roles`) include clock faults, for daemons that read the clock through the C library (or a
/// JVM): only their CLOCK_REALTIME moves. Empty without clock faults.
pub fn clock_envs(
    cluster: &rift_control::LocalCluster,
    faults: &BTreeSet<String>,
    roles: &Roles,
) -> Result<std::collections::BTreeMap<String, Vec<(String, String)>>, SuiteError> {
    if !rift_nemesis::fault_kinds(faults, roles).contains("clock") {
        return Ok(Default::default());
    }
    rift_control::clock::realtime_envs(cluster).map_err(SuiteError::bad)
}

/// The nodes of `role` with their directories (for a [`DaemonDb`] of that role).
pub fn role_dirs(
    roles: &Roles,
    role: &str,
    dirs: &std::collections::BTreeMap<String, rift_control::NodeDirs>,
) -> Vec<(String, rift_control::NodeDirs)> {
    roles
        .get(role)
        .into_iter()
        .flatten()
        .filter_map(|n| dirs.get(n).map(|d| (n.clone(), d.clone())))
        .collect()
}

/// The nemesis of a run on `place` with the fault phase `phase` (from
/// `rift_nemesis::test_phase`): none (a no-op nemesis, no perf bands) when there are no
/// faults, else the place's nemesis on `db` with `roles` and the run's watchdog.
pub fn place_nemesis(
    place: &Place,
    seed: u64,
    db: Arc<dyn rift_core::Db>,
    roles: &Roles,
    watchdog: Option<&Arc<rift_core::Watchdog>>,
    phase: Option<(rift_core::workload::NemesisPhase, serde_json::Value)>,
) -> (
    Option<rift_core::workload::NemesisPhase>,
    serde_json::Value,
    Box<dyn rift_core::Nemesis>,
) {
    match phase {
        None => (
            None,
            serde_json::Value::Null,
            Box::new(rift_core::NoopNemesis),
        ),
        Some((phase, perf)) => {
            let mut nem = place.nemesis(seed).with_db(db).with_roles(roles.clone());
            if let Some(w) = watchdog {
                nem = nem.with_watchdog(w.clone());
            }
            (Some(phase), perf, Box::new(nem))
        }
    }
}

/// A binary the user names (`--bin PATH`): it must be an executable file; else a
/// [`SuiteError::BadArgs`] naming the option, the path and what is wrong.
pub fn check_binary(option: &str, path: &Path, what: &str) -> Result<(), SuiteError> {
    use std::os::unix::fs::PermissionsExt;
    let meta = std::fs::metadata(path).map_err(|e| {
        SuiteError::bad(format!(
            "{option} {}: {e} ({what} is needed: give its path)",
            path.display()
        ))
    })?;
    if !meta.is_file() {
        return Err(SuiteError::bad(format!(
            "{option} {}: not a file",
            path.display()
        )));
    }
    if meta.permissions().mode() & 0o111 == 0 {
        return Err(SuiteError::bad(format!(
            "{option} {}: not executable (chmod +x it)",
            path.display()
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn common_helpers() {
        let mut c = Common::new("set", vec!["n1".into(), "n2".into(), "n3".into()]);
        assert_eq!(c.concurrency, 3);
        assert_eq!(c.run.time_limit, Some(c.time_limit));
        assert!(c.faults(&Roles::new()).unwrap().is_empty());
        c.nemesis = "partition,kill".into();
        let f = c.faults(&Roles::new()).unwrap();
        assert_eq!(nemesis_name(&f), "kill+partition");
        c.nemesis = "kill-controller".into();
        let e = c.faults(&Roles::new()).unwrap_err();
        assert_eq!(e.exit_code(), 254);
        assert!(e.to_string().contains("kill-controller"), "{e}");
        let roles: Roles = [("controller".to_string(), vec!["n1".to_string()])].into();
        assert!(c.faults(&roles).unwrap().contains("kill-controller"));
        c.nemesis_interval_s = 0.5;
        c.nemesis_rotate_s = Some(2.0);
        assert_eq!(c.nemesis_interval_ns(), 500_000_000);
        assert_eq!(c.nemesis_rotate_ns(), Some(2_000_000_000));
        assert!(c.watchdog().is_none());
        assert_eq!(SuiteError::failed("x").exit_code(), 255);
    }
}
