mod common;
use common::*;
use rift_generator::*;
use rift_history::{OpType, Value};

fn times(h: &[String]) -> Vec<i64> {
    invokes(h)
        .iter()
        .map(|s| s.split(' ').next().unwrap().parse().unwrap())
        .collect()
}

#[test]
fn time_limit_cuts_mid_stream() {
    // Ops every 10 ns from t=0; limit 35 ns: ops at 0, 10, 20, 30.
    let h = run(time_limit(35, repeat(r())), 1, false, 10);
    assert_eq!(times(&h), [0, 10, 20, 30]);
    assert_eq!(h.last().unwrap(), "40 0 ok read nil");
}

#[test]
fn time_limit_starts_at_first_op() {
    let g = concat(vec![
        once(GenOp::invoke("write", 1).with_time(100)),
        time_limit(25, repeat(r())),
    ]);
    let g = time_limit(1000, g);
    let h = run(g, 1, false, 10);
    // write at 100 (ok at 110), then reads from 110 while < 135.
    assert_eq!(times(&h), [100, 110, 120, 130]);
}

#[test]
fn time_limit_exhausted_while_pending() {
    // Nothing ever frees on_threads(none); past the cutoff the limit ends instead of waiting.
    let g = time_limit(5, concat(vec![r(), on_threads(|_| false, repeat(r()))]));
    let h = run(g, 1, false, 10);
    assert_eq!(h, ["0 0 invoke read nil", "10 0 ok read nil"]);
}

#[test]
fn time_limit_zero_is_exhausted() {
    assert!(run(time_limit(0, repeat(r())), 1, false, 1).is_empty());
}

#[test]
fn delay_spaces_ops_exactly() {
    let h = run(limit(4, delay(100, repeat(r()))), 2, false, 1);
    assert_eq!(times(&h), [0, 100, 200, 300]);
}

#[test]
fn delay_catches_up_when_behind() {
    // Latency 250 > dt 100 on one thread: ops come as soon as the thread is free.
    let h = run(limit(3, delay(100, repeat(r()))), 1, false, 250);
    assert_eq!(times(&h), [0, 250, 500]);
}

#[test]
fn stagger_gaps_are_within_two_dt() {
    let h = run(limit(200, stagger(50, repeat(r()))), 4, false, 1);
    let t = times(&h);
    assert_eq!(t[0], 0);
    let gaps: Vec<i64> = t.windows(2).map(|w| w[1] - w[0]).collect();
    assert!(gaps.iter().all(|g| (0..100).contains(g)), "{gaps:?}");
    let mean = gaps.iter().sum::<i64>() as f64 / gaps.len() as f64;
    assert!((35.0..65.0).contains(&mean), "mean {mean}");
}

#[test]
fn stagger_is_deterministic_per_seed() {
    let h1 = run(limit(5, stagger(1000, repeat(r()))), 2, false, 1);
    let h2 = run(limit(5, stagger(1000, repeat(r()))), 2, false, 1);
    assert_eq!(h1, h2);
    let cfg = SimConfig {
        concurrency: 2,
        nemesis: false,
        seed: 2,
        max_ops: 100,
    };
    let h3: Vec<String> = simulate(limit(5, stagger(1000, repeat(r()))), cfg, |op, _| {
        (OpType::Ok, op.value.clone(), 1)
    })
    .iter()
    .map(show)
    .collect();
    assert_ne!(times(&h1), times(&h3));
}

#[test]
fn sleep_occupies_thread_and_is_not_in_history() {
    let g = concat(vec![sleep(100), r()]);
    assert_eq!(
        run(g, 1, false, 5),
        ["100 0 invoke read nil", "105 0 ok read nil"]
    );
}

#[test]
fn log_is_not_in_history() {
    let g = concat(vec![log("hello"), r()]);
    assert_eq!(
        run(g, 1, false, 5),
        ["0 0 invoke read nil", "5 0 ok read nil"]
    );
}

#[test]
fn cycle_times_alternates_windows() {
    // writes for 30 ns, reads for 20 ns, ...; ops every 10 ns.
    let g = limit(10, cycle_times(vec![(30, repeat(w(1))), (20, repeat(r()))]));
    let h = invokes(&run(g, 1, false, 10));
    let fs: Vec<&str> = h.iter().map(|s| s.split(' ').nth(3).unwrap()).collect();
    assert_eq!(
        fs,
        ["write", "write", "write", "read", "read", "write", "write", "write", "read", "read"]
    );
    assert_eq!(
        times(&run(
            limit(3, cycle_times(vec![(30, repeat(w(1)))])),
            1,
            false,
            10
        )),
        [0, 10, 20]
    );
}

#[test]
fn cycle_times_keeps_state_across_rounds() {
    // The nemesis sequence a, b, c continues where it stopped.
    let seq = concat(vec![
        once(GenOp::invoke("a", Value::Nil)),
        once(GenOp::invoke("b", Value::Nil)),
        once(GenOp::invoke("c", Value::Nil)),
    ]);
    let quiet = repeat(sleep(5));
    let g = cycle_times(vec![(10, seq), (40, quiet)]);
    let h = invokes(&run_with(g, 1, false, 100, |op, _| {
        (OpType::Ok, op.value.clone(), 10)
    }));
    assert_eq!(
        h,
        [
            "0 0 invoke a nil",
            "50 0 invoke b nil",
            "100 0 invoke c nil"
        ]
    );
}

#[test]
fn cycle_times_empty_is_exhausted() {
    assert!(run(cycle_times(vec![]), 1, false, 1).is_empty());
    assert!(run(cycle_times(vec![(0, repeat(r()))]), 1, false, 1).is_empty());
}
