//! Clock faults: the clock package under the deterministic simulator, and (root only, with
//! libfaketime) the clock nemesis on a real 3-node local cluster. Without root or libfaketime
//! the cluster tests print why they are skipped. They run one at a time (a static lock) and
//! tear their cluster down in `Drop`.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use rift_control::clock::{faketime_env, faketime_lib, offset};
use rift_control::testkit::{self, Scratch};
use rift_control::{is_root, start_daemon, DaemonSpec, LocalCluster};
use rift_core::{Nemesis, TestInfo};
use rift_generator::{simulate, SimConfig};
use rift_history::{Op, OpType, Process, Value};
use rift_nemesis::*;

const S: i64 = 1_000_000_000;

// ---------------------------------------------------------------- package, simulated

fn clock_package(seed_nodes: usize) -> Package {
    let nodes: Vec<String> = (1..=seed_nodes).map(|i| format!("n{i}")).collect();
    let mut o = PackageOptions::new(parse_faults("clock").unwrap(), nodes);
    o.interval_ns = 10 * S;
    let mut p = packages(&o).unwrap();
    assert_eq!(p.len(), 1);
    p.remove(0)
}

/// Invocations of `gen` as `(time in s, op)`; nemesis ops complete at once.
fn invocations(gen: rift_generator::Gen, seed: u64, max_ops: usize) -> Vec<(i64, Op)> {
    let cfg = SimConfig {
        concurrency: 1,
        nemesis: true,
        seed,
        max_ops,
    };
    simulate(gen, cfg, |op, _| (OpType::Info, op.value.clone(), 0))
        .into_iter()
        .filter(|op| op.ty == OpType::Invoke)
        .map(|op| (op.time.unwrap() / S, op))
        .collect()
}

#[test]
fn clock_package_shape() {
    let p = clock_package(5);
    assert_eq!(p.name, "clock");
    assert_eq!(
        p.perf,
        vec![PerfSpec {
            name: "clock".into(),
            start: vec!["bump-clock".into(), "strobe-clock".into()],
            stop: vec!["reset-clock".into()],
            color: "#A0E9E3".into(),
        }]
    );
    assert_eq!(default_targets("clock"), vec!["nil".to_string()]);
    let fin = invocations(p.final_generator.unwrap(), 1, 10);
    assert_eq!(fin.len(), 1);
    assert_eq!((fin[0].0, fin[0].1.f_name()), (0, "reset-clock"));
    assert_eq!(fin[0].1.value, Value::Nil);
    assert_eq!(fin[0].1.process, Process::Nemesis);
}

