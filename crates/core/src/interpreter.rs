//! The interpreter loop: asks the scheduler for work, hands it to workers, records every
//! invocation and completion, and stops cleanly on Ctrl-C or SIGTERM.

use crate::progress::Progress;
use crate::spec::{RunOptions, TestInfo};
use crate::traits::{Client, Nemesis};
use crate::worker::{client_worker, nemesis_worker, Completion};
use rift_generator::{Action, Gen, Next, Scheduler, SchedulerConfig, Thread};
use rift_history::json::JsonlWriter;
use rift_history::{Op, OpType, Value};
use std::collections::HashMap;
use std::fmt;
use std::fs::File;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, Notify};

/// How long to wait before asking a pending generator again when nothing completes.
const PENDING_POLL: Duration = Duration::from_millis(5);

/// What cut a run short.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Interrupt {
    /// Ctrl-C.
    Sigint,
    /// SIGTERM.
    Sigterm,
    /// A caller asked to stop.
    Requested,
}

impl Interrupt {
    /// The interrupt a stored `test.json` names (its Display form).
    pub fn parse(s: &str) -> Interrupt {
        match s {
            "SIGINT" => Interrupt::Sigint,
            "SIGTERM" => Interrupt::Sigterm,
            _ => Interrupt::Requested,
        }
    }
}

impl fmt::Display for Interrupt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Interrupt::Sigint => "SIGINT",
            Interrupt::Sigterm => "SIGTERM",
            Interrupt::Requested => "stop requested",
        })
    }
}

/// A stop switch shared by the signal listener and the interpreter. The first trigger stops
/// generating and waits for in-flight ops (up to the grace period); a second one stops waiting.
#[derive(Clone, Default)]
pub struct Stop {
    inner: Arc<StopInner>,
}

#[derive(Default)]
struct StopInner {
    count: AtomicU32,
    cause: std::sync::Mutex<Option<Interrupt>>,
    notify: Notify,
}

impl Stop {
    /// A switch that is not triggered.
    pub fn new() -> Stop {
        Stop::default()
    }

    /// Triggers it.
    pub fn trigger(&self, cause: Interrupt) {
        let mut c = self.inner.cause.lock().unwrap_or_else(|e| e.into_inner());
        if c.is_none() {
            *c = Some(cause);
        }
        drop(c);
        self.inner.count.fetch_add(1, Ordering::SeqCst);
        self.inner.notify.notify_waiters();
    }

    /// How many times it was triggered.
    pub fn count(&self) -> u32 {
        self.inner.count.load(Ordering::SeqCst)
    }

    /// The first cause.
    pub fn cause(&self) -> Option<Interrupt> {
        self.inner
            .cause
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    async fn triggered(&self, more_than: u32) {
        loop {
            let notified = self.inner.notify.notified();
            if self.count() > more_than {
                return;
            }
            notified.await;
        }
    }

    /// Spawns a task that triggers this switch on SIGINT and SIGTERM.
    pub fn listen_for_signals(&self) {
        use tokio::signal::unix::{signal, SignalKind};
        let stop = self.clone();
        tokio::spawn(async move {
            let (Ok(mut int), Ok(mut term)) = (
                signal(SignalKind::interrupt()),
                signal(SignalKind::terminate()),
            ) else {
                tracing::warn!("cannot listen for signals; Ctrl-C will kill rift without cleanup");
                return;
            };
            loop {
                let cause = tokio::select! {
                    _ = int.recv() => Interrupt::Sigint,
                    _ = term.recv() => Interrupt::Sigterm,
                };
                match stop.count() {
                    0 => tracing::warn!(
                        "{cause}: stopping; waiting for in-flight ops (again to stop waiting)"
                    ),
                    1 => tracing::warn!(
                        "{cause} again: not waiting for in-flight ops (a third time exits \
                         at once, skipping teardown)"
                    ),
                    _ => {
                        tracing::error!("{cause} a third time: exiting without teardown");
                        crate::log::detach();
                        std::process::exit(130);
                    }
                }
                stop.trigger(cause);
            }
        });
    }
}

/// The recorder: assigns indices and times, writes each op as one JSONL line.
struct Recorder {
    writer: JsonlWriter<File>,
    next_index: u64,
    last_flush: Instant,
    flush_interval: Duration,
    error: Option<std::io::Error>,
}

impl Recorder {
    fn record(&mut self, op: &mut Op, now_ns: i64) {
        op.index = self.next_index;
        op.time = Some(now_ns);
        self.next_index += 1;
        if self.error.is_none() {
            if let Err(e) = self.writer.write(op) {
                tracing::error!("writing history: {e}");
                self.error = Some(e);
            }
        }
    }

