//! `rift`: run tests, re-check stored runs, check any history file.
//!
//! Exit codes follow Jepsen: 0 valid, 1 invalid, 2 unknown, 254 bad arguments, 255 internal
//! error.

mod args;
mod checkers;
mod cluster_test;
mod verdict;

use anyhow::{anyhow, Context, Result};
use args::{AnalyzeArgs, CheckArgs, Cli, ClusterCommand, Command, ServeArgs, TestArgs};
use clap::Parser;
use rift_checker::{CheckResult, Validity};
use rift_core::{store, workload, RunOptions};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;
use verdict::{print_summary, print_verdict, worst, EXIT_BAD_ARGS, EXIT_INTERNAL};

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let code = if e.use_stderr() { EXIT_BAD_ARGS } else { 0 };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    init_logging();
    let res = match cli.command {
        Command::Test(a) => cmd_test(a, false),
        Command::TestAll(a) => cmd_test(a, true),
        Command::Analyze(a) => cmd_analyze(a),
        Command::Check(a) => cmd_check(a),
        Command::Cluster(c) => cmd_cluster(c),
        Command::Serve(a) => cmd_serve(a),
        Command::KvServer { args } => return ExitCode::from(rift_kv::main_with_args(&args) as u8),
    };
    match res {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            let bad_args = e.downcast_ref::<args::BadArgs>().is_some();
            eprintln!("rift: {e:#}");
            ExitCode::from(if bad_args {
                EXIT_BAD_ARGS
            } else {
                EXIT_INTERNAL
            })
        }
    }
}

fn init_logging() {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(|| rift_core::log::TeeWriter)
        .with_ansi(false)
        .with_target(false)
        .try_init();
}

fn cmd_test(a: TestArgs, all: bool) -> Result<u8> {
    let nodes = a.node_list()?;
    let concurrency = rift_core::parse_concurrency(&a.concurrency_or_default(), nodes.len())
        .map_err(args::bad)?;
    let bugs = a.bugs()?;
    let known: &[&str] = match a.db.as_str() {
        "mem" => workload::NAMES,
        "kv" => cluster_test::KV_WORKLOADS,
        "etcd" => cluster_test::ETCD_WORKLOADS,
        other => {
            return Err(args::bad(format!(
                "unknown --db {other:?}; this build knows: etcd (a real etcd cluster on the local \
                 cluster), kv (rift-kv, our own store, on the local cluster or SSH nodes), mem \
                 (the in-process system under test)"
            ))
            .into())
        }
    };
    let nemesis = a.nemesis_or_default();
    if a.db == "mem" && nemesis != "none" && !nemesis.is_empty() {
        return Err(args::bad(
            "--nemesis needs a real cluster: the in-memory system (--db mem) has no nodes to fault; \
             try --db kv",
        )
        .into());
    }
    let workloads: Vec<String> = if all {
        match &a.workload {
            Some(w) => vec![w.clone()],
            None => known.iter().map(|s| s.to_string()).collect(),
        }
    } else {
        vec![a.workload.clone().unwrap_or_else(|| known[0].into())]
    };
    // Checked before a cluster is built, so that bad arguments cost nothing.
    rift_nemesis::parse_faults(&nemesis).map_err(args::bad)?;
    if let Some(w) = workloads.iter().find(|w| !known.contains(&w.as_str())) {
        return Err(args::bad(format!(
            "--db {} serves the workloads {}; not {w:?}",
            a.db,
            known.join(", ")
        ))
        .into());
    }
    let cluster = match a.db.as_str() {
        "kv" | "etcd" => Some(cluster_test::TestCluster::start(&a, &nodes)?),
        _ => None,
    };
    // test-all on a real cluster without --nemesis: the matrix of workloads x fault sets.
    let nemeses: Vec<String> = if all && a.nemesis.is_none() && a.db != "mem" {
        MATRIX_NEMESES.iter().map(|s| s.to_string()).collect()
    } else {
        vec![nemesis.clone()]
    };
    let matrix: Vec<(String, String)> = workloads
        .iter()
        .flat_map(|w| nemeses.iter().map(move |n| (w.clone(), n.clone())))
        .collect();
    let mut rows = Vec::new();
    let mut codes = Vec::new();
    for (w, n) in &matrix {
        let mut ra = a.clone();
        ra.nemesis = Some(n.clone());
        for i in 0..a.test_count.max(1) {
            let seed = match a.seed {
                Some(s) => s.wrapping_add(i as u64),
                None => fresh_seed(),
            };
            let o = workload::WorkloadOptions {
                workload: w.clone(),
                rate_hz: a.rate,
                time_limit: Duration::from_secs_f64(a.time_limit),
                bugs: bugs.clone(),
            };
            let opts = RunOptions {
                store_root: a.store.clone(),
                time_limit: Some(o.time_limit),
                op_timeout: Duration::from_secs_f64(a.op_timeout),
                argv: std::env::args().collect(),
                progress: true,
                leave_db_running: a.leave_db_running,
                ..RunOptions::default()
            };
            let test = match &cluster {
                Some(tc) if a.db == "etcd" => {
                    cluster_test::etcd_test(&ra, tc, concurrency, seed, &o, opts)?
                }
                Some(tc) => cluster_test::kv_test(&ra, tc, concurrency, seed, &o, opts)?,
                None => workload::mem_test(nodes.clone(), concurrency, seed, &o, opts)
                    .map_err(args::bad)?,
            };
            let outcome = rift_core::run(test)?;
            print_summary(&outcome.result);
            for e in &outcome.teardown_errors {
                eprintln!("teardown error: {e}");
            }
            println!(
                "{} ops in {:.1}s, seed {seed}, stored in {}",
                outcome.op_count,
                outcome.elapsed.as_secs_f64(),
                outcome.dir.path().display()
            );
            let code = print_verdict(outcome.result.valid);
            rows.push((
                w.clone(),
                n.clone(),
                seed,
                outcome.result.valid,
                outcome.dir.path().to_path_buf(),
            ));
            codes.push(code);
            if outcome.interrupted.is_some() || outcome.result.valid != Validity::True {
                break; // --test-count: stop at the first run that is not valid
            }
        }
        if codes.last().is_some_and(|&c| c != 0) && !all {
            break;
        }
    }
    if all {
        print_table(&rows);
    }
    Ok(worst(&codes))
}

