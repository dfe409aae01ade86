//! The Bufstream cluster on a real 5-node local cluster (root only; each test prints why it
//! skips otherwise). Bufstream itself is a proprietary binary: the automation runs for real
//! up to it (etcd up and healthy, the bucket created and writable through the S3 API, every
//! node's bufstream.yaml written with the right addresses, roles and fault names resolved to
//! the right nodes, a binary that fails reported with its node and log), and the full queue
//! test runs when `RIFT_BUFSTREAM_BIN` names a real Bufstream binary.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use clap::{Args, FromArgMatches};
use rift_bufstream_suite::store::BUCKET;
use rift_bufstream_suite::suite::{
    build_test, cluster, expand_faults, BufstreamArgs, BUFSTREAM, COORDINATION, STORAGE,
};
use rift_checker::Validity;
use rift_control::testkit::{self, Scratch};
use rift_control::{is_root, LocalCluster};
use rift_core::{Db, TestInfo};
use rift_nemesis::{fault_scope, FaultScope};
use rift_suite::{Common, Place};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

static SERIAL: Mutex<()> = Mutex::new(());

fn prerequisites(test: &str) -> Option<MutexGuard<'static, ()>> {
    if !is_root() {
        println!("skipped: needs root ({test} builds network namespaces)");
        return None;
    }
    Some(SERIAL.lock().unwrap_or_else(|e| e.into_inner()))
}

