//! Runner overhead: a no-op client, 10 threads, ops recorded to disk as fast as the runner can.
//!
//! `cargo bench -p rift-core --bench runner` prints ops/s (completed client ops per second of
//! the run phase) and the peak resident memory after histories of two sizes: if the runner held
//! the history, the larger run would need proportionally more memory.
//!
//! Optional arguments: `-- OPS...` (default 400000 2000000).

use async_trait::async_trait;
use rift_core::{Client, PlugResult, RunOptions, Test, TestInfo};
use rift_generator::{self as gen, GenOp};
use rift_history::{Op, OpType, Value};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

#[derive(Clone)]
struct NoopClient;

#[async_trait]
impl Client for NoopClient {
    async fn open(&self, _test: &TestInfo, _node: &str) -> PlugResult<Box<dyn Client>> {
        Ok(Box::new(NoopClient))
    }
    async fn invoke(&mut self, _test: &TestInfo, op: &Op) -> PlugResult<Op> {
        Ok(op.complete(OpType::Ok, op.value.clone()))
    }
}

struct Nothing;

impl rift_checker::Checker for Nothing {
    fn check(
        &self,
        _ctx: &rift_checker::CheckContext,
        history: &rift_history::History,
    ) -> rift_checker::CheckResult {
        rift_checker::CheckResult::valid().with("ops", serde_json::json!(history.len()))
    }
}

fn rss_mb() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

fn main() {
    let args: Vec<u64> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let sizes = if args.is_empty() {
        vec![400_000, 2_000_000]
    } else {
        args
    };
    let store = tempfile::tempdir().expect("temp dir");
    println!("runner overhead: no-op client, 10 threads, history streamed to disk");
    for ops in sizes {
        let generator = gen::clients(gen::limit(
            ops,
            gen::repeat(gen::once(GenOp::invoke("write", Value::Int(1)))),
        ));
        let test = Test {
            name: "bench-runner".into(),
            nodes: vec![
                "n1".into(),
                "n2".into(),
                "n3".into(),
                "n4".into(),
                "n5".into(),
            ],
            concurrency: 10,
            db: Arc::new(rift_core::NoopDb),
            client: Box::new(NoopClient),
            nemesis: Box::new(rift_core::NoopNemesis),
            generator,
            checker: Box::new(Nothing),
            seed: 1,
            opts: RunOptions {
                store_root: store.path().to_path_buf(),
                ..RunOptions::default()
            },
            spec: serde_json::json!({}),
            perf: serde_json::Value::Null,
            watchdog: None,
        };
        // Sample resident memory during the run phase only: it ends when the runner starts
        // writing history.edn (the checker then loads the history, which is its business).
        let latest = store.path().join("bench-runner").join("latest");
        let _ = std::fs::remove_file(&latest);
        let done = Arc::new(AtomicBool::new(false));
        let sampler = {
            let done = done.clone();
            std::thread::spawn(move || {
                let mut max = 0f64;
                while !done.load(Ordering::Relaxed) {
                    let edn = latest.join("history.edn");
                    if edn.exists() || latest.join("history.edn.tmp").exists() {
                        break;
                    }
                    max = max.max(rss_mb());
                    std::thread::sleep(std::time::Duration::from_millis(5));
                }
                max
            })
        };
        let t0 = Instant::now();
        let outcome = rift_core::run(test).expect("run");
        done.store(true, Ordering::Relaxed);
        let run_rss = sampler.join().unwrap_or(f64::NAN);
        let total = t0.elapsed().as_secs_f64();
        let hist = std::fs::metadata(outcome.dir.file("history.jsonl"))
            .map(|m| m.len())
            .unwrap_or(0);
        // The run phase alone: read the first and last op times from the history.
        let (first, last) = run_span_ns(&outcome.dir.file("history.jsonl"));
        let run_s = (last - first) as f64 / 1e9;
        println!(
            "  {ops:>9} ops: {:>9.0} ops/s in the run phase ({run_s:.2}s), total {total:.2}s \
             incl. EDN copy and check; history {:.0} MB; peak RSS while running {run_rss:.0} MB",
            ops as f64 / run_s,
            hist as f64 / 1e6,
        );
    }
}

fn run_span_ns(path: &std::path::Path) -> (i64, i64) {
    let f = std::io::BufReader::new(std::fs::File::open(path).expect("history"));
    let mut first = None;
    let mut last = 0;
    for op in rift_history::json::JsonlReader::new(f, None) {
        let t = op.expect("op").time.unwrap_or(0);
        first.get_or_insert(t);
        last = t;
    }
    (first.unwrap_or(0), last)
}
