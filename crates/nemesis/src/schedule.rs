//! Rotating fault schedules: every window, a random subset of the packages runs.

use std::sync::Arc;

use rand::Rng;
use rift_generator::{concat, nemesis, Context, Gen, GenOp, Generator, Poll};

use crate::package::Package;

/// How many empty windows [`rotating`] may skip in one `op` call before it answers
/// `Pending` (a schedule where no package ever has an op must not loop for ever).
pub const ROTATING_MAX_SKIPS: usize = 1_000;

pub(crate) type Shared = Arc<dyn Generator>;

/// A shared generator as a boxed one.
pub(crate) struct SharedGen(pub(crate) Shared);

impl Generator for SharedGen {
    fn op(&self, ctx: &Context) -> Poll {
        self.0.op(ctx)
    }
}

/// One package's generators, kept to restart them.
struct Entry {
    generator: Shared,
    final_generator: Option<Shared>,
}

/// The rotating schedule's state (immutable, as every generator).
#[derive(Clone)]
struct Rotating {
    entries: Arc<[Entry]>,
    interval_ns: i64,
    /// The current window `[start, end)`; `None` before the first op.
    window: Option<(i64, i64)>,
    /// Per package: its current generator while it is in the window.
    states: Arc<[Option<Shared>]>,
    /// Heals of the packages that left at the window's start, run before anything else.
    heal: Option<Shared>,
}

impl Rotating {
    /// The next window, starting at `start`: each package is in it with probability 1/2 (so
    /// sometimes none is). Packages that stay keep their state; packages that join start
    /// afresh; packages that leave have their final generators queued as the heal.
    fn rotate(&self, ctx: &Context, start: i64) -> Rotating {
        let mut states = Vec::with_capacity(self.entries.len());
        let mut heals = Vec::new();
        for (e, cur) in self.entries.iter().zip(self.states.iter()) {
            let keep = ctx.rng().random_bool(0.5);
            match (keep, cur) {
                (true, Some(s)) => states.push(Some(s.clone())),
                (true, None) => states.push(Some(e.generator.clone())),
                (false, cur) => {
                    if cur.is_some() {
                        if let Some(f) = &e.final_generator {
                            heals.push(Box::new(SharedGen(f.clone())) as Gen);
                        }
                    }
                    states.push(None);
                }
            }
        }
        let mut heal = self.heal.clone();
        if !heals.is_empty() {
            if let Some(h) = heal.take() {
                heals.insert(0, Box::new(SharedGen(h)));
            }
            heal = Some(Arc::from(concat(heals)));
        }
        Rotating {
            entries: self.entries.clone(),
            interval_ns: self.interval_ns,
            window: Some((start, start.saturating_add(self.interval_ns))),
            states: states.into(),
            heal,
        }
    }

    /// The soonest op of the packages in the window, or whether one of them is pending.
    fn soonest(&self, ctx: &Context) -> (Option<(usize, GenOp, Option<Gen>)>, bool) {
        let mut best: Option<(usize, GenOp, Option<Gen>)> = None;
        let mut pending = false;
        for (i, s) in self.states.iter().enumerate() {
            let Some(g) = s else { continue };
            match g.op(ctx) {
                Poll::Op(op, next) => {
                    let t = op.time_or(ctx.time_ns());
                    if best
                        .as_ref()
                        .is_none_or(|(_, b, _)| t < b.time_or(ctx.time_ns()))
                    {
                        best = Some((i, op, next));
                    }
                }
                Poll::Pending => pending = true,
                Poll::Exhausted => {}
            }
        }
        (best, pending)
    }

    /// `self` with package `i` (or the heal, when `None`) advanced.
    fn advanced(self, i: Option<usize>, next: Option<Gen>) -> Rotating {
        let mut r = self;
        let Some(next) = next else { return r };
        let next: Shared = Arc::from(next);
        match i {
            Some(i) => {
                let mut states = r.states.to_vec();
                states[i] = Some(next);
                r.states = states.into();
            }
            None => r.heal = Some(next),
        }
        r
    }
}

