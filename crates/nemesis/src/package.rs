//! Fault packages (Jepsen's `jepsen.nemesis.combined`): for each fault kind, a generator of
//! start/stop ops, a final generator that heals, and the perf spec the plots shade.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use rand::seq::IndexedRandom;
use rand::Rng;
use rift_generator::{any, concat, delay, flip_flop, from_fn, mix, nemesis, nil, once, repeat};

use crate::schedule::{Shared, SharedGen};
use rift_generator::{Context, Gen, GenOp};
use rift_history::Value;

use crate::error::NemesisError;
use crate::grudge::Grudge;
use crate::nodespec::{role_nodes, NodeSpec, Roles};

/// The fault kinds [`packages`] knows, in the order it builds them.
pub const FAULTS: [&str; 6] = ["partition", "kill", "pause", "packet", "file", "clock"];

/// The largest `bump-clock` and `strobe-clock` delta the clock package draws: 2^18 ms
/// (262 s), as Jepsen's.
pub const CLOCK_MAX_DELTA_MS: i64 = 1 << 18;

/// Strobe periods the clock package draws from, ms: powers of two from 8 ms to 1 s (each flip
/// rewrites a file that every clock read under libfaketime re-reads).
pub const CLOCK_STROBE_PERIODS_MS: [i64; 8] = [8, 16, 32, 64, 128, 256, 512, 1024];

/// The longest strobe the clock package draws, ms (Jepsen's 32 s).
pub const CLOCK_MAX_STROBE_MS: i64 = 32_000;

/// Jepsen's default `--nemesis-interval`: 10 s between fault ops.
pub const DEFAULT_INTERVAL_NS: i64 = 10_000_000_000;

/// How a package's faults appear on plots (Jepsen's `:perf` entries): ops whose `f` is in
/// `start` open a shaded region of `color`, ops in `stop` close it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PerfSpec {
    /// The region's name (`partition`, `kill`...).
    pub name: String,
    /// The `f`s that start the fault.
    pub start: Vec<String>,
    /// The `f`s that end the fault (empty for instantaneous faults such as `bitflip`).
    pub stop: Vec<String>,
    /// An HTML colour, `#E9DCA0`.
    pub color: String,
}

/// A fault package: what the nemesis thread runs during the test, what it runs at the end to
/// heal, and how plots show it. Generators are already restricted to the nemesis thread.
pub struct Package {
    /// The package's name (`partition`, or `partition+kill` when composed).
    pub name: String,
    /// Fault ops, for ever (bound it with `time_limit` or the test's own limit), one every
    /// `interval_ns`.
    pub generator: Gen,
    /// The same fault ops without their pacing, which [`compose`] mixes with other packages'
    /// (None for a package that cannot be mixed: it then runs beside the others).
    pub ops: Option<Gen>,
    /// The time between two fault ops.
    pub interval_ns: i64,
    /// Ops that undo the faults (`stop-partition`, `start :all`...), if any.
    pub final_generator: Option<Gen>,
    /// Plot shading.
    pub perf: Vec<PerfSpec>,
}

/// What [`packages`] builds.
#[derive(Clone, Debug, PartialEq)]
pub struct PackageOptions {
    /// The fault kinds (from `--nemesis partition,kill`, see [`parse_faults`]).
    pub faults: BTreeSet<String>,
    /// Time between a fault's start and stop ops, and between a stop and the next start
    /// (`--nemesis-interval`).
    pub interval_ns: i64,
    /// The cluster's nodes (file faults name them in their values).
    pub nodes: Vec<String>,
    /// Targets per fault kind, overriding [`default_targets`]: grudge names for `partition`
    /// (`one`, `majority`, `between:<a>,<b>`...), node specs for `kill`, `pause` and
    /// `packet` (`one`, `majority`, `all`, `nil`, `role:<name>`...), node names or
    /// `role:<name>` for `file`.
    pub targets: BTreeMap<String, Vec<String>>,
    /// Loss percents `packet` draws from.
    pub loss_percents: Vec<u8>,
    /// Files (relative to a node's directory) that `file` faults corrupt.
    pub files: Vec<String>,
    /// Probability with which `bitflip` flips each bit.
    pub bitflip_probability: f64,
    /// Bytes `truncate` drops from a file's end.
    pub truncate_drop_bytes: u64,
    /// Roles, for `role:<name>` and `between:<a>,<b>` targets.
    pub roles: Roles,
}

