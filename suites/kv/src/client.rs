//! The rift client of rift-kv: the `register` and `set` workloads' ops over the wire protocol.

use crate::proto::{Request, Response};
use crate::server::read_line;
use async_trait::async_trait;
use rift_core::{Client, PlugResult, RiftError, TestInfo};
use rift_history::{Op, OpType, Value};
use serde_json::Value as Json;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncWriteExt, BufReader};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::TcpStream;

/// The key the `set` workload adds to.
pub const SET_KEY: i64 = 0;

/// Which ops the client speaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KvWorkload {
    /// `read`/`write`/`cas` on independent `[k v]` keys.
    Register,
    /// `add` of unique integers and `read` of the whole set.
    Set,
}

/// A client template: where each node's server listens.
#[derive(Debug)]
pub struct KvClient {
    addresses: Arc<BTreeMap<String, SocketAddr>>,
    workload: KvWorkload,
    connect_timeout: Duration,
    conn: Option<Conn>,
}

#[derive(Debug)]
struct Conn {
    read: BufReader<OwnedReadHalf>,
    write: OwnedWriteHalf,
}

impl KvClient {
    /// A template; `open` connects to the node's address.
    pub fn new(addresses: BTreeMap<String, SocketAddr>, workload: KvWorkload) -> KvClient {
        KvClient {
            addresses: Arc::new(addresses),
            workload,
            connect_timeout: Duration::from_secs(2),
            conn: None,
        }
    }

    async fn call(&mut self, req: &Request) -> Result<Response, RiftError> {
        let conn = self
            .conn
            .as_mut()
            .ok_or_else(|| RiftError::new("no-connection", "client is not open"))?;
        let mut bytes =
            serde_json::to_vec(req).map_err(|e| RiftError::new("encode", e.to_string()))?;
        bytes.push(b'\n');
        conn.write
            .write_all(&bytes)
            .await
            .map_err(|e| RiftError::new("io", e.to_string()))?;
        let mut line = String::new();
        let n = read_line(&mut conn.read, &mut line)
            .await
            .map_err(|e| RiftError::new("io", e.to_string()))?;
        if n == 0 {
            return Err(RiftError::new("io", "server closed the connection"));
        }
        serde_json::from_str(line.trim_end())
            .map_err(|e| RiftError::new("protocol", format!("bad response {line:?}: {e}")))
    }
}

/// How a response becomes a completion: ok => `ok`; a definite failure => `fail` with the
/// server's error; an indeterminate one => an error (the runner records `info` and the crash
/// rule gives the thread a new process). A read that fails did nothing, so it is `fail`.
fn complete(op: &Op, req: &Request, resp: Response, value: Value) -> PlugResult<Op> {
    if resp.ok {
        return Ok(op.complete(OpType::Ok, value));
    }
    let error = resp.error.unwrap_or_default();
    if resp.definite || !req.is_mutation() {
        let kw = if error == "cas-mismatch" {
            Value::kw("cas-mismatch")
        } else {
            Value::str(&error)
        };
        return Ok(op.complete(OpType::Fail, op.value.clone()).with_error(kw));
    }
    Err(RiftError::new("indeterminate", error))
}

fn bad_op(op: &Op, why: &str) -> RiftError {
    RiftError::new("bad-op", format!("{why}, got {} {}", op.f_name(), op.value))
}

fn to_json(v: &Value) -> Result<Json, RiftError> {
    match v {
        Value::Nil => Ok(Json::Null),
        Value::Int(i) => Ok(Json::from(*i)),
        other => Err(RiftError::new(
            "bad-op",
            format!("rift-kv stores integers or nil, got {other}"),
        )),
    }
}

fn from_json(j: &Json) -> Value {
    match j {
        Json::Null => Value::Nil,
        Json::Number(n) => n.as_i64().map(Value::Int).unwrap_or(Value::Nil),
        Json::Array(items) => {
            let mut elems: Vec<Value> = items.iter().map(from_json).collect();
            elems.sort();
            Value::Set(elems)
        }
        other => Value::str(&other.to_string()),
    }
}

impl KvClient {
    async fn register(&mut self, op: &Op) -> PlugResult<Op> {
        let Some([key, arg]) = op.value.as_seq() else {
            return Err(bad_op(op, "register ops take [key value]"));
        };
        let Value::Int(k) = *key else {
            return Err(bad_op(op, "register keys are integers"));
        };
        let req = match op.f_name() {
            "read" => Request::Read { key: k },
            "write" => Request::Write {
                key: k,
                value: to_json(arg)?,
            },
            "cas" => match arg.as_seq() {
                Some([from, to]) => Request::Cas {
                    key: k,
                    from: to_json(from)?,
                    to: to_json(to)?,
                },
                _ => return Err(bad_op(op, "cas takes [key [old new]]")),
            },
            _ => return Err(bad_op(op, "register ops are read, write, cas")),
        };
        let resp = self.call(&req).await?;
        let value = match req {
            Request::Read { .. } => Value::Vector(vec![key.clone(), from_json(&resp.value)]),
            _ => op.value.clone(),
        };
        complete(op, &req, resp, value)
    }

    async fn set(&mut self, op: &Op) -> PlugResult<Op> {
        let req = match op.f_name() {
            "add" => Request::Add {
                key: SET_KEY,
                value: to_json(&op.value)?,
            },
            "read" => Request::Read { key: SET_KEY },
            _ => return Err(bad_op(op, "set ops are add and read")),
        };
        let resp = self.call(&req).await?;
        let value = match req {
            Request::Read { .. } => match from_json(&resp.value) {
                Value::Nil => Value::Set(Vec::new()),
                v => v,
            },
            _ => op.value.clone(),
        };
        complete(op, &req, resp, value)
    }
}

#[async_trait]
impl Client for KvClient {
    async fn open(&self, _test: &TestInfo, node: &str) -> PlugResult<Box<dyn Client>> {
        let addr = *self
            .addresses
            .get(node)
            .ok_or_else(|| RiftError::new("config", format!("no address for node {node}")))?;
        let stream = tokio::time::timeout(self.connect_timeout, TcpStream::connect(addr))
            .await
            .map_err(|_| RiftError::new("connect", format!("{node} ({addr}): timed out")))?
            .map_err(|e| RiftError::new("connect", format!("{node} ({addr}): {e}")))?;
        let _ = stream.set_nodelay(true);
        let (r, w) = stream.into_split();
        Ok(Box::new(KvClient {
            addresses: self.addresses.clone(),
            workload: self.workload,
            connect_timeout: self.connect_timeout,
            conn: Some(Conn {
                read: BufReader::new(r),
                write: w,
            }),
        }))
    }

    async fn invoke(&mut self, _test: &TestInfo, op: &Op) -> PlugResult<Op> {
        match self.workload {
            KvWorkload::Register => self.register(op).await,
            KvWorkload::Set => self.set(op).await,
        }
    }
}
