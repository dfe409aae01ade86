//! Beyond the seed: exactly-once end to end through a Flink job, with Kafka as source and
//! sink (`--workload exactly-once`).
//!
//! rift's clients send unique integers to the input topic `t0` (keys 0..P are its P
//! partitions, through the Kafka suite's client and its error table), while thread 0 polls the
//! job as the seed does. rift's `KafkaExactlyOnceJob` reads `t0` with `read_committed`, counts
//! a sequence number per key in keyed state, and writes `v * 2^20 + seq` to the same
//! partition of `t1` (keys P..2P) with Flink's transactional (EXACTLY_ONCE) Kafka sink. Once
//! the faults are over and the job has run again, one `read-output` op reads all of `t1`
//! from the beginning with `read_committed`, and [`EoChecker`] checks that:
//!
//! - every acknowledged input appears in the output (`lost` otherwise), exactly once
//!   (`duplicate`), and nothing appears that was never sent, or whose send failed
//!   (`unexpected`);
//! - per key, the output keeps the input's order (`reordered`: two values of a key whose
//!   output order is not their input offsets' order);
//! - per key, the job's sequence numbers run 1, 2, 3, ... in output order (`seq-mismatch`: a
//!   keyed-state update lost or applied twice across a failover, even where the values
//!   themselves look right).
//!
//! Sends whose outcome is unknown (`info`) may or may not appear, once.

use crate::client::FlinkClient;
use async_trait::async_trait;
use rift_checker::{CheckContext, CheckResult, Checker, Validity};
use rift_core::{Client, PlugResult, RiftError, TestInfo};
use rift_generator::{self as gen, Gen, GenOp};
use rift_history::{History, Op, OpType, Value};
use rift_kafka_suite::client::{create_topics, ClientOptions, KafkaClient};
use serde_json::json;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Partitions of the input and the output topic (keys 0..P and P..2P).
pub const PARTITIONS: i32 = 4;
/// The input topic (keys 0..P).
pub const INPUT_TOPIC: &str = "t0";
/// The output topic (keys P..2P).
pub const OUTPUT_TOPIC: &str = "t1";
/// Bits of an output value that hold the sequence number.
pub const SEQ_BITS: u32 = 20;

/// The Kafka client settings of the senders and the final reader: acks all, idempotent,
/// read_committed from the earliest offset, the Kafka suite's replication.
pub fn client_options() -> ClientOptions {
    ClientOptions {
        acks: "all".into(),
        idempotence: true,
        txn: false,
        isolation_level: "read_committed".into(),
        auto_offset_reset: "earliest".into(),
        enable_auto_commit: false,
        partitions_per_topic: PARTITIONS,
        replication_factor: 3,
        min_insync_replicas: 2,
        ..ClientOptions::default()
    }
}

/// The transaction timeout of the job's Kafka sink, ms: the broker's ceiling
/// (`transaction.max.timeout.ms`, 15 min by default). A transaction a checkpoint has sealed is
/// committed only after the job recovers; if recovery takes longer than the timeout, the
/// broker aborts it and its records are lost (Flink's documented caveat). The run allows
/// 180 s of recovery, so a shorter timeout (this was 60 s) makes losses the configuration's,
/// not the system's: CI saw 562 acknowledged values lost after a 71 s recovery.
pub const SINK_TRANSACTION_TIMEOUT_MS: &str = "900000";

/// The job's arguments (see the job's source): its sink `guarantee` is `exactly-once`, or
/// `at-least-once` (a deliberate weakening).
pub fn job_args(bootstrap: &str, guarantee: &str) -> Vec<String> {
    [
        bootstrap,
        INPUT_TOPIC,
        OUTPUT_TOPIC,
        "rift-eo",
        "1000",
        "2",
        "rift-eo",
        "same",
        SINK_TRANSACTION_TIMEOUT_MS,
        guarantee,
    ]
    .map(String::from)
    .to_vec()
}

/// One value's send: `[[:send k v]]`.
pub fn send_op(k: i64, v: i64) -> GenOp {
    GenOp::invoke(
        "send",
        Value::Vector(vec![Value::Vector(vec![
            Value::kw("send"),
            k.into(),
            v.into(),
        ])]),
    )
}

/// Sends of fresh values to random input keys, for ever (bound them with a time limit).
pub fn send_gen() -> Gen {
    let next = Arc::new(AtomicI64::new(0));
    gen::from_fn(move |ctx| {
        use rand::Rng;
        let k = ctx.rng().random_range(0..i64::from(PARTITIONS));
        Some(send_op(k, next.fetch_add(1, Ordering::Relaxed)))
    })
}

