mod common;
use common::*;
use rift_generator::*;
use rift_history::{Op, OpType, Process, Value};

fn cfg(concurrency: u32, nemesis: bool) -> SchedulerConfig {
    SchedulerConfig {
        concurrency,
        nemesis,
        seed: 7,
    }
}

fn invoke_of(n: Next) -> (Thread, Op) {
    match n {
        Next::Dispatch(Dispatch {
            thread,
            action: Action::Invoke(op),
        }) => (thread, op),
        other => panic!("expected an invocation, got {other:?}"),
    }
}

#[test]
fn dispatch_fills_fields() {
    let g = once(GenOp::invoke("write", 3).with_extra("node", "n1"));
    let mut s = Scheduler::new(g, cfg(1, false));
    let (t, op) = invoke_of(s.poll(42));
    assert_eq!(t, Thread::Client(0));
    assert_eq!(op.ty, OpType::Invoke);
    assert_eq!(op.process, Process::Client(0));
    assert_eq!(op.time, Some(42));
    assert_eq!(op.index, 0);
    assert_eq!(op.get_extra("node"), Some(&Value::str("n1")));
    assert_eq!(s.in_flight(), 1);
    assert_eq!(s.poll(43), Next::WaitForCompletion);
    s.complete(50, t, &op.complete(OpType::Ok, Value::Int(3)));
    assert_eq!(s.in_flight(), 0);
    assert_eq!(s.poll(50), Next::Done);
}

#[test]
fn wait_until_then_early_completion_re_asks_old_generator() {
    // Thread 0 busy; the next op is scheduled at 100. A completion at 60 arrives first: the
    // generator is re-asked and (delay from the completed op's time) still offers time 100,
    // but thread choice and the generator state are those of the old generator.
    let g = concat(vec![
        r(),
        once(GenOp::invoke("write", 1).with_time(100)),
        once(GenOp::invoke("cas", 2)),
    ]);
    let mut s = Scheduler::new(g, cfg(2, false));
    let (t0, op0) = invoke_of(s.poll(0));
    assert_eq!(op0.f_name(), "read");
    assert_eq!(s.poll(1), Next::WaitUntil(100));
    s.complete(60, t0, &op0.complete(OpType::Ok, Value::Nil));
    // Re-asked: still the write at 100 (not skipped to cas).
    assert_eq!(s.poll(60), Next::WaitUntil(100));
    let (_, op1) = invoke_of(s.poll(100));
    assert_eq!((op1.f_name(), op1.time), ("write", Some(100)));
    let (_, op2) = invoke_of(s.poll(100));
    assert_eq!(op2.f_name(), "cas");
}

#[test]
fn discarded_stagger_op_is_redrawn_after_completion() {
    // A completion before the staggered time: the old stagger state is re-asked, so the op
    // stays scheduled at or after the old due time and nothing is lost.
    let g = limit(3, stagger(1_000, repeat(r())));
    let mut s = Scheduler::new(g, cfg(2, false));
    let (t0, op0) = invoke_of(s.poll(0));
    let Next::WaitUntil(due) = s.poll(0) else {
        panic!()
    };
    assert!(due > 0 && due < 2_000);
    s.complete(due - 1, t0, &op0.complete(OpType::Ok, Value::Nil));
    assert_eq!(s.poll(due - 1), Next::WaitUntil(due));
    let (_, op1) = invoke_of(s.poll(due));
    assert_eq!(op1.time, Some(due));
}

