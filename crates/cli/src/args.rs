//! Command-line arguments, named as Jepsen names them.

use clap::{Args, Parser, Subcommand};
use rift_core::mem::Bugs;
use std::fmt;
use std::path::PathBuf;

/// rift: a Jepsen-class framework for testing distributed systems under faults.
#[derive(Parser, Debug)]
#[command(name = "rift", version, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run a test: set up, run the workload, tear down, check, store everything.
    Test(TestArgs),
    /// Run every workload (or the one given) and print a table of verdicts.
    TestAll(TestArgs),
    /// Re-run the checker over a stored run (default: the latest).
    Analyze(AnalyzeArgs),
    /// Check any history file (JSONL, JSON, Jepsen EDN or history.txt) with a named checker.
    Check(CheckArgs),
    /// The local cluster: nodes as network namespaces on this machine (needs root).
    #[command(subcommand)]
    Cluster(ClusterCommand),
    /// Browse the store in a web browser: every run, its verdict, plots, timeline and files.
    Serve(ServeArgs),
    /// Run a rift-kv server (what `--db kv` starts on each node).
    #[command(hide = true)]
    KvServer {
        /// `--listen ADDR:PORT --data DIR [--primary ADDR:PORT] [--reads primary|local]`.
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
}

#[derive(Subcommand, Debug)]
pub enum ClusterCommand {
    /// Create nodes n1..nN as network namespaces joined by a bridge, with names, addresses
    /// and per-node data and log directories.
    Up {
        /// How many nodes.
        #[arg(long, default_value_t = 5)]
        nodes: usize,
        #[command(flatten)]
        at: ClusterAt,
    },
    /// Remove everything `up` created (namespaces, links, cgroups, processes), also after a
    /// crash. Node data and log directories are kept.
    Down {
        #[command(flatten)]
        at: ClusterAt,
    },
    /// Show the nodes, their addresses and processes.
    Status {
        #[command(flatten)]
        at: ClusterAt,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Args, Debug, Clone)]
pub struct ClusterAt {
    /// Where the cluster keeps its state file and node directories.
    #[arg(long, default_value = "/var/lib/rift/cluster")]
    pub root: PathBuf,
    /// Prefix of every name it creates (namespaces, links, cgroups).
    #[arg(long, default_value = "rift-")]
    pub prefix: String,
}

