//! The queue workload on a real 5-node Kafka cluster (root only; each test prints why it is
//! skipped otherwise). Every test builds the run exactly as `rift test --db kafka` does
//! (the suite's own options parsed by clap, the Suite's `build`), runs it, and asserts the
//! checker's verdict. Tests run one at a time; each cluster is torn down in Drop.

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use clap::{Args, FromArgMatches};
use rift_checker::Validity;
use rift_control::testkit::{self, Scratch};
use rift_control::{is_root, LocalCluster};
use rift_kafka_suite::suite::{build_test, KafkaArgs};
use rift_suite::{Common, Place};

static SERIAL: Mutex<()> = Mutex::new(());

fn prerequisites(test: &str) -> Option<MutexGuard<'static, ()>> {
    if !is_root() {
        println!("skipped: needs root ({test} builds network namespaces and nft rules)");
        return None;
    }
    let lock = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    if let Err(e) = rift_kafka_suite::dist::ensure_java() {
        println!("skipped: {test}: {e}");
        return None;
    }
    Some(lock)
}

fn cluster(tag: char) -> (Arc<LocalCluster>, Scratch) {
    let prefix = format!("rq{}{tag}-", std::process::id() % 100_000);
    let scratch = testkit::scratch(&prefix, 5).unwrap();
    (
        Arc::new(LocalCluster::up(&scratch.config).unwrap()),
        scratch,
    )
}

/// The outcome of one run: verdict, the workload checker's bad error types, and the number of
/// acknowledged sends.
struct Run {
    valid: Validity,
    bad: Vec<String>,
    ok_sends: u64,
    dir: std::path::PathBuf,
    /// The store, removed when the run is dropped (kept on disk when the run is invalid).
    _store: Option<tempfile::TempDir>,
}

/// Runs the queue workload with the suite's `args` (as on the command line) on a fresh
/// cluster, a nemesis op every 5 s.
fn run(tag: char, args: &[&str], nemesis: &str, secs: u64, seed: u64) -> Run {
    run_every(tag, args, nemesis, secs, seed, 5.0)
}

