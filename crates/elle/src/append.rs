//! List-append analysis: version orders from the longest reads, the non-cyclic anomalies
//! (G1a, G1b, dirty update, duplicates, incompatible orders, internal, future reads, lost
//! updates, garbage reads) and the ww/wr/rw dependency edges.

use crate::graph::{Builder, RW, WR, WW};
use crate::report::Seen;
use crate::report::{Anomalies, Ctx};
use crate::txn::{Kind, Txn, Txns, VKey};
use crate::Error;
use rift_history::{OpType, Value};
use rustc_hash::FxHashMap;
use serde_json::json;

/// Where a version sits: the initial (empty) state or an element of the longest read.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Prev {
    /// The empty list.
    Init,
    /// The element at this position of the key's longest read.
    At(u32),
}

const NONE: u32 = u32::MAX;

/// The version order of every key and the indexes the edges and explanations need.
///
/// Everything is in compact integer form: each distinct (key, element) pair that was appended
/// or appears in a longest read is an *element id*; each key's longest read is a run of
/// element ids in `at`; readers are a CSR over (key, slot). Values are borrowed from the
/// history, never copied.
pub struct AppendIndex<'a> {
    /// Per key: the longest read (empty when the key was never read).
    longest: Vec<&'a [Value]>,
    /// (key, element) -> element id.
    elems: FxHashMap<(u32, VKey<'a>), u32>,
    /// Element id -> the txn that appended it (any type), or NONE.
    elem_txn: Vec<u32>,
    /// Element id -> the ok/info txn that appended it, or NONE.
    elem_writer: Vec<u32>,
    /// Element id -> appended by its txn before another append to the same key.
    elem_intermediate: Vec<bool>,
    /// Element id -> the type of the txn that appended it (`Invoke` for pending ones and
    /// for elements never appended).
    elem_ty: Vec<OpType>,
    /// Element id -> first position in its key's longest read, or NONE.
    elem_pos: Vec<u32>,
    /// Per key: offset of its longest read in `at` (length `keys + 1`).
    base: Vec<u32>,
    /// Element ids of every longest read, key after key.
    at: Vec<u32>,
    /// Per key: first position of the longest read that repeats an earlier element.
    first_dup: Vec<u32>,
    /// Per key: first position of the longest read holding a failed or garbage element.
    first_bad: Vec<u32>,
    /// Per global micro-op id: for a read of a possible txn that is a prefix of its key's
    /// longest read, its length; for an append, its element id; NONE otherwise.
    mop_aux: Vec<u32>,
    /// Readers CSR: offsets by slot id (`base[k] + k + slot`, slot 0 the empty list, i + 1
    /// element i), then reading txns in txn order.
    reader_off: Vec<u32>,
    reader_txn: Vec<u32>,
}

impl<'a> AppendIndex<'a> {
    fn elem(&self, k: u32, v: &Value) -> Option<u32> {
        self.elems.get(&(k, VKey::of(v))).copied()
    }

    /// The element id at position `p` of `k`'s longest read.
    fn at(&self, k: u32, p: u32) -> u32 {
        self.at[(self.base[k as usize] + p) as usize]
    }

    fn possible_writer(&self, e: u32) -> Option<u32> {
        let t = self.elem_writer[e as usize];
        (t != NONE).then_some(t)
    }

    /// The version an append of `v` to `k` overwrote.
    pub fn prev(&self, k: u32, v: &Value) -> Prev {
        self.prev_of(k, self.elem(k, v).unwrap_or(NONE))
    }

    /// The version an append of element id `e` (NONE: unknown) to `k` overwrote.
    fn prev_of(&self, k: u32, e: u32) -> Prev {
        let pos = if e == NONE {
            NONE
        } else {
            self.elem_pos[e as usize]
        };
        match pos {
            0 => Prev::Init,
            NONE => match self.longest[k as usize].len() {
                0 => Prev::Init,
                n => Prev::At(n as u32 - 1),
            },
            i => Prev::At(i - 1),
        }
    }

