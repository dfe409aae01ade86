//! The seed's nemesis names and schedules (tikv/jepsen-test's `nemesis.clj`, `generator.clj`
//! and the `--nemesis` options of `tikv.clj`), as rift generators.
//!
//! # Names
//!
//! `--nemesis` takes the seed's names ([`SEED_NAMES`]): `partition-one`,
//! `partition-pd-leader`, `partition-half`, `partition-ring`, `kill-pd`, `kill-kv`,
//! `pause-pd`, `pause-kv`, `shuffle-leader`, `shuffle-region`, `random-merge`,
//! `restart-kv-without-pd`, and the shorthands `kill` (both kills), `pause` (both pauses),
//! `schedules` (the three schedulers) and `partition` (the four partitions). Any other name
//! (`clock`, `packet`, `file`, role faults...) is rift's and goes to rift's parser
//! ([`rift_nemesis::parse_faults_for`]): [`split_faults`] cuts the text in two,
//! [`parse_nemesis`] also checks rift's part and names both lists in its error. The seed's
//! `kill`, `pause` and `partition` **shadow** rift's generic faults of the same names in
//! this suite (a Jepsen user of this suite means the seed's), and so do `kill-pd`, `kill-kv`,
//! `pause-pd` and `pause-kv` shadow rift's role faults of the roles `pd` and `kv`: the seed's
//! act on one process of a node, rift's on the whole node.
//!
//! # Schedule
//!
//! Each enabled fault group is a flip-flop of a fault and its recovery (`kill-pd` then
//! `start-pd`, `shuffle-leader` then `del-shuffle-leader`, `start-partition` of a random
//! enabled kind then `stop-partition`...); the groups are mixed (each op from a random
//! group) and spaced by a random stagger averaging `interval` ([`Schedule::Random`], the
//! default) or on exact multiples of `interval` ([`Schedule::Fixed`], the seed's
//! `delay-til`; here the first op comes one interval in). `--nemesis-long-recovery` repeats
//! 120 s of those faults, the healing ops ([`final_ops`]), then 60 s without faults.
//! `restart-kv-without-pd` replaces all of that by the seed's script ([`restart_kv_script`]).
//! The healing ops heal everything enabled, `partition-pd-leader` included (the seed forgot
//! it) and `restart-kv-without-pd`'s faults too.
//!
//! The seed's waits (its `gen/sleep`) are waits that hold no thread here ([`quiet`]), so
//! that rift's own faults, which share the nemesis thread, go on meanwhile.
//!
//! # Example
//!
//! ```
//! use rift_tikv::gen::{parse_nemesis, seed_phase, NemesisOptions, SeedFault};
//! use std::time::Duration;
//!
//! let roles = Default::default();
//! let (seed, rift) = parse_nemesis("kill,partition-one,clock", &roles).unwrap();
//! assert!(seed.contains(SeedFault::KillPd) && seed.contains(SeedFault::KillKv));
//! assert_eq!(rift.into_iter().collect::<Vec<_>>(), ["clock"]);
//! let (phase, perf) = seed_phase(&seed, &NemesisOptions::default(), Duration::from_secs(10))
//!     .unwrap();
//! assert!(phase.final_generator.is_some());
//! assert_eq!(perf.as_array().unwrap().len(), 3);
//! assert!(parse_nemesis("kill-tikv", &roles).unwrap_err().contains("partition-pd-leader"));
//! ```

use rand::seq::IndexedRandom;
use rift_core::workload::NemesisPhase;
use rift_generator::{self as gen, Context, Gen, GenOp, Generator, Poll};
use rift_history::{Op, Value};
use rift_nemesis::{PerfSpec, Roles};
use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

/// The names `--nemesis` takes for the seed's faults (besides `none`).
pub const SEED_NAMES: [&str; 16] = [
    "partition",
    "partition-one",
    "partition-pd-leader",
    "partition-half",
    "partition-ring",
    "kill",
    "pause",
    "kill-pd",
    "kill-kv",
    "pause-pd",
    "pause-kv",
    "schedules",
    "shuffle-leader",
    "shuffle-region",
    "random-merge",
    "restart-kv-without-pd",
];

/// `--nemesis-long-recovery`: how long each round of faults lasts, from the round's start
/// (the seed's `time-limit` counts from the round's first fault op, which under the random
/// schedule is the same instant).
pub const LONG_RECOVERY_FAULTS: Duration = Duration::from_secs(120);
/// `--nemesis-long-recovery`: the quiet time after each round's healing.
pub const LONG_RECOVERY_QUIET: Duration = Duration::from_secs(60);
/// `restart-kv-without-pd`: the wait before its first op.
pub const RESTART_KV_FIRST_WAIT: Duration = Duration::from_secs(10);
/// `restart-kv-without-pd`: how long PD stays paused after TiKV is started again.
pub const RESTART_KV_PD_PAUSED: Duration = Duration::from_secs(70);

/// The seed's schedulers: the fault op, its removal op, and PD's scheduler name.
pub const SCHEDULERS: [(&str, &str, &str); 3] = [
    (
        "shuffle-leader",
        "del-shuffle-leader",
        "shuffle-leader-scheduler",
    ),
    (
        "shuffle-region",
        "del-shuffle-region",
        "shuffle-region-scheduler",
    ),
    ("random-merge", "del-random-merge", "random-merge-scheduler"),
];

/// The seed's partitions; the value of a `start-partition` op is the kind's [`name`].
///
/// [`name`]: PartitionKind::name
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum PartitionKind {
    /// `partition-one`: one random node alone, the rest together.
    SingleNode,
    /// `partition-pd-leader`: the PD leader's node alone, the rest together.
    PdLeader,
    /// `partition-half`: the shuffled nodes cut in two (`n / 2` and the rest).
    Half,
    /// `partition-ring`: overlapping majorities on a random ring (Jepsen's
    /// `majorities-ring`).
    Ring,
}

