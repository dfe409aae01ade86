//! Jepsen's bank checker (`jepsen.tests.bank/checker`).

use crate::result::{CheckContext, CheckResult, Checker};
use crate::util::{op_json, sorted_values_json, value_json};
use rift_history::{History, Op, Value};
use serde_json::{Map, Value as Json};
use std::collections::{BTreeMap, HashSet};

/// Jepsen's bank checker: every ok `read` (a map account -> balance) must show only known
/// accounts, no `nil` balance, the right total and, unless allowed, no negative balance.
///
/// Each read gets at most one error, the first that applies in this order: `unexpected-key`
/// (an account outside `accounts`), `nil-balance`, `wrong-total`, `negative-value`; a read
/// whose value is not a map, or holds a balance that is not an integer, is `malformed-read`.
/// The result has `read-count`, `error-count`, `first-error` (lowest op index, or null) and
/// `errors`: per type, `count`, `first`, `worst`, `last` (and `lowest`/`highest` total for
/// `wrong-total`). Error types are the anomaly types. `transfer`s are not checked.
///
/// When `total` is None the total is the sum of the first ok read, and when `accounts` is None
/// the accounts are the keys of the first ok read (as elle-cli does: Jepsen takes both from the
/// test map). A history with no ok read is valid with `read-count` 0, as in Jepsen.
#[derive(Clone, Debug, Default)]
pub struct Bank {
    /// The sum every read must show; None: the sum of the first ok read.
    pub total: Option<i64>,
    /// Allow negative balances.
    pub negative_balances: bool,
    /// The known accounts; None: the accounts of the first ok read.
    pub accounts: Option<Vec<Value>>,
}

struct BankError {
    ty: &'static str,
    pos: usize,
    total: i128,
    badness: f64,
    json: Json,
}

/// Balances of a read, None when some balance is neither nil nor an integer.
fn balances(m: &[(Value, Value)]) -> Option<Vec<Option<i128>>> {
    m.iter()
        .map(|(_, v)| match v {
            Value::Nil => Some(None),
            v => v.as_i64().map(|i| Some(i128::from(i))),
        })
        .collect()
}

fn big(x: i128) -> Json {
    i64::try_from(x).map_or_else(|_| Json::String(x.to_string()), Json::from)
}

fn check_read(
    op: &Op,
    pos: usize,
    accounts: &HashSet<&Value>,
    total: i128,
    negative_ok: bool,
) -> Option<BankError> {
    let err = |ty: &'static str, badness: f64, extra: (&str, Json), t: i128| {
        let mut m = Map::new();
        m.insert("type".into(), ty.into());
        m.insert(extra.0.into(), extra.1);
        m.insert("op".into(), op_json(op));
        Some(BankError {
            ty,
            pos,
            total: t,
            badness,
            json: Json::Object(m),
        })
    };
    let (Some(m), Some(bal)) = (op.value.as_map(), op.value.as_map().and_then(balances)) else {
        return err("malformed-read", 0.0, ("value", value_json(&op.value)), 0);
    };
    let unexpected: Vec<&Value> = m
        .iter()
        .map(|(k, _)| k)
        .filter(|k| !accounts.contains(k))
        .collect();
    if !unexpected.is_empty() {
        let n = unexpected.len() as f64;
        return err(
            "unexpected-key",
            n,
            ("unexpected", sorted_values_json(unexpected)),
            0,
        );
    }
    let nils: Map<String, Json> = m
        .iter()
        .filter(|(_, v)| v.is_nil())
        .map(|(k, _)| (crate::util::key_text(k), Json::Null))
        .collect();
    if !nils.is_empty() {
        let n = nils.len() as f64;
        return err("nil-balance", n, ("nils", Json::Object(nils)), 0);
    }
    let bal: Vec<i128> = bal.into_iter().flatten().collect();
    let sum: i128 = bal.iter().sum();
    if sum != total {
        let badness = if total > 0 {
            ((sum - total) as f64 / total as f64).abs()
        } else {
            0.0
        };
        return err("wrong-total", badness, ("total", big(sum)), sum);
    }
    let negative: Vec<i128> = bal.into_iter().filter(|b| *b < 0).collect();
    if !negative_ok && !negative.is_empty() {
        let badness = -(negative.iter().sum::<i128>() as f64);
        let neg = Json::Array(negative.into_iter().map(big).collect());
        return err("negative-value", badness, ("negative", neg), 0);
    }
    None
}

/// The summary of one error type: count, first, worst, last, and lowest/highest totals.
fn summarize(ty: &str, errs: &[BankError]) -> Json {
    let mut m = Map::new();
    m.insert("count".into(), errs.len().into());
    let first = &errs[0];
    let last = &errs[errs.len() - 1];
    let mut worst = first;
    let (mut lowest, mut highest) = (first, first);
    for e in errs {
        if e.badness > worst.badness {
            worst = e;
        }
        if e.total < lowest.total {
            lowest = e;
        }
        if e.total > highest.total {
            highest = e;
        }
    }
    m.insert("first".into(), first.json.clone());
    m.insert("worst".into(), worst.json.clone());
    m.insert("last".into(), last.json.clone());
    if ty == "wrong-total" {
        m.insert("lowest".into(), lowest.json.clone());
        m.insert("highest".into(), highest.json.clone());
    }
    Json::Object(m)
}

impl Checker for Bank {
    fn check(&self, _ctx: &CheckContext, history: &History) -> CheckResult {
        let reads: Vec<(usize, &Op)> = history
            .ops()
            .iter()
            .enumerate()
            .filter(|(_, o)| o.is_client() && o.is_ok() && o.f.is_name("read"))
            .collect();
        let first = reads
            .first()
            .and_then(|(_, o)| o.value.as_map())
            .unwrap_or(&[]);
        let accounts: HashSet<&Value> = match &self.accounts {
            Some(a) => a.iter().collect(),
            None => first.iter().map(|(k, _)| k).collect(),
        };
        let total = match self.total {
            Some(t) => i128::from(t),
            None => first
                .iter()
                .filter_map(|(_, v)| v.as_i64())
                .map(i128::from)
                .sum(),
        };
        let mut by_type: BTreeMap<&'static str, Vec<BankError>> = BTreeMap::new();
        for (pos, op) in &reads {
            if let Some(e) = check_read(op, *pos, &accounts, total, self.negative_balances) {
                by_type.entry(e.ty).or_default().push(e);
            }
        }
        let error_count: usize = by_type.values().map(Vec::len).sum();
        let first_error = by_type
            .values()
            .map(|errs| &errs[0])
            .min_by_key(|e| e.pos)
            .map_or(Json::Null, |e| e.json.clone());
        let errors: Map<String, Json> = by_type
            .iter()
            .map(|(ty, errs)| (ty.to_string(), summarize(ty, errs)))
            .collect();
        let r = if by_type.is_empty() {
            CheckResult::valid()
        } else {
            CheckResult::invalid(by_type.keys().copied())
        };
        r.with("read-count", reads.len())
            .with("error-count", error_count)
            .with("first-error", first_error)
            .with("errors", errors)
    }
}
