//! The seed's faults, beside rift's own: `kill-task-managers` (every TaskManager),
//! `kill-single-task-manager` (one, at random), `kill-random-task-managers` (a random
//! non-empty subset, each node with probability 1/2), `kill-job-manager` (every JobManager)
//! and `partition-start`/`partition-stop` (random halves of all nodes). The seed's process
//! kills are SIGKILLs of the process whose supervisor restarts it at once; here the kill goes
//! through the db (the process's pid, not the node's cgroup) without telling the watchdog,
//! which then restarts the process within its interval, as supervision does. Every other op
//! (`start-partition`, `kill`, `pause`, clock faults, ... of `--nemesis`) goes to rift's
//! nemesis, whose kills the watchdog leaves down until the nemesis starts them.

use async_trait::async_trait;
use rand::{Rng, SeedableRng};
use rift_core::{Db, Nemesis, PlugResult, RiftError, TestInfo};
use rift_history::{Op, OpType, Value};
use rift_nemesis::Roles;
use std::sync::Arc;

/// The seed's fault ops this nemesis applies itself.
pub const SEED_FS: &[&str] = &[
    "kill-task-managers",
    "kill-single-task-manager",
    "kill-random-task-managers",
    "kill-job-manager",
    "partition-start",
    "partition-stop",
    "fail-name-node-start",
    "fail-name-node-stop",
];

/// See the module documentation.
pub struct FlinkNemesis {
    /// rift's nemesis, for everything else (and the partitions).
    pub inner: Box<dyn Nemesis>,
    /// The cluster, for the seed's kills.
    pub db: Arc<dyn Db>,
    /// The roles (`taskmanager`, `jobmanager`).
    pub roles: Roles,
    rng: rand_chacha::ChaCha8Rng,
    /// The HDFS node and its db, for the NameNode faults, and the watchdog that must leave a
    /// stopped NameNode down.
    name_node: Option<NameNode>,
}

struct NameNode {
    node: String,
    db: Arc<crate::hdfs::HdfsDb>,
    watchdog: Option<Arc<rift_core::Watchdog>>,
}

impl FlinkNemesis {
    /// Around `inner`, with its own random choices from `seed`.
    pub fn new(inner: Box<dyn Nemesis>, db: Arc<dyn Db>, roles: Roles, seed: u64) -> FlinkNemesis {
        FlinkNemesis {
            inner,
            db,
            roles,
            rng: rand_chacha::ChaCha8Rng::seed_from_u64(seed ^ 0x0066_6c69_6e6b),
            name_node: None,
        }
    }

    /// With HDFS on `node`: `fail-name-node-start` stops its NameNode (the watchdog leaves it
    /// down) and `fail-name-node-stop` starts it again.
    pub fn with_name_node(
        mut self,
        node: String,
        db: Arc<crate::hdfs::HdfsDb>,
        watchdog: Option<Arc<rift_core::Watchdog>>,
    ) -> FlinkNemesis {
        self.name_node = Some(NameNode { node, db, watchdog });
        self
    }

    /// The nodes a seed kill targets.
    pub fn targets(&mut self, f: &str) -> Vec<String> {
        let of = |r: &str| self.roles.get(r).cloned().unwrap_or_default();
        match f {
            "kill-task-managers" => of(crate::suite::TASKMANAGER),
            "kill-job-manager" => of(crate::suite::JOBMANAGER),
            "kill-single-task-manager" => {
                let tms = of(crate::suite::TASKMANAGER);
                if tms.is_empty() {
                    return tms;
                }
                vec![tms[self.rng.random_range(0..tms.len())].clone()]
            }
            "kill-random-task-managers" => {
                let tms = of(crate::suite::TASKMANAGER);
                let mut pick: Vec<String> = tms
                    .iter()
                    .filter(|_| self.rng.random_bool(0.5))
                    .cloned()
                    .collect();
                if pick.is_empty() && !tms.is_empty() {
                    pick.push(tms[self.rng.random_range(0..tms.len())].clone());
                }
                pick
            }
            _ => Vec::new(),
        }
    }
}

#[async_trait]
impl Nemesis for FlinkNemesis {
    async fn setup(&mut self, test: &TestInfo) -> PlugResult<()> {
        self.inner.setup(test).await
    }

    async fn invoke(&mut self, test: &TestInfo, op: &Op) -> PlugResult<Op> {
        let f = op.f_name().to_string();
        match f.as_str() {
            "kill-task-managers"
            | "kill-single-task-manager"
            | "kill-random-task-managers"
            | "kill-job-manager" => {
                let nodes = self.targets(&f);
                let mut errors = Vec::new();
                for n in &nodes {
                    if let Err(e) = self.db.kill(test, n).await {
                        errors.push(format!("{n}: {e}"));
                    }
                }
                if !errors.is_empty() {
                    return Err(RiftError::new("nemesis", errors.join("; ")));
                }
                let v = Value::Vector(nodes.iter().map(|n| Value::str(n)).collect());
                Ok(op.complete(OpType::Info, v))
            }
            "partition-start" | "partition-stop" => {
                let (rf, v) = if f == "partition-start" {
                    ("start-partition", Value::kw("majority"))
                } else {
                    ("stop-partition", Value::Nil)
                };
                let mut inner_op = op.clone();
                inner_op.f = Value::kw(rf);
                inner_op.value = v;
                let done = self.inner.invoke(test, &inner_op).await?;
                Ok(op.complete(OpType::Info, done.value))
            }
            "fail-name-node-start" | "fail-name-node-stop" => {
                let Some(nn) = &self.name_node else {
                    return Err(RiftError::new(
                        "nemesis",
                        "this cluster runs no HDFS NameNode (give --hdfs)",
                    ));
                };
                if f == "fail-name-node-start" {
                    if let Some(w) = &nn.watchdog {
                        w.suppress(&nn.node);
                    }
                    nn.db.stop_name_node(test, &nn.node).await?;
                } else {
                    nn.db.start_name_node(test, &nn.node).await?;
                    if let Some(w) = &nn.watchdog {
                        w.release(&nn.node);
                    }
                }
                Ok(op.complete(OpType::Info, Value::Vector(vec![Value::str(&nn.node)])))
            }
            _ => self.inner.invoke(test, op).await,
        }
    }

    async fn teardown(&mut self, test: &TestInfo) -> PlugResult<()> {
        self.inner.teardown(test).await
    }

    fn fs(&self) -> Vec<String> {
        let mut v: Vec<String> = SEED_FS.iter().map(|s| s.to_string()).collect();
        v.extend(self.inner.fs());
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seed_kills_pick_their_targets_among_the_roles() {
        let mut roles = Roles::new();
        roles.insert(
            "taskmanager".into(),
            vec!["n6".into(), "n7".into(), "n8".into()],
        );
        roles.insert("jobmanager".into(), vec!["n4".into(), "n5".into()]);
        let mut n = FlinkNemesis::new(
            Box::new(rift_core::NoopNemesis),
            Arc::new(rift_core::NoopDb),
            roles,
            7,
        );
        assert_eq!(n.targets("kill-task-managers"), ["n6", "n7", "n8"]);
        assert_eq!(n.targets("kill-job-manager"), ["n4", "n5"]);
        for _ in 0..50 {
            let one = n.targets("kill-single-task-manager");
            assert_eq!(one.len(), 1);
            let some = n.targets("kill-random-task-managers");
            assert!(!some.is_empty() && some.len() <= 3);
            assert!(some
                .iter()
                .all(|x| ["n6", "n7", "n8"].contains(&x.as_str())));
        }
        assert!(n.targets("kill-everything").is_empty());
    }
}
