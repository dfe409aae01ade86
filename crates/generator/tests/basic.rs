mod common;
use common::*;
use rift_generator::*;
use rift_history::{OpType, Value};

#[test]
fn nil_emits_nothing() {
    assert!(run(nil(), 2, true, 10).is_empty());
}

#[test]
fn once_emits_one_op() {
    assert_eq!(
        run(w(1), 1, false, 10),
        ["0 0 invoke write 1", "10 0 ok write 1"]
    );
}

#[test]
fn once_fills_in_pinned_process_and_time() {
    let g = once(
        GenOp::invoke("read", Value::Nil)
            .with_process(rift_history::Process::Client(2))
            .with_time(5),
    );
    assert_eq!(
        run(g, 3, false, 10),
        ["5 2 invoke read nil", "15 2 ok read nil"]
    );
}

#[test]
fn limit_zero_is_exhausted() {
    assert!(run(limit(0, repeat(w(1))), 2, false, 10).is_empty());
}

#[test]
fn limit_counts_ops() {
    assert_eq!(
        run(limit(2, repeat(w(1))), 1, false, 10),
        [
            "0 0 invoke write 1",
            "10 0 ok write 1",
            "10 0 invoke write 1",
            "20 0 ok write 1"
        ]
    );
}

#[test]
fn repeat_n_re_emits_template() {
    let h = run(repeat_n(3, w(7)), 1, false, 5);
    assert_eq!(
        h,
        [
            "0 0 invoke write 7",
            "5 0 ok write 7",
            "5 0 invoke write 7",
            "10 0 ok write 7",
            "10 0 invoke write 7",
            "15 0 ok write 7"
        ]
    );
}

#[test]
fn repeat_does_not_advance_inner() {
    // repeat(concat[w1, w2]) re-asks the same concat: always w1.
    let h = invokes(&run(
        limit(3, repeat(concat(vec![w(1), w(2)]))),
        1,
        false,
        1,
    ));
    assert_eq!(
        h,
        [
            "0 0 invoke write 1",
            "1 0 invoke write 1",
            "2 0 invoke write 1"
        ]
    );
}

#[test]
fn repeat_of_exhausted_is_exhausted() {
    assert!(run(repeat(nil()), 1, false, 1).is_empty());
}

#[test]
fn cycle_restarts() {
    let h = invokes(&run(limit(5, cycle(concat(vec![w(1), w(2)]))), 1, false, 1));
    assert_eq!(
        h,
        [
            "0 0 invoke write 1",
            "1 0 invoke write 2",
            "2 0 invoke write 1",
            "3 0 invoke write 2",
            "4 0 invoke write 1"
        ]
    );
}

#[test]
fn cycle_n_stops_after_n_rounds() {
    let h = invokes(&run(cycle_n(2, concat(vec![w(1), w(2)])), 1, false, 1));
    assert_eq!(
        h,
        [
            "0 0 invoke write 1",
            "1 0 invoke write 2",
            "2 0 invoke write 1",
            "3 0 invoke write 2"
        ]
    );
}

#[test]
fn cycle_of_empty_is_exhausted() {
    assert!(run(cycle(nil()), 1, false, 1).is_empty());
    assert!(run(cycle_n(0, w(1)), 1, false, 1).is_empty());
}

#[test]
fn concat_runs_in_order_without_waiting() {
    // Two threads: the second op starts while the first is in flight.
    let h = run(concat(vec![w(1), nil(), w(2)]), 2, false, 10);
    assert_eq!(invokes(&h).len(), 2);
    assert!(h[0].starts_with("0 ") && h[0].ends_with("write 1"));
    assert!(h[1].starts_with("0 ") && h[1].ends_with("write 2"));
}

#[test]
fn sequence_is_concat() {
    let h = invokes(&run(sequence(vec![r(), w(3)]), 1, false, 2));
    assert_eq!(h, ["0 0 invoke read nil", "2 0 invoke write 3"]);
}

#[test]
fn map_transforms_ops() {
    let g = map(|op| op.with_value(99), limit(2, repeat(w(1))));
    assert_eq!(
        invokes(&run(g, 1, false, 1)),
        ["0 0 invoke write 99", "1 0 invoke write 99"]
    );
}

#[test]
fn map_ctx_sees_time() {
    let g = map_ctx(
        |op, ctx| op.with_value(ctx.time_ns()),
        limit(3, repeat(w(0))),
    );
    assert_eq!(
        invokes(&run(g, 1, false, 4)),
        [
            "0 0 invoke write 0",
            "4 0 invoke write 4",
            "8 0 invoke write 8"
        ]
    );
}

