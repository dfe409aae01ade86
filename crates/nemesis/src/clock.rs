//! Clock faults on the local cluster through libfaketime ([`LocalClock`]), under Jepsen's op
//! names: `reset-clock`, `bump-clock`, `strobe-clock`, `check-clock-offsets`.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rift_control::clock::{measure_offset, require_faketime, set_offset};
use rift_control::LocalCluster;
use rift_history::Value;
use tokio::task::{JoinHandle, JoinSet};
use tokio::time::{Instant, MissedTickBehavior};

use crate::error::NemesisError;

/// The `f`s [`LocalClock::apply`] handles.
pub const CLOCK_FS: [&str; 4] = [
    "reset-clock",
    "bump-clock",
    "strobe-clock",
    "check-clock-offsets",
];

/// The shortest strobe period accepted, in milliseconds.
pub const MIN_STROBE_PERIOD_MS: u64 = 1;

/// One node's strobe: flip between the base offset and base + `delta_ms` every `period_ms`
/// for `duration_ms`, then settle on the base offset.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Strobe {
    /// How far the clock jumps, milliseconds (may be negative).
    pub delta_ms: i64,
    /// Time between flips, milliseconds (at least [`MIN_STROBE_PERIOD_MS`]).
    pub period_ms: u64,
    /// How long the strobe lasts, milliseconds.
    pub duration_ms: u64,
}

/// Clock offsets of the local cluster's nodes, applied through each node's libfaketime offset
/// file (see [`rift_control::clock`]); the host clock is never touched. Only daemons started
/// with [`rift_control::clock::faketime_env`] see the offsets.
///
/// Strobes run as tokio tasks; `reset`, a new strobe on the same node, [`LocalClock::heal`]
/// and dropping the `LocalClock` cancel them.
pub struct LocalClock {
    cluster: Arc<LocalCluster>,
    /// Base offsets in seconds, shared with strobe tasks (which flip around them).
    base: Arc<Mutex<BTreeMap<String, f64>>>,
    strobes: BTreeMap<String, JoinHandle<()>>,
    /// The offsets measured after the last op, until taken.
    measured: Option<BTreeMap<String, f64>>,
}

impl LocalClock {
    /// Clocks of `cluster`'s nodes, all at offset 0 as far as this value knows.
    pub fn new(cluster: Arc<LocalCluster>) -> LocalClock {
        LocalClock {
            cluster,
            base: Arc::new(Mutex::new(BTreeMap::new())),
            strobes: BTreeMap::new(),
            measured: None,
        }
    }

    /// The base offsets (seconds) this clock has set, by node; a strobing node flips around
    /// its base.
    pub fn offsets(&self) -> BTreeMap<String, f64> {
        lock(&self.base).clone()
    }

    /// How many strobe tasks are still running.
    pub fn active_strobes(&self) -> usize {
        self.strobes.values().filter(|h| !h.is_finished()).count()
    }

    /// The offsets (seconds) measured on every node after the last successful op, once.
    pub fn take_measured(&mut self) -> Option<BTreeMap<String, f64>> {
        self.measured.take()
    }

    /// Handles a clock op (`f` in [`CLOCK_FS`]) and returns the completion value (what was
    /// done: the nodes reset, else the op's value). Afterwards it measures every node's offset
    /// ([`LocalClock::take_measured`], for the completion's `clock-offsets`).
    pub async fn apply(&mut self, f: &str, value: &Value) -> Result<Value, NemesisError> {
        self.measured = None;
        let done = match f {
            "reset-clock" => {
                let nodes = self.reset_targets(value)?;
                self.reset(&nodes).await?;
                Value::Vector(nodes.iter().map(|n| Value::str(n)).collect())
            }
            "bump-clock" => {
                let deltas = parse_bumps(value)?;
                self.check_nodes(deltas.iter().map(|(n, _)| n))?;
                self.bump(&deltas).await?;
                value.clone()
            }
            "strobe-clock" => {
                let strobes = parse_strobes(value)?;
                self.check_nodes(strobes.iter().map(|(n, _)| n))?;
                self.strobe(&strobes).await?;
                value.clone()
            }
            "check-clock-offsets" => value.clone(),
            other => return Err(NemesisError::UnknownOp(other.to_string())),
        };
        self.measured = Some(self.measure(&self.cluster.nodes()).await?);
        Ok(done)
    }

