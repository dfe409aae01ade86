//! One daemon per node, as most roles of these suites are (Bufstream, the object store,
//! PostgreSQL, nisshi): a [`Daemon`] says what to run, what files to write first, which port
//! means "up", and what to do once it is; [`DaemonDb`] does the rest the same way for all of
//! them: setup (kill what a previous run left, wipe the data, write the files, prepare,
//! start, wait for the port, then `ready`), teardown, kill/start/pause/resume through the
//! pid file, `is_running` for the watchdog, and logs (with tarballs of data directories) into
//! the store. A daemon that fails to start is reported with its node and the tail of its log.

use async_trait::async_trait;
use rift_control::{
    await_tcp_port, daemon_running, output_tail, shell_quote, start_daemon, stop_daemon,
    write_file, Cmd, DaemonSpec, NodeDirs, Remote, Signal,
};
use rift_core::{Db, PlugResult, RiftError, TestInfo};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// What one role's daemon is.
#[async_trait]
pub trait Daemon: Send + Sync {
    /// Its name in messages (`Bufstream`, `s3s-fs`, `PostgreSQL`).
    fn what(&self) -> &str;
    /// The short name of its files: `<log_dir>/<name>.log`, `<name>.pid`, data under
    /// `<data_dir>/<name>`.
    fn name(&self) -> &str;
    /// The TCP port that accepts connections once it serves.
    fn port(&self) -> u16;
    /// The process to run on `node`.
    fn spec(&self, node: &str, dirs: &NodeDirs, files: &Files) -> PlugResult<DaemonSpec>;
    /// Files to write before it starts: (path, contents).
    fn files(
        &self,
        _node: &str,
        _dirs: &NodeDirs,
        _files: &Files,
    ) -> PlugResult<Vec<(String, Vec<u8>)>> {
        Ok(Vec::new())
    }
    /// Runs after the files are written and before the first start (`initdb`, ...).
    async fn prepare(&self, _remote: &dyn Remote, _node: &str, _files: &Files) -> PlugResult<()> {
        Ok(())
    }
    /// Runs once the port accepts connections in setup (create the bucket, a database, ...).
    async fn ready(&self, _remote: &dyn Remote, _node: &str, _dirs: &NodeDirs) -> PlugResult<()> {
        Ok(())
    }
    /// Runs at teardown after the daemon is killed (stop helpers such as tcpdump).
    async fn cleanup(&self, _remote: &dyn Remote, _node: &str, _files: &Files) -> PlugResult<()> {
        Ok(())
    }
    /// Signal the daemon's whole process group, not only its pid (a server that forks its
    /// workers, such as PostgreSQL, is paused or killed whole; `start_daemon` makes the
    /// daemon a session and group leader).
    fn process_group(&self) -> bool {
        false
    }
    /// More files of the log directory to fetch into the store (beyond `<name>.log`).
    fn extra_logs(&self) -> Vec<String> {
        Vec::new()
    }
    /// Directories under the data directory to fetch as `(dir, tarball name)`:
    /// `("s3/jbucket", "bucket.tar.bz2")`.
    fn archives(&self) -> Vec<(String, String)> {
        Vec::new()
    }
}

/// Where a daemon's files are on one node.
#[derive(Clone, Debug)]
pub struct Files {
    /// `<log_dir>`.
    pub log_dir: String,
    /// `<data_dir>/<name>`: wiped on setup and teardown.
    pub data: String,
    /// `<log_dir>/<name>.log`.
    pub log: String,
    /// `<log_dir>/<name>.pid`.
    pub pid: String,
}

impl Files {
    /// The files of daemon `name` in `dirs`.
    pub fn of(dirs: &NodeDirs, name: &str) -> Files {
        let log_dir = dirs.log_dir.display().to_string();
        Files {
            data: dirs.data_dir.join(name).display().to_string(),
            log: format!("{log_dir}/{name}.log"),
            pid: format!("{log_dir}/{name}.pid"),
            log_dir,
        }
    }

    /// `<log_dir>/<file>`.
    pub fn in_logs(&self, file: &str) -> String {
        format!("{}/{file}", self.log_dir)
    }
}

/// Packs `<parent>/<dir>` on `node` into the bzip2 tarball `tarball` (paths inside it start
/// at `dir`), for the store; the error names the tarball's file and the node.
pub async fn archive_dir(
    remote: &dyn Remote,
    node: &str,
    parent: &str,
    dir: &str,
    tarball: &str,
) -> Result<(), String> {
    // tar exits 1 when a file changed while it read it (a daemon still writing): the
    // tarball is there all the same, and is what the store keeps.
    let script = format!(
        "cd {} && [ -e {d} ] && {{ tar cjf {} {d}; [ $? -le 1 ]; }}",
        shell_quote(parent),
        shell_quote(tarball),
        d = shell_quote(dir),
    );
    let name = Path::new(tarball)
        .file_name()
        .map_or_else(|| tarball.into(), |n| n.to_string_lossy());
    match remote.exec(node, &Cmd::shell(script).allow_failure()).await {
        Ok(o) if o.success() => Ok(()),
        Ok(o) => Err(format!(
            "{name} on {node}: tar failed: {}",
            String::from_utf8_lossy(&o.stderr).trim()
        )),
        Err(e) => Err(format!("{name} on {node}: {e}")),
    }
}

