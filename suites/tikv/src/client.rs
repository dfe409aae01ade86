//! The client: the `tikv-client` crate (0.4.0) called directly, one client per worker (the
//! seed shares one "client server" per node). The raw API serves `register`, optimistic
//! transactions serve `set` and `list-append`, as in the seed. A client connects at its first
//! operation and again after an error that suggests its connection or region cache is bad.
//!
//! # Data layout
//!
//! | workload | keys | stored value | ops |
//! |---|---|---|---|
//! | `register` | `register/<k>` (raw) | decimal text, `3` | `read [k nil]` raw get (absent: `nil`), `write [k v]` raw put, `cas [k [old new]]` raw compare-and-swap |
//! | `set` | `a-set` (txn) | comma-separated sorted integers, `0,3,7` | `add x`: get, insert, put, commit; `read`: get, the sorted vector |
//! | `list-append` | `append/<k>` (txn) | comma-separated integers in append order, `1,2,5` | `txn [[:r k nil] [:append k v]]`: each micro-op in order in one txn (an append is get, push, put), reads filled in (`nil` for a key never written) |
//!
//! An absent key and the empty text are the empty set or list. A stored value that does not
//! parse is kept as a string in a read's completion (for the checker to flag), and makes an
//! `add` or `append` fail with `[:corrupt-value "..."]` (its transaction is not committed).
//! All register ops use the atomic-mode raw client ([`RawClient::with_atomic_for_cas`]):
//! TiKV needs atomic mode for every write to a key that compare-and-swap touches.
//!
//! # What each error means
//!
//! [`classify`] decides from where an error came ([`Stage`]) and what it is; timeouts
//! (`--client-timeout`, one budget for the whole op) are [`classify_timeout`].
//!
//! | stage | error | recorded | why |
//! |---|---|---|---|
//! | connecting (PD) | any, or no answer in time | `fail` `:connect` | nothing was sent |
//! | a read (raw get, a txn that writes nothing) | any, timeout | `fail` | a read has no effect |
//! | txn before commit (begin, get, put) | any, timeout | `fail` | optimistic: puts are buffered in the client, nothing reached TiKV |
//! | commit | prewrite key errors (`MultipleKeyErrors`/`ExtractedErrors` whose every key error is a refusal), `KeyError` with `conflict`, `retryable`, `locked`, `already_exist`, `deadlock`, `assertion_failed` or `commit_ts_too_large` and none of the ambiguous fields, `ResolveLockError`, `OnePcFailure`, client-side checks | `fail` `:conflict`, `:locked`, ... | TiKV refused before the commit point; the client then rolls back |
//! | commit | `KeyError` with `abort`, `commit_ts_expired`, `txn_not_found`, `primary_mismatch` or nothing set; `UndeterminedError`, `Grpc`, `GrpcAPI`, `RegionError`, region/leader lookups, `Io`, `Channel`, `Canceled`, `JoinError`, `KvError`, `InternalError`, `StringError`, timeout, ... | `info` | the primary's commit may have been applied |
//! | raw put / cas | `RegionError` whose every field says TiKV refused to propose (`not_leader`, `epoch_not_match`, `key_not_in_region`, `store_not_match`, `disk_full`, ...), no region or leader for the key, store connect (`Grpc`), bad address (`Url`), client-side checks (`UnsupportedMode`, ...) | `fail` | one attempt, which never reached the raft log |
//! | raw put / cas | `RegionError` with `stale_command`, `server_is_busy` (TiKV reports its own deadline as busy), `region_not_found` (a destroyed peer's pending proposals) or only a message; `GrpcAPI`, `KvError`, timeout, ... | `info` | the write may have been applied |
//! | cas | answered, not swapped | `fail` `:cas-mismatch` | nothing changed |
//!
//! The table is one exhaustive `match` over `tikv_client::Error` (its enum is not
//! `#[non_exhaustive]`), over every field of `kvrpcpb::KeyError` and of `errorpb::Error`:
//! a new variant or field in a tikv-client release fails to compile here.
//!
//! # What the tikv-client 0.4.0 source says (what the table rests on)
//!
//! - `Transaction::drop` (`src/transaction/transaction.rs`) panics (the default
//!   [`CheckLevel::Panic`] of `TransactionOptions::new_optimistic`) when the transaction is
//!   still `Active`: never committed nor rolled back. A timeout cancels the op's future and
//!   drops it so, hence [`txn_options`] sets [`CheckLevel::None`]. After `commit` or
//!   `rollback` started, the status is no longer `Active` and a drop is silent.
//! - An optimistic `put` only buffers (`Buffer::put`); `get` reads at the start timestamp.
//!   A transaction that fails before commit is dropped without a rollback RPC:
//!   `Committer::rollback` would only write rollback records for keys never prewritten.
//! - `Transaction::commit` runs `Committer::commit`: `prewrite` (every key, by region, with
//!   lock resolution and retries), then `commit_primary_with_retry` (the commit point), then
//!   `commit_secondary` in a spawned task. A transaction that writes nothing returns
//!   `Ok(None)` without any RPC. Without async commit and 1PC (not used here), only the
//!   primary's commit makes a transaction take effect: a lock resolver rolls an expired
//!   primary lock back and commits secondaries only after the primary has a commit record.
//!   So an error from prewrite is definite, rollback or not (the client rolls back to
//!   release the locks early).
//! - Prewrite key errors leave `commit` as `MultipleKeyErrors` (`single_shard_handler` in
//!   `src/request/plan.rs`, then the `CollectError` merge returns the first error); the
//!   primary's key error leaves it as a bare `KeyError` (`commit_primary_with_retry` pops the
//!   last of its `ExtractedErrors` and retries `commit_ts_expired` itself). Other error
//!   types (gRPC, region, PD) come from either phase, so they are `info`.
//! - `UndeterminedError` is returned only when `commit_primary` failed with `Error::Grpc` (a
//!   transport error); a timed-out or unavailable RPC (`GrpcAPI`) comes back as is.
//! - The request plans retry region errors and gRPC errors with backoff
//!   (`RetryableMultiRegion::single_shard_handler`, `handle_other_error`). Prewrite and commit
//!   are idempotent for one start timestamp, but a raw compare-and-swap retried after an
//!   attempt that was applied answers "not swapped", and a retried put applies twice. So raw
//!   writes use a client with `Backoff::no_backoff()` (one attempt per call) and this module
//!   retries only attempts TiKV refused, after a read through the retrying client has
//!   refreshed the shared region cache.
//! - `PdRpcClient::connect` (`validate_endpoints`, `src/pd/cluster.rs`) asks every endpoint
//!   in turn with no timeout (its timeout argument is unused): one paused PD would block
//!   creating a client. A client is therefore created with one endpoint at a time, rotating.

use rift_core::{Client, PlugResult, RiftError, TestInfo};
use rift_history::{Op, OpType, Value};
use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tikv_client::{
    Backoff, CheckLevel, Config, Error, ProtoKeyError, ProtoRegionError, RawClient, Transaction,
    TransactionClient, TransactionOptions,
};
use tokio::time::Instant;

/// The workload names, the first the default.
pub const WORKLOADS: &[&str] = &["register", "set", "list-append"];

/// The workloads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Workload {
    /// Linearizable registers on independent keys (raw API).
    Register,
    /// Jepsen's set: adds, then one final read (one transactional key).
    Set,
    /// Elle's list-append (optimistic transactions).
    ListAppend,
}

