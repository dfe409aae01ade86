//! Just enough HTTP/1.1 for the suites' control calls (an S3 store, Flink's REST API): one
//! request per connection (`connection: close`), bodies by `Content-Length`, chunked or to
//! the end. No TLS, no redirects, no keep-alive: these calls are few and go to nodes on the
//! test's own network, and a fresh connection per call is what a fault should see.

use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// A response: status code and body.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Response {
    /// HTTP status.
    pub status: u16,
    /// Body bytes.
    pub body: Vec<u8>,
}

impl Response {
    /// The body as text (lossy).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// Whether the status is 2xx.
    pub fn success(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// The response when it is 2xx, else an error `<what>: HTTP <status>: <body's start>`.
    pub fn ok(self, what: &str) -> Result<Response, String> {
        if self.success() {
            Ok(self)
        } else {
            Err(format!(
                "{what}: HTTP {}: {}",
                self.status,
                self.text().chars().take(300).collect::<String>()
            ))
        }
    }
}

/// Sends `method target` to `endpoint` (`host:port`) with `headers` (a `host`,
/// `content-length` and `connection: close` are added) and `body`, and reads the whole
/// response, all within `timeout`. Errors name the method, the target and the endpoint.
pub async fn request(
    endpoint: &str,
    method: &str,
    target: &str,
    headers: &[(String, String)],
    body: &[u8],
    timeout: Duration,
) -> Result<Response, String> {
    let what = || format!("{method} {target} at {endpoint}");
    tokio::time::timeout(timeout, async {
        let at = |e: std::io::Error| format!("{}: {e}", what());
        let mut conn = TcpStream::connect(endpoint).await.map_err(at)?;
        let mut head = format!("{method} {target} HTTP/1.1\r\n");
        if !headers.iter().any(|(k, _)| k.eq_ignore_ascii_case("host")) {
            head.push_str(&format!("host: {endpoint}\r\n"));
        }
        for (k, v) in headers {
            head.push_str(&format!("{k}: {v}\r\n"));
        }
        head.push_str(&format!(
            "content-length: {}\r\nconnection: close\r\n\r\n",
            body.len()
        ));
        conn.write_all(head.as_bytes()).await.map_err(at)?;
        conn.write_all(body).await.map_err(at)?;
        let mut raw = Vec::new();
        conn.read_to_end(&mut raw).await.map_err(at)?;
        parse_response(&raw).ok_or_else(|| {
            format!(
                "{}: not an HTTP response: {:?}",
                what(),
                String::from_utf8_lossy(&raw[..raw.len().min(200)])
            )
        })
    })
    .await
    .map_err(|_| format!("{}: no answer in {timeout:?}", what()))?
}

/// Status and body of a raw HTTP/1.1 response (`Content-Length`, chunked, or to the end).
pub fn parse_response(raw: &[u8]) -> Option<Response> {
    let end = raw.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = std::str::from_utf8(&raw[..end]).ok()?;
    let mut lines = head.split("\r\n");
    let status: u16 = lines.next()?.split_whitespace().nth(1)?.parse().ok()?;
    let rest = &raw[end + 4..];
    let mut chunked = false;
    let mut length = None;
    for l in lines {
        let l = l.to_ascii_lowercase();
        if l.starts_with("transfer-encoding:") && l.contains("chunked") {
            chunked = true;
        }
        if let Some(v) = l.strip_prefix("content-length:") {
            length = v.trim().parse::<usize>().ok();
        }
    }
    let body = if chunked {
        let mut out = Vec::new();
        let mut at = rest;
        loop {
            let nl = at.windows(2).position(|w| w == b"\r\n")?;
            let size_text = std::str::from_utf8(&at[..nl]).ok()?;
            let size = usize::from_str_radix(size_text.split(';').next()?.trim(), 16).ok()?;
            at = &at[nl + 2..];
            if size == 0 {
                break;
            }
            out.extend_from_slice(at.get(..size)?);
            at = at.get(size + 2..)?;
        }
        out
    } else {
        match length {
            Some(n) => rest.get(..n)?.to_vec(),
            None => rest.to_vec(),
        }
    };
    Some(Response { status, body })
}

/// A `multipart/form-data` body with one file field: (content type header value, body).
pub fn multipart_file(
    field: &str,
    file_name: &str,
    content_type: &str,
    data: &[u8],
) -> (String, Vec<u8>) {
    let boundary = "rift-multipart-boundary-7f3a9c";
    let mut body = format!(
        "--{boundary}\r\ncontent-disposition: form-data; name=\"{field}\"; filename=\"{file_name}\"\r\ncontent-type: {content_type}\r\n\r\n"
    )
    .into_bytes();
    body.extend_from_slice(data);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn responses_parse_by_length_chunks_or_end() {
        let r = parse_response(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi").unwrap();
        assert_eq!((r.status, r.text().as_str()), (200, "hi"));
        assert!(r.success());
        let r = parse_response(
            b"HTTP/1.1 404 Not Found\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n",
        )
        .unwrap();
        assert_eq!((r.status, r.text().as_str()), (404, "abcde"));
        assert!(r
            .clone()
            .ok("getting x")
            .unwrap_err()
            .contains("HTTP 404: abcde"));
        let r = parse_response(b"HTTP/1.0 503 Busy\r\n\r\nlater").unwrap();
        assert_eq!((r.status, r.text().as_str()), (503, "later"));
        // A body cut short of its length is not a response.
        assert!(parse_response(b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nhi").is_none());
        assert!(parse_response(b"garbage").is_none());
    }

    #[test]
    fn multipart_carries_the_file_between_boundaries() {
        let (ct, body) =
            multipart_file("jarfile", "job.jar", "application/java-archive", b"PK\x03");
        let b = ct.split("boundary=").nth(1).unwrap();
        let text = String::from_utf8_lossy(&body);
        assert!(text.starts_with(&format!("--{b}\r\n")));
        assert!(text.contains("name=\"jarfile\"; filename=\"job.jar\""));
        assert!(text.ends_with(&format!("PK\u{3}\r\n--{b}--\r\n")));
    }

    #[tokio::test]
    async fn a_refused_connection_names_the_call() {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap().to_string();
        drop(l);
        let e = request(&addr, "GET", "/jobs", &[], b"", Duration::from_secs(2))
            .await
            .unwrap_err();
        assert!(e.starts_with(&format!("GET /jobs at {addr}: ")), "{e}");
    }
}
