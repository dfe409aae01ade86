//! Runs the analyses (in parallel where independent) and assembles the Jepsen-shaped result.

use crate::cycles;
use crate::lag::{self, Lag, Unseen};
use crate::model::{Fun, Model, NONE};
use crate::orders::Orders;
use crate::{anomalies, plot, Case, Error, KafkaOptions, ALWAYS_ALLOWED};
use rift_checker::util::{key_text, op_json, value_json};
use rift_checker::{CheckContext, CheckResult, Validity};
use rift_history::{History, OpType};
use serde_json::{json, Map, Value as Json};
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// Most skipped values listed in one error (unless keep_all).
const MAX_SKIPPED: usize = 32;

/// Everything computed for one history.
struct Found {
    by_type: BTreeMap<String, Vec<Case>>,
    unseen: Unseen,
    lag: Lag,
    timeouts: Vec<Json>,
}

pub(crate) fn analyze(
    h: &History,
    opts: &KafkaOptions,
    dir: Option<&Path>,
) -> Result<CheckResult, Error> {
    let m = Model::new(h)?;
    let mut cases = Vec::new();
    let o = Orders::new(&m, &mut cases);
    let (m, o) = (&m, &o);
    let (more, (graph_cases, timeouts, empty), unseen, lag) = std::thread::scope(|s| {
        let a = s.spawn(move || {
            let mut v = Vec::new();
            anomalies::g1a(m, &mut v);
            anomalies::precommitted(m, &mut v);
            anomalies::lost_writes(m, o, &mut v);
            anomalies::internal(m, o, &mut v);
            anomalies::per_process(m, o, &mut v);
            v
        });
        let b = s.spawn(move || {
            let tg = cycles::build(m, o, opts.ww_deps);
            let mut v = Vec::new();
            let t = cycles::find(&tg, opts, &mut v);
            (v, t, tg.graph.edge_count() == 0)
        });
        let unseen = lag::unseen(m);
        let lag = lag::realtime_lag(m);
        let more = a.join().unwrap_or_default();
        let g = b.join().unwrap_or_default();
        (more, g, unseen, lag)
    });
    cases.extend(more);
    cases.extend(graph_cases);
    let mut by_type: BTreeMap<String, Vec<Case>> = BTreeMap::new();
    for c in cases {
        by_type.entry(c.ty().to_string()).or_default().push(c);
    }
    if empty {
        by_type.entry("empty-transaction-graph".into()).or_default();
    }
    let f = Found {
        by_type,
        unseen,
        lag,
        timeouts,
    };
    let mut r = result(m, o, opts, &f);
    if let Some(dir) = dir {
        let errs = write_files(m, o, opts, &f, &CheckContext::in_dir(dir).subdir("kafka"));
        if !errs.is_empty() {
            r = r.with("file-errors", errs);
        }
    }
    Ok(r)
}

fn result(m: &Model, o: &Orders, opts: &KafkaOptions, f: &Found) -> CheckResult {
    let mut types: BTreeSet<String> = f.by_type.keys().cloned().collect();
    let unseen_total: u64 = f.unseen.by_key.iter().sum();
    if unseen_total > 0 {
        types.insert("unseen".into());
    }
    if !f.timeouts.is_empty() {
        types.insert("cycle-search-timeout".into());
    }
    let subscribe = opts
        .subscribe
        .unwrap_or_else(|| m.ops.iter().any(|op| op.f == Fun::Subscribe));
    let mut allowed: BTreeSet<String> = ALWAYS_ALLOWED.iter().map(|s| s.to_string()).collect();
    if subscribe {
        allowed.extend(["poll-skip", "nonmonotonic-poll"].map(String::from));
    }
    if opts.ww_deps {
        allowed.extend(["G1c", "G1c-process", "G1c-realtime"].map(String::from));
    }
    allowed.extend(opts.ignore.iter().cloned());
    allowed.insert("cycle-search-timeout".into());
    let bad: Vec<&String> = types.iter().filter(|t| !allowed.contains(*t)).collect();
    let valid = if !bad.is_empty() {
        Validity::False
    } else if !f.timeouts.is_empty() {
        Validity::Unknown
    } else {
        Validity::True
    };
    let mut r = CheckResult::with_validity(valid);
    r.add_anomalies(types.iter().cloned());
    let d = &mut r.details;
    d.insert("error-types".into(), json!(types));
    d.insert("bad-error-types".into(), json!(bad));
    for (ty, cases) in &f.by_type {
        d.insert(ty.clone(), type_json(m, o, opts, ty, cases));
    }
    if !f.timeouts.is_empty() {
        let t = json!({"count": f.timeouts.len(), "errors": f.timeouts});
        d.insert("cycle-search-timeout".into(), t);
    }
    d.insert("unseen".into(), unseen_json(m, opts, &f.unseen));
    let (worst, lag) = lag_json(m, &f.lag);
    d.insert("worst-realtime-lag".into(), worst);
    d.insert("lag".into(), lag);
    d.insert("info-txn-causes".into(), info_causes(m));
    d.insert(
        "stats".into(),
        json!({"op-count": m.ops.len(), "key-count": m.keys.len(),
               "value-count": m.vals.len(), "send-count": m.writes.len(),
               "poll-count": m.reads.len()}),
    );
    r
}

