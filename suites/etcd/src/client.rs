//! The rift client of etcd over its gRPC API: the `register`, `set`, `append` and `wr`
//! workloads' ops, and how etcd's errors become `fail` or `info`.

use crate::txn;
use async_trait::async_trait;
use etcd_client::{Client as Etcd, Compare, CompareOp, ConnectOptions, GetOptions, Txn, TxnOp};
use rift_core::{Client, PlugResult, RiftError, TestInfo};
use rift_history::{Op, OpType, Value};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// Key prefix of the `register` workload: key `k` is `r/<k>`, its value the integer as text.
pub const REGISTER_PREFIX: &str = "r/";
/// Key prefix of the `set` workload: element `v` is the key `s/<v>` (empty value).
pub const SET_PREFIX: &str = "s/";
/// Key prefix of the `append` workload: list `k` is `a/<k>`, a JSON array of integers.
pub const APPEND_PREFIX: &str = "a/";
/// Key prefix of the `wr` workload: register `k` is `w/<k>`, the integer as text.
pub const WR_PREFIX: &str = "w/";

/// How long a client waits before completing an op its member refused to connect to.
pub const CONNECT_FAIL_PAUSE: Duration = Duration::from_millis(100);

/// Which ops the client speaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum EtcdWorkload {
    /// `read`/`write`/`cas` on independent `[k v]` keys (linearizable, cas-register model).
    Register,
    /// `add` of unique integers and `read` of all of them (set-full).
    Set,
    /// Elle list-append txns: `[[:r k nil] [:append k v] ...]`.
    Append,
    /// Elle rw-register txns: `[[:r k nil] [:w k v] ...]`.
    Wr,
}

impl EtcdWorkload {
    /// Every workload, by name.
    pub const ALL: [EtcdWorkload; 4] = [
        EtcdWorkload::Register,
        EtcdWorkload::Set,
        EtcdWorkload::Append,
        EtcdWorkload::Wr,
    ];

    /// The workload's name (`--workload`).
    pub fn name(self) -> &'static str {
        match self {
            EtcdWorkload::Register => "register",
            EtcdWorkload::Set => "set",
            EtcdWorkload::Append => "append",
            EtcdWorkload::Wr => "wr",
        }
    }

    /// Parses a `--workload` name.
    pub fn parse(name: &str) -> Result<EtcdWorkload, String> {
        EtcdWorkload::ALL
            .into_iter()
            .find(|w| w.name() == name)
            .ok_or_else(|| {
                let names: Vec<&str> = EtcdWorkload::ALL.iter().map(|w| w.name()).collect();
                format!(
                    "--db etcd serves the workloads {}; not {name:?}",
                    names.join(", ")
                )
            })
    }
}

/// How the client talks to etcd.
#[derive(Clone, Debug)]
pub struct ClientOptions {
    /// Each request's deadline (connecting included). A write that runs out of it is `info`.
    pub timeout: Duration,
    /// Register reads with etcd's serializable (non-quorum) option: the member answers from
    /// its own state without asking the leader, so a member cut off by a partition serves
    /// stale values. A real, documented weakening of etcd's default linearizable reads: the
    /// register workload catches it. Off by default. Txn reads always stay linearizable.
    pub serializable_reads: bool,
    /// How many times an `append`/`wr` txn whose optimistic compare failed is tried in all
    /// before it completes `fail` with `:txn-conflict`.
    pub max_txn_attempts: u32,
}

impl Default for ClientOptions {
    fn default() -> ClientOptions {
        ClientOptions {
            timeout: Duration::from_secs(2),
            serializable_reads: false,
            max_txn_attempts: 5,
        }
    }
}

/// Counters shared by a client template and every client it opened.
#[derive(Debug, Default)]
pub struct ClientStats {
    /// Txn commits whose compare failed (another txn changed a key in between); each one was
    /// retried or gave up.
    pub txn_conflicts: AtomicU64,
    /// Txns that gave up after `max_txn_attempts` (completed `fail`).
    pub txn_gave_up: AtomicU64,
}

/// A client template: each node's client URL; [`Client::open`] connects to one node only (no
/// load balancing across members, so that faults on a node reach its clients).
pub struct EtcdClient {
    endpoints: Arc<BTreeMap<String, String>>,
    workload: EtcdWorkload,
    opts: ClientOptions,
    stats: Arc<ClientStats>,
    conn: Option<Etcd>,
}

