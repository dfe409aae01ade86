//! Fault packages and schedules, driven by the deterministic simulator.

use rift_generator::{simulate, Gen, SimConfig};
use rift_history::OpType;
use rift_nemesis::*;

const S: i64 = 1_000_000_000;

fn nodes() -> Vec<String> {
    (1..=5).map(|i| format!("n{i}")).collect()
}

fn opts(faults: &str) -> PackageOptions {
    let mut o = PackageOptions::new(parse_faults(faults).unwrap(), nodes());
    o.interval_ns = 10 * S;
    o
}

/// Invocations as `(time in s, f, value)`, nemesis ops complete at once.
fn run(gen: Gen, seed: u64, max_ops: usize) -> Vec<(i64, String, String)> {
    let cfg = SimConfig {
        concurrency: 1,
        nemesis: true,
        seed,
        max_ops,
    };
    simulate(gen, cfg, |op, _| (OpType::Info, op.value.clone(), 0))
        .into_iter()
        .filter(|op| op.ty == OpType::Invoke)
        .map(|op| {
            (
                op.time.unwrap() / S,
                op.f_name().to_string(),
                op.value.to_string(),
            )
        })
        .collect()
}

fn one(faults: &str) -> Package {
    let mut p = packages(&opts(faults)).unwrap();
    assert_eq!(p.len(), 1);
    p.remove(0)
}

fn ops(v: &[(i64, &str, &str)]) -> Vec<(i64, String, String)> {
    v.iter()
        .map(|(t, f, x)| (*t, f.to_string(), x.to_string()))
        .collect()
}

fn roles() -> Roles {
    let mut r = Roles::new();
    r.insert("storage".into(), vec!["n1".into(), "n2".into()]);
    r.insert(
        "brokers".into(),
        vec!["n3".into(), "n4".into(), "n5".into()],
    );
    r
}

#[test]
fn parse_faults_names_and_errors() {
    let f = parse_faults("partition, kill,pause").unwrap();
    assert_eq!(
        f.into_iter().collect::<Vec<_>>(),
        ["kill", "partition", "pause"]
    );
    assert!(parse_faults("none").unwrap().is_empty());
    assert!(parse_faults("").unwrap().is_empty());
    let e = parse_faults("partition,clocks").unwrap_err();
    assert_eq!(
        e.to_string(),
        "unknown fault \"clocks\" (known faults: partition, kill, pause, packet, file, clock; or none)"
    );
    assert!(packages(&opts("none")).unwrap().is_empty());
}

#[test]
fn partition_package_alternates() {
    let p = one("partition");
    assert_eq!(p.name, "partition");
    assert_eq!(
        p.perf,
        vec![PerfSpec {
            name: "partition".into(),
            start: vec!["start-partition".into()],
            stop: vec!["stop-partition".into()],
            color: "#E9DCA0".into(),
        }]
    );
    assert_eq!(
        run(p.generator, 1, 6),
        ops(&[
            (0, "start-partition", ":majorities-ring"),
            (10, "stop-partition", "nil"),
            (20, "start-partition", ":minority-third"),
            (30, "stop-partition", "nil"),
            (40, "start-partition", ":one"),
            (50, "stop-partition", "nil"),
        ])
    );
    assert_eq!(
        run(p.final_generator.unwrap(), 1, 10),
        ops(&[(0, "stop-partition", "nil")])
    );
}

#[test]
fn kill_and_pause_packages_alternate() {
    let k = one("kill");
    assert_eq!(
        run(k.generator, 1, 6),
        ops(&[
            (0, "kill", ":majority"),
            (10, "start", ":all"),
            (20, "kill", ":all"),
            (30, "start", ":all"),
            (40, "kill", "nil"),
            (50, "start", ":all"),
        ])
    );
    assert_eq!(
        run(k.final_generator.unwrap(), 1, 10),
        ops(&[(0, "start", ":all")])
    );
    assert_eq!(k.perf[0].start, ["kill"]);
    assert_eq!(k.perf[0].stop, ["start"]);
    let p = one("pause");
    assert_eq!(
        run(p.generator, 1, 4),
        ops(&[
            (0, "pause", ":majority"),
            (10, "resume", ":all"),
            (20, "pause", ":all"),
            (30, "resume", ":all"),
        ])
    );
    assert_eq!(
        run(p.final_generator.unwrap(), 1, 10),
        ops(&[(0, "resume", ":all")])
    );
}

