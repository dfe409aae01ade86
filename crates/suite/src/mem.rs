//! `--db mem`: the in-process store of `rift_core::mem`, with bugs to plant.

use crate::parse::probability;
use crate::{Common, Place, Suite, SuiteError};
use clap::{Args, FromArgMatches};
use rift_core::mem::Bugs;
use rift_core::workload::{self, WorkloadOptions};

/// The in-memory system under test: no root, no network, no nodes to fault; bugs to plant.
pub struct MemSuite;

/// The options of `--db mem`.
#[derive(Args, Debug, Clone)]
pub struct MemArgs {
    /// Plant a bug in the in-memory system: lost-writes, stale-reads, duplicates (repeatable,
    /// or comma-separated).
    #[arg(long = "bug", value_delimiter = ',')]
    pub bug: Vec<String>,
    /// Probability that a planted bug fires on an eligible op.
    #[arg(long, default_value_t = 0.05, value_parser = probability)]
    pub bug_rate: f64,
    /// Probability that an op of the in-memory system ends with an unknown outcome (`info`).
    #[arg(long, default_value_t = 0.0, value_parser = probability)]
    pub indeterminate_rate: f64,
}

impl MemArgs {
    /// The planted bugs; an unknown name is a bad argument.
    pub fn bugs(&self) -> Result<Bugs, SuiteError> {
        let mut b = Bugs {
            rate: self.bug_rate,
            indeterminate: self.indeterminate_rate,
            ..Bugs::default()
        };
        for name in &self.bug {
            b.enable(name.trim())
                .map_err(|e| SuiteError::bad(format!("--bug: {e}")))?;
        }
        Ok(b)
    }
}

impl Suite for MemSuite {
    fn name(&self) -> &'static str {
        "mem"
    }

    fn about(&self) -> &'static str {
        "the in-process store, with bugs to plant (no root, no network, no faults)"
    }

    fn workloads(&self) -> &'static [&'static str] {
        workload::NAMES
    }

    fn needs_cluster(&self) -> bool {
        false
    }

    fn test_all_nemeses(&self, _over_ssh: bool) -> Vec<String> {
        vec!["none".to_string()]
    }

    fn args(&self, cmd: clap::Command) -> clap::Command {
        MemArgs::augment_args(cmd)
    }

    fn check_args(
        &self,
        m: &clap::ArgMatches,
        _common: &Common,
        _over_ssh: bool,
    ) -> Result<(), SuiteError> {
        MemArgs::from_arg_matches(m)?.bugs().map(|_| ())
    }

    fn build(
        &self,
        m: &clap::ArgMatches,
        common: &Common,
        _place: Option<&Place>,
    ) -> Result<rift_core::Test, SuiteError> {
        let args = MemArgs::from_arg_matches(m)?;
        let o = WorkloadOptions {
            workload: common.workload.clone(),
            rate_hz: common.rate_hz,
            time_limit: common.time_limit,
            bugs: args.bugs()?,
        };
        workload::mem_test(
            common.nodes.clone(),
            common.concurrency,
            common.seed,
            &o,
            common.run.clone(),
        )
        .map_err(SuiteError::BadArgs)
    }

    fn checker(&self, spec: &serde_json::Value) -> Result<Box<dyn rift_checker::Checker>, String> {
        workload::checker_for(spec)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn matches(args: &[&str]) -> clap::ArgMatches {
        let mut argv = vec!["test"];
        argv.extend_from_slice(args);
        MemSuite
            .args(clap::Command::new("test"))
            .try_get_matches_from(argv)
            .unwrap()
    }

    #[test]
    fn builds_every_workload_and_refuses_unknown_bugs() {
        let common = Common::new("set", vec!["n1".into()]);
        for w in MemSuite.workloads() {
            let c = Common {
                workload: w.to_string(),
                ..common.clone()
            };
            let t = MemSuite.build(&matches(&[]), &c, None).unwrap();
            assert_eq!(t.name, format!("mem-{w}"));
            assert!(MemSuite.checker(&t.spec).is_ok(), "{w}");
        }
        let m = matches(&["--bug", "stale-reads,duplicates", "--bug-rate", "0.5"]);
        let t = MemSuite.build(&m, &common, None).unwrap();
        assert_eq!(t.spec["bug-rate"], 0.5);
        assert_eq!(t.spec["bugs"].as_array().unwrap().len(), 2);
        let e = MemSuite
            .check_args(&matches(&["--bug", "gremlins"]), &common, false)
            .unwrap_err();
        assert!(
            matches!(e, SuiteError::BadArgs(ref m) if m.contains("gremlins")),
            "{e}"
        );
        let e = Common {
            workload: "nope".into(),
            ..common
        };
        assert!(matches!(
            MemSuite.build(&matches(&[]), &e, None),
            Err(SuiteError::BadArgs(_))
        ));
    }

    #[test]
    fn refuses_bad_probabilities() {
        let r = MemSuite
            .args(clap::Command::new("test"))
            .try_get_matches_from(["test", "--bug-rate", "2"]);
        assert!(r.is_err());
    }
}
