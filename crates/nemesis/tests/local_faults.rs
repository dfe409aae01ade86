//! Root-only tests of the nemesis on a real local cluster. Without root (or without nft, when
//! it cannot be installed) every test prints why it is skipped. Tests run one at a time (a
//! static lock) and each tears its cluster down in `Drop`.

use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use rift_control::testkit::{self, Scratch};
use rift_control::{await_tcp_port, is_root, start_daemon, DaemonSpec, LocalCluster};
use rift_core::{Db, Nemesis, PlugResult, RiftError, TestInfo};
use rift_history::{Op, OpType, Process, Value};
use rift_nemesis::{check_nft, Backend, Firewall, Grudge, LocalNemesis, NodeRules};

static SERIAL: Mutex<()> = Mutex::new(());

const PORT: u16 = 7100;

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// The lock, or `None` (after printing why) when the test cannot run here.
fn prerequisites(test: &str) -> Option<MutexGuard<'static, ()>> {
    if !is_root() {
        println!("skipped: needs root ({test} builds network namespaces and nft rules)");
        return None;
    }
    let lock = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    if runtime().block_on(check_nft()).is_err() {
        let _ = std::process::Command::new("apt-get")
            .args(["install", "-y", "-q", "nftables"])
            .output();
        if runtime().block_on(check_nft()).is_err() {
            println!("skipped: {test} needs nft and `apt-get install nftables` failed");
            return None;
        }
    }
    Some(lock)
}

fn cluster(tag: char, nodes: usize) -> (Arc<LocalCluster>, Scratch) {
    let prefix = format!("rn{}{tag}-", std::process::id() % 100_000);
    let scratch = testkit::scratch(&prefix, nodes).unwrap();
    (
        Arc::new(LocalCluster::up(&scratch.config).unwrap()),
        scratch,
    )
}

fn info(cluster: &LocalCluster) -> TestInfo {
    TestInfo {
        name: "nemesis-test".into(),
        nodes: cluster.nodes(),
        concurrency: 1,
        seed: 42,
        store_dir: PathBuf::from("/tmp"),
    }
}

fn echo_spec() -> DaemonSpec {
    testkit::echo_daemon(PORT)
}

async fn start_echo(cluster: &LocalCluster, node: &str) {
    testkit::start_echo(cluster, node, PORT).await.unwrap();
}

/// Whether `from` gets an echo from `to` (by name) within 1 s.
async fn echoes(cluster: &LocalCluster, from: &str, to: &str) -> bool {
    testkit::echoes(cluster, from, to, PORT).await.unwrap()
}

fn nemesis_op(f: &str, value: Value) -> Op {
    Op::new(OpType::Invoke, Process::Nemesis, Value::kw(f), value)
}

fn strs(v: &[&str]) -> Value {
    Value::Vector(v.iter().map(|s| Value::str(s)).collect())
}

async fn assert_no_tables(nem: &LocalNemesis, cluster: &LocalCluster) {
    for node in cluster.nodes() {
        assert!(
            !nem.firewall().has_table(&node).await.unwrap(),
            "table inet rift left on {node}"
        );
    }
}