impl Workload {
    /// The workload named `name`.
    pub fn parse(name: &str) -> Result<Workload, String> {
        Ok(match name {
            "register" => Workload::Register,
            "set" => Workload::Set,
            "list-append" => Workload::ListAppend,
            other => {
                return Err(format!(
                    "the tikv suite serves the workloads {}; not {other:?}",
                    WORKLOADS.join(", ")
                ))
            }
        })
    }

    /// Its name.
    pub fn name(self) -> &'static str {
        match self {
            Workload::Register => "register",
            Workload::Set => "set",
            Workload::ListAppend => "list-append",
        }
    }
}

/// What the client talks to and how.
#[derive(Clone, Debug)]
pub struct ClientOptions {
    /// The workload.
    pub workload: Workload,
    /// PD's client endpoints, `10.0.0.1:2379`.
    pub pd_endpoints: Vec<String>,
    /// How long one operation may take, connecting included; also every RPC's timeout.
    pub timeout: Duration,
}

/// The key of the set workload's one set.
pub const SET_KEY: &str = "a-set";

/// The raw key of register `k`.
pub fn register_key(k: i64) -> String {
    format!("register/{k}")
}

/// The transactional key of list `k`.
pub fn append_key(k: i64) -> String {
    format!("append/{k}")
}

/// Integers as stored: `1,2,3` (the empty text for none).
pub fn encode_ints(xs: &[i64]) -> Vec<u8> {
    let text: Vec<String> = xs.iter().map(i64::to_string).collect();
    text.join(",").into_bytes()
}

/// A stored list of integers back to its elements; the stored text when it is not one.
pub fn decode_ints(bytes: &[u8]) -> Result<Vec<i64>, String> {
    let bad = || String::from_utf8_lossy(bytes).into_owned();
    let text = std::str::from_utf8(bytes).map_err(|_| bad())?;
    if text.is_empty() {
        return Ok(Vec::new());
    }
    text.split(',')
        .map(|s| s.parse::<i64>().map_err(|_| bad()))
        .collect()
}

/// A stored register back to its integer; the stored text when it is not one.
pub fn decode_int(bytes: &[u8]) -> Result<i64, String> {
    let text = String::from_utf8_lossy(bytes);
    text.parse().map_err(|_| text.into_owned())
}

/// What a register read saw: `nil` when absent, the integer, or the stored text.
pub fn register_value(stored: Option<&[u8]>) -> Value {
    match stored.map(decode_int) {
        None => Value::Nil,
        Some(Ok(i)) => Value::Int(i),
        Some(Err(text)) => Value::str(&text),
    }
}

/// What a list-append read saw: `nil` when absent, the list, or the stored text.
pub fn list_value(stored: Option<&[u8]>) -> Value {
    match stored.map(decode_ints) {
        None => Value::Nil,
        Some(Ok(l)) => Value::Vector(l.into_iter().map(Value::Int).collect()),
        Some(Err(text)) => Value::str(&text),
    }
}

/// What a set read saw: the sorted elements (none when absent), or the stored text.
pub fn set_value(stored: Option<&[u8]>) -> Value {
    match decode_ints(stored.unwrap_or_default()) {
        Ok(mut s) => {
            s.sort_unstable();
            s.dedup();
            Value::Vector(s.into_iter().map(Value::Int).collect())
        }
        Err(text) => Value::str(&text),
    }
}

/// The stored set with `x` added (sorted, no duplicates); the stored text when corrupt.
pub fn set_with(stored: Option<&[u8]>, x: i64) -> Result<Vec<u8>, String> {
    let mut s = decode_ints(stored.unwrap_or_default())?;
    if let Err(at) = s.binary_search(&x) {
        s.insert(at, x);
    }
    Ok(encode_ints(&s))
}

/// The stored list with `v` appended; the stored text when corrupt.
pub fn list_with(stored: Option<&[u8]>, v: i64) -> Result<Vec<u8>, String> {
    let mut l = decode_ints(stored.unwrap_or_default())?;
    l.push(v);
    Ok(encode_ints(&l))
}

/// The error of an op that found a corrupt value: `[:corrupt-value "key: text"]`.
pub fn corrupt_value(key: &str, text: &str) -> Value {
    Value::Vector(vec![
        Value::kw("corrupt-value"),
        Value::str(&format!("{key}: {text:?}")),
    ])
}

/// Where an error came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stage {
    /// Creating the client (PD).
    Connect,
    /// A read with no effect: a raw get, or any step of a transaction that writes nothing.
    Read,
    /// `begin`, `get` or `put` of a transaction that writes, before `commit`.
    BeforeCommit,
    /// `commit` of a transaction that writes.
    Commit,
    /// A raw put or compare-and-swap (one attempt per call: see the module documentation).
    RawWrite,
}

/// How a failed op is recorded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Definitely did not happen: `fail` with this error keyword.
    Fail(&'static str),
    /// May have happened: `info` with this error keyword.
    Info(&'static str),
}

impl Outcome {
    /// `fail` or `info`.
    pub fn op_type(self) -> OpType {
        match self {
            Outcome::Fail(_) => OpType::Fail,
            Outcome::Info(_) => OpType::Info,
        }
    }

    /// The error keyword.
    pub fn keyword(self) -> &'static str {
        match self {
            Outcome::Fail(k) | Outcome::Info(k) => k,
        }
    }
}

/// How an error at `stage` is recorded (the module documentation's table).
pub fn classify(stage: Stage, e: &Error) -> Outcome {
    let row = row(e);
    let refused = match stage {
        Stage::Connect => return Outcome::Fail("connect"),
        Stage::Read | Stage::BeforeCommit => true,
        Stage::Commit => row.commit,
        Stage::RawWrite => row.raw_write,
    };
    if refused {
        Outcome::Fail(row.keyword)
    } else {
        Outcome::Info(row.keyword)
    }
}

/// How an op that ran out of time at `stage` is recorded: `info` during a commit or a raw
/// write, `fail` elsewhere.
pub fn classify_timeout(stage: Stage) -> Outcome {
    match stage {
        Stage::Connect => Outcome::Fail("connect"),
        Stage::Read | Stage::BeforeCommit => Outcome::Fail("timeout"),
        Stage::Commit | Stage::RawWrite => Outcome::Info("timeout"),
    }
}

/// One row of the table: the error's keyword, and whether it proves that nothing happened
/// at a commit and at a raw write.
struct Row {
    keyword: &'static str,
    commit: bool,
    raw_write: bool,
}

const FAIL: bool = true;
const INFO: bool = false;

fn r(keyword: &'static str, commit: bool, raw_write: bool) -> Row {
    Row {
        keyword,
        commit,
        raw_write,
    }
}

