//! The [`Generator`] trait, what it emits ([`GenOp`], [`Poll`]), and shared plumbing.

use crate::context::Context;
use rift_history::{Op, Process, Value};
use std::fmt;
use std::sync::Arc;

/// A boxed generator, as combinators take and return them.
pub type Gen = Box<dyn Generator>;

/// A pure generator (Jepsen's `jepsen.generator/Generator`): an immutable value asked what to
/// do now, and told what happened.
///
/// `op` must not change observable state (it takes `&self`): the scheduler may ask, then
/// discard the answer and ask the same generator again later. State changes travel in the
/// returned generators. Generators are `Send + Sync` so that combinators can share unchanged
/// children through `Arc` instead of copying them.
pub trait Generator: Send + Sync {
    /// What to do now.
    fn op(&self, ctx: &Context) -> Poll;

    /// Sees every invocation and completion (history ops) of ops dispatched while this
    /// generator is active. Returns the new generator, or `None` when unchanged.
    fn update(&self, ctx: &Context, event: &Op) -> Option<Gen> {
        let _ = (ctx, event);
        None
    }
}

/// A generator's answer to [`Generator::op`].
pub enum Poll {
    /// An op, and the generator to continue with (`None`: this one, unchanged).
    Op(GenOp, Option<Gen>),
    /// Nothing now; ask again after something completes (or time passes).
    Pending,
    /// No more ops, ever.
    Exhausted,
}

impl fmt::Debug for Poll {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Poll::Op(op, next) => write!(f, "Op({op:?}, changed: {})", next.is_some()),
            Poll::Pending => f.write_str("Pending"),
            Poll::Exhausted => f.write_str("Exhausted"),
        }
    }
}

/// The kind of a [`GenOp`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum GenKind {
    /// A client or nemesis invocation: goes in the history.
    Invoke,
    /// The receiving thread does nothing for `value` nanoseconds (not in the history).
    Sleep,
    /// The receiving thread logs `value` (not in the history).
    Log,
}

/// What a generator emits. `process` and `time_ns` left `None` are filled in: by the leaf
/// generators ([`crate::once`], [`crate::from_fn`]...) from the context they are given, and
/// failing that by the scheduler (a free thread chosen with the RNG, and the current time).
#[derive(Clone, Debug, PartialEq)]
pub struct GenOp {
    /// Invoke, Sleep or Log.
    pub kind: GenKind,
    /// The function, e.g. `Value::kw("read")`.
    pub f: Value,
    /// The argument. Sleep: duration in ns as `Value::Int`; Log: the message string.
    pub value: Value,
    /// The process, if chosen.
    pub process: Option<Process>,
    /// When to run it (ns since the test start), if scheduled.
    pub time_ns: Option<i64>,
    /// Extra fields, copied into the invocation.
    pub extra: Vec<(Value, Value)>,
}

impl GenOp {
    fn new(kind: GenKind, f: Value, value: Value) -> GenOp {
        GenOp {
            kind,
            f,
            value,
            process: None,
            time_ns: None,
            extra: Vec::new(),
        }
    }

    /// An invocation of `:f` with a value: `GenOp::invoke("read", Value::Nil)`.
    pub fn invoke(f: &str, value: impl Into<Value>) -> GenOp {
        GenOp::new(GenKind::Invoke, Value::kw(f), value.into())
    }

    /// A sleep of `duration_ns`.
    pub fn sleep(duration_ns: i64) -> GenOp {
        GenOp::new(GenKind::Sleep, Value::kw("sleep"), Value::Int(duration_ns))
    }

    /// A log message.
    pub fn log(message: &str) -> GenOp {
        GenOp::new(GenKind::Log, Value::kw("log"), Value::str(message))
    }

    /// With another value.
    pub fn with_value(mut self, v: impl Into<Value>) -> GenOp {
        self.value = v.into();
        self
    }

    /// With another `f`.
    pub fn with_f(mut self, f: Value) -> GenOp {
        self.f = f;
        self
    }