fn type_json(m: &Model, o: &Orders, opts: &KafkaOptions, ty: &str, cases: &[Case]) -> Json {
    let mut order: Vec<usize> = (0..cases.len()).collect();
    order.sort_by_key(|&i| std::cmp::Reverse(cases[i].weight()));
    if !opts.keep_all {
        order.truncate(opts.sample_size);
    }
    let errors: Vec<Json> = order
        .iter()
        .map(|&i| case_json(m, o, &cases[i], opts.keep_all))
        .collect();
    let mut j = json!({"count": cases.len(), "errors": errors});
    if ty == "duplicate" {
        let real = cases
            .iter()
            .filter(|c| match c {
                Case::Duplicate { offsets, .. } => offsets.iter().filter(|&&x| x > 0).count() > 1,
                _ => false,
            })
            .count();
        j["at-nonzero-offsets-count"] = real.into();
        j["only-offset-0?"] = (real == 0).into();
    }
    if ty == "empty-transaction-graph" {
        j = json!({"count": 1, "errors": [true]});
    }
    j
}

fn vj(m: &Model, vid: u32) -> Json {
    value_json(&m.vals[vid as usize])
}

fn kj(m: &Model, vid: u32) -> Json {
    value_json(&m.keys[m.vkey[vid as usize] as usize])
}

fn oj(m: &Model, op: u32) -> Json {
    if op == NONE {
        Json::Null
    } else {
        op_json(m.hop(op))
    }
}

fn pair_json(
    m: &Model,
    o: &Orders,
    v1: u32,
    v2: u32,
    delta: i64,
    keep_all: bool,
) -> Map<String, Json> {
    let mut j = Map::new();
    j.insert("key".into(), kj(m, v1));
    j.insert("values".into(), json!([vj(m, v1), vj(m, v2)]));
    j.insert("delta".into(), delta.into());
    if delta > 1 {
        let sk = o.between(m.vkey[v1 as usize], v1, v2);
        let n = if keep_all {
            sk.len()
        } else {
            sk.len().min(MAX_SKIPPED)
        };
        let list: Vec<Json> = sk[..n].iter().map(|&v| vj(m, v)).collect();
        j.insert("skipped".into(), list.into());
        j.insert("skipped-count".into(), sk.len().into());
    }
    j
}

fn case_json(m: &Model, o: &Orders, c: &Case, keep_all: bool) -> Json {
    match c {
        Case::Inconsistent {
            key,
            offset,
            index,
            values,
        } => {
            let mut vs: Vec<&rift_history::Value> =
                values.iter().map(|&v| &m.vals[v as usize]).collect();
            vs.sort();
            json!({"key": value_json(&m.keys[*key as usize]), "offset": offset, "index": index,
                   "values": vs.into_iter().map(value_json).collect::<Vec<_>>()})
        }
        Case::Duplicate {
            key,
            value,
            offsets,
        } => json!({
            "key": value_json(&m.keys[*key as usize]), "value": vj(m, *value),
            "count": offsets.len(), "offsets": offsets}),
        Case::G1a {
            value,
            writer,
            reader,
        } => json!({"key": kj(m, *value), "value": vj(m, *value), "writer": oj(m, *writer),
                    "reader": oj(m, *reader)}),
        Case::Precommitted { op, value } => {
            json!({"key": kj(m, *value), "value": vj(m, *value), "op": oj(m, *op)})
        }
        Case::LostWrite {
            value,
            index,
            max_read_index,
            writer,
            max_read,
        } => json!({"key": kj(m, *value), "value": vj(m, *value), "index": index,
                    "max-read-index": max_read_index, "writer": oj(m, *writer),
                    "max-read": oj(m, *max_read)}),
        Case::IntPoll { op, v1, v2, delta } | Case::IntSend { op, v1, v2, delta } => {
            let mut j = pair_json(m, o, *v1, *v2, *delta, keep_all);
            j.insert("op".into(), oj(m, *op));
            Json::Object(j)
        }
        Case::Poll { ops, v1, v2, delta } | Case::Send { ops, v1, v2, delta } => {
            let mut j = pair_json(m, o, *v1, *v2, *delta, keep_all);
            j.insert("ops".into(), json!([oj(m, ops[0]), oj(m, ops[1])]));
            Json::Object(j)
        }
        Case::Cycle(c) => cycles::cycle_json(m, o, c),
    }
}

