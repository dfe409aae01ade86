//! jepsen.flink's tests on a real Flink cluster (root only; each test prints why it skips
//! otherwise, as it does when Flink, ZooKeeper or a JDK cannot be had): ZooKeeper on n1-n3,
//! JobManagers on n4-n5, TaskManagers on n6-n7, built exactly as `rift test --db flink`
//! builds them.

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use clap::{Args, FromArgMatches};
use rift_checker::Validity;
use rift_control::testkit::{self, Scratch};
use rift_control::{is_root, LocalCluster};
use rift_flink_suite::suite::{build_test, FlinkArgs};
use rift_suite::{Common, Place};

static SERIAL: Mutex<()> = Mutex::new(());

fn prerequisites(test: &str) -> Option<MutexGuard<'static, ()>> {
    if !is_root() {
        println!("skipped: needs root ({test} builds network namespaces)");
        return None;
    }
    let lock = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let source = rift_flink_suite::dist::Source::PyPi(rift_flink_suite::dist::FLINK_VERSION.into());
    if let Err(e) = rift_flink_suite::dist::ensure_flink(&source) {
        println!("skipped: {test}: Flink cannot be had here: {e}");
        return None;
    }
    if let Err(e) = rift_flink_suite::dist::ensure_zookeeper() {
        println!("skipped: {test}: ZooKeeper cannot be had here: {e}");
        return None;
    }
    Some(lock)
}

fn local(tag: char, nodes: usize) -> (Arc<LocalCluster>, Scratch) {
    let prefix = format!("rf{}{tag}-", std::process::id() % 100_000);
    let scratch = testkit::scratch(&prefix, nodes).unwrap();
    (
        Arc::new(LocalCluster::up(&scratch.config).unwrap()),
        scratch,
    )
}

fn args(extra: &[&str]) -> FlinkArgs {
    let cmd = FlinkArgs::augment_args(clap::Command::new("rift"));
    let m = cmd
        .try_get_matches_from(std::iter::once("rift").chain(extra.iter().copied()))
        .unwrap();
    FlinkArgs::from_arg_matches(&m).unwrap()
}

fn common(c: &LocalCluster, workload: &str, secs: u64, store: &std::path::Path) -> Common {
    let mut common = Common::new(workload, c.nodes());
    common.rate_hz = 100.0;
    common.concurrency = 1;
    common.seed = 7;
    common.time_limit = Duration::from_secs(secs);
    common.run.store_root = store.to_path_buf();
    common.run.time_limit = Some(common.time_limit);
    common
}

struct Run {
    valid: Validity,
    anomalies: Vec<String>,
    /// The exactly-once checker's result (null for job-running).
    eo: serde_json::Value,
    history: Vec<rift_history::Op>,
    /// Resident memory of every process of the cluster, sampled during the run (max), MiB.
    peak_rss_mib: u64,
    _store: tempfile::TempDir,
}

/// The resident memory of every process in the cluster's nodes, MiB.
fn cluster_rss_mib(c: &LocalCluster) -> u64 {
    let mut kib = 0;
    for n in c.nodes() {
        for pid in c.node_pids(&n).unwrap_or_default() {
            let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
            kib += status
                .lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
                .unwrap_or(0);
        }
    }
    kib / 1024
}

fn run(tag: char, extra: &[&str], secs: u64) -> Run {
    run_workload(tag, "job-running", extra, "none", secs)
}

fn run_workload(tag: char, workload: &str, extra: &[&str], nemesis: &str, secs: u64) -> Run {
    let nodes = rift_flink_suite::suite::min_nodes(workload) + 1;
    run_workload_on(nodes, tag, workload, extra, nemesis, secs, 15.0)
}

