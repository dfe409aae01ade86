//! Prints read throughput in MB/s: `cargo run --release -p rift-history --example read_throughput`.
//!
//! Two figures per format: in memory (best of several runs over the same bytes, so the
//! allocator reuses the pages the previous run freed), and from a file in a fresh process
//! (`read_ops_file`, once), which is what `rift check` pays: reading the file and touching
//! every page the history takes for the first time. The second also prints the resident
//! memory the history holds, per op.

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

#[repr(C)]
struct Timespec {
    sec: i64,
    nsec: i64,
}

extern "C" {
    fn clock_gettime(clock: i32, ts: *mut Timespec) -> i32;
}

/// CPU time of the whole process (all threads; the readers use several), in nanoseconds.
fn cpu_ns() -> Option<u64> {
    const CLOCK_PROCESS_CPUTIME_ID: i32 = 2;
    let mut ts = Timespec { sec: 0, nsec: 0 };
    // SAFETY: clock_gettime writes one timespec into the pointer we own.
    let rc = unsafe { clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &mut ts) };
    (rc == 0).then(|| ts.sec as u64 * 1_000_000_000 + ts.nsec as u64)
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

fn rss_kb(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(field))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

/// `--cold NAME FILE`: reads FILE once in this (fresh) process and prints the figure.
fn cold(name: &str, path: &std::path::Path) {
    let before = rss_kb("VmRSS:");
    let t = Instant::now();
    let (ops, _) = rift_history::read_ops_file(path).expect("read");
    let secs = t.elapsed().as_secs_f64();
    let held = rss_kb("VmRSS:").saturating_sub(before) * 1024;
    let mb = std::fs::metadata(path).map_or(0, |m| m.len()) as f64 / 1e6;
    println!(
        "{name:<26} {mb:>6.1} MB {:>7} ops {:>7.1} MB/s wall (file, fresh process); {:.0} bytes/op held",
        ops.len(),
        mb / secs,
        held as f64 / ops.len().max(1) as f64
    );
    std::mem::forget(ops); // exiting frees it
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() == 4 && args[1] == "--cold" {
        return cold(&args[2], std::path::Path::new(&args[3]));
    }
    let ops = gen::list_append_ops(64 << 20);
    let jsonl = lines(&ops, json::write_op);
    let edn_text = lines(&ops, edn::write_op);
    drop(ops);
    let dir = tempfile::tempdir().expect("temp dir");
    for (name, file, bytes) in [
        ("jsonl (file)", "history.jsonl", &jsonl),
        ("edn (file)", "history.edn", &edn_text),
    ] {
        let path = dir.path().join(file);
        std::fs::write(&path, bytes).expect("write");
        let status = std::process::Command::new(std::env::current_exe().expect("exe"))
            .args(["--cold", name])
            .arg(&path)
            .status()
            .expect("run");
        assert!(status.success(), "{name}: {status}");
    }
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
