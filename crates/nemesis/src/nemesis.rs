//! [`LocalNemesis`]: Jepsen's combined nemesis ops on a [`LocalCluster`].

use std::collections::{BTreeMap, BTreeSet};
use std::net::Ipv4Addr;
use std::sync::Arc;

use async_trait::async_trait;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rift_control::{LocalCluster, Remote};
use rift_core::{Db, Nemesis, PlugResult, TestInfo, Watchdog};
use rift_history::{Op, OpType, Value};

use crate::clock::{offsets_value, LocalClock, CLOCK_FS};
use crate::corrupt;
use crate::error::NemesisError;
use crate::grudge::Grudge;
use crate::net::{detect_backend, Backend, Firewall};
use crate::netem;
use crate::nodespec::{NodeSpec, Roles};
use crate::remote_clock::RemoteClock;

/// The `f`s [`LocalNemesis`] handles.
pub const FS: [&str; 14] = [
    "start-partition",
    "stop-partition",
    "kill",
    "start",
    "pause",
    "resume",
    "start-packet",
    "stop-packet",
    "bitflip",
    "truncate",
    "reset-clock",
    "bump-clock",
    "strobe-clock",
    "check-clock-offsets",
];

/// A nemesis for the local cluster: partitions and packet loss with nft, kill and pause
/// through the nodes' cgroups, restarts through the [`Db`], file corruption on node dirs,
/// clocks through libfaketime. Over SSH ([`LocalNemesis::over_remote`]): partitions and packet
/// loss with nft (or iptables) on each node, kill/start/pause/resume through the [`Db`], the
/// nodes' real clocks through [`RemoteClock`]; file faults are local-cluster only for now
/// (they fail with a clear error).
/// Random choices come from a ChaCha8 generator seeded at construction.
pub struct LocalNemesis {
    cluster: Option<Arc<LocalCluster>>,
    nodes: Vec<String>,
    db: Option<Arc<dyn Db>>,
    firewall: Firewall,
    rng: ChaCha8Rng,
    paused: BTreeSet<String>,
    roles: Roles,
    watchdog: Option<Arc<Watchdog>>,
    clock: Option<LocalClock>,
    remote_clock: Option<RemoteClock>,
    netem_nodes: BTreeSet<String>,
}

impl LocalNemesis {
    /// A nemesis over `cluster`, its random choices seeded with `seed` (use the test's seed).
    pub fn new(cluster: Arc<LocalCluster>, seed: u64) -> LocalNemesis {
        LocalNemesis {
            firewall: Firewall::new(cluster.clone()),
            clock: Some(LocalClock::new(cluster.clone())),
            remote_clock: None,
            nodes: cluster.nodes(),
            cluster: Some(cluster),
            db: None,
            rng: ChaCha8Rng::seed_from_u64(seed),
            paused: BTreeSet::new(),
            roles: Roles::new(),
            watchdog: None,
            netem_nodes: BTreeSet::new(),
        }
    }

    /// A nemesis over real machines behind `remote` (SSH), which know each other by
    /// `addresses`. Give it the [`Db`] ([`LocalNemesis::with_db`]): kill, start, pause and
    /// resume go through it.
    pub fn over_remote(
        remote: Arc<dyn Remote>,
        addresses: BTreeMap<String, Ipv4Addr>,
        seed: u64,
    ) -> LocalNemesis {
        LocalNemesis {
            nodes: addresses.keys().cloned().collect(),
            remote_clock: Some(RemoteClock::new(
                remote.clone(),
                addresses.keys().cloned().collect(),
            )),
            firewall: Firewall::remote(remote, addresses),
            clock: None,
            cluster: None,
            db: None,
            rng: ChaCha8Rng::seed_from_u64(seed),
            paused: BTreeSet::new(),
            roles: Roles::new(),
            watchdog: None,
            netem_nodes: BTreeSet::new(),
        }
    }

