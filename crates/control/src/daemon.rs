//! Daemon and file helpers on top of any [`Remote`], in the spirit of Jepsen's
//! `start-daemon!`, `stop-daemon!`, `await-tcp-port` and `grepkill!`.

use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::error::ControlError;
use crate::remote::{shell_quote, Cmd, Remote, Signal};

/// A shell function: is pid `$1` alive? `kill -0` alone also succeeds for a zombie (a killed
/// daemon whose new parent has not reaped it yet), so zombies count as dead.
const ALIVE_FN: &str = "alive() { kill -0 \"$1\" 2>/dev/null && ! ps -o stat= -p \"$1\" 2>/dev/null | grep -q '^Z'; }\n";

/// How to start a daemon.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct DaemonSpec {
    /// The program to run.
    pub bin: String,
    /// Its arguments.
    pub args: Vec<String>,
    /// Where its pid is written; while that pid is alive, starting again does nothing.
    pub pidfile: String,
    /// Where its standard output and error are appended.
    pub logfile: String,
    /// The directory it runs in (`None`: the node's home).
    pub chdir: Option<String>,
    /// Extra environment variables.
    pub env: Vec<(String, String)>,
}

/// What [`start_daemon`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum DaemonStart {
    /// Started a new process with this pid.
    Started(u32),
    /// The pid file named a live process; nothing was started.
    AlreadyRunning(u32),
}

impl DaemonStart {
    /// The daemon's pid either way.
    pub fn pid(self) -> u32 {
        match self {
            DaemonStart::Started(p) | DaemonStart::AlreadyRunning(p) => p,
        }
    }
}

/// Starts `spec` in the background on `node` (in its own session, standard input from
/// `/dev/null`, output appended to the log file, pid written to the pid file). Idempotent:
/// does nothing when the pid file names a live process.
pub async fn start_daemon(
    remote: &dyn Remote,
    node: &str,
    spec: &DaemonSpec,
) -> Result<DaemonStart, ControlError> {
    let pidfile = shell_quote(&spec.pidfile);
    let logfile = shell_quote(&spec.logfile);
    let mut command = vec![shell_quote(&spec.bin)];
    command.extend(spec.args.iter().map(|a| shell_quote(a)));
    let chdir = spec
        .chdir
        .as_deref()
        .map(|d| format!("cd {} && ", shell_quote(d)))
        .unwrap_or_default();
    let script = format!(
        "{ALIVE_FN}if [ -f {pidfile} ] && pid=$(cat {pidfile}) && [ -n \"$pid\" ] && alive \"$pid\"; \
         then echo running \"$pid\"; exit 0; fi\n\
         mkdir -p \"$(dirname {logfile})\" \"$(dirname {pidfile})\" && {chdir}\
         {{ setsid {cmd} </dev/null >>{logfile} 2>&1 & }} && echo $! > {pidfile} && echo started $!",
        cmd = command.join(" "),
    );
    let mut cmd = Cmd::shell(script);
    cmd.env = spec.env.clone();
    let out = remote.exec(node, &cmd).await?;
    let text = out.stdout_str();
    let mut words = text.split_whitespace();
    let parsed = match (words.next(), words.next().and_then(|p| p.parse().ok())) {
        (Some("started"), Some(pid)) => Some(DaemonStart::Started(pid)),
        (Some("running"), Some(pid)) => Some(DaemonStart::AlreadyRunning(pid)),
        _ => None,
    };
    parsed.ok_or_else(|| ControlError::CommandFailed {
        node: node.to_string(),
        command: format!("start_daemon {}", spec.bin),
        exit_code: out.exit_code,
        stdout_tail: format!("unexpected output: {text:?}"),
        stderr_tail: String::from_utf8_lossy(&out.stderr).into_owned(),
    })
}

/// Sends `signal` to the pid in `pidfile` on `node`, waits up to 10 s for it to exit (not for
/// `Stop`/`Cont`), and removes the pid file once it has. Returns the pid signalled, `None` when
/// there was no pid file or its process was already gone.
pub async fn stop_daemon(
    remote: &dyn Remote,
    node: &str,
    pidfile: &str,
    signal: Signal,
) -> Result<Option<u32>, ControlError> {
    let pf = shell_quote(pidfile);
    let wait = if matches!(signal, Signal::Stop | Signal::Cont) {
        "echo signalled \"$pid\"; exit 0".to_string()
    } else {
        format!(
            "{ALIVE_FN}i=0; while alive \"$pid\"; do i=$((i+1)); \
             if [ $i -gt 200 ]; then echo alive \"$pid\"; exit 3; fi; sleep 0.05; done\n\
             rm -f {pf}; echo signalled \"$pid\""
        )
    };
    let script = format!(
        "[ -f {pf} ] || {{ echo none; exit 0; }}\npid=$(cat {pf})\n\
         if [ -z \"$pid\" ] || ! kill -s {sig} \"$pid\" 2>/dev/null; then rm -f {pf}; echo none; exit 0; fi\n{wait}",
        sig = signal.name(),
    );
    let out = remote.exec(node, &Cmd::shell(script)).await?;
    let text = out.stdout_str();
    Ok(text
        .strip_prefix("signalled ")
        .and_then(|p| p.trim().parse().ok()))
}