    /// The element at position `i` of `k`'s order.
    pub fn element(&self, k: u32, i: u32) -> Option<&'a Value> {
        self.longest[k as usize].get(i as usize)
    }

    /// Which ok/info txn appended `v` to `k`.
    pub fn writer(&self, k: u32, v: &Value) -> Option<u32> {
        self.elem(k, v).and_then(|e| self.possible_writer(e))
    }

    /// For a read micro-op (global id `gm`) of a possible txn: its length when it is a prefix
    /// of the key's longest read.
    fn prefix(&self, gm: u32) -> Option<u32> {
        let l = self.mop_aux[gm as usize];
        (l != NONE).then_some(l)
    }

    /// The readers slot a read ends at (0: empty, i + 1: first position of its last element),
    /// None when its last element is not in the longest read.
    fn slot(&self, k: u32, gm: u32, v: &[Value]) -> Option<u32> {
        let pos = match (self.prefix(gm), v.last()) {
            (_, None) => return Some(0),
            (Some(l), _) => self.elem_pos[self.at(k, l - 1) as usize],
            (None, Some(e)) => self.elem(k, e).map_or(NONE, |e| self.elem_pos[e as usize]),
        };
        (pos != NONE).then_some(pos + 1)
    }

    /// The txns whose read of `k` ended at `slot`.
    fn readers(&self, k: u32, slot: u32) -> &[u32] {
        let s = (self.base[k as usize] + k + slot) as usize;
        if s + 1 >= self.reader_off.len() || slot as usize > self.longest[k as usize].len() {
            return &[];
        }
        &self.reader_txn[self.reader_off[s] as usize..self.reader_off[s + 1] as usize]
    }
}

/// Equality of elements, with integers compared inline.
fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Int(x), Value::Int(y)) => x == y,
        _ => a == b,
    }
}

/// `v` is a prefix of `l`.
fn is_prefix(v: &[Value], l: &[Value]) -> bool {
    v.len() <= l.len()
        && (std::ptr::eq(v, &l[..v.len()]) || v.iter().zip(l).all(|(a, b)| same(a, b)))
}

/// Element ids for every appended value; errors on a value appended by two txns.
fn append_elems<'a>(txns: &Txns<'a>, idx: &mut AppendIndex<'a>) -> Result<(), Error> {
    for (i, t) in txns.txns.iter().enumerate() {
        let i = i as u32;
        for (m, mop) in t.mops.iter().enumerate() {
            if mop.kind != Kind::Append {
                continue;
            }
            let next = idx.elem_txn.len() as u32;
            let e = *idx.elems.entry((mop.key, mop.vkey())).or_insert(next);
            idx.mop_aux[(t.first_mop + m as u32) as usize] = e;
            if e == next {
                idx.elem_txn.push(i);
                idx.elem_writer.push(if t.possible() { i } else { NONE });
                idx.elem_intermediate.push(false);
                idx.elem_ty.push(t.ty);
            } else if idx.elem_txn[e as usize] != i {
                return Err(Error::DuplicateWrite {
                    key: txns.keys[mop.key as usize].to_string(),
                    value: mop.value.to_string(),
                });
            }
            let later = t.mops[m + 1..]
                .iter()
                .any(|x| x.kind == Kind::Append && x.key == mop.key);
            if later {
                idx.elem_intermediate[e as usize] = true;
            }
        }
    }
    Ok(())
}

