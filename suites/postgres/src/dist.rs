//! Where PostgreSQL's binaries are: `--pg-bin-dir`, else the newest Debian install
//! (`/usr/lib/postgresql/<major>/bin`), else Debian's `postgresql` package installed with apt
//! when rift runs as root; not root, the error says exactly what to install.

use rift_suite::SuiteError;
use std::path::{Path, PathBuf};

/// The programs the suite runs from the binary directory.
pub const BINARIES: &[&str] = &["postgres", "initdb", "pg_basebackup", "psql"];

/// Where Debian installs PostgreSQL's majors.
pub const DEBIAN_ROOT: &str = "/usr/lib/postgresql";

/// The `bin` directories of the majors under `root` that hold every one of [`BINARIES`],
/// newest major first.
pub fn installed_bin_dirs(root: &Path) -> Vec<(u32, PathBuf)> {
    let Ok(entries) = std::fs::read_dir(root) else {
        return Vec::new();
    };
    let mut found: Vec<(u32, PathBuf)> = entries
        .flatten()
        .filter_map(|e| {
            let major: u32 = e.file_name().to_str()?.parse().ok()?;
            let bin = e.path().join("bin");
            BINARIES
                .iter()
                .all(|b| bin.join(b).is_file())
                .then_some((major, bin))
        })
        .collect();
    found.sort_by_key(|f| std::cmp::Reverse(f.0));
    found
}

/// Checks a `--pg-bin-dir`: every one of [`BINARIES`] must be an executable file there.
pub fn check_bin_dir(dir: &Path) -> Result<(), SuiteError> {
    for b in BINARIES {
        rift_suite::check_binary(
            "--pg-bin-dir",
            &dir.join(b),
            "PostgreSQL's postgres, initdb, pg_basebackup and psql",
        )?;
    }
    Ok(())
}

/// What the user must do when PostgreSQL is missing and rift cannot install it.
pub fn missing_message(root: &Path) -> String {
    format!(
        "PostgreSQL is missing: no {}/<major>/bin holds {}. Install Debian's server \
         (`sudo apt-get install -y postgresql`) or give the directory of your own build \
         with --pg-bin-dir DIR",
        root.display(),
        BINARIES.join(", ")
    )
}

/// The binary directory of a run: `given` (checked), else the newest Debian install, else
/// (as root) Debian's `postgresql` installed now. The error is [`SuiteError::BadArgs`] for a
/// bad `--pg-bin-dir`, [`SuiteError::Failed`] naming what to install otherwise.
pub fn bin_dir(given: Option<&Path>) -> Result<PathBuf, SuiteError> {
    bin_dir_under(given, Path::new(DEBIAN_ROOT), rift_control::is_root())
}

/// [`bin_dir`] with Debian's root and whether rift may install made explicit (for tests).
pub fn bin_dir_under(
    given: Option<&Path>,
    root: &Path,
    may_install: bool,
) -> Result<PathBuf, SuiteError> {
    if let Some(d) = given {
        check_bin_dir(d)?;
        return Ok(d.to_path_buf());
    }
    if let Some((_, d)) = installed_bin_dirs(root).into_iter().next() {
        return Ok(d);
    }
    if !may_install {
        return Err(SuiteError::failed(missing_message(root)));
    }
    rift_control::apt_or_explain("PostgreSQL", "postgresql").map_err(SuiteError::failed)?;
    installed_bin_dirs(root)
        .into_iter()
        .next()
        .map(|(_, d)| d)
        .ok_or_else(|| SuiteError::failed(missing_message(root)))
}

/// The major version of the binaries in `dir` (`postgres --version`: `postgres (PostgreSQL)
/// 15.18 (Debian 15.18-0+deb12u1)` -> `15.18`), or None.
pub fn version(dir: &Path) -> Option<String> {
    let out = std::process::Command::new(dir.join("postgres"))
        .arg("--version")
        .output()
        .ok()?;
    parse_version(&String::from_utf8_lossy(&out.stdout))
}

/// The version in `postgres --version`'s output.
pub fn parse_version(text: &str) -> Option<String> {
    let rest = text.split(")").nth(1)?.trim();
    let v = rest.split_whitespace().next()?;
    v.chars()
        .next()
        .is_some_and(|c| c.is_ascii_digit())
        .then(|| v.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn fake_major(root: &Path, major: &str, bins: &[&str]) {
        let bin = root.join(major).join("bin");
        std::fs::create_dir_all(&bin).unwrap();
        for b in bins {
            let p = bin.join(b);
            std::fs::write(&p, "#!/bin/sh\n").unwrap();
            std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
        }
    }

    #[test]
    fn the_newest_complete_major_wins() {
        let t = tempfile::tempdir().unwrap();
        fake_major(t.path(), "13", BINARIES);
        fake_major(t.path(), "16", BINARIES);
        fake_major(t.path(), "17", &["postgres", "psql"]); // no initdb: not a server
        fake_major(t.path(), "x", BINARIES);
        let found = installed_bin_dirs(t.path());
        assert_eq!(found.iter().map(|(m, _)| *m).collect::<Vec<_>>(), [16, 13]);
        let d = bin_dir_under(None, t.path(), false).unwrap();
        assert_eq!(d, t.path().join("16/bin"));
    }

    #[test]
    fn missing_and_not_root_says_what_to_install() {
        let t = tempfile::tempdir().unwrap();
        let e = bin_dir_under(None, t.path(), false).unwrap_err();
        assert_eq!(e.exit_code(), 255);
        let m = e.to_string();
        assert!(m.contains("sudo apt-get install -y postgresql"), "{m}");
        assert!(m.contains("--pg-bin-dir"), "{m}");
    }

    #[test]
    fn a_bad_pg_bin_dir_names_the_option_and_the_file() {
        let t = tempfile::tempdir().unwrap();
        fake_major(t.path(), "15", &["postgres", "initdb", "psql"]);
        let dir = t.path().join("15/bin");
        let e = bin_dir_under(Some(&dir), t.path(), true).unwrap_err();
        assert_eq!(e.exit_code(), 254);
        let m = e.to_string();
        assert!(
            m.contains("--pg-bin-dir") && m.contains("pg_basebackup"),
            "{m}"
        );
    }

    #[test]
    fn versions_parse() {
        assert_eq!(
            parse_version("postgres (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)\n").as_deref(),
            Some("15.18")
        );
        assert_eq!(
            parse_version("postgres (PostgreSQL) 17.2\n").as_deref(),
            Some("17.2")
        );
        assert_eq!(parse_version("garbage"), None);
    }
}
