//! The Wing-Gong-Lowe search over one partition.
//!
//! Calls and returns form a doubly linked list in history order. The search walks it from the
//! head: at a call it tries to linearize the op (step the model; skip when the pair
//! (linearized set, state) was seen before: Lowe's memoisation), lifting the op's call and
//! return out of the list; at a return it cannot go on (that op had to be linearized before
//! this point) and backtracks, unlifting the last op. Ops with unknown outcome have no return
//! node: they may be linearized anywhere after their call, or never, so the search succeeds
//! as soon as every `ok` op is linearized.

use crate::model::{Call, Model};
use crate::prepare::Partition;
use rift_history::Value;
use rustc_hash::FxHashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

const NIL: u32 = u32::MAX;
const FAIL: u32 = u32::MAX;
/// A transition not computed yet.
const UNSET: u32 = u32::MAX - 1;
/// Transitions of the first states live in a dense table of at most this many entries.
const DENSE_ENTRIES: usize = 1 << 18;

/// Limits shared by the partitions of one check.
pub(crate) struct Budget<'a> {
    /// When to give up.
    pub deadline: Option<Instant>,
    /// Bytes of search memory allowed, over all partitions.
    pub memory_bytes: usize,
    /// Bytes in use, over all partitions.
    pub used: &'a AtomicUsize,
}

/// What the search of one partition found.
pub(crate) enum SearchResult {
    /// Every ok op linearized.
    Linearizable,
    /// No linearization: the deepest configuration reached.
    Violation(Deepest),
    /// Gave up (budget exhausted).
    Unknown(String),
}

/// The deepest configuration the search reached: the longest linearizable prefix.
pub(crate) struct Deepest {
    /// Ops (partition indices) in linearization order.
    pub prefix: Vec<u32>,
    /// Model states seen at that depth (distinct, at most [`MAX_STATES`]).
    pub states: Vec<Value>,
}

/// At most this many distinct model states are kept for the counterexample.
pub(crate) const MAX_STATES: usize = 8;

/// Counters of one search.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Counters {
    pub steps: u64,
    pub cache_entries: u64,
    pub states: u64,
}

/// Interned model states and memoised transitions.
struct States<'m> {
    model: &'m dyn Model,
    values: Vec<Value>,
    /// Full 64-bit hash of a state -> the newest state id with that hash.
    heads: FxHashMap<u64, u32>,
    /// Per state id: the previous state id with the same hash (NIL ends the chain).
    chain: Vec<u32>,
    /// Transitions of states past the dense table: (state << 32 | call) -> next (or FAIL).
    trans: FxHashMap<u64, u32>,
    /// Transitions of states below `dense_states`, at `state * calls + call` (UNSET: unknown).
    dense: Vec<u32>,
    dense_states: usize,
    /// Approximate bytes held by the states.
    bytes: usize,
}

/// Equality of states, fast when they share string storage: states derived from one another
/// keep the same heap strings for what did not change, so comparing pointers first saves
/// comparing long strings byte by byte. Same answer as `==`.
fn same_state(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Vector(xs), Value::Vector(ys)) => {
            xs.len() == ys.len() && xs.iter().zip(ys).all(|(x, y)| same_scalar(x, y))
        }
        _ => a == b,
    }
}

fn same_scalar(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Str(x), Value::Str(y)) => {
            let (x, y) = (x.as_str(), y.as_str());
            x.len() == y.len() && (std::ptr::eq(x.as_ptr(), y.as_ptr()) || x == y)
        }
        _ => a == b,
    }
}

/// Approximate heap size of a value (for the memory budget).
fn approx_bytes(v: &Value) -> usize {
    let mut total = 0;
    let mut stack = vec![v];
    while let Some(v) = stack.pop() {
        total += std::mem::size_of::<Value>();
        match v {
            Value::Str(s) | Value::Keyword(s) | Value::Symbol(s) if s.len() > 23 => {
                total += s.len();
            }
            Value::Vector(xs) | Value::List(xs) | Value::Set(xs) => stack.extend(xs),
            Value::Map(m) => stack.extend(m.iter().flat_map(|(k, v)| [k, v])),
            _ => {}
        }
    }
    total
}

