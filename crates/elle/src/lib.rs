//! Elle-class transactional checking: infer isolation anomalies from what clients observed.
//!
//! # Concepts
//! A history of transactions (`:f :txn`, value a list of micro-ops) is turned into a
//! **dependency graph** over the transactions that may have happened (`ok` and `info`):
//! `ww` (T2 overwrote T1's version), `wr` (T2 read T1's version), `rw` (T2 overwrote the
//! version T1 read), plus, when the consistency models ask for it, `realtime` (T1 completed
//! before T2 began; a transitive reduction) or `process` (same process, in order). Each edge
//! carries the set of relations that justify it.
//!
//! The `ww` and `rw` edges need a **version order** per key. For list-append
//! (`[:append k v]`, `[:r k [v...]]`) every read reveals the order of appends before it: the
//! longest read of a key is its order, and every other read must be a prefix of it
//! (otherwise: `incompatible-order`). For rw-register (`[:w k v]`, `[:r k v]`) we only know
//! that `nil` comes first, plus optional sources ([`VersionSources`]: writes follow reads
//! inside a txn, per-key sequential or linearizable keys); a source that would make an order
//! cyclic is reported (`cyclic-versions`) and left out.
//!
//! **Anomalies**: non-cyclic ones come straight from reads (G1a aborted read, G1b
//! intermediate read, dirty-update, duplicate-elements, incompatible-order, internal,
//! future-read, lost-update, garbage-read); cyclic ones come from each strongly connected
//! component of the graph (iterative Tarjan), searched from the most severe type down: G0
//! (ww only), G1c (ww+wr), G-single-item (exactly one rw), G-nonadjacent-item (several rw,
//! never two in a row), G2-item (several rw, two in a row), each also with `-process` and
//! `-realtime` variants. A cycle's type comes from one relation per step, chosen by priority
//! (ww > wr > rw > process/realtime for list-append, wr first for registers) as Elle does.
//! Cheap "some cycle exists" tests per model (`PL-2-cycle-exists`, ...) guide and back up
//! the search, which has a per-SCC time budget and, when it runs out, reports
//! `cycle-search-timeout` plus some cycle.
//!
//! **The lattice** ([`model`]) relates 30-odd consistency models (read-uncommitted ...
//! strict-serializable, session and strong variants): the models asked for decide which
//! anomalies are forbidden (the verdict), and the anomalies found decide which models are
//! ruled out: the weakest ones (`not`) and the rest (`also-not`).
//!
//! **Explanations** ([`explain`], [`plot`]): each cycle step in words and as data, and, for
//! [`ElleChecker`], files under `elle/`: per-anomaly JSON and text, and cycle plots as SVG,
//! drawn by graphviz `dot` when it is on `PATH` (falling back on any failure) or else by
//! our own circular layout.
//!
//! # Example
//! ```
//! use rift_elle::{check, notation, Options, Workload};
//! use rift_checker::Validity;
//!
//! // Write skew: each txn read the other's key as empty, then appended to its own.
//! let h = notation::parse_history("ax1 ry | ay1 rx").unwrap();
//! let r = check(Workload::ListAppend, &h, &Options::default());
//! assert_eq!(r.valid, Validity::False);
//! assert_eq!(r.anomaly_types, ["G2-item"]);
//! assert_eq!(r.details["not"], serde_json::json!(["repeatable-read"]));
//! ```
//!
//! # Edge cases
//! - Only client ops count (every process but `:nemesis`); ops without `:process` are one
//!   process, as in Elle. Pending invocations are not transactions (they still count as
//!   writers for garbage-read and G1b).
//! - A history with no dependency at all is `unknown` (`empty-transaction-graph`), as Elle.
//! - A value appended (or, for registers, written by two committed txns) twice makes the
//!   analysis `unknown`: the version order would be ambiguous.
//! - Predicate anomalies (G-single, G2 proper) never occur: micro-ops are single-key.

#![warn(missing_docs)]

