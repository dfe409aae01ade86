//! Pure generators of operations, their combinators, the scheduler that interprets them, and a
//! deterministic simulator.
//!
//! # Concepts
//!
//! **Pure generators.** As in Jepsen (`jepsen.generator`), a generator is an immutable value
//! with two functions. [`Generator::op`] answers "what now?" with [`Poll::Op`] (an op and the
//! generator to continue with), [`Poll::Pending`] (nothing now, ask again after something
//! completes or time passes) or [`Poll::Exhausted`] (nothing ever again).
//! [`Generator::update`] is told of every invocation and completion of ops dispatched while
//! the generator is active and returns its new state. Both take `&self`: a generator never
//! mutates; `None` in either answer means "unchanged", which keeps long runs allocation-light.
//!
//! **Context.** A generator sees a [`Context`]: the current time, the threads it may use
//! (client threads `0..concurrency` plus the nemesis), which are free, the process each
//! thread runs as, and the run's RNG (ChaCha8, seeded once per run: all randomness comes from
//! [`Context::rng`]). Combinators such as [`on_threads`], [`clients`], [`each_thread`] and
//! [`reserve`] hand their children restricted views.
//!
//! **Time.** Ops carry an optional time; an op scheduled in the future (by [`stagger`],
//! [`delay`]...) is not run before its time. Times are nanoseconds since the test started.
//!
//! **Scheduler.** [`Scheduler`] is Jepsen's interpreter as a pure state machine: the runner
//! (wall-clock time) and [`simulate`] (virtual time) call [`Scheduler::poll`] and report
//! completions; it fills in processes, keeps threads busy/free, feeds events to the generator
//! and applies the crash rule.
//!
//! **Transactions.** [`list_append_generator`] and [`rw_register_generator`] are Elle's txn
//! generators (random reads and writes over a rotating pool of keys, values unique and
//! increasing per key; [`TxnGenOptions`], [`KeyDist`]), shared by the transactional suites
//! (etcd, Kafka's queue workload, SQL). They are pure: a discarded offer consumes no values.
//!
//! # Example
//!
//! ```
//! use rift_generator::*;
//! use rift_history::{OpType, Value};
//!
//! // Three writes then a read, on one client thread; every op takes 10 ns and succeeds.
//! let gen = then(once(GenOp::invoke("read", Value::Nil)),
//!                limit(3, repeat(once(GenOp::invoke("write", 1)))));
//! let cfg = SimConfig { concurrency: 1, nemesis: false, seed: 42, max_ops: 100 };
//! let history = simulate(gen, cfg, |op, _ctx| (OpType::Ok, op.value.clone(), 10));
//! let fs: Vec<&str> = history.iter().map(|op| op.f_name()).collect();
//! assert_eq!(fs, ["write", "write", "write", "write", "write", "write", "read", "read"]);
//! assert_eq!(history[7].time, Some(40));
//! ```
//!
//! # Edge cases
//!
//! - **Pending vs exhausted.** Pending means "not now"; exhausted means "never". A leaf
//!   generator ([`once`], [`from_fn`]) is pending when none of its visible threads is free,
//!   so `once` on a fully busy context waits rather than disappearing. A pending generator
//!   with nothing in flight is asked again every [`PENDING_RETRY_NS`] (Jepsen's 1 ms).
//! - **Discarded ops.** When the op offered is scheduled in the future, the scheduler answers
//!   [`Next::WaitUntil`] without committing it. If a completion arrives first, the *old*
//!   generator is asked again, exactly as Jepsen does; so `op` must be pure, and
//!   [`from_fn`] closures may be called for ops that never run.
//! - **Crashed processes.** A client op completing `info` may still take effect; its process
//!   is never reused: the thread continues as process + concurrency ([`each_process`]
//!   restarts its generator then, [`each_thread`] does not).
//! - **Deviations from Jepsen**, each noted on the function: [`f_map`] keeps unmapped `f`s,
//!   [`time_limit`] is exhausted past its cutoff even while pending, [`each_thread`] is
//!   pending (not exhausted) while a copy is pending, [`cycle`] of an empty generator is
//!   exhausted, and [`filter`]/[`cycle_times`] answer pending instead of looping for ever.
#![warn(missing_docs)]

mod basic;
mod context;
mod gen;
mod independent;
mod scheduler;
mod sim;
mod threads;
mod time;
mod txn;

pub use basic::{
    concat, cycle, cycle_n, f_map, filter, flip_flop, from_fn, limit, map, map_ctx, mix, once,
    repeat, repeat_n, sequence, until_ok, FILTER_MAX_REJECTS,
};
pub use context::{Context, Thread, ThreadSet};
pub use gen::{nil, Gen, GenKind, GenOp, Generator, Poll};
pub use independent::{concurrent_generator, sequential_generator, tuple};
pub use scheduler::{
    Action, Dispatch, GenError, Next, Scheduler, SchedulerConfig, PENDING_RETRY_NS,
};
pub use sim::{simulate, SimConfig, SIM_MAX_IDLE_RETRIES, SIM_SPECIALS_PER_OP};
pub use threads::{
    any, clients, clients_and_nemesis, concurrency_limit, each_process, each_thread, nemesis,
    on_threads, phases, process_limit, reserve, synchronize, then,
};
pub use time::{cycle_times, delay, log, sleep, stagger, time_limit, CYCLE_TIMES_MAX_SKIPS};
pub use txn::{list_append_generator, rw_register_generator, KeyDist, TxnGenOptions};
