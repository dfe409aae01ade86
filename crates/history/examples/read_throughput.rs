//! Prints read throughput in MB/s: `cargo run --release -p rift-history --example read_throughput`.

use rift_history::{edn, json, Op};
use std::time::Instant;

#[path = "../benches/support/gen.rs"]
mod gen;

fn lines(ops: &[Op], write: fn(&mut String, &Op)) -> Vec<u8> {
    let mut s = String::new();
    for op in ops {
        write(&mut s, op);
        s.push('\n');
    }
    s.into_bytes()
}

/// Nanoseconds this thread has spent on a CPU (Linux `/proc/thread-self/schedstat`), so that a
/// busy machine does not distort the figure; None elsewhere.
fn cpu_ns() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    s.split_whitespace().next()?.parse().ok()
}

/// Best of `runs` timings, in MB/s (1 MB = 10^6 bytes) of wall-clock and of CPU time; freeing
/// the ops is not timed.
fn measure(name: &str, bytes: &[u8], runs: usize, read: impl Fn(&[u8]) -> Vec<Op>) {
    let mut best = f64::MAX;
    let mut best_cpu = f64::MAX;
    let mut n = 0;
    for _ in 0..runs {
        let cpu = cpu_ns();
        let t = Instant::now();
        let ops = read(bytes);
        best = best.min(t.elapsed().as_secs_f64());
        if let (Some(a), Some(b)) = (cpu, cpu_ns()) {
            best_cpu = best_cpu.min(b.saturating_sub(a) as f64 / 1e9);
        }
        n = ops.len();
        drop(ops);
    }
    let mb = bytes.len() as f64 / 1e6;
    println!(
        "{name:<26} {mb:>6.1} MB {n:>7} ops {:>7.1} MB/s wall {:>7.1} MB/s cpu {:>9.0} ops/s",
        mb / best,
        mb / best_cpu,
        n as f64 / best
    );
}

fn main() {
    let ops = gen::list_append_ops(64 << 20);
    let jsonl = lines(&ops, json::write_op);
    let edn_text = lines(&ops, edn::write_op);
    drop(ops);
    measure("jsonl (generated)", &jsonl, 3, |b| {
        json::read_jsonl_bytes(b, None).expect("jsonl").0
    });
    measure("edn (generated)", &edn_text, 3, |b| {
        edn::read_edn_bytes(b, None).expect("edn")
    });
    let scc = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/data/elle/huge-scc.edn");
    match std::fs::read(&scc) {
        Ok(bytes) => measure("edn (elle/huge-scc.edn)", &bytes, 10, |b| {
            edn::read_edn_bytes(b, None).expect("edn")
        }),
        Err(e) => println!("skipping huge-scc.edn: {e}"),
    }
}
