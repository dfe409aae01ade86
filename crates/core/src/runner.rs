//! The runner: sets up, runs the generator against workers, records, tears down, checks.

use crate::interpreter::{interpret, Interpreted, Interrupt, Stop};
use crate::spec::{Test, TestInfo};
use crate::store::{files, RunDir};
use crate::traits::{Client, Db};
use rift_checker::{CheckContext, CheckResult, Validity};
use rift_history::json::JsonlWriter;
use rift_report::ReportOptions;
use std::fs;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

/// Why a run could not produce a verdict.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// The store could not be written.
    #[error("store {path}: {source}")]
    Store {
        /// What was being written.
        path: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// Setting up the system failed (teardown still ran).
    #[error("setup failed: {0}")]
    Setup(String),
    /// A bug in rift (a panicking task).
    #[error("internal error: {0}")]
    Internal(String),
    /// The recorded history could not be read back.
    #[error("history: {0}")]
    History(#[from] rift_history::Error),
}

fn store_err(path: &Path) -> impl FnOnce(std::io::Error) -> RunError + '_ {
    move |source| RunError::Store {
        path: path.display().to_string(),
        source,
    }
}

/// What a finished run produced.
#[derive(Debug)]
pub struct RunOutcome {
    /// The run's store directory.
    pub dir: RunDir,
    /// The checker's result (downgraded to unknown if the run was interrupted).
    pub result: CheckResult,
    /// Ops in the history (invocations and completions).
    pub op_count: u64,
    /// Set when Ctrl-C or SIGTERM cut the run short.
    pub interrupted: Option<Interrupt>,
    /// Errors from teardown, reported beside the verdict.
    pub teardown_errors: Vec<String>,
    /// Wall time of the whole run.
    pub elapsed: Duration,
}

/// Runs a test to its verdict on a new single-threaded tokio runtime, stopping early on Ctrl-C
/// or SIGTERM (in-flight ops then complete or are recorded `info`, and everything is still
/// written and checked).
///
/// One thread runs the interpreter, every worker and the recorder: clients spend their time
/// waiting on the network, and handing ops between tasks on one thread costs no cross-thread
/// wake-ups (measured: 500k ops/s here against 150-190k on a two-thread runtime). Clients that
/// do heavy CPU work or block must use `tokio::task::spawn_blocking`. Checkers run after the
/// workload and use every core.
pub fn run(test: Test) -> Result<RunOutcome, RunError> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| RunError::Setup(format!("cannot start the async runtime: {e}")))?;
    // The run is a task of its own so that a panic in it becomes an error, not an abort.
    rt.block_on(async {
        let stop = Stop::new();
        stop.listen_for_signals();
        tokio::spawn(run_async(test, stop))
            .await
            .map_err(|e| RunError::Internal(format!("the run task failed: {e}")))?
    })
}

/// Runs a test inside an existing runtime; `stop` cuts it short when triggered.
pub async fn run_async(test: Test, stop: Stop) -> Result<RunOutcome, RunError> {
    let started = Instant::now();
    let dir = RunDir::create(&test.opts.store_root, &test.name)
        .map_err(store_err(&test.opts.store_root))?;
    let _ = crate::log::attach(&dir.file(files::LOG));
    tracing::info!(dir = %dir.path().display(), seed = test.seed, "running test {}", test.name);
    let info = Arc::new(TestInfo {
        name: test.name.clone(),
        nodes: test.nodes.clone(),
        concurrency: test.concurrency,
        seed: test.seed,
        store_dir: dir.path().to_path_buf(),
    });
    let mut meta = test_json(&test, &info);
    dir.write_json(files::TEST, &meta)
        .map_err(store_err(&dir.file(files::TEST)))?;
    let res = run_phases(test, &info, &dir, stop, &mut meta).await;
    let out = res.map(
        |(result, op_count, interrupted, teardown_errors)| RunOutcome {
            dir: dir.clone(),
            result,
            op_count,
            interrupted,
            teardown_errors,
            elapsed: started.elapsed(),
        },
    );
    crate::log::detach();
    out
}

type Phases = (CheckResult, u64, Option<Interrupt>, Vec<String>);

