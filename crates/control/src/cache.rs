//! rift's cache directory: where downloaded systems (Maven jars, release archives, built
//! brokers) are kept once and reused by every suite, test and CI run on the machine.

use std::path::PathBuf;

/// The environment variable that overrides [`cache_dir`].
pub const CACHE_VAR: &str = "RIFT_CACHE";

/// The cache directory: `$RIFT_CACHE` when set; else `/var/cache/rift` for root; else
/// `$XDG_CACHE_HOME/rift`, else `~/.cache/rift`, else `/tmp/rift-cache`. Not created here.
pub fn cache_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os(CACHE_VAR).filter(|d| !d.is_empty()) {
        return PathBuf::from(dir);
    }
    if crate::is_root() {
        return PathBuf::from("/var/cache/rift");
    }
    if let Some(x) = std::env::var_os("XDG_CACHE_HOME").filter(|d| !d.is_empty()) {
        return PathBuf::from(x).join("rift");
    }
    match std::env::var_os("HOME").filter(|d| !d.is_empty()) {
        Some(home) => PathBuf::from(home).join(".cache").join("rift"),
        None => PathBuf::from("/tmp/rift-cache"),
    }
}

/// Makes `bin` once: returns it when it is already a file; otherwise runs `build` (a
/// `cargo install`, `go install`, ...; `how` is that command as the user would type it) and
/// returns `bin` once it exists. The time it took is logged; a failure names `what`, `how`
/// and the last lines of the build's standard error.
pub fn build_once(
    bin: &std::path::Path,
    what: &str,
    how: &str,
    mut build: std::process::Command,
) -> Result<PathBuf, String> {
    if bin.is_file() {
        return Ok(bin.to_path_buf());
    }
    tracing::info!("building {what} into {} (once per machine)", bin.display());
    let started = std::time::Instant::now();
    let out = build
        .output()
        .map_err(|e| format!("{what} is built with `{how}`: {e}"))?;
    if !out.status.success() || !bin.is_file() {
        let err = String::from_utf8_lossy(&out.stderr);
        let tail: Vec<&str> = err.lines().rev().take(8).collect();
        return Err(format!(
            "building {what} failed (`{how}`):\n{}",
            tail.into_iter().rev().collect::<Vec<_>>().join("\n")
        ));
    }
    tracing::info!(
        secs = started.elapsed().as_secs(),
        "built {what} into {}",
        bin.display()
    );
    Ok(bin.to_path_buf())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn build_once_builds_when_missing_and_reports_failures() {
        let dir = tempfile::tempdir().unwrap();
        let bin = dir.path().join("tool");
        let mut make = std::process::Command::new("sh");
        make.arg("-c").arg(format!("echo hi > {}", bin.display()));
        assert_eq!(build_once(&bin, "tool", "make tool", make).unwrap(), bin);
        // Present: the build is not run again.
        let fail = std::process::Command::new("false");
        assert_eq!(build_once(&bin, "tool", "false", fail).unwrap(), bin);
        let other = dir.path().join("other");
        let mut bad = std::process::Command::new("sh");
        bad.arg("-c").arg("echo compile error >&2; exit 1");
        let e = build_once(&other, "other", "make other", bad).unwrap_err();
        assert_eq!(e, "building other failed (`make other`):\ncompile error");
        // Exits 0 without making it: still a failure.
        let e =
            build_once(&other, "other", "true", std::process::Command::new("true")).unwrap_err();
        assert!(e.starts_with("building other failed (`true`)"), "{e}");
    }
}
