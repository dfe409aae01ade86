//! Clock faults on real machines over SSH ([`RemoteClock`]), under the same op names as
//! [`crate::LocalClock`]: the nodes' real clocks are stepped by a small helper of ours compiled
//! on each node (`rift-clock`, see [`rift_control::clock::CLOCK_HELPER_C`]) and stepped back
//! with `ntpdate -b` (or `chronyc makestep`). As in Jepsen, a time daemon running on the nodes
//! fights the faults: stop ntpd/chronyd there for the test.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use rift_control::clock::{
    bump_cmd, install_clock_helper, now_cmd, remote_offset, reset_clock_cmd, strobe_cmd,
    CLOCK_HELPER_BIN, CLOCK_HELPER_DIR, DEFAULT_NTP_SERVER,
};
use rift_control::{shell_quote, Cmd, Remote};
use rift_history::Value;
use tokio::task::JoinHandle;

use crate::clock::{check_nodes, many, parse_bumps, parse_strobes, reset_targets};
use crate::error::NemesisError;

/// The clocks of SSH nodes. A strobe runs on the node for its duration (the op returns at
/// once); resetting, healing or dropping stops it there too.
pub struct RemoteClock {
    remote: Arc<dyn Remote>,
    nodes: Vec<String>,
    dir: String,
    ntp_server: String,
    installed: BTreeSet<String>,
    skewed: BTreeSet<String>,
    strobes: BTreeMap<String, JoinHandle<()>>,
    measured: Option<BTreeMap<String, f64>>,
}

fn ctl(node: &str, e: rift_control::ControlError) -> NemesisError {
    NemesisError::Many(vec![format!("{node}: {e}")])
}

impl RemoteClock {
    /// The clocks of `nodes` behind `remote`; the helper goes to `/opt/rift`, resets step from
    /// `pool.ntp.org`.
    pub fn new(remote: Arc<dyn Remote>, nodes: Vec<String>) -> RemoteClock {
        RemoteClock {
            remote,
            nodes,
            dir: CLOCK_HELPER_DIR.to_string(),
            ntp_server: DEFAULT_NTP_SERVER.to_string(),
            installed: BTreeSet::new(),
            skewed: BTreeSet::new(),
            strobes: BTreeMap::new(),
            measured: None,
        }
    }

    /// Steps clocks back from `server` instead.
    pub fn with_ntp_server(mut self, server: impl Into<String>) -> RemoteClock {
        self.ntp_server = server.into();
        self
    }

    /// The offsets measured after the last op, once.
    pub fn take_measured(&mut self) -> Option<BTreeMap<String, f64>> {
        self.measured.take()
    }

    /// Applies `reset-clock`, `bump-clock`, `strobe-clock` or `check-clock-offsets`, then
    /// measures every node's offset from this machine.
    pub async fn apply(&mut self, f: &str, value: &Value) -> Result<Value, NemesisError> {
        self.measured = None;
        let done = match f {
            "reset-clock" => {
                let nodes = reset_targets(&self.nodes, value)?;
                self.reset(&nodes).await?;
                Value::Vector(nodes.iter().map(|n| Value::str(n)).collect())
            }
            "bump-clock" => {
                let deltas = parse_bumps(value)?;
                check_nodes(&self.nodes, deltas.iter().map(|(n, _)| n))?;
                for (node, delta_ms) in &deltas {
                    self.install(node).await?;
                    self.skewed.insert(node.clone());
                    let cmd = bump_cmd(&self.dir, *delta_ms);
                    self.remote
                        .exec(node, &cmd)
                        .await
                        .map_err(|e| ctl(node, e))?;
                }
                value.clone()
            }
            "strobe-clock" => {
                let strobes = parse_strobes(value)?;
                check_nodes(&self.nodes, strobes.iter().map(|(n, _)| n))?;
                for (node, s) in &strobes {
                    self.install(node).await?;
                    self.stop_strobe(node).await;
                    self.skewed.insert(node.clone());
                    let cmd = strobe_cmd(&self.dir, s.delta_ms, s.period_ms, s.duration_ms);
                    let (remote, n) = (self.remote.clone(), node.clone());
                    let task = tokio::spawn(async move {
                        if let Err(e) = remote.exec(&n, &cmd).await {
                            tracing::warn!(node = n, "strobe-clock: {e}");
                        }
                    });
                    self.strobes.insert(node.clone(), task);
                }
                value.clone()
            }
            "check-clock-offsets" => value.clone(),
            other => return Err(NemesisError::UnknownOp(other.to_string())),
        };
        self.measured = Some(self.measure().await?);
        Ok(done)
    }

    /// Compiles the helper on `node` once.
    async fn install(&mut self, node: &str) -> Result<(), NemesisError> {
        if self.installed.contains(node) {
            return Ok(());
        }
        install_clock_helper(&*self.remote, node, &self.dir)
            .await
            .map_err(|e| ctl(node, e))?;
        self.installed.insert(node.to_string());
        Ok(())
    }

    /// Every node's offset from this machine, in seconds.
    pub async fn measure(&mut self) -> Result<BTreeMap<String, f64>, NemesisError> {
        let mut out = BTreeMap::new();
        for node in self.nodes.clone() {
            self.install(&node).await?;
            let secs = remote_offset(&*self.remote, &node, &now_cmd(&self.dir))
                .await
                .map_err(|e| ctl(&node, e))?;
            out.insert(node, secs);
        }
        Ok(out)
    }

