//! The nemesis over SSH, against real `sshd`s: one in each node of a local cluster, so that
//! every fault travels the SSH path real machines use (nft run by the remote shell, kill and
//! pause through the db). Root only; prints why it is skipped otherwise.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use rift_control::testkit;
use rift_control::{
    await_tcp_port, is_root, start_daemon, stop_daemon, DaemonSpec, LocalCluster, Remote, Signal,
    SshConfig, SshRemote,
};
use rift_core::{Db, Nemesis, PlugResult, RiftError, TestInfo};
use rift_history::{Op, OpType, Process, Value};
use rift_nemesis::{check_nft, LocalNemesis};

const SSHD: &str = "/usr/sbin/sshd";
const SSH_PORT: u16 = 2222;
const ECHO_PORT: u16 = 7300;

fn sh(script: &str) -> bool {
    std::process::Command::new("sh")
        .args(["-c", script])
        .status()
        .is_ok_and(|s| s.success())
}

fn sshd_config(dir: &Path) -> PathBuf {
    let d = dir.display();
    assert!(sh(&format!(
        "ssh-keygen -q -t ed25519 -N '' -f {d}/id_ed25519 && \
         ssh-keygen -q -t ed25519 -N '' -f {d}/host_ed25519 && \
         cp {d}/id_ed25519.pub {d}/authorized_keys && mkdir -p /run/sshd"
    )));
    let config = dir.join("sshd_config");
    std::fs::write(
        &config,
        format!(
            "Port {SSH_PORT}\nHostKey {d}/host_ed25519\nAuthorizedKeysFile {d}/authorized_keys\n\
             PermitRootLogin prohibit-password\nPasswordAuthentication no\nUsePAM no\n\
             StrictModes no\nPidFile none\n"
        ),
    )
    .unwrap();
    config
}

/// The echo server as a db reached over SSH: absolute per-node paths (SSH sessions of every
/// node share this machine's file system).
struct EchoDb {
    remote: Arc<dyn Remote>,
    dirs: BTreeMap<String, PathBuf>,
}

impl EchoDb {
    fn spec(&self, node: &str) -> DaemonSpec {
        let d = self.dirs[node].display().to_string();
        DaemonSpec {
            bin: "python3".into(),
            args: vec![format!("{d}/echo.py"), ECHO_PORT.to_string()],
            pidfile: format!("{d}/echo.pid"),
            logfile: format!("{d}/log/echo.log"),
            chdir: Some(d),
            env: vec![],
        }
    }
}

fn err(e: rift_control::ControlError) -> RiftError {
    RiftError::new("control", e.to_string())
}

#[async_trait]
impl Db for EchoDb {
    async fn setup(&self, _t: &TestInfo, _n: &str) -> PlugResult<()> {
        Ok(())
    }
    async fn teardown(&self, _t: &TestInfo, _n: &str) -> PlugResult<()> {
        Ok(())
    }
    async fn kill(&self, _t: &TestInfo, node: &str) -> PlugResult<()> {
        let pf = self.spec(node).pidfile;
        stop_daemon(&*self.remote, node, &pf, Signal::Kill)
            .await
            .map(|_| ())
            .map_err(err)
    }
    async fn start(&self, _t: &TestInfo, node: &str) -> PlugResult<()> {
        start_daemon(&*self.remote, node, &self.spec(node))
            .await
            .map_err(err)?;
        await_tcp_port(&*self.remote, node, ECHO_PORT, Duration::from_secs(10))
            .await
            .map_err(err)
    }
    async fn pause(&self, _t: &TestInfo, node: &str) -> PlugResult<()> {
        let pf = self.spec(node).pidfile;
        stop_daemon(&*self.remote, node, &pf, Signal::Stop)
            .await
            .map(|_| ())
            .map_err(err)
    }
    async fn resume(&self, _t: &TestInfo, node: &str) -> PlugResult<()> {
        let pf = self.spec(node).pidfile;
        stop_daemon(&*self.remote, node, &pf, Signal::Cont)
            .await
            .map(|_| ())
            .map_err(err)
    }
}

fn op(f: &str, value: Value) -> Op {
    Op::new(OpType::Invoke, Process::Nemesis, Value::kw(f), value)
}

fn names(v: &[&str]) -> Value {
    Value::Vector(v.iter().map(|s| Value::str(s)).collect())
}

