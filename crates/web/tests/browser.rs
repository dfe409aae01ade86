//! End to end in headless Chromium, driven through chromedriver's WebDriver protocol (JSON over
//! HTTP, a tiny client over std `TcpStream`): index -> filter box -> run page -> timeline and
//! results, with a screenshot. Skipped, with the reason printed, when Chromium is missing.

mod common;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
const CHROMIUM: &str = "/usr/bin/chromium";

/// One HTTP/1.1 request with `Connection: close`; returns status and body (chunked bodies
/// decoded).
fn http(
    addr: &str,
    method: &str,
    path: &str,
    body: Option<&Value>,
) -> std::io::Result<(u16, Vec<u8>)> {
    let mut s = TcpStream::connect(addr)?;
    s.set_read_timeout(Some(Duration::from_secs(60)))?;
    let payload = body.map(|b| b.to_string()).unwrap_or_default();
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{payload}",
        payload.len()
    )?;
    // chromedriver keeps the connection open despite `Connection: close`: read by length.
    let mut raw = Vec::new();
    let mut buf = [0u8; 16 * 1024];
    let mut split = None;
    loop {
        if split.is_none() {
            split = raw.windows(4).position(|w| w == b"\r\n\r\n");
        }
        if let Some(at) = split {
            let head = String::from_utf8_lossy(&raw[..at]).to_lowercase();
            let body = &raw[at + 4..];
            let length = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .and_then(|v| v.trim().parse::<usize>().ok());
            let done = match length {
                Some(n) => body.len() >= n,
                None if head.contains("transfer-encoding: chunked") => body.ends_with(b"0\r\n\r\n"),
                None => false,
            };
            if done {
                break;
            }
        }
        let n = s.read(&mut buf)?;
        if n == 0 {
            break;
        }
        raw.extend_from_slice(&buf[..n]);
    }
    let split = split.ok_or_else(|| std::io::Error::other("no header end"))?;
    let head = String::from_utf8_lossy(&raw[..split]).to_lowercase();
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| std::io::Error::other(format!("bad status line: {head}")))?;
    let mut body = raw[split + 4..].to_vec();
    if head.contains("transfer-encoding: chunked") {
        body = dechunk(&body);
    }
    Ok((status, body))
}

fn dechunk(mut data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(eol) = data.windows(2).position(|w| w == b"\r\n") {
        let size_text = String::from_utf8_lossy(&data[..eol]);
        let size = usize::from_str_radix(size_text.split(';').next().unwrap_or("0").trim(), 16)
            .unwrap_or(0);
        if size == 0 || data.len() < eol + 2 + size {
            break;
        }
        out.extend_from_slice(&data[eol + 2..eol + 2 + size]);
        data = &data[eol + 4 + size..];
    }
    out
}

fn b64decode(text: &str) -> Vec<u8> {
    let val = |c: u8| match c {
        b'A'..=b'Z' => Some(c - b'A'),
        b'a'..=b'z' => Some(c - b'a' + 26),
        b'0'..=b'9' => Some(c - b'0' + 52),
        b'+' => Some(62),
        b'/' => Some(63),
        _ => None,
    };
    let sextets: Vec<u8> = text.bytes().filter_map(val).collect();
    let mut out = Vec::with_capacity(sextets.len() * 3 / 4);
    for chunk in sextets.chunks(4) {
        let n =
            chunk.iter().fold(0u32, |acc, &s| (acc << 6) | u32::from(s)) << (6 * (4 - chunk.len()));
        let bytes = [(n >> 16) as u8, (n >> 8) as u8, n as u8];
        out.extend_from_slice(&bytes[..chunk.len().saturating_sub(1)]);
    }
    out
}

/// chromedriver in its own process group, with the browser session; dropping it quits the
/// session and kills the whole group, so no chromium is left behind even when a check fails.
struct Driver {
    child: Child,
    addr: String,
    session: Option<String>,
}

