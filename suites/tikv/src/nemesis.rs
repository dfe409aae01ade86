//! [`TikvNemesis`]: the seed's fault ops on a TiKV cluster, with rift's nemesis inside for
//! partitions and every other fault.
//!
//! - **Processes** (`kill-pd`, `start-pd`, `kill-kv`, `start-kv`, `pause-pd`, `resume-pd`,
//!   `pause-kv`, `resume-kv`): [`TikvControl::process`] on each target node, all targets at
//!   once. Targets are the op's value: a node list, a node spec name (`one`, `majority`,
//!   `all`..., and `primaries` for the PD leader's node), or `nil` for the seed's defaults: a
//!   random non-empty subset for kills and pauses (drawn here, ChaCha8 from the run's seed),
//!   every node for starts and resumes. The completion maps each target to what happened
//!   (`{"n1" :killed, "n3" "error: ..."}`); when some node failed, its `error` says which and
//!   why, and the others are still hit (a nemesis `Err` would become an `info` that loses
//!   which nodes were reached).
//! - **Schedulers** (`shuffle-leader`, `shuffle-region`, `random-merge` and their `del-*`):
//!   [`TikvControl::scheduler`] adds or removes `shuffle-leader-scheduler`,
//!   `shuffle-region-scheduler` or `random-merge-scheduler`; the completion's value is PD's
//!   answer, or `nil` and an `error` (the seed only logs failures).
//! - **Partitions**: `start-partition` with a seed kind (`single-node`, `pd-leader`, `half`,
//!   `ring`) computes the grudge as the seed does ([`partition_grudge`]; `pd-leader` asks
//!   [`TikvControl::pd_leader`]) and hands it to the inner nemesis as an **explicit grudge
//!   map** (rift's `start-partition` takes one), so the history records exactly who was cut
//!   from whom; the completion carries `partition-type` (and `pd-leader`). Any other
//!   `start-partition` value (rift's `role:pd:one`...), `stop-partition` and every other op
//!   go to the inner nemesis unchanged.
//! - **Teardown** heals the inner nemesis first (it heals the network and thaws paused
//!   cgroups, without which our resumes, starts and PD calls could hang), then resumes every
//!   process this nemesis paused, starts every process it killed, and removes every
//!   scheduler it added. Every failure is reported, none stops the rest.

use crate::gen::{PartitionKind, SCHEDULERS};
use crate::{Action, Proc, TikvControl};
use async_trait::async_trait;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rift_core::{Nemesis, PlugResult, RiftError, TestInfo};
use rift_history::{Op, OpType, Value};
use rift_nemesis::{Grudge, NodeSpec};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

/// The seed's fault ops this nemesis applies itself (`start-partition` and
/// `stop-partition` are shared with rift's nemesis, which applies the grudges).
pub const SEED_FS: [&str; 16] = [
    "kill-pd",
    "start-pd",
    "kill-kv",
    "start-kv",
    "pause-pd",
    "resume-pd",
    "pause-kv",
    "resume-kv",
    "shuffle-leader",
    "del-shuffle-leader",
    "shuffle-region",
    "del-shuffle-region",
    "random-merge",
    "del-random-merge",
    "start-partition",
    "stop-partition",
];

/// The action and process of a process op (`kill-pd` is kill of PD), if `f` is one.
pub fn process_op(f: &str) -> Option<(Action, Proc)> {
    let (action, proc) = f.split_once('-')?;
    let action = match action {
        "kill" => Action::Kill,
        "start" => Action::Start,
        "pause" => Action::Pause,
        "resume" => Action::Resume,
        _ => return None,
    };
    let proc = match proc {
        "pd" => Proc::Pd,
        "kv" => Proc::Kv,
        _ => return None,
    };
    Some((action, proc))
}