impl EtcdClient {
    /// A template; `endpoints` maps node names to client URLs (`EtcdDb::client_endpoints`).
    pub fn new(
        endpoints: BTreeMap<String, String>,
        workload: EtcdWorkload,
        opts: ClientOptions,
    ) -> EtcdClient {
        EtcdClient {
            endpoints: Arc::new(endpoints),
            workload,
            opts,
            stats: Arc::new(ClientStats::default()),
            conn: None,
        }
    }

    /// The counters of this template and all clients opened from it.
    pub fn stats(&self) -> Arc<ClientStats> {
        self.stats.clone()
    }

    /// Connects to `node`'s member alone. Connections are lazy: a dead member shows up on the
    /// first request, not here.
    pub async fn connect(&self, node: &str) -> PlugResult<Etcd> {
        let url = self
            .endpoints
            .get(node)
            .ok_or_else(|| RiftError::new("config", format!("no etcd endpoint for node {node}")))?;
        // No gRPC deadline of its own: each request runs under `within` (the client timeout),
        // so that a slow request always ends as `:timeout`.
        let opts = ConnectOptions::new().with_connect_timeout(self.opts.timeout);
        let fut = Etcd::connect([url.as_str()], Some(opts));
        tokio::time::timeout(self.opts.timeout, fut)
            .await
            .map_err(|_| RiftError::new("connect", format!("{node} ({url}): timed out")))?
            .map_err(|e| RiftError::new("connect", format!("{node} ({url}): {e}")))
    }

    fn conn(&mut self) -> PlugResult<&mut Etcd> {
        self.conn
            .as_mut()
            .ok_or_else(|| RiftError::new("no-connection", "client is not open"))
    }
}

/// What an etcd error says about an operation's outcome.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ErrorClass {
    /// True when the request certainly did not take effect (rejected before it was
    /// proposed); false when it may have (timeouts, unavailable, lost connections, unknown).
    pub definite: bool,
    /// A short kebab-case kind: `unavailable`, `deadline-exceeded`, `transport`...
    pub kind: String,
    /// The error's text.
    pub message: String,
}

/// Classifies an etcd client error. Definite: gRPC `InvalidArgument`, `NotFound`,
/// `AlreadyExists`, `PermissionDenied`, `FailedPrecondition`, `OutOfRange`, `Unimplemented`,
/// `Unauthenticated`, `ResourceExhausted` (etcd's "too many requests" is refused before
/// proposal), `Unavailable` from a TCP connect that failed (kind `connect`: the request never
/// left the client), and requests the client never sent (bad arguments or URI). Everything else is
/// indeterminate: `Unavailable` (no leader, leader changed, request timed out on the server),
/// `DeadlineExceeded`, `Unknown`, `Internal`, `Cancelled`, `Aborted`, `DataLoss`, and
/// transport or I/O errors.
pub fn classify(e: &etcd_client::Error) -> ErrorClass {
    use tonic::Code;
    let (definite, kind) = match e {
        etcd_client::Error::GRpcStatus(s) => {
            let kind = match s.code() {
                Code::Ok => "ok",
                Code::Cancelled => "cancelled",
                Code::Unknown => "unknown",
                Code::InvalidArgument => "invalid-argument",
                Code::DeadlineExceeded => "deadline-exceeded",
                Code::NotFound => "not-found",
                Code::AlreadyExists => "already-exists",
                Code::PermissionDenied => "permission-denied",
                Code::ResourceExhausted => "resource-exhausted",
                Code::FailedPrecondition => "failed-precondition",
                Code::Aborted => "aborted",
                Code::OutOfRange => "out-of-range",
                Code::Unimplemented => "unimplemented",
                Code::Internal => "internal",
                Code::Unavailable => "unavailable",
                Code::DataLoss => "data-loss",
                Code::Unauthenticated => "unauthenticated",
            };
            // tonic's connector failing to open the TCP connection: never sent.
            let never_sent =
                s.code() == Code::Unavailable && s.message().starts_with("tcp connect error");
            let kind = if never_sent { "connect" } else { kind };
            let definite = never_sent
                || matches!(
                    s.code(),
                    Code::InvalidArgument
                        | Code::NotFound
                        | Code::AlreadyExists
                        | Code::PermissionDenied
                        | Code::FailedPrecondition
                        | Code::OutOfRange
                        | Code::Unimplemented
                        | Code::Unauthenticated
                        | Code::ResourceExhausted
                );
            (definite, kind)
        }
        etcd_client::Error::InvalidArgs(_) | etcd_client::Error::InvalidUri(_) => {
            (true, "invalid-argument")
        }
        etcd_client::Error::TransportError(_) => (false, "transport"),
        etcd_client::Error::IoError(_) => (false, "io"),
        _ => (false, "unknown"),
    };
    let message = match e {
        etcd_client::Error::GRpcStatus(s) => s.message().to_string(),
        other => other.to_string(),
    };
    ErrorClass {
        definite,
        kind: kind.to_string(),
        message,
    }
}

