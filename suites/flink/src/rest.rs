//! Flink's REST API, as the suite uses it: the jobs and their tasks' states, cancellation,
//! and submitting a jar. Every JobManager serves the API (a standby's handlers reach the
//! leading Dispatcher over RPC, measured here with Flink 2.2.1), so a call goes to the
//! JobManager that answered last and then to the others in turn; only when none answers is
//! the call an error. A call that got an HTTP answer (even an error status) is not retried
//! elsewhere: that answer is Flink's.

use rift_suite::http::{self, Response};
use serde_json::Value as Json;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

/// The REST endpoints of the JobManagers (`host:port`).
pub struct Rest {
    endpoints: Vec<String>,
    /// The endpoint that answered last.
    last: AtomicUsize,
    /// One HTTP call's timeout.
    pub timeout: Duration,
}

/// What a job's detail says about its tasks.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum JobState {
    /// Flink does not know the job (404): the seed's "not running".
    Missing,
    /// The job's state and whether every vertex (task) is RUNNING.
    Known {
        /// The job's state (`RUNNING`, `RESTARTING`, ...).
        state: String,
        /// Every vertex's status is RUNNING (the seed's definition of a running job).
        all_tasks_running: bool,
    },
}

impl JobState {
    /// The seed's `job-running?`.
    pub fn running(&self) -> bool {
        matches!(
            self,
            JobState::Known {
                all_tasks_running: true,
                ..
            }
        )
    }
}

/// The seed's reading of `GET /jobs/<id>`: running when every vertex is RUNNING; a detail
/// without vertices is an error (the seed asserts they are there).
pub fn parse_job_detail(body: &[u8]) -> Result<JobState, String> {
    let v: Json = serde_json::from_slice(body).map_err(|e| format!("job detail: {e}"))?;
    let vertices = v
        .get("vertices")
        .and_then(Json::as_array)
        .ok_or("job detail has no vertices")?;
    let state = v
        .get("state")
        .and_then(Json::as_str)
        .unwrap_or("")
        .to_string();
    let all = !vertices.is_empty()
        && vertices
            .iter()
            .all(|x| x.get("status").and_then(Json::as_str) == Some("RUNNING"));
    Ok(JobState::Known {
        state,
        all_tasks_running: all,
    })
}

/// The job ids of `GET /jobs/overview` or `GET /jobs` (`jid` or `id`).
pub fn parse_job_ids(body: &[u8]) -> Result<Vec<String>, String> {
    let v: Json = serde_json::from_slice(body).map_err(|e| format!("jobs: {e}"))?;
    let jobs = v
        .get("jobs")
        .and_then(Json::as_array)
        .ok_or("no \"jobs\" in the answer")?;
    Ok(jobs
        .iter()
        .filter_map(|j| j.get("jid").or_else(|| j.get("id")).and_then(Json::as_str))
        .map(str::to_string)
        .collect())
}

/// The `errors` of a failed call, joined; else the body's start.
pub fn flink_errors(r: &Response) -> String {
    let parsed: Option<Vec<String>> = serde_json::from_slice::<Json>(&r.body).ok().and_then(|v| {
        v.get("errors").and_then(Json::as_array).map(|a| {
            a.iter()
                .map(|e| e.as_str().map_or_else(|| e.to_string(), str::to_string))
                .collect()
        })
    });
    match parsed {
        Some(errs) if !errs.is_empty() => {
            // Flink puts whole Java stack traces in its errors: keep each exception's line
            // and its causes', not the frames.
            let text = errs.join("\n");
            let mut lines: Vec<&str> = Vec::new();
            for (i, l) in text.lines().enumerate() {
                let t = l.trim_start();
                let frame = t.starts_with("at ") || (t.starts_with("...") && t.ends_with("more"));
                if (i == 0 || !frame) && !t.is_empty() && !lines.contains(&l) && lines.len() < 12 {
                    lines.push(l);
                }
            }
            format!("HTTP {}: {}", r.status, lines.join("\n"))
        }
        _ => format!(
            "HTTP {}: {}",
            r.status,
            r.text().chars().take(400).collect::<String>()
        ),
    }
}

