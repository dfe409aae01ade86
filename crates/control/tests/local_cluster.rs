//! Root-only tests of the local cluster. Without root every test prints why it is skipped.
//! The tests run one at a time (a static lock) and each tears its cluster down in `Drop`.

use std::path::Path;
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use rift_control::testkit::{self, Scratch};
use rift_control::{
    await_tcp_port, cgroup_dir_name, file_exists, grep_kill, is_root, start_daemon, stop_daemon,
    teardown, ClusterConfig, ClusterState, Cmd, ControlError, DaemonSpec, DaemonStart,
    LocalCluster, Phase, Remote, Signal, Tracking,
};

static SERIAL: Mutex<()> = Mutex::new(());

const PORT: u16 = 7000;

fn serial_root(test: &str) -> Option<MutexGuard<'static, ()>> {
    if !is_root() {
        println!("skipped: needs root ({test} builds network namespaces, veths and cgroups)");
        return None;
    }
    Some(SERIAL.lock().unwrap_or_else(|e| e.into_inner()))
}

/// A test cluster with a prefix of its own and its teardown guard.
fn config(tag: char, nodes: usize) -> (ClusterConfig, Scratch) {
    let scratch = testkit::scratch(&format!("rt{}{tag}-", std::process::id()), nodes).unwrap();
    (scratch.config.clone(), scratch)
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// Asserts nothing named with `prefix` is left: namespaces, links, cgroups, /etc/netns dirs,
/// and that every pid in `pids` is dead.
fn assert_clean(prefix: &str, pids: &[u32]) {
    let ns = run("ip netns list");
    assert!(!ns.contains(prefix), "namespaces left: {ns}");
    let links = run("ip -o link show");
    assert!(!links.contains(prefix), "links left: {links}");
    let cg = Path::new("/sys/fs/cgroup/unified").join(cgroup_dir_name(prefix));
    assert!(!cg.exists(), "cgroup left: {}", cg.display());
    let etc = run("ls /etc/netns 2>/dev/null || true");
    assert!(!etc.contains(prefix), "/etc/netns left: {etc}");
    for pid in pids {
        assert!(!alive(*pid), "process {pid} survived");
    }
}

fn alive(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        // The state follows the parenthesised command name; Z (zombie) is dead.
        Ok(stat) => !stat
            .rsplit(')')
            .next()
            .unwrap_or("")
            .trim_start()
            .starts_with('Z'),
        Err(_) => false,
    }
}

