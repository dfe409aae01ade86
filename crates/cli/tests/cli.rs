//! End-to-end tests of the `rift` binary: real runs against the in-memory system, verdicts,
//! exit codes, the store, Ctrl-C and kill -9.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

const VALID: &str = "Everything looks good! ヽ(‘ー`)ノ";
const INVALID: &str = "Analysis invalid! (ﾉಥ益ಥ）ﾉ ┻━┻";

fn rift(store: &Path, args: &[&str]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_rift"));
    cmd.args(args);
    if matches!(args.first(), Some(&"test" | &"test-all" | &"analyze")) {
        cmd.arg("--store").arg(store);
    }
    cmd.stdin(Stdio::null()).output().expect("run rift")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// `args` exit 254 (bad arguments) with `says` on stderr.
fn assert_refused(store: &Path, args: &[&str], says: &str) {
    let o = rift(store, args);
    assert_eq!(o.status.code(), Some(254), "{args:?}: {}", describe(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains(says), "{args:?}: {err}");
}

fn describe(o: &Output) -> String {
    format!(
        "exit {:?}\nstdout:\n{}\nstderr:\n{}",
        o.status.code(),
        stdout(o),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn latest(store: &Path) -> PathBuf {
    std::fs::canonicalize(store.join("latest")).expect("store/latest")
}

fn results(store: &Path) -> serde_json::Value {
    let text = std::fs::read_to_string(latest(store).join("results.json")).expect("results");
    serde_json::from_str(&text).expect("results.json is JSON")
}

fn shared_data() -> Option<PathBuf> {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data");
    if p.is_dir() {
        Some(p)
    } else {
        eprintln!("skipped: {} not found", p.display());
        None
    }
}

fn run_workload(workload: &str, bug: Option<&str>) -> (Output, tempfile::TempDir) {
    let store = tempfile::tempdir().unwrap();
    let mut args = vec![
        "test",
        "--db",
        "mem",
        "--workload",
        workload,
        "--time-limit",
        "2",
        "--rate",
        "2000",
        "--seed",
        "7",
    ];
    if let Some(b) = bug {
        args.extend(["--bug", b, "--bug-rate", "0.2"]);
    }
    (rift(store.path(), &args), store)
}

#[test]
fn valid_workloads_pass_and_store_everything() {
    for w in ["set", "queue", "bank", "counter", "unique-ids", "register"] {
        let (o, store) = run_workload(w, None);
        assert_eq!(o.status.code(), Some(0), "{w}: {}", describe(&o));
        assert!(stdout(&o).contains(VALID), "{w}: {}", describe(&o));
        let dir = latest(store.path());
        for f in [
            "test.json",
            "history.jsonl",
            "history.edn",
            "results.json",
            "rift.log",
        ] {
            assert!(
                dir.join(f).is_file(),
                "{w}: {f} missing in {}",
                dir.display()
            );
        }
        assert!(store.path().join(format!("mem-{w}/latest")).exists());
        let test: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(dir.join("test.json")).unwrap()).unwrap();
        assert_eq!(test["seed"], 7);
        assert_eq!(test["spec"]["workload"], w);
        assert!(test["op-count"].as_u64().unwrap() > 100, "{w}: {test}");
        assert_eq!(results(store.path())["valid?"], true);
        // No temp files left behind.
        for e in std::fs::read_dir(&dir).unwrap() {
            let name = e.unwrap().file_name().into_string().unwrap();
            assert!(!name.ends_with(".tmp"), "{w}: left {name}");
        }
    }
}

#[test]
fn lost_writes_are_caught() {
    for (w, anomaly) in [("set", "lost"), ("queue", "lost"), ("bank", "wrong-total")] {
        let (o, store) = run_workload(w, Some("lost-writes"));
        assert_eq!(o.status.code(), Some(1), "{w}: {}", describe(&o));
        assert!(stdout(&o).contains(INVALID), "{w}: {}", describe(&o));
        let r = results(store.path());
        assert_eq!(r["valid?"], false);
        let types = r["workload"]["anomaly-types"].to_string();
        assert!(types.contains(anomaly), "{w}: {types}");
    }
}

#[test]
fn register_stale_reads_and_lost_writes_are_not_linearizable() {
    let (o, store) = run_workload("register", None);
    assert_eq!(o.status.code(), Some(0), "{}", describe(&o));
    assert!(latest(store.path())
        .join("independent/0/results.json")
        .is_file());
    for bug in ["stale-reads", "lost-writes"] {
        let (o, store) = run_workload("register", Some(bug));
        assert_eq!(o.status.code(), Some(1), "{bug}: {}", describe(&o));
        let r = results(store.path());
        assert!(
            r["workload"]["anomaly-types"]
                .to_string()
                .contains("nonlinearizable"),
            "{bug}: {r}"
        );
        let f = &r["workload"]["failures"][0];
        let failing = f.as_str().map_or_else(|| f.to_string(), str::to_string);
        let dir = latest(store.path()).join(format!("independent/{failing}"));
        assert!(
            dir.join("linear.svg").is_file(),
            "no linear.svg in {}",
            dir.display()
        );
    }
}

#[test]
fn check_gives_corpus_verdicts_for_linearizable_and_elle() {
    let Some(data) = shared_data() else { return };
    let store = tempfile::tempdir().unwrap();
    let cases: &[(&str, &[&str], i32)] = &[
        (
            "porcupine/etcd/etcd_002.log",
            &["--checker", "linearizable"],
            0,
        ),
        (
            "porcupine/etcd/etcd_000.log",
            &["--checker", "linearizable"],
            1,
        ),
        (
            "porcupine/kv/c10-ok.txt",
            &["--checker", "linearizable", "--model", "kv"],
            0,
        ),
        (
            "porcupine/kv/c10-bad.txt",
            &["--checker", "linearizable", "--model", "kv"],
            1,
        ),
        (
            "knossos/cas-register/bad/cas-failure.edn",
            &["--checker", "linearizable"],
            1,
        ),
        (
            "knossos/multi-register/good/multi-register.edn",
            &[
                "--checker",
                "linearizable",
                "--model",
                "multi-register",
                "--initial",
                "{:x 0 :y 0}",
            ],
            0,
        ),
        ("elle/huge-scc.edn", &["--checker", "elle-append"], 1),
        (
            "elle/huge-scc.edn",
            &[
                "--checker",
                "elle-append",
                "--consistency-models",
                "serializable",
            ],
            0,
        ),
    ];
    for (file, args, code) in cases {
        let path = data.join(file);
        let mut a: Vec<&str> = vec!["check"];
        a.extend_from_slice(args);
        a.push(path.to_str().unwrap());
        let o = rift(store.path(), &a);
        assert_eq!(
            o.status.code(),
            Some(*code),
            "{file} {args:?}: {}",
            describe(&o)
        );
    }
    let o = rift(
        store.path(),
        &["check", "--checker", "linearizable", "--model", "nope", "x"],
    );
    assert_eq!(o.status.code(), Some(254), "{}", describe(&o));
    let o = rift(
        store.path(),
        &[
            "check",
            "--checker",
            "elle-append",
            "--consistency-models",
            "nope",
            "x",
        ],
    );
    assert_eq!(o.status.code(), Some(254), "{}", describe(&o));
}

#[test]
fn counter_stale_reads_and_duplicate_ids_are_caught() {
    let (o, _s) = run_workload("counter", Some("lost-writes"));
    assert_eq!(o.status.code(), Some(1), "{}", describe(&o));
    let (o, _s) = run_workload("unique-ids", Some("duplicates"));
    assert_eq!(o.status.code(), Some(1), "{}", describe(&o));
}

#[test]
fn analyze_reproduces_the_verdict() {
    let (o, store) = run_workload("set", Some("lost-writes"));
    assert_eq!(o.status.code(), Some(1), "{}", describe(&o));
    let before = results(store.path());
    let a = rift(store.path(), &["analyze"]);
    assert_eq!(a.status.code(), Some(1), "{}", describe(&a));
    assert!(stdout(&a).contains(INVALID));
    assert_eq!(results(store.path()), before);
    let dir = latest(store.path());
    let a = rift(store.path(), &["analyze", "-t", dir.to_str().unwrap()]);
    assert_eq!(a.status.code(), Some(1), "{}", describe(&a));
}

#[test]
fn crashed_processes_continue_as_new_processes() {
    let store = tempfile::tempdir().unwrap();
    let o = rift(
        store.path(),
        &[
            "test",
            "--workload",
            "set",
            "--time-limit",
            "2",
            "--rate",
            "1000",
            "--indeterminate-rate",
            "0.05",
            "--concurrency",
            "4",
            "--nodes",
            "a,b",
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", describe(&o));
    let (ops, _) =
        rift_history::json::read_jsonl_file(&latest(store.path()).join("history.jsonl")).unwrap();
    assert!(ops.iter().any(|op| op.is_info()));
    let max = ops
        .iter()
        .filter_map(|op| op.process.client())
        .max()
        .unwrap();
    assert!(max >= 4, "no process beyond the 4 threads: max {max}");
    // Every process number maps to a thread: p mod 4.
    let h = rift_history::History::new(ops).unwrap();
    assert!(h.pairs().all(|(_, c)| c.is_some()), "every op completed");
}

#[test]
fn bad_arguments_exit_254() {
    let store = tempfile::tempdir().unwrap();
    for args in [
        vec!["test", "--workload", "nope", "--time-limit", "1"],
        vec!["test", "--concurrency", "xn"],
        vec!["test", "--bug", "gremlins"],
        vec!["test", "--time-limit", "-3"],
        vec!["bogus-command"],
        vec!["check", "--checker", "nope", "x.edn"],
    ] {
        let o = rift(store.path(), &args);
        assert_eq!(o.status.code(), Some(254), "{args:?}: {}", describe(&o));
    }
    let o = rift(store.path(), &["analyze"]);
    assert_eq!(o.status.code(), Some(254), "{}", describe(&o));
    assert!(String::from_utf8_lossy(&o.stderr).contains("no test has been run"));
}

#[test]
fn histories_that_do_not_pair_are_at_best_unknown_and_empty_ones_said_so() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    // A read that completes with no invocation, and an op with no :process: both were once
    // dropped silently, and the history called linearizable.
    let lone = dir.path().join("lone.edn");
    std::fs::write(
        &lone,
        "{:type :invoke, :f :write, :value 1, :process 0, :index 0}\n\
         {:type :ok, :f :write, :value 1, :process 0, :index 1}\n\
         {:type :ok, :f :read, :value 2, :process 1, :index 2}\n",
    )
    .unwrap();
    let noproc = dir.path().join("noproc.edn");
    std::fs::write(
        &noproc,
        "{:type :invoke, :f :write, :value 1, :index 0}\n{:type :ok, :f :write, :value 1, :index 1}\n",
    )
    .unwrap();
    for (file, says) in [
        (&lone, "completed (ok) with no invocation"),
        (&noproc, "\"unchecked-ops\""),
    ] {
        let f = file.display().to_string();
        let o = rift(
            &store,
            &[
                "check",
                "--checker",
                "linearizable",
                "--model",
                "register",
                &f,
            ],
        );
        assert_eq!(o.status.code(), Some(2), "{f}: {}", describe(&o));
        assert!(describe(&o).contains(says), "{f}: {}", describe(&o));
    }
    let empty = dir.path().join("empty.edn");
    std::fs::write(&empty, "").unwrap();
    let f = empty.display().to_string();
    let o = rift(&store, &["check", "--checker", "stats", &f]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("the history holds no operations"),
        "{}",
        describe(&o)
    );
    let o = rift(&store, &["test", "--test-count", "0"]);
    assert_eq!(o.status.code(), Some(254), "{}", describe(&o));
    assert!(String::from_utf8_lossy(&o.stderr).contains("--test-count"));
}

/// Every file under `dir`, recursively.
fn all_files(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(all_files(&p));
        } else {
            out.push(p);
        }
    }
    out
}

fn http_get(port: u16, path: &str) -> String {
    use std::io::{Read, Write};
    for _ in 0..100 {
        if let Ok(mut c) = std::net::TcpStream::connect(("127.0.0.1", port)) {
            let req = format!("GET {path} HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n");
            c.write_all(req.as_bytes()).unwrap();
            let mut body = Vec::new();
            c.read_to_end(&mut body).unwrap();
            return String::from_utf8_lossy(&body).into_owned();
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    panic!("rift serve never answered on port {port}");
}

#[test]
fn a_password_never_reaches_the_store_the_log_or_the_web_pages() {
    let store = tempfile::tempdir().unwrap();
    let secret = "pw-6b1f0c2e-never-stored";
    let o = rift(
        store.path(),
        &[
            "test",
            "--db",
            "mem",
            "--workload",
            "set",
            "--time-limit",
            "1",
            "--password",
            secret,
            "--seed",
            "3",
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", describe(&o));
    assert!(!describe(&o).contains(secret), "the output holds it");
    for f in all_files(store.path()) {
        let bytes = std::fs::read(&f).unwrap();
        assert!(
            !String::from_utf8_lossy(&bytes).contains(secret),
            "{} holds it",
            f.display()
        );
    }
    let run = latest(store.path());
    let test_json = std::fs::read_to_string(run.join("test.json")).unwrap();
    assert!(test_json.contains("<redacted>"), "{test_json}");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut serve = Command::new(env!("CARGO_BIN_EXE_rift"))
        .args(["serve", "--port", &port.to_string(), "--store"])
        .arg(store.path())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let time = run.file_name().unwrap().to_string_lossy().into_owned();
    let test = run
        .parent()
        .unwrap()
        .file_name()
        .unwrap()
        .to_string_lossy()
        .into_owned();
    let pages = [
        http_get(port, "/"),
        http_get(port, &format!("/run/{test}/{time}")),
        http_get(port, &format!("/files/{test}/{time}/test.json")),
    ];
    let _ = serve.kill();
    let _ = serve.wait();
    assert!(pages[2].contains("<redacted>"), "{}", pages[2]);
    for p in &pages {
        assert!(p.starts_with("HTTP/1.1 200"), "{}", &p[..p.len().min(200)]);
        assert!(!p.contains(secret), "a page holds it");
    }
}

#[test]
fn tikv_bad_options_are_refused_before_any_cluster() {
    let store = tempfile::tempdir().unwrap();
    // The suite's options and its per-thread default rate are in its help.
    let o = rift(store.path(), &["test", "--db", "tikv", "--help"]);
    let help = String::from_utf8_lossy(&o.stdout);
    for says in [
        "--nemesis-schedule",
        "--ops-per-key",
        "default: 10 per client thread",
    ] {
        assert!(help.contains(says), "{says}: {help}");
    }
    for (args, says) in [
        (
            vec!["test", "--db", "tikv"],
            "--db tikv needs PD and TiKV: give --version vX.Y.Z",
        ),
        (
            vec!["test", "--db", "tikv", "--version", "7.5"],
            "--version \"7.5\": expected a TiKV release such as v7.5.1",
        ),
        (
            vec!["test", "--db", "tikv", "--version", "v4.0.0"],
            "needs TiKV v5.0.0 or later",
        ),
        (
            vec![
                "test",
                "--db",
                "tikv",
                "--tarball",
                "/nonexistent/tidb.tar.gz",
            ],
            "--tarball /nonexistent/tidb.tar.gz: no such file",
        ),
        (
            vec![
                "test",
                "--db",
                "tikv",
                "--version",
                "v7.5.1",
                "--nemesis",
                "partition-all",
            ],
            "--nemesis: unknown fault \"partition-all\"; the seed's: partition, partition-one",
        ),
        (
            vec![
                "test",
                "--db",
                "tikv",
                "--version",
                "v7.5.1",
                "--nodes",
                "n1,n2",
            ],
            "--db tikv needs 3 nodes or more",
        ),
    ] {
        assert_refused(store.path(), &args, says);
    }
}

/// The suite against real TiKV machines over SSH, as the seed runs it: with
/// `RIFT_TIKV_NODES=host1,...,host5` (root logs in with the default SSH key or
/// `RIFT_TIKV_SSH_KEY`) and `RIFT_TIKV_TARBALL` (a file uploaded to each node, or a URL each
/// node fetches), every workload under `partition,kill`; otherwise it says why it skips.
#[test]
fn tikv_workloads_on_ssh_nodes_when_given() {
    let (Ok(nodes), Ok(tarball)) = (
        std::env::var("RIFT_TIKV_NODES"),
        std::env::var("RIFT_TIKV_TARBALL"),
    ) else {
        println!(
            "skipped: no TiKV machines: set RIFT_TIKV_NODES=host1,...,host5 and \
             RIFT_TIKV_TARBALL=FILE|URL (and RIFT_TIKV_SSH_KEY=PATH) to run the TiKV suite over SSH"
        );
        return;
    };
    let store = tempfile::tempdir().unwrap();
    let key = std::env::var("RIFT_TIKV_SSH_KEY").ok();
    for workload in ["register", "set", "list-append"] {
        let mut args = vec![
            "test",
            "--db",
            "tikv",
            "--workload",
            workload,
            "--nodes",
            &nodes,
            "--ssh",
            "--username",
            "root",
            "--tarball",
            &tarball,
            "--nemesis",
            "partition,kill",
            "--time-limit",
            "60",
        ];
        if let Some(k) = &key {
            args.extend(["--ssh-private-key", k.as_str()]);
        }
        let o = rift(store.path(), &args);
        assert_eq!(o.status.code(), Some(0), "{workload}: {}", describe(&o));
    }
}

#[test]
fn postgres_bad_options_are_refused_before_any_cluster() {
    let store = tempfile::tempdir().unwrap();
    for (args, says) in [
        (
            vec!["test", "--db", "postgres", "--isolation", "snapshot"],
            "--isolation \"snapshot\": PostgreSQL's levels are read-committed, repeatable-read, serializable",
        ),
        (
            vec!["test", "--db", "postgres", "--consistency-models", "serialisable"],
            "--consistency-models \"serialisable\": not a consistency model Elle knows",
        ),
        (
            vec!["test", "--db", "postgres", "--pg-bin-dir", "/nonexistent"],
            "--pg-bin-dir /nonexistent/postgres",
        ),
        (
            vec!["test", "--db", "postgres", "--replicas", "2", "--nodes", "n1,n2"],
            "--replicas 2 needs 3 nodes",
        ),
        (
            vec!["test-all", "--db", "postgres", "--replica-reads"],
            "--replica-reads needs replicas",
        ),
    ] {
        assert_refused(store.path(), &args, says);
    }
}

#[test]
fn check_reports_bad_input_with_file_line_and_field() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("h.jsonl");
    std::fs::write(
        &file,
        "{\"type\":\"invoke\",\"process\":0,\"f\":\"add\",\"value\":1}\n\
         {\"type\":\"okay\",\"process\":0,\"f\":\"add\",\"value\":1}\n",
    )
    .unwrap();
    let o = rift(
        dir.path(),
        &["check", "--checker", "set", file.to_str().unwrap()],
    );
    assert_eq!(o.status.code(), Some(254), "{}", describe(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("h.jsonl:2:"), "{err}");
    assert!(err.contains("field type"), "{err}");
}

#[test]
fn check_reads_jepsen_edn_from_the_corpus() {
    let Some(data) = shared_data() else { return };
    let store = tempfile::tempdir().unwrap();
    let mut n = 0;
    for sub in ["knossos", "elle", "elle-cli"] {
        for entry in walk(&data.join(sub)) {
            if entry.extension().and_then(|e| e.to_str()) != Some("edn") {
                continue;
            }
            let o = rift(
                store.path(),
                &["check", "--checker", "stats", entry.to_str().unwrap()],
            );
            assert!(
                matches!(o.status.code(), Some(0..=2)),
                "{}: {}",
                entry.display(),
                describe(&o)
            );
            n += 1;
        }
    }
    assert!(n > 100, "only {n} EDN files found");
    let bank = data.join("elle-cli/test/test-data/bank-neg.edn");
    if bank.is_file() {
        let o = rift(
            store.path(),
            &["check", "--checker", "bank", bank.to_str().unwrap()],
        );
        assert!(matches!(o.status.code(), Some(0..=2)), "{}", describe(&o));
    }
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

fn spawn_long_run(store: &Path) -> std::process::Child {
    Command::new(env!("CARGO_BIN_EXE_rift"))
        .args([
            "test",
            "--workload",
            "set",
            "--time-limit",
            "60",
            "--rate",
            "2000",
        ])
        .arg("--store")
        .arg(store)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn rift")
}

fn wait_for_history(store: &Path, min_bytes: u64) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let len = std::fs::metadata(store.join("latest/history.jsonl"))
            .map(|m| m.len())
            .unwrap_or(0);
        if len >= min_bytes {
            return;
        }
        assert!(Instant::now() < deadline, "the run wrote no history");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn ctrl_c_stops_writes_history_and_results_and_exits_nonzero() {
    let store = tempfile::tempdir().unwrap();
    let child = spawn_long_run(store.path());
    wait_for_history(store.path(), 20_000);
    let pid = child.id() as i32;
    // SAFETY: sending a signal to our own child process.
    unsafe { libc_kill(pid, 2) };
    let o = child.wait_with_output().unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", describe(&o));
    let r = results(store.path());
    assert_eq!(r["interrupted"], "SIGINT", "{r}");
    assert_eq!(r["valid?"], "unknown");
    let dir = latest(store.path());
    assert!(dir.join("history.edn").is_file());
    let (ops, report) = rift_history::json::read_jsonl_file(&dir.join("history.jsonl")).unwrap();
    assert_eq!(report.truncated_line, None);
    let h = rift_history::History::new(ops).unwrap();
    assert!(
        h.pairs().all(|(_, c)| c.is_some()),
        "in-flight ops were completed"
    );
}

#[test]
fn kill_9_leaves_a_readable_prefix() {
    let store = tempfile::tempdir().unwrap();
    let mut child = spawn_long_run(store.path());
    wait_for_history(store.path(), 50_000);
    child.kill().unwrap();
    let _ = child.wait();
    let dir = latest(store.path());
    let (ops, _) = rift_history::json::read_jsonl_file(&dir.join("history.jsonl")).unwrap();
    assert!(ops.len() > 100, "{} ops", ops.len());
    assert!(dir.join("test.json").is_file());
    // Analysis of the prefix still works.
    let a = rift(store.path(), &["analyze"]);
    assert!(matches!(a.status.code(), Some(0..=2)), "{}", describe(&a));
}

extern "C" {
    #[link_name = "kill"]
    fn libc_kill(pid: i32, sig: i32) -> i32;
}

fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("Uid:"))
                .and_then(|u| u.split_whitespace().next().map(|x| x == "0"))
        })
        .unwrap_or(false)
}

#[test]
fn cluster_up_status_down() {
    if !is_root() {
        eprintln!("skipped: needs root (network namespaces)");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().to_str().unwrap();
    let prefix = format!("rc{}-", std::process::id() % 100_000);
    let at = ["--root", root, "--prefix", &prefix];
    let run = |sub: &[&str]| {
        let mut a = vec!["cluster"];
        a.extend_from_slice(sub);
        a.extend_from_slice(&at);
        rift(dir.path(), &a)
    };
    // Always tear down, even if an assertion fails.
    struct Down<'a>(&'a dyn Fn(&[&str]) -> Output);
    impl Drop for Down<'_> {
        fn drop(&mut self) {
            let _ = (self.0)(&["down"]);
        }
    }
    let _guard = Down(&run);
    let o = run(&["up", "--nodes", "3"]);
    assert_eq!(o.status.code(), Some(0), "{}", describe(&o));
    assert!(
        stdout(&o).contains(&format!("{prefix}n3")),
        "{}",
        describe(&o)
    );
    let o = run(&["up", "--nodes", "3"]);
    assert_eq!(
        o.status.code(),
        Some(254),
        "a second up must refuse: {}",
        describe(&o)
    );
    let o = run(&["status", "--json"]);
    assert_eq!(o.status.code(), Some(0), "{}", describe(&o));
    let status: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(status["nodes"].as_array().unwrap().len(), 3);
    let o = run(&["down"]);
    assert_eq!(o.status.code(), Some(0), "{}", describe(&o));
    let netns = Command::new("ip").args(["netns", "list"]).output().unwrap();
    assert!(
        !String::from_utf8_lossy(&netns.stdout).contains(&prefix),
        "namespaces left behind"
    );
    let o = run(&["status"]);
    assert_eq!(o.status.code(), Some(254), "{}", describe(&o));
}

#[test]
fn check_kafka_finds_lost_writes_and_honours_ignored_types() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("kafka.edn");
    // 10 and 11 sent to key 1 at offsets 0 and 1; a poll returns only 11: 10 is lost.
    std::fs::write(
        &file,
        "{:process 0, :type :invoke, :f :send, :value [[:send 1 10]], :time 0}\n\
         {:process 0, :type :ok, :f :send, :value [[:send 1 [0 10]]], :time 1}\n\
         {:process 0, :type :invoke, :f :send, :value [[:send 1 11]], :time 2}\n\
         {:process 0, :type :ok, :f :send, :value [[:send 1 [1 11]]], :time 3}\n\
         {:process 1, :type :invoke, :f :poll, :value [[:poll]], :time 4}\n\
         {:process 1, :type :ok, :f :poll, :value [[:poll {1 [[1 11]]}]], :time 5}\n",
    )
    .unwrap();
    let path = file.to_str().unwrap();
    let o = rift(dir.path(), &["check", "--checker", "kafka", path]);
    assert_eq!(o.status.code(), Some(1), "{}", describe(&o));
    let out = stdout(&o);
    assert!(out.contains("\"lost-write\""), "{out}");
    assert!(out.contains(INVALID), "{out}");
    // Allowing both error types makes the same history pass.
    let o = rift(
        dir.path(),
        &[
            "check",
            "--checker",
            "kafka",
            "--ignore-queue-errors",
            "lost-write,unseen",
            path,
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", describe(&o));
    // Once 10 is polled at offset 0 as well, nothing is lost.
    let mut text = std::fs::read_to_string(&file).unwrap();
    text = text.replace("{1 [[1 11]]}", "{1 [[0 10] [1 11]]}");
    std::fs::write(&file, text).unwrap();
    let o = rift(dir.path(), &["check", "--checker", "kafka", path]);
    assert_eq!(o.status.code(), Some(0), "{}", describe(&o));
    assert!(stdout(&o).contains(VALID));
}

#[test]
fn serve_refuses_a_missing_store() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nope");
    let o = Command::new(env!("CARGO_BIN_EXE_rift"))
        .args(["serve", "--port", "0", "--store"])
        .arg(&missing)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(254), "{}", describe(&o));
    assert!(String::from_utf8_lossy(&o.stderr).contains("does not exist"));
}

#[test]
fn runs_write_plots_timeline_and_perf_summary() {
    let (o, store) = run_workload("set", None);
    assert_eq!(o.status.code(), Some(0), "{}", describe(&o));
    let run = latest(store.path());
    for f in [
        "latency-raw.png",
        "latency-raw.svg",
        "latency-quantiles.png",
        "rate.png",
        "rate.svg",
        "timeline.html",
    ] {
        let meta = std::fs::metadata(run.join(f)).unwrap_or_else(|e| panic!("{f}: {e}"));
        assert!(meta.len() > 100, "{f} is nearly empty");
    }
    let png = std::fs::read(run.join("rate.png")).unwrap();
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
    let r = results(store.path());
    assert!(
        r["perf"]["by-f"]["add"]["ok"].as_u64().unwrap() > 0,
        "{}",
        r["perf"]
    );
    assert!(r["perf"]["by-f"]["add"]["latency-ms"]["p99"].is_number());
    // rift analyze renders the same files again.
    std::fs::remove_file(run.join("rate.png")).unwrap();
    let o = rift(store.path(), &["analyze"]);
    assert_eq!(o.status.code(), Some(0), "{}", describe(&o));
    assert!(run.join("rate.png").is_file());
}

/// `rift ARGS` exits 254 (bad arguments) saying `says`, before any cluster is built.
fn assert_refused_before_a_cluster(store: &Path, all: &[&str], says: &str) {
    let o = rift(store, all);
    assert_eq!(o.status.code(), Some(254), "{all:?}: {}", describe(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains(says), "{all:?}: {err}");
    assert!(
        !err.contains("local cluster of"),
        "a cluster was built: {err}"
    );
}

#[test]
fn bufstream_and_nisshi_inputs_are_checked_before_a_cluster_is_built() {
    let store = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let text = dir.path().join("bufstream");
    std::fs::write(&text, "not a program").unwrap();
    let text = text.to_str().unwrap();
    for (args, says) in [
        (
            vec!["--db", "bufstream", "--bin", "bufstream-0.1.3-rc6"],
            "--bin bufstream-0.1.3-rc6: No such file or directory",
        ),
        (
            vec!["--db", "bufstream", "--bin", text],
            "not executable (chmod +x it)",
        ),
        (
            vec![
                "--db",
                "bufstream",
                "--bin",
                "/bin/sh",
                "--minio-bin",
                "/nonexistent/minio",
            ],
            "--minio-bin /nonexistent/minio",
        ),
        (
            vec!["--db", "bufstream", "--bin", "/bin/sh", "--nodes", "n1,n2"],
            "needs at least 3 nodes (etcd, storage, Bufstream), got 2",
        ),
        (
            vec![
                "--db",
                "bufstream",
                "--bin",
                "/bin/sh",
                "--nemesis",
                "clock-bufstream",
            ],
            "Go programs (Bufstream, etcd, MinIO) ignore",
        ),
        (
            vec![
                "--db",
                "bufstream",
                "--bin",
                "/bin/sh",
                "--nemesis",
                "kill-controller",
            ],
            "kill-coordination",
        ),
        (
            vec!["--db", "nisshi", "--nodes", "n1"],
            "needs at least 2 nodes (PostgreSQL, a broker), got 1",
        ),
        (
            vec!["--db", "nisshi", "--pg-bin-dir", "/nonexistent"],
            "--pg-bin-dir /nonexistent/postgres",
        ),
    ] {
        let mut all = vec!["test", "--time-limit", "1"];
        all.extend(args.iter().copied());
        assert_refused_before_a_cluster(store.path(), &all, says);
    }
}

#[test]
fn flink_inputs_are_checked_before_a_cluster_is_built() {
    let store = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let broken = dir.path().join("broken.edn");
    std::fs::write(
        &broken,
        "{:dbs [:zookeeper :flink-standalone-session]\n :jobs [",
    )
    .unwrap();
    let hadoop_yarn = dir.path().join("yarn.edn");
    std::fs::write(
        &hadoop_yarn,
        "{:dbs [:hadoop :zookeeper :flink-yarn-session]}",
    )
    .unwrap();
    let no_jar = dir.path().join("nojar.edn");
    std::fs::write(&no_jar, "{:jobs [{:job-args \"--x 1\"}]}").unwrap();
    let (broken, yarn, no_jar) = (
        broken.to_str().unwrap(),
        hadoop_yarn.to_str().unwrap(),
        no_jar.to_str().unwrap(),
    );
    for (args, says) in [
        (vec!["--db", "flink", "--test-spec", broken], broken),
        (
            vec!["--db", "flink", "--test-spec", yarn],
            ":dbs: :flink-yarn-session: YARN deployments are not run",
        ),
        (
            vec!["--db", "flink", "--test-spec", no_jar],
            ":jobs 0 :job-jar: missing",
        ),
        (
            vec!["--db", "flink", "--nodes", "n1,n2,n3,n4,n5"],
            "needs at least 6 nodes",
        ),
        (
            vec![
                "--db",
                "flink",
                "--workload",
                "exactly-once",
                "--nodes",
                "n1,n2,n3,n4,n5,n6,n7",
            ],
            "needs at least 9 nodes",
        ),
        (
            vec!["--db", "flink", "--deployment-mode", "mesos-session"],
            "Flink dropped Mesos support in 1.14",
        ),
        (
            vec![
                "--db",
                "flink",
                "--nemesis-gen",
                "fail-name-node-during-recovery",
            ],
            "give --hdfs",
        ),
        (
            vec!["--db", "flink", "--job-recovery-grace-period", "30"],
            "should be at least 60",
        ),
    ] {
        let mut all = vec!["test", "--time-limit", "1"];
        all.extend(args.iter().copied());
        assert_refused_before_a_cluster(store.path(), &all, says);
    }
}

#[test]
fn kafka_options_are_checked_before_a_cluster_is_built() {
    let store = tempfile::tempdir().unwrap();
    for (args, says) in [
        (vec!["--acks", "most"], "--acks \"most\": expected one of all, -1, 1, 0"),
        (vec!["--sub-via", "assign,poll"], "--sub-via \"poll\""),
        (vec!["--isolation-level", "serializable"], "--isolation-level"),
        (vec!["--min-insync-replicas", "4"], "--min-insync-replicas 4"),
        (
            vec!["--nemesis", "kill-storage"],
            "kill-controller, pause-controller, clock-controller, packet-controller, partition-controller, partition-broker-controller",
        ),
        (vec!["--serializable-reads"], "--serializable-reads"),
    ] {
        let mut all = vec!["test", "--db", "kafka", "--time-limit", "1"];
        all.extend(args.iter().copied());
        assert_refused_before_a_cluster(store.path(), &all, says);
    }
    let o = rift(store.path(), &["test", "--db", "kafka", "--help"]);
    assert_eq!(o.status.code(), Some(0), "{}", describe(&o));
    let help = String::from_utf8_lossy(&o.stdout);
    for opt in [
        "--sub-via",
        "--safe",
        "--txn",
        "--nemesis-stable-period",
        "--archive",
    ] {
        assert!(help.contains(opt), "{opt} missing from:\n{help}");
    }
    assert!(!help.contains("--serializable-reads"), "{help}");
    assert!(!help.contains("--kv-reads"), "{help}");
}