#[test]
fn clock_package_ops_have_the_right_values() {
    let nodes: Vec<String> = (1..=5).map(|i| format!("n{i}")).collect();
    let ops = invocations(clock_package(5).generator, 7, 200);
    assert_eq!(ops.len(), 200);
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for (i, (t, op)) in ops.iter().enumerate() {
        assert_eq!(*t, 10 * i as i64, "one op every interval");
        assert_eq!(op.process, Process::Nemesis);
        *counts.entry(op.f_name()).or_default() += 1;
        // check-clock-offsets first, then faults alternating with checks.
        if i % 2 == 0 {
            assert_eq!(op.f_name(), "check-clock-offsets", "op {i}");
            assert_eq!(op.value, Value::Nil);
            continue;
        }
        let names = |keys: Vec<&Value>| -> Vec<String> {
            keys.iter()
                .map(|k| k.as_name().unwrap().to_string())
                .collect()
        };
        match op.f_name() {
            "reset-clock" => {
                let ns = names(op.value.as_seq().unwrap().iter().collect());
                assert!(!ns.is_empty() && ns.iter().all(|n| nodes.contains(n)));
            }
            "bump-clock" => {
                let m = op.value.as_map().unwrap();
                assert!(
                    !m.is_empty()
                        && names(m.iter().map(|(k, _)| k).collect())
                            .iter()
                            .all(|n| nodes.contains(n))
                );
                for (_, d) in m {
                    let d = d.as_i64().unwrap();
                    assert!((4..=CLOCK_MAX_DELTA_MS).contains(&d.abs()), "delta {d}");
                }
                // The nemesis accepts what the package generates.
                assert_eq!(parse_bumps(&op.value).unwrap().len(), m.len());
            }
            "strobe-clock" => {
                let strobes = parse_strobes(&op.value).unwrap();
                assert!(!strobes.is_empty());
                for (n, s) in strobes {
                    assert!(nodes.contains(&n));
                    assert!((4..=CLOCK_MAX_DELTA_MS).contains(&s.delta_ms), "{s:?}");
                    assert!(
                        CLOCK_STROBE_PERIODS_MS.contains(&(s.period_ms as i64)),
                        "{s:?}"
                    );
                    assert!(s.duration_ms <= CLOCK_MAX_STROBE_MS as u64, "{s:?}");
                }
            }
            other => panic!("unexpected f {other}"),
        }
    }
    assert_eq!(counts["check-clock-offsets"], 100);
    for f in ["reset-clock", "bump-clock", "strobe-clock"] {
        assert!(counts[f] >= 20, "{f} drawn {} times of 100", counts[f]);
    }
    // Negative and positive bumps both occur, and deltas span orders of magnitude.
    let deltas: Vec<i64> = ops
        .iter()
        .filter(|(_, op)| op.f_name() == "bump-clock")
        .flat_map(|(_, op)| parse_bumps(&op.value).unwrap().into_iter().map(|(_, d)| d))
        .collect();
    assert!(deltas.iter().any(|d| *d < 0) && deltas.iter().any(|d| *d > 0));
    assert!(deltas.iter().any(|d| d.abs() < 1000) && deltas.iter().any(|d| d.abs() > 10_000));
}

#[test]
fn clock_package_is_deterministic_and_seed_dependent() {
    let text = |seed| -> Vec<String> {
        invocations(clock_package(3).generator, seed, 12)
            .into_iter()
            .map(|(t, op)| format!("{t} {} {}", op.f_name(), op.value))
            .collect()
    };
    assert_eq!(text(3), text(3));
    assert_ne!(text(3), text(4));
    let first = text(3);
    assert_eq!(first[0], "0 check-clock-offsets nil");
    assert_eq!(first[2], "20 check-clock-offsets nil");
}

#[test]
fn clock_package_with_targets_and_errors() {
    let nodes: Vec<String> = (1..=5).map(|i| format!("n{i}")).collect();
    let mut o = PackageOptions::new(parse_faults("clock,partition").unwrap(), nodes.clone());
    o.targets.insert("clock".into(), vec!["all".into()]);
    let ps = packages(&o).unwrap();
    assert_eq!(
        ps.iter().map(|p| p.name.as_str()).collect::<Vec<_>>(),
        ["partition", "clock"]
    );
    let clock = ps.into_iter().nth(1).unwrap();
    for (_, op) in invocations(clock.generator, 9, 30) {
        let n = match op.f_name() {
            "check-clock-offsets" => continue,
            "reset-clock" => op.value.as_seq().unwrap().len(),
            _ => op.value.as_map().unwrap().len(),
        };
        assert_eq!(n, 5, "{op:?}");
    }
    o.targets.insert("clock".into(), vec!["primaries".into()]);
    let e = packages(&o).err().unwrap();
    assert_eq!(
        e.to_string(),
        "bad nemesis package option for clock: primaries cannot be clock targets"
    );
    o.targets.insert("clock".into(), vec!["most".into()]);
    assert!(packages(&o).is_err());
}

// ---------------------------------------------------------------- real cluster (root)

static SERIAL: Mutex<()> = Mutex::new(());

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

fn prerequisites(test: &str) -> Option<MutexGuard<'static, ()>> {
    if !is_root() {
        println!("skipped: needs root ({test} builds network namespaces)");
        return None;
    }
    if faketime_lib().is_none() {
        println!("skipped: {test} needs libfaketime (apt-get install libfaketime)");
        return None;
    }
    Some(SERIAL.lock().unwrap_or_else(|e| e.into_inner()))
}

