//! [`Remote`] over SSH to real machines, with the system `ssh` and `scp` binaries.
//!
//! Each host gets one OpenSSH master connection (`ControlMaster`, socket `<dir>/%C`,
//! `ControlPersist`), started explicitly (`ControlMaster=yes -f -N`, under a lock, standard
//! error to a file) before the first command: so concurrent first commands make one master, its
//! authentication errors are reported whole, and no forked master can hold a command's output
//! pipe open (older OpenSSH releases kept the spawning command's standard error open under
//! `ControlMaster=auto`). Commands then run as clients of the master (`ControlMaster=no`); when the
//! master is gone they connect directly. Exit code 255 from `ssh` (a connection failure) is
//! retried with exponential backoff.

use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::process::Stdio;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::Poll;
use std::time::Duration;

use async_trait::async_trait;
use tokio::io::AsyncWriteExt;
use tokio::process::Command;

use crate::error::ControlError;
use crate::remote::{shell_quote, Cmd, Output, Remote};

/// The exit code `ssh` and `scp` return when the connection itself failed.
pub const SSH_CONNECTION_FAILED: i32 = 255;

/// The message given when a password is configured but `sshpass` is not installed.
pub const PASSWORD_NEEDS_SSHPASS: &str =
    "password auth needs sshpass (not installed): install it or use a key (private_key)";

/// How to reach nodes over SSH; the defaults match Jepsen's (`root`, port 22, strict host key
/// checking on).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SshConfig {
    /// The login user.
    pub username: String,
    /// A password, used through `sshpass` (which must be installed); prefer a key.
    pub password: Option<String>,
    /// The private key file (`ssh -i`); `None` uses the agent and the user's default keys.
    pub private_key: Option<PathBuf>,
    /// The SSH port.
    pub port: u16,
    /// When false, host keys are neither checked nor recorded
    /// (`StrictHostKeyChecking=no`, `UserKnownHostsFile=/dev/null`).
    pub strict_host_key_checking: bool,
    /// Runs commands through `sudo -S -n sh -c ...` when `username` is not `root`.
    pub sudo: bool,
    /// The connection timeout (`ConnectTimeout`, whole seconds, at least 1).
    pub connect_timeout: Duration,
    /// How many times a connection failure (exit code 255) is retried.
    pub retries: u32,
    /// The first pause between retries; it doubles after each.
    pub retry_backoff: Duration,
    /// How long an idle master connection lives (`ControlPersist`, whole seconds).
    pub control_persist: Duration,
    /// Node name to host (name or address); nodes not listed are reached by their name.
    pub hosts: HashMap<String, String>,
}

impl Default for SshConfig {
    fn default() -> Self {
        SshConfig {
            username: "root".into(),
            password: None,
            private_key: None,
            port: 22,
            strict_host_key_checking: true,
            sudo: false,
            connect_timeout: Duration::from_secs(10),
            retries: 5,
            retry_backoff: Duration::from_millis(200),
            control_persist: Duration::from_secs(60),
            hosts: HashMap::new(),
        }
    }
}

impl SshConfig {
    /// Reaches `node` at `host` instead of at its name.
    pub fn with_host(mut self, node: impl Into<String>, host: impl Into<String>) -> Self {
        self.hosts.insert(node.into(), host.into());
        self
    }

    fn host<'a>(&'a self, node: &'a str) -> &'a str {
        self.hosts.get(node).map_or(node, String::as_str)
    }

    fn uses_sudo(&self) -> bool {
        self.sudo && self.username != "root"
    }
}

/// A [`Remote`] reaching nodes with the system `ssh` and `scp`.
///
/// Call [`SshRemote::close`] when done: it stops the master connections and removes the socket
/// directory (dropping the remote does the same, blocking).
#[derive(Debug)]
pub struct SshRemote {
    config: SshConfig,
    control_dir: tempfile::TempDir,
    masters: tokio::sync::Mutex<HashSet<String>>,
    use_sshpass: bool,
}

