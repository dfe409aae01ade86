//! Generates a history of N ops (default 1,000,000: 10 client processes, 3 fs, some fail and
//! info, nemesis partitions, kills and clock bumps) as JSONL in a temp dir, renders its report
//! and prints wall time and peak RSS. `cargo run --release -p rift-report --example
//! bench_report [N]`; or `... -- --dir STORE_DIR` to render an existing run.

use rift_report::{render_run, ReportOptions};
use std::io::Write;
use std::path::Path;
use std::time::Instant;

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn generate(path: &Path, n: u64) -> std::io::Result<()> {
    let mut out = std::io::BufWriter::with_capacity(1 << 20, std::fs::File::create(path)?);
    let fs = ["read", "write", "cas"];
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let mut procs: Vec<(i64, Option<usize>)> = (0..10).map(|p| (p, None)).collect();
    let (mut t, mut i) = (0i64, 0u64);
    let nemesis = [
        "start-partition",
        "stop-partition",
        "kill",
        "start",
        "bump",
        "reset",
    ];
    while i < n {
        t += 20_000 + rng.below(200_000) as i64;
        if i % 100_000 == 50_000 {
            let f = nemesis[(i / 100_000 % 6) as usize];
            let value = if f == "bump" {
                "{\"~sn1\":0.25,\"~sn2\":-1.5}".to_string()
            } else {
                "null".to_string()
            };
            writeln!(out, "{{\"index\":{i},\"time\":{t},\"type\":\"invoke\",\"process\":\"nemesis\",\"f\":\"{f}\",\"value\":null}}")?;
            writeln!(out, "{{\"index\":{},\"time\":{},\"type\":\"info\",\"process\":\"nemesis\",\"f\":\"{f}\",\"value\":{value}}}", i + 1, t + 1000)?;
            i += 2;
            continue;
        }
        let k = rng.below(10) as usize;
        let (p, open) = procs[k];
        match open {
            None => {
                let f = rng.below(3) as usize;
                writeln!(out, "{{\"index\":{i},\"time\":{t},\"type\":\"invoke\",\"process\":{p},\"f\":\"{}\",\"value\":{}}}", fs[f], rng.below(5))?;
                procs[k].1 = Some(f);
            }
            Some(f) => {
                let r = rng.below(100);
                let ty = if r < 90 {
                    "ok"
                } else if r < 97 {
                    "fail"
                } else {
                    "info"
                };
                writeln!(out, "{{\"index\":{i},\"time\":{t},\"type\":\"{ty}\",\"process\":{p},\"f\":\"{}\",\"value\":{}}}", fs[f], rng.below(5))?;
                procs[k] = (if ty == "info" { p + 10 } else { p }, None);
            }
        }
        i += 1;
    }
    out.flush()
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

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let tmp;
    let dir = if args.first().map(String::as_str) == Some("--dir") {
        std::path::PathBuf::from(args.get(1).ok_or("--dir needs a path")?)
    } else {
        let n: u64 = args.first().map_or(Ok(1_000_000), |a| a.parse())?;
        tmp = tempfile::tempdir()?;
        let t0 = Instant::now();
        generate(&tmp.path().join("history.jsonl"), n)?;
        if let Some(save) = std::env::var_os("SAVE_HISTORY") {
            std::fs::copy(tmp.path().join("history.jsonl"), save)?;
        }
        std::fs::write(tmp.path().join("test.json"), "{\"name\": \"bench\"}")?;
        println!("generated {n} ops in {:.2} s", t0.elapsed().as_secs_f64());
        tmp.path().to_path_buf()
    };
    let t0 = Instant::now();
    // For profiling: NO_TIMELINE=1, NO_SVG=1, NO_PNG=1 skip outputs.
    let opts = ReportOptions {
        timeline: std::env::var_os("NO_TIMELINE").is_none(),
        formats: rift_report::Formats {
            png: std::env::var_os("NO_PNG").is_none(),
            svg: std::env::var_os("NO_SVG").is_none(),
        },
        ..ReportOptions::default()
    };
    let report = render_run(&dir, &opts)?;
    let wall = t0.elapsed().as_secs_f64();
    let bytes: u64 = report
        .files
        .iter()
        .filter_map(|f| std::fs::metadata(f).ok())
        .map(|m| m.len())
        .sum();
    println!(
        "rendered {} files ({:.1} MB) in {wall:.2} s; peak RSS {:.0} MB",
        report.files.len(),
        bytes as f64 / 1e6,
        peak_rss_mb()
    );
    for f in report
        .files
        .iter()
        .filter(|f| f.parent() == Some(dir.as_path()))
    {
        let len = std::fs::metadata(f).map(|m| m.len()).unwrap_or(0);
        println!("  {} {} bytes", f.display(), len);
    }
    println!(
        "{}",
        serde_json::to_string(&report.summary["by-f"]["read"])?
    );
    if std::env::var_os("KEEP").is_some() {
        let keep = std::path::Path::new("/tmp/bench-report-out");
        std::fs::create_dir_all(keep)?;
        for f in report
            .files
            .iter()
            .filter(|f| f.parent() == Some(dir.as_path()))
        {
            std::fs::copy(f, keep.join(f.file_name().unwrap_or_default()))?;
        }
    }
    Ok(())
}
