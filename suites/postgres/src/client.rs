//! The client: tokio-postgres, one connection to the primary per client thread (and one to a
//! replica with `--replica-reads`), every operation one explicit transaction at the run's
//! isolation level.
//!
//! # What each error means
//!
//! An explicit PostgreSQL transaction takes effect only when its `COMMIT` succeeds: any
//! error before it aborts the transaction, and a backend whose client went away rolls back
//! what it had not committed. So the client tracks whether `COMMIT` was sent, and
//! [`classify`] decides from that and the error:
//!
//! | when | error | recorded | why |
//! |---|---|---|---|
//! | connecting | refused, timed out, reset, startup error | `fail` `[:connect ...]` | no statement was sent |
//! | before `COMMIT` | any SQLSTATE (40001, 40P01, 25006, 42xxx, ...) | `fail` | the transaction is aborted; the client rolls it back |
//! | before `COMMIT` | connection lost or closed, I/O error | `fail` | the backend rolls back a transaction whose client is gone |
//! | before `COMMIT` | a statement timed out (`--client-timeout`) | `fail` | the client drops the connection before `COMMIT`: the backend rolls back |
//! | at `COMMIT` | 40001 serialization failure, 40P01 deadlock, 40002, 23xxx, 25006 read-only | `fail` | PostgreSQL refused the commit: it rolled back |
//! | at `COMMIT` | any other SQLSTATE (57P01 admin shutdown, 57P02 crash shutdown, 40003 completion unknown, XX000, ...) | `info` | the server may have committed before it failed |
//! | at `COMMIT` | connection lost or closed, I/O error, timed out | `info` | the commit may have happened: nobody can tell |
//! | any | the transaction writes nothing (a read-only txn, a register read, a bank read) | `fail` when the outcome is unknown | it has no effect either way, and its reads are unknown |
//!
//! A `cas` whose expected value does not match, and a transfer without the funds, roll back
//! and are `fail` with `:cas-mismatch` and `:insufficient-funds`. After a lost connection the
//! next operation connects again.
//!
//! # Tables
//!
//! `append`: Jepsen's layout, `txn0`..`txn<N-1>` (`--table-count`, default 3) of
//! `(id bigint primary key, sk bigint, val text)`, key `k` in table `k mod N`; an append is
//! `insert ... on conflict (id) do update set val = concat(t.val, ',', v)`, a read
//! `select val` split at commas. `wr`: `wr0`.. of `(id, sk, val bigint)`, a write an upsert
//! of the value. `register`: `registers (id, val)`, `cas` an `update ... where val = old`.
//! `bank`: `accounts (id, balance)`, account 0 holding the total; a transfer reads both
//! balances and writes the new ones.

use rift_core::{Client, PlugResult, RiftError, TestInfo};
use rift_history::{Op, OpType, Value};
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio_postgres::error::SqlState;
use tokio_postgres::{Client as PgConn, NoTls, Statement};

use crate::db::{DATABASE, PG_PORT, USER};

/// The workloads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Workload {
    /// Elle's list-append.
    Append,
    /// Elle's rw-register.
    Wr,
    /// Linearizable registers on independent keys.
    Register,
    /// Jepsen's bank.
    Bank,
}

/// The workload names, the first the default.
pub const WORKLOADS: &[&str] = &["append", "wr", "register", "bank"];

impl Workload {
    /// The workload named `name`.
    pub fn parse(name: &str) -> Result<Workload, String> {
        Ok(match name {
            "append" => Workload::Append,
            "wr" => Workload::Wr,
            "register" => Workload::Register,
            "bank" => Workload::Bank,
            other => {
                return Err(format!(
                    "the postgres suite serves the workloads {}; not {other:?}",
                    WORKLOADS.join(", ")
                ))
            }
        })
    }

    /// Its name.
    pub fn name(self) -> &'static str {
        match self {
            Workload::Append => "append",
            Workload::Wr => "wr",
            Workload::Register => "register",
            Workload::Bank => "bank",
        }
    }
}

/// An SQL isolation level.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Isolation {
    /// `READ COMMITTED`.
    ReadCommitted,
    /// `REPEATABLE READ` (snapshot isolation in PostgreSQL).
    RepeatableRead,
    /// `SERIALIZABLE` (serializable snapshot isolation).
    Serializable,
}

