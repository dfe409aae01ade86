//! `rift test --db kv`: rift-kv on the local cluster or SSH nodes, with faults.

use crate::{KvClient, KvDb, KvWorkload, ReadMode};
use clap::{Args, FromArgMatches};
use rift_control::Remote;
use rift_core::workload::{self, WorkloadOptions};
use rift_nemesis::PackageOptions;
use rift_suite::{nemesis_name, ssh_home, Common, Place, Suite, SuiteError};
use std::collections::BTreeSet;
use std::sync::Arc;

/// The workloads rift-kv serves.
pub const KV_WORKLOADS: &[&str] = &["register", "set"];

/// rift-kv as a suite of the `rift` CLI. Its servers run the `rift` binary itself
/// (`rift kv-server`): [`std::env::current_exe`] on the local cluster, the copy the CLI
/// installed at `{ssh_home}/rift` on SSH nodes.
pub struct KvSuite;

/// The options of `--db kv`.
#[derive(Args, Debug, Clone)]
pub struct KvArgs {
    /// Where replicas answer reads: `primary` (linearizable) or `local` (each replica's own
    /// copy: stale behind a partition).
    #[arg(long, default_value = "primary", value_parser = read_mode)]
    pub kv_reads: ReadMode,
}

fn read_mode(s: &str) -> Result<ReadMode, String> {
    ReadMode::parse(s).map_err(|e| e.to_string())
}

impl Suite for KvSuite {
    fn name(&self) -> &'static str {
        "kv"
    }

    fn about(&self) -> &'static str {
        "rift-kv, a primary-backup register store of our own, one server per node (local cluster or SSH)"
    }

    fn workloads(&self) -> &'static [&'static str] {
        KV_WORKLOADS
    }

    fn args(&self, cmd: clap::Command) -> clap::Command {
        KvArgs::augment_args(cmd)
    }

    fn check_args(
        &self,
        _m: &clap::ArgMatches,
        common: &Common,
        over_ssh: bool,
    ) -> Result<(), SuiteError> {
        let faults = common.faults(&self.roles(&common.nodes))?;
        check_faults(&faults, over_ssh)
    }

    fn build(
        &self,
        m: &clap::ArgMatches,
        common: &Common,
        place: Option<&Place>,
    ) -> Result<rift_core::Test, SuiteError> {
        let args = KvArgs::from_arg_matches(m)?;
        let place = place.ok_or_else(|| SuiteError::failed("--db kv needs a cluster"))?;
        kv_test(&args, common, place)
    }

    fn checker(&self, spec: &serde_json::Value) -> Result<Box<dyn rift_checker::Checker>, String> {
        workload::checker_for(spec)
    }
}

/// File faults are local-cluster only so far.
fn check_faults(faults: &BTreeSet<String>, over_ssh: bool) -> Result<(), SuiteError> {
    if over_ssh && faults.contains("file") {
        return Err(SuiteError::bad(
            "--nemesis file: only on the local cluster so far, not on SSH nodes",
        ));
    }
    Ok(())
}

/// One run of `--db kv` at `place`.
fn kv_test(args: &KvArgs, common: &Common, place: &Place) -> Result<rift_core::Test, SuiteError> {
    let kind = match common.workload.as_str() {
        "register" => KvWorkload::Register,
        "set" => KvWorkload::Set,
        other => {
            return Err(SuiteError::bad(format!(
                "--db kv serves the workloads {}; not {other:?}",
                KV_WORKLOADS.join(", ")
            )))
        }
    };
    let nodes = place.nodes();
    let faults = common.faults(&KvSuite.roles(&nodes))?;
    check_faults(&faults, place.ssh().is_some())?;
    let watchdog = common.watchdog();
    let db = Arc::new(kv_db(place, args.kv_reads, &faults)?);
    let client = KvClient::new(db.client_addresses(), kind);
    let mut popts = PackageOptions::new(faults.clone(), nodes.clone());
    popts.interval_ns = common.nemesis_interval_ns();
    popts.files = vec![format!("data/{}", crate::LOG_FILE)];
    let packages = rift_nemesis::packages(&popts).map_err(SuiteError::bad)?;
    let (phase, perf, nemesis): (_, _, Box<dyn rift_core::Nemesis>) =
        match rift_nemesis::test_phase(packages, common.nemesis_rotate_ns(), common.recovery) {
            None => (
                None,
                serde_json::Value::Null,
                Box::new(rift_core::NoopNemesis),
            ),
            Some((phase, perf)) => {
                let mut nem = place.nemesis(common.seed).with_db(db.clone());
                if let Some(w) = &watchdog {
                    nem = nem.with_watchdog(w.clone());
                }
                (Some(phase), perf, Box::new(nem))
            }
        };
    let o = WorkloadOptions {
        workload: common.workload.clone(),
        rate_hz: common.rate_hz,
        time_limit: common.time_limit,
        bugs: Default::default(),
    };
    let mut spec = workload::spec_json("kv", &o);
    if let Some(obj) = spec.as_object_mut() {
        // The in-memory system's planted bugs mean nothing here.
        for key in ["bugs", "bug-rate", "indeterminate-rate"] {
            obj.remove(key);
        }
    }
    spec["kv-reads"] = args.kv_reads.name().into();
    spec["nemesis"] = faults.iter().cloned().collect::<Vec<_>>().into();
    spec["nemesis-interval-s"] = common.nemesis_interval_s.into();
    if let Some(secs) = common.nemesis_rotate_s {
        spec["nemesis-rotate-s"] = secs.into();
    }
    let checker = workload::checker_for(&spec).map_err(SuiteError::bad)?;
    let generator = workload::generator_with_nemesis(
        &common.workload,
        common.rate_hz,
        common.time_limit,
        common.concurrency,
        phase,
    )
    .map_err(SuiteError::bad)?;
    Ok(rift_core::Test {
        name: format!("kv-{}-{}", common.workload, nemesis_name(&faults)),
        nodes,
        concurrency: common.concurrency,
        db,
        client: Box::new(client),
        nemesis,
        generator,
        checker,
        seed: common.seed,
        opts: common.run.clone(),
        spec,
        perf,
        watchdog,
    })
}

