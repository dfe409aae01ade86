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

fn local(tag: char) -> (Arc<LocalCluster>, Scratch) {
    let prefix = format!("rf{}{tag}-", std::process::id() % 100_000);
    let scratch = testkit::scratch(&prefix, 7).unwrap();
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

fn common(c: &LocalCluster, secs: u64, store: &std::path::Path) -> Common {
    let mut common = Common::new("job-running", c.nodes());
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
    let (c, _scratch) = local(tag);
    let store = tempfile::tempdir().unwrap();
    let a = args(extra);
    let test = build_test(
        &a,
        &common(&c, secs, store.path()),
        &Place::Local(c.clone()),
    )
    .unwrap();
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
    Run {
        valid: out.result.valid,
        anomalies,
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
    let (c, _scratch) = local('b');
    let store = tempfile::tempdir().unwrap();
    let a = args(&[
        "--test-spec",
        spec.to_str().unwrap(),
        "--nemesis-gen",
        "utopia",
    ]);
    let test = build_test(&a, &common(&c, 10, store.path()), &Place::Local(c.clone())).unwrap();
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
