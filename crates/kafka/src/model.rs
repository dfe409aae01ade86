//! The history, parsed once: client ops of the queue workload with their sends and polls
//! flattened into arrays of interned (key, value, offset) accesses.

use crate::Error;
use rift_history::{History, OpType, Process, Value};
use rustc_hash::FxHashMap;

/// "No such id".
pub(crate) const NONE: u32 = u32::MAX;

/// The functions the checker understands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Fun {
    Send,
    Poll,
    Txn,
    Assign,
    Subscribe,
}

/// One send or one polled record: interned key and value (`vid`, unique per key), the offset
/// (-1 when unknown) and the index of the micro-op it came from.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Access {
    pub key: u32,
    pub vid: u32,
    pub offset: i64,
    pub mop: u32,
}

/// One completed (or pending) client op of the workload.
#[derive(Clone, Debug)]
pub(crate) struct KOp {
    /// Position of the completion in the history (of the invocation when pending).
    pub pos: u32,
    /// Position of the invocation, or NONE.
    pub inv: u32,
    /// ok, info or fail; pending invocations count as info.
    pub ty: OpType,
    pub f: Fun,
    pub process: u32,
    /// Range into [`Model::writes`].
    pub writes: (u32, u32),
    /// Range into [`Model::reads`].
    pub reads: (u32, u32),
    /// Range into [`Model::keylists`] (assign/subscribe keys).
    pub keys: (u32, u32),
    /// Keys named by the op's `:rebalance-log`.
    pub rebalanced: Vec<u32>,
    /// Ok, or info with one of its sends read by an ok op (set by [`Model::new`]).
    pub committed: bool,
}

impl KOp {
    /// True for sends, polls and txns.
    pub fn is_txn(&self) -> bool {
        matches!(self.f, Fun::Send | Fun::Poll | Fun::Txn)
    }
}

/// The parsed history.
pub(crate) struct Model<'h> {
    pub history: &'h History,
    pub ops: Vec<KOp>,
    pub writes: Vec<Access>,
    pub reads: Vec<Access>,
    pub keylists: Vec<u32>,
    pub keys: Vec<Value>,
    key_ids: FxHashMap<Value, u32>,
    /// Per vid: the value and its key.
    pub vals: Vec<Value>,
    pub vkey: Vec<u32>,
    vid_of: FxHashMap<(u32, Value), u32>,
    pub process_count: u32,
    /// Per vid: the last op (index into `ops`) that sent it, any type (Jepsen's writer-of).
    pub writer: Vec<u32>,
    /// Per vid: some failed op sent it.
    pub failed_write: Vec<bool>,
    /// Per vid: the first ok op that polled it, or NONE.
    pub ok_reader: Vec<u32>,
}

fn bad(op: &rift_history::Op, detail: impl Into<String>) -> Error {
    Error::BadOp {
        index: op.index,
        detail: detail.into(),
    }
}

