//! [`check_history`]: prepare, partition, search in parallel, explain.

use crate::cex::Counterexample;
use crate::model::Model;
use crate::prepare::{prepare, PrepareStats};
use crate::wgl::{Budget, Search, SearchResult};
use rayon::prelude::*;
use rift_checker::Validity;
use rift_history::History;
use std::path::PathBuf;
use std::sync::atomic::AtomicUsize;
use std::time::{Duration, Instant};

/// How to check.
#[derive(Clone, Debug)]
pub struct Options {
    /// Wall-clock time allowed for the search; past it the verdict is `unknown`.
    pub time_budget: Duration,
    /// Bytes of search memory (memo caches) allowed over all partitions; past it `unknown`.
    pub memory_budget_bytes: usize,
    /// Check each partition of a partitioned model ([`Model::partition`], e.g. kv keys) on
    /// its own (P-compositionality). Default true; false checks one unsplit state.
    pub split_by_key: bool,
    /// Where to write `linear.svg` when the history is not linearizable (None: nowhere).
    pub artifact_dir: Option<PathBuf>,
    /// Stop the other partitions' searches soon after one partition fails (the search runs
    /// partitions in rounds of growing step slices and stops after the first round with a
    /// violation; the merged verdict is false either way). Default true.
    pub stop_on_failure: bool,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            time_budget: Duration::from_secs(300),
            memory_budget_bytes: 1 << 30,
            split_by_key: true,
            artifact_dir: None,
            stop_on_failure: true,
        }
    }
}

/// Search counters, summed over partitions.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SearchStats {
    /// Attempts to linearize an op.
    pub steps: u64,
    /// Configurations memoised.
    pub configurations: u64,
}

/// The verdict of [`check_history`] and its evidence.
#[derive(Clone, Debug)]
pub struct Outcome {
    /// `True` linearizable, `False` not, `Unknown` undecided (see `reason`).
    pub valid: Validity,
    /// The model's name.
    pub model: String,
    /// Why the verdict is unknown (budget exhausted...).
    pub reason: Option<String>,
    /// Number of partitions checked.
    pub partitions: usize,
    /// What was kept and dropped before the search.
    pub prepared: PrepareStats,
    /// Search counters.
    pub search: SearchStats,
    /// The first failing partition's counterexample.
    pub counterexample: Option<Counterexample>,
    /// The rendered counterexample, if written.
    pub artifact: Option<PathBuf>,
    /// Error writing the artifact, if any (the verdict stands).
    pub artifact_error: Option<String>,
    /// Wall-clock time of the check.
    pub elapsed: Duration,
}

/// Checks that `history` is linearizable with respect to `model`.
///
/// Client ops only; `fail` ops are dropped, `info` and never-completed ops may take effect at
/// any point after their invocation or never, and reads with unknown outcome are dropped.
pub fn check_history(history: &History, model: &dyn Model, opts: &Options) -> Outcome {
    let start = Instant::now();
    let (parts, prepared) = prepare(history, model, opts.split_by_key);
    let used = AtomicUsize::new(0);
    let budget = Budget {
        deadline: start.checked_add(opts.time_budget),
        memory_bytes: opts.memory_budget_bytes,
        used: &used,
    };
    let results = search_all(&parts, model, &budget, opts.stop_on_failure);
    let mut out = Outcome {
        valid: Validity::True,
        model: model.name().to_string(),
        reason: None,
        partitions: parts.len(),
        prepared,
        search: SearchStats::default(),
        counterexample: None,
        artifact: None,
        artifact_error: None,
        elapsed: Duration::ZERO,
    };
    let mut failing = None;
    for (i, (r, steps, configs)) in results.into_iter().enumerate() {
        let r = r.unwrap_or_else(|| {
            SearchResult::Unknown("not finished: another partition is not linearizable".into())
        });
        out.search.steps += steps;
        out.search.configurations += configs;
        match r {
            SearchResult::Linearizable => {}
            SearchResult::Violation(deep) => {
                out.valid = Validity::False;
                if failing.is_none() {
                    failing = Some((i, deep));
                }
            }
            SearchResult::Unknown(reason) => {
                if out.valid == Validity::True {
                    out.valid = Validity::Unknown;
                }
                if out.reason.is_none() && !reason.starts_with("not finished") {
                    out.reason = Some(reason);
                }
            }
        }
    }
    if out.valid == Validity::False {
        out.reason = None;
    }
    if let Some((i, deep)) = failing {
        let cex = Counterexample::build(&parts[i], model, deep);
        if let Some(dir) = &opts.artifact_dir {
            let svg = crate::render::render_svg(history, &parts[i], &cex, model.name());
            match write_artifact(dir, &svg) {
                Ok(p) => out.artifact = Some(p),
                Err(e) => out.artifact_error = Some(e.to_string()),
            }
        }
        out.counterexample = Some(cex);
    }
    out.elapsed = start.elapsed();
    out
}

/// Searches every partition, in rounds: each round gives every unfinished partition a slice
/// of steps (4096, then 4x more each round), in parallel from the second round on. A partition that fails quickly is
/// found quickly even when another one is slow; with `stop_on_failure` the rounds end after
/// the first round with a violation (the others stay unfinished: None).
/// Steps each partition gets in the first round of [`search_all`].
const FIRST_SLICE: u64 = 4096;

fn search_all(
    parts: &[crate::prepare::Partition],
    model: &dyn Model,
    budget: &Budget<'_>,
    stop_on_failure: bool,
) -> Vec<(Option<SearchResult>, u64, u64)> {
    let mut searches: Vec<(Search<'_, '_>, Option<SearchResult>)> = parts
        .iter()
        .map(|p| (Search::new(p, model), None))
        .collect();
    let mut slice = FIRST_SLICE;
    loop {
        let open = searches.iter().filter(|(_, r)| r.is_none()).count();
        // The first round runs on this thread: most partitions finish within its slice, and
        // a thread pool's idle workers would spin for longer than they take. The pool starts
        // with the second round, for partitions that proved to need more; never for one.
        if open <= 1 || slice == FIRST_SLICE {
            for (s, r) in searches.iter_mut().filter(|(_, r)| r.is_none()) {
                *r = s.run(budget, slice);
            }
        } else {
            searches
                .par_iter_mut()
                .filter(|(_, r)| r.is_none())
                .for_each(|(s, r)| *r = s.run(budget, slice));
        }
        let failed = searches
            .iter()
            .any(|(_, r)| matches!(r, Some(SearchResult::Violation(_))));
        if searches.iter().all(|(_, r)| r.is_some()) || failed && stop_on_failure {
            break;
        }
        slice = slice.saturating_mul(4);
    }
    searches
        .into_iter()
        .map(|(s, r)| (r, s.counters.steps, s.counters.cache_entries))
        .collect()
}

fn write_artifact(dir: &std::path::Path, svg: &str) -> std::io::Result<PathBuf> {
    std::fs::create_dir_all(dir)?;
    let path = dir.join("linear.svg");
    let tmp = dir.join(".linear.svg.tmp");
    std::fs::write(&tmp, svg)?;
    std::fs::rename(&tmp, &path)?;
    Ok(path)
}
