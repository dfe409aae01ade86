//! Helpers shared by the HTTP and browser tests: building stores and making requests.
#![allow(dead_code)]

use std::fs;
use std::path::{Path, PathBuf};

use axum::body::Body;
use axum::http::{HeaderMap, Request, StatusCode};
use axum::Router;
use tower::ServiceExt;

/// A run directory with `test.json` (start 1000, end `1000 + duration_ms` unless `None`,
/// op-count 10) and, when `valid` is given, `results.json` with that literal `valid?` value.
pub fn make_run(
    store: &Path,
    test: &str,
    time: &str,
    valid: Option<&str>,
    duration_ms: Option<i64>,
) -> PathBuf {
    let dir = store.join(test).join(time);
    fs::create_dir_all(&dir).unwrap();
    let end = duration_ms
        .map(|d| format!(",\"end-time\":{}", 1000 + d))
        .unwrap_or_default();
    fs::write(
        dir.join("test.json"),
        format!(
            "{{\"name\":\"{test}\",\"nodes\":[\"n1\",\"n2\"],\"start-time\":1000{end},\
             \"op-count\":10,\"seed\":42,\"argv\":[\"rift\",\"test\"],\"spec\":{{\"workload\":\"{test}\"}}}}"
        ),
    )
    .unwrap();
    if let Some(v) = valid {
        fs::write(dir.join("results.json"), format!("{{\"valid?\":{v}}}")).unwrap();
    }
    dir
}

/// A complete run with everything a page links: plots, timeline, histories, node logs.
pub fn make_full_run(store: &Path) -> PathBuf {
    let dir = make_run(store, "bank", "20260102T030405.678", None, Some(3022));
    let results = r#"{"valid?": false,
      "perf": {"valid?": true},
      "stats": {"valid?": "unknown", "error": "budget"},
      "elle": {"valid?": false, "anomaly-types": ["G1c"], "anomalies": {"G1c": [1]}},
      "independent": {"7": {"valid?": false}}}"#;
    fs::write(dir.join("results.json"), results).unwrap();
    fs::write(dir.join("latency-raw.png"), b"\x89PNG\r\n\x1a\nraw").unwrap();
    fs::write(dir.join("rate.png"), b"\x89PNG\r\n\x1a\nrate").unwrap();
    fs::write(
        dir.join("rate.svg"),
        b"<svg xmlns=\"http://www.w3.org/2000/svg\"/>",
    )
    .unwrap();
    fs::write(
        dir.join("timeline.html"),
        "<!DOCTYPE html><html><head><title>timeline</title></head><body><h1 id=\"tl\">Timeline</h1></body></html>",
    )
    .unwrap();
    fs::write(
        dir.join("history.jsonl"),
        "{\"index\":0,\"type\":\"invoke\"}\n",
    )
    .unwrap();
    fs::write(dir.join("history.edn"), "{:index 0, :type :invoke}\n").unwrap();
    fs::write(dir.join("rift.log"), "INFO started\n").unwrap();
    fs::create_dir_all(dir.join("n1")).unwrap();
    fs::write(dir.join("n1/db.log"), "n1 up\n").unwrap();
    fs::write(dir.join("n1/stdout"), "plain text without extension\n").unwrap();
    fs::write(dir.join("n1/core"), b"\x7fELF\x00\x01binary").unwrap();
    fs::create_dir_all(dir.join("elle")).unwrap();
    fs::write(dir.join("elle/G1c.txt"), "cycle\n").unwrap();
    dir
}

/// GET through the router without a socket.
pub async fn get(app: &Router, uri: &str) -> (StatusCode, HeaderMap, Vec<u8>) {
    request(app, "GET", uri).await
}

/// Any method through the router without a socket.
pub async fn request(app: &Router, method: &str, uri: &str) -> (StatusCode, HeaderMap, Vec<u8>) {
    let req = Request::builder()
        .method(method)
        .uri(uri)
        .body(Body::empty())
        .unwrap();
    let resp = app.clone().oneshot(req).await.unwrap();
    let status = resp.status();
    let headers = resp.headers().clone();
    let body = axum::body::to_bytes(resp.into_body(), usize::MAX)
        .await
        .unwrap();
    (status, headers, body.to_vec())
}

/// The body as text.
pub fn text(body: &[u8]) -> String {
    String::from_utf8(body.to_vec()).unwrap()
}

/// The content type header.
pub fn ctype(h: &HeaderMap) -> &str {
    h.get("content-type").unwrap().to_str().unwrap()
}

/// How many rows the index table shows.
pub fn rows(html: &str) -> usize {
    html.matches("<tr data-name=").count()
}