/// Runs the shell `script` on `node` (a daemon's `prepare` or `ready` step); a failure is a
/// `start-failed` error naming `what` and the node, with the command's output.
pub async fn run_script(
    remote: &dyn Remote,
    node: &str,
    what: &str,
    script: String,
) -> PlugResult<()> {
    let out = remote
        .exec(node, &Cmd::shell(script).allow_failure())
        .await
        .map_err(ctl)?;
    if out.success() {
        return Ok(());
    }
    Err(RiftError::new(
        "start-failed",
        format!(
            "{what} on {node} failed (exit {:?}): {} {}",
            out.exit_code,
            String::from_utf8_lossy(&out.stdout).trim(),
            String::from_utf8_lossy(&out.stderr).trim()
        ),
    ))
}

/// A [`Daemon`] on its role's nodes.
pub struct DaemonDb<D> {
    remote: Arc<dyn Remote>,
    nodes: BTreeMap<String, NodeDirs>,
    /// The daemon.
    pub daemon: D,
    /// How long setup waits for the port.
    pub setup_timeout: Duration,
    /// How long `start` (after a kill) waits before it checks the process is alive.
    pub start_grace: Duration,
}

/// A control-layer failure (a remote command, a file transfer, a daemon) as a suite's error,
/// of kind `control`.
pub fn control_error(e: rift_control::ControlError) -> RiftError {
    RiftError::new("control", e.to_string())
}

use control_error as ctl;

impl<D: Daemon> DaemonDb<D> {
    /// `daemon` on `nodes`.
    pub fn new(remote: Arc<dyn Remote>, nodes: Vec<(String, NodeDirs)>, daemon: D) -> Self {
        DaemonDb {
            remote,
            nodes: nodes.into_iter().collect(),
            daemon,
            setup_timeout: Duration::from_secs(60),
            start_grace: Duration::from_millis(300),
        }
    }

    /// The nodes it runs on.
    pub fn nodes(&self) -> Vec<String> {
        self.nodes.keys().cloned().collect()
    }

    fn dirs(&self, node: &str) -> PlugResult<&NodeDirs> {
        self.nodes.get(node).ok_or_else(|| {
            RiftError::new(
                "config",
                format!("{} does not run on {node}", self.daemon.what()),
            )
        })
    }

    fn files(&self, node: &str) -> PlugResult<Files> {
        Ok(Files::of(self.dirs(node)?, self.daemon.name()))
    }

    /// The last lines of `node`'s log.
    pub async fn log_tail(&self, node: &str) -> String {
        let Ok(f) = self.files(node) else {
            return String::new();
        };
        let cmd = Cmd::shell(format!("tail -n 25 {}", shell_quote(&f.log))).allow_failure();
        match self.remote.exec(node, &cmd).await {
            Ok(out) => output_tail(&out.stdout, 25, 6000),
            Err(e) => format!("(could not read {}: {e})", f.log),
        }
    }

    async fn failed(&self, node: &str, what: String) -> RiftError {
        let log = self.files(node).map(|f| f.log).unwrap_or_default();
        RiftError::new(
            "start-failed",
            format!(
                "{} on {node} {what}; the tail of {log}:\n{}",
                self.daemon.what(),
                self.log_tail(node).await
            ),
        )
    }

    async fn launch(&self, node: &str) -> PlugResult<rift_control::DaemonStart> {
        let f = self.files(node)?;
        let spec = self.daemon.spec(node, self.dirs(node)?, &f)?;
        start_daemon(&*self.remote, node, &spec).await.map_err(ctl)
    }

    async fn signal(&self, node: &str, signal: Signal) -> PlugResult<()> {
        let f = self.files(node)?;
        if self.daemon.process_group() {
            // The group first (its workers), then the leader through the pid file as usual.
            let script = format!(
                "[ -f {p} ] && pid=$(cat {p}) && [ -n \"$pid\" ] && kill -s {} -- -\"$pid\" 2>/dev/null; true",
                signal.name(),
                p = shell_quote(&f.pid)
            );
            self.run(node, Cmd::shell(script)).await?;
        }
        stop_daemon(&*self.remote, node, &f.pid, signal)
            .await
            .map_err(ctl)?;
        Ok(())
    }

