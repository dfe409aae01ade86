//! Finding or installing the etcd binary on the host (the local cluster's nodes share its
//! filesystem), and keeping Debian's packaged etcd service out of the way.

use crate::EtcdError;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The Debian package that ships etcd.
pub const ETCD_PACKAGE: &str = "etcd-server";

/// What [`install_etcd`] found or did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Installed {
    /// The binary the members run.
    pub bin: String,
    /// Its `--version` first line (`etcd Version: 3.4.23`).
    pub version: String,
    /// Whether apt installed the package now.
    pub apt: bool,
    /// Pids of the packaged default etcd that were stopped after installing.
    pub stopped_default: Vec<u32>,
}

/// Returns the etcd binary to run: `bin` when given (it must exist), else `etcd` on `PATH`,
/// else installs Debian's `etcd-server` with apt and stops the default service the package
/// may have started on the host (`systemctl disable --now etcd` under systemd; without
/// systemd, host-namespace `etcd` processes started without flags, as the packaged service
/// runs it: never a member of ours, which always runs with `--initial-cluster-token`).
pub fn install_etcd(bin: Option<&Path>) -> Result<Installed, EtcdError> {
    if let Some(b) = bin {
        if !b.is_file() {
            return Err(EtcdError::Config(format!(
                "--bin {}: no such file",
                b.display()
            )));
        }
        return Ok(Installed {
            bin: b.display().to_string(),
            version: version_of(b)?,
            apt: false,
            stopped_default: Vec::new(),
        });
    }
    if let Some(b) = on_path("etcd") {
        return Ok(Installed {
            version: version_of(&b)?,
            bin: b.display().to_string(),
            apt: false,
            stopped_default: Vec::new(),
        });
    }
    apt_install()?;
    let b = on_path("etcd").ok_or_else(|| {
        EtcdError::Install(format!(
            "{ETCD_PACKAGE} is installed but no etcd is on PATH"
        ))
    })?;
    let stopped = stop_packaged_service();
    Ok(Installed {
        version: version_of(&b)?,
        bin: b.display().to_string(),
        apt: true,
        stopped_default: stopped,
    })
}

/// The first `name` in `$PATH` that is a file.
pub fn on_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

fn version_of(bin: &Path) -> Result<String, EtcdError> {
    let out = Command::new(bin)
        .arg("--version")
        .output()
        .map_err(|e| EtcdError::Install(format!("running {} --version: {e}", bin.display())))?;
    let text = String::from_utf8_lossy(&out.stdout);
    Ok(text.lines().next().unwrap_or("").trim().to_string())
}

fn apt_install() -> Result<(), EtcdError> {
    let run = |args: &[&str]| {
        Command::new("apt-get")
            .args(args)
            .env("DEBIAN_FRONTEND", "noninteractive")
            .output()
            .map_err(|e| EtcdError::Install(format!("running apt-get: {e}")))
    };
    let install = [
        "-o",
        "DPkg::Lock::Timeout=600",
        "-y",
        "-q",
        "install",
        ETCD_PACKAGE,
    ];
    let out = run(&install)?;
    if out.status.success() {
        return Ok(());
    }
    // The package index may be stale or missing: update once and retry.
    let _ = run(&["-q", "update"])?;
    let out = run(&install)?;
    if out.status.success() {
        return Ok(());
    }
    Err(EtcdError::Install(format!(
        "apt-get install -y {ETCD_PACKAGE} failed ({}): {}",
        out.status,
        tail(&out.stderr)
    )))
}

fn tail(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(5)..].join("\n")
}

/// Stops the service the package may have started: through systemd when it runs, else by
/// SIGTERM to the host-namespace etcd processes that carry no flags at all.
fn stop_packaged_service() -> Vec<u32> {
    if Path::new("/run/systemd/system").is_dir() {
        let _ = Command::new("systemctl")
            .args(["disable", "--now", "etcd"])
            .output();
    }
    let Ok(me) = std::fs::read_link("/proc/self/ns/net") else {
        return Vec::new();
    };
    let mut stopped = Vec::new();
    for pid in etcd_pids() {
        let ns = std::fs::read_link(format!("/proc/{pid}/ns/net")).ok();
        let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
        if ns.as_ref() == Some(&me) && is_packaged_default(&cmdline) {
            let ok = Command::new("kill")
                .args(["-TERM", &pid.to_string()])
                .status()
                .is_ok_and(|s| s.success());
            if ok {
                stopped.push(pid);
            }
        }
    }
    stopped
}

/// Pids of processes named `etcd`.
fn etcd_pids() -> Vec<u32> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/comm"))
                .is_ok_and(|c| c.trim_end() == "etcd")
        })
        .collect()
}

/// True for the command line of Debian's service: the binary alone, configured through
/// `/etc/default/etcd`. Our members always carry flags.
pub fn is_packaged_default(cmdline: &[u8]) -> bool {
    let args: Vec<&[u8]> = cmdline
        .split(|b| *b == 0)
        .filter(|a| !a.is_empty())
        .collect();
    args.len() == 1 && args[0].ends_with(b"etcd")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_flagless_packaged_etcd_is_the_default() {
        assert!(is_packaged_default(b"/usr/bin/etcd\0"));
        assert!(!is_packaged_default(
            b"/usr/bin/etcd\0--name=n1\0--initial-cluster-token=rift-1-2\0"
        ));
        assert!(!is_packaged_default(b"/usr/bin/etcdctl\0get\0"));
        assert!(!is_packaged_default(b""));
    }

    #[test]
    fn a_missing_bin_is_a_config_error() {
        let e = install_etcd(Some(Path::new("/nonexistent/etcd"))).unwrap_err();
        assert_eq!(
            e.to_string(),
            "config: --bin /nonexistent/etcd: no such file"
        );
    }
}