#[test]
fn interval_and_targets_are_options() {
    let mut o = opts("kill");
    o.interval_ns = 3 * S;
    o.targets.insert("kill".into(), vec!["one".into()]);
    let g = packages(&o).unwrap().remove(0).generator;
    assert_eq!(
        run(g, 9, 4),
        ops(&[
            (0, "kill", ":one"),
            (3, "start", ":all"),
            (6, "kill", ":one"),
            (9, "start", ":all")
        ])
    );
    o.interval_ns = 0;
    assert!(packages(&o).is_err());
}

#[test]
fn packet_package_draws_nodes_and_loss() {
    let p = one("packet");
    assert_eq!(
        run(p.generator, 1, 4),
        ops(&[
            (
                0,
                "start-packet",
                "{:nodes :majority, :behaviour {:loss {:percent 30}}}"
            ),
            (10, "stop-packet", "nil"),
            (
                20,
                "start-packet",
                "{:nodes nil, :behaviour {:loss {:percent 30}}}"
            ),
            (30, "stop-packet", "nil"),
        ])
    );
    assert_eq!(
        run(p.final_generator.unwrap(), 1, 10),
        ops(&[(0, "stop-packet", "nil")])
    );
    let mut o = opts("packet");
    o.loss_percents = vec![101];
    let e = packages(&o).err().unwrap();
    assert_eq!(
        e.to_string(),
        "bad nemesis package option for packet: loss percents must be 1 or more numbers in 0..=100"
    );
}

#[test]
fn file_package_corrupts_named_files() {
    let mut o = opts("file");
    let e = packages(&o).err().unwrap();
    assert_eq!(
        e.to_string(),
        "bad nemesis package option for file: no files given to corrupt"
    );
    o.files = vec!["data/db".into(), "wal".into()];
    let p = packages(&o).unwrap().remove(0);
    assert!(p.final_generator.is_none());
    assert_eq!(p.perf[0].start, ["bitflip", "truncate"]);
    assert!(p.perf[0].stop.is_empty());
    assert_eq!(
        run(p.generator, 1, 3),
        ops(&[
            (
                0,
                "bitflip",
                "{\"n3\" {:file \"data/db\", :probability 0.01}}"
            ),
            (10, "truncate", "{\"n5\" {:file \"data/db\", :drop 64}}"),
            (20, "truncate", "{\"n1\" {:file \"wal\", :drop 64}}"),
        ])
    );
    // Role targets restrict the nodes.
    o.roles = roles();
    o.targets.insert("file".into(), vec!["role:storage".into()]);
    let g = packages(&o).unwrap().remove(0).generator;
    let nodes: Vec<String> = run(g, 4, 30)
        .into_iter()
        .map(|(_, _, v)| v[2..4].to_string())
        .collect();
    assert_eq!(nodes.len(), 30);
    assert!(nodes.iter().all(|n| n == "n1" || n == "n2"), "{nodes:?}");
    assert!(nodes.iter().any(|n| n == "n1") && nodes.iter().any(|n| n == "n2"));
    o.targets.insert("file".into(), vec!["n9".into()]);
    assert_eq!(
        packages(&o).err().unwrap().to_string(),
        "unknown node \"n9\""
    );
}

