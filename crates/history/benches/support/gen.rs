//! A synthetic list-append history for throughput measurements (shared by the bench and the
//! `read_throughput` example).

use rift_history::{Op, OpType, Process, Value};

/// Ops of a list-append test: invocations and completions of 1-4 micro-op transactions, reads
/// returning lists that grow over time. Generates ops until their JSONL text would reach about
/// `target_bytes`.
pub fn list_append_ops(target_bytes: usize) -> Vec<Op> {
    let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = move |n: u64| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed % n
    };
    let mut lists: Vec<Vec<i64>> = vec![Vec::new(); 64];
    let mut ops = Vec::new();
    let mut bytes = 0usize;
    let mut time = 0i64;
    let mut counter = 0i64;
    while bytes < target_bytes {
        let process = next(30) as i64;
        let mut inv = Vec::new();
        let mut done = Vec::new();
        for _ in 0..1 + next(4) {
            let k = next(64) as usize;
            if next(2) == 0 {
                counter += 1;
                let m = vec![
                    Value::kw("append"),
                    Value::Int(k as i64),
                    Value::Int(counter),
                ];
                inv.push(Value::Vector(m.clone()));
                done.push(Value::Vector(m));
                lists[k].push(counter);
                if lists[k].len() > 24 {
                    lists[k].drain(..12);
                }
            } else {
                inv.push(Value::Vector(vec![
                    Value::kw("r"),
                    Value::Int(k as i64),
                    Value::Nil,
                ]));
                let read = Value::Vector(lists[k].iter().map(|&x| Value::Int(x)).collect());
                done.push(Value::Vector(vec![
                    Value::kw("r"),
                    Value::Int(k as i64),
                    read,
                ]));
            }
        }
        for (ty, value) in [(OpType::Invoke, inv), (OpType::Ok, done)] {
            time += 1_000 + next(1_000_000) as i64;
            let mut op = Op::new(
                ty,
                Process::Client(process),
                Value::kw("txn"),
                Value::Vector(value),
            );
            op.index = ops.len() as u64;
            op.time = Some(time);
            bytes += rift_history::json::op_to_json(&op).len() + 1;
            ops.push(op);
        }
    }
    ops
}
