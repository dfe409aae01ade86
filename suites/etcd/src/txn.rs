//! Optimistic transactions for the `append` and `wr` workloads.
//!
//! A txn runs in three steps. [`read_snapshot`] reads every key the txn touches in one etcd
//! txn of gets (one revision, so the reads form a consistent, linearizable snapshot) and keeps
//! each key's `mod_revision` (0 for a missing key). [`plan`] applies the micro-ops in order to
//! a local copy: reads see the snapshot and the txn's own earlier writes, appends extend the
//! list, writes replace the register; the result is the completed value (reads filled in) and
//! the new value of each written key. [`commit`] sends one etcd txn: *if* every key read or
//! written still has the `mod_revision` the snapshot saw, put the new values. When nothing
//! changed in between, the txn took effect atomically at the commit's revision; when the
//! compare fails, nothing was written and the client starts again from a fresh snapshot. A
//! read-only txn needs no commit: its snapshot read is already linearizable.

use etcd_client::{Client as Etcd, Compare, CompareOp, Txn, TxnOp, TxnOpResponse};
use rift_history::Value;
use std::collections::BTreeMap;

use crate::client::{APPEND_PREFIX, WR_PREFIX};

/// Which transactional workload.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TxnKind {
    /// `[:append k v]` and `[:r k [v...]]` on lists (stored as JSON arrays).
    Append,
    /// `[:w k v]` and `[:r k v]` on registers (stored as integer text).
    Wr,
}

impl TxnKind {
    /// The etcd key of micro-op key `k`.
    pub fn etcd_key(self, k: i64) -> String {
        match self {
            TxnKind::Append => format!("{APPEND_PREFIX}{k}"),
            TxnKind::Wr => format!("{WR_PREFIX}{k}"),
        }
    }
}

/// One micro-op of a txn's invocation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mop {
    /// True for `:append`/`:w`, false for `:r`.
    pub write: bool,
    /// The key.
    pub key: i64,
    /// The value appended or written (0 for reads).
    pub value: i64,
}

/// Parses an invocation's value: a list of `[:r k nil]` and `[:append k v]` (Append) or
/// `[:w k v]` (Wr) with integer keys and values.
pub fn parse_mops(v: &Value, kind: TxnKind) -> Result<Vec<Mop>, String> {
    let seq = v.as_seq().ok_or("a txn is a list of micro-ops")?;
    let write_f = match kind {
        TxnKind::Append => "append",
        TxnKind::Wr => "w",
    };
    let mut out = Vec::with_capacity(seq.len());
    for m in seq {
        let bad = || format!("bad micro-op {m}");
        let [f, k, arg] = m.as_seq().ok_or_else(bad)? else {
            return Err(bad());
        };
        let key = k.as_i64().ok_or_else(bad)?;
        let write = match f.as_name() {
            Some("r") => false,
            Some(name) if name == write_f => true,
            _ => return Err(bad()),
        };
        let value = if write {
            arg.as_i64().ok_or_else(bad)?
        } else {
            0
        };
        out.push(Mop { write, key, value });
    }
    Ok(out)
}

/// One key as the snapshot saw it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Stored {
    /// The key's `mod_revision`; 0 when it does not exist.
    pub mod_revision: i64,
    /// Its value; `None` when it does not exist.
    pub value: Option<Vec<u8>>,
}

/// Every key of a txn at one revision.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Snapshot {
    /// The store revision the reads saw.
    pub revision: i64,
    /// By micro-op key.
    pub keys: BTreeMap<i64, Stored>,
}

/// Reads every key `mops` touch in one etcd txn (one revision).
pub async fn read_snapshot(
    c: &mut Etcd,
    kind: TxnKind,
    mops: &[Mop],
) -> Result<Snapshot, etcd_client::Error> {
    let mut keys: Vec<i64> = mops.iter().map(|m| m.key).collect();
    keys.sort_unstable();
    keys.dedup();
    let gets: Vec<TxnOp> = keys
        .iter()
        .map(|&k| TxnOp::get(kind.etcd_key(k), None))
        .collect();
    let r = c.txn(Txn::new().and_then(gets)).await?;
    let revision = r.header().map_or(0, |h| h.revision());
    let mut out = BTreeMap::new();
    for (k, resp) in keys.iter().zip(r.op_responses()) {
        let stored = match resp {
            TxnOpResponse::Get(g) => match g.kvs().first() {
                Some(kv) => Stored {
                    mod_revision: kv.mod_revision(),
                    value: Some(kv.value().to_vec()),
                },
                None => Stored {
                    mod_revision: 0,
                    value: None,
                },
            },
            _ => {
                return Err(etcd_client::Error::Internal(
                    "a txn of gets answered something else".into(),
                ))
            }
        };
        out.insert(*k, stored);
    }
    Ok(Snapshot {
        revision,
        keys: out,
    })
}