/// The isolation names `--isolation` takes.
pub const ISOLATIONS: &[&str] = &["read-committed", "repeatable-read", "serializable"];

impl Isolation {
    /// The level named `name` (Jepsen's names).
    pub fn parse(name: &str) -> Result<Isolation, String> {
        Ok(match name {
            "read-committed" => Isolation::ReadCommitted,
            "repeatable-read" => Isolation::RepeatableRead,
            "serializable" => Isolation::Serializable,
            other => {
                return Err(format!(
                    "--isolation {other:?}: PostgreSQL's levels are {} (read-uncommitted is \
                     read-committed in PostgreSQL)",
                    ISOLATIONS.join(", ")
                ))
            }
        })
    }

    /// Its name.
    pub fn name(self) -> &'static str {
        ISOLATIONS[self as usize]
    }

    /// The SQL of `BEGIN` at this level.
    pub fn begin(self) -> &'static str {
        match self {
            Isolation::ReadCommitted => "BEGIN ISOLATION LEVEL READ COMMITTED",
            Isolation::RepeatableRead => "BEGIN ISOLATION LEVEL REPEATABLE READ",
            Isolation::Serializable => "BEGIN ISOLATION LEVEL SERIALIZABLE",
        }
    }

    /// The consistency model this level promises in PostgreSQL (what
    /// `--expected-consistency` defaults to): read committed, snapshot isolation (PostgreSQL's
    /// repeatable read), serializable.
    pub fn promises(self) -> &'static str {
        match self {
            Isolation::ReadCommitted => "read-committed",
            Isolation::RepeatableRead => "snapshot-isolation",
            Isolation::Serializable => "serializable",
        }
    }

    /// Jepsen's short name (`RC`, `RR`, `S`).
    pub fn short(self) -> &'static str {
        match self {
            Isolation::ReadCommitted => "RC",
            Isolation::RepeatableRead => "RR",
            Isolation::Serializable => "S",
        }
    }
}

/// Where the client connects and how.
#[derive(Clone, Debug)]
pub struct ClientOptions {
    /// The workload.
    pub workload: Workload,
    /// Every transaction's isolation level.
    pub isolation: Isolation,
    /// The primary's address.
    pub primary: IpAddr,
    /// Node name and address of every replica.
    pub replicas: Vec<(String, IpAddr)>,
    /// Read-only transactions go to a replica.
    pub replica_reads: bool,
    /// Tables the append and wr keys spread over.
    pub table_count: u32,
    /// How long one statement (or a connection) may take.
    pub timeout: Duration,
    /// The bank's accounts and their total (all in account 0 at first).
    pub bank_accounts: i64,
    /// The bank's total.
    pub bank_total: i64,
}

/// Why a step failed: the error of tokio-postgres reduced to what [`classify`] needs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Failure {
    /// Could not connect.
    Connect(String),
    /// The server answered with an error (SQLSTATE, message).
    Db(String, String),
    /// The connection broke (closed, reset, I/O error).
    Lost(String),
    /// The step did not finish in time.
    Timeout,
}

impl Failure {
    /// A tokio-postgres error of a statement.
    pub fn of(e: &tokio_postgres::Error) -> Failure {
        match e.as_db_error() {
            Some(db) => Failure::Db(db.code().code().to_string(), db.message().to_string()),
            None => Failure::Lost(describe(e)),
        }
    }

    /// Whether the connection is unusable after it.
    pub fn breaks_connection(&self) -> bool {
        !matches!(self, Failure::Db(..))
    }

    fn error_value(&self) -> Value {
        let (kw, msg) = match self {
            Failure::Connect(m) => ("connect", m.clone()),
            Failure::Db(code, m) => (db_error_name(code), format!("{code}: {m}")),
            Failure::Lost(m) => ("connection-lost", m.clone()),
            Failure::Timeout => ("timeout", String::new()),
        };
        if msg.is_empty() {
            Value::Vector(vec![Value::kw(kw)])
        } else {
            Value::Vector(vec![Value::kw(kw), Value::str(&msg)])
        }
    }
}

