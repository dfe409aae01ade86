//! The ops of [`KafkaClient`]: micro-ops, transactions, aborts,
//! assign/subscribe and partition state (split from `client.rs` to keep files short; the
//! concepts and the error policy are in `client.rs`'s and `errors.rs`'s docs).

use super::*;

/// One micro-op of a send/poll/txn op.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Mop {
    Send(i64, i64),
    Poll,
}

pub(super) fn bad_op(op: &Op, why: &str) -> RiftError {
    RiftError::new("bad-op", format!("{why}, got {} {}", op.f_name(), op.value))
}

pub(super) fn parse_mops(op: &Op) -> PlugResult<Vec<Mop>> {
    let mops = op
        .value
        .as_seq()
        .ok_or_else(|| bad_op(op, "expected micro-ops"))?;
    mops.iter()
        .map(|m| match m.as_seq() {
            Some([f, Value::Int(k), Value::Int(v)]) if f.is_name("send") => Ok(Mop::Send(*k, *v)),
            Some([f, ..]) if f.is_name("poll") => Ok(Mop::Poll),
            _ => Err(bad_op(op, "micro-ops are [:send int int] or [:poll]")),
        })
        .collect()
}

pub(super) fn parse_keys(op: &Op) -> PlugResult<Vec<i64>> {
    let keys = op
        .value
        .as_seq()
        .ok_or_else(|| bad_op(op, "expected a key list"))?;
    keys.iter()
        .map(|k| k.as_i64().ok_or_else(|| bad_op(op, "keys are integers")))
        .collect()
}

pub(super) fn sent(k: i64, offset: Option<i64>, v: i64) -> Value {
    let offset = offset.map_or(Value::Nil, Value::Int);
    Value::Vector(vec![
        Value::kw("send"),
        Value::Int(k),
        Value::Vector(vec![offset, Value::Int(v)]),
    ])
}

/// A polled value: the decimal integer it should be, else its text (the checker then reports
/// it), nil without payload.
pub(super) fn payload_value(p: Option<&[u8]>) -> Value {
    let Some(bytes) = p else { return Value::Nil };
    let text = String::from_utf8_lossy(bytes);
    text.parse::<i64>()
        .map_or_else(|_| Value::str(&text), Value::Int)
}

pub(super) fn polled_value(records: &[(i64, i64, Value)]) -> Value {
    let mut by_key: BTreeMap<i64, Vec<Value>> = BTreeMap::new();
    for (k, o, v) in records {
        let pair = Value::Vector(vec![Value::Int(*o), v.clone()]);
        by_key.entry(*k).or_default().push(pair);
    }
    let m = by_key
        .into_iter()
        .map(|(k, pairs)| (Value::Int(k), Value::Vector(pairs)))
        .collect();
    Value::Vector(vec![Value::kw("poll"), Value::Map(m)])
}

/// What one poll got.
#[derive(Default)]
struct Polled {
    /// (key, offset, value).
    records: Vec<(i64, i64, Value)>,
    /// Keywords of the consumer errors that did not end the poll ([`errors::ends_poll`]).
    notes: Vec<String>,
    /// The error that ended it.
    error: Option<KafkaError>,
}

/// One poll: waits up to `wait` for a first record, then drains what is already fetched.
fn poll_blocking(c: &KConsumer, wait: Duration, ppt: i32) -> Polled {
    let start = std::time::Instant::now();
    let mut out = Polled::default();
    let mut skipped = 0;
    while out.records.len() < MAX_POLL_RECORDS {
        let left = wait.saturating_sub(start.elapsed());
        let got = !out.records.is_empty();
        let timeout = if got { Duration::ZERO } else { left };
        match c.poll(timeout) {
            None if got || left.is_zero() => break,
            None | Some(Err(KafkaError::PartitionEOF(_))) => {}
            Some(Ok(m)) => match key_of(m.topic(), m.partition(), ppt) {
                Some(k) => out
                    .records
                    .push((k, m.offset(), payload_value(m.payload()))),
                None => tracing::warn!(topic = m.topic(), "polled a record of a foreign topic"),
            },
            Some(Err(e)) => {
                let v = classify(&e, Step::Poll);
                skipped += 1;
                if errors::ends_poll(&v) || skipped > 64 {
                    out.error = Some(e);
                    break;
                }
                if !out.notes.contains(&v.error) {
                    out.notes.push(v.error);
                }
            }
        }
    }
    out
}