/// The final read, retried up to 5 times until one completes ok.
pub fn read_gen() -> Gen {
    gen::until_ok(gen::limit(
        5,
        gen::repeat(gen::once(GenOp::invoke("read-output", Value::Nil))),
    ))
}

/// The Flink client (job submission, polls) and a Kafka client (sends, the final read) in
/// one: ops go to the one they belong to.
pub struct EoClient {
    flink: FlinkClient,
    kafka: Arc<KafkaClient>,
    conn: Option<Box<dyn Client>>,
    /// A broker for creating the topics.
    admin_bootstrap: String,
    /// How long the final read may take.
    pub read_limit: Duration,
}

impl EoClient {
    /// Clients of the JobManagers and of Kafka (`bootstrap`: node -> broker address).
    pub fn new(flink: FlinkClient, bootstrap: BTreeMap<String, String>, seed: u64) -> EoClient {
        let admin_bootstrap = bootstrap.values().next().cloned().unwrap_or_default();
        EoClient {
            flink,
            kafka: Arc::new(KafkaClient::new(bootstrap, client_options(), seed)),
            conn: None,
            admin_bootstrap,
            read_limit: Duration::from_secs(90),
        }
    }

    fn conn(&mut self) -> PlugResult<&mut Box<dyn Client>> {
        self.conn
            .as_mut()
            .ok_or_else(|| RiftError::new("flink", "the Kafka client is not open"))
    }

    /// Reads every output partition from its beginning until three polls in a row return
    /// nothing: `[[:poll {k [[offset v] ...]}]]`.
    async fn read_output(&mut self, test: &TestInfo, op: &Op) -> PlugResult<Op> {
        let keys: Vec<Value> = (PARTITIONS..2 * PARTITIONS)
            .map(|k| Value::Int(k.into()))
            .collect();
        let mut assign = Op::invoke(0, "assign", Value::Vector(keys));
        assign.process = op.process.clone();
        assign.set_extra("seek-to-beginning?", Value::Bool(true));
        let done = self.conn()?.invoke(test, &assign).await?;
        if done.ty != OpType::Ok {
            let e = done.error.clone().unwrap_or(Value::str("assign failed"));
            return Ok(op.complete(OpType::Fail, Value::Nil).with_error(e));
        }
        let mut read: BTreeMap<i64, BTreeMap<i64, Value>> = BTreeMap::new();
        let mut empty = 0;
        let started = Instant::now();
        while empty < 3 {
            if started.elapsed() > self.read_limit {
                return Ok(op.complete(OpType::Fail, Value::Nil).with_error(Value::str(
                    "the output was still growing at the read's limit",
                )));
            }
            let mut poll = Op::invoke(
                0,
                "poll",
                Value::Vector(vec![Value::Vector(vec![Value::kw("poll")])]),
            );
            poll.process = op.process.clone();
            poll.set_extra("poll-ms", Value::Int(1000));
            let done = self.conn()?.invoke(test, &poll).await?;
            if done.ty != OpType::Ok {
                let e = done.error.clone().unwrap_or(Value::str("poll failed"));
                return Ok(op.complete(OpType::Fail, Value::Nil).with_error(e));
            }
            let mut got = 0;
            for (k, records) in polled(&done.value) {
                for (o, v) in records {
                    got += 1;
                    read.entry(k).or_default().insert(o, v);
                }
            }
            empty = if got == 0 { empty + 1 } else { 0 };
        }
        let m = read
            .into_iter()
            .map(|(k, recs)| {
                let pairs = recs
                    .into_iter()
                    .map(|(o, v)| Value::Vector(vec![o.into(), v]))
                    .collect();
                (Value::Int(k), Value::Vector(pairs))
            })
            .collect();
        Ok(op.complete(
            OpType::Ok,
            Value::Vector(vec![Value::Vector(vec![Value::kw("poll"), Value::Map(m)])]),
        ))
    }
}

/// The records of a poll completion `[[:poll {k [[o v] ...]}]]`.
pub fn polled(v: &Value) -> Vec<(i64, Vec<(i64, Value)>)> {
    let mut out = Vec::new();
    for mop in v.as_seq().unwrap_or(&[]) {
        let Some(parts) = mop.as_seq() else { continue };
        if parts.first().is_some_and(|f| f.is_name("poll")) {
            for (k, recs) in parts.get(1).and_then(Value::as_map).unwrap_or(&[]) {
                let Value::Int(k) = k else { continue };
                let rs = recs
                    .as_seq()
                    .unwrap_or(&[])
                    .iter()
                    .filter_map(|r| {
                        let p = r.as_seq()?;
                        match (p.first()?, p.get(1)?) {
                            (Value::Int(o), v) => Some((*o, v.clone())),
                            _ => None,
                        }
                    })
                    .collect();
                out.push((*k, rs));
            }
        }
    }
    out
}

