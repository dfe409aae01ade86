//! Helpers shared by the checkers: JSON images of values and ops, Jepsen's compact integer
//! set strings, quantiles.

use rift_history::json::{op_to_json, value_to_json};
use rift_history::{Op, Value};
use serde_json::{Map, Value as Json};
use std::collections::BTreeMap;

/// The JSON image of a value, in rift's history encoding (keywords as plain strings).
pub fn value_json(v: &Value) -> Json {
    serde_json::from_str(&value_to_json(v)).unwrap_or(Json::Null)
}

/// The JSON image of an op, as `rift_history::json::op_to_json` writes it.
pub fn op_json(op: &Op) -> Json {
    serde_json::from_str(&op_to_json(op)).unwrap_or(Json::Null)
}

/// A value as a JSON object key: names (keywords, strings, symbols) by their text, anything
/// else by its JSON text.
pub fn key_text(v: &Value) -> String {
    match v.as_name() {
        Some(s) => s.to_string(),
        None => value_to_json(v),
    }
}

/// A sorted JSON array of values.
pub fn sorted_values_json<'a>(vs: impl IntoIterator<Item = &'a Value>) -> Json {
    let mut v: Vec<&Value> = vs.into_iter().collect();
    v.sort();
    Json::Array(v.into_iter().map(value_json).collect())
}

/// Jepsen's `integer-interval-set-str`: a sorted set of integers as `#{0..2 5 7..9}`. When some
/// element is not an integer, the sorted elements as a JSON array instead.
pub fn interval_set(vs: &[&Value]) -> Json {
    let ints: Option<Vec<i64>> = vs.iter().map(|v| v.as_i64()).collect();
    let Some(mut ints) = ints else {
        return sorted_values_json(vs.iter().copied());
    };
    ints.sort_unstable();
    ints.dedup();
    let mut runs: Vec<(i64, i64)> = Vec::new();
    for x in ints {
        match runs.last_mut() {
            Some((_, end)) if end.checked_add(1) == Some(x) => *end = x,
            _ => runs.push((x, x)),
        }
    }
    let parts: Vec<String> = runs
        .iter()
        .map(|&(a, b)| {
            if a == b {
                a.to_string()
            } else {
                format!("{a}..{b}")
            }
        })
        .collect();
    Json::String(format!("#{{{}}}", parts.join(" ")))
}

/// Jepsen's `frequency-distribution` at points 0, 0.5, 0.95, 0.99, 1: the element at
/// `min(n - 1, floor(n * p))` of the sorted values. None for no values.
pub fn quantiles(values: &[i64]) -> Option<Json> {
    if values.is_empty() {
        return None;
    }
    let mut sorted = values.to_vec();
    sorted.sort_unstable();
    let n = sorted.len();
    let mut m = Map::new();
    for (key, p) in [
        ("0", 0.0),
        ("0.5", 0.5),
        ("0.95", 0.95),
        ("0.99", 0.99),
        ("1", 1.0),
    ] {
        let idx = ((n as f64 * p).floor() as usize).min(n - 1);
        m.insert(key.into(), sorted[idx].into());
    }
    Some(Json::Object(m))
}

/// A multiset of values with element counts.
pub type Multiset = BTreeMap<Value, u64>;

/// Total multiplicity of a multiset.
pub fn ms_count(m: &Multiset) -> u64 {
    m.values().sum()
}

/// `a - b`, multiplicities floored at zero.
pub fn ms_minus(a: &Multiset, b: &Multiset) -> Multiset {
    a.iter()
        .filter_map(|(k, &n)| {
            let left = n.saturating_sub(b.get(k).copied().unwrap_or(0));
            (left > 0).then(|| (k.clone(), left))
        })
        .collect()
}

/// Intersection: the smaller multiplicity of each shared element.
pub fn ms_intersect(a: &Multiset, b: &Multiset) -> Multiset {
    a.iter()
        .filter_map(|(k, &n)| {
            let m = n.min(b.get(k).copied().unwrap_or(0));
            (m > 0).then(|| (k.clone(), m))
        })
        .collect()
}

/// A multiset as a sorted JSON array with repeats.
pub fn ms_json(m: &Multiset) -> Json {
    let mut out = Vec::new();
    for (k, &n) in m {
        let j = value_json(k);
        for _ in 0..n {
            out.push(j.clone());
        }
    }
    Json::Array(out)
}

/// Nanoseconds to whole milliseconds (truncating, as Jepsen's `nanos->ms` then `long`).
pub fn ns_to_ms(ns: i64) -> i64 {
    ns / 1_000_000
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interval_sets_match_jepsen() {
        let vs: Vec<Value> = [5, 0, 1, 2, 7, 8, 9, 11]
            .into_iter()
            .map(Value::from)
            .collect();
        let refs: Vec<&Value> = vs.iter().collect();
        assert_eq!(
            interval_set(&refs),
            Json::String("#{0..2 5 7..9 11}".into())
        );
        assert_eq!(interval_set(&[]), Json::String("#{}".into()));
        let mixed = [Value::kw("a"), Value::from(1)];
        let refs: Vec<&Value> = mixed.iter().collect();
        assert_eq!(interval_set(&refs), serde_json::json!([1, "a"]));
    }

    #[test]
    fn quantiles_pick_like_jepsen() {
        let q = quantiles(&[40, 10, 30, 20]).unwrap();
        assert_eq!(
            q,
            serde_json::json!({"0": 10, "0.5": 30, "0.95": 40, "0.99": 40, "1": 40})
        );
        assert_eq!(quantiles(&[]), None);
    }

    #[test]
    fn multiset_algebra() {
        let a: Multiset = [(Value::from(1), 3), (Value::from(2), 1)]
            .into_iter()
            .collect();
        let b: Multiset = [(Value::from(1), 1), (Value::from(3), 2)]
            .into_iter()
            .collect();
        assert_eq!(ms_json(&ms_minus(&a, &b)), serde_json::json!([1, 1, 2]));
        assert_eq!(ms_json(&ms_intersect(&a, &b)), serde_json::json!([1]));
        assert_eq!(ms_count(&a), 4);
    }
}
