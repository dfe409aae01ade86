//! jepsen.flink's generators: the client's polls (`--client-gen`), the seed's fault schedules
//! (`--nemesis-gen`), and the stop rule that ends a run once the jobs are healthy again.

use rift_generator::{self as gen, Context, Gen, GenOp, Generator, Poll};
use rift_history::{Op, OpType, Value};
use std::sync::Arc;
use std::time::Duration;

/// Seconds after submission in which the seed never kills JobManagers.
pub const JOB_SUBMIT_GRACE_S: u64 = 60;
/// The seconds between polls (the seed's `poll-jobs-running-loop`).
pub const POLL_INTERVAL_S: u64 = 5;
/// When `cancel-jobs` cancels (the seed's 15 s).
pub const CANCEL_AFTER_S: u64 = 15;

/// The seed's client generators.
pub const CLIENT_GENS: &[&str] = &["poll-job-running", "cancel-jobs"];

/// The seed's nemesis generators, with what each does.
pub const NEMESIS_GENS: &[(&str, &str)] = &[
    (
        "kill-task-managers",
        "kills every TaskManager, about every 3 s (0 to 6 s apart), for the time limit",
    ),
    (
        "kill-single-task-manager",
        "kills the TaskManager of one random node, about every 3 s, for the time limit",
    ),
    (
        "kill-random-task-managers",
        "kills the TaskManagers of a random non-empty subset of nodes, about every 3 s",
    ),
    (
        "kill-task-managers-bursts",
        "kills every TaskManager 20 times in a row, then waits 300 s, for the time limit",
    ),
    (
        "kill-job-managers",
        "waits 60 s (job submission), then kills every JobManager without pause for the time limit",
    ),
    (
        "fail-name-node-during-recovery",
        "waits 60 s, partitions random halves and stops the NameNode, heals after 20 s, \
         starts the NameNode 60 s later (needs HDFS)",
    ),
    ("utopia", "no faults: waits 60 s"),
];

fn secs(s: u64) -> i64 {
    (s as i64) * 1_000_000_000
}

fn poll_loop() -> Gen {
    gen::cycle(gen::concat(vec![
        gen::once(GenOp::invoke("jobs-running?", Value::Nil)),
        gen::sleep(secs(POLL_INTERVAL_S)),
    ]))
}

/// The client generator `name`: `poll-job-running` polls every 5 s; `cancel-jobs` also
/// cancels every job once, 15 s in.
pub fn client_gen(name: &str) -> Result<Gen, String> {
    match name {
        "poll-job-running" => Ok(poll_loop()),
        "cancel-jobs" => Ok(gen::concat(vec![
            gen::time_limit(secs(CANCEL_AFTER_S), poll_loop()),
            gen::once(GenOp::invoke("cancel-jobs", Value::Nil)),
            poll_loop(),
        ])),
        other => Err(format!(
            "--client-gen {other:?}: expected one of {}",
            CLIENT_GENS.join(", ")
        )),
    }
}

fn fault(f: &str) -> Gen {
    gen::once(GenOp::invoke(f, Value::Nil))
}

/// `gen`'s ops, none before `at_ns` (since the test's start). Unlike a sleep, the wait holds
/// no thread: rift's own fault packages share the nemesis thread with the seed's schedule.
pub fn not_before(at_ns: i64, gen: Gen) -> Gen {
    Box::new(NotBefore {
        at_ns,
        inner: Arc::from(gen),
    })
}

struct NotBefore {
    at_ns: i64,
    inner: Arc<dyn Generator>,
}

impl Generator for NotBefore {
    fn op(&self, ctx: &Context) -> Poll {
        match self.inner.op(ctx) {
            Poll::Op(mut op, next) => {
                let t = op.time_or(ctx.time_ns()).max(self.at_ns);
                op.time_ns = Some(t);
                let next = next.map(|g| not_before(self.at_ns, g));
                Poll::Op(op, next)
            }
            other => other,
        }
    }

    fn update(&self, ctx: &Context, event: &Op) -> Option<Gen> {
        let g = self.inner.update(ctx, event)?;
        Some(not_before(self.at_ns, g))
    }
}

