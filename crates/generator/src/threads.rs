//! Combinators that route ops to threads: on_threads, any, each_thread, reserve, limits,
//! synchronize.

use crate::basic::concat;
use crate::context::{Context, Thread, ThreadSet};
use crate::gen::{advance, boxed, share, Candidate, Gen, Generator, Poll, Shared, Soonest};
use rift_history::{Op, Process};
use std::collections::BTreeSet;
use std::sync::{Arc, OnceLock};

/// Thread masks computed once per run (keyed by the run's thread count).
#[derive(Default)]
pub(crate) struct MaskCache(OnceLock<(usize, Arc<Vec<ThreadSet>>)>);

impl MaskCache {
    pub(crate) fn get(
        &self,
        ctx: &Context,
        build: impl FnOnce(&Context) -> Vec<ThreadSet>,
    ) -> Arc<Vec<ThreadSet>> {
        let n = ctx.all_thread_count();
        match self.0.get() {
            Some((m, v)) if *m == n => v.clone(),
            Some(_) => Arc::new(build(ctx)),
            None => self.0.get_or_init(|| (n, Arc::new(build(ctx)))).1.clone(),
        }
    }

    /// `ctx` restricted to mask `i`, without touching reference counts when cached.
    pub(crate) fn restrict(
        &self,
        ctx: &Context,
        i: usize,
        build: impl FnOnce(&Context) -> Vec<ThreadSet>,
    ) -> Context {
        match self.0.get() {
            Some((m, v)) if *m == ctx.all_thread_count() => ctx.restrict(&v[i]),
            _ => ctx.restrict(&self.get(ctx, build)[i]),
        }
    }
}

type ThreadPred = dyn Fn(Thread) -> bool + Send + Sync;

struct OnThreads {
    pred: Arc<ThreadPred>,
    masks: Arc<MaskCache>,
    gen: Shared,
}

impl OnThreads {
    fn sub(&self, ctx: &Context) -> Context {
        self.masks
            .restrict(ctx, 0, |c| vec![c.thread_mask(|t| (self.pred)(t))])
    }

    fn with(&self, gen: Shared) -> Gen {
        Box::new(OnThreads {
            pred: self.pred.clone(),
            masks: self.masks.clone(),
            gen,
        })
    }
}

impl Generator for OnThreads {
    fn op(&self, ctx: &Context) -> Poll {
        match self.gen.op(&self.sub(ctx)) {
            Poll::Op(op, next) => Poll::Op(op, next.map(|g| self.with(share(g)))),
            other => other,
        }
    }

    fn update(&self, ctx: &Context, event: &Op) -> Option<Gen> {
        let t = ctx.thread_of(&event.process)?;
        if !(self.pred)(t) {
            return None;
        }
        let g = self.gen.update(&self.sub(ctx), event)?;
        Some(self.with(share(g)))
    }
}

/// Runs `gen` on the threads satisfying `pred` only: it sees a context restricted to them,
/// and only their updates.
pub fn on_threads<F>(pred: F, gen: Gen) -> Gen
where
    F: Fn(Thread) -> bool + Send + Sync + 'static,
{
    Box::new(OnThreads {
        pred: Arc::new(pred),
        masks: Arc::default(),
        gen: share(gen),
    })
}

/// `gen` on client threads only.
pub fn clients(gen: Gen) -> Gen {
    on_threads(Thread::is_client, gen)
}

/// `gen` on the nemesis thread only.
pub fn nemesis(gen: Gen) -> Gen {
    on_threads(|t| t == Thread::Nemesis, gen)
}

/// Jepsen's two-argument `clients`: client ops from `client_gen`, nemesis ops from
/// `nemesis_gen`, together.
pub fn clients_and_nemesis(client_gen: Gen, nemesis_gen: Gen) -> Gen {
    any(vec![clients(client_gen), nemesis(nemesis_gen)])
}

struct Any {
    gens: Arc<[Shared]>,
}