pub mod append;
pub mod cycles;
pub mod explain;
pub mod gen;
pub mod graph;
pub mod model;
pub mod notation;
pub mod plot;
pub mod register;
pub mod report;
pub mod txn;

pub use register::VersionSources;

use rift_checker::{CheckContext, CheckResult, Checker, Validity};
use rift_history::History;
use serde_json::{json, Value as Json};
use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

/// Errors of this crate.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// An op whose value is not a transaction.
    #[error("op {index}: {detail}")]
    BadTxn {
        /// The op's index.
        index: u64,
        /// What is wrong.
        detail: String,
    },
    /// A value written twice to one key.
    #[error("value {value} written to key {key} more than once")]
    DuplicateWrite {
        /// The key.
        key: String,
        /// The value.
        value: String,
    },
    /// A consistency model name nobody knows.
    #[error("unknown consistency model {0:?}; known models: {known}", known = model_names().join(", "))]
    UnknownModel(String),
    /// A test-notation string that does not parse.
    #[error("bad notation {text:?}: {detail}")]
    Notation {
        /// The text.
        text: String,
        /// What is wrong.
        detail: String,
    },
}

/// Which kind of transactions the history holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Workload {
    /// `[:append k v]` and `[:r k [v...]]`.
    ListAppend,
    /// `[:w k v]` and `[:r k v]`.
    RwRegister,
}

/// Checker options (Elle's names).
#[derive(Clone, Debug)]
pub struct Options {
    /// Models the history should satisfy (default `["strict-serializable"]`).
    pub consistency_models: Vec<String>,
    /// Extra anomalies to forbid (elle-cli's default is `["G0"]`).
    pub anomalies: Vec<String>,
    /// Time budget for the cycle search of one strongly connected component.
    pub cycle_budget: Duration,
    /// Write cycle plots (SVG) when the checker writes files.
    pub plot: bool,
    /// Rw-register version-order sources.
    pub sources: VersionSources,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            consistency_models: vec!["strict-serializable".into()],
            anomalies: vec!["G0".into()],
            cycle_budget: Duration::from_secs(1),
            plot: true,
            sources: VersionSources::default(),
        }
    }
}

/// Every consistency model name the lattice knows.
pub fn model_names() -> &'static [&'static str] {
    static NAMES: std::sync::OnceLock<Vec<&'static str>> = std::sync::OnceLock::new();
    NAMES.get_or_init(|| model::lattice().all_models().into_iter().collect())
}

/// Everything an analysis produced, for the result and for files.
pub struct Analysis {
    /// The result.
    pub result: CheckResult,
    /// Text explanations by anomaly type.
    pub texts: BTreeMap<String, Vec<String>>,
    /// SVG plots: (file stem, svg).
    pub plots: Vec<(String, String)>,
}

/// Checks a history.
pub fn check(workload: Workload, history: &History, opts: &Options) -> CheckResult {
    analyze(workload, history, opts, false).result
}

fn prohibited(opts: &Options) -> Result<BTreeSet<String>, Error> {
    let l = model::lattice();
    let known = l.all_models();
    for m in &opts.consistency_models {
        if !known.contains(m.as_str()) {
            return Err(Error::UnknownModel(m.clone()));
        }
    }
    let mut p = l.prohibited_by(opts.consistency_models.iter().map(String::as_str));
    p.extend(l.anomalies_implying(opts.anomalies.iter().map(String::as_str)));
    Ok(p)
}

/// Checks a history and keeps the explanations (text, plots) for files.
pub fn analyze(workload: Workload, history: &History, opts: &Options, plots: bool) -> Analysis {
    match analyze_inner(workload, history, opts, plots) {
        Ok(a) => a,
        Err(e) => Analysis {
            result: CheckResult::unknown(e.to_string()),
            texts: BTreeMap::new(),
            plots: Vec::new(),
        },
    }
}