#[test]
fn partitions_cut_and_heal() {
    let Some(_lock) = prerequisites("partitions_cut_and_heal") else {
        return;
    };
    let (cluster, guard) = cluster('p', 5);
    let test = info(&cluster);
    runtime().block_on(async {
        for node in cluster.nodes() {
            start_echo(&cluster, &node).await;
        }
        let mut nem = LocalNemesis::new(cluster.clone(), 42);
        nem.setup(&test).await.unwrap();
        let comps = Value::Vector(vec![strs(&["n1", "n2"]), strs(&["n3", "n4", "n5"])]);
        let done = nem
            .invoke(&test, &nemesis_op("start-partition", comps))
            .await
            .unwrap();
        assert_eq!(done.ty, OpType::Info);
        assert_eq!(done.f, Value::kw("start-partition"));
        let grudge = &done.value.as_seq().unwrap()[1];
        assert_eq!(done.value.as_seq().unwrap()[0], Value::kw("isolated"));
        assert_eq!(grudge.get("n1").unwrap().as_seq().unwrap().len(), 3);
        assert!(nem.firewall().has_table("n1").await.unwrap());
        for (from, to, ok) in [
            ("n1", "n2", true),
            ("n4", "n5", true),
            ("n3", "n4", true),
            ("n1", "n3", false),
            ("n3", "n1", false),
            ("n5", "n2", false),
        ] {
            assert_eq!(echoes(&cluster, from, to).await, ok, "{from} -> {to}");
        }
        let healed = nem
            .invoke(&test, &nemesis_op("stop-partition", Value::Nil))
            .await
            .unwrap();
        assert_eq!(healed.value, Value::kw("network-healed"));
        assert_no_tables(&nem, &cluster).await;
        assert!(echoes(&cluster, "n1", "n3").await, "heal restores n1 -> n3");
        assert!(echoes(&cluster, "n5", "n2").await, "heal restores n5 -> n2");

        // Named grudges; time apply + heal on 5 nodes.
        for name in [
            "one",
            "majority",
            "majorities-ring",
            "minority-third",
            "bridge",
        ] {
            let t0 = Instant::now();
            let done = nem
                .invoke(&test, &nemesis_op("start-partition", Value::kw(name)))
                .await
                .unwrap();
            let applied = t0.elapsed();
            nem.invoke(&test, &nemesis_op("stop-partition", Value::Nil))
                .await
                .unwrap();
            println!(
                "partition {name}: apply {:.1} ms, apply+heal {:.1} ms on 5 nodes; {}",
                applied.as_secs_f64() * 1e3,
                t0.elapsed().as_secs_f64() * 1e3,
                done.value
            );
        }
        let lonely = nem
            .invoke(&test, &nemesis_op("start-partition", Value::kw("one")))
            .await
            .unwrap();
        let g = lonely.value.as_seq().unwrap()[1].clone();
        let victim = g
            .as_map()
            .unwrap()
            .iter()
            .find(|(_, s)| s.as_seq().unwrap().len() == 4)
            .map(|(k, _)| k.as_name().unwrap().to_string())
            .unwrap();
        let other = if victim == "n1" { "n2" } else { "n1" };
        assert!(!echoes(&cluster, other, &victim).await, "{victim} isolated");
        nem.teardown(&test).await.unwrap();
        assert_no_tables(&nem, &cluster).await;
        assert!(echoes(&cluster, other, &victim).await, "teardown heals");
    });
    drop(guard);
}

#[test]
fn packet_loss_blocks_and_heals() {
    let Some(_lock) = prerequisites("packet_loss_blocks_and_heals") else {
        return;
    };
    let (cluster, guard) = cluster('l', 3);
    let test = info(&cluster);
    runtime().block_on(async {
        for node in cluster.nodes() {
            start_echo(&cluster, &node).await;
        }
        let mut nem = LocalNemesis::new(cluster.clone(), 1);
        nem.setup(&test).await.unwrap();
        let loss = |p: i64| {
            Value::Map(vec![
                (Value::kw("nodes"), strs(&["n2"])),
                (
                    Value::kw("behaviour"),
                    Value::Map(vec![(
                        Value::kw("loss"),
                        Value::Map(vec![(Value::kw("percent"), Value::Int(p))]),
                    )]),
                ),
            ])
        };
        // Partial loss goes through nft's numgen (rules accepted, table present).
        let half = nem
            .invoke(&test, &nemesis_op("start-packet", loss(50)))
            .await
            .unwrap();
        assert_eq!(half.value.get("nodes"), Some(&strs(&["n2"])));
        assert!(nem.firewall().has_table("n2").await.unwrap());
        assert!(!nem.firewall().has_table("n1").await.unwrap());
        assert_eq!(nem.firewall().rules("n2").loss_percent, 50);
        let done = nem
            .invoke(&test, &nemesis_op("start-packet", loss(100)))
            .await
            .unwrap();
        assert_eq!(done.value.get("loss-percent"), Some(&Value::Int(100)));
        assert!(!echoes(&cluster, "n1", "n2").await, "100% loss on n2");
        assert!(!echoes(&cluster, "n2", "n3").await, "100% loss from n2");
        assert!(echoes(&cluster, "n1", "n3").await, "n1 -> n3 unaffected");
        assert!(echoes(&cluster, "n2", "n2").await, "loopback unaffected");
        let stop = nem
            .invoke(&test, &nemesis_op("stop-packet", Value::Nil))
            .await
            .unwrap();
        assert_eq!(stop.value, Value::kw("packet-healed"));
        assert!(echoes(&cluster, "n1", "n2").await, "stop-packet restores");
        assert_no_tables(&nem, &cluster).await;

        let delay = Value::Map(vec![(
            Value::kw("behaviour"),
            Value::Map(vec![(
                Value::kw("delay"),
                Value::Map(vec![(Value::kw("time"), Value::Int(50))]),
            )]),
        )]);
        // This kernel has no sch_netem: the probe says so, and leaves no qdisc behind. On a
        // kernel with it, the delay applies and stop-packet removes it.
        match nem.invoke(&test, &nemesis_op("start-packet", delay)).await {
            Err(err) => {
                assert_eq!(err.kind, "unsupported");
                assert!(err.message.contains("sch_netem"), "{err}");
            }
            Ok(done) => {
                assert_eq!(done.value.get("netem"), Some(&Value::str("delay 50ms")));
                nem.invoke(&test, &nemesis_op("stop-packet", Value::Nil))
                    .await
                    .unwrap();
            }
        }
        let ns = cluster.state().node("n1").unwrap().namespace.clone();
        let qdisc = std::process::Command::new("ip")
            .args(["netns", "exec", &ns, "tc", "qdisc", "show", "dev", "eth0"])
            .output()
            .unwrap();
        assert!(
            !String::from_utf8_lossy(&qdisc.stdout).contains("netem"),
            "a netem qdisc was left"
        );

        nem.invoke(&test, &nemesis_op("start-packet", loss(100)))
            .await
            .unwrap();
        nem.teardown(&test).await.unwrap();
        assert_no_tables(&nem, &cluster).await;
        assert!(echoes(&cluster, "n1", "n2").await, "teardown heals loss");
    });
    drop(guard);
}

