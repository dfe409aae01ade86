//! Remote control of the nodes a test runs on.
//!
//! # Concepts
//!
//! A [`Remote`] runs commands on a named node ([`Remote::exec`] with a [`Cmd`]: argv or a
//! shell script, optional stdin, timeout and environment) and copies files in and out
//! ([`Remote::upload`], [`Remote::download`]). A command that exits non-zero is an error
//! ([`ControlError::CommandFailed`]) carrying the node, the command, the exit code and the
//! tail (20 lines, 4 KB) of its standard output and error, unless the command was built with
//! [`Cmd::allow_failure`]. Jepsen users will recognise the daemon helpers built on top of any
//! remote: [`start_daemon`], [`stop_daemon`], [`await_tcp_port`], [`grep_kill`],
//! [`file_exists`], [`write_file`].
//!
//! [`LocalCluster`] is the default cluster: `n` nodes on this machine, each a network
//! namespace `rift-nX` with its own address (`10.77.0.(10+X)`), joined by the bridge
//! `rift-br0` through veth pairs. Inside the namespaces the nodes resolve each other by name
//! (`/etc/netns/rift-nX/hosts`, which `ip netns exec` bind-mounts over `/etc/hosts`). Each
//! node has a home `<root>/nX` with `data/` and `log/`; relative remote paths resolve there.
//! Every command runs inside the node's namespace *and* its cgroup v2
//! (`/sys/fs/cgroup/unified/rift/nX`), so [`LocalCluster::kill_node`] (`cgroup.kill`) and
//! [`LocalCluster::pause_node`] (`cgroup.freeze`) reach exactly that node's processes, daemons
//! included. Where cgroup v2 is unusable, processes are found by namespace
//! (`ip netns pids`) and signalled instead ([`Tracking`]).
//!
//! [`SshRemote`] reaches real machines the way Jepsen does, with the system `ssh` and `scp`
//! ([`SshConfig`]: `username`, `password` through `sshpass`, `private_key`, `port`,
//! `strict_host_key_checking`, `sudo`), one OpenSSH master connection per host
//! (`ControlMaster`), retries with backoff when the connection fails (exit code 255) and
//! [`on_nodes`] to run a step on every node concurrently. Call [`SshRemote::close`] at the end.
//!
//! `<root>/cluster.json` (written atomically) records what exists, so that [`teardown`] —
//! `rift cluster down` — from another process or after a crash removes exactly what rift made.
//!
//! # Example
//!
//! ```no_run
//! use rift_control::{await_tcp_port, start_daemon, ClusterConfig, DaemonSpec, LocalCluster};
//! use std::time::Duration;
//!
//! # async fn demo() -> Result<(), rift_control::ControlError> {
//! let cluster = LocalCluster::up(&ClusterConfig::new(3).with_root("/tmp/rift-demo"))?;
//! for node in cluster.nodes() {
//!     let spec = DaemonSpec {
//!         bin: "python3".into(),
//!         args: vec!["-m".into(), "http.server".into(), "8000".into()],
//!         pidfile: "http.pid".into(),   // relative: under /tmp/rift-demo/<node>
//!         logfile: "log/http.log".into(),
//!         ..DaemonSpec::default()
//!     };
//!     start_daemon(&cluster, &node, &spec).await?;
//!     await_tcp_port(&cluster, &node, 8000, Duration::from_secs(10)).await?;
//! }
//! cluster.pause_node("n2")?;
//! cluster.resume_node("n2")?;
//! cluster.kill_node("n3")?;
//! cluster.down()?;
//! # Ok(()) }
//! ```
//!
//! # Edge cases
//!
//! - Building or changing a local cluster needs root (or `CAP_NET_ADMIN` + `CAP_SYS_ADMIN`);
//!   without it [`LocalCluster::up`] fails with [`ControlError::NeedsRoot`] saying so.
//! - The cluster-management methods are synchronous (milliseconds of `ip` calls and cgroup
//!   writes) so that teardown works from `Drop` and from a CLI; [`Remote`] methods are async.
//! - A paused node freezes *everything* in its cgroup: a command run on it blocks until
//!   [`LocalCluster::resume_node`] or its own timeout. [`LocalCluster::kill_node`] also thaws
//!   the cgroup, so the next start runs.
//! - All namespaces share one filesystem and one pid space: absolute paths are the same file
//!   on every node, and [`grep_kill`] only signals processes in the caller's namespace.
//! - [`teardown`] is idempotent and repairs partial state: it also removes namespaces, links,
//!   `/etc/netns` dirs and cgroups whose names start with the prefix even without a state file.
//!   It keeps node directories (data and logs).
//! - `up` refuses to run over an existing cluster with the same prefix
//!   ([`ControlError::AlreadyUp`]). Clusters with different prefixes (and subnets) coexist.
//! - Interface names are limited to 15 bytes, so prefix + node name must be short
//!   ([`ClusterConfig::validate`]).
//! - This kernel has no `sch_netem`; network faults belong to the nemesis crate.

#![warn(missing_docs)]

pub mod cache;
pub mod clock;
mod config;
mod daemon;
mod dirs;
mod error;
mod exec;
mod local;
mod remote;
mod ssh;
mod sys;
pub use sys::apt_or_explain;
pub mod testkit;

pub use cache::{build_once, cache_dir, cache_key, pip_wheel, CACHE_VAR};
pub use config::{
    bridge_name, cgroup_dir_name, node_address, subnet_for_prefix, ClusterConfig, ClusterState,
    NodeState, Phase, Tracking, DEFAULT_PREFIX, DEFAULT_ROOT, STATE_FILE,
};
pub use daemon::{
    await_tcp_port, daemon_running, file_exists, grep_kill, install_archive,
    install_archive_script, install_packages, install_packages_script, start_daemon, stop_daemon,
    write_file, DaemonSpec, DaemonStart,
};
pub use dirs::{fetch_files, NodeDirs};
pub use error::{output_tail, ControlError, NEEDS_ROOT_MESSAGE};
pub use local::{
    is_root, require_root, teardown, ClusterStatus, DownReport, LocalCluster, NodeStatus,
};
pub use remote::{shell_quote, Cmd, Output, Program, Remote, Signal, TAIL_BYTES, TAIL_LINES};
pub use ssh::{on_nodes, SshConfig, SshRemote, PASSWORD_NEEDS_SSHPASS, SSH_CONNECTION_FAILED};