fn run(script: &str) -> String {
    let out = std::process::Command::new("sh")
        .args(["-c", script])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

async fn start_echo(cluster: &LocalCluster, node: &str) -> u32 {
    testkit::start_echo(cluster, node, PORT).await.unwrap()
}

fn echo_spec() -> DaemonSpec {
    testkit::echo_daemon(PORT)
}

/// Whether `from` gets an echo from `to` (by name) within 1 s.
async fn echoes(cluster: &LocalCluster, from: &str, to: &str) -> bool {
    testkit::echoes(cluster, from, to, PORT).await.unwrap()
}

#[test]
fn up_resolves_names_and_connects() {
    let Some(_lock) = serial_root("up_resolves_names_and_connects") else {
        return;
    };
    let (cfg, guard) = config('a', 3);
    let cluster = LocalCluster::up(&cfg).unwrap();
    assert_eq!(cluster.tracking(), Tracking::Cgroup);
    let namespaces = run("ip netns list");
    for node in ["n1", "n2", "n3"] {
        assert!(
            namespaces.contains(&format!("{}{node}", guard.teardown.prefix)),
            "{namespaces}"
        );
        assert!(cluster.data_dir(node).unwrap().is_dir());
        assert!(cluster.log_dir(node).unwrap().is_dir());
    }
    let status = cluster.status();
    assert!(status.bridge_present);
    assert!(status
        .nodes
        .iter()
        .all(|n| n.namespace_present && n.pids.is_empty()));
    let [a, b, c] = cfg.subnet;
    let rt = runtime();
    let pids = rt.block_on(async {
        let hosts = cluster
            .exec("n1", &Cmd::new("cat").arg("/etc/hosts"))
            .await
            .unwrap();
        assert!(hosts.stdout_str().contains(&format!("{a}.{b}.{c}.12\tn2")));
        let addr = cluster
            .exec("n2", &Cmd::shell("ip -o -4 addr show eth0"))
            .await
            .unwrap();
        assert!(
            addr.stdout_str().contains(&format!("{a}.{b}.{c}.12/24")),
            "{addr:?}"
        );
        let env = cluster
            .exec("n3", &Cmd::shell("echo $RIFT_NODE $X; pwd").env("X", "y"))
            .await
            .unwrap();
        assert_eq!(
            env.stdout_str(),
            format!("n3 y\n{}", cluster.node_dir("n3").unwrap().display())
        );
        let mut pids = Vec::new();
        for node in ["n1", "n2", "n3"] {
            pids.push(start_echo(&cluster, node).await);
        }
        let again = start_daemon(&cluster, "n1", &echo_spec()).await.unwrap();
        assert_eq!(again, DaemonStart::AlreadyRunning(pids[0]));
        assert!(file_exists(&cluster, "n1", "echo.pid").await.unwrap());
        assert!(!file_exists(&cluster, "n1", "nope").await.unwrap());
        for (from, to) in [
            ("n1", "n2"),
            ("n1", "n3"),
            ("n2", "n1"),
            ("n3", "n2"),
            ("n2", "n2"),
        ] {
            assert!(echoes(&cluster, from, to).await, "{from} -> {to}");
        }
        pids
    });
    for (i, node) in ["n1", "n2", "n3"].iter().enumerate() {
        assert_eq!(cluster.node_pids(node).unwrap(), vec![pids[i]], "{node}");
    }
    let report = cluster.down().unwrap();
    assert!(
        report.removed.iter().any(|r| r.contains("netns")),
        "{report:?}"
    );
    assert_clean(&guard.teardown.prefix, &pids);
    assert!(
        cluster.data_dir("n1").unwrap().is_dir(),
        "down keeps node dirs"
    );
    assert!(teardown(&guard.teardown.root, &guard.teardown.prefix)
        .unwrap()
        .removed
        .is_empty());
    drop(guard);
}

#[test]
fn kill_pause_resume_and_daemons() {
    let Some(_lock) = serial_root("kill_pause_resume_and_daemons") else {
        return;
    };
    let (cfg, guard) = config('b', 3);
    let cluster = LocalCluster::up(&cfg).unwrap();
    let rt = runtime();
    rt.block_on(async {
        let mut pids = Vec::new();
        for node in ["n1", "n2", "n3"] {
            pids.push(start_echo(&cluster, node).await);
        }
        let killed = cluster.kill_node("n2").unwrap();
        assert_eq!(killed, vec![pids[1]]);
        assert!(!alive(pids[1]));
        assert!(
            !echoes(&cluster, "n1", "n2").await,
            "killed n2 still answers"
        );
        assert!(echoes(&cluster, "n1", "n3").await, "n3 died with n2");
        assert!(alive(pids[0]) && alive(pids[2]));

        cluster.pause_node("n3").unwrap();
        assert!(cluster.status().nodes[2].paused);
        let t = Instant::now();
        assert!(!echoes(&cluster, "n1", "n3").await, "paused n3 answers");
        // The probe gives up after 1 s; a generous bound (the machine is shared).
        assert!(t.elapsed() < Duration::from_secs(20));
        cluster.resume_node("n3").unwrap();
        assert!(
            echoes(&cluster, "n1", "n3").await,
            "resumed n3 does not answer"
        );

        // Restart on the killed node: the stale pid file does not block it.
        let restarted = start_daemon(&cluster, "n2", &echo_spec()).await.unwrap();
        assert!(
            matches!(restarted, DaemonStart::Started(p) if p != pids[1]),
            "restart on killed n2 gave {restarted:?} (old pid {})",
            pids[1]
        );
        await_tcp_port(&cluster, "n2", PORT, Duration::from_secs(10))
            .await
            .unwrap();
        assert!(echoes(&cluster, "n3", "n2").await);

        let stopped = stop_daemon(&cluster, "n1", "echo.pid", Signal::Term)
            .await
            .unwrap();
        assert_eq!(stopped, Some(pids[0]));
        assert!(!echoes(&cluster, "n2", "n1").await);
        assert!(!file_exists(&cluster, "n1", "echo.pid").await.unwrap());
        assert_eq!(
            stop_daemon(&cluster, "n1", "echo.pid", Signal::Term)
                .await
                .unwrap(),
            None
        );

        // grep_kill reaches only the node it runs on.
        let sleeper = |n: &str| DaemonSpec {
            bin: "sleep".into(),
            args: vec!["4242".into()],
            pidfile: format!("sleep-{n}.pid"),
            logfile: "log/sleep.log".into(),
            ..DaemonSpec::default()
        };
        let s1 = start_daemon(&cluster, "n1", &sleeper("n1"))
            .await
            .unwrap()
            .pid();
        let s3 = start_daemon(&cluster, "n3", &sleeper("n3"))
            .await
            .unwrap()
            .pid();
        let hit = grep_kill(&cluster, "n1", "sleep 4242", Signal::Kill)
            .await
            .unwrap();
        assert_eq!(hit, vec![s1]);
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert!(!alive(s1));
        assert!(alive(s3));

        check_errors(&cluster).await;
    });
    cluster.down().unwrap();
    assert_clean(&guard.teardown.prefix, &[]);
}

async fn check_errors(cluster: &LocalCluster) {
    let failing = Cmd::shell("echo out; echo err >&2; exit 3");
    match cluster.exec("n1", &failing).await {
        Err(ControlError::CommandFailed {
            node,
            exit_code,
            stdout_tail,
            stderr_tail,
            ..
        }) => {
            assert_eq!((node.as_str(), exit_code), ("n1", Some(3)));
            assert_eq!(
                (stdout_tail.as_str(), stderr_tail.as_str()),
                ("out\n", "err\n")
            );
        }
        other => panic!("expected CommandFailed, got {other:?}"),
    }
    let t = Instant::now();
    let slow = Cmd::new("sleep")
        .arg("30")
        .timeout(Duration::from_millis(300));
    assert!(matches!(
        cluster.exec("n1", &slow).await,
        Err(ControlError::Timeout {
            timeout_ms: 300,
            ..
        })
    ));
    // Well under the 30 s the command would sleep (a generous bound: the machine is shared).
    assert!(t.elapsed() < Duration::from_secs(20));
    assert!(matches!(
        cluster.exec("n9", &Cmd::new("true")).await,
        Err(ControlError::UnknownNode { .. })
    ));
    let out = cluster
        .exec("n2", &Cmd::new("wc").arg("-c").stdin(vec![b'x'; 100_000]))
        .await
        .unwrap();
    assert_eq!(out.stdout_str(), "100000");
    let local = tempfile::tempdir().unwrap();
    std::fs::write(local.path().join("f"), "payload").unwrap();
    cluster
        .upload("n2", &local.path().join("f"), "data/in/f")
        .await
        .unwrap();
    let cat = cluster
        .exec("n2", &Cmd::new("cat").arg("data/in/f"))
        .await
        .unwrap();
    assert_eq!(cat.stdout_str(), "payload");
    cluster
        .download("n2", "data/in", &local.path().join("back"))
        .await
        .unwrap();
    assert_eq!(
        std::fs::read_to_string(local.path().join("back/f")).unwrap(),
        "payload"
    );
}

#[test]
fn up_refuses_an_existing_cluster() {
    let Some(_lock) = serial_root("up_refuses_an_existing_cluster") else {
        return;
    };
    let (cfg, guard) = config('c', 2);
    let cluster = LocalCluster::up(&cfg).unwrap();
    assert!(matches!(
        LocalCluster::up(&cfg),
        Err(ControlError::AlreadyUp { .. })
    ));
    let other_root = cfg
        .clone()
        .with_root(guard.teardown.root.with_file_name("elsewhere"));
    assert!(matches!(
        LocalCluster::up(&other_root),
        Err(ControlError::AlreadyUp { .. })
    ));
    let reopened = LocalCluster::open(&guard.teardown.root).unwrap();
    assert_eq!(reopened.state(), cluster.state());
    assert_eq!(reopened.state().phase, Phase::Up);
    reopened.down().unwrap();
    assert_clean(&guard.teardown.prefix, &[]);
}

#[test]
fn down_repairs_a_crashed_cluster() {
    let Some(_lock) = serial_root("down_repairs_a_crashed_cluster") else {
        return;
    };
    let (cfg, guard) = config('d', 2);
    let p = guard.teardown.prefix.clone();
    let cluster = LocalCluster::up(&cfg).unwrap();
    let pid = runtime().block_on(start_echo(&cluster, "n1"));
    // Simulate a crash in the middle of a second `up`: state says "creating", and objects the
    // state file does not list exist (a namespace, a veth, an /etc/netns dir, a cgroup).
    let mut state = ClusterState::load(&guard.teardown.root).unwrap().unwrap();
    state.phase = Phase::Creating;
    state.save().unwrap();
    run(&format!(
        "ip netns add {p}n9 && ip link add {p}x9 type veth peer name {p}y9 && mkdir -p /etc/netns/{p}n9 \
         && mkdir /sys/fs/cgroup/unified/{}/n9",
        cgroup_dir_name(&p)
    ));
    assert!(run("ip netns list").contains(&format!("{p}n9")));
    std::mem::forget(cluster);
    // Another process would only know the root and the prefix.
    let report = teardown(&guard.teardown.root, &p).unwrap();
    assert!(
        report.removed.contains(&format!("netns {p}n9")),
        "{report:?}"
    );
    // Deleting either end of the veth pair removes both.
    let veth_ends = [format!("link {p}x9"), format!("link {p}y9")];
    assert_eq!(
        report
            .removed
            .iter()
            .filter(|r| veth_ends.contains(r))
            .count(),
        1,
        "{report:?}"
    );
    assert_clean(&p, &[pid]);
    assert!(!guard.teardown.root.join("cluster.json").exists());

    // Without any state file: a bridge and a namespace left by a killed rift.
    run(&format!(
        "ip link add {p}br0 type bridge && ip netns add {p}n1"
    ));
    let report = teardown(&guard.teardown.root, &p).unwrap();
    assert_eq!(report.removed.len(), 2, "{report:?}");
    assert_clean(&p, &[]);
}

#[test]
fn up_and_down_five_nodes_timing() {
    let Some(_lock) = serial_root("up_and_down_five_nodes_timing") else {
        return;
    };
    let (cfg, guard) = config('e', 5);
    let t = Instant::now();
    let cluster = LocalCluster::up(&cfg).unwrap();
    let up_ms = t.elapsed().as_secs_f64() * 1e3;
    let t = Instant::now();
    cluster.down().unwrap();
    let down_ms = t.elapsed().as_secs_f64() * 1e3;
    println!(
        "5 nodes: up {up_ms:.1} ms, down {down_ms:.1} ms, total {:.1} ms",
        up_ms + down_ms
    );
    assert_clean(&guard.teardown.prefix, &[]);
}

#[test]
fn up_without_root_says_what_is_needed() {
    if is_root() {
        println!("skipped: needs a non-root user (checks the error a non-root user gets)");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let cfg = ClusterConfig::new(1)
        .with_prefix("rtnr-")
        .with_root(dir.path());
    match LocalCluster::up(&cfg) {
        Err(e @ ControlError::NeedsRoot { .. }) => {
            assert!(
                e.to_string().starts_with(rift_control::NEEDS_ROOT_MESSAGE),
                "{e}"
            );
        }
        other => panic!("expected NeedsRoot, got {other:?}"),
    }
}

#[test]
fn installed_packages_are_not_installed_again_and_pidfiles_tell_liveness() {
    let Some(_lock) = serial_root("installed_packages_are_not_installed_again") else {
        return;
    };
    let (cfg, _guard) = config('a', 1);
    let cluster = LocalCluster::up(&cfg).unwrap();
    runtime().block_on(async {
        // iproute2 is on every machine that can build a local cluster: nothing to install.
        let got = rift_control::install_packages(&cluster, "n1", &["iproute2".to_string()])
            .await
            .unwrap();
        assert!(got.is_empty(), "{got:?}");
        let spec = echo_spec();
        let pidfile = spec.pidfile.clone();
        assert!(!rift_control::daemon_running(&cluster, "n1", &pidfile)
            .await
            .unwrap());
        start_daemon(&cluster, "n1", &spec).await.unwrap();
        assert!(rift_control::daemon_running(&cluster, "n1", &pidfile)
            .await
            .unwrap());
        stop_daemon(&cluster, "n1", &pidfile, Signal::Kill)
            .await
            .unwrap();
        assert!(!rift_control::daemon_running(&cluster, "n1", &pidfile)
            .await
            .unwrap());
    });
    cluster.down().unwrap();
}

#[test]
fn archives_install_with_their_top_directory_stripped() {
    let Some(_lock) = serial_root("archives_install_with_their_top_directory_stripped") else {
        return;
    };
    let (cfg, _guard) = config('z', 1);
    let cluster = LocalCluster::up(&cfg).unwrap();
    let work = tempfile::tempdir().unwrap();
    let w = work.path().display().to_string();
    run(&format!(
        "mkdir -p {w}/pkg-1.0/bin && echo hello > {w}/pkg-1.0/bin/tool && \
         tar -czf {w}/pkg.tar.gz -C {w} pkg-1.0"
    ));
    let dest = cluster.node_dir("n1").unwrap().join("opt/pkg");
    let dest_s = dest.display().to_string();
    runtime().block_on(async {
        rift_control::install_archive(&cluster, "n1", &format!("{w}/pkg.tar.gz"), &dest_s)
            .await
            .unwrap();
        // Installing again replaces, it does not nest.
        rift_control::install_archive(&cluster, "n1", &format!("{w}/pkg.tar.gz"), &dest_s)
            .await
            .unwrap();
    });
    assert_eq!(
        std::fs::read_to_string(dest.join("bin/tool")).unwrap(),
        "hello\n"
    );
    assert!(!dest.join("pkg-1.0").exists());
    cluster.down().unwrap();
}
