//! The PostgreSQL suite on a real PostgreSQL (Debian's, root only; each test prints why it
//! skips otherwise): what each isolation level lets through, as Jepsen's PostgreSQL analysis
//! found it, built exactly as `rift test --db postgres` builds it.

use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use clap::{Args, FromArgMatches};
use rift_checker::{CheckContext, Checker, Validity};
use rift_control::testkit::{self, Scratch};
use rift_control::{is_root, LocalCluster};
use rift_postgres::suite::{build_test, PostgresArgs};
use rift_suite::{Common, Place};
use std::sync::Arc;

static SERIAL: Mutex<()> = Mutex::new(());

fn prerequisites(test: &str) -> Option<MutexGuard<'static, ()>> {
    if !is_root() {
        println!("skipped: needs root ({test} builds network namespaces)");
        return None;
    }
    let lock = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    if let Err(e) = rift_postgres::dist::bin_dir(None) {
        println!("skipped: {test}: PostgreSQL cannot be had here: {e}");
        return None;
    }
    Some(lock)
}

fn local(tag: char, nodes: usize) -> (Arc<LocalCluster>, Scratch) {
    let prefix = format!("rp{}{tag}-", std::process::id() % 100_000);
    let scratch = testkit::scratch(&prefix, nodes).unwrap();
    (
        Arc::new(LocalCluster::up(&scratch.config).unwrap()),
        scratch,
    )
}

fn args(extra: &[&str]) -> PostgresArgs {
    let cmd = PostgresArgs::augment_args(clap::Command::new("rift"));
    let m = cmd
        .try_get_matches_from(std::iter::once("rift").chain(extra.iter().copied()))
        .unwrap();
    PostgresArgs::from_arg_matches(&m).unwrap()
}

struct Run {
    valid: Validity,
    /// The workload checker's anomaly types.
    anomalies: Vec<String>,
    result: rift_checker::CheckResult,
    history: rift_history::History,
    _store: tempfile::TempDir,
}