/// A failed request: a client deadline, or etcd's error.
#[derive(Debug)]
pub(crate) enum CallError {
    Timeout,
    Etcd(etcd_client::Error),
}

impl CallError {
    fn class(&self) -> ErrorClass {
        match self {
            CallError::Timeout => ErrorClass {
                definite: false,
                kind: "timeout".into(),
                message: "no answer within the client timeout".into(),
            },
            CallError::Etcd(e) => classify(e),
        }
    }
}

impl From<etcd_client::Error> for CallError {
    fn from(e: etcd_client::Error) -> CallError {
        CallError::Etcd(e)
    }
}

/// How a failed request completes `op`: a read, or a definite error => `fail` with the error
/// kind as a keyword; anything else => an error, which the runner records as `info`.
pub(crate) fn failed(op: &Op, read_only: bool, e: CallError) -> PlugResult<Op> {
    let c = e.class();
    if read_only || c.definite {
        return Ok(op
            .complete(OpType::Fail, op.value.clone())
            .with_error(Value::kw(&c.kind)));
    }
    Err(RiftError::new(c.kind, c.message))
}

pub(crate) async fn within<T>(
    timeout: Duration,
    fut: impl std::future::Future<Output = Result<T, etcd_client::Error>>,
) -> Result<T, CallError> {
    match tokio::time::timeout(timeout, fut).await {
        Ok(r) => r.map_err(CallError::Etcd),
        Err(_) => Err(CallError::Timeout),
    }
}

fn bad_op(op: &Op, why: &str) -> RiftError {
    RiftError::new("bad-op", format!("{why}, got {} {}", op.f_name(), op.value))
}

fn int_text(v: &Value, op: &Op) -> PlugResult<String> {
    match v {
        Value::Int(i) => Ok(i.to_string()),
        _ => Err(bad_op(op, "etcd registers hold integers")),
    }
}

/// Parses a stored integer; anything else is kept as a string (and will fail the check).
pub(crate) fn parse_int(bytes: &[u8]) -> Value {
    let text = String::from_utf8_lossy(bytes);
    match text.parse::<i64>() {
        Ok(i) => Value::Int(i),
        Err(_) => Value::str(&text),
    }
}

impl EtcdClient {
    async fn register(&mut self, op: &Op) -> PlugResult<Op> {
        let Some([key, arg]) = op.value.as_seq() else {
            return Err(bad_op(op, "register ops take [key value]"));
        };
        let Value::Int(k) = *key else {
            return Err(bad_op(op, "register keys are integers"));
        };
        let etcd_key = format!("{REGISTER_PREFIX}{k}");
        let timeout = self.opts.timeout;
        match op.f_name() {
            "read" => {
                let opts = self
                    .opts
                    .serializable_reads
                    .then(|| GetOptions::new().with_serializable());
                let c = self.conn()?;
                match within(timeout, c.get(etcd_key, opts)).await {
                    Ok(r) => {
                        let v = r
                            .kvs()
                            .first()
                            .map_or(Value::Nil, |kv| parse_int(kv.value()));
                        Ok(op.complete(OpType::Ok, Value::Vector(vec![key.clone(), v])))
                    }
                    Err(e) => failed(op, true, e),
                }
            }
            "write" => {
                let v = int_text(arg, op)?;
                let c = self.conn()?;
                match within(timeout, c.put(etcd_key, v, None)).await {
                    Ok(_) => Ok(op.complete(OpType::Ok, op.value.clone())),
                    Err(e) => failed(op, false, e),
                }
            }
            "cas" => {
                let Some([from, to]) = arg.as_seq() else {
                    return Err(bad_op(op, "cas takes [key [old new]]"));
                };
                let (from, to) = (int_text(from, op)?, int_text(to, op)?);
                let t = Txn::new()
                    .when([Compare::value(etcd_key.clone(), CompareOp::Equal, from)])
                    .and_then([TxnOp::put(etcd_key, to, None)]);
                let c = self.conn()?;
                match within(timeout, c.txn(t)).await {
                    Ok(r) if r.succeeded() => Ok(op.complete(OpType::Ok, op.value.clone())),
                    Ok(_) => Ok(op
                        .complete(OpType::Fail, op.value.clone())
                        .with_error(Value::kw("cas-mismatch"))),
                    Err(e) => failed(op, false, e),
                }
            }
            _ => Err(bad_op(op, "register ops are read, write, cas")),
        }
    }