impl Generator for Any {
    fn op(&self, ctx: &Context) -> Poll {
        let mut best = Soonest::new(ctx.time_ns());
        let mut pending = false;
        let mut exhausted = 0;
        for (i, g) in self.gens.iter().enumerate() {
            match g.op(ctx) {
                Poll::Op(op, next) => best.offer(
                    ctx,
                    Candidate {
                        op,
                        next,
                        index: i,
                        weight: 1,
                    },
                ),
                Poll::Pending => pending = true,
                Poll::Exhausted => exhausted += 1,
            }
        }
        match best.take() {
            Some(c) => {
                if c.next.is_none() && exhausted == 0 {
                    return Poll::Op(c.op, None);
                }
                let mut gens = self.gens.to_vec();
                gens[c.index] = advance(&gens[c.index], c.next);
                Poll::Op(c.op, Some(Box::new(Any { gens: gens.into() })))
            }
            None if pending => Poll::Pending,
            None => Poll::Exhausted,
        }
    }

    fn update(&self, ctx: &Context, event: &Op) -> Option<Gen> {
        let mut out: Option<Vec<Shared>> = None;
        for (i, g) in self.gens.iter().enumerate() {
            if let Some(n) = g.update(ctx, event) {
                out.get_or_insert_with(|| self.gens.to_vec())[i] = share(n);
            }
        }
        out.map(|gens| Box::new(Any { gens: gens.into() }) as Gen)
    }
}

/// Ops from whichever child offers the soonest one (ties broken at random); pending while
/// none has an op but one is pending; exhausted when all are. Updates go to every child.
pub fn any(gens: Vec<Gen>) -> Gen {
    Box::new(Any {
        gens: gens.into_iter().map(share).collect(),
    })
}

#[derive(Clone, Default)]
struct PerThread {
    /// The process the generator was started for (each_process only).
    extant: Option<Process>,
    gen: Option<Shared>,
}

struct EachThread {
    fresh: Shared,
    per_process: bool,
    states: Arc<[PerThread]>,
}

impl EachThread {
    fn state(&self, i: usize) -> PerThread {
        self.states.get(i).cloned().unwrap_or_default()
    }

    fn gen_for(&self, ctx: &Context, t: Thread, i: usize) -> (Shared, Option<Process>) {
        let s = self.state(i);
        if self.per_process {
            let p = ctx.process_of(t);
            match (s.extant, s.gen) {
                (Some(e), Some(g)) if e == p => (g, Some(p)),
                _ => (self.fresh.clone(), Some(p)),
            }
        } else {
            (s.gen.unwrap_or_else(|| self.fresh.clone()), None)
        }
    }

    fn with_state(&self, ctx: &Context, i: usize, st: PerThread) -> Gen {
        let mut states = self.states.to_vec();
        states.resize(
            ctx.all_thread_count().max(states.len()),
            PerThread::default(),
        );
        states[i] = st;
        Box::new(EachThread {
            fresh: self.fresh.clone(),
            per_process: self.per_process,
            states: states.into(),
        })
    }
}

impl Generator for EachThread {
    fn op(&self, ctx: &Context) -> Poll {
        let mut best = Soonest::new(ctx.time_ns());
        let mut pending = false;
        for t in ctx.free_threads() {
            let Some(i) = ctx.thread_index(t) else {
                continue;
            };
            let (g, _) = self.gen_for(ctx, t, i);
            match g.op(&ctx.restrict_to(t)) {
                Poll::Op(op, next) => best.offer(
                    ctx,
                    Candidate {
                        op,
                        next,
                        index: i,
                        weight: 1,
                    },
                ),
                Poll::Pending => pending = true,
                Poll::Exhausted => {}
            }
        }
        if let Some(c) = best.take() {
            let t = ctx.thread_at(c.index);
            let (g, extant) = self.gen_for(ctx, t, c.index);
            let st = PerThread {
                extant,
                gen: Some(advance(&g, c.next)),
            };
            return Poll::Op(c.op, Some(self.with_state(ctx, c.index, st)));
        }
        if pending || ctx.free_thread_count() != ctx.thread_count() {
            Poll::Pending
        } else {
            Poll::Exhausted
        }
    }