/// One run of `workload` for `secs` on `nodes` nodes with the suite's options `extra`.
fn run(
    tag: char,
    nodes: usize,
    workload: &str,
    extra: &[&str],
    nemesis: &str,
    secs: u64,
    seed: u64,
) -> Run {
    let (c, _scratch) = local(tag, nodes);
    let store = tempfile::tempdir().unwrap();
    let mut common = Common::new(workload, c.nodes());
    common.rate_hz = 500.0;
    common.concurrency = 20;
    common.seed = seed;
    common.time_limit = Duration::from_secs(secs);
    common.nemesis = nemesis.to_string();
    common.nemesis_interval_s = 5.0;
    common.run.store_root = store.path().to_path_buf();
    common.run.time_limit = Some(common.time_limit);
    let test = build_test(&args(extra), &common, &Place::Local(c.clone())).unwrap();
    println!("running {}", test.name);
    let out = rift_core::run(test).unwrap();
    for n in c.nodes() {
        assert!(
            c.node_pids(&n).unwrap_or_default().is_empty(),
            "{n} still runs processes after the run"
        );
    }
    let history = rift_history::read_history_file(&out.dir.path().join("history.jsonl")).unwrap();
    let anomalies: Vec<String> = out.result.details["workload"]
        .get("anomaly-types")
        .and_then(|t| t.as_array())
        .map(|a| {
            a.iter()
                .filter_map(|t| t.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    println!(
        "{}: {:?} {anomalies:?}, {} ops; {}",
        out.dir.path().display(),
        out.result.valid,
        history.len(),
        rift_postgres::checker::summary_lines(&out.result).join("; ")
    );
    Run {
        valid: out.result.valid,
        anomalies,
        result: out.result,
        history,
        _store: store,
    }
}

/// Elle's list-append checker at `model` on a history.
fn elle_append(history: &rift_history::History, model: &str) -> rift_checker::CheckResult {
    let opts = rift_elle::Options {
        consistency_models: vec![model.into()],
        ..rift_elle::Options::default()
    };
    rift_elle::checker(rift_elle::Workload::ListAppend, opts)
        .check(&CheckContext::default(), history)
}

fn count(h: &rift_history::History, ty: rift_history::OpType) -> usize {
    h.client_ops().filter(|o| o.ty == ty).count()
}

#[test]
fn repeatable_read_is_snapshot_isolation_with_write_skew() {
    let Some(_l) = prerequisites("repeatable_read") else {
        return;
    };
    // Jepsen's 12.3 analysis: repeatable read is snapshot isolation, which allows G2-item.
    let extra = [
        "--isolation",
        "repeatable-read",
        "--consistency-models",
        "serializable",
    ];
    let mut found = None;
    for seed in 1..=3 {
        let r = run('r', 1, "append", &extra, "none", 30, seed);
        assert_ne!(
            r.valid,
            Validity::True,
            "seed {seed}: RR checked as serializable"
        );
        if r.anomalies.iter().any(|a| a == "G2-item") {
            found = Some(r);
            break;
        }
    }
    let r = found.expect("no G2-item in 3 runs of 30 s at repeatable read");
    // Nothing the level forbids: the same history is snapshot isolation.
    let si = elle_append(&r.history, "snapshot-isolation");
    assert_eq!(si.valid, Validity::True, "{:?}", si.details);
    assert_eq!(r.result.details["summary"]["expected-holds"], true);
    assert_eq!(
        r.result.details["summary"]["expected-consistency"],
        "snapshot-isolation"
    );
}

#[test]
fn read_committed_is_not_serializable() {
    let Some(_l) = prerequisites("read_committed") else {
        return;
    };
    let extra = [
        "--isolation",
        "read-committed",
        "--consistency-models",
        "serializable",
    ];
    let r = run('c', 1, "append", &extra, "none", 20, 1);
    assert_eq!(r.valid, Validity::False, "RC checked as serializable");
    println!("read committed let through: {:?}", r.anomalies);
    // Read committed's own anomalies: reads of later versions in one txn (internal),
    // lost updates (G-single-item), write skew (G2-item); never G0 or G1.
    for a in &r.anomalies {
        assert!(
            !a.starts_with("G0") && !a.starts_with("G1"),
            "{a} under read committed"
        );
    }
    assert!(
        r.anomalies
            .iter()
            .any(|a| a.starts_with("G-single") || a == "G2-item"),
        "{:?}",
        r.anomalies
    );
    assert_eq!(
        elle_append(&r.history, "read-committed").valid,
        Validity::True
    );
    assert_eq!(r.result.details["summary"]["expected-holds"], true);
}

#[test]
fn serializable_is_serializable() {
    let Some(_l) = prerequisites("serializable") else {
        return;
    };
    let r = run('s', 1, "append", &[], "none", 30, 1);
    assert_eq!(r.valid, Validity::True, "{:?}", r.result.details);
    // Serialization failures are the price: they are fails, rolled back.
    assert!(count(&r.history, rift_history::OpType::Fail) > 0);
    assert!(count(&r.history, rift_history::OpType::Ok) > 3000);
    let r = run('w', 1, "wr", &[], "none", 15, 1);
    assert_eq!(r.valid, Validity::True, "{:?}", r.result.details);
    for w in ["register", "bank"] {
        let r = run('g', 1, w, &[], "none", 10, 1);
        assert_eq!(r.valid, Validity::True, "{w}: {:?}", r.result.details);
        assert!(count(&r.history, rift_history::OpType::Ok) > 500, "{w}");
    }
}

#[test]
fn replica_reads_are_not_strict_serializable() {
    let Some(_l) = prerequisites("replica_reads") else {
        return;
    };
    let extra = [
        "--replica-reads",
        "--consistency-models",
        "strict-serializable",
    ];
    let r = run('p', 3, "append", &extra, "none", 30, 1);
    assert_eq!(r.valid, Validity::False, "reads on asynchronous replicas");
    println!("replica reads let through: {:?}", r.anomalies);
    assert!(!r.anomalies.is_empty());
}

#[test]
fn kills_of_the_primary_keep_serializable() {
    let Some(_l) = prerequisites("kill_primary") else {
        return;
    };
    let r = run('k', 3, "append", &[], "kill-primary", 30, 1);
    assert_eq!(r.valid, Validity::True, "{:?}", r.result.details);
    let info = |f: &str| -> Vec<i64> {
        r.history
            .nemesis_ops()
            .filter(|o| o.f_name() == f && o.ty == rift_history::OpType::Info)
            .filter_map(|o| o.time)
            .collect()
    };
    let (kills, starts) = (info("kill"), info("start"));
    assert!(kills.len() >= 2, "kills: {kills:?}");
    // The primary came back after its first kill and took writes again.
    let restarted = starts[0];
    assert!(
        r.history
            .client_ops()
            .any(|o| o.ty == rift_history::OpType::Ok
                && o.time > Some(restarted)
                && o.time < Some(kills[1])),
        "no ok op between the restart at {restarted} ns and the next kill"
    );
}