    /// Uses `db` for `start` (restart after kill) and `primaries`.
    pub fn with_db(mut self, db: Arc<dyn Db>) -> LocalNemesis {
        self.db = Some(db);
        self
    }

    /// Tells `watchdog` which nodes are down on purpose: a node this nemesis kills stays down
    /// until this nemesis starts it.
    pub fn with_watchdog(mut self, watchdog: Arc<Watchdog>) -> LocalNemesis {
        self.watchdog = Some(watchdog);
        self
    }

    /// Uses `roles` for node specs `role:<name>` and partitions `between:<a>,<b>`.
    pub fn with_roles(mut self, roles: Roles) -> LocalNemesis {
        self.roles = roles;
        self
    }

    /// The firewall (to inspect the rules in force).
    pub fn firewall(&self) -> &Firewall {
        &self.firewall
    }

    /// The clocks (to inspect offsets and running strobes).
    pub fn clock(&self) -> Option<&LocalClock> {
        self.clock.as_ref()
    }

    /// Applies fault `f` with `value`; returns the completion value (what was done).
    pub async fn apply(
        &mut self,
        test: &TestInfo,
        f: &str,
        value: &Value,
    ) -> Result<Value, NemesisError> {
        match f {
            "start-partition" => self.start_partition(test, value).await,
            "stop-partition" => {
                self.firewall.heal_partition().await?;
                Ok(Value::kw("network-healed"))
            }
            "kill" | "start" | "pause" | "resume" => self.process_fault(test, f, value).await,
            "start-packet" => self.start_packet(test, value).await,
            "stop-packet" => {
                self.stop_netem().await?;
                self.firewall.stop_loss().await?;
                Ok(Value::kw("packet-healed"))
            }
            "bitflip" | "truncate" => self.corrupt(f, value),
            f if CLOCK_FS.contains(&f) => match (self.clock.as_mut(), self.remote_clock.as_mut()) {
                (Some(clock), _) => clock.apply(f, value).await,
                (None, Some(clock)) => clock.apply(f, value).await,
                (None, None) => Err(local_only("clock faults")),
            },
            other => Err(NemesisError::UnknownOp(other.to_string())),
        }
    }

    /// Heals everything: deletes our nft table in every namespace, resumes every node this
    /// nemesis paused, cancels clock strobes and sets skewed clocks back to 0. Tries all;
    /// reports every failure.
    pub async fn heal(&mut self) -> Result<(), NemesisError> {
        let mut failures = Vec::new();
        if let Err(e) = self.firewall.heal_all().await {
            failures.push(e.to_string());
        }
        if let Err(e) = self.stop_netem().await {
            failures.push(e.to_string());
        }
        if let Some(clock) = self.clock.as_mut() {
            if let Err(e) = clock.heal().await {
                failures.push(e.to_string());
            }
        }
        if let Some(clock) = self.remote_clock.as_mut() {
            if let Err(e) = clock.heal().await {
                failures.push(e.to_string());
            }
        }
        let paused: Vec<String> = std::mem::take(&mut self.paused).into_iter().collect();
        for node in paused {
            if let Err(e) = self.resume_node(None, &node).await {
                failures.push(format!("resume {node}: {e}"));
            }
        }
        if failures.is_empty() {
            Ok(())
        } else {
            Err(NemesisError::Many(failures))
        }
    }

    async fn primaries(&self, test: &TestInfo) -> Result<Vec<String>, NemesisError> {
        match &self.db {
            Some(db) => db.primaries(test).await.map_err(NemesisError::Db),
            None => Err(NemesisError::Unsupported {
                what: "primaries".into(),
                why: "no db given to the nemesis".into(),
            }),
        }
    }

