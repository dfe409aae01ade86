//! Independent keys (Jepsen's `jepsen.independent`): run one sub-generator per key and wrap
//! values as `[k v]` tuples, so a checker can split the history by key.

use crate::basic::map;
use crate::context::{Context, Thread, ThreadSet};
use crate::gen::{share, Candidate, Gen, GenKind, Generator, Poll, Shared, Soonest};
use crate::threads::{clients, MaskCache};
use rift_history::{Op, Value};
use std::sync::Arc;

/// `[k v]`, Jepsen's independent tuple.
pub fn tuple(k: Value, v: Value) -> Value {
    Value::Vector(vec![k, v])
}

type KeyFn = dyn Fn(&Value) -> Gen + Send + Sync;

/// Wraps invocation values of `gen` as `[k v]`.
fn tuple_gen(k: Value, gen: Gen) -> Gen {
    map(
        move |mut op| {
            if op.kind == GenKind::Invoke {
                op.value = tuple(k.clone(), std::mem::take(&mut op.value));
            }
            op
        },
        gen,
    )
}

/// The event with its value unwrapped from `[k v]` to `v` (left alone if not a pair).
fn unlift(event: &Op) -> Op {
    let mut e = event.clone();
    if let Value::Vector(v) = &event.value {
        if v.len() == 2 {
            e.value = v[1].clone();
        }
    }
    e
}

struct Sequential {
    keys: Arc<[Value]>,
    f: Arc<KeyFn>,
    pos: usize,
    cur: Option<Shared>,
}

impl Sequential {
    fn make(&self, pos: usize) -> Shared {
        let k = self.keys[pos].clone();
        share(tuple_gen(k.clone(), (self.f)(&k)))
    }
}

impl Generator for Sequential {
    fn op(&self, ctx: &Context) -> Poll {
        let mut pos = self.pos;
        let mut cur = self.cur.clone();
        while pos < self.keys.len() {
            let g = cur.take().unwrap_or_else(|| self.make(pos));
            match g.op(ctx) {
                Poll::Op(op, next) => {
                    let cur = Some(next.map(share).unwrap_or(g));
                    let next = Sequential {
                        keys: self.keys.clone(),
                        f: self.f.clone(),
                        pos,
                        cur,
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
        let g = self.cur.as_ref()?.update(ctx, &unlift(event))?;
        Some(Box::new(Sequential {
            keys: self.keys.clone(),
            f: self.f.clone(),
            pos: self.pos,
            cur: Some(share(g)),
        }))
    }
}

/// One key at a time: ops of `f(k1)` until it is exhausted, then `f(k2)`, ...; values
/// wrapped as `[k v]`. Updates reach the current key's generator with values unwrapped.
pub fn sequential_generator<F>(keys: Vec<Value>, f: F) -> Gen
where
    F: Fn(&Value) -> Gen + Send + Sync + 'static,
{
    Box::new(Sequential {
        keys: keys.into(),
        f: Arc::new(f),
        pos: 0,
        cur: None,
    })
}

struct Concurrent {
    n: usize,
    keys: Arc<[Value]>,
    f: Arc<KeyFn>,
    masks: Arc<MaskCache>,
    /// The next unused key.
    next_key: usize,
    /// One generator per group (`None`: out of keys); empty before the first ask.
    gens: Arc<[Option<Shared>]>,
}

impl Concurrent {
    /// One mask per group: visible threads in order, `n` at a time (a remainder smaller than
    /// `n` gets no group).
    fn group_masks(&self, ctx: &Context) -> Arc<Vec<ThreadSet>> {
        let n = self.n;
        self.masks.get(ctx, |c| {
            let threads: Vec<Thread> = c.threads().collect();
            threads
                .chunks_exact(n.max(1))
                .map(|g| c.thread_mask(|t| g.contains(&t)))
                .collect()
        })
    }

    fn make(&self, k: usize) -> Option<Shared> {
        let key = self.keys.get(k)?.clone();
        Some(share(tuple_gen(key.clone(), (self.f)(&key))))
    }

    /// Initial generators and next key: the first keys go to the groups in order.
    fn init(&self, groups: usize) -> (Vec<Option<Shared>>, usize) {
        if !self.gens.is_empty() || groups == 0 {
            return (self.gens.to_vec(), self.next_key);
        }
        let gens: Vec<_> = (0..groups).map(|g| self.make(self.next_key + g)).collect();
        (gens, (self.next_key + groups).min(self.keys.len()))
    }
}

impl Generator for Concurrent {
    fn op(&self, ctx: &Context) -> Poll {
        if self.n == 0 {
            return Poll::Exhausted;
        }
        let masks = self.group_masks(ctx);
        let (mut gens, mut next_key) = self.init(masks.len());
        let mut best = Soonest::new(ctx.time_ns());
        let mut pending = false;
        for (group, mask) in masks.iter().enumerate() {
            let sub = ctx.restrict(mask);
            if sub.free_thread_count() == 0 {
                continue;
            }
            while let Some(g) = gens[group].clone() {
                match g.op(&sub) {
                    Poll::Op(op, next) => {
                        let weight = mask.len() as u64;
                        let c = Candidate {
                            op,
                            next,
                            index: group,
                            weight,
                        };
                        best.offer(ctx, c);
                        break;
                    }
                    Poll::Pending => {
                        pending = true;
                        break;
                    }
                    Poll::Exhausted => {
                        gens[group] = self.make(next_key);
                        next_key = (next_key + 1).min(self.keys.len());
                    }
                }
            }
        }
        if let Some(c) = best.take() {
            if let (Some(n), Some(g)) = (c.next, &mut gens[c.index]) {
                *g = share(n);
            }
            let next = Concurrent {
                n: self.n,
                keys: self.keys.clone(),
                f: self.f.clone(),
                masks: self.masks.clone(),
                next_key,
                gens: gens.into(),
            };
            return Poll::Op(c.op, Some(Box::new(next)));
        }
        if pending || gens.iter().any(Option::is_some) {
            Poll::Pending
        } else {
            Poll::Exhausted
        }
    }

    fn update(&self, ctx: &Context, event: &Op) -> Option<Gen> {
        let t = ctx.thread_of(&event.process)?;
        let i = ctx.thread_index(t)?;
        let masks = self.group_masks(ctx);
        let group = masks.iter().position(|m| m.contains(i))?;
        let g = self.gens.get(group)?.as_ref()?;
        let n = g.update(&ctx.restrict(&masks[group]), &unlift(event))?;
        let mut gens = self.gens.to_vec();
        gens[group] = Some(share(n));
        Some(Box::new(Concurrent {
            n: self.n,
            keys: self.keys.clone(),
            f: self.f.clone(),
            masks: self.masks.clone(),
            next_key: self.next_key,
            gens: gens.into(),
        }))
    }
}

/// Client threads in groups of `n` (threads 0..n, n..2n, ...), each group working on one key
/// at a time; when a group's generator `f(k)` is exhausted it takes the next unused key.
/// Values are wrapped as `[k v]`; updates reach the group's generator with values unwrapped.
/// Runs on client threads only. If the concurrency is not a multiple of `n`, the remaining
/// threads get no key (Jepsen refuses such a test); `n` = 0 or greater than the concurrency
/// gives an exhausted generator.
pub fn concurrent_generator<F>(n: usize, keys: Vec<Value>, f: F) -> Gen
where
    F: Fn(&Value) -> Gen + Send + Sync + 'static,
{
    clients(Box::new(Concurrent {
        n,
        keys: keys.into(),
        f: Arc::new(f),
        masks: Arc::default(),
        next_key: 0,
        gens: Arc::new([]),
    }))
}