/// An error with its causes (`error connecting to server: Connection refused (os error
/// 111)`) and, for the server's errors, the SQLSTATE and message.
pub fn describe(e: &tokio_postgres::Error) -> String {
    if let Some(db) = e.as_db_error() {
        return format!("{}: {}", db.code().code(), db.message());
    }
    let mut text = e.to_string();
    let mut cause = std::error::Error::source(e);
    while let Some(c) = cause {
        text.push_str(": ");
        text.push_str(&c.to_string());
        cause = c.source();
    }
    text
}

/// The keyword of an SQLSTATE in the history (Jepsen's where it has one).
fn db_error_name(code: &str) -> &'static str {
    match code {
        "40001" => "could-not-serialize",
        "40P01" => "deadlock",
        "25006" => "read-only",
        "57P01" | "57P02" | "57P03" => "shutdown",
        "40003" => "completion-unknown",
        c if c.starts_with("23") => "integrity",
        c if c.starts_with("08") => "connection",
        c if c.starts_with("53") => "insufficient-resources",
        _ => "db-error",
    }
}

/// Whether a transaction surely did not commit after `f` at `COMMIT`: PostgreSQL refused
/// the commit with one of the SQLSTATEs that mean it rolled back.
pub fn refused_commit(f: &Failure) -> bool {
    match f {
        Failure::Db(code, _) => {
            matches!(code.as_str(), "40001" | "40P01" | "40002" | "25006") || code.starts_with("23")
        }
        _ => false,
    }
}

/// Where in a transaction a step failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stage {
    /// Connecting.
    Connect,
    /// `BEGIN` or a statement before `COMMIT`.
    BeforeCommit,
    /// `COMMIT` was sent.
    Commit,
}

/// The type a failed transaction is recorded with (see the module documentation's table).
pub fn classify(stage: Stage, writes: bool, f: &Failure) -> OpType {
    match stage {
        Stage::Connect | Stage::BeforeCommit => OpType::Fail,
        Stage::Commit if refused_commit(f) => OpType::Fail,
        Stage::Commit if !writes => OpType::Fail,
        Stage::Commit => OpType::Info,
    }
}

fn bad_op(op: &Op, what: &str) -> RiftError {
    RiftError::new(
        "bad-op",
        format!("{what}: got {} {}", op.f_name(), op.value),
    )
}

/// The SQL of one workload.
mod sql {
    pub fn append_table(table: u32) -> String {
        format!("txn{table}")
    }
    pub fn wr_table(table: u32) -> String {
        format!("wr{table}")
    }
    pub fn create_append(table: &str) -> String {
        format!("create table if not exists {table} (id bigint not null primary key, sk bigint not null, val text)")
    }
    pub fn create_wr(table: &str) -> String {
        format!("create table if not exists {table} (id bigint not null primary key, sk bigint not null, val bigint)")
    }
    pub const CREATE_REGISTERS: &str =
        "create table if not exists registers (id bigint not null primary key, val bigint)";
    pub const CREATE_ACCOUNTS: &str =
        "create table if not exists accounts (id bigint not null primary key, balance bigint not null)";
    pub fn read(table: &str) -> String {
        format!("select val from {table} where id = $1")
    }
    pub fn append(table: &str) -> String {
        format!(
            "insert into {table} as t (id, sk, val) values ($1, $1, $2::text) \
             on conflict (id) do update set val = concat(t.val, ',', $2::text)"
        )
    }
    pub fn write(table: &str) -> String {
        format!(
            "insert into {table} as t (id, sk, val) values ($1, $1, $2) \
             on conflict (id) do update set val = excluded.val"
        )
    }
    pub const REGISTER_READ: &str = "select val from registers where id = $1";
    pub const REGISTER_WRITE: &str = "insert into registers as t (id, val) values ($1, $2) \
         on conflict (id) do update set val = excluded.val";
    pub const REGISTER_CAS: &str = "update registers set val = $3 where id = $1 and val = $2";
    pub const BANK_READ: &str = "select id, balance from accounts order by id";
    pub const BANK_BALANCE: &str = "select balance from accounts where id = $1";
    pub const BANK_SET: &str = "update accounts set balance = $2 where id = $1";
    pub const BANK_INIT: &str =
        "insert into accounts (id, balance) values ($1, $2) on conflict (id) do nothing";
}

/// The table of key `k` among `n`.
pub fn table_of(k: i64, n: u32) -> u32 {
    k.rem_euclid(n.max(1) as i64) as u32
}