fn unseen_json(m: &Model, opts: &KafkaOptions, u: &Unseen) -> Json {
    let mut counts = Map::new();
    let mut messages = Map::new();
    for (k, &n) in u.by_key.iter().enumerate() {
        if n == 0 {
            continue;
        }
        let kt = key_text(&m.keys[k]);
        counts.insert(kt.clone(), n.into());
        let mut vs: Vec<&rift_history::Value> =
            u.messages[k].iter().map(|&v| &m.vals[v as usize]).collect();
        vs.sort();
        if !opts.keep_all {
            vs.truncate(32);
        }
        messages.insert(
            kt,
            vs.into_iter().map(value_json).collect::<Vec<_>>().into(),
        );
    }
    let every = u.series.len().div_ceil(100).max(1);
    let series: Vec<Json> = u
        .series
        .iter()
        .step_by(every)
        .map(|&(t, n)| json!([t as f64 / 1e9, n]))
        .collect();
    json!({"count": u.by_key.iter().sum::<u64>(), "time": u.time_ns as f64 / 1e9,
           "unseen": counts, "messages": messages, "series": series})
}

fn lag_json(m: &Model, l: &Lag) -> (Json, Json) {
    let s = |ns: i64| ns as f64 / 1e9;
    let worst = match l.worst {
        Some((lag, t, op, k)) => {
            json!({"time": s(t), "process": value_json(&m.hop(op).process.to_value()),
                                        "key": value_json(&m.keys[k as usize]), "lag": s(lag)})
        }
        None => json!({"time": 0, "lag": 0}),
    };
    let by_key: Map<String, Json> = l
        .max_by_key
        .iter()
        .enumerate()
        .filter(|(_, &x)| x > 0)
        .map(|(k, &x)| (key_text(&m.keys[k]), s(x).into()))
        .collect();
    let lag = json!({"worst": worst.clone(), "max-by-key": by_key, "measurements": l.count});
    (worst, lag)
}

fn info_causes(m: &Model) -> Json {
    let mut seen: Vec<Json> = Vec::new();
    for (i, op) in m.ops.iter().enumerate() {
        if op.ty != OpType::Info || !op.is_txn() || op.inv == op.pos {
            continue;
        }
        let e = m
            .hop(i as u32)
            .error
            .as_ref()
            .map_or(Json::Null, value_json);
        if !seen.contains(&e) {
            seen.push(e);
        }
    }
    Json::Array(seen)
}

fn write_files(
    m: &Model,
    o: &Orders,
    opts: &KafkaOptions,
    f: &Found,
    ctx: &CheckContext,
) -> Vec<String> {
    let mut errs = Vec::new();
    let mut keys: Vec<u32> = Vec::new();
    for ty in ["inconsistent-offsets", "duplicate", "lost-write"] {
        for c in f.by_type.get(ty).map_or(&[][..], Vec::as_slice) {
            let k = match c {
                Case::Inconsistent { key, .. } | Case::Duplicate { key, .. } => *key,
                Case::LostWrite { value, .. } => m.vkey[*value as usize],
                _ => continue,
            };
            if !keys.contains(&k) {
                keys.push(k);
            }
        }
    }
    for (k, &n) in f.unseen.by_key.iter().enumerate() {
        if n > 0 && !keys.contains(&(k as u32)) {
            keys.push(k as u32);
        }
    }
    keys.truncate(opts.plot_keys);
    let orders = ctx.subdir("orders");
    for k in keys {
        let key = &m.keys[k as usize];
        let name = match key.as_i64() {
            Some(i) => format!("{i:03}.svg"),
            None => format!("{}.svg", key_text(key).replace('/', "_")),
        };
        let svg = plot::key_order_svg(m, o, k);
        if let Err(e) = orders.write_file(&name, svg.as_bytes()) {
            errs.push(e.to_string());
        }
    }
    let unseen: Vec<(i64, f64)> = f
        .unseen
        .series
        .iter()
        .map(|&(t, n)| (t, n as f64))
        .collect();
    let lag: Vec<(i64, f64)> = f
        .lag
        .series
        .iter()
        .map(|&(t, l)| (t, l as f64 / 1e9))
        .collect();
    for (name, svg) in [
        (
            "unseen.svg",
            plot::series_svg("Unseen messages", "messages", &unseen),
        ),
        (
            "realtime-lag.svg",
            plot::series_svg("Realtime lag", "lag (s)", &lag),
        ),
    ] {
        if let Err(e) = ctx.write_file(name, svg.as_bytes()) {
            errs.push(e.to_string());
        }
    }
    errs
}
