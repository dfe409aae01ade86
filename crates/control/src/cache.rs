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

/// Fetches the PyPI wheel `spec` (`name==version`, no dependencies, binary only) with
/// `python3 -m pip download` into `download` (emptied first) and unpacks it into `staged`
/// (emptied first; a wheel is a zip archive, unpacked with Python's `zipfile`). The error
/// names `spec` and pip's or zipfile's last lines.
pub fn pip_wheel(
    spec: &str,
    download: &std::path::Path,
    staged: &std::path::Path,
) -> Result<(), String> {
    let tail = |b: &[u8]| crate::output_tail(b, 6, 2048);
    let _ = std::fs::remove_dir_all(download);
    let _ = std::fs::remove_dir_all(staged);
    std::fs::create_dir_all(download)
        .map_err(|e| format!("creating {}: {e}", download.display()))?;
    let out = std::process::Command::new("python3")
        .args([
            "-m",
            "pip",
            "download",
            "--no-deps",
            "--only-binary=:all:",
            "-d",
        ])
        .arg(download)
        .arg(spec)
        .output()
        .map_err(|e| format!("`python3 -m pip download {spec}`: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "`python3 -m pip download {spec}` failed:\n{}",
            tail(&out.stderr)
        ));
    }
    let wheel = std::fs::read_dir(download)
        .map_err(|e| e.to_string())?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .find(|p| p.extension().is_some_and(|x| x == "whl"))
        .ok_or_else(|| format!("pip left no wheel of {spec} in {}", download.display()))?;
    let out = std::process::Command::new("python3")
        .args(["-m", "zipfile", "-e"])
        .arg(&wheel)
        .arg(staged)
        .output()
        .map_err(|e| format!("unpacking {}: {e}", wheel.display()))?;
    if !out.status.success() {
        return Err(format!(
            "unpacking {}: {}",
            wheel.display(),
            tail(&out.stderr)
        ));
    }
    let _ = std::fs::remove_dir_all(download);
    Ok(())
}

/// A file name for rift's cache from the last part of a path or URL: anything but ASCII
/// letters, digits, `.` and `-` becomes `_`.
pub fn cache_key(path_or_url: &str) -> String {
    let name = path_or_url.rsplit('/').next().unwrap_or(path_or_url);
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_wheel_is_fetched_and_unpacked() {
        let d = tempfile::tempdir().unwrap();
        let (dl, staged) = (d.path().join("dl"), d.path().join("out"));
        match pip_wheel("six==1.16.0", &dl, &staged) {
            Ok(()) => {
                assert!(staged.join("six.py").is_file());
                assert!(!dl.exists(), "the download directory is removed");
            }
            // No pip or no PyPI here: the error says which command failed.
            Err(e) => {
                assert!(e.contains("pip download six==1.16.0"), "{e}");
                println!("skipped: no wheel could be fetched here: {e}");
            }
        }
        let e = pip_wheel("rift-no-such-wheel-zz==0.0.1", &dl, &staged).unwrap_err();
        assert!(e.contains("rift-no-such-wheel-zz"), "{e}");
    }

    #[test]
    fn cache_keys_are_plain_file_names() {
        assert_eq!(
            cache_key("https://x.org/a/flink-2.2.1-bin.tgz"),
            "flink-2.2.1-bin.tgz"
        );
        assert_eq!(cache_key("/tmp/my kafka;1.tgz"), "my_kafka_1.tgz");
    }

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
