//! Just enough of the S3 API for the storage role: create the bucket, put, get and list
//! objects, over plain HTTP/1.1 with AWS Signature Version 4 (path-style addressing, as
//! Bufstream's `force_path_style: true`). The storage db creates the bucket with it, and the
//! tests prove the bucket is writable through the same API Bufstream uses.

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use std::fmt::Write as _;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// An S3 endpoint and its credentials.
#[derive(Clone, Debug)]
pub struct S3 {
    /// `host:port` of the server.
    pub endpoint: String,
    /// Access key id.
    pub access_key: String,
    /// Secret access key.
    pub secret_key: String,
    /// Region signed into requests (`us-east-1`, as the seed's bufstream.yaml).
    pub region: String,
    /// How long one request may take.
    pub timeout: Duration,
}

pub use rift_suite::http::Response;

fn hex(bytes: &[u8]) -> String {
    bytes.iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

fn sha256_hex(data: &[u8]) -> String {
    hex(&Sha256::digest(data))
}

fn hmac(key: &[u8], data: &[u8]) -> Vec<u8> {
    let mut m = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes any key length");
    m.update(data);
    m.finalize().into_bytes().to_vec()
}

/// RFC 3986 encoding as SigV4 wants it (`/` kept in paths when `keep_slash`).
fn uri_encode(s: &str, keep_slash: bool) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            b'/' if keep_slash => out.push('/'),
            _ => {
                let _ = write!(out, "%{b:02X}");
            }
        }
    }
    out
}

/// `YYYYMMDDTHHMMSSZ` and `YYYYMMDD` of a time (UTC).
fn amz_dates(t: SystemTime) -> (String, String) {
    let secs = t
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0) as i64;
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    // Civil date from days since the epoch (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    let date = format!("{y:04}{m:02}{d:02}");
    let stamp = format!(
        "{date}T{:02}{:02}{:02}Z",
        rem / 3600,
        (rem % 3600) / 60,
        rem % 60
    );
    (stamp, date)
}

impl S3 {
    /// The signed headers of a request (`host`, `x-amz-content-sha256`, `x-amz-date`,
    /// `authorization`).
    fn sign(
        &self,
        method: &str,
        path: &str,
        query: &[(&str, &str)],
        body: &[u8],
        now: SystemTime,
    ) -> Vec<(String, String)> {
        let (stamp, date) = amz_dates(now);
        let payload = sha256_hex(body);
        let mut q: Vec<(String, String)> = query
            .iter()
            .map(|(k, v)| (uri_encode(k, false), uri_encode(v, false)))
            .collect();
        q.sort();
        let canonical_query = q
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("&");
        let canonical = format!(
            "{method}\n{}\n{canonical_query}\nhost:{}\nx-amz-content-sha256:{payload}\nx-amz-date:{stamp}\n\nhost;x-amz-content-sha256;x-amz-date\n{payload}",
            uri_encode(path, true),
            self.endpoint
        );
        let scope = format!("{date}/{}/s3/aws4_request", self.region);
        let to_sign = format!(
            "AWS4-HMAC-SHA256\n{stamp}\n{scope}\n{}",
            sha256_hex(canonical.as_bytes())
        );
        let k = hmac(
            format!("AWS4{}", self.secret_key).as_bytes(),
            date.as_bytes(),
        );
        let k = hmac(&k, self.region.as_bytes());
        let k = hmac(&k, b"s3");
        let k = hmac(&k, b"aws4_request");
        let sig = hex(&hmac(&k, to_sign.as_bytes()));
        vec![
            ("host".into(), self.endpoint.clone()),
            ("x-amz-content-sha256".into(), payload),
            ("x-amz-date".into(), stamp),
            (
                "authorization".into(),
                format!(
                    "AWS4-HMAC-SHA256 Credential={}/{scope}, SignedHeaders=host;x-amz-content-sha256;x-amz-date, Signature={sig}",
                    self.access_key
                ),
            ),
        ]
    }

    /// Sends one signed request and reads its response, within the endpoint's timeout.
    pub async fn request(
        &self,
        method: &str,
        path: &str,
        query: &[(&str, &str)],
        body: &[u8],
    ) -> Result<Response, String> {
        let mut target = uri_encode(path, true);
        if !query.is_empty() {
            target.push('?');
            target.push_str(
                &query
                    .iter()
                    .map(|(k, v)| format!("{}={}", uri_encode(k, false), uri_encode(v, false)))
                    .collect::<Vec<_>>()
                    .join("&"),
            );
        }
        let headers = self.sign(method, path, query, body, SystemTime::now());
        rift_suite::http::request(
            &self.endpoint,
            method,
            &target,
            &headers,
            body,
            self.timeout,
        )
        .await
        .map_err(|e| format!("S3 {e}"))
    }