/// Lays out each key's longest read as element ids, with its first-duplicate and first-bad
/// positions.
fn layout_longest<'a>(txns: &Txns<'a>, idx: &mut AppendIndex<'a>) {
    let nkeys = txns.keys.len();
    idx.base = Vec::with_capacity(nkeys + 1);
    idx.first_dup = vec![NONE; nkeys];
    idx.first_bad = vec![NONE; nkeys];
    idx.elem_pos = vec![NONE; idx.elem_txn.len()];
    for k in 0..nkeys {
        idx.base.push(idx.at.len() as u32);
        for (p, e) in idx.longest[k].iter().enumerate() {
            let next = idx.elem_txn.len() as u32;
            let id = *idx.elems.entry((k as u32, VKey::of(e))).or_insert(next);
            if id == next {
                idx.elem_txn.push(NONE);
                idx.elem_writer.push(NONE);
                idx.elem_intermediate.push(false);
                idx.elem_ty.push(OpType::Invoke);
                idx.elem_pos.push(NONE);
            }
            if idx.elem_pos[id as usize] == NONE {
                idx.elem_pos[id as usize] = p as u32;
            } else if idx.first_dup[k] == NONE {
                idx.first_dup[k] = p as u32;
            }
            let w = idx.elem_txn[id as usize];
            let bad = w == NONE || idx.elem_ty[id as usize] == OpType::Fail;
            if bad && idx.first_bad[k] == NONE {
                idx.first_bad[k] = p as u32;
            }
            idx.at.push(id);
        }
    }
    idx.base.push(idx.at.len() as u32);
}

/// Builds the index; errors on a value appended twice to one key.
pub fn index<'a>(txns: &Txns<'a>) -> Result<AppendIndex<'a>, Error> {
    let nkeys = txns.keys.len();
    let mut longest: Vec<&'a [Value]> = vec![&[]; nkeys];
    for t in txns.txns.iter().filter(|t| t.possible()) {
        for mop in t.mops.iter().filter(|m| m.kind == Kind::Read) {
            let v = mop.list();
            if v.len() > longest[mop.key as usize].len() {
                longest[mop.key as usize] = v;
            }
        }
    }
    let appends = txns
        .txns
        .iter()
        .flat_map(|t| &t.mops)
        .filter(|m| m.kind == Kind::Append)
        .count();
    let mut idx = AppendIndex {
        longest,
        elems: FxHashMap::with_capacity_and_hasher(appends + appends / 8, Default::default()),
        elem_txn: Vec::new(),
        elem_writer: Vec::new(),
        elem_intermediate: Vec::new(),
        elem_ty: Vec::new(),
        elem_pos: Vec::new(),
        base: Vec::new(),
        at: Vec::new(),
        first_dup: Vec::new(),
        first_bad: Vec::new(),
        mop_aux: vec![NONE; txns.mop_count],
        reader_off: Vec::new(),
        reader_txn: Vec::new(),
    };
    append_elems(txns, &mut idx)?;
    layout_longest(txns, &mut idx);
    // Prefixes, and (slot, reader) pairs.
    let mut pairs: Vec<(u32, u32)> = Vec::new();
    for (i, t) in txns.txns.iter().enumerate() {
        if !t.possible() {
            continue;
        }
        for (m, mop) in t.mops.iter().enumerate() {
            if mop.kind != Kind::Read {
                continue;
            }
            let gm = t.first_mop + m as u32;
            let v = mop.list();
            let l = idx.longest[mop.key as usize];
            if is_prefix(v, l) {
                idx.mop_aux[gm as usize] = v.len() as u32;
            }
            if t.ty == OpType::Info && mop.value.is_nil() {
                continue;
            }
            if let Some(slot) = idx.slot(mop.key, gm, v) {
                pairs.push((idx.base[mop.key as usize] + mop.key + slot, i as u32));
            }
        }
    }
    // Counting sort by slot id; stable, so readers stay in txn order.
    let nslots = idx.at.len() + nkeys;
    let mut off = vec![0u32; nslots + 1];
    for &(s, _) in &pairs {
        off[s as usize + 1] += 1;
    }
    for s in 0..nslots {
        off[s + 1] += off[s];
    }
    let mut cursor = off.clone();
    let mut readers = vec![0u32; pairs.len()];
    for &(s, t) in &pairs {
        readers[cursor[s as usize] as usize] = t;
        cursor[s as usize] += 1;
    }
    idx.reader_off = off;
    idx.reader_txn = readers;
    Ok(idx)
}

