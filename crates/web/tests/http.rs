//! Every route of the router, through `tower::ServiceExt::oneshot` (no socket), plus a real
//! listener for the requests that only a raw socket can send.

mod common;

use std::fs;
use std::io::{Read, Write};
use std::os::unix::fs::symlink;
use std::process::Command;
use std::time::Instant;

use axum::http::StatusCode;
use common::*;
use rift_web::{router, Verdict};

#[tokio::test]
async fn empty_store_index() {
    let store = tempfile::tempdir().unwrap();
    let app = router(store.path().to_path_buf());
    let (status, h, body) = get(&app, "/").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(ctype(&h), "text/html; charset=utf-8");
    let html = text(&body);
    assert!(html.contains("The store has no runs yet."), "{html}");
    assert_eq!(rows(&html), 0);
}

#[tokio::test]
async fn index_newest_first_skips_symlinks_and_shows_incomplete_runs() {
    let store = tempfile::tempdir().unwrap();
    let s = store.path();
    make_run(s, "alpha", "20260101T000000.000", Some("true"), Some(850));
    make_run(
        s,
        "beta",
        "20260103T000000.000",
        Some("false"),
        Some(125_000),
    );
    make_run(
        s,
        "alpha",
        "20260102T000000.000",
        Some("\"unknown\""),
        Some(3022),
    );
    make_run(s, "crashed", "20260104T000000.000", None, None);
    fs::write(s.join("README"), "not a test").unwrap();
    symlink("alpha/20260102T000000.000", s.join("latest")).unwrap();
    symlink("20260102T000000.000", s.join("alpha/latest")).unwrap();
    let app = router(s.to_path_buf());
    let html = text(&get(&app, "/").await.2);
    assert_eq!(rows(&html), 4);
    let order: Vec<usize> = [
        "/run/crashed/20260104T000000.000",
        "/run/beta/20260103T000000.000",
        "/run/alpha/20260102T000000.000",
        "/run/alpha/20260101T000000.000",
    ]
    .iter()
    .map(|u| html.find(u).unwrap_or_else(|| panic!("{u} missing")))
    .collect();
    assert!(order.windows(2).all(|w| w[0] < w[1]), "{order:?}");
    assert!(!html.contains("/run/alpha/latest"));
    assert!(html.contains("2026-01-04 00:00:00.000"));
    for (cell, why) in [
        (
            "<span class=\"badge incomplete\">incomplete</span>",
            "crashed",
        ),
        ("<span class=\"badge invalid\">invalid</span>", "beta"),
        ("<span class=\"badge unknown\">unknown</span>", "alpha 2"),
        ("2 min 5 s", "beta duration"),
        ("3.02 s", "alpha 2 duration"),
        ("850 ms", "alpha 1 duration"),
    ] {
        assert!(html.contains(cell), "{why}: {cell}");
    }
    // The incomplete run has no duration: one "-" cell.
    let crashed_row = &html[order[0]..order[1]];
    assert!(crashed_row.contains("<span class=\"muted\">-</span>"));
}

#[tokio::test]
async fn index_filters_by_name_and_verdict() {
    let store = tempfile::tempdir().unwrap();
    let s = store.path();
    make_run(s, "bank-pg", "20260101T000000.000", Some("true"), Some(1));
    make_run(s, "bank-pg", "20260102T000000.000", Some("false"), Some(1));
    make_run(
        s,
        "BANK-redis",
        "20260103T000000.000",
        Some("false"),
        Some(1),
    );
    make_run(s, "register", "20260104T000000.000", Some("true"), Some(1));
    let app = router(s.to_path_buf());
    assert_eq!(rows(&text(&get(&app, "/?q=bank").await.2)), 3);
    let html = text(&get(&app, "/?q=Bank&verdict=invalid").await.2);
    assert_eq!(rows(&html), 2);
    assert!(html.contains("shown of 2 matching"));
    // Counts are per verdict among runs matching the name filter: 1 valid, 2 invalid.
    assert!(html.contains("<span class=\"badge valid\">valid</span> 1"));
    assert!(html.contains("<span class=\"badge invalid\">invalid</span> 2"));
    assert_eq!(rows(&text(&get(&app, "/?verdict=valid").await.2)), 2);
    assert_eq!(rows(&text(&get(&app, "/?verdict=false").await.2)), 2);
    assert_eq!(rows(&text(&get(&app, "/?verdict=incomplete").await.2)), 0);
    // Garbage parameters are ignored, not 400.
    let (status, _, body) = get(&app, "/?page=zzz&verdict=maybe&x=1").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(rows(&text(&body)), 4);
    // The query is echoed escaped.
    let html = text(&get(&app, "/?q=%3Cscript%3E").await.2);
    assert!(html.contains("value=\"&lt;script&gt;\""));
    assert!(!html.contains("<script>\""));
}

