//! Jepsen's `set-full` checker: reads throughout the test, a timeline per element.

use crate::result::{CheckContext, CheckResult, Checker, Validity};
use crate::set::read_elements;
use crate::util::{key_text, ns_to_ms, op_json, quantiles, sorted_values_json, value_json};
use rift_history::{History, Value};
use serde_json::{Map, Value as Json};
use std::collections::{BTreeMap, HashMap};

/// Jepsen's `set-full`: `add` ops of single elements and `read`s of the whole set at any time.
///
/// For each element (positions are history positions; a read counts from its invocation):
/// - *known*: the ok completion of its add, or the first ok read that saw it;
/// - *stable*: some read saw it, and no read invoked later missed it;
/// - *lost*: known, some read invoked after it was known missed it, and no read invoked later
///   saw it;
/// - *never-read*: neither (no read began after it was known, or it was never known);
/// - *stale*: stable, but some read invoked after the element was known missed it (stable
///   latency above zero).
///
/// Latencies are in milliseconds from the known time (`stable-latencies`, `lost-latencies`, as
/// quantiles 0, 0.5, 0.95, 0.99, 1). An element that appears more than once in one read is
/// `duplicated` (a map element -> largest multiplicity). Valid is false with lost or duplicated
/// elements (or stale ones when `linearizable`), else unknown when no element is stable, else
/// true. Unlike Jepsen, which truncates to milliseconds first, staleness is decided in
/// nanoseconds, so sub-millisecond stale reads count.
#[derive(Clone, Copy, Debug, Default)]
pub struct SetFull {
    /// Expect a linearizable set: stale reads make the history invalid.
    pub linearizable: bool,
}

/// Per-element state: positions in the history.
struct Elem<'a> {
    element: &'a Value,
    known: Option<usize>,
    last_present: Option<usize>,
    last_absent: Option<usize>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Stable,
    Lost,
    NeverRead,
}

struct ElemResult {
    id: usize,
    outcome: Outcome,
    stable_latency_ns: Option<i64>,
    lost_latency_ns: Option<i64>,
}

fn time_ns(history: &History, pos: Option<usize>) -> i64 {
    pos.and_then(|p| history.get(p))
        .and_then(|o| o.time)
        .unwrap_or(0)
}

fn outcome(history: &History, id: usize, e: &Elem) -> ElemResult {
    let before = |a: Option<usize>, b: usize| a.is_none_or(|a| a < b);
    let stable = e.last_present.is_some_and(|p| before(e.last_absent, p));
    let lost = match (e.known, e.last_absent) {
        (Some(k), Some(a)) => before(e.last_present, a) && k < a,
        _ => false,
    };
    let known_ns = time_ns(history, e.known);
    let latency = |from: Option<usize>| {
        let t = from.map_or(0, |p| time_ns(history, Some(p)).saturating_add(1));
        t.saturating_sub(known_ns).max(0)
    };
    ElemResult {
        id,
        outcome: if stable {
            Outcome::Stable
        } else if lost {
            Outcome::Lost
        } else {
            Outcome::NeverRead
        },
        stable_latency_ns: stable.then(|| latency(e.last_absent)),
        lost_latency_ns: lost.then(|| latency(e.last_present)),
    }
}

/// Walks the history and builds element states and duplicate counts.
fn scan<'a>(
    history: &'a History,
) -> Result<(Vec<Elem<'a>>, BTreeMap<&'a Value, u64>), CheckResult> {
    let mut elems: Vec<Elem> = Vec::new();
    let mut ids: HashMap<&Value, usize> = HashMap::new();
    let mut stamp: Vec<u64> = Vec::new();
    let mut seen: Vec<u64> = Vec::new();
    let mut dups: BTreeMap<&Value, u64> = BTreeMap::new();
    let mut read_no = 0u64;
    for (pos, op) in history.ops().iter().enumerate() {
        if !op.is_client() {
            continue;
        }
        if op.f.is_name("add") {
            if op.is_invoke() {
                let fresh = Elem {
                    element: &op.value,
                    known: None,
                    last_present: None,
                    last_absent: None,
                };
                match ids.get(&op.value) {
                    Some(&id) => elems[id] = fresh,
                    None => {
                        ids.insert(&op.value, elems.len());
                        elems.push(fresh);
                        stamp.push(0);
                        seen.push(0);
                    }
                }
            } else if op.is_ok() {
                if let Some(&id) = ids.get(&op.value) {
                    elems[id].known.get_or_insert(pos);
                }
            }
        } else if op.f.is_name("read") && op.is_ok() {
            read_no += 1;
            let inv = history.pair_of(pos).unwrap_or(pos);
            // One hash lookup per read element: tracked elements count in `seen`, the rest
            // (never added) in a map, for duplicates only.
            let mut untracked: HashMap<&Value, u64> = HashMap::new();
            for v in read_elements(op)? {
                match ids.get(v) {
                    Some(&id) if stamp[id] == read_no => seen[id] += 1,
                    Some(&id) => {
                        stamp[id] = read_no;
                        seen[id] = 1;
                    }
                    None => *untracked.entry(v).or_insert(0) += 1,
                }
            }
            for (v, n) in untracked.into_iter().filter(|(_, n)| *n > 1) {
                let d = dups.entry(v).or_insert(0);
                *d = (*d).max(n);
            }
            for (id, e) in elems.iter_mut().enumerate() {
                if stamp[id] == read_no {
                    if seen[id] > 1 {
                        let d = dups.entry(e.element).or_insert(0);
                        *d = (*d).max(seen[id]);
                    }
                    e.known.get_or_insert(pos);
                    if e.last_present.is_none_or(|p| p < inv) {
                        e.last_present = Some(inv);
                    }
                } else if e.last_absent.is_none_or(|a| a < inv) {
                    e.last_absent = Some(inv);
                }
            }
        }
    }
    Ok((elems, dups))
}