impl Rest {
    /// The API at these endpoints.
    pub fn new(endpoints: Vec<String>) -> Rest {
        Rest {
            endpoints,
            last: AtomicUsize::new(0),
            timeout: Duration::from_secs(5),
        }
    }

    /// The endpoints.
    pub fn endpoints(&self) -> &[String] {
        &self.endpoints
    }

    /// One call, to the endpoint that answered last, then to the others; the first HTTP
    /// answer is returned. All unreachable: the errors of each.
    pub async fn call(
        &self,
        method: &str,
        target: &str,
        headers: &[(String, String)],
        body: &[u8],
    ) -> Result<(String, Response), String> {
        let n = self.endpoints.len();
        if n == 0 {
            return Err("no JobManager to ask".into());
        }
        let first = self.last.load(Ordering::Relaxed) % n;
        let mut errors = Vec::new();
        for k in 0..n {
            let i = (first + k) % n;
            let ep = &self.endpoints[i];
            match http::request(ep, method, target, headers, body, self.timeout).await {
                Ok(r) => {
                    self.last.store(i, Ordering::Relaxed);
                    return Ok((ep.clone(), r));
                }
                Err(e) => errors.push(e),
            }
        }
        Err(errors.join("; "))
    }

    async fn get(&self, target: &str) -> Result<Response, String> {
        self.call("GET", target, &[], b"").await.map(|(_, r)| r)
    }

    /// The ids of the jobs the cluster knows.
    pub async fn list_jobs(&self) -> Result<Vec<String>, String> {
        let r = self.get("/jobs/overview").await?;
        if !r.success() {
            return Err(format!("GET /jobs/overview: {}", flink_errors(&r)));
        }
        parse_job_ids(&r.body)
    }

    /// The seed's `job-running?` for one job.
    pub async fn job_state(&self, id: &str) -> Result<JobState, String> {
        let r = self.get(&format!("/jobs/{id}")).await?;
        if r.status == 404 {
            return Ok(JobState::Missing);
        }
        if !r.success() {
            return Err(format!(
                "could not determine if job {id} is running: {}",
                flink_errors(&r)
            ));
        }
        parse_job_detail(&r.body)
    }

    /// The seed's `jobs-running?`: job id -> running.
    pub async fn jobs_running(&self, ids: &[String]) -> Result<BTreeMap<String, bool>, String> {
        let mut out = BTreeMap::new();
        for id in ids {
            out.insert(id.clone(), self.job_state(id).await?.running());
        }
        Ok(out)
    }

    /// Cancels a job: true when Flink accepted it, false when it does not know the job.
    pub async fn cancel(&self, id: &str) -> Result<bool, String> {
        let (_, r) = self
            .call("PATCH", &format!("/jobs/{id}?mode=cancel"), &[], b"")
            .await?;
        if r.status == 404 {
            return Ok(false);
        }
        if !r.success() {
            return Err(format!("cancelling job {id}: {}", flink_errors(&r)));
        }
        Ok(true)
    }

