//! Root-only test of [`SshRemote`] against a real `sshd` running in a local-cluster node.
//! Without root, or without an `sshd` binary (after trying to install openssh-server), it
//! prints why it is skipped.

use std::path::Path;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use rift_control::testkit;
use rift_control::{
    await_tcp_port, is_root, on_nodes, start_daemon, Cmd, ControlError, DaemonSpec, LocalCluster,
    Remote, SshConfig, SshRemote,
};

static SERIAL: Mutex<()> = Mutex::new(());

const SSHD: &str = "/usr/sbin/sshd";
const PORT: u16 = 2222;

fn sh(script: &str) -> bool {
    std::process::Command::new("sh")
        .args(["-c", script])
        .status()
        .is_ok_and(|s| s.success())
}

/// Whether `sshd` is there, installing openssh-server when it is not.
fn have_sshd() -> bool {
    Path::new(SSHD).exists()
        || (sh(
            "DEBIAN_FRONTEND=noninteractive apt-get install -y -q openssh-server >/dev/null 2>&1",
        ) && Path::new(SSHD).exists())
}

/// Writes the key pairs and the sshd configuration into `dir`; returns the config path.
fn prepare_sshd(dir: &Path) -> std::path::PathBuf {
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
            "Port {PORT}\nHostKey {d}/host_ed25519\nAuthorizedKeysFile {d}/authorized_keys\n\
             PermitRootLogin prohibit-password\nPasswordAuthentication no\nUsePAM no\n\
             StrictModes no\nPidFile {d}/sshd.pid\n\
             Subsystem sftp /usr/lib/openssh/sftp-server\n"
        ),
    )
    .unwrap();
    config
}

#[test]
fn ssh_remote_against_a_real_sshd() {
    if !is_root() {
        println!("skipped: needs root (builds network namespaces to run sshd in)");
        return;
    }
    if !have_sshd() {
        println!("skipped: no {SSHD} and `apt-get install -y -q openssh-server` failed");
        return;
    }
    let _lock = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let scratch = testkit::scratch(&format!("rs{}-", std::process::id()), 2).unwrap();
    let cluster = LocalCluster::up(&scratch.config).unwrap();
    let dir = &scratch.dir;
    let sshd_config = prepare_sshd(dir.path());
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let sshd_pid = rt.block_on(async {
        let spec = DaemonSpec {
            bin: SSHD.into(),
            args: vec![
                "-D".into(),
                "-e".into(),
                "-f".into(),
                sshd_config.display().to_string(),
            ],
            pidfile: "sshd.pid.daemon".into(),
            logfile: "log/sshd.log".into(),
            ..DaemonSpec::default()
        };
        let sshd_pid = start_daemon(&cluster, "n1", &spec).await.unwrap().pid();
        await_tcp_port(&cluster, "n1", PORT, Duration::from_secs(10))
            .await
            .unwrap();
        let config = SshConfig {
            private_key: Some(dir.path().join("id_ed25519")),
            port: PORT,
            strict_host_key_checking: false,
            ..SshConfig::default()
        }
        .with_host("n1", cluster.address("n1").unwrap().to_string());
        let ssh = SshRemote::new(config).unwrap();
        exercise(&ssh, dir.path()).await;
        ssh.close().await.unwrap();
        assert!(ssh.masters().await.is_empty());
        assert_eq!(
            std::fs::read_dir(ssh.control_dir()).unwrap().count(),
            0,
            "the master socket is gone after close"
        );
        sshd_pid
    });
    cluster.down().unwrap();
    assert!(!alive(sshd_pid), "sshd {sshd_pid} survived the teardown");
}

/// Whether `pid` is a live (not zombie) process.
fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
        !stat
            .rsplit(')')
            .next()
            .unwrap_or("")
            .trim_start()
            .starts_with('Z')
    })
}