    async fn start_partition(
        &mut self,
        test: &TestInfo,
        value: &Value,
    ) -> Result<Value, NemesisError> {
        let mut nodes = self.nodes.clone();
        let mut name = value.as_name();
        // `role:<name>:<partition>`: the partition among that role's nodes only.
        if let Some((role, inner)) = name
            .and_then(|n| n.strip_prefix("role:"))
            .and_then(|r| r.split_once(':'))
        {
            let members = crate::nodespec::role_nodes(&self.roles, role)?;
            nodes.retain(|n| members.contains(n));
            name = Some(inner);
        }
        let grudge = match name {
            Some("one") => Grudge::one(&nodes, &mut self.rng),
            Some("majority") => Grudge::majority(&nodes, &mut self.rng),
            Some("minority-third") => Grudge::minority_third(&nodes, &mut self.rng),
            Some("majorities-ring") => Grudge::majorities_ring(&nodes, &mut self.rng),
            Some("bridge") => Grudge::bridge(&nodes, &mut self.rng),
            Some("primaries") => Grudge::primaries(&nodes, &self.primaries(test).await?),
            Some(other) => match Grudge::between_roles(other, &self.roles) {
                Some(g) => g?,
                None => return Err(NemesisError::bad_value(
                    "start-partition",
                    format!("unknown partition {other:?} (one, majority, minority-third, majorities-ring, bridge, primaries, between:<roleA>,<roleB>, role:<role>:<partition>)"),
                ))
            }
            None => explicit_grudge(value)?,
        };
        let took = self.firewall.partition(&grudge).await?;
        tracing::info!(?grudge, took_ms = took.as_millis() as u64, "partitioned");
        Ok(Value::Vector(vec![
            Value::kw("isolated"),
            grudge.to_value(),
        ]))
    }

    async fn process_fault(
        &mut self,
        test: &TestInfo,
        f: &str,
        value: &Value,
    ) -> Result<Value, NemesisError> {
        // Jepsen's start and resume act on every node unless told otherwise.
        let spec = if value.is_nil() && (f == "start" || f == "resume") {
            NodeSpec::All
        } else {
            NodeSpec::from_value(f, value)?
        }
        .resolve_roles(&self.roles)?;
        let primaries = if spec.needs_primaries() {
            self.primaries(test).await?
        } else {
            Vec::new()
        };
        let targets = spec.resolve(&self.nodes, &primaries, &mut self.rng)?;
        let mut done = Vec::new();
        let mut failures = Vec::new();
        for node in targets {
            let res = match f {
                "kill" => {
                    self.paused.remove(&node);
                    if let Some(w) = &self.watchdog {
                        w.suppress(&node);
                    }
                    if self.cluster.is_some() {
                        self.blocking(node.clone(), |c, n| c.kill_node(n).map(|_| ()))
                            .await
                    } else {
                        self.db_op(test, "kill", &node).await
                    }
                }
                "pause" => {
                    self.paused.insert(node.clone());
                    if self.cluster.is_some() {
                        self.blocking(node.clone(), LocalCluster::pause_node).await
                    } else {
                        self.db_op(test, "pause", &node).await
                    }
                }
                "resume" => {
                    self.paused.remove(&node);
                    self.resume_node(Some(test), &node).await
                }
                // A paused node's cgroup is frozen, and so would be the commands that start
                // its daemon: starting a node resumes it first.
                _ if self.paused.remove(&node) => match self.resume_node(Some(test), &node).await {
                    Ok(()) => self.start_node(test, &node).await,
                    Err(e) => Err(e),
                },
                _ => self.start_node(test, &node).await,
            };
            match res {
                Ok(()) => done.push((Value::str(&node), Value::kw(past_tense(f)))),
                Err(e) => failures.push(format!("{node}: {e}")),
            }
        }
        if failures.is_empty() {
            Ok(Value::Map(done))
        } else {
            Err(NemesisError::Many(failures))
        }
    }

    async fn start_node(&self, test: &TestInfo, node: &str) -> Result<(), NemesisError> {
        let res = self.start_node_inner(test, node).await;
        if res.is_ok() {
            if let Some(w) = &self.watchdog {
                w.release(node);
            }
        }
        res
    }