#[test]
fn compose_mixes_packages_one_op_per_interval() {
    let c = compose(packages(&opts("partition,kill")).unwrap());
    assert_eq!(c.name, "partition+kill");
    let names: Vec<&str> = c.perf.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, ["partition", "kill"]);
    // Jepsen's mix: one fault op every interval from a package drawn at random; each package
    // keeps its own start/stop order, so faults overlap in every combination.
    assert_eq!(
        run(c.generator, 1, 8),
        ops(&[
            (0, "kill", ":one"),
            (10, "start", ":all"),
            (20, "start-partition", ":one"),
            (30, "kill", ":majority"),
            (40, "stop-partition", "nil"),
            (50, "start", ":all"),
            (60, "start-partition", ":majorities-ring"),
            (70, "stop-partition", "nil"),
        ])
    );
    // Over a long run: never two ops at once, each package alternates, and every combination
    // of the two faults (none, either alone, both) holds at some point.
    let long = run(
        compose(packages(&opts("partition,kill")).unwrap()).generator,
        3,
        400,
    );
    let mut seen = std::collections::BTreeSet::new();
    let (mut partitioned, mut killed) = (false, false);
    for (i, (t, f, _)) in long.iter().enumerate() {
        assert_eq!(*t, 10 * i as i64, "one op every interval: {long:?}");
        match f.as_str() {
            "start-partition" => assert!(!std::mem::replace(&mut partitioned, true)),
            "stop-partition" => assert!(std::mem::replace(&mut partitioned, false)),
            "kill" => assert!(!std::mem::replace(&mut killed, true)),
            "start" => assert!(std::mem::replace(&mut killed, false)),
            other => panic!("unexpected {other}"),
        }
        seen.insert((partitioned, killed));
    }
    assert_eq!(seen.len(), 4, "combinations seen: {seen:?}");
    assert_eq!(
        run(c.final_generator.unwrap(), 1, 10),
        ops(&[(0, "stop-partition", "nil"), (0, "start", ":all")])
    );
    let all = compose(packages(&opts("partition,kill,pause,packet")).unwrap());
    assert_eq!(
        run(all.final_generator.unwrap(), 1, 10),
        ops(&[
            (0, "stop-partition", "nil"),
            (0, "start", ":all"),
            (0, "resume", ":all"),
            (0, "stop-packet", "nil"),
        ])
    );
}

#[test]
fn compose_of_none_and_one() {
    let none = compose(Vec::new());
    assert_eq!(none.name, "none");
    assert!(none.final_generator.is_none());
    assert!(run(none.generator, 1, 10).is_empty());
    let single = compose(packages(&opts("pause")).unwrap());
    assert_eq!(single.name, "pause");
    assert_eq!(
        run(single.generator, 1, 1),
        ops(&[(0, "pause", ":majority")])
    );
}

#[test]
fn rotating_windows_pick_subsets_and_heal_leavers() {
    let r = rotating(packages(&opts("partition,kill,pause")).unwrap(), 30 * S);
    // Windows of 30 s: [0,30) kill+pause; [30,60) none (both healed at 30); [60,90) all
    // three; [90,120) partition (kill and pause healed at 90); [120,150) pause (partition
    // healed at 120, right after its own stop).
    assert_eq!(
        run(r, 3, 24),
        ops(&[
            (0, "kill", ":all"),
            (0, "pause", ":all"),
            (10, "start", ":all"),
            (10, "resume", ":all"),
            (20, "kill", ":one"),
            (20, "pause", ":majority"),
            (30, "start", ":all"),
            (30, "resume", ":all"),
            (60, "start-partition", ":one"),
            (60, "kill", "nil"),
            (60, "pause", ":majority"),
            (70, "stop-partition", "nil"),
            (70, "start", ":all"),
            (70, "resume", ":all"),
            (80, "start-partition", ":one"),
            (80, "kill", ":one"),
            (80, "pause", ":majority"),
            (90, "start", ":all"),
            (90, "resume", ":all"),
            (90, "stop-partition", "nil"),
            (100, "start-partition", ":minority-third"),
            (110, "stop-partition", "nil"),
            (120, "stop-partition", "nil"),
            (120, "pause", ":one"),
        ])
    );
}

/// Over many seeds: a package never starts a fault twice without a stop (its own or a
/// heal) in between, no op of a package falls in a window without it, the same seed gives
/// the same schedule, and some windows have no faults at all.
#[test]
fn rotating_invariants() {
    let mk = || {
        rotating(
            packages(&opts("partition,kill,pause,packet")).unwrap(),
            25 * S,
        )
    };
    let mut empty_windows = 0;
    for seed in 0..20 {
        let h = run(mk(), seed, 200);
        assert_eq!(h, run(mk(), seed, 200), "seed {seed}");
        assert_eq!(h.len(), 200);
        let pairs = [
            ("start-partition", "stop-partition"),
            ("kill", "start"),
            ("pause", "resume"),
            ("start-packet", "stop-packet"),
        ];
        for (start, stop) in pairs {
            let mut open = false;
            for (t, f, _) in &h {
                if f == start {
                    assert!(!open, "seed {seed}: {start} twice at {t}");
                    open = true;
                } else if f == stop {
                    open = false;
                }
            }
        }
        let last = h.last().unwrap().0;
        for w in 0..last / 25 {
            // A window with no ops but possibly heals at its start.
            if !h.iter().any(|(t, _, _)| *t > w * 25 && *t < (w + 1) * 25) {
                empty_windows += 1;
            }
        }
    }
    assert!(empty_windows > 0);
}

