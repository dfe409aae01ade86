//! Routes and handlers. File-system work runs on tokio's blocking pool.

use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use axum::extract::{Path as UrlPath, Query, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use serde::Deserialize;
use serde_json::Value;

use crate::pages::{self, DirListing, IndexView, ResultsView, RunView};
use crate::store::{PathRefusal, RunSummary, Store, Verdict};

/// Runs per index page.
pub const PER_PAGE: usize = 200;
/// Larger `results.json` files are linked, not rendered.
pub const MAX_RENDERED_RESULTS_BYTES: u64 = 8 * 1024 * 1024;
/// Files listed per subdirectory on a run page.
const MAX_LISTED_PER_DIR: usize = 100;
const KNOWN_PLOTS: [&str; 4] = [
    "latency-raw.png",
    "latency-quantiles.png",
    "rate.png",
    "clock-skew.png",
];

type Shared = Arc<Store>;

/// The router over a store directory (see the crate docs for the routes).
pub fn router(store: PathBuf) -> Router {
    Router::new()
        .route("/", get(index))
        .route("/run/{test}/{time}", get(run))
        .route("/files", get(files_root))
        .route("/files/", get(files_root))
        .route("/files/{*path}", get(files))
        .route("/tar/{test}/{time}", get(tar))
        .fallback(not_found)
        .with_state(Arc::new(Store::new(store)))
}

fn page(status: StatusCode, markup: maud::Markup) -> Response {
    let mut resp = (status, Html(markup.into_string())).into_response();
    resp.headers_mut().insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    resp
}

fn error(status: StatusCode, detail: &str) -> Response {
    let title = match status {
        StatusCode::NOT_FOUND => "Not found",
        StatusCode::BAD_REQUEST => "Bad request",
        _ => "Error",
    };
    page(status, pages::error_page(title, detail))
}

fn refused(r: PathRefusal) -> Response {
    match r {
        PathRefusal::BadPath => error(
            StatusCode::BAD_REQUEST,
            "Paths may not contain '..', '.', backslashes or start with '/'.",
        ),
        PathRefusal::NotFound => error(StatusCode::NOT_FOUND, "No such file in the store."),
    }
}

async fn not_found() -> Response {
    error(StatusCode::NOT_FOUND, "No such page.")
}

async fn blocking<F>(f: F) -> Response
where
    F: FnOnce() -> Response + Send + 'static,
{
    tokio::task::spawn_blocking(f).await.unwrap_or_else(|e| {
        error(
            StatusCode::INTERNAL_SERVER_ERROR,
            &format!("internal error: {e}"),
        )
    })
}

/// Query parameters of the index; all optional and read leniently.
#[derive(Debug, Deserialize, Default)]
struct IndexQuery {
    q: Option<String>,
    verdict: Option<String>,
    page: Option<String>,
}

async fn index(State(store): State<Shared>, Query(q): Query<IndexQuery>) -> Response {
    blocking(move || index_blocking(&store, q)).await
}

fn index_blocking(store: &Store, q: IndexQuery) -> Response {
    let runs = match store.runs() {
        Ok(runs) => runs,
        Err(e) => {
            let detail = format!("Cannot read the store {}: {e}", store.root().display());
            return error(StatusCode::INTERNAL_SERVER_ERROR, &detail);
        }
    };
    let query = q.q.unwrap_or_default().trim().to_string();
    let needle = query.to_lowercase();
    let verdict = q.verdict.as_deref().and_then(Verdict::parse);
    let page_no = q
        .page
        .and_then(|p| p.trim().parse::<usize>().ok())
        .unwrap_or(1)
        .max(1)
        - 1;
    let named: Vec<&RunSummary> = runs
        .iter()
        .filter(|r| needle.is_empty() || r.test.to_lowercase().contains(&needle))
        .collect();
    let mut counts = [0usize; 4];
    for r in &named {
        let i = Verdict::ALL
            .iter()
            .position(|v| *v == r.verdict)
            .unwrap_or(0);
        counts[i] += 1;
    }
    let matching: Vec<&RunSummary> = named
        .into_iter()
        .filter(|r| verdict.is_none_or(|v| r.verdict == v))
        .collect();
    let shown: Vec<RunSummary> = matching
        .iter()
        .skip(page_no.saturating_mul(PER_PAGE))
        .take(PER_PAGE)
        .map(|r| (*r).clone())
        .collect();
    let view = IndexView {
        query,
        verdict,
        page: page_no,
        matching: matching.len(),
        counts,
        per_page: PER_PAGE,
    };
    page(StatusCode::OK, pages::index_page(&view, &shown))
}

async fn run(
    State(store): State<Shared>,
    UrlPath((test, time)): UrlPath<(String, String)>,
) -> Response {
    blocking(move || {
        let dir = match store.run_dir(&test, &time) {
            Ok(dir) => dir,
            Err(r) => return refused(r),
        };
        let Some(summary) = store.run(&test, &time) else {
            return refused(PathRefusal::NotFound);
        };
        page(StatusCode::OK, pages::run_page(&run_view(&dir, summary)))
    })
    .await
}

/// Reads what a run page shows; unreadable parts are left out or explained, never fatal.
fn run_view(dir: &Path, summary: RunSummary) -> RunView {
    let test_json = fs::read(dir.join("test.json"))
        .ok()
        .and_then(|b| serde_json::from_slice::<Value>(&b).ok());
    let results = read_results(&dir.join("results.json"));
    let mut files = Vec::new();
    let mut dir_names = Vec::new();
    if let Ok(entries) = fs::read_dir(dir) {
        for entry in entries.flatten() {
            let (Ok(ft), Ok(name)) = (entry.file_type(), entry.file_name().into_string()) else {
                continue;
            };
            if ft.is_file() {
                let len = entry.metadata().map_or(0, |m| m.len());
                files.push((name, len));
            } else if ft.is_dir() {
                dir_names.push(name);
            }
        }
    }
    files.sort();
    let nodes: Vec<String> = test_json
        .as_ref()
        .and_then(|t| t.get("nodes"))
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|n| n.as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default();
    // Node log directories first, in the test's node order, then the rest by name.
    dir_names.sort_by_key(|d| {
        (
            nodes.iter().position(|n| n == d).unwrap_or(usize::MAX),
            d.clone(),
        )
    });
    let dirs = dir_names
        .into_iter()
        .map(|d| {
            let (files, cut) = list_files(&dir.join(&d), MAX_LISTED_PER_DIR);
            DirListing {
                name: d,
                files,
                cut,
            }
        })
        .collect();
    let mut plots: Vec<String> = KNOWN_PLOTS
        .iter()
        .filter(|p| files.iter().any(|(f, _)| f == *p))
        .map(|p| p.to_string())
        .collect();
    for (f, _) in &files {
        if f.ends_with(".png") && !plots.contains(f) {
            plots.push(f.clone());
        }
    }
    RunView {
        summary,
        test_json,
        results,
        plots,
        files,
        dirs,
    }
}

fn read_results(path: &Path) -> ResultsView {
    let len = match fs::metadata(path) {
        Ok(m) => m.len(),
        Err(_) => return ResultsView::Missing,
    };
    if len > MAX_RENDERED_RESULTS_BYTES {
        return ResultsView::TooBig(len);
    }
    match fs::read(path).map(|b| serde_json::from_slice::<Value>(&b)) {
        Ok(Ok(v)) => ResultsView::Shown(crate::results::render(&v)),
        Ok(Err(e)) => ResultsView::Unreadable(e.to_string()),
        Err(e) => ResultsView::Unreadable(e.to_string()),
    }
}

/// Up to `max` regular files under `dir` (relative paths, sizes), walked with an explicit stack,
/// symlinks skipped; `true` when more were left out.
fn list_files(dir: &Path, max: usize) -> (Vec<(String, u64)>, bool) {
    let mut out = Vec::new();
    let mut stack = vec![(dir.to_path_buf(), String::new())];
    while let Some((path, rel)) = stack.pop() {
        let Ok(entries) = fs::read_dir(&path) else {
            continue;
        };
        let mut children: Vec<_> = entries.flatten().collect();
        children.sort_by_key(|e| std::cmp::Reverse(e.file_name()));
        for entry in children {
            let (Ok(ft), Ok(name)) = (entry.file_type(), entry.file_name().into_string()) else {
                continue;
            };
            let child = if rel.is_empty() {
                name
            } else {
                format!("{rel}/{name}")
            };
            if ft.is_dir() {
                stack.push((entry.path(), child));
            } else if ft.is_file() {
                if out.len() == max {
                    out.sort();
                    return (out, true);
                }
                out.push((child, entry.metadata().map_or(0, |m| m.len())));
            }
        }
    }
    out.sort();
    (out, false)
}

async fn files_root(State(store): State<Shared>) -> Response {
    blocking(move || serve_path(&store, "")).await
}

async fn files(State(store): State<Shared>, UrlPath(rel): UrlPath<String>) -> Response {
    blocking(move || serve_path(&store, &rel)).await
}

fn serve_path(store: &Store, rel: &str) -> Response {
    let path = match store.resolve(rel) {
        Ok(p) => p,
        Err(r) => return refused(r),
    };
    let Ok(meta) = fs::metadata(&path) else {
        return refused(PathRefusal::NotFound);
    };
    if meta.is_dir() {
        return page(StatusCode::OK, pages::dir_page(rel, &dir_entries(&path)));
    }
    if !meta.is_file() {
        return refused(PathRefusal::NotFound);
    }
    let mut resp = Response::new(crate::stream::file_body(path.clone(), meta.len()));
    let headers = resp.headers_mut();
    let ty = content_type(&path);
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(ty));
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(meta.len()));
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    resp
}

