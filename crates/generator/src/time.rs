//! Combinators about time: time_limit, stagger, delay, sleep, log, cycle_times.

use crate::basic::once;
use crate::context::Context;
use crate::gen::{advance, share, Gen, GenOp, Generator, Poll, Shared};
use rand::Rng;
use rift_history::Op;
use std::sync::Arc;

/// How many windows [`cycle_times`] may skip in one `op` call looking for one whose
/// generator's next op fits, before answering `Pending`.
pub const CYCLE_TIMES_MAX_SKIPS: usize = 100_000;

struct TimeLimit {
    dt_ns: i64,
    cutoff_ns: Option<i64>,
    gen: Shared,
}

impl Generator for TimeLimit {
    fn op(&self, ctx: &Context) -> Poll {
        if self.dt_ns <= 0 || self.cutoff_ns.is_some_and(|c| ctx.time_ns() >= c) {
            return Poll::Exhausted;
        }
        match self.gen.op(ctx) {
            Poll::Op(op, next) => {
                let t = op.time_or(ctx.time_ns());
                let cutoff = self.cutoff_ns.unwrap_or(t.saturating_add(self.dt_ns));
                if t >= cutoff {
                    return Poll::Exhausted;
                }
                let next = TimeLimit {
                    dt_ns: self.dt_ns,
                    cutoff_ns: Some(cutoff),
                    gen: advance(&self.gen, next),
                };
                Poll::Op(op, Some(Box::new(next)))
            }
            other => other,
        }
    }

    fn update(&self, ctx: &Context, event: &Op) -> Option<Gen> {
        let g = self.gen.update(ctx, event)?;
        Some(Box::new(TimeLimit {
            dt_ns: self.dt_ns,
            cutoff_ns: self.cutoff_ns,
            gen: share(g),
        }))
    }
}

/// Ops from `gen` for `dt_ns` after its first op; then exhausted. Unlike Jepsen's, once the
/// cutoff has passed it is exhausted even while `gen` is pending (Jepsen would wait for
/// `gen`'s next op only to drop it).
pub fn time_limit(dt_ns: i64, gen: Gen) -> Gen {
    Box::new(TimeLimit {
        dt_ns,
        cutoff_ns: None,
        gen: share(gen),
    })
}

/// A uniformly random gap in `[0, span)`.
fn gap(ctx: &Context, span_ns: i64) -> i64 {
    if span_ns <= 0 {
        0
    } else {
        ctx.rng().random_range(0..span_ns)
    }
}

struct Stagger {
    span_ns: i64,
    next_ns: Option<i64>,
    gen: Shared,
}

impl Generator for Stagger {
    fn op(&self, ctx: &Context) -> Poll {
        match self.gen.op(ctx) {
            Poll::Op(mut op, next) => {
                let now = ctx.time_ns();
                let due = self.next_ns.unwrap_or(now);
                let t = op.time_or(now);
                let at = if due <= t {
                    t
                } else {
                    op.time_ns = Some(due);
                    due
                };
                // The next op is scheduled from this op's due time, not from when it actually
                // went out: a scheduler that wakes a little late (timers have ~1 ms
                // resolution) must not slow the total rate down. Only when the schedule has
                // fallen behind by more than a whole span, or 10 ms for fast rates (every thread
                // busy, a slow system) does it restart from now, so a backlog never turns into
                // more than a 10 ms burst.
                let tolerance_ns = self.span_ns.max(10_000_000);
                let base = if at - due <= tolerance_ns { due } else { at };
                let next = Stagger {
                    span_ns: self.span_ns,
                    next_ns: Some(base + gap(ctx, self.span_ns)),
                    gen: advance(&self.gen, next),
                };
                Poll::Op(op, Some(Box::new(next)))
            }
            other => other,
        }
    }

    fn update(&self, ctx: &Context, event: &Op) -> Option<Gen> {
        let g = self.gen.update(ctx, event)?;
        Some(Box::new(Stagger {
            span_ns: self.span_ns,
            next_ns: self.next_ns,
            gen: share(g),
        }))
    }
}

/// Schedules `gen`'s ops at uniformly random intervals in `[0, 2 dt)`: about one op every
/// `dt_ns` in total across all threads (Jepsen's current `stagger`, not the old per-thread
/// one). The first op is not delayed.
pub fn stagger(dt_ns: i64, gen: Gen) -> Gen {
    Box::new(Stagger {
        span_ns: dt_ns.saturating_mul(2),
        next_ns: None,
        gen: share(gen),
    })
}

struct Delay {
    dt_ns: i64,
    next_ns: Option<i64>,
    gen: Shared,
}

impl Generator for Delay {
    fn op(&self, ctx: &Context) -> Poll {
        match self.gen.op(ctx) {
            Poll::Op(mut op, next) => {
                let t = op
                    .time_or(ctx.time_ns())
                    .max(self.next_ns.unwrap_or(i64::MIN));
                op.time_ns = Some(t);
                let next = Delay {
                    dt_ns: self.dt_ns,
                    next_ns: Some(t.saturating_add(self.dt_ns)),
                    gen: advance(&self.gen, next),
                };
                Poll::Op(op, Some(Box::new(next)))
            }
            other => other,
        }
    }