#[tokio::test]
async fn three_thousand_runs_paginate_and_are_cached() {
    let store = tempfile::tempdir().unwrap();
    let s = store.path();
    let t0 = Instant::now();
    for i in 0..3000u32 {
        let test = format!("test-{}", i % 30);
        let time = format!(
            "2026{:02}{:02}T{:06}.000",
            1 + i / 1000,
            1 + (i / 100) % 10,
            i
        );
        let valid = match i % 4 {
            0 => Some("true"),
            1 => Some("false"),
            2 => Some("\"unknown\""),
            _ => None,
        };
        make_run(s, &test, &time, valid, Some(i64::from(i)));
    }
    println!("generated 3000 runs in {:?}", t0.elapsed());
    let app = router(s.to_path_buf());
    let t = Instant::now();
    let html = text(&get(&app, "/").await.2);
    let cold = t.elapsed();
    let t = Instant::now();
    let again = text(&get(&app, "/").await.2);
    let warm = t.elapsed();
    println!("index of 3000 runs: cold {cold:?}, warm {warm:?}");
    assert_eq!(html, again);
    assert_eq!(rows(&html), 200);
    assert!(html.contains("page 1 of 15"));
    assert!(html.contains("<span class=\"badge incomplete\">incomplete</span> 750"));
    // Newest first: run 2999 (20260310T002999.000) heads page 1.
    let first = html.find("<tr data-name=").unwrap();
    assert!(html[first..first + 200].contains("/run/test-29/20260310T002999.000"));
    let last = text(&get(&app, "/?page=15").await.2);
    assert_eq!(rows(&last), 200);
    assert!(last.contains("/run/test-0/20260101T000000.000"));
    assert!(!last.contains("rel=\"next\""));
    assert_eq!(rows(&text(&get(&app, "/?page=16").await.2)), 0);
    let filtered = text(&get(&app, "/?q=test-7&verdict=invalid").await.2);
    // test-7 holds i = 7, 37, 67, ... (i % 30 == 7); invalid means i % 4 == 1: i = 37, 97, ...
    assert_eq!(rows(&filtered), 50);
    assert!(cold.as_secs() < 20, "cold index took {cold:?}");
    assert!(warm < cold, "warm {warm:?} cold {cold:?}");
}

#[tokio::test]
async fn a_changed_results_file_is_read_again() {
    let store = tempfile::tempdir().unwrap();
    let dir = make_run(store.path(), "t", "20260101T000000.000", None, None);
    let st = rift_web::Store::new(store.path().to_path_buf());
    assert_eq!(st.runs().unwrap()[0].verdict, Verdict::Incomplete);
    fs::write(dir.join("results.json"), "{\"valid?\": false}").unwrap();
    assert_eq!(st.runs().unwrap()[0].verdict, Verdict::Invalid);
    fs::write(dir.join("results.json"), "{\"valid?\": true }").unwrap();
    assert_eq!(st.runs().unwrap()[0].verdict, Verdict::Valid);
    fs::write(dir.join("results.json"), "{\"valid?\": tr").unwrap();
    let r = &st.runs().unwrap()[0];
    assert_eq!(r.verdict, Verdict::Unknown);
    assert!(r
        .note
        .as_deref()
        .unwrap()
        .starts_with("results.json unreadable"));
}