impl PackageOptions {
    /// Options for `faults` on `nodes` with Jepsen's defaults: 10 s interval, default
    /// targets, loss of 10, 30 or 50 %, no files, bitflip probability 0.01, truncate 64 bytes,
    /// no roles.
    pub fn new(faults: BTreeSet<String>, nodes: Vec<String>) -> PackageOptions {
        PackageOptions {
            faults,
            interval_ns: DEFAULT_INTERVAL_NS,
            nodes,
            targets: BTreeMap::new(),
            loss_percents: vec![10, 30, 50],
            files: Vec::new(),
            bitflip_probability: 0.01,
            truncate_drop_bytes: 64,
            roles: Roles::new(),
        }
    }

    /// The targets of `fault`: the configured ones, else [`default_targets`].
    pub fn targets_of(&self, fault: &str) -> Vec<String> {
        match self.targets.get(fault) {
            Some(t) => t.clone(),
            None => default_targets(fault),
        }
    }
}

/// Jepsen's default targets: partitions `one`, `majority`, `majorities-ring`,
/// `minority-third`; process faults and packet loss `nil` (a random subset), `one`,
/// `majority`, `all` (`primaries` only when asked for: it needs a db that knows them); clock
/// faults `nil`, a random non-empty subset, as Jepsen's. File faults default to every node
/// (empty here).
pub fn default_targets(fault: &str) -> Vec<String> {
    let v: &[&str] = match fault {
        "partition" => &["one", "majority", "majorities-ring", "minority-third"],
        "kill" | "pause" | "packet" => &["nil", "one", "majority", "all"],
        "clock" => &["nil"],
        _ => &[],
    };
    v.iter().map(|s| s.to_string()).collect()
}

/// Parses `--nemesis partition,kill` into fault names. `none` (or an empty string) means no
/// faults; an unknown name is an error that lists the known ones. Role-scoped names need the
/// test's roles: see [`parse_faults_for`].
pub fn parse_faults(text: &str) -> Result<BTreeSet<String>, NemesisError> {
    parse_faults_for(text, &Roles::new())
}

/// The fault kinds that can be scoped to a role (`kill-<role>`...).
pub const ROLE_FAULTS: [&str; 5] = ["partition", "kill", "pause", "packet", "clock"];

/// Where a fault reaches.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FaultScope {
    /// Every node (`kill`).
    All,
    /// One role's nodes only (`kill-controller`: a kill of one, a majority or all of the
    /// controllers; `partition-broker`: partitions among the brokers).
    Role(String),
    /// The links between two roles (`partition-broker-controller`).
    Between(String, String),
}

/// A `--nemesis` name as its fault kind and scope: `kill` is (`kill`, all nodes),
/// `kill-controller` (`kill`, role `controller`), `partition-broker-controller`
/// (`partition`, between `broker` and `controller`). `None` for names that are neither a
/// fault kind nor a kind of [`ROLE_FAULTS`] followed by known roles.
pub fn fault_scope(name: &str, roles: &Roles) -> Option<(&'static str, FaultScope)> {
    if let Some(kind) = FAULTS.iter().find(|f| **f == name) {
        return Some((kind, FaultScope::All));
    }
    for kind in ROLE_FAULTS {
        let Some(rest) = name.strip_prefix(kind).and_then(|r| r.strip_prefix('-')) else {
            continue;
        };
        if roles.contains_key(rest) {
            return Some((kind, FaultScope::Role(rest.to_string())));
        }
        if kind != "partition" {
            continue;
        }
        for (i, _) in rest.match_indices('-') {
            let (a, b) = (&rest[..i], &rest[i + 1..]);
            if a != b && roles.contains_key(a) && roles.contains_key(b) {
                return Some((kind, FaultScope::Between(a.to_string(), b.to_string())));
            }
        }
    }
    None
}

