mod common;
use common::*;
use rift_generator::*;
use rift_history::{OpType, Process, Value};

#[test]
fn bare_ops_go_to_any_thread_including_nemesis() {
    let h = invokes(&run(limit(3, repeat(r())), 2, true, 10));
    let mut procs: Vec<&str> = h.iter().map(|s| s.split(' ').nth(1).unwrap()).collect();
    procs.sort();
    assert_eq!(procs, ["0", "1", "nemesis"]);
    assert!(h.iter().all(|s| s.starts_with("0 ")));
}

#[test]
fn clients_excludes_nemesis() {
    let h = invokes(&run(clients(limit(4, repeat(r()))), 2, true, 10));
    assert_eq!(h.len(), 4);
    assert!(h.iter().all(|s| !s.contains("nemesis")));
    // Two threads, latency 10: two at t=0, two at t=10.
    let times: Vec<&str> = h.iter().map(|s| s.split(' ').next().unwrap()).collect();
    assert_eq!(times, ["0", "0", "10", "10"]);
}

#[test]
fn nemesis_only_on_nemesis_thread() {
    let g = nemesis(limit(
        2,
        repeat(once(GenOp::invoke("start-partition", Value::Nil))),
    ));
    assert_eq!(
        run(g, 3, true, 7),
        [
            "0 nemesis invoke start-partition nil",
            "7 nemesis ok start-partition nil",
            "7 nemesis invoke start-partition nil",
            "14 nemesis ok start-partition nil"
        ]
    );
}

#[test]
fn on_threads_with_no_matching_thread_is_stuck_pending() {
    let g = on_threads(|t| t == Thread::Client(9), repeat(r()));
    assert!(run(g, 2, false, 1).is_empty());
}

#[test]
fn clients_and_nemesis_together() {
    let g = clients_and_nemesis(
        limit(1, repeat(r())),
        once(GenOp::invoke("kill", Value::Nil)),
    );
    let mut h = invokes(&run(g, 1, true, 5));
    h.sort();
    assert_eq!(h, ["0 0 invoke read nil", "0 nemesis invoke kill nil"]);
}

#[test]
fn any_takes_soonest() {
    let late = once(GenOp::invoke("write", 1).with_time(50));
    let g = any(vec![late, r()]);
    assert_eq!(
        run(g, 1, false, 10),
        [
            "0 0 invoke read nil",
            "10 0 ok read nil",
            "50 0 invoke write 1",
            "60 0 ok write 1"
        ]
    );
}

#[test]
fn any_pending_until_all_exhausted() {
    let g = any(vec![clients(w(1)), nemesis(w(2))]);
    let h = run(g, 1, true, 3);
    assert_eq!(h.len(), 4);
}

#[test]
fn each_thread_gives_each_thread_its_copy() {
    let g = clients(each_thread(concat(vec![w(1), w(2)])));
    let h = invokes(&run(g, 2, true, 10));
    let mut got: Vec<String> = h.clone();
    got.sort();
    assert_eq!(
        got,
        [
            "0 0 invoke write 1",
            "0 1 invoke write 1",
            "10 0 invoke write 2",
            "10 1 invoke write 2"
        ]
    );
}

#[test]
fn each_thread_keeps_copy_across_crash() {
    // Thread 0's first op crashes: it continues as process 1, same copy (next is write 2).
    let h = run_with(
        each_thread(concat(vec![w(1), w(2)])),
        1,
        false,
        10,
        |op, _| {
            (
                if op.value == Value::Int(1) {
                    OpType::Info
                } else {
                    OpType::Ok
                },
                op.value.clone(),
                10,
            )
        },
    );
    assert_eq!(
        h,
        [
            "0 0 invoke write 1",
            "10 0 info write 1",
            "10 1 invoke write 2",
            "20 1 ok write 2"
        ]
    );
}

#[test]
fn each_process_restarts_after_crash() {
    let mut crashes = 0;
    let h = run_with(
        each_process(concat(vec![w(1), w(2)])),
        1,
        false,
        10,
        move |op, _| {
            let crash = op.value == Value::Int(1) && crashes == 0;
            crashes += crash as i32;
            (
                if crash { OpType::Info } else { OpType::Ok },
                op.value.clone(),
                10,
            )
        },
    );
    assert_eq!(
        h,
        [
            "0 0 invoke write 1",
            "10 0 info write 1",
            "10 1 invoke write 1",
            "20 1 ok write 1",
            "20 1 invoke write 2",
            "30 1 ok write 2"
        ]
    );
}