/// PD's scheduler name of a scheduler op and whether it adds it (`shuffle-leader`) or removes
/// it (`del-shuffle-leader`), if `f` is one.
pub fn scheduler_op(f: &str) -> Option<(&'static str, bool)> {
    SCHEDULERS.iter().find_map(|(add, del, name)| {
        if f == *add {
            Some((*name, true))
        } else if f == *del {
            Some((*name, false))
        } else {
            None
        }
    })
}

/// The seed's grudge of a partition kind over `nodes`: `single-node` isolates one random
/// node, `pd-leader` isolates `leader` (which must be one of `nodes`), `half` cuts the
/// shuffled nodes into `n / 2` and the rest (Jepsen's `bisect`, as rift's `majority`),
/// `ring` is Jepsen's `majorities-ring`.
pub fn partition_grudge<R: rand::Rng>(
    kind: PartitionKind,
    nodes: &[String],
    leader: Option<&str>,
    rng: &mut R,
) -> Result<Grudge, String> {
    Ok(match kind {
        PartitionKind::SingleNode => Grudge::one(nodes, rng),
        PartitionKind::Half => Grudge::majority(nodes, rng),
        PartitionKind::Ring => Grudge::majorities_ring(nodes, rng),
        PartitionKind::PdLeader => {
            let leader = leader.ok_or("no PD leader given")?;
            if !nodes.iter().any(|n| n == leader) {
                return Err(format!("the PD leader {leader:?} is none of the nodes"));
            }
            let rest: Vec<String> = nodes.iter().filter(|n| *n != leader).cloned().collect();
            Grudge::complete(&[vec![leader.to_string()], rest])
        }
    })
}

/// See the module documentation.
pub struct TikvNemesis {
    /// rift's nemesis: the grudges of partitions, and every op that is not the seed's.
    pub inner: Box<dyn Nemesis>,
    /// The cluster's processes, PD leader and schedulers.
    pub ctl: Arc<dyn TikvControl>,
    nodes: Vec<String>,
    rng: ChaCha8Rng,
    /// Processes this nemesis killed and has not started since.
    killed: BTreeSet<(String, Proc)>,
    /// Processes this nemesis paused and has not resumed since.
    paused: BTreeSet<(String, Proc)>,
    /// Schedulers this nemesis tried to add and has not removed since: `true` when PD said
    /// yes, `false` when the add failed (it may still have happened).
    schedulers: BTreeMap<&'static str, bool>,
}

impl TikvNemesis {
    /// Around `inner`, on `nodes`, with its own random choices from `seed` (the run's).
    pub fn new(
        inner: Box<dyn Nemesis>,
        ctl: Arc<dyn TikvControl>,
        nodes: Vec<String>,
        seed: u64,
    ) -> TikvNemesis {
        TikvNemesis {
            inner,
            ctl,
            nodes,
            rng: ChaCha8Rng::seed_from_u64(seed ^ 0x0074_696b_765f_6e65),
            killed: BTreeSet::new(),
            paused: BTreeSet::new(),
            schedulers: BTreeMap::new(),
        }
    }

    /// The nodes a process op with `value` targets (see the module documentation).
    pub async fn targets(&mut self, action: Action, value: &Value) -> Result<Vec<String>, String> {
        let spec = match (value.is_nil(), action) {
            (true, Action::Start | Action::Resume) => NodeSpec::All,
            _ => NodeSpec::from_value("process fault", value).map_err(|e| e.to_string())?,
        };
        let primaries = if spec.needs_primaries() {
            vec![self.ctl.pd_leader().await.map_err(|e| e.to_string())?]
        } else {
            Vec::new()
        };
        spec.resolve(&self.nodes, &primaries, &mut self.rng)
            .map_err(|e| e.to_string())
    }

