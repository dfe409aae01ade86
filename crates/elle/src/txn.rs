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

/// A hash-map key standing for a borrowed value, with integers inline so that hashing and
/// comparing them never touches the history. Equal keys iff equal values (`1` and `1N` are
/// one key, as they are one value).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum VKey<'a> {
    /// An integer (`Int`, or a `BigInt` that fits).
    Int(i64),
    /// Anything else.
    Other(&'a Value),
}

impl<'a> VKey<'a> {
    /// The key of a value.
    pub fn of(v: &'a Value) -> VKey<'a> {
        match v {
            Value::Int(i) => VKey::Int(*i),
            Value::BigInt(_) => v.as_i64().map_or(VKey::Other(v), VKey::Int),
            _ => VKey::Other(v),
        }
    }
}

/// One micro-op; `key` is an interned key id, `value` is borrowed from the history.
#[derive(Clone, Copy, Debug)]
pub struct Mop<'a> {
    /// The kind.
    pub kind: Kind,
    /// The interned key.
    pub key: u32,
    /// The value written, or the value read (`nil` when unknown).
    pub value: &'a Value,
    /// What the checkers need of the value without touching the history again.
    pub arg: Arg<'a>,
}

/// A micro-op's value, pre-digested while parsing (when the value is in cache).
#[derive(Clone, Copy, Debug)]
pub enum Arg<'a> {
    /// A read's elements (empty unless the value is a vector, list or set).
    List(&'a [Value]),
    /// A written or appended integer.
    Int(i64),
    /// Any other written or appended value.
    Other,
}

impl<'a> Mop<'a> {
    /// A read's elements (empty for other micro-ops, and for reads of non-collections).
    pub fn list(&self) -> &'a [Value] {
        match self.arg {
            Arg::List(l) => l,
            _ => &[],
        }
    }

    /// The value as a hash-map key.
    pub fn vkey(&self) -> VKey<'a> {
        match self.arg {
            Arg::Int(i) => VKey::Int(i),
            _ => VKey::of(self.value),
        }
    }
}

/// One transaction: a completion (or a pending invocation) of a client op.
#[derive(Clone, Debug)]
pub struct Txn<'a> {
    /// Position of the completion in the history (of the invocation for pending ones).
    pub pos: usize,
    /// Position of the invocation, if any.
    pub inv: Option<usize>,
    /// `Ok`, `Info`, `Fail`, or `Invoke` for a pending invocation.
    pub ty: OpType,
    /// Global id of the first micro-op (ids are dense over all txns, `0..Txns::mop_count`).
    pub first_mop: u32,
    /// The micro-ops, in order.
    pub mops: Vec<Mop<'a>>,
}

impl Txn<'_> {
    /// True for ok and info completions: the transactions that may have happened.
    pub fn possible(&self) -> bool {
        matches!(self.ty, OpType::Ok | OpType::Info)
    }
}

/// The transactions of a history, in completion order, with the key table.
#[derive(Debug, Default)]
pub struct Txns<'a> {
    /// Transactions; pending invocations are appended after all completions.
    pub txns: Vec<Txn<'a>>,
    /// Key values by id.
    pub keys: Vec<&'a Value>,
    /// Number of micro-ops over all txns (global micro-op ids run below it).
    pub mop_count: usize,
}

fn parse_mop<'a>(
    v: &'a Value,
    keys: &mut FxHashMap<VKey<'a>, u32>,
    table: &mut Vec<&'a Value>,
) -> Option<Mop<'a>> {
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
    let key = *keys.entry(VKey::of(&s[1])).or_insert_with(|| {
        table.push(&s[1]);
        next
    });
    let arg = match (kind, VKey::of(&s[2])) {
        (Kind::Read, _) => Arg::List(s[2].as_seq().unwrap_or(&[])),
        (_, VKey::Int(i)) => Arg::Int(i),
        (_, VKey::Other(_)) => Arg::Other,
    };
    Some(Mop {
        kind,
        key,
        value: &s[2],
        arg,
    })
}

/// Parses the client ops of a history (every process but the nemesis) into transactions.
pub fn parse(history: &History) -> Result<Txns<'_>, Error> {
    let mut keys: FxHashMap<VKey, u32> = FxHashMap::default();
    let mut mop_count = 0usize;
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
        let first_mop = mop_count as u32;
        mop_count += mops.len();
        let t = Txn {
            pos,
            inv,
            ty,
            first_mop,
            mops,
        };
        if ty == OpType::Invoke {
            pending.push(t);
        } else {
            txns.push(t);
        }
    }
    txns.extend(pending);
    Ok(Txns {
        txns,
        keys: table,
        mop_count,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn micro_ops_stay_compact() {
        // Five words: kind and key, the value's address, the digested argument (tag, slice).
        assert_eq!(std::mem::size_of::<Arg>(), 24);
        assert_eq!(std::mem::size_of::<Mop>(), 40);
    }

    #[test]
    fn integer_keys_match_value_equality() {
        let big = Value::BigInt("7".into());
        assert_eq!(VKey::of(&Value::Int(7)), VKey::of(&big));
        assert_ne!(VKey::of(&Value::Int(7)), VKey::of(&Value::Float(7.0)));
        assert_eq!(VKey::of(&Value::kw("a")), VKey::of(&Value::kw("a")));
    }
}