    /// Pinned to a process.
    pub fn with_process(mut self, p: Process) -> GenOp {
        self.process = Some(p);
        self
    }

    /// Scheduled at a time.
    pub fn with_time(mut self, time_ns: i64) -> GenOp {
        self.time_ns = Some(time_ns);
        self
    }

    /// With an extra field `:key v`.
    pub fn with_extra(mut self, key: &str, v: impl Into<Value>) -> GenOp {
        self.extra.push((Value::kw(key), v.into()));
        self
    }

    /// The op's time, or `default` when unscheduled.
    pub fn time_or(&self, default: i64) -> i64 {
        self.time_ns.unwrap_or(default)
    }

    /// Fills in process (a free process of `ctx`) and time (`ctx` time), as Jepsen's
    /// `fill-in-op`. `None` (pending) when no visible thread of `ctx` is free.
    pub fn fill_in(&self, ctx: &Context) -> Option<GenOp> {
        let process = match &self.process {
            Some(p) if ctx.free_thread_count() > 0 => p.clone(),
            Some(_) => return None,
            None => ctx.some_free_process()?,
        };
        let mut op = self.clone();
        op.process = Some(process);
        op.time_ns = Some(self.time_ns.unwrap_or(ctx.time_ns()));
        Some(op)
    }
}

/// A generator shared by reference count; combinators keep children this way.
pub(crate) type Shared = Arc<dyn Generator>;

/// Turns a boxed generator into a shared one.
pub(crate) fn share(g: Gen) -> Shared {
    Arc::from(g)
}

/// The child's next state: the new one if it changed, else the current one.
pub(crate) fn advance(cur: &Shared, next: Option<Gen>) -> Shared {
    match next {
        Some(g) => share(g),
        None => cur.clone(),
    }
}

/// A shared generator as a boxed one.
pub(crate) struct SharedGen(pub(crate) Shared);

impl Generator for SharedGen {
    fn op(&self, ctx: &Context) -> Poll {
        self.0.op(ctx)
    }
    fn update(&self, ctx: &Context, event: &Op) -> Option<Gen> {
        self.0.update(ctx, event)
    }
}

/// Boxes a shared generator.
pub(crate) fn boxed(s: Shared) -> Gen {
    Box::new(SharedGen(s))
}

/// The exhausted generator (Jepsen's `nil`).
pub(crate) struct Nil;

impl Generator for Nil {
    fn op(&self, _: &Context) -> Poll {
        Poll::Exhausted
    }
}

/// A generator that never emits anything (Jepsen's `nil`).
pub fn nil() -> Gen {
    Box::new(Nil)
}

/// One candidate in a choice of the soonest op (Jepsen's `soonest-op-map`).
pub(crate) struct Candidate {
    pub op: GenOp,
    pub next: Option<Gen>,
    pub index: usize,
    pub weight: u64,
}

/// Folds candidates to the one with the soonest time; ties resolved at random in proportion
/// to weights (the winner carries the summed weight, so a fold over many is fair).
pub(crate) struct Soonest {
    best: Option<Candidate>,
    now: i64,
}

impl Soonest {
    pub fn new(now: i64) -> Soonest {
        Soonest { best: None, now }
    }

    pub fn offer(&mut self, ctx: &Context, c: Candidate) {
        let Some(b) = &mut self.best else {
            self.best = Some(c);
            return;
        };
        let (t1, t2) = (b.op.time_or(self.now), c.op.time_or(self.now));
        if t2 < t1 {
            self.best = Some(c);
        } else if t1 == t2 {
            let w = b.weight + c.weight;
            let pick_new = w > 0 && {
                use rand::Rng;
                ctx.rng().random_range(0..w) >= b.weight
            };
            if pick_new {
                self.best = Some(Candidate { weight: w, ..c });
            } else {
                b.weight = w;
            }
        }
    }

    pub fn take(self) -> Option<Candidate> {
        self.best
    }
}