#[test]
fn rotating_package_heals_everything() {
    let p = rotating_package(packages(&opts("partition,pause")).unwrap(), 30 * S);
    assert_eq!(p.name, "rotating(partition+pause)");
    assert_eq!(p.perf.len(), 2);
    assert_eq!(
        run(p.final_generator.unwrap(), 1, 10),
        ops(&[(0, "stop-partition", "nil"), (0, "resume", ":all")])
    );
    assert!(run(rotating(Vec::new(), S), 1, 10).is_empty());
}

#[test]
fn role_targets() {
    let mut o = opts("kill,partition");
    o.roles = roles();
    o.targets.insert("kill".into(), vec!["role:storage".into()]);
    o.targets
        .insert("partition".into(), vec!["between:storage,brokers".into()]);
    let c = compose(packages(&o).unwrap());
    let h = run(c.generator, 2, 4);
    assert_eq!(
        h,
        ops(&[
            (0, "start-partition", "\"between:storage,brokers\""),
            (10, "kill", "\"role:storage\""),
            (20, "stop-partition", "nil"),
            (30, "start-partition", "\"between:storage,brokers\""),
        ])
    );
    o.targets.insert("kill".into(), vec!["role:clients".into()]);
    assert_eq!(
        packages(&o).err().unwrap().to_string(),
        "unknown role \"clients\" (known roles: brokers, storage)"
    );
    o.targets.insert("kill".into(), vec!["most".into()]);
    assert!(packages(&o)
        .err()
        .unwrap()
        .to_string()
        .starts_with("bad nemesis package option for kill: unknown node spec \"most\""));
    o.targets.insert("kill".into(), vec!["one".into()]);
    o.targets
        .insert("partition".into(), vec!["between:storage".into()]);
    assert_eq!(
        packages(&o).err().unwrap().to_string(),
        "bad value for start-partition: \"between:storage\": expected between:<roleA>,<roleB>"
    );
    o.targets.insert("partition".into(), vec!["halves".into()]);
    assert!(packages(&o).is_err());
}

#[test]
fn role_node_specs_resolve() {
    let spec = NodeSpec::by_name("role:brokers").unwrap();
    assert_eq!(spec, NodeSpec::Role("brokers".into()));
    let nodes = spec.clone().resolve_roles(&roles()).unwrap();
    assert_eq!(
        nodes,
        NodeSpec::Nodes(vec!["n3".into(), "n4".into(), "n5".into()])
    );
    assert_eq!(NodeSpec::by_name("role:"), None);
    let e = spec.resolve_roles(&Roles::new()).unwrap_err();
    assert_eq!(
        e.to_string(),
        "unknown role \"brokers\" (known roles: none)"
    );
    assert_eq!(
        NodeSpec::One.resolve_roles(&roles()).unwrap(),
        NodeSpec::One
    );
    let v = rift_history::Value::str("role:storage");
    assert_eq!(
        NodeSpec::from_value("kill", &v).unwrap(),
        NodeSpec::Role("storage".into())
    );
}

#[test]
fn between_grudge_cuts_only_cross_links() {
    let g = Grudge::between_roles("between:storage,brokers", &roles())
        .unwrap()
        .unwrap();
    let set = |v: &[&str]| {
        v.iter()
            .map(|s| s.to_string())
            .collect::<std::collections::BTreeSet<_>>()
    };
    assert_eq!(g.of("n1"), set(&["n3", "n4", "n5"]));
    assert_eq!(g.of("n2"), set(&["n3", "n4", "n5"]));
    assert_eq!(g.of("n3"), set(&["n1", "n2"]));
    assert_eq!(g.of("n5"), set(&["n1", "n2"]));
    // A node in both groups keeps its link to itself; a third role is untouched.
    let g = Grudge::between(&["n1".into(), "n2".into()], &["n2".into(), "n3".into()]);
    assert_eq!(g.of("n2"), set(&["n1", "n3"]));
    assert_eq!(g.of("n1"), set(&["n2", "n3"]));
    assert_eq!(g.of("n4"), set(&[]));
    // Overlapping roles (Kafka's combined controller+broker nodes n1..n3, broker-only n4, n5):
    // the nodes of both roles stay together; the broker-only nodes lose the controllers.
    let nodes = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    let g = Grudge::between(
        &nodes(&["n1", "n2", "n3"]),
        &nodes(&["n1", "n2", "n3", "n4", "n5"]),
    );
    assert_eq!(g.of("n1"), set(&["n4", "n5"]));
    assert_eq!(g.of("n3"), set(&["n4", "n5"]));
    assert_eq!(g.of("n4"), set(&["n1", "n2", "n3"]));
    assert_eq!(g.of("n5"), set(&["n1", "n2", "n3"]));
    assert!(Grudge::between_roles("majority", &roles()).is_none());
    let e = Grudge::between_roles("between:storage,clients", &roles())
        .unwrap()
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        "unknown role \"clients\" (known roles: brokers, storage)"
    );
}