async fn run_phases(
    test: Test,
    info: &Arc<TestInfo>,
    dir: &RunDir,
    stop: Stop,
    meta: &mut serde_json::Value,
) -> Result<Phases, RunError> {
    let Test {
        db,
        client,
        mut nemesis,
        generator,
        checker,
        opts,
        watchdog,
        ..
    } = test;
    let client: Arc<dyn Client> = Arc::from(client);
    let mut teardown_errors = Vec::new();

    // Setup: db on every node (a barrier with a timeout), nemesis, client setup per node.
    let setup = setup_all(&db, info, &client, opts.setup_timeout).await;
    let setup_clients = match setup {
        Ok(c) => c,
        Err(e) => {
            tracing::error!("{e}");
            teardown_errors.extend(db_teardown(&db, info, opts.setup_timeout).await);
            return Err(RunError::Setup(e));
        }
    };
    if let Err(e) = nemesis.setup(info).await {
        teardown_errors.extend(teardown_clients(setup_clients, info).await);
        teardown_errors.extend(db_teardown(&db, info, opts.setup_timeout).await);
        return Err(RunError::Setup(format!("nemesis setup: {e}")));
    }

    let watchdog_task = watchdog
        .clone()
        .map(|w| tokio::spawn(w.run(db.clone(), info.clone())));

    // Run: history.jsonl is streamed as ops happen.
    let history_path = dir.file(files::HISTORY_JSONL);
    let file = fs::File::create(&history_path).map_err(store_err(&history_path))?;
    let writer = JsonlWriter::jsonl(file, 256 * 1024);
    tracing::info!("running workload");
    let run = interpret(
        generator,
        client.clone(),
        nemesis,
        info.clone(),
        writer,
        &opts,
        stop,
    )
    .await;
    let Interpreted {
        op_count,
        interrupted,
        mut nemesis,
        write_error,
        generator_error,
    } = run;

    // Teardown always runs: heal faults, clients, db (the watchdog stops first).
    if let Some(task) = watchdog_task {
        task.abort();
        let _ = task.await;
    }
    if let Some(w) = &watchdog {
        let restarts = w.restarts();
        if !restarts.is_empty() {
            tracing::info!(?restarts, "watchdog restarts");
            meta["watchdog-restarts"] = serde_json::json!(restarts);
        }
    }
    tracing::info!("tearing down");
    if let Err(e) = nemesis.teardown(info).await {
        teardown_errors.push(format!("nemesis teardown: {e}"));
    }
    teardown_errors.extend(teardown_clients(setup_clients, info).await);
    snarf_logs(&db, info, dir).await;
    if !opts.leave_db_running {
        teardown_errors.extend(db_teardown(&db, info, opts.setup_timeout).await);
    }
    if let Some(e) = write_error {
        return Err(RunError::Store {
            path: history_path.display().to_string(),
            source: e,
        });
    }

    // History: EDN copy, test.json updated.
    let edn = dir.file(files::HISTORY_EDN);
    rift_history::edn::jsonl_to_edn(&history_path, &edn)?;
    meta["end-time"] = serde_json::json!(unix_ms(SystemTime::now()));
    meta["op-count"] = serde_json::json!(op_count);
    if let Some(i) = &interrupted {
        meta["interrupted"] = serde_json::json!(i.to_string());
    }
    dir.write_json(files::TEST, meta)
        .map_err(store_err(&dir.file(files::TEST)))?;

    // Analysis.
    tracing::info!(ops = op_count, "analyzing");
    let mut result = check_run(dir, &*checker, interrupted.as_ref(), &teardown_errors)?;
    if let Some(e) = generator_error {
        // The workload did not run as written: the verdict can claim no more than unknown.
        if result.valid == Validity::True {
            result.valid = Validity::Unknown;
        }
        result
            .details
            .insert("generator-error".into(), serde_json::json!(e));
        write_results(dir, &result)?;
    }
    Ok((result, op_count, interrupted, teardown_errors))
}

/// Reads a run's history, checks it, and writes `results.json`. Used after a run and by
/// `rift analyze`. An interrupted run cannot be `valid`: true becomes unknown.
pub fn check_run(
    dir: &RunDir,
    checker: &dyn rift_checker::Checker,
    interrupted: Option<&Interrupt>,
    teardown_errors: &[String],
) -> Result<CheckResult, RunError> {
    let path = dir.file(files::HISTORY_JSONL);
    let (ops, report) = rift_history::json::read_jsonl_file(&path)?;
    if let Some(line) = report.truncated_line {
        tracing::warn!(
            "{}: line {line} was cut short (the run was killed mid-write); checking the ops before it",
            path.display()
        );
    }
    let history = rift_history::History::new(ops).map_err(|e| e.in_file(&path))?;
    let ctx = CheckContext::in_dir(dir.path().to_path_buf());
    // The report (plots, timeline, perf summary) streams the history from disk beside the
    // checker; its failure never changes the verdict.
    let (mut result, report) = std::thread::scope(|s| {
        let report = s.spawn(|| rift_report::render_run(dir.path(), &ReportOptions::default()));
        let result = checker.check(&ctx, &history);
        (result, report.join())
    });
    match report {
        Ok(Ok(r)) => {
            result.details.insert("perf".into(), r.summary);
        }
        Ok(Err(e)) => {
            tracing::warn!("report: {e}");
            result
                .details
                .insert("report-error".into(), serde_json::json!(e.to_string()));
        }
        Err(_) => {
            tracing::warn!("report: rendering panicked");
            result.details.insert(
                "report-error".into(),
                serde_json::json!("rendering panicked"),
            );
        }
    }
    if let Some(i) = interrupted {
        if result.valid == Validity::True {
            result.valid = Validity::Unknown;
        }
        result
            .details
            .insert("interrupted".into(), serde_json::json!(i.to_string()));
    }
    if !teardown_errors.is_empty() {
        result
            .details
            .insert("teardown-errors".into(), serde_json::json!(teardown_errors));
    }
    write_results(dir, &result)?;
    Ok(result)
}

