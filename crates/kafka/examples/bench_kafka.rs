//! Generates (or reads) a queue history and times the Kafka checker on it.
//!
//! `cargo run --release -p rift-kafka --example bench_kafka -- [OPS] [KEYS] [FILE]`: with
//! FILE, reads that history instead of generating one. Prints the check time and the peak
//! RSS (VmHWM) before and after checking.

use rift_kafka::{check, generate, GenOptions, KafkaOptions};
use std::time::Instant;

fn vm_hwm_mb() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let ops: usize = args
        .get(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(1_000_000);
    let keys: u32 = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(100);
    let t = Instant::now();
    let history = match args.get(3) {
        Some(path) => rift_history::read_history_file(std::path::Path::new(path)).expect("read"),
        None => {
            let o = GenOptions {
                ops,
                keys,
                concurrency: 10,
                seed: 42,
                ..GenOptions::default()
            };
            rift_history::History::new(generate(&o)).expect("history")
        }
    };
    println!(
        "history: {} ops in {:.2} s, peak RSS {:.0} MB",
        history.len(),
        t.elapsed().as_secs_f64(),
        vm_hwm_mb()
    );
    let t = Instant::now();
    let r = check(&history, &KafkaOptions::default(), None);
    let secs = t.elapsed().as_secs_f64();
    let stats = &r.details["stats"];
    println!(
        "check: {secs:.2} s, valid? {}, error types {}, peak RSS {:.0} MB",
        r.valid,
        r.details["error-types"],
        vm_hwm_mb()
    );
    println!("stats: {stats}");
    println!("worst realtime lag: {}", r.details["worst-realtime-lag"]);
}
