//! The rdkafka client of Jepsen's queue workload (`jepsen.tests.kafka`, as the Redpanda and
//! Bufstream suites run it).
//!
//! # Concepts
//! Each opened client is one logical process: a producer, a consumer (group
//! [`ClientOptions::group_id`]) and, when it must create a topic, an admin client, all
//! bootstrapped at *its* node only, so that faults on a node reach its clients. Integer
//! **keys** map bijectively to topic-partitions ([`topic_partition`], [`key_of`]): topic
//! `t<k div n>`, partition `k mod n` for `n` partitions per topic (Euclidean, so negative keys
//! stay distinct). A record's key is the key and its value the integer value, both in decimal.
//!
//! Ops (see the `rift-kafka` checker for the shapes it reads):
//! - `send` / `poll` / `txn` run their micro-ops in order: `[:send k v]` completes as
//!   `[:send k [offset v]]` (offset nil when the broker gave none; a send that did not finish
//!   stays `[:send k v]`); `[:poll]` completes as `[:poll {k [[offset v] ...]}]`: one wait of
//!   up to `poll-ms` (the op's extra field, or [`ClientOptions::poll_ms`]) for the first
//!   record, then whatever is already fetched, up to 500 records (the Java client's
//!   `max.poll.records`). Without transactions, polls of a subscribed consumer commit its
//!   offsets afterwards (`commitSync`); a failed commit leaves the op `ok` with
//!   `:error [:consumer-commit kw]`, as Jepsen does.
//! - With [`ClientOptions::txn`], every send/poll/txn op is one Kafka transaction: begin, the
//!   micro-ops, the polled offsets sent to the transaction, commit. Before each micro-op and
//!   before the commit the client aborts on purpose with probability
//!   [`ClientOptions::abort_p`] (Jepsen's `maybe-abort`): the op completes `fail` with
//!   `:intentional-abort`.
//! - `assign` / `subscribe` replace the consumer's partitions (`seek-to-beginning? true`
//!   starts assigned partitions at their beginning) or topics.
//! - `crash` returns an error: the runner records `info` and opens a fresh client.
//! - `debug-topic-partitions` completes `ok` with `{:node n, :partitions {k {:topic ..
//!   :partition .. :leader .. :replicas [..] :isr [..]}}}` from a metadata request.
//!
//! Send/poll/txn completions carry `:rebalance-log`, the consumer's rebalances during the op
//! (`{:type :assigned|:revoked|:lost, :keys [..]}`), and `:consumer-errors`, the keywords of
//! consumer errors a poll went on after (broker connections lost, group churn: see
//! [`crate::errors::ends_poll`]), when there were any. An op that completes `fail` seeks the
//! consumer back to the first offset it polled of each key, so that the next poll sees those
//! records again (Jepsen's `rollback-consumer!`); the checker keeps a process's poll position
//! across failed polls.
//!
//! Topics are created lazily, as Jepsen does: before the first send to a topic this client
//! template has not seen, with [`ClientOptions::partitions_per_topic`],
//! [`ClientOptions::replication_factor`] and `min.insync.replicas`
//! ([`ClientOptions::min_insync_replicas`]); "already exists" is success. [`create_topics`]
//! creates topics up front, [`end_offsets`] reads high watermarks.
//!
//! # Error policy
//! [`crate::errors`] holds the table. An op completes `fail` only when nothing it did can be
//! in a log: never-enqueued records, deterministic refusals, polls, and transactions that were
//! aborted or never asked to commit. Everything else completes `info` with the op's value as
//! far as it got (the runner then replaces the process); the `:error` keyword names the cause
//! and `:kafka-error` has librdkafka's text. A transactional producer that librdkafka declares
//! fatal, or whose abort failed, is rebuilt (same `transactional.id`) before the next op.
//!
//! The op logic lives in `client_ops.rs` and the tests in `client_tests.rs` (child modules of
//! this one, split to keep files short).
//!
//! # Time budget
//! With `R` = [`ClientOptions::request_timeout_ms`]: the micro-ops of one op get `2R` in all
//! (librdkafka's `message.timeout.ms` is `2R`), a commit `R`, an abort `R`: at most `4R`,
//! inside rift's op timeout (10 s) with the default `R` of 2 s.