    fn update(&self, ctx: &Context, event: &Op) -> Option<Gen> {
        let t = ctx.thread_of(&event.process)?;
        let i = ctx.thread_index(t)?;
        let s = self.state(i);
        let g = s.gen.clone().unwrap_or_else(|| self.fresh.clone());
        let n = g.update(&ctx.restrict_to(t), event)?;
        let st = PerThread {
            extant: s.extant,
            gen: Some(share(n)),
        };
        Some(self.with_state(ctx, i, st))
    }
}

/// An independent copy of `gen` per thread; each copy sees a context with just its thread and
/// only that thread's updates. Exhausted when every copy is exhausted and all threads are
/// free; pending while some thread is busy (its copy might have more to say).
pub fn each_thread(gen: Gen) -> Gen {
    Box::new(EachThread {
        fresh: share(gen),
        per_process: false,
        states: Arc::new([]),
    })
}

/// Like [`each_thread`], but a thread whose process changed (it crashed: `info`) starts a
/// fresh copy of `gen` for its new process.
pub fn each_process(gen: Gen) -> Gen {
    Box::new(EachThread {
        fresh: share(gen),
        per_process: true,
        states: Arc::new([]),
    })
}

struct Reserve {
    /// Client thread ranges `[lo, hi)`, one per generator but the last (the default).
    ranges: Arc<[(u32, u32)]>,
    masks: Arc<MaskCache>,
    gens: Arc<[Shared]>,
}

impl Reserve {
    fn masks(&self, ctx: &Context) -> Arc<Vec<ThreadSet>> {
        self.masks.get(ctx, |c| {
            let in_range =
                |t: Thread, r: &(u32, u32)| matches!(t, Thread::Client(i) if i >= r.0 && i < r.1);
            let mut v: Vec<ThreadSet> = self
                .ranges
                .iter()
                .map(|r| c.thread_mask(|t| in_range(t, r)))
                .collect();
            v.push(c.thread_mask(|t| !self.ranges.iter().any(|r| in_range(t, r))));
            v
        })
    }

    fn with(&self, i: usize, g: Shared) -> Gen {
        let mut gens = self.gens.to_vec();
        gens[i] = g;
        Box::new(Reserve {
            ranges: self.ranges.clone(),
            masks: self.masks.clone(),
            gens: gens.into(),
        })
    }
}

impl Generator for Reserve {
    fn op(&self, ctx: &Context) -> Poll {
        let masks = self.masks(ctx);
        let mut best = Soonest::new(ctx.time_ns());
        let mut pending = false;
        for (i, g) in self.gens.iter().enumerate() {
            let sub = ctx.restrict(&masks[i]);
            let weight = match self.ranges.get(i) {
                Some((lo, hi)) => (hi - lo) as u64,
                None => sub.thread_count() as u64,
            };
            match g.op(&sub) {
                Poll::Op(op, next) => best.offer(
                    ctx,
                    Candidate {
                        op,
                        next,
                        index: i,
                        weight,
                    },
                ),
                Poll::Pending => pending = true,
                Poll::Exhausted => {}
            }
        }
        match best.take() {
            Some(c) => {
                let g = advance(&self.gens[c.index], c.next);
                Poll::Op(c.op, Some(self.with(c.index, g)))
            }
            None if pending => Poll::Pending,
            None => Poll::Exhausted,
        }
    }

    fn update(&self, ctx: &Context, event: &Op) -> Option<Gen> {
        let last = self.gens.len() - 1;
        let i = match ctx.thread_of(&event.process) {
            Some(Thread::Client(t)) => self
                .ranges
                .iter()
                .position(|r| t >= r.0 && t < r.1)
                .unwrap_or(last),
            _ => last,
        };
        let masks = self.masks(ctx);
        let n = self.gens[i].update(&ctx.restrict(&masks[i]), event)?;
        Some(self.with(i, share(n)))
    }
}

/// The first `n1` client threads run `g1`, the next `n2` run `g2`, ...; every other thread
/// (including the nemesis) runs `default`. Each generator sees only its threads and their
/// updates; the soonest op wins, ties broken at random weighted by thread counts.
pub fn reserve(groups: Vec<(u32, Gen)>, default: Gen) -> Gen {
    let mut lo = 0u32;
    let mut ranges = Vec::with_capacity(groups.len());
    let mut gens = Vec::with_capacity(groups.len() + 1);
    for (n, g) in groups {
        ranges.push((lo, lo.saturating_add(n)));
        lo = lo.saturating_add(n);
        gens.push(share(g));
    }
    gens.push(share(default));
    Box::new(Reserve {
        ranges: ranges.into(),
        masks: Arc::default(),
        gens: gens.into(),
    })
}

