//! The rift-kv server: the primary applies every change and logs it; replicas forward.

use crate::proto::{Change, Request, Response};
use crate::KvError;
use serde_json::Value as Json;
use std::collections::HashMap;
use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::broadcast;

/// The longest request line a server accepts.
const MAX_LINE_BYTES: usize = 1 << 20;
/// The log file in the data directory.
pub const LOG_FILE: &str = "kv.log";

/// Where replicas answer reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReadMode {
    /// Every read goes to the primary: the store is linearizable.
    Primary,
    /// Replicas answer reads from their own copy, which the primary updates asynchronously:
    /// faster, and stale whenever a replica is cut off (not linearizable: a documented
    /// weakening, like etcd's serializable reads).
    Local,
}

impl ReadMode {
    /// `primary` or `local`.
    pub fn parse(s: &str) -> Result<ReadMode, KvError> {
        match s {
            "primary" => Ok(ReadMode::Primary),
            "local" => Ok(ReadMode::Local),
            other => Err(KvError::Usage(format!(
                "--reads takes primary or local, not {other:?}"
            ))),
        }
    }

    /// The name `parse` reads.
    pub fn name(self) -> &'static str {
        match self {
            ReadMode::Primary => "primary",
            ReadMode::Local => "local",
        }
    }
}

/// How one server runs.
#[derive(Clone, Debug)]
pub struct ServerOptions {
    /// Where it listens.
    pub listen: SocketAddr,
    /// The primary's address; `None` when this server is the primary.
    pub primary: Option<SocketAddr>,
    /// The primary keeps its log here.
    pub data_dir: PathBuf,
    /// Where reads are answered.
    pub reads: ReadMode,
    /// How long a replica waits to connect to the primary (a failure is definite).
    pub connect_timeout: Duration,
    /// How long a replica waits for the primary's answer (a failure is indeterminate).
    pub forward_timeout: Duration,
}

struct Store {
    map: HashMap<i64, Json>,
    log: Option<std::fs::File>,
}

struct Shared {
    opts: ServerOptions,
    store: Mutex<Store>,
    changes: broadcast::Sender<Change>,
}