use crate::errors::{self, classify, Outcome, Step, TxnNext, Verdict};
use async_trait::async_trait;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::config::{ClientConfig, RDKafkaLogLevel};
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer, ConsumerContext, Rebalance};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::Message;
use rdkafka::producer::{FutureProducer, FutureRecord, Producer};
use rdkafka::{ClientContext, Offset, TopicPartitionList};
use rift_core::{Client, PlugResult, RiftError, TestInfo};
use rift_history::{Op, OpType, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::time::Instant;

#[path = "client_ops.rs"]
mod ops;
use ops::bad_op;

/// Most records one `[:poll]` returns (the Java client's `max.poll.records`).
pub const MAX_POLL_RECORDS: usize = 500;

/// How the client talks to Kafka. `Default` is what Jepsen's suites run without `--safe`:
/// unset options there mean the Java client's defaults (kafka-clients 3.8), which differ from
/// librdkafka's for idempotence and isolation.
#[derive(Clone, Debug, PartialEq)]
pub struct ClientOptions {
    /// Producer `acks`: `"all"`, `"1"` or `"0"` (default `"all"`).
    pub acks: String,
    /// Producer retries; None keeps librdkafka's default (effectively unbounded, within
    /// `message.timeout.ms`).
    pub retries: Option<u32>,
    /// `enable.idempotence` (default true, the Java client's default).
    pub idempotence: bool,
    /// Run send/poll/txn ops in transactions: each client process gets its own
    /// `transactional.id` and calls `init_transactions` when it opens (default false).
    pub txn: bool,
    /// Probability of a deliberate abort before each micro-op and before the commit of a
    /// transaction (Jepsen's `--abort-p`, default 0.1 as in jepsen.bufstream); such an op
    /// completes `fail` with `:intentional-abort`. Only with `txn`.
    pub abort_p: f64,
    /// Consumer `isolation.level`: `"read_uncommitted"` (default, the Java client's) or
    /// `"read_committed"`.
    pub isolation_level: String,
    /// Consumer `auto.offset.reset`: `"latest"` (default) or `"earliest"`.
    pub auto_offset_reset: String,
    /// Consumer `enable.auto.commit` (default true).
    pub enable_auto_commit: bool,
    /// The consumer group of every client (Jepsen uses one group).
    pub group_id: String,
    /// Partitions per topic, for the key mapping and topic creation (Jepsen: 2).
    pub partitions_per_topic: i32,
    /// Replication factor of created topics (Jepsen: 3).
    pub replication_factor: i32,
    /// `min.insync.replicas` of created topics (2).
    pub min_insync_replicas: i32,
    /// Default wait of a `[:poll]` for its first record, in ms (Jepsen: 100).
    pub poll_ms: u64,
    /// `R`: the request timeout of producer, consumer and admin clients, and the unit of
    /// each op's budget (see the module docs), in ms (default 2000).
    pub request_timeout_ms: u64,
    /// Extra librdkafka properties for all three clients, applied last.
    pub extra: Vec<(String, String)>,
}

impl Default for ClientOptions {
    fn default() -> ClientOptions {
        ClientOptions {
            acks: "all".into(),
            retries: None,
            idempotence: true,
            txn: false,
            abort_p: 0.1,
            isolation_level: "read_uncommitted".into(),
            auto_offset_reset: "latest".into(),
            enable_auto_commit: true,
            group_id: "rift-group".into(),
            partitions_per_topic: 2,
            replication_factor: 3,
            min_insync_replicas: 2,
            poll_ms: 100,
            request_timeout_ms: 2000,
            extra: Vec::new(),
        }
    }
}

impl ClientOptions {
    /// Jepsen's `--safe`: acks all, 1000 retries, idempotence, read_committed, earliest,
    /// no auto-commit.
    pub fn safe() -> ClientOptions {
        ClientOptions {
            acks: "all".into(),
            retries: Some(1000),
            idempotence: true,
            isolation_level: "read_committed".into(),
            auto_offset_reset: "earliest".into(),
            enable_auto_commit: false,
            ..ClientOptions::default()
        }
    }

    fn r(&self) -> Duration {
        Duration::from_millis(self.request_timeout_ms.max(100))
    }

    fn ppt(&self) -> i32 {
        self.partitions_per_topic.max(1)
    }
}

/// Counters shared by a client template and every client it opened.
#[derive(Debug, Default)]
pub struct ClientStats {
    /// Clients opened.
    pub opened: AtomicU64,
    /// Transactions committed.
    pub txns_committed: AtomicU64,
    /// Transactions aborted (deliberately or after an error), abort acknowledged.
    pub txns_aborted: AtomicU64,
    /// Of those, deliberate aborts (`abort_p`).
    pub intentional_aborts: AtomicU64,
    /// Producers rebuilt after a fatal error or a failed abort.
    pub producers_rebuilt: AtomicU64,
    /// Topics this template created (or found existing).
    pub topics_created: AtomicU64,
}

/// The topic and partition of key `k`: `("t<k div n>", k mod n)`.
pub fn topic_partition(k: i64, partitions_per_topic: i32) -> (String, i32) {
    let n = i64::from(partitions_per_topic.max(1));
    // rem_euclid is in [0, n), n <= i32::MAX.
    (format!("t{}", k.div_euclid(n)), k.rem_euclid(n) as i32)
}

/// The key of a topic-partition; None for topics not of the form `t<int>`, partitions out of
/// range, or overflow.
pub fn key_of(topic: &str, partition: i32, partitions_per_topic: i32) -> Option<i64> {
    let n = partitions_per_topic.max(1);
    if !(0..n).contains(&partition) {
        return None;
    }
    let t: i64 = topic.strip_prefix('t')?.parse().ok()?;
    t.checked_mul(i64::from(n))?
        .checked_add(i64::from(partition))
}

/// A client context that sends librdkafka's logs to `tracing`.
#[derive(Clone, Copy, Debug, Default)]
struct LogCtx;

fn log_line(level: RDKafkaLogLevel, fac: &str, msg: &str) {
    match level {
        RDKafkaLogLevel::Emerg | RDKafkaLogLevel::Alert | RDKafkaLogLevel::Critical => {
            tracing::warn!(target: "librdkafka", "{fac}: {msg}")
        }
        _ => tracing::debug!(target: "librdkafka", "{fac}: {msg}"),
    }
}

impl ClientContext for LogCtx {
    fn log(&self, level: RDKafkaLogLevel, fac: &str, msg: &str) {
        log_line(level, fac, msg);
    }
    fn error(&self, error: KafkaError, reason: &str) {
        tracing::debug!(target: "librdkafka", "{error}: {reason}");
    }
}

/// One rebalance the consumer saw.
#[derive(Clone, Debug, PartialEq, Eq)]
struct RebalanceEvent {
    kind: &'static str,
    keys: Vec<i64>,
}

/// The consumer's context: logs, and journals rebalances (Jepsen's logging listener).
struct ConsumerCtx {
    log: Arc<Mutex<Vec<RebalanceEvent>>>,
    ppt: i32,
}

impl ClientContext for ConsumerCtx {
    fn log(&self, level: RDKafkaLogLevel, fac: &str, msg: &str) {
        log_line(level, fac, msg);
    }
    fn error(&self, error: KafkaError, reason: &str) {
        tracing::debug!(target: "librdkafka", "{error}: {reason}");
    }
}

impl ConsumerContext for ConsumerCtx {
    fn pre_rebalance(&self, consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        let (kind, tpl) = match rebalance {
            Rebalance::Assign(t) => ("assigned", *t),
            Rebalance::Revoke(t) if consumer.assignment_lost() => ("lost", *t),
            Rebalance::Revoke(t) => ("revoked", *t),
            Rebalance::Error(_) => return,
        };
        let keys = tpl
            .elements()
            .iter()
            .filter_map(|e| key_of(e.topic(), e.partition(), self.ppt))
            .collect();
        lock(&self.log).push(RebalanceEvent { kind, keys });
    }
}

fn bump(counter: &AtomicU64) {
    counter.fetch_add(1, Ordering::Relaxed);
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

type KProducer = FutureProducer<LogCtx>;
type KConsumer = BaseConsumer<ConsumerCtx>;
type KAdmin = AdminClient<LogCtx>;

fn base_config(bootstrap: &str, opts: &ClientOptions, client_id: &str) -> ClientConfig {
    let r = opts.r().as_millis().to_string();
    let mut c = ClientConfig::new();
    c.set("bootstrap.servers", bootstrap)
        .set("client.id", client_id)
        .set("socket.timeout.ms", r)
        .set("socket.connection.setup.timeout.ms", "1000")
        .set("reconnect.backoff.max.ms", "1000")
        .set("metadata.max.age.ms", "60000")
        .set("log.connection.close", "false");
    c
}

fn with_extra(mut c: ClientConfig, opts: &ClientOptions) -> ClientConfig {
    for (k, v) in &opts.extra {
        c.set(k, v);
    }
    c
}

/// The producer's properties (Jepsen's producer-config, in librdkafka's names).
fn producer_config(
    bootstrap: &str,
    opts: &ClientOptions,
    id: &str,
    txn_id: Option<&str>,
) -> ClientConfig {
    let r = opts.r().as_millis();
    let mut c = base_config(bootstrap, opts, id);
    c.set("acks", &opts.acks)
        .set("enable.idempotence", opts.idempotence.to_string())
        // Each send op awaits its one record: waiting for a batch to fill only adds latency.
        .set("linger.ms", "0")
        .set("request.timeout.ms", r.to_string())
        .set("message.timeout.ms", (2 * r).to_string())
        // librdkafka wants message.timeout.ms <= transaction.timeout.ms.
        .set("transaction.timeout.ms", (3 * r).max(1000).to_string());
    if let Some(n) = opts.retries {
        c.set("retries", n.to_string());
    }
    if let Some(t) = txn_id {
        c.set("transactional.id", t);
    }
    with_extra(c, opts)
}

/// The consumer's properties (Jepsen's consumer-config).
fn consumer_config(bootstrap: &str, opts: &ClientOptions, id: &str) -> ClientConfig {
    let mut c = base_config(bootstrap, opts, id);
    c.set("group.id", &opts.group_id)
        .set("isolation.level", &opts.isolation_level)
        .set("auto.offset.reset", &opts.auto_offset_reset)
        .set("enable.auto.commit", opts.enable_auto_commit.to_string())
        .set("enable.partition.eof", "false")
        .set("session.timeout.ms", "6000")
        .set("heartbeat.interval.ms", "300");
    with_extra(c, opts)
}

/// Why a step failed, and what that makes the op.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Failure {
    outcome: Outcome,
    error: String,
    message: String,
    /// The error of an abort that failed after this one.
    abort_error: Option<String>,
}

impl Failure {
    fn new(outcome: Outcome, error: &str, message: impl Into<String>) -> Failure {
        Failure {
            outcome,
            error: error.into(),
            message: message.into(),
            abort_error: None,
        }
    }

    fn of(v: Verdict, e: &KafkaError) -> Failure {
        Failure {
            outcome: v.outcome,
            error: v.error,
            message: e.to_string(),
            abort_error: None,
        }
    }

    fn at(step: Step, e: &KafkaError) -> Failure {
        Failure::of(classify(e, step), e)
    }

    fn with(mut self, outcome: Outcome) -> Failure {
        self.outcome = outcome;
        self
    }
}

/// Runs a blocking librdkafka call off the async threads.
async fn blocking<T, F>(f: F) -> Result<T, Failure>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| Failure::new(Outcome::Info, "client-task", e.to_string()))
}

