//! Worker tasks: one per client thread and one for the nemesis. Each receives actions from the
//! interpreter, performs them, and sends back completions.

use crate::spec::TestInfo;
use crate::traits::{exception_value, Client, Nemesis, RiftError};
use rift_generator::{Action, Thread};
use rift_history::{Op, OpType, Value};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;

/// What a worker sends back to the interpreter.
#[derive(Debug)]
pub(crate) struct Completion {
    /// The worker's thread.
    pub thread: Thread,
    /// The completion of an invocation; None when a sleep or log action finished.
    pub op: Option<Op>,
}

/// The completion recorded for an invocation whose client raised an error: `info` (the outcome
/// is unknown), with the error message and an `exception` map, as Jepsen records exceptions.
pub(crate) fn crashed(op: &Op, e: &RiftError) -> Op {
    let mut done = op
        .complete(OpType::Info, op.value.clone())
        .with_error(Value::str(&format!("indeterminate: {e}")));
    done.set_extra("exception", exception_value(e));
    done
}

/// The completion recorded for an invocation that ran past the op timeout.
pub(crate) fn timed_out(op: &Op) -> Op {
    op.complete(OpType::Info, op.value.clone())
        .with_error(Value::kw("timeout"))
}

/// Keeps what the client returned honest: same process and f as the invocation, a completion
/// type, no stale index/time (the recorder assigns them).
fn sanitize(invoke: &Op, mut done: Op) -> Op {
    if done.ty == OpType::Invoke {
        let e = RiftError::new(
            "client-bug",
            "the client returned an op of type invoke instead of ok/fail/info",
        );
        return crashed(invoke, &e);
    }
    done.process = invoke.process.clone();
    done.f = invoke.f.clone();
    done
}

/// Runs one client thread until its channel closes.
pub(crate) async fn client_worker(
    thread: u32,
    test: Arc<TestInfo>,
    template: Arc<dyn Client>,
    mut rx: mpsc::UnboundedReceiver<Action>,
    tx: mpsc::UnboundedSender<Completion>,
    op_timeout: Duration,
) {
    let node = test.node_for_thread(thread).to_string();
    let me = Thread::Client(thread);
    let mut failing = false;
    let mut client = open(&*template, &test, &node, thread, &mut failing).await;
    while let Some(action) = rx.recv().await {
        match action {
            Action::Invoke(op) => {
                if client.is_none() {
                    client = open(&*template, &test, &node, thread, &mut failing).await;
                }
                let done = match client.as_mut() {
                    // Not connected: the op was never sent, so it definitely did not happen.
                    None => op
                        .complete(OpType::Fail, op.value.clone())
                        .with_error(Value::kw("no-client")),
                    Some(c) => match tokio::time::timeout(op_timeout, c.invoke(&test, &op)).await {
                        Ok(Ok(done)) => sanitize(&op, done),
                        Ok(Err(e)) => crashed(&op, &e),
                        Err(_) => timed_out(&op),
                    },
                };
                let crash = done.ty == OpType::Info;
                if tx
                    .send(Completion {
                        thread: me,
                        op: Some(done),
                    })
                    .is_err()
                {
                    break;
                }
                if crash {
                    // Jepsen's crash rule: the process is gone; this thread continues as a new
                    // process with a fresh client.
                    if let Some(mut c) = client.take() {
                        let _ = tokio::time::timeout(op_timeout, c.close(&test)).await;
                    }
                    client = open(&*template, &test, &node, thread, &mut failing).await;
                }
            }
            other => {
                if run_special(me, other, &tx).await.is_err() {
                    break;
                }
            }
        }
    }
    if let Some(mut c) = client {
        let _ = tokio::time::timeout(op_timeout, c.close(&test)).await;
    }
}

/// Opens a client. A node that is down makes every op of its threads try again, so only the
/// first failure of a streak is a warning (per thread), and the recovery is logged.
async fn open(
    template: &dyn Client,
    test: &TestInfo,
    node: &str,
    thread: u32,
    failing: &mut bool,
) -> Option<Box<dyn Client>> {
    match template.open(test, node).await {
        Ok(c) => {
            if std::mem::take(failing) {
                tracing::info!(thread, node, "client opened again");
            }
            Some(c)
        }
        Err(e) => {
            if *failing {
                tracing::debug!(thread, node, error = %e, "client failed to open");
            } else {
                tracing::warn!(thread, node, error = %e, "client failed to open (ops fail with :no-client until it opens)");
                *failing = true;
            }
            None
        }
    }
}

async fn run_special(
    me: Thread,
    action: Action,
    tx: &mpsc::UnboundedSender<Completion>,
) -> Result<(), ()> {
    match action {
        Action::Sleep { duration_ns } => {
            tokio::time::sleep(Duration::from_nanos(duration_ns.max(0) as u64)).await;
        }
        Action::Log { message } => tracing::info!(thread = ?me, "{message}"),
        Action::Invoke(_) => {}
    }
    tx.send(Completion {
        thread: me,
        op: None,
    })
    .map_err(|_| ())
}

/// Runs the nemesis thread until its channel closes.
pub(crate) async fn nemesis_worker(
    test: Arc<TestInfo>,
    mut nemesis: Box<dyn Nemesis>,
    mut rx: mpsc::UnboundedReceiver<Action>,
    tx: mpsc::UnboundedSender<Completion>,
    op_timeout: Duration,
) -> Box<dyn Nemesis> {
    while let Some(action) = rx.recv().await {
        match action {
            Action::Invoke(op) => {
                let done = match tokio::time::timeout(op_timeout, nemesis.invoke(&test, &op)).await
                {
                    Ok(Ok(done)) => sanitize(&op, done),
                    Ok(Err(e)) => crashed(&op, &e),
                    Err(_) => timed_out(&op),
                };
                if tx
                    .send(Completion {
                        thread: Thread::Nemesis,
                        op: Some(done),
                    })
                    .is_err()
                {
                    break;
                }
            }
            other => {
                if run_special(Thread::Nemesis, other, &tx).await.is_err() {
                    break;
                }
            }
        }
    }
    nemesis
}