/// The fault sets `rift test-all` runs each workload under on a real cluster.
const MATRIX_NEMESES: &[&str] = &["none", "partition", "kill", "pause", "partition,kill"];

fn print_table(rows: &[(String, String, u64, Validity, PathBuf)]) {
    println!();
    println!(
        "{:<12} {:<16} {:<18} {:<8} store",
        "workload", "nemesis", "seed", "valid?"
    );
    for (w, n, seed, v, dir) in rows {
        println!(
            "{w:<12} {n:<16} {seed:<18} {:<8} {}",
            v.to_string(),
            dir.display()
        );
    }
}

fn fresh_seed() -> u64 {
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0);
    // 53 bits, so the seed survives JSON readers that parse numbers as doubles.
    (t ^ ((std::process::id() as u64) << 32) ^ 0x9e37_79b9_7f4a_7c15) & ((1 << 53) - 1)
}

fn cmd_analyze(a: AnalyzeArgs) -> Result<u8> {
    let dir = store::resolve_run(&a.store, a.test.as_deref()).map_err(args::bad)?;
    let test_json = dir.file(store::files::TEST);
    let text = std::fs::read_to_string(&test_json)
        .with_context(|| format!("reading {}", test_json.display()))?;
    let meta: serde_json::Value = serde_json::from_str(&text)
        .with_context(|| format!("{} is not valid JSON", test_json.display()))?;
    let spec = meta
        .get("spec")
        .ok_or_else(|| anyhow!("{}: field spec is missing", test_json.display()))?;
    let checker = match spec.get("db").and_then(|d| d.as_str()) {
        Some("etcd") => spec
            .get("workload")
            .and_then(|w| w.as_str())
            .ok_or_else(|| "the test spec names no workload".to_string())
            .and_then(rift_etcd::EtcdWorkload::parse)
            .and_then(rift_etcd::checker),
        _ => workload::checker_for(spec),
    }
    .map_err(|e| anyhow!("{}: field spec: {e}", test_json.display()))?;
    let interrupted = meta
        .get("interrupted")
        .and_then(|i| i.as_str())
        .map(rift_core::Interrupt::parse);
    println!("analyzing {}", dir.path().display());
    let result = rift_core::check_run(&dir, &*checker, interrupted.as_ref(), &[])?;
    print_summary(&result);
    Ok(print_verdict(result.valid))
}