static UPLOAD_SEQ: AtomicU64 = AtomicU64::new(0);

impl SshRemote {
    /// Checks `config` and makes the directory for the master sockets.
    pub fn new(config: SshConfig) -> Result<SshRemote, ControlError> {
        let use_sshpass = config.password.is_some() && config.private_key.is_none();
        if use_sshpass && !program_exists("sshpass") {
            return Err(ControlError::InvalidConfig(PASSWORD_NEEDS_SSHPASS.into()));
        }
        if config.username.is_empty() || config.username.starts_with('-') {
            return Err(ControlError::InvalidConfig(format!(
                "invalid ssh username {:?}",
                config.username
            )));
        }
        // Short path: a socket path is limited to 108 bytes and %C adds 40.
        let control_dir = tempfile::Builder::new()
            .prefix("rift-ssh-")
            .tempdir_in("/tmp")
            .map_err(|e| ControlError::io("creating the ssh control directory in /tmp", e))?;
        Ok(SshRemote {
            config,
            control_dir,
            masters: tokio::sync::Mutex::new(HashSet::new()),
            use_sshpass,
        })
    }

    /// The configuration.
    pub fn config(&self) -> &SshConfig {
        &self.config
    }

    /// The directory holding the master sockets (`ControlPath=<dir>/%C`).
    pub fn control_dir(&self) -> &Path {
        self.control_dir.path()
    }

    /// The hosts with a master connection started by this remote.
    pub async fn masters(&self) -> Vec<String> {
        let mut hosts: Vec<String> = self.masters.lock().await.iter().cloned().collect();
        hosts.sort();
        hosts
    }

    /// Options shared by `ssh` and `scp`; `master` is the `ControlMaster` value.
    fn common_options(&self, master: &str) -> Vec<String> {
        let c = &self.config;
        let mut o = vec![
            format!("User={}", c.username),
            format!("Port={}", c.port),
            format!("ConnectTimeout={}", c.connect_timeout.as_secs().max(1)),
            format!("ControlMaster={master}"),
            format!("ControlPath={}/%C", self.control_dir().display()),
            format!("ControlPersist={}", c.control_persist.as_secs().max(1)),
            "LogLevel=ERROR".into(),
            "ServerAliveInterval=10".into(),
        ];
        if !self.use_sshpass {
            o.push("BatchMode=yes".into());
        }
        if c.strict_host_key_checking {
            o.push("StrictHostKeyChecking=yes".into());
        } else {
            o.push("StrictHostKeyChecking=no".into());
            o.push("UserKnownHostsFile=/dev/null".into());
        }
        let mut args = Vec::new();
        if let Some(key) = &c.private_key {
            args.extend(["-i".to_string(), key.display().to_string()]);
            o.push("IdentitiesOnly=yes".into());
        }
        for opt in o {
            args.extend(["-o".to_string(), opt]);
        }
        args
    }

    /// A `ssh` or `scp` command, through `sshpass -e` when a password is used.
    fn base_command(&self, program: &str) -> Command {
        let mut command = if self.use_sshpass {
            let mut c = Command::new("sshpass");
            c.arg("-e").arg(program);
            c.env("SSHPASS", self.config.password.as_deref().unwrap_or(""));
            c
        } else {
            Command::new(program)
        };
        command
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .stdin(Stdio::null())
            .kill_on_drop(true);
        command
    }

    /// The shell command the remote login shell runs for `cmd` on `node`.
    pub fn remote_command(&self, node: &str, cmd: &Cmd) -> String {
        let mut words = Vec::new();
        if self.config.uses_sudo() {
            words.extend(["sudo", "-S", "-n"].map(String::from));
        }
        if let Some(limit) = cmd.timeout {
            // Also stop the command on the node, not only the local ssh client.
            let secs = format!("{:.3}", limit.as_secs_f64());
            words.extend(["timeout".into(), "-s".into(), "KILL".into(), secs]);
        }
        words.push("env".into());
        words.push(shell_quote(&format!("RIFT_NODE={node}")));
        for (k, v) in &cmd.env {
            words.push(shell_quote(&format!("{k}={v}")));
        }
        words.extend(["sh".into(), "-c".into(), shell_quote(&cmd.script())]);
        words.join(" ")
    }

