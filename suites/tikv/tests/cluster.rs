//! The TiKV suite on the local cluster (root only; each test prints why it skips otherwise).
//!
//! TiKV and PD ship only as PingCAP's release tarballs, which no registry reachable here
//! serves: the runs of the workloads against a real TiKV need `RIFT_TIKV_TARBALL` (a file or
//! URL of a tarball with `pd-server` and `tikv-server`, e.g. `tidb-v7.5.1-linux-amd64.tar.gz`
//! or PingCAP's `pd-`/`tikv-` component tarballs, comma-separated). What needs no TiKV runs
//! everywhere: a tarball without the binaries, and a PD that never becomes healthy, are
//! refused with errors naming the tarball, or the node and the tail of its log.

use clap::{Args, FromArgMatches};
use rift_checker::Validity;
use rift_control::testkit::{self, Scratch};
use rift_control::{is_root, LocalCluster};
use rift_core::{Db, TestInfo};
use rift_suite::{Common, Place};
use rift_tikv::db::{TikvDb, TikvOptions};
use rift_tikv::suite::{build_test, TikvArgs};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

static SERIAL: Mutex<()> = Mutex::new(());

fn root(test: &str) -> Option<MutexGuard<'static, ()>> {
    if !is_root() {
        println!("skipped: needs root ({test} builds network namespaces)");
        return None;
    }
    Some(SERIAL.lock().unwrap_or_else(|e| e.into_inner()))
}

fn tarball(test: &str) -> Option<String> {
    match std::env::var(rift_tikv::dist::TARBALL_VAR) {
        Ok(t) if !t.trim().is_empty() => Some(t),
        _ => {
            println!(
                "skipped: {test}: no TiKV here (PingCAP's tarballs are in no registry this machine \
                 reaches); set {}=FILE|URL of a release tarball with pd-server and tikv-server",
                rift_tikv::dist::TARBALL_VAR
            );
            None
        }
    }
}

fn local(tag: char, nodes: usize) -> (Arc<LocalCluster>, Scratch) {
    let prefix = format!("rt{}{tag}-", std::process::id() % 100_000);
    let scratch = testkit::scratch(&prefix, nodes).unwrap();
    (
        Arc::new(LocalCluster::up(&scratch.config).unwrap()),
        scratch,
    )
}

fn info(nodes: &[String]) -> TestInfo {
    TestInfo {
        name: "tikv".into(),
        nodes: nodes.to_vec(),
        concurrency: 1,
        seed: 0,
        store_dir: PathBuf::new(),
    }
}

/// A tarball holding `tidb-vX/bin/` with `files` (name, shell script).
fn make_tarball(dir: &Path, files: &[(&str, &str)]) -> String {
    let bin = dir.join("tidb-v0.0.0-test").join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    for (name, script) in files {
        let p = bin.join(name);
        std::fs::write(&p, script).unwrap();
        let ok = std::process::Command::new("chmod")
            .arg("755")
            .arg(&p)
            .status()
            .unwrap();
        assert!(ok.success());
    }
    let t = dir.join("tidb-test.tar.gz");
    let ok = std::process::Command::new("tar")
        .arg("czf")
        .arg(&t)
        .arg("-C")
        .arg(dir)
        .arg("tidb-v0.0.0-test")
        .status()
        .unwrap();
    assert!(ok.success());
    t.display().to_string()
}

#[test]
fn a_pd_that_never_becomes_healthy_is_named_with_its_log_and_restarted_meanwhile() {
    let Some(_l) = root("a PD that never becomes healthy") else {
        return;
    };
    // A tarball whose pd-server says why it cannot start and exits: what a PD built for
    // another platform or given a bad flag does. Not a TiKV: the run never gets that far.
    let dir = tempfile::tempdir().unwrap();
    let cache = tempfile::tempdir().unwrap();
    std::env::set_var(rift_control::CACHE_VAR, cache.path());
    let t = make_tarball(
        dir.path(),
        &[
            (
                "pd-server",
                "#!/bin/sh\necho \"[FATAL] [server.go:123] [\\\"run server failed\\\"] args: $*\" >&2\nexit 1\n",
            ),
            ("tikv-server", "#!/bin/sh\nexit 1\n"),
        ],
    );
    let (c, _scratch) = local('p', 3);
    let mut opts = TikvOptions::new(vec![t]);
    opts.start_deadline = Duration::from_secs(4);
    let db = Arc::new(TikvDb::new(c.clone(), c.node_dirs().unwrap(), opts).unwrap());
    let nodes = c.nodes();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let results = rt.block_on(async {
        let mut set = tokio::task::JoinSet::new();
        for n in &nodes {
            let (db, n, i) = (db.clone(), n.clone(), info(&nodes));
            set.spawn(async move { (n.clone(), db.setup(&i, &n).await) });
        }
        let mut out = Vec::new();
        while let Some(r) = set.join_next().await {
            out.push(r.unwrap());
        }
        for n in &nodes {
            db.teardown(&info(&nodes), n).await.unwrap();
        }
        out
    });
    std::env::remove_var(rift_control::CACHE_VAR);
    for (n, r) in &results {
        let e = r.as_ref().unwrap_err().to_string();
        println!("{n}: {e}");
        assert!(
            e.contains("did not become healthy") || e.contains("because"),
            "{e}"
        );
    }
    let own: Vec<String> = results
        .iter()
        .filter_map(|(n, r)| {
            let e = r.as_ref().err()?.to_string();
            e.contains(&format!("PD on {n} did not become healthy"))
                .then_some(e)
        })
        .collect();
    assert!(!own.is_empty(), "no node named its own PD");
    let e = &own[0];
    assert!(e.contains("restarts"), "{e}");
    assert!(
        !e.contains("(0 restarts"),
        "the loop never restarted it: {e}"
    );
    assert!(
        e.contains("run server failed"),
        "the log's tail is missing: {e}"
    );
    assert!(e.contains("pd.stdout"), "{e}");
    for n in c.nodes() {
        assert!(
            c.node_pids(&n).unwrap_or_default().is_empty(),
            "{n} still runs processes"
        );
    }
}