fn analyze_inner(
    workload: Workload,
    history: &History,
    opts: &Options,
    want_plots: bool,
) -> Result<Analysis, Error> {
    let prohibited = prohibited(opts)?;
    let mut reportable = prohibited.clone();
    reportable.insert("empty-transaction-graph".into());
    reportable.insert("cycle-search-timeout".into());
    let types = cycles::cycle_types();
    let wants = |suffix: &str| {
        types
            .iter()
            .any(|t| t.ends_with(suffix) && reportable.contains(t))
    };
    let txns = txn::parse(history)?;
    let ctx = report::Ctx {
        history,
        txns: &txns,
    };
    let mut found = report::Anomalies::default();
    let mut b = graph::Builder::default();
    // Realtime or process edges, for the cycle types the models ask about.
    let order_edges = |b: &mut graph::Builder| {
        if wants("-realtime") {
            graph::realtime_edges(history, &txns, b);
        } else if wants("-process") {
            graph::process_edges(history, &txns, b);
        }
    };
    // The non-cyclic anomalies are looked for on a second thread while this one builds the
    // graph: both only read the transactions and the index.
    let (aidx, ridx);
    let (index, priority): (explain::Index, &[u8]) = match workload {
        Workload::ListAppend => {
            aidx = append::index(&txns)?;
            let more = std::thread::scope(|s| {
                let scan = s.spawn(|| {
                    let mut more = report::Anomalies::default();
                    append::anomalies(&ctx, &aidx, &mut more);
                    more
                });
                append::edges(&txns, &aidx, &mut b);
                order_edges(&mut b);
                scan.join()
            });
            found.extend(more.unwrap_or_else(|p| std::panic::resume_unwind(p)));
            (
                explain::Index::Append(&aidx),
                &[
                    graph::WW,
                    graph::WR,
                    graph::RW,
                    graph::PROCESS,
                    graph::REALTIME,
                ],
            )
        }
        Workload::RwRegister => {
            ridx = register::index(&ctx, &opts.sources, &mut found)?;
            let (more, graph) = std::thread::scope(|s| {
                let scan = s.spawn(|| {
                    let mut more = report::Anomalies::default();
                    register::anomalies(&ctx, &mut more);
                    more
                });
                let graph = register::edges(&ctx, &ridx, &mut b);
                if graph.is_ok() {
                    order_edges(&mut b);
                }
                (scan.join(), graph)
            });
            found.extend(more.unwrap_or_else(|p| std::panic::resume_unwind(p)));
            graph?;
            (
                explain::Index::Register(&ridx),
                &[
                    graph::WR,
                    graph::WW,
                    graph::RW,
                    graph::PROCESS,
                    graph::REALTIME,
                ],
            )
        }
    };
    let g = b.build(txns.txns.len());
    if g.edge_count() == 0 {
        found
            .map
            .insert("empty-transaction-graph".into(), vec![json!(true)]);
    }
    let mut texts: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut plots = Vec::new();
    for scc in graph::sccs(&g, 0xff) {
        let deadline = Instant::now() + opts.cycle_budget;
        let res = cycles::search_scc(&g, &scc, priority, deadline);
        for e in res.exists {
            let idxs: Vec<u64> = e.scc.iter().map(|&t| ctx.index_of(t)).collect();
            found.add(
                &e.ty,
                json!({"type": e.ty, "not": e.not, "subgraph": e.subgraph,
                                    "scc-size": idxs.len(), "scc": idxs}),
            );
        }
        if let Some((ty, not, size)) = res.timeout {
            found.add(
                "cycle-search-timeout",
                json!({"type": "cycle-search-timeout",
                "anomaly-spec-type": ty, "does-not-contain": not, "scc-size": size}),
            );
        }
        for c in res.cycles {
            let (j, t) = explain::cycle(&ctx, &index, &c);
            if want_plots {
                let n = texts.get(&c.ty).map_or(0, Vec::len);
                plots.push((format!("{}-{n}", c.ty), plot::svg(&ctx, &c)));
            }
            texts.entry(c.ty.clone()).or_default().push(t);
            found.add(&c.ty, j);
        }
    }
    Ok(Analysis {
        result: result_map(&prohibited, &reportable, found),
        texts,
        plots,
    })
}