    /// Starts the master connection to `host` unless one is known to run.
    async fn ensure_master(&self, node: &str, host: &str) -> Result<(), ControlError> {
        let mut masters = self.masters.lock().await;
        if masters.contains(host) && self.check_master(host).await {
            return Ok(());
        }
        masters.remove(host);
        let log = tempfile::NamedTempFile::new_in(self.control_dir())
            .map_err(|e| ControlError::io("creating the ssh master log", e))?;
        let stderr = log
            .reopen()
            .map_err(|e| ControlError::io("opening the ssh master log", e))?;
        let mut command = self.base_command("ssh");
        command
            .args(self.common_options("yes"))
            .args(["-f", "-N", host])
            .stdout(Stdio::null())
            .stderr(Stdio::from(stderr));
        let what = format!("ssh master to {host}");
        let status = command
            .status()
            .await
            .map_err(|e| ControlError::io(format!("starting {what}"), e))?;
        if !status.success() {
            let stderr = std::fs::read(log.path()).unwrap_or_default();
            let out = Output {
                exit_code: status.code(),
                stdout: Vec::new(),
                stderr,
            };
            return Err(out.to_error(node, &Cmd::new("ssh").args(["-f", "-N", host])));
        }
        masters.insert(host.to_string());
        Ok(())
    }

    async fn check_master(&self, host: &str) -> bool {
        let mut command = self.base_command("ssh");
        command
            .args(self.common_options("no"))
            .args(["-O", "check", host]);
        matches!(command.output().await, Ok(o) if o.status.success())
    }

    /// Runs `build()` (an `ssh` or `scp` client of the master), retrying connection failures.
    async fn run_with_retries(
        &self,
        node: &str,
        cmd: &Cmd,
        build: impl Fn() -> Command,
    ) -> Result<Output, ControlError> {
        let host = self.config.host(node);
        let mut backoff = self.config.retry_backoff;
        let mut attempt = 0;
        loop {
            let out = match self.ensure_master(node, host).await {
                Ok(()) => run_child(node, cmd, build()).await?,
                Err(ControlError::CommandFailed {
                    exit_code: Some(SSH_CONNECTION_FAILED),
                    ..
                }) if attempt < self.config.retries => Output {
                    exit_code: Some(SSH_CONNECTION_FAILED),
                    ..Output::default()
                },
                Err(e) => return Err(e),
            };
            if out.exit_code != Some(SSH_CONNECTION_FAILED) || attempt >= self.config.retries {
                return Ok(out);
            }
            attempt += 1;
            tracing::debug!(node, attempt, "ssh connection failed; retrying");
            tokio::time::sleep(backoff).await;
            backoff = backoff.saturating_mul(2);
        }
    }

    fn scp_command(&self, from: &str, to: &str) -> Command {
        let mut command = self.base_command("scp");
        command
            .args(self.common_options("no"))
            .args(["-r", "-q", "--", from, to]);
        command
    }

    /// `host:path` as `scp` takes it (IPv6 addresses in brackets).
    fn scp_target(&self, node: &str, path: &str) -> String {
        let host = self.config.host(node);
        if host.contains(':') {
            format!("[{host}]:{path}")
        } else {
            format!("{host}:{path}")
        }
    }

    async fn scp(&self, node: &str, from: &str, to: &str) -> Result<(), ControlError> {
        let cmd = Cmd::new("scp").args(["-r", "-q", from, to]);
        self.run_with_retries(node, &cmd, || self.scp_command(from, to))
            .await?
            .checked(node, &cmd)
            .map(drop)
    }

