//! Kafka on a real local cluster (root only; each test prints why it is skipped otherwise:
//! not root, no Java or Maven to get Kafka). Tests run one at a time; each cluster is torn
//! down in Drop, and each test checks that no JVM is left.

use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use rift_control::testkit::{self, Scratch};
use rift_control::{is_root, LocalCluster};
use rift_core::{Db, TestInfo};
use rift_kafka_suite::{KafkaDb, KafkaDbOptions};

static SERIAL: Mutex<()> = Mutex::new(());

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

fn prerequisites(test: &str) -> Option<MutexGuard<'static, ()>> {
    if !is_root() {
        println!("skipped: needs root ({test} builds network namespaces)");
        return None;
    }
    let lock = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    if let Err(e) = rift_kafka_suite::dist::ensure_java() {
        println!("skipped: {test}: {e}");
        return None;
    }
    Some(lock)
}

fn cluster(tag: char, nodes: usize) -> (Arc<LocalCluster>, Scratch) {
    let prefix = format!("rk{}{tag}-", std::process::id() % 100_000);
    let scratch = testkit::scratch(&prefix, nodes).unwrap();
    (
        Arc::new(LocalCluster::up(&scratch.config).unwrap()),
        scratch,
    )
}

fn info(cluster: &LocalCluster) -> TestInfo {
    TestInfo {
        name: "kafka-db-test".into(),
        nodes: cluster.nodes(),
        concurrency: 1,
        seed: 1,
        store_dir: PathBuf::from("/tmp"),
    }
}

/// How many `kafka.Kafka` JVMs run on the cluster's nodes.
fn jvms(cluster: &LocalCluster) -> usize {
    cluster
        .status()
        .nodes
        .iter()
        .map(|n| {
            n.pids
                .iter()
                .filter(|p| {
                    std::fs::read(format!("/proc/{p}/cmdline"))
                        .map(|c| String::from_utf8_lossy(&c).contains("kafka.Kafka"))
                        .unwrap_or(false)
                })
                .count()
        })
        .sum()
}

async fn setup_all(db: &Arc<KafkaDb>, test: &TestInfo) -> Vec<(String, Result<(), String>)> {
    let mut set = tokio::task::JoinSet::new();
    for node in test.nodes.clone() {
        let (db, test) = (db.clone(), test.clone());
        set.spawn(async move {
            let r = db.setup(&test, &node).await.map_err(|e| e.to_string());
            (node, r)
        });
    }
    let mut out = Vec::new();
    while let Some(r) = set.join_next().await {
        out.push(r.unwrap());
    }
    out.sort();
    out
}

#[test]
fn five_nodes_come_up_restart_after_a_kill_and_leave_nothing() {
    let Some(_lock) = prerequisites("five_nodes_come_up") else {
        return;
    };
    let (cluster, _scratch) = cluster('a', 5);
    let db =
        Arc::new(KafkaDb::on_local_cluster(cluster.clone(), KafkaDbOptions::default(), 1).unwrap());
    let test = info(&cluster);
    let rt = runtime();
    rt.block_on(async {
        // The jars first (cached after the first run), so the timing is the cluster's own.
        db.dist().await.unwrap();
        let t = Instant::now();
        let results = setup_all(&db, &test).await;
        println!("5 Kafka nodes ready in {:.1} s", t.elapsed().as_secs_f64());
        for (node, r) in &results {
            assert!(r.is_ok(), "{node}: {r:?}");
        }
        assert_eq!(jvms(&cluster), 5);
        assert!(db.is_running(&test, "n4").await.unwrap());
        db.kill(&test, "n4").await.unwrap();
        assert!(!db.is_running(&test, "n4").await.unwrap());
        assert_eq!(jvms(&cluster), 4);
        db.start(&test, "n4").await.unwrap();
        assert!(db.is_running(&test, "n4").await.unwrap());
        // Starting a running node does nothing.
        db.start(&test, "n4").await.unwrap();
        assert_eq!(jvms(&cluster), 5);
        let dest = tempfile::tempdir().unwrap();
        let failures = db.fetch_logs(&test, "n1", dest.path()).await;
        assert!(failures.is_empty(), "{failures:?}");
        let log = std::fs::read_to_string(dest.path().join("kafka.log")).unwrap();
        assert!(log.contains("Kafka Server started"), "{log}");
        let props = std::fs::read_to_string(dest.path().join("server.properties")).unwrap();
        assert!(props.contains("process.roles=broker,controller"));
        for node in &test.nodes {
            db.teardown(&test, node).await.unwrap();
        }
    });
    assert_eq!(jvms(&cluster), 0);
}

#[test]
fn a_broker_that_will_not_start_is_named_with_its_log() {
    let Some(_lock) = prerequisites("a_broker_that_will_not_start") else {
        return;
    };
    let (cluster, _scratch) = cluster('b', 1);
    let opts = KafkaDbOptions {
        replication_factor: 1,
        min_insync_replicas: 1,
        controllers: 1,
        // A setting Kafka refuses at start-up (after the storage tool accepted the file).
        extra_config: vec![("num.network.threads".into(), "0".into())],
        ..KafkaDbOptions::default()
    };
    let db = Arc::new(KafkaDb::on_local_cluster(cluster.clone(), opts, 1).unwrap());
    let test = info(&cluster);
    let rt = runtime();
    let results = rt.block_on(setup_all(&db, &test));
    let (node, r) = &results[0];
    let e = r.as_ref().unwrap_err();
    assert_eq!(node, "n1");
    // Kafka's storage tool already refuses the configuration: the error names the node and
    // carries Kafka's own reason.
    assert!(e.contains("on n1"), "{e}");
    assert!(
        e.contains("num.network.threads"),
        "the output's tail should say why: {e}"
    );
    rt.block_on(db.teardown(&test, "n1")).unwrap();
    assert_eq!(jvms(&cluster), 0);
}
