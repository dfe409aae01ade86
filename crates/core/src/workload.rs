//! Workloads: a generator, a client and a checker that belong together, as Jepsen's
//! `jepsen.tests.*` provide them. For now they run against the in-memory system (`--db mem`);
//! real systems arrive as suites.
//!
//! | workload | ops | final phase | checker |
//! |---|---|---|---|
//! | `set` | `add` unique ints, `read` (1 in 10) | one `read` | set-full + stats + exceptions |
//! | `queue` | `enqueue` unique ints, `dequeue` | one `drain` | total-queue + stats + exceptions |
//! | `bank` | `transfer` between accounts, `read` (1 in 4) | one `read` | bank + stats + exceptions |
//! | `counter` | `add` 1..5, `read` (1 in 4) | one `read` | counter + stats + exceptions |
//! | `unique-ids` | `generate` | none | unique-ids + stats + exceptions |
//! | `register` | `read`, `write`, `cas` on independent keys (`[k v]`), 200 ops a key | none | linearizable (cas-register) per key + stats + exceptions |

use crate::mem::{Bugs, MemClient, MemDb, MemSystem, MemWorkload};
use crate::spec::{RunOptions, Test};
use crate::traits::NoopNemesis;
use rand::Rng;
use rift_checker::{Checker, CheckerOptions, Compose};
use rift_generator::{self as gen, Gen, GenOp};
use rift_history::Value;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// The workloads `rift test` knows.
pub const NAMES: &[&str] = &["set", "queue", "bank", "counter", "unique-ids", "register"];

/// Bank defaults, as Jepsen's bank test: 8 accounts, 100 in total, transfers of 1..=5.
pub const BANK_ACCOUNTS: i64 = 8;
/// The bank's total.
pub const BANK_TOTAL: i64 = 100;

/// What to run.
#[derive(Clone, Debug)]
pub struct WorkloadOptions {
    /// One of [`NAMES`].
    pub workload: String,
    /// Total client ops per second (0 = as fast as possible).
    pub rate_hz: f64,
    /// How long the main phase runs.
    pub time_limit: Duration,
    /// Planted bugs in the in-memory system.
    pub bugs: Bugs,
}

/// The test spec recorded in `test.json`, from which `rift analyze` rebuilds the checker.
pub fn spec_json(db: &str, o: &WorkloadOptions) -> serde_json::Value {
    serde_json::json!({
        "db": db,
        "workload": o.workload,
        "rate-hz": o.rate_hz,
        "bugs": o.bugs.names(),
        "bug-rate": o.bugs.rate,
        "indeterminate-rate": o.bugs.indeterminate,
        "bank-total": BANK_TOTAL,
        "bank-accounts": BANK_ACCOUNTS,
    })
}

/// Builds a test of a workload against the in-memory system.
pub fn mem_test(
    nodes: Vec<String>,
    concurrency: u32,
    seed: u64,
    o: &WorkloadOptions,
    opts: RunOptions,
) -> Result<Test, String> {
    let kind = match o.workload.as_str() {
        "set" => MemWorkload::Set,
        "queue" => MemWorkload::Queue,
        "bank" => MemWorkload::Bank,
        "counter" => MemWorkload::Counter,
        "unique-ids" => MemWorkload::UniqueIds,
        "register" => MemWorkload::Register,
        other => {
            return Err(format!(
                "unknown workload {other:?} for --db mem; known: {}",
                NAMES.join(", ")
            ))
        }
    };
    let accounts: BTreeMap<i64, i64> = (0..BANK_ACCOUNTS)
        .map(|a| (a, if a == 0 { BANK_TOTAL } else { 0 }))
        .collect();
    let system = MemSystem::with_accounts(o.bugs.clone(), seed, accounts);
    let spec = spec_json("mem", o);
    let checker = checker_for(&spec)?;
    Ok(Test {
        name: format!("mem-{}", o.workload),
        nodes,
        concurrency,
        db: Arc::new(MemDb {
            system: system.clone(),
        }),
        client: Box::new(MemClient {
            system,
            workload: kind,
        }),
        nemesis: Box::new(NoopNemesis),
        generator: generator(&o.workload, o.rate_hz, o.time_limit, concurrency)?,
        checker,
        seed,
        opts,
        spec,
        perf: serde_json::Value::Null,
        watchdog: None,
    })
}