impl<'m> States<'m> {
    fn new(model: &'m dyn Model, calls: usize) -> States<'m> {
        let mut s = States {
            model,
            values: Vec::new(),
            heads: FxHashMap::default(),
            chain: Vec::new(),
            trans: FxHashMap::default(),
            dense: Vec::new(),
            dense_states: DENSE_ENTRIES / calls.max(1),
            bytes: 0,
        };
        s.intern(model.init());
        s
    }

    fn intern(&mut self, v: Value) -> u32 {
        use std::hash::BuildHasher;
        let hash = rustc_hash::FxBuildHasher.hash_one(&v);
        let head = self.heads.entry(hash).or_insert(NIL);
        let mut at = *head;
        while at != NIL {
            if same_state(&self.values[at as usize], &v) {
                return at;
            }
            at = self.chain[at as usize];
        }
        let id = self.values.len() as u32;
        self.chain.push(*head);
        *head = id;
        self.bytes += approx_bytes(&v) + 24;
        self.values.push(v);
        id
    }

    /// The state after `call` in `state` (None: illegal), memoised. A `pure` call (the
    /// model's [`Model::is_read_only`]) leaves the state as it is: its successor is not
    /// hashed and looked up again.
    fn step(&mut self, state: u32, call: u32, part: &Partition, pure: bool) -> Option<u32> {
        let ncalls = part.calls.len();
        let dense_at = (state as usize) * ncalls + call as usize;
        let cached = if (state as usize) < self.dense_states {
            self.dense.get(dense_at).copied().unwrap_or(UNSET)
        } else {
            let key = (u64::from(state) << 32) | u64::from(call);
            self.trans.get(&key).copied().unwrap_or(UNSET)
        };
        if cached != UNSET {
            return (cached != FAIL).then_some(cached);
        }
        let next = self
            .model
            .step(&self.values[state as usize], &part.calls[call as usize]);
        let t = match next {
            Some(v) if pure => {
                debug_assert!(
                    same_state(&v, &self.values[state as usize]),
                    "a read-only call changed the state"
                );
                state
            }
            Some(v) => self.intern(v),
            None => FAIL,
        };
        if (state as usize) < self.dense_states {
            if self.dense.len() <= dense_at {
                let want = ((state as usize) + 1) * ncalls;
                self.dense.resize(want, UNSET);
            }
            self.dense[dense_at] = t;
        } else {
            self.trans
                .insert((u64::from(state) << 32) | u64::from(call), t);
        }
        (t != FAIL).then_some(t)
    }

    fn bytes(&self) -> usize {
        self.bytes + self.trans.capacity() * 16 + self.dense.capacity() * 4
    }
}

/// Lowe's cache: the set of (linearized ops, state) configurations already explored.
///
/// A linearized set is all ones up to the oldest pending op and all zeros past the newest
/// linearized one, so only the words in between are stored: entries stay as small as the
/// window of concurrency, whatever the history's length.
struct Cache {
    heads: FxHashMap<u64, u32>,
    entries: Vec<CacheEntry>,
    bits: Vec<u64>,
}

struct CacheEntry {
    state: u32,
    /// The previous entry with the same hash key (NIL ends the chain).
    next: u32,
    /// Index of the first stored word (all words before it are all ones).
    lo: u32,
    /// Number of stored words (all words after them are zero).
    len: u32,
    /// Where the stored words start in `bits`.
    at: usize,
}

impl Cache {
    fn new() -> Cache {
        Cache {
            heads: FxHashMap::default(),
            entries: Vec::new(),
            bits: Vec::new(),
        }
    }

    /// Inserts a configuration; false when it was already there.
    fn insert(&mut self, hash: u64, state: u32, bits: &[u64]) -> bool {
        let lo = bits
            .iter()
            .position(|&w| w != u64::MAX)
            .unwrap_or(bits.len());
        let hi = bits
            .iter()
            .rposition(|&w| w != 0)
            .map_or(lo, |i| i + 1)
            .max(lo);
        let window = &bits[lo..hi];
        let key = hash ^ u64::from(state).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        let new_id = self.entries.len() as u32;
        let head = self.heads.entry(key).or_insert(NIL);
        let mut at = *head;
        while at != NIL {
            let e = &self.entries[at as usize];
            if e.state == state
                && e.lo as usize == lo
                && e.len as usize == window.len()
                && self.bits[e.at..e.at + window.len()] == *window
            {
                return false;
            }
            at = e.next;
        }
        self.entries.push(CacheEntry {
            state,
            next: *head,
            lo: lo as u32,
            len: window.len() as u32,
            at: self.bits.len(),
        });
        *head = new_id;
        self.bits.extend_from_slice(window);
        true
    }

