//! Counterexamples: what the search could not linearize, and why.

use crate::model::Model;
use crate::prepare::Partition;
use crate::wgl::Deepest;
use rift_checker::util::{op_json, value_json};
use rift_history::{History, Value};
use serde_json::{json, Value as Json};

/// At most this many candidate ops are explained in a counterexample.
pub const MAX_ATTEMPTS: usize = 32;
/// The JSON form lists at most this many of the prefix's last ops in full.
pub const PREFIX_TAIL: usize = 16;

/// An operation of the history: positions of its invocation and completion.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OpRef {
    /// Position of the invocation in the history.
    pub invoke: usize,
    /// Position of the completion (`ok`), or None when its outcome is unknown.
    pub completion: Option<usize>,
}

/// One op that could have been linearized next at the deepest point, and what happened.
#[derive(Clone, Debug, PartialEq)]
pub struct Attempt {
    /// The op.
    pub op: OpRef,
    /// `Ok(state)`: the op applies (leading to `state`) but no linearization continues from
    /// there; `Err(reason)`: the model refuses it in the current state.
    pub result: Result<Value, String>,
}

/// Why a history is not linearizable, bounded in size by the history (positions, not copies).
#[derive(Clone, Debug, PartialEq)]
pub struct Counterexample {
    /// The partition (key) that failed, when the model is partitioned.
    pub key: Option<Value>,
    /// The longest linearizable prefix found: invocation positions in linearization order.
    pub prefix: Vec<usize>,
    /// The op that could not be linearized: the first op whose completion the search could
    /// not get past.
    pub op: OpRef,
    /// Model states after the prefix (distinct, at most 8).
    pub states: Vec<Value>,
    /// The ops that could have been linearized next, each with the model's answer.
    pub attempts: Vec<Attempt>,
}

impl Counterexample {
    pub(crate) fn build(part: &Partition, model: &dyn Model, deep: Deepest) -> Counterexample {
        let mut done = vec![false; part.ops.len()];
        for &i in &deep.prefix {
            done[i as usize] = true;
        }
        let blocking = (0..part.ops.len())
            .filter(|&i| !done[i] && part.ops[i].complete_pos.is_some())
            .min_by_key(|&i| part.ops[i].complete_pos)
            .unwrap_or(0);
        let limit = part.ops[blocking].complete_pos.unwrap_or(u32::MAX);
        let state = deep.states.first().cloned().unwrap_or_else(|| model.init());
        let oref = |i: usize| OpRef {
            invoke: part.ops[i].invoke_pos as usize,
            completion: part.ops[i].complete_pos.map(|c| c as usize),
        };
        let attempts = (0..part.ops.len())
            .filter(|&i| !done[i] && part.ops[i].invoke_pos < limit)
            .take(MAX_ATTEMPTS)
            .map(|i| {
                let call = &part.calls[part.ops[i].call as usize];
                Attempt {
                    op: oref(i),
                    result: model
                        .step(&state, call)
                        .ok_or_else(|| model.explain(&state, call)),
                }
            })
            .collect();
        Counterexample {
            key: part.key.clone(),
            prefix: deep
                .prefix
                .iter()
                .map(|&i| part.ops[i as usize].invoke_pos as usize)
                .collect(),
            op: oref(blocking),
            states: deep.states,
            attempts,
        }
    }

    /// The JSON form (Knossos-like keys): `op` (the completion that could not be linearized),
    /// `previous-ok`-style prefix tail, `prefix-length`, `linearized` (op indices in order),
    /// `states`, `attempts`.
    pub fn to_json(&self, history: &History) -> Json {
        let op_at = |pos: usize| history.get(pos).map_or(Json::Null, op_json);
        let main = op_at(self.op.completion.unwrap_or(self.op.invoke));
        let idx = |pos: usize| history.get(pos).map_or(pos as u64, |o| o.index);
        let tail_from = self.prefix.len().saturating_sub(PREFIX_TAIL);
        let attempts: Vec<Json> = self
            .attempts
            .iter()
            .map(|a| {
                let op = op_at(a.op.completion.unwrap_or(a.op.invoke));
                match &a.result {
                    Ok(s) => json!({"op": op, "state": value_json(s),
                                    "result": "applies, but no linearization follows"}),
                    Err(e) => json!({"op": op, "result": e}),
                }
            })
            .collect();
        let mut j = json!({
            "op": main,
            "prefix-length": self.prefix.len(),
            "linearized": self.prefix.iter().map(|&p| idx(p)).collect::<Vec<_>>(),
            "prefix-tail": self.prefix[tail_from..].iter().map(|&p| op_at(p)).collect::<Vec<_>>(),
            "states": self.states.iter().map(value_json).collect::<Vec<_>>(),
            "attempts": attempts,
        });
        if let Some(k) = &self.key {
            j["key"] = value_json(k);
        }
        j
    }
}