/// rift-kv on the run's nodes: on the local cluster with this binary (under libfaketime when
/// clock faults run); on SSH nodes with the copy installed there (clock faults step the
/// machines' real clocks).
fn kv_db(place: &Place, reads: ReadMode, faults: &BTreeSet<String>) -> Result<KvDb, SuiteError> {
    let failed = |e: rift_core::RiftError| SuiteError::failed(e);
    match place {
        Place::Local(cluster) => {
            let exe = std::env::current_exe()
                .map_err(|e| SuiteError::failed(format!("finding the rift binary: {e}")))?;
            let server = vec![exe.display().to_string(), "kv-server".to_string()];
            let mut db = KvDb::on_local_cluster(cluster.clone(), server, reads).map_err(failed)?;
            if faults.contains("clock") {
                // The servers run under libfaketime, so that the clock nemesis skews their
                // clocks (and only theirs: the host clock is never touched).
                rift_control::clock::require_faketime().map_err(SuiteError::bad)?;
                for node in cluster.nodes() {
                    let env = rift_control::clock::faketime_env(cluster, &node)
                        .map_err(SuiteError::failed)?;
                    db = db.with_env(&node, env);
                }
            }
            Ok(db)
        }
        Place::Ssh(s) => {
            let nodes = place.node_dirs().map_err(SuiteError::failed)?;
            // Every node runs its own copy: `{home}/rift kv-server ...`.
            let first = s.addresses.keys().next().cloned().unwrap_or_default();
            let server = vec![
                format!("{}/rift", ssh_home(&first)),
                "kv-server".to_string(),
            ];
            let remote: Arc<dyn Remote> = s.remote.clone();
            KvDb::new(remote, nodes, server, reads)
                .map(|db| db.with_node_servers(|n| format!("{}/rift", ssh_home(n))))
                .map_err(failed)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_and_fault_checks() {
        let cmd = KvSuite.args(clap::Command::new("test"));
        let m = cmd
            .clone()
            .try_get_matches_from(["test", "--kv-reads", "local"])
            .unwrap();
        assert_eq!(
            KvArgs::from_arg_matches(&m).unwrap().kv_reads,
            ReadMode::Local
        );
        let m = cmd.clone().try_get_matches_from(["test"]).unwrap();
        assert_eq!(
            KvArgs::from_arg_matches(&m).unwrap().kv_reads,
            ReadMode::Primary
        );
        assert!(cmd
            .try_get_matches_from(["test", "--kv-reads", "fast"])
            .is_err());
        let mut common = Common::new("register", vec!["n1".into()]);
        common.nemesis = "partition,file".into();
        assert!(KvSuite.check_args(&m, &common, false).is_ok());
        assert!(matches!(
            KvSuite.check_args(&m, &common, true),
            Err(SuiteError::BadArgs(_))
        ));
        common.nemesis = "flood".into();
        let e = KvSuite.check_args(&m, &common, false).unwrap_err();
        assert!(e.to_string().contains("flood"), "{e}");
        // The table's spec rebuilds the checker of both workloads.
        for w in KV_WORKLOADS {
            let spec = serde_json::json!({"db": "kv", "workload": w});
            assert!(KvSuite.checker(&spec).is_ok(), "{w}");
        }
    }
}
