//! Where PD and TiKV come from: PingCAP's release tarball, as the seed takes it. TiKV and PD
//! are in no package registry; `--version vX.Y.Z` builds the seed's URL
//! (`http://download.pingcap.org/tidb-vX.Y.Z-linux-amd64.tar.gz`, the tarball whose `bin/`
//! holds `pd-server`, `tikv-server` and `pd-ctl`), `--tarball FILE|URL` names one instead
//! (more than once: PingCAP's per-component tarballs, `pd-vX.Y.Z-linux-amd64.tar.gz` and
//! `tikv-vX.Y.Z-linux-amd64.tar.gz`, together). On the local cluster the nodes share this
//! machine's file system: the tarballs are unpacked once into rift's cache directory; on SSH
//! nodes into `/var/lib/rift/<node>/tidb` on each, and kept there (teardown removes data,
//! never binaries), so a later run skips the download.

use rift_control::{shell_quote, Cmd, Remote};
use rift_suite::SuiteError;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The seed's download host.
pub const DOWNLOAD_BASE: &str = "http://download.pingcap.org";
/// The oldest TiKV the Rust client (tikv-client 0.4) talks to.
pub const MIN_VERSION: (u64, u64, u64) = (5, 0, 0);
/// The environment variable the root tests read: a tarball (file or URL) with `pd-server`
/// and `tikv-server`.
pub const TARBALL_VAR: &str = "RIFT_TIKV_TARBALL";
/// The binaries a tarball must hold.
pub const BINARIES: &[&str] = &["pd-server", "tikv-server"];

/// Parses `vX.Y.Z` (a leading `v`, three numbers, an optional `-suffix` such as `-rc.1`).
pub fn parse_version(v: &str) -> Result<(u64, u64, u64), SuiteError> {
    let bad = || {
        SuiteError::bad(format!(
            "--version {v:?}: expected a TiKV release such as v7.5.1 (a leading v and three numbers)"
        ))
    };
    let rest = v.strip_prefix('v').ok_or_else(bad)?;
    let core = rest.split('-').next().unwrap_or("");
    let nums: Vec<&str> = core.split('.').collect();
    if nums.len() != 3 {
        return Err(bad());
    }
    let n = |s: &str| s.parse::<u64>().map_err(|_| bad());
    let parsed = (n(nums[0])?, n(nums[1])?, n(nums[2])?);
    if parsed < MIN_VERSION {
        return Err(SuiteError::bad(format!(
            "--version {v}: rift's TiKV client (the tikv-client crate, 0.4) needs TiKV v{}.{}.{} or later",
            MIN_VERSION.0, MIN_VERSION.1, MIN_VERSION.2
        )));
    }
    Ok(parsed)
}

/// The seed's tarball URL for `version`.
pub fn tarball_url(version: &str) -> Result<String, SuiteError> {
    parse_version(version)?;
    Ok(format!("{DOWNLOAD_BASE}/tidb-{version}-linux-amd64.tar.gz"))
}

/// Whether `s` is fetched rather than read from this machine.
pub fn is_url(s: &str) -> bool {
    s.starts_with("http://") || s.starts_with("https://")
}

/// The tarballs of a run: `--tarball` values when given (files must exist), else the seed's
/// URL of `--version`; neither is an error that says what to give.
pub fn sources(version: Option<&str>, tarballs: &[String]) -> Result<Vec<String>, SuiteError> {
    if !tarballs.is_empty() {
        for t in tarballs {
            if !is_url(t) && !Path::new(t).is_file() {
                return Err(SuiteError::bad(format!("--tarball {t}: no such file")));
            }
        }
        if let Some(v) = version {
            parse_version(v)?;
        }
        return Ok(tarballs.to_vec());
    }
    match version {
        Some(v) => Ok(vec![tarball_url(v)?]),
        None => Err(SuiteError::bad(
            "--db tikv needs PD and TiKV: give --version vX.Y.Z (PingCAP's tarball, as the seed) \
             or --tarball FILE|URL (a release tarball with pd-server and tikv-server)",
        )),
    }
}

/// The binaries found under a directory: `pd-server`, `tikv-server` and, when there,
/// `pd-ctl`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Binaries {
    /// `pd-server`.
    pub pd: String,
    /// `tikv-server`.
    pub kv: String,
    /// `pd-ctl`, when the tarball has it (the nemesis uses PD's HTTP API either way).
    pub pd_ctl: Option<String>,
}