#[async_trait]
impl Client for EoClient {
    async fn open(&self, test: &TestInfo, node: &str) -> PlugResult<Box<dyn Client>> {
        Ok(Box::new(EoClient {
            flink: self.flink.clone(),
            kafka: self.kafka.clone(),
            conn: Some(self.kafka.open(test, node).await?),
            admin_bootstrap: self.admin_bootstrap.clone(),
            read_limit: self.read_limit,
        }))
    }

    async fn setup(&mut self, test: &TestInfo) -> PlugResult<()> {
        if self.flink.job_ids().await.is_none() {
            // Both topics first: the job reads one and writes the other.
            let keys: Vec<i64> = (0..2 * i64::from(PARTITIONS)).collect();
            create_topics(&self.admin_bootstrap, &keys, &client_options()).await?;
        }
        self.flink.setup(test).await
    }

    async fn invoke(&mut self, test: &TestInfo, op: &Op) -> PlugResult<Op> {
        match op.f_name() {
            "jobs-running?" | "cancel-jobs" => self.flink.invoke(test, op).await,
            "read-output" => self.read_output(test, op).await,
            _ => self.conn()?.invoke(test, op).await,
        }
    }

    async fn teardown(&mut self, test: &TestInfo) -> PlugResult<()> {
        match self.conn.as_mut() {
            Some(c) => c.teardown(test).await,
            None => Ok(()),
        }
    }

    async fn close(&mut self, test: &TestInfo) -> PlugResult<()> {
        match self.conn.as_mut() {
            Some(c) => c.close(test).await,
            None => Ok(()),
        }
    }
}

/// A send's outcome, as the checker reads it.
#[derive(Clone, Debug, PartialEq)]
struct Sent {
    key: i64,
    offset: Option<i64>,
    ty: OpType,
}

fn sends(h: &History) -> BTreeMap<i64, Sent> {
    let mut out = BTreeMap::new();
    for op in h.ops() {
        if !op.is_client() || op.f_name() != "send" || op.ty == OpType::Invoke {
            continue;
        }
        for mop in op.value.as_seq().unwrap_or(&[]) {
            let Some(p) = mop.as_seq() else { continue };
            let (Some(Value::Int(k)), Some(x)) = (p.get(1), p.get(2)) else {
                continue;
            };
            let (offset, v) = match x {
                Value::Int(v) => (None, *v),
                Value::Vector(ov) => match (ov.first(), ov.get(1)) {
                    (Some(Value::Int(o)), Some(Value::Int(v))) => (Some(*o), *v),
                    (_, Some(Value::Int(v))) => (None, *v),
                    _ => continue,
                },
                _ => continue,
            };
            out.insert(
                v,
                Sent {
                    key: *k,
                    offset,
                    ty: op.ty,
                },
            );
        }
    }
    out
}

/// The exactly-once checker. See the module documentation.
#[derive(Clone, Debug, Default)]
pub struct EoChecker;