fn row(e: &Error) -> Row {
    match e {
        // Checks the client makes before it sends anything.
        Error::DuplicateKeyInsertion => r("duplicate-key", FAIL, FAIL),
        Error::InvalidTransactionType => r("invalid-txn-type", FAIL, FAIL),
        Error::OperationAfterCommitError => r("txn-finished", FAIL, FAIL),
        Error::NoPrimaryKey => r("no-primary-key", FAIL, FAIL),
        Error::UnsupportedMode => r("unsupported-mode", FAIL, FAIL),
        Error::ColumnFamilyError(_) => r("bad-column-family", FAIL, FAIL),
        Error::MaxScanLimitExceeded { .. } => r("scan-limit", FAIL, FAIL),
        Error::InvalidSemver(_) => r("bad-version", FAIL, FAIL),
        Error::KeyspaceNotFound(_) => r("keyspace-not-found", FAIL, FAIL),
        // A store's address that does not parse: before connecting to it. A commit may have
        // sent an earlier attempt elsewhere.
        Error::Url(_) => r("bad-url", INFO, FAIL),
        // Connecting to a store (`SecurityManager::connect`): nothing sent on this attempt.
        Error::Grpc(_) => r("grpc", INFO, FAIL),
        // Prewrite with 1PC fell back; the client does not commit the primary then.
        Error::OnePcFailure => r("one-pc-failure", FAIL, INFO),
        // Other transactions' locks that prewrite could not resolve.
        Error::ResolveLockError(_) => r("locked", FAIL, INFO),
        Error::KeyError(k) => r(key_error_keyword(k), key_error_refused(k), INFO),
        Error::MultipleKeyErrors(v) | Error::ExtractedErrors(v) => r(
            v.first().map_or("key-error", |e| row(e).keyword),
            !v.is_empty() && v.iter().all(|e| row(e).commit),
            INFO,
        ),
        Error::RegionError(reg) => r("region-error", INFO, region_error_refused(reg)),
        // Region lookups before the one attempt of a raw write.
        Error::RegionForKeyNotFound { .. } => r("region-not-found", INFO, FAIL),
        Error::RegionForRangeNotFound { .. } => r("region-not-found", INFO, FAIL),
        Error::RegionNotFoundInResponse { .. } => r("region-not-found", INFO, FAIL),
        Error::LeaderNotFound { .. } => r("leader-not-found", INFO, FAIL),
        // May have happened (or are never raised by 0.4.0, which is no proof of anything).
        Error::UndeterminedError(_) => r("undetermined", INFO, INFO),
        Error::GrpcAPI(_) => r("grpc", INFO, INFO),
        Error::Io(_) => r("io", INFO, INFO),
        Error::Channel(_) => r("channel", INFO, INFO),
        Error::Canceled(_) => r("canceled", INFO, INFO),
        Error::JoinError(_) => r("join-error", INFO, INFO),
        Error::NoCurrentRegions => r("region-error", INFO, INFO),
        Error::EntryNotFoundInRegionCache => r("region-error", INFO, INFO),
        Error::KvError { .. } => r("kv-error", INFO, INFO),
        Error::InternalError { .. } => r("internal", INFO, INFO),
        Error::StringError(_) => r("error", INFO, INFO),
        Error::PessimisticLockError { .. } => r("pessimistic-lock", INFO, INFO),
        Error::TxnNotFound(_) => r("txn-not-found", INFO, INFO),
        Error::Unimplemented => r("unimplemented", INFO, INFO),
    }
}

/// Whether a key error says TiKV refused the write (prewrite's conflicts and locks, or the
/// primary's `TxnLockNotFound`, reported as `retryable`), with none of the fields whose
/// origin or meaning is unclear (`abort` is TiKV's catch-all; `commit_ts_expired`,
/// `txn_not_found` and `primary_mismatch` come from the commit and lock-resolution paths).
pub fn key_error_refused(k: &ProtoKeyError) -> bool {
    let ProtoKeyError {
        locked,
        retryable,
        abort,
        conflict,
        already_exist,
        deadlock,
        commit_ts_expired,
        txn_not_found,
        commit_ts_too_large,
        assertion_failed,
        primary_mismatch,
    } = k;
    let refused = locked.is_some()
        || !retryable.is_empty()
        || conflict.is_some()
        || already_exist.is_some()
        || deadlock.is_some()
        || commit_ts_too_large.is_some()
        || assertion_failed.is_some();
    let unclear = !abort.is_empty()
        || commit_ts_expired.is_some()
        || txn_not_found.is_some()
        || primary_mismatch.is_some();
    refused && !unclear
}

fn key_error_keyword(k: &ProtoKeyError) -> &'static str {
    if k.conflict.is_some() {
        "conflict"
    } else if k.locked.is_some() {
        "locked"
    } else if k.already_exist.is_some() {
        "already-exists"
    } else if k.deadlock.is_some() {
        "deadlock"
    } else if k.commit_ts_expired.is_some() {
        "commit-ts-expired"
    } else if k.txn_not_found.is_some() {
        "txn-not-found"
    } else if !k.abort.is_empty() {
        "abort"
    } else if !k.retryable.is_empty() {
        "retryable"
    } else {
        "key-error"
    }
}

/// Whether a region error says TiKV refused to propose the request (it never reached the
/// raft log, or was rejected when applied), with none of the fields that may follow a
/// proposal: `stale_command` (also sent to a destroyed peer's pending proposals),
/// `region_not_found` (likewise), `server_is_busy` (TiKV reports its own deadline as busy),
/// or none at all (a message only, like "TiKV is Closing").
pub fn region_error_refused(e: &ProtoRegionError) -> bool {
    let ProtoRegionError {
        message: _,
        not_leader,
        region_not_found,
        key_not_in_region,
        epoch_not_match,
        server_is_busy,
        stale_command,
        store_not_match,
        raft_entry_too_large,
        max_timestamp_not_synced,
        read_index_not_ready,
        proposal_in_merging_mode,
        data_is_not_ready,
        region_not_initialized,
        disk_full,
        recovery_in_progress,
        flashback_in_progress,
        flashback_not_prepared,
        is_witness,
        mismatch_peer_id,
        bucket_version_not_match,
    } = e;
    let refused = not_leader.is_some()
        || key_not_in_region.is_some()
        || epoch_not_match.is_some()
        || store_not_match.is_some()
        || raft_entry_too_large.is_some()
        || max_timestamp_not_synced.is_some()
        || read_index_not_ready.is_some()
        || proposal_in_merging_mode.is_some()
        || data_is_not_ready.is_some()
        || region_not_initialized.is_some()
        || disk_full.is_some()
        || recovery_in_progress.is_some()
        || flashback_in_progress.is_some()
        || flashback_not_prepared.is_some()
        || is_witness.is_some()
        || mismatch_peer_id.is_some()
        || bucket_version_not_match.is_some();
    let unclear = stale_command.is_some() || region_not_found.is_some() || server_is_busy.is_some();
    refused && !unclear
}

/// Whether the client should be created again after `e`: anything but TiKV's answers about
/// keys (conflicts, locks) may mean a broken connection or a stale region cache.
pub fn resets_client(e: &Error) -> bool {
    !matches!(
        e,
        Error::KeyError(_)
            | Error::MultipleKeyErrors(_)
            | Error::ExtractedErrors(_)
            | Error::ResolveLockError(_)
            | Error::DuplicateKeyInsertion
    )
}

/// The options of every transaction: optimistic (as the seed), silent when dropped.
pub fn txn_options() -> TransactionOptions {
    TransactionOptions::new_optimistic().drop_check(CheckLevel::None)
}

/// Why a step failed.
#[derive(Debug)]
enum Failure {
    Tikv(Error),
    Timeout(Duration),
}

impl Failure {
    fn outcome(&self, stage: Stage) -> Outcome {
        match self {
            Failure::Tikv(e) => classify(stage, e),
            Failure::Timeout(_) => classify_timeout(stage),
        }
    }

    fn resets_client(&self) -> bool {
        match self {
            Failure::Tikv(e) => resets_client(e),
            Failure::Timeout(_) => true,
        }
    }

    fn message(&self) -> String {
        let mut m = match self {
            Failure::Tikv(e) => e.to_string(),
            Failure::Timeout(t) => format!("no answer within {t:?}"),
        };
        if m.len() > 400 {
            let mut cut = 400;
            while !m.is_char_boundary(cut) {
                cut -= 1;
            }
            m.truncate(cut);
            m.push_str("...");
        }
        m
    }
}