    /// Adds `delta_ms` to each node's base offset.
    pub async fn bump(&mut self, deltas: &[(String, i64)]) -> Result<(), NemesisError> {
        require_faketime()?;
        for (node, delta_ms) in deltas {
            let secs = {
                let mut base = lock(&self.base);
                let b = base.entry(node.clone()).or_insert(0.0);
                *b += *delta_ms as f64 / 1000.0;
                *b
            };
            // A strobing node picks the new base up at its next flip.
            if self.strobes.get(node).is_none_or(|h| h.is_finished()) {
                set_offset(&self.cluster, node, secs)?;
            }
        }
        Ok(())
    }

    /// Starts a strobe on each node (replacing one already running there).
    pub async fn strobe(&mut self, strobes: &[(String, Strobe)]) -> Result<(), NemesisError> {
        require_faketime()?;
        for (node, s) in strobes {
            self.cancel(node).await;
            let base = self.base.clone();
            let cluster = self.cluster.clone();
            let (node_c, s) = (node.clone(), *s);
            let handle = tokio::spawn(async move { run_strobe(cluster, base, node_c, s).await });
            self.strobes.insert(node.clone(), handle);
        }
        Ok(())
    }

    /// Cancels the nodes' strobes and sets their offsets back to 0.
    pub async fn reset(&mut self, nodes: &[String]) -> Result<(), NemesisError> {
        let mut failures = Vec::new();
        for node in nodes {
            self.cancel(node).await;
            lock(&self.base).insert(node.clone(), 0.0);
            if let Err(e) = set_offset(&self.cluster, node, 0.0) {
                failures.push(format!("reset-clock {node}: {e}"));
            }
        }
        many(failures)
    }

    /// Measures the offsets of `nodes` through libfaketime, concurrently (seconds).
    pub async fn measure(&self, nodes: &[String]) -> Result<BTreeMap<String, f64>, NemesisError> {
        require_faketime()?;
        let mut set = JoinSet::new();
        for node in nodes {
            let (cluster, node) = (self.cluster.clone(), node.clone());
            set.spawn(async move {
                let r = measure_offset(&cluster, &node).await;
                (node, r)
            });
        }
        let mut out = BTreeMap::new();
        let mut failures = Vec::new();
        while let Some(joined) = set.join_next().await {
            match joined {
                Ok((node, Ok(secs))) => {
                    out.insert(node, secs);
                }
                Ok((node, Err(e))) => failures.push(format!("measuring {node}'s clock: {e}")),
                Err(e) => failures.push(format!("clock measurement task: {e}")),
            }
        }
        many(failures).map(|()| out)
    }

    /// Cancels every strobe and sets every offset this clock touched (or whose offset file
    /// exists) back to 0. Needs no libfaketime when no clock was ever skewed.
    pub async fn heal(&mut self) -> Result<(), NemesisError> {
        let nodes: Vec<String> = self.strobes.keys().cloned().collect();
        for node in nodes {
            self.cancel(&node).await;
        }
        let mut touched: Vec<String> = lock(&self.base).keys().cloned().collect();
        for node in self.cluster.nodes() {
            let exists = rift_control::clock::faketime_file(&self.cluster, &node)
                .map(|f| f.exists())
                .unwrap_or(false);
            if exists && !touched.contains(&node) {
                touched.push(node);
            }
        }
        self.reset(&touched).await
    }

    /// Cancels `node`'s strobe and waits until its task has stopped (so it writes no more).
    async fn cancel(&mut self, node: &str) {
        if let Some(handle) = self.strobes.remove(node) {
            handle.abort();
            let _ = handle.await;
        }
    }

    fn reset_targets(&self, value: &Value) -> Result<Vec<String>, NemesisError> {
        reset_targets(&self.cluster.nodes(), value)
    }

