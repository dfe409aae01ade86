//! Informational series: unseen messages over time, and the realtime lag of polls behind the
//! tail of each log.

use crate::model::{Fun, Model};
use rift_history::OpType;
use rustc_hash::FxHashMap;

/// Points kept in a time series (downsampled).
const SERIES_POINTS: i64 = 1000;

/// Unseen messages: acknowledged sends (ok ops) no ok op has polled.
#[derive(Debug, Default)]
pub(crate) struct Unseen {
    /// Per key: how many are unseen at the end.
    pub by_key: Vec<u64>,
    /// Per key: the unseen values (vids), in vid order.
    pub messages: Vec<Vec<u32>>,
    /// (time_ns, total unseen), downsampled.
    pub series: Vec<(i64, u64)>,
    /// Time of the last ok op.
    pub time_ns: i64,
}

/// Computes unseen counts walking ok ops in history order.
pub(crate) fn unseen(m: &Model) -> Unseen {
    let nv = m.vals.len();
    let (mut sent, mut polled) = (vec![false; nv], vec![false; nv]);
    let mut u = Unseen {
        by_key: vec![0; m.keys.len()],
        ..Unseen::default()
    };
    let span = last_time(m).max(1);
    let step = (span / SERIES_POINTS).max(1);
    let mut total = 0u64;
    let mut last_point = i64::MIN;
    for (i, op) in m.ops.iter().enumerate() {
        if op.ty != OpType::Ok || !op.is_txn() {
            continue;
        }
        for w in m.writes_of(i as u32) {
            let v = w.vid as usize;
            if !sent[v] {
                sent[v] = true;
                if !polled[v] {
                    u.by_key[w.key as usize] += 1;
                    total += 1;
                }
            }
        }
        for r in m.reads_of(i as u32) {
            let v = r.vid as usize;
            if !polled[v] {
                polled[v] = true;
                if sent[v] {
                    u.by_key[r.key as usize] -= 1;
                    total -= 1;
                }
            }
        }
        let t = m.hop(i as u32).time.unwrap_or(0);
        u.time_ns = t;
        if last_point == i64::MIN || t - last_point >= step {
            u.series.push((t, total));
            last_point = t;
        } else if let Some(last) = u.series.last_mut() {
            last.1 = last.1.max(total);
        }
    }
    u.messages = vec![Vec::new(); m.keys.len()];
    for v in 0..nv {
        if sent[v] && !polled[v] {
            u.messages[m.vkey[v] as usize].push(v as u32);
        }
    }
    u
}

fn last_time(m: &Model) -> i64 {
    m.history
        .ops()
        .iter()
        .rev()
        .find_map(|o| o.time)
        .unwrap_or(0)
}

/// Realtime lag findings.
#[derive(Debug, Default)]
pub(crate) struct Lag {
    /// (lag_ns, time_ns, op, key) of the worst lag.
    pub worst: Option<(i64, i64, u32, u32)>,
    /// Per key: the largest lag seen (ns).
    pub max_by_key: Vec<i64>,
    /// (time_ns, the largest lag of one poll), downsampled.
    pub series: Vec<(i64, i64)>,
    /// Number of (poll, key) lag measurements.
    pub count: u64,
}

/// Largest offset the lag table tracks (larger ones are ignored).
const MAX_OFFSET: i64 = 1 << 27;

/// Per key, element `i` is the first time offset `i` was known to exist (so offset `i - 1`
/// was no longer the tail); `i64::MAX` when never known.
fn expired(m: &Model) -> Vec<Vec<i64>> {
    let mut exp: Vec<Vec<i64>> = vec![Vec::new(); m.keys.len()];
    for (i, op) in m.ops.iter().enumerate() {
        if !op.is_txn() || op.ty == OpType::Fail {
            continue;
        }
        let Some(t) = m.hop(i as u32).time else {
            continue;
        };
        for (k, off) in max_offsets(m, i as u32) {
            if !(0..MAX_OFFSET).contains(&off) {
                continue;
            }
            let e = &mut exp[k as usize];
            if e.len() <= off as usize {
                e.resize(off as usize + 1, i64::MAX);
            }
            let mut j = off;
            while j >= 0 && e[j as usize] == i64::MAX {
                e[j as usize] = t;
                j -= 1;
            }
        }
    }
    exp
}

/// The highest offset per key an op sent or polled.
fn max_offsets(m: &Model, i: u32) -> Vec<(u32, i64)> {
    let mut out: Vec<(u32, i64)> = Vec::new();
    for a in m.writes_of(i).iter().chain(m.reads_of(i)) {
        if a.offset < 0 {
            continue;
        }
        match out.iter_mut().find(|(k, _)| *k == a.key) {
            Some((_, o)) => *o = (*o).max(a.offset),
            None => out.push((a.key, a.offset)),
        }
    }
    out
}

/// Realtime lag of every ok poll/txn, per key the process is assigned (or has polled).
pub(crate) fn realtime_lag(m: &Model) -> Lag {
    let exp = expired(m);
    let mut lag = Lag {
        max_by_key: vec![0; m.keys.len()],
        ..Lag::default()
    };
    let step = (last_time(m).max(1) / SERIES_POINTS).max(1);
    let mut last_point = i64::MIN;
    let mut offsets: Vec<FxHashMap<u32, i64>> = vec![Default::default(); m.process_count as usize];
    for (i, op) in m.ops.iter().enumerate() {
        if op.ty != OpType::Ok {
            continue;
        }
        let i = i as u32;
        let po = &mut offsets[op.process as usize];
        match op.f {
            Fun::Assign => {
                let keys = m.keys_of(i);
                let fresh: FxHashMap<u32, i64> = keys
                    .iter()
                    .map(|k| (*k, po.get(k).copied().unwrap_or(-1)))
                    .collect();
                *po = fresh;
            }
            Fun::Subscribe => po.clear(),
            Fun::Poll | Fun::Txn => {
                for (k, o) in max_offsets(m, i) {
                    let e = po.entry(k).or_insert(-1);
                    *e = (*e).max(o);
                }
                let Some(t) = m.invoke_time(i) else { continue };
                let mut op_max = 0i64;
                for (&k, &o) in po.iter() {
                    let at = exp[k as usize]
                        .get((o + 1) as usize)
                        .copied()
                        .unwrap_or(i64::MAX);
                    let l = if at == i64::MAX { 0 } else { (t - at).max(0) };
                    lag.count += 1;
                    op_max = op_max.max(l);
                    lag.max_by_key[k as usize] = lag.max_by_key[k as usize].max(l);
                    if lag.worst.is_none_or(|w| l > w.0) {
                        lag.worst = Some((l, t, i, k));
                    }
                }
                if last_point == i64::MIN || t - last_point >= step {
                    lag.series.push((t, op_max));
                    last_point = t;
                } else if let Some(last) = lag.series.last_mut() {
                    last.1 = last.1.max(op_max);
                }
            }
            Fun::Send => {}
        }
    }
    lag
}
