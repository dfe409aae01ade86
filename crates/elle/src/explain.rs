//! Explanations: each step of a cycle in words and as data, and the files written under
//! `elle/` (per-anomaly text and JSON; cycle plots are in [`crate::plot`]).

use crate::append::{AppendIndex, Prev};
use crate::cycles::Cycle;
use crate::graph::{PROCESS, REALTIME, RW, WR, WW};
use crate::register::{ext, ExtMop, RegisterIndex};
use crate::report::Ctx;
use crate::txn::Kind;
use rift_history::Value;
use serde_json::{json, Value as Json};

/// The analysis an explanation draws on.
pub enum Index<'a> {
    /// List-append.
    Append(&'a AppendIndex<'a>),
    /// Rw-register.
    Register(&'a RegisterIndex<'a>),
}

fn vj(v: &Value) -> Json {
    rift_checker::util::value_json(v)
}

/// Explains why `b` follows `a` by relation `rel`: (data, sentence with T-names `an`, `bn`).
pub fn step(ctx: &Ctx, idx: &Index, a: u32, b: u32, rel: u8, an: &str, bn: &str) -> (Json, String) {
    let ta = &ctx.txns.txns[a as usize];
    let tb = &ctx.txns.txns[b as usize];
    let key = |k: u32| &ctx.txns.keys[k as usize];
    match (rel, idx) {
        (PROCESS, _) => {
            let p = ctx.history.ops()[ta.pos].process.to_value();
            (
                json!({"type": "process", "process": vj(&p)}),
                format!("process {p} executed {an} before {bn}"),
            )
        }
        (REALTIME, _) => {
            let ca = &ctx.history.ops()[ta.pos];
            let ib = tb.inv.map(|i| &ctx.history.ops()[i]);
            let gap = match (ca.time, ib.and_then(|o| o.time)) {
                (Some(x), Some(y)) if y > x => format!(", {:.3} seconds", (y - x) as f64 / 1e9),
                _ => String::new(),
            };
            let bi = ib.map_or(0, |o| o.index);
            (
                json!({"type": "realtime", "a-index": ca.index, "b-index": bi}),
                format!(
                    "{an} completed at index {}{gap} before the invocation of {bn}, at index {bi}",
                    ca.index
                ),
            )
        }
        (_, Index::Append(ix)) => append_step(ctx, ix, a, b, rel, an, bn),
        (_, Index::Register(ix)) => {
            let (ra, wa) = ext(ta);
            let (rb, wb) = ext(tb);
            fn pick<'v>(
                xs: &[(u32, usize, &'v Value)],
                ys: &[(u32, usize, &'v Value)],
                rel: u8,
                ix: &RegisterIndex,
            ) -> Option<(ExtMop<'v>, ExtMop<'v>)> {
                xs.iter().find_map(|x| {
                    ys.iter()
                        .find(|y| {
                            y.0 == x.0
                                && (rel == WR && x.2 == y.2
                                    || rel != WR
                                        && ix.versions.contains(&(
                                            x.0,
                                            crate::txn::VKey::of(x.2),
                                            crate::txn::VKey::of(y.2),
                                        )))
                        })
                        .map(|y| (*x, *y))
                })
            }
            let found = match rel {
                WR => pick(&wa, &rb, rel, ix),
                WW => pick(&wa, &wb, rel, ix),
                _ => pick(&ra, &wb, rel, ix),
            };
            let Some((x, y)) = found else {
                return (
                    json!({"type": crate::graph::rel_name(rel)}),
                    format!("{an} precedes {bn}"),
                );
            };
            let k = key(x.0);
            let data = json!({"type": crate::graph::rel_name(rel), "key": vj(k), "value": vj(x.2),
                              "value'": vj(y.2), "a-mop-index": x.1, "b-mop-index": y.1});
            let text = match rel {
                WR => format!("{an} wrote {k} = {}, which was read by {bn}", x.2),
                WW => format!("{an} set key {k} to {}, and {bn} set it to {}, which came later in the version order", x.2, y.2),
                _ if x.2.is_nil() => format!("{an} read key {k} in its initial state (nil), and {bn} set it to {}, which came later in the version order", y.2),
                _ => format!("{an} read key {k} = {}, and {bn} set it to {}, which came later in the version order", x.2, y.2),
            };
            (data, text)
        }
    }
}

fn append_step(
    ctx: &Ctx,
    ix: &AppendIndex,
    a: u32,
    b: u32,
    rel: u8,
    an: &str,
    bn: &str,
) -> (Json, String) {
    let txns = ctx.txns;
    let tb = &txns.txns[b as usize];
    let ta = &txns.txns[a as usize];
    for (bm, mop) in tb.mops.iter().enumerate() {
        let k = &txns.keys[mop.key as usize];
        match (rel, mop.kind) {
            (WR, Kind::Read) => {
                let Some(last) = mop.value.as_seq().and_then(|s| s.last()) else {
                    continue;
                };
                if ix.writer(mop.key, last) != Some(a) {
                    continue;
                }
                let am = ta
                    .mops
                    .iter()
                    .position(|m| m.kind == Kind::Append && m.key == mop.key && m.value == last);
                return (
                    json!({"type": "wr", "key": vj(k), "value": vj(last), "a-mop-index": am, "b-mop-index": bm}),
                    format!("{an} appended {last} to key {k}, which {bn} read"),
                );
            }
            (WW | RW, Kind::Append) => {
                let prev = ix.prev(mop.key, mop.value);
                let pv = match prev {
                    Prev::Init => None,
                    Prev::At(p) => ix.element(mop.key, p),
                };
                if rel == WW {
                    let Some(pv) = pv else { continue };
                    if ix.writer(mop.key, pv) != Some(a) {
                        continue;
                    }
                    let am = ta
                        .mops
                        .iter()
                        .position(|m| m.kind == Kind::Append && m.key == mop.key && m.value == pv);
                    return (
                        json!({"type": "ww", "key": vj(k), "value": vj(pv), "value'": vj(mop.value),
                               "a-mop-index": am, "b-mop-index": bm}),
                        format!(
                            "{an} appended {pv} to key {k}, and {bn} appended {} right after it",
                            mop.value
                        ),
                    );
                }
                let am = ta.mops.iter().position(|m| {
                    m.kind == Kind::Read && m.key == mop.key && {
                        let s = m.value.as_seq().unwrap_or(&[]);
                        match pv {
                            None => {
                                s.is_empty()
                                    && !(m.value.is_nil() && ta.ty != rift_history::OpType::Ok)
                            }
                            Some(pv) => s.last() == Some(pv),
                        }
                    }
                });
                let Some(am) = am else { continue };
                // The JSON names the initial state as Elle's own output does ("init" here, nil
                // in rw-register), so it compares clean with Elle's; the words say "initial
                // state" in both.
                let value = pv.map_or(json!("init"), vj);
                let text = match pv {
                    None => format!("{an} read key {k} in its initial state (empty), and {bn} appended {} to it", mop.value),
                    Some(pv) => format!("{an} read key {k} ending in {pv}, which did not include {bn}'s append of {}", mop.value),
                };
                return (
                    json!({"type": "rw", "key": vj(k), "value": value, "value'": vj(mop.value),
                           "a-mop-index": am, "b-mop-index": bm}),
                    text,
                );
            }
            _ => {}
        }
    }
    let _ = RW;
    (
        json!({"type": crate::graph::rel_name(rel)}),
        format!("{an} precedes {bn}"),
    )
}

/// A cycle as JSON (Elle's shape: `cycle` ops with the first repeated last, `steps`, `type`)
/// and as text.
pub fn cycle(ctx: &Ctx, idx: &Index, c: &Cycle) -> (Json, String) {
    let n = c.txns.len();
    let names: Vec<String> = (1..=n).map(|i| format!("T{i}")).collect();
    let mut ops: Vec<Json> = c.txns.iter().map(|&t| ctx.op_json(t)).collect();
    if let Some(f) = ops.first().cloned() {
        ops.push(f);
    }
    let mut steps = Vec::new();
    let mut text = String::from("Let:\n");
    for (i, &t) in c.txns.iter().enumerate() {
        let op = &ctx.history.ops()[ctx.txns.txns[t as usize].pos];
        text.push_str(&format!("  {} = {}\n", names[i], op));
    }
    text.push_str("\nThen:\n");
    for i in 0..n {
        let j = (i + 1) % n;
        let (d, s) = step(
            ctx, idx, c.txns[i], c.txns[j], c.rels[i], &names[i], &names[j],
        );
        steps.push(d);
        if i + 1 == n {
            text.push_str(&format!(
                "  - However, {} < {}, because {s}: a contradiction!\n",
                names[i], names[j]
            ));
        } else {
            text.push_str(&format!("  - {} < {}, because {s}.\n", names[i], names[j]));
        }
    }
    (json!({"cycle": ops, "steps": steps, "type": c.ty}), text)
}

/// A JSON value in EDN, as the cycle explanations show ops: strings in micro-ops and `f`
/// and `type` as keywords.
fn edn(j: &Json) -> String {
    match j {
        Json::Null => "nil".into(),
        Json::String(s) => format!(":{s}"),
        Json::Array(a) => format!("[{}]", a.iter().map(edn).collect::<Vec<_>>().join(" ")),
        Json::Object(m) => {
            // An op's fields in Jepsen's order, then the rest.
            const ORDER: [&str; 7] = ["index", "time", "type", "process", "f", "value", "error"];
            let rank = |k: &str| ORDER.iter().position(|o| *o == k).unwrap_or(ORDER.len());
            let mut fields: Vec<(&String, &Json)> = m.iter().collect();
            fields.sort_by_key(|(k, _)| rank(k));
            let fields: Vec<String> = fields
                .iter()
                .map(|(k, v)| format!(":{k} {}", edn(v)))
                .collect();
            format!("{{{}}}", fields.join(", "))
        }
        other => other.to_string(),
    }
}

/// An op of an instance (`op`, `writer`...), in EDN.
fn op_text(j: &Json, field: &str) -> String {
    j.get(field).map_or_else(|| "?".into(), edn)
}

/// A micro-op's key and value (`["r", k, v]`).
fn mop_parts(j: &Json) -> (String, String) {
    let part = |i: usize| {
        j.get("mop")
            .and_then(|m| m.get(i))
            .map_or_else(|| "?".into(), edn)
    };
    (part(1), part(2))
}

/// One instance of an anomaly that is not a cycle (internal, lost-update, G1a, ...) in words,
/// from its JSON; None for a type that has no words (cycles have theirs, from [`cycle`]).
pub fn instance(ty: &str, j: &Json) -> Option<String> {
    let (k, v) = mop_parts(j);
    let field = |f: &str| j.get(f).map_or_else(|| "?".into(), edn);
    let text = match ty {
        "internal" => format!(
            "Let:\n  T1 = {}\n\nT1 read key {k} as {v}, but its own earlier micro-ops say it must \
             read {}: what it had read before, with its own writes since. Another \
             transaction's write became visible inside T1 (a non-repeatable read).\n",
            op_text(j, "op"),
            field("expected"),
        ),
        "lost-update" => {
            let txns: Vec<String> = j
                .get("txns")
                .and_then(Json::as_array)
                .map(|a| a.iter().map(edn).collect())
                .unwrap_or_default();
            let lets: String = txns
                .iter()
                .enumerate()
                .map(|(i, t)| format!("  T{} = {t}\n", i + 1))
                .collect();
            format!(
                "Let:\n{lets}\nThese {} transactions all read key {} at the same version, {}, \
                 then each wrote the key and committed. In any serial order all but the first \
                 wrote after a write they had not read: a lost update (Adya's P4).\n",
                txns.len(),
                field("key"),
                field("value"),
            )
        }
        "G1a" => format!(
            "Let:\n  T1 = {}\n  T2 = {}\n\nT1 read key {k} as {v}, whose element {} was written \
             by T2, which failed (aborted): an aborted read.\n",
            op_text(j, "op"),
            op_text(j, "writer"),
            field("element"),
        ),
        "G1b" => format!(
            "Let:\n  T1 = {}\n  T2 = {}\n\nT1 read key {k} as {v}, ending in {}, which T2 wrote \
             and then wrote over within the same transaction: an intermediate read.\n",
            op_text(j, "op"),
            op_text(j, "writer"),
            field("element"),
        ),
        "garbage-read" => format!(
            "Let:\n  T1 = {}\n\nT1 read key {k} as {v}, which holds a value no transaction \
             wrote.\n",
            op_text(j, "op"),
        ),
        "future-read" => format!(
            "Let:\n  T1 = {}\n\nT1 read key {k} as {v}, with element {}, before T1 itself \
             appended that element.\n",
            op_text(j, "op"),
            field("element"),
        ),
        "duplicate-elements" => format!(
            "Let:\n  T1 = {}\n\nT1 read key {k} as {v}, in which these elements appear more \
             than once (element: times): {}. Every element is appended once.\n",
            op_text(j, "op"),
            field("duplicates"),
        ),
        "incompatible-order" => format!(
            "Key {} was read as both of {}: neither is a prefix of the other, so no one order \
             of its appends explains both reads.\n",
            field("key"),
            field("values"),
        ),
        "dirty-update" => format!(
            "Key {} went through the values {}: a committed transaction wrote over the write \
             of a failed one, {}.\n",
            field("key"),
            field("values"),
            field("txns"),
        ),
        _ => return None,
    };
    Some(text)
}

#[cfg(test)]
mod instance_tests {
    use super::*;

    #[test]
    fn non_cycle_anomalies_have_words() {
        let j = json!({"expected": [1, 2], "mop": ["r", 3, [1, 2, 5]],
                       "op": {"index": 36, "process": 10, "type": "ok", "f": "txn",
                              "value": [["r", 3, [1, 2]], ["r", 3, [1, 2, 5]]]}});
        let t = instance("internal", &j).unwrap();
        assert!(t.contains("T1 = {:index 36, :type :ok, :process 10, :f :txn, :value [[:r 3 [1 2]] [:r 3 [1 2 5]]]}"), "{t}");
        assert!(
            t.contains("read key 3 as [1 2 5]") && t.contains("must read [1 2]"),
            "{t}"
        );
        let j = json!({"key": 7, "value": [1], "txns": [{"index": 1}, {"index": 2}]});
        let t = instance("lost-update", &j).unwrap();
        assert!(
            t.contains("These 2 transactions all read key 7 at the same version, [1]"),
            "{t}"
        );
        assert!(t.contains("T2 = {:index 2}"), "{t}");
        for ty in [
            "G1a",
            "G1b",
            "garbage-read",
            "future-read",
            "duplicate-elements",
            "incompatible-order",
            "dirty-update",
        ] {
            assert!(instance(ty, &json!({})).is_some(), "{ty}");
        }
        assert!(instance("G2-item", &json!({})).is_none());
    }
}
