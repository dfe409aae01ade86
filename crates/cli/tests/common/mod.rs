//! What the root-only cluster tests of the `rift` binary share: prerequisites, and a run on a
//! local cluster of the test's own that must leave nothing behind.

#![allow(dead_code)]

use std::path::Path;
use std::process::{Command, Output, Stdio};

/// Whether this process runs as root.
pub fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

/// True (after printing why) when `test` cannot run here: it needs root and nft.
pub fn skip(test: &str) -> bool {
    if !is_root() {
        println!("skipped: {test} needs root (network namespaces, nft)");
        return true;
    }
    if Command::new("nft").arg("--version").output().is_err() {
        println!("skipped: {test} needs nft (apt-get install nftables)");
        return true;
    }
    false
}

/// Exit code and both outputs, for assertion messages.
pub fn describe(o: &Output) -> String {
    format!(
        "exit {:?}\nstdout:\n{}\nstderr:\n{}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// Runs `rift test --db DB ARGS` with its store and a local cluster of its own under `dir`
/// (own root, own name prefix from `tag`); then asserts that no namespace and no process of
/// that cluster is left (removing leftovers first, so that one failure does not cascade).
pub fn test_on_own_cluster(dir: &Path, db: &str, tag: &str, args: &[&str]) -> Output {
    let prefix = format!("rc{}{tag}-", std::process::id() % 100_000);
    let root = dir.join("cluster");
    let out = Command::new(env!("CARGO_BIN_EXE_rift"))
        .args(["test", "--db", db, "--store"])
        .arg(dir.join("store"))
        .arg("--cluster-root")
        .arg(&root)
        .args(["--cluster-prefix", &prefix])
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run rift");
    let netns = Command::new("ip").args(["netns", "list"]).output().unwrap();
    let left = String::from_utf8_lossy(&netns.stdout).contains(&prefix);
    let procs = Command::new("pgrep")
        .args(["-f", &root.display().to_string()])
        .output()
        .unwrap();
    let running = !String::from_utf8_lossy(&procs.stdout).trim().is_empty();
    if left || running {
        let _ = Command::new(env!("CARGO_BIN_EXE_rift"))
            .args(["cluster", "down", "--prefix", &prefix, "--root"])
            .arg(&root)
            .output();
    }
    assert!(
        !left,
        "namespaces {prefix}* left behind\n{}",
        describe(&out)
    );
    assert!(
        !running,
        "processes of the cluster left running\n{}",
        describe(&out)
    );
    out
}

/// The latest run's results.json.
pub fn results(dir: &Path) -> serde_json::Value {
    let run = std::fs::canonicalize(dir.join("store/latest")).unwrap();
    serde_json::from_str(&std::fs::read_to_string(run.join("results.json")).unwrap()).unwrap()
}
