//! The suites this build knows: one table, looked up by `--db NAME`. A new suite is one line
//! here (and its crate in Cargo.toml).

use rift_suite::Suite;
use std::ffi::OsString;

/// Every suite, in the order `rift test --help` lists them.
pub static SUITES: &[&dyn Suite] = &[
    &rift_suite::MemSuite,
    &rift_kv::KvSuite,
    &rift_etcd::EtcdSuite,
    &rift_kafka_suite::KafkaSuite,
    &rift_bufstream_suite::BufstreamSuite,
    &rift_nisshi_suite::NisshiSuite,
    &rift_flink_suite::FlinkSuite,
    &rift_postgres::PostgresSuite,
    &rift_tikv::TikvSuite,
];

/// The suite of `--db` when it is not given.
pub const DEFAULT_DB: &str = "mem";

/// The suite named `name`.
pub fn find(name: &str) -> Option<&'static dyn Suite> {
    SUITES.iter().copied().find(|s| s.name() == name)
}

/// The suite named `name`, or the bad-arguments message that lists the known ones.
pub fn lookup(name: &str) -> Result<&'static dyn Suite, String> {
    find(name).ok_or_else(|| {
        format!(
            "unknown --db {name:?}; this build knows:\n{}",
            describe().trim_end()
        )
    })
}

/// One line per suite: its name and about line, aligned.
pub fn describe() -> String {
    let width = SUITES.iter().map(|s| s.name().len()).max().unwrap_or(0);
    SUITES
        .iter()
        .map(|s| format!("  {:<width$}  {}\n", s.name(), s.about()))
        .collect()
}

/// The value of `--db NAME` or `--db=NAME` in the arguments of `rift test` or `rift test-all`
/// (`argv[1]`), before clap parses them: the suite decides which options there are. None when
/// the subcommand is another or `--db` is not given; a `--db` without a value is left to clap.
pub fn db_in_argv(argv: &[OsString]) -> Option<String> {
    let sub = argv.get(1).and_then(|s| s.to_str());
    if !matches!(sub, Some("test" | "test-all")) {
        return None;
    }
    let mut it = argv.iter().skip(2).map(|a| a.to_string_lossy());
    while let Some(arg) = it.next() {
        if arg == "--" {
            return None;
        }
        if arg == "--db" {
            return it.next().map(|v| v.into_owned());
        }
        if let Some(v) = arg.strip_prefix("--db=") {
            return Some(v.to_string());
        }
    }
    None
}

/// Whether the arguments ask for help (`-h`, `--help`, or `rift help ...`).
pub fn wants_help(argv: &[OsString]) -> bool {
    argv.get(1).is_some_and(|a| a == "help")
        || argv
            .iter()
            .skip(1)
            .take_while(|a| *a != "--")
            .any(|a| a == "-h" || a == "--help")
}

/// The suite whose options `rift test` gets: `--db`'s, else the default one, except for help
/// without `--db` (the common options and the list of suites only).
pub fn for_argv(argv: &[OsString]) -> Result<Option<&'static dyn Suite>, String> {
    match db_in_argv(argv) {
        Some(name) => lookup(&name).map(Some),
        None if wants_help(argv) => Ok(None),
        None => Ok(find(DEFAULT_DB)),
    }
}

/// The suite that owns option `--long`, for a hint when another suite was asked for.
pub fn owner_of(long: &str) -> Option<&'static dyn Suite> {
    SUITES.iter().copied().find(|s| {
        s.args(clap::Command::new("probe"))
            .get_arguments()
            .any(|a| a.get_long() == Some(long))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn argv(s: &str) -> Vec<OsString> {
        s.split_whitespace().map(OsString::from).collect()
    }

    #[test]
    fn finds_db_before_parsing() {
        assert_eq!(
            db_in_argv(&argv("rift test --nodes a --db etcd")),
            Some("etcd".into())
        );
        assert_eq!(
            db_in_argv(&argv("rift test-all --db=kv")),
            Some("kv".into())
        );
        assert_eq!(db_in_argv(&argv("rift test --nodes a")), None);
        assert_eq!(db_in_argv(&argv("rift check --db etcd x")), None);
        assert_eq!(db_in_argv(&argv("rift test -- --db etcd")), None);
        assert_eq!(db_in_argv(&argv("rift test --db")), None);
        assert!(wants_help(&argv("rift test --help")));
        assert!(wants_help(&argv("rift help test")));
        assert!(!wants_help(&argv("rift test --db kv")));
        assert_eq!(
            for_argv(&argv("rift test")).unwrap().map(|s| s.name()),
            Some("mem")
        );
        assert!(for_argv(&argv("rift test -h")).unwrap().is_none());
        let e = for_argv(&argv("rift test --db nope")).err().unwrap();
        assert!(
            e.contains("etcd") && e.contains("kv") && e.contains("mem"),
            "{e}"
        );
    }

    #[test]
    fn names_are_unique_and_defaults_parse() {
        let mut names: Vec<&str> = SUITES.iter().map(|s| s.name()).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), SUITES.len());
        assert!(find(DEFAULT_DB).is_some());
        for s in SUITES {
            assert!(!s.workloads().is_empty(), "{}", s.name());
            let nodes: Vec<String> = vec!["n1".into(), "n2".into(), "n3".into()];
            rift_core::parse_concurrency(s.default_concurrency(), 3).unwrap();
            let roles = s.roles(&nodes);
            s.nemesis_faults(s.default_nemesis(), &roles).unwrap();
            for over_ssh in [false, true] {
                for n in s.test_all_nemeses(over_ssh) {
                    s.nemesis_faults(&n, &roles).unwrap();
                }
            }
        }
        assert_eq!(
            owner_of("serializable-reads").map(|s| s.name()),
            Some("etcd")
        );
        assert_eq!(owner_of("kv-reads").map(|s| s.name()), Some("kv"));
        assert_eq!(owner_of("bug").map(|s| s.name()), Some("mem"));
        assert!(owner_of("nodes").is_none());
    }
}