fn cluster(tag: char) -> (Arc<LocalCluster>, Scratch) {
    let prefix = format!("rc{}{tag}-", std::process::id() % 100_000);
    let scratch = testkit::scratch(&prefix, 3).unwrap();
    (
        Arc::new(LocalCluster::up(&scratch.config).unwrap()),
        scratch,
    )
}

fn info(cluster: &LocalCluster) -> TestInfo {
    TestInfo {
        name: "clock-test".into(),
        nodes: cluster.nodes(),
        concurrency: 1,
        seed: 42,
        store_dir: PathBuf::from("/tmp"),
    }
}

fn nemesis_op(f: &str, value: Value) -> Op {
    Op::new(OpType::Invoke, Process::Nemesis, Value::kw(f), value)
}

fn offsets_of(op: &Op) -> BTreeMap<String, f64> {
    let v = op
        .get_extra("clock-offsets")
        .expect("clock-offsets on the completion");
    v.as_map()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.as_name().unwrap().to_string(), v.as_f64().unwrap()))
        .collect()
}

fn near(x: f64, want: f64, tol: f64) -> bool {
    (x - want).abs() <= tol
}

/// Wall clock minus a monotonic reference: constant unless someone steps the host clock.
struct HostClock(SystemTime, Instant);

impl HostClock {
    fn now() -> HostClock {
        HostClock(SystemTime::now(), Instant::now())
    }
    /// How far the wall clock moved beyond the monotonic clock since `self`, seconds.
    fn drift_s(&self) -> f64 {
        let wall = SystemTime::now().duration_since(self.0).unwrap_or_default();
        (wall.as_secs_f64() - self.1.elapsed().as_secs_f64()).abs()
    }
}

const TICKER: &str = r"import time, sys
while True:
    with open(sys.argv[1], 'a') as f:
        f.write('%.3f\n' % time.time())
    time.sleep(0.1)
";

/// The last time the ticker wrote, minus the real time, seconds.
fn ticker_offset(path: &std::path::Path) -> Option<f64> {
    let text = std::fs::read_to_string(path).ok()?;
    let last: f64 = text.lines().last()?.trim().parse().ok()?;
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .ok()?
        .as_secs_f64();
    Some(last - now)
}