/// The state of one send/poll/txn op as it runs.
struct Run {
    value: Vec<Value>,
    /// Per key: the first and the highest offset polled.
    polled: BTreeMap<i64, (i64, i64)>,
    /// Some send took effect or may have.
    effect: bool,
    deadline: Instant,
    poll_wait: Duration,
    /// Consumer errors that did not end a poll.
    notes: Vec<String>,
}

impl Run {
    fn record_poll(&mut self, i: usize, records: &[(i64, i64, Value)]) {
        for (k, o, _) in records {
            let e = self.polled.entry(*k).or_insert((*o, *o));
            e.1 = e.1.max(*o);
        }
        self.value[i] = polled_value(records);
    }
}

impl KafkaClient {
    fn ppt(&self) -> i32 {
        self.opts().ppt()
    }

    /// Drops the producer if librdkafka declared it fatal (it is rebuilt before the next op).
    fn check_producer(&mut self) {
        let Some(conn) = self.conn.as_mut() else {
            return;
        };
        let fatal = conn
            .producer
            .as_ref()
            .and_then(|p| p.client().fatal_error());
        if let Some((code, why)) = fatal {
            tracing::info!(node = %conn.node, ?code, why, "producer is fatal; rebuilding it");
            self.drop_producer();
        }
    }

    fn drop_producer(&mut self) {
        if let Some(p) = self.conn.as_mut().and_then(|c| c.producer.take()) {
            bump(&self.shared.stats.producers_rebuilt);
            drop_off_thread(p);
        }
    }

    /// The producer, rebuilt (and transactions initialized) if it was dropped.
    async fn producer(&mut self) -> Result<KProducer, Failure> {
        let opts = self.shared.opts.clone();
        let conn = self
            .conn
            .as_mut()
            .ok_or_else(|| Failure::new(Outcome::Fail, "no-client", "not open"))?;
        if let Some(p) = &conn.producer {
            return Ok(p.clone());
        }
        let p = new_producer(
            &conn.bootstrap,
            &opts,
            &conn.client_id,
            conn.txn_id.as_deref(),
            opts.r(),
        )
        .await?;
        conn.producer = Some(p.clone());
        Ok(p)
    }

    async fn ensure_topic(&mut self, topic: &str) -> Result<(), Failure> {
        if lock(&self.shared.topics).contains(topic) {
            return Ok(());
        }
        let opts = self.shared.opts.clone();
        let conn = self
            .conn
            .as_mut()
            .ok_or_else(|| Failure::new(Outcome::Fail, "no-client", "not open"))?;
        if conn.admin.is_none() {
            conn.admin = Some(new_admin(&conn.bootstrap, &opts)?);
        }
        if let Some(admin) = &conn.admin {
            create_on(admin, &[topic.to_string()], &opts).await?;
        }
        if lock(&self.shared.topics).insert(topic.to_string()) {
            bump(&self.shared.stats.topics_created);
        }
        Ok(())
    }

    /// Sends one record and waits for its delivery report; the offset, if the broker gave one.
    async fn send(&mut self, k: i64, v: i64, deadline: Instant) -> Result<Option<i64>, Failure> {
        let (topic, p) = topic_partition(k, self.ppt());
        self.ensure_topic(&topic).await?;
        let producer = self.producer().await?;
        let (key, payload) = (k.to_string(), v.to_string());
        let rec = FutureRecord::to(&topic)
            .partition(p)
            .key(&key)
            .payload(&payload);
        let fut = match producer.send_result(rec) {
            Ok(f) => f,
            Err((e, _)) => {
                self.check_producer();
                return Err(Failure::at(Step::Enqueue, &e));
            }
        };
        let report = tokio::time::timeout_at(deadline, fut).await;
        let d = match report {
            Err(_) => {
                return Err(Failure::new(
                    Outcome::Info,
                    "timeout",
                    "no delivery report within the op's budget",
                ))
            }
            Ok(Err(_)) => {
                return Err(Failure::new(
                    Outcome::Info,
                    "no-delivery-report",
                    "the producer went away",
                ))
            }
            Ok(Ok(Err((e, _)))) => {
                self.check_producer();
                return Err(Failure::at(Step::Deliver, &e));
            }
            Ok(Ok(Ok(d))) => d,
        };
        if d.partition != p {
            let why = format!("sent to partition {p}, delivered to {}", d.partition);
            return Err(Failure::new(Outcome::Info, "key-mismatch", why));
        }
        Ok((d.offset >= 0).then_some(d.offset))
    }