impl Driver {
    fn start(profile: &Path) -> Driver {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()
            .expect("chromedriver starts");
        let mut driver = Driver {
            child,
            addr: format!("127.0.0.1:{port}"),
            session: None,
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok((200, body)) = http(&driver.addr, "GET", "/status", None) {
                let v: Value = serde_json::from_slice(&body).unwrap();
                if v["value"]["ready"] == json!(true) {
                    break;
                }
            }
            assert!(
                Instant::now() < deadline,
                "chromedriver did not become ready"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        let caps = json!({"capabilities": {"alwaysMatch": {"goog:chromeOptions": {"args": [
            "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
            "--window-size=1280,1000", format!("--user-data-dir={}", profile.display())
        ]}}}});
        let v = driver.call("POST", "/session", Some(&caps));
        driver.session = Some(v["sessionId"].as_str().expect("a session id").to_string());
        driver
    }

    /// A WebDriver command; panics with the driver's message on an error status.
    fn call(&self, method: &str, path: &str, body: Option<&Value>) -> Value {
        let (status, raw) = http(&self.addr, method, path, body).expect("webdriver request");
        let v: Value = serde_json::from_slice(&raw).expect("webdriver JSON");
        assert_eq!(status, 200, "{method} {path}: {v}");
        v["value"].clone()
    }

    fn cmd(&self, method: &str, rest: &str, body: Option<&Value>) -> Value {
        let sid = self.session.as_deref().unwrap();
        self.call(method, &format!("/session/{sid}{rest}"), body)
    }

    fn goto(&self, url: &str) {
        self.cmd("POST", "/url", Some(&json!({"url": url})));
    }

    fn find(&self, css: &str) -> String {
        let v = self.cmd(
            "POST",
            "/element",
            Some(&json!({"using": "css selector", "value": css})),
        );
        // An element reference is an object with one key (W3C's element identifier).
        let id = v
            .as_object()
            .and_then(|o| o.values().next())
            .and_then(Value::as_str);
        id.unwrap_or_else(|| panic!("no element for {css}: {v}"))
            .to_string()
    }

    fn click(&self, css: &str) {
        let id = self.find(css);
        self.cmd("POST", &format!("/element/{id}/click"), Some(&json!({})));
    }

    fn script(&self, js: &str) -> Value {
        self.cmd(
            "POST",
            "/execute/sync",
            Some(&json!({"script": js, "args": []})),
        )
    }

    fn url(&self) -> String {
        self.cmd("GET", "/url", None).as_str().unwrap().to_string()
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        if let Some(sid) = self.session.take() {
            let _ = http(&self.addr, "DELETE", &format!("/session/{sid}"), None);
        }
        let _ = Command::new("kill")
            .args(["-KILL", "--", &format!("-{}", self.child.id())])
            .stderr(Stdio::null())
            .status();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Processes whose command line mentions `needle` (our unique profile directory).
fn processes_mentioning(needle: &str) -> Vec<u32> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        if let Ok(cmd) = std::fs::read(entry.path().join("cmdline")) {
            if String::from_utf8_lossy(&cmd).contains(needle) {
                out.push(pid);
            }
        }
    }
    out
}

fn start_server(store: &Path) -> String {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let listener = rt
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let addr = listener.local_addr().unwrap();
    let root = store.to_path_buf();
    std::thread::spawn(move || rt.block_on(rift_web::serve_listener(listener, root)));
    format!("http://{addr}")
}

#[test]
fn chromium_clicks_through_index_run_timeline_and_results() {
    if !Path::new(CHROMIUM).exists() || !Path::new(CHROMEDRIVER).exists() {
        println!("skipped: chromium not installed (apt-get install chromium chromium-driver)");
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let store = tmp.path().join("store");
    common::make_full_run(&store);
    for i in 0..5 {
        common::make_run(
            &store,
            "register",
            &format!("20260101T00000{i}.000"),
            Some("true"),
            Some(10),
        );
    }
    let base = start_server(&store);
    let profile = tmp.path().join("chromium-profile");
    let profile_text = profile.display().to_string();
    {
        let d = Driver::start(&profile);
        d.goto(&format!("{base}/"));
        let title = d.cmd("GET", "/title", None);
        assert_eq!(title, json!("Test runs - rift"));
        assert_eq!(
            d.script("return document.querySelectorAll('#runs tbody tr').length"),
            json!(6)
        );
        // The inline filter box hides rows as one types.
        let boxed = d.find("#filter");
        d.cmd(
            "POST",
            &format!("/element/{boxed}/value"),
            Some(&json!({"text": "bank"})),
        );
        let visible =
            "return [...document.querySelectorAll('#runs tbody tr')].filter(r => !r.hidden).length";
        assert_eq!(d.script(visible), json!(1));
        assert_eq!(
            d.script("return document.getElementById('shown').textContent"),
            json!("1")
        );
        // Index -> the bank run's page.
        d.click("tr[data-name='bank'] a.run-link");
        assert_eq!(d.url(), format!("{base}/run/bank/20260102T030405.678"));
        assert_eq!(
            d.script("return document.getElementById('verdict').textContent.trim()"),
            json!("Analysis invalid!")
        );
        let shot = d.cmd("GET", "/screenshot", None);
        let png = b64decode(shot.as_str().unwrap());
        let shot_path = tmp.path().join("run-page.png");
        std::fs::write(&shot_path, &png).unwrap();
        assert!(png.len() > 1000, "screenshot of {} bytes", png.len());
        assert_eq!(
            &std::fs::read(&shot_path).unwrap()[..8],
            b"\x89PNG\r\n\x1a\n"
        );
        // Run page -> the first failing checker's anchor in the results.
        d.click("#flagged a");
        assert!(d.url().ends_with("#r0"), "{}", d.url());
        // Run page -> timeline.
        d.click("#timeline");
        assert_eq!(
            d.url(),
            format!("{base}/files/bank/20260102T030405.678/timeline.html")
        );
        assert_eq!(
            d.script("return document.getElementById('tl').textContent"),
            json!("Timeline")
        );
        println!("screenshot: {} ({} bytes)", shot_path.display(), png.len());
    }
    // The guard killed chromedriver and its browsers: nothing with our profile is left.
    let deadline = Instant::now() + Duration::from_secs(10);
    while !processes_mentioning(&profile_text).is_empty() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(processes_mentioning(&profile_text), Vec::<u32>::new());
}

#[test]
fn base64_decoder() {
    assert_eq!(b64decode("aGVsbG8="), b"hello");
    assert_eq!(b64decode("aGk="), b"hi");
    assert_eq!(b64decode("YWJj"), b"abc");
}