#[derive(Args, Debug, Clone)]
pub struct TestArgs {
    /// The system under test. `etcd`: a real etcd cluster (Debian's etcd-server), one member
    /// per node of the local cluster (needs root). `kv`: rift-kv, a primary-backup register
    /// store of our own, one server per node (local cluster or SSH). `mem`: the in-process
    /// store (no root, no network).
    #[arg(long, default_value = "mem")]
    pub db: String,
    /// Workload. etcd: register (default), set, append, wr; kv: register (default), set;
    /// mem: set (default), queue, bank, counter, unique-ids, register.
    #[arg(long, short = 'w')]
    pub workload: Option<String>,
    /// Comma-separated node names.
    #[arg(long, default_value = "n1,n2,n3,n4,n5", conflicts_with = "nodes_file")]
    pub nodes: String,
    /// A file with one node name per line (`#` comments allowed).
    #[arg(long)]
    pub nodes_file: Option<PathBuf>,
    /// Client threads: a number, or `3n` for three per node (default: 2n for etcd, 1n else).
    #[arg(long)]
    pub concurrency: Option<String>,
    /// Seconds the workload runs.
    #[arg(long, default_value_t = 60.0, value_parser = positive_f64)]
    pub time_limit: f64,
    /// Run the test this many times, stopping at the first run that is not valid.
    #[arg(long, default_value_t = 1)]
    pub test_count: u32,
    /// Seed for every random choice (logged and stored; same seed, same choices).
    #[arg(long)]
    pub seed: Option<u64>,
    /// Total client operations per second (0: as fast as possible).
    #[arg(long, default_value_t = 500.0, value_parser = non_negative_f64)]
    pub rate: f64,
    /// Plant a bug in the in-memory system: lost-writes, stale-reads, duplicates (repeatable,
    /// or comma-separated).
    #[arg(long = "bug", value_delimiter = ',')]
    pub bug: Vec<String>,
    /// Probability that a planted bug fires on an eligible op.
    #[arg(long, default_value_t = 0.05, value_parser = probability)]
    pub bug_rate: f64,
    /// Probability that an op of the in-memory system ends with an unknown outcome (`info`).
    #[arg(long, default_value_t = 0.0, value_parser = probability)]
    pub indeterminate_rate: f64,
    /// Seconds an operation may take before it is recorded as `info` (`:timeout`).
    #[arg(long, default_value_t = 10.0, value_parser = positive_f64)]
    pub op_timeout: f64,
    /// Leave the database running after the test.
    #[arg(long)]
    pub leave_db_running: bool,
    /// The store directory.
    #[arg(long, default_value = "store")]
    pub store: PathBuf,
    /// Faults, comma-separated: partition, kill, pause, packet, file, clock (`none`: no
    /// faults; default: partition,kill for etcd, none else). `clock` needs libfaketime.
    #[arg(long)]
    pub nemesis: Option<String>,
    /// Seconds between fault operations (a fault starts, holds this long, stops, and the next
    /// starts after as long again).
    #[arg(long, default_value_t = 10.0, value_parser = positive_f64)]
    pub nemesis_interval: f64,
    /// Rotate the fault packages: every this many seconds pick a random subset of them
    /// (sometimes none) to run for the next window, healing those that leave.
    #[arg(long, value_parser = positive_f64)]
    pub nemesis_rotate: Option<f64>,
    /// Seconds to wait after healing every fault before the final reads.
    #[arg(long, default_value_t = 5.0, value_parser = non_negative_f64)]
    pub recovery_time: f64,
    /// Check every this many seconds that the database runs on each node and restart it where
    /// it crashed on its own (nodes the nemesis killed stay down until it starts them).
    #[arg(long, value_parser = positive_f64)]
    pub watchdog: Option<f64>,
    /// `--db etcd`: reads with etcd's serializable (non-quorum) reads: a real, documented
    /// weakening; the register workload then catches stale reads under partitions.
    #[arg(long)]
    pub serializable_reads: bool,
    /// `--db etcd`: the etcd binary to run (default: `etcd` on the PATH, else Debian's
    /// etcd-server installed with apt).
    #[arg(long)]
    pub bin: Option<PathBuf>,
    /// `--db etcd` on SSH nodes: an etcd release archive to install on each node instead of
    /// Debian's package (a URL fetched on the node, or a local file).
    #[arg(long)]
    pub archive: Option<String>,
    /// `--db kv`: where replicas answer reads. `primary` (linearizable) or `local` (each
    /// replica's own copy: stale behind a partition).
    #[arg(long, default_value = "primary")]
    pub kv_reads: String,
    /// The nodes are real machines reached over SSH (implied by --username, --password and
    /// --ssh-private-key); without it they are the local cluster's network namespaces.
    #[arg(long)]
    pub ssh: bool,
    /// SSH: the login user (default root; others run commands with sudo).
    #[arg(long)]
    pub username: Option<String>,
    /// SSH: a password (needs sshpass; prefer a key).
    #[arg(long)]
    pub password: Option<String>,
    /// SSH: the private key file.
    #[arg(long)]
    pub ssh_private_key: Option<PathBuf>,
    /// SSH: the port.
    #[arg(long, default_value_t = 22)]
    pub ssh_port: u16,
    /// SSH: check host keys against known_hosts (off by default, as in Jepsen).
    #[arg(long)]
    pub strict_host_key_checking: bool,
    /// Run on the local cluster already up at --cluster-root (from `rift cluster up`) instead
    /// of bringing one up and down.
    #[arg(long)]
    pub reuse_cluster: bool,
    /// The local cluster's state directory.
    #[arg(long = "cluster-root", default_value = "/var/lib/rift/cluster")]
    pub cluster_root: PathBuf,
    /// The local cluster's name prefix (namespaces, links, cgroups).
    #[arg(long = "cluster-prefix", default_value = "rift-")]
    pub cluster_prefix: String,
}

#[derive(Args, Debug)]
pub struct ServeArgs {
    /// The address to listen on (127.0.0.1: this machine only).
    #[arg(long, default_value = "127.0.0.1")]
    pub host: String,
    /// The port to listen on.
    #[arg(long, default_value_t = 8080)]
    pub port: u16,
    /// The store directory.
    #[arg(long, default_value = "store")]
    pub store: PathBuf,
}

#[derive(Args, Debug)]
pub struct AnalyzeArgs {
    /// A run directory, or a test directory (its latest run). Default: the store's latest.
    #[arg(long, short = 't')]
    pub test: Option<PathBuf>,
    /// The store directory.
    #[arg(long, default_value = "store")]
    pub store: PathBuf,
}