/// The fault names `--nemesis` accepts with `roles`: the kinds, then per role
/// `kill-<role>`, `pause-<role>`, `clock-<role>`, `packet-<role>`, `partition-<role>`, then
/// `partition-<a>-<b>` per pair of roles.
pub fn known_faults(roles: &Roles) -> Vec<String> {
    let mut out: Vec<String> = FAULTS.iter().map(|f| f.to_string()).collect();
    for role in roles.keys() {
        for kind in ["kill", "pause", "clock", "packet", "partition"] {
            out.push(format!("{kind}-{role}"));
        }
    }
    for a in roles.keys() {
        for b in roles.keys().filter(|b| *b > a) {
            out.push(format!("partition-{a}-{b}"));
        }
    }
    out
}

/// [`parse_faults`] for a test whose db declares `roles`: besides the plain kinds, the
/// role-scoped faults of [`fault_scope`] (`kill-controller`, `partition-broker-controller`).
pub fn parse_faults_for(text: &str, roles: &Roles) -> Result<BTreeSet<String>, NemesisError> {
    let mut out = BTreeSet::new();
    for name in text.split(',').map(str::trim).filter(|n| !n.is_empty()) {
        if name == "none" {
            continue;
        }
        if fault_scope(name, roles).is_none() {
            return Err(NemesisError::UnknownFault {
                name: name.to_string(),
                known: known_faults(roles).join(", "),
            });
        }
        out.insert(name.to_string());
    }
    Ok(out)
}

/// The fault kinds of a set of fault names (`kill-controller` is a `kill`): what the host
/// must support (nft for partitions, libfaketime for clocks...). Unknown names are skipped.
pub fn fault_kinds(faults: &BTreeSet<String>, roles: &Roles) -> BTreeSet<String> {
    faults
        .iter()
        .filter_map(|f| fault_scope(f, roles).map(|(kind, _)| kind.to_string()))
        .collect()
}

/// One package per fault in `opts.faults`, in [`FAULTS`] order. Targets are checked here:
/// unknown grudge or node-spec names, unknown roles, no files for `file` are errors.
pub fn packages(opts: &PackageOptions) -> Result<Vec<Package>, NemesisError> {
    if opts.interval_ns <= 0 {
        return Err(bad("nemesis-interval", "must be positive"));
    }
    let mut out = Vec::new();
    for fault in FAULTS.iter().filter(|f| opts.faults.contains(**f)) {
        out.push(kind_package(opts, fault, fault, opts.targets_of(fault))?);
    }
    // Role-scoped faults, after the plain ones, in name order.
    for name in opts.faults.iter().filter(|f| !FAULTS.contains(&f.as_str())) {
        let Some((kind, scope)) = fault_scope(name, &opts.roles) else {
            return Err(NemesisError::UnknownFault {
                name: name.clone(),
                known: known_faults(&opts.roles).join(", "),
            });
        };
        let targets = match (&scope, opts.targets.get(name.as_str())) {
            (_, Some(t)) => t.clone(),
            (FaultScope::Between(a, b), None) => vec![format!("between:{a},{b}")],
            // The kind's targets (configured, else Jepsen's defaults) among the role's nodes.
            (FaultScope::Role(r), None) => opts
                .targets_of(kind)
                .iter()
                .filter(|t| !t.contains(':'))
                .map(|t| format!("role:{r}:{t}"))
                .collect(),
            (FaultScope::All, None) => opts.targets_of(kind),
        };
        out.push(kind_package(opts, name, kind, targets)?);
    }
    Ok(out)
}