#[tokio::test]
async fn run_page_shows_verdict_anomalies_plots_and_files() {
    let store = tempfile::tempdir().unwrap();
    make_full_run(store.path());
    let app = router(store.path().to_path_buf());
    let (status, _, body) = get(&app, "/run/bank/20260102T030405.678").await;
    assert_eq!(status, StatusCode::OK);
    let html = text(&body);
    assert!(html.contains("Analysis invalid!"));
    assert!(html.contains("3.02 s"));
    // Failing checkers first (document order), then unknown ones.
    let e = html.find("<code>elle</code>").unwrap();
    let i = html.find("<code>independent/7</code>").unwrap();
    let u = html.find("<code>stats</code>").unwrap();
    assert!(e < i && i < u);
    assert!(!html.contains("<code>perf</code>"));
    assert!(html.contains("3 checker result(s) not valid"));
    assert!(html.contains("Anomaly types: <span class=\"badge invalid\">G1c</span>"));
    assert!(html.contains("<span class=\"k hot\">&quot;anomalies&quot;</span>"));
    let base = "/files/bank/20260102T030405.678";
    for link in [
        format!("<img src=\"{base}/latency-raw.png\""),
        format!("<img src=\"{base}/rate.png\""),
        format!("href=\"{base}/rate.svg\""),
        format!("id=\"timeline\" href=\"{base}/timeline.html\""),
        format!("download=\"history.jsonl\" href=\"{base}/history.jsonl\""),
        format!("download=\"history.edn\" href=\"{base}/history.edn\""),
        format!("href=\"{base}/rift.log\""),
        format!("href=\"{base}/n1/db.log\""),
        format!("href=\"{base}/elle/\""),
        "href=\"/tar/bank/20260102T030405.678\"".to_string(),
    ] {
        assert!(html.contains(&link), "missing {link}");
    }
    assert!(
        !html.contains("latency-quantiles.png"),
        "absent plots get no img tag"
    );
    assert!(!html.contains("clock-skew.png"));
    // Node directories come before other directories.
    assert!(html.find("n1/db.log").unwrap() < html.find("elle/G1c.txt").unwrap());
}

#[tokio::test]
async fn incomplete_and_broken_run_pages() {
    let store = tempfile::tempdir().unwrap();
    let s = store.path();
    make_run(s, "crash", "20260101T000000.000", None, None);
    let broken = make_run(s, "broken", "20260101T000000.000", None, None);
    fs::write(broken.join("results.json"), "{not json").unwrap();
    fs::write(broken.join("test.json"), "[").unwrap();
    let app = router(s.to_path_buf());
    let html = text(&get(&app, "/run/crash/20260101T000000.000").await.2);
    assert!(html.contains("Incomplete: no results.json."));
    assert!(html.contains("no end-time (the run did not finish)"));
    let (status, _, body) = get(&app, "/run/broken/20260101T000000.000").await;
    assert_eq!(status, StatusCode::OK);
    let html = text(&body);
    assert!(
        html.contains("results.json is not valid JSON: key must be a string at line 1 column 2")
    );
    assert!(html.contains("test.json unreadable"));
    let index = text(&get(&app, "/").await.2);
    assert_eq!(rows(&index), 2);
}