impl PartitionKind {
    /// All four, in the seed's order.
    pub const ALL: [PartitionKind; 4] = [
        PartitionKind::SingleNode,
        PartitionKind::PdLeader,
        PartitionKind::Half,
        PartitionKind::Ring,
    ];

    /// The seed's `:partition-type`: `single-node`, `pd-leader`, `half`, `ring`.
    pub fn name(self) -> &'static str {
        match self {
            PartitionKind::SingleNode => "single-node",
            PartitionKind::PdLeader => "pd-leader",
            PartitionKind::Half => "half",
            PartitionKind::Ring => "ring",
        }
    }

    /// The `--nemesis` name: `partition-one`, `partition-pd-leader`, ...
    pub fn option(self) -> &'static str {
        match self {
            PartitionKind::SingleNode => "partition-one",
            PartitionKind::PdLeader => "partition-pd-leader",
            PartitionKind::Half => "partition-half",
            PartitionKind::Ring => "partition-ring",
        }
    }

    /// The kind whose [`PartitionKind::name`] is `name`.
    pub fn from_name(name: &str) -> Option<PartitionKind> {
        PartitionKind::ALL.into_iter().find(|k| k.name() == name)
    }
}

/// One of the seed's faults, after shorthand expansion.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum SeedFault {
    /// `kill-pd`: SIGKILL `pd-server` on some nodes; healed by `start-pd`.
    KillPd,
    /// `kill-kv`: SIGKILL `tikv-server` on some nodes; healed by `start-kv`.
    KillKv,
    /// `pause-pd`: SIGSTOP `pd-server` on some nodes; healed by `resume-pd`.
    PausePd,
    /// `pause-kv`: SIGSTOP `tikv-server` on some nodes; healed by `resume-kv`.
    PauseKv,
    /// `shuffle-leader`: PD's `shuffle-leader-scheduler`; removed by `del-shuffle-leader`.
    ShuffleLeader,
    /// `shuffle-region`: PD's `shuffle-region-scheduler`; removed by `del-shuffle-region`.
    ShuffleRegion,
    /// `random-merge`: PD's `random-merge-scheduler`; removed by `del-random-merge`.
    RandomMerge,
    /// A partition kind; healed by `stop-partition`.
    Partition(PartitionKind),
    /// `restart-kv-without-pd`: the seed's fixed script, which replaces every schedule.
    RestartKvWithoutPd,
}

impl SeedFault {
    /// The `--nemesis` name of this fault.
    pub fn name(self) -> &'static str {
        match self {
            SeedFault::KillPd => "kill-pd",
            SeedFault::KillKv => "kill-kv",
            SeedFault::PausePd => "pause-pd",
            SeedFault::PauseKv => "pause-kv",
            SeedFault::ShuffleLeader => "shuffle-leader",
            SeedFault::ShuffleRegion => "shuffle-region",
            SeedFault::RandomMerge => "random-merge",
            SeedFault::Partition(k) => k.option(),
            SeedFault::RestartKvWithoutPd => "restart-kv-without-pd",
        }
    }
}

/// The seed's faults of a `--nemesis` text, expanded (`kill` is `kill-pd` and `kill-kv`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SeedFaults(pub BTreeSet<SeedFault>);

impl SeedFaults {
    /// Whether `f` is enabled.
    pub fn contains(&self, f: SeedFault) -> bool {
        self.0.contains(&f)
    }

    /// True when no seed fault is enabled.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The enabled partition kinds, in the seed's order.
    pub fn partitions(&self) -> Vec<PartitionKind> {
        PartitionKind::ALL
            .into_iter()
            .filter(|k| self.contains(SeedFault::Partition(*k)))
            .collect()
    }

    /// The rift fault kinds these faults need of the place (for rift-suite's
    /// `Suite::nemesis_faults`, which tells the cluster what it must be able to do):
    /// `partition` when a partition is enabled (its grudges are nft rules of rift's
    /// nemesis); the process and scheduler faults need nothing of the place.
    pub fn rift_kinds(&self) -> BTreeSet<String> {
        let mut out = BTreeSet::new();
        if !self.partitions().is_empty() {
            out.insert("partition".to_string());
        }
        out
    }

    /// The expanded names, `+`-joined (`kill-pd+kill-kv`), or `none`; for test names.
    pub fn name(&self) -> String {
        if self.is_empty() {
            return "none".to_string();
        }
        self.0
            .iter()
            .map(|f| f.name())
            .collect::<Vec<_>>()
            .join("+")
    }
}

/// The seed's faults a `--nemesis` name stands for: one, or several for the shorthands
/// `kill`, `pause`, `schedules` and `partition`; `None` for a name that is not the seed's.
pub fn expand(name: &str) -> Option<Vec<SeedFault>> {
    use SeedFault::*;
    Some(match name {
        "kill" => vec![KillPd, KillKv],
        "pause" => vec![PausePd, PauseKv],
        "schedules" => vec![ShuffleLeader, ShuffleRegion, RandomMerge],
        "partition" => PartitionKind::ALL.into_iter().map(Partition).collect(),
        "kill-pd" => vec![KillPd],
        "kill-kv" => vec![KillKv],
        "pause-pd" => vec![PausePd],
        "pause-kv" => vec![PauseKv],
        "shuffle-leader" => vec![ShuffleLeader],
        "shuffle-region" => vec![ShuffleRegion],
        "random-merge" => vec![RandomMerge],
        "restart-kv-without-pd" => vec![RestartKvWithoutPd],
        other => vec![Partition(
            PartitionKind::ALL
                .into_iter()
                .find(|k| k.option() == other)?,
        )],
    })
}

