//! The two roles of a nisshi cluster as [`Daemon`]s: PostgreSQL on the storage node (run as
//! the `postgres` user, its whole process group signalled by faults), nisshi brokers on the
//! others, every broker on the same database and cluster id, so that together they are one
//! Kafka cluster.

use async_trait::async_trait;
use rift_control::{shell_quote, DaemonSpec, NodeDirs, Remote};
use rift_core::PlugResult;
use rift_suite::{run_script, Daemon, Files};
use std::collections::BTreeMap;
use std::net::IpAddr;

/// PostgreSQL's port.
pub const PG_PORT: u16 = 5432;
/// The brokers' Kafka port.
pub const KAFKA_PORT: u16 = 9092;
/// The database nisshi keeps everything in.
pub const DATABASE: &str = "nisshi";
/// The cluster id every broker shares.
pub const CLUSTER_ID: &str = "rift";

/// PostgreSQL from the binaries in `bin_dir`.
pub struct Postgres {
    /// The directory holding `postgres`, `initdb` and `psql`.
    pub bin_dir: String,
    /// Extra environment per node (the wall-clock shim for clock faults).
    pub env: BTreeMap<String, Vec<(String, String)>>,
}

impl Postgres {
    fn pgdata(f: &Files) -> String {
        format!("{}/pgdata", f.data)
    }

    fn as_postgres(&self, program: &str) -> String {
        format!(
            "setpriv --reuid=postgres --regid=postgres --init-groups {}",
            shell_quote(&format!("{}/{program}", self.bin_dir))
        )
    }
}

#[async_trait]
impl Daemon for Postgres {
    fn what(&self) -> &str {
        "PostgreSQL"
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
                "--reuid=postgres".into(),
                "--regid=postgres".into(),
                "--init-groups".into(),
                format!("{}/postgres", self.bin_dir),
                "-D".into(),
                Postgres::pgdata(f),
            ],
            pidfile: f.pid.clone(),
            logfile: f.log.clone(),
            chdir: Some(f.data.clone()),
            env: self.env.get(node).cloned().unwrap_or_default(),
        })
    }

    fn files(&self, _node: &str, _d: &NodeDirs, f: &Files) -> PlugResult<Vec<(String, Vec<u8>)>> {
        Ok(vec![(
            f.in_logs("schema.sql"),
            crate::dist::SCHEMA_SQL.as_bytes().to_vec(),
        )])
    }

    /// The `postgres` user (created when missing), then `initdb` as that user, listening on
    /// every address, trusting every client of this test cluster.
    async fn prepare(&self, remote: &dyn Remote, node: &str, f: &Files) -> PlugResult<()> {
        let pgdata = Postgres::pgdata(f);
        let script = format!(
            "id -u postgres >/dev/null 2>&1 || useradd --system --no-create-home --shell /bin/sh postgres\n\
             mkdir -p {pgdata} && chown -R postgres: {data} && chmod 700 {pgdata}\n\
             {initdb} -D {pgdata} -U postgres --auth=trust -E UTF8 >/dev/null\n\
             printf \"listen_addresses = '*'\\nport = {PG_PORT}\\nunix_socket_directories = '%s'\\nfsync = on\\n\" {data} >> {pgdata}/postgresql.conf\n\
             echo 'host all all 0.0.0.0/0 trust' >> {pgdata}/pg_hba.conf",
            pgdata = shell_quote(&pgdata),
            data = shell_quote(&f.data),
            initdb = self.as_postgres("initdb"),
        );
        run_script(remote, node, "initdb", script).await
    }

    /// Creates nisshi's database and loads its schema.
    async fn ready(&self, remote: &dyn Remote, node: &str, dirs: &NodeDirs) -> PlugResult<()> {
        let f = Files::of(dirs, self.name());
        let psql = shell_quote(&format!("{}/psql", self.bin_dir));
        let host = dirs.address;
        let script = format!(
            "for i in $(seq 50); do {psql} -h {host} -p {PG_PORT} -U postgres -qAtc 'select 1' >/dev/null 2>&1 && break; sleep 0.2; done\n\
             {psql} -h {host} -p {PG_PORT} -U postgres -v ON_ERROR_STOP=1 -qc 'create database {DATABASE}' &&\n\
             {psql} -h {host} -p {PG_PORT} -U postgres -d {DATABASE} -v ON_ERROR_STOP=1 -q -f {schema} >/dev/null",
            schema = shell_quote(&f.in_logs("schema.sql")),
        );
        run_script(remote, node, "creating nisshi's database", script).await
    }

    fn extra_logs(&self) -> Vec<String> {
        Vec::new()
    }
}

/// A nisshi broker.
pub struct Nisshi {
    /// The binary's path on the nodes.
    pub bin: String,
    /// The storage node's address.
    pub storage: IpAddr,
    /// Extra environment per node (the wall-clock shim for clock faults).
    pub env: BTreeMap<String, Vec<(String, String)>>,
}

impl Nisshi {
    /// The storage engine URL every broker shares.
    pub fn storage_url(&self) -> String {
        format!(
            "postgres://postgres:postgres@{}:{PG_PORT}/{DATABASE}",
            self.storage
        )
    }
}

#[async_trait]
impl Daemon for Nisshi {
    fn what(&self) -> &str {
        "nisshi"
    }

    fn name(&self) -> &str {
        "nisshi"
    }

    fn port(&self) -> u16 {
        KAFKA_PORT
    }

    fn spec(&self, node: &str, dirs: &NodeDirs, f: &Files) -> PlugResult<DaemonSpec> {
        // Listening on every address of the node (rift checks the port on 127.0.0.1), the
        // node's own advertised; IPs, not names (nisshi binds everything for a hostname).
        let listen = format!("tcp://0.0.0.0:{KAFKA_PORT}");
        let url = format!("tcp://{}:{KAFKA_PORT}", dirs.address);
        let mut env = vec![
            ("NO_COLOR".to_string(), "1".to_string()),
            ("RUST_LOG".to_string(), "warn".to_string()),
        ];
        env.extend(self.env.get(node).cloned().unwrap_or_default());
        Ok(DaemonSpec {
            bin: self.bin.clone(),
            args: vec![
                "broker".into(),
                "--cluster-id".into(),
                CLUSTER_ID.into(),
                "--listener-url".into(),
                listen,
                "--advertised-listener-url".into(),
                url,
                "--storage-engine".into(),
                self.storage_url(),
            ],
            pidfile: f.pid.clone(),
            logfile: f.log.clone(),
            // Its own empty directory: nisshi reads a `.env` file from where it runs.
            chdir: Some(f.data.clone()),
            env,
        })
    }
}
