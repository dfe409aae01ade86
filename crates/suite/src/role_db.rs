//! A database made of one database per role (Jepsen's `jepsen.role/db`): each node belongs to
//! one role, and every call for a node goes to its role's database. Roles are set up in
//! tiers: a node of a later tier starts its setup only once every node of the earlier tiers
//! has finished its own (Bufstream needs etcd and its object store up before it starts), and
//! fails at once, naming the node, when one of them failed.

use async_trait::async_trait;
use rift_core::{Db, PlugResult, RiftError, TestInfo};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tokio::sync::watch;

/// One role: its name, its database, its nodes.
pub struct RolePart {
    /// The role's name (`coordination`, `storage`, `bufstream`, ...).
    pub role: String,
    /// The database that runs this role's nodes.
    pub db: Arc<dyn Db>,
    /// The role's nodes.
    pub nodes: Vec<String>,
    /// The setup tier: every node of a lower tier is set up before any node of this one.
    pub tier: u32,
}

/// How a node's setup ended: `None` while it runs, then `Ok` or the error's text.
type Done = Option<Result<(), String>>;

/// See the module documentation.
pub struct RoleDb {
    parts: Vec<RolePart>,
    /// Node -> index into `parts`.
    by_node: BTreeMap<String, usize>,
    setups: BTreeMap<String, (watch::Sender<Done>, watch::Receiver<Done>)>,
}

impl RoleDb {
    /// A database of `parts`; a node in two roles is an error.
    pub fn new(parts: Vec<RolePart>) -> Result<RoleDb, String> {
        let mut by_node = BTreeMap::new();
        let mut setups = BTreeMap::new();
        for (i, p) in parts.iter().enumerate() {
            for n in &p.nodes {
                if let Some(j) = by_node.insert(n.clone(), i) {
                    return Err(format!(
                        "node {n} is in two roles: {} and {}",
                        parts[j].role, p.role
                    ));
                }
                setups.insert(n.clone(), watch::channel(None));
            }
        }
        Ok(RoleDb {
            parts,
            by_node,
            setups,
        })
    }

    /// The role of `node`.
    pub fn role_of(&self, node: &str) -> Option<&str> {
        self.by_node.get(node).map(|&i| self.parts[i].role.as_str())
    }

    fn part(&self, node: &str) -> PlugResult<&RolePart> {
        self.by_node
            .get(node)
            .map(|&i| &self.parts[i])
            .ok_or_else(|| RiftError::new("config", format!("node {node} has no role")))
    }

    /// Waits for every node of the tiers below `tier`.
    async fn await_lower_tiers(&self, node: &str, tier: u32) -> PlugResult<()> {
        for p in self.parts.iter().filter(|p| p.tier < tier) {
            for n in &p.nodes {
                let mut rx = self.setups[n].1.clone();
                let done = rx
                    .wait_for(|d| d.is_some())
                    .await
                    .map(|d| d.clone())
                    .ok()
                    .flatten();
                if let Some(Err(e)) = done {
                    return Err(RiftError::new(
                        "setup",
                        format!(
                            "{node} not set up: it needs {} on {n}, whose setup failed: {e}",
                            p.role
                        ),
                    ));
                }
            }
        }
        Ok(())
    }
}

#[async_trait]
impl Db for RoleDb {
    async fn setup(&self, test: &TestInfo, node: &str) -> PlugResult<()> {
        let part = self.part(node)?;
        let res = match self.await_lower_tiers(node, part.tier).await {
            Ok(()) => part.db.setup(test, node).await,
            Err(e) => Err(e),
        };
        let done = res.as_ref().map(|_| ()).map_err(|e| e.to_string());
        let _ = self.setups[node].0.send(Some(done));
        res
    }

    async fn teardown(&self, test: &TestInfo, node: &str) -> PlugResult<()> {
        self.part(node)?.db.teardown(test, node).await
    }

    async fn kill(&self, test: &TestInfo, node: &str) -> PlugResult<()> {
        self.part(node)?.db.kill(test, node).await
    }

    async fn start(&self, test: &TestInfo, node: &str) -> PlugResult<()> {
        self.part(node)?.db.start(test, node).await
    }

    async fn is_running(&self, test: &TestInfo, node: &str) -> PlugResult<bool> {
        self.part(node)?.db.is_running(test, node).await
    }

    async fn pause(&self, test: &TestInfo, node: &str) -> PlugResult<()> {
        self.part(node)?.db.pause(test, node).await
    }

    async fn resume(&self, test: &TestInfo, node: &str) -> PlugResult<()> {
        self.part(node)?.db.resume(test, node).await
    }

    fn log_files(&self, test: &TestInfo, node: &str) -> Vec<PathBuf> {
        self.part(node)
            .map(|p| p.db.log_files(test, node))
            .unwrap_or_default()
    }

