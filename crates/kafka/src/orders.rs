//! Version orders: per key, the log of offsets to the values seen there, from every poll (of
//! any op type: Kafka consumers must only ever see safe data) and from the sends of ops that
//! must have committed. Offsets holding two values are `inconsistent-offsets`; a value at two
//! offsets is a `duplicate`. Gaps in offsets (transaction markers) are skipped: the *index* of
//! a value is its position among the offsets that hold something.

use crate::model::{Model, NONE};
use crate::Case;

/// The log of one key.
#[derive(Default, Debug)]
pub(crate) struct KeyLog {
    /// (offset, start, end) into [`Orders::log_vals`], by offset; every entry non-empty.
    pub log: Vec<(i64, u32, u32)>,
    /// Dense index -> the value standing for that offset (the first interned, when several).
    pub by_index: Vec<u32>,
}

/// Version orders of all keys.
pub(crate) struct Orders {
    pub keys: Vec<KeyLog>,
    pub log_vals: Vec<u32>,
    /// Per vid: its index in `by_index` (the last, if it stands for several offsets), or NONE.
    pub index_of: Vec<u32>,
    /// Per vid: the first and last index where it appears in the log, or NONE.
    pub first_index: Vec<u32>,
    pub last_index: Vec<u32>,
}

impl Orders {
    /// Builds the orders and reports inconsistent offsets and duplicates into `out`.
    pub fn new(m: &Model, out: &mut Vec<Case>) -> Orders {
        let mut obs: Vec<u128> = Vec::with_capacity(m.reads.len() + m.writes.len());
        let mut push = |key: u32, offset: i64, vid: u32| {
            if offset >= 0 {
                obs.push(((key as u128) << 96) | ((offset as u128) << 32) | vid as u128);
            }
        };
        for op in &m.ops {
            for r in &m.reads[op.reads.0 as usize..op.reads.1 as usize] {
                push(r.key, r.offset, r.vid);
            }
            if op.committed {
                for w in &m.writes[op.writes.0 as usize..op.writes.1 as usize] {
                    push(w.key, w.offset, w.vid);
                }
            }
        }
        obs.sort_unstable();
        obs.dedup();
        let n = m.vals.len();
        let mut o = Orders {
            keys: (0..m.keys.len()).map(|_| KeyLog::default()).collect(),
            log_vals: Vec::with_capacity(obs.len()),
            index_of: vec![NONE; n],
            first_index: vec![NONE; n],
            last_index: vec![NONE; n],
        };
        let mut i = 0;
        while i < obs.len() {
            let (key, offset) = ((obs[i] >> 96) as u32, ((obs[i] >> 32) as u64) as i64);
            let start = o.log_vals.len() as u32;
            let group = obs[i] >> 32;
            while i < obs.len() && obs[i] >> 32 == group {
                o.log_vals.push(obs[i] as u32);
                i += 1;
            }
            let end = o.log_vals.len() as u32;
            let kl = &mut o.keys[key as usize];
            let index = kl.by_index.len() as u32;
            kl.log.push((offset, start, end));
            let rep = o.log_vals[start as usize];
            kl.by_index.push(rep);
            o.index_of[rep as usize] = index;
            for &v in &o.log_vals[start as usize..end as usize] {
                if o.first_index[v as usize] == NONE {
                    o.first_index[v as usize] = index;
                }
                o.last_index[v as usize] = index;
            }
            if end - start > 1 {
                out.push(Case::Inconsistent {
                    key,
                    offset,
                    index,
                    values: o.log_vals[start as usize..end as usize].to_vec(),
                });
            }
        }
        o.duplicates(out);
        o
    }

    fn duplicates(&self, out: &mut Vec<Case>) {
        let mut offsets: Vec<Vec<i64>> = Vec::new();
        let mut slot: rustc_hash::FxHashMap<u32, usize> = Default::default();
        for (key, kl) in self.keys.iter().enumerate() {
            slot.clear();
            offsets.clear();
            for &(offset, s, e) in &kl.log {
                for &v in &self.log_vals[s as usize..e as usize] {
                    if self.first_index[v as usize] == self.last_index[v as usize] {
                        continue;
                    }
                    let i = *slot.entry(v).or_insert_with(|| {
                        offsets.push(Vec::new());
                        offsets.len() - 1
                    });
                    offsets[i].push(offset);
                }
            }
            let mut found: Vec<(u32, usize)> = slot.iter().map(|(&v, &i)| (v, i)).collect();
            found.sort_unstable();
            for (value, i) in found {
                out.push(Case::Duplicate {
                    key: key as u32,
                    value,
                    offsets: std::mem::take(&mut offsets[i]),
                });
            }
        }
    }

    /// The index delta between two values of a key: `i2 - i1` when both are known, else 1.
    pub fn delta(&self, v1: u32, v2: u32) -> i64 {
        let (i1, i2) = (self.index_of[v1 as usize], self.index_of[v2 as usize]);
        if i1 == NONE || i2 == NONE {
            1
        } else {
            i2 as i64 - i1 as i64
        }
    }

    /// The values strictly between two values' indices (what a skip jumped over).
    pub fn between(&self, key: u32, v1: u32, v2: u32) -> &[u32] {
        let (i1, i2) = (self.index_of[v1 as usize], self.index_of[v2 as usize]);
        if i1 == NONE || i2 == NONE || i2 <= i1 + 1 {
            return &[];
        }
        &self.keys[key as usize].by_index[i1 as usize + 1..i2 as usize]
    }

    /// The value standing right before `v` in its key's order.
    pub fn previous(&self, key: u32, v: u32) -> Option<u32> {
        let i = self.index_of[v as usize];
        if i == NONE || i == 0 {
            return None;
        }
        Some(self.keys[key as usize].by_index[i as usize - 1])
    }
}
