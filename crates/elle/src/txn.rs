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
///
/// Large histories are parsed in chunks on several threads (walking the ops' micro-ops is
/// bound by memory latency, which threads overlap), then merged; the result is the same as
/// one pass in order: keys numbered by first occurrence, completions in order followed by
/// pending invocations in order, and the first bad transaction reported.
pub fn parse(history: &History) -> Result<Txns<'_>, Error> {
    let threads = std::thread::available_parallelism()
        .map_or(1, |t| t.get())
        .min(8);
    parse_chunked(history, threads, PARALLEL_OPS)
}

/// [`parse`] on `threads` threads when the history holds at least `min_ops` ops.
fn parse_chunked(history: &History, threads: usize, min_ops: usize) -> Result<Txns<'_>, Error> {
    let n = history.ops().len();
    if threads < 2 || n < min_ops.max(threads) {
        return parse_range(history, 0..n).map(|c| merge(vec![c]));
    }
    let step = n.div_ceil(threads);
    let chunks: Vec<Result<Chunk<'_>, Error>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|i| {
                let range = (i * step).min(n)..((i + 1) * step).min(n);
                s.spawn(move || parse_range(history, range))
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
            .collect()
    });
    let chunks = chunks.into_iter().collect::<Result<Vec<_>, _>>()?;
    Ok(merge(chunks))
}

/// Histories at least this long are parsed on several threads.
const PARALLEL_OPS: usize = 200_000;

/// The transactions of a range of ops, with keys numbered within the range.
struct Chunk<'a> {
    txns: Vec<Txn<'a>>,
    pending: Vec<Txn<'a>>,
    keys: Vec<&'a Value>,
    mop_count: usize,
}

fn parse_range(history: &History, range: std::ops::Range<usize>) -> Result<Chunk<'_>, Error> {
    let mut keys: FxHashMap<VKey, u32> = FxHashMap::default();
    let mut mop_count = 0usize;
    let mut table = Vec::new();
    let mut txns = Vec::new();
    let mut pending = Vec::new();
    let ops = history.ops();
    for pos in range {
        let op = &ops[pos];
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
    Ok(Chunk {
        txns,
        pending,
        keys: table,
        mop_count,
    })
}