/// Runs `f` until `deadline`.
async fn within<T>(
    deadline: Instant,
    f: impl Future<Output = tikv_client::Result<T>>,
) -> Result<T, Failure> {
    let budget = deadline.saturating_duration_since(Instant::now());
    match tokio::time::timeout_at(deadline, f).await {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(Failure::Tikv(e)),
        Err(_) => Err(Failure::Timeout(budget)),
    }
}

/// How a step's failure completes `op`: its outcome, `[:keyword "message"]`.
fn failed(op: &Op, stage: Stage, f: &Failure) -> Op {
    let out = f.outcome(stage);
    op.complete(out.op_type(), op.value.clone())
        .with_error(Value::Vector(vec![
            Value::kw(out.keyword()),
            Value::str(&f.message()),
        ]))
}

fn bad_op(op: &Op, what: &str) -> RiftError {
    RiftError::new(
        "bad-op",
        format!("{what}: got {} {}", op.f_name(), op.value),
    )
}

/// A register op of the invocation `[k v]`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RegisterOp {
    /// `read [k nil]`.
    Read(i64),
    /// `write [k v]`.
    Write(i64, i64),
    /// `cas [k [old new]]`.
    Cas(i64, i64, i64),
}

/// The register op of `op`.
pub fn parse_register(op: &Op) -> Result<RegisterOp, String> {
    let Some([key, arg]) = op.value.as_seq() else {
        return Err("register ops take [key value]".into());
    };
    let k = key.as_i64().ok_or("register keys are integers")?;
    let int = |v: &Value| v.as_i64().ok_or("register values are integers");
    Ok(match op.f_name() {
        "read" => RegisterOp::Read(k),
        "write" => RegisterOp::Write(k, int(arg)?),
        "cas" => match arg.as_seq() {
            Some([old, new]) => RegisterOp::Cas(k, int(old)?, int(new)?),
            _ => return Err("cas takes [key [old new]]".into()),
        },
        _ => return Err("register ops are read, write, cas".into()),
    })
}

/// One micro-op of a list-append transaction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Mop {
    /// The key.
    pub key: i64,
    /// The value appended; `None` for a read.
    pub append: Option<i64>,
}

/// The micro-ops of a `txn` invocation: `[[:r k nil] [:append k v] ...]`.
pub fn parse_mops(op: &Op) -> Result<Vec<Mop>, String> {
    if op.f_name() != "txn" {
        return Err("list-append ops are txn".into());
    }
    let seq = op
        .value
        .as_seq()
        .ok_or("a transaction is a list of micro-ops")?;
    seq.iter()
        .map(|m| {
            let bad = || format!("bad micro-op {m}");
            let Some([f, k, v]) = m.as_seq() else {
                return Err(bad());
            };
            let key = k.as_i64().ok_or_else(bad)?;
            match f.as_name() {
                Some("r") => Ok(Mop { key, append: None }),
                Some("append") => Ok(Mop {
                    key,
                    append: Some(v.as_i64().ok_or_else(bad)?),
                }),
                _ => Err(bad()),
            }
        })
        .collect()
}

/// What one transaction does.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Plan {
    /// `add x` to the set.
    SetAdd(i64),
    /// `read` the set.
    SetRead,
    /// A list-append transaction.
    Mops(Vec<Mop>),
}

impl Plan {
    /// The plan of a `set` or `list-append` op.
    pub fn of(workload: Workload, op: &Op) -> Result<Plan, String> {
        match (workload, op.f_name()) {
            (Workload::Set, "add") => op
                .value
                .as_i64()
                .map(Plan::SetAdd)
                .ok_or_else(|| "set elements are integers".into()),
            (Workload::Set, "read") => Ok(Plan::SetRead),
            (Workload::Set, _) => Err("set ops are add and read".into()),
            (Workload::ListAppend, _) => parse_mops(op).map(Plan::Mops),
            (Workload::Register, _) => Err("register ops are not transactions".into()),
        }
    }

    /// Whether it writes (else it has no effect, whatever happens).
    pub fn writes(&self) -> bool {
        match self {
            Plan::SetAdd(_) => true,
            Plan::SetRead => false,
            Plan::Mops(m) => m.iter().any(|m| m.append.is_some()),
        }
    }
}

/// What a transaction body decided.
enum Body {
    /// Commit; the op completes ok with this value (`None`: the invocation's).
    Commit(Option<Value>),
    /// Do not commit; the op fails with this error.
    Abort(Value),
}

/// How an op ended, short of a failure.
enum Done {
    Ok(Option<Value>),
    Fail(Value),
}

type Ended = Result<Done, (Stage, Failure)>;

async fn run_body(txn: &mut Transaction, plan: &Plan) -> tikv_client::Result<Body> {
    match plan {
        Plan::SetAdd(x) => {
            let stored = txn.get(SET_KEY.to_owned()).await?;
            match set_with(stored.as_deref(), *x) {
                Ok(next) => {
                    txn.put(SET_KEY.to_owned(), next).await?;
                    Ok(Body::Commit(None))
                }
                Err(text) => Ok(Body::Abort(corrupt_value(SET_KEY, &text))),
            }
        }
        Plan::SetRead => {
            let stored = txn.get(SET_KEY.to_owned()).await?;
            Ok(Body::Commit(Some(set_value(stored.as_deref()))))
        }
        Plan::Mops(mops) => {
            let mut done = Vec::with_capacity(mops.len());
            for m in mops {
                let key = append_key(m.key);
                let stored = txn.get(key.clone()).await?;
                let (f, v) = match m.append {
                    None => ("r", list_value(stored.as_deref())),
                    Some(v) => match list_with(stored.as_deref(), v) {
                        Ok(next) => {
                            txn.put(key, next).await?;
                            ("append", Value::Int(v))
                        }
                        Err(text) => return Ok(Body::Abort(corrupt_value(&key, &text))),
                    },
                };
                done.push(Value::Vector(vec![Value::kw(f), Value::Int(m.key), v]));
            }
            Ok(Body::Commit(Some(Value::Vector(done))))
        }
    }
}

/// Runs `plan` in one optimistic transaction.
async fn run_txn(
    client: &TransactionClient,
    plan: &Plan,
    deadline: Instant,
    timeout: Duration,
) -> Ended {
    let (before, at_commit) = if plan.writes() {
        (Stage::BeforeCommit, Stage::Commit)
    } else {
        (Stage::Read, Stage::Read)
    };
    let mut txn = within(deadline, client.begin_with_options(txn_options()))
        .await
        .map_err(|f| (before, f))?;
    // A failure here drops the transaction: nothing of it reached TiKV.
    let value = match within(deadline, run_body(&mut txn, plan)).await {
        Ok(Body::Commit(v)) => v,
        Ok(Body::Abort(e)) => return Ok(Done::Fail(e)),
        Err(f) => return Err((before, f)),
    };
    match within(deadline, txn.commit()).await {
        Ok(_) => Ok(Done::Ok(value)),
        Err(f) => {
            if at_commit == Stage::Commit && f.outcome(at_commit).op_type() == OpType::Fail {
                // Prewrite was refused: release the locks it left (the op is over either way).
                let bound = ROLLBACK_TIMEOUT.min(timeout / 2);
                let _ = tokio::time::timeout(bound, txn.rollback()).await;
            }
            Err((at_commit, f))
        }
    }
}

/// How long a rollback after a refused commit may take (at most half the op timeout).
const ROLLBACK_TIMEOUT: Duration = Duration::from_secs(2);

/// Attempts of a raw write that TiKV refused, before it is given up as `fail`.
const RAW_WRITE_ATTEMPTS: u32 = 8;

