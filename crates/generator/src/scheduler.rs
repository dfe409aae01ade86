//! [`Scheduler`]: Jepsen's interpreter loop as a pure state machine over explicit time.

use crate::context::{Context, Thread};
use crate::gen::{Gen, GenKind, GenOp, Poll};
use rift_history::{Field, Op, OpType, Process, Value};
use thiserror::Error;

/// How long to wait before asking a pending generator again when nothing is in flight
/// (Jepsen's `max-pending-interval`, 1 ms).
pub const PENDING_RETRY_NS: i64 = 1_000_000;

/// A generator or caller broke the scheduler's contract.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum GenError {
    /// The generator pinned an op to a process that no thread runs.
    #[error("generator emitted an op for process {process}, which no thread runs")]
    UnknownProcess {
        /// The process.
        process: String,
    },
    /// The generator pinned an op to a process whose thread is busy or not allowed.
    #[error("generator emitted an op for process {process}, whose thread is busy")]
    BusyThread {
        /// The process.
        process: String,
    },
    /// A completion was reported for a thread with nothing in flight.
    #[error("completion reported for thread {thread:?}, which has nothing in flight")]
    NotInFlight {
        /// The thread.
        thread: Thread,
    },
}

/// Scheduler settings.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SchedulerConfig {
    /// Number of client threads.
    pub concurrency: u32,
    /// Whether there is a nemesis thread.
    pub nemesis: bool,
    /// The run's seed (the context's ChaCha8 RNG).
    pub seed: u64,
}

/// What the caller should do next.
#[derive(Clone, Debug, PartialEq)]
pub enum Next {
    /// Hand this to a worker now.
    Dispatch(Dispatch),
    /// Nothing to do before this time unless a completion arrives first.
    WaitUntil(i64),
    /// Pending, or exhausted with ops still in flight: wait for a completion.
    WaitForCompletion,
    /// Exhausted and nothing in flight.
    Done,
}

/// An action for one thread.
#[derive(Clone, Debug, PartialEq)]
pub struct Dispatch {
    /// Who does it.
    pub thread: Thread,
    /// What to do.
    pub action: Action,
}

/// What a thread is asked to do.
#[derive(Clone, Debug, PartialEq)]
pub enum Action {
    /// An invocation, as it goes in the history: type invoke, process, f, value, extras,
    /// time = the dispatch time, index 0 (the recorder assigns indices).
    Invoke(Op),
    /// Do nothing for this long, then report [`Scheduler::complete_special`].
    Sleep {
        /// Duration.
        duration_ns: i64,
    },
    /// Log this, then report [`Scheduler::complete_special`].
    Log {
        /// The message.
        message: String,
    },
}

/// What each thread has in flight.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Busy {
    Idle,
    Invoke,
    Special,
}

/// The interpreter: asks the generator for ops, tracks busy threads and processes, feeds
/// invocations and completions back to the generator. One per test run; driven by the real
/// runner (wall-clock time) and by [`crate::simulate`] (virtual time).
pub struct Scheduler {
    gen: Gen,
    ctx: Context,
    busy: Vec<Busy>,
    in_flight: usize,
    error: Option<GenError>,
}

impl Scheduler {
    /// A scheduler at time 0 with every thread free.
    pub fn new(gen: Gen, cfg: SchedulerConfig) -> Scheduler {
        let ctx = Context::new(cfg.concurrency, cfg.nemesis, cfg.seed);
        let n = ctx.all_thread_count();
        Scheduler {
            gen,
            ctx,
            busy: vec![Busy::Idle; n],
            in_flight: 0,
            error: None,
        }
    }

    /// Asks the generator what to do at `now_ns`. Dispatch commits the op (the generator
    /// advances, the thread becomes busy, and for Invoke the generator's update sees the
    /// invocation). WaitUntil does not commit: if a completion arrives before that time, the
    /// caller reports it via `complete` and polls again (the generator is re-asked, as
    /// Jepsen). After a [`GenError`] the generator is no longer asked: the scheduler drains
    /// what is in flight and reports Done; check [`Scheduler::error`].
    pub fn poll(&mut self, now_ns: i64) -> Next {
        self.ctx.set_time(now_ns);
        if self.error.is_some() {
            return self.idle(false);
        }
        match self.gen.op(&self.ctx) {
            Poll::Exhausted => self.idle(false),
            Poll::Pending => self.idle(true),
            Poll::Op(op, next) => self.dispatch(now_ns, op, next),
        }
    }

