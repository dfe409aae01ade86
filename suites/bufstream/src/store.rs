//! The storage role: an S3-compatible object store on its node, with the bucket Bufstream
//! keeps its data in. MinIO, as jepsen.bufstream runs: the user's `--minio-bin`, or built
//! once from source with `go install` (the Go module proxy serves it) into rift's cache.
//! `--s3-store s3s-fs` runs s3s-fs instead (the `s3s-fs` crate, Apache-2.0, built with cargo):
//! lighter, but measured here its conditional writes are not atomic (2 to 16 winners of 16
//! concurrent `If-None-Match: *` puts), it deletes non-empty buckets and never fsyncs, so a
//! run on it says so. The bucket is created through the S3 API once the server listens, so
//! a server that refuses it fails setup with its answer.

use crate::s3::S3;
use async_trait::async_trait;
use rift_control::{DaemonSpec, NodeDirs, Remote};
use rift_core::{PlugResult, RiftError};
use rift_suite::{Daemon, Files};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The bucket (the seed's).
pub const BUCKET: &str = "jbucket";
/// The access key (the seed's MinIO user).
pub const ACCESS_KEY: &str = "jepsen";
/// The secret key (the seed's MinIO password).
pub const SECRET_KEY: &str = "jepsenpw";
/// The S3 API's port (MinIO's default, the seed's).
pub const PORT: u16 = 9000;
/// MinIO's console port (the seed's).
pub const CONSOLE_PORT: u16 = 9001;
/// The s3s-fs release rift builds (later ones need a newer rustc than 1.95).
pub const S3S_FS_VERSION: &str = "0.14.1";
/// The MinIO rift builds: the last commit of github.com/minio/minio (archived in April
/// 2026; it has no semver tags, so the Go proxy's pseudo-version names it).
pub const MINIO_VERSION: &str = "v0.0.0-20260212201848-7aac2a2c5b7c";

/// Which server.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StoreKind {
    /// MinIO from the user's binary.
    Minio(PathBuf),
    /// s3s-fs at this path (built into the cache by [`ensure_s3s_fs`]).
    S3sFs(PathBuf),
}

/// The object store as a [`Daemon`]; `bin` is the path on the nodes.
pub struct Store {
    /// Which server.
    pub kind: StoreKind,
    /// The binary's path on the node.
    pub bin: String,
}

impl Store {
    /// The S3 API of the store on `addr`.
    pub fn s3(addr: std::net::IpAddr) -> S3 {
        S3 {
            endpoint: format!("{addr}:{PORT}"),
            access_key: ACCESS_KEY.into(),
            secret_key: SECRET_KEY.into(),
            region: "us-east-1".into(),
            timeout: Duration::from_secs(10),
        }
    }
}

#[async_trait]
impl Daemon for Store {
    fn what(&self) -> &str {
        match self.kind {
            StoreKind::Minio(_) => "MinIO",
            StoreKind::S3sFs(_) => "s3s-fs",
        }
    }

    fn name(&self) -> &str {
        match self.kind {
            StoreKind::Minio(_) => "minio",
            StoreKind::S3sFs(_) => "s3s-fs",
        }
    }

    fn port(&self) -> u16 {
        PORT
    }

    fn spec(&self, _node: &str, _dirs: &NodeDirs, f: &Files) -> PlugResult<DaemonSpec> {
        let (args, env) = match self.kind {
            StoreKind::Minio(_) => (
                vec![
                    "server".to_string(),
                    format!("{}/data", f.data),
                    "--address".into(),
                    format!(":{PORT}"),
                    "--console-address".into(),
                    format!(":{CONSOLE_PORT}"),
                ],
                vec![
                    ("MINIO_ROOT_USER".to_string(), ACCESS_KEY.to_string()),
                    ("MINIO_ROOT_PASSWORD".to_string(), SECRET_KEY.to_string()),
                    ("MINIO_UPDATE".to_string(), "off".to_string()),
                    ("MINIO_CALLHOME_ENABLE".to_string(), "off".to_string()),
                ],
            ),
            StoreKind::S3sFs(_) => (
                vec![
                    "--host".to_string(),
                    "0.0.0.0".into(),
                    "--port".into(),
                    PORT.to_string(),
                    "--access-key".into(),
                    ACCESS_KEY.into(),
                    "--secret-key".into(),
                    SECRET_KEY.into(),
                    format!("{}/data", f.data),
                ],
                vec![("RUST_LOG".to_string(), "info".to_string())],
            ),
        };
        Ok(DaemonSpec {
            bin: self.bin.clone(),
            args,
            pidfile: f.pid.clone(),
            logfile: f.log.clone(),
            chdir: None,
            env,
        })
    }