/// A list-append value as stored (`1,2,3`) back to its elements; None when it is not one.
pub fn parse_list(text: &str) -> Option<Vec<i64>> {
    if text.is_empty() {
        return Some(Vec::new());
    }
    text.split(',').map(|s| s.trim().parse().ok()).collect()
}

/// One micro-op of an `append` or `wr` transaction.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mop {
    /// `r`, `append` or `w`.
    pub f: &'static str,
    /// The key.
    pub key: i64,
    /// The value written (None for reads).
    pub value: Option<i64>,
}

/// The micro-ops of a transaction's invocation: `[[:r k nil] [:append k v] ...]` (append) or
/// with `:w` (wr).
pub fn parse_mops(v: &Value, w: Workload) -> Result<Vec<Mop>, String> {
    let seq = v.as_seq().ok_or("a transaction is a list of micro-ops")?;
    let write_f = if w == Workload::Append { "append" } else { "w" };
    seq.iter()
        .map(|m| {
            let bad = || format!("bad micro-op {m}");
            let [f, k, arg] = m.as_seq().ok_or_else(bad)? else {
                return Err(bad());
            };
            let key = k.as_i64().ok_or_else(bad)?;
            match f.as_name() {
                Some("r") => Ok(Mop {
                    f: "r",
                    key,
                    value: None,
                }),
                Some(n) if n == write_f => Ok(Mop {
                    f: if w == Workload::Append { "append" } else { "w" },
                    key,
                    value: Some(arg.as_i64().ok_or_else(bad)?),
                }),
                _ => Err(bad()),
            }
        })
        .collect()
}

/// One connection with its prepared statements.
struct Conn {
    client: PgConn,
    prepared: HashMap<String, Statement>,
}

/// A step's result: the value, or where it failed and why.
type Step<T> = Result<T, Failure>;

impl Conn {
    async fn open(addr: IpAddr, timeout: Duration, name: &str) -> Step<Conn> {
        let mut cfg = tokio_postgres::Config::new();
        cfg.host(addr.to_string())
            .port(PG_PORT)
            .user(USER)
            .dbname(DATABASE)
            .application_name(name)
            .connect_timeout(timeout);
        let connected = tokio::time::timeout(timeout, cfg.connect(NoTls)).await;
        let (client, conn) = match connected {
            Ok(Ok(pair)) => pair,
            Ok(Err(e)) => return Err(Failure::Connect(describe(&e))),
            Err(_) => return Err(Failure::Connect(format!("no connection in {timeout:?}"))),
        };
        tokio::spawn(async move {
            let _ = conn.await;
        });
        Ok(Conn {
            client,
            prepared: HashMap::new(),
        })
    }

    async fn statement(&mut self, sql: &str, timeout: Duration) -> Step<Statement> {
        if let Some(s) = self.prepared.get(sql) {
            return Ok(s.clone());
        }
        let s = within(timeout, self.client.prepare(sql)).await?;
        self.prepared.insert(sql.to_string(), s.clone());
        Ok(s)
    }

    async fn query(
        &mut self,
        sql: &str,
        params: &[&(dyn tokio_postgres::types::ToSql + Sync)],
        timeout: Duration,
    ) -> Step<Vec<tokio_postgres::Row>> {
        let s = self.statement(sql, timeout).await?;
        within(timeout, self.client.query(&s, params)).await
    }

    async fn execute(
        &mut self,
        sql: &str,
        params: &[&(dyn tokio_postgres::types::ToSql + Sync)],
        timeout: Duration,
    ) -> Step<u64> {
        let s = self.statement(sql, timeout).await?;
        within(timeout, self.client.execute(&s, params)).await
    }

    async fn batch(&mut self, sql: &str, timeout: Duration) -> Step<()> {
        within(timeout, self.client.batch_execute(sql)).await
    }
}

async fn within<T>(
    timeout: Duration,
    f: impl std::future::Future<Output = Result<T, tokio_postgres::Error>>,
) -> Step<T> {
    match tokio::time::timeout(timeout, f).await {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(Failure::of(&e)),
        Err(_) => Err(Failure::Timeout),
    }
}

/// What a transaction body decided.
enum Body {
    /// Commit; the op completes ok with this value.
    Commit(Value),
    /// Roll back; the op fails with this error (`:cas-mismatch`, `:insufficient-funds`).
    Abort(Value),
}