fn local(tag: char) -> (Arc<LocalCluster>, Scratch) {
    let prefix = format!("rb{}{tag}-", std::process::id() % 100_000);
    let scratch = testkit::scratch(&prefix, 5).unwrap();
    (
        Arc::new(LocalCluster::up(&scratch.config).unwrap()),
        scratch,
    )
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

fn parse(args: &[&str]) -> (BufstreamArgs, clap::ArgMatches) {
    let cmd = BufstreamArgs::augment_args(clap::Command::new("rift"));
    let m = cmd
        .try_get_matches_from(std::iter::once("rift").chain(args.iter().copied()))
        .unwrap();
    (BufstreamArgs::from_arg_matches(&m).unwrap(), m)
}

fn info(c: &LocalCluster) -> TestInfo {
    TestInfo {
        name: "bufstream-cluster-test".into(),
        nodes: c.nodes(),
        concurrency: 1,
        seed: 1,
        store_dir: PathBuf::from("/tmp"),
    }
}

/// `GET path` over HTTP/1.1 to `addr`: the whole response as text.
async fn http_get(addr: &str, path: &str) -> String {
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    let req = format!("GET {path} HTTP/1.1\r\nhost: {addr}\r\nconnection: close\r\n\r\n");
    s.write_all(req.as_bytes()).await.unwrap();
    let mut out = Vec::new();
    s.read_to_end(&mut out).await.unwrap();
    String::from_utf8_lossy(&out).into_owned()
}

/// Processes of the cluster's nodes whose command line contains `what`.
fn procs(c: &LocalCluster, what: &str) -> usize {
    c.status()
        .nodes
        .iter()
        .flat_map(|n| n.pids.clone())
        .filter(|p| {
            std::fs::read(format!("/proc/{p}/cmdline"))
                .map(|c| String::from_utf8_lossy(&c).contains(what))
                .unwrap_or(false)
        })
        .count()
}

#[test]
fn the_automation_runs_for_real_up_to_the_bufstream_binary() {
    let Some(_lock) = prerequisites("bufstream automation") else {
        return;
    };
    let (c, _scratch) = local('a');
    // A stand-in for the proprietary binary: it says what it was given and exits, as a
    // Bufstream that cannot start would.
    let dir = tempfile::tempdir().unwrap();
    let fake = dir.path().join("bufstream-stand-in");
    std::fs::write(&fake, "#!/bin/sh\necho \"stand-in got: $*\"\nexit 3\n").unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&fake, std::fs::Permissions::from_mode(0o755)).unwrap();
    // MinIO (the default store) when it can be had here, else s3s-fs, saying why.
    let store = match rift_bufstream_suite::store::ensure_minio(&rift_control::cache_dir()) {
        Ok(_) => "minio",
        Err(e) => {
            println!("MinIO cannot be had here ({e}); the store is s3s-fs");
            "s3s-fs"
        }
    };
    let args = [
        "--bin",
        fake.to_str().unwrap(),
        "--no-fetch-sync",
        "--s3-store",
        store,
    ];
    let (a, _m) = parse(&args);
    let place = Place::Local(c.clone());
    let cl = cluster(&a, &place).unwrap();
    let t = info(&c);
    let addr = |n: &str| c.address(n).unwrap().to_string();

    // The seed's roles, and every fault name of the seed resolved to the right nodes.
    assert_eq!(cl.roles[COORDINATION], ["n1"]);
    assert_eq!(cl.roles[STORAGE], ["n2"]);
    assert_eq!(cl.roles[BUFSTREAM], ["n3", "n4", "n5"]);
    let nodes_of = |name: &str| -> BTreeSet<String> {
        match fault_scope(name, &cl.roles)
            .unwrap_or_else(|| panic!("{name} unresolved"))
            .1
        {
            FaultScope::All => c.nodes().into_iter().collect(),
            FaultScope::Role(r) => cl.roles[&r].iter().cloned().collect(),
            FaultScope::Between(x, y) => {
                cl.roles[&x].iter().chain(&cl.roles[&y]).cloned().collect()
            }
        }
    };
    let set = |v: &[&str]| -> BTreeSet<String> { v.iter().map(|s| s.to_string()).collect() };
    for (name, want) in [
        ("kill-bufstream", &["n3", "n4", "n5"][..]),
        ("kill-storage", &["n2"]),
        ("kill-coordination", &["n1"]),
        ("pause-bufstream", &["n3", "n4", "n5"]),
        ("pause-storage", &["n2"]),
        ("pause-coordination", &["n1"]),
        ("clock-bufstream", &["n3", "n4", "n5"]),
        ("partition-bufstream", &["n3", "n4", "n5"]),
        (
            "partition-bufstream-coordination",
            &["n1", "n3", "n4", "n5"],
        ),
        ("partition-bufstream-storage", &["n2", "n3", "n4", "n5"]),
    ] {
        assert_eq!(nodes_of(name), set(want), "{name}");
    }
    // The plain names hit every role, as the seed reads them.
    let all = expand_faults(&set(&["kill", "pause", "clock", "partition"]));
    for f in &all {
        assert!(fault_scope(f, &cl.roles).is_some(), "{f}");
    }
    assert_eq!(all.len(), 12);
    // Clients opened on the etcd and store nodes go to Bufstream nodes.
    assert_eq!(cl.bootstrap["n1"], format!("{}:9092", addr("n3")));
    assert_eq!(cl.bootstrap["n2"], format!("{}:9092", addr("n4")));
    assert_eq!(cl.bootstrap["n3"], format!("{}:9092", addr("n3")));

    let rt = runtime();
    rt.block_on(async {
        let db = cl.db.clone();
        let mut set = tokio::task::JoinSet::new();
        for n in c.nodes() {
            let (db, t) = (db.clone(), t.clone());
            set.spawn(async move { (n.clone(), db.setup(&t, &n).await) });
        }
        let mut results = Vec::new();
        while let Some(r) = set.join_next().await {
            let (n, r) = r.unwrap();
            results.push((n, r.map_err(|e| e.to_string())));
        }
        results.sort();
        // etcd and the store come up; each Bufstream node runs the binary (after them) and
        // reports it with its log's tail.
        assert!(results[0].1.is_ok(), "n1: {:?}", results[0].1);
        assert!(results[1].1.is_ok(), "n2: {:?}", results[1].1);
        for (n, r) in &results[2..] {
            let e = r.as_ref().unwrap_err();
            assert!(
                e.contains(&format!("Bufstream on {n} exited before it served"))
                    && e.contains("stand-in got: serve -c ")
                    && e.contains(&format!("--config.name {n}")),
                "{n}: {e}"
            );
        }

        // etcd is up and healthy.
        let health = http_get(&format!("{}:2379", addr("n1")), "/health").await;
        assert!(health.contains("\"health\":\"true\""), "{health}");
        // The bucket exists and is writable through the S3 API.
        cl.s3
            .put(BUCKET, "rift/probe", b"written by rift")
            .await
            .unwrap();
        assert_eq!(
            cl.s3.get(BUCKET, "rift/probe").await.unwrap(),
            b"written by rift"
        );
        assert_eq!(cl.s3.list(BUCKET, "rift/").await.unwrap(), ["rift/probe"]);

        // Each Bufstream node's config carries its own address, etcd's and the store's.
        for n in ["n3", "n4", "n5"] {
            let y = std::fs::read_to_string(c.log_dir(n).unwrap().join("bufstream.yaml")).unwrap();
            assert!(
                y.contains(&format!("public_address:\n    host: {}\n", addr(n))),
                "{y}"
            );
            assert!(y.contains(&format!("    - host: {}\n      port: 2379\n", addr("n1"))));
            assert!(y.contains(&format!("endpoint: http://{}:9000\n", addr("n2"))));
            assert!(y.contains("  fetch_sync: false\n"));
        }

        // Faults reach the right processes: the store killed and started again.
        db.kill(&t, "n2").await.unwrap();
        assert!(!db.is_running(&t, "n2").await.unwrap());
        db.start(&t, "n2").await.unwrap();
        assert!(db.is_running(&t, "n2").await.unwrap());
        db.pause(&t, "n1").await.unwrap();
        db.resume(&t, "n1").await.unwrap();

        // Into the store: etcd's data and the bucket, as tarballs.
        let dest = tempfile::tempdir().unwrap();
        for (n, tarball) in [("n1", "data.tar.bz2"), ("n2", "bucket.tar.bz2")] {
            let d = dest.path().join(n);
            let failures = db.fetch_logs(&t, n, &d).await;
            assert!(failures.is_empty(), "{n}: {failures:?}");
            let meta = std::fs::metadata(d.join(tarball)).unwrap();
            assert!(meta.len() > 0, "{n}/{tarball} is empty");
        }
        let listing = std::process::Command::new("tar")
            .arg("tjf")
            .arg(dest.path().join("n2/bucket.tar.bz2"))
            .output()
            .unwrap();
        let listing = String::from_utf8_lossy(&listing.stdout);
        assert!(listing.contains("rift/probe"), "{listing}");

        for n in c.nodes() {
            db.teardown(&t, &n).await.unwrap();
        }
    });
    assert_eq!(procs(&c, "etcd"), 0);
    assert_eq!(procs(&c, "s3s-fs"), 0);
}