    /// Stops every master connection this remote started (`ssh -O exit`).
    pub async fn close(&self) -> Result<(), ControlError> {
        let hosts: Vec<String> = self.masters.lock().await.drain().collect();
        for host in hosts {
            let mut command = self.base_command("ssh");
            command
                .args(self.common_options("no"))
                .args(["-O", "exit", &host]);
            let out = command
                .output()
                .await
                .map_err(|e| ControlError::io(format!("stopping the ssh master to {host}"), e))?;
            if !out.status.success() {
                tracing::debug!(host, "ssh -O exit failed (master already gone?)");
            }
        }
        Ok(())
    }
}

impl Drop for SshRemote {
    fn drop(&mut self) {
        let hosts: Vec<String> = self.masters.get_mut().drain().collect();
        for host in hosts {
            let _ = std::process::Command::new("ssh")
                .args(self.common_options("no"))
                .args(["-O", "exit", &host])
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
        }
    }
}

#[async_trait]
impl Remote for SshRemote {
    async fn exec(&self, node: &str, cmd: &Cmd) -> Result<Output, ControlError> {
        let host = self.config.host(node);
        if host.is_empty() || host.starts_with('-') {
            return Err(ControlError::InvalidConfig(format!(
                "invalid host {host:?}"
            )));
        }
        let remote = self.remote_command(node, cmd);
        tracing::debug!(node, command = %cmd, "ssh exec");
        let build = || {
            let mut c = self.base_command("ssh");
            c.args(self.common_options("no")).arg(host).arg(&remote);
            if cmd.stdin.is_some() {
                c.stdin(Stdio::piped());
            }
            c
        };
        self.run_with_retries(node, cmd, build)
            .await?
            .checked(node, cmd)
    }

    async fn upload(
        &self,
        node: &str,
        local: &Path,
        remote_path: &str,
    ) -> Result<(), ControlError> {
        let from = local.display().to_string();
        if !self.config.uses_sudo() {
            return self
                .scp(node, &from, &self.scp_target(node, remote_path))
                .await;
        }
        // The login user may not write there: stage in /tmp, then move as root.
        let n = UPLOAD_SEQ.fetch_add(1, Ordering::Relaxed);
        let staged = format!("/tmp/rift-upload-{}-{n}", std::process::id());
        self.scp(node, &from, &self.scp_target(node, &staged))
            .await?;
        let mv = Cmd::new("mv").args(["-f", "--", &staged, remote_path]);
        self.exec(node, &mv).await.map(drop)
    }

    async fn download(
        &self,
        node: &str,
        remote_path: &str,
        local: &Path,
    ) -> Result<(), ControlError> {
        if let Some(parent) = local.parent().filter(|p| !p.as_os_str().is_empty()) {
            tokio::fs::create_dir_all(parent)
                .await
                .map_err(|e| ControlError::io(format!("creating {}", parent.display()), e))?;
        }
        let to = local.display().to_string();
        self.scp(node, &self.scp_target(node, remote_path), &to)
            .await
    }
}

/// Runs `command`, feeding `cmd.stdin` and enforcing `cmd.timeout` (the child is killed when it
/// passes). Does not check the exit code.
async fn run_child(node: &str, cmd: &Cmd, mut command: Command) -> Result<Output, ControlError> {
    let mut child = command
        .spawn()
        .map_err(|e| ControlError::io(format!("starting ssh for `{cmd}` on {node}"), e))?;
    let stdin = child.stdin.take();
    let bytes = cmd.stdin.as_deref();
    let run = async {
        let feed = async {
            if let (Some(mut pipe), Some(bytes)) = (stdin, bytes) {
                let _ = pipe.write_all(bytes).await;
                let _ = pipe.shutdown().await;
            }
        };
        tokio::join!(feed, child.wait_with_output()).1
    };
    let out = match cmd.timeout {
        None => run.await,
        // Dropping `run` drops the child, which kill_on_drop kills.
        Some(limit) => {
            tokio::time::timeout(limit, run)
                .await
                .map_err(|_| ControlError::Timeout {
                    node: node.to_string(),
                    what: cmd.to_string(),
                    timeout_ms: limit.as_millis() as u64,
                })?
        }
    }
    .map_err(|e| ControlError::io(format!("waiting for `{cmd}` on {node}"), e))?;
    Ok(Output {
        exit_code: out.status.code(),
        stdout: out.stdout,
        stderr: out.stderr,
    })
}