/// A run of `workload` on `nodes` nodes, a fault every `interval_s` seconds.
fn run_workload_on(
    nodes: usize,
    tag: char,
    workload: &str,
    extra: &[&str],
    nemesis: &str,
    secs: u64,
    interval_s: f64,
) -> Run {
    let (c, _scratch) = local(tag, nodes);
    let store = tempfile::tempdir().unwrap();
    let a = args(extra);
    let mut common = common(&c, workload, secs, store.path());
    common.nemesis = nemesis.to_string();
    common.nemesis_interval_s = interval_s;
    let test = build_test(&a, &common, &Place::Local(c.clone())).unwrap();
    println!("running {}", test.name);
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let peak = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let sampler = {
        let (c, stop, peak) = (c.clone(), stop.clone(), peak.clone());
        std::thread::spawn(move || {
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                peak.fetch_max(cluster_rss_mib(&c), std::sync::atomic::Ordering::Relaxed);
                std::thread::sleep(Duration::from_secs(2));
            }
        })
    };
    let out = rift_core::run(test).unwrap();
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let _ = sampler.join();
    for n in c.nodes() {
        assert!(
            c.node_pids(&n).unwrap_or_default().is_empty(),
            "{n} still runs processes after the run"
        );
    }
    let history = rift_history::read_history_file(&out.dir.path().join("history.jsonl"))
        .unwrap()
        .into_ops();
    println!(
        "{}: {:?} {}, {} ops, cluster peak RSS {} MiB",
        out.dir.path().display(),
        out.result.valid,
        out.result.details["job-running"],
        history.len(),
        peak.load(std::sync::atomic::Ordering::Relaxed)
    );
    let anomalies = out.result.details["job-running"]["anomaly-types"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|s| s.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    if workload == "exactly-once" {
        println!("exactly-once: {}", out.result.details["exactly-once"]);
    }
    Run {
        valid: out.result.valid,
        anomalies,
        eo: out
            .result
            .details
            .get("exactly-once")
            .cloned()
            .unwrap_or_default(),
        history,
        peak_rss_mib: peak.load(std::sync::atomic::Ordering::Relaxed),
        _store: store,
    }
}

fn polls(h: &[rift_history::Op]) -> (usize, usize) {
    let done: Vec<&rift_history::Op> = h
        .iter()
        .filter(|o| o.is_client() && o.f_name() == "jobs-running?" && !o.is_invoke())
        .collect();
    let up = done
        .iter()
        .filter(|o| rift_flink_suite::gen::all_running(o))
        .count();
    (up, done.len() - up)
}

fn nemesis_ops(h: &[rift_history::Op], f: &str) -> usize {
    h.iter()
        .filter(|o| !o.is_client() && o.f_name() == f && o.is_info() && !o.value.is_nil())
        .count()
}

#[test]
fn kill_task_managers_the_job_recovers_and_the_run_is_valid() {
    let Some(_l) = prerequisites("kill_task_managers") else {
        return;
    };
    let r = run('t', &["--nemesis-gen", "kill-task-managers"], 30);
    assert_eq!(r.valid, Validity::True, "{:?}", r.anomalies);
    assert!(nemesis_ops(&r.history, "kill-task-managers") >= 5);
    let (up, down) = polls(&r.history);
    // The kills took the job down, and it ran again: at least the healthy threshold.
    assert!(down >= 1, "no poll found the job down under the kills");
    assert!(up >= 5, "{up} polls found the job running");
    assert!(
        r.peak_rss_mib < 6 * 1024,
        "the cluster used {} MiB",
        r.peak_rss_mib
    );
}

#[test]
fn kill_job_managers_the_job_recovers_and_the_run_is_valid() {
    let Some(_l) = prerequisites("kill_job_managers") else {
        return;
    };
    let r = run('j', &["--nemesis-gen", "kill-job-managers"], 15);
    assert_eq!(r.valid, Validity::True, "{:?}", r.anomalies);
    assert!(nemesis_ops(&r.history, "kill-job-manager") >= 3);
    let first_kill = r
        .history
        .iter()
        .find(|o| o.f_name() == "kill-job-manager")
        .and_then(|o| o.time)
        .unwrap();
    assert!(
        first_kill >= 60_000_000_000,
        "a JobManager was killed within the submit grace"
    );
}

#[test]
fn killed_task_managers_that_stay_down_are_an_unavailable_job() {
    let Some(_l) = prerequisites("unsupervised kills") else {
        return;
    };
    // Nothing restarts the TaskManagers: the job cannot run again, and the checker must say
    // so once the grace period after the last kill is over.
    let r = run(
        'u',
        &[
            "--nemesis-gen",
            "kill-task-managers",
            "--no-supervision",
            "--job-recovery-grace-period",
            "60",
        ],
        5,
    );
    assert_eq!(r.valid, Validity::False);
    assert_eq!(r.anomalies, ["job-not-running"]);
}

