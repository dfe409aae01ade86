//! The queue workload on a real nisshi cluster: PostgreSQL 16 on n1, nisshi brokers on n2..n5,
//! under the storage role's faults (root only; each test prints why it skips otherwise, as it
//! does when nisshi or PostgreSQL cannot be had). Each run is built exactly as `rift test --db
//! nisshi` builds it.

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use clap::{Args, FromArgMatches};
use rift_checker::Validity;
use rift_control::testkit::{self, Scratch};
use rift_control::{is_root, LocalCluster};
use rift_nisshi_suite::suite::{build_test, NisshiArgs};
use rift_suite::{Common, Place};

static SERIAL: Mutex<()> = Mutex::new(());

fn prerequisites(test: &str) -> Option<MutexGuard<'static, ()>> {
    if !is_root() {
        println!("skipped: needs root ({test} builds network namespaces)");
        return None;
    }
    let lock = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let cache = rift_control::cache_dir();
    if let Err(e) = rift_nisshi_suite::dist::ensure_nisshi(&cache) {
        println!("skipped: {test}: nisshi cannot be had here: {e}");
        return None;
    }
    if let Err(e) = rift_nisshi_suite::dist::ensure_postgres(&cache) {
        println!("skipped: {test}: PostgreSQL 16 cannot be had here: {e}");
        return None;
    }
    Some(lock)
}

fn local(tag: char) -> (Arc<LocalCluster>, Scratch) {
    let prefix = format!("rn{}{tag}-", std::process::id() % 100_000);
    let scratch = testkit::scratch(&prefix, 5).unwrap();
    (
        Arc::new(LocalCluster::up(&scratch.config).unwrap()),
        scratch,
    )
}

struct Run {
    valid: Validity,
    bad: Vec<String>,
    ok_sends: u64,
    dir: std::path::PathBuf,
    _store: tempfile::TempDir,
}

fn run(tag: char, args: &[&str], nemesis: &str, secs: u64, seed: u64) -> Run {
    let (c, _scratch) = local(tag);
    let cmd = NisshiArgs::augment_args(clap::Command::new("rift"));
    let all = ["rift", "--final-time-limit", "60"]
        .into_iter()
        .chain(args.iter().copied());
    let m = cmd.try_get_matches_from(all).unwrap();
    let a = NisshiArgs::from_arg_matches(&m).unwrap();
    let store = tempfile::tempdir().unwrap();
    let mut common = Common::new("queue", c.nodes());
    common.concurrency = 8;
    common.seed = seed;
    common.time_limit = Duration::from_secs(secs);
    common.rate_hz = 200.0;
    common.nemesis = nemesis.to_string();
    common.nemesis_interval_s = 5.0;
    common.run.store_root = store.path().to_path_buf();
    common.run.time_limit = Some(common.time_limit);
    let test = build_test(&a, &m, &common, &Place::Local(c.clone())).unwrap();
    println!("running {}", test.name);
    let out = rift_core::run(test).unwrap();
    let w = &out.result.details["workload"];
    let bad: Vec<String> = w["bad-error-types"]
        .as_array()
        .map(|v| {
            v.iter()
                .filter_map(|s| s.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    // Acknowledged send and txn ops.
    let by_f = &out.result.details["stats"]["by-f"];
    let ok_sends = ["send", "txn"]
        .iter()
        .map(|f| by_f[f]["ok-count"].as_u64().unwrap_or(0))
        .sum::<u64>();
    println!(
        "{} ops, valid? {}, bad error types {bad:?}, {ok_sends} ok sends; stored in {}",
        out.op_count,
        out.result.valid,
        out.dir.path().display()
    );
    for e in &out.teardown_errors {
        println!("teardown error: {e}");
    }
    Run {
        valid: out.result.valid,
        bad,
        ok_sends,
        dir: out.dir.path().to_path_buf(),
        _store: store,
    }
}

/// Kills of PostgreSQL and partitions between the brokers and it: a run that does work and
/// ends with a verdict (what nisshi does under them is the finding).
#[test]
fn storage_faults_give_a_verdict() {
    let Some(_lock) = prerequisites("nisshi under storage faults") else {
        return;
    };
    let r = run(
        'a',
        &["-s", "--nemesis-stable-period", "0"],
        "kill-storage,partition-broker-storage",
        40,
        11,
    );
    assert!(r.ok_sends > 50, "too few sends in {}", r.dir.display());
    assert_ne!(
        r.valid,
        Validity::Unknown,
        "no verdict: {}",
        r.dir.display()
    );
}

/// Transactions: nisshi's PostgreSQL storage never reports aborted transactions to
/// read_committed fetches, so a consumer reads records of transactions that aborted: the
/// checker must say G1a (aborted read).
#[test]
fn transactions_show_aborted_reads() {
    let Some(_lock) = prerequisites("nisshi transactions") else {
        return;
    };
    let r = run('b', &["-s", "--txn"], "none", 30, 12);
    assert!(r.ok_sends > 20, "too few sends in {}", r.dir.display());
    assert_eq!(r.valid, Validity::False, "in {}", r.dir.display());
    assert!(
        r.bad.iter().any(|b| b == "G1a"),
        "no aborted read in {:?} ({})",
        r.bad,
        r.dir.display()
    );
}
