//! The storage role's S3 calls against a real s3s-fs (built once into rift's cache; the test
//! prints why it skips when it cannot be built): the bucket is created, objects are written,
//! read, listed and deleted through SigV4-signed requests, and a server that refuses our
//! credentials is an error that says so.

use rift_bufstream_suite::s3::S3;
use rift_bufstream_suite::store::{ensure_s3s_fs, ACCESS_KEY, BUCKET, SECRET_KEY};
use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Whether something on `port` answers a plain HTTP request with a status line.
fn answers_http(port: u16) -> bool {
    use std::io::{Read, Write};
    let Ok(mut c) = std::net::TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = c.set_read_timeout(Some(Duration::from_secs(1)));
    if c.write_all(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        .is_err()
    {
        return false;
    }
    let mut head = [0u8; 8];
    c.read_exact(&mut head).is_ok() && head.starts_with(b"HTTP/1.")
}

/// s3s-fs on 127.0.0.1 with `access`/`secret`, serving `dir`.
fn serve(dir: &std::path::Path, access: &str, secret: &str) -> Option<(Server, u16)> {
    let bin = match ensure_s3s_fs(&rift_control::cache_dir()) {
        Ok(b) => b,
        Err(e) => {
            println!("skipped: s3s-fs could not be had: {e}");
            return None;
        }
    };
    let port = free_port();
    let child = Command::new(bin)
        .args(["--host", "127.0.0.1", "--port", &port.to_string()])
        .args(["--access-key", access, "--secret-key", secret])
        .arg(dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let server = Server(child);
    // Up when it answers HTTP, not only when it accepts a connection (a connection taken
    // before its server loop runs can be reset).
    for _ in 0..100 {
        if answers_http(port) {
            return Some((server, port));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("s3s-fs did not listen on {port}");
}

fn client(port: u16, access: &str, secret: &str) -> S3 {
    S3 {
        endpoint: format!("127.0.0.1:{port}"),
        access_key: access.into(),
        secret_key: secret.into(),
        region: "us-east-1".into(),
        timeout: Duration::from_secs(10),
    }
}

#[tokio::test]
async fn bucket_objects_round_trip_through_signed_requests() {
    let dir = tempfile::tempdir().unwrap();
    let Some((_server, port)) = serve(dir.path(), ACCESS_KEY, SECRET_KEY) else {
        return;
    };
    let s3 = client(port, ACCESS_KEY, SECRET_KEY);
    s3.create_bucket(BUCKET).await.unwrap();
    // Creating it again is fine (a retried create).
    s3.create_bucket(BUCKET).await.unwrap();
    s3.put(BUCKET, "rift/probe one", b"hello").await.unwrap();
    s3.put(BUCKET, "rift/two", b"").await.unwrap();
    assert_eq!(s3.get(BUCKET, "rift/probe one").await.unwrap(), b"hello");
    let keys = s3.list(BUCKET, "rift/").await.unwrap();
    assert_eq!(keys, ["rift/probe one", "rift/two"]);
    s3.delete(BUCKET, "rift/two").await.unwrap();
    assert_eq!(s3.list(BUCKET, "rift/").await.unwrap(), ["rift/probe one"]);
    let missing = s3.get(BUCKET, "rift/none").await.unwrap_err();
    assert!(missing.contains("HTTP 404"), "{missing}");
    // The bucket is a directory of the server's root: what bucket.tar.bz2 archives.
    assert!(dir.path().join(BUCKET).join("rift").is_dir());
}

#[tokio::test]
async fn a_server_that_refuses_our_credentials_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let Some((_server, port)) = serve(dir.path(), "someone-else", "another-secret") else {
        return;
    };
    let s3 = client(port, ACCESS_KEY, SECRET_KEY);
    let e = s3.create_bucket(BUCKET).await.unwrap_err();
    assert!(e.starts_with("creating bucket jbucket: HTTP 403"), "{e}");
    // A wrong secret with the right key id: the signature does not match.
    let s3 = client(port, "someone-else", "wrong");
    let e = s3.create_bucket(BUCKET).await.unwrap_err();
    assert!(e.contains("HTTP 403"), "{e}");
    // Nothing listens: the error names the endpoint.
    let s3 = client(free_port(), ACCESS_KEY, SECRET_KEY);
    let e = s3.put(BUCKET, "k", b"v").await.unwrap_err();
    assert!(e.contains("127.0.0.1:") && e.contains("refused"), "{e}");
}