    async fn process(&mut self, op: &Op, action: Action, proc: Proc) -> Op {
        let targets = match self.targets(action, &op.value).await {
            Ok(t) => t,
            Err(e) => {
                return op
                    .complete(OpType::Info, Value::Nil)
                    .with_error(Value::str(&e))
            }
        };
        let results = on_nodes(&self.ctl, &targets, proc, action).await;
        let mut value = Vec::new();
        let mut errors = Vec::new();
        for (node, r) in results {
            let key = (node.clone(), proc);
            match action {
                // A failed kill or pause may still have happened: heal it at teardown.
                Action::Kill => {
                    self.paused.remove(&key);
                    self.killed.insert(key);
                }
                Action::Pause => {
                    self.paused.insert(key);
                }
                Action::Start if r.is_ok() => {
                    self.killed.remove(&key);
                }
                Action::Resume if r.is_ok() => {
                    self.paused.remove(&key);
                }
                _ => {}
            }
            match r {
                Ok(()) => value.push((Value::str(&node), Value::kw(past(action)))),
                Err(e) => {
                    value.push((Value::str(&node), Value::str(&format!("error: {e}"))));
                    errors.push(format!("{node}: {e}"));
                }
            }
        }
        let done = op.complete(OpType::Info, Value::Map(value));
        match errors.is_empty() {
            true => done,
            false => done.with_error(Value::str(&errors.join("; "))),
        }
    }

    async fn scheduler(&mut self, op: &Op, name: &'static str, add: bool) -> Op {
        let r = self.ctl.scheduler(name, add).await;
        if add {
            self.schedulers.insert(name, r.is_ok());
        } else if r.is_ok() {
            self.schedulers.remove(name);
        }
        match r {
            Ok(answer) => op.complete(OpType::Info, Value::str(&answer)),
            Err(e) => op
                .complete(OpType::Info, Value::Nil)
                .with_error(Value::str(&e.to_string())),
        }
    }

    async fn partition(&mut self, test: &TestInfo, op: &Op, kind: PartitionKind) -> Op {
        let leader = match kind {
            PartitionKind::PdLeader => match self.ctl.pd_leader().await {
                Ok(l) => Some(l),
                Err(e) => {
                    let e = format!("no PD leader: {e}");
                    return op
                        .complete(OpType::Info, Value::Nil)
                        .with_error(Value::str(&e));
                }
            },
            _ => None,
        };
        let grudge = match partition_grudge(kind, &self.nodes, leader.as_deref(), &mut self.rng) {
            Ok(g) => g,
            Err(e) => {
                return op
                    .complete(OpType::Info, Value::Nil)
                    .with_error(Value::str(&e))
            }
        };
        let mut inner_op = op.clone();
        inner_op.value = grudge.to_value();
        let mut done = match self.inner.invoke(test, &inner_op).await {
            Ok(done) => done,
            Err(e) => op
                .complete(OpType::Info, grudge.to_value())
                .with_error(Value::str(&e.to_string())),
        };
        done.set_extra("partition-type", Value::kw(kind.name()));
        if let Some(l) = leader {
            done.set_extra("pd-leader", Value::str(&l));
        }
        done
    }

    /// Resumes, starts and removes what this nemesis left faulted; the failures.
    async fn heal(&mut self) -> Vec<String> {
        let mut failures = Vec::new();
        let steps = [
            (std::mem::take(&mut self.paused), Action::Resume),
            (std::mem::take(&mut self.killed), Action::Start),
        ];
        for (procs, action) in steps {
            for proc in [Proc::Pd, Proc::Kv] {
                let nodes: Vec<String> = procs
                    .iter()
                    .filter(|(_, p)| *p == proc)
                    .map(|(n, _)| n.clone())
                    .collect();
                for (node, r) in on_nodes(&self.ctl, &nodes, proc, action).await {
                    if let Err(e) = r {
                        let what = format!("{}-{}", action.name(), proc.name());
                        failures.push(format!("{what} on {node}: {e}"));
                    }
                }
            }
        }
        for (name, confirmed) in std::mem::take(&mut self.schedulers) {
            match self.ctl.scheduler(name, false).await {
                Ok(_) => {}
                Err(e) if confirmed => failures.push(format!("remove {name}: {e}")),
                // Its add failed: most likely there is nothing to remove.
                Err(e) => tracing::warn!("remove {name} (whose add had failed): {e}"),
            }
        }
        failures
    }
}