fn remaining(deadline: Instant) -> Duration {
    deadline.saturating_duration_since(Instant::now())
}

/// How the consumer currently gets partitions.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mode {
    None,
    Assign,
    Subscribe,
}

/// An open client: one process's producer, consumer and lazily made admin client.
struct Conn {
    node: String,
    bootstrap: String,
    client_id: String,
    txn_id: Option<String>,
    /// None after a fatal error or a failed abort: rebuilt before the next op.
    producer: Option<KProducer>,
    consumer: Arc<KConsumer>,
    admin: Option<KAdmin>,
    mode: Mode,
    rng: ChaCha8Rng,
    rebalances: Arc<Mutex<Vec<RebalanceEvent>>>,
}

struct Shared {
    bootstrap: BTreeMap<String, String>,
    opts: ClientOptions,
    seed: u64,
    stats: Arc<ClientStats>,
    /// Topics created (or found) by any client of this template.
    topics: Mutex<BTreeSet<String>>,
    next_id: AtomicU64,
}

/// The client template: each node's bootstrap address (`"ADDR:9092"`), the options, shared
/// stats, the set of created topics and the seed of the abort draws. [`Client::open`] binds
/// a copy to one node.
pub struct KafkaClient {
    shared: Arc<Shared>,
    conn: Option<Conn>,
}