impl Shared {
    fn store(&self) -> MutexGuard<'_, Store> {
        self.store.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Runs a server until the process ends. The primary replays its log first.
pub async fn serve(opts: ServerOptions) -> Result<(), KvError> {
    let (map, log) = if opts.primary.is_none() {
        open_log(&opts)?
    } else {
        (HashMap::new(), None)
    };
    let listener = TcpListener::bind(opts.listen)
        .await
        .map_err(|e| KvError::Io(format!("listening on {}", opts.listen), e))?;
    eprintln!(
        "rift-kvd listening on {} as {} (reads: {}), {} keys",
        opts.listen,
        match opts.primary {
            None => "primary".to_string(),
            Some(p) => format!("replica of {p}"),
        },
        opts.reads.name(),
        map.len()
    );
    let (changes, _) = broadcast::channel(4096);
    let shared = Arc::new(Shared {
        opts,
        store: Mutex::new(Store { map, log }),
        changes,
    });
    if let (Some(primary), ReadMode::Local) = (shared.opts.primary, shared.opts.reads) {
        tokio::spawn(follow(shared.clone(), primary));
    }
    loop {
        let (stream, _) = listener
            .accept()
            .await
            .map_err(|e| KvError::Io("accepting a connection".into(), e))?;
        let _ = stream.set_nodelay(true);
        tokio::spawn(handle(shared.clone(), stream));
    }
}

/// Replays `kv.log` (a torn last line, from a kill mid-write, is ignored) and opens it for
/// appending.
fn open_log(opts: &ServerOptions) -> Result<(HashMap<i64, Json>, Option<std::fs::File>), KvError> {
    std::fs::create_dir_all(&opts.data_dir)
        .map_err(|e| KvError::Io(format!("creating {}", opts.data_dir.display()), e))?;
    let path = opts.data_dir.join(LOG_FILE);
    let mut map = HashMap::new();
    match std::fs::read_to_string(&path) {
        Ok(text) => {
            for line in text.lines() {
                if let Ok(c) = serde_json::from_str::<Change>(line) {
                    map.insert(c.key, c.value);
                }
            }
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(KvError::Io(format!("reading {}", path.display()), e)),
    }
    let file = std::fs::File::options()
        .create(true)
        .append(true)
        .open(&path)
        .map_err(|e| KvError::Io(format!("opening {}", path.display()), e))?;
    Ok((map, Some(file)))
}

async fn handle(shared: Arc<Shared>, stream: TcpStream) {
    let (read, mut write) = stream.into_split();
    let mut lines = BufReader::new(read);
    let mut upstream: Option<Upstream> = None;
    let mut line = String::new();
    loop {
        line.clear();
        match read_line(&mut lines, &mut line).await {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
        let req = match serde_json::from_str::<Request>(line.trim_end()) {
            Ok(r) => r,
            Err(e) => {
                let resp = Response::fail(true, format!("bad request: {e}"));
                if send(&mut write, &resp).await.is_err() {
                    return;
                }
                continue;
            }
        };
        if req == Request::Subscribe {
            if shared.opts.primary.is_none() {
                stream_changes(&shared, write).await;
            }
            return;
        }
        let resp = answer(&shared, &mut upstream, &req).await;
        if send(&mut write, &resp).await.is_err() {
            return;
        }
    }
}

async fn answer(shared: &Shared, upstream: &mut Option<Upstream>, req: &Request) -> Response {
    match shared.opts.primary {
        None => apply(shared, req),
        Some(_) if !req.is_mutation() && shared.opts.reads == ReadMode::Local => {
            let Request::Read { key } = req else {
                return Response::fail(true, "unsupported");
            };
            Response::ok(shared.store().map.get(key).cloned().unwrap_or(Json::Null))
        }
        Some(primary) => forward(shared, upstream, primary, req).await,
    }
}

/// The primary's state machine. A change is logged before it is applied and acknowledged.
fn apply(shared: &Shared, req: &Request) -> Response {
    let mut store = shared.store();
    let (key, value) = match req {
        Request::Read { key } => {
            return Response::ok(store.map.get(key).cloned().unwrap_or(Json::Null))
        }
        Request::Subscribe => return Response::fail(true, "unsupported"),
        Request::Write { key, value } => (*key, value.clone()),
        Request::Cas { key, from, to } => {
            let current = store.map.get(key).unwrap_or(&Json::Null);
            if current != from {
                return Response::fail(true, "cas-mismatch");
            }
            (*key, to.clone())
        }
        Request::Add { key, value } => {
            let mut list = match store.map.get(key) {
                Some(Json::Array(items)) => items.clone(),
                _ => Vec::new(),
            };
            list.push(value.clone());
            (*key, Json::Array(list))
        }
    };
    let change = Change { key, value };
    if let Some(log) = store.log.as_mut() {
        let mut bytes = serde_json::to_vec(&change).unwrap_or_default();
        bytes.push(b'\n');
        if let Err(e) = log.write_all(&bytes) {
            return Response::fail(false, format!("log write failed: {e}"));
        }
    }
    store.map.insert(change.key, change.value.clone());
    let _ = shared.changes.send(change);
    Response::ok(Json::Null)
}

/// A replica's connection to the primary, opened on first use.
struct Upstream {
    read: BufReader<OwnedReadHalf>,
    write: OwnedWriteHalf,
}

async fn forward(
    shared: &Shared,
    upstream: &mut Option<Upstream>,
    primary: SocketAddr,
    req: &Request,
) -> Response {
    let opts = &shared.opts;
    if upstream.is_none() {
        match tokio::time::timeout(opts.connect_timeout, TcpStream::connect(primary)).await {
            Ok(Ok(s)) => {
                let _ = s.set_nodelay(true);
                let (r, w) = s.into_split();
                *upstream = Some(Upstream {
                    read: BufReader::new(r),
                    write: w,
                });
            }
            Ok(Err(e)) => {
                return Response::fail(true, format!("primary {primary} unreachable: {e}"))
            }
            Err(_) => return Response::fail(true, format!("primary {primary}: connect timed out")),
        }
    }
    let Some(up) = upstream.as_mut() else {
        return Response::fail(true, "no upstream");
    };
    let exchange = async {
        send(&mut up.write, req).await?;
        let mut line = String::new();
        match read_line(&mut up.read, &mut line).await? {
            0 => Err(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                "primary closed the connection",
            )),
            _ => serde_json::from_str::<Response>(line.trim_end())
                .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e)),
        }
    };
    let result = tokio::time::timeout(opts.forward_timeout, exchange).await;
    match result {
        Ok(Ok(resp)) => resp,
        Ok(Err(e)) => {
            *upstream = None;
            Response::fail(!req.is_mutation(), format!("primary {primary}: {e}"))
        }
        Err(_) => {
            *upstream = None;
            Response::fail(!req.is_mutation(), format!("primary {primary}: timed out"))
        }
    }
}