    async fn prepare(&self, remote: &dyn Remote, node: &str, f: &Files) -> PlugResult<()> {
        let dir = format!("{}/data", f.data);
        remote
            .exec(node, &rift_control::Cmd::new("mkdir").args(["-p", &dir]))
            .await
            .map_err(|e| RiftError::new("control", e.to_string()))?;
        Ok(())
    }

    /// Creates the bucket through the S3 API (retried for 15 s while the server starts).
    async fn ready(&self, _remote: &dyn Remote, node: &str, dirs: &NodeDirs) -> PlugResult<()> {
        let s3 = Store::s3(dirs.address);
        let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
        loop {
            match s3.create_bucket(BUCKET).await {
                Ok(()) => return Ok(()),
                Err(e) if tokio::time::Instant::now() >= deadline => {
                    return Err(RiftError::new(
                        "start-failed",
                        format!("{} on {node} refused bucket {BUCKET}: {e}", self.what()),
                    ))
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(250)).await,
            }
        }
    }

    fn archives(&self) -> Vec<(String, String)> {
        // s3s-fs keeps a bucket as a directory; MinIO's data directory is its own format,
        // archived whole.
        let dir = match self.kind {
            StoreKind::Minio(_) => "data".to_string(),
            StoreKind::S3sFs(_) => format!("data/{BUCKET}"),
        };
        vec![(dir, "bucket.tar.bz2".to_string())]
    }
}

/// `<cache>/s3s-fs/<version>/bin/s3s-fs`, built there with `cargo install` the first time
/// (minutes; once per machine). Needs cargo; says the command otherwise.
pub fn ensure_s3s_fs(cache: &Path) -> Result<PathBuf, String> {
    let root = cache.join("s3s-fs").join(S3S_FS_VERSION);
    let how = format!(
        "cargo install s3s-fs --version {S3S_FS_VERSION} --features binary --locked --root {}",
        root.display()
    );
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut build = std::process::Command::new(cargo);
    build
        .args(["install", "s3s-fs", "--version", S3S_FS_VERSION])
        .args(["--features", "binary", "--locked", "--root"])
        .arg(&root)
        .env("CARGO_TARGET_DIR", cache.join("s3s-fs").join("target"));
    rift_control::build_once(&root.join("bin").join("s3s-fs"), "s3s-fs", &how, build)
}

/// `<cache>/minio/<version>/bin/minio`, built there with `go install` the first time (about
/// 5.5 minutes and 1.2 GB of modules on this machine; once per machine). Needs Go 1.24 or
/// later; says what to do otherwise.
pub fn ensure_minio(cache: &Path) -> Result<PathBuf, String> {
    let gobin = cache.join("minio").join(MINIO_VERSION).join("bin");
    let bin = gobin.join("minio");
    if bin.is_file() {
        return Ok(bin);
    }
    let module = format!("github.com/minio/minio@{MINIO_VERSION}");
    let how = format!("GOBIN={} go install {module}", gobin.display());
    let go = ["go", "/usr/local/go/bin/go", "/usr/lib/go/bin/go"]
        .into_iter()
        .find(|g| {
            std::process::Command::new(g)
                .arg("version")
                .output()
                .is_ok_and(|o| o.status.success())
        })
        .ok_or_else(|| {
            format!(
                "the storage role needs MinIO: give --minio-bin FILE, or install Go (1.24 or \
                 later) so that rift builds it once with `{how}`"
            )
        })?;
    let mut build = std::process::Command::new(go);
    build
        .args(["install", &module])
        .env("GOBIN", &gobin)
        .env("GOTOOLCHAIN", "auto");
    rift_control::build_once(&bin, "MinIO", &how, build)
}
