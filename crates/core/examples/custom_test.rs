//! Writing a test for your own system: a client, a generator, a checker, and `rift_core::run`.
//!
//! The "system" here is a shared counter behind a lock, standing in for a network service; a
//! real client would open a connection in `open` and talk to `node` in `invoke`.
//!
//! `cargo run --release -p rift-core --example custom_test`

use async_trait::async_trait;
use rift_checker::Compose;
use rift_core::{Client, PlugResult, RiftError, RunOptions, Test, TestInfo};
use rift_generator::{self as gen, GenOp};
use rift_history::{Op, OpType, Value};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// A client of the shared counter: `add` n, `read` -> the count.
#[derive(Clone)]
struct CounterClient {
    counter: Arc<Mutex<i64>>,
}

#[async_trait]
impl Client for CounterClient {
    async fn open(&self, _test: &TestInfo, _node: &str) -> PlugResult<Box<dyn Client>> {
        // A real client connects to `node` here.
        Ok(Box::new(self.clone()))
    }

    async fn invoke(&mut self, _test: &TestInfo, op: &Op) -> PlugResult<Op> {
        let mut c = self
            .counter
            .lock()
            .map_err(|e| RiftError::new("poisoned", e.to_string()))?;
        match op.f_name() {
            "add" => {
                *c += op.value.as_i64().unwrap_or(0);
                Ok(op.complete(OpType::Ok, op.value.clone()))
            }
            "read" => Ok(op.complete(OpType::Ok, Value::Int(*c))),
            // Definitely not applied: `fail`. An `Err` would mean "unknown" (recorded `info`).
            other => Ok(op
                .complete(OpType::Fail, op.value.clone())
                .with_error(Value::str(&format!("no such operation {other}")))),
        }
    }
}

fn main() {
    // 1 in 5 ops reads, the rest add 1; 200 ops a second in total for 3 seconds, then a final
    // read once the clients are idle.
    let main_phase = gen::time_limit(
        3_000_000_000,
        gen::clients(gen::stagger(
            5_000_000,
            gen::mix(vec![
                gen::repeat(gen::once(GenOp::invoke("add", 1))),
                gen::repeat(gen::once(GenOp::invoke("add", 1))),
                gen::repeat(gen::once(GenOp::invoke("add", 1))),
                gen::repeat(gen::once(GenOp::invoke("add", 1))),
                gen::repeat(gen::once(GenOp::invoke("read", Value::Nil))),
            ]),
        )),
    );
    let generator = gen::phases(vec![
        main_phase,
        gen::clients(gen::once(GenOp::invoke("read", Value::Nil))),
    ]);
    let opts = rift_checker::CheckerOptions::default();
    let checker = Compose::new(vec![
        (
            "counter",
            rift_checker::by_name("counter", &opts).expect("counter"),
        ),
        (
            "stats",
            rift_checker::by_name("stats", &opts).expect("stats"),
        ),
    ]);
    let test = Test {
        name: "custom-counter".into(),
        nodes: vec!["n1".into(), "n2".into(), "n3".into()],
        concurrency: 6,
        db: Arc::new(rift_core::NoopDb),
        client: Box::new(CounterClient {
            counter: Arc::new(Mutex::new(0)),
        }),
        nemesis: Box::new(rift_core::NoopNemesis),
        generator,
        checker: Box::new(checker),
        seed: 42,
        opts: RunOptions {
            time_limit: Some(Duration::from_secs(3)),
            ..RunOptions::default()
        },
        spec: serde_json::json!({ "workload": "custom-counter" }),
        perf: serde_json::Value::Null,
        watchdog: None,
    };
    match rift_core::run(test) {
        Ok(outcome) => println!(
            "valid? {} ({} ops, stored in {})",
            outcome.result.valid,
            outcome.op_count,
            outcome.dir.path().display()
        ),
        Err(e) => eprintln!("the test could not run: {e}"),
    }
}
