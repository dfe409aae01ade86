//! rift-kv: a small replicated register store of our own, to run rift end to end on a real
//! cluster before (or beside) a real database.
//!
//! # Concepts
//!
//! Every node runs a server (`rift kv-server`, or the `rift-kvd` binary). The first node is
//! the **primary**: it applies every change, appending it to `kv.log` in its data directory
//! before it answers, and replays that log when restarted (a killed primary loses nothing it
//! acknowledged). The others are **replicas**: they forward every change to the primary and,
//! by default, every read too, so the store is linearizable. Under faults it behaves as a real
//! primary-backup system does: a replica cut off from the primary fails requests it could not
//! send (`fail`) and cannot tell whether a change it sent took effect when the primary stops
//! answering (`info`); a paused primary makes every request time out.
//!
//! With `--reads local` ([`ReadMode::Local`]) replicas answer reads from their own copy, which
//! the primary streams to them asynchronously. That is a real, documented weakening (etcd's
//! serializable reads are the same idea): a replica cut off by a partition keeps answering
//! with old values, and the linearizability checker catches the stale reads.
//!
//! The wire protocol ([`proto`]) is one JSON object per line. [`KvDb`] is the rift [`rift_core::Db`]
//! (setup wipes and starts, kill/start/pause/resume act on the server's pid), [`KvClient`] the
//! rift [`rift_core::Client`] for the `register` workload (`[k v]` tuples, cas) and the `set`
//! workload (`add`, `read`).
//!
//! [`KvSuite`] is the suite the `rift` CLI runs as `rift test --db kv` (its own option:
//! [`KvArgs::kv_reads`], `--kv-reads primary|local`), on the local cluster or SSH nodes.
//!
//! # Example
//!
//! ```
//! use rift_kv::proto::{Request, Response};
//! let req: Request = serde_json::from_str(r#"{"op":"write","key":3,"value":1}"#).unwrap();
//! assert!(req.is_mutation());
//! assert_eq!(serde_json::to_string(&Response::ok(2.into())).unwrap(), r#"{"ok":true,"value":2}"#);
//! ```
//!
//! # Edge cases
//!
//! - A torn last line of `kv.log` (a kill in the middle of a write) is skipped on replay; the
//!   change it held was never acknowledged.
//! - A failed read is always `fail`: reads change nothing.
//! - A replica that falls more than 4096 changes behind in local-read mode is cut off and
//!   resubscribes (its snapshot is the primary's whole map).

#![warn(missing_docs)]

mod client;
mod db;
pub mod proto;
mod server;
mod suite;

pub use client::{KvClient, KvWorkload, SET_KEY};
pub use db::{KvDb, DEFAULT_PORT};
pub use rift_control::NodeDirs;
pub use server::{serve, ReadMode, ServerOptions, LOG_FILE};
pub use suite::{KvArgs, KvSuite, KV_WORKLOADS};

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// What can go wrong starting a server.
#[derive(Debug, thiserror::Error)]
pub enum KvError {
    /// Bad command-line arguments.
    #[error("{0}")]
    Usage(String),
    /// An I/O error, with what was being done.
    #[error("{0}: {1}")]
    Io(String, #[source] std::io::Error),
}

/// The server's command line: `--listen ADDR --data DIR [--primary ADDR] [--reads primary|local]`.
pub const USAGE: &str =
    "usage: kv-server --listen ADDR:PORT --data DIR [--primary ADDR:PORT] [--reads primary|local]";

/// Parses the server's arguments (without the program name).
pub fn parse_args(args: &[String]) -> Result<ServerOptions, KvError> {
    let mut listen = None;
    let mut primary = None;
    let mut data = None;
    let mut reads = ReadMode::Primary;
    let mut it = args.iter();
    while let Some(flag) = it.next() {
        let mut value = || {
            it.next()
                .cloned()
                .ok_or_else(|| KvError::Usage(format!("{flag} needs a value\n{USAGE}")))
        };
        match flag.as_str() {
            "--listen" => listen = Some(parse_addr("--listen", &value()?)?),
            "--primary" => primary = Some(parse_addr("--primary", &value()?)?),
            "--data" => data = Some(PathBuf::from(value()?)),
            "--reads" => reads = ReadMode::parse(&value()?)?,
            other => {
                return Err(KvError::Usage(format!(
                    "unknown argument {other:?}\n{USAGE}"
                )))
            }
        }
    }
    Ok(ServerOptions {
        listen: listen.ok_or_else(|| KvError::Usage(format!("--listen is required\n{USAGE}")))?,
        primary,
        data_dir: data.ok_or_else(|| KvError::Usage(format!("--data is required\n{USAGE}")))?,
        reads,
        connect_timeout: Duration::from_millis(500),
        forward_timeout: Duration::from_secs(2),
    })
}

fn parse_addr(flag: &str, s: &str) -> Result<SocketAddr, KvError> {
    s.parse()
        .map_err(|e| KvError::Usage(format!("{flag} {s:?}: {e} (expected ADDR:PORT)")))
}

/// Runs a server from command-line arguments on a fresh single-threaded runtime; returns the
/// process exit code (2 for bad arguments, 1 for a failure).
pub fn main_with_args(args: &[String]) -> i32 {
    let opts = match parse_args(args) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("kv-server: {e}");
            return 2;
        }
    };
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("kv-server: starting the runtime: {e}");
            return 1;
        }
    };
    match rt.block_on(serve(opts)) {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("kv-server: {e}");
            1
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &str) -> Vec<String> {
        s.split_whitespace().map(str::to_string).collect()
    }

    #[test]
    fn parses_server_arguments() {
        let o = parse_args(&args(
            "--listen 0.0.0.0:7400 --data /tmp/x --primary 10.0.0.1:7400 --reads local",
        ))
        .unwrap();
        assert_eq!(o.listen.port(), 7400);
        assert_eq!(o.primary.unwrap().to_string(), "10.0.0.1:7400");
        assert_eq!(o.reads, ReadMode::Local);
        assert_eq!(o.data_dir, PathBuf::from("/tmp/x"));
        let e = parse_args(&args("--listen nowhere --data /x"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("--listen \"nowhere\""), "{e}");
        let e = parse_args(&args("--data /x")).unwrap_err().to_string();
        assert!(e.contains("--listen is required"), "{e}");
        let e = parse_args(&args("--listen 1.2.3.4:1 --data /x --reads fast"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("primary or local"), "{e}");
        let e = parse_args(&args("--listen")).unwrap_err().to_string();
        assert!(e.contains("--listen needs a value"), "{e}");
    }
}