#[test]
fn faults_over_ssh_cut_kill_pause_and_heal() {
    if !is_root() {
        println!("skipped: needs root (a local cluster with an sshd in each node)");
        return;
    }
    if !Path::new(SSHD).exists() {
        println!("skipped: no {SSHD} (apt-get install openssh-server)");
        return;
    }
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    if rt.block_on(check_nft()).is_err() {
        println!("skipped: needs nft (apt-get install nftables)");
        return;
    }
    let scratch = testkit::scratch(&format!("rq{}-", std::process::id() % 100_000), 3).unwrap();
    let cluster = Arc::new(LocalCluster::up(&scratch.config).unwrap());
    let config = sshd_config(scratch.dir.path());
    rt.block_on(async {
        let mut ssh_config = SshConfig {
            private_key: Some(scratch.dir.path().join("id_ed25519")),
            port: SSH_PORT,
            strict_host_key_checking: false,
            ..SshConfig::default()
        };
        let mut addresses = BTreeMap::new();
        let mut dirs = BTreeMap::new();
        for node in cluster.nodes() {
            let sshd = DaemonSpec {
                bin: SSHD.into(),
                args: vec![
                    "-D".into(),
                    "-e".into(),
                    "-f".into(),
                    config.display().to_string(),
                ],
                pidfile: "sshd.pid".into(),
                logfile: "log/sshd.log".into(),
                ..DaemonSpec::default()
            };
            start_daemon(&*cluster, &node, &sshd).await.unwrap();
            await_tcp_port(&*cluster, &node, SSH_PORT, Duration::from_secs(10))
                .await
                .unwrap();
            testkit::start_echo(&*cluster, &node, ECHO_PORT)
                .await
                .unwrap();
            let addr = cluster.address(&node).unwrap();
            ssh_config = ssh_config.with_host(node.clone(), addr.to_string());
            addresses.insert(node.clone(), addr);
            dirs.insert(node.clone(), cluster.node_dir(&node).unwrap());
        }
        let ssh: Arc<dyn Remote> = Arc::new(SshRemote::new(ssh_config).unwrap());
        let db = Arc::new(EchoDb {
            remote: ssh.clone(),
            dirs,
        });
        let test = TestInfo {
            name: "ssh-nemesis".into(),
            nodes: cluster.nodes(),
            concurrency: 1,
            seed: 1,
            store_dir: PathBuf::from("/tmp"),
        };
        let mut nem = LocalNemesis::over_remote(ssh.clone(), addresses, 1).with_db(db);
        nem.setup(&test).await.unwrap();
        let echoes = |from: &'static str, to: &'static str| {
            let c = cluster.clone();
            async move { testkit::echoes(&*c, from, to, ECHO_PORT).await.unwrap() }
        };
        // A partition written by nft through SSH.
        let comps = Value::Vector(vec![names(&["n1"]), names(&["n2", "n3"])]);
        nem.invoke(&test, &op("start-partition", comps))
            .await
            .unwrap();
        assert!(nem.firewall().has_table("n1").await.unwrap());
        assert!(!echoes("n2", "n1").await, "n1 cut off");
        assert!(echoes("n2", "n3").await);
        nem.invoke(&test, &op("stop-partition", Value::Nil))
            .await
            .unwrap();
        assert!(!nem.firewall().has_table("n1").await.unwrap());
        assert!(echoes("n2", "n1").await, "healed");
        // Kill and start through the db, over SSH.
        let done = nem
            .invoke(&test, &op("kill", names(&["n2"])))
            .await
            .unwrap();
        assert_eq!(done.value.get("n2"), Some(&Value::kw("killed")));
        assert!(!echoes("n1", "n2").await, "n2's server is dead");
        nem.invoke(&test, &op("start", names(&["n2"])))
            .await
            .unwrap();
        assert!(echoes("n1", "n2").await, "n2's server is back");
        // Pause and resume.
        nem.invoke(&test, &op("pause", names(&["n3"])))
            .await
            .unwrap();
        assert!(!echoes("n1", "n3").await, "a paused server does not answer");
        nem.invoke(&test, &op("resume", names(&["n3"])))
            .await
            .unwrap();
        assert!(echoes("n1", "n3").await);
        // File faults are local-cluster only, and say so.
        let bitflip = Value::Map(vec![(
            Value::str("n1"),
            Value::Map(vec![(Value::kw("file"), Value::str("echo.py"))]),
        )]);
        let e = nem
            .invoke(&test, &op("bitflip", bitflip))
            .await
            .unwrap_err();
        assert!(e.to_string().contains("not on SSH nodes"), "{e}");
        // Heal leaves no table anywhere.
        nem.invoke(&test, &op("start-partition", Value::kw("one")))
            .await
            .unwrap();
        nem.teardown(&test).await.unwrap();
        for n in ["n1", "n2", "n3"] {
            assert!(!nem.firewall().has_table(n).await.unwrap(), "{n}");
        }
    });
    cluster.down().unwrap();
}