/// The client of one thread.
pub struct PgClient {
    opts: Arc<ClientOptions>,
    node: String,
    primary: Option<Conn>,
    replica: Option<Conn>,
}

impl PgClient {
    /// A client template (opened per thread by the runner).
    pub fn new(opts: ClientOptions) -> PgClient {
        PgClient {
            opts: Arc::new(opts),
            node: String::new(),
            primary: None,
            replica: None,
        }
    }

    /// The replica the reads of a client bound to `node` go to: `node` itself when it is a
    /// replica, else one picked by the node's name.
    pub fn replica_for(&self, node: &str) -> Option<IpAddr> {
        let r = &self.opts.replicas;
        if r.is_empty() {
            return None;
        }
        if let Some((_, a)) = r.iter().find(|(n, _)| n == node) {
            return Some(*a);
        }
        let h = node
            .bytes()
            .fold(0usize, |h, b| h.wrapping_mul(31) + b as usize);
        Some(r[h % r.len()].1)
    }

    async fn conn(&mut self, replica: bool) -> Step<&mut Conn> {
        let timeout = self.opts.timeout;
        let name = format!("rift {}", self.node);
        let (slot, addr) = if replica {
            let a = self.replica_for(&self.node);
            (&mut self.replica, a.unwrap_or(self.opts.primary))
        } else {
            (&mut self.primary, self.opts.primary)
        };
        if slot.is_none() {
            *slot = Some(Conn::open(addr, timeout, &name).await?);
        }
        Ok(slot.as_mut().expect("just opened"))
    }

    /// Runs `body` in one transaction and completes `op` from how it ended.
    async fn txn<F>(&mut self, op: &Op, writes: bool, body: F) -> Op
    where
        F: for<'c> FnOnce(
            &'c mut Conn,
            Duration,
        ) -> std::pin::Pin<
            Box<dyn std::future::Future<Output = Step<Body>> + Send + 'c>,
        >,
    {
        let timeout = self.opts.timeout;
        let on_replica = !writes && self.opts.replica_reads && !self.opts.replicas.is_empty();
        // A hot standby refuses SERIALIZABLE: its reads run at REPEATABLE READ, one
        // snapshot of what it has replayed.
        let level = if on_replica {
            self.opts.isolation.min(Isolation::RepeatableRead)
        } else {
            self.opts.isolation
        };
        let c = match self.conn(on_replica).await {
            Ok(c) => c,
            Err(f) => return failed(op, Stage::Connect, writes, &f),
        };
        let mut stage = Stage::BeforeCommit;
        let res: Step<Body> = async {
            c.batch(level.begin(), timeout).await?;
            let b = body(c, timeout).await?;
            if let Body::Commit(_) = &b {
                stage = Stage::Commit;
                c.batch("COMMIT", timeout).await?;
            } else {
                c.batch("ROLLBACK", timeout).await?;
            }
            Ok(b)
        }
        .await;
        match res {
            Ok(Body::Commit(v)) => op.complete(OpType::Ok, v),
            Ok(Body::Abort(e)) => op.complete(OpType::Fail, op.value.clone()).with_error(e),
            Err(f) => {
                let slot = if on_replica {
                    &mut self.replica
                } else {
                    &mut self.primary
                };
                if f.breaks_connection() {
                    *slot = None;
                } else if stage == Stage::BeforeCommit {
                    // The transaction is aborted: end it, or drop a connection that cannot.
                    let c = slot.as_mut().expect("connected");
                    if c.batch("ROLLBACK", timeout).await.is_err() {
                        *slot = None;
                    }
                }
                failed(op, stage, writes, &f)
            }
        }
    }
}

fn failed(op: &Op, stage: Stage, writes: bool, f: &Failure) -> Op {
    let ty = classify(stage, writes, f);
    op.complete(ty, op.value.clone())
        .with_error(f.error_value())
}

type BoxFut<'c> = std::pin::Pin<Box<dyn std::future::Future<Output = Step<Body>> + Send + 'c>>;