    async fn start_node_inner(&self, test: &TestInfo, node: &str) -> Result<(), NemesisError> {
        match &self.db {
            Some(db) => db.start(test, node).await.map_err(NemesisError::Db),
            None => Err(NemesisError::Unsupported {
                what: "start".into(),
                why: "no db given to the nemesis (LocalNemesis::with_db)".into(),
            }),
        }
    }

    /// Resumes `node`: its cgroup on the local cluster, the db's resume otherwise (which needs
    /// the test: at heal time without one, SSH nodes are resumed with the db's teardown).
    async fn resume_node(&self, test: Option<&TestInfo>, node: &str) -> Result<(), NemesisError> {
        if self.cluster.is_some() {
            return self
                .blocking(node.to_string(), LocalCluster::resume_node)
                .await;
        }
        match test {
            Some(t) => self.db_op(t, "resume", node).await,
            None => Ok(()),
        }
    }

    /// kill, pause or resume through the db (nodes that are not namespaces of ours).
    async fn db_op(&self, test: &TestInfo, f: &str, node: &str) -> Result<(), NemesisError> {
        let db = self.db.as_ref().ok_or_else(|| NemesisError::Unsupported {
            what: f.to_string(),
            why: "on SSH nodes kill, pause and resume go through the db (LocalNemesis::with_db)"
                .into(),
        })?;
        match f {
            "kill" => db.kill(test, node).await,
            "pause" => db.pause(test, node).await,
            _ => db.resume(test, node).await,
        }
        .map_err(NemesisError::Db)
    }

    /// Runs a synchronous cluster operation off the async threads.
    async fn blocking<F>(&self, node: String, op: F) -> Result<(), NemesisError>
    where
        F: FnOnce(&LocalCluster, &str) -> Result<(), rift_control::ControlError> + Send + 'static,
    {
        let cluster = self
            .cluster
            .clone()
            .ok_or_else(|| local_only("cgroup process faults"))?;
        tokio::task::spawn_blocking(move || op(&cluster, &node))
            .await
            .map_err(|e| NemesisError::Many(vec![format!("cluster task: {e}")]))?
            .map_err(NemesisError::from)
    }

    async fn start_packet(
        &mut self,
        test: &TestInfo,
        value: &Value,
    ) -> Result<Value, NemesisError> {
        let f = "start-packet";
        let spec = match value.get("nodes") {
            None => NodeSpec::All,
            Some(v) => NodeSpec::from_value(f, v)?.resolve_roles(&self.roles)?,
        };
        let behaviour = value
            .get("behaviour")
            .or_else(|| value.get("behavior"))
            .ok_or_else(|| {
                NemesisError::bad_value(f, "expected {:nodes .., :behaviour {:loss {:percent N}}}")
            })?;
        let entries = behaviour
            .as_map()
            .ok_or_else(|| NemesisError::bad_value(f, "behaviour must be a map"))?;
        let primaries = if spec.needs_primaries() {
            self.primaries(test).await?
        } else {
            Vec::new()
        };
        if netem::needs_netem(behaviour) {
            let args = netem::netem_args(behaviour)?;
            let targets = spec.resolve(&self.nodes, &primaries, &mut self.rng)?;
            self.start_netem(&targets, &args).await?;
            return Ok(Value::Map(vec![
                (
                    Value::kw("nodes"),
                    Value::Vector(targets.iter().map(|n| Value::str(n)).collect()),
                ),
                (Value::kw("netem"), Value::str(args.trim())),
            ]));
        }
        let mut percent = None;
        for (k, v) in entries {
            if k.as_name() == Some("loss") {
                percent = Some(loss_percent(v.get("percent").unwrap_or(v))?);
            }
        }
        let percent = percent.ok_or_else(|| NemesisError::bad_value(f, "no loss given"))?;
        let targets = spec.resolve(&self.nodes, &primaries, &mut self.rng)?;
        self.firewall.start_loss(&targets, percent).await?;
        Ok(Value::Map(vec![
            (
                Value::kw("nodes"),
                Value::Vector(targets.iter().map(|n| Value::str(n)).collect()),
            ),
            (Value::kw("loss-percent"), Value::Int(i64::from(percent))),
        ]))
    }