#[test]
fn each_thread_pending_while_busy_then_exhausted() {
    // Thread 0's op is slow; thread 1's copy is exhausted after one op but the generator is
    // pending (not exhausted) until thread 0 finishes, then thread 0 does its second op.
    let g = each_thread(concat(vec![w(1), limit(1, repeat(w(2)))]));
    let h = run_with(g, 2, false, 100, |op, _| {
        let p = op.process.client().unwrap();
        (OpType::Ok, op.value.clone(), if p == 0 { 100 } else { 10 })
    });
    let inv = invokes(&h);
    assert_eq!(inv.len(), 4);
    assert_eq!(h.last().unwrap(), "200 0 ok write 2");
}

#[test]
fn reserve_splits_threads() {
    let g = clients(reserve(vec![(1, repeat(w(1)))], repeat(r())));
    let h = invokes(&run_with(g, 3, true, 6, |op, _| {
        (OpType::Ok, op.value.clone(), 10)
    }));
    assert_eq!(h.len(), 6);
    for s in &h {
        let p = s.split(' ').nth(1).unwrap();
        if s.contains("write") {
            assert_eq!(p, "0");
        } else {
            assert!(p == "1" || p == "2", "{s}");
        }
    }
}

#[test]
fn reserve_default_includes_nemesis() {
    let g = reserve(vec![(2, nil())], limit(1, repeat(r())));
    assert_eq!(
        run(g, 2, true, 1),
        ["0 nemesis invoke read nil", "1 nemesis ok read nil"]
    );
}

#[test]
fn process_limit_counts_crashed_processes() {
    // One thread; every op crashes: processes 0, 1, 2 are allowed, then exhausted.
    let h = run_with(process_limit(3, repeat(r())), 1, false, 100, |op, _| {
        (OpType::Info, op.value.clone(), 1)
    });
    assert_eq!(
        invokes(&h),
        [
            "0 0 invoke read nil",
            "1 1 invoke read nil",
            "2 2 invoke read nil"
        ]
    );
}

#[test]
fn process_limit_below_thread_count_is_exhausted() {
    assert!(run(process_limit(1, repeat(r())), 2, false, 1).is_empty());
}

#[test]
fn concurrency_limit_holds_ops_pending() {
    let g = concurrency_limit(1, limit(3, repeat(r())));
    let h = run(g, 3, false, 10);
    let inv = invokes(&h);
    let times: Vec<&str> = inv.iter().map(|s| s.split(' ').next().unwrap()).collect();
    assert_eq!(times, ["0", "10", "20"]);
}

#[test]
fn synchronize_waits_for_busy_thread() {
    // Thread A runs a slow op (100); the synchronised read waits until t=100.
    let g = concat(vec![w(1), synchronize(r())]);
    let h = run(g, 2, false, 100);
    assert_eq!(invokes(&h).len(), 2);
    assert!(invokes(&h)[1].starts_with("100 "), "{h:?}");
}

#[test]
fn phases_synchronise_between_phases() {
    let g = phases(vec![limit(2, repeat(w(1))), limit(2, repeat(r()))]);
    let h = invokes(&run_with(g, 2, false, 10, |op, _| {
        let lat = if op.f_name() == "write" && op.process == Process::Client(0) {
            30
        } else {
            10
        };
        (OpType::Ok, op.value.clone(), lat)
    }));
    let times: Vec<&str> = h.iter().map(|s| s.split(' ').next().unwrap()).collect();
    let fs: Vec<&str> = h.iter().map(|s| s.split(' ').nth(3).unwrap()).collect();
    assert_eq!(fs, ["write", "write", "read", "read"]);
    assert_eq!(times, ["0", "0", "30", "30"]);
}

#[test]
fn then_runs_b_first() {
    let g = then(r(), limit(2, repeat(w(1))));
    let h = invokes(&run(g, 1, false, 5));
    assert_eq!(
        h,
        [
            "0 0 invoke write 1",
            "5 0 invoke write 1",
            "10 0 invoke read nil"
        ]
    );
}

#[test]
fn once_on_busy_context_waits() {
    // One thread: the first op is in flight for 50; once must wait, not vanish.
    let g = any(vec![w(1), r()]);
    let h = run(g, 1, false, 50);
    assert_eq!(invokes(&h).len(), 2);
    assert!(invokes(&h)[1].starts_with("50 "));
}