    /// One `[:poll]` into `run.value[i]`.
    async fn poll(&mut self, i: usize, run: &mut Run) -> Result<(), Failure> {
        let wait = run.poll_wait.min(remaining(run.deadline));
        let ppt = self.ppt();
        let c = self.consumer()?;
        let polled = blocking(move || poll_blocking(&c, wait, ppt)).await?;
        run.record_poll(i, &polled.records);
        for n in polled.notes {
            if !run.notes.contains(&n) {
                run.notes.push(n);
            }
        }
        match polled.error {
            None => Ok(()),
            Some(e) => Err(Failure::at(Step::Poll, &e)),
        }
    }

    fn consumer(&mut self) -> Result<Arc<KConsumer>, Failure> {
        let c = self.conn.as_ref().map(|c| c.consumer.clone());
        c.ok_or_else(|| Failure::new(Outcome::Fail, "no-client", "the client is not open"))
    }

    /// librdkafka declared the consumer fatal: the process must be replaced.
    fn consumer_dead(&self) -> bool {
        let c = self.conn.as_ref().map(|c| &c.consumer);
        c.is_some_and(|c| c.client().fatal_error().is_some())
    }

    /// Runs the micro-ops; returns the first failure (the op's outcome made cautious: any
    /// earlier send that may have happened makes it `info`).
    async fn run_mops(&mut self, mops: &[Mop], run: &mut Run) -> Result<(), Failure> {
        let txn = self.opts().txn;
        for (i, mop) in mops.iter().enumerate() {
            if txn && self.draw_abort() {
                return Err(Failure::new(Outcome::Fail, "intentional-abort", "abort-p"));
            }
            let r = match *mop {
                Mop::Send(k, v) => match self.send(k, v, run.deadline).await {
                    Ok(offset) => {
                        run.value[i] = sent(k, offset, v);
                        run.effect = true;
                        Ok(())
                    }
                    Err(f) => {
                        run.effect |= f.outcome == Outcome::Info;
                        Err(f)
                    }
                },
                Mop::Poll => self.poll(i, run).await,
            };
            if let Err(f) = r {
                let partial = run.effect && !txn;
                return Err(if partial { f.with(Outcome::Info) } else { f });
            }
        }
        if txn && self.draw_abort() {
            return Err(Failure::new(Outcome::Fail, "intentional-abort", "abort-p"));
        }
        Ok(())
    }

    fn draw_abort(&mut self) -> bool {
        let p = self.shared.opts.abort_p;
        match self.conn.as_mut() {
            Some(c) if p > 0.0 => c.rng.random::<f64>() < p,
            _ => false,
        }
    }

    /// A whole transaction around the micro-ops.
    async fn in_txn(&mut self, mops: &[Mop], run: &mut Run) -> Result<(), Failure> {
        let producer = self.producer().await?;
        let p = producer.clone();
        if let Err(e) = blocking(move || p.begin_transaction()).await? {
            let f = Failure::at(Step::TxnBegin, &e);
            self.drop_producer();
            return Err(f);
        }
        if let Err(f) = self.run_mops(mops, run).await {
            if f.error == "intentional-abort" {
                bump(&self.shared.stats.intentional_aborts);
            }
            return Err(self.abort(false, f.with(Outcome::Fail)).await);
        }
        if let Err(f) = self.send_offsets(&producer, run).await {
            return Err(self.abort(false, f).await);
        }
        self.commit(&producer).await
    }

    /// Sends the highest polled offset + 1 of each key to the transaction.
    async fn send_offsets(&mut self, producer: &KProducer, run: &Run) -> Result<(), Failure> {
        if run.polled.is_empty() {
            return Ok(());
        }
        let mut tpl = TopicPartitionList::new();
        for (&k, &(_, max)) in &run.polled {
            let (t, p) = topic_partition(k, self.ppt());
            tpl.add_partition_offset(&t, p, Offset::Offset(max + 1))
                .map_err(|e| Failure::at(Step::TxnBegin, &e))?;
        }
        let c = self.consumer()?;
        let (p, wait) = (
            producer.clone(),
            remaining(run.deadline).max(Duration::from_millis(500)),
        );
        blocking(move || match c.group_metadata() {
            Some(g) => p
                .send_offsets_to_transaction(&tpl, &g, wait)
                .map_err(|e| Failure::at(Step::TxnBegin, &e)),
            None => Err(Failure::new(
                Outcome::Fail,
                "no-group-metadata",
                "the consumer has no group",
            )),
        })
        .await?
    }

