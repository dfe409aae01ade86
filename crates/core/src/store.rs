//! The store: `store/<test-name>/<YYYYMMDDTHHMMSS.mmm>/` per run, with `latest` symlinks.
//!
//! Files are written whole through a temp file and a rename, so a reader (or a crash) never sees
//! half a `test.json` or `results.json`. The history is the exception: `history.jsonl` is
//! appended as ops happen and flushed in chunks of whole lines, so a killed run leaves a
//! readable prefix.

use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

/// The file names of a run directory.
pub mod files {
    /// The spec, seed, argv and versions.
    pub const TEST: &str = "test.json";
    /// The history, streamed as it happens.
    pub const HISTORY_JSONL: &str = "history.jsonl";
    /// The history in Jepsen's EDN, written after the run.
    pub const HISTORY_EDN: &str = "history.edn";
    /// The checker's results.
    pub const RESULTS: &str = "results.json";
    /// The run's log.
    pub const LOG: &str = "rift.log";
}

/// One run's directory.
#[derive(Clone, Debug)]
pub struct RunDir {
    dir: PathBuf,
}

impl RunDir {
    /// Creates `root/<name>/<timestamp>/` (adding `-1`, `-2` if two runs start in the same
    /// millisecond) and points `root/latest` and `root/<name>/latest` at it.
    pub fn create(root: &Path, name: &str) -> io::Result<RunDir> {
        let name = safe_name(name);
        let test_dir = root.join(&name);
        fs::create_dir_all(&test_dir)?;
        let stamp = timestamp(SystemTime::now());
        let mut dir = test_dir.join(&stamp);
        let mut n = 0;
        loop {
            match fs::create_dir(&dir) {
                Ok(()) => break,
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists && n < 1000 => {
                    n += 1;
                    dir = test_dir.join(format!("{stamp}-{n}"));
                }
                Err(e) => return Err(e),
            }
        }
        let leaf = dir.file_name().map(PathBuf::from).unwrap_or_default();
        replace_symlink(&test_dir.join("latest"), &leaf)?;
        replace_symlink(&root.join("latest"), &Path::new(&name).join(&leaf))?;
        Ok(RunDir { dir })
    }

    /// An existing run directory.
    pub fn open(dir: &Path) -> io::Result<RunDir> {
        let dir = fs::canonicalize(dir)?;
        if !dir.join(files::TEST).is_file() && !dir.join(files::HISTORY_JSONL).is_file() {
            return Err(io::Error::new(
                io::ErrorKind::NotFound,
                format!(
                    "{} is not a rift run directory (no {} or {})",
                    dir.display(),
                    files::TEST,
                    files::HISTORY_JSONL
                ),
            ));
        }
        Ok(RunDir { dir })
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.dir
    }

    /// A file in the directory.
    pub fn file(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    /// Writes a file whole (temp file + rename).
    pub fn write(&self, name: &str, bytes: &[u8]) -> io::Result<()> {
        write_atomic(&self.file(name), bytes)
    }

    /// Writes pretty JSON whole.
    pub fn write_json(&self, name: &str, value: &serde_json::Value) -> io::Result<()> {
        let mut text = serde_json::to_vec_pretty(value).map_err(io::Error::other)?;
        text.push(b'\n');
        self.write(name, &text)
    }
}

/// Writes `bytes` to `path` through `path.tmp` and a rename, syncing the data first.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let tmp = tmp_path(path);
    let res = (|| {
        let mut f = fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        fs::rename(&tmp, path)
    })();
    if res.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    res
}

/// The temp-file name used for atomic writes of `path`.
pub fn tmp_path(path: &Path) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(".tmp");
    path.with_file_name(name)
}

fn replace_symlink(link: &Path, target: &Path) -> io::Result<()> {
    let tmp = tmp_path(link);
    let _ = fs::remove_file(&tmp);
    std::os::unix::fs::symlink(target, &tmp)?;
    fs::rename(&tmp, link)
}

/// Resolves what `rift analyze -t X` names: a run directory, a test directory (its `latest`),
/// or nothing (the store's `latest`).
pub fn resolve_run(store_root: &Path, arg: Option<&Path>) -> io::Result<RunDir> {
    let path = match arg {
        Some(p) => p.to_path_buf(),
        None => store_root.join("latest"),
    };
    if !path.exists() {
        return Err(io::Error::new(
            io::ErrorKind::NotFound,
            format!(
                "{} does not exist{}",
                path.display(),
                if arg.is_none() {
                    " (no test has been run with this store yet)"
                } else {
                    ""
                }
            ),
        ));
    }
    if !path.join(files::TEST).exists()
        && !path.join(files::HISTORY_JSONL).exists()
        && path.join("latest").exists()
    {
        return RunDir::open(&path.join("latest"));
    }
    RunDir::open(&path)
}

/// Keeps a test name safe as one path component.
pub fn safe_name(name: &str) -> String {
    let s: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '+' | '=') {
                c
            } else {
                '-'
            }
        })
        .collect();
    let s = s.trim_matches('.').to_string();
    if s.is_empty() {
        "test".into()
    } else {
        s
    }
}

/// `YYYYMMDDTHHMMSS.mmm` in UTC.
pub fn timestamp(t: SystemTime) -> String {
    let d = t.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = d.as_secs() as i64;
    let ms = d.subsec_millis();
    let (y, m, day) = civil_from_days(secs.div_euclid(86_400));
    let rem = secs.rem_euclid(86_400);
    format!(
        "{y:04}{m:02}{day:02}T{:02}{:02}{:02}.{ms:03}",
        rem / 3600,
        (rem / 60) % 60,
        rem % 60
    )
}

/// Days since 1970-01-01 to (year, month, day), proleptic Gregorian (H. Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn timestamps() {
        assert_eq!(timestamp(UNIX_EPOCH), "19700101T000000.000");
        let t = UNIX_EPOCH + Duration::from_millis(1_795_000_000_123);
        assert_eq!(timestamp(t), "20261118T110640.123");
        let leap = UNIX_EPOCH + Duration::from_secs(951_782_400); // 2000-02-29
        assert_eq!(&timestamp(leap)[..8], "20000229");
    }

    #[test]
    fn run_dirs_and_symlinks() {
        let tmp = tempfile::tempdir().unwrap();
        let a = RunDir::create(tmp.path(), "set mem").unwrap();
        a.write(files::TEST, b"{}").unwrap();
        let b = RunDir::create(tmp.path(), "set mem").unwrap();
        b.write(files::TEST, b"{}").unwrap();
        assert_ne!(a.path(), b.path());
        let latest = resolve_run(tmp.path(), None).unwrap();
        assert_eq!(latest.path(), fs::canonicalize(b.path()).unwrap());
        let by_test = resolve_run(tmp.path(), Some(&tmp.path().join("set-mem"))).unwrap();
        assert_eq!(by_test.path(), latest.path());
        assert!(!tmp_path(&a.file(files::TEST)).exists());
        assert!(resolve_run(&tmp.path().join("nope"), None).is_err());
    }

    #[test]
    fn names_are_one_component() {
        assert_eq!(safe_name("etcd/register x"), "etcd-register-x");
        assert_eq!(safe_name(".."), "test");
    }
}