#[test]
fn bump_reset_and_a_daemon_sees_the_jump() {
    let Some(_lock) = prerequisites("bump_reset_and_a_daemon_sees_the_jump") else {
        return;
    };
    let host = HostClock::now();
    let (cluster, _guard) = cluster('b');
    let test = info(&cluster);
    runtime().block_on(async {
        // A daemon under libfaketime on n2 writing time.time() every 100 ms.
        rift_control::write_file(&*cluster, "n2", "ticker.py", TICKER.as_bytes())
            .await
            .unwrap();
        let spec = DaemonSpec {
            bin: "python3".into(),
            args: vec!["ticker.py".into(), "log/ticks".into()],
            pidfile: "ticker.pid".into(),
            logfile: "log/ticker.log".into(),
            env: faketime_env(&cluster, "n2").unwrap(),
            ..DaemonSpec::default()
        };
        start_daemon(&*cluster, "n2", &spec).await.unwrap();
        let ticks = cluster.log_dir("n2").unwrap().join("ticks");
        let started = Instant::now();
        while ticker_offset(&ticks).is_none() && started.elapsed() < Duration::from_secs(20) {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        println!(
            "the ticker wrote after {} ms",
            started.elapsed().as_millis()
        );
        let log = cluster.log_dir("n2").unwrap().join("ticker.log");
        let before = ticker_offset(&ticks).unwrap_or_else(|| {
            panic!(
                "the ticker never wrote: {:?}",
                std::fs::read_to_string(&log)
            )
        });
        assert!(near(before, 0.0, 1.0), "ticker before the bump: {before}");

        let mut nem = LocalNemesis::new(cluster.clone(), 42);
        let check = nem
            .invoke(&test, &nemesis_op("check-clock-offsets", Value::Nil))
            .await
            .unwrap();
        assert_eq!(check.ty, OpType::Info);
        assert_eq!(check.value, Value::Nil);
        let o = offsets_of(&check);
        assert_eq!(o.len(), 3);
        assert!(o.values().all(|x| near(*x, 0.0, 0.1)), "{o:?}");

        let bump = Value::Map(vec![(Value::str("n2"), Value::Int(60_000))]);
        let t = Instant::now();
        let done = nem
            .invoke(&test, &nemesis_op("bump-clock", bump.clone()))
            .await
            .unwrap();
        let bump_ms = t.elapsed().as_millis();
        assert_eq!(done.ty, OpType::Info);
        assert_eq!(done.value, bump);
        let o = offsets_of(&done);
        let json = rift_history::json::op_to_json(&done);
        assert!(json.contains("\"clock-offsets\":{\"~sn1\":"), "{json}");
        println!("bump-clock + measuring 3 nodes took {bump_ms} ms; offsets {o:?}");
        assert!(near(o["n2"], 60.0, 2.0), "{o:?}");
        assert!(near(o["n1"], 0.0, 2.0) && near(o["n3"], 0.0, 2.0), "{o:?}");
        assert_eq!(offset(&cluster, "n2").unwrap(), 60.0);

        // The running daemon sees the jump.
        tokio::time::sleep(Duration::from_millis(500)).await;
        let after = ticker_offset(&ticks).unwrap();
        assert!(near(after, 60.0, 2.0), "ticker after the bump: {after}");

        // A second bump adds up; reset returns to ~0.
        let bump2 = Value::Map(vec![(Value::kw("n2"), Value::Int(-1_500))]);
        let o = offsets_of(
            &nem.invoke(&test, &nemesis_op("bump-clock", bump2))
                .await
                .unwrap(),
        );
        assert!(near(o["n2"], 58.5, 0.5), "{o:?}");
        let reset = nem
            .invoke(&test, &nemesis_op("reset-clock", Value::Nil))
            .await
            .unwrap();
        assert_eq!(
            reset.value,
            Value::Vector(vec![Value::str("n1"), Value::str("n2"), Value::str("n3")])
        );
        let o = offsets_of(&reset);
        assert!(o.values().all(|x| near(*x, 0.0, 0.1)), "{o:?}");
        tokio::time::sleep(Duration::from_millis(500)).await;
        let back = ticker_offset(&ticks).unwrap();
        assert!(near(back, 0.0, 1.0), "ticker after the reset: {back}");

        // Bad values are refused with the op named.
        let e = nem
            .invoke(
                &test,
                &nemesis_op(
                    "bump-clock",
                    Value::Map(vec![(Value::str("n9"), Value::Int(1))]),
                ),
            )
            .await
            .unwrap_err();
        assert!(e.to_string().contains("n9"), "{e}");
        nem.teardown(&test).await.unwrap();
    });
    cluster.kill_node("n2").unwrap();
    assert!(
        host.drift_s() < 0.5,
        "host clock moved by {} s",
        host.drift_s()
    );
}

#[test]
fn strobe_varies_and_heal_cancels_it() {
    let Some(_lock) = prerequisites("strobe_varies_and_heal_cancels_it") else {
        return;
    };
    let host = HostClock::now();
    let (cluster, _guard) = cluster('s');
    let test = info(&cluster);
    runtime().block_on(async {
        let mut nem = LocalNemesis::new(cluster.clone(), 42);
        let spec = |delta: i64, period: i64, duration: i64| {
            Value::Map(vec![
                (Value::kw("delta"), Value::Int(delta)),
                (Value::kw("period"), Value::Int(period)),
                (Value::kw("duration"), Value::Int(duration)),
            ])
        };
        // n1 strobes by 5 s every 50 ms for a short while; it must settle back at 0.
        let v = Value::Map(vec![(Value::str("n1"), spec(5_000, 50, 1_500))]);
        let done = nem
            .invoke(&test, &nemesis_op("strobe-clock", v.clone()))
            .await
            .unwrap();
        assert_eq!(done.value, v);
        assert_eq!(nem.clock().unwrap().active_strobes(), 1);
        let mut seen = Vec::new();
        for _ in 0..12 {
            let o = offsets_of(
                &nem.invoke(&test, &nemesis_op("check-clock-offsets", Value::Nil))
                    .await
                    .unwrap(),
            );
            assert!(near(o["n2"], 0.0, 0.1), "{o:?}");
            seen.push(o["n1"]);
            tokio::time::sleep(Duration::from_millis(37)).await;
        }
        println!("strobe offsets seen on n1: {seen:?}");
        assert!(
            seen.iter()
                .all(|x| near(*x, 0.0, 0.2) || near(*x, 5.0, 0.2)),
            "{seen:?}"
        );
        assert!(seen.iter().any(|x| near(*x, 0.0, 0.2)), "{seen:?}");
        assert!(seen.iter().any(|x| near(*x, 5.0, 0.2)), "{seen:?}");
        tokio::time::sleep(Duration::from_millis(1_500)).await;
        assert_eq!(
            nem.clock().unwrap().active_strobes(),
            0,
            "the strobe ended by itself"
        );
        assert_eq!(offset(&cluster, "n1").unwrap(), 0.0);

        // A strobe around a bumped base; heal cancels a long strobe at once and resets.
        let bump = Value::Map(vec![(Value::str("n3"), Value::Int(-10_000))]);
        nem.invoke(&test, &nemesis_op("bump-clock", bump))
            .await
            .unwrap();
        let v = Value::Map(vec![
            (Value::str("n3"), spec(2_000, 8, 600_000)),
            (Value::str("n2"), spec(100_000, 20, 600_000)),
        ]);
        nem.invoke(&test, &nemesis_op("strobe-clock", v))
            .await
            .unwrap();
        assert_eq!(nem.clock().unwrap().active_strobes(), 2);
        tokio::time::sleep(Duration::from_millis(100)).await;
        let o = offsets_of(
            &nem.invoke(&test, &nemesis_op("check-clock-offsets", Value::Nil))
                .await
                .unwrap(),
        );
        assert!(
            near(o["n3"], -10.0, 0.2) || near(o["n3"], -8.0, 0.2),
            "{o:?}"
        );
        nem.teardown(&test).await.unwrap();
        assert_eq!(nem.clock().unwrap().active_strobes(), 0);
        for node in cluster.nodes() {
            assert_eq!(offset(&cluster, &node).unwrap(), 0.0, "{node}");
        }
        // Nothing writes the files after the heal.
        tokio::time::sleep(Duration::from_millis(200)).await;
        let o = nem
            .clock()
            .unwrap()
            .measure(&cluster.nodes())
            .await
            .unwrap();
        assert!(o.values().all(|x| near(*x, 0.0, 0.1)), "{o:?}");

        // Dropping the nemesis stops a strobe too.
        let v = Value::Map(vec![(Value::str("n1"), spec(3_000, 10, 600_000))]);
        nem.invoke(&test, &nemesis_op("strobe-clock", v))
            .await
            .unwrap();
        drop(nem);
        tokio::time::sleep(Duration::from_millis(100)).await;
        let file = rift_control::clock::faketime_file(&cluster, "n1").unwrap();
        let modified = std::fs::metadata(&file).unwrap().modified().unwrap();
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert_eq!(
            std::fs::metadata(&file).unwrap().modified().unwrap(),
            modified,
            "a strobe outlived its nemesis"
        );
    });
    assert!(
        host.drift_s() < 0.5,
        "host clock moved by {} s",
        host.drift_s()
    );
}
