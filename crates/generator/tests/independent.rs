mod common;
use common::*;
use rift_generator::*;
use rift_history::{OpType, Value};

fn keys(n: i64) -> Vec<Value> {
    (0..n).map(Value::Int).collect()
}

#[test]
fn sequential_one_key_at_a_time() {
    let g = sequential_generator(keys(2), |k| concat(vec![w(k.as_i64().unwrap() * 10), r()]));
    assert_eq!(
        invokes(&run(g, 1, false, 1)),
        [
            "0 0 invoke write [0 0]",
            "1 0 invoke read [0 nil]",
            "2 0 invoke write [1 10]",
            "3 0 invoke read [1 nil]"
        ]
    );
}

#[test]
fn sequential_updates_see_unwrapped_values() {
    // until_ok inside a key: the first read fails, the second is ok, then the next key.
    let mut k = 0;
    let g = sequential_generator(keys(2), |_| until_ok(repeat(r())));
    let h = invokes(&run_with(g, 1, false, 100, move |op, _| {
        k += 1;
        (
            if k % 2 == 1 { OpType::Fail } else { OpType::Ok },
            op.value.clone(),
            1,
        )
    }));
    assert_eq!(
        h,
        [
            "0 0 invoke read [0 nil]",
            "1 0 invoke read [0 nil]",
            "2 0 invoke read [1 nil]",
            "3 0 invoke read [1 nil]"
        ]
    );
}

#[test]
fn concurrent_groups_work_on_separate_keys() {
    // 4 client threads, groups of 2: keys 0 and 1 at once, then 2 when a group is done.
    let g = concurrent_generator(2, keys(3), |_| limit(2, repeat(r())));
    let h = invokes(&run(g, 4, true, 10));
    assert_eq!(h.len(), 6);
    for s in &h {
        let p: i64 = s.split(' ').nth(1).unwrap().parse().unwrap();
        let t: i64 = s.split(' ').next().unwrap().parse().unwrap();
        let key = if s.contains("[0 ") {
            0
        } else if s.contains("[1 ") {
            1
        } else {
            2
        };
        match key {
            0 => assert!(p < 2 && t == 0, "{s}"),
            1 => assert!((2..4).contains(&p) && t == 0, "{s}"),
            _ => assert_eq!(t, 10, "{s}"),
        }
    }
}

#[test]
fn concurrent_key_moves_on_when_exhausted() {
    let g = concurrent_generator(1, keys(3), |k| once(GenOp::invoke("write", k.clone())));
    assert_eq!(
        invokes(&run(g, 1, true, 5)),
        [
            "0 0 invoke write [0 0]",
            "5 0 invoke write [1 1]",
            "10 0 invoke write [2 2]"
        ]
    );
}

#[test]
fn concurrent_group_larger_than_concurrency_is_exhausted() {
    let g = concurrent_generator(3, keys(3), |_| repeat(r()));
    assert!(run(g, 2, false, 1).is_empty());
}

#[test]
fn concurrent_leftover_threads_idle() {
    let g = concurrent_generator(2, keys(1), |_| limit(4, repeat(r())));
    let h = invokes(&run(g, 3, false, 10));
    assert_eq!(h.len(), 4);
    assert!(h.iter().all(|s| !s.contains(" 2 invoke")));
}

#[test]
fn tuple_is_a_pair_vector() {
    assert_eq!(tuple(Value::Int(1), Value::Nil).to_string(), "[1 nil]");
}
