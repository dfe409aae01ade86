//! The seed's `--test-spec` EDN file: `{:dbs [...] :jobs [{:job-jar :job-args :main-class}]
//! :flink-config {...}}`. Every error names the file and the key.

use crate::client::JobSpec;
use rift_history::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The `:dbs` this suite runs, and why it refuses the others.
pub fn check_db(name: &str) -> Result<(), String> {
    match name {
        "zookeeper" | "flink-standalone-session" => Ok(()),
        "kafka" => Ok(()),
        // HDFS, as --hdfs (the seed's :hadoop also runs YARN, which only its YARN modes use).
        "hadoop" => Ok(()),
        "flink-yarn-session" | "flink-yarn-job" => {
            Err("YARN deployments are not run by this suite yet (see --deployment-mode)".into())
        }
        "flink-mesos-session" | "mesos" => {
            Err("Flink dropped Mesos support in 1.14; there is no Mesos deployment to test".into())
        }
        other => Err(format!(
            "unknown db {other:?} (known: zookeeper, flink-standalone-session, kafka)"
        )),
    }
}

/// A parsed test spec.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TestSpec {
    /// `:dbs`.
    pub dbs: Vec<String>,
    /// `:jobs`.
    pub jobs: Vec<JobSpec>,
    /// `:flink-config`.
    pub flink_config: BTreeMap<String, String>,
}

