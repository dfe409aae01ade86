//! The seed's client: it submits the jobs once, then polls whether they run and cancels
//! them, through the REST API of whichever JobManager answers.
//!
//! How each outcome is recorded, and why:
//!
//! | op | outcome | recorded |
//! |---|---|---|
//! | `jobs-running?` | every job's detail read (3 tries, 1 s apart) | `ok`, `{job-id running?}` |
//! | `jobs-running?` | Flink does not know a job (404) | `ok`, that job `false` (the seed's) |
//! | `jobs-running?` | no JobManager answers, or an HTTP error, 3 times | `fail` with the error: a poll changes nothing, and the seed records a failed poll so |
//! | `cancel-jobs` | every job cancelled or unknown to Flink | `ok` |
//! | `cancel-jobs` | still failing after 30 s of retries | `info` with the error: a cancellation that got no answer may have reached the leader (the seed exits instead) |
//!
//! Submitting the jobs happens in the client's setup, before the history starts: a job that
//! Flink refuses fails the run with Flink's answer.

use crate::rest::Rest;
use async_trait::async_trait;
use rift_core::{Client, PlugResult, RiftError, TestInfo};
use rift_history::{Op, OpType, Value};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// One job to submit: the seed's `{:job-jar :job-args :main-class}`.
#[derive(Clone, Debug, PartialEq)]
pub struct JobSpec {
    /// The jar on this machine.
    pub jar: PathBuf,
    /// Its arguments.
    pub args: Vec<String>,
    /// The entry class (None: the jar manifest's).
    pub main_class: Option<String>,
}

/// How long submitting may keep failing before the run fails (the seed retries too: the
/// cluster may still be electing its leader).
pub const SUBMIT_DEADLINE: Duration = Duration::from_secs(120);
/// Tries of one poll (the seed's `:retries 3`).
pub const POLL_TRIES: u32 = 3;
/// How long a cancellation is retried.
pub const CANCEL_DEADLINE: Duration = Duration::from_secs(30);

struct Shared {
    rest: Rest,
    jobs: Vec<JobSpec>,
    ids: tokio::sync::Mutex<Option<Vec<String>>>,
}

/// See the module documentation.
#[derive(Clone)]
pub struct FlinkClient {
    shared: Arc<Shared>,
}

impl FlinkClient {
    /// A client of the JobManagers at `endpoints` that submits `jobs`.
    pub fn new(endpoints: Vec<String>, jobs: Vec<JobSpec>) -> FlinkClient {
        FlinkClient {
            shared: Arc::new(Shared {
                rest: Rest::new(endpoints),
                jobs,
                ids: tokio::sync::Mutex::new(None),
            }),
        }
    }

    /// The job ids, once submitted.
    pub async fn job_ids(&self) -> Option<Vec<String>> {
        self.shared.ids.lock().await.clone()
    }

    async fn submit_all(&self) -> Result<Vec<String>, String> {
        let rest = &self.shared.rest;
        for job in &self.shared.jobs {
            let name = job
                .jar
                .file_name()
                .map_or_else(|| "job.jar".into(), |n| n.to_string_lossy().into_owned());
            let bytes = std::fs::read(&job.jar)
                .map_err(|e| format!("job jar {}: {e}", job.jar.display()))?;
            let started = Instant::now();
            loop {
                match rest
                    .submit(&name, &bytes, job.main_class.as_deref(), &job.args, None)
                    .await
                {
                    Ok(id) => {
                        tracing::info!(job = %id, jar = %name, "submitted");
                        break;
                    }
                    // Flink answered and refused the job: that is final.
                    Err(e) if e.contains("HTTP 4") || e.contains("main method caused an error") => {
                        return Err(format!("Flink refused the job {name}: {e}"))
                    }
                    Err(e) if started.elapsed() > SUBMIT_DEADLINE => {
                        return Err(format!(
                            "could not submit {name} within {SUBMIT_DEADLINE:?}: {e}"
                        ))
                    }
                    Err(e) => {
                        tracing::info!("submitting {name} failed, retrying: {e}");
                        tokio::time::sleep(Duration::from_secs(2)).await;
                    }
                }
            }
        }
        let ids = rest.list_jobs().await?;
        if ids.is_empty() {
            return Err("Flink lists no jobs after their submission".into());
        }
        Ok(ids)
    }

