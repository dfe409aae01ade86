//! The perf summary: ops by f and type, rates, latency quantiles, duration, faults.

use crate::collect::{Data, TYPES};
use crate::faults::{FaultRegion, FaultSpec};
use rift_history::OpType;
use serde_json::{json, Map, Value as Json};

/// The 0-based position of quantile `q` in `n` sorted values (nearest rank: the smallest value
/// with at least `q * n` values at or below it).
pub fn rank(n: usize, q: f64) -> usize {
    if n == 0 {
        return 0;
    }
    (((q * n as f64).ceil() as usize).max(1) - 1).min(n - 1)
}

fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

/// `{"p50", "p95", "p99", "max"}` of sorted latencies (null when empty).
fn quantiles(sorted: &[f32]) -> Json {
    if sorted.is_empty() {
        return Json::Null;
    }
    let q = |q: f64| round3(sorted[rank(sorted.len(), q)] as f64);
    json!({"p50": q(0.5), "p95": q(0.95), "p99": q(0.99), "max": q(1.0)})
}

/// Builds the summary that goes into `results.json` under `"perf"`.
pub fn summary(d: &Data, regions: &[FaultRegion], specs: &[FaultSpec]) -> Json {
    let nf = d.fs.len();
    let mut counts = vec![[0u64; 3]; nf];
    let mut all: Vec<Vec<f32>> = vec![Vec::new(); nf];
    let mut ok: Vec<Vec<f32>> = vec![Vec::new(); nf];
    for p in &d.points {
        let slot = (p.series % 3) as usize;
        counts[p.f()][slot] += 1;
        if p.latency_ms.is_nan() {
            continue;
        }
        all[p.f()].push(p.latency_ms);
        if p.ty() == OpType::Ok {
            ok[p.f()].push(p.latency_ms);
        }
    }
    let dur = d.duration_s();
    let rate = |n: u64| {
        if dur > 0.0 {
            round3(n as f64 / dur)
        } else {
            0.0
        }
    };
    let mut by_f = Map::new();
    for f in 0..nf {
        all[f].sort_unstable_by(f32::total_cmp);
        ok[f].sort_unstable_by(f32::total_cmp);
        let done: u64 = counts[f].iter().sum();
        let mut m = Map::new();
        m.insert("invoke".into(), json!(d.invokes_by_f[f]));
        for (slot, t) in TYPES.iter().enumerate() {
            m.insert(t.as_str().into(), json!(counts[f][slot]));
        }
        m.insert("pending".into(), json!(d.pending_by_f[f]));
        m.insert("rate-hz".into(), json!(rate(done)));
        m.insert("ok-rate-hz".into(), json!(rate(counts[f][0])));
        m.insert("latency-ms".into(), quantiles(&all[f]));
        m.insert("ok-latency-ms".into(), quantiles(&ok[f]));
        by_f.insert(d.fs[f].clone(), Json::Object(m));
    }
    let faults: Vec<Json> = regions
        .iter()
        .filter_map(|r| {
            let s = specs.get(r.spec)?;
            Some(json!({"name": s.name, "start-s": round3(r.start_s),
                        "end-s": round3(r.end_s), "open-at-end": r.open_at_end}))
        })
        .collect();
    let nemesis_ops: u64 = d.nemesis_counts.values().sum();
    json!({
        "valid?": true,
        "ops": d.ops,
        "client-ops": d.ops - nemesis_ops,
        "nemesis-ops": nemesis_ops,
        "ops-without-time": d.untimed,
        "duration-s": round3(dur),
        "by-f": by_f,
        "nemesis": {"by-f": d.nemesis_counts, "faults": faults},
        "clock-samples": d.clock.len(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank() {
        assert_eq!(rank(0, 0.5), 0);
        assert_eq!(rank(1, 0.99), 0);
        assert_eq!(rank(10, 0.5), 4);
        assert_eq!(rank(10, 0.95), 9);
        assert_eq!(rank(100, 0.99), 98);
        assert_eq!(rank(100, 1.0), 99);
        let v: Vec<f32> = (1..=100).map(|x| x as f32).collect();
        assert_eq!(
            quantiles(&v),
            json!({"p50": 50.0, "p95": 95.0, "p99": 99.0, "max": 100.0})
        );
    }
}
