//! Leaf generators and the combinators that do not look at threads or time.

use crate::context::Context;
use crate::gen::{advance, share, Gen, GenOp, Generator, Nil, Poll, Shared};
use rand::Rng;
use rift_history::{Op, OpType, Process, Value};
use std::sync::Arc;

/// How many ops a [`filter`] may reject in one `op` call before it answers `Pending` (guards
/// against a filter that rejects an unchanging generator forever).
pub const FILTER_MAX_REJECTS: usize = 1_000;

struct Once(GenOp);

impl Generator for Once {
    fn op(&self, ctx: &Context) -> Poll {
        match self.0.fill_in(ctx) {
            Some(op) => Poll::Op(op, Some(Box::new(Nil))),
            None => Poll::Pending,
        }
    }
}

/// Emits `op` once (Jepsen's op map `{:f :read}` used as a generator). Pending while no
/// visible thread is free; process and time are filled in from the context.
pub fn once(op: GenOp) -> Gen {
    Box::new(Once(op))
}

struct FromFn<F>(F);

impl<F> Generator for FromFn<F>
where
    F: Fn(&Context) -> Option<GenOp> + Send + Sync,
{
    fn op(&self, ctx: &Context) -> Poll {
        if ctx.free_thread_count() == 0 {
            return Poll::Pending;
        }
        match (self.0)(ctx) {
            None => Poll::Exhausted,
            Some(op) => match op.fill_in(ctx) {
                Some(op) => Poll::Op(op, None),
                None => Poll::Pending,
            },
        }
    }
}

/// Jepsen's function generators: `f` is called every time an op is asked for while a visible
/// thread is free (including asks whose answer the scheduler discards, so a counter in `f`
/// may skip values under [`crate::stagger`] or [`crate::any`]); `None` means exhausted. Draw
/// randomness from `ctx.rng()`. Unlike Jepsen, `f` is not called while no thread is free.
pub fn from_fn<F>(f: F) -> Gen
where
    F: Fn(&Context) -> Option<GenOp> + Send + Sync + 'static,
{
    Box::new(FromFn(f))
}

struct Limit {
    remaining: u64,
    gen: Shared,
}

impl Generator for Limit {
    fn op(&self, ctx: &Context) -> Poll {
        if self.remaining == 0 {
            return Poll::Exhausted;
        }
        match self.gen.op(ctx) {
            Poll::Op(op, next) => Poll::Op(
                op,
                Some(Box::new(Limit {
                    remaining: self.remaining - 1,
                    gen: advance(&self.gen, next),
                })),
            ),
            other => other,
        }
    }

    fn update(&self, ctx: &Context, event: &Op) -> Option<Gen> {
        let g = self.gen.update(ctx, event)?;
        Some(Box::new(Limit {
            remaining: self.remaining,
            gen: share(g),
        }))
    }
}

/// At most `n` ops from `gen`. Updates go to `gen`.
pub fn limit(n: u64, gen: Gen) -> Gen {
    Box::new(Limit {
        remaining: n,
        gen: share(gen),
    })
}

struct Repeat {
    /// Remaining ops, or `None` for ever.
    remaining: Option<u64>,
    gen: Shared,
}

impl Generator for Repeat {
    fn op(&self, ctx: &Context) -> Poll {
        if self.remaining == Some(0) {
            return Poll::Exhausted;
        }
        match self.gen.op(ctx) {
            Poll::Op(op, _) => {
                let next = self.remaining.map(|r| {
                    Box::new(Repeat {
                        remaining: Some(r - 1),
                        gen: self.gen.clone(),
                    }) as Gen
                });
                Poll::Op(op, next)
            }
            other => other,
        }
    }

    fn update(&self, ctx: &Context, event: &Op) -> Option<Gen> {
        let g = self.gen.update(ctx, event)?;
        Some(Box::new(Repeat {
            remaining: self.remaining,
            gen: share(g),
        }))
    }
}

/// Re-asks `gen` for ever without advancing it: `repeat(once(op))` emits `op` for ever. A
/// random generator gives different ops each time (nothing is memoised).
pub fn repeat(gen: Gen) -> Gen {
    Box::new(Repeat {
        remaining: None,
        gen: share(gen),
    })
}

/// Like [`repeat`], at most `n` times.
pub fn repeat_n(n: u64, gen: Gen) -> Gen {
    Box::new(Repeat {
        remaining: Some(n),
        gen: share(gen),
    })
}

struct Cycle {
    /// Remaining rounds (including the current one), or `None` for ever.
    remaining: Option<u64>,
    original: Shared,
    gen: Shared,
}

impl Generator for Cycle {
    fn op(&self, ctx: &Context) -> Poll {
        let mut remaining = self.remaining;
        let mut gen = self.gen.clone();
        let mut fresh = false;
        loop {
            if remaining == Some(0) {
                return Poll::Exhausted;
            }
            match gen.op(ctx) {
                Poll::Op(op, next) => {
                    let next = Cycle {
                        remaining,
                        original: self.original.clone(),
                        gen: advance(&gen, next),
                    };
                    return Poll::Op(op, Some(Box::new(next)));
                }
                Poll::Pending => return Poll::Pending,
                // A fresh copy that is exhausted at once would cycle for ever.
                Poll::Exhausted if fresh => return Poll::Exhausted,
                Poll::Exhausted => {
                    remaining = remaining.map(|r| r - 1);
                    gen = self.original.clone();
                    fresh = true;
                }
            }
        }
    }

