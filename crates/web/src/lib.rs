//! `rift serve`: browse the store of test runs in a web browser.
//!
//! # Concepts
//! The store is a directory of runs, `store/<test-name>/<YYYYMMDDTHHMMSS.mmm>/`, each with
//! `test.json` (name, nodes, `start-time`/`end-time` in unix ms, `op-count`, seed, argv, spec),
//! `results.json` (`"valid?"` true, false or `"unknown"`, and one sub-result per checker),
//! `history.jsonl`, `history.edn`, `rift.log`, one log directory per node, plots and
//! `timeline.html`. This crate serves it read-only over HTTP:
//!
//! - `/` lists every run newest first with its verdict, duration and op count, 200 per page,
//!   filtered by `q=` (test name substring) and `verdict=` (`valid`, `invalid`, `unknown`,
//!   `incomplete`); a small inline script filters the shown rows as you type.
//! - `/run/<test>/<time>` shows one run: the verdict (Jepsen's words), the test's parameters,
//!   the checker results that are not valid (linked into the highlighted `results.json`), the
//!   plots, the timeline, node logs, history downloads and a tar of the whole run.
//! - `/files/<path>` serves a file of the store (or lists a directory), with its content type.
//! - `/tar/<test>/<time>` streams a tar of the run directory (symlinks skipped).
//!
//! Summaries for the index come from `test.json` and the `valid?` key of `results.json` only,
//! and are cached keyed by both files' modification time and length, so a store with thousands
//! of runs is listed with a few stats per run once the cache is warm.
//!
//! # Example
//! ```
//! # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
//! let store = tempfile::tempdir().unwrap();
//! let run = store.path().join("demo/20260101T000000.000");
//! std::fs::create_dir_all(&run).unwrap();
//! std::fs::write(run.join("test.json"), r#"{"name":"demo","op-count":3}"#).unwrap();
//! std::fs::write(run.join("results.json"), r#"{"valid?":false}"#).unwrap();
//!
//! let summaries = rift_web::Store::new(store.path().to_path_buf()).runs().unwrap();
//! assert_eq!(summaries[0].verdict, rift_web::Verdict::Invalid);
//!
//! // The router answers requests without a socket (a tower Service); `serve` binds one.
//! let _app: axum::Router = rift_web::router(store.path().to_path_buf());
//! let missing = rift_web::ServeOptions {
//!     store: store.path().join("nope"),
//!     ..rift_web::ServeOptions::default()
//! };
//! let err = rift_web::serve(missing).await.unwrap_err();
//! assert!(err.to_string().contains("nope"));
//! # });
//! ```
//!
//! # Edge cases
//! - A crashed run (no `results.json`, no `end-time`) is listed as `incomplete`; a broken
//!   `test.json` or `results.json` is listed with a note; neither fails the index.
//! - Symlinks (`store/latest`, `store/<test>/latest`) are not listed, and are not put in tars.
//! - Paths with `..` or `.` segments (also percent-encoded, `%2e%2e`), absolute paths,
//!   backslashes or NULs get 400; paths that do not exist, or whose real path (symlinks
//!   followed) lies outside the store, get 404.
//! - A file that grows while it is served is sent with the length it had when the request came;
//!   one that shrinks cuts the response off rather than sending a short file silently.
//! - `results.json` over 8 MiB is linked rather than rendered.
//! - Binds 127.0.0.1 by default: the store may hold credentials from test specs.
#![warn(missing_docs)]

mod app;
pub mod pages;
pub mod results;
mod store;
mod stream;
pub mod tar;

use std::io;
use std::path::PathBuf;

pub use app::{content_type, router, MAX_RENDERED_RESULTS_BYTES, PER_PAGE};
pub use store::{
    pretty_duration, pretty_time, read_summary, PathRefusal, RunSummary, Store, Verdict,
};

/// Errors of [`serve`].
#[derive(Debug, thiserror::Error)]
pub enum WebError {
    /// The store directory does not exist.
    #[error("store directory {path} does not exist (run a test first, or pass --store DIR)")]
    StoreMissing {
        /// The directory asked for.
        path: PathBuf,
    },
    /// The store path exists but is not a directory.
    #[error("store path {path} is not a directory")]
    StoreNotDirectory {
        /// The path asked for.
        path: PathBuf,
    },
    /// The address could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// `host:port` as asked.
        addr: String,
        /// Why.
        source: io::Error,
    },
    /// The server stopped with an I/O error.
    #[error("server error: {0}")]
    Serve(#[from] io::Error),
}

/// Options of `rift serve`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServeOptions {
    /// The address to bind; `127.0.0.1` by default (use `0.0.0.0` to share on a network).
    pub host: String,
    /// The port; 8080 by default, 0 picks a free one.
    pub port: u16,
    /// The store directory; `store` by default.
    pub store: PathBuf,
}

impl Default for ServeOptions {
    fn default() -> Self {
        ServeOptions {
            host: "127.0.0.1".to_string(),
            port: 8080,
            store: PathBuf::from("store"),
        }
    }
}

/// Checks that the store is a directory, naming it in the error otherwise.
pub fn check_store(store: &std::path::Path) -> Result<(), WebError> {
    match std::fs::metadata(store) {
        Ok(m) if m.is_dir() => Ok(()),
        Ok(_) => Err(WebError::StoreNotDirectory {
            path: store.to_path_buf(),
        }),
        Err(_) => Err(WebError::StoreMissing {
            path: store.to_path_buf(),
        }),
    }
}

/// Binds `host:port`, prints `rift serve: http://ADDR/ (store DIR)` and serves until the
/// process ends. Needs a tokio runtime with I/O enabled.
pub async fn serve(opts: ServeOptions) -> Result<(), WebError> {
    check_store(&opts.store)?;
    let addr = if opts.host.contains(':') && !opts.host.starts_with('[') {
        format!("[{}]:{}", opts.host, opts.port)
    } else {
        format!("{}:{}", opts.host, opts.port)
    };
    let listener = tokio::net::TcpListener::bind(&addr)
        .await
        .map_err(|source| WebError::Bind { addr, source })?;
    let local = listener.local_addr()?;
    println!(
        "rift serve: http://{local}/ (store {})",
        opts.store.display()
    );
    serve_listener(listener, opts.store).await
}

/// Serves the store on an already bound listener (tests bind `127.0.0.1:0`).
pub async fn serve_listener(
    listener: tokio::net::TcpListener,
    store: PathBuf,
) -> Result<(), WebError> {
    check_store(&store)?;
    axum::serve(listener, router(store)).await?;
    Ok(())
}