/// The primary's side of replication: every key, then every change as it happens. A replica
/// that falls too far behind is cut off and resubscribes.
async fn stream_changes(shared: &Shared, mut write: OwnedWriteHalf) {
    let (snapshot, mut rx) = {
        let store = shared.store();
        let snapshot: Vec<Change> = store
            .map
            .iter()
            .map(|(k, v)| Change {
                key: *k,
                value: v.clone(),
            })
            .collect();
        (snapshot, shared.changes.subscribe())
    };
    for c in &snapshot {
        if send(&mut write, c).await.is_err() {
            return;
        }
    }
    while let Ok(c) = rx.recv().await {
        if send(&mut write, &c).await.is_err() {
            return;
        }
    }
}

/// A replica in local-read mode follows the primary for ever, reconnecting after failures.
async fn follow(shared: Arc<Shared>, primary: SocketAddr) {
    loop {
        if let Err(e) = follow_once(&shared, primary).await {
            tracing::debug!("following {primary}: {e}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn follow_once(shared: &Shared, primary: SocketAddr) -> std::io::Result<()> {
    let stream = tokio::time::timeout(shared.opts.connect_timeout, TcpStream::connect(primary))
        .await
        .map_err(|_| std::io::Error::new(std::io::ErrorKind::TimedOut, "connect timed out"))??;
    let (read, mut write) = stream.into_split();
    send(&mut write, &Request::Subscribe).await?;
    let mut read = BufReader::new(read);
    let mut line = String::new();
    loop {
        line.clear();
        if read_line(&mut read, &mut line).await? == 0 {
            return Ok(());
        }
        let c: Change = serde_json::from_str(line.trim_end())
            .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))?;
        shared.store().map.insert(c.key, c.value);
    }
}

async fn send<T: serde::Serialize>(w: &mut OwnedWriteHalf, msg: &T) -> std::io::Result<()> {
    let mut bytes = serde_json::to_vec(msg).map_err(std::io::Error::other)?;
    bytes.push(b'\n');
    w.write_all(&bytes).await
}

/// Reads one line, refusing lines longer than [`MAX_LINE_BYTES`].
pub(crate) async fn read_line<R: tokio::io::AsyncBufRead + Unpin>(
    r: &mut R,
    line: &mut String,
) -> std::io::Result<usize> {
    use tokio::io::AsyncReadExt;
    let n = r.take(MAX_LINE_BYTES as u64 + 1).read_line(line).await?;
    if n > MAX_LINE_BYTES {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            "line too long",
        ));
    }
    Ok(n)
}