/// Joins chunks parsed in history order: renumbers keys as one pass would have (by first
/// occurrence) and micro-op ids densely, completions first and pending invocations after.
fn merge<'a>(chunks: Vec<Chunk<'a>>) -> Txns<'a> {
    let mut ids: FxHashMap<VKey<'a>, u32> = FxHashMap::default();
    let mut table: Vec<&'a Value> = Vec::new();
    let mut remaps: Vec<Vec<u32>> = Vec::with_capacity(chunks.len());
    for c in &chunks {
        let remap = c
            .keys
            .iter()
            .map(|&k| {
                let next = table.len() as u32;
                *ids.entry(VKey::of(k)).or_insert_with(|| {
                    table.push(k);
                    next
                })
            })
            .collect();
        remaps.push(remap);
    }
    // One pass numbers micro-ops in op order, over completions and pending invocations alike:
    // a chunk's ids only shift by the micro-ops of the chunks before it.
    let mut offset = 0u32;
    let mut offsets = Vec::with_capacity(chunks.len());
    for c in &chunks {
        offsets.push(offset);
        offset += c.mop_count as u32;
    }
    let total: usize = chunks.iter().map(|c| c.txns.len() + c.pending.len()).sum();
    let mut chunks = chunks.into_iter();
    // The first chunk's keys and micro-op ids are already the merged ones: its vector grows
    // into the result (no second copy of every transaction at the peak).
    let (mut txns, mut pending) = match chunks.next() {
        Some(first) => (first.txns, first.pending),
        None => (Vec::new(), Vec::new()),
    };
    txns.reserve(total - txns.len());
    for ((c, remap), &off) in chunks
        .zip(remaps.iter().skip(1))
        .zip(offsets.iter().skip(1))
    {
        let fix = |mut t: Txn<'a>| -> Txn<'a> {
            t.first_mop += off;
            for m in &mut t.mops {
                m.key = remap[m.key as usize];
            }
            t
        };
        txns.extend(c.txns.into_iter().map(fix));
        pending.extend(c.pending.into_iter().map(fix));
    }
    txns.extend(pending);
    Txns {
        txns,
        keys: table,
        mop_count: offset as usize,
    }
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

    /// What a parse produced, comparable: keys, micro-op count, and per txn its positions,
    /// type, first micro-op id and micro-ops (kind, key id, the value's address).
    fn shape<'a>(t: &Txns<'a>) -> (Vec<Value>, usize, Vec<TxnShape>) {
        let txns = t
            .txns
            .iter()
            .map(|x| {
                let mops = x
                    .mops
                    .iter()
                    .map(|m| (m.kind, m.key, m.value as *const Value as usize))
                    .collect();
                (x.pos, x.inv, x.ty, x.first_mop, mops)
            })
            .collect();
        (
            t.keys.iter().map(|&k| k.clone()).collect(),
            t.mop_count,
            txns,
        )
    }

    type TxnShape = (usize, Option<usize>, OpType, u32, Vec<(Kind, u32, usize)>);

    #[test]
    fn parsing_in_chunks_is_parsing_in_one_pass() {
        use crate::gen::{history, GenOptions};
        for workload in [crate::Workload::ListAppend, crate::Workload::RwRegister] {
            let o = GenOptions {
                txns: 3_000,
                processes: 7,
                keys: 40,
                max_txn_len: 5,
                max_writes_per_key: 8,
                fail_per_mille: 100,
            };
            let mut ops = history(workload, &o, 7).ops().to_vec();
            // Pending invocations (their completions cut off) and a nemesis op in the middle.
            ops.truncate(ops.len() - 9);
            let mut nem = ops[100].clone();
            nem.process = Process::Nemesis;
            ops.insert(100, nem);
            for (i, op) in ops.iter_mut().enumerate() {
                op.index = i as u64;
            }
            let h = History::new_lenient(ops).unwrap();
            let one = shape(&parse_chunked(&h, 1, 0).unwrap());
            assert!(one.2.iter().any(|t| t.2 == OpType::Invoke), "has pending");
            for threads in [2, 3, 8] {
                assert_eq!(
                    shape(&parse_chunked(&h, threads, 0).unwrap()),
                    one,
                    "{threads}"
                );
            }
        }
    }

    #[test]
    fn the_first_bad_transaction_is_reported_whatever_the_chunks() {
        let mut ops = Vec::new();
        for (i, v) in [Value::Int(1), Value::Int(2)].into_iter().enumerate() {
            let p = Process::Client(i as i64);
            ops.push(rift_history::Op::new(
                OpType::Invoke,
                p.clone(),
                Value::kw("txn"),
                v.clone(),
            ));
            ops.push(rift_history::Op::new(OpType::Ok, p, Value::kw("txn"), v));
        }
        for (i, op) in ops.iter_mut().enumerate() {
            op.index = i as u64;
        }
        let h = History::new(ops).unwrap();
        for threads in [1, 2, 4] {
            match parse_chunked(&h, threads, 0) {
                Err(Error::BadTxn { index, .. }) => assert_eq!(index, 1, "{threads}"),
                other => panic!("{threads}: {other:?}"),
            }
        }
    }

    #[test]
    fn integer_keys_match_value_equality() {
        let big = Value::BigInt("7".into());
        assert_eq!(VKey::of(&Value::Int(7)), VKey::of(&big));
        assert_ne!(VKey::of(&Value::Int(7)), VKey::of(&Value::Float(7.0)));
        assert_eq!(VKey::of(&Value::kw("a")), VKey::of(&Value::kw("a")));
    }
}
