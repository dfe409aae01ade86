//! Host-side helpers: run `ip` and `kill`, read pids, write files atomically. Synchronous on
//! purpose: teardown must work from `Drop` and from a CLI without a runtime.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::error::ControlError;
use crate::remote::{Cmd, Output, Signal};

/// The `ip` binary: `/usr/sbin/ip` when present (sbin is often missing from a user's PATH).
pub(crate) fn ip_program() -> &'static str {
    if Path::new("/usr/sbin/ip").exists() {
        "/usr/sbin/ip"
    } else {
        "ip"
    }
}

/// Runs a host command, feeding `stdin`, and returns its output whatever the exit code.
pub(crate) fn run_raw(argv: &[&str], stdin: Option<&[u8]>) -> Result<Output, ControlError> {
    let shown = argv.join(" ");
    let mut command = Command::new(argv[0]);
    command
        .args(&argv[1..])
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = command
        .spawn()
        .map_err(|e| ControlError::io(format!("starting `{shown}`"), e))?;
    if let (Some(bytes), Some(mut pipe)) = (stdin, child.stdin.take()) {
        pipe.write_all(bytes)
            .map_err(|e| ControlError::io(format!("feeding `{shown}`"), e))?;
    }
    let out = child
        .wait_with_output()
        .map_err(|e| ControlError::io(format!("waiting for `{shown}`"), e))?;
    Ok(Output {
        exit_code: out.status.code(),
        stdout: out.stdout,
        stderr: out.stderr,
    })
}

/// Runs a host command that must succeed; "Operation not permitted" becomes
/// [`ControlError::NeedsRoot`].
pub(crate) fn run_checked(argv: &[&str], stdin: Option<&[u8]>) -> Result<Output, ControlError> {
    let out = run_raw(argv, stdin)?;
    if out.success() {
        return Ok(out);
    }
    let stderr = String::from_utf8_lossy(&out.stderr);
    if stderr.contains("Operation not permitted") || stderr.contains("Permission denied") {
        return Err(ControlError::NeedsRoot {
            action: format!("running `{}`", argv.join(" ")),
        });
    }
    let mut cmd = Cmd::new(argv[0]).args(argv[1..].iter().copied());
    if let Some(bytes) = stdin {
        // Show the batch script in the error: it is the interesting part.
        cmd = Cmd::shell(format!(
            "{} <<EOF\n{}EOF",
            cmd.script(),
            String::from_utf8_lossy(bytes)
        ));
    }
    Err(out.to_error("localhost", &cmd))
}

/// Runs `ip -batch -` (in namespace `netns` when given) with one command per line.
pub(crate) fn ip_batch(netns: Option<&str>, lines: &[String]) -> Result<(), ControlError> {
    let mut script = lines.join("\n");
    script.push('\n');
    let ip = ip_program();
    let mut argv = vec![ip];
    if let Some(ns) = netns {
        argv.extend(["-n", ns]);
    }
    argv.extend(["-batch", "-"]);
    run_checked(&argv, Some(script.as_bytes())).map(|_| ())
}

/// The effective uid of this process, read from `/proc/self/status`.
pub(crate) fn effective_uid() -> Option<u32> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("Uid:"))?;
    line.split_whitespace().nth(2)?.parse().ok()
}

/// Names of the network namespaces `ip netns list` shows.
pub(crate) fn netns_list() -> Vec<String> {
    match run_raw(&[ip_program(), "netns", "list"], None) {
        Ok(out) => String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(|l| l.split_whitespace().next().map(str::to_string))
            .collect(),
        Err(_) => Vec::new(),
    }
}

/// Names of the links in the root network namespace.
pub(crate) fn link_names() -> Vec<String> {
    let Ok(out) = run_raw(&[ip_program(), "-o", "link", "show"], None) else {
        return Vec::new();
    };
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| {
            let name = l.split(": ").nth(1)?;
            Some(name.split('@').next()?.to_string())
        })
        .collect()
}

