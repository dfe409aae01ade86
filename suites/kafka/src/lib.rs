//! rift-kafka-suite: Jepsen's queue workload (jepsen.tests.kafka, as jepsen.bufstream and
//! jepsen.redpanda run it) on a real Apache Kafka cluster.
//!
//! (The full essay is in the crate README section; see also each module.)

#![warn(missing_docs)]

pub mod client;
pub mod db;
pub mod dist;
pub mod errors;
pub mod gen;
pub mod suite;

pub use db::{KafkaDb, KafkaDbOptions, BROKER, BROKER_PORT, CONTROLLER, CONTROLLER_PORT};
pub use dist::{Dist, Source, DEFAULT_VERSION};
pub use suite::{KafkaArgs, KafkaSuite};

/// What can go wrong building or running the Kafka suite.
#[derive(Debug, thiserror::Error)]
pub enum KafkaError {
    /// Bad options (a version that is not one, a missing archive, too few nodes...).
    #[error("{0}")]
    Config(String),
    /// Getting Kafka, Java or Maven failed.
    #[error("install: {0}")]
    Install(String),
    /// A cluster command failed.
    #[error(transparent)]
    Control(#[from] rift_control::ControlError),
}