#[tokio::test]
async fn files_have_content_types_and_exact_bytes() {
    let store = tempfile::tempdir().unwrap();
    let dir = make_full_run(store.path());
    let app = router(store.path().to_path_buf());
    let base = "/files/bank/20260102T030405.678";
    for (file, ty) in [
        ("rate.png", "image/png"),
        ("rate.svg", "image/svg+xml"),
        ("results.json", "application/json"),
        ("timeline.html", "text/html; charset=utf-8"),
        ("history.jsonl", "text/plain; charset=utf-8"),
        ("history.edn", "text/plain; charset=utf-8"),
        ("rift.log", "text/plain; charset=utf-8"),
        ("n1/stdout", "text/plain; charset=utf-8"),
        ("n1/core", "application/octet-stream"),
    ] {
        let (status, h, body) = get(&app, &format!("{base}/{file}")).await;
        assert_eq!(status, StatusCode::OK, "{file}");
        assert_eq!(ctype(&h), ty, "{file}");
        assert_eq!(h.get("x-content-type-options").unwrap(), "nosniff");
        let expected = fs::read(dir.join(file)).unwrap();
        assert_eq!(
            h.get("content-length").unwrap().to_str().unwrap(),
            expected.len().to_string()
        );
        assert_eq!(body, expected, "{file}");
    }
    let (status, h, body) = request(&app, "HEAD", &format!("{base}/rate.png")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(h.get("content-length").unwrap(), "12");
    assert!(body.is_empty());
    // A large file streams in chunks and arrives whole.
    let big: Vec<u8> = (0..3_000_000u32).map(|i| (i % 251) as u8).collect();
    fs::write(dir.join("n1/big.bin"), &big).unwrap();
    let (status, _, body) = get(&app, &format!("{base}/n1/big.bin")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body.len(), 3_000_000);
    assert!(body == big);
}

#[tokio::test]
async fn directories_are_listed_without_symlinks() {
    let store = tempfile::tempdir().unwrap();
    let dir = make_full_run(store.path());
    symlink("/etc", dir.join("n1/etc-link")).unwrap();
    symlink("db.log", dir.join("n1/inner-link")).unwrap();
    let app = router(store.path().to_path_buf());
    let html = text(&get(&app, "/files/bank/20260102T030405.678/n1/").await.2);
    assert!(html.contains("href=\"/files/bank/20260102T030405.678/n1/db.log\""));
    assert!(html.contains("href=\"/files/bank/20260102T030405.678/\">up</a>"));
    assert!(!html.contains("etc-link"));
    assert!(!html.contains("inner-link"));
    let root = text(&get(&app, "/files/").await.2);
    assert!(root.contains("href=\"/files/bank/\""));
    // A symlink inside the store to a file inside the store is served.
    let (status, _, body) = get(&app, "/files/bank/20260102T030405.678/n1/inner-link").await;
    assert_eq!((status, text(&body).as_str()), (StatusCode::OK, "n1 up\n"));
}

#[tokio::test]
async fn traversal_is_refused() {
    let outside = tempfile::tempdir().unwrap();
    fs::write(outside.path().join("secret"), "top secret").unwrap();
    let store = tempfile::tempdir().unwrap();
    let dir = make_full_run(store.path());
    symlink(outside.path().join("secret"), dir.join("leak")).unwrap();
    symlink(outside.path(), store.path().join("evil")).unwrap();
    let app = router(store.path().to_path_buf());
    for (uri, want) in [
        ("/files/../../etc/passwd", StatusCode::BAD_REQUEST),
        ("/files/bank/../../../etc/passwd", StatusCode::BAD_REQUEST),
        ("/files/%2e%2e/%2e%2e/etc/passwd", StatusCode::BAD_REQUEST),
        (
            "/files/%2E%2E%2F%2E%2E%2Fetc%2Fpasswd",
            StatusCode::BAD_REQUEST,
        ),
        ("/files/bank/%2e/x", StatusCode::BAD_REQUEST),
        ("/files//etc/passwd", StatusCode::BAD_REQUEST),
        ("/files/%2Fetc%2Fpasswd", StatusCode::BAD_REQUEST),
        ("/files/..%5C..%5Cetc%5Cpasswd", StatusCode::BAD_REQUEST),
        ("/files/bank/%00", StatusCode::BAD_REQUEST),
        (
            "/files/bank/20260102T030405.678/leak",
            StatusCode::NOT_FOUND,
        ),
        ("/files/evil/secret", StatusCode::NOT_FOUND),
        ("/files/evil/", StatusCode::NOT_FOUND),
        ("/run/..%2F..%2Fetc/passwd", StatusCode::BAD_REQUEST),
        ("/run/../20260102T030405.678", StatusCode::BAD_REQUEST),
        ("/run/evil/secret", StatusCode::NOT_FOUND),
        ("/tar/%2e%2e/%2e%2e", StatusCode::BAD_REQUEST),
        ("/tar/evil/x", StatusCode::NOT_FOUND),
    ] {
        let (status, _, body) = get(&app, uri).await;
        assert_eq!(status, want, "{uri}");
        assert!(!text(&body).contains("top secret"), "{uri}");
        assert!(!text(&body).contains("root:"), "{uri}");
    }
}

#[tokio::test]
async fn missing_things_are_404() {
    let store = tempfile::tempdir().unwrap();
    make_full_run(store.path());
    let app = router(store.path().to_path_buf());
    for uri in [
        "/files/bank/20260102T030405.678/latency-quantiles.png",
        "/files/nope",
        "/run/bank/19990101T000000.000",
        "/run/nope/x",
        "/tar/bank/19990101T000000.000",
        "/no/such/route",
    ] {
        let (status, h, body) = get(&app, uri).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{uri}");
        assert_eq!(ctype(&h), "text/html; charset=utf-8");
        assert!(text(&body).contains("Not found"), "{uri}");
    }
    // A file is not a run.
    let (status, _, _) = get(&app, "/run/bank/20260102T030405.678%2Frate.png").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn tar_of_a_run_extracts_to_the_same_files() {
    let store = tempfile::tempdir().unwrap();
    let dir = make_full_run(store.path());
    symlink("/etc/passwd", dir.join("n1/passwd-link")).unwrap();
    let deep = format!("{}/{}", "d".repeat(90), "e".repeat(90));
    fs::create_dir_all(dir.join(&deep)).unwrap();
    let long_name = format!("{deep}/{}.log", "f".repeat(120));
    fs::write(dir.join(&long_name), "long path\n").unwrap();
    let app = router(store.path().to_path_buf());
    let (status, h, body) = get(&app, "/tar/bank/20260102T030405.678").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(ctype(&h), "application/x-tar");
    assert_eq!(
        h.get("content-disposition").unwrap(),
        "attachment; filename=\"bank-20260102T030405.678.tar\""
    );
    assert_eq!(body.len() % 512, 0);
    let out = tempfile::tempdir().unwrap();
    let tar_path = out.path().join("run.tar");
    fs::write(&tar_path, &body).unwrap();
    let status = Command::new("tar")
        .arg("-xf")
        .arg(&tar_path)
        .arg("-C")
        .arg(out.path())
        .status()
        .expect("tar runs");
    assert!(status.success());
    let got = out.path().join("bank/20260102T030405.678");
    for f in [
        "results.json",
        "rate.png",
        "history.jsonl",
        "n1/db.log",
        "n1/core",
        "elle/G1c.txt",
        &long_name,
    ] {
        assert_eq!(
            fs::read(got.join(f)).unwrap(),
            fs::read(dir.join(f)).unwrap(),
            "{f}"
        );
    }
    assert!(!got.join("n1/passwd-link").exists(), "symlinks are skipped");
    let list = Command::new("tar")
        .arg("-tf")
        .arg(&tar_path)
        .output()
        .unwrap();
    let names = String::from_utf8(list.stdout).unwrap();
    assert_eq!(names.lines().count(), 19, "{names}");
    assert!(names.starts_with("bank/20260102T030405.678/\n"));
}

/// A raw request over a socket: hyper must not normalise `..` away before the router sees it.
fn raw_get(addr: std::net::SocketAddr, path: &str) -> String {
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    out
}

#[test]
fn real_listener_serves_and_refuses_raw_traversal() {
    let store = tempfile::tempdir().unwrap();
    make_full_run(store.path());
    symlink("bank/20260102T030405.678", store.path().join("latest")).unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let listener = rt
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let addr = listener.local_addr().unwrap();
    let root = store.path().to_path_buf();
    std::thread::spawn(move || rt.block_on(rift_web::serve_listener(listener, root)));
    let ok = raw_get(addr, "/");
    assert!(ok.starts_with("HTTP/1.1 200 OK\r\n"), "{ok}");
    assert!(ok.contains("/run/bank/20260102T030405.678"));
    let latest = raw_get(addr, "/files/latest/rift.log");
    assert!(latest.starts_with("HTTP/1.1 200 OK\r\n") && latest.ends_with("INFO started\n"));
    for path in [
        "/files/../../etc/passwd",
        "/files/./../etc/passwd",
        "/files/%2e%2e/etc/passwd",
    ] {
        let resp = raw_get(addr, path);
        assert!(
            resp.starts_with("HTTP/1.1 400 Bad Request\r\n"),
            "{path}: {resp}"
        );
        assert!(!resp.contains("root:"));
    }
}

#[tokio::test]
async fn serve_names_a_missing_store() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("no-store-here");
    let err = rift_web::serve(rift_web::ServeOptions {
        store: missing.clone(),
        port: 0,
        ..Default::default()
    })
    .await
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "store directory {} does not exist (run a test first, or pass --store DIR)",
            missing.display()
        )
    );
    let file = dir.path().join("f");
    fs::write(&file, "").unwrap();
    let err = rift_web::check_store(&file).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!("store path {} is not a directory", file.display())
    );
    assert_eq!(rift_web::ServeOptions::default().host, "127.0.0.1");
}

