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
    for key in ["interrupted", "teardown-errors"] {
        if let Some(v) = map.get(key) {
            println!("  {key}: {v}");
        }
    }
    println!();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn worst_code() {
        assert_eq!(worst(&[0, 2, 0]), 2);
        assert_eq!(worst(&[0, 2, 1]), 1);
        assert_eq!(worst(&[]), 0);
    }
}