fn scalar(v: &Value) -> Option<String> {
    match v {
        Value::Str(s) => Some(s.to_string()),
        Value::Keyword(s) | Value::Symbol(s) => Some(s.to_string()),
        Value::Int(i) => Some(i.to_string()),
        Value::Float(f) => Some(f.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// Parses the spec at `path` (its text `text`).
pub fn parse(path: &Path, text: &[u8]) -> Result<TestSpec, String> {
    let at = |key: &str, msg: String| format!("--test-spec {}: {key}: {msg}", path.display());
    let v = rift_history::edn::parse_value_bytes(text, Some(path))
        .map_err(|e| format!("--test-spec {}: {e}", path.display()))?;
    let Some(m) = v.as_map() else {
        return Err(format!(
            "--test-spec {}: expected a map {{:dbs [...] :jobs [...]}}",
            path.display()
        ));
    };
    let mut spec = TestSpec::default();
    for (k, val) in m {
        let key = k.as_name().unwrap_or("?");
        match key {
            "dbs" => {
                let items = val
                    .as_seq()
                    .ok_or_else(|| at(":dbs", "expected a vector of keywords".into()))?;
                for d in items {
                    let name = d
                        .as_name()
                        .ok_or_else(|| at(":dbs", format!("{d:?} is not a keyword")))?;
                    check_db(name).map_err(|e| at(":dbs", format!(":{name}: {e}")))?;
                    spec.dbs.push(name.to_string());
                }
            }
            "jobs" => {
                let items = val
                    .as_seq()
                    .ok_or_else(|| at(":jobs", "expected a vector of maps".into()))?;
                for (i, j) in items.iter().enumerate() {
                    let key = format!(":jobs {i}");
                    if j.as_map().is_none() {
                        return Err(at(&key, "expected a map {:job-jar ...}".into()));
                    }
                    let jar = j.get("job-jar").and_then(scalar).ok_or_else(|| {
                        at(&format!("{key} :job-jar"), "missing (a jar file)".into())
                    })?;
                    let jar = PathBuf::from(jar);
                    if !jar.is_file() {
                        return Err(at(
                            &format!("{key} :job-jar"),
                            format!("{} is not a file", jar.display()),
                        ));
                    }
                    let args = match j.get("job-args") {
                        None | Some(Value::Nil) => Vec::new(),
                        Some(a) => scalar(a)
                            .ok_or_else(|| {
                                at(&format!("{key} :job-args"), "expected a string".into())
                            })?
                            .split_whitespace()
                            .map(str::to_string)
                            .collect(),
                    };
                    let main_class = match j.get("main-class") {
                        None | Some(Value::Nil) => None,
                        Some(c) => Some(scalar(c).ok_or_else(|| {
                            at(&format!("{key} :main-class"), "expected a string".into())
                        })?),
                    };
                    spec.jobs.push(JobSpec {
                        jar,
                        args,
                        main_class,
                    });
                }
            }
            "flink-config" => {
                let items = val
                    .as_map()
                    .ok_or_else(|| at(":flink-config", "expected a map".into()))?;
                for (ck, cv) in items {
                    let name = ck
                        .as_name()
                        .ok_or_else(|| at(":flink-config", format!("{ck:?} is not a key")))?;
                    if crate::db::reserved_key(name) {
                        return Err(at(
                            &format!(":flink-config :{name}"),
                            "rift sets this key itself (memory, addresses and ports)".into(),
                        ));
                    }
                    let value = scalar(cv).ok_or_else(|| {
                        at(
                            &format!(":flink-config :{name}"),
                            "expected a scalar value".into(),
                        )
                    })?;
                    spec.flink_config.insert(name.to_string(), value);
                }
            }
            other => {
                return Err(at(
                    &format!(":{other}"),
                    "unknown key (known: :dbs, :jobs, :flink-config)".into(),
                ))
            }
        }
    }
    if !spec.dbs.is_empty() && !spec.dbs.iter().any(|d| d == "flink-standalone-session") {
        return Err(at(":dbs", "must include :flink-standalone-session".into()));
    }
    Ok(spec)
}

/// Reads and parses the spec file.
pub fn read(path: &Path) -> Result<TestSpec, String> {
    let text = std::fs::read(path).map_err(|e| format!("--test-spec {}: {e}", path.display()))?;
    parse(path, &text)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(text: &str) -> Result<TestSpec, String> {
        parse(Path::new("spec.edn"), text.as_bytes())
    }

    #[test]
    fn the_seeds_spec_shape_parses() {
        let jar = tempfile::NamedTempFile::new().unwrap();
        let j = jar.path().display();
        let s = p(&format!(
            "{{:dbs [:zookeeper :flink-standalone-session]\n :jobs [{{:job-jar \"{j}\" :job-args \"--a 1  --b two\" :main-class \"x.Y\"}}]\n :flink-config {{:jobmanager.execution.failover-strategy \"full\" :heartbeat.timeout 20000}}}}"
        ))
        .unwrap();
        assert_eq!(s.dbs, ["zookeeper", "flink-standalone-session"]);
        assert_eq!(s.jobs[0].args, ["--a", "1", "--b", "two"]);
        assert_eq!(s.jobs[0].main_class.as_deref(), Some("x.Y"));
        assert_eq!(s.flink_config["heartbeat.timeout"], "20000");
    }

    #[test]
    fn bad_specs_name_the_file_and_the_key() {
        let e = p("{:dbs [:zookeeper").unwrap_err();
        assert!(e.starts_with("--test-spec spec.edn"), "{e}");
        let s = p("{:dbs [:hadoop :zookeeper :flink-standalone-session]}").unwrap();
        assert_eq!(s.dbs[0], "hadoop");
        let e = p("{:dbs [:flink-yarn-job]}").unwrap_err();
        assert!(e.contains("spec.edn: :dbs: :flink-yarn-job: YARN"), "{e}");
        let e = p("{:dbs [:flink-mesos-session]}").unwrap_err();
        assert!(e.contains("dropped Mesos"), "{e}");
        let e = p("{:jobs [{:job-args \"x\"}]}").unwrap_err();
        assert!(e.contains(":jobs 0 :job-jar: missing"), "{e}");
        let e = p("{:jobs [{:job-jar \"/nonexistent.jar\"}]}").unwrap_err();
        assert!(e.contains("/nonexistent.jar is not a file"), "{e}");
        let e = p("{:flink-config {:taskmanager.memory.task.heap.size \"1g\"}}").unwrap_err();
        assert!(
            e.contains(":flink-config :taskmanager.memory.task.heap.size: rift sets"),
            "{e}"
        );
        let e = p("{:nodes [1]}").unwrap_err();
        assert!(e.contains(":nodes: unknown key"), "{e}");
        let e = p("{:dbs [:zookeeper]}").unwrap_err();
        assert!(e.contains("must include :flink-standalone-session"), "{e}");
        let e = p("[1 2]").unwrap_err();
        assert!(e.contains("expected a map"), "{e}");
    }
}