#[tokio::test]
async fn a_huge_results_file_is_summarised_from_its_head_and_linked_not_rendered() {
    let store = tempfile::tempdir().unwrap();
    let dir = make_run(store.path(), "big", "20260101T000000.000", None, Some(5));
    let mut doc =
        String::from("{\"valid?\": false, \"elle\": {\"valid?\": false, \"anomalies\": [");
    let item = "{\"cycle\": [1, 2, 3], \"type\": \"G1c\"},";
    while doc.len() < 20 * 1024 * 1024 {
        doc.push_str(item);
    }
    doc.push_str("{}]}}");
    fs::write(dir.join("results.json"), &doc).unwrap();
    let t = Instant::now();
    let summary = rift_web::read_summary(&dir, "big".into(), "20260101T000000.000".into());
    println!("summary of a 20 MiB results.json: {:?}", t.elapsed());
    assert_eq!(summary.verdict, Verdict::Invalid);
    assert_eq!(summary.note, None);
    let app = router(store.path().to_path_buf());
    let html = text(&get(&app, "/run/big/20260101T000000.000").await.2);
    assert!(html.contains("results.json is 20.0 MiB, too large to show here"));
    assert!(html.contains("href=\"/files/big/20260101T000000.000/results.json\">open it raw</a>"));
}
