//! What the root-only cluster tests of the `rift` binary share: prerequisites, and a run on a
//! local cluster of the test's own that must leave nothing behind.

#![allow(dead_code)]

use std::path::Path;
use std::process::{Command, Output, Stdio};

/// Whether this process runs as root.
pub fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

/// True (after printing why) when `test` cannot run here: it needs root and nft.
pub fn skip(test: &str) -> bool {
    if !is_root() {
        println!("skipped: {test} needs root (network namespaces, nft)");
        return true;
    }
    if Command::new("nft").arg("--version").output().is_err() {
        println!("skipped: {test} needs nft (apt-get install nftables)");
        return true;
    }
    false
}

/// Whether a process whose command line matches `pattern` runs (`pgrep -f -- PATTERN`; a
/// pgrep that fails, exit code 2 or more, fails the test instead of passing it).
pub fn running(pattern: &str) -> bool {
    let out = Command::new("pgrep")
        .args(["-f", "--", pattern])
        .output()
        .expect("run pgrep");
    match out.status.code() {
        Some(0) => true,
        Some(1) => false,
        other => panic!(
            "pgrep -f -- {pattern:?} failed ({other:?}): {}",
            String::from_utf8_lossy(&out.stderr)
        ),
    }
}

/// Exit code and both outputs, for assertion messages.
pub fn describe(o: &Output) -> String {
    format!(
        "exit {:?}\nstdout:\n{}\nstderr:\n{}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// Runs `rift test --db DB ARGS` with its store and a local cluster of its own under `dir`
/// (own root, own name prefix from `tag`); then asserts that no namespace and no process of
/// that cluster is left (removing leftovers first, so that one failure does not cascade).
pub fn test_on_own_cluster(dir: &Path, db: &str, tag: &str, args: &[&str]) -> Output {
    let prefix = format!("rc{}{tag}-", std::process::id() % 100_000);
    let root = dir.join("cluster");
    let out = Command::new(env!("CARGO_BIN_EXE_rift"))
        .args(["test", "--db", db, "--store"])
        .arg(dir.join("store"))
        .arg("--cluster-root")
        .arg(&root)
        .args(["--cluster-prefix", &prefix])
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run rift");
    let netns = Command::new("ip").args(["netns", "list"]).output().unwrap();
    let left = String::from_utf8_lossy(&netns.stdout).contains(&prefix);
    let running = running(&root.display().to_string());
    if left || running {
        let _ = Command::new(env!("CARGO_BIN_EXE_rift"))
            .args(["cluster", "down", "--prefix", &prefix, "--root"])
            .arg(&root)
            .output();
    }
    assert!(
        !left,
        "namespaces {prefix}* left behind\n{}",
        describe(&out)
    );
    assert!(
        !running,
        "processes of the cluster left running\n{}",
        describe(&out)
    );
    out
}

/// The latest run's results.json.
pub fn results(dir: &Path) -> serde_json::Value {
    let run = std::fs::canonicalize(dir.join("store/latest")).unwrap();
    serde_json::from_str(&std::fs::read_to_string(run.join("results.json")).unwrap()).unwrap()
}

/// A local cluster with an sshd in each node (port 2222, a fresh key), for running rift on
/// "SSH nodes". Dropping it kills the sshds, removes what runs installed under
/// `/var/lib/rift/<address>` and tears the cluster down, also when an assertion failed.
pub struct SshCluster {
    /// The nodes' addresses (use them as `--nodes`).
    pub addresses: Vec<String>,
    /// The private key (`--ssh-private-key`).
    pub key: String,
    sshds: Vec<std::process::Child>,
    root: std::path::PathBuf,
    prefix: String,
}

impl SshCluster {
    /// Brings up `n` nodes under `dir` (prefix from `tag`) and an sshd in each.
    pub fn start(dir: &Path, tag: &str, n: usize) -> SshCluster {
        let d = dir.display().to_string();
        let prefix = format!("rs{}{tag}-", std::process::id() % 100_000);
        let root = dir.join("ssh-cluster");
        let mut me = SshCluster {
            addresses: Vec::new(),
            key: format!("{d}/id"),
            sshds: Vec::new(),
            root: root.clone(),
            prefix: prefix.clone(),
        };
        let rift = |args: &[&str]| {
            Command::new(env!("CARGO_BIN_EXE_rift"))
                .args(args)
                .args(["--prefix", &prefix, "--root"])
                .arg(&root)
                .output()
                .unwrap()
        };
        let o = rift(&["cluster", "up", "--nodes", &n.to_string()]);
        assert_eq!(o.status.code(), Some(0), "{}", describe(&o));
        let o = rift(&["cluster", "status", "--json"]);
        let status: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        let ok = Command::new("sh")
            .arg("-c")
            .arg(format!(
                "ssh-keygen -q -t ed25519 -N '' -f {d}/id && ssh-keygen -q -t ed25519 -N '' -f {d}/host \
                 && cp {d}/id.pub {d}/authorized_keys && mkdir -p /run/sshd"
            ))
            .status()
            .unwrap();
        assert!(ok.success());
        std::fs::write(
            dir.join("sshd_config"),
            format!(
                "Port 2222\nHostKey {d}/host\nAuthorizedKeysFile {d}/authorized_keys\n\
                 PermitRootLogin prohibit-password\nPasswordAuthentication no\nUsePAM no\n\
                 StrictModes no\nPidFile none\nSubsystem sftp /usr/lib/openssh/sftp-server\n"
            ),
        )
        .unwrap();
        for node in status["nodes"].as_array().unwrap() {
            let ns = node["namespace"].as_str().unwrap();
            let child = Command::new("ip")
                .args(["netns", "exec", ns, "/usr/sbin/sshd", "-D", "-e", "-f"])
                .arg(dir.join("sshd_config"))
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap();
            me.sshds.push(child);
            me.addresses
                .push(node["address"].as_str().unwrap().to_string());
        }
        for a in &me.addresses {
            let up = (0..200).any(|_| {
                let ok = std::net::TcpStream::connect((a.as_str(), 2222)).is_ok();
                if !ok {
                    std::thread::sleep(std::time::Duration::from_millis(50));
                }
                ok
            });
            assert!(up, "sshd on {a} never listened");
        }
        me
    }
}

impl SshCluster {
    /// Runs `rift test --db DB --nodes <these> ARGS` over SSH with its store under `dir`,
    /// asserts it came out valid, that the history holds each of `fs`, and that no process
    /// matching `leftover` (a `pgrep -f` pattern) survived the run.
    pub fn test(&self, dir: &Path, db: &str, args: &[&str], fs: &[&str], leftover: &str) {
        let nodes = self.addresses.join(",");
        let o = Command::new(env!("CARGO_BIN_EXE_rift"))
            .args(["test", "--db", db, "--nodes", &nodes])
            .args([
                "--ssh-private-key",
                &self.key,
                "--ssh-port",
                "2222",
                "--store",
            ])
            .arg(dir.join("store"))
            .args(args)
            .stdin(Stdio::null())
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(0), "{}", describe(&o));
        let run = std::fs::canonicalize(dir.join("store/latest")).unwrap();
        let history = std::fs::read_to_string(run.join("history.jsonl")).unwrap();
        for f in fs {
            assert!(history.contains(&format!("\"f\":\"{f}\"")), "no {f}");
        }
        // Each node's logs were fetched over SSH into the store.
        for a in &self.addresses {
            let logs = std::fs::read_dir(run.join(a))
                .map(|d| d.count())
                .unwrap_or(0);
            assert!(logs > 0, "no logs of {a} in {}", run.display());
        }
        assert!(
            !running(leftover),
            "processes matching {leftover:?} left running"
        );
    }
}

impl Drop for SshCluster {
    fn drop(&mut self) {
        for c in &mut self.sshds {
            let _ = c.kill();
            let _ = c.wait();
        }
        for a in &self.addresses {
            let _ = std::fs::remove_dir_all(format!("/var/lib/rift/{a}"));
        }
        let _ = Command::new(env!("CARGO_BIN_EXE_rift"))
            .args(["cluster", "down", "--prefix", &self.prefix, "--root"])
            .arg(&self.root)
            .output();
    }
}