fn cmd_check(a: CheckArgs) -> Result<u8> {
    let checker = checkers::build(&a)?;
    let (ops, report) = rift_history::read_ops_file(&a.file).map_err(args::bad)?;
    if let Some(line) = report.truncated_line {
        eprintln!(
            "rift: {}: line {line} is cut short (a torn write); checking the ops before it",
            a.file.display()
        );
    }
    let history = rift_history::History::new_lenient(ops).map_err(args::bad)?;
    let ctx = match &a.out {
        Some(dir) => rift_checker::CheckContext::in_dir(dir.clone()),
        None => rift_checker::CheckContext::none(),
    };
    let mut result: CheckResult = checker.check(&ctx, &history);
    if let Some(first) = history.pairing_problems().first() {
        // Ops that do not pair by process (histories with no :process, say) can still be
        // read, but then nothing built on invocation/completion pairs can be trusted.
        let n = history.pairing_problems().len();
        eprintln!(
            "rift: {}: {n} op(s) do not pair by process (first: {first}); the verdict can be no better than unknown",
            a.file.display()
        );
        if result.valid == Validity::True {
            result.valid = Validity::Unknown;
        }
        result.details.insert(
            "pairing-problems".into(),
            serde_json::json!({"count": n, "first": first.to_string()}),
        );
    }
    println!("{}", result.to_json_pretty());
    Ok(print_verdict(result.valid))
}

fn cmd_serve(a: ServeArgs) -> Result<u8> {
    rift_web::check_store(&a.store).map_err(args::bad)?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    rt.block_on(rift_web::serve(rift_web::ServeOptions {
        host: a.host,
        port: a.port,
        store: a.store,
    }))?;
    Ok(0)
}

fn cmd_cluster(c: ClusterCommand) -> Result<u8> {
    use rift_control::{ClusterConfig, LocalCluster};
    match c {
        ClusterCommand::Up { nodes, at } => {
            let config = ClusterConfig::new(nodes)
                .with_prefix(at.prefix.clone())
                .with_root(at.root.clone());
            let t = std::time::Instant::now();
            let cluster = LocalCluster::up(&config).map_err(cluster_error)?;
            println!(
                "{} nodes up in {} ms (state in {})",
                nodes,
                t.elapsed().as_millis(),
                at.root.join("cluster.json").display()
            );
            print_status(&cluster.status());
        }
        ClusterCommand::Down { at } => {
            let report = rift_control::teardown(&at.root, &at.prefix).map_err(cluster_error)?;
            if report.removed.is_empty() {
                println!("nothing to remove");
            }
            for line in &report.removed {
                println!("removed {line}");
            }
        }
        ClusterCommand::Status { at, json } => {
            let cluster = LocalCluster::open(&at.root).map_err(cluster_error)?;
            let status = cluster.status();
            if json {
                println!("{}", serde_json::to_string_pretty(&status)?);
            } else {
                print_status(&status);
            }
        }
    }
    Ok(0)
}

/// Errors the user can fix (not root, a cluster already up, no cluster) are bad arguments.
pub(crate) fn cluster_error(e: rift_control::ControlError) -> anyhow::Error {
    use rift_control::ControlError as E;
    match e {
        E::NeedsRoot { .. } | E::AlreadyUp { .. } | E::InvalidConfig(_) | E::State { .. } => {
            args::bad(e).into()
        }
        other => other.into(),
    }
}

fn print_status(s: &rift_control::ClusterStatus) {
    println!(
        "prefix {}  root {}  tracking {:?}  bridge {}",
        s.prefix,
        s.root.display(),
        s.tracking,
        if s.bridge_present { "up" } else { "missing" }
    );
    for n in &s.nodes {
        println!(
            "  {:<4} {:<15} netns {:<12} {}  processes {}{}",
            n.name,
            n.address.to_string(),
            n.namespace,
            if n.namespace_present {
                "present"
            } else {
                "MISSING"
            },
            n.pids.len(),
            if n.paused { "  (paused)" } else { "" }
        );
    }
}