impl Checker for EoChecker {
    fn check(&self, _ctx: &CheckContext, h: &History) -> CheckResult {
        let sent = sends(h);
        let Some(read) = h
            .ops()
            .iter()
            .rev()
            .find(|o| o.is_client() && o.f_name() == "read-output" && o.ty == OpType::Ok)
        else {
            let mut r = CheckResult::with_validity(Validity::Unknown);
            r.details.insert(
                "error".into(),
                "no read-output op completed ok: the output was never read".into(),
            );
            return r;
        };
        let mask = (1i64 << SEQ_BITS) - 1;
        // Output values per value: where they are; per key: in output order.
        let mut seen: BTreeMap<i64, Vec<(i64, i64)>> = BTreeMap::new();
        let mut unexpected = Vec::new();
        let mut reordered = Vec::new();
        let mut seq_bad = Vec::new();
        let mut undecodable = 0u64;
        let mut read_count = 0u64;
        for (k, recs) in polled(&read.value) {
            let in_key = k - i64::from(PARTITIONS);
            let mut last_in: Option<(i64, i64)> = None;
            for (i, (o, x)) in recs.iter().enumerate() {
                read_count += 1;
                let Value::Int(x) = x else {
                    undecodable += 1;
                    continue;
                };
                let (v, seq) = (x >> SEQ_BITS, x & mask);
                let copies = seen.entry(v).or_default();
                copies.push((k, *o));
                // A second copy is a duplicate, not also a reordering.
                let first_copy = copies.len() == 1;
                if seq != i as i64 + 1 && seq_bad.len() < 20 {
                    seq_bad.push(json!({"key": in_key, "output-offset": o, "value": v,
                        "seq": seq, "expected-seq": i + 1}));
                }
                match sent.get(&v) {
                    None => unexpected.push(json!({"value": v, "why": "never sent", "output-offset": o})),
                    Some(s) if s.ty == OpType::Fail => {
                        unexpected.push(json!({"value": v, "why": "its send failed", "output-offset": o}))
                    }
                    Some(s) if s.key != in_key => unexpected.push(
                        json!({"value": v, "why": format!("sent to key {}, output under key {in_key}", s.key), "output-offset": o}),
                    ),
                    Some(_) if !first_copy => {}
                    Some(s) => {
                        if let (Some(io), Some((pv, pio))) = (s.offset, last_in) {
                            if io < pio && reordered.len() < 20 {
                                reordered.push(json!({"key": in_key, "value": v, "input-offset": io,
                                    "after": pv, "after-input-offset": pio, "output-offset": o}));
                            }
                        }
                        if let Some(io) = s.offset {
                            if last_in.is_none_or(|(_, p)| io > p) {
                                last_in = Some((v, io));
                            }
                        }
                    }
                }
            }
        }
        let acked: BTreeSet<i64> = sent
            .iter()
            .filter(|(_, s)| s.ty == OpType::Ok)
            .map(|(v, _)| *v)
            .collect();
        let lost: Vec<i64> = acked
            .iter()
            .filter(|v| !seen.contains_key(v))
            .copied()
            .collect();
        let dups: Vec<serde_json::Value> = seen
            .iter()
            .filter(|(_, at)| at.len() > 1)
            .map(|(v, at)| json!({"value": v, "at": at}))
            .collect();
        let info_seen = sent
            .iter()
            .filter(|(v, s)| s.ty == OpType::Info && seen.contains_key(v))
            .count();
        let mut types = Vec::new();
        let mut d = serde_json::Map::new();
        let mut report = |name: &str, count: usize, examples: serde_json::Value| {
            if count > 0 {
                types.push(name.to_string());
                d.insert(name.into(), json!({"count": count, "examples": examples}));
            }
        };
        report(
            "lost",
            lost.len(),
            json!(lost.iter().take(20).collect::<Vec<_>>()),
        );
        report(
            "duplicate",
            dups.len(),
            json!(dups.iter().take(20).collect::<Vec<_>>()),
        );
        report(
            "unexpected",
            unexpected.len(),
            json!(unexpected.iter().take(20).collect::<Vec<_>>()),
        );
        report("reordered", reordered.len(), json!(reordered));
        report("seq-mismatch", seq_bad.len(), json!(seq_bad));
        let mut r = CheckResult::from_anomalies(types);
        r.details.extend(d);
        r.details
            .insert("acknowledged-count".into(), acked.len().into());
        r.details.insert(
            "unknown-sends-count".into(),
            sent.values()
                .filter(|s| s.ty == OpType::Info)
                .count()
                .into(),
        );
        r.details
            .insert("unknown-sends-read-count".into(), info_seen.into());
        r.details.insert("read-count".into(), read_count.into());
        if undecodable > 0 {
            r.details
                .insert("undecodable-count".into(), undecodable.into());
            if r.valid == Validity::True {
                r.valid = Validity::Unknown;
            }
        }
        r
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rift_history::Process;

    struct B(Vec<Op>);

    impl B {
        fn push(&mut self, ty: OpType, f: &str, v: Value) {
            let mut op = Op::new(ty, Process::Client(1), Value::kw(f), v);
            op.index = self.0.len() as u64;
            op.time = Some(op.index as i64);
            self.0.push(op);
        }
        fn send(&mut self, k: i64, v: i64, ack: Option<i64>, ty: OpType) -> &mut Self {
            let mop =
                |x: Value| Value::Vector(vec![Value::Vector(vec![Value::kw("send"), k.into(), x])]);
            self.push(OpType::Invoke, "send", mop(v.into()));
            let done = match ack {
                Some(o) => mop(Value::Vector(vec![o.into(), v.into()])),
                None => mop(v.into()),
            };
            self.push(ty, "send", done);
            self
        }
        /// Output records per input key: (value, seq).
        fn read(&mut self, out: &[(i64, &[(i64, i64)])]) -> CheckResult {
            self.push(OpType::Invoke, "read-output", Value::Nil);
            let m = out
                .iter()
                .map(|(k, recs)| {
                    let rs = recs
                        .iter()
                        .enumerate()
                        .map(|(i, (v, s))| {
                            Value::Vector(vec![(i as i64 * 2).into(), ((v << SEQ_BITS) + s).into()])
                        })
                        .collect();
                    (Value::Int(k + i64::from(PARTITIONS)), Value::Vector(rs))
                })
                .collect();
            self.push(
                OpType::Ok,
                "read-output",
                Value::Vector(vec![Value::Vector(vec![Value::kw("poll"), Value::Map(m)])]),
            );
            let h = History::new(self.0.clone()).unwrap();
            EoChecker.check(&CheckContext::none(), &h)
        }
    }

    #[test]
    fn every_acknowledged_value_once_in_order_is_valid() {
        let mut b = B(Vec::new());
        b.send(0, 10, Some(0), OpType::Ok)
            .send(0, 11, Some(1), OpType::Ok);
        b.send(1, 12, Some(0), OpType::Ok)
            .send(1, 13, None, OpType::Info);
        let r = b.read(&[(0, &[(10, 1), (11, 2)]), (1, &[(12, 1)])]);
        assert_eq!(r.valid, Validity::True, "{r:?}");
        assert_eq!(r.details["acknowledged-count"], 3);
        assert_eq!(r.details["unknown-sends-count"], 1);
    }

    #[test]
    fn lost_duplicated_unexpected_reordered_and_state_errors_are_found() {
        let mut b = B(Vec::new());
        b.send(0, 10, Some(0), OpType::Ok)
            .send(0, 11, Some(1), OpType::Ok);
        b.send(1, 12, Some(0), OpType::Ok)
            .send(1, 14, None, OpType::Fail);
        b.send(2, 15, Some(0), OpType::Ok)
            .send(2, 16, Some(1), OpType::Ok);
        // Key 0: 11 before 10 (reordered); key 1: 12 twice (a duplicate, not also reordered;
        // its seq repeats),
        // 14 whose send failed, 99 never sent; key 2: 16 lost, and 15 with seq 2 (a state
        // update applied twice).
        let r = b.read(&[
            (0, &[(11, 1), (10, 2)]),
            (1, &[(12, 1), (12, 1), (14, 3), (99, 4)]),
            (2, &[(15, 2)]),
        ]);
        assert_eq!(r.valid, Validity::False);
        assert_eq!(
            r.anomaly_types,
            [
                "duplicate",
                "lost",
                "reordered",
                "seq-mismatch",
                "unexpected"
            ]
        );
        assert_eq!(r.details["lost"]["examples"], json!([16]));
        assert_eq!(r.details["unexpected"]["count"], 2);
        assert_eq!(r.details["reordered"]["examples"][0]["value"], 10);
        assert_eq!(r.details["seq-mismatch"]["count"], 2);
    }

    #[test]
    fn without_a_read_nothing_can_be_said() {
        let mut b = B(Vec::new());
        b.send(0, 10, Some(0), OpType::Ok);
        let h = History::new(b.0.clone()).unwrap();
        assert_eq!(
            EoChecker.check(&CheckContext::none(), &h).valid,
            Validity::Unknown
        );
    }

    #[test]
    fn sends_go_to_input_keys_with_fresh_values() {
        use rift_generator::{simulate, SimConfig};
        let g = gen::clients(gen::limit(50, send_gen()));
        let cfg = SimConfig {
            concurrency: 2,
            nemesis: false,
            seed: 3,
            max_ops: 200,
        };
        let h = simulate(g, cfg, |op, _| (OpType::Ok, op.value.clone(), 1000));
        let mut values = BTreeSet::new();
        for op in h.iter().filter(|o| o.ty == OpType::Invoke) {
            let p = op.value.as_seq().unwrap()[0].as_seq().unwrap().to_vec();
            let (Value::Int(k), Value::Int(v)) = (&p[1], &p[2]) else {
                panic!()
            };
            assert!((0..i64::from(PARTITIONS)).contains(k));
            assert!(values.insert(*v));
        }
        assert_eq!(values.len(), 50);
        assert_eq!(job_args("a:9092", "exactly-once")[1], INPUT_TOPIC);
    }
}
