//! Packet delay, duplication, reordering, corruption and rate limits with `tc netem`, where the
//! kernel has `sch_netem` (this machine's does not: there such faults fail with a clear
//! "not supported here" instead of pretending). Loss alone goes through nft, which works
//! everywhere.
//!
//! Behaviours are Jepsen's (`jepsen.net`): a map of `:delay {:time ms :jitter ms :correlation
//! pct :distribution :normal}`, `:loss {:percent p :correlation c}`, `:duplicate {:percent p
//! :correlation c}`, `:reorder {:percent p :correlation c}`, `:corrupt {:percent p
//! :correlation c}`, `:rate {:rate "1mbit"}`.

use rift_history::Value;

use crate::error::NemesisError;

/// The shell prelude naming the node's outgoing interface `$dev`: the default route's, else
/// `eth0` (a local-cluster node's veth).
pub const DEV: &str =
    "dev=$(ip -o route show default 2>/dev/null | awk '{print $5; exit}'); [ -n \"$dev\" ] || dev=eth0\n";

/// Whether `behaviour` needs netem (anything but loss).
pub fn needs_netem(behaviour: &Value) -> bool {
    behaviour
        .as_map()
        .unwrap_or(&[])
        .iter()
        .any(|(k, _)| k.as_name() != Some("loss"))
}

fn num(v: Option<&Value>) -> Option<f64> {
    v.and_then(Value::as_f64)
        .filter(|x| x.is_finite() && *x >= 0.0)
}

fn bad(why: impl Into<String>) -> NemesisError {
    NemesisError::bad_value("start-packet", why)
}

/// `percent [correlation]` of a `{:percent p :correlation c}` map (or a bare number).
fn percent_args(name: &str, v: &Value) -> Result<String, NemesisError> {
    let p = num(v.get("percent").or(Some(v)))
        .filter(|p| *p <= 100.0)
        .ok_or_else(|| bad(format!("{name} needs :percent between 0 and 100")))?;
    let mut s = format!(" {name} {p}%");
    if let Some(c) = num(v.get("correlation")) {
        s.push_str(&format!(" {c}%"));
    }
    Ok(s)
}

/// The arguments after `tc qdisc replace dev $dev root netem` for `behaviour`.
pub fn netem_args(behaviour: &Value) -> Result<String, NemesisError> {
    let entries = behaviour
        .as_map()
        .ok_or_else(|| bad("behaviour must be a map"))?;
    let mut s = String::new();
    for (k, v) in entries {
        match k.as_name() {
            Some("delay") => {
                let t =
                    num(v.get("time").or(Some(v))).ok_or_else(|| bad("delay needs :time in ms"))?;
                s.push_str(&format!(" delay {t}ms"));
                if let Some(j) = num(v.get("jitter")) {
                    s.push_str(&format!(" {j}ms"));
                    if let Some(c) = num(v.get("correlation")) {
                        s.push_str(&format!(" {c}%"));
                    }
                    if let Some(d) = v.get("distribution").and_then(Value::as_name) {
                        if !["normal", "pareto", "paretonormal", "uniform"].contains(&d) {
                            return Err(bad(format!("unknown delay distribution {d:?}")));
                        }
                        if d != "uniform" {
                            s.push_str(&format!(" distribution {d}"));
                        }
                    }
                }
            }
            Some(name @ ("loss" | "duplicate" | "reorder" | "corrupt")) => {
                s.push_str(&percent_args(name, v)?);
            }
            Some("rate") => {
                let r = v
                    .get("rate")
                    .or(Some(v))
                    .and_then(Value::as_name)
                    .filter(|r| {
                        !r.is_empty() && r.chars().all(|c| c.is_ascii_alphanumeric() || c == '.')
                    })
                    .ok_or_else(|| bad("rate needs :rate like \"1mbit\""))?;
                s.push_str(&format!(" rate {r}"));
            }
            Some(other) => return Err(bad(format!("unknown packet behaviour {other:?}"))),
            None => return Err(bad("behaviour keys are names")),
        }
    }
    if s.contains(" reorder ") && !s.contains(" delay ") {
        return Err(bad(
            "reorder needs a delay (netem reorders by sending some packets at once)",
        ));
    }
    if s.is_empty() {
        return Err(bad("no behaviour given"));
    }
    Ok(s)
}

/// The script that applies `args` (from [`netem_args`]) on a node.
pub fn apply_script(args: &str) -> String {
    format!("{DEV}tc qdisc replace dev \"$dev\" root netem{args}\n")
}

/// The script that removes our netem qdisc (no error when there is none).
pub fn heal_script() -> String {
    format!("{DEV}tc qdisc del dev \"$dev\" root 2>/dev/null || true\n")
}

/// The script that tells whether netem works on a node: adds a no-op netem qdisc and removes
/// it; prints `netem-ok` or the error.
pub fn probe_script() -> String {
    format!(
        "{DEV}if out=$(tc qdisc replace dev \"$dev\" root netem delay 0ms 2>&1); then \
         tc qdisc del dev \"$dev\" root 2>/dev/null; echo netem-ok; else echo \"$out\"; fi\n"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kw_map(entries: Vec<(&str, Value)>) -> Value {
        Value::Map(
            entries
                .into_iter()
                .map(|(k, v)| (Value::kw(k), v))
                .collect(),
        )
    }

    #[test]
    fn jepsen_behaviours_become_netem_arguments() {
        let b = kw_map(vec![
            (
                "delay",
                kw_map(vec![
                    ("time", Value::Int(50)),
                    ("jitter", Value::Int(10)),
                    ("correlation", Value::Int(25)),
                    ("distribution", Value::kw("normal")),
                ]),
            ),
            (
                "loss",
                kw_map(vec![
                    ("percent", Value::Int(20)),
                    ("correlation", Value::Int(75)),
                ]),
            ),
            ("duplicate", kw_map(vec![("percent", Value::Int(5))])),
            ("reorder", kw_map(vec![("percent", Value::Int(20))])),
            ("rate", kw_map(vec![("rate", Value::str("1mbit"))])),
        ]);
        assert!(needs_netem(&b));
        assert_eq!(
            netem_args(&b).unwrap(),
            " delay 50ms 10ms 25% distribution normal loss 20% 75% duplicate 5% reorder 20% rate 1mbit"
        );
        let loss_only = kw_map(vec![("loss", kw_map(vec![("percent", Value::Int(20))]))]);
        assert!(!needs_netem(&loss_only));
    }

    #[test]
    fn bad_behaviours_are_refused() {
        let e = netem_args(&kw_map(vec![("reorder", Value::Int(10))])).unwrap_err();
        assert!(e.to_string().contains("reorder needs a delay"), "{e}");
        let e = netem_args(&kw_map(vec![("loss", Value::Int(120))])).unwrap_err();
        assert!(e.to_string().contains("between 0 and 100"), "{e}");
        let e = netem_args(&kw_map(vec![("rate", Value::str("1mbit; reboot"))])).unwrap_err();
        assert!(e.to_string().contains("rate needs"), "{e}");
        let e = netem_args(&kw_map(vec![("jam", Value::Int(1))])).unwrap_err();
        assert!(e.to_string().contains("unknown packet behaviour"), "{e}");
        assert!(apply_script(" delay 5ms").ends_with("root netem delay 5ms\n"));
    }
}
