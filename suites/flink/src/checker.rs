//! jepsen.flink's availability model (`job-running-within-grace-period`), per job, on rift's
//! history, and a plot of each job's availability over time shaded by the faults.
//!
//! The model, as the seed's: faults that last (a partition, a paused or killed node until it
//! is started, a skewed clock, the NameNode stopped) are *active* from their start to their
//! stop; instant faults (the seed's process kills, which supervision undoes at once) only
//! mark the time of the last failure. A job must be running within `grace` seconds of the
//! last failure once no fault is active: from then on a poll that finds it not running is
//! "Job is not running.", and a poll whose REST call failed is "Cluster is not running.". A
//! job found running counts one healthy poll (any other answer resets the count); at the end
//! every job must have `healthy_threshold` consecutive healthy polls, or have been cancelled.
//! After a cancellation the job may run for `cancellation_grace` seconds more; found running
//! after that is "Job is running after cancellation.". The first inconsistency is final for
//! its job (knossos' inconsistent models absorb).
//!
//! What rift adds to the seed's model, each conservative:
//! - rift's nemesis names (`start-partition`/`stop-partition`, `kill`/`start`,
//!   `pause`/`resume`, `start-packet`/`stop-packet`, `bump-clock`/`strobe-clock` until
//!   `reset-clock`) are faults that last, beside the seed's `-start`/`-stop` names; a stop
//!   ends every fault of its kind (rift's stops heal their kind whole); `check-clock-offsets`
//!   is no fault.
//! - A cancellation whose outcome is unknown (`info`) lets the job be running or not from
//!   then on (the seed asserts cancellations never fail).

use rift_checker::{CheckContext, CheckResult, Checker, Validity};
use rift_history::{History, Op, OpType, Value};
use serde_json::{json, Map, Value as Json};
use std::collections::BTreeMap;

/// The seed's defaults.
pub const DEFAULT_HEALTHY_THRESHOLD: u64 = 5;
/// See [`DEFAULT_HEALTHY_THRESHOLD`] (`--job-recovery-grace-period`, seconds).
pub const DEFAULT_RECOVERY_GRACE_S: f64 = 180.0;
/// Seconds a cancelled job may still be found running (the seed's 10).
pub const DEFAULT_CANCELLATION_GRACE_S: f64 = 10.0;

/// What a nemesis op does to the model.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FaultEvent {
    /// A fault of this kind begins and lasts until a stop of the kind.
    Start(String),
    /// Every fault of this kind ends: the last failure is now.
    Stop(String),
    /// A fault that is over as it happens (a process kill under supervision).
    Instant,
    /// Not a fault (`check-clock-offsets`).
    None,
}

/// How the model reads nemesis op `f`.
pub fn fault_event(f: &str) -> FaultEvent {
    let start = |k: &str| FaultEvent::Start(k.to_string());
    let stop = |k: &str| FaultEvent::Stop(k.to_string());
    match f {
        "start-partition" => start("partition"),
        "stop-partition" => stop("partition"),
        "kill" => start("kill"),
        "start" => stop("kill"),
        "pause" => start("pause"),
        "resume" => stop("pause"),
        "start-packet" => start("packet"),
        "stop-packet" => stop("packet"),
        "bump-clock" | "strobe-clock" => start("clock"),
        "reset-clock" => stop("clock"),
        "check-clock-offsets" => FaultEvent::None,
        _ => {
            // The seed's convention: `<kind>-start` / `<kind>-stop`.
            if let Some(k) = f.strip_suffix("-start") {
                start(k)
            } else if let Some(k) = f.strip_suffix("-stop") {
                stop(k)
            } else {
                FaultEvent::Instant
            }
        }
    }
}

/// The model's parameters.
#[derive(Clone, Debug, PartialEq)]
pub struct ModelOptions {
    /// Consecutive running polls that make a job healthy.
    pub healthy_threshold: u64,
    /// Seconds after the last failure within which the job must be running again.
    pub recovery_grace_s: f64,
    /// Seconds a cancelled job may still run.
    pub cancellation_grace_s: f64,
}

impl Default for ModelOptions {
    fn default() -> Self {
        ModelOptions {
            healthy_threshold: DEFAULT_HEALTHY_THRESHOLD,
            recovery_grace_s: DEFAULT_RECOVERY_GRACE_S,
            cancellation_grace_s: DEFAULT_CANCELLATION_GRACE_S,
        }
    }
}