/// What a txn observed and wants to write.
#[derive(Clone, Debug, PartialEq)]
pub struct Plan {
    /// The completion's value: the micro-ops with reads filled in.
    pub completed: Value,
    /// The new stored value of each written key.
    pub writes: BTreeMap<i64, Vec<u8>>,
}

/// A key's current state while planning.
enum Cell {
    List(Vec<i64>),
    Reg(Option<i64>),
}

fn decode(kind: TxnKind, k: i64, stored: Option<&Stored>) -> Result<Cell, String> {
    let bytes = stored.and_then(|s| s.value.as_deref());
    let bad = |b: &[u8]| format!("key {k} holds {:?}", String::from_utf8_lossy(b));
    Ok(match (kind, bytes) {
        (TxnKind::Append, None) => Cell::List(Vec::new()),
        (TxnKind::Append, Some(b)) => Cell::List(decode_list(b).ok_or_else(|| bad(b))?),
        (TxnKind::Wr, None) => Cell::Reg(None),
        (TxnKind::Wr, Some(b)) => Cell::Reg(Some(
            std::str::from_utf8(b)
                .ok()
                .and_then(|t| t.parse().ok())
                .ok_or_else(|| bad(b))?,
        )),
    })
}

/// Parses a stored list: a JSON array of integers.
pub fn decode_list(bytes: &[u8]) -> Option<Vec<i64>> {
    serde_json::from_slice(bytes).ok()
}

/// Encodes a list as a JSON array of integers.
pub fn encode_list(list: &[i64]) -> Vec<u8> {
    serde_json::to_vec(list).unwrap_or_default()
}

/// Applies `mops` in order to the snapshot. An undecodable stored value is an error (the
/// txn did nothing; the client completes it `fail`).
pub fn plan(kind: TxnKind, mops: &[Mop], snap: &Snapshot) -> Result<Plan, String> {
    let mut cells: BTreeMap<i64, Cell> = BTreeMap::new();
    let mut written: Vec<i64> = Vec::new();
    let mut completed = Vec::with_capacity(mops.len());
    for m in mops {
        let cell = match cells.entry(m.key) {
            std::collections::btree_map::Entry::Occupied(e) => e.into_mut(),
            std::collections::btree_map::Entry::Vacant(e) => {
                e.insert(decode(kind, m.key, snap.keys.get(&m.key))?)
            }
        };
        let key = Value::Int(m.key);
        let mop = match (m.write, cell) {
            (false, Cell::List(l)) => vec![
                Value::kw("r"),
                key,
                Value::Vector(l.iter().map(|&x| Value::Int(x)).collect()),
            ],
            (false, Cell::Reg(r)) => vec![Value::kw("r"), key, r.map_or(Value::Nil, Value::Int)],
            (true, Cell::List(l)) => {
                l.push(m.value);
                vec![Value::kw("append"), key, Value::Int(m.value)]
            }
            (true, Cell::Reg(r)) => {
                *r = Some(m.value);
                vec![Value::kw("w"), key, Value::Int(m.value)]
            }
        };
        if m.write && !written.contains(&m.key) {
            written.push(m.key);
        }
        completed.push(Value::Vector(mop));
    }
    let mut writes = BTreeMap::new();
    for k in written {
        let bytes = match cells.get(&k) {
            Some(Cell::List(l)) => encode_list(l),
            Some(Cell::Reg(Some(v))) => v.to_string().into_bytes(),
            _ => continue,
        };
        writes.insert(k, bytes);
    }
    Ok(Plan {
        completed: Value::Vector(completed),
        writes,
    })
}

/// The commit txn: compares every snapshot key's `mod_revision`, then puts the writes.
pub fn commit_txn(kind: TxnKind, snap: &Snapshot, plan: &Plan) -> Txn {
    let compares: Vec<Compare> = snap
        .keys
        .iter()
        .map(|(&k, s)| Compare::mod_revision(kind.etcd_key(k), CompareOp::Equal, s.mod_revision))
        .collect();
    let puts: Vec<TxnOp> = plan
        .writes
        .iter()
        .map(|(&k, v)| TxnOp::put(kind.etcd_key(k), v.clone(), None))
        .collect();
    Txn::new().when(compares).and_then(puts)
}

