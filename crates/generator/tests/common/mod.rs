//! Shared helpers: run a generator in the simulator and render the history compactly.
#![allow(dead_code)]

use rift_generator::*;
use rift_history::{Op, OpType, Value};

/// One op as "time process type f value".
pub fn show(op: &Op) -> String {
    format!(
        "{} {} {} {} {}",
        op.time.unwrap_or(-1),
        op.process,
        op.ty,
        op.f_name(),
        op.value
    )
}

/// Simulates with every op ok after `latency` ns, seed 1.
pub fn run(gen: Gen, concurrency: u32, nemesis: bool, latency: i64) -> Vec<String> {
    run_with(gen, concurrency, nemesis, 1000, |op, _| {
        (OpType::Ok, op.value.clone(), latency)
    })
}

/// Simulates with a completion function, seed 1.
pub fn run_with(
    gen: Gen,
    concurrency: u32,
    nemesis: bool,
    max_ops: usize,
    f: impl FnMut(&Op, &Context) -> (OpType, Value, i64),
) -> Vec<String> {
    let cfg = SimConfig {
        concurrency,
        nemesis,
        seed: 1,
        max_ops,
    };
    simulate(gen, cfg, f).iter().map(show).collect()
}

/// Only the invocations.
pub fn invokes(h: &[String]) -> Vec<String> {
    h.iter()
        .filter(|s| s.contains(" invoke "))
        .cloned()
        .collect()
}

/// An invocation template.
pub fn w(v: i64) -> Gen {
    once(GenOp::invoke("write", v))
}

/// A read template.
pub fn r() -> Gen {
    once(GenOp::invoke("read", Value::Nil))
}
