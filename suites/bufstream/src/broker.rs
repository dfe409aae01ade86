//! The bufstream role: the user's Bufstream binary on each of its nodes, configured as
//! jepsen.bufstream configures it (`bufstream serve -c bufstream.yaml --config.name NODE`, the
//! public Kafka and connect addresses set to the node's address), and optionally tcpdump
//! capturing its Kafka traffic.

use async_trait::async_trait;
use rift_control::{shell_quote, start_daemon, stop_daemon, Cmd, DaemonSpec, NodeDirs, Remote};
use rift_core::{PlugResult, RiftError};
use rift_suite::control_error as ctl;
use rift_suite::{Daemon, Files};
use std::net::IpAddr;

/// Bufstream's Kafka port (the seed's).
pub const KAFKA_PORT: u16 = 9092;
/// Bufstream's intra-cluster port (the seed's).
pub const CONNECT_PORT: u16 = 9093;
/// etcd's client port.
pub const ETCD_PORT: u16 = 2379;

/// What bufstream.yaml carries besides addresses: the seed's options.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BrokerOptions {
    /// `kafka.fetch_eager` (`--[no-]fetch-eager`, default true).
    pub fetch_eager: bool,
    /// `kafka.fetch_sync` (`--[no-]fetch-sync`, default true).
    pub fetch_sync: bool,
    /// `observability.log_level` (`--bufstream-log-level`, default INFO).
    pub log_level: String,
    /// `--no-archive`: `archive.min_bytes: -1`.
    pub no_archive: bool,
    /// `--tcpdump`: capture Kafka traffic into `tcpdump.pcap`.
    pub tcpdump: bool,
}

impl Default for BrokerOptions {
    fn default() -> Self {
        BrokerOptions {
            fetch_eager: true,
            fetch_sync: true,
            log_level: "INFO".into(),
            no_archive: false,
            tcpdump: false,
        }
    }
}

/// `bufstream.yaml` for one node: the cluster and zone names, connect and Kafka listeners
/// with the node's public address, etcd on `etcd`, the bucket on the store at `store`.
pub fn config_yaml(addr: IpAddr, etcd: IpAddr, store: IpAddr, o: &BrokerOptions) -> String {
    use crate::store::{ACCESS_KEY, BUCKET, PORT, SECRET_KEY};
    let mut y = format!(
        "# Written by rift for this run (jepsen.bufstream's settings).\n\
         cluster: jepsen\n\
         zone: rack-01\n\
         connect_address:\n  host: 0.0.0.0\n  port: {CONNECT_PORT}\n\
         connect_public_address:\n  host: {addr}\n  port: {CONNECT_PORT}\n\
         etcd:\n  addresses:\n    - host: {etcd}\n      port: {ETCD_PORT}\n\
         storage:\n  provider: S3\n  region: us-east-1\n  bucket: {BUCKET}\n  force_path_style: true\n  \
         endpoint: http://{store}:{PORT}\n  access_key_id:\n    string: {ACCESS_KEY}\n  \
         secret_access_key:\n    string: {SECRET_KEY}\n\
         kafka:\n  address:\n    host: 0.0.0.0\n    port: {KAFKA_PORT}\n  \
         public_address:\n    host: {addr}\n    port: {KAFKA_PORT}\n  \
         fetch_eager: {}\n  fetch_sync: {}\n  group_consumer_session_timeout_min: 5s\n\
         observability:\n  log_level: {}\n  log_format: JSON\n  metrics_exporter: NONE\n  trace_exporter: NONE\n",
        o.fetch_eager, o.fetch_sync, o.log_level
    );
    if o.no_archive {
        y.push_str("archive:\n  min_bytes: -1\n");
    }
    y
}

/// Bufstream as a [`Daemon`].
pub struct Broker {
    /// The binary's path on the nodes.
    pub bin: String,
    /// etcd's address (the coordination node).
    pub etcd: IpAddr,
    /// The store's address (the storage node).
    pub store: IpAddr,
    /// The seed's options.
    pub opts: BrokerOptions,
}

/// Where the config goes.
pub const CONFIG_FILE: &str = "bufstream.yaml";
/// The capture's file.
pub const PCAP_FILE: &str = "tcpdump.pcap";

#[async_trait]
impl Daemon for Broker {
    fn what(&self) -> &str {
        "Bufstream"
    }

    fn name(&self) -> &str {
        "bufstream"
    }