    async fn poll(&self, ids: &[String]) -> Result<Value, String> {
        let mut last = String::new();
        for i in 0..POLL_TRIES {
            if i > 0 {
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
            match self.shared.rest.jobs_running(ids).await {
                Ok(m) => {
                    return Ok(Value::Map(
                        m.into_iter()
                            .map(|(k, v)| (Value::str(&k), Value::Bool(v)))
                            .collect(),
                    ))
                }
                Err(e) => last = e,
            }
        }
        Err(last)
    }

    async fn cancel(&self, ids: &[String]) -> Result<(), String> {
        let started = Instant::now();
        for id in ids {
            loop {
                match self.shared.rest.cancel(id).await {
                    Ok(_) => break,
                    Err(e) if started.elapsed() > CANCEL_DEADLINE => return Err(e),
                    Err(_) => tokio::time::sleep(Duration::from_secs(1)).await,
                }
            }
        }
        Ok(())
    }
}

fn rift(e: String) -> RiftError {
    RiftError::new("flink", e)
}

#[async_trait]
impl Client for FlinkClient {
    async fn open(&self, _test: &TestInfo, _node: &str) -> PlugResult<Box<dyn Client>> {
        Ok(Box::new(self.clone()))
    }

    async fn setup(&mut self, _test: &TestInfo) -> PlugResult<()> {
        let mut ids = self.shared.ids.lock().await;
        if ids.is_none() {
            *ids = Some(self.submit_all().await.map_err(rift)?);
        }
        Ok(())
    }

    async fn invoke(&mut self, _test: &TestInfo, op: &Op) -> PlugResult<Op> {
        let ids = self.shared.ids.lock().await.clone().unwrap_or_default();
        match op.f_name() {
            "jobs-running?" => Ok(match self.poll(&ids).await {
                Ok(v) => op.complete(OpType::Ok, v),
                Err(e) => op
                    .complete(OpType::Fail, Value::Nil)
                    .with_error(Value::str(&e)),
            }),
            "cancel-jobs" => Ok(match self.cancel(&ids).await {
                Ok(()) => op.complete(OpType::Ok, Value::Nil),
                Err(e) => op
                    .complete(OpType::Info, Value::Nil)
                    .with_error(Value::str(&e)),
            }),
            other => Err(RiftError::new(
                "flink",
                format!("the Flink client has no op {other:?}"),
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    fn info() -> TestInfo {
        TestInfo {
            name: "flink-client".into(),
            nodes: vec!["n4".into()],
            concurrency: 1,
            seed: 0,
            store_dir: std::env::temp_dir(),
        }
    }

    /// A REST endpoint that answers every request with `status` and `body`.
    async fn answering(status: &'static str, body: &'static str) -> String {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap().to_string();
        tokio::spawn(async move {
            while let Ok((mut c, _)) = l.accept().await {
                let mut buf = [0u8; 4096];
                let _ = c.read(&mut buf).await;
                let r = format!(
                    "HTTP/1.1 {status}\r\ncontent-length: {}\r\n\r\n{body}",
                    body.len()
                );
                let _ = c.write_all(r.as_bytes()).await;
            }
        });
        addr
    }

    async fn with_ids(c: &FlinkClient, ids: &[&str]) {
        *c.shared.ids.lock().await = Some(ids.iter().map(|s| s.to_string()).collect());
    }

    #[tokio::test]
    async fn a_poll_no_jobmanager_answers_is_a_fail_with_the_error() {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let closed = l.local_addr().unwrap().to_string();
        drop(l);
        let mut c = FlinkClient::new(vec![closed.clone()], Vec::new());
        with_ids(&c, &["j1"]).await;
        let op = Op::invoke(0, "jobs-running?", Value::Nil);
        let done = c.invoke(&info(), &op).await.unwrap();
        assert_eq!(done.ty, OpType::Fail);
        let e = format!("{:?}", done.error);
        assert!(e.contains(&closed), "{e}");
    }

    #[tokio::test]
    async fn a_job_flink_does_not_know_is_not_running_and_errors_fail() {
        let ep = answering("404 Not Found", r#"{"errors":["Job not found"]}"#).await;
        let mut c = FlinkClient::new(vec![ep], Vec::new());
        with_ids(&c, &["j1"]).await;
        let op = Op::invoke(0, "jobs-running?", Value::Nil);
        let done = c.invoke(&info(), &op).await.unwrap();
        assert_eq!(done.ty, OpType::Ok);
        assert_eq!(
            done.value,
            Value::Map(vec![(Value::str("j1"), Value::Bool(false))])
        );
        let ep = answering("500 Internal Server Error", r#"{"errors":["boom"]}"#).await;
        let mut c = FlinkClient::new(vec![ep], Vec::new());
        with_ids(&c, &["j1"]).await;
        let done = c.invoke(&info(), &op).await.unwrap();
        assert_eq!(done.ty, OpType::Fail);
        assert!(format!("{:?}", done.error).contains("HTTP 500: boom"));
        // An op the client does not know is an error (recorded info by the runner).
        let bad = Op::invoke(0, "write", Value::Nil);
        assert!(c.invoke(&info(), &bad).await.is_err());
    }
}