    fn update(&self, ctx: &Context, event: &Op) -> Option<Gen> {
        let g = self.gen.update(ctx, event)?;
        Some(Box::new(Delay {
            dt_ns: self.dt_ns,
            next_ns: self.next_ns,
            gen: share(g),
        }))
    }
}

/// Schedules `gen`'s ops exactly `dt_ns` apart (an op is never earlier than the previous
/// op's time plus `dt_ns`); ops come sooner together if it falls behind.
pub fn delay(dt_ns: i64, gen: Gen) -> Gen {
    Box::new(Delay {
        dt_ns,
        next_ns: None,
        gen: share(gen),
    })
}

/// One Sleep op: the receiving thread idles for `dt_ns`. `repeat(sleep(dt))` sleeps for ever.
pub fn sleep(dt_ns: i64) -> Gen {
    once(GenOp::sleep(dt_ns))
}

/// One Log op: the receiving thread logs `message`.
pub fn log(message: &str) -> Gen {
    once(GenOp::log(message))
}

struct CycleTimes {
    period_ns: i64,
    t0_ns: Option<i64>,
    intervals: Arc<[i64]>,
    gens: Arc<[Shared]>,
}

impl CycleTimes {
    /// The window index at `in_period` and the window's start offset.
    fn window(&self, in_period: i64) -> (usize, i64) {
        let mut start = 0;
        for (i, d) in self.intervals.iter().enumerate() {
            if in_period < start + d {
                return (i, start);
            }
            start += d;
        }
        (
            self.intervals.len() - 1,
            start - self.intervals[self.intervals.len() - 1],
        )
    }
}

impl Generator for CycleTimes {
    fn op(&self, ctx: &Context) -> Poll {
        if self.gens.is_empty() || self.period_ns <= 0 {
            return Poll::Exhausted;
        }
        let now = ctx.time_ns();
        let t0 = self.t0_ns.unwrap_or(now);
        let in_period = (now - t0).rem_euclid(self.period_ns);
        let (mut i, offset) = self.window(in_period);
        let mut start = now - in_period + offset;
        for _ in 0..CYCLE_TIMES_MAX_SKIPS {
            let end = start + self.intervals[i];
            let sub = ctx.with_time(now.max(start));
            match self.gens[i].op(&sub) {
                Poll::Exhausted => return Poll::Exhausted,
                Poll::Pending => return Poll::Pending,
                Poll::Op(op, next) if op.time_or(sub.time_ns()) < end => {
                    let mut gens = self.gens.clone();
                    if let Some(g) = next {
                        let mut v = gens.to_vec();
                        v[i] = share(g);
                        gens = v.into();
                    }
                    let next = CycleTimes {
                        period_ns: self.period_ns,
                        t0_ns: Some(t0),
                        intervals: self.intervals.clone(),
                        gens,
                    };
                    return Poll::Op(op, Some(Box::new(next)));
                }
                Poll::Op(..) => {
                    i = (i + 1) % self.gens.len();
                    start = end;
                }
            }
        }
        Poll::Pending
    }

    fn update(&self, ctx: &Context, event: &Op) -> Option<Gen> {
        let mut out: Option<Vec<Shared>> = None;
        for (i, g) in self.gens.iter().enumerate() {
            if let Some(n) = g.update(ctx, event) {
                out.get_or_insert_with(|| self.gens.to_vec())[i] = share(n);
            }
        }
        let gens = out?;
        Some(Box::new(CycleTimes {
            period_ns: self.period_ns,
            t0_ns: self.t0_ns,
            intervals: self.intervals.clone(),
            gens: gens.into(),
        }))
    }
}

/// Rotates between generators on a schedule: the first for `dt1` ns, the second for `dt2`,
/// ..., then the first again; each keeps its state from round to round (so a nemesis
/// sequence carries on where it stopped). The clock starts at the first ask. A generator
/// whose next op would fall after its window ends is skipped for that window. Exhausted as
/// soon as the generator asked is exhausted. Windows of zero or negative length are dropped.
/// Updates go to every generator.
pub fn cycle_times(specs: Vec<(i64, Gen)>) -> Gen {
    let specs: Vec<(i64, Gen)> = specs.into_iter().filter(|(d, _)| *d > 0).collect();
    let period_ns = specs
        .iter()
        .map(|(d, _)| *d)
        .fold(0i64, i64::saturating_add);
    let intervals: Arc<[i64]> = specs.iter().map(|(d, _)| *d).collect();
    Box::new(CycleTimes {
        period_ns,
        t0_ns: None,
        intervals,
        gens: specs.into_iter().map(|(_, g)| share(g)).collect(),
    })
}