    fn check_nodes<'a>(&self, nodes: impl Iterator<Item = &'a String>) -> Result<(), NemesisError> {
        check_nodes(&self.cluster.nodes(), nodes)
    }
}

/// The nodes a `reset-clock` value names: nil or `:all` for every node of `all`.
pub(crate) fn reset_targets(all: &[String], value: &Value) -> Result<Vec<String>, NemesisError> {
    if value.is_nil() || value.is_name("all") {
        return Ok(all.to_vec());
    }
    let nodes = value
        .as_seq()
        .and_then(|s| {
            s.iter()
                .map(|n| n.as_name().map(str::to_string))
                .collect::<Option<Vec<_>>>()
        })
        .ok_or_else(|| NemesisError::bad_value("reset-clock", "expected nil or node names"))?;
    check_nodes(all, nodes.iter())?;
    Ok(nodes)
}

/// Fails on the first node that is not one of `all`.
pub(crate) fn check_nodes<'a>(
    all: &[String],
    mut nodes: impl Iterator<Item = &'a String>,
) -> Result<(), NemesisError> {
    match nodes.find(|n| !all.contains(n)) {
        Some(bad) => Err(NemesisError::UnknownNode(bad.clone())),
        None => Ok(()),
    }
}

impl Drop for LocalClock {
    fn drop(&mut self) {
        for handle in self.strobes.values() {
            handle.abort();
        }
    }
}

fn lock(m: &Mutex<BTreeMap<String, f64>>) -> std::sync::MutexGuard<'_, BTreeMap<String, f64>> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

pub(crate) fn many(failures: Vec<String>) -> Result<(), NemesisError> {
    if failures.is_empty() {
        Ok(())
    } else {
        Err(NemesisError::Many(failures))
    }
}

/// Flips `node`'s offset between its base and base + delta every period until the duration
/// has passed, then writes the base. A failed write ends the strobe (logged).
async fn run_strobe(
    cluster: Arc<LocalCluster>,
    base: Arc<Mutex<BTreeMap<String, f64>>>,
    node: String,
    s: Strobe,
) {
    let deadline = Instant::now() + Duration::from_millis(s.duration_ms);
    let mut ticks = tokio::time::interval(Duration::from_millis(s.period_ms.max(1)));
    ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let base_of = || lock(&base).get(&node).copied().unwrap_or(0.0);
    let mut shifted = false;
    loop {
        ticks.tick().await;
        if Instant::now() >= deadline {
            break;
        }
        shifted = !shifted;
        let secs = base_of()
            + if shifted {
                s.delta_ms as f64 / 1000.0
            } else {
                0.0
            };
        if let Err(e) = set_offset(&cluster, &node, secs) {
            tracing::warn!(node, error = %e, "strobe-clock stopped");
            return;
        }
    }
    if let Err(e) = set_offset(&cluster, &node, base_of()) {
        tracing::warn!(node, error = %e, "strobe-clock could not restore the base offset");
    }
}

/// `{node delta-ms}` (Jepsen's bump value).
pub fn parse_bumps(value: &Value) -> Result<Vec<(String, i64)>, NemesisError> {
    let f = "bump-clock";
    let entries = value
        .as_map()
        .ok_or_else(|| NemesisError::bad_value(f, "expected {node delta-ms}"))?;
    entries
        .iter()
        .map(|(k, v)| {
            let node = k
                .as_name()
                .ok_or_else(|| NemesisError::bad_value(f, "keys are node names"))?;
            let ms = whole_ms(f, "delta", v)?;
            Ok((node.to_string(), ms))
        })
        .collect()
}