    async fn set(&mut self, op: &Op) -> PlugResult<Op> {
        let timeout = self.opts.timeout;
        match op.f_name() {
            "add" => {
                let key = format!("{SET_PREFIX}{}", int_text(&op.value, op)?);
                let c = self.conn()?;
                match within(timeout, c.put(key, "", None)).await {
                    Ok(_) => Ok(op.complete(OpType::Ok, op.value.clone())),
                    Err(e) => failed(op, false, e),
                }
            }
            "read" => {
                let opts = GetOptions::new().with_prefix().with_keys_only();
                let c = self.conn()?;
                match within(timeout, c.get(SET_PREFIX, Some(opts))).await {
                    Ok(r) => {
                        let mut elems: Vec<Value> = r
                            .kvs()
                            .iter()
                            .map(|kv| parse_int(&kv.key()[SET_PREFIX.len()..]))
                            .collect();
                        elems.sort();
                        Ok(op.complete(OpType::Ok, Value::Set(elems)))
                    }
                    Err(e) => failed(op, true, e),
                }
            }
            _ => Err(bad_op(op, "set ops are add and read")),
        }
    }

    async fn txn(&mut self, op: &Op) -> PlugResult<Op> {
        if op.f_name() != "txn" {
            return Err(bad_op(op, "append and wr ops are txn"));
        }
        let kind = match self.workload {
            EtcdWorkload::Append => txn::TxnKind::Append,
            _ => txn::TxnKind::Wr,
        };
        let mops = txn::parse_mops(&op.value, kind).map_err(|e| bad_op(op, &e))?;
        let timeout = self.opts.timeout;
        let attempts = self.opts.max_txn_attempts.max(1);
        let stats = self.stats.clone();
        let c = self.conn()?;
        for attempt in 0..attempts {
            if attempt > 0 {
                tokio::time::sleep(backoff(attempt, op)).await;
            }
            let snap = match within(timeout, txn::read_snapshot(c, kind, &mops)).await {
                Ok(s) => s,
                Err(e) => return failed(op, true, e),
            };
            let plan = match txn::plan(kind, &mops, &snap) {
                Ok(p) => p,
                Err(e) => {
                    return Ok(op
                        .complete(OpType::Fail, op.value.clone())
                        .with_error(Value::str(&e)))
                }
            };
            if plan.writes.is_empty() {
                return Ok(op.complete(OpType::Ok, plan.completed));
            }
            match within(timeout, txn::commit(c, kind, &snap, &plan)).await {
                Ok(true) => return Ok(op.complete(OpType::Ok, plan.completed)),
                Ok(false) => {
                    stats.txn_conflicts.fetch_add(1, Ordering::Relaxed);
                }
                Err(e) => return failed(op, false, e),
            }
        }
        stats.txn_gave_up.fetch_add(1, Ordering::Relaxed);
        Ok(op
            .complete(OpType::Fail, op.value.clone())
            .with_error(Value::kw("txn-conflict")))
    }
}

/// The pause before retry `attempt` (1, 2, ...) of a conflicting txn: 2, 4, 8... ms plus a
/// jitter from the op's process, so that two clients that collided do not collide again.
fn backoff(attempt: u32, op: &Op) -> Duration {
    let base_ms = 1u64 << attempt.min(6);
    let jitter_ms = op.process.client().unwrap_or(0).unsigned_abs() % (base_ms + 1);
    Duration::from_millis(base_ms + jitter_ms)
}