impl KafkaClient {
    /// A template; `bootstrap` maps node names to `host:port`. Client `n` (in open order)
    /// draws its aborts from ChaCha8 seeded with `seed` and `n`.
    pub fn new(bootstrap: BTreeMap<String, String>, opts: ClientOptions, seed: u64) -> KafkaClient {
        KafkaClient {
            shared: Arc::new(Shared {
                bootstrap,
                opts,
                seed,
                stats: Arc::new(ClientStats::default()),
                topics: Mutex::new(BTreeSet::new()),
                next_id: AtomicU64::new(0),
            }),
            conn: None,
        }
    }

    /// The counters of this template and all clients opened from it.
    pub fn stats(&self) -> Arc<ClientStats> {
        self.shared.stats.clone()
    }

    fn opts(&self) -> &ClientOptions {
        &self.shared.opts
    }

    fn conn(&mut self) -> PlugResult<&mut Conn> {
        self.conn
            .as_mut()
            .ok_or_else(|| RiftError::new("no-connection", "client is not open"))
    }
}

/// Creates a producer; with a transactional id, also initializes transactions.
async fn new_producer(
    bootstrap: &str,
    opts: &ClientOptions,
    id: &str,
    txn_id: Option<&str>,
    wait: Duration,
) -> Result<KProducer, Failure> {
    let p: KProducer = producer_config(bootstrap, opts, id, txn_id)
        .create_with_context(LogCtx)
        .map_err(|e| Failure::at(Step::TxnBegin, &e))?;
    if txn_id.is_some() {
        let q = p.clone();
        let r = blocking(move || q.init_transactions(wait)).await;
        if let Err(f) = r.and_then(|r| r.map_err(|e| Failure::at(Step::TxnBegin, &e))) {
            drop_off_thread(p);
            return Err(f);
        }
    }
    Ok(p)
}