fn result_map(
    prohibited: &BTreeSet<String>,
    reportable: &BTreeSet<String>,
    found: report::Anomalies,
) -> CheckResult {
    let l = model::lattice();
    let all_types: Vec<String> = found.map.keys().cloned().collect();
    let bad = found.map.keys().any(|k| prohibited.contains(k));
    let mut rep: BTreeMap<String, Vec<Json>> = found
        .map
        .into_iter()
        .filter(|(k, _)| reportable.contains(k))
        .collect();
    // Drop cycle-exists findings already explained by something more specific.
    let others: Vec<&str> = rep
        .keys()
        .filter(|k| !k.ends_with("-cycle-exists"))
        .map(String::as_str)
        .collect();
    let impossible = l.impossible_models(others);
    rep.retain(|k, _| match k.strip_suffix("-cycle-exists") {
        Some(m) => !impossible.contains(m),
        None => true,
    });
    if rep.is_empty() {
        return CheckResult::valid();
    }
    let valid = if bad {
        Validity::False
    } else {
        Validity::Unknown
    };
    let mut r = CheckResult::with_validity(valid);
    r.add_anomalies(rep.keys().cloned());
    let (not, also) = l.boundary(all_types.iter().map(String::as_str));
    r.details.insert("anomalies".into(), json!(rep));
    r.details.insert("not".into(), json!(not));
    r.details.insert("also-not".into(), json!(also));
    r
}

/// A [`Checker`] that also writes `elle/` files (per-anomaly text and JSON, SVG cycle plots)
/// into the context's directory.
pub struct ElleChecker {
    workload: Workload,
    opts: Options,
}

/// Builds an [`ElleChecker`].
pub fn checker(workload: Workload, opts: Options) -> ElleChecker {
    ElleChecker { workload, opts }
}

impl Checker for ElleChecker {
    fn check(&self, ctx: &CheckContext, history: &History) -> CheckResult {
        let plots = self.opts.plot && ctx.dir.is_some();
        let a = analyze(self.workload, history, &self.opts, plots);
        let dir = ctx.subdir("elle");
        let mut errors = Vec::new();
        if let Some(anoms) = a.result.get("anomalies").and_then(Json::as_object) {
            for (ty, instances) in anoms {
                let body = serde_json::to_string_pretty(instances).unwrap_or_default();
                if let Err(e) = dir.write_file(&format!("{ty}.json"), body.as_bytes()) {
                    errors.push(e.to_string());
                }
                // Cycles in words from the search; the other anomalies from their data.
                let words: Option<Vec<String>> = a.texts.get(ty).cloned().or_else(|| {
                    let all: Vec<String> = instances
                        .as_array()
                        .into_iter()
                        .flatten()
                        .filter_map(|j| explain::instance(ty, j))
                        .collect();
                    (!all.is_empty()).then_some(all)
                });
                if let Some(ts) = words {
                    let text: Vec<String> = ts
                        .iter()
                        .enumerate()
                        .map(|(i, t)| format!("{ty} #{i}\n{t}"))
                        .collect();
                    if let Err(e) =
                        dir.write_file(&format!("{ty}.txt"), text.join("\n\n").as_bytes())
                    {
                        errors.push(e.to_string());
                    }
                }
            }
            for (stem, svg) in &a.plots {
                let ty = stem.rsplit_once('-').map_or(stem.as_str(), |(t, _)| t);
                if anoms.contains_key(ty) {
                    let sub = dir.subdir(ty);
                    if let Err(e) = sub.write_file(&format!("{stem}.svg"), svg.as_bytes()) {
                        errors.push(e.to_string());
                    }
                }
            }
        }
        let mut r = a.result;
        if !errors.is_empty() {
            r = r.with("file-errors", errors);
        }
        r
    }
}
