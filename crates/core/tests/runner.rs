//! Runner behaviour with hand-made clients, dbs and nemeses: the crash rule, timeouts, clients
//! that cannot connect, sleep/log ops, the nemesis thread, setup failures and teardown.

use async_trait::async_trait;
use rift_checker::{CheckContext, CheckResult, Checker};
use rift_core::{Client, Db, Nemesis, PlugResult, RiftError, RunOptions, Test, TestInfo};
use rift_generator::{self as gen, Gen, GenOp};
use rift_history::{History, Op, OpType, Process, Value};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// A client whose behaviour depends on the op's f: `ok`, `fail`, `crash` (error), `slow`
/// (sleeps past the op timeout).
#[derive(Clone)]
struct ScriptedClient {
    opens: Arc<AtomicUsize>,
    /// Opens after this many are refused.
    allowed_opens: usize,
}

#[async_trait]
impl Client for ScriptedClient {
    async fn open(&self, _test: &TestInfo, node: &str) -> PlugResult<Box<dyn Client>> {
        if self.opens.fetch_add(1, Ordering::SeqCst) >= self.allowed_opens {
            return Err(RiftError::new(
                "connection-refused",
                format!("{node}: nobody home"),
            ));
        }
        Ok(Box::new(self.clone()))
    }
    async fn invoke(&mut self, _test: &TestInfo, op: &Op) -> PlugResult<Op> {
        match op.f_name() {
            "ok" => Ok(op.complete(OpType::Ok, op.value.clone())),
            "fail" => Ok(op.complete(OpType::Fail, op.value.clone())),
            "crash" => Err(RiftError::new("broken-pipe", "the connection dropped")),
            "slow" => {
                tokio::time::sleep(Duration::from_secs(5)).await;
                Ok(op.complete(OpType::Ok, op.value.clone()))
            }
            _ => Ok(op.complete(OpType::Ok, op.value.clone())),
        }
    }
}

/// Captures the history the runner hands to the checker.
#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Option<History>>>);

impl Checker for Capture {
    fn check(&self, _ctx: &CheckContext, h: &History) -> CheckResult {
        *self.0.lock().unwrap() = Some(h.clone());
        CheckResult::valid()
    }
}

#[derive(Default)]
struct RecordingDb {
    setups: Mutex<Vec<String>>,
    teardowns: Mutex<Vec<String>>,
    fail_on: Option<&'static str>,
}

#[async_trait]
impl Db for RecordingDb {
    async fn setup(&self, _test: &TestInfo, node: &str) -> PlugResult<()> {
        self.setups.lock().unwrap().push(node.to_string());
        if self.fail_on == Some(node) {
            return Err(RiftError::new("install-failed", "apt said no"));
        }
        Ok(())
    }
    async fn teardown(&self, _test: &TestInfo, node: &str) -> PlugResult<()> {
        self.teardowns.lock().unwrap().push(node.to_string());
        Ok(())
    }
}

struct CountingNemesis(Arc<AtomicUsize>);

#[async_trait]
impl Nemesis for CountingNemesis {
    async fn invoke(&mut self, _test: &TestInfo, op: &Op) -> PlugResult<Op> {
        Ok(op.complete(OpType::Info, Value::kw("done")))
    }
    async fn teardown(&mut self, _test: &TestInfo) -> PlugResult<()> {
        self.0.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }
}

fn test_with(
    generator: Gen,
    client: ScriptedClient,
    db: Arc<dyn Db>,
    capture: &Capture,
    heals: Arc<AtomicUsize>,
    store: &std::path::Path,
) -> Test {
    Test {
        name: "runner-test".into(),
        nodes: vec!["n1".into(), "n2".into()],
        concurrency: 2,
        db,
        client: Box::new(client),
        nemesis: Box::new(CountingNemesis(heals)),
        generator,
        checker: Box::new(capture.clone()),
        seed: 3,
        opts: RunOptions {
            store_root: store.to_path_buf(),
            op_timeout: Duration::from_millis(300),
            ..RunOptions::default()
        },
        spec: serde_json::json!({}),
        perf: serde_json::Value::Null,
        watchdog: None,
    }
}

fn client() -> ScriptedClient {
    ScriptedClient {
        opens: Arc::new(AtomicUsize::new(0)),
        allowed_opens: usize::MAX,
    }
}

fn run(test: Test) -> (rift_core::RunOutcome, History) {
    let outcome = rift_core::run(test).expect("run");
    let (ops, _) =
        rift_history::json::read_jsonl_file(&outcome.dir.file("history.jsonl")).expect("read");
    (outcome, History::new(ops).expect("pairs"))
}