/// Sends a raw write (one attempt per `send`, the writer has no backoff) and sends it again
/// only after TiKV refused it ([`region_error_refused`]), once a read of `key` through the
/// retrying `reads` client has refreshed the region cache both share.
async fn raw_write<T, F, Fut>(
    reads: &RawClient,
    key: &str,
    deadline: Instant,
    mut send: F,
) -> Result<T, Failure>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = tikv_client::Result<T>>,
{
    let mut attempt = 1;
    loop {
        let res = within(deadline, send()).await;
        let backoff = Duration::from_millis(10 << attempt.min(5));
        match res {
            Err(Failure::Tikv(Error::RegionError(e)))
                if region_error_refused(&e)
                    && attempt < RAW_WRITE_ATTEMPTS
                    && Instant::now() + backoff < deadline =>
            {
                let _ = within(deadline, reads.get(key.to_owned())).await;
                tokio::time::sleep(backoff).await;
                attempt += 1;
            }
            other => return other,
        }
    }
}

/// One worker's connection.
enum Conn {
    Raw {
        /// Atomic mode, the library's retries: reads.
        reads: RawClient,
        /// Atomic mode, one attempt per call: puts and compare-and-swaps.
        writes: RawClient,
    },
    Txn(TransactionClient),
}

/// The client of one worker (a template until [`Client::open`]).
pub struct TikvClient {
    opts: Arc<ClientOptions>,
    node: String,
    /// Which PD endpoint the next connection tries first (shared by all opened clients).
    next_endpoint: Arc<AtomicUsize>,
    conn: Option<Conn>,
}

impl TikvClient {
    /// A client template (opened per worker by the runner).
    pub fn new(opts: ClientOptions) -> TikvClient {
        TikvClient {
            opts: Arc::new(opts),
            node: String::new(),
            next_endpoint: Arc::new(AtomicUsize::new(0)),
            conn: None,
        }
    }

    /// Creates the client with one PD endpoint at a time (rotating), each given a share of
    /// the op's time.
    async fn connect(&mut self, deadline: Instant) -> Result<&Conn, Failure> {
        if self.conn.is_none() {
            let o = self.opts.clone();
            let n = o.pd_endpoints.len();
            let config = Config::default().with_timeout(o.timeout);
            let share = (o.timeout / n.max(1) as u32).max(Duration::from_millis(500));
            let start = self.next_endpoint.fetch_add(1, Ordering::Relaxed);
            let mut last = Failure::Tikv(Error::StringError("no PD endpoints".into()));
            for i in 0..n {
                let ep = vec![o.pd_endpoints[(start + i) % n].clone()];
                let until = deadline.min(Instant::now() + share);
                let made = match o.workload {
                    Workload::Register => {
                        within(until, RawClient::new_with_config(ep, config.clone()))
                            .await
                            .map(|raw| {
                                let reads = raw.with_atomic_for_cas();
                                let writes = reads.with_backoff(Backoff::no_backoff());
                                Conn::Raw { reads, writes }
                            })
                    }
                    _ => within(
                        until,
                        TransactionClient::new_with_config(ep, config.clone()),
                    )
                    .await
                    .map(Conn::Txn),
                };
                match made {
                    Ok(c) => {
                        self.conn = Some(c);
                        break;
                    }
                    Err(f) => last = f,
                }
                if Instant::now() >= deadline {
                    break;
                }
            }
            if self.conn.is_none() {
                return Err(last);
            }
        }
        Ok(self.conn.as_ref().expect("connected"))
    }

    /// Completes `op` from how it ended; forgets the connection after a failure that may
    /// have broken it.
    fn finish(&mut self, op: &Op, ended: Ended) -> Op {
        match ended {
            Ok(Done::Ok(v)) => op.complete(OpType::Ok, v.unwrap_or_else(|| op.value.clone())),
            Ok(Done::Fail(e)) => op.complete(OpType::Fail, op.value.clone()).with_error(e),
            Err((stage, f)) => {
                if f.resets_client() && self.conn.take().is_some() {
                    tracing::debug!(node = %self.node, error = %f.message(), "tikv client reset");
                }
                failed(op, stage, &f)
            }
        }
    }

    async fn register(&mut self, op: &Op) -> PlugResult<Op> {
        let rop = parse_register(op).map_err(|e| bad_op(op, &e))?;
        let deadline = Instant::now() + self.opts.timeout;
        let (reads, writes) = match self.connect(deadline).await {
            Ok(Conn::Raw { reads, writes }) => (reads.clone(), writes.clone()),
            Ok(Conn::Txn(_)) => return Err(RiftError::new("client-bug", "no raw client")),
            Err(f) => return Ok(self.finish(op, Err((Stage::Connect, f)))),
        };
        let ended = match rop {
            RegisterOp::Read(k) => match within(deadline, reads.get(register_key(k))).await {
                Ok(v) => Ok(Done::Ok(Some(Value::Vector(vec![
                    Value::Int(k),
                    register_value(v.as_deref()),
                ])))),
                Err(f) => Err((Stage::Read, f)),
            },
            RegisterOp::Write(k, v) => {
                let key = register_key(k);
                let value = v.to_string().into_bytes();
                raw_write(&reads, &key, deadline, || {
                    writes.put(key.clone(), value.clone())
                })
                .await
                .map(|()| Done::Ok(None))
                .map_err(|f| (Stage::RawWrite, f))
            }
            RegisterOp::Cas(k, old, new) => {
                let key = register_key(k);
                let (old, new) = (old.to_string().into_bytes(), new.to_string().into_bytes());
                let cas = || writes.compare_and_swap(key.clone(), Some(old.clone()), new.clone());
                match raw_write(&reads, &key, deadline, cas).await {
                    Ok((_, true)) => Ok(Done::Ok(None)),
                    Ok((_, false)) => Ok(Done::Fail(Value::kw("cas-mismatch"))),
                    Err(f) => Err((Stage::RawWrite, f)),
                }
            }
        };
        Ok(self.finish(op, ended))
    }

    async fn txn(&mut self, op: &Op, plan: Plan) -> PlugResult<Op> {
        let deadline = Instant::now() + self.opts.timeout;
        let client = match self.connect(deadline).await {
            Ok(Conn::Txn(c)) => c.clone(),
            Ok(Conn::Raw { .. }) => return Err(RiftError::new("client-bug", "no txn client")),
            Err(f) => return Ok(self.finish(op, Err((Stage::Connect, f)))),
        };
        let ended = run_txn(&client, &plan, deadline, self.opts.timeout).await;
        Ok(self.finish(op, ended))
    }
}

#[async_trait::async_trait]
impl Client for TikvClient {
    async fn open(&self, _test: &TestInfo, node: &str) -> PlugResult<Box<dyn Client>> {
        // The client is created at the first op: one that cannot reach PD is a `fail`.
        Ok(Box::new(TikvClient {
            opts: self.opts.clone(),
            node: node.to_string(),
            next_endpoint: self.next_endpoint.clone(),
            conn: None,
        }))
    }

    async fn invoke(&mut self, _test: &TestInfo, op: &Op) -> PlugResult<Op> {
        match self.opts.workload {
            Workload::Register => self.register(op).await,
            w => {
                let plan = Plan::of(w, op).map_err(|e| bad_op(op, &e))?;
                self.txn(op, plan).await
            }
        }
    }