fn worst_stale_json(history: &History, elems: &[Elem], r: &ElemResult) -> Json {
    let e = &elems[r.id];
    let op = |p: Option<usize>| p.and_then(|p| history.get(p)).map_or(Json::Null, op_json);
    serde_json::json!({
        "element": value_json(e.element),
        "outcome": "stable",
        "stable-latency": r.stable_latency_ns.map(ns_to_ms),
        "lost-latency": Json::Null,
        "known": op(e.known),
        "last-absent": op(e.last_absent),
    })
}

impl Checker for SetFull {
    fn check(&self, _ctx: &CheckContext, history: &History) -> CheckResult {
        let (elems, dups) = match scan(history) {
            Ok(x) => x,
            Err(r) => return r,
        };
        let results: Vec<ElemResult> = elems
            .iter()
            .enumerate()
            .map(|(id, e)| outcome(history, id, e))
            .collect();
        let of = |o: Outcome| results.iter().filter(move |r| r.outcome == o);
        let stable_count = of(Outcome::Stable).count();
        let lost: Vec<&Value> = of(Outcome::Lost).map(|r| elems[r.id].element).collect();
        let never: Vec<&Value> = of(Outcome::NeverRead)
            .map(|r| elems[r.id].element)
            .collect();
        let mut stale: Vec<&ElemResult> = of(Outcome::Stable)
            .filter(|r| r.stable_latency_ns.unwrap_or(0) > 0)
            .collect();
        let mut types = Vec::new();
        if !lost.is_empty() {
            types.push("lost");
        }
        if !dups.is_empty() {
            types.push("duplicated");
        }
        if self.linearizable && !stale.is_empty() {
            types.push("stale");
        }
        let valid = if !types.is_empty() {
            Validity::False
        } else if stable_count == 0 {
            Validity::Unknown
        } else {
            Validity::True
        };
        let mut r = CheckResult::with_validity(valid);
        r.add_anomalies(types);
        let stale_elems = sorted_values_json(stale.iter().map(|s| elems[s.id].element));
        stale.sort_by_key(|s| std::cmp::Reverse(s.stable_latency_ns));
        let worst: Vec<Json> = stale
            .iter()
            .take(8)
            .map(|s| worst_stale_json(history, &elems, s))
            .collect();
        let dup_map: Map<String, Json> = dups
            .iter()
            .map(|(v, n)| (key_text(v), Json::from(*n)))
            .collect();
        let mut r = r
            .with("attempt-count", results.len())
            .with("stable-count", stable_count)
            .with("lost-count", lost.len())
            .with("lost", sorted_values_json(lost))
            .with("never-read-count", never.len())
            .with("never-read", sorted_values_json(never))
            .with("stale-count", stale.len())
            .with("stale", stale_elems)
            .with("worst-stale", worst)
            .with("duplicated-count", dups.len())
            .with("duplicated", dup_map);
        let ms = |f: fn(&ElemResult) -> Option<i64>| -> Vec<i64> {
            results.iter().filter_map(f).map(ns_to_ms).collect()
        };
        if let Some(q) = quantiles(&ms(|r| r.stable_latency_ns)) {
            r = r.with("stable-latencies", q);
        }
        if let Some(q) = quantiles(&ms(|r| r.lost_latency_ns)) {
            r = r.with("lost-latencies", q);
        }
        r
    }
}