    fn port(&self) -> u16 {
        KAFKA_PORT
    }

    fn spec(&self, node: &str, dirs: &NodeDirs, f: &Files) -> PlugResult<DaemonSpec> {
        let ip = dirs.address.to_string();
        Ok(DaemonSpec {
            bin: self.bin.clone(),
            args: vec![
                "serve".into(),
                "-c".into(),
                f.in_logs(CONFIG_FILE),
                "--config.name".into(),
                node.into(),
                "--config.kafka.public_address.host".into(),
                ip.clone(),
                "--config.connect_public_address.host".into(),
                ip.clone(),
            ],
            pidfile: f.pid.clone(),
            logfile: f.log.clone(),
            chdir: Some(f.data.clone()),
            env: vec![
                ("EC2_PRIVATE_IP".into(), ip),
                ("GOMAXPROCS".into(), "4".into()),
            ],
        })
    }

    fn files(&self, _node: &str, dirs: &NodeDirs, f: &Files) -> PlugResult<Vec<(String, Vec<u8>)>> {
        let y = config_yaml(dirs.address, self.etcd, self.store, &self.opts);
        Ok(vec![(f.in_logs(CONFIG_FILE), y.into_bytes())])
    }

    async fn prepare(&self, remote: &dyn Remote, node: &str, f: &Files) -> PlugResult<()> {
        if !self.opts.tcpdump {
            return Ok(());
        }
        let spec = DaemonSpec {
            bin: "tcpdump".into(),
            args: vec![
                "-i".into(),
                "any".into(),
                "-U".into(),
                "-w".into(),
                f.in_logs(PCAP_FILE),
                "port".into(),
                KAFKA_PORT.to_string(),
            ],
            pidfile: f.in_logs("tcpdump.pid"),
            logfile: f.in_logs("tcpdump.log"),
            chdir: None,
            env: Vec::new(),
        };
        let check = Cmd::shell("command -v tcpdump").allow_failure();
        if !remote.exec(node, &check).await.map_err(ctl)?.success() {
            return Err(RiftError::new(
                "install",
                format!("--tcpdump: tcpdump is not installed on {node} (apt-get install tcpdump)"),
            ));
        }
        start_daemon(remote, node, &spec).await.map_err(ctl)?;
        Ok(())
    }

    async fn cleanup(&self, remote: &dyn Remote, node: &str, f: &Files) -> PlugResult<()> {
        // Flushes and closes the capture (SIGTERM, not SIGKILL).
        let pid = f.in_logs("tcpdump.pid");
        let exists = Cmd::shell(format!("test -f {}", shell_quote(&pid))).allow_failure();
        if remote.exec(node, &exists).await.map_err(ctl)?.success() {
            stop_daemon(remote, node, &pid, rift_control::Signal::Term)
                .await
                .map_err(ctl)?;
        }
        Ok(())
    }

    fn extra_logs(&self) -> Vec<String> {
        let mut v = vec![CONFIG_FILE.to_string()];
        if self.opts.tcpdump {
            v.push(PCAP_FILE.to_string());
        }
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn yaml_carries_the_seeds_settings_and_the_nodes_addresses() {
        let a: IpAddr = "10.7.0.3".parse().unwrap();
        let e: IpAddr = "10.7.0.1".parse().unwrap();
        let s: IpAddr = "10.7.0.2".parse().unwrap();
        let y = config_yaml(a, e, s, &BrokerOptions::default());
        for want in [
            "cluster: jepsen\n",
            "connect_public_address:\n  host: 10.7.0.3\n  port: 9093\n",
            "    - host: 10.7.0.1\n      port: 2379\n",
            "  bucket: jbucket\n  force_path_style: true\n  endpoint: http://10.7.0.2:9000\n",
            "public_address:\n    host: 10.7.0.3\n    port: 9092\n",
            "  fetch_eager: true\n  fetch_sync: true\n",
            "  log_level: INFO\n",
        ] {
            assert!(y.contains(want), "{want:?} not in\n{y}");
        }
        assert!(!y.contains("archive:"));
        let o = BrokerOptions {
            fetch_sync: false,
            no_archive: true,
            log_level: "DEBUG".into(),
            ..BrokerOptions::default()
        };
        let y = config_yaml(a, e, s, &o);
        assert!(y.contains("  fetch_sync: false\n") && y.contains("log_level: DEBUG"));
        assert!(y.ends_with("archive:\n  min_bytes: -1\n"));
    }
}