/// Pids of the processes whose network namespace is `ns` (`ip netns pids`).
pub(crate) fn netns_pids(ns: &str) -> Vec<u32> {
    match run_raw(&[ip_program(), "netns", "pids", ns], None) {
        Ok(out) if out.success() => parse_pids(&String::from_utf8_lossy(&out.stdout)),
        _ => Vec::new(),
    }
}

/// Pids listed one per line (as in `cgroup.procs`), skipping anything else.
pub(crate) fn parse_pids(text: &str) -> Vec<u32> {
    text.split_whitespace()
        .filter_map(|w| w.parse().ok())
        .collect()
}

/// Pids in a cgroup directory's `cgroup.procs` (empty when it does not exist).
pub(crate) fn cgroup_pids(dir: &Path) -> Vec<u32> {
    std::fs::read_to_string(dir.join("cgroup.procs"))
        .map(|t| parse_pids(&t))
        .unwrap_or_default()
}

/// Sends `signal` to every pid (ignoring pids that already exited).
pub(crate) fn signal_pids(pids: &[u32], signal: Signal) {
    if pids.is_empty() {
        return;
    }
    let strs: Vec<String> = pids.iter().map(u32::to_string).collect();
    let mut argv = vec!["kill", "-s", signal.name(), "--"];
    argv.extend(strs.iter().map(String::as_str));
    // Pids that exited meanwhile make kill fail; that is fine.
    let _ = run_raw(&argv, None);
}

/// Writes `bytes` to `path` through a temporary file and a rename.
pub(crate) fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), ControlError> {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, bytes)
        .map_err(|e| ControlError::io(format!("writing {}", tmp.display()), e))?;
    std::fs::rename(&tmp, path).map_err(|e| {
        ControlError::io(
            format!("renaming {} to {}", tmp.display(), path.display()),
            e,
        )
    })
}

/// The cgroup v2 mount to use: the hybrid `unified` mount or a pure v2 `/sys/fs/cgroup`.
pub(crate) fn detect_cgroup2_root() -> Option<PathBuf> {
    ["/sys/fs/cgroup/unified", "/sys/fs/cgroup"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.join("cgroup.subtree_control").exists() && p.join("cgroup.procs").exists())
}

/// Sleeps in small steps until `done` holds or `limit_ms` passes; returns whether it held.
pub(crate) fn wait_until(limit_ms: u64, mut done: impl FnMut() -> bool) -> bool {
    let start = std::time::Instant::now();
    loop {
        if done() {
            return true;
        }
        if start.elapsed().as_millis() as u64 >= limit_ms {
            return false;
        }
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
}

/// Installs Debian `packages` with apt-get when this process is root; else (not root, or no
/// apt-get) an error saying which command installs them. A message saying which command installs them otherwise (not root, or no apt-get).
pub fn apt_or_explain(what: &str, packages: &str) -> Result<(), String> {
    if !crate::local::is_root() || Command::new("apt-get").arg("--version").output().is_err() {
        return Err(format!(
            "{what} is missing: install it (`sudo apt-get install -y {packages}`) and run again"
        ));
    }
    eprintln!("installing {packages} with apt-get ({what} is missing)");
    let t = std::time::Instant::now();
    let ok = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "export DEBIAN_FRONTEND=noninteractive; apt-get install -y -q {packages} >/dev/null 2>&1 || \
             {{ apt-get update -q >/dev/null 2>&1 && apt-get install -y -q {packages} >/dev/null 2>&1; }}"
        ))
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        return Err(format!(
            "{what} is missing and `apt-get install -y {packages}` failed; install it by hand"
        ));
    }
    eprintln!("installed {packages} in {:.1} s", t.elapsed().as_secs_f64());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pids_parse() {
        assert_eq!(parse_pids("12\n345\n"), vec![12, 345]);
        assert_eq!(parse_pids(""), Vec::<u32>::new());
        assert_eq!(parse_pids("x 7"), vec![7]);
    }

    #[test]
    fn uid_is_read() {
        assert!(effective_uid().is_some());
    }

    #[test]
    fn atomic_write_replaces() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("s.json");
        write_atomic(&p, b"one").unwrap();
        write_atomic(&p, b"two").unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"two");
        assert!(!p.with_extension("tmp").exists());
    }
}