#[test]
fn a_tarball_without_tikv_is_refused_naming_it() {
    let Some(_l) = root("a tarball without tikv-server") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let cache = tempfile::tempdir().unwrap();
    std::env::set_var(rift_control::CACHE_VAR, cache.path());
    let t = make_tarball(dir.path(), &[("pd-server", "#!/bin/sh\nexit 1\n")]);
    let (c, _scratch) = local('t', 3);
    let db = TikvDb::new(
        c.clone(),
        c.node_dirs().unwrap(),
        TikvOptions::new(vec![t.clone()]),
    )
    .unwrap();
    let nodes = c.nodes();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let e = rt.block_on(db.binaries(&nodes[0])).unwrap_err().to_string();
    std::env::remove_var(rift_control::CACHE_VAR);
    assert!(e.contains(&t), "{e}");
    assert!(e.contains("no tikv-server in it"), "{e}");
}

fn args(extra: &[&str]) -> TikvArgs {
    let cmd = TikvArgs::augment_args(clap::Command::new("rift"));
    let m = cmd
        .try_get_matches_from(std::iter::once("rift").chain(extra.iter().copied()))
        .unwrap();
    TikvArgs::from_arg_matches(&m).unwrap()
}

/// One run of `workload` on 5 nodes under `nemesis`, against the tarball of
/// `RIFT_TIKV_TARBALL`.
fn run_real(tag: char, workload: &str, nemesis: &str, secs: u64) -> Option<(Validity, usize)> {
    let t = tarball(workload)?;
    let (c, _scratch) = local(tag, 5);
    let store = tempfile::tempdir().unwrap();
    let mut common = Common::new(workload, c.nodes());
    common.concurrency = 10;
    common.rate_hz = 100.0;
    common.time_limit = Duration::from_secs(secs);
    common.nemesis = nemesis.to_string();
    common.nemesis_interval_s = 10.0;
    common.run.store_root = store.path().to_path_buf();
    common.run.time_limit = Some(common.time_limit);
    let test = build_test(&args(&["--tarball", &t]), &common, &Place::Local(c.clone())).unwrap();
    println!("running {}", test.name);
    let out = rift_core::run(test).unwrap();
    for n in c.nodes() {
        assert!(
            c.node_pids(&n).unwrap_or_default().is_empty(),
            "{n} still runs processes after the run"
        );
    }
    let history = rift_history::read_history_file(&out.dir.path().join("history.jsonl")).unwrap();
    let ok = history
        .client_ops()
        .filter(|o| o.ty == rift_history::OpType::Ok)
        .count();
    println!(
        "{}: {:?}, {} ops, {ok} ok; {}",
        out.dir.path().display(),
        out.result.valid,
        history.len(),
        out.result.details["workload"]
    );
    Some((out.result.valid, ok))
}

#[test]
fn register_under_partitions_and_kills_on_a_real_tikv() {
    let Some(_l) = root("register") else { return };
    if let Some((valid, ok)) = run_real('r', "register", "partition,kill", 60) {
        assert_eq!(valid, Validity::True);
        assert!(ok > 100, "{ok} ok ops");
    }
}

#[test]
fn set_under_partitions_and_kills_on_a_real_tikv() {
    let Some(_l) = root("set") else { return };
    if let Some((valid, ok)) = run_real('s', "set", "partition,kill", 60) {
        assert_eq!(valid, Validity::True);
        assert!(ok > 10, "{ok} ok ops");
    }
}

#[test]
fn list_append_under_partitions_and_kills_on_a_real_tikv() {
    let Some(_l) = root("list-append") else {
        return;
    };
    if let Some((valid, ok)) = run_real('l', "list-append", "partition,kill", 60) {
        assert_eq!(valid, Validity::True);
        assert!(ok > 100, "{ok} ok ops");
    }
}
