//! Getting nisshi and a PostgreSQL it works with, each once per machine into rift's cache.
//!
//! - nisshi 0.7.0-pre.2 from crates.io with `cargo install` (later releases need a newer
//!   rustc than 1.95: they pin rama 0.4.0, which wants 1.96). About 12 to 18 minutes on 2 cores.
//! - PostgreSQL 16: nisshi's read-committed offset query is not valid on PostgreSQL 15
//!   (Debian bookworm's: "subquery in FROM must have an alias"), so rift runs the PostgreSQL
//!   16.2 that the PyPI wheel `pgserver` 0.1.4 carries (`pip download`, unzipped), unless
//!   `--pg-bin-dir` names another one.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The nisshi release rift builds.
pub const NISSHI_VERSION: &str = "0.7.0-pre.2";
/// The schema of that release (see the file's header).
pub const SCHEMA_SQL: &str = include_str!("../resources/schema-0.7.0-pre.2.sql");
/// The PyPI wheel whose PostgreSQL rift runs.
pub const PGSERVER_WHEEL: &str = "pgserver==0.1.4";

/// `<cache>/nisshi/<version>/bin/nisshi`, built the first time (12 to 18 minutes).
pub fn ensure_nisshi(cache: &Path) -> Result<PathBuf, String> {
    let root = cache.join("nisshi").join(NISSHI_VERSION);
    let how = format!(
        "cargo install nisshi --version {NISSHI_VERSION} --locked --no-default-features \
         --features postgres,dynostore --root {}",
        root.display()
    );
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut build = Command::new(cargo);
    build
        .args(["install", "nisshi", "--version", NISSHI_VERSION, "--locked"])
        .args([
            "--no-default-features",
            "--features",
            "postgres,dynostore",
            "--root",
        ])
        .arg(&root)
        .env("CARGO_TARGET_DIR", cache.join("nisshi").join("target"));
    rift_control::build_once(&root.join("bin").join("nisshi"), "nisshi", &how, build)
}

/// The `bin` directory of PostgreSQL 16 from the `pgserver` wheel, fetched and unpacked the
/// first time (needs python3 with pip).
pub fn ensure_postgres(cache: &Path) -> Result<PathBuf, String> {
    let root = cache.join("postgres").join("pgserver-0.1.4");
    let bin = root.join("pgserver").join("pginstall").join("bin");
    if bin.join("postgres").is_file() && bin.join("initdb").is_file() {
        return Ok(bin);
    }
    let dl = root.with_extension("download");
    let staged = root.with_extension("tmp");
    rift_control::pip_wheel(PGSERVER_WHEEL, &dl, &staged).map_err(|e| {
        format!("the storage role needs PostgreSQL 16 (or give --pg-bin-dir DIR): {e}")
    })?;
    // Zip archives drop the exec bits; the files must be readable by the postgres user.
    let fix = Command::new("sh")
        .arg("-c")
        .arg("chmod +x pgserver/pginstall/bin/* && chmod -R a+rX .")
        .current_dir(&staged)
        .status()
        .map_err(|e| e.to_string())?;
    if !fix.success() {
        return Err(format!("chmod in {} failed", staged.display()));
    }
    let _ = std::fs::remove_dir_all(&root);
    std::fs::rename(&staged, &root).map_err(|e| format!("renaming {}: {e}", staged.display()))?;
    Ok(bin)
}