    fn update(&self, ctx: &Context, event: &Op) -> Option<Gen> {
        let g = self.gen.update(ctx, event)?;
        Some(Box::new(Cycle {
            remaining: self.remaining,
            original: self.original.clone(),
            gen: share(g),
        }))
    }
}

/// Runs `gen` to exhaustion, then starts again from its original state, for ever. Updates
/// go to the current round only. A generator that is exhausted from the start makes this one
/// exhausted too.
pub fn cycle(gen: Gen) -> Gen {
    let g = share(gen);
    Box::new(Cycle {
        remaining: None,
        original: g.clone(),
        gen: g,
    })
}

/// Like [`cycle`], `n` rounds.
pub fn cycle_n(n: u64, gen: Gen) -> Gen {
    let g = share(gen);
    Box::new(Cycle {
        remaining: Some(n),
        original: g.clone(),
        gen: g,
    })
}

struct Seq {
    gens: Arc<[Shared]>,
    pos: usize,
    head: Option<Shared>,
}

impl Generator for Seq {
    fn op(&self, ctx: &Context) -> Poll {
        let mut pos = self.pos;
        let mut head = self.head.clone();
        while pos < self.gens.len() {
            let g = head.take().unwrap_or_else(|| self.gens[pos].clone());
            match g.op(ctx) {
                Poll::Op(op, next) => {
                    let next = Seq {
                        gens: self.gens.clone(),
                        pos,
                        head: Some(advance(&g, next)),
                    };
                    return Poll::Op(op, Some(Box::new(next)));
                }
                Poll::Pending => return Poll::Pending,
                Poll::Exhausted => pos += 1,
            }
        }
        Poll::Exhausted
    }

    fn update(&self, ctx: &Context, event: &Op) -> Option<Gen> {
        let cur = self
            .head
            .clone()
            .or_else(|| self.gens.get(self.pos).cloned())?;
        let g = cur.update(ctx, event)?;
        Some(Box::new(Seq {
            gens: self.gens.clone(),
            pos: self.pos,
            head: Some(share(g)),
        }))
    }
}

/// Everything from the first generator, then from the second, ... (Jepsen's vectors and
/// seqs of generators). Updates go to the current one. No synchronisation between them: use
/// [`crate::phases`] for that.
pub fn concat(gens: Vec<Gen>) -> Gen {
    Box::new(Seq {
        gens: gens.into_iter().map(share).collect(),
        pos: 0,
        head: None,
    })
}

/// Same as [`concat`] (Jepsen users say both).
pub fn sequence(gens: Vec<Gen>) -> Gen {
    concat(gens)
}

type MapFn = dyn Fn(GenOp, &Context) -> GenOp + Send + Sync;

struct Map {
    f: Arc<MapFn>,
    gen: Shared,
}

impl Generator for Map {
    fn op(&self, ctx: &Context) -> Poll {
        match self.gen.op(ctx) {
            Poll::Op(op, next) => {
                let next = next.map(|g| {
                    Box::new(Map {
                        f: self.f.clone(),
                        gen: share(g),
                    }) as Gen
                });
                Poll::Op((self.f)(op, ctx), next)
            }
            other => other,
        }
    }

    fn update(&self, ctx: &Context, event: &Op) -> Option<Gen> {
        let g = self.gen.update(ctx, event)?;
        Some(Box::new(Map {
            f: self.f.clone(),
            gen: share(g),
        }))
    }
}

/// Transforms every op of `gen` with `f` (pending and exhaustion pass through untouched).
pub fn map<F>(f: F, gen: Gen) -> Gen
where
    F: Fn(GenOp) -> GenOp + Send + Sync + 'static,
{
    map_ctx(move |op, _| f(op), gen)
}

/// Like [`map`], with the context (Jepsen's `(f op test ctx)`).
pub fn map_ctx<F>(f: F, gen: Gen) -> Gen
where
    F: Fn(GenOp, &Context) -> GenOp + Send + Sync + 'static,
{
    Box::new(Map {
        f: Arc::new(f),
        gen: share(gen),
    })
}

/// Renames `f`s: an op whose `f` equals a mapping's first element gets its second. Unlike
/// Jepsen (whose map lookup turns an unmapped `f` into nil), unmapped `f`s are kept.
pub fn f_map(mapping: Vec<(Value, Value)>, gen: Gen) -> Gen {
    map(
        move |mut op| {
            if let Some((_, to)) = mapping.iter().find(|(from, _)| *from == op.f) {
                op.f = to.clone();
            }
            op
        },
        gen,
    )
}

type Pred = dyn Fn(&GenOp) -> bool + Send + Sync;

struct Filter {
    pred: Arc<Pred>,
    gen: Shared,
}