    fn bytes(&self) -> usize {
        self.bits.capacity() * 8
            + self.entries.capacity() * std::mem::size_of::<CacheEntry>()
            + self.heads.capacity() * 13
    }
}

fn zobrist(i: u32) -> u64 {
    // splitmix64 of the op index: a fixed pseudo-random key per op.
    let mut z = u64::from(i).wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// The doubly linked list of call and return nodes: node `2i` is op i's call, `2i + 1` its
/// return, `2n` the head.
struct Links {
    next: Vec<u32>,
    prev: Vec<u32>,
    head: u32,
}

impl Links {
    fn new(part: &Partition) -> Links {
        let n = part.ops.len();
        let mut events: Vec<(u32, u32)> = Vec::with_capacity(2 * n);
        for (i, op) in part.ops.iter().enumerate() {
            events.push((op.invoke_pos, 2 * i as u32));
            if let Some(c) = op.complete_pos {
                events.push((c, 2 * i as u32 + 1));
            }
        }
        events.sort_unstable();
        let head = 2 * n as u32;
        let mut next = vec![NIL; 2 * n + 1];
        let mut prev = vec![NIL; 2 * n + 1];
        let mut last = head;
        for &(_, node) in &events {
            next[last as usize] = node;
            prev[node as usize] = last;
            last = node;
        }
        Links { next, prev, head }
    }

    fn remove(&mut self, x: u32) {
        let (p, n) = (self.prev[x as usize], self.next[x as usize]);
        self.next[p as usize] = n;
        if n != NIL {
            self.prev[n as usize] = p;
        }
    }

    fn restore(&mut self, x: u32) {
        let (p, n) = (self.prev[x as usize], self.next[x as usize]);
        self.next[p as usize] = x;
        if n != NIL {
            self.prev[n as usize] = x;
        }
    }
}

/// The state-changing calls whose invocation comes before a given return node, in list order.
struct BeforeReturn<'s, 'a, 'm> {
    search: &'s Search<'a, 'm>,
    at: u32,
    stop: u32,
}

impl<'s> Iterator for BeforeReturn<'s, '_, '_> {
    type Item = &'s Call;
    fn next(&mut self) -> Option<&'s Call> {
        let part = self.search.part;
        while self.at != NIL && self.at != self.stop {
            let x = self.at;
            self.at = self.search.links.next[x as usize];
            if x & 1 == 0 {
                let call = part.ops[x as usize / 2].call as usize;
                if !self.search.pure[call] {
                    return Some(&part.calls[call]);
                }
            }
        }
        None
    }
}

/// The search over one partition.
pub(crate) struct Search<'a, 'm> {
    part: &'a Partition,
    states: States<'m>,
    cache: Cache,
    links: Links,
    bits: Vec<u64>,
    hash: u64,
    /// (op, state before it, forced read) for each linearized op.
    stack: Vec<(u32, u32, bool)>,
    /// Per configuration on the path: (first candidate, next candidate, end) in `cands`.
    frames: Vec<(u32, u32, u32)>,
    cands: Vec<u32>,
    best: Vec<u32>,
    best_states: Vec<u32>,
    low_water: usize,
    /// Per distinct call: the model says it never changes the state.
    pure: Vec<bool>,
    /// The current model state.
    state: u32,
    /// Ok ops not linearized yet.
    remaining: usize,
    /// A configuration was just entered (run the pure pass, push its frame).
    enter: bool,
    /// Bytes reported to the budget.
    reported: usize,
    /// Per distinct call: the epoch in which it was last seen (for `dedup_indefinite`).
    seen: Vec<u32>,
    epoch: u32,
    pub counters: Counters,
}

impl<'a, 'm> Search<'a, 'm> {
    pub fn new(part: &'a Partition, model: &'m dyn Model) -> Search<'a, 'm> {
        let words = part.ops.len().div_ceil(64).max(1);
        Search {
            part,
            states: States::new(model, part.calls.len()),
            cache: Cache::new(),
            links: Links::new(part),
            bits: vec![0; words],
            hash: 0,
            stack: Vec::new(),
            frames: Vec::new(),
            cands: Vec::new(),
            best: Vec::new(),
            best_states: Vec::new(),
            low_water: 0,
            pure: part.calls.iter().map(|c| model.is_read_only(c)).collect(),
            state: 0,
            remaining: part.ops.iter().filter(|o| o.complete_pos.is_some()).count(),
            enter: true,
            reported: 0,
            seen: vec![0; part.calls.len()],
            epoch: 0,
            counters: Counters::default(),
        }
    }