/// Applies `action` to `proc` on every node of `targets` at once; the per-node outcomes, in
/// the order of `targets`.
async fn on_nodes(
    ctl: &Arc<dyn TikvControl>,
    targets: &[String],
    proc: Proc,
    action: Action,
) -> Vec<(String, Result<(), String>)> {
    let mut set = tokio::task::JoinSet::new();
    for (i, node) in targets.iter().enumerate() {
        let (ctl, node) = (ctl.clone(), node.clone());
        set.spawn(async move {
            let r = ctl.process(&node, proc, action).await;
            (i, node, r.map_err(|e| e.to_string()))
        });
    }
    let mut out = Vec::new();
    while let Some(joined) = set.join_next().await {
        match joined {
            Ok(done) => out.push(done),
            Err(e) => out.push((usize::MAX, "?".into(), Err(format!("task: {e}")))),
        }
    }
    out.sort_by_key(|(i, ..)| *i);
    out.into_iter().map(|(_, n, r)| (n, r)).collect()
}

fn past(action: Action) -> &'static str {
    match action {
        Action::Kill => "killed",
        Action::Start => "started",
        Action::Pause => "paused",
        Action::Resume => "resumed",
    }
}

#[async_trait]
impl Nemesis for TikvNemesis {
    async fn setup(&mut self, test: &TestInfo) -> PlugResult<()> {
        self.inner.setup(test).await
    }

    async fn invoke(&mut self, test: &TestInfo, op: &Op) -> PlugResult<Op> {
        let f = op.f_name().to_string();
        if let Some((action, proc)) = process_op(&f) {
            return Ok(self.process(op, action, proc).await);
        }
        if let Some((name, add)) = scheduler_op(&f) {
            return Ok(self.scheduler(op, name, add).await);
        }
        let kind = op.value.as_name().and_then(PartitionKind::from_name);
        match kind {
            Some(kind) if f == "start-partition" => Ok(self.partition(test, op, kind).await),
            _ => self.inner.invoke(test, op).await,
        }
    }

    async fn teardown(&mut self, test: &TestInfo) -> PlugResult<()> {
        let mut failures = Vec::new();
        if let Err(e) = self.inner.teardown(test).await {
            failures.push(e.to_string());
        }
        failures.extend(self.heal().await);
        match failures.is_empty() {
            true => Ok(()),
            false => Err(RiftError::new("nemesis-teardown", failures.join("; "))),
        }
    }