#[test]
fn f_map_renames_and_keeps_others() {
    let g = f_map(
        vec![(Value::kw("write"), Value::kw("start"))],
        concat(vec![w(1), r()]),
    );
    assert_eq!(
        invokes(&run(g, 1, false, 1)),
        ["0 0 invoke start 1", "1 0 invoke read nil"]
    );
}

#[test]
fn filter_skips_rejected_ops() {
    let g = filter(
        |op| op.value.as_i64().is_some_and(|v| v % 2 == 0),
        concat((1..=5).map(w).collect()),
    );
    assert_eq!(
        invokes(&run(g, 1, false, 1)),
        ["0 0 invoke write 2", "1 0 invoke write 4"]
    );
}

#[test]
fn filter_rejecting_forever_gives_up() {
    let g = filter(|_| false, repeat(w(1)));
    // Pending with nothing in flight: the simulator stops after its idle budget.
    assert!(run(g, 1, false, 1).is_empty());
}

#[test]
fn from_fn_is_called_every_time() {
    use std::sync::atomic::{AtomicI64, Ordering};
    let n = AtomicI64::new(0);
    let g = from_fn(move |_| {
        let i = n.fetch_add(1, Ordering::SeqCst);
        (i < 3).then(|| GenOp::invoke("write", i))
    });
    assert_eq!(
        invokes(&run(g, 1, false, 1)),
        [
            "0 0 invoke write 0",
            "1 0 invoke write 1",
            "2 0 invoke write 2"
        ]
    );
}

#[test]
fn from_fn_uses_rng_deterministically() {
    use rand::Rng;
    let mk = || {
        limit(
            4,
            from_fn(|ctx| Some(GenOp::invoke("write", ctx.rng().random_range(0..100i64)))),
        )
    };
    let a = run(mk(), 2, false, 3);
    let b = run(mk(), 2, false, 3);
    assert_eq!(a, b);
    assert_eq!(invokes(&a).len(), 4);
}

#[test]
fn mix_draws_from_all_children() {
    let g = limit(40, mix(vec![repeat(w(1)), repeat(r())]));
    let h = invokes(&run(g, 1, false, 1));
    let writes = h.iter().filter(|s| s.contains("write")).count();
    assert_eq!(h.len(), 40);
    assert!(writes > 5 && writes < 35, "writes = {writes}");
}

#[test]
fn mix_drops_exhausted_children() {
    let g = mix(vec![w(1), w(2), w(3)]);
    let mut h: Vec<String> = invokes(&run(g, 1, false, 1))
        .iter()
        .map(|s| s[s.len() - 1..].to_string())
        .collect();
    h.sort();
    assert_eq!(h, ["1", "2", "3"]);
}

#[test]
fn flip_flop_alternates_and_stops() {
    let g = flip_flop(repeat(w(1)), concat(vec![r(), r()]));
    assert_eq!(
        invokes(&run(g, 1, false, 1)),
        [
            "0 0 invoke write 1",
            "1 0 invoke read nil",
            "2 0 invoke write 1",
            "3 0 invoke read nil",
            "4 0 invoke write 1"
        ]
    );
}

#[test]
fn until_ok_stops_after_fail_then_ok() {
    // Completions: first fails, second ok; until_ok stops after the ok.
    let mut k = 0;
    let h = run_with(until_ok(repeat(w(1))), 1, false, 100, move |op, _| {
        k += 1;
        (
            if k < 2 { OpType::Fail } else { OpType::Ok },
            op.value.clone(),
            10,
        )
    });
    assert_eq!(
        h,
        [
            "0 0 invoke write 1",
            "10 0 fail write 1",
            "10 0 invoke write 1",
            "20 0 ok write 1"
        ]
    );
}

#[test]
fn until_ok_info_does_not_stop() {
    let mut k = 0;
    let h = run_with(until_ok(repeat(w(1))), 1, false, 100, move |op, _| {
        k += 1;
        (
            if k < 2 { OpType::Info } else { OpType::Ok },
            op.value.clone(),
            10,
        )
    });
    // After the info the thread runs as process 1.
    assert_eq!(
        h,
        [
            "0 0 invoke write 1",
            "10 0 info write 1",
            "10 1 invoke write 1",
            "20 1 ok write 1"
        ]
    );
}

#[test]
fn until_ok_lets_in_flight_ops_finish() {
    let mut k = 0;
    let h = run_with(until_ok(repeat(w(1))), 2, false, 100, move |op, _| {
        k += 1;
        (OpType::Ok, op.value.clone(), if k == 1 { 5 } else { 20 })
    });
    // Both threads start at 0; the first ok (t=5) ends the generator; the other finishes.
    assert_eq!(invokes(&h).len(), 2);
    assert_eq!(h.len(), 4);
    assert!(h[2].starts_with("5 ") && h[3].starts_with("20 "));
}