    fn is_ok(&self, op: u32) -> bool {
        self.part.ops[op as usize].complete_pos.is_some()
    }

    fn toggle(&mut self, op: u32) {
        self.bits[op as usize / 64] ^= 1 << (op % 64);
        self.hash ^= zobrist(op);
    }

    fn lift(&mut self, op: u32) {
        self.links.remove(2 * op);
        if self.is_ok(op) {
            self.links.remove(2 * op + 1);
        }
    }

    fn unlift(&mut self, op: u32) {
        if self.is_ok(op) {
            self.links.restore(2 * op + 1);
        }
        self.links.restore(2 * op);
    }

    /// Records the current stack as the deepest configuration when it is (incrementally:
    /// only the part above the lowest point since the last record is copied).
    fn note_depth(&mut self, state: u32) {
        let depth = self.stack.len();
        if depth > self.best.len() {
            self.best.truncate(self.low_water.min(self.best.len()));
            let from = self.best.len();
            self.best
                .extend(self.stack[from..].iter().map(|&(op, _, _)| op));
            self.low_water = depth;
            self.best_states.clear();
        }
        if depth == self.best.len()
            && self.best_states.len() < MAX_STATES
            && !self.best_states.contains(&state)
        {
            self.best_states.push(state);
        }
    }

    /// Runs the search for at most about `slice` more steps: None when the slice ran out
    /// (call again to resume), else the result (final: later calls return it again).
    pub fn run(&mut self, budget: &Budget<'_>, slice: u64) -> Option<SearchResult> {
        let until = self.counters.steps.saturating_add(slice);
        let mut tick = 0u32;
        loop {
            if self.enter {
                self.enter = false;
                let doomed = !self.pure_pass();
                if self.remaining == 0 && !doomed {
                    return Some(self.finish(budget, SearchResult::Linearizable));
                }
                self.push_frame(doomed);
            }
            tick = tick.wrapping_add(1);
            if tick & 1023 == 0 {
                if let Some(reason) = self.over_budget(budget) {
                    return Some(self.finish(budget, SearchResult::Unknown(reason)));
                }
                if self.counters.steps >= until {
                    return None;
                }
            }
            let top = self.frames.len() - 1;
            let (start, cursor, end) = self.frames[top];
            if cursor < end {
                self.frames[top].1 += 1;
                let op = self.cands[cursor as usize];
                if self.try_linearize(op) {
                    self.enter = true;
                }
                continue;
            }
            // Every candidate of this configuration failed: undo its forced reads and the
            // choice that led here, and go on with the parent's next candidate.
            self.note_depth(self.state);
            self.frames.pop();
            self.cands.truncate(start as usize);
            if !self.unwind() {
                let deep = self.deepest();
                return Some(self.finish(budget, SearchResult::Violation(deep)));
            }
        }
    }

    fn finish(&mut self, budget: &Budget<'_>, r: SearchResult) -> SearchResult {
        budget.used.fetch_sub(self.reported, Ordering::Relaxed);
        self.reported = 0;
        r
    }

    /// Pops forced reads and then one choice; false when the stack ran out.
    fn unwind(&mut self) -> bool {
        loop {
            let Some((op, prev, forced)) = self.stack.pop() else {
                return false;
            };
            self.low_water = self.low_water.min(self.stack.len());
            self.toggle(op);
            self.unlift(op);
            if self.is_ok(op) {
                self.remaining += 1;
            }
            self.state = prev;
            if !forced {
                return true;
            }
        }
    }

    /// Pushes the candidates of the current configuration: the enabled calls (invoked before
    /// the first pending return) that change state, earliest deadline (return) first; ops
    /// with unknown outcome last. None when `doomed`.
    fn push_frame(&mut self, doomed: bool) {
        let start = self.cands.len();
        if !doomed {
            let mut x = self.links.next[self.links.head as usize];
            while x != NIL && x & 1 == 0 {
                let op = x / 2;
                if !self.pure[self.part.ops[op as usize].call as usize] {
                    self.cands.push(op);
                }
                x = self.links.next[x as usize];
            }
            let ops = &self.part.ops;
            self.cands[start..].sort_unstable_by_key(|&op| {
                (ops[op as usize].complete_pos.unwrap_or(u32::MAX), op)
            });
            self.dedup_indefinite(start);
        }
        let (start, end) = (start as u32, self.cands.len() as u32);
        self.frames.push((start, start, end));
    }