/// Whether `name` is an executable file on `$PATH`.
pub(crate) fn program_exists(name: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|paths| std::env::split_paths(&paths).any(|dir| dir.join(name).is_file()))
}

/// Runs `f(node)` for every node concurrently (in this task, like Jepsen's `on-nodes`) and
/// returns each node's result, in the order of `nodes`.
pub async fn on_nodes<T, F, Fut>(nodes: &[String], f: F) -> Vec<(String, Result<T, ControlError>)>
where
    F: Fn(String) -> Fut,
    Fut: Future<Output = Result<T, ControlError>>,
{
    let mut futures: Vec<Pin<Box<Fut>>> = nodes.iter().map(|n| Box::pin(f(n.clone()))).collect();
    let mut results: Vec<Option<Result<T, ControlError>>> = nodes.iter().map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for (fut, slot) in futures.iter_mut().zip(results.iter_mut()) {
            if slot.is_none() {
                match fut.as_mut().poll(cx) {
                    Poll::Ready(r) => *slot = Some(r),
                    Poll::Pending => pending = true,
                }
            }
        }
        if pending {
            Poll::Pending
        } else {
            Poll::Ready(())
        }
    })
    .await;
    nodes
        .iter()
        .cloned()
        .zip(results.into_iter().flatten())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn remote(config: SshConfig) -> SshRemote {
        SshRemote::new(config).unwrap()
    }

    #[test]
    fn remote_command_wraps_env_sudo_and_timeout() {
        let r = remote(SshConfig::default());
        let cmd = Cmd::new("echo").arg("a b").env("K", "v w");
        assert_eq!(
            r.remote_command("n1", &cmd),
            "env RIFT_NODE=n1 'K=v w' sh -c 'echo '\\''a b'\\'''"
        );
        let admin = SshConfig {
            username: "admin".into(),
            sudo: true,
            ..SshConfig::default()
        };
        let r = remote(admin);
        let cmd = Cmd::shell("ls").timeout(Duration::from_millis(1500));
        assert_eq!(
            r.remote_command("n2", &cmd),
            "sudo -S -n timeout -s KILL 1.500 env RIFT_NODE=n2 sh -c ls"
        );
        // root needs no sudo even when asked.
        let root = remote(SshConfig {
            sudo: true,
            ..SshConfig::default()
        });
        assert_eq!(
            root.remote_command("n3", &Cmd::new("id")),
            "env RIFT_NODE=n3 sh -c id"
        );
    }

    #[test]
    fn options_follow_the_config() {
        let strict = remote(SshConfig::default());
        let o = strict.common_options("no").join(" ");
        assert!(o.contains("-o User=root -o Port=22 -o ConnectTimeout=10 -o ControlMaster=no"));
        assert!(o.contains(&format!(
            "-o ControlPath={}/%C -o ControlPersist=60",
            strict.control_dir().display()
        )));
        assert!(o.contains("-o BatchMode=yes -o StrictHostKeyChecking=yes"));
        assert!(!o.contains("UserKnownHostsFile"));
        let loose = remote(SshConfig {
            strict_host_key_checking: false,
            private_key: Some("/k/id".into()),
            port: 2222,
            ..SshConfig::default()
        });
        let o = loose.common_options("yes").join(" ");
        assert!(o.starts_with("-i /k/id -o User=root -o Port=2222"), "{o}");
        assert!(o.contains("-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null"));
        assert!(o.contains("ControlMaster=yes") && o.contains("IdentitiesOnly=yes"));
    }

    #[test]
    fn hosts_and_scp_targets() {
        let r = remote(
            SshConfig::default()
                .with_host("n1", "10.0.0.1")
                .with_host("n6", "fe80::1"),
        );
        assert_eq!(r.scp_target("n1", "/a b"), "10.0.0.1:/a b");
        assert_eq!(r.scp_target("n6", "x"), "[fe80::1]:x");
        assert_eq!(r.scp_target("db7", "x"), "db7:x");
    }

    #[test]
    fn bad_configs_are_refused() {
        let with_password = SshConfig {
            password: Some("secret".into()),
            ..SshConfig::default()
        };
        match SshRemote::new(with_password) {
            Err(ControlError::InvalidConfig(m)) => assert_eq!(m, PASSWORD_NEEDS_SSHPASS),
            Ok(_) => assert!(program_exists("sshpass"), "accepted without sshpass"),
            Err(e) => panic!("unexpected {e}"),
        }
        let bad_user = SshConfig {
            username: "-oProxyCommand=x".into(),
            ..SshConfig::default()
        };
        assert!(matches!(
            SshRemote::new(bad_user),
            Err(ControlError::InvalidConfig(_))
        ));
    }

    #[tokio::test]
    async fn bad_host_is_refused_without_running_ssh() {
        let r = remote(SshConfig::default().with_host("n1", "-oProxyCommand=x"));
        assert!(matches!(
            r.exec("n1", &Cmd::new("true")).await,
            Err(ControlError::InvalidConfig(_))
        ));
    }

    #[tokio::test]
    async fn on_nodes_runs_concurrently_in_order() {
        let nodes: Vec<String> = ["n1", "n2", "n3"].map(String::from).to_vec();
        // Every future waits for all three to have started: run one after another, they would
        // never get past the barrier (the timeout turns that into a failure, not a hang).
        let barrier = std::sync::Arc::new(tokio::sync::Barrier::new(3));
        let all = on_nodes(&nodes, |n| {
            let barrier = barrier.clone();
            async move {
                barrier.wait().await;
                if n == "n2" {
                    Err(ControlError::InvalidConfig("boom".into()))
                } else {
                    Ok(n.len() * 10)
                }
            }
        });
        let results = tokio::time::timeout(Duration::from_secs(30), all)
            .await
            .expect("not concurrent: the futures did not all start");
        assert_eq!(results.len(), 3);
        assert_eq!(results[0].0, "n1");
        assert_eq!(results[0].1.as_ref().unwrap(), &20);
        assert!(matches!(results[1].1, Err(ControlError::InvalidConfig(_))));
        assert_eq!(results[2].0, "n3");
    }

    #[tokio::test]
    async fn unreachable_host_fails_after_retries() {
        let r = remote(
            SshConfig {
                port: 1,
                retries: 2,
                retry_backoff: Duration::from_millis(10),
                strict_host_key_checking: false,
                ..SshConfig::default()
            }
            .with_host("n1", "127.0.0.1"),
        );
        let start = std::time::Instant::now();
        match r.exec("n1", &Cmd::new("true")).await {
            Err(ControlError::CommandFailed {
                node,
                exit_code,
                stderr_tail,
                ..
            }) => {
                assert_eq!(node, "n1");
                assert_eq!(exit_code, Some(SSH_CONNECTION_FAILED));
                assert!(stderr_tail.contains("refused"), "{stderr_tail}");
            }
            other => panic!("expected CommandFailed, got {other:?}"),
        }
        // Two pauses: 10 ms then 20 ms.
        assert!(start.elapsed() >= Duration::from_millis(30));
        assert!(r.masters().await.is_empty());
    }
}