/// `{node {:delta ms, :period ms, :duration ms}}`.
pub fn parse_strobes(value: &Value) -> Result<Vec<(String, Strobe)>, NemesisError> {
    let f = "strobe-clock";
    let shape = "expected {node {:delta ms, :period ms, :duration ms}}";
    let entries = value
        .as_map()
        .ok_or_else(|| NemesisError::bad_value(f, shape))?;
    let mut out = Vec::new();
    for (k, spec) in entries {
        let node = k
            .as_name()
            .ok_or_else(|| NemesisError::bad_value(f, "keys are node names"))?;
        let field = |name: &str| {
            spec.get(name)
                .ok_or_else(|| NemesisError::bad_value(f, format!("{node}: missing :{name}")))
                .and_then(|v| whole_ms(f, name, v))
        };
        let (delta_ms, period_ms, duration_ms) =
            (field("delta")?, field("period")?, field("duration")?);
        if period_ms < MIN_STROBE_PERIOD_MS as i64 || duration_ms < 0 {
            return Err(NemesisError::bad_value(
                f,
                format!("{node}: period must be at least 1 ms and duration not negative"),
            ));
        }
        out.push((
            node.to_string(),
            Strobe {
                delta_ms,
                period_ms: period_ms as u64,
                duration_ms: duration_ms as u64,
            },
        ));
    }
    Ok(out)
}

/// A number of milliseconds (an integer, or a float rounded), within ±10^12.
fn whole_ms(f: &str, what: &str, v: &Value) -> Result<i64, NemesisError> {
    match v.as_f64() {
        Some(x) if x.is_finite() && x.abs() <= 1e12 => Ok(x.round() as i64),
        _ => Err(NemesisError::bad_value(
            f,
            format!("{what} must be a number of milliseconds"),
        )),
    }
}

/// Offsets as an op value: `{"n1" 0.001, "n2" 60.0}` (seconds).
pub fn offsets_value(offsets: &BTreeMap<String, f64>) -> Value {
    Value::Map(
        offsets
            .iter()
            .map(|(n, s)| (Value::str(n), Value::Float(*s)))
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kv(pairs: &[(&str, Value)]) -> Value {
        Value::Map(
            pairs
                .iter()
                .map(|(k, v)| (Value::kw(k), v.clone()))
                .collect(),
        )
    }

    #[test]
    fn bump_values() {
        let v = Value::Map(vec![
            (Value::str("n2"), Value::Int(60_000)),
            (Value::kw("n3"), Value::Float(-4.6)),
        ]);
        assert_eq!(
            parse_bumps(&v).unwrap(),
            vec![("n2".to_string(), 60_000), ("n3".to_string(), -5)]
        );
        let e = parse_bumps(&Value::Nil).unwrap_err();
        assert_eq!(
            e.to_string(),
            "bad value for bump-clock: expected {node delta-ms}"
        );
        let e = parse_bumps(&Value::Map(vec![(Value::str("n1"), Value::str("x"))])).unwrap_err();
        assert_eq!(
            e.to_string(),
            "bad value for bump-clock: delta must be a number of milliseconds"
        );
    }

    #[test]
    fn strobe_values() {
        let spec = kv(&[
            ("delta", Value::Int(200)),
            ("period", Value::Int(10)),
            ("duration", Value::Int(5000)),
        ]);
        let v = Value::Map(vec![(Value::str("n1"), spec)]);
        assert_eq!(
            parse_strobes(&v).unwrap(),
            vec![(
                "n1".to_string(),
                Strobe {
                    delta_ms: 200,
                    period_ms: 10,
                    duration_ms: 5000
                }
            )]
        );
        let zero_period = kv(&[
            ("delta", Value::Int(200)),
            ("period", Value::Int(0)),
            ("duration", Value::Int(5000)),
        ]);
        let e = parse_strobes(&Value::Map(vec![(Value::str("n1"), zero_period)])).unwrap_err();
        assert_eq!(
            e.to_string(),
            "bad value for strobe-clock: n1: period must be at least 1 ms and duration not negative"
        );
        let missing = kv(&[("delta", Value::Int(1))]);
        let e = parse_strobes(&Value::Map(vec![(Value::str("n1"), missing)])).unwrap_err();
        assert_eq!(
            e.to_string(),
            "bad value for strobe-clock: n1: missing :period"
        );
    }

    #[test]
    fn offsets_as_values() {
        let mut m = BTreeMap::new();
        m.insert("n1".to_string(), 0.5);
        m.insert("n2".to_string(), -60.0);
        assert_eq!(offsets_value(&m).to_string(), "{\"n1\" 0.5, \"n2\" -60.0}");
    }
}