impl Generator for Rotating {
    fn op(&self, ctx: &Context) -> Poll {
        let now = ctx.time_ns();
        let (mut st, mut rotated) = match self.window {
            Some(_) => (self.clone(), false),
            None => (self.rotate(ctx, now), true),
        };
        for _ in 0..ROTATING_MAX_SKIPS {
            let Some((start, end)) = st.window else {
                return Poll::Pending;
            };
            let wctx = ctx.with_time(now.max(start));
            if let Some(h) = st.heal.clone() {
                match h.op(&wctx) {
                    Poll::Op(op, next) => {
                        let next = next.unwrap_or_else(|| Box::new(SharedGen(h)));
                        return emit(ctx, op, st, rotated, None, next);
                    }
                    Poll::Pending => return Poll::Pending,
                    Poll::Exhausted => st.heal = None,
                }
            }
            let (best, pending) = st.soonest(&wctx);
            match best {
                Some((i, op, next)) if op.time_or(wctx.time_ns()) < end => {
                    let next = next.unwrap_or_else(|| {
                        let cur = st.states[i].clone();
                        Box::new(SharedGen(
                            cur.unwrap_or_else(|| Arc::from(rift_generator::nil())),
                        ))
                    });
                    return emit(ctx, op, st, rotated, Some(i), next);
                }
                None if pending => return Poll::Pending,
                _ => {
                    st = st.rotate(ctx, end);
                    rotated = true;
                }
            }
        }
        Poll::Pending
    }
}

/// Returns `op` with the state `st` advanced (package `i`, or the heal). When this call drew
/// a new window and `op` lies in the future, a Sleep until then is returned instead with the
/// drawn (not advanced) state: the scheduler would otherwise discard the future op and ask
/// the old state again, drawing the window anew.
fn emit(
    ctx: &Context,
    op: GenOp,
    st: Rotating,
    rotated: bool,
    i: Option<usize>,
    next: Gen,
) -> Poll {
    let now = ctx.time_ns();
    let t = op.time_or(now);
    if rotated && t > now {
        return match GenOp::sleep(t - now).fill_in(ctx) {
            Some(sleep) => Poll::Op(sleep, Some(Box::new(st))),
            None => Poll::Pending,
        };
    }
    Poll::Op(op, Some(Box::new(st.advanced(i, Some(next)))))
}

/// A rotating schedule (as the Bufstream suite's): time is cut into windows of
/// `interval_ns`; at the start of each window a random subset of `packages` is drawn with the
/// context RNG (each package in with probability 1/2, so some windows have no faults), and
/// only their generators run during it. A package that stays keeps its state (an open fault
/// stays open); one that joins starts from its first op; one that leaves has its final
/// generator run (the heal) at the start of the window, before any other op. A package op
/// that would fall after its window's end is not emitted there: it waits for a window where
/// its package is drawn again. No packages: exhausted at once. Runs for ever; bound it with `time_limit`. Updates are
/// ignored, as by Jepsen's `mix`.
pub fn rotating(packages: Vec<Package>, interval_ns: i64) -> Gen {
    let entries: Vec<Entry> = packages
        .into_iter()
        .map(|p| Entry {
            generator: Arc::from(p.generator),
            final_generator: p.final_generator.map(Arc::from),
        })
        .collect();
    let n = entries.len();
    if n == 0 {
        return rift_generator::nil();
    }
    nemesis(Box::new(Rotating {
        entries: entries.into(),
        interval_ns: interval_ns.max(1),
        window: None,
        states: vec![None; n].into(),
        heal: None,
    }))
}

/// [`rotating`] as a package: its final generator heals every package (all finals in
/// sequence, as [`compose`](crate::compose)), its perf specs are all the packages'. Named `rotating(a+b)`.
pub fn rotating_package(packages: Vec<Package>, interval_ns: i64) -> Package {
    let mut finals = Vec::new();
    let mut perf = Vec::new();
    let mut entries = Vec::new();
    let mut names = Vec::new();
    for p in packages {
        names.push(p.name.clone());
        let fin: Option<Shared> = p.final_generator.map(Arc::from);
        if let Some(f) = &fin {
            finals.push(Box::new(SharedGen(f.clone())) as Gen);
        }
        perf.extend(p.perf.iter().cloned());
        entries.push(Package {
            name: p.name,
            generator: p.generator,
            ops: None,
            interval_ns: p.interval_ns,
            final_generator: fin.map(|f| Box::new(SharedGen(f)) as Gen),
            perf: Vec::new(),
        });
    }
    Package {
        name: format!("rotating({})", names.join("+")),
        generator: rotating(entries, interval_ns),
        ops: None,
        interval_ns,
        final_generator: (!finals.is_empty()).then(|| concat(finals)),
        perf,
    }
}
