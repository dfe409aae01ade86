//! Builds the checker `rift check --checker NAME` asks for.

use crate::args::{bad, BadArgs, CheckArgs};
use rift_checker::{Checker, CheckerOptions};

/// Every checker name `rift check` accepts.
pub fn names() -> Vec<&'static str> {
    let mut v: Vec<&'static str> = rift_checker::names().to_vec();
    v.extend(["elle-append", "elle-wr", "linearizable", "kafka"]);
    v
}

/// The checker named on the command line, with its options.
pub fn build(a: &CheckArgs) -> Result<Box<dyn Checker>, BadArgs> {
    match a.checker.as_str() {
        "elle-append" | "list-append" => elle(a, rift_elle::Workload::ListAppend),
        "elle-wr" | "rw-register" => elle(a, rift_elle::Workload::RwRegister),
        "linearizable" | "linear" => linearizable(a),
        "kafka" | "queue" => Ok(kafka(a)),
        name => {
            let opts = CheckerOptions {
                bank_total: a.total,
                bank_negative_balances: a.negative_balances,
                linearizable_set: a.linearizable,
                ..CheckerOptions::default()
            };
            rift_checker::by_name(name, &opts).map_err(|_| {
                bad(format!(
                    "unknown checker {name:?}; known checkers: {}",
                    names().join(", ")
                ))
            })
        }
    }
}

/// Jepsen's `jepsen.tests.kafka` checker; `--ignore-queue-errors` adds allowed error types,
/// `--no-ww-deps` turns off write-write edges (then G1c cycles are errors).
fn kafka(a: &CheckArgs) -> Box<dyn Checker> {
    let opts = rift_kafka::KafkaOptions {
        ignore: a
            .ignore_queue_errors
            .iter()
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
            .collect(),
        ww_deps: !a.no_ww_deps,
        keep_all: a.keep_all_errors,
        ..rift_kafka::KafkaOptions::default()
    };
    Box::new(rift_kafka::KafkaChecker(opts))
}

fn elle(a: &CheckArgs, workload: rift_elle::Workload) -> Result<Box<dyn Checker>, BadArgs> {
    let known = rift_elle::model_names();
    for m in &a.consistency_models {
        if !known.contains(&m.as_str()) {
            return Err(bad(format!(
                "--consistency-models: unknown model {m:?}; known models: {}",
                known.join(", ")
            )));
        }
    }
    let opts = rift_elle::Options {
        consistency_models: a.consistency_models.clone(),
        anomalies: a.anomalies.clone(),
        sources: rift_elle::VersionSources {
            wfr_keys: a.wfr_keys,
            sequential_keys: a.sequential_keys,
            linearizable_keys: a.linearizable_keys,
        },
        ..rift_elle::Options::default()
    };
    Ok(Box::new(rift_elle::checker(workload, opts)))
}

fn linearizable(a: &CheckArgs) -> Result<Box<dyn Checker>, BadArgs> {
    let model = match &a.initial {
        None => rift_linear::model_named(&a.model).map_err(|e| bad(format!("--model: {e}")))?,
        Some(text) => model_with_initial(&a.model, text)?,
    };
    let opts = rift_linear::Options {
        time_budget: std::time::Duration::from_secs_f64(a.time_budget),
        ..rift_linear::Options::default()
    };
    let checker = rift_linear::linearizable(model, opts);
    Ok(if a.independent {
        Box::new(rift_linear::independent(checker))
    } else {
        Box::new(checker)
    })
}

/// A register-family model starting from `--initial` instead of nil / empty.
fn model_with_initial(model: &str, text: &str) -> Result<Box<dyn rift_linear::Model>, BadArgs> {
    let initial = rift_history::edn::parse_value(text)
        .map_err(|e| bad(format!("--initial {text:?} is not an EDN value: {e}")))?;
    Ok(match model {
        "register" => Box::new(rift_linear::Register { initial }),
        "cas-register" => Box::new(rift_linear::CasRegister { initial }),
        "multi-register" => {
            let Some(entries) = initial.as_map() else {
                return Err(bad(format!(
                    "--initial for multi-register must be a map like '{{:x 0 :y 0}}', got {initial}"
                )));
            };
            Box::new(rift_linear::MultiRegister {
                initial: entries.to_vec(),
            })
        }
        other => {
            return Err(bad(format!(
                "--initial applies to register, cas-register and multi-register, not {other}"
            )))
        }
    })
}