fn new_admin(bootstrap: &str, opts: &ClientOptions) -> Result<KAdmin, Failure> {
    with_extra(base_config(bootstrap, opts, "rift-admin"), opts)
        .create_with_context(LogCtx)
        .map_err(|e| Failure::at(Step::Admin, &e))
}

/// Creates `topics` (already existing ones are fine).
async fn create_on(admin: &KAdmin, topics: &[String], opts: &ClientOptions) -> Result<(), Failure> {
    let mis = opts.min_insync_replicas.to_string();
    let new: Vec<NewTopic<'_>> = topics
        .iter()
        .map(|t| {
            NewTopic::new(
                t,
                opts.ppt(),
                TopicReplication::Fixed(opts.replication_factor),
            )
            .set("min.insync.replicas", &mis)
        })
        .collect();
    let ao = AdminOptions::new()
        .request_timeout(Some(opts.r()))
        .operation_timeout(Some(opts.r()));
    let results = match tokio::time::timeout(2 * opts.r(), admin.create_topics(&new, &ao)).await {
        Err(_) => {
            return Err(Failure::new(
                Outcome::Fail,
                "timeout",
                "create topics timed out",
            ))
        }
        Ok(r) => r.map_err(|e| Failure::at(Step::Admin, &e))?,
    };
    for r in results {
        match r {
            Ok(_) | Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
            Err((t, code)) => {
                let v = crate::errors::classify_code(code, Step::Admin);
                return Err(Failure::new(
                    v.outcome,
                    &v.error,
                    format!("create topic {t}: {code}"),
                ));
            }
        }
    }
    Ok(())
}

fn rift_err(what: &str, f: Failure) -> RiftError {
    RiftError::new(f.error, format!("{what}: {}", f.message))
}

/// Creates the topics of `keys` through `bootstrap`, as the client would lazily (for a suite
/// that wants them before the workload starts).
pub async fn create_topics(bootstrap: &str, keys: &[i64], opts: &ClientOptions) -> PlugResult<()> {
    let admin = new_admin(bootstrap, opts).map_err(|f| rift_err("admin client", f))?;
    let topics: BTreeSet<String> = keys
        .iter()
        .map(|&k| topic_partition(k, opts.ppt()).0)
        .collect();
    let topics: Vec<String> = topics.into_iter().collect();
    let r = create_on(&admin, &topics, opts).await;
    drop_off_thread(admin);
    r.map_err(|f| rift_err("create topics", f))
}

/// The high watermark (the offset the next record will get) of each key's partition, through
/// `bootstrap`. Keys whose partition does not exist are left out. With transactions the last
/// offsets may be commit markers that no poll returns.
pub async fn end_offsets(
    bootstrap: &str,
    keys: &[i64],
    opts: &ClientOptions,
) -> PlugResult<BTreeMap<i64, i64>> {
    let c: BaseConsumer = with_extra(base_config(bootstrap, opts, "rift-offsets"), opts)
        .create()
        .map_err(|e| rift_err("consumer", Failure::at(Step::Admin, &e)))?;
    let (keys, ppt, r) = (keys.to_vec(), opts.ppt(), opts.r());
    let out = blocking(move || {
        let mut out = BTreeMap::new();
        for k in keys {
            let (t, p) = topic_partition(k, ppt);
            match c.fetch_watermarks(&t, p, r) {
                Ok((_, high)) => {
                    out.insert(k, high);
                }
                Err(e) if classify(&e, Step::Admin).error == "unknown-topic-or-partition" => {}
                Err(e) => return Err(Failure::at(Step::Admin, &e)),
            }
        }
        Ok(out)
    });
    out.await
        .and_then(|r| r)
        .map_err(|f| rift_err("watermarks", f))
}

