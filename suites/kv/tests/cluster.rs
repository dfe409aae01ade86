//! rift-kv on a real local cluster, faults applied from outside (root only; each test prints
//! why it is skipped otherwise). Tests run one at a time and tear their cluster down in Drop.

use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};

use rift_control::testkit::{self, Scratch};
use rift_control::{is_root, LocalCluster};
use rift_core::{Client, Db, TestInfo};
use rift_history::{Op, OpType, Process, Value};
use rift_kv::{KvClient, KvDb, KvWorkload, ReadMode};
use rift_nemesis::{check_nft, Firewall, Grudge};

static SERIAL: Mutex<()> = Mutex::new(());

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

fn prerequisites(test: &str) -> Option<MutexGuard<'static, ()>> {
    if !is_root() {
        println!("skipped: needs root ({test} builds network namespaces and nft rules)");
        return None;
    }
    let lock = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    if runtime().block_on(check_nft()).is_err() {
        println!("skipped: {test} needs nft (apt-get install nftables)");
        return None;
    }
    Some(lock)
}

fn cluster(tag: char) -> (Arc<LocalCluster>, Scratch) {
    let prefix = format!("rk{}{tag}-", std::process::id() % 100_000);
    let scratch = testkit::scratch(&prefix, 3).unwrap();
    (
        Arc::new(LocalCluster::up(&scratch.config).unwrap()),
        scratch,
    )
}

fn info(cluster: &LocalCluster) -> TestInfo {
    TestInfo {
        name: "kv-test".into(),
        nodes: cluster.nodes(),
        concurrency: 3,
        seed: 1,
        store_dir: PathBuf::from("/tmp"),
    }
}

fn server() -> Vec<String> {
    vec![env!("CARGO_BIN_EXE_rift-kvd").to_string()]
}

fn op(f: &str, k: i64, v: Value) -> Op {
    Op::new(
        OpType::Invoke,
        Process::Client(0),
        Value::kw(f),
        Value::Vector(vec![Value::Int(k), v]),
    )
}

struct Kv {
    db: Arc<KvDb>,
    template: KvClient,
    test: TestInfo,
}

impl Kv {
    async fn up(cluster: &Arc<LocalCluster>, reads: ReadMode) -> Kv {
        let db = Arc::new(KvDb::on_local_cluster(cluster.clone(), server(), reads).unwrap());
        let test = info(cluster);
        for n in cluster.nodes() {
            db.setup(&test, &n).await.unwrap();
        }
        let template = KvClient::new(db.client_addresses(), KvWorkload::Register);
        Kv { db, template, test }
    }

    /// Invokes `f [k v]` on a fresh client of `node`: the completion, or the error text.
    async fn call(&self, node: &str, f: &str, k: i64, v: Value) -> Result<Op, String> {
        let mut c = self
            .template
            .open(&self.test, node)
            .await
            .map_err(|e| e.to_string())?;
        c.invoke(&self.test, &op(f, k, v))
            .await
            .map_err(|e| e.to_string())
    }

    async fn read(&self, node: &str, k: i64) -> Value {
        let done = self.call(node, "read", k, Value::Nil).await.unwrap();
        assert_eq!(done.ty, OpType::Ok, "{done:?}");
        done.value.as_seq().unwrap()[1].clone()
    }

    async fn down(&self) {
        for n in &self.test.nodes {
            self.db.teardown(&self.test, n).await.unwrap();
        }
    }
}

