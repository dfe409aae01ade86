//! Generators and checkers of the etcd workloads: `register` and `set` come from
//! `rift_core::workload`; `append` and `wr` (Elle's transactional workloads) use the txn
//! generators of `rift_generator`, re-exported here under their old names.

use crate::client::EtcdWorkload;
use rift_checker::{Checker, CheckerOptions, Compose};
use rift_core::workload::{self, NemesisPhase};
use rift_generator::Gen;
pub use rift_generator::{list_append_generator, rw_register_generator, TxnGenOptions};
use std::time::Duration;

/// The whole generator of a workload: `(clients + nemesis) for the time limit`, then heal,
/// recover and the final phase (`set` ends with one `read`; txns and registers need none).
/// `rate_hz` 0 means as fast as possible.
pub fn generator(
    w: EtcdWorkload,
    rate_hz: f64,
    time_limit: Duration,
    concurrency: u32,
    nemesis: Option<NemesisPhase>,
) -> Result<Gen, String> {
    let main = match w {
        EtcdWorkload::Register | EtcdWorkload::Set => {
            return workload::generator_with_nemesis(
                w.name(),
                rate_hz,
                time_limit,
                concurrency,
                nemesis,
            )
        }
        EtcdWorkload::Append => list_append_generator(TxnGenOptions::default()),
        EtcdWorkload::Wr => rw_register_generator(TxnGenOptions::default()),
    };
    Ok(workload::assemble(main, None, rate_hz, time_limit, nemesis))
}

/// The checker of a workload, composed with `stats` and `exceptions` as Jepsen does:
/// `register` linearizable (cas-register, independent keys), `set` set-full (both from
/// `rift_core::workload::checker_for`), `append` and `wr` Elle at strict-serializable.
pub fn checker(w: EtcdWorkload) -> Result<Box<dyn Checker>, String> {
    let elle = match w {
        EtcdWorkload::Register | EtcdWorkload::Set => {
            return workload::checker_for(&serde_json::json!({ "workload": w.name() }))
        }
        EtcdWorkload::Append => rift_elle::Workload::ListAppend,
        EtcdWorkload::Wr => rift_elle::Workload::RwRegister,
    };
    let opts = rift_elle::Options {
        consistency_models: vec!["strict-serializable".into()],
        ..rift_elle::Options::default()
    };
    let copts = CheckerOptions::default();
    let stats = rift_checker::by_name("stats", &copts).map_err(|e| e.to_string())?;
    let exceptions = rift_checker::by_name("exceptions", &copts).map_err(|e| e.to_string())?;
    Ok(Box::new(Compose::new(vec![
        (
            "workload".to_string(),
            Box::new(rift_elle::checker(elle, opts)) as Box<dyn Checker>,
        ),
        ("stats".to_string(), stats),
        ("exceptions".to_string(), exceptions),
    ])))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rift_generator::{simulate, SimConfig};
    use rift_history::{History, OpType, Value};
    use std::collections::BTreeMap;

    fn txns(g: Gen, n: usize) -> Vec<Value> {
        let cfg = SimConfig {
            concurrency: 3,
            nemesis: false,
            seed: 7,
            max_ops: n,
        };
        simulate(g, cfg, |op, _| (OpType::Ok, op.value.clone(), 10))
            .into_iter()
            .filter(|op| op.ty == OpType::Invoke)
            .map(|op| op.value)
            .collect()
    }

    #[test]
    fn append_txns_have_unique_values_per_key_and_rotate_keys() {
        let o = TxnGenOptions {
            max_writes_per_key: 4,
            ..TxnGenOptions::default()
        };
        let all = txns(list_append_generator(o), 300);
        assert_eq!(all.len(), 300);
        let mut seen: BTreeMap<i64, Vec<i64>> = BTreeMap::new();
        for t in &all {
            let mops = t.as_seq().unwrap();
            assert!((1..=4).contains(&mops.len()), "{t}");
            for m in mops {
                let m = m.as_seq().unwrap();
                let k = m[1].as_i64().unwrap();
                match m[0].as_name().unwrap() {
                    "append" => seen.entry(k).or_default().push(m[2].as_i64().unwrap()),
                    "r" => assert!(m[2].is_nil()),
                    other => panic!("unexpected f {other}"),
                }
            }
        }
        for (k, vs) in &seen {
            let expect: Vec<i64> = (1..=vs.len() as i64).collect();
            assert_eq!(vs, &expect, "key {k}: values 1, 2, ... in order");
            assert!(vs.len() <= 4, "key {k} written {} times", vs.len());
        }
        assert!(seen.len() > 20, "keys rotate: {} keys", seen.len());
    }

    #[test]
    fn wr_txns_write_with_w() {
        let all = txns(rw_register_generator(TxnGenOptions::default()), 50);
        let fs: std::collections::BTreeSet<String> = all
            .iter()
            .flat_map(|t| t.as_seq().unwrap().iter())
            .map(|m| m.as_seq().unwrap()[0].as_name().unwrap().to_string())
            .collect();
        assert_eq!(fs.into_iter().collect::<Vec<_>>(), ["r", "w"]);
    }

    #[test]
    fn the_whole_generator_stops_at_the_time_limit() {
        let g = generator(EtcdWorkload::Append, 0.0, Duration::from_micros(5), 2, None).unwrap();
        let n = txns(g, 10_000).len();
        // 10 ns per op on each of the simulation's 3 threads for 5 us: 3 x 500 txns.
        assert_eq!(n, 1500);
        assert!(generator(EtcdWorkload::Set, 10.0, Duration::from_secs(1), 2, None).is_ok());
    }

    #[test]
    fn elle_checks_append_histories_at_strict_serializable() {
        let c = checker(EtcdWorkload::Append).unwrap();
        // Write skew: each txn read the other's key empty, then appended to its own.
        let h = rift_elle::notation::parse_history("ax1 ry | ay1 rx").unwrap();
        let r = c.check(&rift_checker::CheckContext::default(), &h);
        assert_eq!(r.valid, rift_checker::Validity::False);
        let ok = rift_elle::notation::parse_history("ax1 | rx1").unwrap();
        let r = c.check(&rift_checker::CheckContext::default(), &ok);
        assert_eq!(r.valid, rift_checker::Validity::True, "{:?}", r.details);
        let _: &History = &ok;
        assert!(checker(EtcdWorkload::Register).is_ok());
    }
}