/// The ww, wr and rw edges.
pub fn edges(txns: &Txns, idx: &AppendIndex, b: &mut Builder) {
    for (i, t) in txns.txns.iter().enumerate() {
        if !t.possible() {
            continue;
        }
        let i = i as u32;
        for (m, mop) in t.mops.iter().enumerate() {
            match mop.kind {
                Kind::Read => {
                    let v = mop.list();
                    let w = match (idx.prefix(t.first_mop + m as u32), v.last()) {
                        (_, None) => None,
                        (Some(l), _) => idx.possible_writer(idx.at(mop.key, l - 1)),
                        (None, Some(last)) => idx.writer(mop.key, last),
                    };
                    if let Some(w) = w {
                        b.link(w, i, WR);
                    }
                }
                Kind::Append => {
                    let e = idx.mop_aux[(t.first_mop + m as u32) as usize];
                    let slot = match idx.prev_of(mop.key, e) {
                        Prev::Init => 0,
                        Prev::At(p) => {
                            if let Some(w) = idx.possible_writer(idx.at(mop.key, p)) {
                                b.link(w, i, WW);
                            }
                            p + 1
                        }
                    };
                    for &r in idx.readers(mop.key, slot) {
                        b.link(r, i, RW);
                    }
                }
                Kind::Write => {}
            }
        }
    }
}

/// Finds the non-cyclic anomalies.
pub fn anomalies<'a>(ctx: &Ctx<'a>, idx: &AppendIndex, out: &mut Anomalies) {
    let txns = ctx.txns;
    for (i, t) in txns.txns.iter().enumerate() {
        if t.ty == OpType::Ok {
            ok_txn_cases(ctx, idx, i as u32, out);
        }
        if t.possible() {
            for (m, mop) in t.mops.iter().enumerate() {
                if mop.kind == Kind::Read {
                    let p = idx.prefix(t.first_mop + m as u32);
                    if p.is_none_or(|l| l > idx.first_dup[mop.key as usize]) {
                        duplicates(ctx, i as u32, m, out);
                    }
                }
            }
        }
    }
    incompatible_orders(ctx, idx, out);
    dirty_updates(ctx, idx, out);
    let seen = |t: &Txn<'a>, m: usize| -> Seen<'a> {
        let v = t.mops[m].value;
        match (v, idx.prefix(t.first_mop + m as u32)) {
            (Value::Vector(_), Some(l)) => Seen::Prefix(l, false),
            (Value::List(_), Some(l)) => Seen::Prefix(l, true),
            _ => Seen::Value(v),
        }
    };
    crate::report::lost_updates(ctx, Kind::Append, seen, out);
}

/// G1a and garbage reads for element `e` (element id `id`, when known) of a read.
fn bad_element(
    ctx: &Ctx,
    idx: &AppendIndex,
    i: u32,
    m: usize,
    e: &Value,
    id: Option<u32>,
    out: &mut Anomalies,
) {
    let w = id.map_or(NONE, |id| idx.elem_txn[id as usize]);
    if w == NONE {
        out.add(
            "garbage-read",
            json!({"op": ctx.op_json(i), "mop": ctx.mop_json(i, m),
                   "element": ctx.value_json(e)}),
        );
    } else if ctx.txns.txns[w as usize].ty == OpType::Fail {
        out.add(
            "G1a",
            json!({"op": ctx.op_json(i), "mop": ctx.mop_json(i, m),
                   "writer": ctx.op_json(w), "element": ctx.value_json(e)}),
        );
    }
}