#[async_trait]
impl Client for EtcdClient {
    async fn open(&self, _test: &TestInfo, node: &str) -> PlugResult<Box<dyn Client>> {
        let conn = self.connect(node).await?;
        Ok(Box::new(EtcdClient {
            endpoints: self.endpoints.clone(),
            workload: self.workload,
            opts: self.opts.clone(),
            stats: self.stats.clone(),
            conn: Some(conn),
        }))
    }

    /// A request its member refused (`fail` with `:connect`: the member is down) returns
    /// after [`CONNECT_FAIL_PAUSE`], so that a thread bound to a killed node does not spin.
    async fn invoke(&mut self, _test: &TestInfo, op: &Op) -> PlugResult<Op> {
        let done = match self.workload {
            EtcdWorkload::Register => self.register(op).await,
            EtcdWorkload::Set => self.set(op).await,
            EtcdWorkload::Append | EtcdWorkload::Wr => self.txn(op).await,
        };
        if let Ok(d) = &done {
            if d.ty == OpType::Fail && d.error == Some(Value::kw("connect")) {
                tokio::time::sleep(CONNECT_FAIL_PAUSE).await;
            }
        }
        done
    }

    async fn close(&mut self, _test: &TestInfo) -> PlugResult<()> {
        self.conn = None;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grpc(code: tonic::Code) -> etcd_client::Error {
        etcd_client::Error::GRpcStatus(tonic::Status::new(code, "etcdserver: x"))
    }

    #[test]
    fn definite_errors_fail_and_the_rest_are_indeterminate() {
        let c = classify(&grpc(tonic::Code::Unavailable));
        assert_eq!(
            (c.definite, c.kind.as_str(), c.message.as_str()),
            (false, "unavailable", "etcdserver: x")
        );
        let refused = tonic::Status::new(tonic::Code::Unavailable, "tcp connect error");
        let c = classify(&etcd_client::Error::GRpcStatus(refused));
        assert_eq!((c.definite, c.kind.as_str()), (true, "connect"));
        assert!(!classify(&grpc(tonic::Code::DeadlineExceeded)).definite);
        assert!(!classify(&grpc(tonic::Code::Unknown)).definite);
        assert!(classify(&grpc(tonic::Code::NotFound)).definite);
        assert!(classify(&grpc(tonic::Code::ResourceExhausted)).definite);
        assert!(classify(&etcd_client::Error::InvalidArgs("x".into())).definite);
        let io = etcd_client::Error::IoError(std::io::Error::other("reset"));
        assert_eq!(classify(&io).kind, "io");
        assert!(!classify(&io).definite);
    }

    #[test]
    fn failed_writes_are_info_and_failed_reads_fail() {
        let op = Op::invoke(0, "write", Value::Vector(vec![1.into(), 2.into()]));
        let e = failed(&op, false, CallError::Timeout).unwrap_err();
        assert_eq!(e.kind, "timeout");
        let r = failed(&op, true, CallError::Timeout).unwrap();
        assert_eq!(r.ty, OpType::Fail);
        assert_eq!(r.error, Some(Value::kw("timeout")));
        let nf = failed(&op, false, CallError::Etcd(grpc(tonic::Code::NotFound))).unwrap();
        assert_eq!(nf.ty, OpType::Fail);
        assert_eq!(nf.error, Some(Value::kw("not-found")));
    }

    #[test]
    fn retries_back_off_with_jitter() {
        let op = |p: i64| Op::invoke(p, "txn", Value::Nil);
        assert_eq!(backoff(1, &op(0)), Duration::from_millis(2));
        assert_eq!(backoff(1, &op(4)), Duration::from_millis(3));
        assert_eq!(backoff(3, &op(4)), Duration::from_millis(12));
        assert_eq!(backoff(40, &op(0)), Duration::from_millis(64));
    }

    #[test]
    fn workload_names_round_trip() {
        for w in EtcdWorkload::ALL {
            assert_eq!(EtcdWorkload::parse(w.name()), Ok(w));
        }
        let e = EtcdWorkload::parse("bank").unwrap_err();
        assert_eq!(
            e,
            "--db etcd serves the workloads register, set, append, wr; not \"bank\""
        );
    }

    #[test]
    fn stored_values_parse_as_integers() {
        assert_eq!(parse_int(b"42"), Value::Int(42));
        assert_eq!(parse_int(b"-3"), Value::Int(-3));
        assert_eq!(parse_int(b"x"), Value::str("x"));
    }
}