/// The first inconsistency of a job's model.
#[derive(Clone, Debug, PartialEq)]
pub struct Inconsistency {
    /// The seed's message (`Job is not running.`...).
    pub msg: &'static str,
    /// The anomaly type rift reports for it.
    pub kind: &'static str,
    /// The op's index in the history.
    pub index: u64,
    /// The op's time, seconds since the start.
    pub time_s: f64,
}

/// One job's model after stepping through the history.
#[derive(Clone, Debug, PartialEq)]
pub struct JobModel {
    /// Active faults by kind.
    pub active: BTreeMap<String, u64>,
    /// Consecutive running polls.
    pub healthy_count: u64,
    /// When the last fault ended or happened, ns.
    pub last_failure_ns: i64,
    /// When the job was cancelled, ns, and whether that is certain.
    pub cancelled: Option<(i64, bool)>,
    /// The first inconsistency.
    pub inconsistent: Option<Inconsistency>,
}

impl JobModel {
    fn new(start_ns: i64) -> JobModel {
        JobModel {
            active: BTreeMap::new(),
            healthy_count: 0,
            last_failure_ns: start_ns,
            cancelled: None,
            inconsistent: None,
        }
    }

    fn should_be_healthy(&self, o: &ModelOptions, now_ns: i64) -> bool {
        self.active.is_empty() && secs(now_ns - self.last_failure_ns) > o.recovery_grace_s
    }

    fn allowed_to_run(&self, o: &ModelOptions, now_ns: i64) -> bool {
        match self.cancelled {
            None | Some((_, false)) => true,
            Some((at, true)) => secs(now_ns - at) < o.cancellation_grace_s,
        }
    }

    fn fault(&mut self, ev: &FaultEvent, now_ns: i64) {
        match ev {
            FaultEvent::Start(k) => *self.active.entry(k.clone()).or_insert(0) += 1,
            FaultEvent::Stop(k) => {
                self.active.remove(k);
                self.last_failure_ns = now_ns;
            }
            FaultEvent::Instant => self.last_failure_ns = now_ns,
            FaultEvent::None => {}
        }
    }

    /// A poll's answer for this job: Some(running) when the REST call succeeded.
    fn poll(&mut self, o: &ModelOptions, op: &Op, running: Option<bool>) {
        let now = op.time.unwrap_or(0);
        let bad = |msg, kind| {
            Some(Inconsistency {
                msg,
                kind,
                index: op.index,
                time_s: secs(now),
            })
        };
        let maybe_cancelled = self.cancelled.is_some();
        match running {
            None if self.should_be_healthy(o, now) => {
                self.inconsistent = bad("Cluster is not running.", "cluster-not-running");
            }
            Some(true) if !self.allowed_to_run(o, now) => {
                self.inconsistent = bad(
                    "Job is running after cancellation.",
                    "job-running-after-cancellation",
                );
            }
            Some(true) => self.healthy_count += 1,
            _ if self.should_be_healthy(o, now) && !maybe_cancelled => {
                self.inconsistent = bad("Job is not running.", "job-not-running");
            }
            _ => self.healthy_count = 0,
        }
    }

    /// Healthy at the end: enough running polls in a row, or cancelled.
    pub fn healthy(&self, o: &ModelOptions) -> bool {
        self.healthy_count >= o.healthy_threshold || self.cancelled.is_some()
    }
}

fn secs(ns: i64) -> f64 {
    ns as f64 / 1e9
}

/// A poll's per-job answers: `{job-id true|false}`; a job missing from the map was not found.
fn poll_value(v: &Value) -> BTreeMap<String, bool> {
    let mut out = BTreeMap::new();
    if let Some(m) = v.as_map() {
        for (k, running) in m {
            if let Some(id) = k.as_name() {
                out.insert(id.to_string(), running.as_bool().unwrap_or(false));
            }
        }
    }
    out
}

/// Whether `op` (a completion) is a poll of the jobs (`jobs-running?`, or the seed's
/// single-job `job-running?`).
fn is_poll(f: &str) -> bool {
    f == "jobs-running?" || f == "job-running?"
}

fn is_cancel(f: &str) -> bool {
    f == "cancel-jobs" || f == "cancel-job"
}

