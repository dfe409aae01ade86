//! Scheduler overhead. Run in release mode:
//! `cargo test -p rift-generator --release --test perf -- --ignored --nocapture`.
mod common;
use common::*;
use rift_generator::*;
use rift_history::{OpType, Value};
use std::time::Instant;

const N: usize = 1_000_000;

#[test]
#[ignore = "benchmark; run in release mode"]
fn simulate_one_million_ops() {
    let cfg = SimConfig {
        concurrency: 10,
        nemesis: false,
        seed: 1,
        max_ops: N,
    };
    let start = Instant::now();
    let h = simulate(repeat(r()), cfg, |op, _| {
        (OpType::Ok, op.value.clone(), 1_000)
    });
    let s = start.elapsed().as_secs_f64();
    assert_eq!(h.len(), 2 * N);
    println!("simulate: {N} ops in {s:.3} s = {:.0} ops/s", N as f64 / s);
}

#[test]
#[ignore = "benchmark; run in release mode"]
fn scheduler_one_million_ops() {
    // The scheduler alone: poll, then complete at once (what the runner pays per op).
    let gen = clients(limit(N as u64, repeat(once(GenOp::invoke("write", 1)))));
    let mut s = Scheduler::new(
        gen,
        SchedulerConfig {
            concurrency: 10,
            nemesis: true,
            seed: 1,
        },
    );
    let start = Instant::now();
    let (mut now, mut n) = (0i64, 0usize);
    loop {
        match s.poll(now) {
            Next::Dispatch(Dispatch {
                thread,
                action: Action::Invoke(op),
            }) => {
                n += 1;
                let c = op.complete(OpType::Ok, Value::Int(1));
                s.complete(now, thread, &c);
            }
            Next::Done => break,
            other => panic!("{other:?}"),
        }
        now += 1;
    }
    let secs = start.elapsed().as_secs_f64();
    assert_eq!(n, N);
    println!(
        "scheduler: {N} ops in {secs:.3} s = {:.0} ops/s",
        N as f64 / secs
    );
}