/// Kafka's roles: combined controller+broker nodes n1..n3, broker-only n4 and n5.
fn kafka_roles() -> Roles {
    let mut r = Roles::new();
    r.insert(
        "controller".into(),
        vec!["n1".into(), "n2".into(), "n3".into()],
    );
    r.insert("broker".into(), nodes());
    r
}

#[test]
fn role_scoped_fault_names() {
    let roles = kafka_roles();
    let f = parse_faults_for(
        "kill-controller, pause-broker,clock-controller,partition-broker,partition-broker-controller,kill",
        &roles,
    )
    .unwrap();
    assert_eq!(
        f.iter().map(String::as_str).collect::<Vec<_>>(),
        [
            "clock-controller",
            "kill",
            "kill-controller",
            "partition-broker",
            "partition-broker-controller",
            "pause-broker"
        ]
    );
    assert_eq!(
        fault_scope("partition-controller-broker", &roles),
        Some((
            "partition",
            FaultScope::Between("controller".into(), "broker".into())
        ))
    );
    assert_eq!(
        fault_scope("kill-controller", &roles),
        Some(("kill", FaultScope::Role("controller".into())))
    );
    assert_eq!(fault_scope("kill-broker-controller", &roles), None);
    assert_eq!(
        fault_kinds(&f, &roles).into_iter().collect::<Vec<_>>(),
        ["clock", "kill", "partition", "pause"]
    );
    let e = parse_faults_for("kill-storage", &roles)
        .unwrap_err()
        .to_string();
    assert!(e.starts_with("unknown fault \"kill-storage\" (known faults: partition, kill, pause, packet, file, clock, kill-broker, pause-broker, clock-broker, packet-broker, partition-broker, kill-controller,"), "{e}");
    assert!(e.contains("partition-broker-controller"), "{e}");
    // Without roles, role names are unknown faults.
    assert!(parse_faults("kill-controller").is_err());
}

#[test]
fn role_scoped_packages_target_only_their_role() {
    let mut o = PackageOptions::new(
        parse_faults_for(
            "kill-controller,partition-broker-controller,pause-broker",
            &kafka_roles(),
        )
        .unwrap(),
        nodes(),
    );
    o.roles = kafka_roles();
    o.interval_ns = 10 * S;
    let ps = packages(&o).unwrap();
    let names: Vec<&str> = ps.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "kill-controller",
            "partition-broker-controller",
            "pause-broker"
        ]
    );
    assert_eq!(ps[0].perf[0].name, "kill-controller");
    assert_eq!(ps[0].perf[0].start, ["kill"]);
    let c = compose(ps);
    let h = run(c.generator, 3, 60);
    let mut seen = std::collections::BTreeSet::new();
    for (_, f, v) in &h {
        seen.insert(f.clone());
        match f.as_str() {
            "kill" => assert!(v.starts_with("\"role:controller:"), "{v}"),
            "pause" => assert!(v.starts_with("\"role:broker:"), "{v}"),
            "start-partition" => assert_eq!(v, "\"between:broker,controller\""),
            "start" | "resume" => assert_eq!(v, ":all"),
            "stop-partition" => assert_eq!(v, "nil"),
            other => panic!("unexpected {other}"),
        }
    }
    assert!(
        seen.contains("kill") && seen.contains("pause") && seen.contains("start-partition"),
        "{seen:?}"
    );
    // A role package's targets may be set by name, and are checked.
    o.targets.insert(
        "kill-controller".into(),
        vec!["role:controller:most".into()],
    );
    assert!(packages(&o).is_err());
    o.targets
        .insert("kill-controller".into(), vec!["role:controller:all".into()]);
    assert!(packages(&o).is_ok());
}