impl<'h> Model<'h> {
    /// Parses every client op of the history.
    pub fn new(history: &'h History) -> Result<Model<'h>, Error> {
        let mut m = Model {
            history,
            ops: Vec::new(),
            writes: Vec::new(),
            reads: Vec::new(),
            keylists: Vec::new(),
            keys: Vec::new(),
            key_ids: FxHashMap::default(),
            vals: Vec::new(),
            vkey: Vec::new(),
            vid_of: FxHashMap::default(),
            process_count: 0,
            writer: Vec::new(),
            failed_write: Vec::new(),
            ok_reader: Vec::new(),
        };
        let mut procs: FxHashMap<&Process, u32> = FxHashMap::default();
        for (pos, op) in history.ops().iter().enumerate() {
            if op.process == Process::Nemesis {
                continue;
            }
            let f = match op.f.as_name() {
                Some("send") => Fun::Send,
                Some("poll") => Fun::Poll,
                Some("txn") => Fun::Txn,
                Some("assign") => Fun::Assign,
                Some("subscribe") => Fun::Subscribe,
                _ => continue,
            };
            let (ty, inv) = match op.ty {
                OpType::Invoke => match history.pair_of(pos) {
                    Some(_) => continue,
                    None => (OpType::Info, pos as u32),
                },
                t => (t, history.pair_of(pos).map_or(NONE, |p| p as u32)),
            };
            let next = procs.len() as u32;
            let process = *procs.entry(&op.process).or_insert(next);
            let (w0, r0, k0) = (
                m.writes.len() as u32,
                m.reads.len() as u32,
                m.keylists.len() as u32,
            );
            let rebalanced = m.parse_value(op, f)?;
            m.ops.push(KOp {
                pos: pos as u32,
                inv,
                ty,
                f,
                process,
                writes: (w0, m.writes.len() as u32),
                reads: (r0, m.reads.len() as u32),
                keys: (k0, m.keylists.len() as u32),
                rebalanced,
                committed: ty == OpType::Ok,
            });
        }
        m.process_count = procs.len() as u32;
        m.index_writers();
        Ok(m)
    }

    /// Parses an op's value: keys of assign/subscribe, micro-ops otherwise. Returns the keys
    /// of the op's `:rebalance-log`.
    fn parse_value(&mut self, op: &rift_history::Op, f: Fun) -> Result<Vec<u32>, Error> {
        let mut rebalanced = Vec::new();
        if matches!(f, Fun::Assign | Fun::Subscribe) {
            for k in op.value.as_seq().unwrap_or(&[]) {
                let k = self.key(k);
                self.keylists.push(k);
            }
            return Ok(rebalanced);
        }
        self.parse_mops(op)?;
        if let Some(log) = op.get_extra("rebalance-log").and_then(Value::as_seq) {
            for ev in log {
                for k in ev.get("keys").and_then(Value::as_seq).unwrap_or(&[]) {
                    rebalanced.push(self.key(k));
                }
            }
        }
        Ok(rebalanced)
    }

    fn key(&mut self, k: &Value) -> u32 {
        if let Some(&id) = self.key_ids.get(k) {
            return id;
        }
        let id = self.keys.len() as u32;
        self.keys.push(k.clone());
        self.key_ids.insert(k.clone(), id);
        id
    }

    fn vid(&mut self, key: u32, v: &Value) -> u32 {
        // Look up by a borrowed pair without cloning in the common case.
        if let Some(&id) = self.vid_of.get(&(key, v.clone())) {
            return id;
        }
        let id = self.vals.len() as u32;
        self.vals.push(v.clone());
        self.vkey.push(key);
        self.vid_of.insert((key, v.clone()), id);
        id
    }

    fn parse_mops(&mut self, op: &rift_history::Op) -> Result<(), Error> {
        let Some(mops) = op.value.as_seq() else {
            if op.value.is_nil() {
                return Ok(());
            }
            return Err(bad(
                op,
                format!("value {} is not a list of micro-ops", op.value),
            ));
        };
        for (mi, mop) in mops.iter().enumerate() {
            let parts = mop
                .as_seq()
                .ok_or_else(|| bad(op, format!("micro-op {mop} is not a vector")))?;
            match parts.first().and_then(Value::as_name) {
                Some("send") => {
                    let (Some(k), Some(v)) = (parts.get(1), parts.get(2)) else {
                        return Err(bad(op, format!("send {mop} needs a key and a value")));
                    };
                    let (offset, v) = match v {
                        Value::Vector(pair) if pair.len() == 2 => {
                            (pair[0].as_i64().unwrap_or(-1), &pair[1])
                        }
                        v => (-1, v),
                    };
                    let key = self.key(k);
                    let vid = self.vid(key, v);
                    self.writes.push(Access {
                        key,
                        vid,
                        offset,
                        mop: mi as u32,
                    });
                }
                Some("poll") => {
                    let Some(res) = parts.get(1) else { continue };
                    if res.is_nil() {
                        continue;
                    }
                    let entries = res
                        .as_map()
                        .ok_or_else(|| bad(op, format!("poll result {res} is not a map")))?;
                    for (k, pairs) in entries {
                        let key = self.key(k);
                        for pair in pairs.as_seq().unwrap_or(&[]) {
                            let (offset, v) = match pair.as_seq() {
                                Some([o, v]) => (o.as_i64().unwrap_or(-1), v),
                                _ => {
                                    return Err(bad(
                                        op,
                                        format!("polled {pair} is not [offset value]"),
                                    ))
                                }
                            };
                            let vid = self.vid(key, v);
                            self.reads.push(Access {
                                key,
                                vid,
                                offset,
                                mop: mi as u32,
                            });
                        }
                    }
                }
                _ => return Err(bad(op, format!("unknown micro-op {mop}"))),
            }
        }
        Ok(())
    }

    /// Writer of each value, failed writes, first ok reader, and which info ops must have
    /// committed (one of their sends was polled by an ok op).
    fn index_writers(&mut self) {
        let n = self.vals.len();
        self.writer = vec![NONE; n];
        self.failed_write = vec![false; n];
        self.ok_reader = vec![NONE; n];
        for (i, op) in self.ops.iter().enumerate() {
            for w in &self.writes[op.writes.0 as usize..op.writes.1 as usize] {
                self.writer[w.vid as usize] = i as u32;
                if op.ty == OpType::Fail {
                    self.failed_write[w.vid as usize] = true;
                }
            }
            if op.ty == OpType::Ok {
                for r in &self.reads[op.reads.0 as usize..op.reads.1 as usize] {
                    if self.ok_reader[r.vid as usize] == NONE {
                        self.ok_reader[r.vid as usize] = i as u32;
                    }
                }
            }
        }
        for i in 0..self.ops.len() {
            let op = &self.ops[i];
            if op.ty == OpType::Info {
                let c = self.writes[op.writes.0 as usize..op.writes.1 as usize]
                    .iter()
                    .any(|w| self.ok_reader[w.vid as usize] != NONE);
                self.ops[i].committed = c;
            }
        }
    }

    /// The sends of op `i`.
    pub fn writes_of(&self, i: u32) -> &[Access] {
        let (a, b) = self.ops[i as usize].writes;
        &self.writes[a as usize..b as usize]
    }

    /// The polled records of op `i`.
    pub fn reads_of(&self, i: u32) -> &[Access] {
        let (a, b) = self.ops[i as usize].reads;
        &self.reads[a as usize..b as usize]
    }

    /// The keys of an assign/subscribe op.
    pub fn keys_of(&self, i: u32) -> &[u32] {
        let (a, b) = self.ops[i as usize].keys;
        &self.keylists[a as usize..b as usize]
    }

    /// The history op behind op `i`.
    pub fn hop(&self, i: u32) -> &rift_history::Op {
        &self.history.ops()[self.ops[i as usize].pos as usize]
    }

    /// Invocation time of op `i` (the completion's when there is no invocation).
    pub fn invoke_time(&self, i: u32) -> Option<i64> {
        let op = &self.ops[i as usize];
        let p = if op.inv == NONE { op.pos } else { op.inv };
        self.history.ops()[p as usize].time
    }
}

/// Groups accesses by key, keeping their order: (key, accesses of that key in order), keys
/// in order of first appearance. Small and allocation-light for the few keys of one op.
pub(crate) fn by_key(acc: &[Access]) -> Vec<(u32, Vec<Access>)> {
    let mut out: Vec<(u32, Vec<Access>)> = Vec::new();
    for a in acc {
        match out.iter_mut().find(|(k, _)| *k == a.key) {
            Some((_, v)) => v.push(*a),
            None => out.push((a.key, vec![*a])),
        }
    }
    out
}