    fn maybe_flush(&mut self) {
        if self.last_flush.elapsed() >= self.flush_interval {
            self.flush();
        }
    }

    fn flush(&mut self) {
        self.last_flush = Instant::now();
        if self.error.is_none() {
            if let Err(e) = self.writer.flush() {
                self.error = Some(e);
            }
        }
    }
}

/// The loop's state besides the scheduler.
struct Loop {
    sched: Scheduler,
    rec: Recorder,
    start: Instant,
    to_worker: HashMap<Thread, mpsc::UnboundedSender<Action>>,
    in_flight: HashMap<Thread, Op>,
    progress: Arc<Progress>,
}

impl Loop {
    fn now_ns(&self) -> i64 {
        self.start.elapsed().as_nanos() as i64
    }

    fn complete(&mut self, c: Completion) {
        let now = self.now_ns();
        match c.op {
            Some(mut op) => {
                self.in_flight.remove(&c.thread);
                self.rec.record(&mut op, now);
                self.progress.completed(&op);
                self.sched.complete(now, c.thread, &op);
            }
            None => self.sched.complete_special(now, c.thread),
        }
    }

    fn dispatch(&mut self, thread: Thread, action: Action) {
        let action = match action {
            Action::Invoke(mut op) => {
                let now = self.now_ns();
                self.rec.record(&mut op, now);
                self.in_flight.insert(thread, op.clone());
                Action::Invoke(op)
            }
            other => other,
        };
        match self.to_worker.get(&thread) {
            Some(tx) if tx.send(action).is_ok() => {}
            _ => {
                // No such worker (a generator addressing the nemesis in a test without one):
                // complete at once so the scheduler does not wait forever.
                tracing::warn!(?thread, "no worker for thread; op dropped as fail");
                if let Some(op) = self.in_flight.remove(&thread) {
                    let done = op
                        .complete(OpType::Fail, op.value.clone())
                        .with_error(Value::kw("no-worker"));
                    self.complete(Completion {
                        thread,
                        op: Some(done),
                    });
                } else {
                    let now = self.now_ns();
                    self.sched.complete_special(now, thread);
                }
            }
        }
    }
}

/// What the interpreter hands back to the runner.
pub(crate) struct Interpreted {
    /// Ops recorded.
    pub op_count: u64,
    /// Set when a stop cut the run short.
    pub interrupted: Option<Interrupt>,
    /// The nemesis, for teardown.
    pub nemesis: Box<dyn Nemesis>,
    /// A failure writing the history.
    pub write_error: Option<std::io::Error>,
    /// The generator asked for something impossible (an op for a busy or unknown process).
    pub generator_error: Option<String>,
}

pub(crate) async fn interpret(
    generator: Gen,
    client: Arc<dyn Client>,
    nemesis: Box<dyn Nemesis>,
    info: Arc<TestInfo>,
    writer: JsonlWriter<File>,
    opts: &RunOptions,
    stop: Stop,
) -> Interpreted {
    let (done_tx, mut done_rx) = mpsc::unbounded_channel::<Completion>();
    let mut to_worker = HashMap::new();
    let mut client_tasks = Vec::new();
    for t in 0..info.concurrency {
        let (tx, rx) = mpsc::unbounded_channel();
        to_worker.insert(Thread::Client(t), tx);
        client_tasks.push(tokio::spawn(client_worker(
            t,
            info.clone(),
            client.clone(),
            rx,
            done_tx.clone(),
            opts.op_timeout,
        )));
    }
    let (ntx, nrx) = mpsc::unbounded_channel();
    to_worker.insert(Thread::Nemesis, ntx);
    let nemesis_task = tokio::spawn(nemesis_worker(
        info.clone(),
        nemesis,
        nrx,
        done_tx.clone(),
        opts.op_timeout,
    ));
    drop(done_tx);

    let progress = Arc::new(Progress::new());
    let progress_task = opts.progress.then(|| progress.clone().spawn_display());
    let sched = Scheduler::new(
        generator,
        SchedulerConfig {
            concurrency: info.concurrency,
            nemesis: true,
            seed: info.seed,
        },
    );
    let mut lp = Loop {
        sched,
        rec: Recorder {
            writer,
            next_index: 0,
            last_flush: Instant::now(),
            flush_interval: opts.flush_interval,
            error: None,
        },
        start: Instant::now(),
        to_worker,
        in_flight: HashMap::new(),
        progress: progress.clone(),
    };

    run_loop(&mut lp, &mut done_rx, &stop).await;
    let interrupted = if stop.count() > 0 { stop.cause() } else { None };
    if interrupted.is_some() {
        drain(&mut lp, &mut done_rx, &stop, opts.interrupt_grace).await;
    }
    // Close the workers' channels; they finish their current action and exit.
    lp.to_worker.clear();
    for mut t in client_tasks {
        if tokio::time::timeout(opts.op_timeout, &mut t).await.is_err() {
            t.abort();
        }
    }
    let nemesis = match nemesis_task.await {
        Ok(n) => n,
        Err(e) => {
            tracing::error!("nemesis worker failed: {e}");
            Box::new(crate::traits::NoopNemesis)
        }
    };
    lp.rec.flush();
    if let Some(t) = progress_task {
        progress.finish();
        let _ = t.await;
    }
    let generator_error = lp.sched.error().map(|e| e.to_string());
    if let Some(e) = &generator_error {
        tracing::error!("generator error: {e}");
    }
    Interpreted {
        op_count: lp.rec.next_index,
        interrupted,
        nemesis,
        write_error: lp.rec.error.take(),
        generator_error,
    }
}

async fn run_loop(lp: &mut Loop, done_rx: &mut mpsc::UnboundedReceiver<Completion>, stop: &Stop) {
    loop {
        while let Ok(c) = done_rx.try_recv() {
            lp.complete(c);
        }
        if stop.count() > 0 {
            return;
        }
        lp.rec.maybe_flush();
        let now = lp.now_ns();
        let wait = match lp.sched.poll(now) {
            Next::Dispatch(d) => {
                lp.dispatch(d.thread, d.action);
                continue;
            }
            Next::Done => return,
            Next::WaitUntil(t) => Duration::from_nanos((t - now).max(0) as u64),
            Next::WaitForCompletion => PENDING_POLL,
        };
        let wait = wait.min(lp.rec.flush_interval);
        tokio::select! {
            c = done_rx.recv() => match c {
                Some(c) => lp.complete(c),
                None => return,
            },
            _ = tokio::time::sleep(wait) => {}
            _ = stop.triggered(0) => return,
        }
    }
}

/// After a stop: wait for in-flight ops up to the grace period (or a second stop), then record
/// the rest as `info` with error `:interrupted`.
async fn drain(
    lp: &mut Loop,
    done_rx: &mut mpsc::UnboundedReceiver<Completion>,
    stop: &Stop,
    grace: Duration,
) {
    let deadline = tokio::time::Instant::now() + grace;
    let first = stop.count();
    while !lp.in_flight.is_empty() {
        tokio::select! {
            c = done_rx.recv() => match c {
                Some(c) => lp.complete(c),
                None => break,
            },
            _ = tokio::time::sleep_until(deadline) => break,
            _ = stop.triggered(first) => break,
        }
    }
    let mut left: Vec<(Thread, Op)> = lp.in_flight.drain().collect();
    left.sort_by_key(|(_, op)| op.index);
    for (thread, op) in left {
        let mut done = op
            .complete(OpType::Info, op.value.clone())
            .with_error(Value::kw("interrupted"));
        let now = lp.now_ns();
        lp.rec.record(&mut done, now);
        lp.sched.complete(now, thread, &done);
    }
}