fn ok_txn_cases(ctx: &Ctx, idx: &AppendIndex, i: u32, out: &mut Anomalies) {
    let t = &ctx.txns.txns[i as usize];
    for (m, mop) in t.mops.iter().enumerate() {
        if mop.kind != Kind::Read {
            continue;
        }
        let k = mop.key;
        let list = mop.list();
        let prefix = idx.prefix(t.first_mop + m as u32);
        match prefix {
            // A prefix of the longest read: its elements are the longest read's.
            Some(l) => {
                for p in idx.first_bad[k as usize].min(l)..l {
                    bad_element(ctx, idx, i, m, &list[p as usize], Some(idx.at(k, p)), out);
                }
            }
            None => {
                for e in list {
                    bad_element(ctx, idx, i, m, e, idx.elem(k, e), out);
                }
            }
        }
        let Some(e) = list.last() else { continue };
        let id = match prefix {
            Some(l) => Some(idx.at(k, l - 1)),
            None => idx.elem(k, e),
        };
        let Some(id) = id else { continue };
        let w = idx.elem_txn[id as usize];
        if idx.elem_intermediate[id as usize] && w != i {
            out.add(
                "G1b",
                json!({"op": ctx.op_json(i), "mop": ctx.mop_json(i, m),
                       "writer": ctx.op_json(w), "element": ctx.value_json(e)}),
            );
        }
    }
    // Both need a key touched twice by the txn.
    let repeats = (1..t.mops.len()).any(|j| t.mops[..j].iter().any(|y| y.key == t.mops[j].key));
    if repeats {
        internal_case(ctx, i, out);
        future_read_case(ctx, i, out);
    }
}

/// What a txn knows of a key: the last list it read (if any) plus what it appended since.
struct KeyState<'a> {
    key: u32,
    known: bool,
    base: &'a [Value],
    appended: Vec<&'a Value>,
}

impl KeyState<'_> {
    fn matches(&self, v: &[Value]) -> bool {
        let (b, a) = (self.base.len(), self.appended.len());
        let tail_ok = |tail: &[Value]| tail.iter().zip(&self.appended).all(|(x, y)| x == *y);
        if self.known {
            v.len() == b + a && v[..b] == *self.base && tail_ok(&v[b..])
        } else {
            v.len() >= a && tail_ok(&v[v.len() - a..])
        }
    }

    fn expected(&self, ctx: &Ctx) -> serde_json::Value {
        let mut e = if self.known {
            Vec::new()
        } else {
            vec![json!("...")]
        };
        e.extend(
            self.base
                .iter()
                .chain(self.appended.iter().copied())
                .map(|x| ctx.value_json(x)),
        );
        serde_json::Value::Array(e)
    }
}

/// Elle's INT for lists: a read must equal what the txn last read plus what it appended
/// since (or end with what it appended, when it never read the key).
fn internal_case(ctx: &Ctx, i: u32, out: &mut Anomalies) {
    let t = &ctx.txns.txns[i as usize];
    let mut state: Vec<KeyState> = Vec::new();
    for (m, mop) in t.mops.iter().enumerate() {
        let at = state.iter().position(|s| s.key == mop.key);
        match mop.kind {
            Kind::Append => match at {
                Some(j) => state[j].appended.push(mop.value),
                None => state.push(KeyState {
                    key: mop.key,
                    known: false,
                    base: &[],
                    appended: vec![mop.value],
                }),
            },
            Kind::Read => {
                let v = mop.list();
                if let Some(j) = at {
                    if !state[j].matches(v) {
                        out.add(
                            "internal",
                            json!({"op": ctx.op_json(i), "mop": ctx.mop_json(i, m),
                                   "expected": state[j].expected(ctx)}),
                        );
                        return;
                    }
                }
                let fresh = KeyState {
                    key: mop.key,
                    known: true,
                    base: v,
                    appended: Vec::new(),
                };
                match at {
                    Some(j) => state[j] = fresh,
                    None => state.push(fresh),
                }
            }
            Kind::Write => {}
        }
    }
}