/// The seed's nemesis generator `name` for a run of `time_limit`, and how long it runs
/// (after which the stop rule starts watching the jobs). The seed's sleeps are waits until a
/// time ([`not_before`]), so that they hold no thread.
pub fn nemesis_gen(name: &str, time_limit: Duration) -> Result<(Gen, Duration), String> {
    let t = time_limit.as_nanos() as i64;
    let every_3s = |f: &str| gen::time_limit(t, gen::stagger(secs(3), gen::repeat(fault(f))));
    Ok(match name {
        "kill-task-managers" | "kill-single-task-manager" | "kill-random-task-managers" => {
            (every_3s(name), time_limit)
        }
        "kill-task-managers-bursts" => {
            // 20 kills in a row every 300 s.
            let bursts = (0..=t / secs(300))
                .map(|k| {
                    let burst = (0..20).map(|_| fault("kill-task-managers")).collect();
                    not_before(k * secs(300), gen::concat(burst))
                })
                .collect();
            (gen::time_limit(t, gen::concat(bursts)), time_limit)
        }
        "kill-job-managers" => {
            let grace = Duration::from_secs(JOB_SUBMIT_GRACE_S);
            (
                gen::time_limit(
                    t + secs(JOB_SUBMIT_GRACE_S),
                    not_before(
                        secs(JOB_SUBMIT_GRACE_S),
                        gen::repeat(fault("kill-job-manager")),
                    ),
                ),
                time_limit + grace,
            )
        }
        "fail-name-node-during-recovery" => {
            let g = secs(JOB_SUBMIT_GRACE_S);
            (
                gen::concat(vec![
                    not_before(g, fault("partition-start")),
                    not_before(g, fault("fail-name-node-start")),
                    not_before(g + secs(20), fault("partition-stop")),
                    not_before(g + secs(80), fault("fail-name-node-stop")),
                ]),
                Duration::from_secs(JOB_SUBMIT_GRACE_S + 80),
            )
        }
        "utopia" => (gen::nil(), Duration::from_secs(60)),
        other => {
            return Err(format!(
                "--nemesis-gen {other:?}: expected one of {}",
                NEMESIS_GENS
                    .iter()
                    .map(|(n, _)| *n)
                    .collect::<Vec<_>>()
                    .join(", ")
            ))
        }
    })
}

/// The seed's stop rule around the whole run: once `after` has passed (the faults are over),
/// the run ends when the last `threshold` polls since then all found every job running, or
/// when `1.1 x grace` more has passed.
pub fn stop_when_healthy(inner: Gen, after: Duration, threshold: u64, grace_s: f64) -> Gen {
    let after_ns = after.as_nanos() as i64;
    Box::new(StopWhenHealthy {
        inner: Arc::from(inner),
        after_ns,
        deadline_ns: after_ns + (grace_s * 1.1 * 1e9) as i64,
        threshold: threshold as usize,
        recent: Vec::new(),
    })
}

struct StopWhenHealthy {
    inner: Arc<dyn Generator>,
    after_ns: i64,
    deadline_ns: i64,
    threshold: usize,
    /// The latest polls' verdicts since `after_ns` (at most `threshold`).
    recent: Vec<bool>,
}

impl StopWhenHealthy {
    fn with(&self, inner: Arc<dyn Generator>, recent: Vec<bool>) -> Gen {
        Box::new(StopWhenHealthy {
            inner,
            after_ns: self.after_ns,
            deadline_ns: self.deadline_ns,
            threshold: self.threshold,
            recent,
        })
    }

    fn done(&self, now: i64) -> bool {
        now >= self.deadline_ns
            || (now >= self.after_ns
                && self.recent.len() >= self.threshold
                && self.recent.iter().all(|r| *r))
    }
}

/// Whether a poll's completion found every job running (and at least one).
pub fn all_running(op: &Op) -> bool {
    op.ty == OpType::Ok
        && op
            .value
            .as_map()
            .is_some_and(|m| !m.is_empty() && m.iter().all(|(_, v)| v.as_bool() == Some(true)))
}

impl Generator for StopWhenHealthy {
    fn op(&self, ctx: &Context) -> Poll {
        if self.done(ctx.time_ns()) {
            return Poll::Exhausted;
        }
        match self.inner.op(ctx) {
            Poll::Op(op, next) => {
                let next = next.map(|g| self.with(Arc::from(g), self.recent.clone()));
                Poll::Op(op, next)
            }
            other => other,
        }
    }