    async fn close(&mut self, _test: &TestInfo) -> PlugResult<()> {
        self.conn = None;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key_error(f: impl FnOnce(&mut ProtoKeyError)) -> Error {
        let mut k = ProtoKeyError::default();
        f(&mut k);
        Error::KeyError(Box::new(k))
    }

    fn region_error(f: impl FnOnce(&mut ProtoRegionError)) -> Error {
        let mut e = ProtoRegionError {
            message: "region error".into(),
            ..Default::default()
        };
        f(&mut e);
        Error::RegionError(Box::new(e))
    }

    fn conflict() -> Error {
        key_error(|k| {
            k.conflict = Some(Default::default());
            k.retryable = "WriteConflict".into();
        })
    }

    fn abort() -> Error {
        key_error(|k| k.abort = "Engine(...)".into())
    }

    fn join_error() -> tokio::task::JoinError {
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        rt.block_on(async {
            let h = tokio::spawn(std::future::pending::<()>());
            h.abort();
            h.await.unwrap_err()
        })
    }

    /// One error of every variant, with its keyword and how it is recorded at a commit and
    /// at a raw write.
    #[rustfmt::skip]
    fn every_variant() -> Vec<(Error, &'static str, Outcome, Outcome)> {
        use Outcome::{Fail as F, Info as I};
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        drop(tx);
        let recv = rx.blocking_recv().unwrap_err();
        let transport = tonic::transport::Endpoint::from_shared("not a uri\n").unwrap_err();
        let uri = "not a uri\n"
            .parse::<tonic::codegen::http::Uri>()
            .unwrap_err();
        let semver = semver::Version::parse("x").unwrap_err();
        vec![
            (Error::Unimplemented, "unimplemented", I("unimplemented"), I("unimplemented")),
            (Error::DuplicateKeyInsertion, "duplicate-key", F("duplicate-key"), F("duplicate-key")),
            (Error::ResolveLockError(vec![Default::default()]), "locked", F("locked"), I("locked")),
            (Error::InvalidTransactionType, "invalid-txn-type", F("invalid-txn-type"), F("invalid-txn-type")),
            (Error::OperationAfterCommitError, "txn-finished", F("txn-finished"), F("txn-finished")),
            (Error::OnePcFailure, "one-pc-failure", F("one-pc-failure"), I("one-pc-failure")),
            (Error::NoPrimaryKey, "no-primary-key", F("no-primary-key"), F("no-primary-key")),
            (Error::UnsupportedMode, "unsupported-mode", F("unsupported-mode"), F("unsupported-mode")),
            (Error::NoCurrentRegions, "region-error", I("region-error"), I("region-error")),
            (Error::EntryNotFoundInRegionCache, "region-error", I("region-error"), I("region-error")),
            (Error::Io(std::io::Error::other("reset")), "io", I("io"), I("io")),
            (Error::Channel(recv), "channel", I("channel"), I("channel")),
            (Error::Grpc(transport), "grpc", I("grpc"), F("grpc")),
            (Error::GrpcAPI(tonic::Status::deadline_exceeded("slow")), "grpc", I("grpc"), I("grpc")),
            (Error::Url(uri), "bad-url", I("bad-url"), F("bad-url")),
            (Error::Canceled(futures::channel::oneshot::Canceled), "canceled", I("canceled"), I("canceled")),
            (region_error(|e| e.not_leader = Some(Default::default())), "region-error", I("region-error"), F("region-error")),
            (Error::UndeterminedError(Box::new(Error::StringError("x".into()))), "undetermined", I("undetermined"), I("undetermined")),
            (conflict(), "conflict", F("conflict"), I("conflict")),
            (Error::ExtractedErrors(vec![conflict()]), "conflict", F("conflict"), I("conflict")),
            (Error::MultipleKeyErrors(vec![conflict(), conflict()]), "conflict", F("conflict"), I("conflict")),
            (Error::ColumnFamilyError("x".into()), "bad-column-family", F("bad-column-family"), F("bad-column-family")),
            (Error::JoinError(join_error()), "join-error", I("join-error"), I("join-error")),
            (Error::RegionForKeyNotFound { key: vec![1] }, "region-not-found", I("region-not-found"), F("region-not-found")),
            (Error::RegionForRangeNotFound { range: (..).into() }, "region-not-found", I("region-not-found"), F("region-not-found")),
            (Error::RegionNotFoundInResponse { region_id: 3 }, "region-not-found", I("region-not-found"), F("region-not-found")),
            (Error::LeaderNotFound { region: Default::default() }, "leader-not-found", I("leader-not-found"), F("leader-not-found")),
            (Error::MaxScanLimitExceeded { limit: 2, max_limit: 1 }, "scan-limit", F("scan-limit"), F("scan-limit")),
            (Error::InvalidSemver(semver), "bad-version", F("bad-version"), F("bad-version")),
            (Error::KvError { message: "raw put failed".into() }, "kv-error", I("kv-error"), I("kv-error")),
            (Error::InternalError { message: "PD cluster failed to respond".into() }, "internal", I("internal"), I("internal")),
            (Error::StringError("2PC min_commit_ts is too large".into()), "error", I("error"), I("error")),
            (Error::PessimisticLockError { inner: Box::new(conflict()), success_keys: vec![] }, "pessimistic-lock", I("pessimistic-lock"), I("pessimistic-lock")),
            (Error::KeyspaceNotFound("ks".into()), "keyspace-not-found", F("keyspace-not-found"), F("keyspace-not-found")),
            (Error::TxnNotFound(Default::default()), "txn-not-found", I("txn-not-found"), I("txn-not-found")),
        ]
    }

    #[test]
    fn every_variant_has_its_row() {
        let all = every_variant();
        assert_eq!(all.len(), 35, "tikv-client 0.4.0 has 35 error variants");
        for (e, kw, commit, raw) in &all {
            assert_eq!(row(e).keyword, *kw, "{e:?}");
            assert_eq!(classify(Stage::Commit, e), *commit, "commit: {e:?}");
            assert_eq!(classify(Stage::RawWrite, e), *raw, "raw write: {e:?}");
            // Before the commit point nothing can have happened.
            assert_eq!(classify(Stage::Read, e), Outcome::Fail(kw), "{e:?}");
            assert_eq!(classify(Stage::BeforeCommit, e), Outcome::Fail(kw), "{e:?}");
            assert_eq!(
                classify(Stage::Connect, e),
                Outcome::Fail("connect"),
                "{e:?}"
            );
        }
    }

    #[test]
    fn key_errors_fail_only_when_tikv_refused() {
        let refused = [
            conflict(),
            key_error(|k| k.retryable = "TxnLockNotFound".into()),
            key_error(|k| k.locked = Some(Default::default())),
            key_error(|k| k.already_exist = Some(Default::default())),
            key_error(|k| k.deadlock = Some(Default::default())),
            key_error(|k| k.assertion_failed = Some(Default::default())),
            key_error(|k| k.commit_ts_too_large = Some(Default::default())),
        ];
        for e in &refused {
            assert_eq!(classify(Stage::Commit, e).op_type(), OpType::Fail, "{e:?}");
        }
        let unclear = [
            abort(),
            key_error(|_| {}),
            key_error(|k| k.commit_ts_expired = Some(Default::default())),
            key_error(|k| k.txn_not_found = Some(Default::default())),
            key_error(|k| k.primary_mismatch = Some(Default::default())),
            key_error(|k| {
                k.conflict = Some(Default::default());
                k.abort = "also".into();
            }),
        ];
        for e in &unclear {
            assert_eq!(classify(Stage::Commit, e).op_type(), OpType::Info, "{e:?}");
        }
        assert_eq!(classify(Stage::Commit, &abort()), Outcome::Info("abort"));
        let k = key_error(|k| k.retryable = "TxnLockNotFound".into());
        assert_eq!(classify(Stage::Commit, &k), Outcome::Fail("retryable"));
    }

    #[test]
    fn lists_of_key_errors_fail_only_when_all_were_refused() {
        let mixed = Error::MultipleKeyErrors(vec![conflict(), abort()]);
        assert_eq!(classify(Stage::Commit, &mixed), Outcome::Info("conflict"));
        let grpc = Error::ExtractedErrors(vec![
            conflict(),
            Error::GrpcAPI(tonic::Status::unavailable("down")),
        ]);
        assert_eq!(classify(Stage::Commit, &grpc).op_type(), OpType::Info);
        assert_eq!(
            classify(Stage::Commit, &Error::MultipleKeyErrors(vec![])),
            Outcome::Info("key-error")
        );
        let nested = Error::ExtractedErrors(vec![Error::MultipleKeyErrors(vec![conflict()])]);
        assert_eq!(classify(Stage::Commit, &nested), Outcome::Fail("conflict"));
        let locked =
            Error::MultipleKeyErrors(vec![key_error(|k| k.locked = Some(Default::default()))]);
        assert_eq!(classify(Stage::Commit, &locked), Outcome::Fail("locked"));
    }

    #[test]
    fn raw_writes_fail_only_when_tikv_refused_to_propose() {
        let refused = [
            region_error(|e| e.not_leader = Some(Default::default())),
            region_error(|e| e.epoch_not_match = Some(Default::default())),
            region_error(|e| e.key_not_in_region = Some(Default::default())),
            region_error(|e| e.store_not_match = Some(Default::default())),
            region_error(|e| e.disk_full = Some(Default::default())),
            region_error(|e| e.proposal_in_merging_mode = Some(Default::default())),
        ];
        for e in &refused {
            assert_eq!(
                classify(Stage::RawWrite, e),
                Outcome::Fail("region-error"),
                "{e:?}"
            );
            // At a commit the same error may follow an earlier, applied attempt.
            assert_eq!(
                classify(Stage::Commit, e),
                Outcome::Info("region-error"),
                "{e:?}"
            );
        }
        let unclear = [
            region_error(|_| {}),
            region_error(|e| e.stale_command = Some(Default::default())),
            region_error(|e| e.server_is_busy = Some(Default::default())),
            region_error(|e| e.region_not_found = Some(Default::default())),
            region_error(|e| {
                e.not_leader = Some(Default::default());
                e.stale_command = Some(Default::default());
            }),
        ];
        for e in &unclear {
            assert_eq!(
                classify(Stage::RawWrite, e),
                Outcome::Info("region-error"),
                "{e:?}"
            );
        }
        // A key error is no proof for a raw write.
        assert_eq!(
            classify(Stage::RawWrite, &conflict()).op_type(),
            OpType::Info
        );
    }

    #[test]
    fn timeouts_are_info_only_at_the_commit_point() {
        assert_eq!(classify_timeout(Stage::Connect), Outcome::Fail("connect"));
        assert_eq!(classify_timeout(Stage::Read), Outcome::Fail("timeout"));
        assert_eq!(
            classify_timeout(Stage::BeforeCommit),
            Outcome::Fail("timeout")
        );
        assert_eq!(classify_timeout(Stage::Commit), Outcome::Info("timeout"));
        assert_eq!(classify_timeout(Stage::RawWrite), Outcome::Info("timeout"));
        let f = Failure::Timeout(Duration::from_secs(5));
        assert!(f.resets_client());
        assert!(f.message().contains("5s"), "{}", f.message());
    }

    #[test]
    fn connection_errors_reset_the_client_key_errors_do_not() {
        assert!(!resets_client(&conflict()));
        assert!(!resets_client(&Error::MultipleKeyErrors(vec![conflict()])));
        assert!(!resets_client(&Error::ResolveLockError(vec![])));
        assert!(resets_client(&Error::GrpcAPI(tonic::Status::unavailable(
            "down"
        ))));
        assert!(resets_client(&region_error(
            |e| e.not_leader = Some(Default::default())
        )));
        assert!(resets_client(&Error::UndeterminedError(Box::new(abort()))));
    }

    #[test]
    fn transactions_are_optimistic_and_never_panic_when_dropped() {
        let o = txn_options();
        assert!(!o.is_pessimistic());
        assert_eq!(
            o,
            TransactionOptions::new_optimistic().drop_check(CheckLevel::None)
        );
        assert_ne!(
            o,
            TransactionOptions::new_optimistic(),
            "the default panics on drop"
        );
    }

    #[test]
    fn values_round_trip() {
        for xs in [
            vec![],
            vec![0],
            vec![1, 2, 30],
            vec![-5, 7, i64::MAX, i64::MIN],
        ] {
            assert_eq!(decode_ints(&encode_ints(&xs)).unwrap(), xs);
        }
        assert_eq!(encode_ints(&[1, 2, 3]), b"1,2,3");
        assert_eq!(decode_int(b"42"), Ok(42));
        assert_eq!(decode_int(b"-3"), Ok(-3));
        for bad in [&b"1,x"[..], b"1,,2", b",", b" 1", b"1,2,", b"\xff\xfe"] {
            assert!(decode_ints(bad).is_err(), "{bad:?}");
        }
        assert_eq!(decode_int(b"4x"), Err("4x".to_string()));
        assert_eq!(decode_ints(b"1,x"), Err("1,x".to_string()));
        assert_eq!(register_value(None), Value::Nil);
        assert_eq!(register_value(Some(b"3")), Value::Int(3));
        assert_eq!(register_value(Some(b"three")), Value::str("three"));
        assert_eq!(list_value(None), Value::Nil);
        assert_eq!(list_value(Some(b"")), Value::Vector(vec![]));
        assert_eq!(
            list_value(Some(b"2,1")),
            Value::Vector(vec![2.into(), 1.into()])
        );
        assert_eq!(list_value(Some(b"2;1")), Value::str("2;1"));
        assert_eq!(set_value(None), Value::Vector(vec![]));
        assert_eq!(
            set_value(Some(b"3,1,3")),
            Value::Vector(vec![1.into(), 3.into()])
        );
        assert_eq!(set_value(Some(b"#{}")), Value::str("#{}"));
    }

    #[test]
    fn adds_and_appends_rewrite_the_stored_value() {
        assert_eq!(set_with(None, 5).unwrap(), b"5");
        assert_eq!(set_with(Some(b"1,9"), 5).unwrap(), b"1,5,9");
        assert_eq!(set_with(Some(b"1,5,9"), 5).unwrap(), b"1,5,9");
        assert_eq!(set_with(Some(b"#{1}"), 5), Err("#{1}".to_string()));
        assert_eq!(list_with(None, 1).unwrap(), b"1");
        assert_eq!(list_with(Some(b"3,1"), 2).unwrap(), b"3,1,2");
        assert_eq!(list_with(Some(b"[1 2]"), 3), Err("[1 2]".to_string()));
        assert_eq!(register_key(7), "register/7");
        assert_eq!(append_key(-1), "append/-1");
    }

    fn opts(workload: Workload, endpoints: &[&str]) -> ClientOptions {
        ClientOptions {
            workload,
            pd_endpoints: endpoints.iter().map(|s| s.to_string()).collect(),
            timeout: Duration::from_secs(3),
        }
    }

    #[test]
    fn completions_carry_the_outcome_and_a_jepsen_error() {
        let mut c = TikvClient::new(opts(Workload::Set, &[]));
        let add = Op::invoke(0, "add", 4);
        let corrupt = c.finish(&add, Ok(Done::Fail(corrupt_value(SET_KEY, "#{1}"))));
        assert_eq!(corrupt.ty, OpType::Fail);
        assert_eq!(corrupt.value, Value::Int(4));
        let e = corrupt.error.unwrap();
        assert_eq!(e.as_seq().unwrap()[0], Value::kw("corrupt-value"));
        assert!(e.as_seq().unwrap()[1].to_string().contains("a-set"), "{e}");

        let grpc = Failure::Tikv(Error::GrpcAPI(tonic::Status::deadline_exceeded("slow")));
        let info = c.finish(&add, Err((Stage::Commit, grpc)));
        assert_eq!(info.ty, OpType::Info);
        let e = info.error.unwrap();
        assert_eq!(e.as_seq().unwrap()[0], Value::kw("grpc"));
        assert!(e.as_seq().unwrap()[1].to_string().contains("slow"), "{e}");

        let refused = c.finish(&add, Err((Stage::Commit, Failure::Tikv(conflict()))));
        assert_eq!(refused.ty, OpType::Fail);
        assert_eq!(
            refused.error.unwrap().as_seq().unwrap()[0],
            Value::kw("conflict")
        );

        let ok = c.finish(&add, Ok(Done::Ok(None)));
        assert_eq!((ok.ty, ok.value), (OpType::Ok, Value::Int(4)));
        let long = Failure::Tikv(Error::StringError("é".repeat(500)));
        assert!(long.message().ends_with("..."));
    }

    fn reg(f: &str, v: Value) -> Op {
        Op::invoke(0, f, v)
    }

    #[test]
    fn register_ops_parse_and_bad_ones_are_errors() {
        let t = |k: i64, v: Value| Value::Vector(vec![k.into(), v]);
        assert_eq!(
            parse_register(&reg("read", t(3, Value::Nil))),
            Ok(RegisterOp::Read(3))
        );
        assert_eq!(
            parse_register(&reg("write", t(3, 4.into()))),
            Ok(RegisterOp::Write(3, 4))
        );
        let cas = t(3, Value::Vector(vec![1.into(), 2.into()]));
        assert_eq!(
            parse_register(&reg("cas", cas)),
            Ok(RegisterOp::Cas(3, 1, 2))
        );
        for bad in [
            reg("read", Value::Nil),
            reg("read", Value::Int(3)),
            reg(
                "read",
                t(3, Value::Nil)
                    .as_seq()
                    .map(|s| Value::Vector(s[..1].to_vec()))
                    .unwrap(),
            ),
            reg("read", Value::Vector(vec![Value::str("k"), Value::Nil])),
            reg("write", t(3, Value::Nil)),
            reg("cas", t(3, 1.into())),
            reg("cas", t(3, Value::Vector(vec![1.into()]))),
            reg("delete", t(3, Value::Nil)),
        ] {
            assert!(parse_register(&bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn txn_ops_parse_and_bad_ones_are_errors() {
        let mop = |f: &str, k: i64, v: Value| Value::Vector(vec![Value::kw(f), k.into(), v]);
        let t = Op::invoke(
            0,
            "txn",
            Value::Vector(vec![mop("r", 1, Value::Nil), mop("append", 2, 7.into())]),
        );
        let plan = Plan::of(Workload::ListAppend, &t).unwrap();
        assert_eq!(
            plan,
            Plan::Mops(vec![
                Mop {
                    key: 1,
                    append: None
                },
                Mop {
                    key: 2,
                    append: Some(7)
                }
            ])
        );
        assert!(plan.writes());
        let reads = Op::invoke(0, "txn", Value::Vector(vec![mop("r", 1, Value::Nil)]));
        assert!(!Plan::of(Workload::ListAppend, &reads).unwrap().writes());
        for bad in [
            Op::invoke(0, "txn", Value::Int(1)),
            Op::invoke(0, "txn", Value::Vector(vec![mop("w", 1, 2.into())])),
            Op::invoke(0, "txn", Value::Vector(vec![mop("append", 1, Value::Nil)])),
            Op::invoke(
                0,
                "txn",
                Value::Vector(vec![Value::Vector(vec![Value::kw("r"), 1.into()])]),
            ),
            Op::invoke(0, "read", Value::Nil),
        ] {
            assert!(Plan::of(Workload::ListAppend, &bad).is_err(), "{bad:?}");
        }
        assert_eq!(
            Plan::of(Workload::Set, &Op::invoke(0, "add", 5)),
            Ok(Plan::SetAdd(5))
        );
        let read = Plan::of(Workload::Set, &Op::invoke(0, "read", Value::Nil)).unwrap();
        assert_eq!(read, Plan::SetRead);
        assert!(!read.writes() && Plan::SetAdd(1).writes());
        assert!(Plan::of(Workload::Set, &Op::invoke(0, "add", Value::str("5"))).is_err());
        assert!(Plan::of(Workload::Set, &Op::invoke(0, "remove", 5)).is_err());
    }

    #[test]
    fn workload_names() {
        for name in WORKLOADS {
            assert_eq!(Workload::parse(name).unwrap().name(), *name);
        }
        let e = Workload::parse("bank").unwrap_err();
        assert!(
            e.contains("register, set, list-append") && e.contains("bank"),
            "{e}"
        );
    }

    fn test_info() -> TestInfo {
        TestInfo {
            name: "tikv".into(),
            nodes: vec!["n1".into()],
            concurrency: 1,
            seed: 1,
            store_dir: std::env::temp_dir(),
        }
    }

    /// No PD listens on port 1 (nor answers a bad address): the op was never sent.
    #[tokio::test]
    async fn an_unreachable_pd_makes_ops_fail_with_connect() {
        let test = test_info();
        let cases = [
            (
                Workload::Register,
                Op::invoke(0, "write", Value::Vector(vec![1.into(), 2.into()])),
            ),
            (Workload::Set, Op::invoke(0, "add", 1)),
            (
                Workload::ListAppend,
                Op::invoke(
                    0,
                    "txn",
                    Value::Vector(vec![Value::Vector(vec![
                        Value::kw("append"),
                        1.into(),
                        1.into(),
                    ])]),
                ),
            ),
        ];
        for (w, op) in cases {
            let template = TikvClient::new(opts(w, &["127.0.0.1:1", "127.0.0.1:2"]));
            let mut c = template.open(&test, "n1").await.unwrap();
            let done = c.invoke(&test, &op).await.unwrap();
            assert_eq!(done.ty, OpType::Fail, "{w:?}: {done:?}");
            assert_eq!(
                done.error.unwrap().as_seq().unwrap()[0],
                Value::kw("connect")
            );
        }
        let mut none = TikvClient::new(opts(Workload::Set, &[]));
        let done = none
            .invoke(&test, &Op::invoke(0, "read", Value::Nil))
            .await
            .unwrap();
        assert_eq!(done.ty, OpType::Fail);
        assert!(done.error.unwrap().to_string().contains("no PD endpoints"));
    }

    #[tokio::test]
    async fn malformed_ops_are_errors_before_connecting() {
        let test = test_info();
        for (w, op) in [
            (Workload::Register, Op::invoke(0, "read", Value::Int(1))),
            (Workload::Set, Op::invoke(0, "add", Value::Nil)),
            (Workload::ListAppend, Op::invoke(0, "txn", Value::Nil)),
        ] {
            let mut c = TikvClient::new(opts(w, &["127.0.0.1:1"]));
            let e = c.invoke(&test, &op).await.unwrap_err();
            assert_eq!(e.kind, "bad-op", "{w:?}");
        }
    }
}