#[derive(Args, Debug)]
pub struct CheckArgs {
    /// Checker: stats, exceptions, set, set-full, counter, unique-ids, total-queue, bank,
    /// elle-append (list-append transactions), elle-wr (rw-register transactions),
    /// linearizable (with --model), kafka (Kafka/queue logs: send, poll, txn).
    #[arg(long)]
    pub checker: String,
    /// Linearizable: the model (register, cas-register, multi-register, mutex, set, fifo-queue,
    /// unordered-queue, kv).
    #[arg(long, default_value = "cas-register")]
    pub model: String,
    /// Linearizable: the model's initial state as EDN, for register and cas-register (a value,
    /// default nil) and multi-register (a map, e.g. '{:x 0 :y 0}', default empty).
    #[arg(long)]
    pub initial: Option<String>,
    /// Linearizable: values are Jepsen independent `[key value]` tuples; check each key alone.
    #[arg(long)]
    pub independent: bool,
    /// Linearizable: seconds the search may take before the verdict is unknown.
    #[arg(long, default_value_t = 300.0, value_parser = positive_f64)]
    pub time_budget: f64,
    /// Elle: consistency models the history must satisfy (comma-separated), e.g.
    /// serializable, snapshot-isolation, strict-serializable.
    #[arg(long, value_delimiter = ',', default_value = "strict-serializable")]
    pub consistency_models: Vec<String>,
    /// Elle: further anomalies to look for, beyond those the models forbid (comma-separated).
    #[arg(long, value_delimiter = ',', default_value = "G0")]
    pub anomalies: Vec<String>,
    /// Elle rw-register: infer version orders from writes that follow reads in a txn.
    #[arg(long)]
    pub wfr_keys: bool,
    /// Elle rw-register: assume each key is sequentially consistent.
    #[arg(long)]
    pub sequential_keys: bool,
    /// Elle rw-register: assume each key is linearizable.
    #[arg(long)]
    pub linearizable_keys: bool,
    /// Bank: the total every read must sum to (default: the first read's total).
    #[arg(long)]
    pub total: Option<i64>,
    /// Bank: allow negative balances.
    #[arg(long)]
    pub negative_balances: bool,
    /// set-full: treat stale reads as errors (the set claims linearizability).
    #[arg(long)]
    pub linearizable: bool,
    /// Kafka: error types to allow besides the defaults (comma-separated), e.g. unseen.
    #[arg(long, value_delimiter = ',')]
    pub ignore_queue_errors: Vec<String>,
    /// Kafka: no write-write edges from the log's version order (G1c becomes an error).
    #[arg(long)]
    pub no_ww_deps: bool,
    /// Kafka: list every error, not a sample of each type.
    #[arg(long)]
    pub keep_all_errors: bool,
    /// Directory where checkers may write files (plots, per-key results).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// The history file.
    pub file: PathBuf,
}

impl TestArgs {
    /// The faults: `--nemesis`, or the db's default.
    pub fn nemesis_or_default(&self) -> String {
        match (&self.nemesis, self.db.as_str()) {
            (Some(n), _) => n.clone(),
            (None, "etcd") => "partition,kill".into(),
            (None, _) => "none".into(),
        }
    }

    /// `--concurrency`, or the db's default.
    pub fn concurrency_or_default(&self) -> String {
        match (&self.concurrency, self.db.as_str()) {
            (Some(c), _) => c.clone(),
            (None, "etcd") => "2n".into(),
            (None, _) => "1n".into(),
        }
    }

    /// Whether the nodes are SSH machines.
    pub fn uses_ssh(&self) -> bool {
        self.ssh
            || self.username.is_some()
            || self.password.is_some()
            || self.ssh_private_key.is_some()
    }

    /// Where the local cluster lives.
    pub fn cluster_at(&self) -> ClusterAt {
        ClusterAt {
            root: self.cluster_root.clone(),
            prefix: self.cluster_prefix.clone(),
        }
    }

    /// The node names from --nodes or --nodes-file.
    pub fn node_list(&self) -> Result<Vec<String>, BadArgs> {
        let nodes: Vec<String> = match &self.nodes_file {
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .map_err(|e| bad(format!("--nodes-file {}: {e}", path.display())))?;
                text.lines()
                    .map(|l| l.split('#').next().unwrap_or("").trim())
                    .filter(|l| !l.is_empty())
                    .map(str::to_string)
                    .collect()
            }
            None => self
                .nodes
                .split(',')
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty())
                .collect(),
        };
        if nodes.is_empty() {
            return Err(bad(
                "no nodes given (--nodes n1,n2,... or --nodes-file FILE)",
            ));
        }
        let mut seen = std::collections::HashSet::new();
        if let Some(dup) = nodes.iter().find(|n| !seen.insert(n.as_str())) {
            return Err(bad(format!("node {dup:?} is listed twice")));
        }
        Ok(nodes)
    }

    /// The planted bugs.
    pub fn bugs(&self) -> Result<Bugs, BadArgs> {
        let mut b = Bugs {
            rate: self.bug_rate,
            indeterminate: self.indeterminate_rate,
            ..Bugs::default()
        };
        for name in &self.bug {
            b.enable(name.trim())
                .map_err(|e| bad(format!("--bug: {e}")))?;
        }
        Ok(b)
    }
}

/// A bad-arguments error: exit code 254.
#[derive(Debug)]
pub struct BadArgs(pub String);

impl fmt::Display for BadArgs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for BadArgs {}

/// Wraps a message as a bad-arguments error.
pub fn bad(msg: impl fmt::Display) -> BadArgs {
    BadArgs(msg.to_string())
}

fn positive_f64(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(x) if x > 0.0 && x.is_finite() => Ok(x),
        _ => Err(format!("expected a positive number of seconds, got {s:?}")),
    }
}

fn non_negative_f64(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(x) if x >= 0.0 && x.is_finite() => Ok(x),
        _ => Err(format!("expected a number >= 0, got {s:?}")),
    }
}

fn probability(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(x) if (0.0..=1.0).contains(&x) => Ok(x),
        _ => Err(format!("expected a probability between 0 and 1, got {s:?}")),
    }
}