    /// Stops `node`'s strobe: the local task, and the helper still flipping on the node.
    async fn stop_strobe(&mut self, node: &str) {
        if let Some(task) = self.strobes.remove(node) {
            task.abort();
            let bin = shell_quote(&format!("{}/{CLOCK_HELPER_BIN} strobe", self.dir));
            let kill = Cmd::shell(format!("pkill -f {bin} || true"));
            if let Err(e) = self.remote.exec(node, &kill).await {
                tracing::warn!(node, "stopping a strobe: {e}");
            }
        }
    }

    /// Stops strobes on `nodes` and steps their clocks back to true time.
    pub async fn reset(&mut self, nodes: &[String]) -> Result<(), NemesisError> {
        let mut failures = Vec::new();
        for node in nodes {
            self.stop_strobe(node).await;
            let cmd = reset_clock_cmd(&self.ntp_server);
            match self.remote.exec(node, &cmd).await {
                Ok(_) => {
                    self.skewed.remove(node);
                }
                Err(e) => failures.push(format!("reset-clock {node}: {e}")),
            }
        }
        many(failures)
    }

    /// Resets every node this clock skewed (a node never touched needs no ntpdate).
    pub async fn heal(&mut self) -> Result<(), NemesisError> {
        let nodes: Vec<String> = self.skewed.iter().cloned().collect();
        self.reset(&nodes).await
    }
}

impl Drop for RemoteClock {
    fn drop(&mut self) {
        for task in self.strobes.values() {
            task.abort();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use async_trait::async_trait;
    use rift_control::{ControlError, Output};
    use std::path::Path;
    use std::sync::Mutex;

    /// The transport only: records each command and answers like a node would (the helper
    /// is missing at first; `now` prints a time 5 s ahead). No clock is touched.
    #[derive(Default)]
    struct Recorder {
        log: Mutex<Vec<(String, String)>>,
    }

    #[async_trait]
    impl Remote for Recorder {
        async fn exec(&self, node: &str, cmd: &Cmd) -> Result<Output, ControlError> {
            let text = cmd.to_string();
            self.log.lock().unwrap().push((node.into(), text.clone()));
            let (code, stdout) = if text.starts_with("test -x") {
                (1, String::new())
            } else if text.ends_with("rift-clock now") {
                let now = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .unwrap()
                    .as_secs_f64();
                (0, format!("{:.9}\n", now + 5.0))
            } else {
                (0, String::new())
            };
            Ok(Output {
                exit_code: Some(code),
                stdout: stdout.into_bytes(),
                stderr: Vec::new(),
            })
        }
        async fn upload(&self, _: &str, _: &Path, _: &str) -> Result<(), ControlError> {
            Ok(())
        }
        async fn download(&self, _: &str, _: &str, _: &Path) -> Result<(), ControlError> {
            Ok(())
        }
    }

    fn commands(r: &Recorder, node: &str) -> Vec<String> {
        r.log
            .lock()
            .unwrap()
            .iter()
            .filter(|(n, _)| n == node)
            .map(|(_, c)| c.clone())
            .collect()
    }

    #[tokio::test(flavor = "current_thread")]
    async fn ops_become_helper_commands_and_heal_resets_only_skewed_nodes() {
        let rec = Arc::new(Recorder::default());
        let nodes = vec!["a".to_string(), "b".to_string()];
        let mut clock = RemoteClock::new(rec.clone(), nodes).with_ntp_server("ntp.example");
        let bump = Value::Map(vec![(Value::str("a"), Value::Int(-250))]);
        clock.apply("bump-clock", &bump).await.unwrap();
        let a = commands(&rec, "a");
        assert!(a[0].starts_with("test -x /opt/rift/rift-clock"), "{a:?}");
        assert!(
            a.iter().any(|c| c.contains("gcc")),
            "compiled on the node: {a:?}"
        );
        assert!(
            a.contains(&"/opt/rift/rift-clock bump -250".to_string()),
            "{a:?}"
        );
        let offsets = clock.take_measured().unwrap();
        assert!((offsets["a"] - 5.0).abs() < 1.0, "{offsets:?}");
        assert!((offsets["b"] - 5.0).abs() < 1.0, "{offsets:?}");
        // The helper is compiled once per node.
        clock
            .apply("check-clock-offsets", &Value::Nil)
            .await
            .unwrap();
        let compiles = commands(&rec, "a")
            .iter()
            .filter(|c| c.contains("gcc"))
            .count();
        assert_eq!(compiles, 1);
        // Heal steps back only the skewed node, with the given server.
        clock.heal().await.unwrap();
        assert!(commands(&rec, "a")
            .iter()
            .any(|c| c.contains("ntpdate -b ntp.example")));
        assert!(!commands(&rec, "b").iter().any(|c| c.contains("ntpdate")));
        let unknown = Value::Map(vec![(Value::str("z"), Value::Int(1))]);
        let e = clock.apply("bump-clock", &unknown).await;
        assert!(matches!(e, Err(NemesisError::UnknownNode(n)) if n == "z"));
    }
}