    /// Applies netem `args` on `targets`, after checking that netem works on the first: a
    /// kernel without `sch_netem` gets a clear "not supported here".
    async fn start_netem(&mut self, targets: &[String], args: &str) -> Result<(), NemesisError> {
        let Some(first) = targets.first() else {
            return Ok(());
        };
        let probe = self.firewall.shell(first, &netem::probe_script()).await?;
        if probe.trim() != "netem-ok" {
            return Err(NemesisError::Unsupported {
                what: "packet delay, duplication, reordering, corruption and rate".into(),
                why: format!(
                    "tc netem does not work on {first} ({}); the kernel needs sch_netem \
                     (only loss works without it, through nft)",
                    probe.trim()
                ),
            });
        }
        let mut failures = Vec::new();
        for node in targets {
            self.netem_nodes.insert(node.clone());
            let out = self
                .firewall
                .shell(node, &format!("{}echo applied", netem::apply_script(args)))
                .await;
            match out {
                Ok(o) if o.trim().ends_with("applied") => {}
                Ok(o) => failures.push(format!("{node}: tc netem{args}: {}", o.trim())),
                Err(e) => failures.push(e.to_string()),
            }
        }
        if failures.is_empty() {
            Ok(())
        } else {
            Err(NemesisError::Many(failures))
        }
    }

    /// Removes the netem qdiscs this nemesis added.
    async fn stop_netem(&mut self) -> Result<(), NemesisError> {
        let mut failures = Vec::new();
        for node in std::mem::take(&mut self.netem_nodes) {
            if let Err(e) = self.firewall.shell(&node, &netem::heal_script()).await {
                failures.push(e.to_string());
            }
        }
        if failures.is_empty() {
            Ok(())
        } else {
            Err(NemesisError::Many(failures))
        }
    }

    fn corrupt(&mut self, f: &str, value: &Value) -> Result<Value, NemesisError> {
        let entries = value
            .as_map()
            .ok_or_else(|| NemesisError::bad_value(f, "expected {node {:file path, ...}}"))?;
        let mut done = Vec::new();
        for (k, spec) in entries {
            let node = k
                .as_name()
                .ok_or_else(|| NemesisError::bad_value(f, "keys are node names"))?;
            let file = spec
                .get("file")
                .and_then(Value::as_name)
                .ok_or_else(|| NemesisError::bad_value(f, "missing :file"))?;
            let cluster = self
                .cluster
                .as_ref()
                .ok_or_else(|| local_only("file corruption"))?;
            let path = cluster.resolve_path(node, file)?;
            let result = if f == "bitflip" {
                let p = spec
                    .get("probability")
                    .and_then(Value::as_f64)
                    .unwrap_or(0.01);
                let flips = corrupt::bitflip(&path, p, &mut self.rng)?;
                Value::Map(vec![(Value::kw("flipped-bits"), Value::from(flips.len()))])
            } else {
                let drop = spec.get("drop").and_then(Value::as_i64).unwrap_or(1).max(0);
                let (before, after) = corrupt::truncate(&path, drop as u64)?;
                Value::Map(vec![
                    (Value::kw("before"), Value::from(before)),
                    (Value::kw("after"), Value::from(after)),
                ])
            };
            done.push((Value::str(node), result));
        }
        Ok(Value::Map(done))
    }
}

fn past_tense(f: &str) -> &'static str {
    match f {
        "kill" => "killed",
        "pause" => "paused",
        "resume" => "resumed",
        _ => "started",
    }
}