/// The package of fault kind `kind`, named `name`, drawing from `targets`.
fn kind_package(
    opts: &PackageOptions,
    name: &str,
    kind: &str,
    targets: Vec<String>,
) -> Result<Package, NemesisError> {
    match kind {
        "partition" => partition_package(opts, name, targets),
        "kill" => process_package(opts, name, targets, ("kill", "start"), "#E9A4A0"),
        "pause" => process_package(opts, name, targets, ("pause", "resume"), "#A0B1E9"),
        "packet" => packet_package(opts, name, targets),
        "clock" => clock_package(opts, name, targets),
        _ => file_package(opts),
    }
}

/// Jepsen's `compose-packages`: one fault op every interval (the shortest of the packages'),
/// each from a package chosen at random (Jepsen's `mix`; each package keeps its own
/// start/stop order), so faults overlap in every combination rather than in lockstep; the
/// final generators one after the other, the perf specs concatenated. A package that cannot
/// be mixed (no [`Package::ops`]) runs beside the mixture on its own pacing. No package gives
/// the empty package `none`; one package is returned as is.
pub fn compose(packages: Vec<Package>) -> Package {
    if packages.len() <= 1 {
        return packages.into_iter().next().unwrap_or_else(|| Package {
            name: "none".to_string(),
            generator: nil(),
            ops: None,
            interval_ns: DEFAULT_INTERVAL_NS,
            final_generator: None,
            perf: Vec::new(),
        });
    }
    let name = packages
        .iter()
        .map(|p| p.name.as_str())
        .collect::<Vec<_>>()
        .join("+");
    let interval_ns = packages
        .iter()
        .map(|p| p.interval_ns)
        .min()
        .unwrap_or(DEFAULT_INTERVAL_NS);
    let mut mixable = Vec::new();
    let mut apart = Vec::new();
    let mut finals = Vec::new();
    let mut perf = Vec::new();
    for p in packages {
        match p.ops {
            Some(ops) => mixable.push(ops),
            None => apart.push(p.generator),
        }
        finals.extend(p.final_generator);
        perf.extend(p.perf);
    }
    if !mixable.is_empty() {
        apart.push(nemesis(delay(interval_ns, mix(mixable))));
    }
    Package {
        name,
        generator: if apart.len() == 1 {
            apart.remove(0)
        } else {
            any(apart)
        },
        ops: None,
        interval_ns,
        final_generator: (!finals.is_empty()).then(|| concat(finals)),
        perf,
    }
}

fn bad(fault: &str, detail: impl Into<String>) -> NemesisError {
    NemesisError::BadOption {
        fault: fault.to_string(),
        detail: detail.into(),
    }
}

/// A target as an op value: `nil`, a keyword for plain names, a string for `role:x`,
/// `between:a,b` and anything else with punctuation.
pub(crate) fn target_value(t: &str) -> Value {
    if t == "nil" {
        Value::Nil
    } else if t.contains([':', ',', ' ']) {
        Value::str(t)
    } else {
        Value::kw(t)
    }
}

fn perf(name: &str, start: &[&str], stop: &[&str], color: &str) -> Vec<PerfSpec> {
    let strings = |v: &[&str]| v.iter().map(|s| s.to_string()).collect();
    vec![PerfSpec {
        name: name.to_string(),
        start: strings(start),
        stop: strings(stop),
        color: color.to_string(),
    }]
}

/// Start ops from `start`, each followed by `stop`, then the next start...
fn alternate(start: Gen, stop: GenOp) -> Gen {
    flip_flop(start, repeat(once(stop)))
}

/// A package's generator fields from its fault ops `raw`: paced one every `interval_ns` on
/// the nemesis thread, and unpaced for [`compose`] to mix (one pure generator shared by both:
/// generators keep no state of their own, so sharing is safe).
fn paced(interval_ns: i64, raw: Gen) -> Package {
    let shared: Shared = Arc::from(raw);
    Package {
        name: String::new(),
        generator: nemesis(delay(interval_ns, Box::new(SharedGen(shared.clone())))),
        ops: Some(Box::new(SharedGen(shared))),
        interval_ns,
        final_generator: None,
        perf: Vec::new(),
    }
}

/// A generator of `f` ops whose value is drawn uniformly from `values`.
fn pick(f: &'static str, values: Vec<Value>) -> Gen {
    from_fn(move |ctx: &Context| {
        let v = values.choose(&mut *ctx.rng()).cloned()?;
        Some(GenOp::invoke(f, v))
    })
}

