//! Timing runs (ignored by default): `cargo test --release -p rift-checker --test bench -- --ignored --nocapture`.

use rift_checker::*;
use rift_history::{History, Op, OpType, Value};
use std::time::Instant;

/// `adds` adds by 4 processes, a read of everything so far after every `every` adds.
fn set_history(adds: i64, every: i64) -> History {
    let mut ops = Vec::new();
    let mut seen = Vec::new();
    for i in 0..adds {
        let inv = Op::invoke(i % 4, "add", i);
        ops.push(inv.clone());
        ops.push(inv.complete(OpType::Ok, i.into()));
        seen.push(Value::Int(i));
        if i % every == 0 || i == adds - 1 {
            let r = Op::invoke(10, "read", Value::Nil);
            ops.push(r.clone());
            ops.push(r.complete(OpType::Ok, Value::Vector(seen.clone())));
        }
    }
    for (i, op) in ops.iter_mut().enumerate() {
        op.time = Some(i as i64 * 1000);
    }
    History::reindexed(ops).unwrap()
}

#[test]
#[ignore]
fn time_checkers() {
    let h = set_history(20_000, 20);
    let n = h.len();
    for (name, c) in [
        ("set", Box::new(Set) as Box<dyn Checker>),
        ("set-full", Box::new(SetFull::default())),
        ("stats", Box::new(Stats)),
    ] {
        let t = Instant::now();
        let r = c.check(&CheckContext::none(), &h);
        println!("{name}: {n} ops, {:?}, valid {}", t.elapsed(), r.valid);
    }
}