impl Generator for Filter {
    fn op(&self, ctx: &Context) -> Poll {
        let mut g = self.gen.clone();
        for _ in 0..FILTER_MAX_REJECTS {
            match g.op(ctx) {
                Poll::Op(op, next) => {
                    if (self.pred)(&op) {
                        let next = Filter {
                            pred: self.pred.clone(),
                            gen: advance(&g, next),
                        };
                        return Poll::Op(op, Some(Box::new(next)));
                    }
                    g = advance(&g, next);
                }
                other => return other,
            }
        }
        Poll::Pending
    }

    fn update(&self, ctx: &Context, event: &Op) -> Option<Gen> {
        let g = self.gen.update(ctx, event)?;
        Some(Box::new(Filter {
            pred: self.pred.clone(),
            gen: share(g),
        }))
    }
}

/// Only the ops of `gen` satisfying `pred`; rejected ops are skipped (the generator advances
/// past them). After [`FILTER_MAX_REJECTS`] rejections in a row it answers `Pending`.
pub fn filter<F>(pred: F, gen: Gen) -> Gen
where
    F: Fn(&GenOp) -> bool + Send + Sync + 'static,
{
    Box::new(Filter {
        pred: Arc::new(pred),
        gen: share(gen),
    })
}

struct Mix {
    /// The child to ask next; `None` before the first op (drawn then).
    i: Option<usize>,
    gens: Arc<[Shared]>,
}

impl Generator for Mix {
    fn op(&self, ctx: &Context) -> Poll {
        let mut gens = self.gens.clone();
        let mut i = self.i;
        while !gens.is_empty() {
            let k = match i {
                Some(k) if k < gens.len() => k,
                _ => ctx.rng().random_range(0..gens.len()),
            };
            match gens[k].op(ctx) {
                Poll::Op(op, next) => {
                    if let Some(g) = next {
                        let mut v = gens.to_vec();
                        v[k] = share(g);
                        gens = v.into();
                    }
                    let i = Some(ctx.rng().random_range(0..gens.len()));
                    return Poll::Op(op, Some(Box::new(Mix { i, gens })));
                }
                Poll::Pending => return Poll::Pending,
                Poll::Exhausted => {
                    let mut v = gens.to_vec();
                    v.remove(k);
                    gens = v.into();
                    i = None;
                }
            }
        }
        Poll::Exhausted
    }
}

/// A random mixture: each op comes from a child chosen uniformly at random (exhausted
/// children drop out). Ignores updates, as Jepsen's. While the chosen child is pending, the
/// mix is pending (Jepsen's behaviour).
pub fn mix(gens: Vec<Gen>) -> Gen {
    Box::new(Mix {
        i: None,
        gens: gens.into_iter().map(share).collect(),
    })
}

struct FlipFlop {
    gens: [Shared; 2],
    i: usize,
}

impl Generator for FlipFlop {
    fn op(&self, ctx: &Context) -> Poll {
        match self.gens[self.i].op(ctx) {
            Poll::Op(op, next) => {
                let mut gens = self.gens.clone();
                gens[self.i] = advance(&gens[self.i], next);
                let i = 1 - self.i;
                Poll::Op(op, Some(Box::new(FlipFlop { gens, i })))
            }
            other => other,
        }
    }
}

/// An op from `a`, then one from `b`, then `a`... Exhausted as soon as the one whose turn it
/// is is exhausted. Ignores updates, as Jepsen's.
pub fn flip_flop(a: Gen, b: Gen) -> Gen {
    Box::new(FlipFlop {
        gens: [share(a), share(b)],
        i: 0,
    })
}

#[derive(Clone)]
struct UntilOk {
    gen: Shared,
    done: bool,
    active: Arc<Vec<Process>>,
}

impl Generator for UntilOk {
    fn op(&self, ctx: &Context) -> Poll {
        if self.done {
            return Poll::Exhausted;
        }
        match self.gen.op(ctx) {
            Poll::Op(op, next) => {
                let mut active = self.active.clone();
                if let Some(p) = &op.process {
                    if !active.contains(p) {
                        Arc::make_mut(&mut active).push(p.clone());
                    }
                }
                let gen = advance(&self.gen, next);
                let next = UntilOk {
                    gen,
                    done: false,
                    active,
                };
                Poll::Op(op, Some(Box::new(next)))
            }
            other => other,
        }
    }

    fn update(&self, ctx: &Context, event: &Op) -> Option<Gen> {
        let inner = self.gen.update(ctx, event);
        let mine = self.active.contains(&event.process) && event.ty != OpType::Invoke;
        if inner.is_none() && !mine {
            return None;
        }
        let mut next = self.clone();
        if let Some(g) = inner {
            next.gen = share(g);
        }
        if mine {
            Arc::make_mut(&mut next.active).retain(|p| *p != event.process);
            next.done |= event.ty == OpType::Ok;
        }
        Some(Box::new(next))
    }
}

/// Ops from `gen` until one of them completes `ok`; then exhausted. Ops already in flight
/// still complete normally.
pub fn until_ok(gen: Gen) -> Gen {
    Box::new(UntilOk {
        gen: share(gen),
        done: false,
        active: Arc::new(Vec::new()),
    })
}