fn nonempty(fault: &str, targets: Vec<String>) -> Result<Vec<String>, NemesisError> {
    if targets.is_empty() {
        return Err(bad(fault, "no targets"));
    }
    Ok(targets)
}

fn partition_package(
    opts: &PackageOptions,
    name: &str,
    targets: Vec<String>,
) -> Result<Package, NemesisError> {
    let known = [
        "one",
        "majority",
        "minority-third",
        "majorities-ring",
        "bridge",
        "primaries",
    ];
    let targets = nonempty(name, targets)?;
    for t in &targets {
        if known.contains(&t.as_str()) {
            continue;
        }
        // `role:<role>:<partition>`: a known partition among a known role's nodes.
        if let Some((role, inner)) = t.strip_prefix("role:").and_then(|r| r.split_once(':')) {
            role_nodes(&opts.roles, role)?;
            if known.contains(&inner) {
                continue;
            }
            return Err(bad(name, format!("unknown partition {inner:?} in {t:?}")));
        }
        match Grudge::between_roles(t, &opts.roles) {
            Some(r) => drop(r?),
            None => {
                return Err(bad(
                    name,
                    format!(
                        "unknown partition {t:?} (known: {}, between:<roleA>,<roleB>, role:<role>:<partition>)",
                        known.join(", ")
                    ),
                ))
            }
        }
    }
    let values = targets.iter().map(|t| target_value(t)).collect();
    let stop = GenOp::invoke("stop-partition", Value::Nil);
    Ok(Package {
        name: name.to_string(),
        final_generator: Some(nemesis(once(stop.clone()))),
        perf: perf(name, &["start-partition"], &["stop-partition"], "#E9DCA0"),
        ..paced(
            opts.interval_ns,
            alternate(pick("start-partition", values), stop),
        )
    })
}

/// Checks node-spec targets (`nil`, Jepsen names, `role:<known role>`).
fn check_specs(fault: &str, targets: &[String], roles: &Roles) -> Result<(), NemesisError> {
    for t in targets {
        if t == "nil" {
            continue;
        }
        match NodeSpec::by_name(t) {
            Some(spec) => drop(spec.resolve_roles(roles)?),
            None => {
                return Err(bad(
                    fault,
                    format!("unknown node spec {t:?} (known: nil, one, minority, minority-third, majority, all, primaries, role:<name>)"),
                ))
            }
        }
    }
    Ok(())
}

fn process_package(
    opts: &PackageOptions,
    name: &str,
    targets: Vec<String>,
    (start_f, stop_f): (&'static str, &'static str),
    color: &str,
) -> Result<Package, NemesisError> {
    let targets = nonempty(name, targets)?;
    check_specs(name, &targets, &opts.roles)?;
    let values = targets.iter().map(|t| target_value(t)).collect();
    let stop = GenOp::invoke(stop_f, Value::kw("all"));
    Ok(Package {
        name: name.to_string(),
        final_generator: Some(nemesis(once(stop.clone()))),
        perf: perf(name, &[start_f], &[stop_f], color),
        ..paced(opts.interval_ns, alternate(pick(start_f, values), stop))
    })
}