/// Cuts a `--nemesis` text in two: the seed's faults (expanded), and every other name,
/// comma-joined in the order given, for rift's parser ([`rift_nemesis::parse_faults_for`]).
/// `none` and empty names are dropped. Nothing is checked here: see [`parse_nemesis`].
pub fn split_faults(text: &str) -> (SeedFaults, String) {
    let mut seed = SeedFaults::default();
    let mut rest = Vec::new();
    for name in text.split(',').map(str::trim).filter(|n| !n.is_empty()) {
        if name == "none" {
            continue;
        }
        match expand(name) {
            Some(fs) => seed.0.extend(fs),
            None => rest.push(name),
        }
    }
    (seed, rest.join(","))
}

/// [`split_faults`], then rift's part parsed against the suite's `roles`. An unknown name is
/// an error naming it and listing the seed's names and rift's (without the shadowed ones).
pub fn parse_nemesis(text: &str, roles: &Roles) -> Result<(SeedFaults, BTreeSet<String>), String> {
    let (seed, rest) = split_faults(text);
    let mut rift = BTreeSet::new();
    for name in rest.split(',').filter(|n| !n.is_empty()) {
        match rift_nemesis::parse_faults_for(name, roles) {
            Ok(fs) => rift.extend(fs),
            Err(_) => {
                let theirs: Vec<String> = rift_nemesis::known_faults(roles)
                    .into_iter()
                    .filter(|n| !SEED_NAMES.contains(&n.as_str()))
                    .collect();
                return Err(format!(
                    "unknown fault {name:?}; the seed's: {}, none; rift's: {}",
                    SEED_NAMES.join(", "),
                    theirs.join(", ")
                ));
            }
        }
    }
    Ok((seed, rift))
}

/// How the mixed faults are spaced (`--nemesis-schedule`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Schedule {
    /// One op every `interval` on average, at uniformly random gaps in `[0, 2 interval)`
    /// (Jepsen's `stagger`; the seed's default).
    #[default]
    Random,
    /// Ops on exact multiples of `interval` after the schedule starts (the seed's
    /// `delay-til`): a slow op makes the next one wait for the following multiple.
    Fixed,
}

impl FromStr for Schedule {
    type Err = String;

    fn from_str(s: &str) -> Result<Schedule, String> {
        match s {
            "random" => Ok(Schedule::Random),
            "fixed" => Ok(Schedule::Fixed),
            other => Err(format!(
                "--nemesis-schedule {other:?}: expected fixed or random"
            )),
        }
    }
}

impl fmt::Display for Schedule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Schedule::Random => "random",
            Schedule::Fixed => "fixed",
        })
    }
}

/// The seed's nemesis options (`--nemesis-interval`, `--nemesis-long-recovery`,
/// `--nemesis-schedule`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NemesisOptions {
    /// The time between fault ops, on average or exactly (10 s). Zero spaces nothing.
    pub interval: Duration,
    /// Rounds of [`LONG_RECOVERY_FAULTS`] of faults, healing, then [`LONG_RECOVERY_QUIET`].
    pub long_recovery: bool,
    /// Random (default) or fixed spacing.
    pub schedule: Schedule,
}

impl Default for NemesisOptions {
    fn default() -> NemesisOptions {
        NemesisOptions {
            interval: Duration::from_secs(10),
            long_recovery: false,
            schedule: Schedule::Random,
        }
    }
}

fn ns(d: Duration) -> i64 {
    i64::try_from(d.as_nanos()).unwrap_or(i64::MAX)
}

fn op(f: &str) -> GenOp {
    GenOp::invoke(f, Value::Nil)
}

/// Fault ops from `fault`, each followed by one `recovery` op, for ever.
fn flip_flop(fault: Gen, recovery: &str) -> Gen {
    gen::flip_flop(fault, gen::repeat(gen::once(op(recovery))))
}

/// The flip-flops of the enabled groups, in the seed's order.
fn groups(faults: &SeedFaults) -> Vec<Gen> {
    use SeedFault::*;
    let mut out = Vec::new();
    let pairs = [
        (KillPd, "kill-pd", "start-pd"),
        (KillKv, "kill-kv", "start-kv"),
        (PausePd, "pause-pd", "resume-pd"),
        (PauseKv, "pause-kv", "resume-kv"),
        (ShuffleLeader, SCHEDULERS[0].0, SCHEDULERS[0].1),
        (ShuffleRegion, SCHEDULERS[1].0, SCHEDULERS[1].1),
        (RandomMerge, SCHEDULERS[2].0, SCHEDULERS[2].1),
    ];
    for (fault, f, recovery) in pairs {
        if faults.contains(fault) {
            out.push(flip_flop(gen::repeat(gen::once(op(f))), recovery));
        }
    }
    let kinds: Vec<Value> = faults
        .partitions()
        .into_iter()
        .map(|k| Value::kw(k.name()))
        .collect();
    if !kinds.is_empty() {
        let start = gen::from_fn(move |ctx: &Context| {
            let kind = kinds.choose(&mut *ctx.rng())?.clone();
            Some(GenOp::invoke("start-partition", kind))
        });
        out.push(flip_flop(start, "stop-partition"));
    }
    out
}