/// Waits until something accepts TCP connections on `127.0.0.1:port` inside `node`, polling
/// every 100 ms; [`ControlError::Timeout`] after `timeout`.
pub async fn await_tcp_port(
    remote: &dyn Remote,
    node: &str,
    port: u16,
    timeout: Duration,
) -> Result<(), ControlError> {
    let deadline = Instant::now() + timeout;
    let probe = Cmd::shell(format!(
        "timeout 1 bash -c '</dev/tcp/127.0.0.1/{port}' 2>/dev/null"
    ))
    .allow_failure()
    .timeout(Duration::from_secs(3));
    loop {
        if remote.exec(node, &probe).await.is_ok_and(|o| o.success()) {
            return Ok(());
        }
        if Instant::now() >= deadline {
            return Err(ControlError::Timeout {
                node: node.to_string(),
                what: format!("TCP port {port} to accept connections"),
                timeout_ms: timeout.as_millis() as u64,
            });
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Sends `signal` to every process on `node` whose command line matches the extended regular
/// expression `pattern` (as `pgrep -f`), and returns their pids. Only processes in the same
/// network namespace as the command are touched, so on a local cluster it never reaches
/// another node's processes; the pattern travels in the environment so that the command
/// itself does not match.
pub async fn grep_kill(
    remote: &dyn Remote,
    node: &str,
    pattern: &str,
    signal: Signal,
) -> Result<Vec<u32>, ControlError> {
    let script = format!(
        "me=$(readlink /proc/self/ns/net)\n\
         for p in $(pgrep -f -- \"$RIFT_PATTERN\"); do\n\
         [ \"$p\" = $$ ] && continue\n\
         [ \"$(readlink /proc/$p/ns/net 2>/dev/null)\" = \"$me\" ] || continue\n\
         kill -s {} \"$p\" 2>/dev/null && echo \"$p\"\n\
         done; exit 0",
        signal.name()
    );
    let cmd = Cmd::shell(script).env("RIFT_PATTERN", pattern);
    let out = remote.exec(node, &cmd).await?;
    Ok(out
        .stdout_str()
        .split_whitespace()
        .filter_map(|w| w.parse().ok())
        .collect())
}

/// Whether `path` exists on `node`.
pub async fn file_exists(
    remote: &dyn Remote,
    node: &str,
    path: &str,
) -> Result<bool, ControlError> {
    let cmd = Cmd::new("test").arg("-e").arg(path).allow_failure();
    let out = remote.exec(node, &cmd).await?;
    match out.exit_code {
        Some(0) => Ok(true),
        Some(1) => Ok(false),
        _ => Err(out.to_error(node, &cmd)),
    }
}

/// Writes `contents` to `path` on `node` (through standard input), creating parent
/// directories.
pub async fn write_file(
    remote: &dyn Remote,
    node: &str,
    path: &str,
    contents: &[u8],
) -> Result<(), ControlError> {
    let p = shell_quote(path);
    let cmd = Cmd::shell(format!("mkdir -p \"$(dirname {p})\" && cat > {p}")).stdin(contents);
    remote.exec(node, &cmd).await.map(|_| ())
}

/// Whether the pid in `pidfile` on `node` names a live process (a zombie counts as dead; no
/// pid file, or an empty one, is not running).
pub async fn daemon_running(
    remote: &dyn Remote,
    node: &str,
    pidfile: &str,
) -> Result<bool, ControlError> {
    let pf = shell_quote(pidfile);
    let script = format!(
        "{ALIVE_FN}[ -f {pf} ] && pid=$(cat {pf}) && [ -n \"$pid\" ] && alive \"$pid\" && echo up || echo down"
    );
    let out = remote.exec(node, &Cmd::shell(script)).await?;
    Ok(out.stdout_str().trim() == "up")
}

/// The script [`install_packages`] runs: installs the Debian packages not installed yet, once
/// at a time per node (`flock` on a lock file, and apt's own lock with a timeout), updating the
/// package index only when a package is unknown.
pub fn install_packages_script(packages: &[String]) -> String {
    let list: Vec<String> = packages.iter().map(|p| shell_quote(p)).collect();
    format!(
        "set -e\nexport DEBIAN_FRONTEND=noninteractive\n\
         missing=''\nfor p in {pkgs}; do dpkg-query -W -f='${{Status}}' \"$p\" 2>/dev/null | grep -q 'install ok installed' || missing=\"$missing $p\"; done\n\
         [ -z \"$missing\" ] && {{ echo installed-none; exit 0; }}\n\
         exec 9>/var/lock/rift-apt.lock\nflock -w 600 9\n\
         apt_get() {{ apt-get -o DPkg::Lock::Timeout=600 -y -q \"$@\"; }}\n\
         apt_get install $missing >/dev/null 2>&1 || {{ apt_get update >/dev/null 2>&1; apt_get install $missing; }}\n\
         echo installed$missing",
        pkgs = list.join(" ")
    )
}

/// Installs Debian packages on `node` with apt (as Jepsen's `debian/install`): only those not
/// installed yet, serialised per node by a lock, with one `apt-get update` retry when a package
/// is unknown. Returns the packages it installed. Needs root (or a sudo remote).
pub async fn install_packages(
    remote: &dyn Remote,
    node: &str,
    packages: &[String],
) -> Result<Vec<String>, ControlError> {
    if packages.is_empty() {
        return Ok(Vec::new());
    }
    let cmd = Cmd::shell(install_packages_script(packages)).timeout(Duration::from_secs(1200));
    let out = remote.exec(node, &cmd).await?;
    let text = out.stdout_str();
    let line = text.lines().last().unwrap_or("");
    Ok(match line.strip_prefix("installed") {
        Some(rest) if rest != "-none" => rest.split_whitespace().map(str::to_string).collect(),
        _ => Vec::new(),
    })
}

/// The script [`install_archive`] runs on the node once the archive is at `archive`: unpacks
/// it (tar.gz, tgz, tar.bz2, tar.xz, tar or zip) into `dest`, replacing what was there, with a
/// single top-level directory stripped (as Jepsen's `install-archive!`).
pub fn install_archive_script(archive: &str, dest: &str) -> String {
    let a = shell_quote(archive);
    let d = shell_quote(dest);
    format!(
        "set -e\ntmp=$(mktemp -d)\ntrap 'rm -rf \"$tmp\"' EXIT\n\
         case {a} in\n\
           *.zip) unzip -q {a} -d \"$tmp\" ;;\n\
           *) tar -xf {a} -C \"$tmp\" ;;\n\
         esac\n\
         set -- \"$tmp\"/*\n\
         if [ $# -eq 1 ] && [ -d \"$1\" ]; then src=\"$1\"; else src=\"$tmp\"; fi\n\
         rm -rf {d} && mkdir -p {d} && cp -a \"$src\"/. {d}/\necho installed"
    )
}

/// Installs an archive on `node` into `dest` (Jepsen's `install-archive!`): `source` is a URL
/// (fetched on the node with curl or wget) or a local file (uploaded). A single top-level
/// directory in the archive is stripped; `dest` is replaced.
pub async fn install_archive(
    remote: &dyn Remote,
    node: &str,
    source: &str,
    dest: &str,
) -> Result<(), ControlError> {
    let name = source.rsplit('/').next().unwrap_or("archive");
    let staged = format!("/tmp/rift-archive-{}-{name}", std::process::id());
    if source.starts_with("http://") || source.starts_with("https://") {
        let s = shell_quote(&staged);
        let u = shell_quote(source);
        let fetch = Cmd::shell(format!(
            "if command -v curl >/dev/null; then curl -fsSL -o {s} {u}; \
             else wget -q -O {s} {u}; fi"
        ))
        .timeout(Duration::from_secs(600));
        remote.exec(node, &fetch).await?;
    } else {
        remote
            .upload(node, std::path::Path::new(source), &staged)
            .await?;
    }
    let cmd = Cmd::shell(format!(
        "{}; rc=$?; rm -f {}; exit $rc",
        install_archive_script(&staged, dest).replace("echo installed", "true"),
        shell_quote(&staged)
    ));
    remote.exec(node, &cmd).await.map(|_| ())
}

#[cfg(test)]
mod apt_tests {
    use super::*;

    #[test]
    fn the_apt_script_quotes_packages_and_locks() {
        let s = install_packages_script(&["etcd-server".into(), "a b".into()]);
        assert!(s.contains("for p in etcd-server 'a b'; do"), "{s}");
        assert!(s.contains("flock -w 600 9"));
        assert!(s.contains("DPkg::Lock::Timeout=600"));
    }
}