/// `20`, `20.0` or `"20%"` as a percent in 0..=100.
fn loss_percent(v: &Value) -> Result<u8, NemesisError> {
    let n = match v.as_name() {
        Some(text) => text.trim().trim_end_matches('%').trim().parse::<f64>().ok(),
        None => v.as_f64(),
    };
    match n {
        Some(p) if (0.0..=100.0).contains(&p) => Ok(p.round() as u8),
        _ => Err(NemesisError::bad_value(
            "start-packet",
            "loss percent must be a number in 0..=100",
        )),
    }
}

/// An explicit partition: a grudge map `{node [nodes]}` or components `[[n1 n2] [n3]]`.
fn explicit_grudge(value: &Value) -> Result<Grudge, NemesisError> {
    if value.as_map().is_some() {
        return Grudge::from_value(value);
    }
    let bad = || {
        NemesisError::bad_value(
            "start-partition",
            "expected a partition name, a grudge map or a list of components",
        )
    };
    let comps = value.as_seq().ok_or_else(bad)?;
    let mut out = Vec::new();
    for c in comps {
        let names = c
            .as_seq()
            .ok_or_else(bad)?
            .iter()
            .map(|n| n.as_name().map(str::to_string))
            .collect::<Option<Vec<_>>>()
            .ok_or_else(bad)?;
        out.push(names);
    }
    Ok(Grudge::complete(&out))
}

/// The error of a fault the nemesis only injects on the local cluster.
fn local_only(what: &str) -> NemesisError {
    NemesisError::Unsupported {
        what: what.to_string(),
        why: "only on the local cluster so far, not on SSH nodes".into(),
    }
}

#[async_trait]
impl Nemesis for LocalNemesis {
    async fn setup(&mut self, _test: &TestInfo) -> PlugResult<()> {
        let backend = match self.cluster {
            Some(_) => detect_backend().await?,
            None => self.firewall.detect_remote().await?,
        };
        if backend == Backend::Iptables {
            tracing::info!("nft not found: partitions and packet loss use iptables");
        }
        self.firewall.set_backend(backend);
        self.firewall.heal_all().await?;
        Ok(())
    }

    async fn invoke(&mut self, test: &TestInfo, op: &Op) -> PlugResult<Op> {
        let f = op.f_name().to_string();
        let value = self.apply(test, &f, &op.value).await?;
        let mut done = op.complete(OpType::Info, value);
        let measured = match (self.clock.as_mut(), self.remote_clock.as_mut()) {
            (Some(c), _) => c.take_measured(),
            (None, Some(c)) => c.take_measured(),
            (None, None) => None,
        };
        if let Some(offsets) = measured {
            done.set_extra("clock-offsets", offsets_value(&offsets));
        }
        Ok(done)
    }

    async fn teardown(&mut self, _test: &TestInfo) -> PlugResult<()> {
        self.heal().await.map_err(Into::into)
    }

    fn fs(&self) -> Vec<String> {
        FS.iter().map(|s| s.to_string()).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loss_percents() {
        assert_eq!(loss_percent(&Value::Int(20)).unwrap(), 20);
        assert_eq!(loss_percent(&Value::Float(12.6)).unwrap(), 13);
        assert_eq!(loss_percent(&Value::str("35%")).unwrap(), 35);
        assert!(loss_percent(&Value::Int(101)).is_err());
        assert!(loss_percent(&Value::str("lots")).is_err());
    }

    #[test]
    fn explicit_components_and_maps() {
        let comps = Value::Vector(vec![
            Value::Vector(vec![Value::str("n1")]),
            Value::Vector(vec![Value::kw("n2"), Value::str("n3")]),
        ]);
        let g = explicit_grudge(&comps).unwrap();
        assert_eq!(g.of("n1").len(), 2);
        assert_eq!(g.of("n2").into_iter().collect::<Vec<_>>(), vec!["n1"]);
        let map = g.to_value();
        assert_eq!(explicit_grudge(&map).unwrap(), g);
        let e = explicit_grudge(&Value::Int(1)).unwrap_err();
        assert!(
            e.to_string().starts_with("bad value for start-partition"),
            "{e}"
        );
    }
}
