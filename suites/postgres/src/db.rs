//! PostgreSQL on the nodes as [`Daemon`]s: the primary on the first node, streaming
//! replicas (`pg_basebackup -R` from the primary) on the next ones.
//!
//! Every node has its own data directory (`<data>/postgres/pgdata`, made by `initdb` as the
//! `postgres` user), listens on every address on port 5432, trusts every client of the test
//! cluster, and keeps `fsync` on. Its log (`postgres.log`) goes into the store.
//!
//! Jepsen's suites start PostgreSQL with `pg_ctl start`, which daemonizes the postmaster.
//! rift runs the same server (`postgres -D <pgdata>`, as the postgres user) in the
//! foreground of a process group it owns, as `pg_ctl` would have started it: a kill or a
//! pause then reaches the postmaster and every backend at once, and the watchdog sees the
//! postmaster die.

use async_trait::async_trait;
use rift_control::{shell_quote, DaemonSpec, NodeDirs, Remote};
use rift_core::PlugResult;
use rift_suite::{run_script, Daemon, Files};
use std::collections::BTreeMap;
use std::net::IpAddr;

/// PostgreSQL's port.
pub const PG_PORT: u16 = 5432;
/// The database the workloads use (the one `initdb` makes).
pub const DATABASE: &str = "postgres";
/// The user the server runs as and clients connect as.
pub const USER: &str = "postgres";

/// A node's part in the cluster.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Part {
    /// The primary: takes writes, streams its WAL.
    Primary,
    /// A hot standby replaying the WAL of the primary at this address.
    Replica(IpAddr),
}

/// PostgreSQL from the binaries in `bin_dir`, as the primary or a replica.
pub struct Postgres {
    /// The directory holding `postgres`, `initdb`, `pg_basebackup` and `psql`.
    pub bin_dir: String,
    /// Primary or replica.
    pub part: Part,
    /// Extra environment per node (the wall-clock shim for clock faults).
    pub env: BTreeMap<String, Vec<(String, String)>>,
}

fn pgdata(f: &Files) -> String {
    format!("{}/pgdata", f.data)
}

/// The settings appended to every node's `postgresql.conf` (the last value of a setting
/// wins, so a replica's own lines override what it copied from the primary).
pub fn conf_lines(socket_dir: &str) -> String {
    [
        "listen_addresses = '*'".to_string(),
        format!("port = {PG_PORT}"),
        format!("unix_socket_directories = '{socket_dir}'"),
        "fsync = on".into(),
        "synchronous_commit = on".into(),
        "wal_level = replica".into(),
        "max_wal_senders = 10".into(),
        "hot_standby = on".into(),
        "max_connections = 200".into(),
        // Every backend's log line says which connection it was: the history's errors can
        // be matched to the server's.
        "log_line_prefix = '%m [%p] %a '".into(),
    ]
    .join("\n")
        + "\n"
}

impl Postgres {
    fn program(&self, program: &str) -> String {
        format!(
            "setpriv --reuid={USER} --regid={USER} --init-groups {}",
            shell_quote(&format!("{}/{program}", self.bin_dir))
        )
    }

    fn psql(&self, host: IpAddr, sql: &str) -> String {
        format!(
            "{} -h {host} -p {PG_PORT} -U {USER} -d {DATABASE} -qAtc {}",
            shell_quote(&format!("{}/psql", self.bin_dir)),
            shell_quote(sql)
        )
    }
}

#[async_trait]
impl Daemon for Postgres {
    fn what(&self) -> &str {
        match self.part {
            Part::Primary => "PostgreSQL (primary)",
            Part::Replica(_) => "PostgreSQL (replica)",
        }
    }

    fn name(&self) -> &str {
        "postgres"
    }

    fn port(&self) -> u16 {
        PG_PORT
    }

    fn process_group(&self) -> bool {
        true
    }

    fn spec(&self, node: &str, _dirs: &NodeDirs, f: &Files) -> PlugResult<DaemonSpec> {
        Ok(DaemonSpec {
            bin: "setpriv".into(),
            args: vec![
                format!("--reuid={USER}"),
                format!("--regid={USER}"),
                "--init-groups".into(),
                format!("{}/postgres", self.bin_dir),
                "-D".into(),
                pgdata(f),
            ],
            pidfile: f.pid.clone(),
            logfile: f.log.clone(),
            chdir: Some(f.data.clone()),
            env: self.env.get(node).cloned().unwrap_or_default(),
        })
    }

    /// The primary: `initdb` as the postgres user (created when missing), the settings, and
    /// trust for every client and replication connection of the test cluster. A replica: a
    /// base backup of the primary (`pg_basebackup -R` writes `standby.signal` and the
    /// connection to the primary), then its own settings.
    async fn prepare(&self, remote: &dyn Remote, node: &str, f: &Files) -> PlugResult<()> {
        let pgdata = pgdata(f);
        let mut script = format!(
            "id -u {USER} >/dev/null 2>&1 || useradd --system --no-create-home --shell /bin/sh {USER}\n\
             mkdir -p {d} && chown -R {USER}: {data} && chmod 700 {d}\n",
            d = shell_quote(&pgdata),
            data = shell_quote(&f.data),
        );
        let what = match &self.part {
            Part::Primary => {
                script.push_str(&format!(
                    "{} -D {d} -U {USER} --auth=trust -E UTF8 >/dev/null\n\
                     echo 'host all all 0.0.0.0/0 trust' >> {d}/pg_hba.conf\n\
                     echo 'host replication all 0.0.0.0/0 trust' >> {d}/pg_hba.conf\n",
                    self.program("initdb"),
                    d = shell_quote(&pgdata),
                ));
                "initdb"
            }
            Part::Replica(primary) => {
                script.push_str(&format!(
                    "{} -h {primary} -p {PG_PORT} -U {USER} -D {d} -X stream -R -c fast\n",
                    self.program("pg_basebackup"),
                    d = shell_quote(&pgdata),
                ));
                "pg_basebackup from the primary"
            }
        };
        script.push_str(&format!(
            "printf '%s' {} >> {}/postgresql.conf",
            shell_quote(&conf_lines(&f.data)),
            shell_quote(&pgdata)
        ));
        run_script(remote, node, what, script).await
    }

    /// Waits until the server answers queries (it opens its port before recovery is over):
    /// the primary as a primary, a replica in recovery (a hot standby).
    async fn ready(&self, remote: &dyn Remote, node: &str, dirs: &NodeDirs) -> PlugResult<()> {
        let want = match self.part {
            Part::Primary => "f",
            Part::Replica(_) => "t",
        };
        let q = self.psql(dirs.address, "select pg_is_in_recovery()");
        let script = format!(
            "for i in $(seq 150); do [ \"$({q} 2>/dev/null)\" = {want} ] && exit 0; sleep 0.2; done\n\
             {q}; exit 1"
        );
        run_script(remote, node, "waiting for PostgreSQL to answer", script).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conf_lines_keep_fsync_and_name_the_socket_dir() {
        let c = conf_lines("/var/lib/rift/n1/data/postgres");
        assert!(c.contains("fsync = on\n"));
        assert!(c.contains("unix_socket_directories = '/var/lib/rift/n1/data/postgres'"));
        assert!(c.contains("wal_level = replica"));
        assert!(c.ends_with('\n'));
    }
}
