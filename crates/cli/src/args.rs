//! Command-line arguments, named as Jepsen names them.

use crate::suites;
use clap::{Args, Parser, Subcommand};
use rift_suite::parse::{non_negative_f64, positive_f64};
use rift_suite::Suite;
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

/// The options every suite shares. Each suite adds its own (`rift test --db NAME --help`).
#[derive(Args, Debug, Clone)]
pub struct TestArgs {
    /// The system under test: a suite's name (`rift test --help` lists them; `rift test --db
    /// NAME --help` shows a suite's own options).
    #[arg(long, default_value = suites::DEFAULT_DB)]
    pub db: String,
    /// Workload (default: the suite's first; `rift test --db NAME --help` lists them).
    #[arg(long, short = 'w')]
    pub workload: Option<String>,
    /// Comma-separated node names (default: n1..n5, or as many as the suite needs: the Flink
    /// suite's roles take n1..n7).
    #[arg(long, conflicts_with = "nodes_file")]
    pub nodes: Option<String>,
    /// A file with one node name per line (`#` comments allowed).
    #[arg(long)]
    pub nodes_file: Option<PathBuf>,
    /// Client threads: a number, or `3n` for three per node (default: the suite's, 1n for
    /// most).
    #[arg(long)]
    pub concurrency: Option<String>,
    /// Seconds the workload runs.
    #[arg(long, default_value_t = 60.0, value_parser = positive_f64)]
    pub time_limit: f64,
    /// Run the test this many times, stopping at the first run that is not valid.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..))]
    pub test_count: u32,
    /// Seed for every random choice (logged and stored; same seed, same choices).
    #[arg(long)]
    pub seed: Option<u64>,
    /// Total client operations per second (0: as fast as possible; default: 500, or the
    /// suite's).
    #[arg(long, value_parser = non_negative_f64)]
    pub rate: Option<f64>,
    /// Seconds an operation may take before it is recorded as `info` (`:timeout`).
    #[arg(long, default_value_t = 10.0, value_parser = positive_f64)]
    pub op_timeout: f64,
    /// Leave the database running after the test.
    #[arg(long)]
    pub leave_db_running: bool,
    /// The store directory.
    #[arg(long, default_value = "store")]
    pub store: PathBuf,
    /// Faults, comma-separated: partition, kill, pause, packet, file, clock, and the role
    /// faults of suites with roles (`kill-<role>`, `partition-<a>-<b>`...); `none`: no faults
    /// (default: the suite's). `clock` needs libfaketime.
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