/// The seed's `mixed-generator`: the enabled groups mixed and spaced by `o.schedule`, for
/// ever; `None` when no group is enabled. Not restricted to a thread.
pub fn mixed_generator(faults: &SeedFaults, o: &NemesisOptions) -> Option<Gen> {
    let groups = groups(faults);
    if groups.is_empty() {
        return None;
    }
    let mixed = gen::mix(groups);
    let dt = ns(o.interval);
    Some(match o.schedule {
        Schedule::Random => gen::stagger(dt, mixed),
        Schedule::Fixed => at_multiples(dt, mixed),
    })
}

/// The healing ops for `faults`, in the seed's order: `resume-pd`, `resume-kv`, `start-pd`,
/// `start-kv`, `del-shuffle-leader`, `del-shuffle-region`, `del-random-merge`,
/// `stop-partition`, each only when a fault it heals is enabled. Unlike the seed,
/// `partition-pd-leader` alone is healed too, and `restart-kv-without-pd` is healed by
/// `resume-pd` and `start-kv`. Process ops carry no value: all nodes.
pub fn final_ops(faults: &SeedFaults) -> Vec<GenOp> {
    use SeedFault::*;
    let restart = faults.contains(RestartKvWithoutPd);
    let when = [
        (faults.contains(PausePd) || restart, "resume-pd"),
        (faults.contains(PauseKv), "resume-kv"),
        (faults.contains(KillPd), "start-pd"),
        (faults.contains(KillKv) || restart, "start-kv"),
        (faults.contains(ShuffleLeader), SCHEDULERS[0].1),
        (faults.contains(ShuffleRegion), SCHEDULERS[1].1),
        (faults.contains(RandomMerge), SCHEDULERS[2].1),
        (!faults.partitions().is_empty(), "stop-partition"),
    ];
    when.into_iter()
        .filter(|(on, _)| *on)
        .map(|(_, f)| op(f))
        .collect()
}

/// [`final_ops`] one after the other; `None` when there are none. Not restricted to a
/// thread.
pub fn final_generator(faults: &SeedFaults) -> Option<Gen> {
    let ops = final_ops(faults);
    (!ops.is_empty()).then(|| gen::concat(ops.into_iter().map(gen::once).collect()))
}

/// The seed's `restart-kv-without-pd` script: 10 s, `kill-kv` on all nodes, `pause-pd` on
/// all, `start-kv` on all, 70 s, `resume-pd` on all (values `:all`). The waits hold no
/// thread. Not restricted to a thread.
pub fn restart_kv_script() -> Gen {
    let all = |f: &str| gen::once(GenOp::invoke(f, Value::kw("all")));
    quiet(
        ns(RESTART_KV_FIRST_WAIT),
        "restart-kv-without-pd: 10 s before kill-kv",
        gen::concat(vec![
            all("kill-kv"),
            all("pause-pd"),
            all("start-kv"),
            quiet(
                ns(RESTART_KV_PD_PAUSED),
                "restart-kv-without-pd: PD stays paused for 70 s",
                all("resume-pd"),
            ),
        ]),
    )
}

/// The seed's `full-generator` on the nemesis thread: the script when
/// `restart-kv-without-pd` is set, else long-recovery rounds when asked for, else the mixed
/// faults. `None` when no seed fault is enabled.
pub fn full_generator(faults: &SeedFaults, o: &NemesisOptions) -> Option<Gen> {
    if faults.contains(SeedFault::RestartKvWithoutPd) {
        return Some(gen::nemesis(restart_kv_script()));
    }
    let mixed = mixed_generator(faults, o)?;
    if !o.long_recovery {
        return Some(gen::nemesis(mixed));
    }
    let (faults, o) = (faults.clone(), *o);
    let round = move || {
        let mixed = mixed_generator(&faults, &o).unwrap_or_else(gen::nil);
        let mut parts = vec![gen::time_limit(ns(LONG_RECOVERY_FAULTS), mixed)];
        parts.extend(final_generator(&faults));
        gen::concat(parts)
    };
    let again = quiet(
        ns(LONG_RECOVERY_QUIET),
        "long recovery: healed; 60 s without the seed's faults",
        round(),
    );
    Some(gen::nemesis(gen::concat(vec![round(), gen::cycle(again)])))
}

fn spec(name: &str, start: &str, stop: &str, color: &str) -> PerfSpec {
    PerfSpec {
        name: name.to_string(),
        start: vec![start.to_string()],
        stop: vec![stop.to_string()],
        color: color.to_string(),
    }
}

/// How plots shade the enabled seed faults: one band per group (`kill-pd` from `kill-pd`
/// to `start-pd`, `partition` from `start-partition` to `stop-partition`...).
pub fn perf_specs(faults: &SeedFaults) -> Vec<PerfSpec> {
    use SeedFault::*;
    let restart = faults.contains(RestartKvWithoutPd);
    let all = [
        (faults.contains(KillPd), "kill-pd", "start-pd", "#E9A4A0"),
        (
            faults.contains(KillKv) || restart,
            "kill-kv",
            "start-kv",
            "#D9776F",
        ),
        (
            faults.contains(PausePd) || restart,
            "pause-pd",
            "resume-pd",
            "#A0B1E9",
        ),
        (faults.contains(PauseKv), "pause-kv", "resume-kv", "#C6B4EC"),
        (
            faults.contains(ShuffleLeader),
            SCHEDULERS[0].0,
            SCHEDULERS[0].1,
            "#A6E3B8",
        ),
        (
            faults.contains(ShuffleRegion),
            SCHEDULERS[1].0,
            SCHEDULERS[1].1,
            "#D2E9A0",
        ),
        (
            faults.contains(RandomMerge),
            SCHEDULERS[2].0,
            SCHEDULERS[2].1,
            "#99F2E2",
        ),
    ];
    let mut out: Vec<PerfSpec> = all
        .into_iter()
        .filter(|(on, ..)| *on)
        .map(|(_, f, stop, color)| spec(f, f, stop, color))
        .collect();
    if !faults.partitions().is_empty() {
        out.push(spec(
            "partition",
            "start-partition",
            "stop-partition",
            "#E9DCA0",
        ));
    }
    out
}