/// [`run`] with a nemesis op every `interval_s` seconds.
fn run_every(
    tag: char,
    args: &[&str],
    nemesis: &str,
    secs: u64,
    seed: u64,
    interval_s: f64,
) -> Run {
    let (cluster, _scratch) = cluster(tag);
    let cmd = KafkaArgs::augment_args(clap::Command::new("rift"));
    // Final polls bounded well below the 200 s default: a run that loses writes never
    // catches up with the offsets its sends were acknowledged at.
    let bounded = ["--final-time-limit", "60"];
    let all = std::iter::once("rift")
        .chain(bounded)
        .chain(args.iter().copied());
    let m = cmd.try_get_matches_from(all).unwrap();
    let a = KafkaArgs::from_arg_matches(&m).unwrap();
    let store = tempfile::tempdir().unwrap();
    let mut common = Common::new("queue", cluster.nodes());
    common.concurrency = 10;
    common.seed = seed;
    common.time_limit = Duration::from_secs(secs);
    common.rate_hz = 200.0;
    common.nemesis = nemesis.to_string();
    common.nemesis_interval_s = interval_s;
    common.run.store_root = store.path().to_path_buf();
    common.run.time_limit = Some(common.time_limit);
    let place = Place::Local(cluster.clone());
    let test = build_test(&a, &a.resolve(&m), &common, &place).unwrap();
    println!("running {}", test.name);
    let out = rift_core::run(test).unwrap();
    let workload = &out.result.details["workload"];
    let bad = workload["bad-error-types"]
        .as_array()
        .map(|v| {
            v.iter()
                .filter_map(|s| s.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    let ok_sends = out.result.details["stats"]["by-f"]["send"]["ok-count"]
        .as_u64()
        .unwrap_or(0);
    println!(
        "{} ops, valid? {}, bad error types {bad:?}, {ok_sends} ok sends; stored in {}",
        out.op_count,
        out.result.valid,
        out.dir.path().display()
    );
    for e in &out.teardown_errors {
        println!("teardown error: {e}");
    }
    let dir = out.dir.path().to_path_buf();
    // Keep the store when something needs reading.
    let store = if out.result.valid != Validity::True {
        let keep = store.keep();
        println!("kept {}", keep.display());
        None
    } else {
        Some(store)
    };
    Run {
        valid: out.result.valid,
        bad,
        ok_sends,
        dir,
        _store: store,
    }
}

impl Run {
    /// Valid, with more than `min_sends` acknowledged sends (a run that did nothing proves
    /// nothing).
    fn assert_valid(&self, min_sends: u64) {
        assert!(
            self.ok_sends > min_sends,
            "too few acknowledged sends: {} in {}",
            self.ok_sends,
            self.dir.display()
        );
        assert_eq!(
            self.valid,
            Validity::True,
            "bad: {:?} in {}",
            self.bad,
            self.dir.display()
        );
    }
}

#[test]
fn safe_run_under_partitions_and_kills_is_valid() {
    let Some(_lock) = prerequisites("safe_run_under_partitions_and_kills") else {
        return;
    };
    let r = run(
        'a',
        &["-s", "--nemesis-stable-period", "0"],
        "partition,kill",
        40,
        1,
    );
    r.assert_valid(100);
}

#[test]
fn subscribe_run_with_crashing_clients_is_valid() {
    let Some(_lock) = prerequisites("subscribe_run") else {
        return;
    };
    let args = [
        "-s",
        "--sub-via",
        "subscribe",
        "--crash-clients",
        "--crash-client-interval",
        "10",
    ];
    let r = run('b', &args, "none", 30, 2);
    r.assert_valid(100);
}

#[test]
fn role_faults_kill_controllers_and_cut_brokers_from_them() {
    let Some(_lock) = prerequisites("role_faults") else {
        return;
    };
    let r = run(
        'c',
        &["-s", "--nemesis-stable-period", "0"],
        "kill-controller,partition-broker-controller",
        40,
        3,
    );
    r.assert_valid(50);
}

#[test]
fn txn_run_without_faults_is_valid() {
    let Some(_lock) = prerequisites("txn_run") else {
        return;
    };
    let r = run('d', &["-s", "--txn"], "none", 30, 4);
    r.assert_valid(20);
}

/// Clock faults: the JVMs run under rift's wall-clock shim (their CLOCK_REALTIME moves,
/// their monotonic clocks do not), bumped and strobed by the clock nemesis. Kafka's safety does
/// not rest on wall clocks, so the run must be valid; and the faults must have happened. A
/// clock fault is a reset a third of the time, and the fault choices depend on the run's
/// timing: a fault every 2 s (every 4 s with the offset checks between) gives ~7 faults in
/// 30 s, all resets once in ~2,000 runs (every 5 s: ~3, all resets once in 27, which CI met).
#[test]
fn clock_faults_run_is_valid() {
    let Some(_lock) = prerequisites("clock_faults") else {
        return;
    };
    let r = run_every(
        'e',
        &["-s", "--nemesis-stable-period", "0"],
        "clock",
        30,
        5,
        2.0,
    );
    r.assert_valid(50);
    let history = std::fs::read_to_string(r.dir.join("history.jsonl")).unwrap();
    let skews = history
        .lines()
        .filter(|l| l.contains(r#""process":"nemesis""#) && l.contains(r#""type":"info""#))
        .filter(|l| l.contains(r#""f":"bump-clock""#) || l.contains(r#""f":"strobe-clock""#))
        .count();
    assert!(skews > 0, "no clock was skewed in {}", r.dir.display());
}

/// A documented weakening: with `acks=1`, `min.insync.replicas` 1 and unclean leader
/// election, a leader acknowledges a send before any follower has it, and any replica may take
/// over; the partitioned or killed leader truncates its log when it rejoins. The checker must
/// see acknowledged writes lost: `lost-write` or `inconsistent-offsets` (a later write took
/// the lost one's offset), or `unseen` (acknowledged, and never read by the final polls,
/// which read every key from its start once the cluster is healed: with these settings,
/// gone from the log). Seeds 11 to 15 in turn, stopping at the first that shows them.
#[test]
fn acks_1_under_partitions_and_kills_loses_acknowledged_writes() {
    let Some(_lock) = prerequisites("acks_1_loses_writes") else {
        return;
    };
    let args = [
        "--acks",
        "1",
        "--retries",
        "1000",
        "--no-idempotence",
        "--sub-via",
        "assign",
        "--auto-offset-reset",
        "earliest",
        "--disable-auto-commit",
        "--isolation-level",
        "read_committed",
        "--nemesis-stable-period",
        "0",
        "--min-insync-replicas",
        "1",
        "--unclean-leader-election",
    ];
    let mut seen = Vec::new();
    for seed in [11, 12, 13, 14, 15] {
        let r = run('e', &args, "partition,kill", 60, seed);
        println!("seed {seed}: valid? {} bad {:?}", r.valid, r.bad);
        let lost = r
            .bad
            .iter()
            .any(|b| ["lost-write", "inconsistent-offsets", "unseen"].contains(&b.as_str()));
        seen.push((seed, r.valid, r.bad));
        if lost {
            assert_eq!(seen.last().unwrap().1, Validity::False);
            return;
        }
    }
    panic!("acks=1 lost nothing in 5 runs of 60 s: {seen:?}");
}