    fn idle(&self, pending: bool) -> Next {
        if self.in_flight > 0 {
            Next::WaitForCompletion
        } else if pending {
            Next::WaitUntil(self.ctx.time_ns().saturating_add(PENDING_RETRY_NS))
        } else {
            Next::Done
        }
    }

    fn dispatch(&mut self, now_ns: i64, mut op: GenOp, next: Option<Gen>) -> Next {
        let process = match op.process.take() {
            Some(p) => p,
            None => match self.ctx.some_free_process() {
                Some(p) => p,
                None => return self.idle(true),
            },
        };
        let Some(thread) = self.ctx.thread_of(&process) else {
            self.error = Some(GenError::UnknownProcess {
                process: process.to_string(),
            });
            return self.idle(false);
        };
        if !self.ctx.is_free(thread) {
            self.error = Some(GenError::BusyThread {
                process: process.to_string(),
            });
            return self.idle(false);
        }
        let t = op.time_or(now_ns);
        if t > now_ns {
            return Next::WaitUntil(t);
        }
        if let Some(g) = next {
            self.gen = g;
        }
        self.ctx.set_busy(thread);
        self.in_flight += 1;
        let slot = self.ctx.thread_index(thread).unwrap_or(0);
        let action = match op.kind {
            GenKind::Invoke => {
                self.busy[slot] = Busy::Invoke;
                let mut inv = Op::new(OpType::Invoke, process, op.f, op.value);
                inv.time = Some(now_ns);
                for _ in 0..op.extra.len() {
                    inv.layout.push(Field::Extra);
                }
                inv.extra = op.extra;
                if let Some(g) = self.gen.update(&self.ctx, &inv) {
                    self.gen = g;
                }
                Action::Invoke(inv)
            }
            GenKind::Sleep => {
                self.busy[slot] = Busy::Special;
                let duration_ns = op.value.as_i64().unwrap_or(0).max(0);
                Action::Sleep { duration_ns }
            }
            GenKind::Log => {
                self.busy[slot] = Busy::Special;
                let message = match &op.value {
                    Value::Str(s) => s.to_string(),
                    v => v.to_string(),
                };
                Action::Log { message }
            }
        };
        Next::Dispatch(Dispatch { thread, action })
    }

    /// Marks `thread` free; false (and an error) if it had nothing of `kind` in flight.
    fn release(&mut self, now_ns: i64, thread: Thread, kind: Busy) -> bool {
        self.ctx.set_time(now_ns);
        let slot = self.ctx.thread_index(thread);
        match slot {
            Some(i) if self.busy[i] == kind => {
                self.busy[i] = Busy::Idle;
                self.ctx.set_free(thread);
                self.in_flight -= 1;
                true
            }
            _ => {
                self.error.get_or_insert(GenError::NotInFlight { thread });
                false
            }
        }
    }

    /// An invoke dispatched to `thread` completed (ok/fail/info op with the same process).
    /// Frees the thread, updates the generator, then applies the crash rule: after `info`
    /// (or a completion with `:end-process? true`) a client thread runs as process +
    /// concurrency.
    pub fn complete(&mut self, now_ns: i64, thread: Thread, completion: &Op) {
        if !self.release(now_ns, thread, Busy::Invoke) {
            return;
        }
        if let Some(g) = self.gen.update(&self.ctx, completion) {
            self.gen = g;
        }
        let ends = completion.ty == OpType::Info
            || completion.get_extra("end-process?") == Some(&Value::Bool(true));
        if ends && thread.is_client() {
            self.ctx.next_process(thread);
        }
    }

    /// A Sleep or Log dispatched to `thread` finished. Frees the thread (no generator
    /// update).
    pub fn complete_special(&mut self, now_ns: i64, thread: Thread) {
        self.release(now_ns, thread, Busy::Special);
    }

    /// Number of dispatched actions (invocations, sleeps, logs) not yet completed.
    pub fn in_flight(&self) -> usize {
        self.in_flight
    }

    /// The current context (time of the last call, free threads, processes, RNG).
    pub fn context(&self) -> &Context {
        &self.ctx
    }

    /// The process a thread runs as now.
    pub fn process_of(&self, thread: Thread) -> Process {
        self.ctx.process_of(thread)
    }

    /// The first contract violation seen, if any.
    pub fn error(&self) -> Option<&GenError> {
        self.error.as_ref()
    }
}