    /// Creates `bucket`; one that exists already is fine (on these one-tenant servers it is
    /// ours: s3s-fs answers `BucketAlreadyExists`, MinIO `BucketAlreadyOwnedByYou`; setup
    /// retries a create whose answer was lost).
    pub async fn create_bucket(&self, bucket: &str) -> Result<(), String> {
        let r = self.request("PUT", &format!("/{bucket}"), &[], b"").await?;
        let text = r.text();
        if r.status == 409
            && (text.contains("BucketAlreadyOwnedByYou") || text.contains("BucketAlreadyExists"))
        {
            return Ok(());
        }
        r.ok(&format!("creating bucket {bucket}")).map(|_| ())
    }

    /// Puts an object.
    pub async fn put(&self, bucket: &str, key: &str, data: &[u8]) -> Result<(), String> {
        self.request("PUT", &format!("/{bucket}/{key}"), &[], data)
            .await?
            .ok(&format!("putting {bucket}/{key}"))
            .map(|_| ())
    }

    /// Gets an object.
    pub async fn get(&self, bucket: &str, key: &str) -> Result<Vec<u8>, String> {
        self.request("GET", &format!("/{bucket}/{key}"), &[], b"")
            .await?
            .ok(&format!("getting {bucket}/{key}"))
            .map(|r| r.body)
    }

    /// Deletes an object.
    pub async fn delete(&self, bucket: &str, key: &str) -> Result<(), String> {
        self.request("DELETE", &format!("/{bucket}/{key}"), &[], b"")
            .await?
            .ok(&format!("deleting {bucket}/{key}"))
            .map(|_| ())
    }

    /// The keys under `prefix` (ListObjectsV2, first page).
    pub async fn list(&self, bucket: &str, prefix: &str) -> Result<Vec<String>, String> {
        let r = self
            .request(
                "GET",
                &format!("/{bucket}"),
                &[("list-type", "2"), ("prefix", prefix)],
                b"",
            )
            .await?
            .ok(&format!("listing {bucket}/{prefix}"))?;
        let text = r.text();
        Ok(text
            .split("<Key>")
            .skip(1)
            .filter_map(|s| s.split("</Key>").next())
            .map(str::to_string)
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_matches_awss_documented_example() {
        // The GET Object example of AWS's SigV4 documentation for S3 ("Example: GET
        // Object"), with its documented signature.
        let s3 = S3 {
            endpoint: "examplebucket.s3.amazonaws.com".into(),
            access_key: "AKIAIOSFODNN7EXAMPLE".into(),
            secret_key: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY".into(),
            region: "us-east-1".into(),
            timeout: Duration::from_secs(1),
        };
        let t = UNIX_EPOCH + Duration::from_secs(1_369_353_600); // 2013-05-24T00:00:00Z
        assert_eq!(amz_dates(t).0, "20130524T000000Z");
        let h = s3.sign("GET", "/test.txt", &[], b"", t);
        let auth = &h.iter().find(|(k, _)| k == "authorization").unwrap().1;
        // AWS's example signs a Range header too; without it, this signature is ours, and the
        // canonical form is checked piece by piece below.
        assert!(auth.starts_with(
            "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, SignedHeaders=host;x-amz-content-sha256;x-amz-date, Signature="
        ));
        assert_eq!(
            h.iter()
                .find(|(k, _)| k == "x-amz-content-sha256")
                .unwrap()
                .1,
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        // The signing key derivation of AWS's documentation (its "Deriving the signing key"
        // example: secret wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY, 20120215, us-east-1, iam).
        let k = hmac(b"AWS4wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", b"20120215");
        let k = hmac(&k, b"us-east-1");
        let k = hmac(&k, b"iam");
        let k = hmac(&k, b"aws4_request");
        assert_eq!(
            hex(&k),
            "f4780e2d9f65fa895f9c67b32ce1baf0b0d8a43505a000a1a9e090d414db404d"
        );
    }

    #[test]
    fn encoding() {
        assert_eq!(uri_encode("a b/c~d", true), "a%20b/c~d");
        assert_eq!(uri_encode("a/b", false), "a%2Fb");
        assert_eq!(amz_dates(UNIX_EPOCH).1, "19700101");
    }
}
