//! `rift`: run tests, re-check stored runs, check any history file.
//!
//! Exit codes follow Jepsen: 0 valid, 1 invalid, 2 unknown, 254 bad arguments, 255 internal
//! error.

mod args;
mod checkers;
mod cluster_test;
mod suites;
mod verdict;

use anyhow::{anyhow, Context, Result};
use args::{AnalyzeArgs, CheckArgs, Cli, ClusterCommand, Command, ServeArgs, TestArgs};
use clap::FromArgMatches;
use rift_checker::{CheckResult, Validity};
use rift_core::{store, workload, RunOptions};
use rift_suite::{Common, Suite, SuiteError};
use std::collections::BTreeSet;
use std::ffi::OsString;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;
use verdict::{print_summary, print_verdict, worst, EXIT_BAD_ARGS, EXIT_INTERNAL};

fn main() -> ExitCode {
    let argv: Vec<OsString> = std::env::args_os().collect();
    // The suite decides which options `test` and `test-all` have, so it is found first.
    let suite = match suites::for_argv(&argv) {
        Ok(s) => s,
        Err(msg) => {
            eprintln!("rift: {msg}");
            return ExitCode::from(EXIT_BAD_ARGS);
        }
    };
    let matches = match args::command(suite).try_get_matches_from(&argv) {
        Ok(m) => m,
        Err(e) => return clap_error(e),
    };
    let cli = match Cli::from_arg_matches(&matches) {
        Ok(c) => c,
        Err(e) => return clap_error(e),
    };
    init_logging();
    let sub = matches.subcommand().map(|(_, m)| m);
    let res = match (cli.command, sub) {
        (Command::Test(a), Some(m)) => cmd_test(a, m, suite, false),
        (Command::TestAll(a), Some(m)) => cmd_test(a, m, suite, true),
        (Command::Test(_) | Command::TestAll(_), None) => Err(anyhow!("no matches for test")),
        (Command::Analyze(a), _) => cmd_analyze(a),
        (Command::Check(a), _) => cmd_check(a),
        (Command::Cluster(c), _) => cmd_cluster(c),
        (Command::Serve(a), _) => cmd_serve(a),
        (Command::KvServer { args }, _) => {
            return ExitCode::from(rift_kv::main_with_args(&args) as u8)
        }
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

/// Prints a clap error (or help) and returns its exit code; an option of another suite gets a
/// hint naming that suite.
fn clap_error(e: clap::Error) -> ExitCode {
    use clap::error::{ContextKind, ContextValue, ErrorKind};
    let code = if e.use_stderr() { EXIT_BAD_ARGS } else { 0 };
    let _ = e.print();
    if e.kind() == ErrorKind::UnknownArgument {
        if let Some(ContextValue::String(arg)) = e.get(ContextKind::InvalidArg) {
            let long = arg.trim_start_matches('-');
            let long = long.split('=').next().unwrap_or(long);
            if let Some(owner) = suites::owner_of(long) {
                eprintln!(
                    "note: --{long} is an option of --db {0} (`rift test --db {0} --help`)",
                    owner.name()
                );
            }
        }
    }
    ExitCode::from(code)
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

/// `rift test` and `rift test-all` of the suite whose options `m` holds (`parsed_for`).
fn cmd_test(
    a: TestArgs,
    m: &clap::ArgMatches,
    parsed_for: Option<&'static dyn Suite>,
    all: bool,
) -> Result<u8> {
    let suite = suites::lookup(&a.db).map_err(args::bad)?;
    if parsed_for.map(|s| s.name()) != Some(suite.name()) {
        return Err(args::bad(format!("--db {}: give --db once, as `--db NAME`", a.db)).into());
    }
    let known = suite.workloads();
    let workloads: Vec<String> = match (&a.workload, all) {
        (Some(w), _) => vec![w.clone()],
        (None, true) => known.iter().map(|s| s.to_string()).collect(),
        (None, false) => known.iter().take(1).map(|s| s.to_string()).collect(),
    };
    if let Some(w) = workloads.iter().find(|w| !known.contains(&w.as_str())) {
        return Err(args::bad(format!(
            "--db {} serves the workloads {}; not {w:?}",
            suite.name(),
            known.join(", ")
        ))
        .into());
    }
    let default_nodes = workloads
        .iter()
        .map(|w| suite.default_node_count(m, w))
        .max()
        .unwrap_or(5);
    let nodes = a.node_list(default_nodes)?;
    let concurrency = rift_core::parse_concurrency(
        a.concurrency
            .as_deref()
            .unwrap_or(suite.default_concurrency()),
        nodes.len(),
    )
    .map_err(args::bad)?;
    let nemesis = a
        .nemesis
        .clone()
        .unwrap_or_else(|| suite.default_nemesis().to_string());
    if !suite.needs_cluster() && nemesis.trim() != "none" && !nemesis.trim().is_empty() {
        let real: Vec<String> = suites::SUITES
            .iter()
            .filter(|s| s.needs_cluster())
            .map(|s| format!("--db {}", s.name()))
            .collect();
        return Err(args::bad(format!(
            "--nemesis needs a real cluster: --db {} has no nodes to fault; try {}",
            suite.name(),
            real.join(" or ")
        ))
        .into());
    }
    // test-all on a real cluster without --nemesis: the matrix of workloads x fault sets.
    let nemeses: Vec<String> = if all && a.nemesis.is_none() && suite.needs_cluster() {
        suite.test_all_nemeses(a.uses_ssh())
    } else {
        vec![nemesis.clone()]
    };
    // A suite's third axis (PostgreSQL's isolation levels), unless the user fixed it.
    let variants = all.then(|| suite.test_all_variants(m)).flatten();
    let variant_values: Vec<Option<String>> = match &variants {
        Some((_, vs)) => vs.iter().cloned().map(Some).collect(),
        None => vec![None],
    };
    let mut matrix: Vec<(String, Option<String>, String)> = Vec::new();
    for w in &workloads {
        for v in &variant_values {
            for n in &nemeses {
                matrix.push((w.clone(), v.clone(), n.clone()));
            }
        }
    }
    // Checked before a cluster is built, so that bad arguments cost nothing.
    let roles = suite.roles(&nodes);
    let mut kinds = BTreeSet::new();
    for n in &nemeses {
        let faults = suite
            .nemesis_faults(n, &roles)
            .map_err(|e| args::bad(format!("--nemesis: {e}")))?;
        kinds.extend(rift_nemesis::fault_kinds(&faults, &roles));
    }
    for (w, v, n) in &matrix {
        let mut c = common(&a, suite, nodes.clone(), concurrency, w, n, 0);
        c.variant = v.clone();
        suite.check_args(m, &c, a.uses_ssh()).map_err(suite_error)?;
    }
    let place = match suite.needs_cluster() {
        true => Some(cluster_test::TestPlace::start(&a, &nodes, &kinds)?),
        false => None,
    };
    let place = place.as_ref().map(|p| &p.place);
    let run_nodes = place.map_or_else(|| nodes.clone(), |p| p.nodes());
    let mut rows = Vec::new();
    let mut codes = Vec::new();
    for (w, v, n) in &matrix {
        for i in 0..a.test_count {
            let seed = match a.seed {
                Some(s) => s.wrapping_add(i as u64),
                None => fresh_seed(),
            };
            let mut c = common(&a, suite, run_nodes.clone(), concurrency, w, n, seed);
            c.variant = v.clone();
            let test = suite.build(m, &c, place).map_err(suite_error)?;
            let outcome = rift_core::run(test)?;
            print_summary(&outcome.result);
            suite.summary(&outcome.result);
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
            rows.push(Row {
                workload: w.clone(),
                variant: v.clone(),
                nemesis: n.clone(),
                seed,
                valid: outcome.result.valid,
                anomalies: anomaly_types(&outcome.result),
                dir: outcome.dir.path().to_path_buf(),
            });
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
        print_table(variants.as_ref().map(|(name, _)| *name), &rows);
    }
    Ok(worst(&codes))
}

/// The common options of one run of `workload` under `nemesis` with `seed`.
fn common(
    a: &TestArgs,
    suite: &dyn Suite,
    nodes: Vec<String>,
    concurrency: u32,
    workload: &str,
    nemesis: &str,
    seed: u64,
) -> Common {
    let time_limit = Duration::from_secs_f64(a.time_limit);
    Common {
        workload: workload.to_string(),
        nodes,
        concurrency,
        seed,
        time_limit,
        rate_hz: a
            .rate
            .or(suite
                .default_rate_per_thread()
                .map(|r| r * f64::from(concurrency)))
            .or(suite.default_rate_hz())
            .unwrap_or(args::DEFAULT_RATE_HZ),
        nemesis: nemesis.to_string(),
        nemesis_interval_s: a.nemesis_interval,
        nemesis_rotate_s: a.nemesis_rotate,
        recovery: Duration::from_secs_f64(a.recovery_time),
        watchdog_s: a.watchdog,
        watchdog_debug: false,
        run: RunOptions {
            store_root: a.store.clone(),
            time_limit: Some(time_limit),
            op_timeout: Duration::from_secs_f64(a.op_timeout),
            argv: args::redact_argv(std::env::args_os().map(|s| s.to_string_lossy().into_owned())),
            progress: true,
            leave_db_running: a.leave_db_running,
            ..RunOptions::default()
        },
        variant: None,
    }
}

/// A suite's error as the CLI reports it: bad arguments exit 254, failures 255.
fn suite_error(e: SuiteError) -> anyhow::Error {
    match e {
        SuiteError::BadArgs(m) => args::bad(m).into(),
        SuiteError::Failed(m) => anyhow!(m),
    }
}

/// One run of `rift test-all`'s table.
struct Row {
    workload: String,
    variant: Option<String>,
    nemesis: String,
    seed: u64,
    valid: Validity,
    anomalies: Vec<String>,
    dir: PathBuf,
}

/// The anomaly types of a result and of the checkers composed in it (their
/// `anomaly-types`), sorted, once each.
fn anomaly_types(r: &rift_checker::CheckResult) -> Vec<String> {
    let mut all: BTreeSet<String> = r.anomaly_types.iter().cloned().collect();
    for sub in r.details.values() {
        if let Some(types) = sub.get("anomaly-types").and_then(|t| t.as_array()) {
            all.extend(types.iter().filter_map(|t| t.as_str()).map(str::to_string));
        }
    }
    all.into_iter().collect()
}

/// The table of verdicts; `variant` names the suite's third column when it has one.
fn print_table(variant: Option<&str>, rows: &[Row]) {
    println!();
    let vcol = |v: &str| match variant {
        Some(_) => format!("{v:<16} "),
        None => String::new(),
    };
    println!(
        "{:<12} {}{:<16} {:<18} {:<8} {:<24} store",
        "workload",
        vcol(variant.unwrap_or("")),
        "nemesis",
        "seed",
        "valid?",
        "anomalies"
    );
    for r in rows {
        let anomalies = if r.anomalies.is_empty() {
            "-".to_string()
        } else {
            r.anomalies.join(",")
        };
        println!(
            "{:<12} {}{:<16} {:<18} {:<8} {anomalies:<24} {}",
            r.workload,
            vcol(r.variant.as_deref().unwrap_or("")),
            r.nemesis,
            r.seed,
            r.valid.to_string(),
            r.dir.display()
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
    // The suite that made the run rebuilds its checker; specs without a db (or of a suite this
    // build does not know) get the generic workload checkers.
    let suite = spec
        .get("db")
        .and_then(|d| d.as_str())
        .and_then(suites::find);
    let checker = match suite {
        Some(suite) => suite.checker(spec),
        None => workload::checker_for(spec),
    }
    .map_err(|e| anyhow!("{}: field spec: {e}", test_json.display()))?;
    let interrupted = meta
        .get("interrupted")
        .and_then(|i| i.as_str())
        .map(rift_core::Interrupt::parse);
    println!("analyzing {}", dir.path().display());
    let result = rift_core::check_run(&dir, &*checker, interrupted.as_ref(), &[])?;
    print_summary(&result);
    if let Some(suite) = suite {
        suite.summary(&result);
    }
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
    if history.is_empty() {
        eprintln!(
            "rift: {}: the history holds no operations (nothing to check)",
            a.file.display()
        );
    }
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
