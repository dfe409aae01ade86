//! Benchmark: a generated 1,000,000-txn list-append history (1-5 micro-ops, 500 active keys,
//! at most 32 appends per key before it is retired for a fresh one, as Elle's own generator
//! does with `max-writes-per-key` 32; 10 processes, realtime edges on) checked under
//! strict-serializable, and huge-scc.edn.
//! Run: `cargo run --release -p rift-elle --example bench_elle [TXNS] [KEYS] [WRITES_PER_KEY]`;
//! with `SAVE_HISTORY=FILE.edn` (or `.jsonl`) the generated history is also written there;
//! with `WORKLOAD=rw-register` the generated history is an rw-register one.
//!
//! Memory is reported in two parts: the history itself (resident growth while generating it,
//! per txn) and the checker's own peak above the history (the peak-RSS mark is reset before
//! the check, so the generator's temporaries do not count).

use rift_elle::gen::{history, GenOptions};
use rift_elle::{check, Options, Workload};
use std::time::Instant;

fn status_kb(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(field))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

/// Resets the peak-RSS mark (VmHWM) to the current RSS (Linux `clear_refs` 5).
fn reset_peak() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

fn arg(i: usize, default: usize) -> usize {
    std::env::args()
        .nth(i)
        .and_then(|s| s.parse().ok())
        .unwrap_or(default)
}

fn main() {
    let n = arg(1, 1_000_000);
    let huge = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/data/elle/huge-scc.edn");
    if let Ok((ops, _)) = rift_history::read_ops_file(&huge) {
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
        keys: arg(2, 500),
        max_txn_len: 5,
        max_writes_per_key: arg(3, 32) as u32,
        fail_per_mille: 10,
    };
    let rss0 = status_kb("VmRSS:");
    let t = Instant::now();
    // WORKLOAD=rw-register checks an rw-register history instead.
    let workload = match std::env::var("WORKLOAD").as_deref() {
        Ok("rw-register") => Workload::RwRegister,
        _ => Workload::ListAppend,
    };
    let h = history(workload, &o, 42);
    let gen_s = t.elapsed().as_secs_f64();
    let rss1 = status_kb("VmRSS:");
    if let Some(path) = std::env::var_os("SAVE_HISTORY") {
        // For `rift check` on a file: EDN when the name ends in .edn, else JSONL.
        let path = std::path::PathBuf::from(path);
        let format = if path.extension().is_some_and(|e| e == "edn") {
            rift_history::Format::Edn
        } else {
            rift_history::Format::Jsonl
        };
        rift_history::write_ops_file(&path, format, h.ops()).expect("write history");
        let len = std::fs::metadata(&path).map_or(0, |m| m.len());
        println!("saved {} ({:.0} MB)", path.display(), len as f64 / 1e6);
    }
    reset_peak();
    let base = status_kb("VmRSS:");
    let t = Instant::now();
    let r = check(workload, &h, &Options::default());
    let s = t.elapsed().as_secs_f64();
    let peak = status_kb("VmHWM:");
    println!(
        "generated {n} txns ({} keys active, {} appends per key) in {gen_s:.1} s; history {:.0} MB, {:.0} bytes/txn",
        o.keys,
        o.max_writes_per_key,
        rss1.saturating_sub(rss0) as f64 / 1024.0,
        (rss1.saturating_sub(rss0) * 1024) as f64 / n as f64
    );
    println!(
        "check: {s:.2} s, {:.0} txn/s, peak RSS {:.0} MB, checker {:.0} bytes/txn over the history, valid={}",
        n as f64 / s,
        peak as f64 / 1024.0,
        (peak.saturating_sub(base) * 1024) as f64 / n as f64,
        r.valid
    );
}