struct ProcessLimit {
    n: usize,
    procs: Arc<BTreeSet<Process>>,
    gen: Shared,
}

impl Generator for ProcessLimit {
    fn op(&self, ctx: &Context) -> Poll {
        match self.gen.op(ctx) {
            Poll::Op(op, next) => {
                let mut procs = self.procs.clone();
                for p in ctx.processes() {
                    if !procs.contains(&p) {
                        Arc::make_mut(&mut procs).insert(p);
                    }
                }
                if procs.len() > self.n {
                    return Poll::Exhausted;
                }
                let next = ProcessLimit {
                    n: self.n,
                    procs,
                    gen: advance(&self.gen, next),
                };
                Poll::Op(op, Some(Box::new(next)))
            }
            other => other,
        }
    }

    fn update(&self, ctx: &Context, event: &Op) -> Option<Gen> {
        let g = self.gen.update(ctx, event)?;
        Some(Box::new(ProcessLimit {
            n: self.n,
            procs: self.procs.clone(),
            gen: share(g),
        }))
    }
}

/// Ops for at most `n` distinct processes: counts every process of the visible threads at
/// each emitted op (as Jepsen, so crashes eat into the budget and the end does not trickle
/// on one process); exhausted once the union would pass `n`.
pub fn process_limit(n: usize, gen: Gen) -> Gen {
    Box::new(ProcessLimit {
        n,
        procs: Arc::default(),
        gen: share(gen),
    })
}

struct ConcurrencyLimit {
    n: usize,
    gen: Shared,
}

impl Generator for ConcurrencyLimit {
    fn op(&self, ctx: &Context) -> Poll {
        if ctx.thread_count() - ctx.free_thread_count() >= self.n {
            return Poll::Pending;
        }
        match self.gen.op(ctx) {
            Poll::Op(op, next) => Poll::Op(
                op,
                next.map(|g| {
                    Box::new(ConcurrencyLimit {
                        n: self.n,
                        gen: share(g),
                    }) as Gen
                }),
            ),
            other => other,
        }
    }

    fn update(&self, ctx: &Context, event: &Op) -> Option<Gen> {
        let g = self.gen.update(ctx, event)?;
        Some(Box::new(ConcurrencyLimit {
            n: self.n,
            gen: share(g),
        }))
    }
}

/// Pending while `n` or more visible threads are busy (at most `n` ops of this generator's
/// threads in flight).
pub fn concurrency_limit(n: usize, gen: Gen) -> Gen {
    Box::new(ConcurrencyLimit { n, gen: share(gen) })
}

struct Synchronize(Shared);

impl Generator for Synchronize {
    fn op(&self, ctx: &Context) -> Poll {
        if ctx.free_thread_count() != ctx.thread_count() {
            return Poll::Pending;
        }
        match self.0.op(ctx) {
            // Synchronised once: from now on, just the child.
            Poll::Op(op, next) => Poll::Op(op, Some(next.unwrap_or_else(|| boxed(self.0.clone())))),
            other => other,
        }
    }

    fn update(&self, ctx: &Context, event: &Op) -> Option<Gen> {
        let g = self.0.update(ctx, event)?;
        Some(Box::new(Synchronize(share(g))))
    }
}

/// Waits until every visible thread is free, then behaves as `gen`.
pub fn synchronize(gen: Gen) -> Gen {
    Box::new(Synchronize(share(gen)))
}

/// Each generator in turn, waiting for all threads to be free before starting the next.
pub fn phases(gens: Vec<Gen>) -> Gen {
    concat(gens.into_iter().map(synchronize).collect())
}

/// Jepsen's `then`, argument order included: `b`, then (synchronised) `a`. Reads well as
/// `then(read_once, writes)`: writes, then the read.
pub fn then(a: Gen, b: Gen) -> Gen {
    concat(vec![b, synchronize(a)])
}