#[test]
fn a_job_that_fails_to_submit_shows_flinks_answer_and_leaves_nothing_running() {
    let Some(_l) = prerequisites("failing job") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("Boom.java");
    std::fs::write(
        &src,
        "public class Boom { public static void main(String[] a) { throw new IllegalStateException(\"boom from rift's test job\"); } }",
    )
    .unwrap();
    let ok = std::process::Command::new("javac")
        .arg("-d")
        .arg(dir.path())
        .arg(&src)
        .status()
        .unwrap();
    assert!(ok.success());
    let jar = dir.path().join("boom.jar");
    let ok = std::process::Command::new("jar")
        .arg("cf")
        .arg(&jar)
        .arg("-C")
        .arg(dir.path())
        .arg("Boom.class")
        .status()
        .unwrap();
    assert!(ok.success());
    let spec = dir.path().join("spec.edn");
    std::fs::write(
        &spec,
        format!(
            "{{:dbs [:zookeeper :flink-standalone-session] :jobs [{{:job-jar \"{}\" :main-class \"Boom\"}}]}}",
            jar.display()
        ),
    )
    .unwrap();
    let (c, _scratch) = local('b', 7);
    let store = tempfile::tempdir().unwrap();
    let a = args(&[
        "--test-spec",
        spec.to_str().unwrap(),
        "--nemesis-gen",
        "utopia",
    ]);
    let common = common(&c, "job-running", 10, store.path());
    let test = build_test(&a, &common, &Place::Local(c.clone())).unwrap();
    let Err(e) = rift_core::run(test) else {
        panic!("the run must fail");
    };
    let e = e.to_string();
    assert!(e.contains("Flink refused the job boom.jar"), "{e}");
    assert!(e.contains("boom from rift's test job"), "{e}");
    for n in c.nodes() {
        assert!(
            c.node_pids(&n).unwrap_or_default().is_empty(),
            "{n} still runs processes"
        );
    }
}

/// Whether a poll found the job running and a later one found it down or could not tell:
/// the faults reached a job that was running.
fn went_down_while_running(h: &[rift_history::Op]) -> bool {
    let mut up = false;
    for o in h
        .iter()
        .filter(|o| o.is_client() && o.f_name() == "jobs-running?" && !o.is_invoke())
    {
        let running = rift_flink_suite::gen::all_running(o);
        if up && !running {
            return true;
        }
        up |= running;
    }
    false
}

#[test]
fn exactly_once_under_kills_and_partitions_every_acknowledged_value_once_in_order() {
    let Some(_l) = prerequisites("exactly-once under kills and partitions") else {
        return;
    };
    // One TaskManager, so that every TaskManager kill and every partition that cuts it off
    // reaches the running job (with two, the job's slots may all sit on the one not hit), and
    // a fault every 10 s: a run whose faults all missed the job would prove nothing.
    let r = run_workload_on(
        rift_flink_suite::suite::min_nodes("exactly-once"),
        'e',
        "exactly-once",
        &["--nemesis-gen", "utopia"],
        "kill-taskmanager,kill-jobmanager,partition",
        60,
        10.0,
    );
    assert_eq!(r.valid, Validity::True, "{}", r.eo);
    assert!(nemesis_ops(&r.history, "kill") >= 1);
    assert!(
        went_down_while_running(&r.history),
        "the faults never took the running job down"
    );
    let acked = r.eo["acknowledged-count"].as_u64().unwrap();
    assert!(acked > 1000, "{acked} sends acknowledged");
    assert!(r.eo["read-count"].as_u64().unwrap() >= acked);
}

#[test]
fn an_at_least_once_sink_under_task_manager_kills_shows_duplicates() {
    let Some(_l) = prerequisites("at-least-once sink") else {
        return;
    };
    // The deliberate weakening: what a restored job replays is written again, and the checker
    // must see it (the run that proves it is not quiet where there is something to find).
    let r = run_workload(
        'a',
        "exactly-once",
        &[
            "--nemesis-gen",
            "utopia",
            "--sink-guarantee",
            "at-least-once",
        ],
        "kill-taskmanager",
        60,
    );
    assert_eq!(r.valid, Validity::False, "{}", r.eo);
    assert!(went_down_while_running(&r.history));
    let types: Vec<&str> = r.eo["anomaly-types"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|v| v.as_str())
        .collect();
    assert!(types.contains(&"duplicate"), "{types:?}");
}

#[test]
fn the_name_node_failing_during_recovery_the_job_recovers_and_the_run_is_valid() {
    let Some(_l) = prerequisites("fail-name-node-during-recovery") else {
        return;
    };
    if let Err(e) = rift_flink_suite::dist::ensure_hadoop() {
        println!("skipped: Hadoop's jars cannot be had here: {e}");
        return;
    }
    // The seed's schedule: 60 s in, random halves partitioned and the NameNode stopped; the
    // network heals at 80 s, the NameNode starts at 140 s.
    let r = run(
        'n',
        &["--hdfs", "--nemesis-gen", "fail-name-node-during-recovery"],
        10,
    );
    assert_eq!(r.valid, Validity::True, "{:?}", r.anomalies);
    assert_eq!(nemesis_ops(&r.history, "fail-name-node-start"), 1);
    assert_eq!(nemesis_ops(&r.history, "fail-name-node-stop"), 1);
    assert_eq!(nemesis_ops(&r.history, "partition-start"), 1);
}