    /// Symmetry reduction: enabled ops of unknown outcome with the same call are
    /// interchangeable (no deadline, same effect, enabled from now on), so only the first of
    /// each call is a candidate.
    fn dedup_indefinite(&mut self, start: usize) {
        self.epoch = self.epoch.wrapping_add(1);
        if self.epoch == 0 {
            self.seen.fill(0);
            self.epoch = 1;
        }
        let (ops, seen, epoch) = (&self.part.ops, &mut self.seen, self.epoch);
        let mut keep = start;
        for i in start..self.cands.len() {
            let op = self.cands[i] as usize;
            if ops[op].complete_pos.is_none() {
                let c = ops[op].call as usize;
                if seen[c] == epoch {
                    continue;
                }
                seen[c] = epoch;
            }
            self.cands[keep] = op as u32;
            keep += 1;
        }
        self.cands.truncate(keep);
    }

    /// Whether the read-only op `g`, illegal in `state`, can still become legal through the
    /// state-changing calls that may go before it (those invoked before its completion): the
    /// model's pruning hook ([`Model::may_become_legal`]).
    fn read_may_succeed(&self, g: u32, state: u32) -> bool {
        let part = self.part;
        let op = part.ops[g as usize];
        if op.complete_pos.is_none() {
            return true;
        }
        let mut before = BeforeReturn {
            search: self,
            at: self.links.next[self.links.head as usize],
            stop: 2 * g + 1,
        };
        let value = &self.states.values[state as usize];
        let call = &part.calls[op.call as usize];
        self.states.model.may_become_legal(value, call, &mut before)
    }

    /// Linearizes every enabled read-only call that the model accepts in `state` (safe: a call
    /// that never changes the state can always go first, so no branching is needed). False
    /// when one of them leads to a configuration already explored, or when the model says an
    /// illegal one can never become legal: this configuration fails too.
    fn pure_pass(&mut self) -> bool {
        let state = self.state;
        let mut x = self.links.next[self.links.head as usize];
        while x != NIL && x & 1 == 0 {
            let op = x / 2;
            let call = self.part.ops[op as usize].call;
            if !self.pure[call as usize] {
                x = self.links.next[x as usize];
                continue;
            }
            if self.states.step(state, call, self.part, true) != Some(state) {
                if !self.read_may_succeed(op, state) {
                    return false;
                }
                x = self.links.next[x as usize];
                continue;
            }
            self.counters.steps += 1;
            self.toggle(op);
            if !self.cache.insert(self.hash, state, &self.bits) {
                self.toggle(op);
                return false;
            }
            self.counters.cache_entries += 1;
            self.stack.push((op, state, true));
            let p = self.links.prev[x as usize];
            self.lift(op);
            if self.is_ok(op) {
                self.remaining -= 1;
            }
            x = self.links.next[p as usize];
        }
        true
    }

    fn try_linearize(&mut self, op: u32) -> bool {
        self.counters.steps += 1;
        let call = self.part.ops[op as usize].call;
        let pure = self.pure[call as usize];
        let Some(next) = self.states.step(self.state, call, self.part, pure) else {
            return false;
        };
        self.toggle(op);
        if !self.cache.insert(self.hash, next, &self.bits) {
            self.toggle(op);
            return false;
        }
        self.counters.cache_entries += 1;
        self.stack.push((op, self.state, false));
        self.state = next;
        self.lift(op);
        if self.is_ok(op) {
            self.remaining -= 1;
        }
        true
    }

    fn over_budget(&mut self, budget: &Budget<'_>) -> Option<String> {
        if budget.deadline.is_some_and(|d| Instant::now() >= d) {
            return Some("time budget exhausted".into());
        }
        let bytes = self.cache.bytes() + self.states.bytes();
        if bytes > self.reported {
            budget
                .used
                .fetch_add(bytes - self.reported, Ordering::Relaxed);
            self.reported = bytes;
        }
        let used = budget.used.load(Ordering::Relaxed);
        (used > budget.memory_bytes).then(|| {
            format!(
                "memory budget exhausted ({} MB used of {} MB)",
                used >> 20,
                budget.memory_bytes >> 20
            )
        })
    }

    fn deepest(&mut self) -> Deepest {
        self.counters.states = self.states.values.len() as u64;
        Deepest {
            prefix: std::mem::take(&mut self.best),
            states: self
                .best_states
                .iter()
                .map(|&s| self.states.values[s as usize].clone())
                .collect(),
        }
    }
}
