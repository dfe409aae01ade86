//! The non-cyclic anomalies: aborted reads (G1a), precommitted reads, lost writes, skips and
//! nonmonotonic orders within one op and across one process's ops.

use crate::model::{by_key, Fun, Model, NONE};
use crate::orders::Orders;
use crate::Case;
use rift_history::OpType;
use rustc_hash::FxHashMap;

/// G1a: an ok op polled a value that some failed op sent.
pub(crate) fn g1a(m: &Model, out: &mut Vec<Case>) {
    for (i, op) in m.ops.iter().enumerate() {
        if op.ty != OpType::Ok || !op.is_txn() {
            continue;
        }
        for r in m.reads_of(i as u32) {
            if m.failed_write[r.vid as usize] {
                out.push(Case::G1a {
                    value: r.vid,
                    writer: m.writer[r.vid as usize],
                    reader: i as u32,
                });
            }
        }
    }
}

/// Precommitted reads: an op polled a value it sent itself (one case per op).
pub(crate) fn precommitted(m: &Model, out: &mut Vec<Case>) {
    for (i, op) in m.ops.iter().enumerate() {
        if op.f != Fun::Txn {
            continue;
        }
        let (ws, rs) = (m.writes_of(i as u32), m.reads_of(i as u32));
        if let Some(r) = rs.iter().find(|r| ws.iter().any(|w| w.vid == r.vid)) {
            out.push(Case::Precommitted {
                op: i as u32,
                value: r.vid,
            });
        }
    }
}

/// Lost writes: per key, every value whose last appearance in the log lies at or below the
/// highest first-index of any value an ok op polled, that no ok op polled, and whose writer
/// must have committed.
pub(crate) fn lost_writes(m: &Model, o: &Orders, out: &mut Vec<Case>) {
    // Per key: (bound index, the value that set it).
    let mut bound: Vec<(u32, u32)> = vec![(NONE, NONE); m.keys.len()];
    for v in 0..m.vals.len() {
        let fi = o.first_index[v];
        if m.ok_reader[v] == NONE || fi == NONE {
            continue;
        }
        let b = &mut bound[m.vkey[v] as usize];
        if b.0 == NONE || fi > b.0 {
            *b = (fi, v as u32);
        }
    }
    for (key, &(b, bv)) in bound.iter().enumerate() {
        if b == NONE {
            continue;
        }
        let kl = &o.keys[key];
        for (idx, &(_, s, e)) in kl.log.iter().enumerate().take(b as usize + 1) {
            for &v in &o.log_vals[s as usize..e as usize] {
                let vu = v as usize;
                if o.last_index[vu] != idx as u32 || m.ok_reader[vu] != NONE {
                    continue;
                }
                let w = m.writer[vu];
                if w == NONE || !m.ops[w as usize].committed {
                    continue;
                }
                out.push(Case::LostWrite {
                    value: v,
                    index: o.first_index[vu],
                    max_read_index: b,
                    writer: w,
                    max_read: m.ok_reader[bv as usize],
                });
            }
        }
    }
}

/// Skips and nonmonotonic pairs within single ops: consecutive polled values of a key
/// (int-poll-skip, int-nonmonotonic-poll; keys in the op's rebalance log are exempt), and
/// consecutive sends to a key (int-send-skip, int-nonmonotonic-send).
pub(crate) fn internal(m: &Model, o: &Orders, out: &mut Vec<Case>) {
    for (i, op) in m.ops.iter().enumerate() {
        if !op.is_txn() {
            continue;
        }
        let i = i as u32;
        for (k, rs) in by_key(m.reads_of(i)) {
            if op.rebalanced.contains(&k) {
                continue;
            }
            for p in rs.windows(2) {
                let delta = o.delta(p[0].vid, p[1].vid);
                if delta != 1 {
                    out.push(Case::IntPoll {
                        op: i,
                        v1: p[0].vid,
                        v2: p[1].vid,
                        delta,
                    });
                }
            }
        }
        for (_, ws) in by_key(m.writes_of(i)) {
            for p in ws.windows(2) {
                let delta = o.delta(p[0].vid, p[1].vid);
                if delta != 1 {
                    out.push(Case::IntSend {
                        op: i,
                        v1: p[0].vid,
                        v2: p[1].vid,
                        delta,
                    });
                }
            }
        }
    }
}

/// Per process: does each poll start right after where the process's last ok poll of that
/// key ended (poll-skip when it jumps ahead, nonmonotonic-poll when it goes back or repeats)?
/// Failed and info polls are checked but leave the position unchanged; assign/subscribe
/// (unless failed) forget keys no longer assigned. Sends: nonmonotonic-send when a process's
/// first send to a key in an ok/info op lands at or before its previous op's last send.
pub(crate) fn per_process(m: &Model, o: &Orders, out: &mut Vec<Case>) {
    // Per process: key -> (op, last value) for polls and for sends.
    let mut polls: Vec<FxHashMap<u32, (u32, u32)>> =
        vec![Default::default(); m.process_count as usize];
    let mut sends: Vec<FxHashMap<u32, (u32, u32)>> =
        vec![Default::default(); m.process_count as usize];
    for (i, op) in m.ops.iter().enumerate() {
        let i = i as u32;
        let p = op.process as usize;
        match op.f {
            Fun::Assign | Fun::Subscribe => {
                if op.ty != OpType::Fail {
                    let keys = m.keys_of(i);
                    polls[p].retain(|k, _| keys.contains(k));
                    sends[p].retain(|k, _| keys.contains(k));
                }
            }
            Fun::Poll | Fun::Txn | Fun::Send => {
                for (k, rs) in by_key(m.reads_of(i)) {
                    let first = rs[0].vid;
                    if let Some(&(last_op, v)) = polls[p].get(&k) {
                        let delta = o.delta(v, first);
                        if delta != 1 {
                            out.push(Case::Poll {
                                ops: [last_op, i],
                                v1: v,
                                v2: first,
                                delta,
                            });
                        }
                    }
                    if op.ty == OpType::Ok {
                        polls[p].insert(k, (i, rs[rs.len() - 1].vid));
                    }
                }
                if op.ty == OpType::Fail {
                    continue;
                }
                for (k, ws) in by_key(m.writes_of(i)) {
                    if let Some(&(last_op, v)) = sends[p].get(&k) {
                        let delta = o.delta(v, ws[0].vid);
                        if delta < 1 {
                            out.push(Case::Send {
                                ops: [last_op, i],
                                v1: v,
                                v2: ws[0].vid,
                                delta,
                            });
                        }
                    }
                    sends[p].insert(k, (i, ws[ws.len() - 1].vid));
                }
            }
        }
    }
}