    fn update(&self, ctx: &Context, event: &Op) -> Option<Gen> {
        let inner = self.inner.update(ctx, event);
        let poll = event.is_client()
            && event.ty != OpType::Invoke
            && event.f_name() == "jobs-running?"
            && event.time.unwrap_or(0) >= self.after_ns;
        if inner.is_none() && !poll {
            return None;
        }
        let mut recent = self.recent.clone();
        if poll {
            recent.push(all_running(event));
            if recent.len() > self.threshold {
                recent.remove(0);
            }
        }
        let inner = inner.map_or_else(|| self.inner.clone(), Arc::from);
        Some(self.with(inner, recent))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rift_generator::{simulate, SimConfig};

    fn fs(h: &[Op]) -> Vec<String> {
        h.iter()
            .filter(|o| o.ty == OpType::Invoke || !o.is_client())
            .map(|o| o.f_name().to_string())
            .collect()
    }

    #[test]
    fn names_are_the_seeds_and_others_are_refused() {
        for (n, _) in NEMESIS_GENS {
            assert!(nemesis_gen(n, Duration::from_secs(10)).is_ok(), "{n}");
        }
        let e = nemesis_gen("kill-everything", Duration::from_secs(1))
            .err()
            .unwrap();
        assert!(
            e.contains("kill-task-managers") && e.contains("utopia"),
            "{e}"
        );
        assert!(client_gen("poll-job-running").is_ok());
        assert!(client_gen("cancel").err().unwrap().contains("cancel-jobs"));
        let (_, d) = nemesis_gen("kill-job-managers", Duration::from_secs(30)).unwrap();
        assert_eq!(d, Duration::from_secs(90));
    }

    #[test]
    fn polls_every_5_s_and_cancels_once_at_15_s() {
        let g = gen::time_limit(secs(31), client_gen("cancel-jobs").unwrap());
        let cfg = SimConfig {
            concurrency: 1,
            nemesis: false,
            seed: 1,
            max_ops: 100,
        };
        let h = simulate(g, cfg, |op, _| (OpType::Ok, op.value.clone(), 1_000));
        let f = fs(&h);
        assert_eq!(f.iter().filter(|f| *f == "cancel-jobs").count(), 1);
        let cancel = h.iter().find(|o| o.f_name() == "cancel-jobs").unwrap();
        let t = cancel.time.unwrap();
        assert!((15_000_000_000..=20_000_000_000).contains(&t), "{t}");
        assert_eq!(f.iter().filter(|f| *f == "jobs-running?").count(), 7);
    }

    #[test]
    fn the_seeds_waits_hold_no_thread() {
        // Another generator on the nemesis thread runs during kill-job-managers' 60 s wait.
        let (g, _) = nemesis_gen("kill-job-managers", Duration::from_secs(5)).unwrap();
        let other = gen::time_limit(secs(30), gen::delay(secs(10), gen::repeat(fault("pause"))));
        let cfg = SimConfig {
            concurrency: 1,
            nemesis: true,
            seed: 1,
            max_ops: 100,
        };
        let h = simulate(gen::nemesis(gen::any(vec![g, other])), cfg, |op, _| {
            (OpType::Info, op.value.clone(), 1_000_000)
        });
        let pauses: Vec<i64> = h
            .iter()
            .filter(|o| o.f_name() == "pause" && o.ty == OpType::Invoke)
            .map(|o| o.time.unwrap() / 1_000_000_000)
            .collect();
        assert_eq!(pauses, [0, 10, 20]);
        let (g, d) = nemesis_gen("utopia", Duration::from_secs(5)).unwrap();
        assert_eq!(d, Duration::from_secs(60));
        let h = simulate(gen::nemesis(g), cfg, |op, _| {
            (OpType::Info, op.value.clone(), 1)
        });
        assert!(h.is_empty());
    }

    #[test]
    fn kill_job_managers_waits_for_submission() {
        let (g, _) = nemesis_gen("kill-job-managers", Duration::from_secs(5)).unwrap();
        let cfg = SimConfig {
            concurrency: 1,
            nemesis: true,
            seed: 1,
            max_ops: 50,
        };
        let h = simulate(gen::nemesis(g), cfg, |op, _| {
            (OpType::Info, op.value.clone(), 100_000_000)
        });
        let first = h.iter().find(|o| o.f_name() == "kill-job-manager").unwrap();
        assert!(first.time.unwrap() >= secs(60));
        assert!(h.iter().all(|o| o.time.unwrap() <= secs(66)));
    }

    #[test]
    fn the_run_stops_once_the_last_polls_found_the_jobs_running() {
        let run = |running_from_s: i64| {
            let g = gen::clients(poll_loop());
            let g = stop_when_healthy(g, Duration::from_secs(20), 3, 100.0);
            let cfg = SimConfig {
                concurrency: 1,
                nemesis: false,
                seed: 1,
                max_ops: 1000,
            };
            let h = simulate(g, cfg, move |op, ctx| {
                let up = ctx.time_ns() >= running_from_s * 1_000_000_000;
                let v = Value::Map(vec![(Value::str("j"), Value::Bool(up))]);
                (
                    OpType::Ok,
                    if op.f_name() == "jobs-running?" {
                        v
                    } else {
                        Value::Nil
                    },
                    1_000,
                )
            });
            h.last().unwrap().time.unwrap() / 1_000_000_000
        };
        // Running all along: three polls from 20 s on, then the end.
        assert_eq!(run(0), 30);
        // Running from 50 s: three polls later.
        assert!((60..=61).contains(&run(50)), "{}", run(50));
        // Never running: 1.1 x grace after 20 s.
        assert!((125..=131).contains(&run(10_000)), "{}", run(10_000));
    }
}