/// Sends [`commit_txn`]: true when it took effect, false when a key changed since the
/// snapshot (nothing was written).
pub async fn commit(
    c: &mut Etcd,
    kind: TxnKind,
    snap: &Snapshot,
    plan: &Plan,
) -> Result<bool, etcd_client::Error> {
    Ok(c.txn(commit_txn(kind, snap, plan)).await?.succeeded())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn txn(mops: &[(&str, i64, Option<i64>)]) -> Value {
        Value::Vector(
            mops.iter()
                .map(|(f, k, v)| {
                    Value::Vector(vec![
                        Value::kw(f),
                        Value::Int(*k),
                        v.map_or(Value::Nil, Value::Int),
                    ])
                })
                .collect(),
        )
    }

    fn snap(keys: &[(i64, i64, &str)]) -> Snapshot {
        Snapshot {
            revision: 9,
            keys: keys
                .iter()
                .map(|&(k, rev, v)| {
                    let value = (rev != 0).then(|| v.as_bytes().to_vec());
                    (
                        k,
                        Stored {
                            mod_revision: rev,
                            value,
                        },
                    )
                })
                .collect(),
        }
    }

    #[test]
    fn append_reads_see_the_snapshot_and_the_txns_own_appends() {
        let v = txn(&[
            ("r", 1, None),
            ("append", 1, Some(3)),
            ("r", 1, None),
            ("r", 2, None),
        ]);
        let mops = parse_mops(&v, TxnKind::Append).unwrap();
        assert_eq!(
            mops[1],
            Mop {
                write: true,
                key: 1,
                value: 3
            }
        );
        let s = snap(&[(1, 5, "[1,2]"), (2, 0, "")]);
        let p = plan(TxnKind::Append, &mops, &s).unwrap();
        assert_eq!(
            p.completed.to_string(),
            "[[:r 1 [1 2]] [:append 1 3] [:r 1 [1 2 3]] [:r 2 []]]"
        );
        assert_eq!(p.writes.len(), 1);
        assert_eq!(p.writes[&1], b"[1,2,3]".to_vec());
    }

    #[test]
    fn wr_reads_nil_for_missing_keys_and_their_own_writes() {
        let v = txn(&[
            ("r", 4, None),
            ("w", 4, Some(7)),
            ("r", 4, None),
            ("w", 5, Some(8)),
            ("w", 5, Some(9)),
        ]);
        let mops = parse_mops(&v, TxnKind::Wr).unwrap();
        let p = plan(TxnKind::Wr, &mops, &snap(&[(4, 0, ""), (5, 3, "2")])).unwrap();
        assert_eq!(
            p.completed.to_string(),
            "[[:r 4 nil] [:w 4 7] [:r 4 7] [:w 5 8] [:w 5 9]]"
        );
        assert_eq!(p.writes[&4], b"7".to_vec());
        assert_eq!(p.writes[&5], b"9".to_vec());
    }

    #[test]
    fn bad_txns_and_bad_stored_values_are_errors() {
        assert!(parse_mops(&txn(&[("w", 1, Some(1))]), TxnKind::Append).is_err());
        assert!(parse_mops(&txn(&[("append", 1, None)]), TxnKind::Append).is_err());
        assert!(parse_mops(&Value::Int(3), TxnKind::Wr).is_err());
        let mops = parse_mops(&txn(&[("r", 1, None)]), TxnKind::Append).unwrap();
        let e = plan(TxnKind::Append, &mops, &snap(&[(1, 2, "oops")])).unwrap_err();
        assert_eq!(e, "key 1 holds \"oops\"");
    }

    #[test]
    fn read_only_txns_write_nothing() {
        let mops = parse_mops(&txn(&[("r", 1, None), ("r", 2, None)]), TxnKind::Wr).unwrap();
        let p = plan(TxnKind::Wr, &mops, &snap(&[(1, 4, "3"), (2, 0, "")])).unwrap();
        assert!(p.writes.is_empty());
        assert_eq!(p.completed.to_string(), "[[:r 1 3] [:r 2 nil]]");
    }

    #[test]
    fn lists_round_trip_as_json() {
        assert_eq!(encode_list(&[1, 22, -3]), b"[1,22,-3]".to_vec());
        assert_eq!(decode_list(b"[1,22,-3]"), Some(vec![1, 22, -3]));
        assert_eq!(decode_list(b"[]"), Some(vec![]));
        assert_eq!(decode_list(b"1,2"), None);
    }
}
