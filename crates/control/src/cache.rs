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
