//! Transactions as the checker sees them: the client ops of a history, each completion with
//! its micro-ops parsed and keys interned.

use crate::Error;
use rift_history::{History, OpType, Process, Value};
use rustc_hash::FxHashMap;

/// What a micro-op does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// `[:append k v]`
    Append,
    /// `[:w k v]`
    Write,
    /// `[:r k v]`
    Read,
}

/// One micro-op; `key` is an interned key id.
#[derive(Clone, Debug)]
pub struct Mop {
    /// The kind.
    pub kind: Kind,
    /// The interned key.
    pub key: u32,
    /// The value written, or the value read (`nil` when unknown).
    pub value: Value,
}

/// One transaction: a completion (or a pending invocation) of a client op.
#[derive(Clone, Debug)]
pub struct Txn {
    /// Position of the completion in the history (of the invocation for pending ones).
    pub pos: usize,
    /// Position of the invocation, if any.
    pub inv: Option<usize>,
    /// `Ok`, `Info`, `Fail`, or `Invoke` for a pending invocation.
    pub ty: OpType,
    /// The micro-ops, in order.
    pub mops: Vec<Mop>,
}

impl Txn {
    /// True for ok and info completions: the transactions that may have happened.
    pub fn possible(&self) -> bool {
        matches!(self.ty, OpType::Ok | OpType::Info)
    }
}

/// The transactions of a history, in completion order, with the key table.
#[derive(Debug, Default)]
pub struct Txns {
    /// Transactions; pending invocations are appended after all completions.
    pub txns: Vec<Txn>,
    /// Key values by id.
    pub keys: Vec<Value>,
}

fn parse_mop(v: &Value, keys: &mut FxHashMap<Value, u32>, table: &mut Vec<Value>) -> Option<Mop> {
    let s = v.as_seq()?;
    if s.len() != 3 {
        return None;
    }
    let kind = match s[0].as_name()? {
        "append" => Kind::Append,
        "w" | "write" => Kind::Write,
        "r" | "read" => Kind::Read,
        _ => return None,
    };
    let next = table.len() as u32;
    let key = *keys.entry(s[1].clone()).or_insert_with(|| {
        table.push(s[1].clone());
        next
    });
    Some(Mop {
        kind,
        key,
        value: s[2].clone(),
    })
}

/// Parses the client ops of a history (every process but the nemesis) into transactions.
pub fn parse(history: &History) -> Result<Txns, Error> {
    let mut keys: FxHashMap<Value, u32> = FxHashMap::default();
    let mut table = Vec::new();
    let mut txns = Vec::new();
    let mut pending = Vec::new();
    for (pos, op) in history.ops().iter().enumerate() {
        if op.process == Process::Nemesis {
            continue;
        }
        let (inv, ty) = match op.ty {
            OpType::Invoke => {
                if history.pair_of(pos).is_some() {
                    continue;
                }
                (None, OpType::Invoke)
            }
            ty => (history.pair_of(pos), ty),
        };
        let mops = match &op.value {
            Value::Nil if ty != OpType::Ok => Vec::new(),
            v => {
                let seq = v.as_seq().ok_or_else(|| Error::BadTxn {
                    index: op.index,
                    detail: format!("value {v} is not a list of micro-ops"),
                })?;
                let mut mops = Vec::with_capacity(seq.len());
                for m in seq {
                    mops.push(parse_mop(m, &mut keys, &mut table).ok_or_else(|| {
                        Error::BadTxn {
                            index: op.index,
                            detail: format!("bad micro-op {m}"),
                        }
                    })?);
                }
                mops
            }
        };
        let t = Txn { pos, inv, ty, mops };
        if ty == OpType::Invoke {
            pending.push(t);
        } else {
            txns.push(t);
        }
    }
    txns.extend(pending);
    Ok(Txns { txns, keys: table })
}