/// Picks the binaries out of `find`'s output (one path per line); a missing one is an error
/// naming the tarballs and what they hold.
pub fn pick_binaries(listing: &str, sources: &[String]) -> Result<Binaries, SuiteError> {
    let find = |name: &str| {
        let mut hits: Vec<&str> = listing
            .lines()
            .map(str::trim)
            .filter(|l| Path::new(l).file_name().and_then(|f| f.to_str()) == Some(name))
            .collect();
        // The shallowest one (`bin/pd-server` over a copy deeper down).
        hits.sort_by_key(|p| (p.matches('/').count(), p.to_string()));
        hits.first().map(|s| s.to_string())
    };
    let missing: Vec<&str> = BINARIES
        .iter()
        .copied()
        .filter(|b| find(b).is_none())
        .collect();
    if !missing.is_empty() {
        let held: Vec<&str> = listing
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .take(12)
            .collect();
        return Err(SuiteError::failed(format!(
            "{}: no {} in it (it holds: {}); a TiKV release tarball has bin/pd-server and bin/tikv-server",
            sources.join(", "),
            missing.join(" or "),
            if held.is_empty() {
                "nothing".to_string()
            } else {
                held.join(", ")
            }
        )));
    }
    Ok(Binaries {
        pd: find("pd-server").unwrap_or_default(),
        kv: find("tikv-server").unwrap_or_default(),
        pd_ctl: find("pd-ctl"),
    })
}

/// A short stable name for a set of sources (the cache and node directory it unpacks into).
pub fn source_key(sources: &[String]) -> String {
    // FNV-1a: stable across runs and builds (std's hasher is not).
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in sources.join("\n").bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    format!("{h:016x}")
}

/// The shell script that unpacks every source into `dest` (already fetched or uploaded as
/// the files `staged`), once: a marker file names what was unpacked, and a `dest` holding it
/// is left alone. It prints every file of `dest` at the end.
pub fn unpack_script(staged: &[String], dest: &str, key: &str) -> String {
    let d = shell_quote(dest);
    let marker = shell_quote(&format!("{dest}/.rift-unpacked"));
    let mut s = format!(
        "set -e\nif [ \"$(cat {marker} 2>/dev/null)\" != {k} ]; then\n  rm -rf {d}\n  mkdir -p {d}\n",
        k = shell_quote(key)
    );
    for (i, a) in staged.iter().enumerate() {
        s.push_str(&format!(
            "  mkdir -p {d}/{i}\n  tar -xf {} -C {d}/{i} || {{ echo \"{} is not a tarball tar can read\" >&2; exit 3; }}\n",
            shell_quote(a),
            a.replace(['"', '\\', '$', '`'], "")
        ));
    }
    s.push_str(&format!(
        "  chmod -R a+rX {d}\n  echo {k} > {marker}\nfi\nfind {d} -type f\n",
        k = shell_quote(key)
    ));
    s
}

