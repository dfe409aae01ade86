//! rift's Flink suite: jepsen.flink (the `flink-jepsen` folder of apache/flink) on a real
//! Flink cluster of the local cluster's nodes. ZooKeeper on three nodes, two JobManagers
//! (leader and standby, elected through ZooKeeper), TaskManagers on the rest; rift's own
//! stateful job (or the seed's `--test-spec` jobs) submitted through the REST API; the
//! seed's fault schedules (`--nemesis-gen`) beside rift's role faults (`--nemesis`); and the
//! seed's availability model as the checker (`checker`), with a plot of each job's
//! availability.

pub mod checker;
pub mod client;
pub mod db;
pub mod dist;
pub mod eo;
pub mod gen;
pub mod hdfs;
pub mod nemesis;
pub mod rest;
pub mod spec;
pub mod suite;

pub use suite::{FlinkArgs, FlinkSuite};