    /// The node names from --nodes or --nodes-file, else n1..n`default_count`.
    pub fn node_list(&self, default_count: usize) -> Result<Vec<String>, BadArgs> {
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
            None => match &self.nodes {
                Some(list) => list
                    .split(',')
                    .map(|s| s.trim().to_string())
                    .filter(|s| !s.is_empty())
                    .collect(),
                None => (1..=default_count).map(|i| format!("n{i}")).collect(),
            },
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

/// The command line of `rift` with `suite`'s options added to `test` and `test-all` (under
/// the heading `<name> options`), the help of the common options that default per suite
/// filled in with that suite's defaults. Without a suite (help without `--db`), `test` and
/// `test-all` have the common options only and their help lists every suite.
pub fn command(suite: Option<&'static dyn Suite>) -> clap::Command {
    <Cli as clap::CommandFactory>::command()
        .mut_subcommand("test", |c| for_suite(c, suite))
        .mut_subcommand("test-all", |c| for_suite(c, suite))
}

fn for_suite(cmd: clap::Command, suite: Option<&'static dyn Suite>) -> clap::Command {
    let Some(s) = suite else {
        return cmd.after_help(suite_list());
    };
    let workloads = s.workloads();
    let cmd = cmd
        .mut_arg("workload", |a| {
            a.help(format!(
                "Workload: {} (default: {})",
                workloads.join(", "),
                workloads.first().copied().unwrap_or("none")
            ))
        })
        .mut_arg("concurrency", |a| {
            a.help(format!(
                "Client threads: a number, or `3n` for three per node (default: {})",
                s.default_concurrency()
            ))
        })
        .mut_arg("rate", |a| {
            let default = match s.default_rate_per_thread() {
                Some(r) => format!("{r} per client thread"),
                None => s.default_rate_hz().unwrap_or(DEFAULT_RATE_HZ).to_string(),
            };
            a.help(format!(
                "Total client operations per second (0: as fast as possible; default: {default})"
            ))
        })
        .mut_arg("nemesis", |a| {
            a.help(format!(
                "Faults, comma-separated: partition, kill, pause, packet, file, clock{} \
                 (`none`: no faults; default: {}). `clock` needs libfaketime",
                role_faults_hint(s),
                s.default_nemesis()
            ))
        })
        .after_help(format!(
            "--db {}: {}.\n`rift test --help` lists every suite.",
            s.name(),
            s.about()
        ));
    // clap keeps headings as `&'static str` (without its `string` feature): one short string
    // per process.
    let heading: &'static str = Box::leak(format!("{} options", s.name()).into_boxed_str());
    // A derived `Args` struct's doc comment would become the subcommand's about: keep ours.
    let about = cmd.get_about().cloned();
    let long_about = cmd.get_long_about().cloned();
    let mut cmd = s
        .args(cmd.next_help_heading(heading))
        .next_help_heading(None);
    if let Some(about) = about {
        cmd = cmd.about(about);
    }
    if let Some(long_about) = long_about {
        cmd = cmd.long_about(long_about);
    }
    cmd
}

/// `, kill-controller, ...` for a suite with roles (on five nodes), else nothing.
fn role_faults_hint(s: &dyn Suite) -> String {
    let nodes: Vec<String> = (1..=5).map(|i| format!("n{i}")).collect();
    let roles = s.roles(&nodes);
    if roles.is_empty() {
        return String::new();
    }
    let scoped: Vec<String> = rift_nemesis::known_faults(&roles)
        .into_iter()
        .filter(|f| f.contains('-'))
        .collect();
    format!(", {}", scoped.join(", "))
}

/// `--rate` when neither the command line nor the suite says.
pub const DEFAULT_RATE_HZ: f64 = 500.0;

/// The help text that lists every suite of the table.
fn suite_list() -> String {
    format!(
        "Suites (--db NAME):\n{}\n`rift test --db NAME --help` lists a suite's own options.",
        suites::describe()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_suite_builds_a_valid_command() {
        command(None).debug_assert();
        for s in suites::SUITES {
            command(Some(*s)).debug_assert();
        }
    }

    #[test]
    fn help_lists_the_suite_options_only() {
        let help = |suite| {
            let mut cmd = command(suite);
            let test = cmd.find_subcommand_mut("test").unwrap();
            test.render_help().to_string()
        };
        let etcd = help(suites::find("etcd"));
        assert!(etcd.contains("etcd options"), "{etcd}");
        assert!(etcd.starts_with("Run a test"), "{etcd}");
        assert!(etcd.contains("--serializable-reads"), "{etcd}");
        assert!(etcd.contains("--archive"), "{etcd}");
        assert!(etcd.contains("--nemesis-interval"), "{etcd}");
        assert!(etcd.contains("default: partition,kill"), "{etcd}");
        assert!(
            !etcd.contains("--kv-reads") && !etcd.contains("--bug-rate"),
            "{etcd}"
        );
        let kv = help(suites::find("kv"));
        assert!(kv.contains("--kv-reads") && !kv.contains("--bin"), "{kv}");
        let none = help(None);
        // clap wraps long lines: compare with whitespace collapsed.
        let flat = |t: &str| t.split_whitespace().collect::<Vec<_>>().join(" ");
        for s in suites::SUITES {
            assert!(flat(&none).contains(&flat(s.about())), "{none}");
        }
        assert!(none.contains("rift test --db NAME --help"), "{none}");
        assert!(
            !none.contains("--serializable-reads") && !none.contains("--bug"),
            "{none}"
        );
    }
}

/// Whether option `name` (without dashes) holds a secret: a password, a secret key, a token,
/// credentials. Its value never reaches the store, the log or the web UI.
pub fn is_secret_option(name: &str) -> bool {
    ["password", "secret", "token", "credential"]
        .iter()
        .any(|w| name.contains(w))
}

/// The command line with the values of secret options ([`is_secret_option`]) replaced by
/// `<redacted>`, in both forms (`--password X` and `--password=X`): what `test.json` keeps.
pub fn redact_argv(args: impl IntoIterator<Item = String>) -> Vec<String> {
    let mut out = Vec::new();
    let mut hide_next = false;
    for a in args {
        if hide_next {
            out.push("<redacted>".to_string());
            hide_next = false;
            continue;
        }
        if a == "--" {
            out.push(a);
            continue;
        }
        match a.strip_prefix("--") {
            Some(opt) if is_secret_option(opt.split('=').next().unwrap_or("")) => {
                match opt.split_once('=') {
                    Some((name, _)) => out.push(format!("--{name}=<redacted>")),
                    None => {
                        out.push(a.clone());
                        hide_next = true;
                    }
                }
            }
            _ => out.push(a),
        }
    }
    out
}

#[cfg(test)]
mod redact_tests {
    use super::*;

    #[test]
    fn secret_values_are_redacted_in_both_forms() {
        let argv = |s: &str| s.split(' ').map(str::to_string).collect::<Vec<_>>();
        assert_eq!(
            redact_argv(argv(
                "rift test --password hunter2 --s3-secret-key=abc --nodes a,b --ssh-private-key /k"
            )),
            argv(
                "rift test --password <redacted> --s3-secret-key=<redacted> --nodes a,b --ssh-private-key /k"
            )
        );
        assert_eq!(
            redact_argv(argv("rift test --password")),
            argv("rift test --password")
        );
        assert!(!is_secret_option("ssh-private-key"));
        assert!(is_secret_option("password"));
    }
}