fn perf_json(specs: &[PerfSpec]) -> serde_json::Value {
    specs
        .iter()
        .map(|p| serde_json::json!({"name": p.name, "start": p.start, "stop": p.stop, "color": p.color}))
        .collect()
}

/// The seed's faults as the phase the workload runs beside ([`full_generator`], healed by
/// [`final_generator`], then `recovery`); `None` when no seed fault is enabled.
pub fn nemesis_phase(
    faults: &SeedFaults,
    o: &NemesisOptions,
    recovery: Duration,
) -> Option<NemesisPhase> {
    Some(NemesisPhase {
        generator: full_generator(faults, o)?,
        final_generator: final_generator(faults).map(gen::nemesis),
        recovery,
    })
}

/// [`nemesis_phase`] with the plots' perf specs as `test.json` records them (the shape of
/// [`rift_nemesis::test_phase`]'s), ready for [`merge_phases`].
pub fn seed_phase(
    faults: &SeedFaults,
    o: &NemesisOptions,
    recovery: Duration,
) -> Option<(NemesisPhase, serde_json::Value)> {
    let phase = nemesis_phase(faults, o, recovery)?;
    Some((phase, perf_json(&perf_specs(faults))))
}

/// The seed's phase and rift's ([`rift_nemesis::test_phase`]) as one: both generators side
/// by side on the nemesis thread (`gen::any`), rift's healing then the seed's (rift's
/// unfreezes paused nodes and heals the network first, so that the seed's starts, resumes
/// and PD calls reach the nodes), the longer recovery, the perf specs of both (duplicates
/// dropped). Either alone is returned as is.
pub fn merge_phases(
    seed: Option<(NemesisPhase, serde_json::Value)>,
    rift: Option<(NemesisPhase, serde_json::Value)>,
) -> Option<(NemesisPhase, serde_json::Value)> {
    let ((a, pa), (b, pb)) = match (seed, rift) {
        (Some(a), Some(b)) => (a, b),
        (a, b) => return a.or(b),
    };
    let finals: Vec<Gen> = b
        .final_generator
        .into_iter()
        .chain(a.final_generator)
        .collect();
    let mut perf: Vec<serde_json::Value> = Vec::new();
    for p in [pa, pb]
        .iter()
        .flat_map(|p| p.as_array().cloned().unwrap_or_default())
    {
        if !perf.contains(&p) {
            perf.push(p);
        }
    }
    let phase = NemesisPhase {
        generator: gen::any(vec![a.generator, b.generator]),
        final_generator: (!finals.is_empty()).then(|| gen::concat(finals)),
        recovery: a.recovery.max(b.recovery),
    };
    Some((phase, serde_json::Value::Array(perf)))
}

/// Schedules `gen`'s ops on multiples of `dt_ns` from an anchor (Jepsen's `delay-til`): on
/// the first ask (when a thread is free) it logs the start of the schedule, which fixes the
/// anchor; then the first op comes at anchor + dt, and each next one at the first multiple
/// after the previous op's that is not earlier than the op's own time (a slow op skips
/// slots rather than bunching ops up). `dt_ns <= 0` leaves the ops alone.
///
/// The anchor needs that committed first op: an op offered for a future time may be
/// discarded and the generator asked again, so it cannot be taken from the time of asking.
pub fn at_multiples(dt_ns: i64, gen: Gen) -> Gen {
    if dt_ns <= 0 {
        return gen;
    }
    Box::new(AtMultiples {
        dt_ns,
        anchor_ns: None,
        slot: 1,
        gen: Arc::from(gen),
    })
}

struct AtMultiples {
    dt_ns: i64,
    anchor_ns: Option<i64>,
    /// The smallest slot the next op may take.
    slot: i64,
    gen: Arc<dyn Generator>,
}

impl Generator for AtMultiples {
    fn op(&self, ctx: &Context) -> Poll {
        let Some(anchor) = self.anchor_ns else {
            let msg = format!(
                "fixed schedule: faults every {} ms from now",
                self.dt_ns / 1_000_000
            );
            return match GenOp::log(&msg).fill_in(ctx) {
                Some(log) => {
                    let next = AtMultiples {
                        dt_ns: self.dt_ns,
                        anchor_ns: Some(log.time_or(ctx.time_ns())),
                        slot: 1,
                        gen: self.gen.clone(),
                    };
                    Poll::Op(log, Some(Box::new(next)))
                }
                None => Poll::Pending,
            };
        };
        match self.gen.op(ctx) {
            Poll::Op(mut op, next) => {
                let earliest = op.time_or(ctx.time_ns()) - anchor;
                // The first slot not before the op's own time (ceiling division).
                let slot = self.slot.max(-(-earliest).div_euclid(self.dt_ns));
                op.time_ns = Some(anchor.saturating_add(slot.saturating_mul(self.dt_ns)));
                let next = AtMultiples {
                    dt_ns: self.dt_ns,
                    anchor_ns: Some(anchor),
                    slot: slot + 1,
                    gen: next.map_or_else(|| self.gen.clone(), Arc::from),
                };
                Poll::Op(op, Some(Box::new(next)))
            }
            other => other,
        }
    }

    fn update(&self, ctx: &Context, event: &Op) -> Option<Gen> {
        let g = self.gen.update(ctx, event)?;
        Some(Box::new(AtMultiples {
            dt_ns: self.dt_ns,
            anchor_ns: self.anchor_ns,
            slot: self.slot,
            gen: Arc::from(g),
        }))
    }
}

