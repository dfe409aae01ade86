//! Verdict lines and exit codes, as Jepsen prints them.

use rift_checker::{CheckResult, Validity};

/// Exit code for bad arguments or bad input.
pub const EXIT_BAD_ARGS: u8 = 254;
/// Exit code for an internal error.
pub const EXIT_INTERNAL: u8 = 255;

/// Prints the verdict line and returns the exit code: 0 valid, 1 invalid, 2 unknown.
pub fn print_verdict(valid: Validity) -> u8 {
    match valid {
        Validity::True => {
            println!("Everything looks good! ヽ(‘ー`)ノ");
            0
        }
        Validity::False => {
            println!("Analysis invalid! (ﾉಥ益ಥ）ﾉ ┻━┻");
            1
        }
        Validity::Unknown => {
            println!("Errors occurred during analysis, but no anomalies found. ಠ~ಠ");
            2
        }
    }
}

/// The exit code of several runs: invalid beats unknown beats valid.
pub fn worst(codes: &[u8]) -> u8 {
    if codes.contains(&1) {
        1
    } else if codes.contains(&2) {
        2
    } else {
        codes.iter().copied().max().unwrap_or(0)
    }
}

/// Prints one line per sub-checker: its validity, anomaly types and counts.
pub fn print_summary(result: &CheckResult) {
    let json = result.to_json();
    let Some(map) = json.as_object() else {
        return;
    };
    println!();
    for (name, sub) in map {
        if name == "perf" {
            continue; // not a checker: printed below as rates and latencies
        }
        let Some(obj) = sub.as_object() else {
            continue;
        };
        let Some(valid) = obj.get("valid?") else {
            continue;
        };
        let mut line = format!("  {name:<12} valid? {valid}");
        if let Some(types) = obj.get("anomaly-types").and_then(|t| t.as_array()) {
            if !types.is_empty() {
                let t: Vec<String> = types
                    .iter()
                    .map(|x| x.as_str().unwrap_or("?").to_string())
                    .collect();
                line.push_str(&format!("  anomalies: {}", t.join(", ")));
            }
        }
        for (k, v) in obj {
            if k.ends_with("-count") && (v.is_number()) {
                line.push_str(&format!("  {k} {v}"));
            }
        }
        println!("{line}");
    }
    if let Some(line) = map.get("perf").and_then(perf_line) {
        println!("{line}");
    }
    for key in ["interrupted", "teardown-errors"] {
        if let Some(v) = map.get(key) {
            println!("  {key}: {v}");
        }
    }
    println!();
}

/// `ok ops/s` in total and per f, and the p99 latency of ok ops per f, from the report's
/// summary (`results.json` `perf`).
fn perf_line(perf: &serde_json::Value) -> Option<String> {
    let by_f = perf.get("by-f")?.as_object()?;
    let mut total = 0.0;
    let mut rates = Vec::new();
    let mut p99s = Vec::new();
    for (f, s) in by_f {
        let rate = s.get("ok-rate-hz").and_then(|r| r.as_f64()).unwrap_or(0.0);
        total += rate;
        rates.push(format!("{f} {rate:.1}"));
        if let Some(p) = s.pointer("/ok-latency-ms/p99").and_then(|p| p.as_f64()) {
            p99s.push(format!("{f} {p:.1}"));
        }
    }
    let mut line = format!("  ok ops/s     {total:.1} ({})", rates.join(", "));
    if !p99s.is_empty() {
        line.push_str(&format!(
            "\n  p99 latency  ms of ok ops: {}",
            p99s.join(", ")
        ));
    }
    Some(line)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn perf_lines() {
        let perf = serde_json::json!({"by-f": {
            "read": {"ok-rate-hz": 10.0, "ok-latency-ms": {"p99": 4.25}},
            "write": {"ok-rate-hz": 2.5, "ok-latency-ms": {"p99": null}}}});
        assert_eq!(
            perf_line(&perf).unwrap(),
            "  ok ops/s     12.5 (read 10.0, write 2.5)\n  p99 latency  ms of ok ops: read 4.2"
        );
        assert_eq!(perf_line(&serde_json::json!({})), None);
    }

    #[test]
    fn worst_code() {
        assert_eq!(worst(&[0, 2, 0]), 2);
        assert_eq!(worst(&[0, 2, 1]), 1);
        assert_eq!(worst(&[]), 0);
    }
}
