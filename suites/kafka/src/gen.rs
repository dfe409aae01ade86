//! The generator of Jepsen's queue workload (`jepsen.tests.kafka`): sends and polls (or
//! transactions of both) over integer keys, occasional assign/subscribe ops, client crashes,
//! and the final polls that read every key back to the highest offset seen.
//!
//! # The main phase ([`main_generator`])
//! Elle's list-append generator ([`rift_generator::list_append_generator`]: a rotating pool
//! of `key_count` keys, exponential key choice, values 1, 2, 3... per key, a key retired
//! after `max_writes_per_key` writes) is rewritten: `[:append k v]` becomes `[:send k v]`
//! and `[:r k nil]` becomes `[:poll]`. Ops made only of sends are tagged `:send`, only of
//! polls `:poll`, the rest `:txn` (Jepsen's `tag-rw`). Without `txn` each op has one
//! micro-op, so there are no `:txn` ops. Around that, as Jepsen composes them:
//! - **interleave-subscribes**: with probability `sub_p`, instead of its next txn the
//!   generator emits `{:f :assign|:subscribe, :value [k...]}` with the keys that txn would
//!   have touched (read keys too), and offers a fresh txn next time;
//! - **poll-unseen**: about a third of the assign/subscribe ops also get every key with ok
//!   sends beyond what ok polls have read (the op's `:unseen` field shows them), so lagging
//!   keys get consumers;
//! - **track-key-offsets**: every ok op's highest offset per key (sent or polled) goes into
//!   the shared [`Offsets`], the targets of the final polls;
//! - with `crash_clients`, `{:f :crash}` about every `crash_client_interval_s /
//!   concurrency` seconds on a random client (the client answers `info` and is replaced).
//!
//! # The final phase ([`final_generator`])
//! On every client thread, Jepsen's final-polls: `crash` (a fresh client), then
//! `debug-topic-partitions` of every tracked key, `assign` of every tracked key with
//! `seek-to-beginning? true`, then polls (`poll-ms` = [`QueueGenOptions::poll_ms`]) about
//! every 200 ms. The sequence restarts every [`QueueGenOptions::final_round`]; a thread
//! stops once its own ok polls have reached every target offset (each key separately), and
//! the whole phase stops at [`QueueGenOptions::final_time_limit`].
//!
//! # Example
//! ```
//! use rift_generator::{simulate, SimConfig};
//! use rift_history::{OpType, Value};
//! use rift_kafka_suite::gen::{main_generator, QueueGenOptions};
//!
//! let o = QueueGenOptions { concurrency: 2, ..QueueGenOptions::default() };
//! let (main, offsets) = main_generator(&o);
//! let cfg = SimConfig { concurrency: 2, nemesis: false, seed: 1, max_ops: 50 };
//! // A broker that acknowledges every op and reports no offsets.
//! let h = simulate(main, cfg, |op, _| (OpType::Ok, op.value.clone(), 1_000));
//! let f = h[0].f_name();
//! assert!(["send", "poll", "subscribe"].contains(&f), "{f}");
//! assert!(offsets.snapshot().is_empty());
//! ```
//!
//! # Edge cases
//! - Ops are pure: the txn generator keeps its key pool in the generator value (see
//!   `rift_generator`'s txn module), so an op offered and discarded (under the suite's
//!   `stagger` or beside the crash generator in `any`) consumes no value and no write of a
//!   key; per-key values stay 1, 2, 3... in dispatch order.
//! - [`Offsets`] is the one shared, mutable piece: written in `update` (on real completions
//!   only, and merging with `max` is idempotent), read by the final generator at its first
//!   op, once the main phase is over.
//! - No ok op touched any key: the final phase is empty (Jepsen's, too).
//! - An empty `sub_via` means no assign/subscribe ops at all.