/// A wait of `dt_ns` that holds no thread, then `gen`: on the first ask (when a thread is
/// free) it logs `message`, then `gen` runs as if the time were at least the end of the wait
/// (its ops are not earlier, and its own clocks, such as a `time_limit`'s, start there).
pub fn quiet(dt_ns: i64, message: &str, gen: Gen) -> Gen {
    Box::new(Quiet {
        dt_ns,
        message: message.to_string(),
        until_ns: None,
        gen: Arc::from(gen),
    })
}

struct Quiet {
    dt_ns: i64,
    message: String,
    /// The end of the wait, once started.
    until_ns: Option<i64>,
    gen: Arc<dyn Generator>,
}

impl Quiet {
    fn with(&self, until_ns: i64, gen: Arc<dyn Generator>) -> Gen {
        Box::new(Quiet {
            dt_ns: self.dt_ns,
            message: String::new(),
            until_ns: Some(until_ns),
            gen,
        })
    }
}

impl Generator for Quiet {
    fn op(&self, ctx: &Context) -> Poll {
        let Some(until) = self.until_ns else {
            return match GenOp::log(&self.message).fill_in(ctx) {
                Some(log) => {
                    let until = log.time_or(ctx.time_ns()).saturating_add(self.dt_ns);
                    Poll::Op(log, Some(self.with(until, self.gen.clone())))
                }
                None => Poll::Pending,
            };
        };
        let shifted = ctx.with_time(ctx.time_ns().max(until));
        match self.gen.op(&shifted) {
            Poll::Op(mut op, next) => {
                op.time_ns = Some(op.time_or(until).max(until));
                let next = next.map(|g| self.with(until, Arc::from(g)));
                Poll::Op(op, next)
            }
            other => other,
        }
    }