/// A db whose `start` restarts the echo server.
struct EchoDb(Arc<LocalCluster>);

#[async_trait]
impl Db for EchoDb {
    async fn setup(&self, _test: &TestInfo, _node: &str) -> PlugResult<()> {
        Ok(())
    }
    async fn teardown(&self, _test: &TestInfo, _node: &str) -> PlugResult<()> {
        Ok(())
    }
    async fn start(&self, _test: &TestInfo, node: &str) -> PlugResult<()> {
        let err = |e: rift_control::ControlError| RiftError::new("start", e.to_string());
        start_daemon(&*self.0, node, &echo_spec())
            .await
            .map_err(err)?;
        await_tcp_port(&*self.0, node, PORT, Duration::from_secs(10))
            .await
            .map_err(err)
    }
}

#[test]
fn kill_start_pause_resume() {
    let Some(_lock) = prerequisites("kill_start_pause_resume") else {
        return;
    };
    let (cluster, guard) = cluster('k', 3);
    let test = info(&cluster);
    runtime().block_on(async {
        for node in cluster.nodes() {
            start_echo(&cluster, &node).await;
        }
        let mut nem =
            LocalNemesis::new(cluster.clone(), 3).with_db(Arc::new(EchoDb(cluster.clone())));
        nem.setup(&test).await.unwrap();
        let killed = nem
            .invoke(&test, &nemesis_op("kill", strs(&["n2"])))
            .await
            .unwrap();
        assert_eq!(
            killed.value,
            Value::Map(vec![(Value::str("n2"), Value::kw("killed"))])
        );
        assert!(cluster.node_pids("n2").unwrap().is_empty());
        assert!(!echoes(&cluster, "n1", "n2").await, "killed n2 answers");
        assert!(echoes(&cluster, "n1", "n3").await);
        let started = nem
            .invoke(&test, &nemesis_op("start", strs(&["n2"])))
            .await
            .unwrap();
        assert_eq!(
            started.value,
            Value::Map(vec![(Value::str("n2"), Value::kw("started"))])
        );
        assert!(echoes(&cluster, "n1", "n2").await, "restarted n2 answers");

        let paused = nem
            .invoke(&test, &nemesis_op("pause", strs(&["n3"])))
            .await
            .unwrap();
        assert_eq!(
            paused.value,
            Value::Map(vec![(Value::str("n3"), Value::kw("paused"))])
        );
        assert!(!echoes(&cluster, "n1", "n3").await, "paused n3 answers");
        // nft runs outside the node's cgroup: a paused node can be partitioned and healed.
        let t0 = Instant::now();
        let cut = Value::Vector(vec![strs(&["n3"]), strs(&["n1", "n2"])]);
        nem.invoke(&test, &nemesis_op("start-partition", cut))
            .await
            .unwrap();
        assert!(nem.firewall().has_table("n3").await.unwrap());
        nem.invoke(&test, &nemesis_op("stop-partition", Value::Nil))
            .await
            .unwrap();
        // Not blocked by the frozen node (generous bound: the machine is shared).
        assert!(t0.elapsed() < Duration::from_secs(20), "{:?}", t0.elapsed());
        let resumed = nem
            .invoke(&test, &nemesis_op("resume", Value::Nil))
            .await
            .unwrap();
        assert_eq!(resumed.value.as_map().unwrap().len(), 3);
        assert!(echoes(&cluster, "n1", "n3").await, "resumed n3 answers");

        nem.invoke(&test, &nemesis_op("pause", Value::kw("one")))
            .await
            .unwrap();
        nem.teardown(&test).await.unwrap();
        for node in ["n1", "n2", "n3"] {
            assert!(
                echoes(&cluster, node, node).await,
                "teardown resumes {node}"
            );
        }

        let err = LocalNemesis::new(cluster.clone(), 3)
            .invoke(&test, &nemesis_op("start", Value::Nil))
            .await
            .unwrap_err();
        assert_eq!(err.kind, "nemesis");
        assert!(err.message.contains("no db given"), "{err}");
    });
    drop(guard);
}