fn write_results(dir: &RunDir, result: &CheckResult) -> Result<(), RunError> {
    let mut text = result.to_json_pretty();
    text.push('\n');
    dir.write(files::RESULTS, text.as_bytes())
        .map_err(store_err(&dir.file(files::RESULTS)))
}

async fn setup_all(
    db: &Arc<dyn Db>,
    info: &Arc<TestInfo>,
    client: &Arc<dyn Client>,
    timeout: Duration,
) -> Result<Vec<Box<dyn Client>>, String> {
    let mut tasks = Vec::new();
    for node in &info.nodes {
        let (db, info, node) = (db.clone(), info.clone(), node.clone());
        tasks.push(tokio::spawn(async move {
            let r = tokio::time::timeout(timeout, db.setup(&info, &node)).await;
            (node, r)
        }));
    }
    let mut failures = Vec::new();
    for t in tasks {
        match t.await {
            Ok((_, Ok(Ok(())))) => {}
            Ok((node, Ok(Err(e)))) => failures.push(format!("db setup on {node}: {e}")),
            Ok((node, Err(_))) => failures.push(format!(
                "db setup on {node} did not finish within {}s",
                timeout.as_secs()
            )),
            Err(e) => failures.push(format!("db setup task: {e}")),
        }
    }
    if !failures.is_empty() {
        return Err(failures.join("; "));
    }
    let mut clients = Vec::new();
    for node in &info.nodes {
        let mut c = client
            .open(info, node)
            .await
            .map_err(|e| format!("client open on {node} for setup: {e}"))?;
        c.setup(info)
            .await
            .map_err(|e| format!("client setup on {node}: {e}"))?;
        clients.push(c);
    }
    Ok(clients)
}

async fn teardown_clients(clients: Vec<Box<dyn Client>>, info: &TestInfo) -> Vec<String> {
    let mut errors = Vec::new();
    for mut c in clients {
        if let Err(e) = c.teardown(info).await {
            errors.push(format!("client teardown: {e}"));
        }
        let _ = c.close(info).await;
    }
    errors
}

async fn db_teardown(db: &Arc<dyn Db>, info: &Arc<TestInfo>, timeout: Duration) -> Vec<String> {
    let mut errors = Vec::new();
    for node in &info.nodes {
        match tokio::time::timeout(timeout, db.teardown(info, node)).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => errors.push(format!("db teardown on {node}: {e}")),
            Err(_) => errors.push(format!("db teardown on {node} timed out")),
        }
    }
    errors
}

/// Copies each node's log files into `<store>/<node>/`.
/// Copies every node's logs into `<run>/<node>/` (Jepsen's snarf-logs); a failure is logged,
/// never fatal.
async fn snarf_logs(db: &Arc<dyn Db>, info: &TestInfo, dir: &RunDir) {
    for node in &info.nodes {
        let dest = dir.file(&crate::store::safe_name(node));
        for failure in db.fetch_logs(info, node, &dest).await {
            tracing::warn!(node, "could not copy log {failure}");
        }
    }
}

fn unix_ms(t: SystemTime) -> u64 {
    t.duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

fn test_json(test: &Test, info: &TestInfo) -> serde_json::Value {
    serde_json::json!({
        "name": test.name,
        "nodes": test.nodes,
        "concurrency": test.concurrency,
        "seed": test.seed,
        "time-limit-s": test.opts.time_limit.map(|d| d.as_secs_f64()),
        "op-timeout-ms": test.opts.op_timeout.as_millis() as u64,
        "argv": test.opts.argv,
        "rift-version": env!("CARGO_PKG_VERSION"),
        "start-time": unix_ms(SystemTime::now()),
        "store-dir": info.store_dir,
        "spec": test.spec,
        "perf": test.perf,
    })
}