    fn update(&self, ctx: &Context, event: &Op) -> Option<Gen> {
        let until = self.until_ns?;
        let g = self
            .gen
            .update(&ctx.with_time(ctx.time_ns().max(until)), event)?;
        Some(self.with(until, Arc::from(g)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rift_generator::{simulate, SimConfig};
    use rift_history::OpType;

    const S: i64 = 1_000_000_000;

    fn faults(text: &str) -> SeedFaults {
        let (seed, rest) = split_faults(text);
        assert!(rest.is_empty(), "{rest}");
        seed
    }

    fn fixed(interval_s: u64) -> NemesisOptions {
        NemesisOptions {
            interval: Duration::from_secs(interval_s),
            schedule: Schedule::Fixed,
            ..NemesisOptions::default()
        }
    }

    /// The invocations of `g` on the nemesis thread, each op taking `latency_ns`.
    fn invokes(g: Gen, latency_ns: i64, max_ops: usize, seed: u64) -> Vec<Op> {
        let cfg = SimConfig {
            concurrency: 1,
            nemesis: true,
            seed,
            max_ops,
        };
        simulate(gen::nemesis(g), cfg, |op, _| {
            (OpType::Info, op.value.clone(), latency_ns)
        })
        .into_iter()
        .filter(|o| o.ty == OpType::Invoke)
        .collect()
    }

    fn fs(ops: &[Op]) -> Vec<&str> {
        ops.iter().map(|o| o.f_name()).collect()
    }

    fn secs(ops: &[Op]) -> Vec<i64> {
        ops.iter().map(|o| o.time.unwrap() / S).collect()
    }

    #[test]
    fn shorthands_expand_and_unknown_names_are_refused() {
        use SeedFault::*;
        let f = faults("kill");
        assert_eq!(f.0, [KillPd, KillKv].into());
        assert_eq!(faults("pause").0, [PausePd, PauseKv].into());
        assert_eq!(
            faults("schedules").0,
            [ShuffleLeader, ShuffleRegion, RandomMerge].into()
        );
        assert_eq!(faults("partition").partitions(), PartitionKind::ALL);
        assert_eq!(
            faults(" partition-ring , partition-one").partitions(),
            [PartitionKind::SingleNode, PartitionKind::Ring]
        );
        assert!(faults("none").is_empty() && faults("").is_empty() && faults(",,").is_empty());
        assert_eq!(faults("kill,kill-pd,none").name(), "kill-pd+kill-kv");
        assert!(faults("kill,schedules,restart-kv-without-pd")
            .rift_kinds()
            .is_empty());
        assert_eq!(
            faults("kill,partition-ring").rift_kinds(),
            ["partition".to_string()].into()
        );
        for name in SEED_NAMES {
            assert!(expand(name).is_some_and(|v| !v.is_empty()), "{name}");
        }
        for kind in PartitionKind::ALL {
            assert_eq!(PartitionKind::from_name(kind.name()), Some(kind));
            assert_eq!(expand(kind.option()), Some(vec![Partition(kind)]));
        }
        let e = parse_nemesis("kill,kill-tikv", &Roles::new()).unwrap_err();
        assert!(e.contains("\"kill-tikv\""), "{e}");
        assert!(
            e.contains("partition-pd-leader") && e.contains("restart-kv-without-pd"),
            "{e}"
        );
        assert!(e.contains("clock") && e.contains("packet"), "{e}");
        // The shadowed generic names are not offered as rift's.
        let rift_part = e.split("rift's:").nth(1).unwrap();
        assert!(!rift_part.split(", ").any(|n| n.trim() == "kill"), "{e}");
    }

    #[test]
    fn the_seeds_names_are_taken_and_the_rest_go_to_rift() {
        use SeedFault::*;
        let (seed, rest) = split_faults("clock,kill-pd,packet,partition-pd-leader,file");
        assert_eq!(seed.0, [KillPd, Partition(PartitionKind::PdLeader)].into());
        assert_eq!(rest, "clock,packet,file");
        // With the suite's roles, rift's role faults pass; the seed's names shadow rift's.
        let roles: Roles = [
            ("pd".to_string(), vec!["n1".to_string()]),
            ("kv".to_string(), vec!["n1".to_string()]),
        ]
        .into();
        let (seed, rift) = parse_nemesis("kill-pd,pause,clock-kv,partition", &roles).unwrap();
        assert!(seed.contains(KillPd) && seed.contains(PausePd) && seed.contains(PauseKv));
        assert_eq!(seed.partitions().len(), 4);
        assert_eq!(rift.into_iter().collect::<Vec<_>>(), ["clock-kv"]);
        assert!(parse_nemesis("clock-tidb", &roles).is_err());
    }

    #[test]
    fn schedules_parse() {
        assert_eq!("fixed".parse::<Schedule>(), Ok(Schedule::Fixed));
        assert_eq!("random".parse::<Schedule>(), Ok(Schedule::Random));
        assert!("sometimes"
            .parse::<Schedule>()
            .unwrap_err()
            .contains("fixed or random"));
        assert_eq!(Schedule::default().to_string(), "random");
        assert_eq!(NemesisOptions::default().interval, Duration::from_secs(10));
    }

    #[test]
    fn fixed_schedule_runs_on_exact_multiples_of_the_interval() {
        let g = mixed_generator(&faults("kill-pd"), &fixed(10)).unwrap();
        let ops = invokes(g, S, 6, 1);
        assert_eq!(
            fs(&ops),
            ["kill-pd", "start-pd", "kill-pd", "start-pd", "kill-pd", "start-pd"]
        );
        assert_eq!(secs(&ops), [10, 20, 30, 40, 50, 60]);
        assert!(ops.iter().all(|o| o.time.unwrap() % (10 * S) == 0));
        assert!(ops.iter().all(|o| o.value.is_nil()));
        // An op slower than the interval makes the next one wait for the following slot.
        let g = mixed_generator(&faults("pause-kv"), &fixed(10)).unwrap();
        let ops = invokes(g, 15 * S, 3, 1);
        assert_eq!(fs(&ops), ["pause-kv", "resume-kv", "pause-kv"]);
        assert_eq!(secs(&ops), [10, 30, 50]);
    }

    #[test]
    fn every_group_flip_flops_between_its_fault_and_its_recovery() {
        let f = faults("kill,pause,schedules,partition");
        let o = NemesisOptions::default();
        let ops = invokes(mixed_generator(&f, &o).unwrap(), S / 10, 400, 7);
        assert_eq!(ops.len(), 400);
        let pairs = [
            ("kill-pd", "start-pd"),
            ("kill-kv", "start-kv"),
            ("pause-pd", "resume-pd"),
            ("pause-kv", "resume-kv"),
            ("shuffle-leader", "del-shuffle-leader"),
            ("shuffle-region", "del-shuffle-region"),
            ("random-merge", "del-random-merge"),
            ("start-partition", "stop-partition"),
        ];
        for (fault, recovery) in pairs {
            let group: Vec<&str> = fs(&ops)
                .into_iter()
                .filter(|f| *f == fault || *f == recovery)
                .collect();
            assert!(group.len() >= 10, "{fault}: {}", group.len());
            for (i, f) in group.iter().enumerate() {
                assert_eq!(
                    *f,
                    if i % 2 == 0 { fault } else { recovery },
                    "{fault} #{i}"
                );
            }
        }
        let kinds: BTreeSet<&str> = ops
            .iter()
            .filter(|o| o.f_name() == "start-partition")
            .map(|o| o.value.as_name().unwrap())
            .collect();
        assert_eq!(kinds, ["half", "pd-leader", "ring", "single-node"].into());
        assert!(ops
            .iter()
            .filter(|o| o.f_name() == "stop-partition")
            .all(|o| o.value.is_nil()));
        // Only the enabled kinds.
        let f = faults("partition-one,partition-ring");
        let ops = invokes(mixed_generator(&f, &o).unwrap(), S, 60, 3);
        assert!(ops
            .iter()
            .filter(|o| o.f_name() == "start-partition")
            .all(|o| ["single-node", "ring"].contains(&o.value.as_name().unwrap())));
    }

    #[test]
    fn random_schedule_averages_the_interval() {
        let g = mixed_generator(&faults("shuffle-leader"), &NemesisOptions::default()).unwrap();
        let ops = invokes(g, 0, 500, 11);
        let t: Vec<i64> = ops.iter().map(|o| o.time.unwrap()).collect();
        assert_eq!(t[0], 0);
        let gaps: Vec<i64> = t.windows(2).map(|w| w[1] - w[0]).collect();
        assert!(gaps.iter().all(|g| (0..20 * S).contains(g)), "{gaps:?}");
        let mean = gaps.iter().sum::<i64>() as f64 / gaps.len() as f64 / S as f64;
        assert!((8.5..11.5).contains(&mean), "{mean}");
        assert!(mixed_generator(&SeedFaults::default(), &NemesisOptions::default()).is_none());
    }

    #[test]
    fn restart_kv_without_pd_is_the_seeds_script() {
        let f = faults("restart-kv-without-pd,kill,partition");
        let g = full_generator(&f, &NemesisOptions::default()).unwrap();
        let ops = invokes(g, S, 100, 1);
        assert_eq!(fs(&ops), ["kill-kv", "pause-pd", "start-kv", "resume-pd"]);
        assert_eq!(secs(&ops), [10, 11, 12, 83]);
        assert!(ops.iter().all(|o| o.value.is_name("all")));
        assert_eq!(
            fs(&invokes(final_generator(&f).unwrap(), S, 100, 1)),
            ["resume-pd", "start-pd", "start-kv", "stop-partition"]
        );
    }

    #[test]
    fn the_seeds_waits_hold_no_thread() {
        let script = full_generator(&faults("restart-kv-without-pd"), &NemesisOptions::default());
        let other = gen::time_limit(
            100 * S,
            gen::delay(5 * S, gen::repeat(gen::once(op("check-clock-offsets")))),
        );
        let ops = invokes(gen::any(vec![script.unwrap(), other]), S / 1000, 100, 1);
        let checks: Vec<i64> = ops
            .iter()
            .filter(|o| o.f_name() == "check-clock-offsets")
            .map(|o| o.time.unwrap() / S)
            .collect();
        assert!(
            checks.iter().filter(|t| (13..83).contains(*t)).count() >= 13,
            "{checks:?}"
        );
        assert!(checks.contains(&0) && checks.contains(&5));
        let resume = ops.iter().find(|o| o.f_name() == "resume-pd").unwrap();
        assert_eq!(resume.time.unwrap() / S, 80, "{:?}", secs(&ops));
    }

    #[test]
    fn long_recovery_rounds_fault_heal_and_rest() {
        let o = NemesisOptions {
            long_recovery: true,
            ..fixed(10)
        };
        let g = full_generator(&faults("kill-pd"), &o).unwrap();
        let ops = invokes(g, S, 16, 1);
        // 120 s of faults from the round's start (the last at 110 s), its healing right after,
        // 60 s of quiet, then a new round whose first op comes one interval later.
        let mut want_t: Vec<i64> = (1..=11).map(|k| 10 * k).collect();
        want_t.extend([111, 182, 192, 202, 212]);
        assert_eq!(secs(&ops), want_t);
        let f = fs(&ops);
        for (i, f) in f[..11].iter().enumerate() {
            assert_eq!(*f, ["kill-pd", "start-pd"][i % 2]);
        }
        assert_eq!(
            f[11..],
            ["start-pd", "kill-pd", "start-pd", "kill-pd", "start-pd"]
        );
    }

    #[test]
    fn final_ops_heal_everything_enabled_in_the_seeds_order() {
        let all = final_ops(&faults("kill,pause,schedules,partition"));
        let names: Vec<&str> = all.iter().map(|o| o.f.as_name().unwrap()).collect();
        assert_eq!(
            names,
            [
                "resume-pd",
                "resume-kv",
                "start-pd",
                "start-kv",
                "del-shuffle-leader",
                "del-shuffle-region",
                "del-random-merge",
                "stop-partition"
            ]
        );
        assert!(all.iter().all(|o| o.value.is_nil()));
        // partition-pd-leader alone is healed (the seed's bug is not kept).
        let f = faults("partition-pd-leader");
        assert_eq!(
            fs(&invokes(final_generator(&f).unwrap(), S, 10, 1)),
            ["stop-partition"]
        );
        assert_eq!(final_ops(&faults("kill-kv,random-merge")).len(), 2);
        assert!(final_generator(&SeedFaults::default()).is_none());
        assert!(nemesis_phase(
            &SeedFaults::default(),
            &NemesisOptions::default(),
            Duration::ZERO
        )
        .is_none());
    }

    #[test]
    fn phases_merge_with_rifts_and_shade_the_seeds_faults() {
        let f = faults("kill-pd,partition-half");
        let (seed, perf) = seed_phase(&f, &fixed(10), Duration::from_secs(10)).unwrap();
        let names: Vec<&str> = perf
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["name"].as_str().unwrap())
            .collect();
        assert_eq!(names, ["kill-pd", "partition"]);
        assert_eq!(perf[0]["stop"][0], "start-pd");
        let rift = NemesisPhase {
            generator: gen::nemesis(gen::delay(
                10 * S,
                gen::repeat(gen::once(op("check-clock-offsets"))),
            )),
            final_generator: Some(gen::nemesis(gen::once(op("reset-clock")))),
            recovery: Duration::from_secs(20),
        };
        let rift_perf = serde_json::json!([
            {"name": "clock", "start": ["bump-clock"], "stop": ["reset-clock"], "color": "#A0E9E3"},
            {"name": "partition", "start": ["start-partition"], "stop": ["stop-partition"],
             "color": "#E9DCA0"},
        ]);
        let (phase, perf) = merge_phases(Some((seed, perf)), Some((rift, rift_perf))).unwrap();
        assert_eq!(phase.recovery, Duration::from_secs(20));
        assert_eq!(perf.as_array().unwrap().len(), 3);
        let heal = invokes(phase.final_generator.unwrap(), S, 10, 1);
        assert_eq!(fs(&heal), ["reset-clock", "start-pd", "stop-partition"]);
        let both = invokes(gen::time_limit(35 * S, phase.generator), S / 1000, 100, 1);
        let f = fs(&both);
        assert!(
            f.contains(&"check-clock-offsets") && f.contains(&"kill-pd"),
            "{f:?}"
        );
        assert!(merge_phases(None, None).is_none());
        let alone = seed_phase(&f_seed(), &fixed(10), Duration::ZERO);
        assert!(merge_phases(alone, None).is_some());
    }

    fn f_seed() -> SeedFaults {
        faults("shuffle-region")
    }

    #[test]
    fn at_multiples_without_an_interval_leaves_ops_alone() {
        let g = at_multiples(0, gen::repeat(gen::once(op("x"))));
        assert_eq!(secs(&invokes(g, S, 3, 1)), [0, 1, 2]);
    }
}