#[test]
fn crash_rule_timeouts_and_sleep_log_ops() {
    let store = tempfile::tempdir().unwrap();
    let c = client();
    let opens = c.opens.clone();
    let heals = Arc::new(AtomicUsize::new(0));
    let generator = gen::clients(gen::on_threads(
        |t| t == gen::Thread::Client(0),
        gen::phases(vec![
            gen::once(GenOp::invoke("ok", 1)),
            gen::once(GenOp::invoke("crash", 2)),
            gen::once(GenOp::log("halfway")),
            gen::sleep(1_000_000),
            gen::once(GenOp::invoke("slow", 3)),
            gen::once(GenOp::invoke("fail", 4)),
        ]),
    ));
    let capture = Capture::default();
    let test = test_with(
        generator,
        c,
        Arc::new(rift_core::NoopDb),
        &capture,
        heals.clone(),
        store.path(),
    );
    let (outcome, h) = run(test);
    assert_eq!(outcome.result.valid, rift_checker::Validity::True);
    let seen: Vec<(String, String, String)> = h
        .ops()
        .iter()
        .map(|o| {
            (
                o.process.to_string(),
                o.ty.to_string(),
                o.f_name().to_string(),
            )
        })
        .collect();
    let s = |p: &str, t: &str, f: &str| (p.to_string(), t.to_string(), f.to_string());
    assert_eq!(
        seen,
        vec![
            s("0", "invoke", "ok"),
            s("0", "ok", "ok"),
            s("0", "invoke", "crash"),
            s("0", "info", "crash"),
            // Sleep and log ran but are not in the history; the crashed process 0 continues
            // as process 0 + concurrency = 2.
            s("2", "invoke", "slow"),
            s("2", "info", "slow"),
            s("4", "invoke", "fail"),
            s("4", "fail", "fail"),
        ]
    );
    let crash = &h.ops()[3];
    assert!(crash
        .error
        .as_ref()
        .unwrap()
        .to_string()
        .contains("broken-pipe"));
    assert_eq!(
        crash.get_extra("exception").and_then(|e| e.get("type")),
        Some(&Value::str("broken-pipe"))
    );
    assert_eq!(h.ops()[5].error, Some(Value::kw("timeout")));
    // Indices are dense, times increase.
    for (i, op) in h.ops().iter().enumerate() {
        assert_eq!(op.index, i as u64);
    }
    assert!(h.ops().windows(2).all(|w| w[0].time <= w[1].time));
    // 2 setup clients + 2 workers + 2 reopened after crashes.
    assert_eq!(opens.load(Ordering::SeqCst), 6);
    assert_eq!(heals.load(Ordering::SeqCst), 1, "nemesis teardown ran once");
}

#[test]
fn nemesis_ops_are_recorded_as_nemesis() {
    let store = tempfile::tempdir().unwrap();
    let generator = gen::phases(vec![
        gen::nemesis(gen::once(GenOp::invoke(
            "start-partition",
            Value::kw("majority"),
        ))),
        gen::clients(gen::limit(
            4,
            gen::repeat(gen::once(GenOp::invoke("ok", 0))),
        )),
        gen::nemesis(gen::once(GenOp::invoke("stop-partition", Value::Nil))),
    ]);
    let capture = Capture::default();
    let test = test_with(
        generator,
        client(),
        Arc::new(rift_core::NoopDb),
        &capture,
        Arc::new(AtomicUsize::new(0)),
        store.path(),
    );
    let (_, h) = run(test);
    let nem: Vec<_> = h.nemesis_ops().collect();
    assert_eq!(nem.len(), 4);
    assert!(nem.iter().all(|o| o.process == Process::Nemesis));
    assert_eq!(nem[1].value, Value::kw("done"));
    assert_eq!(h.client_ops().filter(|o| o.is_ok()).count(), 4);
}

#[test]
fn clients_that_cannot_connect_fail_their_ops() {
    let store = tempfile::tempdir().unwrap();
    // The setup client (one node) connects; the worker's opens are refused.
    let c = ScriptedClient {
        opens: Arc::new(AtomicUsize::new(0)),
        allowed_opens: 1,
    };
    let generator = gen::clients(gen::limit(
        3,
        gen::repeat(gen::once(GenOp::invoke("ok", 0))),
    ));
    let capture = Capture::default();
    let mut test = test_with(
        generator,
        c,
        Arc::new(rift_core::NoopDb),
        &capture,
        Arc::new(AtomicUsize::new(0)),
        store.path(),
    );
    test.nodes = vec!["n1".into()];
    test.concurrency = 1;
    let (_, h) = run(test);
    assert_eq!(h.ops().len(), 6);
    for op in h.ops().iter().filter(|o| !o.is_invoke()) {
        assert_eq!(op.ty, OpType::Fail, "{op}");
        assert_eq!(op.error, Some(Value::kw("no-client")));
    }
    // A fail is not a crash: the process stays 0.
    assert!(h.ops().iter().all(|o| o.process == Process::Client(0)));
}

#[test]
fn setup_failure_names_the_node_and_tears_down() {
    let store = tempfile::tempdir().unwrap();
    let db = Arc::new(RecordingDb {
        fail_on: Some("n2"),
        ..RecordingDb::default()
    });
    let capture = Capture::default();
    let test = test_with(
        gen::clients(gen::once(GenOp::invoke("ok", 0))),
        client(),
        db.clone(),
        &capture,
        Arc::new(AtomicUsize::new(0)),
        store.path(),
    );
    let err = rift_core::run(test).unwrap_err().to_string();
    assert!(err.contains("n2") && err.contains("apt said no"), "{err}");
    let mut torn = db.teardowns.lock().unwrap().clone();
    torn.sort();
    assert_eq!(torn, vec!["n1", "n2"]);
}