    /// Commits, retrying retriable errors within `R`; aborts on abortable ones.
    async fn commit(&mut self, producer: &KProducer) -> Result<(), Failure> {
        let deadline = Instant::now() + self.opts().r();
        // A retriable error means an earlier call may have reached the coordinator.
        let mut tried = false;
        loop {
            let (p, wait) = (producer.clone(), remaining(deadline));
            let e = match blocking(move || p.commit_transaction(wait)).await? {
                Ok(()) => {
                    bump(&self.shared.stats.txns_committed);
                    return Ok(());
                }
                Err(e) => e,
            };
            let v = classify(&e, Step::TxnCommit);
            let next = v.txn.map_or(TxnNext::ByCode, |f| f.next());
            let f = Failure::of(v, &e);
            match next {
                // Fatal first: librdkafka reports "committed on the broker, but failed
                // locally" as fatal, whatever the code.
                TxnNext::Fatal => {
                    self.drop_producer();
                    return Err(f.with(Outcome::Info));
                }
                _ if f.outcome == Outcome::Fail => return Err(self.abort(tried, f).await),
                TxnNext::Abort => return Err(self.abort(true, f).await),
                TxnNext::Retry if !remaining(deadline).is_zero() => {
                    tried = true;
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                TxnNext::Retry | TxnNext::ByCode => return Err(f.with(Outcome::Info)),
            }
        }
    }

    /// Aborts after `cause`. A successful abort makes the op `fail`; a failed one rebuilds
    /// the producer and makes it `info` when a commit may have been requested.
    async fn abort(&mut self, tried_commit: bool, cause: Failure) -> Failure {
        let deadline = Instant::now() + self.opts().r();
        let fate = if tried_commit {
            Outcome::Info
        } else {
            Outcome::Fail
        };
        loop {
            let Some(p) = self.conn.as_ref().and_then(|c| c.producer.clone()) else {
                return cause.with(fate);
            };
            let wait = remaining(deadline);
            let (e, retriable) = match blocking(move || p.abort_transaction(wait)).await {
                Ok(Ok(())) => {
                    bump(&self.shared.stats.txns_aborted);
                    return cause.with(Outcome::Fail);
                }
                Ok(Err(e)) => {
                    let v = classify(&e, Step::TxnAbort);
                    let retriable = v.txn.is_some_and(|f| f.next() == TxnNext::Retry);
                    (Failure::of(v, &e), retriable)
                }
                Err(f) => (f, false),
            };
            if retriable && !remaining(deadline).is_zero() {
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
            self.drop_producer();
            let mut f = cause.with(fate);
            f.abort_error = Some(e.error);
            return f;
        }
    }

    /// Seeks back to the first offset of each key this op polled.
    async fn rollback(&mut self, run: &Run) {
        if run.polled.is_empty() {
            return;
        }
        let ppt = self.ppt();
        let Ok(conn) = self.conn() else { return };
        let c = conn.consumer.clone();
        let firsts: Vec<(i64, i64)> = run.polled.iter().map(|(&k, &(f, _))| (k, f)).collect();
        let _ = blocking(move || {
            for (k, first) in firsts {
                let (t, p) = topic_partition(k, ppt);
                if let Err(e) = c.seek(&t, p, Offset::Offset(first), Duration::from_millis(500)) {
                    tracing::debug!(key = k, error = %e, "rollback seek failed");
                }
            }
        })
        .await;
    }

    /// Commits a subscribed consumer's positions after a non-transactional poll.
    async fn commit_offsets(&mut self) -> Option<String> {
        let c = self.conn().ok()?.consumer.clone();
        match blocking(move || c.commit_consumer_state(CommitMode::Sync)).await {
            Ok(Ok(())) | Ok(Err(KafkaError::ConsumerCommit(RDKafkaErrorCode::NoOffset))) => None,
            Ok(Err(e)) => Some(classify(&e, Step::OffsetCommit).error),
            Err(f) => Some(f.error),
        }
    }

    pub(super) async fn txn_op(&mut self, op: &Op) -> PlugResult<Op> {
        let mops = parse_mops(op)?;
        let log = self.conn()?.rebalances.clone();
        lock(&log).clear();
        let poll_ms = op.get_extra("poll-ms").and_then(Value::as_i64);
        let poll_ms = poll_ms.map_or(self.opts().poll_ms, |ms| ms.max(0) as u64);
        let mut run = Run {
            value: op.value.as_seq().map(<[Value]>::to_vec).unwrap_or_default(),
            polled: BTreeMap::new(),
            effect: false,
            deadline: Instant::now() + 2 * self.opts().r(),
            poll_wait: Duration::from_millis(poll_ms),
            notes: Vec::new(),
        };
        let r = if self.opts().txn {
            self.in_txn(&mops, &mut run).await
        } else {
            self.run_mops(&mops, &mut run).await
        };
        let r = match r {
            Err(f) if self.consumer_dead() => Err(f.with(Outcome::Info)),
            r => r,
        };
        let mut done = match &r {
            Ok(()) => op.complete(OpType::Ok, Value::Vector(run.value.clone())),
            Err(f) => failed(op, Value::Vector(run.value.clone()), f),
        };
        let polls = mops.contains(&Mop::Poll);
        if r.is_ok() && polls && !self.opts().txn && self.conn()?.mode == Mode::Subscribe {
            if let Some(kw) = self.commit_offsets().await {
                done = done.with_error(Value::Vector(vec![
                    Value::kw("consumer-commit"),
                    Value::kw(&kw),
                ]));
            }
        }
        if matches!(&r, Err(f) if f.outcome == Outcome::Fail) {
            // (An `info` op's process is replaced, consumer and all.)
            self.rollback(&run).await;
        }
        if !run.notes.is_empty() {
            let notes = run.notes.iter().map(|n| Value::kw(n)).collect();
            done.set_extra("consumer-errors", Value::Vector(notes));
        }
        let events: Vec<RebalanceEvent> = std::mem::take(&mut *lock(&log));
        if !events.is_empty() {
            done.set_extra("rebalance-log", rebalance_value(&events));
        }
        Ok(done)
    }

    /// Jepsen's `:assign`, with the Java client's semantics: partitions that stay assigned
    /// keep their positions and are not touched (incremental unassign/assign: re-assigning
    /// one made librdkafka restart its fetcher, and re-deliver the partition from the start
    /// a moment later, or from the group's committed offset, ahead of this consumer: false
    /// nonmonotonic polls and poll skips). New partitions start from the group's committed
    /// offset, else the reset policy, resolved here and given explicitly (left to librdkafka
    /// as `Offset::Invalid`, its asynchronous lookup raced the first fetch).
    /// `seek-to-beginning?` replaces the assignment, every partition from its start.
    pub(super) async fn assign(&mut self, op: &Op) -> PlugResult<Op> {
        let keys = parse_keys(op)?;
        let seek = op.get_extra("seek-to-beginning?").and_then(Value::as_bool) == Some(true);
        let ppt = self.ppt();
        let reset = match self.opts().auto_offset_reset.as_str() {
            "earliest" | "smallest" | "beginning" => Offset::Beginning,
            _ => Offset::End,
        };
        let timeout = self.opts().r();
        let conn = self.conn()?;
        let (c, was) = (conn.consumer.clone(), conn.mode);
        conn.mode = Mode::None;
        let incremental = was == Mode::Assign && !seek;
        let r = blocking(move || {
            if was == Mode::Subscribe {
                c.unsubscribe();
            }
            let held = if incremental {
                c.assignment()?
            } else {
                TopicPartitionList::new()
            };
            let wanted: BTreeSet<(String, i32)> =
                keys.iter().map(|k| topic_partition(*k, ppt)).collect();
            let mut fresh = TopicPartitionList::new();
            for (t, p) in &wanted {
                if held.find_partition(t, *p).is_none() {
                    fresh.add_partition(t, *p);
                }
            }
            let committed = if !seek && fresh.count() > 0 {
                Some(c.committed_offsets(fresh.clone(), timeout)?)
            } else {
                None
            };
            let mut added = TopicPartitionList::new();
            for e in fresh.elements() {
                let stored = committed
                    .as_ref()
                    .and_then(|c| c.find_partition(e.topic(), e.partition()))
                    .map(|e| e.offset())
                    .filter(|o| matches!(o, Offset::Offset(_)));
                let offset = match (seek, stored) {
                    (true, _) => Offset::Beginning,
                    (false, Some(o)) => o,
                    (false, None) => reset,
                };
                added.add_partition_offset(e.topic(), e.partition(), offset)?;
            }
            if !incremental {
                return c.assign(&added);
            }
            let mut gone = TopicPartitionList::new();
            for e in held.elements() {
                if !wanted.contains(&(e.topic().to_string(), e.partition())) {
                    gone.add_partition(e.topic(), e.partition());
                }
            }
            if gone.count() > 0 {
                c.incremental_unassign(&gone)?;
            }
            if added.count() > 0 {
                c.incremental_assign(&added)?;
            }
            Ok(())
        });
        self.switched(op, r.await, Mode::Assign)
    }

    pub(super) async fn subscribe(&mut self, op: &Op) -> PlugResult<Op> {
        let topics: BTreeSet<String> = parse_keys(op)?
            .into_iter()
            .map(|k| topic_partition(k, self.ppt()).0)
            .collect();
        let conn = self.conn()?;
        let (c, was) = (conn.consumer.clone(), conn.mode);
        conn.mode = Mode::None;
        let r = blocking(move || {
            if was == Mode::Assign {
                c.unassign()?;
            }
            let refs: Vec<&str> = topics.iter().map(String::as_str).collect();
            c.subscribe(&refs)
        });
        self.switched(op, r.await, Mode::Subscribe)
    }

    fn switched(
        &mut self,
        op: &Op,
        r: Result<Result<(), KafkaError>, Failure>,
        mode: Mode,
    ) -> PlugResult<Op> {
        let r = r.and_then(|r| r.map_err(|e| Failure::at(Step::Assign, &e)));
        match r {
            Ok(()) => {
                self.conn()?.mode = mode;
                Ok(op.complete(OpType::Ok, op.value.clone()))
            }
            Err(f) => Ok(failed(op, op.value.clone(), &f)),
        }
    }

    pub(super) async fn debug_partitions(&mut self, op: &Op) -> PlugResult<Op> {
        let keys = parse_keys(op)?;
        let (ppt, r) = (self.ppt(), self.opts().r());
        let conn = self.conn()?;
        let (c, node) = (conn.consumer.clone(), conn.node.clone());
        let res = blocking(move || {
            c.fetch_metadata(None, r)
                .map(|md| partition_states(&md, &keys, ppt))
        });
        match res
            .await
            .and_then(|r| r.map_err(|e| Failure::at(Step::Admin, &e)))
        {
            Ok(parts) => {
                let v = Value::Map(vec![
                    (Value::kw("node"), Value::str(&node)),
                    (Value::kw("partitions"), parts),
                ]);
                Ok(op.complete(OpType::Ok, v))
            }
            Err(f) => Ok(failed(op, op.value.clone(), &f)),
        }
    }
}

/// `{k {:topic .. :partition .. :leader .. :replicas [..] :isr [..]}}` (or `:error`).
fn partition_states(md: &rdkafka::metadata::Metadata, keys: &[i64], ppt: i32) -> Value {
    let ints = |xs: &[i32]| Value::Vector(xs.iter().map(|&x| Value::Int(x.into())).collect());
    let mut out = Vec::new();
    for &k in keys {
        let (t, p) = topic_partition(k, ppt);
        let mut m = vec![
            (Value::kw("topic"), Value::str(&t)),
            (Value::kw("partition"), Value::Int(p.into())),
        ];
        let part = md
            .topics()
            .iter()
            .find(|x| x.name() == t)
            .and_then(|x| x.partitions().iter().find(|x| x.id() == p));
        match part {
            None => m.push((Value::kw("error"), Value::kw("unknown-topic-or-partition"))),
            Some(x) => {
                m.push((Value::kw("leader"), Value::Int(x.leader().into())));
                m.push((Value::kw("replicas"), ints(x.replicas())));
                m.push((Value::kw("isr"), ints(x.isr())));
                if let Some(e) = x.error() {
                    let kw = crate::errors::keyword(e.into());
                    m.push((Value::kw("error"), Value::kw(&kw)));
                }
            }
        }
        out.push((Value::Int(k), Value::Map(m)));
    }
    Value::Map(out)
}

fn rebalance_value(events: &[RebalanceEvent]) -> Value {
    let ev = events
        .iter()
        .map(|e| {
            let keys = e.keys.iter().map(|&k| Value::Int(k)).collect();
            Value::Map(vec![
                (Value::kw("type"), Value::kw(e.kind)),
                (Value::kw("keys"), Value::Vector(keys)),
            ])
        })
        .collect();
    Value::Vector(ev)
}

/// The completion of an op that ended with `f`.
pub(super) fn failed(op: &Op, value: Value, f: &Failure) -> Op {
    let ty = match f.outcome {
        Outcome::Fail => OpType::Fail,
        Outcome::Info => OpType::Info,
    };
    let mut done = op.complete(ty, value).with_error(Value::kw(&f.error));
    done.set_extra("kafka-error", Value::str(&f.message));
    if let Some(a) = &f.abort_error {
        done.set_extra("abort-error", Value::kw(a));
    }
    done
}
