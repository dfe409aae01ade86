//! Helpers for testing against a local cluster: a TCP echo server of our own to run on each
//! node, a client to probe it from another node, and a guard that tears a cluster down when it
//! goes out of scope (a failing test leaves nothing behind).
//!
//! The echo server is a few lines of Python (`python3` is on every Debian machine), so tests
//! need no extra binaries: a node "answers" when its server echoes `ping` within a second.

use crate::config::ClusterConfig;
use crate::daemon::{await_tcp_port, start_daemon, write_file, DaemonSpec};
use crate::error::ControlError;
use crate::local::teardown;
use crate::remote::{Cmd, Remote};
use std::path::PathBuf;
use std::time::Duration;

/// The echo server: `python3 echo.py PORT` answers every connection with what it received.
pub const ECHO_SERVER: &str = "\
import socket, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(('0.0.0.0', int(sys.argv[1])))
s.listen(16)
while True:
    c, _ = s.accept()
    d = c.recv(1024)
    c.sendall(d)
    c.close()
";

/// The probe: `python3 client.py HOST PORT` exits 0 when HOST echoes `ping` within 1 s.
pub const ECHO_CLIENT: &str = "\
import socket, sys
s = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=1)
s.sendall(b'ping')
sys.exit(0 if s.recv(16) == b'ping' else 3)
";

/// The daemon spec of the echo server on `port` (pid file `echo.pid`, log `log/echo.log`, in
/// the node's directory).
pub fn echo_daemon(port: u16) -> DaemonSpec {
    DaemonSpec {
        bin: "python3".into(),
        args: vec!["echo.py".into(), port.to_string()],
        pidfile: "echo.pid".into(),
        logfile: "log/echo.log".into(),
        ..DaemonSpec::default()
    }
}

/// Installs the echo server and its probe on `node`, starts the server on `port` and waits
/// until it listens. Returns its pid.
pub async fn start_echo(remote: &dyn Remote, node: &str, port: u16) -> Result<u32, ControlError> {
    write_file(remote, node, "echo.py", ECHO_SERVER.as_bytes()).await?;
    write_file(remote, node, "client.py", ECHO_CLIENT.as_bytes()).await?;
    let started = start_daemon(remote, node, &echo_daemon(port)).await?;
    await_tcp_port(remote, node, port, Duration::from_secs(10)).await?;
    Ok(started.pid())
}

/// Whether `from` gets an echo from `to` (by name) on `port` within a second.
pub async fn echoes(
    remote: &dyn Remote,
    from: &str,
    to: &str,
    port: u16,
) -> Result<bool, ControlError> {
    let cmd = Cmd::new("python3")
        .args(["client.py", to, &port.to_string()])
        .allow_failure()
        .timeout(Duration::from_secs(5));
    Ok(remote.exec(from, &cmd).await?.success())
}

/// Tears down the cluster `prefix` rooted at `root` when dropped, reporting (not panicking on)
/// a failed teardown.
#[derive(Debug)]
pub struct TeardownGuard {
    /// The cluster's root directory.
    pub root: PathBuf,
    /// Its name prefix.
    pub prefix: String,
}

impl Drop for TeardownGuard {
    fn drop(&mut self) {
        if let Err(e) = teardown(&self.root, &self.prefix) {
            eprintln!("teardown of {} in Drop failed: {e}", self.prefix);
        }
    }
}

/// A cluster configuration of its own for one test: a fresh temp directory as root, the given
/// name prefix, leftovers of an earlier crashed run with that prefix removed. Dropping it tears
/// the cluster down, then removes the directory.
#[derive(Debug)]
pub struct Scratch {
    /// The configuration to bring up.
    pub config: ClusterConfig,
    /// Tears the cluster down on drop (its `root` and `prefix` are the cluster's).
    pub teardown: TeardownGuard,
    /// The temp directory holding `root` (dropped after the teardown: fields drop in order).
    pub dir: tempfile::TempDir,
}

/// A [`Scratch`] cluster of `nodes` nodes named with `prefix`.
pub fn scratch(prefix: &str, nodes: usize) -> Result<Scratch, ControlError> {
    let dir = tempfile::tempdir()
        .map_err(|e| ControlError::io("creating a temp dir for a test cluster", e))?;
    let root = dir.path().join("cluster");
    let _ = teardown(&root, prefix);
    Ok(Scratch {
        config: ClusterConfig::new(nodes)
            .with_prefix(prefix)
            .with_root(&root),
        teardown: TeardownGuard {
            root,
            prefix: prefix.to_string(),
        },
        dir,
    })
}

/// Nodes `n1..n<n>` at 10.9.0.i with directories `/r/n<i>/data` and `/r/n<i>/log`: the
/// node list unit tests of command and config builders take (nothing is created).
pub fn fake_node_dirs(n: u8) -> Vec<(String, crate::NodeDirs)> {
    (1..=n)
        .map(|i| {
            (
                format!("n{i}"),
                crate::NodeDirs {
                    address: std::net::IpAddr::V4(std::net::Ipv4Addr::new(10, 9, 0, i)),
                    data_dir: PathBuf::from(format!("/r/n{i}/data")),
                    log_dir: PathBuf::from(format!("/r/n{i}/log")),
                },
            )
        })
        .collect()
}

/// A [`Remote`] that runs nothing: every command succeeds with empty output, uploads and
/// downloads do nothing. For unit tests of code that only builds commands.
#[derive(Clone, Copy, Debug, Default)]
pub struct NoRemote;

#[async_trait::async_trait]
impl Remote for NoRemote {
    async fn exec(&self, _node: &str, _cmd: &Cmd) -> Result<crate::remote::Output, ControlError> {
        Ok(crate::remote::Output::default())
    }
    async fn upload(
        &self,
        _node: &str,
        _local: &std::path::Path,
        _remote_path: &str,
    ) -> Result<(), ControlError> {
        Ok(())
    }
    async fn download(
        &self,
        _node: &str,
        _remote_path: &str,
        _local: &std::path::Path,
    ) -> Result<(), ControlError> {
        Ok(())
    }
}