/// Drops a librdkafka handle on its own thread: closing a consumer leaves its group and may
/// wait on the network.
fn drop_off_thread<T: Send + 'static>(x: T) {
    let _ = std::thread::Builder::new()
        .name("rift-kafka-close".into())
        .spawn(move || drop(x));
}

impl Drop for KafkaClient {
    fn drop(&mut self) {
        if let Some(c) = self.conn.take() {
            drop_off_thread(c);
        }
    }
}

#[async_trait]
impl Client for KafkaClient {
    /// Creates the consumer and the producer (initializing transactions with `txn`) against
    /// `node`'s bootstrap address. Connections are made lazily by librdkafka; a failed
    /// `init_transactions` fails the open.
    async fn open(&self, _test: &TestInfo, node: &str) -> PlugResult<Box<dyn Client>> {
        let s = &self.shared;
        let bootstrap = s
            .bootstrap
            .get(node)
            .ok_or_else(|| RiftError::new("config", format!("no Kafka address for node {node}")))?
            .clone();
        let n = s.next_id.fetch_add(1, Ordering::Relaxed);
        let client_id = format!("rift-{n}");
        let rebalances = Arc::new(Mutex::new(Vec::new()));
        let ctx = ConsumerCtx {
            log: rebalances.clone(),
            ppt: s.opts.ppt(),
        };
        let consumer: KConsumer = consumer_config(&bootstrap, &s.opts, &client_id)
            .create_with_context(ctx)
            .map_err(|e| rift_err("consumer", Failure::at(Step::Assign, &e)))?;
        let txn_id = s.opts.txn.then(|| format!("rift-{:x}-{n}", s.seed));
        let producer = new_producer(
            &bootstrap,
            &s.opts,
            &client_id,
            txn_id.as_deref(),
            2 * s.opts.r(),
        )
        .await;
        let producer = match producer {
            Ok(p) => p,
            Err(f) => {
                drop_off_thread(consumer);
                return Err(rift_err(&format!("producer for {node}"), f));
            }
        };
        bump(&s.stats.opened);
        let seed = s.seed ^ n.wrapping_mul(0x9e37_79b9_7f4a_7c15);
        Ok(Box::new(KafkaClient {
            shared: s.clone(),
            conn: Some(Conn {
                node: node.to_string(),
                bootstrap,
                client_id,
                txn_id,
                producer: Some(producer),
                consumer: Arc::new(consumer),
                admin: None,
                mode: Mode::None,
                rng: ChaCha8Rng::seed_from_u64(seed),
                rebalances,
            }),
        }))
    }

    /// Topics are created lazily by sends (Jepsen's way), so there is nothing to set up.
    async fn setup(&mut self, _test: &TestInfo) -> PlugResult<()> {
        Ok(())
    }

    async fn invoke(&mut self, _test: &TestInfo, op: &Op) -> PlugResult<Op> {
        match op.f_name() {
            "send" | "poll" | "txn" => self.txn_op(op).await,
            "assign" => self.assign(op).await,
            "subscribe" => self.subscribe(op).await,
            "debug-topic-partitions" => self.debug_partitions(op).await,
            "crash" => Err(RiftError::new("crash", "crash op: the client is torn down")),
            _ => Err(bad_op(op, "the queue workload's ops are send, poll, txn, assign, subscribe, crash, debug-topic-partitions")),
        }
    }

    /// Closes the producer, consumer and admin client off the async threads, waiting at most
    /// `R` for them.
    async fn close(&mut self, _test: &TestInfo) -> PlugResult<()> {
        if let Some(c) = self.conn.take() {
            let h = tokio::task::spawn_blocking(move || drop(c));
            let _ = tokio::time::timeout(self.opts().r(), h).await;
        }
        Ok(())
    }
}

#[cfg(test)]
#[path = "client_tests.rs"]
mod tests;