    async fn wipe(&self, node: &str) -> PlugResult<()> {
        let f = self.files(node)?;
        let cmd = Cmd::new("rm").args(["-rf", &f.data]);
        self.remote.exec(node, &cmd).await.map_err(ctl)?;
        Ok(())
    }

    async fn run(&self, node: &str, cmd: Cmd) -> PlugResult<()> {
        self.remote.exec(node, &cmd).await.map_err(ctl).map(|_| ())
    }

    /// Starts the daemon and waits for its port; a process that exits first is an error with
    /// its log's tail.
    async fn start_and_wait(&self, node: &str) -> PlugResult<()> {
        self.launch(node).await?;
        let f = self.files(node)?;
        let deadline = tokio::time::Instant::now() + self.setup_timeout;
        loop {
            let step = Duration::from_millis(500);
            if await_tcp_port(&*self.remote, node, self.daemon.port(), step)
                .await
                .is_ok()
            {
                return Ok(());
            }
            if !daemon_running(&*self.remote, node, &f.pid)
                .await
                .map_err(ctl)?
            {
                return Err(self.failed(node, "exited before it served".into()).await);
            }
            if tokio::time::Instant::now() >= deadline {
                let what = format!(
                    "did not open port {} in {:?}",
                    self.daemon.port(),
                    self.setup_timeout
                );
                return Err(self.failed(node, what).await);
            }
        }
    }
}

#[async_trait]
impl<D: Daemon> Db for DaemonDb<D> {
    async fn setup(&self, test: &TestInfo, node: &str) -> PlugResult<()> {
        let f = self.files(node)?;
        self.teardown(test, node).await?;
        self.run(node, Cmd::new("mkdir").args(["-p", &f.log_dir, &f.data]))
            .await?;
        self.run(node, Cmd::new("rm").args(["-f", &f.log])).await?;
        for (path, contents) in self.daemon.files(node, self.dirs(node)?, &f)? {
            write_file(&*self.remote, node, &path, &contents)
                .await
                .map_err(ctl)?;
        }
        self.daemon.prepare(&*self.remote, node, &f).await?;
        self.start_and_wait(node).await?;
        self.daemon
            .ready(&*self.remote, node, self.dirs(node)?)
            .await
    }

    async fn teardown(&self, _test: &TestInfo, node: &str) -> PlugResult<()> {
        self.signal(node, Signal::Cont).await?;
        self.signal(node, Signal::Kill).await?;
        let f = self.files(node)?;
        self.daemon.cleanup(&*self.remote, node, &f).await?;
        self.wipe(node).await
    }

    async fn kill(&self, _test: &TestInfo, node: &str) -> PlugResult<()> {
        self.signal(node, Signal::Kill).await
    }

    async fn start(&self, _test: &TestInfo, node: &str) -> PlugResult<()> {
        if let rift_control::DaemonStart::AlreadyRunning(_) = self.launch(node).await? {
            return Ok(());
        }
        tokio::time::sleep(self.start_grace).await;
        let f = self.files(node)?;
        if !daemon_running(&*self.remote, node, &f.pid)
            .await
            .map_err(ctl)?
        {
            return Err(self.failed(node, "exited at start".into()).await);
        }
        Ok(())
    }

    async fn is_running(&self, _test: &TestInfo, node: &str) -> PlugResult<bool> {
        let f = self.files(node)?;
        daemon_running(&*self.remote, node, &f.pid)
            .await
            .map_err(ctl)
    }

    async fn pause(&self, _test: &TestInfo, node: &str) -> PlugResult<()> {
        self.signal(node, Signal::Stop).await
    }

    async fn resume(&self, _test: &TestInfo, node: &str) -> PlugResult<()> {
        self.signal(node, Signal::Cont).await
    }

    fn log_files(&self, _test: &TestInfo, node: &str) -> Vec<PathBuf> {
        let Ok(f) = self.files(node) else {
            return Vec::new();
        };
        let mut out = vec![PathBuf::from(&f.log)];
        out.extend(
            self.daemon
                .extra_logs()
                .iter()
                .map(|n| PathBuf::from(f.in_logs(n))),
        );
        out.extend(
            self.daemon
                .archives()
                .iter()
                .map(|(_, name)| PathBuf::from(f.in_logs(name))),
        );
        out
    }

    async fn fetch_logs(&self, test: &TestInfo, node: &str, dest: &Path) -> Vec<String> {
        let mut failures = Vec::new();
        if let Ok(f) = self.files(node) {
            for (dir, name) in self.daemon.archives() {
                let tarball = f.in_logs(&name);
                if let Err(e) = archive_dir(&*self.remote, node, &f.data, &dir, &tarball).await {
                    failures.push(e);
                }
            }
        }
        let files = self.log_files(test, node);
        failures.extend(rift_control::fetch_files(&*self.remote, node, &files, dest).await);
        failures
    }
}