fn micro_ops<'c>(
    c: &'c mut Conn,
    timeout: Duration,
    w: Workload,
    tables: u32,
    mops: Vec<Mop>,
) -> BoxFut<'c> {
    Box::pin(async move {
        let mut done = Vec::with_capacity(mops.len());
        for m in mops {
            let t = table_of(m.key, tables);
            let table = if w == Workload::Append {
                sql::append_table(t)
            } else {
                sql::wr_table(t)
            };
            let v = match (m.f, m.value) {
                ("r", _) => {
                    let rows = c.query(&sql::read(&table), &[&m.key], timeout).await?;
                    match (w, rows.first()) {
                        (_, None) => Value::Nil,
                        (Workload::Append, Some(row)) => {
                            let text: Option<String> = row.get(0);
                            match text.as_deref().map(parse_list) {
                                None => Value::Nil,
                                Some(Some(l)) => {
                                    Value::Vector(l.into_iter().map(Value::Int).collect())
                                }
                                // Not a list we wrote: kept as text, for the checker to flag.
                                Some(None) => Value::str(text.as_deref().unwrap_or_default()),
                            }
                        }
                        (_, Some(row)) => {
                            let v: Option<i64> = row.get(0);
                            v.map_or(Value::Nil, Value::Int)
                        }
                    }
                }
                ("append", Some(v)) => {
                    c.execute(&sql::append(&table), &[&m.key, &v.to_string()], timeout)
                        .await?;
                    Value::Int(v)
                }
                (_, Some(v)) => {
                    c.execute(&sql::write(&table), &[&m.key, &v], timeout)
                        .await?;
                    Value::Int(v)
                }
                (_, None) => Value::Nil,
            };
            done.push(Value::Vector(vec![Value::kw(m.f), Value::Int(m.key), v]));
        }
        Ok(Body::Commit(Value::Vector(done)))
    })
}

#[async_trait::async_trait]
impl Client for PgClient {
    async fn open(&self, _test: &TestInfo, node: &str) -> PlugResult<Box<dyn Client>> {
        // Connections open at the first operation: one that cannot connect is a `fail`.
        Ok(Box::new(PgClient {
            opts: self.opts.clone(),
            node: node.to_string(),
            primary: None,
            replica: None,
        }))
    }

    /// The workload's tables on the primary (every node's client tries; a race between
    /// two `create table if not exists` is retried), and the bank's accounts.
    async fn setup(&mut self, _test: &TestInfo) -> PlugResult<()> {
        let o = self.opts.clone();
        let mut ddl: Vec<String> = match o.workload {
            Workload::Append => (0..o.table_count)
                .map(|t| sql::create_append(&sql::append_table(t)))
                .collect(),
            Workload::Wr => (0..o.table_count)
                .map(|t| sql::create_wr(&sql::wr_table(t)))
                .collect(),
            Workload::Register => vec![sql::CREATE_REGISTERS.into()],
            Workload::Bank => vec![sql::CREATE_ACCOUNTS.into()],
        };
        ddl.dedup();
        let mut last = None;
        for _ in 0..20 {
            match self.setup_once(&ddl).await {
                Ok(()) => return Ok(()),
                Err(f) => {
                    if f.breaks_connection() {
                        self.primary = None;
                    }
                    last = Some(f);
                    tokio::time::sleep(Duration::from_millis(250)).await;
                }
            }
        }
        Err(RiftError::new(
            "setup",
            format!("creating the tables on the primary failed: {last:?}"),
        ))
    }

    async fn invoke(&mut self, _test: &TestInfo, op: &Op) -> PlugResult<Op> {
        let o = self.opts.clone();
        match o.workload {
            Workload::Append | Workload::Wr => {
                let mops = parse_mops(&op.value, o.workload).map_err(|e| bad_op(op, &e))?;
                let writes = mops.iter().any(|m| m.value.is_some());
                let (w, tables) = (o.workload, o.table_count);
                Ok(self
                    .txn(op, writes, move |c, t| micro_ops(c, t, w, tables, mops))
                    .await)
            }
            Workload::Register => self.register(op).await,
            Workload::Bank => self.bank(op).await,
        }
    }

    async fn close(&mut self, _test: &TestInfo) -> PlugResult<()> {
        self.primary = None;
        self.replica = None;
        Ok(())
    }
}