fn future_read_case(ctx: &Ctx, i: u32, out: &mut Anomalies) {
    let t = &ctx.txns.txns[i as usize];
    for (j, mop) in t.mops.iter().enumerate() {
        if mop.kind != Kind::Append {
            continue;
        }
        // The earliest earlier read of the key that holds the appended element.
        let rm = t.mops[..j]
            .iter()
            .position(|r| r.kind == Kind::Read && r.key == mop.key && r.list().contains(mop.value));
        if let Some(rm) = rm {
            out.add(
                "future-read",
                json!({"op": ctx.op_json(i), "mop": ctx.mop_json(i, rm),
                       "element": ctx.value_json(mop.value)}),
            );
            return;
        }
    }
}

fn duplicates(ctx: &Ctx, i: u32, m: usize, out: &mut Anomalies) {
    let v = ctx.txns.txns[i as usize].mops[m].list();
    let mut counts: FxHashMap<&Value, u32> = FxHashMap::default();
    for e in v {
        *counts.entry(e).or_default() += 1;
    }
    let mut dups: Vec<(&Value, u32)> = counts.into_iter().filter(|(_, c)| *c > 1).collect();
    if dups.is_empty() {
        return;
    }
    dups.sort();
    let d: serde_json::Map<String, serde_json::Value> = dups
        .iter()
        .map(|(e, c)| (rift_checker::util::key_text(e), json!(c)))
        .collect();
    out.add(
        "duplicate-elements",
        json!({"op": ctx.op_json(i), "mop": ctx.mop_json(i, m), "duplicates": d}),
    );
}

fn incompatible_orders(ctx: &Ctx, idx: &AppendIndex, out: &mut Anomalies) {
    let txns = ctx.txns;
    let mut bad: Vec<Option<(u32, usize)>> = vec![None; txns.keys.len()];
    for (i, t) in txns.txns.iter().enumerate() {
        if !t.possible() {
            continue;
        }
        for (m, mop) in t.mops.iter().enumerate() {
            if mop.kind != Kind::Read || bad[mop.key as usize].is_some() {
                continue;
            }
            if idx.prefix(t.first_mop + m as u32).is_none() {
                bad[mop.key as usize] = Some((i as u32, m));
            }
        }
    }
    for (k, b) in bad.iter().enumerate() {
        if let Some((i, m)) = *b {
            let v = txns.txns[i as usize].mops[m].value;
            let l: Vec<serde_json::Value> =
                idx.longest[k].iter().map(|x| ctx.value_json(x)).collect();
            out.add(
                "incompatible-order",
                json!({"key": ctx.value_json(txns.keys[k]), "values": [ctx.value_json(v), l]}),
            );
        }
    }
}

fn dirty_updates(ctx: &Ctx, idx: &AppendIndex, out: &mut Anomalies) {
    let txns = ctx.txns;
    for k in 0..txns.keys.len() as u32 {
        let mut t1: Option<u32> = None; // None: the initial ok state
        let mut vs: Vec<&Value> = Vec::new();
        for (p, v) in idx.longest[k as usize].iter().enumerate() {
            let e = idx.at(k, p as u32);
            if idx.elem_ty[e as usize] == OpType::Invoke {
                continue;
            }
            let t2 = idx.elem_txn[e as usize];
            vs.push(v);
            let ty = |t: Option<u32>| t.map_or(OpType::Ok, |t| txns.txns[t as usize].ty);
            match (ty(t1), idx.elem_ty[e as usize]) {
                (OpType::Fail, OpType::Ok) => {
                    let values: Vec<serde_json::Value> =
                        vs.iter().map(|x| ctx.value_json(x)).collect();
                    out.add(
                        "dirty-update",
                        json!({"key": ctx.value_json(txns.keys[k as usize]), "values": values,
                               "txns": [ctx.op_json(t1.unwrap_or(t2)), "...", ctx.op_json(t2)]}),
                    );
                    t1 = Some(t2);
                    vs = vec![v];
                }
                (_, OpType::Ok) | (OpType::Ok | OpType::Info, OpType::Fail) => {
                    t1 = Some(t2);
                    vs = vec![v];
                }
                _ => {}
            }
        }
    }
}
