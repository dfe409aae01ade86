//! `rift test --db etcd`: the etcd suite as the `rift` CLI runs it, on the local cluster or
//! on SSH nodes (etcd installed on each: `--bin` uploaded, `--archive` unpacked, or Debian's
//! package with apt).

use crate::client::EtcdWorkload;
use crate::db::EtcdDb;
use crate::suite::{etcd_test, etcd_test_with, EtcdTestOptions};
use crate::EtcdError;
use clap::{Args, FromArgMatches};
use rift_suite::{Common, Place, Suite, SuiteError};
use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::Arc;

/// The workloads of the etcd suite.
pub const ETCD_WORKLOADS: &[&str] = &["register", "set", "append", "wr"];

/// etcd as a suite of the `rift` CLI: 2 client threads per node and `partition,kill` by
/// default.
pub struct EtcdSuite;

/// The options of `--db etcd`.
#[derive(Args, Debug, Clone)]
pub struct EtcdArgs {
    /// Reads with etcd's serializable (non-quorum) reads: a real, documented weakening; the
    /// register workload then catches stale reads under partitions.
    #[arg(long)]
    pub serializable_reads: bool,
    /// The etcd binary to run (default: `etcd` on the PATH, else Debian's etcd-server
    /// installed with apt).
    #[arg(long)]
    pub bin: Option<PathBuf>,
    /// On SSH nodes: an etcd release archive to install on each node instead of Debian's
    /// package (a URL fetched on the node, or a local file).
    #[arg(long)]
    pub archive: Option<String>,
}

impl Suite for EtcdSuite {
    fn name(&self) -> &'static str {
        "etcd"
    }

    fn about(&self) -> &'static str {
        "a real etcd cluster (Debian's etcd-server), one member per node (local cluster or SSH)"
    }

    fn workloads(&self) -> &'static [&'static str] {
        ETCD_WORKLOADS
    }

    fn default_nemesis(&self) -> &'static str {
        "partition,kill"
    }

    fn default_concurrency(&self) -> &'static str {
        "2n"
    }

    fn args(&self, cmd: clap::Command) -> clap::Command {
        EtcdArgs::augment_args(cmd)
    }

    fn check_args(
        &self,
        _m: &clap::ArgMatches,
        common: &Common,
        over_ssh: bool,
    ) -> Result<(), SuiteError> {
        EtcdWorkload::parse(&common.workload).map_err(SuiteError::BadArgs)?;
        check_faults(&common.faults(&self.roles(&common.nodes))?, over_ssh)
    }

    fn build(
        &self,
        m: &clap::ArgMatches,
        common: &Common,
        place: Option<&Place>,
    ) -> Result<rift_core::Test, SuiteError> {
        let args = EtcdArgs::from_arg_matches(m)?;
        let place = place.ok_or_else(|| SuiteError::failed("--db etcd needs a cluster"))?;
        let workload = EtcdWorkload::parse(&common.workload).map_err(SuiteError::BadArgs)?;
        let faults = common.faults(&self.roles(&common.nodes))?;
        check_faults(&faults, place.ssh().is_some())?;
        let mut eo = EtcdTestOptions::new(workload);
        eo.rate_hz = common.rate_hz;
        eo.time_limit = common.time_limit;
        eo.concurrency = common.concurrency;
        eo.seed = common.seed;
        eo.faults = faults;
        eo.nemesis_interval_s = common.nemesis_interval_s;
        eo.recovery = common.recovery;
        eo.rotate_ns = common.nemesis_rotate_ns();
        eo.watchdog = common.watchdog();
        eo.db.bin = args.bin;
        eo.db.archive = args.archive;
        eo.client.serializable_reads = args.serializable_reads;
        eo.run = common.run.clone();
        let built = match place {
            Place::Local(cluster) => etcd_test(cluster.clone(), &eo),
            Place::Ssh(_) => {
                eo.db.install_on_nodes = true;
                let dirs = place.node_dirs().map_err(SuiteError::failed)?;
                EtcdDb::new(place.remote(), dirs, eo.db.clone()).and_then(|db| {
                    etcd_test_with(Arc::new(db), place.nodes(), place.nemesis(eo.seed), &eo)
                })
            }
        };
        built.map(|(test, _db, _stats)| test).map_err(|e| match e {
            EtcdError::Config(m) => SuiteError::BadArgs(m),
            other => SuiteError::Failed(other.to_string()),
        })
    }

    fn checker(&self, spec: &serde_json::Value) -> Result<Box<dyn rift_checker::Checker>, String> {
        spec.get("workload")
            .and_then(|w| w.as_str())
            .ok_or_else(|| "the test spec names no workload".to_string())
            .and_then(EtcdWorkload::parse)
            .and_then(crate::checker)
    }
}

/// Faults etcd cannot take where it runs: clock skew on the local cluster (etcd is a static
/// Go binary, which ignores libfaketime), file corruption on SSH nodes (not written yet).
fn check_faults(faults: &BTreeSet<String>, over_ssh: bool) -> Result<(), SuiteError> {
    if faults.contains("clock") && !over_ssh {
        return Err(SuiteError::bad(
            "--nemesis clock: etcd is a static Go binary, which ignores libfaketime on the \
             local cluster; clock faults on etcd need SSH nodes",
        ));
    }
    if faults.contains("file") && over_ssh {
        return Err(SuiteError::bad(
            "--nemesis file: only on the local cluster so far",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_fault_checks_and_checkers() {
        let cmd = EtcdSuite.args(clap::Command::new("test"));
        let m = cmd
            .try_get_matches_from(["test", "--serializable-reads", "--bin", "/usr/bin/etcd"])
            .unwrap();
        let a = EtcdArgs::from_arg_matches(&m).unwrap();
        assert!(a.serializable_reads);
        assert_eq!(a.bin, Some(PathBuf::from("/usr/bin/etcd")));
        assert_eq!(a.archive, None);
        let mut common = Common::new("append", vec!["n1".into(), "n2".into()]);
        common.nemesis = EtcdSuite.default_nemesis().into();
        assert!(EtcdSuite.check_args(&m, &common, false).is_ok());
        common.nemesis = "clock".into();
        let e = EtcdSuite.check_args(&m, &common, false).unwrap_err();
        assert!(e.to_string().contains("static Go binary"), "{e}");
        assert!(EtcdSuite.check_args(&m, &common, true).is_ok());
        common.nemesis = "file".into();
        assert!(EtcdSuite.check_args(&m, &common, true).is_err());
        common.workload = "bank".into();
        assert!(EtcdSuite.check_args(&m, &common, false).is_err());
        for w in ETCD_WORKLOADS {
            let spec = serde_json::json!({"db": "etcd", "workload": w});
            assert!(EtcdSuite.checker(&spec).is_ok(), "{w}");
        }
        assert!(EtcdSuite
            .checker(&serde_json::json!({"db": "etcd"}))
            .is_err());
    }
}