fn packet_package(
    opts: &PackageOptions,
    name: &str,
    targets: Vec<String>,
) -> Result<Package, NemesisError> {
    let targets = nonempty(name, targets)?;
    check_specs(name, &targets, &opts.roles)?;
    if opts.loss_percents.is_empty() || opts.loss_percents.iter().any(|p| *p > 100) {
        return Err(bad(
            "packet",
            "loss percents must be 1 or more numbers in 0..=100",
        ));
    }
    let targets: Arc<[Value]> = targets.iter().map(|t| target_value(t)).collect();
    let percents = opts.loss_percents.clone();
    let start = from_fn(move |ctx: &Context| {
        let mut rng = ctx.rng();
        let nodes = targets.choose(&mut *rng)?.clone();
        let percent = *percents.choose(&mut *rng)?;
        let loss = Value::Map(vec![(Value::kw("percent"), Value::Int(i64::from(percent)))]);
        let behaviour = Value::Map(vec![(Value::kw("loss"), loss)]);
        Some(GenOp::invoke(
            "start-packet",
            Value::Map(vec![
                (Value::kw("nodes"), nodes),
                (Value::kw("behaviour"), behaviour),
            ]),
        ))
    });
    let stop = GenOp::invoke("stop-packet", Value::Nil);
    Ok(Package {
        name: name.to_string(),
        final_generator: Some(nemesis(once(stop.clone()))),
        perf: perf(name, &["start-packet"], &["stop-packet"], "#D2E9A0"),
        ..paced(opts.interval_ns, alternate(start, stop))
    })
}

/// The nodes file faults may hit: the `file` targets (node names or `role:<name>`), or
/// every node.
fn file_nodes(opts: &PackageOptions) -> Result<Vec<String>, NemesisError> {
    let Some(targets) = opts.targets.get("file") else {
        return Ok(opts.nodes.clone());
    };
    let mut out = BTreeSet::new();
    for t in targets {
        match t.strip_prefix("role:") {
            Some(role) => out.extend(role_nodes(&opts.roles, role)?.iter().cloned()),
            None if opts.nodes.contains(t) => {
                out.insert(t.clone());
            }
            None => return Err(NemesisError::UnknownNode(t.clone())),
        }
    }
    Ok(out.into_iter().collect())
}

fn file_package(opts: &PackageOptions) -> Result<Package, NemesisError> {
    if opts.files.is_empty() {
        return Err(bad("file", "no files given to corrupt"));
    }
    let nodes = file_nodes(opts)?;
    if nodes.is_empty() {
        return Err(bad("file", "no nodes to corrupt files on"));
    }
    let files = opts.files.clone();
    let p = opts.bitflip_probability;
    let drop_bytes = i64::try_from(opts.truncate_drop_bytes).unwrap_or(i64::MAX);
    let gen = from_fn(move |ctx: &Context| {
        let mut rng = ctx.rng();
        let node = nodes.choose(&mut *rng)?.clone();
        let file = Value::str(files.choose(&mut *rng)?);
        let (f, arg) = if rng.random_bool(0.5) {
            ("bitflip", (Value::kw("probability"), Value::Float(p)))
        } else {
            ("truncate", (Value::kw("drop"), Value::Int(drop_bytes)))
        };
        let spec = Value::Map(vec![(Value::kw("file"), file), arg]);
        Some(GenOp::invoke(
            f,
            Value::Map(vec![(Value::str(&node), spec)]),
        ))
    });
    Ok(Package {
        name: "file".to_string(),
        final_generator: None,
        perf: perf("file", &["bitflip", "truncate"], &[], "#99F2E2"),
        ..paced(opts.interval_ns, gen)
    })
}

/// Draws the nodes of a clock op: a target spec from `specs`, resolved on `nodes`.
fn clock_nodes(specs: &[NodeSpec], nodes: &[String], rng: &mut impl Rng) -> Option<Vec<String>> {
    let spec = specs.choose(rng)?;
    spec.resolve(nodes, &[], rng).ok().filter(|n| !n.is_empty())
}

/// `2^k` ms for a real `k` in [2, 18), as Jepsen's exponential spread (4 ms to 262 s).
fn clock_delta_ms(rng: &mut impl Rng) -> i64 {
    let top = (CLOCK_MAX_DELTA_MS as f64).log2();
    (2f64.powf(2.0 + rng.random::<f64>() * (top - 2.0))) as i64
}