#[test]
fn crash_rule_info_moves_to_next_process() {
    let mut s = Scheduler::new(repeat(r()), cfg(3, true));
    let mut ops = Vec::new();
    for _ in 0..4 {
        ops.push(invoke_of(s.poll(0)));
    }
    let (nt, nop) = ops
        .iter()
        .find(|(t, _)| *t == Thread::Nemesis)
        .cloned()
        .unwrap();
    let (ct, cop) = ops
        .iter()
        .find(|(t, _)| *t == Thread::Client(1))
        .cloned()
        .unwrap();
    s.complete(5, ct, &cop.complete(OpType::Info, Value::Nil));
    s.complete(5, nt, &nop.complete(OpType::Info, Value::Nil));
    assert_eq!(s.process_of(Thread::Client(1)), Process::Client(4));
    assert_eq!(s.process_of(Thread::Nemesis), Process::Nemesis);
    assert_eq!(
        s.context().thread_of(&Process::Client(4)),
        Some(Thread::Client(1))
    );
    // Crash twice: 1 -> 4 -> 7.
    let (t, op) = invoke_of(s.poll(6));
    let expected = if t == Thread::Client(1) {
        Process::Client(4)
    } else {
        Process::Nemesis
    };
    assert_eq!(op.process, expected);
}

#[test]
fn fail_does_not_change_process() {
    let h = run_with(limit(2, repeat(r())), 1, false, 10, |op, _| {
        (OpType::Fail, op.value.clone(), 1)
    });
    assert_eq!(
        h,
        [
            "0 0 invoke read nil",
            "1 0 fail read nil",
            "1 0 invoke read nil",
            "2 0 fail read nil"
        ]
    );
}

#[test]
fn crashed_process_twice() {
    let h = run_with(limit(3, repeat(r())), 2, false, 10, |op, _| {
        (
            if op.process == Process::Client(0) || op.process == Process::Client(2) {
                OpType::Info
            } else {
                OpType::Ok
            },
            op.value.clone(),
            1,
        )
    });
    let procs: Vec<&str> = h.iter().map(|s| s.split(' ').nth(1).unwrap()).collect();
    assert!(
        procs.iter().all(|p| ["0", "1", "2", "3", "4"].contains(p)),
        "{h:?}"
    );
}

#[test]
fn end_process_extra_moves_to_next_process() {
    let mut s = Scheduler::new(repeat(r()), cfg(2, false));
    let (t, op) = invoke_of(s.poll(0));
    let mut c = op.complete(OpType::Ok, Value::Nil);
    c.set_extra("end-process?", Value::Bool(true));
    s.complete(1, t, &c);
    let i = match t {
        Thread::Client(i) => i as i64,
        _ => unreachable!(),
    };
    assert_eq!(s.process_of(t), Process::Client(i + 2));
}

#[test]
fn sleep_and_log_actions() {
    let g = concat(vec![sleep(500), log("hi")]);
    let mut s = Scheduler::new(g, cfg(1, false));
    assert_eq!(
        s.poll(0),
        Next::Dispatch(Dispatch {
            thread: Thread::Client(0),
            action: Action::Sleep { duration_ns: 500 }
        })
    );
    assert_eq!(s.poll(1), Next::WaitForCompletion);
    s.complete_special(500, Thread::Client(0));
    assert_eq!(
        s.poll(500),
        Next::Dispatch(Dispatch {
            thread: Thread::Client(0),
            action: Action::Log {
                message: "hi".into()
            }
        })
    );
    s.complete_special(500, Thread::Client(0));
    assert_eq!(s.poll(500), Next::Done);
}

#[test]
fn pending_with_nothing_in_flight_retries_after_1ms() {
    let g = on_threads(|_| false, repeat(r()));
    let mut s = Scheduler::new(g, cfg(1, false));
    assert_eq!(s.poll(10), Next::WaitUntil(10 + PENDING_RETRY_NS));
}

#[test]
fn pinned_to_unknown_process_is_an_error() {
    let g = once(GenOp::invoke("read", Value::Nil).with_process(Process::Client(9)));
    let mut s = Scheduler::new(g, cfg(2, false));
    assert_eq!(s.poll(0), Next::Done);
    assert_eq!(
        s.error(),
        Some(&GenError::UnknownProcess {
            process: "9".into()
        })
    );
}