/// The generator of a workload: a timed main phase on the clients, then its final phase.
pub fn generator(
    workload: &str,
    rate_hz: f64,
    time_limit: Duration,
    concurrency: u32,
) -> Result<Gen, String> {
    generator_with_nemesis(workload, rate_hz, time_limit, concurrency, None)
}

/// Faults beside a workload (Jepsen's combined nemesis, already on the nemesis thread): its
/// generator runs with the clients for the time limit; then `final_generator` heals, the
/// system gets `recovery` to settle, and the workload's final phase runs.
pub struct NemesisPhase {
    /// Fault ops, for ever (the time limit bounds them).
    pub generator: Gen,
    /// Healing ops, run once the main phase is over.
    pub final_generator: Option<Gen>,
    /// How long to wait after healing before the final phase (Jepsen's suites use 10 s).
    pub recovery: Duration,
}

/// [`generator`] with faults: `(clients main + nemesis) for the time limit`, then heal,
/// recover, and the final phase.
pub fn generator_with_nemesis(
    workload: &str,
    rate_hz: f64,
    time_limit: Duration,
    concurrency: u32,
    nemesis: Option<NemesisPhase>,
) -> Result<Gen, String> {
    let counter = Arc::new(AtomicI64::new(0));
    let next = move || counter.fetch_add(1, Ordering::Relaxed);
    let (main, last): (Gen, Option<GenOp>) = match workload {
        "set" => (
            gen::from_fn(move |ctx| {
                Some(if ctx.rng().random_ratio(1, 10) {
                    GenOp::invoke("read", Value::Nil)
                } else {
                    GenOp::invoke("add", next())
                })
            }),
            Some(GenOp::invoke("read", Value::Nil)),
        ),
        "queue" => (
            gen::from_fn(move |ctx| {
                Some(if ctx.rng().random_bool(0.5) {
                    GenOp::invoke("dequeue", Value::Nil)
                } else {
                    GenOp::invoke("enqueue", next())
                })
            }),
            Some(GenOp::invoke("drain", Value::Nil)),
        ),
        "bank" => (
            gen::from_fn(|ctx| {
                let mut rng = ctx.rng();
                Some(if rng.random_ratio(1, 4) {
                    GenOp::invoke("read", Value::Nil)
                } else {
                    let from = rng.random_range(0..BANK_ACCOUNTS);
                    let to = (from + rng.random_range(1..BANK_ACCOUNTS)) % BANK_ACCOUNTS;
                    let amount = rng.random_range(1..=5i64);
                    GenOp::invoke(
                        "transfer",
                        Value::Map(vec![
                            (Value::kw("from"), from.into()),
                            (Value::kw("to"), to.into()),
                            (Value::kw("amount"), amount.into()),
                        ]),
                    )
                })
            }),
            Some(GenOp::invoke("read", Value::Nil)),
        ),
        "counter" => (
            gen::from_fn(|ctx| {
                let mut rng = ctx.rng();
                Some(if rng.random_ratio(1, 4) {
                    GenOp::invoke("read", Value::Nil)
                } else {
                    GenOp::invoke("add", rng.random_range(1..=5i64))
                })
            }),
            Some(GenOp::invoke("read", Value::Nil)),
        ),
        "unique-ids" => (
            gen::from_fn(|_| Some(GenOp::invoke("generate", Value::Nil))),
            None,
        ),
        "register" => (register_generator(concurrency), None),
        other => {
            return Err(format!(
                "unknown workload {other:?}; known: {}",
                NAMES.join(", ")
            ))
        }
    };
    Ok(assemble(main, last, rate_hz, time_limit, nemesis))
}

/// The phases of a test from its main client generator: `main` at `rate_hz` (0: flat out) on
/// the clients, beside the nemesis' generator, for `time_limit`; then the nemesis heals; then,
/// when there is a `last` op (a final read), the recovery wait and that op on the clients.
/// [`assemble_final`] with `last` as a one-op generator.
pub fn assemble(
    main: Gen,
    last: Option<GenOp>,
    rate_hz: f64,
    time_limit: Duration,
    nemesis: Option<NemesisPhase>,
) -> Gen {
    assemble_final(main, last.map(gen::once), rate_hz, time_limit, nemesis)
}