    /// Uploads `jar` and runs it (`entry_class`, `args`, `parallelism`) on the JobManager
    /// that took the upload (an uploaded jar lives on that JobManager only); returns the
    /// job id, or Flink's answer.
    pub async fn submit(
        &self,
        jar_name: &str,
        jar: &[u8],
        entry_class: Option<&str>,
        args: &[String],
        parallelism: Option<u32>,
    ) -> Result<String, String> {
        let (ct, body) =
            http::multipart_file("jarfile", jar_name, "application/x-java-archive", jar);
        let headers = [("content-type".to_string(), ct)];
        let (ep, r) = self.call("POST", "/jars/upload", &headers, &body).await?;
        if !r.success() {
            return Err(format!(
                "uploading {jar_name} to {ep}: {}",
                flink_errors(&r)
            ));
        }
        let v: Json = serde_json::from_slice(&r.body).map_err(|e| format!("upload answer: {e}"))?;
        let file = v
            .get("filename")
            .and_then(Json::as_str)
            .ok_or_else(|| format!("upload answer has no filename: {}", r.text()))?;
        let jar_id = file.rsplit('/').next().unwrap_or(file).to_string();
        let mut req = serde_json::Map::new();
        if let Some(c) = entry_class {
            req.insert("entryClass".into(), c.into());
        }
        req.insert("programArgsList".into(), args.to_vec().into());
        if let Some(p) = parallelism {
            req.insert("parallelism".into(), p.into());
        }
        let body = Json::Object(req).to_string();
        let headers = [("content-type".to_string(), "application/json".to_string())];
        let target = format!("/jars/{jar_id}/run");
        let r = http::request(
            &ep,
            "POST",
            &target,
            &headers,
            body.as_bytes(),
            Duration::from_secs(120),
        )
        .await?;
        if !r.success() {
            return Err(format!("running {jar_name} on {ep}: {}", flink_errors(&r)));
        }
        let v: Json = serde_json::from_slice(&r.body).map_err(|e| format!("run answer: {e}"))?;
        v.get("jobid")
            .and_then(Json::as_str)
            .map(str::to_string)
            .ok_or_else(|| format!("run answer has no jobid: {}", r.text()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Answers recorded from Flink 2.2.1's REST API on this machine (trimmed).
    const DETAIL: &str = r#"{"jid":"2380a8135f223fa4e155046daa6fc82d","name":"rift-stateful","state":"RUNNING","vertices":[{"id":"bc76","name":"Source: generator","parallelism":2,"status":"RUNNING"},{"id":"20ba","name":"count","parallelism":2,"status":"RUNNING"}]}"#;
    const OVERVIEW: &str = r#"{"jobs":[{"jid":"2380a8135f223fa4e155046daa6fc82d","name":"rift-stateful","state":"RUNNING","tasks":{"running":4,"total":4}}]}"#;

    #[test]
    fn a_job_runs_when_every_vertex_does() {
        let s = parse_job_detail(DETAIL.as_bytes()).unwrap();
        assert!(s.running());
        let restarting =
            DETAIL.replacen("\"status\":\"RUNNING\"", "\"status\":\"INITIALIZING\"", 1);
        let s = parse_job_detail(restarting.as_bytes()).unwrap();
        assert!(!s.running());
        assert!(parse_job_detail(br#"{"state":"RUNNING"}"#)
            .unwrap_err()
            .contains("no vertices"));
        assert!(!JobState::Missing.running());
        assert_eq!(
            parse_job_ids(OVERVIEW.as_bytes()).unwrap(),
            ["2380a8135f223fa4e155046daa6fc82d"]
        );
    }

    #[test]
    fn flink_errors_show_the_first_lines_of_its_answer() {
        let r = Response {
            status: 400,
            body: br#"{"errors":["org.apache.flink.runtime.rest.handler.RestHandlerException: Could not execute application.\n\tat a.b(C.java:1)\n\t... 1 more\nCaused by: org.apache.flink.client.program.ProgramInvocationException: The main method caused an error: boom\n\tat d.e(F.java:2)"]}"#.to_vec(),
        };
        let e = flink_errors(&r);
        assert!(!e.contains("C.java") && !e.contains("more"), "{e}");
        assert!(e.contains("\nCaused by: org.apache.flink.client.program.ProgramInvocationException: The main method caused an error: boom"), "{e}");
        assert!(
            e.starts_with("HTTP 400: org.apache.flink.runtime.rest.handler.RestHandlerException"),
            "{e}"
        );
        let r = Response {
            status: 502,
            body: b"bad gateway".to_vec(),
        };
        assert_eq!(flink_errors(&r), "HTTP 502: bad gateway");
    }
}
