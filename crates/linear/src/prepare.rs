//! From a history to the search's input: calls, dropped ops, partitions.

use crate::model::{Call, Model};
use rift_history::{History, Value};
use rustc_hash::FxHashMap;

/// One operation kept for the search.
#[derive(Clone, Copy, Debug)]
pub(crate) struct PreparedOp {
    /// Index into the partition's distinct calls.
    pub call: u32,
    /// Position of the invocation in the history.
    pub invoke_pos: u32,
    /// Position of the `ok` completion; `None` when the outcome is unknown (`info`, pending).
    pub complete_pos: Option<u32>,
}

/// The ops of one partition, in invocation order, with their distinct calls.
#[derive(Debug, Default)]
pub(crate) struct Partition {
    /// The partition key (None when the model is not partitioned).
    pub key: Option<Value>,
    /// The ops.
    pub ops: Vec<PreparedOp>,
    /// Distinct calls (many ops share one: `read 3`), indexed by `PreparedOp::call`.
    pub calls: Vec<Call>,
    call_ids: FxHashMap<Call, u32>,
}

impl Partition {
    fn push(&mut self, call: Call, invoke_pos: u32, complete_pos: Option<u32>) {
        let next = self.calls.len() as u32;
        let id = *self.call_ids.entry(call).or_insert_with_key(|c| {
            self.calls.push(c.clone());
            next
        });
        self.ops.push(PreparedOp {
            call: id,
            invoke_pos,
            complete_pos,
        });
    }
}

/// Counts of what preparation kept and dropped.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PrepareStats {
    /// Client invocations completed `ok`.
    pub ok: usize,
    /// Client invocations with unknown outcome (`info` or never completed) kept for the search.
    pub indefinite: usize,
    /// Invocations that completed `fail` (dropped: they did not happen).
    pub failed: usize,
    /// Read-only invocations with unknown outcome (dropped: they constrain nothing).
    pub unknown_reads: usize,
}

/// Splits the client ops of `history` into partitions (one unless `split` and the model
/// partitions its calls), dropping failed ops and unknown reads.
pub(crate) fn prepare(
    history: &History,
    model: &dyn Model,
    split: bool,
) -> (Vec<Partition>, PrepareStats) {
    let mut parts: Vec<Partition> = Vec::new();
    let mut by_key: FxHashMap<Option<Value>, usize> = FxHashMap::default();
    let mut stats = PrepareStats::default();
    for (pos, op) in history.ops().iter().enumerate() {
        if !op.is_invoke() || !op.is_client() {
            continue;
        }
        let comp_pos = history.pair_of(pos);
        let comp = comp_pos.map(|p| &history.ops()[p]);
        if comp.is_some_and(|c| c.is_fail()) {
            stats.failed += 1;
            continue;
        }
        let call = Call::of(op, comp);
        let known = call.output.is_some();
        if !known && model.is_read_only(&call) {
            stats.unknown_reads += 1;
            continue;
        }
        if known {
            stats.ok += 1;
        } else {
            stats.indefinite += 1;
        }
        let key = if split { model.partition(&call) } else { None };
        let idx = *by_key.entry(key.clone()).or_insert_with(|| {
            parts.push(Partition {
                key,
                ..Partition::default()
            });
            parts.len() - 1
        });
        let complete = if known {
            comp_pos.map(|p| p as u32)
        } else {
            None
        };
        parts[idx].push(call, pos as u32, complete);
    }
    parts.sort_by(|a, b| a.key.cmp(&b.key));
    (parts, stats)
}
