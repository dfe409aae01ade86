//! Planted bugs in simulated register histories (like `rift_core::mem`'s register workload):
//! a correct register gives linearizable histories; a stale read or a lost write is caught,
//! and the counterexample names the bad read.

use rift_checker::Validity;
use rift_history::{History, Op, OpType, Process, Value};
use rift_linear::{check_history, model_by_name, Options};

/// A tiny deterministic generator (64-bit LCG).
struct Rng(u64);

impl Rng {
    fn next(&mut self, n: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 33) % n
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Bug {
    None,
    /// A read returns the value before the last write that completed before it was invoked.
    StaleRead,
    /// A write is acknowledged but never applied.
    LostWrite,
}

/// An op in flight: (invocation, its position, applied?, result, write index or MAX).
type InFlight = (Op, usize, bool, Value, usize);

/// A write: invocation and completion positions, value, and whether it was lost.
struct Write {
    invoke: usize,
    complete: Option<usize>,
    value: Value,
    lost: bool,
}

/// Simulates `procs` clients on one register. Each op takes effect at one instant between its
/// invocation and completion; writes carry unique values. With a bug planted, returns the
/// position of the first completion where it is visible in real-time order (then the history
/// cannot be linearizable).
fn simulate(seed: u64, ops_per_proc: usize, procs: i64, bug: Bug) -> (History, Option<usize>) {
    let mut rng = Rng(seed);
    let mut value = Value::Nil;
    let mut writer: Option<usize> = None; // index into `writes` of the current value
    let mut history: Vec<Op> = Vec::new();
    let mut writes: Vec<Write> = Vec::new();
    // Per process: (invocation, its position, applied?, result, write index).
    let mut open: Vec<Option<InFlight>> = vec![None; procs as usize];
    let mut done = vec![0usize; procs as usize];
    let mut planted = None;
    let lose_nth = 2 + rng.next(3) as usize;
    while done.iter().any(|&d| d < ops_per_proc) || open.iter().any(Option::is_some) {
        let p = rng.next(procs as u64) as usize;
        match open[p].take() {
            None if done[p] < ops_per_proc => {
                let pos = history.len();
                let (inv, w) = if rng.next(2) == 0 {
                    let v = Value::Int(writes.len() as i64 + 1);
                    let lost = bug == Bug::LostWrite && writes.len() == lose_nth;
                    writes.push(Write {
                        invoke: pos,
                        complete: None,
                        value: v.clone(),
                        lost,
                    });
                    (Op::invoke(p as i64, "write", v), writes.len() - 1)
                } else {
                    (Op::invoke(p as i64, "read", Value::Nil), usize::MAX)
                };
                history.push(inv.clone());
                open[p] = Some((inv, pos, false, Value::Nil, w));
            }
            None => {}
            Some((inv, pos, false, _, w)) => {
                // The op takes effect now.
                let result = if w != usize::MAX {
                    if !writes[w].lost {
                        value = writes[w].value.clone();
                        writer = Some(w);
                    }
                    writes[w].value.clone()
                } else {
                    value.clone()
                };
                open[p] = Some((inv, pos, true, result, w));
            }
            Some((inv, pos, true, mut result, w)) => {
                let at = history.len();
                if w != usize::MAX {
                    writes[w].complete = Some(at);
                } else if planted.is_none() {
                    match bug {
                        Bug::StaleRead => {
                            if let Some(old) = stale_value(&writes, pos) {
                                result = old;
                                planted = Some(at);
                            }
                        }
                        Bug::LostWrite if lost_visible(&writes, writer, pos) => {
                            planted = Some(at);
                        }
                        _ => {}
                    }
                }
                history.push(inv.complete(OpType::Ok, result));
                done[p] += 1;
            }
        }
    }
    (History::reindexed(history).unwrap(), planted)
}

/// The value of a write W1 overwritten by a write W2 with W1 before W2 before `read_invoke`
/// in real time (so reading W1's value then is stale).
fn stale_value(writes: &[Write], read_invoke: usize) -> Option<Value> {
    let done_before = |w: &Write, t: usize| w.complete.is_some_and(|c| c < t);
    writes
        .iter()
        .filter(|w1| {
            writes
                .iter()
                .any(|w2| done_before(w1, w2.invoke) && done_before(w2, read_invoke))
        })
        .map(|w| w.value.clone())
        .next_back()
}

/// A lost write is visible to a read when it completed before the read was invoked and the
/// value the read returns was written (or was the initial nil) before it was invoked.
fn lost_visible(writes: &[Write], writer: Option<usize>, read_invoke: usize) -> bool {
    writes.iter().any(|lost| {
        lost.lost
            && lost.complete.is_some_and(|c| c < read_invoke)
            && writer.is_none_or(|w| writes[w].complete.is_some_and(|c| c < lost.invoke))
    })
}

#[test]
fn correct_register_histories_are_linearizable() {
    let model = model_by_name("register").unwrap();
    for seed in 0..200 {
        let (h, _) = simulate(seed, 12, 4, Bug::None);
        let out = check_history(&h, &*model, &Options::default());
        assert_eq!(out.valid, Validity::True, "seed {seed}");
    }
}

#[test]
fn stale_reads_are_caught() {
    let model = model_by_name("register").unwrap();
    let mut caught = 0;
    for seed in 0..200 {
        let (h, planted) = simulate(seed, 12, 4, Bug::StaleRead);
        let Some(bad) = planted else { continue };
        let out = check_history(&h, &*model, &Options::default());
        assert_eq!(out.valid, Validity::False, "seed {seed}");
        let cex = out.counterexample.expect("counterexample");
        // The search cannot get past the stale read's completion.
        assert!(
            cex.op.completion.unwrap() <= bad,
            "seed {seed}: {:?} vs {bad}",
            cex.op
        );
        caught += 1;
    }
    assert!(caught > 100, "only {caught} seeds planted a stale read");
}

#[test]
fn lost_writes_are_caught() {
    let model = model_by_name("register").unwrap();
    let mut caught = 0;
    for seed in 0..1000 {
        let (h, planted) = simulate(seed, 12, 4, Bug::LostWrite);
        if planted.is_none() {
            continue;
        }
        let out = check_history(&h, &*model, &Options::default());
        assert_eq!(out.valid, Validity::False, "seed {seed}");
        caught += 1;
    }
    assert_eq!(caught, 48, "seeds that planted a visible lost write");
}

#[test]
fn a_crashed_write_may_or_may_not_happen() {
    // write 1 crashes (info); later reads see 1, then nil would be illegal but 1 is fine.
    let w = Op::invoke(0, "write", 1);
    let r = Op::invoke(1, "read", Value::Nil);
    let r2 = Op::invoke(2, "read", Value::Nil);
    let model = model_by_name("register").unwrap();
    let seen = History::reindexed(vec![
        w.clone(),
        w.complete(OpType::Info, 1.into()),
        r.clone(),
        r.complete(OpType::Ok, 1.into()),
    ])
    .unwrap();
    assert_eq!(
        check_history(&seen, &*model, &Options::default()).valid,
        Validity::True
    );
    let unseen = History::reindexed(vec![
        w.clone(),
        w.complete(OpType::Info, 1.into()),
        r.clone(),
        r.complete(OpType::Ok, Value::Nil),
    ])
    .unwrap();
    assert_eq!(
        check_history(&unseen, &*model, &Options::default()).valid,
        Validity::True
    );
    // Once 1 was read, nil cannot come back.
    let flip = History::reindexed(vec![
        w.clone(),
        w.complete(OpType::Info, 1.into()),
        r.clone(),
        r.complete(OpType::Ok, 1.into()),
        r2.clone(),
        r2.complete(OpType::Ok, Value::Nil),
    ])
    .unwrap();
    let out = check_history(&flip, &*model, &Options::default());
    assert_eq!(out.valid, Validity::False);
    assert_eq!(out.counterexample.unwrap().op.completion, Some(5));
    let _ = Process::Nemesis;
}

// Slow in debug builds (tens of thousands of ops): run with `--ignored` in release.
#[test]
#[ignore]
fn large_register_histories_check_quickly() {
    let model = model_by_name("register").unwrap();
    for (seed, procs, per) in [(1, 8, 1000), (2, 16, 500), (3, 32, 300)] {
        let (h, _) = simulate(seed, per, procs, Bug::None);
        let out = check_history(&h, &*model, &Options::default());
        eprintln!(
            "{} ops, {procs} processes: {:?} {:?}",
            h.len(),
            out.elapsed,
            out.search
        );
        assert_eq!(out.valid, Validity::True);
        let (h, planted) = simulate(seed, per, procs, Bug::StaleRead);
        let out = check_history(&h, &*model, &Options::default());
        eprintln!("stale: {:?} {:?} {:?}", out.valid, out.elapsed, out.search);
        assert_eq!(out.valid, Validity::from_bool(planted.is_none()));
    }
}