/// A directory's entries: name, is-directory, size; symlinks skipped, directories first.
fn dir_entries(dir: &Path) -> Vec<(String, bool, u64)> {
    let mut out = Vec::new();
    if let Ok(entries) = fs::read_dir(dir) {
        for entry in entries.flatten() {
            let (Ok(ft), Ok(name)) = (entry.file_type(), entry.file_name().into_string()) else {
                continue;
            };
            if ft.is_dir() || ft.is_file() {
                out.push((name, ft.is_dir(), entry.metadata().map_or(0, |m| m.len())));
            }
        }
    }
    out.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    out
}

/// The content type of a store file: by extension, and for files without a known one (node
/// logs often have none) by looking at the first bytes: text if UTF-8 without NULs.
pub fn content_type(path: &Path) -> &'static str {
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase);
    match ext.as_deref() {
        Some("html" | "htm") => "text/html; charset=utf-8",
        Some("json") => "application/json",
        Some("png") => "image/png",
        Some("svg") => "image/svg+xml",
        Some("jpg" | "jpeg") => "image/jpeg",
        Some("gif") => "image/gif",
        Some("css") => "text/css; charset=utf-8",
        Some("js") => "text/javascript; charset=utf-8",
        Some("csv") => "text/csv; charset=utf-8",
        Some("tar") => "application/x-tar",
        Some("gz" | "tgz") => "application/gzip",
        Some("zip") => "application/zip",
        Some("pdf") => "application/pdf",
        Some(
            "jsonl" | "ndjson" | "edn" | "log" | "txt" | "out" | "err" | "stdout" | "stderr"
            | "clj" | "md" | "yaml" | "yml" | "toml" | "conf",
        ) => "text/plain; charset=utf-8",
        _ if looks_textual(path) => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}

fn looks_textual(path: &Path) -> bool {
    let mut head = [0u8; 1024];
    let Ok(n) = fs::File::open(path).and_then(|mut f| f.read(&mut head)) else {
        return false;
    };
    let head = &head[..n];
    if head.contains(&0) {
        return false;
    }
    match std::str::from_utf8(head) {
        Ok(_) => true,
        // A multi-byte character cut at the end of the sample is still text.
        Err(e) => e.error_len().is_none(),
    }
}

async fn tar(
    State(store): State<Shared>,
    UrlPath((test, time)): UrlPath<(String, String)>,
) -> Response {
    let dir = match store.run_dir(&test, &time) {
        Ok(dir) => dir,
        Err(r) => return refused(r),
    };
    let prefix = format!("{test}/{time}");
    let body = crate::stream::blocking_body(move |out| {
        crate::tar::write_tar(&dir, &prefix, out).map(|_| ())
    });
    let filename: String = format!("{test}-{time}.tar")
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "-_.".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect();
    let mut resp = Response::new(body);
    let headers = resp.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/x-tar"),
    );
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{filename}\"")) {
        headers.insert(header::CONTENT_DISPOSITION, v);
    }
    resp
}