/// The job ids a history's successful polls name.
pub fn job_ids(h: &History) -> Vec<String> {
    let mut ids = std::collections::BTreeSet::new();
    for op in h.ops() {
        if op.is_client() && op.ty == OpType::Ok && op.f_name() == "jobs-running?" {
            ids.extend(poll_value(&op.value).into_keys());
        }
    }
    ids.into_iter().collect()
}

/// The completions of a history, in order, with whether each is a nemesis op's: the model
/// acts when an op completes (the seed's nemesis ops carry their value then).
fn completions(h: &History) -> impl Iterator<Item = &Op> + '_ {
    h.ops()
        .iter()
        .enumerate()
        .filter(move |(pos, op)| {
            if op.ty == OpType::Invoke {
                return false;
            }
            // A nemesis invocation may be recorded as `info`: the later op of its pair is
            // the completion.
            match h.pair_of(*pos) {
                Some(p) => p < *pos,
                None => op.is_client() || !op.value.is_nil(),
            }
        })
        .map(|(_, op)| op)
}

/// Steps one job's model through the history.
pub fn job_model(h: &History, job: &str, o: &ModelOptions) -> JobModel {
    let start = h.ops().first().and_then(|op| op.time).unwrap_or(0);
    let mut m = JobModel::new(start);
    for op in completions(h) {
        if m.inconsistent.is_some() {
            break;
        }
        let now = op.time.unwrap_or(0);
        let f = op.f_name();
        if !op.is_client() {
            m.fault(&fault_event(f), now);
        } else if is_poll(f) {
            let running = match op.ty {
                OpType::Ok if f == "jobs-running?" => {
                    Some(poll_value(&op.value).get(job).copied().unwrap_or(false))
                }
                OpType::Ok => Some(op.value.as_bool().unwrap_or(false)),
                _ => None,
            };
            m.poll(o, op, running);
        } else if is_cancel(f) {
            match op.ty {
                OpType::Ok => m.cancelled = Some((now, true)),
                OpType::Info if m.cancelled.is_none() => m.cancelled = Some((now, false)),
                _ => {}
            }
        }
    }
    m
}

/// The seed's `job-running-checker`: every job's model is consistent and healthy at the end,
/// and there is at least one job.
#[derive(Clone, Debug, Default)]
pub struct JobRunningChecker {
    /// The model's parameters.
    pub opts: ModelOptions,
}

impl Checker for JobRunningChecker {
    fn check(&self, ctx: &CheckContext, h: &History) -> CheckResult {
        let o = &self.opts;
        let ids = job_ids(h);
        let mut anomalies = Vec::new();
        let mut models = Vec::new();
        let mut per_job = Vec::new();
        if ids.is_empty() {
            anomalies.push("no-jobs".to_string());
        }
        for id in &ids {
            let m = job_model(h, id, o);
            let healthy = m.healthy(o);
            if let Some(i) = &m.inconsistent {
                anomalies.push(i.kind.to_string());
            } else if !healthy {
                anomalies.push("job-not-healthy".to_string());
            }
            models.push(json!({
                "job-id": id,
                "healthy-count": m.healthy_count,
                "healthy?": healthy,
                "cancelled?": m.cancelled.is_some(),
                "active-nemeses": m.active,
                "last-failure-s": secs(m.last_failure_ns),
                "inconsistent": m.inconsistent.as_ref().map(|i| json!({
                    "msg": i.msg, "index": i.index, "time-s": i.time_s,
                })),
            }));
            per_job.push((id.clone(), m));
        }
        let mut r = if anomalies.is_empty() {
            CheckResult::valid()
        } else {
            CheckResult::invalid(anomalies)
        };
        let mut d = Map::new();
        d.insert("final-models".into(), Json::Array(models));
        d.insert("healthy-threshold".into(), o.healthy_threshold.into());
        d.insert(
            "job-recovery-grace-period-s".into(),
            o.recovery_grace_s.into(),
        );
        if let Some(dir) = &ctx.dir {
            let svg = availability_svg(h, &ids, &per_job);
            let path = dir.join("availability.svg");
            match std::fs::create_dir_all(dir).and_then(|_| std::fs::write(&path, svg)) {
                Ok(()) => {
                    d.insert("plot".into(), "availability.svg".into());
                }
                Err(e) => {
                    d.insert(
                        "plot-error".into(),
                        format!("{}: {e}", path.display()).into(),
                    );
                }
            }
        }
        r.details.extend(d);
        if r.valid == Validity::True && ids.is_empty() {
            r.valid = Validity::False;
        }
        r
    }
}