/// Like [`assemble`], with a whole final phase: `last` runs on the clients once the main
/// phase is over, the nemesis has healed and the system has had its recovery time (Jepsen's
/// `:final-generator`, e.g. the Kafka workload's final polls). It is not rate-limited; bound
/// it yourself (`time_limit`) if it might not end.
pub fn assemble_final(
    main: Gen,
    last: Option<Gen>,
    rate_hz: f64,
    time_limit: Duration,
    nemesis: Option<NemesisPhase>,
) -> Gen {
    let main = if rate_hz > 0.0 {
        gen::stagger((1e9 / rate_hz) as i64, main)
    } else {
        main
    };
    let limit_ns = time_limit.as_nanos() as i64;
    let mut phases = Vec::new();
    match nemesis {
        None => phases.push(gen::time_limit(limit_ns, gen::clients(main))),
        Some(n) => {
            phases.push(gen::time_limit(
                limit_ns,
                gen::any(vec![gen::clients(main), n.generator]),
            ));
            if let Some(heal) = n.final_generator {
                phases.push(gen::nemesis(heal));
            }
            if last.is_some() && !n.recovery.is_zero() {
                phases.push(gen::sleep(n.recovery.as_nanos() as i64));
            }
        }
    }
    if let Some(g) = last {
        phases.push(gen::clients(g));
    }
    gen::phases(phases)
}

/// Jepsen's register workload: independent keys, each worked on by a group of up to 5
/// threads for 200 random reads, writes (values 0..5) and compare-and-sets, values wrapped as
/// `[k v]` tuples.
fn register_generator(concurrency: u32) -> Gen {
    register_keys_generator(concurrency.clamp(1, 5) as usize, 200)
}

/// The register workload with `group` threads on each key and `ops_per_key` operations on it
/// before they move on to a fresh key (a suite's `--ops-per-key`).
pub fn register_keys_generator(group: usize, ops_per_key: u64) -> Gen {
    let keys: Vec<Value> = (0..100_000i64).map(Value::Int).collect();
    gen::concurrent_generator(group.max(1), keys, move |_| {
        gen::limit(
            ops_per_key,
            gen::from_fn(|ctx| {
                let mut rng = ctx.rng();
                Some(match rng.random_range(0..3) {
                    0 => GenOp::invoke("read", Value::Nil),
                    1 => GenOp::invoke("write", rng.random_range(0..5i64)),
                    _ => GenOp::invoke(
                        "cas",
                        Value::Vector(vec![
                            rng.random_range(0..5i64).into(),
                            rng.random_range(0..5i64).into(),
                        ]),
                    ),
                })
            }),
        )
    })
}

/// The checker a stored spec calls for (`rift analyze` uses this on `test.json`'s `spec`).
pub fn checker_for(spec: &serde_json::Value) -> Result<Box<dyn Checker>, String> {
    let workload = spec
        .get("workload")
        .and_then(|w| w.as_str())
        .ok_or("the test spec names no workload")?;
    let mut opts = CheckerOptions::default();
    let name = match workload {
        "set" => "set-full",
        "queue" => "total-queue",
        "bank" => {
            opts.bank_total = Some(
                spec.get("bank-total")
                    .and_then(|t| t.as_i64())
                    .unwrap_or(BANK_TOTAL),
            );
            "bank"
        }
        "counter" => "counter",
        "unique-ids" => "unique-ids",
        "register" => "linearizable",
        other => return Err(format!("no checker for workload {other:?}")),
    };
    if name == "linearizable" {
        let model = rift_linear::model_named("cas-register").map_err(|e| e.to_string())?;
        let main = rift_linear::independent(rift_linear::linearizable(
            model,
            rift_linear::Options::default(),
        ));
        return compose_with_stats(Box::new(main), &opts);
    }
    let main = rift_checker::by_name(name, &opts).map_err(|e| e.to_string())?;
    compose_with_stats(main, &opts)
}

/// Jepsen's usual composition: the workload's checker beside stats and exceptions.
fn compose_with_stats(
    main: Box<dyn Checker>,
    opts: &CheckerOptions,
) -> Result<Box<dyn Checker>, String> {
    let stats = rift_checker::by_name("stats", opts).map_err(|e| e.to_string())?;
    let exceptions = rift_checker::by_name("exceptions", opts).map_err(|e| e.to_string())?;
    Ok(Box::new(Compose::new(vec![
        ("workload".to_string(), main),
        ("stats".to_string(), stats),
        ("exceptions".to_string(), exceptions),
    ])))
}
