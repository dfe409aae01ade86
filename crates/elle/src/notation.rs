//! A small notation for transactional histories in tests, after Elle's: transactions are
//! separated by `|`, micro-ops by spaces. `ax1` appends 1 to key `x`; `wx1` writes 1; `rx`
//! reads nothing (`nil`: the initial state); `rx1,2` reads `[1 2]` in list-append and `rx1`
//! reads 1 in rw-register. A transaction prefixed by `fail:` or `info:` completes that way.
//!
//! Every transaction gets its own process; all are invoked first and then complete in order,
//! so no transaction precedes another in real time.

use crate::{Error, Workload};
use rift_history::{History, Op, OpType, Value};

fn bad(text: &str, detail: impl Into<String>) -> Error {
    Error::Notation {
        text: text.to_string(),
        detail: detail.into(),
    }
}

fn parse_mop(tok: &str, workload: Workload) -> Result<Value, Error> {
    let mut chars = tok.chars();
    let f = chars.next().ok_or_else(|| bad(tok, "empty micro-op"))?;
    let rest: &str = chars.as_str();
    let split = rest
        .find(|c: char| c.is_ascii_digit() || c == '-')
        .unwrap_or(rest.len());
    let (key, val) = rest.split_at(split);
    if key.is_empty() {
        return Err(bad(tok, "missing key"));
    }
    let key = Value::kw(key);
    let int = |s: &str| {
        s.parse::<i64>()
            .map(Value::Int)
            .map_err(|_| bad(tok, "bad value"))
    };
    let (name, v) = match f {
        'a' => ("append", int(val)?),
        'w' => ("w", int(val)?),
        'r' if val.is_empty() => ("r", Value::Nil),
        'r' => match workload {
            Workload::ListAppend => (
                "r",
                Value::Vector(val.split(',').map(int).collect::<Result<_, _>>()?),
            ),
            Workload::RwRegister => ("r", int(val)?),
        },
        _ => return Err(bad(tok, "micro-ops start with a, w or r")),
    };
    Ok(Value::Vector(vec![Value::kw(name), key, v]))
}

/// Parses list-append notation into a history.
pub fn parse_history(text: &str) -> Result<History, Error> {
    parse_history_as(text, Workload::ListAppend)
}

/// Parses notation for a workload into a history.
pub fn parse_history_as(text: &str, workload: Workload) -> Result<History, Error> {
    let mut invokes = Vec::new();
    let mut completes = Vec::new();
    for (p, part) in text.split('|').enumerate() {
        let part = part.trim();
        let (ty, body) = if let Some(b) = part.strip_prefix("fail:") {
            (OpType::Fail, b)
        } else if let Some(b) = part.strip_prefix("info:") {
            (OpType::Info, b)
        } else {
            (OpType::Ok, part)
        };
        let mops: Vec<Value> = body
            .split_whitespace()
            .map(|t| parse_mop(t, workload))
            .collect::<Result<_, _>>()?;
        let unread: Vec<Value> = mops
            .iter()
            .map(|m| match m.as_seq() {
                Some([f, k, _]) if f.is_name("r") => {
                    Value::Vector(vec![f.clone(), k.clone(), Value::Nil])
                }
                _ => m.clone(),
            })
            .collect();
        let inv = Op::invoke(p as i64, "txn", Value::Vector(unread));
        completes.push(inv.complete(ty, Value::Vector(mops)));
        invokes.push(inv);
    }
    invokes.extend(completes);
    for (i, op) in invokes.iter_mut().enumerate() {
        op.time = Some(i as i64);
    }
    History::reindexed(invokes).map_err(|e| bad(text, e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_appends_and_reads() {
        let h = parse_history("ax1 rx1,2 | fail: ay3").unwrap();
        assert_eq!(h.len(), 4);
        assert_eq!(
            h.ops()[2].value.to_string(),
            "[[:append :x 1] [:r :x [1 2]]]"
        );
        assert_eq!(h.ops()[3].ty, OpType::Fail);
        let r = parse_history_as("wx1 rx1", Workload::RwRegister).unwrap();
        assert_eq!(r.ops()[1].value.to_string(), "[[:w :x 1] [:r :x 1]]");
        assert!(parse_history("qx1").is_err());
    }
}
