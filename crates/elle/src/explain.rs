//! Explanations: each step of a cycle in words and as data, and the files written under
//! `elle/` (per-anomaly text and JSON, cycle plots as SVG).

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
    Register(&'a RegisterIndex),
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
                                        && ix.versions.contains(&(x.0, x.2.clone(), y.2.clone())))
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
                let value = pv.map_or(json!("init"), vj);
                let text = match pv {
                    None => format!("{an} read key {k} as empty, and {bn} appended {} to it", mop.value),
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

/// A cycle as a standalone SVG: transactions on a circle, edges labelled with relations.
pub fn svg(ctx: &Ctx, c: &Cycle) -> String {
    let n = c.txns.len().max(1);
    let r = 60.0 + 25.0 * n as f64;
    let size = 2.0 * r + 160.0;
    let cx = size / 2.0;
    let pos: Vec<(f64, f64)> = (0..n)
        .map(|i| {
            let a = std::f64::consts::TAU * i as f64 / n as f64 - std::f64::consts::FRAC_PI_2;
            (cx + r * a.cos(), cx + r * a.sin())
        })
        .collect();
    let mut s = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{size:.0}\" height=\"{size:.0}\" font-family=\"sans-serif\" font-size=\"12\">\n\
         <defs><marker id=\"arrow\" markerWidth=\"10\" markerHeight=\"7\" refX=\"10\" refY=\"3.5\" orient=\"auto\"><polygon points=\"0 0, 10 3.5, 0 7\"/></marker></defs>\n"
    );
    for i in 0..c.txns.len() {
        let j = (i + 1) % c.txns.len();
        let ((x1, y1), (x2, y2)) = (pos[i], pos[j]);
        let (dx, dy) = (x2 - x1, y2 - y1);
        let len = (dx * dx + dy * dy).sqrt().max(1.0);
        let (ux, uy) = (dx / len, dy / len);
        let color = match c.rels[i] {
            RW => "#c0392b",
            WR => "#2471a3",
            WW => "#1e8449",
            _ => "#7f8c8d",
        };
        s.push_str(&format!(
            "<line x1=\"{:.1}\" y1=\"{:.1}\" x2=\"{:.1}\" y2=\"{:.1}\" stroke=\"{color}\" stroke-width=\"2\" marker-end=\"url(#arrow)\"/>\n\
             <text x=\"{:.1}\" y=\"{:.1}\" fill=\"{color}\">{}</text>\n",
            x1 + ux * 30.0, y1 + uy * 30.0, x2 - ux * 30.0, y2 - uy * 30.0,
            (x1 + x2) / 2.0 + 6.0, (y1 + y2) / 2.0 - 6.0, crate::graph::rel_name(c.rels[i])
        ));
    }
    for (i, &t) in c.txns.iter().enumerate() {
        let (x, y) = pos[i];
        s.push_str(&format!(
            "<circle cx=\"{x:.1}\" cy=\"{y:.1}\" r=\"28\" fill=\"#fdfefe\" stroke=\"#34495e\"/>\n\
             <text x=\"{x:.1}\" y=\"{:.1}\" text-anchor=\"middle\">T{} (op {})</text>\n",
            y + 4.0,
            i + 1,
            ctx.index_of(t)
        ));
    }
    s.push_str("</svg>\n");
    s
}