#[test]
fn replicas_forward_and_faults_bite() {
    let Some(_lock) = prerequisites("replicas_forward_and_faults_bite") else {
        return;
    };
    let (cluster, _guard) = cluster('f');
    runtime().block_on(async {
        let kv = Kv::up(&cluster, ReadMode::Primary).await;
        let w = kv.call("n2", "write", 1, Value::Int(3)).await.unwrap();
        assert_eq!(w.ty, OpType::Ok);
        assert_eq!(kv.read("n3", 1).await, Value::Int(3));
        let cas = kv.call("n3", "cas", 1, Value::Vector(vec![4.into(), 5.into()]));
        let cas = cas.await.unwrap();
        assert_eq!(cas.ty, OpType::Fail, "cas 4->5 on 3 must fail: {cas:?}");
        assert_eq!(cas.error, Some(Value::kw("cas-mismatch")));

        // Cut n2 off from the primary: n2 cannot complete a write.
        let mut fw = Firewall::new(cluster.clone());
        let n = |s: &str| s.to_string();
        fw.partition(&Grudge::complete(&[vec![n("n1"), n("n3")], vec![n("n2")]]))
            .await
            .unwrap();
        match kv.call("n2", "write", 1, Value::Int(4)).await {
            Ok(done) => assert_eq!(done.ty, OpType::Fail, "{done:?}"),
            Err(e) => assert!(e.contains("primary"), "{e}"),
        }
        assert_eq!(
            kv.read("n3", 1).await,
            Value::Int(3),
            "n3 still sees the primary"
        );
        fw.heal_all().await.unwrap();

        // Kill the primary: nothing completes; start it again: the log kept the value.
        kv.db.kill(&kv.test, "n1").await.unwrap();
        assert!(kv.call("n1", "read", 1, Value::Nil).await.is_err());
        let r = kv.call("n2", "read", 1, Value::Nil).await.unwrap();
        assert_eq!(r.ty, OpType::Fail, "{r:?}");
        kv.db.start(&kv.test, "n1").await.unwrap();
        assert_eq!(kv.read("n2", 1).await, Value::Int(3));

        // Pause the primary: a write through a replica cannot be known to have happened.
        kv.db.pause(&kv.test, "n1").await.unwrap();
        let paused = kv.call("n3", "write", 1, Value::Int(2)).await;
        assert!(paused.is_err(), "indeterminate, got {paused:?}");
        kv.db.resume(&kv.test, "n1").await.unwrap();
        kv.down().await;
    });
    assert!(cluster.node_pids("n1").unwrap().is_empty());
}

#[test]
fn local_reads_are_stale_behind_a_partition() {
    let Some(_lock) = prerequisites("local_reads_are_stale_behind_a_partition") else {
        return;
    };
    let (cluster, _guard) = cluster('s');
    runtime().block_on(async {
        let kv = Kv::up(&cluster, ReadMode::Local).await;
        kv.call("n2", "write", 7, Value::Int(1)).await.unwrap();
        // Replication is asynchronous: wait until n3 has caught up.
        let mut seen = Value::Nil;
        for _ in 0..100 {
            seen = kv.read("n3", 7).await;
            if seen == Value::Int(1) {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        assert_eq!(seen, Value::Int(1));
        let mut fw = Firewall::new(cluster.clone());
        let n = |s: &str| s.to_string();
        fw.partition(&Grudge::complete(&[vec![n("n1"), n("n2")], vec![n("n3")]]))
            .await
            .unwrap();
        let w = kv.call("n2", "write", 7, Value::Int(2)).await.unwrap();
        assert_eq!(w.ty, OpType::Ok);
        assert_eq!(kv.read("n1", 7).await, Value::Int(2));
        assert_eq!(
            kv.read("n3", 7).await,
            Value::Int(1),
            "n3 answers from its stale copy"
        );
        fw.heal_all().await.unwrap();
        kv.down().await;
    });
}

/// Polls `cond` every 50 ms for up to 10 s (a generous bound, not a timing claim).
async fn eventually(mut cond: impl AsyncFnMut() -> bool) -> bool {
    for _ in 0..200 {
        if cond().await {
            return true;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    false
}

#[test]
fn the_watchdog_restarts_crashes_but_not_nemesis_kills() {
    let Some(_lock) = prerequisites("the_watchdog_restarts_crashes_but_not_nemesis_kills") else {
        return;
    };
    let (cluster, _guard) = cluster('w');
    runtime().block_on(async {
        let kv = Kv::up(&cluster, ReadMode::Primary).await;
        let db: Arc<dyn Db> = kv.db.clone();
        let test = Arc::new(kv.test.clone());
        let w = rift_core::Watchdog::new(std::time::Duration::from_millis(100));
        let task = tokio::spawn(w.clone().run(db.clone(), test.clone()));
        // A crash nobody asked for: every process of n2 dies.
        cluster.kill_node("n2").unwrap();
        assert!(
            eventually(async || db.is_running(&test, "n2").await.unwrap()).await,
            "the watchdog never restarted n2"
        );
        // n2 runs as soon as it is launched; the watchdog counts the restart once `start`
        // has returned (it waits for the port), so wait for the count, then check it is one.
        eventually(async || w.restarts().contains_key("n2")).await;
        assert_eq!(w.restarts().get("n2"), Some(&1));
        // A kill on purpose: suppressed, n3 stays down until released.
        w.suppress("n3");
        db.kill(&test, "n3").await.unwrap();
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
        assert!(
            !db.is_running(&test, "n3").await.unwrap(),
            "restarted a killed node"
        );
        w.release("n3");
        assert!(eventually(async || db.is_running(&test, "n3").await.unwrap()).await);
        task.abort();
        let _ = task.await;
        assert_eq!(kv.read("n2", 1).await, Value::Nil, "n2 serves again");
        kv.down().await;
    });
}