impl PgClient {
    async fn setup_once(&mut self, ddl: &[String]) -> Step<()> {
        let o = self.opts.clone();
        let timeout = o.timeout;
        let c = self.conn(false).await?;
        for d in ddl {
            if let Err(f) = c.batch(d, timeout).await {
                // A concurrent create of the same table: it is there.
                match &f {
                    Failure::Db(code, _)
                        if code == SqlState::UNIQUE_VIOLATION.code()
                            || code == SqlState::DUPLICATE_TABLE.code() => {}
                    _ => return Err(f),
                }
            }
        }
        if o.workload == Workload::Bank {
            for a in 0..o.bank_accounts {
                let balance = if a == 0 { o.bank_total } else { 0 };
                c.execute(sql::BANK_INIT, &[&a, &balance], timeout).await?;
            }
        }
        Ok(())
    }

    async fn register(&mut self, op: &Op) -> PlugResult<Op> {
        let Some([key, arg]) = op.value.as_seq() else {
            return Err(bad_op(op, "register ops take [key value]"));
        };
        let k = key
            .as_i64()
            .ok_or_else(|| bad_op(op, "register keys are integers"))?;
        let key = key.clone();
        match op.f_name() {
            "read" => Ok(self
                .txn(op, false, move |c, t| {
                    Box::pin(async move {
                        let rows = c.query(sql::REGISTER_READ, &[&k], t).await?;
                        let v: Option<i64> = rows.first().and_then(|r| r.get(0));
                        Ok(Body::Commit(Value::Vector(vec![
                            key,
                            v.map_or(Value::Nil, Value::Int),
                        ])))
                    })
                })
                .await),
            "write" => {
                let v = arg
                    .as_i64()
                    .ok_or_else(|| bad_op(op, "register values are integers"))?;
                let done = op.value.clone();
                Ok(self
                    .txn(op, true, move |c, t| {
                        Box::pin(async move {
                            c.execute(sql::REGISTER_WRITE, &[&k, &v], t).await?;
                            Ok(Body::Commit(done))
                        })
                    })
                    .await)
            }
            "cas" => {
                let (Some(old), Some(new)) = (
                    arg.as_seq().and_then(|s| s.first()).and_then(Value::as_i64),
                    arg.as_seq().and_then(|s| s.get(1)).and_then(Value::as_i64),
                ) else {
                    return Err(bad_op(op, "cas takes [key [old new]]"));
                };
                let done = op.value.clone();
                Ok(self
                    .txn(op, true, move |c, t| {
                        Box::pin(async move {
                            let n = c.execute(sql::REGISTER_CAS, &[&k, &old, &new], t).await?;
                            Ok(if n == 0 {
                                Body::Abort(Value::kw("cas-mismatch"))
                            } else {
                                Body::Commit(done)
                            })
                        })
                    })
                    .await)
            }
            _ => Err(bad_op(op, "register ops are read, write, cas")),
        }
    }

    async fn bank(&mut self, op: &Op) -> PlugResult<Op> {
        match op.f_name() {
            "read" => Ok(self
                .txn(op, false, |c, t| {
                    Box::pin(async move {
                        let rows = c.query(sql::BANK_READ, &[], t).await?;
                        let m = rows
                            .iter()
                            .map(|r| {
                                let (a, b): (i64, i64) = (r.get(0), r.get(1));
                                (Value::Int(a), Value::Int(b))
                            })
                            .collect();
                        Ok(Body::Commit(Value::Map(m)))
                    })
                })
                .await),
            "transfer" => {
                let field = |k: &str| op.value.get(k).and_then(Value::as_i64);
                let (Some(from), Some(to), Some(amount)) =
                    (field("from"), field("to"), field("amount"))
                else {
                    return Err(bad_op(op, "transfer takes {:from :to :amount}"));
                };
                let done = op.value.clone();
                Ok(self
                    .txn(op, true, move |c, t| {
                        Box::pin(async move {
                            let (Some(fb), Some(tb)) =
                                (balance(c, from, t).await?, balance(c, to, t).await?)
                            else {
                                return Ok(Body::Abort(Value::kw("no-such-account")));
                            };
                            if fb - amount < 0 {
                                return Ok(Body::Abort(Value::kw("insufficient-funds")));
                            }
                            c.execute(sql::BANK_SET, &[&from, &(fb - amount)], t)
                                .await?;
                            c.execute(sql::BANK_SET, &[&to, &(tb + amount)], t).await?;
                            Ok(Body::Commit(done))
                        })
                    })
                    .await)
            }
            _ => Err(bad_op(op, "bank ops are read, transfer")),
        }
    }
}