/// One clock fault op: `reset-clock` (node list), `bump-clock` (`{node ±delta-ms}`) or
/// `strobe-clock` (`{node {:delta :period :duration}}`, ms), each a third of the time.
fn clock_fault(specs: &[NodeSpec], nodes: &[String], rng: &mut impl Rng) -> Option<GenOp> {
    let targets = clock_nodes(specs, nodes, rng)?;
    let op = match rng.random_range(0..3u8) {
        0 => GenOp::invoke(
            "reset-clock",
            Value::Vector(targets.iter().map(|n| Value::str(n)).collect()),
        ),
        1 => {
            let entries = targets.iter().map(|n| {
                let sign = if rng.random_bool(0.5) { 1 } else { -1 };
                (Value::str(n), Value::Int(sign * clock_delta_ms(rng)))
            });
            GenOp::invoke("bump-clock", Value::Map(entries.collect()))
        }
        _ => {
            let entries = targets.iter().map(|n| {
                let spec = vec![
                    (Value::kw("delta"), Value::Int(clock_delta_ms(rng))),
                    (
                        Value::kw("period"),
                        Value::Int(*CLOCK_STROBE_PERIODS_MS.choose(rng).unwrap_or(&64)),
                    ),
                    (
                        Value::kw("duration"),
                        Value::Int(rng.random_range(0..=CLOCK_MAX_STROBE_MS)),
                    ),
                ];
                (Value::str(n), Value::Map(spec))
            });
            GenOp::invoke("strobe-clock", Value::Map(entries.collect()))
        }
    };
    Some(op)
}

/// Jepsen's clock package: a `check-clock-offsets` first, then every interval a reset, bump
/// or strobe alternating with `check-clock-offsets`; the final generator resets every clock.
fn clock_package(
    opts: &PackageOptions,
    name: &str,
    targets: Vec<String>,
) -> Result<Package, NemesisError> {
    let targets = nonempty(name, targets)?;
    check_specs(name, &targets, &opts.roles)?;
    if targets.iter().any(|t| t.ends_with("primaries")) {
        return Err(bad(name, "primaries cannot be clock targets"));
    }
    if opts.nodes.is_empty() {
        return Err(bad("clock", "no nodes"));
    }
    let specs: Vec<NodeSpec> = targets
        .iter()
        .map(|t| match t.as_str() {
            "nil" => Ok(NodeSpec::Random),
            name => NodeSpec::by_name(name)
                .ok_or_else(|| bad("clock", format!("unknown node spec {name:?}")))?
                .resolve_roles(&opts.roles),
        })
        .collect::<Result<_, _>>()?;
    let nodes = opts.nodes.clone();
    let fault = from_fn(move |ctx: &Context| clock_fault(&specs, &nodes, &mut *ctx.rng()));
    let check = GenOp::invoke("check-clock-offsets", Value::Nil);
    let gen = concat(vec![
        once(check.clone()),
        flip_flop(fault, repeat(once(check))),
    ]);
    Ok(Package {
        name: name.to_string(),
        final_generator: Some(nemesis(once(GenOp::invoke("reset-clock", Value::Nil)))),
        perf: perf(
            name,
            &["bump-clock", "strobe-clock"],
            &["reset-clock"],
            "#A0E9E3",
        ),
        ..paced(opts.interval_ns, gen)
    })
}

/// The nemesis side of a test, from its packages: composed (or, with `rotate_ns`, rotated:
/// every window a random subset), as the phase the workload's generator runs beside, and the
/// perf specs `test.json` records for the plots (`[{"name", "start", "stop", "color"}]`).
/// `None` when there are no packages.
pub fn test_phase(
    packages: Vec<Package>,
    rotate_ns: Option<i64>,
    recovery: std::time::Duration,
) -> Option<(rift_core::workload::NemesisPhase, serde_json::Value)> {
    if packages.is_empty() {
        return None;
    }
    let package = match rotate_ns {
        Some(ns) => crate::schedule::rotating_package(packages, ns),
        None => compose(packages),
    };
    let perf = package
        .perf
        .iter()
        .map(|p| serde_json::json!({"name": p.name, "start": p.start, "stop": p.stop, "color": p.color}))
        .collect();
    let phase = rift_core::workload::NemesisPhase {
        generator: package.generator,
        final_generator: package.final_generator,
        recovery,
    };
    Some((phase, serde_json::Value::Array(perf)))
}
