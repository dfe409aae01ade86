//! Stagger keeps its total rate when the scheduler is polled late, as a real runner is (timers
//! wake up to a millisecond after the requested time).

use rift_generator::{self as gen, Action, GenOp, Next, Scheduler, SchedulerConfig};
use rift_history::{OpType, Value};

/// Drives a scheduler in virtual time, waking `late_ns` after every requested time, with
/// instantaneous completions; returns the invocations dispatched in `span_ns`.
fn dispatched(dt_ns: i64, late_ns: i64, span_ns: i64) -> usize {
    let g = gen::clients(gen::stagger(
        dt_ns,
        gen::repeat(gen::once(GenOp::invoke("write", Value::Int(1)))),
    ));
    let mut s = Scheduler::new(
        g,
        SchedulerConfig {
            concurrency: 4,
            nemesis: false,
            seed: 9,
        },
    );
    let mut now = 0;
    let mut n = 0;
    while now < span_ns {
        match s.poll(now) {
            Next::Dispatch(d) => {
                if let Action::Invoke(op) = d.action {
                    n += 1;
                    let done = op.complete(OpType::Ok, op.value.clone());
                    s.complete(now, d.thread, &done);
                }
            }
            Next::WaitUntil(t) => now = t.max(now) + late_ns,
            Next::WaitForCompletion => now += late_ns.max(1),
            Next::Done => break,
        }
    }
    n
}

#[test]
fn late_wakeups_do_not_slow_the_rate() {
    // 1 ms mean gap for 2 s of virtual time: about 2000 ops, whether the scheduler is polled
    // on time or 0.7 ms late every time.
    let on_time = dispatched(1_000_000, 0, 2_000_000_000);
    let late = dispatched(1_000_000, 700_000, 2_000_000_000);
    for n in [on_time, late] {
        assert!((1800..=2200).contains(&n), "{on_time} on time, {late} late");
    }
}

#[test]
fn a_slow_system_does_not_cause_a_burst_afterwards() {
    // Polled 50 ms late every time (a system far slower than the rate): the rate is capped by
    // the wakeups, and no catch-up burst of the missed ops follows.
    let n = dispatched(1_000_000, 50_000_000, 1_000_000_000);
    assert!(n <= 60, "{n} ops dispatched: a catch-up burst");
}
