//! [`History`]: ops in order, with the invocation <-> completion pairing computed once.

use crate::error::{Error, Result};
use crate::op::{Op, OpType, Process};
use std::collections::HashMap;

const NONE: u32 = u32::MAX;

/// A history: ops in the order they happened, each invocation paired with its completion.
///
/// Positions (`usize` arguments) are offsets into [`History::ops`]; for histories recorded by
/// rift or Jepsen they equal `op.index`.
#[derive(Clone, Debug, Default)]
pub struct History {
    ops: Vec<Op>,
    pair: Vec<u32>,
    problems: Vec<PairingProblem>,
}

/// An op that broke the pairing rules (see [`History::new_lenient`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PairingProblem {
    /// The op's index.
    pub index: u64,
    /// Its process.
    pub process: String,
    /// What is wrong.
    pub message: String,
}

impl PairingProblem {
    fn to_error(&self) -> Error {
        Error::Pairing {
            path: None,
            index: self.index,
            process: self.process.clone(),
            message: self.message.clone(),
        }
    }
}

impl std::fmt::Display for PairingProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.to_error().fmt(f)
    }
}

impl History {
    /// Builds a history and pairs each invocation with the next completion of the same process.
    ///
    /// A process that invokes while it still has an operation in flight is an error (Jepsen
    /// refuses such histories too), and so is a client's completion with no invocation. A
    /// nemesis' completion with no invocation (a nemesis that only logs `info`) stays
    /// unpaired. Ops with no `:process` pair among themselves, as one process. Invocations
    /// with no completion are pending: they may have taken effect, like `info`.
    pub fn new(ops: Vec<Op>) -> Result<History> {
        let h = History::new_lenient(ops)?;
        match h.problems.first() {
            None => Ok(h),
            Some(p) => Err(p.to_error()),
        }
    }

    /// Like [`History::new`], but a process that invokes while it has an op in flight does not
    /// stop it: the earlier invocation is left unpaired (pending) and the problem is kept in
    /// [`History::pairing_problems`]. For reading histories of unusual shape (ops with no
    /// process at all); a verdict drawn from such a history can claim no more than `unknown`.
    pub fn new_lenient(ops: Vec<Op>) -> Result<History> {
        if ops.len() >= NONE as usize {
            return Err(Error::Pairing {
                path: None,
                index: NONE as u64,
                process: String::new(),
                message: format!("history too long ({} ops)", ops.len()),
            });
        }
        let mut pair = vec![NONE; ops.len()];
        let mut problems = Vec::new();
        let mut open: HashMap<&Process, u32> = HashMap::new();
        for (i, op) in ops.iter().enumerate() {
            if op.ty == OpType::Invoke {
                if let Some(prev) = open.insert(&op.process, i as u32) {
                    problems.push(PairingProblem {
                        index: op.index,
                        process: op.process.to_string(),
                        message: format!(
                            "invoked while op {} of the same process is still in flight",
                            ops[prev as usize].index
                        ),
                    });
                }
            } else if let Some(inv) = open.remove(&op.process) {
                pair[inv as usize] = i as u32;
                pair[i] = inv;
            } else if op.process.is_client() {
                // A nemesis may log completions alone; a client never completes what it did
                // not invoke.
                problems.push(PairingProblem {
                    index: op.index,
                    process: op.process.to_string(),
                    message: format!("completed ({}) with no invocation", op.ty.as_str()),
                });
            }
        }
        Ok(History {
            ops,
            pair,
            problems,
        })
    }

    /// Pairing problems found by [`History::new_lenient`] (empty for [`History::new`]).
    pub fn pairing_problems(&self) -> &[PairingProblem] {
        &self.problems
    }

    /// Builds a history after renumbering `index` densely from 0 (for ops assembled by hand or
    /// filtered from a larger history).
    pub fn reindexed(mut ops: Vec<Op>) -> Result<History> {
        for (i, op) in ops.iter_mut().enumerate() {
            op.index = i as u64;
        }
        History::new(ops)
    }

    /// All ops in order.
    pub fn ops(&self) -> &[Op] {
        &self.ops
    }

    /// Consumes the history, returning its ops.
    pub fn into_ops(self) -> Vec<Op> {
        self.ops
    }

    /// Number of ops.
    pub fn len(&self) -> usize {
        self.ops.len()
    }

    /// True when there are no ops.
    pub fn is_empty(&self) -> bool {
        self.ops.is_empty()
    }

    /// The op at a position.
    pub fn get(&self, pos: usize) -> Option<&Op> {
        self.ops.get(pos)
    }

    /// The position of the op with this `index`.
    pub fn position_of_index(&self, index: u64) -> Option<usize> {
        if let Some(op) = self.ops.get(index as usize) {
            if op.index == index {
                return Some(index as usize);
            }
        }
        self.ops.iter().position(|o| o.index == index)
    }

    /// The position of the op paired with the op at `pos` (completion of an invocation, or
    /// invocation of a completion).
    pub fn pair_of(&self, pos: usize) -> Option<usize> {
        match self.pair.get(pos) {
            Some(&p) if p != NONE => Some(p as usize),
            _ => None,
        }
    }

    /// The completion of the invocation at `pos` (None while pending).
    pub fn completion(&self, pos: usize) -> Option<&Op> {
        if self.ops.get(pos)?.ty != OpType::Invoke {
            return None;
        }
        self.pair_of(pos).map(|p| &self.ops[p])
    }

    /// The invocation of the completion at `pos`.
    pub fn invocation(&self, pos: usize) -> Option<&Op> {
        if self.ops.get(pos)?.ty == OpType::Invoke {
            return None;
        }
        self.pair_of(pos).map(|p| &self.ops[p])
    }