async fn exercise(ssh: &SshRemote, dir: &Path) {
    let first = Instant::now();
    let out = ssh.exec("n1", &Cmd::new("echo").arg("hi")).await.unwrap();
    let first = first.elapsed();
    assert_eq!(out.stdout_str(), "hi");
    // The master socket exists and later commands go through it.
    let sockets: Vec<_> = std::fs::read_dir(ssh.control_dir()).unwrap().collect();
    assert_eq!(sockets.len(), 1, "one master socket");
    assert_eq!(ssh.masters().await.len(), 1);
    let second = Instant::now();
    let env = Cmd::shell("echo $RIFT_NODE $X; id -u").env("X", "a b");
    let out = ssh.exec("n1", &env).await.unwrap();
    let second = second.elapsed();
    assert_eq!(out.stdout_str(), "n1 a b\n0");
    println!("first exec {first:?} (connects), second {second:?} (multiplexed)");
    // Reused, not reconnected: still the one master and its one socket.
    assert_eq!(ssh.masters().await.len(), 1);
    assert_eq!(std::fs::read_dir(ssh.control_dir()).unwrap().count(), 1);

    let cat = Cmd::new("cat").stdin(b"line1\nline2\n".to_vec());
    assert_eq!(
        ssh.exec("n1", &cat).await.unwrap().stdout,
        b"line1\nline2\n"
    );

    match ssh
        .exec("n1", &Cmd::shell("echo out; echo err >&2; exit 3"))
        .await
    {
        Err(ControlError::CommandFailed {
            node,
            command,
            exit_code,
            stdout_tail,
            stderr_tail,
        }) => {
            assert_eq!(node, "n1");
            assert_eq!(command, "echo out; echo err >&2; exit 3");
            assert_eq!(exit_code, Some(3));
            assert_eq!(stdout_tail, "out\n");
            assert_eq!(stderr_tail, "err\n");
        }
        other => panic!("expected CommandFailed, got {other:?}"),
    }
    let allowed = Cmd::shell("exit 4").allow_failure();
    assert_eq!(ssh.exec("n1", &allowed).await.unwrap().exit_code, Some(4));

    let start = Instant::now();
    let slow = Cmd::new("sleep")
        .arg("30")
        .timeout(Duration::from_millis(700));
    match ssh.exec("n1", &slow).await {
        Err(ControlError::Timeout {
            node, timeout_ms, ..
        }) => {
            assert_eq!((node.as_str(), timeout_ms), ("n1", 700));
        }
        other => panic!("expected Timeout, got {other:?}"),
    }
    // Well under the 30 s the command would sleep (a generous bound: the machine is shared).
    assert!(start.elapsed() < Duration::from_secs(20));

    transfer(ssh, dir).await;
    let nodes = vec!["n1".to_string(), "n1".to_string()];
    let results = on_nodes(&nodes, |n| async move {
        ssh.exec(&n, &Cmd::new("hostname")).await
    })
    .await;
    assert!(results.iter().all(|(_, r)| r.is_ok()), "{results:?}");
}

async fn transfer(ssh: &SshRemote, dir: &Path) {
    let bytes: Vec<u8> = (0..200_000u32).map(|i| (i * 7 % 251) as u8).collect();
    let local = dir.join("payload.bin");
    std::fs::write(&local, &bytes).unwrap();
    let remote = dir.join("remote/payload.bin").display().to_string();
    ssh.exec(
        "n1",
        &Cmd::new("mkdir").args(["-p", &dir.join("remote").display().to_string()]),
    )
    .await
    .unwrap();
    ssh.upload("n1", &local, &remote).await.unwrap();
    let back = dir.join("back/payload.bin");
    ssh.download("n1", &remote, &back).await.unwrap();
    assert_eq!(std::fs::read(&back).unwrap(), bytes);
    let missing = ssh
        .download("n1", "/nonexistent/rift", &dir.join("x"))
        .await;
    assert!(
        matches!(&missing, Err(ControlError::CommandFailed { exit_code: Some(1), stderr_tail, .. })
            if stderr_tail.contains("No such file")),
        "{missing:?}"
    );
}