#[test]
fn bitflip_and_truncate_on_node_files() {
    let Some(_lock) = prerequisites("bitflip_and_truncate_on_node_files") else {
        return;
    };
    let (cluster, guard) = cluster('f', 3);
    let test = info(&cluster);
    runtime().block_on(async {
        let path = cluster.data_dir("n2").unwrap().join("wal");
        std::fs::write(&path, vec![0u8; 1000]).unwrap();
        let mut nem = LocalNemesis::new(cluster.clone(), 9);
        let spec = |k: &str, v: Value| {
            Value::Map(vec![(
                Value::str("n2"),
                Value::Map(vec![
                    (Value::kw("file"), Value::str("data/wal")),
                    (Value::kw(k), v),
                ]),
            )])
        };
        let done = nem
            .invoke(
                &test,
                &nemesis_op("bitflip", spec("probability", Value::Float(0.01))),
            )
            .await
            .unwrap();
        let flipped = done.value.get("n2").unwrap().get("flipped-bits").unwrap();
        let ones: u64 = std::fs::read(&path)
            .unwrap()
            .iter()
            .map(|b| b.count_ones() as u64)
            .sum();
        assert_eq!(Value::from(ones), *flipped);
        assert!(ones > 0);
        let cut = nem
            .invoke(
                &test,
                &nemesis_op("truncate", spec("drop", Value::Int(100))),
            )
            .await
            .unwrap();
        assert_eq!(
            cut.value.get("n2").unwrap().get("after"),
            Some(&Value::Int(900))
        );
        assert_eq!(std::fs::metadata(&path).unwrap().len(), 900);
    });
    drop(guard);
}

/// iptables in the node's namespace, or None with a printed reason.
fn iptables_in(cluster: &LocalCluster, node: &str, args: &[&str]) -> std::process::Output {
    let ns = cluster.state().node(node).unwrap().namespace.clone();
    std::process::Command::new("ip")
        .args(["netns", "exec", &ns, "iptables", "-w"])
        .args(args)
        .output()
        .unwrap()
}

#[test]
fn iptables_fallback_cuts_heals_and_leaves_other_rules_alone() {
    let Some(_lock) = prerequisites("iptables_fallback_cuts_heals_and_leaves_other_rules_alone")
    else {
        return;
    };
    if std::process::Command::new("iptables")
        .arg("--version")
        .output()
        .is_err()
    {
        println!("skipped: iptables_fallback needs iptables (apt-get install iptables)");
        return;
    }
    let (cluster, _guard) = cluster('i', 3);
    runtime().block_on(async {
        for node in cluster.nodes() {
            start_echo(&cluster, &node).await;
        }
        // Someone else's rule: it must survive our partitions and heals.
        let marker = ["INPUT", "-s", "10.99.99.99", "-j", "ACCEPT"];
        let mut add = vec!["-A"];
        add.extend(marker);
        assert!(iptables_in(&cluster, "n1", &add).status.success());
        let mut fw = Firewall::new(cluster.clone());
        fw.set_backend(Backend::Iptables);
        let n = |s: &str| s.to_string();
        fw.partition(&Grudge::complete(&[vec![n("n1")], vec![n("n2"), n("n3")]]))
            .await
            .unwrap();
        assert_eq!(fw.rules("n1").drop_peers.len(), 2);
        assert!(fw.has_table("n1").await.unwrap());
        assert!(!echoes(&cluster, "n2", "n1").await, "n1 cut off");
        assert!(!echoes(&cluster, "n1", "n3").await, "n1 cut off");
        assert!(echoes(&cluster, "n2", "n3").await, "n2 and n3 together");
        // Replacing the partition rewrites the chains (no duplicate jumps).
        fw.partition(&Grudge::complete(&[vec![n("n1"), n("n2")], vec![n("n3")]]))
            .await
            .unwrap();
        assert!(echoes(&cluster, "n2", "n1").await);
        assert!(!echoes(&cluster, "n1", "n3").await);
        let jumps = String::from_utf8_lossy(&iptables_in(&cluster, "n1", &["-S", "INPUT"]).stdout)
            .matches("-j RIFT-INPUT")
            .count();
        assert_eq!(jumps, 1);
        fw.heal_all().await.unwrap();
        assert!(echoes(&cluster, "n1", "n3").await, "healed");
        for node in cluster.nodes() {
            assert!(
                !fw.has_table(&node).await.unwrap(),
                "RIFT chains left on {node}"
            );
        }
        let mut check = vec!["-C"];
        check.extend(marker);
        assert!(
            iptables_in(&cluster, "n1", &check).status.success(),
            "the foreign rule was removed"
        );
        assert_eq!(fw.rules("n2"), NodeRules::default());
    });
}