#[test]
fn pinned_to_busy_process_is_an_error() {
    let p = Process::Client(0);
    let g = repeat(once(GenOp::invoke("read", Value::Nil).with_process(p)));
    let mut s = Scheduler::new(g, cfg(2, false));
    let _ = invoke_of(s.poll(0));
    assert_eq!(s.poll(0), Next::WaitForCompletion);
    assert_eq!(
        s.error(),
        Some(&GenError::BusyThread {
            process: "0".into()
        })
    );
}

#[test]
fn completion_for_idle_thread_is_reported_not_panicking() {
    let mut s = Scheduler::new(nil(), cfg(1, false));
    s.complete(
        0,
        Thread::Client(0),
        &Op::invoke(0, "read", Value::Nil).complete(OpType::Ok, Value::Nil),
    );
    s.complete_special(0, Thread::Nemesis);
    assert_eq!(
        s.error(),
        Some(&GenError::NotInFlight {
            thread: Thread::Client(0)
        })
    );
    assert_eq!(s.in_flight(), 0);
}

#[test]
fn update_sees_invocations_and_completions() {
    use std::sync::{Arc, Mutex};
    struct Spy(Arc<Mutex<Vec<String>>>);
    impl Generator for Spy {
        fn op(&self, ctx: &Context) -> Poll {
            match GenOp::invoke("read", Value::Nil).fill_in(ctx) {
                Some(op) if self.0.lock().unwrap().len() < 4 => Poll::Op(op, None),
                Some(_) => Poll::Exhausted,
                None => Poll::Pending,
            }
        }
        fn update(&self, ctx: &Context, e: &Op) -> Option<Gen> {
            self.0.lock().unwrap().push(format!(
                "{} {} free={}",
                ctx.time_ns(),
                e.ty,
                ctx.free_thread_count()
            ));
            None
        }
    }
    let log = Arc::new(Mutex::new(Vec::new()));
    let h = run(Box::new(Spy(log.clone())), 1, false, 10);
    assert_eq!(h.len(), 4);
    assert_eq!(
        *log.lock().unwrap(),
        [
            "0 invoke free=0",
            "10 ok free=1",
            "10 invoke free=0",
            "20 ok free=1"
        ]
    );
}

#[test]
fn same_seed_same_history() {
    let mk = || {
        clients_and_nemesis(
            time_limit(
                1_000_000,
                stagger(1_000, mix(vec![repeat(r()), repeat(w(1))])),
            ),
            cycle(concat(vec![
                sleep(5_000),
                once(GenOp::invoke("kill", Value::Nil)),
            ])),
        )
    };
    let c = SimConfig {
        concurrency: 5,
        nemesis: true,
        seed: 99,
        max_ops: 10_000,
    };
    let lat = |op: &Op, ctx: &Context| {
        use rand::Rng;
        let l = ctx.rng().random_range(1..3_000);
        (
            if l % 7 == 0 { OpType::Info } else { OpType::Ok },
            op.value.clone(),
            l,
        )
    };
    let a = simulate(mk(), c, lat);
    let b = simulate(mk(), c, lat);
    assert_eq!(a, b);
    assert!(a.len() > 1000, "{}", a.len());
    // Dense indices, times non-decreasing, and a valid pairing.
    for (i, op) in a.iter().enumerate() {
        assert_eq!(op.index, i as u64);
    }
    assert!(a.windows(2).all(|w| w[0].time <= w[1].time));
    assert!(rift_history::History::new(a.clone()).is_ok());
    let d = simulate(mk(), SimConfig { seed: 100, ..c }, lat);
    assert_ne!(a, d);
}

#[test]
fn sleeping_forever_is_bounded() {
    // repeat does not advance its child: this sleeps for ever and never kills.
    let g = nemesis(repeat(concat(vec![
        sleep(10),
        once(GenOp::invoke("kill", Value::Nil)),
    ])));
    assert!(run(g, 1, true, 1).is_empty());
}

#[test]
fn max_ops_bounds_the_run() {
    let h = run_with(repeat(r()), 3, false, 5, |op, _| {
        (OpType::Ok, op.value.clone(), 10)
    });
    assert_eq!(invokes(&h).len(), 5);
    assert_eq!(h.len(), 10);
}