async fn balance(c: &mut Conn, account: i64, timeout: Duration) -> Step<Option<i64>> {
    let rows = c.query(sql::BANK_BALANCE, &[&account], timeout).await?;
    Ok(rows.first().map(|r| r.get(0)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn db(code: &str) -> Failure {
        Failure::Db(code.into(), "msg".into())
    }

    #[test]
    fn nothing_before_commit_can_have_happened() {
        for f in [
            db("40001"),
            db("40P01"),
            db("57P01"),
            db("42P01"),
            Failure::Lost("connection closed".into()),
            Failure::Timeout,
        ] {
            assert_eq!(
                classify(Stage::BeforeCommit, true, &f),
                OpType::Fail,
                "{f:?}"
            );
        }
        let refused = Failure::Connect("refused".into());
        assert_eq!(classify(Stage::Connect, true, &refused), OpType::Fail);
    }

    #[test]
    fn at_commit_only_a_refusal_is_a_fail() {
        for code in ["40001", "40P01", "40002", "23505", "25006"] {
            assert_eq!(
                classify(Stage::Commit, true, &db(code)),
                OpType::Fail,
                "{code}"
            );
        }
        for f in [
            db("57P01"),
            db("57P02"),
            db("40003"),
            db("XX000"),
            db("53100"),
            Failure::Lost("connection reset".into()),
            Failure::Timeout,
        ] {
            assert_eq!(classify(Stage::Commit, true, &f), OpType::Info, "{f:?}");
            // A transaction that writes nothing has no effect either way.
            assert_eq!(classify(Stage::Commit, false, &f), OpType::Fail, "{f:?}");
        }
    }

    #[test]
    fn errors_carry_jepsen_names_and_the_sqlstate() {
        let v = db("40001").error_value();
        assert_eq!(v.as_seq().unwrap()[0], Value::kw("could-not-serialize"));
        assert!(v.as_seq().unwrap()[1].to_string().contains("40001"));
        assert_eq!(
            db("40P01").error_value().as_seq().unwrap()[0],
            Value::kw("deadlock")
        );
        assert_eq!(
            Failure::Timeout.error_value(),
            Value::Vector(vec![Value::kw("timeout")])
        );
        assert!(!db("40001").breaks_connection());
        assert!(Failure::Timeout.breaks_connection());
        assert!(Failure::Lost("x".into()).breaks_connection());
    }

    #[test]
    fn names_parse_and_bad_ones_list_the_good_ones() {
        assert_eq!(
            Isolation::parse("repeatable-read").unwrap(),
            Isolation::RepeatableRead
        );
        assert_eq!(Isolation::Serializable.name(), "serializable");
        assert_eq!(Isolation::RepeatableRead.promises(), "snapshot-isolation");
        let e = Isolation::parse("snapshot").unwrap_err();
        assert!(
            e.contains("--isolation") && e.contains("read-committed"),
            "{e}"
        );
        assert_eq!(Workload::parse("bank").unwrap(), Workload::Bank);
        assert!(Workload::parse("set").unwrap_err().contains("append, wr"));
    }

    #[test]
    fn mops_lists_and_tables() {
        let t = Value::Vector(vec![
            Value::Vector(vec![Value::kw("r"), 3.into(), Value::Nil]),
            Value::Vector(vec![Value::kw("append"), 4.into(), 7.into()]),
        ]);
        let m = parse_mops(&t, Workload::Append).unwrap();
        assert_eq!(
            m[0],
            Mop {
                f: "r",
                key: 3,
                value: None
            }
        );
        assert_eq!(
            m[1],
            Mop {
                f: "append",
                key: 4,
                value: Some(7)
            }
        );
        assert!(
            parse_mops(&t, Workload::Wr).is_err(),
            "append is not a wr micro-op"
        );
        assert!(parse_mops(&Value::Int(1), Workload::Wr).is_err());
        assert_eq!(parse_list("1,2,30"), Some(vec![1, 2, 30]));
        assert_eq!(parse_list(""), Some(vec![]));
        assert_eq!(parse_list("1,x"), None);
        assert_eq!(table_of(7, 3), 1);
        assert_eq!(table_of(-1, 3), 2);
        assert_eq!(table_of(5, 0), 0);
    }
}