/// A `--minio-bin` that is not MinIO: the storage node's setup fails with its log's tail,
/// the Bufstream nodes fail naming it without running, and nothing is left running.
#[test]
fn a_store_that_will_not_start_is_named_and_stops_the_brokers() {
    let Some(_lock) = prerequisites("a store that will not start") else {
        return;
    };
    let (c, _scratch) = local('c');
    let dir = tempfile::tempdir().unwrap();
    use std::os::unix::fs::PermissionsExt;
    let mk = |name: &str, body: &str| {
        let p = dir.path().join(name);
        std::fs::write(&p, body).unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
        p.display().to_string()
    };
    let minio = mk(
        "not-minio",
        "#!/bin/sh\necho 'not a MinIO: unknown flag --address' >&2\nexit 2\n",
    );
    let bufstream = mk("bufstream", "#!/bin/sh\necho ran >> \"$0.ran\"\nsleep 60\n");
    let (a, _m) = parse(&["--bin", &bufstream, "--minio-bin", &minio]);
    let cl = cluster(&a, &Place::Local(c.clone())).unwrap();
    let t = info(&c);
    let rt = runtime();
    rt.block_on(async {
        let (r1, r2, r3) = tokio::join!(
            cl.db.setup(&t, "n1"),
            cl.db.setup(&t, "n2"),
            cl.db.setup(&t, "n3")
        );
        r1.unwrap();
        let e2 = r2.unwrap_err().to_string();
        assert!(
            e2.contains("MinIO on n2 exited before it served")
                && e2.contains("not a MinIO: unknown flag --address"),
            "{e2}"
        );
        let e3 = r3.unwrap_err().to_string();
        assert!(
            e3.contains("n3 not set up: it needs storage on n2, whose setup failed"),
            "{e3}"
        );
        assert!(!dir.path().join("bufstream.ran").exists());
        for n in c.nodes() {
            cl.db.teardown(&t, &n).await.unwrap();
        }
    });
    assert_eq!(procs(&c, "not-minio"), 0);
    assert_eq!(procs(&c, "etcd"), 0);
}

/// The full queue test against a real Bufstream: `RIFT_BUFSTREAM_BIN=/path/to/bufstream`.
#[test]
fn the_queue_workload_on_a_real_bufstream() {
    let Some(bin) = std::env::var_os("RIFT_BUFSTREAM_BIN").filter(|b| !b.is_empty()) else {
        println!(
            "skipped: set RIFT_BUFSTREAM_BIN to a Bufstream binary to run the queue workload on \
             it (Bufstream is proprietary: no registry ships it)"
        );
        return;
    };
    let Some(_lock) = prerequisites("the queue workload on Bufstream") else {
        return;
    };
    let (c, _scratch) = local('b');
    let bin = bin.to_string_lossy().into_owned();
    let (a, m) = parse(&["--bin", &bin, "-s", "--final-time-limit", "60"]);
    let store = tempfile::tempdir().unwrap();
    let mut common = Common::new("queue", c.nodes());
    common.concurrency = 6;
    common.seed = 1;
    common.time_limit = Duration::from_secs(60);
    common.rate_hz = 200.0;
    common.nemesis = "partition,kill".into();
    common.nemesis_interval_s = 5.0;
    common.run.store_root = store.path().to_path_buf();
    common.run.time_limit = Some(common.time_limit);
    let test = build_test(&a, &m, &common, &Place::Local(c.clone())).unwrap();
    println!("running {}", test.name);
    let out = rift_core::run(test).unwrap();
    println!(
        "{} ops, valid? {}; stored in {}",
        out.op_count,
        out.result.valid,
        out.dir.path().display()
    );
    let keep = store.keep();
    println!("kept {}", keep.display());
    assert_ne!(out.result.valid, Validity::Unknown, "no verdict");
}