    async fn fetch_logs(&self, test: &TestInfo, node: &str, dest: &Path) -> Vec<String> {
        match self.part(node) {
            Ok(p) => p.db.fetch_logs(test, node, dest).await,
            Err(e) => vec![e.to_string()],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    /// Records the calls it gets; fails setup on `fail_on`.
    struct Log {
        name: &'static str,
        calls: Arc<Mutex<Vec<String>>>,
        fail_on: Option<&'static str>,
    }

    #[async_trait]
    impl Db for Log {
        async fn setup(&self, _t: &TestInfo, node: &str) -> PlugResult<()> {
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            self.calls
                .lock()
                .unwrap()
                .push(format!("{} setup {node}", self.name));
            if self.fail_on == Some(node) {
                return Err(RiftError::new("setup", format!("{node} broke")));
            }
            Ok(())
        }
        async fn teardown(&self, _t: &TestInfo, node: &str) -> PlugResult<()> {
            self.calls
                .lock()
                .unwrap()
                .push(format!("{} teardown {node}", self.name));
            Ok(())
        }
        async fn kill(&self, _t: &TestInfo, node: &str) -> PlugResult<()> {
            self.calls
                .lock()
                .unwrap()
                .push(format!("{} kill {node}", self.name));
            Ok(())
        }
    }

    fn db(fail_on: Option<&'static str>) -> (RoleDb, Arc<Mutex<Vec<String>>>) {
        let calls = Arc::new(Mutex::new(Vec::new()));
        let part = |name: &'static str, nodes: &[&str], tier, fail_on| RolePart {
            role: name.to_string(),
            db: Arc::new(Log {
                name,
                calls: calls.clone(),
                fail_on,
            }),
            nodes: nodes.iter().map(|s| s.to_string()).collect(),
            tier,
        };
        let d = RoleDb::new(vec![
            part("coordination", &["n1"], 0, fail_on),
            part("storage", &["n2"], 0, fail_on),
            part("bufstream", &["n3", "n4"], 1, None),
        ])
        .unwrap();
        (d, calls)
    }

    fn info() -> TestInfo {
        TestInfo {
            name: "t".into(),
            nodes: vec![],
            concurrency: 1,
            seed: 0,
            store_dir: PathBuf::new(),
        }
    }

    #[tokio::test]
    async fn later_tiers_wait_and_calls_go_to_the_nodes_role() {
        let (d, calls) = db(None);
        let d = Arc::new(d);
        let mut tasks = Vec::new();
        // The bufstream nodes are set up first in time, yet wait for the lower tier.
        for n in ["n3", "n4", "n1", "n2"] {
            let d = d.clone();
            tasks.push(tokio::spawn(async move { d.setup(&info(), n).await }));
        }
        for t in tasks {
            t.await.unwrap().unwrap();
        }
        let c = calls.lock().unwrap().clone();
        let pos = |s: &str| c.iter().position(|x| x == s).unwrap();
        assert!(
            pos("bufstream setup n3") > pos("coordination setup n1"),
            "{c:?}"
        );
        assert!(pos("bufstream setup n4") > pos("storage setup n2"), "{c:?}");
        d.kill(&info(), "n2").await.unwrap();
        assert_eq!(calls.lock().unwrap().last().unwrap(), "storage kill n2");
        assert_eq!(d.role_of("n4"), Some("bufstream"));
        let e = d.kill(&info(), "n9").await.unwrap_err().to_string();
        assert!(e.contains("node n9 has no role"), "{e}");
    }

    #[tokio::test]
    async fn a_failed_lower_tier_fails_the_later_ones_naming_it() {
        let (d, calls) = db(Some("n2"));
        let d = Arc::new(d);
        let t = info();
        let (a, b, c) = tokio::join!(d.setup(&t, "n3"), d.setup(&t, "n2"), d.setup(&t, "n1"));
        assert!(b.is_err() && c.is_ok());
        let e = a.unwrap_err().to_string();
        assert!(
            e.contains("n3 not set up: it needs storage on n2, whose setup failed"),
            "{e}"
        );
        assert!(!calls
            .lock()
            .unwrap()
            .iter()
            .any(|x| x.starts_with("bufstream setup")));
    }

    #[test]
    fn a_node_in_two_roles_is_refused() {
        let calls = Arc::new(Mutex::new(Vec::new()));
        let mk = |role: &str| RolePart {
            role: role.into(),
            db: Arc::new(Log {
                name: "x",
                calls: calls.clone(),
                fail_on: None,
            }),
            nodes: vec!["n1".into()],
            tier: 0,
        };
        let e = RoleDb::new(vec![mk("a"), mk("b")]).err().unwrap();
        assert_eq!(e, "node n1 is in two roles: a and b");
    }
}
