//! Prints per-corpus CPU times of the linearizability checker (run in release):
//!
//! ```text
//! cargo run --release -p rift-linear --example corpus_times -- [DATA_DIR] [FIGURE]
//! ```
//!
//! FIGURE is one of `etcd-all`, `etcd-002`, `kv-c50-ok`, `kv-c10-ok-unsplit`,
//! `kv-c10-bad-unsplit`, `kv-c50-bad-artifact`; without it every figure runs. Each line is
//! `figure<TAB>cpu_ms<TAB>wall_ms<TAB>peak_rss_mb<TAB>verdicts`; CPU time is the median of
//! several runs (user + system, all threads), peak RSS is the process's high-water mark so far
//! (run one figure per process to attribute it).

use rift_checker::Validity;
use rift_history::{read_ops_file, History};
use rift_linear::{check_history, model_by_name, Options};
use std::path::{Path, PathBuf};
use std::time::Instant;

#[repr(C)]
struct Timespec {
    sec: i64,
    nsec: i64,
}

extern "C" {
    fn clock_gettime(clock: i32, ts: *mut Timespec) -> i32;
}

/// CPU time of the whole process (all threads), in nanoseconds.
fn cpu_ns() -> u128 {
    const CLOCK_PROCESS_CPUTIME_ID: i32 = 2;
    let mut ts = Timespec { sec: 0, nsec: 0 };
    // SAFETY: clock_gettime writes one timespec into the pointer we own.
    unsafe { clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &mut ts) };
    ts.sec as u128 * 1_000_000_000 + ts.nsec as u128
}

fn peak_rss_mb() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|kb| kb.parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

fn load(path: &Path) -> History {
    let (ops, _) = read_ops_file(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    History::new(ops).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn check_file(path: &Path, model: &str, opts: &Options) -> Validity {
    let h = load(path);
    let m = model_by_name(model).expect("model");
    check_history(&h, &*m, opts).valid
}

/// Runs `f` `runs` times; returns median CPU ms, median wall ms and the last verdict summary.
fn measure(runs: usize, mut f: impl FnMut() -> String) -> (f64, f64, String) {
    let mut cpu = Vec::new();
    let mut wall = Vec::new();
    let mut summary = String::new();
    for _ in 0..runs {
        let (c0, w0) = (cpu_ns(), Instant::now());
        summary = f();
        cpu.push((cpu_ns() - c0) as f64 / 1e6);
        wall.push(w0.elapsed().as_secs_f64() * 1e3);
    }
    cpu.sort_by(f64::total_cmp);
    wall.sort_by(f64::total_cmp);
    (cpu[runs / 2], wall[runs / 2], summary)
}

fn figure(data: &Path, name: &str) -> Option<(f64, f64, String)> {
    let etcd = data.join("porcupine/etcd");
    let kv = data.join("porcupine/kv");
    let unsplit = Options {
        split_by_key: false,
        ..Options::default()
    };
    Some(match name {
        "etcd-all" => measure(7, || {
            let mut files: Vec<PathBuf> = std::fs::read_dir(&etcd)
                .expect("etcd dir")
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|x| x == "log"))
                .collect();
            files.sort();
            let (mut t, mut f) = (0, 0);
            for p in &files {
                match check_file(p, "cas-register", &Options::default()) {
                    Validity::True => t += 1,
                    _ => f += 1,
                }
            }
            format!("{} files: {t} linearizable, {f} not", files.len())
        }),
        "etcd-002" => measure(7, || {
            let v = check_file(
                &etcd.join("etcd_002.log"),
                "cas-register",
                &Options::default(),
            );
            format!("valid? {v}")
        }),
        "kv-c50-ok" => measure(7, || {
            let v = check_file(&kv.join("c50-ok.txt"), "kv", &Options::default());
            format!("valid? {v}")
        }),
        "kv-c10-ok-unsplit" => measure(3, || {
            format!(
                "valid? {}",
                check_file(&kv.join("c10-ok.txt"), "kv", &unsplit)
            )
        }),
        "kv-c10-bad-unsplit" => measure(3, || {
            format!(
                "valid? {}",
                check_file(&kv.join("c10-bad.txt"), "kv", &unsplit)
            )
        }),
        "kv-c50-bad-artifact" => measure(3, || {
            let dir = std::env::temp_dir().join("rift-linear-corpus-times");
            let opts = Options {
                artifact_dir: Some(dir.clone()),
                ..Options::default()
            };
            let v = check_file(&kv.join("c50-bad.txt"), "kv", &opts);
            let size = std::fs::metadata(dir.join("linear.svg")).map_or(0, |m| m.len());
            format!("valid? {v}, linear.svg {size} bytes")
        }),
        _ => return None,
    })
}

const FIGURES: &[&str] = &[
    "etcd-all",
    "etcd-002",
    "kv-c50-ok",
    "kv-c10-ok-unsplit",
    "kv-c10-bad-unsplit",
    "kv-c50-bad-artifact",
];

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let data = PathBuf::from(args.first().map_or(
        concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/data"),
        String::as_str,
    ));
    let which: Vec<&str> = match args.get(1) {
        Some(f) => vec![f.as_str()],
        None => FIGURES.to_vec(),
    };
    for name in which {
        match figure(&data, name) {
            Some((cpu, wall, summary)) => println!(
                "{name}\t{cpu:.2}\t{wall:.2}\t{:.1}\t{summary}",
                peak_rss_mb()
            ),
            None => {
                eprintln!("unknown figure {name}; figures: {}", FIGURES.join(", "));
                std::process::exit(2);
            }
        }
    }
}