    /// Every invocation with its completion, if any, in invocation order.
    pub fn pairs(&self) -> impl Iterator<Item = (&Op, Option<&Op>)> + '_ {
        self.ops
            .iter()
            .enumerate()
            .filter(|(_, o)| o.ty == OpType::Invoke)
            .map(|(i, o)| (o, self.pair_of(i).map(|p| &self.ops[p])))
    }

    /// Ops of client processes (not the nemesis).
    pub fn client_ops(&self) -> impl Iterator<Item = &Op> + '_ {
        self.ops.iter().filter(|o| o.process.is_client())
    }

    /// Ops of the nemesis.
    pub fn nemesis_ops(&self) -> impl Iterator<Item = &Op> + '_ {
        self.ops.iter().filter(|o| o.process == Process::Nemesis)
    }

    /// Ops of one type.
    pub fn of_type(&self, ty: OpType) -> impl Iterator<Item = &Op> + '_ {
        self.ops.iter().filter(move |o| o.ty == ty)
    }

    /// Invocations.
    pub fn invokes(&self) -> impl Iterator<Item = &Op> + '_ {
        self.of_type(OpType::Invoke)
    }

    /// `ok` completions.
    pub fn oks(&self) -> impl Iterator<Item = &Op> + '_ {
        self.of_type(OpType::Ok)
    }

    /// `info` completions.
    pub fn infos(&self) -> impl Iterator<Item = &Op> + '_ {
        self.of_type(OpType::Info)
    }

    /// `fail` completions.
    pub fn fails(&self) -> impl Iterator<Item = &Op> + '_ {
        self.of_type(OpType::Fail)
    }

    /// Ops whose `f` has this name (`by_f("read")` matches `:read` and `"read"`).
    pub fn by_f<'a>(&'a self, f: &'a str) -> impl Iterator<Item = &'a Op> + 'a {
        self.ops.iter().filter(move |o| o.f.is_name(f))
    }

    /// A new history of the ops that pass `keep`, renumbered densely.
    pub fn filter(&self, mut keep: impl FnMut(&Op) -> bool) -> Result<History> {
        History::reindexed(self.ops.iter().filter(|o| keep(o)).cloned().collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::value::Value;

    fn op(ty: OpType, p: i64, f: &str) -> Op {
        Op::new(ty, Process::Client(p), Value::kw(f), Value::Nil)
    }

    #[test]
    fn pairs_by_process() {
        let h = History::reindexed(vec![
            op(OpType::Invoke, 0, "read"),
            op(OpType::Invoke, 1, "write"),
            op(OpType::Ok, 1, "write"),
            op(OpType::Info, 0, "read"),
            op(OpType::Invoke, 2, "read"),
        ])
        .unwrap();
        assert_eq!(h.pair_of(0), Some(3));
        assert_eq!(h.pair_of(3), Some(0));
        assert_eq!(h.pair_of(1), Some(2));
        assert_eq!(h.completion(1).unwrap().ty, OpType::Ok);
        assert_eq!(h.invocation(2).unwrap().index, 1);
        assert!(h.completion(4).is_none());
        assert_eq!(h.pairs().count(), 3);
        assert_eq!(h.by_f("read").count(), 3);
        assert_eq!(h.oks().count(), 1);
        assert_eq!(h.infos().count(), 1);
    }

    #[test]
    fn double_invoke_is_an_error() {
        let e = History::reindexed(vec![op(OpType::Invoke, 0, "r"), op(OpType::Invoke, 0, "r")])
            .unwrap_err();
        assert!(e.to_string().contains("still in flight"), "{e}");
    }

    #[test]
    fn lone_client_completions_are_problems() {
        let mut nemesis = op(OpType::Info, 0, "start-partition");
        nemesis.process = Process::Nemesis;
        let h = History::reindexed(vec![nemesis.clone(), op(OpType::Invoke, 0, "r")]).unwrap();
        assert!(h.pairing_problems().is_empty());
        let mut ops = vec![
            nemesis,
            op(OpType::Ok, 3, "w"),
            op(OpType::Invoke, 0, "r"),
            op(OpType::Ok, 0, "r"),
        ];
        for (i, o) in ops.iter_mut().enumerate() {
            o.index = i as u64;
        }
        let h = History::new_lenient(ops.clone()).unwrap();
        let p: Vec<String> = h
            .pairing_problems()
            .iter()
            .map(|p| p.message.clone())
            .collect();
        assert_eq!(p, ["completed (ok) with no invocation"]);
        assert_eq!(h.pairing_problems()[0].index, 1);
        assert_eq!(h.pair_of(2), Some(3));
        let e = History::new(ops).unwrap_err();
        assert!(e.to_string().contains("with no invocation"), "{e}");
    }

    #[test]
    fn lenient_pairing_keeps_problems() {
        let h = History::new_lenient(vec![
            op(OpType::Invoke, 0, "r"),
            op(OpType::Invoke, 0, "r"),
            op(OpType::Ok, 0, "r"),
        ])
        .unwrap();
        assert_eq!(h.pairing_problems().len(), 1);
        assert_eq!(h.pair_of(0), None);
        assert_eq!(h.pair_of(1), Some(2));
    }

    #[test]
    fn a_nemesis_completion_alone_stays_unpaired() {
        let mut o = op(OpType::Info, 0, "r");
        o.process = Process::Nemesis;
        let h = History::reindexed(vec![o]).unwrap();
        assert_eq!(h.pair_of(0), None);
    }
}
