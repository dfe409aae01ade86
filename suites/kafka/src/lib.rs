//! rift-kafka-suite: Jepsen's queue workload (jepsen.tests.kafka, as jepsen.bufstream and
//! jepsen.redpanda run it) on a real Apache Kafka cluster.
//!
//! # Concepts
//!
//! - [`dist`]: Kafka itself: `org.apache.kafka:kafka_2.13` and its jars from Maven Central,
//!   fetched once into rift's cache directory (`rift_control::cache_dir`), or a release
//!   tarball (`--archive`); Java and Maven installed with apt as root, or asked for.
//! - [`db`]: [`KafkaDb`], the rift `Db`: KRaft with combined controller+broker JVMs on the
//!   first three nodes and brokers on the rest, storage formatted with Kafka's tool, kill,
//!   start, pause, logs. Its roles ([`CONTROLLER`], [`BROKER`]) are data the nemesis reads:
//!   `kill-controller`, `partition-broker-controller`...
//! - [`client`]: the rdkafka client (bundled librdkafka): ops `send`, `poll`, `txn`,
//!   `assign`, `subscribe`, `crash`, `debug-topic-partitions` as the Kafka checker reads
//!   them; [`errors`]: the table that makes every librdkafka error `fail` or `info`.
//! - [`gen`]: Jepsen's queue generator (list-append txns rewritten into sends and polls,
//!   interleaved assign/subscribe, poll-unseen, crashes, final polls).
//! - [`suite`]: jepsen.bufstream's options ([`KafkaArgs`]), Jepsen's test names, the checkers,
//!   and [`KafkaSuite`], the line of the CLI's suite table.
//!
//! # Example
//!
//! ```
//! use rift_kafka_suite::client::{key_of, topic_partition};
//! use rift_kafka_suite::db::roles_of;
//!
//! // Keys are topic-partitions as in Jepsen's Redpanda suite: 2 partitions per topic.
//! assert_eq!(topic_partition(5, 2), ("t2".to_string(), 1));
//! assert_eq!(key_of("t2", 1, 2), Some(5));
//! // Five nodes: three controllers (combined with brokers), five brokers.
//! let nodes: Vec<String> = (1..=5).map(|i| format!("n{i}")).collect();
//! let roles = roles_of(&nodes, 3);
//! assert_eq!(roles["controller"], ["n1", "n2", "n3"]);
//! assert_eq!(roles["broker"].len(), 5);
//! ```
//!
//! # Edge cases
//!
//! - A re-assign keeps the positions of partitions that stay assigned (incremental
//!   assignment), as the Java client does; librdkafka's plain `assign` restarted them and
//!   re-delivered from the start, which the checker rightly called a nonmonotonic poll.
//! - `start` after a kill returns once the JVM lives (as Jepsen's); setup waits for the
//!   broker port. A JVM that dies is reported with its node and its log's tail.
//! - Clock faults are refused: under libfaketime Kafka's JVMs take minutes to start here.
//! - Unset client options take the Java client's defaults, as in Jepsen's runs.

#![warn(missing_docs)]

pub mod client;
pub mod db;
pub mod dist;
pub mod errors;
pub mod gen;
pub mod queue;
pub mod suite;

pub use db::{KafkaDb, KafkaDbOptions, BROKER, BROKER_PORT, CONTROLLER, CONTROLLER_PORT};
pub use dist::{Dist, Source, DEFAULT_VERSION};
pub use queue::{queue_test, QueueArgs, QueueSystem, Resolved};
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