/// Unpacks the sources on this machine into rift's cache (`<cache>/tikv/<key>`), once, and
/// returns the binaries. A URL is fetched with curl first.
pub fn install_local(sources: &[String]) -> Result<Binaries, SuiteError> {
    let key = source_key(sources);
    let dest = local_dir(sources);
    let marker = dest.join(".rift-unpacked");
    let mut staged = Vec::new();
    let mut downloads = Vec::new();
    let fresh = !std::fs::read_to_string(&marker).is_ok_and(|k| k.trim() == key);
    if fresh {
        std::fs::create_dir_all(dest.parent().unwrap_or(Path::new("/")))
            .map_err(|e| SuiteError::failed(format!("{}: {e}", dest.display())))?;
        for (i, s) in sources.iter().enumerate() {
            if is_url(s) {
                let file = dest.with_extension(format!("download{i}.tar"));
                let started = std::time::Instant::now();
                let out = Command::new("curl")
                    .args(["-fsSL", "--connect-timeout", "20", "-o"])
                    .arg(&file)
                    .arg(s)
                    .output()
                    .map_err(|e| SuiteError::failed(format!("running curl for {s}: {e}")))?;
                if !out.status.success() {
                    let _ = std::fs::remove_file(&file);
                    return Err(SuiteError::failed(format!(
                        "downloading {s} failed: {} (PingCAP's tarballs are not reachable from \
                         every machine: download it elsewhere and give --tarball FILE)",
                        String::from_utf8_lossy(&out.stderr).trim()
                    )));
                }
                tracing::info!("downloaded {s} in {:.1} s", started.elapsed().as_secs_f64());
                downloads.push(file.clone());
                staged.push(file.display().to_string());
            } else {
                staged.push(s.clone());
            }
        }
    }
    let script = unpack_script(&staged, &dest.display().to_string(), &key);
    let out = Command::new("sh")
        .arg("-c")
        .arg(&script)
        .output()
        .map_err(|e| SuiteError::failed(format!("unpacking {}: {e}", sources.join(", "))));
    for f in downloads {
        let _ = std::fs::remove_file(f);
    }
    let out = out?;
    if !out.status.success() {
        return Err(SuiteError::failed(format!(
            "unpacking {} into {} failed: {}",
            sources.join(", "),
            dest.display(),
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    pick_binaries(&String::from_utf8_lossy(&out.stdout), sources)
}

/// Unpacks the sources on `node` into `dest` (SSH nodes), once: a URL is fetched there with
/// curl, a file uploaded. Returns the binaries' paths on the node.
pub async fn install_on_node(
    remote: &dyn Remote,
    node: &str,
    sources: &[String],
    dest: &str,
) -> Result<Binaries, SuiteError> {
    let key = source_key(sources);
    let marker = format!("{dest}/.rift-unpacked");
    let have = remote
        .exec(
            node,
            &Cmd::shell(format!("cat {} 2>/dev/null", shell_quote(&marker))).allow_failure(),
        )
        .await
        .map_err(|e| SuiteError::failed(format!("{node}: {e}")))?;
    let mut staged = Vec::new();
    if String::from_utf8_lossy(&have.stdout).trim() != key {
        for (i, s) in sources.iter().enumerate() {
            let file = format!("/tmp/rift-tikv-{}-{i}.tar", std::process::id());
            if is_url(s) {
                let fetch = Cmd::shell(format!(
                    "curl -fsSL --connect-timeout 20 -o {} {}",
                    shell_quote(&file),
                    shell_quote(s)
                ))
                .allow_failure()
                .timeout(std::time::Duration::from_secs(1800));
                let out = remote
                    .exec(node, &fetch)
                    .await
                    .map_err(|e| SuiteError::failed(format!("{node}: fetching {s}: {e}")))?;
                if !out.success() {
                    return Err(SuiteError::failed(format!(
                        "{node}: downloading {s} failed: {}",
                        String::from_utf8_lossy(&out.stderr).trim()
                    )));
                }
            } else {
                remote
                    .upload(node, Path::new(s), &file)
                    .await
                    .map_err(|e| SuiteError::failed(format!("{node}: uploading {s}: {e}")))?;
            }
            staged.push(file);
        }
    }
    let script = format!(
        "{}\nrm -f {}",
        unpack_script(&staged, dest, &key),
        staged
            .iter()
            .map(|s| shell_quote(s))
            .collect::<Vec<_>>()
            .join(" ")
    );
    let out = remote
        .exec(node, &Cmd::shell(script).allow_failure())
        .await
        .map_err(|e| SuiteError::failed(format!("{node}: unpacking: {e}")))?;
    if !out.success() {
        return Err(SuiteError::failed(format!(
            "{node}: unpacking {} into {dest} failed: {}",
            sources.join(", "),
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    pick_binaries(&String::from_utf8_lossy(&out.stdout), sources)
        .map_err(|e| SuiteError::failed(format!("{node}: {e}")))
}

/// The cache directory tarballs unpack into on this machine.
pub fn local_dir(sources: &[String]) -> PathBuf {
    rift_control::cache_dir()
        .join("tikv")
        .join(source_key(sources))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_build_the_seeds_url_and_bad_ones_are_refused() {
        assert_eq!(
            tarball_url("v7.5.1").unwrap(),
            "http://download.pingcap.org/tidb-v7.5.1-linux-amd64.tar.gz"
        );
        assert_eq!(parse_version("v8.1.0-rc.1").unwrap(), (8, 1, 0));
        for bad in ["7.5.1", "v7.5", "vx.1.2", "latest", ""] {
            let e = tarball_url(bad).unwrap_err();
            assert_eq!(e.exit_code(), 254);
            assert!(e.to_string().contains("such as v7.5.1"), "{bad}: {e}");
        }
        let e = tarball_url("v4.0.0").unwrap_err();
        assert!(e.to_string().contains("needs TiKV v5.0.0 or later"), "{e}");
    }

    #[test]
    fn sources_need_a_version_or_existing_tarballs() {
        let e = sources(None, &[]).unwrap_err();
        assert!(e.to_string().contains("give --version vX.Y.Z"), "{e}");
        let e = sources(None, &["/nonexistent/tidb.tar.gz".into()]).unwrap_err();
        assert_eq!(
            e.to_string(),
            "--tarball /nonexistent/tidb.tar.gz: no such file"
        );
        let u = "https://example.org/tikv.tar.gz".to_string();
        assert_eq!(sources(None, std::slice::from_ref(&u)).unwrap(), [u]);
        assert_eq!(
            sources(Some("v6.5.0"), &[]).unwrap(),
            ["http://download.pingcap.org/tidb-v6.5.0-linux-amd64.tar.gz"]
        );
    }

    #[test]
    fn binaries_are_found_shallowest_first_and_missing_ones_named() {
        let listing = "/c/0/tidb-v7.5.1/bin/pd-server\n/c/0/tidb-v7.5.1/bin/tikv-server\n\
                       /c/0/tidb-v7.5.1/bin/pd-ctl\n/c/0/tidb-v7.5.1/x/y/bin/pd-server\n";
        let b = pick_binaries(listing, &["t.tar.gz".into()]).unwrap();
        assert_eq!(b.pd, "/c/0/tidb-v7.5.1/bin/pd-server");
        assert_eq!(b.kv, "/c/0/tidb-v7.5.1/bin/tikv-server");
        assert_eq!(b.pd_ctl.as_deref(), Some("/c/0/tidb-v7.5.1/bin/pd-ctl"));
        let e =
            pick_binaries("/c/0/bin/pd-server\n/c/0/README\n", &["pd.tar.gz".into()]).unwrap_err();
        assert_eq!(
            e.to_string(),
            "pd.tar.gz: no tikv-server in it (it holds: /c/0/bin/pd-server, /c/0/README); \
             a TiKV release tarball has bin/pd-server and bin/tikv-server"
        );
    }

    #[test]
    fn a_tarball_without_the_binaries_is_refused_after_unpacking() {
        let dir = tempfile::tempdir().unwrap();
        let inner = dir.path().join("tidb-v0").join("bin");
        std::fs::create_dir_all(&inner).unwrap();
        std::fs::write(inner.join("pd-server"), "#!/bin/sh\n").unwrap();
        let tarball = dir.path().join("half.tar.gz");
        let ok = Command::new("tar")
            .arg("czf")
            .arg(&tarball)
            .arg("-C")
            .arg(dir.path())
            .arg("tidb-v0")
            .status()
            .unwrap();
        assert!(ok.success());
        let cache = dir.path().join("cache");
        let staged = [tarball.display().to_string()];
        let script = unpack_script(&staged, &cache.display().to_string(), "k1");
        let out = Command::new("sh").arg("-c").arg(&script).output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let e = pick_binaries(&String::from_utf8_lossy(&out.stdout), &staged).unwrap_err();
        assert!(e.to_string().contains("no tikv-server in it"), "{e}");
        assert!(cache.join(".rift-unpacked").is_file());
        // Unpacked once: a second run with the same key leaves it (the staged file may be gone).
        let again = unpack_script(&["/nonexistent".into()], &cache.display().to_string(), "k1");
        let out = Command::new("sh").arg("-c").arg(&again).output().unwrap();
        assert!(out.status.success());
        // Not a tarball: a clear error.
        let junk = dir.path().join("junk.tar.gz");
        std::fs::write(&junk, "not a tarball").unwrap();
        let staged = [junk.display().to_string()];
        let script = unpack_script(&staged, &dir.path().join("c2").display().to_string(), "k2");
        let out = Command::new("sh").arg("-c").arg(&script).output().unwrap();
        assert!(!out.status.success());
        assert!(String::from_utf8_lossy(&out.stderr).contains("is not a tarball tar can read"));
    }

    #[test]
    fn source_keys_are_stable_and_distinct() {
        let a = source_key(&["a".into()]);
        assert_eq!(a, source_key(&["a".into()]));
        assert_ne!(a, source_key(&["b".into()]));
        assert_eq!(a.len(), 16);
    }
}