use rand::Rng;
use rift_generator::{self as gen, Context, Gen, GenOp, Generator, KeyDist, Poll, TxnGenOptions};
use rift_history::{Op, OpType, Value};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Mean gap between two final polls of one thread (Jepsen's `(gen/stagger 1/5)`).
pub const FINAL_POLL_INTERVAL: Duration = Duration::from_millis(200);

/// Options of the queue workload's generator; `Default` is Jepsen's defaults.
#[derive(Clone, Debug, PartialEq)]
pub struct QueueGenOptions {
    /// `--txn`: ops are txns of 1..=`max_txn_length` sends and polls (tagged `:send` or
    /// `:poll` when homogeneous, else `:txn`). Off: every op is one send or one poll.
    pub txn: bool,
    /// `--sub-via`: how consumers get partitions, `"assign"` and/or `"subscribe"`; each
    /// assign/subscribe op picks one at random. Jepsen's default: subscribe.
    pub sub_via: Vec<String>,
    /// `--sub-p`: probability that an op is an assign/subscribe instead of a txn (1/64).
    pub sub_p: f64,
    /// Keys in play at any time (Elle's default for its exponential key choice: 10).
    pub key_count: usize,
    /// How keys are picked among those in play (Elle's default: exponential, base 2).
    pub key_dist: KeyDist,
    /// Most micro-ops per op with `txn` (Jepsen hardcodes 4; without `txn`, 1).
    pub max_txn_length: usize,
    /// `--max-writes-per-key`: sends to a key before a fresh key replaces it (1024).
    pub max_writes_per_key: u64,
    /// `--crash-clients`: emit `crash` ops during the main phase.
    pub crash_clients: bool,
    /// `--crash-client-interval`: roughly how long one client lives before it is crashed,
    /// in seconds (30); crashes come every `crash_client_interval_s / concurrency` s.
    pub crash_client_interval_s: f64,
    /// The test's client concurrency (the crash rate scales with it). Jepsen's `1n` on its
    /// usual 5 nodes: 5.
    pub concurrency: u32,
    /// `--final-time-limit`: how long the final polls may run at most (200 s).
    pub final_time_limit: Duration,
    /// How often a thread's final sequence (crash, debug, assign, polls) starts again while
    /// it has not caught up: 10 s, as Jepsen's final-polls describe it (its code says
    /// `(gen/time-limit 10000)`, seconds, so in practice one round there).
    pub final_round: Duration,
    /// `poll-ms` of the final polls (Jepsen: 1000). Main-phase polls carry none: the client
    /// uses its own default (Jepsen's 100 ms).
    pub poll_ms: u64,
}

impl Default for QueueGenOptions {
    fn default() -> QueueGenOptions {
        QueueGenOptions {
            txn: false,
            sub_via: vec!["subscribe".to_string()],
            sub_p: 1.0 / 64.0,
            key_count: 10,
            key_dist: KeyDist::Exponential { base: 2.0 },
            max_txn_length: 4,
            max_writes_per_key: 1024,
            crash_clients: false,
            crash_client_interval_s: 30.0,
            concurrency: 5,
            final_time_limit: Duration::from_secs(200),
            final_round: Duration::from_secs(10),
            poll_ms: 1000,
        }
    }
}

impl QueueGenOptions {
    /// The list-append options behind the main phase (one micro-op per op without `txn`).
    pub fn txn_options(&self) -> TxnGenOptions {
        TxnGenOptions {
            key_count: self.key_count.max(1),
            min_txn_length: 1,
            max_txn_length: if self.txn {
                self.max_txn_length.max(1)
            } else {
                1
            },
            max_writes_per_key: self.max_writes_per_key.max(1),
            key_dist: self.key_dist,
        }
    }
}

/// The highest offset per key seen in ok ops of the main phase (Jepsen's `max-offsets`
/// atom): filled by [`main_generator`], the targets of [`final_generator`]. Clones share.
#[derive(Clone, Debug, Default)]
pub struct Offsets(Arc<Mutex<BTreeMap<i64, i64>>>);

impl Offsets {
    /// An empty map.
    pub fn new() -> Offsets {
        Offsets::default()
    }

    /// A copy of the map, key -> highest offset.
    pub fn snapshot(&self) -> BTreeMap<i64, i64> {
        self.lock().clone()
    }

    /// Raises the offsets of these keys to at least the given ones.
    pub fn merge(&self, offsets: &BTreeMap<i64, i64>) {
        if !offsets.is_empty() {
            merge_max(&mut self.lock(), offsets);
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<i64, i64>> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Raises `into[k]` to at least `o`.
fn raise(into: &mut BTreeMap<i64, i64>, k: i64, o: i64) {
    let e = into.entry(k).or_insert(o);
    *e = (*e).max(o);
}

/// Merges `offsets` into `into` with `max`.
fn merge_max(into: &mut BTreeMap<i64, i64>, offsets: &BTreeMap<i64, i64>) {
    for (&k, &o) in offsets {
        raise(into, k, o);
    }
}

/// The micro-ops of a completed client op (`:send`, `:poll` or `:txn`, `ok` or `info`).
fn completed_mops(op: &Op) -> &[Value] {
    let counts = matches!(op.ty, OpType::Ok | OpType::Info)
        && matches!(op.f_name(), "send" | "poll" | "txn");
    match op.value.as_seq() {
        Some(mops) if counts => mops,
        _ => &[],
    }
}

/// The highest offset polled per key in a completed op (Jepsen's `op->max-poll-offsets`):
/// from `[:poll {k [[offset v] ...]}]` micro-ops; unknown offsets are skipped.
pub fn max_poll_offsets(op: &Op) -> BTreeMap<i64, i64> {
    let mut out = BTreeMap::new();
    for mop in completed_mops(op) {
        let Some([f, res]) = mop.as_seq() else {
            continue;
        };
        if !f.is_name("poll") {
            continue;
        }
        for (k, pairs) in res.as_map().unwrap_or(&[]) {
            let Some(k) = k.as_i64() else { continue };
            let offsets = pairs
                .as_seq()
                .unwrap_or(&[])
                .iter()
                .filter_map(|p| p.as_seq().and_then(|p| p.first()).and_then(Value::as_i64));
            let max = offsets.fold(-1, i64::max);
            raise(&mut out, k, max);
        }
    }
    out
}

/// The highest offset sent per key in a completed op (Jepsen's `op->max-send-offsets`):
/// from `[:send k [offset v]]` micro-ops; sends of unknown offset are skipped.
pub fn max_send_offsets(op: &Op) -> BTreeMap<i64, i64> {
    let mut out = BTreeMap::new();
    for mop in completed_mops(op) {
        let Some([f, k, v]) = mop.as_seq() else {
            continue;
        };
        let offset = match v {
            Value::Vector(pair) if pair.len() == 2 => pair[0].as_i64(),
            _ => None,
        };
        if let (true, Some(k), Some(o)) = (f.is_name("send"), k.as_i64(), offset) {
            raise(&mut out, k, o);
        }
    }
    out
}

/// The highest offset per key an op sent or polled (Jepsen's `op->max-offsets`).
pub fn max_offsets(op: &Op) -> BTreeMap<i64, i64> {
    let mut out = max_poll_offsets(op);
    merge_max(&mut out, &max_send_offsets(op));
    out
}

/// A generator shared by the states that follow it.
type Shared = Arc<dyn Generator>;

/// The child's next state: the new one if it changed, else the current one.
fn advance(cur: &Shared, next: Option<Gen>) -> Shared {
    next.map_or_else(|| cur.clone(), Shared::from)
}

/// Keys of a list-append txn, distinct, in order of first appearance.
fn txn_keys(txn: &Value) -> Vec<Value> {
    let mut keys: Vec<Value> = Vec::new();
    for mop in txn.as_seq().unwrap_or(&[]) {
        if let Some(k) = mop.as_seq().and_then(|m| m.get(1)) {
            if !keys.contains(k) {
                keys.push(k.clone());
            }
        }
    }
    keys
}

/// Jepsen's `txn-generator` and `tag-rw`: appends become sends, reads polls; `f` says
/// which kinds the op holds.
fn rewrite(op: GenOp) -> GenOp {
    let mut sends = false;
    let mut polls = false;
    let mops: Vec<Value> = op
        .value
        .as_seq()
        .unwrap_or(&[])
        .iter()
        .map(|mop| match mop.as_seq() {
            Some([f, k, v]) if f.is_name("append") => {
                sends = true;
                Value::Vector(vec![Value::kw("send"), k.clone(), v.clone()])
            }
            _ => {
                polls = true;
                Value::Vector(vec![Value::kw("poll")])
            }
        })
        .collect();
    let f = match (sends, polls) {
        (true, false) => "send",
        (false, true) => "poll",
        _ => "txn",
    };
    op.with_f(Value::kw(f)).with_value(Value::Vector(mops))
}

/// txn-generator + tag-rw + interleave-subscribes over a list-append generator.
struct Interleave {
    inner: Shared,
    sub_p: f64,
    sub_via: Arc<[String]>,
}

impl Generator for Interleave {
    fn op(&self, ctx: &Context) -> Poll {
        let (op, next) = match self.inner.op(ctx) {
            Poll::Op(op, next) => (op, next),
            other => return other,
        };
        let sub = {
            let mut rng = ctx.rng();
            let pick = !self.sub_via.is_empty() && rng.random::<f64>() < self.sub_p;
            pick.then(|| self.sub_via[rng.random_range(0..self.sub_via.len())].clone())
        };
        if let Some(f) = sub {
            // The txn is not taken: the inner generator stays as it was.
            let keys = Value::Vector(txn_keys(&op.value));
            let mut sub = op.with_f(Value::kw(&f)).with_value(keys);
            sub.extra.clear();
            return Poll::Op(sub, None);
        }
        let next = Interleave {
            inner: advance(&self.inner, next),
            sub_p: self.sub_p,
            sub_via: self.sub_via.clone(),
        };
        Poll::Op(rewrite(op), Some(Box::new(next)))
    }

    fn update(&self, ctx: &Context, event: &Op) -> Option<Gen> {
        let inner = self.inner.update(ctx, event)?;
        Some(Box::new(Interleave {
            inner: Shared::from(inner),
            sub_p: self.sub_p,
            sub_via: self.sub_via.clone(),
        }))
    }
}

/// Jepsen's `track-key-offsets`: ok ops' highest offsets go into the shared map.
struct TrackKeyOffsets {
    inner: Shared,
    offsets: Offsets,
}

impl Generator for TrackKeyOffsets {
    fn op(&self, ctx: &Context) -> Poll {
        match self.inner.op(ctx) {
            Poll::Op(op, next) => Poll::Op(
                op,
                next.map(|g| {
                    Box::new(TrackKeyOffsets {
                        inner: Shared::from(g),
                        offsets: self.offsets.clone(),
                    }) as Gen
                }),
            ),
            other => other,
        }
    }

    fn update(&self, ctx: &Context, event: &Op) -> Option<Gen> {
        if event.ty == OpType::Ok {
            self.offsets.merge(&max_offsets(event));
        }
        let inner = self.inner.update(ctx, event)?;
        Some(Box::new(TrackKeyOffsets {
            inner: Shared::from(inner),
            offsets: self.offsets.clone(),
        }))
    }
}

/// Jepsen's `poll-unseen`: tracks the highest offsets sent and polled by ok ops; about a
/// third of assign/subscribe ops also take the keys whose sends no poll has reached yet.
#[derive(Clone)]
struct PollUnseen {
    inner: Shared,
    sent: Arc<BTreeMap<i64, i64>>,
    polled: Arc<BTreeMap<i64, i64>>,
}

impl PollUnseen {
    /// `op` with the unseen keys first, then its own, and an `:unseen` field
    /// `{k {:polled p, :sent s}}` for whoever reads the history.
    fn widen(&self, mut op: GenOp) -> GenOp {
        let mut keys: Vec<Value> = self.sent.keys().map(|&k| Value::Int(k)).collect();
        for k in op.value.as_seq().unwrap_or(&[]) {
            if !keys.contains(k) {
                keys.push(k.clone());
            }
        }
        let unseen = self
            .sent
            .iter()
            .map(|(&k, &s)| {
                let p = self.polled.get(&k).copied().unwrap_or(-1);
                let m = vec![
                    (Value::kw("polled"), Value::Int(p)),
                    (Value::kw("sent"), Value::Int(s)),
                ];
                (Value::Int(k), Value::Map(m))
            })
            .collect();
        op.value = Value::Vector(keys);
        op.with_extra("unseen", Value::Map(unseen))
    }
}

impl Generator for PollUnseen {
    fn op(&self, ctx: &Context) -> Poll {
        let (op, next) = match self.inner.op(ctx) {
            Poll::Op(op, next) => (op, next),
            other => return other,
        };
        let is_sub = op.f.is_name("assign") || op.f.is_name("subscribe");
        let widen = is_sub && !self.sent.is_empty() && ctx.rng().random_ratio(1, 3);
        let op = if widen { self.widen(op) } else { op };
        let next = next.map(|g| {
            Box::new(PollUnseen {
                inner: Shared::from(g),
                ..self.clone()
            }) as Gen
        });
        Poll::Op(op, next)
    }

    fn update(&self, ctx: &Context, event: &Op) -> Option<Gen> {
        let inner = self.inner.update(ctx, event);
        let (sent_now, polled_now) = match event.ty {
            OpType::Ok => (max_send_offsets(event), max_poll_offsets(event)),
            _ => (BTreeMap::new(), BTreeMap::new()),
        };
        if inner.is_none() && sent_now.is_empty() && polled_now.is_empty() {
            return None;
        }
        let mut sent = (*self.sent).clone();
        let mut polled = (*self.polled).clone();
        merge_max(&mut sent, &sent_now);
        merge_max(&mut polled, &polled_now);
        // Forget keys whose polls have caught up with their sends.
        let caught_up: Vec<i64> = sent
            .keys()
            .chain(polled.keys())
            .copied()
            .filter(|k| polled.get(k).copied().unwrap_or(-1) >= sent.get(k).copied().unwrap_or(-1))
            .collect();
        for k in caught_up {
            sent.remove(&k);
            polled.remove(&k);
        }
        Some(Box::new(PollUnseen {
            inner: inner.map_or_else(|| self.inner.clone(), Shared::from),
            sent: Arc::new(sent),
            polled: Arc::new(polled),
        }))
    }
}

/// Jepsen's `crash-client-gen`: a `crash` about every `interval / concurrency` seconds.
fn crash_generator(o: &QueueGenOptions) -> Gen {
    let dt_s = o.crash_client_interval_s.max(0.0) / f64::from(o.concurrency.max(1));
    gen::stagger(
        (dt_s * 1e9) as i64,
        gen::repeat(gen::once(GenOp::invoke("crash", Value::Nil))),
    )
}

/// The client ops of the main phase, for ever (Jepsen's queue `:generator`): txns rewritten
/// into sends/polls, assign/subscribe ops interleaved, the poll-unseen widening, and crash
/// ops when `crash_clients`. Not rate-limited nor time-limited: wrap it with
/// `rift_core::workload::assemble_final`. The returned [`Offsets`] fills in as ok ops
/// complete; hand it to [`final_generator`].
pub fn main_generator(o: &QueueGenOptions) -> (Gen, Offsets) {
    let offsets = Offsets::new();
    let txns = gen::list_append_generator(o.txn_options());
    let interleaved = Interleave {
        inner: Shared::from(txns),
        sub_p: o.sub_p,
        sub_via: o.sub_via.iter().cloned().collect(),
    };
    let tracked = TrackKeyOffsets {
        inner: Arc::new(interleaved),
        offsets: offsets.clone(),
    };
    let main: Gen = Box::new(PollUnseen {
        inner: Arc::new(tracked),
        sent: Arc::default(),
        polled: Arc::default(),
    });
    let main = if o.crash_clients {
        gen::any(vec![crash_generator(o), main])
    } else {
        main
    };
    (main, offsets)
}

/// One round of final polls over `keys`: crash, debug-topic-partitions, assign with
/// seek-to-beginning, then polls about every [`FINAL_POLL_INTERVAL`], for `round`.
fn final_round(o: &QueueGenOptions, keys: &[i64]) -> Gen {
    let keys = Value::Vector(keys.iter().map(|&k| Value::Int(k)).collect());
    let poll = GenOp::invoke(
        "poll",
        Value::Vector(vec![Value::Vector(vec![Value::kw("poll")])]),
    )
    .with_extra("poll-ms", o.poll_ms as i64);
    gen::time_limit(
        o.final_round.as_nanos() as i64,
        gen::concat(vec![
            gen::once(GenOp::invoke("crash", Value::Nil)),
            gen::once(GenOp::invoke("debug-topic-partitions", keys.clone())),
            gen::once(GenOp::invoke("assign", keys).with_extra("seek-to-beginning?", true)),
            gen::stagger(
                FINAL_POLL_INTERVAL.as_nanos() as i64,
                gen::repeat(gen::once(poll)),
            ),
        ]),
    )
}

/// Jepsen's `FinalPolls` on one thread: rounds until this thread's ok polls reached every
/// target offset. The targets are read from the shared [`Offsets`] at the first op.
struct FinalPolls {
    opts: Arc<QueueGenOptions>,
    offsets: Offsets,
    /// Offsets still to reach; `None` before the first op.
    targets: Option<Arc<BTreeMap<i64, i64>>>,
    /// The rounds (a cycle of [`final_round`]); `None` before the first op.
    rounds: Option<Shared>,
}

impl Generator for FinalPolls {
    fn op(&self, ctx: &Context) -> Poll {
        let targets = match &self.targets {
            Some(t) => t.clone(),
            None => Arc::new(self.offsets.snapshot()),
        };
        if targets.is_empty() {
            return Poll::Exhausted;
        }
        let rounds = match &self.rounds {
            Some(r) => r.clone(),
            None => {
                let keys: Vec<i64> = targets.keys().copied().collect();
                Shared::from(gen::cycle(final_round(&self.opts, &keys)))
            }
        };
        match rounds.op(ctx) {
            Poll::Op(op, next) => {
                let next = FinalPolls {
                    opts: self.opts.clone(),
                    offsets: self.offsets.clone(),
                    targets: Some(targets),
                    rounds: Some(advance(&rounds, next)),
                };
                Poll::Op(op, Some(Box::new(next)))
            }
            other => other,
        }
    }

    fn update(&self, _ctx: &Context, event: &Op) -> Option<Gen> {
        let targets = self.targets.as_ref()?;
        if event.ty != OpType::Ok || !event.f.is_name("poll") {
            return None;
        }
        let seen = max_offsets(event);
        let reached = |k: &i64, t: &i64| seen.get(k).is_some_and(|s| s >= t);
        if !targets.iter().any(|(k, t)| reached(k, t)) {
            return None;
        }
        let left: BTreeMap<i64, i64> = targets
            .iter()
            .filter(|(k, t)| !reached(k, t))
            .map(|(&k, &t)| (k, t))
            .collect();
        Some(Box::new(FinalPolls {
            opts: self.opts.clone(),
            offsets: self.offsets.clone(),
            targets: Some(Arc::new(left)),
            rounds: self.rounds.clone(),
        }))
    }
}

/// Jepsen's final generator: the final polls (`FinalPolls`) on each thread (`each_thread`), bounded by
/// `final_time_limit`. Runs on whatever threads it is given: wrap it in `clients` (as
/// `rift_core::workload::assemble_final` does).
pub fn final_generator(o: &QueueGenOptions, offsets: Offsets) -> Gen {
    let polls = FinalPolls {
        opts: Arc::new(o.clone()),
        offsets,
        targets: None,
        rounds: None,
    };
    gen::time_limit(
        o.final_time_limit.as_nanos() as i64,
        gen::each_thread(Box::new(polls)),
    )
}

#[cfg(test)]
#[path = "gen_tests.rs"]
mod tests;
