//! Benchmark: a generated 1,000,000-txn list-append history (1-5 micro-ops, 10 processes,
//! realtime edges on) checked under strict-serializable, and huge-scc.edn.
//! Run: `cargo run --release -p rift-elle --example bench_elle [TXNS]`.

use rift_elle::gen::{history, GenOptions};
use rift_elle::{check, Options, Workload};
use std::time::Instant;

fn rss_kb() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(1_000_000);
    let huge = "/work/shared/data/elle/huge-scc.edn";
    if let Ok((ops, _)) = rift_history::read_ops_file(std::path::Path::new(huge)) {
        let h = rift_history::History::new_lenient(ops).expect("pairs");
        let t = Instant::now();
        let r = check(Workload::ListAppend, &h, &Options::default());
        println!(
            "huge-scc: {:.3} s valid={} {:?}",
            t.elapsed().as_secs_f64(),
            r.valid,
            r.anomaly_types
        );
    }
    let o = GenOptions {
        txns: n,
        processes: 10,
        keys: 500,
        max_txn_len: 5,
        max_writes_per_key: 32,
        fail_per_mille: 10,
    };
    let t = Instant::now();
    let h = history(Workload::ListAppend, &o, 42);
    let gen_s = t.elapsed().as_secs_f64();
    let before = rss_kb();
    let t = Instant::now();
    let r = check(Workload::ListAppend, &h, &Options::default());
    let s = t.elapsed().as_secs_f64();
    let peak = rss_kb();
    println!(
        "generated {n} txns in {gen_s:.1} s; history RSS {:.0} MB",
        before as f64 / 1024.0
    );
    println!(
        "check: {s:.2} s, {:.0} txn/s, peak RSS {:.0} MB, {:.0} bytes/txn over the history, valid={}",
        n as f64 / s,
        peak as f64 / 1024.0,
        (peak.saturating_sub(before) * 1024) as f64 / n as f64,
        r.valid
    );
}
