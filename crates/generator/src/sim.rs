//! [`simulate`]: deterministic simulation of a generator in virtual time, for tests.

use crate::context::{Context, Thread};
use crate::gen::Gen;
use crate::scheduler::{Action, Next, Scheduler, SchedulerConfig};
use rift_history::{Op, OpType, Value};
use std::cmp::Reverse;
use std::collections::BinaryHeap;

/// How many times in a row the simulator lets a generator stay pending with nothing in
/// flight (each retry advances virtual time by [`crate::PENDING_RETRY_NS`]) before it gives
/// up and returns the history so far: 10,000 retries = 10 s of virtual idleness.
pub const SIM_MAX_IDLE_RETRIES: usize = 10_000;

/// Sleep and Log actions allowed per `max_ops` (plus 1,000): a generator that only sleeps
/// (`repeat(sleep(dt))` with nothing else) would otherwise run for ever.
pub const SIM_SPECIALS_PER_OP: usize = 16;

/// Simulation settings.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SimConfig {
    /// Number of client threads.
    pub concurrency: u32,
    /// Whether there is a nemesis thread.
    pub nemesis: bool,
    /// The seed of the context RNG.
    pub seed: u64,
    /// Stop dispatching after this many invocations (in-flight ones still complete).
    pub max_ops: usize,
}

/// A completion due at a virtual time; ties complete in dispatch order.
struct Due {
    time_ns: i64,
    seq: u64,
    thread: Thread,
    /// The completion op, or `None` for Sleep/Log.
    completion: Option<Op>,
}

impl PartialEq for Due {
    fn eq(&self, other: &Due) -> bool {
        (self.time_ns, self.seq) == (other.time_ns, other.seq)
    }
}

impl Eq for Due {}

impl PartialOrd for Due {
    fn partial_cmp(&self, other: &Due) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Due {
    fn cmp(&self, other: &Due) -> std::cmp::Ordering {
        (self.time_ns, self.seq).cmp(&(other.time_ns, other.seq))
    }
}

/// Drives a [`Scheduler`] in virtual time. `complete` is called at dispatch time for each
/// invocation, with the scheduler's context, and returns the completion's type, value and
/// latency (negative latencies count as 0). Sleeps last their duration; logs take no time.
/// Completions due at or before the current time are delivered before the generator is asked
/// again (as Jepsen's interpreter does), in time then dispatch order.
///
/// Returns the history ops (invocations and completions, indexed densely, with times), not
/// Sleep/Log. Bounded by `cfg.max_ops` invocations, by [`SIM_SPECIALS_PER_OP`] and by
/// [`SIM_MAX_IDLE_RETRIES`].
pub fn simulate(
    gen: Gen,
    cfg: SimConfig,
    mut complete: impl FnMut(&Op, &Context) -> (OpType, Value, i64),
) -> Vec<Op> {
    let scfg = SchedulerConfig {
        concurrency: cfg.concurrency,
        nemesis: cfg.nemesis,
        seed: cfg.seed,
    };
    let mut sched = Scheduler::new(gen, scfg);
    let mut history: Vec<Op> = Vec::new();
    let mut due: BinaryHeap<Reverse<Due>> = BinaryHeap::new();
    let mut now = 0i64;
    let mut seq = 0u64;
    let mut invocations = 0usize;
    let mut idle = 0usize;
    let mut specials = 0usize;
    let max_specials = cfg
        .max_ops
        .saturating_mul(SIM_SPECIALS_PER_OP)
        .saturating_add(1_000);
    loop {
        // Completions first: they are latency-sensitive, and change what the generator sees.
        while due.peek().is_some_and(|Reverse(d)| d.time_ns <= now) {
            let Some(Reverse(d)) = due.pop() else { break };
            deliver(&mut sched, &mut history, d);
        }
        let next = if invocations >= cfg.max_ops || specials >= max_specials {
            if due.is_empty() {
                break;
            }
            Next::WaitForCompletion
        } else {
            sched.poll(now)
        };
        match next {
            Next::Dispatch(d) => {
                idle = 0;
                let (time_ns, completion) = match d.action {
                    Action::Invoke(mut op) => {
                        op.index = history.len() as u64;
                        let (ty, value, latency) = complete(&op, sched.context());
                        let t = now.saturating_add(latency.max(0));
                        let mut c = op.complete(ty, value);
                        c.time = Some(t);
                        history.push(op);
                        invocations += 1;
                        (t, Some(c))
                    }
                    Action::Sleep { duration_ns } => {
                        specials += 1;
                        (now.saturating_add(duration_ns), None)
                    }
                    Action::Log { .. } => {
                        specials += 1;
                        (now, None)
                    }
                };
                due.push(Reverse(Due {
                    time_ns,
                    seq,
                    thread: d.thread,
                    completion,
                }));
                seq += 1;
            }
            Next::WaitUntil(t) => {
                if sched.in_flight() == 0 {
                    idle += 1;
                    if idle > SIM_MAX_IDLE_RETRIES {
                        break;
                    }
                }
                now = match due.peek() {
                    Some(Reverse(d)) if d.time_ns < t => d.time_ns,
                    _ => t.max(now),
                };
            }
            Next::WaitForCompletion => match due.peek() {
                Some(Reverse(d)) => now = d.time_ns.max(now),
                None => break,
            },
            Next::Done => break,
        }
    }
    history
}

/// Delivers a due completion: appends it to the history and tells the scheduler.
fn deliver(sched: &mut Scheduler, history: &mut Vec<Op>, d: Due) {
    match d.completion {
        Some(mut c) => {
            c.index = history.len() as u64;
            sched.complete(d.time_ns, d.thread, &c);
            history.push(c);
        }
        None => sched.complete_special(d.time_ns, d.thread),
    }
}