/// An SVG of each job's polls over time (running: green, not running: orange, the REST call
/// failed: red) under the fault periods (grey: a fault that lasts; lines: instant faults),
/// with each job's first inconsistency marked.
pub fn availability_svg(h: &History, ids: &[String], models: &[(String, JobModel)]) -> String {
    let end_ns = h
        .ops()
        .iter()
        .filter_map(|o| o.time)
        .max()
        .unwrap_or(1)
        .max(1);
    let (w, left, row_h, top) = (900.0, 150.0, 28.0, 40.0);
    let rows = ids.len().max(1) as f64;
    let height = top + rows * row_h + 60.0;
    let x = |ns: i64| left + (w - left - 20.0) * (ns as f64 / end_ns as f64);
    let mut s = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{height}\" font-family=\"sans-serif\" font-size=\"12\">\n\
         <text x=\"10\" y=\"20\" font-size=\"14\">Job availability (polls) and faults</text>\n"
    );
    // Faults that last, as shaded spans; instants as lines.
    let mut open: BTreeMap<String, i64> = BTreeMap::new();
    let bottom = top + rows * row_h;
    for op in completions(h).filter(|o| !o.is_client()) {
        let t = op.time.unwrap_or(0);
        match fault_event(op.f_name()) {
            FaultEvent::Start(k) => {
                open.entry(k).or_insert(t);
            }
            FaultEvent::Stop(k) => {
                if let Some(t0) = open.remove(&k) {
                    s.push_str(&format!(
                        "<rect x=\"{:.1}\" y=\"{top}\" width=\"{:.1}\" height=\"{}\" fill=\"#999\" fill-opacity=\"0.25\"><title>{k}</title></rect>\n",
                        x(t0),
                        (x(t) - x(t0)).max(1.0),
                        rows * row_h
                    ));
                }
            }
            FaultEvent::Instant => s.push_str(&format!(
                "<line x1=\"{0:.1}\" x2=\"{0:.1}\" y1=\"{top}\" y2=\"{bottom}\" stroke=\"#c00\" stroke-opacity=\"0.35\"><title>{1}</title></line>\n",
                x(t),
                op.f_name()
            )),
            FaultEvent::None => {}
        }
    }
    for (k, t0) in open {
        s.push_str(&format!(
            "<rect x=\"{:.1}\" y=\"{top}\" width=\"{:.1}\" height=\"{}\" fill=\"#999\" fill-opacity=\"0.25\"><title>{k} (not healed)</title></rect>\n",
            x(t0),
            (x(end_ns) - x(t0)).max(1.0),
            rows * row_h
        ));
    }
    for (i, id) in ids.iter().enumerate() {
        let y = top + i as f64 * row_h + row_h / 2.0;
        let short: String = id.chars().take(12).collect();
        s.push_str(&format!(
            "<text x=\"10\" y=\"{:.1}\">job {short}</text>\n",
            y + 4.0
        ));
        for op in completions(h).filter(|o| o.is_client() && is_poll(o.f_name())) {
            let t = op.time.unwrap_or(0);
            let color = match op.ty {
                OpType::Ok if poll_value(&op.value).get(id).copied().unwrap_or(false) => "#2a2",
                OpType::Ok => "#e80",
                _ => "#d00",
            };
            s.push_str(&format!(
                "<circle cx=\"{:.1}\" cy=\"{y:.1}\" r=\"4\" fill=\"{color}\"/>\n",
                x(t)
            ));
        }
        if let Some((_, m)) = models.iter().find(|(j, _)| j == id) {
            if let Some(bad) = &m.inconsistent {
                let t = (bad.time_s * 1e9) as i64;
                s.push_str(&format!(
                    "<text x=\"{:.1}\" y=\"{:.1}\" fill=\"#d00\">✗ {}</text>\n",
                    x(t) + 6.0,
                    y - 6.0,
                    bad.msg
                ));
            }
        }
    }
    let secs_total = end_ns as f64 / 1e9;
    for k in 0..=5 {
        let ns = (end_ns as f64 * k as f64 / 5.0) as i64;
        s.push_str(&format!(
            "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{:.0} s</text>\n",
            x(ns),
            bottom + 18.0,
            secs_total * k as f64 / 5.0
        ));
    }
    s.push_str(&format!(
        "<text x=\"10\" y=\"{:.1}\">green: running · orange: not running · red: REST call failed · grey: fault active · red line: process kill</text>\n</svg>\n",
        bottom + 42.0
    ));
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use rift_history::Process;

    /// A history builder: client polls and nemesis ops at given seconds.
    struct B(Vec<Op>);

    impl B {
        fn push(&mut self, ty: OpType, p: Process, f: &str, v: Value, t: f64) {
            let mut op = Op::new(ty, p, Value::kw(f), v);
            op.time = Some((t * 1e9) as i64);
            op.index = self.0.len() as u64;
            self.0.push(op);
        }
        fn poll(&mut self, t: f64, answer: Option<bool>) -> &mut Self {
            self.push(
                OpType::Invoke,
                Process::Client(0),
                "jobs-running?",
                Value::Nil,
                t,
            );
            match answer {
                Some(r) => {
                    let v = Value::Map(vec![(Value::str("j1"), Value::Bool(r))]);
                    self.push(OpType::Ok, Process::Client(0), "jobs-running?", v, t + 0.01)
                }
                None => self.push(
                    OpType::Fail,
                    Process::Client(0),
                    "jobs-running?",
                    Value::Nil,
                    t + 0.01,
                ),
            }
            self
        }
        fn nem(&mut self, t: f64, f: &str) -> &mut Self {
            self.push(OpType::Info, Process::Nemesis, f, Value::Nil, t);
            self.push(
                OpType::Info,
                Process::Nemesis,
                f,
                Value::str("done"),
                t + 0.01,
            );
            self
        }
        fn cancel(&mut self, t: f64, ty: OpType) -> &mut Self {
            self.push(
                OpType::Invoke,
                Process::Client(0),
                "cancel-jobs",
                Value::Nil,
                t,
            );
            self.push(ty, Process::Client(0), "cancel-jobs", Value::Nil, t + 0.01);
            self
        }
        fn check(&self, o: ModelOptions) -> CheckResult {
            let h = History::new(self.0.clone()).unwrap();
            JobRunningChecker { opts: o }.check(&CheckContext::none(), &h)
        }
    }

    fn opts(grace: f64) -> ModelOptions {
        ModelOptions {
            healthy_threshold: 3,
            recovery_grace_s: grace,
            cancellation_grace_s: 10.0,
        }
    }

    #[test]
    fn a_job_that_recovers_within_the_grace_period_is_valid() {
        let mut b = B(Vec::new());
        b.poll(0.0, Some(true)).nem(5.0, "kill-task-managers");
        b.poll(10.0, Some(false)).poll(20.0, Some(false));
        for t in [30.0, 35.0, 40.0] {
            b.poll(t, Some(true));
        }
        let r = b.check(opts(60.0));
        assert_eq!(r.valid, Validity::True, "{r:?}");
    }

    #[test]
    fn a_job_still_down_after_the_grace_period_is_not_running() {
        let mut b = B(Vec::new());
        b.poll(0.0, Some(true)).nem(5.0, "kill-task-managers");
        b.poll(30.0, Some(false))
            .poll(66.0, Some(false))
            .poll(70.0, Some(true));
        let r = b.check(opts(60.0));
        assert_eq!(r.valid, Validity::False);
        assert_eq!(r.anomaly_types, ["job-not-running"]);
        let m = &r.details["final-models"][0];
        assert_eq!(m["inconsistent"]["msg"], "Job is not running.");
    }

    #[test]
    fn failed_rest_calls_after_the_grace_period_are_an_unavailable_cluster() {
        let mut b = B(Vec::new());
        b.poll(0.0, Some(true))
            .nem(1.0, "kill-job-manager")
            .poll(70.0, None);
        let r = b.check(opts(60.0));
        assert_eq!(r.anomaly_types, ["cluster-not-running"]);
    }

    #[test]
    fn faults_that_last_hold_the_grace_period_open_until_they_stop() {
        let mut b = B(Vec::new());
        b.poll(0.0, Some(true)).nem(1.0, "start-partition");
        // Down for 100 s while partitioned: allowed.
        b.poll(50.0, Some(false)).poll(101.0, None);
        b.nem(102.0, "stop-partition").poll(150.0, Some(false));
        for t in [155.0, 160.0, 165.0] {
            b.poll(t, Some(true));
        }
        assert_eq!(b.check(opts(60.0)).valid, Validity::True);
        // Still down 60 s after the stop: not running.
        let mut down = B(Vec::new());
        down.poll(0.0, Some(true))
            .nem(1.0, "start-partition")
            .nem(10.0, "stop-partition");
        down.poll(71.0, Some(false));
        assert_eq!(down.check(opts(60.0)).anomaly_types, ["job-not-running"]);
        // The seed's names work the same way; check-clock-offsets is no fault.
        assert_eq!(
            fault_event("partition-start"),
            FaultEvent::Start("partition".into())
        );
        assert_eq!(
            fault_event("fail-name-node-stop"),
            FaultEvent::Stop("fail-name-node".into())
        );
        assert_eq!(fault_event("kill-single-task-manager"), FaultEvent::Instant);
        assert_eq!(fault_event("check-clock-offsets"), FaultEvent::None);
        assert_eq!(fault_event("resume"), FaultEvent::Stop("pause".into()));
    }

    #[test]
    fn too_few_healthy_polls_at_the_end_is_unhealthy() {
        let mut b = B(Vec::new());
        b.poll(0.0, Some(true))
            .poll(5.0, Some(true))
            .nem(6.0, "kill-task-managers");
        b.poll(10.0, Some(true))
            .poll(15.0, Some(false))
            .poll(20.0, Some(true));
        let r = b.check(opts(60.0));
        assert_eq!(r.anomaly_types, ["job-not-healthy"]);
        assert_eq!(r.details["final-models"][0]["healthy-count"], 1);
    }

    #[test]
    fn cancelled_jobs_must_stop_within_the_cancellation_grace() {
        let mut ok = B(Vec::new());
        ok.poll(0.0, Some(true))
            .cancel(15.0, OpType::Ok)
            .poll(20.0, Some(true));
        ok.poll(30.0, Some(false)).poll(100.0, Some(false));
        assert_eq!(ok.check(opts(60.0)).valid, Validity::True);
        let mut bad = B(Vec::new());
        bad.poll(0.0, Some(true))
            .cancel(15.0, OpType::Ok)
            .poll(30.0, Some(true));
        assert_eq!(
            bad.check(opts(60.0)).anomaly_types,
            ["job-running-after-cancellation"]
        );
        // A cancellation of unknown outcome: running or not is fine afterwards.
        let mut unknown = B(Vec::new());
        unknown
            .poll(0.0, Some(true))
            .cancel(15.0, OpType::Info)
            .poll(30.0, Some(true));
        unknown.poll(100.0, Some(false));
        assert_eq!(unknown.check(opts(60.0)).valid, Validity::True);
    }

    #[test]
    fn a_history_without_jobs_is_invalid() {
        let mut b = B(Vec::new());
        b.poll(0.0, None).poll(5.0, None);
        let r = b.check(opts(60.0));
        assert_eq!(r.valid, Validity::False);
        assert_eq!(r.anomaly_types, ["no-jobs"]);
    }

    #[test]
    fn the_plot_shows_polls_faults_and_the_inconsistency() {
        let mut b = B(Vec::new());
        b.poll(0.0, Some(true))
            .nem(1.0, "start-partition")
            .nem(5.0, "stop-partition");
        b.nem(6.0, "kill-task-managers").poll(70.0, Some(false));
        let dir = tempfile::tempdir().unwrap();
        let h = History::new(b.0.clone()).unwrap();
        let r = JobRunningChecker { opts: opts(60.0) }.check(&CheckContext::in_dir(dir.path()), &h);
        assert_eq!(r.details["plot"], "availability.svg");
        let svg = std::fs::read_to_string(dir.path().join("availability.svg")).unwrap();
        assert!(svg.contains("<title>partition</title>"));
        assert!(svg.contains("<title>kill-task-managers</title>"));
        assert!(svg.contains("Job is not running."));
        assert_eq!(svg.matches("<circle").count(), 2);
    }
}