    fn fs(&self) -> Vec<String> {
        let mut out: Vec<String> = SEED_FS.iter().map(|s| s.to_string()).collect();
        for f in self.inner.fs() {
            if !out.contains(&f) {
                out.push(f);
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use std::sync::Mutex;

    type Log = Arc<Mutex<Vec<String>>>;

    /// Records every call, in one log shared with [`Inner`]; fails on `fail_on`'s node.
    struct Ctl {
        log: Log,
        leader: String,
        fail_on: Option<String>,
    }

    #[async_trait]
    impl TikvControl for Ctl {
        async fn process(&self, node: &str, proc: Proc, action: Action) -> PlugResult<()> {
            let call = format!("{}-{} {node}", action.name(), proc.name());
            self.log.lock().unwrap().push(call);
            match self.fail_on.as_deref() == Some(node) {
                true => Err(RiftError::new("ssh", "connection reset")),
                false => Ok(()),
            }
        }
        async fn pd_leader(&self) -> PlugResult<String> {
            Ok(self.leader.clone())
        }
        async fn scheduler(&self, name: &str, add: bool) -> PlugResult<String> {
            let verb = if add { "add" } else { "remove" };
            self.log.lock().unwrap().push(format!("{verb} {name}"));
            Ok("The scheduler is created.".into())
        }
    }

    /// rift's nemesis, recorded: the ops it got, then completes them with their value.
    struct Inner {
        log: Log,
        ops: Arc<Mutex<Vec<Op>>>,
    }

    #[async_trait]
    impl Nemesis for Inner {
        async fn invoke(&mut self, _test: &TestInfo, op: &Op) -> PlugResult<Op> {
            self.ops.lock().unwrap().push(op.clone());
            let v = Value::Vector(vec![Value::kw("isolated"), op.value.clone()]);
            Ok(op.complete(OpType::Info, v))
        }
        async fn teardown(&mut self, _test: &TestInfo) -> PlugResult<()> {
            self.log.lock().unwrap().push("inner teardown".into());
            Ok(())
        }
        fn fs(&self) -> Vec<String> {
            vec!["start-partition".into(), "bump-clock".into()]
        }
    }

    fn nodes() -> Vec<String> {
        (1..=5).map(|i| format!("n{i}")).collect()
    }

    fn test_info() -> TestInfo {
        TestInfo {
            name: "tikv".into(),
            nodes: nodes(),
            concurrency: 5,
            seed: 3,
            store_dir: std::env::temp_dir(),
        }
    }

    struct Rig {
        nem: TikvNemesis,
        log: Log,
        inner_ops: Arc<Mutex<Vec<Op>>>,
    }

    fn rig(fail_on: Option<&str>) -> Rig {
        let log: Log = Arc::default();
        let inner_ops: Arc<Mutex<Vec<Op>>> = Arc::default();
        let ctl = Ctl {
            log: log.clone(),
            leader: "n3".into(),
            fail_on: fail_on.map(str::to_string),
        };
        let inner = Inner {
            log: log.clone(),
            ops: inner_ops.clone(),
        };
        let nem = TikvNemesis::new(Box::new(inner), Arc::new(ctl), nodes(), 42);
        Rig {
            nem,
            log,
            inner_ops,
        }
    }

    fn nemesis_op(f: &str, value: Value) -> Op {
        let mut op = Op::invoke(0, f, value);
        op.process = rift_history::Process::Nemesis;
        op
    }

    fn names(v: &[&str]) -> Value {
        Value::Vector(v.iter().map(|n| Value::str(n)).collect())
    }

    impl Rig {
        async fn run(&mut self, f: &str, value: Value) -> Op {
            self.nem
                .invoke(&test_info(), &nemesis_op(f, value))
                .await
                .unwrap()
        }
        fn take_log(&self) -> Vec<String> {
            std::mem::take(&mut *self.log.lock().unwrap())
        }
    }

    fn hit(done: &Op) -> Vec<String> {
        let m = done.value.as_map().unwrap();
        m.iter()
            .map(|(k, _)| k.as_name().unwrap().to_string())
            .collect()
    }

    #[tokio::test]
    async fn kills_hit_a_random_non_empty_subset_and_starts_hit_every_node() {
        let mut r = rig(None);
        let mut sizes = BTreeSet::new();
        for _ in 0..40 {
            let done = r.run("kill-pd", Value::Nil).await;
            let log = r.take_log();
            assert!(!log.is_empty() && log.len() <= 5, "{log:?}");
            assert!(log.iter().all(|c| c.starts_with("kill-pd n")), "{log:?}");
            let want: Vec<String> = log.iter().map(|c| c[8..].to_string()).collect();
            assert_eq!(hit(&done), want);
            assert!(done
                .value
                .as_map()
                .unwrap()
                .iter()
                .all(|(_, v)| v.is_name("killed")));
            assert!(done.error.is_none() && done.ty == OpType::Info);
            sizes.insert(log.len());
        }
        assert!(sizes.len() >= 3, "{sizes:?}");
        let done = r.run("start-pd", Value::Nil).await;
        assert_eq!(hit(&done), nodes());
        let mut log = r.take_log();
        log.sort();
        assert_eq!(
            log,
            nodes()
                .iter()
                .map(|n| format!("start-pd {n}"))
                .collect::<Vec<_>>()
        );
        r.run("resume-kv", Value::Nil).await;
        assert_eq!(r.take_log().len(), 5);
        r.run("pause-kv", Value::Nil).await;
        assert!(r.take_log().iter().all(|c| c.starts_with("pause-kv")));
    }

    #[tokio::test]
    async fn targets_come_from_the_ops_value() {
        let mut r = rig(None);
        let done = r.run("kill-kv", names(&["n4", "n2"])).await;
        assert_eq!(hit(&done), ["n2", "n4"]);
        assert_eq!(r.take_log(), ["kill-kv n2", "kill-kv n4"]);
        // `primaries` is the PD leader's node; `all` every node.
        let done = r.run("pause-pd", Value::kw("primaries")).await;
        assert_eq!(hit(&done), ["n3"]);
        r.take_log();
        assert_eq!(hit(&r.run("kill-kv", Value::kw("all")).await).len(), 5);
        r.take_log();
        // A node that is not the cluster's: nothing is done, the error says why.
        let done = r.run("kill-pd", names(&["n9"])).await;
        assert!(done.error.unwrap().as_name().unwrap().contains("n9"));
        assert!(r.take_log().is_empty());
    }

    #[tokio::test]
    async fn a_failing_node_is_recorded_and_the_others_still_hit() {
        let mut r = rig(Some("n3"));
        let done = r.run("kill-kv", Value::kw("all")).await;
        assert_eq!(r.take_log().len(), 5);
        assert_eq!(hit(&done), nodes());
        let v = done.value.get("n3").unwrap().as_name().unwrap().to_string();
        assert!(v.contains("connection reset"), "{v}");
        assert!(done.value.get("n2").unwrap().is_name("killed"));
        let e = done.error.unwrap();
        assert!(e.as_name().unwrap().starts_with("n3: "), "{e:?}");
    }

    #[tokio::test]
    async fn scheduler_ops_add_and_remove_pds_schedulers() {
        let mut r = rig(None);
        for f in [
            "shuffle-leader",
            "del-shuffle-leader",
            "shuffle-region",
            "del-shuffle-region",
            "random-merge",
            "del-random-merge",
        ] {
            let done = r.run(f, Value::Nil).await;
            assert!(done.value.as_name().unwrap().contains("created"));
        }
        assert_eq!(
            r.take_log(),
            [
                "add shuffle-leader-scheduler",
                "remove shuffle-leader-scheduler",
                "add shuffle-region-scheduler",
                "remove shuffle-region-scheduler",
                "add random-merge-scheduler",
                "remove random-merge-scheduler",
            ]
        );
        assert_eq!(process_op("kill-tidb"), None);
        assert_eq!(scheduler_op("del-balance-leader"), None);
    }

    #[tokio::test]
    async fn the_pd_leader_partition_isolates_the_leaders_node() {
        let mut r = rig(None);
        let done = r.run("start-partition", Value::kw("pd-leader")).await;
        let sent = r.inner_ops.lock().unwrap().pop().unwrap();
        assert_eq!(sent.f_name(), "start-partition");
        let g = Grudge::from_value(&sent.value).unwrap();
        let others: BTreeSet<String> = nodes().into_iter().filter(|n| n != "n3").collect();
        assert_eq!(g.of("n3"), others);
        for n in &others {
            assert_eq!(g.of(n), ["n3".to_string()].into(), "{n}");
        }
        assert_eq!(
            done.get_extra("partition-type"),
            Some(&Value::kw("pd-leader"))
        );
        assert_eq!(done.get_extra("pd-leader"), Some(&Value::str("n3")));
        assert_eq!(done.value.as_seq().unwrap()[1], sent.value);
    }

    #[tokio::test]
    async fn the_other_partitions_are_the_seeds_grudges() {
        let mut rng = ChaCha8Rng::seed_from_u64(5);
        let sizes = |g: &Grudge| {
            let mut v: Vec<usize> = nodes().iter().map(|n| g.of(n).len()).collect();
            v.sort();
            v
        };
        for _ in 0..10 {
            let one = partition_grudge(PartitionKind::SingleNode, &nodes(), None, &mut rng);
            assert_eq!(sizes(&one.unwrap()), [1, 1, 1, 1, 4]);
            let half = partition_grudge(PartitionKind::Half, &nodes(), None, &mut rng);
            assert_eq!(sizes(&half.unwrap()), [2, 2, 2, 3, 3]);
            let ring = partition_grudge(PartitionKind::Ring, &nodes(), None, &mut rng);
            assert_eq!(sizes(&ring.unwrap()), [2, 2, 2, 2, 2]);
        }
        assert!(partition_grudge(PartitionKind::PdLeader, &nodes(), Some("n7"), &mut rng).is_err());
        // Through the nemesis: an explicit grudge reaches rift's nemesis.
        let mut r = rig(None);
        let done = r.run("start-partition", Value::kw("half")).await;
        let sent = r.inner_ops.lock().unwrap().pop().unwrap();
        assert_eq!(
            sizes(&Grudge::from_value(&sent.value).unwrap()),
            [2, 2, 2, 3, 3]
        );
        assert_eq!(done.get_extra("partition-type"), Some(&Value::kw("half")));
        assert_eq!(done.get_extra("pd-leader"), None);
    }

    #[tokio::test]
    async fn other_ops_go_to_rifts_nemesis_unchanged() {
        let mut r = rig(None);
        for (f, v) in [
            ("start-partition", Value::kw("one")),
            ("stop-partition", Value::Nil),
            (
                "bump-clock",
                Value::Map(vec![(Value::str("n1"), Value::Int(500))]),
            ),
        ] {
            r.run(f, v.clone()).await;
            let sent = r.inner_ops.lock().unwrap().pop().unwrap();
            assert_eq!((sent.f_name(), &sent.value), (f, &v));
        }
        assert!(r.take_log().is_empty());
        let fs = r.nem.fs();
        assert!(fs.contains(&"kill-pd".to_string()) && fs.contains(&"bump-clock".to_string()));
        assert_eq!(fs.iter().filter(|f| *f == "start-partition").count(), 1);
    }

    #[tokio::test]
    async fn teardown_heals_what_was_done_after_rifts_nemesis() {
        let mut r = rig(None);
        r.run("kill-pd", names(&["n1", "n2"])).await;
        r.run("pause-kv", names(&["n3"])).await;
        r.run("start-pd", names(&["n1"])).await;
        r.run("shuffle-leader", Value::Nil).await;
        r.run("random-merge", Value::Nil).await;
        r.run("del-random-merge", Value::Nil).await;
        r.run("pause-pd", names(&["n4"])).await;
        r.run("kill-pd", names(&["n4"])).await;
        r.take_log();
        r.nem.teardown(&test_info()).await.unwrap();
        assert_eq!(
            r.take_log(),
            [
                "inner teardown",
                "resume-kv n3",
                "start-pd n2",
                "start-pd n4",
                "remove shuffle-leader-scheduler",
            ]
        );
        r.nem.teardown(&test_info()).await.unwrap();
        assert_eq!(r.take_log(), ["inner teardown"]);
    }

    #[tokio::test]
    async fn teardown_reports_every_failure_and_goes_on() {
        let mut r = rig(Some("n2"));
        r.run("kill-kv", names(&["n1", "n2", "n3"])).await;
        r.take_log();
        let e = r.nem.teardown(&test_info()).await.unwrap_err();
        assert!(e.message.contains("start-kv on n2"), "{e}");
        assert_eq!(r.take_log().len(), 4);
    }
}
